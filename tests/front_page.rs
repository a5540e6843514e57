//! The tier tables of the crate docs' front page (`src/lib.rs`) and of the
//! README name every type the crate exports, in the row of the feature that
//! brings it: read from the `pub use` lines of `src/lib.rs` and their `cfg`s.

use std::collections::BTreeMap;

/// Exports named in prose rather than in a tier row: used in every tier, or
/// only by a driver's author next to `TimerDriver`.
const NOT_IN_A_ROW: &[&str] = &[
    "Reason",
    "Cause",
    "Deadline",
    "DriverStopped",
    "TimersHandle",
];

/// Each exported type, with the feature its `cfg` names ("" for none).
fn exports() -> BTreeMap<String, String> {
    let lib = include_str!("../src/lib.rs");
    let mut out = BTreeMap::new();
    let mut feature = String::new();
    for line in lib.lines() {
        let line = line.trim();
        if line.starts_with("pub mod __private") {
            break; // the crate's own tests and probes, not the API
        }
        if let Some(rest) = line.strip_prefix("#[cfg(") {
            feature = rest
                .split("feature = \"")
                .nth(1)
                .and_then(|f| f.split('"').next())
                .unwrap_or("")
                .to_string();
            continue;
        }
        if line.starts_with("#[") {
            continue;
        }
        if let Some(path) = line.strip_prefix("pub use ") {
            let names = match path.split_once('{') {
                Some((_, list)) => list.trim_end_matches("};").to_string(),
                None => path
                    .rsplit("::")
                    .next()
                    .unwrap()
                    .trim_end_matches(';')
                    .to_string(),
            };
            for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                out.insert(name.to_string(), feature.clone());
            }
        }
        feature.clear();
    }
    out
}

/// The row of `table` (markdown lines) whose second column is `feature`.
fn row<'t>(table: &'t [&'t str], feature: &str) -> &'t str {
    table
        .iter()
        .find(|r| {
            let cols: Vec<&str> = r.split('|').map(str::trim).collect();
            cols.len() > 3 && cols[2].contains(feature)
        })
        .unwrap_or_else(|| panic!("no row for {feature:?}"))
}

fn check(doc: &str, table: &[&str], exports: &BTreeMap<String, String>) {
    let mut missing = Vec::new();
    for (name, feature) in exports {
        if NOT_IN_A_ROW.contains(&name.as_str()) {
            continue;
        }
        let key = match feature.as_str() {
            "" => "none",
            f => f,
        };
        let r = row(table, key);
        if !r.contains(&format!("`{name}`")) {
            missing.push(format!("{name} (feature {key:?})"));
        }
    }
    assert!(missing.is_empty(), "{doc}'s tier table lacks {missing:?}");
}

#[test]
fn the_front_page_tier_table_names_every_export() {
    let lib = include_str!("../src/lib.rs");
    let rows: Vec<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//! "))
        .filter(|l| l.starts_with('|'))
        .map(|l| l.replace("(none)", "none"))
        .collect();
    let table: Vec<&str> = rows.iter().map(String::as_str).collect();
    check("src/lib.rs", &table, &exports());
}

#[test]
fn the_readme_tier_table_names_every_export() {
    let readme = include_str!("../README.md");
    let start = readme.find("## Tiers").expect("a Tiers section");
    let table: Vec<&str> = readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with("| tier"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    check("README.md", &table, &exports());
}
