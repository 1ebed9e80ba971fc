//! HTTP-level auto-instrumentation: recognise LLM API calls by path, read the JSON
//! request body, and read the JSON or SSE response as it passes through to the
//! caller, unchanged.
//!
//! - [`GenAiMiddleware`](crate::GenAiMiddleware) for reqwest-middleware clients
//!   (feature `reqwest`).
//! - [`GenAiHttpLayer`] for tower services over `http::Request` (hyper-util clients,
//!   tower stacks).
//!
//! Both hand the caller the same status, headers and body bytes, with the same
//! streaming behaviour: the body is observed as the caller reads it, never buffered
//! ahead of the caller. Up to `max_body_bytes` of a non-streamed response is read for
//! its usage (where it is, when it comes whole in one frame; otherwise copied aside as
//! it passes); past that, the span says `aitrace.response.truncated`.
//! The span ends when the caller has read the body to its end, or drops it.

mod body;
pub mod layer;

pub use body::ObservedBody;
pub use layer::{GenAiHttp, GenAiHttpFuture, GenAiHttpLayer, TeeBody};

use std::borrow::Cow;
use std::sync::Arc;

use aitrace_core::conventions::{self as c, Provider};
use bytes::Bytes;
use opentelemetry::{Context, KeyValue};

use crate::config::GenAiConfig;
use crate::recorder::{CallRecorder, Outcome};
use crate::sse::SseParser;
use crate::types::{RequestInfo, ResponseInfo};
use crate::wire::{self, StreamAccumulator, WireFormat};

/// Writes propagation fields into HTTP headers (a value that is not a valid header is
/// skipped).
struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl opentelemetry::propagation::Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The W3C names are known (no copy of the name); the value's bytes are moved
        // into the header, not copied.
        let name = match key {
            "traceparent" => Ok(http::header::HeaderName::from_static("traceparent")),
            "tracestate" => Ok(http::header::HeaderName::from_static("tracestate")),
            "baggage" => Ok(http::header::HeaderName::from_static("baggage")),
            other => http::header::HeaderName::from_bytes(other.as_bytes()),
        };
        if let (Ok(name), Ok(value)) = (name, http::HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

/// Writes `cx`'s trace context into request headers.
pub(crate) fn inject(cx: &Context, headers: &mut http::HeaderMap) {
    aitrace_core::propagation::inject(cx, &mut HeaderInjector(headers));
}

/// Where a request goes, as far as the span needs to know.
pub(crate) struct Target<'a> {
    pub(crate) method: &'a str,
    pub(crate) host: Option<&'a str>,
    pub(crate) port: Option<u16>,
    pub(crate) path: &'a str,
}

/// An LLM call seen at the HTTP level, from request to end of response body.
pub(crate) struct HttpCall {
    recorder: CallRecorder,
    format: WireFormat,
    capture: bool,
    config: Arc<GenAiConfig>,
}

impl HttpCall {
    /// Starts a call when the request is an LLM API call. Returns the call and, when
    /// the configuration asked to add `stream_options.include_usage`, the new body.
    pub(crate) fn begin(
        config: &Arc<GenAiConfig>,
        target: &Target<'_>,
        body: Option<&[u8]>,
    ) -> Option<(HttpCall, Option<Bytes>)> {
        let format = HttpCall::observes(target)?;
        HttpCall::begin_as(config, format, target, body)
    }

    /// The request's wire format when it is an LLM API call that something records
    /// (a `tracing` subscriber, or an agent run); `None` when it passes through.
    pub(crate) fn observes(target: &Target<'_>) -> Option<WireFormat> {
        // The cheaper test first: with nothing to record, the path is not looked at.
        if !crate::layer::needs_recording() {
            return None;
        }
        wire::detect(target.method, target.path)
    }

