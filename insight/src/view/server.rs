//! The HTTP side: routes, security headers and the Host guard, live updates, the
//! OTLP/HTTP receiver, and the poller that keeps the index current.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{broadcast, Notify};

use super::compare::compare;
use super::index::{expand, Changes, Index, Summary};
use super::model::{summary_json, Opened};
use super::ViewOptions;

/// Largest OTLP request body accepted (a larger one gets 413).
pub(crate) const MAX_OTLP_BODY: usize = 16 << 20;
/// Traces kept parsed for the next request.
const CACHE: usize = 8;
/// At most this many spans among the parsed traces kept (beyond the last one opened).
const CACHE_SPANS: usize = 100_000;
/// Trace ids sent in one live event at most (the frontend re-fetches the list).
const MAX_LIVE_IDS: usize = 1000;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

static ASSETS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/view_assets.rs"));

/// The state every handler shares.
pub(crate) struct Shared {
    index: RwLock<Index>,
    inputs: Vec<PathBuf>,
    otlp: Option<Mutex<OtlpFile>>,
    live: broadcast::Sender<String>,
    wake: Notify,
    ready: AtomicBool,
    poll_interval: Duration,
    hosts: HashSet<String>,
    /// Bound to every address (`--bind 0.0.0.0`): any IP literal with our port is
    /// fine too (DNS rebinding needs a name).
    any_ip: Option<Vec<u16>>,
    cache: Mutex<Vec<(String, usize, Arc<Opened>)>>,
    searches: Mutex<Vec<(String, u64, HashSet<String>)>>,
}

/// Whether `file` is still the file at `path` (not deleted, not replaced).
fn still_at(file: &std::fs::File, path: &std::path::Path) -> bool {
    let Ok(on_disk) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        file.metadata()
            .is_ok_and(|open| open.dev() == on_disk.dev() && open.ino() == on_disk.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (file, on_disk);
        true
    }
}

struct OtlpFile {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl Shared {
    pub fn new(options: &ViewOptions, ip: IpAddr, ports: Vec<u16>) -> Shared {
        let otlp = (options.otlp || options.otlp_port.is_some()).then(|| {
            Mutex::new(OtlpFile {
                path: options
                    .trace_dir
                    .join(format!("trace-otlp-{}.jsonl", std::process::id())),
                file: None,
            })
        });
        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "[::1]".to_owned(),
        ];
        names.push(match ip {
            IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        });
        let mut hosts = HashSet::new();
        for &port in &ports {
            for name in &names {
                hosts.insert(format!("{name}:{port}"));
            }
        }
        Shared {
            index: RwLock::new(Index::default()),
            inputs: options.inputs.clone(),
            otlp,
            live: broadcast::channel(64).0,
            wake: Notify::new(),
            ready: AtomicBool::new(false),
            poll_interval: options.poll_interval,
            hosts,
            any_ip: ip.is_unspecified().then(|| ports.clone()),
            cache: Mutex::new(Vec::new()),
            searches: Mutex::new(Vec::new()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Indexes what is new in every file. Runs on a blocking thread.
    fn refresh(&self) -> Changes {
        let mut paths: Vec<PathBuf> = self.inputs.iter().flat_map(|p| expand(p)).collect();
        if let Some(otlp) = &self.otlp {
            let path = otlp.lock().unwrap_or_else(|e| e.into_inner()).path.clone();
            if path.exists() {
                paths.push(path);
            }
        }
        // The same file reached twice (a directory and a file in it): once.
        let mut seen = HashSet::new();
        paths.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
        let mut changes = Changes::default();
        let count = {
            let mut index = self.write();
            index.set_files(&paths);
            index.files.len()
        };
        for i in 0..count {
            loop {
                // One chunk per lock, so readers get in between.
                let more = self.write().step(i, &mut changes);
                if !more {
                    break;
                }
            }
        }
        changes
    }

    /// The traces among `rows` with `needle` in a span name or attribute. Searched on
    /// all cores; the answers of the last few searches are kept until the index
    /// changes (re-sorting or paging a search costs nothing).
    fn search(&self, index: &Index, needle: &str, rows: &[&Summary]) -> HashSet<String> {
        {
            let cache = self.searches.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, _, hits)) = cache
                .iter()
                .find(|(n, generation, _)| n == needle && *generation == index.generation)
            {
                // Cached for every trace; keep those among the rows.
                return rows
                    .iter()
                    .filter(|s| hits.contains(&s.trace_id))
                    .map(|s| s.trace_id.clone())
                    .collect();
            }
        }
        let all = rows.len() == index.traces.len();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let chunk = rows.len().div_ceil(threads).max(1);
        let hits: HashSet<String> = std::thread::scope(|scope| {
            let workers: Vec<_> = rows
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .filter(|s| {
                                index.trace(&s.trace_id).is_some_and(|t| {
                                    matches_text(index, &s.trace_id, &t.lines, needle)
                                })
                            })
                            .map(|s| s.trace_id.clone())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
        if all {
            let mut cache = self.searches.lock().unwrap_or_else(|e| e.into_inner());
            cache.retain(|(n, _, _)| n != needle);
            cache.push((needle.to_owned(), index.generation, hits.clone()));
            if cache.len() > 4 {
                cache.remove(0);
            }
        }
        hits
    }

    /// An opened trace (parsed once per change of its lines, a few kept).
    fn open(&self, id: &str) -> Option<(Arc<Opened>, Summary)> {
        let (version, summary) = {
            let index = self.read();
            let entry = index.trace(id)?;
            (entry.lines.len(), entry.summary.clone())
        };
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, _, opened)) = cache.iter().find(|(i, v, _)| i == id && *v == version) {
                return Some((opened.clone(), summary));
            }
        }
        let requests = self.read().load_trace(id)?;
        let opened = Arc::new(Opened::new(requests)?);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(i, _, _)| i != id);
        cache.push((id.to_owned(), version, opened.clone()));
        // A few traces, and not more spans than CACHE_SPANS (the one just opened stays).
        let spans = |cache: &Vec<(String, usize, Arc<Opened>)>| -> usize {
            cache.iter().map(|(_, _, o)| o.trace.spans.len()).sum()
        };
        while cache.len() > CACHE || (cache.len() > 1 && spans(&cache) > CACHE_SPANS) {
            cache.remove(0);
        }
        Some((opened, summary))
    }
}

