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
use std::sync::atomic::{AtomicU64, Ordering};
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

/// How a long-running process's files are kept in bounds: a new part once the current
/// one reaches `max_bytes`, and only the newest `keep` parts kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Size at which the next part starts.
    pub max_bytes: u64,
    /// Parts kept (the oldest is deleted when a new one starts); at least 1.
    pub keep: usize,
}

impl Default for Rotation {
    /// 64 MiB parts, 8 kept.
    fn default() -> Rotation {
        Rotation {
            max_bytes: 64 * 1024 * 1024,
            keep: 8,
        }
    }
}

impl Rotation {
    /// `AITRACE_TRACE_FILE_MAX_BYTES` and `AITRACE_TRACE_FILE_KEEP`, else the defaults.
    pub fn from_env() -> Rotation {
        let num = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let default = Rotation::default();
        Rotation {
            max_bytes: num("AITRACE_TRACE_FILE_MAX_BYTES")
                .filter(|n| *n > 0)
                .unwrap_or(default.max_bytes),
            keep: num("AITRACE_TRACE_FILE_KEEP")
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0)
                .unwrap_or(default.keep),
        }
    }
}

/// The name of part `n` of a file set: `stem.jsonl`, then `stem.1.jsonl`, ... (the
/// readers in `aitrace-insight` read a set as one).
fn part_path(dir: &Path, stem: &str, n: u64) -> PathBuf {
    if n == 0 {
        dir.join(format!("{stem}.jsonl"))
    } else {
        dir.join(format!("{stem}.{n}.jsonl"))
    }
}

/// Which file an open handle writes to, to notice when it was deleted or replaced.
#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

#[derive(Default)]
struct Current {
    writer: Option<BufWriter<File>>,
    part: u64,
    bytes: u64,
    lines: u64,
    identity: (u64, u64),
}

/// A set of JSON-line files, created on the first line, rotated by size, reopened
/// when deleted under it.
struct LineFile {
    dir: PathBuf,
    stem: String,
    /// The first part: the set's name.
    path: PathBuf,
    rotation: Rotation,
    current: Mutex<Current>,
    /// Lines lost with a file that was deleted while open.
    lost: AtomicU64,
}

impl LineFile {
    /// `{dir}/{prefix}-{service}-{unix millis}-{pid}.jsonl` (and `.1.jsonl`, ... once
    /// rotated); the directory is created, and checked writable, now.
    fn new(dir: &Path, prefix: &str, service: &str) -> Result<LineFile, SetupError> {
        let failed = |source| SetupError::TraceFile {
            dir: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(failed)?;
        // A directory that exists but cannot be written fails here, not at the first
        // span (where nobody would hear of it).
        let probe = dir.join(format!(".aitrace-probe-{}", std::process::id()));
        File::create(&probe).map_err(failed)?;
        let _ = std::fs::remove_file(&probe);
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
        let stem = format!("{prefix}-{safe}-{millis}-{}", std::process::id());
        Ok(LineFile {
            path: part_path(dir, &stem, 0),
            dir: dir.to_path_buf(),
            stem,
            rotation: Rotation::from_env(),
            current: Mutex::new(Current::default()),
            lost: AtomicU64::new(0),
        })
    }

    fn with_rotation(mut self, rotation: Rotation) -> LineFile {
        self.rotation = Rotation {
            max_bytes: rotation.max_bytes.max(1),
            keep: rotation.keep.max(1),
        };
        self
    }

    /// Appends one whole line, then flushes: a crash leaves at most one partial line.
    fn write_line(&self, line: &[u8]) -> OTelSdkResult {
        let mut cur = self
            .current
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("file lock poisoned".into()))?;
        let path = part_path(&self.dir, &self.stem, cur.part);
        if cur.writer.is_some() {
            // Deleted (the directory removed mid-run) or replaced under us: the lines
            // written to it are gone; say so once per loss and start a new file.
            let same = std::fs::metadata(&path).is_ok_and(|m| identity(&m) == cur.identity);
            if !same {
                self.lost.fetch_add(cur.lines, Ordering::Relaxed);
                tracing::warn!(
                    target: "aitrace",
                    file = %path.display(),
                    lost_lines = cur.lines,
                    "the trace file was deleted while open; its lines are lost, writing a new one"
                );
                cur.writer = None;
            }
        }
        if cur.writer.is_some()
            && cur.bytes > 0
            && cur.bytes + line.len() as u64 > self.rotation.max_bytes
        {
            if let Some(mut w) = cur.writer.take() {
                let _ = w.flush();
            }
            cur.part += 1;
            // Keep the newest `keep` parts.
            if let Some(old) = cur.part.checked_sub(self.rotation.keep as u64) {
                let _ = std::fs::remove_file(part_path(&self.dir, &self.stem, old));
            }
        }
        let path = part_path(&self.dir, &self.stem, cur.part);
        let failed = |e: std::io::Error| {
            OTelSdkError::InternalFailure(format!("writing {}: {e}", path.display()))
        };
        if cur.writer.is_none() {
            std::fs::create_dir_all(&self.dir).map_err(failed)?;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(failed)?;
            let meta = file.metadata().map_err(failed)?;
            cur.identity = identity(&meta);
            cur.bytes = meta.len();
            cur.lines = 0;
            cur.writer = Some(BufWriter::new(file));
        }
        let Some(w) = cur.writer.as_mut() else {
            return Ok(());
        };
        w.write_all(line).and_then(|()| w.flush()).map_err(failed)?;
        cur.bytes += line.len() as u64;
        cur.lines += 1;
        Ok(())
    }

    fn flush(&self) -> OTelSdkResult {
        let mut cur = self
            .current
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("file lock poisoned".into()))?;
        match cur.writer.as_mut() {
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

    /// Rotates the trace file by size (default: [`Rotation::from_env`]).
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.file = self.file.with_rotation(rotation);
        self
    }

    /// The trace file: the first part of its set (it exists once a span was
    /// exported; later parts are `<stem>.1.jsonl`, `<stem>.2.jsonl`, ...).
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Export batches (lines) lost with a file deleted while it was open.
    pub fn lost_batches(&self) -> u64 {
        self.file.lost.load(Ordering::Relaxed)
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

    /// Rotates the metrics file by size.
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.file = self.file.with_rotation(rotation);
        self
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

    /// Rotates the logs file by size.
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.file = self.file.with_rotation(rotation);
        self
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
