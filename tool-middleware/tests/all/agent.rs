//! Agent runs: the invoke_agent / invoke_workflow spans and their run totals, nested and
//! across spawned tasks, through `agent::run` and `AgentLayer`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aitrace_core::conventions::{self as c, Provider};
use aitrace_core::cost::Cost;
use aitrace_core::run::RunTotals;
use aitrace_tool::agent::{self, AgentInfo, AgentLayer};
use aitrace_tool::tool::{ToolInvocation, ToolLayer};
use opentelemetry::trace::{FutureExt as _, SpanKind, Status};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;
use serde_json::{json, Value};
use tower::util::BoxCloneService;
use tower::{Layer as _, ServiceBuilder, ServiceExt as _};
use tracing::Instrument as _;

use crate::helpers::{
    attr, double, error_description, event, int, string, traced, Chat, FakeLlm, Trace,
};

type Tools = BoxCloneService<ToolInvocation, Value, Infallible>;

fn tools() -> Tools {
    BoxCloneService::new(ToolLayer::new().layer(tower::service_fn(
        |call: ToolInvocation| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok::<_, Infallible>(json!({ "tool": call.name }))
        },
    )))
}

/// The totals an agent span must carry: the sums over the LLM and tool spans below it.
fn assert_totals_are_the_sum_of_children(trace: &Trace, agent: &SpanData) {
    let below = |prefix: &str| -> Vec<&SpanData> {
        trace
            .starting_with(prefix)
            .into_iter()
            .filter(|s| trace.descends_from(s, agent))
            .collect()
    };
    let chats = below("chat ");
    let tools = below("execute_tool ");
    assert!(!chats.is_empty());
    let sum = |key: &str| chats.iter().map(|s| int(s, key)).sum::<i64>();
    assert_eq!(
        int(agent, c::GEN_AI_USAGE_INPUT_TOKENS),
        sum(c::GEN_AI_USAGE_INPUT_TOKENS),
        "{}",
        agent.name
    );
    assert_eq!(
        int(agent, c::GEN_AI_USAGE_OUTPUT_TOKENS),
        sum(c::GEN_AI_USAGE_OUTPUT_TOKENS)
    );
    let cost: f64 = chats.iter().map(|s| double(s, c::GEN_AI_USAGE_COST)).sum();
    assert!(
        (double(agent, c::GEN_AI_USAGE_COST) - cost).abs() < 1e-12,
        "{} vs {cost}",
        double(agent, c::GEN_AI_USAGE_COST)
    );
    assert_eq!(int(agent, c::AITRACE_RUN_LLM_CALLS), chats.len() as i64);
    assert_eq!(int(agent, c::AITRACE_RUN_TOOL_CALLS), tools.len() as i64);
}