/// The poller: indexes new data every `poll_interval` (or at once when OTLP data
/// arrives) and tells live clients what changed.
pub(crate) async fn poll(shared: Arc<Shared>) {
    loop {
        let s = shared.clone();
        let changes = tokio::task::spawn_blocking(move || s.refresh())
            .await
            .unwrap_or_default();
        shared.ready.store(true, Ordering::Release);
        if !changes.traces.is_empty() || changes.rebuilt {
            let mut ids: Vec<String> = Vec::new();
            let mut seen = HashSet::new();
            for id in changes.traces {
                if ids.len() < MAX_LIVE_IDS && seen.insert(id.clone()) {
                    ids.push(id);
                }
            }
            let total = shared.read().traces.len();
            let data = json!({"changed": ids, "total": total, "rebuilt": changes.rebuilt});
            let _ = shared.live.send(data.to_string());
        }
        let _ = tokio::time::timeout(shared.poll_interval, shared.wake.notified()).await;
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut app = Router::new()
        .route("/", get(index_html))
        .route("/index.html", get(index_html))
        .route("/assets/{file}", get(asset))
        .route("/api/traces", get(list))
        .route("/api/traces/{trace}", get(trace))
        .route("/api/traces/{trace}/flow", get(flow))
        .route("/api/traces/{trace}/spans/{span}", get(span))
        .route("/api/traces/{trace}/spans/{span}/attr/{key}", get(attr))
        .route("/api/compare", get(compare_traces))
        .route("/api/live", get(live))
        .route("/api/stats", get(stats));
    if shared.otlp.is_some() {
        app = app.route(
            "/v1/traces",
            post(otlp_traces)
                .layer(DefaultBodyLimit::max(MAX_OTLP_BODY))
                .layer(middleware::from_fn(announced_too_large)),
        );
    }
    app.fallback(not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

/// A body announced larger than the OTLP limit is refused before it is read (the body
/// limit alone would wait for 16 MiB to arrive first).
async fn announced_too_large(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_OTLP_BODY as u64) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is over the {} MiB limit", MAX_OTLP_BODY >> 20),
        );
    }
    next.run(request).await
}

/// The Host guard (DNS rebinding: a page of another site resolving its name to
/// 127.0.0.1 must not read the traces) and the security headers on every response.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    let allowed = host
        .as_deref()
        .is_some_and(|h| shared.hosts.contains(h) || ip_literal_on(h, shared.any_ip.as_deref()));
    let mut response = if allowed {
        json_errors(next.run(request).await).await
    } else {
        error(
            StatusCode::FORBIDDEN,
            "this Host is not the viewer's address",
        )
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Whether `host` (`ip:port` or `[ipv6]:port`) is an IP address with one of `ports`.
fn ip_literal_on(host: &str, ports: Option<&[u16]>) -> bool {
    let Some(ports) = ports else {
        return false;
    };
    host.parse::<std::net::SocketAddr>()
        .is_ok_and(|addr| ports.contains(&addr.port()))
}

/// Every error answered as `{"error": ...}`, also those axum makes itself (405 with an
/// empty body, 413 and 400 rejections in plain text). Other headers (`Allow`) are kept.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|t| !t.is_empty());
    let message = text.unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let (fresh, body) = error(status, &message).into_parts();
    parts.headers.extend(fresh.headers);
    Response::from_parts(parts, body)
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": message}).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// An API error: its status and what went wrong (sent as `{"error": ...}`).
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.0, &self.1)
    }
}

