/**
 * @file replay.c
 * @brief trace_replay: replays hatrace traces (bench/trace/FORMAT.md) on
 *        hardalloc at every hardening level and on glibc malloc.
 *
 * usage: trace_replay [--rounds R] [--arena-factor F] [--json FILE] TRACE...
 *
 * Each trace is decoded once into an array of operations (so the reader's
 * cost is not measured), then replayed single-threaded, in trace order, on:
 *   - hardalloc off, standard and paranoid: the three per-level copies of
 *     the allocator bench/gbench uses (every symbol renamed by
 *     bench/rename_level.h, reached through bench/gbench_levels.h's tables).
 *     Each level gets a fresh arena (mem_init before every replay, outside
 *     the timed region) of F (default 2) times the smallest arena that holds
 *     the trace at that level: found by doubling then bisecting the arena
 *     size (to 8 bytes) for the smallest size at which the whole trace
 *     replays with no allocation failing.
 *   - glibc malloc (malloc, calloc, realloc, posix_memalign, free).
 *
 * What is replayed:
 *   - thread switches are ignored (one thread, records in trace order);
 *     FORK records do nothing;
 *   - calls that failed in the trace (returned NULL) are skipped, and so are
 *     frees of unknown pointers; a realloc of an unknown pointer is an
 *     allocation of its size; realloc(p, 0) that freed p is a free;
 *   - calloc: glibc calloc; on hardalloc (which has no calloc) mem_alloc and
 *     memset to zero;
 *   - aligned allocations (posix_memalign, aligned_alloc, memalign, valloc,
 *     pvalloc): glibc posix_memalign(align, size) (align at least
 *     sizeof(void *)); on hardalloc, whose
 *     payloads are MEM_ALIGNMENT (8) aligned and which has no aligned
 *     allocation, mem_alloc(size + align - 1) and the pointer aligned up by
 *     hand; the original pointer is kept to free (or realloc) the block. So
 *     aligned blocks cost hardalloc up to align - 1 bytes more than asked,
 *     which the smallest arena includes;
 *   - a 0-byte malloc (glibc returns a block) is a 1-byte mem_alloc on
 *     hardalloc (mem_alloc refuses 0);
 *   - blocks live in an array indexed by the trace's dense ids (max_id + 1
 *     slots); blocks still live at the end are freed outside the timed
 *     region (glibc) or dropped with the arena (hardalloc).
 *
 * Measured per allocator: ns per replayed operation (the median of R rounds,
 * default 5; the allocators are interleaved round by round;
 * clock_gettime(CLOCK_MONOTONIC) around the whole replay), allocation
 * failures at the chosen arena (0 expected), and the smallest arena with its
 * ratio to the trace's peak live bytes (the sum of the sizes asked for of the
 * blocks live at once, as trace_stat counts it).
 *
 * Exit status: 0; 1 when an allocator failed an allocation at its chosen
 * arena (or no arena up to MEM_MAX_HEAP_SIZE holds the trace); 2 on a usage
 * error or a missing or bad trace (one line: "trace_replay: FILE: why").
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gbench_levels.h"
#include "trace.h"

/* mem_alloc.h's constants, restated: its header is not included, so that no
 * unprefixed mem_* declaration is visible here (as in gbench.cc). */
#define REPLAY_MEM_ALIGNMENT 8u
#define REPLAY_MEM_MIN_HEAP ((size_t)256u)
#define REPLAY_MEM_MAX_HEAP ((size_t)1u << 31)

/* ---- decoded operations ------------------------------------------------ */

enum rop_kind {
    ROP_MALLOC,  /* slot id = malloc(size) */
    ROP_CALLOC,  /* slot id = calloc(1, size) */
    ROP_ALIGNED, /* slot id = aligned(align, size) */
    ROP_REALLOC, /* slot id = realloc(slot old, size); old != id: slot old emptied */
    ROP_FREE,    /* free(slot old) */
};

typedef struct rop {
    uint8_t kind;
    uint64_t id;
    uint64_t old;
    uint64_t size;
    uint64_t align;
} rop;

typedef struct decoded {
    const char *path;
    char program[HAT_NAME_MAX + 1];
    rop *ops;
    size_t n_ops;
    uint64_t slots;         /* max_id + 1 */
    uint64_t peak_live;     /* bytes */
    uint64_t records;       /* the reader's operations */
    uint64_t skipped;       /* failed calls, unknown frees, forks, no-op reallocs */
} decoded;

