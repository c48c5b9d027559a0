/* model.py's rules on the events the core reads: segments, live blocks,
 * the peak state, findings. Each function names the Python method it
 * follows; where the Python fast path and the reference differ only in when
 * they compute something (the peak's blocks), the result is the same. */
#include <stdlib.h>
#include <string.h>

#include "vg_internal.h"

int vg_fail(vg *a, const char *reason)
{
    a->bailed = 1;
    a->bail_reason = reason;
    a->bail_line = a->line;
    return 0;
}

int vg_oom(vg *a)
{
    a->oom = 1;
    a->bail_reason = "out of memory";
    a->bail_line = a->line;
    return 0;
}

static uint64_t *cur(vg *a)
{
    return VG_SEG(a, a->seg);
}

/* -- the live blocks' addresses, sorted ------------------------------------------------ */
static size_t lower_bound(const vg_vec *v, uint64_t key)
{
    const uint64_t *s = v->data;
    size_t lo = 0, hi = v->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int starts_insert(vg *a, size_t k, uint64_t ptr)
{
    if (vg_vec_push(&a->starts) == NULL)
        return vg_oom(a);
    uint64_t *s = a->starts.data;
    memmove(s + k + 1, s + k, (a->starts.len - 1 - k) * sizeof *s);
    s[k] = ptr;
    return 1;
}

static void starts_remove(vg *a, uint64_t ptr)
{
    size_t k = lower_bound(&a->starts, ptr);
    uint64_t *s = a->starts.data;
    memmove(s + k, s + k + 1, (a->starts.len - k - 1) * sizeof *s);
    a->starts.len--;
}

/* -- findings ---------------------------------------------------------------------------- */
static uint64_t *add_finding(vg *a, size_t seg, int kind, const vg_block *b)
{
    uint64_t *f = vg_vec_push(&a->findings);
    if (f == NULL) {
        vg_oom(a);
        return NULL;
    }
    f[VG_F_SEG] = seg;
    f[VG_F_KIND] = (uint64_t)kind;
    f[VG_F_PTR] = b->ptr;
    f[VG_F_SIZE] = b->size;
    f[VG_F_SITE] = b->site;
    f[VG_F_LINE] = b->line;
    /* model.finding: the offset in the heap of the time, when inside it */
    if (a->has_heap && b->ptr >= a->heap_base && b->ptr - a->heap_base < a->heap_size) {
        f[VG_F_HAS_OFFSET] = 1;
        f[VG_F_OFFSET] = b->ptr - a->heap_base;
    }
    return f;
}

/* -- site tables ------------------------------------------------------------------------- */
static uint64_t *site_acc(vg *a, uint32_t site)
{
    while (a->site_acc.len <= site)
        if (vg_vec_push(&a->site_acc) == NULL) {
            vg_oom(a);
            return NULL;
        }
    return &VG_AT(&a->site_acc, uint64_t, (size_t)site * 6);
}

static int count_site(vg *a, uint32_t site, uint64_t size)
{
    uint64_t *acc = site_acc(a, site);
    if (acc == NULL)
        return 0;
    if (acc[0] != a->stamp) {
        acc[0] = a->stamp;
        acc[1] = acc[2] = 0;
        uint32_t *id = vg_vec_push(&a->seg_site_ids);
        if (id == NULL)
            return vg_oom(a);
        *id = site;
    }
    acc[1]++;
    acc[2] += size;
    return 1;
}

static int emit_sites(vg *a)
{
    for (size_t i = 0; i < a->seg_site_ids.len; i++) {
        uint32_t site = VG_AT(&a->seg_site_ids, uint32_t, i);
        uint64_t *acc = &VG_AT(&a->site_acc, uint64_t, (size_t)site * 6);
        uint64_t *r = vg_vec_push(&a->seg_sites);
        if (r == NULL)
            return vg_oom(a);
        r[VG_S_SEG] = a->seg;
        r[VG_S_SITE] = site;
        r[VG_S_COUNT] = acc[1];
        r[VG_S_BYTES] = acc[2];
    }
    return 1;
}

/* -- the peak -------------------------------------------------------------------------------- */
static int by_ptr(const void *x, const void *y)
{
    uint64_t p = ((const vg_block *)x)->ptr, q = ((const vg_block *)y)->ptr;
    return p < q ? -1 : p > q;
}

static int by_seq(const void *x, const void *y)
{
    uint64_t p = ((const vg_block *)x)->seq, q = ((const vg_block *)y)->seq;
    return p < q ? -1 : p > q;
}

/* Analyzer.peak_state: the blocks live at the peak (the live ones made by
 * then, and those removed since), one per address, the last removed winning
 * as a dict's assignment does; sorted by address. */
static int peak_state(vg *a)
{
    uint64_t *s = cur(a);
    if (!a->snap_valid) {
        a->snap_valid = 1;
        s[VG_SEG_HAS_PEAK_HEAP] = (uint64_t)a->has_heap;
        s[VG_SEG_PEAK_BASE] = a->heap_base;
        s[VG_SEG_PEAK_SIZE] = a->heap_size;
        a->snap.len = 0;
        if (!a->lean) {
            vg_map *m = &a->snap_map;
            vg_map_clear(m);
            for (size_t i = 0; i < a->live.cap; i++) {
                if (a->live.used[i] && a->live.slots[i].seq <= a->peak_seq) {
                    vg_block *b = vg_map_put(m, a->live.slots[i].ptr);
                    if (b == NULL)
                        return vg_oom(a);
                    *b = a->live.slots[i];
                }
            }
            for (size_t i = 0; i < a->frecs.len; i++) {
                vg_block *r = &VG_AT(&a->frecs, vg_block, i);
                if (r->seq <= a->peak_seq) {
                    vg_block *b = vg_map_put(m, r->ptr);
                    if (b == NULL)
                        return vg_oom(a);
                    *b = *r;
                }
            }
            for (size_t i = 0; i < m->cap; i++) {
                if (!m->used[i])
                    continue;
                vg_block *b = vg_vec_push(&a->snap);
                if (b == NULL)
                    return vg_oom(a);
                *b = m->slots[i];
            }
            if (a->snap.len > 1)    /* qsort(NULL, 0, ...) is undefined: no blocks, no vector */
                qsort(a->snap.data, a->snap.len, sizeof(vg_block), by_ptr);
        }
    }
    a->frecs.len = 0;
    return 1;
}

static void new_peak(vg *a)
{
    cur(a)[VG_SEG_MAX_LIVE] = a->live_bytes;
    a->peak_seq = a->seq;
    a->frecs.len = 0;
    a->snap_valid = 0;
}

/* layout.largest_gap over blocks sorted by address, all inside the heap
 * (the core gives up on a block outside it) */
static uint64_t largest_gap(const vg_block *b, size_t n, uint64_t base, uint64_t size)
{
    if (n == 0)
        return size;
    uint64_t cursor = 0, best = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t off = b[i].ptr - base, end = off + b[i].size;
        if (off > cursor && off - cursor > best)
            best = off - cursor;
        if (end > cursor)
            cursor = end;
    }
    if (size - cursor > best)
        best = size - cursor;
    return best;
}

