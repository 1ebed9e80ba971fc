//! With content capture on, Phoenix receives the prompts, answers and tool arguments,
//! with a secret planted in the question redacted.

mod common;

use aitrace::core::content::{CaptureMode, ContentPolicy};
use aitrace::Protocol;

const PLANTED: &str = "sk-proj-PLANTEDsecretKEY0123456789abcdef";

#[tokio::test]
#[ignore = "needs Phoenix running: scripts/test-all.sh starts it and runs this"]
async fn captured_content_arrives_redacted() {
    let project = common::project("capture");
    let question = format!("What is the weather in Tokyo? (my key is {PLANTED})");
    let answer = common::run_scenario(
        Protocol::HttpProtobuf,
        &project,
        Some(ContentPolicy::default().with_mode(CaptureMode::SpanOnly)),
        Some(question),
    )
    .await;
    assert!(answer.answer.contains("Tokyo"), "{}", answer.answer);
    let spans = common::fetch_trace(&project, &answer.trace_id, 9).await;
    let d = common::assert_demo_tree(&spans, &answer);

    let input = d.first.str("gen_ai.input.messages");
    assert!(input.contains("What is the weather in Tokyo?"), "{input}");
    assert!(input.contains("[REDACTED]"), "{input}");
    // The chat's system message is part of its history: first in the input messages.
    let messages: serde_json::Value = serde_json::from_str(input).unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["parts"][0]["content"]
        .as_str()
        .unwrap()
        .contains("helpful weather assistant"));
    let output = d.streamed.str("gen_ai.output.messages");
    assert!(output.contains("clear in Tokyo"), "{output}");
    assert!(d.tool.str("gen_ai.tool.call.arguments").contains("Tokyo"));
    assert!(d
        .tool
        .str("gen_ai.tool.call.result")
        .contains("\"celsius\":17"));
    // The run's question and answer, on the agent span and on the trace's root (the
    // server span), in the names Phoenix's trace list shows.
    for s in [&d.agent, &d.server] {
        let input = s.str("input.value");
        assert!(
            input.contains("What is the weather in Tokyo?"),
            "{}: {input}",
            s.name
        );
        assert!(input.contains("[REDACTED]"), "{input}");
        assert!(
            s.str("output.value").contains("clear in Tokyo"),
            "{}",
            s.name
        );
    }
    assert!(d.agent.str("gen_ai.input.messages").contains("Tokyo"));
    assert!(d
        .agent
        .str("gen_ai.output.messages")
        .contains("clear in Tokyo"));
    // The planted key reached no attribute of any span.
    for s in &spans {
        let all = serde_json::to_string(&s.attributes).unwrap();
        assert!(
            !all.contains("PLANTEDsecret"),
            "{} leaked the key: {all}",
            s.name
        );
    }
}
