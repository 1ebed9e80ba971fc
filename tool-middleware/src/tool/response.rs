//! What the tool layer reads from a response: [`ToolResponse`], the result to capture.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

/// A tool's response, as the tool layer sees it: the result to record as
/// `gen_ai.tool.call.result` when the content policy captures content (it is only
/// asked for then).
///
/// Implemented for `serde_json::Value`, `String`, `&'static str`, `()` (nothing to
/// record), `Option`, `Box`, `Arc`, and [`Json`] (any `Serialize` type). Wrap a response
/// type of your own in [`Json`], or implement the trait:
///
/// ```
/// use std::borrow::Cow;
/// use aitrace_tool::tool::ToolResponse;
///
/// struct Forecast { celsius: f64 }
///
/// impl ToolResponse for Forecast {
///     fn result(&self) -> Option<Cow<'_, serde_json::Value>> {
///         Some(Cow::Owned(serde_json::json!({ "celsius": self.celsius })))
///     }
/// }
/// ```
pub trait ToolResponse {
    /// The result of the call as JSON, or `None` for nothing to record.
    fn result(&self) -> Option<Cow<'_, Value>>;
}

impl ToolResponse for Value {
    fn result(&self) -> Option<Cow<'_, Value>> {
        Some(Cow::Borrowed(self))
    }
}

impl ToolResponse for String {
    fn result(&self) -> Option<Cow<'_, Value>> {
        Some(Cow::Owned(Value::String(self.clone())))
    }
}

impl ToolResponse for &'static str {
    fn result(&self) -> Option<Cow<'_, Value>> {
        Some(Cow::Owned(Value::String((*self).to_owned())))
    }
}

impl ToolResponse for () {
    fn result(&self) -> Option<Cow<'_, Value>> {
        None
    }
}

impl<T: ToolResponse> ToolResponse for Option<T> {
    fn result(&self) -> Option<Cow<'_, Value>> {
        match self {
            Some(inner) => inner.result(),
            None => Some(Cow::Owned(Value::Null)),
        }
    }
}

impl<T: ToolResponse + ?Sized> ToolResponse for Box<T> {
    fn result(&self) -> Option<Cow<'_, Value>> {
        (**self).result()
    }
}

impl<T: ToolResponse + ?Sized> ToolResponse for Arc<T> {
    fn result(&self) -> Option<Cow<'_, Value>> {
        (**self).result()
    }
}

/// A response of any `Serialize` type, recorded as its JSON form.
///
/// ```
/// use aitrace_tool::tool::{Json, ToolResponse};
///
/// #[derive(serde::Serialize)]
/// struct Forecast { celsius: f64 }
///
/// let response = Json(Forecast { celsius: 21.5 });
/// assert_eq!(response.result().unwrap()["celsius"], 21.5);
/// assert_eq!(response.0.celsius, 21.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> ToolResponse for Json<T> {
    fn result(&self) -> Option<Cow<'_, Value>> {
        // A value that does not serialize is recorded as what it is, never a panic.
        let value = serde_json::to_value(&self.0)
            .unwrap_or_else(|e| Value::String(format!("[unserializable result: {e}]")));
        Some(Cow::Owned(value))
    }
}
