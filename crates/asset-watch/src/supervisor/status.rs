//! The supervisor's own lines: job events, durations, the `--timings` table.

use std::time::Duration;

use crate::job::JobEvent;
use crate::outcome::ProcessOutcome;
use crate::output::Output;

/// One status line per job event.
pub(crate) fn report_job_event(output: &Output, event: &JobEvent) {
    match event {
        JobEvent::Started { changes, .. } if changes.is_rescan() => {
            output.status("events were lost: rebuilding everything");
        }
        JobEvent::Started { changes, .. } => {
            if let Some(first) = changes.paths().next() {
                let name = first
                    .file_name()
                    .unwrap_or(first.as_os_str())
                    .to_string_lossy();
                match changes.len() {
                    1 => output.status(&format!("changed: {name}")),
                    n => output.status(&format!("changed: {name} and {} more", n - 1)),
                }
            }
        }
        JobEvent::Dropped { paths } => {
            output.status(&format!("busy: ignored {paths} changed paths"));
        }
        JobEvent::Finished(r) if r.stopped => output.status(&format!("stopped ({})", r.exit)),
        JobEvent::Finished(r) => output.status(&format!(
            "{} {} in {}",
            if r.exit.success() { "done:" } else { "failed:" },
            r.exit,
            fmt_duration(r.duration)
        )),
        JobEvent::SpawnFailed { error, .. } => output.status(error),
    }
}

/// `12 ms`, `1.25 s`: short, for status lines.
pub(crate) fn fmt_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// The `--timings` table: name, duration, exit code, stopped by us, command.
pub(crate) fn timings_table(outcomes: &[ProcessOutcome], commands: &[String]) -> String {
    let rows: Vec<[String; 5]> = outcomes
        .iter()
        .zip(commands)
        .map(|(o, c)| {
            [
                o.name.clone(),
                o.duration.map_or_else(|| "-".to_owned(), fmt_duration),
                o.exit
                    .map_or_else(|| "-".to_owned(), |e| e.code().to_string()),
                if o.stopped { "yes" } else { "no" }.to_owned(),
                c.clone(),
            ]
        })
        .collect();
    let header = ["name", "duration", "exit code", "stopped", "command"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::from("Timings:\n");
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join(" │ ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Exit;

    #[test]
    fn the_timings_table_lines_up() {
        let o = |name: &str, ms: Option<u64>, exit, stopped| ProcessOutcome {
            name: name.into(),
            exit,
            stopped,
            restarts: 0,
            order: 0,
            duration: ms.map(Duration::from_millis),
        };
        let table = timings_table(
            &[
                o("server", Some(1500), Some(Exit::Signal(15)), true),
                o("b", Some(12), Some(Exit::Code(0)), false),
            ],
            &["npm start".into(), "true".into()],
        );
        assert_eq!(
            table,
            "Timings:\n\
             name   │ duration │ exit code │ stopped │ command\n\
             server │ 1.50 s   │ 143       │ yes     │ npm start\n\
             b      │ 12 ms    │ 0         │ no      │ true\n"
        );
    }
}
