//! Events in the OpenTelemetry Logs sense: log records with an event name, emitted by
//! the layers (`gen_ai.client.inference.operation.details`,
//! `gen_ai.evaluation.result`) with structured attributes (maps and arrays, not JSON
//! strings) and the trace and span ids of the span they describe.
//!
//! The OpenTelemetry Rust API has no global logger provider, so this module holds the
//! one the layers use. The telemetry pipeline installs it (`aitrace::init()`); an
//! application with its own pipeline calls [`install`] with its `SdkLoggerProvider`.
//! Until then [`emit`] does nothing, costing one atomic load.
//!
//! ```
//! use aitrace_core::logs::{self, EventAttributes};
//! use opentelemetry::logs::{AnyValue, Severity};
//! use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
//!
//! let exporter = InMemoryLogExporter::default();
//! let provider = SdkLoggerProvider::builder()
//!     .with_simple_exporter(exporter.clone())
//!     .build();
//! logs::install(&provider);
//!
//! let mut attributes = EventAttributes::new();
//! attributes.push("gen_ai.evaluation.name", AnyValue::from("relevance"));
//! logs::emit("gen_ai.evaluation.result", Severity::Info, &opentelemetry::Context::current(), attributes);
//!
//! let records = exporter.get_emitted_logs().unwrap();
//! assert_eq!(records[0].record.event_name(), Some("gen_ai.evaluation.result"));
//! # logs::uninstall();
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, InstrumentationScope, Key, KeyValue, Value};
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};

static INSTALLED: AtomicBool = AtomicBool::new(false);
static LOGGER: RwLock<Option<SdkLogger>> = RwLock::new(None);

/// Makes `provider` the one the layers emit events to (replacing any before).
pub fn install(provider: &SdkLoggerProvider) {
    let scope = InstrumentationScope::builder("aitrace")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let logger = provider.logger_with_scope(scope);
    *LOGGER.write().unwrap_or_else(|e| e.into_inner()) = Some(logger);
    INSTALLED.store(true, Ordering::Release);
}

/// Stops emitting events (the pipeline calls it at shutdown).
pub fn uninstall() {
    INSTALLED.store(false, Ordering::Release);
    *LOGGER.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Whether a logger provider is installed: callers skip building events otherwise.
pub fn is_installed() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// The attributes of one event, in order.
#[derive(Debug, Default, Clone)]
pub struct EventAttributes(Vec<(Key, AnyValue)>);

impl EventAttributes {
    /// No attributes yet.
    pub fn new() -> EventAttributes {
        EventAttributes(Vec::new())
    }

    /// Adds one attribute.
    pub fn push(&mut self, key: impl Into<Key>, value: AnyValue) {
        self.0.push((key.into(), value));
    }

    /// Adds span-style attributes (arrays become lists).
    pub fn extend_key_values<'a>(&mut self, attributes: impl IntoIterator<Item = &'a KeyValue>) {
        for kv in attributes {
            self.0.push((kv.key.clone(), any_value(&kv.value)));
        }
    }

    /// Adds a JSON value in structured form (objects become maps, arrays lists).
    pub fn push_json(&mut self, key: impl Into<Key>, value: &serde_json::Value) {
        self.0.push((key.into(), json_value(value)));
    }

    /// The attribute named `key`, if present.
    pub fn get(&self, key: &str) -> Option<&AnyValue> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }
}

/// A span attribute value as a log attribute value.
pub fn any_value(value: &Value) -> AnyValue {
    use opentelemetry::Array;
    match value {
        Value::Bool(b) => AnyValue::Boolean(*b),
        Value::I64(i) => AnyValue::Int(*i),
        Value::F64(f) => AnyValue::Double(*f),
        Value::String(s) => AnyValue::String(s.clone()),
        Value::Array(Array::Bool(v)) => v.iter().map(|b| AnyValue::Boolean(*b)).collect(),
        Value::Array(Array::I64(v)) => v.iter().map(|i| AnyValue::Int(*i)).collect(),
        Value::Array(Array::F64(v)) => v.iter().map(|f| AnyValue::Double(*f)).collect(),
        Value::Array(Array::String(v)) => v.iter().map(|s| AnyValue::String(s.clone())).collect(),
        other => AnyValue::String(other.to_string().into()),
    }
}

/// A JSON value in the structured form the conventions ask events to carry.
pub fn json_value(value: &serde_json::Value) -> AnyValue {
    use serde_json::Value as J;
    match value {
        // OTLP has no null: an empty string keeps the key visible.
        J::Null => AnyValue::String("".into()),
        J::Bool(b) => AnyValue::Boolean(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => AnyValue::Int(i),
            None => AnyValue::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => AnyValue::String(s.clone().into()),
        J::Array(items) => AnyValue::ListAny(Box::new(items.iter().map(json_value).collect())),
        J::Object(map) => AnyValue::Map(Box::new(
            map.iter()
                .map(|(k, v)| (Key::from(k.clone()), json_value(v)))
                .collect::<HashMap<_, _>>(),
        )),
    }
}

/// Emits the event `name`, tied to the span of `cx` (when it has one).
pub fn emit(name: &'static str, severity: Severity, cx: &Context, attributes: EventAttributes) {
    if !is_installed() {
        return;
    }
    let guard = LOGGER.read().unwrap_or_else(|e| e.into_inner());
    let Some(logger) = guard.as_ref() else {
        return;
    };
    let mut record = logger.create_log_record();
    record.set_event_name(name);
    record.set_severity_number(severity);
    record.set_severity_text(severity.name());
    let now = std::time::SystemTime::now();
    record.set_timestamp(now);
    record.set_observed_timestamp(now);
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        record.set_trace_context(sc.trace_id(), sc.span_id(), Some(sc.trace_flags()));
    }
    record.add_attributes(attributes.0);
    logger.emit(record);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_becomes_structured_values() {
        let v = json_value(&serde_json::json!({"role": "user", "parts": [{"n": 1}]}));
        let AnyValue::Map(map) = v else {
            panic!("{v:?}")
        };
        assert_eq!(map.get(&Key::from("role")), Some(&AnyValue::from("user")));
        let Some(AnyValue::ListAny(parts)) = map.get(&Key::from("parts")) else {
            panic!("{map:?}")
        };
        let AnyValue::Map(part) = &parts[0] else {
            panic!()
        };
        assert_eq!(part.get(&Key::from("n")), Some(&AnyValue::Int(1)));
    }
}
