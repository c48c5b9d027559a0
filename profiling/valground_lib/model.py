"""The one-pass replay of a log: segments (one per pytest test), live blocks, findings.

This module holds the state and the reference semantics of every event
(_init, _alloc, _free, _other); stream.py reads the log in blocks and applies
the common alloc and free inline, handing anything unusual to these methods.
Memory is bounded by the live blocks (plus the addresses freed in the current
segment, for double-free detection, and the findings themselves), never by
the log's length.

Verdicts (the SDK's valground.py's rules, issue 16): every init closes the
open heap segment and opens one owned by the current test (Analyzer.owner).
Leaks, reclaimed-by-reset warnings, bad frees, blocks allocated twice and
persistent blocks are findings of the owner, also when a later test without
an init of its own made them; figures (totals, peaks) are each test's own.
tests/analyzer/difflog.py holds the rules in a few lines, and
tests/analyzer/test_differential.py this module to them.

Faults (`==MP!` lines, Analyzer.fault) are findings of the segment they
appear in, with the sites their `site` lines give; they change no block.

Event order: every `==MP` occurrence gets a sequence number (self.seq); a
block remembers the number of the event that made it (SEQ). Line numbers of
blocks made on the fast path are found later, only for blocks still live when
a line is needed (stream.py's resolver); LINE is None until then.

Peak state: a segment's peak is the event peak_seq. The live blocks at the
peak are the live blocks made at or before it plus those freed since (frecs),
so a free costs one append, and the peak's dict (snap) is built only when
needed (segment end, init) or when frecs outgrows the live blocks
(trim_frecs), which keeps memory bounded and the work amortized O(1).
"""

from bisect import bisect_left
from operator import itemgetter

from . import layout
from .parse import (MARK, NUMBER_LIMIT, ParseError, parse_event, parse_fault, parse_test_line, parse_status_line,
                    parse_collected, is_summary_line, split_two, STATUS_WORDS)
from .record import END_SENTINEL, LINE, PERSIST, PTR, SEQ, SITE, SIZE, TEXT
from .stream import Reader

MAX_WARNINGS_KEPT = 1000
SERIES_MAX_POINTS = 100000


_SITE_TEXT = {}             # site bytes -> text: a log has few sites, met again and again
_SITE_TEXT_MAX = 1 << 16


def site_str(site):
    text = _SITE_TEXT.get(site)
    if text is None:
        text = site.decode("utf-8", "replace")
        if len(_SITE_TEXT) < _SITE_TEXT_MAX:
            _SITE_TEXT[site] = text
    return text


def spelled(ptr, text=None):
    """An address as the log wrote it: text (bytes) when the parser kept it,
    else the writers' form (FORMAT.md: lowercase hex after 0x, no padding)."""
    return text.decode("ascii", "replace") if text else f"0x{ptr:x}"


def finding(ptr, size, site, line, text=None, base=None, heap_size=None):
    """A block in a finding list (leaks, warnings, overlaps, ...): "addr" is
    the address as logged, "offset" its offset in the heap it was in (the
    heap at the time of the finding), None when outside it."""
    off = None
    if base is not None and base <= ptr < base + (heap_size or 0):
        off = ptr - base
    return {"ptr": ptr, "size": size, "site": site_str(site), "line": line,
            "addr": spelled(ptr, text), "offset": off}


def rec_text(rec):
    """The logged spelling of a live block's address (records made by the
    slow path from a non-canonical address carry it last), or None."""
    return rec[TEXT] if len(rec) > TEXT else None


