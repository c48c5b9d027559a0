/**
 * @file trace_stat.c
 * @brief Summary of hatrace traces (bench/trace/FORMAT.md).
 *
 * usage: trace_stat [--partial] TRACE...
 *
 * For each trace: the program, pid (and parent for a fork child), size,
 * records, threads, operations by kind, failed calls, frees of unknown
 * pointers, free(NULL) and untraced counts, peak live bytes and peak live
 * count, total bytes allocated, and a histogram of the sizes asked for by
 * power of two.
 *   - live bytes: the sum of the sizes asked for (calloc and reallocarray:
 *     nmemb * size) of the live blocks, inherited ones included; a realloc
 *     replaces its block's size.
 *   - total bytes allocated and the histogram: every successful allocation
 *     (malloc, calloc, the aligned kinds, and each realloc / reallocarray
 *     that returned a block), by the size asked for.
 *   - failed calls: the allocating calls that returned NULL, except
 *     realloc(p, 0) of a live p (glibc frees p then: counted apart).
 * --partial reads traces without a trailer (the program ended by _exit or a
 * signal) up to their last whole record.
 * Exit status: 0; 1 when a trace cannot be read or is bad (one line on
 * stderr: "trace_stat: FILE: byte N: what"); 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "trace.h"

#define BUCKETS 65

struct stats {
    uint64_t ops[HAT_OP_COUNT];
    uint64_t failed, unknown, zero_frees, inherited_bytes;
    uint64_t live_bytes, live_count, peak_bytes, peak_count, total_bytes, allocs;
    uint64_t hist[BUCKETS];
    uint64_t threads; /* 1 + the largest thread index seen */
};

static unsigned bucket(uint64_t size) {
    unsigned b = 0;
    while (size) {
        b++;
        size >>= 1;
    }
    return b; /* 0: size 0; b: 2^(b-1) <= size < 2^b */
}

static void add_block(struct stats *s, uint64_t size) {
    s->live_bytes += size;
    s->live_count++;
    if (s->live_bytes > s->peak_bytes)
        s->peak_bytes = s->live_bytes;
    if (s->live_count > s->peak_count)
        s->peak_count = s->live_count;
}

static void allocated(struct stats *s, uint64_t size) {
    s->total_bytes += size;
    s->allocs++;
    s->hist[bucket(size)]++;
}

static void human(char *out, size_t n, uint64_t v) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double d = (double)v;
    unsigned i = 0;
    while (d >= 1024 && i < 4) {
        d /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(out, n, "%" PRIu64 " B", v);
    else
        snprintf(out, n, "%.1f %s", d, u[i]);
}

