//! Names from the OpenTelemetry semantic conventions that AITrace emits.
//!
//! The `gen_ai.*` constants in `opentelemetry-semantic-conventions` are deprecated (the
//! GenAI conventions moved to their own repository, which has no Rust crate), so the
//! names live here, each with the meaning it has in the conventions. AITrace follows
//! **semantic-conventions-genai v0.1.0** (its first release, Development stability;
//! core semconv v1.41 was the last to hold these names); names renamed since are kept
//! behind [`NameSet`] (`OTEL_SEMCONV_STABILITY_OPT_IN`). Metric instrument names are
//! still moving there: they are defined once, below, so a switch is one change.
//!
//! ```
//! use aitrace_core::conventions::{self, Operation, Provider};
//!
//! assert_eq!(conventions::inference_span_name(Operation::Chat, Some("gpt-4o")), "chat gpt-4o");
//! assert_eq!(conventions::tool_span_name("get_weather"), "execute_tool get_weather");
//! assert_eq!(conventions::agent_span_name(Some("planner")), "invoke_agent planner");
//! assert_eq!(Provider::from_name("anthropic"), Provider::Anthropic);
//! assert_eq!(Provider::Gemini.as_str(), "gcp.gemini");
//! ```

use std::borrow::Cow;
use std::fmt;

// ---------------------------------------------------------------------------------
// GenAI span attributes
// ---------------------------------------------------------------------------------

