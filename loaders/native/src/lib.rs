//! gumshoe's native CloudTrail staging, driven by loaders/cloudtrail_native.py.
//!
//! An S3 delivery object (`{"Records": [...]}`) is decoded in one pass and its ordinary events
//! are counted straight into hourly tuples (identity, recipient, hour, API, source IP, user
//! agent, success), the same tuples `CloudTrailDeltas.add_all` stages in Python, without
//! building a Python object per event: that object building was most of the loader's cost.
//!
//! Everything this module does not decide itself goes back to Python, which keeps every rule
//! in one place:
//! - a file that is not valid UTF-8, not a delivery object, or that serde rejects anywhere
//!   (wrong types, duplicate fields, truncation) is declined whole (`scan` returns None), and
//!   the Python path reads it and reports its errors exactly as before;
//! - events Python must look at (relationship events, S3 calls with a request body, missing
//!   fields, timestamps not in CloudTrail's own format) come back as fallback records, decoded
//!   fields and raw bodies, in file order;
//! - identities are resolved and validated in Python: a scan stays pending until Python
//!   `commit`s it (or `discard`s it when an identity is unusable), so a declined file leaves
//!   nothing behind.

mod flows;
mod fold;

use std::borrow::Cow;

use ahash::{AHashMap, AHashSet, RandomState};
use indexmap::IndexMap;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// The fields of an S3 request body that Python's `_Params` decodes (all of them, so that a
/// body Python would reject is not read here either).
#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow, default, rename = "bucketName")]
    bucket: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "roleArn")]
    _role_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "roleSessionName")]
    _session: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "networkInterfaceId")]
    _interface: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "instanceId")]
    _instance: Option<Cow<'a, str>>,
}

/// A present field's raw JSON, `null` included (Option's own deserializer would read `null`
/// as absent, and Python tells the two apart).
fn raw<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// The fields of `loaders.cloudtrail.Event` that staging reads.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default, rename = "eventTime")]
    event_time: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "@timestamp")]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    p_event_time: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "eventSource")]
    source: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "eventName")]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "awsRegion")]
    region: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "sourceIPAddress")]
    ip: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "userAgent")]
    agent: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "errorCode")]
    error: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "recipientAccountId")]
    recipient: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "userIdentity", deserialize_with = "raw")]
    identity: Option<&'a RawValue>,
    #[serde(
        borrow,
        default,
        rename = "requestParameters",
        deserialize_with = "raw"
    )]
    request: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "responseElements", deserialize_with = "raw")]
    response: Option<&'a RawValue>,
}

/// One staged tuple; strings are interned ids (0: absent).
#[derive(Hash, PartialEq, Eq, Clone, Copy)]
struct Key {
    identity: u32,
    recipient: u32,
    source: u32,
    name: u32,
    ip: u32,
    agent: u32,
    bucket: u32,
    hour: i64,
    ok: bool,
}

#[derive(Default)]
struct Interner {
    ids: AHashMap<Box<str>, u32>,
    values: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        self.values.push(s.into());
        let id = self.values.len() as u32;
        self.ids.insert(s.into(), id);
        id
    }

    fn opt(&mut self, s: &Option<Cow<'_, str>>) -> u32 {
        s.as_deref().map_or(0, |v| self.id(v))
    }

    fn get(&self, id: u32) -> Option<&str> {
        (id > 0).then(|| &*self.values[id as usize - 1])
    }

    fn clear(&mut self) {
        self.ids.clear();
        self.values.clear();
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Epoch seconds of CloudTrail's own `YYYY-MM-DDTHH:MM:SSZ`, with loaders/timeparse.py's range
/// checks; None for anything else (Python parses other formats and words the errors).
fn cloudtrail_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |v, &c| {
            c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1970..=2999).contains(&y) || !(1..=12).contains(&mo) || h >= 24 || mi >= 60 || sec > 60 {
        return None;
    }
    if d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3_600 + mi * 60 + sec)
}

fn nonempty<'a>(s: &'a Option<Cow<'_, str>>) -> Option<&'a str> {
    s.as_deref().filter(|v| !v.is_empty())
}