static int stat_one(const char *path, unsigned flags) {
    hat_error err;
    hat_trace *t = hat_open_file(path, flags, &err);
    if (!t) {
        fprintf(stderr, "trace_stat: %s: %s\n", path, err.msg);
        return 1;
    }
    const hat_header *h = hat_get_header(t);
    static struct stats s;
    memset(&s, 0, sizeof s);
    hat_record r;
    int rc;
    while ((rc = hat_next(t, &r)) == 1) {
        s.ops[r.op]++;
        if ((uint64_t)r.thread + 1 > s.threads)
            s.threads = (uint64_t)r.thread + 1;
        switch (r.op) {
        case HAT_OP_INHERIT:
            add_block(&s, r.size);
            s.inherited_bytes += r.size;
            break;
        case HAT_OP_FORK:
            break;
        case HAT_OP_FREE:
            if (r.old_unknown) {
                s.unknown++;
            } else {
                s.live_bytes -= r.old_size;
                s.live_count--;
            }
            break;
        case HAT_OP_REALLOC:
        case HAT_OP_REALLOCARRAY:
            if (r.old_unknown)
                s.unknown++;
            if (r.old_id && (r.old_freed || r.id == r.old_id)) {
                s.live_bytes -= r.old_size;
                s.live_count--;
            }
            if (r.id) {
                add_block(&s, r.size);
                allocated(&s, r.size);
            } else if (r.old_id && r.old_freed) {
                s.zero_frees++;
            } else {
                s.failed++;
            }
            break;
        default:
            if (r.id) {
                add_block(&s, r.size);
                allocated(&s, r.size);
            } else {
                s.failed++;
            }
        }
    }
    if (rc < 0) {
        fprintf(stderr, "trace_stat: %s: %s\n", path, hat_last_error(t)->msg);
        hat_close(t);
        return 1;
    }
    char b1[32], b2[32], b3[32];
    printf("trace: %s\n", path);
    printf("program: %s, pid %" PRIu64, h->name, h->pid);
    if (h->parent_pid)
        printf(" (forked by pid %" PRIu64 ", its fork #%" PRIu64 ")", h->parent_pid, h->fork_index);
    printf("\n");
    human(b1, sizeof b1, h->trace_bytes);
    printf("trace bytes: %" PRIu64 " (%s)%s\n", h->trace_bytes, b1,
           h->complete ? "" : ", no trailer (partial)");
    uint64_t ops = 0;
    for (unsigned k = 0; k < HAT_OP_COUNT; k++)
        if (k != HAT_OP_INHERIT && k != HAT_OP_FORK)
            ops += s.ops[k];
    printf("operations: %" PRIu64 "\n", ops);
    if (h->complete)
        printf("records: %" PRIu64 " (thread switches and forks included)\n", h->records);
    printf("threads: %" PRIu64 "\n", h->complete ? h->threads : s.threads);
    printf("by kind:\n");
    static const hat_op order[] = {HAT_OP_MALLOC, HAT_OP_CALLOC, HAT_OP_REALLOC,
                                   HAT_OP_REALLOCARRAY, HAT_OP_FREE, HAT_OP_POSIX_MEMALIGN,
                                   HAT_OP_ALIGNED_ALLOC, HAT_OP_MEMALIGN, HAT_OP_VALLOC,
                                   HAT_OP_PVALLOC, HAT_OP_FORK, HAT_OP_INHERIT};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        uint64_t n = s.ops[order[i]];
        if (order[i] == HAT_OP_FORK || order[i] == HAT_OP_INHERIT) { /* not operations */
            if (n)
                printf("  %-15s %12" PRIu64 "\n", hat_op_name(order[i]), n);
        } else if (n || i < 5) {
            printf("  %-15s %12" PRIu64 "  %5.1f%%\n", hat_op_name(order[i]), n,
                   ops ? 100.0 * (double)n / (double)ops : 0.0);
        }
    }
    printf("failed calls: %" PRIu64 "\n", s.failed);
    printf("realloc(p, 0) frees: %" PRIu64 "\n", s.zero_frees);
    printf("unknown pointers freed or reallocated: %" PRIu64 "\n", s.unknown);
    if (h->complete) {
        printf("free(NULL) (not recorded): %" PRIu64 "\n", h->free_null);
        printf("untraced calls: %" PRIu64 "\n", h->untraced);
        printf("max id: %" PRIu64 "\n", h->max_id);
    }
    if (h->inherited) {
        human(b1, sizeof b1, s.inherited_bytes);
        printf("inherited blocks: %" PRIu64 " (%s)\n", h->inherited, b1);
    }
    human(b1, sizeof b1, s.peak_bytes);
    human(b2, sizeof b2, s.total_bytes);
    human(b3, sizeof b3, s.live_bytes);
    printf("peak live bytes: %" PRIu64 " (%s)\n", s.peak_bytes, b1);
    printf("peak live count: %" PRIu64 "\n", s.peak_count);
    printf("live at end: %" PRIu64 " blocks, %" PRIu64 " bytes (%s)\n", s.live_count, s.live_bytes, b3);
    printf("total bytes allocated: %" PRIu64 " (%s) in %" PRIu64 " allocations\n", s.total_bytes,
           b2, s.allocs);
    printf("size histogram (bytes asked for, successful allocations):\n");
    for (unsigned b = 0; b < BUCKETS; b++) {
        if (!s.hist[b])
            continue;
        char range[64];
        if (b == 0)
            snprintf(range, sizeof range, "0");
        else if (b == 1)
            snprintf(range, sizeof range, "1");
        else if (b == 64)
            snprintf(range, sizeof range, "2^63..");
        else
            snprintf(range, sizeof range, "%" PRIu64 "..%" PRIu64, (uint64_t)1 << (b - 1),
                     ((uint64_t)1 << b) - 1);
        printf("  %-24s %12" PRIu64 "  %5.1f%%\n", range, s.hist[b],
               100.0 * (double)s.hist[b] / (double)s.allocs);
    }
    hat_close(t);
    return 0;
}

int main(int argc, char **argv) {
    unsigned flags = 0;
    int first = 1;
    for (; first < argc && argv[first][0] == '-' && argv[first][1]; first++) {
        if (strcmp(argv[first], "--partial") == 0) {
            flags |= HAT_OPEN_PARTIAL;
        } else if (strcmp(argv[first], "--") == 0) {
            first++;
            break;
        } else if (strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0) {
            printf("usage: trace_stat [--partial] TRACE...\n");
            return 0;
        } else {
            fprintf(stderr, "trace_stat: unknown option %s (usage: trace_stat [--partial] TRACE...)\n",
                    argv[first]);
            return 2;
        }
    }
    if (first >= argc) {
        fprintf(stderr, "usage: trace_stat [--partial] TRACE...\n");
        return 2;
    }
    int rc = 0;
    for (int i = first; i < argc; i++) {
        if (i > first)
            printf("\n");
        if (stat_one(argv[i], flags))
            rc = 1;
    }
    return rc;
}