/// The operation requested: `chat`, `embeddings`, `execute_tool`, ...
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// The GenAI provider as identified by the client instrumentation (`openai`, ...).
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// Legacy name of [`GEN_AI_PROVIDER_NAME`], emitted only when legacy names are on.
pub const GEN_AI_SYSTEM: &str = "gen_ai.system";
/// The model a request asked for.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// Maximum number of tokens the model may generate.
pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
/// Sampling temperature.
pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
/// Nucleus sampling parameter.
pub const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";
/// Top-k sampling parameter.
pub const GEN_AI_REQUEST_TOP_K: &str = "gen_ai.request.top_k";
/// Sequences that stop generation (string array).
pub const GEN_AI_REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
/// Seed for reproducible sampling.
pub const GEN_AI_REQUEST_SEED: &str = "gen_ai.request.seed";
/// Frequency penalty.
pub const GEN_AI_REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
/// Presence penalty.
pub const GEN_AI_REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
/// Number of candidate completions requested (`n`).
pub const GEN_AI_REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
/// Whether the response was requested as a stream.
pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
/// Number of dimensions requested of an embedding.
pub const GEN_AI_EMBEDDINGS_DIMENSION_COUNT: &str = "gen_ai.embeddings.dimension.count";
/// The id the provider gave the response.
pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
/// The model that actually answered.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// Why generation stopped, one entry per choice (string array).
pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// Seconds from the request to the first chunk of a streamed response.
pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
/// Input (prompt) tokens, cached tokens included.
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Output (completion) tokens, reasoning tokens included.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// Input tokens served from the provider's cache.
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// Input tokens written to the provider's cache.
pub const GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: &str = "gen_ai.usage.cache_write.input_tokens";
/// The name `gen_ai.usage.cache_write.input_tokens` had until semconv v1.41 (emitted
/// alongside with `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_legacy`, read back by insight).
pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation.input_tokens";
/// Output tokens spent on reasoning.
pub const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
/// Legacy name of [`GEN_AI_USAGE_INPUT_TOKENS`].
pub const GEN_AI_USAGE_PROMPT_TOKENS: &str = "gen_ai.usage.prompt_tokens";
/// Legacy name of [`GEN_AI_USAGE_OUTPUT_TOKENS`].
pub const GEN_AI_USAGE_COMPLETION_TOKENS: &str = "gen_ai.usage.completion_tokens";
/// Text input tokens, where the provider reports tokens per modality.
pub const GEN_AI_USAGE_TEXT_INPUT_TOKENS: &str = "gen_ai.usage.text.input_tokens";
/// Image input tokens.
pub const GEN_AI_USAGE_IMAGE_INPUT_TOKENS: &str = "gen_ai.usage.image.input_tokens";
/// Audio input tokens.
pub const GEN_AI_USAGE_AUDIO_INPUT_TOKENS: &str = "gen_ai.usage.audio.input_tokens";
/// Text output tokens.
pub const GEN_AI_USAGE_TEXT_OUTPUT_TOKENS: &str = "gen_ai.usage.text.output_tokens";
/// Image output tokens.
pub const GEN_AI_USAGE_IMAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.image.output_tokens";
/// Audio output tokens.
pub const GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS: &str = "gen_ai.usage.audio.output_tokens";
/// The reasoning effort asked for, as sent (`low`, `high`, a thinking budget).
pub const GEN_AI_REQUEST_REASONING_LEVEL: &str = "gen_ai.request.reasoning.level";
/// The id of the response a request continues (Responses API `previous_response_id`).
pub const GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID: &str = "gen_ai.request.previous_response.id";
/// Encoding formats asked of an embeddings call (string array).
pub const GEN_AI_REQUEST_ENCODING_FORMATS: &str = "gen_ai.request.encoding_formats";
/// The name of the prompt template a call was made from.
pub const GEN_AI_PROMPT_NAME: &str = "gen_ai.prompt.name";
/// The version of that prompt template.
pub const GEN_AI_PROMPT_VERSION: &str = "gen_ai.prompt.version";
/// The tools offered to the model (opt-in content, the conventions' definition shape).
pub const GEN_AI_TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";
/// Which OpenAI API was called: `chat_completions` or `responses`.
pub const OPENAI_API_TYPE: &str = "openai.api.type";
/// The service tier the request asked for (recorded unless `auto`).
pub const OPENAI_REQUEST_SERVICE_TIER: &str = "openai.request.service_tier";
/// The service tier that served the request.
pub const OPENAI_RESPONSE_SERVICE_TIER: &str = "openai.response.service_tier";
/// The backend configuration fingerprint of the response.
pub const OPENAI_RESPONSE_SYSTEM_FINGERPRINT: &str = "openai.response.system_fingerprint";
/// Name of an evaluation (`gen_ai.evaluation.result` events).
pub const GEN_AI_EVALUATION_NAME: &str = "gen_ai.evaluation.name";
/// Numeric score of an evaluation.
pub const GEN_AI_EVALUATION_SCORE_VALUE: &str = "gen_ai.evaluation.score.value";
/// Label of an evaluation (`relevant`, `pass`, ...; low cardinality).
pub const GEN_AI_EVALUATION_SCORE_LABEL: &str = "gen_ai.evaluation.score.label";
/// Free-text explanation of an evaluation.
pub const GEN_AI_EVALUATION_EXPLANATION: &str = "gen_ai.evaluation.explanation";
/// The session a span belongs to (read by Phoenix/OpenInference and Langfuse).
pub const SESSION_ID: &str = "session.id";
/// The end user a span acts for (read by Phoenix/OpenInference and Langfuse).
pub const USER_ID: &str = "user.id";
/// User tags (OpenInference `tag.tags`, a string array).
pub const TAG_TAGS: &str = "tag.tags";
/// User metadata as a JSON object string (OpenInference `metadata`).
pub const METADATA: &str = "metadata";
/// Langfuse's name for trace tags (a string array).
pub const LANGFUSE_TRACE_TAGS: &str = "langfuse.trace.tags";
/// Prefix of Langfuse's per-key trace metadata attributes.
pub const LANGFUSE_TRACE_METADATA_PREFIX: &str = "langfuse.trace.metadata.";
/// The run's input as Phoenix and Langfuse show it in their trace lists (OpenInference).
pub const INPUT_VALUE: &str = "input.value";
/// The run's output as Phoenix and Langfuse show it in their trace lists (OpenInference).
pub const OUTPUT_VALUE: &str = "output.value";
/// MIME type of `input.value` (OpenInference).
pub const INPUT_MIME_TYPE: &str = "input.mime_type";
/// MIME type of `output.value` (OpenInference).
pub const OUTPUT_MIME_TYPE: &str = "output.mime_type";
/// Cost of the call (or run) in USD. Not a semconv name: the one OpenLIT and Langfuse read.
pub const GEN_AI_USAGE_COST: &str = "gen_ai.usage.cost";
/// Why no cost was recorded (AITrace marker, e.g. `unknown_model`, `usage_unknown`).
pub const AITRACE_COST_UNAVAILABLE: &str = "aitrace.cost.unavailable";
/// Set to `false` when the response carried no usage (AITrace marker).
pub const AITRACE_USAGE_KNOWN: &str = "aitrace.usage.known";
/// `true` when a response body was larger than the layer reads (AITrace marker).
pub const AITRACE_RESPONSE_TRUNCATED: &str = "aitrace.response.truncated";
/// Why a response could not be read (malformed JSON, broken stream; AITrace marker).
pub const AITRACE_RESPONSE_PARSE_ERROR: &str = "aitrace.response.parse_error";
/// Number of server-sent events too large to parse (skipped; AITrace marker).
pub const AITRACE_STREAM_OVERSIZED_EVENTS: &str = "aitrace.stream.oversized_events";
/// Number of chunks a streamed response delivered (AITrace).
pub const AITRACE_STREAM_CHUNKS: &str = "aitrace.stream.chunks";
/// `true` when the caller dropped the call or stream before it ended (AITrace marker).
pub const AITRACE_CANCELLED: &str = "aitrace.cancelled";
/// `error.type` value of a call the caller dropped before it ended.
pub const ERROR_TYPE_CANCELLED: &str = "cancelled";
/// `error.type` of a stream that ended cleanly before its terminal event (`[DONE]`,
/// `message_stop`, `response.completed`): the answer the caller got is cut short, so
/// the operation did not succeed, which is when the conventions ask for `error.type`.
pub const ERROR_TYPE_INCOMPLETE_STREAM: &str = "incomplete_stream";
/// `error.type` of a stream whose bytes ended in the middle of an event.
pub const ERROR_TYPE_STREAM_TRUNCATED: &str = "stream_truncated";
/// The conventions' finish reason for a generation that ended in error (also given
/// to a choice a stream never finished).
pub const FINISH_REASON_ERROR: &str = "error";
/// `error.type` value of a call that panicked.
pub const ERROR_TYPE_PANIC: &str = "panic";
/// Event the OpenTelemetry conventions use for exceptions (here: panics).
pub const EXCEPTION_EVENT: &str = "exception";
/// Attribute of [`EXCEPTION_EVENT`]: the exception's type.
pub const EXCEPTION_TYPE: &str = "exception.type";
/// Attribute of [`EXCEPTION_EVENT`]: the exception's message.
pub const EXCEPTION_MESSAGE: &str = "exception.message";
/// Known part of a run's cost when some calls had no price (AITrace).
pub const AITRACE_RUN_KNOWN_COST: &str = "aitrace.run.known_cost";
/// Which budget a refused call went over: `tokens` or `cost` (AITrace).
pub const AITRACE_BUDGET_KIND: &str = "aitrace.budget.kind";
/// The budget's limit (AITrace).
pub const AITRACE_BUDGET_LIMIT: &str = "aitrace.budget.limit";
/// What the run had used when the call was refused (AITrace).
pub const AITRACE_BUDGET_USED: &str = "aitrace.budget.used";
/// Id of the conversation (session, thread) the call belongs to.
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// Requested output type (`text`, `json`, `image`, `speech`).
pub const GEN_AI_OUTPUT_TYPE: &str = "gen_ai.output.type";
/// Captured input messages (JSON, opt-in).
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// Captured output messages (JSON, opt-in).
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// Captured system instructions (JSON, opt-in).
pub const GEN_AI_SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";

