"""The one-pass replay of a log: segments (one per pytest test), live blocks, findings.

This module holds the state and the reference semantics of every event
(_init, _alloc, _free, _other); stream.py reads the log in blocks and applies
the common alloc and free inline, handing anything unusual to these methods.
Memory is bounded by the live blocks (plus the addresses freed in the current
segment, for double-free detection, and the findings themselves), never by
the log's length.

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

from . import layout
from .parse import (ParseError, parse_event, parse_fault, parse_test_line, parse_status_line,
                    parse_collected)
from .record import END_SENTINEL, LINE, PERSIST, PTR, SEG, SEQ, SITE, SIZE
from .stream import Reader

MAX_WARNINGS_KEPT = 1000
SERIES_MAX_POINTS = 100000


def site_str(site):
    return site.decode("utf-8", "replace")


def finding(ptr, size, site, line):
    """A block in a finding list (leaks, warnings, overlaps, ...)."""
    return {"ptr": ptr, "size": size, "site": site_str(site), "line": line}


class Segment:
    """One test (or the whole log when there is no pytest output)."""

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
        return bool(self.leaks or self.double_frees or self.invalid_frees or self.faults)

    @property
    def max_live_percent(self):
        if not self.heap_size:
            return None
        return 100.0 * self.max_live / self.heap_size

    def leak_sites(self):
        return layout.group_by_site((l["site"], l["size"]) for l in self.leaks)

    def top_sites(self, key, limit=10):
        rows = [{"site": site_str(s), "count": c, "bytes": b} for s, (c, b) in self.sites.items()]
        rows.sort(key=lambda r: (-r[key], r["site"]))
        return rows[:limit]


class Analyzer:
    def __init__(self, plot=False, block_size=None):
        self.segments = []
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
        self.seg = None
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
        base, size = seg.peak_heap
        seg.gap_at_peak = layout.largest_gap(snap, base, size)
        seg.peak_sites = layout.group_by_site((r[SITE], r[SIZE]) for r in snap.values())[:10]
        seg.gap_at_end = layout.largest_gap(self.live, self.heap_base, self.heap_size)
        seg.end_event = self.events
        if seg.series is not None:
            seg.series.append((self.events, self.live_bytes))

    def _start_test(self, name, status):
        seg = self.seg
        # Output before the first test that touched no heap is not a segment.
        if seg.ordinal is None and not seg.touched:
            self.segments.pop()
        else:
            self._close_segment()
        self.tests += 1
        self._open_segment(name, self.tests)
        self.seg.status = status

    def peak_state(self):
        """The live blocks at the current segment's peak, {ptr: block}."""
        if self.snap is None:
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

    def _live_in_log_order(self):
        if self.resolver is not None:
            self.resolver()
        return sorted(self.live.items(), key=lambda kv: kv[1][SEQ])

    # -- events (the reference; stream.py's fast path does the same) -----------
    def _init(self, base, size):
        self.peak_state()
        seg = self.seg
        for ptr, rec in self._live_in_log_order():
            if rec[PERSIST]:
                continue
            entry = finding(ptr, rec[SIZE], rec[SITE], rec[LINE])
            if rec[SEG] is seg:
                seg.reinit_warnings.append(entry)
            else:
                rec[SEG].leaks.append(entry)
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

    def _alloc(self, size, ptr, site, lineno, persist):
        seg = self.seg
        seg.total_allocated += size
        seg.allocations += 1
        layout.add_site(seg.sites, site, size)
        base = self.heap_base
        if ptr < base or ptr + size > base + self.heap_size:
            seg.outside_heap.append(finding(ptr, size, site, lineno))
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
        if other is not None:
            seg.overlaps.append(dict(finding(ptr, size, site, lineno), **{"with": other}))
        old = live.get(ptr)
        if old is not None:
            # Replaced without a free: gone from the live blocks as if freed.
            self.live_bytes -= old[SIZE]
            self.frecs.append(old)
        else:
            starts.insert(k, ptr)
        live[ptr] = (size, site, lineno, seg, persist, ptr, self.seq)
        if persist:
            seg.persistent.append(finding(ptr, size, site, lineno))
        self.live_bytes += size
        if self.live_bytes > seg.max_live:
            self._new_peak()

    def _free(self, ptr, site, lineno):
        rec = self.live.pop(ptr, None)
        if rec is None:
            entry = {"ptr": ptr, "site": site_str(site), "line": lineno}
            if ptr in self.freed:
                self.seg.double_frees.append(entry)
            else:
                self.seg.invalid_frees.append(entry)
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
            self._init(ev[1], ev[2])
            return
        if callable(lineno):
            lineno = lineno()
        if self.heap_base is None:
            self.warn(source, lineno, f"{kind} before any init line (ignored)")
            return
        if kind == "free":
            self._free(ev[1], ev[2], lineno)
        else:
            self._alloc(ev[1], ev[2], ev[3], lineno, kind == "persist")
        series = self.seg.series
        if series is not None:
            series.append((self.events, self.live_bytes))
            if len(series) > SERIES_MAX_POINTS:
                self.seg.series = _decimate(series)

    def payload(self, payload, lineno, source=None):
        """Parses and applies the text after `==MP ` (bytes, no line end);
        a malformed one is a warning. lineno as for event()."""
        try:
            ev = parse_event(payload)
        except ParseError as err:
            self.warn(source, lineno() if callable(lineno) else lineno, str(err))
            return
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
        t = parse_test_line(line)
        if t is not None:
            self._start_test(*t)
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
        for ptr, rec in self._live_in_log_order():
            if not rec[PERSIST]:
                rec[SEG].leaks.append(finding(ptr, rec[SIZE], rec[SITE], rec[LINE]))
        return self

    # -- results ----------------------------------------------------------------
    @property
    def total_leaks(self):
        return sum(len(s.leaks) for s in self.segments)

    @property
    def total_bad_frees(self):
        return sum(s.bad_frees for s in self.segments)

    @property
    def total_faults(self):
        return sum(len(s.faults) for s in self.segments)

    @property
    def highest_max_live(self):
        return max((s.max_live for s in self.segments), default=0)

    def exit_status(self, strict=False):
        if self.total_leaks or self.total_bad_frees or self.total_faults or (strict and self.malformed):
            return 1
        return 0


def _decimate(series):
    """Halves a series, keeping the higher point of each pair (peaks survive)."""
    out = [series[0]]
    for j in range(1, len(series) - 1, 2):
        a, b = series[j], series[j + 1]
        out.append(a if a[1] >= b[1] else b)
    out.append(series[-1])
    return out
