//! QuestDB: a ladder of steps, each reported as it passes:
//!
//! 1. `min-health` — the minimal HTTP server (`:9003`) answers `200` with body
//!    `Status: Healthy` (any path; `/status` is used);
//! 2. `pg-wire` — the PostgreSQL wire protocol (`:8812`, `admin`/`quest`, database `qdb`)
//!    answers `SELECT 1`;
//! 3. optionally `ping` — the HTTP server (`:9000`) answers `/ping` with `204`;
//! 4. optionally `ilp` — the ILP/TCP port (`:9009`) accepts a connection (ILP/TCP never
//!    replies, so a connect is all there is to check).
//!
//! A 200 from the min server does not prove the other ports are up: they are separate
//! servers, hence the ladder. The min server allows only 4 connections; every step closes
//! its connection before the next begins.

use crate::error::Result;
use crate::net::HostPort;
use crate::probe::{
    HttpProbe, PostgresProbe, Probe, ProbeContext, ProbeFailure, ProbeFuture, StatusRule, TcpProbe,
};

/// One rung of the ladder.
#[derive(Debug)]
struct Step {
    name: String,
    probe: Box<dyn Probe>,
}

/// The QuestDB readiness ladder; see the module docs of `wait-for-questdb`.
#[derive(Debug)]
pub struct QuestDbProbe {
    steps: Vec<Step>,
}

impl QuestDbProbe {
    /// Starts a builder for the server at `host`, with QuestDB's default ports and
    /// credentials.
    pub fn builder(host: impl Into<String>) -> QuestDbProbeBuilder {
        QuestDbProbeBuilder {
            host: host.into(),
            health_port: 9003,
            pg_port: 8812,
            user: "admin".to_owned(),
            password: "quest".to_owned(),
            database: "qdb".to_owned(),
            ping_port: None,
            ilp_port: None,
        }
    }

    /// The names of the steps, in order (`min-health :9003`, `pg-wire :8812`, ...).
    #[must_use]
    pub fn step_names(&self) -> Vec<&str> {
        self.steps.iter().map(|s| s.name.as_str()).collect()
    }
}

impl Probe for QuestDbProbe {
    fn probe<'a>(&'a self, cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            for step in &self.steps {
                // Each step gets its own context so its inner steps do not leak into
                // the ladder's report.
                let mut inner = ProbeContext::new(cx.timeout());
                step.probe
                    .probe(&mut inner)
                    .await
                    .map_err(|failure| failure.context(&step.name))?;
                cx.step_passed(step.name.clone());
            }
            Ok::<(), ProbeFailure>(())
        })
    }
}

/// Builds a [`QuestDbProbe`].
#[derive(Clone)]
#[must_use]
pub struct QuestDbProbeBuilder {
    host: String,
    health_port: u16,
    pg_port: u16,
    user: String,
    password: String,
    database: String,
    ping_port: Option<u16>,
    ilp_port: Option<u16>,
}

impl std::fmt::Debug for QuestDbProbeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuestDbProbeBuilder")
            .field("host", &self.host)
            .field("health_port", &self.health_port)
            .field("pg_port", &self.pg_port)
            .field("user", &self.user)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl QuestDbProbeBuilder {
    /// The min-health HTTP port (default 9003, `http.min.net.bind.to`).
    pub fn health_port(mut self, port: u16) -> Self {
        self.health_port = port;
        self
    }

    /// The PostgreSQL wire port (default 8812, `pg.net.bind.to`).
    pub fn pg_port(mut self, port: u16) -> Self {
        self.pg_port = port;
        self
    }

    /// The PG wire user (default `admin`, `pg.user`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// The PG wire password (default `quest`, `pg.password`).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = password.into();
        self
    }

    /// The database name (default `qdb`).
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = database.into();
        self
    }

    /// Also requires `GET /ping` → `204` on this HTTP port (QuestDB's is 9000).
    pub fn ping_port(mut self, port: u16) -> Self {
        self.ping_port = Some(port);
        self
    }

    /// Also requires the ILP/TCP port (QuestDB's is 9009) to accept a connection.
    pub fn ilp_port(mut self, port: u16) -> Self {
        self.ilp_port = Some(port);
        self
    }

    /// Builds the ladder.
    ///
    /// # Errors
    /// [`crate::Error::InvalidTarget`] when the host makes an invalid URL.
    pub fn build(self) -> Result<QuestDbProbe> {
        let http_url = |port: u16, path: &str| {
            format!("http://{}{path}", HostPort::new(self.host.clone(), port))
        };
        let mut steps = vec![
            Step {
                name: format!("min-health :{}", self.health_port),
                probe: Box::new(
                    HttpProbe::builder(http_url(self.health_port, "/status"))
                        .status(StatusRule::exactly(200))
                        .body_contains("Status: Healthy")
                        .build()?,
                ),
            },
            Step {
                name: format!("pg-wire :{}", self.pg_port),
                probe: Box::new(PostgresProbe::from_config(self.pg_config())),
            },
        ];
        if let Some(port) = self.ping_port {
            steps.push(Step {
                name: format!("ping :{port}"),
                probe: Box::new(
                    HttpProbe::builder(http_url(port, "/ping"))
                        .status(StatusRule::exactly(204))
                        .build()?,
                ),
            });
        }
        if let Some(port) = self.ilp_port {
            steps.push(Step {
                name: format!("ilp :{port}"),
                probe: Box::new(TcpProbe::new(self.host.clone(), port)),
            });
        }
        Ok(QuestDbProbe { steps })
    }

    fn pg_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(HostPort::new(self.host.clone(), self.pg_port).host)
            .port(self.pg_port)
            .user(&self.user)
            .password(&self.password)
            .dbname(&self.database)
            .application_name("preflight-readiness");
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_has_the_documented_steps() {
        let probe = QuestDbProbe::builder("::1")
            .ping_port(9000)
            .ilp_port(9009)
            .build()
            .unwrap();
        assert_eq!(
            probe.step_names(),
            [
                "min-health :9003",
                "pg-wire :8812",
                "ping :9000",
                "ilp :9009"
            ]
        );
        let debug = format!("{:?}", QuestDbProbe::builder("h").password("s3cret"));
        assert!(!debug.contains("s3cret"), "{debug}");
    }
}
