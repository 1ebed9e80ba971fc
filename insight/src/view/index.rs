//! The viewer's index of trace files: per file, where each line is; per trace, the
//! lines that hold its spans and a summary for the list. Spans themselves are read on
//! demand ([`Index::load_trace`]), so memory grows with the number of traces and
//! lines, not with the size of the spans.
//!
//! Indexing uses a lean borrowed parse of the few fields a summary needs (ids, times,
//! status, the usage and model attributes); opening a trace parses its lines fully
//! with opentelemetry-proto's serde types, as [`tracefile`](crate::tracefile) does.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use aitrace_core::conventions as c;

/// Bytes read from a file per indexing step (the index lock is held for one step).
const CHUNK: usize = 8 << 20;
/// Longest line indexed; a longer one is skipped and counted as bad.
const MAX_LINE: usize = crate::tracefile::DEFAULT_MAX_LINE_BYTES;

/// Where one line of a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineLoc {
    pub file: u32,
    pub offset: u64,
    pub len: u32,
}

/// One indexed file.
#[derive(Debug)]
pub(crate) struct FileEntry {
    pub path: PathBuf,
    /// Bytes of complete lines indexed so far.
    pub indexed: u64,
    pub spans: u64,
    pub bad_lines: u64,
    /// The file ends in a partial line (not indexed yet; picked up when it completes).
    pub truncated: bool,
    identity: Option<(u64, u64)>,
}

/// The list summary of one trace, added up span by span.
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    pub trace_id: String,
    pub service: String,
    pub root_name: String,
    root_rank: Option<(bool, u64)>,
    pub start: u64,
    pub end: u64,
    pub spans: u64,
    pub llm_calls: u64,
    pub tool_calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub cost_picodollars: Option<u128>,
    pub unpriced_calls: u64,
    pub errors: u64,
    pub models: Vec<String>,
}

impl Summary {
    pub fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn cost_usd(&self) -> Option<f64> {
        self.cost_picodollars.map(|p| p as f64 / 1e12)
    }

    pub fn cost_text(&self) -> String {
        match (self.cost_picodollars, self.unpriced_calls) {
            (Some(p), 0) => aitrace_core::cost::Cost::from_picodollars(p).to_string(),
            (Some(p), n) => format!(
                "{} (+{n} unpriced)",
                aitrace_core::cost::Cost::from_picodollars(p)
            ),
            (None, _) => "unknown".to_owned(),
        }
    }

    fn add(&mut self, span: &LeanSpan<'_>, service: &str) {
        if self.spans == 0 || span.start < self.start {
            self.start = span.start;
        }
        self.end = self.end.max(span.end);
        self.spans += 1;
        // The root: a span without parent beats an orphan; then the earliest.
        let rank = (!span.parent_span_id.is_empty(), span.start);
        if self.root_rank.is_none_or(|r| rank < r) {
            self.root_rank = Some(rank);
            self.root_name = span.name.to_string();
            self.service = service.to_owned();
        }
        let op = span.operation.as_deref();
        let error = span.status_code == 2 || span.error;
        self.errors += u64::from(error);
        if op == Some("execute_tool") {
            self.tool_calls += 1;
        }
        if matches!(
            op,
            Some("chat" | "text_completion" | "generate_content" | "embeddings")
        ) {
            self.llm_calls += 1;
            self.input_tokens += span.input_tokens;
            self.output_tokens += span.output_tokens;
            self.cached_tokens += span.cached_tokens;
            match span.cost.filter(|c| c.is_finite() && *c >= 0.0) {
                Some(usd) => {
                    let pico = (usd * 1e12).round() as u128;
                    self.cost_picodollars = Some(self.cost_picodollars.unwrap_or(0) + pico);
                }
                None => self.unpriced_calls += 1,
            }
            if let Some(model) = &span.model {
                if !self.models.iter().any(|m| m == model) {
                    self.models.push(model.to_string());
                }
            }
        }
    }
}

/// One trace: its summary and the lines holding its spans.
#[derive(Debug)]
pub(crate) struct TraceEntry {
    pub summary: Summary,
    pub lines: Vec<LineLoc>,
}

