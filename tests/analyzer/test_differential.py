"""The differential test of issue 16: valground's verdicts against the
reference model of the rules (tests/analyzer/difflog.py), on hundreds of
seeded transcripts of every shape, read by the fast path in blocks of
several sizes and by the reference path (--plot's); and every address in
the text report found verbatim in the log.
Run: python3 tests/analyzer/test_differential.py [SEEDS] (meson: analyzer_differential).
"""

import io
import os
import random
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "profiling"))
sys.path.insert(0, HERE)

import difflog  # noqa: E402
from valground_lib import report_text  # noqa: E402
from valground_lib.model import Analyzer  # noqa: E402

SEEDS = range(1, 401)      # profiling/compare_reference uses seeds from 100000 on
ADDRESS_RE = re.compile(r"(?<![+\w])0x[0-9a-fA-F]+")


def analyze(text, plot=False, block_size=None):
    a = Analyzer(plot=plot, block_size=block_size)
    a.feed(io.BytesIO(text.encode()))
    return a.finish()


class Differential(unittest.TestCase):
    def test_verdicts_match_the_rules(self):
        rnd = random.Random(16)
        bad = []
        for seed in SEEDS:
            text = difflog.transcript(seed, sdk=seed % 2 == 0, lax=seed % 3 == 0)
            want = difflog.nonempty(difflog.verdicts(text)[0]), difflog.verdicts(text)[1]
            for plot, block in ((False, None), (False, rnd.choice([64, 333, 4096])), (seed % 5 == 0, None)):
                got = analyze(text, plot, block)
                if difflog.valground_verdicts(got) != want:
                    bad.append((seed, plot, block, difflog.valground_verdicts(got), want))
        self.assertEqual(bad[:1], [], f"{len(bad)} mismatches")

    def test_lean_gives_the_same_quiet_report(self):
        # valground -q without --json: Analyzer(lean=True) skips what that
        # report does not print; the report, warnings and exit status must
        # be those of the full analyzer (the transcripts, then the stored
        # logs); and render's shortcut for a quiet segment without findings
        # must give segment_lines' text
        texts = [difflog.transcript(seed, sdk=seed % 2 == 0, lax=seed % 3 == 0).encode() for seed in SEEDS]
        for d in ("golden", "fixtures"):
            for name in sorted(os.listdir(os.path.join(HERE, d))):
                if name.endswith(".log"):
                    with open(os.path.join(HERE, d, name), "rb") as f:
                        texts.append(f.read())
        rnd = random.Random(7)
        for k, text in enumerate(texts):
            block = rnd.choice([None, 64, 333, 4096])
            runs = []
            for lean in (False, True):
                a = Analyzer(block_size=block, lean=lean)
                a.feed(io.BytesIO(text))
                a.finish()
                runs.append((report_text.render(a, quiet=True), report_text.warning_lines(a),
                             a.exit_status(), a.exit_status(strict=True)))
                colors = k % 2 == 1
                self.assertEqual(report_text.render(a, quiet=True, colors=colors),
                                 report_text.render(a, quiet=True, colors=colors, shortcut=False), f"text {k}")
            self.assertEqual(runs[0], runs[1], f"text {k}, block {block}")

    def test_every_shape_is_exercised(self):
        seen = set()
        for seed in SEEDS:
            found, status = difflog.verdicts(difflog.transcript(seed, sdk=seed % 2 == 0, lax=seed % 3 == 0))
            for f in found.values():
                seen |= {k for k, v in f.items() if v}
            seen.add("exit %d" % status)
        self.assertEqual(seen, {"leaks", "warnings", "bad_frees", "twice", "persistent", "exit 0", "exit 1"})

    def test_addresses_in_the_report_are_in_the_log(self):
        for seed in SEEDS[:100]:
            text = difflog.transcript(seed, lax=seed % 3 == 0)
            # addresses spelled otherwise than the writers do, too
            text = re.sub(r"0x([0-9a-f]{6,})", lambda m: "0x00" + m.group(1).upper() if int(m.group(1), 16) % 3 == 0
                          else m.group(0), text)
            report = report_text.render(analyze(text))
            for addr in ADDRESS_RE.findall(report):
                self.assertIn(addr, text, f"seed {seed}")

    def test_addresses_of_every_finding_are_in_the_log(self):
        # faults, overlaps, blocks outside the heap: the stored logs
        for d in ("golden", "fixtures"):
            for name in sorted(os.listdir(os.path.join(HERE, d))):
                if not name.endswith(".log"):
                    continue
                with open(os.path.join(HERE, d, name), "rb") as f:
                    text = f.read()
                a = Analyzer()
                a.feed(io.BytesIO(text))
                report = report_text.render(a.finish())
                for addr in ADDRESS_RE.findall(report):
                    self.assertIn(addr.encode(), text, f"{d}/{name}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].isdigit():
        SEEDS = range(1, int(sys.argv.pop(1)) + 1)
    unittest.main()
