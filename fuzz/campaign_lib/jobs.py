"""A job: one target (or an app's harness, apps.py) fuzzed at one hardening level, its
directories in the artifacts directory (ARTIFACTS/<target>/<level>/) and what the run found out
about it."""

import shutil
from pathlib import Path

from .common import REPO, Usage, inputs_in, shown


class Job:
    def __init__(self, target, level, artifacts, engine, binary, cmplog_binary=None, sync_dir=None,
                 afl_build=None, app=None):
        self.target = target
        self.level = level
        self.engine = engine
        self.name = f"{target} at {level}"
        self.dir = artifacts / target / level
        if self.dir.exists() and any(self.dir.iterdir()):
            raise Usage(f"{shown(self.dir)} is not empty: give another --artifacts directory")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.cmplog_binary = cmplog_binary
        self.afl_build = afl_build            # AFL++: the build directory (custom mutators)
        self.app = app                         # an apps.App, or None for the project's targets
        if app:
            self.corpus, self.regressions, self.dict = app.corpus, app.regressions, app.dict
        else:
            self.corpus = REPO / "corpus" / target  # shared by the levels
            self.regressions = REPO / "fuzz" / "regressions" / target
            dict_path = REPO / "corpus" / f"{target}.dict"
            self.dict = dict_path if dict_path.is_file() else None
        self.work = self.dir / "new"           # libFuzzer writes the inputs it finds here
        self.seeds = self.dir / "seeds"        # corpus/<target> inputs only (no .txt)
        self.seeds_regressions = self.dir / "seeds-regressions"
        self.crashes = self.dir / "crashes"
        self.afl_out = (Path(sync_dir) / target / level) if sync_dir else self.dir / "afl"
        for d in (self.work, self.crashes):
            d.mkdir(exist_ok=True)
        self.refresh_seeds()
        self.elapsed = 0.0
        self.started = None                    # wall clock when the fuzzers started
        self.first_crash = None                # seconds from then to the first crash file
        self.execs = 0
        self.execs_per_s = 0.0
        self.coverage = "n/a"
        self.coverage_json = {}
        self.crash_list = []
        self.errors = []
        self.notes = []
        self.added = self.removed = 0
        self.merged = False
        self.ran = False
        # the corpus merge: how many inputs it kept and why (report.py shows it)
        self.kept = None                       # inputs written to corpus/<target>/
        self.kept_note = ""                    # "kept 2 (new edges at paranoid: +9), dropped 57 (no new edge)"
        self.merge_json = {}

    def refresh_seeds(self):
        """Copies corpus/<target>/ and fuzz/regressions/<target>/ as they are now into the job's
        seed directories: called again just before the job runs, so that it starts from what
        the target's jobs at the levels before it added."""
        for src, dest in ((self.corpus, self.seeds), (self.regressions, self.seeds_regressions)):
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir()
            for f in inputs_in(src):
                shutil.copy(f, dest / f.name)
        self.corpus_before = len(inputs_in(self.corpus))
        self.corpus_after = self.corpus_before
