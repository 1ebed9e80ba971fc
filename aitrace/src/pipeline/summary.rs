//! The summary printed when the guard drops, from memory: the last few traces as trees,
//! and totals over every span since start. A server that ran for a week prints a
//! screenful, not a week of traces, and the file is never read back.

use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;

use aitrace_insight::cost::Totals;
use aitrace_insight::tracefile::{SpanRecord, Text};
use aitrace_insight::{tree, Trace};

/// Traces shown as trees.
pub(crate) const SHOWN_TRACES: usize = 3;
/// Spans kept per shown trace: a runaway trace is cut, the totals still count it all.
pub(crate) const SPANS_PER_TRACE: usize = 500;
/// Traces kept while their spans arrive: more than are shown, because a trace's root
/// ends (and is exported) after its children, often after newer traces began.
const KEPT_TRACES: usize = 8;
/// Trace ids remembered to count traces once, however their spans are batched.
const SEEN_IDS: usize = 4096;

/// The last traces exported, and totals over everything exported.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Oldest first; a trace whose spans arrive in several batches stays one entry.
    traces: VecDeque<Kept>,
    /// The last trace ids seen (oldest first), for counting.
    seen_order: VecDeque<Text>,
    seen: HashSet<Text>,
    /// Parents of the last LLM call spans (oldest first): an inference span among
    /// them wraps a call already counted.
    wrapping_order: VecDeque<Text>,
    wrapping: HashSet<Text>,
    spans: u64,
    traces_seen: u64,
    batches: u64,
    totals: Totals,
}

#[derive(Debug)]
struct Kept {
    trace_id: String,
    spans: Vec<SpanRecord>,
    cut: u64,
    /// When (the batch count) its last span arrived: the last traces shown are the
    /// last to have finished.
    last_batch: u64,
}

impl Kept {
    /// Whether the trace's local root is among the kept spans: a span with no parent,
    /// or a server or consumer span whose parent is remote (not among them).
    fn has_root(&self) -> bool {
        self.spans.iter().any(|s| {
            s.parent_span_id.is_empty()
                || (matches!(s.kind, 2 | 5)
                    && !self.spans.iter().any(|p| p.span_id == s.parent_span_id))
        })
    }
}

impl Recent {
    /// Counts the spans of one exported batch and keeps those of the last traces.
    pub(crate) fn add(&self, spans: Vec<SpanRecord>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.batches += 1;
        let batch = inner.batches;
        for span in spans {
            inner.spans += 1;
            if span.is_inference() {
                // A span around an LLM call already counted (a framework's own `chat`
                // span around ours: children end, and arrive, first) is not a call.
                if !inner.wrapping.contains(span.span_id.as_str()) {
                    inner.totals.add_call(&span);
                }
                if !span.parent_span_id.is_empty()
                    && inner.wrapping.insert(span.parent_span_id.clone())
                {
                    inner.wrapping_order.push_back(span.parent_span_id.clone());
                    if inner.wrapping_order.len() > SEEN_IDS {
                        if let Some(old) = inner.wrapping_order.pop_front() {
                            inner.wrapping.remove(&old);
                        }
                    }
                }
            }
            let at = inner
                .traces
                .iter()
                .rposition(|t| t.trace_id == span.trace_id);
            let kept = match at {
                Some(i) => &mut inner.traces[i],
                None => {
                    if inner.seen.insert(span.trace_id.clone()) {
                        inner.traces_seen += 1;
                        inner.seen_order.push_back(span.trace_id.clone());
                        if inner.seen_order.len() > SEEN_IDS {
                            if let Some(old) = inner.seen_order.pop_front() {
                                inner.seen.remove(&old);
                            }
                        }
                    }
                    if inner.traces.len() == KEPT_TRACES {
                        inner.traces.pop_front();
                    }
                    inner.traces.push_back(Kept {
                        trace_id: span.trace_id.to_string(),
                        spans: Vec::new(),
                        cut: 0,
                        last_batch: batch,
                    });
                    let last = inner.traces.len() - 1;
                    &mut inner.traces[last]
                }
            };
            kept.last_batch = batch;
            if kept.spans.len() < SPANS_PER_TRACE {
                kept.spans.push(span);
            } else {
                kept.cut += 1;
            }
        }
    }

