//! A throw-away PostgreSQL cluster on a free loopback port.
//!
//! `initdb` runs once per machine into a cached template directory (guarded by a file
//! lock, so parallel test processes share it); each server copies the template, which is
//! much cheaper than `initdb`. PostgreSQL refuses to run as root, so under root the
//! cluster belongs to the `postgres` user.

use std::{
    fs::{self, File},
    io::Write,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use nix::{
    sys::signal::Signal,
    unistd::{Gid, Uid, User, geteuid},
};

use crate::{
    Error, Result, find_program,
    instance::{Flavor, Instance},
};

const INSTALL_HINT: &str = "Debian: apt-get install postgresql, or set PREFLIGHT_PG_BINDIR";

/// A PostgreSQL server with trust authentication and superuser `postgres`, stopped and
/// removed on drop.
///
/// ```no_run
/// let pg = preflight_testkit::PostgresServer::start()?;
/// assert_eq!(pg.psql("postgres", "SELECT 1")?, "1");
/// # Ok::<(), preflight_testkit::Error>(())
/// ```
///
/// With [`PostgresBuilder::password_auth`] every role but `postgres` must log in with a
/// cleartext password (`pg_hba.conf` method `password`), as QuestDB's PG wire does:
///
/// ```no_run
/// let pg = preflight_testkit::PostgresServer::builder()
///     .password_auth("admin", "quest")
///     .start()?;
/// pg.psql("postgres", "CREATE DATABASE qdb OWNER admin")?;
/// # Ok::<(), preflight_testkit::Error>(())
/// ```
#[derive(Debug)]
pub struct PostgresServer {
    instance: Instance<Postgres>,
    bindir: PathBuf,
}

/// Options for a [`PostgresServer`]: password authentication, delayed start.
#[derive(Debug, Default)]
#[must_use]
pub struct PostgresBuilder {
    password_auth: Option<(String, String)>,
    delay: Option<Duration>,
    held: bool,
}

impl PostgresBuilder {
    /// Creates login role `user` with `password` and requires a cleartext password
    /// (`pg_hba.conf` method `password`) from every role except the superuser `postgres`,
    /// which keeps trust authentication so [`PostgresServer::psql`] still works. This is
    /// how QuestDB's PG wire authenticates (`CleartextPasswordPgWireAuthenticator`).
    pub fn password_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.password_auth = Some((user.into(), password.into()));
        self
    }

    /// Starts the server in the background after `delay`; `start` then returns at once.
    /// Not combinable with [`PostgresBuilder::password_auth`], whose role is created on
    /// the running server.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Reserves the port and returns at once; the server starts when the
    /// [`crate::Starter`] from `starter()` says so (or never, if the handle is dropped
    /// first). For tests that start a service the moment a client first fails to reach
    /// it, instead of racing a delay against the first attempt.
    pub fn held(mut self) -> Self {
        self.held = true;
        self
    }

    /// Starts the server; without a delay, returns once it accepts connections (and the
    /// password role exists).
    ///
    /// # Errors
    /// As [`PostgresServer::start`]; [`Error::Command`] if the role cannot be created
    /// (the password is not part of the message), or if a delay is combined with
    /// password authentication.
    pub fn start(self) -> Result<PostgresServer> {
        if (self.delay.is_some() || self.held) && self.password_auth.is_some() {
            return Err(Error::Command {
                command: "PostgresBuilder::start".to_owned(),
                output: "a delayed start cannot create the password_auth role".to_owned(),
            });
        }
        let mut flavor = Postgres::new()?;
        flavor.password_auth = self.password_auth.is_some();
        let bindir = flavor.bindir.clone();
        let instance = match (self.held, self.delay) {
            (true, _) => Instance::start_held(flavor)?,
            (false, None) => Instance::start(flavor)?,
            (false, Some(delay)) => Instance::start_after(flavor, delay)?,
        };
        let server = PostgresServer { instance, bindir };
        if let Some((user, password)) = &self.password_auth {
            server.create_login_role(user, password)?;
        }
        Ok(server)
    }
}

