//! The demo scenario exported over OTLP/gRPC to Phoenix.

mod common;

use aitrace::Protocol;

#[tokio::test]
#[ignore = "needs Phoenix running: scripts/test-all.sh starts it and runs this"]
async fn demo_over_otlp_grpc_arrives_as_one_trace() {
    let project = common::project("grpc");
    let answer = common::run_scenario(Protocol::Grpc, &project, None, None).await;
    assert_eq!(
        answer.answer,
        "It is sunny in Paris right now, 21°C. Enjoy your day!"
    );
    let spans = common::fetch_trace(&project, &answer.trace_id, 9).await;
    let d = common::assert_demo_tree(&spans, &answer);
    common::assert_genai(&d, &answer);
    common::assert_no_content(&spans);
}
