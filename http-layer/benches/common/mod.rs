//! Services and requests shared by the benchmarks.
#![allow(dead_code)]

use std::convert::Infallible;

use aitrace_http::HttpRoute;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use tower::{Service, ServiceExt};

pub type ReqBody = Empty<Bytes>;

pub const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// An incoming request as a server sees it: Host, User-Agent, traceparent, a route.
pub fn server_request() -> Request<ReqBody> {
    let mut req = Request::get("/v1/users/42?page=2")
        .header("host", "127.0.0.1:8080")
        .header("user-agent", "bench/1.0")
        .header("traceparent", TRACEPARENT)
        .body(Empty::new())
        .unwrap_or_default();
    req.extensions_mut()
        .insert(HttpRoute::new("/v1/users/{id}"));
    req
}

/// An outgoing request as a client sends it.
pub fn client_request() -> Request<ReqBody> {
    Request::get("http://api.example.com:8080/v1/models?key=secret")
        .body(Empty::new())
        .unwrap_or_default()
}

/// The in-process service: answers at once.
pub async fn handler(_req: Request<ReqBody>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

/// Calls the service once and reads the whole body (server spans end at end of body).
pub async fn call_server<S, B>(svc: &S)
where
    S: Service<Request<ReqBody>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
{
    if let Ok(resp) = svc.clone().oneshot(server_request()).await {
        let _ = resp.into_body().collect().await;
    }
}

pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}
