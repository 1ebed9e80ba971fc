//! Server spans, and two axum services on loopback forming one trace. The W3C
//! propagator is installed explicitly here (the client tests cover "none installed").

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, SystemTime};

use aitrace_http::{ClientMiddleware, ServerLayer, SkipPaths};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, StreamBody};
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceContextExt, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tower::{ServiceBuilder, ServiceExt};
use tracing::Instrument;

fn setup() -> &'static Telemetry {
    static PROPAGATOR: Once = Once::new();
    PROPAGATOR.call_once(|| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new())
    });
    telemetry()
}

fn traced_client() -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::new())
        .build()
}

#[derive(Clone)]
struct A {
    client: ClientWithMiddleware,
    b: SocketAddr,
}

/// Service B: items, and a handler with a span of the user's own.
async fn service_b() -> SocketAddr {
    let b = Router::new()
        .route(
            "/b/items/{id}",
            get(|Path(id): Path<u32>| async move { format!("item {id}") }),
        )
        .route(
            "/b/nested",
            get(|| {
                async {
                    tracing::info!("looking up");
                    "nested"
                }
                .instrument(tracing::info_span!("lookup item"))
            }),
        )
        .layer(ServerLayer::new());
    serve(b).await
}

/// Service A: calls B through the traced reqwest client.
async fn service_a(b: SocketAddr) -> SocketAddr {
    let a = Router::new()
        .route(
            "/a/orders/{order_id}",
            get(|State(a): State<A>| async move {
                a.client
                    .get(format!("http://{}/b/items/7", a.b))
                    .send()
                    .await
                    .map_err(|_| StatusCode::BAD_GATEWAY)?
                    .text()
                    .await
                    .map_err(|_| StatusCode::BAD_GATEWAY)
            }),
        )
        .route(
            "/a/nested",
            get(|State(a): State<A>| async move {
                let load = tracing::info_span!("load order");
                async {
                    a.client
                        .get(format!("http://{}/b/nested", a.b))
                        .send()
                        .await
                        .map_err(|_| StatusCode::BAD_GATEWAY)?
                        .text()
                        .await
                        .map_err(|_| StatusCode::BAD_GATEWAY)
                }
                .instrument(load)
                .await
            }),
        )
        .with_state(A {
            client: traced_client(),
            b,
        })
        .layer(ServerLayer::new().traceresponse(true));
    serve(a).await
}

/// The trace id and span id named by a `traceresponse` header.
fn traceresponse(response: &reqwest::Response) -> (TraceId, SpanId) {
    let value = response
        .headers()
        .get("traceresponse")
        .expect("traceresponse header")
        .to_str()
        .expect("ascii");
    let (trace_id, span_id, flags) = parse_traceparent(value);
    assert_eq!(flags, 1);
    (trace_id, span_id)
}