/// The index of every input file.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub files: Vec<FileEntry>,
    pub traces: Vec<TraceEntry>,
    by_id: HashMap<String, usize>,
    pub services: BTreeSet<String>,
    pub models: BTreeSet<String>,
    /// Bumped on every change, for caches and live updates.
    pub generation: u64,
}

/// What one refresh changed.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub traces: Vec<String>,
    pub rebuilt: bool,
}

impl Index {
    pub fn trace(&self, id: &str) -> Option<&TraceEntry> {
        self.by_id.get(id).map(|&i| &self.traces[i])
    }

    pub fn span_count(&self) -> u64 {
        self.files.iter().map(|f| f.spans).sum()
    }

    pub fn bad_lines(&self) -> u64 {
        self.files.iter().map(|f| f.bad_lines).sum()
    }

    /// Approximate heap bytes of the index (what `/api/stats` reports).
    pub fn heap_bytes(&self) -> u64 {
        let mut bytes = (self.traces.capacity() * std::mem::size_of::<TraceEntry>()) as u64;
        for t in &self.traces {
            bytes += (t.lines.capacity() * std::mem::size_of::<LineLoc>()) as u64;
            let s = &t.summary;
            bytes += (s.trace_id.capacity() + s.service.capacity() + s.root_name.capacity()) as u64;
            bytes += s
                .models
                .iter()
                .map(|m| m.capacity() as u64 + 24)
                .sum::<u64>();
        }
        bytes += (self.by_id.capacity() * (std::mem::size_of::<(String, usize)>() + 32 + 1)) as u64;
        bytes
    }

    /// Makes sure `paths` are the indexed files (new ones are added, in order).
    pub fn set_files(&mut self, paths: &[PathBuf]) {
        for path in paths {
            if !self.files.iter().any(|f| &f.path == path) {
                self.files.push(FileEntry {
                    path: path.clone(),
                    indexed: 0,
                    spans: 0,
                    bad_lines: 0,
                    truncated: false,
                    identity: None,
                });
            }
        }
    }

    /// Whether file `i` was replaced or cut since it was indexed (a rotation).
    fn replaced(&self, i: usize) -> bool {
        let f = &self.files[i];
        match std::fs::metadata(&f.path) {
            Ok(meta) => {
                meta.len() < f.indexed || (f.identity.is_some() && identity(&meta) != f.identity)
            }
            Err(_) => f.indexed > 0,
        }
    }

    /// Forgets everything indexed, keeping the list of files.
    fn clear(&mut self) {
        for f in &mut self.files {
            f.indexed = 0;
            f.spans = 0;
            f.bad_lines = 0;
            f.truncated = false;
            f.identity = None;
        }
        self.traces.clear();
        self.by_id.clear();
        self.services.clear();
        self.models.clear();
    }

    /// Indexes up to one chunk of new bytes of file `i`. Returns whether there may be
    /// more to read.
    pub fn step(&mut self, i: usize, changes: &mut Changes) -> bool {
        if self.replaced(i) {
            self.clear();
            changes.rebuilt = true;
        }
        let f = &self.files[i];
        let Ok(mut file) = File::open(&f.path) else {
            return false;
        };
        let Ok(meta) = file.metadata() else {
            return false;
        };
        if meta.len() <= f.indexed {
            return false;
        }
        let start = f.indexed;
        let want = (meta.len() - start).min(CHUNK as u64) as usize;
        let mut buf = vec![0u8; want];
        if file.seek(SeekFrom::Start(start)).is_err() || file.read_exact(&mut buf).is_err() {
            return false;
        }
        let at_end = start + want as u64 == meta.len();
        let mut pos = 0usize;
        let file_no = i as u32;
        let mut truncated = false;
        while pos < buf.len() {
            let rest = &buf[pos..];
            let (line, used, complete) = match memchr::memchr(b'\n', rest) {
                Some(n) => (&rest[..n], n + 1, true),
                None => (rest, rest.len(), false),
            };
            if !complete {
                if !at_end {
                    if pos == 0 {
                        // A line longer than the chunk: skip it if over the limit,
                        // else read it whole.
                        match self.long_line(&mut file, start, file_no, changes) {
                            Some(used) => {
                                self.files[i].indexed = start + used;
                                return true;
                            }
                            None => return false,
                        }
                    }
                    break;
                }
                // The last line has no newline: index it if it parses (a finished
                // file), else wait for the writer to complete it.
                if self.index_line(line, start + pos as u64, file_no, changes, false) {
                    pos += used;
                } else {
                    truncated = !line.iter().all(u8::is_ascii_whitespace);
                }
                break;
            }
            self.index_line(line, start + pos as u64, file_no, changes, true);
            pos += used;
        }
        let f = &mut self.files[i];
        f.indexed = start + pos as u64;
        f.truncated = truncated;
        f.identity = identity(&meta);
        self.generation += 1;
        !at_end
    }

