//! Real tonic clients and servers over loopback TCP (hand-written service and
//! messages, no code generation): spans on exported data for unary and streaming
//! calls, statuses from headers and trailers, the gRPC error rules, cancelled calls,
//! transport failures, and missing/garbage/oversized metadata.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use aitrace_grpc::{attributes as a, GrpcClientLayer, GrpcServerLayer};
use common::{exporter, int_attr, str_attr, wait_for};
use futures_util::StreamExt;
use http::uri::PathAndQuery;
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;
use tower::ServiceBuilder;

#[derive(Clone, PartialEq, prost::Message)]
struct City {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Forecast {
    #[prost(string, tag = "1")]
    summary: String,
}

/// `aitrace.test.Weather`: `Forecast` (unary) answers per city name; `Hourly`
/// (server streaming) sends three forecasts, or two and then `DATA_LOSS` for
/// "broken".
#[derive(Clone)]
struct Weather;

impl tonic::server::NamedService for Weather {
    const NAME: &'static str = "aitrace.test.Weather";
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

async fn forecast(
    request: tonic::Request<City>,
) -> Result<tonic::Response<Forecast>, tonic::Status> {
    match request.into_inner().name.as_str() {
        "nowhere" => Err(tonic::Status::not_found("no such city")),
        "crash" => Err(tonic::Status::internal("station offline")),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(tonic::Response::new(Forecast {
                summary: "late".into(),
            }))
        }
        name => Ok(tonic::Response::new(Forecast {
            summary: format!("sunny in {name}"),
        })),
    }
}

type HourlyStream =
    Pin<Box<dyn futures_util::Stream<Item = Result<Forecast, tonic::Status>> + Send>>;

async fn hourly(
    request: tonic::Request<City>,
) -> Result<tonic::Response<HourlyStream>, tonic::Status> {
    let broken = request.into_inner().name == "broken";
    let items: Vec<Result<Forecast, tonic::Status>> = (0..3)
        .map(|h| {
            if broken && h == 2 {
                Err(tonic::Status::data_loss("sensor lost"))
            } else {
                Ok(Forecast {
                    summary: format!("hour {h}"),
                })
            }
        })
        .collect();
    Ok(tonic::Response::new(Box::pin(futures_util::stream::iter(
        items,
    ))))
}

impl tower::Service<http::Request<Body>> for Weather {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match request.uri().path() {
            "/aitrace.test.Weather/Forecast" => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(ProstCodec::<Forecast, City>::default());
                Ok(grpc.unary(tower::service_fn(forecast), request).await)
            }),
            "/aitrace.test.Weather/Hourly" => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(ProstCodec::<Forecast, City>::default());
                Ok(grpc
                    .server_streaming(tower::service_fn(hourly), request)
                    .await)
            }),
            _ => Box::pin(async { Ok(tonic::Status::unimplemented("").into_http()) }),
        }
    }
}