class Segment:
    """One test (or the whole log when there is no pytest output)."""

    # one per test, kept to the end for the report: slots make one a third
    # of the size and quicker to make
    __slots__ = ("index", "name", "ordinal", "status", "heap_base", "heap_size", "total_allocated",
                 "allocations", "max_live", "peak_event", "start_event", "touched", "end_event", "leaks",
                 "reinit_warnings", "double_frees", "invalid_frees", "persistent", "overlaps",
                 "outside_heap", "allocated_twice", "failed_allocations", "summary", "faults", "sites",
                 "peak_heap", "gap_at_peak", "gap_at_end", "peak_sites", "series")

    def __init__(self, index, name, ordinal=None):
        self.index = index          # 1-based position among the segments
        self.name = name
        self.ordinal = ordinal      # pytest test number (1-based), None before the tests
        self.status = None
        self.heap_base = None
        self.heap_size = None
        self.total_allocated = 0
        self.allocations = 0
        self.max_live = 0
        self.peak_event = 0
        self.start_event = 0
        self.touched = False        # any event (the fast path needs an init first, which is one)
        self.end_event = 0
        self.leaks = []             # dicts: ptr, size, site, line
        self.reinit_warnings = []
        self.double_frees = []      # dicts: ptr, site, line
        self.invalid_frees = []
        self.persistent = []
        self.overlaps = []          # dicts: ptr, size, site, line, with
        self.outside_heap = []
        self.allocated_twice = []   # dicts: ptr, size, site, line, first_size, first_site, first_line
        self.failed_allocations = 0  # alloc/persist at 0x0: not live, not counted
        self.summary = False        # a pytest summary line (`FAILED path::x[p] - ...`)
        self.faults = []            # dicts: code, name, ptr, known, alloc_site, free_site, line
        self.sites = {}             # site bytes -> [count, bytes]
        self.peak_heap = (None, None)
        self.gap_at_peak = None
        self.gap_at_end = None
        self.peak_sites = []
        self.series = None          # [(event, live bytes)] when plotting

    @property
    def bad_frees(self):
        return len(self.double_frees) + len(self.invalid_frees)

    @property
    def failed(self):
        return bool(self.leaks or self.double_frees or self.invalid_frees or self.faults
                    or self.allocated_twice)

    @property
    def max_live_percent(self):
        """The peak against the heap it happened in (a test may re-init to
        a heap of another size)."""
        size = self.peak_heap[1] if self.peak_heap[1] is not None else self.heap_size
        if not size:
            return None
        return 100.0 * self.max_live / size

    def leak_sites(self):
        return layout.group_by_site((l["site"], l["size"]) for l in self.leaks)

    def top_sites(self, key, limit=10):
        """The `limit` sites with the most blocks (key "count") or bytes,
        then by site: [{site, count, bytes}]."""
        return self.top_sites_both(limit)[0 if key == "bytes" else 1]

    def top_sites_both(self, limit=10):
        """(top sites by bytes, by count), each as top_sites gives it; the
        rows are shared. Ties are broken by the site's text, then (two
        spellings that decode alike) by its bytes. Sorting tuples and
        stable sorts on one field (itemgetter, in C) rather than a key
        function per row: a third of the --json run on 80,000 tests was
        this."""
        sites = self.sites
        if not sites:
            return [], []
        items = [(s, c, b) for s, (c, b) in sites.items()]
        if len(items) <= limit:
            rows = [(site_str(s), s, c, b) for s, c, b in items]
            rows.sort()
            by_bytes = sorted(rows, key=_THIRD, reverse=True)
            by_count = sorted(rows, key=_SECOND, reverse=True)
        else:
            # the top `limit` by value, ties by bytes; then in order by value, ties by text
            items.sort()
            picked = []
            for k in (2, 1):
                best = sorted(items, key=itemgetter(k), reverse=True)[:limit]
                best = [(site_str(s), s, c, b) for s, c, b in best]
                best.sort()
                picked.append(sorted(best, key=itemgetter(k + 1), reverse=True))
            by_bytes, by_count = picked
        made = {}
        out = []
        for lst in (by_bytes, by_count):
            row_list = []
            for text, s, c, b in lst:
                row = made.get(s)
                if row is None:
                    row = made[s] = {"site": text, "count": c, "bytes": b}
                row_list.append(row)
            out.append(row_list)
        return out[0], out[1]


_SECOND = itemgetter(2)     # a (text, site, count, bytes) row's count
_THIRD = itemgetter(3)      # and its bytes


