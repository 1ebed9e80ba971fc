//! The cost report: tokens and cost per trace, per agent run, per model, per provider.
//!
//! Totals add up inference spans only (operation `chat`, `text_completion`,
//! `generate_content`, `embeddings`): agent spans carry run totals of the same calls, so
//! adding them too would count every call twice. An agent run's row sums the inference
//! spans inside it (a nested agent's calls count in its own row and in its parents'
//! rows; the overall total counts each call once). Cost is the calls'
//! `gen_ai.usage.cost`, added exactly (pico-dollars); calls without it are counted as
//! `unpriced_calls` and never taken as free: a total with no priced call has no cost
//! (`null` in JSON, `unknown` in the table).
//!
//! ```
//! use aitrace_insight::{CostReport, Filter};
//! use aitrace_insight::tracefile::parse_lines;
//!
//! let text = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"chat gpt-4o","startTimeUnixNano":"1000","endTimeUnixNano":"2000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"12"}},{"key":"gen_ai.usage.cost","value":{"doubleValue":0.5}}]}]}]}]}"#;
//! let traces = Filter::default().apply(parse_lines(text.as_bytes()).spans);
//! let report = CostReport::new(&traces);
//! assert_eq!(report.total.input_tokens, 12);
//! let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
//! assert_eq!(json["total"]["cost_usd"], 0.5);
//! ```

use std::io::{self, Write};

use serde::{Serialize, Serializer};

use aitrace_core::conventions as c;
use aitrace_core::cost::Cost;

use crate::text::printable;
use crate::time::{format_duration, format_rfc3339};
use crate::trace::IdMap;
use crate::tracefile::{AttrValue, SpanRecord};
use crate::Trace;

/// Tokens and cost summed over LLM calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Inference spans counted.
    pub llm_calls: u64,
    /// Of those, how many failed.
    pub failed_calls: u64,
    /// Input tokens (cached ones included, as the conventions count them).
    pub input_tokens: u64,
    /// Output tokens (reasoning ones included).
    pub output_tokens: u64,
    /// Input tokens read from the provider's cache.
    pub cache_read_input_tokens: u64,
    /// Input tokens written to the provider's cache.
    pub cache_creation_input_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_output_tokens: u64,
    /// Cost of the priced calls (`None` when no call was priced). In JSON:
    /// `cost_usd`, a number or `null`.
    #[serde(rename = "cost_usd", serialize_with = "cost_usd")]
    pub cost: Option<Cost>,
    /// Calls with no `gen_ai.usage.cost` (unknown model or usage): not in `cost`.
    pub unpriced_calls: u64,
}

fn cost_usd<S: Serializer>(cost: &Option<Cost>, serializer: S) -> Result<S::Ok, S::Error> {
    match cost {
        Some(cost) => serializer.serialize_f64(cost.usd()),
        None => serializer.serialize_none(),
    }
}

