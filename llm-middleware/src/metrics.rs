//! The GenAI client metrics, created on first use from the global meter provider.
//!
//! Metric attributes the caller controls (the model names of the request and the
//! response, a custom provider name, the provider's error type, the server address)
//! are bounded in length and in cardinality: each keeps its first
//! [`DEFAULT_MAX_DISTINCT_VALUES`](aitrace_core::bound::DEFAULT_MAX_DISTINCT_VALUES) distinct values, process-wide, and reports any
//! other as `_OTHER`, so a gateway called with ever new model names keeps a bounded
//! number of series.

use std::sync::OnceLock;

use aitrace_core::bound::CardinalityCap;
use aitrace_core::conventions as c;
use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::{InstrumentationScope, KeyValue};

#[derive(Debug)]
pub(crate) struct Instruments {
    duration: Histogram<f64>,
    tokens: Histogram<u64>,
    ttfc: Histogram<f64>,
    cost: Counter<f64>,
}

/// Lazily made instruments: made at the first recorded call, so a meter provider
/// installed after the layer was built is still used.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    instruments: OnceLock<Instruments>,
}

impl Metrics {
    fn get(&self) -> &Instruments {
        self.instruments.get_or_init(|| {
            let scope = InstrumentationScope::builder("aitrace")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build();
            let meter = opentelemetry::global::meter_with_scope(scope);
            Instruments {
                duration: meter
                    .f64_histogram(c::METRIC_OPERATION_DURATION)
                    .with_unit("s")
                    .with_description("GenAI operation duration")
                    .with_boundaries(c::DURATION_BUCKETS.to_vec())
                    .build(),
                tokens: meter
                    .u64_histogram(c::METRIC_TOKEN_USAGE)
                    .with_unit("{token}")
                    .with_description("Number of input and output tokens used")
                    .with_boundaries(c::TOKEN_BUCKETS.to_vec())
                    .build(),
                ttfc: meter
                    .f64_histogram(c::METRIC_TIME_TO_FIRST_CHUNK)
                    .with_unit("s")
                    .with_description("Time to the first chunk of a streamed response")
                    .with_boundaries(c::DURATION_BUCKETS.to_vec())
                    .build(),
                cost: meter
                    .f64_counter(c::METRIC_COST)
                    .with_unit("USD")
                    .with_description("Cost of GenAI calls whose model is priced")
                    .build(),
            }
        })
    }

    /// Records one call. `attrs` are the call's metric attributes (capped, see the
    /// module docs); the token type is added in place for the token histogram.
    pub(crate) fn record(
        &self,
        attrs: Vec<KeyValue>,
        duration_s: f64,
        input_tokens: Option<u64>,
        output_tokens: Option<u64>,
        ttfc_s: Option<f64>,
        cost_usd: Option<f64>,
    ) {
        let i = self.get();
        let mut attrs = capped(attrs);
        i.duration.record(duration_s, &attrs);
        if let Some(t) = ttfc_s {
            i.ttfc.record(t, &attrs);
        }
        if let Some(usd) = cost_usd {
            i.cost.add(usd, &attrs);
        }
        for (tokens, kind) in [(input_tokens, "input"), (output_tokens, "output")] {
            if let Some(n) = tokens {
                attrs.push(KeyValue::new(c::GEN_AI_TOKEN_TYPE, kind));
                i.tokens.record(n, &attrs);
                attrs.pop();
            }
        }
    }
}

/// One cap per attribute the caller controls (the request's and the response's model
/// share one: they name the same models).
fn cap_for(key: &str) -> Option<&'static CardinalityCap> {
    static MODELS: OnceLock<CardinalityCap> = OnceLock::new();
    static PROVIDERS: OnceLock<CardinalityCap> = OnceLock::new();
    static ERROR_TYPES: OnceLock<CardinalityCap> = OnceLock::new();
    static SERVERS: OnceLock<CardinalityCap> = OnceLock::new();
    let cell = match key {
        c::GEN_AI_REQUEST_MODEL | c::GEN_AI_RESPONSE_MODEL => &MODELS,
        c::GEN_AI_PROVIDER_NAME => &PROVIDERS,
        c::ERROR_TYPE => &ERROR_TYPES,
        c::SERVER_ADDRESS => &SERVERS,
        _ => return None,
    };
    Some(cell.get_or_init(CardinalityCap::default))
}

/// The attributes with caller-controlled values bounded and capped.
fn capped(mut attrs: Vec<KeyValue>) -> Vec<KeyValue> {
    for kv in &mut attrs {
        if let Some(cap) = cap_for(kv.key.as_str()) {
            let value = kv.value.as_str();
            let admitted = cap.admit(&value);
            if admitted != value {
                let admitted = admitted.into_owned();
                kv.value = admitted.into();
            }
        }
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_controlled_values_are_capped() {
        let attrs = |model: &str| {
            vec![
                KeyValue::new(c::GEN_AI_OPERATION_NAME, "chat"),
                KeyValue::new(c::GEN_AI_REQUEST_MODEL, model.to_owned()),
            ]
        };
        let mut distinct = std::collections::HashSet::new();
        for i in 0..2_001 {
            let out = capped(attrs(&format!("model-{i}-{}", "x".repeat(16 * 1024))));
            assert_eq!(out[0], KeyValue::new(c::GEN_AI_OPERATION_NAME, "chat"));
            let model = out[1].value.as_str().into_owned();
            assert!(model.len() <= aitrace_core::bound::MAX_NAME_BYTES);
            distinct.insert(model);
        }
        // At most the cap's values plus `_OTHER`.
        assert!(
            distinct.len() <= aitrace_core::bound::DEFAULT_MAX_DISTINCT_VALUES + 1,
            "{}",
            distinct.len()
        );
        assert!(distinct.contains("_OTHER"));
    }
}
