"""Crashes: each crash input of a job gets its decoded program, the sanitizer's report, a one-line
signature (the same for every input hitting the same bug) and a reproduce command with the tools
of the job's hardening level; an app's crash (apps.py) is replayed by its harness, which is also
its reproduce command."""

import os
import re
import subprocess
from pathlib import Path

from .common import CRASH_PREFIXES, REPO, shown
from .corpus import decode

FRAME = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ in (\S+) (\S+?)(?::(\d+))?(?::\d+)?$")
# The default fault handler's line (mem_default_fault), the app wrappers' sites at its end:
# "hardalloc: double free at 0x... in heap 0x... (allocated at app.c:42, first freed at app.c:57)"
FAULT_LINE = re.compile(r"^hardalloc: (.+?) at (?:0x[0-9a-f]+|\(nil\)) in heap (?:0x[0-9a-f]+|\(nil\))(.*)$")


def crash_signature(text):
    """What a crash is, in one line that is the same for every input hitting the same bug:
    the violated invariant, or the sanitizer's summary, or the first frame in this repository."""
    lines = text.splitlines()
    for ln in lines:
        m = re.search(r"invariant '[^']*' violated", ln)
        if m:
            return m.group(0)

    def rel(path):
        try:
            return str(Path(path).resolve().relative_to(REPO))
        except (ValueError, OSError):
            return None

    for ln in lines:
        m = FAULT_LINE.match(ln.strip())
        if m:  # a fault the heap reported (before any sanitizer's summary: it is what happened)
            return f"hardalloc: {m.group(1)}" + re.sub(r"(?<=[ (])(?:\.\./)+", "", m.group(2))

    first_frame = None
    for ln in lines:
        m = FRAME.match(ln)
        if m and rel(m.group(2)) and not rel(m.group(2)).startswith("fuzz/afl_driver"):
            first_frame = f"{m.group(1)} {rel(m.group(2))}" + (f":{m.group(3)}" if m.group(3) else "")
            break
    for ln in lines:
        m = re.match(r"SUMMARY: (\w+Sanitizer): (\S+)", ln)
        if m:
            kind = m.group(2)
            if "leaked" in ln:
                kind = "memory leak"
            return f"{m.group(1)}: {kind}" + (f" in {first_frame}" if first_frame else "")
    for ln in lines:
        m = re.search(r"ERROR: libFuzzer: ([\w -]+)", ln)
        if m:
            return f"libFuzzer: {m.group(1).strip()}" + (f" in {first_frame}" if first_frame else "")
    if first_frame:
        return f"crash in {first_frame}"
    last = [ln.strip() for ln in lines if ln.strip()]
    return last[-1][:120] if last else "no message"


def run_crash(cmd, timeout, cwd):
    """Runs a crash input; cwd is a scratch directory: a libFuzzer binary given a file writes the
    crash it reproduces there (./crash-<sha1>), which must not land in the repository."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "handle_abort=1:handle_sigill=1:symbolize=1:detect_leaks=1"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    try:
        r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return "timeout", f"ERROR: libFuzzer: timeout (no end after {timeout} s)"


def crash_files(job):
    return sorted(c for c in job.crashes.iterdir()
                  if c.is_file() and c.name.startswith(CRASH_PREFIXES) and c.suffix not in (".txt", ".log"))


def process_crashes(job, tools, fuzz_binary):
    """Decoded program, reproduce command and signature of every crash file; tools are those
    (replay, decode) built at the job's level. An app's crash (job.app, tools None) is run again
    by its harness, which is its reproduce command."""
    scratch = job.dir / "rerun"
    scratch.mkdir(exist_ok=True)
    if job.app:
        for c in crash_files(job):
            code, text = run_crash([fuzz_binary, c], 60, scratch)
            (c.with_name(c.name + ".log")).write_text(text)
            job.crash_list.append({
                "file": shown(c), "size": c.stat().st_size, "program": None,
                "signature": crash_signature(text),
                "reproduce": f"{shown(fuzz_binary)} {shown(c)}",
                "replay_fails": code != 0, "sanitizer_reproduce": None,
            })
        return
    for c in crash_files(job):
        program = c.with_name(c.name + ".txt")
        decode(tools, job.target, c, program)
        replay_code, _ = run_crash([tools["replay"], "--target", job.target, c], 60, scratch)
        code, text = run_crash([fuzz_binary, c], 60, scratch)
        signature = crash_signature(text)
        if c.name.startswith("timeout-") and code != "timeout":
            signature = f"timeout (not reproduced: {signature})"
        (c.with_name(c.name + ".log")).write_text(text)
        job.crash_list.append({
            "file": shown(c),
            "size": c.stat().st_size,
            "program": shown(program),
            "signature": signature,
            "reproduce": f"{shown(tools['replay'])} --target {job.target} {shown(c)}",
            "replay_fails": replay_code != 0,
            "sanitizer_reproduce": f"{shown(fuzz_binary)} {shown(c)}",
        })


def crash_groups(job):
    """Crashes by signature, the smallest input first in each; most frequent signature first."""
    groups = {}
    for c in job.crash_list:
        groups.setdefault(c["signature"], []).append(c)
    for g in groups.values():
        g.sort(key=lambda c: (c["size"], c["file"]))
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