fn tokens(span: &SpanRecord, key: &str, legacy: Option<&str>) -> u64 {
    span.attr(key)
        .or_else(|| legacy.and_then(|k| span.attr(k)))
        .and_then(AttrValue::as_i64)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

/// `gen_ai.usage.cost` of a span as an exact amount (`None` when absent, negative or
/// not a number).
pub fn span_cost(span: &SpanRecord) -> Option<Cost> {
    let usd = span.attr(c::GEN_AI_USAGE_COST)?.as_f64()?;
    if !usd.is_finite() || usd < 0.0 {
        return None;
    }
    // f64 -> u128 saturates; the rounding error is far below a pico-dollar per call.
    Some(Cost::from_picodollars((usd * 1e12).round() as u128))
}

impl Totals {
    /// Adds one LLM call: its usage attributes (legacy `prompt_tokens` and
    /// `completion_tokens` when the current names are absent) and its cost.
    pub fn add_call(&mut self, span: &SpanRecord) {
        self.llm_calls += 1;
        self.failed_calls += u64::from(span.is_error());
        self.input_tokens += tokens(
            span,
            c::GEN_AI_USAGE_INPUT_TOKENS,
            Some(c::GEN_AI_USAGE_PROMPT_TOKENS),
        );
        self.output_tokens += tokens(
            span,
            c::GEN_AI_USAGE_OUTPUT_TOKENS,
            Some(c::GEN_AI_USAGE_COMPLETION_TOKENS),
        );
        self.cache_read_input_tokens += tokens(span, c::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, None);
        self.cache_creation_input_tokens += tokens(
            span,
            c::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
            Some(c::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
        );
        self.reasoning_output_tokens += tokens(span, c::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, None);
        match span_cost(span) {
            Some(cost) => self.cost = Some(self.cost.unwrap_or(Cost::ZERO) + cost),
            None => self.unpriced_calls += 1,
        }
    }

    /// Adds other totals to these.
    pub fn add(&mut self, other: &Totals) {
        self.llm_calls += other.llm_calls;
        self.failed_calls += other.failed_calls;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
        self.reasoning_output_tokens += other.reasoning_output_tokens;
        self.cost = match (self.cost, other.cost) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.unpriced_calls += other.unpriced_calls;
    }

    /// Totals over a trace's LLM calls ([`Trace::counted_calls`]: context spans and
    /// wrappers of another inference span left out).
    pub fn of_trace(trace: &Trace) -> Totals {
        let mut totals = Totals::default();
        for (s, counted) in trace.spans.iter().zip(trace.counted_calls()) {
            if counted {
                totals.add_call(&s.span);
            }
        }
        totals
    }

    /// The cost as text: `$0.000303`, `$0.000303 (+2 unpriced)`, or `unknown`.
    pub fn cost_text(&self) -> String {
        match (self.cost, self.unpriced_calls) {
            (Some(cost), 0) => cost.to_string(),
            (Some(cost), n) => format!("{cost} (+{n} unpriced)"),
            (None, _) => "unknown".to_owned(),
        }
    }

    /// One line: `2 LLM call(s), 1250 input + 320 output tokens (1024 cached), $0.000303`.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} LLM call(s), {} input + {} output tokens",
            self.llm_calls, self.input_tokens, self.output_tokens
        );
        let mut extra = Vec::new();
        if self.cache_read_input_tokens > 0 {
            extra.push(format!("{} cached", self.cache_read_input_tokens));
        }
        if self.cache_creation_input_tokens > 0 {
            extra.push(format!("{} cache-write", self.cache_creation_input_tokens));
        }
        if self.reasoning_output_tokens > 0 {
            extra.push(format!("{} reasoning", self.reasoning_output_tokens));
        }
        if !extra.is_empty() {
            out.push_str(&format!(" ({})", extra.join(", ")));
        }
        out.push_str(", ");
        match self.cost {
            Some(_) => out.push_str(&self.cost_text()),
            None => out.push_str("cost unknown"),
        }
        if self.failed_calls > 0 {
            out.push_str(&format!(", {} failed", self.failed_calls));
        }
        out
    }
}

/// One trace's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceCost {
    /// Trace id.
    pub trace_id: String,
    /// Name of the first root span.
    pub root: String,
    /// `service.name`s in the trace.
    pub services: Vec<String>,
    /// Start, RFC 3339 UTC.
    pub start: String,
    /// Start, Unix nanoseconds.
    pub start_unix_nano: u64,
    /// Wall time from the first start to the last end, milliseconds.
    pub duration_ms: f64,
    /// Spans in the trace (after filters; context spans included).
    pub spans: usize,
    /// Failed spans (any kind).
    pub failed_spans: usize,
    /// Totals over the trace's LLM calls.
    #[serde(flatten)]
    pub totals: Totals,
}

/// One agent run's row: the `invoke_agent` span and the LLM calls inside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRunCost {
    /// Trace id.
    pub trace_id: String,
    /// The agent span's id.
    pub span_id: String,
    /// `gen_ai.agent.name`, else the span name without `invoke_agent `.
    pub agent: String,
    /// Start, RFC 3339 UTC.
    pub start: String,
    /// Start, Unix nanoseconds.
    pub start_unix_nano: u64,
    /// Duration, milliseconds.
    pub duration_ms: f64,
    /// Whether the run failed.
    pub failed: bool,
    /// Totals over the LLM calls inside the run (nested runs included).
    #[serde(flatten)]
    pub totals: Totals,
}

/// One model's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCost {
    /// `gen_ai.provider.name` (else `gen_ai.system`, else `unknown`).
    pub provider: String,
    /// `gen_ai.response.model`, else `gen_ai.request.model`, else `unknown`.
    pub model: String,
    /// Totals over the model's calls.
    #[serde(flatten)]
    pub totals: Totals,
}

/// One provider's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderCost {
    /// `gen_ai.provider.name` (else `gen_ai.system`, else `unknown`).
    pub provider: String,
    /// Totals over the provider's calls.
    #[serde(flatten)]
    pub totals: Totals,
}

