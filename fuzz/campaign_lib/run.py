"""The modes that fuzz or merge: the campaign itself (the default and --smoke, with the apps of
--app), --merge-only and --throughput. Each builds what it needs for the levels asked for, plans
the (target, level) jobs and reports through report.py."""

import time

from .afl import afl_queue_union, fuzz_afl
from .build import (build_afl, build_apps, build_libfuzzer, build_tools, discover_targets,
                    ensure_afl, ensure_base_tools, ensure_libfuzzer, libfuzzer_works)
from .common import (CRASH_PREFIXES, DEFAULT_TOTAL_SECONDS, NOT_AT, THROUGHPUT_GOAL, Failure,
                     fmt_int, inputs_in, is_generated, runs_at, say, shown, stage)
from .corpus import add_new_inputs, minimize
from .crashes import crash_files, process_crashes
from .jobs import Job
from .libfuzzer import corpus_coverage, fuzz_libfuzzer
from .procs import Children
from .report import report, throughput_table, write_json


def levels_needed(args):
    """The levels asked for at which a wanted target runs (no build for a level with no job)."""
    if not args.target:
        return list(args.levels)
    return [lv for lv in args.levels if any(runs_at(t, lv) for t in args.target)]


def fuzz_builds(args, artifacts, build_log, smoke=False):
    """{level: fuzz build directory} and {level: CmpLog build directory} of the engine."""
    ensure_base_tools()
    fuzz_dirs, cmplog_dirs = {}, {}
    if args.engine == "libfuzzer":
        ensure_libfuzzer(artifacts, smoke)
        for lv in levels_needed(args):
            fuzz_dirs[lv] = build_libfuzzer(build_log, lv)
    else:
        ensure_afl()
        for lv in levels_needed(args):
            fuzz_dirs[lv], cmplog_dirs[lv] = build_afl(build_log, lv)
    return fuzz_dirs, cmplog_dirs


def plan(targets, fuzz_dirs):
    """The (target, level) jobs, target by target, each level in order: a level where the target
    does not run (fuzz_corrupt at off) or was not built is left out."""
    pairs = []
    for t in targets:
        for lv, d in fuzz_dirs.items():
            if not runs_at(t, lv):
                say(f"{t} is not fuzzed at {lv} (corrupted metadata is trusted there by design)")
            elif (d / "fuzz" / t).is_file():
                pairs.append((t, lv))
    if not pairs:
        raise Failure("no (target, level) job to run")
    return pairs


def crash_tools(job, build_log):
    """replay and decode at the job's level, built only when the job has crashes."""
    try:
        return build_tools(build_log, job.level)
    except Failure as e:
        job.errors.append(f"crashes not triaged: the tools at {job.level} do not build: {e}")
        return None


def app_jobs(args, artifacts, build_log):
    """The --app jobs: each app at each of args.app_levels, its harness built in
    build-app-libfuzzer-LEVEL."""
    ensure_base_tools()
    ensure_libfuzzer(artifacts, args.smoke)
    jobs = []
    for lv in args.app_levels:
        d = build_apps(build_log, lv, args.apps)
        for app in args.apps:
            binary = app.binary(d)
            if not binary.is_file():
                raise Failure(f"{app.dir}: {shown(binary)} was not built")
            jobs.append((app, lv, binary))
    return sorted(jobs, key=lambda j: args.apps.index(j[0]))  # app by app, each level in order


def first_crash(job):
    """Seconds from the start of the job's fuzzers to its first crash file, or None."""
    times = [c.stat().st_mtime for c in job.crashes.iterdir() if c.name.startswith(CRASH_PREFIXES)]
    return max(0.0, min(times) - job.started) if times and job.started else None


def campaign(args, artifacts):
    build_log = artifacts / "build.log"
    fuzz_dirs, cmplog_dirs, merger_dirs, tools, pairs, targets = {}, {}, {}, None, [], []
    if args.project:
        fuzz_dirs, cmplog_dirs = fuzz_builds(args, artifacts, build_log, smoke=args.smoke)
        # The corpus is merged by libFuzzer whatever the engine when clang has it: one measure of
        # coverage (edges at the job's level), so that switching engines does not churn corpus/.
        # afl-cmin -e otherwise.
        if not args.no_merge:
            if args.engine == "libfuzzer":
                merger_dirs = fuzz_dirs
            elif libfuzzer_works(artifacts):
                merger_dirs = {lv: build_libfuzzer(build_log, lv) for lv in fuzz_dirs}
        tools = build_tools(build_log)  # standard: the corpus .txt programs, as fuzz/seeds writes them
        targets = discover_targets(list(fuzz_dirs.values()), args.target)
        pairs = plan(targets, fuzz_dirs)
    apps = app_jobs(args, artifacts, build_log) if args.apps else []
    per_job = args.per_job or (args.time or DEFAULT_TOTAL_SECONDS) / (len(pairs) + len(apps))
    jobs = [Job(t, lv, artifacts, args.engine, fuzz_dirs[lv] / "fuzz" / t,
                cmplog_dirs[lv] / "fuzz" / t if lv in cmplog_dirs else None, args.sync_dir,
                afl_build=fuzz_dirs[lv] if args.engine == "afl" else None) for t, lv in pairs]
    jobs += [Job(app.target, lv, artifacts, "libfuzzer", binary, app=app) for app, lv, binary in apps]
    plans = ["; ".join(f"{t} at {', '.join(lv for tt, lv in pairs if tt == t)}" for t in targets
                       if any(tt == t for tt, _ in pairs))]
    plans += [f"{app.target} ({app.dir.as_posix()}) at {', '.join(lv for a, lv, _ in apps if a is app)}"
              for app in args.apps]
    say(f"{len(jobs)} job{'s' * (len(jobs) != 1)} of {per_job:g} s: " + "; ".join(p for p in plans if p))
    children = Children()
    for job in jobs:
        if children.interrupted:
            job.notes.append("not run (interrupted)")
            continue
        job.refresh_seeds()
        job.started = time.time()
        if args.engine == "libfuzzer" or job.app:
            fuzz_libfuzzer(job, children, per_job, args.workers)
        else:
            fuzz_afl(job, children, per_job, args.workers, args)
        job.first_crash = first_crash(job)
        if not args.no_merge and not job.errors:
            try:
                found = job.work if args.engine == "libfuzzer" or job.app else afl_queue_union(job)
                if job.app:
                    merger = job.binary
                else:
                    merger = merger_dirs[job.level] / "fuzz" / job.target if job.level in merger_dirs else None
                add_new_inputs(job, found, merger if merger and merger.exists() else None, tools)
            except Failure as e:
                job.errors.append(f"corpus not updated: {e}")
        if args.engine == "libfuzzer" or job.app:
            # one measure for every run: the coverage at the job's level of the corpus as it now
            # stands (the workers' own last figures count only what each of them loaded)
            dirs = [stage(inputs_in(job.corpus), job.dir / "corpus-after")] if job.merged \
                else [job.seeds, job.work]
            cov = corpus_coverage(job.binary, dirs, job.dir / "coverage.log")
            if cov:
                job.coverage = f"cov {cov['cov']}, ft {cov['ft']}"
                job.coverage_json = cov
        if crash_files(job):
            if job.app:
                process_crashes(job, None, job.binary)
            else:
                level_tools = crash_tools(job, build_log)
                if level_tools:
                    process_crashes(job, level_tools, job.binary)
    return report(jobs, artifacts, args)


