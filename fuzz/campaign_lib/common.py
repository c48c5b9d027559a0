"""What every layer of fuzz/campaign shares: the repository, the targets and hardening levels,
the three ways a run ends early (Usage, Failure, Skipped), messages, and corpus file helpers.
Imports nothing of the package (the bottom layer)."""

import hashlib
import re
import shutil
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def listed_targets():
    """The fuzz targets in the order a campaign runs them: fuzz/targets.list, the list
    fuzz/meson.build builds (a target built in the fuzz build directory but missing there
    runs as well)."""
    lines = (REPO / "fuzz" / "targets.list").read_text().splitlines()
    return [t.strip() for t in lines if t.strip() and not t.lstrip().startswith("#")]


TARGETS = listed_targets()

# The hardening levels (meson -Dhardening=LEVEL), in the order a campaign runs them.
LEVELS = ("off", "standard", "paranoid")
# The level of the tools in build/ (the default build), of --coverage, and of the .txt programs
# written beside corpus inputs.
DEFAULT_LEVEL = "standard"
# fuzz_corrupt checks the fault model of the hardened levels; at -Dhardening=off corrupted
# metadata is trusted by design (README "Hardening"), so it is not fuzzed there (and
# fuzz/meson.build does not replay its inputs there either).
NOT_AT = {"fuzz_corrupt": {"off"}}


def runs_at(target, level):
    """Whether target is fuzzed at hardening level."""
    return level not in NOT_AT.get(target, ())


DEFAULT_TOTAL_SECONDS = 120
SMOKE_SECONDS = 8
THROUGHPUT_SECONDS = 10
THROUGHPUT_GOAL = 20000  # execs/s per target, one core, ASan
# Files in a corpus directory that are notes, not inputs (as fuzz/replay skips them).
NOTE_SUFFIXES = (".txt", ".md", ".dict", ".options")
CRASH_PREFIXES = ("crash-", "leak-", "timeout-", "oom-")


class Usage(Exception):
    """Bad options: one line on stderr, exit 2."""


class Failure(Exception):
    """A step failed: one line on stderr, exit 1."""


class Skipped(Exception):
    """Nothing to do on this machine (smoke without libFuzzer): exit 0."""


def say(msg):
    print(f"campaign: {msg}", file=sys.stderr, flush=True)


def shown(path):
    """A path as a command run from the repository root would take it."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def sha1(path):
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def inputs_in(directory):
    """The inputs of a corpus directory: regular files that are not notes or hidden."""
    d = Path(directory)
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir()
                  if p.is_file() and not p.name.startswith(".") and not p.name.endswith(NOTE_SUFFIXES))


# Inputs the campaign adds are named after their content (the first 16 hex digits of its
# SHA-1; fuzz/seeds knows the same rule): those are minimized away when they add no
# coverage. An input with any other name is a hand-written seed and always stays.
GENERATED_NAME = re.compile(r"[0-9a-f]{16}\.bin")


def is_generated(path):
    return GENERATED_NAME.fullmatch(Path(path).name) is not None


def stage(files, directory):
    """A fresh directory holding copies of files (fuzzers read whole directories)."""
    d = Path(directory)
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for f in files:
        shutil.copy(f, d / Path(f).name)
    return d


def readable_of(path):
    """The readable program beside an input: x.bin -> x.txt, x -> x.txt."""
    p = Path(path)
    return p.with_suffix(".txt") if p.suffix == ".bin" else p.with_name(p.name + ".txt")


def tail(path, lines=15):
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def fmt_int(n):
    return f"{int(round(n)):,}"


def plural(n, word, many=None):
    return f"{n} {word if n == 1 else (many or word + 's')}"


def exit_text(code):
    if isinstance(code, int) and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"