/// Staged tuples of one batch, plus the pending tuples of the last scanned file.
#[pyclass(module = "loaders._native")]
struct Staging {
    special: AHashSet<String>,
    strings: Interner,
    // in the order tuples were first staged: Python's merge of a vertex's FIRST properties
    // follows it, like the dict it replaces
    tuples: IndexMap<Key, [i64; 3], RandomState>,
    pending: Vec<(Key, i64)>,
    // (identity, recipient) pairs Python has resolved since the last drain
    known: AHashSet<(u32, u32)>,
    unknown: Vec<(u32, u32)>,
}

#[pymethods]
impl Staging {
    /// `special`: the event names Python stages itself (relationship events).
    #[new]
    fn new(special: Vec<String>) -> Self {
        Staging {
            special: special.into_iter().collect(),
            strings: Interner::default(),
            tuples: IndexMap::default(),
            pending: Vec::new(),
            known: AHashSet::new(),
            unknown: Vec::new(),
        }
    }

    /// Decode a delivery object and stage its ordinary events as pending.
    ///
    /// None: not something this module reads (nothing staged). Otherwise
    /// `(records, staged, fallback, identities, first)`: fallback records as
    /// `(index, (eventTime, @timestamp, p_event_time, eventSource, eventName, awsRegion,
    /// sourceIPAddress, userAgent, errorCode, recipientAccountId), (userIdentity,
    /// requestParameters, responseElements))`, raw bodies as bytes or None when absent; the
    /// (userIdentity, recipient) pairs Python must resolve before `commit`; and the first staged
    /// event as `(index, recipient, userIdentity, awsRegion)` or None.
    #[pyo3(signature = (data, hint))]
    fn scan<'py>(
        &mut self,
        py: Python<'py>,
        data: &[u8],
        hint: Option<&str>,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.discard();
        let Ok(text) = std::str::from_utf8(data) else {
            return Ok(None);
        };
        let mut scan = Scan {
            st: self,
            py,
            hint,
            records: 0,
            fallback: PyList::empty(py),
            first: None,
            seen: AHashSet::new(),
            error: None,
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = (&mut de)
            .deserialize_map(DeliveryVisitor(&mut scan))
            .and_then(|()| de.end());
        if let Some(e) = scan.error.take() {
            self.discard();
            return Err(e);
        }
        if parsed.is_err() {
            self.discard();
            return Ok(None);
        }
        let Scan {
            records,
            fallback,
            first,
            ..
        } = scan;
        let identities = PyList::empty(py);
        for &(identity, recipient) in &self.unknown {
            let raw = self.strings.get(identity).unwrap_or("");
            let pair = (
                PyBytes::new(py, raw.as_bytes()),
                self.strings.get(recipient).into_pyobject(py)?,
            );
            identities.append(pair)?;
        }
        let out = (records, self.pending.len(), fallback, identities, first);
        Ok(Some(out.into_pyobject(py)?))
    }

    /// Add the pending tuples of the last scan to the batch's.
    fn commit(&mut self) {
        for (key, ts) in self.pending.drain(..) {
            self.tuples
                .entry(key)
                .and_modify(|acc| {
                    acc[0] += 1;
                    acc[1] = acc[1].min(ts);
                    acc[2] = acc[2].max(ts);
                })
                .or_insert([1, ts, ts]);
        }
        self.known.extend(self.unknown.drain(..));
    }

    /// Stage one tuple Python counted (fallback records), after those staged so far.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (identity, recipient, hour, source, name, ip, agent, bucket, ok, n, first, last))]
    fn add(
        &mut self,
        identity: &[u8],
        recipient: Option<&str>,
        hour: i64,
        source: Option<&str>,
        name: Option<&str>,
        ip: Option<&str>,
        agent: Option<&str>,
        bucket: Option<&str>,
        ok: bool,
        n: i64,
        first: i64,
        last: i64,
    ) -> PyResult<()> {
        let identity = std::str::from_utf8(identity)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        let s = &mut self.strings;
        let mut id = |v: Option<&str>| v.map_or(0, |v| s.id(v));
        let key = Key {
            identity: if identity.is_empty() {
                0
            } else {
                id(Some(identity))
            },
            recipient: id(recipient),
            source: id(source),
            name: id(name),
            ip: id(ip),
            agent: id(agent),
            bucket: id(bucket),
            hour,
            ok,
        };
        self.tuples
            .entry(key)
            .and_modify(|acc| {
                acc[0] += n;
                acc[1] = acc[1].min(first);
                acc[2] = acc[2].max(last);
            })
            .or_insert([n, first, last]);
        Ok(())
    }

