"""The text report: per segment the SDK valground.py's lines, then our extras.

Addresses are printed as the log wrote them (so each can be searched for in
the log), followed by their offset in the heap they were in (`heap+0x228`)
when they were inside it: the heap of that time, also after a re-init to
another heap.
"""

RED, GREEN, YELLOW, BOLD, RESET = "\033[31m", "\033[32m", "\033[33m", "\033[1m", "\033[0m"


class Painter:
    def __init__(self, colors):
        self.on = colors

    def __call__(self, code, text):
        return f"{code}{text}{RESET}" if self.on else text


def addr(entry, key="addr", offset="offset"):
    """An address of a finding as logged, with its heap offset when known."""
    text = entry.get(key) or f"0x{entry['ptr']:x}"
    off = entry.get(offset)
    return text if off is None else f"{text} (heap+0x{off:x})"


def plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def header(seg, analyzer):
    if seg.ordinal is None:
        total = len(analyzer.segments)
        head = f"[{seg.index}/{total}] - {seg.name}" if analyzer.tests == 0 else f"[0/{analyzer.collected or analyzer.tests}] - (before the first test)"
    else:
        head = f"[{seg.ordinal}/{analyzer.collected or analyzer.tests}] - {seg.name}"
    if seg.status:
        head += f" {seg.status}"
    return head


def fault_sites(f):
    """What is known of a fault's block, in words (its sites when known)."""
    alloc, freed, known = f["alloc_site"], f["free_site"], f["known"]
    if freed is not None:
        first = f"allocated at {alloc}" if alloc is not None else "allocation site not recorded"
        return f"{first}, first freed at {freed}"
    if alloc is not None:
        return f"allocated at {alloc}"
    if known == "table-full":
        return "allocation site not recorded (site table full)"
    return "sites unknown"


def fault_text(f, where):
    """One fault: name, code, address (where(fault)), log line and sites."""
    return (f"{f['name']} (code {f['code']}) at {where(f)} (log line {f['line']}): "
            f"{fault_sites(f)}")


def site_rows(rows, limit=5):
    return [f"    {r['site']}: {plural(r['count'], 'block')}, {r['bytes']} bytes" for r in rows[:limit]]


def segment_lines(seg, analyzer, quiet, paint):
    out = [paint(BOLD, header(seg, analyzer))]
    for l in seg.leaks:
        out.append(paint(RED, f"LEAK: {l['size']} bytes at {addr(l)} "
                              f"allocated at {l['site']} (log line {l['line']})"))
    for f in seg.double_frees:
        out.append(paint(RED, f"DOUBLE FREE: {addr(f)} at {f['site']} (log line {f['line']})"))
    for f in seg.invalid_frees:
        out.append(paint(RED, f"INVALID FREE: {addr(f)} (never allocated) at {f['site']} "
                              f"(log line {f['line']})"))
    for t in seg.allocated_twice:
        out.append(paint(RED, f"ALLOCATED TWICE: {t['size']} bytes at {addr(t)} allocated at {t['site']} "
                              f"(log line {t['line']}) while live since {t['first_site']} "
                              f"({t['first_size']} bytes, log line {t['first_line']}), without a free: "
                              f"the allocator handed out a live block, or a free line was lost"))
    for f in seg.faults:
        out.append(paint(RED, "FAULT: " + fault_text(f, addr)))
    for o in seg.overlaps:
        out.append(paint(RED, f"OVERLAP: {o['size']} bytes at {addr(o)} ({o['site']}, log line "
                              f"{o['line']}) overlaps the live block at {o['with_addr']}"))
    for o in seg.outside_heap:
        out.append(paint(RED, f"OUTSIDE HEAP: {o['size']} bytes at {addr(o)} ({o['site']}, "
                              f"log line {o['line']})"))
    if not quiet:
        for w in seg.reinit_warnings:
            out.append(paint(YELLOW, f"WARNING: re-init while live: {w['size']} bytes at "
                                     f"{addr(w)} allocated at {w['site']} (log line {w['line']})"))
    out.append("=== Summary ===")
    out.append(f"Total overtime = {seg.total_allocated} bytes")
    pct = seg.max_live_percent
    full = f" ({pct:.2f}% full)" if pct is not None else ""
    out.append(f"Max overtime = {seg.max_live} bytes{full}")
    out.append(f"Allocations = {seg.allocations}")
    if seg.failed_allocations:
        out.append(f"Failed allocations (logged at 0x0) = {seg.failed_allocations}")
    if not quiet:
        if seg.persistent:
            out.append(f"Persistent = {plural(len(seg.persistent), 'block')}, "
                       f"{sum(p['size'] for p in seg.persistent)} bytes")
            for p in seg.persistent:
                out.append(f"    {p['size']} bytes at {addr(p)} allocated at {p['site']} "
                           f"(log line {p['line']})")
        if seg.gap_at_peak is not None or seg.gap_at_end is not None:
            g = lambda v: "-" if v is None else f"{v} bytes"
            out.append(f"Largest free gap = {g(seg.gap_at_peak)} at peak, {g(seg.gap_at_end)} at end")
        if seg.sites:
            out.append("Top sites by bytes:")
            out += site_rows(seg.top_sites("bytes"))
            out.append("Top sites by count:")
            out += site_rows(seg.top_sites("count"))
        if seg.peak_sites:
            out.append("Live at peak:")
            out += site_rows(seg.peak_sites)
    if seg.leaks:
        out.append(paint(RED, f"Memory leak detected: {plural(len(seg.leaks), 'block')}, "
                              f"{sum(l['size'] for l in seg.leaks)} bytes"))
        out += [paint(RED, r) for r in site_rows(seg.leak_sites(), limit=1000)]
    else:
        out.append(paint(GREEN, "No memory leak detected, congrats!"))
    if seg.bad_frees:
        out.append(paint(RED, f"Bad frees: {len(seg.double_frees)} double, {len(seg.invalid_frees)} invalid"))
    if seg.allocated_twice:
        out.append(paint(RED, f"Allocated twice: {plural(len(seg.allocated_twice), 'block')}"))
    if seg.faults:
        out.append(paint(RED, f"Faults: {len(seg.faults)}"))
    return out


