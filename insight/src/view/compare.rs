//! `/api/compare`: two traces side by side, aligned by span structure (the children
//! of matched spans matched by name, in order, by longest common subsequence), with
//! the differences in timing, tokens, cost and, for LLM calls, the prompt and answer
//! text (word diff).

use serde_json::{json, Value};

use aitrace_core::conventions as c;

use super::diff::{lcs, word_diff, Step};
use super::index::Summary;
use super::model::{brief, message_text, summary_json, JsonArrayText, Opened};
use crate::cost::span_cost;
use crate::tracefile::{AttrValue, SpanRecord};

/// A duration that differs by more than this share of the longer one is a change.
const DURATION_CHANGE: f64 = 0.25;

struct Side<'a> {
    opened: &'a Opened,
    children: Vec<Vec<usize>>,
    roots: Vec<usize>,
}

impl<'a> Side<'a> {
    fn new(opened: &'a Opened) -> Side<'a> {
        let spans = &opened.trace.spans;
        let mut children = vec![Vec::new(); spans.len()];
        let mut roots = Vec::new();
        for (i, s) in spans.iter().enumerate() {
            match s.parent {
                Some(p) => children[p].push(i),
                None => roots.push(i),
            }
        }
        Side {
            opened,
            children,
            roots,
        }
    }

    fn span(&self, i: usize) -> &SpanRecord {
        &self.opened.trace.spans[i].span
    }

    fn kids(&self, i: Option<usize>) -> &[usize] {
        match i {
            Some(i) => &self.children[i],
            None => &self.roots,
        }
    }
}

fn tokens(s: &SpanRecord, key: &str) -> i64 {
    s.attr(key).and_then(AttrValue::as_i64).unwrap_or(0)
}

fn span_brief(side: &Side<'_>, i: usize) -> Value {
    let s = side.span(i);
    let mut v = brief(s, s.start_unix_nano.saturating_sub(side.opened.start()));
    let o = v.as_object_mut().expect("an object");
    o.insert(
        "input_tokens".into(),
        tokens(s, c::GEN_AI_USAGE_INPUT_TOKENS).into(),
    );
    o.insert(
        "output_tokens".into(),
        tokens(s, c::GEN_AI_USAGE_OUTPUT_TOKENS).into(),
    );
    o.insert(
        "cost_usd".into(),
        span_cost(s).map_or(Value::Null, |c| c.usd().into()),
    );
    v
}

fn texts(s: &SpanRecord) -> Option<(String, String)> {
    let parse = |key: &str| {
        s.attr_str(key)
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
    };
    let system = parse(c::GEN_AI_SYSTEM_INSTRUCTIONS);
    let input = parse(c::GEN_AI_INPUT_MESSAGES);
    let output = parse(c::GEN_AI_OUTPUT_MESSAGES);
    if system.is_none() && input.is_none() && output.is_none() {
        return None;
    }
    let mut prompt = String::new();
    if let Some(Value::Array(parts)) = &system {
        for p in parts {
            if let Some(t) = p["content"].as_str() {
                prompt.push_str(t);
                prompt.push('\n');
            }
        }
    }
    if let Some(input) = &input {
        prompt.push_str(&message_text(input));
    }
    let answer = output.as_ref().map(message_text).unwrap_or_default();
    Some((prompt, answer))
}

fn cost_usd(s: &SpanRecord) -> Option<f64> {
    span_cost(s).map(|c| c.usd())
}

fn row(a: Option<(&Side<'_>, usize)>, b: Option<(&Side<'_>, usize)>, depth: usize) -> Value {
    let name = a
        .or(b)
        .map(|(side, i)| side.span(i).name.clone())
        .unwrap_or_default();
    let brief_a = a.map_or(Value::Null, |(side, i)| span_brief(side, i));
    let brief_b = b.map_or(Value::Null, |(side, i)| span_brief(side, i));
    let (status, delta, content) = match (a, b) {
        (Some((sa, ia)), Some((sb, ib))) => {
            let (x, y) = (sa.span(ia), sb.span(ib));
            let (dx, dy) = (x.duration_nanos() as f64, y.duration_nanos() as f64);
            let delta_in =
                tokens(y, c::GEN_AI_USAGE_INPUT_TOKENS) - tokens(x, c::GEN_AI_USAGE_INPUT_TOKENS);
            let delta_out =
                tokens(y, c::GEN_AI_USAGE_OUTPUT_TOKENS) - tokens(x, c::GEN_AI_USAGE_OUTPUT_TOKENS);
            let delta_cost = match (cost_usd(x), cost_usd(y)) {
                (Some(p), Some(q)) => Some(q - p),
                (None, None) => None,
                (p, q) => Some(q.unwrap_or(0.0) - p.unwrap_or(0.0)),
            };
            let content = match (texts(x), texts(y)) {
                (None, None) => None,
                (p, q) => {
                    let (pi, po) = p.unwrap_or_default();
                    let (qi, qo) = q.unwrap_or_default();
                    Some((
                        pi != qi || po != qo,
                        json!({
                            "input": word_diff(&pi, &qi),
                            "output": word_diff(&po, &qo),
                        }),
                    ))
                }
            };
            let changed = x.is_error() != y.is_error()
                || delta_in != 0
                || delta_out != 0
                || delta_cost.is_some_and(|d| d.abs() > 1e-12)
                || x.model() != y.model()
                || content.as_ref().is_some_and(|(differs, _)| *differs)
                || (dx - dy).abs() > DURATION_CHANGE * dx.max(dy);
            (
                if changed { "changed" } else { "same" },
                json!({
                    "duration_ns": dy - dx,
                    "input_tokens": delta_in,
                    "output_tokens": delta_out,
                    "cost_usd": delta_cost,
                }),
                content.map_or(Value::Null, |(_, v)| v),
            )
        }
        (Some(_), None) => ("only_a", Value::Null, Value::Null),
        _ => ("only_b", Value::Null, Value::Null),
    };
    json!({
        "depth": depth,
        "name": name,
        "a": brief_a,
        "b": brief_b,
        "status": status,
        "delta": delta,
        "content": content,
    })
}

/// The compare view of traces `a` and `b`.
/// The compare answer as JSON text; each row is written as text when it is made, so
/// only one row's JSON value exists at once.
pub(crate) fn compare(a: &Opened, sa: &Summary, b: &Opened, sb: &Summary) -> String {
    let side_a = Side::new(a);
    let side_b = Side::new(b);
    let mut rows = JsonArrayText::with_capacity(0);
    // Work items: (span of a, span of b, depth); `None, None` is the virtual root.
    let mut stack: Vec<(Option<usize>, Option<usize>, usize)> = Vec::new();
    let align = |ia: Option<usize>,
                 ib: Option<usize>,
                 depth: usize,
                 stack: &mut Vec<(Option<usize>, Option<usize>, usize)>| {
        let ka = if ia.is_some() || ib.is_none() {
            side_a.kids(ia)
        } else {
            &[]
        };
        let kb = if ib.is_some() || ia.is_none() {
            side_b.kids(ib)
        } else {
            &[]
        };
        let steps = lcs(ka, kb, |&x, &y| side_a.span(x).name == side_b.span(y).name);
        for step in steps.into_iter().rev() {
            stack.push(match step {
                Step::Both(i, j) => (Some(ka[i]), Some(kb[j]), depth),
                Step::OnlyA(i) => (Some(ka[i]), None, depth),
                Step::OnlyB(j) => (None, Some(kb[j]), depth),
            });
        }
    };
    align(None, None, 0, &mut stack);
    while let Some((ia, ib, depth)) = stack.pop() {
        rows.push(&row(
            ia.map(|i| (&side_a, i)),
            ib.map(|i| (&side_b, i)),
            depth,
        ));
        match (ia, ib) {
            (Some(_), Some(_)) => align(ia, ib, depth + 1, &mut stack),
            (Some(i), None) => {
                for &k in side_a.kids(Some(i)).iter().rev() {
                    stack.push((Some(k), None, depth + 1));
                }
            }
            (None, Some(j)) => {
                for &k in side_b.kids(Some(j)).iter().rev() {
                    stack.push((None, Some(k), depth + 1));
                }
            }
            (None, None) => {}
        }
    }
    let cost_delta = match (sa.cost_usd(), sb.cost_usd()) {
        (None, None) => None,
        (x, y) => Some(y.unwrap_or(0.0) - x.unwrap_or(0.0)),
    };
    let rest = json!({
        "a": {"summary": summary_json(sa)},
        "b": {"summary": summary_json(sb)},
        "totals": {
            "delta": {
                "duration_ns": sb.duration() as i128 - sa.duration() as i128,
                "input_tokens": sb.input_tokens as i128 - sa.input_tokens as i128,
                "output_tokens": sb.output_tokens as i128 - sa.output_tokens as i128,
                "cost_usd": cost_delta,
                "spans": sb.spans as i128 - sa.spans as i128,
            }
        },
    });
    rows.into_field_of(&rest, "rows")
}
