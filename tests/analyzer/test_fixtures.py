#!/usr/bin/env python3
"""Fixture tests of the memory-profiling log analyzer (profiling/valground).

    python3 tests/analyzer/test_fixtures.py [PATH-TO-VALGROUND] [unittest options]
    (or VALGROUND=PATH; default profiling/valground)

For every tests/analyzer/fixtures/NAME.log with its NAME.log.expect.json: runs the analyzer
with --json and --junit to temporary files, parses both back (json, xml.etree) and checks
 - the exit status, with and without --strict, and that the JSON's exit_status agrees;
 - per segment, in order: name, pytest status, the number of leaks, double_frees,
   invalid_frees, persistent, overlaps, outside_heap, reinit_warnings, faults, and where given
   max_live, total_allocated, allocations, the leaks'/bad frees' ptr, size and site, and the
   faults' code, ptr, known, alloc_site and free_site;
 - the global counts given (segments, leaks, bad_frees, faults, malformed_lines,
   highest_max_live);
 - the JUnit: one testcase per segment, a failure exactly for the segments with a leak, a
   double free, an invalid free or a fault.
Also: the exit status 2 for a bad option and for an unreadable file, and stdin input.

Expectation keys (all optional but "segments"): "segments": [{"name": str or null (not
checked), "status": "PASSED"/"FAILED" (compared case-insensitively), the counts above,
"leak_details"/"double_free_details"/"invalid_free_details": [{"ptr", "size", "site"}],
"fault_details": [{"code", "ptr", "known", "alloc_site", "free_site"}]}],
"global": {...}, "exit_status", "exit_status_strict" (null: not checked).
Segments the analyzer adds that the expectations do not list are tolerated only when they
are empty (no allocation, no finding), e.g. a segment for the lines before the first test.
Standard library only; exits non-zero on failure.
"""

import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(HERE, "fixtures")
ANALYZER = os.environ.get("VALGROUND") or os.path.join(ROOT, "profiling", "valground")
GEN = os.path.join(ROOT, "profiling", "gen_transcript.py")

COUNTS = ("leaks", "double_frees", "invalid_frees", "persistent", "overlaps", "outside_heap",
          "reinit_warnings", "faults")
NUMBERS = ("max_live", "total_allocated", "allocations")
DETAILS = {"leak_details": "leaks", "double_free_details": "double_frees",
           "invalid_free_details": "invalid_frees"}


def analyzer_cmd():
    if os.access(ANALYZER, os.X_OK):
        return [ANALYZER]
    return [sys.executable, ANALYZER]


def run(args, stdin=None):
    return subprocess.run(analyzer_cmd() + args, stdin=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)


def as_int(v):
    if isinstance(v, str):
        return int(v, 0)
    return int(v)


def same_test(actual, expected):
    """The analyzer may name a segment by the full pytest id or by its test part."""
    if actual is None:
        return False
    return actual == expected or expected.endswith("::" + actual) or actual.endswith("::" + expected)


def segment_is_empty(seg):
    return not seg.get("allocations") and not any(seg.get(k) for k in COUNTS)


def junit_cases(root):
    return list(root.iter("testcase"))


def has_failure(case):
    return case.find("failure") is not None or case.find("error") is not None


