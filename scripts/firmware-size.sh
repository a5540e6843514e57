#!/usr/bin/env bash
# Section sizes of firmware ELF files, and what NEW adds over BASE.
#
#   scripts/firmware-size.sh ELF                 # one column
#   scripts/firmware-size.sh [-s N] BASE NEW     # base, new, delta (+ N biggest added symbols)
#   scripts/firmware-size.sh [-s N] --crate      # what cancel-token adds, per target
#
# --crate builds (release: opt-level "s", fat LTO) firmware/src/bin/size_base.rs
# (a SysTick handler ends a wait on a static flag) and two probes of the same
# program for each target in $SIZE_TARGETS (default: thumbv6m-none-eabi
# thumbv7em-none-eabihf): size_probe.rs (token: a StaticSource, a PinnedChild
# and a Cancelled waiter) and size_probe_deadline.rs (token + tick wheel: a
# StaticSource, a PinnedDeadline on a static TickDriver advanced from SysTick,
# and a Cancelled waiter). It prints the delta of each over size_base, a
# summary checked against the flash budgets below (exit 1 if one is over), and,
# when qemu-system-arm is there, the size_of lines of firmware/src/bin/sizes.rs
# run under QEMU.
#
# Flash = every allocated section except .bss/.uninit/.noinit (.vector_table,
# .text, .rodata and the load image of .data). RAM = .data + .bss + .uninit
# (statics only: the stack is whatever RAM is left).
# Tools: llvm-size/llvm-nm from rustup's llvm-tools component (installed when
# missing), else Debian's llvm-size/llvm-nm on PATH; $LLVM_SIZE/$LLVM_NM override.
set -euo pipefail

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

nsyms=0
crate=0
args=()
while [ $# -gt 0 ]; do
    case $1 in
        --crate) crate=1 ;;
        -s) [ $# -ge 2 ] || usage; nsyms=$2; shift ;;
        -s*) nsyms=${1#-s} ;;
        -h|--help) usage ;;
        -*) usage ;;
        *) args+=("$1") ;;
    esac
    shift
