//! The collector misbehaves; the application does not notice.
//!
//! An in-process agent (an `invoke_agent` run with an LLM call through
//! `GenAiMiddleware` + `ClientMiddleware` to the demo's LLM server, and a tool call
//! through `ToolLayer` whose HTTP call reaches the demo's traced weather service: 6
//! spans a call) runs while the OTLP endpoint, over gRPC and over HTTP, is
//! unreachable (a closed port), black-holed (accepts, never answers), slow (answers
//! after a delay) or restarted mid-run (a local receiver stopped and started again on
//! its port). Each test checks:
//! - every call succeeds, and its latency stays within a small bound of the same calls
//!   with export off (span end never waits on export);
//! - the export queue never holds more than its capacity;
//! - lost spans are counted and readable (`TelemetryGuard::export_stats`), every span
//!   is accounted for (exported + dropped + still queued = made), and the loss is
//!   logged once, not per span;
//! - after the collector comes back, new spans arrive;
//! - shutdown with a dead collector returns within the configured bound.
//!
//! Figures are printed (`cargo test -p aitrace-e2e --test collector_faults --
//! --nocapture`).

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aitrace::http::ClientMiddleware;
use aitrace::llm::{GenAiConfig, GenAiMiddleware};
use aitrace::tool::agent::{self, AgentInfo};
use aitrace::tool::tool::ToolInvocation;
use aitrace::{ExportStats, Exporter, Protocol, Telemetry, TelemetryGuard};
use aitrace_examples::demo;
use common::receiver::{closed_port, BlackHole, Receiver};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{json, Value};
use tower::{BoxError, ServiceExt};

/// Spans one application call makes.
const SPANS_PER_CALL: usize = 6;
/// The export queue's capacity in these tests (small, so faults fill it).
const QUEUE: usize = 64;
const EXPORT_TIMEOUT: Duration = Duration::from_millis(1000);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(1500);

/// The tests share the global tracer provider: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Log lines of `aitrace::export`, captured.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let buffer = Arc::clone(&buffer);
            move || LogWriter(Arc::clone(&buffer))
        };
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(false)
                    .with_filter(tracing_subscriber::EnvFilter::new("aitrace::export=info")),
            )
            .init();
        buffer
    })
}

use tracing_subscriber::Layer as _;

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_count(needle: &str) -> usize {
    let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    text.matches(needle).count()
}

/// The application: an agent with one LLM call and one tool call.
struct App {
    llm: ClientWithMiddleware,
    llm_url: String,
    tools: demo::agent::Tools,
}

impl App {
    async fn start() -> App {
        let llm: SocketAddr = demo::llm::start().await.expect("LLM server");
        let weather: SocketAddr = demo::weather::start().await.expect("weather server");
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(GenAiMiddleware::new(GenAiConfig::default()))
            .with(ClientMiddleware::new())
            .build();
        // The demo's own tool executor (ToolLayer, then the traced HTTP client).
        let tools = demo::agent::weather_tools(&format!("http://{weather}"), Default::default());
        App {
            llm: client,
            llm_url: format!("http://{llm}/v1/chat/completions"),
            tools,
        }
    }

