"""Reading a log: blocks of text, split at pytest's lines, events parsed by one regex.

Why it is shaped like this: per-line Python work is what limits an analyzer in
Python (a few hundred nanoseconds per line however tight the loop). So the
text is read in blocks of several MiB; in each block, the lines that may
change the test being reported (a `path::name` test line, `collected N items`,
a status line while the test has no status) are found with bytes.find and
handled one by one (Reader.special_line); between them, one regex.findall
turns every `==MP ` occurrence into a tuple in C, and the loop in fast_run
applies the common alloc and free with a handful of builtin calls each.
Anything else (init, persist, a malformed line, an overlap, a block outside
the heap, a bad free, an event before any init) goes to the reference
methods of model.Analyzer, in order.

Line numbers: the fast loop does not track them. Every `==MP ` occurrence has
a sequence number; a block made on the fast path keeps its number, and its
line is found only if the block is still live when a line is needed (an
init, the end of the block of text, the end of the log) by running the same
regex again over the region that holds it (Reader.line_of). The count of
newlines advances a cursor through the text, so all of it is counted once.
"""

import gc
import re
from bisect import bisect_left, bisect_right
from itertools import islice

from .model import END_SENTINEL, LINE, SEQ
from .parse import split_event

BLOCK_SIZE = 8 << 20

# Group 1: the size (empty for a free); 2: the pointer's hex digits; 3: the
# site; or, all three empty, 4: anything else after `==MP ` (init, persist,
# a malformed line), for the reference parser. A fast form must end the line (`\n`), so a line with CR LF, a field too many
# or a site without `:<line>` is "anything else", and the parser names the
# problem. The same regex finds an event back (Reader.line_of).
EVENT_RE = re.compile(
    rb"==MP (?:(?:alloc;([1-9][0-9]*);|free;)0x([0-9a-f]+);([^\n]*:[0-9]+)\n|([^\n]*))")
STATUS_WORDS = (b"PASSED", b"FAILED", b"ERROR", b"SKIPPED", b"XFAIL", b"XPASS")
STATUS_AFTER_NEWLINE = re.compile(rb"\n(?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)")


def blocks(stream, size):
    """The stream's text in pieces of about `size` bytes, each ending with a
    newline (one is added at the end of a last line that lacks it)."""
    read = getattr(stream, "read", None)
    if read is None:
        parts, n = [], 0
        for line in stream:
            parts.append(line)
            n += len(line)
            if n >= size and line.endswith(b"\n"):
                yield b"".join(parts)
                parts, n = [], 0
        if parts:
            text = b"".join(parts)
            yield text if text.endswith(b"\n") else text + b"\n"
        return
    carry = b""
    while True:
        chunk = read(size)
        if not chunk:
            break
        text = carry + chunk if carry else chunk
        cut = text.rfind(b"\n") + 1
        if cut == 0:
            carry = text
            continue
        if cut == len(text):
            carry = b""
            yield text
        else:
            carry = text[cut:]
            yield text[:cut]
    if carry:
        yield carry + b"\n"


TABLE_MAX = 1 << 16


def by_table(table, texts, base):
    """[int(t, base) for t in texts] through a table of the texts seen: a
    log has a few hundred distinct sizes and a few thousand addresses, and a
    dict lookup in C costs half of int(). `b""` is 0 (a free's size)."""
    try:
        return list(map(table.__getitem__, texts))
    except KeyError:
        if len(table) > TABLE_MAX:
            table.clear()
            table[b""] = 0
        for t in set(texts).difference(table):
            table[t] = int(t, base)
        return list(map(table.__getitem__, texts))


