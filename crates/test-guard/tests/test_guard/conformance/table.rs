//! The cases: a committed table, one or more per rule of libpq's documentation (connection
//! strings, environment variables, the password file, the service file), and a generator of
//! mixes.

use proptest::prelude::*;

use super::Case;

const PROD: &str = "db.prod.example.com";

/// A service file with the traps libpq's parser sets: a header with text after the `]`, a
/// header with a space inside, a second section of the same name, comments, indentation.
const SERVICES: &str = "# services\n\
[other]\n\
host=other.example.com\n\
[ svc]\n\
host=spaced.example.com\n\
  [svc] trailing words\n\
  host=svc.example.com\n\
port=6543\n\
\tdbname=svc_db\n\
# comment inside\n\
user=svc_user\n\
[svc]\n\
host=second.example.com\n\
hostaddr=10.9.9.9\n\
[local]\n\
host=/tmp\n\
dbname=local_db\n\
[spaced]\n\
host = wrong\n\
[lead]\n\
host= leading.example.com\n\
[nested]\n\
service=svc\n\
[unknown]\n\
HOST=x\n\
[addr]\n\
host=named.example.com\n\
hostaddr=127.0.0.1\n";

const SYSTEM: &str =
    "[svc]\nhost=system.example.com\n[sysonly]\nhost=sysonly.example.com\ndbname=sys_db\n";

const PGPASS: &str = "# comment\n\
 #indented:*:*:*:not-a-comment\n\
LOCALHOST:*:*:*:upper\n\
localhost:5432:*:local:local-pw\n\
127.0.0.1:5433:app:app:pa\\:ss\n\
named.example.com:*:*:addr:by-name\n\
*:*:*:star:any\n";

fn c(name: &str, conn: &str) -> Case {
    Case::new(name, conn)
}

