#!/usr/bin/env python3
"""End-to-end check of the memory-profiling log of examples/profiling_example.

Usage: check_profiling_log.py EXAMPLE GOLDEN [--update]

Runs EXAMPLE (the profiling build of examples/profiling_example.c) with no
arguments, captures its stderr, normalizes its `==MP` lines (below) and
compares them, in order, with GOLDEN. Exit 0 when all of these hold:
  - the example exits with status 0;
  - every stderr line is a well-formed `==MP` or `==MP!` (fault) line
    (profiling/FORMAT.md): any other stderr output, e.g. a failed check of
    the example or a sanitizer report, fails the test;
  - the normalized lines equal GOLDEN's lines exactly, no more, no fewer;
  - replayed, the log is consistent: every `free` names a live block and no
    block is handed out while a live block has the same address; a fault
    line about a `live` block names a live block, a `freed` one a block
    freed since the last init, and each `site` line follows a fault at its
    address and names the site of the `alloc` (or `free`) line that made
    (or last freed) that block.
Otherwise a unified diff (GOLDEN -> actual) or the reason is printed and the
exit status is 1. A missing file or unusable argument exits 2 with one line.

Golden file format: the normalized log, one line per `==MP` line of the run,
in order, each ending in a newline, nothing else (no comments, no blank
lines: the comparison is exact). Normalization:
  - `==MP init;0x<heap>;<size>` becomes `==MP init;heap;<size>`; <heap> is
    the base for the lines that follow (up to the next init);
  - every other address becomes its offset from that base, `heap+0x<hex>`
    (lowercase, no padding), e.g. `==MP alloc;128;heap+0x160;...`; an address
    outside [heap, heap + size) is written `0x<hex>(outside heap)` and so
    never matches a golden line, except in a fault line, where it is
    `outside-heap` (a fault may be about a pointer the heap never had);
  - `<file>` becomes its basename (the build directory's relative path to the
    source varies);
  - sizes and line numbers stay exact.
Example: `==MP free;heap+0x148;profiling_example.c:188`.

The golden file pins down the example's exact behaviour, line numbers
included: after editing examples/profiling_example.c, regenerate it with
--update (which writes GOLDEN from a run that passes every check but the
comparison) and review every line against the source before committing:
the line of each call, the requested sizes (strdup: length + 1), `free`
before `alloc` for every realloc, the `persist` line, the leak (an `alloc`
never freed), and no line for the frees the heap refused (the example's
deliberate misuse, reported to its fault handler instead).

The block offsets follow the chunk layout, which depends on the hardening
level: tests/e2e/meson.build passes profiling_example.golden (standard and
paranoid) or profiling_example.off.golden (-Dhardening=off). Regenerate each
from a build at its level.

Python 3 standard library only.
"""

import difflib
import os
import re
import subprocess
import sys

PROG = "check_profiling_log.py"
TIMEOUT_S = 120

HEX = r"0x(0|[1-9a-f][0-9a-f]*)"
INIT_RE = re.compile(r"==MP init;" + HEX + r";(\d+)")
ALLOC_RE = re.compile(r"==MP (alloc|persist);(\d+);" + HEX + r";(.*):(\d+)")
FREE_RE = re.compile(r"==MP free;" + HEX + r";(.*):(\d+)")
FAULT_RE = re.compile(r"==MP! fault;(\d+);" + HEX + r";(live|freed|table-full|unknown);(.+)")
SITE_RE = re.compile(r"==MP! site;(alloc|free);" + HEX + r";(.*):(\d+)")


class LogError(Exception):
    """The log cannot be normalized or is inconsistent."""


def basename(path):
    return re.split(r"[/\\]", path)[-1]


def where(addr, base, size):
    """An address as its offset in the heap [base, base + size)."""
    off = addr - base
    return f"heap+0x{off:x}" if 0 <= off < size else f"0x{addr:x}(outside heap)"


def normalize(lines):
    """Returns (normalized lines, live blocks at exit) for the raw `==MP` lines.

    Raises LogError for a line that is not one of the six forms, an event
    before the first init, or an inconsistent replay.
    """
    out = []
    base = None
    size = 0
    live = {}  # address -> normalized line that allocated it
    sites = {}  # address -> normalized site of its alloc line
    freed = {}  # address of a block freed since the init -> (alloc site, free site)
    fault = None  # (address, known, roles seen) of the latest fault line
    for number, line in enumerate(lines, 1):
        m = INIT_RE.fullmatch(line)
        if m:
            base, size = int(m.group(1), 16), int(m.group(2))
            live.clear()  # an init discards every block
            sites.clear()
            freed.clear()
            fault = None
            out.append(f"==MP init;heap;{size}")
            continue
        if base is not None and line.startswith("==MP! "):
            fault, norm = fault_line(number, line, base, size, live, sites, freed, fault)
            out.append(norm)
            continue
        m_alloc = ALLOC_RE.fullmatch(line)
        m_free = FREE_RE.fullmatch(line)
        if m_alloc is None and m_free is None:
            raise LogError(f"log line {number} is not a well-formed ==MP line: {line!r}")
        if base is None:
            raise LogError(f"log line {number} comes before any init line: {line!r}")
        if m_alloc:
            kind, nbytes, addr = m_alloc.group(1), m_alloc.group(2), int(m_alloc.group(3), 16)
            at = where(addr, base, size)
            site = f"{basename(m_alloc.group(4))}:{m_alloc.group(5)}"
            norm = f"==MP {kind};{nbytes};{at};{site}"
            if addr in live:
                raise LogError(f"log line {number} hands out {at} while it is live "
                               f"(from {live[addr]!r}): {norm!r}")
            live[addr] = norm
            sites[addr] = site
            freed.pop(addr, None)
        else:
            addr = int(m_free.group(1), 16)
            at = where(addr, base, size)
            site = f"{basename(m_free.group(2))}:{m_free.group(3)}"
            norm = f"==MP free;{at};{site}"
            if addr not in live:
                raise LogError(f"log line {number} frees {at}, not a live block: {norm!r}")
            del live[addr]
            freed[addr] = (sites.pop(addr), site)
        out.append(norm)
    return out, list(live.values())