/// Name of the tool being executed.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// Id of the tool call the model asked for.
pub const GEN_AI_TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
/// Kind of tool: `function`, `extension` or `datastore`.
pub const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";
/// Description of the tool.
pub const GEN_AI_TOOL_DESCRIPTION: &str = "gen_ai.tool.description";
/// Arguments of the tool call (JSON, opt-in).
pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// Result of the tool call (JSON, opt-in).
pub const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";

/// Unique id of the agent.
pub const GEN_AI_AGENT_ID: &str = "gen_ai.agent.id";
/// Human-readable name of the agent.
pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";
/// Description of the agent.
pub const GEN_AI_AGENT_DESCRIPTION: &str = "gen_ai.agent.description";
/// Version of the agent.
pub const GEN_AI_AGENT_VERSION: &str = "gen_ai.agent.version";
/// Name of a workflow (multi-agent or multi-step pipeline).
pub const GEN_AI_WORKFLOW_NAME: &str = "gen_ai.workflow.name";
/// Number of LLM calls made in an agent run (AITrace run total).
pub const AITRACE_RUN_LLM_CALLS: &str = "aitrace.run.llm_calls";
/// Number of tool calls made in an agent run (AITrace run total).
pub const AITRACE_RUN_TOOL_CALLS: &str = "aitrace.run.tool_calls";
/// Name of the span event holding a snapshot of an agent's state, and of its attribute
/// (the state as JSON, captured under the content policy).
pub const AITRACE_AGENT_STATE: &str = "aitrace.agent.state";