done
set -- ${args[@]+"${args[@]}"}
if [ "$crate" = 1 ]; then
    [ $# -eq 0 ] || usage
    ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    read -r -a targets <<<"${SIZE_TARGETS:-thumbv6m-none-eabi thumbv7em-none-eabihf}"
    target_args=()
    for t in "${targets[@]}"; do target_args+=(--target "$t"); done
    (cd "$ROOT/firmware" && cargo build --release --locked --bin size_base --bin size_probe \
        --bin size_probe_deadline "${target_args[@]}") >&2
    # probe | what it holds | flash budget in bytes per target ("-": none)
    probes=(
        "size_probe|token (StaticSource + PinnedChild + Cancelled)|-"
        "size_probe_deadline|token + tick wheel (StaticSource + PinnedDeadline + TickDriver + Cancelled)|thumbv7em-none-eabihf=6144"
    )
    summary=()
    over=0
    for t in "${targets[@]}"; do
        base="$ROOT/firmware/target/$t/release/size_base"
        for spec in "${probes[@]}"; do
            IFS='|' read -r probe what budgets <<<"$spec"
            new="$ROOT/firmware/target/$t/release/$probe"
            echo "== $t: $probe, $what, over size_base"
            out=$("$0" -s "$nsyms" "$base" "$new")
            echo "$out"
            echo
            flash=$(awk '$1 == "=" && $2 == "flash" { print $5 }' <<<"$out")
            ram=$(awk '$1 == "=" && $2 == "ram" { print $6 }' <<<"$out")
            budget=$(tr ' ' '\n' <<<"$budgets" | sed -n "s/^$t=//p")
            verdict=""
            if [ -n "$budget" ]; then
                if [ "${flash#+}" -le "$budget" ]; then verdict="flash budget $budget: ok"
                else verdict="flash budget $budget: OVER"; over=1; fi
            fi
            summary+=("$(printf '%-24s %-20s %12s %12s  %s' "$t" "$probe" "$flash" "$ram" "$verdict")")
        done
    done
    echo "== what cancel-token adds over size_base (release, opt-level s, fat LTO)"
    printf '%-24s %-20s %12s %12s\n' target probe "flash bytes" "RAM bytes"
    printf '%s\n' "${summary[@]}"
    if command -v qemu-system-arm >/dev/null; then
        echo
        echo "== size_of on 32-bit (firmware/src/bin/sizes.rs under QEMU, ${targets[0]})"
        (cd "$ROOT/firmware" && timeout 60 cargo run -q --release --locked --target "${targets[0]}" --bin sizes \
            </dev/null 2>/dev/null) | grep -v '^Timer with period zero' || echo "(sizes failed; run scripts/qemu-test.sh sizes)"
    fi
    exit "$over"
fi
[ $# -ge 1 ] && [ $# -le 2 ] || usage
for f in "$@"; do [ -f "$f" ] || { echo "firmware-size: no file $f" >&2; exit 1; }; done

find_tool() { # name
    local bin
    bin="$(rustc --print sysroot 2>/dev/null)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/$1"
    if [ ! -x "$bin" ] && command -v rustup >/dev/null && ! command -v "$1" >/dev/null; then
        rustup component add llvm-tools >&2 || true
    fi
    if [ -x "$bin" ]; then echo "$bin"
    elif command -v "$1" >/dev/null; then command -v "$1"
    else echo "firmware-size: no $1 (rustup component add llvm-tools, or apt-get install llvm)" >&2; exit 1
    fi
}
SIZE="${LLVM_SIZE:-$(find_tool llvm-size)}"
NM="${LLVM_NM:-$(find_tool llvm-nm)}"

# "section size" for each allocated section (debug and metadata sections dropped).
sections() {
    "$SIZE" -A -d "$1" | awk 'NR > 2 && NF == 3 && $1 ~ /^\./ &&
        $1 !~ /^\.(debug|comment|ARM\.attributes|symtab|strtab|shstrtab)/ { print $1, $2 }'
}

awk_prog='
function kind(s) { return s ~ /^\.(bss|uninit|noinit)/ ? "ram" : s ~ /^\.data/ ? "both" : "flash" }
FNR == 1 { file++ }
{ if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }; size[file, $1] = $2 }
END {
    two = (file == 2)
    if (two) printf "%-16s %10s %10s %10s\n", "section", "base", "new", "delta"
    else     printf "%-16s %10s\n", "section", "bytes"
    for (i = 1; i <= n; i++) {
        s = order[i]; a = size[1, s] + 0; b = size[2, s] + 0
        k = kind(s)
        fa += (k != "ram") * a; fb += (k != "ram") * b
        ra += (k != "flash") * a; rb += (k != "flash") * b
        if (two) printf "%-16s %10d %10d %+10d\n", s, a, b, b - a
        else     printf "%-16s %10d\n", s, a
    }
    if (two) {
        printf "%-16s %10d %10d %+10d\n", "= flash", fa, fb, fb - fa
        printf "%-16s %10d %10d %+10d\n", "= ram (static)", ra, rb, rb - ra
    } else {
        printf "%-16s %10d\n", "= flash", fa
        printf "%-16s %10d\n", "= ram (static)", ra
    }
}'

if [ $# -eq 1 ]; then
    echo "$1"
    awk "$awk_prog" <(sections "$1")
else
    echo "base: $1"
    echo "new:  $2"
    awk "$awk_prog" <(sections "$1") <(sections "$2")
fi

if [ $# -eq 2 ] && [ "$nsyms" -gt 0 ]; then
    # Symbols (demangled, hash dropped) that are new or grew, biggest first.
    syms() { "$NM" -S -C -t d --size-sort --defined-only "$1" |
        awk '{ sz = $2 + 0; $1 = $2 = $3 = ""; sub(/^ +/, ""); sub(/::h[0-9a-f]+/, "")
               if ($0 ~ /^\.Lanon\./) $0 = "(anonymous constants: panic locations, strings)"
               s[$0] += sz }
             END { for (k in s) print s[k] "\t" k }'; }
    echo
    echo "biggest symbols added or grown (new - base bytes):"
    awk -F'\t' 'FNR == NR { base[$2] = $1; next } { d = $1 - base[$2]; if (d > 0) print d "\t" $2 }' \
        <(syms "$1") <(syms "$2") | sort -rn | head -n "$nsyms" | awk -F'\t' '{ printf "%+8d  %s\n", $1, $2 }'
fi
