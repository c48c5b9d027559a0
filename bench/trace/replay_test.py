#!/usr/bin/env python3
"""Tests of trace_replay (bench/trace/replay.c), run by meson.

usage: replay_test.py CASE TRACE_REPLAY KNOWN_HAT [KNOWN_CHILD_HAT]

known:     trace_replay --rounds 1 on testdata/known.hat (and the fork
           child's trace): exit 0; hardalloc off, standard, paranoid and
           glibc each listed once per trace, 0 failures, every smallest arena
           >= the trace's peak live bytes; --json writes the same numbers.
bad_input: a missing trace and a corrupt one (a truncated copy, a bad
           magic): exit 2, one error line naming the file; bad options:
           exit 2.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ALLOCATORS = ["hardalloc-off", "hardalloc-standard", "hardalloc-paranoid", "glibc"]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(args):
    p = subprocess.run(args, capture_output=True, text=True, timeout=100)
    return p.returncode, p.stdout, p.stderr


def parse_tables(out):
    """[(peak_live, {allocator: (ns, smallest or None, failures)})] per trace."""
    tables = []
    for block in out.split("trace: ")[1:]:
        m = re.search(r"peak live (\d+) bytes", block)
        if not m:
            fail("no peak live bytes in:\n" + block)
        rows = {}
        for line in block.splitlines():
            f = line.split()
            if f and f[0] in ALLOCATORS:
                if len(f) != 5:
                    fail("bad row: " + line)
                smallest = None if f[2] == "-" else int(f[2])
                rows[f[0]] = (float(f[1]), smallest, int(f[4]))
        tables.append((int(m.group(1)), rows))
    return tables


def case_known(exe, traces):
    with tempfile.TemporaryDirectory() as tmp:
        js = os.path.join(tmp, "out.json")
        rc, out, err = run([exe, "--rounds", "1", "--json", js] + traces)
        print(out, err)
        if rc != 0:
            fail(f"exit {rc}")
        tables = parse_tables(out)
        if len(tables) != len(traces):
            fail(f"{len(tables)} tables for {len(traces)} traces")
        for peak, rows in tables:
            if sorted(rows) != sorted(ALLOCATORS):
                fail(f"allocators listed: {sorted(rows)}")
            if peak <= 0:
                fail("peak live bytes 0")
            for name, (ns, smallest, failures) in rows.items():
                if failures != 0:
                    fail(f"{name}: {failures} failures")
                if ns <= 0:
                    fail(f"{name}: ns/op {ns}")
                if name != "glibc" and (smallest is None or smallest < peak):
                    fail(f"{name}: smallest arena {smallest} < peak live {peak}")
        with open(js) as f:
            doc = json.load(f)
        if len(doc["traces"]) != len(traces):
            fail("json: trace count")
        for t, (peak, rows) in zip(doc["traces"], tables):
            if t["peak_live_bytes"] != peak:
                fail("json: peak live bytes differ from the table")
            names = [a["name"] for a in t["allocators"]]
            if names != ALLOCATORS:
                fail(f"json: allocators {names}")
            for a in t["allocators"]:
                if a["failures"] != 0 or len(a["ns_per_op_rounds"]) != 1:
                    fail(f"json: {a}")
                if a["name"] != "glibc" and a["smallest_arena"] != rows[a["name"]][1]:
                    fail(f"json: smallest arena of {a['name']} differs from the table")
                if a["name"] != "glibc" and a["arena"] < 2 * a["smallest_arena"] - 8:
                    fail(f"json: arena {a['arena']} is not 2 x {a['smallest_arena']}")


def expect_bad(args, name):
    rc, out, err = run(args)
    lines = err.strip().splitlines()
    if rc != 2:
        fail(f"{args}: exit {rc}, expected 2\n{out}{err}")
    if len(lines) != 1 or (name and name not in lines[0]):
        fail(f"{args}: expected one line naming {name}, got:\n{err}")
    if out:
        fail(f"{args}: printed a table for bad input:\n{out}")
    print("ok:", lines[0])


def case_bad_input(exe, traces):
    with tempfile.TemporaryDirectory() as tmp:
        missing = os.path.join(tmp, "missing.hat")
        expect_bad([exe, "--rounds", "1", missing], missing)
        data = open(traces[0], "rb").read()
        trunc = os.path.join(tmp, "truncated.hat")
        with open(trunc, "wb") as f:
            f.write(data[: len(data) // 2])
        expect_bad([exe, "--rounds", "1", trunc], trunc)
        magic = os.path.join(tmp, "magic.hat")
        with open(magic, "wb") as f:
            f.write(b"NOTATRACE" + data[9:])
        expect_bad([exe, "--rounds", "1", magic], magic)
        # a good trace before a bad one: still exit 2, no table
        expect_bad([exe, "--rounds", "1", traces[0], trunc], trunc)
        for bad in (["--rounds", "0"], ["--rounds", "x"], ["--arena-factor", "0.5"],
                    ["--bogus"], []):
            rc, _, _ = run([exe] + bad + ([traces[0]] if bad else []))
            if rc != 2:
                fail(f"options {bad}: exit {rc}, expected 2")


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        sys.exit(2)
    case, exe, traces = sys.argv[1], sys.argv[2], sys.argv[3:]
    {"known": case_known, "bad_input": case_bad_input}[case](exe, traces)
    print("PASS")


if __name__ == "__main__":
    main()
