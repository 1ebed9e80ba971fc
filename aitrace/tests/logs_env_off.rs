//! `OTEL_LOGS_EXPORTER=none` turns the logs pipeline off, traces stay on. Alone in its
//! test binary (it sets a variable and installs the global subscriber).

use aitrace::{Exporter, Telemetry};

#[test]
fn otel_logs_exporter_none_installs_no_logger() {
    std::env::set_var("OTEL_LOGS_EXPORTER", "none");
    let dir = std::env::temp_dir().join(format!("aitrace-logs-off-{}", std::process::id()));
    let guard = Telemetry::builder()
        .exporter(Exporter::File { dir: dir.clone() })
        .log_layer(false)
        .print_tree(false)
        .init()
        .expect("setup");
    assert!(guard.tracer_provider().is_some());
    assert!(guard.logger_provider().is_none());
    assert!(guard.log_file().is_none());
    {
        let _s = tracing::info_span!("work").entered();
        tracing::info!("not exported as a log record");
    }
    drop(guard);
    let files: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().any(|f| f.starts_with("trace-")), "{files:?}");
    assert!(!files.iter().any(|f| f.starts_with("logs-")), "{files:?}");
    std::fs::remove_dir_all(&dir).ok();
}
