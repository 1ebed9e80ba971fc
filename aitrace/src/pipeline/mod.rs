//! The pipeline `init()` installs (documented at the crate root): the builder and the
//! guard here; the local files, the log line format, the bounded export queue, the
//! force-sampling sampler and the exit summary in their own modules.

mod collector;
mod file;
mod log;
mod queue;
mod sampler;
mod summary;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, ShouldSample,
};
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use collector::{ObservedClient, Signal};
pub use file::{FileLogExporter, FileMetricExporter, FileSpanExporter, Rotation};
use queue::{Counters, CountingExporter, CountingProcessor};
pub use queue::{ExportMonitor, ExportStats};
use sampler::ForceSampler;
use summary::Recent;

/// Errors from setting telemetry up. The application can always go on without it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// An exporter could not be built (bad endpoint, TLS, ...).
    #[error("cannot build the {what} exporter: {message}")]
    Exporter {
        /// Which exporter.
        what: &'static str,
        /// The cause.
        message: String,
    },
    /// The trace directory or file could not be created.
    #[error("cannot create the trace file in {dir}: {source}")]
    TraceFile {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A global `tracing` subscriber was already installed.
    #[error("a global tracing subscriber is already installed: {0} (use `.install_subscriber(false)` and add the layers yourself)")]
    SubscriberExists(String),
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (port 4317 by convention).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (port 4318 by convention).
    HttpProtobuf,
}

impl Protocol {
    /// Parses a value of `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn parse(value: &str) -> Result<Protocol, SetupError> {
        match value.trim() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" | "http" => Ok(Protocol::HttpProtobuf),
            other => Err(SetupError::Config(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={other:?} is not supported (use grpc or http/protobuf)"
            ))),
        }
    }
}

/// Where spans are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exporter {
    /// Decide from the environment (the default).
    FromEnv,
    /// OTLP to a collector. `endpoint` `None` lets the OTLP exporter read
    /// `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT` or use its default.
    Otlp {
        /// Base endpoint, e.g. `http://localhost:4317` or `http://localhost:4318`.
        endpoint: Option<String>,
        /// Transport.
        protocol: Protocol,
    },
    /// OTLP/JSON lines in a file under `dir`.
    File {
        /// Directory of trace files.
        dir: PathBuf,
    },
    /// No export (spans still carry ids and propagate).
    None,
}

/// Builder for the telemetry pipeline. See the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct Telemetry {
    service_name: Option<String>,
    resource: Vec<KeyValue>,
    exporter: Exporter,
    print_tree: Option<bool>,
    install_subscriber: bool,
    log_layer: bool,
    log_filter: Option<String>,
    span_filter: Option<String>,
    sampling_ratio: Option<f64>,
    max_queue_size: Option<usize>,
    scheduled_delay: Option<Duration>,
    export_timeout: Duration,
    shutdown_timeout: Duration,
    metrics: Option<bool>,
    logs: Option<bool>,
    openinference: Option<bool>,
    disabled: Option<bool>,
    strict_trace_dir: Option<bool>,
    rotation: Option<Rotation>,
}

impl Default for Telemetry {
    fn default() -> Telemetry {
        Telemetry {
            service_name: None,
            resource: Vec::new(),
            exporter: Exporter::FromEnv,
            print_tree: None,
            install_subscriber: true,
            log_layer: true,
            log_filter: None,
            span_filter: None,
            sampling_ratio: None,
            max_queue_size: None,
            scheduled_delay: None,
            export_timeout: EXPORT_TIMEOUT,
            shutdown_timeout: SHUTDOWN_TIMEOUT,
            metrics: None,
            logs: None,
            openinference: None,
            disabled: None,
            strict_trace_dir: None,
            rotation: None,
        }
    }
}

/// Sets telemetry up from the environment. Same as `Telemetry::builder().init()`.
///
/// ```no_run
/// # fn main() -> Result<(), aitrace::SetupError> {
/// let guard = aitrace::init()?;
/// // ... run the application ...
/// drop(guard); // flushes, and prints the tree when writing a local trace file
/// # Ok(()) }
/// ```
pub fn init() -> Result<TelemetryGuard, SetupError> {
    Telemetry::builder().init()
}

