//! Content capture policy: whether prompts, completions and tool arguments are recorded,
//! how much of them, and with secrets redacted.
//!
//! Content is **not** captured by default. `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`
//! (`NO_CONTENT`, `SPAN_ONLY`, `EVENT_ONLY`, `SPAN_AND_EVENT`, or the legacy `true` /
//! `false`) or [`ContentPolicy::with_mode`] turns it on. Captured JSON is truncated to
//! [`Limits`] while staying valid JSON (what was cut is marked), and every string passes
//! the [`Redactor`].
//!
//! ```
//! use aitrace_core::content::{CaptureMode, ContentPolicy};
//! use serde_json::json;
//!
//! let policy = ContentPolicy::default();
//! assert_eq!(policy.mode(), CaptureMode::NoContent);
//! assert!(policy.capture_json(&json!({"q": "hi"})).is_none());
//!
//! let policy = ContentPolicy::default().with_mode(CaptureMode::SpanOnly);
//! let captured = policy
//!     .capture_json(&json!([{"role": "user", "content": "my key is sk-proj-abcdefghijklmnopqrstuvwx"}]))
//!     .unwrap();
//! assert!(!captured.contains("abcdefghijklmnop"));
//! assert!(captured.contains("[REDACTED]"));
//! ```

use std::borrow::Cow;

use serde_json::{Map, Value};

/// The environment variable the GenAI conventions use for content capture.
pub const CAPTURE_CONTENT_ENV: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";

/// Where captured content goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaptureMode {
    /// Nothing is captured (the default).
    #[default]
    NoContent,
    /// Content is recorded as span attributes.
    SpanOnly,
    /// Content is recorded as span events.
    EventOnly,
    /// Both.
    SpanAndEvent,
}

impl CaptureMode {
    /// Parses a value of [`CAPTURE_CONTENT_ENV`]; unknown values mean no content.
    pub fn parse(value: &str) -> CaptureMode {
        match value.trim().to_ascii_uppercase().as_str() {
            "SPAN_ONLY" | "TRUE" | "1" => CaptureMode::SpanOnly,
            "EVENT_ONLY" => CaptureMode::EventOnly,
            "SPAN_AND_EVENT" => CaptureMode::SpanAndEvent,
            _ => CaptureMode::NoContent,
        }
    }

    /// Reads [`CAPTURE_CONTENT_ENV`].
    pub fn from_env() -> CaptureMode {
        std::env::var(CAPTURE_CONTENT_ENV)
            .map(|v| CaptureMode::parse(&v))
            .unwrap_or_default()
    }

    /// Whether content goes on span attributes.
    pub const fn on_span(self) -> bool {
        matches!(self, CaptureMode::SpanOnly | CaptureMode::SpanAndEvent)
    }

    /// Whether content goes into span events.
    pub const fn on_events(self) -> bool {
        matches!(self, CaptureMode::EventOnly | CaptureMode::SpanAndEvent)
    }

    /// Whether anything is captured.
    pub const fn captures(self) -> bool {
        !matches!(self, CaptureMode::NoContent)
    }
}

/// How much of captured content is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest string kept, in bytes (cut at a character boundary).
    pub max_string_bytes: usize,
    /// Most items kept of an array (and entries of an object).
    pub max_list_len: usize,
    /// Deepest nesting kept.
    pub max_depth: usize,
    /// Bytes of string content kept over the whole value.
    pub max_total_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_string_bytes: 8 * 1024,
            max_list_len: 64,
            max_depth: 12,
            max_total_bytes: 64 * 1024,
        }
    }
}

/// What to record of content, and how.
#[derive(Debug, Clone, Default)]
pub struct ContentPolicy {
    mode: CaptureMode,
    limits: Limits,
    redactor: Redactor,
}

impl ContentPolicy {
    /// The policy from the environment: mode from [`CAPTURE_CONTENT_ENV`], default
    /// limits and redactor.
    pub fn from_env() -> ContentPolicy {
        ContentPolicy::default().with_mode(CaptureMode::from_env())
    }

