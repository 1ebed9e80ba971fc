//! A strict reader of JSON for the hot paths that read a few fields of many documents:
//! LLM responses and stream chunks (aitrace-llm), trace-file lines (aitrace-insight).
//! A general parser spends most of its time there on what nobody keeps; [`Scan`]
//! passes over that, checking its syntax, and hands over only the fields asked for.
//!
//! It reads a *subset* of JSON and, for that subset, gives what serde_json gives: strings
//! decoded, keys decoded before they are matched (or compared with the text as they
//! stand, when the caller says which it expects: [`Scan::object_in_order`]), integers
//! and (some) decimals read as serde_json reads them, values skipped only when
//! serde_json would accept them.
//! Everything outside the subset makes the reading answer `None`: a `\u` escape of a
//! surrogate, a number whose reading could differ between JSON readers, nesting deeper
//! than [`MAX_DEPTH`], and bad syntax of any kind. A caller then reads the same text
//! with serde (its errors, its values), so the scanner is a fast path that never
//! changes what is read. Callers hold their readings equal to serde's in tests on
//! mutated inputs; this module's tests hold each method to serde_json.
//!
//! Written here rather than taken from a crate: the point is to *not* be a general
//! parser (nothing built for what is skipped), and to decline exactly where a reading
//! could differ from serde's. sonic-rs and simd-json were measured slower than
//! serde_json on 600-byte bodies (BENCHMARKS.md).
//!
//! ```
//! use aitrace_core::json::Scan;
//!
//! let text = r#"{"id":"chatcmpl-1","choices":[{"index":0,"message":{"content":"hi"}}],"usage":{"prompt_tokens":19}}"#;
//! let (mut id, mut tokens) = (None, None);
//! let mut s = Scan::new(text);
//! s.object(0, |s, key| match key {
//!     "id" => {
//!         id = s.opt_str()?;
//!         Some(())
//!     }
//!     "usage" => s.object(1, |s, key| match key {
//!         "prompt_tokens" => {
//!             tokens = s.opt_i64()?;
//!             Some(())
//!         }
//!         _ => s.skip(2),
//!     }),
//!     _ => s.skip(1),
//! })
//! .and_then(|()| s.end())
//! .expect("in the subset");
//! assert_eq!((id.as_deref(), tokens), (Some("chatcmpl-1"), Some(19)));
//! // Outside the subset (here a lone surrogate): the caller asks serde instead.
//! assert!(Scan::new(r#""\udc00""#).string().is_none());
//! ```

use std::borrow::Cow;

/// Deepest nesting read: an object or array at this depth makes the reading answer
/// `None` (serde_json's own limit is 128).
pub const MAX_DEPTH: usize = 64;

/// The keys [`Scan::object_in_order`] expects, in the order a producer writes them. Made
/// in a constant, a key that could not stand between quotes as it is (a quote, a
/// backslash or a control character in it) fails the build ([`Keys::new`] called at run
/// time panics instead).
///
/// ```compile_fail
/// const BAD: aitrace_core::json::Keys = aitrace_core::json::Keys::new(&["a\"b"]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Keys(&'static [&'static str]);

impl Keys {
    /// Keys in their usual order; panics (at compile time, in a constant) on a key that
    /// is not plain text.
    pub const fn new(keys: &'static [&'static str]) -> Keys {
        let mut k = 0;
        while k < keys.len() {
            let bytes = keys[k].as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                let b = bytes[i];
                assert!(
                    b != b'"' && b != b'\\' && b >= 0x20,
                    "a key must be plain text"
                );
                i += 1;
            }
            k += 1;
        }
        Keys(keys)
    }

    /// The first key.
    pub fn first(&self) -> Option<&'static str> {
        self.0.first().copied()
    }
}

