"""valground's C core (profiling/valground_core/) against its Python reader.

Every report (-q, the full text, --json, --junit, --strict), every warning and
exit status must be the same whichever reads the log: on 400 seeded
transcripts of every shape (tests/analyzer/difflog.py), the stored logs, and
as many transcripts with lines broken the ways the core does not read (it
gives up, and the Python reader reads the input again). The core must read
every transcript the SDK's tool reads (no giving up there: else the speed is
the Python reader's), and give up on each kind of line it does not read.
Pipes (spooled for the second read), several files and a machine without a
C compiler give the same reports too.

Run: VALGROUND_CORE=path/to/libvalground_core.so python3 tests/analyzer/test_core.py
(meson: analyzer_core; without VALGROUND_CORE, the core valground builds in its cache).
"""

import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "profiling"))
sys.path.insert(0, HERE)

import difflog  # noqa: E402
from valground_lib import cli, core  # noqa: E402

VALGROUND = os.path.join(ROOT, "profiling", "valground")
SEEDS = range(1, 401)
MODES = (["-q"], [], ["--json", "J"], ["--junit", "J"], ["-q", "--strict"], ["-q", "-c", "--json", "J"])
CORE = os.environ.get("VALGROUND_CORE", "")


def run(path, args, use_core, stdin=None):
    """(exit status, stdout, stderr, the --json/--junit file) of valground in this process."""
    os.environ["VALGROUND_CORE"] = CORE if use_core else "off"
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as tmp:
        argv = [os.path.join(tmp, "out") if a == "J" else a for a in args]
        rc = cli.main(argv + ([path] if path else []), stdin=stdin, stdout=out, stderr=err)
        written = b""
        if "J" in args:
            with open(os.path.join(tmp, "out"), "rb") as f:
                written = f.read()
    used = use_core and core.last_problem is None
    return (rc, out.getvalue(), err.getvalue(), written), used


def broken(text, rnd):
    """text with one to three lines changed the ways the core does not read (it gives up)."""
    lines = text.split("\n")
    for _ in range(rnd.randint(1, 3)):
        k = rnd.randrange(len(lines))
        line = lines[k]
        how = rnd.randrange(12)
        if how == 0:
            lines[k] = line + "\r"                              # CR LF
        elif how == 1:
            lines[k] = line.replace("0xda7a", "0xDA7A")         # upper-case address
        elif how == 2:
            lines[k] = line.replace(";0x", ";0x00", 1)          # zero-padded address
        elif how == 3:
            lines.insert(k, "seproxyhal: printf: ==MP alloc;0;0xda7a0010;src/z.c:1")   # size 0
        elif how == 4:
            lines.insert(k, "==MP! fault;3;0xda7a0040;live;double free")
        elif how == 5:
            lines[k] = line + " ==MP free;0x10;x.c:1"           # two events on a line
        elif how == 6:
            lines.insert(k, "==MP alloc;16;0x1;src/far.c:9")    # outside the heap (or before init)
        elif how == 7:
            lines.insert(k, "seproxyhal: printf: ==MP alloc;x;0x10;a.c:1")   # malformed
        elif how == 8:
            lines.insert(k, "tests/t.py::test_mixed[p] ==MP free;0x10;a.c:1")   # event on a test line
        elif how == 9:
            lines[k] = line + " "                               # trailing blank
        elif how == 10:
            lines.insert(k, "==MP init;0xda7a0000;0")           # a heap of size 0
        else:
            lines.insert(k, "==MP persist;16;0xda7a0000;src/o.c:1\n==MP alloc;16;0xda7a0008;src/o.c:2")  # overlap
    return "\n".join(lines)


