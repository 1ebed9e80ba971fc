//! Evaluation results (`gen_ai.evaluation.result` events) for users who score answers:
//! an LLM-as-judge, a test suite, a user's thumbs up.
//!
//! Each result is one OpenTelemetry log record (see the [`crate::logs`] module), tied to the
//! span being evaluated: the current span with [`record`], or the span of a given
//! context with [`record_for`]. When the span is gone (feedback that arrives later),
//! set [`Evaluation::response_id`] to the `gen_ai.response.id` of the answer.
//!
//! ```
//! use aitrace_core::evaluation::{self, Evaluation};
//!
//! evaluation::record(
//!     Evaluation::new("relevance")
//!         .score(0.92)
//!         .label("relevant")
//!         .explanation("answers the question asked")
//!         .response_id("chatcmpl-123"),
//! );
//! ```

use opentelemetry::logs::Severity;
use opentelemetry::Context;

use crate::content::Redactor;
use crate::conventions as c;
use crate::logs::{self, EventAttributes};

/// The event name.
pub const GEN_AI_EVALUATION_RESULT: &str = "gen_ai.evaluation.result";

/// Longest explanation kept (redacted, then cut at a character boundary).
pub const MAX_EXPLANATION_BYTES: usize = 4 * 1024;
/// Longest name or label kept (they should be low-cardinality words).
pub const MAX_NAME_BYTES: usize = 128;

/// One evaluation result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    name: String,
    score: Option<f64>,
    label: Option<String>,
    explanation: Option<String>,
    response_id: Option<String>,
    error_type: Option<String>,
}

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

impl Evaluation {
    /// A result of the evaluation named `name` (`gen_ai.evaluation.name`).
    pub fn new(name: impl Into<String>) -> Evaluation {
        Evaluation {
            name: cut(name.into(), MAX_NAME_BYTES),
            ..Evaluation::default()
        }
    }

    /// The numeric score (`gen_ai.evaluation.score.value`); non-finite scores are
    /// left out.
    pub fn score(mut self, value: f64) -> Self {
        self.score = value.is_finite().then_some(value);
        self
    }

    /// The label (`gen_ai.evaluation.score.label`), e.g. `pass`, `relevant`.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(cut(label.into(), MAX_NAME_BYTES));
        self
    }

    /// Why (`gen_ai.evaluation.explanation`); passes the secret redactor.
    pub fn explanation(mut self, text: impl Into<String>) -> Self {
        let text = text.into();
        let redacted = Redactor::default().redact(&text).into_owned();
        self.explanation = Some(cut(redacted, MAX_EXPLANATION_BYTES));
        self
    }

    /// The answer evaluated (`gen_ai.response.id`).
    pub fn response_id(mut self, id: impl Into<String>) -> Self {
        self.response_id = Some(cut(id.into(), MAX_NAME_BYTES));
        self
    }

    /// The evaluation itself failed (`error.type`).
    pub fn error_type(mut self, error_type: impl Into<String>) -> Self {
        self.error_type = Some(cut(error_type.into(), MAX_NAME_BYTES));
        self
    }

    fn attributes(self) -> EventAttributes {
        let mut a = EventAttributes::new();
        a.push(c::GEN_AI_EVALUATION_NAME, self.name.into());
        if let Some(v) = self.score {
            a.push(c::GEN_AI_EVALUATION_SCORE_VALUE, v.into());
        }
        if let Some(v) = self.label {
            a.push(c::GEN_AI_EVALUATION_SCORE_LABEL, v.into());
        }
        if let Some(v) = self.explanation {
            a.push(c::GEN_AI_EVALUATION_EXPLANATION, v.into());
        }
        if let Some(v) = self.response_id {
            a.push(c::GEN_AI_RESPONSE_ID, v.into());
        }
        if let Some(v) = self.error_type {
            a.push(c::ERROR_TYPE, v.into());
        }
        a
    }
}

/// Records `evaluation` against the current span.
pub fn record(evaluation: Evaluation) {
    record_for(&Context::current(), evaluation);
}

/// Records `evaluation` against the span of `cx` (e.g. the context of the LLM call
/// whose answer was judged).
pub fn record_for(cx: &Context, evaluation: Evaluation) {
    if !logs::is_installed() {
        return;
    }
    logs::emit(
        GEN_AI_EVALUATION_RESULT,
        Severity::Info,
        cx,
        evaluation.attributes(),
    );
}