    fn long_line(
        &mut self,
        file: &mut File,
        start: u64,
        file_no: u32,
        changes: &mut Changes,
    ) -> Option<u64> {
        file.seek(SeekFrom::Start(start)).ok()?;
        let mut reader = std::io::BufReader::new(file.take(MAX_LINE as u64 + 1));
        let mut line = Vec::new();
        std::io::BufRead::read_until(&mut reader, b'\n', &mut line).ok()?;
        if line.last() == Some(&b'\n') {
            let len = line.len() as u64;
            line.pop();
            self.index_line(&line, start, file_no, changes, true);
            return Some(len);
        }
        if line.len() > MAX_LINE {
            // Over the limit: count it and find its end without holding it.
            self.files[file_no as usize].bad_lines += 1;
            let mut skipped = line.len() as u64;
            drop(line);
            let reader = reader.into_inner().into_inner();
            reader.seek(SeekFrom::Start(start + skipped)).ok()?;
            let mut reader = std::io::BufReader::new(reader);
            loop {
                let buf = std::io::BufRead::fill_buf(&mut reader).ok()?;
                if buf.is_empty() {
                    return None;
                }
                match memchr::memchr(b'\n', buf) {
                    Some(n) => {
                        skipped += n as u64 + 1;
                        return Some(skipped);
                    }
                    None => {
                        let n = buf.len();
                        skipped += n as u64;
                        std::io::BufRead::consume(&mut reader, n);
                    }
                }
            }
        }
        // A partial line still being written.
        None
    }

