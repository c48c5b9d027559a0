/* The input, line by line, and the results (vg.h).
 *
 * A block of whole lines is read at a time. The lines that matter are found
 * the way stream.py finds them, with a search over the block for each marker
 * (`==MP `, `==MP! `, `::`, `collected `) rather than a look at every byte of
 * every line: most lines hold none of them, and memmem and memchr are the
 * C library's fastest loops. */
#define _GNU_SOURCE     /* memmem, memrchr */
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
    vg_vec_init(&a->site_acc, 6 * sizeof(uint64_t));
    vg_vec_init(&a->seg_site_ids, sizeof(uint32_t));
    vg_vec_init(&a->json, 1);
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
                      &a->starts, &a->frecs, &a->snap, &a->site_acc, &a->seg_site_ids, &a->json};
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

/* the next `needle` at or after p, end when none */
static const char *next(const char *p, const char *end, const char *needle, size_t n)
{
    const char *q = memmem(p, (size_t)(end - p), needle, n);
    return q ? q : end;
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
            mark = next(p, end, "==MP ", 5);
        if (test < p)
            test = next(p, end, "::", 2);
        if (collected < p)
            collected = next(p, end, "collected ", 10);
        if (fault < p)
            fault = next(p, end, "==MP! ", 6);
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
                if (memmem(ev_text, (size_t)(eol - ev_text), "==MP ", 5) != NULL)
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
    case VG_R_GLOBALS:
        a->globals[0] = (uint64_t)a->has_collected;
        a->globals[1] = a->collected;
        a->globals[2] = a->tests;
        *nbytes = sizeof a->globals;
        return a->globals;
    default:
        *nbytes = 0;
        return NULL;
    }
    *nbytes = (uint64_t)(v->len * v->elem);
    return *nbytes ? v->data : NULL;    /* a vector emptied again keeps its memory */
}