#[tokio::test]
async fn one_trace_across_two_services() {
    let t = setup();
    let b = service_b().await;
    let a = service_a(b).await;
    // A plain client: A's server span is the root of the trace.
    let response = reqwest::Client::new()
        .get(format!("http://{a}/a/orders/42?token=abc&page=2"))
        .header("user-agent", "test-agent/1.0")
        .send()
        .await
        .expect("request A");
    assert_eq!(response.status(), 200);
    let (trace_id, a_server_id) = traceresponse(&response);
    assert_eq!(response.text().await.expect("body"), "item 7");

    let spans = wait_for_spans(&t.exporter, trace_id, 3).await;
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let a_server = named(&spans, "GET /a/orders/{order_id}");
    let a_client = named(&spans, "GET");
    let b_server = named(&spans, "GET /b/items/{id}");

    // A's server span -> A's client span -> B's server span.
    assert_eq!(a_server.span_context.span_id(), a_server_id);
    assert_eq!(a_server.parent_span_id, SpanId::INVALID);
    assert_eq!(a_client.parent_span_id, a_server.span_context.span_id());
    assert_eq!(b_server.parent_span_id, a_client.span_context.span_id());
    assert!(b_server.parent_span_is_remote);
    assert_eq!(a_server.span_kind, SpanKind::Server);
    assert_eq!(a_client.span_kind, SpanKind::Client);
    assert_eq!(b_server.span_kind, SpanKind::Server);
    // Time nests too.
    assert!(a_client.start_time >= a_server.start_time && a_client.end_time <= a_server.end_time);
    assert!(b_server.start_time >= a_client.start_time);

    // A's server span.
    let s = |k| attr_str(a_server, k);
    assert_eq!(s("http.request.method").as_deref(), Some("GET"));
    assert_eq!(s("http.route").as_deref(), Some("/a/orders/{order_id}"));
    assert_eq!(s("url.path").as_deref(), Some("/a/orders/42"));
    assert_eq!(s("url.query").as_deref(), Some("token=REDACTED&page=2"));
    assert_eq!(s("url.scheme").as_deref(), Some("http"));
    assert_eq!(s("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(attr_i64(a_server, "server.port"), Some(i64::from(a.port())));
    assert_eq!(s("user_agent.original").as_deref(), Some("test-agent/1.0"));
    assert_eq!(s("client.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(s("network.protocol.version").as_deref(), Some("1.1"));
    assert_eq!(attr_i64(a_server, "http.response.status_code"), Some(200));
    assert_eq!(a_server.status, Status::Unset);

    // A's client span.
    assert_eq!(
        attr_str(a_client, "url.full"),
        Some(format!("http://{b}/b/items/7"))
    );
    assert_eq!(attr_i64(a_client, "server.port"), Some(i64::from(b.port())));
    assert_eq!(attr_i64(a_client, "http.response.status_code"), Some(200));

    // B's server span.
    assert_eq!(
        attr_str(b_server, "http.route").as_deref(),
        Some("/b/items/{id}")
    );
    assert_eq!(
        attr_str(b_server, "url.path").as_deref(),
        Some("/b/items/7")
    );
    assert_eq!(attr_i64(b_server, "http.response.status_code"), Some(200));
}

#[tokio::test]
async fn user_spans_nest_both_ways_across_services() {
    let t = setup();
    let b = service_b().await;
    let a = service_a(b).await;
    let response = reqwest::get(format!("http://{a}/a/nested"))
        .await
        .expect("request A");
    let (trace_id, _) = traceresponse(&response);
    assert_eq!(response.text().await.expect("body"), "nested");
    let spans = wait_for_spans(&t.exporter, trace_id, 5).await;
    let a_server = named(&spans, "GET /a/nested");
    let load = named(&spans, "load order");
    let a_client = named(&spans, "GET");
    let b_server = named(&spans, "GET /b/nested");
    let lookup = named(&spans, "lookup item");
    // The user's span inside A's handler nests under A's server span, our client span
    // under the user's span, and B's handler span under B's server span.
    assert_eq!(load.parent_span_id, a_server.span_context.span_id());
    assert_eq!(a_client.parent_span_id, load.span_context.span_id());
    assert_eq!(b_server.parent_span_id, a_client.span_context.span_id());
    assert_eq!(lookup.parent_span_id, b_server.span_context.span_id());
}

#[tokio::test]
async fn server_errors_are_5xx_only_and_names_never_use_the_raw_path() {
    let t = setup();
    let addr = serve(
        Router::new()
            .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
            .route("/users/{id}", get(|| async { StatusCode::NOT_FOUND }))
            .layer(ServerLayer::new()),
    )
    .await;
    let client = traced_client();
    let root = tracing::info_span!("status rules");
    async {
        for path in ["fail", "users/17", "no/such/route"] {
            client
                .get(format!("http://{addr}/{path}"))
                .send()
                .await
                .expect("request");
        }
    }
    .instrument(root.clone())
    .await;
    let (trace_id, _) = ids_of(&root);
    drop(root);
    let spans = wait_for_spans(&t.exporter, trace_id, 7).await;
    let servers: Vec<_> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    assert_eq!(servers.len(), 3, "{servers:#?}");
    let fail = named(&spans, "GET /fail");
    assert_eq!(attr_str(fail, "error.type").as_deref(), Some("500"));
    assert!(is_error(fail));
    let user = named(&spans, "GET /users/{id}");
    assert_eq!(attr_i64(user, "http.response.status_code"), Some(404));
    assert_eq!(user.status, Status::Unset, "4xx is not a server error");
    assert!(attr(user, "error.type").is_none());
    // No route matched: the name is the method alone, the path only in url.path.
    let unmatched = servers
        .iter()
        .find(|s| attr_str(s, "url.path").as_deref() == Some("/no/such/route"))
        .expect("fallback span");
    assert_eq!(unmatched.name, "GET");
    assert!(attr(unmatched, "http.route").is_none());
}

#[tokio::test]
async fn streaming_body_keeps_the_server_span_open_until_it_ends() {
    let t = setup();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let addr = serve(
        Router::new()
            .route(
                "/stream",
                get(move || {
                    let rx = rx.lock().expect("lock").take().expect("one request");
                    async move {
                        let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
                            rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
                        });
                        Body::from_stream(chunks)
                    }
                }),
            )
            .layer(ServerLayer::new()),
    )
    .await;
    let client = traced_client();
    let root = tracing::info_span!("streaming");
    let mut response = client
        .get(format!("http://{addr}/stream"))
        .send()
        .instrument(root.clone())
        .await
        .expect("response headers");
    let (trace_id, _) = ids_of(&root);
    tx.send(Bytes::from_static(b"first ")).await.expect("send");
    let first = response.chunk().await.expect("chunk").expect("first chunk");
    assert_eq!(&first[..], b"first ");
    // Headers and a first chunk are out, the body is still streaming: no server span yet.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let servers = |spans: &[opentelemetry_sdk::trace::SpanData]| {
        spans
            .iter()
            .filter(|s| s.span_kind == SpanKind::Server)
            .count()
    };
    assert_eq!(servers(&spans_of(&t.exporter, trace_id)), 0);
    let before_end = SystemTime::now();
    tx.send(Bytes::from_static(b"last")).await.expect("send");
    drop(tx);
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        rest.extend_from_slice(&chunk);
    }
    assert_eq!(rest, b"last");
    drop(root);
    let spans = wait_for_spans(&t.exporter, trace_id, 3).await;
    let server = named(&spans, "GET /stream");
    assert!(server.end_time >= before_end, "ended before the body did");
    assert_eq!(attr_i64(server, "http.response.status_code"), Some(200));
    assert_eq!(server.status, Status::Unset);
}