def merge_only(args, artifacts):
    build_log = artifacts / "build.log"
    fuzz_dirs, _ = fuzz_builds(args, artifacts, build_log)
    tools = build_tools(build_log)
    targets = discover_targets(list(fuzz_dirs.values()), args.target)
    status = 0
    results = []
    for t in targets:
        levels = [lv for lv, d in fuzz_dirs.items() if runs_at(t, lv) and (d / "fuzz" / t).is_file()]
        if not levels:
            continue
        jobs = [Job(t, lv, artifacts, args.engine, fuzz_dirs[lv] / "fuzz" / t) for lv in levels]
        first = jobs[0]
        if first.corpus_before == 0:
            say(f"{t}: corpus/{t}/ holds no input: nothing to minimize")
            continue
        hand = [f for f in inputs_in(first.corpus) if not is_generated(f)]
        before = {}
        if args.engine == "libfuzzer":
            before = {j.level: corpus_coverage(j.binary, [j.seeds], j.dir / "coverage-before.log")
                      for j in jobs}
        try:
            per_level = minimize(jobs, tools)
        except Failure as e:
            say(str(e))
            status = 1
            continue
        after = len(inputs_in(first.corpus))
        cov = []
        now = {}
        if args.engine == "libfuzzer":
            staged = stage(inputs_in(first.corpus), first.dir / "corpus-after")
            for j in jobs:
                now[j.level] = corpus_coverage(j.binary, [staged], j.dir / "coverage.log")
                b, n = before.get(j.level), now[j.level]
                if b and n:
                    cov.append(f"{j.level} cov {b['cov']} -> {n['cov']}")
        needs = ", ".join(f"{lv} {n}" for lv, n in per_level.items())
        skipped = [lv for lv in args.levels if lv in NOT_AT.get(t, ())]
        print(f"{t}: corpus/{t}/ {first.corpus_before} -> {after} inputs "
              f"({first.removed} removed, {len(hand)} hand-written kept; generated inputs the edges "
              f"need at {needs}" + (f"; {'; '.join(cov)}" if cov else "")
              + (f"; not at {', '.join(skipped)}" if skipped else "") + ")", flush=True)
        results.append({"target": t, "levels": levels, "corpus_before": first.corpus_before,
                        "corpus_after": after, "removed": first.removed, "hand_written": len(hand),
                        "generated_needed": per_level,
                        "coverage_before": before, "coverage_after": now})
    write_json(results, artifacts, "merge.json", args.json)
    return status


def throughput(args, artifacts):
    fuzz_dirs, _ = fuzz_builds(args, artifacts, artifacts / "build.log")
    targets = discover_targets(list(fuzz_dirs.values()), args.target)
    pairs = plan(targets, fuzz_dirs)
    children = Children()
    status = 0
    results = []
    for t, lv in pairs:
        job = Job(t, lv, artifacts, "libfuzzer", fuzz_dirs[lv] / "fuzz" / t)
        fuzz_libfuzzer(job, children, args.throughput, 1)
        crashed = bool(crash_files(job))
        if crashed or job.errors:
            status = 1
        say(f"{job.name}: {fmt_int(job.execs_per_s)} execs/s (1 libFuzzer worker, ASan+UBSan, "
            f"{job.elapsed:.0f} s, {fmt_int(job.execs)} execs, {job.coverage})")
        results.append({"target": t, "level": lv, "execs_per_s": round(job.execs_per_s),
                        "execs": job.execs, "seconds": round(job.elapsed, 1),
                        "coverage": job.coverage_json, "goal": THROUGHPUT_GOAL,
                        "met": job.execs_per_s >= THROUGHPUT_GOAL, "crashed": crashed,
                        "crashes": shown(job.crashes), "error": bool(job.errors)})
        if children.interrupted:
            break
    text = throughput_table(results)
    print(text, flush=True)
    (artifacts / "throughput.txt").write_text(text + "\n")
    write_json(results, artifacts, "throughput.json", args.json)
    return status
