//! gumshoe's native CloudTrail staging, driven by loaders/cloudtrail_native.py.
//!
//! An S3 delivery object (`{"Records": [...]}`) is decoded in one pass and its ordinary events
//! are counted straight into hourly tuples (identity, recipient, hour, API, source IP, user
//! agent, success), the same tuples `CloudTrailDeltas.add_all` stages in Python, without
//! building a Python object per event: that object building was most of the loader's cost.
//!
//! Everything this module does not decide itself goes back to Python, which keeps every rule
//! in one place:
//! - a file that is not valid UTF-8, not a delivery object, or that the reader rejects
//!   anywhere (invalid JSON, wrong types, duplicate fields, truncation) is declined whole (`scan` returns None), and
//!   the Python path reads it and reports its errors exactly as before;
//! - events Python must look at (relationship events, S3 calls with a request body, missing
//!   fields, timestamps not in CloudTrail's own format) come back as fallback records, decoded
//!   fields and raw bodies, in file order;
//! - identities are resolved and validated in Python: a scan stays pending until Python
//!   `commit`s it (or `discard`s it when an identity is unusable), so a declined file leaves
//!   nothing behind.
//!
//! Modules: `file` reads, hashes and gunzips local files; `delivery` reads delivery objects and
//! `scan` stages their records; `fold` folds a batch's tuples into edges for
//! `CloudTrailDeltas.expand`; `flows` splits and aggregates VPC flow-log text blocks.

mod delivery;
mod file;
mod flows;
mod fold;
mod scan;

use std::borrow::Cow;

use ahash::{AHashMap, AHashSet, RandomState};
use indexmap::IndexMap;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::delivery::Stop;
use crate::scan::Scan;

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
    inflater: file::Inflater,
    // the interned userIdentity texts by their first bytes (scan.rs's `known_identity`)
    identities: AHashMap<[u8; scan::PREFIX], Vec<u32>>,
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
            inflater: file::Inflater::new(),
            identities: AHashMap::new(),
        }
    }

    /// Decode a delivery object and stage its ordinary events as pending.
    ///
    /// None: not something this module reads (nothing staged). Otherwise
    /// `(records, staged, fallback, identities, firsts, last)`: fallback records as
    /// `(index, (eventTime, @timestamp, p_event_time, eventSource, eventName, awsRegion,
    /// sourceIPAddress, userAgent, errorCode, recipientAccountId), (userIdentity,
    /// requestParameters, responseElements))`, raw bodies as bytes or None when absent; the
    /// (userIdentity, recipient) pairs Python must resolve before `commit`; the first staged
    /// events as `(index, recipient, userIdentity, awsRegion)`, each until one has a recipient
    /// (one per userIdentity), for the first record with an account; and, when none has a
    /// recipient, `(index, awsRegion)` of the last staged event (else None).
    #[pyo3(signature = (data, hint))]
    fn scan<'py>(
        &mut self,
        py: Python<'py>,
        data: &[u8],
        hint: Option<&str>,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let Ok(text) = std::str::from_utf8(data) else {
            self.discard();
            return Ok(None);
        };
        self.scan_text(py, text, hint)
    }

    /// `scan` of a local file read whole (see file.rs), for the CloudTrail objects it would
    /// stage: `(size, version, scan)`, or None when the file is not one (nothing staged; read it
    /// the Python way). `size`: the file's size when listed; `sniff`: decide by content, as
    /// `detect` does, that it is CloudTrail (the load did not name the source); `limit`: the
    /// largest text read whole.
    #[pyo3(signature = (path, size, sniff, hint, limit))]
    fn scan_file<'py>(
        &mut self,
        py: Python<'py>,
        path: &str,
        size: usize,
        sniff: bool,
        hint: Option<&str>,
        limit: usize,
    ) -> PyResult<Option<(usize, String, Bound<'py, PyTuple>)>> {
        self.discard();
        let inflater = &mut self.inflater;
        let Some(file) = py.allow_threads(|| file::read(path, size, limit, inflater)) else {
            return Ok(None);
        };
        if file.text.first() != Some(&b'{') || (sniff && !file::sniffs_cloudtrail(&file.text)) {
            return Ok(None);
        }
        let Ok(text) = std::str::from_utf8(&file.text) else {
            return Ok(None);
        };
        Ok(self
            .scan_text(py, text, hint)?
            .map(|scan| (file.size, file.version, scan)))
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
        self.identities.clear();
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
        let ips = ips
            .keys()
            .map(|&ip| strings.get(ip).unwrap_or(""))
            .collect();
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
        self.identities.clear();
        self.known.clear();
        Ok(out)
    }
}

impl Staging {
    fn scan_text<'py>(
        &mut self,
        py: Python<'py>,
        text: &str,
        hint: Option<&str>,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.discard();
        let mut scan = Scan {
            st: self,
            py,
            hint,
            records: 0,
            fallback: PyList::empty(py),
            firsts: PyList::empty(py),
            settled: false,
            first_identities: AHashSet::new(),
            last: None,
            seen: AHashSet::new(),
        };
        let read = scan::read(text, &mut scan);
        let Scan {
            records,
            fallback,
            firsts,
            settled,
            last,
            ..
        } = scan;
        let last = if settled { None } else { last };
        if let Err(stop) = read {
            self.discard();
            return match stop {
                Stop::Decline => Ok(None),
                Stop::Python(e) => Err(e),
            };
        }
        let identities = PyList::empty(py);
        for &(identity, recipient) in &self.unknown {
            let raw = self.strings.get(identity).unwrap_or("");
            let pair = (
                PyBytes::new(py, raw.as_bytes()),
                self.strings.get(recipient).into_pyobject(py)?,
            );
            identities.append(pair)?;
        }
        let out = (
            records,
            self.pending.len(),
            fallback,
            identities,
            firsts,
            last,
        );
        Ok(Some(out.into_pyobject(py)?))
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Staging>()?;
    m.add_class::<flows::FlowBlock>()?;
    Ok(())
}