fn json_text_response(text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}

fn json_response(value: &Value) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        value.to_string(),
    )
        .into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such page")
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "text/plain; charset=utf-8",
    }
}

fn serve_asset(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => (
            [
                (header::CONTENT_TYPE, content_type(name)),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *text,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "no such asset"),
    }
}

async fn index_html() -> Response {
    serve_asset("index.html")
}

async fn asset(Path(file): Path<String>) -> Response {
    serve_asset(&file)
}

/// A trace or span id from a path: hex of the right length, lower-cased.
fn id(text: &str, len: usize, what: &str) -> Result<String, ApiError> {
    if text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("a {what} id is {len} hex digits"),
        ))
    }
}

/// Runs blocking work (file reads, parsing) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|_| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request failed".into(),
        )
    })
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    q: Option<String>,
    service: Option<String>,
    model: Option<String>,
    errors: Option<String>,
    min_cost: Option<String>,
    max_cost: Option<String>,
    min_ms: Option<String>,
    max_ms: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    offset: Option<String>,
    limit: Option<String>,
}

fn number<T: std::str::FromStr>(name: &str, value: &Option<String>) -> Result<Option<T>, ApiError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        // `f64` reads these, but no cost or duration is compared with them.
        Some(text)
            if ["nan", "inf", "infinity"].contains(
                &text
                    .trim_start_matches(['+', '-'])
                    .to_ascii_lowercase()
                    .as_str(),
            ) =>
        {
            Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("{name}={text:?} is not a finite number"),
            ))
        }
        Some(text) => text.parse().map(Some).map_err(|_| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("{name}={text:?} is not a number"),
            )
        }),
    }
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

async fn list(State(shared): State<Arc<Shared>>, Query(q): Query<ListQuery>) -> Response {
    let parsed = (|| {
        Ok::<_, ApiError>((
            number::<f64>("min_cost", &q.min_cost)?,
            number::<f64>("max_cost", &q.max_cost)?,
            number::<f64>("min_ms", &q.min_ms)?,
            number::<f64>("max_ms", &q.max_ms)?,
            number::<usize>("offset", &q.offset)?.unwrap_or(0),
            number::<usize>("limit", &q.limit)?.unwrap_or(200).min(5000),
        ))
    })();
    let (min_cost, max_cost, min_ms, max_ms, offset, limit) = match parsed {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let sort = nonempty(&q.sort).unwrap_or("start").to_owned();
    if !matches!(
        sort.as_str(),
        "start" | "duration" | "cost" | "tokens" | "spans" | "llm_calls" | "errors"
    ) {
        return error(
            StatusCode::BAD_REQUEST,
            "sort is one of start, duration, cost, tokens, spans, llm_calls, errors",
        );
    }
    if !matches!(
        q.errors.as_deref(),
        None | Some("" | "0" | "1" | "true" | "false" | "yes" | "no")
    ) {
        return error(StatusCode::BAD_REQUEST, "errors is 1 or 0 (true/false)");
    }
    let ascending = match nonempty(&q.order) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return error(StatusCode::BAD_REQUEST, "order is asc or desc"),
    };
    let result = blocking(move || {
        let index = shared.read();
        let errors_only = matches!(q.errors.as_deref(), Some("1" | "true" | "yes"));
        let service = nonempty(&q.service);
        let model = nonempty(&q.model);
        let needle = nonempty(&q.q).map(str::to_lowercase);
        let mut rows: Vec<&Summary> = index
            .traces
            .iter()
            .map(|t| &t.summary)
            .filter(|s| {
                (!errors_only || s.errors > 0)
                    && service.is_none_or(|v| s.service == v)
                    && model.is_none_or(|v| s.models.iter().any(|m| m == v))
                    && min_cost.is_none_or(|v| s.cost_usd().is_some_and(|c| c >= v))
                    && max_cost.is_none_or(|v| s.cost_usd().is_some_and(|c| c <= v))
                    && min_ms.is_none_or(|v| s.duration() as f64 / 1e6 >= v)
                    && max_ms.is_none_or(|v| s.duration() as f64 / 1e6 <= v)
            })
            .collect();
        if let Some(needle) = &needle {
            let hits = shared.search(&index, needle, &rows);
            rows.retain(|s| hits.contains(&s.trace_id));
        }
        let key = |s: &Summary| -> (f64, u64) {
            let v = match sort.as_str() {
                "duration" => s.duration() as f64,
                "cost" => s.cost_usd().unwrap_or(-1.0),
                "tokens" => (s.input_tokens + s.output_tokens) as f64,
                "spans" => s.spans as f64,
                "llm_calls" => s.llm_calls as f64,
                "errors" => s.errors as f64,
                _ => s.start as f64,
            };
            (v, s.start)
        };
        rows.sort_by(|a, b| {
            let (ka, kb) = (key(a), key(b));
            let ord =
                ka.0.total_cmp(&kb.0)
                    .then(ka.1.cmp(&kb.1))
                    .then_with(|| a.trace_id.cmp(&b.trace_id));
            if ascending {
                ord
            } else {
                ord.reverse()
            }
        });
        let total = rows.len();
        let page: Vec<Value> = rows
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(summary_json)
            .collect();
        let files: Vec<Value> = index
            .files
            .iter()
            .map(|f| {
                json!({
                    "path": f.path.display().to_string(),
                    "spans": f.spans,
                    "bad_lines": f.bad_lines,
                    "truncated": f.truncated,
                })
            })
            .collect();
        json!({
            "total": total,
            "offset": offset,
            "traces": page,
            "services": index.services,
            "models": index.models,
            "files": files,
            "bad_lines": index.bad_lines(),
            "ready": shared.ready.load(Ordering::Acquire),
        })
    })
    .await;
    match result {
        Ok(v) => json_response(&v),
        Err(r) => r.into_response(),
    }
}

