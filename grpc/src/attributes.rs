//! RPC semantic-convention names.
//!
//! The newest RPC conventions (Release Candidate, semantic-conventions 2026-08) name the
//! system `rpc.system.name`, the method fully qualified in `rpc.method`
//! (`package.Service/Method`) and the status as a string in `rpc.status_code` (`OK`,
//! `DEADLINE_EXCEEDED`); the older names (`rpc.system`, `rpc.service`, the integer
//! `rpc.grpc.status_code`), which most instrumentations of other languages still emit
//! (Python's `opentelemetry-instrumentation-grpc` among them), are emitted alongside
//! unless turned off.

/// The RPC system, newest name (`grpc`).
pub const RPC_SYSTEM_NAME: &str = "rpc.system.name";
/// The fully qualified method, `package.Service/Method` (newest meaning), or `_OTHER`.
pub const RPC_METHOD: &str = "rpc.method";
/// The method the client asked for, when `rpc.method` is `_OTHER`.
pub const RPC_METHOD_ORIGINAL: &str = "rpc.method_original";
/// The status code as a string (`OK`, `NOT_FOUND`, ...), newest name.
pub const RPC_STATUS_CODE: &str = "rpc.status_code";
/// The RPC system, older name (`grpc`).
pub const RPC_SYSTEM: &str = "rpc.system";
/// The full service name (`package.Service`), older conventions.
pub const RPC_SERVICE: &str = "rpc.service";
/// The numeric gRPC status code, older conventions.
pub const RPC_GRPC_STATUS_CODE: &str = "rpc.grpc.status_code";
/// The server's host, from the `:authority` the client used.
pub const SERVER_ADDRESS: &str = "server.address";
/// The server's port, from the `:authority` the client used.
pub const SERVER_PORT: &str = "server.port";

/// `rpc.method` for a path that is not `/{service}/{method}`.
pub const OTHER: &str = "_OTHER";
/// `error.type` when the call failed below gRPC (connection refused, reset).
pub const ERROR_TYPE_TRANSPORT: &str = "transport";
/// `error.type` when a response ended without a `grpc-status`.
pub const ERROR_TYPE_MISSING_STATUS: &str = "missing_grpc_status";