#[tokio::test]
async fn skipped_routes_make_no_span_but_keep_the_callers_trace() {
    let t = setup();
    let current_trace = || async {
        opentelemetry::Context::current()
            .span()
            .span_context()
            .trace_id()
            .to_string()
    };
    let addr = serve(
        Router::new()
            .route("/healthz", get(current_trace))
            .route("/work", get(current_trace))
            .layer(ServerLayer::new().filter(SkipPaths::new(["/healthz"]))),
    )
    .await;
    let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex");
    let caller = SpanId::from_hex("00f067aa0ba902b7").expect("hex");
    let traceparent = format!("00-{trace_id}-{caller}-01");
    let http = reqwest::Client::new();
    for path in ["healthz", "work"] {
        let seen = http
            .get(format!("http://{addr}/{path}"))
            .header("traceparent", &traceparent)
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body");
        assert_eq!(
            seen,
            trace_id.to_string(),
            "/{path} lost the caller's trace"
        );
    }
    let spans = wait_for_spans(&t.exporter, trace_id, 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let spans_now = spans_of(&t.exporter, trace_id);
    assert_eq!(spans_now.len(), 1, "{spans_now:#?}");
    let work = named(&spans, "GET /work");
    assert_eq!(work.parent_span_id, caller);
    assert!(work.parent_span_is_remote);
}

type Response = http::Response<http_body_util::Full<Bytes>>;

#[tokio::test]
async fn inner_errors_panics_cancellation_and_dropped_bodies_end_the_span() {
    use futures_util::FutureExt;
    let t = setup();
    let root = tracing::info_span!("server lifecycles");
    async {
        // An inner error.
        let failing = ServiceBuilder::new()
            .layer(ServerLayer::new())
            .service(tower::service_fn(|_req: http::Request<()>| async {
                Err::<Response, _>(std::io::Error::other("database down"))
            }));
        let err = failing
            .oneshot(http::Request::get("/orders").body(()).expect("request"))
            .await
            .expect_err("inner error passes through");
        assert_eq!(err.to_string(), "database down");

        // A panic.
        let panicking = ServiceBuilder::new()
            .layer(ServerLayer::new())
            .service(tower::service_fn(|_req: http::Request<()>| async {
                if true {
                    panic!("handler bug");
                }
                Ok::<Response, Infallible>(Response::default())
            }));
        let call = panicking.oneshot(http::Request::post("/orders").body(()).expect("request"));
        assert!(std::panic::AssertUnwindSafe(call)
            .catch_unwind()
            .await
            .is_err());

        // Cancelled before the response (the client went away).
        let slow = ServiceBuilder::new()
            .layer(ServerLayer::new())
            .service(tower::service_fn(|_req: http::Request<()>| {
                futures_util::future::pending::<Result<Response, Infallible>>()
            }));
        let call = slow.oneshot(http::Request::put("/orders").body(()).expect("request"));
        assert!(tokio::time::timeout(Duration::from_millis(20), call)
            .await
            .is_err());

        // A body dropped mid-stream.
        let endless = ServiceBuilder::new()
            .layer(ServerLayer::new())
            .service(tower::service_fn(|_req: http::Request<()>| async {
                let frames = futures_util::stream::repeat_with(|| {
                    Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(b"x")))
                });
                Ok::<_, Infallible>(http::Response::new(StreamBody::new(frames)))
            }));
        let response = endless
            .oneshot(http::Request::delete("/orders").body(()).expect("request"))
            .await
            .expect("response");
        let mut body = response.into_body();
        let frame = body.frame().await.expect("a frame").expect("data");
        assert!(frame.is_data());
        drop(body);
    }
    .instrument(root.clone())
    .await;
    let (trace_id, root_id) = ids_of(&root);
    drop(root);
    let spans = wait_for_spans(&t.exporter, trace_id, 5).await;
    let get = named(&spans, "GET");
    assert_eq!(attr_str(get, "error.type").as_deref(), Some("io"));
    assert_eq!(
        get.status,
        Status::Error {
            description: "database down".into()
        }
    );
    let post = named(&spans, "POST");
    assert_eq!(attr_str(post, "error.type").as_deref(), Some("panic"));
    let put = named(&spans, "PUT");
    assert_eq!(attr_str(put, "error.type").as_deref(), Some("cancelled"));
    let delete = named(&spans, "DELETE");
    assert_eq!(attr_i64(delete, "http.response.status_code"), Some(200));
    assert_eq!(delete.status, Status::Unset);
    // No incoming context: the server spans continue the current one.
    for span in [get, post, put, delete] {
        assert_eq!(span.parent_span_id, root_id);
    }
}

