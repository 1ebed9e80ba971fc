//! The tower client layer, for `http::Request<B>` services (hyper-util's legacy
//! client, tonic channels, any tower HTTP client).

use std::fmt::{self, Display};
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use opentelemetry::trace::{FutureExt as _, WithContext};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{record_response, ClientConfig, ClientRequest};
use crate::attributes::{default_port, split_host_port};
use crate::error_kind::{describe_service_error, service_error_kind};
use crate::guard::InFlight;
use crate::propagation::inject_headers;

/// Wraps an HTTP client service so each request gets a CLIENT span and carries trace
/// context. See the [module docs](crate::client) for the span.
///
/// An origin-form URI (`/path`) is completed from the `Host` header for `url.full`.
/// `http.request.resend_count` is not known at this level (tower's `Retry` rebuilds
/// requests out of sight); put this layer inside a retry layer to get one span per
/// attempt. Transport errors are classified when the service error is (or boxes) an
/// I/O error, a reqwest error, or (feature `hyper-util`) a hyper-util client error.
///
/// ```
/// use aitrace_http::ClientLayer;
/// use http::{Request, Response};
/// use std::convert::Infallible;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Any `Service<http::Request<B>>`: here a stand-in that echoes the traceparent header.
/// let transport = service_fn(|req: Request<String>| async move {
///     let seen = req.headers().contains_key("traceparent");
///     Ok::<_, Infallible>(Response::new(seen))
/// });
/// let client = ServiceBuilder::new().layer(ClientLayer::new()).service(transport);
///
/// let request = Request::get("http://127.0.0.1:8080/v1/models").body(String::new()).unwrap();
/// let response = client.oneshot(request).await.unwrap();
/// # let _ = response;
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientLayer {
    config: ClientConfig,
}

impl ClientLayer {
    /// A layer with the default [`ClientConfig`].
    pub fn new() -> ClientLayer {
        ClientLayer::default()
    }

    /// A layer with these settings.
    pub fn with_config(config: ClientConfig) -> ClientLayer {
        ClientLayer { config }
    }
}

impl<S> Layer<S> for ClientLayer {
    type Service = TracedClient<S>;

    fn layer(&self, inner: S) -> TracedClient<S> {
        TracedClient {
            inner,
            config: self.config.clone(),
        }
    }
}

/// An HTTP client service with CLIENT spans; made by [`ClientLayer`].
#[derive(Clone)]
pub struct TracedClient<S> {
    inner: S,
    config: ClientConfig,
}

impl<S> TracedClient<S> {
    /// Wraps `inner` with the default settings.
    pub fn new(inner: S) -> TracedClient<S> {
        TracedClient {
            inner,
            config: ClientConfig::default(),
        }
    }

    /// The [`ClientLayer`] that makes this service.
    pub fn layer() -> ClientLayer {
        ClientLayer::new()
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for TracedClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedClient")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B, ResB> Service<Request<B>> for TracedClient<S>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: Display + 'static,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ClientFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let uri = req.uri();
        let host_header = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok());
        // `url.full` must be absolute: complete an origin-form URI from `Host`.
        let (url, host, port) = match uri.host() {
            Some(host) => {
                let port = uri
                    .port_u16()
                    .or_else(|| default_port(uri.scheme_str().unwrap_or("http")));
                (uri.to_string(), Some(host), port)
            }
            None => {
                let (host, port) = host_header.map_or((None, None), |h| {
                    let (host, port) = split_host_port(h);
                    (Some(host), port.or(Some(80)))
                });
                let url = match host_header {
                    Some(h) => format!("http://{h}{uri}"),
                    None => uri.to_string(),
                };
                (url, host, port)
            }
        };
        let (span, propagate) = self.config.start_span(&ClientRequest {
            method: req.method(),
            url: &url,
            host,
            port,
            headers: req.headers(),
            extensions: req.extensions(),
            resend_count: 0,
        });
        let cx = span.context();
        if propagate {
            inject_headers(&cx, req.headers_mut());
        }
        let inner = {
            let _attached = cx.clone().attach();
            self.inner.call(req)
        };
        ClientFuture {
            inner: inner.with_context(cx),
            in_flight: InFlight::new(span),
            config: self.config.clone(),
        }
    }
}

pin_project! {
    /// The response future of [`TracedClient`]: ends the span when the response
    /// headers arrive, when the request fails, or when dropped (`cancelled`).
    pub struct ClientFuture<F> {
        #[pin]
        inner: WithContext<F>,
        in_flight: InFlight,
        config: ClientConfig,
    }
}

impl<F> fmt::Debug for ClientFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientFuture").finish_non_exhaustive()
    }
}

impl<F, ResB, E> Future for ClientFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    E: Display + 'static,
{
    type Output = Result<Response<ResB>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let guard = this.in_flight.watch();
        let result = ready!(this.inner.poll(cx));
        drop(guard);
        if let Some(span) = this.in_flight.finish() {
            match &result {
                Ok(response) => record_response(&span, response.status(), response.version()),
                Err(err) => {
                    if span.is_recording() {
                        span.set_error(
                            service_error_kind(err),
                            describe_service_error(err, this.config.secret_params()),
                        );
                    }
                }
            }
        }
        Poll::Ready(result)
    }
}
