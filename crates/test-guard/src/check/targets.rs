//! Layer 3: the resolved targets against the static rules. Collects every target (the
//! configured variables, the libpq `PG*` defaults, explicit ones), then judges each: deny
//! rules first, then local hosts (unless a forwarder holds the loopback port), allow rules,
//! test database names. What no rule allows is `Unknown`: only a live `test` marker or the
//! override can clear it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::finding;
use crate::env::Env;
use crate::guard::Config;
use crate::report::{Finding, Layer, Status};
use crate::target::{Client, Host, PG_TARGET_VARS, Target, TargetKind};
use crate::tunnel::Tunnels;

/// What the static rules say about one target.
#[derive(Debug)]
pub(super) enum Verdict {
    Denied(String),
    Allowed(String),
    Unknown(String),
}

#[derive(Debug)]
pub(super) struct Planned {
    pub(super) target: Target,
    pub(super) verdict: Verdict,
    /// The override names exactly this target.
    pub(super) overridden: bool,
}

/// Splits an override value into target ids. Ids are separated by whitespace or commas,
/// but a multi-host id has commas of its own (`postgres://a:5432,b:5432/app`), so a new id
/// starts only where a separator is followed by `scheme://`.
pub(crate) fn override_ids(value: &str) -> Vec<String> {
    let starts_id = |rest: &str| {
        let scheme_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .unwrap_or(rest.len());
        scheme_len > 0 && rest[scheme_len..].starts_with("://")
    };
    let is_sep = |c: char| c == ',' || c.is_whitespace();
    let mut ids = Vec::new();
    let mut current = String::new();
    let mut after_sep = true;
    for (i, c) in value.char_indices() {
        if after_sep && !is_sep(c) && starts_id(&value[i..]) && !current.trim().is_empty() {
            ids.push(current.trim_matches(is_sep).to_owned());
            current.clear();
        }
        after_sep = is_sep(c);
        current.push(c);
    }
    let last = current.trim_matches(is_sep);
    if !last.is_empty() {
        ids.push(last.to_owned());
    }
    ids
}

/// The host as rules see it: names without their trailing dot (`db.example.com.` is the
/// same host as `db.example.com`).
fn host_text(host: &Host) -> String {
    match host {
        Host::Name(name) => name.trim_end_matches('.').to_owned(),
        other => other.rule_text(),
    }
}

fn is_local(host: &Host) -> bool {
    match host {
        Host::Name(name) => {
            let name = name.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
        other => other.is_local(),
    }
}

/// The loopback addresses a client connects to for `host` (`localhost` resolves to both
/// families); none for remote hosts and sockets.
fn loopback_addrs(host: &Host) -> Vec<IpAddr> {
    match host {
        Host::Ip(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) if v4.is_loopback() => vec![IpAddr::V4(v4)],
            _ if v6.is_loopback() => vec![IpAddr::V6(*v6)],
            _ => Vec::new(),
        },
        Host::Ip(ip) if ip.is_loopback() => vec![*ip],
        Host::Name(_) if is_local(host) => vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ],
        _ => Vec::new(),
    }
}

pub(super) fn collect(cfg: &Config, env: &dyn Env) -> (Vec<Planned>, Vec<Finding>) {
    let mut findings = Vec::new();
    let allowed_ids = override_ids(&env.var(&cfg.override_var).unwrap_or_default());
    let mut tunnels = Tunnels::default();
    let mut targets: Vec<Planned> = Vec::new();
    let mut add = |target: Target| {
        // The same place named twice (DATABASE_URL and PG* agreeing) is checked once.
        if targets.iter().any(|p| p.target.id() == target.id()) {
            return;
        }
        let verdict = verdict(cfg, &target, &mut tunnels);
        let overridden = allowed_ids.iter().any(|id| *id == target.id());
        targets.push(Planned {
            target,
            verdict,
            overridden,
        });
    };
    let unreadable = |e: crate::Error| {
        finding(
            Layer::Targets,
            Status::Failed,
            None,
            format!("{e}; a target that cannot be read is refused"),
        )
    };
    let libpq: Option<&dyn Env> = cfg.libpq_env.then_some(env);
    for var in &cfg.target_vars {
        match env.var(var).filter(|v| !v.trim().is_empty()) {
            None if cfg.required_vars.contains(var) => findings.push(finding(
                Layer::Targets,
                Status::Failed,
                None,
                format!("{var} is not set, and it is required"),
            )),
            None => {}
            Some(conn) => {
                let parsed = match libpq {
                    Some(env) => Target::resolve_for(cfg.client, &conn, var, env),
                    None => Target::parse_for(cfg.client, &conn).map(|mut t| {
                        t.source.clone_from(var);
                        t
                    }),
                };
                match parsed {
                    Ok(t) => add(t),
                    Err(e) => findings.push(unreadable(e)),
                }
            }
        }
    }
    if let Some(env) = libpq.filter(|_| cfg.client == Client::Libpq) {
        let set: Vec<&str> = PG_TARGET_VARS
            .iter()
            .copied()
            .filter(|v| env.var(v).is_some_and(|v| !v.is_empty()))
            .collect();
        if !set.is_empty() {
            // psql, libpq and sqlx connect here with no connection string at all.
            let source = format!("libpq defaults ({})", set.join(", "));
            match Target::resolve("postgres://", &source, env) {
                Ok(t) => add(t),
                Err(e) => findings.push(unreadable(e)),
            }
        }
    }
    for conn in &cfg.explicit_conns {
        let resolved = match libpq {
            Some(env) => Target::resolve_for(cfg.client, conn, "explicit", env),
            None => Target::parse_for(cfg.client, conn),
        };
        match resolved {
            Ok(t) => add(t),
            Err(e) => findings.push(unreadable(e)),
        }
    }
    for t in &cfg.explicit {
        add(t.clone());
    }
    (targets, findings)
}

