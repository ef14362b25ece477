//! The outcome of a check: every layer's finding, and the two ways it can end, a
//! [`Clearance`] or a [`Refusal`]. A refusal's message is written for the person who just
//! ran the tests: what failed, what matched, and the exact override to type. It never
//! contains a password (targets are always shown masked or by their [`id`](crate::Target::id)).

use std::fmt;

/// The checks, cheapest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Layer {
    /// The required flag variable (e.g. `TESTING_IN_DOCKER`).
    Flag,
    /// Environment names such as `APP_ENV=production`.
    Environment,
    /// The resolved targets against host rules and database-name patterns.
    Targets,
    /// The marker read live from each server.
    Marker,
    /// Who is running: CI, a terminal, an AI agent.
    Actor,
}

impl Layer {
    /// The layer's name as printed: `flag`, `environment`, `targets`, `marker`, `actor`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Flag => "flag",
            Self::Environment => "environment",
            Self::Targets => "targets",
            Self::Marker => "marker",
            Self::Actor => "actor",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// The check passed.
    Passed,
    /// The check failed: the run is refused.
    Failed,
    /// The check failed, but the override names this target.
    Overridden,
    /// The check was not made (off, not compiled in, or already refused); says why.
    NotChecked,
}

impl Status {
    fn tag(self) -> &'static str {
        match self {
            Self::Passed => "ok  ",
            Self::Failed => "FAIL",
            Self::Overridden => "OVERRIDDEN",
            Self::NotChecked => "--  ",
        }
    }
}

/// One layer's verdict on one thing (the process, or one target).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// Which layer.
    pub layer: Layer,
    /// The outcome.
    pub status: Status,
    /// The target it is about (source and id, never a password), if any.
    pub target: Option<String>,
    /// What was seen and what matched.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.status.tag(), self.layer)?;
        if let Some(target) = &self.target {
            write!(f, "{target}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every finding of one check, in layer order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub(crate) findings: Vec<Finding>,
    pub(crate) override_var: String,
    /// Target ids whose failures an override could lift.
    pub(crate) overridable: Vec<String>,
}

impl Report {
    /// All findings, in layer order.
    #[must_use]
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The findings that refuse the run.
    pub fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.status == Status::Failed)
    }

    /// The findings lifted by an override.
    pub fn overridden(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.status == Status::Overridden)
    }

    /// `true` when nothing failed.
    #[must_use]
    pub fn is_cleared(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The exact override line that would allow the refused targets, if an override can.
    /// Ids are separated by spaces: a multi-host id has commas of its own.
    #[must_use]
    pub fn override_hint(&self) -> Option<String> {
        (!self.overridable.is_empty())
            .then(|| format!("{}='{}'", self.override_var, self.overridable.join(" ")))
    }

    pub(crate) fn into_result(self) -> Result<Clearance, Refusal> {
        if self.is_cleared() {
            Ok(Clearance(self))
        } else {
            Err(Refusal(self))
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "  {finding}")?;
        }
        Ok(())
    }
}

/// The check passed: the targets may be used. Carries the report (and any override used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clearance(Report);

impl Clearance {
    /// The full report.
    #[must_use]
    pub fn report(&self) -> &Report {
        &self.0
    }

    /// `true` when an override let something through that would have been refused.
    #[must_use]
    pub fn used_override(&self) -> bool {
        self.0.overridden().next().is_some()
    }
}

impl fmt::Display for Clearance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.used_override() {
            writeln!(
                f,
                "test-guard: cleared ONLY BECAUSE OF AN OVERRIDE ({}):",
                self.0.override_var
            )?;
        } else {
            writeln!(f, "test-guard: cleared")?;
        }
        write!(f, "{}", self.0)
    }
}

/// The check failed: nothing may touch the targets. Its `Display` is the full message for
/// the person at the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(Report);

impl Refusal {
    /// The full report.
    #[must_use]
    pub fn report(&self) -> &Report {
        &self.0
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.0.failures().count();
        let layers: std::collections::BTreeSet<Layer> =
            self.0.failures().map(|f| f.layer).collect();
        writeln!(
            f,
            "test-guard: REFUSED: {failed} check{} failed ({}); nothing was run",
            if failed == 1 { "" } else { "s" },
            layers
                .into_iter()
                .map(Layer::name)
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        write!(f, "{}", self.0)?;
        let unliftable = self
            .0
            .failures()
            .any(|f| matches!(f.layer, Layer::Flag | Layer::Environment | Layer::Actor));
        match self.0.override_hint() {
            Some(hint) => {
                writeln!(
                    f,
                    "if you are certain, allow exactly these targets for one run with:"
                )?;
                write!(f, "  {hint}")?;
                if unliftable {
                    write!(
                        f,
                        "\n(the flag, environment and actor checks cannot be overridden)"
                    )?;
                }
                Ok(())
            }
            None if unliftable => write!(
                f,
                "the flag, environment and actor checks cannot be overridden"
            ),
            None => write!(
                f,
                "the failed checks are not about one target, so no override applies"
            ),
        }
    }
}

impl std::error::Error for Refusal {}
