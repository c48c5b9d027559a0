/**
 * @file trace_check.c
 * @brief Checks of the hatrace reader and of the tracer's output.
 *
 * usage: trace_check reader PARENT.hat CHILD.hat
 *            the committed traces of trace_known (testdata/): the known
 *            checks below, then the reader against every truncation, byte
 *            mutations, random mutations and hand-made hostile traces:
 *            each gets a clear error ("byte N: ...", N inside the data) or
 *            reads fine, never a crash (the meson test 'trace_reader', run
 *            under ASan/UBSan and valgrind too)
 *        trace_check known PARENT.hat CHILD.hat [G S C]
 *            trace_known's traces hold exactly its sections (trace_known.c)
 *            and every new id is the smallest free one; G S C: whether its
 *            three reallocs moved (its "moves:" lines), else either is taken
 *        trace_check valid [--partial] TRACE...
 *            reads each trace through, checks the smallest-free-id rule,
 *            prints "ok: FILE: N records, T threads, O operations"
 * Exit status: 0 all checks passed, 1 a check failed (the reason on
 * stderr), 2 usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

static int failures;

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    failures++;
}

/* ---- whole-trace reading with the smallest-free-id model ------------------ */

struct idset {
    uint64_t *w;
    size_t nw;
    uint64_t lo; /* no free id below lo */
};

static bool ids_has(const struct idset *s, uint64_t id) {
    return id / 64 < s->nw && (s->w[id / 64] >> (id % 64) & 1);
}

static void ids_set(struct idset *s, uint64_t id, bool on) {
    if (id / 64 >= s->nw) {
        size_t n = s->nw ? s->nw : 16;
        while (n <= id / 64)
            n *= 2;
        uint64_t *w = realloc(s->w, n * sizeof *w);
        if (!w) {
            fprintf(stderr, "trace_check: out of memory\n");
            exit(1);
        }
        memset(w + s->nw, 0, (n - s->nw) * sizeof *w);
        s->w = w;
        s->nw = n;
    }
    if (on)
        s->w[id / 64] |= (uint64_t)1 << (id % 64);
    else
        s->w[id / 64] &= ~((uint64_t)1 << (id % 64));
    if (!on && id < s->lo)
        s->lo = id;
}

static uint64_t ids_smallest_free(struct idset *s) {
    uint64_t id = s->lo ? s->lo : 1;
    while (ids_has(s, id))
        id++;
    s->lo = id;
    return id;
}

struct loaded {
    hat_header hdr;
    hat_record *recs; /* NULL unless kept */
    size_t n, ops;
};

/* Reads path through; checks that each new id is the smallest free one.
 * 0 ok, -1 (reported) otherwise. */
static int load(const char *path, unsigned flags, struct loaded *out, bool keep) {
    memset(out, 0, sizeof *out);
    hat_error err;
    hat_trace *t = hat_open_file(path, flags, &err);
    if (!t) {
        fail("%s: %s", path, err.msg);
        return -1;
    }
    out->hdr = *hat_get_header(t);
    struct idset live = {NULL, 0, 1};
    size_t cap = 0;
    hat_record r;
    int rc, bad = 0;
    while ((rc = hat_next(t, &r)) == 1) {
        out->n++;
        if (!keep) {
            out->ops += r.op != HAT_OP_INHERIT && r.op != HAT_OP_FORK;
        } else if (out->n > cap) {
            cap = cap ? cap * 2 : 256;
            hat_record *n = realloc(out->recs, cap * sizeof *n);
            if (!n) {
                fprintf(stderr, "trace_check: out of memory\n");
                exit(1);
            }
            out->recs = n;
        }
        if (keep)
            out->recs[out->n - 1] = r;
        if (r.op == HAT_OP_INHERIT) {
            ids_set(&live, r.id, true);
            continue;
        }
        bool makes = r.id && !(r.old_id && r.id == r.old_id);
        if (makes) {
            uint64_t want = ids_smallest_free(&live);
            if (r.id != want && bad++ < 5)
                fail("%s: byte %" PRIu64 ": %s got id %" PRIu64 ", the smallest free id is %" PRIu64,
                     path, r.offset, hat_op_name(r.op), r.id, want);
            ids_set(&live, r.id, true);
        }
        if (r.old_freed)
            ids_set(&live, r.old_id, false);
    }
    if (rc < 0)
        fail("%s: %s", path, hat_last_error(t)->msg);
    hat_close(t);
    free(live.w);
    return rc < 0 || bad ? -1 : 0;
}

