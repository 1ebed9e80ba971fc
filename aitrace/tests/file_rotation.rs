//! A long-running service's trace file rotates by size with a bounded number of parts
//! kept, and the readers read the kept set as one.

use aitrace::insight::tracefile;
use aitrace::{Exporter, Rotation, Telemetry};

#[test]
fn trace_files_rotate_by_size_and_read_back_as_one_set() {
    let dir = std::env::temp_dir().join(format!("aitrace-rotate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = Telemetry::builder()
        .service_name("rotate")
        .exporter(Exporter::File { dir: dir.clone() })
        .trace_file_rotation(Rotation {
            max_bytes: 4096,
            keep: 3,
        })
        .log_layer(false)
        .metrics(false)
        .print_tree(false)
        .init()
        .expect("setup");
    let first = guard.trace_file().expect("a trace file").to_path_buf();
    for i in 0..40 {
        let s = tracing::info_span!(
            "step",
            otel.name = format!("step {i:02}"),
            filler = "x".repeat(300)
        );
        drop(s.enter());
        drop(s);
        guard.flush();
    }
    drop(guard);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("trace-")
        })
        .collect();
    assert_eq!(files.len(), 3, "only `keep` parts kept: {files:?}");
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() <= 4096 + 2048, "{f:?}");
    }
    // The set, from any of its parts (the first part was deleted by rotation).
    let set = tracefile::rotated_set(&files[0]);
    assert_eq!(set.len(), 3);
    let mut names = Vec::new();
    for part in &set {
        let read = tracefile::parse_lines(std::fs::read(part).unwrap().as_slice());
        assert_eq!(read.stats.bad_lines, 0);
        names.extend(read.spans.into_iter().map(|s| s.name));
    }
    // The newest spans, in order, ending with the last one.
    assert_eq!(names.last().map(|n| n.as_str()), Some("step 39"));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "parts read oldest first");
    assert!(names.len() < 40, "the oldest parts were deleted");
    assert!(!first.exists(), "part 0 was the oldest");
    let _ = std::fs::remove_dir_all(&dir);
}
