//! Trace context in and out of carriers, shared by every adapter.
//!
//! Everything goes through the global propagator
//! ([`opentelemetry::global::set_text_map_propagator`]), **except** when none was
//! installed: the global default is a no-op that sends nothing, the most common reason
//! a trace breaks between services. Then W3C Trace Context (`traceparent`,
//! `tracestate`) is used, so one request is one trace out of the box.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use aitrace_core::emit::OtelSpan;
//! use aitrace_core::propagation;
//! use opentelemetry::trace::SpanKind;
//!
//! let span = OtelSpan::start("send orders", SpanKind::Producer, vec![]);
//! let mut headers: HashMap<String, String> = HashMap::new();
//! propagation::inject(&span.context(), &mut headers);
//! span.end();
//! let parent = propagation::extract(&headers);
//! ```

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// Runs `f` with the global propagator, or with W3C Trace Context when the global one
/// is the default no-op (it declares no fields).
pub fn with_propagator<T>(mut f: impl FnMut(&dyn TextMapPropagator) -> T) -> T {
    opentelemetry::global::get_text_map_propagator(|p| {
        if p.fields().next().is_none() {
            f(&TraceContextPropagator::new())
        } else {
            f(p)
        }
    })
}

/// Writes `cx`'s trace context into `carrier`. Nothing is written when `cx` holds no
/// valid span context.
pub fn inject(cx: &Context, carrier: &mut dyn Injector) {
    with_propagator(|p| p.inject_context(cx, carrier));
}

/// The context carried by `carrier`, on top of the current context.
pub fn extract(carrier: &dyn Extractor) -> Context {
    extract_with_context(&Context::current(), carrier)
}

/// The context carried by `carrier`, on top of `parent`.
pub fn extract_with_context(parent: &Context, carrier: &dyn Extractor) -> Context {
    with_propagator(|p| p.extract_with_context(parent, carrier))
}
