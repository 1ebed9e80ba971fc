//! Trace context in `params._meta` (SEP-414): unprefixed `traceparent`,
//! `tracestate` and `baggage` string entries.
//!
//! Injection never replaces an entry that is already there (keys the application
//! put in `_meta` stay as they are). Extraction reads string entries of bounded size
//! only: a missing, malformed, oversized or non-string entry is ignored, so the
//! request starts a new trace and the peer never sees an error for it.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use rmcp::model::JsonObject;
use serde_json::Value;

/// `traceparent` is 55 characters; anything much longer is not one.
const MAX_TRACEPARENT: usize = 128;
/// W3C Trace Context caps `tracestate` at 32 list members of bounded size.
const MAX_TRACESTATE: usize = 1024;
/// W3C Baggage caps the header at 8192 bytes.
const MAX_BAGGAGE: usize = 8192;

fn max_len(key: &str) -> usize {
    match key {
        "traceparent" => MAX_TRACEPARENT,
        "tracestate" => MAX_TRACESTATE,
        "baggage" => MAX_BAGGAGE,
        _ => MAX_TRACESTATE,
    }
}

/// Writes into a `_meta` object, keeping entries already there.
pub(crate) struct MetaInjector<'a>(pub(crate) &'a mut JsonObject);

impl Injector for MetaInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0
            .entry(key.to_owned())
            .or_insert_with(|| Value::String(value));
    }
}

/// Reads string entries of bounded size from a `_meta` object.
pub(crate) struct MetaExtractor<'a>(pub(crate) &'a JsonObject);

impl Extractor for MetaExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match self.0.get(key)? {
            Value::String(s) if s.len() <= max_len(key) => Some(s.as_str()),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// Writes `cx`'s trace context into `meta`.
pub(crate) fn inject(cx: &Context, meta: &mut JsonObject) {
    aitrace_core::propagation::inject(cx, &mut MetaInjector(meta));
}

/// The remote context carried by `meta`, if it holds a valid span context.
pub(crate) fn extract(meta: &JsonObject) -> Option<Context> {
    let cx = aitrace_core::propagation::extract_with_context(&Context::new(), &MetaExtractor(meta));
    cx.span().span_context().is_valid().then_some(cx)
}

/// Reads trace headers of an HTTP request.
pub(crate) struct HeaderExtractor<'a>(pub(crate) &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = self.0.get(key)?.to_str().ok()?;
        (value.len() <= max_len(key)).then_some(value)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The remote context of an HTTP request's headers, if valid.
pub(crate) fn extract_headers(headers: &http::HeaderMap) -> Option<Context> {
    let cx =
        aitrace_core::propagation::extract_with_context(&Context::new(), &HeaderExtractor(headers));
    cx.span().span_context().is_valid().then_some(cx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> JsonObject {
        match v {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn garbage_is_no_context() {
        for meta in [
            json!({}),
            json!({"traceparent": "garbage"}),
            json!({"traceparent": 42}),
            json!({"traceparent": {"nested": true}}),
            json!({"traceparent": "00-00000000000000000000000000000000-0000000000000000-01"}),
            json!({"traceparent": format!("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01{}", "x".repeat(10_000))}),
        ] {
            assert!(extract(&object(meta.clone())).is_none(), "{meta}");
        }
        let ok = json!({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"});
        let cx = extract(&object(ok)).expect("valid");
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
    }

    #[test]
    fn injection_keeps_existing_entries() {
        let mut meta = object(json!({"traceparent": "mine", "user": 1}));
        MetaInjector(&mut meta).set("traceparent", "theirs".into());
        MetaInjector(&mut meta).set("tracestate", "a=b".into());
        assert_eq!(meta["traceparent"], "mine");
        assert_eq!(meta["tracestate"], "a=b");
        assert_eq!(meta["user"], 1);
    }
}
