//! The log layer's event format: the default `tracing-subscriber` line, prefixed with
//! the trace and span id of the span the event happened in.

use std::fmt;

use opentelemetry::trace::TraceContextExt;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as `trace_id=… span_id=… <default format>`.
///
/// The ids come from the current OpenTelemetry context, which tracing-opentelemetry
/// activates while a span is entered.
#[derive(Debug, Default)]
pub(crate) struct TraceIdFormat {
    inner: Format,
}

impl<S, N> FormatEvent<S, N> for TraceIdFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let cx = opentelemetry::Context::current();
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            write!(
                writer,
                "trace_id={} span_id={} ",
                sc.trace_id(),
                sc.span_id()
            )?;
        }
        self.inner.format_event(ctx, writer, event)
    }
}
