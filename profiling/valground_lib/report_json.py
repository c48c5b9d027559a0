"""The --json document (format in profiling/README.md)."""

import json

from . import VERSION


TEXT_ONLY = ("addr", "offset", "with_addr", "first_addr")   # the text report's spellings


def _hex(entries, keys=("ptr",)):
    if not entries:
        return []
    out = []
    for e in entries:
        e = {k: v for k, v in e.items() if k not in TEXT_ONLY}
        for k in keys:
            if k in e:
                e[k] = f"0x{e[k]:x}"
        out.append(e)
    return out


def segment_doc(seg):
    pct = seg.max_live_percent
    by_bytes, by_count = seg.top_sites_both()
    return {
        "index": seg.index,
        "test": seg.ordinal,
        "name": seg.name,
        "status": seg.status,
        "heap_size": seg.heap_size,
        "total_allocated": seg.total_allocated,
        "max_live": seg.max_live,
        "max_live_percent": None if pct is None else round(pct, 4),
        "allocations": seg.allocations,
        "leaks": _hex(seg.leaks),
        "reinit_warnings": _hex(seg.reinit_warnings),
        "double_frees": _hex(seg.double_frees),
        "invalid_frees": _hex(seg.invalid_frees),
        "persistent": _hex(seg.persistent),
        "overlaps": _hex(seg.overlaps, ("ptr", "with")),
        "outside_heap": _hex(seg.outside_heap),
        "allocated_twice": _hex(seg.allocated_twice),
        "failed_allocations": seg.failed_allocations,
        "faults": _hex(seg.faults),
        "largest_free_gap_at_peak": seg.gap_at_peak,
        "largest_free_gap_at_end": seg.gap_at_end,
        "leak_sites": seg.leak_sites() if seg.leaks else [],
        "top_sites_by_bytes": by_bytes,
        "top_sites_by_count": by_count,
        "peak_sites": seg.peak_sites,
    }


def document(analyzer, strict=False, segments=True):
    """The document; segments=False leaves the segments out (the C core rendered them)."""
    doc = {"version": VERSION}
    if segments:
        doc["segments"] = [segment_doc(s) for s in analyzer.segments]
    doc.update({
        "global": {
            "highest_max_live": analyzer.highest_max_live,
            "segments": analyzer.segment_count(),
            "leaks": analyzer.total_leaks,
            "bad_frees": analyzer.total_bad_frees,
            "allocated_twice": analyzer.total_allocated_twice,
            "faults": analyzer.total_faults,
            "malformed_lines": analyzer.malformed,
            "warnings": [{"line": n, "message": (f"{src}: {m}" if src else m)}
                         for src, n, m in analyzer.warnings],
        },
        "exit_status": analyzer.exit_status(strict),
    })
    return doc


def write(analyzer, path, strict=False):
    """One segment per line: json's C encoder (indent= falls back to the
    pure-Python one, five times slower on a long log), still readable and
    diffable; `python3 -m json.tool FILE` pretty-prints it."""
    rendered = getattr(analyzer, "core_json", None)
    if rendered is not None:
        # the C core rendered the segments (profiling/valground_core/vg_json.c, the
        # same bytes as below: tests/analyzer/test_core.py compares them)
        doc = document(analyzer, strict, segments=False)
        with open(path, "wb") as f:
            f.write(b'{"segments": [\n')
            f.write(rendered)
            f.write(("\n],\n" + json.dumps(doc)[1:] + "\n").encode())
        return
    doc = document(analyzer, strict)
    segments = doc.pop("segments")
    head = json.dumps(doc)
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"segments": [\n')
        f.write(",\n".join(map(json.dumps, segments)))
        f.write("\n],\n" + head[1:] + "\n")
