//! The client side: [`TracedPeer`], a wrapper over rmcp's client [`Peer`] that
//! makes a CLIENT span per request and carries the trace context in `params._meta`.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use aitrace_core::content::{safe_message, ContentPolicy};
use aitrace_core::conventions as c;
use aitrace_core::emit::{self, OtelSpan};
use aitrace_core::run::Run;
use aitrace_core::tool_call::ToolCallSpan;
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientNotification, ClientRequest,
    GetMeta, GetPromptRequest, GetPromptRequestParams, GetPromptResult, ListPromptsRequest,
    ListPromptsResult, ListResourcesRequest, ListResourcesResult, ListToolsRequest,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequest, ReadResourceRequestParams,
    ReadResourceResult, ServerResult,
};
use rmcp::service::{PeerRequestOptions, RunningService, Service, ServiceError};
use rmcp::{Peer, RoleClient};
use serde_json::Value;

use crate::attributes::{Outcome, Target};
use crate::meta;
use crate::metrics::{self, SessionClock, Side};

/// Where the server is, as the conventions record it.
#[derive(Debug, Clone, Default)]
struct Endpoint {
    transport: Option<&'static str>,
    protocol: Option<&'static str>,
    address: Option<String>,
    port: Option<i64>,
    session_id: Option<String>,
}

impl Endpoint {
    fn attributes(&self, out: &mut Vec<KeyValue>) {
        if let Some(t) = self.transport {
            out.push(KeyValue::new(c::NETWORK_TRANSPORT, t));
        }
        if let Some(p) = self.protocol {
            out.push(KeyValue::new(c::NETWORK_PROTOCOL_NAME, p));
        }
        if let Some(a) = &self.address {
            out.push(KeyValue::new(c::SERVER_ADDRESS, a.clone()));
        }
        if let Some(p) = self.port {
            out.push(KeyValue::new(c::SERVER_PORT, p));
        }
    }
}

/// `host` and `port` of an `http(s)://` URL (the port defaulted from the scheme).
fn host_and_port(url: &str) -> (Option<String>, Option<i64>) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, port)) => (host, port.strip_prefix(':')),
            None => (v6, None),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = port.and_then(|p| p.parse::<u16>().ok()).or(match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    });
    let host = (!host.is_empty()).then(|| host.to_owned());
    (host, port.map(i64::from))
}

/// A traced MCP client: every request made through it is a CLIENT span
/// `{mcp.method.name} {target}` (e.g. `tools/call get_weather`), and its trace
/// context travels in `params._meta` (`traceparent`, `tracestate`, `baggage`) so the
/// server's spans join the trace.
///
/// It derefs to the rmcp [`Peer`], so it is a drop-in for the client: the methods
/// below are traced, any other `Peer` method passes through untraced. Wrap once,
/// after `serve`:
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use aitrace_mcp::TracedPeer;
/// use rmcp::model::CallToolRequestParams;
/// use rmcp::ServiceExt;
///
/// # let transport = rmcp::transport::StreamableHttpClientTransport::from_uri("http://127.0.0.1:8000/mcp");
/// let client = ().serve(transport).await?;
/// let mcp = TracedPeer::http(&client, "http://127.0.0.1:8000/mcp"); // the one line
/// let weather = mcp.call_tool(CallToolRequestParams::new("get_weather")).await?;
/// # Ok(()) }
/// ```
///
/// When an `execute_tool` span of aitrace-tool's `ToolLayer` is current for the same
/// tool, the MCP attributes go on that span instead of a second one.
///
/// A `TracedPeer` and its clones are one session for `mcp.client.session.duration`:
/// from the first one's creation to the last one's drop (make it when the client has
/// connected, drop it when you close the client), recorded once it sent a request.
#[derive(Debug, Clone)]
pub struct TracedPeer {
    peer: Peer<RoleClient>,
    endpoint: Arc<Endpoint>,
    policy: Arc<ContentPolicy>,
    session: Arc<ClientSession>,
}

/// The session the peers share: when it began, and its clock.
#[derive(Debug)]
struct ClientSession {
    created: Instant,
    clock: SessionClock,
}

