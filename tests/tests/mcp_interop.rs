//! MCP end to end, every process exporting OTLP/HTTP to one local receiver:
//!
//! 1. our traced rmcp client -> our traced rmcp server in a child process over stdio
//!    (this binary again, with `--mcp-stdio-server`), whose tool calls the LLM;
//! 2. the official Python MCP SDK's client (openinference-instrumentation-mcp) -> our
//!    traced server over streamable HTTP;
//! 3. our traced client -> a Python MCP server over stdio.
//!
//! Each ends as one trace at the receiver. The Python peers come from
//! `scripts/mcp-python.sh install` (test-all.sh runs it); without that venv, 2 and 3
//! are skipped with a message, unless `AITRACE_REQUIRE_MCP_PYTHON=1` makes that fatal.
//! A test binary of its own (`harness = false`): the pipeline is process-wide.

#[allow(dead_code)]
#[path = "common/receiver.rs"]
mod receiver;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aitrace::core::emit::OtelSpan;
use aitrace::llm::{GenAiConfig, GenAiMiddleware};
use aitrace::{Exporter, Protocol, Telemetry};
use aitrace_examples::demo::llm;
use aitrace_mcp::{TracedPeer, TracedServer};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use receiver::Receiver;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService, TokioChildProcess};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::json;

const CHILD_FLAG: &str = "--mcp-stdio-server";
const LLM_ENV: &str = "AITRACE_MCP_TEST_LLM";

/// `get_weather` asks the LLM (through GenAiMiddleware) and answers.
#[derive(Clone)]
struct Weather {
    llm: reqwest_middleware::ClientWithMiddleware,
    llm_base: String,
}

impl Weather {
    fn new(llm_base: String) -> Weather {
        Weather {
            llm: reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(GenAiMiddleware::new(GenAiConfig::from_env()))
                .build(),
            llm_base,
        }
    }
}

impl ServerHandler for Weather {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name != "get_weather" {
            return Err(ErrorData::invalid_params("unknown tool", None));
        }
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
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::args().any(|a| a == CHILD_FLAG) {
        runtime.block_on(child());
        return;
    }
    runtime.block_on(parent());
}

/// The stdio server: exports to the endpoint in the environment, serves until
/// stdin closes, then flushes.
async fn child() {
    let guard = Telemetry::builder()
        .service_name("rmcp-stdio-server")
        .log_layer(false)
        .print_tree(false)
        .metrics(false)
        .init()
        .expect("child telemetry");
    let llm_base = std::env::var(LLM_ENV).expect("LLM base URL");
    let server = TracedServer::new(Weather::new(llm_base))
        .serve(rmcp::transport::io::stdio())
        .await
        .expect("serve on stdio");
    let _ = server.waiting().await;
    drop(guard);
}

async fn parent() {
    let receiver = Receiver::start().await;
    let guard = Telemetry::builder()
        .service_name("aitrace-mcp-interop")
        .exporter(Exporter::Otlp {
            endpoint: Some(receiver.endpoint()),
            protocol: Protocol::HttpProtobuf,
        })
        .log_layer(false)
        .print_tree(false)
        .metrics(false)
        .scheduled_delay(Duration::from_millis(50))
        .init()
        .expect("telemetry");
    let llm_base = format!("http://{}", llm::start().await.expect("llm"));

    rust_to_rust_over_stdio(&receiver, &llm_base).await;
    println!("mcp_interop: rmcp client -> rmcp server (stdio child): ok");

    match python() {
        Some(python) => {
            python_client_to_rust_server(&receiver, &llm_base, &python).await;
            println!("mcp_interop: Python client -> rmcp server (streamable HTTP): ok");
            rust_client_to_python_server(&receiver, &python).await;
            println!("mcp_interop: rmcp client -> Python server (stdio): ok");
        }
        None => {
            if std::env::var("AITRACE_REQUIRE_MCP_PYTHON").as_deref() == Ok("1") {
                panic!("the Python MCP peers are missing: run scripts/mcp-python.sh install");
            }
            println!("mcp_interop: Python interop skipped (run scripts/mcp-python.sh install)");
        }
    }
    drop(guard);
}

