//! Span lifecycle: a span is ended with the right status however the work ends.

use aitrace_core::emit::OtelSpan;

use aitrace_core::conventions::{ERROR_TYPE_CANCELLED as CANCELLED, ERROR_TYPE_PANIC as PANIC};

/// Owns the span while a request is in flight. Dropped before [`InFlight::finish`],
/// the request was cancelled (a timeout, a client that went away, `select!`): the
/// span ends as an error of type `cancelled`.
#[derive(Debug)]
pub(crate) struct InFlight {
    span: Option<OtelSpan>,
}

impl InFlight {
    pub(crate) fn new(span: OtelSpan) -> InFlight {
        InFlight { span: Some(span) }
    }

    /// Takes the span to finish it (`None` when a panic already ended it).
    pub(crate) fn finish(&mut self) -> Option<OtelSpan> {
        self.span.take()
    }

    /// Watches the next poll: if it unwinds, the span ends as an error of type `panic`.
    pub(crate) fn watch(&mut self) -> UnwindGuard<'_> {
        UnwindGuard(&mut self.span)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(span) = self.span.take() {
            if std::thread::panicking() {
                span.set_error(PANIC, "panicked");
            } else {
                span.set_error(CANCELLED, "dropped before completion");
            }
        }
    }
}

/// Ends the span as an error of type `panic` when dropped during unwinding.
///
/// Executors catch panics and drop the future later (when nothing is panicking any
/// more), so a panic is only seen while the poll that panicked unwinds.
#[derive(Debug)]
pub(crate) struct UnwindGuard<'a>(pub(crate) &'a mut Option<OtelSpan>);

impl Drop for UnwindGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(span) = self.0.take() {
                span.set_error(PANIC, "panicked");
            }
        }
    }
}
