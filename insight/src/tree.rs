//! The span tree of each trace with a waterfall: one line per span with a time bar
//! (scaled to the trace's time span), duration, model, tokens, cost and errors.
//!
//! ```text
//! trace f493d03bebdeab22a90c7b8f826ff672  2026-01-01T00:00:00.000Z  100.0ms  6 span(s)  agent-svc, search-svc
//! └─ invoke_agent planner    ████████████████████████████████████████   100.0ms  run_tokens=1700in/420out
//!    ├─ chat gpt-4o            ████████████                              30.0ms  model=gpt-4o-2024-08-06  tokens=1200in/300out  cached=1000  cost=$0.004500  ttft=12.0ms
//!    ├─ execute_tool search                ██████████████████            44.0ms  ERROR(timeout)
//!    │  └─ GET                               ███████████████▌            38.0ms  ERROR(504)  status=504  [search-svc]
//!    ├─ execute_tool fetch                           ████████████        30.0ms
//!    └─ chat local-llama                                         ████     8.0ms  model=local-llama  tokens=500in/120out  cost=?(unknown_model)
//! totals: 2 LLM call(s), 1700 input + 420 output tokens (1000 cached), $0.004500 (+1 unpriced)
//! ```
//!
//! Agent spans show their recorded run totals as `run_tokens=`/`run_cost=`; the
//! `totals:` line adds up the LLM calls only. A span from another service than its
//! parent's shows `[service]`; `(orphan)` marks a span whose parent is missing,
//! `(cycle)` where a parent loop was cut.
//!
//! Colors (ANSI) only when asked ([`TreeOptions::color`]): errors in red, context spans
//! dimmed, bars colored by kind (LLM call, tool, agent, HTTP). Without colors the text
//! is plain, and errors read `ERROR(type)`.
//!
//! ```
//! use aitrace_insight::{tree, Filter};
//! use aitrace_insight::tracefile::parse_lines;
//!
//! let text = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"chat gpt-4o","startTimeUnixNano":"1000000","endTimeUnixNano":"251000000","status":{"code":2,"message":"boom"}}]}]}]}"#;
//! let traces = Filter::default().apply(parse_lines(text.as_bytes()).spans);
//! let out = tree::render(&traces, &tree::TreeOptions { bar_width: 10, ..Default::default() });
//! assert!(out.contains("└─ chat gpt-4o  ██████████   250.0ms  ERROR(boom)"), "{out}");
//! ```

use std::fmt::Write as _;
use std::io::{self, Write};

use aitrace_core::conventions as c;

use crate::cost::{span_cost, Totals};
use crate::text::printable;
use crate::time::{format_duration, format_rfc3339, push_duration};
use crate::tracefile::{AttrValue, SpanRecord};
use crate::Trace;

/// How to draw the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeOptions {
    /// ANSI colors (default off; the `aitrace` command turns them on for a terminal).
    pub color: bool,
    /// Width of the time bars in characters; 0 leaves them out (default 40).
    pub bar_width: usize,
    /// Longest name column (tree lines and span name), in characters (default 64).
    pub max_name_width: usize,
}

impl Default for TreeOptions {
    fn default() -> TreeOptions {
        TreeOptions {
            color: false,
            bar_width: 40,
            max_name_width: 64,
        }
    }
}

/// Deeper levels are drawn compressed, so one line stays bounded.
const MAX_INDENT: usize = 16;

/// A name keeps at least this many characters, however deep its line.
const MIN_NAME: usize = 12;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BLUE: &str = "\x1b[34m";
const MAGENTA: &str = "\x1b[35m";
const CYAN: &str = "\x1b[36m";

/// Renders traces to a string.
pub fn render(traces: &[Trace], options: &TreeOptions) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_tree(&mut out, traces, options);
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes traces as trees, one after the other.
pub fn write_tree(out: &mut dyn Write, traces: &[Trace], options: &TreeOptions) -> io::Result<()> {
    let mut line = String::with_capacity(256);
    for (i, trace) in traces.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write_trace(out, trace, options, &mut line)?;
    }
    Ok(())
}

