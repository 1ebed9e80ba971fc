//! Memory with the collector unreachable: produces 1,000,000 GenAI spans (an in-process
//! LLM client behind `GenAiLayer`, in an agent run) exporting over OTLP/HTTP to a
//! closed loopback port, and reports RSS growth, wall time and the added time per call.
//!
//! `cargo run --release -p aitrace-examples --bin memory_soak [SPANS]`
//!
//! The batch processor's queue is bounded (2,048 spans): spans the dead collector
//! cannot take are dropped, never buffered, so memory stays flat.

use std::time::Instant;

use aitrace::core::conventions::{Operation, Provider};
use aitrace::core::usage::Usage;
use aitrace::llm::{
    GenAiConfig, GenAiLayer, GenAiRequest, GenAiResponse, RequestInfo, ResponseInfo,
};
use aitrace::{Exporter, Protocol, Telemetry};
use aitrace_examples::demo;
use tower::{service_fn, Layer, Service, ServiceExt};

struct Ask;
impl GenAiRequest for Ask {
    fn gen_ai_request(&self) -> RequestInfo {
        RequestInfo::new(
            Provider::OpenAi,
            Operation::Chat,
            Some("gpt-4o-mini".to_owned()),
        )
    }
}

struct Answer;
impl GenAiResponse for Answer {
    fn gen_ai_response(&self) -> ResponseInfo {
        ResponseInfo {
            id: Some("chatcmpl-soak".to_owned()),
            model: Some("gpt-4o-mini-2024-07-18".to_owned()),
            finish_reasons: vec!["stop".to_owned()],
            usage: Some(Usage::new(1200, 300)),
            output_messages: None,
            ..ResponseInfo::default()
        }
    }
}

/// Resident set size in bytes (Linux `/proc/self/statm`).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[tokio::main]
async fn main() -> Result<(), demo::BoxError> {
    let spans: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    // A port nothing listens on: bind, note, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let telemetry = Telemetry::builder()
        .service_name("memory-soak")
        .exporter(Exporter::Otlp {
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            protocol: Protocol::HttpProtobuf,
        })
        .log_layer(false)
        .init()?;
    let mut client = GenAiLayer::new(GenAiConfig::default()).layer(service_fn(|_: Ask| async {
        Ok::<_, std::io::Error>(Answer)
    }));

    // Warm up (allocator pools, lazily made instruments), then measure.
    for _ in 0..10_000 {
        client.ready().await?.call(Ask).await?;
    }
    let before = rss();
    let started = Instant::now();
    let mut peak = before;
    for i in 0..spans {
        client.ready().await?.call(Ask).await?;
        if i % 100_000 == 0 {
            peak = peak.max(rss());
        }
    }
    let elapsed = started.elapsed();
    let after = rss();
    peak = peak.max(after);
    println!("spans produced:        {spans}");
    println!("collector:             unreachable (127.0.0.1:{port}, closed)");
    println!(
        "wall time:             {:.2} s ({:.0} ns per call)",
        elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / spans as f64
    );
    println!(
        "RSS before / after:    {:.1} MiB / {:.1} MiB",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0
    );
    println!(
        "RSS growth (peak):     {:.1} MiB",
        (peak.saturating_sub(before)) as f64 / 1048576.0
    );
    let shutdown = Instant::now();
    telemetry.shutdown();
    println!(
        "shutdown:              {:.2} s",
        shutdown.elapsed().as_secs_f64()
    );
    Ok(())
}
