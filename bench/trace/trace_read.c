/**
 * @file trace_read.c
 * @brief The hatrace reader (trace.h; format: FORMAT.md).
 *
 * Nothing read from the trace is trusted: every varint is bounded by the
 * data (and by 10 bytes), every length and count by the bytes that could
 * hold it, every id and thread index by the rules the tracer follows, and
 * the trailer by the records actually read. Errors name the byte offset.
 */
#define _POSIX_C_SOURCE 200809L
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct live_slot {
    uint64_t id; /* 0: empty */
    uint64_t size;
};

struct hat_trace {
    const unsigned char *data;
    size_t len;
    unsigned char *owned; /* hat_open_file's copy */
    unsigned flags;
    hat_header hdr;
    size_t inh_off;     /* first inherited entry */
    size_t end_off;     /* the END record (complete) or len (partial) */
    uint64_t last_inherited_id;

    /* iteration */
    size_t pos;
    uint64_t inh_left, inh_prev;
    uint32_t thread;
    uint64_t threads_seen, records_seen, max_seen, forks_seen;
    int state; /* 1: running, 0: ended, -1: error */
    hat_error err;

    struct live_slot *live;
    size_t live_cap, live_used;
};

/* ---- errors ---------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void set_err(hat_error *e, int64_t off,
                                                          const char *fmt, ...) {
    if (!e)
        return;
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    e->has_offset = off >= 0;
    e->offset = off >= 0 ? (uint64_t)off : 0;
    if (off >= 0)
        snprintf(e->msg, sizeof e->msg, "byte %lld: %s", (long long)off, what);
    else
        snprintf(e->msg, sizeof e->msg, "%s", what);
}

#define FAIL(t, off, ...)                                 \
    do {                                                  \
        set_err(&(t)->err, (int64_t)(off), __VA_ARGS__);  \
        (t)->state = -1;                                  \
        return -1;                                        \
    } while (0)

/* ---- varints ---------------------------------------------------------------- */

/* Decodes a LEB128 varint at *pos, not reading at or past limit.
 * 0 on success (*pos advanced); -1 with e filled. */
static int get_var(const unsigned char *d, size_t *pos, size_t limit, uint64_t *out,
                   const char *what, hat_error *e) {
    size_t p = *pos;
    uint64_t v = 0;
    for (unsigned i = 0;; i++) {
        if (p >= limit) {
            set_err(e, (int64_t)*pos, "%s: truncated (the data ends at byte %zu)", what, limit);
            return -1;
        }
        unsigned b = d[p++];
        if (i == 9 && b > 1) {
            set_err(e, (int64_t)*pos, "%s: varint larger than 64 bits", what);
            return -1;
        }
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            break;
    }
    *out = v;
    *pos = p;
    return 0;
}

static int var(hat_trace *t, size_t limit, uint64_t *out, const char *what) {
    if (get_var(t->data, &t->pos, limit, out, what, &t->err) < 0) {
        t->state = -1;
        return -1;
    }
    return 0;
}

/* ---- live blocks: id -> size ------------------------------------------------ */