/// Type of token in the token usage metric: `input` or `output`.
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";

// ---------------------------------------------------------------------------------
// General and HTTP attributes
// ---------------------------------------------------------------------------------

/// Class of error the operation ended with (`_OTHER` when none fits).
pub const ERROR_TYPE: &str = "error.type";
/// Fallback value of [`ERROR_TYPE`].
pub const ERROR_TYPE_OTHER: &str = "_OTHER";
/// Host name of the server.
pub const SERVER_ADDRESS: &str = "server.address";
/// Port of the server.
pub const SERVER_PORT: &str = "server.port";
/// HTTP request method.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// Original method when it was not a known one.
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
/// HTTP response status code.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// How many times the request was re-sent (retries, redirects).
pub const HTTP_REQUEST_RESEND_COUNT: &str = "http.request.resend_count";
/// The matched route template (`/users/{id}`).
pub const HTTP_ROUTE: &str = "http.route";
/// Full request URL, credentials and secret query values redacted.
pub const URL_FULL: &str = "url.full";
/// URL template of a client request, when the caller gives one.
pub const URL_TEMPLATE: &str = "url.template";
/// Path of the request URL.
pub const URL_PATH: &str = "url.path";
/// Query string of the request URL.
pub const URL_QUERY: &str = "url.query";
/// Scheme of the request URL.
pub const URL_SCHEME: &str = "url.scheme";
/// The User-Agent header.
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
/// Address of the client.
pub const CLIENT_ADDRESS: &str = "client.address";
/// Protocol version (`1.1`, `2`).
pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";

// ---------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------

/// Histogram of GenAI operation durations, in seconds.
pub const METRIC_OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// Histogram of tokens used per operation, split by [`GEN_AI_TOKEN_TYPE`].
pub const METRIC_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// Histogram of time to first chunk of streamed responses, in seconds.
pub const METRIC_TIME_TO_FIRST_CHUNK: &str = "gen_ai.client.operation.time_to_first_chunk";
/// Counter of cost in USD (AITrace).
pub const METRIC_COST: &str = "aitrace.gen_ai.client.cost";

/// Explicit bucket boundaries (seconds) the GenAI conventions give for durations.
pub const DURATION_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// Explicit bucket boundaries the GenAI conventions give for token counts.
pub const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

// ---------------------------------------------------------------------------------
// OpenInference (Arize Phoenix) attributes, emitted only on request
// ---------------------------------------------------------------------------------

/// OpenInference span kind (`LLM`, `TOOL`, `AGENT`, `CHAIN`).
pub const OPENINFERENCE_SPAN_KIND: &str = "openinference.span.kind";
/// [`OPENINFERENCE_SPAN_KIND`] of an LLM call.
pub const OPENINFERENCE_KIND_LLM: &str = "LLM";
/// [`OPENINFERENCE_SPAN_KIND`] of a tool call.
pub const OPENINFERENCE_KIND_TOOL: &str = "TOOL";
/// [`OPENINFERENCE_SPAN_KIND`] of an agent run.
pub const OPENINFERENCE_KIND_AGENT: &str = "AGENT";
/// [`OPENINFERENCE_SPAN_KIND`] of a workflow.
pub const OPENINFERENCE_KIND_CHAIN: &str = "CHAIN";
/// OpenInference model name.
pub const LLM_MODEL_NAME: &str = "llm.model_name";
/// OpenInference provider.
pub const LLM_PROVIDER: &str = "llm.provider";
/// OpenInference prompt token count.
pub const LLM_TOKEN_COUNT_PROMPT: &str = "llm.token_count.prompt";
/// OpenInference completion token count.
pub const LLM_TOKEN_COUNT_COMPLETION: &str = "llm.token_count.completion";
/// OpenInference total token count.
pub const LLM_TOKEN_COUNT_TOTAL: &str = "llm.token_count.total";
/// OpenInference tool name.
pub const TOOL_NAME: &str = "tool.name";

