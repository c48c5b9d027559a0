#!/usr/bin/python3
"""Tests of the hatrace tracer, trace_stat and record (meson suites 'scripts' and 'trace').

usage: bench/trace/test_trace.py stat|record_help|tracer|threads|only|record|all

The programs come from the environment (bench/trace/meson.build sets them):
TRACE_STAT, TRACE_CHECK, and, where the tracer is built (not in sanitizer or
cross builds), TRACE_LIB (libhatrace.so) and TRACE_KNOWN (trace_known).
  stat         trace_stat on the committed traces of trace_known (testdata/):
               its numbers; a damaged trace: one line naming the byte, exit 1;
               --partial on a cut one
  record_help  record --help, each preset's --help, usage errors, a missing tracer
  tracer       trace_known under the tracer: trace_check finds its known
               sequence (kinds, sizes, alignments, ids, threads, realloc moves
               as the program saw them) in its trace and in its fork child's own
               file; without HATRACE_OUT nothing is written
  threads      trace_known stress (5 threads of random calls), 3 times: every
               trace reads clean (ids consistent) with 5 threads
  only         HATRACE_ONLY, a relative HATRACE_OUT with %n and %%, O_EXCL naming
  record       record on trace_known: its traces, the summary, --force
Exit 0 on success, 1 with the reason, 77 (skipped) when a case cannot run here.
"""

import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import cases  # noqa: E402  (bench/cases.py: the case runner)
from cases import Fail, Skip, expect  # noqa: E402
DATA = os.path.join(HERE, "testdata")
KNOWN = os.path.join(DATA, "known.hat")
KNOWN_CHILD = os.path.join(DATA, "known.child.hat")
RECORD = os.path.join(HERE, "record")


def need(var):
    v = os.environ.get(var)
    if not v:
        raise Skip("%s is not set (the tracer is not built in sanitizer or cross builds)" % var)
    return v