static size_t live_hash(uint64_t id, size_t cap) {
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static struct live_slot *live_find(const hat_trace *t, uint64_t id) {
    if (!t->live_cap)
        return NULL;
    size_t j = live_hash(id, t->live_cap);
    while (t->live[j].id) {
        if (t->live[j].id == id)
            return &t->live[j];
        j = (j + 1) & (t->live_cap - 1);
    }
    return NULL;
}

static int live_put(hat_trace *t, uint64_t id, uint64_t size) {
    if ((t->live_used + 1) * 2 > t->live_cap) {
        size_t ncap = t->live_cap ? t->live_cap * 2 : 1024;
        struct live_slot *n = calloc(ncap, sizeof *n);
        if (!n) {
            set_err(&t->err, -1, "out of memory for %zu live blocks", t->live_used + 1);
            t->state = -1;
            return -1;
        }
        for (size_t i = 0; i < t->live_cap; i++) {
            if (!t->live[i].id)
                continue;
            size_t j = live_hash(t->live[i].id, ncap);
            while (n[j].id)
                j = (j + 1) & (ncap - 1);
            n[j] = t->live[i];
        }
        free(t->live);
        t->live = n;
        t->live_cap = ncap;
    }
    size_t j = live_hash(id, t->live_cap);
    while (t->live[j].id)
        j = (j + 1) & (t->live_cap - 1);
    t->live[j].id = id;
    t->live[j].size = size;
    t->live_used++;
    return 0;
}

static void live_del(hat_trace *t, struct live_slot *s) {
    size_t mask = t->live_cap - 1, i = (size_t)(s - t->live);
    for (;;) {
        t->live[i].id = 0;
        size_t k = i;
        for (;;) {
            k = (k + 1) & mask;
            if (!t->live[k].id) {
                t->live_used--;
                return;
            }
            size_t h = live_hash(t->live[k].id, t->live_cap);
            if (i <= k ? (h <= i || h > k) : (h <= i && h > k))
                break;
        }
        t->live[i] = t->live[k];
        i = k;
    }
}

/* ---- open ------------------------------------------------------------------- */

static bool pow2(uint64_t v) {
    return v && !(v & (v - 1));
}

static hat_trace *open_fail(hat_trace *t, hat_error *err) {
    if (err)
        *err = t->err;
    free(t->owned);
    free(t);
    return NULL;
}

static int parse_header(hat_trace *t) {
    const unsigned char *d = t->data;
    size_t len = t->len;
    hat_header *h = &t->hdr;
    if (len < HAT_MAGIC_LEN) {
        if (len == 0 || memcmp(d, HAT_MAGIC, len) != 0)
            FAIL(t, 0, "not a hatrace trace (it does not start with the magic \"HATRACE\")");
        FAIL(t, len, "truncated header (%zu bytes)", len);
    }
    if (memcmp(d, HAT_MAGIC, HAT_MAGIC_LEN) != 0)
        FAIL(t, 0, "not a hatrace trace (it does not start with the magic \"HATRACE\")");
    t->pos = HAT_MAGIC_LEN;
    uint64_t v, pid, ppid, fidx, page, nl, inh;
    if (var(t, len, &v, "header version") < 0)
        return -1;
    if (v != HAT_VERSION)
        FAIL(t, HAT_MAGIC_LEN, "trace format version %llu; this reader reads version %u",
             (unsigned long long)v, HAT_VERSION);
    h->version = (uint32_t)v;
    size_t at = t->pos;
    if (var(t, len, &pid, "header pid") < 0)
        return -1;
    if (pid == 0 || pid > UINT32_MAX)
        FAIL(t, at, "header pid %llu out of range 1..2^32-1", (unsigned long long)pid);
    at = t->pos;
    if (var(t, len, &ppid, "header parent pid") < 0)
        return -1;
    if (ppid > UINT32_MAX)
        FAIL(t, at, "header parent pid %llu out of range", (unsigned long long)ppid);
    at = t->pos;
    if (var(t, len, &fidx, "header fork index") < 0)
        return -1;
    if (fidx > HAT_ID_MAX || (ppid == 0 && fidx != 0))
        FAIL(t, at, "header fork index %llu %s", (unsigned long long)fidx,
             ppid == 0 ? "in a trace that is no fork child's" : "out of range");
    at = t->pos;
    if (var(t, len, &page, "header page size") < 0)
        return -1;
    if (!pow2(page) || page > ((uint64_t)1 << 30))
        FAIL(t, at, "header page size %llu is not a power of two up to 2^30",
             (unsigned long long)page);
    at = t->pos;
    if (var(t, len, &nl, "header name length") < 0)
        return -1;
    if (nl > HAT_NAME_MAX)
        FAIL(t, at, "header name length %llu (at most %u)", (unsigned long long)nl, HAT_NAME_MAX);
    if (nl > len - t->pos)
        FAIL(t, t->pos, "header name: truncated (%llu bytes announced, %zu left)",
             (unsigned long long)nl, len - t->pos);
    if (memchr(d + t->pos, 0, (size_t)nl))
        FAIL(t, t->pos, "header name holds a NUL byte");
    memcpy(h->name, d + t->pos, (size_t)nl);
    h->name[nl] = '\0';
    t->pos += (size_t)nl;
    at = t->pos;
    if (var(t, len, &inh, "header inherited count") < 0)
        return -1;
    if (inh > (len - t->pos) / 2)
        FAIL(t, at, "header inherited count %llu: %zu bytes left cannot hold them",
             (unsigned long long)inh, len - t->pos);
    t->inh_off = t->pos;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < inh; i++) {
        uint64_t delta, size;
        at = t->pos;
        if (var(t, len, &delta, "inherited block id") < 0)
            return -1;
        if (delta == 0 || delta > HAT_ID_MAX - prev)
            FAIL(t, at, "inherited block %llu: id step %llu (ids must increase, up to 2^48)",
                 (unsigned long long)i, (unsigned long long)delta);
        prev += delta;
        at = t->pos;
        if (var(t, len, &size, "inherited block size") < 0)
            return -1;
        if (size > HAT_SIZE_MAX)
            FAIL(t, at, "inherited block %llu: size %llu exceeds 2^63-1", (unsigned long long)i,
                 (unsigned long long)size);
    }
    h->pid = pid;
    h->parent_pid = ppid;
    h->fork_index = fidx;
    h->page_size = page;
    h->inherited = inh;
    t->last_inherited_id = prev;
    h->data_offset = t->pos;
    h->trace_bytes = len;
    return 0;
}