class FixtureCase(unittest.TestCase):
    fixture = None  # set per generated subclass

    @classmethod
    def setUpClass(cls):
        with open(cls.fixture + ".expect.json") as f:
            cls.expect = json.load(f)
        cls.tmp = tempfile.TemporaryDirectory(prefix="valground_fixture_")
        cls.json_path = os.path.join(cls.tmp.name, "out.json")
        cls.junit_path = os.path.join(cls.tmp.name, "out.xml")
        cls.proc = run(["--json", cls.json_path, "--junit", cls.junit_path, cls.fixture])
        cls.data = None
        if os.path.exists(cls.json_path):
            with open(cls.json_path) as f:
                try:
                    cls.data = json.load(f)
                except ValueError:
                    cls.data = None

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def diag(self):
        return "\nstderr: %s" % self.proc.stderr.decode(errors="replace")[-1500:]

    def json_data(self):
        self.assertIsNotNone(self.data, "no parseable JSON written" + self.diag())
        return self.data

    def matched_segments(self):
        """Pairs (expected, actual), in order; unlisted analyzer segments must be empty."""
        segs = self.json_data()["segments"]
        exp = self.expect["segments"]
        pairs = []
        i = 0
        for e in exp:
            while i < len(segs) and e.get("name") is not None and not same_test(segs[i].get("name"), e["name"]):
                self.assertTrue(segment_is_empty(segs[i]),
                                "unexpected non-empty segment %r" % segs[i].get("name"))
                i += 1
            self.assertLess(i, len(segs), "segment %r missing; got %r"
                            % (e.get("name"), [s.get("name") for s in segs]))
            pairs.append((e, segs[i]))
            i += 1
        for s in segs[i:]:
            self.assertTrue(segment_is_empty(s), "unexpected non-empty segment %r" % s.get("name"))
        return pairs

    def test_exit_status(self):
        want = self.expect.get("exit_status")
        if want is not None:
            self.assertEqual(self.proc.returncode, want, self.diag())
        self.assertEqual(self.json_data().get("exit_status"), self.proc.returncode)

    def test_exit_status_strict(self):
        want = self.expect.get("exit_status_strict")
        if want is None:
            self.skipTest("not specified")
        p = run(["--strict", self.fixture])
        self.assertEqual(p.returncode, want, p.stderr.decode(errors="replace")[-1500:])

    def test_json_shape(self):
        d = self.json_data()
        self.assertEqual(d.get("version"), 1)
        self.assertIsInstance(d.get("segments"), list)
        self.assertIsInstance(d.get("global"), dict)
        for s in d["segments"]:
            for key in COUNTS:
                self.assertIsInstance(s.get(key), list, "segment %r: %s" % (s.get("name"), key))
            for key in NUMBERS:
                self.assertIsInstance(s.get(key), int, "segment %r: %s" % (s.get("name"), key))
            for leak in s["leaks"]:
                self.assertTrue({"ptr", "size", "site", "line"} <= set(leak), leak)
            for bad in s["double_frees"] + s["invalid_frees"]:
                self.assertTrue({"ptr", "site", "line"} <= set(bad), bad)
            for f in s["faults"]:
                self.assertEqual(set(f), {"code", "name", "ptr", "known", "alloc_site", "free_site", "line"})

    def test_segments(self):
        for e, s in self.matched_segments():
            with self.subTest(segment=e.get("name")):
                if e.get("status") is not None:
                    self.assertEqual(str(s.get("status")).upper(), e["status"].upper())
                for key in COUNTS:
                    if key in e:
                        self.assertEqual(len(s[key]), e[key], "%s: %r" % (key, s[key]))
                for key in NUMBERS:
                    if key in e:
                        self.assertEqual(s[key], e[key], key)
                for dkey, key in DETAILS.items():
                    for want, got in zip(e.get(dkey, []), s[key]):
                        self.assertEqual(as_int(got["ptr"]), as_int(want["ptr"]), key)
                        if "size" in want:
                            self.assertEqual(got["size"], want["size"], key)
                        self.assertEqual(got["site"], want["site"], key)
                want_faults = e.get("fault_details", [])
                if want_faults:
                    self.assertEqual(len(s["faults"]), len(want_faults))
                for want, got in zip(want_faults, s["faults"]):
                    self.assertEqual(as_int(got["ptr"]), as_int(want["ptr"]), "faults")
                    for k in ("code", "known", "alloc_site", "free_site"):
                        self.assertEqual(got[k], want[k], "faults: " + k)

    def test_global(self):
        g = self.json_data()["global"]
        for key, want in self.expect.get("global", {}).items():
            self.assertEqual(g.get(key), want, "global %s" % key)
        segs = self.json_data()["segments"]
        self.assertEqual(g.get("segments"), len(segs))
        self.assertEqual(g.get("leaks"), sum(len(s["leaks"]) for s in segs))
        self.assertEqual(g.get("bad_frees"), sum(len(s["double_frees"]) + len(s["invalid_frees"]) for s in segs))
        self.assertEqual(g.get("faults"), sum(len(s["faults"]) for s in segs))

    def test_junit(self):
        self.assertTrue(os.path.exists(self.junit_path), "no JUnit written" + self.diag())
        root = ET.parse(self.junit_path).getroot()
        self.assertIn(root.tag, ("testsuites", "testsuite"))
        cases = junit_cases(root)
        segs = self.json_data()["segments"]
        self.assertEqual(len(cases), len(segs), "one testcase per segment")
        for case, s in zip(cases, segs):
            bad = bool(s["leaks"] or s["double_frees"] or s["invalid_frees"] or s["faults"])
            self.assertEqual(has_failure(case), bad, "testcase %r" % case.get("name"))
            name = s.get("name")
            if name:
                test = name.rsplit("::", 1)[-1]
                self.assertIn(test, "%s %s" % (case.get("classname", ""), case.get("name", "")))
        failures = sum(has_failure(c) for c in cases)
        for suite in [root] + list(root.iter("testsuite")):
            if suite.tag == "testsuite" and suite.get("tests") is not None and suite is root:
                self.assertEqual(int(suite.get("tests")), len(cases))
        top = root if root.tag == "testsuite" else None
        if top is None and root.get("failures") is not None:
            self.assertEqual(int(root.get("failures")) + int(root.get("errors", "0")), failures)


