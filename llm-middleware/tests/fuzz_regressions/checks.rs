//! The fuzz targets' bodies: each feeds arbitrary bytes to a parser and checks that it
//! does not panic and that its results keep their invariants.
//!
//! Shared, so that the inputs the fuzzer found (`fuzz_regressions/<target>/`) run in
//! a plain `cargo test` through exactly the checks the fuzzer ran: the fuzz targets in
//! `fuzz/` include this file with `#[path]`, and `tests/fuzz_regressions.rs` feeds it
//! the kept inputs.
#![allow(dead_code)]

use aitrace_core::content::{
    safe_message, CaptureMode, ContentPolicy, Redactor, MAX_MESSAGE_BYTES,
};
use aitrace_core::conventions::{NameSet, Provider};
use aitrace_core::cost::PriceTable;
use aitrace_core::json::Scan;
use aitrace_core::url::{redact_query, redact_url, redact_urls_in_text, DEFAULT_SECRET_PARAMS};
use aitrace_core::usage::Usage;
use aitrace_llm::sse::SseParser;
use aitrace_llm::wire::{self, WireFormat};

/// One target's body.
pub type Check = fn(&[u8]);

/// Every target, by the name of its folder of kept inputs.
pub const TARGETS: &[(&str, Check)] = &[
    ("sse", sse),
    ("wire_request", wire_request),
    ("wire_response", wire_response),
    ("wire_stream", wire_stream),
    ("wire_error", wire_error),
    ("price_file", price_file),
    ("redact", redact),
    ("redact_json", redact_json),
    ("redact_url", redact_url_check),
    ("json_scan", json_scan),
];

/// Largest token count the extractors accept (2^53).
const MAX_TOKENS: u64 = 1 << 53;

fn format_of(selector: u8) -> WireFormat {
    match selector % 8 {
        0 => WireFormat::OpenAiChat,
        1 => WireFormat::OpenAiCompletions,
        2 => WireFormat::OpenAiEmbeddings,
        3 => WireFormat::OpenAiResponses,
        4 => WireFormat::AnthropicMessages,
        5 => WireFormat::GeminiGenerate {
            model: "gemini-2.5-flash".into(),
            stream: false,
        },
        6 => WireFormat::GeminiGenerate {
            model: "gemini-2.5-flash".into(),
            stream: true,
        },
        _ => WireFormat::GeminiEmbed {
            model: "text-embedding-004".into(),
        },
    }
}

fn provider_of(selector: u8) -> Provider {
    match selector % 4 {
        0 => Provider::OpenAi,
        1 => Provider::Anthropic,
        2 => Provider::Gemini,
        _ => Provider::Other("fuzz".into()),
    }
}

/// Chunk boundaries taken from a seed, so one input is also read split up.
fn chunks(data: &[u8], seed: u8) -> Vec<&[u8]> {
    let size = usize::from(seed % 17) + 1;
    data.chunks(size).collect()
}

fn check_usage(usage: &Usage) {
    for v in [
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_input_tokens,
        usage.cache_creation_input_tokens,
        usage.reasoning_output_tokens,
    ] {
        // Anthropic's input is the sum of three checked counts.
        assert!(v <= 3 * MAX_TOKENS, "absurd token count {v} accepted");
    }
    let _ = usage.attributes(NameSet::default());
    let _ = usage.total_tokens();
    let _ = PriceTable::embedded().cost(Some(&Provider::OpenAi), "gpt-4o-mini", usage);
}

fn check_captured(value: Option<&serde_json::Value>) {
    if let Some(v) = value {
        let policy = ContentPolicy::default().with_mode(CaptureMode::SpanOnly);
        let text = policy.capture_json(v).expect("capture on");
        serde_json::from_str::<serde_json::Value>(&text).expect("captured content is JSON");
    }
}

