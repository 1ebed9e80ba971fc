//! The embedded default exporters: OTLP/JSON lines in local files.
//!
//! Each line is one `ExportTraceServiceRequest` (or `ExportMetricsServiceRequest`) in
//! the OTLP JSON encoding, written with `opentelemetry-proto`'s serde support, so any
//! OTLP tool can read the file and `aitrace_insight::tracefile` reads it back.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use super::SetupError;

/// Writes spans as OTLP/JSON lines to a file.
///
/// ```
/// use aitrace::FileSpanExporter;
///
/// let dir = std::env::temp_dir().join("aitrace-doc-file-exporter");
/// let exporter = FileSpanExporter::create_in(&dir, "my-service").unwrap();
/// assert!(exporter.path().starts_with(&dir));
/// ```
pub struct FileSpanExporter {
    path: PathBuf,
    writer: Mutex<BufWriter<File>>,
    resource: ResourceAttributesWithSchema,
}

impl fmt::Debug for FileSpanExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSpanExporter")
            .field("path", &self.path)
            .finish()
    }
}

/// A new file `{dir}/{prefix}-{service}-{unix millis}-{pid}.jsonl`.
fn create_file(dir: &Path, prefix: &str, service: &str) -> Result<(PathBuf, File), SetupError> {
    let io = |source| SetupError::TraceFile {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
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
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io)?;
    Ok((path, file))
}

impl FileSpanExporter {
    /// Creates a new trace file in `dir` (created if missing).
    pub fn create_in(dir: impl AsRef<Path>, service: &str) -> Result<FileSpanExporter, SetupError> {
        let (path, file) = create_file(dir.as_ref(), "trace", service)?;
        Ok(FileSpanExporter {
            path,
            writer: Mutex::new(BufWriter::new(file)),
            resource: ResourceAttributesWithSchema::from(&Resource::builder_empty().build()),
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_line(&self, request: &ExportTraceServiceRequest) -> OTelSdkResult {
        let mut line = serde_json::to_vec(request)
            .map_err(|e| OTelSdkError::InternalFailure(format!("encoding spans: {e}")))?;
        line.push(b'\n');
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("trace file lock poisoned".into()))?;
        // One write of a whole line, then flush: a crash leaves at most one partial line.
        writer
            .write_all(&line)
            .and_then(|()| writer.flush())
            .map_err(|e| {
                OTelSdkError::InternalFailure(format!("writing {}: {e}", self.path.display()))
            })
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
        self.write_line(&request)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.force_flush()
    }

    fn force_flush(&self) -> OTelSdkResult {
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("trace file lock poisoned".into()))?;
        writer
            .flush()
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = ResourceAttributesWithSchema::from(resource);
    }
}

/// Writes metrics as OTLP/JSON lines (`ExportMetricsServiceRequest`) to a file.
pub struct FileMetricExporter {
    path: PathBuf,
    writer: Mutex<BufWriter<File>>,
}

impl fmt::Debug for FileMetricExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileMetricExporter")
            .field("path", &self.path)
            .finish()
    }
}

impl FileMetricExporter {
    /// Creates a new metrics file in `dir` (created if missing).
    pub fn create_in(
        dir: impl AsRef<Path>,
        service: &str,
    ) -> Result<FileMetricExporter, SetupError> {
        let (path, file) = create_file(dir.as_ref(), "metrics", service)?;
        Ok(FileMetricExporter {
            path,
            writer: Mutex::new(BufWriter::new(file)),
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
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
        let mut line = serde_json::to_vec(&request)
            .map_err(|e| OTelSdkError::InternalFailure(format!("encoding metrics: {e}")))?;
        line.push(b'\n');
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("metrics file lock poisoned".into()))?;
        writer
            .write_all(&line)
            .and_then(|()| writer.flush())
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}
