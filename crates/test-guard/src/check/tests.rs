use super::*;
use proptest::prelude::*;

use super::actor::ai_agents;
use super::targets::override_ids;

proptest! {
    /// Whatever the connection strings look like, no report shows a password.
    #[test]
    fn no_report_shows_a_password(
        scheme in "(postgres|postgresql|redis|rediss|mysql|mongodb|sqlite)",
        host in "[a-z0-9.-]{0,20}(:[0-9a-z]{0,6})?",
        password in "Pw[A-Za-z0-9]{10,14}",
        db in "[a-z_]{0,10}",
        form in 0..3u8,
    ) {
        let url = if form == 0 {
            format!("host={host} password={password} dbname={db}")
        } else if form == 1 {
            format!("user:{password}@{host}/{db}")
        } else {
            format!("{scheme}://user:{password}@{host}/{db}")
        };
        let env = [
            ("DATABASE_URL", url.as_str()),
            ("REDIS_URL", url.as_str()),
            ("PGPASSWORD", password.as_str()),
        ];
        let text = match Guard::default().check_static_with(&env) {
            Ok(c) => format!("{c}{c:?}"),
            Err(r) => format!("{r}{r:?}"),
        };
        prop_assert!(!text.contains(&password), "{}", text);
    }

    /// Arbitrary values in every variable the guard reads never make it panic, a refusal
    /// always names a failed check, and the override only ever lifts a target it names.
    #[test]
    fn arbitrary_values_are_judged_and_the_override_lifts_only_what_it_names(
        values in proptest::collection::vec("\\PC{0,40}", 7),
    ) {
        let names = ["DATABASE_URL", "REDIS_URL", "PGHOST", "PGPORT", "PGHOSTADDR", "PGDATABASE", "PREFLIGHT_GUARD_ALLOW"];
        let env: Vec<(&str, &str)> = names.iter().copied().zip(values.iter().map(String::as_str)).collect();
        let report = match Guard::default().check_static_with(&env.as_slice()) {
            Ok(c) => c.report().clone(),
            Err(r) => {
                prop_assert!(r.report().failures().count() > 0, "{}", r);
                prop_assert!(r.to_string().starts_with("test-guard: REFUSED"), "{}", r);
                r.report().clone()
            }
        };
        let named = override_ids(&values[6]);
        for f in report.overridden() {
            let target = f.target.as_deref().unwrap_or_default();
            prop_assert!(
                named.iter().any(|id| target.ends_with(&format!("({id})"))),
                "{} lifted without being named in {:?}", target, named
            );
        }
    }

    /// Fail closed: a target that is neither local nor allowlisted nor test-named (and so
    /// could only be cleared by a live test marker, which a static check never reads) is
    /// cleared only when the override names exactly its id; flag, environment and actor
    /// failures are never lifted, whatever the override says.
    #[test]
    fn fail_closed(
        kind in 0..3usize,
        host in "[a-z][a-z0-9-]{0,10}\\.(example\\.org|corp|internal)|10\\.[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}",
        port in 1024u16..,
        db in "[a-z]{1,8}",
        flag_set in any::<bool>(),
        production in any::<bool>(),
        agent in any::<bool>(),
        allow in 0..6usize,
        junk in "[a-z0-9:/.,]{0,20}",
    ) {
        prop_assume!(!["test", "testing"].contains(&db.as_str()));
        let url = match kind {
            0 => format!("postgres://app:pw@{host}:{port}/{db}"),
            1 => format!("redis://:pw@{host}:{port}/3"),
            _ => format!("mysql://app:pw@{host}:{port}/{db}"),
        };
        let id = Target::parse(&url).unwrap().id();
        let allow_value = match allow {
            0 => String::new(),
            1 => id.clone(),
            2 => format!("{junk} {id},postgres://elsewhere.example.org:5432/x"),
            3 => format!("{id}x"),
            4 => id.to_uppercase(),
            _ => junk,
        };
        let names_exactly = override_ids(&allow_value).contains(&id);
        let guard = Guard::builder()
            .flag("TESTING_IN_DOCKER")
            .refuse_ai_agents(true)
            .libpq_env(false)
            .build()
            .unwrap();
        let mut env = vec![("DATABASE_URL", url.as_str()), ("PREFLIGHT_GUARD_ALLOW", allow_value.as_str())];
        if flag_set { env.push(("TESTING_IN_DOCKER", "1")); }
        if production { env.push(("APP_ENV", "production")); }
        if agent { env.push(("CLAUDECODE", "1")); }
        let result = guard.check_static_with(&env.as_slice());
        let cleared = result.is_ok();
        prop_assert_eq!(cleared, names_exactly && flag_set && !production && !agent);
        let report = match &result { Ok(c) => c.report(), Err(r) => r.report() };
        // The target's own failure is there, lifted only by an exact override.
        let target_status = report.findings().iter()
            .find(|f| f.layer == Layer::Targets && f.target.is_some())
            .map(|f| f.status);
        let expected = if names_exactly { Status::Overridden } else { Status::Failed };
        prop_assert_eq!(target_status, Some(expected));
        // Flag, environment and actor failures stay failures.
        for f in report.findings() {
            if matches!(f.layer, Layer::Flag | Layer::Environment | Layer::Actor) {
                prop_assert_ne!(f.status, Status::Overridden);
            }
        }
        let layer_failed = |l: Layer| report.failures().any(|f| f.layer == l);
        prop_assert_eq!(layer_failed(Layer::Flag), !flag_set);
        prop_assert_eq!(layer_failed(Layer::Environment), production);
        prop_assert_eq!(layer_failed(Layer::Actor), agent);
    }
}