/// `client.address` is the original client a proxy names: the first `for=` of
/// `Forwarded` (quoted, with a port, IPv6 in brackets), else the first entry of
/// `X-Forwarded-For`, else the peer axum saw.
#[tokio::test]
async fn client_address_comes_from_forwarded_then_x_forwarded_for_then_the_peer() {
    let t = setup();
    let addr = serve(
        Router::new()
            .route("/who/{case}", get(|| async { "ok" }))
            .layer(ServerLayer::new()),
    )
    .await;
    let client = traced_client();
    // The path's last segment, the headers sent, the client address expected.
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
    );
    let cases: [Case; 5] = [
        (
            "forwarded",
            &[(
                "forwarded",
                r#"for="192.0.2.60:4711";proto=http, for=198.51.100.17"#,
            )],
            "192.0.2.60",
        ),
        (
            "forwarded-ipv6",
            &[("forwarded", r#"proto=https;for="[2001:db8:cafe::17]:4711""#)],
            "2001:db8:cafe::17",
        ),
        (
            "xff",
            &[("x-forwarded-for", "203.0.113.195, 70.41.3.18")],
            "203.0.113.195",
        ),
        (
            "both",
            &[
                ("x-forwarded-for", "203.0.113.195"),
                ("forwarded", "for=192.0.2.43"),
            ],
            "192.0.2.43",
        ),
        ("peer", &[], "127.0.0.1"),
    ];
    let root = tracing::info_span!("client addresses");
    async {
        for (case, headers, _) in &cases {
            let mut request = client.get(format!("http://{addr}/who/{case}"));
            for (name, value) in *headers {
                request = request.header(*name, *value);
            }
            request.send().await.expect("request");
        }
    }
    .instrument(root.clone())
    .await;
    let (trace_id, _) = ids_of(&root);
    drop(root);
    let spans = wait_for_spans(&t.exporter, trace_id, 2 * cases.len()).await;
    for (case, _, expected) in cases {
        let server = spans
            .iter()
            .find(|s| {
                s.span_kind == SpanKind::Server
                    && attr_str(s, "url.path").as_deref() == Some(&*format!("/who/{case}"))
            })
            .unwrap_or_else(|| panic!("no server span for {case}"));
        assert_eq!(
            attr_str(server, "client.address").as_deref(),
            Some(expected),
            "{case}"
        );
    }
}
