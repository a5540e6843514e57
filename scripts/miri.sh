#!/usr/bin/env bash
# The test suite under Miri with strict provenance. Tests too slow for Miri
# run with smaller counts there (`cfg!(miri)`), each with its reason in place.
# The `tokio`, `async-io` and `embassy` features stay off: their tests spend
# their time inside those runtimes, far too slowly under Miri, while the
# crate's code they reach (Timers, next_wake) runs here through ThreadDriver
# and ManualDriver.
set -euo pipefail
cd "$(dirname "$0")/.."
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}"
cargo +nightly miri test --features std