fn failed(guard: &Guard, env: &[(&str, &str)]) -> Vec<(Layer, String)> {
    match guard.check_static_with(&env) {
        Ok(_) => Vec::new(),
        Err(r) => r
            .report()
            .failures()
            .map(|f| (f.layer, f.message.clone()))
            .collect(),
    }
}

#[test]
fn deny_rules_win_over_test_names_and_every_host_must_pass() {
    let guard = Guard::builder()
        .deny_host("*.prod.internal")
        .build()
        .unwrap();
    let f = failed(
        &guard,
        &[("DATABASE_URL", "postgres://pg.prod.internal/test_app")],
    );
    assert_eq!(f.len(), 1);
    assert!(f[0].1.contains("deny rule `*.prod.internal`"), "{f:?}");
    // Cloud hosts are denied by default.
    let f = failed(
        &guard,
        &[(
            "DATABASE_URL",
            "postgres://x.abc.eu-west-1.rds.amazonaws.com/app_test",
        )],
    );
    assert!(f[0].1.contains("`*.amazonaws.com`"), "{f:?}");
    // One local host and one remote: the remote one decides (name rules still apply).
    let f = failed(
        &guard,
        &[("DATABASE_URL", "postgres://127.0.0.1,db.example.org/app")],
    );
    assert_eq!(f[0].0, Layer::Targets);
    assert!(
        guard
            .check_static_with(&[(
                "DATABASE_URL",
                "postgres://127.0.0.1,db.example.org/app_test"
            )])
            .is_ok()
    );
}

#[test]
fn mysql_and_sqlite_targets_follow_the_static_rules() {
    let guard = Guard::default();
    let clearance = guard
        .check_static_with(&[("DATABASE_URL", "sqlite:data/test.db")])
        .unwrap();
    let marker = clearance
        .report()
        .findings()
        .iter()
        .find(|f| f.layer == Layer::Marker)
        .unwrap();
    assert_eq!(marker.status, Status::NotChecked);
    assert!(marker.message.contains("SQLite file is local"), "{marker}");
    assert!(
        guard
            .check_static_with(&[("DATABASE_URL", "mysql://root@127.0.0.1/app")])
            .is_ok()
    );
    let f = failed(
        &guard,
        &[("DATABASE_URL", "mysql://root:pw@db.example.org/app")],
    );
    assert_eq!(f[0].0, Layer::Targets, "{f:?}");
}

