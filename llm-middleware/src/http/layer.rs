//! [`GenAiHttpLayer`]: GenAI spans for LLM API calls made through any tower service
//! over `http::Request` (a hyper-util client, say).
//!
//! The request body is read as the inner service sends it (a copy of up to
//! `max_body_bytes` is kept aside), so the body type and its streaming are unchanged;
//! the model and parameters are added to the span once the body has been sent.
//! (`with_stream_usage` needs the body before sending: it works with the reqwest
//! middleware only.)
//!
//! ```
//! use aitrace_llm::{GenAiConfig, GenAiHttpLayer};
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let client = ServiceBuilder::new()
//!     .layer(GenAiHttpLayer::new(GenAiConfig::from_env()))
//!     .service(service_fn(|_req: http::Request<_>| async {
//!         let body = Full::new(Bytes::from_static(br#"{"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#));
//!         Ok::<_, std::convert::Infallible>(http::Response::new(body))
//!     }));
//! let request = http::Request::post("https://api.openai.com/v1/chat/completions")
//!     .body(Full::new(Bytes::from_static(br#"{"model":"gpt-4o","messages":[]}"#)))
//!     .unwrap();
//! let response = client.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context as TaskContext, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use opentelemetry::Context;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{HttpCall, ObservedBody, Target};
use crate::config::GenAiConfig;

/// Layer over `http::Request` services. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct GenAiHttpLayer {
    config: Arc<GenAiConfig>,
}

impl GenAiHttpLayer {
    /// A layer with this configuration.
    pub fn new(config: GenAiConfig) -> GenAiHttpLayer {
        GenAiHttpLayer {
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for GenAiHttpLayer {
    type Service = GenAiHttp<S>;

    fn layer(&self, inner: S) -> GenAiHttp<S> {
        GenAiHttp {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service made by [`GenAiHttpLayer`].
#[derive(Debug, Clone)]
pub struct GenAiHttp<S> {
    inner: S,
    config: Arc<GenAiConfig>,
}

impl<S> GenAiHttp<S> {
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

/// What the request body tee kept: bytes (up to the cap), and whether they are all.
#[derive(Debug, Default)]
struct Kept {
    bytes: Vec<u8>,
    overflow: bool,
    ended: bool,
}

pin_project! {
    /// The request body as the inner service sees it: the same frames, with a copy of
    /// the data kept aside for the span.
    pub struct TeeBody<B> {
        #[pin]
        inner: B,
        kept: Option<Arc<Mutex<Kept>>>,
        cap: usize,
    }
}

impl<B> std::fmt::Debug for TeeBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeeBody").finish_non_exhaustive()
    }
}

impl<B: Body> Body for TeeBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(kept) = this.kept.as_ref() {
            let mut k = kept.lock().unwrap_or_else(|e| e.into_inner());
            match &frame {
                Some(Ok(f)) => {
                    if let Some(data) = f.data_ref() {
                        if k.bytes.len() + data.remaining() <= *this.cap {
                            let mut slices = [std::io::IoSlice::new(&[]); 64];
                            let n = data.chunks_vectored(&mut slices);
                            for s in &slices[..n] {
                                k.bytes.extend_from_slice(s);
                            }
                        } else {
                            k.overflow = true;
                            k.bytes = Vec::new();
                        }
                    }
                }
                Some(Err(_)) => k.overflow = true,
                None => k.ended = true,
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<S, B, RB> Service<http::Request<B>> for GenAiHttp<S>
where
    S: Service<http::Request<TeeBody<B>>, Response = http::Response<RB>>,
    S::Error: std::fmt::Display,
    B: Body,
    RB: Body,
    RB::Error: std::fmt::Display,
{
    type Response = http::Response<ObservedBody<RB>>;
    type Error = S::Error;
    type Future = GenAiHttpFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let uri = req.uri();
        let target = Target {
            method: req.method().as_str(),
            host: uri.host(),
            port: uri.port_u16().or(match uri.scheme_str() {
                Some("http") => Some(80),
                _ => Some(443),
            }),
            path: uri.path(),
        };
        let call = HttpCall::begin(&self.config, &target, None).map(|(call, _)| call);
        if let Some(call) = call.as_ref().filter(|_| self.config.propagate) {
            super::inject(&call.context(), req.headers_mut());
        }
        let kept = call.as_ref().map(|_| Arc::new(Mutex::new(Kept::default())));
        let cap = self.config.max_body_bytes;
        let req = req.map(|inner| TeeBody {
            inner,
            kept: kept.clone(),
            cap,
        });
        let cx = call.as_ref().map(HttpCall::context);
        let inner = {
            let _attached = cx.as_ref().map(|c| c.clone().attach());
            self.inner.call(req)
        };
        GenAiHttpFuture {
            inner,
            call: call.map(|c| (c, kept.unwrap_or_default())),
            cx,
        }
    }
}

pin_project! {
    /// Future of [`GenAiHttp`].
    pub struct GenAiHttpFuture<F> {
        #[pin]
        inner: F,
        call: Option<(HttpCall, Arc<Mutex<Kept>>)>,
        cx: Option<Context>,
    }
}

impl<F, RB, E> Future for GenAiHttpFuture<F>
where
    F: Future<Output = Result<http::Response<RB>, E>>,
    RB: Body,
    E: std::fmt::Display,
{
    type Output = Result<http::Response<ObservedBody<RB>>, E>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _attached = this.cx.as_ref().map(|c| c.clone().attach());
            ready!(this.inner.poll(task))
        };
        let Some((mut call, kept)) = this.call.take() else {
            return Poll::Ready(result.map(|r| r.map(ObservedBody::passthrough)));
        };
        {
            let k = kept.lock().unwrap_or_else(|e| e.into_inner());
            call.request_body(&k.bytes, k.ended && !k.overflow);
        }
        Poll::Ready(match result {
            Ok(response) => {
                let content_type = response
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok());
                let length = response.body().size_hint().exact();
                let observer = call.on_response(response.status().as_u16(), content_type, length);
                let cx = this.cx.take();
                Ok(response.map(|body| ObservedBody::new(body, Some(observer), cx)))
            }
            Err(error) => {
                call.transport_error(
                    aitrace_core::conventions::ERROR_TYPE_OTHER,
                    error.to_string(),
                );
                Err(error)
            }
        })
    }
}