/// Characters of the tree lines before the name of a span at `depth` with `open`
/// ancestor levels drawn above it (its depth, in a well-formed tree order): a `…N `
/// marker for the levels left out, three per level shown, three for the branch.
fn prefix_width(open: usize, depth: usize) -> usize {
    let skip = depth.saturating_sub(MAX_INDENT);
    let marker = if skip > 0 {
        skip.ilog10() as usize + 3
    } else {
        0
    };
    marker + 3 * open.saturating_sub(skip) + 3
}

/// Appends the tree lines before a span's name and returns how many characters they
/// are. `lasts` holds, for each ancestor level, whether that ancestor was a last
/// sibling; it is kept up to date for the next span in tree order.
fn push_prefix(
    line: &mut String,
    lasts: &mut Vec<bool>,
    depth: usize,
    last_sibling: bool,
) -> usize {
    lasts.truncate(depth);
    let width = prefix_width(lasts.len(), depth);
    let skip = depth.saturating_sub(MAX_INDENT);
    if skip > 0 {
        let _ = write!(line, "…{skip} ");
    }
    for &last in lasts.iter().skip(skip) {
        line.push_str(if last { "   " } else { "│  " });
    }
    line.push_str(if last_sibling { "└─ " } else { "├─ " });
    lasts.push(last_sibling);
    width
}