/* The live blocks, in a->sorted (a scratch vector kept between calls: no
 * allocation per segment or init), by address or (by_seq) in the order
 * they were made. */
static int live_sorted(vg *a, int by_seq_order)
{
    vg_vec *out = &a->sorted;
    out->len = 0;
    for (size_t i = 0; i < a->live.cap; i++) {
        if (!a->live.used[i])
            continue;
        vg_block *b = vg_vec_push(out);
        if (b == NULL)
            return vg_oom(a);
        *b = a->live.slots[i];
    }
    if (out->len > 1)   /* qsort(NULL, 0, ...) is undefined */
        qsort(out->data, out->len, sizeof(vg_block), by_seq_order ? by_seq : by_ptr);
    return 1;
}

/* Analyzer._close_segment */
static int close_segment(vg *a)
{
    if (!peak_state(a))
        return 0;
    if (a->lean)
        return 1;
    uint64_t *s = cur(a);
    if (s[VG_SEG_HAS_PEAK_HEAP]) {
        s[VG_SEG_HAS_GAP_PEAK] = 1;
        s[VG_SEG_GAP_PEAK] = largest_gap(a->snap.data, a->snap.len, s[VG_SEG_PEAK_BASE], s[VG_SEG_PEAK_SIZE]);
    }
    /* the peak's blocks by site */
    a->stamp++;
    size_t first = a->peak_sites.len;
    for (size_t i = 0; i < a->snap.len; i++) {
        vg_block *b = &VG_AT(&a->snap, vg_block, i);
        uint64_t *acc = site_acc(a, b->site);
        if (acc == NULL)
            return 0;
        if (acc[3] != a->stamp) {
            acc[3] = a->stamp;
            uint64_t *r = vg_vec_push(&a->peak_sites);
            if (r == NULL)
                return vg_oom(a);
            r[VG_S_SEG] = a->seg;
            r[VG_S_SITE] = b->site;
            acc[4] = (uint64_t)(a->peak_sites.len - 1 - first);
        }
        uint64_t *r = &VG_AT(&a->peak_sites, uint64_t, (first + acc[4]) * VG_SITE_FIELDS);
        r[VG_S_COUNT]++;
        r[VG_S_BYTES] += b->size;
    }
    if (a->has_heap) {
        if (!live_sorted(a, 0))
            return 0;
        s[VG_SEG_HAS_GAP_END] = 1;
        s[VG_SEG_GAP_END] = largest_gap(a->sorted.data, a->sorted.len, a->heap_base, a->heap_size);
    }
    return emit_sites(a);
}

