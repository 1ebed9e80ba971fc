//! # aitrace-messaging
//!
//! One trace across a message queue: producer and consumer spans per the OpenTelemetry
//! messaging conventions, for any broker, with the trace context (and, opt-in, the
//! agent run) carried in the message headers. NATS is built in (feature `nats`).
//!
//! - **Producer**: [`Messaging::publish`] / [`Messaging::send`] start a PRODUCER span
//!   `publish {destination}` / `send {destination}` and inject its context, the
//!   message's *creation context*, into the headers.
//! - **Consumer**: [`Messaging::process`] starts a CONSUMER span `process {destination}`
//!   whose parent is the creation context, linked to the context the consumer was in;
//!   [`Messaging::process_batch`] links every message's creation context instead.
//! - **Bad input** (no headers, a garbage or oversized `traceparent`): the process span
//!   starts a new trace; consuming never fails because of telemetry.
//! - **Runs**: with [`Messaging::carry_run`], the producer names its current agent run
//!   in the `aitrace-run` header; the consumer collects its LLM and tool calls in a run
//!   of that name and puts the totals in its reply ([`ConsumerSpan::reply_headers`]);
//!   the producer adds them to its run ([`ProducerSpan::record_reply`]), so the agent's
//!   totals include the work done in the other process.
//!
//! Attributes: `messaging.system`, `messaging.operation.name` (`publish`, `send`,
//! `process`), `messaging.operation.type` (`send`, `process`),
//! `messaging.destination.name`, `messaging.message.id`,
//! `messaging.message.body.size`, `messaging.batch.message_count`, `error.type`.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use aitrace_messaging::Messaging;
//!
//! let queue = Messaging::new("rabbitmq");
//!
//! // Producer: the headers travel with the message.
//! let mut headers: HashMap<String, String> = HashMap::new();
//! let publish = queue.publish("jobs", &mut headers);
//! // broker.publish("jobs", &headers, body) ...
//! publish.end();
//!
//! // Consumer (maybe another process): continue the producer's trace.
//! let process = queue.process("jobs", &headers);
//! let _attached = process.context().attach();
//! // handle the message: spans made here nest under `process jobs`
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

use std::borrow::Cow;

use opentelemetry::propagation::{Extractor, Injector};

pub mod attributes;
mod carrier;
mod consumer;
#[cfg(feature = "nats")]
pub mod nats;
mod producer;

pub use consumer::ConsumerSpan;
pub use producer::ProducerSpan;

/// Spans for one messaging system. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Messaging {
    system: Cow<'static, str>,
    carry_run: bool,
}

impl Messaging {
    /// Spans with `messaging.system` = `system` (`nats`, `rabbitmq`, `kafka`, ...).
    pub fn new(system: impl Into<Cow<'static, str>>) -> Messaging {
        Messaging {
            system: system.into(),
            carry_run: false,
        }
    }

    /// Carries the current agent run with each message (off by default): see the
    /// crate docs. Turn it on where the consumer works *for* the producer's run (a
    /// job or a request whose reply the agent waits for), not for fan-out events.
    pub fn carry_run(mut self, on: bool) -> Messaging {
        self.carry_run = on;
        self
    }

    /// The `messaging.system` value.
    pub fn system(&self) -> &str {
        &self.system
    }

    /// A `publish {destination}` PRODUCER span; its context is injected into
    /// `headers`.
    pub fn publish(&self, destination: &str, headers: &mut dyn Injector) -> ProducerSpan {
        ProducerSpan::start(self, "publish", destination, None, headers)
    }

    /// A `send {destination}` PRODUCER span (point-to-point sends, requests); its
    /// context is injected into `headers`.
    pub fn send(&self, destination: &str, headers: &mut dyn Injector) -> ProducerSpan {
        ProducerSpan::start(self, "send", destination, None, headers)
    }

    /// A PRODUCER span for a batch of `count` messages sent in one call, named
    /// `{operation} {destination}`, with `messaging.batch.message_count`; its context is
    /// injected into `headers` (inject it into every message's headers).
    pub fn send_batch(
        &self,
        operation: &'static str,
        destination: &str,
        count: usize,
        headers: &mut dyn Injector,
    ) -> ProducerSpan {
        ProducerSpan::start(self, operation, destination, Some(count), headers)
    }

    /// A `process {destination}` CONSUMER span for one message, parented to the
    /// creation context in `headers` (a new trace when there is none or it is
    /// unreadable) and linked to the current context.
    pub fn process(&self, destination: &str, headers: &dyn Extractor) -> ConsumerSpan {
        ConsumerSpan::start_single(self, destination, headers)
    }

    /// A `process {destination}` CONSUMER span for a batch, in the current context,
    /// with `messaging.batch.message_count` and a link to every message's creation
    /// context (messages without a usable one are counted, not linked).
    pub fn process_batch(&self, destination: &str, messages: &[&dyn Extractor]) -> ConsumerSpan {
        ConsumerSpan::start_batch(self, destination, messages)
    }
}

// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
