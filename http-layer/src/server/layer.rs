//! The server layer and service.

use std::borrow::Cow;
use std::fmt::{self, Display};
use std::sync::Arc;
use std::task::{Context, Poll};

use aitrace_core::conventions;
use aitrace_core::emit::OtelSpan;
use http::request::Parts;
use http::{Request, Response};
use http_body::Body;
use opentelemetry::trace::{FutureExt as _, SpanKind};
use opentelemetry::KeyValue;
use tower_layer::Layer;
use tower_service::Service;

use super::body::ServerBody;
use super::filter::RequestFilter;
use super::future::ServerFuture;
use crate::attributes::{protocol_version, push_method, split_host_port, SecretParams};
use crate::headers::HeaderCapture;
use crate::propagation::HeaderExtractor;

/// Settings shared by every clone of a server service.
#[derive(Debug, Clone)]
pub(crate) struct ServerConfig {
    pub(crate) traceresponse: bool,
    pub(crate) secret_params: SecretParams,
    headers: HeaderCapture,
    default_scheme: Cow<'static, str>,
    force_sample_header: Option<http::HeaderName>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            traceresponse: false,
            secret_params: SecretParams::Default,
            headers: HeaderCapture::default(),
            default_scheme: Cow::Borrowed("http"),
            force_sample_header: None,
        }
    }
}

/// Gives each request to an HTTP service a SERVER span continuing the caller's trace.
/// See the [module docs](crate::server) for the span.
///
/// With axum, add it with `Router::layer` (it then runs after routing and names spans
/// after the matched route):
///
/// ```
/// use aitrace_http::{ServerLayer, SkipPaths};
/// use axum::{routing::get, Router};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "hello" })) // span "GET /users/{id}"
///     .route("/healthz", get(|| async { "ok" }))
///     .layer(
///         ServerLayer::new()
///             .traceresponse(true)
///             .filter(SkipPaths::new(["/healthz"])),
///     );
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// # if false {
/// axum::serve(listener, app).await?;
/// # }
/// # Ok(())
/// # }
/// ```
///
/// Any `Service<http::Request<B>>` works, through `tower::ServiceBuilder` too:
///
/// ```
/// use aitrace_http::ServerLayer;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use std::convert::Infallible;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let service = ServiceBuilder::new()
///     .layer(ServerLayer::new())
///     .service(service_fn(|_req: Request<()>| async {
///         Ok::<_, Infallible>(Response::new(Full::new(bytes::Bytes::from("hi"))))
///     }));
/// let response = service.oneshot(Request::new(())).await.unwrap();
/// assert_eq!(response.status(), 200);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ServerLayer<F = ()> {
    config: Arc<ServerConfig>,
    filter: F,
}

impl Default for ServerLayer {
    fn default() -> ServerLayer {
        ServerLayer::new()
    }
}

impl ServerLayer {
    /// A layer that traces every request, with no `traceresponse` header.
    pub fn new() -> ServerLayer {
        ServerLayer {
            config: Arc::new(ServerConfig::default()),
            filter: (),
        }
    }
}

impl<F> ServerLayer<F> {
    /// Answers with a `traceresponse` header (W3C Trace Context Level 2) naming the
    /// server span, so a caller can find the trace of its request.
    pub fn traceresponse(mut self, on: bool) -> ServerLayer<F> {
        Arc::make_mut(&mut self.config).traceresponse = on;
        self
    }

    /// Decides which requests get a span (e.g. [`SkipPaths`](super::SkipPaths) for
    /// health checks, or a closure over `&http::request::Parts`).
    pub fn filter<G: RequestFilter>(self, filter: G) -> ServerLayer<G> {
        ServerLayer {
            config: self.config,
            filter,
        }
    }

    /// Replaces the list of query parameters whose values are redacted from `url.query`
    /// (compared case-insensitively). Whatever the list, parameters whose names contain
    /// a [secret fragment](aitrace_core::url::SECRET_PARAM_FRAGMENTS) (`token`, `key`,
    /// `secret`, ...) and values that look like keys are redacted too.
    pub fn secret_query_params<I, P>(mut self, params: I) -> ServerLayer<F>
    where
        I: IntoIterator<Item = P>,
        P: Into<Cow<'static, str>>,
    {
        Arc::make_mut(&mut self.config).secret_params = SecretParams::custom(params);
        self
    }

