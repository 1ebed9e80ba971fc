//! The sampler around the configured one: force-sampled contexts are always kept.

use aitrace_core::sampling;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

/// Samples a span started in a context marked by [`aitrace_core::sampling`] (in code,
/// or by the server layer's force-sample header); asks the configured sampler
/// otherwise.
#[derive(Debug, Clone)]
pub(crate) struct ForceSampler {
    inner: Box<dyn ShouldSample>,
}

impl ForceSampler {
    pub(crate) fn new(inner: Box<dyn ShouldSample>) -> ForceSampler {
        ForceSampler { inner }
    }
}

impl ShouldSample for ForceSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        match parent_context {
            Some(cx) if sampling::is_forced(cx) => SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: vec![KeyValue::new(sampling::FORCED_ATTRIBUTE, true)],
                trace_state: if cx.has_active_span() {
                    cx.span().span_context().trace_state().clone()
                } else {
                    Default::default()
                },
            },
            _ => self.inner.should_sample(
                parent_context,
                trace_id,
                name,
                span_kind,
                attributes,
                links,
            ),
        }
    }
}
