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
//! # Concurrent calls: reservations and the guarantee
//!
//! A call's usage is known only when it ends, so calls made while others are in flight
//! cannot see what those will use. Each admitted call therefore **reserves** an
//! estimate on its run (and every enclosing run) for as long as it is in flight, and a
//! call is admitted only if the run's used tokens, plus what the calls in flight have
//! reserved, plus its own reservation, stay within the limit (cost likewise). The
//! estimate is, per call:
//!
//! - [`Budget::with_reserved_tokens`] / [`Budget::with_reserved_cost`]: a fixed
//!   reservation (e.g. the `max_tokens` your agent always sends, plus a prompt size);
//! - [`BudgetLayer::estimate_tokens`]: computed from the request (e.g. its
//!   `max_tokens` plus an estimate of its input); it replaces the fixed token
//!   reservation;
//! - none (the default: reserve 0), optionally with [`Budget::with_max_in_flight`],
//!   which bounds how many budgeted calls of a run may be in flight at once.
//!
//! A reservation is released (settled) when the guarded call's future is **dropped**,
//! not when it returns its output: a recording layer outside the guard (`GenAiLayer`,
//! `ToolLayer`) has recorded the call's usage on the run by then.
//!
//! **The guarantee.** Let `max` be the token limit, `E` the reservation of a call and
//! `U` the tokens it ends up using, and suppose each call's usage is recorded on the
//! run before its guarded future is dropped (true for tool calls, and for LLM calls
//! whose response is complete when the call returns: aitrace-llm's `GenAiLayer` over a
//! typed client; not for a streamed HTTP body, whose usage is recorded when the stream
//! ends). Then the run's tokens never exceed
//!
//! > `max + Σ max(0, U - E)` over the calls in flight when the last call was admitted,
//!
//! so **never `max` when every call's reservation covers its usage** (`E ≥ U`), and at
//! most `max + N × (U_max - E)` with [`Budget::with_max_in_flight`]`(N)`. With no
//! reservation and no in-flight limit (the default), concurrent calls are bounded only
//! by how many are in flight: `max - 1 + Σ U` over them. A call whose usage is recorded
//! after its reservation is released (a streamed body) adds its whole `U` to the bound.
//! The same holds for cost with [`Budget::with_reserved_cost`].
//!
//! ```
//! use aitrace_tool::budget::{Budget, BudgetLayer};
//!
//! // Each call sends max_tokens = 512 and prompts of at most ~1 500 tokens.
//! let layer = BudgetLayer::new(Budget::tokens(100_000).with_reserved_tokens(2_000));
//! // Or per request, and at most 8 calls in flight per run:
//! # struct ChatRequest { max_tokens: u64, prompt: String }
//! let layer = BudgetLayer::new(Budget::tokens(100_000).with_max_in_flight(8))
//!     .estimate_tokens(|r: &ChatRequest| r.max_tokens + r.prompt.len() as u64 / 3);
//! ```
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
use aitrace_core::run::{Reservation, Reserved, Run, RunTotals};
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
    reserved_tokens: u64,
    reserved_cost: Cost,
    max_in_flight: Option<u64>,
}