static int push(decoded *d, size_t *cap, rop op) {
    if (d->n_ops == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4096;
        rop *n = realloc(d->ops, ncap * sizeof *n);
        if (!n)
            return -1;
        d->ops = n;
        *cap = ncap;
    }
    d->ops[d->n_ops++] = op;
    return 0;
}

/* Reads and decodes one trace. 0, or -1 after printing the error line. */
static int decode(const char *path, decoded *d) {
    memset(d, 0, sizeof *d);
    d->path = path;
    hat_error err;
    hat_trace *t = hat_open_file(path, 0, &err);
    if (!t) {
        fprintf(stderr, "trace_replay: %s: %s\n", path, err.msg);
        return -1;
    }
    const hat_header *h = hat_get_header(t);
    memcpy(d->program, h->name, sizeof d->program);
    d->slots = h->max_id + 1;
    if (d->slots > SIZE_MAX / (2 * sizeof(void *))) {
        fprintf(stderr, "trace_replay: %s: max_id %" PRIu64 " too large\n", path, h->max_id);
        hat_close(t);
        return -1;
    }
    /* live sizes per id, for the peak live bytes */
    uint64_t *live = calloc((size_t)d->slots, sizeof *live);
    if (!live) {
        fprintf(stderr, "trace_replay: %s: out of memory\n", path);
        hat_close(t);
        return -1;
    }
    uint64_t live_bytes = 0;
    size_t cap = 0;
    hat_record r;
    int rc;
    int bad = 0;
    while ((rc = hat_next(t, &r)) == 1) {
        d->records++;
        rop op = {0};
        bool emit = true;
        switch (r.op) {
        case HAT_OP_FORK:
            emit = false;
            break;
        case HAT_OP_FREE:
            if (r.old_unknown || r.old_id == 0) {
                emit = false;
                break;
            }
            op.kind = ROP_FREE;
            op.old = r.old_id;
            live_bytes -= live[r.old_id];
            live[r.old_id] = 0;
            break;
        case HAT_OP_REALLOC:
        case HAT_OP_REALLOCARRAY:
            if (r.id == 0) {
                if (r.old_id && r.old_freed) { /* realloc(p, 0) freed p */
                    op.kind = ROP_FREE;
                    op.old = r.old_id;
                    live_bytes -= live[r.old_id];
                    live[r.old_id] = 0;
                } else { /* failed, or realloc(unknown, 0) */
                    emit = false;
                }
                break;
            }
            if (r.old_id == 0) { /* realloc(NULL or unknown, size): an allocation */
                op.kind = ROP_MALLOC;
            } else {
                op.kind = ROP_REALLOC;
                op.old = r.old_id;
                live_bytes -= live[r.old_id];
                live[r.old_id] = 0;
            }
            op.id = r.id;
            op.size = r.size;
            live[r.id] = r.size;
            live_bytes += r.size;
            break;
        case HAT_OP_CALLOC:
        case HAT_OP_MALLOC:
        case HAT_OP_INHERIT:
        case HAT_OP_POSIX_MEMALIGN:
        case HAT_OP_ALIGNED_ALLOC:
        case HAT_OP_MEMALIGN:
        case HAT_OP_VALLOC:
        case HAT_OP_PVALLOC:
            if (r.id == 0) { /* failed in the trace */
                emit = false;
                break;
            }
            op.id = r.id;
            op.size = r.size;
            if (r.op == HAT_OP_CALLOC) {
                op.kind = ROP_CALLOC;
            } else if (r.op == HAT_OP_MALLOC || r.op == HAT_OP_INHERIT) {
                op.kind = ROP_MALLOC;
            } else {
                op.kind = ROP_ALIGNED;
                op.align = r.align;
                if (op.align == 0 || (op.align & (op.align - 1)) != 0) {
                    fprintf(stderr, "trace_replay: %s: byte %" PRIu64
                            ": successful aligned allocation with alignment %" PRIu64
                            " (not a power of two)\n", path, r.offset, r.align);
                    bad = 1;
                }
            }
            live[r.id] = r.size;
            live_bytes += r.size;
            break;
        default:
            emit = false;
            break;
        }
        if (bad)
            break;
        if (live_bytes > d->peak_live)
            d->peak_live = live_bytes;
        if (!emit) {
            d->skipped++;
            continue;
        }
        if (push(d, &cap, op) < 0) {
            fprintf(stderr, "trace_replay: %s: out of memory\n", path);
            bad = 1;
            break;
        }
    }
    if (rc < 0 && !bad) {
        fprintf(stderr, "trace_replay: %s: %s\n", path, hat_last_error(t)->msg);
        bad = 1;
    }
    free(live);
    hat_close(t);
    if (bad) {
        free(d->ops);
        d->ops = NULL;
        return -1;
    }
    return 0;
}

