#!/usr/bin/env bash
# Mutation testing of the engine (src/node, src/wheel, src/time) within a CI
# budget of about 8 minutes on 2 cores: every mutant in the lines this branch
# changed, then one rotating shard of all the engine's mutants, picked from
# the commit hash, so that successive commits cover the whole engine.
#
# What is mutated, the test command and the per-mutant timeout are in
# .cargo/mutants.toml. The whole engine, as the README's Reliability table
# reports it:
#   cargo mutants -j 2 --copy-target=true
#
# The changed lines are those since the merge base with origin/main; where
# there is no origin, or the branch is origin/main itself (CI's fresh clone),
# those of the last commit.
#
# Fails on a missed mutant. A timeout (a mutant that hangs the tests) counts
# as caught; a mutant that does not build (unviable) is not a test gap.
#
# Tests the commit checked out (HEAD), not uncommitted changes.
#
# Env: MUTANTS_SHARDS (default 16), MUTANTS_SHARD (default from the commit
# hash).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
    cargo install --locked cargo-mutants
fi

shards="${MUTANTS_SHARDS:-16}"
hash=$(git rev-parse HEAD)
shard="${MUTANTS_SHARD:-$((0x${hash:0:4} % shards))}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

base=$(git merge-base HEAD origin/main 2>/dev/null || true)
if [ -z "$base" ] || [ "$base" = "$(git rev-parse HEAD)" ]; then
    # The last commit's diff; a root commit's against the empty tree.
    base=$(git rev-parse -q --verify HEAD~1 || git hash-object -t tree /dev/null)
    what="in the last commit"
else
    what="since $(git rev-parse --short "$base")"
fi
git diff "$base" HEAD >"$work/diff"

# Mutants are tested in place in a clone of HEAD, building into this tree's
# target/: a copy of target/ would rebuild every dependency (their build
# scripts' outputs name the directory they ran in), which costs more than
# the shard. The test command's targets are built first.
root="$PWD"
git clone -q --shared --no-checkout "$root" "$work/tree"
git -C "$work/tree" checkout -q --detach "$hash"
cd "$work/tree"
export CARGO_TARGET_DIR="$root/target"
args=$(sed -n '/^additional_cargo_args/,/^]/p' .cargo/mutants.toml | grep -o '"[^"]*"' | tr -d '"' | tr '\n' ' ')
# shellcheck disable=SC2086
cargo test --no-run -q --features std $args

failed=0
summary=()
# Runs cargo mutants with the given filter into $work/$1; adds a summary line.
run() {
    local name="$1" label="$2"
    shift 2
    local status=0
    nice -n 10 timeout --kill-after=30 900 \
        cargo mutants --in-place -o "$work/$name" "$@" \
        >"$work/$name.log" 2>&1 || status=$?
    local out="$work/$name/mutants.out"
    count() { if [ -f "$out/$1.txt" ]; then wc -l <"$out/$1.txt"; else echo 0; fi; }
    local caught timeout unviable missed
    caught=$(count caught) timeout=$(count timeout) unviable=$(count unviable) missed=$(count missed)
    local tested=$((caught + timeout + unviable + missed))
    summary+=("$label: $tested mutants, $caught caught, $timeout timeouts, $unviable unviable, $missed missed")
    # 0: all caught; 2: missed; 3: timeouts (caught). Anything else (1 usage,
    # 4 baseline failing, 70 internal, 124 our timeout) is a failure of the run.
    case "$status" in
    0 | 2 | 3) ;;
    *)
        tail -n 30 "$work/$name.log"
        summary+=("$label: cargo mutants exited $status")
        failed=1
        ;;
    esac
    if [ "$missed" -ne 0 ]; then
        echo "---- $label: missed mutants"
        cat "$out/missed.txt"
        failed=1
    fi
}

start=$SECONDS
if [ -s "$work/diff" ]; then
    run diff "lines changed $what" --in-diff "$work/diff"
else
    summary+=("lines changed $what: none")
fi
run shard "shard $shard/$shards" --shard "$shard/$shards"

echo
printf -v joined '%s; ' "${summary[@]}"
echo "== mutation testing in $((SECONDS - start))s: ${joined%; }"
if [ "$failed" -ne 0 ]; then
    echo "FAILED: a mutant was missed or the run failed (replay one with: cargo mutants -F 'REGEX')"
    exit 1
fi
