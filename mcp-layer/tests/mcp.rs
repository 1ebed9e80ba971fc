//! The real rmcp client and server, traced, over an in-process pipe and over
//! streamable HTTP; spans read back from the SDK's in-memory exporter.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aitrace::core::emit::OtelSpan;
use aitrace::llm::{GenAiConfig, GenAiMiddleware};
use aitrace::tool::tool::{ToolCall, ToolInvocation, ToolLayer};
use aitrace_examples::demo::llm;
use aitrace_mcp::{TracedPeer, TracedServer};
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceContextExt, TraceId};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, JsonObject,
    ListToolsResult, PaginatedRequestParams, RequestMetaObject, ServerCapabilities, ServerConfig,
    Tool,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{
    StreamableHttpClientTransport, StreamableHttpServerConfig, StreamableHttpService,
};
use rmcp::{ErrorData, RoleClient, RoleServer, ServerHandler, ServiceExt};
use serde_json::json;
use tower::{service_fn, Layer, Service};

struct Telemetry {
    spans: InMemorySpanExporter,
    metrics: InMemoryMetricExporter,
    meters: SdkMeterProvider,
}

/// Held (shared) by every test while its sessions are open, and alone by the session
/// duration test: the session metrics have no per-session attribute, so another test's
/// session ending meanwhile would count as this one's.
static SESSIONS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn telemetry() -> &'static Telemetry {
    static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        let spans = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        opentelemetry::global::set_tracer_provider(provider);
        let metrics = InMemoryMetricExporter::default();
        let meters = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        opentelemetry::global::set_meter_provider(meters.clone());
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        Telemetry {
            spans,
            metrics,
            meters,
        }
    })
}

fn exporter() -> &'static InMemorySpanExporter {
    &telemetry().spans
}

fn spans_of(trace: TraceId) -> Vec<SpanData> {
    exporter()
        .get_finished_spans()
        .expect("spans")
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace)
        .collect()
}

fn one<'a>(spans: &'a [SpanData], name: &str, kind: SpanKind) -> &'a SpanData {
    let found: Vec<_> = spans
        .iter()
        .filter(|s| s.name == name && s.span_kind == kind)
        .collect();
    assert_eq!(found.len(), 1, "one {kind:?} span {name}: {spans:#?}");
    found[0]
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn text(span: &SpanData, key: &str) -> String {
    match attr(span, key) {
        Some(v) => v.as_str().into_owned(),
        None => panic!("{} has no {key}: {:?}", span.name, span.attributes),
    }
}

/// The tools: `get_weather` asks the LLM first, `broken` answers `isError`,
/// `explode` fails with an internal error; anything else is unknown (invalid params).
#[derive(Clone)]
struct Weather {
    llm: reqwest_middleware::ClientWithMiddleware,
    llm_base: String,
    /// The `_meta` of the last request.
    seen: Arc<Mutex<Option<RequestMetaObject>>>,
}

impl Weather {
    async fn new() -> Weather {
        // Installed before the first request records anything.
        telemetry();
        let addr = llm::start().await.expect("llm");
        Weather {
            llm: reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(GenAiMiddleware::new(GenAiConfig::from_env()))
                .build(),
            llm_base: format!("http://{addr}"),
            seen: Arc::default(),
        }
    }
}

impl ServerHandler for Weather {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema: JsonObject = serde_json::from_value(json!({"type": "object"})).unwrap();
        Ok(ListToolsResult::with_all_items(vec![Tool::new(
            "get_weather",
            "Weather for a city",
            Arc::new(schema),
        )]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        *self.seen.lock().unwrap() = Some(context.meta.clone());
        match request.name.as_ref() {
            "get_weather" => {
                let response = self
                    .llm
                    .post(format!("{}/v1/chat/completions", self.llm_base))
                    .json(&json!({
                        "model": llm::MODEL,
                        "messages": [{"role": "user", "content": "Weather in Paris?"}],
                    }))
                    .send()
                    .await
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                let _ = response.bytes().await;
                Ok(CallToolResult::success(vec![ContentBlock::text("sunny, 21°C")]).into())
            }
            "broken" => Ok(CallToolResult::error(vec![ContentBlock::text("no such city")]).into()),
            "explode" => Err(ErrorData::internal_error(
                "the weather service is down",
                None,
            )),
            _ => Err(ErrorData::invalid_params("unknown tool", None)),
        }
    }
}

type Client = RunningService<RoleClient, ()>;

/// A traced server and a client over an in-process pipe.
async fn over_pipe(handler: Weather) -> (Client, TracedPeer) {
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let server = TracedServer::new(handler)
            .serve(server_io)
            .await
            .expect("serve");
        let _ = server.waiting().await;
    });
    let client = ().serve(client_io).await.expect("client");
    let traced = TracedPeer::stdio(&client);
    (client, traced)
}

