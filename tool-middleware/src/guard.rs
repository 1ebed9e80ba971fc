//! The span guard every instrumented future of this crate carries: it ends the span
//! exactly once, whatever happens to the call (completion, error, panic, cancellation),
//! and for agent runs records the run totals on the span before it ends.

use std::any::Any;
use std::borrow::Cow;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use aitrace_core::content::Redactor;
use aitrace_core::emit::OtelSpan;
use aitrace_core::run::{Run, RunTotals};
use opentelemetry::KeyValue;

use crate::agent::OnRunEnd;

/// `error.type` of a call whose future was dropped before it completed.
pub(crate) const CANCELLED: &str = "cancelled";
/// `error.type` of a call that panicked.
pub(crate) const PANIC: &str = "panic";
/// Event the OpenTelemetry conventions use for exceptions (here: panics).
const EXCEPTION_EVENT: &str = "exception";
/// Attribute of [`EXCEPTION_EVENT`]: the exception's type.
const EXCEPTION_TYPE: &str = "exception.type";
/// Attribute of [`EXCEPTION_EVENT`]: the exception's message.
const EXCEPTION_MESSAGE: &str = "exception.message";
/// Longest error or panic message kept in a status description or event.
const MAX_MESSAGE_BYTES: usize = 1024;

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

/// Marks the span failed with `error_type` and the error's message (redacted, cut).
pub(crate) fn record_error(
    span: &OtelSpan,
    error_type: Cow<'static, str>,
    message: &dyn std::fmt::Display,
    redactor: &Redactor,
) {
    if !span.is_recording() {
        return;
    }
    let message = describe(&message.to_string(), redactor);
    span.set_error(error_type.into_owned(), message);
}

fn record_panic(span: &OtelSpan, payload: &(dyn Any + Send)) {
    if !span.is_recording() {
        return;
    }
    let message = payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    let message = describe(message, default_redactor());
    span.add_event(
        EXCEPTION_EVENT,
        vec![
            KeyValue::new(EXCEPTION_TYPE, PANIC),
            KeyValue::new(EXCEPTION_MESSAGE, message.clone()),
        ],
    );
    span.set_error(PANIC, format!("panicked: {message}"));
}

/// The default redactor, built once (panics have no layer policy at hand).
pub(crate) fn default_redactor() -> &'static Redactor {
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    REDACTOR.get_or_init(Redactor::default)
}

/// A message as it may be recorded: secrets redacted, cut to a bounded length.
fn describe(message: &str, redactor: &Redactor) -> String {
    let redacted = redactor.redact(message);
    if redacted.len() <= MAX_MESSAGE_BYTES {
        return redacted.into_owned();
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !redacted.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &redacted[..end])
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
        assert!(cut.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
