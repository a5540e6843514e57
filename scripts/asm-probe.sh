#!/usr/bin/env bash
# Checks that `is_cancelled` compiles to a single load on the live and the
# cancelled path: no loop, no branch back, no call, no locked or exchanging
# instruction. Reads the release assembly of examples/asm_probe.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/asm-probe
rm -rf "$out"
cargo rustc --quiet --release --example asm_probe --target-dir "$out" -- --emit asm -C "llvm-args=-x86-asm-syntax=intel"
asm=$(ls "$out"/release/examples/asm_probe-*.s | head -n 1)

check() { # name, expected memory loads
    local name=$1 want=$2 body
    body=$(awk -v f="$name:" '$1 == f {on=1; next} on && /\.cfi_endproc|^\.Lfunc_end/ {exit} on' "$asm" \
        | grep -vE '^\s*(\.|#|$)' | grep -vE '^\.?[A-Za-z0-9_$.]+:')
    echo "== $name"
    echo "$body"
    if grep -qiE '\b(lock|xchg|cmpxchg|call|jmp|j[a-z]+|loop|mfence)\b' <<<"$body"; then
        echo "FAIL: $name has a branch, call, locked or exchanging instruction" >&2
        exit 1
    fi
    local loads
    loads=$(grep -cE '\[' <<<"$body" || true)
    if [ "$loads" -ne "$want" ]; then
        echo "FAIL: $name has $loads memory operands, expected $want" >&2
        exit 1
    fi
}
check cancel_token_probe_token 2
check cancel_token_probe_token_ref 1
echo "asm-probe: is_cancelled is one load (plus the handle's pointer load)"
