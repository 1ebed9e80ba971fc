//! Caller-controlled values kept bounded: the length of names that go into span names
//! and attributes (model, tool and agent names, ids, error types), and the number of
//! distinct values a metric attribute takes.
//!
//! A model name comes from the request, so from whoever calls the service: a gateway
//! that instruments its clients' requests must not let a 16 KiB model name make 16 KiB
//! span names, nor 6 000 different names make 6 000 metric series.
//!
//! ```
//! use aitrace_core::bound::{bounded, CardinalityCap, MAX_NAME_BYTES, OTHER};
//!
//! let long = "m".repeat(16 * 1024);
//! let cut = bounded(&long, MAX_NAME_BYTES);
//! assert!(cut.len() <= MAX_NAME_BYTES && cut.ends_with('…'));
//! assert_eq!(bounded("gpt-4o", MAX_NAME_BYTES), "gpt-4o");
//!
//! let models = CardinalityCap::new(2);
//! assert_eq!(models.admit("gpt-4o"), "gpt-4o");
//! assert_eq!(models.admit("gpt-4o-mini"), "gpt-4o-mini");
//! assert_eq!(models.admit("gpt-4o"), "gpt-4o");
//! assert_eq!(models.admit("a-third-model"), OTHER);
//! ```

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::RwLock;

use opentelemetry::{KeyValue, Value};

use crate::conventions as c;

/// Longest name kept in a span name or attribute, in bytes (the longest real model ids,
/// Bedrock inference-profile ARNs, are under 200).
pub const MAX_NAME_BYTES: usize = 256;

/// What replaces a metric attribute value past its [`CardinalityCap`] (the conventions'
/// word for "some other value").
pub const OTHER: &str = "_OTHER";

/// Distinct values a metric attribute keeps by default before [`OTHER`].
pub const DEFAULT_MAX_DISTINCT_VALUES: usize = 100;

/// The mark that ends a value that was cut.
pub const TRUNCATED: char = '…';

/// `value` cut to at most `max` bytes (at a character boundary), ending with
/// [`TRUNCATED`] when it was cut; borrowed when it fits.
pub fn bounded(value: &str, max: usize) -> Cow<'_, str> {
    if value.len() <= max {
        return Cow::Borrowed(value);
    }
    let mut end = max.saturating_sub(TRUNCATED.len_utf8());
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + TRUNCATED.len_utf8());
    out.push_str(&value[..end]);
    out.push(TRUNCATED);
    Cow::Owned(out)
}

/// Attributes whose values are names or ids the caller (or a provider) controls, and
/// so are bounded to [`MAX_NAME_BYTES`] wherever a span records them.
pub const BOUNDED_ATTRIBUTES: &[&str] = &[
    c::GEN_AI_REQUEST_MODEL,
    c::GEN_AI_RESPONSE_MODEL,
    c::GEN_AI_RESPONSE_ID,
    c::GEN_AI_PROVIDER_NAME,
    c::GEN_AI_TOOL_NAME,
    c::GEN_AI_TOOL_CALL_ID,
    c::GEN_AI_AGENT_NAME,
    c::GEN_AI_AGENT_ID,
    c::GEN_AI_CONVERSATION_ID,
    c::ERROR_TYPE,
];

/// `kv` with its value bounded if its key is one of [`BOUNDED_ATTRIBUTES`] (a length
/// check first: values that fit cost one comparison).
#[inline]
pub fn bound_attribute(kv: KeyValue) -> KeyValue {
    match &kv.value {
        Value::String(s)
            if s.as_str().len() > MAX_NAME_BYTES
                && BOUNDED_ATTRIBUTES.contains(&kv.key.as_str()) =>
        {
            let value = bounded(s.as_str(), MAX_NAME_BYTES).into_owned();
            KeyValue::new(kv.key, value)
        }
        _ => kv,
    }
}

/// Keeps the first `limit` distinct values of an attribute and maps any other to
/// [`OTHER`], so a metric's series stay bounded however varied the input. Values are
/// [`bounded`] to [`MAX_NAME_BYTES`] first, so the memory held is at most `limit` x
/// that.
#[derive(Debug)]
pub struct CardinalityCap {
    limit: usize,
    seen: RwLock<HashSet<Box<str>>>,
}

impl CardinalityCap {
    /// A cap of `limit` distinct values.
    pub fn new(limit: usize) -> CardinalityCap {
        CardinalityCap {
            limit,
            seen: RwLock::new(HashSet::new()),
        }
    }

