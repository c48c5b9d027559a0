"""Differential tests of the block reader (profiling/valground_lib/stream.py).

The fast path (regions parsed by one findall, alloc and free applied inline,
line numbers found afterwards) must give exactly what the reference gives
(every event through model.Analyzer's methods, line numbers counted as read:
what --plot runs), on logs with every kind of line and fault, cut into blocks
of any size. Run: python3 tests/analyzer/test_stream.py (meson: analyzer_stream).
"""

import io
import os
import random
import re
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "profiling"))

from valground_lib import report_json  # noqa: E402
from valground_lib.model import Analyzer  # noqa: E402

STATUSES = ["PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS"]
NOISE = ["=> e00400001505", "<= 9000", "seproxyhal: printf: [ui] step 1/6", "INFO ragger tests/x.py::y",
         "PASSED but not a status line", "", "collecting ... ", "seproxyhal: button press left"]


def random_log(rnd, tests=6, events=300):
    """A pytest -s transcript with profiling lines, and faults of every kind;
    and the status each test segment must get (the first status after its
    test line, on that line or alone on a later one)."""
    out = [f"collecting ... collected {tests} items"]
    statuses = []

    def status_line(line):
        if statuses[-1] is None:
            statuses[-1] = re.match("[A-Z]+", line).group()
        out.append(line)
    prefix = ["", "seproxyhal: printf: ", "[app] "]
    for t in range(tests):
        name = f"tests/test_{t % 3}.py::test_{t}[p{t}]"
        if rnd.random() < 0.3:
            st = rnd.choice(STATUSES)
            out.append(f"{name} {st} [ 10%]")
            statuses.append(st)
        else:
            out.append(name + " ")
            statuses.append(None)
        base, size = 0x1000 * (1 + t % 2), 4096
        if rnd.random() < 0.9:
            out.append(f"{rnd.choice(prefix)}==MP init;0x{base:x};{size}")
        live, nxt = [], base + 8
        for k in range(events):
            r = rnd.random()
            p = rnd.choice(prefix)
            site = f"src/{rnd.choice('abc')}.c:{rnd.randrange(1, 40)}"
            if r < 0.40 and nxt < base + size - 64:
                n = rnd.randrange(1, 64)
                out.append(f"{p}==MP alloc;{n};0x{nxt:x};{site}")
                live.append(nxt)
                nxt += n + rnd.choice([0, 8, 16])
            elif r < 0.75 and live:
                out.append(f"{p}==MP free;0x{live.pop(rnd.randrange(len(live))):x};{site}")
            elif r < 0.78:
                out.append(f"{p}==MP persist;{rnd.randrange(1, 32)};0x{nxt:x};{site}")
                nxt += 40
            elif r < 0.80:                                  # overlap / duplicate address
                q = rnd.choice(live) if live else base
                out.append(f"{p}==MP alloc;{rnd.randrange(1, 300)};0x{q + rnd.randrange(0, 4):x};{site}")
            elif r < 0.805 and live:                        # last bytes on the next block's first
                n = rnd.randrange(1, 9)
                out.append(f"{p}==MP alloc;{n};0x{rnd.choice(live) - n + rnd.randrange(1, 3):x};{site}")
            elif r < 0.81:                                  # outside the heap
                out.append(f"{p}==MP alloc;16;0x{base + size + rnd.randrange(-8, 64):x};{site}")
            elif r < 0.82:                                  # double or invalid free
                out.append(f"{p}==MP free;0x{rnd.randrange(base, base + size):x};{site}")
            elif r < 0.83:                                  # re-init within the test
                out.append(f"{p}==MP init;0x{base:x};{size}")
                live, nxt = [], base + 8
            elif r < 0.835:                                 # a fault, its sites, or a bad fault line
                q = rnd.choice(live) if live else base + 8 * rnd.randrange(0, 512)
                known = rnd.choice(["live", "freed", "table-full", "unknown"])
                out.append(f"{p}==MP! fault;{rnd.randrange(1, 8)};0x{q:x};{known};some fault")
                if known in ("live", "freed") and rnd.random() < 0.8:
                    out.append(f"{rnd.choice(prefix)}==MP! site;alloc;0x{q:x};{site}")
                if known == "freed" and rnd.random() < 0.8:
                    out.append(f"{rnd.choice(prefix)}==MP! site;free;0x{q:x};src/x;y:z.c:{k}")
                if rnd.random() < 0.2:
                    out.append(p + "==MP! " + rnd.choice([
                        "fault;1;0x10", "fault;x;0x10;live;n", "site;alloc;0x10;a.c:1", "site;born;0x1;a.c:1",
                        "zap", "", "fault;5;0x10;live;n ==MP free;0x10;a.c:1"]))
                if rnd.random() < 0.1:
                    out.append(f"{name} {p}==MP! fault;4;0x{q:x};unknown;on the test line")
                    statuses.append(None)
            elif r < 0.86:                                  # malformed in many ways
                out.append(p + "==MP " + rnd.choice([
                    "alloc;12", "alloc;0;0x10;a.c:1", "alloc;012;0x1010;a.c:1", "free;0x;a.c:1",
                    "free;0x1010;a.c", "free;0X1010;a.c:3", "bogus;1", "init;0x10", "",
                    "alloc;5;0x1010;a.c:1;extra:x", "free;0x1010;a.c:7\r",
                    "alloc;4;0x1010;a.c:1 ==MP free;0x1010;b.c:2",
                    "alloc;4;0x1ffffffffffffffff0;a.c:1",       # wider than 64 bits
                    f"free;0x{live[-1] if live else base:021x};a.c:2"]))   # padded: parser's path
            elif r < 0.87:
                out.append(f"{name} {p}==MP free;0x{base:x};{site}")   # test name and event on one line
                statuses.append(None)
            elif r < 0.88:
                status_line(rnd.choice(STATUSES))
            else:
                out.append(rnd.choice(NOISE))
        if rnd.random() < 0.8:
            status_line(f"{rnd.choice(STATUSES)}{' ' * rnd.randrange(0, 5)}[{(t + 1) * 100 // tests:3d}%]")
    text = "\n".join(out)
    return (text + "\n" if rnd.random() < 0.5 else text), statuses   # sometimes no final newline