/// A position in one JSON text, read forward. Every reading method answers `None` when
/// what comes next is not what it reads, or is outside the subset (see the module
/// docs); the position is then unspecified and the caller gives up on this text.
#[derive(Debug, Clone)]
pub struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Scan<'a> {
        Scan { text, at: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte after whitespace (JSON's four kinds), without consuming it: what
    /// kind of value comes next (`"`, `{`, `[`, `n`, `t`, `f`, `-` or a digit).
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        // Compact JSON (what APIs and exporters write) has no whitespace between
        // tokens: one comparison says so.
        match bytes.get(self.at) {
            Some(&b) if b > b' ' => Some(b),
            _ => self.peek_past_whitespace(),
        }
    }

    #[cold]
    fn peek_past_whitespace(&mut self) -> Option<u8> {
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
        if self.bytes().get(self.at..)?.starts_with(word) {
            self.at += word.len();
            Some(())
        } else {
            None
        }
    }

    /// Passes over `text` if it is what comes next, byte for byte (no whitespace
    /// skipped before it): for a caller that reads a layout it knows a producer writes,
    /// e.g. `","value":{"`, and otherwise reads the general way from where it was.
    ///
    /// ```
    /// use aitrace_core::json::Scan;
    ///
    /// let mut s = Scan::new(r#"{"key":"k"}"#);
    /// assert_eq!(s.exactly(r#"{"key":"#), Some(()));
    /// assert_eq!(s.string().as_deref(), Some("k"));
    /// assert_eq!(s.exactly(" }"), None);
    /// assert_eq!(s.rest(), "}");
    /// ```
    pub fn exactly(&mut self, text: &str) -> Option<()> {
        self.literal(text.as_bytes())
    }

    /// What is left to read, as it is (whitespace included).
    ///
    /// ```
    /// let mut s = aitrace_core::json::Scan::new(r#""a"}}"#);
    /// assert_eq!(s.string().as_deref(), Some("a"));
    /// assert_eq!(s.rest(), "}}");
    /// ```
    pub fn rest(&self) -> &'a str {
        self.text.get(self.at..).unwrap_or_default()
    }

    /// Nothing but whitespace is left (`None` otherwise).
    pub fn end(mut self) -> Option<()> {
        (self.peek().is_none()).then_some(())
    }

    /// `null`.
    pub fn null(&mut self) -> Option<()> {
        if self.peek()? != b'n' {
            return None;
        }
        self.literal(b"null")
    }

    /// Consumes a `null` if that is what comes next, and says whether it did (`None`:
    /// something starting with `n` that is not `null`).
    pub fn opt_null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            Some(true)
        } else {
            Some(false)
        }
    }

    /// A string or `null` (serde's `Option<String>`).
    pub fn opt_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            b'"' => self.string().map(Some),
            _ => None,
        }
    }

    /// A string, decoded: borrowed when it has no escapes. `None` for an escape
    /// serde_json rejects, a `\u` escape of a surrogate (serde_json pairs them with
    /// rules of its own) and a control character.
    pub fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let bytes = self.bytes();
        let start = self.at;
        // The common case: no escape before the closing quote.
        let i = plain_run_end(bytes, start);
        match *bytes.get(i)? {
            b'"' => {
                self.at = i + 1;
                Some(Cow::Borrowed(&self.text[start..i]))
            }
            b'\\' => self.escaped_string(start, i).map(Cow::Owned),
            _ => None,
        }
    }

    /// The rest of a string from its first backslash, at `i`, decoded (kept out of
    /// [`Scan::string`], whose common case stays small).
    #[cold]
    fn escaped_string(&mut self, start: usize, mut i: usize) -> Option<String> {
        let bytes = self.bytes();
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
                    return Some(out);
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

    /// A non-negative integer that fits a `usize`, written as JSON writes integers (no
    /// sign, no leading zero, no fraction or exponent).
    pub fn index(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    /// A non-negative integer that fits a `u64`, as for [`Scan::index`].
    pub fn u64(&mut self) -> Option<u64> {
        self.peek()?;
        self.unsigned()
    }

    /// An integer, as serde_json reads an `i64`: `None` for what it would read
    /// otherwise or refuse (a fraction, an exponent, `-0`, which it reads as a float,
    /// and values out of range; `i64::MIN` too).
    pub fn i64(&mut self) -> Option<i64> {
        if self.peek()? == b'-' {
            self.at += 1;
            let n = self.unsigned()?;
            (1..=i64::MAX as u64).contains(&n).then(|| -(n as i64))
        } else {
            i64::try_from(self.unsigned()?).ok()
        }
    }

    /// A string holding an integer, read as `str::parse::<u64>` reads its text (as
    /// OTLP/JSON writes 64-bit integers): `None` where `parse` fails. Digits (an
    /// optional `+` first) between quotes are read in place; any other string is
    /// decoded first.
    ///
    /// ```
    /// use aitrace_core::json::Scan;
    ///
    /// assert_eq!(Scan::new(r#""1700000000992000000""#).string_u64(), Some(1_700_000_000_992_000_000));
    /// assert_eq!(Scan::new(r#""\u0031""#).string_u64(), Some(1));
    /// assert_eq!(Scan::new(r#""-1""#).string_u64(), None);
    /// ```
    pub fn string_u64(&mut self) -> Option<u64> {
        let start = self.at;
        match self.digits_in_quotes(false) {
            Some((false, n)) => Some(n),
            Some((true, _)) => None,
            None => {
                self.at = start;
                self.string()?.parse().ok()
            }
        }
    }

    /// A string holding an integer, read as `str::parse::<i64>` reads its text (see
    /// [`Scan::string_u64`]; a `-` or a `+` first is read in place too).
    ///
    /// ```
    /// use aitrace_core::json::Scan;
    ///
    /// assert_eq!(Scan::new(r#""-9223372036854775808""#).string_i64(), Some(i64::MIN));
    /// assert_eq!(Scan::new(r#""9223372036854775808""#).string_i64(), None);
    /// ```
    pub fn string_i64(&mut self) -> Option<i64> {
        let start = self.at;
        match self.digits_in_quotes(true) {
            Some((false, n)) => i64::try_from(n).ok(),
            Some((true, n)) if n <= i64::MIN.unsigned_abs() => Some(0i64.wrapping_sub_unsigned(n)),
            Some((true, _)) => None,
            None => {
                self.at = start;
                self.string()?.parse().ok()
            }
        }
    }

    /// `"` digits `"` with an optional sign (`+`, or `-` when `minus`), as (negative,
    /// magnitude); `None` for anything else (the caller reads the string then), a
    /// magnitude past `u64` included.
    #[inline]
    fn digits_in_quotes(&mut self, minus: bool) -> Option<(bool, u64)> {
        self.eat(b'"')?;
        let bytes = self.bytes();
        let negative = match bytes.get(self.at) {
            Some(b'+') => {
                self.at += 1;
                false
            }
            Some(b'-') if minus => {
                self.at += 1;
                true
            }
            _ => false,
        };
        let mut count = 0;
        let n = self.decimal_digits(0, &mut count)?;
        if count == 0 || bytes.get(self.at) != Some(&b'"') {
            return None;
        }
        self.at += 1;
        Some((negative, n))
    }

    /// `true` or `false`.
    pub fn boolean(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| true),
            b'f' => self.literal(b"false").map(|()| false),
            _ => None,
        }
    }

    /// A number, as a JSON reader that rounds correctly reads it into an `f64`, and as
    /// serde_json does: for the numbers where the two are sure to agree. An integer is
    /// read as a `u64` or `i64` and converted (as serde converts them); a decimal
    /// (fraction or exponent) only when its digits, as an integer, are below 2^53 and
    /// its power of ten is at most 22 either way: then one correctly rounded
    /// multiplication or division gives it, which is what serde_json computes there.
    /// `None` for any other number, and for a negative zero (`-0`, `-0.0`, `-0e5`),
    /// which serde_json and sonic-rs read with different signs.
    pub fn f64(&mut self) -> Option<f64> {
        // 10^0 ..= 10^22, each exact in an f64.
        const POW10: [f64; 23] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
            1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        ];
        let negative = self.peek()? == b'-';
        if negative {
            self.at += 1;
        }
        let bytes = self.bytes();
        let mut digits: u64 = 0;
        let mut exp10: i32 = 0;
        let mut decimal = false;
        match *bytes.get(self.at)? {
            b'0' => self.at += 1,
            b'1'..=b'9' => digits = self.decimal_digits(digits, &mut 0)?,
            _ => return None,
        }
        if bytes.get(self.at) == Some(&b'.') {
            decimal = true;
            self.at += 1;
            let mut count = 0;
            digits = self.decimal_digits(digits, &mut count)?;
            if count == 0 {
                return None;
            }
            exp10 = -count;
        }
        if let Some(b'e' | b'E') = bytes.get(self.at) {
            decimal = true;
            self.at += 1;
            let minus = match bytes.get(self.at) {
                Some(b'-') => {
                    self.at += 1;
                    true
                }
                Some(b'+') => {
                    self.at += 1;
                    false
                }
                _ => false,
            };
            let start = self.at;
            let mut e: i32 = 0;
            while let Some(d) = bytes.get(self.at).filter(|b| b.is_ascii_digit()) {
                e = e.checked_mul(10)?.checked_add(i32::from(d - b'0'))?;
                self.at += 1;
            }
            if self.at == start {
                return None;
            }
            exp10 = if minus {
                exp10.checked_sub(e)?
            } else {
                exp10.checked_add(e)?
            };
        }
        if let Some(b'0'..=b'9' | b'.' | b'e' | b'E') = bytes.get(self.at) {
            // A leading zero before digits, or a second fraction or exponent.
            return None;
        }
        if negative && digits == 0 {
            // Negative zero: serde_json reads -0 and -0.0 as -0.0, sonic-rs as 0.0.
            return None;
        }
        if !decimal {
            return match negative {
                false => Some(digits as f64),
                true => i64::try_from(digits).ok().map(|n| -n as f64),
            };
        }
        if digits >= 1 << 53 {
            return None;
        }
        let pow = *POW10.get(exp10.unsigned_abs() as usize)?;
        let f = digits as f64;
        let f = if exp10 >= 0 { f * pow } else { f / pow };
        Some(if negative { -f } else { f })
    }

    /// Decimal digits right here appended to `n`, counted into `count`: `None` when
    /// the number outgrows a `u64`.
    fn decimal_digits(&mut self, mut n: u64, count: &mut i32) -> Option<u64> {
        let bytes = self.bytes();
        while let Some(d) = bytes.get(self.at).filter(|b| b.is_ascii_digit()) {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            *count = count.checked_add(1)?;
            self.at += 1;
        }
        Some(n)
    }

    /// An integer or `null`, as serde_json reads an `Option<i64>`: `None` for what
    /// it would read otherwise or refuse (a fraction, an exponent, `-0`, which it
    /// reads as a float, and values out of range).
    pub fn opt_i64(&mut self) -> Option<Option<i64>> {
        if self.opt_null()? {
            Some(None)
        } else {
            self.i64().map(Some)
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
            n = self.decimal_digits(n, &mut 0)?;
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
    pub fn skip(&mut self, depth: usize) -> Option<()> {
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
    pub fn object(
        &mut self,
        depth: usize,
        field: impl FnMut(&mut Self, &str) -> Option<()>,
    ) -> Option<()> {
        // No key expected: each is decoded.
        self.object_in_order(depth, &Keys(&[]), field)
    }

    /// An object whose keys usually come in the order of `keys` (as a producer writes
    /// every object of a kind alike), `field` called with each key as [`Scan::object`]
    /// calls it. The key expected next (or the one after it, for a field left out) is
    /// compared with the text as it stands, which passes over a key in a few
    /// instructions instead of decoding it; any other key is decoded as
    /// [`Scan::object`] decodes it, and the expectation moves on from it. The keys read
    /// are the same either way: a key equal to one of `keys` byte for byte, between
    /// quotes, is that key.
    ///
    /// ```
    /// use aitrace_core::json::{Keys, Scan};
    ///
    /// const SPAN: Keys = Keys::new(&["traceId", "spanId", "name"]);
    /// for text in [
    ///     r#"{"traceId":"ab","spanId":"01","name":"chat"}"#,
    ///     r#"{"name":"chat","traceId":"ab"}"#,
    ///     r#"{"trace\u0049d":"ab", "spanId" : "01"}"#,
    /// ] {
    ///     let mut keys = Vec::new();
    ///     Scan::new(text)
    ///         .object_in_order(0, &SPAN, |s, key| {
    ///             keys.push(key.to_owned());
    ///             s.skip(1)
    ///         })
    ///         .expect("an object");
    ///     let mut read = Vec::new();
    ///     Scan::new(text)
    ///         .object(0, |s, key| {
    ///             read.push(key.to_owned());
    ///             s.skip(1)
    ///         })
    ///         .expect("an object");
    ///     assert_eq!(keys, read);
    /// }
    /// ```
    pub fn object_in_order(
        &mut self,
        depth: usize,
        keys: &Keys,
        mut field: impl FnMut(&mut Self, &str) -> Option<()>,
    ) -> Option<()> {
        let keys = keys.0;
        if depth >= MAX_DEPTH {
            return None;
        }
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        let mut next = 0;
        loop {
            match self.expected_key(keys, &mut next) {
                Some(key) => {
                    self.eat(b':')?;
                    field(self, key)?;
                }
                None => {
                    let key = self.string()?;
                    if let Some(i) = keys.iter().position(|k| **k == *key) {
                        next = i + 1;
                    }
                    self.eat(b':')?;
                    field(self, &key)?;
                }
            }
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

    /// `keys[next]` or `keys[next + 1]` if the text at the position is that key between
    /// quotes, passed over (and `next` moved past it).
    #[inline]
    fn expected_key(&mut self, keys: &[&'static str], next: &mut usize) -> Option<&'static str> {
        if keys.is_empty() {
            return None;
        }
        self.peek()?;
        let rest = self.bytes().get(self.at..)?;
        let (&b'"', rest) = rest.split_first()? else {
            return None;
        };
        // The key expected, then the one after it (a field left out). An index loop:
        // the iterator adaptors clippy suggests cost a tenth of a chat completion's read.
        #[allow(clippy::needless_range_loop)]
        for i in *next..keys.len().min(*next + 2) {
            let key = keys[i];
            let n = key.len();
            if rest.get(n) == Some(&b'"') && same_bytes(&rest[..n], key.as_bytes()) {
                self.at += n + 2;
                *next = i + 1;
                return Some(key);
            }
        }
        None
    }

    /// An array, `item` called to read each element.
    pub fn array(
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

/// `a == b` for two slices of the same length, eight bytes at a time (keys are short:
/// this beats a call to `memcmp`).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let word = |s: &[u8], i: usize| {
        s.get(i..i + 8)
            .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
    };
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a == b;
    }
    // Whole words, then the last word (overlapping the one before it).
    let mut i = 0;
    while i + 8 <= n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, n - 8) == word(b, n - 8)
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
///
/// ```
/// let mut seen = aitrace_core::json::Seen::default();
/// assert_eq!(seen.first(3), Some(()));
/// assert_eq!(seen.first(3), None);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Seen(u32);

impl Seen {
    /// Marks field number `n` (below 32) seen; `None` if it was already.
    pub fn first(&mut self, n: u32) -> Option<()> {
        let bit = 1 << n;
        if self.0 & bit != 0 {
            return None;
        }
        self.0 |= bit;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skips(text: &str) -> bool {
        let mut s = Scan::new(text);
        s.skip(0).is_some() && s.end().is_some()
    }

    /// Deterministic pseudo-random numbers (xorshift), so a failure names its input.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// What `object` reads of a text: the keys and their values' text, and whether it
    /// read the object.
    fn keys_read(text: &str, in_order: Option<&Keys>) -> (Vec<(String, String)>, bool) {
        let mut read = Vec::new();
        let mut s = Scan::new(text);
        let field = |s: &mut Scan<'_>, key: &str| {
            let start = s.at;
            s.skip(1)?;
            read.push((key.to_owned(), s.text[start..s.at].trim().to_owned()));
            Some(())
        };
        let ok = match in_order {
            Some(keys) => s.object_in_order(0, keys, field),
            None => s.object(0, field),
        };
        (read, ok.and_then(|()| s.end()).is_some())
    }

    #[test]
    fn objects_read_in_order_read_as_objects_read() {
        const KEYS: Keys = Keys::new(&["traceId", "spanId", "name", "kind", "k"]);
        const PIECES: &[&str] = &[
            "\"traceId\":",
            "\"spanId\":",
            "\"name\":",
            "\"kind\":",
            "\"k\":",
            "\"k\"",
            "\"kin\\u0064\":",
            "\"x\":",
            "\"traceId",
            "traceId\":",
            " ",
            ",",
            ":",
            "{",
            "}",
            "\"",
            "1",
            "\"v\"",
            "\u{1}",
            "\"name\u{1}\":",
        ];
        let seeds = [
            r#"{"traceId":"ab","spanId":"01","name":"chat","kind":3}"#,
            r#"{"spanId":"01","traceId":"ab","x":[1,{"k":2}],"k":null,"name":"a"}"#,
            r#"{ "traceId" : "ab" , "sp\u0061nId":"01","kind":1,"kind":2 }"#,
            r#"{"name":"only"}"#,
            "{}",
        ];
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let (mut read, mut tried) = (0, 0);
        for seed in seeds {
            assert_eq!(
                keys_read(seed, Some(&KEYS)),
                keys_read(seed, None),
                "{seed}"
            );
            for _ in 0..3000 {
                let mut text = seed.to_owned();
                for _ in 0..1 + rng.below(2) {
                    let at = rng.below(text.len() + 1);
                    if !text.is_char_boundary(at) {
                        continue;
                    }
                    if rng.below(3) == 0 {
                        let end = (at + 1 + rng.below(6)).min(text.len());
                        if text.is_char_boundary(end) {
                            text.replace_range(at..end, "");
                        }
                    } else {
                        text.insert_str(at, PIECES[rng.below(PIECES.len())]);
                    }
                }
                let ordered = keys_read(&text, Some(&KEYS));
                assert_eq!(ordered, keys_read(&text, None), "{text}");
                tried += 1;
                read += usize::from(ordered.1);
            }
        }
        // Both kinds of edit were made: some objects still read, some did not.
        assert!(read > tried / 10 && read < tried, "{read} of {tried} read");
    }

    #[test]
    fn integers_in_strings_read_as_str_parse_reads_them() {
        let texts = [
            "0",
            "7",
            "+7",
            "-7",
            "-0",
            "+",
            "-",
            "",
            "++1",
            "+-1",
            "007",
            " 1",
            "1 ",
            "1a",
            "\\u0031",
            "1\\u0032",
            "\\u002b5",
            "18446744073709551615",
            "18446744073709551616",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999999",
            "1.0",
            "1e3",
            "\\n",
        ];
        for t in texts {
            let json = format!("\"{t}\"");
            let decoded = serde_json::from_str::<String>(&json).ok();
            let u = Scan::new(&json).string_u64();
            let i = Scan::new(&json).string_i64();
            assert_eq!(
                u,
                decoded.as_ref().and_then(|d| d.parse().ok()),
                "u64 of {json}"
            );
            assert_eq!(
                i,
                decoded.as_ref().and_then(|d| d.parse().ok()),
                "i64 of {json}"
            );
            // The position after a read is after the string.
            let mut s = Scan::new(&json);
            if s.string_u64().is_some() {
                assert_eq!(s.rest(), "", "{json}");
            }
        }
        // Not a string at all.
        assert_eq!(Scan::new("12").string_u64(), None);
    }

    #[test]
    fn same_bytes_is_slice_equality() {
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..=base.len() {
            let a = &base[..n];
            assert!(same_bytes(a, a), "{n}");
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!same_bytes(a, &b), "{n} bytes, differing at {at}");
            }
            if n > 0 {
                assert!(!same_bytes(a, &a[1..]), "lengths differ");
            }
        }
    }

    #[test]
    #[should_panic(expected = "plain text")]
    fn expected_keys_are_plain_text() {
        let _ = Keys::new(&["traceId", "a\"b"]);
    }

    #[test]
    fn skipping_accepts_no_more_than_serde_json() {
        const PIECES: &[&str] = &[
            "\\", "\\n", "\\u0041", "\\ud83d", "\\x", "\"", " ", "\u{1}", "\u{7f}", "é", ",", ":",
            "{", "}", "[", "]", "0", "-", ".5", "e3", "null", "tru", "1", "\"x\":1,",
        ];
        let seeds = [
            r#"{"a":[1,-2.5e+3,0,true,false,null,"x\n\"\\\/\b\f\r\t\u00e9"],"b":{"c":{}}}"#,
            r#"[ {"k" : "v" } , [ ] , -0.0 , 1E9, 0.5e-2 ]"#,
            r#""a plain string past eight bytes""#,
            "12",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut accepted, mut tried) = (0, 0);
        for seed in seeds {
            for _ in 0..4000 {
                let mut text = seed.to_owned();
                for _ in 0..1 + rng.below(2) {
                    let mut at = rng.below(text.len() + 1);
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    if rng.below(3) == 0 && at < text.len() {
                        let mut end = at + 1;
                        while !text.is_char_boundary(end) {
                            end += 1;
                        }
                        text.replace_range(at..end, "");
                    } else {
                        text.insert_str(at, PIECES[rng.below(PIECES.len())]);
                    }
                }
                tried += 1;
                if skips(&text) {
                    accepted += 1;
                    assert!(
                        serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok(),
                        "accepted what serde_json rejects: {text:?}"
                    );
                }
            }
        }
        assert!(
            accepted * 10 > tried,
            "too few accepted: {accepted} of {tried}"
        );
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

    /// What the scanner reads of `text` as an `f64`, all of it.
    fn read_f64(text: &str) -> Option<f64> {
        let mut s = Scan::new(text);
        let x = s.f64()?;
        s.end().map(|()| x)
    }

    #[test]
    fn doubles_read_as_serde_json_and_a_correctly_rounding_reader_read_them() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut texts: Vec<String> = [
            "0",
            "-1",
            "3",
            "0.25",
            "-0.0",
            "0.0",
            "1.5e3",
            "2E-5",
            "6.3e-5",
            "0.000063",
            "0.1",
            "0.2",
            "0.30000000000000004",
            "9007199254740991.0",
            "123456789012.345678",
            "1e22",
            "1e-22",
            "4.9e-324",
            "1.7976931348623157e308",
            "18446744073709551615",
            "-9223372036854775807",
            "5e+0",
            "0e5",
        ]
        .iter()
        .map(|t| (*t).to_owned())
        .collect();
        for _ in 0..20_000 {
            // Shortest round-trip forms of arbitrary doubles, and short decimals.
            let bits = rng.next();
            let x = f64::from_bits(bits);
            if x.is_finite() {
                texts.push(format!("{x}"));
                texts.push(format!("{x:e}"));
            }
            let digits = rng.next() % 10u64.pow(1 + rng.below(17) as u32);
            let point = rng.below(20);
            let mut t = digits.to_string();
            if point < t.len() {
                t.insert(t.len() - point, '.');
                if t.starts_with('.') {
                    t.insert(0, '0');
                }
            }
            texts.push(t);
        }
        let mut read = 0;
        for text in &texts {
            let Some(ours) = read_f64(text) else {
                continue;
            };
            read += 1;
            let serde: f64 = serde_json::from_str(text).unwrap();
            let exact: f64 = text.parse().unwrap();
            assert_eq!(ours.to_bits(), serde.to_bits(), "{text} (serde_json)");
            assert_eq!(
                ours.to_bits(),
                exact.to_bits(),
                "{text} (correctly rounded)"
            );
        }
        // Most arbitrary doubles need 17 digits (left to serde); short decimals are read.
        assert!(read * 4 > texts.len(), "{read} of {} read", texts.len());
        for text in [
            "-0",
            "-0.0",
            "-0e5",
            "-0.000e-7",
            "01",
            "1.",
            ".5",
            "1e",
            "1e+",
            "1.5.2",
            "1e400",
            "+1",
            "1.0e1e1",
        ] {
            assert_eq!(read_f64(text), None, "{text}");
        }
    }

    #[test]
    fn booleans_and_nulls() {
        let mut s = Scan::new("[true, false, null, nul]");
        let mut got = Vec::new();
        let all = s.array(0, |s| {
            if s.opt_null()? {
                got.push(None);
            } else {
                got.push(Some(s.boolean()?));
            }
            Some(())
        });
        assert_eq!(all, None, "nul is not null");
        assert_eq!(got, [Some(true), Some(false), None]);
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(!skips(&deep));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(skips(&ok));
    }
}