def run(args, code=0, env=None, cwd=None):
    e = dict(os.environ)
    for k in ("LD_PRELOAD", "HATRACE_OUT", "HATRACE_ONLY"):
        e.pop(k, None)
    if env:
        e.update(env)
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=e, cwd=cwd)
    if code is not None and r.returncode != code:
        raise Fail("%s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(args), r.returncode, code, r.stdout[-3000:], r.stderr[-3000:]))
    return r


def traced(args, out_dir, extra=None, cwd=None):
    env = {"LD_PRELOAD": need("TRACE_LIB"), "HATRACE_OUT": os.path.join(out_dir, "%n.%p.hat")}
    env.update(extra or {})
    return run(args, env=env, cwd=cwd)


def hats(d):
    return sorted(f for f in os.listdir(d) if f.endswith(".hat"))


def case_stat():
    stat = os.environ["TRACE_STAT"]
    r = run([stat, KNOWN, KNOWN_CHILD])
    for needle in ("program: trace_known, pid ", "operations: 44\n", "threads: 2\n",
                   "failed calls: 11\n", "realloc(p, 0) frees: 2\n", "peak live count: 9\n",
                   "peak live bytes: 200817 ", "max id: 9\n", "free(NULL) (not recorded): 3\n",
                   "(forked by pid ", "its fork #0)", "inherited blocks: 4 "):
        expect(r.stdout, needle, "trace_stat on the committed traces")
    for pattern in (r"^ +posix_memalign +2 ", r"^ +valloc +1 ", r"^ +fork +1$",
                    r"^ +inherit +4$", r"^ +131072\.\.262143 +1 "):
        if not re.search(pattern, r.stdout, re.M):
            raise Fail("trace_stat on the committed traces: no line like %r in:\n%s" % (
                pattern, r.stdout))
    data = open(KNOWN, "rb").read()
    with tempfile.TemporaryDirectory() as tmp:
        cut = os.path.join(tmp, "cut.hat")
        with open(cut, "wb") as f:
            f.write(data[:len(data) // 2])
        r = run([stat, cut], code=1)
        if len(r.stderr.strip().splitlines()) != 1 or "no trailer" not in r.stderr:
            raise Fail("a cut trace: expected one line saying 'no trailer', got:\n" + r.stderr)
        expect(r.stderr, "byte %d:" % (len(data) // 2), "the offset of a cut trace")
        r = run([stat, "--partial", cut], code=None)
        if r.returncode not in (0, 1) or "Traceback" in r.stderr:
            raise Fail("--partial on a cut trace:\n" + r.stderr)
        bad = os.path.join(tmp, "bad.hat")
        with open(bad, "wb") as f:
            f.write(data[:8] + b"\x05" + data[9:])
        r = run([stat, bad], code=1)
        expect(r.stderr, "trace_stat: %s: byte 8: trace format version 5" % bad, "a bad version")
        r = run([stat, os.path.join(tmp, "missing.hat")], code=1)
        expect(r.stderr, "cannot open", "a missing file")
        run([stat], code=2)
        run([stat, "--bogus", KNOWN], code=2)


def case_record_help():
    r = run([RECORD, "--help"])
    for name in ("python", "cc1", "git", "sqlite", "perl", "--preset NAME", "--lib PATH"):
        expect(r.stdout, name, "record --help")
    for name in ("python", "cc1", "git", "sqlite", "perl"):
        r = run([RECORD, "--preset", name, "--help"])
        expect(r.stdout, "preset %s: " % name, "record --preset %s --help" % name)
        expect(r.stdout, "runs:   ", "record --preset %s --help" % name)
    expect(run([RECORD, "--preset", "cc1", "--help"]).stdout, "--only cc1", "cc1's --only")
    r = run([RECORD], code=2)
    expect(r.stderr, "nothing to record", "record without arguments")
    r = run([RECORD, "--preset", "nosuch"], code=2)
    expect(r.stderr, "unknown preset 'nosuch'", "an unknown preset")
    with tempfile.TemporaryDirectory() as tmp:
        r = run([RECORD, "--lib", os.path.join(tmp, "libhatrace.so"), "-o", tmp, "--", "true"],
                code=2)
        expect(r.stderr, "the tracer is not built", "a missing tracer")


def moves_of(stdout):
    m = re.search(r"^moves: (\d) (\d)$", stdout, re.M)
    c = re.search(r"^child-moves: (\d)$", stdout, re.M)
    if not m or not c:
        raise Fail("trace_known printed no moves:\n" + stdout)
    return [m.group(1), m.group(2), c.group(1)]


def parent_child(d, pid):
    files = hats(d)
    if len(files) != 2:
        raise Fail("expected 2 traces (the program, its fork child), got %s" % files)
    parent = "trace_known.%d.hat" % pid
    if parent not in files:
        raise Fail("no trace named after the program's pid %d: %s" % (pid, files))
    child = [f for f in files if f != parent][0]
    return os.path.join(d, parent), os.path.join(d, child)


def case_tracer():
    known = need("TRACE_KNOWN")
    check = os.environ["TRACE_CHECK"]
    with tempfile.TemporaryDirectory() as tmp:
        lib = need("TRACE_LIB")
        e = dict(os.environ, LD_PRELOAD=lib, HATRACE_OUT=os.path.join(tmp, "%n.%p.hat"))
        e.pop("HATRACE_ONLY", None)
        p = subprocess.Popen([known], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, env=e)
        out, err = p.communicate()
        if p.returncode != 0:
            raise Fail("trace_known under the tracer exited %d:\n%s%s" % (p.returncode, out, err))
        parent, child = parent_child(tmp, p.pid)
        r = run([check, "known", parent, child] + moves_of(out), code=None)
        if r.returncode != 0:
            raise Fail("trace_check known:\n%s%s" % (r.stdout, r.stderr))
        # the child's file is named after its own pid, which its header holds
        cpid = int(os.path.basename(child).split(".")[1])
        s = run([os.environ["TRACE_STAT"], child]).stdout
        expect(s, "pid %d (forked by pid %d, its fork #0)" % (cpid, p.pid), "the child's header")
    with tempfile.TemporaryDirectory() as tmp:
        r = run([known], env={"LD_PRELOAD": need("TRACE_LIB")})
        moves_of(r.stdout)
        if os.listdir(tmp) or r.stderr:
            raise Fail("without HATRACE_OUT: files %s, stderr %r" % (os.listdir(tmp), r.stderr))


def case_threads():
    known = need("TRACE_KNOWN")
    for i in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            traced([known, "stress", "30000", "4"], tmp)
            files = [os.path.join(tmp, f) for f in hats(tmp)]
            if len(files) != 1:
                raise Fail("stress: expected one trace, got %s" % files)
            r = run([os.environ["TRACE_CHECK"], "valid"] + files, code=None)
            if r.returncode != 0:
                raise Fail("stress run %d: trace_check valid:\n%s%s" % (i, r.stdout, r.stderr))
            m = re.search(r"(\d+) records, (\d+) threads, (\d+) operations", r.stdout)
            if not m or m.group(2) != "5" or int(m.group(3)) < 5 * 30000:
                raise Fail("stress run %d: expected 5 threads and >= 150000 operations: %s" % (
                    i, r.stdout))


def case_only():
    known = need("TRACE_KNOWN")
    with tempfile.TemporaryDirectory() as tmp:
        traced([known], tmp, {"HATRACE_ONLY": "nosuchprogram"})
        if hats(tmp):
            raise Fail("HATRACE_ONLY=nosuchprogram: traces written: %s" % hats(tmp))
        traced([known], tmp, {"HATRACE_ONLY": "trace_known"})
        if len(hats(tmp)) != 2:
            raise Fail("HATRACE_ONLY=trace_known: expected 2 traces, got %s" % hats(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, "rel"))
        env = {"LD_PRELOAD": need("TRACE_LIB"), "HATRACE_OUT": "rel/%n-%%-fixed.hat"}
        run([known], env=env, cwd=tmp)
        got = sorted(os.listdir(os.path.join(tmp, "rel")))
        # no %p: parent and child share the name; O_EXCL gives the second one ".1"
        if got != ["trace_known-%-fixed.hat", "trace_known-%-fixed.hat.1"]:
            raise Fail("relative HATRACE_OUT with %%n and %%%%, no %%p: got %s" % got)
        r = run([os.environ["TRACE_CHECK"], "valid"] +
                [os.path.join(tmp, "rel", f) for f in got], code=None)
        if r.returncode != 0:
            raise Fail("the O_EXCL-named traces:\n%s%s" % (r.stdout, r.stderr))


def case_record():
    known = need("TRACE_KNOWN")
    lib = need("TRACE_LIB")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        args = [RECORD, "--lib", lib, "--stat", os.environ["TRACE_STAT"], "-o", out, "--", known]
        r = run(args)
        expect(r.stdout, "program: trace_known, pid ", "record's summary")
        expect(r.stdout, "in 2 traces", "record's list")
        expect(r.stdout, "s with the tracer", "record's timing")
        if "forked by" in r.stdout:
            raise Fail("record summarized the child, not the main trace:\n" + r.stdout)
        r = run(args, code=2)
        expect(r.stderr, "already holds 2 trace(s)", "record into a used directory")
        r = run(args[:1] + ["--force"] + args[1:])
        if len(hats(out)) != 2:
            raise Fail("--force: expected 2 traces, got %s" % hats(out))


def malloc_free_counts(stat_out):
    m = re.search(r"^  malloc +(\d+)", stat_out, re.M)
    f = re.search(r"^  free +(\d+)", stat_out, re.M)
    if not m or not f:
        raise Fail("trace_stat printed no malloc/free counts:\n" + stat_out)
    return int(m.group(1)), int(f.group(1))


def case_pairs():
    """trace_pairs' traces hold its workload's calls (plus at most a few of
    the C runtime's), and a bad argument is one line and exit 2."""
    pairs = need("TRACE_PAIRS")
    for args, calls in ((["fixed", "32", "1000"], 1000), (["steady", "64", "512", "1000", "1"], 1064)):
        with tempfile.TemporaryDirectory() as tmp:
            traced([pairs] + args, tmp)
            files = hats(tmp)
            if len(files) != 1:
                raise Fail("%s: expected one trace, got %s" % (args, files))
            st = run([os.environ["TRACE_STAT"], os.path.join(tmp, files[0])]).stdout
            mallocs, frees = malloc_free_counts(st)
            if not calls <= mallocs <= calls + 8 or not calls <= frees <= calls + 8:
                raise Fail("%s: expected %d mallocs and frees, got %d and %d" % (args, calls, mallocs, frees))
            if args[0] == "fixed":
                expect(st, "peak live count: 1\n", "the fixed pair: one block live at a time")
    for bad in (["fixed", "0", "10"], ["steady", "0", "512", "10", "1"], ["steady", "64", "4", "10", "1"],
                ["fixed", "32"], ["random"]):
        r = run([pairs] + bad, code=2)
        if not r.stderr.startswith("usage: trace_pairs") or r.stderr.count("\n") != 1:
            raise Fail("%s: expected one usage line, got %r" % (bad, r.stderr))


CASES = {"stat": case_stat, "record_help": case_record_help, "tracer": case_tracer,
         "threads": case_threads, "only": case_only, "record": case_record, "pairs": case_pairs}


if __name__ == "__main__":
    sys.exit(cases.main(CASES, sys.argv[1:]))
