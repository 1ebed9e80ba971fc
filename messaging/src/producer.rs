//! The producer side: `publish {destination}` / `send {destination}` spans whose
//! context goes into the message headers.

use aitrace_core::emit::OtelSpan;
use aitrace_core::propagation;
use aitrace_core::run::Run;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};

use crate::attributes as a;
use crate::carrier;
use crate::Messaging;

/// A PRODUCER span for one message (or a batch) being sent. Ends when dropped or on
/// [`ProducerSpan::end`].
#[derive(Debug)]
pub struct ProducerSpan {
    span: OtelSpan,
    run: Option<Run>,
}

impl ProducerSpan {
    pub(crate) fn start(
        messaging: &Messaging,
        operation: &'static str,
        destination: &str,
        batch: Option<usize>,
        headers: &mut dyn Injector,
    ) -> ProducerSpan {
        let mut attributes = vec![
            KeyValue::new(a::MESSAGING_SYSTEM, messaging.system.clone()),
            KeyValue::new(a::MESSAGING_OPERATION_NAME, operation),
            KeyValue::new(a::MESSAGING_OPERATION_TYPE, a::OPERATION_TYPE_SEND),
            KeyValue::new(a::MESSAGING_DESTINATION_NAME, destination.to_owned()),
        ];
        if let Some(count) = batch {
            attributes.push(KeyValue::new(
                a::MESSAGING_BATCH_MESSAGE_COUNT,
                i64::try_from(count).unwrap_or(i64::MAX),
            ));
        }
        let span = OtelSpan::start(
            format!("{operation} {destination}"),
            SpanKind::Producer,
            attributes,
        );
        // The creation context: the consumer's process span hangs from this span.
        propagation::inject(&span.context(), headers);
        let run = if messaging.carry_run {
            Run::current()
        } else {
            None
        };
        if let Some(run) = &run {
            // Run names come from the application: only short printable ones travel.
            let name = run.name();
            if name.len() <= 256 && !name.is_empty() && !name.chars().any(char::is_control) {
                headers.set(a::RUN_HEADER, name.to_owned());
            }
        }
        ProducerSpan { span, run }
    }

    /// The span's context (attach it around the send call so the client's own spans
    /// nest under it).
    pub fn context(&self) -> Context {
        self.span.context()
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

    /// Marks the send failed: `error.type` and an error status with the (redacted)
    /// message.
    pub fn record_error(&self, error_type: impl Into<opentelemetry::Value>, message: &str) {
        self.span.record_error(error_type, message);
    }

    /// Reads a reply's headers (request/reply): the totals of the work the consumer
    /// did for the run the message carried are added to that run, so the agent's
    /// totals include calls made in another process. Missing or garbage totals are
    /// ignored. Returns whether totals were added.
    pub fn record_reply(&self, reply_headers: &dyn Extractor) -> bool {
        let Some(run) = &self.run else {
            return false;
        };
        let Some(totals) =
            carrier::header(reply_headers, a::RUN_TOTALS_HEADER).and_then(carrier::decode_totals)
        else {
            return false;
        };
        run.record_totals(&totals);
        true
    }

    /// Ends the span now.
    pub fn end(self) {
        drop(self);
    }
}
