//! Layer 5 (optional): who is running. CI only, no terminal, no AI coding agent. AI-agent
//! detection lives here and nowhere else. An override never lifts this layer.

use super::finding;
use crate::env::{Env, is_truthy};
use crate::guard::Config;
use crate::report::{Finding, Layer, Status};

/// Variables an AI coding agent sets, following Prisma's list (see the crate docs).
const AI_AGENT_VARS: &[&str] = &[
    "CLAUDECODE",
    "CODEX_THREAD_ID",
    "CODEX_CI",
    "GEMINI_CLI",
    "CURSOR_AGENT",
    "COPILOT_CLI",
    "AI_AGENT",
];

/// `AGENT=<value>` values that name an agent.
const AGENT_VALUES: &[&str] = &["goose", "amp", "1"];

/// The signs of an AI coding agent in `env`, each as `NAME` or `NAME=value`.
pub(crate) fn ai_agents(env: &dyn Env) -> Vec<String> {
    let mut agents: Vec<String> = AI_AGENT_VARS
        .iter()
        .filter(|v| env.var(v).is_some_and(|v| !v.is_empty()))
        .map(|v| (*v).to_owned())
        .collect();
    if let Some(a) = env
        .var("AGENT")
        .filter(|a| AGENT_VALUES.contains(&a.as_str()))
    {
        agents.push(format!("AGENT={a}"));
    }
    if env
        .var("REPLIT_SESSION")
        .is_some_and(|s| s.starts_with("agent-"))
    {
        agents.push("REPLIT_SESSION=agent-*".to_owned());
    }
    agents
}

pub(super) fn check(cfg: &Config, env: &dyn Env) -> Vec<Finding> {
    let mut actor = Vec::new();
    let one = |status, message: &str| finding(Layer::Actor, status, None, message.to_owned());
    if cfg.require_ci {
        actor.push(if is_truthy(env.var("CI").as_deref()) {
            one(Status::Passed, "CI is set")
        } else {
            one(
                Status::Failed,
                "CI is not set, and this guard only clears CI runs",
            )
        });
    }
    if cfg.refuse_interactive {
        actor.push(if env.is_interactive() {
            one(
                Status::Failed,
                "standard input is a terminal, and this guard refuses interactive runs",
            )
        } else {
            one(Status::Passed, "not interactive")
        });
    }
    if cfg.refuse_ai_agents {
        let agents = ai_agents(env);
        actor.push(if agents.is_empty() {
            one(Status::Passed, "no AI agent detected")
        } else {
            finding(
                Layer::Actor,
                Status::Failed,
                None,
                format!(
                    "run by an AI agent ({}); a person must run this",
                    agents.join(", ")
                ),
            )
        });
    }
    actor
}
