//! OpenAI and OpenAI-compatible wire formats: chat completions (and their stream
//! chunks), legacy completions, embeddings, and the Responses API (and its stream
//! events). The same shapes are served by Azure OpenAI, vLLM, Ollama's `/v1`, Groq,
//! OpenRouter, DeepSeek and Mistral.

use std::borrow::Cow;

use aitrace_core::conventions::{Operation, Provider};
use aitrace_core::usage::Usage;
use serde::Deserialize;
use serde_json::Value;

use super::{
    malformed, message, one_field, text_part, tokens, ExtractError, StreamAccumulator, WireFormat,
};
use crate::sse::SseEvent;
use crate::types::{RequestInfo, RequestParams, ResponseInfo};
use aitrace_core::json::{Keys, Scan, Seen};

#[derive(Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
#[serde(untagged)]
enum Stop<'a> {
    #[serde(borrow)]
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct ResponseFormat<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct TextConfig<'a> {
    #[serde(borrow)]
    format: Option<ResponseFormat<'a>>,
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Request<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    max_tokens: Option<i64>,
    max_completion_tokens: Option<i64>,
    max_output_tokens: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<f64>,
    seed: Option<i64>,
    frequency_penalty: Option<f64>,
    presence_penalty: Option<f64>,
    n: Option<i64>,
    #[serde(borrow)]
    stop: Option<Stop<'a>>,
    stream: Option<bool>,
    dimensions: Option<i64>,
    #[serde(borrow)]
    response_format: Option<ResponseFormat<'a>>,
    #[serde(borrow)]
    text: Option<TextConfig<'a>>,
    #[serde(borrow)]
    conversation: Option<Conversation<'a>>,
    #[serde(borrow)]
    previous_response_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reasoning_effort: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reasoning: Option<Reasoning<'a>>,
    #[serde(borrow)]
    service_tier: Option<Cow<'a, str>>,
    #[serde(borrow)]
    encoding_format: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Reasoning<'a> {
    #[serde(borrow)]
    effort: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
#[serde(untagged)]
enum Conversation<'a> {
    #[serde(borrow)]
    Id(Cow<'a, str>),
    Object {
        #[serde(borrow)]
        id: Cow<'a, str>,
    },
}

