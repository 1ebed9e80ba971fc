//! Small helpers to put OpenTelemetry attributes, statuses and events on spans.
//!
//! `tracing` is the contract AITrace lives in: attributes that `tracing` fields cannot
//! carry (string arrays, doubles recorded late, typed values) go through
//! tracing-opentelemetry's [`OpenTelemetrySpanExt`]. Each helper is a no-op on a
//! disabled span.
//!
//! ```
//! use aitrace_core::span;
//! use opentelemetry::KeyValue;
//!
//! let s = tracing::info_span!("work");
//! span::set_attributes(&s, [KeyValue::new("gen_ai.request.model", "gpt-4o")]);
//! span::set_error(&s, "timeout", "the call timed out");
//! ```

use opentelemetry::trace::Status;
use opentelemetry::KeyValue;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::conventions;

/// Sets each attribute on the span.
pub fn set_attributes(span: &tracing::Span, attributes: impl IntoIterator<Item = KeyValue>) {
    if span.is_disabled() {
        return;
    }
    for kv in attributes {
        span.set_attribute(kv.key, kv.value);
    }
}

/// Marks the span as failed: `error.type` and an error status with a description,
/// made safe to record first ([`safe_message`](crate::content::safe_message): URLs and
/// secrets redacted, cut).
pub fn set_error(span: &tracing::Span, error_type: &str, description: impl Into<String>) {
    if span.is_disabled() {
        return;
    }
    span.set_attribute(conventions::ERROR_TYPE, error_type.to_owned());
    span.set_status(Status::error(crate::content::safe_message(
        &description.into(),
    )));
}

/// Marks the span as successful (an explicit OK status).
pub fn set_ok(span: &tracing::Span) {
    if !span.is_disabled() {
        span.set_status(Status::Ok);
    }
}