/// The SSE parser: any split of the input gives the same events; no event is larger
/// than the limit; a cut is reported the same way.
pub fn sse(data: &[u8]) {
    let Some((&seed, body)) = data.split_first() else {
        return;
    };
    let max = 16 + usize::from(seed) * 4;
    let run = |parts: &[&[u8]]| {
        let mut parser = SseParser::new(max);
        let mut events = Vec::new();
        for part in parts {
            parser.feed(part, |e| {
                assert!(
                    e.data.len() <= max,
                    "event of {} > {max} bytes",
                    e.data.len()
                );
                events.push((e.event.to_owned(), e.data.to_vec()));
            });
        }
        let cut = parser.finish();
        (events, cut, parser.oversized_events())
    };
    let whole = run(&[body]);
    let split = run(&chunks(body, seed));
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    let by_byte = run(&bytes);
    assert_eq!(whole, split, "chunking changed the events");
    assert_eq!(whole, by_byte, "byte-by-byte feeding changed the events");
}

/// Request extractors of every format, with and without content capture.
pub fn wire_request(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = format_of(selector);
    let provider = provider_of(selector >> 3);
    for capture in [false, true] {
        if let Ok(info) = wire::parse_request(&format, provider.clone(), body, capture) {
            if capture {
                check_captured(info.input_messages.as_ref());
                check_captured(info.system_instructions.as_ref());
            } else {
                assert!(
                    info.input_messages.is_none(),
                    "content read with capture off"
                );
            }
            let _ = aitrace_core::conventions::inference_span_name(
                info.operation,
                info.model.as_deref(),
            );
        }
    }
}

/// Response extractors of every format.
pub fn wire_response(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = format_of(selector);
    for capture in [false, true] {
        match wire::parse_response(&format, body, capture) {
            Ok(info) => {
                if let Some(u) = &info.usage {
                    check_usage(u);
                }
                if capture {
                    check_captured(info.output_messages.as_ref());
                } else {
                    assert!(
                        info.output_messages.is_none(),
                        "content read with capture off"
                    );
                }
            }
            Err(e) => {
                let _ = e.marker();
                let _ = e.to_string();
            }
        }
    }
}

/// Stream accumulators of every format, fed through the SSE parser in chunks.
pub fn wire_stream(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = format_of(selector);
    let capture = selector & 0x80 != 0;
    let mut parser = SseParser::new(4096);
    let mut acc = wire::stream_accumulator(&format, capture);
    for part in chunks(body, selector) {
        parser.feed(part, |event| {
            if let Err(e) = acc.on_event(event) {
                let _ = e.marker();
            }
            if let Some(u) = &acc.info().usage {
                check_usage(u);
            }
        });
    }
    let _ = parser.finish();
    let _ = acc.stream_error();
    let _ = acc.completed();
    let info = acc.finish();
    if let Some(u) = &info.usage {
        check_usage(u);
    }
    if capture {
        check_captured(info.output_messages.as_ref());
    } else {
        assert!(
            info.output_messages.is_none(),
            "content read with capture off"
        );
    }
}

