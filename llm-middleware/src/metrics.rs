//! The GenAI client metrics, created on first use from the global meter provider.

use std::sync::OnceLock;

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

    /// Records one call. `attrs` are the call's metric attributes; the token type is
    /// added in place for the token histogram.
    pub(crate) fn record(
        &self,
        mut attrs: Vec<KeyValue>,
        duration_s: f64,
        input_tokens: Option<u64>,
        output_tokens: Option<u64>,
        ttfc_s: Option<f64>,
        cost_usd: Option<f64>,
    ) {
        let i = self.get();
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
