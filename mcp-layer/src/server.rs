//! The server side: [`TracedServer`], a wrapper service over an rmcp
//! [`ServerHandler`] that makes a
//! SERVER span per handled request, parented on the trace context in `_meta`.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use aitrace_core::content::{safe_message, ContentPolicy};
use aitrace_core::conventions as c;
use aitrace_core::emit::{self, OtelSpan};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::future::Future;

#[allow(deprecated)]
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, CancelledNotificationParam,
    CompleteRequestParams, CompleteResult, CustomNotification, CustomRequest, CustomResult,
    DiscoverResult, GetPromptRequestParams, GetPromptResponse, GetSkillRequestParams,
    GetSkillResult, GetTaskParams, GetTaskResult, InitializeRequestParams, InitializeResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListSkillsResult,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ProtocolVersion,
    ReadResourceDirectoryRequestParams, ReadResourceDirectoryResult, ReadResourceRequestParams,
    ReadResourceResponse, ServerConfig, SetLevelRequestParams, SubscribeRequestParams,
    SubscriptionFilter, Tool, UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{MaybeSendFuture, NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

use crate::attributes::{Outcome, Target};
use crate::meta;
use crate::metrics::{self, SessionClock, Side};

/// A traced MCP server: wraps the handler once, where it is served.
///
/// ```no_run
/// use aitrace_mcp::TracedServer;
/// use rmcp::{ServerHandler, ServiceExt};
///
/// #[derive(Clone)]
/// struct Weather;
/// impl ServerHandler for Weather {}
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let server = TracedServer::new(Weather) // the one line
///     .serve(rmcp::transport::io::stdio())
///     .await?;
/// server.waiting().await?;
/// # Ok(()) }
/// ```
///
/// Each request is a SERVER span `{mcp.method.name} {target}` whose parent is the
/// trace context in the request's `params._meta` (a missing or malformed one starts
/// a new trace; the request is served either way). Over streamable HTTP, a trace
/// context in the HTTP headers is the parent when `_meta` has none, and a link when
/// it differs. The handler runs with the span as the current context, so its own
/// LLM calls and HTTP requests nest under it.
///
/// Each instance is one session for `mcp.server.session.duration`: from its
/// `initialize` to its drop (rmcp drops the handler when the session ends; over
/// streamable HTTP, the service factory makes one per session). A clone is a new
/// instance, with a session of its own.
#[derive(Debug)]
pub struct TracedServer<S> {
    inner: S,
    policy: Arc<ContentPolicy>,
    session: SessionClock,
}

impl<S: Clone> Clone for TracedServer<S> {
    fn clone(&self) -> Self {
        TracedServer {
            inner: self.inner.clone(),
            policy: Arc::clone(&self.policy),
            session: SessionClock::new(Side::Server),
        }
    }
}

impl<S> TracedServer<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> TracedServer<S> {
        TracedServer {
            inner,
            policy: Arc::new(ContentPolicy::from_env()),
            session: SessionClock::new(Side::Server),
        }
    }

    /// Sets the content policy for tool arguments and results (default: from the
    /// environment; nothing is captured unless it says so).
    pub fn with_content_policy(mut self, policy: ContentPolicy) -> TracedServer<S> {
        self.policy = Arc::new(policy);
        self
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn capture(&self, value: Option<Value>) -> Option<String> {
        if !self.policy.mode().on_span() {
            return None;
        }
        self.policy.capture_json(&value?)
    }
}

/// What the transport tells about a request: its HTTP head, if any.
struct Transport {
    attributes: Vec<KeyValue>,
    http_parent: Option<Context>,
}

fn transport(extensions: &rmcp::model::Extensions) -> Transport {
    match extensions.get::<http::request::Parts>() {
        Some(parts) => {
            let mut attributes = vec![
                KeyValue::new(c::NETWORK_TRANSPORT, "tcp"),
                KeyValue::new(c::NETWORK_PROTOCOL_NAME, "http"),
            ];
            if let Some(id) = parts
                .headers
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .filter(|id| id.len() <= 256)
            {
                attributes.push(KeyValue::new(c::MCP_SESSION_ID, id.to_owned()));
            }
            Transport {
                attributes,
                http_parent: meta::extract_headers(&parts.headers),
            }
        }
        None => Transport {
            attributes: vec![KeyValue::new(c::NETWORK_TRANSPORT, "pipe")],
            http_parent: None,
        },
    }
}

/// The parent of a request's span: `_meta`'s context, else the HTTP one, else the
/// current one. Returns the HTTP context to link when `_meta` won over it.
fn parent(meta_cx: Option<Context>, http_cx: Option<Context>) -> (Context, Option<Context>) {
    match (meta_cx, http_cx) {
        (Some(m), Some(h)) => {
            let differs = m.span().span_context().span_id() != h.span().span_context().span_id();
            (m, differs.then_some(h))
        }
        (Some(m), None) => (m, None),
        (None, Some(h)) => (h, None),
        (None, None) => (Context::current(), None),
    }
}

impl<H> TracedServer<H> {
    /// Serves one request of `target` in a SERVER span parented on its `_meta`.
    async fn traced<T, F>(
        &self,
        target: Target,
        context: RequestContext<RoleServer>,
        arguments: Option<Value>,
        call: impl FnOnce(RequestContext<RoleServer>) -> F,
        outcome: impl FnOnce(&T) -> (Outcome, Option<Value>),
    ) -> Result<T, ErrorData>
    where
        F: Future<Output = Result<T, ErrorData>>,
    {
        if !emit::is_active() {
            return call(context).await;
        }
        let started = Instant::now();
        let transport = transport(&context.extensions);
        let (parent, link) = parent(meta::extract(&context.meta), transport.http_parent);
        let mut common = transport.attributes;
        if let Some(version) = context.protocol_version() {
            common.push(KeyValue::new(c::MCP_PROTOCOL_VERSION, version.to_string()));
        }
        let mut attributes = target.attributes(true);
        attributes.extend(common.iter().cloned());
        attributes.push(KeyValue::new(c::JSONRPC_REQUEST_ID, context.id.to_string()));
        if let Some(args) = self.capture(arguments) {
            attributes.push(KeyValue::new(c::GEN_AI_TOOL_CALL_ARGUMENTS, args));
        }
        let span =
            OtelSpan::start_with_parent(&parent, target.span_name(), SpanKind::Server, attributes);
        if let Some(link) = link {
            span.add_link(link.span().span_context().clone());
        }
        let result = call(context).with_context(span.context()).await;
        let outcome = match &result {
            Ok(value) => {
                let (outcome, content) = outcome(value);
                if let Some(text) = self.capture(content) {
                    span.set_attribute(KeyValue::new(c::GEN_AI_TOOL_CALL_RESULT, text));
                }
                outcome
            }
            Err(error) => Outcome::of_error(error),
        };
        let outcome_attributes = outcome.attributes(true);
        span.set_attributes(outcome_attributes.iter().cloned());
        if outcome.is_error(true) {
            if let Some(error_type) = outcome.error_type() {
                span.set_error(error_type, safe_message(&outcome.message()));
            }
        }
        let mut points = target.attributes(false);
        points.extend(common);
        points.extend(outcome_attributes);
        metrics::record(Side::Server, started.elapsed().as_secs_f64(), &points);
        result
    }
}

fn ok<T>(_: &T) -> (Outcome, Option<Value>) {
    (Outcome::Ok, None)
}

/// A traced request handler without parameters.
macro_rules! traced {
    ($name:ident, $method:literal, $out:ty) => {
        fn $name(
            &self,
            context: RequestContext<RoleServer>,
        ) -> impl Future<Output = Result<$out, ErrorData>> + MaybeSendFuture + '_ {
            self.traced(
                Target::method($method),
                context,
                None,
                move |cx| self.inner.$name(cx),
                ok,
            )
        }
    };
    ($name:ident, $method:literal, $params:ty, $out:ty) => {
        fn $name(
            &self,
            request: $params,
            context: RequestContext<RoleServer>,
        ) -> impl Future<Output = Result<$out, ErrorData>> + MaybeSendFuture + '_ {
            self.traced(
                Target::method($method),
                context,
                None,
                move |cx| self.inner.$name(request, cx),
                ok,
            )
        }
    };
}