fn write_trace(
    out: &mut dyn Write,
    trace: &Trace,
    o: &TreeOptions,
    line: &mut String,
) -> io::Result<()> {
    let paint = |code: &'static str| if o.color { code } else { "" };
    let t0 = trace.start_unix_nano();
    let total = trace.end_unix_nano().saturating_sub(t0);
    let services = trace.services();
    write!(
        out,
        "{}trace {}{}  {}  {}  {} span(s)",
        paint(BOLD),
        trace.trace_id,
        paint(RESET),
        format_rfc3339(t0),
        format_duration(total),
        trace.spans.len(),
    )?;
    let named: Vec<&str> = services.iter().copied().filter(|s| !s.is_empty()).collect();
    if !named.is_empty() {
        write!(out, "  {}", printable(&named.join(", ")))?;
    }
    if trace.duplicates > 0 {
        write!(out, "  ({} duplicate span(s) dropped)", trace.duplicates)?;
    }
    writeln!(out)?;

    // The prefixes' widths as `push_prefix` will draw them (`open` follows its `lasts`).
    let mut open = 0;
    let width = trace
        .spans
        .iter()
        .map(|s| {
            open = open.min(s.depth);
            let prefix = prefix_width(open, s.depth);
            open += 1;
            prefix + s.span.name.chars().count()
        })
        .max()
        .unwrap_or(0)
        .min(o.max_name_width.max(8));
    let mut lasts: Vec<bool> = Vec::new();
    let mut duration = String::new();
    for s in &trace.spans {
        let span = &s.span;
        let name = printable(&span.name);
        let error = span.is_error();
        line.clear();
        let name_color = if error {
            RED
        } else if s.context {
            DIM
        } else {
            ""
        };
        let prefix_chars = push_prefix(line, &mut lasts, s.depth, s.last_sibling);
        line.push_str(paint(name_color));
        let room = width.saturating_sub(prefix_chars).max(MIN_NAME);
        let name_len = name.chars().count();
        if name_len > room {
            line.extend(name.chars().take(room.saturating_sub(1)));
            line.push('…');
        } else {
            line.push_str(&name);
        }
        line.push_str(paint(if name_color.is_empty() { "" } else { RESET }));
        let used = prefix_chars + name_len.min(room);
        line.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
        if o.bar_width > 0 {
            line.push_str("  ");
            let color = if error {
                RED
            } else if s.context {
                DIM
            } else {
                bar_color(span)
            };
            line.push_str(paint(color));
            push_bar(line, span, t0, total, o.bar_width);
            line.push_str(paint(RESET));
        }
        // Right-aligned in eight characters, as `{:>8}` would.
        duration.clear();
        push_duration(&mut duration, span.duration_nanos());
        line.push_str("  ");
        line.extend(std::iter::repeat_n(
            ' ',
            8usize.saturating_sub(duration.chars().count()),
        ));
        line.push_str(&duration);
        if let Some(why) = span.error_text() {
            let why = printable(&why);
            let _ = write!(line, "  {}ERROR({why}){}", paint(RED), paint(RESET));
        }
        let details_from = line.len();
        push_details(line, span);
        if let std::borrow::Cow::Owned(clean) = printable(&line[details_from..]) {
            line.truncate(details_from);
            line.push_str(&clean);
        }
        let parent_service = s.parent.map(|p| trace.spans[p].span.service.as_str());
        if parent_service.is_some_and(|p| p != span.service) && !span.service.is_empty() {
            let _ = write!(line, "  [{}]", printable(&span.service));
        }
        if s.orphan {
            line.push_str("  (orphan)");
        }
        if s.cycle {
            line.push_str("  (cycle)");
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    let totals = Totals::of_trace(trace);
    if totals.llm_calls > 0 {
        writeln!(out, "totals: {}", totals.summary())?;
    }
    Ok(())
}

fn bar_color(span: &SpanRecord) -> &'static str {
    if span.is_inference() {
        CYAN
    } else if span.is_agent() {
        MAGENTA
    } else if span.operation() == Some("execute_tool") {
        YELLOW
    } else if span.attr(c::HTTP_REQUEST_METHOD).is_some() {
        BLUE
    } else {
        GREEN
    }
}

/// The bar in half-cell resolution: `█` full cell, `▌`/`▐` the left/right half.
fn push_bar(line: &mut String, span: &SpanRecord, t0: u64, total: u64, width: usize) {
    let halves = 2 * width as u128;
    let (from, to) = if total == 0 {
        (0, halves)
    } else {
        let total = u128::from(total);
        let start = u128::from(span.start_unix_nano.saturating_sub(t0)).min(total);
        let end = u128::from(span.end_unix_nano.saturating_sub(t0)).clamp(start, total);
        let from = (start * halves / total).min(halves - 1);
        let to = (end * halves).div_ceil(total).clamp(from + 1, halves);
        (from, to)
    };
    // Blank up to the bar's first cell and after its last; within, each cell is
    // full or half.
    let (from, to) = (from as usize, to as usize);
    let (first, end) = (from / 2, to.div_ceil(2));
    line.extend(std::iter::repeat_n(' ', first));
    for cell in first..end {
        let left = (from..to).contains(&(2 * cell));
        let right = (from..to).contains(&(2 * cell + 1));
        line.push_str(match (left, right) {
            (true, true) => "█",
            (true, false) => "▌",
            (false, true) => "▐",
            (false, false) => " ",
        });
    }
    line.extend(std::iter::repeat_n(' ', width - end));
}

fn int(span: &SpanRecord, key: &str) -> Option<i64> {
    span.attr(key).and_then(AttrValue::as_i64)
}

fn push_details(line: &mut String, span: &SpanRecord) {
    let inference = span.is_inference();
    if let Some(model) = span.model() {
        let _ = write!(line, "  model={model}");
    }
    let input = int(span, c::GEN_AI_USAGE_INPUT_TOKENS);
    let output = int(span, c::GEN_AI_USAGE_OUTPUT_TOKENS);
    // Agent spans carry run totals: labelled as such, so no one adds them up twice.
    let label = if inference { "" } else { "run_" };
    if input.is_some() || output.is_some() {
        let _ = write!(
            line,
            "  {label}tokens={}in/{}out",
            input.unwrap_or(0),
            output.unwrap_or(0)
        );
        if let Some(n) = int(span, c::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS).filter(|n| *n > 0) {
            let _ = write!(line, "  cached={n}");
        }
        if let Some(n) = int(span, c::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS).filter(|n| *n > 0) {
            let _ = write!(line, "  reasoning={n}");
        }
    }
    match span_cost(span) {
        Some(cost) => {
            let _ = write!(line, "  {label}cost={cost}");
        }
        None if inference => {
            let why = span
                .attr(c::AITRACE_COST_UNAVAILABLE)
                .map_or_else(|| "no cost recorded".to_owned(), ToString::to_string);
            let _ = write!(line, "  cost=?({why})");
        }
        None => {}
    }
    if let Some(ttft) = span
        .attr(c::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
        .and_then(AttrValue::as_f64)
        .filter(|t| t.is_finite() && *t >= 0.0)
    {
        line.push_str("  ttft=");
        push_duration(line, (ttft * 1e9) as u64);
    }
    if let Some(status) = span.attr(c::HTTP_RESPONSE_STATUS_CODE) {
        let _ = write!(line, "  status={status}");
    }
}

/// Renders spans (of any traces, in any order) as one tree per trace with a waterfall:
/// name, time bar, duration, model, tokens, cost, errors; then the trace's totals over
/// its inference spans. Spans whose parent is missing are shown as extra roots marked
/// `(orphan)`; a parent cycle cannot loop. Plain text (no colors): [`render`] with the
/// default [`TreeOptions`].
pub fn render_spans(spans: &[SpanRecord]) -> String {
    render(
        &Trace::group(spans.iter().cloned()),
        &TreeOptions::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::trace::tests::span;

    fn plain(spans: Vec<SpanRecord>, bar_width: usize) -> String {
        let traces = Trace::group(spans);
        render(
            &traces,
            &TreeOptions {
                bar_width,
                ..TreeOptions::default()
            },
        )
    }

    #[test]
    fn bars_are_scaled_to_the_trace() {
        let out = plain(
            vec![
                span("a", "", "root", 0, 100),
                span("b", "a", "first-half", 0, 50),
                span("c", "a", "last-quarter", 75, 100),
                span("d", "a", "blip", 10, 10),
            ],
            4,
        );
        // The name column is as wide as `   └─ last-quarter`, then two spaces.
        let bars: Vec<String> = out
            .lines()
            .skip(1)
            .map(|l| l.chars().skip(20).take(4).collect())
            .collect();
        assert_eq!(bars, ["████", "██  ", "▌   ", "   █"], "{out}");
    }

    #[test]
    fn orphans_and_cycles_are_marked_and_names_aligned() {
        let out = plain(
            vec![
                span("a", "", "root", 0, 2_000_000),
                span("b", "a", "child", 0, 2_000_000),
                span("c", "missing", "lost", 0, 2_000_000),
                span("x", "y", "cycle-x", 0, 1),
                span("y", "x", "cycle-y", 0, 1),
            ],
            0,
        );
        assert!(out.contains("\n│  └─ child       2.0ms\n"), "{out}");
        assert!(
            out.contains("\n├─ lost           2.0ms  (orphan)\n"),
            "{out}"
        );
        assert!(out.contains("(cycle)") && out.contains("cycle-y"), "{out}");
        assert!(!out.contains('\x1b'));
    }

    #[test]
    fn colors_only_when_asked_and_errors_stand_out() {
        let mut failed = span("a", "", "chat x", 0, 10);
        failed
            .attributes
            .push((c::ERROR_TYPE.into(), AttrValue::Str("timeout".into())));
        let traces = Trace::group(vec![failed]);
        let colored = render(
            &traces,
            &TreeOptions {
                color: true,
                ..TreeOptions::default()
            },
        );
        assert!(colored.contains("\x1b[31mchat x\x1b[0m"), "{colored:?}");
        assert!(colored.contains("\x1b[31mERROR(timeout)"), "{colored:?}");
        let plain = render(&traces, &TreeOptions::default());
        assert!(plain.contains("ERROR(timeout)") && !plain.contains('\x1b'));
    }

    #[test]
    fn control_characters_from_the_file_are_not_printed() {
        let mut evil = span("a", "", "chat\x1b[2J\nfake line", 0, 10);
        evil.attributes.push((
            c::GEN_AI_REQUEST_MODEL.into(),
            AttrValue::Str("m\x1b]0;title\x07".into()),
        ));
        evil.service = "svc\r".into();
        let out = plain(vec![evil], 4);
        assert!(!out.contains('\x1b') && !out.contains('\r') && !out.contains('\x07'));
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(out.contains("chat�[2J�fake line") && out.contains("model=m�]0;title�"));
    }

    #[test]
    fn long_names_are_cut_and_deep_trees_compressed() {
        let long = "n".repeat(100);
        let mut spans = vec![span("1", "", &long, 0, 1)];
        for i in 2..=40 {
            spans.push(span(
                &i.to_string(),
                &(i - 1).to_string(),
                "deep-name",
                0,
                1,
            ));
        }
        let out = plain(spans, 0);
        let first = out.lines().nth(1).unwrap_or_default();
        assert!(first.contains('…') && first.chars().count() < 90, "{first}");
        let deepest = out.lines().last().unwrap_or_default();
        assert!(deepest.starts_with("…23 "), "{deepest}");
        assert!(deepest.contains("└─ deep-name"), "{deepest}");
    }
}