/// Tracing target under which all AITrace spans and events are emitted, so users can
/// filter them (`aitrace=info`).
pub const TRACING_TARGET: &str = "aitrace";

/// The GenAI operation a span describes (`gen_ai.operation.name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Chat completion (OpenAI chat, Anthropic messages, Responses API).
    Chat,
    /// Legacy text completion.
    TextCompletion,
    /// Gemini `generateContent`-style multimodal generation.
    GenerateContent,
    /// Embeddings.
    Embeddings,
    /// Creating an agent.
    CreateAgent,
    /// An agent run.
    InvokeAgent,
    /// A workflow run.
    InvokeWorkflow,
    /// A tool execution.
    ExecuteTool,
}

impl Operation {
    /// The `gen_ai.operation.name` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::TextCompletion => "text_completion",
            Operation::GenerateContent => "generate_content",
            Operation::Embeddings => "embeddings",
            Operation::CreateAgent => "create_agent",
            Operation::InvokeAgent => "invoke_agent",
            Operation::InvokeWorkflow => "invoke_workflow",
            Operation::ExecuteTool => "execute_tool",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A GenAI provider (`gen_ai.provider.name`), with the well-known values of the
/// conventions and a free-form variant for anything else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// `openai`
    OpenAi,
    /// `anthropic`
    Anthropic,
    /// `gcp.gemini` (Gemini API, AI Studio)
    Gemini,
    /// `gcp.vertex_ai`
    VertexAi,
    /// `gcp.gen_ai` (either Google API, when it cannot be told apart)
    GcpGenAi,
    /// `azure.ai.openai`
    AzureOpenAi,
    /// `azure.ai.inference`
    AzureInference,
    /// `aws.bedrock`
    AwsBedrock,
    /// `mistral_ai`
    MistralAi,
    /// `groq`
    Groq,
    /// `deepseek`
    DeepSeek,
    /// `x_ai`
    XAi,
    /// `cohere`
    Cohere,
    /// `perplexity`
    Perplexity,
    /// `ibm.watsonx.ai`
    IbmWatsonx,
    /// Any other provider, by the name to record (e.g. `ollama`, `vllm`, `openrouter`).
    Other(Cow<'static, str>),
}

impl Provider {
    /// The `gen_ai.provider.name` value.
    pub fn as_str(&self) -> &str {
        match self {
            Provider::Other(name) => name,
            known => known.static_name(),
        }
    }

    /// The value as an attribute value: no allocation for the well-known providers.
    pub fn to_value(&self) -> opentelemetry::Value {
        match self {
            Provider::Other(Cow::Borrowed(name)) => opentelemetry::Value::from(*name),
            Provider::Other(Cow::Owned(name)) => opentelemetry::Value::from(name.clone()),
            known => opentelemetry::Value::from(known.static_name()),
        }
    }

    fn static_name(&self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "gcp.gemini",
            Provider::VertexAi => "gcp.vertex_ai",
            Provider::GcpGenAi => "gcp.gen_ai",
            Provider::AzureOpenAi => "azure.ai.openai",
            Provider::AzureInference => "azure.ai.inference",
            Provider::AwsBedrock => "aws.bedrock",
            Provider::MistralAi => "mistral_ai",
            Provider::Groq => "groq",
            Provider::DeepSeek => "deepseek",
            Provider::XAi => "x_ai",
            Provider::Cohere => "cohere",
            Provider::Perplexity => "perplexity",
            Provider::IbmWatsonx => "ibm.watsonx.ai",
            Provider::Other(_) => "_OTHER",
        }
    }

