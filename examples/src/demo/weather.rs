//! The downstream service the `get_weather` tool calls: `GET /weather/{city}`,
//! traced with aitrace-http's server layer.

use std::net::SocketAddr;

use aitrace::http::ServerLayer;
use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::BoxError;

/// Starts the service on an ephemeral loopback port.
pub async fn start() -> Result<SocketAddr, BoxError> {
    let app = Router::new()
        .route("/weather/{city}", get(weather))
        .layer(ServerLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

async fn weather(Path(city): Path<String>) -> Json<Value> {
    tracing::info!(%city, "looking up the weather");
    let (conditions, celsius) = match city.as_str() {
        "Tokyo" => ("clear", 17),
        _ => ("sunny", 21),
    };
    Json(json!({ "city": city, "conditions": conditions, "celsius": celsius }))
}
