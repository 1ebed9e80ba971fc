//! The server side: a SERVER span per call, continuing the caller's trace from the
//! metadata.

use std::task::{Context as TaskContext, Poll};

use aitrace_core::propagation::{self, Bounded};
use opentelemetry::Context;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::GrpcBody;
use crate::call::Call;
use crate::client::ResponseFuture;
use crate::metadata::MetadataExtractor;
use crate::status::Side;

/// Traces the calls a gRPC server handles (tonic's `Server::builder().layer(...)`, or
/// any `Service<http::Request<_>>` serving gRPC). Only `UNKNOWN`, `DEADLINE_EXCEEDED`,
/// `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE` and `DATA_LOSS` fail the span: the other
/// codes say the caller asked for something that cannot be served.
#[derive(Debug, Clone, Copy)]
pub struct GrpcServerLayer {
    legacy: bool,
}

impl Default for GrpcServerLayer {
    fn default() -> Self {
        GrpcServerLayer::new()
    }
}

impl GrpcServerLayer {
    /// The layer, with the older attribute names emitted alongside the newest.
    pub fn new() -> GrpcServerLayer {
        GrpcServerLayer { legacy: true }
    }

    /// Whether to emit `rpc.system`, `rpc.service` and `rpc.grpc.status_code` too
    /// (on by default).
    pub fn legacy_attributes(mut self, on: bool) -> GrpcServerLayer {
        self.legacy = on;
        self
    }
}

impl<S> Layer<S> for GrpcServerLayer {
    type Service = GrpcServer<S>;

    fn layer(&self, inner: S) -> GrpcServer<S> {
        GrpcServer {
            inner,
            legacy: self.legacy,
        }
    }
}

/// The service made by [`GrpcServerLayer`].
#[derive(Debug, Clone)]
pub struct GrpcServer<S> {
    inner: S,
    legacy: bool,
}

impl<S> GrpcServer<S> {
    /// Traces the calls `inner` serves.
    pub fn new(inner: S) -> GrpcServer<S> {
        GrpcServerLayer::new().layer(inner)
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

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcServer<S>
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

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        if !aitrace_core::emit::is_active() {
            return ResponseFuture {
                inner: self.inner.call(request),
                call: None,
                cx: None,
            };
        }
        // Missing, garbage or oversized metadata: a new trace, never a failed call.
        let parent = propagation::extract_with_context(
            &Context::current(),
            &Bounded(&MetadataExtractor(request.headers())),
        );
        let call = Call::start(Side::Server, self.legacy, None, &parent, &request);
        let cx = call.context();
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
