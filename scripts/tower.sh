#!/usr/bin/env bash
# Checks cancel-token-tower (tower/), the tower layers that carry a deadline
# across services: its own workspace, so that the core crate never builds
# hyper, tonic or h2. Tests (real HTTP/2 servers on 127.0.0.1 and tonic),
# clippy (which checks the benchmark too: building it in release would take
# minutes more), fmt, docs, and the example.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="$PWD/target/tower"
manifest=(--manifest-path tower/Cargo.toml)
cargo test "${manifest[@]}" --locked
cargo clippy "${manifest[@]}" --locked --all-targets -- -D warnings
cargo fmt "${manifest[@]}" -- --check
RUSTDOCFLAGS="-D warnings" cargo doc "${manifest[@]}" --locked --no-deps
cargo run "${manifest[@]}" --locked --example deadline_chain