/* Analyzer._close_heap: the open heap's live blocks are its owner's leaks,
 * reclaimed-by-reset warnings, or persistent blocks. */
static int close_heap(vg *a, int reclaimed)
{
    if (a->owner < 0 || a->live.len == 0)
        return 1;
    if (a->lean && reclaimed)
        return 1;
    if (!live_sorted(a, 1))
        return 0;
    for (size_t i = 0; i < a->sorted.len; i++) {
        vg_block *b = &VG_AT(&a->sorted, vg_block, i);
        int kind = b->persist ? VG_KIND_PERSISTENT : reclaimed ? VG_KIND_REINIT : VG_KIND_LEAK;
        if (a->lean && kind != VG_KIND_LEAK)
            continue;
        if (add_finding(a, (size_t)a->owner, kind, b) == NULL)
            return 0;
    }
    return 1;
}

/* -- segments ---------------------------------------------------------------------------------- */
static int open_segment(vg *a, const char *name, size_t n, uint64_t ordinal)
{
    uint64_t *s = vg_vec_push(&a->segs);
    uint64_t *off = vg_vec_push(&a->name_offs);
    if (s == NULL || off == NULL)
        return vg_oom(a);
    *off = a->names.len;
    if (!vg_vec_append(&a->names, name, n))
        return vg_oom(a);
    a->seg = a->segs.len - 1;
    s[VG_SEG_INDEX] = a->segs.len;
    s[VG_SEG_ORDINAL] = ordinal;
    s[VG_SEG_HAS_HEAP] = (uint64_t)a->has_heap;
    s[VG_SEG_HEAP_BASE] = a->heap_base;
    s[VG_SEG_HEAP_SIZE] = a->heap_size;
    s[VG_SEG_MAX_LIVE] = a->live_bytes;
    a->peak_seq = a->seq;
    a->frecs.len = 0;
    a->snap_valid = 0;
    vg_set_clear(&a->freed);
    a->stamp++;
    a->seg_site_ids.len = 0;
    return 1;
}

/* the last segment, gone (with the site tables a close gave it) */
static void pop_segment(vg *a)
{
    size_t last = a->segs.len - 1;
    a->names.len = VG_AT(&a->name_offs, uint64_t, last);
    a->name_offs.len--;
    a->segs.len--;
    while (a->seg_sites.len && VG_AT(&a->seg_sites, uint64_t, (a->seg_sites.len - 1) * VG_SITE_FIELDS) == last)
        a->seg_sites.len--;
    while (a->peak_sites.len && VG_AT(&a->peak_sites, uint64_t, (a->peak_sites.len - 1) * VG_SITE_FIELDS) == last)
        a->peak_sites.len--;
}

int vg_model_start(vg *a)
{
    a->owner = -1;
    return open_segment(a, "log", 3, 0);
}

/* Analyzer._start_test */
static int start_test(vg *a, const vg_test_line *t)
{
    uint64_t *s = cur(a);
    if ((s[VG_SEG_ORDINAL] == 0 || s[VG_SEG_SUMMARY]) && !s[VG_SEG_TOUCHED] && (long long)a->seg != a->owner)
        pop_segment(a);
    else if (!close_segment(a))
        return 0;
    a->tests++;
    if (!open_segment(a, t->name, t->name_len, a->tests))
        return 0;
    s = cur(a);
    s[VG_SEG_STATUS] = (uint64_t)t->status;
    s[VG_SEG_SUMMARY] = (uint64_t)t->summary;
    return 1;
}

