//! Budget guard: refuses calls once the current agent run has used up its token or
//! cost budget.
//!
//! [`BudgetLayer`] wraps any service (an LLM client, a tool executor): before each
//! call it reads the current run's totals ([`Run::current`]) and, when the run has
//! used at least the configured tokens (input + output) or cost, refuses the call
//! with [`BudgetError::Exceeded`] without calling the inner service. Outside any run it
//! lets every call through. Errors of the inner service come back as
//! [`BudgetError::Inner`].
//!
//! A refused call marks the span that is current where it is made: an event
//! `budget_exceeded` (with [`BUDGET_KIND`], [`BUDGET_LIMIT`], [`BUDGET_USED`]),
//! `error.type = budget_exceeded` and an error status. Put the guard **inside** the
//! span layer (`ToolLayer`, aitrace-llm's `GenAiLayer`), as below: then the refused
//! call gets its own span, marked. Let that layer classify the error with
//! [`ClassifyBudget`] (or [`BudgetError::error_type`]) so it keeps `budget_exceeded`.
//!
//! `poll_ready` is the inner service's (its errors become [`BudgetError::Inner`]). As
//! with `tower::filter`, a refused call does not reach the inner service after it was
//! made ready; a service that holds capacity from `poll_ready` until `call` (a
//! `Buffer` slot, say) gets it back when the guarded service is dropped.
//!
//! ```
//! use std::convert::Infallible;
//! use aitrace_core::usage::Usage;
//! use aitrace_core::run::Run;
//! use aitrace_tool::agent::{self, AgentInfo};
//! use aitrace_tool::budget::{Budget, BudgetError, BudgetLayer, ClassifyBudget};
//! use aitrace_tool::tool::{ToolInvocation, ToolLayer};
//! use serde_json::{json, Value};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let tools = ServiceBuilder::new()
//!     .layer(ToolLayer::new().classify_error(ClassifyBudget::new()))
//!     .layer(BudgetLayer::new(Budget::tokens(1_000).with_max_cost_usd(0.50)))
//!     .service_fn(|_call: ToolInvocation| async { Ok::<_, Infallible>(json!("done")) });
//!
//! let (result, _totals) = agent::run(AgentInfo::new("planner"), async {
//!     // An LLM call reported 1 200 tokens to the run (aitrace-llm does this).
//!     Run::current().unwrap().record_llm_call(Some(Usage::new(1_000, 200)), None);
//!     tools.oneshot(ToolInvocation::new("search", json!({}))).await
//! })
//! .await;
//! let Err(BudgetError::Exceeded(exceeded)) = result else { panic!("not refused") };
//! assert_eq!(exceeded.to_string(), "run `planner` is over budget: 1200 tokens used, limit 1000");
//! # }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use aitrace_core::conventions::{ERROR_TYPE, ERROR_TYPE_OTHER};
use aitrace_core::cost::Cost;
use aitrace_core::events::{self, BUDGET_EXCEEDED};
use aitrace_core::run::{Run, RunTotals};
use opentelemetry::trace::{Status, TraceContextExt as _};
use opentelemetry::KeyValue;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::classify::{ClassifyError, DefaultClassifier};

/// Attribute of the `budget_exceeded` event: which limit was reached (`tokens` or
/// `cost`).
pub const BUDGET_KIND: &str = aitrace_core::conventions::AITRACE_BUDGET_KIND;
/// Attribute of the `budget_exceeded` event: the limit (tokens as an integer, cost in
/// USD as a double).
pub const BUDGET_LIMIT: &str = aitrace_core::conventions::AITRACE_BUDGET_LIMIT;
/// Attribute of the `budget_exceeded` event: what the run had used (same unit as
/// [`BUDGET_LIMIT`]).
pub const BUDGET_USED: &str = aitrace_core::conventions::AITRACE_BUDGET_USED;

/// Token and cost limits of a run. A limit is reached when the run has used at least
/// that much; the cost counted is that of the calls whose cost is known.
///
/// ```
/// use aitrace_core::cost::Cost;
/// use aitrace_tool::budget::Budget;
///
/// let budget = Budget::tokens(100_000).with_max_cost(Cost::from_picodollars(2_000_000_000_000));
/// assert_eq!(budget.max_tokens(), Some(100_000));
/// assert_eq!(Budget::cost_usd(2.0).max_cost(), budget.max_cost());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Budget {
    max_tokens: Option<u64>,
    max_cost: Option<Cost>,
}

