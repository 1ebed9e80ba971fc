//! [`ToolFuture`], the response future of [`ToolService`](super::ToolService).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use aitrace_core::content::ContentPolicy;
use aitrace_core::conventions as c;
use opentelemetry::context::WithContext;
use opentelemetry::KeyValue;
use pin_project_lite::pin_project;

use super::{capture, ToolResponse};
use crate::classify::ClassifyError;
use crate::guard::{record_error, SpanGuard};

pin_project! {
    /// Response future of [`ToolService`](super::ToolService): runs the tool under the
    /// tool span's context and ends the span with the outcome. Dropped before it
    /// completes, it ends the span as cancelled.
    pub struct ToolFuture<F, C> {
        #[pin]
        inner: WithContext<F>,
        guard: SpanGuard,
        policy: Arc<ContentPolicy>,
        classifier: C,
    }
}

impl<F, C> ToolFuture<F, C> {
    pub(crate) fn new(
        inner: WithContext<F>,
        guard: SpanGuard,
        policy: Arc<ContentPolicy>,
        classifier: C,
    ) -> Self {
        ToolFuture {
            inner,
            guard,
            policy,
            classifier,
        }
    }
}

impl<F, C> fmt::Debug for ToolFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolFuture").finish_non_exhaustive()
    }
}

impl<F, C, T, E> Future for ToolFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    T: ToolResponse,
    E: fmt::Display,
    C: ClassifyError<E>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.guard.poll(this.inner, cx) {
            Poll::Ready(result) => result,
            Poll::Pending => return Poll::Pending,
        };
        let policy = &**this.policy;
        let classifier = &*this.classifier;
        this.guard.end(|span| {
            if !span.is_recording() {
                return;
            }
            match &result {
                Ok(response) => {
                    if !policy.mode().captures() {
                        return;
                    }
                    let captured = response
                        .result()
                        .and_then(|value| policy.capture_json(&value));
                    let (on_span, in_event) = capture::split(captured, policy);
                    if let Some(result) = on_span {
                        span.set_attribute(KeyValue::new(c::GEN_AI_TOOL_CALL_RESULT, result));
                    }
                    if let Some(result) = in_event {
                        capture::event(span, c::GEN_AI_TOOL_CALL_RESULT, result);
                    }
                }
                Err(error) => record_error(
                    span,
                    classifier.error_type(error),
                    error,
                    Some(policy.redactor()),
                ),
            }
        });
        Poll::Ready(result)
    }
}
