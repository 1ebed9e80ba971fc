//! A real rig agent (rig-core, rig-agent, rig-reqwest 0.44), unmodified, traced by
//! AITrace with the recommended setup (`aitrace_examples::rig_demo`): the model calls
//! go through `GenAiMiddleware` + `ClientMiddleware` (rig-reqwest's middleware
//! client), rig's `chat` spans are filtered out of export, rig's `execute_tool` spans
//! kept. Against a local provider speaking the OpenAI Chat Completions and Anthropic
//! Messages wire formats, blocking and streamed, with a tool call and a second turn.
//!
//! Checked on the trace file the real pipeline writes: one trace per question, the
//! agent span at its root, two LLM call spans with tokens, cached tokens, cost, finish
//! reasons and (streamed) time to first chunk, rig's tool span with the tool's HTTP
//! call under it, no error or cancellation anywhere, no duplicated `chat` span, and
//! the run totals equal to what the file's reader adds up.

use std::time::Duration;

use aitrace::core::conventions as c;
use aitrace::insight::tracefile::{self, SpanRecord};
use aitrace::insight::{CostReport, Trace};
use aitrace::{Exporter, Telemetry};
use aitrace_examples::demo;
use aitrace_examples::rig_demo::{self, Provider, RIG_SPAN_FILTER};

fn int(s: &SpanRecord, key: &str) -> i64 {
    s.attr(key)
        .and_then(|v| v.as_i64())
        .unwrap_or_else(|| panic!("{} has no {key}: {:?}", s.name, s.attributes))
}

fn finish_reasons(s: &SpanRecord) -> Vec<String> {
    match s.attr(c::GEN_AI_RESPONSE_FINISH_REASONS) {
        Some(aitrace::insight::tracefile::AttrValue::Array(v)) => v
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        other => panic!("{}: finish reasons {other:?}", s.name),
    }
}

struct Asked {
    which: Provider,
    streamed: bool,
    answer: String,
    totals: aitrace::core::run::RunTotals,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rig_agent_is_one_trace_with_our_llm_spans_and_rigs_tool_spans() {
    let dir = std::env::temp_dir().join(format!("aitrace-rig-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = Telemetry::builder()
        .service_name("rig-e2e")
        .exporter(Exporter::File { dir: dir.clone() })
        .span_filter(RIG_SPAN_FILTER)
        .log_layer(false)
        .metrics(false)
        .logs(false)
        .print_tree(false)
        .init()
        .expect("telemetry setup");
    let provider = rig_demo::start_provider().await.unwrap();
    let weather = demo::weather::start().await.unwrap();

    let mut asked = Vec::new();
    for which in [Provider::OpenAi, Provider::Anthropic] {
        let agent = rig_demo::weather_agent(which, provider, weather);
        let (answer, totals) = tokio::time::timeout(
            Duration::from_secs(20),
            rig_demo::ask(&agent, "What is the weather in Tokyo?"),
        )
        .await
        .expect("in time")
        .expect("the agent answers");
        asked.push(Asked {
            which,
            streamed: false,
            answer,
            totals,
        });
        let (answer, totals) = tokio::time::timeout(
            Duration::from_secs(20),
            rig_demo::ask_streaming(&agent, "What is the weather in Oslo?"),
        )
        .await
        .expect("in time")
        .expect("the agent answers, streamed");
        asked.push(Asked {
            which,
            streamed: true,
            answer,
            totals,
        });
    }
    let file = tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .expect("a trace file");
    let spans = tracefile::read_file(&file).expect("the trace file reads back");
    let traces = Trace::group(spans);
    assert_eq!(traces.len(), asked.len(), "one trace per question");

    for (trace, asked) in traces.iter().zip(&asked) {
        let what = format!("{:?} streamed={}", asked.which, asked.streamed);
        let city = if asked.streamed { "Oslo" } else { "Tokyo" };
        assert!(asked.answer.contains(city), "{what}: {}", asked.answer);
        let names: Vec<(usize, &str)> = trace
            .spans
            .iter()
            .map(|s| (s.depth, s.span.name.as_str()))
            .collect();
        let model = match asked.which {
            Provider::OpenAi => rig_demo::OPENAI_MODEL,
            Provider::Anthropic => rig_demo::ANTHROPIC_MODEL,
        };
        let chat = format!("chat {model}");
        // The coherent tree: our agent span, the span rig adopted, our LLM call spans
        // (each with its HTTP span), rig's tool span with the tool's HTTP call.
        assert_eq!(
            names,
            [
                (0, "invoke_agent rig-weather-agent"),
                (1, "rig agent loop"),
                (2, chat.as_str()),
                (3, "POST"),
                (2, "execute_tool"),
                (3, "GET /weather/{city}"),
                (4, "GET /weather/{city}"),
                (2, chat.as_str()),
                (3, "POST"),
            ],
            "{what}"
        );
        for s in &trace.spans {
            assert_ne!(
                s.span.status_code,
                2,
                "{what}: {} failed: {} {:?}",
                s.span.name,
                s.span.status_message,
                s.span.attr(c::ERROR_TYPE)
            );
            assert!(
                s.span.attr(c::AITRACE_CANCELLED).is_none(),
                "{what}: {} cancelled",
                s.span.name
            );
            assert!(!s.orphan, "{what}: {} is an orphan", s.span.name);
        }
        let calls: Vec<&SpanRecord> = trace
            .spans
            .iter()
            .map(|s| &s.span)
            .filter(|s| s.is_inference())
            .collect();
        assert_eq!(calls.len(), 2, "{what}: no rig chat span is exported");
        let expected_reasons = match asked.which {
            Provider::OpenAi => [["tool_calls"], ["stop"]],
            Provider::Anthropic => [["tool_use"], ["end_turn"]],
        };
        for (call, reasons) in calls.iter().zip(expected_reasons) {
            assert!(int(call, c::GEN_AI_USAGE_INPUT_TOKENS) > 0, "{what}");
            assert!(int(call, c::GEN_AI_USAGE_OUTPUT_TOKENS) > 0, "{what}");
            assert!(
                int(call, c::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) > 0,
                "{what}"
            );
            assert!(call.attr(c::GEN_AI_USAGE_COST).is_some(), "{what}: priced");
            assert_eq!(finish_reasons(call), reasons, "{what}");
            assert_eq!(
                call.attr(c::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK).is_some(),
                asked.streamed,
                "{what}: time to first chunk only when streamed"
            );
        }
        let tool = trace
            .spans
            .iter()
            .find(|s| s.span.name == "execute_tool")
            .unwrap();
        assert_eq!(tool.span.attr_str(c::GEN_AI_TOOL_NAME), Some("get_weather"));
        // The file's reader and the run agree: each call counted once.
        let report = CostReport::new(std::slice::from_ref(trace));
        assert_eq!(report.total.llm_calls, 2, "{what}");
        assert_eq!(asked.totals.llm_calls, 2, "{what}");
        assert_eq!(
            report.total.input_tokens, asked.totals.usage.input_tokens,
            "{what}"
        );
        assert_eq!(
            report.total.output_tokens, asked.totals.usage.output_tokens,
            "{what}"
        );
        assert_eq!(report.total.cost, Some(asked.totals.cost), "{what}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
