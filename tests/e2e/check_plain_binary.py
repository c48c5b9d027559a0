#!/usr/bin/env python3
"""Checks that a build without HAVE_MEMORY_PROFILING carries no profiling.

Usage: check_plain_binary.py [--sanitized] PLAIN_EXAMPLE PROFILING_EXAMPLE

The two programs are examples/profiling_example.c built without and with
HAVE_MEMORY_PROFILING. The test asserts, both ways, so that a check that
could never fail is caught:
  (a) the plain binary's .rodata holds neither the source's name
      "profiling_example.c" (the APP_MEM_* macros pass no __FILE__), nor the
      log prefix "==MP" (fault lines "==MP!" included), nor the default
      handler's site note "allocated at "; the profiling binary's .rodata
      holds all three;
  (b) the plain binary's symbol table (nm) has no mp_log_* or mp_sites_*
      symbol and no mem_utils_fault_sites (the log writer and the site
      records compile to nothing; the header's static inline answers
      "unknown"); the profiling binary's has mp_log_init, mp_log_alloc,
      mp_log_free, mp_log_fault, mp_sites_lookup and mem_utils_fault_sites.
With --sanitized (a build with -Db_sanitize, as tests/e2e/meson.build passes
it), the absence of the file name from the plain binary is not checked: ASan
records the module name of each instrumented global and UBSan the source
location of each check in .rodata, so every sanitized binary names its
sources whatever the macros do. Everything else is still checked.
.rodata is read as raw bytes rebuilt from its hex dump (objdump -s, or
readelf -x when objdump is missing), not with `strings` over the whole file:
the debug info legitimately names every source file, and a string may span
two rows of the dump. The tools are taken from $NM / $OBJDUMP / $READELF
when set, else from PATH (binutils). Exit 0 on success, 1 when a check fails,
2 for a missing file or tool (one line on stderr).

Python 3 standard library only.
"""

import os
import re
import shutil
import subprocess
import sys

PROG = "check_plain_binary.py"
SOURCE_NAME = b"profiling_example.c"
LOG_PREFIX = b"==MP"
SITE_NOTE = b"allocated at "
LOG_SYMBOLS = ("mp_log_init", "mp_log_alloc", "mp_log_free", "mp_log_fault", "mp_sites_lookup",
               "mem_utils_fault_sites")
PROFILING_ONLY = ("mp_log_", "mp_sites_", "mem_utils_fault_sites")

# A row of `objdump -s` (" 4000 01000200 ... ascii") or `readelf -x`
# ("  0x00004000 01000200 ... ascii"): the address, one space, then 36
# columns of hex (16 bytes in groups of 4, padded with spaces on the last
# row), then the ASCII rendering, which is ignored.
ROW_RE = re.compile(r"\s*(?:0x)?([0-9a-fA-F]+) ")
HEX_COLUMNS = 36


class ToolError(Exception):
    """A tool is missing or failed: exit 2."""


def tool(env_name, name):
    path = os.environ.get(env_name) or shutil.which(name)
    if not path:
        return None
    return path


def run(argv):
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False)
    except OSError as err:
        raise ToolError(f"cannot run {argv[0]}: {err.strerror}") from err
    if done.returncode != 0:
        msg = done.stderr.decode(errors="replace").strip().splitlines()
        raise ToolError(f"{' '.join(argv)} failed (status {done.returncode})"
                        + (f": {msg[0]}" if msg else ""))
    return done.stdout.decode(errors="replace")


def rodata(path):
    """The raw bytes of path's .rodata section."""
    objdump = tool("OBJDUMP", "objdump")
    readelf = tool("READELF", "readelf")
    if objdump:
        dump = run([objdump, "-s", "-j", ".rodata", path])
    elif readelf:
        dump = run([readelf, "-x", ".rodata", path])
    else:
        raise ToolError("neither objdump nor readelf found (install binutils)")
    data = bytearray()
    start = None
    for line in dump.splitlines():
        m = ROW_RE.match(line)
        if not m:
            continue
        columns = line[m.end():m.end() + HEX_COLUMNS]
        digits = columns.replace(" ", "")
        if not re.fullmatch(r"(?:[0-9a-fA-F]{2}){1,16}", digits):
            continue  # a header line that happens to start with a number
        addr = int(m.group(1), 16)
        if start is None:
            start = addr
        elif addr != start + len(data):
            raise ToolError(f"unexpected hex dump of {path}: row at 0x{addr:x} after "
                            f"0x{len(data):x} bytes from 0x{start:x}")
        data += bytes.fromhex(digits)
    if not data:
        raise ToolError(f"{path} has no .rodata section (or the dump was not understood)")
    return bytes(data)


def symbols(path):
    nm = tool("NM", "nm")
    if not nm:
        raise ToolError("nm not found (install binutils)")
    names = set()
    for line in run([nm, path]).splitlines():
        fields = line.split()
        if len(fields) >= 2:
            names.add(fields[-1])
    if not names:
        raise ToolError(f"nm lists no symbols in {path} (stripped?)")
    return names


def main(argv):
    args = argv[1:]
    sanitized = bool(args) and args[0] == "--sanitized"
    if sanitized:
        args = args[1:]
    if len(args) != 2 or any(a.startswith("--") for a in args):
        print(f"{PROG}: usage: check_plain_binary.py [--sanitized] PLAIN_EXAMPLE PROFILING_EXAMPLE",
              file=sys.stderr)
        return 2
    plain, profiling = args
    for path in (plain, profiling):
        if not os.path.isfile(path):
            print(f"{PROG}: binary not found: {path}", file=sys.stderr)
            return 2

    try:
        plain_ro, prof_ro = rodata(plain), rodata(profiling)
        plain_syms, prof_syms = symbols(plain), symbols(profiling)
    except ToolError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2

    failures = []
    for needle in (SOURCE_NAME, LOG_PREFIX, SITE_NOTE):
        text = needle.decode()
        if needle in plain_ro and not (sanitized and needle == SOURCE_NAME):
            failures.append(f"plain binary's .rodata contains {text!r}")
        if needle not in prof_ro:
            failures.append(f"profiling binary's .rodata lacks {text!r}")
    leaked = sorted(s for s in plain_syms if s.startswith(PROFILING_ONLY))
    if leaked:
        failures.append(f"plain binary has profiling symbols: {', '.join(leaked)}")
    missing = [s for s in LOG_SYMBOLS if s not in prof_syms]
    if missing:
        failures.append(f"profiling binary lacks symbols: {', '.join(missing)}")

    if failures:
        for f in failures:
            print(f"{PROG}: FAILED: {f}", file=sys.stderr)
        return 1
    what = "==MP or site note" if sanitized else "file name, ==MP or site note"
    note = " (file name not checked: sanitized build)" if sanitized else ""
    print(f"{PROG}: plain .rodata ({len(plain_ro)} bytes) has no {what} and no profiling symbol; "
          f"profiling .rodata ({len(prof_ro)} bytes) and symbols have them{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
