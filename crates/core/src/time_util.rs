//! Timestamps at the precision every backend stores (microseconds), so that a value written
//! and read back is byte-for-byte the value that was hashed into the audit chain.

use time::OffsetDateTime;

/// The current UTC time, truncated to whole microseconds.
#[must_use]
pub fn now() -> OffsetDateTime {
    truncate(OffsetDateTime::now_utc())
}

/// Truncates a timestamp to whole microseconds.
#[must_use]
pub fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    let micros = t.microsecond();
    t.replace_microsecond(micros).unwrap_or(t)
}

/// Microseconds since the Unix epoch.
#[must_use]
pub fn unix_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// Formats as RFC 3339 (`2026-11-26T06:22:24.123456Z`), the form every API response uses.
#[must_use]
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_micros_only() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(truncate(t).nanosecond(), 123_456_000);
        assert_eq!(unix_micros(t), 1_700_000_000_123_456);
    }
}