/// Provider error bodies.
pub fn wire_error(data: &[u8]) {
    if let Some((kind, message)) = wire::parse_error(data) {
        let safe = safe_message(&message);
        assert!(safe.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
        let _ = kind;
    }
}

/// The price-file loader: what it accepts can be looked up and priced.
pub fn price_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut table = PriceTable::new();
    match table.load_json_str(&text, "fuzz") {
        Ok(added) => {
            assert!(added >= 1);
            assert!(!table.is_empty() && table.len() <= added);
            let huge = Usage::new(MAX_TOKENS * 3, MAX_TOKENS)
                .with_cache_read(MAX_TOKENS)
                .with_cache_creation(MAX_TOKENS)
                .with_reasoning(MAX_TOKENS);
            let entries: Vec<_> = table.entries().cloned().collect();
            for entry in entries.iter().take(64) {
                let found = table.lookup(entry.provider.as_ref(), &entry.model);
                assert!(found.is_some(), "entry {:?} cannot be found", entry.model);
                if !entry.model.trim().is_empty() {
                    let cost = table
                        .cost(entry.provider.as_ref(), &entry.model, &huge)
                        .expect("a loaded model has a price");
                    assert!(cost.usd().is_finite());
                    let _ = cost.to_string();
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// The secret redactor, content sanitizing, safe messages and URL redaction: a
/// planted key never survives, redacting twice changes nothing more, and captured
/// JSON stays JSON.
pub fn redact(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let r = Redactor::default();
    let once = r.redact(&text).into_owned();
    assert_eq!(r.redact(&once), once, "redaction is not idempotent");

    // A key planted anywhere, after a separator, is gone.
    let secret: String = data
        .iter()
        .map(|b| char::from(b'a' + b % 26))
        .chain("KEYBODY0123456789".chars())
        .take(40)
        .collect();
    let planted = format!("{text} sk-proj-{secret} {text}");
    let out = r.redact(&planted);
    assert!(!out.contains(&secret), "planted key survived: {out}");
    let bearer = format!("{text}\nAuthorization: Bearer {secret}\n");
    assert!(!r.redact(&bearer).contains(&secret));

    let safe = safe_message(&planted);
    assert!(!safe.contains(&secret));
    assert!(safe.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());

    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        check_captured(Some(&value));
    }

    // URLs: credentials and secret query values never survive.
    let _ = redact_url(&text, DEFAULT_SECRET_PARAMS);
    let _ = redact_query(&text, DEFAULT_SECRET_PARAMS);
    let url_safe: String = secret.chars().filter(char::is_ascii_alphanumeric).collect();
    let path: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '.'))
        .take(64)
        .collect();
    let url = format!(
        "https://user:PW{url_safe}@api.example.com/{path}?q={path}&api_key=K{url_safe}&x=1"
    );
    let out = redact_url(&url, DEFAULT_SECRET_PARAMS);
    assert!(!out.contains(&format!("PW{url_safe}")), "{out}");
    assert!(!out.contains(&format!("K{url_safe}")), "{out}");
}

/// Letters and digits made from the input, `len` long (a planted secret's body).
fn alnum(data: &[u8], salt: u8, len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|i| {
            let b = data.get(i).copied().unwrap_or(0);
            char::from(CHARS[(usize::from(b ^ salt) + i * 7) % CHARS.len()])
        })
        .collect()
}

/// Secret names in the spellings users write them (camelCase, kebab-case, snake_case).
const SECRET_NAMES: &[&str] = &[
    "password",
    "accessToken",
    "refresh-token",
    "client_secret",
    "privateKey",
    "api_key",
    "X-Api-Key",
    "githubToken",
    "db.password",
    "SESSION_TOKEN",
];

/// The redactor over JSON-encoded and nested input: the input's text is wrapped in JSON
/// up to four times over (a JSON string holding JSON, as agents send tool results
/// back), with a value under a secret name, a provider key after an escaped newline and
/// a bare JWT planted at the innermost level. Whether read raw or sanitized as captured
/// content, none survives, and captured content stays JSON.
pub fn redact_json(data: &[u8]) {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let name = SECRET_NAMES[usize::from(seed) % SECRET_NAMES.len()];
    let secret = format!("Q{}", alnum(rest, 0x11, 23));
    let key = format!("sk-proj-{}", alnum(rest, 0x22, 24));
    let jwt = format!(
        "eyJ{}.eyJ{}.{}",
        alnum(rest, 0x33, 17),
        alnum(rest, 0x44, 20),
        alnum(rest, 0x55, 12)
    );
    let mut value = serde_json::json!({
        "note": text,
        name: secret,
        "log": format!("{text}\n{key}"),
        "session": format!("{text} {jwt}"),
        "n": seed,
    });
    for _ in 0..(seed >> 4) % 5 {
        value = serde_json::json!({"content": value.to_string(), "text": text, "role": "tool"});
    }
    let r = Redactor::default();
    let raw = value.to_string();
    let redacted = r.redact(&raw);
    let policy = ContentPolicy::default().with_mode(CaptureMode::SpanOnly);
    let captured = policy.capture_json(&value).expect("capture on");
    serde_json::from_str::<serde_json::Value>(&captured).expect("captured content is JSON");
    for (what, out) in [("raw", redacted.as_ref()), ("captured", captured.as_str())] {
        for planted in [secret.as_str(), &key[8..], &jwt[3..20]] {
            assert!(
                !out.contains(planted),
                "{what}: {planted} under {name:?} survived in {out}"
            );
        }
    }
}

/// URL redaction: credentials, secret query parameters (named in any case and with any
/// separators, or with key-shaped values) and keys in the path never survive, in a URL
/// or in a message quoting it; and any text goes through without a panic.
pub fn redact_url_check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = redact_url(&text, DEFAULT_SECRET_PARAMS);
    let _ = redact_query(&text, DEFAULT_SECRET_PARAMS);
    let _ = redact_urls_in_text(&text, DEFAULT_SECRET_PARAMS);
    let _ = safe_message(&text);

    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    const NAMES: &[&str] = &[
        "api_token",
        "appid",
        "access_key",
        "subscription-key",
        "private_token",
        "openai_api_key",
        "X-Amz-Signature",
        "clientSecret",
        "key",
        "sig",
        "AUTH",
        "api%5Fkey",
    ];
    let name = NAMES[usize::from(seed) % NAMES.len()];
    // The name in another case, as callers write it.
    let name: String = if seed & 0x80 != 0 {
        name.to_ascii_uppercase()
    } else {
        name.to_owned()
    };
    let secret = format!("P{}", alnum(rest, 0x66, 19));
    let password = format!("W{}", alnum(rest, 0x77, 15));
    let key = format!("sk-proj-{}", alnum(rest, 0x88, 20));
    let path: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '.'))
        .take(48)
        .collect();
    let other: String = text
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let url = format!(
        "https://user:{password}@api.example.com/{path}?q={other}&{name}={secret}&v={key}&units=metric#{other}"
    );
    let message = format!("{text} error sending request for url ({url}): refused {text}");
    for (what, out) in [
        ("url", redact_url(&url, DEFAULT_SECRET_PARAMS)),
        ("text", redact_urls_in_text(&message, DEFAULT_SECRET_PARAMS)),
        ("message", safe_message(&message)),
    ] {
        for planted in [secret.as_str(), password.as_str(), &key[8..]] {
            assert!(
                !out.contains(planted),
                "{what}: {planted} ({name}) survived in {out}"
            );
        }
    }
}

