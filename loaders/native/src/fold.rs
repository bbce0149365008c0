//! A batch's staged CloudTrail tuples folded into edges, driven by
//! `CloudTrailDeltas.expand` through loaders/cloudtrail_native.py.
//!
//! Python's expand walks every tuple: one API vertex look-up, up to four relationship rows
//! (CALLED, USED_IP, USED_USER_AGENT, ACCESSED_BUCKET) folded per hour, the principal's and the
//! address's hourly totals, and then every row counted again for each of the principal's
//! rollups. Here the same folds run on interned ids, in the same first-seen order, and Python
//! gets the finished edges. What the ids mean stays Python's: which principal an identity is
//! and where it rolls up to, and which address (if any) a sourceIPAddress names, come in as
//! tables made from `fold_keys`.

use ahash::{AHashMap, RandomState};
use indexmap::IndexMap;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::{Interner, Key};

type Map<K, V> = IndexMap<K, V, RandomState>;

/// The relationship of a row (`LABELS` in loaders/cloudtrail_native.py)
const CALLED: u8 = 0;
const USED_IP: u8 = 1;
const USED_AGENT: u8 = 2;
const ACCESSED_BUCKET: u8 = 3;

/// The target of a row: an API operation (source, name), an address (its index in Python's
/// table), a user agent or a bucket (interned strings).
#[derive(Hash, PartialEq, Eq, Clone, Copy)]
enum Target {
    Api(u32, u32),
    Address(u32),
    Agent(u32),
    Bucket(u32),
}

/// (label, principal, target, qualifier: an interned string, or EMPTY)
type RowKey = (u8, u32, Target, u32);
/// the qualifier "" (0 is None, as for every interned string)
const EMPTY: u32 = u32::MAX;

struct Span {
    first: i64,
    last: i64,
    hours: Map<i64, [i64; 2]>,
}

impl Span {
    fn add(&mut self, first: i64, last: i64, hour: i64, counts: [i64; 2]) {
        self.first = self.first.min(first);
        self.last = self.last.max(last);
        let row = self.hours.entry(hour).or_insert([0, 0]);
        row[0] += counts[0];
        row[1] += counts[1];
    }
}

fn totals(acc: &mut [i64; 3], n: i64, first: i64, last: i64) {
    acc[0] += n;
    acc[1] = acc[1].min(first);
    acc[2] = acc[2].max(last);
}

/// The (userIdentity, recipient) pairs and the sourceIPAddress values of the tuples, each
/// in first-seen order: the order `fold` numbers them in.
pub(crate) fn keys(tuples: &Map<Key, [i64; 3]>) -> (Map<(u32, u32), ()>, Map<u32, ()>) {
    let mut pairs: Map<(u32, u32), ()> = Map::default();
    let mut ips: Map<u32, ()> = Map::default();
    for key in tuples.keys() {
        pairs.insert((key.identity, key.recipient), ());
        if key.ip != 0 {
            ips.insert(key.ip, ());
        }
    }
    (pairs, ips)
}

/// What `fold` hands to Python (see `Staging.fold`).
pub(crate) struct Folded {
    apis: Map<(u32, u32), (i64, i64)>,
    targets: Map<Target, (i64, i64)>,
    edges: Map<(u8, u32, Target, u32), Span>,
    principal_hours: Map<(u32, i64), [i64; 3]>,
    address_hours: Map<(u32, i64), [i64; 3]>,
}

