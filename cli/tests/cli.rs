//! The `aitrace` binary end to end, on files written by the real file exporter.

#[path = "../../insight/tests/support/demo.rs"]
mod demo;
#[path = "../../insight/tests/support/synthetic.rs"]
mod synthetic;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use serde_json::Value;

fn aitrace(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aitrace"))
        .args(args)
        .current_dir(dir)
        .env_remove("AITRACE_TRACE_DIR")
        .env_remove("NO_COLOR")
        .output()
        .expect("run aitrace")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// The demo run in `dir/traces`, the search service's file made the older one.
fn setup(name: &str) -> (std::path::PathBuf, demo::Demo) {
    let dir = demo::temp_dir(name);
    let demo = demo::write(&dir.join("traces"));
    let older = SystemTime::now() - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&demo.search_file)
        .and_then(|f| f.set_modified(older))
        .expect("set mtime");
    (dir, demo)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn tree_of_two_files_is_plain_text_when_piped() {
    let (dir, demo) = setup("cli-tree");
    let out = aitrace(
        &[
            "tree",
            path(&demo.agent_file),
            path(&demo.search_file),
            "--width",
            "20",
        ],
        &dir,
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains('\x1b'), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "trace {}  2026-01-01T00:00:00.000Z",
            demo.trace_id
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("└─ invoke_agent planner    ████████████████████   100.0ms"),
        "{stdout}"
    );
    assert!(
        stdout.contains("│  └─ GET                       ████████        38.0ms  ERROR(504)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("totals: 2 LLM call(s), 1700 input + 420 output tokens"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn color_only_when_asked_or_on_a_terminal() {
    let (dir, demo) = setup("cli-color");
    let out = aitrace(&["tree", "--color", "always", path(&demo.agent_file)], &dir);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("\x1b[31mexecute_tool search\x1b[0m"));
    let out = aitrace(&["tree", "--color=never", path(&demo.agent_file)], &dir);
    assert!(!text(&out.stdout).contains('\x1b'));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_directory_means_its_newest_trace_file_or_all_of_them() {
    let (dir, _demo) = setup("cli-dir");
    // No input: ./traces, newest file (the agent service's): the GET span is not there.
    let out = aitrace(&["tree"], &dir);
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("5 span(s)  agent-svc") && !stdout.contains("GET"),
        "{stdout}"
    );

    let out = aitrace(&["tree", "traces", "--all"], &dir);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("6 span(s)") && stdout.contains("GET"),
        "{stdout}"
    );

    // An empty file, newer than the others (a run that recorded nothing, written by an
    // older version), is skipped: the newest file with spans is read.
    let empty = dir
        .join("traces")
        .join("trace-empty-run-99999999999999-1.jsonl");
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&empty, "").expect("empty file");
    let out = aitrace(&["tree"], &dir);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(&out.stdout).contains("5 span(s)  agent-svc"),
        "{out:?}"
    );
    std::fs::remove_file(&empty).ok();

    // $AITRACE_TRACE_DIR, from anywhere.
    let out = Command::new(env!("CARGO_BIN_EXE_aitrace"))
        .args(["cost", "--json"])
        .current_dir(std::env::temp_dir())
        .env("AITRACE_TRACE_DIR", dir.join("traces"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let (dir, demo) = setup("cli-stdin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aitrace"))
        .args(["cost", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = std::fs::read(&demo.agent_file).expect("read");
    input.extend(std::fs::read(&demo.search_file).expect("read"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["total"]["llm_calls"], 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cost_json_parses_back_and_the_table_reads() {
    let (dir, demo) = setup("cli-cost");
    let out = aitrace(&["cost", "--json", "traces", "--all"], &dir);
    assert!(out.status.success(), "{out:?}");
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["trace_count"], 1);
    assert_eq!(json["total"]["llm_calls"], 2);
    assert_eq!(json["total"]["input_tokens"], 1700);
    assert_eq!(json["total"]["output_tokens"], 420);
    assert_eq!(json["total"]["cache_read_input_tokens"], 1000);
    assert_eq!(json["total"]["cost_usd"], 0.0045);
    assert_eq!(json["total"]["unpriced_calls"], 1);
    assert_eq!(json["traces"][0]["trace_id"], demo.trace_id.as_str());
    assert_eq!(json["traces"][0]["failed_spans"], 2);
    assert_eq!(json["agent_runs"][0]["agent"], "planner");
    assert_eq!(json["agent_runs"][0]["llm_calls"], 2);
    assert_eq!(json["models"].as_array().map(Vec::len), Some(2));
    assert_eq!(json["providers"][0]["provider"], "openai");

    let out = aitrace(&["cost", "traces", "--all"], &dir);
    let table = text(&out.stdout);
    for heading in ["by trace", "by agent run", "by model", "by provider"] {
        assert!(table.contains(&format!("{heading}\n")), "{table}");
    }
    assert!(
        table.contains("openai    gpt-4o-2024-08-06      1"),
        "{table}"
    );
    assert!(table.contains("unknown"), "{table}");
    assert!(
        table.ends_with("total: 1 trace(s), 2 LLM call(s), 1700 input + 420 output tokens (1000 cached), $0.004500 (+1 unpriced)\n"),
        "{table}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn chrome_export_to_a_file_parses_back() {
    let (dir, demo) = setup("cli-chrome");
    let out = aitrace(
        &["export", "--chrome", "-o", "trace.json", "traces", "--all"],
        &dir,
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.join("trace.json")).expect("written"))
            .expect("JSON");
    let events = json["traceEvents"].as_array().expect("events");
    let spans: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(spans.len(), 6);
    assert!(spans.iter().all(|e| e["ts"].is_u64()
        && e["dur"].is_u64()
        && e["args"]["trace_id"] == demo.trace_id.as_str()));
    let processes: Vec<&str> = events
        .iter()
        .filter(|e| e["name"] == "process_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    assert_eq!(processes, ["agent-svc", "search-svc"]);
    // Every attribute and event, not only those `tree` and `cost` read.
    assert!(spans
        .iter()
        .any(|e| e["args"]["some.vendor.attribute"] == "kept"));
    assert!(events
        .iter()
        .any(|e| e["name"] == "retrying" && e["args"]["attempt"] == 2));

    // Standard output too.
    let out = aitrace(&["export", "--chrome", path(&demo.agent_file)], &dir);
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["otherData"]["spans"], 5);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn filters_from_the_command_line() {
    let (dir, demo) = setup("cli-filters");
    let run = |args: &[&str]| {
        let mut all = vec!["tree", "traces", "--all"];
        all.extend_from_slice(args);
        let out = aitrace(&all, &dir);
        assert!(out.status.success(), "{args:?}: {out:?}");
        (text(&out.stdout), text(&out.stderr))
    };
    let (out, _) = run(&["--errors"]);
    assert!(
        out.contains("ERROR(timeout)") && !out.contains("chat"),
        "{out}"
    );
    let (out, _) = run(&["--name", "fetch"]);
    assert!(
        out.contains("execute_tool fetch") && !out.contains("search"),
        "{out}"
    );
    let (out, _) = run(&["--trace", &demo.trace_id[..8]]);
    assert!(out.contains("6 span(s)"), "{out}");
    let (out, err) = run(&["--trace", "ffff"]);
    assert!(
        out.is_empty() && err.contains("no span matches the filters"),
        "{err}"
    );
    let (out, _) = run(&[
        "--since",
        "2026-01-01T00:00:00.082Z",
        "--until",
        "2026-01-01T01:00:00.095+01:00",
    ]);
    assert!(
        out.contains("3 span(s)") && out.contains("chat local-llama"),
        "{out}"
    );
    let (out, _) = run(&["--until", "1767225600004000000"]);
    assert!(out.contains("1 span(s)"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_truncated_file_is_read_with_a_warning() {
    let (dir, demo) = setup("cli-truncated");
    let text_in = std::fs::read_to_string(&demo.agent_file).expect("read");
    std::fs::write(&demo.agent_file, &text_in[..text_in.len() - 40]).expect("cut");
    let out = aitrace(&["tree", path(&demo.agent_file)], &dir);
    assert!(out.status.success(), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("skipped 1 of 5 line(s) that are not OTLP/JSON (line 5: not OTLP/JSON: EOF while parsing")
            && stderr.contains("the last line is cut short"),
        "{stderr}"
    );
    assert_eq!(text(&out.stdout).matches("(orphan)").count(), 4);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn usage_errors_exit_2_and_unreadable_inputs_exit_1() {
    let dir = demo::temp_dir("cli-errors");
    for (args, says) in [
        (&["tree", "--bogus"][..], "unknown option \"--bogus\""),
        (&["tree", "--since"][..], "--since needs a value"),
        (&["tree", "--since", "last week"][..], "RFC 3339"),
        (&["export"][..], "export --chrome"),
        (&["destroy"][..], "unknown command"),
        (&[][..], "no command"),
    ] {
        let out = aitrace(args, &dir);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(says) && stderr.contains("aitrace --help"),
            "{args:?}: {stderr}"
        );
    }
    for (args, says) in [
        (&["tree", "missing.jsonl"][..], "cannot read missing.jsonl"),
        (&["tree"][..], "no trace directory traces"),
        (&["cost", "."][..], "no non-empty trace-*.jsonl file in ."),
    ] {
        let out = aitrace(args, &dir);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    std::fs::write(dir.join("t.jsonl"), "").expect("write");
    let out = aitrace(&["cost", "t.jsonl", "-o", "no/such/dir/out.txt"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot create no/such/dir/out.txt"));
    // An empty file is not an error: nothing to show.
    let out = aitrace(&["tree", "t.jsonl"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("no spans in the input"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn help_and_version() {
    let dir = std::env::temp_dir();
    let out = aitrace(&["--help"], &dir);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("USAGE:\n    aitrace <COMMAND> [OPTIONS] [INPUT...]"));
    let out = aitrace(&["-V"], &dir);
    assert_eq!(
        text(&out.stdout),
        format!("aitrace {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = demo::temp_dir("cli-pipe");
    let file = dir.join("big.jsonl");
    synthetic::write_file(&file, 200, 50);
    let mut child = Command::new(env!("CARGO_BIN_EXE_aitrace"))
        .args(["tree", path(&file)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).ok();
}
