//! The demo scenario exported over OTLP/HTTP (protobuf) to Phoenix.

mod common;

use aitrace::Protocol;

#[tokio::test]
#[ignore = "needs Phoenix running: scripts/test-all.sh starts it and runs this"]
async fn demo_over_otlp_http_arrives_as_one_trace() {
    let project = common::project("http");
    let answer = common::run_scenario(Protocol::HttpProtobuf, &project, None, None).await;
    let spans = common::fetch_trace(&project, &answer.trace_id, 9).await;
    let d = common::assert_demo_tree(&spans, &answer);
    common::assert_genai(&d, &answer);
    common::assert_no_content(&spans);
}
