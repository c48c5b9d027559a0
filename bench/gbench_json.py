"""Reading bench/gbench's Google Benchmark JSON: shared by bench/run and bench/report.

Python 3 standard library only. Benchmark names follow bench/gbench's contract:
`<family>/<allocator>/<key>=<value>/...`, e.g.
`pair/standard/dist=u8-512/order=random/live=64/heap=32KiB`. Anything else is
kept as-is (family "other"), never an error.
"""

import json
import statistics

FAMILIES = ["pair", "alloc", "free", "realloc_grow", "app_alloc", "app_free", "app_calloc",
            "app_strdup", "sweep", "util"]
LEVELS = ["off", "standard", "paranoid"]
ALLOCATORS = LEVELS + ["glibc", "mimalloc", "jemalloc", "tcmalloc"]
TAIL = ["p50_ns", "p99_ns", "p999_ns", "max_ns"]
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# The workloads every run is judged on: (title, family, required params,
# params that must match when the benchmark has them).
KEY_WORKLOADS = [
    ("pair 8..512 B, 32 KiB, 64 live", "pair",
     {"dist": "u8-512", "heap": "32KiB", "live": "64"}, {"order": "random"}),
    ("pair 8..8192 B, 1 MiB, 64 live", "pair",
     {"dist": "u8-8192", "heap": "1MiB", "live": "64"}, {"order": "random"}),
    ("pair log 8 B..64 KiB, 1 MiB, 64 live", "pair",
     {"dist": "log8-64K", "heap": "1MiB", "live": "64"}, {"order": "random"}),
    ("pair 8..512 B, 256 MiB, 16,384 live", "pair",
     {"dist": "u8-512", "heap": "256MiB", "live": "16384"}, {"order": "random"}),
]


class LoadError(Exception):
    pass


def read_json(path):
    """The JSON document at path; LoadError with one line when it cannot be
    read or is no JSON (bench/trace_json.py reads with it too)."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise LoadError("%s: no such file" % path)
    except (OSError, UnicodeDecodeError) as e:
        raise LoadError("%s: cannot read: %s" % (path, e))
    except ValueError as e:
        raise LoadError("%s: not JSON: %s" % (path, str(e).splitlines()[0]))


def read(path):
    """The document of a Google Benchmark JSON file, its "benchmarks" list cut
    down to the entries with a name (dicts whose "name" is a string);
    LoadError with one line when there is none or the file is no such JSON."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise LoadError("%s: not Google Benchmark JSON (no \"benchmarks\" list)" % path)
    data["benchmarks"] = [b for b in data["benchmarks"]
                          if isinstance(b, dict) and isinstance(b.get("name"), str)]
    if not data["benchmarks"]:
        raise LoadError("%s: no benchmark in the file" % path)
    return data


def load(path):
    """(context, benchmarks) of a Google Benchmark JSON file; LoadError with one line."""
    data = read(path)
    ctx = data.get("context") if isinstance(data.get("context"), dict) else {}
    return ctx, data["benchmarks"]


def parse_name(name):
    """{family, allocator, params (ordered list of (k, v)), extra (other tokens), workload}.

    Google Benchmark's own suffixes (/iterations:N, /min_time:..., /manual_time,
    /real_time, /threads:N) are left out of the workload key."""
    tokens = [t for t in name.split("/")
              if t and ":" not in t and t not in ("manual_time", "real_time", "process_time")]
    if not tokens:
        tokens = [name]
    out = {"name": name, "family": "other", "allocator": "", "params": [], "extra": []}
    if len(tokens) >= 2 and "=" not in tokens[0] and "=" not in tokens[1]:
        out["family"] = tokens[0] if tokens[0] in FAMILIES else "other"
        out["raw_family"] = tokens[0]
        out["allocator"] = tokens[1]
        for t in tokens[2:]:
            if "=" in t:
                k, v = t.split("=", 1)
                out["params"].append((k, v))
            else:
                out["extra"].append(t)  # a token without '=' after the allocator
    else:
        out["raw_family"] = name
    if out["allocator"]:
        out["workload"] = "/".join([out["raw_family"]] + ["%s=%s" % kv for kv in out["params"]]
                                   + out["extra"])
    else:
        out["workload"] = name
    return out


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def collect(benches):
    """Per run name: the median over repetitions of the time (ns) and of every counter.

    Uses the iterations when the file has them (bench/run keeps them, for
    compare.py's U test), else the "median" aggregate, else whatever is there."""
    groups = {}
    errors = []
    for b in benches:
        run = b.get("run_name") if isinstance(b.get("run_name"), str) else b["name"]
        if b.get("error_occurred"):
            errors.append("%s: %s" % (b["name"], b.get("error_message", "error")))
            continue
        kind = str(b.get("run_type", "iteration"))
        if kind == "aggregate":
            kind = "agg:" + str(b.get("aggregate_name", ""))
        groups.setdefault(run, {}).setdefault(kind, []).append(b)
    results = {}
    for run, kinds in groups.items():
        rows = kinds.get("iteration") or kinds.get("agg:median") or kinds.get("agg:mean")
        if not rows:
            continue
        scale = UNIT_NS.get(str(rows[0].get("time_unit", "ns")), 1.0)
        times = [b["real_time"] * scale for b in rows if is_num(b.get("real_time"))]
        counters = {}
        for b in rows:
            for k, v in b.items():
                if k in ("real_time", "cpu_time", "iterations", "repetitions", "repetition_index",
                         "threads", "family_index", "per_family_instance_index"):
                    continue
                if is_num(v):
                    counters.setdefault(k, []).append(float(v))
        r = parse_name(run)
        r["time_ns"] = statistics.median(times) if times else None
        reps = rows[0].get("repetitions")
        r["reps"] = len(rows) if "iteration" in kinds else int(reps) if is_num(reps) and reps >= 1 else 1
        r["counters"] = {k: statistics.median(v) for k, v in counters.items()}
        results[run] = r
    return results, errors