    /// The summary text: trees of the last traces, the totals, and where the file is.
    pub(crate) fn render(&self, file: &Path) -> String {
        let Ok(inner) = self.inner.lock() else {
            return String::new();
        };
        if inner.spans == 0 {
            return "aitrace: no spans were recorded, so no trace file was written".to_owned();
        }
        // The last traces whose root has arrived (a trace still running, or one whose
        // first spans were let go, would show as orphans), else the last ones at all.
        let complete: Vec<&Kept> = inner.traces.iter().filter(|t| t.has_root()).collect();
        let mut shown_kept: Vec<&Kept> = if complete.is_empty() {
            inner.traces.iter().collect()
        } else {
            complete
        };
        shown_kept.sort_by_key(|t| t.last_batch);
        let shown_kept = &shown_kept[shown_kept.len().saturating_sub(SHOWN_TRACES)..];
        let mut traces: Vec<Trace> = shown_kept
            .iter()
            .flat_map(|t| Trace::group(t.spans.iter().cloned()))
            .collect();
        traces.sort_by_key(Trace::start_unix_nano);
        let mut out = tree::render(&traces, &tree::TreeOptions::default());
        let cut: u64 = shown_kept.iter().map(|t| t.cut).sum();
        if cut > 0 {
            let _ = writeln!(out, "({cut} span(s) of these traces not shown)");
        }
        let shown = shown_kept.len() as u64;
        if inner.traces_seen > shown {
            let _ = writeln!(
                out,
                "showing the last {shown} of {} traces ({} spans) since start",
                inner.traces_seen, inner.spans
            );
            let _ = writeln!(out, "all traces: {}", inner.totals.summary());
        }
        let _ = write!(
            out,
            "trace file: {} (read it with `aitrace tree`)",
            file.display()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: &str, id: &str, parent: &str, start: u64) -> SpanRecord {
        SpanRecord {
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            name: format!("span {id}").into(),
            kind: 1,
            start_unix_nano: start,
            end_unix_nano: start + 10,
            status_code: 0,
            status_message: Default::default(),
            service: "svc".into(),
            attributes: Vec::new(),
            events: Vec::new(),
        }
    }

    /// A trace's root ends last: its spans come in two batches, with newer traces'
    /// spans between them. It is still one trace, shown whole.
    #[test]
    fn a_trace_split_across_batches_is_counted_once_and_shown_whole() {
        let recent = Recent::default();
        recent.add(vec![span("t1", "c1", "r1", 2), span("t1", "c2", "r1", 3)]);
        for t in ["t2", "t3", "t4"] {
            recent.add(vec![span(t, "x", "", 100)]);
        }
        recent.add(vec![span("t1", "r1", "", 1)]);
        for t in ["t2", "t3"] {
            recent.add(vec![span(t, "y", "x", 101)]);
        }
        let text = recent.render(Path::new("f.jsonl"));
        assert!(
            text.contains("showing the last 3 of 4 traces (8 spans)"),
            "{text}"
        );
        assert!(!text.contains("orphan"), "{text}");
        // t1's root arrived last: it is among the shown, whole (3 spans).
        assert!(
            text.contains("trace t1") && text.contains("3 span(s)"),
            "{text}"
        );
    }

    fn chat(trace: &str, id: &str, parent: &str) -> SpanRecord {
        let mut s = span(trace, id, parent, 5);
        s.attributes = vec![
            (
                "gen_ai.operation.name".into(),
                aitrace_insight::tracefile::AttrValue::Str("chat".into()),
            ),
            (
                "gen_ai.usage.input_tokens".into(),
                aitrace_insight::tracefile::AttrValue::Int(10),
            ),
        ];
        s
    }

    /// rig's `chat` span around ours: one call, counted once.
    #[test]
    fn a_chat_span_around_a_counted_call_is_not_counted_again() {
        let recent = Recent::default();
        recent.add(vec![chat("t1", "ours", "rigs")]);
        recent.add(vec![
            chat("t1", "rigs", "agent"),
            span("t1", "agent", "", 1),
        ]);
        recent.add(vec![chat("t2", "solo", "")]);
        for t in ["t3", "t4", "t5"] {
            recent.add(vec![span(t, "x", "", 100)]);
        }
        let text = recent.render(Path::new("f.jsonl"));
        assert!(
            text.contains("all traces: 2 LLM call(s), 20 input"),
            "{text}"
        );
    }
}
