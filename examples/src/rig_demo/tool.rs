//! The agent's tool, as a rig [`Tool`]: the weather service over a traced HTTP client.

use aitrace::http::{ClientMiddleware, UrlTemplate};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use rig_core::tool::{Tool, ToolContext};
use serde::Deserialize;
use serde_json::{json, Value};

/// `get_weather`: asks the weather service for a city's conditions.
#[derive(Debug, Clone)]
pub struct WeatherTool {
    http: ClientWithMiddleware,
    base: String,
}

impl WeatherTool {
    /// The tool on the weather service at `base` (`http://host:port`).
    pub fn new(base: &str) -> WeatherTool {
        let http = ClientBuilder::new(reqwest::Client::new())
            .with(ClientMiddleware::new())
            .build();
        WeatherTool {
            http,
            base: base.trim_end_matches('/').to_owned(),
        }
    }
}

/// The tool's arguments.
#[derive(Debug, Deserialize)]
pub struct WeatherArgs {
    city: String,
}

/// Why the tool failed.
#[derive(Debug, thiserror::Error)]
#[error("the weather service failed: {0}")]
pub struct WeatherError(String);

impl Tool for WeatherTool {
    const NAME: &'static str = "get_weather";
    type Args = WeatherArgs;
    type Output = Value;
    type Error = WeatherError;

    fn description(&self) -> String {
        "The current weather in a city.".to_owned()
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    }

    async fn call(
        &self,
        _context: &mut ToolContext,
        args: WeatherArgs,
    ) -> Result<Value, WeatherError> {
        let fail = |e: &dyn std::fmt::Display| WeatherError(e.to_string());
        self.http
            .get(format!("{}/weather/{}", self.base, args.city))
            .with_extension(UrlTemplate::new("/weather/{city}"))
            .send()
            .await
            .map_err(|e| fail(&e))?
            .error_for_status()
            .map_err(|e| fail(&e))?
            .json()
            .await
            .map_err(|e| fail(&e))
    }
}