/// A traced tonic server on a loopback port.
async fn serve() -> SocketAddr {
    let _ = exporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(GrpcServerLayer::new())
            .add_service(Weather)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

async fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

type Client = tonic::client::Grpc<aitrace_grpc::GrpcClient<Channel>>;

async fn traced_client(addr: SocketAddr) -> Client {
    let svc = ServiceBuilder::new()
        .layer(GrpcClientLayer::new().server("127.0.0.1", Some(addr.port())))
        .service(channel(addr).await);
    tonic::client::Grpc::new(svc)
}

async fn forecast_call(client: &mut Client, city: &str) -> Result<Forecast, tonic::Status> {
    client.ready().await.unwrap();
    client
        .unary(
            tonic::Request::new(City { name: city.into() }),
            PathAndQuery::from_static("/aitrace.test.Weather/Forecast"),
            ProstCodec::<City, Forecast>::default(),
        )
        .await
        .map(tonic::Response::into_inner)
}

/// Runs `f` inside a parent span carrying `test.marker`, so each test finds its spans.
async fn marked<T>(marker: &str, f: impl Future<Output = T>) -> T {
    use opentelemetry::context::FutureExt;
    let parent =
        aitrace_core::emit::OtelSpan::start(format!("test {marker}"), SpanKind::Internal, vec![]);
    let out = f.with_context(parent.context()).await;
    parent.end();
    out
}

/// The client spans are children of the test's parent span; mark them afterwards.
async fn client_span_under(marker: &str, method: &str) -> SpanData {
    let parent = wait_for(|s| s.name == format!("test {marker}")).await;
    wait_for(|s| s.name == method && s.parent_span_id == parent.span_context.span_id()).await
}

async fn server_span_of(client: &SpanData) -> SpanData {
    let id = client.span_context.span_id();
    wait_for(|s| s.span_kind == SpanKind::Server && s.parent_span_id == id).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_unary_call_is_one_trace_with_rpc_attributes() {
    let addr = serve().await;
    let mut client = traced_client(addr).await;
    let answer = marked("unary-ok", forecast_call(&mut client, "Lisbon"))
        .await
        .unwrap();
    assert_eq!(answer.summary, "sunny in Lisbon");

    let client_span = client_span_under("unary-ok", "aitrace.test.Weather/Forecast").await;
    let server_span = server_span_of(&client_span).await;
    assert_eq!(client_span.span_kind, SpanKind::Client);
    assert_eq!(server_span.span_kind, SpanKind::Server);
    assert_eq!(server_span.name, "aitrace.test.Weather/Forecast");
    assert_eq!(
        server_span.span_context.trace_id(),
        client_span.span_context.trace_id()
    );
    for span in [&client_span, &server_span] {
        assert_eq!(str_attr(span, a::RPC_SYSTEM_NAME).as_deref(), Some("grpc"));
        assert_eq!(str_attr(span, a::RPC_SYSTEM).as_deref(), Some("grpc"));
        assert_eq!(
            str_attr(span, a::RPC_METHOD).as_deref(),
            Some("aitrace.test.Weather/Forecast")
        );
        assert_eq!(
            str_attr(span, a::RPC_SERVICE).as_deref(),
            Some("aitrace.test.Weather")
        );
        assert_eq!(str_attr(span, a::RPC_STATUS_CODE).as_deref(), Some("OK"));
        assert_eq!(int_attr(span, a::RPC_GRPC_STATUS_CODE), Some(0));
        assert_eq!(
            str_attr(span, a::SERVER_ADDRESS).as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(int_attr(span, a::SERVER_PORT), Some(i64::from(addr.port())));
        assert_eq!(span.status, Status::Unset);
        assert!(str_attr(span, "error.type").is_none());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn caller_errors_fail_the_client_span_only_and_server_errors_both() {
    let addr = serve().await;
    let mut client = traced_client(addr).await;

    let err = marked("not-found", forecast_call(&mut client, "nowhere"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let client_span = client_span_under("not-found", "aitrace.test.Weather/Forecast").await;
    let server_span = server_span_of(&client_span).await;
    assert_eq!(
        str_attr(&client_span, "error.type").as_deref(),
        Some("NOT_FOUND")
    );
    assert!(
        matches!(&client_span.status, Status::Error { description } if description.contains("no such city"))
    );
    assert_eq!(int_attr(&client_span, a::RPC_GRPC_STATUS_CODE), Some(5));
    // The server served the caller correctly: NOT_FOUND is not a server error.
    assert_eq!(
        str_attr(&server_span, a::RPC_STATUS_CODE).as_deref(),
        Some("NOT_FOUND")
    );
    assert_eq!(server_span.status, Status::Unset);
    assert!(str_attr(&server_span, "error.type").is_none());

    let err = marked("internal", forecast_call(&mut client, "crash"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Internal);
    let client_span = client_span_under("internal", "aitrace.test.Weather/Forecast").await;
    let server_span = server_span_of(&client_span).await;
    for span in [&client_span, &server_span] {
        assert_eq!(str_attr(span, "error.type").as_deref(), Some("INTERNAL"));
        assert_eq!(
            str_attr(span, a::RPC_STATUS_CODE).as_deref(),
            Some("INTERNAL")
        );
        assert!(matches!(span.status, Status::Error { .. }));
    }
}

async fn hourly_call(client: &mut Client, city: &str) -> tonic::Streaming<Forecast> {
    client.ready().await.unwrap();
    client
        .server_streaming(
            tonic::Request::new(City { name: city.into() }),
            PathAndQuery::from_static("/aitrace.test.Weather/Hourly"),
            ProstCodec::<City, Forecast>::default(),
        )
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn streaming_calls_end_with_the_status_in_the_trailers() {
    let addr = serve().await;
    let mut client = traced_client(addr).await;

    let got = marked("stream-ok", async {
        let mut stream = hourly_call(&mut client, "Oslo").await;
        let mut got = Vec::new();
        while let Some(item) = stream.next().await {
            got.push(item.unwrap().summary);
        }
        got
    })
    .await;
    assert_eq!(got, vec!["hour 0", "hour 1", "hour 2"]);
    let client_span = client_span_under("stream-ok", "aitrace.test.Weather/Hourly").await;
    let server_span = server_span_of(&client_span).await;
    for span in [&client_span, &server_span] {
        assert_eq!(str_attr(span, a::RPC_STATUS_CODE).as_deref(), Some("OK"));
        assert_eq!(span.status, Status::Unset);
    }

    // Two messages, then DATA_LOSS in the trailers: an error on both sides.
    let results = marked("stream-broken", async {
        let mut stream = hourly_call(&mut client, "broken").await;
        let mut results = Vec::new();
        while let Some(item) = stream.next().await {
            results.push(item.map(|f| f.summary).map_err(|s| s.code()));
        }
        results
    })
    .await;
    assert_eq!(
        results,
        vec![
            Ok("hour 0".into()),
            Ok("hour 1".into()),
            Err(tonic::Code::DataLoss)
        ]
    );
    let client_span = client_span_under("stream-broken", "aitrace.test.Weather/Hourly").await;
    let server_span = server_span_of(&client_span).await;
    for span in [&client_span, &server_span] {
        assert_eq!(
            str_attr(span, a::RPC_STATUS_CODE).as_deref(),
            Some("DATA_LOSS")
        );
        assert_eq!(int_attr(span, a::RPC_GRPC_STATUS_CODE), Some(15));
        assert_eq!(str_attr(span, "error.type").as_deref(), Some("DATA_LOSS"));
        assert!(matches!(span.status, Status::Error { .. }));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unimplemented_methods_fail_both_sides_and_dropped_calls_are_cancelled() {
    let addr = serve().await;
    let mut client = traced_client(addr).await;

    let err = marked("unknown", async {
        client.ready().await.unwrap();
        client
            .unary(
                tonic::Request::new(City { name: "x".into() }),
                PathAndQuery::from_static("/aitrace.test.Weather/Nope"),
                ProstCodec::<City, Forecast>::default(),
            )
            .await
            .unwrap_err()
    })
    .await;
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    let client_span = client_span_under("unknown", "aitrace.test.Weather/Nope").await;
    let server_span = server_span_of(&client_span).await;
    assert_eq!(
        str_attr(&server_span, "error.type").as_deref(),
        Some("UNIMPLEMENTED")
    );
    assert_eq!(
        str_attr(&client_span, "error.type").as_deref(),
        Some("UNIMPLEMENTED")
    );

    // The caller gives up (a timeout) before the answer: CANCELLED on the client.
    let timed_out = marked(
        "cancelled",
        tokio::time::timeout(
            Duration::from_millis(200),
            forecast_call(&mut client, "slow"),
        ),
    )
    .await;
    assert!(timed_out.is_err());
    let client_span = client_span_under("cancelled", "aitrace.test.Weather/Forecast").await;
    assert_eq!(
        str_attr(&client_span, a::RPC_STATUS_CODE).as_deref(),
        Some("CANCELLED")
    );
    assert_eq!(
        str_attr(&client_span, "error.type").as_deref(),
        Some("CANCELLED")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_connection_is_a_transport_error() {
    let _ = exporter();
    // A port nobody listens on: a lazy channel fails at the call.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let layer = GrpcClientLayer::new().legacy_attributes(false);
    let mut client = tonic::client::Grpc::new(tower::Layer::layer(&layer, channel));
    let err = marked("refused", forecast_call(&mut client, "Lisbon"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    let client_span = client_span_under("refused", "aitrace.test.Weather/Forecast").await;
    assert_eq!(
        str_attr(&client_span, "error.type").as_deref(),
        Some("transport")
    );
    assert!(matches!(client_span.status, Status::Error { .. }));
    assert!(str_attr(&client_span, a::RPC_SYSTEM).is_none());
    assert!(str_attr(&client_span, a::RPC_SERVICE).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_garbage_or_oversized_metadata_starts_a_new_trace() {
    let addr = serve().await;
    // An untraced client sending whatever it likes.
    let mut raw = tonic::client::Grpc::new(channel(addr).await);
    let cases = [
        ("none", None),
        ("garbage", Some("00-nothex-nothex-01".to_string())),
        (
            "oversized",
            Some(format!(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01{}",
                "0".repeat(6_000)
            )),
        ),
    ];
    for (case, traceparent) in cases {
        let mut request = tonic::Request::new(City {
            name: format!("city-{case}"),
        });
        if let Some(tp) = traceparent {
            request
                .metadata_mut()
                .insert("traceparent", tp.parse().unwrap());
        }
        raw.ready().await.unwrap();
        let answer = raw
            .unary(
                request,
                PathAndQuery::from_static("/aitrace.test.Weather/Forecast"),
                ProstCodec::<City, Forecast>::default(),
            )
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.summary, format!("sunny in city-{case}"));
    }
    // Three server spans, each the root of its own trace.
    let roots: Vec<SpanData> = {
        let mut found = Vec::new();
        for _ in 0..300 {
            found = common::finished()
                .into_iter()
                .filter(|s| {
                    s.span_kind == SpanKind::Server
                        && s.parent_span_id == SpanId::INVALID
                        && int_attr(s, a::SERVER_PORT) == Some(i64::from(addr.port()))
                })
                .collect();
            if found.len() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        found
    };
    assert_eq!(roots.len(), 3);
    let mut traces: Vec<_> = roots.iter().map(|s| s.span_context.trace_id()).collect();
    traces.dedup();
    assert_eq!(traces.len(), 3);
    assert!(roots.iter().all(|s| s.status == Status::Unset));
}