class Reader:
    """Feeds one stream to an Analyzer."""

    def __init__(self, analyzer, source):
        self.a = analyzer
        self.source = source
        self.text = b""
        # where the fast path's events are: parallel lists, one entry per region
        self.region_seq = []        # number of the region's first event
        self.region_span = []       # (start, end) in self.text
        self.it = None              # EVENT_RE.finditer over region it_region, at event it_k
        self.it_region = -1
        self.it_k = -1
        self.cur_pos = 0            # line cursor: cur_line newlines before cur_pos
        self.cur_line = 0
        self.size_of = {b"": 0}     # number text -> int (by_table)
        self.ptr_of = {b"": 0}

    def run(self, stream):
        a = self.a
        lines_before = 0
        # The cyclic collector would walk every tuple findall makes (and the
        # live blocks) again and again: nothing here makes a cycle it must
        # break, so it is paused for the read (a third of the time otherwise).
        collecting = gc.isenabled()
        gc.disable()
        try:
            for text in blocks(stream, a.block_size or BLOCK_SIZE):
                self.block(text, lines_before)
                # the newlines the cursor has not counted yet
                lines_before = self.cur_line + text.count(b"\n", self.cur_pos)
        finally:
            a.resolver = None
            if collecting:
                gc.enable()

    # -- where an event is ------------------------------------------------------
    def line_at(self, pos):
        """The line number (from 1) of the line holding text position pos."""
        if pos >= self.cur_pos:
            self.cur_line += self.text.count(b"\n", self.cur_pos, pos)
            self.cur_pos = pos
            return self.cur_line + 1
        return self.cur_line - self.text.count(b"\n", pos, self.cur_pos) + 1

    def line_of(self, seq):
        """The line of event `seq` of a region of the current text: the same
        regex run again over its region, from the last event found there
        when that is before it (callers ask in increasing order)."""
        i = bisect_right(self.region_seq, seq) - 1
        k = seq - self.region_seq[i]
        if i == self.it_region and k > self.it_k:
            m = next(islice(self.it, k - self.it_k - 1, None))
        else:
            start, end = self.region_span[i]
            self.it = EVENT_RE.finditer(self.text, start, end)
            self.it_region = i
            m = next(islice(self.it, k, None))
        self.it_k = k
        return self.line_at(m.start())

    def resolve(self):
        """Gives a line to every live block made on the fast path."""
        live = self.a.live
        todo = sorted((rec[SEQ], ptr) for ptr, rec in live.items() if rec[LINE] is None)
        for seq, ptr in todo:
            rec = live[ptr]
            live[ptr] = rec[:LINE] + (self.line_of(seq),) + rec[LINE + 1:]

    # -- a block of text ----------------------------------------------------------
    def block(self, text, lines_before):
        a = self.a
        self.text = text
        self.region_seq, self.region_span = [], []
        self.it, self.it_region, self.it_k = None, -1, -1
        self.cur_pos, self.cur_line = 0, lines_before
        a.resolver = self.resolve
        n = len(text)
        find, rfind = text.find, text.rfind
        pos = 0
        test_at = collected_at = status_at = -1     # next occurrence at or after pos, n if none
        while pos < n:
            if test_at < pos:
                test_at = find(b".py::", pos)
                if test_at < 0:
                    test_at = n
            if collected_at < pos:
                collected_at = find(b"collected ", pos)
                if collected_at < 0:
                    collected_at = n
            special = min(test_at, collected_at)
            if special < n:
                special = rfind(b"\n", pos, special) + 1 or pos
            seg = a.seg
            if seg.ordinal is not None and seg.status is None:
                if status_at < pos:
                    if pos == 0 and text.startswith(STATUS_WORDS):
                        status_at = 0
                    else:
                        m = STATUS_AFTER_NEWLINE.search(text, pos - 1 if pos else 0)
                        status_at = m.start() + 1 if m else n
                if status_at < special:
                    special = status_at
            if special > pos:
                self.region(pos, special)
            if special >= n:
                break
            end = find(b"\n", special) + 1
            self.special_line(special, end)
            pos = end
        self.resolve()
        a.trim_frecs()

    def special_line(self, start, end):
        """A line that may be pytest's, handled whole as the reference does."""
        a = self.a
        line = self.text[start:end]
        event = split_event(line)
        if event is None:
            a.other(line)
            return
        before, payload = event
        if b".py::" in before:
            a.other(before)
        a.seq += 1
        a.payload(payload, lambda: self.line_at(start), self.source)

    def region(self, start, end):
        """The lines in [start, end): none of them is pytest's."""
        a = self.a
        events = EVENT_RE.findall(self.text, start, end)
        if not events:
            return
        first = a.seq + 1
        self.region_seq.append(first)
        self.region_span.append((start, end))
        if a.plot:
            for k, ev in enumerate(events):
                a.seq = first + k
                self.slow_event(ev)
            return
        sizes, ptrs, sites, _others = zip(*events)
        n = len(events)
        k = 0
        while k < n:
            try:
                stop = ptrs.index(b"", k)
            except ValueError:
                stop = n
            if stop > k:
                self.fast_run(first + k, sizes[k:stop], ptrs[k:stop], sites[k:stop])
            if stop < n:
                a.seq = first + stop
                self.slow_event(events[stop])
            k = stop + 1
        a.seq = first + n - 1

    def slow_event(self, ev):
        """One event through the reference; a.seq is its number."""
        a = self.a
        size, ptr, site, other = ev
        seq = a.seq
        if not ptr:
            a.payload(other.rstrip(b"\r"), lambda: self.line_of(seq), self.source)
        elif size:
            a.event(("alloc", int(size), int(ptr, 16), site), lambda: self.line_of(seq), self.source)
        else:
            a.event(("free", int(ptr, 16), site), lambda: self.line_of(seq), self.source)

    def fast_run(self, first, sizes, ptrs, sites):
        """Events first, first + 1, ... (well-formed alloc and free lines):
        applied inline; a block outside the heap or overlapping a live one,
        a free of a block not live, and any event before an init go to
        slow_event, and the loop resumes after it."""
        a = self.a
        live, starts, freed, frecs = a.live, a.starts, a.freed, a.frecs
        insert, pop, add, keep = starts.insert, live.pop, freed.add, frecs.append
        events = zip(by_table(self.size_of, sizes, 10), by_table(self.ptr_of, ptrs, 16), sites)
        seq = first - 1
        while True:
            seg = a.seg
            seg_sites = seg.sites
            base = a.heap_base
            if base is None:
                base, hend = END_SENTINEL, 0
            else:
                hend = base + a.heap_size
            live_bytes, peak_bytes = a.live_bytes, seg.max_live
            total, count = seg.total_allocated, seg.allocations
            peak = None
            odd = None
            for size, ptr, site in events:
                seq += 1
                if size:
                    end = ptr + size
                    if ptr < base or end > hend:
                        odd = ("alloc", size, ptr, site)
                        break
                    k = bisect_left(starts, ptr)
                    if k:
                        prev = starts[k - 1]
                        if prev + live[prev][0] > ptr:
                            odd = ("alloc", size, ptr, site)
                            break
                    if starts[k] < end:
                        odd = ("alloc", size, ptr, site)
                        break
                    insert(k, ptr)
                    total += size
                    count += 1
                    st = seg_sites.get(site)      # layout.add_site, inlined
                    if st is None:
                        seg_sites[site] = [1, size]
                    else:
                        st[0] += 1
                        st[1] += size
                    live[ptr] = (size, site, None, seg, False, ptr, seq)
                    live_bytes += size
                    if live_bytes > peak_bytes:
                        peak_bytes = live_bytes
                        peak = seq
                        if frecs:
                            frecs.clear()
                    continue
                rec = pop(ptr, None)
                if rec is None:
                    odd = ("free", ptr, site)
                    break
                del starts[bisect_left(starts, ptr)]
                add(ptr)
                keep(rec)
                live_bytes -= rec[0]
            a.live_bytes = live_bytes
            seg.total_allocated, seg.allocations = total, count
            if peak is not None:
                seg.max_live = peak_bytes
                a.peak_seq = peak
                a.snap = None
            if odd is None:
                a.trim_frecs()
                return
            a.seq = seq
            a.event(odd, lambda: self.line_of(seq), self.source)
