/* The segments of the --json document, as profiling/valground_lib/report_json.py
 * writes them: segment_doc() through json.dumps(), one per line, ",\n" between,
 * byte for byte (tests/analyzer/test_core.py compares the two).
 *
 * Python's reports decode names and sites from UTF-8 and json.dumps escapes
 * what is not ASCII; this writer renders ASCII only and leaves any other log
 * to the Python writer (vg_render_json returns VG_BAIL), so that it never has
 * to reproduce Python's decoder. Sorting by a site's bytes is then sorting by
 * its text, as the Python side does. */
#include "vg_out.h"

static void put_rows(writer *w, row *rows, size_t n, int (*cmp)(const void *, const void *), size_t limit)
{
    if (n > 1)
        qsort(rows, n, sizeof *rows, cmp);
    if (n > limit)
        n = limit;
    put(w, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(w, ", ", 2);
        puts_(w, "{\"site\": ");
        put_site(w, rows[i].site);
        puts_(w, ", \"count\": ");
        put_u64(w, rows[i].count);
        puts_(w, ", \"bytes\": ");
        put_u64(w, rows[i].bytes);
        put(w, "}", 1);
    }
    put(w, "]", 1);
}

/* -- findings --------------------------------------------------------------------------------- */
static void put_finding(writer *w, const uint64_t *f)
{
    uint64_t kind = f[VG_F_KIND];
    int sized = kind == VG_KIND_LEAK || kind == VG_KIND_REINIT || kind == VG_KIND_PERSISTENT || kind == VG_KIND_TWICE;
    puts_(w, "{\"ptr\": ");
    put_ptr(w, f[VG_F_PTR]);
    if (sized) {
        puts_(w, ", \"size\": ");
        put_u64(w, f[VG_F_SIZE]);
    }
    puts_(w, ", \"site\": ");
    put_site(w, f[VG_F_SITE]);
    puts_(w, ", \"line\": ");
    put_u64(w, f[VG_F_LINE]);
    if (kind == VG_KIND_TWICE) {
        puts_(w, ", \"first_size\": ");
        put_u64(w, f[VG_F_FIRST_SIZE]);
        puts_(w, ", \"first_site\": ");
        put_site(w, f[VG_F_FIRST_SITE]);
        puts_(w, ", \"first_line\": ");
        put_u64(w, f[VG_F_FIRST_LINE]);
    }
    put(w, "}", 1);
}

/* the findings of kind among a segment's (their indexes in order, idx[0..n)) */
static void put_findings(writer *w, const size_t *idx, size_t n, uint64_t kind)
{
    put(w, "[", 1);
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        const uint64_t *f = &VG_AT(&w->a->findings, uint64_t, idx[i] * VG_FINDING_FIELDS);
        if (f[VG_F_KIND] != kind)
            continue;
        if (!first)
            put(w, ", ", 2);
        first = 0;
        put_finding(w, f);
    }
    put(w, "]", 1);
}

static void put_opt(writer *w, int has, uint64_t v)
{
    if (has)
        put_u64(w, v);
    else
        puts_(w, "null");
}

/* round(100.0 * max_live / size, 4) as Python's repr writes it: the
 * correctly rounded 4-decimal value without trailing zeros (a decimal of
 * at most 7 digits is its own shortest repr) */
static void put_percent(writer *w, uint64_t max_live, uint64_t size)
{
    char buf[64];
    double pct = 100.0 * (double)max_live / (double)size;
    int n = snprintf(buf, sizeof buf, "%.4f", pct);
    while (n > 0 && buf[n - 1] == '0' && buf[n - 2] != '.')
        n--;
    put(w, buf, (size_t)n);
}

/* rows of one segment's site records (VG_SITE_FIELDS words each) */
static row *rows_of(vg *a, const vg_vec *sites, size_t *k, size_t seg, size_t *n)
{
    size_t start = *k;
    while (*k < sites->len && VG_AT(sites, uint64_t, *k * VG_SITE_FIELDS + VG_S_SEG) == seg)
        (*k)++;
    *n = *k - start;
    if (*n == 0)
        return NULL;
    row *r = malloc(*n * sizeof *r);
    if (r == NULL)
        return NULL;
    for (size_t i = 0; i < *n; i++) {
        const uint64_t *s = &VG_AT(sites, uint64_t, (start + i) * VG_SITE_FIELDS);
        r[i].site = s[VG_S_SITE];
        r[i].count = s[VG_S_COUNT];
        r[i].bytes = s[VG_S_BYTES];
        r[i].text = site_of(a, s[VG_S_SITE], &r[i].len);
    }
    return r;
}

