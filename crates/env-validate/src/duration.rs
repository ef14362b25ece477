//! Durations as every preflight crate reads them: a bare number is seconds (`10`, `0.5`),
//! anything else is a humantime duration (`250ms`, `1m30s`, `2h`). The same rule as
//! `preflight-readiness` and docker compose; each crate keeps its own copy so that the
//! crates stay independent.

use std::time::Duration;

/// Parses a duration: `10` and `0.5` are seconds; `250ms`, `1m30s`, `1h 5m` are parsed
/// by [`humantime`]. Surrounding whitespace is ignored. `None` for anything else (empty,
/// negative, unknown unit, out of range).
pub(crate) fn parse_duration(input: &str) -> Option<Duration> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = trimmed.parse().ok()?;
        return Duration::try_from_secs_f64(secs).ok();
    }
    humantime::parse_duration(trimmed).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_numbers_are_seconds() {
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration(" 15 "), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration("0.25"), Some(Duration::from_millis(250)));
    }

    #[test]
    fn units_and_compounds() {
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("10ms"), Some(Duration::from_millis(10)));
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in ["", "abc", "1.2.3", "-5", "5 parsecs", "1e400"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
