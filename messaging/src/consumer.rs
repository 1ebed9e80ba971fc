//! The consumer side: `process {destination}` spans that continue the producer's trace.

use aitrace_core::emit::OtelSpan;
use aitrace_core::propagation::{self, Bounded};
use aitrace_core::run::Run;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{SpanContext, SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};

use crate::attributes as a;
use crate::carrier;
use crate::Messaging;

/// A CONSUMER span for processing one received message or a batch. Ends when dropped
/// or on [`ConsumerSpan::end`].
#[derive(Debug)]
pub struct ConsumerSpan {
    span: OtelSpan,
    cx: Context,
    run: Option<Run>,
}

/// The creation context carried by `headers`, when it holds a valid one. Oversized
/// values are ignored; anything the propagator cannot parse gives `None`.
fn creation_context(ambient: &Context, headers: &dyn Extractor) -> Option<Context> {
    let cx = propagation::extract_with_context(ambient, &Bounded(headers));
    let sc = cx.span().span_context().clone();
    (sc.is_valid() && sc.is_remote() && sc != *ambient.span().span_context()).then_some(cx)
}

impl ConsumerSpan {
    pub(crate) fn start_single(
        messaging: &Messaging,
        destination: &str,
        headers: &dyn Extractor,
    ) -> ConsumerSpan {
        let ambient = Context::current();
        let (parent, links) = match creation_context(&ambient, headers) {
            // One message: its creation context is the parent, and the context the
            // consumer was in (e.g. its receive loop's span) is linked.
            Some(creation) => {
                let ambient_sc = ambient.span().span_context().clone();
                (creation, vec![ambient_sc])
            }
            // No usable context: a new trace (or the ambient one), never a failure.
            None => (ambient, Vec::new()),
        };
        let run = ConsumerSpan::carried_run(messaging, headers);
        ConsumerSpan::start(messaging, destination, None, &parent, links, run)
    }

    pub(crate) fn start_batch(
        messaging: &Messaging,
        destination: &str,
        messages: &[&dyn Extractor],
    ) -> ConsumerSpan {
        let ambient = Context::current();
        let links: Vec<SpanContext> = messages
            .iter()
            .filter_map(|h| creation_context(&ambient, *h))
            .map(|cx| cx.span().span_context().clone())
            .collect();
        ConsumerSpan::start(
            messaging,
            destination,
            Some(messages.len()),
            &ambient,
            links,
            None,
        )
    }

    fn carried_run(messaging: &Messaging, headers: &dyn Extractor) -> Option<Run> {
        if !messaging.carry_run {
            return None;
        }
        let name = carrier::header(headers, a::RUN_HEADER)?;
        // Its own run (totals of this process only), reported back with the reply.
        Some(Run::with_parent(name, None))
    }

    fn start(
        messaging: &Messaging,
        destination: &str,
        batch: Option<usize>,
        parent: &Context,
        links: Vec<SpanContext>,
        run: Option<Run>,
    ) -> ConsumerSpan {
        let mut attributes = vec![
            KeyValue::new(a::MESSAGING_SYSTEM, messaging.system.clone()),
            KeyValue::new(a::MESSAGING_OPERATION_NAME, "process"),
            KeyValue::new(a::MESSAGING_OPERATION_TYPE, a::OPERATION_TYPE_PROCESS),
            KeyValue::new(a::MESSAGING_DESTINATION_NAME, destination.to_owned()),
        ];
        if let Some(count) = batch {
            attributes.push(KeyValue::new(
                a::MESSAGING_BATCH_MESSAGE_COUNT,
                i64::try_from(count).unwrap_or(i64::MAX),
            ));
        }
        let span = OtelSpan::start_with_links(
            parent,
            format!("process {destination}"),
            SpanKind::Consumer,
            attributes,
            links,
        );
        let mut cx = span.context();
        if let Some(run) = &run {
            cx = run.in_context(&cx);
        }
        ConsumerSpan { span, cx, run }
    }

    /// The context to run the processing in (attach it, or use
    /// `FutureExt::with_context`): the process span, and the run the message carried
    /// when runs are carried, so LLM and tool calls made while processing add to it.
    pub fn context(&self) -> Context {
        self.cx.clone()
    }

    /// The run the message carried (only with [`Messaging::carry_run`]).
    pub fn run(&self) -> Option<&Run> {
        self.run.as_ref()
    }

    /// Whether the span is recorded.
    pub fn is_recording(&self) -> bool {
        self.span.is_recording()
    }

    /// Records `messaging.message.id`.
    pub fn set_message_id(&self, id: &str) {
        self.span
            .set_attribute(KeyValue::new(a::MESSAGING_MESSAGE_ID, id.to_owned()));
    }

    /// Records `messaging.message.body.size`.
    pub fn set_body_size(&self, bytes: usize) {
        self.span.set_attribute(KeyValue::new(
            a::MESSAGING_MESSAGE_BODY_SIZE,
            i64::try_from(bytes).unwrap_or(i64::MAX),
        ));
    }

    /// Marks the processing failed: `error.type` and an error status with the
    /// (redacted) message.
    pub fn record_error(&self, error_type: impl Into<opentelemetry::Value>, message: &str) {
        self.span.record_error(error_type, message);
    }

    /// Writes the reply's headers: the run's totals so far, when a run travelled with
    /// the message, for the producer's [`ProducerSpan::record_reply`](crate::ProducerSpan::record_reply).
    pub fn reply_headers(&self, headers: &mut dyn Injector) {
        if let Some(run) = &self.run {
            headers.set(a::RUN_TOTALS_HEADER, carrier::encode_totals(&run.totals()));
        }
    }

    /// Ends the span now.
    pub fn end(self) {
        drop(self);
    }
}
