#!/usr/bin/env python3
"""Runs a command and passes only when it exits with the expected status and
its output contains the expected text: the self-test image's failure modes
must end QEMU with their own status (tests/cortex-m/board.h), not merely a
non-zero one (a QEMU that cannot start is non-zero too).

usage: expect_status.py STATUS TEXT -- COMMAND [ARG...]
"""

import subprocess
import sys


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    want, text, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[4:]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, errors="replace")
    sys.stdout.write(r.stdout)
    ok = r.returncode == want and text in r.stdout
    print("expect_status: exit status %d (expected %d), %r %s" % (
        r.returncode, want, text, "found" if text in r.stdout else "NOT found"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
