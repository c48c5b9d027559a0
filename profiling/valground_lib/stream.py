"""Reading a log: blocks of text, split at pytest's lines, events parsed by one regex.

Why it is shaped like this: per-line Python work is what limits an analyzer in
Python (a few hundred nanoseconds per line however tight the loop). So the
text is read in blocks of several MiB (scan.blocks); in each block, the lines
that may change the test being reported (a line holding `::`, `collected N
items`) and the fault lines (`==MP! `, rare, and never seen by the regex
below) are found with bytes.find and handled one by one
(Reader.special_line); a status line while the test has no status is found
with scan.StatusLines and read without cutting the text; between them, one regex.findall turns every `==MP `
occurrence into a tuple in C, and the loop in fast_run applies the common
alloc and free with a handful of builtin calls each, straight from those
tuples. Anything else (init, a malformed line, an overlap, an alloc at a
live address, at 0x0 or outside the heap, a bad free, an event before any
init) goes to the reference methods of model.Analyzer, in order.

Line numbers: the fast loop does not track them. Every `==MP ` occurrence has
a sequence number; a block made on the fast path keeps its number, and its
line is found only if the block is still live when a line is needed (an
init, the end of the block of text, the end of the log) by running the same
regex again over the region that holds it (Reader.match_of). The count of
newlines (scan.newlines) advances a cursor through the text, so all of it is
counted once.
"""

import gc
import re
from bisect import bisect_left, bisect_right
from functools import partial
from itertools import islice

from .record import END_SENTINEL, LINE, SEQ
from .parse import FAULT_MARK, MARK, split_event, split_fault
from .scan import StatusLines, blocks, newlines

BLOCK_SIZE = 8 << 20

# An alloc or persist: groups 1 (`persist` or empty), 2 (size), 3 (pointer's
# hex digits), 4 (site); a free: group 5 (pointer; its site is read again
# only for a bad free, see Reader.match_of); anything else after `==MP `
# (init, a malformed line): group 6, for the reference parser. A fast form must end the line
# (`\n`), so a line with CR LF, a field too many or a site without `:<line>`
# is "anything else", and the parser names the problem. So is a number that
# may not fit 64 bits (over 19 digits, 16 hex digits): the parser checks the
# limit, so the fast path needs no check. The same regex finds an event back
# (Reader.match_of).
#
# A fast form also has its address as the writers spell it (no leading
# zero, lower case: the report prints it as logged). A line with a second
# `==MP ` (a lost newline) would have it swallowed into a site: a region
# where findall finds fewer events than markers is read again with
# STRICT_RE, whose sites hold no `=`, so the parser splits those lines
# (excluding `=` from every site costs a quarter of findall's time).
EVENT_PATTERN = (
    rb"==MP (?:(?:alloc|(persist));([1-9][0-9]{0,18});0x([1-9a-f][0-9a-f]{0,15});(SITE:[0-9]+)\n"
    rb"|free;0x([1-9a-f][0-9a-f]{0,15});(?:SITE:[0-9]+)\n|([^\n]*))")
EVENT_RE = re.compile(EVENT_PATTERN.replace(b"SITE", rb"[^\n]*"))
STRICT_RE = re.compile(EVENT_PATTERN.replace(b"SITE", rb"[^\n=]*"))
# An init as the writers spell it (what parse.parse_event reads to the same
# numbers; 16 hex and 19 decimal digits fit 64 bits): read here, once per
# test on a transcript of short tests, without the parser's general path.
INIT_RE = re.compile(rb"init;0x([0-9a-f]{1,16});([0-9]{1,19})")
TABLE_MAX = 1 << 16         # numbers remembered per table (Reader.learn)


def _first(pair):
    return pair[0]