int vg_model_status(vg *a, int status)
{
    uint64_t *s = cur(a);
    if (s[VG_SEG_ORDINAL] != 0 && s[VG_SEG_STATUS] == 0)
        s[VG_SEG_STATUS] = (uint64_t)status;
    return 1;
}

/* Analyzer.other, on a line (no newline) that holds `::` or `collected ` */
int vg_model_other(vg *a, const char *p, const char *end)
{
    if (vg_starts_with_status(p, end)) {
        int st = vg_status_line(p, end);
        if (st)
            return vg_model_status(a, st);
    }
    size_t n = (size_t)(end - p);
    if (n > a->scratch_cap) {
        char *s = realloc(a->scratch, n);
        if (s == NULL)
            return vg_oom(a);
        a->scratch = s;
        a->scratch_cap = n;
    }
    vg_test_line t;
    if (vg_parse_test_line(p, end, a->scratch, &t))
        return start_test(a, &t);
    uint64_t collected;
    int c = vg_parse_collected(p, end, &collected);
    if (c < 0)
        return vg_fail(a, "a `collected` count wider than 18 digits");
    if (c > 0) {
        a->collected = collected;
        a->has_collected = 1;
    }
    return 1;
}

/* -- events ---------------------------------------------------------------------------------------- */
static int init(vg *a, uint64_t base, uint64_t size)
{
    if (size == 0 || (base != 0 && size - 1 > UINT64_MAX - base))
        return vg_fail(a, "an init that warns (size 0, or past 2^64)");
    if (!peak_state(a))
        return 0;
    if (!close_heap(a, a->owner == (long long)a->seg))
        return 0;
    a->owner = (long long)a->seg;
    vg_map_clear(&a->live);
    a->starts.len = 0;
    a->live_bytes = 0;
    vg_set_clear(&a->freed);
    a->has_heap = 1;
    a->heap_base = base;
    a->heap_size = size;
    uint64_t *s = cur(a);
    s[VG_SEG_HAS_HEAP] = 1;
    s[VG_SEG_HEAP_BASE] = base;
    s[VG_SEG_HEAP_SIZE] = size;
    if (s[VG_SEG_ALLOCATIONS] == 0) {
        /* the peak a test inherited was only provisional */
        s[VG_SEG_MAX_LIVE] = 0;
        s[VG_SEG_HAS_PEAK_HEAP] = 1;
        s[VG_SEG_PEAK_BASE] = base;
        s[VG_SEG_PEAK_SIZE] = size;
        a->peak_seq = a->seq;
        a->snap_valid = 1;
        a->snap.len = 0;
    }
    return 1;
}

static int alloc(vg *a, const vg_event *ev)
{
    uint64_t ptr = ev->ptr, size = ev->size;
    uint64_t *s = cur(a);
    if (ptr < a->heap_base || size > a->heap_size || ptr - a->heap_base > a->heap_size - size)
        return vg_fail(a, "a block outside its heap");
    vg_block *old = vg_map_get(&a->live, ptr);
    size_t k = 0;
    if (old == NULL) {
        k = lower_bound(&a->starts, ptr);
        const uint64_t *st = a->starts.data;
        if (k > 0) {
            vg_block *prev = vg_map_get(&a->live, st[k - 1]);
            if (prev->size > ptr - st[k - 1])
                return vg_fail(a, "a block overlapping a live one");
        }
        if (k < a->starts.len && st[k] - ptr < size)
            return vg_fail(a, "a block overlapping a live one");
    }
    if (s[VG_SEG_TOTAL] > UINT64_MAX - size)
        return vg_fail(a, "allocated bytes past 2^64");
    s[VG_SEG_TOTAL] += size;
    s[VG_SEG_ALLOCATIONS]++;
    uint32_t site = vg_intern(&a->sites, ev->site, ev->site_len);
    if (site == UINT32_MAX)
        return vg_oom(a);
    if (!a->lean && !count_site(a, site, size))
        return 0;
    vg_block nb = {ptr, size, a->seq, a->line, site, ev->kind == VG_EV_PERSIST};
    if (old != NULL) {
        /* allocated twice without a free: a finding of the heap's owner; the
         * old block leaves as if freed */
        s[VG_SEG_TOUCHED] = 1;
        uint64_t *f = add_finding(a, (size_t)a->owner, VG_KIND_TWICE, &nb);
        if (f == NULL)
            return 0;
        f[VG_F_FIRST_SIZE] = old->size;
        f[VG_F_FIRST_SITE] = old->site;
        f[VG_F_FIRST_LINE] = old->line;
        a->live_bytes -= old->size;
        if (!a->lean) {
            vg_block *r = vg_vec_push(&a->frecs);
            if (r == NULL)
                return vg_oom(a);
            *r = *old;
        }
        *old = nb;
    } else {
        if (!starts_insert(a, k, ptr))
            return 0;
        vg_block *b = vg_map_put(&a->live, ptr);
        if (b == NULL)
            return vg_oom(a);
        *b = nb;
    }
    a->live_bytes += size;
    if (a->live_bytes > s[VG_SEG_MAX_LIVE])
        new_peak(a);
    return 1;
}

