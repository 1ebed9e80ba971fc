//! The generic layers with user types: spans, error classification, panics, streams,
//! run totals; and the tower HTTP layer over `http::Request`.

mod common;

use std::borrow::Cow;
use std::convert::Infallible;

use aitrace_core::conventions::{self as c, Operation, Provider};
use aitrace_core::cost::PriceTable;
use aitrace_core::run::Run;
use aitrace_core::usage::Usage;
use aitrace_llm::{
    GenAiChunk, GenAiConfig, GenAiHttpLayer, GenAiLayer, GenAiRequest, GenAiResponse,
    GenAiStreamLayer, RequestInfo, ResponseInfo,
};
use bytes::Bytes;
use common::{float, has, int, string};
use futures_util::{stream, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody};
use opentelemetry::trace::{FutureExt as _, SpanKind, Status};
use opentelemetry::Value;
use tower::{service_fn, ServiceBuilder, ServiceExt};
use tracing::Instrument;

#[derive(Clone)]
struct Ask {
    model: &'static str,
}

impl GenAiRequest for Ask {
    fn gen_ai_request(&self) -> RequestInfo {
        let mut info = RequestInfo::new(
            Provider::Anthropic,
            Operation::Chat,
            Some(self.model.to_owned()),
        );
        info.params.temperature = Some(0.3);
        info.conversation_id = Some("conv-7".to_owned());
        info
    }
}

#[derive(Debug)]
struct Answer(Usage);

impl GenAiResponse for Answer {
    fn gen_ai_response(&self) -> ResponseInfo {
        ResponseInfo {
            id: Some("msg_9".to_owned()),
            model: Some("claude-haiku-4-5-20251001".to_owned()),
            finish_reasons: vec!["end_turn".to_owned()],
            usage: Some(self.0),
            output_messages: None,
            ..ResponseInfo::default()
        }
    }
}

#[derive(Debug)]
enum ClientError {
    Timeout,
}

#[tokio::test]
async fn generic_layer_records_the_call_and_feeds_the_run() {
    let (root, trace) = common::root("generic");
    let client = ServiceBuilder::new()
        .layer(GenAiLayer::new(GenAiConfig::default()))
        .service(service_fn(|_: Ask| async {
            Ok::<_, Infallible>(Answer(Usage::new(100, 20)))
        }));
    let run = Run::new("agent");
    // The run's context, under the test's root span (as an agent layer would make it).
    let cx = root.in_scope(|| run.in_context(&opentelemetry::Context::current()));
    async {
        client
            .clone()
            .oneshot(Ask {
                model: "claude-haiku-4-5",
            })
            .await
            .unwrap();
        client
            .clone()
            .oneshot(Ask {
                model: "claude-haiku-4-5",
            })
            .await
            .unwrap();
    }
    .with_context(cx)
    .instrument(root)
    .await;

    let spans: Vec<_> = common::spans(trace)
        .into_iter()
        .filter(|s| s.name == "chat claude-haiku-4-5")
        .collect();
    assert_eq!(spans.len(), 2);
    let s = &spans[0];
    assert_eq!(s.span_kind, SpanKind::Client);
    assert_eq!(string(s, c::GEN_AI_PROVIDER_NAME), "anthropic");
    assert_eq!(string(s, c::GEN_AI_CONVERSATION_ID), "conv-7");
    assert_eq!(float(s, c::GEN_AI_REQUEST_TEMPERATURE), 0.3);
    assert_eq!(int(s, c::GEN_AI_USAGE_INPUT_TOKENS), 100);
    let cost = PriceTable::embedded()
        .cost(
            Some(&Provider::Anthropic),
            "claude-haiku-4-5",
            &Usage::new(100, 20),
        )
        .unwrap();
    assert_eq!(float(s, c::GEN_AI_USAGE_COST), cost.usd());

    let totals = run.totals();
    assert_eq!(totals.llm_calls, 2);
    assert_eq!(totals.usage, Usage::new(200, 40));
    assert_eq!(totals.cost, cost + cost);
}