impl PostgresServer {
    /// Options: password authentication, delayed start.
    pub fn builder() -> PostgresBuilder {
        PostgresBuilder::default()
    }

    /// Starts a server and returns once it accepts connections.
    pub fn start() -> Result<Self> {
        Self::builder().start()
    }

    /// Returns at once with the port reserved; the server starts after `delay`.
    ///
    /// The template cluster is prepared before this returns, so the delay measures the
    /// server's own start, not a first `initdb`.
    pub fn start_after(delay: Duration) -> Result<Self> {
        Self::builder().delay(delay).start()
    }

    /// `CREATE ROLE user LOGIN PASSWORD '…'`, fed to psql on stdin so the password is in
    /// no process argument and no error message.
    fn create_login_role(&self, user: &str, password: &str) -> Result<()> {
        let sql = format!(
            "CREATE ROLE {} LOGIN PASSWORD {};\n",
            quote_ident(user),
            quote_literal(password)
        );
        let mut child = Command::new(self.bindir.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port().to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args(["-f", "-"])
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(Error::io("running psql", self.bindir.join("psql")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(sql.as_bytes())
                .map_err(Error::io("writing to psql", self.bindir.join("psql")))?;
        }
        let output = child
            .wait_with_output()
            .map_err(Error::io("running psql", self.bindir.join("psql")))?;
        if output.status.success() {
            return Ok(());
        }
        Err(Error::Command {
            command: format!("psql: CREATE ROLE {user} LOGIN PASSWORD (withheld)"),
            // The server echoes no password in its errors; psql echoes no input.
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Starts a server built with `held()` (or still waiting for its delay) now, from
    /// any thread; `None` for a server started without delay.
    #[must_use]
    pub fn starter(&self) -> Option<crate::Starter> {
        self.instance.starter()
    }

    /// The loopback port it listens on (or will).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.instance.port()
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    #[must_use]
    pub fn url(&self) -> String {
        self.url_for("postgres", "postgres")
    }

    /// `postgres://USER@127.0.0.1:PORT/DB`.
    #[must_use]
    pub fn url_for(&self, user: &str, db: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{db}", self.port())
    }

    /// The directory holding the server's Unix socket.
    #[must_use]
    pub fn socket_dir(&self) -> PathBuf {
        self.instance.dir().join("sock")
    }

    /// Blocks until the server accepts connections (for servers started with a delay).
    pub fn wait_until_ready(&self, timeout: Duration) -> Result<()> {
        self.instance.wait_until_ready(timeout)
    }

    /// Runs `sql` in database `db` as superuser `postgres` with `psql -At`; returns its
    /// trimmed output. Statements run in autocommit mode, so `CREATE DATABASE` works.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let output = Command::new(self.bindir.join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port().to_string(),
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ])
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE")
            .stdin(Stdio::null())
            .output()
            .map_err(Error::io("running psql", self.bindir.join("psql")))?;
        let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if output.status.success() {
            Ok(stdout)
        } else {
            Err(Error::Command {
                command: format!("psql -d {db} -c {sql:?}"),
                output: format!("{}{stdout}", String::from_utf8_lossy(&output.stderr)),
            })
        }
    }
}

#[derive(Debug)]
struct Postgres {
    bindir: PathBuf,
    template: PathBuf,
    owner: Option<(Uid, Gid)>,
    /// Cleartext password authentication for every role but `postgres`.
    password_auth: bool,
}

/// QuestDB-like authentication: the superuser keeps trust (the test kit's own psql), every
/// other role sends its password in cleartext, as QuestDB's PG wire asks for.
const PASSWORD_HBA: &str = "\
# preflight-testkit password_auth: cleartext passwords, as QuestDB's PG wire
local all postgres trust
host  all postgres 127.0.0.1/32 trust
local all all password
host  all all 127.0.0.1/32 password
";

/// `"name"` with embedded quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with embedded quotes doubled (standard_conforming_strings is on).
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl Postgres {
    fn new() -> Result<Self> {
        let bindir = bindir()?;
        let owner = cluster_owner()?;
        let template = template(&bindir, owner)?;
        Ok(Self {
            bindir,
            template,
            owner,
            password_auth: false,
        })
    }
}

impl Flavor for Postgres {
    const NAME: &'static str = "postgres";
    // SIGINT is PostgreSQL's "fast" shutdown: disconnect clients, exit cleanly.
    const STOP_SIGNAL: Signal = Signal::SIGINT;

    fn spawn(&self, dir: &Path, port: u16) -> Result<Child> {
        let data = dir.join("data");
        let sock = dir.join("sock");
        run(Command::new("cp").arg("-a").arg(&self.template).arg(&data))?;
        if self.password_auth {
            let hba = data.join("pg_hba.conf");
            fs::write(&hba, PASSWORD_HBA).map_err(Error::io("writing pg_hba.conf", &hba))?;
        }
        fs::create_dir(&sock).map_err(Error::io("creating the socket dir", &sock))?;
        chown(dir, self.owner)?;
        chown(&sock, self.owner)?;
        let log = self.log_file(dir);
        let log_file = File::create(&log).map_err(Error::io("creating the log file", &log))?;
        let mut command = Command::new(self.bindir.join("postgres"));
        command
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .arg("-k")
            .arg(&sock)
            // Durability is worthless for a throw-away server; speed is not.
            .args([
                "-F",
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "full_page_writes=off",
            ])
            .args(["-c", "synchronous_commit=off", "-c", "shared_buffers=16MB"])
            .stdin(Stdio::null())
            .stdout(
                log_file
                    .try_clone()
                    .map_err(Error::io("opening the log file", &log))?,
            )
            .stderr(log_file);
        as_owner(&mut command, self.owner);
        command
            .spawn()
            .map_err(Error::io("spawning postgres", self.bindir.join("postgres")))
    }

    fn is_ready(&self, dir: &Path, _port: u16) -> bool {
        // postgres writes "ready" as the 8th line of postmaster.pid once it accepts
        // connections; pg_ctl -w waits on the same line.
        fs::read_to_string(dir.join("data/postmaster.pid"))
            .is_ok_and(|pid| pid.lines().nth(7).is_some_and(|s| s.trim() == "ready"))
    }

    fn log_file(&self, dir: &Path) -> PathBuf {
        dir.join("postgres.log")
    }
}

/// Where PostgreSQL's server programs live: `PREFLIGHT_PG_BINDIR`, Debian's newest
/// `/usr/lib/postgresql/N/bin`, or the directory of `initdb` on `PATH`.
fn bindir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PREFLIGHT_PG_BINDIR") {
        return Ok(PathBuf::from(dir));
    }
    let debian = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((major, bin))
        })
        .max();
    if let Some((_, bin)) = debian {
        return Ok(bin);
    }
    let initdb = find_program("initdb", INSTALL_HINT)?;
    let initdb = fs::canonicalize(&initdb).unwrap_or(initdb);
    Ok(initdb.parent().unwrap_or(Path::new("/")).to_path_buf())
}

