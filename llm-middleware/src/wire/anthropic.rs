//! Anthropic Messages API (`/v1/messages`) and its server-sent events.
//!
//! Anthropic's `input_tokens` exclude the cache, so input is summed per the
//! conventions ([`Usage::from_anthropic`]). In streams, usage comes in `message_start`
//! and again, cumulatively, in `message_delta`: later values overwrite, never add.

use std::borrow::Cow;

use aitrace_core::conventions::{Operation, Provider};
use aitrace_core::usage::Usage;
use serde::Deserialize;
use serde_json::Value;

use super::{malformed, message, text_part, tokens, ExtractError, StreamAccumulator};
use crate::sse::SseEvent;
use crate::types::{RequestInfo, RequestParams, ResponseInfo};
use aitrace_core::json::{Scan, Seen};

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    max_tokens: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<f64>,
    #[serde(default, borrow)]
    stop_sequences: Vec<Cow<'a, str>>,
    stream: Option<bool>,
    thinking: Option<Thinking>,
    #[serde(borrow)]
    output_config: Option<OutputConfig<'a>>,
}

#[derive(Deserialize)]
struct Thinking {
    budget_tokens: Option<i64>,
}

#[derive(Deserialize)]
struct OutputConfig<'a> {
    #[serde(borrow)]
    effort: Option<Cow<'a, str>>,
}

/// Reads a Messages request body.
pub fn parse_request(
    provider: Provider,
    body: &[u8],
    capture: bool,
) -> Result<RequestInfo, ExtractError> {
    let req: Request<'_> = crate::wire::from_json(body).map_err(|e| malformed("request", e))?;
    let mut info = RequestInfo::new(provider, Operation::Chat, req.model.map(Cow::into_owned));
    info.stream = req.stream.unwrap_or(false);
    info.params = RequestParams {
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        stop_sequences: req
            .stop_sequences
            .into_iter()
            .map(Cow::into_owned)
            .collect(),
        // The value sent: the effort level, else the extended-thinking token budget.
        reasoning_level: req
            .output_config
            .and_then(|o| o.effort)
            .map(Cow::into_owned)
            .or_else(|| {
                req.thinking
                    .and_then(|t| t.budget_tokens)
                    .map(|b| b.to_string())
            }),
        ..RequestParams::default()
    };
    if capture {
        let value: Value = crate::wire::from_json(body).map_err(|e| malformed("request", e))?;
        info.system_instructions = match value.get("system") {
            Some(Value::String(s)) => Some(Value::Array(vec![text_part(s)])),
            Some(Value::Array(blocks)) => {
                Some(Value::Array(blocks.iter().map(block_part).collect()))
            }
            _ => None,
        };
        info.tool_definitions = value.get("tools").and_then(Value::as_array).map(|tools| {
            Value::Array(
                tools
                    .iter()
                    .map(|t| match t.get("input_schema") {
                        // A client tool: the conventions' function definition.
                        Some(schema) => serde_json::json!({
                            "type": "function",
                            "name": t.get("name"),
                            "description": t.get("description"),
                            "parameters": schema,
                        }),
                        // A server tool (`web_search_20250305`, ...) as sent.
                        None => t.clone(),
                    })
                    .collect(),
            )
        });
        info.input_messages = value.get("messages").and_then(Value::as_array).map(|msgs| {
            Value::Array(
                msgs.iter()
                    .map(|m| {
                        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
                        message(role, content_parts(m.get("content")))
                    })
                    .collect(),
            )
        });
    }
    Ok(info)
}

fn content_parts(content: Option<&Value>) -> Vec<Value> {
    match content {
        Some(Value::String(s)) => vec![text_part(s)],
        Some(Value::Array(blocks)) => blocks.iter().map(block_part).collect(),
        _ => Vec::new(),
    }
}

