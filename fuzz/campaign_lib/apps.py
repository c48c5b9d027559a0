"""Apps fuzzed on hardalloc (--app): a developer's module with a libFuzzer harness, kept in a
directory of its own, and fuzz/apps.list, the registry of those directories.

An app directory DIR (relative to the repository) named NAME holds:
    DIR/meson.build         builds the harness fuzz_NAME in the libFuzzer fuzz builds (subdir()'d
                            from meson: examples/meson.build for examples/records)
    DIR/corpus/             its seeds; a campaign adds the inputs that reach new edges there
    DIR/fuzz_NAME.dict      its libFuzzer dictionary (optional)
    DIR/regressions/        crash inputs of fixed bugs: seeds too, and replayed by its tests
                            (subdirectories are neither: inputs that still crash go there)

fuzz/apps.list: one app a line, `DIR [expect-crash[=LEVEL,...]]`. expect-crash marks an app whose
harness must crash (an example with a planted bug): its crashes then do not fail the run, and
a job at one of those levels (every level when none is named) that finds none does.
Imports only common."""

import re
from pathlib import Path

from .common import LEVELS, REPO, Usage, shown

APPS_LIST = REPO / "fuzz" / "apps.list"


class App:
    def __init__(self, directory, expect_crash=(), registered=True):
        self.dir = Path(directory)                    # relative to the repository
        self.name = self.dir.name
        self.target = f"fuzz_{self.name}"
        self.source = REPO / self.dir
        self.corpus = self.source / "corpus"
        self.regressions = self.source / "regressions"
        dict_path = self.source / f"{self.target}.dict"
        self.dict = dict_path if dict_path.is_file() else None
        self.expect_crash = set(expect_crash)         # levels at which the harness must crash
        self.registered = registered

    def binary(self, build_dir):
        return build_dir / self.dir / self.target

    def ninja_target(self):
        return f"{self.dir.as_posix()}/{self.target}"

    def expects_crash(self, level):
        return level in self.expect_crash


def parse_line(text, where):
    """An App from one line of fuzz/apps.list (`DIR [expect-crash[=L,L]]`)."""
    words = text.split()
    directory, marks = words[0].rstrip("/"), words[1:]
    if not re.fullmatch(r"[A-Za-z0-9_./-]+", directory) or ".." in Path(directory).parts \
            or Path(directory).is_absolute():
        raise Usage(f"{where}: '{directory}' is not a directory of the repository")
    expect = set()
    for mark in marks:
        m = re.fullmatch(r"expect-crash(?:=([a-z,]+))?", mark)
        if not m:
            raise Usage(f"{where}: unknown marker '{mark}' (known: expect-crash[=LEVEL,...])")
        levels = m.group(1).split(",") if m.group(1) else list(LEVELS)
        bad = [lv for lv in levels if lv not in LEVELS]
        if bad:
            raise Usage(f"{where}: expect-crash level '{bad[0]}' (the levels are {', '.join(LEVELS)})")
        expect |= set(levels)
    return App(directory, expect)


def listed_apps():
    """The apps of fuzz/apps.list, in its order."""
    if not APPS_LIST.is_file():
        return []
    apps = []
    for n, line in enumerate(APPS_LIST.read_text().splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            apps.append(parse_line(line, f"{shown(APPS_LIST)}:{n}"))
    return apps


def resolve_apps(values):
    """--app values (each `all`, a listed app's name or directory, or any other directory that
    holds a meson.build) -> Apps, each once, in the order given."""
    listed = listed_apps()
    chosen = []
    for value in values:
        if value == "all":
            if not listed:
                raise Usage(f"--app all: {shown(APPS_LIST)} lists no app")
            found = listed
        else:
            path = Path(value)
            if path.is_absolute():
                try:
                    path = path.resolve().relative_to(REPO)
                except ValueError:
                    raise Usage(f"--app {value}: not inside the repository {REPO}")
            key = path.as_posix().rstrip("/")
            found = [a for a in listed if key in (a.dir.as_posix(), a.name)]
            if not found:
                if not (REPO / key / "meson.build").is_file():
                    names = ", ".join(a.dir.as_posix() for a in listed) or "none"
                    raise Usage(f"--app {value}: no such app (listed in {shown(APPS_LIST)}: {names}; "
                                "an unlisted app is a directory holding a meson.build)")
                found = [parse_line(key, f"--app {value}")]
                found[0].registered = False
        for app in found:
            if all(app.dir != c.dir for c in chosen):
                chosen.append(app)
    return chosen
