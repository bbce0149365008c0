//! Decoding an S3 delivery object for `Staging.scan`: the fields staging reads, CloudTrail's
//! own timestamps, and the serde visitors that stage records as they are decoded.

use std::borrow::Cow;

use ahash::AHashSet;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::{Key, Staging};

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

/// One `scan` under way: records are staged as serde yields them, never collected.
pub(crate) struct Scan<'s, 'py, 'h> {
    pub(crate) st: &'s mut Staging,
    pub(crate) py: Python<'py>,
    pub(crate) hint: Option<&'h str>,
    pub(crate) records: usize,
    pub(crate) fallback: Bound<'py, PyList>,
    pub(crate) first: Option<Bound<'py, PyTuple>>,
    pub(crate) seen: AHashSet<(u32, u32)>,
    // a Python error met inside serde's callbacks, raised once serde has returned
    pub(crate) error: Option<PyErr>,
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

pub(crate) struct DeliveryVisitor<'a, 's, 'py, 'h>(pub(crate) &'a mut Scan<'s, 'py, 'h>);

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
