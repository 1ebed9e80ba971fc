//! `TraceContext` writes exactly the headers the SDK's W3C propagator writes, for any
//! ids, flags and trace state, and reads back what it wrote.

use std::collections::HashMap;

use aitrace_core::propagation::{self, TraceContext};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// A small deterministic generator (xorshift64*), so a failure names its case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn contexts() -> Vec<SpanContext> {
    let state = TraceState::from_key_value([("vendor", "opaque-1"), ("other", "x")]).unwrap();
    let mut out = vec![
        // Leading zeros, all ones, the smallest valid ids.
        SpanContext::new(
            TraceId::from(1u128),
            SpanId::from(1u64),
            TraceFlags::default(),
            false,
            TraceState::default(),
        ),
        SpanContext::new(
            TraceId::from(u128::MAX),
            SpanId::from(u64::MAX),
            TraceFlags::new(0xff),
            true,
            state.clone(),
        ),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..500u32 {
        let hi = u128::from(rng.next()) << 64;
        let trace = (hi | u128::from(rng.next())) >> (i % 128);
        let span = rng.next() >> (i % 64);
        out.push(SpanContext::new(
            TraceId::from(trace.max(1)),
            SpanId::from(span.max(1)),
            TraceFlags::new((rng.next() & 0xff) as u8),
            i % 2 == 0,
            if i % 3 == 0 {
                state.clone()
            } else {
                TraceState::default()
            },
        ));
    }
    out
}

fn injected(p: &dyn TextMapPropagator, sc: &SpanContext) -> HashMap<String, String> {
    let mut headers = HashMap::new();
    p.inject_context(
        &Context::new().with_remote_span_context(sc.clone()),
        &mut headers,
    );
    headers
}

#[test]
fn writes_what_the_sdk_writes_and_reads_it_back() {
    let ours = TraceContext::new();
    let sdk = TraceContextPropagator::new();
    for sc in contexts() {
        let headers = injected(&ours, &sc);
        assert_eq!(headers, injected(&sdk, &sc), "{sc:?}");
        assert_eq!(headers["traceparent"].len(), 55);
        assert_eq!(headers["traceparent"], propagation::traceparent(&sc));

        let back = ours.extract(&headers);
        let read = back.span().span_context().clone();
        assert_eq!(read.trace_id(), sc.trace_id());
        assert_eq!(read.span_id(), sc.span_id());
        assert_eq!(read.is_sampled(), sc.is_sampled());
        assert_eq!(read.trace_state().header(), sc.trace_state().header());
        assert!(read.is_remote());
    }
}

#[test]
fn writes_nothing_for_an_invalid_context() {
    let headers = injected(&TraceContext::new(), &SpanContext::empty_context());
    assert!(headers.is_empty(), "{headers:?}");
    assert!(TraceContext::new().fields().any(|f| f == "traceparent"));
}