class CliCase(unittest.TestCase):
    def test_bad_option_is_2(self):
        p = run(["--no-such-option", os.path.join(FIXTURES, "clean.log")])
        self.assertEqual(p.returncode, 2)

    def test_missing_file_is_2(self):
        with tempfile.TemporaryDirectory() as d:
            p = run([os.path.join(d, "does-not-exist.log")])
        self.assertEqual(p.returncode, 2)

    def test_directory_is_2(self):
        with tempfile.TemporaryDirectory() as d:
            p = run([d])
        self.assertEqual(p.returncode, 2)

    def test_stdin_same_as_file(self):
        path = os.path.join(FIXTURES, "leak.log")
        with tempfile.TemporaryDirectory() as d:
            a, b = os.path.join(d, "a.json"), os.path.join(d, "b.json")
            p1 = run(["-q", "--json", a, path])
            with open(path, "rb") as f:
                p2 = run(["-q", "--json", b], stdin=f)
            self.assertEqual(p1.returncode, 1)
            self.assertEqual(p2.returncode, 1)
            with open(a) as fa, open(b) as fb:
                ja, jb = json.load(fa), json.load(fb)
        strip = lambda j: [(s["name"], len(s["leaks"]), s["max_live"], s["allocations"]) for s in j["segments"]]
        self.assertEqual(strip(ja), strip(jb))

    def test_quiet_clean_is_0(self):
        p = run(["-q", os.path.join(FIXTURES, "clean.log")])
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))


class GeneratorCase(unittest.TestCase):
    """profiling/gen_transcript.py against the analyzer: a clean generated transcript has no
    corruption and no bad free (only the app's deliberate leaks); injected faults are found."""

    def analyze(self, *gen_args):
        with tempfile.TemporaryDirectory() as d:
            log, out = os.path.join(d, "t.log"), os.path.join(d, "t.json")
            subprocess.run([sys.executable, GEN, "--lines", "20000", "-o", log] + list(gen_args), check=True)
            p = run(["-q", "--json", out, log])
            with open(out) as f:
                return p.returncode, json.load(f)

    def test_clean_transcript(self):
        rc, d = self.analyze("--seed", "3")
        self.assertIn(rc, (0, 1))
        g = d["global"]
        self.assertEqual(g["bad_frees"], 0)
        self.assertEqual(g["malformed_lines"], 0)
        segs = d["segments"]
        self.assertGreater(len(segs), 3)
        for s in segs:
            self.assertEqual(s["overlaps"], [], s["name"])
            self.assertEqual(s["outside_heap"], [], s["name"])
            self.assertGreater(s["allocations"], 0, s["name"])
        self.assertEqual(rc, 1 if g["leaks"] else 0)

    def test_unwritable_output_is_2(self):
        p = subprocess.run([sys.executable, GEN, "--lines", "10", "-o", "/nonexistent/dir/t.log"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"cannot write /nonexistent/dir/t.log", p.stderr)
        self.assertNotIn(b"Traceback", p.stderr)

    def test_injected_faults(self):
        rc, d = self.analyze("--seed", "3", "--faults", "double-free,invalid-free,malformed", "--fault-rate", "1")
        self.assertEqual(rc, 1)
        segs = d["segments"]
        self.assertGreater(sum(len(s["double_frees"]) for s in segs), 0)
        self.assertGreater(sum(len(s["invalid_frees"]) for s in segs), 0)
        self.assertGreater(d["global"]["malformed_lines"], 0)


def load_tests(loader, standard_tests, pattern):
    suite = unittest.TestSuite()
    for path in sorted(glob.glob(os.path.join(FIXTURES, "*.log"))):
        if not os.path.exists(path + ".expect.json"):
            continue
        name = os.path.basename(path)[:-4]
        cls = type("Fixture_" + name, (FixtureCase,), {"fixture": path})
        suite.addTests(loader.loadTestsFromTestCase(cls))
    suite.addTests(loader.loadTestsFromTestCase(CliCase))
    suite.addTests(loader.loadTestsFromTestCase(GeneratorCase))
    return suite


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        ANALYZER = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