    /// Sets the capture mode.
    pub fn with_mode(mut self, mode: CaptureMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the truncation limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the redactor.
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// The capture mode.
    pub fn mode(&self) -> CaptureMode {
        self.mode
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The redactor.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The value as it may be recorded (redacted, truncated, serialized), or `None`
    /// when the policy captures nothing.
    pub fn capture_json(&self, value: &Value) -> Option<String> {
        if !self.mode.captures() {
            return None;
        }
        Some(self.sanitize(value).to_string())
    }

    /// A text as it may be recorded, or `None` when nothing is captured.
    pub fn capture_text(&self, text: &str) -> Option<String> {
        if !self.mode.captures() {
            return None;
        }
        let redacted = self.redactor.redact(text);
        Some(truncate_str(&redacted, self.limits.max_string_bytes).into_owned())
    }

    /// Redacts and truncates a JSON value (whatever the mode).
    pub fn sanitize(&self, value: &Value) -> Value {
        let mut budget = self.limits.max_total_bytes;
        self.walk(value, 0, &mut budget)
    }

    fn walk(&self, value: &Value, depth: usize, budget: &mut usize) -> Value {
        match value {
            Value::String(s) => Value::String(self.string(s, budget)),
            Value::Array(items) => {
                if depth >= self.limits.max_depth {
                    return Value::String(format!("[truncated: {} items too deep]", items.len()));
                }
                let keep = items.len().min(self.limits.max_list_len);
                let mut out: Vec<Value> = items[..keep]
                    .iter()
                    .map(|v| self.walk(v, depth + 1, budget))
                    .collect();
                if keep < items.len() {
                    out.push(Value::String(format!(
                        "[truncated: {} more items]",
                        items.len() - keep
                    )));
                }
                Value::Array(out)
            }
            Value::Object(map) => {
                if depth >= self.limits.max_depth {
                    return Value::String(format!("[truncated: {} fields too deep]", map.len()));
                }
                let mut out = Map::new();
                for (i, (k, v)) in map.iter().enumerate() {
                    // Keys count against the byte budget too, so a huge object is cut.
                    if *budget == 0 {
                        out.insert(
                            "_truncated".to_owned(),
                            Value::String(format!("{} more fields", map.len() - i)),
                        );
                        break;
                    }
                    *budget = budget.saturating_sub(k.len());
                    let v = if self.redactor.is_secret_key(k) && !v.is_null() {
                        Value::String(REDACTED.to_owned())
                    } else {
                        self.walk(v, depth + 1, budget)
                    };
                    out.insert(k.clone(), v);
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }

    fn string(&self, s: &str, budget: &mut usize) -> String {
        let redacted = self.redactor.redact(s);
        let limit = self.limits.max_string_bytes.min(*budget);
        let kept = truncate_str(&redacted, limit);
        *budget = budget.saturating_sub(kept.len().min(limit));
        kept.into_owned()
    }
}

/// Cuts `s` to at most `max` bytes at a character boundary, marking what was cut.
fn truncate_str(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…[truncated {} bytes]", &s[..end], s.len() - end))
}

/// Longest error or panic message kept in a span status or event.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// The default [`Redactor`], built once.
pub(crate) fn default_redactor() -> &'static Redactor {
    static REDACTOR: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    REDACTOR.get_or_init(Redactor::default)
}

/// Text as it may be recorded anywhere (error messages, header values): every URL and
/// query string in it redacted ([`redact_urls_in_text`](crate::url::redact_urls_in_text)
/// with the default parameters), then every secret (the default [`Redactor`]).
/// Borrowed when nothing was found.
///
/// ```
/// use aitrace_core::content::redact_text;
///
/// assert_eq!(
///     redact_text("GET https://h/x?key=abc failed; accessToken=xyz"),
///     "GET https://h/x?key=REDACTED failed; accessToken=[REDACTED]"
/// );
/// ```
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let urls = if text.contains("://") || text.contains('?') {
        let redacted = crate::url::redact_urls_in_text(text, crate::url::DEFAULT_SECRET_PARAMS);
        (redacted != text).then_some(redacted)
    } else {
        None
    };
    let current = urls.as_deref().unwrap_or(text);
    match default_redactor().redact(current) {
        Cow::Owned(s) => Cow::Owned(s),
        Cow::Borrowed(_) => match urls {
            Some(s) => Cow::Owned(s),
            None => Cow::Borrowed(text),
        },
    }
}

/// `text` redacted ([`redact_text`]), then cut to at most `max_chars` characters, marked
/// with `…`. Redaction comes first, so a key straddling the cut is never half kept; and
/// the cut never ends inside a run of key-like characters (letters, digits, `-_.~+/=`):
/// such a run is dropped whole, so what is left can never be the start of a key.
///
/// ```
/// use aitrace_core::content::redact_then_truncate;
///
/// // Cut first, `sk-proj-PLANTED` would be kept; redacted first, nothing of the key is.
/// let body = format!("{} sk-proj-PLANTEDabcdefghijklmnop", "x".repeat(20));
/// assert_eq!(redact_then_truncate(&body, 36), format!("{} [REDACTED]", "x".repeat(20)));
/// assert_eq!(redact_then_truncate("abc def ghijklmnop", 10), "abc def …");
/// assert_eq!(redact_then_truncate("short", 10), "short");
/// ```
pub fn redact_then_truncate(text: &str, max_chars: usize) -> String {
    let redacted = redact_text(text);
    match redacted.char_indices().nth(max_chars) {
        None => redacted.into_owned(),
        Some((end, _)) => cut_outside_token(&redacted, end),
    }
}

/// `text[..end]` and `…`, with `end` moved back to the start of a run of token bytes
/// the cut would split.
fn cut_outside_token(text: &str, mut end: usize) -> String {
    let b = text.as_bytes();
    if end < b.len() && end > 0 && is_bearer_byte(b[end]) && is_bearer_byte(b[end - 1]) {
        end = b[..end]
            .iter()
            .rposition(|&c| !is_bearer_byte(c))
            .map_or(0, |p| p + 1);
    }
    format!("{}…", &text[..end])
}

/// An error or panic message as it may be recorded: URLs and secrets redacted
/// ([`redact_text`]), cut to [`MAX_MESSAGE_BYTES`] at a character boundary (and never
/// inside a key-like run, see [`redact_then_truncate`]).
///
/// ```
/// use aitrace_core::content::safe_message;
///
/// assert_eq!(safe_message("bad key sk-proj-abcdefghijklmnopqrstuvwx"), "bad key [REDACTED]");
/// assert_eq!(
///     safe_message("error sending request for url (http://h:1/v1?key=abc)"),
///     "error sending request for url (http://h:1/v1?key=REDACTED)"
/// );
/// assert!(safe_message(&"é".repeat(2_000)).ends_with('…'));
/// ```
pub fn safe_message(message: &str) -> String {
    let redacted = redact_text(message);
    if redacted.len() <= MAX_MESSAGE_BYTES {
        return redacted.into_owned();
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !redacted.is_char_boundary(end) {
        end -= 1;
    }
    cut_outside_token(&redacted, end)
}

/// The text that replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Finds and replaces secrets in text: provider API keys (OpenAI `sk-`, Anthropic
/// `sk-ant-`, Google `AIza`, Groq `gsk_`, xAI `xai-`, GitHub, Slack, Hugging Face,
/// Langfuse), AWS access key ids, JWTs (`eyJ...`), `Bearer`/`Basic` credentials, and
/// the values of secret names (`password=...`, `"apiKey": "..."`), plus literal secrets
/// you add.
///
/// A name is secret when it is one of a list (`password`, `api_key`, `authorization`,
/// ...) or ends in a secret word (`..._token`, `..._secret`, `..._password`, `api_key`,
/// `private_key`, ...), compared after normalising camelCase, kebab-case and
/// snake_case alike (`accessToken`, `access-token` and `ACCESS_TOKEN` are one name).
///
/// It reads text as it travels, JSON-encoded included: a secret after an escaped
/// `\n`, or a `\"password\": \"...\"` pair inside a JSON string that holds JSON (as agents
/// send tool results back), is found too.
///
/// Written by hand rather than with a regex engine: it is a single pass over the bytes,
/// it runs on every captured string, and it keeps the regex crate out of every build.
///
/// ```
/// use aitrace_core::content::Redactor;
///
/// let r = Redactor::default().with_secret("hunter2");
/// assert_eq!(r.redact("Authorization: Bearer abc.def.ghi123"), "Authorization: Bearer [REDACTED]");
/// assert_eq!(r.redact("password=hunter2&user=bob"), "password=[REDACTED]&user=bob");
/// assert_eq!(r.redact("the key AKIAIOSFODNN7EXAMPLE"), "the key [REDACTED]");
/// assert_eq!(r.redact("my pin is hunter2"), "my pin is [REDACTED]");
/// assert_eq!(r.redact(r#"{"clientSecret": "abc123"}"#), r#"{"clientSecret": "[REDACTED]"}"#);
/// assert_eq!(r.redact(r#"{\"refresh-token\": \"abc123\"}"#), r#"{\"refresh-token\": \"[REDACTED]\"}"#);
/// assert_eq!(r.redact(r"line one\nsk-proj-abcdefghijklmnopqrst"), r"line one\n[REDACTED]");
/// assert_eq!(r.redact("id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"), "id [REDACTED]");
/// ```
#[derive(Debug, Clone)]
pub struct Redactor {
    literals: Vec<String>,
    secret_keys: Vec<String>,
}

/// Token prefixes and the least number of token characters after them.
const TOKEN_PREFIXES: &[(&str, usize)] = &[
    ("sk-", 16),
    ("AIza", 30),
    ("gsk_", 20),
    ("xai-", 20),
    ("ghp_", 20),
    ("gho_", 20),
    ("ghs_", 20),
    ("github_pat_", 20),
    ("xoxb-", 10),
    ("xoxp-", 10),
    ("hf_", 20),
    ("pk-lf-", 16),
    ("sk-lf-", 16),
];

/// First bytes of the patterns that start with a fixed text (a quick filter).
fn may_start_pattern(b: u8) -> bool {
    matches!(
        b,
        b's' | b'A' | b'g' | b'x' | b'h' | b'p' | b'e' | b'b' | b'B'
    )
}

/// Key names whose values are secrets (normalised: snake_case, lower case).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "x_api_key",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "auth_token",
    "authorization",
    "private_key",
    "aws_secret_access_key",
    "secret_access_key",
    "session_token",
    "x_goog_api_key",
];

/// Last words that make a name secret (`github_token`, `db_password`, `appSecret`).
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "credential",
    "credentials",
    "authorization",
];

/// Words that make a following `key` secret (`api_key`, `privateKey`, `access-key`).
const SECRET_KEY_QUALIFIERS: &[&str] = &[
    "api",
    "access",
    "secret",
    "private",
    "subscription",
    "account",
    "signing",
    "master",
    "encryption",
    "client",
    "auth",
    "license",
];

/// Whether a normalised name (snake_case) is secret by its words.
fn is_secret_name(name: &str) -> bool {
    let mut words = name.rsplit('_').filter(|w| !w.is_empty());
    let Some(last) = words.next() else {
        return false;
    };
    if SECRET_WORDS.contains(&last) {
        return true;
    }
    matches!(last, "key" | "keys")
        && words
            .next()
            .is_some_and(|w| SECRET_KEY_QUALIFIERS.contains(&w))
}

impl Default for Redactor {
    fn default() -> Redactor {
        Redactor {
            literals: Vec::new(),
            secret_keys: SECRET_KEYS.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_bearer_byte(b: u8) -> bool {
    is_token_byte(b) || matches!(b, b'.' | b'~' | b'+' | b'/' | b'=')
}

/// Whether a word starts at `i`: at the start, after a byte that is not part of a
/// token, or right after a JSON escape seen undecoded (`\n`, `\t`, `\r`, `\b`, `\f`,
/// `\u00XX`), whose letter would otherwise glue onto the word.
#[inline]
fn at_word_start(b: &[u8], i: usize) -> bool {
    if i == 0 || !is_token_byte(b[i - 1]) {
        return true;
    }
    (i >= 2 && b[i - 2] == b'\\' && matches!(b[i - 1], b'n' | b't' | b'r' | b'b' | b'f'))
        || (i >= 6
            && b[i - 6] == b'\\'
            && b[i - 5] == b'u'
            && b[i - 4..i].iter().all(u8::is_ascii_hexdigit))
}

/// Backslashes at the start of `b`.
fn backslashes(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| c == b'\\').count()
}

impl Redactor {
    /// Also redacts this exact text wherever it appears (ignored when shorter than 4
    /// bytes, which would redact ordinary words).
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        let secret = secret.into();
        if secret.len() >= 4 {
            self.literals.push(secret);
        }
        self
    }

    /// Also treats values of this key (`key=value`, `"key": "value"`) as secrets.
    pub fn with_secret_key(mut self, key: &str) -> Self {
        self.secret_keys.push(normalize_key(key));
        self
    }

    /// Whether values under this key name are secrets (see the [type docs](Redactor)).
    ///
    /// ```
    /// use aitrace_core::content::Redactor;
    ///
    /// let r = Redactor::default();
    /// for key in ["accessToken", "refresh-token", "clientSecret", "privateKey", "OPENAI_API_KEY", "db.password"] {
    ///     assert!(r.is_secret_key(key), "{key}");
    /// }
    /// assert!(!r.is_secret_key("max_tokens"));
    /// assert!(!r.is_secret_key("monkey"));
    /// ```
    pub fn is_secret_key(&self, key: &str) -> bool {
        let k = normalize_key(key);
        self.secret_keys.contains(&k) || is_secret_name(&k)
    }

    /// The text with every secret replaced by [`REDACTED`]; borrowed when clean.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out: Option<String> = None;
        let mut current: &str = text;
        for literal in &self.literals {
            if current.contains(literal.as_str()) {
                out = Some(current.replace(literal.as_str(), REDACTED));
                current = out.as_deref().unwrap_or(text);
            }
        }
        match self.redact_patterns(current) {
            Some(replaced) => Cow::Owned(replaced),
            None => match out {
                Some(s) => Cow::Owned(s),
                None => Cow::Borrowed(text),
            },
        }
    }

    /// One pass over the bytes; `None` when nothing matched.
    fn redact_patterns(&self, text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let mut out = String::new();
        let mut copied = 0; // bytes of `text` already moved to `out`
        let mut i = 0;
        while i < bytes.len() {
            if at_word_start(bytes, i) {
                if let Some((keep, end)) = self.match_at(bytes, i) {
                    out.push_str(&text[copied..i + keep]);
                    out.push_str(REDACTED);
                    copied = end;
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        if copied == 0 {
            return None;
        }
        out.push_str(&text[copied..]);
        Some(out)
    }

    /// A secret starting at word start `i`: `(bytes to keep before the secret, end of
    /// secret)`.
    fn match_at(&self, b: &[u8], i: usize) -> Option<(usize, usize)> {
        let rest = &b[i..];
        if !is_token_byte(rest[0]) {
            return None;
        }
        if may_start_pattern(rest[0]) {
            if let Some((keep, end)) = match_fixed(rest) {
                return Some((keep, i + end));
            }
        }
        // key=value, key: value, "key": "value"
        if let Some(m) = self.match_pair(rest) {
            return Some((m.0, i + m.1));
        }
        None
    }

    fn match_pair(&self, rest: &[u8]) -> Option<(usize, usize)> {
        let key_len = rest.iter().take_while(|&&c| is_token_byte(c)).count();
        if key_len == 0 {
            return None;
        }
        // The separator first (cheap), the key's name only then.
        let mut j = key_len;
        // The key's closing quote, escaped inside an encoded JSON string (`\"`).
        let escapes = backslashes(&rest[j..]);
        if matches!(rest.get(j + escapes), Some(b'"' | b'\'')) {
            j += escapes + 1;
        }
        while rest.get(j) == Some(&b' ') {
            j += 1;
        }
        if !matches!(rest.get(j), Some(b'=') | Some(b':')) {
            return None;
        }
        // Token bytes are ASCII.
        let key = std::str::from_utf8(&rest[..key_len]).ok()?;
        if !self.is_secret_key(key) {
            return None;
        }
        j += 1;
        while rest.get(j) == Some(&b' ') {
            j += 1;
        }
        let escapes = backslashes(&rest[j..]);
        let quote = match rest.get(j + escapes) {
            Some(&q @ (b'"' | b'\'')) => {
                j += escapes + 1;
                Some(q)
            }
            _ => None,
        };
        let value = &rest[j..];
        let value_len = match quote {
            Some(q) if escapes == 0 => value
                .iter()
                .enumerate()
                .find(|&(k, &c)| c == q && (k == 0 || value[k - 1] != b'\\'))
                .map_or(value.len(), |(k, _)| k),
            // Inside an encoded string the closing quote is escaped too: the value ends
            // at the next quote, without the backslashes escaping it.
            Some(q) => {
                let mut end = value.iter().position(|&c| c == q).unwrap_or(value.len());
                while end > 0 && value[end - 1] == b'\\' {
                    end -= 1;
                }
                end
            }
            None => value
                .iter()
                .enumerate()
                .take_while(|&(k, &c)| {
                    let escaped_break =
                        c == b'\\' && matches!(value.get(k + 1), Some(b'n' | b'r' | b't' | b'"'));
                    // An escaped newline, tab or quote ends it too.
                    !(c.is_ascii_whitespace()
                        || matches!(c, b'&' | b',' | b';' | b'}' | b']' | b'"')
                        || escaped_break)
                })
                .count(),
        };
        if value_len == 0 {
            return None;
        }
        // `Authorization: Bearer <token>`: leave the scheme, the token rule takes it.
        let found = &value[..value_len];
        if quote.is_none()
            && (found.eq_ignore_ascii_case(b"bearer") || found.eq_ignore_ascii_case(b"basic"))
        {
            return None;
        }
        // Already redacted (e.g. a Bearer token inside `authorization: ...`, or a URL's
        // `key=REDACTED`).
        if value.starts_with(REDACTED.as_bytes()) || found == crate::url::REDACTED_IN_URL.as_bytes()
        {
            return None;
        }
        Some((j, j + value_len))
    }
}

/// The patterns with a fixed start: provider keys, AWS key ids, JWTs, `Bearer` and
/// `Basic` credentials: `(bytes kept before the secret, end of the secret)`.
fn match_fixed(rest: &[u8]) -> Option<(usize, usize)> {
    for (prefix, min) in TOKEN_PREFIXES {
        if rest.starts_with(prefix.as_bytes()) {
            let len = rest[prefix.len()..]
                .iter()
                .take_while(|&&c| is_token_byte(c))
                .count();
            if len >= *min {
                return Some((0, prefix.len() + len));
            }
        }
    }
    // AWS access key ids: AKIA/ASIA + 16 upper-case letters or digits.
    if (rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA")) && rest.len() >= 20 {
        let id = &rest[4..20];
        let ends = rest.get(20).is_none_or(|&c| !is_token_byte(c));
        if ends
            && id
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Some((0, 20));
        }
    }
    // JWTs: a base64url JSON header (`eyJ`), a dot, a payload, maybe a signature.
    if rest.starts_with(b"eyJ") {
        let mut len = rest
            .iter()
            .take_while(|&&c| is_token_byte(c) || c == b'.' || c == b'=')
            .count();
        while len > 0 && rest[len - 1] == b'.' {
            len -= 1;
        }
        let token = &rest[..len];
        if let Some(dot) = token.iter().position(|&c| c == b'.') {
            if dot >= 10 && len - dot > 4 {
                return Some((0, len));
            }
        }
    }
    // Bearer / Basic credentials.
    for scheme in ["bearer ", "basic "] {
        if rest.len() > scheme.len() && rest[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
        {
            let start = scheme.len()
                + rest[scheme.len()..]
                    .iter()
                    .take_while(|&&c| c == b' ')
                    .count();
            let len = rest[start..]
                .iter()
                .take_while(|&&c| is_bearer_byte(c))
                .count();
            if len >= 8 {
                return Some((start, start + len));
            }
        }
    }
    None
}

fn normalize_key(key: &str) -> String {
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    let mut out = String::with_capacity(key.len() + 4);
    let mut prev: Option<char> = None;
    for (i, c) in key.char_indices() {
        if c.is_ascii_uppercase() {
            // camelCase and PascalCase words: `accessToken`, `APIKey`.
            let next_lower = key[i + 1..]
                .chars()
                .next()
                .is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next_lower)
            }) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if matches!(c, '-' | '.' | ' ') {
            out.push('_');
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modes_parse() {
        assert_eq!(CaptureMode::parse("SPAN_ONLY"), CaptureMode::SpanOnly);
        assert_eq!(CaptureMode::parse("event_only"), CaptureMode::EventOnly);
        assert_eq!(
            CaptureMode::parse("SPAN_AND_EVENT"),
            CaptureMode::SpanAndEvent
        );
        assert_eq!(CaptureMode::parse("true"), CaptureMode::SpanOnly);
        assert_eq!(CaptureMode::parse("false"), CaptureMode::NoContent);
        assert_eq!(CaptureMode::parse("bogus"), CaptureMode::NoContent);
    }

    #[test]
    fn planted_secrets_are_redacted() {
        let r = Redactor::default();
        let planted = [
            "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
            "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-xyz",
            "AIzaSyA-1234567890abcdefghijklmnopqrstu",
            "gsk_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123",
            "AKIAIOSFODNN7EXAMPLE",
            "xai-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123",
        ];
        for secret in planted {
            let text = format!("before {secret} after");
            let out = r.redact(&text);
            assert_eq!(out, "before [REDACTED] after", "{secret}");
        }
        let out = r.redact(r#"{"api_key": "s3cr3t-value", "model": "x"}"#);
        assert_eq!(out, r#"{"api_key": "[REDACTED]", "model": "x"}"#);
        let out = r.redact("Authorization: Bearer eyJhbGciOi.J9.sig");
        assert_eq!(out, "Authorization: Bearer [REDACTED]");
        assert_eq!(r.redact("a task-list"), "a task-list");
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn secret_names_are_recognised_in_any_case_style() {
        let r = Redactor::default();
        for key in [
            "accessToken",
            "refreshToken",
            "clientSecret",
            "privateKey",
            "access-token",
            "ACCESS_TOKEN",
            "x-api-key",
            "APIKey",
            "githubToken",
            "db_password",
            "openai_api_key",
            "subscriptionKey",
        ] {
            assert!(r.is_secret_key(key), "{key}");
            let text = format!(
                r#"{{"{key}": "PLANTEDvalue1", "{key}":"PLANTEDvalue2"}} {key}=PLANTEDvalue3"#
            );
            let out = r.redact(&text);
            assert!(!out.contains("PLANTED"), "{key}: {out}");
        }
        for key in [
            "max_tokens",
            "input_tokens",
            "monkey",
            "keyboard",
            "token_count",
            "model",
        ] {
            assert!(!r.is_secret_key(key), "{key}");
        }
        assert_eq!(normalize_key("APIKey"), "api_key");
        assert_eq!(normalize_key("clientSecret"), "client_secret");
        assert_eq!(normalize_key("X-Goog-Api-Key"), "x_goog_api_key");
    }

    #[test]
    fn secrets_are_found_through_json_escaping() {
        let r = Redactor::default();
        // A JSON string holding JSON (a tool result sent back as the `tool` message),
        // seen once decoded and seen raw.
        let inner =
            json!({"password": "PLANTEDpw1", "clientSecret": "PLANTEDcs1", "n": 1}).to_string();
        let once = json!({"content": inner}).to_string();
        let twice = json!({"content": once.clone()}).to_string();
        for text in [inner.as_str(), once.as_str(), twice.as_str()] {
            let out = r.redact(text);
            assert!(!out.contains("PLANTED"), "{text} -> {out}");
            assert!(out.contains("\"n") || out.contains("\"n\""), "{out}");
        }
        // Keys after an escaped newline, tab or \u escape.
        for text in [
            r"first line\npassword=PLANTEDpw2",
            r"first\tsk-proj-PLANTEDabcdefghijklmnop",
            r"a\u000aapi_key: PLANTEDak1",
            r"log\nAuthorization: Bearer PLANTEDbearer1",
            r"x\nAKIAPLANTEDKEY123456",
        ] {
            let out = r.redact(text);
            assert!(!out.contains("PLANTED"), "{text} -> {out}");
        }
        // An escaped value keeps its escapes and the text after it.
        assert_eq!(
            r.redact(r#"{\"token\": \"PLANTED\", \"model\": \"gpt\"}"#),
            r#"{\"token\": \"[REDACTED]\", \"model\": \"gpt\"}"#
        );
        assert_eq!(
            r.redact(r"password=PLANTED\nnext"),
            r"password=[REDACTED]\nnext"
        );
        // Sanitized JSON: the escaped pair inside a string is redacted and it stays JSON.
        let policy = ContentPolicy::default().with_mode(CaptureMode::SpanOnly);
        let captured = policy
            .capture_json(&json!([{"role": "tool", "content": once}]))
            .unwrap();
        assert!(!captured.contains("PLANTED"), "{captured}");
        serde_json::from_str::<Value>(&captured).expect("still JSON");
    }

    #[test]
    fn bare_jwts_are_redacted() {
        let r = Redactor::default();
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJQTEFOVEVEIn0.c2lnbmF0dXJlMDEyMzQ1";
        assert_eq!(r.redact(&format!("token {jwt}.")), "token [REDACTED].");
        assert_eq!(r.redact(jwt), "[REDACTED]");
        // Unsigned (`alg: none`) and five-part (JWE) tokens too.
        assert_eq!(
            r.redact("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."),
            "[REDACTED]."
        );
        assert_eq!(
            r.redact("eyJhbGciOiJSU0EifQ.a2V5a2V5.aXZpdg.Y2lwaGVy.dGFn"),
            "[REDACTED]"
        );
        // Not a JWT.
        assert_eq!(r.redact("eyJ is a prefix"), "eyJ is a prefix");
        assert_eq!(
            r.redact("eyJhbGciOiJIUzI1NiJ9 alone"),
            "eyJhbGciOiJIUzI1NiJ9 alone"
        );
    }

    #[test]
    fn truncation_never_keeps_part_of_a_key() {
        // The key straddles the cut: redacted first, so nothing of it is kept.
        let body = format!("{}sk-proj-PLANTEDabcdefghijklmnop rest", "e ".repeat(124));
        let out = redact_then_truncate(&body, 256);
        assert!(!out.contains("PLANT"), "{out}");
        assert!(!out.contains("sk-"), "{out}");
        // A key-like run the redactor does not know, cut: dropped whole.
        let body = format!("{} sk-proj-PLANT", "e".repeat(250));
        let out = redact_then_truncate(&body, 256);
        assert_eq!(out, format!("{} …", "e".repeat(250)));
        // Characters, not bytes.
        assert_eq!(
            redact_then_truncate(&"é".repeat(300), 256).chars().count(),
            257
        );
        assert_eq!(
            safe_message(&format!("{}{}", " ".repeat(1020), "abcdefghij")),
            format!("{}…", " ".repeat(1020))
        );
    }

    #[test]
    fn truncation_keeps_json_valid_and_marks_cuts() {
        let policy = |limits| {
            ContentPolicy::default()
                .with_mode(CaptureMode::SpanOnly)
                .with_limits(limits)
        };
        let base = Limits::default();
        let parse = |p: &ContentPolicy, v: &Value| -> Value {
            serde_json::from_str(&p.capture_json(v).unwrap()).expect("still JSON")
        };

        // Strings are cut at a character boundary, with a marker.
        let p = policy(Limits {
            max_string_bytes: 11,
            ..base
        });
        let back = parse(&p, &json!({"text": "é".repeat(20)}));
        assert_eq!(back["text"], "ééééé…[truncated 30 bytes]");

        // Lists keep their first items and say how many were cut.
        let p = policy(Limits {
            max_list_len: 2,
            ..base
        });
        assert_eq!(
            parse(&p, &json!([1, 2, 3, 4])),
            json!([1, 2, "[truncated: 2 more items]"])
        );

        // Depth is bounded.
        let p = policy(Limits {
            max_depth: 2,
            ..base
        });
        let back = parse(&p, &json!({"a": {"b": {"c": 1}}}));
        assert_eq!(back["a"]["b"], "[truncated: 1 fields too deep]");

        // The total budget bounds many small strings and many keys.
        let p = policy(Limits {
            max_total_bytes: 100,
            ..base
        });
        let many: Vec<String> = (0..50).map(|i| format!("item-{i:04}")).collect();
        let back = parse(&p, &json!(many));
        let kept: usize = back
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().len())
            .sum();
        assert!(kept < 100 + 50 * 25, "{kept}");
        assert!(back[49].as_str().unwrap().starts_with("…[truncated"));
        let wide: Map<String, Value> = (0..1000)
            .map(|i| (format!("key{i:04}"), json!(i)))
            .collect();
        let back = parse(&p, &Value::Object(wide));
        assert!(back.as_object().unwrap().len() < 20);
        assert!(back["_truncated"]
            .as_str()
            .unwrap()
            .ends_with("more fields"));

        // Secret keys are redacted whatever their value.
        let p = policy(base);
        let back = parse(
            &p,
            &json!({"password": "hunter2", "api-key": 42, "user": "bob"}),
        );
        assert_eq!(
            back,
            json!({"password": "[REDACTED]", "api-key": "[REDACTED]", "user": "bob"})
        );
    }
}
