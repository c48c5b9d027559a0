"""corpus/<target>/: which inputs a run adds (those reaching new edges at the job's level) or
--merge-only keeps, and how they are written (canonical HASH.bin with its decoded HASH.txt).
The hand-written seeds (any name but 16 hex digits .bin, each with its .txt) always stay."""

import hashlib
import shutil
import subprocess
from pathlib import Path

from .afl import merge_afl
from .common import REPO, exit_text, inputs_in, is_generated, plural, readable_of, sha1, stage
from .libfuzzer import merge_edges


def decode(tools, target, path, dest):
    """Writes the readable program of input path to dest. decode runs the program to annotate
    it, so on a crash input it stops where the crash does: line-buffered output (stdbuf) keeps
    every line printed before that."""
    cmd = [str(tools["decode"]), "--target", target, str(path)]
    if shutil.which("stdbuf"):
        cmd = ["stdbuf", "-oL"] + cmd
    try:
        r = subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=120)
        text, err, code = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        text, err, code = e.stdout or b"", b"timed out after 120 s", "timeout"
    text, err = text.decode(errors="replace"), err.decode(errors="replace")
    if code != 0:
        if text and not text.endswith("\n"):
            text += "\n"
        last = [ln for ln in err.splitlines() if ln.strip()][-1:] or ["no message"]
        text += f"# decode stopped ({exit_text(code)}): {last[0]}\n"
    Path(dest).write_text(text)


def canonical_input(tools, target, src, work):
    """The bytes encode writes for src's decoded program: the same program, in the form
    fuzz/seeds re-derives from the .txt (opcodes and slots reduced, a cut operation
    completed), so that NAME.bin is always encode(NAME.txt). src's bytes when that fails."""
    raw = Path(src).read_bytes()
    txt = work / "program.txt"
    decode(tools, target, src, txt)
    text = txt.read_text(errors="replace")
    if "# decode stopped" in text:
        return raw
    with open(txt, "rb") as f:
        r = subprocess.run([str(tools["encode"]), "--target", target], cwd=REPO, stdin=f,
                           capture_output=True, timeout=60)
    return r.stdout if r.returncode == 0 and r.stdout else raw


def write_back(job, kept, tools):
    """corpus/<target>/ becomes the kept set: a new input is written as HASH.bin (its canonical
    encoding) with its decoded program HASH.txt; a generated input the merge dropped goes, with
    its .txt; hand-written seeds always stay. An app's input (job.app; DIR/corpus/) is no
    program: its bytes as they are, no .txt. Sets job.added and job.removed."""
    corpus = job.corpus
    corpus.mkdir(parents=True, exist_ok=True)
    existing = {}
    for f in inputs_in(corpus):
        existing.setdefault(sha1(f), f)
    kept_by_hash = {}
    for f in kept:
        kept_by_hash.setdefault(sha1(f), f)
    removed = [f for h, f in existing.items() if h not in kept_by_hash and is_generated(f)]
    dups = [f for f in inputs_in(corpus) if f not in existing.values() and is_generated(f)]
    work = job.dir / "canonical"
    work.mkdir(exist_ok=True)
    added = []
    for h, src in sorted(kept_by_hash.items()):
        if h in existing:
            continue
        data = Path(src).read_bytes() if job.app else canonical_input(tools, job.target, src, work)
        ch = hashlib.sha1(data).hexdigest()
        if ch in existing or any(a.name == f"{ch[:16]}.bin" for a in added):
            continue
        dest = corpus / f"{ch[:16]}.bin"
        dest.write_bytes(data)
        if not job.app:
            decode(tools, job.target, dest, readable_of(dest))
        added.append(dest)
    for f in removed + dups:
        f.unlink()
        txt = readable_of(f)
        if txt.exists():
            txt.unlink()
    job.added, job.removed = len(added), len(removed) + len(dups)