impl TracedPeer {
    /// Wraps a client peer whose transport is not known (no `network.transport`).
    pub fn new(peer: Peer<RoleClient>) -> TracedPeer {
        TracedPeer {
            peer,
            endpoint: Arc::default(),
            policy: Arc::new(ContentPolicy::from_env()),
            session: Arc::new(ClientSession {
                created: Instant::now(),
                clock: SessionClock::new(Side::Client),
            }),
        }
    }

    /// Wraps a client talking to a child process over stdio (`network.transport=pipe`).
    pub fn stdio<S: Service<RoleClient>>(client: &RunningService<RoleClient, S>) -> TracedPeer {
        TracedPeer::new(client.peer().clone()).with_transport("pipe")
    }

    /// Wraps a client talking streamable HTTP to `url` (`network.transport=tcp`,
    /// `server.address`, `server.port`).
    pub fn http<S: Service<RoleClient>>(
        client: &RunningService<RoleClient, S>,
        url: &str,
    ) -> TracedPeer {
        let (address, port) = host_and_port(url);
        let mut traced = TracedPeer::new(client.peer().clone());
        traced.endpoint = Arc::new(Endpoint {
            transport: Some("tcp"),
            protocol: Some("http"),
            address,
            port,
            session_id: None,
        });
        traced
    }

    /// Sets `network.transport` (`pipe`, `tcp`, `quic`, `unix`).
    pub fn with_transport(mut self, transport: &'static str) -> TracedPeer {
        Arc::make_mut(&mut self.endpoint).transport = Some(transport);
        self
    }

    /// Sets `mcp.session.id` (rmcp keeps the HTTP session id inside its transport).
    pub fn with_session_id(mut self, id: impl Into<String>) -> TracedPeer {
        Arc::make_mut(&mut self.endpoint).session_id = Some(id.into());
        self
    }

    /// Sets the content policy for tool arguments and results (default: from the
    /// environment, `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`; nothing is
    /// captured unless it says so).
    pub fn with_content_policy(mut self, policy: ContentPolicy) -> TracedPeer {
        self.policy = Arc::new(policy);
        self
    }

    /// The wrapped peer.
    pub fn peer(&self) -> &Peer<RoleClient> {
        &self.peer
    }

