//! HTTP server spans: a tower layer for `http::Request<B>` services (axum, hyper,
//! tonic), [`ServerLayer`].
//!
//! For each request it:
//! - extracts the incoming trace context (`traceparent`/`tracestate` through the
//!   global propagator, or W3C Trace Context when none is installed), on top of the
//!   current context;
//! - starts a SERVER span named `{method} {http.route}`: the route is axum's
//!   `MatchedPath` (feature `axum`; add the layer with `Router::layer` so it runs after
//!   routing) or an [`HttpRoute`] extension set by any other router; without a route
//!   the name is `{method}`, never the raw path (unbounded names);
//! - records `http.request.method`, `http.route`, `url.path`, `url.query` (secret
//!   values redacted), `url.scheme`, `server.address`/`server.port` (from `Host`),
//!   `user_agent.original`, `client.address` (`Forwarded`, `X-Forwarded-For`, or
//!   axum's `ConnectInfo<SocketAddr>`), `network.protocol.version`, and
//!   `http.response.status_code`;
//! - marks 5xx responses (`error.type` = the status code) and inner-service errors as
//!   failures; 4xx are the client's errors and leave a server span's status unset;
//! - attaches the span's context while the handler runs (its `tracing` spans and
//!   outgoing calls nest under the server span) and while the body streams;
//! - keeps the span open until the response body ends or is dropped ([`ServerBody`]);
//! - optionally answers with a `traceresponse` header naming the server span.

mod body;
mod filter;
mod future;
mod layer;

use std::borrow::Cow;

use http::request::Parts;

pub use body::ServerBody;
pub use filter::{RequestFilter, SkipPaths};
pub use future::ServerFuture;
pub use layer::{ServerLayer, TracedServer};

/// The matched route template of a request (`/users/{id}`), for routers other than
/// axum: insert it in the request extensions before [`ServerLayer`] sees the request.
///
/// ```
/// use aitrace_http::HttpRoute;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(HttpRoute::new("/users/{id}"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute(Cow<'static, str>);

impl HttpRoute {
    /// A route template.
    pub fn new(route: impl Into<Cow<'static, str>>) -> HttpRoute {
        HttpRoute(route.into())
    }

    /// The template.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The route template of a request, if a router gave one.
pub(crate) fn route(parts: &Parts) -> Option<&str> {
    #[cfg(feature = "axum")]
    {
        if let Some(matched) = parts.extensions.get::<axum::extract::MatchedPath>() {
            return Some(matched.as_str());
        }
    }
    parts.extensions.get::<HttpRoute>().map(HttpRoute::as_str)
}