    /// Indexes one line; returns whether it parsed. A line that does not parse is
    /// counted as bad when `count_bad`.
    fn index_line(
        &mut self,
        line: &[u8],
        offset: u64,
        file: u32,
        changes: &mut Changes,
        count_bad: bool,
    ) -> bool {
        let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
        if trimmed.iter().all(u8::is_ascii_whitespace) {
            return true;
        }
        let json = match (offset, trimmed.strip_prefix(b"\xef\xbb\xbf")) {
            (0, Some(rest)) => rest,
            _ => trimmed,
        };
        let request: LeanRequest<'_> = match serde_json::from_slice(json) {
            Ok(r) => r,
            Err(_) => {
                if count_bad {
                    self.files[file as usize].bad_lines += 1;
                }
                return false;
            }
        };
        let loc = LineLoc {
            file,
            offset,
            len: line.len() as u32,
        };
        for rs in &request.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                .and_then(|kv| kv.value.as_ref())
                .map(|v| v.text())
                .unwrap_or_default();
            if !service.is_empty() && !self.services.contains(service.as_ref()) {
                self.services.insert(service.to_string());
            }
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    let id = span.trace_id.to_ascii_lowercase();
                    let n = match self.by_id.get(&id) {
                        Some(&n) => n,
                        None => {
                            let n = self.traces.len();
                            self.traces.push(TraceEntry {
                                summary: Summary {
                                    trace_id: id.clone(),
                                    ..Summary::default()
                                },
                                lines: Vec::new(),
                            });
                            self.by_id.insert(id, n);
                            n
                        }
                    };
                    let entry = &mut self.traces[n];
                    entry.summary.add(span, &service);
                    if entry.lines.last() != Some(&loc) {
                        entry.lines.push(loc);
                        changes.traces.push(entry.summary.trace_id.clone());
                    }
                    if let Some(model) = &span.model {
                        if !self.models.contains(model.as_ref()) {
                            self.models.insert(model.to_string());
                        }
                    }
                    self.files[file as usize].spans += 1;
                }
            }
        }
        true
    }

    /// Reads the lines of a trace (bytes), in file order.
    pub fn read_lines(&self, lines: &[LineLoc]) -> Vec<Vec<u8>> {
        let mut open: Option<(u32, File)> = None;
        let mut out = Vec::with_capacity(lines.len());
        for loc in lines {
            if open.as_ref().is_none_or(|(f, _)| *f != loc.file) {
                let Some(entry) = self.files.get(loc.file as usize) else {
                    continue;
                };
                match File::open(&entry.path) {
                    Ok(file) => open = Some((loc.file, file)),
                    Err(_) => continue,
                }
            }
            let Some((_, file)) = open.as_mut() else {
                continue;
            };
            let mut buf = vec![0u8; loc.len as usize];
            if file.seek(SeekFrom::Start(loc.offset)).is_ok() && file.read_exact(&mut buf).is_ok() {
                out.push(buf);
            }
        }
        out
    }

    /// The full OTLP data of one trace: every request line holding its spans, cut
    /// down to that trace's spans.
    pub fn load_trace(&self, id: &str) -> Option<Vec<ExportTraceServiceRequest>> {
        let entry = self.trace(id)?;
        let mut out = Vec::new();
        for bytes in self.read_lines(&entry.lines) {
            let text = bytes.strip_suffix(b"\r").unwrap_or(&bytes);
            let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
            let Ok(mut request) = serde_json::from_slice::<ExportTraceServiceRequest>(text) else {
                continue;
            };
            for rs in &mut request.resource_spans {
                for ss in &mut rs.scope_spans {
                    ss.spans.retain(|s| hex_eq(&s.trace_id, id));
                }
                rs.scope_spans.retain(|ss| !ss.spans.is_empty());
            }
            request
                .resource_spans
                .retain(|rs| !rs.scope_spans.is_empty());
            out.push(request);
        }
        Some(out)
    }
}

fn hex_eq(bytes: &[u8], hex: &str) -> bool {
    bytes.len() * 2 == hex.len()
        && bytes.iter().zip(hex.as_bytes().chunks(2)).all(|(b, h)| {
            let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
            matches!((digit(h[0]), digit(h[1])), (Some(a), Some(l)) if a << 4 | l == *b)
        })
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// The files an input stands for: a directory's `*.jsonl` files (rotated sets in part
/// order), a file's whole rotated set.
pub(crate) fn expand(input: &Path) -> Vec<PathBuf> {
    if input.is_dir() {
        let Ok(entries) = std::fs::read_dir(input) else {
            return Vec::new();
        };
        let mut files: Vec<(String, u64, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_owned();
                // The file exporter's logs and metrics files sit beside the traces.
                if name.starts_with("logs-") || name.starts_with("metrics-") {
                    return None;
                }
                let stem = crate::tracefile::set_stem(&name)?.to_owned();
                let part = part_of(&name);
                e.file_type()
                    .ok()?
                    .is_file()
                    .then(|| (stem, part, e.path()))
            })
            .collect();
        files.sort();
        return files.into_iter().map(|(_, _, p)| p).collect();
    }
    if input.exists() {
        crate::tracefile::rotated_set(input)
    } else {
        Vec::new()
    }
}

fn part_of(name: &str) -> u64 {
    name.strip_suffix(".jsonl")
        .and_then(|b| b.rsplit_once('.'))
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

// ---- The lean parse: only what a summary needs, borrowed where the JSON allows. ----

#[derive(Deserialize)]
struct LeanRequest<'a> {
    #[serde(rename = "resourceSpans", default, borrow)]
    resource_spans: Vec<LeanResourceSpans<'a>>,
}