/* ---- replay ------------------------------------------------------------- */

/* One slot per trace id: the pointer the program would use (aligned by hand
 * for hardalloc's aligned blocks) and the one the allocator returned. */
typedef struct slot {
    void *user;
    void *base;
} slot;

typedef struct replayer {
    const gbench_level_t *level; /* NULL: glibc */
    const char *name;
    unsigned char *arena;
    size_t arena_size;           /* the chosen arena (F x smallest) */
    size_t smallest;             /* smallest arena that holds the trace (0: none) */
    uint64_t failures;           /* at the chosen arena, last round */
    double *ns;                  /* per round: ns per op */
} replayer;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* hardalloc's aligned allocation: size + align - 1 bytes, aligned up by hand;
 * base keeps what mem_alloc returned, to free it. */
static void *ha_aligned(const gbench_level_t *lv, void *ctx, uint64_t size, uint64_t align,
                        void **base) {
    if (align <= REPLAY_MEM_ALIGNMENT) {
        *base = lv->alloc(ctx, size ? (size_t)size : 1u);
        return *base;
    }
    if (size > SIZE_MAX - align) {
        *base = NULL;
        return NULL;
    }
    *base = lv->alloc(ctx, (size_t)(size + align - 1));
    if (!*base)
        return NULL;
    uintptr_t p = (uintptr_t)*base;
    p = (p + (uintptr_t)(align - 1)) & ~(uintptr_t)(align - 1);
    return (void *)p;
}

/* Replays d on ctx (hardalloc, lv != NULL) or glibc (lv NULL) into slots
 * (all NULL on entry). Returns the failed allocations; stop_on_failure: stops
 * at the first (the bisection only needs to know whether one fails). */
static uint64_t replay_ops(const decoded *d, const gbench_level_t *lv, void *ctx, slot *slots,
                           bool stop_on_failure) {
    uint64_t failures = 0;
    for (size_t i = 0; i < d->n_ops; i++) {
        const rop *op = &d->ops[i];
        switch (op->kind) {
        case ROP_MALLOC: {
            void *p;
            if (lv)
                p = lv->alloc(ctx, op->size ? (size_t)op->size : 1u);
            else
                p = malloc((size_t)op->size);
            slots[op->id].user = slots[op->id].base = p;
            if (!p)
                failures++;
            break;
        }
        case ROP_CALLOC: {
            void *p;
            if (lv) {
                p = lv->alloc(ctx, op->size ? (size_t)op->size : 1u);
                if (p)
                    memset(p, 0, (size_t)op->size);
            } else {
                p = calloc(1, (size_t)op->size);
            }
            slots[op->id].user = slots[op->id].base = p;
            if (!p)
                failures++;
            break;
        }
        case ROP_ALIGNED: {
            void *p, *base;
            if (lv) {
                p = ha_aligned(lv, ctx, op->size, op->align, &base);
            } else {
                /* posix_memalign: any size (C11's aligned_alloc wants a
                 * multiple of align, which ASan enforces), any power of two
                 * alignment from sizeof(void *) up */
                size_t a = op->align < sizeof(void *) ? sizeof(void *) : (size_t)op->align;
                if (posix_memalign(&base, a, (size_t)op->size) != 0)
                    base = NULL;
                p = base;
            }
            slots[op->id].user = p;
            slots[op->id].base = base;
            if (!p)
                failures++;
            break;
        }
        case ROP_REALLOC: {
            slot *o = &slots[op->old];
            void *p;
            if (lv)
                p = lv->realloc(ctx, o->base, op->size ? (size_t)op->size : 1u);
            else
                p = realloc(o->base, (size_t)op->size);
            if (!p) {
                /* the old block stays allocated; the trace kept it in place
                 * (same id: it keeps its slot) or moved it (the new id gets
                 * nothing and the old block is freed now, as the trace did) */
                failures++;
                if (op->old != op->id) {
                    if (lv)
                        lv->free(ctx, o->base);
                    else
                        free(o->base);
                    o->user = o->base = NULL;
                    slots[op->id].user = slots[op->id].base = NULL;
                }
            } else {
                o->user = o->base = NULL;
                slots[op->id].user = slots[op->id].base = p;
            }
            break;
        }
        case ROP_FREE: {
            slot *o = &slots[op->old];
            if (lv)
                lv->free(ctx, o->base);
            else
                free(o->base);
            o->user = o->base = NULL;
            break;
        }
        default:
            break;
        }
        if (failures && stop_on_failure)
            return failures;
    }
    return failures;
}

