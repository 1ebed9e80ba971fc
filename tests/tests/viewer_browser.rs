//! `aitrace view` in a real browser: headless Chromium driven over WebDriver
//! (chromedriver, started here on a free port) opens the viewer on the demo's trace
//! files and checks each view the way a user sees it: the list row, the waterfall's
//! nesting, a chat span's conversation, the tool call's link to its tool span and
//! back, the agent's state diff, the causal flow, the compare view of two demo runs,
//! a span appearing live after a line is appended to the trace file, and HTML planted
//! in a prompt and in span names shown as text, executing nothing.
//!
//! Screenshots of each main view go to `target/viewer-screenshots/` (printed); with
//! `AITRACE_UPDATE_SCREENSHOTS=1` also to `docs/screenshots/` for the README.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/chromium.sh install`):
//! skipped with a printed reason when chromedriver is missing, unless
//! `AITRACE_REQUIRE_BROWSER=1` (then it fails). `AITRACE_CHROMEDRIVER` and
//! `AITRACE_CHROMIUM` override the paths.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aitrace::core::content::{CaptureMode, ContentPolicy};
use aitrace::{Exporter, Telemetry};
use aitrace_examples::demo::{self, AgentAnswer, DemoOptions};
use aitrace_insight::view::{ViewOptions, Viewer};
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

#[path = "../../insight/tests/support/synthetic.rs"]
mod synthetic;

/// What a planted payload would set if it ever ran.
const XSS_GLOBAL: &str = "__aitrace_xss";
const PROMPT_PAYLOAD: &str =
    "<img src=x onerror=\"window.__aitrace_xss='prompt-img'\"><script>window.__aitrace_xss='prompt-script'</script>";
const NAME_PAYLOAD: &str =
    "<img src=x onerror=\"window.__aitrace_xss='name-img'\"><script>window.__aitrace_xss='name-script'</script>";
const WAIT: Duration = Duration::from_secs(15);
/// Longer than the server's 64 KiB cut of attribute values.
const LONG_VALUE: usize = 70_000;

/// One browser at a time (the machine has two cores).
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_in_a_real_browser() {
    let Some(driver_path) = chromedriver() else {
        return;
    };
    let _one = BROWSER.lock().await;
    let dir = TempDir::new("viewer-browser");
    let traces = dir.path().join("traces");

    // Two demo runs to compare (Paris, then Tokyo) and one whose prompt carries HTML,
    // content captured.
    let (paris, _) = run_demo(&traces, "What is the weather in Paris?".to_owned()).await;
    let (planted, _) = run_demo(
        &traces,
        format!("What is the weather in Paris? {PROMPT_PAYLOAD}"),
    )
    .await;
    let (tokyo, trace_file) = run_demo(&traces, "What is the weather in Tokyo?".to_owned()).await;
    assert_ne!(paris.trace_id, tokyo.trace_id);
    assert_ne!(paris.trace_id, planted.trace_id);

    let mut options = ViewOptions::new(vec![traces.clone()]);
    options.trace_dir = traces.clone();
    options.poll_interval = Duration::from_millis(100);
    let viewer = Viewer::bind(options).await.expect("the viewer binds");
    let base = viewer.url();
    let server = tokio::spawn(viewer.run());

    let driver = ChromeDriver::start(&driver_path);
    let client = driver.connect(&dir.path().join("profile")).await;
    let shots = Screenshots::new();
    let runs = Runs {
        paris,
        tokyo,
        planted,
    };
    let result = checks(&client, &base, &runs, &trace_file, &shots).await;
    if result.is_err() {
        // What the page showed when it failed, for the log.
        shots.save(&client, "failure").await;
    }
    client.close().await.ok();
    server.abort();
    println!("viewer screenshots: {}", shots.dir.display());
    if let Err(message) = result {
        panic!("{message}");
    }
}