/// Under root, the `postgres` user (PostgreSQL will not run as root); otherwise ourselves.
fn cluster_owner() -> Result<Option<(Uid, Gid)>> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    match User::from_name("postgres") {
        Ok(Some(user)) => Ok(Some((user.uid, user.gid))),
        _ => Err(Error::BinaryNotFound {
            binary: "user postgres",
            hint: "PostgreSQL refuses to run as root; create a `postgres` user or run tests as another user",
        }),
    }
}

/// The cached, initialised cluster every server copies; made once, under a file lock.
fn template(bindir: &Path, owner: Option<(Uid, Gid)>) -> Result<PathBuf> {
    let root = crate::scratch_root().join("preflight-testkit");
    fs::create_dir_all(&root).map_err(Error::io("creating the cache dir", &root))?;
    // The cluster owner must be able to reach the template through this directory.
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).map_err(Error::io(
        "opening the cache dir to the cluster owner",
        &root,
    ))?;
    let key: String = bindir
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let template = root.join(format!("pg-template-v2{key}"));
    let complete = template.join(".preflight-complete");
    if complete.exists() {
        return Ok(template);
    }
    let lock_path = root.join("pg-template.lock");
    let lock = File::create(&lock_path).map_err(Error::io("creating the lock file", &lock_path))?;
    lock.lock()
        .map_err(Error::io("locking the template", &lock_path))?;
    if complete.exists() {
        return Ok(template);
    }
    let building = root.join(format!("pg-template-v2{key}.{}", std::process::id()));
    let _ = fs::remove_dir_all(&building);
    let _ = fs::remove_dir_all(&template);
    fs::create_dir(&building).map_err(Error::io("creating the template dir", &building))?;
    chown(&building, owner)?;
    let mut initdb = Command::new(bindir.join("initdb"));
    initdb.arg("-D").arg(&building).args([
        "-U",
        "postgres",
        "--auth=trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
        // 1 MB WAL segments instead of 16 MB: every server copies the template.
        "--wal-segsize=1",
    ]);
    as_owner(&mut initdb, owner);
    run(&mut initdb)?;
    File::create(building.join(".preflight-complete"))
        .map_err(Error::io("marking the template complete", &building))?;
    fs::rename(&building, &template).map_err(Error::io("publishing the template", &template))?;
    Ok(template)
}