#[test]
fn static_check_refuses_what_only_a_marker_could_clear() {
    let guard = Guard::builder().allow_host("db").build().unwrap();
    assert!(
        guard
            .check_static_with(&[("DATABASE_URL", "postgres://db/app")])
            .is_ok()
    );
    let f = failed(&guard, &[("REDIS_URL", "redis://cache.example.org")]);
    assert!(f[0].1.contains("carries no test marker"), "{f:?}");
}

#[test]
fn environment_and_actor_layers() {
    let guard = Guard::builder()
        .require_ci(true)
        .refuse_ai_agents(true)
        .build()
        .unwrap();
    let f = failed(&guard, &[("RAILS_ENV", "Production"), ("CLAUDECODE", "1")]);
    let layers: Vec<Layer> = f.iter().map(|(l, _)| *l).collect();
    assert_eq!(layers, [Layer::Environment, Layer::Actor, Layer::Actor]);
    assert!(f[0].1.contains("RAILS_ENV=Production"));
    assert!(f[2].1.contains("CLAUDECODE"));
    assert!(guard.check_static_with(&[("CI", "true")]).is_ok());
    let interactive = Guard::builder().refuse_interactive(true).build().unwrap();
    struct Tty;
    impl Env for Tty {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
        fn is_interactive(&self) -> bool {
            true
        }
    }
    assert!(interactive.check_static_with(&Tty).is_err());
}

#[test]
fn unparseable_and_missing_required_targets_are_refusals() {
    let guard = Guard::builder().require_var("TEST_DB").build().unwrap();
    let f = failed(&guard, &[("DATABASE_URL", "mongodb://root:hunter2@h/db")]);
    assert_eq!(f.len(), 2, "{f:?}");
    assert!(f.iter().any(|(_, m)| m.contains("unsupported scheme")));
    assert!(f.iter().any(|(_, m)| m.contains("TEST_DB is not set")));
    assert!(f.iter().all(|(_, m)| !m.contains("hunter2")));
}

#[test]
fn override_is_per_target_and_lists_each_refused_target() {
    let guard = Guard::default();
    let env = [
        ("DATABASE_URL", "postgres://a.example.org/app"),
        ("REDIS_URL", "redis://b.example.org/1"),
    ];
    let refusal = guard.check_static_with(&env).unwrap_err();
    assert_eq!(
        refusal.report().override_hint().unwrap(),
        "PREFLIGHT_GUARD_ALLOW='postgres://a.example.org:5432/app redis://b.example.org:6379/1'"
    );
    let mut one = env.to_vec();
    one.push(("PREFLIGHT_GUARD_ALLOW", "postgres://a.example.org:5432/app"));
    let refusal = guard.check_static_with(&one.as_slice()).unwrap_err();
    assert_eq!(refusal.report().failures().count(), 1);
    assert_eq!(refusal.report().overridden().count(), 1);
    let mut both = env.to_vec();
    both.push((
        "PREFLIGHT_GUARD_ALLOW",
        "postgres://a.example.org:5432/app, redis://b.example.org:6379/1",
    ));
    assert!(
        guard
            .check_static_with(&both.as_slice())
            .unwrap()
            .used_override()
    );
}

#[test]
fn override_hint_works_for_multi_host_targets() {
    let guard = Guard::default();
    let env = [
        (
            "DATABASE_URL",
            "postgres://a.example.org,b.example.org:5433/app",
        ),
        ("REDIS_URL", "redis://c.example.org/0?db=5"),
    ];
    let refusal = guard.check_static_with(&env).unwrap_err();
    let hint = refusal.report().override_hint().unwrap();
    assert_eq!(
        hint,
        "PREFLIGHT_GUARD_ALLOW='postgres://a.example.org:5432,b.example.org:5433/app redis://c.example.org:6379/0,5'"
    );
    // Typing the hint clears exactly those targets.
    let value = hint
        .trim_start_matches("PREFLIGHT_GUARD_ALLOW='")
        .trim_end_matches('\'');
    let mut with = env.to_vec();
    with.push(("PREFLIGHT_GUARD_ALLOW", value));
    let clearance = guard.check_static_with(&with.as_slice()).unwrap();
    assert_eq!(clearance.report().overridden().count(), 2);
    // The old comma-joined form still works.
    let mut commas = env.to_vec();
    commas.push((
        "PREFLIGHT_GUARD_ALLOW",
        "postgres://a.example.org:5432,b.example.org:5433/app,redis://c.example.org:6379/0,5",
    ));
    assert!(guard.check_static_with(&commas.as_slice()).is_ok());
    // One host of the pair is not the target.
    let mut one_host = env.to_vec();
    one_host.push((
        "PREFLIGHT_GUARD_ALLOW",
        "postgres://a.example.org:5432/app redis://c.example.org:6379/0,5",
    ));
    assert!(guard.check_static_with(&one_host.as_slice()).is_err());
}

