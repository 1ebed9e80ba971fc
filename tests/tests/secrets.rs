//! No planted secret leaves the process in telemetry.
//!
//! A demo-like agent service (server layer, agent run, LLM calls through the GenAI and
//! HTTP client middleware, tools through the tool layer calling the demo's traced
//! weather service) is driven with API keys and tokens planted in request headers
//! (`Authorization`, `x-api-key`, `Cookie`), URLs (userinfo and query), query strings,
//! prompts, tool arguments and results, and error messages (a tool error, a provider's
//! 401 body echoing the key, a connection error naming the URL). It runs with content
//! capture on and off, exporting to the local trace file and to a local OTLP/HTTP
//! receiver; then every exported byte (the trace and metric files; every OTLP body,
//! raw and decoded to JSON) is scanned for the secrets: none may be found. With
//! capture on, the non-secret content must be there (so the test fails if capture
//! silently does nothing); with capture off, it must not.
//!
//! Planted too (issue 17): a bare key (no provider prefix) in the `?key=` of a URL whose
//! call fails (an LLM call refused at connect, a tool's `error_for_status()` on a 404,
//! failing its agent run), secret query parameters beyond the default list in
//! `url.full`, a captured `Referer` with `access_token=`, camelCase secret names in a
//! tool result, secrets inside doubly encoded JSON (a tool message holding a JSON string
//! holding JSON, with an escaped `\n` before a key), a bare JWT in a prompt and in a
//! tool error, and a key straddling the 256th character of a provider's non-JSON error
//! body.
//!
//! The secrets have the shapes the redactor knows (provider key prefixes, `Bearer`
//! tokens, AWS key ids, secret JSON keys, secret query parameters, URL userinfo):
//! free text that looks like nothing cannot be told from a secret by any redactor.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aitrace::core::content::{CaptureMode, ContentPolicy};
use aitrace::http::{ClientConfig, ClientMiddleware, ServerLayer, UrlTemplate};
use aitrace::llm::{GenAiConfig, GenAiMiddleware};
use aitrace::tool::agent::{self, AgentInfo};
use aitrace::tool::tool::{ToolInvocation, ToolLayer};
use aitrace::{Exporter, Protocol, Telemetry};
use aitrace_examples::demo;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use common::receiver::Receiver;
use prost::Message;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{json, Value};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceBuilder, ServiceExt};

const OPENAI_KEY: &str = "sk-proj-PLANTEDopenaiKEY0123456789abcdefXYZ";
const ANTHROPIC_KEY: &str = "sk-ant-api03-PLANTEDanthropicKEY0123456789";
const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.PLANTEDjwtPAYLOAD.c2lnMDEyMzQ1Njc4OQ";
const URL_PASSWORD: &str = "PLANTEDurlPASSWORD42";
const QUERY_KEY: &str = "PLANTEDqueryKEY77";
const AWS_KEY: &str = "AKIAPLANTEDKEY123456";
const GITHUB_TOKEN: &str = "ghp_PLANTEDgithubTOKEN0123456789ab";
const PASSWORD: &str = "PLANTEDpasswordVALUE";
const COOKIE: &str = "PLANTEDsessionCOOKIE";
const ERROR_KEY: &str = "sk-proj-PLANTEDerrorKEYabcdefghijklmnop";
/// A key with no provider prefix, only ever in a `?key=` query parameter.
const BARE_KEY: &str = "PLANTEDbareURLkey0042";
/// Secret query parameters beyond the default list, with their planted values.
const SECRET_PARAMS: &[(&str, &str)] = &[
    ("api_token", "PLANTEDparamApiToken1"),
    ("appid", "PLANTEDparamAppId22"),
    ("access_key", "PLANTEDparamAccessKey3"),
    ("subscription-key", "PLANTEDparamSubKey444"),
    ("private_token", "PLANTEDparamPrivTok55"),
    ("openai_api_key", "PLANTEDparamOpenAi666"),
];
const REFERER_TOKEN: &str = "PLANTEDrefererTOKEN9";
/// Values under camelCase secret names in a tool result.
const CAMEL_SECRET: &str = "PLANTEDcamelSECRET01";
/// Inside a JSON string holding JSON, in the `tool` message sent back to the model.
const NESTED_SECRET: &str = "PLANTEDnestedSECRET02";
/// After an escaped `\n` in that nested JSON.
const ESCAPED_SECRET: &str = "PLANTEDescapedSECRET3";
/// A JWT with no `Bearer` before it.
const BARE_JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.PLANTEDbareJWTsignature";
/// Straddles the 256th character of a non-JSON error body.
const STRADDLE_KEY: &str = "sk-proj-PLANTEDstraddleKEY0123456789";

