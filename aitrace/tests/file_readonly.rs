//! A trace directory that cannot be created or written does not stop the application:
//! `init()` falls back to a directory under the system's temporary directory (and
//! warns); `strict_trace_dir(true)` makes it an error.

use aitrace::{Exporter, SetupError, Telemetry};

#[test]
fn an_unwritable_trace_directory_falls_back_unless_strict() {
    // A directory below a regular file can be neither created nor written, even as root.
    let blocker = std::env::temp_dir().join(format!("aitrace-ro-{}", std::process::id()));
    std::fs::write(&blocker, b"not a directory").unwrap();
    let dir = blocker.join("traces");
    let builder = || {
        Telemetry::builder()
            .service_name("readonly")
            .exporter(Exporter::File { dir: dir.clone() })
            .install_subscriber(false)
            .metrics(false)
            .print_tree(false)
    };
    match builder().strict_trace_dir(true).init() {
        Err(SetupError::TraceFile { dir: d, .. }) => assert_eq!(d, dir),
        other => panic!(
            "strict: expected a TraceFile error, got {:?}",
            other.map(|_| ())
        ),
    }
    let guard = builder()
        .init()
        .expect("not strict: telemetry must not fail the app");
    let file = guard
        .trace_file()
        .expect("a fallback trace file")
        .to_path_buf();
    assert!(
        file.starts_with(std::env::temp_dir().join("aitrace-traces")),
        "{file:?}"
    );
    drop(guard);
    let _ = std::fs::remove_file(&blocker);
}
