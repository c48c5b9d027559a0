"""The AFL++ engine: one -M main and -S secondaries (one with the CmpLog binary), the custom
mutator of a target when it is built, the union of the instances' queues, and afl-cmin -e for
the merge when libFuzzer is not there to do it."""

import os
import shutil
import subprocess
import time
from pathlib import Path

from .common import REPO, Failure, inputs_in, say, sha1, shown, tail


def read_fuzzer_stats(path):
    stats = {}
    try:
        for line in Path(path).read_text(errors="replace").splitlines():
            k, sep, v = line.partition(":")
            if sep:
                stats[k.strip()] = v.strip()
    except OSError:
        pass
    return stats


def afl_env(sync_shared):
    env = dict(os.environ)
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "MSAN_OPTIONS"):
        env.pop(k, None)  # afl-fuzz sets the options it needs (abort_on_error, symbolize=0)
    env.update({
        "AFL_NO_UI": "1",
        "AFL_SKIP_CPUFREQ": "1",
        "AFL_TRY_AFFINITY": "1",
        "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES": "1",
        "AFL_IMPORT_FIRST": "1",
    })
    if sync_shared:
        env["AFL_AUTORESUME"] = "1"
    return env


def afl_instances(workers, node):
    """(name, role flag, uses CmpLog) for this machine's instances."""
    if node:
        names = [(f"{node}-s{i}", "-S") for i in range(1, workers + 1)]
    else:
        names = [("main", "-M")] + [(f"s{i}", "-S") for i in range(1, workers)]
    # one instance with CmpLog: the first secondary, or the main when it is alone
    cmplog_index = 1 if len(names) > 1 and not node else 0
    return [(n, role, i == cmplog_index) for i, (n, role) in enumerate(names)]


# The instance that runs the CmpLog binary takes the custom mutator as well (afl-fuzz runs its
# input-to-state stage and the mutator's fuzz stage side by side); False leaves it to AFL++'s
# own mutations, should that combination ever break.
MUTATOR_WITH_CMPLOG = True


def custom_mutator(job):
    """The target's AFL++ custom mutator, <AFL++ build dir>/fuzz/mutator_<target>.so, when it is
    built and the environment does not say FUZZ_MUTATOR=plain."""
    if os.environ.get("FUZZ_MUTATOR") == "plain" or job.afl_build is None:
        return None
    lib = Path(job.afl_build) / "fuzz" / f"mutator_{job.target}.so"
    return lib if lib.is_file() else None


