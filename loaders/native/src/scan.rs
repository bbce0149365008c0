//! Staging the records of an S3 delivery object for `Staging.scan` (delivery.rs reads them):
//! the fields staging reads, CloudTrail's own timestamps, and the tuple of each record.

use std::borrow::Cow;

use ahash::AHashSet;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use serde::Deserialize;

use crate::delivery::{Reader, Step, Stop};
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

/// The fields of `loaders.cloudtrail.Event` that staging reads, as delivery.rs reads them:
/// strings (None: absent or null) and raw JSON texts (None: absent; `null` is a text, since
/// Python tells the two apart).
#[derive(Default)]
pub(crate) struct Record<'a> {
    pub(crate) event_time: Option<Cow<'a, str>>,
    pub(crate) timestamp: Option<Cow<'a, str>>,
    pub(crate) p_event_time: Option<Cow<'a, str>>,
    pub(crate) source: Option<Cow<'a, str>>,
    pub(crate) name: Option<Cow<'a, str>>,
    pub(crate) region: Option<Cow<'a, str>>,
    pub(crate) ip: Option<Cow<'a, str>>,
    pub(crate) agent: Option<Cow<'a, str>>,
    pub(crate) error: Option<Cow<'a, str>>,
    pub(crate) recipient: Option<Cow<'a, str>>,
    pub(crate) identity: Option<&'a str>,
    // the interned id of `identity` when the reader recognised it (0: not yet interned)
    pub(crate) identity_id: u32,
    pub(crate) request: Option<&'a str>,
    pub(crate) response: Option<&'a str>,
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

/// One `scan` under way: records are staged as delivery.rs reads them, never collected.
pub(crate) struct Scan<'s, 'py, 'h> {
    pub(crate) st: &'s mut Staging,
    pub(crate) py: Python<'py>,
    pub(crate) hint: Option<&'h str>,
    pub(crate) records: usize,
    pub(crate) fallback: Bound<'py, PyList>,
    // the first staged records, for the object's first account: each one until one names its
    // recipient (one per identity: a repeat adds no account), and the last one's region
    pub(crate) firsts: Bound<'py, PyList>,
    pub(crate) settled: bool,
    pub(crate) first_identities: AHashSet<u32>,
    pub(crate) last: Option<(usize, Option<String>)>,
    pub(crate) seen: AHashSet<(u32, u32)>,
}

/// How much of a userIdentity's text finds the identities it may be (see `known_identity`).
pub(crate) const PREFIX: usize = 64;

/// The first `PREFIX` bytes of an identity's text, if it has that many.
fn identity_prefix(text: &[u8]) -> Option<&[u8; PREFIX]> {
    text.get(..PREFIX)?.try_into().ok()
}

