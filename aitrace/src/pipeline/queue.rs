//! The export queue between ending spans and the exporter: bounded, never blocking a
//! span's end, and counting every span it loses.
//!
//! The SDK's `BatchSpanProcessor` already exports from its own thread out of a bounded
//! channel, and its `on_end` never blocks. But it counts dropped spans privately and
//! says so only through the SDK's internal logs (off in our build), and it cannot tell
//! how many spans a failing collector lost. So two thin wrappers sit around it:
//!
//! - [`CountingProcessor`] admits a span only while fewer than `max_queue_size` spans
//!   wait for export (one atomic add; otherwise the span is dropped and counted), so
//!   the processor's own channel, of the same capacity, is never full: every drop is
//!   ours and counted.
//! - [`CountingExporter`] releases the spans of a batch from the count as the batch
//!   leaves the queue, and counts the spans of batches that failed to export (after the
//!   exporter's own retries and timeout), and, from what an OTLP/HTTP collector answered
//!   ([`collector`](super::collector)), the spans it rejected and those no collector
//!   confirmed.
//!
//! Memory stays bounded by `max_queue_size` waiting spans plus the one batch being
//! exported. The first queue-full drop is logged, once (not per span); a failing
//! collector is logged once when it starts failing and once when it recovers; the
//! totals are logged at shutdown.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;

use super::collector::{Collector, Outcome};

/// What the export queue did so far: read with
/// [`TelemetryGuard::export_stats`](super::TelemetryGuard::export_stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExportStats {
    /// The queue's capacity (`max_queue_size`).
    pub max_queue_size: usize,
    /// Spans waiting for export now (at most `max_queue_size`).
    pub queued: usize,
    /// Spans the collector confirmed: it answered with an OTLP export response (over
    /// OTLP/HTTP; over gRPC, an OK status) and did not report them rejected.
    pub exported: u64,
    /// Spans the collector reported rejected in its answer (`partial_success`): lost.
    pub rejected: u64,
    /// Spans sent to an OTLP/HTTP endpoint that answered `2xx` with something that is
    /// not an OTLP export response (an HTML page, say: a web UI or a proxy, not a
    /// collector): nobody confirmed storing them. Not counted as exported or dropped.
    pub unconfirmed: u64,
    /// Times the collector answered `429`/`503` with `Retry-After` (OTLP/HTTP): the
    /// exporter waited as asked and sent the batch again.
    pub throttled: u64,
    /// Spans dropped because the queue was full (the collector was slow or away).
    pub dropped_queue_full: u64,
    /// Spans lost because their batch failed to export (after retries and timeout).
    pub dropped_export_failed: u64,
    /// Spans that ended after shutdown began, not exported.
    pub dropped_after_shutdown: u64,
    /// Batches that failed to export.
    pub failed_exports: u64,
}

impl ExportStats {
    /// Every span lost, whatever the reason (queue full, export failed, rejected by the
    /// collector, ended after shutdown). [`unconfirmed`](Self::unconfirmed) spans are
    /// not in it: whether they were lost is not known.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full
            .saturating_add(self.dropped_export_failed)
            .saturating_add(self.rejected)
            .saturating_add(self.dropped_after_shutdown)
    }
}

/// Reads the export queue's counts, from anywhere, for as long as you keep it (also
/// after shutdown): for a health endpoint or a test. From
/// [`TelemetryGuard::export_monitor`](super::TelemetryGuard::export_monitor).
#[derive(Debug, Clone)]
pub struct ExportMonitor {
    counters: Arc<Counters>,
}

impl ExportMonitor {
    pub(crate) fn new(counters: Arc<Counters>) -> ExportMonitor {
        ExportMonitor { counters }
    }

    /// The counts now.
    pub fn stats(&self) -> ExportStats {
        self.counters.stats()
    }

    /// Spans lost so far ([`ExportStats::dropped`]).
    pub fn dropped_spans(&self) -> u64 {
        self.stats().dropped()
    }
}

