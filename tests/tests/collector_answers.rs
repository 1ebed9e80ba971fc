//! What an OTLP/HTTP collector answers, and what the export statistics then say.
//!
//! A scripted collector (a local HTTP server decoding the real OTLP protobuf requests)
//! answers each export as the test says: `429` with `Retry-After` longer than the
//! export timeout, `200` with an HTML page (an endpoint that is not a collector), `200`
//! with a partial success. Each test checks what reached the collector, the times it
//! arrived, and `ExportStats`: exported only what the collector confirmed, nothing lost
//! to a throttle, and a shutdown that does not wait out the collector's quiet period.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aitrace::{ExportStats, Exporter, Protocol, Telemetry, TelemetryGuard};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry::trace::{Span as _, Tracer as _};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;

/// The tests share the global tracer provider: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const EXPORT_TIMEOUT: Duration = Duration::from_secs(1);
const SPANS: usize = 5;

/// One scripted answer.
#[derive(Clone)]
enum Reply {
    Throttle { retry_after: &'static str },
    Html,
    PartialSuccess { rejected: i64 },
}

/// An export the collector received.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    at: Instant,
    spans: usize,
}

#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    arrivals: Mutex<Vec<Arrival>>,
    /// Spans in exports the collector answered with an OTLP success (stored).
    stored: Mutex<usize>,
}

async fn export(State(script): State<Arc<Script>>, headers: HeaderMap, body: Bytes) -> Response {
    assert_eq!(
        headers.get(header::CONTENT_TYPE).unwrap(),
        "application/x-protobuf"
    );
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf request");
    let spans = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    script.arrivals.lock().unwrap().push(Arrival {
        at: Instant::now(),
        spans,
    });
    let reply = script.replies.lock().unwrap().pop_front();
    let protobuf = |response: ExportTraceServiceResponse| {
        (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            response.encode_to_vec(),
        )
            .into_response()
    };
    match reply {
        Some(Reply::Throttle { retry_after }) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after)],
            "slow down",
        )
            .into_response(),
        Some(Reply::Html) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><html><body>a web UI, not a collector</body></html>",
        )
            .into_response(),
        Some(Reply::PartialSuccess { rejected }) => {
            *script.stored.lock().unwrap() += spans - rejected as usize;
            protobuf(ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: "span too large".into(),
                }),
            })
        }
        None => {
            *script.stored.lock().unwrap() += spans;
            protobuf(ExportTraceServiceResponse::default())
        }
    }
}