fn verdict(cfg: &Config, target: &Target, tunnels: &mut Tunnels) -> Verdict {
    let texts: Vec<String> = target
        .endpoints
        .iter()
        .map(|e| host_text(&e.host))
        .collect();
    for text in &texts {
        if let Some(rule) = cfg.deny_hosts.iter().find(|p| p.matches_host(text)) {
            return Verdict::Denied(format!("host `{text}` matches deny rule `{rule}`"));
        }
    }
    let mut reasons = Vec::new();
    let mut all_hosts_allowed = true;
    for (e, text) in target.endpoints.iter().zip(&texts) {
        if cfg.detect_tunnels
            && let Some(fwd) = tunnels.forwarder(&loopback_addrs(&e.host), e.port, &cfg.forwarders)
        {
            // Loopback, but the port leads elsewhere: neither the host nor the database
            // name can vouch for it, only the server's own test marker.
            return Verdict::Unknown(format!(
                "port {} on `{text}` is held by {fwd}, a forwarder to another machine, so loopback is no proof",
                e.port
            ));
        }
        if cfg.allow_loopback && is_local(&e.host) {
            reasons.push(format!("host `{text}` is local"));
        } else if let Some(rule) = cfg.allow_hosts.iter().find(|p| p.matches_host(text)) {
            reasons.push(format!("host `{text}` matches allow rule `{rule}`"));
        } else {
            all_hosts_allowed = false;
        }
    }
    if all_hosts_allowed {
        return Verdict::Allowed(reasons.join(", "));
    }
    let named_databases = matches!(target.kind, TargetKind::Postgres | TargetKind::MySql);
    if named_databases
        && let Some(db) = &target.database
        && let Some(rule) = cfg.test_databases.iter().find(|p| p.matches(db))
    {
        return Verdict::Allowed(format!("database `{db}` matches test pattern `{rule}`"));
    }
    let names: Vec<&str> = cfg.test_databases.iter().map(|p| p.as_str()).collect();
    Verdict::Unknown(if named_databases {
        format!(
            "host `{}` is neither local nor allowlisted, and database `{}` is not named like a test database ({})",
            texts.join(","),
            target.database.as_deref().unwrap_or(""),
            names.join(", ")
        )
    } else {
        format!(
            "host `{}` is neither local nor allowlisted",
            texts.join(",")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_values_split_between_ids_not_inside_them() {
        assert_eq!(
            override_ids("postgres://a:5432,b:5433/app,redis://c:6379/1  postgres://d:5432/x"),
            [
                "postgres://a:5432,b:5433/app",
                "redis://c:6379/1",
                "postgres://d:5432/x"
            ]
        );
        assert_eq!(
            override_ids(" redis://h:6379/0,5 , sqlite://my dir/test.db"),
            ["redis://h:6379/0,5", "sqlite://my dir/test.db"]
        );
        assert!(override_ids(" , ").is_empty());
        assert_eq!(override_ids("garbage"), ["garbage"]);
    }

    #[test]
    fn hosts_are_compared_without_their_trailing_dot() {
        assert_eq!(
            host_text(&Host::Name("db.x.rds.amazonaws.com.".into())),
            "db.x.rds.amazonaws.com"
        );
        assert!(is_local(&Host::Name("localhost.".into())));
    }
}