#[tokio::test]
async fn errors_are_classified_and_panics_recorded() {
    let (root, trace) = common::root("errors");
    let failing = ServiceBuilder::new()
        .layer(
            GenAiLayer::new(GenAiConfig::default()).classify_errors_with(|e: &ClientError| {
                Cow::Borrowed(match e {
                    ClientError::Timeout => "timeout",
                })
            }),
        )
        .service(service_fn(|_: Ask| async {
            Err::<Answer, _>(ClientError::Timeout)
        }));
    let result = failing
        .oneshot(Ask { model: "m-timeout" })
        .instrument(root.clone())
        .await;
    assert!(matches!(result, Err(ClientError::Timeout)));

    let panicking = ServiceBuilder::new()
        .layer(GenAiLayer::new(GenAiConfig::default()))
        .service(service_fn(|_: Ask| async {
            if true {
                panic!("model exploded");
            }
            Ok::<_, Infallible>(Answer(Usage::default()))
        }));
    let joined = tokio::spawn(panicking.oneshot(Ask { model: "m-panic" }).instrument(root)).await;
    assert!(
        joined.unwrap_err().is_panic(),
        "the panic reaches the caller as before"
    );

    let s = common::span(trace, "chat m-timeout").await;
    assert_eq!(string(&s, c::ERROR_TYPE), "timeout");
    assert!(matches!(s.status, Status::Error { .. }));
    let s = common::span(trace, "chat m-panic").await;
    assert_eq!(string(&s, c::ERROR_TYPE), "panic");
    assert_eq!(s.status, Status::error("model exploded"));
}

struct Token {
    text: &'static str,
    usage: Option<Usage>,
    finish: Option<&'static str>,
}

impl GenAiChunk for Token {
    fn fold_into(&self, acc: &mut ResponseInfo) {
        if let Some(u) = self.usage {
            acc.usage = Some(u);
        }
        if let Some(f) = self.finish {
            acc.finish_reasons = vec![f.to_owned()];
        }
    }
}

fn tokens() -> Vec<Result<Token, ClientError>> {
    let mut v: Vec<_> = ["a", "b", "c", "d", "e"]
        .into_iter()
        .map(|t| {
            Ok(Token {
                text: t,
                usage: None,
                finish: None,
            })
        })
        .collect();
    v.push(Ok(Token {
        text: "",
        usage: Some(Usage::new(7, 5)),
        finish: Some("end_turn"),
    }));
    v
}

#[tokio::test]
async fn stream_layer_ttft_usage_and_early_drop() {
    let (root, trace) = common::root("stream");
    let client = ServiceBuilder::new()
        .layer(GenAiStreamLayer::new(GenAiConfig::default()))
        .service(service_fn(|ask: Ask| async move {
            let items = tokens();
            let delayed = stream::iter(items).then(|t| async move {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                t
            });
            let _ = ask;
            Ok::<_, ClientError>(Box::pin(delayed))
        }));
    let text = async {
        let mut s = client
            .clone()
            .oneshot(Ask { model: "m-stream" })
            .await
            .unwrap();
        let mut text = String::new();
        while let Some(t) = s.next().await {
            text.push_str(t.unwrap().text);
        }
        // Dropped after 3 chunks.
        let mut s = client
            .clone()
            .oneshot(Ask { model: "m-dropped" })
            .await
            .unwrap();
        for _ in 0..3 {
            s.next().await;
        }
        drop(s);
        text
    }
    .instrument(root)
    .await;
    assert_eq!(text, "abcde");

    let s = common::span(trace, "chat m-stream").await;
    assert!(float(&s, c::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) > 0.0);
    assert_eq!(int(&s, c::GEN_AI_USAGE_OUTPUT_TOKENS), 5);
    assert_eq!(int(&s, c::AITRACE_STREAM_CHUNKS), 6);
    assert!(!has(&s, c::ERROR_TYPE));
    let d = common::span(trace, "chat m-dropped").await;
    assert_eq!(string(&d, c::ERROR_TYPE), "cancelled");
    assert_eq!(int(&d, c::AITRACE_STREAM_CHUNKS), 3);
    assert_eq!(
        common::attr(&d, c::AITRACE_USAGE_KNOWN),
        Some(Value::Bool(false))
    );
}

/// Sends `request` through `client` inside `root`, and reads the response body to its
/// end as a caller does.
async fn send_and_read<S, B>(
    client: S,
    request: http::Request<Full<Bytes>>,
    root: tracing::Span,
) -> Bytes
where
    S: tower::Service<http::Request<Full<Bytes>>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    async {
        let response = client.oneshot(request).await.unwrap();
        response.into_body().collect().await.unwrap().to_bytes()
    }
    .instrument(root)
    .await
}

/// How a test server sends a response body.
#[derive(Clone, Copy, Debug)]
enum Sent {
    /// Whole, in one frame of known length (as `Full` sends it).
    Whole,
    /// In frames of 7 bytes, with no length.
    Chunked,
    /// Of known length (as a `Content-Length` body read from the network), in frames
    /// of these sizes and one last frame with the rest.
    Framed(&'static [usize]),
    /// Of known length, in two frames: all but the last `n` bytes, then those.
    Tail(usize),
}

/// A body of known length in the frames it was given.
struct KnownLength {
    frames: std::collections::VecDeque<Bytes>,
    len: u64,
}

impl http_body::Body for KnownLength {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(
            self.frames
                .pop_front()
                .map(|b| Ok(http_body::Frame::data(b))),
        )
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len)
    }
}

