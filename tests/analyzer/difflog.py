"""Seeded random transcripts that exercise every verdict rule, and the
reference model of those rules (issue 16), small enough to read at a glance.

transcript(seed, sdk=False) -> text: a pytest -v -s transcript of a speculos
run: re-inits within and across tests, tests without an init (their events go
to the previous test's heap segment), empty tests, events before the first
test, several heaps of different sizes (one base with two sizes), failed
allocations logged at 0x0, persistent blocks (some freed), bad frees (double
and never allocated), allocations at a live address, leaks. sdk=True keeps to
what the SDK's valground.py reads (every event behind `seproxyhal: printf: `,
an init before any event, no event on a test-name line, no `==MP!` line);
otherwise some events are bare and some follow a test name on its line,
which valground reads too (profiling/README.md). lax=True respells some
events as no writer does but the SDK's tool reads them (respelled()): valground
reads those as it does, with a warning.

verdicts(text) -> {test number: {"leaks", "warnings", "bad_frees", "twice",
"persistent"}} (addresses, in log order; 0 is the output before the first
test) and the exit status, by the rules alone, one line at a time.

Used by tests/analyzer/test_differential.py (valground against verdicts())
and profiling/compare_reference (valground against the SDK's tool).
Standard library only.
"""

import random
import re

PREFIX = "seproxyhal: printf: "
HEAPS = [(0xDA7A0000, 4096), (0xDA7A0000, 8192), (0x20001000, 2048), (0xC0DE0400, 16384)]
SLOT = 64
SITES = ["src/main.c:88", "src/apdu/parser.c:211", "src/ui/display.c:143", "src/tlv.c:37",
         "lib_standard_app/format.c:67", "src/handler/sign_tx.c:190"]
NOISE = ["=> e004000015058000002c", "<= 9000", "seproxyhal: screen_update", "INFO     ragger.backend: ok",
         PREFIX + "[ui] step 1/6", "seproxyhal: button press left", ""]


# -- the reference model ----------------------------------------------------------------------
PATH_TEST_RE = re.compile(r"\S+?\.py::\S")


def is_test_line(text):
    """The SDK's rule (test_, :: and [; never a `collected` line), or a pytest node id first."""
    text = text.rstrip()
    if text.startswith("collecting"):
        text = text.replace("collecting ... ", "")
    if text.startswith("collected"):
        return False
    return ("test_" in text and "::" in text and "[" in text) or bool(PATH_TEST_RE.match(text))


def verdicts(text):
    found = {}
    test, heap = 0, None            # heap: [owner test, {ptr: persistent}]

    def of(t):
        return found.setdefault(t, {"leaks": [], "warnings": [], "bad_frees": [], "twice": [],
                                    "persistent": []})

    def close(reclaimed):
        owner, live = heap
        for ptr, persistent in live.items():
            of(owner)["persistent" if persistent else "warnings" if reclaimed else "leaks"].append(ptr)

    for line in text.split("\n"):
        before, marker, event = line.partition("==MP ")
        if is_test_line(before):
            test += 1
        if not marker:
            continue
        words = event.rstrip().split(";")
        if words[0] == "init":
            if heap is not None:
                close(heap[0] == test)
            heap = [test, {}]
        elif heap is None:
            continue                # an event before any init: ignored (a warning)
        elif words[0] in ("alloc", "persist"):
            ptr = int(words[2], 0)         # int(x, 0): any spelling the SDK's tool reads
            if ptr == 0:
                continue            # a failed allocation
            if heap[1].pop(ptr, None) is not None:
                of(heap[0])["twice"].append(ptr)
            heap[1][ptr] = words[0] == "persist"
        elif words[0] == "free":
            ptr = int(words[1], 0)
            if heap[1].pop(ptr, None) is None:
                of(heap[0])["bad_frees"].append(ptr)
    if heap is not None:
        close(False)
    failed = any(f["leaks"] or f["bad_frees"] or f["twice"] for f in found.values())
    return found, int(failed)


# -- the generator ------------------------------------------------------------------------------
def respelled(body, rnd):
    """An event as no writer spells it but the SDK's tool reads it: a number
    in another base or with underscores, an address in decimal or upper
    case or zero-padded, a field after the last, a site without its line."""
    words = body.split(";")
    how = rnd.randrange(6)
    number = 1 if words[0] in ("alloc", "persist", "init") and len(words) > 2 else None
    address = 2 if words[0] in ("alloc", "persist") else 1
    if how == 0 and number is not None and words[0] != "init":
        words[1] = format(int(words[1]), rnd.choice(["#x", "#X", "#o", "#b"]))
    elif how == 1 and number is not None and words[0] != "init" and int(words[1]) >= 10:
        words[1] = words[1][0] + "_" + words[1][1:]
    elif how == 2:
        value = int(words[address], 0)
        words[address] = rnd.choice(["%d", "0X%X", "0x%012x"]) % value
    elif how == 3:
        words.append(rnd.choice(["extra", "", "tag=1"]))
    elif how == 4 and words[0] != "init":
        words[-1] = words[-1].rpartition(":")[0]
    else:
        words[-1] += " "
    return ";".join(words)


