//! Running the demo scenario against Phoenix and reading its spans back.
#![allow(dead_code)]

pub mod peers;
pub mod receiver;

use std::time::{Duration, Instant};

use aitrace::core::content::ContentPolicy;
use aitrace::{Exporter, Protocol, Telemetry};
use aitrace_examples::demo::{self, AgentAnswer, DemoOptions};
use opentelemetry::KeyValue;
use serde_json::Value;

/// Phoenix's web/REST/OTLP-HTTP base URL (`scripts/phoenix.sh` defaults).
pub fn phoenix_url() -> String {
    std::env::var("AITRACE_PHOENIX_URL").unwrap_or_else(|_| "http://127.0.0.1:16006".to_owned())
}

/// Phoenix's OTLP/gRPC endpoint.
pub fn phoenix_grpc() -> String {
    std::env::var("AITRACE_PHOENIX_GRPC").unwrap_or_else(|_| "http://127.0.0.1:16007".to_owned())
}

/// One span as Phoenix stores it.
#[derive(Debug, Clone)]
pub struct Span {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_id: Option<String>,
    pub status_code: String,
    pub attributes: serde_json::Map<String, Value>,
}

impl Span {
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes.get(key)
    }

    pub fn int(&self, key: &str) -> i64 {
        self.attr(key).and_then(Value::as_i64).unwrap_or_else(|| {
            panic!(
                "{key} missing or not an integer on {}: {:?}",
                self.name, self.attributes
            )
        })
    }

    pub fn float(&self, key: &str) -> f64 {
        self.attr(key).and_then(Value::as_f64).unwrap_or_else(|| {
            panic!(
                "{key} missing or not a number on {}: {:?}",
                self.name, self.attributes
            )
        })
    }

    pub fn str(&self, key: &str) -> &str {
        self.attr(key).and_then(Value::as_str).unwrap_or_else(|| {
            panic!(
                "{key} missing or not a string on {}: {:?}",
                self.name, self.attributes
            )
        })
    }
}

/// Phoenix flattens or nests dotted keys depending on version: flatten to dotted keys.
fn flatten(prefix: &str, value: &Value, out: &mut serde_json::Map<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

/// Runs the demo scenario exporting to Phoenix over `protocol`, into its own Phoenix
/// project, and returns the answer and the project name.
pub async fn run_scenario(
    protocol: Protocol,
    project: &str,
    content: Option<ContentPolicy>,
    question: Option<String>,
) -> AgentAnswer {
    let endpoint = match protocol {
        Protocol::Grpc => phoenix_grpc(),
        Protocol::HttpProtobuf => phoenix_url(),
    };
    let telemetry = Telemetry::builder()
        .service_name("aitrace-e2e")
        .resource_attribute(KeyValue::new(
            "openinference.project.name",
            project.to_owned(),
        ))
        .exporter(Exporter::Otlp {
            endpoint: Some(endpoint),
            protocol,
        })
        .log_layer(false)
        .metrics(false)
        .init()
        .expect("telemetry setup");
    let monitor = telemetry.export_monitor().expect("telemetry is on");
    let answer = demo::run(DemoOptions { question, content })
        .await
        .expect("the demo scenario runs");
    telemetry.shutdown();
    // Phoenix answers as an OTLP collector: every span confirmed, none lost.
    let stats = monitor.stats();
    assert!(stats.exported > 0, "{stats:?}");
    assert_eq!((stats.unconfirmed, stats.dropped()), (0, 0), "{stats:?}");
    answer
}

/// Polls Phoenix until the trace has `expected` spans (spans land asynchronously).
pub async fn fetch_trace(project: &str, trace_id: &str, expected: usize) -> Vec<Span> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Vec::new();
    while Instant::now() < deadline {
        let url = format!(
            "{}/v1/projects/{project}/spans?trace_id={trace_id}&limit=1000",
            phoenix_url()
        );
        let resp = client
            .get(&url)
            .send()
            .await
            .expect("Phoenix answers (is it running? see scripts/phoenix.sh)");
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            // The project does not exist until its first span lands.
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        }
        let body: Value = resp.json().await.expect("JSON from Phoenix");
        last = body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let mut attributes = serde_json::Map::new();
                flatten("", &s["attributes"], &mut attributes);
                let span_id = s["context"]["span_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                Span {
                    name: s["name"].as_str().unwrap_or_default().to_owned(),
                    trace_id: s["context"]["trace_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    span_id,
                    parent_id: s["parent_id"].as_str().map(str::to_owned),
                    status_code: s["status_code"].as_str().unwrap_or_default().to_owned(),
                    attributes,
                }
            })
            .collect();
        if last.len() >= expected {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!(
        "Phoenix holds {} of {expected} spans of trace {trace_id}: {last:#?}",
        last.len()
    );
}