/// Whether a span of trace `id` has `needle` (lower case) in its name or in an
/// attribute key or value. The raw lines are searched first; only lines that hold
/// the text are parsed (a line can hold spans of other traces too).
fn matches_text(index: &Index, id: &str, lines: &[super::index::LineLoc], needle: &str) -> bool {
    // The raw JSON escapes quotes and backslashes: such needles are checked parsed.
    let raw_search = !needle.contains(['"', '\\']) && !needle.chars().any(char::is_control);
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    for bytes in index.read_lines(lines) {
        if raw_search {
            let lower = bytes.to_ascii_lowercase();
            if finder.find(&lower).is_none() {
                continue;
            }
        }
        let Ok(request) = serde_json::from_slice::<ExportTraceServiceRequest>(&bytes) else {
            continue;
        };
        for span in crate::tracefile::spans_of(request) {
            if span.trace_id != id {
                continue;
            }
            if span.name.to_lowercase().contains(needle)
                || span.attributes.iter().any(|(k, v)| {
                    k.to_lowercase().contains(needle)
                        || v.to_string().to_lowercase().contains(needle)
                })
            {
                return true;
            }
        }
    }
    false
}

async fn trace(State(shared): State<Arc<Shared>>, Path(trace): Path<String>) -> Response {
    let id = match id(&trace, 32, "trace") {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    match blocking(move || shared.open(&id).map(|(o, s)| o.trace_json_text(&s))).await {
        Ok(Some(text)) => json_text_response(text),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such trace"),
        Err(r) => r.into_response(),
    }
}

async fn flow(State(shared): State<Arc<Shared>>, Path(trace): Path<String>) -> Response {
    let id = match id(&trace, 32, "trace") {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    match blocking(move || shared.open(&id).map(|(o, _)| o.flow_json())).await {
        Ok(Some(v)) => json_response(&v),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such trace"),
        Err(r) => r.into_response(),
    }
}

async fn span(
    State(shared): State<Arc<Shared>>,
    Path((trace, span)): Path<(String, String)>,
) -> Response {
    let (tid, sid) = match (id(&trace, 32, "trace"), id(&span, 16, "span")) {
        (Ok(t), Ok(s)) => (t, s),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let result = blocking(move || match shared.open(&tid) {
        None => Err("no such trace"),
        Some((opened, _)) => opened.span_json(&sid).ok_or("no such span in the trace"),
    })
    .await;
    match result {
        Ok(Ok(v)) => json_response(&v),
        Ok(Err(message)) => error(StatusCode::NOT_FOUND, message),
        Err(r) => r.into_response(),
    }
}

async fn attr(
    State(shared): State<Arc<Shared>>,
    Path((trace, span, key)): Path<(String, String, String)>,
) -> Response {
    let (tid, sid) = match (id(&trace, 32, "trace"), id(&span, 16, "span")) {
        (Ok(t), Ok(s)) => (t, s),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let result =
        blocking(move || shared.open(&tid).and_then(|(o, _)| o.attr_text(&sid, &key))).await;
    match result {
        Ok(Some(text)) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            text,
        )
            .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such attribute"),
        Err(r) => r.into_response(),
    }
}

async fn compare_traces(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |name: &str| match q.get(name) {
        Some(v) => id(v, 32, "trace"),
        None => Err(ApiError(
            StatusCode::BAD_REQUEST,
            "compare needs ?a=<trace id>&b=<trace id>".into(),
        )),
    };
    let (a, b) = match (get("a"), get("b")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let result = blocking(move || {
        let (oa, sa) = shared.open(&a).ok_or("no such trace: a")?;
        let (ob, sb) = shared.open(&b).ok_or("no such trace: b")?;
        Ok::<_, &str>(compare(&oa, &sa, &ob, &sb))
    })
    .await;
    match result {
        Ok(Ok(text)) => json_text_response(text),
        Ok(Err(message)) => error(StatusCode::NOT_FOUND, message),
        Err(r) => r.into_response(),
    }
}

async fn live(State(shared): State<Arc<Shared>>) -> Response {
    let rx = shared.live.subscribe();
    let total = shared.read().traces.len();
    let hello = json!({"changed": [], "total": total}).to_string();
    let first = futures_util::stream::once(async move {
        Ok::<_, std::convert::Infallible>(Event::default().event("traces").data(hello))
    });
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        let data = match rx.recv().await {
            Ok(data) => data,
            // Missed events: say "something changed", the client re-fetches.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                json!({"changed": [], "total": null, "rebuilt": true}).to_string()
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((
            Ok::<_, std::convert::Infallible>(Event::default().event("traces").data(data)),
            rx,
        ))
    });
    let mut response = Sse::new(futures_util::StreamExt::chain(first, rest))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let index = shared.read();
    json_response(&json!({
        "files": index.files.len(),
        "spans": index.span_count(),
        "traces": index.traces.len(),
        "bad_lines": index.bad_lines(),
        "index_bytes": index.heap_bytes(),
        "ready": shared.ready.load(Ordering::Acquire),
    }))
}

/// `POST /v1/traces`: OTLP/HTTP, protobuf or JSON, answered per the OTLP/HTTP spec.
async fn otlp_traces(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity");
    if !encoding.eq_ignore_ascii_case("identity") {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "compressed OTLP is not supported: send it uncompressed",
        );
    }
    let protobuf = match content_type.as_str() {
        "application/x-protobuf" | "application/protobuf" => true,
        "application/json" => false,
        _ => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "OTLP/HTTP is application/x-protobuf or application/json",
            )
        }
    };
    let request = if protobuf {
        <ExportTraceServiceRequest as prost::Message>::decode(body.as_ref())
            .map_err(|e| e.to_string())
    } else {
        serde_json::from_slice::<ExportTraceServiceRequest>(&body).map_err(|e| e.to_string())
    };
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("not an OTLP ExportTraceServiceRequest: {e}"),
            )
        }
    };
    let written = blocking(move || {
        let line = serde_json::to_string(&request).map_err(|e| e.to_string())?;
        let Some(otlp) = &shared.otlp else {
            return Err("OTLP is off".to_owned());
        };
        let mut out = otlp.lock().unwrap_or_else(|e| e.into_inner());
        // The file (or its directory) removed or replaced since it was opened: writing
        // to the old handle would lose these spans while answering 200. Open it again.
        if out
            .file
            .as_ref()
            .is_some_and(|file| !still_at(file, &out.path))
        {
            out.file = None;
            eprintln!(
                "aitrace view: {} was removed; writing a new one",
                out.path.display()
            );
        }
        if out.file.is_none() {
            if let Some(dir) = out.path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&out.path)
                .map_err(|e| format!("cannot open {}: {e}", out.path.display()))?;
            out.file = Some(file);
        }
        let file = out.file.as_mut().expect("opened above");
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        file.write_all(&bytes).map_err(|e| e.to_string())?;
        drop(out);
        shared.wake.notify_one();
        Ok(())
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("cannot store the spans: {e}"),
            )
        }
        Err(r) => return r.into_response(),
    }
    if protobuf {
        let response = ExportTraceServiceResponse::default();
        (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            Body::from(prost::Message::encode_to_vec(&response)),
        )
            .into_response()
    } else {
        // A full success: no `partialSuccess` (the spec leaves it out).
        ([(header::CONTENT_TYPE, "application/json")], "{}").into_response()
    }
}
