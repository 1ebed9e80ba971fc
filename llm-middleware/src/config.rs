//! Settings shared by every layer of this crate.

use std::sync::Arc;

use aitrace_core::content::ContentPolicy;
use aitrace_core::conventions::{NameSet, Provider};
use aitrace_core::cost::{global_price_table, PriceTable};

use crate::metrics::Metrics;

/// Default cap on response bytes buffered to read a non-streamed response: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Default cap on one server-sent event: 1 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1024 * 1024;

/// What the GenAI layers record and how.
///
/// ```
/// use aitrace_core::content::{CaptureMode, ContentPolicy};
/// use aitrace_llm::GenAiConfig;
///
/// let config = GenAiConfig::from_env()
///     .with_content(ContentPolicy::default().with_mode(CaptureMode::SpanOnly))
///     .with_openinference(true);
/// assert!(config.content().mode().on_span());
/// ```
#[derive(Debug, Clone)]
pub struct GenAiConfig {
    pub(crate) content: ContentPolicy,
    pub(crate) prices: Option<Arc<PriceTable>>,
    pub(crate) names: NameSet,
    /// `None`: the process-wide switch ([`aitrace_core::openinference`]).
    pub(crate) openinference: Option<bool>,
    pub(crate) provider: Option<Provider>,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_event_bytes: usize,
    pub(crate) include_stream_usage: bool,
    pub(crate) propagate: bool,
    pub(crate) metrics: Arc<Metrics>,
}

impl Default for GenAiConfig {
    fn default() -> GenAiConfig {
        GenAiConfig {
            content: ContentPolicy::default(),
            prices: None,
            names: NameSet::default(),
            openinference: None,
            provider: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            include_stream_usage: false,
            propagate: true,
            metrics: Arc::new(Metrics::default()),
        }
    }
}

impl GenAiConfig {
    /// Content capture and attribute names from the environment
    /// (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`,
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`); everything else default.
    pub fn from_env() -> GenAiConfig {
        GenAiConfig {
            content: ContentPolicy::from_env(),
            names: NameSet::from_env(),
            ..GenAiConfig::default()
        }
    }

    /// Whether the HTTP middleware writes the call span's trace context
    /// (`traceparent`, `tracestate`) into the request, so a provider-side or proxy-side
    /// trace joins (on by default; an aitrace-http client middleware further in
    /// replaces it with its HTTP span's context).
    pub fn with_propagation(mut self, on: bool) -> Self {
        self.propagate = on;
        self
    }

    /// Sets the content policy (content is not captured by default).
    pub fn with_content(mut self, content: ContentPolicy) -> Self {
        self.content = content;
        self
    }

    /// Prices calls with this table (default: the global one, see
    /// [`aitrace_core::cost::set_global_price_table`]).
    pub fn with_prices(mut self, prices: Arc<PriceTable>) -> Self {
        self.prices = Some(prices);
        self
    }

    /// Also emits legacy attribute names (`gen_ai.system`, `gen_ai.usage.prompt_tokens`).
    pub fn with_legacy_names(mut self, on: bool) -> Self {
        self.names.legacy = on;
        self
    }

    /// Also emits OpenInference attributes (`openinference.span.kind=LLM`,
    /// `llm.token_count.*`, `llm.model_name`), for backends that read only those.
    /// Without this call, the process-wide switch decides
    /// ([`aitrace_core::openinference`], set by `aitrace::Telemetry::openinference`).
    pub fn with_openinference(mut self, on: bool) -> Self {
        self.openinference = Some(on);
        self
    }

    /// Whether OpenInference attributes are emitted (this config's choice, else the
    /// process-wide switch).
    pub fn openinference(&self) -> bool {
        self.openinference
            .unwrap_or_else(aitrace_core::openinference::enabled)
    }

    /// Records this provider instead of the detected one (e.g. `ollama` for a local
    /// OpenAI-compatible server).
    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Most bytes of a non-streamed response kept to read its usage; past it, the span
    /// says `aitrace.response.truncated=true` and usage is unknown. The caller always
    /// gets every byte.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Most bytes of one server-sent event kept for parsing; larger events are skipped
    /// (and counted on the span), never buffered whole.
    pub fn with_max_event_bytes(mut self, bytes: usize) -> Self {
        self.max_event_bytes = bytes.max(64);
        self
    }

    /// HTTP middleware only: adds `"stream_options": {"include_usage": true}` to
    /// OpenAI chat completion requests that stream and do not set it, so the stream
    /// reports usage (in one extra final chunk with no choices). Off by default,
    /// because it changes the request.
    pub fn with_stream_usage(mut self, on: bool) -> Self {
        self.include_stream_usage = on;
        self
    }

    /// The content policy.
    pub fn content(&self) -> &ContentPolicy {
        &self.content
    }

    pub(crate) fn prices(&self) -> Arc<PriceTable> {
        self.prices.clone().unwrap_or_else(global_price_table)
    }
}