/// Fold the tuples: `principal[p]` is the principal of the p-th pair of `keys`, `rollups[q]`
/// the targets (Python's indices) principal q counts for, `address[i]` the address of the i-th
/// sourceIPAddress (-1: none). Mirrors `CloudTrailDeltas.expand`'s loops, order included.
pub(crate) fn fold(
    tuples: &Map<Key, [i64; 3]>,
    strings: &Interner,
    principal: &[u32],
    rollups: &[Vec<u32>],
    address: &[i64],
) -> PyResult<Folded> {
    let (pairs, ips) = keys(tuples);
    if principal.len() != pairs.len() || address.len() != ips.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "tables of another batch",
        ));
    }
    if principal.iter().any(|&q| q as usize >= rollups.len()) {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "a principal with no rollups",
        ));
    }
    let nonempty = |id: u32| strings.get(id).is_some_and(|s| !s.is_empty());
    let mut apis: Map<(u32, u32), (i64, i64)> = Map::default();
    let mut rows: Map<RowKey, Span> = Map::default();
    let mut principal_hours: Map<(u32, i64), [i64; 3]> = Map::default();
    let mut address_hours: Map<(u32, i64), [i64; 3]> = Map::default();
    let pair_index: AHashMap<(u32, u32), usize> =
        pairs.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let ip_index: AHashMap<u32, usize> = ips.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    for (key, &[n, first, last]) in tuples {
        let p = principal[pair_index[&(key.identity, key.recipient)]];
        apis.entry((key.source, key.name)).or_insert((first, last));
        let counts = if key.ok { [n, 0] } else { [0, n] };
        let hour = key.hour;
        let mut keys: [Option<RowKey>; 4] = [None; 4];
        // (the qualifier of CALLED is sourceIPAddress as given, "" when absent or empty)
        let ip = nonempty(key.ip);
        let called = if ip { key.ip } else { EMPTY };
        keys[0] = Some((CALLED, p, Target::Api(key.source, key.name), called));
        if ip {
            let a = address[ip_index[&key.ip]];
            if a >= 0 {
                keys[1] = Some((USED_IP, p, Target::Address(a as u32), EMPTY));
                let acc = address_hours
                    .entry((a as u32, hour))
                    .or_insert([0, first, last]);
                totals(acc, n, first, last);
            }
        }
        if nonempty(key.agent) {
            keys[2] = Some((USED_AGENT, p, Target::Agent(key.agent), EMPTY));
        }
        if nonempty(key.bucket) {
            keys[3] = Some((ACCESSED_BUCKET, p, Target::Bucket(key.bucket), key.name));
        }
        for row in keys.into_iter().flatten() {
            rows.entry(row)
                .or_insert_with(|| Span {
                    first,
                    last,
                    hours: Map::default(),
                })
                .add(first, last, hour, counts);
        }
        let acc = principal_hours.entry((p, hour)).or_insert([0, first, last]);
        totals(acc, n, first, last);
    }
    // every row counted for the principal and each of its rollups (DeltaBuffer.count_hours)
    let mut edges: Map<(u8, u32, Target, u32), Span> = Map::default();
    let mut targets: Map<Target, (i64, i64)> = Map::default();
    for ((label, p, target, qualifier), span) in &rows {
        for &source in &rollups[*p as usize] {
            let edge = edges
                .entry((*label, source, *target, *qualifier))
                .or_insert_with(|| Span {
                    first: span.first,
                    last: span.last,
                    hours: Map::default(),
                });
            for (&hour, &counts) in &span.hours {
                edge.add(span.first, span.last, hour, counts);
            }
        }
        let seen = targets.entry(*target).or_insert((span.first, span.last));
        seen.0 = seen.0.min(span.first);
        seen.1 = seen.1.max(span.last);
    }
    Ok(Folded {
        apis,
        targets,
        edges,
        principal_hours,
        address_hours,
    })
}

impl Folded {
    /// `(apis, targets, edges, principal_hours, address_hours)` as Python objects:
    /// - apis: (eventSource, eventName, first, last) of each API, at its first tuple;
    /// - targets: (kind, a, b, first, last) of every row's target, kind 0 API (a, b: source
    ///   and name), 1 address (a: its index), 2 user agent, 3 bucket (a: the string);
    /// - edges: (label, source index, target index into `targets`, qualifier, first, last,
    ///   {hour: [count 0, count 1]});
    /// - principal_hours and address_hours: (index, hour, n, first, last).
    pub(crate) fn into_py<'py>(
        self,
        py: Python<'py>,
        strings: &Interner,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut cache: Vec<Option<PyObject>> = (0..=strings.values.len()).map(|_| None).collect();
        let none = py.None();
        let mut string = |id: u32| -> PyObject {
            match strings.get(id) {
                None => none.clone_ref(py),
                Some(s) => cache[id as usize]
                    .get_or_insert_with(|| PyString::new(py, s).into_any().unbind())
                    .clone_ref(py),
            }
        };
        let apis = PyList::empty(py);
        for ((source, name), (first, last)) in &self.apis {
            apis.append((string(*source), string(*name), first, last))?;
        }
        let targets = PyList::empty(py);
        let mut target_index: AHashMap<Target, usize> = AHashMap::new();
        for (i, (target, (first, last))) in self.targets.iter().enumerate() {
            target_index.insert(*target, i);
            let row = match *target {
                Target::Api(s, n) => (0u8, string(s), string(n)),
                Target::Address(a) => (1, a.into_pyobject(py)?.into_any().unbind(), py.None()),
                Target::Agent(s) => (2, string(s), py.None()),
                Target::Bucket(s) => (3, string(s), py.None()),
            };
            targets.append((row.0, row.1, row.2, first, last))?;
        }
        let empty: PyObject = PyString::new(py, "").into_any().unbind();
        let edges = PyList::empty(py);
        for ((label, source, target, qualifier), span) in &self.edges {
            let hours = PyDict::new(py);
            for (hour, counts) in &span.hours {
                hours.set_item(hour, PyList::new(py, counts)?)?;
            }
            // (0: a bucket call without eventName, which staging never lets through)
            let qualifier = if *qualifier == EMPTY || *qualifier == 0 {
                empty.clone_ref(py)
            } else {
                string(*qualifier)
            };
            edges.append((
                label,
                source,
                target_index[target],
                qualifier,
                span.first,
                span.last,
                hours,
            ))?;
        }
        let hours_of = |m: &Map<(u32, i64), [i64; 3]>| -> PyResult<Bound<'py, PyList>> {
            let out = PyList::empty(py);
            for ((i, hour), [n, first, last]) in m {
                out.append((i, hour, n, first, last))?;
            }
            Ok(out)
        };
        let principal_hours = hours_of(&self.principal_hours)?;
        let address_hours = hours_of(&self.address_hours)?;
        PyTuple::new(
            py,
            [
                apis.into_any(),
                targets.into_any(),
                edges.into_any(),
                principal_hours.into_any(),
                address_hours.into_any(),
            ],
        )
    }
}
