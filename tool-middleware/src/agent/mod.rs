//! Agent runs: an `invoke_agent {name}` (or `invoke_workflow {name}`) span per run,
//! with the run's totals.
//!
//! A run collects, through [`aitrace_core::run::Run`], the token usage and cost of
//! every LLM call made inside it (aitrace-llm's layers report them), the number of LLM
//! calls and tool calls ([`ToolLayer`](crate::tool::ToolLayer) counts those), and the
//! same of every sub-agent run inside it: nested runs roll up into their parents. When
//! the run ends, its span records the totals (`gen_ai.usage.input_tokens`,
//! `gen_ai.usage.output_tokens`, cache and reasoning tokens, `gen_ai.usage.cost`,
//! `aitrace.run.llm_calls`, `aitrace.run.tool_calls`; see
//! [`RunTotals::attributes`](aitrace_core::run::RunTotals::attributes)), and code gets
//! them too: [`run`] returns them, [`AgentLayer::on_end`] hears them, and
//! [`current_totals`] reads them from inside the run (e.g. to return them in an API
//! response).
//!
//! Two ways in:
//! - [`AgentLayer`], for an agent that is a `tower::Service` (one run per request);
//! - [`run`], for any future (an `Err` output marks the run failed).
//!
//! ```
//! use std::convert::Infallible;
//! use aitrace_core::run::RunTotals;
//! use aitrace_tool::agent::{self, AgentInfo, AgentLayer};
//! use aitrace_tool::budget::{Budget, BudgetError, BudgetLayer, ClassifyBudget};
//! use aitrace_tool::tool::{ToolInvocation, ToolLayer};
//! use serde_json::{json, Value};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! struct Question { session: String, text: String }
//! struct Answer { text: String, tool_calls: u64 }
//!
//! async fn lookup_balance(_call: ToolInvocation) -> Result<Value, Infallible> {
//!     Ok(json!({ "balance": 12.5 }))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BudgetError<Infallible>> {
//! let support_bot = ServiceBuilder::new()
//!     .layer(
//!         AgentLayer::new(AgentInfo::new("support-bot").with_version("1.4.0"))
//!             .conversation_id(|q: &Question| Some(q.session.clone()))
//!             .on_end(|totals: &RunTotals| {
//!                 println!("run used {} tokens, cost {}", totals.usage.total_tokens(), totals.cost)
//!             }),
//!     )
//!     .service_fn(|q: Question| async move {
//!         // Tools: traced, counted in the run, refused once the run is over budget.
//!         let tools = ServiceBuilder::new()
//!             .layer(ToolLayer::new().classify_error(ClassifyBudget::new()))
//!             .layer(BudgetLayer::new(Budget::tokens(50_000)))
//!             .service_fn(lookup_balance);
//!         let balance = tools
//!             .oneshot(ToolInvocation::new("get_balance", json!({ "question": q.text })))
//!             .await?;
//!         // LLM calls through aitrace-llm's GenAiLayer add their tokens and cost here.
//!         let totals = agent::current_totals().unwrap_or_default();
//!         Ok::<_, BudgetError<Infallible>>(Answer {
//!             text: format!("Your balance is {}", balance["balance"]),
//!             tool_calls: totals.tool_calls,
//!         })
//!     });
//!
//! let answer = support_bot
//!     .oneshot(Question { session: "conv-1".into(), text: "What is my balance?".into() })
//!     .await?;
//! assert_eq!(answer.tool_calls, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Runs across tasks
//! The run travels in the OpenTelemetry context the agent's work runs in. A task
//! spawned inside the run takes part in it when it runs under that context:
//! - `tokio::spawn(work.with_current_context())`
//!   ([`opentelemetry::trace::FutureExt`]), or
//! - `tokio::spawn(work.instrument(tracing::Span::current()))` when the current
//!   `tracing` span was created inside the run (an `#[instrument]`ed function called
//!   by the agent, say): tracing-opentelemetry gives such a span the run's context.
//!   A `tracing` span entered *before* the run started (the caller's) does not carry
//!   the run: this crate attaches OpenTelemetry contexts and enters no `tracing`
//!   span, so running inside a run does not change `tracing::Span::current()`.
//! - A sub-agent made with [`run`] before spawning (`tokio::spawn(agent::run(..))`)
//!   captures the context when it is made, so it rolls up either way.
//!
//! # Outcome
//! An error (layer) or an `Err` output ([`run`]) sets `error.type` (from the
//! classifier, `_OTHER` by default) and an error status. A panic inside is recorded
//! (`error.type = panic`, an `exception` event) and continues unwinding. A run dropped
//! before it completes ends with `error.type = cancelled`. In every case the span gets
//! the totals collected so far and [`OnRunEnd`] hears them.