impl Telemetry {
    /// A builder with everything read from the environment.
    pub fn builder() -> Telemetry {
        Telemetry::default()
    }

    /// `service.name` (else `OTEL_SERVICE_NAME`, else the SDK's default).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Adds a resource attribute.
    pub fn resource_attribute(mut self, kv: KeyValue) -> Self {
        self.resource.push(kv);
        self
    }

    /// Where spans go.
    pub fn exporter(mut self, exporter: Exporter) -> Self {
        self.exporter = exporter;
        self
    }

    /// Print the trace tree from the trace file when the guard drops (file exporter
    /// only; default: on unless `AITRACE_PRINT_TREE=false`).
    pub fn print_tree(mut self, on: bool) -> Self {
        self.print_tree = Some(on);
        self
    }

    /// Whether to install the global `tracing` subscriber (default `true`). Without
    /// it, add `tracing_opentelemetry::layer().with_tracer(guard.tracer("..."))` to
    /// your own subscriber.
    pub fn install_subscriber(mut self, on: bool) -> Self {
        self.install_subscriber = on;
        self
    }

    /// Whether the installed subscriber prints logs to stderr (default `true`).
    pub fn log_layer(mut self, on: bool) -> Self {
        self.log_layer = on;
        self
    }

    /// Filter of the log layer, `RUST_LOG` syntax (default: `RUST_LOG`, else `info`).
    pub fn log_filter(mut self, filter: impl Into<String>) -> Self {
        self.log_filter = Some(filter.into());
        self
    }

    /// Which `tracing` spans (yours and your libraries') the installed subscriber
    /// exports, `RUST_LOG` syntax (else `AITRACE_SPAN_FILTER`, else `info`). AITrace's
    /// own layers are not `tracing` spans and are not filtered by it. For example, a
    /// framework's spans that double ours (rig's `chat` spans):
    ///
    /// ```no_run
    /// # fn main() -> Result<(), aitrace::SetupError> {
    /// let _guard = aitrace::Telemetry::builder()
    ///     .span_filter("info,rig::agent_chat=off,rig::completions=off")
    ///     .init()?;
    /// # Ok(()) }
    /// ```
    pub fn span_filter(mut self, filter: impl Into<String>) -> Self {
        self.span_filter = Some(filter.into());
        self
    }

    /// Samples this ratio of new traces, following the parent's decision otherwise
    /// (else `OTEL_TRACES_SAMPLER`/`_ARG`, else everything). Whatever the sampler,
    /// spans started in a force-sampled context ([`aitrace_core::sampling`]: marked in
    /// code, or by the server layer's force-sample header) are recorded.
    pub fn sampling_ratio(mut self, ratio: f64) -> Self {
        self.sampling_ratio = Some(ratio);
        self
    }

    /// Most spans waiting for export; more are dropped, never buffered (else
    /// `OTEL_BSP_MAX_QUEUE_SIZE`, else 2048).
    pub fn max_queue_size(mut self, size: usize) -> Self {
        self.max_queue_size = Some(size.max(1));
        self
    }

    /// How often the batch processor exports (else `OTEL_BSP_SCHEDULE_DELAY` in ms, else
    /// 500 ms).
    pub fn scheduled_delay(mut self, delay: Duration) -> Self {
        self.scheduled_delay = Some(delay);
        self
    }