    fn common_attributes(&self) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(6);
        self.endpoint.attributes(&mut attributes);
        if let Some(info) = self.peer.peer_info() {
            attributes.push(KeyValue::new(
                c::MCP_PROTOCOL_VERSION,
                info.protocol_version.to_string(),
            ));
        }
        attributes
    }

    /// Sends any request, traced.
    pub async fn send_request(&self, request: ClientRequest) -> Result<ServerResult, ServiceError> {
        self.send_request_with_options(request, PeerRequestOptions::no_options())
            .await
    }

    /// Sends any request with rmcp's options (timeout, extra `_meta`), traced.
    pub async fn send_request_with_options(
        &self,
        mut request: ClientRequest,
        options: PeerRequestOptions,
    ) -> Result<ServerResult, ServiceError> {
        if !emit::is_active() {
            return self
                .peer
                .send_request_with_option(request, options)
                .await?
                .await_response()
                .await;
        }
        let started = Instant::now();
        let target = Target::of(&request);
        let parent = Context::current();
        let common = self.common_attributes();
        self.session
            .clock
            .begin(self.session.created, common.clone());
        let mut attributes = target.attributes(true);
        attributes.extend(common.iter().cloned());
        if let Some(id) = &self.endpoint.session_id {
            attributes.push(KeyValue::new(c::MCP_SESSION_ID, id.clone()));
        }
        if let ClientRequest::CallToolRequest(r) = &request {
            if let Some(args) = self.capture(r.params.arguments.clone().map(Value::Object)) {
                attributes.push(KeyValue::new(c::GEN_AI_TOOL_CALL_ARGUMENTS, args));
            }
        }
        let claimed = target
            .tool
            .as_deref()
            .and_then(|tool| ToolCallSpan::claim(&parent, tool));
        let (own, handle, cx) = match claimed {
            // ToolLayer's execute_tool span is this call: enrich it.
            Some(handle) => {
                handle.set_attributes(attributes);
                (None, handle, parent)
            }
            None => {
                if target.tool.is_some() {
                    if let Some(run) = Run::from_context(&parent) {
                        run.record_tool_call();
                    }
                }
                let span = OtelSpan::start_with_parent(
                    &parent,
                    target.span_name(),
                    SpanKind::Client,
                    attributes,
                );
                let handle = span.handle();
                let cx = span.context();
                (Some(span), handle, cx)
            }
        };
        inject_request(&cx, &mut request);
        let result = match self.peer.send_request_with_option(request, options).await {
            Ok(pending) => {
                handle
                    .set_attributes([KeyValue::new(c::JSONRPC_REQUEST_ID, pending.id.to_string())]);
                pending.await_response().await
            }
            Err(error) => Err(error),
        };
        let outcome = match &result {
            Ok(result) => {
                if let ServerResult::CallToolResult(r) = result {
                    if let Some(text) = self.capture(serde_json::to_value(r).ok()) {
                        handle.set_attributes([KeyValue::new(c::GEN_AI_TOOL_CALL_RESULT, text)]);
                    }
                }
                Outcome::of_result(result)
            }
            Err(ServiceError::McpError(error)) => Outcome::of_error(error),
            Err(error) => Outcome::Other {
                error_type: service_error_type(error),
                message: error.to_string(),
            },
        };
        let outcome_attributes = outcome.attributes(false);
        handle.set_attributes(outcome_attributes.iter().cloned());
        if outcome.is_error(false) {
            if let Some(error_type) = outcome.error_type() {
                handle.set_error(error_type, safe_message(&outcome.message()));
            }
        }
        let mut points = target.attributes(false);
        points.extend(common);
        points.extend(outcome_attributes);
        metrics::record(Side::Client, started.elapsed().as_secs_f64(), &points);
        drop(own);
        result
    }

    fn capture(&self, value: Option<Value>) -> Option<String> {
        if !self.policy.mode().on_span() {
            return None;
        }
        self.policy.capture_json(&value?)
    }

    /// Sends a notification, traced (a short CLIENT span named for its method); the
    /// trace context goes into its `params._meta` too.
    pub async fn send_notification(
        &self,
        mut notification: ClientNotification,
    ) -> Result<(), ServiceError> {
        if !emit::is_active() {
            return self.peer.send_notification(notification).await;
        }
        let target = Target::method(notification_method(&notification));
        let mut attributes = target.attributes(false);
        attributes.extend(self.common_attributes());
        let span = OtelSpan::start(target.span_name(), SpanKind::Client, attributes);
        meta::inject(&span.context(), &mut notification.get_meta_mut().0 .0);
        let result = self.peer.send_notification(notification).await;
        if let Err(error) = &result {
            span.record_error(service_error_type(error), &error.to_string());
        }
        result
    }

    /// `tools/call`, traced.
    pub async fn call_tool(
        &self,
        params: CallToolRequestParams,
    ) -> Result<CallToolResult, ServiceError> {
        match self
            .send_request(ClientRequest::CallToolRequest(CallToolRequest::new(params)))
            .await?
        {
            ServerResult::CallToolResult(result) => Ok(result),
            _ => Err(ServiceError::UnexpectedResponse),
        }
    }

    /// `tools/list`, traced.
    pub async fn list_tools(
        &self,
        params: Option<PaginatedRequestParams>,
    ) -> Result<ListToolsResult, ServiceError> {
        match self
            .send_request(ClientRequest::ListToolsRequest(ListToolsRequest {
                params,
                ..Default::default()
            }))
            .await?
        {
            ServerResult::ListToolsResult(result) => Ok(result),
            _ => Err(ServiceError::UnexpectedResponse),
        }
    }

    /// `prompts/get`, traced.
    pub async fn get_prompt(
        &self,
        params: GetPromptRequestParams,
    ) -> Result<GetPromptResult, ServiceError> {
        match self
            .send_request(ClientRequest::GetPromptRequest(GetPromptRequest::new(
                params,
            )))
            .await?
        {
            ServerResult::GetPromptResult(result) => Ok(result),
            _ => Err(ServiceError::UnexpectedResponse),
        }
    }

    /// `prompts/list`, traced.
    pub async fn list_prompts(
        &self,
        params: Option<PaginatedRequestParams>,
    ) -> Result<ListPromptsResult, ServiceError> {
        match self
            .send_request(ClientRequest::ListPromptsRequest(ListPromptsRequest {
                params,
                ..Default::default()
            }))
            .await?
        {
            ServerResult::ListPromptsResult(result) => Ok(result),
            _ => Err(ServiceError::UnexpectedResponse),
        }
    }

    /// `resources/read`, traced.
    pub async fn read_resource(
        &self,
        params: ReadResourceRequestParams,
    ) -> Result<ReadResourceResult, ServiceError> {
        match self
            .send_request(ClientRequest::ReadResourceRequest(
                ReadResourceRequest::new(params),
            ))
            .await?
        {
            ServerResult::ReadResourceResult(result) => Ok(result),
            _ => Err(ServiceError::UnexpectedResponse),
        }
    }

    /// `resources/list`, traced.
    pub async fn list_resources(
        &self,
        params: Option<PaginatedRequestParams>,
    ) -> Result<ListResourcesResult, ServiceError> {
        match self
            .send_request(ClientRequest::ListResourcesRequest(ListResourcesRequest {
                params,
                ..Default::default()
            }))
            .await?
        {
            ServerResult::ListResourcesResult(result) => Ok(result),
            _ => Err(ServiceError::UnexpectedResponse),
        }
    }
}

