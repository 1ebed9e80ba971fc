//! The response future of the server service.

use std::fmt::{self, Display};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use aitrace_core::conventions;
use aitrace_core::emit::OtelSpan;
use http::Response;
use http_body::Body;
use opentelemetry::trace::WithContext;
use opentelemetry::KeyValue;
use pin_project_lite::pin_project;

use super::body::ServerBody;
use super::layer::ServerConfig;
use crate::error_kind::{describe_service_error, service_error_kind};
use crate::guard::InFlight;
use crate::propagation::{traceresponse_value, TRACERESPONSE};

pin_project! {
    /// The response future of [`TracedServer`](super::TracedServer): records the
    /// status, then hands the span to the [`ServerBody`]; ends it on an inner error,
    /// a panic, or when dropped before the response (`cancelled`).
    pub struct ServerFuture<F> {
        #[pin]
        inner: WithContext<F>,
        in_flight: InFlight,
        config: Arc<ServerConfig>,
    }
}

impl<F> ServerFuture<F> {
    pub(crate) fn new(
        inner: WithContext<F>,
        span: OtelSpan,
        config: Arc<ServerConfig>,
    ) -> ServerFuture<F> {
        ServerFuture {
            inner,
            in_flight: InFlight::new(span),
            config,
        }
    }
}

impl<F> fmt::Debug for ServerFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ServerFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
    E: Display + 'static,
{
    type Output = Result<Response<ServerBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let guard = this.in_flight.watch();
        let result = ready!(this.inner.poll(cx));
        drop(guard);
        let span = this.in_flight.finish();
        Poll::Ready(match result {
            Ok(mut response) => {
                if let Some(span) = &span {
                    record_response(span, &mut response, this.config);
                }
                // An empty body may never be polled: the span ends now. A span that
                // records nothing has nothing to wait for either.
                let span = span.filter(|s| s.is_recording() && !response.body().is_end_stream());
                Ok(response.map(|body| ServerBody::new(body, span)))
            }
            Err(err) => {
                if let Some(span) = span {
                    if span.is_recording() {
                        span.set_error(
                            service_error_kind(&err),
                            describe_service_error(&err, &this.config.secret_params),
                        );
                    }
                }
                Err(err)
            }
        })
    }
}

fn record_response<B>(span: &OtelSpan, response: &mut Response<B>, config: &ServerConfig) {
    if !span.is_recording() {
        return;
    }
    let status = response.status();
    span.set_attribute(KeyValue::new(
        conventions::HTTP_RESPONSE_STATUS_CODE,
        i64::from(status.as_u16()),
    ));
    // Servers fail on 5xx only: 4xx are the client's errors.
    if status.is_server_error() {
        span.set_error(status.as_str().to_owned(), "");
    }
    if config.traceresponse {
        if let Some(value) = traceresponse_value(&span.context()) {
            response.headers_mut().insert(TRACERESPONSE, value);
        }
    }
}