    /// Longest one OTLP export may take, retries included (default 5 s). A collector
    /// that does not answer in time loses that batch (counted in
    /// [`TelemetryGuard::dropped_spans`]).
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = timeout;
        self
    }

    /// Longest [`TelemetryGuard::shutdown`] (or dropping the guard) and
    /// [`TelemetryGuard::flush`] wait for the exporters, even when the collector is gone
    /// (default 5 s). What is not exported by then is lost.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Whether to install the metrics pipeline (default: on unless
    /// `OTEL_METRICS_EXPORTER=none`).
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = Some(on);
        self
    }

    /// Whether to export logs: the application's `tracing` events (with the trace and
    /// span ids of the span they happen in) and the layers' events, as OTLP log
    /// records (default: on unless `OTEL_LOGS_EXPORTER=none`). They go where spans go:
    /// the same collector and protocol (`OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` overrides
    /// the endpoint), or a `logs-*.jsonl` file next to the trace file. The events
    /// bridged are those the log filter ([`log_filter`](Self::log_filter)) passes.
    pub fn logs(mut self, on: bool) -> Self {
        self.logs = Some(on);
        self
    }

    /// The process-wide OpenInference switch ([`aitrace_core::openinference`]): every
    /// layer without its own `with_openinference` also emits OpenInference attributes
    /// (else `AITRACE_OPENINFERENCE`, else off). Phoenix 20 and later read `gen_ai.*`
    /// themselves and do not need it.
    pub fn openinference(mut self, on: bool) -> Self {
        self.openinference = Some(on);
        self
    }

    /// Whether a trace directory that cannot be written fails [`init`](Telemetry::init)
    /// (else `AITRACE_TRACE_DIR_STRICT`; default off: telemetry never stops an
    /// application from starting, so the files go to a directory under the system's
    /// temporary directory instead, with one warning on stderr).
    pub fn strict_trace_dir(mut self, strict: bool) -> Self {
        self.strict_trace_dir = Some(strict);
        self
    }

    /// Rotation of the local files by size (else `AITRACE_TRACE_FILE_MAX_BYTES` and
    /// `AITRACE_TRACE_FILE_KEEP`; default 64 MiB parts, 8 kept).
    pub fn trace_file_rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = Some(rotation);
        self
    }

    /// Turns everything off (else `OTEL_SDK_DISABLED`).
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = Some(disabled);
        self
    }

    /// Installs the pipeline. gRPC export runs on a small runtime thread of its own, so
    /// it works with or without a Tokio runtime and never blocks the application's.
    pub fn init(self) -> Result<TelemetryGuard, SetupError> {
        let disabled = self
            .disabled
            .unwrap_or_else(|| env_flag("OTEL_SDK_DISABLED").unwrap_or(false));
        if disabled {
            return Ok(TelemetryGuard::disabled());
        }
        install_crypto_provider();
        let resource = self.resource();
        let exporter = self.resolve_exporter()?;
        let runtime = match exporter {
            Exporter::Otlp {
                protocol: Protocol::Grpc,
                ..
            } => Some(RuntimeThread::start()?),
            _ => None,
        };
        let _entered = runtime.as_ref().map(|r| r.handle.enter());

        if let Some(on) = self.openinference {
            aitrace_core::openinference::set_enabled(on);
        }
        // The configured sampler (code, else OTEL_TRACES_SAMPLER as the SDK reads it),
        // with force-sampled contexts always kept.
        let sampler: Box<dyn ShouldSample> = match self.sampling_ratio {
            Some(ratio) => Box::new(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                ratio.clamp(0.0, 1.0),
            )))),
            None => opentelemetry_sdk::trace::Config::default().sampler,
        };
        let mut tracer_builder = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_sampler(ForceSampler::new(sampler));
        // Code wins over OTEL_BSP_*, which wins over the defaults (2048 spans, 500 ms).
        let max_queue_size = self
            .max_queue_size
            .or_else(|| env_number("OTEL_BSP_MAX_QUEUE_SIZE"))
            .unwrap_or(2048)
            .max(1);
        let scheduled_delay = self.scheduled_delay.unwrap_or_else(|| {
            Duration::from_millis(env_number("OTEL_BSP_SCHEDULE_DELAY").unwrap_or(500) as u64)
        });
        let batch_size = env_number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
            .unwrap_or(512)
            .clamp(1, max_queue_size);
        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(max_queue_size)
            .with_scheduled_delay(scheduled_delay)
            .with_max_export_batch_size(batch_size)
            .build();
        let counters = Counters::new(max_queue_size);
        let metrics_on = self.metrics.unwrap_or_else(|| {
            non_empty_env("OTEL_METRICS_EXPORTER")
                .is_none_or(|v| !v.trim().eq_ignore_ascii_case("none"))
        });
        let logs_on = self.logs.unwrap_or_else(|| {
            non_empty_env("OTEL_LOGS_EXPORTER")
                .is_none_or(|v| !v.trim().eq_ignore_ascii_case("none"))
        });
        let mut meter_builder = SdkMeterProvider::builder().with_resource(resource.clone());
        let mut logger_builder = SdkLoggerProvider::builder().with_resource(resource.clone());
        let mut trace_file = None;
        let mut log_file = None;
        let mut recent = None;
        match &exporter {
            Exporter::Otlp { endpoint, protocol } => {
                let span_exporter = build_otlp_span_exporter(
                    endpoint.as_deref(),
                    *protocol,
                    self.export_timeout,
                    &counters,
                )?;
                tracer_builder =
                    tracer_builder.with_span_processor(bounded(span_exporter, batch, &counters));
                if metrics_on {
                    let metric_exporter = build_otlp_metric_exporter(
                        endpoint.as_deref(),
                        *protocol,
                        self.export_timeout,
                        &counters,
                    )?;
                    meter_builder = meter_builder.with_periodic_exporter(metric_exporter);
                }
                if logs_on {
                    let log_exporter = build_otlp_log_exporter(
                        endpoint.as_deref(),
                        *protocol,
                        self.export_timeout,
                        &counters,
                    )?;
                    logger_builder = logger_builder.with_batch_exporter(log_exporter);
                }
            }
            Exporter::File { dir } => {
                let service = resource
                    .get(&opentelemetry::Key::from_static_str("service.name"))
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "unknown_service".to_owned());
                let kept = Arc::new(Recent::default());
                let rotation = self.rotation.unwrap_or_else(Rotation::from_env);
                let strict = self
                    .strict_trace_dir
                    .unwrap_or_else(|| env_flag("AITRACE_TRACE_DIR_STRICT").unwrap_or(false));
                let (span_exporter, dir) = match FileSpanExporter::create_in(dir, &service) {
                    Ok(e) => (e, dir.clone()),
                    Err(e) if strict => return Err(e),
                    Err(e) => {
                        let fallback = std::env::temp_dir().join("aitrace-traces");
                        let exporter = FileSpanExporter::create_in(&fallback, &service)?;
                        eprintln!(
                            "aitrace: {e}; writing traces to {} instead \
                             (AITRACE_TRACE_DIR_STRICT=true makes this an error)",
                            fallback.display()
                        );
                        (exporter, fallback)
                    }
                };
                let dir = &dir;
                let span_exporter = span_exporter
                    .with_rotation(rotation)
                    .with_recent(Arc::clone(&kept));
                recent = Some(kept);
                trace_file = Some(span_exporter.path().to_path_buf());
                tracer_builder =
                    tracer_builder.with_span_processor(bounded(span_exporter, batch, &counters));
                if metrics_on {
                    let metric_exporter =
                        FileMetricExporter::create_in(dir, &service)?.with_rotation(rotation);
                    meter_builder = meter_builder.with_periodic_exporter(metric_exporter);
                }
                if logs_on {
                    let log_exporter =
                        FileLogExporter::create_in(dir, &service)?.with_rotation(rotation);
                    log_file = Some(log_exporter.path().to_path_buf());
                    logger_builder = logger_builder.with_batch_exporter(log_exporter);
                }
            }
            Exporter::None | Exporter::FromEnv => {}
        }
        let tracer_provider = tracer_builder.build();
        let meter_provider = metrics_on.then(|| meter_builder.build());
        let exporting = matches!(exporter, Exporter::Otlp { .. } | Exporter::File { .. });
        let logger_provider = (logs_on && exporting).then(|| logger_builder.build());
        if let Some(lp) = &logger_provider {
            // The layers' structured events (aitrace_core::events) go out through it.
            aitrace_core::logs::install(lp);
        }

        // W3C trace context, and W3C baggage: it carries nothing unless the application
        // puts something there (e.g. `context::scope().propagate_in_baggage(true)`).
        opentelemetry::global::set_text_map_propagator(
            opentelemetry::propagation::TextMapCompositePropagator::new(vec![
                Box::new(aitrace_core::propagation::TraceContext::new()),
                Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
            ]),
        );
        opentelemetry::global::set_tracer_provider(tracer_provider.clone());
        if let Some(mp) = &meter_provider {
            opentelemetry::global::set_meter_provider(mp.clone());
            // The layers may bind their metric instruments (see the function's docs).
            aitrace_core::emit::set_sdk_meter_provider(true);
        }

        if self.install_subscriber {
            let tracer = tracer_provider.tracer("aitrace");
            let otel_layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_tracked_inactivity(false)
                .with_threads(false)
                .with_location(false);
            let filter = self
                .log_filter
                .clone()
                .or_else(|| std::env::var("RUST_LOG").ok())
                .unwrap_or_else(|| "info".to_owned());
            // The application's events as OTLP log records. The exporters' own crates
            // are left out: their events about an export must not feed the next one.
            let bridge = logger_provider.as_ref().map(|lp| {
                OpenTelemetryTracingBridge::new(lp)
                    .with_filter(EnvFilter::new(format!("{filter},{}", EXPORTER_TARGETS_OFF)))
            });
            let log_layer = self.log_layer.then(|| {
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .event_format(log::TraceIdFormat::default())
                    .with_filter(EnvFilter::new(filter))
            });
            let span_filter = self
                .span_filter
                .clone()
                .or_else(|| non_empty_env("AITRACE_SPAN_FILTER"))
                .unwrap_or_else(|| "info".to_owned());
            tracing_subscriber::registry()
                .with(otel_layer.with_filter(EnvFilter::new(span_filter)))
                .with(log_layer)
                .with(bridge)
                .try_init()
                .map_err(|e| SetupError::SubscriberExists(e.to_string()))?;
        }

        let print_tree = trace_file.is_some()
            && self
                .print_tree
                .unwrap_or_else(|| env_flag("AITRACE_PRINT_TREE").unwrap_or(true));
        Ok(TelemetryGuard {
            inner: Some(Installed {
                tracer_provider,
                meter_provider,
                logger_provider,
                trace_file,
                log_file,
                recent,
                print_tree,
                counters,
                shutdown_timeout: self.shutdown_timeout,
                _runtime: runtime,
            }),
        })
    }

    fn resource(&self) -> Resource {
        let mut builder = Resource::builder();
        if let Some(name) = &self.service_name {
            builder = builder.with_service_name(name.clone());
        }
        builder
            .with_attributes(self.resource.iter().cloned())
            .with_attribute(KeyValue::new("telemetry.distro.name", "aitrace"))
            .with_attribute(KeyValue::new(
                "telemetry.distro.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build()
    }

    fn resolve_exporter(&self) -> Result<Exporter, SetupError> {
        if self.exporter != Exporter::FromEnv {
            return Ok(self.exporter.clone());
        }
        match std::env::var("OTEL_TRACES_EXPORTER")
            .ok()
            .as_deref()
            .map(str::trim)
        {
            Some("none") => return Ok(Exporter::None),
            Some("otlp") | Some("") | None => {}
            Some("file") | Some("console") => return Ok(file_exporter_from_env()),
            Some(other) => {
                return Err(SetupError::Config(format!(
                    "OTEL_TRACES_EXPORTER={other:?} is not supported (use otlp, file or none)"
                )))
            }
        }
        let endpoint = non_empty_env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| non_empty_env("OTEL_EXPORTER_OTLP_ENDPOINT"));
        if endpoint.is_none() {
            return Ok(file_exporter_from_env());
        }
        let protocol = match non_empty_env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| non_empty_env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        {
            Some(p) => Protocol::parse(&p)?,
            None => Protocol::HttpProtobuf,
        };
        // The OTLP exporter reads the endpoint variables itself (and appends
        // `/v1/traces` for HTTP), so it is not passed here.
        Ok(Exporter::Otlp {
            endpoint: None,
            protocol,
        })
    }
}