class Reader:
    """Feeds one stream to an Analyzer."""

    def __init__(self, analyzer, source):
        self.a = analyzer
        self.source = source
        self.text = b""
        # where the fast path's events are: parallel lists, one entry per region
        self.region_seq = []        # number of the region's first event
        self.region_span = []       # (start, end) in self.text
        self.region_re = []         # the regex that read it
        self.it = None              # EVENT_RE.finditer over region it_region, at event it_k
        self.it_region = -1
        self.it_k = -1
        self.it_m = None
        self.cur_pos = 0            # line cursor: cur_line newlines before cur_pos
        self.cur_line = 0
        # number text -> int (learn): a dict lookup costs half of int().
        # ptr_of has no b"", so that a line that is neither alloc nor free
        # (no pointer group) misses like a pointer not seen yet
        self.size_of = {b"": 0}
        self.ptr_of = {}

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
                lines_before = self.cur_line + newlines(text, self.cur_pos, len(text))
        finally:
            a.resolver = None
            if collecting:
                gc.enable()

    # -- where an event is ------------------------------------------------------
    def line_at(self, pos):
        """The line number (from 1) of the line holding text position pos."""
        if pos >= self.cur_pos:
            self.cur_line += newlines(self.text, self.cur_pos, pos)
            self.cur_pos = pos
            return self.cur_line + 1
        return self.cur_line - newlines(self.text, pos, self.cur_pos) + 1

    def match_of(self, seq):
        """The match of event `seq` of a region of the current text: the same
        regex run again over its region, from the last event found there
        when that is not after it (callers ask in increasing order)."""
        i = bisect_right(self.region_seq, seq) - 1
        k = seq - self.region_seq[i]
        if i == self.it_region and k >= self.it_k:
            if k > self.it_k:
                self.it_m = next(islice(self.it, k - self.it_k - 1, None))
        else:
            start, end = self.region_span[i]
            self.it = self.region_re[i].finditer(self.text, start, end)
            self.it_region = i
            self.it_m = next(islice(self.it, k, None))
        self.it_k = k
        return self.it_m

    def free_site(self, seq):
        """The site of free event `seq` (the fast path does not capture it)."""
        m = self.match_of(seq)
        return m.string[m.end(5) + 1:m.end() - 1]

    def line_of(self, seq):
        """The line of event `seq` of a region of the current text."""
        return self.line_at(self.match_of(seq).start())

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
        self.region_seq, self.region_span, self.region_re = [], [], []
        self.it, self.it_region, self.it_k = None, -1, -1
        self.cur_pos, self.cur_line = 0, lines_before
        a.resolver = self.resolve
        n = len(text)
        find, rfind = text.find, text.rfind
        pos = 0
        # next occurrence at or after pos, n if none
        test_at = collected_at = status_at = fault_at = -1
        statuses = StatusLines(text)
        while pos < n:
            if test_at < pos:
                test_at = find(b"::", pos)
                if test_at < 0:
                    test_at = n
            if collected_at < pos:
                collected_at = find(b"collected ", pos)
                if collected_at < 0:
                    collected_at = n
            if fault_at < pos:
                fault_at = find(FAULT_MARK, pos)
                if fault_at < 0:
                    fault_at = n
            special = min(test_at, collected_at, fault_at)
            if special < n:
                special = rfind(b"\n", pos, special) + 1 or pos
            seg = a.seg
            # A status line changes no test: the region is not cut there,
            # the status goes to the test the region belongs to.
            while seg.ordinal is not None and seg.status is None:
                if status_at < pos:
                    status_at = statuses.first(pos)
                if status_at >= special:
                    break
                stop = find(b"\n", status_at) + 1
                a.other(text[status_at:stop])
                status_at = statuses.first(stop) if stop < n else n
            if special > pos:
                self.region(pos, special)
            if special >= n:
                break
            end = find(b"\n", special) + 1
            self.special_line(special, end)
            pos = end
        pending = a.pending_lines
        if pending:
            pending.sort(key=_first)
            for seq, entry in pending:
                entry["line"] = self.line_of(seq)
            pending.clear()
        self.resolve()
        a.trim_frecs()

    def special_line(self, start, end):
        """A line that may be pytest's, handled whole as the reference does."""
        a = self.a
        line = self.text[start:end]
        if b"==MP" not in line:
            # the common case: a test line (split_fault and split_event find no marker)
            a.other(line)
            return
        fault = split_fault(line)
        if fault is not None:
            before, payload = fault
            if b"::" in before:
                a.other(before)
            a.fault(payload, lambda: self.line_at(start), self.source)
            return
        event = split_event(line)
        if event is None:
            a.other(line)
            return
        before, payload = event
        if b"::" in before:
            a.other(before)
        a.seq += 1
        a.payload(payload, lambda: self.line_at(start), self.source)

    def region(self, start, end):
        """The lines in [start, end): none of them is pytest's."""
        a = self.a
        regex = EVENT_RE
        events = regex.findall(self.text, start, end)
        if not events:
            return
        if len(events) != self.text.count(MARK, start, end):
            regex = STRICT_RE
            events = regex.findall(self.text, start, end)
        first = a.seq + 1
        self.region_seq.append(first)
        self.region_span.append((start, end))
        self.region_re.append(regex)
        if a.plot:
            for k, ev in enumerate(events):
                a.seq = first + k
                self.slow_event(ev)
        else:
            self.fast_run(first, events)
        a.seq = first + len(events) - 1

    def slow_event(self, ev):
        """One event (findall's tuple) through the reference; a.seq is its number."""
        a = self.a
        persist, size, ptr, site, fptr, other = ev
        where = partial(self.line_of, a.seq)
        if size:
            a.event(("persist" if persist else "alloc", int(size), int(ptr, 16), site), where, self.source)
        elif fptr:
            a.event(("free", int(fptr, 16), self.free_site(a.seq)), where, self.source)
        else:
            a.payload(other.rstrip(b"\r"), where, self.source)

    def learn(self, size, ptr):
        """The numbers of an alloc's or free's fields not in the tables yet."""
        for table, text, base in ((self.size_of, size, 10), (self.ptr_of, ptr, 16)):
            if text not in table:
                if len(table) > TABLE_MAX:
                    table.clear()
                    table[b""] = 0
                table[text] = int(text, base)
        return self.size_of[size], self.ptr_of[ptr]

    def fast_run(self, first, events):
        """Events first, first + 1, ... (findall's tuples) applied inline
        when they are well-formed alloc and free lines; any other `==MP `
        line, a block outside the heap or overlapping a live one, a free of
        a block not live, and any event before an init go to the reference,
        and the loop resumes after it."""
        a = self.a
        live, starts, freed, frecs = a.live, a.starts, a.freed, a.frecs
        insert, pop, add, keep = starts.insert, live.pop, freed.add, frecs.append
        # straight from findall's tuples: transposing them into columns first
        # (zip(*events)) and mapping the columns cost 0.16 s more on
        # bench_speed's transcript
        size_of, ptr_of = self.size_of, self.ptr_of
        # lean (model.Analyzer): no site tables, no blocks freed since the peak
        full = not a.lean
        init_match = INIT_RE.fullmatch
        events = iter(events)
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
            for seq, (persist, size_text, ptr_text, site, free_text, other) in enumerate(events, seq + 1):
                if free_text:
                    try:
                        ptr = ptr_of[free_text]
                    except KeyError:
                        ptr = self.learn(b"", free_text)[1]
                    rec = pop(ptr, None)
                    if rec is None:
                        odd = ptr
                        break
                    del starts[bisect_left(starts, ptr)]
                    add(ptr)
                    if full:
                        keep(rec)
                    live_bytes -= rec[0]
                    continue
                try:
                    size = size_of[size_text]
                    ptr = ptr_of[ptr_text]
                except KeyError:
                    if not size_text:
                        odd = other
                        break
                    size, ptr = self.learn(size_text, ptr_text)
                end = ptr + size
                if ptr < base or end > hend:
                    odd = ("persist" if persist else "alloc", size, ptr, site)
                    break
                k = bisect_left(starts, ptr)
                if k:
                    prev = starts[k - 1]
                    if prev + live[prev][0] > ptr:
                        odd = ("persist" if persist else "alloc", size, ptr, site)
                        break
                if starts[k] < end:
                    odd = ("persist" if persist else "alloc", size, ptr, site)
                    break
                insert(k, ptr)
                total += size
                count += 1
                if full:
                    st = seg_sites.get(site)      # layout.add_site, inlined
                    if st is None:
                        seg_sites[site] = [1, size]
                    else:
                        st[0] += 1
                        st[1] += size
                live[ptr] = (size, site, None, seg, not not persist, ptr, seq)
                live_bytes += size
                if live_bytes > peak_bytes:
                    peak_bytes = live_bytes
                    peak = seq
                    if frecs:
                        frecs.clear()
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
            # partial, not a lambda: a closure would make seq a cell variable,
            # slower in the loop
            where = partial(self.line_of, seq)
            if type(odd) is int:
                # a bad free: its site, not captured on the fast path
                a.event(("free", odd, self.free_site(seq)), where, self.source)
            elif type(odd) is bytes:
                m = init_match(odd)
                if m is not None:
                    a.event(("init", int(m[1], 16), int(m[2])), where, self.source)
                else:
                    a.payload(odd.rstrip(b"\r"), where, self.source)
            else:
                a.event(odd, where, self.source)