/// The rule table.
#[allow(clippy::too_many_lines, reason = "a table")]
pub(crate) fn cases() -> Vec<Case> {
    let long_line = format!("[svc]\nhost=db\noptions={}\n", "x".repeat(300));
    vec![
        // URIs (docs 34.1.1.2)
        c("uri empty", "postgresql://"),
        c("uri host", "postgresql://localhost"),
        c("uri host port", "postgresql://localhost:5433"),
        c("uri host db", "postgresql://localhost/mydb"),
        c("uri user", "postgresql://user@localhost"),
        c("uri user password", "postgresql://user:secret@localhost"),
        c(
            "uri params",
            "postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp",
        ),
        c(
            "uri multi-host",
            "postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp",
        ),
        c(
            "uri host in query",
            "postgresql:///mydb?host=localhost&port=5433",
        ),
        c("uri ipv6", "postgresql://[2001:db8::1234]/database"),
        c("uri ipv6 port", "postgres://[::1]:5433/db"),
        c(
            "uri socket in query",
            "postgresql:///dbname?host=/var/lib/postgresql",
        ),
        c(
            "uri socket encoded",
            "postgresql://%2Fvar%2Flib%2Fpostgresql/dbname",
        ),
        c(
            "uri query overrides path",
            "postgres://h/db?dbname=other&host=h2",
        ),
        c("uri fragment is data", "postgres://h/db#frag"),
        c("uri utf-8 db", "postgres://h/d%C3%A9j%C3%A0"),
        c("uri non-utf-8 db", "postgres://h/%ff"),
        c("uri encoded at in password", "postgres://user:p%40ss@h/db"),
        c(
            "uri value with ://",
            "postgres://h/db?options=-c%20search_path%3Dx://y",
        ),
        c("uri ssl=true", "postgres://h/db?ssl=true"),
        // User info runs to the first @ before the path; ? does not end it (issue 9).
        c(
            "uri userinfo past ?",
            &format!("postgres://localhost?x=@{PROD}/app"),
        ),
        c(
            "uri userinfo multi-host",
            &format!("postgres://u@localhost,x@{PROD}/app"),
        ),
        c(
            "uri userinfo colon",
            &format!("postgres://localhost:5432@{PROD}/app"),
        ),
        c("uri slash before at", "postgres://localhost/app@prod"),
        // Empty hosts (issue 9).
        c("uri empty host keeps PGHOST", "postgres://app:pw@:5432/app").env("PGHOST", PROD),
        c(
            "uri empty host= ignores PGHOST",
            "postgres://app@/app?host=",
        )
        .env("PGHOST", PROD),
        c("uri no host PGHOST", "postgres:///app_test")
            .env("PGHOST", PROD)
            .env("PGPORT", "6432"),
        c("uri empty middle host", "postgres://h1,,h3/db"),
        c("uri some ports", "postgres://h1:1,h2/db"),
        c("uri encoded comma", "postgres://a%2Cb/db"),
        c("uri encoded port", "postgres://h:%35%34%33%33/db"),
        c("uri spaced port", "postgres://h:%205433/db"),
        c("uri plus port", "postgres://h:+5433/db"),
        c("uri port zero", "postgres://h:0/db"),
        c("uri port too big", "postgres://h:99999/db"),
        c("uri port word", "postgres://h:x/db"),
        c("uri hostaddr", "postgres://h/db?hostaddr=127.0.0.1"),
        c("uri short hostaddr", "postgres://h/db?hostaddr=127.1"),
        c(
            "uri hostaddr count",
            "postgres://h1,h2/db?hostaddr=127.0.0.1",
        ),
        c("uri port count", "postgres://h/db?port=1,2"),
        // Rejected by libpq.
        c("uri upper-case keyword", "postgres://h/db?HOST=x"),
        c("uri unknown keyword", "postgres://h/db?x=1"),
        c("uri upper-case scheme", "POSTGRES://h/db"),
        c("uri leading space", " postgres://h/db"),
        c(
            "uri leading space with =",
            " postgres://h/db?sslmode=disable",
        ),
        c("uri bad percent", "postgres://h/%zz"),
        c("uri percent nul", "postgres://h/a%00b"),
        c("uri short percent", "postgres://h/a%4"),
        c("uri empty brackets", "postgres://[]/db"),
        c("uri open bracket", "postgres://[::1/db"),
        c("uri text after bracket", "postgres://[::1]x/db"),
        c("uri param without =", "postgres://h/db?a"),
        c("uri param two =", "postgres://h/db?host=a=b"),
        c("uri empty param", "postgres://h/db?&host=x"),
        c("uri trailing &", "postgres://h/db?host=x&"),
        // Keyword/value strings (docs 34.1.1.1)
        c(
            "kv basic",
            "host=localhost port=5432 dbname=mydb connect_timeout=10",
        ),
        c("kv spaces around =", "host = localhost dbname = x"),
        c("kv quotes", "host='a b' dbname='it\\'s'"),
        c("kv escape", "host=a\\ b dbname=x"),
        c("kv leading and trailing space", "  host=h  "),
        c(
            "kv no-break space",
            &format!("host=localhost\u{a0}host={PROD}"),
        ),
        c("kv em space", "host=h\u{2003}dbname=x"),
        c("kv control bytes", "host=a\u{1}b dbname=\u{7f}"),
        c("uri control byte", "postgres://h%01/db"),
        c("kv tab", "host=a\tdbname=b"),
        c("kv vertical tab", "host=a\u{b}dbname=b"),
        c("kv form feed", "host=a\u{c}dbname=b"),
        c("kv carriage return", "host=a\rdbname=b"),
        c("kv newline", "host=a\ndbname=b"),
        c("kv quoted then key", "host='a'dbname=b"),
        c("kv duplicate", "host=a host=b"),
        c("kv host list", "host=a,b port=5432,5433"),
        c("kv host list spaced", "host='a, b'"),
        c("kv host list unquoted space", "host=a, b"),
        c(
            "kv hostaddr with name",
            "hostaddr=127.0.0.1 host=prod.example.com",
        ),
        c("kv hostaddr v6", "hostaddr=::1"),
        c("kv socket", "host=/tmp dbname=x"),
        c("kv abstract socket", "host=@abstract dbname=x"),
        c("kv brackets are a name", "host=[::1] dbname=x"),
        c("kv requiressl", "requiressl=1 host=h"),
        c("kv dbname is literal", "dbname=postgres://h/db"),
        c("kv value with ://", "host=h options=-c\\ x=a://b"),
        c("kv empty dbname", "host=h dbname="),
        c("kv empty host", "host= dbname=x").env("PGHOST", PROD),
        c("kv empty user", "user= dbname="),
        c("kv unterminated", "host='x"),
        c("kv no =", "host"),
        c("kv empty key", "=x"),
        c("kv upper-case key", "HOST=localhost"),
        c("kv unknown key", "hots=localhost"),
        c("kv bare word", "mydb"),
        // Environment (docs 34.15), set, unset and empty.
        c("env all", "postgres://")
            .env("PGHOST", PROD)
            .env("PGPORT", "6543")
            .env("PGDATABASE", "d")
            .env("PGUSER", "u"),
        c("env empty PGHOST", "dbname=x").env("PGHOST", ""),
        c("env empty PGDATABASE", "host=h").env("PGDATABASE", ""),
        c("env empty PGUSER", "host=h").env("PGUSER", ""),
        c("env empty PGPORT", "host=h").env("PGPORT", ""),
        c("env bad PGPORT", "host=h").env("PGPORT", "abc"),
        c("env PGHOSTADDR", "host=db.example.com").env("PGHOSTADDR", "127.0.0.1"),
        c("env PGHOSTADDR count", "host=a,b").env("PGHOSTADDR", "10.0.0.1"),
        c("env PGHOSTADDR only", "dbname=x").env("PGHOSTADDR", "10.0.0.1"),
        c("env USER is not the user", &format!("postgres://{PROD}"))
            .env("USER", "app_test")
            .env("LOGNAME", "app_test"),
        c("env explicit wins", "postgres://localhost/x").env("PGHOST", PROD),
        c("env PGPORT list", "host=a,b").env("PGPORT", "1,2"),
        c("env no HOME: the OS home", "host=h user=x").unset("HOME"),
        c("env no PGSYSCONFDIR: the built-in one", "service=nope").unset("PGSYSCONFDIR"),
        // Service files (docs 34.17)
        c("service from PGSERVICE", "dbname=override")
            .env("PGSERVICE", "svc")
            .env("PGSERVICEFILE", "{dir}/svc.conf")
            .file("svc.conf", SERVICES),
        c("service in string", "service=svc")
            .env("PGSERVICEFILE", "{dir}/svc.conf")
            .file("svc.conf", SERVICES),
        c("service in URI", "postgres:///?service=svc")
            .env("PGSERVICEFILE", "{dir}/svc.conf")
            .file("svc.conf", SERVICES),
        c("service beats env", "service=svc")
            .env("PGHOST", PROD)
            .env("PGPORT", "1")
            .env("PGSERVICEFILE", "{dir}/svc.conf")
            .file("svc.conf", SERVICES),
        c("service env fills the rest", "service=local")
            .env("PGPORT", "7777")
            .env("PGSERVICEFILE", "{dir}/svc.conf")
            .file("svc.conf", SERVICES),
        c("service default home file", "service=svc").file(".pg_service.conf", SERVICES),
        c("service home shadows system", "service=svc")
            .file(".pg_service.conf", SERVICES)
            .file("sys/pg_service.conf", SYSTEM),
        c("service falls through to system", "service=sysonly")
            .file(".pg_service.conf", SERVICES)
            .file("sys/pg_service.conf", SYSTEM),
        c("service only in system", "service=svc").file("sys/pg_service.conf", SYSTEM),
        c("service missing", "service=nope").file(".pg_service.conf", SERVICES),
        c("service spaced header", "service= svc").file(".pg_service.conf", SERVICES),
        c("service key = value", "service=spaced").file(".pg_service.conf", SERVICES),
        c("service leading space value", "service=lead").file(".pg_service.conf", SERVICES),
        c("service nested", "service=nested").file(".pg_service.conf", SERVICES),
        c("service upper-case key", "service=unknown").file(".pg_service.conf", SERVICES),
        c("service hostaddr", "service=addr").file(".pg_service.conf", SERVICES),
        c("service empty PGSERVICE", "host=h")
            .env("PGSERVICE", "")
            .file(".pg_service.conf", SERVICES),
        c("service empty PGSERVICEFILE", "service=svc")
            .env("PGSERVICEFILE", "")
            .file(".pg_service.conf", SERVICES),
        c("service empty PGSYSCONFDIR", "service=sysonly").env("PGSYSCONFDIR", ""),
        c("service long line", "service=svc").file(".pg_service.conf", &long_line),
        c("service URI host wins", "postgres://h/?service=svc").file(".pg_service.conf", SERVICES),
        // The password file (docs 34.16)
        c("pgpass socket is localhost", "user=local dbname=x").file(".pgpass", PGPASS),
        c(
            "pgpass explicit localhost",
            "host=localhost user=local dbname=x",
        )
        .file(".pgpass", PGPASS),
        c("pgpass escaped colon", "postgres://app@127.0.0.1:5433/app").file(".pgpass", PGPASS),
        c(
            "pgpass host name with hostaddr",
            "host=named.example.com hostaddr=127.0.0.1 user=addr",
        )
        .file(".pgpass", PGPASS),
        c("pgpass star", "host=anything user=star").file(".pgpass", PGPASS),
        c("pgpass no match", "host=anything user=nobody").file(".pgpass", PGPASS),
        c("pgpass case-sensitive", "host=LOCALHOST user=x").file(".pgpass", PGPASS),
        c("pgpass PGPASSFILE", "host=anything user=star")
            .env("PGPASSFILE", "{dir}/pw")
            .file("pw", PGPASS),
        c(
            "pgpass passfile keyword",
            "host=anything user=star passfile={dir}/pw",
        )
        .file("pw", PGPASS),
        c(
            "pgpass given password wins",
            "host=anything user=star password=given",
        )
        .file(".pgpass", PGPASS),
        c("pgpass PGPASSWORD", "host=anything user=nobody").env("PGPASSWORD", "pw"),
        c(
            "pgpass socket dir explicit",
            "host=/var/run/postgresql user=local dbname=x",
        )
        .file(".pgpass", PGPASS),
    ]
}

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(items).prop_map(str::to_owned)
}

