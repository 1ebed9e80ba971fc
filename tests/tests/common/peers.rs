//! Other processes of the cross-process tests (the Python gRPC worker, the job worker)
//! and the spans they all export to the local receiver, by service.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;

use super::receiver::Receiver;

/// A child process killed when dropped (a failed assertion must not leave it running).
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for the process to print a line starting with `prefix`; returns that line.
pub fn wait_for_line(child: &mut Child, prefix: &str) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let prefix = prefix.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with(&prefix) {
                let _ = tx.send(line);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the process became ready")
}

pub fn pyworker_python() -> String {
    std::env::var("AITRACE_PYWORKER_PYTHON")
        .expect("AITRACE_PYWORKER_PYTHON: install the worker with scripts/pyworker.sh install")
}

pub fn nats_url() -> String {
    std::env::var("AITRACE_NATS_URL")
        .expect("AITRACE_NATS_URL: start nats-server with scripts/nats.sh start")
}

/// A received span with the service that sent it.
#[derive(Debug, Clone)]
pub struct Got {
    pub service: String,
    pub span: Span,
}

impl Got {
    pub fn id(&self) -> &[u8] {
        &self.span.span_id
    }

    pub fn attr(&self, key: &str) -> Option<&AnyValue> {
        attr(&self.span.attributes, key)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        str_attr(&self.span.attributes, key)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        match self.attr(key) {
            Some(AnyValue::IntValue(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn kind(&self) -> SpanKind {
        SpanKind::try_from(self.span.kind).unwrap_or(SpanKind::Unspecified)
    }
}

/// The value of `key` among OTLP attributes (a span's, a data point's).
pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// The string value of `key` among OTLP attributes.
pub fn str_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attrs, key) {
        Some(AnyValue::StringValue(s)) => Some(s),
        _ => None,
    }
}

pub fn trace_spans(receiver: &Receiver, trace_id: &[u8]) -> Vec<Got> {
    let decoded = receiver.received.decoded.lock().unwrap();
    let mut out = Vec::new();
    for request in decoded.iter() {
        for rs in &request.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(AnyValue::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    if span.trace_id == trace_id {
                        out.push(Got {
                            service: service.clone(),
                            span: span.clone(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// The one span named `name` (sent by `service`).
pub fn one<'a>(spans: &'a [Got], service: &str, name: &str) -> &'a Got {
    let found: Vec<&Got> = spans
        .iter()
        .filter(|s| s.service == service && s.span.name == name)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {name:?} from {service}, got: {:#?}",
        spans
            .iter()
            .map(|s| format!("{} {} {:?}", s.service, s.span.name, s.kind()))
            .collect::<Vec<_>>()
    );
    found[0]
}

pub fn child_of(child: &Got, parent: &Got) {
    assert_eq!(
        child.span.parent_span_id,
        parent.id(),
        "{} ({}) should be a child of {} ({})",
        child.span.name,
        child.service,
        parent.span.name,
        parent.service
    );
}

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Starts the Python gRPC worker exporting to `endpoint` as `service`; returns it and
/// its port.
pub fn start_pyworker(endpoint: &str, service: &str) -> (Process, u16) {
    let mut python = std::process::Command::new(pyworker_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/pyworker/worker.py"
        ))
        .args(["--port", "0"])
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("{endpoint}/v1/traces"),
        )
        .env("OTEL_SERVICE_NAME", service)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the Python worker");
    let ready = wait_for_line(&mut python, "ready ");
    let port = ready["ready ".len()..].trim().parse().expect("a port");
    (Process(python), port)
}
