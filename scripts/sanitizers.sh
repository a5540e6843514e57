#!/usr/bin/env bash
# The stress and concurrency tests under ThreadSanitizer (std rebuilt with it,
# from the nightly's rust-src) and AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
tests="--test stress --test callbacks --test waiters --test deadlines --test pinned --test lock_contention --test pinned_drop --test poll_cancelled --test wake_batch --test clock"

echo "-- ThreadSanitizer"
RUSTFLAGS="-Zsanitizer=thread" RUSTDOCFLAGS="-Zsanitizer=thread" TSAN_OPTIONS="halt_on_error=1" \
    CARGO_TARGET_DIR=target/tsan \
    cargo +nightly test -Zbuild-std --target "$host" --features std $tests

echo "-- AddressSanitizer"
RUSTFLAGS="-Zsanitizer=address" ASAN_OPTIONS="detect_leaks=1" \
    CARGO_TARGET_DIR=target/asan \
    cargo +nightly test --target "$host" --features std $tests --test tree
