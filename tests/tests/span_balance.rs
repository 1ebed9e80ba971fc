//! Every span a layer starts is ended, whatever happens to the call: cancelled (the
//! task aborted), timed out (a timeout around the call drops it), the inner service
//! panicking, or the response body dropped half-read.
//!
//! A span processor counting `on_start` and `on_end` is the global tracer provider;
//! each layer is driven through each path, and after each scenario started == ended
//! (and at least the expected number of spans started, so the check cannot pass
//! vacuously). The ended spans carry the outcome (`error.type` cancelled / panic /
//! timeout). The caller sees its own outcome unchanged: the panic, the timeout, the
//! abort.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aitrace::core::conventions::{Operation, Provider};
use aitrace::http::{ClientLayer, ClientMiddleware, ServerLayer};
use aitrace::llm::{
    GenAiConfig, GenAiHttpLayer, GenAiLayer, GenAiMiddleware, GenAiRequest, GenAiResponse,
    RequestInfo, ResponseInfo,
};
use aitrace::tool::agent::{self, AgentInfo};
use aitrace::tool::tool::{ToolInvocation, ToolLayer};
use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::{BodyExt, Full, StreamBody};
use opentelemetry::trace::Status;
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use serde_json::json;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

#[derive(Debug, Default)]
struct Counts {
    started: AtomicUsize,
    ended: AtomicUsize,
    spans: Mutex<Vec<SpanData>>,
}

#[derive(Debug)]
struct Counting(Arc<Counts>);

