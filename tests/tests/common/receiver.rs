//! A minimal OTLP trace and log receiver on loopback, for tests that need a collector
//! they control: OTLP/HTTP (`POST /v1/traces`, `POST /v1/logs`, protobuf) and OTLP/gRPC
//! (`TraceService/Export`, `LogsService/Export` over h2c) on one port. It decodes every body with
//! opentelemetry-proto's messages, keeps them, and can answer late, be stopped (every
//! connection dropped at once, like a crashed collector) and be started again on the
//! same port. [`BlackHole`] accepts connections and never answers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// What the receiver got, shared with its connections.
#[derive(Debug, Default)]
pub struct Received {
    /// Export requests answered (HTTP and gRPC).
    pub requests: AtomicUsize,
    /// Body bytes received.
    pub bytes: AtomicUsize,
    /// Spans decoded.
    pub spans: AtomicUsize,
    /// Every raw body, as received (protobuf, gRPC frame header removed).
    pub raw: Mutex<Vec<Bytes>>,
    /// Every decoded export request.
    pub decoded: Mutex<Vec<ExportTraceServiceRequest>>,
    /// Every body of any path (traces and metrics), as received.
    pub all_bodies: Mutex<Vec<Bytes>>,
    /// Every decoded log export request.
    pub logs: Mutex<Vec<ExportLogsServiceRequest>>,
    /// Bodies that did not decode.
    pub undecodable: AtomicUsize,
    /// Milliseconds to wait before answering.
    pub delay_ms: AtomicU64,
}

impl Received {
    /// Names of every span received.
    pub fn span_names(&self) -> Vec<String> {
        self.decoded
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| s.name.clone())
            .collect()
    }
}

/// The receiver. Dropping it stops it.
pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Arc<Received>,
    task: Option<JoinHandle<()>>,
}

type Body = BoxBody<Bytes, Infallible>;

impl Receiver {
    /// Starts on an ephemeral loopback port.
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Receiver::serve(listener, Arc::new(Received::default()))
    }

    /// Starts again on the same port after [`Receiver::stop`], keeping the counts.
    pub async fn restart(&mut self) {
        self.stop();
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot bind {} again: {e}", self.addr),
            }
        };
        let mut again = Receiver::serve(listener, Arc::clone(&self.received));
        self.task = again.task.take();
    }

    fn serve(listener: TcpListener, received: Arc<Received>) -> Receiver {
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::clone(&received);
        let task = tokio::spawn(async move {
            // Dropping the set (when the task is aborted) drops every connection.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&state);
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(handle(&state, req).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Receiver {
            addr,
            received,
            task: Some(task),
        }
    }

    /// Stops at once: the port closes and every open connection is dropped.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// `http://127.0.0.1:port`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Spans received so far.
    pub fn spans(&self) -> usize {
        self.received.spans.load(Ordering::SeqCst)
    }

    /// Log records received so far.
    pub fn log_records(&self) -> Vec<opentelemetry_proto::tonic::logs::v1::LogRecord> {
        self.received
            .logs
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| &r.resource_logs)
            .flat_map(|rl| &rl.scope_logs)
            .flat_map(|sl| sl.log_records.clone())
            .collect()
    }

    /// Waits up to `timeout` for at least `n` spans; returns how many arrived.
    pub async fn wait_for_spans(&self, n: usize, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.spans() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.spans()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn handle(state: &Received, req: Request<Incoming>) -> Response<Body> {
    let grpc = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let path = req.uri().path().to_owned();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    state.all_bodies.lock().unwrap().push(body.clone());
    let is_logs =
        path == "/v1/logs" || path == "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    if is_logs {
        let message = if grpc {
            grpc_message(body.clone())
        } else {
            Some(body.clone())
        };
        match message.and_then(|m| ExportLogsServiceRequest::decode(m).ok()) {
            Some(decoded) => state.logs.lock().unwrap().push(decoded),
            None => {
                state.undecodable.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    let is_traces = path == "/v1/traces"
        || path == "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    if is_traces {
        state.requests.fetch_add(1, Ordering::SeqCst);
        state.bytes.fetch_add(body.len(), Ordering::SeqCst);
        let message = if grpc { grpc_message(body) } else { Some(body) };
        match message.and_then(|m| {
            ExportTraceServiceRequest::decode(m.clone())
                .ok()
                .map(|d| (m, d))
        }) {
            Some((raw, decoded)) => {
                let spans: usize = decoded
                    .resource_spans
                    .iter()
                    .flat_map(|rs| &rs.scope_spans)
                    .map(|ss| ss.spans.len())
                    .sum();
                state.raw.lock().unwrap().push(raw);
                state.decoded.lock().unwrap().push(decoded);
                state.spans.fetch_add(spans, Ordering::SeqCst);
            }
            None => {
                state.undecodable.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    if grpc {
        // An empty Export*ServiceResponse in one gRPC frame, then the OK status.
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let frames = futures_util::stream::iter(vec![
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))),
            Ok(Frame::trailers(trailers)),
        ]);
        Response::builder()
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .body(StreamBody::new(frames).boxed())
            .unwrap()
    } else {
        Response::builder()
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(Bytes::new()).boxed())
            .unwrap()
    }
}

/// The message of a gRPC body: one uncompressed length-prefixed frame.
fn grpc_message(mut body: Bytes) -> Option<Bytes> {
    if body.len() < 5 || body[0] != 0 {
        return None;
    }
    body.advance(1);
    let len = body.get_u32() as usize;
    (body.len() >= len).then(|| body.slice(..len))
}

/// A collector that accepts connections, reads what is sent, and never answers.
pub struct BlackHole {
    pub addr: SocketAddr,
    /// Connections accepted (and held open).
    pub connections: Arc<AtomicUsize>,
    /// Bytes read from them.
    pub bytes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl BlackHole {
    pub async fn start() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let bytes = Arc::new(AtomicUsize::new(0));
        let (c, b) = (Arc::clone(&connections), Arc::clone(&bytes));
        let task = tokio::spawn(async move {
            let mut held = JoinSet::new();
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let b = Arc::clone(&b);
                held.spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        b.fetch_add(n, Ordering::SeqCst);
                    }
                    // Keep the socket open (never answered) until the test ends.
                    std::future::pending::<()>().await;
                });
            }
        });
        BlackHole {
            addr,
            connections,
            bytes,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An endpoint where nothing listens (a port just closed).
pub async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}")
}
