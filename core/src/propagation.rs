//! Trace context in and out of carriers, shared by every adapter.
//!
//! Everything goes through the global propagator
//! ([`opentelemetry::global::set_text_map_propagator`]), **except** when none was
//! installed: the global default is a no-op that sends nothing, the most common reason
//! a trace breaks between services. Then W3C Trace Context (`traceparent`,
//! `tracestate`) is used, so one request is one trace out of the box.
//!
//! Whatever the propagator, the `tracestate` read and the one written are kept within
//! the W3C limits ([`bound_tracestate`](crate::bound::bound_tracestate): 32 members,
//! 256 characters a member, 512 characters in all): a caller's oversized header is
//! neither copied onto our spans nor forwarded downstream.
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

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// Runs `f` with the global propagator, or with W3C Trace Context ([`TraceContext`])
/// when the global one is the default no-op (it declares no fields).
pub fn with_propagator<T>(mut f: impl FnMut(&dyn TextMapPropagator) -> T) -> T {
    opentelemetry::global::get_text_map_propagator(|p| {
        if p.fields().next().is_none() {
            f(&TraceContext::new())
        } else {
            f(p)
        }
    })
}

/// W3C Trace Context: the same headers as the SDK's [`TraceContextPropagator`], which
/// reads them, with the `traceparent` written without the formatting machinery (the
/// SDK's `format!` of the two ids was two thirds of what injecting cost an LLM call,
/// see BENCHMARKS.md).
///
/// ```
/// use std::collections::HashMap;
///
/// use aitrace_core::propagation::TraceContext;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
/// use opentelemetry::Context;
///
/// let sc = SpanContext::new(
///     TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
///     SpanId::from_hex("00f067aa0ba902b7").unwrap(),
///     TraceFlags::SAMPLED,
///     false,
///     TraceState::default(),
/// );
/// let mut headers = HashMap::new();
/// TraceContext::new().inject_context(&Context::new().with_remote_span_context(sc), &mut headers);
/// assert_eq!(headers["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// ```
#[derive(Debug, Default)]
pub struct TraceContext(TraceContextPropagator);

impl TraceContext {
    /// The W3C Trace Context propagator.
    pub fn new() -> Self {
        TraceContext(TraceContextPropagator::new())
    }
}

impl TextMapPropagator for TraceContext {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            injector.set("traceparent", traceparent(sc));
            injector.set("tracestate", sc.trace_state().header());
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.0.fields()
    }
}

/// The W3C `traceparent` of `sc`: version 00, lower-case hex ids, and the sampled flag
/// (the only flag version 00 defines).
pub fn traceparent(sc: &SpanContext) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // `00-` + 32 hex digits + `-` + 16 + `-` + 2, written into place.
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    let flags = sc.trace_flags() & opentelemetry::trace::TraceFlags::SAMPLED;
    let fields = [
        (3, &sc.trace_id().to_bytes()[..]),
        (36, &sc.span_id().to_bytes()[..]),
        (53, &[flags.to_u8()][..]),
    ];
    for (at, bytes) in fields {
        for (i, b) in bytes.iter().enumerate() {
            out[at + 2 * i] = DIGITS[usize::from(b >> 4)];
            out[at + 2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
        }
    }
    // Hex digits and dashes: always ASCII.
    std::str::from_utf8(&out)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// Writes `cx`'s trace context into `carrier`. Nothing is written when `cx` holds no
/// valid span context.
pub fn inject(cx: &Context, carrier: &mut dyn Injector) {
    let mut bounded = BoundedInjector(carrier);
    with_propagator(|p| p.inject_context(cx, &mut bounded));
}

/// The context carried by `carrier`, on top of the current context.
pub fn extract(carrier: &dyn Extractor) -> Context {
    extract_with_context(&Context::current(), carrier)
}

/// The context carried by `carrier`, on top of `parent`.
pub fn extract_with_context(parent: &Context, carrier: &dyn Extractor) -> Context {
    let bounded = BoundedExtractor::new(carrier);
    with_propagator(|p| p.extract_with_context(parent, &bounded))
}

/// The W3C header of vendor trace state.
const TRACESTATE: &str = "tracestate";

/// Writes through to a carrier, with the `tracestate` bounded (left out when nothing
/// of it is kept).
struct BoundedInjector<'a>(&'a mut dyn Injector);

impl Injector for BoundedInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if !key.eq_ignore_ascii_case(TRACESTATE) {
            return self.0.set(key, value);
        }
        let cut = match crate::bound::bound_tracestate(&value) {
            std::borrow::Cow::Owned(cut) => Some(cut),
            std::borrow::Cow::Borrowed(_) => None,
        };
        let value = cut.unwrap_or(value);
        if !value.is_empty() {
            self.0.set(key, value);
        }
    }
}

/// Reads through from a carrier, with its `tracestate` bounded.
struct BoundedExtractor<'a> {
    inner: &'a dyn Extractor,
    /// The bounded `tracestate`, when bounding changed it.
    tracestate: Option<String>,
}

impl<'a> BoundedExtractor<'a> {
    fn new(inner: &'a dyn Extractor) -> Self {
        let tracestate =
            inner
                .get(TRACESTATE)
                .and_then(|value| match crate::bound::bound_tracestate(value) {
                    std::borrow::Cow::Owned(cut) => Some(cut),
                    std::borrow::Cow::Borrowed(_) => None,
                });
        BoundedExtractor { inner, tracestate }
    }
}

impl Extractor for BoundedExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match &self.tracestate {
            Some(cut) if key.eq_ignore_ascii_case(TRACESTATE) => Some(cut),
            _ => self.inner.get(key),
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.inner.keys()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        match &self.tracestate {
            Some(cut) if key.eq_ignore_ascii_case(TRACESTATE) => Some(vec![cut.as_str()]),
            _ => self.inner.get_all(key),
        }
    }
}

/// The longest `traceparent` read: a W3C one is 55 characters, anything much longer is
/// not one.
pub const MAX_TRACEPARENT_LEN: usize = 128;
/// The longest other propagation value read (`tracestate`, `baggage`, ...).
pub const MAX_VALUE_LEN: usize = 8192;

/// An [`Extractor`] over untrusted input (message headers, request metadata) that
/// hides oversized values, so a broken or hostile peer's headers start a new trace
/// instead of costing time or memory.
///
/// ```
/// use std::collections::HashMap;
///
/// use aitrace_core::propagation::{self, Bounded};
/// use opentelemetry::trace::TraceContextExt;
///
/// let mut headers = HashMap::new();
/// headers.insert("traceparent".to_string(), "0".repeat(100_000));
/// let cx = propagation::extract(&Bounded(&headers));
/// assert!(!cx.span().span_context().is_valid());
/// ```
#[derive(Clone, Copy)]
pub struct Bounded<'a>(pub &'a dyn Extractor);

impl std::fmt::Debug for Bounded<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Bounded").finish_non_exhaustive()
    }
}

impl Extractor for Bounded<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = self.0.get(key)?;
        let limit = if key.eq_ignore_ascii_case("traceparent") {
            MAX_TRACEPARENT_LEN
        } else {
            MAX_VALUE_LEN
        };
        (value.len() <= limit).then_some(value)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys()
    }
}
