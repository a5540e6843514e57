#!/usr/bin/env bash
# Builds every firmware test (firmware/src/bin/*.rs, and the RTIC apps in
# firmware/rtic/src/bin/*.rs) for each Cortex-M target and runs it under QEMU
# with semihosting; exits non-zero if any run fails.
#
#   scripts/qemu-test.sh [BIN...]      # default: every binary in both folders
#
# Env: QEMU_TIMEOUT (seconds per run, default 60), SKIP_INSTALL=1 (no rustup/apt).
#
# A run passes when QEMU exits 0 and the firmware printed `ok: <expected core>`.
# Binaries named xfail_* are harness self-tests and must instead exit non-zero
# (not time out) after printing `FAIL:`. A binary restricts its targets with a
# line `//! qemu-test: targets = thumbv7m-none-eabi ...`. Lines a firmware prints
# starting with `note:` are shown under its result even when it passes.
# A binary with a line `//! qemu-test: defmt` logs with defmt over semihosting:
# its output is decoded with defmt-print (installed if missing) before the
# checks. Each line `//! qemu-test: expect = TEXT` of a binary must appear as
# a whole line of its (decoded) output. A line `//! qemu-test: features = F`
# builds the binary (alone) with the harness's features F.
# Logs: firmware/target/qemu-test/<target>/<bin>.log
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FW="$ROOT/firmware"
TIMEOUT="${QEMU_TIMEOUT:-60}"

# target | core the firmware must report (CPUID) | QEMU machine arguments.
# Keep in sync with firmware/build.rs (memory map) and firmware/.cargo/config.toml.
RUNS=(
    "thumbv6m-none-eabi|cortex-m0|-machine lm3s6965evb -cpu cortex-m0"
    "thumbv7m-none-eabi|cortex-m3|-machine lm3s6965evb -cpu cortex-m3"
    "thumbv7em-none-eabihf|cortex-m4|-machine mps2-an386"
)
QEMU_COMMON=(-nographic -semihosting-config enable=on,target=native)

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
fmt_s() { printf '%d.%03ds' $(( $1 / 1000 )) $(( $1 % 1000 )); }

install_missing() {
    local t have
    have=$(rustup target list --installed)
    for spec in "${RUNS[@]}"; do
        t=${spec%%|*}
        grep -qx "$t" <<<"$have" || rustup target add "$t"
    done

    command -v defmt-print >/dev/null 2>&1 || cargo install --locked defmt-print

    command -v qemu-system-arm >/dev/null 2>&1 && return
    # Another process (a setup script) may be installing it right now: wait for
    # it rather than fight over the dpkg lock.
    local waited=0
    while pgrep -x 'apt-get|apt|dpkg' >/dev/null 2>&1 && [ "$waited" -lt 600 ]; do
        [ "$waited" -eq 0 ] && echo "qemu-test: waiting for a running apt-get/dpkg to finish..."
        sleep 5
        waited=$((waited + 5))
    done
    command -v qemu-system-arm >/dev/null 2>&1 && return
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq qemu-system-arm >/dev/null
}

[ "${SKIP_INSTALL:-0}" = 1 ] || install_missing
command -v qemu-system-arm >/dev/null || { echo "qemu-test: qemu-system-arm not found" >&2; exit 1; }
command -v defmt-print >/dev/null || { echo "qemu-test: defmt-print not found (cargo install --locked defmt-print)" >&2; exit 1; }

# Where a binary's source is: the harness package, or the RTIC package (its
# own package: RTIC's device crate turns on cortex-m-rt's `device` feature).
RTIC_PKG=cancel-token-firmware-rtic
bin_src() {
    local f
    for f in "$FW/src/bin/$1.rs" "$FW/rtic/src/bin/$1.rs"; do
        [ -f "$f" ] && { echo "$f"; return; }
    done
    return 1
}

