//! The LLM API wire formats this crate reads: one module per format, typed with serde
//! and tolerant of unknown fields.
//!
//! Each module turns request bodies into [`RequestInfo`], response bodies into
//! [`ResponseInfo`], and streamed events into a [`StreamAccumulator`]. Malformed input
//! is an [`ExtractError`], never a panic.
//!
//! ```
//! use aitrace_llm::wire::{self, WireFormat};
//!
//! let format = wire::detect("POST", "/v1/chat/completions").unwrap();
//! assert_eq!(format, WireFormat::OpenAiChat);
//! let info = wire::parse_response(
//!     &format,
//!     br#"{"id":"c1","model":"gpt-4o-2024-08-06","choices":[{"finish_reason":"stop"}],
//!          "usage":{"prompt_tokens":10,"completion_tokens":5}}"#,
//!     false,
//! ).unwrap();
//! assert_eq!(info.usage.unwrap().input_tokens, 10);
//! ```

pub mod anthropic;
pub mod gemini;
#[cfg(test)]
mod mutations;
pub mod openai;

use aitrace_core::conventions::Provider;
use aitrace_core::json::{Scan, Seen};
use serde::Deserialize;

use crate::sse::SseEvent;
use crate::types::{RequestInfo, ResponseInfo};

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("malformed {what}: {message}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// The parser's message.
        message: String,
    },
    /// Token counts that cannot be right (negative, or beyond 2^53).
    #[error("invalid token usage: {0}")]
    InvalidUsage(String),
}

impl ExtractError {
    /// A short marker for the span (`aitrace.response.parse_error`).
    pub fn marker(&self) -> &'static str {
        match self {
            ExtractError::Malformed { .. } => "malformed_json",
            ExtractError::InvalidUsage(_) => "invalid_usage",
        }
    }
}

/// Reads a JSON document. A body that is UTF-8 as a whole (nearly all are) is read as
/// text, which spares serde_json a UTF-8 check of every string it meets (a fifth of
/// reading a chat completion); any other body goes to the byte reader, which still
/// accepts bytes that are not UTF-8 inside the strings it skips, so what is read does
/// not change.
pub(crate) fn from_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> serde_json::Result<T> {
    scan_json(body, |_| None)
}

/// `body` read by `scan`, a strict reader of the fields kept (`aitrace_core::json`), or,
/// where it declines, by serde_json as [`from_json`] reads it: the same value either
/// way, and serde_json's errors.
pub(crate) fn scan_json<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    scan: impl FnOnce(&'a str) -> Option<T>,
) -> serde_json::Result<T> {
    match std::str::from_utf8(body) {
        Ok(text) => match scan(text) {
            Some(value) => Ok(value),
            None => serde_json::from_str(text),
        },
        Err(_) => serde_json::from_slice(body),
    }
}

/// An object at nesting `depth` of which one field is kept: the value of `name` as
/// `read` reads it (`None` inside when the object has none), the other fields checked
/// and passed over, `name` given twice declined (serde's derive refuses it).
pub(crate) fn one_field<'a, T>(
    s: &mut Scan<'a>,
    depth: usize,
    name: &str,
    mut read: impl FnMut(&mut Scan<'a>) -> Option<T>,
) -> Option<Option<T>> {
    let mut value = None;
    let mut seen = Seen::default();
    s.object(depth, |s, key| {
        if key != name {
            return s.skip(depth + 1);
        }
        seen.first(0)?;
        value = Some(read(s)?);
        Some(())
    })?;
    Some(value)
}

pub(crate) fn malformed(what: &'static str, e: serde_json::Error) -> ExtractError {
    ExtractError::Malformed {
        what,
        message: e.to_string(),
    }
}

/// Largest token count taken at face value (2^53: beyond, counts are absurd).
const MAX_TOKENS: i64 = 1 << 53;

/// A token count from the wire, checked.
pub(crate) fn tokens(value: Option<i64>, field: &str) -> Result<u64, ExtractError> {
    match value {
        None => Ok(0),
        Some(v) if (0..=MAX_TOKENS).contains(&v) => Ok(v as u64),
        Some(v) => Err(ExtractError::InvalidUsage(format!("{field} = {v}"))),
    }
}

