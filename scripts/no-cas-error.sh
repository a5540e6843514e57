#!/usr/bin/env bash
# A target without compare-and-swap (thumbv6m) and without the
# `portable-atomic` feature must fail with this crate's own error naming that
# feature, as the first error: not deep inside a dependency.
set -euo pipefail
cd "$(dirname "$0")/.."

target=thumbv6m-none-eabi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if cargo build --quiet --no-default-features --target "$target" >"$log" 2>&1; then
    echo "no-cas-error: the build for $target without portable-atomic succeeded" >&2
    exit 1
fi
first=$(grep -m1 '^error' "$log" || true)
if [[ $first != *"cancel-token:"*"\`portable-atomic\`"* ]]; then
    echo "no-cas-error: the first error does not name the portable-atomic feature:" >&2
    echo "  $first" >&2
    exit 1
fi
echo "no-cas-error: $target without portable-atomic fails first with: $first"
