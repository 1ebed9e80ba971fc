//! A strict reader of the JSON the wire formats read most: chat completions and the
//! token chunks of streams read with content capture on (thousands per call). serde_json
//! spends most of its time there on fields nobody looks at; this reader passes over
//! them, checking their syntax, and builds only the kept fields.
//!
//! It reads a *subset* of JSON and, for that subset, gives what serde_json gives the
//! same structs: strings decoded, fields matched on their decoded names, integers read
//! as serde_json reads them, unknown fields checked and skipped. Anything outside the
//! subset (a `\u` escape of a surrogate, a duplicate field, a value of a type the field
//! does not take, an integer serde_json would read as a float, nesting deeper than
//! [`MAX_DEPTH`], bad syntax of any kind) makes the caller's reading answer `None`, and
//! the caller then parses with serde_json (`wire::scan_json`), so what is kept, and
//! every error and its message, stay serde_json's. The readers' tests hold both
//! readings to each other on generated and mutated inputs.
//!
//! Written here rather than taken from a crate: the point is to *not* be a general
//! parser (no values built for what is skipped, no floats read), and to fall back
//! exactly where serde_json's reading could differ. sonic-rs and simd-json were
//! measured slower than serde_json on 600-byte bodies (BENCHMARKS.md).

use std::borrow::Cow;

/// Deepest nesting read (serde_json allows 128; deeper chunks go to serde_json).
const MAX_DEPTH: usize = 16;