/// The counters the processor and the exporter share.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    max_queue_size: usize,
    queued: AtomicUsize,
    exported: AtomicU64,
    rejected: AtomicU64,
    unconfirmed: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_export_failed: AtomicU64,
    dropped_after_shutdown: AtomicU64,
    failed_exports: AtomicU64,
    shut_down: AtomicBool,
    /// The first queue-full drop was logged (once per pipeline; the total is logged
    /// at shutdown and readable at any time).
    drop_logged: AtomicBool,
    /// The last export failed (logged once per outage).
    failing: AtomicBool,
    /// Spans lost since the current outage began, for the recovery log line.
    lost_in_outage: AtomicU64,
    /// The collector's answers (OTLP/HTTP): its quiet periods, shared by all signals.
    pub(crate) collector: Arc<Collector>,
    /// What the collector said of the span export in progress.
    pub(crate) outcome: Arc<Outcome>,
}

impl Counters {
    pub(crate) fn new(max_queue_size: usize) -> Arc<Counters> {
        Arc::new(Counters {
            max_queue_size,
            ..Counters::default()
        })
    }

    pub(crate) fn stats(&self) -> ExportStats {
        ExportStats {
            max_queue_size: self.max_queue_size,
            queued: self.queued.load(Ordering::Relaxed),
            exported: self.exported.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            unconfirmed: self.unconfirmed.load(Ordering::Relaxed),
            throttled: self.collector.throttled(),
            dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            dropped_export_failed: self.dropped_export_failed.load(Ordering::Relaxed),
            dropped_after_shutdown: self.dropped_after_shutdown.load(Ordering::Relaxed),
            failed_exports: self.failed_exports.load(Ordering::Relaxed),
        }
    }

    /// Takes a place in the queue, or counts a drop. Never blocks.
    fn admit(&self) -> bool {
        if self.shut_down.load(Ordering::Relaxed) {
            self.dropped_after_shutdown.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let before = self.queued.fetch_add(1, Ordering::AcqRel);
        if before < self.max_queue_size {
            return true;
        }
        self.queued.fetch_sub(1, Ordering::AcqRel);
        self.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
        self.lost_in_outage.fetch_add(1, Ordering::Relaxed);
        if !self.drop_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "aitrace::export",
                max_queue_size = self.max_queue_size,
                "the span export queue is full (is the collector slow or unreachable?): \
                 spans are dropped and counted (TelemetryGuard::dropped_spans); \
                 logged once, the total is logged at shutdown"
            );
        }
        false
    }

    fn export_done(&self, spans: usize, result: &OTelSdkResult) {
        let spans = spans as u64;
        let (not_otlp, rejected) = self.outcome.take();
        match result {
            Ok(()) if not_otlp => {
                self.unconfirmed.fetch_add(spans, Ordering::Relaxed);
            }
            Ok(()) => {
                let rejected = rejected.min(spans);
                self.rejected.fetch_add(rejected, Ordering::Relaxed);
                self.exported.fetch_add(spans - rejected, Ordering::Relaxed);
                if self.failing.swap(false, Ordering::Relaxed) {
                    let lost = self.lost_in_outage.swap(0, Ordering::Relaxed);
                    tracing::info!(
                        target: "aitrace::export",
                        lost_spans = lost,
                        "span export works again"
                    );
                }
            }
            Err(e) => {
                self.failed_exports.fetch_add(1, Ordering::Relaxed);
                self.dropped_export_failed
                    .fetch_add(spans, Ordering::Relaxed);
                self.lost_in_outage.fetch_add(spans, Ordering::Relaxed);
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "aitrace::export",
                        error = %e,
                        "span export failed: spans are lost until the collector answers \
                         again (counted in TelemetryGuard::dropped_spans; logged once)"
                    );
                }
            }
        }
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shut_down.store(true, Ordering::Relaxed);
        self.collector.close();
    }
}

