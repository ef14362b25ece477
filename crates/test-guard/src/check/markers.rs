//! Layer 4: what each server said about itself. A protected value anywhere (the
//! database's own marker, a marker row, the server-wide marker, any host of a multi-host
//! target, any database index a Redis client may select) refuses; a marker that cannot be
//! read refuses; a standby refuses (unless configured otherwise). A target is test-marked
//! only when every host says so for every database it covers.

use super::targets::{Planned, Verdict};
use crate::guard::Config;
use crate::marker::{self, MarkerReading};
use crate::report::Status;

/// The marker layer's verdict on one target.
#[derive(Debug, Default)]
pub(super) struct Judged {
    pub(super) failed: bool,
    pub(super) test_marked: bool,
    pub(super) findings: Vec<(Status, String)>,
}

/// `None`: the marker was not asked (off, unsupported, denied already).
pub(super) fn judge(
    cfg: &Config,
    planned: &Planned,
    readings: Option<Vec<crate::Result<MarkerReading>>>,
) -> Judged {
    let mut judged = Judged::default();
    let Some(readings) = readings else {
        let why = if !cfg.live_markers {
            "live markers are off".to_owned()
        } else if matches!(planned.verdict, Verdict::Denied(_)) {
            "not asked: already refused by a host rule".to_owned()
        } else if let Err(why) = marker::supported(planned.target.kind) {
            format!("not asked: {why}")
        } else {
            "not asked (static check only)".to_owned()
        };
        judged.findings.push((Status::NotChecked, why));
        return judged;
    };
    let several = readings.len() > 1;
    let mut all_test = !readings.is_empty();
    for reading in readings {
        match reading {
            Ok(r) => {
                let prefix = if several {
                    format!("{}: ", r.host)
                } else {
                    String::new()
                };
                for m in &r.markers {
                    match m.value.as_deref() {
                        Some(v) if cfg.is_protected(v) => {
                            judged.failed = true;
                            judged.findings.push((
                                Status::Failed,
                                format!("{prefix}{} is `{v}`, a protected environment", m.source),
                            ));
                        }
                        Some(v) if cfg.is_test(v) => judged
                            .findings
                            .push((Status::Passed, format!("{prefix}{} is `{v}`", m.source))),
                        Some(v) => judged.findings.push((
                            Status::Passed,
                            format!(
                                "{prefix}{} is `{v}` (neither protected nor a test marker)",
                                m.source
                            ),
                        )),
                        None => {}
                    }
                }
                if r.markers.iter().all(|m| m.value.is_none()) {
                    let places: Vec<&str> = r.markers.iter().map(|m| m.source.as_str()).collect();
                    judged.findings.push((
                        Status::Passed,
                        format!("{prefix}no marker (none of {} is set)", places.join(", ")),
                    ));
                }
                if let Some(landed) = &r.landed {
                    judged
                        .findings
                        .push((Status::Passed, format!("{prefix}{landed}")));
                }
                if r.standby && cfg.refuse_standby {
                    judged.failed = true;
                    judged.findings.push((
                        Status::Failed,
                        format!(
                            "{prefix}the server is a standby (pg_is_in_recovery), a sign of a real deployment"
                        ),
                    ));
                }
                all_test &= r.all_test(|v| cfg.is_test(v));
            }
            Err(e) => {
                judged.failed = true;
                all_test = false;
                // The finding already names the target; keep only the reason.
                let reason = match e {
                    crate::Error::Marker { reason, .. } => reason,
                    other => other.to_string(),
                };
                judged.findings.push((
                    Status::Failed,
                    format!("{reason}; a marker that cannot be read counts as a refusal"),
                ));
            }
        }
    }
    // A protected marker anywhere outweighs test markers elsewhere.
    judged.test_marked = all_test && !judged.failed;
    judged
}