    /// Parses a `gen_ai.provider.name` value (or a common alias such as `gemini`,
    /// `google`, `mistral`, `xai`, `bedrock`, `azure`); anything else becomes
    /// [`Provider::Other`].
    pub fn from_name(name: &str) -> Provider {
        match name.trim().to_ascii_lowercase().as_str() {
            "openai" => Provider::OpenAi,
            "anthropic" => Provider::Anthropic,
            "gcp.gemini" | "gemini" | "google" | "google_ai_studio" => Provider::Gemini,
            "gcp.vertex_ai" | "vertex_ai" | "vertex" => Provider::VertexAi,
            "gcp.gen_ai" => Provider::GcpGenAi,
            "azure.ai.openai" | "azure" | "azure_openai" => Provider::AzureOpenAi,
            "azure.ai.inference" => Provider::AzureInference,
            "aws.bedrock" | "bedrock" => Provider::AwsBedrock,
            "mistral_ai" | "mistral" => Provider::MistralAi,
            "groq" => Provider::Groq,
            "deepseek" => Provider::DeepSeek,
            "x_ai" | "xai" => Provider::XAi,
            "cohere" => Provider::Cohere,
            "perplexity" => Provider::Perplexity,
            "ibm.watsonx.ai" | "watsonx" => Provider::IbmWatsonx,
            other => Provider::Other(Cow::Owned(other.to_owned())),
        }
    }

