//! Spans grouped into traces and laid out as trees.

use std::collections::HashMap;

use crate::tracefile::{SpanRecord, Text};

/// Maps of ids: foldhash (randomly seeded per map) instead of SipHash, which was 2% of
/// reading and grouping a file.
type IdMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A span in its trace's tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSpan {
    /// The span.
    pub span: SpanRecord,
    /// Depth in the tree (0 for a root).
    pub depth: usize,
    /// Index of the parent in [`Trace::spans`] (`None` for a root).
    pub parent: Option<usize>,
    /// One past the index of the last span of this span's subtree: the subtree is
    /// `spans[i..subtree_end]`.
    pub subtree_end: usize,
    /// Whether this is the last child of its parent (or the last root).
    pub last_sibling: bool,
    /// The parent span is not in the input (shown as a root, never dropped).
    pub orphan: bool,
    /// The span's parent chain loops back to it; the loop was cut here.
    pub cycle: bool,
    /// Shown only as the ancestor of a span a filter selected; not counted in totals.
    pub context: bool,
}

/// The spans of one trace in tree order: a depth-first walk from the roots, children
/// by start time, so every subtree is a contiguous range.
///
/// ```
/// use aitrace_insight::Trace;
/// use aitrace_insight::tracefile::parse_lines;
///
/// let text = concat!(
///     r#"{"resourceSpans":[{"scopeSpans":[{"spans":["#,
///     r#"{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"00000000000000b1","parentSpanId":"00000000000000a1","name":"chat","startTimeUnixNano":"2","endTimeUnixNano":"3"},"#,
///     r#"{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"00000000000000a1","name":"agent","startTimeUnixNano":"1","endTimeUnixNano":"4"}"#,
///     r#"]}]}]}"#
/// );
/// let traces = Trace::group(parse_lines(text.as_bytes()).spans);
/// let names: Vec<_> = traces[0].spans.iter().map(|s| (s.span.name.as_str(), s.depth)).collect();
/// assert_eq!(names, [("agent", 0), ("chat", 1)]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Trace id, lower-case hex.
    pub trace_id: String,
    /// Spans in tree order.
    pub spans: Vec<TraceSpan>,
    /// Spans dropped because another span of the trace had the same id (a batch
    /// exported twice, or files read twice).
    pub duplicates: usize,
}

impl Trace {
    /// Groups spans by trace and builds each trace's tree. Traces come in order of
    /// their first start time (then trace id).
    pub fn group(spans: impl IntoIterator<Item = SpanRecord>) -> Vec<Trace> {
        let mut index: IdMap<Text, usize> = IdMap::default();
        let mut groups: Vec<Vec<SpanRecord>> = Vec::new();
        for span in spans {
            let i = match index.get(span.trace_id.as_str()) {
                Some(&i) => i,
                None => {
                    index.insert(span.trace_id.clone(), groups.len());
                    groups.push(Vec::new());
                    groups.len() - 1
                }
            };
            groups[i].push(span);
        }
        let mut traces: Vec<Trace> = groups.into_iter().map(Trace::build).collect();
        // Each trace's start read once (it is a scan of its spans).
        traces.sort_by_cached_key(|t| (t.start_unix_nano(), t.trace_id.clone()));
        traces
    }

