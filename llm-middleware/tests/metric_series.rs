//! The GenAI metrics as a collector receives them with delta temporality, where a
//! series that had no call in a collection interval must not be exported and each
//! export holds only that interval's points. The middleware records a call's points
//! through instruments bound to its attribute set (see `metrics.rs`), so this checks
//! what binding must not change: counts and sums per attribute set, no point for what
//! a call did not have (time to first chunk of a non-streamed call), and nothing
//! carried over from one interval to the next.

mod common;

use aitrace_core::conventions as c;
use aitrace_llm::{GenAiConfig, GenAiMiddleware};
use common::points;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, InMemoryMetricExporterBuilder, PeriodicReader, SdkMeterProvider,
    Temporality,
};
use opentelemetry_sdk::trace::SdkTracerProvider;
use reqwest_middleware::ClientWithMiddleware;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

struct Delta {
    exporter: InMemoryMetricExporter,
    provider: SdkMeterProvider,
}

fn delta_pipeline() -> Delta {
    let tracer_provider = SdkTracerProvider::builder().build();
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("test")))
        .init();
    let exporter = InMemoryMetricExporterBuilder::new()
        .with_temporality(Temporality::Delta)
        .build();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());
    Delta { exporter, provider }
}

impl Delta {
    /// Flushes and returns what this interval exported, forgetting earlier exports.
    fn interval(&self) -> ResourceMetrics {
        self.provider.force_flush().unwrap();
        let mut all = self.exporter.get_finished_metrics().unwrap();
        self.exporter.reset();
        assert_eq!(all.len(), 1, "one export per flush");
        all.pop().unwrap()
    }
}

async fn chat(client: &ClientWithMiddleware, url: &str, model: &str, stream: bool) {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .body(
            json!({"model": model, "stream": stream, "messages":[{"role":"user","content":"hi"}]})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap();
}

/// Three intervals with the two models; the same assertions whichever way the points
/// are recorded.
async fn three_intervals(
    delta: &Delta,
    client: &ClientWithMiddleware,
    url: &str,
    models: [&str; 2],
) {
    let a = KeyValue::new(c::GEN_AI_REQUEST_MODEL, models[0].to_owned());
    let b = KeyValue::new(c::GEN_AI_REQUEST_MODEL, models[1].to_owned());
    let input = KeyValue::new(c::GEN_AI_TOKEN_TYPE, "input");
    let output = KeyValue::new(c::GEN_AI_TOKEN_TYPE, "output");

    // Interval 1: three calls to model A, two to model B, none streamed.
    for _ in 0..3 {
        chat(client, url, models[0], false).await;
    }
    for _ in 0..2 {
        chat(client, url, models[1], false).await;
    }
    let first = delta.interval();
    let duration = c::METRIC_OPERATION_DURATION;
    assert_eq!(points(&first, duration, &[&a]).1, 3);
    assert_eq!(points(&first, duration, &[&b]).1, 2);
    // One series per model and token type, each summing its own calls' tokens.
    assert_eq!(
        points(&first, c::METRIC_TOKEN_USAGE, &[&a, &input]),
        (1, 3, 3.0 * 1200.0)
    );
    assert_eq!(
        points(&first, c::METRIC_TOKEN_USAGE, &[&a, &output]),
        (1, 3, 3.0 * 300.0)
    );
    assert_eq!(
        points(&first, c::METRIC_TOKEN_USAGE, &[&b, &input]),
        (1, 2, 2.0 * 1200.0)
    );
    // The token type is only on the token histogram.
    assert_eq!(points(&first, duration, &[&input]).0, 0);
    // No call streamed: no time-to-first-chunk series at all.
    assert_eq!(points(&first, c::METRIC_TIME_TO_FIRST_CHUNK, &[]).0, 0);
    // Model A is priced: one cost point summing its three calls.
    let (n, _, cost_a) = points(&first, c::METRIC_COST, &[&a]);
    assert_eq!(n, 1);
    assert!(cost_a > 0.0);

    // Interval 2: one streamed call to model A only.
    chat(client, url, models[0], true).await;
    let second = delta.interval();
    assert_eq!(points(&second, duration, &[&a]).1, 1);
    assert_eq!(
        points(&second, duration, &[&b]),
        (0, 0, 0.0),
        "model B had no call in this interval"
    );
    let (ttfc_points, ttfc_count, _) = points(&second, c::METRIC_TIME_TO_FIRST_CHUNK, &[&a]);
    assert_eq!((ttfc_points, ttfc_count), (1, 1));

    // Interval 3: three more non-streamed calls to model A: the first interval's cost
    // again, and no time-to-first-chunk point (that series has nothing new).
    for _ in 0..3 {
        chat(client, url, models[0], false).await;
    }
    let third = delta.interval();
    let (_, _, cost_third) = points(&third, c::METRIC_COST, &[&a]);
    assert!(
        (cost_third - cost_a).abs() < 1e-12,
        "{cost_third} vs {cost_a}"
    );
    assert_eq!(points(&third, c::METRIC_TIME_TO_FIRST_CHUNK, &[]).0, 0);
    assert_eq!(points(&third, duration, &[&b]).0, 0);
    // Nothing exported without a point: every histogram point counts at least one.
    for rm in [&first, &second, &third] {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                if let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data() {
                    assert!(h.data_points().all(|p| p.count() > 0), "{}", m.name());
                }
                if let AggregatedMetrics::U64(MetricData::Histogram(h)) = m.data() {
                    assert!(h.data_points().all(|p| p.count() > 0), "{}", m.name());
                }
            }
        }
    }
}

#[tokio::test]
async fn delta_intervals_hold_each_series_own_points_and_nothing_else() {
    let delta = delta_pipeline();
    let server = common::mock::start().await;
    let url = server.url("/v1/chat/completions");
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(GenAiMiddleware::new(GenAiConfig::default()))
        .build();
    // A meter provider not declared the SDK's: every point looked up by the SDK.
    aitrace_core::emit::set_sdk_meter_provider(false);
    three_intervals(&delta, &client, &url, ["gpt-4o-mini", "model-b"]).await;
    // Declared (as `aitrace::init()` does): points through bound instruments.
    aitrace_core::emit::set_sdk_meter_provider(true);
    three_intervals(&delta, &client, &url, ["gpt-4o", "model-c"]).await;
    // The bound series of the first models are not affected by the second round.
    chat(&client, &url, "gpt-4o-mini", false).await;
    let last = delta.interval();
    let a = KeyValue::new(c::GEN_AI_REQUEST_MODEL, "gpt-4o-mini");
    assert_eq!(points(&last, c::METRIC_OPERATION_DURATION, &[&a]).1, 1);
    let c_model = KeyValue::new(c::GEN_AI_REQUEST_MODEL, "gpt-4o");
    assert_eq!(
        points(&last, c::METRIC_OPERATION_DURATION, &[&c_model]).0,
        0
    );
}
