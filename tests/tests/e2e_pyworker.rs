//! A traced Rust gRPC client and the real Python worker (grpcio +
//! opentelemetry-instrumentation-grpc), both exporting OTLP/HTTP to one local
//! receiver: the worker's server span is a child of the Rust client span, and both
//! sides record the status the worker sent (OK, and NOT_FOUND: a client error, the
//! Rust side's `error.type` the status name).
//!
//! Needs `scripts/pyworker.sh install` (`AITRACE_PYWORKER_PYTHON`): `scripts/test-all.sh`
//! installs it.

mod common;

use std::time::Duration;

use aitrace::core::emit::OtelSpan;
use aitrace::{Exporter, Protocol, Telemetry};
use aitrace_examples::jobs::forecast::ForecastClient;
use common::peers::{child_of, start_pyworker, trace_spans, Got};
use common::receiver::Receiver;
use opentelemetry::context::FutureExt;
use opentelemetry::trace::{SpanKind as OtelKind, TraceContextExt};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

/// The Rust client span and the Python server span of the call in trace `trace_id`.
async fn call_pair(receiver: &Receiver, trace_id: &[u8]) -> (Got, Got) {
    for _ in 0..250 {
        let spans = trace_spans(receiver, trace_id);
        let client = spans
            .iter()
            .find(|s| s.service == "grpc-client" && s.kind() == SpanKind::Client);
        let server = spans
            .iter()
            .find(|s| s.service == "weather-py" && s.kind() == SpanKind::Server);
        if let (Some(c), Some(s)) = (client, server) {
            return (c.clone(), s.clone());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the call's spans did not arrive");
}

fn status_code(got: &Got) -> StatusCode {
    got.span
        .status
        .as_ref()
        .and_then(|s| StatusCode::try_from(s.code).ok())
        .unwrap_or(StatusCode::Unset)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the Python worker: scripts/test-all.sh installs it and runs this"]
async fn the_python_workers_span_is_a_child_of_the_rust_client_span() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();
    let (python, port) = start_pyworker(&endpoint, "weather-py");
    let telemetry = Telemetry::builder()
        .service_name("grpc-client")
        .exporter(Exporter::Otlp {
            endpoint: Some(endpoint.clone()),
            protocol: Protocol::HttpProtobuf,
        })
        .log_layer(false)
        .metrics(false)
        .init()
        .expect("telemetry setup");
    let client = ForecastClient::new("127.0.0.1", port).unwrap();

    let mut traces = Vec::new();
    for city in ["Paris", "Atlantis"] {
        let root = OtelSpan::start(format!("ask {city}"), OtelKind::Internal, vec![]);
        let trace_id = root
            .context()
            .span()
            .span_context()
            .trace_id()
            .to_bytes()
            .to_vec();
        let result = client.forecast(city).with_context(root.context()).await;
        root.end();
        traces.push((trace_id, result));
    }
    telemetry.shutdown();

    let (paris, atlantis) = (&traces[0], &traces[1]);
    let report = paris.1.as_ref().expect("Paris has a forecast");
    assert_eq!((report.conditions.as_str(), report.celsius), ("sunny", 21));
    let status = atlantis.1.as_ref().expect_err("Atlantis has none");
    assert_eq!(status.code(), tonic::Code::NotFound);

    let (client_ok, server_ok) = call_pair(&receiver, &paris.0).await;
    child_of(&server_ok, &client_ok);
    assert_eq!(client_ok.span.name, "aitrace.demo.Weather/Forecast");
    assert_eq!(client_ok.str("rpc.status_code"), Some("OK"));
    assert_eq!(server_ok.int("rpc.grpc.status_code"), Some(0));
    assert_eq!(server_ok.str("rpc.system"), Some("grpc"));
    assert_ne!(status_code(&client_ok), StatusCode::Error);

    let (client_err, server_err) = call_pair(&receiver, &atlantis.0).await;
    child_of(&server_err, &client_err);
    assert_eq!(client_err.str("rpc.status_code"), Some("NOT_FOUND"));
    assert_eq!(client_err.int("rpc.grpc.status_code"), Some(5));
    assert_eq!(client_err.str("error.type"), Some("NOT_FOUND"));
    assert_eq!(status_code(&client_err), StatusCode::Error);
    assert_eq!(server_err.int("rpc.grpc.status_code"), Some(5));
    drop(python);
}
