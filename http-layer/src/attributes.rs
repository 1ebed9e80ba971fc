//! Semantic-convention attribute values shared by the client and server spans.

use std::borrow::Cow;

use aitrace_core::conventions;
use aitrace_core::url::{redact_url, DEFAULT_SECRET_PARAMS};
use http::{Method, Version};
use opentelemetry::KeyValue;

/// The `http.request.method` value: the method when it is a known one, `_OTHER`
/// otherwise (then `http.request.method_original` keeps the real one). Also the name
/// part of the span: `HTTP` for unknown methods, as the conventions ask.
pub(crate) fn push_method(method: &Method, attributes: &mut Vec<KeyValue>) -> &'static str {
    let known = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => {
            attributes.push(KeyValue::new(conventions::HTTP_REQUEST_METHOD, "_OTHER"));
            attributes.push(KeyValue::new(
                conventions::HTTP_REQUEST_METHOD_ORIGINAL,
                method.as_str().to_owned(),
            ));
            return "HTTP";
        }
    };
    attributes.push(KeyValue::new(conventions::HTTP_REQUEST_METHOD, known));
    known
}

/// The `network.protocol.version` value.
pub(crate) fn protocol_version(version: Version) -> Option<&'static str> {
    match version {
        Version::HTTP_09 => Some("0.9"),
        Version::HTTP_10 => Some("1.0"),
        Version::HTTP_11 => Some("1.1"),
        Version::HTTP_2 => Some("2"),
        Version::HTTP_3 => Some("3"),
        _ => None,
    }
}

/// Splits `host[:port]` (and `[v6]:port`) as found in a `Host` header.
pub(crate) fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    // Userinfo never belongs in an address attribute.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (host, None),
        },
        _ => (authority, None),
    }
}

/// The default port of a scheme.
pub(crate) fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Query parameters whose values are redacted from recorded URLs.
#[derive(Debug, Clone, Default)]
pub(crate) enum SecretParams {
    /// [`DEFAULT_SECRET_PARAMS`].
    #[default]
    Default,
    /// A list of the user's.
    Custom(std::sync::Arc<[Cow<'static, str>]>),
}

impl SecretParams {
    pub(crate) fn custom<I, P>(params: I) -> SecretParams
    where
        I: IntoIterator<Item = P>,
        P: Into<Cow<'static, str>>,
    {
        SecretParams::Custom(params.into_iter().map(Into::into).collect())
    }

    /// The URL with credentials and secret query values redacted.
    pub(crate) fn redact_url(&self, url: &str) -> String {
        match self {
            SecretParams::Default => redact_url(url, DEFAULT_SECRET_PARAMS),
            SecretParams::Custom(params) => redact_url(url, params),
        }
    }

    /// A query string with secret values redacted.
    pub(crate) fn redact_query(&self, query: &str) -> String {
        match self {
            SecretParams::Default => aitrace_core::url::redact_query(query, DEFAULT_SECRET_PARAMS),
            SecretParams::Custom(params) => aitrace_core::url::redact_query(query, params),
        }
    }
}

/// An error description fit for a span status: the error and its sources, with every
/// URL in them redacted (reqwest puts the request URL in its messages), cut to a
/// bounded length.
pub(crate) fn describe_error(
    err: &(dyn std::error::Error + 'static),
    secrets: &SecretParams,
) -> String {
    let mut description = err.to_string();
    let mut source = err.source();
    let mut depth = 0;
    while let Some(s) = source {
        if depth >= 8 {
            break;
        }
        let text = s.to_string();
        if !description.contains(&text) {
            description.push_str(": ");
            description.push_str(&text);
        }
        source = s.source();
        depth += 1;
    }
    truncate(redact_value(&description, secrets))
}

/// `text` with each URL and query string in it redacted (core's
/// [`redact_urls_in_text`](aitrace_core::url::redact_urls_in_text) with these
/// parameters).
pub(crate) fn redact_urls_in_text(text: &str, secrets: &SecretParams) -> String {
    match secrets {
        SecretParams::Default => {
            aitrace_core::url::redact_urls_in_text(text, DEFAULT_SECRET_PARAMS)
        }
        SecretParams::Custom(params) => aitrace_core::url::redact_urls_in_text(text, params),
    }
}

/// A value as it may be recorded (an error description, a captured header): URLs and
/// query strings redacted with these parameters, then everything core redacts in any
/// recorded text ([`redact_text`](aitrace_core::content::redact_text): the default
/// parameters, keys, tokens, secret `name=value` pairs).
pub(crate) fn redact_value(text: &str, secrets: &SecretParams) -> String {
    let urls = redact_urls_in_text(text, secrets);
    aitrace_core::content::redact_text(&urls).into_owned()
}

/// Cuts a description to 1 KiB at a character boundary.
pub(crate) fn truncate(mut text: String) -> String {
    const MAX: usize = 1024;
    if text.len() > MAX {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_are_split() {
        assert_eq!(split_host_port("example.com"), ("example.com", None));
        assert_eq!(
            split_host_port("example.com:8080"),
            ("example.com", Some(8080))
        );
        assert_eq!(split_host_port("[::1]:3000"), ("::1", Some(3000)));
        assert_eq!(split_host_port("[::1]"), ("::1", None));
        assert_eq!(split_host_port("u:p@h:1"), ("h", Some(1)));
    }

    #[test]
    fn urls_in_error_text_are_redacted() {
        let text = "error sending request for url (http://u:p@h:1/x?key=abc&q=1): refused";
        assert_eq!(
            redact_urls_in_text(text, &SecretParams::Default),
            "error sending request for url (http://REDACTED:REDACTED@h:1/x?key=REDACTED&q=1): refused"
        );
        assert_eq!(
            redact_urls_in_text("no url", &SecretParams::Default),
            "no url"
        );
    }

    #[test]
    fn unknown_methods_become_other() {
        let mut attributes = Vec::new();
        let name = push_method(&Method::from_bytes(b"PURGE").unwrap(), &mut attributes);
        assert_eq!(name, "HTTP");
        assert_eq!(
            attributes,
            vec![
                KeyValue::new("http.request.method", "_OTHER"),
                KeyValue::new("http.request.method_original", "PURGE"),
            ]
        );
    }
}