impl Budget {
    /// No limits (every call passes).
    pub const fn unlimited() -> Budget {
        Budget {
            max_tokens: None,
            max_cost: None,
        }
    }

    /// At most `max` tokens (input + output, sub-runs included).
    pub const fn tokens(max: u64) -> Budget {
        Budget::unlimited().with_max_tokens(max)
    }

    /// At most `max` of cost.
    pub const fn cost(max: Cost) -> Budget {
        Budget::unlimited().with_max_cost(max)
    }

    /// At most `usd` dollars of cost.
    pub fn cost_usd(usd: f64) -> Budget {
        Budget::unlimited().with_max_cost_usd(usd)
    }

    /// Sets the token limit.
    pub const fn with_max_tokens(mut self, max: u64) -> Self {
        self.max_tokens = Some(max);
        self
    }

    /// Sets the cost limit.
    pub const fn with_max_cost(mut self, max: Cost) -> Self {
        self.max_cost = Some(max);
        self
    }

    /// Sets the cost limit in dollars (negative or NaN means zero).
    pub fn with_max_cost_usd(self, usd: f64) -> Self {
        // `as` saturates: negative and NaN become 0, absurdly large the maximum.
        let picodollars = (usd * 1e12).round() as u128;
        self.with_max_cost(Cost::from_picodollars(picodollars))
    }

    /// The token limit.
    pub const fn max_tokens(&self) -> Option<u64> {
        self.max_tokens
    }

    /// The cost limit.
    pub const fn max_cost(&self) -> Option<Cost> {
        self.max_cost
    }

    /// The limit `totals` have reached, if any (tokens checked first).
    pub fn reached(&self, totals: &RunTotals) -> Option<BudgetLimit> {
        if let Some(max) = self.max_tokens {
            if totals.usage.total_tokens() >= max {
                return Some(BudgetLimit::Tokens(max));
            }
        }
        if let Some(max) = self.max_cost {
            if totals.cost >= max {
                return Some(BudgetLimit::Cost(max));
            }
        }
        None
    }
}

/// The limit a run reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetLimit {
    /// The token limit (input + output tokens).
    Tokens(u64),
    /// The cost limit.
    Cost(Cost),
}

impl BudgetLimit {
    /// `tokens` or `cost` (the value of [`BUDGET_KIND`]).
    pub const fn kind(&self) -> &'static str {
        match self {
            BudgetLimit::Tokens(_) => "tokens",
            BudgetLimit::Cost(_) => "cost",
        }
    }
}

/// A call refused because its run is over budget.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetExceeded {
    /// Name of the run (the agent's name).
    pub run: String,
    /// The limit reached.
    pub limit: BudgetLimit,
    /// The run's totals when the call was refused.
    pub totals: RunTotals,
}

impl BudgetExceeded {
    fn used_and_limit(&self) -> (opentelemetry::Value, opentelemetry::Value) {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        match self.limit {
            BudgetLimit::Tokens(max) => (
                count(self.totals.usage.total_tokens()).into(),
                count(max).into(),
            ),
            BudgetLimit::Cost(max) => (self.totals.cost.usd().into(), max.usd().into()),
        }
    }
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run `{}` is over budget: ", self.run)?;
        match self.limit {
            BudgetLimit::Tokens(max) => write!(
                f,
                "{} tokens used, limit {max}",
                self.totals.usage.total_tokens()
            ),
            BudgetLimit::Cost(max) => write!(f, "{} spent, limit {max}", self.totals.cost),
        }
    }
}

impl std::error::Error for BudgetExceeded {}

/// Error of a [`BudgetGuard`]ed service: the call was refused, or the inner service
/// failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetError<E> {
    /// The run is over budget; the inner service was not called.
    Exceeded(BudgetExceeded),
    /// The inner service's error.
    Inner(E),
}

impl<E> BudgetError<E> {
    /// Whether the call was refused for the budget.
    pub fn is_exceeded(&self) -> bool {
        matches!(self, BudgetError::Exceeded(_))
    }