impl SpanProcessor for Counting {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {
        self.0.started.fetch_add(1, Ordering::SeqCst);
    }
    fn on_end(&self, span: SpanData) {
        self.0.ended.fetch_add(1, Ordering::SeqCst);
        self.0.spans.lock().unwrap().push(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// How the call goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The task running the call is aborted.
    Cancel,
    /// A timeout around the call drops it.
    Timeout,
    /// The inner service panics.
    Panic,
}

const FAULTS: [Fault; 3] = [Fault::Cancel, Fault::Timeout, Fault::Panic];

/// What the inner service does: panic at once, or take far too long.
async fn misbehave(fault: Fault) {
    if fault == Fault::Panic {
        panic!("inner service panicked");
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
}

type Call = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `call` and makes it go wrong as `fault` says; checks the caller saw that.
async fn drive(fault: Fault, call: Call) {
    let task = tokio::spawn(call);
    match fault {
        Fault::Cancel => {
            tokio::time::sleep(Duration::from_millis(30)).await;
            task.abort();
            let e = task.await.expect_err("aborted");
            assert!(e.is_cancelled());
        }
        Fault::Timeout => {
            // The timeout is inside the task, around the call (see `timed`).
            task.await.expect("the timeout fired and the task ended");
        }
        Fault::Panic => {
            let e = task.await.expect_err("the panic reaches the caller");
            assert!(e.is_panic(), "{e}");
        }
    }
}

/// Wraps a call in a 30 ms timeout when the fault is a timeout.
fn timed<F: Future + Send + 'static>(fault: Fault, f: F) -> Call {
    Box::pin(async move {
        if fault == Fault::Timeout {
            assert!(tokio::time::timeout(Duration::from_millis(30), f)
                .await
                .is_err());
        } else {
            f.await;
        }
    })
}

struct Tally {
    counts: Arc<Counts>,
    rows: Vec<(String, usize, usize)>,
}

impl Tally {
    /// Runs one scenario and checks its spans: at least `min` started, all ended.
    async fn scenario(&mut self, name: &str, min: usize, run: impl Future<Output = ()>) {
        self.scenario_with(name, min, true, run).await;
    }

    async fn scenario_with(
        &mut self,
        name: &str,
        min: usize,
        expect_failure: bool,
        run: impl Future<Output = ()>,
    ) {
        let (s0, e0) = (
            self.counts.started.load(Ordering::SeqCst),
            self.counts.ended.load(Ordering::SeqCst),
        );
        let seen0 = self.counts.spans.lock().unwrap().len();
        run.await;
        // Spans end on drop, which for an aborted task happens on its worker: wait a
        // little (bounded) for the counts to settle.
        let mut started = 0;
        let mut ended = 0;
        for _ in 0..200 {
            started = self.counts.started.load(Ordering::SeqCst) - s0;
            ended = self.counts.ended.load(Ordering::SeqCst) - e0;
            if started == ended && started >= min {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        println!("{name:<52} started {started:>2}  ended {ended:>2}");
        assert!(
            started >= min,
            "{name}: {started} spans started, expected {min}"
        );
        assert_eq!(started, ended, "{name}: a span was left open");
        // The spans the scenario ended say the call failed.
        let spans = self.counts.spans.lock().unwrap()[seen0..].to_vec();
        let failed = spans
            .iter()
            .filter(|s| matches!(s.status, Status::Error { .. }))
            .count();
        if expect_failure {
            assert!(
                failed >= 1,
                "{name}: no span records the failure: {spans:#?}"
            );
        }
        self.rows.push((name.to_owned(), started, ended));
    }
}

// --- the generic GenAI layer --------------------------------------------------------

struct Ask;
impl GenAiRequest for Ask {
    fn gen_ai_request(&self) -> RequestInfo {
        RequestInfo::new(
            Provider::OpenAi,
            Operation::Chat,
            Some("gpt-4o-mini".into()),
        )
    }
}
struct Answer;
impl GenAiResponse for Answer {
    fn gen_ai_response(&self) -> ResponseInfo {
        ResponseInfo::default()
    }
}

/// A service whose `call` itself panics (before any future exists).
#[derive(Clone)]
struct PanicsInCall;
impl Service<Ask> for PanicsInCall {
    type Response = Answer;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Answer, Infallible>>;
    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, _req: Ask) -> Self::Future {
        panic!("call panicked");
    }
}

// --- reqwest middleware ----------------------------------------------------------------

/// A middleware after ours that panics.
struct Panicky;
#[async_trait::async_trait]
impl Middleware for Panicky {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        if req.headers().contains_key("x-panic") {
            panic!("a later middleware panicked");
        }
        next.run(req, extensions).await
    }
}

/// A provider that answers slowly, or streams one chunk and then stalls.
async fn slow_server() -> SocketAddr {
    use axum::routing::post;
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            post(|body: Bytes| async move {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                if v["stream"] == true {
                    let chunks = futures_util::stream::iter(vec![Ok::<_, Infallible>(Bytes::from(
                        "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
                    ))])
                    .chain(futures_util::stream::pending());
                    return axum::response::Response::builder()
                        .header("content-type", "text/event-stream")
                        .body(axum::body::Body::from_stream(chunks))
                        .unwrap();
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
                axum::response::Response::new(axum::body::Body::from("{}"))
            }),
        )
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn llm_client() -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(GenAiMiddleware::new(GenAiConfig::default()))
        .with(ClientMiddleware::new())
        .with(Panicky)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_started_span_is_ended() {
    let counts = Arc::new(Counts::default());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(Counting(Arc::clone(&counts)))
        .build();
    opentelemetry::global::set_tracer_provider(provider);
    aitrace::core::emit::set_enabled_without_subscriber(true);
    let mut tally = Tally {
        counts,
        rows: Vec::new(),
    };
    let server = slow_server().await;

    for fault in FAULTS {
        // GenAiLayer over a service future that panics or hangs.
        let svc = ServiceBuilder::new()
            .layer(GenAiLayer::new(GenAiConfig::default()))
            .service_fn(move |_: Ask| async move {
                misbehave(fault).await;
                Ok::<_, Infallible>(Answer)
            });
        tally
            .scenario(&format!("GenAiLayer, {fault:?}"), 1, async {
                drive(
                    fault,
                    timed(fault, async move {
                        let _ = svc.oneshot(Ask).await;
                    }),
                )
                .await
            })
            .await;

        // ToolLayer.
        let tools = ServiceBuilder::new().layer(ToolLayer::new()).service_fn(
            move |_: ToolInvocation| async move {
                misbehave(fault).await;
                Ok::<_, Infallible>(json!({}))
            },
        );
        tally
            .scenario(&format!("ToolLayer, {fault:?}"), 1, async {
                drive(
                    fault,
                    timed(fault, async move {
                        let _ = tools
                            .oneshot(ToolInvocation::new("slow_tool", json!({})))
                            .await;
                    }),
                )
                .await
            })
            .await;

        // An agent run around a tool call.
        tally
            .scenario(&format!("agent::run + ToolLayer, {fault:?}"), 2, async {
                drive(
                    fault,
                    timed(fault, async move {
                        let tools = ServiceBuilder::new().layer(ToolLayer::new()).service_fn(
                            move |_: ToolInvocation| async move {
                                misbehave(fault).await;
                                Ok::<_, Infallible>(json!({}))
                            },
                        );
                        agent::run(AgentInfo::new("balance-agent"), async move {
                            let _ = tools.oneshot(ToolInvocation::new("t", json!({}))).await;
                        })
                        .await;
                    }),
                )
                .await
            })
            .await;

        // GenAiHttpLayer + ClientLayer over an HTTP client service.
        let http_svc = ServiceBuilder::new()
            .layer(GenAiHttpLayer::new(GenAiConfig::default()))
            .layer(ClientLayer::new())
            .service_fn(move |_req: http::Request<_>| async move {
                misbehave(fault).await;
                Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("{}"))))
            });
        tally
            .scenario(
                &format!("GenAiHttpLayer + ClientLayer, {fault:?}"),
                2,
                async {
                    drive(
                        fault,
                        timed(fault, async move {
                            let req = http::Request::post("http://127.0.0.1:9/v1/chat/completions")
                                .body(Full::new(Bytes::from(r#"{"model":"gpt-4o-mini"}"#)))
                                .unwrap();
                            let _ = http_svc.oneshot(req).await;
                        }),
                    )
                    .await
                },
            )
            .await;

        // ServerLayer over a handler that panics or hangs.
        let server_svc = ServerLayer::new().layer(tower::service_fn(
            move |_req: http::Request<Full<Bytes>>| async move {
                misbehave(fault).await;
                Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("ok"))))
            },
        ));
        tally
            .scenario(&format!("ServerLayer, {fault:?}"), 1, async {
                drive(
                    fault,
                    timed(fault, async move {
                        let req = http::Request::get("/items/1")
                            .body(Full::new(Bytes::new()))
                            .unwrap();
                        let _ = server_svc.oneshot(req).await;
                    }),
                )
                .await
            })
            .await;

        // GenAiMiddleware + ClientMiddleware (reqwest) against a slow provider; the
        // panic comes from a middleware after ours.
        let client = llm_client();
        tally
            .scenario(
                &format!("GenAiMiddleware + ClientMiddleware, {fault:?}"),
                1,
                async {
                    drive(
                        fault,
                        timed(fault, async move {
                            let mut req = client
                                .post(format!("http://{server}/v1/chat/completions"))
                                .json(&json!({"model": "gpt-4o-mini", "messages": []}));
                            if fault == Fault::Panic {
                                req = req.header("x-panic", "1");
                            }
                            let _ = req.send().await;
                        }),
                    )
                    .await
                },
            )
            .await;
    }