def render(analyzer, quiet=False, colors=False, strict=False, shortcut=True):
    """The report. shortcut: a quiet segment without findings in one
    f-string (a third of the time on 80,000 tests), the lines segment_lines
    gives (tests/analyzer/test_differential.py compares the two)."""
    paint = Painter(colors)
    out = []
    append = out.append
    congrats = paint(GREEN, "No memory leak detected, congrats!")
    for seg in analyzer.segments:
        if (shortcut and quiet and not (seg.leaks or seg.double_frees or seg.invalid_frees or seg.allocated_twice
                           or seg.faults or seg.overlaps or seg.outside_heap or seg.failed_allocations)):
            # the common case of -q, in one string: what segment_lines gives
            pct = seg.max_live_percent
            full = f" ({pct:.2f}% full)" if pct is not None else ""
            append(f"{paint(BOLD, header(seg, analyzer))}\n=== Summary ===\n"
                   f"Total overtime = {seg.total_allocated} bytes\n"
                   f"Max overtime = {seg.max_live} bytes{full}\n"
                   f"Allocations = {seg.allocations}\n{congrats}\n")
            continue
        out += segment_lines(seg, analyzer, quiet, paint)
        append("")
    out.append(paint(BOLD, "=== Global ==="))
    out.append(f"Higher Max overtime = {analyzer.highest_max_live} bytes")
    out.append(f"Segments = {len(analyzer.segments)}")
    leaks, bad = analyzer.total_leaks, analyzer.total_bad_frees
    out.append(paint(RED if leaks else GREEN, f"Leaks = {leaks}"))
    out.append(paint(RED if bad else GREEN, f"Bad frees = {bad}"))
    twice = analyzer.total_allocated_twice
    if twice:
        out.append(paint(RED, f"Allocated twice = {twice}"))
    faults = analyzer.total_faults
    out.append(paint(RED if faults else GREEN, f"Faults = {faults}"))
    if analyzer.malformed:
        out.append(paint(RED if strict else YELLOW, f"Malformed lines = {analyzer.malformed}"))
    return "\n".join(out) + "\n"


def warning_lines(analyzer, strict=False):
    kind = "error" if strict else "warning"
    lines = []
    for source, lineno, message in analyzer.warnings:
        where = f"{source}:{lineno}" if source else f"line {lineno}"
        lines.append(f"valground: {kind}: {where}: {message}")
    hidden = analyzer.malformed - len(analyzer.warnings)
    if hidden > 0:
        lines.append(f"valground: {kind}: ... and {hidden} more malformed lines")
    return lines
