//! Absurd but valid settings are not panics: durations saturate.

use std::time::Duration;

use preflight_readiness::{Error, Policy, Target, Wait};

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_beyond_the_clock_saturates() {
    // Before: `started + deadline` overflowed the instant and panicked (wait-for -t
    // 9223372036854775807s).
    let service = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = Target::parse(&format!("tcp://{}", service.local_addr().unwrap())).unwrap();
    for deadline in [Duration::MAX, Duration::from_secs(i64::MAX as u64)] {
        let policy = Policy::builder().deadline(deadline).build().unwrap();
        let report = Wait::new([target.clone()])
            .policy(policy)
            .run()
            .await
            .unwrap();
        assert_eq!(report.targets.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interval_beyond_the_clock_saturates() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let policy = Policy::builder()
        .interval(Duration::MAX)
        .start_interval(Duration::MAX)
        .deadline(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = Wait::new([Target::parse(&format!("tcp://{addr}")).unwrap()])
        .policy(policy)
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
}
