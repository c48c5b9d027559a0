#!/usr/bin/env python3
"""Generate a realistic `pytest -v -s` transcript of an app tested on the device emulator,
with the memory-profiling log (profiling/FORMAT.md) interleaved in the emulator's output.

Standard library only; the output depends only on the arguments (same --seed, same bytes).

    profiling/gen_transcript.py [--lines N] [--seed S] [--shape long|short] [-o FILE] [--faults KIND,...]

--shape short (issue 16): the same app and lines, but a test is 1 to 3 APDUs of 3 to 9 heap calls
(~37 lines, ~82,000 tests in 3 M lines), the shape of a real app's suite; long (the default) is
the shape described below.

What a test looks like (one per `path::test_name[param]` line, after `collected N items`):

    tests/test_sign.py::test_sign_tx[nanox-17]
    INFO     ragger.backend:speculos.py:120 Starting speculos ...
    seproxyhal: printf: ==MP init;0xda7a0400;16384        <- the app starts: mem_utils_init
    seproxyhal: printf: ==MP persist;512;0xda7a0408;src/main.c:88
    => e004000015058000002c...                               <- an APDU sent by the test
    seproxyhal: printf: [handler] ins=0x04 p1=0x00 len=21     <- app debug prints
    seproxyhal: printf: ==MP alloc;96;0xda7a0610;src/apdu/parser.c:211
    seproxyhal: printf: ==MP free;0xda7a0610;src/apdu/parser.c:260
    seproxyhal: screen_update / button events, ragger navigation logs
    <= 3044022034...9000                                     <- the response
    PASSED                                                  [ 12%]

The mix (--stats prints it): about 91 % of the lines are `==MP` lines, 9 % other output. A
build with HAVE_MEMORY_PROFILING logs every allocation and free, and an app processing an APDU
(parsing, TLV/ASN.1 decoding, hashing contexts, a display string per screen: 20 to 60 heap calls
here) does far more heap calls than it prints lines; the rest is the APDU exchange (`=>`, `<=`),
the emulator's display/button events, app debug prints and pytest/ragger lines. The SDK figures
say so too: its valground.py, timed here on this generator's output, costs ~1.3 us per `==MP`
line and ~0.4 us per other line, so its measured 2.84 M lines in 3.9 s (1.37 us a line) was a
transcript of nearly only `==MP` lines; on this mix it runs at ~0.87 M lines/s (at 70 %, an
earlier version of this generator, 1.05 M lines/s: too light).
About 2,300 lines per test (15 to 60 APDUs each): 3 M lines is ~1,290 tests, a full run of a
large app's suite parametrized over five devices, like the SDK's 2.84 M-line transcript.
About 3 % of the `==MP` lines are bare (no emulator prefix), as from a natively built test
binary writing to stderr in the same run.

Faults (--faults, comma-separated, for tests; none by default, where the log is what a
correct writer produces plus the app's deliberate leaks):
    double-free    a free of a block already freed, in a few tests
    invalid-free   a free of an address never allocated, in a few tests
    malformed      truncated lines, bad numbers, unknown events, a free before any init
"""

import argparse
import random
import sys

HEAP_BASES = {"nanos": 0xDA7A0400, "nanox": 0xDA7A0800, "nanosp": 0xDA7A0800,
              "stax": 0xDA7A1000, "flex": 0xDA7A1000}
HEAP_SIZE = {"nanos": 8192, "nanox": 16384, "nanosp": 16384, "stax": 32768, "flex": 32768}
DEVICES = ["nanos", "nanox", "nanosp", "stax", "flex"]
CHUNK_OVERHEAD = 8
ALIGN = 8

# Allocation sites of the simulated app: (file, line, size chooser) per kind of work.
SITES_APDU = [
    ("src/apdu/dispatcher.c", 74), ("src/apdu/parser.c", 211), ("src/apdu/parser.c", 238),
    ("src/handler/sign_tx.c", 133), ("src/handler/sign_tx.c", 190), ("src/handler/sign_msg.c", 61),
    ("src/handler/get_public_key.c", 48), ("src/transaction/deserialize.c", 102),
    ("src/transaction/deserialize.c", 155), ("src/transaction/tlv.c", 37), ("src/common/asn1.c", 219),
    ("src/common/buffer.c", 88), ("src/ui/display.c", 143), ("src/ui/display.c", 171),
    ("src/ui/nbgl_review.c", 302), ("lib_standard_app/format.c", 67), ("src/crypto/hash_ctx.c", 29),
    ("src/plugin/plugin_call.c", 410),
]
SITES_PERSIST = [("src/main.c", 88), ("src/storage/nvm_cache.c", 42), ("src/ui/menu.c", 25)]
SITES_LEAK = [("src/handler/sign_msg.c", 97), ("src/transaction/tlv.c", 64), ("src/ui/display.c", 199)]