static int free_block(vg *a, const vg_event *ev)
{
    vg_block b;
    if (vg_map_pop(&a->live, ev->ptr, &b)) {
        starts_remove(a, ev->ptr);
        if (!vg_set_add(&a->freed, ev->ptr))
            return vg_oom(a);
        a->live_bytes -= b.size;
        if (!a->lean) {
            vg_block *r = vg_vec_push(&a->frecs);
            if (r == NULL)
                return vg_oom(a);
            *r = b;
            /* Analyzer.trim_frecs: memory stays bounded by the live blocks */
            if (a->frecs.len > 2 * a->live.len + 256 && !peak_state(a))
                return 0;
        }
        return 1;
    }
    cur(a)[VG_SEG_TOUCHED] = 1;
    uint32_t site = vg_intern(&a->sites, ev->site, ev->site_len);
    if (site == UINT32_MAX)
        return vg_oom(a);
    vg_block bad = {ev->ptr, 0, a->seq, a->line, site, 0};
    int kind = vg_set_has(&a->freed, ev->ptr) ? VG_KIND_DOUBLE_FREE : VG_KIND_INVALID_FREE;
    return add_finding(a, (size_t)a->owner, kind, &bad) != NULL;
}

/* Analyzer.event, for the forms vg_parse_event reads; a.seq already counts it */
int vg_model_event(vg *a, const vg_event *ev)
{
    if (ev->kind == VG_EV_INIT) {
        cur(a)[VG_SEG_TOUCHED] = 1;
        return init(a, ev->ptr, ev->size);
    }
    if (!a->has_heap)
        return vg_fail(a, "an event before any init");
    switch (ev->kind) {
    case VG_EV_FAILED:
        cur(a)[VG_SEG_TOUCHED] = 1;
        cur(a)[VG_SEG_FAILED]++;
        return 1;
    case VG_EV_FREE:
        return free_block(a, ev);
    default:
        return alloc(a, ev);
    }
}

/* Analyzer.finish */
int vg_model_finish(vg *a)
{
    if (!close_segment(a) || !close_heap(a, 0))
        return 0;
    uint64_t *s = cur(a);
    if (s[VG_SEG_SUMMARY] && !s[VG_SEG_TOUCHED] && (long long)a->seg != a->owner && a->segs.len > 1)
        pop_segment(a);
    return 1;
}

void vg_totals(const vg *a, uint64_t out[4])
{
    out[0] = out[1] = out[2] = out[3] = 0;
    for (size_t j = 0; j < a->findings.len; j++) {
        uint64_t kind = VG_AT(&a->findings, uint64_t, j * VG_FINDING_FIELDS + VG_F_KIND);
        out[0] += kind == VG_KIND_LEAK;
        out[1] += kind == VG_KIND_DOUBLE_FREE || kind == VG_KIND_INVALID_FREE;
        out[2] += kind == VG_KIND_TWICE;
    }
    for (size_t i = 0; i < a->segs.len; i++) {
        const uint64_t *s = (const uint64_t *)a->segs.data + i * VG_SEG_FIELDS;
        if (s[VG_SEG_MAX_LIVE] > out[3])
            out[3] = s[VG_SEG_MAX_LIVE];
    }
}
