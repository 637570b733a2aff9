//! Unix-seconds timestamps as the wire carries them, and their RFC 3339 form for people.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats unix seconds as RFC 3339 in UTC, e.g. `2027-01-01T00:00:00Z`.
pub fn format_unix(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{secs}"))
}

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time {0:?}: expected RFC 3339, e.g. 2027-01-01T00:00:00Z or 2027-01-01T07:00:00+07:00"
)]
pub struct TimeError(pub String);

/// Parses an RFC 3339 timestamp (any offset) into unix seconds; times before 1970 are refused.
pub fn parse_rfc3339(text: &str) -> Result<u64, TimeError> {
    let bad = || TimeError(text.chars().take(80).collect());
    let t = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| bad())?;
    u64::try_from(t.unix_timestamp()).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(parse_rfc3339("2027-01-01T00:00:00Z"), Ok(1_798_761_600));
        assert_eq!(
            parse_rfc3339("2027-01-01T07:00:00+07:00"),
            Ok(1_798_761_600)
        );
        assert_eq!(format_unix(1_798_761_600), "2027-01-01T00:00:00Z");
        assert!(parse_rfc3339("tomorrow").is_err());
        assert!(parse_rfc3339("1969-12-31T23:59:59Z").is_err());
    }
}
