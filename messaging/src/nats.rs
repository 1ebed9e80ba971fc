//! NATS ([`async_nats`]): traced publish, request/reply, JetStream publish and acks,
//! with the trace context in the message headers.
//!
//! ```no_run
//! use aitrace_messaging::nats::Nats;
//! use futures_util::StreamExt;
//! use opentelemetry::context::FutureExt;
//!
//! # async fn run() -> Result<(), async_nats::Error> {
//! let client = async_nats::connect("127.0.0.1:4222").await?;
//! let nats = Nats::new(client.clone()).carry_run(true);
//!
//! // Consumer: one `process jobs` span per message, continuing the producer's trace.
//! let mut jobs = client.subscribe("jobs").await?;
//! tokio::spawn({
//!     let nats = nats.clone();
//!     async move {
//!         while let Some(message) = jobs.next().await {
//!             let process = nats.process(&message);
//!             let answer = async { bytes::Bytes::from("done") }
//!                 .with_context(process.context())
//!                 .await;
//!             let _ = nats.respond(&process, &message, answer).await;
//!         }
//!     }
//! });
//!
//! // Producer: a `send jobs` span; the reply's run totals join the current run.
//! let reply = nats.request("jobs", "summarize #42".into()).await?;
//! # let _ = reply;
//! # Ok(())
//! # }
//! ```

use std::fmt::Debug;
use std::str::FromStr;

use async_nats::jetstream;
use async_nats::{Client, HeaderMap, HeaderName, HeaderValue, Message};
use bytes::Bytes;
use opentelemetry::propagation::{Extractor, Injector};

use crate::{ConsumerSpan, Messaging, ProducerSpan};

/// The `messaging.system` value for NATS.
pub const SYSTEM: &str = "nats";
/// The NATS header with a message's id (JetStream de-duplication).
pub const MESSAGE_ID_HEADER: &str = "Nats-Msg-Id";

/// [`async_nats::HeaderMap`] as a trace-context carrier.
#[derive(Debug)]
pub struct Headers<'a>(pub &'a mut HeaderMap);

impl Injector for Headers<'_> {
    fn set(&mut self, key: &str, value: String) {
        // Invalid names would make async-nats panic, and a line break in a value would
        // break the message's framing: skip them instead.
        if value.bytes().any(|b| b.is_ascii_control()) {
            return;
        }
        if let Ok(name) = HeaderName::from_str(key) {
            self.0.insert(name, HeaderValue::from(value.as_str()));
        }
    }
}

/// A received message's headers (none at all is an empty carrier).
#[derive(Debug, Clone, Copy)]
pub struct ReceivedHeaders<'a>(pub Option<&'a HeaderMap>);

impl Extractor for ReceivedHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let name = HeaderName::from_str(key).ok()?;
        self.0?.get(name).map(HeaderValue::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        match self.0 {
            Some(headers) => headers.iter().map(|(k, _)| k.as_ref()).collect(),
            None => Vec::new(),
        }
    }
}