/* ---- the known sequence (trace_known.c) ------------------------------------ */

#define MARK_BASE (UINT64_MAX - 1000)
#define HUGE (UINT64_MAX / 2)
#define PAGE (UINT64_MAX - 1) /* the header's page size */

/* id / old: 0 = must be 0; 'A'.. = a block: bound on first sight, equal after */
struct step {
    hat_op op;
    char id, old;
    uint64_t x, y; /* MALLOC/REALLOC: size; CALLOC/REALLOCARRAY: nmemb, size;
                      aligned: align, size */
    int freed;     /* old_freed: 0/1; -1: as the realloc moved or not */
};

static const struct step sec_main[] = {
    {HAT_OP_MALLOC, 'A', 0, 100, 0, 0},
    {HAT_OP_CALLOC, 'B', 0, 10, 20, 0},
    {HAT_OP_FREE, 0, 'A', 0, 0, 1},
    {HAT_OP_MALLOC, 'A', 0, 7, 0, 0}, /* the freed id again */
    {HAT_OP_MALLOC, 'D', 0, 8, 0, 0},
    {HAT_OP_REALLOC, 'E', 'A', 4000, 0, -1}, /* moves: G */
    {HAT_OP_REALLOC, 'E', 'E', 100, 0, -1},  /* in place: S */
    {HAT_OP_REALLOC, 'F', 0, 50, 0, 0},      /* realloc(NULL, 50) */
    {HAT_OP_REALLOC, 0, 'F', 0, 0, 1},       /* realloc(p, 0) frees */
    {HAT_OP_MALLOC, 0, 0, HUGE, 0, 0},
    {HAT_OP_CALLOC, 0, 0, HUGE, 4, 0},
    {HAT_OP_REALLOC, 0, 'E', HUGE, 0, 0},    /* fails, E stays */
    {HAT_OP_POSIX_MEMALIGN, 'G', 0, 64, 200, 0},
    {HAT_OP_POSIX_MEMALIGN, 0, 0, 3, 10, 0}, /* EINVAL */
    {HAT_OP_ALIGNED_ALLOC, 'H', 0, 128, 256, 0},
    {HAT_OP_MEMALIGN, 'I', 0, 32, 33, 0},
    {HAT_OP_VALLOC, 'J', 0, PAGE, 10, 0},
    {HAT_OP_PVALLOC, 'K', 0, PAGE, 10, 0},
    {HAT_OP_REALLOCARRAY, 'L', 0, 3, 5, 0},
    {HAT_OP_REALLOCARRAY, 0, 'L', HUGE, 4, 0}, /* overflow: fails */
    {HAT_OP_REALLOCARRAY, 0, 'L', 0, 8, 1},    /* realloc(k, 0) */
    {HAT_OP_MALLOC, 'M', 0, 200000, 0, 0},
    {HAT_OP_FREE, 0, 'M', 0, 0, 1},
    {HAT_OP_FREE, 0, 'D', 0, 0, 1},
    {HAT_OP_FREE, 0, 'G', 0, 0, 1},
    {HAT_OP_FREE, 0, 'H', 0, 0, 1},
    {HAT_OP_FREE, 0, 'I', 0, 0, 1},
    {HAT_OP_FREE, 0, 'J', 0, 0, 1},
    {HAT_OP_FREE, 0, 'K', 0, 0, 1},
};
static const struct step sec_thread[] = {
    {HAT_OP_MALLOC, 'P', 0, 1000, 0, 0},
    {HAT_OP_MALLOC, 'Q', 0, 33, 0, 0},
    {HAT_OP_FREE, 0, 'P', 0, 0, 1},
    {HAT_OP_CALLOC, 'P', 0, 1, 5, 0},
};
static const struct step sec_join[] = {
    {HAT_OP_FREE, 0, 'Q', 0, 0, 1},
    {HAT_OP_FREE, 0, 'P', 0, 0, 1},
};
static const struct step sec_child[] = {
    {HAT_OP_FREE, 0, 'B', 0, 0, 1}, /* inherited */
    {HAT_OP_REALLOC, 'E', 'E', 50, 0, -1}, /* inherited; moves: C */
    {HAT_OP_MALLOC, 'N', 0, 64, 0, 0},
    {HAT_OP_FREE, 0, 'N', 0, 0, 1},
};

