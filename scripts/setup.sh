#!/usr/bin/env bash
# Installs what the extended checks need. Idempotent: each step is skipped when
# its tool is already present.
set -euo pipefail

want_targets="thumbv6m-none-eabi thumbv7em-none-eabihf thumbv7m-none-eabi"
have_targets=$(rustup target list --installed)
for t in $want_targets; do
    grep -qx "$t" <<<"$have_targets" || rustup target add "$t"
done

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
have_nightly=$(rustup +nightly component list --installed)
for c in miri rust-src; do
    grep -q "^$c" <<<"$have_nightly" || rustup component add "$c" --toolchain nightly
done

if ! command -v qemu-system-arm >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-arm >/dev/null
fi

# Decodes the defmt firmware's log (scripts/qemu-test.sh).
if ! command -v defmt-print >/dev/null 2>&1; then
    cargo install --locked defmt-print
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

# Mutation testing of the engine (scripts/mutants.sh).
if ! cargo mutants --version >/dev/null 2>&1; then
    cargo install --locked cargo-mutants
fi