impl Deref for TracedPeer {
    type Target = Peer<RoleClient>;

    fn deref(&self) -> &Peer<RoleClient> {
        &self.peer
    }
}

/// Puts the trace context in the request's `_meta`, keeping every entry the
/// application set (in the request's meta or in its params' own `_meta`).
fn inject_request(cx: &Context, request: &mut ClientRequest) {
    let params_meta: Vec<String> = match request {
        ClientRequest::CallToolRequest(r) => keys(r.params.meta.as_ref()),
        ClientRequest::GetPromptRequest(r) => keys(r.params.meta.as_ref()),
        ClientRequest::ReadResourceRequest(r) => keys(r.params.meta.as_ref()),
        _ => Vec::new(),
    };
    let meta = &mut request.get_meta_mut().0 .0;
    let before: Vec<String> = meta.keys().cloned().collect();
    meta::inject(cx, meta);
    // The params' `_meta` is the base the wire merges ours over: leave its keys alone.
    meta.retain(|k, _| before.contains(k) || !params_meta.contains(k));
}

fn keys(meta: Option<&rmcp::model::RequestMetaObject>) -> Vec<String> {
    meta.map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn notification_method(notification: &ClientNotification) -> &'static str {
    match notification {
        ClientNotification::CancelledNotification(_) => "notifications/cancelled",
        ClientNotification::ProgressNotification(_) => "notifications/progress",
        ClientNotification::InitializedNotification(_) => "notifications/initialized",
        ClientNotification::RootsListChangedNotification(_) => "notifications/roots/list_changed",
        _ => "notifications/custom",
    }
}

/// `error.type` of a request that got no JSON-RPC response.
fn service_error_type(error: &ServiceError) -> &'static str {
    match error {
        ServiceError::McpError(_) => "jsonrpc_error",
        ServiceError::TransportSend(_) => "transport_error",
        ServiceError::TransportClosed => "transport_closed",
        ServiceError::UnexpectedResponse => "unexpected_response",
        ServiceError::Cancelled { .. } => c::ERROR_TYPE_CANCELLED,
        ServiceError::Timeout { .. } => "timeout",
        _ => c::ERROR_TYPE_OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::host_and_port;

    #[test]
    fn urls() {
        assert_eq!(
            host_and_port("http://127.0.0.1:8000/mcp"),
            (Some("127.0.0.1".into()), Some(8000))
        );
        assert_eq!(
            host_and_port("https://user:pw@mcp.example.com/x?y"),
            (Some("mcp.example.com".into()), Some(443))
        );
        assert_eq!(
            host_and_port("http://[::1]:9/mcp"),
            (Some("::1".into()), Some(9))
        );
    }
}
