//! The secret redactor on what it sees most: clean prose (a prompt or completion, no
//! secret: the common case), a JSON tool result holding secrets, and a short error
//! message, plus the URL redaction of a request URL.
//!
//! Run: `cargo bench -p aitrace-core --bench redact`.

use std::hint::black_box;

use aitrace_core::content::{safe_message, Redactor};
use aitrace_core::url::{redact_url, DEFAULT_SECRET_PARAMS};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn prose() -> String {
    let sentence = "The weather in Tokyo is clear, 17 degrees; take_a_walk before the rain \
                    arrives at 18:00 (see the forecast-service for details). ";
    sentence.repeat(4096 / sentence.len() + 1)
}

fn tool_result() -> String {
    let item = r#"{"city":"Tokyo","celsius":17,"note":"fetched with token ghp_abcdefghijklmnopqrstuvwxyz0123","credentials":{"password":"hunter2hunter2","api_key":"sk-proj-abcdefghijklmnopqrstuvwxyz"}},"#;
    format!("[{}]", item.repeat(4096 / item.len() + 1))
}

fn bench(c: &mut Criterion) {
    let r = Redactor::default();
    let mut group = c.benchmark_group("redact");
    for (name, text) in [("prose_4k", prose()), ("json_secrets_4k", tool_result())] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| b.iter(|| r.redact(black_box(&text)).len()));
    }
    group.finish();
    let message =
        "error sending request for url (http://127.0.0.1:9/v1/chat/completions?key=abc123&q=1): \
                   connection refused (os error 111)";
    c.bench_function("safe_message_error", |b| {
        b.iter(|| safe_message(black_box(message)).len())
    });
    let url = "https://api.example.com/v1/models/gemini-2.5-flash:generateContent?key=abc123&alt=sse&page_token=x";
    c.bench_function("redact_url", |b| {
        b.iter(|| redact_url(black_box(url), DEFAULT_SECRET_PARAMS).len())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
