#!/usr/bin/env bash
# The test suite under Miri with strict provenance. Tests too slow for Miri
# run with smaller counts there (`cfg!(miri)`), each with its reason in place.
set -euo pipefail
cd "$(dirname "$0")/.."
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}"
cargo +nightly miri test --features std