    /// Forget the pending tuples of the last scan.
    fn discard(&mut self) {
        self.pending.clear();
        self.unknown.clear();
    }

    /// Every staged tuple as `(userIdentity, recipient, hour, eventSource, eventName,
    /// sourceIPAddress, userAgent, bucketName, ok, count, first, last)`; starts empty again.
    fn drain<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.discard();
        let mut objects: Vec<Option<PyObject>> =
            (0..=self.strings.values.len()).map(|_| None).collect();
        let mut identities: AHashMap<u32, PyObject> = AHashMap::new();
        let none = py.None();
        let mut string = |id: u32| -> PyObject {
            if id == 0 {
                return none.clone_ref(py);
            }
            let slot = &mut objects[id as usize];
            slot.get_or_insert_with(|| {
                PyString::new(py, &self.strings.values[id as usize - 1])
                    .into_any()
                    .unbind()
            })
            .clone_ref(py)
        };
        let out = PyList::empty(py);
        for (key, [n, first, last]) in self.tuples.drain(..) {
            let identity = identities
                .entry(key.identity)
                .or_insert_with(|| {
                    let raw = if key.identity == 0 {
                        ""
                    } else {
                        &self.strings.values[key.identity as usize - 1]
                    };
                    PyBytes::new(py, raw.as_bytes()).into_any().unbind()
                })
                .clone_ref(py);
            let row = (
                identity,
                string(key.recipient),
                key.hour,
                string(key.source),
                string(key.name),
                string(key.ip),
                string(key.agent),
                string(key.bucket),
                key.ok,
                n,
                first,
                last,
            );
            out.append(row.into_pyobject(py)?)?;
        }
        self.strings.clear();
        self.known.clear();
        Ok(out)
    }

    fn __len__(&self) -> usize {
        self.tuples.len()
    }

    /// The (userIdentity, recipient) pairs and the sourceIPAddress values of the staged tuples,
    /// in the order `fold` numbers them.
    #[allow(clippy::type_complexity)]
    fn fold_keys<'py>(
        &mut self,
        py: Python<'py>,
    ) -> (Vec<(Bound<'py, PyBytes>, Option<&str>)>, Vec<&str>) {
        self.discard();
        let (pairs, ips) = fold::keys(&self.tuples);
        let strings = &self.strings;
        let pairs = pairs
            .keys()
            .map(|&(identity, recipient)| {
                let raw = strings.get(identity).unwrap_or("");
                (PyBytes::new(py, raw.as_bytes()), strings.get(recipient))
            })
            .collect();
        let ips = ips.keys().map(|&ip| strings.get(ip).unwrap_or("")).collect();
        (pairs, ips)
    }

    /// Fold every staged tuple into edges (see fold.rs) and start empty again:
    /// `principal[p]`: the principal of the p-th pair of `fold_keys`; `rollups[q]`: the targets
    /// principal q counts for; `address[i]`: the address of the i-th sourceIPAddress (-1: none).
    fn fold<'py>(
        &mut self,
        py: Python<'py>,
        principal: Vec<u32>,
        rollups: Vec<Vec<u32>>,
        address: Vec<i64>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.discard();
        let folded = fold::fold(&self.tuples, &self.strings, &principal, &rollups, &address)?;
        let out = folded.into_py(py, &self.strings)?;
        self.tuples.clear();
        self.strings.clear();
        self.known.clear();
        Ok(out)
    }
}

/// One `scan` under way: records are staged as serde yields them, never collected.
struct Scan<'s, 'py, 'h> {
    st: &'s mut Staging,
    py: Python<'py>,
    hint: Option<&'h str>,
    records: usize,
    fallback: Bound<'py, PyList>,
    first: Option<Bound<'py, PyTuple>>,
    seen: AHashSet<(u32, u32)>,
    // a Python error met inside serde's callbacks, raised once serde has returned
    error: Option<PyErr>,
}

