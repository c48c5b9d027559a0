/* The input, line by line, and the results (vg.h).
 *
 * A block of whole lines is read at a time. The lines that matter are found
 * the way stream.py finds them, with a search over the block for each marker
 * (`==MP `, `==MP! `, `::`, `collected `) rather than a look at every byte of
 * every line: most lines hold none of them (next_eq and its kin below). */
#define _GNU_SOURCE     /* memrchr */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vg_internal.h"

enum { BLOCK = 8 << 20 };

vg *vg_new(int lean)
{
    vg *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->lean = lean != 0;
    vg_vec_init(&a->segs, VG_SEG_FIELDS * sizeof(uint64_t));
    vg_vec_init(&a->names, 1);
    vg_vec_init(&a->name_offs, sizeof(uint64_t));
    vg_vec_init(&a->findings, VG_FINDING_FIELDS * sizeof(uint64_t));
    vg_vec_init(&a->seg_sites, VG_SITE_FIELDS * sizeof(uint64_t));
    vg_vec_init(&a->peak_sites, VG_SITE_FIELDS * sizeof(uint64_t));
    vg_strings_init(&a->sites);
    vg_vec_init(&a->starts, sizeof(uint64_t));
    vg_vec_init(&a->frecs, sizeof(vg_block));
    vg_vec_init(&a->snap, sizeof(vg_block));
    vg_vec_init(&a->sorted, sizeof(vg_block));
    vg_vec_init(&a->site_acc, 6 * sizeof(uint64_t));
    vg_vec_init(&a->seg_site_ids, sizeof(uint32_t));
    vg_vec_init(&a->json, 1);
    vg_vec_init(&a->text, 1);
    if (!vg_model_start(a)) {
        vg_delete(a);
        return NULL;
    }
    return a;
}

void vg_delete(vg *a)
{
    if (a == NULL)
        return;
    vg_vec *vecs[] = {&a->segs, &a->names, &a->name_offs, &a->findings, &a->seg_sites, &a->peak_sites,
                      &a->starts, &a->frecs, &a->snap, &a->sorted, &a->site_acc, &a->seg_site_ids, &a->json, &a->text};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
        vg_vec_free(vecs[i]);
    vg_strings_free(&a->sites);
    vg_map_free(&a->live);
    vg_map_free(&a->snap_map);
    vg_set_free(&a->freed);
    free(a->scratch);
    free(a);
}

uint64_t vg_bail_line(const vg *a)
{
    return a->bail_line;
}

const char *vg_bail_reason(const vg *a)
{
    return a->bail_reason ? a->bail_reason : "";
}

/* The next marker at or after p, end when none. glibc's memmem is generic
 * code at about three instructions a byte plus a set-up per call (a third
 * of the core's instructions, callgrind); memchr is vectorized, so each
 * search starts from a byte of its marker that logs seldom hold. */

/* `==MP ` and `==MP! `: from their first byte, `=` (rare outside them) */
static const char *next_eq(const char *p, const char *end, const char *needle, size_t n)
{
    while ((size_t)(end - p) >= n) {
        const char *q = memchr(p, '=', (size_t)(end - p) - (n - 1));
        if (q == NULL)
            break;
        if (memcmp(q, needle, n) == 0)
            return q;
        p = q + 1;
    }
    return end;
}

/* `::`: a colon followed by a colon */
static const char *next_colons(const char *p, const char *end)
{
    while (end - p >= 2) {
        const char *q = memchr(p, ':', (size_t)(end - p) - 1);
        if (q == NULL)
            break;
        if (q[1] == ':')
            return q;
        p = q + 1;
    }
    return end;
}

/* `collected `: rare and long, so Horspool's skips (about ten bytes a step) */
static const char *next_collected(const char *p, const char *end)
{
    static const char needle[] = "collected ";
    enum { N = sizeof needle - 1 };
    static unsigned char skip[256];
    if (skip[0] == 0) {
        for (int c = 0; c < 256; c++)
            skip[c] = N;
        for (int i = 0; i < N - 1; i++)
            skip[(unsigned char)needle[i]] = (unsigned char)(N - 1 - i);
    }
    for (const char *q = p; end - q >= N; q += skip[(unsigned char)q[N - 1]])
        if (q[N - 1] == ' ' && memcmp(q, needle, N) == 0)
            return q;
    return end;
}

static int status_of(vg *a)
{
    if (a->oom)
        return VG_NO_MEMORY;
    return a->bailed ? VG_BAIL : VG_OK;
}

