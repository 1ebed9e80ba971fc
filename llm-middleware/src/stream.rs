//! Streamed responses: [`GenAiStreamLayer`] for services that return a stream of
//! chunks, and [`InstrumentedStream`], the wrapper that keeps the span open until the
//! stream ends.
//!
//! The span records the time to the first chunk, gathers usage and finish reasons
//! from the chunks as they pass (nothing is buffered), ends with an error status when
//! the stream yields an error, and with `error.type=cancelled` when the consumer drops
//! the stream before its end. A stream dropped after its terminal chunk
//! ([`GenAiChunk::is_terminal`]) or after a finish reason arrived ended normally:
//! clients stop reading at `[DONE]` and drop the stream.
//!
//! ```
//! use aitrace_core::conventions::{Operation, Provider};
//! use aitrace_core::usage::Usage;
//! use aitrace_llm::{GenAiChunk, GenAiConfig, GenAiRequest, GenAiStreamLayer, RequestInfo, ResponseInfo};
//! use futures_util::{stream, StreamExt};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! struct Ask;
//! impl GenAiRequest for Ask {
//!     fn gen_ai_request(&self) -> RequestInfo {
//!         let mut info = RequestInfo::new(Provider::Anthropic, Operation::Chat, Some("claude-haiku-4-5".into()));
//!         info.stream = true;
//!         info
//!     }
//! }
//! struct Token { text: &'static str, usage: Option<Usage> }
//! impl GenAiChunk for Token {
//!     fn fold_into(&self, acc: &mut ResponseInfo) {
//!         if self.usage.is_some() { acc.usage = self.usage; }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let client = ServiceBuilder::new()
//!     .layer(GenAiStreamLayer::new(GenAiConfig::from_env()))
//!     .service(service_fn(|_: Ask| async {
//!         let chunks = vec![
//!             Ok::<_, std::io::Error>(Token { text: "Hel", usage: None }),
//!             Ok(Token { text: "lo", usage: Some(Usage::new(5, 2)) }),
//!         ];
//!         Ok::<_, std::io::Error>(stream::iter(chunks))
//!     }));
//! let mut stream = client.oneshot(Ask).await.unwrap();
//! let mut text = String::new();
//! while let Some(chunk) = stream.next().await {
//!     text.push_str(chunk.unwrap().text);
//! }
//! assert_eq!(text, "Hello");
//! # }
//! ```

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};

use futures_core::Stream;
use opentelemetry::Context;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::config::GenAiConfig;
use aitrace_core::classify::{ClassifyError, DefaultClassifier};

use crate::layer::begin;
use crate::recorder::{CallRecorder, Outcome};
use crate::types::{GenAiChunk, GenAiRequest, ResponseInfo};

/// Layer for services whose response is a stream of [`GenAiChunk`]s.
#[derive(Debug, Clone)]
pub struct GenAiStreamLayer<C = DefaultClassifier> {
    config: Arc<GenAiConfig>,
    classify: C,
}

impl GenAiStreamLayer {
    /// A layer with this configuration.
    pub fn new(config: GenAiConfig) -> GenAiStreamLayer {
        GenAiStreamLayer {
            config: Arc::new(config),
            classify: DefaultClassifier,
        }
    }
}

impl<C> GenAiStreamLayer<C> {
    /// Names errors (of the call and of the stream's items) with `classify`.
    pub fn classify_errors_with<C2>(self, classify: C2) -> GenAiStreamLayer<C2> {
        GenAiStreamLayer {
            config: self.config,
            classify,
        }
    }
}

impl<S, C: Clone> Layer<S> for GenAiStreamLayer<C> {
    type Service = GenAiStream<S, C>;

    fn layer(&self, inner: S) -> GenAiStream<S, C> {
        GenAiStream {
            inner,
            config: Arc::clone(&self.config),
            classify: self.classify.clone(),
        }
    }
}

/// The service made by [`GenAiStreamLayer`].
#[derive(Debug, Clone)]
pub struct GenAiStream<S, C = DefaultClassifier> {
    inner: S,
    config: Arc<GenAiConfig>,
    classify: C,
}

