//! Helpers shared by the benches (a module, not a bench target: cargo discovers only
//! `benches/*.rs` and `benches/*/main.rs`).

use std::sync::OnceLock;
use std::time::Duration;

/// User plus system CPU time of process `pid` (`None`: this process), from
/// `/proc/<pid>/stat` and the real clock tick (`getconf CLK_TCK`), so every bench reads
/// CPU the same way.
///
/// # Panics
/// Off Linux, or if the process is gone or `getconf` is missing: a bench must not report
/// a made-up figure.
pub(crate) fn cpu_time(pid: Option<u32>) -> Duration {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    let stat = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15
    // (1-based), i.e. 11 and 12 after the name.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .expect("stat format");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11..13]
        .iter()
        .map(|f| f.parse::<u64>().expect("utime/stime are numbers"))
        .sum();
    Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64)
}

/// `sysconf(_SC_CLK_TCK)`, the unit of `/proc/<pid>/stat` times.
fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        let out = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .expect("getconf CLK_TCK");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("getconf CLK_TCK prints a number")
    })
}
