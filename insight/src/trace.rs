//! Spans grouped into traces and laid out as trees.

use std::collections::HashMap;

use crate::tracefile::SpanRecord;

/// Maps of ids: foldhash (randomly seeded per map) instead of SipHash, which was 2% of
/// reading and grouping a file.
pub(crate) type IdMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

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
        // The records stay where they are while the grouping, sorting and tree walks
        // work on their indices; each record then moves once, into its tree. (Moving
        // the records into groups, sorting them and taking them out of slots moved
        // each 216-byte record four or five times; `memmove` was 9% of a profile of
        // `aitrace tree`.)
        let mut records: Vec<SpanRecord> = spans.into_iter().collect();
        let plans = plan(&records);
        plans
            .traces
            .into_iter()
            .map(|t| {
                let spans = plans.placed[t.placed]
                    .iter()
                    .map(|p| TraceSpan {
                        span: std::mem::take(&mut records[p.record]),
                        depth: p.depth,
                        parent: None,
                        subtree_end: 0,
                        last_sibling: false,
                        orphan: p.orphan,
                        cycle: p.cycle,
                        context: false,
                    })
                    .collect();
                let mut trace = Trace {
                    trace_id: t.trace_id,
                    spans,
                    duplicates: t.duplicates,
                };
                trace.link();
                trace
            })
            .collect()
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

/// Where grouping puts one record: its tree position's depth and marks.
struct Placed {
    /// Index of the record in the input.
    record: usize,
    depth: usize,
    orphan: bool,
    cycle: bool,
}

/// One trace's share of [`Plans::placed`].
struct TracePlan {
    trace_id: String,
    /// Its spans in tree order.
    placed: std::ops::Range<usize>,
    duplicates: usize,
    start: u64,
}

/// The trees of all traces, as indices into the records.
struct Plans {
    traces: Vec<TracePlan>,
    placed: Vec<Placed>,
}

/// Groups the records by trace (traces in order of first appearance, each trace's
/// records in input order), then lays out each trace's tree; traces sorted by start
/// time, then id.
fn plan(records: &[SpanRecord]) -> Plans {
    // A counting sort of record indices by trace.
    let mut index: IdMap<&str, usize> = IdMap::default();
    let mut trace_of: Vec<usize> = Vec::with_capacity(records.len());
    let mut bounds: Vec<usize> = Vec::new();
    for record in records {
        let next = index.len();
        let t = *index.entry(record.trace_id.as_str()).or_insert(next);
        if t == bounds.len() {
            bounds.push(0);
        }
        bounds[t] += 1;
        trace_of.push(t);
    }
    drop(index);
    let mut at = 0;
    for count in bounds.iter_mut() {
        let n = *count;
        *count = at;
        at += n;
    }
    bounds.push(at);
    let mut members = vec![0usize; records.len()];
    let mut fill = bounds.clone();
    for (r, &t) in trace_of.iter().enumerate() {
        members[fill[t]] = r;
        fill[t] += 1;
    }
    drop((trace_of, fill));

    let mut tree = TreeScratch::default();
    let mut placed = Vec::with_capacity(records.len());
    let mut traces: Vec<TracePlan> = bounds
        .windows(2)
        .map(|w| {
            let members = &mut members[w[0]..w[1]];
            let from = placed.len();
            let duplicates = tree.lay_out(records, members, &mut placed);
            // The first member is the earliest start after lay_out's sort, and is kept.
            let first = &records[members[0]];
            TracePlan {
                trace_id: first.trace_id.to_string(),
                placed: from..placed.len(),
                duplicates,
                start: first.start_unix_nano,
            }
        })
        .collect();
    traces.sort_by(|a, b| (a.start, &a.trace_id).cmp(&(b.start, &b.trace_id)));
    Plans { traces, placed }
}

/// Working lists of [`TreeScratch::lay_out`], kept between traces so that a file of
/// many small traces does not allocate them again for each.
#[derive(Default)]
struct TreeScratch<'a> {
    /// Position of the first span with each span id (ids borrowed from the records).
    first: IdMap<&'a str, usize>,
    keep: Vec<bool>,
    orphan: Vec<bool>,
    visited: Vec<bool>,
    roots: Vec<usize>,
    /// Children of position `p`: `children[child_start[p]..child_start[p + 1]]`.
    child_start: Vec<usize>,
    children: Vec<usize>,
    /// Where the next child of each position goes while `children` is filled.
    fill: Vec<usize>,
    parent: Vec<usize>,
    stack: Vec<(usize, usize)>,
}