/* whole lines, text[0, n) ending with a newline */
static int lines(vg *a, const char *text, size_t n)
{
    const char *p = text, *end = text + n;
    const char *mark = p - 1, *fault = p - 1, *test = p - 1, *collected = p - 1;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        a->line++;
        if (mark < p)
            mark = next_eq(p, end, "==MP ", 5);
        if (test < p)
            test = next_colons(p, end);
        if (collected < p)
            collected = next_collected(p, end);
        if (fault < p)
            fault = next_eq(p, end, "==MP! ", 6);
        if (test < eol || collected < eol || fault < eol) {
            /* a line that may be pytest's: handled whole (stream.special_line) */
            if (mark < eol || fault < eol)
                return vg_fail(a, "an event or fault on a line that may be pytest's");
            if (!vg_model_other(a, p, eol))
                return 0;
        } else {
            uint64_t *s = VG_SEG(a, a->seg);
            if (s[VG_SEG_ORDINAL] != 0 && s[VG_SEG_STATUS] == 0 && vg_starts_with_status(p, eol)) {
                int st = vg_status_line(p, eol);
                if (st)
                    vg_model_status(a, st);
            }
            if (mark < eol) {
                const char *ev_text = mark + 5;
                if (next_eq(ev_text, eol, "==MP ", 5) != eol)
                    return vg_fail(a, "two events on one line");
                vg_event ev;
                if (!vg_parse_event(ev_text, eol, &ev))
                    return vg_fail(a, "an event the Python parser reads (or warns about)");
                a->seq++;
                if (!vg_model_event(a, &ev))
                    return 0;
            }
        }
        p = eol + 1;
    }
    return 1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

int vg_feed(vg *a, int fd, int spool_fd)
{
    if (a->finished)
        return vg_fail(a, "input after vg_finish"), VG_BAIL;
    if (a->bailed || a->oom)
        return status_of(a);
    a->line = 0;
    size_t cap = BLOCK, fill = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        vg_oom(a);
        return VG_NO_MEMORY;
    }
    int rc = VG_OK;
    for (;;) {
        if (fill == cap) {
            /* a line longer than the buffer */
            char *b = cap <= SIZE_MAX / 2 - 1 ? realloc(buf, cap * 2 + 1) : NULL;
            if (b == NULL) {
                vg_oom(a);
                rc = VG_NO_MEMORY;
                break;
            }
            buf = b;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + fill, cap - fill);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            rc = VG_IO_ERROR;
            break;
        }
        if (spool_fd >= 0 && got > 0 && !write_all(spool_fd, buf + fill, (size_t)got)) {
            rc = VG_IO_ERROR;
            break;
        }
        if (got == 0) {
            if (fill > 0) {
                /* a last line without its newline gets one (scan.blocks) */
                buf[fill++] = '\n';
                if (!lines(a, buf, fill))
                    rc = status_of(a);
            }
            break;
        }
        fill += (size_t)got;
        const char *nl = memrchr(buf, '\n', fill);
        if (nl == NULL)
            continue;
        size_t whole = (size_t)(nl - buf) + 1;
        if (!lines(a, buf, whole)) {
            rc = status_of(a);
            break;
        }
        memmove(buf, buf + whole, fill - whole);
        fill -= whole;
    }
    if (rc == VG_IO_ERROR)
        vg_fail(a, "a read or write error");    /* nothing more is accepted (vg.h); errno is kept */
    free(buf);
    return rc;
}

int vg_finish(vg *a)
{
    if (a->bailed || a->oom)
        return status_of(a);
    if (a->finished)
        return VG_OK;
    if (!vg_model_finish(a))
        return status_of(a);
    a->finished = 1;
    return VG_OK;
}

const void *vg_result(vg *a, int which, uint64_t *nbytes)
{
    const vg_vec *v = NULL;
    switch (which) {
    case VG_R_SEGMENTS: v = &a->segs; break;
    case VG_R_FINDINGS: v = &a->findings; break;
    case VG_R_SITES: v = &a->seg_sites; break;
    case VG_R_PEAK_SITES: v = &a->peak_sites; break;
    case VG_R_SITE_TEXT: v = &a->sites.blob; break;
    case VG_R_SITE_OFFSETS: v = &a->sites.offs; break;
    case VG_R_NAMES: v = &a->names; break;
    case VG_R_NAME_OFFSETS: v = &a->name_offs; break;
    case VG_R_JSON: v = &a->json; break;
    case VG_R_TEXT: v = &a->text; break;
    case VG_R_GLOBALS:
        a->globals[0] = (uint64_t)a->has_collected;
        a->globals[1] = a->collected;
        a->globals[2] = a->tests;
        vg_totals(a, a->globals + 3);
        *nbytes = sizeof a->globals;
        return a->globals;
    default:
        *nbytes = 0;
        return NULL;
    }
    *nbytes = (uint64_t)(v->len * v->elem);
    return *nbytes ? v->data : NULL;    /* a vector emptied again keeps its memory */
}
