"""fuzz/campaign: runs hardalloc's fuzz targets at every hardening level and keeps what they find.

    fuzz/campaign                      every (target, level) job, libFuzzer, ~2 minutes in all on every core
    fuzz/campaign --engine afl         the same with AFL++ (-M main, -S secondaries, one with CmpLog)
    fuzz/campaign --target fuzz_alloc --level paranoid --per-job 600 --workers 2
    fuzz/campaign --smoke              CI preset: 8 s a job, 1 worker, libFuzzer, no corpus update
    fuzz/campaign --merge-only         minimize corpus/<target>/ in place (edges at every level), fuzz nothing
    fuzz/campaign --coverage           line and branch coverage of corpus/ and the regressions
    fuzz/campaign --throughput [SECS]  execs/s of each (target, level) on one libFuzzer worker
    fuzz/campaign --app examples/records  an app's own harness on hardalloc (fuzz/apps.list)

A job is a target at a hardening level (-Dhardening=off|standard|paranoid); fuzz_corrupt is not
run at off, where corrupted metadata is trusted by design, so the default is 8 jobs. It builds
what is missing (build-fuzz-libfuzzer-LEVEL, build-fuzz-afl-LEVEL, build-fuzz-afl-cmplog-LEVEL,
build-fuzz-coverage, and the tools in build/), installs an engine's tools through tools/deps
--fuzz when they are missing, then for each job: fuzzes for its share of the time budget, adds
to corpus/<target>/ (shared by the levels) only the inputs that reach edges the corpus and
fuzz/regressions/<target>/ do not reach at that level (a decoded .txt beside every new .bin),
saves every crash in the artifacts directory with its decoded program and a one-line reproduce
command, and prints a table. Exit status: 0 clean, 1 when anything crashed (or a step failed),
2 for bad options. Python 3 standard library only.
"""

import argparse
import os
import re

from .apps import resolve_apps
from .common import (DEFAULT_LEVEL, DEFAULT_TOTAL_SECONDS, LEVELS, SMOKE_SECONDS, TARGETS,
                     THROUGHPUT_SECONDS, Usage, runs_at)

USAGE_DOC = __doc__


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Usage(message)


def positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds")
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive number of seconds")
    return v


def positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number")
    if v < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be at least 1")
    return v


def parse_levels(values):
    """--level off,paranoid --level standard -> the levels in LEVELS order, each once."""
    wanted = set()
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name not in LEVELS:
                raise Usage(f"--level '{name}': the hardening levels are {', '.join(LEVELS)}")
            wanted.add(name)
    return [lv for lv in LEVELS if lv in wanted]


