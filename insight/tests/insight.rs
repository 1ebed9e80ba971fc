//! Trace insight on files written by the real file exporter, on hand-made edge cases
//! (truncated last line, orphans, a parent cycle, duplicates) and on a 10k-span file.

#[path = "support/demo.rs"]
mod demo;
#[path = "support/synthetic.rs"]
mod synthetic;

use std::collections::HashMap;
use std::path::Path;

use aitrace_core::cost::Cost;
use aitrace_insight::tracefile::{self, parse_lines, ReadStats, SpanReader, SpanRecord};
use aitrace_insight::{chrome, tree, CostReport, Filter, Trace};
use serde_json::Value;

fn read(paths: &[&Path]) -> (Vec<SpanRecord>, ReadStats) {
    let mut spans = Vec::new();
    let mut stats = ReadStats::default();
    for path in paths {
        let read = tracefile::read_file_with_stats(path).expect("readable");
        spans.extend(read.spans);
        stats.merge(&read.stats);
    }
    (spans, stats)
}

fn plain(traces: &[Trace]) -> String {
    tree::render(
        traces,
        &tree::TreeOptions {
            bar_width: 20,
            ..tree::TreeOptions::default()
        },
    )
}

/// Hand-made OTLP/JSON line: spans of (id, parent, name, start ns, end ns, attributes).
fn line(trace: &str, spans: &[(&str, &str, &str, u64, u64, &str)]) -> String {
    let spans: Vec<String> = spans
        .iter()
        .map(|(id, parent, name, start, end, attrs)| {
            format!(
                r#"{{"traceId":"{trace}","spanId":"{id}","parentSpanId":"{parent}","name":"{name}","kind":1,"startTimeUnixNano":"{start}","endTimeUnixNano":"{end}","attributes":[{attrs}]}}"#
            )
        })
        .collect();
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"hand"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    )
}

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CHAT: &str = r#"{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"10"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"2"}},{"key":"gen_ai.usage.cost","value":{"doubleValue":0.25}}"#;