/* One replay of d on r: fresh arena (hardalloc) of size bytes, slots
 * cleared; *elapsed gets the replay's ns. Returns the failures. */
static uint64_t replay_once(const decoded *d, const replayer *r, size_t size, slot *slots,
                            bool stop_on_failure, double *elapsed) {
    memset(slots, 0, (size_t)d->slots * sizeof *slots);
    void *ctx = NULL;
    if (r->level) {
        ctx = r->level->init(r->arena, size);
        if (!ctx) {
            fprintf(stderr, "trace_replay: %s: mem_init(%zu) failed\n", r->name, size);
            return UINT64_MAX;
        }
    }
    double t0 = now_ns();
    uint64_t f = replay_ops(d, r->level, ctx, slots, stop_on_failure);
    double t1 = now_ns();
    if (elapsed)
        *elapsed = t1 - t0;
    if (!r->level) {
        for (uint64_t i = 0; i < d->slots; i++)
            free(slots[i].base);
    }
    return f;
}

/* The smallest arena (multiple of 8 bytes, >= the allocator's minimum) at
 * which d replays with no failure on level r; 0 when even
 * REPLAY_MEM_MAX_HEAP fails (or no memory for the arena). r->arena grows
 * here as needed. */
static bool arena_reserve(replayer *r, size_t size) {
    if (r->arena && r->arena_size >= size)
        return true;
    free(r->arena);
    r->arena = malloc(size);
    r->arena_size = r->arena ? size : 0;
    return r->arena != NULL;
}

static size_t smallest_arena(const decoded *d, replayer *r, slot *slots) {
    size_t hi = REPLAY_MEM_MIN_HEAP;
    if (d->peak_live > hi && d->peak_live < REPLAY_MEM_MAX_HEAP)
        hi = (size_t)((d->peak_live + 7u) & ~(uint64_t)7u);
    size_t lo = REPLAY_MEM_MIN_HEAP - 8u; /* a size known to fail (or below the minimum) */
    for (;;) {
        if (!arena_reserve(r, hi))
            return 0;
        if (replay_once(d, r, hi, slots, true, NULL) == 0)
            break;
        if (hi >= REPLAY_MEM_MAX_HEAP)
            return 0;
        lo = hi;
        hi = hi > REPLAY_MEM_MAX_HEAP / 2 ? REPLAY_MEM_MAX_HEAP : hi * 2;
    }
    /* invariant: lo fails (or is below the minimum), hi holds */
    while (hi - lo > 8u) {
        size_t mid = lo + ((hi - lo) / 2 & ~(size_t)7u);
        if (mid <= lo)
            mid = lo + 8u;
        if (replay_once(d, r, mid, slots, true, NULL) == 0)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, unsigned n) {
    double *c = malloc(n * sizeof *c);
    if (!c)
        return v[0];
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return m;
}

static void usage(FILE *f) {
    fprintf(f, "usage: trace_replay [--rounds R] [--arena-factor F] [--json FILE] TRACE...\n");
}

static bool parse_num(const char *s, double *out, bool integer) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 1e6)
        return false;
    if (integer && v != (double)(unsigned)v)
        return false;
    *out = v;
    return true;
}

