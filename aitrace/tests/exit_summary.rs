//! The summary at exit of a long run: the last few traces, totals over all of them, and
//! where the file is; from memory, however long the run. Alone in its test binary (the
//! global subscriber).

use aitrace::{Exporter, Telemetry};

#[test]
fn a_long_run_prints_the_last_traces_and_totals_over_all() {
    let dir = std::env::temp_dir().join(format!("aitrace-exit-summary-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = Telemetry::builder()
        .service_name("long-run")
        .exporter(Exporter::File { dir: dir.clone() })
        .log_layer(false)
        .logs(false)
        .metrics(false)
        .print_tree(false)
        .init()
        .expect("setup");
    for request in 0..40 {
        let root = tracing::info_span!("request", otel.name = format!("POST /ask {request}"));
        let _r = root.enter();
        let call = tracing::info_span!(
            "llm",
            otel.name = "chat gpt-4o-mini",
            gen_ai.operation.name = "chat",
            gen_ai.request.model = "gpt-4o-mini",
            gen_ai.usage.input_tokens = 100i64,
            gen_ai.usage.output_tokens = 10i64,
            gen_ai.usage.cost = 0.000021,
        );
        let _c = call.enter();
    }
    guard.flush();
    let summary = guard.summary().expect("a summary with the file exporter");
    let trees = summary
        .lines()
        .filter(|l| l.starts_with("trace ") && !l.starts_with("trace file"))
        .count();
    assert_eq!(trees, 3, "{summary}");
    // The newest traces, not the first ones.
    assert!(summary.contains("POST /ask 39"), "{summary}");
    assert!(!summary.contains("POST /ask 36 "), "{summary}");
    assert!(
        summary.contains("showing the last 3 of 40 traces (80 spans) since start"),
        "{summary}"
    );
    assert!(
        summary.contains("all traces: 40 LLM call(s), 4000 input + 400 output tokens, $0.000840"),
        "{summary}"
    );
    let path = guard.trace_file().expect("file").to_path_buf();
    assert!(
        summary.ends_with(&format!(
            "trace file: {} (read it with `aitrace tree`)",
            path.display()
        )),
        "{summary}"
    );
    drop(guard);
    std::fs::remove_dir_all(&dir).ok();
}