SIZES = [8, 12, 16, 20, 24, 32, 32, 33, 40, 48, 64, 64, 65, 96, 128, 128, 160, 255, 256, 300, 512]

TEST_FILES = {
    "tests/test_app_mainmenu.py": ["test_app_mainmenu", "test_app_settings"],
    "tests/test_appname_cmd.py": ["test_app_name"],
    "tests/test_version_cmd.py": ["test_version"],
    "tests/test_pubkey_cmd.py": ["test_get_public_key_no_confirm", "test_get_public_key_confirm_accepted",
                                 "test_get_public_key_confirm_refused"],
    "tests/test_sign_cmd.py": ["test_sign_tx_short_tx", "test_sign_tx_long_tx", "test_sign_tx_refused",
                               "test_sign_tx_blind", "test_sign_tx_with_memo"],
    "tests/test_sign_message.py": ["test_sign_message", "test_sign_message_too_long", "test_sign_message_refused"],
    "tests/test_eip712.py": ["test_eip712_v0", "test_eip712_filtering", "test_eip712_advanced"],
    "tests/test_plugins.py": ["test_plugin_erc20_transfer", "test_plugin_swap", "test_plugin_unknown"],
    "tests/test_error_cmd.py": ["test_bad_cla", "test_wrong_p1p2", "test_wrong_data_length", "test_invalid_state"],
}


class Heap:
    """First-fit model of the app heap, so the addresses in the log are consistent."""

    def __init__(self, base, size):
        self.base = base
        self.start = (base + ALIGN - 1) & ~(ALIGN - 1)
        self.end = base + size
        self.blocks = []  # sorted [chunk_start, chunk_end, ptr]

    def alloc(self, size):
        need = CHUNK_OVERHEAD + ((size + ALIGN - 1) & ~(ALIGN - 1))
        pos = self.start
        blocks = self.blocks
        for i, (s, e, _p) in enumerate(blocks):
            if s - pos >= need:
                blocks.insert(i, [pos, pos + need, pos + CHUNK_OVERHEAD])
                return pos + CHUNK_OVERHEAD
            pos = e
        if self.end - pos >= need:
            blocks.append([pos, pos + need, pos + CHUNK_OVERHEAD])
            return pos + CHUNK_OVERHEAD
        return None

    def free(self, ptr):
        for i, b in enumerate(self.blocks):
            if b[2] == ptr:
                del self.blocks[i]
                return
        raise AssertionError("free of a block not live")