    /// `value` (bounded) if it is one of the first `limit` distinct values seen, else
    /// [`OTHER`].
    pub fn admit<'a>(&self, value: &'a str) -> Cow<'a, str> {
        let value = bounded(value, MAX_NAME_BYTES);
        if self
            .seen
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(value.as_ref())
        {
            return value;
        }
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= self.limit {
            return Cow::Borrowed(OTHER);
        }
        seen.insert(value.as_ref().into());
        value
    }

    /// Distinct values kept so far.
    pub fn len(&self) -> usize {
        self.seen.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no value was kept yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for CardinalityCap {
    fn default() -> CardinalityCap {
        CardinalityCap::new(DEFAULT_MAX_DISTINCT_VALUES)
    }
}

/// Most list members of a W3C `tracestate`.
pub const TRACESTATE_MAX_MEMBERS: usize = 32;
/// Longest `tracestate` list member (`key=value`) kept, in characters.
pub const TRACESTATE_MAX_MEMBER_CHARS: usize = 256;
/// Longest `tracestate` header kept: the 512 characters W3C Trace Context asks vendors
/// to propagate at least, and the bound it recommends truncating to.
pub const TRACESTATE_MAX_CHARS: usize = 512;

/// A `tracestate` header value within the W3C Trace Context limits: members longer than
/// [`TRACESTATE_MAX_MEMBER_CHARS`] dropped, at most [`TRACESTATE_MAX_MEMBERS`] kept,
/// and, while the header is longer than [`TRACESTATE_MAX_CHARS`], members longer than
/// 128 characters removed first, then members from the end (as the specification's
/// truncation rules say). Borrowed when already within the limits.
///
/// ```
/// use aitrace_core::bound::bound_tracestate;
///
/// assert_eq!(bound_tracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
/// let huge: Vec<String> = (0..40).map(|i| format!("k{i}={}", "v".repeat(500))).collect();
/// assert_eq!(bound_tracestate(&huge.join(",")), "");
/// let many: Vec<String> = (0..40).map(|i| format!("vendor{i}={}", "v".repeat(20))).collect();
/// let header = many.join(",");
/// let kept = bound_tracestate(&header);
/// assert!(kept.len() <= 512 && kept.starts_with("vendor0="));
/// ```
pub fn bound_tracestate(value: &str) -> Cow<'_, str> {
    let within = value.len() <= TRACESTATE_MAX_CHARS
        && value.split(',').count() <= TRACESTATE_MAX_MEMBERS
        && value
            .split(',')
            .all(|m| m.trim_matches([' ', '\t']).len() <= TRACESTATE_MAX_MEMBER_CHARS);
    if within {
        return Cow::Borrowed(value);
    }
    let mut members: Vec<&str> = value
        .split(',')
        .map(|m| m.trim_matches([' ', '\t']))
        .filter(|m| !m.is_empty() && m.chars().count() <= TRACESTATE_MAX_MEMBER_CHARS)
        .take(TRACESTATE_MAX_MEMBERS)
        .collect();
    let header_len = |members: &[&str]| {
        members.iter().map(|m| m.len()).sum::<usize>() + members.len().saturating_sub(1)
    };
    while header_len(&members) > TRACESTATE_MAX_CHARS {
        match members.iter().rposition(|m| m.len() > 128) {
            Some(i) => {
                members.remove(i);
            }
            None => {
                members.pop();
            }
        }
    }
    Cow::Owned(members.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_cut_at_a_character_boundary_and_marked() {
        let long = "é".repeat(200);
        let cut = bounded(&long, 11);
        assert_eq!(cut, "éééé…");
        assert!(cut.len() <= 11);
        let kv = bound_attribute(KeyValue::new(c::GEN_AI_REQUEST_MODEL, "x".repeat(20_000)));
        assert_eq!(kv.value.as_str().len(), MAX_NAME_BYTES);
        // Content attributes are left to the content limits.
        let kv = bound_attribute(KeyValue::new(c::GEN_AI_INPUT_MESSAGES, "x".repeat(20_000)));
        assert_eq!(kv.value.as_str().len(), 20_000);
    }

    #[test]
    fn the_cap_keeps_the_first_values() {
        let cap = CardinalityCap::new(3);
        for i in 0..1_000 {
            let _ = cap.admit(&format!("model-{i}-{}", "x".repeat(16 * 1024)));
        }
        assert_eq!(cap.len(), 3);
        assert_eq!(cap.admit("new"), OTHER);
        assert!(cap
            .admit(&format!("model-1-{}", "x".repeat(16 * 1024)))
            .starts_with("model-1-"));
    }

    #[test]
    fn tracestate_is_cut_to_the_w3c_limits() {
        // The issue's header: 32 members of ~512 bytes.
        let members: Vec<String> = (0..32)
            .map(|i| format!("k{i}={}", "v".repeat(508)))
            .collect();
        assert_eq!(bound_tracestate(&members.join(",")), "");
        // Long members go first, then from the end.
        let mut members: Vec<String> = vec!["a=1".into(), format!("big={}", "x".repeat(200))];
        members.extend((0..20).map(|i| format!("v{i}={}", "y".repeat(30))));
        let header = members.join(",");
        let kept = bound_tracestate(&header);
        assert!(kept.len() <= TRACESTATE_MAX_CHARS, "{}", kept.len());
        assert!(kept.starts_with("a=1,v0="), "{kept}");
        assert!(!kept.contains("big="));
        // 40 small members: 32 kept.
        let members: Vec<String> = (0..40).map(|i| format!("k{i}=v")).collect();
        let header = members.join(",");
        let kept = bound_tracestate(&header);
        assert_eq!(kept.split(',').count(), TRACESTATE_MAX_MEMBERS);
    }

    #[test]
    fn span_names_are_bounded() {
        use crate::conventions::{self, Operation};
        let model = "m".repeat(16 * 1024);
        let name = conventions::inference_span_name(Operation::Chat, Some(&model));
        assert_eq!(name.len(), "chat ".len() + MAX_NAME_BYTES);
        assert!(name.ends_with(TRUNCATED));
        assert!(conventions::tool_span_name(&model).len() <= 13 + MAX_NAME_BYTES);
        assert!(conventions::agent_span_name(Some(&model)).len() <= 13 + MAX_NAME_BYTES);
        assert_eq!(conventions::tool_span_name("search"), "execute_tool search");
    }
}
