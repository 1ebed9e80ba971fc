//! URLs made safe to record: credentials removed, secret query values redacted.
//!
//! ```
//! use aitrace_core::url::{redact_url, DEFAULT_SECRET_PARAMS};
//!
//! let safe = redact_url("https://user:pw@api.example.com/v1/x?key=abc&q=cats#top", DEFAULT_SECRET_PARAMS);
//! assert_eq!(safe, "https://REDACTED:REDACTED@api.example.com/v1/x?key=REDACTED&q=cats");
//! ```

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

/// The URL with any `user:password@` replaced by `REDACTED:REDACTED@` (as the HTTP
/// conventions ask), the values of `secret_params` replaced by `REDACTED`, and the
/// fragment dropped. Text that is not a URL is returned with its query handled the same.
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
            out.push_str(path);
        }
        None => out.push_str(before_query),
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(&redact_query(query, secret_params));
    }
    out
}

/// A query string with the values of `secret_params` replaced by `REDACTED`.
pub fn redact_query<P: AsRef<str>>(query: &str, secret_params: &[P]) -> String {
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if is_secret_param(name, secret_params) => {
                out.push_str(name);
                out.push_str("=REDACTED");
            }
            _ => out.push_str(pair),
        }
    }
    out
}

fn is_secret_param<P: AsRef<str>>(name: &str, secret_params: &[P]) -> bool {
    secret_params
        .iter()
        .any(|p| p.as_ref().eq_ignore_ascii_case(name))
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
}