/// Mostly `good`, sometimes `bad`: enough invalid input to exercise every rejection, not
/// so much that few cases get compared.
fn mostly(
    good: &'static [&'static str],
    bad: &'static [&'static str],
) -> impl Strategy<Value = String> {
    prop_oneof![14 => pick(good), 1 => pick(bad)]
}

fn uri() -> impl Strategy<Value = String> {
    let scheme = mostly(
        &["postgres://", "postgresql://"],
        &["POSTGRES://", " postgres://", "postgres:/"],
    );
    let userinfo = pick(&[
        "",
        "",
        "",
        "u@",
        "u:pw@",
        ":pw@",
        "u%40x:p%3Ass@",
        "localhost?x=@",
        "a,b@",
        "u:@",
    ]);
    let host = mostly(
        &[
            "localhost",
            "127.0.0.1",
            "[::1]",
            "db.prod.example.com",
            "DB.Example.com",
            "",
            "%2Ftmp",
            "%2Fvar%2Frun%2Fpostgresql",
            "a%2Cb",
            "[2001:db8::1]",
            "h\u{f6}st",
            "h%20x",
            "h%01x",
            "h\u{7f}",
        ],
        &["h%zz", "[]", "[::1", "h%00"],
    );
    let port = mostly(
        &["", "", ":5433", ":%35%34%33%32", ":"],
        &[":0", ":x", ":99999", ":+1"],
    );
    let hosts = prop::collection::vec((host, port), 1..4).prop_map(|hs| {
        hs.into_iter()
            .map(|(h, p)| format!("{h}{p}"))
            .collect::<Vec<_>>()
            .join(",")
    });
    let path = mostly(
        &["", "/", "/app_test", "/app", "/a%20b", "/d%C3%A9", "/x@y"],
        &["/%00", "/%g1"],
    );
    let param = mostly(
        &[
            "host=db.prod.example.com",
            "host=",
            "host=%2Ftmp",
            "hostaddr=127.0.0.1",
            "hostaddr=10.0.0.1,10.0.0.2",
            "port=6543",
            "dbname=other",
            "user=someone",
            "ssl=true",
            "sslmode=disable",
            "service=svc",
            "options=-c%20x%3Dy",
            "application_name=a://b",
        ],
        &["HOST=x", "a", "x=y=z", "", "port=1,2"],
    );
    let query = prop::collection::vec(param, 0..4).prop_map(|ps| {
        if ps.is_empty() {
            String::new()
        } else {
            format!("?{}", ps.join("&"))
        }
    });
    (scheme, userinfo, hosts, path, query).prop_map(|(s, u, h, p, q)| format!("{s}{u}{h}{p}{q}"))
}

