//! Tracing calls made with the [`async-openai`](https://docs.rs/async-openai) crate
//! (feature `async-openai`).
//!
//! async-openai accepts a tower service for its HTTP (`Client::with_http_service`).
//! [`OpenAiHttpService`] is one: it builds each request and sends it through a
//! reqwest-middleware client carrying [`GenAiMiddleware`], so chat, Responses API and
//! streaming calls made with an unmodified async-openai client get GenAI spans.
//!
//! ```no_run
//! use aitrace_llm::async_openai::OpenAiHttpService;
//! use aitrace_llm::GenAiConfig;
//! use async_openai::{config::OpenAIConfig, Client};
//!
//! let client = Client::with_config(OpenAIConfig::new().with_api_base("http://127.0.0.1:8000/v1"))
//!     .with_http_service(OpenAiHttpService::new(GenAiConfig::from_env()));
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use reqwest_middleware::ClientWithMiddleware;
use tower_service::Service;

use crate::config::GenAiConfig;
use crate::middleware::GenAiMiddleware;

/// A tower service for `async_openai::Client::with_http_service` that traces calls.
#[derive(Debug, Clone)]
pub struct OpenAiHttpService {
    client: ClientWithMiddleware,
}

impl OpenAiHttpService {
    /// A new reqwest client with [`GenAiMiddleware`].
    pub fn new(config: GenAiConfig) -> OpenAiHttpService {
        OpenAiHttpService::with_client(
            reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(GenAiMiddleware::new(config))
                .build(),
        )
    }

    /// Your own client; it should carry [`GenAiMiddleware`] (and may carry
    /// aitrace-http's client middleware, retries, ...).
    pub fn with_client(client: ClientWithMiddleware) -> OpenAiHttpService {
        OpenAiHttpService { client }
    }
}

impl Service<HttpRequestFactory> for OpenAiHttpService {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let client = self.client.clone();
        Box::pin(async move {
            let request = factory.build().await?;
            client.execute(request).await.map_err(|e| match e {
                reqwest_middleware::Error::Reqwest(e) => OpenAIError::Reqwest(e),
                reqwest_middleware::Error::Middleware(e) => {
                    let boxed: Box<dyn std::error::Error + Send + Sync> = e.into();
                    OpenAIError::from(boxed)
                }
            })
        })
    }
}
