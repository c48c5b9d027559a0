/* The segments of the --json document, as profiling/valground_lib/report_json.py
 * writes them: segment_doc() through json.dumps(), one per line, ",\n" between,
 * byte for byte (tests/analyzer/test_core.py compares the two).
 *
 * Python's reports decode names and sites from UTF-8 and json.dumps escapes
 * what is not ASCII; this writer renders ASCII only and leaves any other log
 * to the Python writer (vg_render_json returns VG_BAIL), so that it never has
 * to reproduce Python's decoder. Sorting by a site's bytes is then sorting by
 * its text, as the Python side does. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_internal.h"

static const char *const STATUS[] = {"PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS"};

typedef struct {
    vg *a;
    vg_vec *out;
    int ok;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->ok && !vg_vec_append(w->out, s, n))
        w->ok = 0;
}

static void puts_(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* digits by hand: snprintf was a third of the rendering time */
static void put_u64(writer *w, uint64_t v)
{
    char buf[24];
    char *p = buf + sizeof buf;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(w, p, (size_t)(buf + sizeof buf - p));
}

static void put_ptr(writer *w, uint64_t v)
{
    char buf[24];
    char *p = buf + sizeof buf;
    *--p = '"';
    do {
        *--p = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    *--p = 'x';
    *--p = '0';
    *--p = '"';
    put(w, p, (size_t)(buf + sizeof buf - p));
}

/* json.dumps of an ASCII string (ensure_ascii: control characters escaped) */
static void put_str(writer *w, const char *s, size_t n)
{
    put(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20 || c == 0x7f) {    /* json.dumps escapes all but " " to "~" */
                snprintf(u, sizeof u, "\\u%04x", c);
                esc = u;
            }
        }
        if (esc == NULL)
            continue;
        put(w, s + run, i - run);
        puts_(w, esc);
        run = i + 1;
    }
    put(w, s + run, n - run);
    put(w, "\"", 1);
}

static int ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

static const char *site_of(vg *a, uint64_t id, size_t *n)
{
    uint64_t start = VG_AT(&a->sites.offs, uint64_t, id);
    uint64_t end = id + 1 < a->sites.offs.len ? VG_AT(&a->sites.offs, uint64_t, id + 1) : a->sites.blob.len;
    *n = (size_t)(end - start);
    return (const char *)a->sites.blob.data + start;
}

static void put_site(writer *w, uint64_t id)
{
    size_t n;
    const char *s = site_of(w->a, id, &n);
    put_str(w, s, n);
}

/* -- site rows ------------------------------------------------------------------------------ */
typedef struct {
    uint64_t site, count, bytes;
    const char *text;
    size_t len;
} row;

static int text_cmp(const row *x, const row *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int by_site_id(const void *p, const void *q)
{
    const row *x = p, *y = q;
    return x->site < y->site ? -1 : x->site > y->site;
}

/* layout._order: most bytes, most blocks, then the site */
static int by_order(const void *p, const void *q)
{
    const row *x = p, *y = q;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return text_cmp(x, y);
}

static int by_bytes(const void *p, const void *q)
{
    const row *x = p, *y = q;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return text_cmp(x, y);
}

static int by_count(const void *p, const void *q)
{
    const row *x = p, *y = q;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return text_cmp(x, y);
}

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
        put_str(w, rows[i].text, rows[i].len);
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
    uint64_t start = VG_AT(&a->name_offs, uint64_t, i);
    uint64_t end = i + 1 < a->name_offs.len ? VG_AT(&a->name_offs, uint64_t, i + 1) : a->names.len;
    put_str(w, (const char *)a->names.data + start, (size_t)(end - start));
    puts_(w, ", \"status\": ");
    if (s[VG_SEG_STATUS]) {
        put(w, "\"", 1);
        puts_(w, STATUS[s[VG_SEG_STATUS] - 1]);
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
    uint64_t size = s[VG_SEG_HAS_PEAK_HEAP] ? s[VG_SEG_PEAK_SIZE] : s[VG_SEG_HAS_HEAP] ? s[VG_SEG_HEAP_SIZE] : 0;
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
        puts_(w, lists[l].key);
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
    size_t nl = 0;
    row *leaks = NULL;
    for (size_t j = 0; j < nf; j++)
        nl += VG_AT(&a->findings, uint64_t, idx[j] * VG_FINDING_FIELDS + VG_F_KIND) == VG_KIND_LEAK;
    if (nl) {
        leaks = calloc(nl, sizeof *leaks);
        if (leaks == NULL) {
            w->ok = 0;
            return;
        }
    }
    size_t groups = 0;
    for (size_t j = 0; j < nf && leaks; j++) {
        const uint64_t *f = &VG_AT(&a->findings, uint64_t, idx[j] * VG_FINDING_FIELDS);
        if (f[VG_F_KIND] == VG_KIND_LEAK)
            leaks[groups++] = (row){f[VG_F_SITE], 1, f[VG_F_SIZE], NULL, 0};
    }
    /* one row per site: sorted by site id, runs merged */
    if (groups > 1)
        qsort(leaks, groups, sizeof *leaks, by_site_id);
    size_t merged = 0;
    for (size_t j = 0; j < groups; j++) {
        if (merged && leaks[merged - 1].site == leaks[j].site) {
            leaks[merged - 1].count++;
            leaks[merged - 1].bytes += leaks[j].bytes;
        } else {
            leaks[merged++] = leaks[j];
        }
    }
    groups = merged;
    for (size_t j = 0; j < groups; j++)
        leaks[j].text = site_of(a, leaks[j].site, &leaks[j].len);
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
    size_t nseg = a->segs.len, nf = a->findings.len;
    /* each segment's findings in the order they were made: a stable counting sort */
    size_t *start = calloc(nseg + 1, sizeof *start);
    size_t *idx = malloc((nf ? nf : 1) * sizeof *idx);
    if (start == NULL || idx == NULL) {
        free(start);
        free(idx);
        return vg_oom(a), VG_NO_MEMORY;
    }
    for (size_t j = 0; j < nf; j++)
        start[VG_AT(&a->findings, uint64_t, j * VG_FINDING_FIELDS + VG_F_SEG) + 1]++;
    for (size_t i = 0; i < nseg; i++)
        start[i + 1] += start[i];
    size_t *fill = calloc(nseg ? nseg : 1, sizeof *fill);
    if (fill == NULL) {
        free(start);
        free(idx);
        return vg_oom(a), VG_NO_MEMORY;
    }
    for (size_t j = 0; j < nf; j++) {
        size_t s = (size_t)VG_AT(&a->findings, uint64_t, j * VG_FINDING_FIELDS + VG_F_SEG);
        idx[start[s] + fill[s]++] = j;
    }
    free(fill);
    a->json.len = 0;
    /* about 2 KB a segment: one allocation rather than twenty doublings (a hint: it may grow) */
    if (nseg < SIZE_MAX / 2048)
        vg_vec_reserve(&a->json, nseg * 2048);
    writer w = {a, &a->json, 1};
    size_t ks = 0, kp = 0;
    for (size_t i = 0; i < nseg && w.ok; i++) {
        if (i)
            put(&w, ",\n", 2);
        put_segment(&w, i, idx + start[i], start[i + 1] - start[i], &ks, &kp);
    }
    free(start);
    free(idx);
    if (!w.ok)
        return vg_oom(a), VG_NO_MEMORY;
    return VG_OK;
}