#[test]
fn tree_of_an_exported_run_shows_waterfall_models_tokens_cost_and_errors() {
    let dir = demo::temp_dir("insight-tree");
    let demo = demo::write(&dir);
    let (spans, stats) = read(&[&demo.agent_file, &demo.search_file]);
    assert_eq!((stats.bad_lines, spans.len()), (0, 6), "{stats:?}");
    let traces = Filter::default().apply(spans);
    assert_eq!(traces.len(), 1);
    let out = plain(&traces);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "trace {}  2026-01-01T00:00:00.000Z  100.0ms  6 span(s)  agent-svc, search-svc",
            demo.trace_id
        )
    );
    let expected = [
        "└─ invoke_agent planner    ████████████████████   100.0ms  run_tokens=1700in/420out",
        "   ├─ chat gpt-4o           ██████                 30.0ms  model=gpt-4o-2024-08-06  tokens=1200in/300out  cached=1000  cost=$0.004500  ttft=12.0ms",
        "   ├─ execute_tool search         █████████        44.0ms  ERROR(timeout)",
        "   │  └─ GET                       ████████        38.0ms  ERROR(504)  status=504  [search-svc]",
        "   ├─ execute_tool fetch               ██████      30.0ms",
        "   └─ chat local-llama                       ██     8.0ms  model=local-llama  tokens=500in/120out  cost=?(unknown_model)",
    ];
    assert_eq!(&lines[1..7], expected, "\n{out}");
    // Totals: the two calls, not the agent's run totals on top.
    assert_eq!(
        lines[7],
        "totals: 2 LLM call(s), 1700 input + 420 output tokens (1000 cached), $0.004500 (+1 unpriced)"
    );
    assert!(!out.contains('\x1b'));

    let colored = tree::render(
        &traces,
        &tree::TreeOptions {
            color: true,
            ..tree::TreeOptions::default()
        },
    );
    assert!(
        colored.contains("\x1b[31mexecute_tool search\x1b[0m"),
        "{colored}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cost_of_an_exported_run_counts_each_call_once() {
    let dir = demo::temp_dir("insight-cost");
    let demo = demo::write(&dir);
    let (spans, _) = read(&[&demo.agent_file, &demo.search_file]);
    let report = CostReport::new(&Filter::default().apply(spans));
    let total = report.total;
    assert_eq!(
        (
            total.llm_calls,
            total.input_tokens,
            total.output_tokens,
            total.cache_read_input_tokens
        ),
        (2, 1700, 420, 1000)
    );
    assert_eq!(total.cost, Some(Cost::from_picodollars(4_500_000_000)));
    assert_eq!(total.unpriced_calls, 1);
    assert_eq!(report.agent_runs.len(), 1);
    assert_eq!(report.agent_runs[0].agent, "planner");
    assert_eq!(report.agent_runs[0].totals, total);
    let models: Vec<(&str, &str, u64)> = report
        .models
        .iter()
        .map(|m| (m.provider.as_str(), m.model.as_str(), m.totals.llm_calls))
        .collect();
    assert_eq!(
        models,
        [
            ("openai", "gpt-4o-2024-08-06", 1),
            ("ollama", "local-llama", 1)
        ]
    );
    assert_eq!(report.traces[0].failed_spans, 2);

    // The JSON, parsed back.
    let json: Value = serde_json::from_str(&report.to_json()).expect("JSON");
    assert_eq!(json["trace_count"], 1);
    assert_eq!(json["total"]["llm_calls"], 2);
    assert_eq!(json["total"]["input_tokens"], 1700);
    assert_eq!(json["total"]["cache_read_input_tokens"], 1000);
    assert_eq!(json["total"]["cost_usd"], 0.0045);
    assert_eq!(json["total"]["unpriced_calls"], 1);
    assert_eq!(json["traces"][0]["trace_id"], demo.trace_id.as_str());
    assert_eq!(json["traces"][0]["start"], "2026-01-01T00:00:00.000Z");
    assert_eq!(json["traces"][0]["duration_ms"], 100.0);
    assert_eq!(json["agent_runs"][0]["agent"], "planner");
    assert_eq!(json["agent_runs"][0]["output_tokens"], 420);
    assert_eq!(json["models"][1]["model"], "local-llama");
    assert_eq!(json["models"][1]["cost_usd"], Value::Null);
    assert_eq!(json["providers"][0]["provider"], "openai");

    let mut table = Vec::new();
    report.write_table(&mut table).expect("table");
    let table = String::from_utf8(table).expect("utf-8");
    assert!(
        table.contains("by agent run") && table.contains("planner"),
        "{table}"
    );
    assert!(
        table.contains(
            "total: 1 trace(s), 2 LLM call(s), 1700 input + 420 output tokens (1000 cached), $0.004500 (+1 unpriced)"
        ),
        "{table}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Checks that the complete events of every thread nest (what Perfetto requires).
fn assert_nested(events: &[Value]) {
    let mut threads: HashMap<(u64, u64), Vec<(u64, u64)>> = HashMap::new();
    for e in events.iter().filter(|e| e["ph"] == "X") {
        let ts = e["ts"].as_u64().expect("integer ts");
        let dur = e["dur"].as_u64().expect("integer dur");
        let key = (
            e["pid"].as_u64().expect("pid"),
            e["tid"].as_u64().expect("tid"),
        );
        threads.entry(key).or_default().push((ts, ts + dur));
    }
    for (thread, mut slices) in threads {
        slices.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut open: Vec<u64> = Vec::new();
        for (start, end) in slices {
            while open.last().is_some_and(|&top| top <= start && top < end) {
                open.pop();
            }
            if let Some(&top) = open.last() {
                assert!(
                    end <= top,
                    "thread {thread:?}: {start}..{end} overlaps ..{top}"
                );
            }
            open.push(end);
        }
    }
}

#[test]
fn chrome_export_of_an_exported_run_parses_back() {
    let dir = demo::temp_dir("insight-chrome");
    let demo = demo::write(&dir);
    let (spans, _) = read(&[&demo.agent_file, &demo.search_file]);
    let traces = Filter::default().apply(spans);
    let json: Value = serde_json::from_str(&chrome::to_string(&traces)).expect("JSON");
    let events = json["traceEvents"].as_array().expect("traceEvents");
    assert_eq!(json["displayTimeUnit"], "ms");

    let names = |what: &str| -> HashMap<(u64, u64), String> {
        events
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] == what)
            .map(|e| {
                (
                    (
                        e["pid"].as_u64().unwrap_or(0),
                        e["tid"].as_u64().unwrap_or(0),
                    ),
                    e["args"]["name"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    let processes = names("process_name");
    assert_eq!(processes[&(1, 0)], "agent-svc");
    assert_eq!(processes[&(2, 0)], "search-svc");
    let threads = names("thread_name");
    let short = &demo.trace_id[..8];
    assert_eq!(threads[&(1, 1)], format!("invoke_agent planner {short}"));
    // `fetch` overlaps `search` without nesting: a second thread of the trace.
    assert_eq!(
        threads[&(1, 2)],
        format!("invoke_agent planner {short} (2)")
    );
    assert_eq!(threads[&(2, 1)], format!("GET {short}"));

    let spans: HashMap<&str, &Value> = events
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| (e["name"].as_str().unwrap_or(""), e))
        .collect();
    assert_eq!(spans.len(), 6);
    let chat = spans["chat gpt-4o"];
    let t0_us = demo::T0_UNIX_NANO / 1000;
    assert_eq!(chat["ts"], t0_us + 5_000);
    assert_eq!(chat["dur"], 30_000);
    assert_eq!(chat["cat"], "chat");
    assert_eq!(
        (chat["pid"].as_u64(), chat["tid"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(chat["args"]["trace_id"], demo.trace_id.as_str());
    assert_eq!(chat["args"]["span.kind"], "client");
    assert_eq!(chat["args"]["gen_ai.usage.input_tokens"], 1200);
    assert_eq!(chat["args"]["gen_ai.usage.cost"], 0.0045);
    assert_eq!(
        chat["args"]["gen_ai.response.finish_reasons"][0],
        "tool_calls"
    );
    assert_eq!(chat["args"]["some.vendor.attribute"], "kept");
    assert_eq!(spans["execute_tool fetch"]["tid"], 2);
    assert_eq!(spans["execute_tool search"]["args"]["status"], "error");
    assert_eq!(
        spans["execute_tool search"]["args"]["status_message"],
        "upstream timeout"
    );
    assert_eq!(spans["GET"]["pid"], 2);

    let retry = events
        .iter()
        .find(|e| e["ph"] == "i")
        .expect("the span event");
    assert_eq!(retry["name"], "retrying");
    assert_eq!(retry["s"], "t");
    assert_eq!(retry["ts"], t0_us + 50_000);
    assert_eq!(retry["args"]["attempt"], 2);
    assert_nested(events);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_truncated_last_line_loses_only_that_line() {
    let dir = demo::temp_dir("insight-truncated");
    let demo = demo::write(&dir);
    let text = std::fs::read_to_string(&demo.agent_file).expect("read");
    let lines = text.lines().count();
    assert_eq!(lines, 5, "the simple exporter writes one line per span");
    // The writer died mid-line: keep half of the last line, no newline.
    let cut = text.trim_end().len() - text.trim_end().lines().last().map_or(0, str::len) / 2;
    std::fs::write(&demo.agent_file, &text[..cut]).expect("write");

    let read = tracefile::read_file_with_stats(&demo.agent_file).expect("readable");
    assert_eq!(read.spans.len(), 4);
    assert_eq!(read.stats.bad_lines, 1);
    assert!(read.stats.truncated_last_line);
    assert_eq!(read.stats.first_error.as_ref().map(|e| e.line), Some(5));
    // The agent span was the last one written: its children are orphans now, shown.
    let out = plain(&Filter::default().apply(read.spans));
    assert_eq!(out.matches("(orphan)").count(), 4, "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn orphans_are_shown_and_counted_not_dropped() {
    let text = [
        line(
            TRACE,
            &[
                ("00000000000000a1", "", "invoke_agent a", 0, 100, ""),
                (
                    "00000000000000b1",
                    "00000000000000a1",
                    "chat one",
                    10,
                    20,
                    CHAT,
                ),
            ],
        ),
        // Its parent was never written (another process, a lost batch).
        line(
            TRACE,
            &[(
                "00000000000000c1",
                "00000000000000ff",
                "chat lost",
                30,
                40,
                CHAT,
            )],
        ),
    ]
    .join("\n");
    let traces = Filter::default().apply(parse_lines(text.as_bytes()).spans);
    let out = plain(&traces);
    assert!(out.contains("├─ invoke_agent a"), "{out}");
    assert!(out.contains("└─ chat lost"), "{out}");
    assert!(out.contains("(orphan)"), "{out}");
    let report = CostReport::new(&traces);
    assert_eq!(report.total.llm_calls, 2);
    assert_eq!(
        report.total.cost,
        Some(Cost::from_picodollars(500_000_000_000))
    );
    // The orphan is not inside the agent run.
    assert_eq!(report.agent_runs[0].totals.llm_calls, 1);
}

#[test]
fn parent_cycles_end_and_every_span_is_shown_once() {
    let text = line(
        TRACE,
        &[
            ("0000000000000001", "0000000000000003", "one", 0, 10, CHAT),
            ("0000000000000002", "0000000000000001", "two", 1, 9, CHAT),
            ("0000000000000003", "0000000000000002", "three", 2, 8, CHAT),
            ("0000000000000004", "0000000000000004", "self", 3, 4, ""),
            (
                "0000000000000005",
                "0000000000000002",
                "hangs-off-the-cycle",
                4,
                5,
                "",
            ),
        ],
    );
    let traces = Filter::default().apply(parse_lines(text.as_bytes()).spans);
    let out = plain(&traces);
    for name in ["one", "two", "three", "self", "hangs-off-the-cycle"] {
        assert_eq!(
            out.matches(&format!("─ {name} ")).count(),
            1,
            "{name}\n{out}"
        );
    }
    assert_eq!(out.matches("(cycle)").count(), 2, "{out}");
    // The three chat spans nest (one > two > three, the loop cut): one call, counted
    // at the innermost (a framework's span around ours is the same call).
    assert_eq!(CostReport::new(&traces).total.llm_calls, 1);
    assert_nested(
        serde_json::from_str::<Value>(&chrome::to_string(&traces)).expect("JSON")["traceEvents"]
            .as_array()
            .expect("events"),
    );
}

#[test]
fn unknown_attributes_and_fields_are_tolerated() {
    let attrs = r#"{"key":"x.map","value":{"kvlistValue":{"values":[{"key":"a","value":{"boolValue":true}}]}}},{"key":"x.future","value":{"somethingNew":{"a":1}}},{"key":"x.int","value":{"intValue":7}}"#;
    let text = line(TRACE, &[("00000000000000a1", "", "odd", 0, 1, attrs)])
        .replace(r#""kind":1"#, r#""kind":1,"newSpanField":[1,2,{"x":null}]"#);
    let read = parse_lines(text.as_bytes());
    assert_eq!(read.stats.bad_lines, 0, "{:?}", read.stats);
    let traces = Filter::default().apply(read.spans);
    let json: Value = serde_json::from_str(&chrome::to_string(&traces)).expect("JSON");
    let span = &json["traceEvents"].as_array().expect("events")[4];
    assert_eq!(span["args"]["x.map"], "{a: true}");
    assert_eq!(span["args"]["x.int"], 7);
    assert_eq!(span["args"]["x.future"], "");
}

#[test]
fn the_same_file_read_twice_is_not_counted_twice() {
    let dir = demo::temp_dir("insight-duplicates");
    let demo = demo::write(&dir);
    let (spans, _) = read(&[&demo.agent_file, &demo.search_file, &demo.agent_file]);
    assert_eq!(spans.len(), 11);
    let traces = Filter::default().apply(spans);
    assert_eq!(traces[0].duplicates, 5);
    assert_eq!(CostReport::new(&traces).total.llm_calls, 2);
    assert!(plain(&traces).contains("(5 duplicate span(s) dropped)"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn filters_pick_traces_times_names_and_errors() {
    let dir = demo::temp_dir("insight-filters");
    let demo = demo::write(&dir);
    let (spans, _) = read(&[&demo.agent_file, &demo.search_file]);
    let other = line(
        "ffffffffffffffffffffffffffffffff",
        &[("00000000000000a1", "", "chat elsewhere", 0, 1, CHAT)],
    );
    let mut all = spans.clone();
    all.extend(parse_lines(other.as_bytes()).spans);
    let names = |filter: Filter| -> Vec<(String, bool)> {
        filter
            .apply(all.clone())
            .iter()
            .flat_map(|t| t.spans.iter().map(|s| (s.span.name.to_string(), s.context)))
            .collect()
    };
    assert_eq!(Filter::default().apply(all.clone()).len(), 2);

    // A trace id prefix, in any case.
    let by_id = names(Filter {
        trace_id: Some(demo.trace_id[..6].to_uppercase()),
        ..Filter::default()
    });
    assert_eq!(by_id.len(), 6);

    // Time range: spans overlapping [T0 + 82 ms, T0 + 95 ms].
    let ms = |n: u64| demo::T0_UNIX_NANO + n * 1_000_000;
    let window = names(Filter {
        since: Some(ms(82)),
        until: Some(ms(95)),
        ..Filter::default()
    });
    let window: Vec<&str> = window.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        window,
        [
            "invoke_agent planner",
            "execute_tool fetch",
            "chat local-llama"
        ]
    );

    // A name selects the span and what it contains; ancestors are context.
    let search = names(Filter {
        name: Some("search".into()),
        ..Filter::default()
    });
    assert_eq!(
        search,
        [
            ("invoke_agent planner".to_owned(), true),
            ("execute_tool search".to_owned(), false),
            ("GET".to_owned(), false),
        ]
    );

    // Errors: the failed tool (with its failed GET inside) and where it sat.
    let errors = Filter {
        errors_only: true,
        ..Filter::default()
    };
    let traces = errors.apply(all.clone());
    assert_eq!(traces.len(), 1);
    let out = plain(&traces);
    assert!(
        out.contains("ERROR(timeout)") && out.contains("ERROR(504)"),
        "{out}"
    );
    assert!(!out.contains("chat"), "{out}");
    // Context spans are not counted: the failed tool made no LLM call.
    assert_eq!(CostReport::new(&traces).total.llm_calls, 0);

    // Selecting the agent by name gives its run's cost.
    let agent = Filter {
        name: Some("invoke_agent planner".into()),
        ..Filter::default()
    };
    assert_eq!(
        CostReport::new(&agent.apply(all.clone())).total.llm_calls,
        2
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// 10k spans (100 traces x 100) in a debug build; the 100k case is the bench's
/// (`cargo bench -p aitrace-insight --bench insight`).
#[test]
fn ten_thousand_spans_add_up_exactly() {
    let mut file = Vec::new();
    let expected = synthetic::write(&mut file, 100, 100);
    assert_eq!(expected.spans, 10_000);
    let mut reader = SpanReader::new(file.as_slice());
    let traces = Filter::default().apply(reader.by_ref());
    assert_eq!(reader.stats().spans, 10_000);
    assert_eq!(reader.stats().bad_lines, 0);
    assert_eq!(traces.len(), 100);

    let report = CostReport::new(&traces);
    let t = report.total;
    assert_eq!(t.llm_calls, expected.llm_calls);
    assert_eq!(t.input_tokens, expected.input_tokens);
    assert_eq!(t.output_tokens, expected.output_tokens);
    assert_eq!(t.cache_read_input_tokens, expected.cached_tokens);
    assert_eq!(t.reasoning_output_tokens, expected.reasoning_tokens);
    assert_eq!(
        t.cost,
        Some(Cost::from_picodollars(expected.cost_picodollars))
    );
    assert_eq!(report.agent_runs.len(), 100);
    assert_eq!(report.models.len(), 2);

    let out = plain(&traces);
    // A header and a totals line per trace, a line per span, blank lines between.
    assert_eq!(out.lines().count(), 10_000 + 100 * 3 - 1);
    assert_eq!(
        out.matches("ERROR(timeout)").count() as u64,
        expected.failed_tool_calls
    );

    let json: Value = serde_json::from_str(&chrome::to_string(&traces)).expect("JSON");
    let events = json["traceEvents"].as_array().expect("events");
    assert_eq!(events.iter().filter(|e| e["ph"] == "X").count(), 10_000);
    assert_eq!(json["otherData"]["spans"], 10_000);
    assert_nested(events);
}

/// Every report of `text` (trees plain and in color, the error selection, the cost
/// table and JSON), as read by `reader`.
fn reports<'a>(text: &'a str, reader: impl Fn(&'a [u8]) -> SpanReader<&'a [u8]>) -> String {
    let traces = Filter::default().apply(reader(text.as_bytes()));
    let errors = Filter {
        errors_only: true,
        ..Filter::default()
    };
    let failed = errors.apply(reader(text.as_bytes()));
    let color = tree::TreeOptions {
        color: true,
        ..tree::TreeOptions::default()
    };
    let report = CostReport::new(&traces);
    let mut table = Vec::new();
    report.write_table(&mut table).expect("in memory");
    format!(
        "{}\n{}\n{}\n{}\n{}",
        plain(&traces),
        tree::render(&traces, &color),
        plain(&failed),
        String::from_utf8(table).expect("utf-8"),
        report.to_json()
    )
}

/// Lines with every attribute the reports read, the older names they fall back on
/// among them, next to attributes and events they do not read.
fn report_lines() -> String {
    let s = |k: &str, v: &str| format!(r#"{{"key":"{k}","value":{{"stringValue":"{v}"}}}}"#);
    let i = |k: &str, v: i64| format!(r#"{{"key":"{k}","value":{{"intValue":"{v}"}}}}"#);
    let d = |k: &str, v: f64| format!(r#"{{"key":"{k}","value":{{"doubleValue":{v}}}}}"#);
    let legacy = [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.system", "anthropic"),
        s("gen_ai.request.model", "claude-x"),
        i("gen_ai.usage.prompt_tokens", 7),
        i("gen_ai.usage.completion_tokens", 3),
        i("gen_ai.usage.cache_creation.input_tokens", 4),
        s("aitrace.cost.unavailable", "unknown model claude-x"),
        s("gen_ai.input.messages", "not read by any report"),
    ]
    .join(",");
    let current = [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.provider.name", "openai"),
        s("gen_ai.request.model", "gpt-4o"),
        s("gen_ai.response.model", "gpt-4o-2024-08-06"),
        i("gen_ai.usage.input_tokens", 100),
        i("gen_ai.usage.output_tokens", 20),
        i("gen_ai.usage.cache_read.input_tokens", 50),
        i("gen_ai.usage.cache_write.input_tokens", 6),
        i("gen_ai.usage.reasoning.output_tokens", 9),
        d("gen_ai.usage.cost", 0.5),
        d("gen_ai.response.time_to_first_chunk", 0.125),
        r#"{"key":"gen_ai.response.finish_reasons","value":{"arrayValue":{"values":[{"stringValue":"stop"}]}}}"#.to_owned(),
    ]
    .join(",");
    let agent = [
        s("gen_ai.operation.name", "invoke_agent"),
        s("gen_ai.agent.name", "helper"),
        i("gen_ai.usage.input_tokens", 107),
    ]
    .join(",");
    let http = [
        s("http.request.method", "GET"),
        i("http.response.status_code", 503),
    ]
    .join(",");
    let failed = [s("error.type", "timeout"), s("tool.detail", "x")].join(",");
    let spans = [
        (
            "00000000000000a1",
            "",
            "invoke_agent planner",
            0,
            100,
            agent.as_str(),
        ),
        (
            "00000000000000a2",
            "00000000000000a1",
            "chat claude-x",
            5,
            30,
            &legacy,
        ),
        (
            "00000000000000a3",
            "00000000000000a1",
            "chat gpt-4o",
            31,
            60,
            &current,
        ),
        (
            "00000000000000a4",
            "00000000000000a1",
            "GET /search",
            61,
            80,
            &http,
        ),
        (
            "00000000000000a5",
            "00000000000000a1",
            "execute_tool fetch",
            81,
            99,
            &failed,
        ),
    ];
    let mut text = line(TRACE, &spans);
    text.push('\n');
    // With an event, which no report reads.
    text.push_str(&text.replace(TRACE, "1af7651916cd43dd8448eb211c80319c").replace(
        r#""attributes":[{"key":"error.type""#,
        r#""events":[{"name":"retry","timeUnixNano":"90","attributes":[]}],"attributes":[{"key":"error.type""#,
    ));
    text
}

/// Reading only `REPORT_ATTRIBUTES` and no events gives the same reports as reading
/// everything: on the file exporter's files, the synthetic file and lines with every
/// attribute the reports read; and each key listed is needed (without it, some report
/// changes), so the list is neither short nor padded.
#[test]
fn reports_read_the_same_from_report_attributes_alone() {
    use aitrace_insight::REPORT_ATTRIBUTES;

    let dir = demo::temp_dir("insight-projection");
    let demo = demo::write(&dir);
    let mut text = String::new();
    for file in [&demo.agent_file, &demo.search_file] {
        text.push_str(&std::fs::read_to_string(file).expect("read"));
    }
    let mut synthetic = Vec::new();
    synthetic::write(&mut synthetic, 3, 40);
    text.push_str(&String::from_utf8(synthetic).expect("utf-8"));
    text.push_str(&report_lines());
    assert!(text.contains(r#""events":[{"#), "the corpus has events");

    let full = reports(&text, SpanReader::new);
    let only = |keys: &[&str]| {
        reports(&text, |bytes| {
            SpanReader::new(bytes)
                .only_attributes(keys)
                .keep_events(false)
        })
    };
    assert_eq!(
        reports(&text, |bytes| SpanReader::new(bytes).for_reports()),
        full
    );
    assert_eq!(only(REPORT_ATTRIBUTES), full);
    for key in REPORT_ATTRIBUTES {
        let fewer: Vec<&str> = REPORT_ATTRIBUTES
            .iter()
            .copied()
            .filter(|k| k != key)
            .collect();
        assert_ne!(only(&fewer), full, "no report changes without {key}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