def shaped(text, rnd):
    """text with lines the core does read, in forms the transcripts seldom have."""
    lines = text.split("\n")
    extra = ["collecting ... collected 12 items", "FAILED tests/t.py::test_sum[nanos] - AssertionError",
             "PASSED [ 50%]", "XFAIL", "SKIPPED  [100%]  ", "ERROR tests/t.py::test_e[x]",
             "tests/test_z.py::TestC::test_m PASSED", "==MPX not an event", "\x00\xff binary junk",
             "=== 3 failed, 1 passed in 0.5s ===", "collected 1 item", "tests/t.py::test_p[a b] XPASS"]
    for _ in range(rnd.randint(1, 4)):
        lines.insert(rnd.randrange(len(lines) + 1), rnd.choice(extra))
    return "\n".join(lines)


def corpus():
    rnd = random.Random(1616)
    texts = []
    for seed in SEEDS:
        t = difflog.transcript(seed, sdk=seed % 2 == 0)
        texts.append(("seed %d%s" % (seed, " sdk" if seed % 2 == 0 else ""), t.encode(), seed % 2 == 0))
        if seed % 4 == 1:
            texts.append(("seed %d broken" % seed, broken(t, rnd).encode(), False))
        if seed % 4 == 3:
            texts.append(("seed %d shaped" % seed, shaped(t, rnd).encode("utf-8", "surrogateescape"), False))
        if seed % 8 == 2:
            texts.append(("seed %d lax" % seed, difflog.transcript(seed, sdk=True, lax=True).encode(), False))
    for d in ("golden", "fixtures"):
        for name in sorted(os.listdir(os.path.join(HERE, d))):
            if name.endswith(".log"):
                with open(os.path.join(HERE, d, name), "rb") as f:
                    texts.append((name, f.read(), False))
    return texts


class CoreAgainstPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if CORE == "off" or core.load() is None:
            raise unittest.SkipTest(f"no core to test: {core.last_problem}")
        cls.tmp = tempfile.mkdtemp()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_same_reports_on_every_transcript(self):
        mismatches, read_by_core, sdk_not_read = [], 0, []
        for n, (name, data, sdk) in enumerate(corpus()):
            path = self.write("t.log", data)
            for k, mode in enumerate(MODES):
                if k > 1 and n % 3:
                    continue        # the costlier modes on a third of the inputs
                want, _ = run(path, mode, False)
                got, used = run(path, mode, True)
                read_by_core += used
                if got != want:
                    mismatches.append((name, mode))
                if sdk and not used:
                    sdk_not_read.append((name, mode, core.last_problem))
        self.assertEqual(mismatches[:3], [], f"{len(mismatches)} runs differ")
        self.assertEqual(sdk_not_read[:3], [], "the core gave up on a transcript the SDK's tool reads")
        self.assertGreater(read_by_core, 400)

    def test_each_line_it_does_not_read_makes_it_give_up(self):
        head = "seproxyhal: printf: ==MP init;0xda7a0000;4096\n"
        cases = {
            "==MP alloc;16;0xda7a0010;a.c:1\n": "before any init",
            head + "==MP alloc;x;0xda7a0010;a.c:1\n": "Python parser",
            head + "==MP alloc;16;0xDA7A0010;a.c:1\n": "Python parser",
            head + "==MP alloc;0;0xda7a0010;a.c:1\n": "Python parser",
            head + "==MP alloc;16;0xda7a0010;a.c:1\r\n": "Python parser",
            head + "==MP alloc;16;0xda7a0010;a.c:1 ==MP free;0xda7a0010;a.c:2\n": "two events",
            head + "==MP! fault;3;0xda7a0010;live;double free\n": "pytest's",
            head + "t.py::test_a[x] ==MP free;0xda7a0010;a.c:2\n": "pytest's",
            head + "==MP alloc;16;0xda7b0010;a.c:1\n": "outside its heap",
            head + "==MP alloc;16;0xda7a0010;a.c:1\n==MP alloc;16;0xda7a0018;a.c:2\n": "overlapping",
            head + "==MP init;0xda7a0000;0\n": "init that warns",
            head + "==MP alloc;99999999999999999999;0xda7a0010;a.c:1\n": "Python parser",
            head + "==MP free;0x10000000000000000;a.c:1\n": "Python parser",
        }
        for text, reason in cases.items():
            path = self.write("bail.log", text.encode())
            with open(path, "rb") as f:
                os.environ["VALGROUND_CORE"] = CORE
                self.assertIsNone(core.analyze([(None, f)], False), text)
            self.assertIn(reason, core.last_problem, text)
            self.assertRegex(core.last_problem, r"^line \d+: ", text)
            for mode in MODES:
                self.assertEqual(run(path, mode, True)[0], run(path, mode, False)[0], (text, mode))

    def test_rare_rules_read_by_the_core(self):
        # segments pytest's summary opens are dropped unless an event the
        # Python reader handles one by one touched them (model._start_test);
        # numbers at the edges of 64 bits; the last line without a newline
        p = "seproxyhal: printf: ==MP "
        summary = "FAILED tests/t.py::test_a[x] - AssertionError\n"
        top = 0x10000000000000000 - 0x1000
        logs = {
            "twice after summary": p + "init;0xda7a0000;4096\n" + p + "alloc;16;0xda7a0010;a.c:1\n" + summary
            + p + "alloc;32;0xda7a0010;b.c:2\n" + summary,
            "bad free after summary": p + "init;0xda7a0000;4096\n" + summary + p + "free;0xda7a0010;a.c:1\n",
            "failed alloc after summary": p + "init;0xda7a0000;4096\n" + summary + p + "alloc;9;0x0;a.c:1\n",
            "fast alloc after summary": p + "init;0xda7a0000;4096\n" + summary + p + "alloc;9;0xda7a0020;a.c:1\n"
            + summary + p + "free;0xda7a0020;a.c:2\n",
            "top of memory": p + "init;0x%x;4096\n" % top + p + "alloc;4096;0x%x;a.c:1\n" % top
            + p + "alloc;0000000000000000001;0x0;a.c:2\n" + "collected 999999999999999999 items\n",
            "19 digits": p + "init;0x1;9999999999999999999\n" + p + "alloc;9999999999999999999;0x1;a.c:1",
            "pre-test events": p + "init;0xda7a0000;4096\n" + p + "persist;8;0xda7a0000;m.c:1\n"
            + "collected 1 item\ntests/t.py::test_b PASSED\n" + p + "free;0xda7a0000;m.c:2\n",
            # the --json segments: rendered by the core for ASCII (escapes
            # included), by Python otherwise
            "escapes": "tests/t.py::test_\"q\\\x01\x7f[x]\n" + p + "init;0xda7a0000;4096\n"
            + p + "alloc;8;0xda7a0010;src/\"a\\b\x02.c:1\n",
            "not ascii": "tests/t.py::test_caf\u00e9[\u00ff]\n" + p + "init;0xda7a0000;4096\n"
            + p + "alloc;8;0xda7a0010;src/\u00e9.c:1\n",
            "not utf-8": b"tests/t.py::test_\xff\xfe[x]\n".decode("latin-1") + p + "init;0xda7a0000;4096\n"
            + p + "alloc;8;0xda7a0010;src/a.c:1\n",
        }
        for name, text in logs.items():
            path = self.write("rare.log", text.encode("latin-1" if name == "not utf-8" else "utf-8"))
            for mode in MODES:
                want, _ = run(path, mode, False)
                got, used = run(path, mode, True)
                self.assertTrue(used, (name, core.last_problem))
                self.assertEqual(got, want, (name, mode))

    def test_a_pipe_is_read_again_after_the_core_gives_up(self):
        text = difflog.transcript(3, sdk=True) + "seproxyhal: printf: ==MP alloc;x;0x1;late.c:1\n"
        path = self.write("late.log", text.encode())
        want = subprocess.run([sys.executable, VALGROUND, path], capture_output=True,
                              env=dict(os.environ, VALGROUND_CORE="off"))
        with open(path, "rb") as f:
            piped = subprocess.Popen(["cat"], stdin=f, stdout=subprocess.PIPE)
            got = subprocess.run([sys.executable, VALGROUND], stdin=piped.stdout, capture_output=True,
                                 env=dict(os.environ, VALGROUND_CORE=CORE, VALGROUND_VERBOSE="1"))
            piped.wait()
        self.assertIn(b"the Python reader reads the log (line ", got.stderr)
        self.assertEqual((got.returncode, got.stdout), (want.returncode, want.stdout))
        self.assertTrue(got.stderr.endswith(want.stderr))
        # and a pipe the core reads to its end
        clean = self.write("clean.log", difflog.transcript(4, sdk=True).encode())
        want = subprocess.run([sys.executable, VALGROUND, clean], capture_output=True,
                              env=dict(os.environ, VALGROUND_CORE="off"))
        with open(clean, "rb") as f:
            got = subprocess.run([sys.executable, VALGROUND], input=f.read(), capture_output=True,
                                 env=dict(os.environ, VALGROUND_CORE=CORE, VALGROUND_VERBOSE="1"))
        self.assertEqual((got.returncode, got.stdout, got.stderr), (want.returncode, want.stdout, want.stderr))

    def test_several_files_one_of_them_unread(self):
        a = self.write("a.log", difflog.transcript(6, sdk=True).encode())
        b = self.write("b.log", broken(difflog.transcript(8, sdk=True), random.Random(2)).encode())
        for files in ([a, b], [b, a], [a, a]):
            for mode in MODES[:3]:
                os.environ["VALGROUND_CORE"] = "off"
                want = self._main(mode + files)
                os.environ["VALGROUND_CORE"] = CORE
                self.assertEqual(self._main(mode + files), want, (files, mode))

    def _main(self, argv):
        out, err = io.StringIO(), io.StringIO()
        with tempfile.TemporaryDirectory() as tmp:
            argv = [os.path.join(tmp, "j") if x == "J" else x for x in argv]
            rc = cli.main(argv, stdout=out, stderr=err)
        return rc, out.getvalue(), err.getvalue()

    def test_without_a_compiler_the_python_reader_does_the_work(self):
        path = self.write("nocc.log", difflog.transcript(10, sdk=True).encode())
        env = dict(os.environ, CC="false", XDG_CACHE_HOME=os.path.join(self.tmp, "cache"),
                   VALGROUND_VERBOSE="1")
        env.pop("VALGROUND_CORE", None)
        got = subprocess.run([sys.executable, VALGROUND, path], capture_output=True, env=env)
        want = subprocess.run([sys.executable, VALGROUND, path], capture_output=True,
                              env=dict(os.environ, VALGROUND_CORE="off"))
        self.assertIn(b"false failed", got.stderr)
        self.assertEqual((got.returncode, got.stdout), (want.returncode, want.stdout))
        # a cache directory others can write is not used (nor a library in it)
        shared = os.path.join(self.tmp, "shared-cache")
        os.makedirs(os.path.join(shared, "hardalloc"))
        os.chmod(os.path.join(shared, "hardalloc"), 0o777)
        env_shared = dict(env, CC=os.environ.get("CC", "cc"), XDG_CACHE_HOME=shared, TMPDIR=shared)
        os.makedirs(os.path.join(shared, "hardalloc-%d" % os.getuid()), mode=0o777)
        os.chmod(os.path.join(shared, "hardalloc-%d" % os.getuid()), 0o777)
        got = subprocess.run([sys.executable, VALGROUND, path], capture_output=True, env=env_shared)
        self.assertIn(b"no cache directory of the user's own", got.stderr)
        self.assertEqual((got.returncode, got.stdout), (want.returncode, want.stdout))
        self.assertEqual(os.listdir(os.path.join(shared, "hardalloc")), [])
        # a library that does not load: the same
        env["VALGROUND_CORE"] = os.path.join(self.tmp, "missing.so")
        got = subprocess.run([sys.executable, VALGROUND, path], capture_output=True, env=env)
        self.assertIn(b"cannot load", got.stderr)
        self.assertEqual((got.returncode, got.stdout), (want.returncode, want.stdout))


if __name__ == "__main__":
    unittest.main(verbosity=2)
