//! The MCP operation-duration histograms, made on first use from the global meter
//! provider (so a provider installed after the wrapper was built is still used).

use std::sync::OnceLock;

use aitrace_core::conventions as c;
use opentelemetry::metrics::Histogram;
use opentelemetry::{InstrumentationScope, KeyValue};

/// Which side measured.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    Client,
    Server,
}

static CLIENT: OnceLock<Histogram<f64>> = OnceLock::new();
static SERVER: OnceLock<Histogram<f64>> = OnceLock::new();

fn histogram(side: Side) -> &'static Histogram<f64> {
    let (cell, name, description) = match side {
        Side::Client => (
            &CLIENT,
            c::METRIC_MCP_CLIENT_OPERATION_DURATION,
            "MCP request duration seen by the client",
        ),
        Side::Server => (
            &SERVER,
            c::METRIC_MCP_SERVER_OPERATION_DURATION,
            "MCP request duration seen by the server",
        ),
    };
    cell.get_or_init(|| {
        let scope = InstrumentationScope::builder("aitrace")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        opentelemetry::global::meter_with_scope(scope)
            .f64_histogram(name)
            .with_unit("s")
            .with_description(description)
            .with_boundaries(c::DURATION_BUCKETS.to_vec())
            .build()
    })
}

/// Records one operation's duration with its attributes.
pub(crate) fn record(side: Side, seconds: f64, attributes: &[KeyValue]) {
    histogram(side).record(seconds, attributes);
}
