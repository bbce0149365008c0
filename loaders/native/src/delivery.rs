//! The JSON reader of S3 delivery objects (`{"Records": [...]}`); scan.rs reads their shape.
//!
//! It replaced serde_json's derived decoding, which spent most of a load's decoding time
//! validating and then hashing each record's userIdentity (about 40% of a record's bytes, and
//! the same few identities over and over). scan.rs recognises an identity that starts with the
//! same bytes as one already staged in the batch by comparing bytes: a JSON object ends at its
//! own closing brace, so the same bytes are the same complete value, with the same id.
//!
//! It accepts no more than serde_json did: only valid JSON (serde_json's grammar, numbers and
//! escapes included). Fields of the wrong type, a known field twice (escaped or not), an escaped
//! key outside records, a record that is not an object, or nesting deeper than `MAX_DEPTH`
//! (serde_json stops at 128) decline the object, and Python reads it instead.
//! tests/unit/test_native_delivery.py holds it to the Python path on generated and corrupted
//! documents.

use std::borrow::Cow;

use pyo3::PyErr;

pub(crate) const MAX_DEPTH: usize = 100;

/// Why reading stopped: the object is not one this reader takes, or staging raised.
pub(crate) enum Stop {
    Decline,
    Python(PyErr),
}

pub(crate) type Step<T = ()> = Result<T, Stop>;

/// A string's content bounds in the text, and whether it has escapes.
pub(crate) type Key = (usize, usize, bool);

/// A position in a JSON text.
pub(crate) struct Reader<'a> {
    pub(crate) s: &'a str,
    pub(crate) b: &'a [u8],
    pub(crate) i: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    pub(crate) fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    #[inline]
    pub(crate) fn expect(&mut self, c: u8) -> Step {
        if self.peek() != Some(c) {
            return Err(Stop::Decline);
        }
        self.i += 1;
        Ok(())
    }

    /// After a member or element: true on `,` (another follows), false on `close`.
    #[inline]
    pub(crate) fn next_member(&mut self, close: u8) -> Step<bool> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(true)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(Stop::Decline),
        }
    }

    /// An object's members, `{` to `}`: `member` reads each value, given its key (a string as
    /// `string_rest` reads it), with the reader just after the colon.
    #[inline]
    pub(crate) fn object(&mut self, mut member: impl FnMut(&mut Self, Key) -> Step) -> Step {
        self.expect(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            self.expect(b'"')?;
            let key = self.string_rest()?;
            self.ws();
            self.expect(b':')?;
            self.ws();
            member(self, key)?;
            if !self.next_member(b'}')? {
                return Ok(());
            }
        }
    }

    /// An array's elements, `[` to `]`: `element` reads each one.
    #[inline]
    pub(crate) fn array(&mut self, mut element: impl FnMut(&mut Self) -> Step) -> Step {
        self.expect(b'[')?;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            element(self)?;
            if !self.next_member(b']')? {
                return Ok(());
            }
        }
    }

    /// The text of a string read by `string_rest`.
    pub(crate) fn decoded(&self, (start, end, escaped): Key) -> Step<Cow<'a, str>> {
        if !escaped {
            return Ok(Cow::Borrowed(&self.s[start..end]));
        }
        // escapes are rare: serde_json decodes them, with its rules for surrogates
        match serde_json::from_str::<String>(&self.s[start - 1..=end]) {
            Ok(v) => Ok(Cow::Owned(v)),
            Err(_) => Err(Stop::Decline),
        }
    }

    /// The rest of a string after its opening quote: the content's bounds and whether it has
    /// escapes. Control characters, bad escapes and a missing closing quote decline.
    #[inline]
    pub(crate) fn string_rest(&mut self) -> Step<Key> {
        let start = self.i;
        let mut escaped = false;
        loop {
            let j = special(self.b, self.i);
            match self.b.get(j) {
                Some(b'"') => {
                    self.i = j + 1;
                    return Ok((start, j, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.i = j + 2;
                    match self.b.get(j + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                        Some(b'u') => {
                            let hex = self.b.get(j + 2..j + 6).ok_or(Stop::Decline)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Stop::Decline);
                            }
                            self.i = j + 6;
                        }
                        _ => return Err(Stop::Decline),
                    }
                }
                _ => return Err(Stop::Decline), // a control character, or the end
            }
        }
    }

    /// A string field: None for `null`, the text (escapes decoded) for a string.
    pub(crate) fn text(&mut self) -> Step<Option<Cow<'a, str>>> {
        match self.peek() {
            Some(b'n') => {
                self.word(b"null")?;
                Ok(None)
            }
            Some(b'"') => {
                self.i += 1;
                let string = self.string_rest()?;
                self.decoded(string).map(Some)
            }
            _ => Err(Stop::Decline),
        }
    }

    /// The raw text of any value.
    pub(crate) fn raw(&mut self, depth: usize) -> Step<&'a str> {
        let start = self.i;
        self.skip(depth)?;
        Ok(&self.s[start..self.i])
    }

    pub(crate) fn word(&mut self, w: &[u8]) -> Step {
        if !self.b[self.i..].starts_with(w) {
            return Err(Stop::Decline);
        }
        self.i += w.len();
        Ok(())
    }

    pub(crate) fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// serde_json's number syntax: no leading zeros, digits after `.` and after an exponent.
    pub(crate) fn number(&mut self) -> Step {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            // (a digit after a leading 0 is left for the caller, which expects `,` or a close)
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Stop::Decline),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(Stop::Decline);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(Stop::Decline);
            }
        }
        Ok(())
    }

    /// Step over one value, checking it is valid JSON; `depth`: the containers around it.
    pub(crate) fn skip(&mut self, depth: usize) -> Step {
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                self.string_rest().map(|_| ())
            }
            Some(b'{' | b'[') if depth >= MAX_DEPTH => Err(Stop::Decline),
            Some(b'{') => self.object(|r, _| r.skip(depth + 1)),
            Some(b'[') => self.array(|r| r.skip(depth + 1)),
            Some(b't') => self.word(b"true"),
            Some(b'f') => self.word(b"false"),
            Some(b'n') => self.word(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Stop::Decline),
        }
    }
}

/// The index of the first `"`, `\` or control character at or after `i` (`b.len()`: none).
#[inline]
fn special(b: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of x86_64; each load reads 16 bytes inside `b`
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let control = _mm_set1_epi8(0x1f);
            while i + 16 <= b.len() {
                let x = _mm_loadu_si128(b.as_ptr().add(i).cast::<__m128i>());
                // (a byte is at most 0x1f when the larger of it and 0x1f is 0x1f)
                let hits = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                    _mm_cmpeq_epi8(_mm_max_epu8(x, control), control),
                );
                let mask = _mm_movemask_epi8(hits) as u32;
                if mask != 0 {
                    return i + mask.trailing_zeros() as usize;
                }
                i += 16;
            }
        }
    }
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\\' || c < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}
