//! The MCP operation- and session-duration histograms, made on first use from the
//! global meter provider (so a provider installed after the wrapper was built is still
//! used).

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

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
    cell.get_or_init(|| seconds_histogram(name, description, c::DURATION_BUCKETS))
}

/// A histogram of seconds on AITrace's meter.
fn seconds_histogram(
    name: &'static str,
    description: &'static str,
    buckets: &[f64],
) -> Histogram<f64> {
    let scope = InstrumentationScope::builder("aitrace")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    opentelemetry::global::meter_with_scope(scope)
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(buckets.to_vec())
        .build()
}

/// Records one operation's duration with its attributes.
pub(crate) fn record(side: Side, seconds: f64, attributes: &[KeyValue]) {
    histogram(side).record(seconds, attributes);
}

/// Bucket boundaries of the session durations, in seconds (the MCP conventions'
/// advice: sessions last from milliseconds to minutes).
const SESSION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

static CLIENT_SESSION: OnceLock<Histogram<f64>> = OnceLock::new();
static SERVER_SESSION: OnceLock<Histogram<f64>> = OnceLock::new();

fn session_histogram(side: Side) -> &'static Histogram<f64> {
    let (cell, name, description) = match side {
        Side::Client => (
            &CLIENT_SESSION,
            c::METRIC_MCP_CLIENT_SESSION_DURATION,
            "MCP session duration seen by the client",
        ),
        Side::Server => (
            &SERVER_SESSION,
            c::METRIC_MCP_SERVER_SESSION_DURATION,
            "MCP session duration seen by the server",
        ),
    };
    cell.get_or_init(|| seconds_histogram(name, description, &SESSION_BUCKETS))
}

/// One MCP session's clock: started once (the first time [`begin`](Self::begin) is
/// called), recorded as the session duration when dropped.
#[derive(Debug)]
pub(crate) struct SessionClock {
    side: Side,
    started: Mutex<Option<(Instant, Vec<KeyValue>)>>,
}

impl SessionClock {
    pub(crate) fn new(side: Side) -> SessionClock {
        SessionClock {
            side,
            started: Mutex::new(None),
        }
    }

    /// The session began at `at`, with these attributes (no session id: the metric's
    /// series must stay few). Later calls change nothing.
    pub(crate) fn begin(&self, at: Instant, attributes: Vec<KeyValue>) {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        if started.is_none() {
            let attributes = attributes
                .into_iter()
                .filter(|kv| kv.key.as_str() != c::MCP_SESSION_ID)
                .collect();
            *started = Some((at, attributes));
        }
    }
}

impl Drop for SessionClock {
    fn drop(&mut self) {
        let started = self
            .started
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((at, attributes)) = started {
            session_histogram(self.side).record(at.elapsed().as_secs_f64(), &attributes);
        }
    }
}
