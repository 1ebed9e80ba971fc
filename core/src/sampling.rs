//! Force-sampling: what must be seen is recorded even when the service samples down.
//!
//! A service sampling 1% of its traces still needs the one request a support engineer
//! is debugging, or every call of a critical operation. Two ways to say so, both read
//! by the sampler that `aitrace::init()` installs around the configured one:
//!
//! - in code, for everything started under a context: [`forced`] marks a context (run a
//!   future in it with `FutureExt::with_context`), [`force_current`] marks the current
//!   one for a scope;
//! - on the wire: the server layer marks the request's context when a configured header
//!   is present (`aitrace_http::ServerLayer::force_sample_header`).
//!
//! A marked context is inherited by every span started in it, so the whole subtree is
//! kept, and the decision travels downstream in `traceparent` (sampled flag) as usual.
//!
//! ```
//! use aitrace_core::sampling;
//! use opentelemetry::Context;
//!
//! let cx = sampling::forced(&Context::current());
//! assert!(sampling::is_forced(&cx));
//! assert!(!sampling::is_forced(&Context::new()));
//!
//! {
//!     let _forced = sampling::force_current();
//!     assert!(sampling::is_forced(&Context::current()));
//! }
//! assert!(!sampling::is_forced(&Context::current()));
//! ```

use opentelemetry::{Context, ContextGuard};

/// Set to `true` on spans recorded because their context was force-sampled (so a
/// collector's tail sampling can keep them too: a `boolean_attribute` policy).
pub const FORCED_ATTRIBUTE: &str = "aitrace.sampling.forced";

/// The mark a forced context carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ForceSample;

/// `cx`, marked: spans started in it (and in contexts derived from it) are sampled.
pub fn forced(cx: &Context) -> Context {
    cx.with_value(ForceSample)
}

/// Whether spans started in `cx` must be sampled.
pub fn is_forced(cx: &Context) -> bool {
    cx.get::<ForceSample>().is_some()
}

/// Marks the current context until the guard drops (synchronous scopes; for a future,
/// use `future.with_context(forced(&Context::current()))`).
pub fn force_current() -> ContextGuard {
    forced(&Context::current()).attach()
}
