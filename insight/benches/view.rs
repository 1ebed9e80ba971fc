//! The viewer's server on a 100k-span file (1,000 traces x 100 spans, the `insight`
//! bench's synthetic OTLP JSON): cold start to a listed index, opening a trace, and
//! list queries with filters and with a text search. Every number is an HTTP round
//! trip to a real viewer on loopback.
//!
//! Run: `cargo bench -p aitrace-insight --features view --bench view`.

#[path = "../tests/support/synthetic.rs"]
mod synthetic;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aitrace_insight::view::{ViewOptions, Viewer};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::Value;

/// A viewer running on a runtime in a thread of its own; stopped when dropped.
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(input: PathBuf) -> Running {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let viewer = Viewer::bind(ViewOptions::new(vec![input]))
                    .await
                    .expect("bind");
                tx.send(viewer.local_addr()).expect("the bench waits");
                let serving = tokio::spawn(viewer.run());
                let _ = stopped.await;
                serving.abort();
            });
        });
        let addr = rx.recv().expect("the viewer binds");
        Running {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn get(&self, path: &str) -> Value {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .expect("write");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response");
        assert!(raw.starts_with(b"HTTP/1.1 200"), "{path}");
        serde_json::from_slice(&raw[split + 4..]).expect("JSON")
    }

    /// Waits for the first indexing pass, then lists: the cold start.
    fn wait_listed(&self) -> Value {
        loop {
            let list = self.get("/api/traces?limit=50");
            if list["ready"] == true {
                return list;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The synthetic file's first `traces` trace ids, in hex.
fn hex_ids(traces: u64) -> Vec<String> {
    (0..traces)
        .map(|t| {
            synthetic::trace_id(t)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let measuring = std::env::args().any(|a| a == "--bench");
    let (traces, name) = if measuring {
        (1_000, "aitrace-view-bench-100k.jsonl")
    } else {
        (10, "aitrace-view-bench-test-1k.jsonl")
    };
    let path = std::env::temp_dir().join(name);
    let expected = synthetic::write_file(&path, traces, 100);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

    let started = Instant::now();
    let viewer = Running::start(path.clone());
    let list = viewer.wait_listed();
    let cold = started.elapsed();
    assert_eq!(list["total"], expected.traces);
    let stats = viewer.get("/api/stats");
    assert_eq!(stats["spans"], expected.spans);
    eprintln!(
        "view bench file: {} ({:.1} MB, {} spans); first cold start {cold:.2?}; index {} KiB",
        path.display(),
        size as f64 / 1e6,
        expected.spans,
        stats["index_bytes"].as_u64().unwrap_or(0) / 1024,
    );
    let ids = hex_ids(traces);

    let mut group = c.benchmark_group("view");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if measuring { 10 } else { 1 }));
    group.bench_function("cold start to list ready (100k spans)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let fresh = Running::start(path.clone());
                let list = fresh.wait_listed();
                total += started.elapsed();
                assert_eq!(list["total"], expected.traces);
            }
            total
        })
    });
    let mut next = 0usize;
    group.bench_function("open a trace (100 spans, not cached)", |b| {
        b.iter(|| {
            // A different trace each time: the server keeps only a few parsed.
            next = (next + 17) % ids.len();
            let trace = viewer.get(&format!("/api/traces/{}", ids[next]));
            assert_eq!(trace["spans"].as_array().map(Vec::len), Some(100));
        })
    });
    group.bench_function("list: errors, cost and duration filters, by cost", |b| {
        b.iter(|| viewer.get("/api/traces?errors=1&min_cost=0&max_ms=100000&sort=cost&order=desc"))
    });
    // Five needles in turn: more than the server keeps answers for, so every search
    // reads the file.
    let needles = [
        "execute_tool%20search",
        "chat",
        "planner",
        "search",
        "gen_ai.usage",
    ];
    let mut turn = 0usize;
    group.bench_function(
        "list: text search over every span (uncached, all match)",
        |b| {
            b.iter(|| {
                turn = (turn + 1) % needles.len();
                let list = viewer.get(&format!("/api/traces?q={}&limit=10", needles[turn]));
                assert_eq!(list["total"], expected.traces);
            })
        },
    );
    group.bench_function(
        "list: the same search again, sorted by cost (cached)",
        |b| {
            b.iter(|| {
                let list = viewer.get("/api/traces?q=execute_tool%20search&sort=cost&limit=10");
                assert_eq!(list["total"], expected.traces);
            })
        },
    );
    group.finish();

    // Big traces: 10 traces of 10k spans (more than the server keeps parsed), opened
    // in turn. The time per span should match the 100-span traces' (no work per pair of
    // spans).
    let (big_traces, big_spans) = if measuring {
        (10u64, 10_000u64)
    } else {
        (10, 50)
    };
    let big_path = std::env::temp_dir().join(if measuring {
        "aitrace-view-bench-big-traces.jsonl"
    } else {
        "aitrace-view-bench-test-big-traces.jsonl"
    });
    synthetic::write_file(&big_path, big_traces, big_spans);
    let big = Running::start(big_path);
    assert_eq!(big.wait_listed()["total"], big_traces);
    let big_ids = hex_ids(big_traces);
    let mut group = c.benchmark_group("view_big_traces");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if measuring { 10 } else { 1 }));
    let mut turn = 0usize;
    group.bench_function("open a 10k-span trace (not cached)", |b| {
        b.iter(|| {
            turn = (turn + 1) % big_ids.len();
            let trace = big.get(&format!("/api/traces/{}", big_ids[turn]));
            assert_eq!(
                trace["spans"].as_array().map(Vec::len),
                Some(big_spans as usize)
            );
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