# Which binaries.
if [ $# -gt 0 ]; then
    BINS=("$@")
else
    BINS=()
    for f in "$FW"/src/bin/*.rs "$FW"/rtic/src/bin/*.rs; do BINS+=("$(basename "$f" .rs)"); done
fi
namew=14 # width of the binary column: the longest name
want_rtic=0
for b in "${BINS[@]}"; do
    src=$(bin_src "$b") || { echo "qemu-test: no firmware/src/bin/$b.rs or firmware/rtic/src/bin/$b.rs" >&2; exit 1; }
    [[ $src == "$FW/rtic/"* ]] && want_rtic=1
    [ "${#b}" -le "$namew" ] || namew=${#b}
done

# firmware/README.md shows each template_*.rs verbatim, after a line
# `<!-- template: PATH -->` (PATH inside firmware/): the two must not drift.
check_templates() {
    local f rel bad=0
    for f in "$FW"/src/bin/template_*.rs "$FW"/rtic/src/bin/template_*.rs; do
        [ -f "$f" ] || continue
        rel=${f#"$FW"/}
        if ! grep -qxF "<!-- template: $rel -->" "$FW/README.md"; then
            echo "qemu-test: firmware/README.md has no block for $rel" >&2
            bad=1
            continue
        fi
        if ! diff -u --label "firmware/README.md ($rel)" --label "firmware/$rel" \
            <(awk -v m="<!-- template: $rel -->" '
                $0 == m { getline; on = 1; next }
                on && /^```$/ { exit }
                on { print }' "$FW/README.md") "$f" >&2; then
            echo "qemu-test: firmware/README.md's block differs from firmware/$rel (copy the file in)" >&2
            bad=1
        fi
    done
    return "$bad"
}
check_templates

echo "qemu-test: $(qemu-system-arm --version | head -1)"

# One cargo invocation builds every binary for every target.
target_args=()
for spec in "${RUNS[@]}"; do target_args+=(--target "${spec%%|*}"); done
t0=$(now_ms)
(cd "$FW" && cargo build --release --locked --bins "${target_args[@]}")
# A binary needing features of the harness package (`//! qemu-test: features
# = F`, its `required-features`) is built alone with them, so the others stay
# built without them.
for b in "${BINS[@]}"; do
    feats=$(sed -n 's/^\/\/! *qemu-test: *features *= *//p' "$(bin_src "$b")")
    [ -n "$feats" ] || continue
    (cd "$FW" && cargo build --release --locked --features "$feats" --bin "$b" "${target_args[@]}")
done
# The RTIC package one target at a time: its proc macro is built for the host
# once per invocation, and each target needs its own backend feature on it.
if [ "$want_rtic" = 1 ]; then
    for spec in "${RUNS[@]}"; do
        (cd "$FW" && cargo build --release --locked -p "$RTIC_PKG" --bins --target "${spec%%|*}")
    done
fi
echo "qemu-test: build $(fmt_s $(( $(now_ms) - t0 )))"

passed=0 failed=0 skipped=0
for spec in "${RUNS[@]}"; do
    IFS='|' read -r target core machine <<<"$spec"
    read -r -a machine_args <<<"$machine"
    mname=$(sed -n 's/.*-machine \([^ ]*\).*/\1/p' <<<"$machine")
    mkdir -p "$FW/target/qemu-test/$target"
    for bin in "${BINS[@]}"; do
        label=$(printf '%-*s %-22s %-10s %-12s' "$namew" "$bin" "$target" "$core" "$mname")
        src=$(bin_src "$bin")
        only=$(sed -n 's/^\/\/! *qemu-test: *targets *= *//p' "$src")
        if [ -n "$only" ] && ! grep -qw -- "$target" <<<"$only"; then
            echo "SKIP    $label"
            skipped=$((skipped + 1))
            continue
        fi
        elf="$FW/target/$target/release/$bin"
        log="$FW/target/qemu-test/$target/$bin.log"
        t0=$(now_ms)
        rc=0
        if grep -q '^//! *qemu-test: *defmt *$' "$src"; then
            # stdout is defmt frames: decoded into the log, after QEMU's stderr.
            timeout --kill-after=5 "$TIMEOUT" qemu-system-arm "${machine_args[@]}" "${QEMU_COMMON[@]}" \
                -kernel "$elf" </dev/null >"$log.defmt" 2>"$log" || rc=$?
            defmt-print --log-format '{s}' -e "$elf" <"$log.defmt" >>"$log" 2>&1 || true
        else
            timeout --kill-after=5 "$TIMEOUT" qemu-system-arm "${machine_args[@]}" "${QEMU_COMMON[@]}" \
                -kernel "$elf" </dev/null >"$log" 2>&1 || rc=$?
        fi
        took=$(fmt_s $(( $(now_ms) - t0 )))
        # Expected lines missing from the output.
        missing=0
        while IFS= read -r want; do
            [ -n "$want" ] || continue
            grep -qxF -- "$want" "$log" || { missing=$((missing + 1)); echo "missing line: $want" >>"$log"; }
        done < <(sed -n 's/^\/\/! *qemu-test: *expect *= *//p' "$src")
        # The firmware's own result line (ok:/FAIL:), shown next to ours.
        said=$(grep -m1 -E '^(ok|FAIL):' "$log" || true)
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            verdict=TIMEOUT; said="no exit within ${TIMEOUT}s"
        elif [[ $bin == xfail_* ]]; then
            if [ "$rc" -ne 0 ] && grep -q '^FAIL:' "$log"; then verdict=PASS; said="(failed as expected) $said"
            else verdict=FAIL; said="expected a failure exit, got rc=$rc: $said"; fi
        elif [ "$missing" -gt 0 ]; then
            verdict=FAIL; said="$missing expected line(s) missing: $said"
        elif [ "$rc" -eq 0 ] && grep -q "^ok: $core " "$log"; then
            verdict=PASS
        else
            verdict=FAIL; said="rc=$rc: ${said:-no ok: line for $core}"
        fi
        printf '%-7s %s %8s  %s\n' "$verdict" "$label" "$took" "$said"
        if [ "$verdict" = PASS ]; then
            passed=$((passed + 1))
            grep '^note:' "$log" | sed 's/^/    /' || true
        else
            failed=$((failed + 1))
            sed 's/^/    | /' "$log"
        fi
    done
done

if [ "$skipped" -gt 0 ]; then
    echo "qemu-test: $passed passed, $failed failed, $skipped skipped"
else
    echo "qemu-test: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
