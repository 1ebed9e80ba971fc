//! gRPC status codes: names, and which ones fail a span on which side.

/// The canonical names of the gRPC status codes, by number.
const NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// `OK`.
pub(crate) const OK: i32 = 0;
/// `CANCELLED`.
pub(crate) const CANCELLED: i32 = 1;
/// `UNKNOWN`.
pub(crate) const UNKNOWN: i32 = 2;
/// `UNIMPLEMENTED`.
pub(crate) const UNIMPLEMENTED: i32 = 12;
/// `INTERNAL`.
pub(crate) const INTERNAL: i32 = 13;
/// `UNAVAILABLE`.
pub(crate) const UNAVAILABLE: i32 = 14;

/// The name of status `code` (`NOT_FOUND`), or its number for codes outside the
/// canonical set.
pub(crate) fn name(code: i32) -> std::borrow::Cow<'static, str> {
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map(|n| std::borrow::Cow::Borrowed(*n))
        .unwrap_or_else(|| std::borrow::Cow::Owned(code.to_string()))
}

/// Which side of the call a span describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

/// Whether `code` fails the span: on the client every code but `OK`; on the server
/// only the codes that say the server failed (the conventions' list), not those
/// that say the caller asked for something wrong or went away.
pub(crate) fn is_error(side: Side, code: i32) -> bool {
    match side {
        Side::Client => code != OK,
        Side::Server => !matches!(code, 0 | 1 | 3 | 5..=11 | 16),
    }
}

/// The `grpc-status` value of a header map: `None` when absent, `UNKNOWN` when it is
/// not a number (gRPC clients treat an unreadable status so).
pub(crate) fn from_headers(headers: &http::HeaderMap) -> Option<i32> {
    let value = headers.get("grpc-status")?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i32>().ok())
            .unwrap_or(UNKNOWN),
    )
}

/// The status gRPC clients derive from an HTTP response with no `grpc-status`
/// (gRPC's "HTTP to gRPC status code mapping").
pub(crate) fn from_http(status: http::StatusCode) -> i32 {
    match status.as_u16() {
        400 => INTERNAL,
        401 => 16,
        403 => 7,
        404 => UNIMPLEMENTED,
        429 | 502..=504 => UNAVAILABLE,
        _ => UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_error_rules() {
        assert_eq!(name(0), "OK");
        assert_eq!(name(16), "UNAUTHENTICATED");
        assert_eq!(name(42), "42");
        assert_eq!(name(-1), "-1");
        let server_errors: Vec<i32> = (0..17).filter(|c| is_error(Side::Server, *c)).collect();
        assert_eq!(server_errors, vec![2, 4, 12, 13, 14, 15]);
        assert!((1..17).all(|c| is_error(Side::Client, c)));
        assert!(!is_error(Side::Client, OK));
        // Codes outside the canonical set fail on both sides.
        assert!(is_error(Side::Server, 99));
    }

    #[test]
    fn unreadable_status_is_unknown() {
        let mut h = http::HeaderMap::new();
        assert_eq!(from_headers(&h), None);
        h.insert("grpc-status", "5".parse().unwrap());
        assert_eq!(from_headers(&h), Some(5));
        h.insert("grpc-status", "five".parse().unwrap());
        assert_eq!(from_headers(&h), Some(UNKNOWN));
    }
}
