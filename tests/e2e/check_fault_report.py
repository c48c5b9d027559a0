#!/usr/bin/env python3
"""End-to-end: a profiling app faults in two tests of a pytest-like run (a
block overflowed, a block freed twice), and profiling/valground reports each
fault in its own test and fails the run.

Usage: check_fault_report.py FAULT_APP VALGROUND

FAULT_APP is tests/e2e/fault_app.c built with HAVE_MEMORY_PROFILING. The
script plays pytest -v -s driving an app on the emulator: `collected 5
items`, then five tests, each a `path::name` line, one run of the app
(`clean`, `overflow`, `clean`, `double`, `clean`) whose stderr lines are
printed behind the emulator's `seproxyhal: printf: ` prefix, and its status
(FAILED when the app died). Then it runs VALGROUND --json --junit on that
transcript and checks:
  - each faulting run died of SIGABRT and its stderr holds the default
    handler's line, naming the block's allocation site (and, for the double
    free, its first free) as the app printed them on stdout;
  - valground exits with status 1;
  - its JSON has five segments, one fault in the second and one in the
    fourth: the code, the address the handler's line names, what was known
    and the sites, all as the app said; the global fault count is 2;
  - its JUnit fails exactly the second and fourth test cases, naming the
    fault;
  - its text report prints each FAULT line under its own test's header.
Exit 0 when all hold, 1 otherwise (each failed check on stderr), 2 for a
usage error. Python 3 standard library only.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

PROG = "check_fault_report.py"
PREFIX = "seproxyhal: printf: "
TESTS = (("test_clean_start", "clean"), ("test_sign_long", "overflow"), ("test_clean_mid", "clean"),
         ("test_verify_twice", "double"), ("test_clean_end", "clean"))
FAULTING = [i for i, (_, scenario) in enumerate(TESTS) if scenario != "clean"]
HANDLER_RE = re.compile(r"hardalloc: (.+) at (0x[0-9a-f]+) in heap (0x[0-9a-f]+)(.*)")


def run_app(app, scenario):
    p = subprocess.run([app, scenario], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60, check=False)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def transcript(app):
    """The pytest-like transcript, and (status, stdout, stderr) of each faulting run."""
    out = ["============================= test session starts ==============================",
           f"collecting ... collected {len(TESTS)} items", ""]
    faulting = []
    for name, scenario in TESTS:
        out.append(f"tests/test_app.py::{name} ")
        status, stdout, stderr = run_app(app, scenario)
        out += [PREFIX + line for line in stderr.splitlines()]
        out.append(("PASSED" if status == 0 else "FAILED") + "                                  [ 20%]")
        if scenario != "clean":
            faulting.append((status, stdout, stderr))
    return "\n".join(out) + "\n", faulting


def expectation(stdout):
    """(code, known, alloc site, free site or None) the app printed."""
    m = re.search(r"^expect (\d+) (live|freed) (\S+:\d+)(?: (\S+:\d+))?$", stdout, re.M)
    if m is None:
        return None
    return int(m.group(1)), m.group(2), m.group(3), m.group(4)


def main(argv):
    if len(argv) != 3:
        print(f"{PROG}: usage: check_fault_report.py FAULT_APP VALGROUND", file=sys.stderr)
        return 2
    app, valground = argv[1], argv[2]
    for path in (app, valground):
        if not os.path.isfile(path):
            print(f"{PROG}: not found: {path}", file=sys.stderr)
            return 2
    problems = []
    text, runs = transcript(app)
    wants = []
    for status, stdout, stderr in runs:
        expect = expectation(stdout)
        if expect is None:
            print(f"{PROG}: the app printed no expectation: {stdout!r} {stderr!r}", file=sys.stderr)
            return 1
        code, known, alloc_site, free_site = expect
        if status != -6:
            problems.append(f"a faulting run ended with status {status}, not SIGABRT")
        handler = [m for m in map(HANDLER_RE.fullmatch, stderr.splitlines()) if m]
        note = f" (allocated at {alloc_site}" + (f", first freed at {free_site})" if free_site else ")")
        if len(handler) != 1 or handler[0].group(4) != note:
            problems.append(f"the default handler's line does not end with {note!r}: {stderr!r}")
        addr = int(handler[0].group(2), 16) if handler else None
        wants.append({"code": code, "ptr": f"0x{addr:x}" if addr is not None else None, "known": known,
                      "alloc_site": alloc_site, "free_site": free_site})

    with tempfile.TemporaryDirectory(prefix="fault_report_") as d:
        log, jpath, xpath = (os.path.join(d, n) for n in ("run.log", "r.json", "r.xml"))
        with open(log, "w") as f:
            f.write(text)
        vg = subprocess.run([sys.executable, valground, "--json", jpath, "--junit", xpath, log],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
        report = vg.stdout.decode(errors="replace")
        if vg.returncode != 1:
            problems.append(f"valground exited with {vg.returncode}, not 1: {vg.stderr!r}")
        try:
            with open(jpath) as f:
                doc = json.load(f)
            cases = ET.parse(xpath).getroot().findall("testsuite/testcase")
        except (OSError, ValueError, ET.ParseError) as err:
            print(f"{PROG}: no report to read: {err}\n{vg.stderr.decode(errors='replace')}", file=sys.stderr)
            return 1

    segs = doc["segments"]
    if [s["name"] for s in segs] != [t[0] for t in TESTS]:
        problems.append(f"segments {[s['name'] for s in segs]}, expected {[t[0] for t in TESTS]}")
    else:
        faults = [s["faults"] for s in segs]
        if [len(f) for f in faults] != [int(i in FAULTING) for i in range(len(TESTS))]:
            problems.append(f"faults per segment: {faults}, expected one in each of tests {[i + 1 for i in FAULTING]}")
        else:
            for i, want in zip(FAULTING, wants):
                got = {k: faults[i][0][k] for k in want}
                if got != want:
                    problems.append(f"test {i + 1}: the fault reads {got}, expected {want}")
    if doc["global"].get("faults") != len(FAULTING) or doc.get("exit_status") != 1:
        problems.append(f"global faults {doc['global'].get('faults')}, exit_status {doc.get('exit_status')}")
    failed = [c.find("failure") is not None for c in cases]
    if failed != [i in FAULTING for i in range(len(TESTS))]:
        problems.append(f"JUnit failures {failed}, expected tests {[i + 1 for i in FAULTING]} only")
    elif any("fault: " not in (cases[i].find("failure").text or "") for i in FAULTING):
        problems.append("a failing test case's failure does not name the fault")
    n = len(TESTS)
    for i, (name, _) in enumerate(TESTS):
        section = report.split(f"[{i + 1}/{n}] - {name}", 1)[-1].split(f"[{i + 2}/{n}]", 1)[0]
        if ("FAULT: " in section) != (i in FAULTING):
            problems.append(f"the text report's test {i + 1} ({name}) has the wrong FAULT lines:\n" + report)

    for p in problems:
        print(f"{PROG}: FAILED: {p}", file=sys.stderr)
    if problems:
        return 1
    said = "; ".join(f"code {w['code']} ({w['known']}) allocated at {w['alloc_site']}"
                     + (f", first freed at {w['free_site']}" if w["free_site"] else "") for w in wants)
    print(f"{PROG}: {said}: reported in tests {[i + 1 for i in FAULTING]} of {len(TESTS)}; valground failed the run")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
