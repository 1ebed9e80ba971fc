//! URLs made safe to record: credentials removed, secret query values redacted.
//!
//! A query parameter is secret when its name is in the list given (by default
//! [`DEFAULT_SECRET_PARAMS`]), when its name contains one of
//! [`SECRET_PARAM_FRAGMENTS`] (compared case-insensitively, with `-`, `_`, `.` and
//! percent-encoding ignored: `api_token`, `subscription-key`, `X-Amz-Credential`,
//! `openaiApiKey`), or when its value looks like a key (the
//! [`Redactor`](crate::content::Redactor)'s patterns: `sk-...`, a JWT, ...).
//!
//! ```
//! use aitrace_core::url::{redact_url, DEFAULT_SECRET_PARAMS};
//!
//! let safe = redact_url("https://user:pw@api.example.com/v1/x?key=abc&q=cats#top", DEFAULT_SECRET_PARAMS);
//! assert_eq!(safe, "https://REDACTED:REDACTED@api.example.com/v1/x?key=REDACTED&q=cats");
//! let safe = redact_url("https://h/x?subscription-key=abc&appid=42&q=sk-proj-abcdefghijklmnopqrst", DEFAULT_SECRET_PARAMS);
//! assert_eq!(safe, "https://h/x?subscription-key=REDACTED&appid=REDACTED&q=REDACTED");
//! ```

use std::borrow::Cow;

use crate::content::default_redactor;

/// Query parameters whose values are redacted by default (compared case-insensitively).
pub const DEFAULT_SECRET_PARAMS: &[&str] = &[
    "key",
    "api_key",
    "apikey",
    "api-key",
    "token",
    "access_token",
    "id_token",
    "refresh_token",
    "code",
    "secret",
    "client_secret",
    "password",
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "x-goog-credential",
    "awsaccesskeyid",
    "auth",
];

/// Parts of a query parameter's name that make it secret whatever list is given
/// (matched in the name lower-cased, with `-`, `_`, `.` and percent-encoding removed).
pub const SECRET_PARAM_FRAGMENTS: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "pwd",
    "signature",
    "auth",
    "credential",
    "session",
    "appid",
];

/// The text that replaces a secret in a URL (no brackets, which would need
/// percent-encoding).
pub const REDACTED_IN_URL: &str = "REDACTED";

/// The URL with any `user:password@` replaced by `REDACTED:REDACTED@` (as the HTTP
/// conventions ask), the values of secret query parameters (see the
/// [module docs](self)) replaced by `REDACTED`, keys in the path redacted, and the
/// fragment dropped. Text that is not a URL is returned with its query handled the
/// same.
pub fn redact_url<P: AsRef<str>>(url: &str, secret_params: &[P]) -> String {
    let url = url.split('#').next().unwrap_or(url);
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    match before_query.split_once("://") {
        Some((scheme, rest)) => {
            out.push_str(scheme);
            out.push_str("://");
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((_, host)) => {
                    out.push_str("REDACTED:REDACTED@");
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(&default_redactor().redact(path));
        }
        None => out.push_str(&default_redactor().redact(before_query)),
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(&redact_query(query, secret_params));
    }
    out
}

/// A query string with the values of secret parameters (see the [module docs](self))
/// replaced by `REDACTED`.
pub fn redact_query<P: AsRef<str>>(query: &str, secret_params: &[P]) -> String {
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, value))
                if is_secret_param(name, secret_params) || looks_like_key(value) =>
            {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED_IN_URL);
            }
            // A bare value (`?sk-...`) can be a key too.
            None if looks_like_key(pair) => out.push_str(REDACTED_IN_URL),
            _ => out.push_str(pair),
        }
    }
    out
}

/// Whether a query parameter of this name is secret: in `secret_params`
/// (case-insensitively) or containing one of [`SECRET_PARAM_FRAGMENTS`].
///
/// ```
/// use aitrace_core::url::{is_secret_param, DEFAULT_SECRET_PARAMS};
///
/// for name in ["api_token", "appid", "access_key", "subscription-key", "private_token",
///              "openai_api_key", "X-Amz-Credential", "clientSecret", "api%5Fkey"] {
///     assert!(is_secret_param(name, DEFAULT_SECRET_PARAMS), "{name}");
/// }
/// assert!(!is_secret_param("q", DEFAULT_SECRET_PARAMS));
/// assert!(!is_secret_param("units", DEFAULT_SECRET_PARAMS));
/// ```
pub fn is_secret_param<P: AsRef<str>>(name: &str, secret_params: &[P]) -> bool {
    if secret_params
        .iter()
        .any(|p| p.as_ref().eq_ignore_ascii_case(name))
    {
        return true;
    }
    // Most names are short: normalise on the stack.
    let mut buf = [0u8; 64];
    let normalized = normalize_param(name, &mut buf);
    SECRET_PARAM_FRAGMENTS
        .iter()
        .any(|f| normalized.windows(f.len()).any(|w| w == f.as_bytes()))
}

/// The name lower-cased, percent-decoded (ASCII), without separators, in `buf` (names
/// longer than it are cut: a secret fragment sits in the first 64 characters).
fn normalize_param<'b>(name: &str, buf: &'b mut [u8; 64]) -> &'b [u8] {
    let b = name.as_bytes();
    let mut len = 0;
    let mut i = 0;
    while i < b.len() && len < buf.len() {
        let mut c = b[i];
        if c == b'%' && i + 2 < b.len() {
            if let Some(decoded) = hex_pair(b[i + 1], b[i + 2]) {
                c = decoded;
                i += 2;
            }
        }
        i += 1;
        if c.is_ascii_alphanumeric() {
            buf[len] = c.to_ascii_lowercase();
            len += 1;
        }
    }
    &buf[..len]
}

