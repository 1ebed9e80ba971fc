//! One LLM call's span, timing, metrics and run totals, from start to end.
//!
//! Every entry point of this crate (the generic layer, the stream wrapper, the HTTP
//! middleware) drives a [`CallRecorder`]: start it with the request's facts, tell it
//! when the first chunk arrives, and finish it with the outcome. Dropping it
//! unfinished records a cancellation, so a span is ended on every path.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aitrace_core::conventions::{self as c, Operation, Provider};
use aitrace_core::cost::{Cost, NoCost};
use aitrace_core::emit::OtelSpan;
use aitrace_core::events;
use aitrace_core::logs::{self, EventAttributes};
use aitrace_core::run::Run;
use opentelemetry::logs::Severity;
use opentelemetry::trace::SpanKind;
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};

/// What a response usually adds to the span (ids, models, finish reasons, usage, cost:
/// twelve for a chat completion), kept free from the start.
const END_ATTRIBUTES: usize = 14;

/// Distinct strings each thread keeps for [`shared`], at most.
const INTERNED_PER_THREAD: usize = 64;

thread_local! {
    /// The names this thread's calls repeat (models, hosts, service tiers,
    /// fingerprints), each allocated once.
    static INTERNED: std::cell::RefCell<std::collections::HashSet<Arc<str>, foldhash::fast::RandomState>> =
        std::cell::RefCell::default();
}

/// An attribute string shared by the span and the metrics without copying. Names that
/// repeat call after call are allocated once per thread and shared from then on, so
/// a call's span holds no copy of its own that the exporter's thread must free (which
/// contends with the application's allocations, see BENCHMARKS.md); past
/// [`INTERNED_PER_THREAD`] names, or for a name longer than the bound on names, each
/// call has its own.
fn shared(s: &str) -> StringValue {
    if s.len() > aitrace_core::bound::MAX_NAME_BYTES {
        return StringValue::from(Arc::<str>::from(s));
    }
    INTERNED
        .try_with(|set| {
            let mut set = set.borrow_mut();
            if let Some(known) = set.get(s) {
                return Arc::clone(known);
            }
            let new = Arc::<str>::from(s);
            if set.len() < INTERNED_PER_THREAD {
                set.insert(Arc::clone(&new));
            }
            new
        })
        .map(StringValue::from)
        .unwrap_or_else(|_| StringValue::from(Arc::<str>::from(s)))
}

use crate::config::GenAiConfig;
use crate::types::{RequestInfo, ResponseInfo};