/// An LLM API operation recognised on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireFormat {
    /// OpenAI (and compatible) `/chat/completions`.
    OpenAiChat,
    /// OpenAI legacy `/completions`.
    OpenAiCompletions,
    /// OpenAI `/embeddings`.
    OpenAiEmbeddings,
    /// OpenAI Responses API `/responses`.
    OpenAiResponses,
    /// Anthropic `/v1/messages`.
    AnthropicMessages,
    /// Gemini `models/{model}:generateContent` or `:streamGenerateContent`.
    GeminiGenerate {
        /// The model from the path.
        model: String,
        /// `streamGenerateContent`.
        stream: bool,
    },
    /// Gemini `models/{model}:embedContent` / `:batchEmbedContents`.
    GeminiEmbed {
        /// The model from the path.
        model: String,
    },
}

impl WireFormat {
    /// The provider this format implies when the host does not say.
    pub fn default_provider(&self) -> Provider {
        match self {
            WireFormat::AnthropicMessages => Provider::Anthropic,
            WireFormat::GeminiGenerate { .. } | WireFormat::GeminiEmbed { .. } => Provider::Gemini,
            _ => Provider::OpenAi,
        }
    }
}

/// Recognises an LLM API call from its method and path (query excluded).
pub fn detect(method: &str, path: &str) -> Option<WireFormat> {
    if !method.eq_ignore_ascii_case("POST") {
        return None;
    }
    let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    if let Some((before, action)) = path.rsplit_once(':') {
        let model = before.rsplit_once("/models/").map(|(_, m)| m)?;
        let model = model.to_owned();
        return match action {
            "generateContent" => Some(WireFormat::GeminiGenerate {
                model,
                stream: false,
            }),
            "streamGenerateContent" => Some(WireFormat::GeminiGenerate {
                model,
                stream: true,
            }),
            "embedContent" | "batchEmbedContents" => Some(WireFormat::GeminiEmbed { model }),
            _ => None,
        };
    }
    if path.ends_with("/chat/completions") {
        Some(WireFormat::OpenAiChat)
    } else if path.ends_with("/v1/messages") || path == "/messages" {
        Some(WireFormat::AnthropicMessages)
    } else if path.ends_with("/completions") {
        Some(WireFormat::OpenAiCompletions)
    } else if path.ends_with("/embeddings") {
        Some(WireFormat::OpenAiEmbeddings)
    } else if path.ends_with("/responses") {
        Some(WireFormat::OpenAiResponses)
    } else {
        None
    }
}

/// Reads a request body. `capture` also converts messages for content capture.
pub fn parse_request(
    format: &WireFormat,
    provider: Provider,
    body: &[u8],
    capture: bool,
) -> Result<RequestInfo, ExtractError> {
    match format {
        WireFormat::OpenAiChat
        | WireFormat::OpenAiCompletions
        | WireFormat::OpenAiEmbeddings
        | WireFormat::OpenAiResponses => openai::parse_request(format, provider, body, capture),
        WireFormat::AnthropicMessages => anthropic::parse_request(provider, body, capture),
        WireFormat::GeminiGenerate { model, stream } => {
            gemini::parse_request(provider, model, *stream, body, capture)
        }
        WireFormat::GeminiEmbed { model } => Ok(gemini::embed_request(provider, model)),
    }
}

/// Reads a (non-streamed) response body.
pub fn parse_response(
    format: &WireFormat,
    body: &[u8],
    capture: bool,
) -> Result<ResponseInfo, ExtractError> {
    match format {
        WireFormat::OpenAiChat | WireFormat::OpenAiCompletions => {
            openai::parse_chat_response(body, capture)
        }
        WireFormat::OpenAiEmbeddings => openai::parse_embeddings_response(body),
        WireFormat::OpenAiResponses => openai::parse_responses_response(body, capture),
        WireFormat::AnthropicMessages => anthropic::parse_response(body, capture),
        WireFormat::GeminiGenerate { .. } => gemini::parse_response(body, capture),
        WireFormat::GeminiEmbed { .. } => Ok(ResponseInfo::default()),
    }
}

/// A new accumulator for a streamed response of this format.
pub fn stream_accumulator(format: &WireFormat, capture: bool) -> Box<dyn StreamAccumulator> {
    match format {
        WireFormat::AnthropicMessages => Box::new(anthropic::StreamState::new(capture)),
        WireFormat::GeminiGenerate { .. } => Box::new(gemini::StreamState::new(capture)),
        WireFormat::OpenAiResponses => Box::new(openai::ResponsesStreamState::new(capture)),
        _ => Box::new(openai::ChatStreamState::new(capture)),
    }
}