    /// Builds the tree of one trace's spans (all with the same trace id).
    fn build(mut spans: Vec<SpanRecord>) -> Trace {
        let trace_id = spans
            .first()
            .map(|s| s.trace_id.clone())
            .unwrap_or_default();
        spans.sort_by(|a, b| {
            a.start_unix_nano
                .cmp(&b.start_unix_nano)
                .then_with(|| b.end_unix_nano.cmp(&a.end_unix_nano))
        });
        // Span ids are unique in a trace: a second copy is a duplicate export. Keep the
        // first (earliest) copy.
        let mut first: IdMap<&str, usize> =
            IdMap::with_capacity_and_hasher(spans.len(), Default::default());
        let mut keep = vec![true; spans.len()];
        for (i, span) in spans.iter().enumerate() {
            if *first.entry(span.span_id.as_str()).or_insert(i) != i {
                keep[i] = false;
            }
        }
        let n = spans.len();
        let mut parent: Vec<Option<usize>> = vec![None; n];
        let mut orphan = vec![false; n];
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut roots = Vec::new();
        for (i, span) in spans.iter().enumerate() {
            if !keep[i] {
                continue;
            }
            if span.parent_span_id.is_empty() || is_zero_id(&span.parent_span_id) {
                roots.push(i);
                continue;
            }
            match first.get(span.parent_span_id.as_str()) {
                Some(&p) => {
                    parent[i] = Some(p);
                    children[p].push(i);
                }
                None => {
                    orphan[i] = true;
                    roots.push(i);
                }
            }
        }
        drop(first);

        // Depth-first, iteratively (a deep chain must not overflow the stack); a
        // `visited` mark makes a parent cycle impossible to loop on.
        let mut order: Vec<(usize, usize, bool)> = Vec::with_capacity(n);
        let mut visited = vec![false; n];
        let mut stack: Vec<(usize, usize)> = Vec::new();
        let mut walk = |start: usize,
                        order: &mut Vec<(usize, usize, bool)>,
                        visited: &mut Vec<bool>,
                        cycle: bool| {
            stack.push((start, 0));
            let mut first_node = true;
            while let Some((i, depth)) = stack.pop() {
                if visited[i] {
                    continue;
                }
                visited[i] = true;
                order.push((i, depth, cycle && first_node));
                first_node = false;
                for &child in children[i].iter().rev() {
                    if !visited[child] {
                        stack.push((child, depth + 1));
                    }
                }
            }
        };
        for &root in &roots {
            walk(root, &mut order, &mut visited, false);
        }
        // What is left hangs off a parent cycle: cut each loop at its earliest span.
        for i in 0..n {
            if keep[i] && !visited[i] {
                walk(i, &mut order, &mut visited, true);
            }
        }

        let duplicates = keep.iter().filter(|k| !**k).count();
        let mut slots: Vec<Option<SpanRecord>> = spans.into_iter().map(Some).collect();
        let spans = order
            .into_iter()
            .filter_map(|(i, depth, cycle)| {
                Some(TraceSpan {
                    span: slots[i].take()?,
                    depth,
                    parent: None,
                    subtree_end: 0,
                    last_sibling: false,
                    orphan: orphan[i],
                    cycle,
                    context: false,
                })
            })
            .collect();
        let mut trace = Trace {
            trace_id: trace_id.into(),
            spans,
            duplicates,
        };
        trace.link();
        trace
    }

    /// Derives parents, subtree ranges and last-sibling marks from the depths of a
    /// tree-order list.
    fn link(&mut self) {
        let n = self.spans.len();
        // Open ancestors, innermost last.
        let mut open: Vec<usize> = Vec::new();
        for j in 0..n {
            let depth = self.spans[j].depth;
            while let Some(&top) = open.last() {
                if self.spans[top].depth >= depth {
                    open.pop();
                    self.spans[top].subtree_end = j;
                    self.spans[top].last_sibling = self.spans[top].depth > depth;
                } else {
                    break;
                }
            }
            self.spans[j].parent = open.last().copied();
            open.push(j);
        }
        for top in open {
            self.spans[top].subtree_end = n;
            self.spans[top].last_sibling = true;
        }
    }

    /// Which spans count as LLM calls in totals: the inference spans with no inference
    /// span below them. A framework's own `chat` span around ours (rig's, say) reports
    /// the same call's usage again; only the innermost of nested ones is counted, so a
    /// call is never counted twice. Indexed like [`spans`](Self::spans).
    ///
    /// ```
    /// use aitrace_insight::Trace;
    /// use aitrace_insight::tracefile::parse_lines;
    ///
    /// let span = |id: &str, parent: &str| format!(
    ///     r#"{{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"{id}","parentSpanId":"{parent}","name":"chat","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{{"key":"gen_ai.operation.name","value":{{"stringValue":"chat"}}}}]}}"#);
    /// let text = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{},{}]}}]}}]}}"#,
    ///     span("00000000000000a1", ""), span("00000000000000b1", "00000000000000a1"));
    /// let traces = Trace::group(parse_lines(text.as_bytes()).spans);
    /// assert_eq!(traces[0].counted_calls(), [false, true]);
    /// ```
    pub fn counted_calls(&self) -> Vec<bool> {
        // Children come after their parent (depth-first order): walking backwards,
        // every span is seen before its parent.
        let mut below = vec![false; self.spans.len()];
        for i in (0..self.spans.len()).rev() {
            let s = &self.spans[i];
            if let Some(p) = s.parent {
                if below[i] || (!s.context && s.span.is_inference()) {
                    below[p] = true;
                }
            }
        }
        self.spans
            .iter()
            .zip(below)
            .map(|(s, below)| !s.context && s.span.is_inference() && !below)
            .collect()
    }

