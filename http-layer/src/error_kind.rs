//! `error.type` of transport failures: a small, low-cardinality set of kinds.

use std::any::Any;
use std::error::Error as StdError;
use std::fmt::Display;
use std::io;

use aitrace_core::conventions::ERROR_TYPE_OTHER;

use crate::attributes::{describe_error, redact_urls_in_text, truncate, SecretParams};

type BoxError = Box<dyn StdError + Send + Sync>;

/// The kind of a reqwest error.
#[cfg(feature = "reqwest")]
pub(crate) fn reqwest_kind(err: &reqwest::Error) -> &'static str {
    // Timeout first: a connect timeout is both, and `timeout` says more.
    if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect"
    } else if err.is_redirect() {
        "redirect"
    } else if err.is_body() {
        "body"
    } else if err.is_decode() {
        "decode"
    } else if err.is_builder() {
        "builder"
    } else if err.is_request() {
        "request"
    } else {
        chain_kind(err).unwrap_or(ERROR_TYPE_OTHER)
    }
}

/// The kind of an error from the rest of a reqwest-middleware chain (reqwest-retry's
/// errors wrap the transport error).
#[cfg(feature = "reqwest")]
pub(crate) fn middleware_kind(err: &reqwest_middleware::Error) -> &'static str {
    match err {
        reqwest_middleware::Error::Reqwest(e) => reqwest_kind(e),
        reqwest_middleware::Error::Middleware(e) => {
            chain_kind(AsRef::<dyn StdError + Send + Sync>::as_ref(e)).unwrap_or(ERROR_TYPE_OTHER)
        }
    }
}

/// The kind of the first error in the chain that tells one.
fn chain_kind(err: &(dyn StdError + 'static)) -> Option<&'static str> {
    let mut next = Some(err);
    let mut depth = 0;
    while let Some(e) = next {
        if depth > 16 {
            break;
        }
        #[cfg(feature = "reqwest")]
        {
            if let Some(e) = e.downcast_ref::<reqwest::Error>() {
                return Some(reqwest_kind(e));
            }
            if let Some(e) = e.downcast_ref::<reqwest_middleware::Error>() {
                return Some(middleware_kind(e));
            }
        }
        if let Some(e) = e.downcast_ref::<io::Error>() {
            return Some(io_kind(e));
        }
        #[cfg(feature = "hyper-util")]
        {
            if let Some(e) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
                if e.is_connect() {
                    return Some("connect");
                }
            }
        }
        next = e.source();
        depth += 1;
    }
    None
}

fn io_kind(err: &io::Error) -> &'static str {
    use io::ErrorKind::*;
    match err.kind() {
        ConnectionRefused | AddrNotAvailable | NotConnected | HostUnreachable
        | NetworkUnreachable => "connect",
        TimedOut => "timeout",
        _ => "io",
    }
}

/// The kind of any service error: understood when it is (or boxes) a reqwest, I/O or
/// (feature `hyper-util`) hyper-util client error, `_OTHER` otherwise.
pub(crate) fn service_error_kind<E: Display + 'static>(err: &E) -> &'static str {
    as_std_error(err)
        .and_then(chain_kind)
        .unwrap_or(ERROR_TYPE_OTHER)
}

/// A description of any service error: the error and its sources when it is a
/// standard error, its `Display` otherwise.
pub(crate) fn describe_service_error<E: Display + 'static>(
    err: &E,
    secrets: &SecretParams,
) -> String {
    match as_std_error(err) {
        Some(e) => describe_error(e, secrets),
        None => truncate(redact_urls_in_text(&err.to_string(), secrets)),
    }
}

/// Sees through the error types services commonly return.
fn as_std_error<E: 'static>(err: &E) -> Option<&(dyn StdError + 'static)> {
    let any: &dyn Any = err;
    if let Some(e) = any.downcast_ref::<BoxError>() {
        return Some(&**e);
    }
    if let Some(e) = any.downcast_ref::<Box<dyn StdError + Send>>() {
        return Some(&**e);
    }
    if let Some(e) = any.downcast_ref::<Box<dyn StdError>>() {
        return Some(&**e);
    }
    if let Some(e) = any.downcast_ref::<io::Error>() {
        return Some(e);
    }
    #[cfg(feature = "hyper-util")]
    {
        if let Some(e) = any.downcast_ref::<hyper_util::client::legacy::Error>() {
            return Some(e);
        }
    }
    #[cfg(feature = "reqwest")]
    {
        if let Some(e) = any.downcast_ref::<reqwest::Error>() {
            return Some(e);
        }
        if let Some(e) = any.downcast_ref::<reqwest_middleware::Error>() {
            return Some(e);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_in_boxes_are_classified() {
        let refused: BoxError = Box::new(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(service_error_kind(&refused), "connect");
        let timed_out = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(service_error_kind(&timed_out), "timeout");
        assert_eq!(service_error_kind(&"plain text"), ERROR_TYPE_OTHER);
    }
}
