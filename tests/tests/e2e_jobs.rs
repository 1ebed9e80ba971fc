//! The seeds' scenario end to end, as one trace: an HTTP request to the jobs agent, its
//! agent run and LLM call, a job published to a real nats-server, a worker in another
//! process (`e2e-job-worker`) that processes it, calls the real Python gRPC worker
//! (grpcio + opentelemetry-instrumentation-grpc) as a tool and makes an LLM call. All
//! three processes export OTLP/HTTP to one local receiver; the test checks the
//! exported spans: kinds, names, attributes, parents, the services they came from,
//! and that the agent's run totals include the worker's calls.
//!
//! Needs `scripts/nats.sh start` (`AITRACE_NATS_URL`) and `scripts/pyworker.sh
//! install` (`AITRACE_PYWORKER_PYTHON`): `scripts/test-all.sh` does both.

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use aitrace::{Exporter, Protocol, Telemetry};
use aitrace_examples::demo::{self, AgentAnswer};
use aitrace_examples::jobs::agent::{self, JobsAgentConfig};
use common::peers::{
    child_of, hex, nats_url, one, start_pyworker, trace_spans, wait_for_line, Got, Process,
};
use common::receiver::Receiver;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs nats-server and the Python worker: scripts/test-all.sh starts them and runs this"]
async fn http_agent_queue_worker_and_python_grpc_are_one_trace() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();
    let subject = format!("jobs.e2e.{}", std::process::id());

    // The Python gRPC worker, exporting to the same receiver.
    let (python, grpc_port) = start_pyworker(&endpoint, "weather-py");

    // This process: the agent service and the mock LLM.
    let telemetry = Telemetry::builder()
        .service_name("jobs-agent")
        .exporter(Exporter::Otlp {
            endpoint: Some(endpoint.clone()),
            protocol: Protocol::HttpProtobuf,
        })
        .log_layer(false)
        .metrics(false)
        .init()
        .expect("telemetry setup");
    let llm = demo::llm::start().await.unwrap();

    // The worker process: one job, then it flushes and exits.
    let mut worker = Command::new(env!("CARGO_BIN_EXE_e2e-job-worker"))
        .env("AITRACE_NATS_URL", nats_url())
        .env("AITRACE_JOBS_SUBJECT", &subject)
        .env("AITRACE_LLM_BASE", format!("http://{llm}/v1"))
        .env("AITRACE_FORECAST_ADDR", format!("127.0.0.1:{grpc_port}"))
        .env("AITRACE_JOBS_MAX", "1")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_METRICS_EXPORTER", "none")
        .env("OTEL_LOGS_EXPORTER", "none")
        .env_remove("OTEL_SERVICE_NAME")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the job worker");
    wait_for_line(&mut worker, "ready");
    let mut worker = Process(worker);

    let nats = async_nats::connect(nats_url()).await.unwrap();
    let agent_addr = agent::start(JobsAgentConfig {
        llm_base: format!("http://{llm}/v1"),
        nats,
        subject: subject.clone(),
        content: aitrace::core::content::ContentPolicy::default(),
    })
    .await
    .unwrap();
    let response = reqwest::Client::new()
        .post(format!("http://{agent_addr}/ask"))
        .json(&serde_json::json!({"question": "What is the weather in Tokyo?"}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let answer: AgentAnswer = response.json().await.unwrap();
    assert_eq!(
        answer.answer,
        "It is rainy in Tokyo right now, 17°C. Enjoy your day!"
    );

    // The run's totals include the worker's LLM call and its gRPC tool call.
    assert_eq!(answer.llm_calls, 2);
    assert_eq!(answer.tool_calls, 2);

    // Everyone flushes: the worker exits after its job, Python exports each span.
    let status = tokio::task::spawn_blocking(move || {
        let status = worker.0.wait();
        (status, worker)
    })
    .await
    .unwrap();
    assert!(status.0.unwrap().success());
    telemetry.shutdown();

    let trace_id = hex(&answer.trace_id);
    let mut spans = Vec::new();
    for _ in 0..250 {
        spans = trace_spans(&receiver, &trace_id);
        if spans
            .iter()
            .any(|s| s.service == "weather-py" && s.span.name == "lookup forecast")
            && spans.len() >= 14
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(python);

    let services: HashMap<&str, usize> = spans.iter().fold(HashMap::new(), |mut m, s| {
        *m.entry(s.service.as_str()).or_default() += 1;
        m
    });
    assert!(services.contains_key("jobs-agent"), "{services:?}");
    assert!(services.contains_key("job-worker"), "{services:?}");
    assert!(services.contains_key("weather-py"), "{services:?}");

    // The agent's process.
    let server = one(&spans, "jobs-agent", "POST /ask");
    assert_eq!(server.kind(), SpanKind::Server);
    assert!(server.span.parent_span_id.is_empty());
    let run = one(&spans, "jobs-agent", "invoke_agent jobs-agent");
    child_of(run, server);
    let agent_chat = spans
        .iter()
        .find(|s| s.service == "jobs-agent" && s.span.name == "chat gpt-4o-mini")
        .expect("the agent's LLM call");
    assert_eq!(agent_chat.kind(), SpanKind::Client);
    child_of(agent_chat, run);
    let tool = one(&spans, "jobs-agent", "execute_tool get_weather");
    child_of(tool, run);
    let send = one(&spans, "jobs-agent", &format!("send {subject}"));
    assert_eq!(send.kind(), SpanKind::Producer);
    child_of(send, tool);
    assert_eq!(send.str("messaging.system"), Some("nats"));
    assert_eq!(send.str("messaging.operation.type"), Some("send"));
    assert_eq!(
        send.str("messaging.destination.name"),
        Some(subject.as_str())
    );

    // The worker's process.
    let process = one(&spans, "job-worker", &format!("process {subject}"));
    assert_eq!(process.kind(), SpanKind::Consumer);
    child_of(process, send);
    assert_eq!(process.str("messaging.operation.type"), Some("process"));
    assert!(
        process.span.links.is_empty(),
        "no ambient span to link in the worker"
    );
    let forecast_tool = one(&spans, "job-worker", "execute_tool get_forecast");
    child_of(forecast_tool, process);
    let grpc_client = one(&spans, "job-worker", "aitrace.demo.Weather/Forecast");
    assert_eq!(grpc_client.kind(), SpanKind::Client);
    child_of(grpc_client, forecast_tool);
    assert_eq!(grpc_client.str("rpc.system.name"), Some("grpc"));
    assert_eq!(
        grpc_client.str("rpc.method"),
        Some("aitrace.demo.Weather/Forecast")
    );
    assert_eq!(grpc_client.str("rpc.status_code"), Some("OK"));
    assert_eq!(grpc_client.int("server.port"), Some(i64::from(grpc_port)));
    let worker_chat = spans
        .iter()
        .find(|s| s.service == "job-worker" && s.span.name == "chat gpt-4o-mini")
        .expect("the worker's LLM call");
    child_of(worker_chat, process);
    assert!(worker_chat.int("gen_ai.usage.input_tokens").unwrap() > 0);

    // The Python worker: its server span is a child of the Rust client span.
    let py_server = spans
        .iter()
        .find(|s| s.service == "weather-py" && s.kind() == SpanKind::Server)
        .expect("the Python server span");
    child_of(py_server, grpc_client);
    assert!(py_server
        .span
        .name
        .contains("aitrace.demo.Weather/Forecast"));
    assert_eq!(py_server.str("rpc.system"), Some("grpc"));
    assert_eq!(py_server.str("rpc.service"), Some("aitrace.demo.Weather"));
    assert_eq!(py_server.str("rpc.method"), Some("Forecast"));
    let lookup = one(&spans, "weather-py", "lookup forecast");
    child_of(lookup, py_server);
    assert_eq!(lookup.str("weather.city"), Some("Tokyo"));

    // The run's totals on its span add up both processes' LLM calls.
    let chats: Vec<&Got> = spans
        .iter()
        .filter(|s| s.span.name == "chat gpt-4o-mini")
        .collect();
    assert_eq!(chats.len(), 2);
    let input: i64 = chats
        .iter()
        .filter_map(|c| c.int("gen_ai.usage.input_tokens"))
        .sum();
    assert_eq!(run.int("gen_ai.usage.input_tokens"), Some(input));
    assert_eq!(run.int("aitrace.run.llm_calls"), Some(2));
    assert_eq!(u64::try_from(input).unwrap(), answer.input_tokens);
}
