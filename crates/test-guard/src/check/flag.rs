//! Layer 1: the flag variable that is set only where tests are meant to run (the original
//! project's `TESTING_IN_DOCKER`). An override never lifts it.

use super::finding;
use crate::env::{Env, is_truthy};
use crate::guard::Config;
use crate::report::{Finding, Layer, Status};

pub(super) fn check(cfg: &Config, env: &dyn Env) -> Option<Finding> {
    let flag = cfg.flag.as_ref()?;
    let value = env.var(flag);
    Some(if is_truthy(value.as_deref()) {
        finding(Layer::Flag, Status::Passed, None, format!("{flag} is set"))
    } else {
        let seen = match value {
            None => "is not set".to_owned(),
            Some(v) => format!("is `{v}`, which does not count as set"),
        };
        finding(
            Layer::Flag,
            Status::Failed,
            None,
            format!("{flag} {seen}; set {flag}=1 only where tests are meant to run"),
        )
    })
}
