//! QuestDB's readiness ladder ([`QuestDbProbe`] says what each step proves).

use std::time::{Duration, Instant};

use url::Url;

use crate::error::{Error, Result};
use crate::net::HostPort;
use crate::probe::{
    HttpProbe, PostgresProbe, Probe, ProbeContext, ProbeFailure, ProbeFuture, StatusRule,
};

/// One rung of the ladder.
#[derive(Debug)]
struct Step {
    name: String,
    probe: Box<dyn Probe>,
}

/// The QuestDB readiness ladder: steps, each reported as it passes. What each step proves
/// on current QuestDB releases (read from QuestDB's own source, not only its docs):
///
/// 1. `min-health` — the minimal HTTP server (`:9003`, any path; `/status` is used)
///    answers `200` with body `Status: Healthy`. It proves the **process** is up, not the
///    engine: recent QuestDB starts this server first and answers `200` while the engine is
///    still starting (a restore, a WAL replay). With `http.user`/`http.password` set it
///    answers `401` unless the request carries those Basic credentials
///    (`http.health.check.authentication.required` defaults to true), so an authenticated
///    QuestDB needs [`QuestDbProbeBuilder::http_auth`].
/// 2. `pg-wire` — the PostgreSQL wire server (`:8812`) authenticates the user (QuestDB asks
///    for a cleartext password; default `admin`/`quest`) and answers `SELECT 1`. This is
///    the proof that the **engine** is up: QuestDB binds this port with accepts paused
///    until the engine has started, and only the engine executes the query.
/// 3. optionally `ping` — the HTTP server (`:9000`) answers `GET /ping` with `204`. It
///    proves the HTTP server (REST, the console, ILP over HTTP) accepts and answers, which
///    it does only once the engine has started. `/ping` never asks for credentials.
///
/// There is no ILP/TCP step: ILP/TCP never answers, and QuestDB binds `:9009` before it
/// accepts, so a connect there proves only that the port is bound (it passes on a
/// socket nothing serves). ILP readiness is `/ping`, the endpoint QuestDB's own ILP/HTTP
/// clients check.
///
/// Every step opens its own connection and closes it before the next begins: QuestDB keeps
/// a connection open until the client closes it (a request's `Connection: close` does not
/// change that), and its servers accept a limited number at once (the min server 64 since
/// QuestDB 8.2, 4 before). A probe that left connections open would lock out the next one.
///
/// ```
/// use preflight_readiness::{QuestDbProbe, Target};
///
/// let ladder = QuestDbProbe::builder("questdb")
///     .http_auth("admin", "s3cret") // QDB_HTTP_USER / QDB_HTTP_PASSWORD
///     .password("quest")            // QDB_PG_PASSWORD
///     .ping_port(9000)
///     .build()?;
/// assert_eq!(ladder.step_names(), ["min-health :9003", "pg-wire :8812", "ping :9000"]);
/// let target = Target::new("questdb", ladder);
/// # Ok::<(), preflight_readiness::Error>(())
/// ```
#[derive(Debug)]
pub struct QuestDbProbe {
    steps: Vec<Step>,
}

