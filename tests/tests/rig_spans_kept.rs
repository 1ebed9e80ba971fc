//! The same rig agent as `rig.rs`, with rig's own `chat` spans kept (no span filter):
//! each wraps our `chat {model}` span of the same call and reports the same usage.
//! AITrace's readers count each call once (the innermost of nested LLM spans), so the
//! file's totals still equal the run's. Alone in its binary (the global subscriber).

use std::time::Duration;

use aitrace::insight::tracefile;
use aitrace::insight::{CostReport, Trace};
use aitrace::{Exporter, Telemetry};
use aitrace_examples::demo;
use aitrace_examples::rig_demo::{self, Provider};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rigs_chat_spans_around_ours_are_not_counted_twice() {
    let dir = std::env::temp_dir().join(format!("aitrace-rig-kept-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = Telemetry::builder()
        .service_name("rig-e2e-kept")
        .exporter(Exporter::File { dir: dir.clone() })
        .span_filter("info")
        .log_layer(false)
        .metrics(false)
        .logs(false)
        .print_tree(false)
        .init()
        .expect("telemetry setup");
    let provider = rig_demo::start_provider().await.unwrap();
    let weather = demo::weather::start().await.unwrap();
    let mut runs = Vec::new();
    for (which, streamed) in [(Provider::OpenAi, false), (Provider::Anthropic, true)] {
        let agent = rig_demo::weather_agent(which, provider, weather);
        let asked = async {
            if streamed {
                rig_demo::ask_streaming(&agent, "What is the weather in Lisbon?").await
            } else {
                rig_demo::ask(&agent, "What is the weather in Lisbon?").await
            }
        };
        let (answer, totals) = tokio::time::timeout(Duration::from_secs(20), asked)
            .await
            .expect("in time")
            .expect("the agent answers");
        assert!(answer.contains("Lisbon"), "{answer}");
        runs.push(totals);
    }
    let file = tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .expect("a trace file");
    let traces = Trace::group(tracefile::read_file(&file).expect("reads back"));
    assert_eq!(traces.len(), 2);
    for (trace, totals) in traces.iter().zip(&runs) {
        let inference: Vec<(&str, usize)> = trace
            .spans
            .iter()
            .filter(|s| s.span.is_inference())
            .map(|s| (s.span.name.as_str(), s.depth))
            .collect();
        // rig's `chat` spans are there, each with ours one level below.
        let rigs = inference.iter().filter(|(n, _)| *n == "chat").count();
        assert_eq!(rigs, 2, "{inference:?}");
        assert_eq!(inference.len(), 4, "{inference:?}");
        for pair in inference.chunks(2) {
            assert_eq!(pair[0].0, "chat", "{inference:?}");
            assert!(pair[1].0.starts_with("chat "), "{inference:?}");
            assert_eq!(pair[1].1, pair[0].1 + 1, "{inference:?}");
        }
        // Blocking and streamed alike, every call ended normally: not failed, not
        // cancelled (a stream dropped at its terminal event once was).
        for s in &trace.spans {
            assert_ne!(
                s.span.status_code,
                2,
                "{} failed: {} {:?}",
                s.span.name,
                s.span.status_message,
                s.span.attr("error.type")
            );
            assert!(s.span.attr("error.type").is_none(), "{}", s.span.name);
            assert!(
                s.span.attr("aitrace.cancelled").is_none(),
                "{} cancelled",
                s.span.name
            );
        }
        let report = CostReport::new(std::slice::from_ref(trace));
        assert_eq!(report.total.llm_calls, 2, "each call once");
        assert_eq!(report.total.input_tokens, totals.usage.input_tokens);
        assert_eq!(report.total.output_tokens, totals.usage.output_tokens);
        assert_eq!(report.total.cost, Some(totals.cost));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
