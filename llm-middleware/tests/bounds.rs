//! Model names the caller controls are bounded where a collector sees them: 2 001
//! distinct 16 KiB model names through `GenAiMiddleware` make bounded span names and
//! attributes, and at most the cap's number of metric series (then `_OTHER`).
//!
//! Its own test binary: the metric cap is process-wide.

mod common;

use std::collections::HashSet;

use aitrace_core::bound::{DEFAULT_MAX_DISTINCT_VALUES, MAX_NAME_BYTES, OTHER};
use aitrace_core::conventions as c;
use aitrace_llm::{GenAiConfig, GenAiMiddleware};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use serde_json::json;
use tracing::Instrument;

#[tokio::test]
async fn long_and_varied_model_names_stay_bounded() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("bounds");
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(GenAiMiddleware::new(GenAiConfig::default()))
        .build();
    let calls = DEFAULT_MAX_DISTINCT_VALUES + 50;
    async {
        for i in 0..calls {
            let model = format!("model-{i}-{}", "m".repeat(16 * 1024));
            let resp = client
                .post(server.url("/v1/chat/completions"))
                .header("content-type", "application/json")
                .body(
                    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
                        .to_string(),
                )
                .send()
                .await
                .unwrap();
            let _ = resp.text().await.unwrap();
        }
    }
    .instrument(root)
    .await;

    let spans: Vec<_> = common::spans(trace)
        .into_iter()
        .filter(|s| s.name.starts_with("chat "))
        .collect();
    assert_eq!(spans.len(), calls);
    for s in &spans {
        assert!(
            s.name.len() <= "chat ".len() + MAX_NAME_BYTES,
            "{}",
            s.name.len()
        );
        let model = common::string(s, c::GEN_AI_REQUEST_MODEL);
        assert!(
            model.len() <= MAX_NAME_BYTES && model.ends_with('…'),
            "{}",
            model.len()
        );
    }

    // Metric series: one per kept model, plus `_OTHER`.
    let models = metric_models(c::METRIC_OPERATION_DURATION);
    assert!(models.contains(OTHER), "{models:?}");
    assert!(
        models.len() <= DEFAULT_MAX_DISTINCT_VALUES + 1,
        "{}",
        models.len()
    );
    assert!(models.iter().all(|m| m.len() <= MAX_NAME_BYTES));
}

/// The distinct `gen_ai.request.model` values of a histogram's points.
fn metric_models(name: &str) -> HashSet<String> {
    let all = common::finished_metrics();
    let mut models = HashSet::new();
    let Some(latest) = all.last() else {
        return models;
    };
    for sm in latest.scope_metrics() {
        for m in sm.metrics().filter(|m| m.name() == name) {
            if let AggregatedMetrics::F64(MetricData::Histogram(hist)) = m.data() {
                for p in hist.data_points() {
                    for kv in p.attributes() {
                        if kv.key.as_str() == c::GEN_AI_REQUEST_MODEL {
                            models.insert(kv.value.as_str().into_owned());
                        }
                    }
                }
            }
        }
    }
    models
}
