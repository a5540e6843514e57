#!/usr/bin/env bash
# Runs every example to completion with the features it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
for ex in examples/*.rs; do
    name=$(basename "$ex" .rs)
    echo "-- example $name"
    cargo run --quiet --all-features --example "$name"
done
# The examples on smol and async-std, in the runtimes/ workspace member.
for ex in runtimes/examples/*.rs; do
    name=$(basename "$ex" .rs)
    echo "-- example $name (runtimes/)"
    cargo run --quiet -p cancel-token-runtimes --example "$name"
done
