//! The client side: a CLIENT span per call, its context injected into the metadata.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};

use aitrace_core::propagation;
use opentelemetry::Context;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::attributes as a;
use crate::body::GrpcBody;
use crate::call::Call;
use crate::metadata::MetadataInjector;
use crate::status::Side;

/// Traces the gRPC calls made through a client service (a tonic `Channel`, or any
/// `Service<http::Request<_>>` speaking gRPC).
#[derive(Debug, Clone)]
pub struct GrpcClientLayer {
    legacy: bool,
    server: Option<Arc<(String, Option<u16>)>>,
}

impl Default for GrpcClientLayer {
    fn default() -> Self {
        GrpcClientLayer::new()
    }
}

impl GrpcClientLayer {
    /// The layer, with the older attribute names emitted alongside the newest.
    pub fn new() -> GrpcClientLayer {
        GrpcClientLayer {
            legacy: true,
            server: None,
        }
    }

    /// The server the channel was made for (`server.address`, `server.port`): tonic's
    /// channel adds the authority below this layer, so requests do not carry it. Give
    /// the host and port of the target (`grpc.example.com`, `50051`), not a resolved
    /// address.
    pub fn server(mut self, address: impl Into<String>, port: Option<u16>) -> GrpcClientLayer {
        self.server = Some(Arc::new((address.into(), port)));
        self
    }

    /// Whether to emit `rpc.system`, `rpc.service` and `rpc.grpc.status_code` too
    /// (on by default; see [`attributes`](crate::attributes)).
    pub fn legacy_attributes(mut self, on: bool) -> GrpcClientLayer {
        self.legacy = on;
        self
    }
}

impl<S> Layer<S> for GrpcClientLayer {
    type Service = GrpcClient<S>;

    fn layer(&self, inner: S) -> GrpcClient<S> {
        GrpcClient {
            inner,
            legacy: self.legacy,
            server: self.server.clone(),
        }
    }
}

/// The service made by [`GrpcClientLayer`].
#[derive(Debug, Clone)]
pub struct GrpcClient<S> {
    inner: S,
    legacy: bool,
    server: Option<Arc<(String, Option<u16>)>>,
}

impl<S> GrpcClient<S> {
    /// Traces the calls made through `inner`.
    pub fn new(inner: S) -> GrpcClient<S> {
        GrpcClientLayer::new().layer(inner)
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcClient<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: std::fmt::Display,
{
    type Response = http::Response<GrpcBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        if !aitrace_core::emit::is_active() {
            return ResponseFuture {
                inner: self.inner.call(request),
                call: None,
                cx: None,
            };
        }
        let call = Call::start(
            Side::Client,
            self.legacy,
            self.server.as_deref(),
            &Context::current(),
            &request,
        );
        let cx = call.context();
        propagation::inject(&cx, &mut MetadataInjector(request.headers_mut()));
        let inner = {
            let _attached = cx.clone().attach();
            self.inner.call(request)
        };
        ResponseFuture {
            inner,
            call: Some(call),
            cx: Some(cx),
        }
    }
}

pin_project! {
    /// The response future of [`GrpcClient`] and [`GrpcServer`](crate::GrpcServer).
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        pub(crate) inner: F,
        pub(crate) call: Option<Call>,
        pub(crate) cx: Option<Context>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
    E: std::fmt::Display,
{
    type Output = Result<http::Response<GrpcBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _attached = this.cx.as_ref().map(|c| c.clone().attach());
        let result = ready!(this.inner.poll(cx));
        let mut call = this.call.take();
        Poll::Ready(match result {
            Ok(response) => {
                let (head, body) = response.into_parts();
                if let Some(c) = call.as_mut() {
                    if c.finish_from_head(&head) {
                        call = None;
                    }
                }
                Ok(http::Response::from_parts(head, GrpcBody::new(body, call)))
            }
            Err(e) => {
                if let Some(mut c) = call {
                    c.fail(a::ERROR_TYPE_TRANSPORT, &e.to_string());
                }
                Err(e)
            }
        })
    }
}