    /// The inner service's error, if that is what this is.
    pub fn into_inner(self) -> Option<E> {
        match self {
            BudgetError::Inner(e) => Some(e),
            BudgetError::Exceeded(_) => None,
        }
    }

    /// `budget_exceeded` for a refusal, `_OTHER` for an inner error: use it as a
    /// classifier (`ToolLayer::new().classify_error(BudgetError::error_type)`), or
    /// [`ClassifyBudget`] to classify inner errors too.
    pub fn error_type(&self) -> &'static str {
        match self {
            BudgetError::Exceeded(_) => BUDGET_EXCEEDED,
            BudgetError::Inner(_) => ERROR_TYPE_OTHER,
        }
    }
}

impl<E: fmt::Display> fmt::Display for BudgetError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetError::Exceeded(exceeded) => exceeded.fmt(f),
            // Transparent: the caller sees the inner error's message.
            BudgetError::Inner(e) => e.fmt(f),
        }
    }
}

/// `BudgetError<E>` is an error whenever `E` displays, so that it also works over
/// `tower::BoxError` services (which are not `std::error::Error`). The inner error is
/// reached by matching [`BudgetError::Inner`], not through `source()`.
impl<E: fmt::Debug + fmt::Display> std::error::Error for BudgetError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BudgetError::Exceeded(exceeded) => Some(exceeded),
            BudgetError::Inner(_) => None,
        }
    }
}

/// Classifies a [`BudgetError`]: `budget_exceeded` for a refusal, `C` for an inner
/// error (`_OTHER` with [`ClassifyBudget::new`]).
///
/// ```
/// use aitrace_tool::budget::ClassifyBudget;
/// use aitrace_tool::tool::ToolLayer;
///
/// #[derive(Debug)]
/// struct Timeout;
///
/// let layer = ToolLayer::new().classify_error(ClassifyBudget::new());
/// let layer = ToolLayer::new().classify_error(ClassifyBudget(|_: &Timeout| "timeout"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassifyBudget<C = DefaultClassifier>(pub C);

impl ClassifyBudget {
    /// `budget_exceeded` for a refusal, `_OTHER` for an inner error.
    pub const fn new() -> Self {
        ClassifyBudget(DefaultClassifier)
    }
}

impl<E, C: ClassifyError<E>> ClassifyError<BudgetError<E>> for ClassifyBudget<C> {
    fn error_type(&self, error: &BudgetError<E>) -> Cow<'static, str> {
        match error {
            BudgetError::Exceeded(_) => Cow::Borrowed(BUDGET_EXCEEDED),
            BudgetError::Inner(inner) => self.0.error_type(inner),
        }
    }
}

/// Refuses calls once the current run is over [`Budget`]. See the
/// [module docs](crate::budget).
#[derive(Debug, Clone, Copy)]
pub struct BudgetLayer {
    budget: Budget,
}

impl BudgetLayer {
    /// A guard enforcing `budget` on the current run.
    pub const fn new(budget: Budget) -> Self {
        BudgetLayer { budget }
    }

    /// The budget.
    pub const fn budget(&self) -> Budget {
        self.budget
    }
}

impl<S> Layer<S> for BudgetLayer {
    type Service = BudgetGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BudgetGuard::new(inner, self.budget)
    }
}

/// A service whose calls are refused once the current run is over budget (made by
/// [`BudgetLayer`]).
#[derive(Debug, Clone)]
pub struct BudgetGuard<S> {
    inner: S,
    budget: Budget,
}

impl<S> BudgetGuard<S> {
    /// Wraps `inner`, enforcing `budget`.
    pub const fn new(inner: S, budget: Budget) -> Self {
        BudgetGuard { inner, budget }
    }

    /// A [`BudgetLayer`] enforcing `budget`.
    pub const fn layer(budget: Budget) -> BudgetLayer {
        BudgetLayer::new(budget)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The budget.
    pub const fn budget(&self) -> Budget {
        self.budget
    }
}

impl<S, Req> Service<Req> for BudgetGuard<S>
where
    S: Service<Req>,
{
    type Response = S::Response;
    type Error = BudgetError<S::Error>;
    type Future = BudgetFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(BudgetError::Inner)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        if let Some(run) = Run::current() {
            let totals = run.totals();
            if let Some(limit) = self.budget.reached(&totals) {
                let exceeded = BudgetExceeded {
                    run: run.name().to_owned(),
                    limit,
                    totals,
                };
                mark_current_span(&exceeded);
                return BudgetFuture::refused(exceeded);
            }
        }
        BudgetFuture::called(self.inner.call(request))
    }
}

