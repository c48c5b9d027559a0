"""The one-pass replay of a log: segments (one per pytest test), live blocks, findings.

Memory is bounded by the live blocks (plus the addresses freed in the current
segment, for double-free detection, and the findings themselves), never by the
log's length. The hot loop, Analyzer.feed(), tests each line with cheap byte
operations before any decoding and inlines the parsing of the four events;
anything unusual goes to the slow path (parse.parse_event) for its message.

Peak bookkeeping: each segment's peak state (the live blocks when its live bytes
were highest) is kept as `snap`, a dict updated lazily from a journal of the
changes since the last peak: amortized O(1) per event, journal bounded by the
live blocks (when it grows past that, the next peak copies the live dict).
"""

from bisect import bisect_left

from . import layout
from .parse import (ParseError, parse_event, parse_test_line, parse_status_line,
                    parse_collected, STATUS_FIRST)

MAX_WARNINGS_KEPT = 1000
SERIES_MAX_POINTS = 100000

# A live block: (size, site bytes, log line, Segment, persistent)
SIZE, SITE, LINE, SEG, PERSIST = range(5)


def site_str(site):
    return site.decode("utf-8", "replace")


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
        self.end_event = 0
        self.leaks = []             # dicts: ptr, size, site, line
        self.reinit_warnings = []
        self.double_frees = []      # dicts: ptr, site, line
        self.invalid_frees = []
        self.persistent = []
        self.overlaps = []          # dicts: ptr, size, site, line, with
        self.outside_heap = []
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
        return bool(self.leaks or self.double_frees or self.invalid_frees)

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
    def __init__(self, plot=False):
        self.segments = []
        self.collected = None
        self.tests = 0
        self.warnings = []          # (source, line, message), the first MAX_WARNINGS_KEPT
        self.malformed = 0
        self.plot = plot
        self.events = 0
        # heap state
        self.heap_base = None
        self.heap_size = None
        self.live = {}
        self.starts = []            # sorted addresses of the live blocks
        self.live_bytes = 0
        self.freed = set()
        self.good_sites = set()  # sites already validated by parse_event
        # peak snapshot
        self.snap = {}
        self.journal = []
        self.stale = False
        self.pending = False
        self.seg = None
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
        self.pending = True
        self.freed.clear()

    def _close_segment(self):
        seg = self.seg
        if self.pending:
            self._resolve()
        base, size = seg.peak_heap
        seg.gap_at_peak = layout.largest_gap(self.snap, base, size)
        seg.peak_sites = layout.group_by_site((r[SITE], r[SIZE]) for r in self.snap.values())[:10]
        seg.gap_at_end = layout.largest_gap(self.live, self.heap_base, self.heap_size)
        seg.end_event = self.events
        if seg.series is not None:
            seg.series.append((self.events, self.live_bytes))

    def _start_test(self, name, status):
        seg = self.seg
        empty_preamble = (seg.ordinal is None and seg.allocations == 0 and not seg.double_frees
                          and not seg.invalid_frees and self.events == seg.start_event)
        if empty_preamble:
            self.segments.pop()
        else:
            self._close_segment()
        self.tests += 1
        self._open_segment(name, self.tests)
        self.seg.status = status

    def _resolve(self):
        """Makes snap the current live state (the segment's peak)."""
        if self.stale:
            self.snap = dict(self.live)
            self.stale = False
        else:
            snap = self.snap
            for ptr, rec in self.journal:
                if rec is None:
                    snap.pop(ptr, None)
                else:
                    snap[ptr] = rec
        self.journal.clear()
        self.pending = False
        self.seg.peak_heap = (self.heap_base, self.heap_size)

    # -- warnings -------------------------------------------------------------
    def warn(self, source, lineno, message):
        self.malformed += 1
        if len(self.warnings) < MAX_WARNINGS_KEPT:
            self.warnings.append((source, lineno, message))

    # -- events (slow path; the fast path in feed() does the same) -------------
    def _init(self, base, size, lineno):
        if self.pending:
            self._resolve()
        seg = self.seg
        for ptr, rec in sorted(self.live.items(), key=lambda kv: kv[1][LINE]):
            if rec[PERSIST]:
                continue
            entry = {"ptr": ptr, "size": rec[SIZE], "site": site_str(rec[SITE]), "line": rec[LINE]}
            if rec[SEG] is seg:
                seg.reinit_warnings.append(entry)
            else:
                rec[SEG].leaks.append(entry)
        self.live.clear()
        self.starts.clear()
        self.live_bytes = 0
        self.freed.clear()
        self.journal.clear()
        self.stale = True
        self.heap_base, self.heap_size = base, size
        seg.heap_base, seg.heap_size = base, size
        if seg.allocations == 0:
            # The peak a test inherited from the previous app run was only
            # provisional: its own first heap event resets the heap.
            seg.max_live = 0
            seg.peak_event = self.events
            seg.peak_heap = (base, size)
            self.snap = {}
        if seg.series is not None:
            seg.series.append((self.events, 0))

    def _alloc(self, size, ptr, site, lineno, persist):
        seg = self.seg
        seg.total_allocated += size
        seg.allocations += 1
        st = seg.sites.get(site)
        if st is None:
            seg.sites[site] = [1, size]
        else:
            st[0] += 1
            st[1] += size
        base = self.heap_base
        if ptr < base or ptr + size > base + self.heap_size:
            seg.outside_heap.append({"ptr": ptr, "size": size, "site": site_str(site), "line": lineno})
        starts = self.starts
        live = self.live
        k = bisect_left(starts, ptr)
        other = None
        if k > 0:
            prev = starts[k - 1]
            if prev + live[prev][SIZE] > ptr:
                other = prev
        if other is None and k < len(starts) and starts[k] < ptr + max(size, 1):
            other = starts[k]
        if other is not None:
            seg.overlaps.append({"ptr": ptr, "size": size, "site": site_str(site), "line": lineno,
                                 "with": other})
        old = live.get(ptr)
        if old is not None:
            self.live_bytes -= old[SIZE]
        else:
            starts.insert(k, ptr)
        rec = (size, site, lineno, seg, persist)
        live[ptr] = rec
        self.journal.append((ptr, rec))
        if persist:
            seg.persistent.append({"ptr": ptr, "size": size, "site": site_str(site), "line": lineno})
        self.live_bytes += size
        if self.live_bytes > seg.max_live:
            seg.max_live = self.live_bytes
            seg.peak_event = self.events
            self.pending = True

    def _free(self, ptr, site, lineno):
        if self.pending:
            self._resolve()
        elif len(self.journal) > 2 * len(self.live) + 256:
            self.journal.clear()
            self.stale = True
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
        self.journal.append((ptr, None))
        self.live_bytes -= rec[SIZE]

    def event(self, ev, lineno, source=None):
        """Applies one parsed event (a parse.parse_event tuple)."""
        self.events += 1
        kind = ev[0]
        if kind == "init":
            self._init(ev[1], ev[2], lineno)
            return
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

    # -- the stream -------------------------------------------------------------
    def feed(self, stream, source=None):
        """Reads a binary stream (iterable of bytes lines) to its end.

        The fast path handles the common alloc and free inline, with no call
        but the builtins; anything else (init, persist, a first-seen site, an
        overlap, a bad free, a pending peak, a malformed line, plotting) goes
        through self._slow(), the reference implementation."""
        lineno = 0
        live, starts, journal, freed = self.live, self.starts, self.journal, self.freed
        good = self.good_sites
        plot = self.plot
        base = self.heap_base
        hend = None if base is None else base + self.heap_size
        # Hot state in locals, written back (sync) before anything else runs.
        seg = self.seg
        sites = seg.sites
        events, live_bytes, pending = self.events, self.live_bytes, self.pending
        total, allocs, seg_max, peak_event = seg.total_allocated, seg.allocations, seg.max_live, seg.peak_event
        for line in stream:
            lineno += 1
            i = line.find(b"==MP ")
            if i >= 0 and base is not None and not plot and (not i or line.find(b".py::", 0, i) < 0):
                kind, _, rest = line[i + 5:].rstrip(b"\r\n").partition(b";")
                try:
                    if kind == b"alloc":
                        size_s, ptr_s, site = rest.split(b";", 2)
                        size = int(size_s)
                        ptr = int(ptr_s, 16)
                        if site not in good or ptr < base or ptr + size > hend or size <= 0:
                            raise ValueError
                        k = bisect_left(starts, ptr)
                        if k:
                            prev = starts[k - 1]
                            if prev + live[prev][0] > ptr:
                                raise ValueError
                        if k < len(starts) and starts[k] < ptr + size:
                            raise ValueError
                        total += size
                        allocs += 1
                        st = sites.get(site)
                        if st is None:
                            sites[site] = [1, size]
                        else:
                            st[0] += 1
                            st[1] += size
                        starts.insert(k, ptr)
                        rec = (size, site, lineno, seg, False)
                        live[ptr] = rec
                        journal.append((ptr, rec))
                        events += 1
                        live_bytes += size
                        if live_bytes > seg_max:
                            seg_max = live_bytes
                            peak_event = events
                            pending = True
                        continue
                    if kind == b"free" and not pending:
                        ptr_s, site = rest.split(b";", 1)
                        ptr = int(ptr_s, 16)
                        if site not in good or ptr not in live:
                            raise ValueError
                        if len(journal) > 2 * len(live) + 256:
                            journal.clear()
                            self.stale = True
                        rec = live.pop(ptr)
                        del starts[bisect_left(starts, ptr)]
                        freed.add(ptr)
                        journal.append((ptr, None))
                        events += 1
                        live_bytes -= rec[0]
                        continue
                except ValueError:
                    pass
            elif i < 0 and not (b".py::" in line or (line[:1] and line[0] in STATUS_FIRST)
                                or b"collected " in line):
                continue
            # Slow path: sync out, run the reference code, sync in.
            self.events, self.live_bytes, self.pending = events, live_bytes, pending
            seg.total_allocated, seg.allocations, seg.max_live, seg.peak_event = total, allocs, seg_max, peak_event
            if i < 0:
                self._other(line)
            else:
                if i and b".py::" in line[:i]:
                    self._other(line[:i])
                self._slow(line[i + 5:].rstrip(b"\r\n"), lineno, source)
            base = self.heap_base
            hend = None if base is None else base + self.heap_size
            seg = self.seg
            sites = seg.sites
            events, live_bytes, pending = self.events, self.live_bytes, self.pending
            total, allocs, seg_max, peak_event = seg.total_allocated, seg.allocations, seg.max_live, seg.peak_event
        self.events, self.live_bytes, self.pending = events, live_bytes, pending
        seg.total_allocated, seg.allocations, seg.max_live, seg.peak_event = total, allocs, seg_max, peak_event

    def _slow(self, payload, lineno, source):
        try:
            ev = parse_event(payload)
        except ParseError as err:
            self.warn(source, lineno, str(err))
            return
        self.good_sites.add(ev[-1] if ev[0] != "init" else None)
        self.event(ev, lineno, source)

    def _other(self, line):
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

    def finish(self):
        """Closes the last segment and reports what is still live as leaks."""
        if self.pending:
            self._resolve()
        self._close_segment()
        for ptr, rec in sorted(self.live.items(), key=lambda kv: kv[1][LINE]):
            if not rec[PERSIST]:
                rec[SEG].leaks.append({"ptr": ptr, "size": rec[SIZE], "site": site_str(rec[SITE]),
                                       "line": rec[LINE]})
        for seg in self.segments:
            seg.leaks.sort(key=lambda l: l["line"])
        return self

    # -- results ----------------------------------------------------------------
    @property
    def total_leaks(self):
        return sum(len(s.leaks) for s in self.segments)

    @property
    def total_bad_frees(self):
        return sum(s.bad_frees for s in self.segments)

    @property
    def highest_max_live(self):
        return max((s.max_live for s in self.segments), default=0)

    def exit_status(self, strict=False):
        if self.total_leaks or self.total_bad_frees or (strict and self.malformed):
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
