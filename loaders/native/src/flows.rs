//! VPC flow-log text blocks split, validated and aggregated per (key ids, hour), driven by
//! loaders/vpcflow_native.py.
//!
//! The rules are those of the columnar path in loaders/vpcflow_columns.py (pyarrow and numpy),
//! which stays the reference and the path for Parquet: a row is aggregated here only when its
//! meaning cannot be in doubt, and every other row goes back, by its line index, to the
//! per-record path. What a raw key value means (its vocabulary id) is decided in Python, once
//! per distinct raw value of the block (`distinct`, then the id tables `aggregate` takes), so
//! the decoders stay in one place.

use ahash::{AHashMap, RandomState};
use indexmap::IndexMap;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyTuple};

/// at most 18 digits always fit int64
const DIGITS: usize = 18;
/// the id of a malformed raw value (loaders.vpcflow_fields.BAD)
const BAD: i64 = -1;
/// KEY_FIELDS in loaders/vpcflow_fields.py
const KEYS: usize = 13;

/// A block of text lines cut into rows of fields: row r is line `lines[r]` of the block.
#[pyclass(module = "loaders._native")]
pub struct FlowBlock {
    text: Vec<u8>,
    width: usize,
    lines: Vec<u32>,
    // (start, end) of every field, row after row
    bounds: Vec<(u32, u32)>,
    // lines with another number of fields (a blank line among them)
    odd: Vec<u32>,
    span: u32,
    // per column: each row's index into the column's distinct values (`distinct`)
    locals: Vec<Option<Vec<u32>>>,
}

/// How `aggregate` gets one key field's id: the field is absent from the format (a fixed id),
/// a number (ports, protocol: the id is the number), or a value looked up in the id table
/// Python made of the column's distinct values.
#[derive(FromPyObject)]
enum KeyPlan {
    Absent(i64),
    Numbered(usize, i64, i64),
    Table(usize, Vec<i64>),
}

