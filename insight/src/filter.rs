//! Which spans a report looks at.

use crate::tracefile::SpanRecord;

use crate::Trace;

/// What to look at: by trace id, time range, span name, errors.
///
/// Two kinds of filter:
/// - [`trace_id`](Filter::trace_id), [`since`](Filter::since) and
///   [`until`](Filter::until) keep spans while reading ([`Filter::keeps`]), so the rest
///   never takes memory. A span is in the time range when it overlaps it.
/// - [`name`](Filter::name) and [`errors_only`](Filter::errors_only) select spans in
///   the built trees ([`Filter::selects`]): a selected span comes with its subtree
///   (what it contains) and, shown as context only, its ancestors; traces with nothing
///   selected are dropped. So `--name "invoke_agent planner"` gives the planner's runs
///   and everything they did, and `--errors` the failed spans with where they sat.
///
/// ```
/// use aitrace_insight::Filter;
/// use aitrace_insight::tracefile::parse_lines;
///
/// let text = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"chat gpt-4o","startTimeUnixNano":"1000","endTimeUnixNano":"2000","status":{"code":2}}]}]}]}"#;
/// let filter = Filter {
///     trace_id: Some("0AF765".into()),
///     errors_only: true,
///     ..Filter::default()
/// };
/// let traces = filter.apply(parse_lines(text.as_bytes()).spans);
/// assert_eq!(traces.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Trace id, or a prefix of it (hex, any case).
    pub trace_id: Option<String>,
    /// Keep spans that end at or after this time (Unix nanoseconds).
    pub since: Option<u64>,
    /// Keep spans that start at or before this time (Unix nanoseconds).
    pub until: Option<u64>,
    /// Select spans whose name contains this (case-sensitive).
    pub name: Option<String>,
    /// Select failed spans only (status error or `error.type` set).
    pub errors_only: bool,
}

impl Filter {
    /// Whether a span passes the trace id and time filters (applied while reading).
    pub fn keeps(&self, span: &SpanRecord) -> bool {
        if let Some(prefix) = &self.trace_id {
            let id = span.trace_id.as_bytes();
            let prefix = prefix.as_bytes();
            if id.len() < prefix.len() || !id[..prefix.len()].eq_ignore_ascii_case(prefix) {
                return false;
            }
        }
        if self
            .since
            .is_some_and(|since| span.end_unix_nano.max(span.start_unix_nano) < since)
        {
            return false;
        }
        if self.until.is_some_and(|until| span.start_unix_nano > until) {
            return false;
        }
        true
    }

    /// Whether the span name and error filters select a span.
    pub fn selects(&self, span: &SpanRecord) -> bool {
        if self.errors_only && !span.is_error() {
            return false;
        }
        match &self.name {
            Some(part) => span.name.contains(part.as_str()),
            None => true,
        }
    }

    /// Whether [`selects`](Filter::selects) picks every span.
    pub fn selects_all(&self) -> bool {
        self.name.is_none() && !self.errors_only
    }

    /// Keeps the spans, builds the traces, selects: the whole pipeline.
    pub fn apply(&self, spans: impl IntoIterator<Item = SpanRecord>) -> Vec<Trace> {
        let traces = Trace::group(spans.into_iter().filter(|s| self.keeps(s)));
        self.select(traces)
    }

    /// Applies the name and error selection to built traces.
    pub fn select(&self, mut traces: Vec<Trace>) -> Vec<Trace> {
        if !self.selects_all() {
            traces.retain_mut(|t| t.retain_selected(|s| self.selects(s)));
        }
        traces
    }
}
