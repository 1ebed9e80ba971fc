//! [`run`]: an agent run around any future, for code that is not a tower service
//! ([`run_plain`] for outputs that are not [`RunOutput`]s).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use aitrace_core::run::{Run, RunTotals};
use opentelemetry::context::WithContext;
use opentelemetry::trace::FutureExt as _;
use pin_project_lite::pin_project;

use super::{AgentInfo, ByOutput, Fallible, RunOutcome, RunOutput};
use crate::classify::DefaultClassifier;
use crate::guard::{record_error, SpanGuard};

/// Runs `future` as an agent (or workflow) run: an `invoke_agent {name}` span around
/// it, a [`Run`] collecting the tokens, cost, LLM calls and tool calls made inside
/// (sub-agents included), and the totals returned with the output.
///
/// The span and the run start when `run` is called, under the current context, so a
/// sub-agent created here and spawned rolls up into the enclosing run even if the
/// spawned task is not instrumented.
///
/// A `Result` output that is `Err` marks the span failed (`error.type = _OTHER` unless
/// classified with [`AgentRun::classify_error`], error status with the error's message,
/// redacted). Other outputs are [`RunOutput`]s that never fail (text, numbers, JSON,
/// collections; an empty `impl RunOutput` for your own types), or use [`run_plain`].
///
/// ```
/// use aitrace_tool::agent::{self, AgentInfo};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let info = AgentInfo::new("researcher").with_conversation_id("conv-7");
/// let (answer, totals) = agent::run(info, async {
///     // LLM calls (aitrace-llm's GenAiLayer) and tool calls (ToolLayer) made here
///     // add to this run.
///     "42"
/// })
/// .await;
/// assert_eq!(answer, "42");
/// assert_eq!(totals.llm_calls, 0);
///
/// // A failed run is marked on its span.
/// let (failed, _) = agent::run(AgentInfo::new("researcher"), async {
///     Err::<String, _>("the model refused")
/// })
/// .await;
/// assert!(failed.is_err());
/// # }
/// ```
pub fn run<F>(info: AgentInfo, future: F) -> AgentRun<F, ByOutput>
where
    F: Future,
    F::Output: RunOutput,
{
    run_plain(info, future).with_outcome(ByOutput)
}

/// Like [`run`] for any output, never marking the span failed from the output (a panic
/// or a cancellation still is).
pub fn run_plain<F: Future>(info: AgentInfo, future: F) -> AgentRun<F> {
    let (guard, cx, run) = info.start(None, ());
    AgentRun {
        inner: future.with_context(cx),
        guard,
        run,
        outcome: (),
    }
}

/// The same as [`run`] for a future returning a `Result` (kept from before `run` marked
/// `Err` itself).
pub fn try_run<F, T, E>(info: AgentInfo, future: F) -> AgentRun<F, Fallible<DefaultClassifier>>
where
    F: Future<Output = Result<T, E>>,
    E: fmt::Display,
{
    run_plain(info, future).classify_error(DefaultClassifier)
}

pin_project! {
    /// An agent run in progress (made by [`run`] and [`try_run`]); resolves to the
    /// output and the run's totals.
    ///
    /// Dropped before it completes, it ends the span as cancelled (with the totals so
    /// far). A panic inside is recorded on the span and continues unwinding.
    #[must_use = "an agent run does nothing unless awaited"]
    pub struct AgentRun<F, O = ()> {
        #[pin]
        inner: WithContext<F>,
        guard: SpanGuard,
        run: Run,
        outcome: O,
    }
}

impl<F, O> AgentRun<F, O> {
    /// Marks the span failed when the output is `Err`, with `error.type` from
    /// `classifier` (a closure `Fn(&E) -> &'static str` or a
    /// [`ClassifyError`](crate::classify::ClassifyError)).
    pub fn classify_error<C>(self, classifier: C) -> AgentRun<F, Fallible<C>> {
        self.with_outcome(Fallible(classifier))
    }

    fn with_outcome<P>(self, outcome: P) -> AgentRun<F, P> {
        let AgentRun {
            inner, guard, run, ..
        } = self;
        AgentRun {
            inner,
            guard,
            run,
            outcome,
        }
    }

    /// The run being collected: its [`totals`](Run::totals) can be read at any time,
    /// e.g. from another task.
    pub fn handle(&self) -> &Run {
        &self.run
    }
}

impl<F, O> fmt::Debug for AgentRun<F, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentRun")
            .field("run", &self.run.name())
            .finish_non_exhaustive()
    }
}

impl<F, O> Future for AgentRun<F, O>
where
    F: Future,
    O: RunOutcome<F::Output>,
{
    type Output = (F::Output, RunTotals);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = match this.guard.poll(this.inner, cx) {
            Poll::Ready(output) => output,
            Poll::Pending => return Poll::Pending,
        };
        let outcome = &*this.outcome;
        let totals = this
            .guard
            .end(|span| {
                if let Some((error_type, message)) = outcome.failure(&output) {
                    record_error(span, error_type, &message, None);
                }
            })
            .unwrap_or_else(|| this.run.totals());
        Poll::Ready((output, totals))
    }
}