def run(text, block_size=None, reference=False, lines=False):
    a = Analyzer(plot=reference, block_size=block_size)
    data = text.encode()
    a.feed(io.BytesIO(data).readlines() if lines else io.BytesIO(data))
    a.finish()
    doc = report_json.document(a)
    return doc, a.malformed


class FastMatchesReference(unittest.TestCase):
    def test_random_logs_every_block_size(self):
        rnd = random.Random(20261128)
        faults = sites = 0
        for case in range(60):
            text, statuses = random_log(rnd, tests=rnd.randrange(1, 8), events=rnd.randrange(0, 400))
            want = run(text, reference=True)
            faults += want[0]["global"]["faults"]
            sites += sum(f["free_site"] is not None for seg in want[0]["segments"] for f in seg["faults"])
            # Lines are classified by the same code in both runs: the
            # statuses are checked against what the generator wrote.
            segs = want[0]["segments"]
            self.assertEqual(len(segs), len(statuses))
            self.assertEqual([seg["status"] for seg in segs], statuses)
            for block_size in (1, 7, 64, 1000, None):
                with self.subTest(case=case, block_size=block_size):
                    self.assertEqual(run(text, block_size), want)
            with self.subTest(case=case, input="lines"):
                self.assertEqual(run(text, 333, lines=True), want)
        self.assertGreater(faults, 100)     # the generator's fault lines were read as faults,
        self.assertGreater(sites, 10)       # and their site lines attached

    def test_a_log_that_shouts(self):
        # upper-case E and X on most lines: scan.StatusLines gives up on its
        # letters and finds the status lines with its regex
        rnd = random.Random(5)
        for case in range(10):
            text, statuses = random_log(rnd, tests=rnd.randrange(1, 8), events=rnd.randrange(100, 400))
            text = text.replace("\n", "\nEXIT CODE X\n")
            want = run(text, reference=True)
            self.assertEqual([seg["status"] for seg in want[0]["segments"]], statuses)
            for block_size in (64, None):
                with self.subTest(case=case, block_size=block_size):
                    self.assertEqual(run(text, block_size), want)

    def test_fast_and_slow_paths_agree(self):
        # (moved from test_valground.py) three tests of 2000 random allocs and frees
        rnd = random.Random(7)
        lines = ["collected 3 items"]
        for t in range(3):
            lines.append(f"t.py::test_{t} seproxyhal: printf: ==MP init;0x10000;65536")
            live, nxt = [], 0x10000
            for k in range(2000):
                if live and rnd.random() < 0.5:
                    p = live.pop(rnd.randrange(len(live)))
                    lines.append(f"==MP free;0x{p:x};f.c:{k % 7}")
                elif nxt < 0x10000 + 65000:
                    lines.append(f"==MP alloc;{1 + k % 30};0x{nxt:x};a.c:{k % 5}")
                    live.append(nxt)
                    nxt += 32
        text = "\n".join(lines) + "\n"
        fast, slow = run(text), run(text, reference=True)
        self.assertEqual(fast[0], slow[0])
        self.assertTrue(fast[0]["global"]["leaks"] > 0)

    def test_a_log_of_only_well_formed_lines_has_no_warning(self):
        rnd = random.Random(3)
        lines = ["==MP init;0x1000;65536"]
        live, nxt = [], 0x1008
        for k in range(5000):
            if live and rnd.random() < 0.5:
                lines.append(f"==MP free;0x{live.pop():x};f.c:{k}")
            else:
                lines.append(f"==MP alloc;{1 + k % 50};0x{nxt:x};a.c:{k}")
                live.append(nxt)
                nxt += 64
        doc, malformed = run("\n".join(lines) + "\n", block_size=4096)
        self.assertEqual(malformed, 0)
        self.assertEqual(run("\n".join(lines) + "\n", reference=True)[0], doc)
        leaks = doc["segments"][0]["leaks"]
        self.assertEqual(len(leaks), len(live))
        # the line numbers are the lines of the allocations (line 1 is the init)
        by_ptr = {int(line.split(";")[2], 16): n for n, line in enumerate(lines, 1) if "alloc" in line}
        self.assertEqual([l["line"] for l in leaks], sorted(by_ptr[p] for p in live))

    def test_line_numbers_across_blocks_and_files(self):
        text = "noise\n" * 5000 + "==MP init;0x100;64\n" + "x\n" * 3000 + "==MP alloc;8;0x108;a.c:1\n"
        for block_size in (10, 4096, None):
            a = Analyzer(block_size=block_size)
            a.feed(io.BytesIO(text.encode()), "one")
            a.feed(io.BytesIO(b"==MP bogus\n"), "two")
            a.finish()
            self.assertEqual(a.segments[0].leaks[0]["line"], 8002)
            self.assertEqual(a.warnings, [("two", 1, "unknown event 'bogus'")])


if __name__ == "__main__":
    unittest.main()