/// A position in one JSON text.
pub(crate) struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    /// A reader at the start of `text`.
    pub(crate) fn new(text: &'a str) -> Scan<'a> {
        Scan { text, at: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte after whitespace (JSON's four kinds, as serde_json skips).
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
        bytes.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        if self.peek()? == b {
            self.at += 1;
            Some(())
        } else {
            None
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.bytes()[self.at..].starts_with(word) {
            self.at += word.len();
            Some(())
        } else {
            None
        }
    }

    /// Nothing but whitespace is left.
    pub(crate) fn end(mut self) -> Option<()> {
        (self.peek().is_none()).then_some(())
    }

    /// `null`.
    pub(crate) fn null(&mut self) -> Option<()> {
        if self.peek()? != b'n' {
            return None;
        }
        self.literal(b"null")
    }

    /// Consumes a `null` if that is what comes next, and says whether it did.
    pub(crate) fn opt_null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            Some(true)
        } else {
            Some(false)
        }
    }

    /// A string or `null` (serde's `Option<String>`).
    pub(crate) fn opt_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            b'"' => self.string().map(Some),
            _ => None,
        }
    }

    /// A string, decoded: borrowed when it has no escapes. `None` for an escape
    /// serde_json rejects, a `\u` escape of a surrogate (serde_json pairs them with
    /// rules of its own) and a control character.
    pub(crate) fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let bytes = self.bytes();
        let start = self.at;
        // The common case: no escape before the closing quote.
        let mut i = plain_run_end(bytes, start);
        match *bytes.get(i)? {
            b'"' => {
                self.at = i + 1;
                return Some(Cow::Borrowed(&self.text[start..i]));
            }
            b'\\' => {}
            _ => return None,
        }
        let mut out = String::with_capacity(i - start + 16);
        out.push_str(&self.text[start..i]);
        loop {
            // At a backslash.
            let c = match *bytes.get(i + 1)? {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let c = char::from_u32(hex4(bytes.get(i + 2..i + 6)?)?)?;
                    i += 4;
                    c
                }
                _ => return None,
            };
            out.push(c);
            i += 2;
            let run = i;
            i = plain_run_end(bytes, i);
            out.push_str(&self.text[run..i]);
            match *bytes.get(i)? {
                b'"' => {
                    self.at = i + 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {}
                _ => return None,
            }
        }
    }

    /// Passes over a string, checking it as serde_json does when it skips one (a
    /// `\u` escape needs four hex digits, whatever they encode).
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        let bytes = self.bytes();
        let mut i = self.at;
        loop {
            i = plain_run_end(bytes, i);
            match *bytes.get(i)? {
                b'"' => {
                    self.at = i + 1;
                    return Some(());
                }
                b'\\' => match *bytes.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' => {
                        hex4(bytes.get(i + 2..i + 6)?)?;
                        i += 6;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    /// A non-negative integer that fits a `usize` (see [`Scan::unsigned`]).
    pub(crate) fn index(&mut self) -> Option<usize> {
        self.peek()?;
        usize::try_from(self.unsigned()?).ok()
    }

    /// An integer or `null`, as serde_json reads an `Option<i64>`: `None` for what
    /// it would read otherwise or refuse (a fraction, an exponent, `-0`, which it
    /// reads as a float, and values out of range).
    pub(crate) fn opt_i64(&mut self) -> Option<Option<i64>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            b'-' => {
                self.at += 1;
                let n = self.unsigned()?;
                // -0 and i64::MIN are left to serde_json.
                (1..=i64::MAX as u64)
                    .contains(&n)
                    .then(|| Some(-(n as i64)))
            }
            _ => i64::try_from(self.unsigned()?).ok().map(Some),
        }
    }

    /// Digits right here, written as JSON writes integers (no leading zero) and not
    /// followed by a fraction or exponent, that fit a `u64`.
    fn unsigned(&mut self) -> Option<u64> {
        let bytes = self.bytes();
        let first = *bytes.get(self.at).filter(|b| b.is_ascii_digit())?;
        self.at += 1;
        let mut n = u64::from(first - b'0');
        if n != 0 {
            while let Some(d) = bytes.get(self.at).filter(|b| b.is_ascii_digit()) {
                n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
                self.at += 1;
            }
        }
        match bytes.get(self.at) {
            Some(b'0'..=b'9' | b'.' | b'e' | b'E') => None,
            _ => Some(n),
        }
    }

    fn digits(&mut self) -> Option<()> {
        let bytes = self.bytes();
        let start = self.at;
        while bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        (self.at > start).then_some(())
    }

    /// Passes over a number, checking JSON's grammar for it.
    fn skip_number(&mut self) -> Option<()> {
        let bytes = self.bytes();
        if bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        match bytes.get(self.at)? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits()?,
            _ => return None,
        }
        if bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = bytes.get(self.at) {
                self.at += 1;
            }
            self.digits()?;
        }
        Some(())
    }

    /// Passes over any value, checking its syntax; `depth` is the nesting it is at.
    pub(crate) fn skip(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => self.object(depth, |s, _| s.skip(depth + 1)),
            b'[' => self.array(depth, |s| s.skip(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// An object, `field` called with each decoded key, to read its value.
    pub(crate) fn object(
        &mut self,
        depth: usize,
        mut field: impl FnMut(&mut Self, &str) -> Option<()>,
    ) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            field(self, &key)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array, `item` called to read each element.
    pub(crate) fn array(
        &mut self,
        depth: usize,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// The index of the first byte from `i` on that ends a string's plain run (a quote,
/// a backslash or a control character), or `bytes.len()`: eight bytes at a time, as
/// strings are most of a chunk's bytes.
fn plain_run_end(bytes: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // The high bit of a lane is set where that lane of `v` is zero (or below 0x20).
    // A borrow can set it in lanes above a true one too, never below: the lowest lane
    // set is the first special byte (the words are read little-endian).
    let zero = |v: u64| v.wrapping_sub(LO) & !v;
    while let Some(word) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let v = u64::from_le_bytes(*word);
        let special = (zero(v ^ (LO * u64::from(b'"')))
            | zero(v ^ (LO * u64::from(b'\\')))
            | (v.wrapping_sub(LO * 0x20) & !v))
            & HI;
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Four hex digits (a `\u` escape's), as a number.
fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &d| {
        let v = (d as char).to_digit(16)?;
        Some(n << 4 | v)
    })
}

/// Which of a struct's fields were seen: serde's derive rejects a field given twice,
/// so a second sighting makes the reading fall back.
#[derive(Default)]
pub(crate) struct Seen(u32);

impl Seen {
    /// Marks field number `n` (< 32) seen; `None` if it was already.
    pub(crate) fn first(&mut self, n: u32) -> Option<()> {
        let bit = 1 << n;
        if self.0 & bit != 0 {
            return None;
        }
        self.0 |= bit;
        Some(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Inputs made from `seeds` by small edits: every byte dropped, doubled or
    /// replaced by a few interesting bytes, escapes and whitespace inserted, pieces
    /// swapped. Deterministic, so a failure names its input.
    pub(crate) fn mutations(seeds: &[&str]) -> Vec<Vec<u8>> {
        const INSERTS: &[&[u8]] = &[
            b"\\",
            b"\\n",
            b"\\\"",
            b"\\u0041",
            b"\\ud83d",
            b"\\ud83d\\ude00",
            b"\\u00E9",
            b"\\u12",
            b"\\x",
            b"\"",
            b" ",
            b"\t",
            b"\x01",
            b"\x7f",
            "é".as_bytes(),
            b"\xff",
            b",",
            b":",
            b"{",
            b"}",
            b"[",
            b"]",
            b"0",
            b"-",
            b".5",
            b"e3",
            b"null",
            b"1",
            b"\"x\":1,",
        ];
        let mut out = Vec::new();
        for seed in seeds {
            let s = seed.as_bytes();
            out.push(s.to_vec());
            out.push(format!(" {seed} ").into_bytes());
            out.push(format!("[{seed}]").into_bytes());
            for i in 0..=s.len() {
                if i < s.len() {
                    let mut d = s.to_vec();
                    d.remove(i);
                    out.push(d);
                    let mut d = s.to_vec();
                    d.insert(i, s[i]);
                    out.push(d);
                }
                for ins in INSERTS {
                    let mut d = s[..i].to_vec();
                    d.extend_from_slice(ins);
                    d.extend_from_slice(&s[i..]);
                    out.push(d);
                }
            }
        }
        out
    }

    fn skips(text: &str) -> bool {
        let mut s = Scan::new(text);
        s.skip(0).is_some() && s.end().is_some()
    }

    #[test]
    fn skipping_accepts_no_more_than_serde_json() {
        let seeds = [
            r#"{"a":[1,-2.5e+3,0,true,false,null,"x\n\"\\\/\b\f\r\t"],"b":{"c":{}}}"#,
            r#"[ {"k" : "v" } , [ ] , -0.0 , 1E9 ]"#,
            r#""plain""#,
            "12",
        ];
        let mut accepted = 0;
        for input in mutations(&seeds) {
            let Ok(text) = std::str::from_utf8(&input) else {
                continue;
            };
            if skips(text) {
                accepted += 1;
                assert!(
                    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
                    "accepted what serde_json rejects: {text:?}"
                );
            }
        }
        assert!(accepted > 500, "too few inputs accepted: {accepted}");
    }

    #[test]
    fn strings_decode_as_serde_json_decodes_them() {
        for text in [
            r#""""#,
            r#""abc""#,
            r#""a\nb\"c\\d\/e\bf\fg\rh\ti""#,
            r#""ünï\tcødé""#,
            r#""\\\\""#,
            r#""\u0041\u00e9\u00E9\u4e2d\u0000 x""#,
            r#""long plain run past eight bytes \t and on""#,
        ] {
            let ours = Scan::new(text).string().unwrap();
            let theirs: String = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs);
        }
        for text in [
            r#""\ud83d\ude00""#,
            r#""\udc00""#,
            r#""\u12""#,
            r#""\x""#,
            "\"a\u{1}b\"",
            r#""open"#,
        ] {
            assert!(Scan::new(text).string().is_none(), "{text:?}");
        }
    }

    #[test]
    fn plain_runs_end_where_a_byte_by_byte_scan_ends_them() {
        let naive = |b: &[u8], from: usize| {
            b[from..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .map_or(b.len(), |p| from + p)
        };
        for filler in [b'a', b' ', 0x7f, 0xc3, 0x21, 0x5d] {
            for special in 0..=255u8 {
                for len in 0..20 {
                    for at in 0..len {
                        let mut bytes = vec![filler; len];
                        bytes[at] = special;
                        for from in 0..=len {
                            assert_eq!(
                                plain_run_end(&bytes, from),
                                naive(&bytes, from),
                                "{bytes:?} from {from}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn index_reads_plain_integers_only() {
        let read = |t: &str| {
            let mut s = Scan::new(t);
            let n = s.index()?;
            s.end().map(|()| n)
        };
        assert_eq!(read("0"), Some(0));
        assert_eq!(read(" 42 "), Some(42));
        assert_eq!(read(&usize::MAX.to_string()), Some(usize::MAX));
        for bad in ["-1", "01", "1.0", "1e2", "18446744073709551616", "", "x"] {
            assert_eq!(read(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn integers_read_as_serde_json_reads_an_option_i64() {
        let read = |t: &str| {
            let mut s = Scan::new(t);
            let n = s.opt_i64()?;
            s.end().map(|()| n)
        };
        for text in [
            "0",
            " 7 ",
            "-1",
            "null",
            "1234567890",
            "9223372036854775807",
            "-9223372036854775807",
        ] {
            let theirs: Option<i64> = serde_json::from_str(text).unwrap();
            assert_eq!(read(text), Some(theirs), "{text:?}");
        }
        // Left to serde_json, which reads these as floats, refuses them, or (the
        // last) takes them at a cost the scanner does not pay.
        for text in [
            "-0",
            "01",
            "1.0",
            "1e2",
            "1E2",
            "- 1",
            "--1",
            "+1",
            "",
            "nul",
            "true",
            "\"1\"",
            "9223372036854775808",
            "18446744073709551616",
            "-9223372036854775808",
        ] {
            assert_eq!(read(text), None, "{text:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(!skips(&deep));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(skips(&ok));
    }
}
