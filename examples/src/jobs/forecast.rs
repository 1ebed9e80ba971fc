//! The weather worker's gRPC messages (`scripts/pyworker/weather.proto`), written out
//! with prost's derive, and a traced client for `aitrace.demo.Weather/Forecast`.

use aitrace::grpc::{GrpcClient, GrpcClientLayer};
use http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

use crate::demo::BoxError;

/// `aitrace.demo.ForecastRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ForecastRequest {
    /// The city.
    #[prost(string, tag = "1")]
    pub city: String,
}

/// `aitrace.demo.ForecastReply`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ForecastReply {
    /// The city.
    #[prost(string, tag = "1")]
    pub city: String,
    /// `sunny`, `rainy`, ...
    #[prost(string, tag = "2")]
    pub conditions: String,
    /// Temperature.
    #[prost(int32, tag = "3")]
    pub celsius: i32,
}

/// A client of the weather worker, traced by [`GrpcClientLayer`].
#[derive(Debug, Clone)]
pub struct ForecastClient {
    grpc: tonic::client::Grpc<GrpcClient<Channel>>,
}

impl ForecastClient {
    /// A client of the worker at `host:port` (connects on first use).
    pub fn new(host: &str, port: u16) -> Result<ForecastClient, BoxError> {
        let channel = Endpoint::from_shared(format!("http://{host}:{port}"))?.connect_lazy();
        let layer = GrpcClientLayer::new().server(host, Some(port));
        Ok(ForecastClient {
            grpc: tonic::client::Grpc::new(tower::Layer::layer(&layer, channel)),
        })
    }

    /// `aitrace.demo.Weather/Forecast`.
    pub async fn forecast(&self, city: &str) -> Result<ForecastReply, tonic::Status> {
        let mut grpc = self.grpc.clone();
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let reply = grpc
            .unary(
                tonic::Request::new(ForecastRequest { city: city.into() }),
                PathAndQuery::from_static("/aitrace.demo.Weather/Forecast"),
                ProstCodec::<ForecastRequest, ForecastReply>::default(),
            )
            .await?;
        Ok(reply.into_inner())
    }
}