impl<'a> Request<'a> {
    /// A request read as serde_json reads it, without building the messages (checked
    /// and passed over): `None` for anything the strict reader does not take (see
    /// `aitrace_core::json`), and for a conversation given as an object.
    fn scan(text: &'a str) -> Option<Request<'a>> {
        let mut s = Scan::new(text);
        let mut r = Request::default();
        let mut seen = Seen::default();
        s.object(0, |s, key| {
            let n = match key {
                "model" => 0,
                "max_tokens" => 1,
                "max_completion_tokens" => 2,
                "max_output_tokens" => 3,
                "temperature" => 4,
                "top_p" => 5,
                "top_k" => 6,
                "seed" => 7,
                "frequency_penalty" => 8,
                "presence_penalty" => 9,
                "n" => 10,
                "stop" => 11,
                "stream" => 12,
                "dimensions" => 13,
                "response_format" => 14,
                "text" => 15,
                "conversation" => 16,
                "previous_response_id" => 17,
                "reasoning_effort" => 18,
                "reasoning" => 19,
                "service_tier" => 20,
                "encoding_format" => 21,
                _ => return s.skip(1),
            };
            seen.first(n)?;
            if s.opt_null()? {
                return Some(());
            }
            match n {
                0 => r.model = Some(s.string()?),
                1 => r.max_tokens = Some(s.i64()?),
                2 => r.max_completion_tokens = Some(s.i64()?),
                3 => r.max_output_tokens = Some(s.i64()?),
                4 => r.temperature = Some(s.f64()?),
                5 => r.top_p = Some(s.f64()?),
                6 => r.top_k = Some(s.f64()?),
                7 => r.seed = Some(s.i64()?),
                8 => r.frequency_penalty = Some(s.f64()?),
                9 => r.presence_penalty = Some(s.f64()?),
                10 => r.n = Some(s.i64()?),
                11 => {
                    r.stop = Some(if s.peek()? == b'[' {
                        let mut all = Vec::new();
                        s.array(1, |s| {
                            all.push(s.string()?);
                            Some(())
                        })?;
                        Stop::Many(all)
                    } else {
                        Stop::One(s.string()?)
                    })
                }
                12 => r.stream = Some(s.boolean()?),
                13 => r.dimensions = Some(s.i64()?),
                14 => r.response_format = Some(ResponseFormat::scan(s, 1)?),
                15 => {
                    let format = one_field(s, 1, "format", |s| {
                        if s.opt_null()? {
                            Some(None)
                        } else {
                            ResponseFormat::scan(s, 2).map(Some)
                        }
                    })?;
                    r.text = Some(TextConfig {
                        format: format.flatten(),
                    });
                }
                16 => r.conversation = Some(Conversation::Id(s.string()?)),
                17 => r.previous_response_id = Some(s.string()?),
                18 => r.reasoning_effort = Some(s.string()?),
                19 => {
                    let effort = one_field(s, 1, "effort", |s| s.opt_str())?;
                    r.reasoning = Some(Reasoning {
                        effort: effort.flatten(),
                    });
                }
                20 => r.service_tier = Some(s.string()?),
                _ => r.encoding_format = Some(s.string()?),
            }
            Some(())
        })?;
        s.end()?;
        Some(r)
    }
}

impl<'a> ResponseFormat<'a> {
    /// `{"type": ...}` at nesting `depth`.
    fn scan(s: &mut Scan<'a>, depth: usize) -> Option<ResponseFormat<'a>> {
        let kind = one_field(s, depth, "type", |s| s.opt_str())?;
        Some(ResponseFormat {
            kind: kind.flatten(),
        })
    }
}

fn output_type(kind: Option<&str>) -> Option<String> {
    match kind? {
        "json_object" | "json_schema" => Some("json".to_owned()),
        "text" => Some("text".to_owned()),
        _ => None,
    }
}

/// Reads an OpenAI-format request body.
pub fn parse_request(
    format: &WireFormat,
    provider: Provider,
    body: &[u8],
    capture: bool,
) -> Result<RequestInfo, ExtractError> {
    let req = crate::wire::scan_json(body, Request::scan).map_err(|e| malformed("request", e))?;
    let operation = match format {
        WireFormat::OpenAiEmbeddings => Operation::Embeddings,
        WireFormat::OpenAiCompletions => Operation::TextCompletion,
        _ => Operation::Chat,
    };
    let mut info = RequestInfo::new(provider, operation, req.model.map(Cow::into_owned));
    info.stream = req.stream.unwrap_or(false);
    info.params = RequestParams {
        max_tokens: req
            .max_completion_tokens
            .or(req.max_tokens)
            .or(req.max_output_tokens),
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        stop_sequences: match req.stop {
            Some(Stop::One(s)) => vec![s.into_owned()],
            Some(Stop::Many(v)) => v.into_iter().map(Cow::into_owned).collect(),
            None => Vec::new(),
        },
        seed: req.seed,
        frequency_penalty: req.frequency_penalty,
        presence_penalty: req.presence_penalty,
        choice_count: req.n,
        dimensions: req.dimensions,
        reasoning_level: req
            .reasoning_effort
            .or_else(|| req.reasoning.and_then(|r| r.effort))
            .map(Cow::into_owned),
        encoding_formats: req
            .encoding_format
            .map(Cow::into_owned)
            .into_iter()
            .collect(),
    };
    info.openai_api_type = match format {
        WireFormat::OpenAiChat => Some(API_TYPE_CHAT_COMPLETIONS),
        WireFormat::OpenAiResponses => Some(API_TYPE_RESPONSES),
        _ => None,
    };
    info.service_tier = req.service_tier.map(Cow::into_owned);
    info.previous_response_id = req.previous_response_id.map(Cow::into_owned);
    let format_kind = req
        .response_format
        .and_then(|f| f.kind)
        .or_else(|| req.text.and_then(|t| t.format).and_then(|f| f.kind));
    info.output_type = output_type(format_kind.as_deref());
    info.conversation_id = match req.conversation {
        Some(Conversation::Id(id)) | Some(Conversation::Object { id }) => Some(id.into_owned()),
        None => None,
    };
    if capture && operation != Operation::Embeddings {
        let value: Value = crate::wire::from_json(body).map_err(|e| malformed("request", e))?;
        let (system, input) = if matches!(format, WireFormat::OpenAiResponses) {
            responses_input(&value)
        } else {
            chat_messages(&value)
        };
        info.system_instructions = system;
        info.input_messages = input;
        info.tool_definitions = value
            .get("tools")
            .and_then(Value::as_array)
            .map(|tools| Value::Array(tools.iter().map(tool_definition).collect()));
    }
    Ok(info)
}

/// `openai.api.type` of Chat Completions calls.
pub const API_TYPE_CHAT_COMPLETIONS: &str = "chat_completions";
/// `openai.api.type` of Responses API calls.
pub const API_TYPE_RESPONSES: &str = "responses";

/// A tool of the request's `tools`, in the conventions' flat shape: Chat Completions
/// nests functions (`{"type":"function","function":{...}}`), the Responses API does not;
/// built-in tools (`web_search`, ...) are kept as they are.
fn tool_definition(tool: &Value) -> Value {
    match tool.get("function") {
        Some(Value::Object(function)) => {
            let mut flat = serde_json::Map::new();
            flat.insert("type".to_owned(), "function".into());
            for (k, v) in function {
                flat.insert(k.clone(), v.clone());
            }
            Value::Object(flat)
        }
        _ => tool.clone(),
    }
}

/// Tool-call arguments as the conventions record them: the object when the wire's
/// JSON string parses, the string as sent otherwise.
pub(crate) fn tool_arguments(arguments: Option<&Value>) -> Value {
    match arguments {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .ok()
            .filter(|v| v.is_object() || v.is_array())
            .unwrap_or_else(|| Value::String(s.clone())),
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

fn tool_call_part(id: Option<&Value>, name: Option<&Value>, arguments: Option<&Value>) -> Value {
    serde_json::json!({
        "type": "tool_call",
        "id": id,
        "name": name,
        "arguments": tool_arguments(arguments),
    })
}

/// Chat messages in the conventions' shape. System and developer messages are part of
/// the chat history, so they stay in the input messages, in the order sent (the
/// conventions keep `gen_ai.system_instructions` for instructions given apart from
/// the history: Anthropic's `system`, Gemini's `systemInstruction`, Responses'
/// `instructions`).
fn chat_messages(req: &Value) -> (Option<Value>, Option<Value>) {
    if let Some(prompt) = req.get("prompt") {
        let text = prompt
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| prompt.to_string());
        return (
            None,
            Some(Value::Array(vec![message("user", vec![text_part(&text)])])),
        );
    }
    let Some(messages) = req.get("messages").and_then(Value::as_array) else {
        return (None, None);
    };
    let mut input = Vec::new();
    for m in messages {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        let mut parts = content_parts(m.get("content"));
        if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
            for call in calls {
                parts.push(tool_call_part(
                    call.get("id"),
                    call.pointer("/function/name"),
                    call.pointer("/function/arguments"),
                ));
            }
        }
        if role == "tool" {
            let response = m.get("content").cloned().unwrap_or(Value::Null);
            parts = vec![serde_json::json!({
                "type": "tool_call_response",
                "id": m.get("tool_call_id"),
                "response": response,
            })];
        }
        input.push(message(role, parts));
    }
    (None, Some(Value::Array(input)))
}

fn content_parts(content: Option<&Value>) -> Vec<Value> {
    match content {
        Some(Value::String(s)) => vec![text_part(s)],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item.get("text").and_then(Value::as_str) {
                Some(t) => text_part(t),
                None => item.clone(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn responses_input(req: &Value) -> (Option<Value>, Option<Value>) {
    let system = req
        .get("instructions")
        .and_then(Value::as_str)
        .map(|s| Value::Array(vec![text_part(s)]));
    let input = match req.get("input") {
        Some(Value::String(s)) => Some(Value::Array(vec![message("user", vec![text_part(s)])])),
        Some(Value::Array(items)) => Some(Value::Array(
            items
                .iter()
                .map(|m| {
                    let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
                    message(role, content_parts(m.get("content")))
                })
                .collect(),
        )),
        _ => None,
    };
    (system, input)
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct PromptDetails {
    cached_tokens: Option<i64>,
    text_tokens: Option<i64>,
    image_tokens: Option<i64>,
    audio_tokens: Option<i64>,
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct CompletionDetails {
    reasoning_tokens: Option<i64>,
    text_tokens: Option<i64>,
    image_tokens: Option<i64>,
    audio_tokens: Option<i64>,
}

/// Per-modality counts from the usage details, where the API reports them.
fn modality_tokens(
    input: Option<&PromptDetails>,
    output: Option<&CompletionDetails>,
) -> Vec<(&'static str, i64)> {
    use aitrace_core::conventions as c;
    let counts = [
        (
            c::GEN_AI_USAGE_TEXT_INPUT_TOKENS,
            input.and_then(|d| d.text_tokens),
        ),
        (
            c::GEN_AI_USAGE_IMAGE_INPUT_TOKENS,
            input.and_then(|d| d.image_tokens),
        ),
        (
            c::GEN_AI_USAGE_AUDIO_INPUT_TOKENS,
            input.and_then(|d| d.audio_tokens),
        ),
        (
            c::GEN_AI_USAGE_TEXT_OUTPUT_TOKENS,
            output.and_then(|d| d.text_tokens),
        ),
        (
            c::GEN_AI_USAGE_IMAGE_OUTPUT_TOKENS,
            output.and_then(|d| d.image_tokens),
        ),
        (
            c::GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS,
            output.and_then(|d| d.audio_tokens),
        ),
    ];
    counts
        .into_iter()
        .filter_map(|(key, n)| {
            n.filter(|n| (1..=MAX_MODALITY_TOKENS).contains(n))
                .map(|n| (key, n))
        })
        .collect()
}

/// Counts beyond 2^53 are absurd (as for the totals).
const MAX_MODALITY_TOKENS: i64 = 1 << 53;

/// `usage` of chat completions, completions and embeddings.
#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct ChatUsage {
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    prompt_tokens_details: Option<PromptDetails>,
    completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek's name for cached prompt tokens.
    prompt_cache_hit_tokens: Option<i64>,
}

impl ChatUsage {
    fn modalities(&self) -> Vec<(&'static str, i64)> {
        modality_tokens(
            self.prompt_tokens_details.as_ref(),
            self.completion_tokens_details.as_ref(),
        )
    }

    fn to_usage(&self) -> Result<Usage, ExtractError> {
        let cached = self
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .or(self.prompt_cache_hit_tokens);
        let reasoning = self
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens);
        Ok(Usage::new(
            tokens(self.prompt_tokens, "prompt_tokens")?,
            tokens(self.completion_tokens, "completion_tokens")?,
        )
        .with_cache_read(tokens(cached, "cached_tokens")?)
        .with_reasoning(tokens(reasoning, "reasoning_tokens")?))
    }
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Choice {
    #[serde(default)]
    index: u32,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct ChatResponse {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<ChatUsage>,
    service_tier: Option<String>,
    system_fingerprint: Option<String>,
}

/// A string or `null`, owned.
fn opt_string(s: &mut Scan<'_>) -> Option<Option<String>> {
    s.opt_str().map(|v| v.map(Cow::into_owned))
}

// The fields of responses and chunks in the order OpenAI writes them (the scanner then
// passes over most keys by comparing them with the text; any order reads).
const RESPONSE: Keys = Keys::new(&[
    "id",
    "object",
    "created",
    "model",
    "choices",
    "usage",
    "service_tier",
    "system_fingerprint",
]);
const CHOICE: Keys = Keys::new(&["index", "message", "logprobs", "finish_reason"]);
const USAGE: Keys = Keys::new(&[
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
]);
// A details object's first key is the count `scan_details` puts first (cached, or
// reasoning tokens): it stays first whatever the order of the others.
const PROMPT_DETAILS: Keys = Keys::new(&[
    "cached_tokens",
    "audio_tokens",
    "text_tokens",
    "image_tokens",
]);
const COMPLETION_DETAILS: Keys = Keys::new(&[
    "reasoning_tokens",
    "audio_tokens",
    "accepted_prediction_tokens",
    "rejected_prediction_tokens",
    "text_tokens",
    "image_tokens",
]);
const CHUNK: Keys = Keys::new(&[
    "id",
    "object",
    "created",
    "model",
    "service_tier",
    "system_fingerprint",
    "choices",
    "usage",
]);
const CHUNK_CHOICE: Keys = Keys::new(&["index", "delta", "logprobs", "finish_reason"]);

impl ChatResponse {
    /// A response read as serde_json reads it, without building what is not kept
    /// (messages are checked and passed over): `None` for anything the strict reader
    /// does not take (see `aitrace_core::json`).
    fn scan(text: &str) -> Option<ChatResponse> {
        let mut s = Scan::new(text);
        let mut r = ChatResponse::default();
        let mut seen = Seen::default();
        s.object_in_order(0, &RESPONSE, |s, key| match key {
            "id" => {
                seen.first(0)?;
                r.id = opt_string(s)?;
                Some(())
            }
            "model" => {
                seen.first(1)?;
                r.model = opt_string(s)?;
                Some(())
            }
            "choices" => {
                seen.first(2)?;
                s.array(1, |s| {
                    r.choices.push(Choice::scan(s)?);
                    Some(())
                })
            }
            "usage" => {
                seen.first(3)?;
                if !s.opt_null()? {
                    r.usage = Some(ChatUsage::scan(s, 1)?);
                }
                Some(())
            }
            "service_tier" => {
                seen.first(4)?;
                r.service_tier = opt_string(s)?;
                Some(())
            }
            "system_fingerprint" => {
                seen.first(5)?;
                r.system_fingerprint = opt_string(s)?;
                Some(())
            }
            _ => s.skip(1),
        })?;
        s.end()?;
        Some(r)
    }
}

impl ChatResponse {
    /// A chat completion written as OpenAI writes it:
    /// `{"id":…,"object":"chat.completion","created":N,"model":…,"choices":[…],` then
    /// `"usage":{…}`, and the service tier and fingerprint if present, and `}`
    /// (whitespace may follow it).
    ///
    /// - Each choice is `{"index":N,"message":…,"logprobs":…,"finish_reason":…}`. The
    ///   message and the logprobs are not kept: they are checked and passed over as
    ///   [`ChatResponse::scan`] passes over them, so a message the scan takes (text,
    ///   tool calls) reads here too.
    /// - The usage has the three counts, then the two details objects with the counts
    ///   OpenAI writes today.
    ///
    /// The text is read from that layout: its literal parts are compared, the values
    /// read as anywhere else. `None` for any other layout and for what the scanner
    /// declines (nesting past its depth, surrogate escapes), which is then read by
    /// [`ChatResponse::scan`] or serde. What this reads is valid JSON that serde reads
    /// as the same response.
    fn from_layout(text: &str) -> Option<ChatResponse> {
        let mut s = Scan::new(text);
        let present = |s: &mut Scan<'_>, part: &str| s.exactly(part).is_some();
        s.exactly(r#"{"id":"#)?;
        let id = opt_string(&mut s)?;
        s.exactly(r#","object":"chat.completion","created":"#)?;
        s.u64()?;
        s.exactly(r#","model":"#)?;
        let model = opt_string(&mut s)?;
        s.exactly(r#","choices":["#)?;
        let mut choices = Vec::new();
        if !present(&mut s, "]") {
            loop {
                s.exactly(r#"{"index":"#)?;
                let index = u32::try_from(s.index()?).ok()?;
                s.exactly(r#","message":"#)?;
                s.skip(3)?;
                s.exactly(r#","logprobs":"#)?;
                s.skip(3)?;
                s.exactly(r#","finish_reason":"#)?;
                let finish_reason = opt_string(&mut s)?;
                s.exactly("}")?;
                choices.push(Choice {
                    index,
                    finish_reason,
                });
                if present(&mut s, "]") {
                    break;
                }
                s.exactly(",")?;
            }
        }
        // A count (or `null`) after the literal part before it.
        let count = |s: &mut Scan<'_>, part: &str| {
            s.exactly(part)?;
            s.opt_i64()
        };
        let prompt_tokens = count(&mut s, r#","usage":{"prompt_tokens":"#)?;
        let completion_tokens = count(&mut s, r#","completion_tokens":"#)?;
        count(&mut s, r#","total_tokens":"#)?;
        let cached_tokens = count(&mut s, r#","prompt_tokens_details":{"cached_tokens":"#)?;
        let audio_in = count(&mut s, r#","audio_tokens":"#)?;
        let reasoning_tokens = count(
            &mut s,
            r#"},"completion_tokens_details":{"reasoning_tokens":"#,
        )?;
        let audio_out = count(&mut s, r#","audio_tokens":"#)?;
        count(&mut s, r#","accepted_prediction_tokens":"#)?;
        count(&mut s, r#","rejected_prediction_tokens":"#)?;
        s.exactly("}}")?;
        let service_tier = match present(&mut s, r#","service_tier":"#) {
            true => opt_string(&mut s)?,
            false => None,
        };
        let system_fingerprint = match present(&mut s, r#","system_fingerprint":"#) {
            true => opt_string(&mut s)?,
            false => None,
        };
        s.exactly("}")?;
        s.end()?;
        Some(ChatResponse {
            id,
            model,
            choices,
            usage: Some(ChatUsage {
                prompt_tokens,
                completion_tokens,
                prompt_tokens_details: Some(PromptDetails {
                    cached_tokens,
                    text_tokens: None,
                    image_tokens: None,
                    audio_tokens: audio_in,
                }),
                completion_tokens_details: Some(CompletionDetails {
                    reasoning_tokens,
                    text_tokens: None,
                    image_tokens: None,
                    audio_tokens: audio_out,
                }),
                prompt_cache_hit_tokens: None,
            }),
            service_tier,
            system_fingerprint,
        })
    }
}

impl Choice {
    fn scan(s: &mut Scan<'_>) -> Option<Choice> {
        let mut choice = Choice::default();
        let mut seen = Seen::default();
        s.object_in_order(2, &CHOICE, |s, key| match key {
            "index" => {
                seen.first(0)?;
                choice.index = u32::try_from(s.index()?).ok()?;
                Some(())
            }
            "finish_reason" => {
                seen.first(1)?;
                choice.finish_reason = opt_string(s)?;
                Some(())
            }
            _ => s.skip(3),
        })?;
        Some(choice)
    }
}

impl ChatUsage {
    /// `usage` at nesting `depth`.
    fn scan(s: &mut Scan<'_>, depth: usize) -> Option<ChatUsage> {
        let mut u = ChatUsage::default();
        let mut seen = Seen::default();
        s.object_in_order(depth, &USAGE, |s, key| match key {
            "prompt_tokens" => {
                seen.first(0)?;
                u.prompt_tokens = s.opt_i64()?;
                Some(())
            }
            "completion_tokens" => {
                seen.first(1)?;
                u.completion_tokens = s.opt_i64()?;
                Some(())
            }
            "prompt_tokens_details" => {
                seen.first(2)?;
                u.prompt_tokens_details = scan_details(s, depth + 1, &PROMPT_DETAILS)?.map(
                    |[cached_tokens, text_tokens, image_tokens, audio_tokens]| PromptDetails {
                        cached_tokens,
                        text_tokens,
                        image_tokens,
                        audio_tokens,
                    },
                );
                Some(())
            }
            "completion_tokens_details" => {
                seen.first(3)?;
                u.completion_tokens_details = scan_details(s, depth + 1, &COMPLETION_DETAILS)?.map(
                    |[reasoning_tokens, text_tokens, image_tokens, audio_tokens]| {
                        CompletionDetails {
                            reasoning_tokens,
                            text_tokens,
                            image_tokens,
                            audio_tokens,
                        }
                    },
                );
                Some(())
            }
            "prompt_cache_hit_tokens" => {
                seen.first(4)?;
                u.prompt_cache_hit_tokens = s.opt_i64()?;
                Some(())
            }
            _ => s.skip(depth + 1),
        })?;
        Some(u)
    }
}

/// A usage details object or `null`: the counts of `keys[0]` (cached or reasoning
/// tokens), `text_tokens`, `image_tokens` and `audio_tokens`, in that order.
fn scan_details(s: &mut Scan<'_>, depth: usize, keys: &Keys) -> Option<Option<[Option<i64>; 4]>> {
    let first = keys.first();
    if s.opt_null()? {
        return Some(None);
    }
    let mut counts = [None; 4];
    let mut seen = Seen::default();
    s.object_in_order(depth, keys, |s, key| {
        let n = match key {
            "text_tokens" => 1,
            "image_tokens" => 2,
            "audio_tokens" => 3,
            k if Some(k) == first => 0,
            _ => return s.skip(depth + 1),
        };
        seen.first(n as u32)?;
        counts[n] = s.opt_i64()?;
        Some(())
    })?;
    Some(Some(counts))
}

/// Reads a chat completion (or legacy completion) response.
pub fn parse_chat_response(body: &[u8], capture: bool) -> Result<ResponseInfo, ExtractError> {
    let resp = crate::wire::scan_json(body, |text| {
        ChatResponse::from_layout(text).or_else(|| ChatResponse::scan(text))
    })
    .map_err(|e| malformed("response", e))?;
    let mut choices = resp.choices;
    choices.sort_by_key(|c| c.index);
    let mut info = ResponseInfo {
        id: resp.id,
        model: resp.model,
        finish_reasons: choices
            .into_iter()
            .filter_map(|c| c.finish_reason)
            .collect(),
        usage: resp.usage.as_ref().map(ChatUsage::to_usage).transpose()?,
        output_messages: None,
        service_tier: resp.service_tier,
        system_fingerprint: resp.system_fingerprint,
        modality_tokens: resp
            .usage
            .as_ref()
            .map(ChatUsage::modalities)
            .unwrap_or_default(),
    };
    if capture {
        let value: Value = crate::wire::from_json(body).map_err(|e| malformed("response", e))?;
        info.output_messages = value
            .get("choices")
            .and_then(Value::as_array)
            .map(|choices| {
                Value::Array(
                    choices
                        .iter()
                        .map(|choice| {
                            let msg = choice.get("message");
                            let mut parts = content_parts(msg.and_then(|m| m.get("content")));
                            if let Some(t) = choice.get("text").and_then(Value::as_str) {
                                parts.push(text_part(t));
                            }
                            for call in msg
                                .and_then(|m| m.get("tool_calls"))
                                .and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                            {
                                parts.push(tool_call_part(
                                    call.get("id"),
                                    call.pointer("/function/name"),
                                    call.pointer("/function/arguments"),
                                ));
                            }
                            let mut m = message("assistant", parts);
                            m["finish_reason"] =
                                choice.get("finish_reason").cloned().unwrap_or(Value::Null);
                            m
                        })
                        .collect(),
                )
            });
    }
    Ok(info)
}

/// Reads an embeddings response.
pub fn parse_embeddings_response(body: &[u8]) -> Result<ResponseInfo, ExtractError> {
    #[derive(Deserialize)]
    struct Embeddings {
        model: Option<String>,
        usage: Option<ChatUsage>,
    }
    let resp: Embeddings = crate::wire::from_json(body).map_err(|e| malformed("response", e))?;
    Ok(ResponseInfo {
        model: resp.model,
        usage: resp.usage.map(|u| u.to_usage()).transpose()?,
        ..ResponseInfo::default()
    })
}

/// `usage` of the Responses API.
#[derive(Deserialize)]
struct ResponsesUsage {
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    input_tokens_details: Option<PromptDetails>,
    output_tokens_details: Option<CompletionDetails>,
}

impl ResponsesUsage {
    fn modalities(&self) -> Vec<(&'static str, i64)> {
        modality_tokens(
            self.input_tokens_details.as_ref(),
            self.output_tokens_details.as_ref(),
        )
    }

    fn to_usage(&self) -> Result<Usage, ExtractError> {
        Ok(Usage::new(
            tokens(self.input_tokens, "input_tokens")?,
            tokens(self.output_tokens, "output_tokens")?,
        )
        .with_cache_read(tokens(
            self.input_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens),
            "cached_tokens",
        )?)
        .with_reasoning(tokens(
            self.output_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens),
            "reasoning_tokens",
        )?))
    }
}

#[derive(Deserialize)]
struct IncompleteDetails {
    reason: Option<String>,
}

#[derive(Deserialize)]
struct ResponseObject {
    id: Option<String>,
    model: Option<String>,
    status: Option<String>,
    incomplete_details: Option<IncompleteDetails>,
    usage: Option<ResponsesUsage>,
    #[serde(default)]
    output: Vec<Value>,
    service_tier: Option<String>,
}

impl ResponseObject {
    fn into_info(self, capture: bool) -> Result<ResponseInfo, ExtractError> {
        let finish = match self.status.as_deref() {
            Some("completed") => {
                let called_tool = self
                    .output
                    .iter()
                    .any(|o| o.get("type").and_then(Value::as_str) == Some("function_call"));
                Some(if called_tool { "tool_calls" } else { "stop" }.to_owned())
            }
            Some("incomplete") => Some(
                self.incomplete_details
                    .and_then(|d| d.reason)
                    .unwrap_or_else(|| "incomplete".to_owned()),
            ),
            Some(other) => Some(other.to_owned()),
            None => None,
        };
        let output_messages = capture.then(|| responses_output(&self.output, finish.as_deref()));
        Ok(ResponseInfo {
            id: self.id,
            model: self.model,
            finish_reasons: finish.into_iter().collect(),
            usage: self
                .usage
                .as_ref()
                .map(ResponsesUsage::to_usage)
                .transpose()?,
            output_messages,
            service_tier: self.service_tier,
            system_fingerprint: None,
            modality_tokens: self
                .usage
                .as_ref()
                .map(ResponsesUsage::modalities)
                .unwrap_or_default(),
        })
    }
}

/// The output of a Responses API response as one assistant message; its
/// `finish_reason` (required by the output-messages schema) is the one the span gets.
fn responses_output(output: &[Value], finish_reason: Option<&str>) -> Value {
    let mut parts = Vec::new();
    for item in output {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => parts.extend(content_parts(item.get("content"))),
            Some("function_call") => parts.push(tool_call_part(
                item.get("call_id"),
                item.get("name"),
                item.get("arguments"),
            )),
            _ => {}
        }
    }
    let mut m = message("assistant", parts);
    m["finish_reason"] = finish_reason.map(str::to_owned).into();
    Value::Array(vec![m])
}

/// Reads a Responses API response.
pub fn parse_responses_response(body: &[u8], capture: bool) -> Result<ResponseInfo, ExtractError> {
    let resp: ResponseObject =
        crate::wire::from_json(body).map_err(|e| malformed("response", e))?;
    resp.into_info(capture)
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Delta<'a> {
    #[serde(borrow)]
    content: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct ChunkChoice<'a> {
    #[serde(default)]
    index: usize,
    #[serde(borrow)]
    delta: Option<Delta<'a>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct Chunk<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    service_tier: Option<Cow<'a, str>>,
    #[serde(borrow)]
    system_fingerprint: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    choices: Vec<ChunkChoice<'a>>,
    usage: Option<ChatUsage>,
    error: Option<Value>,
}

impl<'a> Chunk<'a> {
    /// A chunk read as serde_json reads it, faster, for the chunks with no `usage`
    /// or `error` (all but one of a stream's): `None` for any other, and for anything
    /// the strict reader does not take (see `aitrace_core::json`).
    fn scan(text: &'a str) -> Option<Chunk<'a>> {
        let mut s = Scan::new(text);
        let mut chunk = Chunk::default();
        let mut seen = Seen::default();
        s.object_in_order(0, &CHUNK, |s, key| match key {
            "id" => {
                seen.first(0)?;
                chunk.id = s.opt_str()?;
                Some(())
            }
            "model" => {
                seen.first(1)?;
                chunk.model = s.opt_str()?;
                Some(())
            }
            "service_tier" => {
                seen.first(2)?;
                chunk.service_tier = s.opt_str()?;
                Some(())
            }
            "system_fingerprint" => {
                seen.first(3)?;
                chunk.system_fingerprint = s.opt_str()?;
                Some(())
            }
            "choices" => {
                seen.first(4)?;
                s.array(1, |s| {
                    chunk.choices.push(ChunkChoice::scan(s)?);
                    Some(())
                })
            }
            // Read by serde_json when they say anything.
            "usage" => {
                seen.first(5)?;
                s.null()
            }
            "error" => {
                seen.first(6)?;
                s.null()
            }
            _ => s.skip(1),
        })?;
        s.end()?;
        Some(chunk)
    }
}

/// A content delta written as OpenAI writes it (its literal parts byte for byte,
/// whitespace allowed only before a value, as anywhere else):
/// `{"id":…,"object":"chat.completion.chunk","created":N,"model":…,` then
/// `"service_tier":…,` and `"system_fingerprint":…,` if present, then
/// `"choices":[{"index":N,"delta":{"content":…},"logprobs":null,"finish_reason":null}]`,
/// `,"usage":null` and `,"obfuscation":…` if present, and `}`: read without the scan
/// of every key (most chunks of a stream read with content capture on). `None` for any
/// other chunk or layout, which is then read as usual: a chunk of this layout is valid
/// JSON that [`Chunk::scan`] and serde read as this chunk.
fn content_chunk(text: &str) -> Option<Chunk<'_>> {
    let mut s = Scan::new(text);
    s.exactly(r#"{"id":"#)?;
    let id = s.string()?;
    s.exactly(r#","object":"chat.completion.chunk","created":"#)?;
    s.u64()?;
    s.exactly(r#","model":"#)?;
    let model = s.string()?;
    // An optional part: passed over if it is next (`exactly` moves on only then).
    let present = |s: &mut Scan<'_>, part: &str| s.exactly(part).is_some();
    let service_tier = match present(&mut s, r#","service_tier":"#) {
        true => Some(s.string()?),
        false => None,
    };
    let system_fingerprint = match present(&mut s, r#","system_fingerprint":"#) {
        true => Some(s.string()?),
        false => None,
    };
    s.exactly(r#","choices":[{"index":"#)?;
    let index = s.index()?;
    s.exactly(r#","delta":{"content":"#)?;
    let content = s.string()?;
    s.exactly(r#"},"logprobs":null,"finish_reason":null}]"#)?;
    present(&mut s, r#","usage":null"#);
    if present(&mut s, r#","obfuscation":"#) {
        s.string()?;
    }
    s.exactly("}")?;
    (s.rest().is_empty()).then_some(())?;
    Some(Chunk {
        id: Some(id),
        model: Some(model),
        service_tier,
        system_fingerprint,
        choices: vec![ChunkChoice {
            index,
            delta: Some(Delta {
                content: Some(content),
            }),
            text: None,
            finish_reason: None,
        }],
        usage: None,
        error: None,
    })
}

impl<'a> ChunkChoice<'a> {
    fn scan(s: &mut Scan<'a>) -> Option<ChunkChoice<'a>> {
        let mut choice = ChunkChoice::default();
        let mut seen = Seen::default();
        s.object_in_order(2, &CHUNK_CHOICE, |s, key| match key {
            "index" => {
                seen.first(0)?;
                choice.index = s.index()?;
                Some(())
            }
            "delta" => {
                seen.first(1)?;
                if s.opt_null()? {
                    return Some(());
                }
                let content = one_field(s, 3, "content", |s| s.opt_str())?;
                choice.delta = Some(Delta {
                    content: content.flatten(),
                });
                Some(())
            }
            "text" => {
                seen.first(2)?;
                choice.text = s.opt_str()?;
                Some(())
            }
            "finish_reason" => {
                seen.first(3)?;
                choice.finish_reason = s.opt_str()?;
                Some(())
            }
            _ => s.skip(3),
        })?;
        Some(choice)
    }
}

/// Gathers a chat completion stream: id and model from the first chunk, finish
/// reasons per choice, usage from the final chunk (sent when the request set
/// `stream_options.include_usage`), text when capturing.
#[derive(Debug)]
pub struct ChatStreamState {
    info: ResponseInfo,
    finish: Vec<Option<String>>,
    text: Vec<super::BoundedText>,
    limit: usize,
    capture: bool,
    done: bool,
    error: Option<(String, String)>,
}

impl ChatStreamState {
    /// A new accumulator.
    pub fn new(capture: bool) -> ChatStreamState {
        ChatStreamState {
            info: ResponseInfo::default(),
            finish: Vec::new(),
            text: Vec::new(),
            limit: super::DEFAULT_CAPTURE_LIMIT,
            capture,
            done: false,
            error: None,
        }
    }
}

/// Keeps choice indexes bounded: a hostile stream could name index 2^32.
const MAX_CHOICES: usize = 128;

impl StreamAccumulator for ChatStreamState {
    fn on_event(&mut self, event: SseEvent<'_>) -> Result<(), ExtractError> {
        let data = event.data;
        if data == b"[DONE]" {
            self.done = true;
            return Ok(());
        }
        // Most chunks carry one token and nothing the span needs: skip parsing them
        // unless content is captured (the hot path of streams; see BENCHMARKS.md).
        if !self.capture && self.info.model.is_some() && !chunk_has_news(data) {
            return Ok(());
        }
        // With capture on, a content delta in OpenAI's layout is read from that layout.
        let fast = match self.capture {
            true => std::str::from_utf8(data).ok().and_then(content_chunk),
            false => None,
        };
        let chunk = match fast {
            Some(chunk) => chunk,
            None => crate::wire::scan_json(data, Chunk::scan)
                .map_err(|e| malformed("stream chunk", e))?,
        };
        if let Some(err) = chunk.error {
            self.error = Some(error_of(&err));
        }
        if self.info.id.is_none() {
            self.info.id = chunk.id.map(Cow::into_owned);
        }
        if self.info.model.is_none() {
            self.info.model = chunk.model.map(Cow::into_owned);
        }
        set_if_some(&mut self.info.service_tier, chunk.service_tier);
        set_if_some(&mut self.info.system_fingerprint, chunk.system_fingerprint);
        for choice in chunk.choices {
            if choice.index >= MAX_CHOICES {
                continue;
            }
            if self.finish.len() <= choice.index {
                self.finish.resize(choice.index + 1, None);
            }
            if let Some(reason) = choice.finish_reason {
                self.finish[choice.index] = Some(reason.into_owned());
            }
            if self.capture {
                if self.text.len() <= choice.index {
                    self.text
                        .resize(choice.index + 1, super::BoundedText::default());
                }
                if let Some(t) = choice.delta.and_then(|d| d.content).or(choice.text) {
                    self.text[choice.index].push(&t, self.limit);
                }
            }
        }
        if let Some(u) = chunk.usage {
            self.info.usage = Some(u.to_usage()?);
            self.info.modality_tokens = u.modalities();
        }
        Ok(())
    }

    fn info(&self) -> &ResponseInfo {
        &self.info
    }

    fn stream_error(&self) -> Option<(String, String)> {
        self.error.clone()
    }

    /// `[DONE]`, or a finish reason for every choice (some compatible servers never
    /// send `[DONE]`).
    fn completed(&self) -> bool {
        self.done || (!self.finish.is_empty() && self.finish.iter().all(Option::is_some))
    }

    fn closed(&self) -> bool {
        self.done
    }

    fn set_capture_limit(&mut self, bytes: usize) {
        self.limit = bytes;
    }

    fn finish(&mut self) -> ResponseInfo {
        let mut info = std::mem::take(&mut self.info);
        info.finish_reasons = self.finish.iter().flatten().cloned().collect();
        if self.capture {
            info.output_messages = Some(Value::Array(
                self.text
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let mut m = message("assistant", vec![text_part(&t.text())]);
                        m["finish_reason"] = self.finish.get(i).cloned().flatten().into();
                        m
                    })
                    .collect(),
            ));
        }
        info
    }
}

/// `*slot = value` when there is a value, without a new allocation when the
/// value is the one already held (chunk after chunk repeats it).
fn set_if_some(slot: &mut Option<String>, value: Option<Cow<'_, str>>) {
    if let Some(v) = value {
        if slot.as_deref() != Some(&*v) {
            *slot = Some(v.into_owned());
        }
    }
}

/// Whether a chat chunk may say something beyond a content delta: a non-null
/// `finish_reason` or `usage`, or an `error`. Conservative: when unsure, `true`.
fn chunk_has_news(data: &[u8]) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    // Searchers built once: building one per search (as `str::find` does) cost more
    // than the search, three times a chunk.
    static ERROR: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"error\""));
    static NON_NULL: LazyLock<[Finder<'static>; 2]> =
        LazyLock::new(|| [Finder::new(b"\"finish_reason\""), Finder::new(b"\"usage\"")]);
    if std::str::from_utf8(data).is_err() || ERROR.find(data).is_some() {
        return true;
    }
    for key in NON_NULL.iter() {
        let mut rest = data;
        while let Some(at) = key.find(rest) {
            rest = &rest[at + key.needle().len()..];
            let value = rest
                .trim_ascii_start()
                .strip_prefix(b":")
                .map(<[u8]>::trim_ascii_start);
            if !value.is_some_and(|v| v.starts_with(b"null")) {
                return true;
            }
        }
    }
    false
}

fn error_of(err: &Value) -> (String, String) {
    let kind = err
        .get("type")
        .or_else(|| err.get("code"))
        .and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| Some(v.to_string()))
        })
        .unwrap_or_else(|| "stream_error".to_owned());
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    (kind, message)
}

/// Gathers a Responses API stream: everything comes in the final
/// `response.completed` (or `response.incomplete` / `response.failed`) event.
#[derive(Debug)]
pub struct ResponsesStreamState {
    info: ResponseInfo,
    capture: bool,
    done: bool,
    error: Option<(String, String)>,
}

impl ResponsesStreamState {
    /// A new accumulator.
    pub fn new(capture: bool) -> ResponsesStreamState {
        ResponsesStreamState {
            info: ResponseInfo::default(),
            capture,
            done: false,
            error: None,
        }
    }
}

impl StreamAccumulator for ResponsesStreamState {
    fn on_event(&mut self, event: SseEvent<'_>) -> Result<(), ExtractError> {
        #[derive(Deserialize)]
        struct Event {
            #[serde(rename = "type")]
            kind: Option<String>,
            response: Option<ResponseObject>,
            code: Option<String>,
            message: Option<String>,
        }
        let e: Event =
            crate::wire::from_json(event.data).map_err(|e| malformed("stream event", e))?;
        let kind = e.kind.as_deref().unwrap_or(event.event);
        match kind {
            "response.created" | "response.in_progress" => {
                if let Some(r) = e.response {
                    self.info.id = r.id;
                    self.info.model = r.model;
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if let Some(r) = e.response {
                    self.info = r.into_info(self.capture)?;
                }
                self.done = true;
                if kind == "response.failed" {
                    self.error = Some(("response_failed".to_owned(), String::new()));
                }
            }
            "error" => {
                self.error = Some((
                    e.code.unwrap_or_else(|| "stream_error".to_owned()),
                    e.message.unwrap_or_default(),
                ));
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

    fn closed(&self) -> bool {
        self.done
    }

    fn finish(&mut self) -> ResponseInfo {
        std::mem::take(&mut self.info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_usage_counts_cached_and_reasoning() {
        let info = parse_chat_response(
            br#"{"id":"x","model":"o3","choices":[{"index":1,"finish_reason":"length"},{"index":0,"finish_reason":"stop"}],
                "usage":{"prompt_tokens":100,"completion_tokens":50,
                         "prompt_tokens_details":{"cached_tokens":60},
                         "completion_tokens_details":{"reasoning_tokens":20}},"extra":{"ignored":true}}"#,
            false,
        )
        .unwrap();
        assert_eq!(info.finish_reasons, ["stop", "length"]);
        assert_eq!(
            info.usage,
            Some(Usage::new(100, 50).with_cache_read(60).with_reasoning(20))
        );
    }

    #[test]
    fn tokens_per_modality() {
        use aitrace_core::conventions as c;
        let info = parse_chat_response(
            br#"{"usage":{"prompt_tokens":100,"completion_tokens":50,
                 "prompt_tokens_details":{"cached_tokens":0,"audio_tokens":30},
                 "completion_tokens_details":{"audio_tokens":40,"text_tokens":10}}}"#,
            false,
        )
        .unwrap();
        assert_eq!(
            info.modality_tokens,
            [
                (c::GEN_AI_USAGE_AUDIO_INPUT_TOKENS, 30),
                (c::GEN_AI_USAGE_TEXT_OUTPUT_TOKENS, 10),
                (c::GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS, 40),
            ]
        );
    }

    #[test]
    fn only_chunks_with_news_are_parsed() {
        assert!(!chunk_has_news(br#"{"id":"x","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}"#));
        assert!(chunk_has_news(
            br#"{"choices":[{"delta":{},"finish_reason": "stop"}]}"#
        ));
        assert!(chunk_has_news(
            br#"{"choices":[],"usage" : {"prompt_tokens":1}}"#
        ));
        assert!(chunk_has_news(br#"{"error":{"message":"x"}}"#));
        // A later choice's reason, after a null one; whitespace around the colon.
        assert!(chunk_has_news(
            br#"{"choices":[{"index":0,"finish_reason":null},{"index":1,"finish_reason" :	"stop"}]}"#
        ));
        assert!(!chunk_has_news(
            b"{\"choices\":[{\"finish_reason\" \r\n: null}],\"usage\":\tnull}"
        ));
        // Not UTF-8: left to the parse, which says why.
        assert!(chunk_has_news(
            b"{\"choices\":[{\"delta\":{\"content\":\"\xff\"}}]}"
        ));
        // Quotes inside content are escaped, so a token that spells a key is no news.
        assert!(!chunk_has_news(
            br#"{"choices":[{"delta":{"content":"\"usage\": 5"}}]}"#
        ));
    }

    #[test]
    fn negative_usage_is_rejected() {
        let err = parse_chat_response(br#"{"usage":{"prompt_tokens":-5}}"#, false).unwrap_err();
        assert_eq!(err.marker(), "invalid_usage");
        let err = parse_chat_response(br#"{"choices":"nope"}"#, false).unwrap_err();
        assert_eq!(err.marker(), "malformed_json");
    }

    #[test]
    fn request_params_and_messages() {
        let body = br#"{"model":"gpt-4o","temperature":0.2,"max_completion_tokens":64,"stop":"END","n":2,"stream":true,
            "response_format":{"type":"json_object"},
            "messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}"#;
        let info = parse_request(&WireFormat::OpenAiChat, Provider::OpenAi, body, true).unwrap();
        assert_eq!(info.model.as_deref(), Some("gpt-4o"));
        assert_eq!(info.params.max_tokens, Some(64));
        assert_eq!(info.params.stop_sequences, ["END"]);
        assert!(info.stream);
        assert_eq!(info.output_type.as_deref(), Some("json"));
        // System messages are part of the chat history: they stay in order.
        assert_eq!(info.system_instructions, None);
        assert_eq!(
            info.input_messages,
            Some(serde_json::json!([
                {"role":"system","parts":[{"type":"text","content":"be brief"}]},
                {"role":"user","parts":[{"type":"text","content":"hi"}]}
            ]))
        );
    }

    /// Real chunk shapes (OpenAI, Azure, compatible servers) that the fast reading
    /// must take, and edits of them.
    const CHUNK_SEEDS: &[&str] = &[
        r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"token 1 "},"logprobs":null,"finish_reason":null}]}"#,
        r#"{"id":"chatcmpl-B","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_50","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"abc"}"#,
        r#"{"id":"c","choices":[{"index":1,"delta":{"content":"line\none \"quoted\" \\ tab\t ünï"},"finish_reason":null}]}"#,
        r#"{"id":"c","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#,
        r#"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1.5e3}"}}]},"finish_reason":null}]}"#,
        r#"{"id":"cmpl-1","object":"text_completion","choices":[{"text":" hi","index":0,"logprobs":null,"finish_reason":null}],"model":"gpt-3.5-turbo-instruct"}"#,
        r#"{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"delta":{"content":"x"},"finish_reason":null,"index":0}],"created":1,"id":"a","model":"gpt-4o","object":"chat.completion.chunk"}"#,
        r#"{ "id" : "c" , "choices" : [ ] , "model" : null , "delta" : null }"#,
    ];

    fn chunk_fields(c: &Chunk<'_>) -> String {
        let fields = (
            &c.id,
            &c.model,
            &c.service_tier,
            &c.system_fingerprint,
            &c.choices,
            &c.usage,
            &c.error,
        );
        format!("{fields:?}")
    }

    #[test]
    fn fast_chunk_reading_equals_serde_json() {
        crate::wire::mutations::assert_reads_as_serde(
            CHUNK_SEEDS,
            3,
            |t| Chunk::scan(t).map(|c| chunk_fields(&c)),
            |t| serde_json::from_str::<Chunk<'_>>(t).map(|c| chunk_fields(&c)),
        );
    }

    #[test]
    fn chunks_the_fast_reading_leaves_to_serde_json() {
        for text in [
            r#"{"id":"a","id":"b","choices":[]}"#,
            r#"{"choices":[{"index":0,"index":1}]}"#,
            r#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#,
            r#"{"choices":[{"delta":{"content":"\ud83d\ude00"}}]}"#,
            r#"{"choices":[{"index":-0}]}"#,
            r#"{"choices":[{"index":1.0}]}"#,
            r#"{"choices":null}"#,
            r#"{"usage":{"prompt_tokens":1}}"#,
            r#"{"error":{"message":"x"}}"#,
            r#"{"model":7}"#,
            r#"["a","b"]"#,
            r#"{"id":"a"} x"#,
        ] {
            assert!(Chunk::scan(text).is_none(), "{text}");
        }
    }

    /// Request shapes of chat completions, the Responses API, embeddings and compatible
    /// servers that the fast reading must take, and edits of them.
    const REQUEST_SEEDS: &[&str] = &[
        r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hi."}],"temperature":0.2,"max_tokens":64}"#,
        r#"{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"caf\u00e9 \"q\""},{"type":"image_url","image_url":{"url":"data:x"}}]}],"stream":true,"stream_options":{"include_usage":true},"top_p":0.95,"frequency_penalty":-0.5,"presence_penalty":1,"n":2,"seed":-7,"stop":["\n\n","END"],"max_completion_tokens":1024,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},"service_tier":"flex","reasoning_effort":"low","tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}"#,
        r#"{"model":"o4-mini","input":"hi","instructions":"be brief","max_output_tokens":300,"reasoning":{"effort":"high","summary":"auto"},"text":{"format":{"type":"text"}},"previous_response_id":"resp_1","conversation":"conv_1","top_k":40.0,"store":false}"#,
        r#"{"model":"text-embedding-3-small","input":["a","b"],"dimensions":256,"encoding_format":"base64","user":null}"#,
        r#" { "model" : null , "stop" : "END" , "temperature" : 1e0 , "text" : { "format" : null } , "reasoning" : null } "#,
    ];

    #[test]
    fn fast_request_reading_equals_serde_json() {
        crate::wire::mutations::assert_reads_as_serde(
            REQUEST_SEEDS,
            3,
            |t| Request::scan(t).map(|r| format!("{r:?}")),
            |t| serde_json::from_str::<Request<'_>>(t).map(|r| format!("{r:?}")),
        );
    }

    #[test]
    fn requests_the_fast_reading_leaves_to_serde_json() {
        for text in [
            r#"{"model":"a","model":"b"}"#,
            r#"{"temperature":"0.2"}"#,
            r#"{"temperature":0.30000000000000004}"#,
            r#"{"max_tokens":64.0}"#,
            r#"{"stop":["a",null]}"#,
            r#"{"stop":5}"#,
            r#"{"conversation":{"id":"conv_1"}}"#,
            r#"{"text":{"format":{"type":"text","type":"json"}}}"#,
            r#"{"stream":1}"#,
        ] {
            assert!(Request::scan(text).is_none(), "{text}");
        }
    }

    /// Real response shapes (OpenAI, Azure, DeepSeek, compatible servers) that the
    /// fast reading must take, and edits of them.
    const RESPONSE_SEEDS: &[&str] = &[
        r#"{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hi! How can I help you today?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_06737a9306"}"#,
        r#"{"id":"c","choices":[{"index":1,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"n\":-1.5e-3}"}}]},"finish_reason":"tool_calls"},{"index":0,"message":{"content":"caf\u00e9 \"ok\"\n"},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":30,"prompt_tokens_details":null,"completion_tokens_details":{"reasoning_tokens":12,"text_tokens":18,"image_tokens":0}}}"#,
        r#"{"id":"d","model":"deepseek-chat","choices":[{"index":0,"message":{"content":"x"},"finish_reason":"length"}],"usage":{"prompt_tokens":50,"completion_tokens":5,"prompt_cache_hit_tokens":32,"prompt_cache_miss_tokens":18},"system_fingerprint":null}"#,
        r#"{"id":"cmpl-1","object":"text_completion","choices":[{"text":" hi","index":0,"logprobs":null,"finish_reason":"stop"}],"model":"gpt-3.5-turbo-instruct","usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
        r#"{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"finish_reason":"content_filter","index":0,"message":{}}],"created":1,"id":"a","model":"gpt-4o","object":"chat.completion","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}],"usage":{"completion_tokens":0,"prompt_tokens":9,"total_tokens":9}}"#,
        r#" { "id" : null , "choices" : [ ] , "usage" : null , "model" : "m" } "#,
    ];

    #[test]
    fn fast_response_reading_equals_serde_json() {
        crate::wire::mutations::assert_reads_as_serde(
            RESPONSE_SEEDS,
            3,
            |t| ChatResponse::scan(t).map(|r| format!("{r:?}")),
            |t| serde_json::from_str::<ChatResponse>(t).map(|r| format!("{r:?}")),
        );
    }

    #[test]
    fn responses_in_openai_layout_read_from_it_as_serde_reads_them() {
        // The layout, with tool calls, several choices, nulls and without the
        // optional parts.
        let seeds = [
            RESPONSE_SEEDS[0],
            r#"{"id":"chatcmpl-2","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":1,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}],"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"tool_calls"},{"index":0,"message":{"role":"assistant","content":"caf\u00e9"},"logprobs":{"content":[]},"finish_reason":null}],"usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150,"prompt_tokens_details":{"cached_tokens":64,"audio_tokens":null},"completion_tokens_details":{"reasoning_tokens":12,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#,
            r#"{"id":null,"object":"chat.completion","created":0,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":0,"total_tokens":1,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"system_fingerprint":null}"#,
        ];
        crate::wire::mutations::assert_reads_as_serde(
            &seeds,
            40,
            |t| ChatResponse::from_layout(t).map(|r| format!("{r:?}")),
            |t| serde_json::from_str::<ChatResponse>(t).map(|r| format!("{r:?}")),
        );
        // Other layouts are left to the scan.
        for other in RESPONSE_SEEDS[1..].iter().copied().chain([
            &*RESPONSE_SEEDS[0].replace(
                r#""audio_tokens":0},"completion"#,
                r#""audio_tokens":0,"text_tokens":5},"completion"#,
            ),
            &*RESPONSE_SEEDS[0].replace(r#""created":1741569952"#, r#""created":-1"#),
            &*RESPONSE_SEEDS[0].replace(r#""index":0"#, r#""index":4294967296"#),
            &format!("{} x", RESPONSE_SEEDS[0]),
        ]) {
            assert!(ChatResponse::from_layout(other).is_none(), "{other}");
        }
        // And what parse_chat_response makes of the layout is what it makes of the
        // same response in another layout.
        for seed in seeds {
            let spaced = seed.replacen('{', "{ ", 1);
            assert!(ChatResponse::from_layout(&spaced).is_none());
            assert_eq!(
                format!("{:?}", parse_chat_response(seed.as_bytes(), false)),
                format!("{:?}", parse_chat_response(spaced.as_bytes(), false)),
            );
        }
    }

    #[test]
    fn responses_the_fast_reading_leaves_to_serde_json() {
        for text in [
            r#"{"usage":{"prompt_tokens":-0}}"#,
            r#"{"usage":{"prompt_tokens":1.0}}"#,
            r#"{"usage":{"prompt_tokens":9223372036854775808}}"#,
            r#"{"usage":{"prompt_tokens":1,"prompt_tokens":2}}"#,
            r#"{"usage":{"prompt_tokens_details":{"cached_tokens":1,"cached_tokens":1}}}"#,
            r#"{"usage":{"prompt_tokens_details":[]}}"#,
            r#"{"usage":"none"}"#,
            r#"{"choices":[{"index":4294967296}]}"#,
            r#"{"choices":[{"finish_reason":"\udc00"}]}"#,
            r#"{"choices":null}"#,
            r#"{"model":"m"}{}"#,
        ] {
            assert!(ChatResponse::scan(text).is_none(), "{text}");
        }
    }

    #[test]
    fn captured_stream_text_is_decoded_and_bounded() {
        let mut acc = ChatStreamState::new(true);
        acc.set_capture_limit(12);
        for data in [
            r#"{"id":"c","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"id":"c","model":"m","service_tier":"flex","choices":[{"index":0,"delta":{"content":"a\n\"b\""}}]}"#,
            r#"{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"\u00e9t\u00e9 "}}]}"#,
            r#"{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"over the limit"},"finish_reason":"stop"}]}"#,
        ] {
            acc.on_event(SseEvent {
                event: "",
                data: data.as_bytes(),
            })
            .unwrap();
        }
        let info = acc.finish();
        assert_eq!(info.service_tier.as_deref(), Some("flex"));
        let out = info.output_messages.unwrap();
        assert_eq!(
            out[0]["parts"][0]["content"],
            "a\n\"b\"été o…[truncated 13 bytes]"
        );
        assert_eq!(out[0]["finish_reason"], "stop");
    }

    /// Content deltas as OpenAI writes them: with and without the optional parts.
    const CONTENT_SEEDS: &[&str] = &[
        r#"{"id":"chatcmpl-B","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_50","choices":[{"index":0,"delta":{"content":"Hel\"lo\u00e9"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"abc"}"#,
        r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":2,"delta":{"content":"token 1 "},"logprobs":null,"finish_reason":null}]}"#,
    ];

    #[test]
    fn content_deltas_read_from_their_layout_as_serde_reads_them() {
        crate::wire::mutations::assert_reads_as_serde(
            CONTENT_SEEDS,
            40,
            |t| content_chunk(t).map(|c| chunk_fields(&c)),
            |t| serde_json::from_str::<Chunk<'_>>(t).map(|c| chunk_fields(&c)),
        );
        // Other chunks and layouts are left to the scan.
        for other in [
            CHUNK_SEEDS[1],
            CHUNK_SEEDS[2],
            &CONTENT_SEEDS[1].replace(r#""content":"token 1 ""#, r#""content":null"#),
            &CONTENT_SEEDS[1].replace(r#""finish_reason":null"#, r#""finish_reason":"stop""#),
            &CONTENT_SEEDS[1].replace(r#""index":2"#, r#""index":02"#),
            &CONTENT_SEEDS[1].replace(r#""created":1"#, r#""created":-1"#),
            &CONTENT_SEEDS[1].replace(r#""created":1"#, r#""created":1.5"#),
            &CONTENT_SEEDS[1].replace(r#""created":1"#, r#""created":99999999999999999999"#),
            &CONTENT_SEEDS[1].replace(r#"}]}"#, r#"}],"usage":{"total_tokens":3}}"#),
            &CONTENT_SEEDS[1].replace(r#"}]}"#, r#"}],"error":null}"#),
            &format!("{} ", CONTENT_SEEDS[1]),
            &format!(" {}", CONTENT_SEEDS[1]),
        ] {
            assert!(content_chunk(other).is_none(), "{other}");
        }
    }

    /// With capture on, a stream reads the same whether its chunks come in OpenAI's
    /// layout (read from it) or in another (read by the scan): the service tier and
    /// fingerprint of every chunk, each choice's text, ids, finish reasons, usage.
    #[test]
    fn a_stream_reads_alike_in_the_content_layout_and_out_of_it() {
        let chunks = [
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","service_tier":"flex","system_fingerprint":"fp_2","choices":[{"index":1,"delta":{"content":"other"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"xyz"}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"lo \"you\""},"logprobs":null,"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"},{"index":1,"delta":{},"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":4,"total_tokens":9}}"#,
        ];
        assert!(chunks[..3].iter().all(|c| content_chunk(c).is_some()));
        let read = |chunks: &[String]| {
            let mut acc = ChatStreamState::new(true);
            for data in chunks {
                acc.on_event(SseEvent {
                    event: "",
                    data: data.as_bytes(),
                })
                .unwrap();
            }
            let info = acc.finish();
            format!("{info:?}")
        };
        let in_layout: Vec<String> = chunks.iter().map(|c| c.to_string()).collect();
        // A space after the opening brace: the same JSON, another layout.
        let out_of_layout: Vec<String> = chunks.iter().map(|c| c.replacen('{', "{ ", 1)).collect();
        assert!(out_of_layout.iter().all(|c| content_chunk(c).is_none()));
        let read_in = read(&in_layout);
        assert_eq!(read_in, read(&out_of_layout));
        for kept in [r#""flex""#, r#""fp_2""#, r#"Hello \"you\""#, r#""other""#] {
            assert!(read_in.contains(kept), "{kept} not in {read_in}");
        }
    }
}
