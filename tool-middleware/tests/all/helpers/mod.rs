//! Test environment: the global tracer provider with an in-memory exporter, a
//! tracing subscriber with tracing-opentelemetry (installed once per binary), a way to
//! run a test under its own trace, and a test double of aitrace-llm's layer.

#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use aitrace_core::conventions::{self as c, NameSet, Operation};
use aitrace_core::cost::Cost;
use aitrace_core::emit::OtelSpan;
use aitrace_core::run::Run;
use aitrace_core::usage::Usage;
use opentelemetry::trace::{
    FutureExt as _, SpanId, SpanKind, Status, TraceContextExt as _, TraceId, TracerProvider as _,
};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tower::Service;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

struct Telemetry {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

fn telemetry() -> &'static Telemetry {
    static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        opentelemetry::global::set_tracer_provider(provider.clone());
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("user")))
            .try_init()
            .expect("no other subscriber in this test binary");
        Telemetry { exporter, provider }
    })
}

/// Makes a future with `make` and runs it inside a new root `tracing` span (the
/// user's), in a trace of its own; returns its output and the trace's finished spans.
///
/// The future is made inside the span: calls made when the future is made (a
/// service's `call`, `agent::run`) start their spans under it, as in an application.
pub async fn traced<F: Future>(make: impl FnOnce() -> F) -> (F::Output, Trace) {
    let telemetry = telemetry();
    let root = tracing::info_span!(parent: None, "test root");
    let trace_id = root.context().span().span_context().trace_id();
    assert_ne!(trace_id, TraceId::INVALID, "telemetry is not recording");
    let future = root.in_scope(make);
    let output = future.instrument(root.clone()).await;
    drop(root);
    let _ = telemetry.provider.force_flush();
    let spans = telemetry
        .exporter
        .get_finished_spans()
        .expect("exporter works")
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace_id)
        .collect();
    (output, Trace { spans })
}

/// The finished spans of one trace.
#[derive(Debug)]
pub struct Trace {
    pub spans: Vec<SpanData>,
}

impl Trace {
    /// The one span named `name`.
    pub fn span(&self, name: &str) -> &SpanData {
        let found = self.all(name);
        assert_eq!(
            found.len(),
            1,
            "expected one `{name}` span in {:#?}",
            self.names()
        );
        found[0]
    }

    /// Every span named `name`, in the order they ended.
    pub fn all(&self, name: &str) -> Vec<&SpanData> {
        self.spans.iter().filter(|s| s.name == name).collect()
    }

    /// Every span whose name starts with `prefix`.
    pub fn starting_with(&self, prefix: &str) -> Vec<&SpanData> {
        self.spans
            .iter()
            .filter(|s| s.name.starts_with(prefix))
            .collect()
    }

    /// The user's root span of the test.
    pub fn root(&self) -> &SpanData {
        self.span("test root")
    }

    /// The spans whose parent is `parent`.
    pub fn children_of(&self, parent: &SpanData) -> Vec<&SpanData> {
        let id = parent.span_context.span_id();
        self.spans
            .iter()
            .filter(|s| s.parent_span_id == id)
            .collect()
    }

    /// Whether `span` is `ancestor` or below it.
    pub fn descends_from(&self, span: &SpanData, ancestor: &SpanData) -> bool {
        let target = ancestor.span_context.span_id();
        let mut current = Some(span);
        while let Some(s) = current {
            if s.span_context.span_id() == target {
                return true;
            }
            current = self.by_id(s.parent_span_id);
        }
        false
    }

    fn by_id(&self, id: SpanId) -> Option<&SpanData> {
        self.spans.iter().find(|s| s.span_context.span_id() == id)
    }

    pub fn names(&self) -> Vec<&str> {
        self.spans.iter().map(|s| s.name.as_ref()).collect()
    }
}

/// The value of attribute `key` on `span`.
pub fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

/// The `i64` attribute `key` on `span`, 0 when absent.
pub fn int(span: &SpanData, key: &str) -> i64 {
    match attr(span, key) {
        Some(Value::I64(v)) => v,
        None => 0,
        Some(other) => panic!("{key} is not an i64: {other:?}"),
    }
}

/// The `f64` attribute `key` on `span`.
pub fn double(span: &SpanData, key: &str) -> f64 {
    match attr(span, key) {
        Some(Value::F64(v)) => v,
        other => panic!("{key} is not an f64: {other:?}"),
    }
}

/// The string attribute `key` on `span`.
pub fn string(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| match v {
        Value::String(s) => s.to_string(),
        other => panic!("{key} is not a string: {other:?}"),
    })
}

/// The attributes of the one event named `name` on `span`.
pub fn event<'a>(span: &'a SpanData, name: &str) -> &'a [KeyValue] {
    let found: Vec<_> = span.events.iter().filter(|e| e.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one `{name}` event on {}: {:?}",
        span.name,
        span.events
    );
    &found[0].attributes
}

/// The error description of `span`'s status.
pub fn error_description(span: &SpanData) -> String {
    match &span.status {
        Status::Error { description } => description.to_string(),
        other => panic!("{} has status {other:?}, not an error", span.name),
    }
}

/// A chat request for [`FakeLlm`].
#[derive(Debug, Clone)]
pub struct Chat {
    pub model: &'static str,
    pub usage: Usage,
    pub cost: Option<Cost>,
}

impl Chat {
    pub fn new(model: &'static str, input: u64, output: u64, picodollars: u128) -> Chat {
        Chat {
            model,
            usage: Usage::new(input, output),
            cost: Some(Cost::from_picodollars(picodollars)),
        }
    }
}

/// A test double of aitrace-llm's layer over an LLM client: starts a `chat {model}`
/// CLIENT span under the current context, captures the current run when called, and
/// at the end records usage and cost on the span and in the run.
#[derive(Debug, Clone, Default)]
pub struct FakeLlm {
    pub calls: Arc<AtomicUsize>,
}

impl FakeLlm {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Service<Chat> for FakeLlm {
    type Response = String;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<String, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, chat: Chat) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let run = Run::current();
        let span = OtelSpan::start(
            c::inference_span_name(Operation::Chat, Some(chat.model)),
            SpanKind::Client,
            vec![
                KeyValue::new(c::GEN_AI_OPERATION_NAME, "chat"),
                KeyValue::new(c::GEN_AI_PROVIDER_NAME, "openai"),
                KeyValue::new(c::GEN_AI_REQUEST_MODEL, chat.model),
            ],
        );
        let cx = span.context();
        Box::pin(
            async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                span.set_attributes(chat.usage.attributes(NameSet::default()));
                if let Some(cost) = chat.cost {
                    span.set_attribute(KeyValue::new(c::GEN_AI_USAGE_COST, cost.usd()));
                }
                if let Some(run) = run {
                    run.record_llm_call(Some(chat.usage), chat.cost);
                }
                span.end();
                Ok(format!("reply from {}", chat.model))
            }
            .with_context(cx),
        )
    }
}
