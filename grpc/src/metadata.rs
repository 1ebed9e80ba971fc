//! gRPC metadata (HTTP/2 headers) as trace-context carriers.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};

/// Writes into request metadata; keys or values that are not valid header text are
/// skipped.
pub(crate) struct MetadataInjector<'a>(pub(crate) &'a mut HeaderMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Reads request metadata; values that are not visible ASCII read as absent.
pub(crate) struct MetadataExtractor<'a>(pub(crate) &'a HeaderMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}