#[test]
fn trailing_dot_does_not_escape_host_rules() {
    let guard = Guard::builder()
        .deny_host("*.prod.internal")
        .build()
        .unwrap();
    for (url, rule) in [
        (
            "postgres://db.x.eu-west-1.rds.amazonaws.com./app_test",
            "*.amazonaws.com",
        ),
        ("postgres://pg.prod.internal./test_app", "*.prod.internal"),
        ("redis://cache.prod.internal.:6379/0", "*.prod.internal"),
    ] {
        let f = failed(&guard, &[("DATABASE_URL", url)]);
        assert_eq!(f.len(), 1, "{url}: {f:?}");
        assert!(
            f[0].1.contains(&format!("deny rule `{rule}`")),
            "{url}: {f:?}"
        );
    }
    // Allow rules read the same host the same way.
    let allow = Guard::builder().allow_host("db").build().unwrap();
    assert!(
        allow
            .check_static_with(&[("DATABASE_URL", "postgres://db./app")])
            .is_ok()
    );
    assert!(
        Guard::default()
            .check_static_with(&[("DATABASE_URL", "postgres://localhost./app")])
            .is_ok()
    );
}

#[test]
fn overrides_never_lift_flag_environment_or_actor_failures() {
    let guard = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .require_ci(true)
        .refuse_ai_agents(true)
        .build()
        .unwrap();
    let env = [
        ("DATABASE_URL", "postgres://db.example.org/app"),
        ("APP_ENV", "production"),
        ("CLAUDECODE", "1"),
        (
            "PREFLIGHT_GUARD_ALLOW",
            "postgres://db.example.org:5432/app",
        ),
    ];
    let refusal = guard.check_static_with(&env).unwrap_err();
    let failed: Vec<(Layer, &str)> = refusal
        .report()
        .failures()
        .map(|f| (f.layer, f.message.as_str()))
        .collect();
    assert_eq!(
        failed.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        [Layer::Flag, Layer::Environment, Layer::Actor, Layer::Actor],
        "{refusal}"
    );
    assert!(
        failed[0].1.contains("TESTING_IN_DOCKER is not set"),
        "{refusal}"
    );
    assert!(failed[1].1.contains("APP_ENV=production"), "{refusal}");
    assert!(failed[2].1.contains("CI is not set"), "{refusal}");
    assert!(
        failed[3].1.contains("run by an AI agent (CLAUDECODE)"),
        "{refusal}"
    );
    // The target itself was lifted, and the message says the rest cannot be.
    assert_eq!(refusal.report().overridden().count(), 1);
    assert!(refusal.report().override_hint().is_none());
    assert!(
        refusal.to_string().contains("cannot be overridden"),
        "{refusal}"
    );
}

#[test]
fn ai_agents_are_detected_in_one_place() {
    let env = [
        ("AGENT", "goose"),
        ("REPLIT_SESSION", "agent-42"),
        ("CODEX_CI", "1"),
    ];
    assert_eq!(
        ai_agents(&env),
        ["CODEX_CI", "AGENT=goose", "REPLIT_SESSION=agent-*"]
    );
    assert!(ai_agents(&[("AGENT", "someone"), ("CLAUDECODE", "")]).is_empty());
}