// Every method is forwarded, deprecated ones too: the inner handler may implement them.
#[allow(deprecated)]
impl<H: ServerHandler> ServerHandler for TracedServer<H> {
    traced!(ping, "ping", ());
    traced!(discover, "server/discover", DiscoverResult);

    /// Traced like the others; its success begins the session.
    fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<InitializeResult, ErrorData>> + MaybeSendFuture + '_ {
        let began = Instant::now();
        let transport = transport(&context.extensions).attributes;
        async move {
            let result = self
                .traced(
                    Target::method("initialize"),
                    context,
                    None,
                    move |cx| self.inner.initialize(request, cx),
                    ok,
                )
                .await;
            if let Ok(r) = &result {
                let mut attributes = transport;
                attributes.push(KeyValue::new(
                    c::MCP_PROTOCOL_VERSION,
                    r.protocol_version.to_string(),
                ));
                self.session.begin(began, attributes);
            }
            result
        }
    }
    traced!(
        complete,
        "completion/complete",
        CompleteRequestParams,
        CompleteResult
    );
    traced!(set_level, "logging/setLevel", SetLevelRequestParams, ());
    traced!(
        list_prompts,
        "prompts/list",
        Option<PaginatedRequestParams>,
        ListPromptsResult
    );
    traced!(
        list_resources,
        "resources/list",
        Option<PaginatedRequestParams>,
        ListResourcesResult
    );
    traced!(
        list_resource_templates,
        "resources/templates/list",
        Option<PaginatedRequestParams>,
        ListResourceTemplatesResult
    );
    traced!(subscribe, "resources/subscribe", SubscribeRequestParams, ());
    traced!(
        unsubscribe,
        "resources/unsubscribe",
        UnsubscribeRequestParams,
        ()
    );
    traced!(
        list_tools,
        "tools/list",
        Option<PaginatedRequestParams>,
        ListToolsResult
    );
    traced!(get_task, "tasks/get", GetTaskParams, GetTaskResult);
    traced!(update_task, "tasks/update", UpdateTaskParams, ());
    traced!(cancel_task, "tasks/cancel", CancelTaskParams, ());
    traced!(
        list_skills,
        "skills/list",
        Option<PaginatedRequestParams>,
        ListSkillsResult
    );
    traced!(
        get_skill,
        "skills/get",
        GetSkillRequestParams,
        GetSkillResult
    );
    traced!(
        read_resource_directory,
        "resources/directory/read",
        ReadResourceDirectoryRequestParams,
        ReadResourceDirectoryResult
    );

    fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CallToolResponse, ErrorData>> + MaybeSendFuture + '_ {
        let mut target = Target::method("tools/call");
        target.tool = Some(request.name.to_string());
        let arguments = request.arguments.clone().map(Value::Object);
        self.traced(
            target,
            context,
            arguments,
            move |cx| self.inner.call_tool(request, cx),
            |response| match response {
                CallToolResponse::Complete(result) => (
                    if result.is_error == Some(true) {
                        Outcome::ToolError
                    } else {
                        Outcome::Ok
                    },
                    serde_json::to_value(result).ok(),
                ),
                _ => (Outcome::Ok, None),
            },
        )
    }

    fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetPromptResponse, ErrorData>> + MaybeSendFuture + '_ {
        let mut target = Target::method("prompts/get");
        target.prompt = Some(request.name.clone());
        self.traced(
            target,
            context,
            None,
            move |cx| self.inner.get_prompt(request, cx),
            ok,
        )
    }

    fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ReadResourceResponse, ErrorData>> + MaybeSendFuture + '_ {
        let mut target = Target::method("resources/read");
        target.resource = Some(request.uri.clone());
        self.traced(
            target,
            context,
            None,
            move |cx| self.inner.read_resource(request, cx),
            ok,
        )
    }

    fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CustomResult, ErrorData>> + MaybeSendFuture + '_ {
        let target = Target::method(&request.method);
        self.traced(
            target,
            context,
            None,
            move |cx| self.inner.on_custom_request(request, cx),
            ok,
        )
    }

    // Not requests of the peer: passed through.

    fn negotiate_initialize(
        &self,
        request: &InitializeRequestParams,
    ) -> Result<InitializeResult, ErrorData> {
        self.inner.negotiate_initialize(request)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.inner.supported_protocol_versions()
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.inner.accepted_subscription_filter(requested)
    }

    fn listen(
        &self,
        context: SubscriptionContext,
    ) -> impl Future<Output = Result<(), ErrorData>> + MaybeSendFuture + '_ {
        self.inner.listen(context)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner.get_tool(name)
    }

    fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_cancelled(notification, context)
    }

    fn on_progress(
        &self,
        notification: ProgressNotificationParam,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_progress(notification, context)
    }

    fn on_initialized(
        &self,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_initialized(context)
    }

    fn on_roots_list_changed(
        &self,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_roots_list_changed(context)
    }

    fn on_custom_notification(
        &self,
        notification: CustomNotification,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_custom_notification(notification, context)
    }

    fn get_info(&self) -> ServerConfig {
        self.inner.get_info()
    }
}