static int parse_trailer(hat_trace *t) {
    const unsigned char *d = t->data;
    size_t len = t->len, data = (size_t)t->hdr.data_offset;
    hat_header *h = &t->hdr;
    const size_t foot = 1 + HAT_FOOTER_MAGIC_LEN;
    if (len - data < foot + 1 ||
        memcmp(d + len - HAT_FOOTER_MAGIC_LEN, HAT_FOOTER_MAGIC, HAT_FOOTER_MAGIC_LEN) != 0) {
        if (t->flags & HAT_OPEN_PARTIAL) {
            t->end_off = len;
            h->complete = false;
            return 0;
        }
        FAIL(t, len, "no trailer (the trace does not end with the footer \"HATREND\"): it is "
                     "truncated, or the traced program ended without exit() (_exit, a signal); "
                     "read it with HAT_OPEN_PARTIAL (trace_stat --partial)");
    }
    size_t lpos = len - foot;
    size_t elen = d[lpos];
    if (elen < 6 || elen > lpos - data)
        FAIL(t, lpos, "footer: END record length %zu out of range (6..%zu)", elen, lpos - data);
    size_t end = lpos - elen;
    if (d[end] != HAT_K_END)
        FAIL(t, end, "footer points at byte 0x%02x, not an END record", d[end]);
    t->pos = end + 1;
    uint64_t records, threads, max_id, free_null, untraced;
    size_t at = t->pos;
    if (var(t, lpos, &records, "END records") < 0 || var(t, lpos, &threads, "END threads") < 0 ||
        var(t, lpos, &max_id, "END max id") < 0 || var(t, lpos, &free_null, "END free(NULL)s") < 0 ||
        var(t, lpos, &untraced, "END untraced calls") < 0)
        return -1;
    if (t->pos != lpos)
        FAIL(t, t->pos, "END record: %zu bytes left before the footer", lpos - t->pos);
    if (records > end - data)
        FAIL(t, at, "END: %llu records cannot fit in %zu bytes", (unsigned long long)records,
             end - data);
    if (threads > records + 1 || threads > HAT_THREAD_MAX)
        FAIL(t, at, "END: %llu threads for %llu records", (unsigned long long)threads,
             (unsigned long long)records);
    if (max_id > HAT_ID_MAX || max_id > t->last_inherited_id + records)
        FAIL(t, at, "END: max id %llu out of range (at most %llu here)",
             (unsigned long long)max_id, (unsigned long long)(t->last_inherited_id + records));
    h->complete = true;
    h->records = records;
    h->threads = threads;
    h->max_id = max_id;
    h->free_null = free_null;
    h->untraced = untraced;
    t->end_off = end;
    return 0;
}