class Analyzer:
    def __init__(self, plot=False, block_size=None, lean=False):
        self.segments = []
        self.finished = False       # finish() ran: the segments are final
        # lean: only what the quiet text report and the exit status use (no
        # site tables, gaps, blocks live at the peak, persistent blocks or
        # reclaimed-block warnings): the command line's -q without --json
        # or --plot. The verdicts and the quiet report are the same
        # (tests/analyzer/test_differential.py compares them).
        self.lean = lean and not plot
        self.collected = None
        self.tests = 0
        self.warnings = []          # (source, line, message), the first MAX_WARNINGS_KEPT
        self.malformed = 0
        self.plot = plot
        self.block_size = block_size
        self.events = 0             # parsed events, the x axis of --plot
        self.seq = 0
        # heap state
        self.heap_base = None
        self.heap_size = None
        self.live = {}
        self.starts = [END_SENTINEL]    # sorted addresses of the live blocks, then the sentinel
        self.live_bytes = 0
        self.freed = set()
        # peak state of the current segment (module docstring)
        self.peak_seq = 0
        self.frecs = []
        self.snap = None
        # Set by the reader while it holds the text that gives the missing
        # LINEs (stream.py): called before live blocks are reported.
        self.resolver = None
        # (seq, finding) whose line the reader fills in at the end of its
        # block of text: blocks made on the fast path, reported at an init
        self.pending_lines = []
        self.seg = None
        # The test that owns the open heap segment: the one whose init
        # started it (the SDK's rule). Leaks, bad frees and persistent
        # blocks of the segment are its findings, also when a later test
        # without an init of its own made them.
        self.owner = None
        self.last_fault = None      # the latest fault, which its site lines complete
        self._open_segment("log", None)

    # -- segments -------------------------------------------------------------
    def _open_segment(self, name, ordinal):
        seg = Segment(len(self.segments) + 1, name, ordinal)
        seg.heap_base, seg.heap_size = self.heap_base, self.heap_size
        seg.max_live = self.live_bytes
        seg.start_event = seg.peak_event = self.events
        if self.plot:
            seg.series = [(self.events, self.live_bytes)]
        self.segments.append(seg)
        self.seg = seg
        # The peak so far is the state the segment starts in.
        self.peak_seq = self.seq
        self.frecs.clear()
        self.snap = None
        self.freed.clear()

    def _close_segment(self):
        seg = self.seg
        snap = self.peak_state()
        if self.lean:
            seg.end_event = self.events
            return
        base, size = seg.peak_heap
        seg.gap_at_peak = layout.largest_gap(snap, base, size)
        seg.peak_sites = layout.group_by_site([(r[SITE], r[SIZE]) for r in snap.values()])[:10] if snap else []
        seg.gap_at_end = layout.largest_gap(self.live, self.heap_base, self.heap_size)
        seg.end_event = self.events
        if seg.series is not None:
            seg.series.append((self.events, self.live_bytes))

    def _start_test(self, name, status, summary=False):
        seg = self.seg
        # Output before the first test that touched no heap is not a
        # segment, nor is a line of pytest's summary where nothing happened.
        if (seg.ordinal is None or seg.summary) and not seg.touched and seg is not self.owner:
            self.segments.pop()
        else:
            self._close_segment()
        self.tests += 1
        self._open_segment(name, self.tests)
        self.seg.status = status
        self.seg.summary = summary

    def peak_state(self):
        """The live blocks at the current segment's peak, {ptr: block}."""
        if self.snap is None and self.lean:
            self.snap = _LEAN_SNAP
            self.seg.peak_heap = (self.heap_base, self.heap_size)
        elif self.snap is None:
            p = self.peak_seq
            snap = {ptr: r for ptr, r in self.live.items() if r[SEQ] <= p}
            for r in self.frecs:
                if r[SEQ] <= p:
                    snap[r[PTR]] = r
            self.snap = snap
            self.seg.peak_heap = (self.heap_base, self.heap_size)
        self.frecs.clear()
        return self.snap

    def trim_frecs(self):
        """Keeps the blocks freed since the peak within the live blocks' count."""
        if len(self.frecs) > 2 * len(self.live) + 256:
            self.peak_state()

    def _new_peak(self):
        seg = self.seg
        seg.max_live = self.live_bytes
        seg.peak_event = self.events
        self.peak_seq = self.seq
        self.frecs.clear()
        self.snap = None

    # -- warnings -------------------------------------------------------------
    def warn(self, source, lineno, message):
        self.malformed += 1
        if len(self.warnings) < MAX_WARNINGS_KEPT:
            self.warnings.append((source, lineno, message))

    # -- events (the reference; stream.py's fast path does the same) -----------
    def _close_heap(self, reclaimed):
        """The end of the open heap segment: its live blocks are its owner's
        leaks (or, reclaimed by an init of the same test, warnings), its
        live persistent blocks are listed."""
        owner = self.owner
        if owner is None or not self.live:
            return
        base, size = self.heap_base, self.heap_size
        pending = self.pending_lines
        if self.lean:
            # only the leaks are reported
            if reclaimed:
                return
            recs = [r for r in self.live.values() if not r[PERSIST]]
            if not recs:
                return
            if len(recs) > 1:
                recs.sort(key=_by_seq)
        else:
            recs = sorted(self.live.values(), key=_by_seq)
        for rec in recs:
            entry = finding(rec[PTR], rec[SIZE], rec[SITE], rec[LINE], rec_text(rec), base, size)
            if rec[LINE] is None:
                # made on the fast path: its line is found with the others
                # at the end of the block of text (stream.py)
                pending.append((rec[SEQ], entry))
            if rec[PERSIST]:
                owner.persistent.append(entry)
            elif reclaimed:
                owner.reinit_warnings.append(entry)
            else:
                owner.leaks.append(entry)

    def _init(self, base, size, lineno=None, source=None):
        if size == 0 or base + size > NUMBER_LIMIT:
            self.warn(source, lineno() if callable(lineno) else lineno,
                      f"a heap of {size} bytes at 0x{base:x} cannot be real" if size
                      else f"a heap of size 0 at 0x{base:x}")
        self.peak_state()
        seg = self.seg
        self._close_heap(self.owner is seg)
        self.owner = seg
        self.live.clear()
        del self.starts[:-1]
        self.live_bytes = 0
        self.freed.clear()
        self.heap_base, self.heap_size = base, size
        seg.heap_base, seg.heap_size = base, size
        if seg.allocations == 0:
            # The peak a test inherited from the previous app run was only
            # provisional: its own first heap event resets the heap.
            seg.max_live = 0
            seg.peak_event = self.events
            seg.peak_heap = (base, size)
            self.peak_seq = self.seq
            self.snap = {}
        if seg.series is not None:
            seg.series.append((self.events, 0))

    def _alloc(self, size, ptr, site, lineno, persist, text=None, source=None):
        seg = self.seg
        if ptr == 0:
            # a failed allocation: nothing was made (the SDK's rule)
            seg.failed_allocations += 1
            return
        seg.total_allocated += size
        seg.allocations += 1
        layout.add_site(seg.sites, site, size)
        base, hsize = self.heap_base, self.heap_size
        owner = self.owner
        kind = "persist" if persist else "alloc"
        if size == 0:
            self.warn(source, lineno, f"{kind} of 0 bytes at {spelled(ptr, text)} cannot be real")
        elif size > hsize:
            self.warn(source, lineno, f"{kind} of {size} bytes at {spelled(ptr, text)} is larger "
                                      f"than the heap ({hsize} bytes)")
        if ptr < base or ptr + size > base + hsize:
            owner.outside_heap.append(finding(ptr, size, site, lineno, text))
        starts = self.starts
        live = self.live
        k = bisect_left(starts, ptr)
        other = None
        if k > 0:
            prev = starts[k - 1]
            if prev + live[prev][SIZE] > ptr:
                other = prev
        if other is None and starts[k] < ptr + max(size, 1):
            other = starts[k]
        old = live.get(ptr)
        if old is not None:
            # Allocated twice without a free (the heap handed out a live
            # block, or a free line was lost): a finding; the old block is
            # gone from the live blocks as if freed.
            if self.resolver is not None and old[LINE] is None:
                self.resolver()
                old = live[ptr]
            entry = finding(ptr, size, site, lineno, text, base, hsize)
            entry.update(first_size=old[SIZE], first_site=site_str(old[SITE]), first_line=old[LINE],
                         first_addr=spelled(ptr, rec_text(old)))
            owner.allocated_twice.append(entry)
            self.live_bytes -= old[SIZE]
            self.frecs.append(old)
        else:
            if other is not None:
                o = live[other]
                owner.overlaps.append(dict(finding(ptr, size, site, lineno, text, base, hsize),
                                           **{"with": other, "with_addr": spelled(other, rec_text(o))}))
            starts.insert(k, ptr)
        rec = (size, site, lineno, seg, persist, ptr, self.seq)
        live[ptr] = rec if text is None else rec + (text,)
        self.live_bytes += size
        if self.live_bytes > seg.max_live:
            self._new_peak()

    def _free(self, ptr, site, lineno, text=None):
        rec = self.live.pop(ptr, None)
        if rec is None:
            entry = finding(ptr, None, site, lineno, text, self.heap_base, self.heap_size)
            del entry["size"]
            if ptr in self.freed:
                self.owner.double_frees.append(entry)
            else:
                self.owner.invalid_frees.append(entry)
            return
        starts = self.starts
        del starts[bisect_left(starts, ptr)]
        self.freed.add(ptr)
        self.frecs.append(rec)
        self.live_bytes -= rec[SIZE]
        self.trim_frecs()

    def event(self, ev, lineno, source=None):
        """Applies one parsed event (a parse.parse_event tuple) as the event
        numbered self.seq. lineno: its line (int), or a function giving it,
        called only when the event needs it (init does not)."""
        self.events += 1
        self.seg.touched = True
        kind = ev[0]
        if kind == "init":
            self._init(ev[1], ev[2], lineno, source)
            return
        if callable(lineno):
            lineno = lineno()
        if self.heap_base is None:
            self.warn(source, lineno, f"{kind} before any init line (ignored)")
            return
        text = ev[-1] if type(ev[-1]) is bytes and len(ev) > (3 if kind == "free" else 4) else None
        if kind == "free":
            self._free(ev[1], ev[2], lineno, text)
        else:
            self._alloc(ev[1], ev[2], ev[3], lineno, kind == "persist", text, source)
        series = self.seg.series
        if series is not None:
            series.append((self.events, self.live_bytes))
            if len(series) > SERIES_MAX_POINTS:
                self.seg.series = _decimate(series)

    def payload(self, payload, lineno, source=None):
        """Parses and applies the text after `==MP ` (bytes, no line end);
        a malformed one is a warning. lineno as for event()."""
        if MARK in payload:
            # two events on one line (a lost newline): each is read, the
            # line is warned about
            first, junk, rest = split_two(payload)
            line = lineno() if callable(lineno) else lineno
            self.warn(source, line, "two ==MP events on one line (read as two lines"
                      + (f"; {junk[:40]!r} between them ignored)" if junk else ")"))
            self.payload(first, line, source)
            self.payload(rest, line, source)
            return
        notes = []
        try:
            ev = parse_event(payload, spelling=True, notes=notes)
        except ParseError as err:
            self.warn(source, lineno() if callable(lineno) else lineno, str(err))
            return
        if notes:
            # read as the SDK's tool reads it, and warned about
            if callable(lineno):
                lineno = lineno()
            self.warn(source, lineno, "; ".join(notes))
        self.event(ev, lineno, source)

    def fault(self, payload, lineno, source=None):
        """The text after `==MP! ` (bytes, no line end): a fault the heap
        reported, or a site line completing the latest one. Not a heap
        event: the block state and the event count stay as they are. A
        malformed line, or a site line that follows no fault at its
        address, is a warning. lineno as for event()."""
        if callable(lineno):
            lineno = lineno()
        try:
            ev = parse_fault(payload)
        except ParseError as err:
            self.warn(source, lineno, str(err))
            return
        self.seg.touched = True
        if ev[0] == "fault":
            entry = {"code": ev[1], "name": ev[4], "ptr": ev[2], "known": ev[3],
                     "alloc_site": None, "free_site": None, "line": lineno}
            spot = finding(ev[2], None, b"", None, payload.split(b";", 3)[2], self.heap_base, self.heap_size)
            entry["addr"], entry["offset"] = spot["addr"], spot["offset"]
            self.seg.faults.append(entry)
            self.last_fault = entry
            return
        _, role, ptr, site = ev
        key = "alloc_site" if role == "alloc" else "free_site"
        f = self.last_fault
        if f is None or f["ptr"] != ptr or f[key] is not None:
            self.warn(source, lineno, f"site line for 0x{ptr:x} follows no fault at that address (ignored)")
            return
        f[key] = site_str(site)

    def other(self, line):
        """A line without an event: pytest's test, status and `collected` lines."""
        if line.startswith(STATUS_WORDS):
            s = parse_status_line(line)
            if s is not None:
                if self.seg.ordinal is not None and self.seg.status is None:
                    self.seg.status = s
                return
        t = parse_test_line(line)
        if t is not None:
            self._start_test(t[0], t[1], is_summary_line(line))
            return
        s = parse_status_line(line)
        if s is not None:
            if self.seg.ordinal is not None and self.seg.status is None:
                self.seg.status = s
            return
        n = parse_collected(line)
        if n is not None:
            self.collected = n

    # -- the stream -------------------------------------------------------------
    def feed(self, stream, source=None):
        """Reads a binary stream to its end: a file object (read()) or an
        iterable of lines as a binary file yields them. Line numbers in
        warnings and findings count from 1 in each stream."""
        Reader(self, source).run(stream)

    def finish(self):
        """Closes the last segment and reports what is still live as leaks."""
        self._close_segment()
        self._close_heap(False)
        seg = self.seg
        if seg.summary and not seg.touched and seg is not self.owner and len(self.segments) > 1:
            self.segments.pop()
        self.finished = True
        return self

    # -- results ----------------------------------------------------------------
    def totals(self):
        """(leaks, bad frees, blocks allocated twice, faults, highest peak)
        over the segments: one pass, kept once the analyzer is finished (the
        reports and the exit status ask for them a dozen times, each a pass
        over 80,000 segments on a real suite)."""
        cached = self.__dict__.get("_totals")
        if cached is not None:
            return cached
        leaks = bad = twice = faults = high = 0
        for s in self.segments:
            if s.leaks:
                leaks += len(s.leaks)
            if s.double_frees or s.invalid_frees:
                bad += len(s.double_frees) + len(s.invalid_frees)
            if s.allocated_twice:
                twice += len(s.allocated_twice)
            if s.faults:
                faults += len(s.faults)
            if s.max_live > high:
                high = s.max_live
        t = (leaks, bad, twice, faults, high)
        if self.finished:
            self._totals = t
        return t

    def segment_count(self):
        return len(self.segments)

    @property
    def total_leaks(self):
        return self.totals()[0]

    @property
    def total_bad_frees(self):
        return self.totals()[1]

    @property
    def total_allocated_twice(self):
        return self.totals()[2]

    @property
    def total_faults(self):
        return self.totals()[3]

    @property
    def highest_max_live(self):
        return self.totals()[4]

    def exit_status(self, strict=False):
        if (self.total_leaks or self.total_bad_frees or self.total_faults or self.total_allocated_twice
                or (strict and self.malformed)):
            return 1
        return 0


# the peak's blocks, not kept in lean mode
_LEAN_SNAP = {}


def _by_seq(rec):
    return rec[SEQ]


def _decimate(series):
    """Halves a series, keeping the higher point of each pair (peaks survive)."""
    out = [series[0]]
    for j in range(1, len(series) - 1, 2):
        a, b = series[j], series[j + 1]
        out.append(a if a[1] >= b[1] else b)
    out.append(series[-1])
    return out