/// With `tls-ring` alone, reqwest (built without a provider of its own) and tonic use
/// the process-wide rustls provider: ring, unless the application installed one first.
fn install_crypto_provider() {
    #[cfg(all(feature = "tls-ring", not(feature = "tls-aws-lc")))]
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Lost a race with another installer: theirs is used, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn file_exporter_from_env() -> Exporter {
    Exporter::File {
        dir: non_empty_env("AITRACE_TRACE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("traces")),
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_number(name: &str) -> Option<usize> {
    non_empty_env(name)?.trim().parse().ok()
}

fn env_flag(name: &str) -> Option<bool> {
    let value = non_empty_env(name)?;
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The batch processor behind the counting, bounded queue (see [`queue`]).
fn bounded<E>(
    exporter: E,
    config: opentelemetry_sdk::trace::BatchConfig,
    counters: &Arc<Counters>,
) -> CountingProcessor<BatchSpanProcessor>
where
    E: opentelemetry_sdk::trace::SpanExporter + 'static,
{
    let exporter = CountingExporter::new(exporter, Arc::clone(counters));
    let batch = BatchSpanProcessor::builder(exporter)
        .with_batch_config(config)
        .build();
    CountingProcessor::new(batch, Arc::clone(counters))
}

/// An OTLP exporter of one signal over either transport: the span and metric
/// exporters have the same builders but no common trait, hence a macro.
macro_rules! otlp_exporter {
    ($name:ident, $exporter:ty, $signal:expr, $what:literal, $http_path:literal) => {
        fn $name(
            endpoint: Option<&str>,
            protocol: Protocol,
            timeout: Duration,
            counters: &Counters,
        ) -> Result<$exporter, SetupError> {
            let err = |e: opentelemetry_otlp::ExporterBuildError| SetupError::Exporter {
                what: $what,
                message: e.to_string(),
            };
            match protocol {
                Protocol::Grpc => {
                    let mut b = <$exporter>::builder().with_tonic().with_timeout(timeout);
                    if let Some(e) = endpoint {
                        b = b.with_endpoint(e);
                    }
                    b.build().map_err(err)
                }
                Protocol::HttpProtobuf => {
                    // Our client under the SDK's exporter: honours Retry-After, reads
                    // what the collector answered (see `collector`).
                    let outcome =
                        ($signal == Signal::Traces).then(|| Arc::clone(&counters.outcome));
                    let client = ObservedClient::new(
                        $signal,
                        timeout,
                        Arc::clone(&counters.collector),
                        outcome,
                    )
                    .map_err(|message| SetupError::Exporter {
                        what: $what,
                        message,
                    })?;
                    let mut b = <$exporter>::builder()
                        .with_http()
                        .with_http_client(client)
                        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                        .with_timeout(timeout);
                    if let Some(e) = endpoint {
                        b = b.with_endpoint(format!("{}{}", e.trim_end_matches('/'), $http_path));
                    }
                    b.build().map_err(err)
                }
            }
        }
    };
}

otlp_exporter!(
    build_otlp_span_exporter,
    opentelemetry_otlp::SpanExporter,
    Signal::Traces,
    "OTLP span",
    "/v1/traces"
);
otlp_exporter!(
    build_otlp_metric_exporter,
    opentelemetry_otlp::MetricExporter,
    Signal::Metrics,
    "OTLP metric",
    "/v1/metrics"
);
otlp_exporter!(
    build_otlp_log_exporter,
    opentelemetry_otlp::LogExporter,
    Signal::Logs,
    "OTLP log",
    "/v1/logs"
);

/// Crates whose events are not bridged to OTLP logs: the export path itself.
const EXPORTER_TARGETS_OFF: &str =
    "opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off,hyper=off,hyper_util=off,h2=off,tonic=off,tower=off,reqwest=off";

/// A Tokio runtime on its own thread for the gRPC channel. The export never runs on
/// the application's runtime: flushing at shutdown from inside a current-thread
/// runtime would otherwise wait on the very thread it blocks. Stops with the guard.
#[derive(Debug)]
struct RuntimeThread {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RuntimeThread {
    fn start() -> Result<RuntimeThread, SetupError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SetupError::Exporter {
                what: "OTLP gRPC",
                message: format!("cannot start a runtime for the gRPC channel: {e}"),
            })?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("aitrace-otlp".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Exports still in flight to a dead collector are abandoned, not
                // waited for.
                runtime.shutdown_timeout(Duration::from_millis(100));
            })
            .map_err(|e| SetupError::Exporter {
                what: "OTLP gRPC",
                message: format!("cannot start the runtime thread: {e}"),
            })?;
        Ok(RuntimeThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Debug)]
struct Installed {
    tracer_provider: SdkTracerProvider,
    meter_provider: Option<SdkMeterProvider>,
    logger_provider: Option<SdkLoggerProvider>,
    trace_file: Option<PathBuf>,
    log_file: Option<PathBuf>,
    recent: Option<Arc<Recent>>,
    print_tree: bool,
    counters: Arc<Counters>,
    shutdown_timeout: Duration,
    // Dropped last: the exporters shut down while the gRPC runtime still runs.
    _runtime: Option<RuntimeThread>,
}

/// Keeps the pipeline alive; flushes and shuts it down when dropped.
#[derive(Debug)]
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    inner: Option<Installed>,
}

impl TelemetryGuard {
    fn disabled() -> TelemetryGuard {
        TelemetryGuard { inner: None }
    }

    /// Whether telemetry is on (`false` under `OTEL_SDK_DISABLED=true`).
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// The local trace file, when spans go to one.
    pub fn trace_file(&self) -> Option<&Path> {
        self.inner.as_ref()?.trace_file.as_deref()
    }

    /// The tracer provider (also installed globally), for adding the
    /// tracing-opentelemetry layer to your own subscriber.
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.inner.as_ref().map(|i| &i.tracer_provider)
    }

    /// The meter provider (also installed globally), when metrics are on.
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.inner.as_ref()?.meter_provider.as_ref()
    }

    /// The logger provider, when logs are exported: the installed subscriber bridges
    /// `tracing` events to it, and the layers emit their events through it
    /// ([`aitrace_core::logs`]). Add `OpenTelemetryTracingBridge::new(provider)` to your
    /// own subscriber when you install it yourself.
    pub fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.inner.as_ref()?.logger_provider.as_ref()
    }

    /// What the guard prints when it drops, when spans go to a local file: the last
    /// few traces as trees, the totals of every trace since start and where the file
    /// is; from memory, so it takes no longer after a week than after a minute. Spans
    /// still queued are not in it yet: [`flush`](Self::flush) first.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), aitrace::SetupError> {
    /// let guard = aitrace::Telemetry::builder().print_tree(false).init()?;
    /// // ... run ...
    /// guard.flush();
    /// if let Some(summary) = guard.summary() {
    ///     eprintln!("{summary}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn summary(&self) -> Option<String> {
        let inner = self.inner.as_ref()?;
        Some(inner.recent.as_ref()?.render(inner.trace_file.as_deref()?))
    }

    /// The local logs file, when logs go to one (it exists once a record was written).
    pub fn log_file(&self) -> Option<&Path> {
        self.inner.as_ref()?.log_file.as_deref()
    }

    /// Exports everything finished so far; waits at most the shutdown timeout.
    pub fn flush(&self) {
        if let Some(inner) = &self.inner {
            let tp = inner.tracer_provider.clone();
            let mut jobs: Vec<Job> = vec![Box::new(move || {
                let _ = tp.force_flush();
            })];
            if let Some(mp) = inner.meter_provider.clone() {
                jobs.push(Box::new(move || {
                    let _ = mp.force_flush();
                }));
            }
            if let Some(lp) = inner.logger_provider.clone() {
                jobs.push(Box::new(move || {
                    let _ = lp.force_flush();
                }));
            }
            within(inner.shutdown_timeout, jobs);
        }
    }

    /// Spans lost so far: dropped because the export queue was full, lost with a
    /// batch the collector did not take, or ended after shutdown began. `0` when
    /// nothing is exported.
    pub fn dropped_spans(&self) -> u64 {
        self.export_stats().map_or(0, |s| s.dropped())
    }

    /// The export queue's counts (`None` when telemetry is off).
    pub fn export_stats(&self) -> Option<ExportStats> {
        self.inner.as_ref().map(|i| i.counters.stats())
    }

    /// A handle that reads the export queue's counts from anywhere, also after
    /// shutdown (`None` when telemetry is off).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), aitrace::SetupError> {
    /// let guard = aitrace::init()?;
    /// let monitor = guard.export_monitor();
    /// // ... run ...
    /// guard.shutdown();
    /// if let Some(m) = monitor {
    ///     println!("spans lost: {}", m.dropped_spans());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn export_monitor(&self) -> Option<ExportMonitor> {
        self.inner
            .as_ref()
            .map(|i| ExportMonitor::new(Arc::clone(&i.counters)))
    }

    /// Flushes and shuts down now, returning the trace file, if any (the same as
    /// dropping the guard, but the tree is not printed).
    pub fn shutdown(mut self) -> Option<PathBuf> {
        let inner = self.inner.take()?;
        shutdown(&inner);
        inner.trace_file.clone()
    }
}