def parse_args(argv):
    p = Parser(prog="fuzz/campaign", description=USAGE_DOC.split("\n\n")[0],
               formatter_class=argparse.RawDescriptionHelpFormatter,
               epilog="See docs/FUZZING.md.")
    p.add_argument("--engine", choices=["libfuzzer", "afl"], default=None,
                   help="fuzzing engine (default libfuzzer)")
    p.add_argument("--target", action="append", metavar="NAME",
                   help=f"run this target only (repeatable; default all: {', '.join(TARGETS)})")
    p.add_argument("--app", action="append", metavar="DIR|NAME|all",
                   help="fuzz an app's harness (fuzz/apps.list, or a directory whose meson.build "
                        "builds fuzz_<its name>; repeatable); only apps, unless --target is given too")
    p.add_argument("--level", action="append", metavar="L[,L...]",
                   help=f"hardening levels to fuzz at (repeatable; default {','.join(LEVELS)}, "
                        f"an --app's {DEFAULT_LEVEL}); fuzz_corrupt is never run at off")
    p.add_argument("--time", type=positive_float, metavar="SECONDS",
                   help=f"total fuzzing time, split between the (target, level) jobs "
                        f"(default {DEFAULT_TOTAL_SECONDS})")
    p.add_argument("--per-job", "--per-target", dest="per_job", type=positive_float, metavar="SECONDS",
                   help="fuzzing time of each (target, level) job (instead of --time); "
                        "--per-target is the older name")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="parallel fuzzing processes per job (default: the number of cores); "
                        "N libFuzzer processes sharing a corpus, AFL++ one -M and N-1 -S")
    p.add_argument("--artifacts", metavar="DIR",
                   help="where crashes, logs and reports go (default fuzz-artifacts/<timestamp>)")
    p.add_argument("--json", metavar="FILE",
                   help="also write the results (the table's rows, or the throughput or "
                        "--merge-only figures) as JSON to FILE")
    p.add_argument("--sync-dir", metavar="DIR",
                   help="AFL++ output/sync directory shared between machines (DIR/<target>/<level>); "
                        "resumes what is there")
    p.add_argument("--node", metavar="NAME",
                   help="AFL++ with --sync-dir: this machine joins as secondaries NAME-s1.. "
                        "(the machine without --node runs the main)")
    p.add_argument("--no-merge", action="store_true",
                   help="leave corpus/ untouched (new inputs stay in the artifacts directory)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true",
                      help=f"CI preset: {SMOKE_SECONDS} s per job, 1 worker, libFuzzer, no corpus "
                           "update; skips (exit 0) when clang's libFuzzer is unavailable")
    mode.add_argument("--merge-only", action="store_true",
                      help="minimize corpus/<target>/ in place: keeps the hand-written seeds and each "
                           "generated input that reaches an edge the others do not at one of the levels")
    mode.add_argument("--coverage", action="store_true",
                      help="source-based coverage (hardening=standard) of corpus/ and "
                           "fuzz/regressions/ replayed: HTML report and one summary line")
    mode.add_argument("--throughput", nargs="?", type=positive_float, const=THROUGHPUT_SECONDS,
                      metavar="SECONDS",
                      help=f"execs/s of each (target, level) on one libFuzzer worker "
                           f"(default {THROUGHPUT_SECONDS} s each)")
    args = p.parse_args(argv)

    if args.time is not None and args.per_job is not None:
        raise Usage("give --time or --per-job, not both")
    if args.node is not None and args.sync_dir is None:
        raise Usage("--node needs --sync-dir (it names this machine's instances in a shared campaign)")
    if args.node is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", args.node):
        raise Usage(f"--node '{args.node}': use 1 to 32 letters, digits, '-' or '_'")
    if args.smoke:
        if args.engine == "afl":
            raise Usage("--smoke runs libFuzzer only; drop --engine afl")
        if args.time is not None:
            raise Usage("--smoke sets the time per job; use --per-job to change it")
        args.engine = "libfuzzer"
        args.workers = args.workers or 1
        args.per_job = args.per_job or SMOKE_SECONDS
        args.no_merge = True
    if args.throughput is not None:
        if args.engine == "afl":
            raise Usage("--throughput measures libFuzzer only; drop --engine afl")
        for opt, given in (("--time", args.time), ("--per-job", args.per_job),
                           ("--workers", args.workers)):
            if given is not None:
                raise Usage(f"--throughput takes its seconds as its own argument, not {opt}")
        args.engine = "libfuzzer"
    if args.coverage:
        for opt, given in (("--engine", args.engine), ("--time", args.time),
                           ("--per-job", args.per_job), ("--workers", args.workers),
                           ("--sync-dir", args.sync_dir), ("--level", args.level),
                           ("--json", args.json)):
            if given is not None:
                raise Usage(f"--coverage replays the corpus once, at hardening=standard: {opt} does not apply")
    if args.merge_only:
        for opt, given in (("--time", args.time), ("--per-job", args.per_job),
                           ("--workers", args.workers)):
            if given is not None:
                raise Usage(f"--merge-only fuzzes nothing: {opt} does not apply")
        if args.no_merge:
            raise Usage("--merge-only and --no-merge contradict each other")
    if args.sync_dir is not None and (args.engine or "libfuzzer") != "afl":
        raise Usage("--sync-dir is for AFL++ campaigns: add --engine afl")
    args.engine = args.engine or "libfuzzer"
    args.workers = args.workers or max(1, os.cpu_count() or 1)
    for t in args.target or []:
        if not re.fullmatch(r"fuzz_[a-z0-9_]+", t):
            raise Usage(f"--target '{t}': target names look like fuzz_alloc (known: {', '.join(TARGETS)})")
    if args.target:
        args.target = list(dict.fromkeys(args.target))
    args.levels = parse_levels(args.level) if args.level else list(LEVELS)
    # --app: the apps' jobs, at the levels asked for or at the default level (the one an app
    # ships with); the project's targets only when --target names some.
    args.apps = []
    if args.app:
        for opt, given in (("--throughput", args.throughput), ("--coverage", args.coverage or None),
                           ("--merge-only", args.merge_only or None)):
            if given is not None:
                raise Usage(f"--app runs in a campaign (or --smoke), not with {opt}")
        if args.engine == "afl":
            raise Usage("--app runs libFuzzer harnesses: drop --engine afl")
        args.apps = resolve_apps(args.app)
    args.app_levels = parse_levels(args.level) if args.level else [DEFAULT_LEVEL]
    args.project = bool(args.target) or not args.apps
    if args.target and not any(runs_at(t, lv) for t in args.target for lv in args.levels):
        raise Usage(f"nothing to run: {' and '.join(args.target)} not fuzzed at {', '.join(args.levels)} "
                    "(fuzz_corrupt never runs at off, where corrupted metadata is trusted by design)")
    return args