/// Every secret, and the forms they travel in (the userinfo password as base64 in
/// the `Basic` header reqwest makes from it).
fn secrets() -> Vec<String> {
    let mut all: Vec<String> = [
        OPENAI_KEY,
        ANTHROPIC_KEY,
        JWT,
        URL_PASSWORD,
        QUERY_KEY,
        AWS_KEY,
        GITHUB_TOKEN,
        PASSWORD,
        COOKIE,
        ERROR_KEY,
        BARE_KEY,
        REFERER_TOKEN,
        CAMEL_SECRET,
        NESTED_SECRET,
        ESCAPED_SECRET,
        BARE_JWT,
        STRADDLE_KEY,
    ]
    .iter()
    .chain(SECRET_PARAMS.iter().map(|(_, v)| v))
    .map(|s| (*s).to_owned())
    .collect();
    // What a cut before redaction leaves of the straddling key.
    all.push("sk-proj-PLANT".to_owned());
    // The distinctive middle of each, so a partial leak is caught too.
    for s in all.clone() {
        if let Some(i) = s.find("PLANTED") {
            all.push(s[i..(i + 16).min(s.len())].to_owned());
        }
    }
    all.push(base64(&format!("agent:{URL_PASSWORD}")));
    all
}

fn base64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The query string of every secret parameter.
fn secret_query() -> String {
    SECRET_PARAMS
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A non-JSON error body whose key starts 13 characters before the 256th character.
fn straddling_body() -> String {
    format!(
        "upstream failure: {} {STRADDLE_KEY} (retry later)",
        "x".repeat(224)
    )
}

/// A provider that rejects the key, echoing it as providers do; and a gateway that
/// fails with a plain-text body quoting a key.
async fn start_rejecting_llm() -> SocketAddr {
    assert_eq!(straddling_body().find(STRADDLE_KEY), Some(243));
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(|| async {
                (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"error": {
                        "message": format!("Incorrect API key provided: {ERROR_KEY}. You can find your API key at https://example.invalid/keys."),
                        "type": "invalid_request_error", "code": "invalid_api_key"}})),
                )
            }),
        )
        .route(
            "/gateway/v1/chat/completions",
            post(|| async { (StatusCode::BAD_GATEWAY, straddling_body()) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

struct Agent {
    llm: ClientWithMiddleware,
    llm_url: String,
    rejecting_url: String,
    gateway_url: String,
    dead_url: String,
    bare_dead_url: String,
    tools: BoxCloneSyncService<ToolInvocation, Value, BoxError>,
}

fn client_config() -> ClientConfig {
    // Asked to record credentials too: they must still be left out.
    ClientConfig::new().capture_request_headers([
        "authorization",
        "x-api-key",
        "x-request-id",
        "referer",
    ])
}

async fn start_agent(content: ContentPolicy) -> SocketAddr {
    let llm = demo::llm::start().await.unwrap();
    let weather = demo::weather::start().await.unwrap();
    let rejecting = start_rejecting_llm().await;
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(GenAiMiddleware::new(
            GenAiConfig::default().with_content(content.clone()),
        ))
        .with(ClientMiddleware::with_config(client_config()))
        .build();
    let http = ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::with_config(client_config()))
        .build();
    let tools = ServiceBuilder::new()
        .layer(ToolLayer::new().with_content(content))
        .service_fn(move |call: ToolInvocation| {
            let http = http.clone();
            async move {
                if call.name == "deploy" {
                    return Err::<Value, BoxError>(
                        format!("deploy failed: upstream rejected Bearer {JWT} (key {ERROR_KEY}, session {BARE_JWT})")
                            .into(),
                    );
                }
                if call.name == "fetch_report" {
                    // Fails: the weather service has no such page.
                    http.get(format!("http://{weather}/reports/latest?key={BARE_KEY}&units=metric"))
                        .send()
                        .await?
                        .error_for_status()?;
                    return Ok(json!("unreachable"));
                }
                let city = call.arguments["city"].as_str().unwrap_or("Paris").to_owned();
                let mut report: Value = http
                    .get(format!(
                        "http://agent:{URL_PASSWORD}@{weather}/weather/{city}?key={QUERY_KEY}&units=metric&{}",
                        secret_query()
                    ))
                    .with_extension(UrlTemplate::new("/weather/{city}"))
                    .bearer_auth(JWT)
                    .header("x-api-key", ANTHROPIC_KEY)
                    .header("x-request-id", "req-weather-1")
                    .header("referer", format!("https://app.example/cb?access_token={REFERER_TOKEN}&state=1"))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                report["note"] = json!(format!("fetched with token {GITHUB_TOKEN}"));
                report["credentials"] = json!({"password": PASSWORD, "api_key": OPENAI_KEY,
                    "accessToken": CAMEL_SECRET, "refreshToken": CAMEL_SECRET,
                    "clientSecret": CAMEL_SECRET, "privateKey": CAMEL_SECRET});
                Ok(report)
            }
        });
    let agent = Arc::new(Agent {
        llm: client,
        llm_url: format!(
            "http://agent:{URL_PASSWORD}@{llm}/v1/chat/completions?api_key={QUERY_KEY}"
        ),
        rejecting_url: format!("http://{rejecting}/v1/chat/completions?key={QUERY_KEY}"),
        gateway_url: format!("http://{rejecting}/gateway/v1/chat/completions"),
        bare_dead_url: format!(
            "http://{dead}/v1/chat/completions?key={BARE_KEY}&{}",
            secret_query()
        ),
        dead_url: format!(
            "http://agent:{URL_PASSWORD}@{dead}/v1/chat/completions?api_key={QUERY_KEY}"
        ),
        tools: BoxCloneSyncService::new(tools),
    });
    let app = Router::new()
        .route("/ask", post(ask))
        .with_state(agent)
        .layer(ServerLayer::new().capture_request_headers([
            "authorization",
            "cookie",
            "user-agent",
            "referer",
        ]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

async fn ask(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Json<Value>, (StatusCode, String)> {
    assert!(headers.contains_key("authorization"));
    let question = body["question"].as_str().unwrap_or_default().to_owned();
    let (result, _) =
        agent::run(AgentInfo::new("secret-agent"), run_agent(&agent, &question)).await;
    // An agent run that fails with its tool's error (a URL with `?key=` in it).
    let (failed, _) = agent::run(AgentInfo::new("failing-agent"), async {
        agent
            .tools
            .clone()
            .oneshot(ToolInvocation::new(
                "fetch_report",
                json!({"what": "latest"}),
            ))
            .await
    })
    .await;
    assert!(failed.is_err());
    result
        .map(Json)
        .map_err(|e| (StatusCode::BAD_GATEWAY, e.to_string()))
}

async fn run_agent(agent: &Agent, question: &str) -> Result<Value, BoxError> {
    let mut messages = vec![
        json!({"role": "system", "content": format!("You are a weather assistant. Internal key: {OPENAI_KEY}")}),
        json!({"role": "user", "content": question}),
    ];
    let first: Value = agent
        .llm
        .post(&agent.llm_url)
        .bearer_auth(OPENAI_KEY)
        .header("x-api-key", ANTHROPIC_KEY)
        .header("x-request-id", "req-llm-1")
        .json(&json!({"model": demo::llm::MODEL, "messages": messages}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let message = first["choices"][0]["message"].clone();
    let call = message["tool_calls"][0].clone();
    let report = agent
        .tools
        .clone()
        .oneshot(
            ToolInvocation::new(
                "get_weather",
                json!({"city": "Tokyo", "password": PASSWORD, "aws": format!("use {AWS_KEY}"),
                       "auth": format!("Bearer {JWT}")}),
            )
            .with_call_id("call_weather_1"),
        )
        .await?;
    // A tool that fails with the secrets in its error.
    let failed = agent
        .tools
        .clone()
        .oneshot(ToolInvocation::new(
            "deploy",
            json!({"token": GITHUB_TOKEN}),
        ))
        .await;
    assert!(failed.is_err());
    // A provider that rejects the key and echoes it.
    let rejected = agent
        .llm
        .post(&agent.rejecting_url)
        .bearer_auth(ERROR_KEY)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await?;
    assert_eq!(rejected.status(), 401);
    let _ = rejected.text().await?;
    // A connection error whose message names the URL with its credentials.
    let dead = agent
        .llm
        .post(&agent.dead_url)
        .json(&json!({"model": "gpt-4o-mini", "messages": []}))
        .send()
        .await;
    assert!(dead.is_err());
    // Refused at connect again, the key bare in `?key=`.
    let dead = agent
        .llm
        .post(&agent.bare_dead_url)
        .json(&json!({"model": "gpt-4o-mini", "messages": []}))
        .send()
        .await;
    assert!(dead.is_err());
    // A gateway failing with a plain-text body that quotes a key.
    let failed = agent
        .llm
        .post(&agent.gateway_url)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await?;
    assert_eq!(failed.status(), 502);
    let _ = failed.text().await?;

    messages.push(message);
    messages
        .push(json!({"role": "tool", "tool_call_id": call["id"], "content": report.to_string()}));
    // A tool result that is a JSON string holding JSON, as agents send results back,
    // with an escaped newline before a key in the innermost text.
    let inner = json!({"log": format!("step 1 ok\napi_key={ESCAPED_SECRET}"),
                       "auth": {"password": NESTED_SECRET}})
    .to_string();
    let nested = json!({"status": "ok", "result": inner}).to_string();
    messages.push(json!({"role": "tool", "tool_call_id": "call_nested", "content": nested}));
    let response = agent
        .llm
        .post(&agent.llm_url)
        .bearer_auth(OPENAI_KEY)
        .json(
            &json!({"model": demo::llm::MODEL, "messages": messages, "stream": true,
                      "stream_options": {"include_usage": true}}),
        )
        .send()
        .await?
        .error_for_status()?;
    let text = demo::agent::streamed_answer(response).await?;
    Ok(json!({ "answer": text }))
}

/// Runs the scenario once; returns the answer.
async fn scenario(content: ContentPolicy) -> String {
    let agent = start_agent(content).await;
    let question = format!(
        "What is the weather in Tokyo? My key is {OPENAI_KEY}, my token is Bearer {JWT}, password={PASSWORD}, session {BARE_JWT}"
    );
    let response = reqwest::Client::new()
        .post(format!("http://{agent}/ask?token={QUERY_KEY}&lang=en"))
        .bearer_auth(JWT)
        .header("x-api-key", OPENAI_KEY)
        .header("cookie", format!("session={COOKIE}"))
        .json(&json!({"question": question}))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("the agent answers");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let answer = answer["answer"].as_str().unwrap_or_default().to_owned();
    assert!(answer.contains("clear in Tokyo"), "{answer}");
    answer
}

/// Every exported byte of one run, as text: the raw bytes and their decoded forms.
struct Exported {
    texts: Vec<(String, String)>,
    bytes: usize,
}

impl Exported {
    fn find(&self, needle: &str) -> Vec<&str> {
        self.texts
            .iter()
            .filter(|(_, t)| t.contains(needle))
            .map(|(w, _)| w.as_str())
            .collect()
    }
}

fn read_dir_files(dir: &Path) -> Exported {
    let mut texts = Vec::new();
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let raw = std::fs::read(&path).unwrap();
        bytes += raw.len();
        texts.push((
            path.display().to_string(),
            String::from_utf8_lossy(&raw).into_owned(),
        ));
        // Decoded: each line is OTLP/JSON; its string values unescaped.
        for line in String::from_utf8_lossy(&raw).lines() {
            if let Ok(v) = serde_json::from_str::<Value>(line) {
                texts.push((format!("{} (decoded)", path.display()), strings_of(&v)));
            }
        }
    }
    Exported { texts, bytes }
}

fn strings_of(v: &Value) -> String {
    let mut out = String::new();
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                out.push_str(k);
                out.push('\n');
                walk(v, out);
            }),
            other => {
                out.push_str(&other.to_string());
                out.push('\n');
            }
        }
    }
    walk(v, &mut out);
    out
}

fn read_receiver(receiver: &Receiver) -> Exported {
    let mut texts = Vec::new();
    let mut bytes = 0;
    for body in receiver.received.all_bodies.lock().unwrap().iter() {
        bytes += body.len();
        texts.push((
            "OTLP body (raw)".to_owned(),
            String::from_utf8_lossy(body).into_owned(),
        ));
        if let Ok(req) =
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
                body.clone(),
            )
        {
            let json = serde_json::to_value(&req).unwrap();
            texts.push(("OTLP traces (decoded)".to_owned(), strings_of(&json)));
        }
        if let Ok(req) =
            opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest::decode(
                body.clone(),
            )
        {
            let json = serde_json::to_value(&req).unwrap();
            texts.push(("OTLP metrics (decoded)".to_owned(), strings_of(&json)));
        }
    }
    Exported { texts, bytes }
}

/// The spans the scenario makes, by name, all must be exported.
const EXPECTED_SPANS: &[&str] = &[
    "POST /ask",
    "invoke_agent secret-agent",
    "chat gpt-4o-mini",
    "execute_tool get_weather",
    "execute_tool deploy",
    "execute_tool fetch_report",
    "invoke_agent failing-agent",
    "GET /weather/{city}",
];

fn check(what: &str, exported: &Exported, capture: bool) -> usize {
    assert!(exported.bytes > 0, "{what}: nothing exported");
    for name in EXPECTED_SPANS {
        assert!(
            !exported.find(name).is_empty(),
            "{what}: no span `{name}` exported"
        );
    }
    let mut found = 0;
    for secret in secrets() {
        let places = exported.find(&secret);
        if !places.is_empty() {
            found += 1;
            eprintln!("{what}: secret {secret:?} found in {places:?}");
        }
    }
    // Capture must not silently do nothing: with it on, the prompt, the tool's
    // arguments and result and the answer are there (redacted); with it off, not.
    let content = [
        "What is the weather in Tokyo?",
        "\"city\":\"Tokyo\"",
        "\"celsius\":17",
        "clear in Tokyo",
    ];
    for c in content {
        let present = !exported.find(c).is_empty();
        assert_eq!(
            present, capture,
            "{what}: content {c:?} present = {present}"
        );
    }
    // URLs and error messages are redacted whether content is captured or not.
    assert!(
        !exported.find("REDACTED").is_empty(),
        "{what}: nothing redacted?"
    );
    println!(
        "{what}: {} bytes exported, {} planted secrets (and forms) scanned, {found} found",
        exported.bytes,
        secrets().len()
    );
    found
}

fn policy(capture: bool) -> ContentPolicy {
    ContentPolicy::default().with_mode(if capture {
        CaptureMode::SpanAndEvent
    } else {
        CaptureMode::NoContent
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_planted_secret_is_exported() {
    // Layers need a subscriber or this switch to emit; our own pipelines export.
    aitrace::core::emit::set_enabled_without_subscriber(true);
    let base = std::env::temp_dir().join(format!("aitrace-secrets-{}", std::process::id()));
    let mut total_found = 0;
    for capture in [true, false] {
        // (a) the local trace file (and metrics file).
        let dir = base.join(if capture { "on" } else { "off" });
        let _ = std::fs::remove_dir_all(&dir);
        let guard = Telemetry::builder()
            .service_name("secrets")
            .exporter(Exporter::File { dir: dir.clone() })
            .install_subscriber(false)
            .print_tree(false)
            .init()
            .expect("telemetry setup");
        scenario(policy(capture)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        guard.shutdown();
        let what = format!("trace file, capture {}", if capture { "on" } else { "off" });
        total_found += check(&what, &read_dir_files(&dir), capture);

        // (b) a local OTLP/HTTP receiver (traces and metrics).
        let receiver = Receiver::start().await;
        let guard = Telemetry::builder()
            .service_name("secrets")
            .exporter(Exporter::Otlp {
                endpoint: Some(receiver.endpoint()),
                protocol: Protocol::HttpProtobuf,
            })
            .install_subscriber(false)
            .init()
            .expect("telemetry setup");
        scenario(policy(capture)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        guard.shutdown();
        let what = format!("OTLP/HTTP, capture {}", if capture { "on" } else { "off" });
        assert_eq!(
            receiver
                .received
                .undecodable
                .load(std::sync::atomic::Ordering::SeqCst),
            0
        );
        total_found += check(&what, &read_receiver(&receiver), capture);
    }
    let _ = std::fs::remove_dir_all(&base);
    assert_eq!(total_found, 0, "planted secrets were exported (see above)");
}