/// Shuts down within the shutdown timeout, even with the collector gone: traces,
/// metrics and logs in parallel (the meter provider takes no timeout of its own), then
/// the totals of what was lost, logged once.
fn shutdown(inner: &Installed) {
    // A collector's quiet period (Retry-After) ends now for every signal.
    inner.counters.collector.close();
    if inner.logger_provider.is_some() {
        aitrace_core::logs::uninstall();
    }
    let tp = inner.tracer_provider.clone();
    let timeout = inner.shutdown_timeout;
    let mut jobs: Vec<Job> = vec![Box::new(move || {
        let _ = tp.shutdown_with_timeout(timeout);
    })];
    if let Some(mp) = inner.meter_provider.clone() {
        jobs.push(Box::new(move || {
            let _ = mp.shutdown();
        }));
    }
    if let Some(lp) = inner.logger_provider.clone() {
        jobs.push(Box::new(move || {
            let _ = lp.shutdown_with_timeout(timeout);
        }));
    }
    within(timeout, jobs);
    let stats = inner.counters.stats();
    if stats.dropped() > 0 {
        tracing::warn!(
            target: "aitrace::export",
            dropped = stats.dropped(),
            queue_full = stats.dropped_queue_full,
            export_failed = stats.dropped_export_failed,
            rejected = stats.rejected,
            exported = stats.exported,
            "spans were lost during this run"
        );
    }
    if stats.unconfirmed > 0 {
        tracing::warn!(
            target: "aitrace::export",
            unconfirmed = stats.unconfirmed,
            exported = stats.exported,
            "spans were sent to an endpoint that did not answer as an OTLP collector"
        );
    }
}