/// Folds a streamed response's events into its facts.
pub trait StreamAccumulator: Send + Sync {
    /// One server-sent event.
    fn on_event(&mut self, event: SseEvent<'_>) -> Result<(), ExtractError>;
    /// What is known so far.
    fn info(&self) -> &ResponseInfo;
    /// An error the stream itself reported (`event: error`), as (type, message).
    fn stream_error(&self) -> Option<(String, String)>;
    /// Whether the stream said its answer is complete (`[DONE]`, `message_stop`,
    /// `response.completed`, a finish reason for every choice): a caller that drops
    /// the stream from here on ended it normally, and a stream that ends before this
    /// is incomplete.
    fn completed(&self) -> bool;
    /// Whether the answer is whole, so that a caller dropping the stream from here on
    /// ended it normally. The same as [`completed`](Self::completed), except where a
    /// format says everything before its terminal event: Anthropic's `message_delta`
    /// with a `stop_reason` carries the final usage, and `message_stop` adds nothing
    /// (rig stops reading there). A stream that *ends* there is still incomplete.
    fn answered(&self) -> bool {
        self.completed()
    }
    /// Whether the stream's terminal event was seen: the call ends there, and
    /// nothing after it counts. Formats with no terminal event (Gemini) never close.
    fn closed(&self) -> bool {
        false
    }
    /// Takes the facts out, adding captured content gathered on the way.
    fn finish(&mut self) -> ResponseInfo;
    /// Keeps at most `bytes` of captured text per output (the content policy cuts
    /// what it records to its limit anyway), so a long stream costs no more memory
    /// than the limit. [`DEFAULT_CAPTURE_LIMIT`] until set.
    fn set_capture_limit(&mut self, bytes: usize) {
        let _ = bytes;
    }
}

/// Captured text kept per streamed output until a limit is set: the content policy's
/// default total limit.
pub const DEFAULT_CAPTURE_LIMIT: usize = 64 * 1024;

/// Text gathered from a stream's deltas, up to a byte limit (cut at a character
/// boundary; later deltas are counted, not kept).
#[derive(Debug, Clone, Default)]
pub(crate) struct BoundedText {
    text: String,
    dropped: usize,
}

impl BoundedText {
    /// Appends what fits of `s` under `limit` bytes.
    pub(crate) fn push(&mut self, s: &str, limit: usize) {
        let room = limit.saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
            return;
        }
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&s[..end]);
        self.dropped = self.dropped.saturating_add(s.len() - end);
    }

    /// The text, with a marker when some was not kept.
    pub(crate) fn text(&self) -> std::borrow::Cow<'_, str> {
        if self.dropped == 0 {
            std::borrow::Cow::Borrowed(&self.text)
        } else {
            std::borrow::Cow::Owned(format!("{}…[truncated {} bytes]", self.text, self.dropped))
        }
    }
}

/// A provider's error body, as (error type, message).
///
/// ```
/// let (t, m) = aitrace_llm::wire::parse_error(br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#).unwrap();
/// assert_eq!((t.as_str(), m.as_str()), ("overloaded_error", "Overloaded"));
/// ```
pub fn parse_error(body: &[u8]) -> Option<(String, String)> {
    #[derive(Deserialize)]
    struct Envelope {
        error: Option<ErrorBody>,
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(rename = "type")]
        kind: Option<String>,
        code: Option<serde_json::Value>,
        status: Option<String>,
        message: Option<String>,
    }
    let env: Envelope = crate::wire::from_json(body).ok()?;
    let e = env.error?;
    let (code_str, code_num) = match e.code {
        Some(serde_json::Value::String(s)) => (Some(s), None),
        Some(serde_json::Value::Number(n)) => (None, Some(n.to_string())),
        _ => (None, None),
    };
    // Most specific first: OpenAI's string `code` (`rate_limit_exceeded`), then
    // `type` (Anthropic, OpenAI), then Gemini's `status`, then a numeric code.
    let kind = code_str.or(e.kind).or(e.status).or(code_num)?;
    Some((kind, e.message.unwrap_or_default()))
}

/// The conventions' shape of one message: `{"role", "parts": [...]}`.
pub(crate) fn message(role: &str, parts: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({ "role": role, "parts": parts })
}

