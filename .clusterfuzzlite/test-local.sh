#!/usr/bin/env bash
# .clusterfuzzlite/test-local.sh: runs build.sh the way ClusterFuzzLite / OSS-Fuzz call it
# (their CC, CFLAGS and LIB_FUZZING_ENGINE for libFuzzer), without Docker, then runs each
# target it built for a few seconds on its seed corpus zip with its dictionary and options,
# as the fuzzing engine would.
#   .clusterfuzzlite/test-local.sh [--sanitizer address|undefined] [SECONDS]
#     --sanitizer  address (default: ASan, the flags of the brief) or undefined (OSS-Fuzz's UBSan set)
#     SECONDS      fuzzing time per target (default 5)
# Uses /tmp/cfl-out, /tmp/cfl-work and /tmp/cfl-run (emptied first). Exit 0 when every
# target built, ran its seeds and fuzzed without a crash.
set -euo pipefail

die() { echo "test-local: $*" >&2; exit 1; }
secs=5
sanitizer=address
while [ $# -gt 0 ]; do
    case $1 in
        --sanitizer) [ $# -ge 2 ] || die "--sanitizer needs address or undefined"; sanitizer=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) secs=$1; shift ;;
    esac
done
[[ $secs =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive integer, not '$secs'"
command -v clang >/dev/null || die "clang is missing (tools/deps --fuzz installs it)"
command -v python3 >/dev/null || die "python3 is missing (it unpacks the seed corpus zips)"

case $sanitizer in
    address) san="-fsanitize=address -fsanitize-address-use-after-scope" ;;
    undefined)
        checks=array-bounds,bool,builtin,enum,float-divide-by-zero,function,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow,unreachable,vla-bound,vptr
        san="-fsanitize=$checks,unsigned-integer-overflow -fno-sanitize-recover=$checks" ;;
    *) die "--sanitizer must be address or undefined, not '$sanitizer'" ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=/tmp/cfl-out work=/tmp/cfl-work run=/tmp/cfl-run
rm -rf "$out" "$work" "$run"
mkdir -p "$out" "$work" "$run"

echo "test-local: build.sh ($sanitizer) with SRC=$(dirname "$repo") OUT=$out WORK=$work"
SRC=$(dirname "$repo") OUT=$out WORK=$work CC=clang CXX=clang++ \
    CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only $san -fsanitize=fuzzer-no-link" \
    LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
    bash "$repo/.clusterfuzzlite/build.sh" || die "build.sh failed"

# The runtime options a ClusterFuzz bot would use: halt on any report, except the unsigned
# overflows the .options file silences.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:silence_unsigned_overflow=1}

status=0
found=0
for bin in "$out"/*; do
    if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then continue; fi
    t=$(basename "$bin")
    found=$((found + 1))
    corpus="$run/$t"
    mkdir -p "$corpus"
    if [ -f "$out/${t}_seed_corpus.zip" ]; then
        python3 -m zipfile -e "$out/${t}_seed_corpus.zip" "$corpus" || die "cannot unpack ${t}_seed_corpus.zip"
    fi
    flags=()
    [ -f "$out/$t.dict" ] && flags+=("-dict=$out/$t.dict")
    log="$run/$t.log"
    echo "test-local: $t: $(find "$corpus" -type f | wc -l) seeds,$([ -f "$out/$t.dict" ] && echo " dictionary,")$([ -f "$out/$t.options" ] && echo " options,") ${secs} s"
    if (cd "$run" && "$bin" -max_total_time="$secs" -print_final_stats=1 "${flags[@]}" "$corpus") >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|stat::average_exec_per_sec|Dictionary:' "$log" |
            sed "s/^/  $t: /"
    else
        echo "  $t: CRASHED: $(grep -m1 -E "invariant '|SUMMARY:|ERROR:|runtime error" "$log" || echo 'see the log') (log $log)"
        status=1
    fi
done
[ "$found" -gt 0 ] || die "build.sh put no target in $out"
if [ "$status" -eq 0 ]; then
    echo "test-local: $found targets built ($sanitizer) and fuzzed clean; outputs in $out"
fi
exit "$status"