def fuzz_afl(job, children, seconds, workers, args):
    out = job.afl_out
    out.mkdir(parents=True, exist_ok=True)
    seeds_all = job.dir / "afl-in"
    seeds_all.mkdir(exist_ok=True)
    for src in inputs_in(job.seeds) + inputs_in(job.seeds_regressions):
        shutil.copy(src, seeds_all / src.name)
    if not inputs_in(seeds_all):
        (seeds_all / "empty.bin").write_bytes(b"\x0a\x00")  # AFL++ needs one input
    env = afl_env(args.sync_dir is not None)
    mutator = custom_mutator(job)
    if os.environ.get("FUZZ_MUTATOR") == "plain":
        env.pop("AFL_CUSTOM_MUTATOR_LIBRARY", None)
    elif mutator and "AFL_CUSTOM_MUTATOR_LIBRARY" not in env:
        env["AFL_CUSTOM_MUTATOR_LIBRARY"] = str(mutator)
        job.notes.append(f"AFL++ custom mutator {shown(mutator)}")
    instances = afl_instances(workers, args.node)
    say(f"{job.name}: AFL++, {len(instances)} instance{'s' * (len(instances) > 1)} "
        f"({', '.join(n + ' +CmpLog' * c for n, _, c in instances)}), {seconds:g} s, output {shown(out)}"
        + (f", custom mutator {mutator.name}" if "AFL_CUSTOM_MUTATOR_LIBRARY" in env and mutator else ""))
    # a resumed instance (shared sync dir) carries on counting: only this run's share counts
    previous = {name: read_fuzzer_stats(out / name / "fuzzer_stats") for name, _, _ in instances}
    start = time.monotonic()
    procs = []
    for name, role, cmplog in instances:
        cmd = ["afl-fuzz", role, name, "-i", seeds_all, "-o", out, "-V", str(max(1, int(round(seconds)))),
               "-t", "2000"]
        if job.dict:
            cmd += ["-x", job.dict]
        instance_env = env
        if cmplog:
            cmd += ["-c", job.cmplog_binary]
            if not MUTATOR_WITH_CMPLOG and mutator:
                instance_env = dict(env)
                instance_env.pop("AFL_CUSTOM_MUTATOR_LIBRARY", None)
        cmd += ["--", job.binary]
        procs.append((name, children.start(cmd, job.dir / f"afl-{name}.log", instance_env)))
        time.sleep(0.5)  # the main first, so that the secondaries find its directory
    children.wait(start + seconds + 120)
    job.ran = True
    job.elapsed = time.monotonic() - start
    execs, rate, best = 0, 0.0, None
    for name, p in procs:
        st = read_fuzzer_stats(out / name / "fuzzer_stats")
        if not st:
            job.errors.append(f"afl-fuzz {name} did not start (exit {p.returncode}); "
                              f"log {shown(job.dir / f'afl-{name}.log')}:\n{tail(job.dir / f'afl-{name}.log')}")
            continue
        prev = previous.get(name) or {}
        if int(st.get("execs_done", "0") or 0) < int(prev.get("execs_done", "0") or 0):
            prev = {}  # counting started again
        done = int(st.get("execs_done", "0") or 0) - int(prev.get("execs_done", "0") or 0)
        run_time = float(st.get("run_time", "0") or 0) - float(prev.get("run_time", "0") or 0)
        execs += max(0, done)
        rate += max(0, done) / run_time if run_time > 0 else 0.0
        edges = int(st.get("edges_found", "0") or 0)
        if best is None or edges > best[0]:
            best = (edges, st.get("total_edges", "?"), st.get("bitmap_cvg", "?"))
        for kind, prefix in (("crashes", "crash-"), ("hangs", "timeout-")):
            for f in sorted((out / name / kind).glob("id:*")):
                dest = job.crashes / f"{prefix}{sha1(f)}"
                if not dest.exists():
                    shutil.copy(f, dest)
    job.execs = execs
    job.execs_per_s = rate
    if best:
        job.coverage = f"edges {best[0]}/{best[1]} (map {best[2]})"
        job.coverage_json = {"edges_found": best[0], "total_edges": best[1], "bitmap_cvg": best[2]}


def afl_queue_union(job):
    """One flat directory of every instance's queue (all machines of a shared sync dir), deduplicated."""
    union = job.dir / "afl-queues"
    if union.exists():
        shutil.rmtree(union)
    union.mkdir()
    seen = set()
    for f in sorted(p for p in job.afl_out.glob("*/queue/id:*") if p.is_file()):
        h = sha1(f)
        if h not in seen:
            seen.add(h)
            shutil.copy(f, union / h)
    return union


def merge_afl(job, initial, sources, tag="merge"):
    """afl-cmin -e over the initial inputs and those of the sources directories: the inputs it
    keeps (afl-cmin has no notion of an initial corpus: the caller keeps those anyway)."""
    union = job.dir / f"{tag}-cmin-in"
    fresh = job.dir / f"{tag}-cmin-out"
    for d in (union, fresh):
        if d.exists():
            shutil.rmtree(d)
    union.mkdir()
    for f in list(initial) + [f for d in sources for f in inputs_in(d)]:
        shutil.copy(f, union / sha1(f))
    log = job.dir / f"{tag}.log"
    env = afl_env(False)
    env.update({"AFL_ALLOW_TMP": "1", "AFL_QUIET": "1"})
    cmd = ["afl-cmin", "-e", "-i", union, "-o", fresh, "-t", "5000", "--", job.binary]
    with open(log, "w") as f:
        f.write(f"$ {' '.join(map(str, cmd))}\n")
        f.flush()
        r = subprocess.run([str(c) for c in cmd], cwd=REPO, env=env, stdout=f,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    kept = inputs_in(fresh)
    if r.returncode != 0 or not kept:
        raise Failure(f"{job.name}: afl-cmin failed (exit {r.returncode}); log {shown(log)}:\n{tail(log)}")
    return kept