fn as_owner(command: &mut Command, owner: Option<(Uid, Gid)>) {
    if let Some((uid, gid)) = owner {
        command.uid(uid.as_raw()).gid(gid.as_raw());
    }
}

fn chown(path: &Path, owner: Option<(Uid, Gid)>) -> Result<()> {
    match owner {
        Some((uid, gid)) => {
            std::os::unix::fs::chown(path, Some(uid.as_raw()), Some(gid.as_raw())).map_err(
                Error::io("handing the directory to the cluster owner", path),
            )
        }
        None => Ok(()),
    }
}

fn run(command: &mut Command) -> Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(Error::io("running a helper program", command.get_program()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::Command {
        command: format!(
            "{} {}",
            command.get_program().to_string_lossy(),
            command
                .get_args()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `psql -c 'SELECT current_user'` as `user` with `PGPASSWORD`.
    fn login(pg: &PostgresServer, user: &str, password: &str) -> std::process::Output {
        Command::new(pg.bindir.join("psql"))
            .args(["-X", "-A", "-t", "-w", "-h", "127.0.0.1"])
            .args(["-p", &pg.port().to_string(), "-U", user, "-d", "postgres"])
            .args(["-c", "SELECT current_user"])
            .env("PGPASSWORD", password)
            .env_remove("PGSERVICE")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    #[test]
    fn password_auth_requires_the_role_password() {
        let pg = crate::require!(
            PostgresServer::builder()
                .password_auth("admin", "it's quest")
                .start()
        );
        let ok = login(&pg, "admin", "it's quest");
        assert!(ok.status.success(), "{ok:?}");
        assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "admin");
        let wrong = login(&pg, "admin", "quest");
        assert!(!wrong.status.success());
        let stderr = String::from_utf8_lossy(&wrong.stderr);
        assert!(
            stderr.contains("password authentication failed for user \"admin\""),
            "{stderr}"
        );
        // The superuser keeps trust, so the kit's own psql still works.
        assert_eq!(pg.psql("postgres", "SELECT 1").unwrap(), "1");
    }

    #[test]
    fn password_auth_with_a_delay_is_refused() {
        let err = PostgresServer::builder()
            .password_auth("admin", "quest")
            .delay(Duration::from_millis(1))
            .start()
            .unwrap_err();
        assert!(err.to_string().contains("delayed start"), "{err}");
    }
}
