//! The span guard every instrumented future of this crate carries: it ends the span
//! exactly once, whatever happens to the call (completion, error, panic, cancellation),
//! and for agent runs records the run totals on the span before it ends.

use std::any::Any;
use std::borrow::Cow;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use aitrace_core::content::{safe_message, Redactor};
use aitrace_core::emit::OtelSpan;
use aitrace_core::run::{Run, RunTotals};

use crate::agent::OnRunEnd;

/// `error.type` of a call whose future was dropped before it completed.
pub(crate) const CANCELLED: &str = aitrace_core::conventions::ERROR_TYPE_CANCELLED;

/// Ends its span once; if dropped before [`SpanGuard::end`], marks the span cancelled.
pub(crate) struct SpanGuard<H: OnRunEnd = ()> {
    span: Option<OtelSpan>,
    run: Option<Run>,
    on_end: H,
}

impl<H: OnRunEnd> SpanGuard<H> {
    /// A guard for `span`; with `run`, the run's totals go on the span when it ends and
    /// `on_end` sees them.
    pub(crate) fn new(span: OtelSpan, run: Option<Run>, on_end: H) -> Self {
        SpanGuard {
            span: Some(span),
            run,
            on_end,
        }
    }

    /// Records the outcome with `mark`, the run totals, and ends the span. Returns the
    /// run's totals; `None` when already ended or when there is no run.
    pub(crate) fn end(&mut self, mark: impl FnOnce(&OtelSpan)) -> Option<RunTotals> {
        let span = self.span.take()?;
        mark(&span);
        let totals = self.run.take().map(|run| run.totals());
        if let Some(totals) = &totals {
            if span.is_recording() {
                span.set_attributes(totals.attributes());
            }
            self.on_end.on_run_end(totals);
        }
        span.end();
        totals
    }

    /// Records a panic (error, `exception` event with the message) and ends the span.
    pub(crate) fn panicked(&mut self, payload: &(dyn Any + Send)) {
        self.end(|span| record_panic(span, payload));
    }

    /// Polls `inner`; a panic is recorded on the span, then continues unwinding.
    pub(crate) fn poll<F: std::future::Future>(
        &mut self,
        inner: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                self.panicked(&*payload);
                resume_unwind(payload)
            }
        }
    }

    /// Runs `call` (an inner service's `call`); a panic is recorded on the span, then
    /// continues unwinding.
    pub(crate) fn call<T>(&mut self, call: impl FnOnce() -> T) -> T {
        match catch_unwind(AssertUnwindSafe(call)) {
            Ok(value) => value,
            Err(payload) => {
                self.panicked(&*payload);
                resume_unwind(payload)
            }
        }
    }
}

impl<H: OnRunEnd> Drop for SpanGuard<H> {
    fn drop(&mut self) {
        // Still open: the future was dropped before it completed (a timeout around us,
        // a `select!` that took another branch, a client that went away).
        self.end(|span| {
            span.set_error(
                CANCELLED,
                "cancelled: the call was dropped before it completed",
            )
        });
    }
}

/// Marks the span failed with `error_type` and the error's message (redacted with
/// `redactor` when given, then with core's default rules, and cut).
pub(crate) fn record_error(
    span: &OtelSpan,
    error_type: Cow<'static, str>,
    message: &dyn std::fmt::Display,
    redactor: Option<&Redactor>,
) {
    if !span.is_recording() {
        return;
    }
    let message = message.to_string();
    let message = match redactor {
        Some(r) => describe(&message, r),
        None => safe_message(&message),
    };
    span.set_error(error_type.into_owned(), message);
}

fn record_panic(span: &OtelSpan, payload: &(dyn Any + Send)) {
    span.record_panic(payload);
}

/// A message as it may be recorded: secrets redacted with `redactor` (the layer's
/// policy), then cut and redacted once more with core's bounded [`safe_message`].
fn describe(message: &str, redactor: &Redactor) -> String {
    safe_message(&redactor.redact(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_redacted_and_bounded() {
        let r = Redactor::default();
        assert_eq!(
            describe("bad key sk-proj-abcdefghijklmnopqrstuvwx", &r),
            "bad key [REDACTED]"
        );
        let long = "é".repeat(2_000);
        let cut = describe(&long, &r);
        assert!(cut.len() <= aitrace_core::content::MAX_MESSAGE_BYTES + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