fn keywords() -> impl Strategy<Value = String> {
    let pair = mostly(
        &[
            "host=localhost",
            "host=db.prod.example.com",
            "host='a b'",
            "host=a\\ b",
            "host=a,b",
            "host=/tmp",
            "host=",
            "host=''",
            "hostaddr=127.0.0.1",
            "hostaddr=10.1.2.3",
            "port=5433",
            "port=' 5433'",
            "port=1,2",
            "port=",
            "dbname=app_test",
            "dbname='my db'",
            "dbname=",
            "user=u",
            "user=",
            "password=pw",
            "service=svc",
            "options='-c x=a://b'",
            "requiressl=1",
            "sslmode=require",
            "host=a\u{1}b",
            "dbname=\u{7f}x",
            "user='\u{e9}l\u{e8}ve'",
        ],
        &[
            "service=nope",
            "HOST=x",
            "hots=x",
            "host",
            "host='x",
            "port=1,2",
        ],
    );
    let sep = mostly(
        &[" ", "  ", "\t", "\u{b}", "\n", "\r\n"],
        &["\u{a0}", "\u{2003}", ""],
    );
    prop::collection::vec((pair, sep), 1..5).prop_map(|ps| {
        ps.into_iter()
            .map(|(p, s)| format!("{p}{s}"))
            .collect::<String>()
    })
}

