#!/usr/bin/env bash
# The test suite under Miri with strict provenance. Tests too slow for Miri
# run with smaller counts there (`cfg!(miri)`), each with its reason in place.
# The `tokio`, `async-io` and `embassy` features stay off: their tests spend
# their time inside those runtimes, far too slowly under Miri, while the
# crate's code they reach (Timers, next_wake) runs here through ThreadDriver
# and ManualDriver.
set -euo pipefail
cd "$(dirname "$0")/.."
flags="${MIRIFLAGS:--Zmiri-strict-provenance}"

# Every test target that `std` alone builds, with Miri's leak check on.
targets=()
for t in tests/*.rs; do
    name=$(basename "$t" .rs)
    case "$name" in
        thread_driver | tokio_driver | async_io_driver | embassy_driver | loom) ;;
        *) targets+=(--test "$name") ;;
    esac
done
MIRIFLAGS="$flags" cargo +nightly miri test --features std --lib "${targets[@]}"

# ThreadDriver's timer thread is detached by design (the last handle may be
# dropped on that very thread), so it can outlive a test's main thread; Miri
# would report that as an error. These targets run with that check, and the
# leak check it implies, turned off.
MIRIFLAGS="$flags -Zmiri-ignore-leaks" cargo +nightly miri test --features std --test thread_driver
MIRIFLAGS="$flags -Zmiri-ignore-leaks" cargo +nightly miri test --features std --doc

# The tokio-util bridge's callback removes itself as it runs; its race with
# a canceller on another thread runs here. The tests that need a tokio
# runtime stay out, as the other runtime tests do.
MIRIFLAGS="$flags" cargo +nightly miri test --features tokio-util --test tokio_util_bridge -- into_tokio_util
