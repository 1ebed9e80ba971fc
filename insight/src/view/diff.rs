//! Diffs for the viewer: structural JSON diffs of agent state snapshots, word diffs
//! of prompt and answer text, and the longest-common-subsequence alignment both use
//! (and the compare view's span alignment).

use serde_json::{json, Value};

/// Largest `n * m` table the LCS builds; longer inputs fall back to "all deleted,
/// all inserted" so a huge prompt cannot take the server's memory.
const MAX_LCS_CELLS: usize = 4_000_000;

/// One step of an alignment of two sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `a[i]` and `b[j]` match.
    Both(usize, usize),
    /// Only in `a`.
    OnlyA(usize),
    /// Only in `b`.
    OnlyB(usize),
}

/// Aligns `a` and `b` by their longest common subsequence under `same`.
pub(crate) fn lcs<T>(a: &[T], b: &[T], same: impl Fn(&T, &T) -> bool) -> Vec<Step> {
    let (n, m) = (a.len(), b.len());
    // Common prefix and suffix first: most diffs are small.
    let mut pre = 0;
    while pre < n && pre < m && same(&a[pre], &b[pre]) {
        pre += 1;
    }
    let mut suf = 0;
    while suf < n - pre && suf < m - pre && same(&a[n - 1 - suf], &b[m - 1 - suf]) {
        suf += 1;
    }
    let (a_mid, b_mid) = (&a[pre..n - suf], &b[pre..m - suf]);
    let mut steps: Vec<Step> = (0..pre).map(|i| Step::Both(i, i)).collect();
    let (p, q) = (a_mid.len(), b_mid.len());
    if p.saturating_mul(q) > MAX_LCS_CELLS {
        steps.extend((0..p).map(|i| Step::OnlyA(pre + i)));
        steps.extend((0..q).map(|j| Step::OnlyB(pre + j)));
    } else if p > 0 || q > 0 {
        // table[i][j]: LCS length of a_mid[i..] and b_mid[j..].
        let w = q + 1;
        let mut table = vec![0u32; (p + 1) * w];
        for i in (0..p).rev() {
            for j in (0..q).rev() {
                table[i * w + j] = if same(&a_mid[i], &b_mid[j]) {
                    table[(i + 1) * w + j + 1] + 1
                } else {
                    table[(i + 1) * w + j].max(table[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < p || j < q {
            if i < p && j < q && same(&a_mid[i], &b_mid[j]) {
                steps.push(Step::Both(pre + i, pre + j));
                i += 1;
                j += 1;
            } else if i < p && (j == q || table[(i + 1) * w + j] >= table[i * w + j + 1]) {
                steps.push(Step::OnlyA(pre + i));
                i += 1;
            } else {
                steps.push(Step::OnlyB(pre + j));
                j += 1;
            }
        }
    }
    steps.extend((0..suf).map(|k| Step::Both(n - suf + k, m - suf + k)));
    steps
}

/// A word-level diff of two texts: `[{op: "equal"|"insert"|"delete", text}]`, runs of
/// the same op merged; whitespace stays with the word before it.
pub(crate) fn word_diff(a: &str, b: &str) -> Value {
    let wa = words(a);
    let wb = words(b);
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let mut push = |op: &'static str, text: &str| match out.last_mut() {
        Some((last, acc)) if *last == op => acc.push_str(text),
        _ => out.push((op, text.to_owned())),
    };
    for step in lcs(&wa, &wb, |x, y| x.trim_end() == y.trim_end()) {
        match step {
            Step::Both(_, j) => push("equal", wb[j]),
            Step::OnlyA(i) => push("delete", wa[i]),
            Step::OnlyB(j) => push("insert", wb[j]),
        }
    }
    out.into_iter()
        .map(|(op, text)| json!({"op": op, "text": text}))
        .collect()
}

fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (i, ch) in text.char_indices() {
        let space = ch.is_whitespace();
        if !space && in_space {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = space;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The structural diff of two JSON values: `[{op: "add"|"remove"|"change", path,
/// old?, new?}]` with JSON-pointer paths; objects by key, arrays by index.
pub(crate) fn json_diff(before: &Value, after: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    walk(before, after, &mut String::new(), &mut out, 0);
    out
}

fn walk(before: &Value, after: &Value, path: &mut String, out: &mut Vec<Value>, depth: usize) {
    const MAX_DEPTH: usize = 64;
    match (before, after) {
        (Value::Object(a), Value::Object(b)) if depth < MAX_DEPTH => {
            for (key, old) in a {
                let len = path.len();
                push_key(path, key);
                match b.get(key) {
                    Some(new) => walk(old, new, path, out, depth + 1),
                    None => out.push(json!({"op": "remove", "path": path, "old": old})),
                }
                path.truncate(len);
            }
            for (key, new) in b {
                if !a.contains_key(key) {
                    let len = path.len();
                    push_key(path, key);
                    out.push(json!({"op": "add", "path": path, "new": new}));
                    path.truncate(len);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if depth < MAX_DEPTH => {
            for i in 0..a.len().max(b.len()) {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                match (a.get(i), b.get(i)) {
                    (Some(old), Some(new)) => walk(old, new, path, out, depth + 1),
                    (Some(old), None) => {
                        out.push(json!({"op": "remove", "path": path, "old": old}))
                    }
                    (None, Some(new)) => out.push(json!({"op": "add", "path": path, "new": new})),
                    (None, None) => {}
                }
                path.truncate(len);
            }
        }
        (Value::Null, new) if depth == 0 && !new.is_null() => {
            // The first snapshot: everything in it is new.
            out.push(json!({"op": "add", "path": "", "new": new}));
        }
        (old, new) if old != new => {
            out.push(json!({"op": "change", "path": path, "old": old, "new": new}));
        }
        _ => {}
    }
}

fn push_key(path: &mut String, key: &str) {
    path.push('/');
    for ch in key.chars() {
        match ch {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            other => path.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_diff_reports_added_removed_and_changed_paths() {
        let before = json!({"messages": ["hi"], "step": "ask", "a/b": 1, "gone": true});
        let after = json!({"messages": ["hi", "hello"], "step": "tool", "a/b": 1});
        let diff = json_diff(&before, &after);
        assert!(diff.contains(&json!({"op": "add", "path": "/messages/1", "new": "hello"})));
        assert!(
            diff.contains(&json!({"op": "change", "path": "/step", "old": "ask", "new": "tool"}))
        );
        assert!(diff.contains(&json!({"op": "remove", "path": "/gone", "old": true})));
        assert_eq!(diff.len(), 3, "{diff:?}");
        assert_eq!(
            json_diff(&json!({"x/y~": 1}), &json!({"x/y~": 2}))[0]["path"],
            "/x~1y~0"
        );
    }

    #[test]
    fn word_diff_marks_changed_words() {
        let diff = word_diff("It is sunny in Paris", "It is rainy in Paris today");
        let ops: Vec<(&str, &str)> = diff
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["op"].as_str().unwrap(), d["text"].as_str().unwrap()))
            .collect();
        assert_eq!(
            ops,
            [
                ("equal", "It is "),
                ("delete", "sunny "),
                ("insert", "rainy "),
                ("equal", "in Paris "),
                ("insert", "today")
            ]
        );
    }

    #[test]
    fn huge_inputs_fall_back_without_a_table() {
        let a: Vec<u32> = (0..5000).collect();
        let b: Vec<u32> = (5000..10000).collect();
        let steps = lcs(&a, &b, |x, y| x == y);
        assert_eq!(steps.len(), 10000);
    }
}
