//! Run totals: token usage, cost and call counts summed over an agent run.
//!
//! An agent layer starts a [`Run`] and attaches it to the OpenTelemetry context it runs
//! its work in. Every LLM call inside (aitrace-llm calls [`Run::record_llm_call`] on
//! [`Run::current`]) and every tool call adds to it, and to every enclosing run, so
//! nested agents roll up into their parents. The context travels with the work: into
//! futures run under the attached context, and into `tokio::spawn`ed tasks that are
//! instrumented with the current `tracing` span (tracing-opentelemetry builds a new
//! span's context from the current one, run included) or with the current
//! OpenTelemetry context.
//!
//! ```
//! use aitrace_core::cost::Cost;
//! use aitrace_core::run::Run;
//! use aitrace_core::usage::Usage;
//!
//! let run = Run::new("planner");
//! {
//!     let _attached = run.attach();
//!     // deep inside, an LLM layer does:
//!     Run::current().unwrap().record_llm_call(Some(Usage::new(100, 20)), Some(Cost::from_picodollars(5)));
//!     let child = Run::new("researcher"); // a sub-agent
//!     child.record_llm_call(Some(Usage::new(10, 2)), None);
//! }
//! let totals = run.totals();
//! assert_eq!(totals.usage.input_tokens, 110);
//! assert_eq!(totals.llm_calls, 2);
//! assert_eq!(totals.calls_without_cost, 1);
//! ```

use std::sync::{Arc, Mutex, OnceLock};

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, ContextGuard, KeyValue};

use crate::content::ContentPolicy;
use crate::conventions as c;
use crate::cost::Cost;
use crate::usage::Usage;

/// What a run used so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunTotals {
    /// Tokens of every LLM call in the run (sub-runs included).
    pub usage: Usage,
    /// Cost of the calls whose cost is known.
    pub cost: Cost,
    /// LLM calls made.
    pub llm_calls: u64,
    /// LLM calls with no known cost (unknown model or usage).
    pub calls_without_cost: u64,
    /// Tool calls made.
    pub tool_calls: u64,
}

impl RunTotals {
    /// The totals as span attributes: `gen_ai.usage.*`, `gen_ai.usage.cost` (only when
    /// every call's cost was known, so it is never an undercount presented as exact;
    /// otherwise `aitrace.cost.unavailable=partial` and the known part under
    /// `aitrace.run.known_cost`), and the call counts.
    pub fn attributes(&self) -> Vec<KeyValue> {
        let mut attrs = self.usage.attributes(c::NameSet::default());
        if self.calls_without_cost == 0 {
            if self.llm_calls > 0 {
                attrs.push(KeyValue::new(c::GEN_AI_USAGE_COST, self.cost.usd()));
            }
        } else {
            attrs.push(KeyValue::new(c::AITRACE_COST_UNAVAILABLE, "partial"));
            attrs.push(KeyValue::new(c::AITRACE_RUN_KNOWN_COST, self.cost.usd()));
        }
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        attrs.push(KeyValue::new(
            c::AITRACE_RUN_LLM_CALLS,
            count(self.llm_calls),
        ));
        attrs.push(KeyValue::new(
            c::AITRACE_RUN_TOOL_CALLS,
            count(self.tool_calls),
        ));
        attrs
    }
}

/// What the calls in flight of a run have reserved, before their usage is known (the
/// budget guard of aitrace-tool reserves an estimate per call and releases it when the
/// call ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reserved {
    /// Tokens reserved.
    pub tokens: u64,
    /// Cost reserved.
    pub cost: Cost,
    /// Calls holding a reservation.
    pub calls: u64,
}

impl Reserved {
    fn add(&mut self, other: &Reserved) {
        self.tokens = self.tokens.saturating_add(other.tokens);
        self.cost += other.cost;
        self.calls = self.calls.saturating_add(other.calls);
    }