struct Collector {
    addr: SocketAddr,
    script: Arc<Script>,
    server: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start(replies: &[Reply]) -> Collector {
        let script = Arc::new(Script::default());
        script
            .replies
            .lock()
            .unwrap()
            .extend(replies.iter().cloned());
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(export))
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Collector {
            addr,
            script,
            server,
        }
    }

    fn arrivals(&self) -> Vec<Arrival> {
        self.script.arrivals.lock().unwrap().clone()
    }

    fn stored(&self) -> usize {
        *self.script.stored.lock().unwrap()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn telemetry(collector: &Collector, shutdown_timeout: Duration) -> TelemetryGuard {
    Telemetry::builder()
        .service_name("collector-answers")
        .exporter(Exporter::Otlp {
            endpoint: Some(format!("http://{}", collector.addr)),
            protocol: Protocol::HttpProtobuf,
        })
        .install_subscriber(false)
        .metrics(false)
        .logs(false)
        .scheduled_delay(Duration::from_millis(100))
        .export_timeout(EXPORT_TIMEOUT)
        .shutdown_timeout(shutdown_timeout)
        .init()
        .expect("telemetry setup")
}

/// Ends `n` spans, all in one batch (they end before the first scheduled export).
fn make_spans(n: usize) {
    let tracer = opentelemetry::global::tracer("collector-answers");
    for i in 0..n {
        let mut span = tracer.start(format!("work {i}"));
        span.end();
    }
}

async fn wait_for_arrivals(collector: &Collector, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while collector.arrivals().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn stats_of(guard: &TelemetryGuard) -> ExportStats {
    guard.export_stats().expect("telemetry is on")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_longer_than_the_export_timeout_is_waited_out_and_nothing_is_lost() {
    let _serial = SERIAL.lock().await;
    let collector = Collector::start(&[Reply::Throttle { retry_after: "2" }]).await;
    let guard = telemetry(&collector, Duration::from_secs(10));
    make_spans(SPANS);
    wait_for_arrivals(&collector, 2, Duration::from_secs(8)).await;
    guard.flush();

    let arrivals = collector.arrivals();
    assert_eq!(
        arrivals.len(),
        2,
        "one throttled export, one accepted: {arrivals:?}"
    );
    assert_eq!(arrivals[0].spans, SPANS);
    assert_eq!(arrivals[1].spans, SPANS, "the same batch, sent again");
    let waited = arrivals[1].at - arrivals[0].at;
    println!("Retry-After: 2 with a 1 s export timeout: sent again after {waited:?}");
    assert!(
        waited >= Duration::from_millis(1950),
        "sent again after {waited:?}, before the 2 s the collector asked for"
    );
    assert_eq!(collector.stored(), SPANS);
    let stats = stats_of(&guard);
    assert_eq!(stats.exported, SPANS as u64, "{stats:?}");
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert_eq!(stats.throttled, 1, "{stats:?}");
    guard.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_out_the_collectors_quiet_period() {
    let _serial = SERIAL.lock().await;
    let collector = Collector::start(&[Reply::Throttle { retry_after: "30" }]).await;
    let shutdown_timeout = Duration::from_millis(1500);
    let guard = telemetry(&collector, shutdown_timeout);
    let monitor = guard.export_monitor().expect("telemetry is on");
    make_spans(SPANS);
    wait_for_arrivals(&collector, 1, Duration::from_secs(5)).await;
    // More spans during the quiet period: they wait in the queue, nothing is sent.
    make_spans(2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        collector.arrivals().len(),
        1,
        "nothing is sent while the collector asked to wait"
    );

    let start = Instant::now();
    guard.shutdown();
    let took = start.elapsed();
    println!("shutdown inside a 30 s quiet period took {took:?}");
    assert!(
        took < shutdown_timeout + Duration::from_millis(500),
        "shutdown took {took:?}"
    );
    let stats = monitor.stats();
    assert_eq!(stats.exported, 0, "{stats:?}");
    assert_eq!(stats.throttled, 1, "{stats:?}");
    assert_eq!(
        stats.dropped_export_failed + stats.queued as u64,
        SPANS as u64 + 2,
        "every span is counted as lost or still queued: {stats:?}"
    );
    assert_eq!(
        collector.arrivals().len(),
        1,
        "nothing was sent at shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_that_is_not_an_otlp_answer_counts_as_unconfirmed_not_exported() {
    let _serial = SERIAL.lock().await;
    let collector = Collector::start(&[Reply::Html]).await;
    let guard = telemetry(&collector, Duration::from_secs(5));
    make_spans(SPANS);
    wait_for_arrivals(&collector, 1, Duration::from_secs(5)).await;
    guard.flush();
    let stats = stats_of(&guard);
    assert_eq!(collector.arrivals().len(), 1);
    assert_eq!(
        stats.exported, 0,
        "an HTML page confirms nothing: {stats:?}"
    );
    assert_eq!(stats.unconfirmed, SPANS as u64, "{stats:?}");
    assert_eq!(stats.dropped(), 0, "{stats:?}");

    // The next export is answered by the collector: counted as exported again.
    make_spans(SPANS);
    wait_for_arrivals(&collector, 2, Duration::from_secs(5)).await;
    guard.flush();
    let stats = stats_of(&guard);
    assert_eq!(stats.exported, SPANS as u64, "{stats:?}");
    assert_eq!(stats.unconfirmed, SPANS as u64, "{stats:?}");
    guard.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_the_collector_rejects_are_counted_as_lost() {
    let _serial = SERIAL.lock().await;
    let collector = Collector::start(&[Reply::PartialSuccess { rejected: 2 }]).await;
    let guard = telemetry(&collector, Duration::from_secs(5));
    make_spans(SPANS);
    wait_for_arrivals(&collector, 1, Duration::from_secs(5)).await;
    guard.flush();
    let stats = stats_of(&guard);
    assert_eq!(collector.stored(), SPANS - 2);
    assert_eq!(stats.rejected, 2, "{stats:?}");
    assert_eq!(stats.exported, (SPANS - 2) as u64, "{stats:?}");
    assert_eq!(stats.dropped(), 2, "{stats:?}");
    guard.shutdown();
}
