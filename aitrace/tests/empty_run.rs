//! A run that records nothing leaves no file behind: files are created with their first
//! record. Alone in its test binary (the global subscriber).

use aitrace::{Exporter, Telemetry};

#[test]
fn a_run_without_spans_writes_no_file() {
    let dir = std::env::temp_dir().join(format!("aitrace-empty-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = Telemetry::builder()
        .service_name("empty-run")
        .exporter(Exporter::File { dir: dir.clone() })
        .log_layer(false)
        .print_tree(false)
        .init()
        .expect("setup");
    let path = guard.trace_file().expect("a trace file path").to_path_buf();
    assert_eq!(
        guard.summary().as_deref(),
        Some("aitrace: no spans were recorded, so no trace file was written")
    );
    assert_eq!(guard.shutdown().as_deref(), Some(path.as_path()));
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("the directory is created at setup")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "files left by an empty run: {left:?}");
    std::fs::remove_dir_all(&dir).ok();
}
