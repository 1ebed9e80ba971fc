//! What the collector answered, for the OTLP/HTTP exporters.
//!
//! The OpenTelemetry SDK's HTTP exporter (opentelemetry-otlp 0.33) does two things a
//! user would not expect, both checked against its source:
//!
//! - **Throttling**: on `429`/`503` with `Retry-After` it waits the time asked, but only
//!   within the export timeout (5 s by default here). A collector asking for 30 s makes
//!   it give the batch up at once; the next batch is then sent on schedule, into the
//!   same overload.
//! - **Success**: any `2xx` counts as exported. Its body is parsed for a partial-success
//!   count only to log it (at a level our build does not show), and a body that is no
//!   OTLP response at all (an HTML page: the endpoint points at a web UI or a proxy's
//!   error page) is ignored, so spans nobody stored are counted as exported.
//!
//! [`ObservedClient`] is the HTTP client under each OTLP/HTTP exporter. It honours
//! `Retry-After` (seconds or an HTTP date, at most [`MAX_QUIET`]) by holding the request
//! and sending it again once the time has passed: the batch is not lost, and nothing is
//! sent to the collector before it asked (the other signals wait too: it is one
//! collector). Meanwhile new spans wait in the bounded export queue, and what does not
//! fit is dropped and counted, as during any outage. Shutting down ends the wait: the
//! held batch is then given up and counted as failed. After a `2xx` it reads the body:
//! an OTLP response's `partial_success` counts the spans the collector rejected, and an
//! answer that is not an OTLP response makes the batch's spans *unconfirmed* instead of
//! exported ([`ExportStats`](super::ExportStats)). Each finding is logged once.
//!
//! The gRPC exporter is left as the SDK makes it: it honours `RetryInfo` within the
//! export timeout, and a longer delay loses the batch (counted as failed).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;

/// The longest wait a collector's `Retry-After` is honoured for (the SDK's own cap).
pub(crate) const MAX_QUIET: Duration = Duration::from_secs(600);

/// How many times one request is held and sent again on the collector's request,
/// before its answer goes back to the SDK (which then gives the batch up).
const MAX_RESENDS: u32 = 5;

/// The signal an exporter sends: which OTLP response its collector answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
}

/// One collector's state, shared by the exporters of all signals: the quiet period it
/// asked for, and whether the pipeline is shutting down.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    quiet_until: Mutex<Option<Instant>>,
    wake: Condvar,
    closing: AtomicBool,
    /// Times the collector asked to wait.
    throttled: AtomicU64,
    warned_throttle: AtomicBool,
    warned_not_otlp: AtomicBool,
    warned_rejected: AtomicBool,
}

impl Collector {
    /// Times the collector answered `429`/`503` with a `Retry-After` so far.
    pub(crate) fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Shutting down: every wait ends now, and no new one begins.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Relaxed);
        // Taking the lock orders the flag with a waiter that is about to sleep.
        let _guard = self.quiet_until.lock();
        self.wake.notify_all();
    }

    fn closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    /// Records a quiet period the collector asked for (a later answer may extend it,
    /// never shorten it).
    fn quiet_for(&self, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_QUIET);
        let mut quiet = self.quiet_until.lock().unwrap_or_else(|e| e.into_inner());
        if quiet.is_none_or(|q| q < until) {
            *quiet = Some(until);
        }
    }

    /// Blocks (this is an exporter's own thread) until the quiet period, if any, is
    /// over or the pipeline shuts down. Returns false when shutdown ended a quiet
    /// period.
    fn wait_quiet(&self) -> bool {
        let mut quiet = self.quiet_until.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            match *quiet {
                // Shutting down inside a quiet period: give up the wait (with no quiet
                // period, the last exports go as usual).
                Some(until) if until > now && self.closing() => return false,
                Some(until) if until > now => {
                    quiet = self
                        .wake
                        .wait_timeout(quiet, until - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                _ => return true,
            }
        }
    }
}

/// What the collector said of the current span export, for the counting exporter.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The last `2xx` answer was not an OTLP response.
    not_otlp: AtomicBool,
    /// Spans the collector reported rejected (`partial_success.rejected_spans`).
    rejected: AtomicU64,
}

impl Outcome {
    /// A new export begins.
    pub(crate) fn reset(&self) {
        self.not_otlp.store(false, Ordering::Relaxed);
        self.rejected.store(0, Ordering::Relaxed);
    }

    /// What the finished export's answer said: (not an OTLP response, rejected spans).
    pub(crate) fn take(&self) -> (bool, u64) {
        (
            self.not_otlp.swap(false, Ordering::Relaxed),
            self.rejected.swap(0, Ordering::Relaxed),
        )
    }
}

/// The HTTP client under an OTLP/HTTP exporter: the SDK's own blocking reqwest
/// client, plus what the [module docs](self) describe.
#[derive(Debug)]
pub(crate) struct ObservedClient {
    inner: reqwest::blocking::Client,
    signal: Signal,
    collector: Arc<Collector>,
    /// For the span exporter: where the answer's verdict goes.
    outcome: Option<Arc<Outcome>>,
}

