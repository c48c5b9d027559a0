#!/usr/bin/python3
"""Tests of the benchmark scripts on the committed samples (meson suite 'scripts').

usage: bench/test_scripts.py report|report_nompl|compare|run_table|bad_input|pinning|
                             instructions_smoke|driver_args|run_smoke|size|report_traces|
                             run_traces|all

The samples bench/testdata/sample-{before,after}.json are hand-written
Google Benchmark JSON following bench/gbench's naming contract (all seven
allocators, tail counters, util, a family and a name outside the contract).
Each case runs a script as a user would and checks its output; exit 0 on
success, 1 with the reason otherwise, 77 (skipped) when a case cannot run here.
driver_args takes the C/C++ drivers from the environment (bench/meson.build
sets them): BENCH_STEADY, BENCH_QUICK and, when it is built, BENCH_GBENCH,
which run_smoke runs through bench/run (its build directory, --no-build),
and BENCH_TRACE_REPLAY (trace_replay), which run_traces runs through
bench/run --no-gbench (with REPLAY_TESTPEER_TLSF, the test library of
bench/trace/testdata/testpeer.c, as a --peer when set). report_traces
renders bench/testdata/sample-traces.json (hand-written trace_replay JSON:
git and cc1, hardalloc's levels, tlsf, o1heap, glibc, instructions for some).
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinning  # noqa: E402
import cases  # noqa: E402
from cases import Fail, Skip, expect  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "testdata")
BEFORE = os.path.join(DATA, "sample-before.json")
AFTER = os.path.join(DATA, "sample-after.json")
TRACES = os.path.join(DATA, "sample-traces.json")
KNOWN_TRACES = os.path.join(HERE, "trace", "testdata")
MPL_NOTE = "matplotlib missing"


def run(args, env=None, code=0):
    """Runs bench/<args[0]> (an absolute args[0] as it is) with args[1:]."""
    e = dict(os.environ)
    if env:
        e.update(env)
    r = subprocess.run([os.path.join(HERE, args[0])] + args[1:], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, env=e)
    if code is not None and r.returncode != code:
        raise Fail("%s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(args), r.returncode, code, r.stdout[-3000:], r.stderr[-3000:]))
    return r


def have(module):
    return subprocess.run(["/usr/bin/python3", "-c", "import " + module],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def report_rows(md):
    expect(md, "| **pair 8..512 B, 32 KiB, 64 live** (`pair/dist=u8-512/order=random/live=64/"
               "heap=32KiB`) | 27.0 | 51.0 | 72.9 | 5.8 | 4.0 | 9.3 | 6.3 | 4.67 | 8.84 | 12.62 "
               "| 1.89 | 2.70 |", "ratio row, small pair")
    expect(md, "| **pair 8..8192 B, 1 MiB, 64 live**", "ratio row, large pair")
    expect(md, "| 4096 | 1MiB | 36.1 | 68.5 | 232.9 | 7.7 |", "latency by size row")
    expect(md, "| **pair 8..512 B, 32 KiB, 64 live** | standard | 46 | 128 | 306 | 15308 |",
           "tail latency row")
    expect(md, "| `util/dist=u8-512/heap=32KiB` | 95.4 % | 92.6 % | 92.6 % |", "utilization row")
    expect(md, "| `BM_Unnamed` |", "name outside the contract")
    expect(md, "`weird/colour=blue`", "unknown family")
    expect(md, "- command: `bench/run", "command in the context")
    for key in ("pair 8..512 B, 32 KiB, 64 live", "pair 8..8192 B, 1 MiB, 64 live"):
        if "Missing key workload: " + key in md:
            raise Fail("key workload %s reported missing:\n%s" % (key, md))
    expect(md, "Missing key workload: pair log 8 B..64 KiB, 1 MiB, 64 live (expected a benchmark "
               "named `pair/<allocator>/dist=log8-64K/order=random/live=64/heap=1MiB`)",
           "missing key workload named")


def case_report():
    with tempfile.TemporaryDirectory() as out:
        r = run(["report", BEFORE, "-o", out])
        md = open(os.path.join(out, "report.md")).read()
        report_rows(md)
        if have("matplotlib"):
            for name in ("latency_by_size.png", "tail_latency.png", "utilization.png"):
                path = os.path.join(out, name)
                expect(r.stdout, path, "plot path printed")
                with open(path, "rb") as f:
                    if f.read(8) != b"\x89PNG\r\n\x1a\n":
                        raise Fail("%s is not a PNG" % path)
                expect(md, "](%s)" % name, "plot linked from the markdown")
        else:
            expect(md, MPL_NOTE, "note when matplotlib is missing")
        run(["report", BEFORE, "-o", out, "--format", "svg"])
        if have("matplotlib") and not os.path.exists(os.path.join(out, "utilization.svg")):
            raise Fail("--format svg wrote no SVG")


def case_report_nompl():
    """matplotlib made unimportable: markdown all the same, one clear note, no plot."""
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "fake", "matplotlib"))
        with open(os.path.join(tmp, "fake", "matplotlib", "__init__.py"), "w") as f:
            f.write("raise ImportError('hidden by the test')\n")
        out = os.path.join(tmp, "out")
        r = run(["report", BEFORE, "-o", out], env={"PYTHONPATH": os.path.join(tmp, "fake")})
        md = open(os.path.join(out, "report.md")).read()
        report_rows(md)
        expect(md, MPL_NOTE, "note in the markdown")
        expect(r.stderr, MPL_NOTE, "note on stderr")
        if len(r.stderr.strip().splitlines()) != 1:
            raise Fail("expected one line on stderr, got:\n" + r.stderr)
        if any(n.endswith(".png") for n in os.listdir(out)):
            raise Fail("plots written without matplotlib")


# Google Benchmark JSON whose fields have the wrong types: read, never a traceback.
ODD_FIELDS = {
    "context": {"caches": 5, "host_name": 3},
    "benchmarks": [
        {"name": "pair/off/dist=u8-512/order=random/live=64/heap=32KiB", "run_type": "aggregate",
         "aggregate_name": "median", "repetitions": "x", "real_time": 3, "time_unit": []},
        {"name": "pair/glibc/dist=u8-512/order=random/live=64/heap=32KiB", "real_time": "fast",
         "time_unit": 7, "run_type": ["iteration"], "p50_ns": 1},
        {"name": "util/off/dist=u8-512/heap=32KiB/state=fresh", "utilization": "full"},
    ]}


def one_line(r, what, code):
    if len(r.stderr.strip().splitlines()) != 1 or "Traceback" in r.stderr:
        raise Fail("%s: expected one line on stderr and exit %d, got:\n%s" % (what, code, r.stderr))


def case_bad_input():
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"benchmarks": [')
        other = os.path.join(tmp, "other.json")
        with open(other, "w") as f:
            json.dump({"hello": 1}, f)
        for script in (["report"], ["run", "--table"]):
            for path in (bad, other, os.path.join(tmp, "missing.json")):
                r = run(script + [path] + (["-o", tmp] if script == ["report"] else []), code=2)
                one_line(r, "%s %s" % (script, path), 2)
        r = run(["compare", bad, AFTER], code=2)
        expect(r.stderr, "not JSON", "compare on malformed JSON")
        r = run(["compare", BEFORE, os.path.join(tmp, "missing.json")], code=2)
        expect(r.stderr, "no such file", "compare on a missing file")
        odd = os.path.join(tmp, "odd.json")
        with open(odd, "w") as f:
            json.dump(ODD_FIELDS, f)
        for script in (["report", odd, "-o", tmp, "--no-plots"], ["run", "--table", odd]):
            r = run(script)
            if "Traceback" in r.stderr:
                raise Fail("%s on fields of the wrong type:\n%s" % (script, r.stderr))
        # The build-driven scripts on a build directory that is not there.
        nowhere = os.path.join(tmp, "no-build")
        for args, code in ((["run", nowhere, "--no-build"], 1),
                           (["run", nowhere, "--no-build", "--cpu", str(1 << 20)], 2),
                           (["instructions", nowhere], 2),
                           (["levels", nowhere, "--rounds", "1"], 2), (["levels", "--rounds", "0"], 2),
                           (["size", "--arch", "thumb", "--arm-cc", os.path.join(nowhere, "gcc")], 2)):
            one_line(run(args, code=code), " ".join(args), code)
        # An output directory that cannot be made (a file stands in its way).
        r = run(["report", BEFORE, "-o", os.path.join(bad, "out")], code=2)
        one_line(r, "report -o under a file", 2)
        expect(r.stderr, "cannot create the output directory", "report -o under a file")
        # a --json path that cannot be written: refused before the run
        for args in (["size", "--json", os.path.join(bad, "x.json")],
                     ["instructions", nowhere, "--json", os.path.join(bad, "x.json")]):
            r = run(args, code=2)
            one_line(r, " ".join(args), 2)
            expect(r.stderr, "--json", " ".join(args))
        r = run(["instructions", nowhere], env={"HARDALLOC_BENCH_OPS": "many"}, code=2)
        one_line(r, "HARDALLOC_BENCH_OPS=many", 2)
        expect(r.stderr, "HARDALLOC_BENCH_OPS=many: not an integer", "bad environment number")


def case_pinning():
    """bench/pinning: a prefix that runs, or none with the reason; a CPU not allowed refused."""
    prefix, note = pinning.pin_prefix()
    if prefix:
        expect(note, "pinned to CPU %s" % prefix[-1], "note of a pinned run")
        if subprocess.run(prefix + ["true"]).returncode != 0:
            raise Fail("%s true failed" % " ".join(prefix))
    else:
        expect(note, "unpinned (", "note of an unpinned run")
    allowed = pinning.allowed_cpus()
    if not allowed:
        raise Skip("no CPU affinity information here")
    p, n = pinning.pin_prefix(allowed[0])
    if p and p[-1] != str(allowed[0]):
        raise Fail("asked for CPU %d, got %s (%s)" % (allowed[0], p, n))
    try:
        pinning.pin_prefix(max(allowed) + 1)
    except pinning.PinError as e:
        expect(str(e), "CPU %d is not one of the CPUs allowed here" % (max(allowed) + 1),
               "PinError message")
    else:
        raise Fail("a CPU outside the affinity mask was accepted")


# Malformed arguments of the C/C++ drivers: usage on one line, exit 2.
DRIVER_BAD_ARGS = {
    "BENCH_STEADY": [["abc", "64", "1", "1"], ["32768", "0", "1", "1"], ["32768", "64", "1", "-1"],
                     ["32768", "64", "1", "1", "--max-size", "4"],
                     ["32768", "64", "1", "1", "--max-size"], ["32768", "64", "1x", "1"]],
    "BENCH_QUICK": [["--rounds", "0"], ["--rounds", "1001"], ["--pairs", "x"], ["--pairs"],
                    ["1", "2"], ["--density-seeds", "-1"]],
    "BENCH_TRACE_REPLAY": [["--rounds", "0", "x.hat"], ["--arena", "12", "x.hat"],
                           ["--only", "nothing", "x.hat"], ["--peer", "x", "x.hat"],
                           ["--peer", "glibc=/x.so", "x.hat"]],
    "BENCH_GBENCH": [["--gbench_ops=abc"], ["--gbench_ops=0"], ["--gbench_ops=-5"],
                     ["--gbench_ops=100000001"],
                     ["--gbench_ops="], ["--gbench_util_max=-1"], ["--gbench_util_max=1k"]],
}


def case_driver_args():
    exes = {k: os.environ[k] for k in DRIVER_BAD_ARGS if os.environ.get(k)}
    if not exes:
        raise Skip("no driver given (BENCH_STEADY, BENCH_QUICK, BENCH_GBENCH)")
    for var, exe in exes.items():
        for args in DRIVER_BAD_ARGS[var]:
            r = run([exe] + args, code=2)
            one_line(r, "%s %s" % (os.path.basename(exe), " ".join(args)), 2)


def case_compare():
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "scipy"))
        with open(os.path.join(tmp, "scipy", "__init__.py"), "w") as f:
            f.write("raise ImportError('hidden by the test')\n")
        r = run(["compare", BEFORE, AFTER], env={"PYTHONPATH": tmp}, code=2)
        expect(r.stderr, "python3-scipy", "message when scipy is missing")
        if len(r.stderr.strip().splitlines()) != 1:
            raise Fail("expected one line, got:\n" + r.stderr)
    if not (have("numpy") and have("scipy.stats")):
        r = run(["compare", BEFORE, AFTER], code=2)
        expect(r.stderr, "python3-scipy", "message when scipy is missing")
        return
    r = run(["compare", BEFORE, AFTER])
    expect(r.stdout, "pair/off/dist=u8-512/order=random/live=64/heap=32KiB_median", "benchmark row")
    expect(r.stdout, "U Test", "U test rows")
    r = run(["compare", BEFORE, AFTER, "--filter", "^util/"])
    if "pair/" in r.stdout:
        raise Fail("--filter ^util/ kept pair benchmarks:\n" + r.stdout)
    r = run(["compare", "--between", "off", "standard", BEFORE])
    expect(r.stdout, "pair[/off/ vs. /standard/]dist=u8-512", "--between row")
    # Entries without a name (not a dict, a name of the wrong type) or with
    # fields of the wrong type are left out of what compare.py reads, with or
    # without --filter.
    with tempfile.TemporaryDirectory() as tmp:
        with open(BEFORE) as f:
            data = json.load(f)
        data["benchmarks"][:0] = [5, {"name": 3}, "pair/off"] + ODD_FIELDS["benchmarks"]
        mixed = os.path.join(tmp, "mixed.json")
        with open(mixed, "w") as f:
            json.dump(data, f)
        for extra in ([], ["--filter", "^pair/"]):
            r = run(["compare", mixed, AFTER] + extra, code=None)
            if r.returncode != 0 or "Traceback" in r.stderr:
                raise Fail("compare %s on unnamed entries: exit %d\n%s" % (
                    " ".join(extra), r.returncode, r.stderr))
            expect(r.stdout, "pair/off/dist=u8-512/order=random/live=64/heap=32KiB_median",
                   "benchmark row with unnamed entries")
        odd = os.path.join(tmp, "odd.json")
        with open(odd, "w") as f:
            json.dump(ODD_FIELDS, f)
        r = run(["compare", odd, AFTER], code=2)
        one_line(r, "compare on nothing it can read", 2)
        expect(r.stderr, "no benchmark compare.py can read", "compare on nothing it can read")


def case_run_table():
    r = run(["run", "--table", BEFORE])
    expect(r.stdout, "* pair 8..512 B, 32 KiB, 64 live", "key workload title")
    line = [l for l in r.stdout.splitlines()
            if l.strip().startswith("pair/dist=u8-512/order=random/live=64/heap=32KiB")][-1]
    if line.split()[1:] != ["4.67", "8.84", "12.62", "1.89", "2.70"]:
        raise Fail("ratio line: " + line)
    expect(r.stdout, "BM_Unnamed", "name outside the contract listed")
    with tempfile.TemporaryDirectory() as tmp:
        with open(BEFORE) as f:
            data = json.load(f)
        data["benchmarks"] = [b for b in data["benchmarks"] if "u8-8192" not in b["name"]]
        path = os.path.join(tmp, "partial.json")
        with open(path, "w") as f:
            json.dump(data, f)
        r = run(["run", "--table", path])
        expect(r.stdout, "missing: pair 8..8192 B, 1 MiB, 64 live -- expected a benchmark named "
                         "pair/<allocator>/dist=u8-8192/order=random/live=64/heap=1MiB",
               "missing key workload named")


def case_instructions_smoke():
    """bench/instructions on a tiny budget (the O(1) verdict itself is `meson
    test --benchmark`'s): the callgrind counts of every level are read, and
    read right: each pair holds its alloc and its free, and the levels come
    in their order of cost."""
    steady = os.environ.get("BENCH_STEADY")
    if not steady:
        raise Skip("no BENCH_STEADY (bench/steady not built)")
    build = os.path.dirname(os.path.dirname(steady))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "instructions.json")
        r = run(["instructions", build, "--workload", "small", "--ops", "200", "--no-glibc",
                 "--json", out], code=None)
        if r.returncode not in (0, 1) or "Traceback" in r.stderr:
            raise Fail("instructions exited %d:\n%s" % (r.returncode, r.stderr[-3000:]))
        with open(out) as f:
            levels = json.load(f)["workloads"]["small"]["levels"]
    pairs = []
    for lv in ("off", "standard", "paranoid"):
        if lv not in levels:
            raise Fail("level %s not counted: %s" % (lv, sorted(levels)))
        ops = {op: levels[lv][op]["per_point"] for op in ("pair", "alloc", "free")}
        for i in range(3):
            pair, alloc, free = (ops[op][i] for op in ("pair", "alloc", "free"))
            if not (0 < alloc and 0 < free and alloc + free <= pair):
                raise Fail("%s point %d: pair %s, alloc %s, free %s" % (lv, i, pair, alloc, free))
        pairs.append(ops["pair"][0])
    if not pairs[0] < pairs[1] < pairs[2]:
        raise Fail("pairs off, standard, paranoid not in order of cost: %s" % pairs)


def case_run_smoke():
    """bench/run end to end on the built gbench (--no-build, two benchmarks on
    --gbench_smoke's budget): pinning note, JSON with the added context, table."""
    gbench = os.environ.get("BENCH_GBENCH")
    if not gbench:
        raise Skip("no BENCH_GBENCH (bench/gbench not built)")
    build = os.path.dirname(os.path.dirname(gbench))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run.json")
        r = run(["run", build, "--no-build", "--reps", "2", "--out", out, "--filter",
                 "^pair/(off|glibc)/dist=u8-512/order=random/live=64/heap=32KiB/",
                 "--", "--gbench_smoke"])
        expect(r.stdout, "run: wrote " + out, "JSON path printed")
        expect(r.stderr, "run: pinned to CPU " if "pinned to CPU" in r.stderr else "run: unpinned (",
               "pinning note")
        with open(out) as f:
            ctx = json.load(f)["context"]
        for key in ("command", "pinned", "commit", "compiler"):
            if not isinstance(ctx.get(key), str) or not ctx[key]:
                raise Fail("context %s missing: %s" % (key, ctx))
        expect(r.stdout, "* pair 8..512 B, 32 KiB, 64 live", "key workload title")
        r2 = run(["run", build, "--no-build", "--out", os.path.join(out, "sub", "x.json")], code=2)
        one_line(r2, "run --out under a file", 2)
        expect(r2.stderr, "cannot create the output directory", "run --out under a file")
        line = [l for l in r.stdout.splitlines()
                if l.strip().startswith("pair/dist=u8-512/order=random/live=64/heap=32KiB")]
        if len(line) != 2 or line[1].split()[1] == "-" or line[1].split()[2:] != ["-"] * 4:
            raise Fail("expected off/glibc and no other ratio:\n" + "\n".join(line))
        # the committed trace replayed too, its JSON beside gbench's and named in its context
        traces = os.path.join(tmp, "run-traces.json")
        if ctx.get("trace_replay") != "run-traces.json" or not os.path.exists(traces):
            raise Fail("no trace replay JSON beside the run's: %s" % ctx.get("trace_replay"))
        expect(r.stdout, "real traces (trace_replay): ns per operation", "real-trace table")
        expect(r.stdout, "hardalloc-off", "real-trace table row")


def case_size():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "size.json")
        r = run(["size", "--top", "3", "--json", out])
        with open(out) as f:
            data = json.load(f)
        arches = ["x86-64"] + (["thumb"] if "thumb" in data["arches"] else [])
        for arch in arches:
            t = data["arches"][arch]["totals"]
            for lv in ("off", "standard", "paranoid"):
                if not t["allocator"][lv] > 0 or not t["wrappers"][lv] > 0:
                    raise Fail("%s %s: empty .text: %s" % (arch, lv, t))
            if not t["allocator"]["off"] <= t["allocator"]["standard"]:
                raise Fail("%s: off larger than standard: %s" % (arch, t["allocator"]))
        expect(r.stdout, "allocator/mem_alloc.c", "per-file row")
        if "thumb" in arches:
            expect(r.stdout, "target: core at standard", "target verdict")
        else:
            expect(r.stderr, "arm-none-eabi-gcc", "note when the Thumb compiler is missing")


def trace_rows(md):
    expect(md, "| allocator | git | cc1 | smallest arena / peak live |", "real-trace heads")
    expect(md, "| hardalloc-off | 20.0 | 14.0 | 1.060-1.080 |", "real-trace ns row")
    expect(md, "| o1heap | 12.5 | 11.2 | 1.557-1.589 |", "real-trace peer row")
    expect(md, "| glibc | 25.0 | 14.0 | - |", "real-trace system row")
    expect(md, "| standard/off | 2.25 | 2.00 |", "ratio standard/off")
    expect(md, "| tlsf/off | 0.80 | 0.89 |", "ratio tlsf/off")
    expect(md, "| tlsf | 98.0 (58.0) | 110.0 (70.0) |", "instructions row, the allocator's own")
    expect(md, "| o1heap | 80.2 | 90.0 |", "instructions row")
    if "| hardalloc-standard | -" in md.split("Instructions per operation")[-1]:
        raise Fail("an instructions row for an allocator not counted:\n" + md)


def case_report_traces():
    with tempfile.TemporaryDirectory() as tmp:
        # trace_replay's JSON alone
        out = os.path.join(tmp, "alone")
        r = run(["report", TRACES, "-o", out])
        expect(r.stdout, os.path.join(out, "report.md"), "report path")
        trace_rows(open(os.path.join(out, "report.md")).read())
        # beside gbench's: --traces, and the file named in the context
        out = os.path.join(tmp, "both")
        run(["report", BEFORE, "-o", out, "--no-plots", "--traces", TRACES])
        md = open(os.path.join(out, "report.md")).read()
        report_rows(md)
        trace_rows(md)
        with open(BEFORE) as f:
            data = json.load(f)
        data["context"]["trace_replay"] = "beside-traces.json"
        run_json = os.path.join(tmp, "beside.json")
        with open(run_json, "w") as f:
            json.dump(data, f)
        r = run(["report", run_json, "-o", os.path.join(tmp, "missing"), "--no-plots"])
        expect(r.stderr, "beside-traces.json (named in %s) not found" % run_json,
               "note when the named trace JSON is missing")
        with open(TRACES) as f, open(os.path.join(tmp, "beside-traces.json"), "w") as g:
            g.write(f.read())
        run(["report", run_json, "-o", os.path.join(tmp, "named"), "--no-plots"])
        trace_rows(open(os.path.join(tmp, "named", "report.md")).read())
        # bench/run --table: the trace tables, alone or after gbench's
        for path in (TRACES, run_json):
            r = run(["run", "--table", path])
            expect(r.stdout, "real traces (trace_replay): ns per operation", "run --table")
            line = [l for l in r.stdout.splitlines() if l.startswith("tlsf/off")]
            if len(line) != 1 or line[0].split()[1:] != ["0.80", "0.89"]:
                raise Fail("run --table %s: ratio line %s" % (path, line))
        # malformed trace JSON: one line, exit 2
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            json.dump({"traces": [{"allocators": "none"}]}, f)
        for args in (["report", BEFORE, "-o", tmp, "--no-plots", "--traces", bad],
                     ["report", bad, "-o", tmp], ["run", "--table", bad],
                     ["report", BEFORE, "-o", tmp, "--traces", os.path.join(tmp, "no.json")]):
            one_line(run(args, code=2), " ".join(args), 2)


def case_run_traces():
    """bench/run --no-gbench: trace_replay on a directory of traces (and the
    TLSF-like test library as a --peer when built), JSON and tables; bad
    --traces and --peer arguments stop it before anything runs."""
    exe = os.environ.get("BENCH_TRACE_REPLAY")
    if not exe:
        raise Skip("no BENCH_TRACE_REPLAY (trace_replay not built)")
    build = os.path.dirname(os.path.dirname(os.path.dirname(exe)))
    peer = os.environ.get("REPLAY_TESTPEER_TLSF")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "traces.json")
        args = ["run", build, "--no-build", "--no-gbench", "--reps", "1", "--out", out,
                "--traces", KNOWN_TRACES]
        if peer:
            args += ["--peer", "tl=" + peer]
        r = run(args)
        expect(r.stdout, "run: wrote " + out, "JSON path printed")
        with open(out) as f:
            doc = json.load(f)
        names = sorted(os.path.basename(t["trace"]) for t in doc["traces"])
        if names != ["known.child.hat", "known.hat"]:
            raise Fail("traces replayed: %s" % names)
        expect(r.stdout, "trace_known (known.hat)", "column per trace")
        if peer:
            if not any(a["name"] == "tl" and a["failures"] == 0
                       for a in doc["traces"][0]["allocators"]):
                raise Fail("the --peer library was not replayed: %s" % doc["traces"][0])
            expect(r.stdout, "tl/off", "the peer's ratio")
        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)
        for bad in (["--traces", os.path.join(tmp, "nothing.hat")], ["--traces", empty],
                    ["--peer", "x=" + os.path.join(tmp, "none.so")], ["--peer", "nothing"],
                    ["--no-traces", "--peer", "x=y.so"], ["--no-traces", "--no-gbench"]):
            r = run(["run", build, "--no-build", "--out", os.path.join(tmp, "x.json")] + bad,
                    code=2)
            if bad != ["--no-traces", "--no-gbench"]:  # argparse: usage, then the error
                one_line(r, " ".join(bad), 2)


CASES = {"report": case_report, "report_nompl": case_report_nompl, "compare": case_compare,
         "run_table": case_run_table, "bad_input": case_bad_input, "pinning": case_pinning,
         "instructions_smoke": case_instructions_smoke,
         "driver_args": case_driver_args, "run_smoke": case_run_smoke, "size": case_size,
         "report_traces": case_report_traces, "run_traces": case_run_traces}


if __name__ == "__main__":
    sys.exit(cases.main(CASES, sys.argv[1:]))
