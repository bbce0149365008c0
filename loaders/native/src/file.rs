//! Reading a local log file for `Staging.scan_file`: the bytes, their sha256 (the ledger's
//! version of a local file) and the gunzipped text, without a Python call per step.
//!
//! Most CloudTrail files are a few kilobytes, so the Python calls around each step (open, read,
//! hash, gunzip, sniff) cost about as much as the steps. Anything unusual is declined (`None`)
//! rather than handled here: the Python path then reads the file from the start and words any
//! error itself. Only a file that is one whole gzip member (or not gzipped) is read here; gzip
//! with several members, trailing bytes, a bad CRC or a size over the limit is Python's.

use std::ffi::c_void;
use std::fs::File;
use std::io::{ErrorKind, Read};

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_SUCCESS,
};
use memchr::memmem;
use sha2::{Digest, Sha256};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
// gzip header flags read here: FTEXT and FNAME. (libdeflate skips a header CRC without checking
// it, so a file with one is Python's, as is any other flag.)
const PLAIN_FLAGS: u8 = 0x01 | 0x08;
// loaders/detect.py's SNIFF_BYTES: how much of the text the source is decided from
const SNIFF_BYTES: usize = 64 << 10;

/// One libdeflate decompressor, reused for every file of a load.
pub(crate) struct Inflater(*mut libdeflate_decompressor);

// SAFETY: the decompressor is plain memory owned by this value, tied to no thread, and used only
// through `&mut self` (Staging's methods are borrow-checked by PyO3)
unsafe impl Send for Inflater {}
unsafe impl Sync for Inflater {}

impl Inflater {
    pub(crate) fn new() -> Self {
        // SAFETY: no arguments; a null result (out of memory) is checked before each use
        Inflater(unsafe { libdeflate_alloc_decompressor() })
    }

    /// The text of a gzip object that is exactly one member, whose footer's size is at most
    /// `limit`; None for anything else.
    fn gunzip(&mut self, data: &[u8], limit: usize) -> Option<Vec<u8>> {
        if self.0.is_null() || data.len() < 18 || data[3] & !PLAIN_FLAGS != 0 {
            return None;
        }
        let tail: [u8; 4] = data[data.len() - 4..].try_into().ok()?;
        // (the footer holds the size mod 2^32: a larger text overflows `size` bytes, and
        // libdeflate refuses it)
        let size = u32::from_le_bytes(tail) as usize;
        if size > limit {
            return None;
        }
        let mut out: Vec<u8> = Vec::with_capacity(size);
        let (mut used, mut written) = (0usize, 0usize);
        // SAFETY: `data` and `out`'s spare capacity are valid for the lengths given; libdeflate
        // writes at most `size` bytes and reports how many in `written`
        let result = unsafe {
            libdeflate_gzip_decompress_ex(
                self.0,
                data.as_ptr().cast::<c_void>(),
                data.len(),
                out.as_mut_ptr().cast::<c_void>(),
                size,
                &mut used,
                &mut written,
            )
        };
        // libdeflate checks the CRC and the size in the footer; a second member or trailing
        // bytes leave `used` short of the object
        if result != libdeflate_result_LIBDEFLATE_SUCCESS || used != data.len() || written != size {
            return None;
        }
        // SAFETY: libdeflate initialised the first `written` bytes
        unsafe { out.set_len(written) };
        Some(out)
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: allocated by libdeflate_alloc_decompressor, freed once
            unsafe { libdeflate_free_decompressor(self.0) };
        }
    }
}

/// A local file read whole: its size, its version (`sha256:<hex>`) and its text.
pub(crate) struct FileText {
    pub(crate) size: usize,
    pub(crate) version: String,
    pub(crate) text: Vec<u8>,
}

/// Read `path` whole, `size` its size when listed; None when it cannot be read, is corrupt gzip
/// or decompresses to more than `limit` bytes (Python reads those again and reports what is
/// wrong).
pub(crate) fn read(
    path: &str,
    size: usize,
    limit: usize,
    inflater: &mut Inflater,
) -> Option<FileText> {
    let data = whole(path, size).ok()?;
    let version = hex_version(&Sha256::digest(&data));
    let size = data.len();
    let text = if data.starts_with(&GZIP_MAGIC) {
        inflater.gunzip(&data, limit)?
    } else if data.len() <= limit {
        data
    } else {
        return None;
    };
    Some(FileText {
        size,
        version,
        text,
    })
}

/// The bytes of a regular file listed with `size` bytes: one read of `size + 1` bytes, since a
/// short read of a regular file is its end (open, read and close: `fs::read` would also stat
/// the file and read again to see the end), then the rest of a file that has grown.
fn whole(path: &str, size: usize) -> std::io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut data = vec![0u8; size + 1];
    let n = loop {
        match file.read(&mut data) {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            read => break read?,
        }
    };
    data.truncate(n);
    if n > size {
        file.read_to_end(&mut data)?;
    }
    Ok(data)
}

fn hex_version(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(7 + 2 * digest.len());
    out.push_str("sha256:");
    for &b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// Whether loaders/detect.py's `detect` says CloudTrail for a text that starts with `{`, by its
/// plain rules (an event envelope with escaped quotes is left to Python).
pub(crate) fn sniffs_cloudtrail(text: &[u8]) -> bool {
    let head = &text[..text.len().min(SNIFF_BYTES)];
    let has = |needle: &[u8]| memmem::find(head, needle).is_some();
    let event_name = has(b"\"eventName\"");
    if !event_name && has(b"\"digestStartTime\"") {
        return false; // a digest file
    }
    has(b"\"eventVersion\"") || (event_name && has(b"\"eventSource\""))
}
