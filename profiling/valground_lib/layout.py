"""Heap occupancy from the log's addresses and sizes.

The log gives the requested size, not the chunk size: a gap here is an upper
bound of the heap's real free block (chunk headers and canaries count as free).
"""

SIZE = 0


def largest_gap(blocks, base, size):
    """The largest free gap (bytes) in [base, base + size) around `blocks`
    ({ptr: (size, ...)}); None without a heap. Blocks outside are ignored."""
    if base is None or size is None:
        return None
    if not blocks:
        return size
    end = base + size
    cursor = base
    best = 0
    for ptr in sorted(blocks):
        bend = ptr + blocks[ptr][SIZE]
        if bend <= base or ptr >= end:
            continue
        if ptr - cursor > best:
            best = ptr - cursor
        if bend > cursor:
            cursor = bend
    if end - cursor > best:
        best = end - cursor
    return best


def add_site(acc, site, size):
    """Counts one block of `size` bytes for `site` in acc ({site: [count, bytes]})."""
    a = acc.get(site)
    if a is None:
        acc[site] = [1, size]
    else:
        a[0] += 1
        a[1] += size


def group_by_site(pairs):
    """[{site, count, bytes}] for (site, size) pairs, most bytes first."""
    acc = {}
    for site, size in pairs:
        add_site(acc, site, size)
    rows = [{"site": s.decode("utf-8", "replace") if type(s) is bytes else s, "count": c, "bytes": b}
            for s, (c, b) in acc.items()]
    if len(rows) > 1:
        rows.sort(key=_order)
    return rows


def _order(r):
    return (-r["bytes"], -r["count"], r["site"])