    /// Earliest start of the trace's spans (0 when empty).
    pub fn start_unix_nano(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.span.start_unix_nano)
            .min()
            .unwrap_or(0)
    }

    /// Latest end of the trace's spans (0 when empty).
    pub fn end_unix_nano(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.span.end_unix_nano.max(s.span.start_unix_nano))
            .max()
            .unwrap_or(0)
    }

    /// The first root span (the trace's entry point, usually).
    pub fn root(&self) -> Option<&SpanRecord> {
        self.spans.first().map(|s| &s.span)
    }

    /// The distinct `service.name`s of the trace, in order of appearance.
    pub fn services(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in &self.spans {
            let service = s.span.service.as_str();
            if !out.contains(&service) {
                out.push(service);
            }
        }
        out
    }

    /// Keeps the spans `selected` picks, their subtrees (all they contain), and their
    /// ancestors as [`context`](TraceSpan::context). Returns whether anything is left.
    pub fn retain_selected(&mut self, mut selected: impl FnMut(&SpanRecord) -> bool) -> bool {
        let n = self.spans.len();
        let mut keep = vec![false; n];
        let mut context = vec![false; n];
        let mut i = 0;
        while i < n {
            if selected(&self.spans[i].span) {
                let end = self.spans[i].subtree_end.max(i + 1);
                keep[i..end].iter_mut().for_each(|k| *k = true);
                let mut up = self.spans[i].parent;
                while let Some(p) = up {
                    if keep[p] || context[p] {
                        break;
                    }
                    context[p] = true;
                    up = self.spans[p].parent;
                }
                i = end;
            } else {
                i += 1;
            }
        }
        let old = std::mem::take(&mut self.spans);
        self.spans = old
            .into_iter()
            .enumerate()
            .filter(|(i, _)| keep[*i] || context[*i])
            .map(|(i, mut s)| {
                s.context = context[i] && !keep[i];
                s
            })
            .collect();
        self.link();
        !self.spans.is_empty()
    }
}

fn is_zero_id(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A span for tests (also used by the tree's tests).
    pub(crate) fn span(id: &str, parent: &str, name: &str, start: u64, end: u64) -> SpanRecord {
        SpanRecord {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            name: name.into(),
            kind: 1,
            start_unix_nano: start,
            end_unix_nano: end,
            status_code: 0,
            status_message: Text::new(),
            service: Text::new(),
            attributes: Vec::new(),
            events: Vec::new(),
        }
    }

    fn shape(trace: &Trace) -> Vec<(String, usize, Option<usize>, usize, bool)> {
        trace
            .spans
            .iter()
            .map(|s| {
                (
                    s.span.name.to_string(),
                    s.depth,
                    s.parent,
                    s.subtree_end,
                    s.last_sibling,
                )
            })
            .collect()
    }

    #[test]
    fn tree_order_subtrees_and_siblings() {
        let traces = Trace::group(vec![
            span("c", "a", "c", 5, 6),
            span("a", "", "a", 0, 10),
            span("b", "a", "b", 1, 4),
            span("d", "b", "d", 2, 3),
        ]);
        assert_eq!(
            shape(&traces[0]),
            [
                ("a".into(), 0, None, 4, true),
                ("b".into(), 1, Some(0), 3, false),
                ("d".into(), 2, Some(1), 3, true),
                ("c".into(), 1, Some(0), 4, true),
            ]
        );
    }

    #[test]
    fn orphans_cycles_self_parents_and_duplicates_are_all_shown_once() {
        let traces = Trace::group(vec![
            span("a", "", "root", 0, 10),
            span("b", "missing", "lost", 1, 2),
            span("x", "y", "cycle-x", 3, 4),
            span("y", "x", "cycle-y", 4, 5),
            span("s", "s", "self", 6, 7),
            span("a", "", "root-again", 0, 10),
        ]);
        let t = &traces[0];
        let names: Vec<_> = t.spans.iter().map(|s| s.span.name.as_str()).collect();
        assert_eq!(names, ["root", "lost", "cycle-x", "cycle-y", "self"]);
        assert_eq!(t.duplicates, 1);
        assert!(t.spans[1].orphan);
        assert!(t.spans[2].cycle && !t.spans[3].cycle && t.spans[3].depth == 1);
        assert!(t.spans[4].cycle);
    }

    #[test]
    fn a_deep_chain_does_not_overflow() {
        let n = 200_000u64;
        let spans = (1..=n).map(|i| {
            let parent = if i == 1 {
                String::new()
            } else {
                format!("{}", i - 1)
            };
            span(&i.to_string(), &parent, "s", i, 2 * n - i)
        });
        let traces = Trace::group(spans.collect::<Vec<_>>());
        assert_eq!(traces[0].spans.len(), n as usize);
        assert_eq!(traces[0].spans[n as usize - 1].depth, n as usize - 1);
    }

    #[test]
    fn selecting_keeps_subtrees_and_ancestors_as_context() {
        let mut traces = Trace::group(vec![
            span("a", "", "agent", 0, 10),
            span("b", "a", "tool", 1, 4),
            span("c", "b", "GET", 2, 3),
            span("d", "a", "chat", 5, 6),
        ]);
        assert!(traces[0].retain_selected(|s| s.name == "tool"));
        let kept: Vec<_> = traces[0]
            .spans
            .iter()
            .map(|s| (s.span.name.as_str(), s.context, s.last_sibling))
            .collect();
        assert_eq!(
            kept,
            [
                ("agent", true, true),
                ("tool", false, true),
                ("GET", false, true)
            ]
        );
        assert!(!traces[0].retain_selected(|_| false));
    }
}
