"""The libFuzzer engine: N workers sharing one corpus directory, restarted after a crash; the
edge merge (libFuzzer -merge=1 read through its control file); a corpus's coverage (-runs=0)."""

import re
import shutil
import signal
import time
from pathlib import Path

from .common import CRASH_PREFIXES, Failure, inputs_in, say, shown, tail
from .procs import run_to_log, sanitizer_env

# "#1234\tNEW    cov: 812 ft: 3001 ..." (and "#1234: cov: ..." from -fork, should it come back)
STAT_LINE = re.compile(r"^#(\d+):?\s+(?:[A-Z]+\s+)?cov: (\d+) ft: (\d+)")


def parse_libfuzzer_log(log):
    stats = {"execs": 0, "cov": None, "ft": None, "execs_per_s": None}
    try:
        lines = Path(log).read_text(errors="replace").splitlines()
    except OSError:
        return stats
    for line in lines:
        m = STAT_LINE.match(line)
        if m:
            stats["execs"] = max(stats["execs"], int(m.group(1)))
            stats["cov"], stats["ft"] = int(m.group(2)), int(m.group(3))
        m = re.match(r"stat::number_of_executed_units: (\d+)", line)
        if m:
            stats["execs"] = max(stats["execs"], int(m.group(1)))
        m = re.match(r"stat::average_exec_per_sec: (\d+)", line)
        if m:
            stats["execs_per_s"] = int(m.group(1))
    return stats


MAX_RESTARTS = 20  # per worker: a crash ends a libFuzzer process; a new one takes its place


# A target with a custom mutator (fuzz/mutator_libfuzzer.c) runs with -len_control=0 unless told:
# inputs then grow to -max_len at once and a step of the campaign runs 2 to 5 times fewer of them.
# libFuzzer's usual length control (start short, grow when coverage stalls) is asked for by name.
LEN_CONTROL = "-len_control=100"


def libfuzzer_cmd(binary, seconds, crashes, dict_path, corpus_dirs):
    cmd = [binary, f"-max_total_time={max(1, int(round(seconds)))}", "-print_final_stats=1",
           "-timeout=10", "-rss_limit_mb=4096", LEN_CONTROL, f"-artifact_prefix={crashes}/"]
    if dict_path:
        cmd.append(f"-dict={dict_path}")
    return cmd + list(corpus_dirs)


def fuzz_libfuzzer(job, children, seconds, workers):
    """N independent libFuzzer processes sharing one corpus directory (each reloads what the
    others add), a crashed one replaced by a new one until the time is up. -fork=N does the
    same in one command but restarts its jobs every few seconds: on these targets it ran at
    less than half the executions of N plain processes."""
    say(f"{job.name}: libFuzzer, {workers} worker{'s' * (workers > 1)}, {seconds:g} s "
        f"(logs {shown(job.dir)}/libfuzzer-*.log)")
    env = sanitizer_env()
    start = time.monotonic()
    deadline = start + seconds
    runs = {}  # process -> (worker, run number, log)
    restarts = {}

    def launch(worker, run):
        log = job.dir / (f"libfuzzer-{worker}.log" if run == 1 else f"libfuzzer-{worker}.{run}.log")
        cmd = libfuzzer_cmd(job.binary, deadline - time.monotonic(), job.crashes, job.dict,
                            [job.work, job.seeds, job.seeds_regressions])
        runs[children.start(cmd, log, env)] = (worker, run, log, time.time())

    def exited(p):
        worker, run, log, started = runs[p]
        if p.returncode == 0 or children.interrupted or deadline - time.monotonic() < 2:
            return
        if not any(c.stat().st_mtime >= started - 1 for c in job.crashes.iterdir()
                   if c.name.startswith(CRASH_PREFIXES)):
            return  # ended without a crash file: an error, reported below, not a crash to go past
        if not re.search(r"^#\d+\s+INITED ", Path(log).read_text(errors="replace"), re.M):
            # a seed crashes: every new process would stop on it again
            job.notes.append(f"worker {worker} crashed while loading the corpus: a seed input crashes "
                             f"({shown(job.corpus)}/, {shown(job.regressions)}/), no fuzzing past it")
            return
        if job.app is not None and job.app.expects_crash(job.level):
            job.notes.append(f"worker {worker} stopped at the expected crash (fuzz/apps.list expect-crash)")
            return
        if restarts.get(worker, 0) >= MAX_RESTARTS:
            job.notes.append(f"worker {worker} stopped after {MAX_RESTARTS} restarts")
            return
        restarts[worker] = restarts.get(worker, 0) + 1
        launch(worker, run + 1)

    for w in range(1, workers + 1):
        launch(w, 1)
    children.wait(deadline + 120, on_exit=exited)
    job.ran = True
    job.elapsed = time.monotonic() - start
    execs = 0
    for p, (worker, run, log, _) in runs.items():
        st = parse_libfuzzer_log(log)
        execs += st["execs"]
        if st["cov"] is not None:
            job.coverage = f"cov {st['cov']}, ft {st['ft']}"  # until the corpus is measured
            job.coverage_json = {"cov": st["cov"], "ft": st["ft"]}
        if p.returncode not in (0, None, -signal.SIGINT, -signal.SIGKILL) and not children.interrupted \
                and not any(c.name.startswith(CRASH_PREFIXES) for c in job.crashes.iterdir()):
            job.errors.append(f"libFuzzer exited with status {p.returncode} and no crash file; "
                              f"log {shown(log)}:\n{tail(log)}")
    job.execs = execs
    job.execs_per_s = execs / job.elapsed if job.elapsed > 0 else 0.0
    if restarts:
        job.notes.append(f"libFuzzer restarted {sum(restarts.values())} time(s) after a crash")


