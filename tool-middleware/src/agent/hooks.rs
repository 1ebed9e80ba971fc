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

/// What [`agent::run`](super::run) needs of a run's output: whether it is a failure.
///
/// A `Result` is one when it is `Err`: the `invoke_agent` span ends with
/// `error.type = _OTHER` and the error's message (redacted); classify errors with
/// [`AgentRun::classify_error`](super::AgentRun::classify_error). The other outputs
/// implemented here (text, numbers, JSON, collections, `()`) never are. For an output
/// type of yours, an empty impl says "never a failure":
///
/// ```
/// use aitrace_tool::agent::{self, AgentInfo, RunOutput};
///
/// struct Answer { text: String }
/// impl RunOutput for Answer {}
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (answer, _totals) = agent::run(AgentInfo::new("writer"), async {
///     Answer { text: "done".into() }
/// })
/// .await;
/// assert_eq!(answer.text, "done");
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a run output that `agent::run` knows",
    note = "add `impl aitrace_tool::agent::RunOutput for {Self} {{}}` (never a failure), return a `Result`, or use `agent::run_plain`"
)]
pub trait RunOutput {
    /// `Some((error.type, message))` when this output is a failure (default: never).
    fn run_failure(&self) -> Option<(Cow<'static, str>, String)> {
        None
    }
}

impl<T, E: fmt::Display> RunOutput for Result<T, E> {
    fn run_failure(&self) -> Option<(Cow<'static, str>, String)> {
        match self {
            Ok(_) => None,
            Err(error) => Some((
                Cow::Borrowed(aitrace_core::conventions::ERROR_TYPE_OTHER),
                error.to_string(),
            )),
        }
    }
}

macro_rules! never_failures {
    ($($t:ty),* $(,)?) => { $(impl RunOutput for $t {})* };
}

never_failures!(
    (),
    bool,
    char,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    String,
    &str,
    Cow<'_, str>,
    serde_json::Value,
    RunTotals,
);

impl<T> RunOutput for Option<T> {}
impl<T> RunOutput for Vec<T> {}
impl<T: RunOutput + ?Sized> RunOutput for Box<T> {
    fn run_failure(&self) -> Option<(Cow<'static, str>, String)> {
        (**self).run_failure()
    }
}
impl<A: RunOutput, B> RunOutput for (A, B) {
    fn run_failure(&self) -> Option<(Cow<'static, str>, String)> {
        self.0.run_failure()
    }
}

/// Marks a run as its output says ([`RunOutput`]): what [`agent::run`](super::run)
/// uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByOutput;

impl<T: RunOutput> RunOutcome<T> for ByOutput {
    #[inline]
    fn failure(&self, output: &T) -> Option<(Cow<'static, str>, String)> {
        output.run_failure()
    }
}