class Gen:
    def __init__(self, seed, sdk, lax=False):
        self.rnd = random.Random(seed)
        self.sdk = sdk
        # lax: some events respelled (respelled()), from a stream of their
        # own so that the transcript is otherwise the same
        self.lax = random.Random(seed * 7 + 3) if lax else None
        self.out = []
        self.heap = None            # (base, size)
        self.live = {}              # ptr -> persistent
        self.freed = []
        self.pending = None         # text to put after the next test name (sdk=False)
        # how careful the app is: from leaky and buggy to clean (a clean
        # run must pass with both tools)
        self.care = self.rnd.choice([0.0, 0.5, 0.9, 1.0])

    def event(self, body):
        r = self.rnd
        if self.lax is not None and self.lax.random() < 0.15:
            body = respelled(body, self.lax)
        if self.pending is not None and not self.sdk:
            self.out[-1] += PREFIX + "==MP " + body
            self.pending = None
            return
        if not self.sdk and r.random() < 0.1:
            self.out.append("==MP " + body)
        else:
            self.out.append(PREFIX + "==MP " + body)

    def init(self):
        r = self.rnd
        self.heap = r.choice(HEAPS)
        self.live = {}
        self.freed = []
        self.event("init;0x%x;%d" % self.heap)

    def alloc(self, kind="alloc"):
        r = self.rnd
        base, size = self.heap
        site = r.choice(SITES)
        n = r.randrange(1, SLOT - 8)
        free_slots = [base + 16 + SLOT * k for k in range(size // SLOT - 1)
                      if base + 16 + SLOT * k not in self.live]
        if not free_slots or r.random() < 0.04:
            self.event("%s;%d;0x0;%s" % (kind, n, site))       # a failed allocation
            return
        same = sorted(p for p, persistent in self.live.items() if persistent == (kind == "persist"))
        if same and r.random() < 0.04 * (1 - self.care):
            # at a live address, of a block of the same kind (the SDK's tool
            # keeps allocs and persists apart: an alloc over a persistent
            # block leaves both live there, a case this model does not have)
            ptr = r.choice(same)
        elif self.freed and r.random() < 0.3:
            ptr = self.freed.pop(r.randrange(len(self.freed)))
            if ptr in self.live or not base <= ptr < base + size - SLOT:
                ptr = r.choice(free_slots)
        else:
            ptr = r.choice(free_slots)
        self.live[ptr] = kind == "persist"
        self.event("%s;%d;0x%x;%s" % (kind, n, ptr, site))

    def free(self):
        r = self.rnd
        site = r.choice(SITES)
        x = r.random() / (1.01 - self.care)
        if x < 0.05 and self.freed:
            ptr = r.choice(self.freed)                          # double free (unless reused)
        elif x < 0.08:
            ptr = self.heap[0] + self.heap[1] + 8 * r.randrange(1, 50)   # never allocated
        elif self.live:
            ptr = r.choice(sorted(self.live))                   # persistent ones too
        else:
            return
        self.live.pop(ptr, None)
        self.freed.append(ptr)
        self.event("free;0x%x;%s" % (ptr, site))

    def events(self, n):
        r = self.rnd
        for _ in range(n):
            x = r.random()
            if x < 0.03:
                self.init()
            elif x < 0.10:
                self.alloc("persist")
            elif x < 0.55:
                self.alloc()
            else:
                self.free()
            if r.random() < 0.1:
                self.out.append(r.choice(NOISE))

    def run(self):
        r = self.rnd
        ntests = r.randrange(1, 12)
        self.out += ["============================= test session starts ==============================",
                     "collecting ... collected %d items" % ntests, ""]
        if r.random() < 0.4:                # events before the first test
            self.init()
            self.events(r.randrange(0, 8))
        for t in range(ntests):
            self.out.append("tests/test_%s.py::test_%s[%s-%d] " % (
                r.choice(["sign", "app", "ui"]), r.choice(["a", "b", "long_tx"]),
                r.choice(["nanos", "nanosp", "stax"]), t))
            if r.random() < 0.3:
                self.pending = True
            shape = r.random()
            if self.heap is None or shape < 0.6:
                self.init()                 # an init of its own, first
                self.events(r.randrange(0, 30))
            elif shape < 0.75:
                self.events(r.randrange(1, 12))   # no init: the previous test's segment
            elif shape < 0.9:
                self.events(r.randrange(1, 8))    # events, then an init of its own
                self.init()
                self.events(r.randrange(0, 12))
            # else: an empty test
            self.pending = None
            if r.random() < self.care:
                for ptr in sorted(p for p, persistent in self.live.items() if not persistent):
                    del self.live[ptr]            # the test cleans up
                    self.event("free;0x%x;%s" % (ptr, r.choice(SITES)))
            elif r.random() < 0.5:
                for k in range(r.randrange(0, 4)):
                    self.free()                   # or part of it
            self.out.append("PASSED" if r.random() < 0.9 else "FAILED")
        if self.heap is None:
            self.init()
        self.out.append("=========================== short test summary info ============================")
        self.out.append("=================== %d passed in 1.00s ===================" % ntests)
        return "\n".join(self.out) + "\n"


def transcript(seed, sdk=False, lax=False):
    return Gen(seed, sdk, lax).run()


def valground_verdicts(analyzer):
    """The same shape as verdicts(), from a finished model.Analyzer."""
    found = {}
    for seg in analyzer.segments:
        f = {"leaks": [l["ptr"] for l in seg.leaks],
             "warnings": [w["ptr"] for w in seg.reinit_warnings],
             "bad_frees": [b["ptr"] for b in sorted(seg.double_frees + seg.invalid_frees,
                                                    key=lambda e: e["line"])],
             "twice": [t["ptr"] for t in seg.allocated_twice],
             "persistent": [p["ptr"] for p in seg.persistent]}
        if any(f.values()):
            found[seg.ordinal or 0] = f
    return found, analyzer.exit_status()


def nonempty(found):
    return {t: f for t, f in found.items() if any(f.values())}