impl ObservedClient {
    /// Builds the client as the SDK does (on a thread of its own: a blocking reqwest
    /// client cannot be built inside an async runtime).
    pub(crate) fn new(
        signal: Signal,
        timeout: Duration,
        collector: Arc<Collector>,
        outcome: Option<Arc<Outcome>>,
    ) -> Result<ObservedClient, String> {
        let inner = std::thread::Builder::new()
            .name("aitrace-otlp-client".into())
            .spawn(move || {
                reqwest::blocking::Client::builder()
                    .timeout(timeout)
                    .build()
            })
            .map_err(|e| format!("cannot start a thread to build the HTTP client: {e}"))?
            .join()
            .map_err(|_| "building the HTTP client panicked".to_owned())?
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(ObservedClient {
            inner,
            signal,
            collector,
            outcome,
        })
    }

    /// Reads a `2xx` answer: counts rejections, flags an answer that is not OTLP.
    fn observe_success(&self, response: &Response<Bytes>) {
        match read_answer(self.signal, response.headers(), response.body()) {
            Answer::Otlp { rejected } => {
                if rejected > 0 {
                    if let Some(outcome) = &self.outcome {
                        outcome.rejected.fetch_add(rejected, Ordering::Relaxed);
                    }
                    if !self.collector.warned_rejected.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            target: "aitrace::export",
                            rejected,
                            signal = self.signal.name(),
                            "the collector rejected part of an export (its partial_success): \
                             counted in ExportStats::rejected; logged once"
                        );
                    }
                }
            }
            Answer::NotOtlp { content_type } => {
                if let Some(outcome) = &self.outcome {
                    outcome.not_otlp.store(true, Ordering::Relaxed);
                }
                if !self.collector.warned_not_otlp.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "aitrace::export",
                        status = response.status().as_u16(),
                        content_type = %content_type,
                        body_bytes = response.body().len(),
                        signal = self.signal.name(),
                        "the OTLP endpoint answered with something that is not an OTLP \
                         export response: is it a collector's OTLP/HTTP port (not a web UI \
                         or a proxy)? What it was sent is counted as unconfirmed \
                         (ExportStats::unconfirmed), not exported; logged once"
                    );
                }
            }
        }
    }
}

#[async_trait]
impl HttpClient for ObservedClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let mut resends = 0;
        let mut throttled: Option<Response<Bytes>> = None;
        loop {
            if !self.collector.wait_quiet() {
                // Shutting down inside a quiet period: send nothing more. The SDK gets
                // the collector's own answer back and gives the batch up (counted as
                // failed) without a retry of its own.
                return match throttled {
                    Some(response) => Ok(response),
                    None => Err("shutting down while the collector asked to wait".into()),
                };
            }
            let response = self.inner.send_bytes(copy(&request)).await?;
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                self.observe_success(&response);
                return Ok(response);
            }
            let wait = match status {
                429 | 503 => retry_after(response.headers(), SystemTime::now()),
                _ => None,
            };
            let Some(wait) = wait else {
                return Ok(response);
            };
            self.collector.throttled.fetch_add(1, Ordering::Relaxed);
            self.collector.quiet_for(wait);
            if !self.collector.warned_throttle.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    target: "aitrace::export",
                    status,
                    wait_ms = wait.min(MAX_QUIET).as_millis() as u64,
                    signal = self.signal.name(),
                    "the collector asked to wait (Retry-After): nothing is sent until then, \
                     the batch is sent again after it; new spans wait in the bounded queue \
                     (what does not fit is dropped and counted); logged once"
                );
            }
            resends += 1;
            if resends > MAX_RESENDS || self.collector.closing() {
                return Ok(response);
            }
            throttled = Some(response);
        }
    }
}

/// The same request again (the body is shared, not copied).
fn copy(request: &Request<Bytes>) -> Request<Bytes> {
    let mut again = Request::new(request.body().clone());
    *again.method_mut() = request.method().clone();
    *again.uri_mut() = request.uri().clone();
    *again.version_mut() = request.version();
    *again.headers_mut() = request.headers().clone();
    again
}

/// What a `2xx` body was.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// An OTLP export response, with the items it says were rejected.
    Otlp { rejected: u64 },
    /// Something else (its content type, for the log line; never the body).
    NotOtlp { content_type: String },
}

