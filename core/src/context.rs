//! Who and what a piece of work is for: a session, a user, tags, metadata and the
//! prompt template in use, put on every span AITrace makes inside a [`scope`].
//!
//! The values travel in the OpenTelemetry [`Context`], so they follow the work into
//! tasks that carry the context (`FutureExt::with_context`, our layers) and, when
//! [`Scope::propagate_in_baggage`] asks for it, into other services as W3C `baggage`
//! (opt-in: baggage leaves the process). Each value goes out under the names the
//! backends read: `session.id` and `user.id` (OpenInference, Phoenix, Langfuse),
//! `tag.tags` and `metadata` (OpenInference), `langfuse.trace.tags` and
//! `langfuse.trace.metadata.*` (Langfuse), and `gen_ai.prompt.name` / `.version` on
//! the LLM calls made from the prompt.
//!
//! ```
//! use aitrace_core::context;
//! use opentelemetry::trace::FutureExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let scope = context::scope()
//!     .session_id("chat-42")
//!     .user_id("user-7")
//!     .tag("beta")
//!     .metadata("plan", "pro")
//!     .prompt("support-triage", Some("v3"));
//! async {
//!     // Every span of ours started here carries session.id=chat-42, user.id=user-7, ...
//!     let values = context::current().expect("in scope");
//!     assert_eq!(values.session_id(), Some("chat-42"));
//! }
//! .with_context(scope.context())
//! .await;
//! # }
//! ```

use std::sync::Arc;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};

use crate::conventions as c;

/// Longest id, tag, metadata key or value kept (longer ones are cut at a character
/// boundary): these are caller-controlled and land on every span.
pub const MAX_VALUE_BYTES: usize = 256;
/// Most tags kept.
pub const MAX_TAGS: usize = 32;
/// Most metadata entries kept.
pub const MAX_METADATA: usize = 32;

/// The values of a scope, as spans see them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScopeValues {
    session_id: Option<String>,
    user_id: Option<String>,
    tags: Vec<String>,
    metadata: Vec<(String, String)>,
    prompt: Option<(String, Option<String>)>,
}

impl ScopeValues {
    /// The session id.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The user id.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The tags, in the order given.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The metadata entries, in the order given (a later value for a key wins).
    pub fn metadata(&self) -> &[(String, String)] {
        &self.metadata
    }

    /// The prompt template (name, version) the work uses.
    pub fn prompt(&self) -> Option<(&str, Option<&str>)> {
        self.prompt
            .as_ref()
            .map(|(name, version)| (name.as_str(), version.as_deref()))
    }

    /// The attributes every span in the scope gets.
    fn span_attributes(&self, out: &mut Vec<KeyValue>) {
        if let Some(id) = &self.session_id {
            out.push(KeyValue::new(c::SESSION_ID, id.clone()));
        }
        if let Some(id) = &self.user_id {
            out.push(KeyValue::new(c::USER_ID, id.clone()));
        }
        if !self.tags.is_empty() {
            let tags = Value::Array(Array::String(
                self.tags.iter().cloned().map(StringValue::from).collect(),
            ));
            out.push(KeyValue::new(c::TAG_TAGS, tags.clone()));
            out.push(KeyValue::new(c::LANGFUSE_TRACE_TAGS, tags));
        }
        if !self.metadata.is_empty() {
            let map: serde_json::Map<String, serde_json::Value> = self
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            out.push(KeyValue::new(
                c::METADATA,
                serde_json::Value::Object(map).to_string(),
            ));
            for (k, v) in &self.metadata {
                out.push(KeyValue::new(
                    format!("{}{k}", c::LANGFUSE_TRACE_METADATA_PREFIX),
                    v.clone(),
                ));
            }
        }
    }
}

/// A scope being built: see the [module docs](self).
#[derive(Debug, Clone, Default)]
#[must_use = "a scope does nothing until its context is attached"]
pub struct Scope {
    values: ScopeValues,
    baggage: bool,
}

/// A new scope, starting from the values of the current one (an inner scope adds to
/// or overrides the outer one).
pub fn scope() -> Scope {
    Scope {
        values: current().map(|v| (*v).clone()).unwrap_or_default(),
        baggage: false,
    }
}

/// The values of the current scope, if any.
pub fn current() -> Option<Arc<ScopeValues>> {
    Context::map_current(|cx| cx.get::<Arc<ScopeValues>>().cloned())
}

