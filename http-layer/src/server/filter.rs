//! Which requests get a server span.

use std::borrow::Cow;
use std::sync::Arc;

use http::request::Parts;

/// Decides which requests get a SERVER span. Requests it turns down still carry the
/// incoming trace context to the handler (so calls it makes stay in the caller's
/// trace); they just make no span.
///
/// Implemented for `()` (every request), for closures
/// `Fn(&http::request::Parts) -> bool`, and for [`SkipPaths`].
///
/// ```
/// use aitrace_http::ServerLayer;
///
/// let layer = ServerLayer::new().filter(|req: &http::request::Parts| {
///     !req.uri.path().starts_with("/internal/")
/// });
/// # let _ = layer;
/// ```
pub trait RequestFilter {
    /// Whether this request gets a span.
    fn is_traced(&self, request: &Parts) -> bool;
}

impl RequestFilter for () {
    #[inline]
    fn is_traced(&self, _: &Parts) -> bool {
        true
    }
}

impl<F> RequestFilter for F
where
    F: Fn(&Parts) -> bool,
{
    #[inline]
    fn is_traced(&self, request: &Parts) -> bool {
        self(request)
    }
}

/// Skips requests whose path (or matched route) is one of a list: health checks,
/// readiness probes, metrics scrapes.
///
/// ```
/// use aitrace_http::{ServerLayer, SkipPaths};
///
/// let layer = ServerLayer::new().filter(SkipPaths::new(["/healthz", "/readyz", "/metrics"]));
/// # let _ = layer;
/// ```
#[derive(Debug, Clone)]
pub struct SkipPaths {
    paths: Arc<[Cow<'static, str>]>,
}

impl SkipPaths {
    /// Skips these exact paths.
    pub fn new<I, P>(paths: I) -> SkipPaths
    where
        I: IntoIterator<Item = P>,
        P: Into<Cow<'static, str>>,
    {
        SkipPaths {
            paths: paths.into_iter().map(Into::into).collect(),
        }
    }
}

impl RequestFilter for SkipPaths {
    fn is_traced(&self, request: &Parts) -> bool {
        let path = request.uri.path();
        let route = super::route(request);
        !self
            .paths
            .iter()
            .any(|p| p == path || route.is_some_and(|r| r == p))
    }
}
