//! [`ToolLayer`] and the service it makes, [`ToolService`].

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use aitrace_core::content::ContentPolicy;
use aitrace_core::conventions::{self as c, Operation};
use aitrace_core::emit::OtelSpan;
use aitrace_core::run::Run;
use opentelemetry::trace::{FutureExt as _, SpanKind};
use opentelemetry::KeyValue;
use tower_layer::Layer;
use tower_service::Service;

use super::future::ToolFuture;
use super::{capture, ToolCall, ToolResponse};
use crate::classify::{ClassifyError, DefaultClassifier};
use crate::guard::SpanGuard;
use crate::OPENINFERENCE_TOOL;

/// Wraps a tool executor so every call is an `execute_tool {name}` span and counts as
/// a tool call of the current agent run.
///
/// Built with [`ToolLayer::new`] (content policy from the environment, errors
/// classified as `_OTHER`) and adjusted with [`with_content`](ToolLayer::with_content),
/// [`classify_error`](ToolLayer::classify_error) and
/// [`with_openinference`](ToolLayer::with_openinference). See the [module docs](crate::tool).
#[derive(Clone)]
pub struct ToolLayer<C = DefaultClassifier> {
    policy: Arc<ContentPolicy>,
    classifier: C,
    /// `None`: the process-wide switch ([`aitrace_core::openinference`]).
    openinference: Option<bool>,
}

impl ToolLayer {
    /// A layer with the content policy of the environment
    /// (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`; nothing captured when
    /// unset) and every error classified as `_OTHER`.
    pub fn new() -> Self {
        ToolLayer {
            policy: Arc::new(ContentPolicy::from_env()),
            classifier: DefaultClassifier,
            openinference: None,
        }
    }
}

impl Default for ToolLayer {
    fn default() -> Self {
        ToolLayer::new()
    }
}

impl<C> ToolLayer<C> {
    /// Sets what is captured of arguments and results (and how it is truncated and
    /// redacted).
    pub fn with_content(mut self, policy: ContentPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Also emits OpenInference attributes (`openinference.span.kind` = `TOOL`,
    /// `tool.name`), so OpenInference tools render the spans as tool calls. Without this
    /// call, the process-wide switch decides ([`aitrace_core::openinference`]).
    pub fn with_openinference(mut self, on: bool) -> Self {
        self.openinference = Some(on);
        self
    }

    /// Sets how errors become `error.type`: a closure `Fn(&E) -> &'static str`
    /// (or `String`, `Cow<'static, str>`) or a [`ClassifyError`] implementation.
    pub fn classify_error<C2>(self, classifier: C2) -> ToolLayer<C2> {
        ToolLayer {
            policy: self.policy,
            classifier,
            openinference: self.openinference,
        }
    }

    /// The content policy.
    pub fn policy(&self) -> &ContentPolicy {
        &self.policy
    }
}

impl<C: fmt::Debug> fmt::Debug for ToolLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolLayer")
            .field("capture", &self.policy.mode())
            .field("classifier", &self.classifier)
            .field("openinference", &self.openinference)
            .finish()
    }
}

impl<S, C: Clone> Layer<S> for ToolLayer<C> {
    type Service = ToolService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        ToolService {
            inner,
            config: self.clone(),
        }
    }
}

/// A tool executor whose calls are traced (made by [`ToolLayer`]).
#[derive(Clone, Debug)]
pub struct ToolService<S, C = DefaultClassifier> {
    inner: S,
    config: ToolLayer<C>,
}

impl<S> ToolService<S> {
    /// Wraps `inner` with [`ToolLayer::new`]'s settings.
    pub fn new(inner: S) -> Self {
        ToolService {
            inner,
            config: ToolLayer::new(),
        }
    }

    /// A [`ToolLayer`] (same as [`ToolLayer::new`]).
    pub fn layer() -> ToolLayer {
        ToolLayer::new()
    }
}

impl<S, C> ToolService<S, C> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn start_span<R: ToolCall>(&self, request: &R) -> OtelSpan {
        let name = request.tool_name();
        let mut attributes = Vec::with_capacity(8);
        attributes.push(KeyValue::new(
            c::GEN_AI_OPERATION_NAME,
            Operation::ExecuteTool.as_str(),
        ));
        attributes.push(KeyValue::new(c::GEN_AI_TOOL_NAME, name.to_owned()));
        if let Some(id) = request.call_id() {
            attributes.push(KeyValue::new(c::GEN_AI_TOOL_CALL_ID, id.to_owned()));
        }
        attributes.push(KeyValue::new(
            c::GEN_AI_TOOL_TYPE,
            request.tool_type().as_str(),
        ));
        if let Some(description) = request.description() {
            attributes.push(KeyValue::new(
                c::GEN_AI_TOOL_DESCRIPTION,
                description.to_owned(),
            ));
        }
        if self
            .config
            .openinference
            .unwrap_or_else(aitrace_core::openinference::enabled)
        {
            attributes.push(KeyValue::new(
                c::OPENINFERENCE_SPAN_KIND,
                OPENINFERENCE_TOOL,
            ));
            attributes.push(KeyValue::new(c::TOOL_NAME, name.to_owned()));
        }
        let policy = &*self.config.policy;
        let arguments = if policy.mode().captures() {
            request
                .arguments()
                .and_then(|args| policy.capture_json(&args))
        } else {
            None
        };
        let (on_span, in_event) = capture::split(arguments, policy);
        if let Some(args) = on_span {
            attributes.push(KeyValue::new(c::GEN_AI_TOOL_CALL_ARGUMENTS, args));
        }
        let span = OtelSpan::start(c::tool_span_name(name), SpanKind::Internal, attributes);
        if let Some(args) = in_event {
            capture::event(&span, c::GEN_AI_TOOL_CALL_ARGUMENTS, args);
        }
        span
    }
}

impl<S, C, Req> Service<Req> for ToolService<S, C>
where
    S: Service<Req>,
    S::Response: ToolResponse,
    S::Error: fmt::Display,
    C: ClassifyError<S::Error> + Clone,
    Req: ToolCall,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ToolFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        if let Some(run) = Run::current() {
            run.record_tool_call();
        }
        let span = self.start_span(&request);
        let cx = span.context();
        let mut guard = SpanGuard::new(span, None, ());
        // The inner `call` runs under our context too: services that start work (or
        // spans) in `call` itself see the tool span as their parent.
        let future = {
            let _attached = cx.clone().attach();
            let inner = &mut self.inner;
            guard.call(|| inner.call(request))
        };
        ToolFuture::new(
            future.with_context(cx),
            guard,
            Arc::clone(&self.config.policy),
            self.config.classifier.clone(),
        )
    }
}
