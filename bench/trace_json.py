"""Reading trace_replay's JSON (bench/trace/replay.c --json): shared by bench/run and bench/report.

Python 3 standard library only. The document: {"rounds", "arena_factor",
["arena"], "peers": [{name, api, kind, path}], "traces": [{trace, program,
ops, peak_live_bytes, allocators: [{name, key, api, kind, ns_per_op,
failures, [smallest_arena, arena, arena_over_peak], [instructions_per_op,
alloc_instructions_per_op]}]}], "notes"}; the instruction counts are there
once bench/trace/instructions --merge has counted them (the allocator's own:
without the replay loop's and the fallbacks' memset and memcpy). The tables:
rows are the allocators (in the replayer's order), columns the traces (their
program's name).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gbench_json  # noqa: E402

LoadError = gbench_json.LoadError


def is_trace_doc(data):
    return isinstance(data, dict) and isinstance(data.get("traces"), list) and \
        "benchmarks" not in data


def load(path):
    """The document, its traces cut down to the well-formed entries; LoadError with one line."""
    data = gbench_json.read_json(path)
    if not is_trace_doc(data):
        raise LoadError("%s: not trace_replay JSON (no \"traces\" list)" % path)
    traces = []
    for t in data["traces"]:
        if not isinstance(t, dict) or not isinstance(t.get("allocators"), list):
            continue
        allocs = [a for a in t["allocators"] if isinstance(a, dict) and
                  isinstance(a.get("name"), str) and is_num(a.get("ns_per_op"))]
        if allocs:
            t["allocators"] = allocs
            traces.append(t)
    if not traces:
        raise LoadError("%s: no trace in the file" % path)
    data["traces"] = traces
    return data


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def labels(traces):
    """A column title per trace: its program, with the file's name when two share it."""
    progs = [str(t.get("program") or "?") for t in traces]
    return [p if progs.count(p) == 1 else
            "%s (%s)" % (p, os.path.basename(str(t.get("trace", "?"))))
            for p, t in zip(progs, traces)]


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


def collect(doc):
    """(columns, allocators in order, cell(alloc, col, field) -> value or None)."""
    traces = doc["traces"]
    cols = labels(traces)
    names, keys, kinds = [], {}, {}
    by = {}
    for ci, t in enumerate(traces):
        for a in t["allocators"]:
            n = a["name"]
            if n not in names:
                names.append(n)
                keys[n] = a.get("key") or n
                kinds[n] = a.get("kind") or ("arena" if "arena" in a else "system")
            by[(n, ci)] = a

    def cell(n, ci, field):
        v = by.get((n, ci), {}).get(field)
        return v if is_num(v) else None
    return cols, names, keys, kinds, cell


def _rows(doc):
    cols, names, keys, kinds, cell = collect(doc)
    ns_rows = []
    for n in names:
        cells = []
        for ci in range(len(cols)):
            v = cell(n, ci, "ns_per_op")
            f = cell(n, ci, "failures")
            cells.append(fmt(v) + (" (%d failed)" % f if f else ""))
        ratios = [cell(n, ci, "arena_over_peak") for ci in range(len(cols))]
        ratios = [r for r in ratios if r is not None]
        if kinds[n] != "arena":
            span = "-"
        elif not ratios:
            span = "(--arena)" if is_num(doc.get("arena")) else "-"
        elif min(ratios) == max(ratios):
            span = "%.3f" % ratios[0]
        else:
            span = "%.3f-%.3f" % (min(ratios), max(ratios))
        ns_rows.append([n] + cells + [span])
    ratio_rows = []
    off = next((n for n in names if keys[n] == "off"), None)
    if off is not None:
        for n in names:
            if n == off:
                continue
            row = ["%s/off" % keys[n]]
            for ci in range(len(cols)):
                a, b = cell(n, ci, "ns_per_op"), cell(off, ci, "ns_per_op")
                row.append(fmt(a / b, "%.2f") if a is not None and b else "-")
            ratio_rows.append(row)
    instr_rows = []
    if any(cell(n, ci, "instructions_per_op") is not None
           for n in names for ci in range(len(cols))):
        for n in names:
            vals = [cell(n, ci, "instructions_per_op") for ci in range(len(cols))]
            own = [cell(n, ci, "alloc_instructions_per_op") for ci in range(len(cols))]
            if any(v is not None for v in vals):
                instr_rows.append([n] + [fmt(v) + (" (%s)" % fmt(o) if o is not None else "")
                                         for v, o in zip(vals, own)])
    return cols, ns_rows, ratio_rows, instr_rows


def describe(doc):
    """One line per trace: its file, operations, peak live bytes."""
    out = []
    for label, t in zip(labels(doc["traces"]), doc["traces"]):
        out.append("%s: %s, %s replayed operations, peak live %s bytes" % (
            label, t.get("trace", "?"), "{:,}".format(t["ops"]) if is_num(t.get("ops")) else "?",
            "{:,}".format(t["peak_live_bytes"]) if is_num(t.get("peak_live_bytes")) else "?"))
    return out


def setup(doc):
    arena = doc.get("arena")
    how = ("arena %d bytes for every arena allocator" % arena if is_num(arena) else
           "arena %s x the smallest that holds the trace" % doc.get("arena_factor", "?"))
    peers = ", ".join("%s = %s (%s)" % (p.get("name"), p.get("path"), p.get("api"))
                      for p in doc.get("peers", []) if isinstance(p, dict))
    return "median of %s rounds, %s%s" % (doc.get("rounds", "?"), how,
                                           "; libraries: " + peers if peers else "")


def markdown(doc, heading="##"):
    cols, ns_rows, ratio_rows, instr_rows = _rows(doc)
    md = ["%s Real traces: ns per operation (trace_replay)" % heading, ""]
    md += ["- " + setup(doc)]
    md += ["- " + line for line in describe(doc)]
    md.append("")
    md += table(["allocator"] + cols + ["smallest arena / peak live"], ns_rows)
    if ratio_rows:
        md += ["", "Ratios to hardalloc off (ns per operation):", ""]
        md += table(["ratio"] + cols, ratio_rows)
    if instr_rows:
        md += ["", "Instructions per operation (callgrind, in `%s`: the allocator, the "
               "fallbacks' memset and memcpy, the replay loop; in parentheses the allocator's "
               "own, without the loop and the fallbacks):"
               % doc.get("instructions_counted", "replay_loop"), ""]
        md += table(["allocator"] + cols, instr_rows)
    if isinstance(doc.get("notes"), str):
        md += ["", "Notes: " + doc["notes"] + "."]
    return md


def table(heads, rows):
    out = ["| " + " | ".join(heads) + " |", "| " + " | ".join(["---"] * len(heads)) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def text(doc):
    cols, ns_rows, ratio_rows, instr_rows = _rows(doc)

    def block(heads, rows):
        widths = [max(len(str(r[i])) for r in [heads] + rows) for i in range(len(heads))]
        return ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                          for i, (c, w) in enumerate(zip(r, widths))) for r in [heads] + rows]
    out = ["real traces (trace_replay): ns per operation; " + setup(doc)]
    out += ["  " + line for line in describe(doc)]
    out += block(["allocator"] + cols + ["arena/peak"], ns_rows)
    if ratio_rows:
        out += ["", "ratios to off:"] + block(["ratio"] + cols, ratio_rows)
    if instr_rows:
        out += ["", "instructions per operation (callgrind; the allocator's own in parentheses):"]
        out += block(["allocator"] + cols, instr_rows)
    return out
