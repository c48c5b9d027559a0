"""Fuzzer processes: started in sessions of their own, stopped as groups at their deadline or on
Ctrl-C, and the orphans they leave (AFL++'s CmpLog forkserver children) reaped, this process
being their subreaper."""

import os
import signal
import subprocess
import time
from pathlib import Path

from .common import REPO, say


def subreaper():
    """Makes this process the one that orphaned descendants (fuzzers' children) return to."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def child_pids():
    me = os.getpid()
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(me):
            pids.append(int(d.name))
    return pids


class Children:
    """Fuzzer processes, each in a session of its own so that they can be stopped as a group."""

    def __init__(self):
        self.procs = []
        self.interrupted = False
        subreaper()

    def start(self, cmd, log, env):
        f = open(log, "w")
        f.write(f"$ {' '.join(map(str, cmd))}\n")
        f.flush()
        p = subprocess.Popen([str(c) for c in cmd], cwd=REPO, env=env, stdout=f,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        p.log_file = f
        self.procs.append(p)
        return p

    def signal_all(self, sig, exited_too=False):
        for p in self.procs:
            if exited_too or p.poll() is None:
                try:
                    os.killpg(p.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    def wait(self, deadline, on_exit=None):
        """Waits for every process; past the deadline (or on Ctrl-C) asks them to stop, then kills.
        on_exit(process) runs once for each process that ends by itself, and may start others."""
        seen = set()
        try:
            while any(p.poll() is None for p in self.procs) or \
                    (on_exit and any(p.pid not in seen for p in self.procs)):
                for p in list(self.procs):
                    if on_exit and p.pid not in seen and p.poll() is not None:
                        seen.add(p.pid)
                        on_exit(p)
                if time.monotonic() > deadline:
                    say("fuzzers still running past their time: stopping them")
                    self.stop()
                    break
                time.sleep(0.2)
        except KeyboardInterrupt:
            self.interrupted = True
            say("interrupted: stopping the fuzzers, then reporting what they found (Ctrl-C again to abort)")
            self.stop()
        self.signal_all(signal.SIGKILL, exited_too=True)
        self.end_orphans()
        for p in self.procs:
            p.log_file.close()
        self.procs = []

    def end_orphans(self):
        """AFL++ 4.04c leaves its CmpLog forkserver's persistent child stopped (in a session
        of its own) when it exits, still holding the lock of its output directory. This
        process is their subreaper (subreaper()), so they come back to it: end and reap them,
        by process id."""
        mine = {p.pid for p in self.procs}
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 0.5:
            orphans = [pid for pid in child_pids() if pid not in mine]
            for pid in orphans:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError, PermissionError):
                    pass
            if orphans:
                quiet_since = time.monotonic()
            time.sleep(0.1)

    def stop(self):
        self.signal_all(signal.SIGINT)
        end = time.monotonic() + 10
        while any(p.poll() is None for p in self.procs) and time.monotonic() < end:
            time.sleep(0.2)
        self.signal_all(signal.SIGKILL)
        for p in self.procs:
            p.wait()


def sanitizer_env():
    env = dict(os.environ)
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    return env


def run_to_log(cmd, log, env=None, timeout=None):
    """Runs cmd (from the repository root, no input) with its output written to log, after a
    '$ cmd' line; the return code ("timeout" when it ran past timeout seconds)."""
    with open(log, "w") as f:
        f.write(f"$ {' '.join(map(str, cmd))}\n")
        f.flush()
        try:
            r = subprocess.run([str(c) for c in cmd], cwd=REPO, env=env, stdout=f,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timeout"
    return r.returncode