    fn remove(&mut self, other: &Reserved) {
        self.tokens = self.tokens.saturating_sub(other.tokens);
        self.cost = Cost::from_picodollars(
            self.cost
                .picodollars()
                .saturating_sub(other.cost.picodollars()),
        );
        self.calls = self.calls.saturating_sub(other.calls);
    }
}

#[derive(Debug, Default)]
struct Ledger {
    totals: RunTotals,
    reserved: Reserved,
}

#[derive(Debug)]
struct Inner {
    name: String,
    totals: Mutex<Ledger>,
    parent: Option<Run>,
    /// The run's span and the content policy for what it records (set by the layer
    /// that made the span).
    span: OnceLock<(Context, ContentPolicy)>,
    /// The local root span of the trace (an HTTP server span with no remote parent)
    /// when this is the outermost run: it shows the run's input and output too.
    trace_root: Option<Context>,
}

/// Marks the span of `cx` as the root of its trace in this process (a server span
/// with no remote parent): the outermost agent run under it puts its input and
/// output on it too, where trace lists (Phoenix, Langfuse) read them.
#[derive(Debug, Clone)]
pub struct TraceRoot(Context);

impl TraceRoot {
    /// `cx` with its span marked as the trace root.
    pub fn mark(cx: &Context) -> Context {
        cx.with_value(TraceRoot(cx.clone()))
    }

    /// The trace root's context, when `cx` runs under one.
    pub fn of(cx: &Context) -> Option<Context> {
        cx.get::<TraceRoot>().map(|r| r.0.clone())
    }
}

/// A run whose totals are being collected. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Run {
    inner: Arc<Inner>,
}

impl Run {
    /// A new run, nested in the current one if there is one.
    pub fn new(name: impl Into<String>) -> Run {
        Run::with_parent(name, Run::current())
    }

    /// A new run under an explicit parent (or none).
    pub fn with_parent(name: impl Into<String>, parent: Option<Run>) -> Run {
        let trace_root = match parent {
            None => TraceRoot::of(&Context::current()),
            Some(_) => None,
        };
        Run {
            inner: Arc::new(Inner {
                name: name.into(),
                totals: Mutex::new(Ledger::default()),
                parent,
                span: OnceLock::new(),
                trace_root,
            }),
        }
    }

    /// Ties the run to its span (`span_cx`), where [`Run::record_input`] and
    /// [`Run::record_output`] write, under `content`. The first call wins.
    pub fn bind_span(&self, span_cx: Context, content: ContentPolicy) {
        let _ = self.inner.span.set((span_cx, content));
    }

    /// Records the run's input (the user's question), when the content policy
    /// captures content: `gen_ai.input.messages` (one user message) and `input.value`
    /// on the run's span, and `input.value` on the trace's local root span for the
    /// outermost run. Redacted and truncated like all content.
    pub fn record_input(&self, text: &str) {
        self.record_io(
            text,
            "user",
            c::GEN_AI_INPUT_MESSAGES,
            c::INPUT_VALUE,
            c::INPUT_MIME_TYPE,
        );
    }

    /// Records the run's final output (the answer), like [`Run::record_input`]:
    /// `gen_ai.output.messages` and `output.value`.
    pub fn record_output(&self, text: &str) {
        self.record_io(
            text,
            "assistant",
            c::GEN_AI_OUTPUT_MESSAGES,
            c::OUTPUT_VALUE,
            c::OUTPUT_MIME_TYPE,
        );
    }

