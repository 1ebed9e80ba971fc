//! The live commands, run as the real binary: `aitrace view` (serves the trace
//! directory, prints its URL, warns about a non-loopback bind) and `aitrace tree
//! --follow` (redraws as spans arrive in the file).

#[path = "../../insight/tests/support/demo.rs"]
mod demo;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aitrace::FileSpanExporter;
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
#[cfg(feature = "view")]
use serde_json::Value;

/// A running `aitrace`; killed when dropped.
struct Running {
    child: Child,
    stdout: mpsc::Receiver<String>,
    #[cfg_attr(not(feature = "view"), allow(dead_code))]
    stderr: mpsc::Receiver<String>,
}

impl Running {
    fn start(args: &[&str], dir: &std::path::Path) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aitrace"))
            .args(args)
            .current_dir(dir)
            .env_remove("AITRACE_TRACE_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run aitrace");
        let stdout = lines(child.stdout.take().expect("piped"));
        let stderr = lines(child.stderr.take().expect("piped"));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// Output lines until one contains `needle` (all of them, joined).
    fn until(lines: &mpsc::Receiver<String>, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = String::new();
        while !seen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    seen.push_str(&line);
                    seen.push('\n');
                }
                Err(_) => panic!("no {needle:?} in the output: {seen}"),
            }
        }
        seen
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(out: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[cfg(feature = "view")]
fn get(host_port: &str, path: &str) -> Value {
    use std::io::Write as _;
    use std::net::TcpStream;
    let mut stream = TcpStream::connect(host_port).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).expect("JSON")
}

#[cfg(feature = "view")]
#[test]
fn view_serves_the_trace_directory_and_prints_its_url() {
    let dir = demo::temp_dir("cli-view");
    let demo = demo::write(&dir.join("traces"));
    let viewer = Running::start(&["view", "--bind", "0.0.0.0"], &dir);
    let warning = Running::until(&viewer.stderr, "not loopback");
    assert!(warning.contains("0.0.0.0"), "{warning}");
    let printed = Running::until(&viewer.stdout, "aitrace view: ");
    let url = printed
        .lines()
        .find_map(|l| l.strip_prefix("aitrace view: "))
        .expect("the URL");
    let host_port = url
        .strip_prefix("http://127.0.0.1:")
        .map(|rest| format!("127.0.0.1:{}", rest.trim_end_matches('/')))
        .unwrap_or_else(|| panic!("a loopback URL to open: {url}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let list = loop {
        let list = get(&host_port, "/api/traces");
        if list["ready"] == true || Instant::now() > deadline {
            break list;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["traces"][0]["trace_id"], demo.trace_id.as_str());
    assert_eq!(
        list["files"].as_array().map(Vec::len),
        Some(2),
        "both services' files"
    );
    assert_eq!(list["traces"][0]["spans"], 6);
}

#[cfg(feature = "view")]
#[test]
fn view_usage_errors_and_a_missing_directory() {
    let dir = demo::temp_dir("cli-view-errors");
    let out = Command::new(env!("CARGO_BIN_EXE_aitrace"))
        .args(["view"])
        .current_dir(&dir)
        .env_remove("AITRACE_TRACE_DIR")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no trace directory"));
    let out = Command::new(env!("CARGO_BIN_EXE_aitrace"))
        .args(["view", "--port", "http"])
        .current_dir(&dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("port number"));
}

#[test]
fn tree_follow_redraws_the_newest_trace_as_spans_arrive() {
    let dir = demo::temp_dir("cli-follow");
    let traces = dir.join("traces");
    std::fs::create_dir_all(&traces).unwrap();
    let exporter = FileSpanExporter::create_in(&traces, "follow-svc").expect("trace file");
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name("follow-svc")
                .build(),
        )
        .with_simple_exporter(exporter)
        .build();
    let tracer = provider.tracer("follow");
    let mut first = tracer.start("first step");
    first.end();
    provider.force_flush().unwrap();

    let follow = Running::start(&["tree", "--follow", "traces"], &dir);
    let drawn = Running::until(&follow.stdout, "first step");
    assert!(
        !drawn.contains('\x1b'),
        "plain text when not a terminal: {drawn:?}"
    );

    // The next spans of the same trace: the tree is drawn again with them.
    let cx = Context::current_with_span(tracer.start("agent run"));
    let mut child = tracer.start_with_context("chat gpt-4o", &cx);
    child.end();
    provider.force_flush().unwrap();
    let redrawn = Running::until(&follow.stdout, "chat gpt-4o");
    assert!(
        redrawn.contains("---"),
        "a separator between drawings: {redrawn}"
    );
    cx.span().end();
    provider.force_flush().unwrap();
    Running::until(&follow.stdout, "agent run");
}
