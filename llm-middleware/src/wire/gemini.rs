//! Google Gemini `generateContent` / `streamGenerateContent` (Gemini API and Vertex AI).
//!
//! Gemini's `candidatesTokenCount` excludes thinking tokens, so output is
//! `candidates + thoughts` per the conventions (reasoning = thoughts); input is
//! `promptTokenCount`, which includes cached content. With `?alt=sse` each event is a
//! whole `GenerateContentResponse` whose usage is cumulative; without it the stream
//! is one JSON array, read when it ends.

use std::borrow::Cow;

use aitrace_core::conventions::{Operation, Provider};
use aitrace_core::usage::Usage;
use serde::Deserialize;
use serde_json::Value;

use super::{malformed, message, text_part, tokens, ExtractError, StreamAccumulator};
use crate::sse::SseEvent;
use crate::types::{RequestInfo, RequestParams, ResponseInfo};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig<'a> {
    max_output_tokens: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<f64>,
    #[serde(default, borrow)]
    stop_sequences: Vec<Cow<'a, str>>,
    candidate_count: Option<i64>,
    seed: Option<i64>,
    presence_penalty: Option<f64>,
    frequency_penalty: Option<f64>,
    #[serde(borrow)]
    response_mime_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    thinking_config: Option<ThinkingConfig<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig<'a> {
    #[serde(borrow)]
    thinking_level: Option<Cow<'a, str>>,
    thinking_budget: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    #[serde(borrow)]
    generation_config: Option<GenerationConfig<'a>>,
}

/// The model id from a path segment: `gemini-2.5-flash` (not `models/...`).
fn model_name(model: &str) -> String {
    model.rsplit('/').next().unwrap_or(model).to_owned()
}

/// Reads a `generateContent` request body; the model comes from the path.
pub fn parse_request(
    provider: Provider,
    model: &str,
    stream: bool,
    body: &[u8],
    capture: bool,
) -> Result<RequestInfo, ExtractError> {
    let req: Request<'_> = crate::wire::from_json(body).map_err(|e| malformed("request", e))?;
    let mut info = RequestInfo::new(
        provider,
        Operation::GenerateContent,
        Some(model_name(model)),
    );
    info.stream = stream;
    if let Some(g) = req.generation_config {
        info.params = RequestParams {
            max_tokens: g.max_output_tokens,
            temperature: g.temperature,
            top_p: g.top_p,
            top_k: g.top_k,
            stop_sequences: g.stop_sequences.into_iter().map(Cow::into_owned).collect(),
            seed: g.seed,
            frequency_penalty: g.frequency_penalty,
            presence_penalty: g.presence_penalty,
            choice_count: g.candidate_count,
            reasoning_level: g.thinking_config.and_then(|t| {
                t.thinking_level
                    .map(Cow::into_owned)
                    .or_else(|| t.thinking_budget.map(|b| b.to_string()))
            }),
            ..RequestParams::default()
        };
        info.output_type = match g.response_mime_type.as_deref() {
            Some("application/json") => Some("json".to_owned()),
            Some("text/plain") => Some("text".to_owned()),
            _ => None,
        };
    }
    if capture {
        let value: Value = crate::wire::from_json(body).map_err(|e| malformed("request", e))?;
        info.tool_definitions = value.get("tools").and_then(Value::as_array).map(|tools| {
            let mut defs = Vec::new();
            for tool in tools {
                match tool
                    .get("functionDeclarations")
                    .or_else(|| tool.get("function_declarations"))
                    .and_then(Value::as_array)
                {
                    Some(functions) => defs.extend(functions.iter().map(|f| {
                        serde_json::json!({
                            "type": "function",
                            "name": f.get("name"),
                            "description": f.get("description"),
                            "parameters": f.get("parameters").or_else(|| f.get("parametersJsonSchema")),
                        })
                    })),
                    // A built-in tool (`googleSearch`, `codeExecution`): named by its key.
                    None => {
                        if let Value::Object(o) = tool {
                            for key in o.keys() {
                                defs.push(serde_json::json!({"type": key, "name": key}));
                            }
                        }
                    }
                }
            }
            Value::Array(defs)
        });
        info.system_instructions = value
            .get("systemInstruction")
            .map(|s| Value::Array(parts_of(s.get("parts"))));
        info.input_messages = value
            .get("contents")
            .and_then(Value::as_array)
            .map(|contents| {
                Value::Array(
                    contents
                        .iter()
                        .map(|c| {
                            let role = match c.get("role").and_then(Value::as_str) {
                                Some("model") => "assistant",
                                Some(r) => r,
                                None => "user",
                            };
                            message(role, parts_of(c.get("parts")))
                        })
                        .collect(),
                )
            });
    }
    Ok(info)
}

/// An `embedContent` call: nothing in the body is needed.
pub fn embed_request(provider: Provider, model: &str) -> RequestInfo {
    RequestInfo::new(provider, Operation::Embeddings, Some(model_name(model)))
}