/// Marks the span current where the call is made (ours if the guard is inside a span
/// layer, else the enclosing one).
fn mark_current_span(exceeded: &BudgetExceeded) {
    let (used, limit) = exceeded.used_and_limit();
    events::add(
        BUDGET_EXCEEDED,
        [
            KeyValue::new(BUDGET_KIND, exceeded.limit.kind()),
            KeyValue::new(BUDGET_LIMIT, limit),
            KeyValue::new(BUDGET_USED, used),
        ],
    );
    let cx = opentelemetry::Context::current();
    if cx.has_active_span() {
        let span = cx.span();
        span.set_attribute(KeyValue::new(ERROR_TYPE, BUDGET_EXCEEDED));
        span.set_status(Status::error(exceeded.to_string()));
    }
}

pin_project! {
    /// Response future of [`BudgetGuard`]: the inner call, or an immediate refusal.
    pub struct BudgetFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Called {
            #[pin]
            future: F,
        },
        Refused {
            error: Option<BudgetExceeded>,
        },
    }
}

impl<F> BudgetFuture<F> {
    fn called(future: F) -> Self {
        BudgetFuture {
            state: State::Called { future },
        }
    }

    fn refused(exceeded: BudgetExceeded) -> Self {
        BudgetFuture {
            state: State::Refused {
                error: Some(exceeded),
            },
        }
    }
}

impl<F> fmt::Debug for BudgetFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Called { .. } => "called",
            State::Refused { .. } => "refused",
        };
        f.debug_struct("BudgetFuture")
            .field("state", &state)
            .finish()
    }
}

impl<F, T, E> Future for BudgetFuture<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, BudgetError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called { future } => future.poll(cx).map_err(BudgetError::Inner),
            StateProj::Refused { error } => match error.take() {
                Some(exceeded) => Poll::Ready(Err(BudgetError::Exceeded(exceeded))),
                // Polled again after completion: a caller bug; stay pending rather
                // than panic.
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aitrace_core::usage::Usage;

    #[test]
    fn limits_are_reached_at_the_limit() {
        let budget = Budget::tokens(100);
        let mut totals = RunTotals {
            usage: Usage::new(60, 39),
            ..RunTotals::default()
        };
        assert_eq!(budget.reached(&totals), None);
        totals.usage = Usage::new(60, 40);
        assert_eq!(budget.reached(&totals), Some(BudgetLimit::Tokens(100)));

        let budget = Budget::cost_usd(0.01);
        totals.cost = Cost::from_picodollars(9_999_999_999);
        assert_eq!(budget.reached(&totals), None);
        totals.cost = Cost::from_picodollars(10_000_000_000);
        assert_eq!(
            budget.reached(&totals),
            Some(BudgetLimit::Cost(Cost::from_picodollars(10_000_000_000)))
        );
        assert_eq!(Budget::cost_usd(-3.0).max_cost(), Some(Cost::ZERO));
        assert_eq!(Budget::cost_usd(f64::NAN).max_cost(), Some(Cost::ZERO));
        assert_eq!(Budget::unlimited().reached(&totals), None);
    }

    #[test]
    fn errors_display_and_classify() {
        let exceeded = BudgetExceeded {
            run: "planner".into(),
            limit: BudgetLimit::Cost(Cost::from_picodollars(10_000_000_000)),
            totals: RunTotals {
                cost: Cost::from_picodollars(12_000_000_000),
                ..RunTotals::default()
            },
        };
        let err: BudgetError<std::io::Error> = BudgetError::Exceeded(exceeded);
        assert_eq!(
            err.to_string(),
            "run `planner` is over budget: $0.012000 spent, limit $0.010000"
        );
        assert_eq!(err.error_type(), "budget_exceeded");
        let inner: BudgetError<&str> = BudgetError::Inner("boom");
        assert_eq!(inner.to_string(), "boom");
        assert_eq!(ClassifyBudget(|_: &&str| "boom").error_type(&inner), "boom");
        assert_eq!(inner.into_inner(), Some("boom"));
    }
}