/// 1 to 18 ASCII digits: their value; None otherwise (int() would take "-5", " 7" or "٣").
fn digits(raw: &[u8]) -> Option<i64> {
    if raw.is_empty() || raw.len() > DIGITS {
        return None;
    }
    let mut v: i64 = 0;
    for &c in raw {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(v)
}

impl FlowBlock {
    fn field(&self, row: usize, col: usize) -> &[u8] {
        let (a, b) = self.bounds[row * self.width + col];
        &self.text[a as usize..b as usize]
    }

    fn numbered(&self, row: usize, col: usize, limit: i64, absent: i64) -> i64 {
        let raw = self.field(row, col);
        if raw == b"-" {
            return absent;
        }
        match digits(raw) {
            // canonical: no leading zero, as str(int) would print it
            Some(v) if v <= limit && (raw.len() == 1 || raw[0] != b'0') => v,
            _ => BAD,
        }
    }
}

type Totals = [i64; 6]; // packets, bytes, records, least start, greatest end, position

#[pymethods]
impl FlowBlock {
    /// `text` cut into lines and fields on single spaces; a first line that is the format's
    /// header is skipped (but counted in `span`). None when the block holds a whitespace byte
    /// other than space and newline: then only bytes.split() splits it right.
    #[staticmethod]
    fn split(text: &[u8], width: usize, header: bool) -> Option<FlowBlock> {
        // bytes.split() also splits on \r, \t, \v and \f; the columnar path declines those too
        if width == 0
            || memchr::memchr3(b'\r', b'\t', 0x0b, text).is_some()
            || memchr::memchr(0x0c, text).is_some()
        {
            return None;
        }
        let mut block = FlowBlock {
            text: text.to_vec(),
            width,
            lines: Vec::new(),
            bounds: Vec::with_capacity(text.len() / 6),
            odd: Vec::new(),
            span: 0,
            locals: vec![None; width],
        };
        if text.is_empty() {
            return Some(block);
        }
        // (a final newline ends the last line; it does not start another)
        let body = text.strip_suffix(b"\n").unwrap_or(text);
        let (mut field_at, mut count, mut mark) = (0usize, 0usize, 0usize);
        // one pass over every separator; a line ends at a newline or at the end of the body
        let ends = memchr::memchr2_iter(b' ', b'\n', body).chain(std::iter::once(body.len()));
        for at in ends {
            let skip = header && block.span == 0;
            count += 1;
            if count <= width && !skip {
                block.bounds.push((field_at as u32, at as u32));
            }
            field_at = at + 1;
            if at < body.len() && body[at] == b' ' {
                continue;
            }
            if !skip {
                if count == width {
                    block.lines.push(block.span);
                } else {
                    block.bounds.truncate(mark);
                    block.odd.push(block.span);
                }
            }
            block.span += 1;
            count = 0;
            mark = block.bounds.len();
        }
        Some(block)
    }

    /// Rows with the format's number of fields.
    fn __len__(&self) -> usize {
        self.lines.len()
    }

    #[getter]
    fn span(&self) -> u32 {
        self.span
    }

    /// The distinct values of the given columns together (source and destination addresses
    /// share one vocabulary), in first-seen order: every row of the first column, then of the
    /// next, as the columnar path's dictionary encoding numbers them.
    fn distinct<'py>(
        &mut self,
        py: Python<'py>,
        columns: Vec<usize>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let mut seen: AHashMap<&[u8], u32> = AHashMap::new();
        let mut values: Vec<Bound<'py, PyBytes>> = Vec::new();
        let mut locals: Vec<(usize, Vec<u32>)> = Vec::new();
        for &col in &columns {
            if col >= self.width {
                return Err(pyo3::exceptions::PyIndexError::new_err(
                    "column out of range",
                ));
            }
            let mut local = Vec::with_capacity(self.lines.len());
            for row in 0..self.lines.len() {
                let (a, b) = self.bounds[row * self.width + col];
                let raw = &self.text[a as usize..b as usize];
                let next = seen.len() as u32;
                let id = *seen.entry(raw).or_insert_with(|| {
                    values.push(PyBytes::new(py, raw));
                    next
                });
                local.push(id);
            }
            locals.push((col, local));
        }
        for (col, local) in locals {
            self.locals[col] = Some(local);
        }
        Ok(values)
    }

    /// Validate and aggregate the rows; `keys`: how each key field gets its id (its table for
    /// the values `distinct` returned). Returns `(ids, hour, packets, bytes, records, first,
    /// last, seq)` as int64 buffers, one entry per distinct (ids, hour) in first-seen order
    /// (`ids`: KEY_FIELDS ids, entry after entry; `seq`: base + the line of its first row), then
    /// the lines for the per-record path (sorted), and the counts records, skipped, loaded.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (keys, status, start, end, packets, nbytes, base, max_epoch, max_counter))]
    fn aggregate<'py>(
        &self,
        py: Python<'py>,
        keys: Vec<KeyPlan>,
        status: Option<usize>,
        start: usize,
        end: Option<usize>,
        packets: usize,
        nbytes: usize,
        base: i64,
        max_epoch: i64,
        max_counter: i64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if keys.len() != KEYS {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "one plan per key field",
            ));
        }
        for plan in &keys {
            if let KeyPlan::Table(col, table) = plan {
                let ok = self
                    .locals
                    .get(*col)
                    .and_then(|l| l.as_ref())
                    .is_some_and(|l| l.iter().all(|&i| (i as usize) < table.len()));
                if !ok {
                    return Err(pyo3::exceptions::PyValueError::new_err(
                        "an id table that does not cover its column's distinct values",
                    ));
                }
            }
        }
        let n = self.lines.len();
        // sums of a block stay in int64: larger counters take the per-record path
        let limit = (i64::MAX / (n.max(1) as i64)).min(max_counter);
        let mut groups: IndexMap<([i64; KEYS], i64), Totals, RandomState> = IndexMap::default();
        let mut back: Vec<u32> = Vec::new();
        let (mut skipped, mut loaded) = (0i64, 0i64);
        'rows: for row in 0..n {
            let line = self.lines[row];
            // an empty field: a doubled, leading or trailing space
            if (0..self.width).any(|c| {
                let (a, b) = self.bounds[row * self.width + c];
                a == b
            }) {
                back.push(line);
                continue;
            }
            if let Some(s) = status {
                match self.field(row, s) {
                    b"OK" | b"-" => {}
                    b"NODATA" | b"SKIPDATA" => {
                        skipped += 1; // no traffic in the window, or records AWS had to drop
                        continue;
                    }
                    _ => {
                        back.push(line);
                        continue;
                    }
                }
            }
            let first = digits(self.field(row, start));
            let last = match end {
                Some(e) => digits(self.field(row, e)),
                None => first,
            };
            let count = digits(self.field(row, packets));
            let size = digits(self.field(row, nbytes));
            let (Some(first), Some(last), Some(count), Some(size)) = (first, last, count, size)
            else {
                back.push(line);
                continue;
            };
            if last < first || last > max_epoch || count > limit || size > limit {
                back.push(line);
                continue;
            }
            let mut ids = [0i64; KEYS];
            for (j, plan) in keys.iter().enumerate() {
                let id = match plan {
                    KeyPlan::Absent(id) => *id,
                    KeyPlan::Numbered(col, most, absent) => {
                        self.numbered(row, *col, *most, *absent)
                    }
                    KeyPlan::Table(col, table) => {
                        // (checked above: every table covers its column)
                        let local = self.locals[*col].as_ref().map_or(0, |l| l[row]);
                        table[local as usize]
                    }
                };
                if id == BAD {
                    back.push(line);
                    continue 'rows;
                }
                ids[j] = id;
            }
            loaded += 1;
            let hour = first - first % 3600;
            let at = base + i64::from(line);
            groups
                .entry((ids, hour))
                .and_modify(|t| {
                    t[0] += count;
                    t[1] += size;
                    t[2] += 1;
                    t[3] = t[3].min(first);
                    t[4] = t[4].max(last);
                })
                .or_insert([count, size, 1, first, last, at]);
        }
        let records = n as i64 - back.len() as i64;
        if !self.odd.is_empty() {
            back.extend_from_slice(&self.odd);
            back.sort_unstable();
        }
        let g = groups.len();
        let mut ids: Vec<i64> = Vec::with_capacity(g * KEYS);
        let mut columns: [Vec<i64>; 7] = Default::default();
        for ((key, hour), totals) in &groups {
            ids.extend_from_slice(key);
            columns[0].push(*hour);
            for (c, v) in columns[1..].iter_mut().zip(totals) {
                c.push(*v);
            }
        }
        let buffer = |v: &[i64]| {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_ne_bytes()).collect();
            PyByteArray::new(py, &bytes)
        };
        let mut out: Vec<PyObject> = vec![buffer(&ids).into_any().unbind()];
        for c in &columns {
            out.push(buffer(c).into_any().unbind());
        }
        out.push(back.into_pyobject(py)?.into_any().unbind());
        for v in [records, skipped, loaded] {
            out.push(v.into_pyobject(py)?.into_any().unbind());
        }
        PyTuple::new(py, out)
    }
}