/// Reads an answer by its content type: protobuf (or none, as some receivers send an
/// empty body without one) must decode as the signal's response; JSON must be an object
/// (OTLP/JSON's response). Anything else is not an OTLP response.
fn read_answer(signal: Signal, headers: &HeaderMap, body: &[u8]) -> Answer {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let not_otlp = || Answer::NotOtlp {
        content_type: if content_type.is_empty() {
            "no content type".to_owned()
        } else {
            aitrace_core::bound::bounded(&content_type, 100).into_owned()
        },
    };
    if content_type.is_empty() || content_type.starts_with("application/x-protobuf") {
        let rejected = match signal {
            Signal::Traces => ExportTraceServiceResponse::decode(body)
                .map(|r| r.partial_success.map_or(0, |p| p.rejected_spans)),
            Signal::Metrics => ExportMetricsServiceResponse::decode(body)
                .map(|r| r.partial_success.map_or(0, |p| p.rejected_data_points)),
            Signal::Logs => ExportLogsServiceResponse::decode(body)
                .map(|r| r.partial_success.map_or(0, |p| p.rejected_log_records)),
        };
        return match rejected {
            Ok(n) => Answer::Otlp {
                rejected: u64::try_from(n).unwrap_or(0),
            },
            Err(_) => not_otlp(),
        };
    }
    if content_type.starts_with("application/json") {
        let field = match signal {
            Signal::Traces => "rejectedSpans",
            Signal::Metrics => "rejectedDataPoints",
            Signal::Logs => "rejectedLogRecords",
        };
        return match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(map)) => {
                // OTLP/JSON writes int64 as a string or a number.
                let rejected = map
                    .get("partialSuccess")
                    .and_then(|p| p.get(field))
                    .and_then(|n| n.as_u64().or_else(|| n.as_str()?.parse().ok()))
                    .unwrap_or(0);
                Answer::Otlp { rejected }
            }
            _ => not_otlp(),
        };
    }
    not_otlp()
}

/// The wait a `Retry-After` header asks for: delay seconds, or an HTTP date (a date in
/// the past asks for no wait). `None` when absent or unreadable.
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(MAX_QUIET));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_QUIET),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = headers(&[("retry-after", "30")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        let h = headers(&[("retry-after", "86400")]);
        assert_eq!(retry_after(&h, now), Some(MAX_QUIET));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        let h = headers(&[("retry-after", &later)]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(90)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        let h = headers(&[("retry-after", &earlier)]);
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        for bad in ["soon", "-5", "1.5", ""] {
            let h = headers(&[("retry-after", bad)]);
            assert_eq!(retry_after(&h, now), None, "{bad:?}");
        }
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn answers_are_read_by_content_type() {
        let empty = HeaderMap::new();
        // An empty body with no content type: an OTLP response with nothing rejected.
        assert_eq!(
            read_answer(Signal::Traces, &empty, b""),
            Answer::Otlp { rejected: 0 }
        );
        let proto = headers(&[("content-type", "application/x-protobuf")]);
        let partial = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "too big".into(),
            }),
        }
        .encode_to_vec();
        assert_eq!(
            read_answer(Signal::Traces, &proto, &partial),
            Answer::Otlp { rejected: 3 }
        );
        let html = headers(&[("content-type", "text/html; charset=utf-8")]);
        assert!(matches!(
            read_answer(Signal::Traces, &html, b"<html>Phoenix</html>"),
            Answer::NotOtlp { content_type } if content_type.starts_with("text/html")
        ));
        // Protobuf claimed, garbage sent.
        assert!(matches!(
            read_answer(Signal::Traces, &proto, b"<!doctype html>"),
            Answer::NotOtlp { .. }
        ));
        assert!(matches!(
            read_answer(Signal::Logs, &empty, b"garbage"),
            Answer::NotOtlp { .. }
        ));
        let json = headers(&[("content-type", "application/json")]);
        assert_eq!(
            read_answer(
                Signal::Traces,
                &json,
                br#"{"partialSuccess":{"rejectedSpans":"2"}}"#
            ),
            Answer::Otlp { rejected: 2 }
        );
        assert_eq!(
            read_answer(Signal::Metrics, &json, b"{}"),
            Answer::Otlp { rejected: 0 }
        );
        assert!(matches!(
            read_answer(Signal::Traces, &json, b"\"ok\""),
            Answer::NotOtlp { .. }
        ));
    }

    #[test]
    fn a_quiet_period_ends_early_on_shutdown() {
        let collector = Arc::new(Collector::default());
        collector.quiet_for(Duration::from_secs(60));
        let waiter = {
            let collector = Arc::clone(&collector);
            std::thread::spawn(move || {
                let start = Instant::now();
                (collector.wait_quiet(), start.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        collector.close();
        let (done, took) = waiter.join().unwrap();
        assert!(!done, "a wait ended by shutdown says so");
        assert!(took < Duration::from_secs(5), "took {took:?}");
    }

    #[test]
    fn without_a_quiet_period_shutdown_does_not_stop_sending() {
        let collector = Collector::default();
        collector.close();
        assert!(
            collector.wait_quiet(),
            "the last exports at shutdown go out"
        );
        collector.quiet_for(Duration::ZERO);
        assert!(collector.wait_quiet(), "a quiet period that is over");
    }
}