/// Cuts `s` to [`MAX_VALUE_BYTES`] at a character boundary.
fn bounded(s: impl Into<String>) -> String {
    let mut s = s.into();
    if s.len() > MAX_VALUE_BYTES {
        let mut end = MAX_VALUE_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

impl Scope {
    /// The session (conversation, chat) the work belongs to: `session.id`.
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.values.session_id = Some(bounded(id));
        self
    }

    /// The end user the work is done for: `user.id`.
    pub fn user_id(mut self, id: impl Into<String>) -> Self {
        self.values.user_id = Some(bounded(id));
        self
    }

    /// A tag (kept once; at most [`MAX_TAGS`]).
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        let tag = bounded(tag);
        if self.values.tags.len() < MAX_TAGS && !self.values.tags.contains(&tag) {
            self.values.tags.push(tag);
        }
        self
    }

    /// A metadata entry (a later value for the same key replaces the earlier one; at
    /// most [`MAX_METADATA`] keys).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (bounded(key), bounded(value));
        if let Some(entry) = self.values.metadata.iter_mut().find(|(k, _)| *k == key) {
            entry.1 = value;
        } else if self.values.metadata.len() < MAX_METADATA {
            self.values.metadata.push((key, value));
        }
        self
    }

    /// The prompt template the LLM calls in this scope are made from:
    /// `gen_ai.prompt.name` and `gen_ai.prompt.version` on each inference span.
    pub fn prompt(mut self, name: impl Into<String>, version: Option<&str>) -> Self {
        self.values.prompt = Some((bounded(name), version.map(bounded)));
        self
    }

    /// Also carries the session and user ids to other services as W3C `baggage`
    /// (`session.id`, `user.id`), where our layers read them back. Off by default:
    /// baggage is sent with every outgoing request, to whoever receives it. It needs
    /// a baggage propagator (the pipeline installs one).
    pub fn propagate_in_baggage(mut self, on: bool) -> Self {
        self.baggage = on;
        self
    }

    /// The current context with this scope in it.
    pub fn context(self) -> Context {
        let cx = Context::current();
        let mut entries = Vec::new();
        if self.baggage {
            if let Some(id) = &self.values.session_id {
                entries.push(KeyValue::new(c::SESSION_ID, id.clone()));
            }
            if let Some(id) = &self.values.user_id {
                entries.push(KeyValue::new(c::USER_ID, id.clone()));
            }
        }
        let cx = cx.with_value(Arc::new(self.values));
        if entries.is_empty() {
            cx
        } else {
            let mut all: Vec<KeyValue> = cx
                .baggage()
                .iter()
                .map(|(k, (v, _))| KeyValue::new(k.clone(), v.clone()))
                .filter(|kv| !entries.iter().any(|e| e.key == kv.key))
                .collect();
            all.extend(entries);
            cx.with_baggage(all)
        }
    }

    /// Makes this scope current until the guard is dropped (synchronous code; in async
    /// code use `.with_context(scope.context())` on the future).
    pub fn attach(self) -> opentelemetry::ContextGuard {
        self.context().attach()
    }
}

/// Adds the scope's attributes (or, with no scope, the session and user ids that
/// arrived in baggage) to a span about to start under `parent`.
pub fn extend_span_attributes(parent: &Context, attributes: &mut Vec<KeyValue>) {
    if let Some(values) = parent.get::<Arc<ScopeValues>>() {
        values.span_attributes(attributes);
        return;
    }
    let baggage = parent.baggage();
    if baggage.is_empty() {
        return;
    }
    for key in [c::SESSION_ID, c::USER_ID] {
        if let Some(v) = baggage.get(key) {
            attributes.push(KeyValue::new(key, bounded(v.as_str().to_owned())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bounded_and_merged() {
        let long = "x".repeat(1000);
        let outer = scope().session_id(&long).tag("a").metadata("k", "1");
        let _g = outer.attach();
        let inner = scope().user_id("u").tag("a").tag("b").metadata("k", "2");
        let _g2 = inner.attach();
        let v = current().unwrap();
        assert_eq!(v.session_id().unwrap().len(), MAX_VALUE_BYTES);
        assert_eq!(v.user_id(), Some("u"));
        assert_eq!(v.tags(), ["a", "b"]);
        assert_eq!(v.metadata(), [("k".to_owned(), "2".to_owned())]);
        let mut attrs = Vec::new();
        extend_span_attributes(&Context::current(), &mut attrs);
        assert!(attrs.contains(&KeyValue::new(c::USER_ID, "u")));
        assert!(attrs.contains(&KeyValue::new("langfuse.trace.metadata.k", "2")));
        assert!(attrs.contains(&KeyValue::new(c::METADATA, r#"{"k":"2"}"#)));
    }

    #[test]
    fn baggage_only_when_asked() {
        let cx = scope().session_id("s").context();
        assert_eq!(cx.baggage().len(), 0);
        let cx = scope()
            .session_id("s")
            .user_id("u")
            .propagate_in_baggage(true)
            .context();
        assert_eq!(
            cx.baggage().get(c::SESSION_ID).map(|v| v.as_str()),
            Some("s")
        );
        // A service that receives only the baggage records the ids.
        let received = Context::new().with_baggage(
            cx.baggage()
                .iter()
                .map(|(k, (v, _))| KeyValue::new(k.clone(), v.clone()))
                .collect::<Vec<_>>(),
        );
        let mut attrs = Vec::new();
        extend_span_attributes(&received, &mut attrs);
        assert_eq!(
            attrs,
            [
                KeyValue::new(c::SESSION_ID, "s"),
                KeyValue::new(c::USER_ID, "u")
            ]
        );
    }
}