/// Totals per trace, per agent run, per model and per provider. Serializes to the JSON
/// that `aitrace cost --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    /// Traces in the report.
    pub trace_count: usize,
    /// Every LLM call, each counted once.
    pub total: Totals,
    /// Per trace, by start time.
    pub traces: Vec<TraceCost>,
    /// Per agent run, by start time.
    pub agent_runs: Vec<AgentRunCost>,
    /// Per (provider, model), most expensive first.
    pub models: Vec<ModelCost>,
    /// Per provider, most expensive first.
    pub providers: Vec<ProviderCost>,
}

fn provider_of(span: &SpanRecord) -> &str {
    span.attr_str(c::GEN_AI_PROVIDER_NAME)
        .or_else(|| span.attr_str(c::GEN_AI_SYSTEM))
        .unwrap_or("unknown")
}

fn agent_name(span: &SpanRecord) -> String {
    if let Some(name) = span.attr(c::GEN_AI_AGENT_NAME) {
        return name.to_string();
    }
    match span.name.strip_prefix("invoke_agent ") {
        Some(rest) => rest.to_owned(),
        None => span.name.to_string(),
    }
}

fn millis(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

/// Most expensive first, then most calls, then by name.
fn by_cost(a: &Totals, b: &Totals) -> std::cmp::Ordering {
    b.cost
        .cmp(&a.cost)
        .then_with(|| b.llm_calls.cmp(&a.llm_calls))
}

impl CostReport {
    /// Builds the report over traces (as [`Filter::apply`](crate::Filter::apply) gives
    /// them; context spans are not counted).
    pub fn new(traces: &[Trace]) -> CostReport {
        let mut total = Totals::default();
        let mut rows = Vec::with_capacity(traces.len());
        let mut agent_runs = Vec::new();
        // Per provider, its totals and its models' (each name copied once, when first
        // seen).
        let mut providers: IdMap<String, (Totals, IdMap<String, Totals>)> = IdMap::default();
        for trace in traces {
            // Each call's totals, once, for the agent runs' range sums below.
            let mut calls: Vec<Option<Totals>> = vec![None; trace.spans.len()];
            let mut trace_totals = Totals::default();
            let mut failed_spans = 0;
            let counted = trace.counted_calls();
            for (i, s) in trace.spans.iter().enumerate() {
                if s.context {
                    continue;
                }
                failed_spans += usize::from(s.span.is_error());
                if !counted[i] {
                    continue;
                }
                let mut one = Totals::default();
                one.add_call(&s.span);
                trace_totals.add(&one);
                let provider = provider_of(&s.span);
                let shown;
                let model = match s.span.model() {
                    None => "unknown",
                    Some(v) => match v.as_str() {
                        Some(name) => name,
                        None => {
                            shown = v.to_string();
                            &shown
                        }
                    },
                };
                let (provider_totals, models) = match providers.get_mut(provider) {
                    Some(p) => p,
                    None => providers.entry(provider.to_owned()).or_default(),
                };
                provider_totals.add(&one);
                match models.get_mut(model) {
                    Some(t) => t.add(&one),
                    None => {
                        models.insert(model.to_owned(), one);
                    }
                }
                calls[i] = Some(one);
            }
            for (i, s) in trace.spans.iter().enumerate() {
                if !s.span.is_agent() {
                    continue;
                }
                let mut run = Totals::default();
                for one in calls[i..s.subtree_end.max(i + 1)].iter().flatten() {
                    run.add(one);
                }
                if s.context && run.llm_calls == 0 {
                    continue;
                }
                agent_runs.push(AgentRunCost {
                    trace_id: trace.trace_id.clone(),
                    span_id: s.span.span_id.to_string(),
                    agent: agent_name(&s.span),
                    start: format_rfc3339(s.span.start_unix_nano),
                    start_unix_nano: s.span.start_unix_nano,
                    duration_ms: millis(s.span.duration_nanos()),
                    failed: s.span.is_error(),
                    totals: run,
                });
            }
            total.add(&trace_totals);
            let start = trace.start_unix_nano();
            rows.push(TraceCost {
                trace_id: trace.trace_id.clone(),
                root: trace.root().map(|r| r.name.to_string()).unwrap_or_default(),
                services: trace.services().into_iter().map(str::to_owned).collect(),
                start: format_rfc3339(start),
                start_unix_nano: start,
                duration_ms: millis(trace.end_unix_nano().saturating_sub(start)),
                spans: trace.spans.len(),
                failed_spans,
                totals: trace_totals,
            });
        }
        agent_runs.sort_by(|a, b| {
            a.start_unix_nano
                .cmp(&b.start_unix_nano)
                .then_with(|| a.trace_id.cmp(&b.trace_id))
        });
        let mut models: Vec<ModelCost> = providers
            .iter_mut()
            .flat_map(|(provider, (_, models))| {
                models.drain().map(|(model, totals)| ModelCost {
                    provider: provider.clone(),
                    model,
                    totals,
                })
            })
            .collect();
        models.sort_by(|a, b| {
            by_cost(&a.totals, &b.totals)
                .then_with(|| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)))
        });
        let mut providers: Vec<ProviderCost> = providers
            .into_iter()
            .map(|(provider, (totals, _))| ProviderCost { provider, totals })
            .collect();
        providers.sort_by(|a, b| {
            by_cost(&a.totals, &b.totals).then_with(|| a.provider.cmp(&b.provider))
        });
        CostReport {
            trace_count: traces.len(),
            total,
            traces: rows,
            agent_runs,
            models,
            providers,
        }
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Writes the report as tables: by trace, by agent run, by model, by provider, and
    /// the total.
    pub fn write_table(&self, out: &mut dyn Write) -> io::Result<()> {
        const USAGE: [&str; 6] = ["calls", "input", "output", "cached", "reasoning", "cost"];
        let usage = |t: &Totals| -> Vec<String> {
            let calls = if t.failed_calls > 0 {
                format!("{} ({} failed)", t.llm_calls, t.failed_calls)
            } else {
                t.llm_calls.to_string()
            };
            vec![
                calls,
                t.input_tokens.to_string(),
                t.output_tokens.to_string(),
                t.cache_read_input_tokens.to_string(),
                t.reasoning_output_tokens.to_string(),
                t.cost_text(),
            ]
        };

        let mut table = Table::new("by trace", &["trace", "start", "duration", "root"], &USAGE);
        for t in &self.traces {
            let mut row = vec![
                t.trace_id.clone(),
                t.start.clone(),
                format_duration((t.duration_ms * 1e6) as u64),
                t.root.clone(),
            ];
            row.extend(usage(&t.totals));
            table.rows.push(row);
        }
        table.write(out)?;

        let mut table = Table::new(
            "by agent run",
            &["agent", "trace", "span", "duration"],
            &USAGE,
        );
        for r in &self.agent_runs {
            let mut agent = r.agent.clone();
            if r.failed {
                agent.push_str(" (failed)");
            }
            let mut row = vec![
                agent,
                r.trace_id.clone(),
                r.span_id.clone(),
                format_duration((r.duration_ms * 1e6) as u64),
            ];
            row.extend(usage(&r.totals));
            table.rows.push(row);
        }
        table.write(out)?;

        let mut table = Table::new("by model", &["provider", "model"], &USAGE);
        for m in &self.models {
            let mut row = vec![m.provider.clone(), m.model.clone()];
            row.extend(usage(&m.totals));
            table.rows.push(row);
        }
        table.write(out)?;

        let mut table = Table::new("by provider", &["provider"], &USAGE);
        for p in &self.providers {
            let mut row = vec![p.provider.clone()];
            row.extend(usage(&p.totals));
            table.rows.push(row);
        }
        table.write(out)?;

        writeln!(
            out,
            "total: {} trace(s), {}",
            self.trace_count,
            self.total.summary()
        )
    }
}

/// A text table: left-aligned text columns, then right-aligned number columns.
struct Table {
    title: &'static str,
    header: Vec<&'static str>,
    text_columns: usize,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(title: &'static str, text: &[&'static str], numbers: &[&'static str]) -> Table {
        Table {
            title,
            header: text.iter().chain(numbers).copied().collect(),
            text_columns: text.len(),
            rows: Vec::new(),
        }
    }

    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        let rows: Vec<Vec<std::borrow::Cow<'_, str>>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(|cell| printable(cell)).collect())
            .collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        writeln!(out, "{}", self.title)?;
        let mut line = String::new();
        let mut write_row = |cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
            line.clear();
            for (i, (cell, width)) in cells.zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = width.saturating_sub(cell.chars().count());
                if i < self.text_columns {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                } else {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
            writeln!(out, "{}", line.trim_end())
        };
        write_row(&mut self.header.iter().copied())?;
        for row in &rows {
            write_row(&mut row.iter().map(|c| c.as_ref()))?;
        }
        writeln!(out)
    }
}
