/* What vg_json.c and vg_text.c both write with: a growing output, numbers
 * and strings as Python writes them, a segment's sites as rows. Static
 * inline: each renderer is one tight loop over many small pieces. */
#ifndef VG_OUT_H
#define VG_OUT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_internal.h"

/* parse.STATUS_WORDS, by the segment's status code (1-6) less one */
static const char *const STATUS_WORD[] = {"PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS"};

typedef struct {
    vg *a;
    vg_vec *out;
    int ok;
    /* every site once as a JSON string, quotes included: site i is
     * esc[esc_off[i], esc_off[i + 1]) (a site is written ten times a test) */
    const char *esc;
    const size_t *esc_off;
} writer;

static inline void put(writer *w, const char *s, size_t n)
{
    vg_vec *v = w->out;
    if (v->len + n <= v->cap) {     /* the common case, inline: no call */
        memcpy((char *)v->data + v->len, s, n);
        v->len += n;
    } else if (w->ok && !vg_vec_append(v, s, n)) {
        w->ok = 0;
    }
}

static inline void put_cstr(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* a string literal, its length known when compiled */
#define puts_(w, lit) put((w), "" lit, sizeof(lit) - 1)

/* digits by hand: snprintf was a third of the rendering time */
static inline void put_u64(writer *w, uint64_t v)
{
    char buf[24];
    char *p = buf + sizeof buf;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(w, p, (size_t)(buf + sizeof buf - p));
}

/* 0x<lower-case hex>, as Python's f"0x{v:x}" */
static inline void put_hex(writer *w, uint64_t v)
{
    char buf[24];
    char *p = buf + sizeof buf;
    do {
        *--p = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    *--p = 'x';
    *--p = '0';
    put(w, p, (size_t)(buf + sizeof buf - p));
}

static inline void put_ptr(writer *w, uint64_t v)
{
    put(w, "\"", 1);
    put_hex(w, v);
    put(w, "\"", 1);
}

/* json.dumps of an ASCII string (ensure_ascii: all but " " to "~" escaped, and " and \) */
static inline void put_str(writer *w, const char *s, size_t n)
{
    put(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            continue;
        const char *esc;
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
            snprintf(u, sizeof u, "\\u%04x", c);
            esc = u;
        }
        put(w, s + run, i - run);
        put_cstr(w, esc);
        run = i + 1;
    }
    put(w, s + run, n - run);
    put(w, "\"", 1);
}

static inline int ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

static inline const char *site_of(vg *a, uint64_t id, size_t *n)
{
    uint64_t start = VG_AT(&a->sites.offs, uint64_t, id);
    uint64_t end = id + 1 < a->sites.offs.len ? VG_AT(&a->sites.offs, uint64_t, id + 1) : a->sites.blob.len;
    *n = (size_t)(end - start);
    return (const char *)a->sites.blob.data + start;
}

static inline void put_site(writer *w, uint64_t id)
{
    put(w, w->esc + w->esc_off[id], w->esc_off[id + 1] - w->esc_off[id]);
}

/* -- site rows ------------------------------------------------------------------------------ */
typedef struct {
    uint64_t site, count, bytes;
    const char *text;
    size_t len;
} row;

static inline int text_cmp(const row *x, const row *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static inline int by_site_id(const void *p, const void *q)
{
    const row *x = p, *y = q;
    return x->site < y->site ? -1 : x->site > y->site;
}

/* layout._order: most bytes, most blocks, then the site */
static inline int by_order(const void *p, const void *q)
{
    const row *x = p, *y = q;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return text_cmp(x, y);
}

static inline int by_bytes(const void *p, const void *q)
{
    const row *x = p, *y = q;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return text_cmp(x, y);
}

static inline int by_count(const void *p, const void *q)
{
    const row *x = p, *y = q;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return text_cmp(x, y);
}


/* A segment's leaks grouped by site (layout.group_by_site's rows, unsorted),
 * from its findings idx[0..nf); *n rows, NULL with *n 0 when none, NULL with
 * *n 1 when out of memory. */
static inline row *leak_rows(vg *a, const size_t *idx, size_t nf, size_t *n)
{
    size_t nl = 0;
    for (size_t j = 0; j < nf; j++)
        nl += VG_AT(&a->findings, uint64_t, idx[j] * VG_FINDING_FIELDS + VG_F_KIND) == VG_KIND_LEAK;
    *n = 0;
    if (nl == 0)
        return NULL;
    row *r = calloc(nl, sizeof *r);
    if (r == NULL) {
        *n = 1;
        return NULL;
    }
    size_t k = 0;
    for (size_t j = 0; j < nf; j++) {
        const uint64_t *f = &VG_AT(&a->findings, uint64_t, idx[j] * VG_FINDING_FIELDS);
        if (f[VG_F_KIND] == VG_KIND_LEAK)
            r[k++] = (row){f[VG_F_SITE], 1, f[VG_F_SIZE], NULL, 0};
    }
    /* one row per site: sorted by site id, runs merged */
    if (k > 1)
        qsort(r, k, sizeof *r, by_site_id);
    size_t m = 0;
    for (size_t j = 0; j < k; j++) {
        if (m && r[m - 1].site == r[j].site) {
            r[m - 1].count++;
            r[m - 1].bytes += r[j].bytes;
        } else {
            r[m++] = r[j];
        }
    }
    for (size_t j = 0; j < m; j++)
        r[j].text = site_of(a, r[j].site, &r[j].len);
    *n = m;
    return r;
}

/* Each segment's findings in the order they were made: idx[start[i],
 * start[i + 1]) are segment i's (a stable counting sort). false when out
 * of memory. */
static inline int findings_by_segment(vg *a, size_t **start_out, size_t **idx_out)
{
    size_t nseg = a->segs.len, nf = a->findings.len;
    size_t *start = calloc(nseg + 1, sizeof *start);
    size_t *idx = malloc((nf ? nf : 1) * sizeof *idx);
    size_t *fill = calloc(nseg ? nseg : 1, sizeof *fill);
    if (start == NULL || idx == NULL || fill == NULL) {
        free(start);
        free(idx);
        free(fill);
        return 0;
    }
    for (size_t j = 0; j < nf; j++)
        start[VG_AT(&a->findings, uint64_t, j * VG_FINDING_FIELDS + VG_F_SEG) + 1]++;
    for (size_t i = 0; i < nseg; i++)
        start[i + 1] += start[i];
    for (size_t j = 0; j < nf; j++) {
        size_t s = (size_t)VG_AT(&a->findings, uint64_t, j * VG_FINDING_FIELDS + VG_F_SEG);
        idx[start[s] + fill[s]++] = j;
    }
    free(fill);
    *start_out = start;
    *idx_out = idx;
    return 1;
}

/* segment i's name */
static inline const char *name_of(vg *a, size_t i, size_t *n)
{
    uint64_t start = VG_AT(&a->name_offs, uint64_t, i);
    uint64_t end = i + 1 < a->name_offs.len ? VG_AT(&a->name_offs, uint64_t, i + 1) : a->names.len;
    *n = (size_t)(end - start);
    return (const char *)a->names.data + start;
}

/* Segment.max_live_percent's heap size: the peak's heap, else the segment's; 0 for none */
static inline uint64_t percent_base(const uint64_t *s)
{
    return s[VG_SEG_HAS_PEAK_HEAP] ? s[VG_SEG_PEAK_SIZE] : s[VG_SEG_HAS_HEAP] ? s[VG_SEG_HEAP_SIZE] : 0;
}

#endif