impl Budget {
    /// No limits (every call passes).
    pub const fn unlimited() -> Budget {
        Budget {
            max_tokens: None,
            max_cost: None,
            reserved_tokens: 0,
            reserved_cost: Cost::ZERO,
            max_in_flight: None,
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

    /// Each call reserves `tokens` while in flight (see the
    /// [module docs](crate::budget#concurrent-calls-reservations-and-the-guarantee)).
    pub const fn with_reserved_tokens(mut self, tokens: u64) -> Self {
        self.reserved_tokens = tokens;
        self
    }

    /// Each call reserves `cost` while in flight.
    pub const fn with_reserved_cost(mut self, cost: Cost) -> Self {
        self.reserved_cost = cost;
        self
    }

    /// At most `calls` budgeted calls of a run in flight at once; more are refused
    /// ([`BudgetLimit::InFlight`]).
    pub const fn with_max_in_flight(mut self, calls: u64) -> Self {
        self.max_in_flight = Some(calls);
        self
    }

    /// The tokens each call reserves while in flight.
    pub const fn reserved_tokens(&self) -> u64 {
        self.reserved_tokens
    }

    /// The cost each call reserves while in flight.
    pub const fn reserved_cost(&self) -> Cost {
        self.reserved_cost
    }

    /// The limit on calls in flight.
    pub const fn max_in_flight(&self) -> Option<u64> {
        self.max_in_flight
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

    /// The limit a new call reserving `want` would pass, given what the run used and
    /// what its calls in flight reserved (in-flight limit, then tokens, then cost).
    pub fn admits(
        &self,
        totals: &RunTotals,
        reserved: &Reserved,
        want: &Reserved,
    ) -> Result<(), BudgetLimit> {
        if let Some(max) = self.max_in_flight {
            if reserved.calls >= max {
                return Err(BudgetLimit::InFlight(max));
            }
        }
        if let Some(max) = self.max_tokens {
            let committed = totals.usage.total_tokens().saturating_add(reserved.tokens);
            if committed >= max || committed.saturating_add(want.tokens) > max {
                return Err(BudgetLimit::Tokens(max));
            }
        }
        if let Some(max) = self.max_cost {
            let committed = totals.cost.picodollars() + reserved.cost.picodollars();
            if committed >= max.picodollars()
                || committed + want.cost.picodollars() > max.picodollars()
            {
                return Err(BudgetLimit::Cost(max));
            }
        }
        Ok(())
    }
}

/// The limit a run reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetLimit {
    /// The token limit (input + output tokens).
    Tokens(u64),
    /// The cost limit.
    Cost(Cost),
    /// The limit on budgeted calls in flight.
    InFlight(u64),
}

impl BudgetLimit {
    /// `tokens` or `cost` (the value of [`BUDGET_KIND`]).
    pub const fn kind(&self) -> &'static str {
        match self {
            BudgetLimit::Tokens(_) => "tokens",
            BudgetLimit::Cost(_) => "cost",
            BudgetLimit::InFlight(_) => "in_flight",
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
    /// What the run's calls in flight had reserved then.
    pub reserved: Reserved,
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
            BudgetLimit::InFlight(max) => (count(self.reserved.calls).into(), count(max).into()),
        }
    }
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run `{}` is over budget: ", self.run)?;
        let calls = self.reserved.calls;
        match self.limit {
            BudgetLimit::Tokens(max) => {
                write!(f, "{} tokens used, ", self.totals.usage.total_tokens())?;
                if self.reserved.tokens > 0 {
                    write!(
                        f,
                        "{} reserved by {calls} calls in flight, ",
                        self.reserved.tokens
                    )?;
                }
                write!(f, "limit {max}")
            }
            BudgetLimit::Cost(max) => {
                write!(f, "{} spent, ", self.totals.cost)?;
                if self.reserved.cost > Cost::ZERO {
                    write!(
                        f,
                        "{} reserved by {calls} calls in flight, ",
                        self.reserved.cost
                    )?;
                }
                write!(f, "limit {max}")
            }
            BudgetLimit::InFlight(max) => write!(f, "{calls} calls in flight, limit {max}"),
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

/// Computes a call's token reservation from its request (see
/// [`BudgetLayer::estimate_tokens`]). Implemented for closures `Fn(&Req) -> u64`;
/// [`FixedReservation`] (the default) reserves the budget's
/// [`reserved_tokens`](Budget::reserved_tokens).
pub trait EstimateTokens<Req> {
    /// The tokens to reserve for `request`, or `None` for the budget's fixed
    /// reservation.
    fn estimate_tokens(&self, request: &Req) -> Option<u64>;
}

/// Reserves the budget's fixed [`reserved_tokens`](Budget::reserved_tokens) per call.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedReservation;

impl<Req> EstimateTokens<Req> for FixedReservation {
    fn estimate_tokens(&self, _request: &Req) -> Option<u64> {
        None
    }
}

impl<Req, F: Fn(&Req) -> u64> EstimateTokens<Req> for F {
    fn estimate_tokens(&self, request: &Req) -> Option<u64> {
        Some(self(request))
    }
}

/// Refuses calls once the current run is over [`Budget`], counting what calls in
/// flight have reserved. See the [module docs](crate::budget).
#[derive(Clone, Copy)]
pub struct BudgetLayer<E = FixedReservation> {
    budget: Budget,
    estimate: E,
}

impl BudgetLayer {
    /// A guard enforcing `budget` on the current run.
    pub const fn new(budget: Budget) -> Self {
        BudgetLayer {
            budget,
            estimate: FixedReservation,
        }
    }
}

impl<E> BudgetLayer<E> {
    /// Reserves, per call, the tokens `estimate` computes from the request (e.g. its
    /// `max_tokens` plus an estimate of its prompt) instead of the fixed reservation.
    pub fn estimate_tokens<E2>(self, estimate: E2) -> BudgetLayer<E2> {
        BudgetLayer {
            budget: self.budget,
            estimate,
        }
    }

    /// The budget.
    pub const fn budget(&self) -> Budget {
        self.budget
    }
}

impl<E> fmt::Debug for BudgetLayer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BudgetLayer")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl<S, E: Clone> Layer<S> for BudgetLayer<E> {
    type Service = BudgetGuard<S, E>;

    fn layer(&self, inner: S) -> Self::Service {
        BudgetGuard {
            inner,
            budget: self.budget,
            estimate: self.estimate.clone(),
        }
    }
}

/// A service whose calls are refused once the current run is over budget (made by
/// [`BudgetLayer`]).
#[derive(Clone)]
pub struct BudgetGuard<S, E = FixedReservation> {
    inner: S,
    budget: Budget,
    estimate: E,
}

impl<S> BudgetGuard<S> {
    /// Wraps `inner`, enforcing `budget`.
    pub const fn new(inner: S, budget: Budget) -> Self {
        BudgetGuard {
            inner,
            budget,
            estimate: FixedReservation,
        }
    }

    /// A [`BudgetLayer`] enforcing `budget`.
    pub const fn layer(budget: Budget) -> BudgetLayer {
        BudgetLayer::new(budget)
    }
}

impl<S, E> BudgetGuard<S, E> {
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

impl<S: fmt::Debug, E> fmt::Debug for BudgetGuard<S, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BudgetGuard")
            .field("inner", &self.inner)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl<S, E, Req> Service<Req> for BudgetGuard<S, E>
where
    S: Service<Req>,
    E: EstimateTokens<Req>,
{
    type Response = S::Response;
    type Error = BudgetError<S::Error>;
    type Future = BudgetFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(BudgetError::Inner)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let Some(run) = Run::current() else {
            return BudgetFuture::called(self.inner.call(request), None);
        };
        let want = Reserved {
            tokens: self
                .estimate
                .estimate_tokens(&request)
                .unwrap_or(self.budget.reserved_tokens),
            cost: self.budget.reserved_cost,
            calls: 1,
        };
        let budget = self.budget;
        let mut refused = None;
        let reservation = run.reserve_if(want, |totals, reserved| {
            budget.admits(totals, reserved, &want).map_err(|limit| {
                refused = Some(BudgetExceeded {
                    run: run.name().to_owned(),
                    limit,
                    totals: *totals,
                    reserved: *reserved,
                });
            })
        });
        match (reservation, refused) {
            (Ok(reservation), _) => {
                BudgetFuture::called(self.inner.call(request), Some(reservation))
            }
            (Err(()), Some(exceeded)) => {
                mark_current_span(&exceeded);
                BudgetFuture::refused(exceeded)
            }
            // `admits` failed, so `refused` is set; pass the call on rather than panic.
            (Err(()), None) => BudgetFuture::called(self.inner.call(request), None),
        }
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
        // The run's name is the caller's: made safe like every recorded message.
        span.set_status(Status::error(aitrace_core::content::safe_message(
            &exceeded.to_string(),
        )));
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
            // Released when this future is dropped, after an outer recording layer
            // has recorded the call's usage on the run.
            reservation: Option<Reservation>,
        },
        Refused {
            error: Option<BudgetExceeded>,
        },
    }
}

impl<F> BudgetFuture<F> {
    fn called(future: F, reservation: Option<Reservation>) -> Self {
        BudgetFuture {
            state: State::Called {
                future,
                reservation,
            },
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
            StateProj::Called { future, .. } => future.poll(cx).map_err(BudgetError::Inner),
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
            reserved: Reserved::default(),
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
