//! Which headers may be recorded: none by default; the ones you list with
//! `capture_request_headers`, minus credentials, which are never recorded.
//!
//! ```
//! use aitrace_http::headers::is_sensitive_header;
//!
//! assert!(is_sensitive_header("Authorization"));
//! assert!(is_sensitive_header("x-api-key"));
//! assert!(is_sensitive_header("x-goog-api-key"));
//! assert!(!is_sensitive_header("x-request-id"));
//! ```

use std::sync::Arc;

use http::header::{HeaderMap, HeaderName};
use opentelemetry::{Array, KeyValue, StringValue, Value};

use crate::attributes::{redact_value, SecretParams};

/// Headers that carry credentials, compared case-insensitively.
pub const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "ocp-apim-subscription-key",
    "x-amz-security-token",
    "x-auth-token",
];

/// Fragments that mark a header name as a credential (`x-my-api-key`,
/// `x-session-token`, ...), compared case-insensitively.
const SENSITIVE_FRAGMENTS: &[&str] = &[
    "auth",
    "key",
    "token",
    "secret",
    "password",
    "cookie",
    "session",
    "signature",
    "credential",
];

/// Whether a header carries credentials and so is never recorded: the names in
/// [`SENSITIVE_HEADERS`] and any name containing `auth`, `key`, `token`, `secret`,
/// `password`, `cookie`, `session`, `signature` or `credential`.
pub fn is_sensitive_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE_HEADERS.contains(&lower.as_str())
        || SENSITIVE_FRAGMENTS.iter().any(|f| lower.contains(f))
}

/// The request headers a layer records as `http.request.header.<name>` (string
/// arrays), with the sensitive ones already left out.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderCapture {
    /// `(header, attribute key)` pairs.
    headers: Arc<[(HeaderName, opentelemetry::Key)]>,
}

impl HeaderCapture {
    pub(crate) fn new<I, H>(names: I) -> HeaderCapture
    where
        I: IntoIterator<Item = H>,
        H: AsRef<str>,
    {
        let headers: Vec<(HeaderName, opentelemetry::Key)> = names
            .into_iter()
            .filter(|n| !is_sensitive_header(n.as_ref()))
            .filter_map(|n| HeaderName::from_bytes(n.as_ref().as_bytes()).ok())
            .map(|h| {
                let key = opentelemetry::Key::new(format!("http.request.header.{}", h.as_str()));
                (h, key)
            })
            .collect();
        HeaderCapture {
            headers: headers.into(),
        }
    }

    /// Adds the captured headers present in `map` to `attributes`, each value with its
    /// URLs, secret query values and keys redacted (a `Referer` carrying
    /// `?access_token=`, a custom header holding a key).
    pub(crate) fn record(
        &self,
        map: &HeaderMap,
        secrets: &SecretParams,
        attributes: &mut Vec<KeyValue>,
    ) {
        for (name, key) in self.headers.iter() {
            let values: Vec<StringValue> = map
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(|v| StringValue::from(redact_value(v, secrets)))
                .collect();
            if !values.is_empty() {
                attributes.push(KeyValue::new(
                    key.clone(),
                    Value::Array(Array::String(values)),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_never_captured() {
        let capture =
            HeaderCapture::new(["Authorization", "x-api-key", "x-request-id", "X-My-Token"]);
        let mut map = HeaderMap::new();
        map.insert("authorization", "Bearer sk-1".parse().unwrap());
        map.insert("x-api-key", "sk-2".parse().unwrap());
        map.insert("x-my-token", "t".parse().unwrap());
        map.insert("x-request-id", "r-1".parse().unwrap());
        let mut attributes = Vec::new();
        capture.record(&map, &SecretParams::Default, &mut attributes);
        assert_eq!(attributes.len(), 1);
        assert_eq!(
            attributes[0].key.as_str(),
            "http.request.header.x-request-id"
        );
    }

    #[test]
    fn captured_values_are_redacted() {
        let capture = HeaderCapture::new(["referer", "x-debug", "user-agent"]);
        let mut map = HeaderMap::new();
        map.insert(
            "referer",
            "https://app.example.com/cb?access_token=PLANTED1&state=ok"
                .parse()
                .unwrap(),
        );
        map.insert(
            "x-debug",
            "client secret=PLANTED2 jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"
                .parse()
                .unwrap(),
        );
        map.insert("user-agent", "curl/8.5".parse().unwrap());
        let mut attributes = Vec::new();
        capture.record(&map, &SecretParams::Default, &mut attributes);
        let text = format!("{attributes:?}");
        assert!(!text.contains("PLANTED"), "{text}");
        assert!(!text.contains("eyJ"), "{text}");
        assert!(text.contains("access_token=REDACTED&state=ok"), "{text}");
        assert!(text.contains("curl/8.5"), "{text}");
    }
}