impl QuestDbProbe {
    /// Starts a builder for the server at `host`, with QuestDB's default ports and
    /// credentials and no HTTP authentication.
    pub fn builder(host: impl Into<String>) -> QuestDbProbeBuilder {
        QuestDbProbeBuilder {
            host: host.into(),
            health_port: 9003,
            pg_port: 8812,
            user: "admin".to_owned(),
            password: "quest".to_owned(),
            database: "qdb".to_owned(),
            http_auth: None,
            ping_port: None,
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
            // The steps share the probe timeout and must use up slightly less of it than
            // the wait loop allows, so a step that hangs (a port bound with accepts
            // paused) fails under its own name instead of as an anonymous timeout.
            let budget = cx.timeout();
            let deadline =
                Instant::now() + budget.saturating_sub((budget / 20).max(Duration::from_millis(2)));
            for step in &self.steps {
                // Each step gets its own context so its inner steps do not leak into
                // the ladder's report.
                let mut inner =
                    ProbeContext::new(deadline.saturating_duration_since(Instant::now()));
                tokio::time::timeout_at(deadline.into(), step.probe.probe(&mut inner))
                    .await
                    .unwrap_or_else(|_| {
                        Err(ProbeFailure::new(format!(
                            "no answer within the probe timeout ({})",
                            humantime::format_duration(budget)
                        )))
                    })
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
    http_auth: Option<(String, String)>,
    ping_port: Option<u16>,
}

impl std::fmt::Debug for QuestDbProbeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuestDbProbeBuilder")
            .field("host", &self.host)
            .field("health_port", &self.health_port)
            .field("pg_port", &self.pg_port)
            .field("user", &self.user)
            .field("database", &self.database)
            .field(
                "http_user",
                &self.http_auth.as_ref().map(|(user, _)| user.as_str()),
            )
            .field("ping_port", &self.ping_port)
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

    /// The database name (default `qdb`). QuestDB accepts any name; a PostgreSQL standing
    /// in for it in tests does not.
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = database.into();
        self
    }

    /// HTTP Basic credentials for the min-health step: QuestDB's `http.user` and
    /// `http.password`, which its min server requires by default once they are set.
    /// They are sent to no other step and never printed.
    pub fn http_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.http_auth = Some((user.into(), password.into()));
        self
    }

    /// Also requires `GET /ping` → `204` on this HTTP port (QuestDB's is 9000).
    pub fn ping_port(mut self, port: u16) -> Self {
        self.ping_port = Some(port);
        self
    }

    /// Builds the ladder.
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] when the host (or an HTTP user) makes an invalid URL.
    pub fn build(self) -> Result<QuestDbProbe> {
        let http_url = |port: u16, path: &str| -> Result<String> {
            let text = format!("http://{}{path}", HostPort::new(self.host.clone(), port));
            Url::parse(&text)
                .map(String::from)
                .map_err(|e| Error::InvalidTarget {
                    spec: text,
                    reason: e.to_string(),
                })
        };
        let mut health_url = http_url(self.health_port, "/status")?;
        if let Some((user, password)) = &self.http_auth {
            // The HTTP client sends URL credentials as Basic authentication and strips
            // them from the URL; the probe's own name for the URL masks the password.
            let mut url = Url::parse(&health_url).map_err(|e| Error::InvalidTarget {
                spec: health_url.clone(),
                reason: e.to_string(),
            })?;
            let refused = || Error::InvalidTarget {
                spec: format!("http user `{user}`"),
                reason: "cannot be sent as HTTP Basic credentials".to_owned(),
            };
            url.set_username(user).map_err(|()| refused())?;
            url.set_password(Some(password)).map_err(|()| refused())?;
            health_url = url.into();
        }
        let mut steps = vec![
            Step {
                name: format!("min-health :{}", self.health_port),
                probe: Box::new(
                    HttpProbe::builder(health_url)
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
                    HttpProbe::builder(http_url(port, "/ping")?)
                        .status(StatusRule::exactly(204))
                        .build()?,
                ),
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
            .build()
            .unwrap();
        assert_eq!(
            probe.step_names(),
            ["min-health :9003", "pg-wire :8812", "ping :9000"]
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let builder = QuestDbProbe::builder("h")
            .password("pg-s3cret")
            .http_auth("web", "http-s3cret");
        let probe = builder.clone().build().unwrap();
        for debug in [format!("{builder:?}"), format!("{probe:?}")] {
            assert!(!debug.contains("s3cret"), "{debug}");
        }
        assert!(format!("{builder:?}").contains("\"web\""));
    }

    #[test]
    fn http_credentials_with_url_delimiters_are_accepted() {
        let probe = QuestDbProbe::builder("qdb")
            .http_auth("a:b@c", "p/ss:w@rd#?")
            .build();
        assert!(probe.is_ok(), "{probe:?}");
    }
}