    /// [`HttpCall::begin`] for a request [`HttpCall::observes`] gave `format` for.
    pub(crate) fn begin_as(
        config: &Arc<GenAiConfig>,
        format: WireFormat,
        target: &Target<'_>,
        body: Option<&[u8]>,
    ) -> Option<(HttpCall, Option<Bytes>)> {
        let provider = config
            .provider
            .clone()
            .or_else(|| target.host.and_then(Provider::from_host))
            .unwrap_or_else(|| format.default_provider());
        let capture = config.content.mode().captures();
        let mut notes = Vec::new();
        let info = match body {
            Some(bytes) => match wire::parse_request(&format, provider.clone(), bytes, capture) {
                Ok(info) => info,
                Err(e) => {
                    notes.push(KeyValue::new("aitrace.request.parse_error", e.marker()));
                    fallback_info(&format, provider)
                }
            },
            // The tower layer reads the body as it is sent (`request_body`).
            None => fallback_info(&format, provider),
        };
        let new_body = match (body, &format) {
            (Some(bytes), WireFormat::OpenAiChat) if config.include_stream_usage && info.stream => {
                with_stream_usage(bytes)
            }
            _ => None,
        };
        let server = target.host.map(|h| (h, target.port.unwrap_or(443)));
        let mut recorder = CallRecorder::start(Arc::clone(config), &info, server);
        for kv in notes {
            recorder.note(kv);
        }
        Some((
            HttpCall {
                recorder,
                format,
                capture,
                config: Arc::clone(config),
            },
            new_body,
        ))
    }

    /// The request body, read as it was sent: its facts complete the span.
    pub(crate) fn request_body(&mut self, body: &[u8], complete: bool) {
        if !complete {
            self.recorder.note(KeyValue::new(
                "aitrace.request.parse_error",
                "body_not_read",
            ));
            return;
        }
        let provider = self
            .config
            .provider
            .clone()
            .unwrap_or_else(|| self.format.default_provider());
        match wire::parse_request(&self.format, provider, body, self.capture) {
            Ok(info) => self.recorder.request_known(&info),
            Err(e) => self
                .recorder
                .note(KeyValue::new("aitrace.request.parse_error", e.marker())),
        }
    }

    pub(crate) fn context(&self) -> Context {
        self.recorder.context()
    }

    /// The request failed before any response: `error.type` is the transport error kind.
    pub(crate) fn transport_error(self, kind: &'static str, message: String) {
        self.recorder.finish(Outcome::Error {
            error_type: Cow::Borrowed(kind),
            message,
            partial: None,
        });
    }

    /// The response head arrived: decide how to read the body.
    /// `content_length` is the response's `Content-Length`, when it has one: a body
    /// that has yielded that many bytes is complete, whether or not the caller polls
    /// it once more for its end (hyper serving it on to its own client does not).
    pub(crate) fn on_response(
        mut self,
        status: u16,
        content_type: Option<&str>,
        content_length: Option<u64>,
    ) -> ResponseObserver {
        self.recorder.note(KeyValue::new(
            c::HTTP_RESPONSE_STATUS_CODE,
            i64::from(status),
        ));
        let is_sse =
            content_type.is_some_and(|ct| ct.trim_start().starts_with("text/event-stream"));
        let mode = if status >= 400 {
            Mode::Error {
                status,
                buf: Vec::new(),
            }
        } else if is_sse {
            let mut acc = wire::stream_accumulator(&self.format, self.capture);
            // A byte past the policy's limit, so what is recorded is marked truncated.
            acc.set_capture_limit(self.config.content.limits().max_string_bytes + 1);
            Mode::Sse {
                parser: SseParser::new(self.config.max_event_bytes),
                acc,
                parse_error: None,
            }
        } else {
            Mode::Json { buf: Vec::new() }
        };
        ResponseObserver {
            recorder: Some(self.recorder),
            format: self.format,
            capture: self.capture,
            max_body: self.config.max_body_bytes,
            truncated: false,
            received: 0,
            content_length,
            mode,
        }
    }
}

/// Finishes a call from its whole JSON response body.
fn finish_json(mut recorder: CallRecorder, format: &WireFormat, body: &[u8], capture: bool) {
    match wire::parse_response(format, body, capture) {
        Ok(info) => recorder.finish(Outcome::Ok(&info)),
        Err(e) => {
            recorder.note(KeyValue::new(c::AITRACE_RESPONSE_PARSE_ERROR, e.marker()));
            recorder.finish(Outcome::Ok(&ResponseInfo::default()));
        }
    }
}

/// A stream that ended before its terminal event: every choice without a finish
/// reason gets `error`, the conventions' finish reason for a generation that did not
/// complete.
fn mark_unfinished(info: &mut ResponseInfo) {
    if info.finish_reasons.is_empty() {
        info.finish_reasons.push(c::FINISH_REASON_ERROR.to_owned());
    }
    if let Some(serde_json::Value::Array(messages)) = info.output_messages.as_mut() {
        for m in messages {
            if m.get("finish_reason")
                .is_none_or(serde_json::Value::is_null)
            {
                m["finish_reason"] = c::FINISH_REASON_ERROR.into();
            }
        }
    }
}

