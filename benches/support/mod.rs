//! What both benchmarks share: reading criterion's estimates from this run.

use std::path::PathBuf;
use std::time::SystemTime;

/// Criterion as every suite runs it: 20 samples after 0.5 s of warm-up,
/// 2 s of measurement, then the command line's own settings.
pub fn criterion() -> criterion::Criterion {
    criterion::Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .configure_from_args()
}

/// A time in ns for a table cell, or "n/a".
pub fn show(ns: Option<f64>) -> String {
    ns.map_or_else(|| "n/a".to_owned(), |ns| format!("{ns:.1}"))
}

/// The mean, in ns, criterion estimated for `group/function` in this run.
pub fn mean_ns(group: &str, function: &str, started: SystemTime) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if modified < started {
        return None; // left over from an earlier run
    }
    let json = std::fs::read_to_string(path).ok()?;
    let mean = &json[json.find("\"mean\"")?..];
    let value = &mean[mean.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = value.find([',', '}'])?;
    value[..end].trim().parse().ok()
}

/// Where criterion writes, as it decides it for `cargo bench` (without asking
/// `cargo metadata`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        PathBuf::from("target/criterion")
    }
}

/// The ratio ours/theirs and the verdict against `target`, as table cells.
pub fn ratio_cells(
    ours: Option<f64>,
    theirs: Option<f64>,
    target: Option<f64>,
) -> (String, String) {
    let ratio = ours.zip(theirs).map(|(o, t)| o / t);
    let cell = ratio.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.3}"));
    let verdict = match (target, ratio) {
        (None, _) => "-".to_owned(),
        (Some(t), Some(r)) if r <= t => format!("<= {t} met"),
        (Some(t), Some(_)) => format!("<= {t} MISSED"),
        (Some(t), None) => format!("<= {t}"),
    };
    (cell, verdict)
}