def add_new_inputs(job, found, merger, tools):
    """After a job: adds to corpus/<target>/ the inputs of directory found that reach an edge
    that corpus/<target>/ and fuzz/regressions/<target>/ (the baseline every campaign seeds
    from and every replay test runs) do not reach at the job's level, minimized (libFuzzer's
    order: smallest first, each kept only when it still adds an edge). merger is the libFuzzer
    binary of the job's level, or None for afl-cmin -e. Nothing is removed (--merge-only does
    that). Sets job.kept, job.kept_note and job.merge_json."""
    existing = inputs_in(job.corpus)
    baseline = existing + inputs_in(job.regressions)
    candidates = len(inputs_in(found))
    if merger is not None:
        res = merge_edges(job, merger, baseline, [found])
        new = res.kept
        write_back(job, existing + new, tools)
        same = len(new) - job.added  # canonical form already in the corpus, or twice among the new
        why = f"new edges at {job.level}: +{res.edges_added}" if job.added else "no new edge"
        parts = [f"kept {job.added} ({why})"]
        if same:
            parts.append(f"{same} more reach new edges but encode like a corpus input")
        dropped = res.dropped - res.crashed
        if dropped:
            detail = "no new edge"
            if res.features_only:
                detail += f"; {res.features_only} only new libFuzzer features"
            parts.append(f"dropped {dropped} ({detail})")
        if res.crashed:
            parts.append(f"{plural(res.crashed, 'input')} crashed the merge")
        job.merge_json = {"method": "libfuzzer -merge=1 -use_counters=0 -use_value_profile=0",
                          "candidates": candidates, "kept": job.added,
                          "new_edges": res.edges_added, "baseline_edges": res.baseline_edges,
                          "dropped_no_new_edge": dropped, "dropped_features_only": res.features_only,
                          "same_encoding": same, "crashed": res.crashed}
    else:
        base_hashes = {sha1(f) for f in baseline}
        new = [f for f in merge_afl(job, baseline, [found]) if sha1(f) not in base_hashes]
        write_back(job, existing + new, tools)
        parts = [f"kept {job.added} (afl-cmin -e at {job.level})",
                 f"dropped {candidates - len(new)} (not in afl-cmin's set)"]
        job.merge_json = {"method": "afl-cmin -e", "candidates": candidates, "kept": job.added,
                          "dropped": candidates - len(new)}
    if not candidates:
        parts = ["kept 0 (the fuzzer added no input)"]
    job.kept = job.added
    job.kept_note = ", ".join(parts)
    job.merged = True
    job.corpus_after = len(inputs_in(job.corpus))


def minimize(jobs, tools):
    """--merge-only: jobs holds one job per level of one target, each with its binary. Keeps
    every hand-written seed, then each generated input that reaches, at one of the levels, an
    edge that the seeds, fuzz/regressions/<target>/ and the smaller generated inputs kept before
    it do not (a union over the levels, so that what a campaign added for its edges at paranoid
    or off does not go at standard). Returns {level: number of generated inputs it needs}."""
    first = jobs[0]
    hand = [f for f in inputs_in(first.corpus) if not is_generated(f)]
    generated = {f.name: f for f in inputs_in(first.corpus) if is_generated(f)}
    baseline = hand + inputs_in(first.regressions)
    keep = set()
    per_level = {}
    for job in jobs:
        staged = stage(generated.values(), job.dir / "corpus-generated")
        if job.engine == "libfuzzer":
            chosen = [Path(p).name for p in merge_edges(job, job.binary, baseline, [staged], "minimize").kept]
        else:
            hashes = {sha1(f): f.name for f in generated.values()}
            chosen = [hashes[sha1(f)] for f in merge_afl(job, baseline, [staged], "minimize")
                      if sha1(f) in hashes]
        per_level[job.level] = len(chosen)
        keep |= set(chosen)
    write_back(first, hand + [generated[n] for n in sorted(keep) if n in generated], tools)
    for job in jobs:
        job.corpus_after = len(inputs_in(job.corpus))
    return per_level