fn fallback_info(format: &WireFormat, provider: Provider) -> RequestInfo {
    let (operation, model) = match format {
        WireFormat::OpenAiEmbeddings => (aitrace_core::conventions::Operation::Embeddings, None),
        WireFormat::OpenAiCompletions => {
            (aitrace_core::conventions::Operation::TextCompletion, None)
        }
        WireFormat::GeminiGenerate { model, .. } => (
            aitrace_core::conventions::Operation::GenerateContent,
            Some(model.clone()),
        ),
        WireFormat::GeminiEmbed { model } => (
            aitrace_core::conventions::Operation::Embeddings,
            Some(model.clone()),
        ),
        _ => (aitrace_core::conventions::Operation::Chat, None),
    };
    RequestInfo::new(provider, operation, model)
}

/// The body with `"stream_options": {"include_usage": true}` added, unless it already
/// says something about it.
fn with_stream_usage(body: &[u8]) -> Option<Bytes> {
    let mut value: serde_json::Value = crate::wire::from_json(body).ok()?;
    let obj = value.as_object_mut()?;
    let options = obj
        .entry("stream_options")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()?;
    if options.contains_key("include_usage") {
        return None;
    }
    options.insert("include_usage".to_owned(), serde_json::Value::Bool(true));
    serde_json::to_vec(&value).ok().map(Bytes::from)
}

enum Mode {
    Json {
        buf: Vec<u8>,
    },
    Sse {
        parser: SseParser,
        acc: Box<dyn StreamAccumulator>,
        parse_error: Option<&'static str>,
    },
    Error {
        status: u16,
        buf: Vec<u8>,
    },
}

/// Error bodies are read only for their `error.type`: a small cap is enough.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Reads a response body as it streams past and finishes the call at its end.
pub(crate) struct ResponseObserver {
    recorder: Option<CallRecorder>,
    format: WireFormat,
    capture: bool,
    max_body: usize,
    truncated: bool,
    /// Body bytes seen so far, to compare with `content_length`.
    received: u64,
    content_length: Option<u64>,
    mode: Mode,
}

impl ResponseObserver {
    /// Bytes of the body, as the caller receives them.
    pub(crate) fn on_data(&mut self, data: &[u8]) {
        let Some(recorder) = self.recorder.as_mut() else {
            return;
        };
        self.received = self.received.saturating_add(data.len() as u64);
        if let Mode::Json { .. } = &self.mode {
            // The whole body in one frame (a body of known length usually comes so): it
            // is read where it is instead of copied aside first. Only the first frame
            // with data can be the whole body (nothing was received before it, so
            // nothing was kept or cut); a later one, whatever the length says, goes the
            // way below, which knows whether the body went over the limit.
            if self.received == data.len() as u64
                && self.content_length == Some(self.received)
                && data.len() <= self.max_body
            {
                if let Some(recorder) = self.recorder.take() {
                    finish_json(recorder, &self.format, data, self.capture);
                }
                return;
            }
        }
        match &mut self.mode {
            Mode::Json { buf } => {
                if buf.len() + data.len() <= self.max_body {
                    buf.extend_from_slice(data);
                } else if !self.truncated {
                    self.truncated = true;
                    *buf = Vec::new();
                }
            }
            Mode::Error { buf, .. } => {
                let room = MAX_ERROR_BODY.saturating_sub(buf.len());
                buf.extend_from_slice(&data[..data.len().min(room)]);
            }
            Mode::Sse {
                parser,
                acc,
                parse_error,
            } => {
                parser.feed(data, |event| {
                    // Nothing after the stream's terminal event counts (a proxy's
                    // trailing bytes must not overwrite usage or finish reasons).
                    if acc.closed() {
                        return;
                    }
                    recorder.on_chunk();
                    if let Err(e) = acc.on_event(event) {
                        parse_error.get_or_insert(e.marker());
                    }
                });
                if acc.closed() {
                    // The call is over at its terminal event, however long the caller
                    // keeps the body.
                    self.end(false);
                    return;
                }
            }
        }
        if self.content_length == Some(self.received) {
            self.end(false);
        }
    }

    /// The body ended normally.
    pub(crate) fn on_end(mut self) {
        self.end(false);
    }

