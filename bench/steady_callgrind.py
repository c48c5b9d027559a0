"""bench/steady under callgrind, shared by bench/instructions and bench/levels.

Python 3 standard library only. Collection is on inside measured_loop only
(--toggle-collect; bench/steady.c keeps that symbol un-inlined and
un-cloned), so the counts are those of the replayed alloc+free pairs.
"""

import os
import subprocess


class CallgrindError(Exception):
    pass


def run(steady, args, tmp, tag):
    """Runs steady with args under callgrind into tmp/callgrind.<tag>.

    Returns (path of the callgrind output, a warning line or None when some
    allocation failed); CallgrindError with valgrind's output when it fails."""
    out = os.path.join(tmp, "callgrind." + tag)
    cmd = ["valgrind", "--tool=callgrind", "--toggle-collect=measured_loop*",
           "--callgrind-out-file=" + out, steady] + args
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if r.returncode != 0:
        raise CallgrindError("%s failed:\n%s" % (" ".join(cmd), r.stdout))
    warn = None
    for line in r.stdout.splitlines():
        if " failed allocs" in line and " 0 failed allocs" not in line:
            warn = "%s: %s" % (tag, line.strip())
    return out, warn
