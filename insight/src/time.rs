//! Timestamps: RFC 3339 (UTC or with an offset) and Unix nanoseconds, both ways; and
//! durations as people read them.
//!
//! ```
//! use aitrace_insight::time::{format_duration, format_rfc3339, parse_time};
//!
//! assert_eq!(parse_time("1700000000000000000"), Ok(1_700_000_000_000_000_000));
//! assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000_000_000));
//! assert_eq!(parse_time("2023-11-14T23:13:20.5+01:00"), Ok(1_700_000_000_500_000_000));
//! assert_eq!(format_rfc3339(1_700_000_000_500_000_000), "2023-11-14T22:13:20.500Z");
//! assert_eq!(format_duration(12_349_999), "12.3ms");
//! ```

/// Parses a point in time to Unix nanoseconds: an integer (Unix nanoseconds), or RFC
/// 3339 `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` (a space may replace the
/// `T`), or a date `YYYY-MM-DD` (midnight UTC).
pub fn parse_time(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map_err(|_| format!("{text:?} is too large for Unix nanoseconds"));
    }
    parse_rfc3339(text).ok_or_else(|| {
        format!(
            "{text:?} is not a time: use RFC 3339 (2026-11-22T10:30:00Z, \
             2026-11-22T11:30:00+01:00, 2026-11-22) or Unix nanoseconds"
        )
    })
}

fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        digits
            .iter()
            .try_fold(0i64, |acc, d| Some(acc * 10 + i64::from(d - b'0')))
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if b.len() == 10 {
        return to_nanos(days * 86_400, 0);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 20 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    // 60 is a leap second: read as the next second's start.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0i64;
    if b[at] == b'.' {
        at += 1;
        let digits = b[at..].iter().take_while(|d| d.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for (i, d) in b[at..at + digits].iter().enumerate() {
            if i < 9 {
                nanos += i64::from(d - b'0') * 10i64.pow(8 - i as u32);
            }
        }
        at += digits;
    }
    let offset = match b.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(at + 1, 2)?, num(at + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    to_nanos(seconds, nanos)
}

fn to_nanos(seconds: i64, nanos: i64) -> Option<u64> {
    u64::try_from(seconds)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(u64::try_from(nanos).ok()?)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Unix nanoseconds as RFC 3339 in UTC with milliseconds: `2026-11-22T10:30:00.123Z`.
pub fn format_rfc3339(unix_nano: u64) -> String {
    let seconds = (unix_nano / 1_000_000_000) as i64;
    let millis = (unix_nano % 1_000_000_000) / 1_000_000;
    let (days, rem) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `850µs`, `12.3ms`, `1.24s` (rounded half up; integer arithmetic, as a report of
/// 100k spans formats as many durations).
pub fn format_duration(nanos: u64) -> String {
    let mut text = String::with_capacity(8);
    push_duration(&mut text, nanos);
    text
}

/// [`format_duration`], appended to `out` (no allocation of its own; a tree of 100k
/// spans writes as many).
pub(crate) fn push_duration(out: &mut String, nanos: u64) {
    let mut digits = itoa::Buffer::new();
    let digit = |n: u64| char::from(b'0' + (n % 10) as u8);
    if nanos < 1_000_000 {
        out.push_str(digits.format(nanos / 1_000));
        out.push_str("µs");
    } else if nanos < 1_000_000_000 {
        let tenths = (nanos + 50_000) / 100_000;
        out.push_str(digits.format(tenths / 10));
        out.push('.');
        out.push(digit(tenths));
        out.push_str("ms");
    } else {
        let hundredths = nanos / 10_000_000 + u64::from(nanos % 10_000_000 >= 5_000_000);
        out.push_str(digits.format(hundredths / 100));
        out.push('.');
        out.push(digit(hundredths / 10));
        out.push(digit(hundredths));
        out.push('s');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_over_the_calendar() {
        for days in [-1, 0, 59, 365, 11_016, 19_723, 20_513, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_time("2024-02-29"), Ok(1_709_164_800_000_000_000));
        assert_eq!(
            format_rfc3339(1_709_164_800_000_000_000),
            "2024-02-29T00:00:00.000Z"
        );
        assert_eq!(
            parse_time("2024-02-29 01:02:03.123456789Z"),
            Ok(1_709_168_523_123_456_789)
        );
        assert_eq!(
            parse_time("2024-02-29T01:02:03.1234567891234Z"),
            Ok(1_709_168_523_123_456_789)
        );
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for bad in [
            "",
            "yesterday",
            "2023-02-29",
            "2024-13-01",
            "2024-01-01T25:00:00Z",
            "2024-01-01T10:00:00",
            "2024-01-01T10:00:00+0100",
            "2024-01-01T10:00:00.Z",
            "1969-12-31T23:59:59Z",
            "99999999999999999999999",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_read_well() {
        let cases = [
            (999, "0µs"),
            (850_000, "850µs"),
            (1_000_000, "1.0ms"),
            (12_349_999, "12.3ms"),
            (12_350_000, "12.4ms"),
            (999_999_999, "1000.0ms"),
            (1_000_000_000, "1.00s"),
            (1_235_000_000, "1.24s"),
            (u64::MAX, "18446744073.71s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format_duration(nanos), text, "{nanos}");
        }
    }
}
