#!/bin/bash
# ClusterFuzzLite / OSS-Fuzz build of hardalloc's fuzz targets, the way those engines call it:
# $CC, $CFLAGS, $LIB_FUZZING_ENGINE, $OUT (and $SRC, $WORK) come from the environment.
#   - the allocator, the wrappers (with HAVE_MEMORY_PROFILING: fuzz_wrappers checks the log)
#     and the fuzz core are compiled with $CC $CFLAGS;
#   - every target of fuzz/targets.list gets fuzz/entry.c (its main, naming the target) linked
#     with them and $LIB_FUZZING_ENGINE into $OUT/<target>;
#   - corpus/<target>/*.bin (and fuzz/regressions/<target>/ inputs) become
#     $OUT/<target>_seed_corpus.zip, corpus/<target>.dict becomes $OUT/<target>.dict, and
#     $OUT/<target>.options silences UBSan's unsigned-overflow reports (wraparound is intended).
# Local test: .clusterfuzzlite/test-local.sh.
set -euo pipefail

fail() { echo "build.sh: $*" >&2; exit 1; }
: "${OUT:?build.sh: OUT is not set}" "${CC:?build.sh: CC is not set}"
: "${LIB_FUZZING_ENGINE:?build.sh: LIB_FUZZING_ENGINE is not set}"
CFLAGS=${CFLAGS:-}

# The repository: the one this script sits in (.clusterfuzzlite/build.sh), else
# $SRC/hardalloc (the image copies build.sh to $SRC/), else the current directory.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=
for cand in "$here/.." "${SRC:-/nonexistent}/hardalloc" "$PWD"; do
    if [ -f "$cand/allocator/mem_alloc.c" ] && [ -f "$cand/fuzz/interp.c" ]; then
        repo=$(cd "$cand" && pwd)
        break
    fi
done
[ -n "$repo" ] || fail "cannot find the hardalloc sources (tried $here/.., \$SRC/hardalloc, $PWD)"

obj=${WORK:-/tmp}/hardalloc-fuzz-obj
rm -rf "$obj"
mkdir -p "$obj" "$OUT"

# shellcheck disable=SC2206 # CFLAGS is a list of flags, split on purpose
cflags=($CFLAGS)
# shellcheck disable=SC2206
engine=($LIB_FUZZING_ENGINE)
inc=(-std=c11 -I"$repo/allocator" -I"$repo/wrappers" -I"$repo/fuzz")

compile() { # compile SOURCE [EXTRA FLAGS...]
    local src=$1 o
    shift
    o="$obj/$(basename "$src" .c).o"
    "$CC" "${cflags[@]}" "${inc[@]}" "$@" -c "$repo/$src" -o "$o" || fail "cannot compile $src"
    objs+=("$o")
}

objs=()
# The allocator at the default hardening level, as wrappers/meson.build builds the fuzz copy:
# without the arena poisoning that would slow the sanitized builds down
# (allocator/heap_internal.h), and with the test-only hooks (allocator/mem_testing.h): every
# run pins the library's secret, so that a crash replays bit for bit.
for f in "$repo"/allocator/*.c; do
    compile "allocator/$(basename "$f")" -DHARDALLOC_NO_ARENA_POISON -DHARDALLOC_TESTING
done
compile wrappers/app_mem_utils.c -DHAVE_MEMORY_PROFILING
compile wrappers/mp_log.c -DHAVE_MEMORY_PROFILING
# The fuzz core (fuzz/meson.build's fuzz_core): the interpreter (its run, model and corruption
# mode) and every target's operations.
for f in program interp interp_model interp_corrupt targets "$repo"/fuzz/target_*.c; do
    compile "fuzz/$(basename "$f" .c).c" -DHAVE_MEMORY_PROFILING
done
core=("${objs[@]}")

shopt -s nullglob
[ -f "$repo/fuzz/targets.list" ] || fail "fuzz/targets.list is missing in $repo"
mapfile -t targets < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$repo/fuzz/targets.list")
[ ${#targets[@]} -gt 0 ] || fail "fuzz/targets.list names no target"

for t in "${targets[@]}"; do
    objs=()
    compile fuzz/entry.c -DHAVE_MEMORY_PROFILING "-DFUZZ_TARGET=\"$t\""
    "$CC" "${cflags[@]}" "${objs[@]}" "${core[@]}" "${engine[@]}" -o "$OUT/$t" || fail "cannot link $t"

    # Seed corpus: the inputs only (the readable .txt programs beside them are notes).
    seeds=()
    for d in "$repo/corpus/$t" "$repo/fuzz/regressions/$t"; do
        for f in "$d"/*; do
            case $f in *.txt|*.md|*.dict|*.options) continue ;; esac
            [ -f "$f" ] && seeds+=("$f")
        done
    done
    rm -f "$OUT/${t}_seed_corpus.zip"
    if [ ${#seeds[@]} -gt 0 ]; then
        if command -v zip >/dev/null; then
            zip -q -j "$OUT/${t}_seed_corpus.zip" "${seeds[@]}" || fail "cannot zip the seeds of $t"
        else
            python3 -m zipfile -c "$OUT/${t}_seed_corpus.zip" "${seeds[@]}" || fail "cannot zip the seeds of $t"
        fi
    fi
    if [ -f "$repo/corpus/$t.dict" ]; then
        cp "$repo/corpus/$t.dict" "$OUT/$t.dict"
    fi
    # Sizes wrap modulo 2^64 on purpose (fuzz/FORMAT.md) and the allocator relies on u32
    # wraparound: an UndefinedBehaviorSanitizer build that checks unsigned overflow must not
    # count those as crashes (ClusterFuzz's default too; explicit here for local runs).
    printf '[ubsan]\nsilence_unsigned_overflow = 1\n' >"$OUT/$t.options"
    echo "build.sh: $OUT/$t (${#seeds[@]} seeds$([ -f "$OUT/$t.dict" ] && echo ", dictionary"))"
done
