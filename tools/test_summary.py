"""Prints one closing line for a meson test run: "tests: N passed, N failed".

meson's own summary is a table; CI systems and people scanning a log look for
this plain form. Reads the JSON log meson writes (one object per line).
Usage: test_summary.py BUILD_DIR [SETUP]. Standard library only.
"""
import json
import sys
from pathlib import Path


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print("usage: test_summary.py BUILD_DIR [SETUP]", file=sys.stderr)
        return 2
    name = "testlog.json" if len(sys.argv) == 2 else f"testlog-{sys.argv[2]}.json"
    log = Path(sys.argv[1]) / "meson-logs" / name
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        print(f"test_summary.py: cannot read {log}: {err.strerror}", file=sys.stderr)
        return 2
    for number, line in enumerate(lines, 1):
        try:
            result = json.loads(line)["result"]
        except (ValueError, KeyError, TypeError):
            print(f"test_summary.py: {log}:{number}: not a meson test record", file=sys.stderr)
            return 2
        if result == "OK" or result == "EXPECTEDFAIL":
            counts["passed"] += 1
        elif result == "SKIP":
            counts["skipped"] += 1
        else:
            counts["failed"] += 1
    print(f"tests: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