    // A panic in `call` itself, before any future exists.
    let svc = GenAiLayer::new(GenAiConfig::default()).layer(PanicsInCall);
    tally
        .scenario("GenAiLayer, panic in call()", 1, async {
            drive(
                Fault::Panic,
                Box::pin(async move {
                    let _ = svc.oneshot(Ask).await;
                }),
            )
            .await
        })
        .await;

    // Response bodies dropped half-read: the stream's span ends as cancelled.
    let client = llm_client();
    tally
        .scenario(
            "GenAiMiddleware, SSE body dropped after one chunk",
            2,
            async {
                let resp = client
                    .post(format!("http://{server}/v1/chat/completions"))
                    .json(&json!({"model": "gpt-4o-mini", "messages": [], "stream": true}))
                    .send()
                    .await
                    .expect("the stream starts");
                let mut body = resp.bytes_stream();
                use futures_util::StreamExt;
                let first = body.next().await.expect("one chunk").expect("readable");
                assert!(!first.is_empty());
                drop(body);
            },
        )
        .await;
    let server_svc = ServerLayer::new().layer(tower::service_fn(
        |_req: http::Request<Full<Bytes>>| async move {
            let chunks = futures_util::stream::iter(vec![Ok::<_, Infallible>(
                http_body::Frame::data(Bytes::from("part")),
            )])
            .chain(futures_util::stream::pending());
            Ok::<_, Infallible>(http::Response::new(StreamBody::new(chunks)))
        },
    ));
    // (The response was already sent with its status: the span ends as it was.)
    tally
        .scenario_with(
            "ServerLayer, response body dropped half-sent",
            1,
            false,
            async {
                let req = http::Request::get("/stream")
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                let resp = server_svc.oneshot(req).await.unwrap();
                let mut body = resp.into_body();
                let frame = body.frame().await.expect("a frame").expect("data");
                assert_eq!(frame.into_data().ok(), Some(Bytes::from("part")));
                drop(body);
            },
        )
        .await;

    let total: (usize, usize) = tally
        .rows
        .iter()
        .fold((0, 0), |(s, e), (_, a, b)| (s + a, e + b));
    println!("all scenarios: started {} ended {}", total.0, total.1);
    assert_eq!(total.0, total.1);
    assert!(total.0 >= 30);
}