/// The demo's span tree, as Phoenix received it:
/// POST /ask (server) -> invoke_agent weather-agent -> chat x2 -> POST (HTTP client)
///                                                 -> execute_tool get_weather -> GET /weather/{city} (client) -> GET /weather/{city} (server)
pub fn assert_demo_tree(spans: &[Span], answer: &AgentAnswer) -> DemoSpans {
    assert_eq!(
        spans.len(),
        9,
        "{:#?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    assert!(
        spans.iter().all(|s| s.trace_id == answer.trace_id),
        "one trace"
    );
    // Phoenix does not keep the OpenTelemetry span kind (its OTLP view says INTERNAL
    // for every span; kinds are checked against the SDK's exporter in the crates'
    // tests): server and client spans are told apart by their attributes here.
    let one = |name: &str, role: Role| -> Span {
        let found: Vec<&Span> = spans
            .iter()
            .filter(|s| s.name == name && role.matches(s))
            .collect();
        assert_eq!(found.len(), 1, "one {role:?} `{name}`: {spans:#?}");
        found[0].clone()
    };
    let server = one("POST /ask", Role::HttpServer);
    assert_eq!(
        server.parent_id, None,
        "the user's request starts the trace"
    );
    let agent = one("invoke_agent weather-agent", Role::GenAi("invoke_agent"));
    assert_eq!(agent.parent_id.as_deref(), Some(server.span_id.as_str()));
    let tool = one("execute_tool get_weather", Role::GenAi("execute_tool"));
    assert_eq!(tool.parent_id.as_deref(), Some(agent.span_id.as_str()));
    let tool_client = one("GET /weather/{city}", Role::HttpClient);
    assert_eq!(
        tool_client.parent_id.as_deref(),
        Some(tool.span_id.as_str())
    );
    let downstream = one("GET /weather/{city}", Role::HttpServer);
    assert_eq!(
        downstream.parent_id.as_deref(),
        Some(tool_client.span_id.as_str())
    );
    let mut chats: Vec<Span> = spans
        .iter()
        .filter(|s| s.name == "chat gpt-4o-mini")
        .cloned()
        .collect();
    assert_eq!(chats.len(), 2);
    chats.sort_by_key(|s| s.attr("gen_ai.request.stream").is_some());
    for chat in &chats {
        assert!(Role::GenAi("chat").matches(chat));
        assert_eq!(chat.parent_id.as_deref(), Some(agent.span_id.as_str()));
        let http: Vec<&Span> = spans
            .iter()
            .filter(|s| s.name == "POST" && s.parent_id.as_deref() == Some(chat.span_id.as_str()))
            .collect();
        assert_eq!(http.len(), 1, "one HTTP client span under each chat span");
        assert!(Role::HttpClient.matches(http[0]));
    }
    let (first, streamed) = (chats[0].clone(), chats[1].clone());
    DemoSpans {
        server,
        agent,
        tool,
        tool_client,
        downstream,
        first,
        streamed,
    }
}