#define N_REPLAYERS 4

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int main(int argc, char **argv) {
    unsigned rounds = 5;
    double factor = 2.0;
    const char *json_path = NULL;
    int first = 1;
    for (; first < argc; first++) {
        const char *a = argv[first];
        double v;
        if (strcmp(a, "--") == 0) {
            first++;
            break;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--rounds") == 0 && first + 1 < argc) {
            if (!parse_num(argv[++first], &v, true) || v > 10000) {
                fprintf(stderr, "trace_replay: bad --rounds %s (a whole number 1..10000)\n", argv[first]);
                return 2;
            }
            rounds = (unsigned)v;
        } else if (strcmp(a, "--arena-factor") == 0 && first + 1 < argc) {
            if (!parse_num(argv[++first], &v, false) || v < 1.0 || v > 64.0) {
                fprintf(stderr, "trace_replay: bad --arena-factor %s (a number 1..64)\n", argv[first]);
                return 2;
            }
            factor = v;
        } else if (strcmp(a, "--json") == 0 && first + 1 < argc) {
            json_path = argv[++first];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "trace_replay: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 2;
        } else {
            break;
        }
    }
    if (first >= argc) {
        usage(stderr);
        return 2;
    }
    int n_traces = argc - first;
    decoded *traces = calloc((size_t)n_traces, sizeof *traces);
    if (!traces) {
        fprintf(stderr, "trace_replay: out of memory\n");
        return 2;
    }
    /* every trace is read up front: a bad one stops the run before timing */
    for (int i = 0; i < n_traces; i++) {
        if (decode(argv[first + i], &traces[i]) < 0) {
            for (int j = 0; j < i; j++)
                free(traces[j].ops);
            free(traces);
            return 2;
        }
    }
    FILE *json = NULL;
    if (json_path) {
        json = fopen(json_path, "w");
        if (!json) {
            fprintf(stderr, "trace_replay: %s: %s\n", json_path, strerror(errno));
            return 2;
        }
        fprintf(json, "{\"rounds\": %u, \"arena_factor\": %g, \"traces\": [", rounds, factor);
    }
    int status = 0;
    const gbench_level_t *levels[N_REPLAYERS] = {&gbench_level_off, &gbench_level_standard,
                                                 &gbench_level_paranoid, NULL};
    const char *names[N_REPLAYERS] = {"hardalloc-off", "hardalloc-standard",
                                      "hardalloc-paranoid", "glibc"};
    for (int ti = 0; ti < n_traces; ti++) {
        decoded *d = &traces[ti];
        slot *slots = calloc((size_t)d->slots, sizeof *slots);
        replayer rs[N_REPLAYERS];
        memset(rs, 0, sizeof rs);
        bool ok = slots != NULL;
        for (int k = 0; ok && k < N_REPLAYERS; k++) {
            rs[k].level = levels[k];
            rs[k].name = names[k];
            rs[k].ns = calloc(rounds, sizeof(double));
            if (!rs[k].ns)
                ok = false;
        }
        /* the smallest arena per level, then its arena of F times that */
        for (int k = 0; ok && k < N_REPLAYERS; k++) {
            if (!rs[k].level)
                continue;
            rs[k].smallest = smallest_arena(d, &rs[k], slots);
            free(rs[k].arena);
            double want = rs[k].smallest ? (double)rs[k].smallest * factor
                                         : (double)REPLAY_MEM_MAX_HEAP;
            if (want > (double)REPLAY_MEM_MAX_HEAP)
                want = (double)REPLAY_MEM_MAX_HEAP;
            rs[k].arena_size = (size_t)want & ~(size_t)7u;
            rs[k].arena = malloc(rs[k].arena_size);
            if (!rs[k].arena) {
                ok = false;
                break;
            }
            memset(rs[k].arena, 0, rs[k].arena_size); /* pages touched before timing */
        }
        if (!ok) {
            fprintf(stderr, "trace_replay: %s: out of memory\n", d->path);
            return 2;
        }
        /* rounds, allocators interleaved */
        for (unsigned round = 0; round < rounds; round++) {
            for (int k = 0; k < N_REPLAYERS; k++) {
                double el = 0;
                uint64_t f = replay_once(d, &rs[k], rs[k].arena_size, slots, false, &el);
                rs[k].failures = f;
                rs[k].ns[round] = d->n_ops ? el / (double)d->n_ops : 0.0;
            }
        }
        printf("trace: %s (%s): %" PRIu64 " records, %zu replayed operations, "
               "%" PRIu64 " skipped, peak live %" PRIu64 " bytes, %u round%s, arena factor %g\n",
               d->path, d->program, d->records, d->n_ops, d->skipped, d->peak_live, rounds,
               rounds == 1 ? "" : "s", factor);
        printf("%-20s %10s %14s %12s %9s\n", "allocator", "ns/op", "smallest arena",
               "/ peak live", "failures");
        for (int k = 0; k < N_REPLAYERS; k++) {
            double m = median(rs[k].ns, rounds);
            char arena[32], ratio[32];
            if (!rs[k].level) {
                snprintf(arena, sizeof arena, "-");
                snprintf(ratio, sizeof ratio, "-");
            } else if (!rs[k].smallest) {
                snprintf(arena, sizeof arena, "> %zu", REPLAY_MEM_MAX_HEAP);
                snprintf(ratio, sizeof ratio, "-");
            } else {
                snprintf(arena, sizeof arena, "%zu", rs[k].smallest);
                if (d->peak_live)
                    snprintf(ratio, sizeof ratio, "%.3f",
                             (double)rs[k].smallest / (double)d->peak_live);
                else
                    snprintf(ratio, sizeof ratio, "-");
            }
            printf("%-20s %10.1f %14s %12s %9" PRIu64 "\n", rs[k].name, m, arena, ratio,
                   rs[k].failures);
            if (rs[k].failures || (rs[k].level && !rs[k].smallest))
                status = 1;
        }
        printf("notes: single-threaded replay in trace order; failed calls and frees of "
               "unknown pointers skipped;\n"
               "  hardalloc: calloc = mem_alloc + memset; aligned allocations = mem_alloc(size + "
               "align - 1) aligned by hand\n"
               "  (the original pointer freed); malloc(0) = mem_alloc(1); a fresh arena of "
               "%g x the smallest per replay.\n", factor);
        if (json) {
            fprintf(json, "%s{\"trace\": ", ti ? ", " : "");
            json_string(json, d->path);
            fprintf(json, ", \"program\": ");
            json_string(json, d->program);
            fprintf(json, ", \"records\": %" PRIu64 ", \"ops\": %zu, \"skipped\": %" PRIu64
                          ", \"peak_live_bytes\": %" PRIu64 ", \"allocators\": [",
                    d->records, d->n_ops, d->skipped, d->peak_live);
            for (int k = 0; k < N_REPLAYERS; k++) {
                fprintf(json, "%s{\"name\": \"%s\", \"ns_per_op\": %.3f, \"failures\": %" PRIu64,
                        k ? ", " : "", rs[k].name, median(rs[k].ns, rounds), rs[k].failures);
                if (rs[k].level) {
                    fprintf(json, ", \"smallest_arena\": %zu, \"arena\": %zu", rs[k].smallest,
                            rs[k].arena_size);
                    if (d->peak_live && rs[k].smallest)
                        fprintf(json, ", \"arena_over_peak\": %.6f",
                                (double)rs[k].smallest / (double)d->peak_live);
                }
                fprintf(json, ", \"ns_per_op_rounds\": [");
                for (unsigned i = 0; i < rounds; i++)
                    fprintf(json, "%s%.3f", i ? ", " : "", rs[k].ns[i]);
                fprintf(json, "]}");
            }
            fprintf(json, "]}");
        }
        for (int k = 0; k < N_REPLAYERS; k++) {
            free(rs[k].arena);
            free(rs[k].ns);
        }
        free(slots);
        free(d->ops);
        if (ti + 1 < n_traces)
            printf("\n");
    }
    free(traces);
    if (json) {
        fprintf(json, "], \"notes\": \"single-threaded replay in trace order; failed calls and "
                      "frees of unknown pointers skipped; hardalloc: calloc = mem_alloc + memset, "
                      "aligned = mem_alloc(size + align - 1) aligned by hand (original pointer "
                      "freed), malloc(0) = mem_alloc(1)\"}\n");
        if (fclose(json) != 0) {
            fprintf(stderr, "trace_replay: %s: write failed\n", json_path);
            return 2;
        }
    }
    return status;
}