fn parts_of(parts: Option<&Value>) -> Vec<Value> {
    parts
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .map(|p| {
                    if let Some(t) = p.get("text").and_then(Value::as_str) {
                        text_part(t)
                    } else if let Some(call) = p.get("functionCall") {
                        serde_json::json!({"type": "tool_call", "id": call.get("id"), "name": call.get("name"), "arguments": super::openai::tool_arguments(call.get("args"))})
                    } else if let Some(r) = p.get("functionResponse") {
                        serde_json::json!({"type": "tool_call_response", "name": r.get("name"), "response": r.get("response")})
                    } else {
                        p.clone()
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    prompt_token_count: Option<i64>,
    candidates_token_count: Option<i64>,
    cached_content_token_count: Option<i64>,
    thoughts_token_count: Option<i64>,
    #[serde(default)]
    prompt_tokens_details: Vec<ModalityCount>,
    #[serde(default)]
    candidates_tokens_details: Vec<ModalityCount>,
}

/// One entry of Gemini's per-modality token breakdown.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModalityCount {
    modality: Option<String>,
    token_count: Option<i64>,
}

impl UsageMetadata {
    /// `gen_ai.usage.{text,image,audio}.{input,output}_tokens` from the breakdowns
    /// (other modalities, such as video, have no attribute and are left out).
    fn modalities(&self) -> Vec<(&'static str, i64)> {
        use aitrace_core::conventions as c;
        let mut out = Vec::new();
        for (details, keys) in [
            (
                &self.prompt_tokens_details,
                [
                    c::GEN_AI_USAGE_TEXT_INPUT_TOKENS,
                    c::GEN_AI_USAGE_IMAGE_INPUT_TOKENS,
                    c::GEN_AI_USAGE_AUDIO_INPUT_TOKENS,
                ],
            ),
            (
                &self.candidates_tokens_details,
                [
                    c::GEN_AI_USAGE_TEXT_OUTPUT_TOKENS,
                    c::GEN_AI_USAGE_IMAGE_OUTPUT_TOKENS,
                    c::GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS,
                ],
            ),
        ] {
            for d in details {
                let key = match d.modality.as_deref() {
                    Some("TEXT") => keys[0],
                    Some("IMAGE") => keys[1],
                    Some("AUDIO") => keys[2],
                    _ => continue,
                };
                if let Some(n) = d.token_count.filter(|n| (1..=1 << 53).contains(n)) {
                    if !out.iter().any(|(k, _)| *k == key) {
                        out.push((key, n));
                    }
                }
            }
        }
        out
    }

    fn to_usage(&self) -> Result<Usage, ExtractError> {
        let thoughts = tokens(self.thoughts_token_count, "thoughtsTokenCount")?;
        let candidates = tokens(self.candidates_token_count, "candidatesTokenCount")?;
        Ok(Usage::new(
            tokens(self.prompt_token_count, "promptTokenCount")?,
            candidates.saturating_add(thoughts),
        )
        .with_cache_read(tokens(
            self.cached_content_token_count,
            "cachedContentTokenCount",
        )?)
        .with_reasoning(thoughts))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    finish_reason: Option<String>,
    content: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    response_id: Option<String>,
    model_version: Option<String>,
    #[serde(default)]
    candidates: Vec<Candidate>,
    usage_metadata: Option<UsageMetadata>,
}

impl Response {
    /// Folds this (possibly partial) response into `info`; `text` gathers output text.
    fn fold(
        self,
        info: &mut ResponseInfo,
        text: Option<&mut Vec<Value>>,
    ) -> Result<(), ExtractError> {
        if self.response_id.is_some() {
            info.id = self.response_id;
        }
        if self.model_version.is_some() {
            info.model = self.model_version;
        }
        let reasons: Vec<String> = self
            .candidates
            .iter()
            .filter_map(|c| c.finish_reason.clone())
            .collect();
        if !reasons.is_empty() {
            info.finish_reasons = reasons;
        }
        if let Some(u) = self.usage_metadata {
            info.usage = Some(u.to_usage()?);
            info.modality_tokens = u.modalities();
        }
        if let Some(text) = text {
            for c in self.candidates {
                text.extend(parts_of(c.content.as_ref().and_then(|c| c.get("parts"))));
            }
        }
        Ok(())
    }
}

/// Reads a `generateContent` response, or the JSON array a non-SSE
/// `streamGenerateContent` returns.
pub fn parse_response(body: &[u8], capture: bool) -> Result<ResponseInfo, ExtractError> {
    let mut info = ResponseInfo::default();
    let mut parts = Vec::new();
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let responses: Vec<Response> = if first == Some(&b'[') {
        crate::wire::from_json(body).map_err(|e| malformed("response", e))?
    } else {
        vec![crate::wire::from_json(body).map_err(|e| malformed("response", e))?]
    };
    for r in responses {
        r.fold(&mut info, capture.then_some(&mut parts))?;
    }
    if capture {
        let mut m = message("assistant", parts);
        m["finish_reason"] = info.finish_reasons.first().cloned().into();
        info.output_messages = Some(Value::Array(vec![m]));
    }
    Ok(info)
}

/// Gathers an `alt=sse` stream.
#[derive(Debug)]
pub struct StreamState {
    info: ResponseInfo,
    /// Text deltas, merged and bounded.
    text: super::BoundedText,
    /// Other parts (function calls, ...), bounded in number.
    parts: Vec<Value>,
    limit: usize,
    capture: bool,
    error: Option<(String, String)>,
}

/// Non-text parts kept from a stream.
const MAX_STREAM_PARTS: usize = 64;

impl StreamState {
    /// A new accumulator.
    pub fn new(capture: bool) -> StreamState {
        StreamState {
            info: ResponseInfo::default(),
            text: super::BoundedText::default(),
            parts: Vec::new(),
            limit: super::DEFAULT_CAPTURE_LIMIT,
            capture,
            error: None,
        }
    }
}

impl StreamAccumulator for StreamState {
    fn on_event(&mut self, event: SseEvent<'_>) -> Result<(), ExtractError> {
        if let Some((kind, message)) = super::parse_error(event.data) {
            self.error = Some((kind, message));
            return Ok(());
        }
        let r: Response =
            crate::wire::from_json(event.data).map_err(|e| malformed("stream event", e))?;
        if !self.capture {
            return r.fold(&mut self.info, None);
        }
        let mut parts = Vec::new();
        r.fold(&mut self.info, Some(&mut parts))?;
        for part in parts {
            match part.get("type").and_then(Value::as_str) {
                Some("text") => self.text.push(
                    part.get("content")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    self.limit,
                ),
                _ if self.parts.len() < MAX_STREAM_PARTS => self.parts.push(part),
                _ => {}
            }
        }
        Ok(())
    }

    fn set_capture_limit(&mut self, bytes: usize) {
        self.limit = bytes;
    }

    fn info(&self) -> &ResponseInfo {
        &self.info
    }

    fn stream_error(&self) -> Option<(String, String)> {
        self.error.clone()
    }

    /// Gemini streams have no end marker: a finish reason is the sign.
    fn completed(&self) -> bool {
        !self.info.finish_reasons.is_empty()
    }

    fn finish(&mut self) -> ResponseInfo {
        let mut info = std::mem::take(&mut self.info);
        if self.capture {
            let mut parts = vec![text_part(&self.text.text())];
            parts.append(&mut self.parts);
            let mut m = message("assistant", parts);
            m["finish_reason"] = info.finish_reasons.first().cloned().into();
            info.output_messages = Some(Value::Array(vec![m]));
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_per_modality() {
        let info = parse_response(
            br#"{"usageMetadata":{"promptTokenCount":300,"candidatesTokenCount":20,
                 "promptTokensDetails":[{"modality":"TEXT","tokenCount":40},{"modality":"IMAGE","tokenCount":258},{"modality":"VIDEO","tokenCount":2}],
                 "candidatesTokensDetails":[{"modality":"TEXT","tokenCount":20}]}}"#,
            false,
        )
        .unwrap();
        use aitrace_core::conventions as c;
        assert_eq!(
            info.modality_tokens,
            [
                (c::GEN_AI_USAGE_TEXT_INPUT_TOKENS, 40),
                (c::GEN_AI_USAGE_IMAGE_INPUT_TOKENS, 258),
                (c::GEN_AI_USAGE_TEXT_OUTPUT_TOKENS, 20),
            ]
        );
    }

    #[test]
    fn thoughts_count_as_output_and_reasoning() {
        let info = parse_response(
            br#"{"candidates":[{"content":{"parts":[{"text":"hi"}],"role":"model"},"finishReason":"STOP"}],
                 "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":4,"thoughtsTokenCount":6,"cachedContentTokenCount":8},
                 "modelVersion":"gemini-2.5-flash","responseId":"r1"}"#,
            true,
        )
        .unwrap();
        assert_eq!(
            info.usage,
            Some(Usage::new(10, 10).with_reasoning(6).with_cache_read(8))
        );
        assert_eq!(info.finish_reasons, ["STOP"]);
        assert_eq!(info.model.as_deref(), Some("gemini-2.5-flash"));
        assert_eq!(
            info.output_messages.unwrap()[0]["parts"][0]["content"],
            "hi"
        );
    }

    #[test]
    fn a_streamed_json_array_is_read_whole() {
        let info = parse_response(
            br#"[{"candidates":[{"content":{"parts":[{"text":"a"}]}}]},
                 {"candidates":[{"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2}}]"#,
            false,
        )
        .unwrap();
        assert_eq!(info.usage, Some(Usage::new(3, 2)));
    }
}