/// A blocking step of flushing or shutting down.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// Runs the jobs on helper threads in parallel and returns when all are done or
/// `timeout` has passed: a job still blocked on a dead collector is left to finish on
/// its own (the SDK bounds each of them, with longer limits than ours).
fn within(timeout: Duration, jobs: Vec<Job>) {
    let deadline = Instant::now() + timeout;
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let mut running = 0;
    for job in jobs {
        let done = done.clone();
        // A job that cannot get a thread runs here; it is moved only on success.
        let job = Arc::new(Mutex::new(Some(job)));
        let for_thread = Arc::clone(&job);
        let spawned = std::thread::Builder::new()
            .name("aitrace-shutdown".into())
            .spawn(move || {
                let job = for_thread.lock().ok().and_then(|mut j| j.take());
                if let Some(job) = job {
                    job();
                }
                let _ = done.send(());
            });
        match spawned {
            Ok(_) => running += 1,
            Err(_) => {
                let job = job.lock().ok().and_then(|mut j| j.take());
                if let Some(job) = job {
                    job();
                }
            }
        }
    }
    drop(done);
    for _ in 0..running {
        if wait
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_err()
        {
            break;
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        shutdown(&inner);
        // From memory (the last traces and the totals), never by reading the file
        // back: a server that ran for days stops within the shutdown timeout.
        if let (true, Some(path), Some(recent)) =
            (inner.print_tree, &inner.trace_file, &inner.recent)
        {
            println!("{}", recent.render(path));
        }
    }
}