async fn checks(
    client: &Client,
    base: &str,
    runs: &Runs,
    trace_file: &Path,
    shots: &Screenshots,
) -> Result<(), String> {
    let Runs {
        paris,
        tokyo,
        planted,
    } = runs;
    // The list: one row per demo run, with its summary.
    client
        .goto(base)
        .await
        .map_err(|e| format!("open {base}: {e}"))?;
    // Whatever the page does from here (same document: the app routes by hash), the
    // Content-Security-Policy must never have to block it.
    client
        .execute(
            "window.__aitrace_csp = []; document.addEventListener('securitypolicyviolation',
               e => window.__aitrace_csp.push(`${e.violatedDirective} ${e.blockedURI}`)); return true;",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let row = wait_js(
        client,
        "const r = document.querySelector(`[data-testid=trace-row][data-trace-id='${arguments[0]}']`);
         if (!r || !document.querySelector(`[data-testid=trace-row][data-trace-id='${arguments[1]}']`)) return null;
         const cell = (id) => r.querySelector(`[data-testid=${id}]`).textContent;
         return {root: cell('cell-root'), service: cell('cell-service'), spans: cell('cell-spans'),
                 llm: cell('cell-llm'), tools: cell('cell-tools'), tokens: cell('cell-tokens'),
                 total: document.querySelector('[data-testid=trace-total]').textContent};",
        vec![json!(paris.trace_id), json!(tokyo.trace_id)],
    )
    .await?;
    expect(row["root"] == "POST /ask", "list row root span", &row)?;
    expect(row["service"] == "aitrace-demo", "list row service", &row)?;
    expect(row["spans"] == "9", "list row span count", &row)?;
    expect(
        row["llm"] == "2" && row["tools"] == "1",
        "list row calls",
        &row,
    )?;
    expect(
        row["tokens"].as_str().is_some_and(|t| {
            t.starts_with(&format!("{} / {}", paris.input_tokens, paris.output_tokens))
        }),
        "list row tokens",
        &row,
    )?;
    expect(row["total"] == "3 traces", "list total", &row)?;
    shots.save(client, "list").await;

    // The waterfall: the demo's tree, each row under the row of its parent.
    client
        .goto(&format!("{base}#/trace/{}", paris.trace_id))
        .await
        .map_err(|e| e.to_string())?;
    let rows = wait_js(
        client,
        "const rows = [...document.querySelectorAll('[data-testid=span-row]')];
         if (rows.length < 9) return null;
         return rows.map(r => ({id: r.dataset.spanId, parent: r.dataset.parentSpanId,
                                depth: Number(r.dataset.depth), name: r.dataset.name,
                                critical: r.dataset.critical === '1',
                                rollup: r.querySelector('[data-testid=rollup]')?.textContent || null}));",
        vec![],
    )
    .await?;
    let rows = rows.as_array().cloned().unwrap_or_default();
    let outline: Vec<(u64, String)> = rows
        .iter()
        .map(|r| {
            (
                r["depth"].as_u64().unwrap_or(99),
                r["name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = [
        (0, "POST /ask"),
        (1, "invoke_agent weather-agent"),
        (2, "chat"),
        (3, "POST"),
        (2, "execute_tool get_weather"),
        (3, "GET"),
        (4, "GET /weather/{city}"),
        (2, "chat"),
        (3, "POST"),
    ]
    .iter()
    .map(|(d, n)| (*d, (*n).to_owned()))
    .collect();
    let same_shape = outline.len() == expected.len()
        && outline
            .iter()
            .zip(&expected)
            .all(|((d, n), (ed, en))| d == ed && n.starts_with(en.as_str()));
    expect(same_shape, "waterfall rows (depth, name)", &json!(outline))?;
    for (i, r) in rows.iter().enumerate().skip(1) {
        // The parent is the nearest row above one level up.
        let depth = r["depth"].as_u64().unwrap_or(0);
        let parent = rows[..i]
            .iter()
            .rev()
            .find(|p| p["depth"].as_u64() == Some(depth - 1))
            .map(|p| p["id"].clone());
        expect(
            parent == Some(r["parent"].clone()),
            "waterfall nesting",
            &json!(rows),
        )?;
    }
    expect(
        rows[1]["rollup"]
            .as_str()
            .is_some_and(|t| t.contains("2 llm") && t.contains("1 tool")),
        "Σ rollup on the agent span",
        &rows[1],
    )?;
    expect(
        rows[0]["critical"] == true,
        "the root on the critical path",
        &rows[0],
    )?;
    shots.save(client, "waterfall").await;

    // A chat span: its conversation.
    let first_chat = rows[2]["id"].as_str().unwrap_or_default().to_owned();
    click(
        client,
        &format!("[data-testid=span-row][data-span-id='{first_chat}']"),
    )
    .await?;
    let conversation = wait_js(
        client,
        "const c = document.querySelector(`[data-testid=context][data-span-id='${arguments[0]}'] [data-testid=conversation]`);
         if (!c) return null;
         return {text: c.textContent,
                 roles: [...c.querySelectorAll('[data-testid=message]')].map(m => m.dataset.role),
                 toolCalls: [...c.querySelectorAll('[data-testid=part-tool-call]')].map(p => p.textContent),
                 planted: c.querySelectorAll('img, script').length};",
        vec![json!(first_chat)],
    )
    .await?;
    let text = conversation["text"].as_str().unwrap_or_default();
    expect(
        text.contains("What is the weather in Paris?"),
        "the user's question",
        &conversation,
    )?;
    expect(
        text.contains("helpful weather assistant"),
        "the system instructions",
        &conversation,
    )?;
    let roles = conversation["roles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    expect(
        roles.contains(&json!("user")) && roles.contains(&json!("assistant")),
        "messages by role",
        &conversation,
    )?;
    expect(
        conversation["toolCalls"].as_array().is_some_and(|c| {
            c.iter().any(|t| {
                t.as_str()
                    .is_some_and(|t| t.contains("get_weather") && t.contains("Paris"))
            })
        }),
        "the tool call with its arguments",
        &conversation,
    )?;
    shots.save(client, "context").await;

    // The tool call links to the tool span, and the tool span back to the chat span.
    click(client, "[data-testid=tool-call-link]").await?;
    let tool = wait_js(
        client,
        "const name = document.querySelector('[data-testid=context-name]');
         return name && name.textContent.startsWith('execute_tool') ? {name: name.textContent,
           selected: document.querySelector('.wf-row.selected')?.dataset.name} : null;",
        vec![],
    )
    .await?;
    expect(
        tool["selected"] == tool["name"],
        "the tool span selected in the waterfall",
        &tool,
    )?;
    click(client, "[data-testid=tool-link]").await?;
    wait_js(
        client,
        "const c = document.querySelector(`[data-testid=context][data-span-id='${arguments[0]}']`);
         return c ? true : null;",
        vec![json!(first_chat)],
    )
    .await?;

    // The agent's state diff: each snapshot with what changed since the previous one.
    click(client, "[data-testid=tab-state]").await?;
    let states = wait_js(
        client,
        "const snaps = document.querySelectorAll('[data-testid=state-pane] [data-testid=state-snapshot]');
         if (snaps.length < 4) return null;
         return [...snaps].map(s => [...s.querySelectorAll('[data-testid=state-diff-row]')].map(r => `${r.dataset.op} ${r.dataset.path}`));",
        vec![],
    )
    .await?;
    let second: Vec<String> = states[1]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    expect(
        second.iter().any(|d| d == "change /step")
            && second
                .iter()
                .any(|d| d.starts_with("add /pending_tool_calls/0"))
            && second.iter().any(|d| d.starts_with("add /messages/")),
        "the tool-call snapshot's diff",
        &states,
    )?;
    shots.save(client, "state").await;

    // The causal flow: request -> agent -> LLM -> tool -> LLM -> answer.
    click(client, "[data-testid=tab-flow]").await?;
    let flow = wait_js(
        client,
        "const steps = [...document.querySelectorAll('[data-testid=flow-step]')];
         return steps.length ? steps.map(s => s.dataset.kind) : null;",
        vec![],
    )
    .await?;
    let kinds: Vec<&str> = flow
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let order = ["request", "agent", "llm", "tool", "llm", "answer"];
    let mut at = 0;
    for kind in &kinds {
        if at < order.len() && *kind == order[at] {
            at += 1;
        }
    }
    expect(at == order.len(), "the flow's steps in order", &flow)?;
    shots.save(client, "flow").await;
    click(
        client,
        "[data-testid=flow-step][data-kind=tool] [data-testid=flow-asked-by]",
    )
    .await?;
    wait_js(
        client,
        "const c = document.querySelector(`[data-testid=context][data-span-id='${arguments[0]}']`);
         return c ? true : null;",
        vec![json!(first_chat)],
    )
    .await?;

    // Compare the two runs: ticked in the list, aligned, the prompts' words diffed.
    client
        .goto(&format!("{base}#/"))
        .await
        .map_err(|e| e.to_string())?;
    for id in [&paris.trace_id, &tokyo.trace_id] {
        click(
            client,
            &format!("[data-testid=trace-row][data-trace-id='{id}'] [data-testid=compare-check]"),
        )
        .await?;
    }
    click(client, "[data-testid=compare-button]").await?;
    let compare = wait_js(
        client,
        "const rows = [...document.querySelectorAll('[data-testid=compare-row]')];
         if (!rows.length) return null;
         return {hash: location.hash, rows: rows.map(r => [r.dataset.status, r.dataset.name]),
                 inserted: [...document.querySelectorAll('[data-testid=diff-insert]')].map(e => e.textContent).join(' '),
                 deleted: [...document.querySelectorAll('[data-testid=diff-delete]')].map(e => e.textContent).join(' ')};",
        vec![],
    )
    .await?;
    expect(
        compare["hash"]
            .as_str()
            .is_some_and(|h| h.contains(&paris.trace_id) && h.contains(&tokyo.trace_id)),
        "the compare page of the two runs",
        &compare,
    )?;
    expect(
        compare["rows"].as_array().is_some_and(|r| r.len() >= 9),
        "aligned rows",
        &compare,
    )?;
    let (inserted, deleted) = (
        compare["inserted"].as_str().unwrap_or(""),
        compare["deleted"].as_str().unwrap_or(""),
    );
    expect(
        inserted.contains("Tokyo") && deleted.contains("Paris"),
        "the prompt word diff (Paris -> Tokyo)",
        &compare,
    )?;
    shots.save(client, "compare").await;

    // HTML planted in a prompt: shown as text in the conversation and the flow.
    client
        .goto(&format!("{base}#/trace/{}", planted.trace_id))
        .await
        .map_err(|e| e.to_string())?;
    click(client, "[data-testid=span-row][data-operation=chat]").await?;
    let shown = wait_js(
        client,
        "const c = document.querySelector('[data-testid=context] [data-testid=conversation]');
         return c ? {text: c.textContent, planted: document.querySelectorAll('#main img, #main script').length} : null;",
        vec![],
    )
    .await?;
    expect(
        shown["text"]
            .as_str()
            .is_some_and(|t| t.contains(PROMPT_PAYLOAD)),
        "the planted prompt HTML, as text",
        &shown,
    )?;
    expect(
        shown["planted"] == 0,
        "no element made from the prompt",
        &shown,
    )?;
    click(client, "[data-testid=tab-flow]").await?;
    let carried = wait_js(
        client,
        "const c = [...document.querySelectorAll('[data-testid=flow-carries]')].map(e => e.textContent);
         return c.length ? {carries: c, planted: document.querySelectorAll('#main img, #main script').length} : null;",
        vec![],
    )
    .await?;
    expect(
        carried["carries"].as_array().is_some_and(|c| {
            c.iter()
                .any(|t| t.as_str().is_some_and(|t| t.contains(PROMPT_PAYLOAD)))
        }),
        "the planted question carried in the flow, as text",
        &carried,
    )?;
    expect(
        carried["planted"] == 0,
        "no element made in the flow",
        &carried,
    )?;

    // Live: a span appended to the trace file appears in the open waterfall without a
    // reload, its HTML name shown as text.
    client
        .goto(&format!("{base}#/trace/{}", tokyo.trace_id))
        .await
        .map_err(|e| e.to_string())?;
    wait_js(
        client,
        "return document.querySelectorAll('[data-testid=span-row]').length >= 9 &&
                document.getElementById('live').dataset.state === 'connected' ? true : null;",
        vec![],
    )
    .await?;
    client
        .execute("window.__aitrace_same_page = true; return true;", vec![])
        .await
        .map_err(|e| e.to_string())?;
    let live_name = format!("live check {NAME_PAYLOAD}");
    append_span(trace_file, &tokyo.trace_id, &live_name, None);
    let live = wait_js(
        client,
        "const row = [...document.querySelectorAll('[data-testid=span-row]')].find(r => r.dataset.name === arguments[0]);
         if (!row) return null;
         return {same_page: window.__aitrace_same_page === true, depth: row.dataset.depth,
                 text: row.querySelector('[data-testid=span-name]').textContent,
                 planted: document.querySelectorAll('[data-testid=waterfall] img, [data-testid=waterfall] script').length};",
        vec![json!(live_name)],
    )
    .await?;
    expect(live["same_page"] == true, "no reload", &live)?;
    expect(
        live["text"] == json!(live_name),
        "the span name as text",
        &live,
    )?;
    expect(live["depth"] == "1", "the live span under the root", &live)?;
    expect(
        live["planted"] == 0,
        "no element made from the span name",
        &live,
    )?;
    shots.save(client, "live").await;

    // Its 70 KB attribute, cut by the server, shown whole on "show all".
    click(
        client,
        "[data-testid=span-row][data-span-id='00000000000e11e0']",
    )
    .await?;
    click(
        client,
        "[data-testid=context][data-span-id='00000000000e11e0'] [data-testid=attr-row][data-key='live.long'] [data-testid=show-all]",
    )
    .await?;
    let long = wait_js(
        client,
        "const v = document.querySelector(`[data-testid=attr-row][data-key='live.long'] .long`);
         return v && !document.querySelector(`[data-testid=attr-row][data-key='live.long'] [data-testid=show-all]`)
           ? {length: v.textContent.length, end: v.textContent.slice(-3)} : null;",
        vec![],
    )
    .await?;
    expect(
        long["length"] == LONG_VALUE + 3 && long["end"] == "END",
        "the whole long value",
        &long,
    )?;

    // A new trace whose root span name is HTML shows up live in the list, as text.
    client
        .goto(&format!("{base}#/"))
        .await
        .map_err(|e| e.to_string())?;
    wait_js(
        client,
        "return document.querySelector('[data-testid=trace-row]') ? true : null;",
        vec![],
    )
    .await?;
    let new_trace = "0af7651916cd43dd8448eb211c80319c";
    append_span(
        trace_file,
        new_trace,
        NAME_PAYLOAD,
        Some("00f067aa0ba902b7"),
    );
    let listed = wait_js(
        client,
        "const r = document.querySelector(`[data-testid=trace-row][data-trace-id='${arguments[0]}']`);
         return r ? {root: r.querySelector('[data-testid=cell-root]').textContent,
                     planted: document.querySelectorAll('[data-testid=trace-rows] img, [data-testid=trace-rows] script').length} : null;",
        vec![json!(new_trace)],
    )
    .await?;
    expect(
        listed["root"] == NAME_PAYLOAD,
        "the HTML root name as text",
        &listed,
    )?;
    expect(
        listed["planted"] == 0,
        "no element made from the root name",
        &listed,
    )?;

    // None of the payloads ever ran.
    let ran = client
        .execute(
            &format!(
                "return window.{XSS_GLOBAL} === undefined ? null : String(window.{XSS_GLOBAL});"
            ),
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    expect(ran.is_null(), "no planted script ran", &ran)?;
    let violations = client
        .execute(
            "return window.__aitrace_csp || 'the page was reloaded';",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    expect(
        violations == json!([]),
        "no Content-Security-Policy violation",
        &violations,
    )?;
    Ok(())
}

/// A 100k-trace list and a 5k-span trace (the synthetic agent traces of the insight
/// bench): the browser keeps only the rows on screen, and scrolls, sorts, filters,
/// collapses and zooms them. The times printed are for the log; the speed targets are
/// the server's criterion benchmarks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_on_a_big_file() {
    let Some(driver_path) = chromedriver() else {
        return;
    };
    let _one = BROWSER.lock().await;
    let dir = TempDir::new("viewer-big");
    let traces = dir.path().join("traces");
    std::fs::create_dir_all(&traces).expect("the trace dir");
    let list_file = traces.join("many.jsonl");
    let many = synthetic::write_file(&list_file, LIST_TRACES, 1);
    assert_eq!(many.traces, LIST_TRACES);
    let mut big = synthetic::Expected::default();
    let request = synthetic::trace(BIG_TRACE, BIG_TRACE_SPANS, &mut big);
    std::fs::write(
        traces.join("big.jsonl"),
        serde_json::to_string(&request).expect("JSON") + "\n",
    )
    .expect("write the big trace");
    let big_id = hex(&synthetic::trace_id(BIG_TRACE));
    assert!(
        big.failed_tool_calls > 0,
        "the big trace has a failed tool call"
    );

    let viewer = Viewer::bind(ViewOptions::new(vec![traces.clone()]))
        .await
        .expect("the viewer binds");
    let base = viewer.url();
    let server = tokio::spawn(viewer.run());
    let driver = ChromeDriver::start(&driver_path);
    let client = driver.connect(&dir.path().join("profile")).await;
    let shots = Screenshots::new();
    let result = big_checks(&client, &base, &big_id, &shots).await;
    if result.is_err() {
        shots.save(&client, "big-failure").await;
    }
    client.close().await.ok();
    server.abort();
    if let Err(message) = result {
        panic!("{message}");
    }
}

const LIST_TRACES: u64 = 100_000;
const BIG_TRACE_SPANS: u64 = 5_000;
/// Loading the big file in a debug build on a busy machine.
const BIG_WAIT: Duration = Duration::from_secs(90);
/// The big trace's index in the generator: one with a failing tool call (`t % 7 == 3`),
/// after the list's.
const BIG_TRACE: u64 = 100_005;
/// More rows than this in the DOM means the list is not virtualized.
const MAX_DOM_ROWS: u64 = 120;

async fn big_checks(
    client: &Client,
    base: &str,
    big_id: &str,
    shots: &Screenshots,
) -> Result<(), String> {
    let started = Instant::now();
    client.goto(base).await.map_err(|e| e.to_string())?;
    wait_js(
        client,
        "return document.querySelectorAll('[data-testid=trace-row]').length ? true : null;",
        vec![],
    )
    .await?;
    let first_rows = started.elapsed();
    // The list fills while the server indexes (`indexing…`), then holds every trace.
    let list = wait_js_for(
        client,
        "const total = document.querySelector('[data-testid=trace-total]');
         const rows = document.querySelectorAll('[data-testid=trace-row]').length;
         return total && total.textContent === arguments[0] && !document.querySelector('[data-testid=indexing]')
           ? {total: total.textContent, rows} : null;",
        vec![json!(format!("{} traces", group(LIST_TRACES + 1)))],
        BIG_WAIT,
    )
    .await?;
    println!(
        "big file: first rows in {first_rows:?}, all {} listed in {:?}",
        list["total"],
        started.elapsed()
    );
    expect(
        list["total"] == format!("{} traces", group(LIST_TRACES + 1)),
        "the list total",
        &list,
    )?;
    expect(
        list["rows"].as_u64().is_some_and(|n| n <= MAX_DOM_ROWS),
        "only the rows on screen in the DOM",
        &list,
    )?;

    // Scrolled to the end: the last rows load and show; still only a screenful in the DOM.
    client
        .execute(
            "const v = document.querySelector('[data-testid=trace-rows]'); v.scrollTop = v.scrollHeight; return true;",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let end = wait_js(
        client,
        "const v = document.querySelector('[data-testid=trace-rows]');
         const rows = [...v.querySelectorAll('[data-testid=trace-row]')];
         const bottom = v.scrollTop + v.clientHeight;
         const last = rows.find(r => Math.abs(r.getBoundingClientRect().bottom - v.getBoundingClientRect().bottom) < 40);
         return last && bottom >= v.scrollHeight - 2 ? {rows: rows.length, last: last.dataset.traceId} : null;",
        vec![],
    )
    .await?;
    expect(
        end["rows"].as_u64().is_some_and(|n| n <= MAX_DOM_ROWS),
        "only the rows on screen after scrolling",
        &end,
    )?;
    shots.save(client, "big-list").await;

    // Sorted by span count, the big trace comes first.
    click(client, "[data-testid=sort-spans]").await?;
    let top = wait_js(
        client,
        "const r = document.querySelector('[data-testid=trace-rows]').querySelector('[data-testid=trace-row]');
         return r && location.hash.includes('sort=spans') ? {id: r.dataset.traceId, spans: r.querySelector('[data-testid=cell-spans]').textContent} : null;",
        vec![],
    )
    .await?;
    expect(
        top["id"] == big_id && top["spans"] == group(BIG_TRACE_SPANS),
        "the biggest trace first",
        &top,
    )?;

    // Errors only: the big trace alone (the one-span traces have none).
    click(client, "[data-testid=filter-errors]").await?;
    let errors = wait_js(
        client,
        "const total = document.querySelector('[data-testid=trace-total]').textContent;
         const rows = [...document.querySelectorAll('[data-testid=trace-row]')];
         return location.hash.includes('errors=1') && total !== arguments[0]
           ? {total, rows: rows.map(r => [r.dataset.traceId, r.querySelector('[data-testid=cell-errors]').textContent])} : null;",
        vec![list["total"].clone()],
    )
    .await?;
    expect(
        errors["total"] == "1 trace" && errors["rows"] == json!([[big_id, "1"]]),
        "errors-only rows",
        &errors,
    )?;

    // The 20k-span trace: a screenful of rows, the last span reachable, collapse, zoom.
    let started = Instant::now();
    client
        .goto(&format!("{base}#/trace/{big_id}"))
        .await
        .map_err(|e| e.to_string())?;
    let opened = wait_js_for(
        client,
        "const rows = document.querySelectorAll('[data-testid=span-row]').length;
         const spans = document.querySelector('[data-testid=summary-spans]');
         return rows && spans ? {rows, spans: spans.textContent} : null;",
        vec![],
        BIG_WAIT,
    )
    .await?;
    let fetched = client
        .execute(
            "const e = performance.getEntriesByType('resource').filter(r => r.name.endsWith(`/api/traces/${arguments[0]}`)).pop();
             return e ? {ms: Math.round(e.responseEnd - e.startTime), bytes: e.transferSize} : null;",
            vec![json!(big_id)],
        )
        .await
        .unwrap_or_default();
    println!(
        "big file: trace of {} spans shown in {:?} (its API answer: {fetched})",
        opened["spans"],
        started.elapsed()
    );
    expect(
        opened["spans"] == group(BIG_TRACE_SPANS)
            && opened["rows"].as_u64().is_some_and(|n| n <= MAX_DOM_ROWS),
        "a virtualized waterfall",
        &opened,
    )?;
    client
        .execute(
            "const v = document.querySelector('[data-testid=waterfall-rows]'); v.scrollTop = v.scrollHeight; return true;",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let bottom = wait_js(
        client,
        "const v = document.querySelector('[data-testid=waterfall-rows]');
         const rows = [...v.querySelectorAll('[data-testid=span-row]')];
         return v.scrollTop > 0 && v.scrollTop + v.clientHeight >= v.scrollHeight - 2 && rows.length
           ? {rows: rows.length} : null;",
        vec![],
    )
    .await?;
    expect(
        bottom["rows"].as_u64().is_some_and(|n| n <= MAX_DOM_ROWS),
        "a screenful at the end",
        &bottom,
    )?;
    shots.save(client, "big-waterfall").await;
    client
        .execute(
            "document.querySelector('[data-testid=waterfall-rows]').scrollTop = 0; return true;",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    click(
        client,
        "[data-testid=span-row][data-depth='0'] [data-testid=toggle]",
    )
    .await?;
    wait_js(
        client,
        "return document.querySelectorAll('[data-testid=span-row]').length === 1 ? true : null;",
        vec![],
    )
    .await?;
    click(client, "[data-testid=expand-all]").await?;
    click(client, "[data-testid=zoom-in]").await?;
    let zoomed = wait_js(
        client,
        "const label = document.querySelector('[data-testid=zoom-label]').textContent;
         const rows = document.querySelectorAll('[data-testid=span-row]').length;
         return label && rows > 1 ? {label, rows} : null;",
        vec![],
    )
    .await?;
    expect(
        zoomed["label"].as_str().is_some_and(|l| l.contains('–')),
        "the zoomed window",
        &zoomed,
    )?;

    // Dragged left on the time axis side, the window moves later in time.
    let timeline = client
        .find(Locator::Css(
            "[data-testid=span-row][data-depth='0'] .wf-time",
        ))
        .await
        .map_err(|e| e.to_string())?;
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: timeline,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(200)),
            x: -120.0,
            y: 0.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    client
        .perform_actions(drag)
        .await
        .map_err(|e| format!("drag: {e}"))?;
    let panned = wait_js(
        client,
        "const label = document.querySelector('[data-testid=zoom-label]').textContent;
         return label !== arguments[0] ? {label} : null;",
        vec![zoomed["label"].clone()],
    )
    .await?;
    let start = |label: &Value| -> f64 {
        label
            .as_str()
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(f64::NAN)
    };
    expect(
        start(&panned["label"]) > start(&zoomed["label"]),
        "the window panned later",
        &json!({"before": zoomed, "after": panned}),
    )?;

    // Find a span by name among the 5k: typed, then Enter selects a match.
    let find = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("[data-testid=find-span]"))
        .await
        .map_err(|e| e.to_string())?;
    find.send_keys(&("execute_tool".to_owned() + &Key::Enter))
        .await
        .map_err(|e| e.to_string())?;
    let found = wait_js(
        client,
        "const count = document.querySelector('[data-testid=find-count]').textContent;
         const selected = document.querySelector('.wf-row.selected');
         return count.includes(' of ') && selected ? {count, selected: selected.dataset.name,
           highlighted: document.querySelectorAll('.wf-row.is-match').length} : null;",
        vec![],
    )
    .await?;
    expect(
        found["selected"]
            .as_str()
            .is_some_and(|n| n.starts_with("execute_tool"))
            && found["highlighted"].as_u64().is_some_and(|n| n > 0),
        "the found span selected",
        &found,
    )?;
    // No content captured there: the tool span's link to its LLM call is by timing.
    let inferred = wait_js(
        client,
        "const link = document.querySelector('[data-testid=context] [data-testid=tool-link]');
         return link ? link.textContent : null;",
        vec![],
    )
    .await?;
    expect(
        inferred
            .as_str()
            .is_some_and(|t| t.starts_with("← chat") && t.contains("inferred from timing")),
        "the inferred link to the LLM call",
        &inferred,
    )?;

    // The flow of its 3k steps is drawn a chunk at a time.
    click(client, "[data-testid=tab-flow]").await?;
    let flow = wait_js_for(
        client,
        "const steps = document.querySelectorAll('[data-testid=flow-step]').length;
         const more = document.querySelector('[data-testid=flow-more]');
         return steps && more ? {steps, more: more.textContent} : null;",
        vec![],
        BIG_WAIT,
    )
    .await?;
    expect(
        flow["steps"].as_u64().is_some_and(|n| n <= 500),
        "a chunk of the flow",
        &flow,
    )?;
    Ok(())
}

/// `n` with thousands separators, as the page shows counts.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The demo runs the checks look at.
struct Runs {
    paris: AgentAnswer,
    tokyo: AgentAnswer,
    /// Asked a question with HTML in it.
    planted: AgentAnswer,
}

fn expect(ok: bool, what: &str, seen: &Value) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what}: the page showed {seen:#}"))
    }
}

/// Polls `script` (a function body; `arguments` are `args`) until it returns
/// something other than null.
async fn wait_js(client: &Client, script: &str, args: Vec<Value>) -> Result<Value, String> {
    wait_js_for(client, script, args, WAIT).await
}

/// [`wait_js`] with its own timeout (loading a big file in a debug build).
async fn wait_js_for(
    client: &Client,
    script: &str,
    args: Vec<Value>,
    timeout: Duration,
) -> Result<Value, String> {
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    while Instant::now() < deadline {
        match client.execute(script, args.clone()).await {
            Ok(Value::Null) => {}
            Ok(value) => return Ok(value),
            Err(e) => last_error = Some(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = client
        .execute(
            "return document.getElementById('main').innerText.slice(0, 3000);",
            vec![],
        )
        .await
        .unwrap_or_default();
    Err(format!(
        "timed out waiting for {script}\nlast error: {last_error:?}\nthe page: {page}"
    ))
}

/// Clicks the element (a real WebDriver click), waiting for it to exist.
/// The page may redraw the element between finding and clicking it (virtualized rows
/// are redrawn when data arrives): a stale element is found again.
async fn click(client: &Client, selector: &str) -> Result<(), String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let element = client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(selector))
            .await
            .map_err(|e| format!("no {selector}: {e}"))?;
        match element.click().await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(format!("click {selector}: {e}")),
        }
    }
}

/// Runs the demo once, exporting to files under `dir`, with content captured; returns
/// the answer and the trace file.
async fn run_demo(dir: &Path, question: String) -> (AgentAnswer, PathBuf) {
    aitrace::core::emit::set_enabled_without_subscriber(true);
    let telemetry = Telemetry::builder()
        .service_name("aitrace-demo")
        .exporter(Exporter::File {
            dir: dir.to_owned(),
        })
        // The layers' spans go through the global provider: no `tracing` subscriber is
        // needed (a second one could not be installed for the second run).
        .install_subscriber(false)
        .metrics(false)
        .print_tree(false)
        .init()
        .expect("telemetry setup");
    let answer = demo::run(DemoOptions {
        question: Some(question),
        content: Some(ContentPolicy::default().with_mode(CaptureMode::SpanOnly)),
    })
    .await
    .expect("the demo runs");
    let file = telemetry.shutdown().expect("spans go to a trace file");
    (answer, file)
}

/// Appends one OTLP/JSON line with one span to `file`, shaped like the exporter's last
/// line: a child of that trace's root when `span_id` is None (the trace must be in the
/// file), else a new root with that id.
fn append_span(file: &Path, trace_id: &str, name: &str, span_id: Option<&str>) {
    use std::io::Write;
    let text = std::fs::read_to_string(file).expect("the trace file");
    let mut line: Value =
        serde_json::from_str(text.lines().last().expect("a line")).expect("OTLP/JSON");
    let mut root = None;
    for l in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        for span in spans_of(&v) {
            if span["traceId"] == trace_id && span.get("parentSpanId").is_none_or(|p| p == "") {
                root = Some(span.clone());
            }
        }
    }
    let template = root
        .clone()
        .or_else(|| spans_of(&line).first().cloned())
        .expect("a span to copy");
    let start: u128 = template["startTimeUnixNano"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("a start time");
    let mut span = template.clone();
    span["traceId"] = json!(trace_id);
    span["name"] = json!(name);
    span["kind"] = json!(1);
    // A value over the server's 64 KiB cut, for "show all".
    let long = "x".repeat(LONG_VALUE) + "END";
    span["attributes"] = json!([
        {"key": "live.check", "value": {"stringValue": name}},
        {"key": "live.long", "value": {"stringValue": long}},
    ]);
    span["events"] = json!([]);
    span["links"] = json!([]);
    span["status"] = json!({});
    match span_id {
        None => {
            span["spanId"] = json!("00000000000e11e0");
            span["parentSpanId"] = template["spanId"].clone();
            span["startTimeUnixNano"] = json!((start + 1_000_000).to_string());
            span["endTimeUnixNano"] = json!((start + 3_000_000).to_string());
        }
        Some(id) => {
            span["spanId"] = json!(id);
            span.as_object_mut().expect("a span").remove("parentSpanId");
            span["startTimeUnixNano"] = json!((start + 1_000_000_000).to_string());
            span["endTimeUnixNano"] = json!((start + 1_005_000_000).to_string());
        }
    }
    let resource = &mut line["resourceSpans"][0];
    resource["scopeSpans"] =
        json!([{"scope": resource["scopeSpans"][0]["scope"].clone(), "spans": [span]}]);
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .expect("the trace file opens for append");
    writeln!(out, "{}", serde_json::to_string(&line).expect("JSON")).expect("append");
}

fn spans_of(line: &Value) -> Vec<Value> {
    line["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["scopeSpans"].as_array().into_iter().flatten())
        .flat_map(|s| s["spans"].as_array().into_iter().flatten())
        .cloned()
        .collect()
}

/// The chromedriver to use, or None (test skipped) when it or Chromium is missing and
/// the browser is not required.
fn chromedriver() -> Option<PathBuf> {
    let driver = std::env::var_os("AITRACE_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    let browser = chromium();
    let missing = [&driver, &browser].into_iter().find(|p| !p.is_file());
    let Some(missing) = missing else {
        return Some(driver);
    };
    let required = std::env::var("AITRACE_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "AITRACE_REQUIRE_BROWSER=1 but {} is missing (scripts/chromium.sh install)",
        missing.display()
    );
    println!(
        "skipped: {} is missing (scripts/chromium.sh install; AITRACE_REQUIRE_BROWSER=1 makes this a failure)",
        missing.display()
    );
    None
}

/// The Chromium binary chromedriver starts.
fn chromium() -> PathBuf {
    std::env::var_os("AITRACE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// chromedriver on a free loopback port, killed on drop.
struct ChromeDriver {
    child: Child,
    port: u16,
}

impl ChromeDriver {
    fn start(path: &Path) -> ChromeDriver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
        ChromeDriver { child, port }
    }

    /// A WebDriver session of headless Chromium with a fresh profile.
    async fn connect(&self, profile: &Path) -> Client {
        let browser = chromium();
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": browser.display().to_string(),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=1400,1000",
                         format!("--user-data-dir={}", profile.display())],
            }),
        );
        let url = format!("http://127.0.0.1:{}", self.port);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => return client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session at {url}: {e}"),
            }
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The screenshots that `AITRACE_UPDATE_SCREENSHOTS=1` copies to `docs/screenshots/`.
const README_VIEWS: &[&str] = &[
    "list",
    "waterfall",
    "context",
    "state",
    "flow",
    "compare",
    "live",
];

/// Where the screenshots go.
struct Screenshots {
    dir: PathBuf,
    docs: Option<PathBuf>,
}

impl Screenshots {
    fn new() -> Screenshots {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace")
            .to_owned();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let dir = target.join("viewer-screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshot folder");
        let docs = std::env::var("AITRACE_UPDATE_SCREENSHOTS")
            .is_ok_and(|v| v == "1")
            .then(|| root.join("docs/screenshots"));
        if let Some(docs) = &docs {
            std::fs::create_dir_all(docs).expect("docs/screenshots");
        }
        Screenshots { dir, docs }
    }

    async fn save(&self, client: &Client, name: &str) {
        // Let the last frame paint.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = match client.screenshot().await {
            Ok(png) => png,
            Err(e) => {
                println!("screenshot {name} failed: {e}");
                return;
            }
        };
        let file = format!("viewer-{name}.png");
        std::fs::write(self.dir.join(&file), &png).expect("write the screenshot");
        // The README shows the demo's main views.
        if let (Some(docs), true) = (&self.docs, README_VIEWS.contains(&name)) {
            std::fs::write(docs.join(&file), &png).expect("write the README screenshot");
        }
    }
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("aitrace-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
