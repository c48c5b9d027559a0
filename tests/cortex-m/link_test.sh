#!/usr/bin/env bash
# Links a minimal firmware app against hardalloc as docs/FIRMWARE.md says:
# installed (meson install into a staging directory), found through
# pkg-config, with the cross file's CPU flags and --gc-sections; then runs it
# on QEMU. Arguments: the source root, the build directory, then the C
# compiler, -- , the cross file's c_args, -- , its c_link_args, -- , the
# runner command (ending in -kernel).
set -euo pipefail
src=$(cd "$1" && pwd)
build=$2
shift 2
cc=()
while [ "$1" != -- ]; do cc+=("$1"); shift; done
shift
cflags=()
while [ "$1" != -- ]; do cflags+=("$1"); shift; done
shift
ldflags=()
while [ "$1" != -- ]; do ldflags+=("$1"); shift; done
shift
runner=("$@")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
meson install -C "$build" --destdir "$work/root" --no-rebuild --quiet
pc_file=$(find "$work/root" -name hardalloc.pc | head -n 1)
export PKG_CONFIG_LIBDIR=${pc_file%/*}
# The .pc file names the real prefix; point it into the staging directory.
prefix=$(pkg-config --variable=prefix hardalloc)
pc=(pkg-config --define-variable=prefix="$work/root$prefix")
app=$src/tests/cortex-m
set -x
"${cc[@]}" "${cflags[@]}" -std=c11 -Os -Wall -Wextra -Werror $("${pc[@]}" --cflags hardalloc) -I"$app" \
    "$app/link_app.c" "$app/startup.c" "$app/semihost.c" -o "$work/app.elf" \
    "${ldflags[@]}" -nostartfiles -T "$app/mps2-an386.ld" -Wl,--gc-sections $("${pc[@]}" --libs --static hardalloc)
"${runner[@]}" "$work/app.elf"
