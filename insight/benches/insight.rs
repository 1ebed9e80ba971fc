//! Trace insight on a 100k-span file (1,000 traces x 100 spans, OTLP JSON as the file
//! exporter writes it): read, `tree`, `cost` and Chrome export, end to end from the file
//! to the rendered output (written to a sink), as the `aitrace` command runs them.
//!
//! Run: `cargo bench -p aitrace-insight --bench insight`. The file stays in the temp dir
//! (`aitrace-insight-bench-100k.jsonl`) for timing the binary too.

#[path = "../tests/support/synthetic.rs"]
mod synthetic;

use std::hint::black_box;
use std::io::BufReader;
use std::path::Path;
use std::time::Duration;

use aitrace_insight::tracefile::{self, LineSpans, SpanReader};
use aitrace_insight::{chrome, tree, CostReport, Filter, Trace};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

/// What of each span a report reads: what `tree` and `cost` read, or everything
/// (`export`), as the command reads them.
#[derive(Clone, Copy)]
enum Fields {
    Reports,
    All,
}

fn reader(path: &Path, fields: Fields) -> SpanReader<BufReader<std::fs::File>> {
    let file = std::fs::File::open(path).expect("open");
    let reader = SpanReader::new(BufReader::with_capacity(256 * 1024, file));
    match fields {
        Fields::Reports => reader.for_reports(),
        Fields::All => reader,
    }
}

fn load(path: &Path, filter: &Filter, fields: Fields) -> Vec<Trace> {
    filter.apply(reader(path, fields))
}

fn bench(c: &mut Criterion) {
    // `cargo test --all-targets` runs each bench once (no `--bench` flag): a small file
    // is enough to check that they work.
    let measuring = std::env::args().any(|a| a == "--bench");
    let (traces, name) = if measuring {
        (1_000, "aitrace-insight-bench-100k.jsonl")
    } else {
        (10, "aitrace-insight-bench-test-1k.jsonl")
    };
    let path = std::env::temp_dir().join(name);
    let expected = synthetic::write_file(&path, traces, 100);
    assert_eq!(expected.spans, traces * 100);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "insight bench file: {} ({:.1} MB, {} spans)",
        path.display(),
        size as f64 / 1e6,
        expected.spans
    );
    let all = Filter::default();

    let mut group = c.benchmark_group("insight_100k_spans");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    group.bench_function("read", |b| {
        b.iter(|| black_box(reader(&path, Fields::All).count()))
    });
    group.bench_function("read, report attributes", |b| {
        b.iter(|| black_box(reader(&path, Fields::Reports).count()))
    });
    group.bench_function("read, 1 thread", |b| {
        b.iter(|| {
            let file = std::fs::File::open(&path).expect("open");
            let reader = SpanReader::new(BufReader::with_capacity(256 * 1024, file)).threads(1);
            black_box(reader.count())
        })
    });
    for (name, fields) in [
        ("tree", Fields::Reports),
        ("tree, every attribute", Fields::All),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let traces = load(&path, &all, fields);
                let options = tree::TreeOptions::default();
                tree::write_tree(&mut std::io::sink(), &traces, &options).expect("render");
                black_box(traces.len())
            })
        });
    }
    group.bench_function("cost_table_and_json", |b| {
        b.iter(|| {
            let traces = load(&path, &all, Fields::Reports);
            let report = CostReport::new(&traces);
            report.write_table(&mut std::io::sink()).expect("render");
            black_box(report.to_json().len())
        })
    });
    group.bench_function("chrome_export", |b| {
        b.iter(|| {
            let traces = load(&path, &all, Fields::All);
            chrome::write_chrome(&mut std::io::sink(), &traces).expect("render");
            black_box(traces.len())
        })
    });
    group.bench_function("tree_one_trace_of_100k", |b| {
        let one = Filter {
            trace_id: Some("abababababababab00000000000001f4".into()),
            ..Filter::default()
        };
        b.iter(|| {
            let traces = load(&path, &one, Fields::Reports);
            tree::write_tree(&mut std::io::sink(), &traces, &tree::TreeOptions::default())
                .expect("render");
            black_box(traces.len())
        })
    });
    group.finish();

    // 1M spans (886 MB), when asked: AITRACE_BENCH_1M=1.
    if measuring && std::env::var_os("AITRACE_BENCH_1M").is_some() {
        let big = std::env::temp_dir().join("aitrace-insight-bench-1m.jsonl");
        let expected = synthetic::write_file(&big, 10_000, 100);
        assert_eq!(expected.spans, 1_000_000);
        let mut group = c.benchmark_group("insight_1m_spans");
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(20));
        for name in ["tree", "cost_table_and_json"] {
            group.bench_function(name, |b| {
                b.iter(|| {
                    let traces = load(&big, &all, Fields::Reports);
                    if name == "tree" {
                        tree::write_tree(&mut std::io::sink(), &traces, &Default::default())
                            .expect("render");
                    } else {
                        let report = CostReport::new(&traces);
                        report.write_table(&mut std::io::sink()).expect("render");
                        black_box(report.to_json().len());
                    }
                    black_box(traces.len())
                })
            });
        }
        group.finish();
        std::fs::remove_file(&big).ok();
    }

    // The JSON readers compared on the same lines held in memory (no I/O): decoding
    // into opentelemetry-proto's types then converting (the reader before), and
    // decoding straight into span records with serde_json, sonic-rs and simd-json.
    let text = std::fs::read(&path).expect("read");
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let spans = |n: usize| assert_eq!(n as u64, expected.spans);
    let mut group = c.benchmark_group("decode_100k_spans");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("serde_json via opentelemetry-proto types", |b| {
        b.iter(|| {
            let mut n = 0;
            for line in &lines {
                let request: ExportTraceServiceRequest =
                    serde_json::from_slice(line).expect("decode");
                n += black_box(tracefile::spans_of(request)).len();
            }
            spans(n);
        })
    });
    group.bench_function("serde_json LineSpans", |b| {
        b.iter(|| {
            let mut n = 0;
            for line in &lines {
                let LineSpans(s) = serde_json::from_slice(line).expect("decode");
                n += black_box(s).len();
            }
            spans(n);
        })
    });
    group.bench_function("sonic-rs LineSpans", |b| {
        b.iter(|| {
            let mut n = 0;
            for line in &lines {
                let LineSpans(s) = sonic_rs::from_slice(line).expect("decode");
                n += black_box(s).len();
            }
            spans(n);
        })
    });
    group.bench_function("simd-json LineSpans", |b| {
        let mut buf = Vec::new();
        let mut buffers = simd_json::Buffers::default();
        b.iter(|| {
            let mut n = 0;
            for line in &lines {
                // simd-json decodes in place: the reader's own line buffer.
                buf.clear();
                buf.extend_from_slice(line);
                let LineSpans(s) =
                    simd_json::serde::from_slice_with_buffers(&mut buf, &mut buffers)
                        .expect("decode");
                n += black_box(s).len();
            }
            spans(n);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