struct binds {
    uint64_t v[128];
};

static bool bind(struct binds *b, char sym, uint64_t id, const char *what) {
    unsigned i = (unsigned char)sym;
    if (!b->v[i]) {
        b->v[i] = id;
        return true;
    }
    if (b->v[i] != id) {
        fail("%s: block %c is id %" PRIu64 ", expected %" PRIu64, what, sym, id, b->v[i]);
        return false;
    }
    return true;
}

static size_t find_mark(const struct loaded *l, unsigned n, const char *path) {
    for (size_t i = 0; i < l->n; i++)
        if (l->recs[i].op == HAT_OP_MALLOC && l->recs[i].id == 0 &&
            l->recs[i].size == MARK_BASE + n)
            return i;
    fail("%s: marker %u (a failed malloc of SIZE_MAX - 1000 + %u) not found", path, n, n);
    return SIZE_MAX;
}

/* moves[i]: -1 unknown, 0 same, 1 moved, for the steps with freed == -1 in order */
static void check_section(const struct loaded *l, const char *path, unsigned m, uint32_t thread,
                          const struct step *steps, size_t nsteps, struct binds *b,
                          const int *moves, size_t *move_i) {
    size_t s = find_mark(l, m, path), e = find_mark(l, m + 1, path);
    if (s == SIZE_MAX || e == SIZE_MAX)
        return;
    char what[400];
    if (l->recs[s].thread != thread)
        fail("%s: marker %u in thread %u, expected %u", path, m, l->recs[s].thread, thread);
    if (e - s - 1 != nsteps) {
        fail("%s: section %u-%u holds %zu records, expected %zu", path, m, m + 1, e - s - 1, nsteps);
        return;
    }
    for (size_t k = 0; k < nsteps; k++) {
        const hat_record *r = &l->recs[s + 1 + k];
        const struct step *st = &steps[k];
        snprintf(what, sizeof what, "%s: section %u, step %zu (%s, byte %" PRIu64 ")", path, m, k + 1,
                 hat_op_name(st->op), r->offset);
        if (r->op != st->op) {
            fail("%s: got %s", what, hat_op_name(r->op));
            continue;
        }
        if (r->thread != thread)
            fail("%s: thread %u, expected %u", what, r->thread, thread);
        if (r->old_unknown)
            fail("%s: unknown pointer", what);
        uint64_t x = st->x == PAGE ? l->hdr.page_size : st->x;
        switch (st->op) {
        case HAT_OP_MALLOC:
        case HAT_OP_REALLOC:
            if (r->size != x)
                fail("%s: size %" PRIu64 ", expected %" PRIu64, what, r->size, x);
            break;
        case HAT_OP_CALLOC:
        case HAT_OP_REALLOCARRAY:
            if (r->nmemb != x || r->elem_size != st->y)
                fail("%s: %" PRIu64 " x %" PRIu64 ", expected %" PRIu64 " x %" PRIu64, what,
                     r->nmemb, r->elem_size, x, st->y);
            break;
        case HAT_OP_FREE:
            break;
        default:
            if (r->align != x || r->size != st->y)
                fail("%s: align %" PRIu64 " size %" PRIu64 ", expected %" PRIu64 " / %" PRIu64,
                     what, r->align, r->size, x, st->y);
        }
        if (st->old) {
            if (!r->old_id)
                fail("%s: no old id", what);
            else
                bind(b, st->old, r->old_id, what);
        } else if (r->old_id) {
            fail("%s: old id %" PRIu64 ", expected none", what, r->old_id);
        }
        if (st->freed == -1) {
            int mv = moves[(*move_i)++];
            bool moved = r->id != r->old_id;
            if (mv >= 0 && moved != (mv == 1))
                fail("%s: the program says its realloc %s, the trace says it %s", what,
                     mv ? "moved" : "stayed", moved ? "moved" : "stayed");
            if (r->old_freed != moved)
                fail("%s: old_freed %d for a realloc that %s", what, r->old_freed,
                     moved ? "moved" : "stayed");
            if (!r->id)
                fail("%s: returned NULL", what);
            b->v[(unsigned char)st->id] = r->id; /* the block's id from now on */
            continue;
        }
        if (st->id) {
            if (!r->id)
                fail("%s: returned NULL", what);
            else
                bind(b, st->id, r->id, what);
        } else if (r->id) {
            fail("%s: id %" PRIu64 ", expected a failed call (0)", what, r->id);
        }
        if (r->old_freed != (st->freed == 1))
            fail("%s: old_freed %d, expected %d", what, r->old_freed, st->freed);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int check_known(const char *parent, const char *child, const int moves[3]) {
    int before = failures;
    struct loaded p, c;
    if (load(parent, 0, &p, true) < 0 || load(child, 0, &c, true) < 0)
        return 1;
    struct binds b;
    memset(&b, 0, sizeof b);
    size_t mi = 0;
    check_section(&p, parent, 1, 0, sec_main, N(sec_main), &b, moves, &mi);
    check_section(&p, parent, 3, 1, sec_thread, N(sec_thread), &b, moves, &mi);
    check_section(&p, parent, 5, 0, sec_join, N(sec_join), &b, moves, &mi);
    /* the parent: one FORK, after section 5-6, in thread 0 */
    size_t m6 = find_mark(&p, 6, parent), forks = 0;
    for (size_t i = 0; i < p.n; i++) {
        if (p.recs[i].op != HAT_OP_FORK)
            continue;
        forks++;
        if (i < m6 || p.recs[i].fork_index != 0 || p.recs[i].thread != 0)
            fail("%s: FORK record at byte %" PRIu64 " (index %" PRIu64 ", thread %u): expected "
                 "index 0 in thread 0 after marker 6", parent, p.recs[i].offset,
                 p.recs[i].fork_index, p.recs[i].thread);
    }
    if (forks != 1)
        fail("%s: %zu FORK records, expected 1", parent, forks);
    if (!p.hdr.complete || p.hdr.threads < 2 || p.hdr.free_null < 1 || p.hdr.parent_pid)
        fail("%s: header/trailer: complete %d threads %" PRIu64 " free_null %" PRIu64
             " parent %" PRIu64, parent, p.hdr.complete, p.hdr.threads, p.hdr.free_null,
             p.hdr.parent_pid);
    if (strcmp(p.hdr.name, "trace_known") != 0)
        fail("%s: program name '%s', expected trace_known", parent, p.hdr.name);
    /* the child: its own pid, the parent's pid and fork index, B and E inherited */
    if (c.hdr.parent_pid != p.hdr.pid || c.hdr.pid == p.hdr.pid || c.hdr.fork_index != 0)
        fail("%s: pid %" PRIu64 " parent %" PRIu64 " fork #%" PRIu64 ", expected the parent %" PRIu64
             ", fork #0", child, c.hdr.pid, c.hdr.parent_pid, c.hdr.fork_index, p.hdr.pid);
    if (c.hdr.threads != 1 || strcmp(c.hdr.name, "trace_known") != 0)
        fail("%s: %" PRIu64 " threads, name '%s'", child, c.hdr.threads, c.hdr.name);
    bool got_b = false, got_e = false;
    for (size_t i = 0; i < c.n && c.recs[i].op == HAT_OP_INHERIT; i++) {
        if (c.recs[i].id == b.v['B'] && c.recs[i].size == 200)
            got_b = true;
        if (c.recs[i].id == b.v['E'] && c.recs[i].size == 100)
            got_e = true;
    }
    if (!got_b || !got_e)
        fail("%s: blocks B (id %" PRIu64 ", 200 bytes) and E (id %" PRIu64
             ", 100 bytes) not both inherited", child, b.v['B'], b.v['E']);
    if (c.hdr.inherited == 0)
        fail("%s: no inherited blocks", child);
    check_section(&c, child, 7, 0, sec_child, N(sec_child), &b, moves, &mi);
    free(p.recs);
    free(c.recs);
    if (failures == before)
        printf("ok: known sequence in %s and %s\n", parent, child);
    return failures != before;
}

/* ---- hostile input ------------------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *b = malloc(cap);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

/* Opens and reads data[0..len) through. Returns 1 read fine, 0 error; an
 * error must be clear: a message, and an offset inside the data. */
static int run_one(const unsigned char *data, size_t len, unsigned flags, const char *what) {
    /* an exact-size copy: ASan and valgrind see any read past it */
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        exit(1);
    if (len)
        memcpy(copy, data, len);
    hat_error err;
    memset(&err, 0, sizeof err);
    int ok = 0;
    hat_trace *t = hat_open_mem(copy, len, flags, &err);
    if (t) {
        hat_record r;
        int rc;
        uint64_t n = 0;
        while ((rc = hat_next(t, &r)) == 1)
            n++;
        if (rc < 0)
            err = *hat_last_error(t);
        else
            ok = 1;
        if (hat_next(t, &r) != rc)
            fail("%s: hat_next changed its answer after the end", what);
        hat_close(t);
    }
    if (!ok) {
        if (!err.msg[0])
            fail("%s: error without a message", what);
        if (err.has_offset && err.offset > len)
            fail("%s: error offset %" PRIu64 " past the %zu bytes: %s", what, err.offset, len,
                 err.msg);
        if (err.has_offset && strncmp(err.msg, "byte ", 5) != 0)
            fail("%s: message does not start with the byte offset: %s", what, err.msg);
    }
    free(copy);
    return ok;
}

/* trace builder */
struct tb {
    unsigned char b[4096];
    size_t n;
};

static void tb_u8(struct tb *t, unsigned v) {
    t->b[t->n++] = (unsigned char)v;
}

static void tb_var(struct tb *t, uint64_t v) {
    while (v >= 0x80) {
        tb_u8(t, (unsigned)(v & 0x7f) | 0x80);
        v >>= 7;
    }
    tb_u8(t, (unsigned)v);
}

static void tb_header(struct tb *t, uint64_t version, uint64_t name_len, uint64_t inherited) {
    t->n = 0;
    memcpy(t->b, HAT_MAGIC, HAT_MAGIC_LEN);
    t->n = HAT_MAGIC_LEN;
    tb_var(t, version);
    tb_var(t, 1234); /* pid */
    tb_var(t, 0);
    tb_var(t, 0);
    tb_var(t, 4096);
    tb_var(t, name_len);
    for (uint64_t i = 0; i < name_len && i < 8; i++)
        tb_u8(t, 'x');
    tb_var(t, inherited);
}

static void tb_end(struct tb *t, uint64_t records, uint64_t threads, uint64_t max_id) {
    size_t s = t->n;
    tb_u8(t, HAT_K_END);
    tb_var(t, records);
    tb_var(t, threads);
    tb_var(t, max_id);
    tb_var(t, 0);
    tb_var(t, 0);
    tb_u8(t, (unsigned)(t->n - s));
    memcpy(t->b + t->n, HAT_FOOTER_MAGIC, HAT_FOOTER_MAGIC_LEN);
    t->n += HAT_FOOTER_MAGIC_LEN;
}

static void expect_error(const struct tb *t, const char *needle, const char *what) {
    unsigned char *copy = malloc(t->n ? t->n : 1);
    if (!copy)
        exit(1);
    memcpy(copy, t->b, t->n);
    hat_error err;
    memset(&err, 0, sizeof err);
    hat_trace *tr = hat_open_mem(copy, t->n, 0, &err);
    int rc = -1;
    if (tr) {
        hat_record r;
        while ((rc = hat_next(tr, &r)) == 1)
            ;
        if (rc < 0)
            err = *hat_last_error(tr);
        hat_close(tr);
    }
    if (rc == 0)
        fail("hostile '%s': read without an error", what);
    else if (!strstr(err.msg, needle))
        fail("hostile '%s': error \"%s\" does not say \"%s\"", what, err.msg, needle);
    else if (!err.has_offset || err.offset > t->n)
        fail("hostile '%s': error \"%s\" without an offset in the data", what, err.msg);
    free(copy);
}

static void hostile_handmade(void) {
    struct tb t;
    /* a good one first: the builder is right */
    tb_header(&t, 1, 3, 0);
    tb_u8(&t, HAT_K_MALLOC), tb_var(&t, 1), tb_var(&t, 10);
    tb_u8(&t, HAT_K_FREE), tb_var(&t, 1);
    tb_end(&t, 2, 1, 1);
    if (run_one(t.b, t.n, 0, "hand-made good trace") != 1)
        fail("the hand-made good trace does not read");

    t.n = 0;
    expect_error(&t, "byte 0: not a hatrace trace", "empty");
    memcpy(t.b, "HATR", 4), t.n = 4;
    expect_error(&t, "byte 4: truncated header", "4 bytes of magic");
    memcpy(t.b, "GIF89a\0\0\0\0", 10), t.n = 10;
    expect_error(&t, "not a hatrace trace", "another format");
    tb_header(&t, 2, 3, 0), tb_end(&t, 0, 0, 0);
    expect_error(&t, "byte 8: trace format version 2", "version 2");
    tb_header(&t, 1, 1000, 0), tb_end(&t, 0, 0, 0);
    expect_error(&t, "name length 1000", "name too long");
    tb_header(&t, 1, 200, 0); /* 200 announced, 8 written */
    expect_error(&t, "header name: truncated", "name past the end");
    tb_header(&t, 1, 3, (uint64_t)1 << 40), tb_end(&t, 0, 0, 0);
    expect_error(&t, "inherited count 1099511627776", "huge inherited count");
    tb_header(&t, 1, 3, 0), tb_u8(&t, HAT_K_MALLOC);
    for (int i = 0; i < 11; i++)
        tb_u8(&t, 0xff);
    tb_u8(&t, 0), tb_end(&t, 1, 1, 0);
    expect_error(&t, "varint larger than 64 bits", "11-byte varint");
    tb_header(&t, 1, 3, 0), tb_u8(&t, HAT_K_MALLOC), tb_var(&t, 1), tb_var(&t, 10);
    expect_error(&t, "no trailer", "no trailer");
    tb_header(&t, 1, 3, 0), tb_u8(&t, 11), tb_end(&t, 1, 1, 0);
    expect_error(&t, "unknown record kind 11", "unknown kind");
    tb_header(&t, 1, 3, 0), tb_u8(&t, HAT_K_MALLOC | 0x80), tb_var(&t, 1), tb_var(&t, 1);
    tb_end(&t, 1, 1, 1);
    expect_error(&t, "bad record byte 0x81", "unknown flag on malloc");
    tb_header(&t, 1, 3, 0), tb_u8(&t, HAT_K_FREE), tb_var(&t, 5), tb_end(&t, 1, 1, 0);
    expect_error(&t, "id 5 is not live", "free of a dead id");
    tb_header(&t, 1, 3, 0), tb_u8(&t, HAT_K_MALLOC), tb_var(&t, 3), tb_var(&t, 8);
    tb_end(&t, 1, 1, 1);
    expect_error(&t, "new id 3 skips ids", "id jump");
    tb_header(&t, 1, 3, 0);
    tb_u8(&t, HAT_K_MALLOC), tb_var(&t, 1), tb_var(&t, 8);
    tb_u8(&t, HAT_K_MALLOC), tb_var(&t, 1), tb_var(&t, 8);
    tb_end(&t, 2, 1, 1);
    expect_error(&t, "new id 1 is already live", "id reused while live");
    tb_header(&t, 1, 3, 0), tb_u8(&t, HAT_K_THREAD), tb_var(&t, 7), tb_end(&t, 1, 1, 0);
    expect_error(&t, "thread index 7 skips", "thread jump");
    tb_header(&t, 1, 3, 0), tb_u8(&t, HAT_K_MALLOC), tb_var(&t, 1), tb_var(&t, 8);
    tb_end(&t, 1, 1, 1);
    t.b[t.n - HAT_FOOTER_MAGIC_LEN - 1 - 4] = 2; /* END's threads: 1 -> 2 */
    expect_error(&t, "END says 2 threads", "trailer thread count");
    tb_header(&t, 1, 3, 0), tb_u8(&t, HAT_K_MALLOC), tb_var(&t, 1), tb_var(&t, 8);
    tb_end(&t, 2, 1, 1);
    expect_error(&t, "END says 2 records", "trailer record count");
    tb_header(&t, 1, 3, 0), tb_u8(&t, HAT_K_MALLOC), tb_var(&t, 1), tb_var(&t, 8);
    tb_end(&t, 1, 1, 1);
    tb_u8(&t, 0);
    expect_error(&t, "no trailer", "a byte after the footer");
    tb_header(&t, 1, 3, 0), tb_u8(&t, HAT_K_CALLOC), tb_var(&t, 1);
    tb_var(&t, (uint64_t)1 << 40), tb_var(&t, (uint64_t)1 << 40);
    tb_end(&t, 1, 1, 1);
    expect_error(&t, "more than 2^63-1", "calloc success with an overflowing product");
    tb_header(&t, 1, 3, 0), tb_end(&t, 0, 0, 999);
    expect_error(&t, "max id 999 out of range", "trailer max id");
    tb_header(&t, 1, 3, 0), tb_end(&t, 1000000, 0, 0);
    expect_error(&t, "1000000 records cannot fit", "trailer record count too large");
    tb_header(&t, 1, 3, 0), tb_u8(&t, HAT_K_FORK), tb_var(&t, 3), tb_end(&t, 1, 1, 0);
    expect_error(&t, "FORK index 3, expected 0", "fork index");
    tb_header(&t, 1, 3, 2), tb_var(&t, 5), tb_var(&t, 8), tb_var(&t, 0), tb_var(&t, 8);
    tb_end(&t, 0, 0, 5);
    expect_error(&t, "id step 0", "inherited ids not increasing");
    tb_header(&t, 1, 3, 0), tb_u8(&t, HAT_K_REALLOC), tb_var(&t, 0), tb_var(&t, 1);
    tb_end(&t, 1, 1, 1); /* the size is missing: END's byte is read as it */
    expect_error(&t, "size: truncated", "realloc cut short");
}

static void hostile(const char *path) {
    size_t len;
    unsigned char *d = slurp(path, &len);
    if (!d) {
        fail("cannot read %s", path);
        return;
    }
    char what[600];
    unsigned ok = 0, errors = 0;
    /* every truncation: an error without the trailer; partial reads no crash */
    for (size_t n = 0; n < len; n++) {
        snprintf(what, sizeof what, "%s cut to %zu bytes", path, n);
        if (run_one(d, n, 0, what))
            fail("%s: read without an error", what);
        run_one(d, n, HAT_OPEN_PARTIAL, what);
    }
    /* every byte, five ways */
    static const unsigned xors[] = {0x01, 0x80, 0xff, 0x40, 0x7f};
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < N(xors); k++) {
            unsigned char save = d[i];
            d[i] = (unsigned char)(save ^ xors[k]);
            snprintf(what, sizeof what, "%s byte %zu ^ 0x%02x", path, i, xors[k]);
            if (run_one(d, len, 0, what))
                ok++;
            else
                errors++;
            d[i] = save;
        }
    }
    /* random multi-byte mutations, fixed seed */
    unsigned char *m = malloc(len);
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (unsigned it = 0; m && it < 3000; it++) {
        memcpy(m, d, len);
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        unsigned nmut = 1 + (unsigned)(s >> 60) % 4;
        for (unsigned j = 0; j < nmut; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            m[(s >> 20) % len] = (unsigned char)(s >> 50);
        }
        snprintf(what, sizeof what, "%s random mutation %u", path, it);
        if (run_one(m, len, 0, what))
            ok++;
        else
            errors++;
        run_one(m, len, HAT_OPEN_PARTIAL, what);
    }
    free(m);
    printf("ok: %s: %zu truncations, %u mutations read fine, %u rejected with an offset\n", path,
           len, ok, errors);
    free(d);
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "known") == 0) {
        int moves[3] = {-1, -1, -1};
        if (argc == 7)
            for (int i = 0; i < 3; i++)
                moves[i] = atoi(argv[4 + i]) != 0;
        else if (argc != 4)
            goto usage;
        return check_known(argv[2], argv[3], moves);
    }
    if (argc == 4 && strcmp(argv[1], "reader") == 0) {
        int moves[3] = {-1, -1, -1};
        check_known(argv[2], argv[3], moves);
        hostile_handmade();
        hostile(argv[2]);
        hostile(argv[3]);
        if (!failures)
            printf("ok: reader\n");
        return failures != 0;
    }
    if (argc >= 3 && strcmp(argv[1], "valid") == 0) {
        unsigned flags = 0;
        int i = 2;
        if (strcmp(argv[i], "--partial") == 0) {
            flags = HAT_OPEN_PARTIAL;
            i++;
        }
        for (; i < argc; i++) {
            struct loaded l;
            if (load(argv[i], flags, &l, false) == 0) {
                size_t ops = l.ops;
                printf("ok: %s: %" PRIu64 " records, %" PRIu64 " threads, %zu operations\n", argv[i],
                       l.hdr.records, l.hdr.threads, ops);
            }
            free(l.recs);
        }
        return failures != 0;
    }
usage:
    fprintf(stderr, "usage: trace_check reader PARENT CHILD | known PARENT CHILD [G S C] | "
                    "valid [--partial] TRACE...\n");
    return 2;
}
