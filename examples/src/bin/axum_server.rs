//! An axum service with `ServerLayer`: one SERVER span per request, named after the
//! route template, kept open while the body streams; incoming `traceparent` honoured.
//!
//! `cargo run -p aitrace-examples --bin axum_server`

use aitrace::http::ServerLayer;
use aitrace_examples::demo;
use axum::extract::Path;
use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() -> Result<(), demo::BoxError> {
    let telemetry = aitrace::Telemetry::builder()
        .service_name("axum-server-example")
        .init()?;
    let app = Router::new()
        .route(
            "/hello/{name}",
            get(|Path(name): Path<String>| async move {
                tracing::info!(%name, "greeting"); // this log line carries the trace id
                format!("hello, {name}")
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .layer(ServerLayer::new().filter(aitrace::http::SkipPaths::new(["/healthz"])));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    for path in ["/hello/ada", "/healthz"] {
        let body = reqwest::get(format!("http://{addr}{path}"))
            .await?
            .text()
            .await?;
        println!("GET {path} -> {body}");
    }
    drop(telemetry); // the tree shows `GET /hello/{name}`, and nothing for /healthz
    Ok(())
}