fn tail_len(sent: Sent) -> usize {
    match sent {
        Sent::Tail(n) => n,
        _ => 0,
    }
}

/// A chat completion sent back as `sent` says; `cap` is the body limit.
async fn tower_json_call(model: &'static str, sent: Sent, cap: usize) -> SpanDataOf {
    let (root, trace) = common::root(model);
    let completion = format!(
        r#"{{"id":"chatcmpl-1","object":"chat.completion","model":"{model}","choices":[{{"index":0,"message":{{"role":"assistant","content":"hi"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}}}"#
    );
    let bytes = Bytes::from(completion.clone());
    let client = ServiceBuilder::new()
        .layer(GenAiHttpLayer::new(
            GenAiConfig::default().with_max_body_bytes(cap),
        ))
        .service(service_fn(
            move |req: http::Request<aitrace_llm::http::TeeBody<Full<Bytes>>>| {
                let bytes = bytes.clone();
                async move {
                    // The inner client sends the request body: read it as it would.
                    req.into_body().collect().await.unwrap();
                    let body = match sent {
                        Sent::Whole => Full::new(bytes).boxed_unsync(),
                        Sent::Chunked => StreamBody::new(stream::iter(
                            bytes
                                .chunks(7)
                                .map(|c| {
                                    Ok::<_, Infallible>(http_body::Frame::data(
                                        Bytes::copy_from_slice(c),
                                    ))
                                })
                                .collect::<Vec<_>>(),
                        ))
                        .boxed_unsync(),
                        Sent::Framed(_) | Sent::Tail(_) => {
                            let sizes = match sent {
                                Sent::Framed(sizes) => sizes.to_vec(),
                                _ => vec![bytes.len() - tail_len(sent)],
                            };
                            let mut rest = bytes.clone();
                            let mut frames = std::collections::VecDeque::new();
                            for n in sizes {
                                frames.push_back(rest.split_to(n));
                            }
                            frames.push_back(rest);
                            KnownLength {
                                frames,
                                len: bytes.len() as u64,
                            }
                            .boxed_unsync()
                        }
                    };
                    let response = http::Response::builder()
                        .header("content-type", "application/json")
                        .body(body)
                        .unwrap();
                    Ok::<_, Infallible>(response)
                }
            },
        ));
    let request = http::Request::post("http://llm.internal/v1/chat/completions")
        .body(Full::new(Bytes::from(format!(
            r#"{{"model":"{model}","messages":[]}}"#
        ))))
        .unwrap();
    let body = send_and_read(client, request, root).await;
    assert_eq!(body, completion.as_bytes(), "the caller got every byte");
    common::span(trace, &format!("chat {model}")).await
}

type SpanDataOf = opentelemetry_sdk::trace::SpanData;

#[tokio::test]
async fn a_json_body_is_read_alike_in_one_frame_or_many() {
    let framed = Sent::Framed(&[7, 100]);
    for (model, sent) in [
        ("m-whole", Sent::Whole),
        ("m-chunked", Sent::Chunked),
        ("m-framed", framed),
    ] {
        let s = tower_json_call(model, sent, 64 * 1024).await;
        assert_eq!(string(&s, c::GEN_AI_RESPONSE_ID), "chatcmpl-1", "{sent:?}");
        assert_eq!(int(&s, c::GEN_AI_USAGE_INPUT_TOKENS), 11, "{sent:?}");
        assert_eq!(int(&s, c::GEN_AI_USAGE_OUTPUT_TOKENS), 2, "{sent:?}");
        assert!(!has(&s, c::AITRACE_RESPONSE_TRUNCATED), "{sent:?}");
        assert!(!has(&s, c::AITRACE_RESPONSE_PARSE_ERROR), "{sent:?}");
    }
    // Over the body limit: marked truncated, nothing read from it, however it came. The
    // tail case goes over the limit in its first frame, and its last frame alone is
    // within the limit and completes the known length: it is not the whole body.
    for (model, sent) in [
        ("m-whole-cut", Sent::Whole),
        ("m-chunked-cut", Sent::Chunked),
        ("m-framed-cut", Sent::Framed(&[40, 40])),
        ("m-tail-cut", Sent::Tail(30)),
    ] {
        let s = tower_json_call(model, sent, 64).await;
        assert_eq!(
            common::attr(&s, c::AITRACE_RESPONSE_TRUNCATED),
            Some(Value::Bool(true)),
            "{sent:?}"
        );
        assert_eq!(
            common::attr(&s, c::AITRACE_USAGE_KNOWN),
            Some(Value::Bool(false)),
            "{sent:?}"
        );
        assert!(!has(&s, c::GEN_AI_RESPONSE_ID), "{sent:?}");
        assert!(!has(&s, c::AITRACE_RESPONSE_PARSE_ERROR), "{sent:?}");
    }
}

