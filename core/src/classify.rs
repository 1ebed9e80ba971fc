//! How an error becomes `error.type`, the same way in every AITrace layer: a closure or
//! a [`ClassifyError`] implementation,
//! with `_OTHER` when nothing better is known.
//!
//! The conventions ask for a low-cardinality value (`timeout`, `not_found`, a type
//! name), never the error message: the message goes in the span status instead
//! (redacted and cut).
//!
//! ```
//! use aitrace_core::classify::{ClassifyError, DefaultClassifier};
//!
//! #[derive(Debug)]
//! enum WeatherError { Timeout, UnknownCity(String) }
//!
//! let classify = |e: &WeatherError| match e {
//!     WeatherError::Timeout => "timeout",
//!     WeatherError::UnknownCity(_) => "unknown_city",
//! };
//! assert_eq!(classify.error_type(&WeatherError::Timeout), "timeout");
//! assert_eq!(DefaultClassifier.error_type(&WeatherError::UnknownCity("x".into())), "_OTHER");
//! ```

use std::borrow::Cow;

use crate::conventions::ERROR_TYPE_OTHER;

/// Turns an error into the value of `error.type`.
///
/// Implemented for closures `Fn(&E) -> T` where `T` is a `&'static str`, a `String`
/// or a `Cow<'static, str>`, and by [`DefaultClassifier`].
pub trait ClassifyError<E> {
    /// The `error.type` value for `error`.
    fn error_type(&self, error: &E) -> Cow<'static, str>;
}

/// Classifies every error as `_OTHER` (the conventions' fallback).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultClassifier;

impl<E> ClassifyError<E> for DefaultClassifier {
    #[inline]
    fn error_type(&self, _error: &E) -> Cow<'static, str> {
        Cow::Borrowed(ERROR_TYPE_OTHER)
    }
}

impl<E, F, T> ClassifyError<E> for F
where
    F: Fn(&E) -> T,
    T: Into<Cow<'static, str>>,
{
    #[inline]
    fn error_type(&self, error: &E) -> Cow<'static, str> {
        self(error).into()
    }
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
/// assert_eq!(aitrace_core::classify::panic_message(&*payload), "boom 1");
/// ```
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>")
}
