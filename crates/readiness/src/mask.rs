//! What a target is printed as. Connection strings and URLs go through the workspace's one
//! redaction (`preflight-redact`); command targets, which only readiness has, show their
//! program and hide their arguments (a script or an argument may carry a password, as in
//! `sh:PGPASSWORD=… pg_isready`). It must never let a secret through: when in doubt it
//! hides too much.

use preflight_redact::{MASK, redact};

/// `spec` with every secret hidden: see `preflight_redact::redact` for connection strings
/// and URLs; `cmd:program args…` and `sh:script` keep only a plain program name.
pub(crate) fn mask(spec: &str) -> String {
    for prefix in ["cmd:", "sh:"] {
        if let Some(command) = spec.strip_prefix(prefix) {
            return mask_command(prefix, command);
        }
    }
    redact(spec)
}

/// `reason` (why `masked`'s spec is invalid) with every `` `quoted` `` fragment that the
/// masked spec does not show replaced by `***`: a parser quoting the piece it choked on
/// (`port `s3cret@db` is not a number`) must not undo the masking.
pub(crate) fn scrub_reason(masked: &str, reason: &str) -> String {
    if !masked.contains(MASK) {
        return reason.to_owned();
    }
    reason
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 && !masked.contains(part) {
                MASK
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}

fn mask_command(prefix: &str, command: &str) -> String {
    let mut words = command.split_whitespace();
    let program = words.next().unwrap_or_default();
    let plain = program
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '+'));
    let program = if plain { program } else { MASK };
    match words.next() {
        Some(_) => format!("{prefix}{program} {MASK}"),
        None => format!("{prefix}{program}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_go_through_the_shared_redaction() {
        assert_eq!(
            mask("postgres://u:S3cr?tZq9@127.0.0.1:5999/x"),
            "postgres://u:***@127.0.0.1:5999/x"
        );
        assert_eq!(mask("nats://T0KEN@nats:4222"), "nats://***@nats:4222");
        assert_eq!(mask("u:pw@db:5432"), "u:***@db:5432");
    }

    #[test]
    fn reasons_do_not_quote_what_the_mask_hid() {
        let masked = mask("u:s3cret@db:5432");
        assert_eq!(
            scrub_reason(&masked, "port `s3cret@db` is not a number from 1 to 65535"),
            "port `***` is not a number from 1 to 65535"
        );
        assert_eq!(
            scrub_reason(&masked, "host `db` is bad"),
            "host `db` is bad"
        );
        assert_eq!(scrub_reason("db:x", "port `x` is bad"), "port `x` is bad");
    }

    #[test]
    fn commands_show_their_program_only() {
        assert_eq!(mask("cmd:pg_isready -h db"), "cmd:pg_isready ***");
        assert_eq!(mask("cmd:/bin/true"), "cmd:/bin/true");
        assert_eq!(mask("sh:sleep 1058 & exit 0"), "sh:sleep ***");
        assert_eq!(mask("sh:PGPASSWORD=s3cret pg_isready"), "sh:*** ***");
        assert_eq!(mask("sh:"), "sh:");
    }
}