    /// Finishes the call from what the body said. Called at the body's end, once a
    /// body of known length has been read whole, at a stream's terminal event, and
    /// when a body that said all it had to say is `dropped` (then a stream whose
    /// answer is whole ended normally, whatever came after it).
    fn end(&mut self, dropped: bool) {
        let Some(mut recorder) = self.recorder.take() else {
            return;
        };
        if self.truncated {
            recorder.note(KeyValue::new(c::AITRACE_RESPONSE_TRUNCATED, true));
        }
        match &mut self.mode {
            Mode::Json { buf } => {
                if self.truncated {
                    recorder.finish(Outcome::Ok(&ResponseInfo::default()));
                    return;
                }
                finish_json(recorder, &self.format, buf, self.capture);
            }
            Mode::Error { status, buf } => {
                let (error_type, message) = match wire::parse_error(buf) {
                    Some((kind, message)) => (kind, message),
                    None => (
                        status.to_string(),
                        aitrace_core::content::redact_then_truncate(
                            &String::from_utf8_lossy(buf),
                            256,
                        ),
                    ),
                };
                recorder.finish(Outcome::Error {
                    error_type: Cow::Owned(error_type),
                    message: format!("HTTP {status}: {message}"),
                    partial: None,
                });
            }
            Mode::Sse {
                parser,
                acc,
                parse_error,
            } => {
                let answered = dropped && acc.answered();
                let cut = parser.finish() && !acc.closed() && !answered;
                let oversized = parser.oversized_events();
                if oversized > 0 {
                    recorder.note(KeyValue::new(
                        c::AITRACE_STREAM_OVERSIZED_EVENTS,
                        i64::try_from(oversized).unwrap_or(i64::MAX),
                    ));
                }
                if let Some(marker) = parse_error {
                    recorder.note(KeyValue::new(c::AITRACE_RESPONSE_PARSE_ERROR, *marker));
                }
                let stream_error = acc.stream_error();
                let completed = acc.completed() || answered;
                let mut info = acc.finish();
                match stream_error {
                    Some((kind, message)) => recorder.finish(Outcome::Error {
                        error_type: Cow::Owned(kind),
                        message: format!("the stream reported an error: {message}"),
                        partial: Some(&info),
                    }),
                    None if cut => recorder.finish(Outcome::Error {
                        error_type: Cow::Borrowed(c::ERROR_TYPE_STREAM_TRUNCATED),
                        message: "the stream ended in the middle of an event".to_owned(),
                        partial: Some(&info),
                    }),
                    None if !completed => {
                        mark_unfinished(&mut info);
                        recorder.finish(Outcome::Error {
                            error_type: Cow::Borrowed(c::ERROR_TYPE_INCOMPLETE_STREAM),
                            message: "the stream ended before its terminal event".to_owned(),
                            partial: Some(&info),
                        })
                    }
                    None => recorder.finish(Outcome::Ok(&info)),
                }
            }
        }
    }

    /// Whether the body has said all it had to say: dropping it now is a normal end.
    fn said_everything(&self) -> bool {
        match &self.mode {
            Mode::Sse { acc, .. } => acc.answered(),
            // A complete JSON document (a chunked body read to its last byte whose
            // end the caller never polled for).
            Mode::Json { buf } => {
                !self.truncated
                    && !buf.is_empty()
                    && serde_json::from_slice::<serde::de::IgnoredAny>(buf).is_ok()
            }
            // The status already says how the call ended.
            Mode::Error { .. } => true,
        }
    }

    /// Reading the body failed (connection reset, timeout).
    pub(crate) fn on_error(mut self, message: String) {
        let Some(recorder) = self.recorder.take() else {
            return;
        };
        let partial = match &mut self.mode {
            Mode::Sse { acc, .. } => Some(acc.finish()),
            _ => None,
        };
        recorder.finish(Outcome::Error {
            error_type: Cow::Borrowed("body_read"),
            message: format!("reading the response body failed: {message}"),
            partial: partial.as_ref(),
        });
    }
}

impl Drop for ResponseObserver {
    /// The caller dropped the body: a normal end when the body had said everything
    /// (async-openai drops a stream at `data: [DONE]`), a cancellation otherwise.
    fn drop(&mut self) {
        if self.recorder.is_some() && self.said_everything() {
            self.end(true);
            return;
        }
        if let Some(recorder) = self.recorder.take() {
            let partial = match &mut self.mode {
                Mode::Sse { acc, .. } => Some(acc.finish()),
                _ => None,
            };
            recorder.finish(Outcome::Cancelled(partial.as_ref()));
        }
    }
}