#[derive(Deserialize)]
struct LeanResourceSpans<'a> {
    #[serde(default, borrow)]
    resource: Option<LeanResource<'a>>,
    #[serde(rename = "scopeSpans", default, borrow)]
    scope_spans: Vec<LeanScopeSpans<'a>>,
}

#[derive(Deserialize)]
struct LeanResource<'a> {
    #[serde(default, borrow)]
    attributes: Vec<LeanKeyValue<'a>>,
}

#[derive(Deserialize)]
struct LeanScopeSpans<'a> {
    #[serde(default, borrow)]
    spans: Vec<LeanSpan<'a>>,
}

#[derive(Deserialize)]
struct LeanStatus {
    #[serde(default)]
    code: i32,
}

/// The fields of a span the summary needs; the attributes are folded in as they are
/// read (no vector of them).
struct LeanSpan<'a> {
    trace_id: Cow<'a, str>,
    parent_span_id: Cow<'a, str>,
    name: Cow<'a, str>,
    start: u64,
    end: u64,
    status_code: i32,
    error: bool,
    operation: Option<Cow<'a, str>>,
    input_tokens: u64,
    output_tokens: u64,
    cached_tokens: u64,
    cost: Option<f64>,
    model: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for LeanSpan<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SpanVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for SpanVisitor<'a> {
            type Value = LeanSpan<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OTLP span")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<LeanSpan<'a>, M::Error> {
                let mut span = LeanSpan {
                    trace_id: Cow::Borrowed(""),
                    parent_span_id: Cow::Borrowed(""),
                    name: Cow::Borrowed(""),
                    start: 0,
                    end: 0,
                    status_code: 0,
                    error: false,
                    operation: None,
                    input_tokens: 0,
                    output_tokens: 0,
                    cached_tokens: 0,
                    cost: None,
                    model: None,
                };
                let mut request_model = None;
                let mut legacy_input = None;
                let mut legacy_output = None;
                let mut has_trace_id = false;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "traceId" | "trace_id" => {
                            span.trace_id = map.next_value::<HexId<'a>>()?.0;
                            has_trace_id = true;
                        }
                        "parentSpanId" | "parent_span_id" => {
                            span.parent_span_id = map.next_value::<HexId<'a>>()?.0
                        }
                        "spanId" | "span_id" => {
                            map.next_value::<HexId<'a>>()?;
                        }
                        "name" => span.name = map.next_value::<CowStr<'a>>()?.0,
                        "startTimeUnixNano" | "start_time_unix_nano" => {
                            span.start = map.next_value::<Number>()?.0 as u64
                        }
                        "endTimeUnixNano" | "end_time_unix_nano" => {
                            span.end = map.next_value::<Number>()?.0 as u64
                        }
                        "status" => {
                            span.status_code = map
                                .next_value::<Option<LeanStatus>>()?
                                .map_or(0, |s| s.code)
                        }
                        "attributes" => {
                            for kv in map.next_value::<Vec<LeanKeyValue<'a>>>()? {
                                let Some(value) = kv.value else { continue };
                                match kv.key.as_ref() {
                                    c::GEN_AI_OPERATION_NAME => span.operation = Some(value.text()),
                                    c::GEN_AI_USAGE_INPUT_TOKENS => {
                                        span.input_tokens = value.unsigned()
                                    }
                                    c::GEN_AI_USAGE_OUTPUT_TOKENS => {
                                        span.output_tokens = value.unsigned()
                                    }
                                    c::GEN_AI_USAGE_PROMPT_TOKENS => {
                                        legacy_input = Some(value.unsigned())
                                    }
                                    c::GEN_AI_USAGE_COMPLETION_TOKENS => {
                                        legacy_output = Some(value.unsigned())
                                    }
                                    c::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS => {
                                        span.cached_tokens = value.unsigned()
                                    }
                                    c::GEN_AI_USAGE_COST => span.cost = value.float(),
                                    c::GEN_AI_RESPONSE_MODEL => span.model = Some(value.text()),
                                    c::GEN_AI_REQUEST_MODEL => request_model = Some(value.text()),
                                    c::ERROR_TYPE => span.error = true,
                                    _ => {}
                                }
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                if !has_trace_id {
                    return Err(de::Error::missing_field("traceId"));
                }
                if span.input_tokens == 0 {
                    span.input_tokens = legacy_input.unwrap_or(0);
                }
                if span.output_tokens == 0 {
                    span.output_tokens = legacy_output.unwrap_or(0);
                }
                if span.model.as_deref().is_none_or(str::is_empty) {
                    span.model = request_model.filter(|m| !m.is_empty());
                }
                Ok(span)
            }
        }
        d.deserialize_map(SpanVisitor(std::marker::PhantomData))
    }
}

