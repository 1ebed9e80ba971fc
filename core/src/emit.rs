//! The one way AITrace's layers emit spans.
//!
//! # Why spans are made with the OpenTelemetry API, not `tracing`
//!
//! On this kind of machine a raw SDK span with 8 attributes costs about 0.47 µs, while
//! the same span made with `tracing` and turned into OpenTelemetry by
//! tracing-opentelemetry costs about 2 µs (measured on a 2-vCPU Xeon with an SDK
//! simple processor and a no-op exporter; see BENCHMARKS.md for the layers' numbers). Layers sit on
//! every LLM call, tool call and HTTP hop, so [`OtelSpan`] starts spans directly on the
//! global tracer provider, and keeps the `tracing` contract users live in:
//!
//! - **Our spans nest under the user's `tracing` spans.** tracing-opentelemetry
//!   activates a span's OpenTelemetry context while the `tracing` span is entered, so
//!   the parent is simply `opentelemetry::Context::current()`.
//! - **The user's spans nest under ours.** Layers attach [`OtelSpan::context`] while
//!   their inner future runs; tracing-opentelemetry parents new contextual `tracing`
//!   spans on the current OpenTelemetry context.
//! - **Logs inside our spans carry our ids** (the setup's log layer reads the current
//!   OpenTelemetry context).
//! - **A user whose only setup is a `tracing` subscriber with an `OpenTelemetryLayer`
//!   (and no global tracer provider) still sees our spans**: when the global provider
//!   gives a non-recording span, a `tracing` span is made instead, and kept if that
//!   subscriber records it.
//! - **With no `tracing` subscriber at all** nothing is made (one atomic load), unless
//!   [`set_enabled_without_subscriber`] says otherwise (for applications that use the
//!   OpenTelemetry API alone).
//!
//! A span that is not recorded still carries its parent's context, so trace context
//! still propagates through it.
//!
//! ```
//! use aitrace_core::emit::OtelSpan;
//! use opentelemetry::trace::SpanKind;
//! use opentelemetry::KeyValue;
//!
//! let span = OtelSpan::start("chat gpt-4o", SpanKind::Client, vec![
//!     KeyValue::new("gen_ai.operation.name", "chat"),
//! ]);
//! span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", 12_i64));
//! span.end();
//! ```

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::conventions;

static WITHOUT_SUBSCRIBER: AtomicBool = AtomicBool::new(false);

/// Span names kept for the life of the process, at most.
const LASTING_NAMES: usize = 256;

/// The longest span name kept for the life of the process, in bytes.
const LASTING_NAME_BYTES: usize = 128;

