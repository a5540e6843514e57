#!/usr/bin/env bash
# Runs host tests of a crate that uses cancel-token without default features
# (tests/host-no-std), as a firmware crate's own tests would: the setup the
# README's Embedded section tells users (critical-section's `std` feature as
# a dev-dependency). Without it the tests fail to link with
# `undefined symbol: _critical_section_1_0_acquire`.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_TARGET_DIR="$PWD/target/host-no-std" \
    cargo test --quiet --manifest-path tests/host-no-std/Cargo.toml
# The `alloc` tier without `std`: a tree's clock, and no fallback without one.
CARGO_TARGET_DIR="$PWD/target/host-no-std" \
    cargo test --quiet --manifest-path tests/host-no-std/Cargo.toml --features alloc