/// A traced server behind streamable HTTP, and a client.
async fn over_http(handler: Weather) -> (Client, TracedPeer, u16) {
    over_http_with(handler, reqwest::Client::new()).await
}

/// The same, the client sending through `http` (e.g. with extra headers).
async fn over_http_with(handler: Weather, http: reqwest::Client) -> (Client, TracedPeer, u16) {
    let service = StreamableHttpService::new(
        move || Ok(TracedServer::new(handler.clone())),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = format!("http://127.0.0.1:{port}/mcp");
    let transport = StreamableHttpClientTransport::with_client(
        http,
        StreamableHttpClientTransportConfig::with_uri(url.clone()),
    );
    let client = ().serve(transport).await.expect("client");
    let traced = TracedPeer::http(&client, &url);
    (client, traced, port)
}

/// Runs `f` under a root agent span; returns the trace id and the root's span id.
async fn in_agent<F: std::future::Future>(f: F) -> (TraceId, SpanId, F::Output) {
    use opentelemetry::context::FutureExt;
    exporter();
    let root = OtelSpan::start("invoke_agent weather", SpanKind::Internal, vec![]);
    let cx = root.context();
    let out = f.with_context(cx.clone()).await;
    drop(root);
    let sc = cx.span().span_context().clone();
    (sc.trace_id(), sc.span_id(), out)
}

fn weather_call() -> CallToolRequestParams {
    CallToolRequestParams::new("get_weather")
        .with_arguments(serde_json::from_value(json!({"city": "Paris"})).unwrap())
}

/// Client span -> server span -> the LLM call, one trace; returns the two MCP spans.
fn assert_one_trace(spans: &[SpanData], root: SpanId) -> (SpanData, SpanData) {
    let client = one(spans, "tools/call get_weather", SpanKind::Client);
    let server = one(spans, "tools/call get_weather", SpanKind::Server);
    let chat = one(spans, "chat gpt-4o-mini", SpanKind::Client);
    assert_eq!(client.parent_span_id, root);
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert_eq!(chat.parent_span_id, server.span_context.span_id());
    for span in [client, server] {
        assert_eq!(text(span, "mcp.method.name"), "tools/call");
        assert_eq!(text(span, "gen_ai.tool.name"), "get_weather");
        assert_eq!(text(span, "gen_ai.operation.name"), "execute_tool");
        assert!(!text(span, "mcp.protocol.version").is_empty());
        assert!(!text(span, "jsonrpc.request.id").is_empty());
        assert_eq!(span.status, Status::Unset, "{}", span.name);
        assert!(attr(span, "error.type").is_none());
        // Content is opt-in.
        assert!(attr(span, "gen_ai.tool.call.arguments").is_none());
    }
    assert_eq!(
        text(client, "jsonrpc.request.id"),
        text(server, "jsonrpc.request.id")
    );
    (client.clone(), server.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_call_over_a_pipe_is_one_trace() {
    let _sessions = SESSIONS.read().await;
    let handler = Weather::new().await;
    let seen = handler.seen.clone();
    let (_client, mcp) = over_pipe(handler).await;
    let (trace, root, result) = in_agent(mcp.call_tool(weather_call())).await;
    assert_eq!(result.expect("call").is_error, Some(false));
    let spans = spans_of(trace);
    let (client, server) = assert_one_trace(&spans, root);
    assert_eq!(text(&client, "network.transport"), "pipe");
    assert_eq!(text(&server, "network.transport"), "pipe");
    // The server got the client span's context in `_meta`.
    let meta = seen.lock().unwrap().clone().expect("a request");
    assert_eq!(
        meta.get_traceparent(),
        Some(format!("00-{trace}-{}-01", client.span_context.span_id()).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_call_over_streamable_http_is_one_trace() {
    let _sessions = SESSIONS.read().await;
    let (_client, mcp, port) = over_http(Weather::new().await).await;
    let (trace, root, result) = in_agent(mcp.call_tool(weather_call())).await;
    assert_eq!(result.expect("call").is_error, Some(false));
    let spans = spans_of(trace);
    let (client, server) = assert_one_trace(&spans, root);
    assert_eq!(text(&client, "network.transport"), "tcp");
    assert_eq!(text(&client, "server.address"), "127.0.0.1");
    assert_eq!(attr(&client, "server.port"), Some(Value::I64(port.into())));
    assert_eq!(text(&server, "network.transport"), "tcp");
    assert!(!text(&server, "mcp.session.id").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_set_error_type_on_both_sides() {
    let _sessions = SESSIONS.read().await;
    let (_client, mcp) = over_pipe(Weather::new().await).await;
    let (trace, _, results) = in_agent(async {
        (
            mcp.call_tool(CallToolRequestParams::new("broken")).await,
            mcp.call_tool(CallToolRequestParams::new("explode")).await,
            mcp.call_tool(CallToolRequestParams::new("nowhere")).await,
        )
    })
    .await;
    assert_eq!(results.0.expect("a result").is_error, Some(true));
    assert!(results.1.is_err());
    assert!(results.2.is_err());
    let spans = spans_of(trace);
    for kind in [SpanKind::Client, SpanKind::Server] {
        let broken = one(&spans, "tools/call broken", kind.clone());
        assert_eq!(text(broken, "error.type"), "tool_error");
        assert!(matches!(broken.status, Status::Error { .. }));
        let explode = one(&spans, "tools/call explode", kind.clone());
        assert_eq!(text(explode, "error.type"), "-32603");
        assert_eq!(text(explode, "rpc.response.status_code"), "-32603");
        assert!(matches!(explode.status, Status::Error { .. }));
    }
    // An unknown tool is the caller's error: the client fails, the server does not.
    let client = one(&spans, "tools/call nowhere", SpanKind::Client);
    assert_eq!(text(client, "error.type"), "-32602");
    assert!(matches!(client.status, Status::Error { .. }));
    let server = one(&spans, "tools/call nowhere", SpanKind::Server);
    assert_eq!(text(server, "rpc.response.status_code"), "-32602");
    assert!(attr(server, "error.type").is_none());
    assert_eq!(server.status, Status::Unset);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_meta_is_kept_and_garbage_meta_is_tolerated() {
    let _sessions = SESSIONS.read().await;
    let handler = Weather::new().await;
    let seen = handler.seen.clone();
    let (client, mcp) = over_pipe(handler).await;

    // The application's own `_meta` keys reach the server untouched, next to ours.
    let mut params = CallToolRequestParams::new("broken");
    params.meta = Some(RequestMetaObject::from(
        serde_json::from_value::<JsonObject>(json!({"app.request": "r-1", "tenant": 7})).unwrap(),
    ));
    let (trace, _, _) = in_agent(mcp.call_tool(params)).await;
    let meta = seen.lock().unwrap().clone().expect("a request");
    assert_eq!(meta.get("app.request"), Some(&json!("r-1")));
    assert_eq!(meta.get("tenant"), Some(&json!(7)));
    assert!(meta.get_traceparent().unwrap().contains(&trace.to_string()));

    // An untraced peer sending garbage: served, and each request a new trace.
    let garbage = [
        json!("garbage"),
        json!(42),
        json!({"nested": "object"}),
        json!(format!("00-{}-00f067aa0ba902b7-01", "a".repeat(100_000))),
        json!("00-00000000000000000000000000000000-0000000000000000-01"),
    ];
    for (i, traceparent) in garbage.into_iter().enumerate() {
        let name = format!("garbage{i}");
        let mut params = CallToolRequestParams::new(name.clone());
        params.meta = Some(RequestMetaObject::from(
            serde_json::from_value::<JsonObject>(
                json!({"traceparent": traceparent, "tracestate": "x=1"}),
            )
            .unwrap(),
        ));
        // The plain rmcp peer: nothing of ours on the client side.
        let error = client
            .peer()
            .call_tool(params)
            .await
            .expect_err("unknown tool");
        assert!(error.to_string().contains("unknown tool"), "{error}");
        let span_name = format!("tools/call {name}");
        let server = wait_for(|s| s.name == span_name && s.span_kind == SpanKind::Server).await;
        assert_eq!(
            server.parent_span_id,
            SpanId::INVALID,
            "a new trace for {i}"
        );
        assert!(!server.parent_span_is_remote);
    }
}

async fn wait_for(f: impl Fn(&SpanData) -> bool) -> SpanData {
    for _ in 0..100 {
        if let Some(s) = exporter()
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .find(&f)
        {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no such span");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_layer_span_is_enriched_not_doubled() {
    let _sessions = SESSIONS.read().await;
    let (_client, mcp) = over_pipe(Weather::new().await).await;
    let mcp = Arc::new(mcp);
    let mut tool = ToolLayer::new().layer(service_fn(move |call: ToolInvocation| {
        let mcp = mcp.clone();
        async move {
            let params = CallToolRequestParams::new(call.tool_name().to_owned());
            let result = mcp.call_tool(params).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(serde_json::to_value(result).unwrap())
        }
    }));
    let (trace, root, result) = in_agent(async {
        tool.call(ToolInvocation::new("get_weather", json!({"city": "Paris"})))
            .await
    })
    .await;
    result.expect("tool");
    let spans = spans_of(trace);
    assert!(
        !spans
            .iter()
            .any(|s| s.span_kind == SpanKind::Client && s.name.starts_with("tools/call")),
        "no second span: {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let tool_span = one(&spans, "execute_tool get_weather", SpanKind::Internal);
    assert_eq!(tool_span.parent_span_id, root);
    assert_eq!(text(tool_span, "mcp.method.name"), "tools/call");
    assert_eq!(text(tool_span, "network.transport"), "pipe");
    assert!(!text(tool_span, "jsonrpc.request.id").is_empty());
    let server = one(&spans, "tools/call get_weather", SpanKind::Server);
    assert_eq!(server.parent_span_id, tool_span.span_context.span_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_are_traced() {
    let _sessions = SESSIONS.read().await;
    let (_client, mcp) = over_pipe(Weather::new().await).await;
    let (trace, root, tools) = in_agent(mcp.list_tools(None)).await;
    assert_eq!(tools.expect("tools").tools.len(), 1);
    let spans = spans_of(trace);
    let client = one(&spans, "tools/list", SpanKind::Client);
    assert_eq!(client.parent_span_id, root);
    assert!(attr(client, "gen_ai.tool.name").is_none());
    assert!(attr(client, "gen_ai.operation.name").is_none());
    let server = one(&spans, "tools/list", SpanKind::Server);
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    let _ = Context::current();
}

/// The `count` of `metric` points whose attributes include every `(key, value)`.
fn histogram_count(metric: &str, with: &[(&str, &str)]) -> u64 {
    let t = telemetry();
    t.meters.force_flush().expect("flush");
    let mut count = 0;
    for rm in t.metrics.get_finished_metrics().expect("metrics") {
        for m in rm.scope_metrics().flat_map(|s| s.metrics()) {
            if m.name() != metric {
                continue;
            }
            let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data() else {
                panic!("{metric} is an f64 histogram");
            };
            for point in h.data_points() {
                let matches = with.iter().all(|(k, v)| {
                    point
                        .attributes()
                        .any(|kv| kv.key.as_str() == *k && kv.value.as_str() == *v)
                });
                if matches {
                    count = count.max(point.count());
                }
            }
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operation_durations_are_measured_on_both_sides() {
    let _sessions = SESSIONS.read().await;
    let (_client, mcp) = over_pipe(Weather::new().await).await;
    let (_, _, _) = in_agent(async {
        let _ = mcp.call_tool(CallToolRequestParams::new("broken")).await;
        let _ = mcp.call_tool(CallToolRequestParams::new("explode")).await;
    })
    .await;
    for metric in [
        "mcp.client.operation.duration",
        "mcp.server.operation.duration",
    ] {
        let tool_error = [
            ("mcp.method.name", "tools/call"),
            ("gen_ai.tool.name", "broken"),
            ("error.type", "tool_error"),
            ("network.transport", "pipe"),
        ];
        assert!(
            histogram_count(metric, &tool_error) >= 1,
            "{metric} {tool_error:?}"
        );
        let rpc_error = [
            ("gen_ai.tool.name", "explode"),
            ("error.type", "-32603"),
            ("rpc.response.status_code", "-32603"),
        ];
        assert!(
            histogram_count(metric, &rpc_error) >= 1,
            "{metric} {rpc_error:?}"
        );
    }
}

/// Both sides record the session's duration when it ends: the client when its last
/// `TracedPeer` is dropped, the server when rmcp drops the handler (the client went).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_durations_are_measured_on_both_sides() {
    let _sessions = SESSIONS.write().await;
    let (client, mcp) = over_pipe(Weather::new().await).await;
    // The version the two sides agreed on.
    let version = client
        .peer_info()
        .expect("initialized")
        .protocol_version
        .to_string();
    let with = [
        ("network.transport", "pipe"),
        ("mcp.protocol.version", version.as_str()),
    ];
    let before = ["mcp.client.session.duration", "mcp.server.session.duration"]
        .map(|m| histogram_count_sum(m, &with));
    let _ = in_agent(async { mcp.call_tool(weather_call()).await }).await;
    // The session is open: nothing recorded yet.
    assert_eq!(
        histogram_count_sum("mcp.client.session.duration", &with),
        before[0]
    );
    drop(mcp);
    client.cancel().await.expect("the client closes");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = ["mcp.client.session.duration", "mcp.server.session.duration"]
            .map(|m| histogram_count_sum(m, &with));
        if now[0] > before[0] && now[1] > before[1] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "session durations not recorded: before {before:?}, now {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The summed `count` of `metric` points whose attributes include every pair (and no
/// `mcp.session.id`: the session metrics keep their series few).
fn histogram_count_sum(metric: &str, with: &[(&str, &str)]) -> u64 {
    let t = telemetry();
    t.meters.force_flush().expect("flush");
    let mut count = 0;
    // The in-memory exporter keeps every export (cumulative points): the last one.
    if let Some(rm) = t.metrics.get_finished_metrics().expect("metrics").last() {
        for m in rm.scope_metrics().flat_map(|s| s.metrics()) {
            if m.name() != metric {
                continue;
            }
            let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data() else {
                panic!("{metric} is an f64 histogram");
            };
            for point in h.data_points() {
                assert!(
                    point
                        .attributes()
                        .all(|kv| kv.key.as_str() != "mcp.session.id"),
                    "{metric} has a session id attribute"
                );
                let matches = with.iter().all(|(k, v)| {
                    point
                        .attributes()
                        .any(|kv| kv.key.as_str() == *k && kv.value.as_str() == *v)
                });
                if matches {
                    count += point.count();
                }
            }
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_and_results_are_captured_on_request() {
    let _sessions = SESSIONS.read().await;
    use aitrace::core::content::{CaptureMode, ContentPolicy};
    let policy = || ContentPolicy::from_env().with_mode(CaptureMode::SpanOnly);
    let handler = Weather::new().await;
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    let server_policy = policy();
    tokio::spawn(async move {
        let server = TracedServer::new(handler)
            .with_content_policy(server_policy)
            .serve(server_io)
            .await
            .expect("serve");
        let _ = server.waiting().await;
    });
    let client = ().serve(client_io).await.expect("client");
    let mcp = TracedPeer::stdio(&client).with_content_policy(policy());
    let (trace, _, result) = in_agent(mcp.call_tool(weather_call())).await;
    result.expect("call");
    let spans = spans_of(trace);
    for kind in [SpanKind::Client, SpanKind::Server] {
        let span = one(&spans, "tools/call get_weather", kind);
        assert!(text(span, "gen_ai.tool.call.arguments").contains("Paris"));
        assert!(text(span, "gen_ai.tool.call.result").contains("sunny"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_context_is_the_fallback_parent_or_a_link() {
    let _sessions = SESSIONS.read().await;
    const TRACE: &str = "11111111111111111111111111111111";
    const SPAN: &str = "2222222222222222";
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{TRACE}-{SPAN}-01").parse().unwrap(),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let (client, mcp, _) = over_http_with(Weather::new().await, http).await;

    // `_meta` carries our client span: it is the parent, the HTTP context a link.
    let (trace, _, result) = in_agent(mcp.call_tool(weather_call())).await;
    result.expect("call");
    let spans = spans_of(trace);
    let server = one(&spans, "tools/call get_weather", SpanKind::Server);
    let client_span = one(&spans, "tools/call get_weather", SpanKind::Client);
    assert_eq!(server.parent_span_id, client_span.span_context.span_id());
    let links: Vec<_> = server
        .links
        .iter()
        .map(|l| l.span_context.clone())
        .collect();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].trace_id().to_string(), TRACE);
    assert_eq!(links[0].span_id().to_string(), SPAN);

    // An untraced client: the HTTP context is the parent.
    let _ = client
        .peer()
        .call_tool(CallToolRequestParams::new("headers_only"))
        .await;
    let server =
        wait_for(|s| s.name == "tools/call headers_only" && s.span_kind == SpanKind::Server).await;
    assert_eq!(server.span_context.trace_id().to_string(), TRACE);
    assert_eq!(server.parent_span_id.to_string(), SPAN);
    assert!(server.parent_span_is_remote);
}
