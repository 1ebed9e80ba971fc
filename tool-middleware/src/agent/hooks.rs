//! Callbacks of agent runs: where the conversation id comes from, who hears the totals
//! at the end, and which outputs count as failures.

use std::borrow::Cow;
use std::fmt;

use aitrace_core::run::RunTotals;

use crate::classify::ClassifyError;

/// Reads the conversation id (`gen_ai.conversation.id`) from a request.
///
/// Implemented for `()` (none) and closures `Fn(&Req) -> Option<String>`.
pub trait ConversationId<Req> {
    /// The conversation id of `request`, if it has one.
    fn conversation_id(&self, request: &Req) -> Option<String>;
}

impl<Req> ConversationId<Req> for () {
    #[inline]
    fn conversation_id(&self, _request: &Req) -> Option<String> {
        None
    }
}

impl<Req, F> ConversationId<Req> for F
where
    F: Fn(&Req) -> Option<String>,
{
    #[inline]
    fn conversation_id(&self, request: &Req) -> Option<String> {
        self(request)
    }
}

/// Hears a run's totals when it ends (completed, failed, panicked or cancelled):
/// for metrics, alerts, or billing.
///
/// Implemented for `()` (nothing) and closures `Fn(&RunTotals)`.
pub trait OnRunEnd {
    /// Called once, with the run's final totals.
    fn on_run_end(&self, totals: &RunTotals);
}

impl OnRunEnd for () {
    #[inline]
    fn on_run_end(&self, _totals: &RunTotals) {}
}

impl<F> OnRunEnd for F
where
    F: Fn(&RunTotals),
{
    #[inline]
    fn on_run_end(&self, totals: &RunTotals) {
        self(totals)
    }
}

/// Decides whether the output of an [`agent::run`](super::run) is a failure, to mark
/// the run's span.
///
/// `()` never marks; [`Fallible`] marks the `Err` of a `Result`.
pub trait RunOutcome<T> {
    /// `Some((error.type, message))` when `output` is a failure.
    fn failure(&self, output: &T) -> Option<(Cow<'static, str>, String)>;
}

impl<T> RunOutcome<T> for () {
    #[inline]
    fn failure(&self, _output: &T) -> Option<(Cow<'static, str>, String)> {
        None
    }
}

/// Marks a run whose output is `Err` as failed, classifying the error with `C`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fallible<C>(pub C);

impl<T, E, C> RunOutcome<Result<T, E>> for Fallible<C>
where
    E: fmt::Display,
    C: ClassifyError<E>,
{
    fn failure(&self, output: &Result<T, E>) -> Option<(Cow<'static, str>, String)> {
        match output {
            Ok(_) => None,
            Err(error) => Some((self.0.error_type(error), error.to_string())),
        }
    }
}