/// `aitrace_core::json::Scan` against serde_json on any text: what it passes over,
/// serde_json accepts; the strings, integers, booleans and doubles it reads are what
/// serde_json reads (doubles also what a correctly rounding reader reads).
pub fn json_scan(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut s = Scan::new(text);
    if s.skip(0).is_some() && s.end().is_some() {
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
            "skipped what serde_json refuses: {text:?}"
        );
    }
    let mut s = Scan::new(text);
    if let Some(ours) = s.string() {
        if s.end().is_some() {
            let theirs: Option<String> = serde_json::from_str(text).ok();
            assert_eq!(theirs.as_deref(), Some(&*ours), "string {text:?}");
        }
    }
    let mut s = Scan::new(text);
    if let Some(ours) = s.opt_i64() {
        if s.end().is_some() {
            let theirs: Option<Option<i64>> = serde_json::from_str(text).ok();
            assert_eq!(theirs, Some(ours), "i64 {text:?}");
        }
    }
    let mut s = Scan::new(text);
    if let Some(ours) = s.u64() {
        if s.end().is_some() {
            let theirs: Option<u64> = serde_json::from_str(text).ok();
            assert_eq!(theirs, Some(ours), "u64 {text:?}");
        }
    }
    let mut s = Scan::new(text);
    if let Some(ours) = s.boolean() {
        if s.end().is_some() {
            let theirs: Option<bool> = serde_json::from_str(text).ok();
            assert_eq!(theirs, Some(ours), "bool {text:?}");
        }
    }
    let mut s = Scan::new(text);
    if let Some(ours) = s.f64() {
        if s.end().is_some() {
            let theirs: Option<f64> = serde_json::from_str(text).ok();
            assert_eq!(
                theirs.map(f64::to_bits),
                Some(ours.to_bits()),
                "f64 {text:?}"
            );
            let exact: f64 = text.trim().parse().expect("a JSON number parses");
            assert_eq!(exact.to_bits(), ours.to_bits(), "f64 rounding {text:?}");
        }
    }
}