def fault_line(number, line, base, size, live, sites, freed, fault):
    """Normalizes a `==MP!` line and checks it against the replay so far.
    Returns (the latest fault, the normalized line)."""
    m_fault, m_site = FAULT_RE.fullmatch(line), SITE_RE.fullmatch(line)
    if m_fault:
        code, addr, known, name = (m_fault.group(1), int(m_fault.group(2), 16), m_fault.group(3),
                                   m_fault.group(4))
        at = where(addr, base, size)
        at = "outside-heap" if at.endswith("(outside heap)") else at
        if known == "live" and addr not in live:
            raise LogError(f"log line {number}: a fault about a live block at {at}, not live: {line!r}")
        if known == "freed" and addr not in freed:
            raise LogError(f"log line {number}: a fault about a freed block at {at}, never freed: {line!r}")
        return (addr, known, set()), f"==MP! fault;{code};{at};{known};{name}"
    if m_site is None:
        raise LogError(f"log line {number} is not a well-formed ==MP! line: {line!r}")
    role, addr = m_site.group(1), int(m_site.group(2), 16)
    site = f"{basename(m_site.group(3))}:{m_site.group(4)}"
    at = where(addr, base, size)
    if fault is None or fault[0] != addr or role in fault[2]:
        raise LogError(f"log line {number}: a site line that follows no fault at {at}: {line!r}")
    fault[2].add(role)
    if fault[1] == "live":
        want = sites.get(addr) if role == "alloc" else None
    elif fault[1] == "freed":
        want = freed[addr][0 if role == "alloc" else 1]
    else:
        want = None
    if site != want:
        raise LogError(f"log line {number}: the fault's {role} site is {site}, the log says {want}: {line!r}")
    return fault, f"==MP! site;{role};{at};{site}"


def fail(message, status=1):
    print(f"{PROG}: {message}", file=sys.stderr)
    return status


def main(argv):
    args = [a for a in argv[1:] if a != "--update"]
    update = len(args) != len(argv) - 1
    if len(args) != 2:
        return fail("usage: check_profiling_log.py EXAMPLE GOLDEN [--update]", 2)
    example, golden_path = args
    if not os.path.isfile(example) or not os.access(example, os.X_OK):
        return fail(f"example program not found or not executable: {example}", 2)
    golden = None
    if not update:
        try:
            with open(golden_path, encoding="utf-8", newline="") as f:
                golden_text = f.read()
        except OSError as err:
            return fail(f"cannot read golden file {golden_path}: {err.strerror}", 2)
        if golden_text and not golden_text.endswith("\n"):
            return fail(f"golden file {golden_path} does not end with a newline", 2)
        golden = golden_text.split("\n")[:-1] if golden_text else []

    try:
        run = subprocess.run([example], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=TIMEOUT_S, check=False)
    except OSError as err:
        return fail(f"cannot run {example}: {err.strerror}", 2)
    except subprocess.TimeoutExpired:
        return fail(f"{example} did not finish within {TIMEOUT_S} s")

    stderr = run.stderr.decode("utf-8", errors="replace")
    partial = stderr != "" and not stderr.endswith("\n")
    lines = stderr.split("\n")
    if not partial:
        lines.pop()  # the empty string after the last newline
    log = [l for l in lines if l.startswith(("==MP ", "==MP! "))]
    other = [l for l in lines if not l.startswith(("==MP ", "==MP! "))]

    problems = []
    if run.returncode != 0:
        how = (f"was killed by signal {-run.returncode}" if run.returncode < 0
               else f"exited with status {run.returncode}")
        problems.append(f"{os.path.basename(example)} {how}")
    if other:
        problems.append(f"{len(other)} stderr line(s) outside the ==MP log:\n"
                        + "\n".join(f"    {l}" for l in other))
    if partial:
        problems.append("stderr does not end with a newline (a log line was cut)")
    try:
        actual, live = normalize(log)
    except LogError as err:
        problems.append(str(err))
        actual, live = None, []

    if actual is not None and update:
        if problems:
            for p in problems:
                print(f"{PROG}: {p}", file=sys.stderr)
            return fail(f"not writing {golden_path} from a failing run")
        with open(golden_path, "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(l + "\n" for l in actual))
        print(f"{PROG}: wrote {len(actual)} lines to {golden_path}; review them against the source")
        return 0

    if actual is not None and actual != golden:
        diff = difflib.unified_diff(golden, actual, fromfile=golden_path,
                                    tofile="actual log (normalized)", lineterm="")
        problems.append("the log differs from the golden file:\n" + "\n".join(diff))
    if problems:
        for p in problems:
            print(f"{PROG}: {p}", file=sys.stderr)
        return 1

    print(f"{PROG}: {len(actual)} ==MP lines match {os.path.basename(golden_path)}; "
          f"live at exit: {len(live)}")
    for l in live:
        print(f"    {l}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
