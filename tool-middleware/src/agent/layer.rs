//! [`AgentLayer`]: an agent run per request of a tower service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use opentelemetry::context::WithContext;
use opentelemetry::trace::FutureExt as _;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{AgentInfo, ConversationId, OnRunEnd};
use crate::classify::{ClassifyError, DefaultClassifier};
use crate::guard::{record_error, SpanGuard};

/// Makes every request of the wrapped service an agent run: an
/// `invoke_agent {name}` (or `invoke_workflow {name}`) span with the run's totals.
/// See the [module docs](crate::agent).
///
/// Type parameters change with the builder methods: `C` classifies errors
/// ([`classify_error`](AgentLayer::classify_error)), `N` reads the conversation id
/// ([`conversation_id`](AgentLayer::conversation_id)), `H` hears the totals
/// ([`on_end`](AgentLayer::on_end)).
#[derive(Clone)]
pub struct AgentLayer<C = DefaultClassifier, N = (), H = ()> {
    info: Arc<AgentInfo>,
    classifier: C,
    conversation: N,
    on_end: H,
}

impl AgentLayer {
    /// A layer running every request as a run of the agent described by `info`.
    pub fn new(info: AgentInfo) -> Self {
        AgentLayer {
            info: Arc::new(info),
            classifier: DefaultClassifier,
            conversation: (),
            on_end: (),
        }
    }
}

impl<C, N, H> AgentLayer<C, N, H> {
    /// Sets how errors become `error.type` (a closure `Fn(&E) -> &'static str` or a
    /// [`ClassifyError`]); `_OTHER` by default.
    pub fn classify_error<C2>(self, classifier: C2) -> AgentLayer<C2, N, H> {
        AgentLayer {
            info: self.info,
            classifier,
            conversation: self.conversation,
            on_end: self.on_end,
        }
    }

    /// Reads each request's conversation id (`gen_ai.conversation.id`) with a closure
    /// `Fn(&Req) -> Option<String>`; falls back to the [`AgentInfo`]'s.
    pub fn conversation_id<N2>(self, conversation: N2) -> AgentLayer<C, N2, H> {
        AgentLayer {
            info: self.info,
            classifier: self.classifier,
            conversation,
            on_end: self.on_end,
        }
    }

    /// Calls `on_end` (a closure `Fn(&RunTotals)`) with each run's totals when it ends.
    pub fn on_end<H2>(self, on_end: H2) -> AgentLayer<C, N, H2> {
        AgentLayer {
            info: self.info,
            classifier: self.classifier,
            conversation: self.conversation,
            on_end,
        }
    }

    /// The agent this layer runs.
    pub fn info(&self) -> &AgentInfo {
        &self.info
    }
}

impl<C, N, H> fmt::Debug for AgentLayer<C, N, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentLayer")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl<S, C: Clone, N: Clone, H: Clone> Layer<S> for AgentLayer<C, N, H> {
    type Service = AgentService<S, C, N, H>;

    fn layer(&self, inner: S) -> Self::Service {
        AgentService {
            inner,
            config: self.clone(),
        }
    }
}

/// A service whose requests are agent runs (made by [`AgentLayer`]).
#[derive(Clone)]
pub struct AgentService<S, C = DefaultClassifier, N = (), H = ()> {
    inner: S,
    config: AgentLayer<C, N, H>,
}

impl<S> AgentService<S> {
    /// Wraps `inner` with [`AgentLayer::new`]`(info)`.
    pub fn new(inner: S, info: AgentInfo) -> Self {
        AgentLayer::new(info).layer(inner)
    }

    /// An [`AgentLayer`] (same as [`AgentLayer::new`]).
    pub fn layer(info: AgentInfo) -> AgentLayer {
        AgentLayer::new(info)
    }
}

impl<S, C, N, H> AgentService<S, C, N, H> {
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
}

impl<S: fmt::Debug, C, N, H> fmt::Debug for AgentService<S, C, N, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentService")
            .field("inner", &self.inner)
            .field("layer", &self.config)
            .finish()
    }
}

impl<S, C, N, H, Req> Service<Req> for AgentService<S, C, N, H>
where
    S: Service<Req>,
    S::Error: fmt::Display,
    C: ClassifyError<S::Error> + Clone,
    N: ConversationId<Req>,
    H: OnRunEnd + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = AgentFuture<S::Future, C, H>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let conversation_id = self.config.conversation.conversation_id(&request);
        let (mut guard, cx, _run) = self
            .config
            .info
            .start(conversation_id, self.config.on_end.clone());
        let future = {
            // Under the run's context: an LLM layer that captures the current run in
            // its `call` sees this run.
            let _attached = cx.clone().attach();
            let inner = &mut self.inner;
            guard.call(|| inner.call(request))
        };
        AgentFuture {
            inner: future.with_context(cx),
            guard,
            classifier: self.config.classifier.clone(),
        }
    }
}

pin_project! {
    /// Response future of [`AgentService`]: runs the agent under the run's context and
    /// ends its span with the outcome and the totals. Dropped before it completes, it
    /// ends the span as cancelled (with the totals so far).
    pub struct AgentFuture<F, C, H: OnRunEnd> {
        #[pin]
        inner: WithContext<F>,
        guard: SpanGuard<H>,
        classifier: C,
    }
}

impl<F, C, H: OnRunEnd> fmt::Debug for AgentFuture<F, C, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentFuture").finish_non_exhaustive()
    }
}

impl<F, C, H, T, E> Future for AgentFuture<F, C, H>
where
    F: Future<Output = Result<T, E>>,
    E: fmt::Display,
    C: ClassifyError<E>,
    H: OnRunEnd,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.guard.poll(this.inner, cx) {
            Poll::Ready(result) => result,
            Poll::Pending => return Poll::Pending,
        };
        let classifier = &*this.classifier;
        this.guard.end(|span| {
            if let Err(error) = &result {
                record_error(span, classifier.error_type(error), error, None);
            }
        });
        Poll::Ready(result)
    }
}
