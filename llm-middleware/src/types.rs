//! What a layer learns about a call: the request's and the response's GenAI facts,
//! and the traits user types implement to provide them.

use aitrace_core::conventions::{Operation, Provider};
use aitrace_core::usage::Usage;
use serde_json::Value;

/// Sampling and limit parameters of a request (`gen_ai.request.*`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestParams {
    /// `max_tokens` (or `max_completion_tokens`, `max_output_tokens`, `maxOutputTokens`).
    pub max_tokens: Option<i64>,
    /// Temperature.
    pub temperature: Option<f64>,
    /// Top-p.
    pub top_p: Option<f64>,
    /// Top-k.
    pub top_k: Option<f64>,
    /// Stop sequences.
    pub stop_sequences: Vec<String>,
    /// Seed.
    pub seed: Option<i64>,
    /// Frequency penalty.
    pub frequency_penalty: Option<f64>,
    /// Presence penalty.
    pub presence_penalty: Option<f64>,
    /// Number of choices (`n`, `candidateCount`).
    pub choice_count: Option<i64>,
    /// Embedding dimensions.
    pub dimensions: Option<i64>,
    /// Reasoning effort asked for (`gen_ai.request.reasoning.level`): OpenAI's
    /// `reasoning_effort` / `reasoning.effort`, Gemini's `thinkingLevel`.
    pub reasoning_level: Option<String>,
    /// Embedding encoding formats (`gen_ai.request.encoding_formats`).
    pub encoding_formats: Vec<String>,
}

/// The GenAI facts of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestInfo {
    /// Who serves the call.
    pub provider: Provider,
    /// What is asked.
    pub operation: Operation,
    /// The model asked for.
    pub model: Option<String>,
    /// Parameters.
    pub params: RequestParams,
    /// Whether the response streams.
    pub stream: bool,
    /// Conversation (session, thread) id, when the request carries one.
    pub conversation_id: Option<String>,
    /// Requested output type (`text`, `json`, ...).
    pub output_type: Option<String>,
    /// Input messages in the conventions' JSON shape (for opt-in capture).
    pub input_messages: Option<Value>,
    /// System instructions in the conventions' JSON shape (for opt-in capture).
    pub system_instructions: Option<Value>,
    /// The tools offered to the model, in the conventions' shape (for opt-in capture,
    /// `gen_ai.tool.definitions`).
    pub tool_definitions: Option<Value>,
    /// The response this one continues (`gen_ai.request.previous_response.id`).
    pub previous_response_id: Option<String>,
    /// Which OpenAI API was called (`openai.api.type`: `chat_completions`, `responses`).
    pub openai_api_type: Option<&'static str>,
    /// The service tier asked for (`openai.request.service_tier`).
    pub service_tier: Option<String>,
}

impl RequestInfo {
    /// Facts with nothing but the provider, operation and model.
    pub fn new(provider: Provider, operation: Operation, model: Option<String>) -> RequestInfo {
        RequestInfo {
            provider,
            operation,
            model,
            params: RequestParams::default(),
            stream: false,
            conversation_id: None,
            output_type: None,
            input_messages: None,
            system_instructions: None,
            tool_definitions: None,
            previous_response_id: None,
            openai_api_type: None,
            service_tier: None,
        }
    }
}

/// The GenAI facts of a response (or of a stream, gathered chunk by chunk).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseInfo {
    /// Response id.
    pub id: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// Why generation stopped, one per choice.
    pub finish_reasons: Vec<String>,
    /// Token usage; `None` when the response did not say.
    pub usage: Option<Usage>,
    /// Output messages in the conventions' JSON shape (for opt-in capture).
    pub output_messages: Option<Value>,
    /// The service tier that served the call (`openai.response.service_tier`).
    pub service_tier: Option<String>,
    /// The backend configuration fingerprint (`openai.response.system_fingerprint`).
    pub system_fingerprint: Option<String>,
    /// Tokens per modality where the provider reports them, as (attribute, count):
    /// `gen_ai.usage.audio.input_tokens`, ...
    pub modality_tokens: Vec<(&'static str, i64)>,
}

/// A request type whose GenAI facts a [`GenAiLayer`](crate::GenAiLayer) can read.
///
/// ```
/// use aitrace_core::conventions::{Operation, Provider};
/// use aitrace_llm::{GenAiRequest, RequestInfo};
///
/// struct Ask { model: String, prompt: String }
///
/// impl GenAiRequest for Ask {
///     fn gen_ai_request(&self) -> RequestInfo {
///         let mut info = RequestInfo::new(Provider::OpenAi, Operation::Chat, Some(self.model.clone()));
///         info.input_messages = Some(serde_json::json!([
///             {"role": "user", "parts": [{"type": "text", "content": self.prompt}]}
///         ]));
///         info
///     }
/// }
/// ```
pub trait GenAiRequest {
    /// The request's facts.
    fn gen_ai_request(&self) -> RequestInfo;
}

/// A response type whose GenAI facts a [`GenAiLayer`](crate::GenAiLayer) can read.
pub trait GenAiResponse {
    /// The response's facts.
    fn gen_ai_response(&self) -> ResponseInfo;
}

/// One chunk of a streamed response; folds what it says into the facts gathered so far.
///
/// Usage that a provider reports cumulatively (Anthropic's `message_delta`) should
/// overwrite, not add.
pub trait GenAiChunk {
    /// Updates `acc` with what this chunk says.
    fn fold_into(&self, acc: &mut ResponseInfo);

    /// Whether this is the stream's last event (OpenAI's `[DONE]`, Anthropic's
    /// `message_stop`, ...). A consumer that drops the stream after a terminal chunk,
    /// or after a finish reason was folded in, ended it normally; before, the call is
    /// recorded as cancelled.
    fn is_terminal(&self) -> bool {
        false
    }
}
