//! What both sides record about a request: its method, target and outcome.

use aitrace_core::conventions::{self as c, Operation};
use opentelemetry::KeyValue;
use rmcp::model::{ClientRequest, ErrorData, ServerResult};

/// The method of a request and what it is about.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) method: String,
    /// The tool of a `tools/call`.
    pub(crate) tool: Option<String>,
    /// The prompt of a `prompts/get`.
    pub(crate) prompt: Option<String>,
    /// The resource of a `resources/read` (or subscribe).
    pub(crate) resource: Option<String>,
}

impl Target {
    pub(crate) fn of(request: &ClientRequest) -> Target {
        let mut target = Target {
            method: request.method().to_owned(),
            tool: None,
            prompt: None,
            resource: None,
        };
        match request {
            ClientRequest::CallToolRequest(r) => target.tool = Some(r.params.name.to_string()),
            ClientRequest::GetPromptRequest(r) => target.prompt = Some(r.params.name.clone()),
            ClientRequest::ReadResourceRequest(r) => target.resource = Some(r.params.uri.clone()),
            _ => {}
        }
        target
    }

    /// A notification: the method only.
    pub(crate) fn method(method: &str) -> Target {
        Target {
            method: method.to_owned(),
            tool: None,
            prompt: None,
            resource: None,
        }
    }

    /// `{mcp.method.name} {target}`. Resource URIs are unbounded, so they stay an
    /// attribute and out of the name.
    pub(crate) fn span_name(&self) -> String {
        c::mcp_span_name(
            &self.method,
            self.tool.as_deref().or(self.prompt.as_deref()),
        )
    }

    /// The attributes set at span start (and, without the URI, on metric points).
    pub(crate) fn attributes(&self, with_uri: bool) -> Vec<KeyValue> {
        let mut attributes = vec![KeyValue::new(c::MCP_METHOD_NAME, self.method.clone())];
        if let Some(tool) = &self.tool {
            attributes.push(KeyValue::new(
                c::GEN_AI_OPERATION_NAME,
                Operation::ExecuteTool.as_str(),
            ));
            attributes.push(KeyValue::new(c::GEN_AI_TOOL_NAME, tool.clone()));
        }
        if let Some(prompt) = &self.prompt {
            attributes.push(KeyValue::new(c::GEN_AI_PROMPT_NAME, prompt.clone()));
        }
        if with_uri {
            if let Some(uri) = &self.resource {
                attributes.push(KeyValue::new(c::MCP_RESOURCE_URI, uri.clone()));
            }
        }
        attributes
    }
}

/// How a request ended, as the conventions classify it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Ok,
    /// A `tools/call` result with `isError: true`.
    ToolError,
    /// A JSON-RPC error response.
    Rpc {
        code: i32,
        message: String,
    },
    /// No response: transport closed, timeout, cancelled, unexpected reply.
    Other {
        error_type: &'static str,
        message: String,
    },
}

impl Outcome {
    pub(crate) fn of_result(result: &ServerResult) -> Outcome {
        match result {
            ServerResult::CallToolResult(r) if r.is_error == Some(true) => Outcome::ToolError,
            _ => Outcome::Ok,
        }
    }

    pub(crate) fn of_error(error: &ErrorData) -> Outcome {
        Outcome::Rpc {
            code: error.code.0,
            message: error.message.to_string(),
        }
    }

    /// The `error.type`, if the operation failed.
    pub(crate) fn error_type(&self) -> Option<String> {
        match self {
            Outcome::Ok => None,
            Outcome::ToolError => Some(c::ERROR_TYPE_TOOL_ERROR.to_owned()),
            Outcome::Rpc { code, .. } => Some(code.to_string()),
            Outcome::Other { error_type, .. } => Some((*error_type).to_owned()),
        }
    }

    /// Attributes for the span and metric points: `error.type` and
    /// `rpc.response.status_code`. `server` is the receiving side, where the
    /// codes that mean "the caller sent something unservable" are not errors.
    pub(crate) fn attributes(&self, server: bool) -> Vec<KeyValue> {
        let mut attributes = Vec::new();
        if let Outcome::Rpc { code, .. } = self {
            attributes.push(KeyValue::new(c::RPC_RESPONSE_STATUS_CODE, code.to_string()));
        }
        if self.is_error(server) {
            if let Some(error_type) = self.error_type() {
                attributes.push(KeyValue::new(c::ERROR_TYPE, error_type));
            }
        }
        attributes
    }

    /// Whether the span's status is an error.
    pub(crate) fn is_error(&self, server: bool) -> bool {
        match self {
            Outcome::Ok => false,
            // Parse error, invalid request, method not found, invalid params,
            // resource not found: the caller's mistake, not the server's failure.
            Outcome::Rpc { code, .. } if server => {
                !matches!(code, -32700 | -32600 | -32601 | -32602 | -32002)
            }
            _ => true,
        }
    }

    /// The status description (redacted and cut by the span).
    pub(crate) fn message(&self) -> String {
        match self {
            Outcome::Ok => String::new(),
            Outcome::ToolError => "the tool returned an error result".to_owned(),
            Outcome::Rpc { code, message } => format!("JSON-RPC error {code}: {message}"),
            Outcome::Other { message, .. } => message.clone(),
        }
    }
}