/// A string, borrowed when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = CowStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// A trace or span id: hex text (checked, as the full parse checks it).
struct HexId<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for HexId<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = CowStr::deserialize(d)?.0;
        if text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(de::Error::custom("an id is hex digits"));
        }
        Ok(HexId(text))
    }
}

/// An OTLP integer: a JSON number or a string of digits.
struct Number(i128);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string of digits")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v as i128))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
                v.trim()
                    .parse()
                    .map(Number)
                    .map_err(|_| E::custom("not an integer"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A key-value whose value is parsed only for the keys the summary reads.
struct LeanKeyValue<'a> {
    key: Cow<'a, str>,
    value: Option<LeanValue<'a>>,
}

fn wanted(key: &str) -> bool {
    matches!(
        key,
        "service.name"
            | c::GEN_AI_OPERATION_NAME
            | c::GEN_AI_USAGE_INPUT_TOKENS
            | c::GEN_AI_USAGE_OUTPUT_TOKENS
            | c::GEN_AI_USAGE_PROMPT_TOKENS
            | c::GEN_AI_USAGE_COMPLETION_TOKENS
            | c::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
            | c::GEN_AI_USAGE_COST
            | c::GEN_AI_RESPONSE_MODEL
            | c::GEN_AI_REQUEST_MODEL
            | c::ERROR_TYPE
    )
}

impl<'de: 'a, 'a> Deserialize<'de> for LeanKeyValue<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = LeanKeyValue<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OTLP key-value")
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<LeanKeyValue<'a>, M::Error> {
                let mut key: Option<Cow<'a, str>> = None;
                let mut value = None;
                while let Some(field) = map.next_key::<Cow<'de, str>>()? {
                    match field.as_ref() {
                        "key" => key = Some(map.next_value::<CowStr<'a>>()?.0),
                        "value" => {
                            // Values of keys the summary does not read (prompts,
                            // payloads) are skipped, not copied.
                            if key.as_deref().is_some_and(|k| !wanted(k)) {
                                map.next_value::<IgnoredAny>()?;
                            } else {
                                value = map.next_value::<Option<LeanValue<'a>>>()?;
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(LeanKeyValue {
                    key: key.unwrap_or(Cow::Borrowed("")),
                    value,
                })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct LeanValue<'a> {
    #[serde(rename = "stringValue", default, borrow)]
    string_value: Option<Cow<'a, str>>,
    #[serde(rename = "intValue", default)]
    int_value: Option<Number>,
    #[serde(rename = "doubleValue", default)]
    double_value: Option<f64>,
    #[serde(rename = "boolValue", default)]
    bool_value: Option<bool>,
}

impl<'a> LeanValue<'a> {
    fn text(&self) -> Cow<'a, str> {
        if let Some(s) = &self.string_value {
            return s.clone();
        }
        if let Some(Number(i)) = self.int_value {
            return Cow::Owned(i.to_string());
        }
        if let Some(d) = self.double_value {
            return Cow::Owned(d.to_string());
        }
        if let Some(b) = self.bool_value {
            return Cow::Owned(b.to_string());
        }
        Cow::Borrowed("")
    }

    fn unsigned(&self) -> u64 {
        if let Some(Number(i)) = self.int_value {
            return u64::try_from(i).unwrap_or(0);
        }
        self.string_value
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    fn float(&self) -> Option<f64> {
        if let Some(d) = self.double_value {
            return Some(d);
        }
        if let Some(Number(i)) = self.int_value {
            return Some(i as f64);
        }
        self.string_value.as_deref().and_then(|s| s.parse().ok())
    }
}