    fn record_io(
        &self,
        text: &str,
        role: &str,
        messages_key: &'static str,
        value_key: &'static str,
        mime_key: &'static str,
    ) {
        let Some((span_cx, content)) = self.inner.span.get() else {
            return;
        };
        if !content.mode().on_span() {
            return;
        }
        let Some(text) = content.capture_text(text) else {
            return;
        };
        let mut message = serde_json::json!({
            "role": role,
            "parts": [{"type": "text", "content": text}],
        });
        if role == "assistant" {
            message["finish_reason"] = "stop".into();
        }
        let span = span_cx.span();
        span.set_attribute(KeyValue::new(
            messages_key,
            serde_json::Value::Array(vec![message]).to_string(),
        ));
        span.set_attribute(KeyValue::new(value_key, text.clone()));
        span.set_attribute(KeyValue::new(mime_key, "text/plain"));
        if let Some(root) = &self.inner.trace_root {
            let root = root.span();
            root.set_attribute(KeyValue::new(value_key, text));
            root.set_attribute(KeyValue::new(mime_key, "text/plain"));
        }
    }

    /// Records a snapshot of the agent's state (any JSON: the messages so far, pending
    /// tool calls, a plan) as an `aitrace.agent.state` event on the run's span, its
    /// attribute `aitrace.agent.state` holding the JSON, when the content policy
    /// captures content on spans. Redacted and truncated like all content. Viewers
    /// diff each snapshot against the previous one.
    pub fn record_state(&self, state: &serde_json::Value) {
        let Some((span_cx, content)) = self.inner.span.get() else {
            return;
        };
        if !content.mode().on_span() {
            return;
        }
        let Some(json) = content.capture_json(state) else {
            return;
        };
        span_cx.span().add_event(
            c::AITRACE_AGENT_STATE,
            vec![KeyValue::new(c::AITRACE_AGENT_STATE, json)],
        );
    }

    /// The run of the current OpenTelemetry context.
    pub fn current() -> Option<Run> {
        Context::map_current(|cx| cx.get::<Run>().cloned())
    }

    /// The run carried by `cx`.
    pub fn from_context(cx: &Context) -> Option<Run> {
        cx.get::<Run>().cloned()
    }

    /// `cx` with this run in it (attach it, or use it with `FutureExt::with_context`).
    pub fn in_context(&self, cx: &Context) -> Context {
        cx.with_value(self.clone())
    }

    /// Attaches the current context with this run until the guard drops.
    pub fn attach(&self) -> ContextGuard {
        self.in_context(&Context::current()).attach()
    }

    /// The run's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The enclosing run.
    pub fn parent(&self) -> Option<&Run> {
        self.inner.parent.as_ref()
    }

    /// The totals so far.
    pub fn totals(&self) -> RunTotals {
        self.ledger().totals
    }