    /// Records these request headers as `http.request.header.<name>`; credentials
    /// (`Authorization`, API-key headers, cookies, ...) are left out even when listed.
    pub fn capture_request_headers<I, H>(mut self, names: I) -> ServerLayer<F>
    where
        I: IntoIterator<Item = H>,
        H: AsRef<str>,
    {
        Arc::make_mut(&mut self.config).headers = HeaderCapture::new(names);
        self
    }

    /// The `url.scheme` of requests whose URI has none (HTTP/1 requests; default
    /// `http`). Set `https` when TLS ends in this process or just in front of it.
    pub fn default_scheme(mut self, scheme: impl Into<Cow<'static, str>>) -> ServerLayer<F> {
        Arc::make_mut(&mut self.config).default_scheme = scheme.into();
        self
    }

    /// Force-samples requests carrying this header (any value but `0` or `false`): their
    /// trace is recorded whatever the sampling ratio, with everything the handler does
    /// ([`aitrace_core::sampling`]; honoured by the sampler `aitrace::init()` installs).
    /// Off by default. Anyone who can send the header can make you record their
    /// requests: strip it at the edge or use a name only your own tools send.
    ///
    /// ```
    /// use aitrace_http::ServerLayer;
    ///
    /// let layer = ServerLayer::new()
    ///     .force_sample_header(http::HeaderName::from_static("x-debug-trace"));
    /// # let _ = layer;
    /// ```
    pub fn force_sample_header(mut self, name: http::HeaderName) -> ServerLayer<F> {
        Arc::make_mut(&mut self.config).force_sample_header = Some(name);
        self
    }
}

/// Whether the request asks to be force-sampled (see
/// [`ServerLayer::force_sample_header`]).
fn forces_sampling(config: &ServerConfig, parts: &Parts) -> bool {
    let Some(name) = &config.force_sample_header else {
        return false;
    };
    parts.headers.get_all(name).iter().any(|v| {
        let v = v.to_str().unwrap_or("1").trim();
        !(v == "0" || v.eq_ignore_ascii_case("false"))
    })
}

impl<S, F: Clone> Layer<S> for ServerLayer<F> {
    type Service = TracedServer<S, F>;

    fn layer(&self, inner: S) -> TracedServer<S, F> {
        TracedServer {
            inner,
            config: self.config.clone(),
            filter: self.filter.clone(),
        }
    }
}

/// An HTTP service with SERVER spans; made by [`ServerLayer`].
#[derive(Clone)]
pub struct TracedServer<S, F = ()> {
    inner: S,
    config: Arc<ServerConfig>,
    filter: F,
}

impl<S> TracedServer<S> {
    /// Wraps `inner`, tracing every request.
    pub fn new(inner: S) -> TracedServer<S> {
        TracedServer {
            inner,
            config: Arc::new(ServerConfig::default()),
            filter: (),
        }
    }

    /// The [`ServerLayer`] that makes this service.
    pub fn layer() -> ServerLayer {
        ServerLayer::new()
    }
}

impl<S, F> TracedServer<S, F> {
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

impl<S: fmt::Debug, F> fmt::Debug for TracedServer<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedServer")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, F, B, ResB> Service<Request<B>> for TracedServer<S, F>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: Display + 'static,
    ResB: Body,
    F: RequestFilter,
{
    type Response = Response<ServerBody<ResB>>;
    type Error = S::Error;
    type Future = ServerFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let mut parent = crate::propagation::extract(&HeaderExtractor(&parts.headers));
        let remote_parent = opentelemetry::trace::TraceContextExt::span(&parent)
            .span_context()
            .is_valid();
        if forces_sampling(&self.config, &parts) {
            parent = aitrace_core::sampling::forced(&parent);
        }
        let span = if aitrace_core::emit::is_active() && self.filter.is_traced(&parts) {
            start_span(&parent, &parts, &self.config)
        } else {
            // No span, but the caller's context still reaches the handler.
            OtelSpan::off(parent)
        };
        let cx = span.context();
        // A request that arrives with no trace: this span is the trace's root, where
        // the outermost agent run also puts its input and output.
        let cx = if span.is_recording() && !remote_parent {
            aitrace_core::run::TraceRoot::mark(&cx)
        } else {
            cx
        };
        let req = Request::from_parts(parts, body);
        let inner = {
            let _attached = cx.clone().attach();
            self.inner.call(req)
        };
        ServerFuture::new(inner.with_context(cx), span, self.config.clone())
    }
}