fn env_value(
    key: &'static str,
    values: &'static [&'static str],
) -> impl Strategy<Value = Option<(String, String)>> {
    prop::option::weighted(0.3, pick(values)).prop_map(move |v| v.map(|v| (key.to_owned(), v)))
}

/// A generated case: a URI or keyword string, some `PG*` variables (unset, empty or set),
/// and service files in the home and system directories.
pub(crate) fn mix() -> impl Strategy<Value = Case> {
    let conn = prop_oneof![uri(), keywords()];
    let env = (
        env_value("PGHOST", &["", PROD, "localhost", "/tmp", "a,b"]),
        env_value("PGHOSTADDR", &["", "127.0.0.1", "10.0.0.9"]),
        env_value("PGPORT", &["", "6543", "6543", "x"]),
        env_value("PGDATABASE", &["", "envdb", "app_test"]),
        env_value("PGUSER", &["", "envuser"]),
        env_value(
            "PGSERVICE",
            &[
                "svc", "local", "addr", "svc", "local", "sysonly", "", "nope",
            ],
        ),
        env_value("PGSERVICEFILE", &["{dir}/svc.conf", "{dir}/svc.conf", ""]),
        env_value("USER", &["app_test"]),
        env_value("PGSYSCONFDIR", &["", "{dir}/nowhere"]),
    );
    let home_file = prop::bool::weighted(0.8);
    let sys_file = prop::bool::ANY;
    (conn, env, home_file, sys_file).prop_map(|(conn, env, home, sys)| {
        let mut case = Case::new("mix", &conn);
        let (a, b, c, d, e, f, g, h, i) = env;
        for (k, v) in [a, b, c, d, e, f, g, h, i].into_iter().flatten() {
            case = case.env(&k, &v);
        }
        case = case.file("svc.conf", SERVICES);
        if home {
            case = case.file(".pg_service.conf", SERVICES);
        }
        if sys {
            case = case.file("sys/pg_service.conf", SYSTEM);
        }
        case.file(".pgpass", PGPASS)
    })
}