    /// What the calls in flight have reserved (this run's and its sub-runs').
    pub fn reserved(&self) -> Reserved {
        self.ledger().reserved
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.inner.totals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves `want` on this run and every enclosing run if `admit`, shown this run's
    /// totals and current reservations, says so; checked and reserved under one lock, so
    /// concurrent calls cannot both pass on the same room. The reservation lasts until
    /// the returned guard drops.
    ///
    /// ```
    /// use aitrace_core::run::{Reserved, Run};
    ///
    /// let run = Run::new("planner");
    /// let want = Reserved { tokens: 600, calls: 1, ..Reserved::default() };
    /// let fits = |used: &aitrace_core::run::RunTotals, reserved: &Reserved| {
    ///     if used.usage.total_tokens() + reserved.tokens + 600 <= 1_000 { Ok(()) } else { Err("full") }
    /// };
    /// let first = run.reserve_if(want, fits).unwrap();
    /// assert_eq!(run.reserved().tokens, 600);
    /// assert_eq!(run.reserve_if(want, fits).unwrap_err(), "full");
    /// drop(first);
    /// assert_eq!(run.reserved(), Reserved::default());
    /// ```
    pub fn reserve_if<E>(
        &self,
        want: Reserved,
        admit: impl FnOnce(&RunTotals, &Reserved) -> Result<(), E>,
    ) -> Result<Reservation, E> {
        {
            let mut ledger = self.ledger();
            admit(&ledger.totals, &ledger.reserved)?;
            ledger.reserved.add(&want);
        }
        let mut parent = self.inner.parent.as_ref();
        while let Some(p) = parent {
            p.ledger().reserved.add(&want);
            parent = p.inner.parent.as_ref();
        }
        Ok(Reservation {
            run: self.clone(),
            held: want,
        })
    }

    /// Adds one LLM call to this run and every enclosing run. `None` usage or cost
    /// means unknown (the call counts, its cost is marked missing).
    pub fn record_llm_call(&self, usage: Option<Usage>, cost: Option<Cost>) {
        self.update(|t| {
            t.llm_calls += 1;
            if let Some(u) = usage {
                t.usage += u;
            }
            match cost {
                Some(cost) => t.cost += cost,
                None => t.calls_without_cost += 1,
            }
        });
    }

    /// Adds the totals of work done elsewhere (e.g. a consumer in another process that
    /// the run travelled to with a message) to this run and every enclosing run.
    pub fn record_totals(&self, other: &RunTotals) {
        self.update(|t| {
            t.usage += other.usage;
            t.cost += other.cost;
            t.llm_calls += other.llm_calls;
            t.calls_without_cost += other.calls_without_cost;
            t.tool_calls += other.tool_calls;
        });
    }

    /// Adds one tool call to this run and every enclosing run.
    pub fn record_tool_call(&self) {
        self.update(|t| t.tool_calls += 1);
    }

    fn update(&self, f: impl Fn(&mut RunTotals)) {
        let mut run = Some(self);
        while let Some(r) = run {
            f(&mut r.ledger().totals);
            run = r.inner.parent.as_ref();
        }
    }
}

/// A reservation made with [`Run::reserve_if`]; released from the run and its
/// enclosing runs when dropped.
#[derive(Debug)]
#[must_use = "the reservation is released when dropped"]
pub struct Reservation {
    run: Run,
    held: Reserved,
}

impl Reservation {
    /// What is reserved.
    pub fn reserved(&self) -> Reserved {
        self.held
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut run = Some(&self.run);
        while let Some(r) = run {
            r.ledger().reserved.remove(&self.held);
            run = r.inner.parent.as_ref();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_cost_is_marked_not_summed_as_exact() {
        let run = Run::with_parent("a", None);
        run.record_llm_call(
            Some(Usage::new(1, 1)),
            Some(Cost::from_picodollars(1_000_000)),
        );
        run.record_llm_call(Some(Usage::new(1, 1)), None);
        let attrs = run.totals().attributes();
        assert!(attrs
            .iter()
            .all(|kv| kv.key.as_str() != c::GEN_AI_USAGE_COST));
        assert!(attrs.contains(&KeyValue::new(c::AITRACE_COST_UNAVAILABLE, "partial")));
    }

    #[test]
    fn reservations_reach_enclosing_runs_and_are_released() {
        let parent = Run::with_parent("p", None);
        let child = Run::with_parent("c", Some(parent.clone()));
        let want = Reserved {
            tokens: 10,
            cost: Cost::from_picodollars(3),
            calls: 1,
        };
        let held = child.reserve_if(want, |_, _| Ok::<_, ()>(())).unwrap();
        assert_eq!(parent.reserved(), want);
        assert_eq!(child.reserved(), want);
        assert_eq!(held.reserved(), want);
        assert!(child
            .reserve_if(want, |_, r| if r.calls > 0 { Err(()) } else { Ok(()) })
            .is_err());
        drop(held);
        assert_eq!(parent.reserved(), Reserved::default());
        assert_eq!(child.reserved(), Reserved::default());
    }

    #[test]
    fn nested_runs_roll_up() {
        let parent = Run::with_parent("p", None);
        let child = Run::with_parent("c", Some(parent.clone()));
        child.record_tool_call();
        child.record_llm_call(Some(Usage::new(3, 4)), Some(Cost::from_picodollars(7)));
        assert_eq!(parent.totals(), child.totals());
        assert_eq!(parent.totals().tool_calls, 1);
    }
}
