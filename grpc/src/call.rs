//! One RPC's span: started from the request, ended with the status from the response
//! headers (trailers-only responses), the trailers, or the way the call stopped.

use aitrace_core::emit::OtelSpan;
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};

use crate::attributes as a;
use crate::status::{self, Side};

/// The span of one call. Ends exactly once: with a status, a failure, or, when dropped
/// before either (the caller gave up, the response body was dropped), `CANCELLED`.
#[derive(Debug)]
pub(crate) struct Call {
    span: OtelSpan,
    side: Side,
    legacy: bool,
    done: bool,
}

/// `("package.Service", "Method")` of a gRPC path `/package.Service/Method`.
fn split_path(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 256
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    (valid(service) && valid(method)).then_some((service, method))
}

impl Call {
    pub(crate) fn start<B>(
        side: Side,
        legacy: bool,
        server: Option<&(String, Option<u16>)>,
        parent: &Context,
        request: &http::Request<B>,
    ) -> Call {
        let mut attributes = vec![KeyValue::new(a::RPC_SYSTEM_NAME, "grpc")];
        let split = split_path(request.uri().path());
        let name = match split {
            Some((service, method)) => {
                let full = format!("{service}/{method}");
                attributes.push(KeyValue::new(a::RPC_METHOD, full.clone()));
                if legacy {
                    attributes.push(KeyValue::new(a::RPC_SERVICE, service.to_owned()));
                }
                full
            }
            None => {
                attributes.push(KeyValue::new(a::RPC_METHOD, a::OTHER));
                let original: String = request.uri().path().chars().take(256).collect();
                attributes.push(KeyValue::new(a::RPC_METHOD_ORIGINAL, original));
                "grpc".to_owned()
            }
        };
        if legacy {
            attributes.push(KeyValue::new(a::RPC_SYSTEM, "grpc"));
        }
        // The client's configured target wins (tonic's channel adds the authority
        // below this layer); otherwise the request's `:authority` / `Host`.
        let authority = request.uri().authority().cloned().or_else(|| {
            request
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.parse::<http::uri::Authority>().ok())
        });
        let from_request = authority
            .as_ref()
            .map(|a| (a.host().to_owned(), a.port_u16()));
        if let Some((host, port)) = server.cloned().or(from_request) {
            attributes.push(KeyValue::new(a::SERVER_ADDRESS, host));
            if let Some(port) = port {
                attributes.push(KeyValue::new(a::SERVER_PORT, i64::from(port)));
            }
        }
        let kind = match side {
            Side::Client => SpanKind::Client,
            Side::Server => SpanKind::Server,
        };
        let span = OtelSpan::start_with_parent(parent, name, kind, attributes);
        Call {
            span,
            side,
            legacy,
            done: false,
        }
    }

    /// The context to run the call in and to inject into the request.
    pub(crate) fn context(&self) -> Context {
        self.span.context()
    }

    /// Ends the span with gRPC status `code` (and the server's `grpc-message`).
    pub(crate) fn finish(&mut self, code: i32, message: Option<&str>) {
        if self.done {
            return;
        }
        self.done = true;
        let name = status::name(code);
        self.span
            .set_attribute(KeyValue::new(a::RPC_STATUS_CODE, name.to_string()));
        if self.legacy {
            self.span
                .set_attribute(KeyValue::new(a::RPC_GRPC_STATUS_CODE, i64::from(code)));
        }
        if status::is_error(self.side, code) {
            let description = match message {
                Some(m) if !m.is_empty() => format!("{name}: {m}"),
                _ => name.to_string(),
            };
            self.span.record_error(name.to_string(), &description);
        }
    }

    /// Ends the span failed below gRPC (no status): `error.type` = `error_type`.
    pub(crate) fn fail(&mut self, error_type: &'static str, message: &str) {
        if self.done {
            return;
        }
        self.done = true;
        self.span.record_error(error_type, message);
    }

    /// Ends the span from a response's headers when they already hold the status
    /// (a trailers-only response) or cannot be gRPC (HTTP status other than 200).
    /// Returns whether the call is finished.
    pub(crate) fn finish_from_head(&mut self, head: &http::response::Parts) -> bool {
        if let Some(code) = status::from_headers(&head.headers) {
            let message = grpc_message(&head.headers);
            self.finish(code, message.as_deref());
            return true;
        }
        if head.status != http::StatusCode::OK {
            let code = status::from_http(head.status);
            let message = format!("HTTP {}", head.status.as_u16());
            self.finish(code, Some(&message));
            return true;
        }
        false
    }

    /// Ends the span from the trailers of a streamed response.
    pub(crate) fn finish_from_trailers(&mut self, trailers: &http::HeaderMap) {
        match status::from_headers(trailers) {
            Some(code) => {
                let message = grpc_message(trailers);
                self.finish(code, message.as_deref());
            }
            None => self.fail(
                a::ERROR_TYPE_MISSING_STATUS,
                "the response's trailers have no grpc-status",
            ),
        }
    }

    /// Whether the span has ended.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }
}

/// The `grpc-message` of a header map, percent-decoded (lossy; it is redacted and cut
/// before it is recorded).
fn grpc_message(headers: &http::HeaderMap) -> Option<String> {
    let raw = headers.get("grpc-message")?.as_bytes();
    let mut out = Vec::with_capacity(raw.len().min(1024));
    let mut i = 0;
    while i < raw.len() && out.len() < 1024 {
        let hex = |b: u8| (b as char).to_digit(16);
        match (raw[i], raw.get(i + 1).copied(), raw.get(i + 2).copied()) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.done {
            self.finish(
                status::CANCELLED,
                Some("the call was dropped before its status"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            split_path("/aitrace.demo.Weather/Forecast"),
            Some(("aitrace.demo.Weather", "Forecast"))
        );
        assert_eq!(split_path("/Echo/Echo"), Some(("Echo", "Echo")));
        for bad in ["", "/", "/a", "/a/", "//b", "/a b/c", "/a/b/c", "a/b"] {
            assert_eq!(split_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn messages_are_percent_decoded() {
        let mut h = http::HeaderMap::new();
        h.insert("grpc-message", "no%20such%20city%zz".parse().unwrap());
        assert_eq!(grpc_message(&h).as_deref(), Some("no such city%zz"));
    }
}