    /// Guesses the provider from the API host a request goes to (e.g.
    /// `api.anthropic.com`, `generativelanguage.googleapis.com`,
    /// `my-deployment.openai.azure.com`). `None` for hosts it does not know
    /// (a local vLLM or Ollama server, say): the caller decides then.
    pub fn from_host(host: &str) -> Option<Provider> {
        // Compared in place, ignoring ASCII case: this runs on every LLM call made
        // through the HTTP middleware, so it allocates nothing.
        let host = host.trim_end_matches('.').as_bytes();
        let is = |domain: &str| {
            let domain = domain.as_bytes();
            match host.len().checked_sub(domain.len()) {
                Some(0) => host.eq_ignore_ascii_case(domain),
                Some(dot) => host[dot - 1] == b'.' && host[dot..].eq_ignore_ascii_case(domain),
                None => false,
            }
        };
        let starts = |prefix: &str| {
            host.get(..prefix.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(prefix.as_bytes()))
        };
        let provider = if is("openai.azure.com") {
            Provider::AzureOpenAi
        } else if is("services.ai.azure.com") || is("inference.ai.azure.com") {
            Provider::AzureInference
        } else if is("openai.com") {
            Provider::OpenAi
        } else if is("anthropic.com") {
            Provider::Anthropic
        } else if is("generativelanguage.googleapis.com") {
            Provider::Gemini
        } else if is("aiplatform.googleapis.com") {
            Provider::VertexAi
        } else if starts("bedrock-runtime.") && is("amazonaws.com") {
            Provider::AwsBedrock
        } else if is("mistral.ai") {
            Provider::MistralAi
        } else if is("groq.com") {
            Provider::Groq
        } else if is("deepseek.com") {
            Provider::DeepSeek
        } else if is("x.ai") {
            Provider::XAi
        } else if is("cohere.com") || is("cohere.ai") {
            Provider::Cohere
        } else if is("perplexity.ai") {
            Provider::Perplexity
        } else if is("openrouter.ai") {
            Provider::Other(Cow::Borrowed("openrouter"))
        } else if is("together.xyz") || is("together.ai") {
            Provider::Other(Cow::Borrowed("together_ai"))
        } else if is("fireworks.ai") {
            Provider::Other(Cow::Borrowed("fireworks_ai"))
        } else {
            return None;
        };
        Some(provider)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kind of tool (`gen_ai.tool.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ToolType {
    /// A function the agent runs on the client side.
    #[default]
    Function,
    /// A tool the agent calls through an extension (an API on the agent side).
    Extension,
    /// A data store (retrieval).
    Datastore,
}

impl ToolType {
    /// The `gen_ai.tool.type` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ToolType::Function => "function",
            ToolType::Extension => "extension",
            ToolType::Datastore => "datastore",
        }
    }
}

/// Name of an inference span: `{operation} {model}`, or the operation alone when the
/// model is not known.
pub fn inference_span_name(operation: Operation, model: Option<&str>) -> String {
    join_name(operation.as_str(), model)
}

/// Name of a tool span: `execute_tool {tool}`.
pub fn tool_span_name(tool: &str) -> String {
    join_name(Operation::ExecuteTool.as_str(), Some(tool))
}

/// Name of an agent span: `invoke_agent {agent}`, or `invoke_agent` when unnamed.
pub fn agent_span_name(agent: Option<&str>) -> String {
    join_name(Operation::InvokeAgent.as_str(), agent)
}

/// Name of a workflow span: `invoke_workflow {workflow}`.
pub fn workflow_span_name(workflow: Option<&str>) -> String {
    join_name(Operation::InvokeWorkflow.as_str(), workflow)
}

/// Name of an HTTP client span: `{method}`, or `{method} {template}` when the caller
/// gave a URL template.
pub fn http_client_span_name(method: &str, url_template: Option<&str>) -> String {
    join_name(method, url_template)
}

/// Name of an HTTP server span: `{method} {route}`, or `{method}` when no route matched
/// (never the raw path: that would make names unbounded).
pub fn http_server_span_name(method: &str, route: Option<&str>) -> String {
    join_name(method, route)
}

/// `{first} {second}`, the caller-controlled `second` (a model, tool, agent name, a
/// route) bounded to [`MAX_NAME_BYTES`](crate::bound::MAX_NAME_BYTES) and marked when
/// cut.
fn join_name(first: &str, second: Option<&str>) -> String {
    match second.filter(|s| !s.is_empty()) {
        Some(second) => {
            let second = crate::bound::bounded(second, crate::bound::MAX_NAME_BYTES);
            let mut name = String::with_capacity(first.len() + 1 + second.len());
            name.push_str(first);
            name.push(' ');
            name.push_str(&second);
            name
        }
        None => first.to_owned(),
    }
}

/// Which attribute names to emit where the conventions renamed things.
///
/// Read from `OTEL_SEMCONV_STABILITY_OPT_IN`: `gen_ai_latest_experimental` (the default
/// here) emits the newest names only; adding `gen_ai_legacy` (an AITrace value) also
/// emits the older `gen_ai.system` and `gen_ai.usage.prompt_tokens` /
/// `completion_tokens` for older backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NameSet {
    /// Emit the legacy names alongside the current ones.
    pub legacy: bool,
}

impl NameSet {
    /// Reads `OTEL_SEMCONV_STABILITY_OPT_IN`.
    pub fn from_env() -> NameSet {
        NameSet::from_opt_in(
            std::env::var("OTEL_SEMCONV_STABILITY_OPT_IN")
                .ok()
                .as_deref(),
        )
    }

    /// Parses a value of `OTEL_SEMCONV_STABILITY_OPT_IN` (a comma-separated list).
    pub fn from_opt_in(value: Option<&str>) -> NameSet {
        let legacy = value
            .unwrap_or_default()
            .split(',')
            .any(|v| v.trim().eq_ignore_ascii_case("gen_ai_legacy"));
        NameSet { legacy }
    }
}

// ---------------------------------------------------------------------------------
// MCP (Model Context Protocol), per semantic-conventions-genai model/mcp
// ---------------------------------------------------------------------------------

/// The MCP method of a request or notification (`tools/call`, `initialize`, ...).
pub const MCP_METHOD_NAME: &str = "mcp.method.name";
/// The MCP session id (the `Mcp-Session-Id` header of streamable HTTP).
pub const MCP_SESSION_ID: &str = "mcp.session.id";
/// The negotiated MCP protocol version (e.g. `2025-06-18`).
pub const MCP_PROTOCOL_VERSION: &str = "mcp.protocol.version";
/// The URI of the resource a `resources/*` request is about.
pub const MCP_RESOURCE_URI: &str = "mcp.resource.uri";
/// The JSON-RPC request id, as a string.
pub const JSONRPC_REQUEST_ID: &str = "jsonrpc.request.id";
/// The JSON-RPC error code of a response, as a string.
pub const RPC_RESPONSE_STATUS_CODE: &str = "rpc.response.status_code";
/// The transport: `pipe` for stdio, `tcp` for HTTP.
pub const NETWORK_TRANSPORT: &str = "network.transport";
/// The application protocol under MCP (`http`).
pub const NETWORK_PROTOCOL_NAME: &str = "network.protocol.name";
/// `error.type` of a `tools/call` whose result has `isError: true`.
pub const ERROR_TYPE_TOOL_ERROR: &str = "tool_error";
/// Histogram of MCP request durations seen by the client, in seconds.
pub const METRIC_MCP_CLIENT_OPERATION_DURATION: &str = "mcp.client.operation.duration";
/// Histogram of MCP request durations seen by the server, in seconds.
pub const METRIC_MCP_SERVER_OPERATION_DURATION: &str = "mcp.server.operation.duration";
/// Histogram of MCP session durations seen by the client, in seconds.
pub const METRIC_MCP_CLIENT_SESSION_DURATION: &str = "mcp.client.session.duration";
/// Histogram of MCP session durations seen by the server, in seconds.
pub const METRIC_MCP_SERVER_SESSION_DURATION: &str = "mcp.server.session.duration";

/// The name of an MCP span: `{mcp.method.name} {target}` (the tool, prompt or
/// resource the request is about), or the method alone.
pub fn mcp_span_name(method: &str, target: Option<&str>) -> String {
    match target {
        Some(target) if !target.is_empty() => format!("{method} {target}"),
        _ => method.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_names_follow_the_conventions() {
        assert_eq!(
            inference_span_name(Operation::Chat, Some("gpt-4o")),
            "chat gpt-4o"
        );
        assert_eq!(
            inference_span_name(Operation::Embeddings, None),
            "embeddings"
        );
        assert_eq!(tool_span_name("get_weather"), "execute_tool get_weather");
        assert_eq!(agent_span_name(Some("planner")), "invoke_agent planner");
        assert_eq!(agent_span_name(None), "invoke_agent");
        assert_eq!(workflow_span_name(Some("triage")), "invoke_workflow triage");
        assert_eq!(http_client_span_name("GET", None), "GET");
        assert_eq!(
            http_server_span_name("POST", Some("/v1/{id}")),
            "POST /v1/{id}"
        );
    }

    #[test]
    fn providers_round_trip_and_detect_hosts() {
        for p in [
            Provider::OpenAi,
            Provider::Anthropic,
            Provider::Gemini,
            Provider::AzureOpenAi,
            Provider::AwsBedrock,
            Provider::MistralAi,
            Provider::Groq,
            Provider::DeepSeek,
            Provider::XAi,
        ] {
            assert_eq!(Provider::from_name(p.as_str()), p);
        }
        assert_eq!(Provider::from_name("ollama").as_str(), "ollama");
        assert_eq!(
            Provider::from_host("api.openai.com"),
            Some(Provider::OpenAi)
        );
        assert_eq!(
            Provider::from_host("x.openai.azure.com"),
            Some(Provider::AzureOpenAi)
        );
        assert_eq!(
            Provider::from_host("generativelanguage.googleapis.com"),
            Some(Provider::Gemini)
        );
        assert_eq!(
            Provider::from_host("bedrock-runtime.us-east-1.amazonaws.com"),
            Some(Provider::AwsBedrock)
        );
        assert_eq!(Provider::from_host("api.groq.com"), Some(Provider::Groq));
        assert_eq!(Provider::from_host("notopenai.com"), None);
        assert_eq!(Provider::from_host("127.0.0.1"), None);
        // Any ASCII case, a trailing dot, the bare domain; never a mere suffix.
        assert_eq!(
            Provider::from_host("API.OpenAI.com."),
            Some(Provider::OpenAi)
        );
        assert_eq!(
            Provider::from_host("anthropic.com"),
            Some(Provider::Anthropic)
        );
        assert_eq!(
            Provider::from_host("Bedrock-Runtime.eu-west-1.AmazonAWS.com"),
            Some(Provider::AwsBedrock)
        );
        assert_eq!(Provider::from_host("bedrock-runtime.example.com"), None);
        assert_eq!(Provider::from_host("s3.amazonaws.com"), None);
        assert_eq!(Provider::from_host("x.ai.example"), None);
        assert_eq!(Provider::from_host("ai"), None);
        assert_eq!(Provider::from_host(""), None);
        assert_eq!(
            Provider::from_host("\u{e9}.openai.com"),
            Some(Provider::OpenAi)
        );
    }

    #[test]
    fn legacy_names_are_opt_in() {
        assert!(!NameSet::from_opt_in(None).legacy);
        assert!(!NameSet::from_opt_in(Some("gen_ai_latest_experimental")).legacy);
        assert!(NameSet::from_opt_in(Some("gen_ai_latest_experimental, gen_ai_legacy")).legacy);
    }
}
