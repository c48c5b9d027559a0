#!/usr/bin/env python3
"""Golden-output tests of profiling/valground.

Usage: run_golden.py VALGROUND GOLDEN_DIR [--example EXE] [--update]

For each GOLDEN_DIR/NAME.log, runs `VALGROUND [args] NAME.log` (args from
NAME.args, one line, if present) and compares stdout, stderr and the exit
status with NAME.out (format: stdout, then `--- stderr ---`, stderr, then
`--- exit N ---`). --update rewrites the .out files. With --example, also runs
EXE (examples/profiling_example, profiling build), pipes its stderr through
VALGROUND and compares with profiling_example.out, ignoring the lines that hold
heap offsets or gaps (they follow the hardening level's chunk layout) and the
value of raw addresses (the example's invalid frees are outside the heap).
Standard library only.
"""

import difflib
import os
import re
import subprocess
import sys

ADDRESS_DEPENDENT = ("heap+0x", "Largest free gap")


def run(cmd, stdin=None):
    p = subprocess.run([sys.executable] + cmd, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=False)
    return (p.stdout.decode() + "--- stderr ---\n" + p.stderr.decode()
            + f"--- exit {p.returncode} ---\n")


def compare(name, expected, actual):
    if expected == actual:
        return True
    print(f"golden {name}: output differs", file=sys.stderr)
    sys.stderr.writelines(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                               "expected", "actual"))
    return False


def main(argv):
    update = "--update" in argv
    argv = [a for a in argv if a != "--update"]
    example = None
    if "--example" in argv:
        k = argv.index("--example")
        example = argv[k + 1]
        del argv[k:k + 2]
    if len(argv) != 3:
        print("usage: run_golden.py VALGROUND GOLDEN_DIR [--example EXE] [--update]", file=sys.stderr)
        return 2
    valground, gdir = argv[1], argv[2]
    ok = True
    count = 0
    for entry in sorted(os.listdir(gdir)):
        if not entry.endswith(".log"):
            continue
        name = entry[:-4]
        args = []
        if os.path.exists(os.path.join(gdir, name + ".args")):
            with open(os.path.join(gdir, name + ".args")) as f:
                args = f.read().split()
        # Run from the golden directory so file names in the output are stable.
        cwd = os.getcwd()
        os.chdir(gdir)
        try:
            actual = run([os.path.abspath(os.path.join(cwd, valground))] + args + [entry])
        finally:
            os.chdir(cwd)
        out_path = os.path.join(gdir, name + ".out")
        count += 1
        if update:
            with open(out_path, "w") as f:
                f.write(actual)
            continue
        with open(out_path) as f:
            ok &= compare(name, f.read(), actual)
    if example and not update:
        p = subprocess.run([example], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        actual = run([valground], p.stderr)
        with open(os.path.join(gdir, "profiling_example.out")) as f:
            expected = f.read()
        # Source paths are relative to the build directory: keep the base name.
        # An address outside the heap (the example's invalid frees) changes
        # from run to run: any raw address compares equal.
        keep = lambda text: "".join(re.sub(r"\b0x[0-9a-f]+\b", "0x?",
                                           re.sub(r"[^\s(]*/([^/\s]+:\d+)", r"\1", l))
                                    for l in text.splitlines(True)
                                    if not any(s in l for s in ADDRESS_DEPENDENT))
        ok &= compare("profiling_example (live run)", keep(expected), keep(actual))
        count += 1
    print(f"run_golden.py: {count} golden outputs {'written' if update else 'checked'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
