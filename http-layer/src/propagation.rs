//! Trace context in and out of carriers: HTTP headers, and the header maps of message
//! queues (AMQP, Kafka, NATS headers as `HashMap<String, String>`), so that a producer
//! and its consumer share one trace.
//!
//! Everything goes through core's [`propagation`](aitrace_core::propagation): the global propagator
//! ([`opentelemetry::global::set_text_map_propagator`]), **except** when none was
//! installed: the global default is a no-op that sends nothing, the most common reason
//! a trace breaks between services. Then W3C Trace Context (`traceparent`,
//! `tracestate`) is used, so one request is one trace out of the box.
//!
//! Whatever the propagator, the `tracestate` read and the one written are kept within
//! the W3C limits ([`bound_tracestate`](aitrace_core::bound::bound_tracestate): 32
//! members, 256 characters a member, 512 characters in all): a caller's oversized
//! header is neither copied onto our spans nor forwarded downstream.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use aitrace_core::emit::OtelSpan;
//! use aitrace_http::propagation;
//! use opentelemetry::trace::SpanKind;
//!
//! // Producer: publish the message with the context of the publish span.
//! let publish = OtelSpan::start("send orders", SpanKind::Producer, vec![]);
//! let mut message_headers: HashMap<String, String> = HashMap::new();
//! propagation::inject(&publish.context(), &mut message_headers);
//! publish.end();
//!
//! // Consumer: continue the producer's trace.
//! let parent = propagation::extract(&message_headers);
//! let process = OtelSpan::start_with_parent(&parent, "process orders", SpanKind::Consumer, vec![]);
//! process.end();
//! ```

use http::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;

/// The W3C Trace Context header that carries the trace id, parent span id and flags.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C Trace Context header that carries vendor-specific trace state.
pub const TRACESTATE: &str = "tracestate";
/// The W3C Trace Context Level 2 response header naming the server span.
pub const TRACERESPONSE: &str = "traceresponse";

/// Writes `cx`'s trace context into `carrier` (a `HashMap<String, String>`, a
/// [`HeaderInjector`], or any [`Injector`]). Nothing is written when `cx` holds no
/// valid span context.
pub fn inject(cx: &Context, carrier: &mut dyn Injector) {
    aitrace_core::propagation::inject(cx, carrier);
}

/// Writes the current context's trace context into `carrier`.
pub fn inject_current(carrier: &mut dyn Injector) {
    inject(&Context::current(), carrier);
}

/// The context carried by `carrier`, on top of the current context (so a carrier with
/// no trace context gives the current context back).
pub fn extract(carrier: &dyn Extractor) -> Context {
    extract_with_context(&Context::current(), carrier)
}

/// The context carried by `carrier`, on top of `parent`.
pub fn extract_with_context(parent: &Context, carrier: &dyn Extractor) -> Context {
    aitrace_core::propagation::extract_with_context(parent, carrier)
}

/// Writes `cx`'s trace context into HTTP headers.
pub fn inject_headers(cx: &Context, headers: &mut HeaderMap) {
    inject(cx, &mut HeaderInjector(headers));
}

/// The context carried by HTTP headers, on top of the current context.
pub fn extract_headers(headers: &HeaderMap) -> Context {
    extract(&HeaderExtractor(headers))
}

/// The value of a `traceresponse` header naming the span in `cx`
/// (`00-{trace-id}-{span-id}-{flags}`), or `None` when `cx` has no valid span.
pub fn traceresponse_value(cx: &Context) -> Option<HeaderValue> {
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return None;
    }
    let value = format!(
        "00-{}-{}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().to_u8()
    );
    HeaderValue::from_str(&value).ok()
}

/// An [`Injector`] over an [`http::HeaderMap`]. Values that are not valid header values
/// are skipped.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The W3C names are known (no copy of the name); the value's bytes are moved
        // into the header, not copied.
        let name = match key {
            TRACEPARENT => Ok(HeaderName::from_static(TRACEPARENT)),
            TRACESTATE => Ok(HeaderName::from_static(TRACESTATE)),
            "baggage" => Ok(HeaderName::from_static("baggage")),
            other => HeaderName::from_bytes(other.as_bytes()),
        };
        if let (Ok(name), Ok(value)) = (name, HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

/// An [`Extractor`] over an [`http::HeaderMap`]. Values that are not visible ASCII read
/// as absent.
#[derive(Debug, Clone, Copy)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        // The W3C names are looked up as made once: `HeaderMap::get(&str)` checks and
        // folds the name's bytes on every call (a third of `extract`'s instructions).
        let value = match key {
            TRACEPARENT => self.0.get(&const { HeaderName::from_static(TRACEPARENT) }),
            TRACESTATE => self.0.get(&const { HeaderName::from_static(TRACESTATE) }),
            "baggage" => self.0.get(&const { HeaderName::from_static("baggage") }),
            other => self.0.get(other),
        };
        value.and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}
