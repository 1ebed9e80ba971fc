//! HTTP client spans: a `reqwest_middleware::Middleware` (`ClientMiddleware`, feature
//! `reqwest`) and a tower layer over `http::Request<B>` services ([`ClientLayer`]),
//! sharing one [`ClientConfig`].
//!
//! Each request gets a CLIENT span named `{method}` (or `{method} {url.template}` when a
//! [`UrlTemplate`] is given, or a [`SpanName`]), child of the current context (the
//! user's entered `tracing` span), with `http.request.method`, `url.full` (userinfo and
//! secret query values redacted), `server.address`, `server.port`, and, once answered,
//! `http.response.status_code` and `network.protocol.version`. A status of 400 or more
//! marks the span failed with `error.type` = the status code; a transport failure with
//! `error.type` = its kind (`connect`, `timeout`, `request`, `body`, `decode`,
//! `redirect`, `builder`, `io`, `cancelled`, `panic`, or `_OTHER`).
//!
//! The span ends when the response headers arrive (the conventions allow it; body
//! reading is the caller's). `traceparent`/`tracestate` are injected with the span's
//! context, through the global propagator or W3C Trace Context when none is installed
//! (see [`propagation`](crate::propagation)), also when the span is not recorded.
//! Request headers are recorded only when listed with
//! [`ClientConfig::capture_request_headers`], and credentials never
//! ([`is_sensitive_header`](crate::headers::is_sensitive_header)).

mod layer;
#[cfg(feature = "reqwest")]
mod middleware;
mod overrides;

use std::borrow::Cow;

use aitrace_core::conventions;
use aitrace_core::emit::OtelSpan;
use http::{Extensions, HeaderMap, Method, StatusCode, Version};
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};

use crate::attributes::{protocol_version, push_method, SecretParams};
use crate::headers::HeaderCapture;

pub use layer::{ClientFuture, ClientLayer, TracedClient};
#[cfg(feature = "reqwest")]
pub use middleware::ClientMiddleware;
pub use overrides::{DisablePropagation, SpanName, UrlTemplate};

/// Settings of the client spans, shared by [`ClientLayer`] and `ClientMiddleware`.
///
/// ```
/// use aitrace_http::ClientConfig;
///
/// let config = ClientConfig::new()
///     .secret_query_params(["key", "token", "sig", "session"])
///     .capture_request_headers(["x-request-id", "authorization"]) // authorization is never recorded
///     .propagate(true);
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    secret_params: SecretParams,
    headers: HeaderCapture,
    propagate: bool,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            secret_params: SecretParams::Default,
            headers: HeaderCapture::default(),
            propagate: true,
        }
    }
}

impl ClientConfig {
    /// The defaults: secret query values of
    /// [`DEFAULT_SECRET_PARAMS`](aitrace_core::url::DEFAULT_SECRET_PARAMS) redacted, no
    /// headers recorded, trace context propagated.
    pub fn new() -> ClientConfig {
        ClientConfig::default()
    }

    /// Replaces the list of query parameters whose values are redacted from `url.full`
    /// (compared case-insensitively). Userinfo is always redacted, and so are, whatever
    /// the list, parameters whose names contain a
    /// [secret fragment](aitrace_core::url::SECRET_PARAM_FRAGMENTS) (`token`, `key`,
    /// `secret`, ...) and values that look like keys.
    pub fn secret_query_params<I, P>(mut self, params: I) -> ClientConfig
    where
        I: IntoIterator<Item = P>,
        P: Into<Cow<'static, str>>,
    {
        self.secret_params = SecretParams::custom(params);
        self
    }

    /// Records these request headers as `http.request.header.<name>`; credentials
    /// (`Authorization`, API-key headers, cookies, ...) are left out even when listed.
    pub fn capture_request_headers<I, H>(mut self, names: I) -> ClientConfig
    where
        I: IntoIterator<Item = H>,
        H: AsRef<str>,
    {
        self.headers = HeaderCapture::new(names);
        self
    }

    /// Whether trace-context headers are injected (default `true`); one request can opt
    /// out with [`DisablePropagation`].
    pub fn propagate(mut self, on: bool) -> ClientConfig {
        self.propagate = on;
        self
    }

    /// Starts the CLIENT span of a request; also says whether to inject headers.
    pub(crate) fn start_span(&self, request: &ClientRequest<'_>) -> (OtelSpan, bool) {
        let propagate = self.propagate && request.extensions.get::<DisablePropagation>().is_none();
        if !aitrace_core::emit::is_active() {
            // Nothing records spans: skip the attributes, still propagate.
            return (OtelSpan::off(opentelemetry::Context::current()), propagate);
        }
        let mut attributes = Vec::with_capacity(8);
        let method = push_method(request.method, &mut attributes);
        attributes.push(KeyValue::new(
            conventions::URL_FULL,
            self.secret_params.redact_url(request.url),
        ));
        if let Some(host) = request.host {
            // URL hosts keep IPv6 brackets (`[::1]`); the attribute is the bare address.
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            attributes.push(KeyValue::new(conventions::SERVER_ADDRESS, host.to_owned()));
        }
        if let Some(port) = request.port {
            attributes.push(KeyValue::new(conventions::SERVER_PORT, i64::from(port)));
        }
        let template = request.extensions.get::<UrlTemplate>();
        if let Some(template) = template {
            attributes.push(KeyValue::new(conventions::URL_TEMPLATE, template.0.clone()));
        }
        if request.resend_count > 0 {
            attributes.push(KeyValue::new(
                conventions::HTTP_REQUEST_RESEND_COUNT,
                i64::from(request.resend_count),
            ));
        }
        self.headers
            .record(request.headers, &self.secret_params, &mut attributes);
        let name: Cow<'static, str> = match (request.extensions.get::<SpanName>(), template) {
            (Some(name), _) => name.0.clone(),
            (None, Some(template)) => {
                conventions::http_client_span_name(method, Some(&template.0)).into()
            }
            (None, None) => Cow::Borrowed(method),
        };
        (
            // Room for the status code, the protocol version and `error.type`.
            OtelSpan::start_with_room(&Context::current(), name, SpanKind::Client, attributes, 3),
            propagate,
        )
    }

    pub(crate) fn secret_params(&self) -> &SecretParams {
        &self.secret_params
    }
}

/// What a client span is made of.
pub(crate) struct ClientRequest<'a> {
    pub(crate) method: &'a Method,
    /// The full URL, before redaction.
    pub(crate) url: &'a str,
    pub(crate) host: Option<&'a str>,
    pub(crate) port: Option<u16>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) extensions: &'a Extensions,
    pub(crate) resend_count: u32,
}

/// Records the response status; 400 and above fail a client span.
pub(crate) fn record_response(span: &OtelSpan, status: StatusCode, version: Version) {
    if !span.is_recording() {
        return;
    }
    let code = i64::from(status.as_u16());
    match protocol_version(version) {
        Some(v) => span.set_attributes([
            KeyValue::new(conventions::HTTP_RESPONSE_STATUS_CODE, code),
            KeyValue::new(conventions::NETWORK_PROTOCOL_VERSION, v),
        ]),
        None => span.set_attribute(KeyValue::new(conventions::HTTP_RESPONSE_STATUS_CODE, code)),
    }
    if status.as_u16() >= 400 {
        // The conventions: no description when the status code says it all.
        span.set_error(status.as_str().to_owned(), "");
    }
}
