//! The embedded default: spans written as OTLP/JSON lines and read back.

use aitrace::insight::tracefile;
use aitrace::{Exporter, Telemetry};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

#[test]
fn the_trace_file_holds_otlp_json_with_the_span() {
    let dir = std::env::temp_dir().join(format!("aitrace-setup-file-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = Telemetry::builder()
        .service_name("file-test")
        .exporter(Exporter::File { dir: dir.clone() })
        .log_layer(false)
        .print_tree(false)
        .init()
        .expect("setup");
    assert!(guard.is_enabled());
    let path = guard.trace_file().expect("a trace file").to_path_buf();
    {
        let root = tracing::info_span!("invoke_agent planner");
        let _r = root.enter();
        let child = tracing::info_span!(
            "chat gpt-4o",
            gen_ai.operation.name = "chat",
            gen_ai.request.model = "gpt-4o",
            gen_ai.usage.input_tokens = 12i64,
            gen_ai.usage.output_tokens = 3i64
        );
        let _c = child.enter();
    }
    assert_eq!(guard.shutdown().as_deref(), Some(path.as_path()));

    // Every line parses as an OTLP ExportTraceServiceRequest.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut names = Vec::new();
    for line in text.lines() {
        let req: ExportTraceServiceRequest = serde_json::from_str(line).expect("OTLP JSON");
        for rs in &req.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .unwrap()
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name");
            assert!(format!("{service:?}").contains("file-test"));
            for ss in &rs.scope_spans {
                names.extend(ss.spans.iter().map(|s| s.name.clone()));
            }
        }
    }
    names.sort();
    assert_eq!(names, ["chat gpt-4o", "invoke_agent planner"]);
    // The OTLP JSON encoding: hex ids, camelCase, 64-bit ints as strings.
    assert!(text.contains("\"traceId\":\"") && text.contains("\"startTimeUnixNano\":\""));

    let spans = tracefile::read_file(&path).unwrap();
    let chat = spans.iter().find(|s| s.name == "chat gpt-4o").unwrap();
    let agent = spans
        .iter()
        .find(|s| s.name.starts_with("invoke_agent"))
        .unwrap();
    assert_eq!(chat.parent_span_id, agent.span_id);
    assert_eq!(chat.trace_id, agent.trace_id);
    assert_eq!(
        chat.attr("gen_ai.usage.input_tokens")
            .and_then(|v| v.as_i64()),
        Some(12)
    );
    let tree = aitrace::insight::tree::render_spans(&spans);
    assert!(tree.contains("invoke_agent planner"), "{tree}");
    assert!(
        tree.contains("└─ chat gpt-4o") && tree.contains("tokens=12in/3out"),
        "{tree}"
    );
    assert!(
        tree.contains("totals: 1 LLM call(s), 12 input + 3 output tokens"),
        "{tree}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