impl Scan<'_, '_, '_> {
    /// The id and length of an interned userIdentity whose text begins `rest` (the text from a
    /// userIdentity value to the end of the object), if any.
    pub(crate) fn known_identity(&self, rest: &[u8]) -> Option<(u32, usize)> {
        let ids = self.st.identities.get(identity_prefix(rest)?)?;
        ids.iter().find_map(|&id| {
            let text = self.st.strings.get(id)?.as_bytes();
            let n = text.len();
            // the tail first: sessions of one role differ there (creationDate, MFA)
            let tail = n.saturating_sub(PREFIX);
            let same =
                rest.len() >= n && rest[tail..n] == text[tail..] && rest[..tail] == text[..tail];
            same.then_some((id, n))
        })
    }

    pub(crate) fn record(&mut self, r: Record<'_>) -> PyResult<()> {
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
        if !self.settled {
            let recipient = nonempty(&r.recipient).or(self.hint);
            if recipient.is_some() || self.first_identities.insert(key.identity) {
                let py = self.py;
                let identity = r.identity.unwrap_or("");
                self.firsts.append(PyTuple::new(
                    py,
                    [
                        index.into_pyobject(py)?.into_any(),
                        recipient.into_pyobject(py)?.into_any(),
                        PyBytes::new(py, identity.as_bytes()).into_any(),
                        r.region.as_deref().into_pyobject(py)?.into_any(),
                    ],
                )?)?;
            }
            self.settled = recipient.is_some();
            self.last = Some((index, r.region.as_deref().map(str::to_owned)));
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
                if name == "CreateBucket" || name == "DeleteBucket" || !body.starts_with('{') {
                    return None;
                }
                let params: Params<'_> = serde_json::from_str(body).ok()?;
                bucket = Some(params.bucket);
            }
        }
        let recipient = nonempty(&r.recipient).or(self.hint);
        let identity = match r.identity {
            None => 0,
            Some(_) if r.identity_id != 0 => r.identity_id,
            Some(text) => {
                let id = self.st.strings.id(text);
                if let Some(prefix) = identity_prefix(text.as_bytes()) {
                    self.st.identities.entry(*prefix).or_default().push(id);
                }
                id
            }
        };
        let s = &mut self.st.strings;
        let key = Key {
            identity,
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

/// Read a delivery object, staging each record through `scan` as it is read.
pub(crate) fn read(text: &str, scan: &mut Scan<'_, '_, '_>) -> Step {
    let mut r = Reader {
        s: text,
        b: text.as_bytes(),
        i: 0,
    };
    let mut found = false;
    r.ws();
    r.object(|r, (start, end, escaped)| {
        if escaped {
            return Err(Stop::Decline); // (serde read the keys here as borrowed text)
        }
        if &r.b[start..end] != b"Records" {
            return r.skip(1);
        }
        if found {
            return Err(Stop::Decline);
        }
        found = true;
        r.array(|r| {
            let record = record(r, scan)?;
            scan.record(record).map_err(Stop::Python)
        })
    })?;
    r.ws();
    if r.i != r.b.len() || !found {
        return Err(Stop::Decline);
    }
    Ok(())
}

/// One record (at depth 2: the delivery object and the Records array around it).
fn record<'a>(rd: &mut Reader<'a>, scan: &Scan<'_, '_, '_>) -> Step<Record<'a>> {
    const DEPTH: usize = 3;
    let mut r = Record::default();
    let mut seen = 0u16;
    rd.object(|rd, key| {
        let field: u16 = match rd.decoded(key)?.as_bytes() {
            b"eventTime" => 0,
            b"@timestamp" => 1,
            b"p_event_time" => 2,
            b"eventSource" => 3,
            b"eventName" => 4,
            b"awsRegion" => 5,
            b"sourceIPAddress" => 6,
            b"userAgent" => 7,
            b"errorCode" => 8,
            b"recipientAccountId" => 9,
            b"userIdentity" => 10,
            b"requestParameters" => 11,
            b"responseElements" => 12,
            _ => 16,
        };
        if field < 16 {
            if seen & (1 << field) != 0 {
                return Err(Stop::Decline); // a field twice
            }
            seen |= 1 << field;
        }
        match field {
            0 => r.event_time = rd.text()?,
            1 => r.timestamp = rd.text()?,
            2 => r.p_event_time = rd.text()?,
            3 => r.source = rd.text()?,
            4 => r.name = rd.text()?,
            5 => r.region = rd.text()?,
            6 => r.ip = rd.text()?,
            7 => r.agent = rd.text()?,
            8 => r.error = rd.text()?,
            9 => r.recipient = rd.text()?,
            10 => {
                let start = rd.i;
                if let Some((id, len)) = scan.known_identity(&rd.b[start..]) {
                    rd.i += len;
                    r.identity = Some(&rd.s[start..rd.i]);
                    r.identity_id = id;
                } else {
                    r.identity = Some(rd.raw(DEPTH)?);
                }
            }
            11 => r.request = Some(rd.raw(DEPTH)?),
            12 => r.response = Some(rd.raw(DEPTH)?),
            _ => rd.skip(DEPTH)?,
        }
        Ok(())
    })?;
    Ok(r)
}

fn bytes_of<'py>(py: Python<'py>, v: Option<&str>) -> Option<Bound<'py, PyBytes>> {
    v.map(|raw| PyBytes::new(py, raw.as_bytes()))
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