/// The Python of `scripts/mcp-python.sh`'s venv, if installed.
fn python() -> Option<PathBuf> {
    let script = repo().join("scripts/mcp-python.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .arg("python")
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    path.exists().then_some(path)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn spans(receiver: &Receiver) -> Vec<Span> {
    receiver
        .received
        .decoded
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| ss.spans.clone())
        .collect()
}

fn text(span: &Span, key: &str) -> Option<String> {
    let kv = span.attributes.iter().find(|kv| kv.key == key)?;
    match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// Whether a span is one a scenario waits for.
type SpanTest = dyn Fn(&Span) -> bool;

/// Waits until the trace holds spans matching every predicate; returns them.
async fn wait_for_trace(
    receiver: &Receiver,
    trace: &str,
    wanted: &[(&str, &SpanTest)],
) -> Vec<Span> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let in_trace: Vec<Span> = spans(receiver)
            .into_iter()
            .filter(|s| hex(&s.trace_id) == trace)
            .collect();
        if wanted.iter().all(|(_, f)| in_trace.iter().any(f)) {
            return in_trace;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = wanted
                .iter()
                .filter(|(_, f)| !in_trace.iter().any(f))
                .map(|(what, _)| *what)
                .collect();
            let names: Vec<_> = spans(receiver)
                .iter()
                .map(|s| format!("{} {} kind={}", hex(&s.trace_id), s.name, s.kind))
                .collect();
            panic!("trace {trace}: missing {missing:?}; received {names:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn one<'a>(spans: &'a [Span], name: &str, kind: SpanKind) -> &'a Span {
    let kind = match kind {
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        _ => 1,
    };
    let found: Vec<_> = spans
        .iter()
        .filter(|s| s.name == name && s.kind == kind)
        .collect();
    assert_eq!(found.len(), 1, "one {name} (kind {kind}) in {spans:#?}");
    found[0]
}

fn named(name: &'static str, kind: i32) -> impl Fn(&Span) -> bool {
    move |s: &Span| s.name == name && s.kind == kind
}

async fn rust_to_rust_over_stdio(receiver: &Receiver, llm_base: &str) {
    let exe = std::env::current_exe().expect("this binary");
    let mut command = tokio::process::Command::new(exe);
    command
        .arg(CHILD_FLAG)
        .env(LLM_ENV, llm_base)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_BSP_SCHEDULE_DELAY", "50");
    let child = TokioChildProcess::new(command).expect("spawn the stdio server");
    let root = OtelSpan::start("invoke_agent weather", SpanKind::Internal, vec![]);
    let cx = root.context();
    let trace = cx.span().span_context().trace_id().to_string();
    let root_id = cx.span().span_context().span_id().to_string();
    let client = ().serve(child).await.expect("initialize");
    let mcp = TracedPeer::stdio(&client);
    let result = mcp
        .call_tool(CallToolRequestParams::new("get_weather"))
        .with_context(cx)
        .await
        .expect("tools/call");
    assert_eq!(result.is_error, Some(false));
    drop(root);
    // Closing stdin ends the child, which flushes its spans.
    client.cancel().await.expect("close");
    let spans = wait_for_trace(
        receiver,
        &trace,
        &[
            ("root", &named("invoke_agent weather", 1)),
            ("client", &named("tools/call get_weather", 3)),
            ("server", &named("tools/call get_weather", 2)),
            ("llm", &named("chat gpt-4o-mini", 3)),
        ],
    )
    .await;
    let client = one(&spans, "tools/call get_weather", SpanKind::Client);
    let server = one(&spans, "tools/call get_weather", SpanKind::Server);
    let chat = one(&spans, "chat gpt-4o-mini", SpanKind::Client);
    assert_eq!(hex(&client.parent_span_id), root_id);
    assert_eq!(server.parent_span_id, client.span_id);
    assert_eq!(chat.parent_span_id, server.span_id);
    for span in [client, server] {
        assert_eq!(text(span, "network.transport").as_deref(), Some("pipe"));
        assert_eq!(text(span, "mcp.method.name").as_deref(), Some("tools/call"));
        assert_eq!(
            text(span, "gen_ai.tool.name").as_deref(),
            Some("get_weather")
        );
        assert!(text(span, "error.type").is_none());
        // Unset status (0), not an error (2).
        assert_ne!(span.status.as_ref().map_or(0, |s| s.code), 2);
    }
    assert!(text(chat, "gen_ai.usage.input_tokens").is_some());
}

async fn python_client_to_rust_server(receiver: &Receiver, llm_base: &str, python: &PathBuf) {
    let handler = Weather::new(llm_base.to_owned());
    let service = StreamableHttpService::new(
        move || Ok(TracedServer::new(handler.clone())),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let http = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let out = tokio::process::Command::new(python)
        .arg(repo().join("tests/python/mcp_client.py"))
        .arg(&url)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .output()
        .await
        .expect("run the Python client");
    assert!(
        out.status.success(),
        "Python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(trace.len(), 32, "a trace id, got {trace:?}");
    let spans = wait_for_trace(
        receiver,
        &trace,
        &[
            ("python root", &named("python agent", 1)),
            ("our server span", &named("tools/call get_weather", 2)),
            ("llm", &named("chat gpt-4o-mini", 3)),
        ],
    )
    .await;
    let server = spans
        .iter()
        .find(|s| {
            s.name == "tools/call get_weather" && s.kind == 2 && text(s, "mcp.session.id").is_some()
        })
        .expect("our server span (it records the session id)");
    // The parent is a span of the Python process, in the same trace.
    assert!(
        spans.iter().any(|s| s.span_id == server.parent_span_id),
        "the server span's parent is in the trace"
    );
    assert_eq!(text(server, "network.transport").as_deref(), Some("tcp"));
    let chat = one(&spans, "chat gpt-4o-mini", SpanKind::Client);
    assert_eq!(chat.parent_span_id, server.span_id);
    http.abort();
}

async fn rust_client_to_python_server(receiver: &Receiver, python: &PathBuf) {
    let mut command = tokio::process::Command::new(python);
    command
        .arg(repo().join("tests/python/mcp_server.py"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    let child = TokioChildProcess::new(command).expect("spawn the Python server");
    let root = OtelSpan::start("invoke_agent python", SpanKind::Internal, vec![]);
    let cx = root.context();
    let trace = cx.span().span_context().trace_id().to_string();
    let client = ().serve(child).await.expect("initialize");
    let mcp = TracedPeer::stdio(&client);
    let result = mcp
        .call_tool(
            CallToolRequestParams::new("get_weather")
                .with_arguments(serde_json::from_value(json!({"city": "Paris"})).unwrap()),
        )
        .with_context(cx)
        .await
        .expect("tools/call");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    drop(root);
    client.cancel().await.expect("close");
    let spans = wait_for_trace(
        receiver,
        &trace,
        &[
            ("our client span", &named("tools/call get_weather", 3)),
            ("the Python tool's span", &named("python get_weather", 1)),
        ],
    )
    .await;
    let client = spans
        .iter()
        .find(|s| {
            s.name == "tools/call get_weather"
                && s.kind == 3
                && text(s, "network.transport").as_deref() == Some("pipe")
        })
        .expect("our client span");
    let tool = one(&spans, "python get_weather", SpanKind::Internal);
    // The Python side's span chain starts at our client span.
    let mut parent = tool.parent_span_id.clone();
    let mut hops = 0;
    while parent != client.span_id {
        let up = spans
            .iter()
            .find(|s| s.span_id == parent)
            .unwrap_or_else(|| {
                panic!("the Python tool span is not under our client span: {spans:#?}")
            });
        parent = up.parent_span_id.clone();
        hops += 1;
        assert!(hops < 10);
    }
}
