"""--coverage: fuzz/replay built with clang's source-based coverage (hardening=standard, one
build directory), corpus/ and fuzz/regressions/ replayed, an llvm-cov HTML report and one
summary line."""

import json
import os
import shutil
import subprocess
from pathlib import Path

from .build import BUILD_COVERAGE, ensure_base_tools, find_llvm_tool, meson_build, run_deps, run_logged
from .common import REPO, TARGETS, Failure, inputs_in, say, shown


def coverage(args, artifacts):
    ensure_base_tools()
    tools_needed = ("llvm-profdata", "llvm-cov")
    found = {n: find_llvm_tool(n) for n in tools_needed}
    if not shutil.which("clang") or not all(found.values()):
        run_deps()
        found = {n: find_llvm_tool(n) for n in tools_needed}
    if not shutil.which("clang") or not all(found.values()):
        missing = [n for n in ("clang",) + tools_needed if not (shutil.which(n) if n == "clang" else found[n])]
        raise Failure(f"coverage needs clang, llvm-profdata and llvm-cov ({', '.join(missing)} missing)")
    flags = "-fprofile-instr-generate -fcoverage-mapping"
    out = artifacts / "coverage"
    out.mkdir(parents=True, exist_ok=True)
    # meson runs the programs of its compiler checks: their profiles go to the artifacts too
    # (the environment is not part of the setup that .campaign-setup compares)
    os.environ["LLVM_PROFILE_FILE"] = str(out / "meson-checks-%p.profraw")
    meson_build(BUILD_COVERAGE, ["-Dbuildtype=debug", f"-Dc_args={flags}",
                                 "-Dc_link_args=-fprofile-instr-generate"],
                artifacts / "build.log", {"CC": "clang", "CXX": "clang++"}, targets=("fuzz/replay",))
    del os.environ["LLVM_PROFILE_FILE"]
    replay = BUILD_COVERAGE / "fuzz" / "replay"
    names = list(TARGETS)
    corpus_root = REPO / "corpus"
    if corpus_root.is_dir():
        names += sorted(d.name for d in corpus_root.iterdir()
                        if d.is_dir() and d.name.startswith("fuzz_") and d.name not in names)
    if args.target:
        names = args.target
    raw = out / "profraw"
    raw.mkdir(parents=True, exist_ok=True)
    status = 0
    replayed = 0
    for t in names:
        dirs = [d for d in (REPO / "corpus" / t, REPO / "fuzz" / "regressions" / t) if inputs_in(d)]
        if not dirs:
            say(f"{t}: no input in corpus/{t}/ or fuzz/regressions/{t}/")
            continue
        env = dict(os.environ)
        env["LLVM_PROFILE_FILE"] = str(raw / f"{t}-%p.profraw")
        r = subprocess.run([str(replay), "--target", t] + [str(d) for d in dirs], cwd=REPO, env=env,
                           capture_output=True, text=True, errors="replace")
        count = sum(len(inputs_in(d)) for d in dirs)
        if r.returncode != 0:
            status = 1
            say(f"{t}: replay failed (exit {r.returncode}): "
                + (r.stderr.strip().splitlines() or ["no message"])[-1])
        else:
            say(f"{t}: replayed {count} inputs ({', '.join(shown(d) + '/' for d in dirs)})")
        replayed += 1
    profraws = sorted(raw.glob("*.profraw"))
    if not profraws:
        raise Failure("no profile was written: nothing replayed (is corpus/ empty?)")
    profdata = out / "merged.profdata"
    log = artifacts / "coverage.log"
    run_logged([found["llvm-profdata"], "merge", "-sparse", "-o", profdata] + profraws, log,
               what="llvm-profdata merge")
    ignore = "(^/usr/|/tests/|/subprojects/)"
    html = out / "html"
    run_logged([found["llvm-cov"], "show", replay, f"-instr-profile={profdata}", "-format=html",
                f"-output-dir={html}", "-show-branches=count", "-show-line-counts-or-regions",
                f"-ignore-filename-regex={ignore}", "-project-title=hardalloc fuzz corpus"],
               log, what="llvm-cov show")
    r = subprocess.run([found["llvm-cov"], "export", str(replay), f"-instr-profile={profdata}",
                        "-summary-only"], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"llvm-cov export failed: {r.stderr.strip()}")
    data = json.loads(r.stdout)
    per_dir = {}
    for f in data["data"][0]["files"]:
        path = Path(f["filename"])
        try:
            rel = path.resolve().relative_to(REPO)
        except ValueError:
            continue
        top = rel.parts[0]
        s = f["summary"]
        acc = per_dir.setdefault(top, [0, 0, 0, 0])
        acc[0] += s["lines"]["covered"]
        acc[1] += s["lines"]["count"]
        acc[2] += s.get("branches", {}).get("covered", 0)
        acc[3] += s.get("branches", {}).get("count", 0)

    def pct(a, b):
        return f"{100.0 * a / b:.1f}%" if b else "n/a"

    def line_for(label, dirs):
        lc = sum(per_dir.get(d, [0] * 4)[0] for d in dirs)
        lt = sum(per_dir.get(d, [0] * 4)[1] for d in dirs)
        bc = sum(per_dir.get(d, [0] * 4)[2] for d in dirs)
        bt = sum(per_dir.get(d, [0] * 4)[3] for d in dirs)
        return (f"coverage {label}: lines {pct(lc, lt)} ({lc}/{lt}), "
                f"branches {pct(bc, bt)} ({bc}/{bt})")

    main_line = line_for("allocator/+wrappers/", ["allocator", "wrappers"])
    details = [line_for(f"{d}/", [d]) for d in sorted(per_dir)]
    (out / "summary.txt").write_text(main_line + "\n" + "\n".join(details) + "\n")
    say(f"HTML report: {shown(html / 'index.html')}  (per directory: {shown(out / 'summary.txt')})")
    print(main_line, flush=True)
    return status