fn hex_pair(hi: u8, lo: u8) -> Option<u8> {
    let digit = |c: u8| char::from(c).to_digit(16);
    let value = digit(hi)? * 16 + digit(lo)?;
    u8::try_from(value).ok().filter(u8::is_ascii)
}

/// Whether a query value holds something the redactor takes for a key.
fn looks_like_key(value: &str) -> bool {
    value.len() >= 8 && matches!(default_redactor().redact(value), Cow::Owned(_))
}

/// `text` with each URL in it (`scheme://...` up to a space, quote or bracket) and each
/// query string (`?name=value&...`) redacted as [`redact_url`] does. For error
/// messages and header values, which quote URLs.
///
/// ```
/// use aitrace_core::url::{redact_urls_in_text, DEFAULT_SECRET_PARAMS};
///
/// let text = "error sending request for url (http://u:p@h:1/x?key=abc&q=1): refused";
/// assert_eq!(
///     redact_urls_in_text(text, DEFAULT_SECRET_PARAMS),
///     "error sending request for url (http://REDACTED:REDACTED@h:1/x?key=REDACTED&q=1): refused"
/// );
/// assert_eq!(redact_urls_in_text("GET /v1/x?api_token=abc", DEFAULT_SECRET_PARAMS), "GET /v1/x?api_token=REDACTED");
/// ```
pub fn redact_urls_in_text<P: AsRef<str>>(text: &str, secret_params: &[P]) -> String {
    let text = if text.contains("://") {
        Cow::Owned(redact_full_urls(text, secret_params))
    } else {
        Cow::Borrowed(text)
    };
    if !text.contains('?') {
        return text.into_owned();
    }
    // Queries of URLs without a scheme (`/v1/x?key=...`), or whose scheme was missed.
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(at) = rest.find('?') {
        let end = rest[at + 1..]
            .find(ends_url)
            .map_or(rest.len(), |i| at + 1 + i);
        out.push_str(&rest[..=at]);
        out.push_str(&redact_query(&rest[at + 1..end], secret_params));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, ')' | '(' | '"' | '\'' | '<' | '>' | '`' | '#' | '\\')
}

fn redact_full_urls<P: AsRef<str>>(text: &str, secret_params: &[P]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme runs back from "://" over letters, digits, '+', '-', '.'.
        let scheme_start = rest[..at]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let end = rest[at..]
            .find(|c: char| c != '#' && ends_url(c))
            .map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..scheme_start]);
        // The query of a redacted URL is handled again by the caller: keep it whole
        // here (a fragment is dropped by `redact_url`).
        out.push_str(&redact_url(&rest[scheme_start..end], secret_params));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_and_secret_params() {
        let d = DEFAULT_SECRET_PARAMS;
        assert_eq!(
            redact_url("http://localhost:8080/a", d),
            "http://localhost:8080/a"
        );
        assert_eq!(
            redact_url("https://u@h/p?API_KEY=1&x=2&sig=3", d),
            "https://REDACTED:REDACTED@h/p?API_KEY=REDACTED&x=2&sig=REDACTED"
        );
        assert_eq!(
            redact_url("/v1/models?key=abc", d),
            "/v1/models?key=REDACTED"
        );
        assert_eq!(
            redact_url("https://h/p?flag&key", d),
            "https://h/p?flag&key"
        );
    }

    #[test]
    fn secret_names_are_found_by_their_parts_and_values_by_their_shape() {
        let d = DEFAULT_SECRET_PARAMS;
        for name in [
            "api_token",
            "appid",
            "access_key",
            "subscription-key",
            "private_token",
            "openai_api_key",
            "Private-Token",
            "accessToken",
            "X-Goog-Api-Key",
            "api%5Fkey",
            "sessionid",
        ] {
            let url = format!("https://h/p?{name}=PLANTED123&units=metric");
            assert_eq!(
                redact_url(&url, d),
                format!("https://h/p?{name}=REDACTED&units=metric"),
                "{name}"
            );
        }
        // A custom list still gets the fragments.
        assert_eq!(
            redact_url("https://h/p?my_token=1&x=2", &["x"]),
            "https://h/p?my_token=REDACTED&x=REDACTED"
        );
        // Values that look like keys, whatever the name; keys in the path.
        assert_eq!(
            redact_url(
                "https://h/v1/sk-proj-abcdefghijklmnopqrstu/x?q=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
                d
            ),
            "https://h/v1/[REDACTED]/x?q=REDACTED"
        );
        // Names that are not secret stay.
        assert_eq!(
            redact_url("https://h/p?q=cats&units=metric&page=2", d),
            "https://h/p?q=cats&units=metric&page=2"
        );
        let mut buf = [0; 64];
        assert_eq!(normalize_param("%", &mut buf), b"");
        assert_eq!(normalize_param("a%4", &mut buf), b"a4");
        assert_eq!(normalize_param("%e9x", &mut buf), b"e9x");
        assert_eq!(normalize_param("API%5fKEY", &mut buf), b"apikey");
    }

    #[test]
    fn urls_in_text_are_redacted() {
        let d = DEFAULT_SECRET_PARAMS;
        let text = "HTTP status client error (404 Not Found) for url (http://127.0.0.1:9/x?key=KEY123&q=1)";
        assert_eq!(
            redact_urls_in_text(text, d),
            "HTTP status client error (404 Not Found) for url (http://127.0.0.1:9/x?key=REDACTED&q=1)"
        );
        assert_eq!(
            redact_urls_in_text("see https://h/a#frag?token=x and /b?appid=7 now", d),
            "see https://h/a and /b?appid=REDACTED now"
        );
        assert_eq!(redact_urls_in_text("no url? none", d), "no url? none");
    }
}
