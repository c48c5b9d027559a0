#!/usr/bin/env bash
# Links an app against hardalloc the two ways docs/API.md documents: installed
# (pkg-config) and as a Meson subproject of a parent project. Arguments: the
# source root and the build directory of the project under test.
set -euo pipefail
src=$(cd "$1" && pwd)
build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== installed, found through pkg-config"
meson install -C "$build" --destdir "$work/root" --no-rebuild --quiet
pc_file=$(find "$work/root" -name hardalloc.pc | head -n 1)
export PKG_CONFIG_PATH=${pc_file%/*}
# The .pc file names the real prefix; point it into the staging directory.
prefix=$(pkg-config --variable=prefix hardalloc)
pc=(pkg-config --define-variable=prefix="$work/root$prefix")
cc -std=c11 -Wall -Werror "$src/tests/link/app.c" -o "$work/app-pc" \
    $("${pc[@]}" --cflags hardalloc) $("${pc[@]}" --libs hardalloc) \
    -Wl,-rpath,"$("${pc[@]}" --variable=libdir hardalloc)"
"$work/app-pc"

echo "== Meson subproject"
mkdir -p "$work/parent/subprojects"
cp "$src/tests/link/app.c" "$work/parent/"
cp "$src/tests/link/meson.build.in" "$work/parent/meson.build"
ln -s "$src" "$work/parent/subprojects/hardalloc"
unset PKG_CONFIG_PATH
meson setup "$work/parent/build" "$work/parent" --force-fallback-for=hardalloc \
    -Dhardalloc:tests=false >/dev/null
ninja -C "$work/parent/build" >/dev/null
"$work/parent/build/app"