fn start_span(parent: &opentelemetry::Context, parts: &Parts, config: &ServerConfig) -> OtelSpan {
    let mut attributes = Vec::with_capacity(12);
    let method = push_method(&parts.method, &mut attributes);
    let route = super::route(parts);
    if let Some(route) = route {
        attributes.push(KeyValue::new(conventions::HTTP_ROUTE, route.to_owned()));
    }
    attributes.push(KeyValue::new(
        conventions::URL_PATH,
        parts.uri.path().to_owned(),
    ));
    if let Some(query) = parts.uri.query() {
        attributes.push(KeyValue::new(
            conventions::URL_QUERY,
            config.secret_params.redact_query(query),
        ));
    }
    let scheme = parts
        .uri
        .scheme_str()
        .unwrap_or(config.default_scheme.as_ref());
    attributes.push(KeyValue::new(conventions::URL_SCHEME, scheme.to_owned()));
    let authority = parts.uri.authority().map(|a| a.as_str()).or_else(|| {
        parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
    });
    if let Some(authority) = authority {
        let (host, port) = split_host_port(authority);
        attributes.push(KeyValue::new(conventions::SERVER_ADDRESS, host.to_owned()));
        if let Some(port) = port {
            attributes.push(KeyValue::new(conventions::SERVER_PORT, i64::from(port)));
        }
    }
    if let Some(agent) = parts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|h| h.to_str().ok())
    {
        attributes.push(KeyValue::new(
            conventions::USER_AGENT_ORIGINAL,
            agent.to_owned(),
        ));
    }
    if let Some(client) = client_address(parts) {
        attributes.push(KeyValue::new(conventions::CLIENT_ADDRESS, client));
    }
    if let Some(version) = protocol_version(parts.version) {
        attributes.push(KeyValue::new(
            conventions::NETWORK_PROTOCOL_VERSION,
            version,
        ));
    }
    config
        .headers
        .record(&parts.headers, &config.secret_params, &mut attributes);
    let name = conventions::http_server_span_name(method, route);
    // Room for the status code and `error.type`, set when the response comes.
    OtelSpan::start_with_room(parent, name, SpanKind::Server, attributes, 2)
}

/// The original client: the first `Forwarded: for=` or `X-Forwarded-For` entry, else
/// the peer address axum saw (`ConnectInfo<SocketAddr>`).
fn client_address(parts: &Parts) -> Option<String> {
    if let Some(forwarded) = parts
        .headers
        .get(http::header::FORWARDED)
        .and_then(|h| h.to_str().ok())
    {
        let first = forwarded.split(',').next().unwrap_or_default();
        for pair in first.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k.trim().eq_ignore_ascii_case("for") {
                    let v = v.trim().trim_matches('"');
                    let host = split_host_port(v).0;
                    if !host.is_empty() {
                        return Some(host.to_owned());
                    }
                }
            }
        }
    }
    if let Some(xff) = parts
        .headers
        // A name made once: `get(&str)` would check and fold its text on every request.
        .get(&const { http::HeaderName::from_static("x-forwarded-for") })
        .and_then(|h| h.to_str().ok())
    {
        let first = xff.split(',').next().unwrap_or_default().trim();
        if !first.is_empty() {
            return Some(first.to_owned());
        }
    }
    #[cfg(feature = "axum")]
    {
        if let Some(info) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        {
            return Some(info.0.ip().to_string());
        }
    }
    None
}
