"""Tests of profiling/valground_lib/scan.py: each fast replacement of a plain
call gives the plain call's answer.

Run: python3 tests/analyzer/test_scan.py  (meson: suite 'analyzer', test analyzer_scan)
"""

import io
import os
import random
import re
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "profiling"))

from valground_lib import scan  # noqa: E402


class ReadOnly:
    """A binary stream with read() and no readinto()."""

    def __init__(self, data):
        self.f = io.BytesIO(data)

    def read(self, n=-1):
        return self.f.read(n)


def random_text(rnd, lines, longest):
    out = []
    for _ in range(lines):
        n = rnd.choice([0, 1, 5, 40, longest])
        out.append(bytes(rnd.choice(b"ab \r=") for _ in range(n)) + b"\n")
    text = b"".join(out)
    return text[:-1] if rnd.random() < 0.5 else text


class Blocks(unittest.TestCase):
    def test_every_stream_kind_gives_the_text_in_whole_lines(self):
        rnd = random.Random(1)
        for case in range(40):
            longest = rnd.choice([3, 50, 3000])
            text = random_text(rnd, rnd.randrange(0, 200), longest)
            want = text if text.endswith(b"\n") or not text else text + b"\n"
            line_max = max((len(x) + 1 for x in text.split(b"\n")), default=1)
            for size in (1, 2, 7, 64, 1000, 1 << 20):
                for kind, stream in (("readinto", io.BytesIO(text)), ("read", ReadOnly(text)),
                                     ("lines", io.BytesIO(text).readlines())):
                    with self.subTest(case=case, size=size, kind=kind):
                        got = list(scan.blocks(stream, size))
                        self.assertEqual(b"".join(got), want)
                        for block in got:
                            self.assertTrue(block.endswith(b"\n"))
                            # memory: bounded by the block size and the longest line
                            self.assertLessEqual(len(block), 4 * max(size, line_max) + 2)

    def test_a_long_log_comes_in_many_blocks(self):
        text = b"==MP alloc;8;0x10;a.c:1\n" * 10000
        for stream in (io.BytesIO(text), ReadOnly(text)):
            got = list(scan.blocks(stream, 4096))
            self.assertGreater(len(got), 50)
            self.assertEqual(b"".join(got), text)

    def test_empty_stream(self):
        for stream in (io.BytesIO(b""), ReadOnly(b""), []):
            self.assertEqual(list(scan.blocks(stream, 64)), [])


class Newlines(unittest.TestCase):
    def test_same_count_as_bytes_count(self):
        rnd = random.Random(2)
        for case in range(30):
            text = random_text(rnd, rnd.randrange(0, 400), 2000)
            for _ in range(20):
                a = rnd.randrange(0, len(text) + 1)
                b = rnd.randrange(a, len(text) + 1)
                for piece in (7, 600, scan.NEWLINE_PIECE):
                    with self.subTest(case=case, a=a, b=b, piece=piece):
                        self.assertEqual(scan.newlines(text, a, b, piece), text.count(b"\n", a, b))


STATUS_RE = re.compile(rb"(?m)^(?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)")
LINES = [b"PASSED", b"FAILED [ 50%]", b"ERROR", b"SKIPPED (no device)", b"XFAIL", b"XPASS",
         b"PASSED but not on its own", b"  PASSED indented", b"xpassed", b"INFO Xyz", b"END OF TEXT",
         b"seproxyhal: printf: ==MP alloc;8;0x10;a.c:1", b"t.py::test_x FAILED", b"E   assert 0",
         b"", b"plain"]


def first_by_regex(text, pos):
    m = STATUS_RE.search(text, pos)
    return m.start() if m else len(text)


class StatusLinesTest(unittest.TestCase):
    def check(self, text):
        finder = scan.StatusLines(text)
        starts = [0] + [m.end() for m in re.finditer(rb"\n", text) if m.end() < len(text)]
        for pos in starts:          # increasing, as the reader asks
            self.assertEqual(finder.first(pos), first_by_regex(text, pos), pos)
        return finder

    def test_same_lines_as_a_regex(self):
        rnd = random.Random(3)
        for case in range(200):
            text = b"\n".join(rnd.choice(LINES) for _ in range(rnd.randrange(0, 60))) + b"\n"
            with self.subTest(case=case):
                self.check(text)

    def test_a_log_that_shouts_falls_back_to_the_regex(self):
        rnd = random.Random(4)
        lines = [rnd.choice([b"E: LOUD", b"EXTRA", b"INFO X"]) for _ in range(2000)]
        for k in (5, 700, 1500, 1999):
            lines[k] = rnd.choice(LINES[:6])
        finder = self.check(b"\n".join(lines) + b"\n")
        self.assertGreater(finder.misses, scan.StatusLines.MAX_MISSES)


if __name__ == "__main__":
    unittest.main()
