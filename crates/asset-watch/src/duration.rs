//! Durations as every preflight crate reads them: a bare number is seconds (`10`, `0.5`),
//! anything else is a humantime duration (`250ms`, `1m30s`, `2h`). The same rule as
//! `preflight-readiness` and docker compose; each crate keeps its own copy so that the
//! crates stay independent.

use std::time::Duration;

use crate::error::{Error, Result};

/// Parses a duration: `10` and `0.5` are seconds; `250ms`, `1m30s`, `1h 5m` are
/// parsed by [`humantime`] (units `ms`, `s`, `m`, `h` and their long forms, and
/// compounds). Surrounding whitespace is ignored.
///
/// # Errors
///
/// [`Error::InvalidDuration`] naming the input, for anything else (empty, negative,
/// unknown unit, out of range).
///
/// ```
/// use std::time::Duration;
/// use preflight_asset_watch::parse_duration;
///
/// assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
/// assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
/// assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
/// assert!(parse_duration("ten").is_err());
/// ```
pub fn parse_duration(input: &str) -> Result<Duration> {
    let trimmed = input.trim();
    let invalid = || Error::InvalidDuration {
        input: input.to_owned(),
    };
    if trimmed.is_empty() {
        return Err(invalid());
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = trimmed.parse().map_err(|_| invalid())?;
        return Duration::try_from_secs_f64(secs).map_err(|_| invalid());
    }
    humantime::parse_duration(trimmed).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_numbers_are_seconds() {
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration(" 15 ").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("0.25").unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn units_and_compounds() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("10ms").unwrap(), Duration::from_millis(10));
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
    }

    #[test]
    fn garbage_is_an_error_naming_the_input() {
        for bad in ["", "abc", "1.2.3", "-5", "5 parsecs", "1e400"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }
}