impl<S, C> GenAiStream<S, C> {
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

impl<S, C, Req, T, E> Service<Req> for GenAiStream<S, C>
where
    S: Service<Req>,
    S::Response: Stream<Item = Result<T, E>>,
    T: GenAiChunk,
    Req: GenAiRequest,
    C: ClassifyError<S::Error> + ClassifyError<E> + Clone,
{
    type Response = InstrumentedStream<S::Response, C>;
    type Error = S::Error;
    type Future = StreamFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let (inner, state) = begin(&self.config, req, |req| self.inner.call(req));
        StreamFuture {
            inner,
            state,
            classify: self.classify.clone(),
        }
    }
}

pin_project! {
    /// Future of [`GenAiStream`]: resolves to the instrumented stream.
    pub struct StreamFuture<F, C> {
        #[pin]
        inner: F,
        state: Option<(CallRecorder, Context)>,
        classify: C,
    }
}

impl<F, C, S, E> Future for StreamFuture<F, C>
where
    F: Future<Output = Result<S, E>>,
    C: ClassifyError<E> + Clone,
{
    type Output = Result<InstrumentedStream<S, C>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _attached = this.state.as_ref().map(|(_, c)| c.clone().attach());
            ready!(this.inner.poll(cx))
        };
        let state = this.state.take();
        Poll::Ready(match result {
            Ok(stream) => Ok(InstrumentedStream::from_parts(
                stream,
                state.map(|(recorder, _)| recorder),
                this.classify.clone(),
            )),
            Err(error) => {
                if let Some((recorder, _)) = state {
                    let error_type = this.classify.error_type(&error);
                    let message = format!("LLM call failed: {error_type}");
                    recorder.finish(Outcome::Error {
                        error_type,
                        message,
                        partial: None,
                    });
                }
                Err(error)
            }
        })
    }
}

pin_project! {
    /// A stream whose GenAI span ends with it. See the [module docs](self).
    pub struct InstrumentedStream<S, C = DefaultClassifier> {
        #[pin]
        inner: S,
        recorder: Option<CallRecorder>,
        info: ResponseInfo,
        terminal: bool,
        classify: C,
    }

    impl<S, C> PinnedDrop for InstrumentedStream<S, C> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(recorder) = this.recorder.take() {
                // Clients stop reading at the terminal event and drop the stream: that
                // is the stream's normal end, not a cancellation.
                if *this.terminal || !this.info.finish_reasons.is_empty() {
                    recorder.finish(Outcome::Ok(this.info));
                } else {
                    recorder.finish(Outcome::Cancelled(Some(this.info)));
                }
            }
        }
    }
}

impl<S, C> InstrumentedStream<S, C> {
    fn from_parts(inner: S, recorder: Option<CallRecorder>, classify: C) -> Self {
        InstrumentedStream {
            inner,
            recorder,
            info: ResponseInfo::default(),
            terminal: false,
            classify,
        }
    }

    /// What the chunks said so far.
    pub fn info(&self) -> &ResponseInfo {
        &self.info
    }
}

impl<S, C, T, E> Stream for InstrumentedStream<S, C>
where
    S: Stream<Item = Result<T, E>>,
    T: GenAiChunk,
    C: ClassifyError<E>,
{
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        // The span's context is attached while the call runs, not while each chunk is
        // pulled: pulling chunks makes no spans, and attaching per chunk would cost
        // more than the rest of the wrapper (see BENCHMARKS.md).
        let item = ready!(this.inner.poll_next(cx));
        let Some(recorder) = this.recorder.as_mut() else {
            return Poll::Ready(item);
        };
        match &item {
            Some(Ok(chunk)) => {
                recorder.on_chunk();
                chunk.fold_into(this.info);
                *this.terminal |= chunk.is_terminal();
            }
            Some(Err(error)) => {
                let error_type: Cow<'static, str> = this.classify.error_type(error);
                let message = format!("stream failed: {error_type}");
                if let Some(recorder) = this.recorder.take() {
                    recorder.finish(Outcome::Error {
                        error_type,
                        message,
                        partial: Some(this.info),
                    });
                }
            }
            None => {
                if let Some(recorder) = this.recorder.take() {
                    recorder.finish(Outcome::Ok(this.info));
                }
            }
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