class Gen:
    def __init__(self, args, out):
        self.rng = random.Random(args.seed)
        self.out = out
        self.buf = []
        self.count = 0
        self.mp = 0
        self.target = args.lines
        self.faults = set(args.faults)
        self.fault_rate = args.fault_rate
        self.short = args.shape == "short"

    def emit(self, line):
        self.buf.append(line)
        self.count += 1
        if len(self.buf) >= 8192:
            self.flush()

    def flush(self):
        if self.buf:
            self.out.write("\n".join(self.buf))
            self.out.write("\n")
            self.buf = []

    def mp_line(self, body):
        self.mp += 1
        if self.rng.random() < 0.03:
            self.emit("==MP " + body)
        else:
            self.emit("seproxyhal: printf: ==MP " + body)

    def debug(self, text):
        self.emit("seproxyhal: printf: " + text)

    # --- the simulated app ---
    def do_alloc(self, heap, live, size, site, kind="alloc"):
        ptr = heap.alloc(size)
        if ptr is None:  # heap full: a failed allocation logs nothing
            self.debug("[mem] allocation of %d failed" % size)
            return None
        self.mp_line("%s;%d;0x%x;%s:%d" % (kind, size, ptr, site[0], site[1]))
        if kind == "alloc":
            live.append(ptr)
        return ptr

    def do_free(self, heap, live, ptr, site):
        heap.free(ptr)
        live.remove(ptr)
        self.mp_line("free;0x%x;%s:%d" % (ptr, site[0], site[1]))

    def apdu(self, heap, live, test_fault):
        rng = self.rng
        ins = rng.choice([0x02, 0x04, 0x06, 0x08, 0x0C, 0x1A, 0x1E])
        data_len = rng.choice([0, 5, 21, 33, 65, 150, 255])
        data = "".join("%02x" % rng.getrandbits(8) for _ in range(min(data_len, 40)))
        self.emit("=> e0%02x%02x%02x%02x%s" % (ins, rng.randrange(3), rng.randrange(2), data_len, data))
        self.debug("[handler] ins=0x%02x p1=0x00 p2=0x00 len=%d" % (ins, data_len))
        mine = []
        for _ in range(rng.randrange(3, 10) if self.short else rng.randrange(20, 60)):
            r = rng.random()
            if r < 0.55 or not mine:
                size = rng.choice(SIZES)
                p = self.do_alloc(heap, live, size, rng.choice(SITES_APDU))
                if p is not None:
                    mine.append((p, size))
            elif r < 0.85:
                p, _s = mine.pop(rng.randrange(len(mine)))
                self.do_free(heap, live, p, rng.choice(SITES_APDU))
            else:  # APP_MEM_REALLOC: a free of the old block, an alloc of the new size
                i = rng.randrange(len(mine))
                p, s = mine[i]
                site = rng.choice(SITES_APDU)
                self.do_free(heap, live, p, site)
                ns = s * 2 if s < 256 else s // 2
                q = self.do_alloc(heap, live, ns, site)
                if q is None:
                    del mine[i]
                else:
                    mine[i] = (q, ns)
            if rng.random() < 0.04:
                self.debug(rng.choice([
                    "[tlv] tag=0x%02x len=%d" % (rng.getrandbits(8), rng.randrange(64)),
                    "[hash] update %d bytes" % rng.randrange(1, 256),
                    "[parser] field %d ok" % rng.randrange(12),
                    "[ui] step %d/%d" % (rng.randrange(1, 6), 6),
                ]))
            if rng.random() < 0.02:
                self.emit(rng.choice([
                    "seproxyhal: screen_update",
                    "seproxyhal: button press left",
                    "seproxyhal: button release left",
                    "seproxyhal: button press both",
                    "INFO     ragger.navigator:navigator.py:188 Navigating: step %d" % rng.randrange(20),
                    "seproxyhal: 0x%02x event" % rng.getrandbits(8),
                ]))
        if test_fault == "double-free" and rng.random() < 0.3 and mine:
            p, _s = mine.pop()
            site = rng.choice(SITES_APDU)
            self.do_free(heap, live, p, site)
            self.mp_line("free;0x%x;%s:%d" % (p, site[0], site[1]))
        if test_fault == "invalid-free" and rng.random() < 0.3:
            self.mp_line("free;0x%x;src/common/buffer.c:120" % (heap.end + 0x40 + 8 * rng.randrange(100)))
        if test_fault == "malformed" and rng.random() < 0.3:
            self.mp_line(rng.choice([
                "alloc;32;0xda7a", "alloc;3x2;0xda7a0600;src/x.c:1", "free;0xzz12;src/x.c:2",
                "resize;32;0xda7a0600;src/x.c:3", "init;0xda7a0400", "alloc;-5;0xda7a0600;src/x.c:4",
            ]))
        for p, _s in mine:  # the handler's buffers die with the APDU
            self.do_free(heap, live, p, rng.choice(SITES_APDU))
        sw = "9000" if rng.random() < 0.92 else rng.choice(["6985", "6a80", "6d00", "6b00"])
        resp = "".join("%02x" % rng.getrandbits(8) for _ in range(rng.choice([0, 4, 32, 65])))
        self.emit("<= %s%s" % (resp, sw))

    def test(self, tid, pct, name):
        rng = self.rng
        device = name.split("[", 1)[1].split("-", 1)[0]
        self.emit(name + " ")
        self.emit("INFO     ragger.backend:speculos.py:120 Starting speculos with model %s" % device)
        self.emit("seproxyhal: loading app at 0xc0de0000")
        self.emit("seproxyhal: launcher: app started")
        test_fault = None
        if self.faults and rng.random() < self.fault_rate:
            test_fault = rng.choice(sorted(self.faults))
            if test_fault == "malformed" and rng.random() < 0.5:
                self.mp_line("free;0xda7a0410;src/main.c:300")  # before any init
        heap = Heap(HEAP_BASES[device], HEAP_SIZE[device])
        live = []
        self.mp_line("init;0x%x;%d" % (heap.base, heap.end - heap.base))
        for site in SITES_PERSIST[: rng.randrange(1, 4)]:
            self.do_alloc(heap, live, rng.choice([64, 128, 256, 512]), site, kind="persist")
        self.debug("[main] app ready, version 1.%d.%d" % (rng.randrange(10), rng.randrange(10)))
        # A session buffer held across APDUs (freed at app exit).
        session = self.do_alloc(heap, live, rng.choice([48, 96, 200]), ("src/app_state.c", 57))
        for _ in range(rng.randrange(1, 4) if self.short else rng.randrange(15, 60)):
            self.apdu(heap, live, test_fault)
            if rng.random() < 0.02 and self.count < self.target:  # the app re-inits within the test
                self.mp_line("init;0x%x;%d" % (heap.base, heap.end - heap.base))
                heap = Heap(heap.base, heap.end - heap.base)
                live = []
                session = None
        if rng.random() < 0.04:  # an occasional deliberate (or real) leak
            self.do_alloc(heap, live, rng.choice([24, 64, 100]), rng.choice(SITES_LEAK))
        if session is not None:
            self.do_free(heap, live, session, ("src/app_state.c", 80))
        self.emit("seproxyhal: app exited")
        status = "PASSED" if rng.random() < 0.97 else "FAILED"
        self.emit("%s%s[%3d%%]" % (status, " " * 50, pct))
        return status

    def run(self, per_test=2330):
        rng = self.rng
        if self.short:
            per_test = 37
        names = [(f, t) for f in sorted(TEST_FILES) for t in TEST_FILES[f]]
        ntests = max(1, round(self.target / per_test))
        tests = []
        for i in range(ntests):
            f, t = names[i % len(names)]
            dev = DEVICES[(i // len(names)) % len(DEVICES)]
            tests.append("%s::%s[%s-%d]" % (f, t, dev, i // (len(names) * len(DEVICES))))
        self.emit("============================= test session starts ==============================")
        self.emit("platform linux -- Python 3.11.7, pytest-8.3.3, pluggy-1.5.0 -- /usr/bin/python3")
        self.emit("cachedir: .pytest_cache")
        self.emit("rootdir: /app")
        self.emit("configfile: pyproject.toml")
        self.emit("plugins: ragger-1.24.0, xdist-3.6.1")
        self.emit("collecting ... collected %d items" % ntests)
        self.emit("")
        failed = []
        i = 0
        while i < ntests:
            status = self.test(i, (i + 1) * 100 // ntests, tests[i])
            if status == "FAILED":
                failed.append(tests[i])
            i += 1
        self.emit("")
        self.emit("=================================== FAILURES ===================================")
        for name in failed:
            self.emit("_" * 20 + " %s " % name.split("::")[1] + "_" * 20)
            self.emit("E       ragger.error.ExceptionRAPDU: Error [0x6985] ")
        self.emit("=========================== short test summary info ============================")
        for name in failed:
            self.emit("FAILED %s - ragger.error.ExceptionRAPDU: Error [0x6985]" % name)
        self.emit("================= %d failed, %d passed in %d.%02ds (0:%02d:%02d) ================="
                  % (len(failed), ntests - len(failed), ntests * 2, rng.randrange(100),
                     ntests * 2 // 3600, ntests * 2 // 60 % 60))
        self.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=3_000_000, help="about how many lines (default 3000000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("-o", "--output", help="file to write (default stdout)")
    ap.add_argument("--faults", default="", help="comma-separated: double-free,invalid-free,malformed")
    ap.add_argument("--fault-rate", type=float, default=0.05, help="fraction of tests with a fault (default 0.05)")
    ap.add_argument("--stats", action="store_true", help="print the line mix to stderr")
    ap.add_argument("--shape", choices=("long", "short"), default="long",
                    help="long: ~1,300 tests of ~2,300 lines (default); short: a real app's suite, "
                         "tens of thousands of tests of a few APDUs and allocations each (~37 lines)")
    args = ap.parse_args(argv)
    args.faults = [f for f in args.faults.split(",") if f]
    bad = set(args.faults) - {"double-free", "invalid-free", "malformed"}
    if bad:
        ap.error("unknown fault kind: %s" % ", ".join(sorted(bad)))
    try:
        out = open(args.output, "w", encoding="ascii", newline="\n") if args.output else sys.stdout
    except OSError as err:
        ap.error("cannot write %s: %s" % (args.output, err.strerror))
    try:
        g = Gen(args, out)
        g.run()
    finally:
        if args.output:
            out.close()
        else:
            out.flush()
    if args.stats:
        print("lines %d, ==MP lines %d (%.1f %%)" % (g.count, g.mp, 100.0 * g.mp / max(1, g.count)),
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
