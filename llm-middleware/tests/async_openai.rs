//! The real async-openai client, unmodified, traced through `OpenAiHttpService`
//! against an OpenAI-compatible mock server on loopback: chat and streaming chat.

mod common;

use aitrace_core::conventions as c;
use aitrace_llm::async_openai::OpenAiHttpService;
use aitrace_llm::GenAiConfig;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, ChatCompletionStreamOptions,
    CreateChatCompletionRequestArgs,
};
use async_openai::Client;
use common::{float, int, string};
use futures_util::StreamExt;
use opentelemetry::trace::Status;
use opentelemetry::KeyValue;
use tracing::Instrument;

#[tokio::test]
async fn a_stream_the_caller_drops_early_is_cancelled() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("async-openai early drop");
    let config = OpenAIConfig::new()
        .with_api_base(server.url("/v1"))
        .with_api_key("sk-test-not-a-real-key");
    let client = Client::with_config(config)
        .with_http_service(OpenAiHttpService::new(GenAiConfig::default()));
    async {
        let request = CreateChatCompletionRequestArgs::default()
            .model("slow-stream")
            .messages(vec![ChatCompletionRequestUserMessageArgs::default()
                .content("hello")
                .build()
                .unwrap()
                .into()])
            .build()
            .unwrap();
        let mut stream = client.chat().create_stream(request).await.unwrap();
        let first = stream.next().await.unwrap().unwrap();
        assert!(!first.choices.is_empty());
        drop(stream);
    }
    .instrument(root)
    .await;
    let s = common::span(trace, "chat slow-stream").await;
    assert_eq!(common::string(&s, c::ERROR_TYPE), c::ERROR_TYPE_CANCELLED);
    assert!(matches!(s.status, Status::Error { .. }));
    assert!(common::has(&s, c::AITRACE_CANCELLED));
}

#[tokio::test]
async fn chat_and_stream_through_async_openai() {
    let server = common::mock::start().await;
    let (root, trace) = common::root("async-openai");
    let config = OpenAIConfig::new()
        .with_api_base(server.url("/v1"))
        .with_api_key("sk-test-not-a-real-key");
    let client = Client::with_config(config)
        .with_http_service(OpenAiHttpService::new(GenAiConfig::default()));
    let messages = vec![ChatCompletionRequestUserMessageArgs::default()
        .content("hello")
        .build()
        .unwrap()
        .into()];

    let (answer, streamed) = async {
        let request = CreateChatCompletionRequestArgs::default()
            .model("gpt-4o-mini")
            .messages(messages.clone())
            .build()
            .unwrap();
        let response = client.chat().create(request).await.unwrap();
        let answer = response.choices[0].message.content.clone().unwrap();

        let request = CreateChatCompletionRequestArgs::default()
            .model("gpt-4o-mini")
            .messages(messages)
            .stream_options(ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            })
            .build()
            .unwrap();
        let mut stream = client.chat().create_stream(request).await.unwrap();
        let mut streamed = String::new();
        while let Some(chunk) = stream.next().await {
            for choice in chunk.unwrap().choices {
                streamed.push_str(choice.delta.content.as_deref().unwrap_or_default());
            }
        }
        (answer, streamed)
    }
    .instrument(root)
    .await;
    assert_eq!(answer, "Hello!");
    assert_eq!(streamed, "Hello!");

    let spans: Vec<_> = common::spans(trace)
        .into_iter()
        .filter(|s| s.name == "chat gpt-4o-mini")
        .collect();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    for s in &spans {
        assert_eq!(string(s, c::GEN_AI_PROVIDER_NAME), "openai");
        assert_eq!(int(s, c::GEN_AI_USAGE_INPUT_TOKENS), 1200);
        assert_eq!(int(s, c::GEN_AI_USAGE_OUTPUT_TOKENS), 300);
        assert!(float(s, c::GEN_AI_USAGE_COST) > 0.0);
    }
    let streamed = spans
        .iter()
        .find(|s| common::has(s, c::GEN_AI_REQUEST_STREAM))
        .expect("the streamed call");
    assert!(float(streamed, c::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) > 0.0);
    // async-openai stops reading at `data: [DONE]` and drops the body: a normal end.
    for s in &spans {
        assert_eq!(s.status, Status::Unset, "{s:#?}");
        assert!(!common::has(s, c::ERROR_TYPE), "{s:#?}");
        assert!(!common::has(s, c::AITRACE_CANCELLED), "{s:#?}");
        assert!(s.events.iter().all(|e| e.name != "stream_cancelled"));
    }
    let (cancelled_points, _) = common::histogram(
        c::METRIC_OPERATION_DURATION,
        &[
            KeyValue::new(c::GEN_AI_REQUEST_MODEL, "gpt-4o-mini"),
            KeyValue::new(c::ERROR_TYPE, c::ERROR_TYPE_CANCELLED),
        ],
    );
    assert_eq!(cancelled_points, 0);
    // The API key never reaches a span.
    for s in common::spans(trace) {
        for kv in &s.attributes {
            assert!(!kv.value.as_str().contains("sk-test"), "{kv:?}");
        }
    }
}
