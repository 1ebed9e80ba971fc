//! The trace directory deleted mid-run: the exporter notices the file is gone (its
//! identity changed), recreates the directory and a new file, and the spans after the
//! deletion are there; nothing is written into the deleted file's handle.

use aitrace::insight::tracefile;
use aitrace::{Exporter, Telemetry};

fn span(name: &'static str) {
    let s = tracing::info_span!("work", otel.name = name);
    let _e = s.enter();
}

#[test]
fn a_deleted_trace_directory_is_recreated_and_later_spans_kept() {
    let dir = std::env::temp_dir().join(format!("aitrace-vanish-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = Telemetry::builder()
        .service_name("vanish")
        .exporter(Exporter::File { dir: dir.clone() })
        .log_layer(false)
        .metrics(false)
        .print_tree(false)
        .init()
        .expect("setup");
    let path = guard.trace_file().expect("a trace file").to_path_buf();
    span("before deletion");
    guard.flush();
    assert!(path.exists());
    std::fs::remove_dir_all(&dir).unwrap();
    span("after deletion");
    guard.flush();
    assert!(path.exists(), "a new file where the old one was");
    let read = tracefile::parse_lines(std::fs::read(&path).unwrap().as_slice());
    let names: Vec<_> = read.spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["after deletion"]);
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}
