//! The demo's path end to end: one-call setup with the file exporter (the global
//! subscriber, so alone in its test binary), `tracing` spans like the quickstart's, then
//! the trace file read back into a tree and a cost report.

use aitrace::insight::tracefile;
use aitrace::insight::{tree, CostReport, Filter};
use aitrace::{Exporter, Telemetry};

#[test]
fn a_run_through_setup_reads_back_as_tree_and_cost() {
    let dir = std::env::temp_dir().join(format!("aitrace-insight-setup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = Telemetry::builder()
        .service_name("insight-setup")
        .exporter(Exporter::File { dir: dir.clone() })
        .log_layer(false)
        .print_tree(false)
        .metrics(false)
        .init()
        .expect("setup");
    let path = guard.trace_file().expect("a trace file").to_path_buf();
    {
        let agent = tracing::info_span!("invoke_agent planner");
        let _a = agent.enter();
        for model in ["gpt-4o-mini", "gpt-4o"] {
            let call = tracing::info_span!(
                "llm",
                otel.name = format!("chat {model}"),
                otel.kind = "client",
                gen_ai.operation.name = "chat",
                gen_ai.provider.name = "openai",
                gen_ai.request.model = model,
                gen_ai.usage.input_tokens = 1250i64,
                gen_ai.usage.output_tokens = 320i64,
                gen_ai.usage.cost = 0.000303,
            );
            let _c = call.enter();
            tracing::info!("the model answered");
        }
        let tool = tracing::info_span!(
            "tool",
            otel.name = "execute_tool search",
            gen_ai.operation.name = "execute_tool",
            otel.status_code = "error",
            error.type = "timeout",
        );
        let _t = tool.enter();
    }
    assert_eq!(guard.shutdown().as_deref(), Some(path.as_path()));

    let read = tracefile::read_file_with_stats(&path).expect("readable");
    assert_eq!(read.stats.bad_lines, 0);
    assert_eq!(read.spans.len(), 4);
    let traces = Filter::default().apply(read.spans);
    assert_eq!(traces.len(), 1);
    let out = tree::render(&traces, &tree::TreeOptions::default());
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].ends_with("4 span(s)  insight-setup"), "{out}");
    assert!(lines[1].starts_with("└─ invoke_agent planner "), "{out}");
    assert!(lines[2].starts_with("   ├─ chat gpt-4o-mini "), "{out}");
    assert!(
        lines[2].contains("model=gpt-4o-mini  tokens=1250in/320out  cost=$0.000303"),
        "{out}"
    );
    assert!(lines[3].starts_with("   ├─ chat gpt-4o "), "{out}");
    assert!(lines[4].starts_with("   └─ execute_tool search "), "{out}");
    assert!(lines[4].contains("ERROR(timeout)"), "{out}");
    assert_eq!(
        lines[5],
        "totals: 2 LLM call(s), 2500 input + 640 output tokens, $0.000606"
    );

    let report = CostReport::new(&traces);
    assert_eq!(report.total.llm_calls, 2);
    assert_eq!(report.agent_runs.len(), 1);
    assert_eq!(report.models.len(), 2);
    assert_eq!(report.traces[0].failed_spans, 1);
    std::fs::remove_dir_all(&dir).ok();
}
