//! [`AgentInfo`]: who the agent (or workflow) is, and how its run span starts.

use aitrace_core::conventions::{self as c, Operation, Provider};
use aitrace_core::emit::OtelSpan;
use aitrace_core::run::Run;
use opentelemetry::trace::SpanKind;
use opentelemetry::KeyValue;

use super::OnRunEnd;
use crate::guard::SpanGuard;
use crate::{OPENINFERENCE_AGENT, OPENINFERENCE_CHAIN};
use aitrace_core::content::ContentPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Agent,
    Workflow,
}

/// What an agent (or workflow) run records about itself: the
/// `invoke_agent {name}` / `invoke_workflow {name}` span name and the `gen_ai.agent.*`,
/// `gen_ai.workflow.name` and `gen_ai.conversation.id` attributes.
///
/// ```
/// use aitrace_tool::agent::AgentInfo;
///
/// let agent = AgentInfo::new("support-bot")
///     .with_id("agt_01")
///     .with_description("Answers billing questions")
///     .with_version("1.4.0")
///     .with_conversation_id("conv-42");
/// assert_eq!(agent.span_name(), "invoke_agent support-bot");
/// assert_eq!(AgentInfo::workflow("triage").span_name(), "invoke_workflow triage");
/// ```
#[derive(Debug, Clone)]
pub struct AgentInfo {
    kind: Kind,
    name: String,
    id: Option<String>,
    description: Option<String>,
    version: Option<String>,
    conversation_id: Option<String>,
    provider: Option<Provider>,
    remote: bool,
    /// `None`: the process-wide switch ([`aitrace_core::openinference`]).
    openinference: Option<bool>,
    content: ContentPolicy,
}

impl AgentInfo {
    /// An agent named `name` (`gen_ai.agent.name`; span `invoke_agent {name}`).
    pub fn new(name: impl Into<String>) -> AgentInfo {
        AgentInfo::with_kind(Kind::Agent, name.into())
    }

    /// A workflow named `name` (`gen_ai.workflow.name`; span `invoke_workflow {name}`):
    /// a multi-step or multi-agent pipeline. Its run totals work like an agent's.
    pub fn workflow(name: impl Into<String>) -> AgentInfo {
        AgentInfo::with_kind(Kind::Workflow, name.into())
    }

    fn with_kind(kind: Kind, name: String) -> AgentInfo {
        AgentInfo {
            kind,
            name,
            id: None,
            description: None,
            version: None,
            conversation_id: None,
            provider: None,
            remote: false,
            openinference: None,
            content: ContentPolicy::from_env(),
        }
    }

    /// The content policy for the run's input and output
    /// ([`record_input`](super::record_input) / [`record_output`](super::record_output));
    /// by default from `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
    pub fn with_content(mut self, content: ContentPolicy) -> Self {
        self.content = content;
        self
    }

    /// Sets the agent's unique id (`gen_ai.agent.id`; agents only).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the agent's description (`gen_ai.agent.description`; agents only).
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the agent's version (`gen_ai.agent.version`; agents only).
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets the conversation (session, thread) id (`gen_ai.conversation.id`). With
    /// [`AgentLayer`](super::AgentLayer), a per-request id from
    /// [`AgentLayer::conversation_id`](super::AgentLayer::conversation_id) wins.
    pub fn with_conversation_id(mut self, conversation_id: impl Into<String>) -> Self {
        self.conversation_id = Some(conversation_id.into());
        self
    }

    /// Sets the provider behind the agent (`gen_ai.provider.name`).
    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Marks the agent as remote (span kind CLIENT instead of INTERNAL), for an agent
    /// invoked over the network.
    pub fn with_remote(mut self, remote: bool) -> Self {
        self.remote = remote;
        self
    }

    /// Also emits `openinference.span.kind` (`AGENT`, or `CHAIN` for a workflow), so
    /// OpenInference tools render the run as an agent. Without this call, the
    /// process-wide switch decides ([`aitrace_core::openinference`]).
    pub fn with_openinference(mut self, on: bool) -> Self {
        self.openinference = Some(on);
        self
    }

    /// The agent's (or workflow's) name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is a workflow.
    pub fn is_workflow(&self) -> bool {
        self.kind == Kind::Workflow
    }

    /// The conversation id set with [`AgentInfo::with_conversation_id`].
    pub fn conversation_id(&self) -> Option<&str> {
        self.conversation_id.as_deref()
    }

    /// The span name: `invoke_agent {name}` or `invoke_workflow {name}`.
    pub fn span_name(&self) -> String {
        match self.kind {
            Kind::Agent => c::agent_span_name(Some(&self.name)),
            Kind::Workflow => c::workflow_span_name(Some(&self.name)),
        }
    }

    /// The attributes set when the run's span starts.
    fn start_attributes(&self, conversation_id: Option<String>) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(8);
        // semantic-conventions-genai merged the workflow span into the internal
        // invocation span: both carry `gen_ai.agent.*`, only the operation differs
        // (`gen_ai.workflow.name` is kept for backends that still read it).
        let operation = match self.kind {
            Kind::Agent => Operation::InvokeAgent,
            Kind::Workflow => Operation::InvokeWorkflow,
        };
        attributes.push(KeyValue::new(c::GEN_AI_OPERATION_NAME, operation.as_str()));
        attributes.push(KeyValue::new(c::GEN_AI_AGENT_NAME, self.name.clone()));
        if self.kind == Kind::Workflow {
            attributes.push(KeyValue::new(c::GEN_AI_WORKFLOW_NAME, self.name.clone()));
        }
        let optional = [
            (c::GEN_AI_AGENT_ID, &self.id),
            (c::GEN_AI_AGENT_DESCRIPTION, &self.description),
            (c::GEN_AI_AGENT_VERSION, &self.version),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                attributes.push(KeyValue::new(key, value.clone()));
            }
        }
        if let Some(provider) = &self.provider {
            attributes.push(KeyValue::new(
                c::GEN_AI_PROVIDER_NAME,
                provider.as_str().to_owned(),
            ));
        }
        if let Some(id) = conversation_id {
            attributes.push(KeyValue::new(c::GEN_AI_CONVERSATION_ID, id));
        }
        if self
            .openinference
            .unwrap_or_else(aitrace_core::openinference::enabled)
        {
            let kind = match self.kind {
                Kind::Agent => OPENINFERENCE_AGENT,
                Kind::Workflow => OPENINFERENCE_CHAIN,
            };
            attributes.push(KeyValue::new(c::OPENINFERENCE_SPAN_KIND, kind));
        }
        attributes
    }

    /// Starts the run: a new [`Run`] nested in the current one, its span (child of the
    /// current context), and the context to run the work in (span and run).
    pub(crate) fn start<H: OnRunEnd>(
        &self,
        conversation_id: Option<String>,
        on_end: H,
    ) -> (SpanGuard<H>, opentelemetry::Context, Run) {
        let conversation_id = conversation_id.or_else(|| self.conversation_id.clone());
        let run = Run::new(self.name.clone());
        let kind = if self.remote {
            SpanKind::Client
        } else {
            SpanKind::Internal
        };
        let span = OtelSpan::start(
            self.span_name(),
            kind,
            self.start_attributes(conversation_id),
        );
        run.bind_span(span.context(), self.content.clone());
        let cx = run.in_context(&span.context());
        (SpanGuard::new(span, Some(run.clone()), on_end), cx, run)
    }
}
