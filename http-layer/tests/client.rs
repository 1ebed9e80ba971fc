//! Client spans with a global tracer provider, a tracing-opentelemetry subscriber, and
//! NO propagator installed (the global default is a no-op): W3C must be used anyway.

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aitrace_core::emit::OtelSpan;
use aitrace_http::propagation::{self, HeaderExtractor, HeaderInjector};
use aitrace_http::{
    ClientConfig, ClientLayer, ClientMiddleware, DisablePropagation, SpanName, UrlTemplate,
};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::policies::ExponentialBackoff;
use reqwest_retry::RetryTransientMiddleware;
use tower::{ServiceBuilder, ServiceExt};

/// A server that answers with the `traceparent` it received (or `none`).
async fn echo_server() -> std::net::SocketAddr {
    serve(Router::new().fallback(|headers: HeaderMap| async move {
        headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned()
    }))
    .await
}

fn traced_client() -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::new())
        .build()
}

/// Runs `f` inside a fresh root `tracing` span; returns its result and the trace id.
async fn in_root_span<F, T>(name: &'static str, f: F) -> (T, tracing::Span)
where
    F: std::future::Future<Output = T>,
{
    use tracing::Instrument;
    let root = tracing::info_span!("root", otel.name = name);
    let out = f.instrument(root.clone()).await;
    (out, root)
}

#[tokio::test]
async fn no_propagator_installed_still_sends_traceparent() {
    let t = telemetry();
    let addr = echo_server().await;
    let client = traced_client();
    let (seen, root) = in_root_span("no propagator", async {
        client
            .get(format!("http://{addr}/v1/models"))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body")
    })
    .await;
    let (trace_id, root_id) = ids_of(&root);
    drop(root);
    assert_ne!(seen, "none", "no traceparent was sent");
    let spans = wait_for_spans(&t.exporter, trace_id, 2).await;
    let client_span = named(&spans, "GET");
    let (tp_trace, tp_parent, flags) = parse_traceparent(&seen);
    // The header names our CLIENT span, which is a child of the user's span.
    assert_eq!(tp_trace, trace_id);
    assert_eq!(tp_parent, client_span.span_context.span_id());
    assert_eq!(flags, 1);
    assert_eq!(client_span.parent_span_id, root_id);
    assert_eq!(client_span.span_kind, SpanKind::Client);
    assert_eq!(client_span.instrumentation_scope.name(), "aitrace");
    assert_eq!(
        attr_str(client_span, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        attr_str(client_span, "url.full"),
        Some(format!("http://{addr}/v1/models"))
    );
    assert_eq!(
        attr_str(client_span, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr_i64(client_span, "server.port"),
        Some(i64::from(addr.port()))
    );
    assert_eq!(
        attr_i64(client_span, "http.response.status_code"),
        Some(200)
    );
    assert_eq!(
        attr_str(client_span, "network.protocol.version").as_deref(),
        Some("1.1")
    );
    assert_eq!(client_span.status, Status::Unset);
    assert!(attr(client_span, "error.type").is_none());
    assert!(attr(client_span, "http.request.resend_count").is_none());
}

#[tokio::test]
async fn url_full_redacts_userinfo_and_secret_query_values() {
    let t = telemetry();
    let addr = echo_server().await;
    let client = traced_client();
    let custom = ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::with_config(
            ClientConfig::new().secret_query_params(["session"]),
        ))
        .build();
    let (_, root) = in_root_span("redaction", async {
        client
            .get(format!(
                "http://alice:s3cret@{addr}/v1/x?key=abc123&q=cats&api_key=k-999&sig=zz&Token=t0k#frag"
            ))
            .send()
            .await
            .expect("request");
        custom
            .get(format!("http://{addr}/v1/y?session=xyz&key=visible"))
            .send()
            .await
            .expect("request");
    })
    .await;
    let (trace_id, _) = ids_of(&root);
    drop(root);
    let spans = wait_for_spans(&t.exporter, trace_id, 3).await;
    let urls: Vec<String> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .filter_map(|s| attr_str(s, "url.full"))
        .collect();
    // reqwest moves URL userinfo into an Authorization header (never recorded) before
    // middleware sees the request; see the tower client test for userinfo in `url.full`.
    assert!(
        urls.contains(&format!(
            "http://{addr}/v1/x?key=REDACTED&q=cats&api_key=REDACTED&sig=REDACTED&Token=REDACTED"
        )),
        "{urls:?}"
    );
    // A configured list replaces the default one; names with a secret fragment
    // (`key`) are redacted whatever the list.
    assert!(
        urls.contains(&format!("http://{addr}/v1/y?session=REDACTED&key=REDACTED")),
        "{urls:?}"
    );
    for span in &spans {
        for kv in &span.attributes {
            let v = kv.value.as_str();
            assert!(!v.contains("s3cret") && !v.contains("abc123") && !v.contains("k-999"));
        }
    }
}

#[tokio::test]
async fn authorization_is_never_recorded() {
    let t = telemetry();
    let addr = echo_server().await;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::with_config(
            ClientConfig::new().capture_request_headers([
                "authorization",
                "x-api-key",
                "x-request-id",
            ]),
        ))
        .build();
    let (_, root) = in_root_span("authorization", async {
        client
            .get(format!("http://{addr}/v1/chat"))
            .bearer_auth("sk-proj-topsecret")
            .header("x-api-key", "key-topsecret")
            .header("x-request-id", "req-7")
            .send()
            .await
            .expect("request");
    })
    .await;
    let (trace_id, _) = ids_of(&root);
    drop(root);
    let spans = wait_for_spans(&t.exporter, trace_id, 2).await;
    let client_span = named(&spans, "GET");
    assert_eq!(
        attr(client_span, "http.request.header.x-request-id").map(|v| v.to_string()),
        Some("[\"req-7\"]".to_owned())
    );
    for span in &spans {
        for kv in &span.attributes {
            assert!(!kv.key.as_str().contains("authorization"), "{kv:?}");
            assert!(!kv.key.as_str().contains("api-key"), "{kv:?}");
            assert!(!kv.value.to_string().contains("topsecret"), "{kv:?}");
        }
    }
}

#[tokio::test]
async fn connection_refused_is_recorded_with_error_type() {
    let t = telemetry();
    let addr = closed_port().await;
    let client = traced_client();
    let (result, root) = in_root_span("refused", async {
        client
            .get(format!("http://{addr}/v1/x?token=hunter2"))
            .send()
            .await
    })
    .await;
    let (trace_id, _) = ids_of(&root);
    drop(root);
    let err = result.expect_err("nothing listens there");
    assert!(err.is_connect(), "{err:?}");
    let spans = wait_for_spans(&t.exporter, trace_id, 2).await;
    let client_span = named(&spans, "GET");
    assert_eq!(
        attr_str(client_span, "error.type").as_deref(),
        Some("connect")
    );
    assert!(attr(client_span, "http.response.status_code").is_none());
    match &client_span.status {
        Status::Error { description } => {
            assert!(!description.is_empty());
            // reqwest puts the URL in its message: it is redacted there too.
            assert!(!description.contains("hunter2"), "{description}");
        }
        other => panic!("expected an error status, got {other:?}"),
    }
}

#[tokio::test]
async fn status_400_and_above_fail_the_client_span() {
    let t = telemetry();
    let addr = serve(
        Router::new()
            .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
            .route("/broken", get(|| async { StatusCode::BAD_GATEWAY })),
    )
    .await;
    let client = traced_client();
    let (_, root) = in_root_span("statuses", async {
        for path in ["missing", "broken"] {
            client
                .get(format!("http://{addr}/{path}"))
                .with_extension(SpanName::new(path))
                .send()
                .await
                .expect("request");
        }
    })
    .await;
    let (trace_id, _) = ids_of(&root);
    drop(root);
    let spans = wait_for_spans(&t.exporter, trace_id, 3).await;
    for (name, code) in [("missing", 404), ("broken", 502)] {
        let span = named(&spans, name);
        assert_eq!(attr_i64(span, "http.response.status_code"), Some(code));
        assert_eq!(attr_str(span, "error.type"), Some(code.to_string()));
        assert!(is_error(span));
    }
}

#[tokio::test]
async fn resend_count_under_reqwest_retry() {
    let t = telemetry();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let addr = serve(Router::new().route(
        "/flaky",
        get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    ))
    .await;
    let policy = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(5))
        .build_with_max_retries(3);
    // Retry outer, ours inner: one span per attempt.
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(RetryTransientMiddleware::new_with_policy(policy))
        .with(ClientMiddleware::new())
        .build();
    let (status, root) = in_root_span("retries", async {
        client
            .get(format!("http://{addr}/flaky"))
            .send()
            .await
            .expect("request")
            .status()
    })
    .await;
    let (trace_id, root_id) = ids_of(&root);
    drop(root);
    assert_eq!(status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let spans = wait_for_spans(&t.exporter, trace_id, 4).await;
    let mut attempts: Vec<_> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    attempts.sort_by_key(|s| s.start_time);
    assert_eq!(attempts.len(), 3);
    let resend: Vec<Option<i64>> = attempts
        .iter()
        .map(|s| {
            attr(s, "http.request.resend_count").map(|v| match v {
                opentelemetry::Value::I64(n) => *n,
                other => panic!("{other:?}"),
            })
        })
        .collect();
    assert_eq!(resend, vec![None, Some(1), Some(2)]);
    let errors: Vec<Option<String>> = attempts.iter().map(|s| attr_str(s, "error.type")).collect();
    assert_eq!(errors, vec![Some("503".into()), Some("503".into()), None]);
    // Attempts are siblings under the user's span.
    assert!(attempts.iter().all(|s| s.parent_span_id == root_id));
}

#[tokio::test]
async fn per_request_overrides() {
    let t = telemetry();
    let addr = echo_server().await;
    let client = traced_client();
    let ((templated, named_seen, unpropagated), root) = in_root_span("overrides", async {
        let templated = client
            .get(format!("http://{addr}/v1/items/42"))
            .with_extension(UrlTemplate::new("/v1/items/{id}"))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body");
        let named_seen = client
            .get(format!("http://{addr}/v1/anything"))
            .with_extension(SpanName::new("fetch anything"))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body");
        let unpropagated = client
            .get(format!("http://{addr}/third-party"))
            .with_extension(DisablePropagation)
            .with_extension(SpanName::new("third party"))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body");
        (templated, named_seen, unpropagated)
    })
    .await;
    let (trace_id, _) = ids_of(&root);
    drop(root);
    let spans = wait_for_spans(&t.exporter, trace_id, 4).await;
    let templated_span = named(&spans, "GET /v1/items/{id}");
    assert_eq!(
        attr_str(templated_span, "url.template").as_deref(),
        Some("/v1/items/{id}")
    );
    assert_eq!(
        parse_traceparent(&templated).1,
        templated_span.span_context.span_id()
    );
    let named_span = named(&spans, "fetch anything");
    assert_eq!(
        parse_traceparent(&named_seen).1,
        named_span.span_context.span_id()
    );
    // Not propagated, still recorded.
    assert_eq!(unpropagated, "none");
    let third = named(&spans, "third party");
    assert_eq!(attr_i64(third, "http.response.status_code"), Some(200));
}

#[tokio::test]
async fn tower_client_layer_over_hyper_util() {
    let t = telemetry();
    let addr = echo_server().await;
    let refused = closed_port().await;
    let hyper = HyperClient::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let client = ServiceBuilder::new()
        .layer(ClientLayer::new())
        .service(hyper);
    let ((seen, failure), root) = in_root_span("tower client", async {
        let mut request =
            http::Request::get(format!("http://bob:pw@{addr}/v1/items/9?api_key=zzz"))
                .body(Empty::<Bytes>::new())
                .expect("request");
        request
            .extensions_mut()
            .insert(UrlTemplate::new("/v1/items/{id}"));
        let response = client.clone().oneshot(request).await.expect("response");
        let seen = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let failure = client
            .clone()
            .oneshot(
                http::Request::get(format!("http://{refused}/"))
                    .body(Empty::<Bytes>::new())
                    .expect("request"),
            )
            .await;
        (String::from_utf8_lossy(&seen).into_owned(), failure)
    })
    .await;
    let (trace_id, root_id) = ids_of(&root);
    drop(root);
    assert!(failure.is_err());
    let spans = wait_for_spans(&t.exporter, trace_id, 3).await;
    let ok = named(&spans, "GET /v1/items/{id}");
    assert_eq!(ok.parent_span_id, root_id);
    assert_eq!(parse_traceparent(&seen).1, ok.span_context.span_id());
    assert_eq!(
        attr_str(ok, "url.full"),
        Some(format!(
            "http://REDACTED:REDACTED@{addr}/v1/items/9?api_key=REDACTED"
        ))
    );
    assert_eq!(attr_i64(ok, "http.response.status_code"), Some(200));
    let failed = named(&spans, "GET");
    assert_eq!(attr_str(failed, "error.type").as_deref(), Some("connect"));
    assert!(is_error(failed));
}

#[tokio::test]
async fn cancelled_and_panicking_requests_end_their_spans() {
    use futures_util::FutureExt;
    let t = telemetry();
    let never = tower::service_fn(|_req: http::Request<()>| {
        futures_util::future::pending::<Result<http::Response<()>, Infallible>>()
    });
    let panicking = tower::service_fn(|_req: http::Request<()>| async {
        if true {
            panic!("transport bug");
        }
        Ok::<_, Infallible>(http::Response::new(()))
    });
    let ((), root) = in_root_span("cancel and panic", async {
        let call = ServiceBuilder::new()
            .layer(ClientLayer::new())
            .service(never)
            .oneshot(
                http::Request::get("http://127.0.0.1:9/slow")
                    .extension(SpanName::new("slow"))
                    .body(())
                    .expect("request"),
            );
        assert!(tokio::time::timeout(Duration::from_millis(20), call)
            .await
            .is_err());
        let call = ServiceBuilder::new()
            .layer(ClientLayer::new())
            .service(panicking)
            .oneshot(
                http::Request::get("http://127.0.0.1:9/boom")
                    .extension(SpanName::new("boom"))
                    .body(())
                    .expect("request"),
            );
        assert!(std::panic::AssertUnwindSafe(call)
            .catch_unwind()
            .await
            .is_err());
    })
    .await;
    let (trace_id, _) = ids_of(&root);
    drop(root);
    let spans = wait_for_spans(&t.exporter, trace_id, 3).await;
    let slow = named(&spans, "slow");
    assert_eq!(attr_str(slow, "error.type").as_deref(), Some("cancelled"));
    assert!(is_error(slow));
    let boom = named(&spans, "boom");
    assert_eq!(attr_str(boom, "error.type").as_deref(), Some("panic"));
    assert!(is_error(boom));
}

#[tokio::test]
async fn producer_consumer_carrier_round_trip() {
    let t = telemetry();
    // Producer: an HTTP handler publishes to a queue inside its publish span.
    let publish = OtelSpan::start("send orders", SpanKind::Producer, vec![]);
    let trace_id = publish.context().span().span_context().trace_id();
    let publish_id = publish.context().span().span_context().span_id();
    let mut amqp_headers: HashMap<String, String> = HashMap::new();
    propagation::inject(&publish.context(), &mut amqp_headers);
    let mut kafka_headers = http::HeaderMap::new();
    propagation::inject(&publish.context(), &mut HeaderInjector(&mut kafka_headers));
    publish.end();
    assert!(amqp_headers.contains_key("traceparent"), "{amqp_headers:?}");

    // Consumers, later, elsewhere: each continues the producer's trace.
    let from_map = propagation::extract(&amqp_headers);
    let process =
        OtelSpan::start_with_parent(&from_map, "process orders", SpanKind::Consumer, vec![]);
    process.end();
    let from_headers = propagation::extract(&HeaderExtractor(&kafka_headers));
    let audit =
        OtelSpan::start_with_parent(&from_headers, "process audit", SpanKind::Consumer, vec![]);
    audit.end();

    let spans = wait_for_spans(&t.exporter, trace_id, 3).await;
    assert_eq!(named(&spans, "process orders").parent_span_id, publish_id);
    assert_eq!(named(&spans, "process audit").parent_span_id, publish_id);
    assert!(named(&spans, "process orders").parent_span_is_remote);
}