/// The span names calls repeat (`chat gpt-4o-mini`, `execute_tool search`), each
/// allocated once and then held as a `&'static str`. A span's name goes to the
/// exporter's thread with the span: a name of its own is an allocation made here
/// and freed there, which contends with the application's allocations, and the
/// `tracing` fallback of [`OtelSpan`] needs a copy of it. The first
/// [`LASTING_NAMES`] distinct names of at most [`LASTING_NAME_BYTES`] are kept (at
/// most 32 KiB of text and the set's own table, whatever callers name their spans);
/// any other name is used as it comes.
fn lasting_name(name: Cow<'static, str>) -> Cow<'static, str> {
    type Names = std::collections::HashSet<&'static str, foldhash::fast::RandomState>;
    static NAMES: std::sync::LazyLock<std::sync::RwLock<Names>> =
        std::sync::LazyLock::new(Default::default);
    let Cow::Owned(owned) = name else {
        return name;
    };
    if owned.len() > LASTING_NAME_BYTES {
        return Cow::Owned(owned);
    }
    let (known, full) = {
        let names = NAMES.read().unwrap_or_else(|e| e.into_inner());
        (
            names.get(owned.as_str()).copied(),
            names.len() >= LASTING_NAMES,
        )
    };
    if let Some(known) = known {
        return Cow::Borrowed(known);
    }
    // Once the set is full, a name it does not hold never waits for the write lock.
    if full {
        return Cow::Owned(owned);
    }
    let mut names = NAMES.write().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = names.get(owned.as_str()) {
        return Cow::Borrowed(known);
    }
    if names.len() >= LASTING_NAMES {
        return Cow::Owned(owned);
    }
    let kept: &'static str = Box::leak(owned.into_boxed_str());
    names.insert(kept);
    Cow::Borrowed(kept)
}

/// Makes layers emit spans even when no `tracing` subscriber is installed (for
/// applications that use the OpenTelemetry API and a global tracer provider alone).
pub fn set_enabled_without_subscriber(on: bool) {
    WITHOUT_SUBSCRIBER.store(on, Ordering::Relaxed);
}

static SDK_METERS: AtomicBool = AtomicBool::new(false);

/// Declares whether the global meter provider is the OpenTelemetry SDK's
/// (`opentelemetry_sdk::metrics::SdkMeterProvider`); `aitrace::init()` declares the one
/// it installs. The GenAI layers then record their metric points through instruments
/// bound to each attribute set, which the SDK finds once instead of on every point.
/// Declare no other provider: the OpenTelemetry API's default `bind` returns a handle
/// that drops what is recorded through it.
///
/// ```
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
///
/// let provider = SdkMeterProvider::builder().build();
/// opentelemetry::global::set_meter_provider(provider.clone());
/// aitrace_core::emit::set_sdk_meter_provider(true);
/// assert!(aitrace_core::emit::sdk_meter_provider());
/// # aitrace_core::emit::set_sdk_meter_provider(false);
/// ```
pub fn set_sdk_meter_provider(is_sdk: bool) {
    SDK_METERS.store(is_sdk, Ordering::Relaxed);
}

/// Whether the global meter provider was declared the SDK's
/// ([`set_sdk_meter_provider`]).
#[inline]
pub fn sdk_meter_provider() -> bool {
    SDK_METERS.load(Ordering::Relaxed)
}

/// Whether layers should do any work: a `tracing` subscriber has been installed (or
/// [`set_enabled_without_subscriber`] was called). One atomic load; layers pass calls
/// straight through when this is `false` and nothing else needs them.
#[inline]
pub fn is_active() -> bool {
    tracing::dispatcher::has_been_set() || WITHOUT_SUBSCRIBER.load(Ordering::Relaxed)
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("aitrace")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// A span made by an AITrace layer. Ends when [`OtelSpan::end`] is called or when
/// dropped.
#[derive(Debug)]
pub struct OtelSpan {
    state: State,
}

#[derive(Debug)]
enum State {
    /// A span of the global tracer provider; the context holds it.
    Otel(Context),
    /// A `tracing` span (no global provider, but a tracing-opentelemetry subscriber).
    Tracing(tracing::Span, Context),
    /// Not recorded; the context is the parent's (still propagates).
    Off(Context),
}

fn kind_str(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

impl OtelSpan {
    /// Starts a span whose parent is the current OpenTelemetry context (the user's
    /// entered `tracing` span, or a span of ours attached to the running future).
    /// `attributes` are set at start, where samplers see them.
    pub fn start(
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
    ) -> OtelSpan {
        OtelSpan::start_with_parent(&Context::current(), name, kind, attributes)
    }

    /// Starts a span with an explicit parent context (e.g. one extracted from
    /// incoming headers).
    pub fn start_with_parent(
        parent: &Context,
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
    ) -> OtelSpan {
        OtelSpan::start_with_links(parent, name, kind, attributes, Vec::new())
    }

    /// Starts a span with an explicit parent and links to other spans' contexts (e.g.
    /// a batch consumer linking every message's creation context). Links are set at
    /// start, where samplers see them; invalid contexts are skipped.
    pub fn start_with_links(
        parent: &Context,
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
        links: Vec<SpanContext>,
    ) -> OtelSpan {
        OtelSpan::start_inner(parent, name.into(), kind, attributes, links, 0)
    }

    /// Starts a span (as [`OtelSpan::start_with_parent`]) that keeps room for `more`
    /// attributes set later, e.g. those of a response at the end of a call: the SDK
    /// keeps a span's attributes in one list, which would otherwise grow (and be
    /// copied) as they are set.
    ///
    /// ```
    /// use aitrace_core::emit::OtelSpan;
    /// use opentelemetry::trace::SpanKind;
    /// use opentelemetry::{Context, KeyValue};
    ///
    /// let span = OtelSpan::start_with_room(
    ///     &Context::current(),
    ///     "chat gpt-4o-mini",
    ///     SpanKind::Client,
    ///     vec![KeyValue::new("gen_ai.request.model", "gpt-4o-mini")],
    ///     12,
    /// );
    /// span.set_attributes([KeyValue::new("gen_ai.usage.input_tokens", 19_i64)]);
    /// span.end();
    /// ```
    pub fn start_with_room(
        parent: &Context,
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
        more: usize,
    ) -> OtelSpan {
        OtelSpan::start_inner(parent, name.into(), kind, attributes, Vec::new(), more)
    }

    fn start_inner(
        parent: &Context,
        name: Cow<'static, str>,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
        links: Vec<SpanContext>,
        more: usize,
    ) -> OtelSpan {
        if !is_active() {
            return OtelSpan::off(parent.clone());
        }
        let name = lasting_name(name);
        let mut attributes = attributes;
        crate::context::extend_span_attributes(parent, &mut attributes);
        // Caller-controlled names and ids (a model name from the request) are bounded.
        let attributes: Vec<KeyValue> = attributes
            .into_iter()
            .map(crate::bound::bound_attribute)
            .collect();
        // The SDK takes this list as the span's own (its capacity included); the
        // `tracing` fallback below needs the attributes too.
        let mut for_span = Vec::with_capacity(attributes.len() + more);
        for_span.extend(attributes.iter().cloned());
        let tracer = opentelemetry::global::tracer_provider().tracer_with_scope(scope());
        let builder = tracer
            .span_builder(name.clone())
            .with_kind(kind.clone())
            .with_attributes(for_span)
            .with_links(
                links
                    .iter()
                    .filter(|l| l.is_valid())
                    .map(|l| Link::with_context(l.clone()))
                    .collect(),
            );
        let span = tracer.build_with_context(builder, parent);
        if span.is_recording() {
            return OtelSpan {
                state: State::Otel(parent.with_span(span)),
            };
        }
        // Sampled out, or no global provider: a tracing-opentelemetry subscriber may
        // still record a `tracing` span.
        let ts = tracing::info_span!(
            target: "aitrace",
            "aitrace",
            otel.name = %name,
            otel.kind = kind_str(&kind)
        );
        if !ts.is_disabled() {
            if parent.has_active_span() {
                let _ = ts.set_parent(parent.clone());
            }
            let cx = ts.context();
            if cx.span().span_context().is_sampled() {
                for kv in attributes {
                    ts.set_attribute(kv.key, kv.value);
                }
                for link in links.into_iter().filter(|l| l.is_valid()) {
                    ts.add_link(link);
                }
                return OtelSpan {
                    state: State::Tracing(ts, cx),
                };
            }
        }
        OtelSpan {
            state: State::Off(parent.with_span(span)),
        }
    }

    /// A span that records nothing and carries `parent` on.
    pub fn off(parent: Context) -> OtelSpan {
        OtelSpan {
            state: State::Off(parent),
        }
    }

    /// Whether anything set on this span is recorded.
    pub fn is_recording(&self) -> bool {
        !matches!(self.state, State::Off(_))
    }

    /// The context to attach while work inside the span runs, and to inject into
    /// outgoing requests.
    pub fn context(&self) -> Context {
        match &self.state {
            State::Otel(cx) | State::Tracing(_, cx) | State::Off(cx) => cx.clone(),
        }
    }

    /// Sets one attribute (names and ids the caller controls are bounded, see
    /// [`bound::BOUNDED_ATTRIBUTES`](crate::bound::BOUNDED_ATTRIBUTES)).
    pub fn set_attribute(&self, kv: KeyValue) {
        let kv = crate::bound::bound_attribute(kv);
        match &self.state {
            State::Otel(cx) => cx.span().set_attribute(kv),
            State::Tracing(ts, _) => ts.set_attribute(kv.key, kv.value),
            State::Off(_) => {}
        }
    }

    /// Sets several attributes (bounded as in [`OtelSpan::set_attribute`]).
    pub fn set_attributes(&self, attributes: impl IntoIterator<Item = KeyValue>) {
        let attributes = attributes.into_iter().map(crate::bound::bound_attribute);
        match &self.state {
            State::Otel(cx) => cx.span().set_attributes(attributes),
            State::Tracing(ts, _) => {
                for kv in attributes {
                    ts.set_attribute(kv.key, kv.value);
                }
            }
            State::Off(_) => {}
        }
    }

    /// Adds an event.
    pub fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        match &self.state {
            State::Otel(cx) => cx.span().add_event(name, attributes),
            State::Tracing(ts, _) => ts.add_event(name, attributes),
            State::Off(_) => {}
        }
    }

    /// Sets the status. An error description made at run time passes
    /// [`safe_message`](crate::content::safe_message) first (see
    /// [`OtelSpan::set_error`]).
    pub fn set_status(&self, status: Status) {
        let status = safe_status(status);
        match &self.state {
            State::Otel(cx) => cx.span().set_status(status),
            State::Tracing(ts, _) => ts.set_status(status),
            State::Off(_) => {}
        }
    }

    /// Marks the span failed: `error.type` plus an error status with `description`.
    ///
    /// This is where every error message of every layer is recorded, so it is where
    /// they are made safe: a description made at run time (an owned string: an error's
    /// `Display`, a provider's error body) passes
    /// [`safe_message`](crate::content::safe_message) (URLs and query strings redacted,
    /// secrets redacted, cut); `&'static str` descriptions are the layers' own fixed
    /// texts and are kept as they are.
    ///
    /// ```
    /// use aitrace_core::emit::OtelSpan;
    /// use opentelemetry::trace::SpanKind;
    ///
    /// let span = OtelSpan::start("execute_tool fetch", SpanKind::Internal, vec![]);
    /// let error = "HTTP status client error (404) for url (https://h/x?key=KEY123)".to_owned();
    /// span.set_error("404", error); // recorded as `...?key=REDACTED)`
    /// ```
    pub fn set_error(
        &self,
        error_type: impl Into<opentelemetry::Value>,
        description: impl Into<Cow<'static, str>>,
    ) {
        if !self.is_recording() {
            return;
        }
        self.set_attribute(KeyValue::new(conventions::ERROR_TYPE, error_type));
        self.set_status(Status::error(description));
    }

    /// Marks the span failed with a message that is redacted and cut first
    /// ([`safe_message`](crate::content::safe_message)): error messages often quote
    /// requests, URLs and keys.
    pub fn record_error(&self, error_type: impl Into<opentelemetry::Value>, message: &str) {
        if self.is_recording() {
            self.set_error(error_type, message.to_owned());
        }
    }

    /// Records a panic: an `exception` event with the (redacted) message and an error
    /// status with `error.type=panic`.
    pub fn record_panic(&self, payload: &(dyn std::any::Any + Send)) {
        if !self.is_recording() {
            return;
        }
        let message = crate::content::safe_message(crate::classify::panic_message(payload));
        self.add_event(
            conventions::EXCEPTION_EVENT,
            vec![
                KeyValue::new(conventions::EXCEPTION_TYPE, conventions::ERROR_TYPE_PANIC),
                KeyValue::new(conventions::EXCEPTION_MESSAGE, message.clone()),
            ],
        );
        self.set_error(
            conventions::ERROR_TYPE_PANIC,
            format!("panicked: {message}"),
        );
    }

    /// Links this span to another span context (e.g. the transport's HTTP request
    /// when the parent came from the message itself).
    pub fn add_link(&self, span_context: opentelemetry::trace::SpanContext) {
        match &self.state {
            State::Otel(cx) => cx.span().add_link(span_context, Vec::new()),
            State::Tracing(ts, _) => ts.add_link(span_context),
            State::Off(_) => {}
        }
    }

    /// Renames the span (e.g. once the route or model is known).
    pub fn update_name(&self, name: impl Into<Cow<'static, str>>) {
        match &self.state {
            State::Otel(cx) => cx.span().update_name(name),
            State::Tracing(ts, _) => {
                ts.record("otel.name", name.into().as_ref());
            }
            State::Off(_) => {}
        }
    }

    /// A cloneable handle that sets attributes and the status on this span from
    /// elsewhere (e.g. an adapter that finds the span through a context marker, see
    /// [`tool_call`](crate::tool_call)). It does not end the span.
    pub fn handle(&self) -> SpanHandle {
        SpanHandle {
            state: match &self.state {
                State::Otel(cx) => HandleState::Otel(cx.clone()),
                State::Tracing(ts, _) => HandleState::Tracing(ts.clone()),
                State::Off(_) => HandleState::Off,
            },
        }
    }

    /// Ends the span now.
    pub fn end(self) {
        drop(self);
    }
}

impl Drop for OtelSpan {
    fn drop(&mut self) {
        // Context clones may outlive us (attached in spawned tasks): end explicitly.
        if let State::Otel(cx) = &self.state {
            cx.span().end();
        }
    }
}

/// A cloneable handle on an [`OtelSpan`] ([`OtelSpan::handle`]): sets attributes and
/// the status while the span lives; does nothing once it has ended.
#[derive(Debug, Clone)]
pub struct SpanHandle {
    state: HandleState,
}

#[derive(Debug, Clone)]
enum HandleState {
    Otel(Context),
    Tracing(tracing::Span),
    Off,
}

impl SpanHandle {
    /// Whether anything set through this handle is recorded.
    pub fn is_recording(&self) -> bool {
        match &self.state {
            HandleState::Otel(cx) => cx.span().is_recording(),
            HandleState::Tracing(_) => true,
            HandleState::Off => false,
        }
    }

    /// Sets several attributes.
    pub fn set_attributes(&self, attributes: impl IntoIterator<Item = KeyValue>) {
        match &self.state {
            HandleState::Otel(cx) => cx.span().set_attributes(attributes),
            HandleState::Tracing(ts) => {
                for kv in attributes {
                    ts.set_attribute(kv.key, kv.value);
                }
            }
            HandleState::Off => {}
        }
    }

    /// Marks the span failed: `error.type` plus an error status with `description`.
    pub fn set_error(
        &self,
        error_type: impl Into<opentelemetry::Value>,
        description: impl Into<Cow<'static, str>>,
    ) {
        let kv = KeyValue::new(conventions::ERROR_TYPE, error_type);
        let status = safe_status(Status::error(description));
        match &self.state {
            HandleState::Otel(cx) => {
                cx.span().set_attribute(kv);
                cx.span().set_status(status);
            }
            HandleState::Tracing(ts) => {
                ts.set_attribute(kv.key, kv.value);
                ts.set_status(status);
            }
            HandleState::Off => {}
        }
    }
}

/// An error status whose run-time description is made safe to record.
fn safe_status(status: Status) -> Status {
    match status {
        Status::Error {
            description: Cow::Owned(text),
        } => Status::error(crate::content::safe_message(&text)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_names_are_kept_up_to_the_bound_and_always_come_out_unchanged() {
        // The first sighting of a name is kept; the next gives the same string back.
        let first = lasting_name(Cow::Owned("chat lasting-test-model".to_owned()));
        let again = lasting_name(Cow::Owned("chat lasting-test-model".to_owned()));
        match (&first, &again) {
            (Cow::Borrowed(a), Cow::Borrowed(b)) => assert!(std::ptr::eq(*a, *b)),
            other => panic!("not kept: {other:?}"),
        }
        assert_eq!(again, "chat lasting-test-model");
        // A long name is never kept.
        let long = "x".repeat(LASTING_NAME_BYTES + 1);
        assert!(matches!(lasting_name(Cow::Owned(long.clone())), Cow::Owned(n) if n == long));
        // Past the bound, names are used as they come, and still come out unchanged.
        let mut kept = 0;
        for i in 0..LASTING_NAMES + 50 {
            let name = format!("execute_tool tool-{i}");
            let out = lasting_name(Cow::Owned(name.clone()));
            assert_eq!(out, name);
            kept += usize::from(matches!(out, Cow::Borrowed(_)));
        }
        assert!(kept < LASTING_NAMES, "{kept} kept");
        assert!(kept > 0);
        // A static name is passed through as it is.
        assert!(matches!(
            lasting_name(Cow::Borrowed("chat")),
            Cow::Borrowed("chat")
        ));
    }
}
