//! `src/` is laid out by layer, and imports run only downward: a file in one
//! layer names no module of a layer above it, nor a type the crate root
//! re-exports from one. Bottom to top: `util`, `wheel`, `node`, `time`,
//! `driver`, `handle`, `pinned`. `sync`, `reason` and `cause` may be used by all;
//! `lib.rs` and its other modules (`grpc_timeout`, `sizes`, `defmt`, …) are
//! outside the order, above it: no layer names them, but for `__private`'s
//! probes.
//!
//! Read from the sources at test time: every `crate::X` path outside a
//! comment (and `$crate::X` in macros), with `use crate::{X, Y::…}` groups
//! read item by item.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, bottom first.
const LAYERS: &[&str] = &[
    "util", "wheel", "node", "time", "driver", "handle", "pinned",
];

/// Top-level modules any layer may name.
const SHARED: &[&str] = &["sync", "reason", "cause", "__private"];

/// What a name after `crate::` is: a layer (by index), shared, or above all
/// layers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rank {
    Layer(usize),
    Shared,
    Top,
}

/// The rank of a top-level module of `lib.rs` (`modules`, every `mod` it
/// declares).
fn rank_of_module(name: &str, modules: &[String]) -> Option<Rank> {
    if let Some(i) = LAYERS.iter().position(|l| *l == name) {
        return Some(Rank::Layer(i));
    }
    if SHARED.contains(&name) {
        return Some(Rank::Shared);
    }
    modules.iter().any(|m| m == name).then_some(Rank::Top)
}

/// Every module `lib.rs` declares (`mod x;`, `pub mod x;`).
fn root_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
        })
        .map(|rest| identifier(rest).to_string())
        .collect()
}

/// Each name `lib.rs` re-exports (`pub use module::…::{A, B};`), with the
/// rank of the module it comes from.
fn root_exports(lib: &str, modules: &[String]) -> BTreeMap<String, Rank> {
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        // Unindented lines only: the root's own re-exports.
        let Some(path) = line.strip_prefix("pub use ") else {
            continue;
        };
        let path = path.trim_end_matches(';');
        let module = path.split("::").next().unwrap();
        let rank = rank_of_module(module, modules)
            .unwrap_or_else(|| panic!("lib.rs re-exports from an unknown module: {line}"));
        let names = match path.split_once('{') {
            Some((_, list)) => list.trim_end_matches('}').to_string(),
            None => path.rsplit("::").next().unwrap().to_string(),
        };
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            out.insert(name.to_string(), rank);
        }
    }
    out
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `line` without its comment, if any (a `//` outside a string literal).
fn code(line: &str) -> &str {
    let mut in_str = false;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'/' if !in_str && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

fn identifier(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first segment of each item of the `use crate::{…}` group that opens
/// `group` (just after its `{`), up to the matching `}`.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut at_item = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_item = true,
            c if at_item && (c.is_alphanumeric() || c == '_') => {
                heads.push(identifier(&group[i..]).to_string());
                at_item = false;
            }
            _ => {}
        }
    }
    heads
}

/// Each name a file's code puts right after `crate::`, with its line.
fn crate_names(text: &str) -> Vec<(usize, String)> {
    // Comments out, lines kept, so that a group may span lines.
    let code: String = text.lines().map(|l| format!("{}\n", code(l))).collect();
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let before = &code[..code.len() - rest.len() + i];
        let line = before.matches('\n').count() + 1;
        let word_start = before
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[i + "crate::".len()..];
        if word_start {
            continue; // e.g. `my_crate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            out.extend(group_heads(group).into_iter().map(|h| (line, h)));
        } else {
            out.push((line, identifier(rest).to_string()));
        }
    }
    out
}

/// The layer a file under `src/` belongs to, if any.
fn layer_of(src: &Path, file: &Path) -> Option<usize> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?;
    let first = first.strip_suffix(".rs").unwrap_or(first);
    LAYERS.iter().position(|l| *l == first)
}

/// Every import that runs upward, as `path:line: message`.
fn violations(src: &Path) -> (Vec<String>, [usize; 7]) {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules = root_modules(&lib);
    assert!(
        LAYERS.iter().all(|l| modules.iter().any(|m| m == l)),
        "lib.rs does not declare every layer: {modules:?}"
    );
    let exports = root_exports(&lib, &modules);
    assert!(
        exports.contains_key("CancelToken") && exports.contains_key("Timers"),
        "no re-exports read from lib.rs"
    );
    let mut files = Vec::new();
    sources(src, &mut files);
    files.sort();
    let mut seen = [0; 7];
    let mut out = Vec::new();
    for file in &files {
        let Some(layer) = layer_of(src, file) else {
            continue;
        };
        seen[layer] += 1;
        let text = std::fs::read_to_string(file).unwrap();
        for (line, name) in crate_names(&text) {
            let rank = rank_of_module(&name, &modules)
                .or_else(|| exports.get(&name).copied())
                .unwrap_or_else(|| {
                    panic!(
                        "{}:{line}: `crate::{name}` is neither a module nor a re-export",
                        file.display()
                    )
                });
            let upward = match rank {
                Rank::Layer(l) => l > layer,
                Rank::Shared => false,
                Rank::Top => true,
            };
            let rel = file.strip_prefix(src).unwrap();
            if upward {
                out.push(format!(
                    "{}:{line}: `{}` names `crate::{name}` ({:?}), above it",
                    rel.display(),
                    LAYERS[layer],
                    rank,
                ));
            }
        }
    }
    (out, seen)
}

#[test]
#[cfg_attr(miri, ignore)] // reads the sources; Miri isolates the file system
fn imports_run_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (upward, seen) = violations(&src);
    for (layer, n) in LAYERS.iter().zip(seen) {
        assert!(n > 0, "no file read for layer `{layer}`");
    }
    assert!(
        upward.is_empty(),
        "imports that run upward:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_reader_sees_paths_and_groups() {
    let text = "use crate::{node::Node, sync::{A, B}, Reason};\n\
                // crate::driver in a comment\n\
                let x = \"//\"; $crate::time::f(); my_crate::handle::g();\n";
    let names: Vec<_> = crate_names(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["node", "sync", "Reason", "time"]);
}
