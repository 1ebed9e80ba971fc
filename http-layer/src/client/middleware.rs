//! The reqwest-middleware client.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Extensions;
use opentelemetry::trace::FutureExt as _;
use pin_project_lite::pin_project;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};

use super::{record_response, ClientConfig, ClientRequest};
use crate::attributes::describe_error;
use crate::error_kind::middleware_kind;
use crate::guard::InFlight;
use crate::propagation::inject_headers;

/// A `reqwest_middleware::Middleware` that gives each request a CLIENT span and sends
/// trace context. See the [module docs](crate::client) for the span.
///
/// # With reqwest-retry: retry first, then this middleware
///
/// `ClientBuilder::with` runs middleware in the order it was attached, and
/// `RetryTransientMiddleware` re-runs everything attached *after* it once per attempt,
/// with the same request extensions. Attached after the retry middleware, this one
/// makes one span per attempt (each a child of your current span, as the conventions
/// ask), counts the attempts in the extensions, and records
/// `http.request.resend_count` (1, 2, ...) on every resend; each attempt's span has its
/// own status and `error.type`. Attached before it, you get one span over all
/// attempts, no resend count, and the final error as reqwest-retry wraps it.
/// Redirects that reqwest follows inside one attempt are not counted. (The count lives
/// in the request's extensions: reusing one `Extensions` for several requests with
/// `execute_with_extensions` would carry it over.)
///
/// ```
/// use std::time::Duration;
///
/// use aitrace_http::{ClientMiddleware, UrlTemplate};
/// use reqwest_middleware::ClientBuilder;
/// use reqwest_retry::{policies::ExponentialBackoff, RetryTransientMiddleware};
///
/// # async fn run() -> Result<(), reqwest_middleware::Error> {
/// let retry = ExponentialBackoff::builder().build_with_max_retries(3);
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(RetryTransientMiddleware::new_with_policy(retry)) // outer: retries
///     .with(ClientMiddleware::new()) // inner: one span per attempt
///     .build();
///
/// let response = client
///     .get("http://127.0.0.1:8080/v1/models/gpt-4o")
///     .with_extension(UrlTemplate::new("/v1/models/{model}")) // span "GET /v1/models/{model}"
///     .send()
///     .await?;
/// # let _ = response;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientMiddleware {
    config: ClientConfig,
}

impl ClientMiddleware {
    /// The middleware with the default [`ClientConfig`].
    pub fn new() -> ClientMiddleware {
        ClientMiddleware::default()
    }

    /// The middleware with these settings.
    pub fn with_config(config: ClientConfig) -> ClientMiddleware {
        ClientMiddleware { config }
    }
}

/// How many times this middleware saw the request (reqwest-retry re-runs it with the
/// same extensions).
#[derive(Debug, Clone, Copy)]
struct Attempts(u32);

#[async_trait::async_trait]
impl Middleware for ClientMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let resend_count = extensions.get::<Attempts>().map_or(0, |a| a.0);
        extensions.insert(Attempts(resend_count.saturating_add(1)));
        let url = req.url();
        let (span, propagate) = self.config.start_span(&ClientRequest {
            method: req.method(),
            url: url.as_str(),
            host: url.host_str(),
            port: url.port_or_known_default(),
            headers: req.headers(),
            extensions,
            resend_count,
        });
        let cx = span.context();
        if propagate {
            inject_headers(&cx, req.headers_mut());
        }
        let mut in_flight = InFlight::new(span);
        let result = Watched {
            inner: next.run(req, extensions).with_context(cx),
            in_flight: &mut in_flight,
        }
        .await;
        if let Some(span) = in_flight.finish() {
            match &result {
                Ok(response) => record_response(&span, response.status(), response.version()),
                Err(err) if span.is_recording() => {
                    let description = describe_error(err, self.config.secret_params());
                    span.set_error(middleware_kind(err), description);
                }
                Err(_) => {}
            }
        }
        result
    }
}

pin_project! {
    /// Polls the rest of the chain; a panic in it ends the span as `panic`.
    struct Watched<'a, F> {
        #[pin]
        inner: F,
        in_flight: &'a mut InFlight,
    }
}

impl<F: Future> Future for Watched<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _guard = this.in_flight.watch();
        this.inner.poll(cx)
    }
}