    /// One agent run; returns what the caller got.
    async fn call(&self) -> Result<Value, BoxError> {
        let (result, _totals) = agent::try_run(AgentInfo::new("fault-agent"), async {
            let first: Value = self
                .llm
                .post(&self.llm_url)
                .json(&json!({"model": demo::llm::MODEL,
                    "messages": [{"role": "user", "content": "weather in Tokyo?"}]}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let report = self
                .tools
                .clone()
                .oneshot(ToolInvocation::new("get_weather", json!({"city": "Tokyo"})))
                .await?;
            Ok::<Value, BoxError>(json!({"first": first, "report": report}))
        })
        .await;
        result
    }

    /// `n` calls one after another: every one must succeed with the right answer.
    /// Returns the latencies, and checks the queue bound after each call.
    async fn run(&self, n: usize, guard: &TelemetryGuard) -> Vec<Duration> {
        let mut latencies = Vec::with_capacity(n);
        for i in 0..n {
            let start = Instant::now();
            let out = tokio::time::timeout(Duration::from_secs(10), self.call())
                .await
                .unwrap_or_else(|_| panic!("call {i} hung"))
                .unwrap_or_else(|e| panic!("call {i} failed: {e}"));
            latencies.push(start.elapsed());
            assert_eq!(out["report"]["celsius"], 17, "call {i} got {out}");
            assert_eq!(out["first"]["id"], "chatcmpl-demo-1");
            if let Some(stats) = guard.export_stats() {
                assert!(
                    stats.queued <= stats.max_queue_size,
                    "queue over its bound: {stats:?}"
                );
            }
        }
        latencies
    }
}

#[derive(Debug, Clone, Copy)]
struct Latency {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn latency(samples: &[Duration]) -> Latency {
    let mut s = samples.to_vec();
    s.sort();
    let at = |q: f64| s[((s.len() as f64 - 1.0) * q).round() as usize];
    Latency {
        p50: at(0.5),
        p99: at(0.99),
        max: s[s.len() - 1],
    }
}

/// Added latency allowed over the same calls with export off: span end never waits on
/// export, so what is left is scheduling noise on a 2-core machine.
const ADDED_P50: Duration = Duration::from_millis(5);
const ADDED_P99: Duration = Duration::from_millis(40);

fn check_latency(what: &str, baseline: &[Duration], faulty: &[Duration]) {
    let (b, f) = (latency(baseline), latency(faulty));
    println!(
        "{what}: {} calls; export off p50 {:?} p99 {:?} max {:?}; with the fault p50 {:?} p99 {:?} max {:?}",
        faulty.len(),
        b.p50,
        b.p99,
        b.max,
        f.p50,
        f.p99,
        f.max
    );
    assert!(
        f.p50 <= b.p50 + ADDED_P50,
        "{what}: median added latency {:?} over {:?}",
        f.p50.saturating_sub(b.p50),
        ADDED_P50
    );
    assert!(
        f.p99 <= b.p99 + ADDED_P99,
        "{what}: p99 added latency {:?} over {:?}",
        f.p99.saturating_sub(b.p99),
        ADDED_P99
    );
}

fn telemetry(endpoint: String, protocol: Protocol) -> TelemetryGuard {
    logs();
    logs().lock().unwrap().clear();
    Telemetry::builder()
        .service_name("collector-faults")
        .exporter(Exporter::Otlp {
            endpoint: Some(endpoint),
            protocol,
        })
        .install_subscriber(false)
        .metrics(false)
        .max_queue_size(QUEUE)
        .scheduled_delay(Duration::from_millis(100))
        .export_timeout(EXPORT_TIMEOUT)
        .shutdown_timeout(SHUTDOWN_TIMEOUT)
        .init()
        .expect("telemetry setup")
}

/// The same calls with spans made but not exported.
async fn baseline(app: &App, n: usize) -> Vec<Duration> {
    logs();
    let guard = Telemetry::builder()
        .exporter(Exporter::None)
        .install_subscriber(false)
        .metrics(false)
        .init()
        .expect("telemetry setup");
    // Warm up connections and code paths.
    app.run(5, &guard).await;
    let latencies = app.run(n, &guard).await;
    guard.shutdown();
    latencies
}

/// Shuts down, returning how long it took and the final counts.
fn shutdown(guard: TelemetryGuard) -> (Duration, ExportStats) {
    let monitor = guard.export_monitor().expect("telemetry on");
    let start = Instant::now();
    guard.shutdown();
    (start.elapsed(), monitor.stats())
}

const CALLS: usize = 150;

fn print_stats(what: &str, stats: &ExportStats, shutdown: Duration) {
    println!(
        "{what}: exported {} | dropped {} (queue full {}, export failed {}) | queued {} of {} | failed batches {} | shutdown {:?}",
        stats.exported,
        stats.dropped(),
        stats.dropped_queue_full,
        stats.dropped_export_failed,
        stats.queued,
        stats.max_queue_size,
        stats.failed_exports,
        shutdown
    );
}

/// Every span made is exported, dropped (and counted) or still queued; a batch still
/// being sent to a dead collector when shutdown gave up is the only other place a span
/// can be (at most one batch, the queue's size here).
fn check_accounting(what: &str, stats: &ExportStats, made: usize, in_flight_allowed: bool) {
    let accounted = stats.exported + stats.dropped() + stats.queued as u64;
    if in_flight_allowed {
        assert!(
            accounted <= made as u64 && made as u64 - accounted <= QUEUE as u64,
            "{what}: {made} spans made, {accounted} accounted for: {stats:?}"
        );
    } else {
        assert_eq!(accounted, made as u64, "{what}: {stats:?}");
    }
}

async fn unreachable(protocol: Protocol) {
    let _serial = SERIAL.lock().await;
    let app = App::start().await;
    let base = baseline(&app, CALLS).await;
    let guard = telemetry(closed_port().await, protocol);
    let latencies = app.run(CALLS, &guard).await;
    let what = format!("{protocol:?} unreachable");
    check_latency(&what, &base, &latencies);
    let (took, stats) = shutdown(guard);
    print_stats(&what, &stats, took);
    assert_eq!(stats.exported, 0);
    assert!(stats.dropped_export_failed > 0, "{stats:?}");
    // The exporter retries a refused connection until its timeout, so the last
    // batch may still be in flight when shutdown stops waiting.
    check_accounting(&what, &stats, CALLS * SPANS_PER_CALL, true);
    assert!(
        took < SHUTDOWN_TIMEOUT + Duration::from_millis(500),
        "{what}: shutdown took {took:?}"
    );
    assert_eq!(log_count("span export failed"), 1, "logged once per outage");
    assert!(log_count("export queue is full") <= 1);
    assert_eq!(log_count("spans were lost during this run"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_unreachable_collector() {
    unreachable(Protocol::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_unreachable_collector() {
    unreachable(Protocol::HttpProtobuf).await;
}

async fn black_hole(protocol: Protocol) {
    let _serial = SERIAL.lock().await;
    let app = App::start().await;
    let base = baseline(&app, CALLS).await;
    let hole = BlackHole::start().await;
    let guard = telemetry(hole.endpoint(), protocol);
    let latencies = app.run(CALLS, &guard).await;
    let what = format!("{protocol:?} black hole");
    check_latency(&what, &base, &latencies);
    let during = guard.export_stats().expect("on");
    // The exporter is stuck on the first batch: the queue filled and then dropped.
    assert!(during.dropped_queue_full > 0, "{during:?}");
    assert_eq!(
        log_count("export queue is full"),
        1,
        "logged once, not per span"
    );
    let (took, stats) = shutdown(guard);
    print_stats(&what, &stats, took);
    println!(
        "{what}: the black hole holds {} connection(s), {} bytes, never answered",
        hole.connections.load(std::sync::atomic::Ordering::SeqCst),
        hole.bytes.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert!(hole.connections.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert_eq!(stats.exported, 0);
    check_accounting(&what, &stats, CALLS * SPANS_PER_CALL, true);
    assert!(
        took < SHUTDOWN_TIMEOUT + Duration::from_millis(500),
        "{what}: shutdown took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_black_holed_collector() {
    black_hole(Protocol::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_black_holed_collector() {
    black_hole(Protocol::HttpProtobuf).await;
}

async fn slow(protocol: Protocol) {
    let _serial = SERIAL.lock().await;
    let app = App::start().await;
    let base = baseline(&app, CALLS).await;
    let receiver = Receiver::start().await;
    receiver
        .received
        .delay_ms
        .store(300, std::sync::atomic::Ordering::SeqCst);
    let guard = telemetry(receiver.endpoint(), protocol);
    let latencies = app.run(CALLS, &guard).await;
    let what = format!("{protocol:?} slow (answers after 300 ms)");
    check_latency(&what, &base, &latencies);
    guard.flush();
    let (took, stats) = shutdown(guard);
    print_stats(&what, &stats, took);
    // What the collector got is exactly what was counted as exported; the rest was
    // dropped at the full queue and counted.
    assert_eq!(stats.exported as usize, receiver.spans(), "{stats:?}");
    assert!(stats.exported > 0);
    assert!(stats.dropped_queue_full > 0, "{stats:?}");
    check_accounting(&what, &stats, CALLS * SPANS_PER_CALL, false);
    assert_eq!(log_count("export queue is full"), 1);
    assert_eq!(
        receiver
            .received
            .undecodable
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_slow_collector() {
    slow(Protocol::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_slow_collector() {
    slow(Protocol::HttpProtobuf).await;
}

/// Flushes until every one of `made` spans is exported or dropped (spans of server
/// responses end just after the caller has its answer).
async fn settle(guard: &TelemetryGuard, made: usize) -> ExportStats {
    for _ in 0..50 {
        guard.flush();
        let stats = guard.export_stats().expect("on");
        if stats.exported + stats.dropped() >= made as u64 {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = guard.export_stats().expect("on");
    panic!("{made} spans made, not all accounted for: {stats:?}");
}

async fn restarted(protocol: Protocol) {
    let _serial = SERIAL.lock().await;
    let app = App::start().await;
    let base = baseline(&app, 50).await;
    let mut receiver = Receiver::start().await;
    let guard = telemetry(receiver.endpoint(), protocol);
    let what = format!("{protocol:?} restarted");

    // Up: every span arrives, or was dropped at the full queue (bursts of 5000
    // spans/s against a queue of 64) and counted.
    let mut latencies = app.run(50, &guard).await;
    let up = settle(&guard, 50 * SPANS_PER_CALL).await;
    assert_eq!(up.exported as usize, receiver.spans(), "{up:?}");
    assert!(up.exported > 0 && up.dropped_export_failed == 0, "{up:?}");

    // Down: calls go on; spans are lost and counted.
    receiver.stop();
    latencies.extend(app.run(50, &guard).await);
    guard.flush();
    let down = guard.export_stats().expect("on");
    assert!(down.dropped() > 0, "{down:?}");
    assert_eq!(log_count("span export failed"), 1);

    // Up again on the same port: new spans arrive.
    receiver.restart().await;
    let before = receiver.spans();
    let mut arrived = 0;
    for _ in 0..20 {
        latencies.extend(app.run(10, &guard).await);
        guard.flush();
        arrived = receiver.spans() - before;
        if arrived >= 10 * SPANS_PER_CALL {
            break;
        }
    }
    let names = receiver.received.span_names();
    assert!(
        arrived >= 10 * SPANS_PER_CALL,
        "{what}: {arrived} spans after the restart"
    );
    assert!(names.iter().any(|n| n == "invoke_agent fault-agent"));
    assert_eq!(
        log_count("span export works again"),
        1,
        "recovery logged once"
    );
    check_latency(&what, &base, &latencies);
    let made = latencies.len() * SPANS_PER_CALL;
    let (took, stats) = shutdown(guard);
    print_stats(&what, &stats, took);
    assert_eq!(stats.exported as usize, receiver.spans(), "{stats:?}");
    check_accounting(&what, &stats, made, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_collector_restarted_mid_run() {
    restarted(Protocol::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_collector_restarted_mid_run() {
    restarted(Protocol::HttpProtobuf).await;
}

/// With the defaults (5 s export timeout, 5 s shutdown bound) and a black hole,
/// shutdown still returns within its bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_defaults_and_a_black_hole_is_bounded() {
    let _serial = SERIAL.lock().await;
    logs();
    let app = App::start().await;
    let hole = BlackHole::start().await;
    let guard = Telemetry::builder()
        .exporter(Exporter::Otlp {
            endpoint: Some(hole.endpoint()),
            protocol: Protocol::Grpc,
        })
        .install_subscriber(false)
        .init()
        .expect("telemetry setup");
    app.run(20, &guard).await;
    let (took, stats) = shutdown(guard);
    print_stats("gRPC black hole, defaults, metrics on", &stats, took);
    assert_eq!(stats.exported, 0);
    assert!(
        took < Duration::from_millis(5_500),
        "shutdown took {took:?}"
    );
}