def by_workload(results):
    """{workload: {allocator: result}} in a stable order."""
    out = {}
    for r in sorted(results.values(), key=lambda r: (
            FAMILIES.index(r["family"]) if r["family"] in FAMILIES else len(FAMILIES),
            r["workload"])):
        out.setdefault(r["workload"], {})[r["allocator"]] = r
    return out


def matches(r, family, required, optional):
    if r["family"] != family:
        return False
    p = {k.lower(): v.lower() for k, v in r["params"]}
    for k, v in required.items():
        if p.get(k.lower()) != v.lower():
            return False
    for k, v in optional.items():
        if k.lower() in p and p[k.lower()] != v.lower():
            return False
    return True


def expected_name(family, required, optional):
    params = dict(optional, **required)
    order = ["dist", "size", "order", "live", "heap", "state"]
    keys = [k for k in order if k in params] + [k for k in params if k not in order]
    return "/".join([family, "<allocator>"] + ["%s=%s" % (k, params[k]) for k in keys])


def key_rows(results):
    """[(title, workload or None, {allocator: result}, expected name)] for KEY_WORKLOADS."""
    wl = by_workload(results)
    rows = []
    for title, family, req, opt in KEY_WORKLOADS:
        found = [(w, a) for w, a in wl.items()
                 if any(matches(r, family, req, opt) for r in a.values())]
        if not found:
            rows.append((title, None, {}, expected_name(family, req, opt)))
        for w, a in found:
            rows.append((title, w, a, expected_name(family, req, opt)))
    return rows


def ratios(allocs):
    """Ratio columns: each level to glibc, standard/off, paranoid/off (None when missing)."""
    t = {a: r["time_ns"] for a, r in allocs.items() if r.get("time_ns")}
    def rt(a, b):
        return t[a] / t[b] if a in t and b in t and t[b] > 0 else None
    cols = [("%s/glibc" % lv, rt(lv, "glibc")) for lv in LEVELS]
    cols += [("standard/off", rt("standard", "off")), ("paranoid/off", rt("paranoid", "off"))]
    return cols


RATIO_HEADS = ["off/glibc", "standard/glibc", "paranoid/glibc", "standard/off", "paranoid/off"]


def allocators_in(results):
    present = {r["allocator"] for r in results.values() if r["allocator"]}
    return [a for a in ALLOCATORS if a in present] + sorted(present - set(ALLOCATORS))


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


def timed_rows(results, all_workloads=True):
    """([(title or None, workload, {allocator: result})], [(title, expected name)]):
    the key workloads found (titled), then with all_workloads every other timed
    workload in the contract (util left out); and the key workloads missing."""
    rows, missing = [], []
    for title, w, a, expected in key_rows(results):
        if w is None:
            missing.append((title, expected))
        else:
            rows.append((title, w, a))
    if all_workloads:
        seen = {w for _, w, _ in rows}
        for w, a in by_workload(results).items():
            if w not in seen and "" not in a and next(iter(a.values()))["family"] != "util" \
                    and any(r.get("time_ns") for r in a.values()):
                rows.append((None, w, a))
    return rows, missing


def text_tables(results, all_workloads=True):
    """The ratio table bench/run prints: ns medians, then ratios, key workloads first."""
    allocs = allocators_in(results)
    rows, missing = timed_rows(results, all_workloads)
    lines = ["missing: %s -- expected a benchmark named %s" % m for m in missing]
    width = max([len(w) for _, w, _ in rows] + [30])
    lines.append("")
    lines.append("ns per operation, median over repetitions (real time)")
    lines.append("  %-*s %s" % (width, "workload", " ".join("%9s" % a[:9] for a in allocs)))
    for title, w, a in rows:
        if title:
            lines.append("  * " + title)
        lines.append("  %-*s %s" % (width, w, " ".join(
            "%9s" % fmt(a[x]["time_ns"] if x in a else None) for x in allocs)))
    lines.append("")
    lines.append("ratios of the medians (same run)")
    lines.append("  %-*s %s" % (width, "workload", " ".join("%14s" % h for h in RATIO_HEADS)))
    for title, w, a in rows:
        if title:
            lines.append("  * " + title)
        lines.append("  %-*s %s" % (width, w, " ".join(
            "%14s" % fmt(v, "%.2f") for _, v in ratios(a))))
    other = [r for r in results.values() if not r["allocator"]]
    if other:
        lines.append("")
        lines.append("names outside <family>/<allocator>/<key>=<value>: " + ", ".join(
            "%s %s ns" % (r["name"], fmt(r["time_ns"])) for r in other))
    return lines
