//! [`GenAiMiddleware`]: GenAI spans for LLM API calls made with a reqwest-middleware
//! client, with no other change to the calling code.
//!
//! It recognises LLM API calls by path (`/chat/completions`, `/v1/messages`,
//! `:generateContent`, ...), reads the JSON request body, and reads the JSON or SSE
//! response as the caller consumes it. The caller gets the same status, headers, URL
//! and body bytes, streaming as before. Other requests pass through untouched.
//!
//! Put it before the HTTP client middleware of `aitrace-http` (when you use both), so
//! the HTTP span nests under the GenAI span and carries the trace to the provider.
//!
//! ```no_run
//! use aitrace_llm::{GenAiConfig, GenAiMiddleware};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(GenAiMiddleware::new(GenAiConfig::from_env()))
//!     .build();
//! let response = client
//!     .post("https://api.openai.com/v1/chat/completions")
//!     .bearer_auth(std::env::var("OPENAI_API_KEY")?)
//!     .header("content-type", "application/json")
//!     .body(r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#)
//!     .send()
//!     .await?;
//! println!("{}", response.text().await?); // the span ends when the body is read
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::Extensions;
use opentelemetry::trace::FutureExt as _;
use reqwest::{Request, Response, ResponseBuilderExt};
use reqwest_middleware::{Middleware, Next, Result};

use crate::config::GenAiConfig;
use crate::http::{HttpCall, ObservedBody, Target};
use crate::wire::{self, WireFormat};

/// reqwest-middleware middleware recording a GenAI span per LLM API call.
#[derive(Debug, Clone)]
pub struct GenAiMiddleware {
    config: Arc<GenAiConfig>,
}

impl GenAiMiddleware {
    /// A middleware with this configuration.
    pub fn new(config: GenAiConfig) -> GenAiMiddleware {
        GenAiMiddleware {
            config: Arc::new(config),
        }
    }
}

/// The `error.type` of a reqwest error that came before any response.
fn transport_error_kind(error: &reqwest_middleware::Error) -> &'static str {
    match error {
        reqwest_middleware::Error::Reqwest(e) if e.is_timeout() => "timeout",
        reqwest_middleware::Error::Reqwest(e) if e.is_connect() => "connect",
        reqwest_middleware::Error::Reqwest(e) if e.is_request() => "request",
        reqwest_middleware::Error::Reqwest(e) if e.is_body() => "body",
        reqwest_middleware::Error::Reqwest(_) => "http",
        reqwest_middleware::Error::Middleware(_) => "middleware",
    }
}

fn target(req: &Request) -> Target<'_> {
    let url = req.url();
    Target {
        method: req.method().as_str(),
        host: url.host_str(),
        port: url.port_or_known_default(),
        path: url.path(),
    }
}

// Written out instead of `#[async_trait]`, whose boxed future would hold the whole
// observed call's state: a request that is not observed (not an LLM API call, or
// nothing records) goes on as `next.run`'s own future, with nothing added around it.
impl Middleware for GenAiMiddleware {
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        req: Request,
        extensions: &'life1 mut Extensions,
        next: Next<'life2>,
    ) -> Pin<Box<dyn Future<Output = Result<Response>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        // Nothing records: the request goes on untouched, its URL not even read.
        if !crate::layer::needs_recording() {
            return next.run(req, extensions);
        }
        match wire::detect(req.method().as_str(), req.url().path()) {
            None => next.run(req, extensions),
            Some(format) => Box::pin(self.observe(format, req, extensions, next)),
        }
    }
}

impl GenAiMiddleware {
    async fn observe(
        &self,
        format: WireFormat,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let target = target(&req);
        let body = req.body().and_then(reqwest::Body::as_bytes);
        let Some((call, new_body)) = HttpCall::begin_as(&self.config, format, &target, body) else {
            return next.run(req, extensions).await;
        };
        if let Some(new_body) = new_body {
            let len = new_body.len();
            *req.body_mut() = Some(reqwest::Body::from(new_body));
            if req.headers().contains_key(http::header::CONTENT_LENGTH) {
                req.headers_mut()
                    .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
            }
        }
        let cx = call.context();
        // The provider (or a proxy in between) continues the trace from this span; an
        // HTTP client span further in, when there is one, overwrites it with its own.
        if self.config.propagate {
            crate::http::inject(&cx, req.headers_mut());
        }
        let result = next.run(req, extensions).with_context(cx.clone()).await;
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                call.transport_error(transport_error_kind(&error), error.to_string());
                return Err(error);
            }
        };
        let url = response.url().clone();
        let (parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
        // The body's own length (reqwest gives none for a body it decompresses).
        let length = http_body::Body::size_hint(&body).exact();
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let observer = call.on_response(parts.status.as_u16(), content_type, length);
        let observed = ObservedBody::new(body, Some(observer), Some(cx));
        let mut builder = http::Response::builder()
            .status(parts.status)
            .version(parts.version)
            .url(url);
        if let Some(headers) = builder.headers_mut() {
            *headers = parts.headers;
        }
        if let Some(ext) = builder.extensions_mut() {
            ext.extend(parts.extensions);
        }
        match builder.body(reqwest::Body::wrap(observed)) {
            Ok(rebuilt) => Ok(Response::from(rebuilt)),
            // Unreachable with parts taken from a valid response; fail loudly in the
            // only way that does not change the caller's view: an error of ours.
            Err(e) => Err(reqwest_middleware::Error::middleware(e)),
        }
    }
}