/// How a call ended.
#[derive(Debug)]
pub(crate) enum Outcome<'a> {
    /// The response (or the whole stream) arrived.
    Ok(&'a ResponseInfo),
    /// The call failed; what was learned before is still recorded.
    Error {
        error_type: Cow<'a, str>,
        message: String,
        partial: Option<&'a ResponseInfo>,
    },
    /// The caller dropped the call or the stream before it ended.
    Cancelled(Option<&'a ResponseInfo>),
}

#[derive(Debug)]
pub(crate) struct CallRecorder {
    span: OtelSpan,
    config: Arc<GenAiConfig>,
    start: Instant,
    first_chunk: Option<Duration>,
    chunks: u64,
    provider: Provider,
    provider_value: Value,
    operation: Operation,
    request_model: Option<StringValue>,
    server: Option<(StringValue, u16)>,
    run: Option<Run>,
    extra: Vec<KeyValue>,
    /// What the `gen_ai.client.inference.operation.details` event will carry, kept
    /// only when content goes to events and a logger is installed.
    details: Option<Box<Details>>,
    done: bool,
}

/// The details event's attributes, gathered over the call.
#[derive(Debug, Default)]
struct Details {
    attributes: Vec<KeyValue>,
    content: Vec<(&'static str, serde_json::Value)>,
}

fn string_array(items: &[String]) -> Value {
    Value::Array(Array::String(
        items.iter().map(|s| StringValue::from(s.clone())).collect(),
    ))
}

/// The finish reasons the providers document, held as static strings: nearly every
/// call has one of them, which then costs no copy.
const KNOWN_FINISH_REASONS: &[&str] = &[
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "function_call",
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "STOP",
    "MAX_TOKENS",
    "SAFETY",
    "RECITATION",
    "error",
];

fn finish_reasons(items: &[String]) -> Value {
    Value::Array(Array::String(
        items
            .iter()
            .map(
                |s| match KNOWN_FINISH_REASONS.iter().find(|k| **k == s.as_str()) {
                    Some(known) => StringValue::from(*known),
                    None => StringValue::from(s.clone()),
                },
            )
            .collect(),
    ))
}

/// The attributes a request's facts give, set at span start.
fn request_attributes(
    config: &GenAiConfig,
    provider: &Value,
    model: Option<&StringValue>,
    info: &RequestInfo,
) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(16);
    attrs.push(KeyValue::new(
        c::GEN_AI_OPERATION_NAME,
        info.operation.as_str(),
    ));
    attrs.push(KeyValue::new(c::GEN_AI_PROVIDER_NAME, provider.clone()));
    if config.names.legacy {
        attrs.push(KeyValue::new(c::GEN_AI_SYSTEM, provider.clone()));
    }
    if let Some(model) = model {
        attrs.push(KeyValue::new(c::GEN_AI_REQUEST_MODEL, model.clone()));
    }
    let p = &info.params;
    let ints = [
        (c::GEN_AI_REQUEST_MAX_TOKENS, p.max_tokens),
        (c::GEN_AI_REQUEST_SEED, p.seed),
        (
            c::GEN_AI_REQUEST_CHOICE_COUNT,
            p.choice_count.filter(|&n| n != 1),
        ),
        (c::GEN_AI_EMBEDDINGS_DIMENSION_COUNT, p.dimensions),
    ];
    for (key, value) in ints {
        if let Some(v) = value {
            attrs.push(KeyValue::new(key, v));
        }
    }
    let floats = [
        (c::GEN_AI_REQUEST_TEMPERATURE, p.temperature),
        (c::GEN_AI_REQUEST_TOP_P, p.top_p),
        (c::GEN_AI_REQUEST_TOP_K, p.top_k),
        (c::GEN_AI_REQUEST_FREQUENCY_PENALTY, p.frequency_penalty),
        (c::GEN_AI_REQUEST_PRESENCE_PENALTY, p.presence_penalty),
    ];
    for (key, value) in floats {
        if let Some(v) = value {
            attrs.push(KeyValue::new(key, v));
        }
    }
    if !p.stop_sequences.is_empty() {
        attrs.push(KeyValue::new(
            c::GEN_AI_REQUEST_STOP_SEQUENCES,
            string_array(&p.stop_sequences),
        ));
    }
    if info.stream {
        attrs.push(KeyValue::new(c::GEN_AI_REQUEST_STREAM, true));
    }
    if let Some(id) = &info.conversation_id {
        attrs.push(KeyValue::new(c::GEN_AI_CONVERSATION_ID, id.clone()));
    }
    if let Some(t) = &info.output_type {
        attrs.push(KeyValue::new(c::GEN_AI_OUTPUT_TYPE, t.clone()));
    }
    if let Some(level) = &p.reasoning_level {
        attrs.push(KeyValue::new(
            c::GEN_AI_REQUEST_REASONING_LEVEL,
            level.clone(),
        ));
    }
    if !p.encoding_formats.is_empty() {
        attrs.push(KeyValue::new(
            c::GEN_AI_REQUEST_ENCODING_FORMATS,
            string_array(&p.encoding_formats),
        ));
    }
    if let Some(id) = &info.previous_response_id {
        attrs.push(KeyValue::new(
            c::GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID,
            id.clone(),
        ));
    }
    if let Some(api) = info.openai_api_type {
        attrs.push(KeyValue::new(c::OPENAI_API_TYPE, api));
    }
    // Recorded unless `auto` (the conventions' condition).
    if let Some(tier) = info.service_tier.as_deref().filter(|t| *t != "auto") {
        attrs.push(KeyValue::new(
            c::OPENAI_REQUEST_SERVICE_TIER,
            tier.to_owned(),
        ));
    }
    if config.openinference() {
        attrs.push(KeyValue::new(
            c::OPENINFERENCE_SPAN_KIND,
            c::OPENINFERENCE_KIND_LLM,
        ));
        attrs.push(KeyValue::new(c::LLM_PROVIDER, provider.clone()));
        if let Some(model) = model {
            attrs.push(KeyValue::new(c::LLM_MODEL_NAME, model.clone()));
        }
    }
    attrs
}

impl CallRecorder {
    /// Starts the span with every attribute known from the request (samplers see them).
    pub(crate) fn start(
        config: Arc<GenAiConfig>,
        info: &RequestInfo,
        server: Option<(&str, u16)>,
    ) -> CallRecorder {
        let provider = config
            .provider
            .clone()
            .unwrap_or_else(|| info.provider.clone());
        let name = c::inference_span_name(info.operation, info.model.as_deref());
        let provider_value = provider.to_value();
        let request_model = info.model.as_deref().map(shared);
        let mut attrs = request_attributes(&config, &provider_value, request_model.as_ref(), info);
        let server = server.map(|(host, port)| (shared(host), port));
        if let Some((host, port)) = &server {
            attrs.push(KeyValue::new(c::SERVER_ADDRESS, host.clone()));
            attrs.push(KeyValue::new(c::SERVER_PORT, i64::from(*port)));
        }
        // The prompt template of the scope the call is made in.
        if let Some(scope) = aitrace_core::context::current() {
            if let Some((name, version)) = scope.prompt() {
                attrs.push(KeyValue::new(c::GEN_AI_PROMPT_NAME, name.to_owned()));
                if let Some(v) = version {
                    attrs.push(KeyValue::new(c::GEN_AI_PROMPT_VERSION, v.to_owned()));
                }
            }
        }
        // The details event repeats the start attributes: kept only when it will be sent.
        let attrs_for_details =
            (config.content.mode().on_events() && logs::is_installed()).then(|| attrs.clone());
        let span = OtelSpan::start_with_room(
            &Context::current(),
            name,
            SpanKind::Client,
            attrs,
            END_ATTRIBUTES,
        );
        let recorder = CallRecorder {
            span,
            start: Instant::now(),
            first_chunk: None,
            chunks: 0,
            provider,
            provider_value,
            operation: info.operation,
            request_model,
            server,
            run: Run::current(),
            extra: Vec::new(),
            details: None,
            done: false,
            config,
        };
        let mut recorder = recorder;
        if recorder.span.is_recording() {
            recorder.details = attrs_for_details.map(|attributes| {
                Box::new(Details {
                    attributes,
                    content: Vec::new(),
                })
            });
            recorder.capture_request(info);
        }
        recorder
    }

    /// The request's content (messages, instructions, tool definitions), per policy.
    fn capture_request(&mut self, info: &RequestInfo) {
        self.capture(c::GEN_AI_INPUT_MESSAGES, info.input_messages.as_ref());
        self.capture(
            c::GEN_AI_SYSTEM_INSTRUCTIONS,
            info.system_instructions.as_ref(),
        );
        self.capture(c::GEN_AI_TOOL_DEFINITIONS, info.tool_definitions.as_ref());
    }

    /// Records content for `key` where the policy says: redacted and truncated, as a
    /// JSON string on the span, and kept in structured form for the details event.
    fn capture(&mut self, key: &'static str, value: Option<&serde_json::Value>) {
        let Some(v) = value else {
            return;
        };
        let mode = self.config.content.mode();
        if !mode.captures() {
            return;
        }
        let sanitized = self.config.content.sanitize(v);
        if mode.on_span() {
            self.span
                .set_attribute(KeyValue::new(key, sanitized.to_string()));
        }
        if let Some(details) = self.details.as_mut() {
            details.content.retain(|(k, _)| *k != key);
            details.content.push((key, sanitized));
        }
    }

    /// The context to attach while the call runs and to propagate.
    pub(crate) fn context(&self) -> Context {
        self.span.context()
    }

    /// The request's facts, learned after the span started (a request body read as it
    /// was sent): records them and renames the span.
    pub(crate) fn request_known(&mut self, info: &RequestInfo) {
        self.request_model = info.model.as_deref().map(shared);
        if !self.span.is_recording() {
            return;
        }
        self.span.update_name(c::inference_span_name(
            info.operation,
            info.model.as_deref(),
        ));
        let attrs = request_attributes(
            &self.config,
            &self.provider_value,
            self.request_model.as_ref(),
            info,
        );
        if let Some(details) = self.details.as_mut() {
            details.attributes.extend(attrs.iter().cloned());
        }
        self.span.set_attributes(attrs);
        self.capture_request(info);
    }

    /// A chunk of a streamed response arrived.
    pub(crate) fn on_chunk(&mut self) {
        self.chunks += 1;
        if self.first_chunk.is_none() {
            self.first_chunk = Some(self.start.elapsed());
        }
    }

    /// Adds an attribute recorded at the end (e.g. markers from parsing).
    pub(crate) fn note(&mut self, kv: KeyValue) {
        if self.extra.capacity() == 0 && self.span.is_recording() {
            // The notes and what the response adds end up in one list: room for both.
            self.extra.reserve(END_ATTRIBUTES + 2);
        }
        self.extra.push(kv);
    }

    /// Ends the call: span attributes and status, metrics, run totals.
    pub(crate) fn finish(mut self, outcome: Outcome<'_>) {
        self.record(outcome);
    }

    fn record(&mut self, outcome: Outcome<'_>) {
        if self.done {
            return;
        }
        self.done = true;
        let duration = self.start.elapsed();
        let (response, error_type) = match &outcome {
            Outcome::Ok(r) => (Some(*r), None),
            Outcome::Error {
                partial,
                error_type,
                ..
            } => (*partial, Some(error_type.clone())),
            Outcome::Cancelled(partial) => (*partial, Some(Cow::Borrowed(c::ERROR_TYPE_CANCELLED))),
        };
        let usage = response.and_then(|r| r.usage);
        let response_model = response.and_then(|r| r.model.as_deref()).map(shared);
        let prices = self.config.prices();
        let cost: Result<Cost, NoCost> = match usage {
            None => Err(NoCost::UsageUnknown),
            Some(u) => {
                let price = |m: &str| prices.cost(Some(&self.provider), m, &u);
                // The response names the exact snapshot; the request name is the fallback.
                match (
                    response_model.as_ref().map(StringValue::as_str),
                    self.request_model.as_ref().map(StringValue::as_str),
                ) {
                    (None, None) => Err(NoCost::ModelUnknown),
                    (Some(m), None) | (None, Some(m)) => price(m),
                    (Some(r), Some(q)) => price(r).or_else(|e| {
                        if r == q {
                            Err(e)
                        } else {
                            price(q).map_err(|_| e)
                        }
                    }),
                }
            }
        };
        let ttfc = self.first_chunk.map(|d| d.as_secs_f64());
        let embeddings = self.operation == Operation::Embeddings;
        // The response's attributes that the metric points carry too.
        let mut openai_metric_attrs: [Option<KeyValue>; 2] = [None, None];

        if self.span.is_recording() {
            let mut attrs = std::mem::take(&mut self.extra);
            attrs.reserve(END_ATTRIBUTES);
            if let Some(r) = response {
                if let Some(id) = &r.id {
                    attrs.push(KeyValue::new(c::GEN_AI_RESPONSE_ID, id.clone()));
                }
                if let Some(m) = &response_model {
                    attrs.push(KeyValue::new(c::GEN_AI_RESPONSE_MODEL, m.clone()));
                }
                if !r.finish_reasons.is_empty() {
                    attrs.push(KeyValue::new(
                        c::GEN_AI_RESPONSE_FINISH_REASONS,
                        finish_reasons(&r.finish_reasons),
                    ));
                }
                if let Some(tier) = &r.service_tier {
                    let kv = KeyValue::new(c::OPENAI_RESPONSE_SERVICE_TIER, shared(tier));
                    openai_metric_attrs[0] = Some(kv.clone());
                    attrs.push(kv);
                }
                if let Some(fp) = &r.system_fingerprint {
                    let kv = KeyValue::new(c::OPENAI_RESPONSE_SYSTEM_FINGERPRINT, shared(fp));
                    openai_metric_attrs[1] = Some(kv.clone());
                    attrs.push(kv);
                }
                for (key, n) in &r.modality_tokens {
                    attrs.push(KeyValue::new(*key, *n));
                }
            }
            match usage {
                Some(u) => {
                    let from = attrs.len();
                    u.push_attributes(self.config.names, &mut attrs);
                    if embeddings {
                        // An embeddings call has no output: the API reports none, and
                        // the conventions' embeddings span has no output count.
                        let mut i = from;
                        while i < attrs.len() {
                            let key = attrs[i].key.as_str();
                            if key == c::GEN_AI_USAGE_OUTPUT_TOKENS
                                || key == c::GEN_AI_USAGE_COMPLETION_TOKENS
                            {
                                attrs.remove(i);
                            } else {
                                i += 1;
                            }
                        }
                    }
                    if self.config.openinference() {
                        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                        attrs.push(KeyValue::new(c::LLM_TOKEN_COUNT_PROMPT, n(u.input_tokens)));
                        attrs.push(KeyValue::new(
                            c::LLM_TOKEN_COUNT_COMPLETION,
                            n(u.output_tokens),
                        ));
                        attrs.push(KeyValue::new(c::LLM_TOKEN_COUNT_TOTAL, n(u.total_tokens())));
                    }
                }
                None => attrs.push(KeyValue::new(c::AITRACE_USAGE_KNOWN, false)),
            }
            match &cost {
                Ok(cost) => attrs.push(KeyValue::new(c::GEN_AI_USAGE_COST, cost.usd())),
                Err(why) => attrs.push(KeyValue::new(c::AITRACE_COST_UNAVAILABLE, why.reason())),
            }
            if let Some(t) = ttfc {
                attrs.push(KeyValue::new(c::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, t));
            }
            if self.chunks > 0 {
                attrs.push(KeyValue::new(
                    c::AITRACE_STREAM_CHUNKS,
                    i64::try_from(self.chunks).unwrap_or(i64::MAX),
                ));
            }
            if let Some(details) = self.details.as_mut() {
                details.attributes.extend(attrs.iter().cloned());
            }
            self.span.set_attributes(attrs);
            self.capture(
                c::GEN_AI_OUTPUT_MESSAGES,
                response.and_then(|r| r.output_messages.as_ref()),
            );
            if let Some(details) = self.details.take() {
                self.emit_details(*details, error_type.as_deref());
            }
            match &outcome {
                Outcome::Ok(_) => {}
                Outcome::Error {
                    error_type,
                    message,
                    ..
                } => self.span.record_error(error_type.to_string(), message),
                Outcome::Cancelled(_) => {
                    self.span
                        .set_attribute(KeyValue::new(c::AITRACE_CANCELLED, true));
                    self.span.add_event(events::STREAM_CANCELLED, Vec::new());
                    self.span.set_error(
                        c::ERROR_TYPE_CANCELLED,
                        "the caller dropped the call before the response ended",
                    );
                }
            }
        }

        // Room for the token type the token histogram adds.
        let mut metric_attrs = Vec::with_capacity(12);
        metric_attrs.push(KeyValue::new(
            c::GEN_AI_OPERATION_NAME,
            self.operation.as_str(),
        ));
        metric_attrs.push(KeyValue::new(
            c::GEN_AI_PROVIDER_NAME,
            self.provider_value.clone(),
        ));
        if let Some(m) = &self.request_model {
            metric_attrs.push(KeyValue::new(c::GEN_AI_REQUEST_MODEL, m.clone()));
        }
        if let Some(m) = response_model {
            metric_attrs.push(KeyValue::new(c::GEN_AI_RESPONSE_MODEL, m));
        }
        if let Some((host, port)) = &self.server {
            metric_attrs.push(KeyValue::new(c::SERVER_ADDRESS, host.clone()));
            metric_attrs.push(KeyValue::new(c::SERVER_PORT, i64::from(*port)));
        }
        if let Some(e) = &error_type {
            metric_attrs.push(KeyValue::new(c::ERROR_TYPE, e.to_string()));
        }
        metric_attrs.extend(openai_metric_attrs.into_iter().flatten());
        self.config.metrics.record(
            metric_attrs,
            crate::metrics::Point {
                duration_s: duration.as_secs_f64(),
                input_tokens: usage.map(|u| u.input_tokens),
                output_tokens: usage.filter(|_| !embeddings).map(|u| u.output_tokens),
                ttfc_s: ttfc,
                cost_usd: cost.as_ref().ok().map(|c| c.usd()),
            },
        );
        if let Some(run) = &self.run {
            run.record_llm_call(usage, cost.ok());
        }
        // Ending here, not at drop: the context may be held elsewhere.
        let span = std::mem::replace(&mut self.span, OtelSpan::off(Context::new()));
        span.end();
    }
}

impl CallRecorder {
    /// One `gen_ai.client.inference.operation.details` event per call: the call's
    /// attributes and its content in structured form, tied to the call's span.
    fn emit_details(&self, details: Details, error_type: Option<&str>) {
        let mut attributes = EventAttributes::new();
        attributes.extend_key_values(&details.attributes);
        if let Some(e) = error_type {
            attributes.push(c::ERROR_TYPE, e.to_owned().into());
        }
        for (key, value) in &details.content {
            attributes.push_json(*key, value);
        }
        logs::emit(
            events::GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS,
            Severity::Debug,
            &self.span.context(),
            attributes,
        );
    }
}

impl Drop for CallRecorder {
    fn drop(&mut self) {
        if !self.done {
            self.record(Outcome::Cancelled(None));
        }
    }
}
