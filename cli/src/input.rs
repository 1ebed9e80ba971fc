//! Which files to read, and reading them.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use aitrace_insight::tracefile::{rotated_set, set_stem, ReadStats, SpanReader, SpanRecord};
use aitrace_insight::Filter;

use crate::args::Input;
use crate::Failure;

/// A resolved input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::Stdin => "standard input".to_owned(),
            Source::File(path) => path.display().to_string(),
        }
    }
}

/// The directory read when no input is given: `$AITRACE_TRACE_DIR`, else `traces`
/// (where the file exporter writes by default).
fn default_dir() -> PathBuf {
    std::env::var_os("AITRACE_TRACE_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("traces"), PathBuf::from)
}

/// Non-empty `trace-*.jsonl` files of a directory, oldest first (by modification time,
/// then name). An empty file (an older run that recorded nothing) is never the newest.
fn trace_files(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Failure::Input(format!("cannot read directory {}: {e}", dir.display())))?;
    let mut files: Vec<(SystemTime, PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with("trace-") && name.ends_with(".jsonl")) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_file() && meta.len() > 0 {
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            files.push((modified, entry.path()));
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

/// Turns the command line's inputs into sources: directories become their newest
/// trace file (or all of them), nothing becomes the default directory.
pub fn resolve(inputs: &[Input], all_files: bool) -> Result<Vec<Source>, Failure> {
    let defaulted;
    let inputs = if inputs.is_empty() {
        let dir = default_dir();
        if !dir.is_dir() {
            return Err(Failure::Input(format!(
                "no input given, and no trace directory {} (pass a trace file, a \
                 directory, or - for standard input)",
                dir.display()
            )));
        }
        defaulted = [Input::Path(dir)];
        &defaulted[..]
    } else {
        inputs
    };
    let mut sources = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => sources.push(Source::Stdin),
            Input::Path(path) if path.is_dir() => {
                let mut files = trace_files(path)?;
                if files.is_empty() {
                    return Err(Failure::Input(format!(
                        "no non-empty trace-*.jsonl file in {}",
                        path.display()
                    )));
                }
                if !all_files {
                    // The newest file's whole rotated set, read as one.
                    let newest = files.pop().unwrap_or_default();
                    files = rotated_set(&newest);
                }
                sources.extend(files.into_iter().map(Source::File));
            }
            // A part of a rotated set stands for the set.
            Input::Path(path)
                if path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(set_stem)
                    .is_some()
                    && path.exists() =>
            {
                sources.extend(rotated_set(path).into_iter().map(Source::File));
            }
            Input::Path(path) => sources.push(Source::File(path.clone())),
        }
    }
    Ok(sources)
}

/// What of each span a command reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    /// The attributes `tree`, `cost` and the filters read; no events.
    Reports,
    /// Every attribute and event (`export` writes them all).
    All,
}

impl Fields {
    fn reader<R: std::io::BufRead>(self, reader: R) -> SpanReader<R> {
        let reader = SpanReader::new(reader);
        match self {
            Fields::Reports => reader.for_reports(),
            Fields::All => reader,
        }
    }
}

/// What was read from all sources.
pub struct Loaded {
    pub spans: Vec<SpanRecord>,
    pub stats: ReadStats,
}

/// Reads the sources, keeping the spans the filter keeps; warns on stderr about lines
/// that are not OTLP/JSON.
pub fn load(sources: &[Source], filter: &Filter, fields: Fields) -> Result<Loaded, Failure> {
    let mut spans = Vec::new();
    let mut total = ReadStats::default();
    for source in sources {
        let stats = match source {
            Source::Stdin => {
                let stdin = std::io::stdin().lock();
                read(fields.reader(stdin), filter, &mut spans)
            }
            Source::File(path) => {
                let file = std::fs::File::open(path)
                    .map_err(|e| Failure::Input(format!("cannot read {}: {e}", path.display())))?;
                let reader = BufReader::with_capacity(256 * 1024, file);
                read(fields.reader(reader), filter, &mut spans)
            }
        };
        if let Some(e) = &stats.io_error {
            return Err(Failure::Input(format!(
                "cannot read {}: {e}",
                source.name()
            )));
        }
        warn(source, &stats);
        total.merge(&stats);
    }
    Ok(Loaded {
        spans,
        stats: total,
    })
}

fn read<R: std::io::BufRead>(
    mut reader: SpanReader<R>,
    filter: &Filter,
    spans: &mut Vec<SpanRecord>,
) -> ReadStats {
    spans.extend(reader.by_ref().filter(|s| filter.keeps(s)));
    reader.into_stats()
}

fn warn(source: &Source, stats: &ReadStats) {
    if stats.bad_lines == 0 {
        return;
    }
    let mut text = format!(
        "aitrace: warning: {}: skipped {} of {} line(s) that are not OTLP/JSON",
        source.name(),
        stats.bad_lines,
        stats.lines
    );
    if let Some(first) = &stats.first_error {
        text.push_str(&format!(" (line {}: {})", first.line, first.message));
    }
    if stats.truncated_last_line {
        text.push_str("; the last line is cut short (was the writer stopped mid-write?)");
    }
    eprintln!("{text}");
}

/// Reads the sources like [`load`], without warnings and skipping files that cannot
/// be read (for `tree --follow`, which reads them again and again).
pub fn load_quiet(sources: &[Source], filter: &Filter, fields: Fields) -> Vec<SpanRecord> {
    let mut spans = Vec::new();
    for source in sources {
        if let Source::File(path) = source {
            if let Ok(file) = std::fs::File::open(path) {
                let reader = BufReader::with_capacity(256 * 1024, file);
                read(fields.reader(reader), filter, &mut spans);
            }
        }
    }
    spans
}