/// A span processor that bounds and counts what waits for export. See the
/// [module docs](self).
#[derive(Debug)]
pub(crate) struct CountingProcessor<P> {
    inner: P,
    counters: Arc<Counters>,
}

impl<P> CountingProcessor<P> {
    pub(crate) fn new(inner: P, counters: Arc<Counters>) -> Self {
        CountingProcessor { inner, counters }
    }
}

impl<P: SpanProcessor> SpanProcessor for CountingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.counters.admit() {
            self.inner.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.counters.begin_shutdown();
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A span exporter that counts what it exported and what it lost. See the
/// [module docs](self).
#[derive(Debug)]
pub(crate) struct CountingExporter<E> {
    inner: E,
    counters: Arc<Counters>,
}

impl<E> CountingExporter<E> {
    pub(crate) fn new(inner: E, counters: Arc<Counters>) -> Self {
        CountingExporter { inner, counters }
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        // The batch has left the queue: room for new spans while it is sent.
        let _ = self
            .counters
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(spans))
            });
        self.counters.outcome.reset();
        let result = self.inner.export(batch).await;
        self.counters.export_done(spans, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
    use std::sync::Mutex;
    use std::time::Instant;

    /// An exporter that waits on a gate (a collector that does not answer) and then
    /// fails or succeeds.
    #[derive(Debug, Clone)]
    struct Gate {
        open: Arc<Mutex<bool>>,
        fail: Arc<AtomicBool>,
        received: Arc<AtomicUsize>,
    }

    impl SpanExporter for Gate {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !*self.open.lock().unwrap() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if self.fail.load(Ordering::Relaxed) {
                return Err(OTelSdkError::InternalFailure("collector down".into()));
            }
            self.received.fetch_add(batch.len(), Ordering::Relaxed);
            Ok(())
        }
    }

    #[test]
    fn drops_are_counted_and_every_span_is_accounted_for() {
        let gate = Gate {
            open: Arc::new(Mutex::new(false)),
            fail: Arc::new(AtomicBool::new(false)),
            received: Arc::new(AtomicUsize::new(0)),
        };
        let counters = Counters::new(16);
        let batch =
            BatchSpanProcessor::builder(CountingExporter::new(gate.clone(), Arc::clone(&counters)))
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_max_queue_size(16)
                        .with_max_export_batch_size(4)
                        .with_scheduled_delay(Duration::from_millis(10))
                        .build(),
                )
                .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(CountingProcessor::new(batch, Arc::clone(&counters)))
            .build();
        let tracer = provider.tracer("test");
        let start = Instant::now();
        for i in 0..1000 {
            tracer.in_span(format!("span {i}"), |_| {});
            assert!(counters.stats().queued <= 16);
        }
        // 1000 span ends while the exporter is stuck: none waited on it.
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        let stats = counters.stats();
        assert!(stats.dropped_queue_full >= 1000 - 16 - 4, "{stats:?}");
        // The collector comes back: what was queued arrives, and new spans too.
        *gate.open.lock().unwrap() = true;
        provider.force_flush().unwrap();
        tracer.in_span("after", |_| {});
        provider.force_flush().unwrap();
        let stats = counters.stats();
        let received = gate.received.load(Ordering::Relaxed) as u64;
        assert_eq!(stats.exported, received);
        assert_eq!(received + stats.dropped(), 1001, "{stats:?}");
        assert_eq!(stats.queued, 0);
        // A failing collector: its batches are counted as lost.
        gate.fail.store(true, Ordering::Relaxed);
        for _ in 0..3 {
            tracer.in_span("lost", |_| {});
        }
        let _ = provider.force_flush();
        let stats = counters.stats();
        assert_eq!(stats.dropped_export_failed, 3, "{stats:?}");
        assert!(stats.failed_exports >= 1);
        provider.shutdown().unwrap();
    }
}