impl Scan<'_, '_, '_> {
    fn record(&mut self, r: Record<'_>) -> PyResult<()> {
        let index = self.records;
        self.records += 1;
        let Some((key, ts)) = self.key(&r) else {
            self.fallback.append(fallback_record(self.py, index, &r)?)?;
            return Ok(());
        };
        let st = &mut *self.st;
        let who = (key.identity, key.recipient);
        if !st.known.contains(&who) && self.seen.insert(who) {
            st.unknown.push(who);
        }
        if self.first.is_none() {
            let py = self.py;
            let identity = r.identity.map_or("", |v| v.get());
            let recipient = nonempty(&r.recipient).or(self.hint);
            self.first = Some(PyTuple::new(
                py,
                [
                    index.into_pyobject(py)?.into_any(),
                    recipient.into_pyobject(py)?.into_any(),
                    PyBytes::new(py, identity.as_bytes()).into_any(),
                    r.region.as_deref().into_pyobject(py)?.into_any(),
                ],
            )?);
        }
        st.pending.push((key, ts));
        Ok(())
    }

    /// The record's tuple and time, or None when Python must stage it.
    fn key(&mut self, r: &Record<'_>) -> Option<(Key, i64)> {
        let name = nonempty(&r.name)?;
        let source = nonempty(&r.source)?;
        let ts = cloudtrail_time(nonempty(&r.event_time)?)?;
        if self.st.special.contains(name) {
            return None;
        }
        let mut bucket = None;
        if source == "s3.amazonaws.com" {
            if let Some(body) = r.request {
                // bucket vertices of CreateBucket/DeleteBucket, and bodies that are not an
                // object (null, a JSON string), are Python's
                if name == "CreateBucket" || name == "DeleteBucket" || !body.get().starts_with('{')
                {
                    return None;
                }
                let params: Params<'_> = serde_json::from_str(body.get()).ok()?;
                bucket = Some(params.bucket);
            }
        }
        let s = &mut self.st.strings;
        let recipient = nonempty(&r.recipient).or(self.hint);
        let key = Key {
            identity: r.identity.map_or(0, |v| s.id(v.get())),
            recipient: recipient.map_or(0, |v| s.id(v)),
            source: s.id(source),
            name: s.id(name),
            ip: s.opt(&r.ip),
            agent: s.opt(&r.agent),
            bucket: bucket.map_or(0, |b| s.opt(&b)),
            hour: ts - ts.rem_euclid(3_600),
            ok: nonempty(&r.error).is_none(),
        };
        Some((key, ts))
    }
}

struct DeliveryVisitor<'a, 's, 'py, 'h>(&'a mut Scan<'s, 'py, 'h>);

impl<'de> Visitor<'de> for DeliveryVisitor<'_, '_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a CloudTrail delivery object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let mut found = false;
        // (an escaped key is an error here: the file goes to Python, which reads any key)
        while let Some(key) = map.next_key::<&'de str>()? {
            if key == "Records" {
                if found {
                    return Err(de::Error::custom("Records twice"));
                }
                found = true;
                map.next_value_seed(RecordsSeed(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if found {
            Ok(())
        } else {
            Err(de::Error::missing_field("Records"))
        }
    }
}

struct RecordsSeed<'a, 's, 'py, 'h>(&'a mut Scan<'s, 'py, 'h>);

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, '_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of CloudTrail records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(r) = seq.next_element::<Record<'de>>()? {
            if let Err(e) = self.0.record(r) {
                self.0.error = Some(e);
                return Err(de::Error::custom("Python error"));
            }
        }
        Ok(())
    }
}

fn bytes_of<'py>(py: Python<'py>, v: Option<&RawValue>) -> Option<Bound<'py, PyBytes>> {
    v.map(|raw| PyBytes::new(py, raw.get().as_bytes()))
}

fn fallback_record<'py>(
    py: Python<'py>,
    index: usize,
    r: &Record<'_>,
) -> PyResult<Bound<'py, PyTuple>> {
    let strings = (
        r.event_time.as_deref(),
        r.timestamp.as_deref(),
        r.p_event_time.as_deref(),
        r.source.as_deref(),
        r.name.as_deref(),
        r.region.as_deref(),
        r.ip.as_deref(),
        r.agent.as_deref(),
        r.error.as_deref(),
        r.recipient.as_deref(),
    );
    let raws = (
        bytes_of(py, r.identity),
        bytes_of(py, r.request),
        bytes_of(py, r.response),
    );
    (index, strings, raws).into_pyobject(py)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Staging>()?;
    m.add_class::<flows::FlowBlock>()?;
    Ok(())
}