/// A text part.
pub(crate) fn text_part(text: &str) -> serde_json::Value {
    serde_json::json!({ "type": "text", "content": text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bodies_whatever_their_bytes_as_the_byte_reader_did() {
        let body = |content: &[u8]| {
            let mut b =
                br#"{"id":"c1","model":"m","choices":[{"index":0,"message":{"content":""#.to_vec();
            b.extend_from_slice(content);
            b.extend_from_slice(br#""},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":3}}"#);
            b
        };
        for content in [
            &b"plain"[..],
            "caf\u{e9} \u{1f600}".as_bytes(),
            b"\xff\xfe broken",
        ] {
            let info = parse_response(&WireFormat::OpenAiChat, &body(content), false)
                .unwrap_or_else(|e| panic!("{content:?}: {e}"));
            let usage = info.usage.expect("usage");
            assert_eq!((usage.input_tokens, usage.output_tokens), (7, 3));
            assert_eq!(info.finish_reasons, vec!["stop".to_owned()]);
        }
        // Bytes that are not UTF-8 in a string that is kept are an error, as before.
        let bad = [&br#"{"id":""#[..], b"\xff", br#"","choices":[]}"#].concat();
        assert!(parse_response(&WireFormat::OpenAiChat, &bad, false).is_err());
        let text: serde_json::Result<serde_json::Value> = from_json(b"{\"a\": [1, 2]}");
        assert_eq!(text.unwrap()["a"][1], 2);
    }

    #[test]
    fn detects_formats_from_paths() {
        assert_eq!(
            detect("POST", "/v1/chat/completions"),
            Some(WireFormat::OpenAiChat)
        );
        assert_eq!(
            detect(
                "POST",
                "/openai/deployments/gpt4/chat/completions?api-version=2024-10-21"
            ),
            Some(WireFormat::OpenAiChat)
        );
        assert_eq!(
            detect("POST", "/v1/messages"),
            Some(WireFormat::AnthropicMessages)
        );
        assert_eq!(
            detect("POST", "/v1/responses"),
            Some(WireFormat::OpenAiResponses)
        );
        assert_eq!(
            detect("POST", "/v1/embeddings"),
            Some(WireFormat::OpenAiEmbeddings)
        );
        assert_eq!(
            detect(
                "POST",
                "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
            ),
            Some(WireFormat::GeminiGenerate {
                model: "gemini-2.5-flash".into(),
                stream: true
            })
        );
        assert_eq!(detect("GET", "/v1/chat/completions"), None);
        assert_eq!(detect("POST", "/v1/files"), None);
    }

    /// With capture on, a long stream keeps only the limit's worth of text (2 MB of
    /// deltas here, 4 KiB kept), in every format.
    #[test]
    fn captured_stream_text_is_bounded_in_every_format() {
        let delta = "y".repeat(1000);
        let cases: Vec<(WireFormat, String, &str)> = vec![
            (
                WireFormat::OpenAiChat,
                serde_json::json!({"choices":[{"index":0,"delta":{"content":delta}}]}).to_string(),
                "",
            ),
            (
                WireFormat::AnthropicMessages,
                serde_json::json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":delta}}).to_string(),
                "content_block_delta",
            ),
            (
                WireFormat::GeminiGenerate { model: "g".into(), stream: true },
                serde_json::json!({"candidates":[{"content":{"parts":[{"text":delta}],"role":"model"}}]}).to_string(),
                "",
            ),
        ];
        for (format, data, event) in cases {
            let mut acc = stream_accumulator(&format, true);
            acc.set_capture_limit(4096);
            for _ in 0..2000 {
                acc.on_event(SseEvent {
                    event,
                    data: data.as_bytes(),
                })
                .unwrap();
            }
            let info = acc.finish();
            let messages = info.output_messages.unwrap();
            let text = messages[0]["parts"][0]["content"].as_str().unwrap();
            assert!(text.len() < 4096 + 64, "{format:?}: {}", text.len());
            assert!(text.ends_with("[truncated 1995904 bytes]"), "{format:?}");
        }
    }

    #[test]
    fn token_counts_are_checked() {
        assert_eq!(tokens(Some(5), "x"), Ok(5));
        assert!(tokens(Some(-1), "x").is_err());
        assert!(tokens(Some(i64::MAX), "x").is_err());
    }
}
