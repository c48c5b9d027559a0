"""What a run prints and leaves behind: the table (one row per (target, level) job), the notes,
errors and crash groups under it, ARTIFACTS/summary.txt, summary.json, REPRODUCE, --json, and
the --throughput table."""

import json
import sys
from pathlib import Path

from .common import THROUGHPUT_GOAL, fmt_int, shown
from .crashes import crash_groups


def format_table(head, rows, left):
    """Columns padded to their widest cell, those in left aligned left, the others right."""
    rows = [head] + rows
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i in left else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def expected(job):
    """The job is an app's whose harness must crash at this level (fuzz/apps.list expect-crash)."""
    return job.app is not None and job.app.expects_crash(job.level)


def crashes_cell(job):
    n = len(job.crash_list)
    cell = str(n)
    if n:
        cell += f" ({len(crash_groups(job))} distinct{', expected' if expected(job) else ''})"
    elif expected(job) and job.ran:
        cell += " (one was expected)"
    if job.errors:
        cell += " + error"
    return cell


def merge_cells(job, args):
    """The kept column and the note that says why."""
    if job.merged:
        return str(job.kept), job.kept_note
    if not job.ran:
        return "-", "not run"
    corpus = f"{shown(job.corpus)}/" if job.app else "corpus/"
    if args.smoke:
        return "-", f"{corpus} left alone (--smoke)"
    if args.no_merge:
        return "-", f"{corpus} left alone (--no-merge)"
    if job.errors:
        return "-", f"{corpus} not updated (error below)"
    return "-", ""


def table(jobs, args):
    head = ["target", "level", "engine", "time", "execs", "execs/s", "coverage",
            "corpus before -> after", "kept", "crashes", "corpus note"]
    rows = []
    for j in jobs:
        corpus = f"{j.corpus_before} -> {j.corpus_after}"
        if j.merged:
            corpus += f" (+{j.added} -{j.removed})"
        kept, note = merge_cells(j, args)
        rows.append([j.target, j.level, j.engine, f"{j.elapsed:.0f} s", fmt_int(j.execs),
                     fmt_int(j.execs_per_s), j.coverage, corpus, kept, crashes_cell(j), note])
    return format_table(head, rows, left={0, 1, 2, 6, 7, 10})


def job_json(j, args):
    kept, note = merge_cells(j, args)
    return {
        "target": j.target, "level": j.level, "engine": j.engine, "seconds": round(j.elapsed, 1),
        "execs": j.execs, "execs_per_s": round(j.execs_per_s), "coverage": j.coverage_json,
        "corpus_before": j.corpus_before, "corpus_after": j.corpus_after,
        "kept": j.kept, "corpus_note": note, "merge": j.merge_json,
        "crashes": j.crash_list, "errors": j.errors, "notes": j.notes,
        "app": j.app.dir.as_posix() if j.app else None, "expect_crash": expected(j),
        "first_crash_seconds": None if j.first_crash is None else round(j.first_crash, 1),
    }


def write_json(data, artifacts, name, extra_file):
    text = json.dumps(data, indent=2) + "\n"
    (artifacts / name).write_text(text)
    if extra_file:
        Path(extra_file).write_text(text)


def report(jobs, artifacts, args):
    text = table(jobs, args)
    print(file=sys.stdout)
    print(text, flush=True)
    failed = False
    lines = []
    for j in jobs:
        for n in j.notes:
            lines.append(f"note: {j.name}: {n}")
        for e in j.errors:
            failed = True
            lines.append(f"error: {j.name}: {e}")
        groups = crash_groups(j)
        if expected(j) and j.ran and not groups and not j.errors:
            failed = True
            lines.append(f"error: {j.name}: no crash, and {j.app.dir.as_posix()} is marked expect-crash "
                         f"at {j.level} in fuzz/apps.list (its planted bug was not found)")
        if groups:
            failed = failed or not expected(j)
            what = "each with its .log" if j.app else "each with its .txt program and .log"
            lines.append(f"crashes: {j.name}: {len(j.crash_list)} input{'s' * (len(j.crash_list) > 1)}, "
                         f"{len(groups)} distinct (all in {shown(j.crashes)}/, {what}; one reproduce "
                         f"line each in {shown(artifacts / 'REPRODUCE')})"
                         + (f"; expected: fuzz/apps.list marks {j.app.dir.as_posix()} expect-crash"
                            if expected(j) else "")
                         + (f"; the first after {j.first_crash:.1f} s" if j.first_crash is not None else ""))
            for sig, members in groups:
                c = members[0]
                lines.append(f"  [{len(members)}x] {sig}")
                lines.append(f"      {c['reproduce']}")
                if not c["replay_fails"]:
                    lines.append(f"      (replay at {j.level} runs it clean: the failure shows under the "
                                 f"sanitizers: {c['sanitizer_reproduce']})" if c["sanitizer_reproduce"]
                                 else "      (it ran clean when run again)")
                if c["program"]:
                    lines.append(f"      program: {c['program']}")
    if lines:
        print("\n".join(lines), flush=True)
    if any(j.crash_list for j in jobs):
        with open(artifacts / "REPRODUCE", "w") as f:
            for j in jobs:
                for sig, members in crash_groups(j):
                    for c in members:
                        f.write(f"{c['reproduce']}   # {j.level}: {sig}\n")
    (artifacts / "summary.txt").write_text(text + "\n" + "\n".join(lines) + ("\n" if lines else ""))
    write_json([job_json(j, args) for j in jobs], artifacts, "summary.json", args.json)
    crashes = sum(len(j.crash_list) for j in jobs)
    wanted = sum(len(j.crash_list) for j in jobs if expected(j))
    added = sum(j.added for j in jobs if j.merged)
    corpus = f"; corpus/ +{added} input{'s' * (added != 1)}" if any(j.merged for j in jobs) else ""
    print(f"artifacts: {shown(artifacts)}  ({crashes} crash{'es' * (crashes != 1)}"
          f"{f', {wanted} expected' if wanted else ''}{corpus})", flush=True)
    return 1 if failed else 0


def throughput_table(results):
    """results: dicts with target, level, execs_per_s, crashed (--throughput)."""
    head = ["target", "level", "execs/s", f"goal {THROUGHPUT_GOAL:,}"]
    rows = []
    for r in results:
        pct = 100.0 * r["execs_per_s"] / THROUGHPUT_GOAL
        verdict = "met" if r["execs_per_s"] >= THROUGHPUT_GOAL else \
            f"not met ({pct:.{1 if pct < 10 else 0}f} %)"
        if r.get("crashed"):
            verdict += f"; CRASHED, see {r['crashes']}"
        elif r.get("error"):
            verdict += "; error (see the log)"
        rows.append([r["target"], r["level"], fmt_int(r["execs_per_s"]), verdict])
    return format_table(head, rows, left={0, 1, 3})