impl<'a> TreeScratch<'a> {
    /// Sorts one trace's `members` (record indices) by start time, then lays the
    /// trace out: depth first from the roots, children by start time. Appends the
    /// spans in tree order to `placed`; returns how many duplicates were dropped.
    fn lay_out(
        &mut self,
        records: &'a [SpanRecord],
        members: &mut [usize],
        placed: &mut Vec<Placed>,
    ) -> usize {
        // Stable: equal times keep input order.
        members.sort_by(|&a, &b| {
            let (a, b) = (&records[a], &records[b]);
            a.start_unix_nano
                .cmp(&b.start_unix_nano)
                .then_with(|| b.end_unix_nano.cmp(&a.end_unix_nano))
        });
        let n = members.len();
        let span = |i: usize| &records[members[i]];
        // Span ids are unique in a trace: a second copy is a duplicate export. Keep the
        // first (earliest) copy. Positions below are positions in `members`.
        let first = &mut self.first;
        first.clear();
        reset(&mut self.keep, n, true);
        for i in 0..n {
            if *first.entry(span(i).span_id.as_str()).or_insert(i) != i {
                self.keep[i] = false;
            }
        }
        const NONE: usize = usize::MAX;
        reset(&mut self.parent, n, NONE);
        reset(&mut self.orphan, n, false);
        reset(&mut self.child_start, n + 1, 0);
        self.roots.clear();
        for i in 0..n {
            if !self.keep[i] {
                continue;
            }
            let parent_id = span(i).parent_span_id.as_str();
            if parent_id.is_empty() || is_zero_id(parent_id) {
                self.roots.push(i);
                continue;
            }
            match first.get(parent_id) {
                Some(&p) => {
                    self.parent[i] = p;
                    self.child_start[p + 1] += 1;
                }
                None => {
                    self.orphan[i] = true;
                    self.roots.push(i);
                }
            }
        }
        // Children lists, each in start order, in one array.
        for p in 0..n {
            self.child_start[p + 1] += self.child_start[p];
        }
        reset(&mut self.children, self.child_start[n], 0);
        self.fill.clear();
        self.fill.extend_from_slice(&self.child_start[..n]);
        for i in 0..n {
            let p = self.parent[i];
            if p != NONE {
                self.children[self.fill[p]] = i;
                self.fill[p] += 1;
            }
        }

        // Depth-first, iteratively (a deep chain must not overflow the stack); a
        // `visited` mark makes a parent cycle impossible to loop on.
        reset(&mut self.visited, n, false);
        let from = placed.len();
        for r in 0..self.roots.len() {
            self.walk(self.roots[r], false, members, placed);
        }
        // What is left hangs off a parent cycle: cut each loop at its earliest span.
        for i in 0..n {
            if self.keep[i] && !self.visited[i] {
                self.walk(i, true, members, placed);
            }
        }
        debug_assert_eq!(
            placed.len() - from,
            self.keep.iter().filter(|k| **k).count()
        );
        n - (placed.len() - from)
    }

    /// Appends the not yet visited part of the subtree at position `start`.
    fn walk(&mut self, start: usize, cycle: bool, members: &[usize], placed: &mut Vec<Placed>) {
        self.stack.clear();
        self.stack.push((start, 0));
        let mut first_node = true;
        while let Some((i, depth)) = self.stack.pop() {
            if self.visited[i] {
                continue;
            }
            self.visited[i] = true;
            placed.push(Placed {
                record: members[i],
                depth,
                orphan: self.orphan[i],
                cycle: cycle && first_node,
            });
            first_node = false;
            let children = &self.children[self.child_start[i]..self.child_start[i + 1]];
            for &child in children.iter().rev() {
                if !self.visited[child] {
                    self.stack.push((child, depth + 1));
                }
            }
        }
    }
}

/// Makes `list` `n` copies of `value`, keeping its allocation.
fn reset<T: Copy>(list: &mut Vec<T>, n: usize, value: T) {
    list.clear();
    list.resize(n, value);
}

fn is_zero_id(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::tracefile::Text;

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

    /// The grouping as it was before it worked on indices, kept as the reference.
    fn reference_group(spans: impl IntoIterator<Item = SpanRecord>) -> Vec<Trace> {
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
        let mut traces: Vec<Trace> = groups.into_iter().map(reference_build).collect();
        // Each trace's start read once (it is a scan of its spans).
        traces.sort_by_cached_key(|t| (t.start_unix_nano(), t.trace_id.clone()));
        traces
    }

    fn reference_build(mut spans: Vec<SpanRecord>) -> Trace {
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

    /// A small deterministic generator (xorshift64*), for the comparison below.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
        }
    }

    #[test]
    fn grouping_by_index_matches_the_grouping_it_replaced() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let ids = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        let mut shapes = [0usize; 4];
        for _ in 0..20_000 {
            // Mostly small traces; some longer than the sorts' insertion-sort runs.
            let most = if rng.below(10) == 0 { 200 } else { 30 };
            let n = rng.below(most) as usize;
            let spans: Vec<SpanRecord> = (0..n)
                .map(|k| {
                    let parent = match rng.below(8) {
                        0 => "",
                        1 => "0000000000000000",
                        2 => "missing",
                        _ => ids[rng.below(ids.len() as u64) as usize],
                    };
                    let start = rng.below(6);
                    let mut s = span(
                        ids[rng.below(ids.len() as u64) as usize],
                        parent,
                        &k.to_string(),
                        start,
                        start + rng.below(6),
                    );
                    s.trace_id = ["t1", "t2", "t3"][rng.below(3) as usize].into();
                    s
                })
                .collect();
            let expected = reference_group(spans.clone());
            let got = Trace::group(spans);
            assert_eq!(got, expected);
            for t in &got {
                shapes[0] += t.duplicates;
                shapes[1] += t.spans.iter().filter(|s| s.orphan).count();
                shapes[2] += t.spans.iter().filter(|s| s.cycle).count();
                shapes[3] += t.spans.iter().filter(|s| s.depth > 1).count();
            }
        }
        // The cases reach duplicates, orphans, cycles and nesting, many times each.
        assert!(shapes.iter().all(|&n| n > 1000), "{shapes:?}");
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
