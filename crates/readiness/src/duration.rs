//! Compose-style durations: a bare number is seconds (`10`, `0.5`), anything else is a
//! humantime duration (`250ms`, `1m30s`, `2h`).

use std::time::Duration;

use crate::error::{Error, Result};

/// Parses a duration as docker compose and wait-for tools accept it: `10` and `0.5` are
/// seconds; `250ms`, `1m30s`, `1h 5m` are parsed by [`humantime`].
///
/// ```
/// use std::time::Duration;
/// use preflight_readiness::parse_duration;
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
    fn compose_style_units() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("10ms").unwrap(), Duration::from_millis(10));
    }

    #[test]
    fn garbage_is_an_error_naming_the_input() {
        for bad in ["", "abc", "1.2.3", "-5", "5 parsecs", "1e400"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }
}