#[tokio::test]
async fn tower_http_layer_reads_request_and_streamed_response() {
    let (root, trace) = common::root("tower-http");
    let sse = "data: {\"id\":\"c9\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n\
               data: {\"id\":\"c9\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n\
               data: [DONE]\n\n";
    let client = ServiceBuilder::new()
        .layer(GenAiHttpLayer::new(GenAiConfig::default()))
        .service(service_fn(
            move |req: http::Request<aitrace_llm::http::TeeBody<Full<Bytes>>>| async move {
                // The inner client sends the body: read it as it would.
                let sent = req.into_body().collect().await.unwrap().to_bytes();
                assert!(sent.starts_with(b"{\"model\""));
                let frames = sse
                    .as_bytes()
                    .chunks(17)
                    .map(|c| Ok::<_, Infallible>(http_body::Frame::data(Bytes::copy_from_slice(c))))
                    .collect::<Vec<_>>();
                let response = http::Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(StreamBody::new(stream::iter(frames)))
                    .unwrap();
                Ok::<_, Infallible>(response)
            },
        ));
    let request = http::Request::post("http://llm.internal:8000/v1/chat/completions")
        .body(Full::new(Bytes::from_static(
            br#"{"model":"gpt-4o-mini","stream":true,"max_tokens":4,"messages":[]}"#,
        )))
        .unwrap();
    let body = send_and_read(client, request, root).await;
    assert_eq!(body, sse.as_bytes(), "the caller got every byte");

    let s = common::span(trace, "chat").await;
    assert_eq!(s.name, "chat gpt-4o-mini", "renamed once the body was read");
    assert_eq!(string(&s, c::GEN_AI_REQUEST_MODEL), "gpt-4o-mini");
    assert_eq!(int(&s, c::GEN_AI_REQUEST_MAX_TOKENS), 4);
    assert_eq!(string(&s, c::SERVER_ADDRESS), "llm.internal");
    assert_eq!(int(&s, c::SERVER_PORT), 8000);
    assert_eq!(int(&s, c::GEN_AI_USAGE_OUTPUT_TOKENS), 4);
    assert!(has(&s, c::GEN_AI_USAGE_COST));
}

#[tokio::test]
async fn openinference_and_legacy_names_on_request() {
    let (root, trace) = common::root("openinference");
    let client = ServiceBuilder::new()
        .layer(GenAiLayer::new(
            GenAiConfig::default()
                .with_openinference(true)
                .with_legacy_names(true),
        ))
        .service(service_fn(|_: Ask| async {
            Ok::<_, Infallible>(Answer(Usage::new(30, 12)))
        }));
    client
        .oneshot(Ask {
            model: "m-openinference",
        })
        .instrument(root)
        .await
        .unwrap();
    let s = common::span(trace, "chat m-openinference").await;
    assert_eq!(string(&s, c::OPENINFERENCE_SPAN_KIND), "LLM");
    assert_eq!(string(&s, c::LLM_MODEL_NAME), "m-openinference");
    assert_eq!(string(&s, c::LLM_PROVIDER), "anthropic");
    assert_eq!(int(&s, c::LLM_TOKEN_COUNT_PROMPT), 30);
    assert_eq!(int(&s, c::LLM_TOKEN_COUNT_COMPLETION), 12);
    assert_eq!(int(&s, c::LLM_TOKEN_COUNT_TOTAL), 42);
    assert_eq!(string(&s, c::GEN_AI_SYSTEM), "anthropic");
    assert_eq!(int(&s, c::GEN_AI_USAGE_PROMPT_TOKENS), 30);
    assert_eq!(int(&s, c::GEN_AI_USAGE_COMPLETION_TOKENS), 12);

    // Off by default.
    let (root, trace) = common::root("openinference-off");
    let client = ServiceBuilder::new()
        .layer(GenAiLayer::new(GenAiConfig::default()))
        .service(service_fn(|_: Ask| async {
            Ok::<_, Infallible>(Answer(Usage::new(30, 12)))
        }));
    client
        .oneshot(Ask { model: "m-plain" })
        .instrument(root)
        .await
        .unwrap();
    let s = common::span(trace, "chat m-plain").await;
    assert!(!has(&s, c::OPENINFERENCE_SPAN_KIND));
    assert!(!has(&s, c::GEN_AI_SYSTEM));
}
