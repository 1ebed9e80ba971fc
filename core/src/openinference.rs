//! The process-wide OpenInference switch: whether every layer also emits OpenInference
//! attributes (`openinference.span.kind`, `llm.token_count.*`, `input.value`, ...) for
//! backends that read only those.
//!
//! One switch for the whole process: the pipeline sets it
//! (`aitrace::Telemetry::builder().openinference(true)`), else the environment
//! (`AITRACE_OPENINFERENCE=true`), else it is off. A layer's own `with_openinference`
//! overrides it for that layer. Layers read it when a span starts, so the order in which
//! they and the pipeline are built does not matter.
//!
//! Arize Phoenix 20 and later convert `gen_ai.*` to OpenInference themselves: leave
//! this off for them; turn it on for older Phoenix versions and other OpenInference-only
//! tools.
//!
//! ```
//! use aitrace_core::openinference;
//!
//! openinference::set_enabled(true);
//! assert!(openinference::enabled());
//! # openinference::set_enabled(false);
//! ```

use std::sync::atomic::{AtomicU8, Ordering};

const UNSET: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

static SWITCH: AtomicU8 = AtomicU8::new(UNSET);

/// The environment variable read when no code set the switch.
pub const ENV: &str = "AITRACE_OPENINFERENCE";

/// Sets the switch for the whole process (replacing the environment's value).
pub fn set_enabled(on: bool) {
    SWITCH.store(if on { ON } else { OFF }, Ordering::Relaxed);
}

/// Whether layers without an override emit OpenInference attributes.
pub fn enabled() -> bool {
    match SWITCH.load(Ordering::Relaxed) {
        ON => true,
        OFF => false,
        _ => {
            let on = std::env::var(ENV).is_ok_and(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "true" | "1" | "yes" | "on"
                )
            });
            // A racing `set_enabled` wins over the environment.
            let _ = SWITCH.compare_exchange(
                UNSET,
                if on { ON } else { OFF },
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            SWITCH.load(Ordering::Relaxed) == ON
        }
    }
}
