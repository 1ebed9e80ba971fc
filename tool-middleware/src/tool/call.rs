//! What the tool layer reads from a request: [`ToolCall`], and a ready-made request
//! type, [`ToolInvocation`].

use std::borrow::Cow;

use aitrace_core::conventions::ToolType;
use serde_json::Value;

/// A tool call request, as the tool layer sees it.
///
/// Only [`ToolCall::tool_name`] is required. [`ToolCall::arguments`] is only asked for
/// when the content policy captures content, so it may build the JSON on demand.
///
/// ```
/// use std::borrow::Cow;
/// use aitrace_tool::tool::ToolCall;
///
/// struct Search { query: String, call_id: String }
///
/// impl ToolCall for Search {
///     fn tool_name(&self) -> &str { "web_search" }
///     fn call_id(&self) -> Option<&str> { Some(&self.call_id) }
///     fn description(&self) -> Option<&str> { Some("Searches the web") }
///     fn arguments(&self) -> Option<Cow<'_, serde_json::Value>> {
///         Some(Cow::Owned(serde_json::json!({ "query": self.query })))
///     }
/// }
/// ```
pub trait ToolCall {
    /// Name of the tool (`gen_ai.tool.name`; the span is `execute_tool {name}`).
    fn tool_name(&self) -> &str;

    /// Id of the tool call the model asked for (`gen_ai.tool.call.id`).
    fn call_id(&self) -> Option<&str> {
        None
    }

    /// Kind of tool (`gen_ai.tool.type`); a function by default.
    fn tool_type(&self) -> ToolType {
        ToolType::Function
    }

    /// Description of the tool (`gen_ai.tool.description`).
    fn description(&self) -> Option<&str> {
        None
    }

    /// Arguments of the call (`gen_ai.tool.call.arguments`, captured only when the
    /// content policy says so).
    fn arguments(&self) -> Option<Cow<'_, Value>> {
        None
    }
}

impl<T: ToolCall + ?Sized> ToolCall for &T {
    fn tool_name(&self) -> &str {
        (**self).tool_name()
    }
    fn call_id(&self) -> Option<&str> {
        (**self).call_id()
    }
    fn tool_type(&self) -> ToolType {
        (**self).tool_type()
    }
    fn description(&self) -> Option<&str> {
        (**self).description()
    }
    fn arguments(&self) -> Option<Cow<'_, Value>> {
        (**self).arguments()
    }
}

impl<T: ToolCall + ?Sized> ToolCall for Box<T> {
    fn tool_name(&self) -> &str {
        (**self).tool_name()
    }
    fn call_id(&self) -> Option<&str> {
        (**self).call_id()
    }
    fn tool_type(&self) -> ToolType {
        (**self).tool_type()
    }
    fn description(&self) -> Option<&str> {
        (**self).description()
    }
    fn arguments(&self) -> Option<Cow<'_, Value>> {
        (**self).arguments()
    }
}

/// A tool call as a model asks for it: a tool name, JSON arguments, and optionally the
/// call id, the tool's kind and description.
///
/// ```
/// use aitrace_core::conventions::ToolType;
/// use aitrace_tool::tool::ToolInvocation;
/// use serde_json::json;
///
/// let call = ToolInvocation::new("get_weather", json!({"city": "Paris"}))
///     .with_call_id("call_abc123")
///     .with_description("Current weather for a city")
///     .with_tool_type(ToolType::Function);
/// assert_eq!(call.arguments["city"], "Paris");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolInvocation {
    /// Name of the tool.
    pub name: String,
    /// Id of the tool call the model asked for.
    pub call_id: Option<String>,
    /// Kind of tool.
    pub tool_type: ToolType,
    /// Description of the tool.
    pub description: Option<String>,
    /// Arguments of the call.
    pub arguments: Value,
}

impl ToolInvocation {
    /// A call of tool `name` with `arguments`.
    pub fn new(name: impl Into<String>, arguments: Value) -> ToolInvocation {
        ToolInvocation {
            name: name.into(),
            arguments,
            ..ToolInvocation::default()
        }
    }

    /// Sets the call id.
    pub fn with_call_id(mut self, call_id: impl Into<String>) -> Self {
        self.call_id = Some(call_id.into());
        self
    }

    /// Sets the kind of tool.
    pub fn with_tool_type(mut self, tool_type: ToolType) -> Self {
        self.tool_type = tool_type;
        self
    }

    /// Sets the tool's description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

impl ToolCall for ToolInvocation {
    fn tool_name(&self) -> &str {
        &self.name
    }
    fn call_id(&self) -> Option<&str> {
        self.call_id.as_deref()
    }
    fn tool_type(&self) -> ToolType {
        self.tool_type
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn arguments(&self) -> Option<Cow<'_, Value>> {
        Some(Cow::Borrowed(&self.arguments))
    }
}