mod hooks;
mod info;
mod layer;
mod run;

pub use hooks::{ByOutput, ConversationId, Fallible, OnRunEnd, RunOutcome, RunOutput};
pub use info::AgentInfo;
pub use layer::{AgentFuture, AgentLayer, AgentService};
pub use run::{run, run_plain, try_run, AgentRun};

use aitrace_core::run::{Run, RunTotals};

/// Records the current run's input (the user's question), when its
/// [`AgentInfo::with_content`] policy captures content on spans: `gen_ai.input.messages`
/// and `input.value` on the run's span, and `input.value` on the trace's root server
/// span for the outermost run, where Phoenix and Langfuse show it in their trace lists.
/// Redacted and truncated like all captured content; nothing outside a run.
///
/// ```
/// use aitrace_tool::agent::{self, AgentInfo};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (answer, _) = agent::run(AgentInfo::new("helper"), async {
///     agent::record_input("What is the weather in Paris?");
///     let answer = "Sunny, 21°C".to_owned();
///     agent::record_output(&answer);
///     answer
/// })
/// .await;
/// # assert_eq!(answer, "Sunny, 21°C");
/// # }
/// ```
pub fn record_input(text: &str) {
    if let Some(run) = Run::current() {
        run.record_input(text);
    }
}

/// Records the current run's final output (the answer), like [`record_input`]:
/// `gen_ai.output.messages` and `output.value`.
pub fn record_output(text: &str) {
    if let Some(run) = Run::current() {
        run.record_output(text);
    }
}

/// Records a snapshot of the current run's state (anything `Serialize`: the messages
/// so far, the pending tool calls, a plan, the answer) as an `aitrace.agent.state`
/// event on the run's span, whose `aitrace.agent.state` attribute holds the state as
/// JSON. Like [`record_input`], only when the run's [`AgentInfo::with_content`] policy
/// captures content on spans, redacted and truncated like all captured content, and
/// nothing outside a run. A state that fails to serialize is not recorded (the agent
/// never fails because of telemetry). `aitrace view` shows each snapshot and what
/// changed since the previous one.
///
/// ```
/// use aitrace_core::content::{CaptureMode, ContentPolicy};
/// use aitrace_tool::agent::{self, AgentInfo};
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct State<'a> { messages: Vec<&'a str>, pending_tool_calls: Vec<&'a str> }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let content = ContentPolicy::default().with_mode(CaptureMode::SpanOnly);
/// agent::run(AgentInfo::new("helper").with_content(content), async {
///     let mut state = State { messages: vec!["What is the weather in Paris?"], pending_tool_calls: vec![] };
///     agent::record_state(&state);
///     state.pending_tool_calls.push("get_weather");
///     agent::record_state(&state);
/// })
/// .await;
/// # }
/// ```
pub fn record_state<T: serde::Serialize + ?Sized>(state: &T) {
    let Some(run) = Run::current() else {
        return;
    };
    if let Ok(value) = serde_json::to_value(state) {
        run.record_state(&value);
    }
}

/// The totals so far of the run the caller is in (the innermost one), or `None`
/// outside any run.
pub fn current_totals() -> Option<RunTotals> {
    Run::current().map(|run| run.totals())
}