fn block_part(block: &Value) -> Value {
    match block.get("type").and_then(Value::as_str) {
        Some("text") => text_part(
            block
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
        Some("tool_use") => serde_json::json!({
            "type": "tool_call", "id": block.get("id"), "name": block.get("name"),
            "arguments": super::openai::tool_arguments(block.get("input")),
        }),
        Some("thinking") => serde_json::json!({
            "type": "reasoning", "content": block.get("thinking").and_then(Value::as_str).unwrap_or_default(),
        }),
        Some("tool_result") => serde_json::json!({
            "type": "tool_call_response", "id": block.get("tool_use_id"), "response": block.get("content"),
        }),
        _ => block.clone(),
    }
}

/// `usage` as Anthropic reports it; every field optional (deltas carry some).
#[derive(Deserialize, Debug, Default, Clone, Copy)]
struct RawUsage {
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cache_creation_input_tokens: Option<i64>,
    cache_read_input_tokens: Option<i64>,
}

impl RawUsage {
    /// Overwrites the fields `newer` carries.
    fn overwrite(&mut self, newer: RawUsage) {
        self.input_tokens = newer.input_tokens.or(self.input_tokens);
        self.output_tokens = newer.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = newer
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = newer
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
    }

    fn to_usage(self) -> Result<Usage, ExtractError> {
        Ok(Usage::from_anthropic(
            tokens(self.input_tokens, "input_tokens")?,
            tokens(self.cache_read_input_tokens, "cache_read_input_tokens")?,
            tokens(
                self.cache_creation_input_tokens,
                "cache_creation_input_tokens",
            )?,
            tokens(self.output_tokens, "output_tokens")?,
        ))
    }
}

#[derive(Deserialize)]
struct Message {
    id: Option<String>,
    model: Option<String>,
    stop_reason: Option<String>,
    usage: Option<RawUsage>,
    #[serde(default)]
    content: Vec<Value>,
}

/// Reads a Messages response body.
pub fn parse_response(body: &[u8], capture: bool) -> Result<ResponseInfo, ExtractError> {
    let msg: Message = crate::wire::from_json(body).map_err(|e| malformed("response", e))?;
    Ok(ResponseInfo {
        id: msg.id,
        model: msg.model,
        usage: msg.usage.map(RawUsage::to_usage).transpose()?,
        output_messages: capture.then(|| {
            let mut m = message("assistant", msg.content.iter().map(block_part).collect());
            m["finish_reason"] = msg.stop_reason.clone().into();
            Value::Array(vec![m])
        }),
        finish_reasons: msg.stop_reason.into_iter().collect(),
        ..ResponseInfo::default()
    })
}

/// Gathers a Messages stream.
#[derive(Debug)]
pub struct StreamState {
    info: ResponseInfo,
    raw: RawUsage,
    text: super::BoundedText,
    limit: usize,
    capture: bool,
    done: bool,
    /// `message_delta` said why the message stopped.
    stop_reason_seen: bool,
    error: Option<(String, String)>,
}

impl StreamState {
    /// A new accumulator.
    pub fn new(capture: bool) -> StreamState {
        StreamState {
            info: ResponseInfo::default(),
            raw: RawUsage::default(),
            text: super::BoundedText::default(),
            limit: super::DEFAULT_CAPTURE_LIMIT,
            capture,
            done: false,
            stop_reason_seen: false,
            error: None,
        }
    }

    fn merge_usage(&mut self, newer: RawUsage) -> Result<(), ExtractError> {
        self.raw.overwrite(newer);
        // Checked now, so a bad count is reported where it arrives.
        self.info.usage = Some(self.raw.to_usage()?);
        Ok(())
    }
}

#[derive(Deserialize, Default)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    message: Option<Message>,
    #[serde(borrow)]
    delta: Option<EventDelta<'a>>,
    usage: Option<RawUsage>,
    error: Option<Value>,
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct EventDelta<'a> {
    #[serde(borrow)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

impl<'a> Event<'a> {
    /// An event read as serde_json reads it, faster, for the events with no
    /// `message`, `usage` or `error` (text deltas, block starts and stops): `None` for
    /// any other, and for anything the strict reader does not take (see `aitrace_core::json`).
    fn scan(text: &'a str) -> Option<Event<'a>> {
        let mut s = Scan::new(text);
        let mut event = Event::default();
        let mut seen = Seen::default();
        s.object(0, |s, key| match key {
            "type" => {
                seen.first(0)?;
                event.kind = s.opt_str()?;
                Some(())
            }
            "delta" => {
                seen.first(1)?;
                if s.opt_null()? {
                    return Some(());
                }
                let mut delta = EventDelta::default();
                let mut seen_delta = Seen::default();
                s.object(1, |s, key| match key {
                    "stop_reason" => {
                        seen_delta.first(0)?;
                        delta.stop_reason = s.opt_str()?;
                        Some(())
                    }
                    "text" => {
                        seen_delta.first(1)?;
                        delta.text = s.opt_str()?;
                        Some(())
                    }
                    _ => s.skip(2),
                })?;
                event.delta = Some(delta);
                Some(())
            }
            // Read by serde_json when they say anything.
            "message" => {
                seen.first(2)?;
                s.null()
            }
            "usage" => {
                seen.first(3)?;
                s.null()
            }
            "error" => {
                seen.first(4)?;
                s.null()
            }
            _ => s.skip(1),
        })?;
        s.end()?;
        Some(event)
    }
}

/// The text of a text delta written as the Messages API writes it, to the byte:
/// `{"type":"content_block_delta","index":N,"delta":{"type":"text_delta","text":"…"}}`,
/// read without a parse of the event (most events of a stream read with content capture
/// on). `None` for any other event or layout, which is then parsed as usual: an event
/// of this layout is valid JSON that the parse reads as this text delta and nothing else.
fn text_delta(data: &[u8]) -> Option<Cow<'_, str>> {
    const HEAD: &[u8] = br#"{"type":"content_block_delta","index":"#;
    const DELTA: &[u8] = br#","delta":{"type":"text_delta","text":"#;
    let rest = data.strip_prefix(HEAD)?;
    // The index: digits as JSON writes an integer (no leading zero).
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || (digits > 1 && rest[0] == b'0') {
        return None;
    }
    let rest = rest[digits..].strip_prefix(DELTA)?;
    let mut s = Scan::new(std::str::from_utf8(rest).ok()?);
    let text = s.string()?;
    (s.rest() == "}}").then_some(text)
}

impl StreamAccumulator for StreamState {
    fn on_event(&mut self, event: SseEvent<'_>) -> Result<(), ExtractError> {
        // Token deltas are most of a stream and carry nothing the span needs unless
        // content is captured; pings carry nothing at all.
        if event.event == "ping" || (!self.capture && event.event == "content_block_delta") {
            return Ok(());
        }
        if self.capture {
            if let Some(text) = text_delta(event.data) {
                self.text.push(&text, self.limit);
                return Ok(());
            }
        }
        let e = crate::wire::scan_json(event.data, Event::scan)
            .map_err(|e| malformed("stream event", e))?;
        let kind = e.kind.as_deref().unwrap_or(event.event);
        match kind {
            "message_start" => {
                if let Some(m) = e.message {
                    self.info.id = m.id;
                    self.info.model = m.model;
                    if let Some(u) = m.usage {
                        self.merge_usage(u)?;
                    }
                }
            }
            "content_block_delta" if self.capture => {
                if let Some(t) = e.delta.and_then(|d| d.text) {
                    self.text.push(&t, self.limit);
                }
            }
            "message_delta" => {
                if let Some(reason) = e.delta.and_then(|d| d.stop_reason) {
                    self.info.finish_reasons = vec![reason.into_owned()];
                    self.stop_reason_seen = true;
                }
                if let Some(u) = e.usage {
                    self.merge_usage(u)?;
                }
            }
            "message_stop" => self.done = true,
            "error" => {
                let err = e.error.unwrap_or(Value::Null);
                let kind = err
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("stream_error");
                let msg = err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                self.error = Some((kind.to_owned(), msg.to_owned()));
            }
            _ => {}
        }
        Ok(())
    }

    fn info(&self) -> &ResponseInfo {
        &self.info
    }

    fn stream_error(&self) -> Option<(String, String)> {
        self.error.clone()
    }

    fn completed(&self) -> bool {
        self.done
    }

    fn answered(&self) -> bool {
        self.done || self.stop_reason_seen
    }

    fn closed(&self) -> bool {
        self.done
    }

    fn set_capture_limit(&mut self, bytes: usize) {
        self.limit = bytes;
    }

    fn finish(&mut self) -> ResponseInfo {
        let mut info = std::mem::take(&mut self.info);
        if self.capture {
            let mut m = message("assistant", vec![text_part(&self.text.text())]);
            m["finish_reason"] = info.finish_reasons.first().cloned().into();
            info.output_messages = Some(Value::Array(vec![m]));
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(data: &str) -> SseEvent<'_> {
        SseEvent {
            event: "",
            data: data.as_bytes(),
        }
    }

    #[test]
    fn stream_usage_overwrites_cumulatively() {
        let mut s = StreamState::new(true);
        s.on_event(ev(r#"{"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4-5","usage":{"input_tokens":20,"cache_read_input_tokens":100,"cache_creation_input_tokens":5,"output_tokens":1}}}"#)).unwrap();
        s.on_event(ev(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#)).unwrap();
        s.on_event(ev(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}"#,
        ))
        .unwrap();
        assert!(
            !s.answered(),
            "no stop reason yet: dropping now is a cancellation"
        );
        s.on_event(ev(r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}"#)).unwrap();
        // The answer is whole (a caller may stop reading here), the stream is not over.
        assert!(s.answered());
        assert!(!s.completed() && !s.closed());
        s.on_event(ev(
            r#"{"type":"message_delta","delta":{},"usage":{"output_tokens":42}}"#,
        ))
        .unwrap();
        s.on_event(ev(r#"{"type":"message_stop"}"#)).unwrap();
        assert!(s.completed() && s.answered());
        let info = s.finish();
        assert_eq!(info.usage, Some(Usage::from_anthropic(20, 100, 5, 42)));
        assert_eq!(info.finish_reasons, ["end_turn"]);
        assert_eq!(
            info.output_messages.unwrap()[0]["parts"][0]["content"],
            "Hello"
        );
    }

    /// Real event shapes of a Messages stream that the fast reading must take, and
    /// edits of them.
    const EVENT_SEEDS: &[&str] = &[
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"token 1 "}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"line\n\"two\"\t\\ ünï"}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me think"}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM=="}}"#,
        r#"{"type":"content_block_stop","index":0}"#,
        r#"{"type":"message_stop"}"#,
        r#"{ "type" : "message_delta" , "delta" : { "stop_reason" : "end_turn" , "stop_sequence" : null } , "usage" : null }"#,
    ];

    #[test]
    fn fast_event_reading_equals_serde_json() {
        // What the accumulator keeps of an event; the fast reading takes only events
        // without a message, usage or error.
        fn kept(e: &Event<'_>) -> String {
            let none = (e.message.is_none(), e.usage.is_none(), e.error.is_none());
            format!("{:?}", (&e.kind, &e.delta, none))
        }
        crate::wire::mutations::assert_reads_as_serde(
            EVENT_SEEDS,
            3,
            |t| Event::scan(t).map(|e| kept(&e)),
            |t| serde_json::from_str::<Event<'_>>(t).map(|e| kept(&e)),
        );
    }

    #[test]
    fn text_deltas_read_without_a_parse_as_the_parse_reads_them() {
        // What the parse gives for the text of a text delta, and for anything else.
        fn text_of(e: Event<'_>) -> String {
            let only_delta = e.message.is_none() && e.usage.is_none() && e.error.is_none();
            match (e.kind.as_deref(), e.delta, only_delta) {
                (
                    Some("content_block_delta"),
                    Some(EventDelta {
                        stop_reason: None,
                        text: Some(text),
                    }),
                    true,
                ) => format!("{text:?}"),
                (kind, delta, _) => format!("another event: {kind:?} {delta:?}"),
            }
        }
        crate::wire::mutations::assert_reads_as_serde(
            &[EVENT_SEEDS[0], EVENT_SEEDS[2]],
            20,
            |t| text_delta(t.as_bytes()).map(|text| format!("{text:?}")),
            |t| serde_json::from_str::<Event<'_>>(t).map(text_of),
        );
        for other in [
            EVENT_SEEDS[1],
            r#"{"type":"content_block_delta","index":00,"delta":{"type":"text_delta","text":"x"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}} "#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x","text":"y"}}"#,
        ] {
            assert_eq!(text_delta(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn events_the_fast_reading_leaves_to_serde_json() {
        for text in [
            r#"{"type":"a","type":"b"}"#,
            r#"{"delta":{"text":"a","text":"b"}}"#,
            r#"{"delta":{"text":"\ud83d\ude00"}}"#,
            r#"{"delta":{"stop_reason":1}}"#,
            r#"{"delta":[]}"#,
            r#"{"type":"message_start","message":{"id":"m"}}"#,
            r#"{"type":"message_delta","usage":{"output_tokens":1}}"#,
            r#"{"type":"error","error":{"type":"overloaded_error"}}"#,
            r#"{"type":"x","index":01}"#,
            r#"{"type":"x",}"#,
        ] {
            assert!(Event::scan(text).is_none(), "{text}");
        }
    }
}
