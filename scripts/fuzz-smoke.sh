#!/usr/bin/env bash
# Short fuzzing run of every cargo-fuzz target in fuzz/ (the crate against its
# reference model; see fuzz/src/lib.rs).
#
# First every input of the checked-in corpus (fuzz/corpus/<target>) is replayed
# once, under AddressSanitizer as cargo-fuzz builds by default: the inputs that
# once found a bug, and the inputs that reach every path the fuzzer has seen,
# are a regression suite that takes seconds.
#
# Each target runs for FUZZ_SECONDS (default 60) on a temporary copy of its
# checked-in seed corpus (fuzz/corpus/<target>), so the run never grows the
# corpus in the tree. Prints executions and time per target; exits non-zero if
# any target crashed, hung or diverged from the model. A failing input is kept
# in fuzz/artifacts/<target>/ (git-ignored); replay it with
#   CT_FUZZ_TRACE=1 cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>
#
# Env: FUZZ_SECONDS (per target), FUZZ_TARGETS (default: all), FUZZ_MAX_LEN
# (default 512).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
max_len="${FUZZ_MAX_LEN:-512}"

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

targets="${FUZZ_TARGETS:-$(cd fuzz && cargo +nightly fuzz list)}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Build first, so the time budget goes to fuzzing.
for t in $targets; do
    if ! (cd fuzz && cargo +nightly fuzz build "$t") >"$work/build.log" 2>&1; then
        cat "$work/build.log"
        echo "FAILED: building fuzz target $t"
        exit 1
    fi
done

failed=()
summary=()
for t in $targets; do
    [ -d "fuzz/corpus/$t" ] || continue
    inputs=$(find "fuzz/corpus/$t" -type f | wc -l)
    log="$work/replay-$t.log"
    status=0
    (cd fuzz && timeout --kill-after=30 600 cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -runs=0 -timeout=20) >"$log" 2>&1 || status=$?
    line="$t: replayed $inputs checked-in inputs under AddressSanitizer"
    if [ "$status" -ne 0 ]; then
        failed+=("$t (replay)")
        line="$line; FAILED (exit $status)"
        grep -v '^"' "$log" | tail -n 40
    fi
    echo "$line"
    summary+=("$line")
done

for t in $targets; do
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
    if [ -d "fuzz/corpus/$t" ]; then
        cp -R "fuzz/corpus/$t/." "$work/$t/corpus/"
    fi
    seeds=$(find "$work/$t/corpus" -type f | wc -l)
    echo "== $t: ${seconds}s from $seeds seeds"
    log="$work/$t/log"
    start=$(date +%s)
    status=0
    # -timeout: an input that runs 20 s is a hang (a lost wake-up, a deadlock).
    # Hard wall clock cap as a last resort against a wedged process.
    (cd fuzz && timeout --kill-after=30 $((seconds + 120)) \
        cargo +nightly fuzz run "$t" "$work/$t/corpus" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=20 \
        -max_len="$max_len" -len_control=10 \
        -artifact_prefix="$work/$t/artifacts/") >"$log" 2>&1 || status=$?
    wall=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)
    found=$(find "$work/$t/artifacts" -type f | wc -l)
    corpus=$(find "$work/$t/corpus" -type f | wc -l)
    line="$t: ${execs:-?} executions in ${wall}s wall (${rate:-?}/s; ${done_line:-no final stats}); corpus $seeds -> $corpus"
    if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
        failed+=("$t")
        line="$line; FAILED (exit $status, $found artifact(s))"
        echo "---- $t: end of log"
        # The divergence report (steps, differing observables), then the crash.
        sed -n '/panicked at/,/^stack backtrace:/p' "$log" | head -n 400
        grep -v '^"' "$log" | grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse|INITED)' |
            grep -v -E '^ +([0-9]+:|at |#[0-9]+ )' | tail -n 25
        if [ "$found" -ne 0 ]; then
            mkdir -p "fuzz/artifacts/$t"
            cp "$work/$t/artifacts/"* "fuzz/artifacts/$t/"
            echo "---- failing input(s) kept in fuzz/artifacts/$t/:"
            ls "fuzz/artifacts/$t/"
        fi
    fi
    echo "$line"
    summary+=("$line")
done

echo
echo "== fuzz smoke summary"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all targets clean"
