//! The viewer's HTTP API on real trace files (written by the file exporter, the agent
//! run recording its state with `agent::record_state`), a file with a bad line, a
//! truncated file that completes later, and OTLP/HTTP posted by the OpenTelemetry
//! SDK's own exporter in protobuf and JSON.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aitrace::FileSpanExporter;
use aitrace_core::content::{CaptureMode, ContentPolicy};
use aitrace_insight::view::{serve_blocking, ViewOptions};
use aitrace_tool::agent::{self, AgentInfo};
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use serde_json::{json, Value};

const SCRIPT: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aitrace-view-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn file_provider(dir: &Path, service: &str) -> (SdkTracerProvider, PathBuf) {
    let exporter = FileSpanExporter::create_in(dir, service).expect("trace file");
    let path = exporter.path().to_path_buf();
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name(service.to_owned())
                .build(),
        )
        .with_simple_exporter(exporter)
        .build();
    (provider, path)
}

/// Two runs of a weather agent, written by the file exporter: a server span, the
/// agent run (state recorded at each step), a chat call asking for a tool, the tool
/// call, a chat call answering. The runs differ in the answer. The first one also
/// has a span named with planted HTML and a 70 KiB attribute.
struct Runs {
    file: PathBuf,
    ids: Vec<String>,
}

fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = temp_dir("runs");
        let (provider, file) = file_provider(&dir, "weather-svc");
        // agent::run starts its span with the global tracer provider (this test has
        // no `tracing` subscriber).
        opentelemetry::global::set_tracer_provider(provider.clone());
        aitrace_core::emit::set_enabled_without_subscriber(true);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut ids = Vec::new();
        for (n, answer) in ["It is sunny in Paris", "It is rainy in Paris today"]
            .into_iter()
            .enumerate()
        {
            let tracer = provider.tracer("viewer-test");
            let root = tracer
                .span_builder("POST /ask")
                .with_kind(SpanKind::Server)
                .start(&tracer);
            ids.push(root.span_context().trace_id().to_string());
            let cx = Context::current_with_span(root);
            let _guard = cx.clone().attach();
            let content = ContentPolicy::default().with_mode(CaptureMode::SpanOnly);
            runtime.block_on(agent::run(AgentInfo::new("weather-agent").with_content(content), async {
                let question = "What is the weather in Paris?";
                agent::record_input(question);
                let mut messages = vec![json!({"role": "user", "content": question})];
                agent::record_state(&json!({"messages": messages, "pending": []}));
                let tracer = opentelemetry::global::tracer("viewer-test");
                let mut chat = tracer.start("chat gpt-4o");
                chat.set_attributes([
                    KeyValue::new("gen_ai.operation.name", "chat"),
                    KeyValue::new("gen_ai.request.model", "gpt-4o"),
                    KeyValue::new("gen_ai.usage.input_tokens", 100),
                    KeyValue::new("gen_ai.usage.output_tokens", 10 + n as i64),
                    KeyValue::new("gen_ai.usage.cost", 0.001),
                    KeyValue::new(
                        "gen_ai.input.messages",
                        json!([{"role": "user", "parts": [{"type": "text", "content": format!("{question} {SCRIPT}")}]}]).to_string(),
                    ),
                    KeyValue::new(
                        "gen_ai.output.messages",
                        json!([{"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}], "finish_reason": "tool_calls"}]).to_string(),
                    ),
                ]);
                chat.end();
                messages.push(json!({"role": "assistant", "tool_call": "get_weather"}));
                agent::record_state(&json!({"messages": messages, "pending": ["call_1"]}));
                let mut tool = tracer.start("execute_tool get_weather");
                tool.set_attributes([
                    KeyValue::new("gen_ai.operation.name", "execute_tool"),
                    KeyValue::new("gen_ai.tool.name", "get_weather"),
                    KeyValue::new("gen_ai.tool.call.id", "call_1"),
                    KeyValue::new("gen_ai.tool.call.arguments", r#"{"city":"Paris"}"#),
                    KeyValue::new("gen_ai.tool.call.result", r#"{"celsius":21}"#),
                ]);
                let tool_cx = Context::current().with_span(tool);
                if n == 0 {
                    let mut planted = tracer.start_with_context(SCRIPT, &tool_cx);
                    planted.set_attribute(KeyValue::new("big", "x".repeat(70 * 1024)));
                    planted.end();
                }
                tool_cx.span().end();
                messages.push(json!({"role": "tool", "content": "21"}));
                agent::record_state(&json!({"messages": messages, "pending": []}));
                let mut chat = tracer.start("chat gpt-4o");
                chat.set_attributes([
                    KeyValue::new("gen_ai.operation.name", "chat"),
                    KeyValue::new("gen_ai.request.model", "gpt-4o"),
                    KeyValue::new("gen_ai.usage.input_tokens", 120),
                    KeyValue::new("gen_ai.usage.output_tokens", 8),
                    KeyValue::new("gen_ai.usage.cost", 0.002),
                    KeyValue::new(
                        "gen_ai.output.messages",
                        json!([{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]).to_string(),
                    ),
                ]);
                chat.end();
                agent::record_output(answer);
                agent::record_state(&json!({"messages": messages, "pending": [], "answer": answer}));
            }));
            cx.span().end();
        }
        provider.force_flush().expect("flush");
        Runs { file, ids }
    })
}

/// Starts a viewer on a free port in a thread of its own; its address.
fn start(options: ViewOptions) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        serve_blocking(options, |viewer| {
            tx.send(viewer.local_addr()).expect("the test waits");
        })
        .expect("serves");
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the viewer binds")
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request (`Connection: close`), the body read to the end.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write");
    // A server may answer (413) before reading all of a large body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..end]).unwrap_or("0").trim(), 16)
                .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
    out
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, &addr.to_string(), &[], b"")
}

fn get_json(addr: SocketAddr, path: &str) -> Value {
    let reply = get(addr, path);
    assert_eq!(
        reply.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

/// Polls `path` until `done` holds (the index fills in the background).
fn wait_for(addr: SocketAddr, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let value = get_json(addr, path);
        if done(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never became ready: {value}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ready(v: &Value) -> bool {
    v["ready"] == true
}

fn span_named<'a>(trace: &'a Value, name: &str) -> &'a Value {
    trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

#[test]
fn list_trace_span_flow_and_compare_of_an_exported_agent_run() {
    let runs = runs();
    let addr = start(ViewOptions::new(vec![runs.file.clone()]));
    let list = wait_for(addr, "/api/traces?sort=start&order=asc", ready);
    assert_eq!(list["total"], 2, "{list}");
    let row = &list["traces"][0];
    assert_eq!(row["trace_id"], runs.ids[0].as_str());
    assert_eq!(row["service"], "weather-svc");
    assert_eq!(row["root_name"], "POST /ask");
    assert_eq!(
        (row["llm_calls"].as_u64(), row["tool_calls"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (row["input_tokens"].as_u64(), row["output_tokens"].as_u64()),
        (Some(220), Some(18))
    );
    assert_eq!(row["cost_usd"].as_f64(), Some(0.003));
    assert_eq!(row["models"], json!(["gpt-4o"]));
    assert!(
        row["start_unix_nano"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 1_600_000_000_000_000_000
    );
    assert_eq!(list["services"], json!(["weather-svc"]));

    // Filters and search.
    let hit = get_json(addr, "/api/traces?q=RAINY");
    assert_eq!(hit["total"], 1, "{hit}");
    assert_eq!(hit["traces"][0]["trace_id"], runs.ids[1].as_str());
    assert_eq!(
        get_json(addr, "/api/traces?q=xxxxxxxxxxxxxxxx")["total"],
        1,
        "an attribute value"
    );
    assert_eq!(
        get_json(addr, "/api/traces?q=gen_ai.tool.call.id")["total"],
        2
    );
    assert_eq!(
        get_json(addr, "/api/traces?q=nowhere-to-be-found")["total"],
        0
    );
    assert_eq!(
        get_json(addr, "/api/traces?model=gpt-4o&min_cost=0.002&max_ms=60000")["total"],
        2
    );
    assert_eq!(get_json(addr, "/api/traces?min_cost=1")["total"], 0);
    assert_eq!(get_json(addr, "/api/traces?errors=1")["total"], 0);
    let by_tokens = get_json(addr, "/api/traces?sort=tokens&order=desc&limit=1");
    assert_eq!(by_tokens["traces"].as_array().unwrap().len(), 1);
    assert_eq!(
        by_tokens["traces"][0]["trace_id"],
        runs.ids[1].as_str(),
        "more output tokens"
    );
    assert_eq!(get(addr, "/api/traces?min_ms=abc").status, 400);
    assert_eq!(get(addr, "/api/traces?sort=colour").status, 400);
    assert_eq!(get(addr, "/api/traces?min_cost=NaN").status, 400);
    assert_eq!(get(addr, "/api/traces?max_ms=-inf").status, 400);
    assert_eq!(get(addr, "/api/traces?errors=abc").status, 400);

    // The waterfall: nesting, rollups, badges, the critical path.
    let trace = get_json(addr, &format!("/api/traces/{}", runs.ids[0]));
    let names: Vec<(u64, &str)> = trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["depth"].as_u64().unwrap(), s["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            (0, "POST /ask"),
            (1, "invoke_agent weather-agent"),
            (2, "chat gpt-4o"),
            (2, "execute_tool get_weather"),
            (3, SCRIPT),
            (2, "chat gpt-4o"),
        ]
    );
    let agent = span_named(&trace, "invoke_agent weather-agent");
    assert_eq!(agent["rollup"]["llm_calls"], 2);
    assert_eq!(agent["rollup"]["tool_calls"], 1);
    assert_eq!(agent["rollup"]["input_tokens"], 220);
    assert_eq!(agent["children"].as_array().unwrap().len(), 3);
    assert_eq!(agent["critical"], true);
    let chat = &trace["spans"][2];
    assert_eq!(chat["badges"]["input_tokens"], 100);
    assert_eq!(chat["operation"], "chat");
    assert_eq!(chat["parent_span_id"], agent["span_id"]);
    assert_eq!(span_named(&trace, SCRIPT)["rollup"], Value::Null);
    assert!(trace["start_unix_nano"].is_string());
    assert_eq!(trace["summary"]["spans"], 6);

    // The context explorer: conversation, tool call links both ways, raw attributes.
    let chat_id = chat["span_id"].as_str().unwrap();
    let tool_id = span_named(&trace, "execute_tool get_weather")["span_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = get_json(
        addr,
        &format!("/api/traces/{}/spans/{chat_id}", runs.ids[0]),
    );
    let asked = &detail["conversation"]["input_messages"][0]["parts"][0]["content"];
    assert!(
        asked.as_str().unwrap().ends_with(SCRIPT),
        "planted HTML comes back as JSON text: {asked}"
    );
    assert_eq!(
        detail["conversation"]["output_messages"][0]["parts"][0]["id"],
        "call_1"
    );
    assert_eq!(detail["conversation"]["system_instructions"], Value::Null);
    assert_eq!(
        detail["tool_call_links"],
        json!([{"tool_call_id": "call_1", "span_id": tool_id, "name": "get_weather", "inferred": false}])
    );
    assert!(detail["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["key"] == "gen_ai.usage.input_tokens" && a["value"] == 100));
    assert!(detail["resource"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["key"] == "service.name" && a["value"] == "weather-svc"));
    assert_eq!(detail["scope"]["name"], "viewer-test");
    let tool = get_json(
        addr,
        &format!("/api/traces/{}/spans/{tool_id}", runs.ids[0]),
    );
    assert_eq!(tool["tool_call_links"][0]["span_id"], chat_id);

    // The planted span: the name is plain JSON text, the long value is cut.
    let planted = span_named(&trace, SCRIPT)["span_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = get(
        addr,
        &format!("/api/traces/{}/spans/{planted}", runs.ids[0]),
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let planted_detail = reply.json();
    assert_eq!(planted_detail["name"], SCRIPT);
    let big = planted_detail["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "big")
        .unwrap()
        .clone();
    assert_eq!(big["truncated"], true);
    assert_eq!(big["value"].as_str().unwrap().len(), 64 * 1024);
    let full = get(
        addr,
        &format!("/api/traces/{}/spans/{planted}/attr/big", runs.ids[0]),
    );
    assert_eq!(full.status, 200);
    assert_eq!(full.body.len(), 70 * 1024);
    assert!(full
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(
        get(
            addr,
            &format!("/api/traces/{}/spans/{planted}/attr/nope", runs.ids[0])
        )
        .status,
        404
    );

    // State snapshots, each diffed against the one before.
    let agent_id = agent["span_id"].as_str().unwrap();
    let states = get_json(
        addr,
        &format!("/api/traces/{}/spans/{agent_id}", runs.ids[0]),
    )["states"]
        .clone();
    let states = states.as_array().unwrap();
    assert_eq!(states.len(), 4, "{states:?}");
    assert_eq!(states[0]["diff"][0]["op"], "add");
    assert_eq!(states[0]["state"]["pending"], json!([]));
    assert!(
        states[1]["diff"]
            .as_array()
            .unwrap()
            .contains(&json!({"op": "add", "path": "/pending/0", "new": "call_1"})),
        "{}",
        states[1]["diff"]
    );
    assert!(states[2]["diff"]
        .as_array()
        .unwrap()
        .contains(&json!({"op": "remove", "path": "/pending/0", "old": "call_1"})));
    assert!(states[3]["diff"]
        .as_array()
        .unwrap()
        .contains(&json!({"op": "add", "path": "/answer", "new": "It is sunny in Paris"})));
    assert!(states
        .windows(2)
        .all(|w| w[0]["offset_ns"].as_u64() <= w[1]["offset_ns"].as_u64()));

    // The causal flow: request, agent, LLM, the tool it asked for, LLM, answer.
    let flow = get_json(addr, &format!("/api/traces/{}/flow", runs.ids[0]));
    let kinds: Vec<&str> = flow["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["request", "agent", "llm", "tool", "llm", "answer"]);
    let tool_step = &flow["steps"][3];
    assert_eq!(tool_step["asked_by"], chat_id);
    assert_eq!(tool_step["tool_call_id"], "call_1");
    assert!(tool_step["carries"]
        .as_str()
        .unwrap()
        .contains(r#"{"celsius":21}"#));
    assert_eq!(flow["steps"][0]["carries"], "What is the weather in Paris?");
    assert_eq!(
        flow["steps"][2]["carries"],
        r#"get_weather({"city":"Paris"})"#
    );
    assert_eq!(flow["steps"][5]["carries"], "It is sunny in Paris");
    assert!(flow["edges"]
        .as_array()
        .unwrap()
        .contains(&json!({"from": chat_id, "to": tool_id, "label": "asked for"})));

    // Compare: aligned by structure; the extra span and the changed answer show.
    let cmp = get_json(
        addr,
        &format!("/api/compare?a={}&b={}", runs.ids[0], runs.ids[1]),
    );
    let rows = cmp["rows"].as_array().unwrap();
    let statuses: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses.len(), 6, "{statuses:?}");
    assert!(statuses.contains(&(SCRIPT, "only_a")));
    let last_chat = rows.iter().rfind(|r| r["name"] == "chat gpt-4o").unwrap();
    assert_eq!(last_chat["status"], "changed");
    let output = last_chat["content"]["output"].as_array().unwrap();
    assert!(
        output.contains(&json!({"op": "delete", "text": "sunny "})),
        "{output:?}"
    );
    assert!(
        output.contains(&json!({"op": "insert", "text": "rainy "})),
        "{output:?}"
    );
    let first_chat = rows.iter().find(|r| r["name"] == "chat gpt-4o").unwrap();
    assert_eq!(first_chat["delta"]["output_tokens"], 1);
    assert_eq!(cmp["totals"]["delta"]["output_tokens"], 1);
    assert_eq!(cmp["totals"]["delta"]["spans"], -1);
    assert_eq!(cmp["a"]["summary"]["trace_id"], runs.ids[0].as_str());

    // Not found and bad ids.
    assert_eq!(
        get(addr, &format!("/api/traces/{}", "0".repeat(32))).status,
        404
    );
    assert_eq!(get(addr, "/api/traces/xyz").status, 400);
    assert_eq!(
        get(addr, &format!("/api/compare?a={}", runs.ids[0])).status,
        400
    );

    let stats = get_json(addr, "/api/stats");
    assert_eq!(
        (
            stats["files"].as_u64(),
            stats["spans"].as_u64(),
            stats["traces"].as_u64()
        ),
        (Some(1), Some(11), Some(2))
    );
    assert!(stats["index_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn security_headers_on_every_response_and_the_host_guard() {
    let dir = temp_dir("security");
    let addr = start(ViewOptions::new(vec![dir]));
    for path in [
        "/",
        "/api/stats",
        "/api/traces",
        "/no-such-page",
        "/assets/no-such.js",
    ] {
        let reply = get(addr, path);
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("script-src 'self'")
                && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
    }
    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert!(
        html.contains("<script") && !html.contains("http://") && !html.contains("https://"),
        "no other origin: {html}"
    );
    assert_eq!(get(addr, "/no-such-page").status, 404);
    assert_eq!(get(addr, "/assets/no-such.js").status, 404);
    // Every script the page loads is served as JavaScript.
    for src in html
        .split("src=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
    {
        let reply = get(addr, src);
        assert_eq!(reply.status, 200, "{src}");
        assert!(
            reply
                .header("content-type")
                .unwrap()
                .starts_with("text/javascript"),
            "{src}"
        );
    }
    // DNS rebinding: another name for 127.0.0.1 is refused; localhost is fine.
    let port = addr.port();
    for (host, status) in [
        (format!("evil.example:{port}"), 403),
        ("127.0.0.1".to_owned(), 403),
        (format!("127.0.0.1:{}", port.wrapping_add(1)), 403),
        (format!("localhost:{port}"), 200),
        (format!("LOCALHOST:{port}"), 200),
    ] {
        let reply = request(addr, "GET", "/api/stats", &host, &[], b"");
        assert_eq!(reply.status, status, "{host}");
        assert!(reply.header("content-security-policy").is_some());
    }
    // Without --otlp there is no receiver.
    let reply = request(
        addr,
        "POST",
        "/v1/traces",
        &addr.to_string(),
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(reply.status, 404);
}

#[test]
fn a_bad_line_is_skipped_and_a_truncated_file_completes_live() {
    let runs = runs();
    let text = std::fs::read_to_string(&runs.file).expect("the runs file");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() >= 2,
        "the simple exporter writes a line per span"
    );
    let dir = temp_dir("bad-lines");
    // A file with a bad line in the middle.
    let (first, rest) = lines.split_at(lines.len() / 2);
    std::fs::write(
        dir.join("trace-bad-1.jsonl"),
        format!(
            "{}\nthis is not JSON\n{}\n",
            first.join("\n"),
            rest.join("\n")
        ),
    )
    .unwrap();
    // A file whose writer is mid-line: a new trace, its last line cut.
    let (provider, path) = file_provider(&dir, "cut-svc");
    let tracer = provider.tracer("viewer-test");
    let mut span = tracer.start("late span");
    span.set_status(Status::error("boom"));
    let late_id = span.span_context().trace_id().to_string();
    span.end();
    provider.force_flush().unwrap();
    let late_line = std::fs::read_to_string(&path).unwrap();
    let (head, tail) = late_line.split_at(late_line.len() / 2);
    std::fs::write(&path, head).unwrap();

    let addr = start(ViewOptions::new(vec![dir.clone()]));
    let list = wait_for(addr, "/api/traces", ready);
    assert_eq!(list["total"], 2, "both runs, the bad line skipped: {list}");
    assert_eq!(list["bad_lines"], 1);
    let files = list["files"].as_array().unwrap();
    let bad = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("trace-bad-1.jsonl"))
        .unwrap();
    assert_eq!(
        (bad["bad_lines"].as_u64(), bad["spans"].as_u64()),
        (Some(1), Some(11))
    );
    let cut = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().contains("cut-svc"))
        .unwrap();
    assert_eq!(cut["truncated"], true);
    assert_eq!(
        cut["bad_lines"], 0,
        "a partial last line is waited for, not counted"
    );

    // Live: subscribe, then the writer completes the line.
    let mut live = TcpStream::connect(addr).unwrap();
    live.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(live, "GET /api/live HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut seen = String::new();
    read_until(&mut live, &mut seen, "event: traces");
    assert!(seen.contains("text/event-stream"), "{seen}");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(tail.as_bytes()).unwrap();
    drop(file);
    read_until(&mut live, &mut seen, &late_id);
    let list = wait_for(addr, "/api/traces", |v| v["total"] == 3);
    let late = list["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["trace_id"] == late_id.as_str())
        .unwrap();
    assert_eq!(late["errors"], 1);
    assert_eq!(late["service"], "cut-svc");
    let cut = list["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().contains("cut-svc"))
        .unwrap()
        .clone();
    assert_eq!(cut["truncated"], false);

    // A new file in the directory shows up too.
    let (provider, _) = file_provider(&dir, "new-svc");
    let tracer = provider.tracer("viewer-test");
    let span = tracer.start("newer");
    let newer = span.span_context().trace_id().to_string();
    drop(span);
    provider.force_flush().unwrap();
    read_until(&mut live, &mut seen, &newer);
    assert_eq!(
        get_json(addr, &format!("/api/traces/{newer}"))["spans"][0]["name"],
        "newer"
    );

    // A rotation (the file cut and rewritten) is re-read from the start.
    std::fs::write(&path, "").unwrap();
    let list = wait_for(addr, "/api/traces", |v| v["total"] == 3);
    assert!(list["traces"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["trace_id"] != late_id.as_str()));
}

fn read_until(stream: &mut TcpStream, seen: &mut String, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while !seen.contains(needle) {
        assert!(Instant::now() < deadline, "no {needle:?} in {seen}");
        match stream.read(&mut buf) {
            Ok(0) => panic!("the stream ended: {seen}"),
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) => panic!("{e}: {seen}"),
        }
    }
}

#[test]
fn otlp_from_the_sdk_exporter_in_protobuf_and_json_is_listed_and_written() {
    use opentelemetry_otlp::{Protocol, WithExportConfig};

    let dir = temp_dir("otlp");
    let mut options = ViewOptions::new(vec![dir.clone()]);
    options.trace_dir = dir.clone();
    options.otlp = true;
    let addr = start(options);
    wait_for(addr, "/api/stats", ready);
    let mut ids = Vec::new();
    for protocol in [Protocol::HttpBinary, Protocol::HttpJson] {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(format!("http://{addr}/v1/traces"))
            .build()
            .expect("exporter");
        let provider = SdkTracerProvider::builder()
            .with_resource(
                Resource::builder_empty()
                    .with_service_name(format!("{protocol:?}-svc"))
                    .build(),
            )
            .with_simple_exporter(exporter)
            .build();
        let tracer = provider.tracer("sdk");
        let parent = tracer.start("agent step");
        let cx = Context::current_with_span(parent);
        let mut child = tracer.start_with_context("chat gpt-4o", &cx);
        child.set_attributes([
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.usage.input_tokens", 7),
        ]);
        child.end();
        ids.push(cx.span().span_context().trace_id().to_string());
        cx.span().end();
        provider.shutdown().expect("exported without error");
    }
    // Each span came in its own request (a simple exporter), and the viewer indexes
    // what is written every 250 ms: a trace can be listed before its second span is.
    let list = wait_for(addr, "/api/traces", |v| {
        v["total"] == 2
            && v["traces"]
                .as_array()
                .is_some_and(|rows| rows.iter().all(|row| row["spans"] == 2))
    });
    for (id, service) in ids.iter().zip(["HttpBinary-svc", "HttpJson-svc"]) {
        let row = list["traces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["trace_id"] == id.as_str())
            .unwrap();
        assert_eq!(
            (
                row["service"].as_str(),
                row["spans"].as_u64(),
                row["input_tokens"].as_u64()
            ),
            (Some(service), Some(2), Some(7))
        );
        let trace = get_json(addr, &format!("/api/traces/{id}"));
        assert_eq!(trace["spans"][1]["depth"], 1);
    }
    // What arrived is in the trace directory, as OTLP/JSON lines the CLI reads.
    let written = dir.join(format!("trace-otlp-{}.jsonl", std::process::id()));
    let read = aitrace_insight::tracefile::read_file_with_stats(&written).expect("written");
    assert_eq!((read.spans.len(), read.stats.bad_lines), (4, 0));
    assert!(read
        .spans
        .iter()
        .any(|s| s.name == "chat gpt-4o" && s.trace_id == ids[1]));

    // The trace directory deleted while the viewer runs: the next spans are written to
    // a new file at the same path, not to the deleted one's handle.
    let host = addr.to_string();
    std::fs::remove_dir_all(&dir).expect("remove the trace dir");
    let late = br#"{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"after the rm","startTimeUnixNano":"1000","endTimeUnixNano":"2000"}]}]}]}"#;
    let reply = request(
        addr,
        "POST",
        "/v1/traces",
        &host,
        &[("Content-Type", "application/json")],
        late,
    );
    assert_eq!(reply.status, 200);
    let read = aitrace_insight::tracefile::read_file_with_stats(&written).expect("written again");
    let names: Vec<&str> = read.spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["after the rm"]);

    // Bounded, typed, and answered per the spec.
    let big = vec![b' '; 17 << 20];
    let reply = request(
        addr,
        "POST",
        "/v1/traces",
        &host,
        &[("Content-Type", "application/json")],
        &big,
    );
    assert_eq!(reply.status, 413);
    // A body announced too large is refused before it is sent.
    {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(
            stream,
            "POST /v1/traces HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n"
        )
        .unwrap();
        let mut seen = String::new();
        read_until(&mut stream, &mut seen, "\r\n");
        assert!(seen.starts_with("HTTP/1.1 413"), "{seen}");
    }
    // Errors axum makes itself are JSON too.
    let error_of = |reply: &Reply| -> String {
        reply.json()["error"]
            .as_str()
            .expect("an error message")
            .to_owned()
    };
    assert!(error_of(&reply).contains("limit"), "{}", error_of(&reply));
    let reply = request(addr, "POST", "/api/traces", &host, &[], b"");
    assert_eq!(reply.status, 405);
    assert_eq!(error_of(&reply), "Method Not Allowed");
    let reply = request(
        addr,
        "POST",
        "/v1/traces",
        &host,
        &[("Content-Type", "text/plain")],
        b"{}",
    );
    assert_eq!(reply.status, 415);
    let reply = request(
        addr,
        "POST",
        "/v1/traces",
        &host,
        &[("Content-Type", "application/json")],
        b"{not json",
    );
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error"].as_str().unwrap().contains("OTLP"));
    let reply = request(
        addr,
        "POST",
        "/v1/traces",
        &host,
        &[("Content-Type", "application/json")],
        b"{\"resourceSpans\":[]}",
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), json!({}));
}

#[test]
fn without_content_the_tool_call_is_linked_to_the_llm_call_before_it() {
    let dir = temp_dir("no-content");
    let (provider, _) = file_provider(&dir, "plain-svc");
    let tracer = provider.tracer("viewer-test");
    let agent = Context::current_with_span(tracer.start("invoke_agent plain"));
    let mut chat = tracer.start_with_context("chat gpt-4o", &agent);
    chat.set_attribute(KeyValue::new("gen_ai.operation.name", "chat"));
    chat.end();
    std::thread::sleep(Duration::from_millis(2));
    let mut tool = tracer.start_with_context("execute_tool lookup", &agent);
    tool.set_attribute(KeyValue::new("gen_ai.operation.name", "execute_tool"));
    tool.end();
    let trace_id = agent.span().span_context().trace_id().to_string();
    agent.span().end();
    provider.force_flush().unwrap();

    let addr = start(ViewOptions::new(vec![dir]));
    wait_for(addr, "/api/traces", |v| v["total"] == 1);
    let flow = get_json(addr, &format!("/api/traces/{trace_id}/flow"));
    let steps = flow["steps"].as_array().unwrap();
    let chat = steps.iter().find(|s| s["kind"] == "llm").unwrap();
    let tool = steps.iter().find(|s| s["kind"] == "tool").unwrap();
    assert_eq!(tool["asked_by"], chat["span_id"]);
    assert_eq!(tool["asked_by_inferred"], true);
    assert_eq!(tool["carries"], "", "no content captured");
    let detail = get_json(
        addr,
        &format!(
            "/api/traces/{trace_id}/spans/{}",
            chat["span_id"].as_str().unwrap()
        ),
    );
    assert_eq!(detail["tool_call_links"][0]["span_id"], tool["span_id"]);
    assert_eq!(detail["tool_call_links"][0]["inferred"], true);
    assert_eq!(detail["conversation"]["input_messages"], Value::Null);
}

#[test]
fn bound_to_every_address_ip_literals_pass_the_host_guard_and_names_do_not() {
    let dir = temp_dir("any-ip");
    let mut options = ViewOptions::new(vec![dir]);
    options.bind = "0.0.0.0:0".parse().unwrap();
    let addr = start(options);
    let local: SocketAddr = format!("127.0.0.1:{}", addr.port()).parse().unwrap();
    let port = addr.port();
    for (host, status) in [
        (format!("192.0.2.7:{port}"), 200),
        (format!("[2001:db8::1]:{port}"), 200),
        (format!("192.0.2.7:{}", port.wrapping_add(1)), 403),
        (format!("attacker.example:{port}"), 403),
    ] {
        assert_eq!(
            request(local, "GET", "/api/stats", &host, &[], b"").status,
            status,
            "{host}"
        );
    }
}

#[test]
fn spans_with_a_repeated_id_are_counted_as_duplicates() {
    let dir = temp_dir("duplicates");
    let span = |id: &str, parent: &str| {
        format!(
            r#"{{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"{id}","parentSpanId":"{parent}","name":"s{id}","startTimeUnixNano":"1000","endTimeUnixNano":"2000"}}"#
        )
    };
    let spans = [
        span("b7ad6b7169203331", ""),
        span("00f067aa0ba902b7", "b7ad6b7169203331"),
        span("00f067aa0ba902b7", "b7ad6b7169203331"),
    ];
    std::fs::write(
        dir.join("trace-dup-1.jsonl"),
        format!(
            r#"{{"resourceSpans":[{{"resource":{{}},"scopeSpans":[{{"scope":{{}},"spans":[{}]}}]}}]}}"#,
            spans.join(",")
        ) + "\n",
    )
    .unwrap();
    let addr = start(ViewOptions::new(vec![dir]));
    let list = wait_for(addr, "/api/traces", ready);
    assert_eq!(
        list["traces"][0]["spans"], 3,
        "the row counts every span read"
    );
    let trace = get_json(addr, "/api/traces/0af7651916cd43dd8448eb211c80319c");
    assert_eq!(trace["spans"].as_array().map(Vec::len), Some(2));
    assert_eq!(trace["duplicates"], 1);
}
