//! Messaging semantic-convention names (OpenTelemetry messaging conventions, Development
//! stability) and the AITrace headers that carry an agent run with a message.

/// The messaging system (`nats`, `rabbitmq`, `kafka`, `aws_sqs`, ...).
pub const MESSAGING_SYSTEM: &str = "messaging.system";
/// The system-specific name of the operation (`publish`, `send`, `process`, `ack`).
pub const MESSAGING_OPERATION_NAME: &str = "messaging.operation.name";
/// The kind of operation: `create`, `send`, `receive`, `process` or `settle`.
pub const MESSAGING_OPERATION_TYPE: &str = "messaging.operation.type";
/// The destination (subject, queue, topic) the message is sent to or received from.
pub const MESSAGING_DESTINATION_NAME: &str = "messaging.destination.name";
/// The message's identifier (e.g. NATS `Nats-Msg-Id`), when it has one.
pub const MESSAGING_MESSAGE_ID: &str = "messaging.message.id";
/// The payload size in bytes.
pub const MESSAGING_MESSAGE_BODY_SIZE: &str = "messaging.message.body.size";
/// The number of messages in a batch operation.
pub const MESSAGING_BATCH_MESSAGE_COUNT: &str = "messaging.batch.message_count";

/// `messaging.operation.type` of a producer span.
pub const OPERATION_TYPE_SEND: &str = "send";
/// `messaging.operation.type` of a span processing received messages.
pub const OPERATION_TYPE_PROCESS: &str = "process";
/// `messaging.operation.type` of a span settling (acknowledging) a message.
pub const OPERATION_TYPE_SETTLE: &str = "settle";

/// The header a producer adds, when runs are carried, naming the agent run the message
/// belongs to: the consumer collects its own run under that name.
pub const RUN_HEADER: &str = "aitrace-run";
/// The header a consumer's reply carries with the totals (tokens, cost, calls) of the
/// work it did for the run, which the producer adds to its run.
pub const RUN_TOTALS_HEADER: &str = "aitrace-run-totals";
