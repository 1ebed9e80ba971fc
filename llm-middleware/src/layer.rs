//! [`GenAiLayer`]: a GenAI span around every call of any LLM client service whose
//! request and response types say what they are ([`GenAiRequest`], [`GenAiResponse`]).
//! For streamed responses see [`GenAiStreamLayer`](crate::GenAiStreamLayer).
//!
//! ```
//! use aitrace_core::conventions::{Operation, Provider};
//! use aitrace_core::usage::Usage;
//! use aitrace_llm::{GenAiConfig, GenAiLayer, GenAiRequest, GenAiResponse, RequestInfo, ResponseInfo};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! struct Ask(String);
//! struct Answer { text: String, input: u64, output: u64 }
//!
//! impl GenAiRequest for Ask {
//!     fn gen_ai_request(&self) -> RequestInfo {
//!         RequestInfo::new(Provider::OpenAi, Operation::Chat, Some("gpt-4o-mini".into()))
//!     }
//! }
//! impl GenAiResponse for Answer {
//!     fn gen_ai_response(&self) -> ResponseInfo {
//!         ResponseInfo { usage: Some(Usage::new(self.input, self.output)), ..Default::default() }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let client = ServiceBuilder::new()
//!     .layer(GenAiLayer::new(GenAiConfig::from_env()))
//!     .service(service_fn(|ask: Ask| async move {
//!         Ok::<_, std::io::Error>(Answer { text: format!("echo: {}", ask.0), input: 3, output: 2 })
//!     }));
//! let answer = client.oneshot(Ask("hi".into())).await.unwrap();
//! assert_eq!(answer.text, "echo: hi");
//! # }
//! ```

use std::borrow::Cow;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};

use aitrace_core::classify::{panic_message, ClassifyError, DefaultClassifier};
use aitrace_core::conventions::ERROR_TYPE_PANIC;
use aitrace_core::emit;
use aitrace_core::run::Run;
use opentelemetry::Context;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::config::GenAiConfig;
use crate::recorder::{CallRecorder, Outcome};
use crate::types::{GenAiRequest, GenAiResponse};

/// Whether a call needs any instrumentation: a subscriber is installed, or a run
/// collects totals.
pub(crate) fn needs_recording() -> bool {
    emit::is_active() || Run::current().is_some()
}

/// Starts a call of the generic layers: the span (unless nothing needs it) and the
/// inner service's future, called with the span's context attached so that work done
/// in `call` itself nests under the span.
pub(crate) fn begin<Req: GenAiRequest, F>(
    config: &Arc<GenAiConfig>,
    req: Req,
    call: impl FnOnce(Req) -> F,
) -> (F, Option<(CallRecorder, Context)>) {
    if !needs_recording() {
        return (call(req), None);
    }
    let recorder = CallRecorder::start(Arc::clone(config), &req.gen_ai_request(), None);
    let cx = recorder.context();
    let future = {
        let _attached = cx.clone().attach();
        call(req)
    };
    (future, Some((recorder, cx)))
}

/// Layer that records a GenAI span per call. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct GenAiLayer<C = DefaultClassifier> {
    config: Arc<GenAiConfig>,
    classify: C,
}

impl GenAiLayer {
    /// A layer with this configuration.
    pub fn new(config: GenAiConfig) -> GenAiLayer {
        GenAiLayer {
            config: Arc::new(config),
            classify: DefaultClassifier,
        }
    }
}

impl<C> GenAiLayer<C> {
    /// Names errors with `classify` instead of `_OTHER`.
    pub fn classify_errors_with<C2>(self, classify: C2) -> GenAiLayer<C2> {
        GenAiLayer {
            config: self.config,
            classify,
        }
    }
}

impl<S, C: Clone> Layer<S> for GenAiLayer<C> {
    type Service = GenAi<S, C>;

    fn layer(&self, inner: S) -> GenAi<S, C> {
        GenAi {
            inner,
            config: Arc::clone(&self.config),
            classify: self.classify.clone(),
        }
    }
}

/// The service made by [`GenAiLayer`].
#[derive(Debug, Clone)]
pub struct GenAi<S, C = DefaultClassifier> {
    inner: S,
    config: Arc<GenAiConfig>,
    classify: C,
}

impl<S> GenAi<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, config: GenAiConfig) -> GenAi<S> {
        GenAiLayer::new(config).layer(inner)
    }

    /// A [`GenAiLayer`] with this configuration.
    pub fn layer(config: GenAiConfig) -> GenAiLayer {
        GenAiLayer::new(config)
    }
}

impl<S, C> GenAi<S, C> {
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

impl<S, C, Req> Service<Req> for GenAi<S, C>
where
    S: Service<Req>,
    S::Response: GenAiResponse,
    Req: GenAiRequest,
    C: ClassifyError<S::Error> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let (inner, started) = begin(&self.config, req, |req| self.inner.call(req));
        ResponseFuture {
            inner,
            state: started.map(|(recorder, cx)| State {
                recorder,
                cx,
                classify: self.classify.clone(),
            }),
        }
    }
}

#[derive(Debug)]
struct State<C> {
    recorder: CallRecorder,
    cx: Context,
    classify: C,
}

pin_project! {
    /// Future of [`GenAi`].
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: F,
        state: Option<State<C>>,
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    T: GenAiResponse,
    C: ClassifyError<E>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(state) = this.state.as_mut() else {
            return this.inner.poll(cx);
        };
        let polled = {
            let _attached = state.cx.clone().attach();
            let inner = this.inner;
            catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
        };
        let result = match polled {
            Ok(poll) => ready!(poll),
            Err(panic) => {
                if let Some(state) = this.state.take() {
                    state.recorder.finish(Outcome::Error {
                        error_type: Cow::Borrowed(ERROR_TYPE_PANIC),
                        message: panic_message(&*panic).to_owned(),
                        partial: None,
                    });
                }
                resume_unwind(panic);
            }
        };
        if let Some(state) = this.state.take() {
            match &result {
                Ok(response) => state
                    .recorder
                    .finish(Outcome::Ok(&response.gen_ai_response())),
                Err(error) => {
                    let error_type = state.classify.error_type(error);
                    let message = format!("LLM call failed: {error_type}");
                    state.recorder.finish(Outcome::Error {
                        error_type,
                        message,
                        partial: None,
                    });
                }
            }
        }
        Poll::Ready(result)
    }
}