# The corpus is merged on edges, not on libFuzzer's features: -use_counters=0 makes an edge one
# feature whatever its hit count, -use_value_profile=0 leaves out the comparison operands, and
# what decides is the control file's COV lines (the edges, i.e. the PCs of the coverage table,
# an input reaches first), not its FT lines (which also hold clang's stack-depth feature). The
# fuzzers rebuild the hit-count diversity within seconds.
MERGE_FLAGS = ["-merge=1", "-use_counters=0", "-use_value_profile=0"]


class MergeResult:
    """What an edge merge found: the candidate inputs that reach an edge that neither the
    baseline nor a smaller candidate kept before them reaches (smallest first, as libFuzzer
    orders them), and what became of the others."""

    def __init__(self):
        self.kept = []            # candidate paths, each reaching >= 1 new edge
        self.new_edges = {}       # path -> the edges it reaches first
        self.baseline_edges = 0   # edges the baseline reaches
        self.candidates = 0
        self.features_only = 0    # new libFuzzer features (stack depth), no new edge: dropped
        self.crashed = 0          # stopped the merge process (the crash file is in job.crashes)

    @property
    def edges_added(self):
        return sum(self.new_edges.values())

    @property
    def dropped(self):
        return self.candidates - len(self.kept)


def parse_control_file(path):
    """libFuzzer's merge control file: the number of files, the number of them in the first
    directory, one path a line, then per file processed 'STARTED i size', 'FT i features...'
    and 'COV i pcs...' (each inner process lists what it had not seen yet; after a crash a new
    inner process starts over, so a set is what counts)."""
    lines = Path(path).read_text(errors="replace").splitlines()
    try:
        n, n_first = int(lines[0]), int(lines[1])
    except (IndexError, ValueError):
        raise Failure(f"unreadable merge control file {shown(path)}")
    paths = lines[2:2 + n]
    ft, cov = {}, {}
    for line in lines[2 + n:]:
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("FT", "COV"):
            (ft if parts[0] == "FT" else cov)[int(parts[1])] = set(int(x) for x in parts[2:])
    return paths, n_first, ft, cov


def merge_edges(job, binary, baseline, sources, tag="merge"):
    """Runs libFuzzer -merge=1 -use_counters=0 -use_value_profile=0 with the baseline inputs as
    its first directory and the inputs of the sources directories after it, and reads from its
    control file which candidates reach new edges: a MergeResult."""
    result = MergeResult()
    first = job.dir / f"{tag}-first"
    if first.exists():
        shutil.rmtree(first)
    first.mkdir(parents=True)
    for i, f in enumerate(baseline):  # a corpus seed and a regression may share a name
        shutil.copy(f, first / f"{i:04d}-{Path(f).name}")
    dirs = [d for d in sources if inputs_in(d)]
    result.candidates = sum(len(inputs_in(d)) for d in dirs)
    if not dirs:
        return result
    control = job.dir / f"{tag}.control"
    if control.exists():
        control.unlink()  # libFuzzer would resume an old one
    log = job.dir / f"{tag}.log"
    cmd = ([binary] + MERGE_FLAGS
           + [f"-merge_control_file={control}", "-timeout=10", "-rss_limit_mb=4096",
              f"-artifact_prefix={job.crashes}/", first] + dirs)
    code = run_to_log(cmd, log, sanitizer_env())
    if code != 0 or not control.exists():
        raise Failure(f"{job.name}: libFuzzer -merge=1 failed ({code}); log {shown(log)}:\n{tail(log)}")
    paths, n_first, ft, cov = parse_control_file(control)
    seen = set()
    for i in range(n_first):
        seen |= cov.get(i, set())
    result.baseline_edges = len(seen)
    for i in range(n_first, len(paths)):
        if i not in cov:
            result.crashed += 1
            continue
        new = cov[i] - seen
        if new:
            seen |= new
            result.kept.append(Path(paths[i]))
            result.new_edges[Path(paths[i])] = len(new)
        elif ft.get(i):
            result.features_only += 1
    return result


def corpus_coverage(binary, dirs, log):
    """cov (edges) and ft (features) of a corpus: libFuzzer loads it and stops (-runs=0). An
    input that crashes is written beside the log (coverage-crash-...), not in the repository."""
    cmd = ([binary, "-runs=0", "-timeout=10", "-rss_limit_mb=4096",
            f"-artifact_prefix={Path(log).parent}/{Path(log).stem}-"]
           + [d for d in dirs if Path(d).is_dir()])
    run_to_log(cmd, log, sanitizer_env())
    m = None
    for line in Path(log).read_text(errors="replace").splitlines():
        m = re.match(r"#\d+\s+INITED cov: (\d+) ft: (\d+)", line) or m
    return {"cov": int(m.group(1)), "ft": int(m.group(2))} if m else None
