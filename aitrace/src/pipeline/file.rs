//! The embedded default exporters: OTLP/JSON lines in local files.
//!
//! Each line is one `ExportTraceServiceRequest` (or `ExportMetricsServiceRequest`,
//! `ExportLogsServiceRequest`) in the OTLP JSON encoding, written with
//! `opentelemetry-proto`'s serde support, so any OTLP tool can read the file and
//! `aitrace_insight::tracefile` reads traces back.
//!
//! A file is created with its first line: a run that records nothing leaves no empty
//! file behind (the directory is created at setup, so a bad directory still fails
//! early).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use super::summary::Recent;
use super::SetupError;

/// A file of JSON lines, created on its first line.
struct LineFile {
    path: PathBuf,
    writer: Mutex<Option<BufWriter<File>>>,
}

impl LineFile {
    /// `{dir}/{prefix}-{service}-{unix millis}-{pid}.jsonl`; only the directory is
    /// created now.
    fn new(dir: &Path, prefix: &str, service: &str) -> Result<LineFile, SetupError> {
        std::fs::create_dir_all(dir).map_err(|source| SetupError::TraceFile {
            dir: dir.to_path_buf(),
            source,
        })?;
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let safe: String = service
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!(
            "{prefix}-{safe}-{millis}-{}.jsonl",
            std::process::id()
        ));
        Ok(LineFile {
            path,
            writer: Mutex::new(None),
        })
    }

    /// Appends one whole line, then flushes: a crash leaves at most one partial line.
    fn write_line(&self, line: &[u8]) -> OTelSdkResult {
        let failed = |e: std::io::Error| {
            OTelSdkError::InternalFailure(format!("writing {}: {e}", self.path.display()))
        };
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("file lock poisoned".into()))?;
        if writer.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(failed)?;
            *writer = Some(BufWriter::new(file));
        }
        let Some(w) = writer.as_mut() else {
            return Ok(());
        };
        w.write_all(line).and_then(|()| w.flush()).map_err(failed)
    }

    fn flush(&self) -> OTelSdkResult {
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("file lock poisoned".into()))?;
        match writer.as_mut() {
            Some(w) => w
                .flush()
                .map_err(|e| OTelSdkError::InternalFailure(e.to_string())),
            None => Ok(()),
        }
    }
}

fn encode(request: &impl serde::Serialize, what: &str) -> Result<Vec<u8>, OTelSdkError> {
    let mut line = serde_json::to_vec(request)
        .map_err(|e| OTelSdkError::InternalFailure(format!("encoding {what}: {e}")))?;
    line.push(b'\n');
    Ok(line)
}

/// Writes spans as OTLP/JSON lines to a file (created with the first span).
///
/// ```
/// use aitrace::FileSpanExporter;
///
/// let dir = std::env::temp_dir().join("aitrace-doc-file-exporter");
/// let exporter = FileSpanExporter::create_in(&dir, "my-service").unwrap();
/// assert!(exporter.path().starts_with(&dir));
/// assert!(!exporter.path().exists()); // no span yet, no file
/// ```
pub struct FileSpanExporter {
    file: LineFile,
    resource: ResourceAttributesWithSchema,
    recent: Option<Arc<Recent>>,
}

impl fmt::Debug for FileSpanExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSpanExporter")
            .field("path", &self.file.path)
            .finish()
    }
}

impl FileSpanExporter {
    /// A trace file in `dir` (the directory is created now if missing, the file with
    /// the first span).
    pub fn create_in(dir: impl AsRef<Path>, service: &str) -> Result<FileSpanExporter, SetupError> {
        Ok(FileSpanExporter {
            file: LineFile::new(dir.as_ref(), "trace", service)?,
            resource: ResourceAttributesWithSchema::from(&Resource::builder_empty().build()),
            recent: None,
        })
    }

    /// Also keeps the last traces in memory for the summary at exit.
    pub(crate) fn with_recent(mut self, recent: Arc<Recent>) -> Self {
        self.recent = Some(recent);
        self
    }

    /// The file being written (it exists once a span was exported).
    pub fn path(&self) -> &Path {
        &self.file.path
    }
}

impl SpanExporter for FileSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        let written = self.file.write_line(&encode(&request, "spans")?);
        if let Some(recent) = &self.recent {
            recent.add(aitrace_insight::tracefile::spans_of(request));
        }
        written
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.file.flush()
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.file.flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = ResourceAttributesWithSchema::from(resource);
    }
}

/// Writes metrics as OTLP/JSON lines (`ExportMetricsServiceRequest`) to a file (created
/// with the first data points).
pub struct FileMetricExporter {
    file: LineFile,
}

impl fmt::Debug for FileMetricExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileMetricExporter")
            .field("path", &self.file.path)
            .finish()
    }
}

impl FileMetricExporter {
    /// A metrics file in `dir` (the directory is created now if missing).
    pub fn create_in(
        dir: impl AsRef<Path>,
        service: &str,
    ) -> Result<FileMetricExporter, SetupError> {
        Ok(FileMetricExporter {
            file: LineFile::new(dir.as_ref(), "metrics", service)?,
        })
    }

    /// The file being written (it exists once metrics were exported).
    pub fn path(&self) -> &Path {
        &self.file.path
    }
}

impl PushMetricExporter for FileMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let request = ExportMetricsServiceRequest::from(metrics);
        if request
            .resource_metrics
            .iter()
            .all(|rm| rm.scope_metrics.is_empty())
        {
            return Ok(());
        }
        self.file.write_line(&encode(&request, "metrics")?)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.file.flush()
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.file.flush()
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

/// Writes log records as OTLP/JSON lines (`ExportLogsServiceRequest`) to a file next to
/// the trace file (created with the first record).
pub struct FileLogExporter {
    file: LineFile,
    resource: ResourceAttributesWithSchema,
}

impl fmt::Debug for FileLogExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileLogExporter")
            .field("path", &self.file.path)
            .finish()
    }
}

impl FileLogExporter {
    /// A logs file in `dir` (the directory is created now if missing).
    pub fn create_in(dir: impl AsRef<Path>, service: &str) -> Result<FileLogExporter, SetupError> {
        Ok(FileLogExporter {
            file: LineFile::new(dir.as_ref(), "logs", service)?,
            resource: ResourceAttributesWithSchema::from(&Resource::builder_empty().build()),
        })
    }

    /// The file being written (it exists once a record was exported).
    pub fn path(&self) -> &Path {
        &self.file.path
    }
}

impl LogExporter for FileLogExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let resource_logs = group_logs_by_resource_and_scope(&batch, &self.resource);
        if resource_logs.is_empty() {
            return Ok(());
        }
        let request = ExportLogsServiceRequest { resource_logs };
        self.file.write_line(&encode(&request, "logs")?)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.file.flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = ResourceAttributesWithSchema::from(resource);
    }
}
