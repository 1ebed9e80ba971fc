//! The summary printed when the guard drops, from memory: the last few traces as trees,
//! and totals over every span since start. A server that ran for a week prints a
//! screenful, not a week of traces, and the file is never read back.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;

use aitrace_insight::cost::Totals;
use aitrace_insight::tracefile::SpanRecord;
use aitrace_insight::{tree, Trace};

/// Traces shown as trees.
pub(crate) const SHOWN_TRACES: usize = 3;
/// Spans kept per shown trace: a runaway trace is cut, the totals still count it all.
pub(crate) const SPANS_PER_TRACE: usize = 500;

/// The last traces exported, and totals over everything exported.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Oldest first; a trace whose spans arrive in several batches stays one entry.
    traces: VecDeque<Kept>,
    spans: u64,
    traces_seen: u64,
    totals: Totals,
}

#[derive(Debug)]
struct Kept {
    trace_id: String,
    spans: Vec<SpanRecord>,
    cut: u64,
}

impl Recent {
    /// Counts the spans of one exported batch and keeps those of the last traces.
    pub(crate) fn add(&self, spans: Vec<SpanRecord>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        for span in spans {
            inner.spans += 1;
            if span.is_inference() {
                inner.totals.add_call(&span);
            }
            let at = inner
                .traces
                .iter()
                .rposition(|t| t.trace_id == span.trace_id);
            let kept = match at {
                Some(i) => &mut inner.traces[i],
                None => {
                    inner.traces_seen += 1;
                    if inner.traces.len() == SHOWN_TRACES {
                        inner.traces.pop_front();
                    }
                    inner.traces.push_back(Kept {
                        trace_id: span.trace_id.clone(),
                        spans: Vec::new(),
                        cut: 0,
                    });
                    let last = inner.traces.len() - 1;
                    &mut inner.traces[last]
                }
            };
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
        let traces: Vec<Trace> = inner
            .traces
            .iter()
            .flat_map(|t| Trace::group(t.spans.iter().cloned()))
            .collect();
        let mut out = tree::render(&traces, &tree::TreeOptions::default());
        let cut: u64 = inner.traces.iter().map(|t| t.cut).sum();
        if cut > 0 {
            let _ = writeln!(out, "({cut} span(s) of these traces not shown)");
        }
        let shown = inner.traces.len() as u64;
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