/// The agent's own step, instrumented as users do: its `tracing` span is created
/// inside the run, so it carries the run into the task it is given to.
#[tracing::instrument(skip_all)]
async fn research_step(llm: FakeLlm, tools: Tools) -> (String, RunTotals) {
    let task = async move {
        // The sub-agent starts inside the spawned task, under the span's context.
        agent::run(AgentInfo::new("researcher"), async move {
            let reply = llm
                .oneshot(Chat::new("claude-sonnet-4", 800, 150, 2_000_000_000))
                .await
                .unwrap();
            tools
                .oneshot(ToolInvocation::new(
                    "read_page",
                    json!({"url": "https://example.com"}),
                ))
                .await
                .unwrap();
            reply
        })
        .await
    };
    tokio::spawn(task.instrument(tracing::Span::current()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_totals_equal_the_sum_of_its_children_including_a_spawned_sub_agent() {
    let llm = FakeLlm::default();
    let tools = tools();
    let info = AgentInfo::new("planner")
        .with_id("agt-1")
        .with_description("Plans trips")
        .with_version("2.0")
        .with_conversation_id("conv-42");

    let ((sub, totals), trace) = traced(|| {
        agent::run(info, {
            let (llm, tools) = (llm.clone(), tools.clone());
            async move {
                llm.clone()
                    .oneshot(Chat::new("gpt-4o", 1_200, 300, 4_500_000_000))
                    .await
                    .unwrap();
                tools
                    .clone()
                    .oneshot(ToolInvocation::new(
                        "search_flights",
                        json!({"to": "Lisbon"}),
                    ))
                    .await
                    .unwrap();
                research_step(llm, tools).await
            }
        })
    })
    .await;

    // Returned totals: 2 LLM calls and 2 tool calls, the sub-agent's included.
    assert_eq!(totals.llm_calls, 2);
    assert_eq!(totals.tool_calls, 2);
    assert_eq!(totals.usage.input_tokens, 2_000);
    assert_eq!(totals.usage.output_tokens, 450);
    assert_eq!(totals.cost, Cost::from_picodollars(6_500_000_000));
    let (reply, sub_totals) = sub;
    assert_eq!(reply, "reply from claude-sonnet-4");
    assert_eq!((sub_totals.llm_calls, sub_totals.tool_calls), (1, 1));

    let planner = trace.span("invoke_agent planner");
    assert_eq!(planner.span_kind, SpanKind::Internal);
    assert_eq!(planner.parent_span_id, trace.root().span_context.span_id());
    assert_eq!(planner.status, Status::Unset);
    for kv in [
        KeyValue::new(c::GEN_AI_OPERATION_NAME, "invoke_agent"),
        KeyValue::new(c::GEN_AI_AGENT_NAME, "planner"),
        KeyValue::new(c::GEN_AI_AGENT_ID, "agt-1"),
        KeyValue::new(c::GEN_AI_AGENT_DESCRIPTION, "Plans trips"),
        KeyValue::new(c::GEN_AI_AGENT_VERSION, "2.0"),
        KeyValue::new(c::GEN_AI_CONVERSATION_ID, "conv-42"),
        KeyValue::new(c::GEN_AI_USAGE_INPUT_TOKENS, 2_000_i64),
        KeyValue::new(c::GEN_AI_USAGE_OUTPUT_TOKENS, 450_i64),
        KeyValue::new(c::GEN_AI_USAGE_COST, 0.0065),
        KeyValue::new(c::AITRACE_RUN_LLM_CALLS, 2_i64),
        KeyValue::new(c::AITRACE_RUN_TOOL_CALLS, 2_i64),
    ] {
        assert!(
            planner.attributes.contains(&kv),
            "missing {kv:?}: {:#?}",
            planner.attributes
        );
    }

    // The tree: planner > {chat gpt-4o, execute_tool search_flights, research_step >
    // invoke_agent researcher > {chat claude-sonnet-4, execute_tool read_page}}.
    let planner_id = planner.span_context.span_id();
    assert_eq!(trace.span("chat gpt-4o").parent_span_id, planner_id);
    assert_eq!(
        trace.span("execute_tool search_flights").parent_span_id,
        planner_id
    );
    let step = trace.span("research_step");
    assert_eq!(step.parent_span_id, planner_id);
    let researcher = trace.span("invoke_agent researcher");
    assert_eq!(researcher.parent_span_id, step.span_context.span_id());
    let researcher_id = researcher.span_context.span_id();
    assert_eq!(
        trace.span("chat claude-sonnet-4").parent_span_id,
        researcher_id
    );
    assert_eq!(
        trace.span("execute_tool read_page").parent_span_id,
        researcher_id
    );

    // Totals on the spans are the sums of their children's span attributes.
    assert_totals_are_the_sum_of_children(&trace, planner);
    assert_totals_are_the_sum_of_children(&trace, researcher);
    assert_eq!(int(researcher, c::AITRACE_RUN_LLM_CALLS), 1);
    assert_eq!(int(researcher, c::GEN_AI_USAGE_INPUT_TOKENS), 800);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_spawned_with_the_otel_context_or_made_before_spawning_roll_up() {
    let llm = FakeLlm::default();
    let ((_, totals), trace) = traced(|| {
        agent::run(AgentInfo::new("fan-out"), {
            let llm = llm.clone();
            async move {
                // Plain work in a task that carries the current OpenTelemetry context.
                let direct = tokio::spawn(
                    llm.clone()
                        .oneshot(Chat::new("gpt-4o-mini", 100, 10, 15_000_000))
                        .with_current_context(),
                );
                // A sub-agent made before spawning: it captured the context when made.
                let sub = tokio::spawn(agent::run(AgentInfo::new("helper"), {
                    let llm = llm.clone();
                    async move {
                        llm.oneshot(Chat::new("gpt-4o-mini", 50, 5, 7_500_000))
                            .await
                    }
                }));
                direct.await.unwrap().unwrap();
                sub.await.unwrap().0.unwrap();
            }
        })
    })
    .await;
    assert_eq!(totals.llm_calls, 2);
    assert_eq!(totals.usage.input_tokens, 150);
    let fan_out = trace.span("invoke_agent fan-out");
    let helper = trace.span("invoke_agent helper");
    assert_eq!(helper.parent_span_id, fan_out.span_context.span_id());
    assert_totals_are_the_sum_of_children(&trace, fan_out);
    assert_eq!(trace.starting_with("chat ").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_instrumented_with_a_span_from_before_the_run_is_outside_it() {
    // Documented limit: the caller's span, entered before the run, does not carry it.
    let llm = FakeLlm::default();
    let ((_, totals), trace) = traced(|| async {
        let outer = tracing::Span::current();
        agent::run(AgentInfo::new("leaky"), async move {
            tokio::spawn(
                llm.oneshot(Chat::new("gpt-4o-mini", 100, 10, 15_000_000))
                    .instrument(outer),
            )
            .await
            .unwrap()
        })
        .await
    })
    .await;
    assert_eq!(totals.llm_calls, 0);
    let chat = trace.span("chat gpt-4o-mini");
    assert_eq!(chat.parent_span_id, trace.root().span_context.span_id());
}

#[derive(Debug)]
struct AgentError;

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("could not answer")
    }
}

struct Question {
    session: &'static str,
    text: &'static str,
}

#[tokio::test]
async fn agent_layer_makes_a_run_per_request() {
    let llm = FakeLlm::default();
    let tools = tools();
    let seen: Arc<Mutex<Vec<RunTotals>>> = Arc::default();
    let support = ServiceBuilder::new()
        .layer(
            AgentLayer::new(
                AgentInfo::new("support")
                    .with_provider(Provider::OpenAi)
                    .with_openinference(true),
            )
            .conversation_id(|q: &Question| Some(q.session.to_owned()))
            .on_end({
                let seen = seen.clone();
                move |totals: &RunTotals| seen.lock().unwrap().push(*totals)
            })
            .classify_error(|_: &AgentError| "agent_failed"),
        )
        .service_fn(move |q: Question| {
            let (llm, tools) = (llm.clone(), tools.clone());
            async move {
                llm.oneshot(Chat::new("gpt-4o", 500, 50, 1_750_000_000))
                    .await
                    .unwrap();
                tools
                    .oneshot(ToolInvocation::new("lookup_order", json!({"q": q.text})))
                    .await
                    .unwrap();
                if q.text == "fail" {
                    return Err(AgentError);
                }
                // Read from inside the run, e.g. to return them in the API response.
                Ok(agent::current_totals().expect("inside a run"))
            }
        });

    let ((ok, failed), trace) = traced(|| async {
        let ok = support
            .clone()
            .oneshot(Question {
                session: "s-1",
                text: "where is my order?",
            })
            .await;
        let failed = support
            .clone()
            .oneshot(Question {
                session: "s-2",
                text: "fail",
            })
            .await;
        (ok, failed)
    })
    .await;
    let ok = ok.unwrap();
    assert_eq!(
        (ok.llm_calls, ok.tool_calls, ok.usage.input_tokens),
        (1, 1, 500)
    );
    assert!(failed.is_err());

    let runs = trace.all("invoke_agent support");
    assert_eq!(runs.len(), 2);
    for (run, session) in runs.iter().zip(["s-1", "s-2"]) {
        assert_eq!(
            string(run, c::GEN_AI_CONVERSATION_ID).as_deref(),
            Some(session)
        );
        assert_eq!(
            string(run, c::OPENINFERENCE_SPAN_KIND).as_deref(),
            Some("AGENT")
        );
        assert_eq!(
            string(run, c::GEN_AI_PROVIDER_NAME).as_deref(),
            Some("openai")
        );
        assert_eq!(run.parent_span_id, trace.root().span_context.span_id());
        assert_totals_are_the_sum_of_children(&trace, run);
    }
    assert_eq!(attr(runs[0], c::ERROR_TYPE), None);
    assert_eq!(
        string(runs[1], c::ERROR_TYPE).as_deref(),
        Some("agent_failed")
    );
    assert_eq!(error_description(runs[1]), "could not answer");

    // `on_end` heard each run's totals, the same that are on the spans.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], ok);
    for (totals, run) in seen.iter().zip(&runs) {
        assert_eq!(
            totals.usage.input_tokens as i64,
            int(run, c::GEN_AI_USAGE_INPUT_TOKENS)
        );
        assert_eq!(totals.llm_calls as i64, int(run, c::AITRACE_RUN_LLM_CALLS));
    }
}

#[tokio::test]
async fn agent_layer_directly_over_an_llm_client_sees_calls_started_in_call() {
    // The fake LLM captures the run in `call` itself (as aitrace-llm does): the layer
    // attaches the run's context while the inner `call` runs.
    let llm = FakeLlm::default();
    let agent = AgentLayer::new(AgentInfo::new("thin").with_remote(true)).layer(llm);
    let (reply, trace) = traced(|| agent.oneshot(Chat::new("gpt-4o", 10, 2, 1_000))).await;
    assert_eq!(reply.unwrap(), "reply from gpt-4o");
    let run = trace.span("invoke_agent thin");
    assert_eq!(run.span_kind, SpanKind::Client);
    assert_eq!(
        trace.span("chat gpt-4o").parent_span_id,
        run.span_context.span_id()
    );
    assert_eq!(int(run, c::AITRACE_RUN_LLM_CALLS), 1);
    assert_eq!(int(run, c::GEN_AI_USAGE_INPUT_TOKENS), 10);
}

#[tokio::test]
async fn a_workflow_rolls_up_its_nested_agents() {
    let llm = FakeLlm::default();
    let tools = tools();
    let ((_, totals), trace) = traced(|| {
        agent::run(
            AgentInfo::workflow("trip-planning").with_openinference(true),
            async move {
                for (name, model, input) in
                    [("flights", "gpt-4o", 300), ("hotels", "gpt-4o-mini", 700)]
                {
                    let (llm, tools) = (llm.clone(), tools.clone());
                    agent::run(AgentInfo::new(name), async move {
                        llm.oneshot(Chat::new(model, input, 40, 1_000_000))
                            .await
                            .unwrap();
                        tools
                            .oneshot(ToolInvocation::new("search", json!({})))
                            .await
                            .unwrap();
                    })
                    .await;
                }
            },
        )
    })
    .await;
    assert_eq!((totals.llm_calls, totals.tool_calls), (2, 2));
    assert_eq!(totals.usage.input_tokens, 1_000);

    let workflow = trace.span("invoke_workflow trip-planning");
    for kv in [
        KeyValue::new(c::GEN_AI_OPERATION_NAME, "invoke_workflow"),
        // The merged invocation span: named by gen_ai.agent.name.
        KeyValue::new(c::GEN_AI_AGENT_NAME, "trip-planning"),
        KeyValue::new(c::GEN_AI_WORKFLOW_NAME, "trip-planning"),
        KeyValue::new(c::OPENINFERENCE_SPAN_KIND, "CHAIN"),
    ] {
        assert!(workflow.attributes.contains(&kv), "missing {kv:?}");
    }
    for name in ["invoke_agent flights", "invoke_agent hotels"] {
        let agent = trace.span(name);
        assert_eq!(agent.parent_span_id, workflow.span_context.span_id());
        assert_totals_are_the_sum_of_children(&trace, agent);
    }
    assert_totals_are_the_sum_of_children(&trace, workflow);
}

#[tokio::test]
async fn a_cancelled_run_ends_with_the_totals_so_far() {
    let llm = FakeLlm::default();
    let ((), trace) = traced(|| async {
        let run = agent::run(AgentInfo::new("abandoned"), async move {
            llm.oneshot(Chat::new("gpt-4o", 40, 4, 100)).await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let handle = run.handle().clone();
        tokio::select! {
            _ = run => panic!("cannot finish"),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        // The handle still reads the totals after the run is gone.
        assert_eq!(handle.totals().llm_calls, 1);
    })
    .await;
    let run = trace.span("invoke_agent abandoned");
    assert_eq!(string(run, c::ERROR_TYPE).as_deref(), Some("cancelled"));
    assert!(matches!(run.status, Status::Error { .. }));
    assert_eq!(int(run, c::AITRACE_RUN_LLM_CALLS), 1);
    assert_eq!(int(run, c::GEN_AI_USAGE_INPUT_TOKENS), 40);
}

#[tokio::test]
async fn try_run_marks_errors_and_a_panicking_run_is_recorded() {
    let ((result, totals), trace) = traced(|| {
        agent::try_run(AgentInfo::new("failing"), async {
            Err::<(), _>(std::io::Error::other("upstream said no"))
        })
    })
    .await;
    assert!(result.is_err());
    assert_eq!(totals, RunTotals::default());
    let run = trace.span("invoke_agent failing");
    assert_eq!(string(run, c::ERROR_TYPE).as_deref(), Some("_OTHER"));
    assert_eq!(error_description(run), "upstream said no");
    // No LLM call: no usage claimed, no cost attribute, counts of zero.
    assert_eq!(attr(run, c::GEN_AI_USAGE_COST), None);
    assert_eq!(int(run, c::AITRACE_RUN_LLM_CALLS), 0);

    let ((result, _), trace) = traced(|| {
        agent::run(AgentInfo::new("classified"), async {
            Err::<(), _>(std::io::Error::other("x"))
        })
        .classify_error(|_: &std::io::Error| "io")
    })
    .await;
    assert!(result.is_err());
    let run = trace.span("invoke_agent classified");
    assert_eq!(string(run, c::ERROR_TYPE).as_deref(), Some("io"));

    let (outcome, trace) = traced(|| {
        futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(agent::run_plain(
            AgentInfo::new("crashing"),
            async { panic!("agent crashed") },
        )))
    })
    .await;
    assert!(outcome.is_err());
    let run = trace.span("invoke_agent crashing");
    assert_eq!(string(run, c::ERROR_TYPE).as_deref(), Some("panic"));
    assert_eq!(
        event(run, "exception")[1],
        KeyValue::new("exception.message", "agent crashed")
    );
    assert_eq!(int(run, c::AITRACE_RUN_TOOL_CALLS), 0);
}

#[tokio::test]
async fn the_runs_question_and_answer_are_recorded_only_when_content_is_captured() {
    use aitrace_core::content::{CaptureMode, ContentPolicy};
    let run_with = |content: ContentPolicy| async move {
        agent::run(AgentInfo::new("qa").with_content(content), async {
            agent::record_input("my key is sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX, what now?");
            agent::record_output("Rotate it.");
        })
        .await
    };
    let (_, trace) =
        traced(|| run_with(ContentPolicy::default().with_mode(CaptureMode::SpanOnly))).await;
    let s = trace.span("invoke_agent qa");
    let input = string(s, c::INPUT_VALUE).expect("input.value");
    assert!(input.starts_with("my key is [REDACTED]"), "{input}");
    assert_eq!(string(s, c::OUTPUT_VALUE).as_deref(), Some("Rotate it."));
    let messages: Value =
        serde_json::from_str(&string(s, c::GEN_AI_OUTPUT_MESSAGES).unwrap()).unwrap();
    assert_eq!(
        messages,
        json!([{"role":"assistant","parts":[{"type":"text","content":"Rotate it."}],"finish_reason":"stop"}])
    );
    let input: Value = serde_json::from_str(&string(s, c::GEN_AI_INPUT_MESSAGES).unwrap()).unwrap();
    assert_eq!(input[0]["role"], "user");

    let (_, trace) =
        traced(|| run_with(ContentPolicy::default().with_mode(CaptureMode::NoContent))).await;
    let s = trace.span("invoke_agent qa");
    for key in [
        c::INPUT_VALUE,
        c::OUTPUT_VALUE,
        c::GEN_AI_INPUT_MESSAGES,
        c::GEN_AI_OUTPUT_MESSAGES,
    ] {
        assert_eq!(attr(s, key), None, "{key}");
    }
}

#[tokio::test]
async fn state_snapshots_are_events_only_when_content_is_captured() {
    use aitrace_core::content::{CaptureMode, ContentPolicy};
    let run_with = |content: ContentPolicy| async move {
        agent::run(AgentInfo::new("stateful").with_content(content), async {
            agent::record_state(
                &json!({"messages": ["hi"], "api_key": "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX"}),
            );
            agent::record_state(&json!({"messages": ["hi", "hello"], "done": true}));
        })
        .await
    };
    agent::record_state(&json!({"outside": "a run: nothing, no panic"}));
    let (_, trace) =
        traced(|| run_with(ContentPolicy::default().with_mode(CaptureMode::SpanOnly))).await;
    let s = trace.span("invoke_agent stateful");
    let states: Vec<Value> = s
        .events
        .iter()
        .filter(|e| e.name == c::AITRACE_AGENT_STATE)
        .map(|e| {
            let kv = e
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == c::AITRACE_AGENT_STATE)
                .expect("the state attribute");
            serde_json::from_str(&kv.value.as_str()).expect("JSON")
        })
        .collect();
    assert_eq!(states.len(), 2);
    assert_eq!(states[0]["messages"], json!(["hi"]));
    assert_ne!(
        states[0]["api_key"], "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX",
        "redacted"
    );
    assert_eq!(
        states[1],
        json!({"messages": ["hi", "hello"], "done": true})
    );

    let (_, trace) =
        traced(|| run_with(ContentPolicy::default().with_mode(CaptureMode::NoContent))).await;
    let s = trace.span("invoke_agent stateful");
    assert!(s.events.iter().all(|e| e.name != c::AITRACE_AGENT_STATE));
}

#[tokio::test]
async fn run_marks_an_err_output_by_default_and_run_plain_does_not() {
    let ((result, _), trace) = traced(|| {
        agent::run(AgentInfo::new("failing-by-default"), async {
            Err::<String, _>(std::io::Error::other("the model refused"))
        })
    })
    .await;
    assert!(result.is_err());
    let run = trace.span("invoke_agent failing-by-default");
    assert_eq!(string(run, c::ERROR_TYPE).as_deref(), Some("_OTHER"));
    assert_eq!(error_description(run), "the model refused");

    let ((answer, _), trace) = traced(|| {
        agent::run(AgentInfo::new("succeeding"), async {
            Ok::<_, std::io::Error>("42")
        })
    })
    .await;
    assert_eq!(answer.ok(), Some("42"));
    let run = trace.span("invoke_agent succeeding");
    assert_eq!(string(run, c::ERROR_TYPE), None);

    let ((result, _), trace) = traced(|| {
        agent::run_plain(AgentInfo::new("unchecked"), async {
            Err::<String, _>(std::io::Error::other("ignored"))
        })
    })
    .await;
    assert!(result.is_err());
    let run = trace.span("invoke_agent unchecked");
    assert_eq!(string(run, c::ERROR_TYPE), None);
}
