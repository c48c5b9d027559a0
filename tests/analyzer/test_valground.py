"""Unit tests of profiling/valground (standard library unittest).

Run: python3 tests/analyzer/test_valground.py  (meson: suite 'analyzer', test analyzer_unit)
"""

import io
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROFILING = os.path.join(ROOT, "profiling")
VALGROUND = os.path.join(PROFILING, "valground")
sys.path.insert(0, PROFILING)

from valground_lib import parse, layout  # noqa: E402
from valground_lib.cli import main  # noqa: E402
from valground_lib.model import Analyzer  # noqa: E402
from valground_lib.plot import MISSING  # noqa: E402


def analyze(text, plot=False):
    a = Analyzer(plot=plot)
    a.feed(io.BytesIO(text.encode()))
    return a.finish()


def run_cli(args, text=""):
    out, err = io.StringIO(), io.StringIO()
    status = main(args, stdin=io.BytesIO(text.encode()), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


CLEAN = """==MP init;0x1000;1000
==MP alloc;100;0x1010;a.c:1
==MP alloc;200;0x1080;a.c:2
==MP free;0x1010;a.c:3
==MP free;0x1080;a.c:4
"""


class ParseTests(unittest.TestCase):
    def test_events(self):
        self.assertEqual(parse.parse_event(b"init;0x5611f2e1c040;8192"), ("init", 0x5611f2e1c040, 8192))
        self.assertEqual(parse.parse_event(b"alloc;128;0x10;app.c:12"), ("alloc", 128, 0x10, b"app.c:12"))
        self.assertEqual(parse.parse_event(b"persist;1;0x10;x.c:1"), ("persist", 1, 0x10, b"x.c:1"))
        self.assertEqual(parse.parse_event(b"free;0x10;app.c:31"), ("free", 0x10, b"app.c:31"))

    def test_site_with_separators_splits_at_last_colon(self):
        self.assertEqual(parse.parse_event(b"alloc;8;0x10;C:\\a;b:c.c:42")[3], b"C:\\a;b:c.c:42")
        self.assertEqual(parse.parse_event(b"free;0x10;...ng/path/app.c:42")[2], b"...ng/path/app.c:42")

    def test_malformed(self):
        for bad in (b"alloc;12", b"alloc;x;0x10;a.c:1", b"alloc;1;10;a.c:1", b"alloc;1;0xzz;a.c:1",
                    b"free;0x10", b"free;0x10;a.c", b"free;0x10;a.c:x", b"init;0x10", b"bogus;1",
                    b"init;0x10;-5", b"", b"alloc;1;0x-10;a.c:1", b"free;0x+1_0;a.c:1", b"free;0x 10;a.c:1",
                    b"alloc;18446744073709551616;0x10;a.c:1", b"init;0x10000000000000000;64"):
            with self.assertRaises(parse.ParseError, msg=bad):
                parse.parse_event(bad)

    def test_numbers_up_to_64_bits(self):
        top = (1 << 64) - 1
        self.assertEqual(parse.parse_event(b"alloc;%d;0x%x;a.c:1" % (top, top)), ("alloc", top, top, b"a.c:1"))
        self.assertEqual(parse.parse_event(b"free;0x%020x;a.c:1" % top)[1], top)   # leading zeros

    def test_split_event(self):
        self.assertEqual(parse.split_event(b"seproxyhal: printf: ==MP free;0x1;a:1\n"),
                         (b"seproxyhal: printf: ", b"free;0x1;a:1"))
        self.assertEqual(parse.split_event(b"==MP init;0x1;2\r\n"), (b"", b"init;0x1;2"))
        self.assertIsNone(parse.split_event(b"MP free"))

    def test_fault_lines(self):
        self.assertEqual(parse.parse_fault(b"fault;5;0x10;live;buffer overflow (tail canary)"),
                         ("fault", 5, 0x10, "live", "buffer overflow (tail canary)"))
        self.assertEqual(parse.parse_fault(b"fault;3;0x10;freed;double free"), ("fault", 3, 0x10, "freed", "double free"))
        self.assertEqual(parse.parse_fault(b"site;alloc;0x10;C:\\a;b:c.c:42"), ("site", "alloc", 0x10, b"C:\\a;b:c.c:42"))
        self.assertEqual(parse.parse_fault(b"site;free;0x10;...t/x.c:7"), ("site", "free", 0x10, b"...t/x.c:7"))
        for bad in (b"fault;5;0x10;live", b"fault;x;0x10;live;n", b"fault;5;16;live;n", b"fault;5;0x10;maybe;n",
                    b"site;alloc;0x10", b"site;born;0x10;a.c:1", b"site;free;0x10;a.c", b"zap;1", b""):
            with self.subTest(bad=bad):
                self.assertRaises(parse.ParseError, parse.parse_fault, bad)

    def test_split_fault(self):
        self.assertEqual(parse.split_fault(b"seproxyhal: printf: ==MP! fault;4;0x0;unknown;x\r\n"),
                         (b"seproxyhal: printf: ", b"fault;4;0x0;unknown;x"))
        # the first marker decides: an event whose site holds the fault marker is an event
        self.assertIsNone(parse.split_fault(b"==MP alloc;8;0x10;a==MP! b.c:1\n"))
        self.assertIsNone(parse.split_event(b"==MP! fault;4;0x0;unknown;x\n"))

    def test_pytest_lines(self):
        self.assertEqual(parse.parse_test_line(b"tests/t.py::test_a PASSED [ 20%]\n"), ("test_a", "PASSED"))
        self.assertEqual(parse.parse_test_line(b"t.py::TestC::test_b[p-1] "), ("TestC::test_b[p-1]", None))
        self.assertIsNone(parse.parse_test_line(b"FAILED tests/t.py::test_a - boom"))
        # the SDK tool's rule: `test_`, `::` and `[` anywhere, never a `collected` line
        self.assertEqual(parse.parse_test_line(b"FAILED tests/t.py::test_a[x] - boom"), ("test_a[x]", "FAILED"))
        self.assertEqual(parse.parse_test_line(b"collecting ... tests/test_a.py::test_x[nanos] "),
                         ("test_x[nanos]", None))
        self.assertEqual(parse.parse_test_line(b"INFO run test_x::y[1]"), ("test_x::y[1]", None))
        self.assertIsNone(parse.parse_test_line(b"collected 3 items test_::["))
        self.assertIsNone(parse.parse_test_line(b"INFO ragger x.py::y"))
        self.assertEqual(parse.parse_status_line(b"PASSED\n"), "PASSED")
        self.assertEqual(parse.parse_status_line(b"FAILED [100%]\n"), "FAILED")
        self.assertIsNone(parse.parse_status_line(b"FAILED tests/t.py::x - e\n"))
        self.assertEqual(parse.parse_collected(b"collected 5 items\n"), 5)
        self.assertEqual(parse.parse_collected(b"collected 1 item\n"), 1)


class ModuleTests(unittest.TestCase):
    def test_no_import_cycle(self):
        # every import between the package's modules, wherever it sits (a
        # function-level import is an edge too): the graph must be acyclic
        import ast
        pkg = os.path.join(PROFILING, "valground_lib")
        names = {f[:-3] for f in os.listdir(pkg) if f.endswith(".py")}
        edges = {}
        for name in names:
            with open(os.path.join(pkg, name + ".py")) as f:
                tree = ast.parse(f.read())
            deps = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 1:
                    if node.module:
                        deps.add(node.module.split(".")[0])
                    else:
                        deps.update(a.name for a in node.names if a.name in names)
            edges[name] = deps & names
        self.assertNotIn("model", edges["stream"])
        self.assertIn("stream", edges["model"])
        state = {}

        def visit(n, path):
            if state.get(n) == 1:
                self.fail("import cycle: " + " -> ".join(path + [n]))
            if state.get(n) == 2:
                return
            state[n] = 1
            for m in sorted(edges[n]):
                visit(m, path + [n])
            state[n] = 2
        for n in sorted(names):
            visit(n, [])


class FindingTests(unittest.TestCase):
    def test_clean_figures(self):
        a = analyze(CLEAN)
        s = a.segments[0]
        self.assertEqual((s.name, s.total_allocated, s.max_live, s.allocations), ("log", 300, 300, 2))
        self.assertEqual(s.heap_size, 1000)
        self.assertAlmostEqual(s.max_live_percent, 30.0)
        self.assertEqual(a.exit_status(), 0)
        self.assertEqual(s.gap_at_end, 1000)
        self.assertEqual(s.gap_at_peak, 1000 - 0x80 - 200)  # after the second block
        self.assertEqual([r["site"] for r in s.peak_sites], ["a.c:2", "a.c:1"])

    def test_leak(self):
        a = analyze("==MP init;0x1000;1000\n==MP alloc;40;0x1010;a.c:7\n==MP alloc;8;0x1040;a.c:7\n")
        s = a.segments[0]
        self.assertEqual([(l["ptr"], l["size"], l["site"], l["line"]) for l in s.leaks],
                         [(0x1010, 40, "a.c:7", 2), (0x1040, 8, "a.c:7", 3)])
        self.assertEqual(s.leak_sites(), [{"site": "a.c:7", "count": 2, "bytes": 48}])
        self.assertEqual(a.exit_status(), 1)

    def test_persistent_is_not_a_leak(self):
        a = analyze("==MP init;0x1000;1000\n==MP persist;64;0x1010;p.c:1\n")
        s = a.segments[0]
        self.assertEqual(s.leaks, [])
        self.assertEqual(len(s.persistent), 1)
        self.assertEqual(a.exit_status(), 0)

    def test_double_and_invalid_free(self):
        # the fast path reads a free's site again only when the free is bad:
        # the whole site, separators and all, on both paths
        text = ("==MP init;0x1000;1000\n==MP alloc;4;0x1010;a.c:1\n==MP free;0x1010;a.c:2\n"
                "==MP free;0x1010;C:\\x;y:b.c:3\n==MP free;0x1200;a.c:4\n")
        for plot in (False, True):
            a = analyze(text, plot)
            s = a.segments[0]
            self.assertEqual([(f["ptr"], f["line"], f["site"]) for f in s.double_frees],
                             [(0x1010, 4, "C:\\x;y:b.c:3")])
            self.assertEqual([(f["ptr"], f["line"], f["site"]) for f in s.invalid_frees],
                             [(0x1200, 5, "a.c:4")])
            self.assertEqual(a.exit_status(), 1)

    def test_overlap_and_outside_heap(self):
        a = analyze("==MP init;0x1000;256\n==MP alloc;64;0x1010;a.c:1\n==MP alloc;8;0x1020;a.c:2\n"
                    "==MP alloc;8;0x1010;a.c:3\n==MP alloc;512;0x1080;a.c:4\n==MP alloc;4;0x500;a.c:5\n")
        s = a.segments[0]
        # the same address again is no overlap but a finding of its own
        self.assertEqual([(o["ptr"], o["with"]) for o in s.overlaps], [(0x1020, 0x1010)])
        self.assertEqual([(t["ptr"], t["size"], t["site"], t["first_size"], t["first_site"], t["first_line"])
                          for t in s.allocated_twice], [(0x1010, 8, "a.c:3", 64, "a.c:1", 2)])
        self.assertEqual([o["ptr"] for o in s.outside_heap], [0x1080, 0x500])

    def test_reinit_same_test_warns_new_test_leaks(self):
        a = analyze("collected 2 items\nt.py::test_a \n==MP init;0x1000;100\n==MP alloc;4;0x1010;a.c:1\n"
                    "==MP init;0x1000;100\n==MP alloc;8;0x1010;a.c:2\nPASSED\n"
                    "t.py::test_b \n==MP init;0x1000;100\nPASSED\n")
        a_seg, b_seg = a.segments
        self.assertEqual((a_seg.name, a_seg.status, b_seg.name, b_seg.status),
                         ("test_a", "PASSED", "test_b", "PASSED"))
        self.assertEqual([w["site"] for w in a_seg.reinit_warnings], ["a.c:1"])
        self.assertEqual([l["site"] for l in a_seg.leaks], ["a.c:2"])
        self.assertEqual(b_seg.leaks, [])

    def test_prefix_and_test_name_on_the_same_line(self):
        a = analyze("t.py::test_x seproxyhal: printf: ==MP init;0x10;64\n"
                    "seproxyhal: printf: ==MP alloc;4;0x10;a.c:1\nnoise ==MP free;0x10;a.c:2\n")
        self.assertEqual(len(a.segments), 1)
        s = a.segments[0]
        self.assertEqual((s.name, s.allocations, s.max_live, s.leaks), ("test_x", 1, 4, []))

    def test_malformed_lines_counted_not_fatal(self):
        a = analyze("==MP free;0x10;a.c:1\n==MP init;0x10;64\n==MP alloc;4;0x1\n==MP zap;1\n==MP alloc;9z;0x10;a:1\n")
        self.assertEqual(a.malformed, 4)
        self.assertEqual([w[1] for w in a.warnings], [1, 3, 4, 5])
        self.assertEqual(a.exit_status(), 0)
        self.assertEqual(a.exit_status(strict=True), 1)

    def test_addresses_beyond_64_bits_are_malformed(self):
        # They used to reach the overlap check past model.END_SENTINEL: a traceback.
        huge = "0x" + "f" * 70
        text = (f"==MP init;0x1000;100\n==MP alloc;10;{huge};a.c:1\n==MP free;{huge};a.c:2\n"
                f"==MP init;{huge};100\n==MP alloc;99999999999999999999999999;0x1010;a.c:3\n")
        for plot in (False, True):
            a = analyze(text, plot)
            self.assertEqual([w[1] for w in a.warnings], [2, 3, 4, 5])
            self.assertEqual(a.segments[0].allocations, 0)

    def test_faults_with_their_sites(self):
        text = ("collected 2 items\nt.py::test_a \n==MP init;0x1000;1000\n==MP alloc;4;0x1010;a.c:1\n"
                "==MP free;0x1010;a.c:2\nPASSED\nt.py::test_b \n==MP alloc;4;0x1020;b;c:d.c:3\n"
                "seproxyhal: printf: ==MP! fault;5;0x1020;live;buffer overflow (tail canary)\n"
                "seproxyhal: printf: ==MP! site;alloc;0x1020;b;c:d.c:3\n"
                "==MP! fault;3;0x1010;freed;double free\n==MP! site;alloc;0x1010;a.c:1\n"
                "==MP! site;free;0x1010;a.c:2\n==MP! fault;4;0xdead;unknown;invalid pointer\n"
                "==MP! fault;5;0x1030;table-full;buffer overflow (tail canary)\n"
                "==MP! fault;3;0x1040;freed;double free\n==MP! site;free;0x1040;e.c:5\n"
                "==MP free;0x1020;b.c:4\nFAILED\n")
        for plot in (False, True):
            a = analyze(text, plot)
            first, second = a.segments
            self.assertEqual(first.faults, [])
            self.assertFalse(first.failed)
            self.assertEqual([(f["code"], f["name"], f["ptr"], f["known"], f["alloc_site"], f["free_site"], f["line"])
                              for f in second.faults],
                             [(5, "buffer overflow (tail canary)", 0x1020, "live", "b;c:d.c:3", None, 9),
                              (3, "double free", 0x1010, "freed", "a.c:1", "a.c:2", 11),
                              (4, "invalid pointer", 0xdead, "unknown", None, None, 14),
                              (5, "buffer overflow (tail canary)", 0x1030, "table-full", None, None, 15),
                              (3, "double free", 0x1040, "freed", None, "e.c:5", 16)])
            # a fault is no heap event: the block state and the counts are the log's
            self.assertEqual((second.allocations, second.leaks, second.double_frees), (1, [], []))
            self.assertTrue(second.failed)
            self.assertEqual(a.total_faults, 5)
            self.assertEqual(a.malformed, 0)
            self.assertEqual(a.exit_status(), 1)

    def test_a_fault_alone_fails_the_run(self):
        a = analyze("==MP init;0x1000;1000\n==MP! fault;4;0x5;unknown;invalid pointer\n")
        self.assertEqual((a.total_leaks, a.total_bad_frees, a.total_faults), (0, 0, 1))
        self.assertEqual(a.exit_status(), 1)

    def test_stray_and_malformed_fault_lines_are_warnings(self):
        text = ("==MP! site;alloc;0x10;a.c:1\n==MP! fault;4;0x10;unknown;invalid pointer\n"
                "==MP! site;alloc;0x20;a.c:1\n==MP! site;free;0x10;a.c:2\n==MP! site;free;0x10;a.c:3\n"
                "==MP! fault;4;0x10;sure;x\n==MP! boom\n")
        for plot in (False, True):
            a = analyze(text, plot)
            self.assertEqual([w[1] for w in a.warnings], [1, 3, 5, 6, 7])
            self.assertEqual(len(a.segments[0].faults), 1)
            self.assertEqual(a.segments[0].faults[0]["free_site"], "a.c:2")

    def test_fault_on_a_test_line_belongs_to_that_test(self):
        a = analyze("collected 2 items\nt.py::test_a \nPASSED\n"
                    "t.py::test_b seproxyhal: printf: ==MP! fault;4;0x10;unknown;invalid pointer\nPASSED\n")
        self.assertEqual([(s.name, len(s.faults)) for s in a.segments], [("test_a", 0), ("test_b", 1)])

    def test_bad_input_issue_16(self):
        text = ("==MP init;0x1000;0\n==MP init;0x2000;256\n"
                "==MP alloc;8;0x2010;a.c:1 seproxyhal: printf: ==MP free;0x2010;a.c:2\n"
                "==MP alloc;4096;0x2040;a.c:3\n==MP alloc;0;0x2080;a.c:4\n==MP alloc;9;0x0;a.c:5\n"
                "==MP persist;16;0x0;a.c:6\n")
        for plot in (False, True):
            a = analyze(text, plot)
            self.assertEqual([w[1] for w in a.warnings], [1, 3, 4, 5])
            self.assertIn("two ==MP events on one line", a.warnings[1][2])
            self.assertIn("larger than the heap", a.warnings[2][2])
            s = a.segments[0]
            # the split line: the alloc and its free, neither swallowed into a site
            self.assertEqual((s.allocations, s.failed_allocations), (3, 2))
            self.assertEqual([l["ptr"] for l in s.leaks], [0x2040, 0x2080])
            self.assertEqual(a.exit_status(strict=True), 1)

    def test_what_the_sdk_tool_reads_is_read_and_warned(self):
        # numbers in any base int(x, 0) takes, a field after the last one,
        # a site without its line: the SDK's tool applies those events, so
        # valground does (same verdicts), with one warning per line
        notes = []
        self.assertEqual(parse.parse_event(b"alloc;0x20;3665428528;src/b.c;x", notes=notes),
                         ("alloc", 32, 3665428528, b"src/b.c"))
        self.assertEqual(len(notes), 4)
        self.assertEqual(parse.parse_event(b"init;0XDA7A0000;4_096;tag", notes=[]), ("init", 0xDA7A0000, 4096))
        for bad in (b"alloc;-5;0x10;a.c:1", b"free;-0x10;a.c:1", b"alloc;1;0x10000000000000000;a.c:1",
                    b"alloc;0x;0x10;a.c:1", b"alloc;16;0x10", b"init;0x10"):
            with self.assertRaises(parse.ParseError, msg=bad):
                parse.parse_event(bad, notes=[])
        text = ("==MP init;0x1000;1024;extra\n==MP alloc;0x10;4112;a.c:1\n==MP alloc;8;0X1100;b.c\n"
                "==MP free;0x1010;a.c:2;more\n==MP alloc;-4;0x1200;c.c:3\n")
        for plot in (False, True):
            a = analyze(text, plot)
            self.assertEqual([w[1] for w in a.warnings], [1, 2, 3, 4, 5])
            self.assertIn("0X1100", a.warnings[2][2])
            self.assertIn("site is not <file>:<line>", a.warnings[2][2])
            self.assertIn("negative", a.warnings[4][2])
            s = a.segments[0]
            self.assertEqual([(l["ptr"], l["size"], l["site"], l["addr"]) for l in s.leaks],
                             [(0x1100, 8, "b.c", "0X1100")])
            self.assertEqual((s.allocations, s.invalid_frees, s.double_frees), (2, [], []))
            self.assertEqual((a.exit_status(), a.malformed), (1, 5))
        status, out, err = run_cli(["-q"], text)
        self.assertIn("LEAK: 8 bytes at 0X1100 (heap+0x100)", out)
        self.assertIn("valground: warning: line 2: size b'0x10' read as 16, as the SDK's tool reads it; "
                      "pointer b'4112' read as 4112", err)

    def test_owner_rules(self):
        # a test without an init writes into the previous test's heap
        # segment: its blocks are that test's leaks when another test's init
        # (or its own, later) closes it; a persistent block is listed at the
        # segment's end, unless freed; a re-init in the owner test warns
        text = ("collected 3 items\nt.py::test_a[1] \n==MP init;0x1000;256\n==MP persist;8;0x1010;p.c:1\n"
                "==MP persist;8;0x1020;p.c:2\n==MP free;0x1020;p.c:3\nPASSED\n"
                "t.py::test_b[2] \n==MP alloc;4;0x1030;b.c:1\n==MP init;0x1000;512\n==MP alloc;4;0x1040;b.c:2\n"
                "==MP init;0x1000;512\nPASSED\nt.py::test_c[3] \n==MP alloc;4;0x1050;c.c:1\n"
                "==MP alloc;4;0x1050;c.c:2\n==MP free;0x1060;c.c:3\n")
        for plot in (False, True):
            a = analyze(text, plot)
            sa, sb, sc = a.segments
            self.assertEqual([l["ptr"] for l in sa.leaks], [0x1030])
            self.assertEqual([p["ptr"] for p in sa.persistent], [0x1010])
            self.assertEqual([w["ptr"] for w in sb.reinit_warnings], [0x1040])
            self.assertEqual([l["ptr"] for l in sb.leaks], [0x1050])
            self.assertEqual([t["ptr"] for t in sb.allocated_twice], [0x1050])
            self.assertEqual([f["ptr"] for f in sb.invalid_frees], [0x1060])
            self.assertEqual((sc.leaks, sc.allocations), ([], 2))

    def test_offsets_and_percent_against_their_own_heap(self):
        text = ("==MP init;0x1000;1000\n==MP alloc;500;0x1010;a.c:1\n==MP init;0x8000;100\n"
                "==MP alloc;10;0x8010;a.c:2\n")
        s = analyze(text).segments[0]
        self.assertAlmostEqual(s.max_live_percent, 50.0)
        self.assertEqual([(w["addr"], w["offset"]) for w in s.reinit_warnings], [("0x1010", 0x10)])
        self.assertEqual([(l["addr"], l["offset"]) for l in s.leaks], [("0x8010", 0x10)])
        out = run_cli([], "==MP init;0x1000;100\n==MP alloc;4;0x0000101C;a.c:1\n")[1]
        self.assertIn("LEAK: 4 bytes at 0x0000101C (heap+0x1c) allocated at a.c:1 (log line 2)", out)

    def test_top_sites_are_the_plain_definition(self):
        # top_sites sorts with itemgetter and stable sorts for speed: it must
        # give the plain definition's rows (the `limit` largest by value, ties
        # by bytes; shown by value, ties by text), also with sites whose bytes
        # are not UTF-8 (two that decode alike), and more sites than the limit
        from valground_lib.model import Segment, site_str

        def plain(sites, key, limit=10):
            k = 0 if key == "count" else 1
            best = sorted(sites.items(), key=lambda kv: (-kv[1][k], kv[0]))[:limit]
            rows = [{"site": site_str(s), "count": c, "bytes": b} for s, (c, b) in best]
            rows.sort(key=lambda r: (-r[key], r["site"]))
            return rows
        rnd = random.Random(5)
        pool = [b"a.c:1", b"\xff.c:1", b"\xfe.c:1", b"\xc3\xa9.c:3", b"z:9", b"A:1"] + [b"s%d:1" % i for i in range(20)]
        for _ in range(3000):
            seg = Segment(1, "t")
            for s in rnd.sample(pool, rnd.randrange(0, 25)):
                seg.sites[s] = [rnd.randrange(1, 4), rnd.randrange(1, 5)]
            for key in ("bytes", "count"):
                self.assertEqual(seg.top_sites(key), plain(seg.sites, key), seg.sites)

    def test_largest_gap(self):
        blocks = {0x10: (16,), 0x40: (16,)}
        self.assertEqual(layout.largest_gap(blocks, 0x0, 0x100), 0x100 - 0x50)
        self.assertEqual(layout.largest_gap({}, 0, 50), 50)
        self.assertIsNone(layout.largest_gap(blocks, None, None))


class OutputTests(unittest.TestCase):
    # test_b has an init of its own: the findings of a test without one are
    # those of the test that owns the heap segment (the SDK's rule)
    LOG = ("collected 2 items\nt.py::test_a PASSED\n==MP init;0x1000;256\n==MP alloc;32;0x1010;a.c:1\n"
           "==MP free;0x1010;a.c:1\n"
           "t.py::test_b FAILED\n==MP init;0x1000;256\n==MP alloc;32;0x1010;a.c:1\n"
           "==MP free;0x1010;a.c:2\n==MP free;0x1010;a.c:2\n==MP alloc;16;0x1040;b.c:3\n")

    def test_text_model_lines(self):
        status, out, err = run_cli([], CLEAN)
        self.assertEqual(status, 0)
        self.assertIn("[1/1] - log\n=== Summary ===\nTotal overtime = 300 bytes\n"
                      "Max overtime = 300 bytes (30.00% full)\nAllocations = 2\n", out)
        self.assertIn("No memory leak detected, congrats!", out)
        self.assertIn("=== Global ===\nHigher Max overtime = 300 bytes\n", out)
        self.assertEqual(err, "")

    def test_quiet_and_colors(self):
        _, out, _ = run_cli(["-q"], self.LOG)
        self.assertNotIn("Top sites", out)
        self.assertIn("[2/2] - test_b FAILED", out)
        self.assertIn("DOUBLE FREE", out)
        _, out, _ = run_cli(["-c"], self.LOG)
        self.assertIn("\033[31m", out)

    def test_json_parse_back(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.json")
            status, _, _ = run_cli(["--json", path], self.LOG)
            with open(path) as f:
                doc = json.load(f)
        self.assertEqual(status, 1)
        self.assertEqual(doc["version"], 1)
        self.assertEqual(doc["exit_status"], 1)
        a, b = doc["segments"]
        self.assertEqual((a["index"], a["name"], a["status"], a["heap_size"]), (1, "test_a", "PASSED", 256))
        self.assertEqual(b["double_frees"], [{"ptr": "0x1010", "site": "a.c:2", "line": 10}])
        self.assertEqual(b["leaks"], [{"ptr": "0x1040", "size": 16, "site": "b.c:3", "line": 11}])
        self.assertEqual(b["leak_sites"], [{"site": "b.c:3", "count": 1, "bytes": 16}])
        for key in ("total_allocated", "max_live", "max_live_percent", "allocations", "reinit_warnings",
                    "invalid_frees", "persistent", "overlaps", "outside_heap", "largest_free_gap_at_peak",
                    "largest_free_gap_at_end", "top_sites_by_bytes", "top_sites_by_count", "peak_sites"):
            self.assertIn(key, a)
        self.assertEqual(doc["global"], {"highest_max_live": 32, "segments": 2, "leaks": 1, "bad_frees": 1,
                                         "allocated_twice": 0, "faults": 0, "malformed_lines": 0,
                                         "warnings": []})

    def test_junit_parse_back(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.xml")
            run_cli(["--junit", path], self.LOG)
            root = ET.parse(path).getroot()
        suite = root.find("testsuite")
        self.assertEqual((suite.get("tests"), suite.get("failures")), ("2", "1"))
        cases = suite.findall("testcase")
        self.assertEqual([c.get("name") for c in cases], ["test_a", "test_b"])
        self.assertIsNone(cases[0].find("failure"))
        self.assertIn("double free", cases[1].find("failure").text)
        self.assertIn("leak: 16 bytes", cases[1].find("failure").text)

    FAULT_LOG = ("collected 2 items\nt.py::test_a \n==MP init;0x1000;256\nPASSED\n"
                 "t.py::test_b \n==MP init;0x1000;256\n==MP alloc;8;0x1010;a.c:1\n"
                 "==MP! fault;5;0x1010;live;buffer overflow (tail canary)\n"
                 "==MP! site;alloc;0x1010;a.c:1\nFAILED\n")

    def test_fault_in_every_report(self):
        with tempfile.TemporaryDirectory() as d:
            jpath, xpath = os.path.join(d, "r.json"), os.path.join(d, "r.xml")
            status, out, err = run_cli(["--json", jpath, "--junit", xpath], self.FAULT_LOG)
            with open(jpath) as f:
                doc = json.load(f)
            root = ET.parse(xpath).getroot()
        self.assertEqual((status, err), (1, ""))
        self.assertIn("FAULT: buffer overflow (tail canary) (code 5) at 0x1010 (heap+0x10) (log line 8): allocated at a.c:1",
                      out)
        self.assertIn("Faults = 1\n", out)
        self.assertEqual(doc["segments"][0]["faults"], [])
        self.assertEqual(doc["segments"][1]["faults"],
                         [{"code": 5, "name": "buffer overflow (tail canary)", "ptr": "0x1010", "known": "live",
                           "alloc_site": "a.c:1", "free_site": None, "line": 8}])
        self.assertEqual((doc["global"]["faults"], doc["exit_status"]), (1, 1))
        cases = root.findall("testsuite/testcase")
        self.assertIsNone(cases[0].find("failure"))
        failure = cases[1].find("failure")
        self.assertEqual(failure.get("message"), "1 leak(s), 0 bad free(s), 1 fault(s)")
        self.assertIn("fault: buffer overflow (tail canary) (code 5) at 0x1010 (log line 8): allocated at a.c:1",
                      failure.text)
        # -q keeps the fault
        self.assertIn("FAULT: buffer overflow", run_cli(["-q"], self.FAULT_LOG)[1])

    def test_junit_parses_back_with_control_characters(self):
        # XML 1.0 has no NUL nor ESC, even escaped: they become U+FFFD
        log = "t.py::test_\x01[\x00] \n==MP init;0x1000;256\n==MP alloc;4;0x1010;\x1b[1ma.c:1\n"
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.xml")
            self.assertEqual(run_cli(["--junit", path], log)[0], 1)
            case = ET.parse(path).getroot().find("testsuite/testcase")
        self.assertEqual(case.get("name"), "test_\ufffd[\ufffd]")
        self.assertIn("allocated at \ufffd[1ma.c:1", case.find("failure").text)

    def test_exit_statuses(self):
        self.assertEqual(run_cli([], CLEAN)[0], 0)
        self.assertEqual(run_cli([], self.LOG)[0], 1)
        self.assertEqual(run_cli([], "==MP bogus\n")[0], 0)
        self.assertEqual(run_cli(["--strict"], "==MP bogus\n")[0], 1)
        status, out, err = run_cli(["--nope"], CLEAN)
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(len(err.splitlines()), 1)
        status, out, err = run_cli(["/nonexistent/log"])
        self.assertEqual((status, out), (2, ""))
        self.assertIn("cannot read /nonexistent/log", err)

    def test_unwritable_outputs_are_usage_errors(self):
        for option in ("--json", "--junit"):
            status, out, err = run_cli([option, "/nonexistent/dir/out"], CLEAN)
            self.assertEqual(status, 2, option)
            self.assertEqual(err, "valground: cannot write /nonexistent/dir/out: No such file or directory\n")

    def test_plot_extension_and_write_errors_name_the_path(self):
        status, _, err = run_cli(["--plot", "/tmp/valground-plot.unknown"], CLEAN)
        self.assertEqual(status, 2)
        self.assertIn("--plot /tmp/valground-plot.unknown: unknown image format", err)
        if os.path.exists("/dev/full"):
            status, _, err = run_cli(["--json", "/dev/full"], CLEAN)
            self.assertEqual((status, err.strip()), (2, "valground: cannot write /dev/full: No space left on device"))

    def test_executable_reads_stdin_and_help(self):
        p = subprocess.run([sys.executable, VALGROUND], input=CLEAN.encode(), capture_output=True)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"congrats", p.stdout)
        p = subprocess.run([sys.executable, VALGROUND, "--help"], capture_output=True)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"--junit", p.stdout)

    def test_plot_degrades_without_matplotlib(self):
        # A python where `import matplotlib` fails: a shadowing package that raises.
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "matplotlib"))
            with open(os.path.join(d, "matplotlib", "__init__.py"), "w") as f:
                f.write("raise ImportError('no matplotlib here')\n")
            js = os.path.join(d, "r.json")
            env = dict(os.environ, PYTHONPATH=d)
            p = subprocess.run([sys.executable, VALGROUND, "--plot", os.path.join(d, "p.svg"),
                                "--json", js], input=CLEAN.encode(), capture_output=True, env=env)
            self.assertEqual(p.returncode, 0)
            self.assertEqual(p.stderr.decode().strip(), MISSING)
            self.assertIn(b"congrats", p.stdout)
            self.assertTrue(os.path.exists(js))
            self.assertFalse(os.path.exists(os.path.join(d, "p.svg")))

    def test_plot_with_matplotlib(self):
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            self.skipTest("python3-matplotlib not installed for this python")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p.svg")
            status, _, err = run_cli(["--plot", path], self.LOG)
            self.assertEqual((status, err), (1, ""))
            self.assertTrue(ET.parse(path).getroot().tag.endswith("svg"))
            # an image it cannot write is a usage error, as for --json and --junit
            # (an unknown extension is refused before reading: test_plot_extension_...)
            for bad in ("/nonexistent/dir/p.svg",):
                status, out, err = run_cli(["--plot", bad], CLEAN)
                self.assertEqual(status, 2, bad)
                self.assertTrue(err.startswith(f"valground: cannot write the plot {bad}: "), err)
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertIn("congrats", out)


if __name__ == "__main__":
    unittest.main()
