//! Layer 2: environment names (`APP_ENV=production` and friends). An override never lifts
//! it.

use super::finding;
use crate::env::Env;
use crate::guard::Config;
use crate::report::{Finding, Layer, Status};

pub(super) fn check(cfg: &Config, env: &dyn Env) -> Option<Finding> {
    if cfg.env_vars.is_empty() {
        return None;
    }
    let hits: Vec<String> = cfg
        .env_vars
        .iter()
        .filter_map(|var| {
            env.var(var)
                .filter(|v| cfg.is_protected(v))
                .map(|v| format!("{var}={v}"))
        })
        .collect();
    Some(if hits.is_empty() {
        finding(
            Layer::Environment,
            Status::Passed,
            None,
            format!(
                "none of {} names a protected environment",
                cfg.env_vars.join(", ")
            ),
        )
    } else {
        finding(
            Layer::Environment,
            Status::Failed,
            None,
            format!("{} names a protected environment", hits.join(", ")),
        )
    })
}