static void reset_iter(hat_trace *t) {
    t->pos = t->inh_off;
    t->inh_left = t->hdr.inherited;
    t->inh_prev = 0;
    t->thread = 0;
    /* a fork child's trace starts in the forking thread, index 0 */
    t->threads_seen = t->hdr.parent_pid ? 1 : 0;
    t->records_seen = 0;
    t->max_seen = 0;
    t->forks_seen = 0;
    t->state = 1;
    memset(&t->err, 0, sizeof t->err);
    if (t->live)
        memset(t->live, 0, t->live_cap * sizeof *t->live);
    t->live_used = 0;
}

hat_trace *hat_open_mem(const void *data, size_t len, unsigned flags, hat_error *err) {
    hat_trace *t = calloc(1, sizeof *t);
    if (!t) {
        set_err(err, -1, "out of memory");
        return NULL;
    }
    t->data = data ? data : (const unsigned char *)"";
    t->len = data ? len : 0;
    t->flags = flags;
    if (parse_header(t) < 0 || parse_trailer(t) < 0)
        return open_fail(t, err);
    reset_iter(t);
    return t;
}

hat_trace *hat_open_file(const char *path, unsigned flags, hat_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, -1, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    size_t cap = 1 << 16, len = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        if ((uint64_t)st.st_size > SIZE_MAX - 1) {
            close(fd);
            set_err(err, -1, "%s: too large to read into memory", path);
            return NULL;
        }
        cap = (size_t)st.st_size + 1; /* +1: EOF seen without a regrow */
    }
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            close(fd);
            set_err(err, -1, "%s: out of memory reading it", path);
            return NULL;
        }
        if (len == cap) {
            if (cap > SIZE_MAX / 2) {
                free(buf);
                buf = NULL;
                continue;
            }
            unsigned char *n = realloc(buf, cap * 2);
            if (!n)
                free(buf);
            buf = n;
            cap *= 2;
            continue;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            set_err(err, -1, "cannot read %s: %s", path, strerror(e));
            return NULL;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    hat_trace *t = hat_open_mem(buf, len, flags, err);
    if (!t) {
        free(buf);
        return NULL;
    }
    t->owned = buf;
    return t;
}

const hat_header *hat_get_header(const hat_trace *t) {
    return &t->hdr;
}

const hat_error *hat_last_error(const hat_trace *t) {
    return t->state < 0 ? &t->err : NULL;
}

int hat_rewind(hat_trace *t) {
    reset_iter(t);
    return 0;
}

void hat_close(hat_trace *t) {
    if (!t)
        return;
    free(t->live);
    free(t->owned);
    free(t);
}

/* ---- iteration ------------------------------------------------------------- */

static const char *const op_names[HAT_OP_COUNT] = {
    [HAT_OP_MALLOC] = "malloc",
    [HAT_OP_CALLOC] = "calloc",
    [HAT_OP_REALLOC] = "realloc",
    [HAT_OP_REALLOCARRAY] = "reallocarray",
    [HAT_OP_FREE] = "free",
    [HAT_OP_POSIX_MEMALIGN] = "posix_memalign",
    [HAT_OP_ALIGNED_ALLOC] = "aligned_alloc",
    [HAT_OP_MEMALIGN] = "memalign",
    [HAT_OP_VALLOC] = "valloc",
    [HAT_OP_PVALLOC] = "pvalloc",
    [HAT_OP_FORK] = "fork",
    [HAT_OP_INHERIT] = "inherit",
};

const char *hat_op_name(hat_op op) {
    unsigned i = (unsigned)op;
    return i < HAT_OP_COUNT && op_names[i] ? op_names[i] : "?";
}

bool hat_op_is_alloc(hat_op op) {
    switch (op) {
    case HAT_OP_MALLOC:
    case HAT_OP_CALLOC:
    case HAT_OP_POSIX_MEMALIGN:
    case HAT_OP_ALIGNED_ALLOC:
    case HAT_OP_MEMALIGN:
    case HAT_OP_VALLOC:
    case HAT_OP_PVALLOC:
    case HAT_OP_INHERIT:
        return true;
    default:
        return false;
    }
}

