//! Per-request overrides, carried in request extensions: `http::Request::extensions_mut`
//! for the tower client, `reqwest_middleware::RequestBuilder::with_extension` for the
//! reqwest middleware.

use std::borrow::Cow;

/// Names the CLIENT span of one request, instead of `{method}` /
/// `{method} {url.template}`.
///
/// ```
/// use aitrace_http::SpanName;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(SpanName::new("fetch weather"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanName(pub(crate) Cow<'static, str>);

impl SpanName {
    /// A span name for one request.
    pub fn new(name: impl Into<Cow<'static, str>>) -> SpanName {
        SpanName(name.into())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The URL template of one request (`/v1/users/{id}`): recorded as `url.template` and
/// used in the span name, `{method} {url.template}`.
///
/// ```
/// use aitrace_http::UrlTemplate;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(UrlTemplate::new("/v1/models/{model}"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate(pub(crate) Cow<'static, str>);

impl UrlTemplate {
    /// A URL template for one request.
    pub fn new(template: impl Into<Cow<'static, str>>) -> UrlTemplate {
        UrlTemplate(template.into())
    }

    /// The template.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Sends one request without trace-context headers (e.g. to a third party that must
/// not learn your trace ids). The span is still recorded.
///
/// ```
/// use aitrace_http::DisablePropagation;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(DisablePropagation);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DisablePropagation;
