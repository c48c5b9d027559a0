"""Pinning a measured command to one CPU with taskset.

Shared by bench/run and profiling/bench_speed. Python 3 standard library only.
"""

import os
import shutil
import subprocess


class PinError(Exception):
    """The CPU asked for is not one this process may run on (one line)."""


def allowed_cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return []


def pin_prefix(cpu=None):
    """(prefix, note): prefix is ["taskset", "-c", N] to put before the command, or []
    when pinning cannot work here; note says which ("pinned to CPU N (taskset)" or
    "unpinned (why)").

    cpu: the CPU asked for (default: the last one this process may use);
    PinError when it is not one of them. taskset is tried once on `true`
    first, because it can be refused (a container without CAP_SYS_NICE, a CPU
    gone offline): a benchmark then runs unpinned rather than not at all."""
    allowed = allowed_cpus()
    if cpu is not None and allowed and cpu not in allowed:
        raise PinError("CPU %d is not one of the CPUs allowed here: %s" % (cpu, allowed))
    if cpu is None:
        if not allowed:
            return [], "unpinned (no CPU affinity information)"
        cpu = allowed[-1]
    taskset = shutil.which("taskset")
    if taskset is None:
        return [], "unpinned (taskset not found: util-linux)"
    prefix = [taskset, "-c", str(cpu)]
    try:
        ok = subprocess.run(prefix + ["true"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        ok = False
    if not ok:
        return [], "unpinned (taskset -c %d refused)" % cpu
    return prefix, "pinned to CPU %d (taskset)" % cpu