static void put_segment(writer *w, size_t i, const size_t *idx, size_t nf, size_t *ks, size_t *kp)
{
    vg *a = w->a;
    const uint64_t *s = VG_SEG(a, i);
    puts_(w, "{\"index\": ");
    put_u64(w, s[VG_SEG_INDEX]);
    puts_(w, ", \"test\": ");
    put_opt(w, s[VG_SEG_ORDINAL] != 0, s[VG_SEG_ORDINAL]);
    puts_(w, ", \"name\": ");
    size_t name_len;
    const char *name = name_of(a, i, &name_len);
    put_str(w, name, name_len);
    puts_(w, ", \"status\": ");
    if (s[VG_SEG_STATUS]) {
        put(w, "\"", 1);
        put_cstr(w, STATUS_WORD[s[VG_SEG_STATUS] - 1]);
        put(w, "\"", 1);
    } else {
        puts_(w, "null");
    }
    puts_(w, ", \"heap_size\": ");
    put_opt(w, (int)s[VG_SEG_HAS_HEAP], s[VG_SEG_HEAP_SIZE]);
    puts_(w, ", \"total_allocated\": ");
    put_u64(w, s[VG_SEG_TOTAL]);
    puts_(w, ", \"max_live\": ");
    put_u64(w, s[VG_SEG_MAX_LIVE]);
    puts_(w, ", \"max_live_percent\": ");
    /* Segment.max_live_percent: against the peak's heap, else the segment's */
    uint64_t size = percent_base(s);
    if (size)
        put_percent(w, s[VG_SEG_MAX_LIVE], size);
    else
        puts_(w, "null");
    puts_(w, ", \"allocations\": ");
    put_u64(w, s[VG_SEG_ALLOCATIONS]);
    static const struct {
        const char *key;
        int kind;
    } lists[] = {{"leaks", VG_KIND_LEAK}, {"reinit_warnings", VG_KIND_REINIT},
                 {"double_frees", VG_KIND_DOUBLE_FREE}, {"invalid_frees", VG_KIND_INVALID_FREE},
                 {"persistent", VG_KIND_PERSISTENT}, {"overlaps", -1}, {"outside_heap", -1},
                 {"allocated_twice", VG_KIND_TWICE}};
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        puts_(w, ", \"");
        put_cstr(w, lists[l].key);
        puts_(w, "\": ");
        if (lists[l].kind < 0)
            puts_(w, "[]");     /* the core gives up on overlaps and blocks outside the heap */
        else
            put_findings(w, idx, nf, (uint64_t)lists[l].kind);
    }
    puts_(w, ", \"failed_allocations\": ");
    put_u64(w, s[VG_SEG_FAILED]);
    puts_(w, ", \"faults\": [], \"largest_free_gap_at_peak\": ");   /* fault lines: the Python reader's */
    put_opt(w, (int)s[VG_SEG_HAS_GAP_PEAK], s[VG_SEG_GAP_PEAK]);
    puts_(w, ", \"largest_free_gap_at_end\": ");
    put_opt(w, (int)s[VG_SEG_HAS_GAP_END], s[VG_SEG_GAP_END]);
    /* leak_sites: the leaks grouped by site */
    puts_(w, ", \"leak_sites\": ");
    size_t groups;
    row *leaks = leak_rows(a, idx, nf, &groups);
    if (leaks == NULL && groups) {
        w->ok = 0;
        return;
    }
    put_rows(w, leaks, groups, by_order, SIZE_MAX);
    free(leaks);
    /* the segment's site table, and its blocks at the peak */
    size_t n;
    row *r = rows_of(a, &a->seg_sites, ks, i, &n);
    if (n && r == NULL) {
        w->ok = 0;
        return;
    }
    puts_(w, ", \"top_sites_by_bytes\": ");
    put_rows(w, r, n, by_bytes, 10);
    puts_(w, ", \"top_sites_by_count\": ");
    put_rows(w, r, n, by_count, 10);
    free(r);
    r = rows_of(a, &a->peak_sites, kp, i, &n);
    if (n && r == NULL) {
        w->ok = 0;
        return;
    }
    puts_(w, ", \"peak_sites\": ");
    put_rows(w, r, n, by_order, 10);
    free(r);
    put(w, "}", 1);
}

int vg_render_json(vg *a)
{
    if (a->bailed || a->oom)
        return a->oom ? VG_NO_MEMORY : VG_BAIL;
    if (!a->finished || a->lean)
        return VG_BAIL;     /* nothing to render: the analyzer itself is unchanged */
    if (!ascii(a->names.data, a->names.len) || !ascii(a->sites.blob.data, a->sites.blob.len))
        return VG_BAIL;     /* not a failure of the analyzer: the Python writer renders it */
    size_t nseg = a->segs.len;
    size_t *start, *idx;
    if (!findings_by_segment(a, &start, &idx))
        return vg_oom(a), VG_NO_MEMORY;
    a->json.len = 0;
    /* about 2 KB a segment: one allocation rather than twenty doublings (a hint: it may grow) */
    if (nseg < SIZE_MAX / 2048)
        vg_vec_reserve(&a->json, nseg * 2048);
    size_t nsites = a->sites.offs.len;
    vg_vec esc;
    vg_vec_init(&esc, 1);
    size_t *esc_off = malloc((nsites + 1) * sizeof *esc_off);
    writer sw = {a, &esc, esc_off != NULL, NULL, NULL};
    for (size_t i = 0; i < nsites && sw.ok; i++) {
        size_t n;
        const char *text = site_of(a, i, &n);
        esc_off[i] = esc.len;
        put_str(&sw, text, n);
    }
    if (!sw.ok) {
        free(start);
        free(idx);
        free(esc_off);
        vg_vec_free(&esc);
        return vg_oom(a), VG_NO_MEMORY;
    }
    esc_off[nsites] = esc.len;
    writer w = {a, &a->json, 1, esc.data, esc_off};
    size_t ks = 0, kp = 0;
    for (size_t i = 0; i < nseg && w.ok; i++) {
        if (i)
            put(&w, ",\n", 2);
        put_segment(&w, i, idx + start[i], start[i + 1] - start[i], &ks, &kp);
    }
    free(start);
    free(idx);
    free(esc_off);
    vg_vec_free(&esc);
    if (!w.ok)
        return vg_oom(a), VG_NO_MEMORY;
    return VG_OK;
}