/// `error.type` of an async-nats error kind: `TimedOut` is `timed_out`.
fn error_type(kind: impl Debug) -> String {
    let name = format!("{kind:?}");
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().take_while(|c| c.is_alphanumeric()).enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A NATS client whose publishes, requests and handled messages are traced. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct Nats {
    client: Client,
    messaging: Messaging,
}

impl Nats {
    /// Traces the operations made through `client`.
    pub fn new(client: Client) -> Nats {
        Nats {
            client,
            messaging: Messaging::new(SYSTEM),
        }
    }

    /// Carries the current agent run with each message ([`Messaging::carry_run`]).
    pub fn carry_run(mut self, on: bool) -> Nats {
        self.messaging = self.messaging.carry_run(on);
        self
    }

    /// The NATS client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The span factory, for operations this type has no method for.
    pub fn messaging(&self) -> &Messaging {
        &self.messaging
    }

    fn producer(
        &self,
        operation: &'static str,
        subject: &str,
        headers: &mut HeaderMap,
        payload: &Bytes,
    ) -> ProducerSpan {
        let span = if operation == "send" {
            self.messaging.send(subject, &mut Headers(headers))
        } else {
            self.messaging.publish(subject, &mut Headers(headers))
        };
        if let Some(id) = headers.get(MESSAGE_ID_HEADER) {
            span.set_message_id(id.as_str());
        }
        span.set_body_size(payload.len());
        span
    }

    /// Publishes `payload` to `subject` under a `publish {subject}` span.
    pub async fn publish(
        &self,
        subject: impl Into<String>,
        payload: Bytes,
    ) -> Result<(), async_nats::PublishError> {
        self.publish_with_headers(subject, HeaderMap::new(), payload)
            .await
    }

    /// Publishes with the caller's headers (plus the trace context).
    pub async fn publish_with_headers(
        &self,
        subject: impl Into<String>,
        mut headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), async_nats::PublishError> {
        let subject = subject.into();
        let span = self.producer("publish", &subject, &mut headers, &payload);
        let result = self
            .client
            .publish_with_headers(subject, headers, payload)
            .await;
        if let Err(e) = &result {
            span.record_error(error_type(e.kind()), &e.to_string());
        }
        result
    }

    /// Sends a request under a `send {subject}` span that lasts until the reply; with
    /// [`Nats::carry_run`], the run totals in the reply join the current run.
    pub async fn request(
        &self,
        subject: impl Into<String>,
        payload: Bytes,
    ) -> Result<Message, async_nats::RequestError> {
        self.request_with_headers(subject, HeaderMap::new(), payload)
            .await
    }

    /// [`Nats::request`] with the caller's headers.
    pub async fn request_with_headers(
        &self,
        subject: impl Into<String>,
        mut headers: HeaderMap,
        payload: Bytes,
    ) -> Result<Message, async_nats::RequestError> {
        let subject = subject.into();
        let span = self.producer("send", &subject, &mut headers, &payload);
        let result = self
            .client
            .request_with_headers(subject, headers, payload)
            .await;
        match &result {
            Ok(reply) => {
                span.record_reply(&ReceivedHeaders(reply.headers.as_ref()));
            }
            Err(e) => span.record_error(error_type(e.kind()), &e.to_string()),
        }
        result
    }

    /// A `process {subject}` span for a received message (core NATS, or a JetStream
    /// message through `Deref`): the producer's trace continues, or a new one starts
    /// when the message has no usable context.
    pub fn process(&self, message: &Message) -> ConsumerSpan {
        let headers = ReceivedHeaders(message.headers.as_ref());
        let span = self.messaging.process(message.subject.as_str(), &headers);
        if let Some(id) = headers.get(MESSAGE_ID_HEADER) {
            span.set_message_id(id);
        }
        span.set_body_size(message.payload.len());
        span
    }

    /// Replies to a request `message` handled under `process`: the reply carries the
    /// totals of the run the request carried. A message without a reply subject is
    /// left alone (`Ok`).
    pub async fn respond(
        &self,
        process: &ConsumerSpan,
        message: &Message,
        payload: Bytes,
    ) -> Result<(), async_nats::PublishError> {
        let Some(reply) = &message.reply else {
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        process.reply_headers(&mut Headers(&mut headers));
        let result = self
            .client
            .publish_with_headers(reply.clone(), headers, payload)
            .await;
        if let Err(e) = &result {
            process.record_error(error_type(e.kind()), &e.to_string());
        }
        result
    }

    /// Publishes to a JetStream stream under a `publish {subject}` span that lasts
    /// until the server acknowledges the message (a missing stream or a refused ack
    /// fails the span and is returned).
    pub async fn jetstream_publish(
        &self,
        jetstream: &jetstream::Context,
        subject: impl Into<String>,
        mut headers: HeaderMap,
        payload: Bytes,
    ) -> Result<jetstream::publish::PublishAck, jetstream::context::PublishError> {
        let subject = subject.into();
        let span = self.producer("publish", &subject, &mut headers, &payload);
        let result = match jetstream
            .publish_with_headers(subject, headers, payload)
            .await
        {
            Ok(ack) => ack.await,
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            span.record_error(error_type(e.kind()), &e.to_string());
        }
        result
    }

    /// Acknowledges a JetStream message handled under `process`; a failed ack fails
    /// the process span (`error.type=ack`) and is returned.
    pub async fn ack(
        &self,
        process: &ConsumerSpan,
        message: &jetstream::Message,
    ) -> Result<(), async_nats::Error> {
        let result = message.ack().await;
        if let Err(e) = &result {
            process.record_error("ack", &e.to_string());
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_snake_case() {
        assert_eq!(
            error_type(async_nats::RequestErrorKind::NoResponders),
            "no_responders"
        );
        assert_eq!(
            error_type(async_nats::RequestErrorKind::TimedOut),
            "timed_out"
        );
    }
}
