#!/usr/bin/env bash
# Checks the library with its declared minimum Rust version (`rust-version`)
# for every feature set that version covers (README, "Minimum Rust version"),
# against dependencies resolved for that version, as cargo's MSRV-aware
# resolver would pick them for a user on it. The lockfile is regenerated in a
# scratch copy; the repository's own is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

msrv=$(sed -n 's/^rust-version = "\([0-9.]*\)"$/\1/p' Cargo.toml)
[[ $msrv == *.*.* ]] || msrv="$msrv.0"
rustup toolchain list | grep -q "^$msrv-" || rustup toolchain install "$msrv" --profile minimal

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$scratch"
cd "$scratch"
CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo update --quiet

for features in "--no-default-features" "--no-default-features --features alloc" \
    "--no-default-features --features portable-atomic" "" "--features tokio,async-io,tokio-util"; do
    echo "rust $msrv: cargo check --lib $features"
    # shellcheck disable=SC2086 # the feature flags are separate words
    CARGO_TARGET_DIR="$root/target/msrv" cargo "+$msrv" check --quiet --lib $features
done