#[derive(Debug, Clone, Copy)]
enum Role {
    HttpServer,
    HttpClient,
    GenAi(&'static str),
}

impl Role {
    fn matches(self, s: &Span) -> bool {
        match self {
            Role::HttpServer => s.attr("http.route").is_some() && s.attr("url.full").is_none(),
            Role::HttpClient => s.attr("url.full").is_some() && s.attr("http.route").is_none(),
            Role::GenAi(op) => s.attr("gen_ai.operation.name").and_then(Value::as_str) == Some(op),
        }
    }
}

pub struct DemoSpans {
    pub server: Span,
    pub agent: Span,
    pub tool: Span,
    pub tool_client: Span,
    pub downstream: Span,
    pub first: Span,
    pub streamed: Span,
}

/// The GenAI attributes Phoenix received, and that they add up.
pub fn assert_genai(d: &DemoSpans, answer: &AgentAnswer) {
    for chat in [&d.first, &d.streamed] {
        assert_eq!(chat.str("gen_ai.operation.name"), "chat");
        assert_eq!(chat.str("gen_ai.provider.name"), "openai");
        assert_eq!(chat.str("gen_ai.request.model"), "gpt-4o-mini");
        assert_eq!(chat.str("gen_ai.response.model"), "gpt-4o-mini-2024-07-18");
        assert!(chat.int("gen_ai.usage.input_tokens") > 100);
        assert!(chat.int("gen_ai.usage.output_tokens") > 0);
        assert!(chat.float("gen_ai.usage.cost") > 0.0);
    }
    assert_eq!(d.first.int("gen_ai.usage.output_tokens"), 18);
    assert_eq!(d.first.int("gen_ai.usage.cache_read.input_tokens"), 128);
    assert!(d
        .first
        .attr("gen_ai.response.time_to_first_chunk")
        .is_none());
    let ttfc = d.streamed.float("gen_ai.response.time_to_first_chunk");
    assert!(
        (0.03..5.0).contains(&ttfc),
        "the mock waits 40 ms before its first chunk: {ttfc}"
    );
    assert_eq!(d.streamed.int("gen_ai.usage.cache_read.input_tokens"), 256);

    // The agent span's totals are the sum of its LLM calls, as the caller was told.
    let input =
        d.first.int("gen_ai.usage.input_tokens") + d.streamed.int("gen_ai.usage.input_tokens");
    let output =
        d.first.int("gen_ai.usage.output_tokens") + d.streamed.int("gen_ai.usage.output_tokens");
    assert_eq!(d.agent.int("gen_ai.usage.input_tokens"), input);
    assert_eq!(d.agent.int("gen_ai.usage.output_tokens"), output);
    assert_eq!(input as u64, answer.input_tokens);
    assert_eq!(d.agent.int("aitrace.run.llm_calls"), 2);
    assert_eq!(d.agent.int("aitrace.run.tool_calls"), 1);
    let cost = d.first.float("gen_ai.usage.cost") + d.streamed.float("gen_ai.usage.cost");
    assert!((d.agent.float("gen_ai.usage.cost") - cost).abs() < 1e-12);
    assert_eq!(d.tool.str("gen_ai.tool.name"), "get_weather");
    assert_eq!(d.tool.str("gen_ai.tool.call.id"), "call_weather_1");
    assert_eq!(d.downstream.str("http.route"), "/weather/{city}");
    assert_eq!(d.server.str("http.route"), "/ask");
    assert_eq!(d.server.int("http.response.status_code"), 200);
}

/// No span carries content attributes.
pub fn assert_no_content(spans: &[Span]) {
    for s in spans {
        for key in [
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.system_instructions",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
        ] {
            assert!(
                s.attr(key).is_none(),
                "{key} on {} with capture off",
                s.name
            );
        }
    }
}

/// A project name unique to this run.
pub fn project(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("aitrace-e2e-{name}-{nanos}")
}