/* A new block: id not live, dense, within the trailer's max id. */
static int new_block(hat_trace *t, size_t at, uint64_t id, uint64_t size) {
    if (id > t->max_seen + 1)
        FAIL(t, at, "new id %llu skips ids (the largest so far is %llu)", (unsigned long long)id,
             (unsigned long long)t->max_seen);
    if (t->hdr.complete && id > t->hdr.max_id)
        FAIL(t, at, "id %llu above the trailer's max id %llu", (unsigned long long)id,
             (unsigned long long)t->hdr.max_id);
    if (live_find(t, id))
        FAIL(t, at, "new id %llu is already live", (unsigned long long)id);
    if (size > HAT_SIZE_MAX)
        FAIL(t, at, "successful allocation of %llu bytes (more than 2^63-1)",
             (unsigned long long)size);
    if (id > t->max_seen)
        t->max_seen = id;
    return live_put(t, id, size);
}

static struct live_slot *old_block(hat_trace *t, size_t at, uint64_t id) {
    struct live_slot *s = id ? live_find(t, id) : NULL;
    if (!s) {
        set_err(&t->err, (int64_t)at, "id %llu is not live", (unsigned long long)id);
        t->state = -1;
    }
    return s;
}

static uint64_t mul_sat(uint64_t a, uint64_t b) {
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

int hat_next(hat_trace *t, hat_record *rec) {
    if (t->state != 1)
        return t->state;
    memset(rec, 0, sizeof *rec);
    const size_t lim = t->end_off;
    if (t->inh_left) {
        uint64_t delta, size;
        size_t at = t->pos;
        const size_t inh_end = (size_t)t->hdr.data_offset; /* <= len: fits */
        if (var(t, inh_end, &delta, "inherited block id") < 0 ||
            var(t, inh_end, &size, "inherited block size") < 0)
            return -1;
        t->inh_left--;
        t->inh_prev += delta; /* checked at open */
        rec->op = HAT_OP_INHERIT;
        rec->id = t->inh_prev;
        rec->size = size;
        rec->offset = at;
        t->max_seen = t->inh_prev;
        return live_put(t, rec->id, size) < 0 ? -1 : 1;
    }
    for (;;) {
        size_t at = t->pos;
        if (at >= lim) {
            if (t->hdr.complete) {
                if (t->records_seen != t->hdr.records)
                    FAIL(t, at, "END says %llu records, the trace holds %llu",
                         (unsigned long long)t->hdr.records, (unsigned long long)t->records_seen);
                if (t->threads_seen != t->hdr.threads)
                    FAIL(t, at, "END says %llu threads, the records show %llu",
                         (unsigned long long)t->hdr.threads, (unsigned long long)t->threads_seen);
                if (t->max_seen != t->hdr.max_id)
                    FAIL(t, at, "END says max id %llu, the largest id is %llu",
                         (unsigned long long)t->hdr.max_id, (unsigned long long)t->max_seen);
            }
            t->state = 0;
            return 0;
        }
        unsigned b = t->data[t->pos++];
        unsigned kind = b & HAT_KIND_MASK;
        bool unk = (b & HAT_UNKNOWN_FLAG) != 0;
        if ((b & 0x60) || (unk && kind != HAT_K_FREE && kind != HAT_K_REALLOC &&
                           kind != HAT_K_REALLOCARRAY))
            FAIL(t, at, "bad record byte 0x%02x", b);
        t->records_seen++;
        if (t->hdr.complete && t->records_seen > t->hdr.records)
            FAIL(t, at, "more records than the %llu END announces",
                 (unsigned long long)t->hdr.records);
        if (kind == HAT_K_THREAD) {
            uint64_t idx;
            if (var(t, lim, &idx, "THREAD index") < 0)
                return -1;
            if (idx > t->threads_seen || idx >= HAT_THREAD_MAX)
                FAIL(t, at, "thread index %llu skips indexes (%llu threads so far)",
                     (unsigned long long)idx, (unsigned long long)t->threads_seen);
            if (t->hdr.complete && idx >= t->hdr.threads)
                FAIL(t, at, "thread index %llu, END says %llu threads", (unsigned long long)idx,
                     (unsigned long long)t->hdr.threads);
            if (idx == t->threads_seen)
                t->threads_seen++;
            t->thread = (uint32_t)idx;
            continue;
        }
        if (kind == HAT_K_END) {
            if (t->hdr.complete)
                FAIL(t, at, "END record before the trailer's (at byte %zu)", lim);
            FAIL(t, at, "END record without a footer after it");
        }
        if (t->threads_seen == 0)
            t->threads_seen = 1; /* the first thread's records need no THREAD record */
        rec->op = (hat_op)kind;
        rec->thread = t->thread;
        rec->offset = at;
        uint64_t id = 0, old = 0, a = 0, size = 0;
        struct live_slot *s;
        switch (kind) {
        case HAT_K_MALLOC:
        case HAT_K_CALLOC:
        case HAT_K_POSIX_MEMALIGN:
        case HAT_K_ALIGNED_ALLOC:
        case HAT_K_MEMALIGN:
        case HAT_K_VALLOC:
        case HAT_K_PVALLOC: {
            size_t idat = t->pos;
            if (var(t, lim, &id, "id") < 0)
                return -1;
            if (kind != HAT_K_MALLOC && var(t, lim, &a, kind == HAT_K_CALLOC ? "nmemb" : "alignment") < 0)
                return -1;
            if (var(t, lim, &size, "size") < 0)
                return -1;
            rec->id = id;
            if (kind == HAT_K_CALLOC) {
                rec->nmemb = a;
                rec->elem_size = size;
                size = mul_sat(a, size);
            } else {
                rec->align = a;
            }
            rec->size = size;
            if (id && new_block(t, idat, id, size) < 0)
                return -1;
            return 1;
        }
        case HAT_K_FREE: {
            rec->old_unknown = unk;
            if (unk)
                return 1;
            size_t idat = t->pos;
            if (var(t, lim, &old, "id") < 0)
                return -1;
            if (!(s = old_block(t, idat, old)))
                return -1;
            rec->old_id = old;
            rec->old_size = s->size;
            rec->old_freed = true;
            live_del(t, s);
            return 1;
        }
        case HAT_K_REALLOC:
        case HAT_K_REALLOCARRAY: {
            size_t oldat = t->pos, idat;
            if (!unk && var(t, lim, &old, "old id") < 0)
                return -1;
            idat = t->pos;
            if (var(t, lim, &id, "new id") < 0)
                return -1;
            if (kind == HAT_K_REALLOCARRAY) {
                if (var(t, lim, &rec->nmemb, "nmemb") < 0 || var(t, lim, &rec->elem_size, "size") < 0)
                    return -1;
                size = mul_sat(rec->nmemb, rec->elem_size);
            } else if (var(t, lim, &size, "size") < 0) {
                return -1;
            }
            rec->old_unknown = unk;
            rec->old_id = old;
            rec->id = id;
            rec->size = size;
            s = NULL;
            if (old) {
                if (!(s = old_block(t, oldat, old)))
                    return -1;
                rec->old_size = s->size;
            }
            if (id && id == old) { /* in place */
                if (size > HAT_SIZE_MAX)
                    FAIL(t, idat, "successful allocation of %llu bytes (more than 2^63-1)",
                         (unsigned long long)size);
                s->size = size;
            } else if (id) { /* moved (or from NULL / an unknown pointer) */
                if (new_block(t, idat, id, size) < 0)
                    return -1;
                if (old) {
                    live_del(t, live_find(t, old));
                    rec->old_freed = true;
                }
            } else if (old && size == 0) { /* realloc(p, 0): glibc frees p */
                live_del(t, s);
                rec->old_freed = true;
            }
            return 1;
        }
        case HAT_K_FORK: {
            uint64_t idx;
            if (var(t, lim, &idx, "FORK index") < 0)
                return -1;
            if (idx != t->forks_seen)
                FAIL(t, at, "FORK index %llu, expected %llu", (unsigned long long)idx,
                     (unsigned long long)t->forks_seen);
            t->forks_seen++;
            rec->fork_index = idx;
            return 1;
        }
        default:
            FAIL(t, at, "unknown record kind %u (byte 0x%02x)", kind, b);
        }
    }
}
