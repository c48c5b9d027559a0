/**
 * @file quick.c
 * @brief Side-by-side timing and density of hardalloc and glibc in one run.
 *
 * usage: quick [--rounds N] [--pairs N] [--density-seeds N] [--raw] [seed]
 *
 * Pair cost: steady state of 64 live blocks, each op frees a random block and
 * allocates a random size in its place; hardalloc and glibc malloc/free replay
 * the same pre-generated sequence. Median of --rounds rounds (default 7) of
 * --pairs pairs (default 1,000,000), in ns per pair, after one untimed
 * warm-up pass of each.
 * Density: random requests into a fresh heap until the first failure;
 * requested bytes / heap size, averaged over --density-seeds seeds (default
 * 100): 8..512 B into 32 KiB, and 8..8192 B into 1 MiB.
 * --raw prints one machine-readable line per measurement instead of the table
 * (bench/levels runs one quick_<level> per hardening level with --rounds 1
 * --raw, round-robin, and puts the levels side by side):
 *   level <n>
 *   pair <case> <round> <hardalloc ns/pair> <glibc ns/pair>
 *   density <case> <fraction of the heap requested>
 * Timings are informative only (no assertion): take them from a
 * --buildtype=release build on an idle machine.
 */

#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_driver.h"
#include "bench_parse.h"
#include "mem_alloc.h"

#define LIVE 64u
#define MAX_ROUNDS 1000u
#define WARMUP_PAIRS 100000u

typedef struct {
    const char *name;
    const char *key; /* short name in --raw output */
    size_t heap_bytes;
    uint32_t min_size, max_size;
} pair_case_t;

static const pair_case_t cases[] = {
    { "64 live, 8..512 B, 32 KiB heap", "small", 32768u, 8u, 512u },
    { "64 live, 8..8192 B, 1 MiB heap", "large", 1048576u, 8u, 8192u },
};
#define NCASES (sizeof cases / sizeof cases[0])

typedef struct {
    uint32_t fill[LIVE]; /* sizes of the initial blocks */
    uint32_t *slot;      /* pairs entries each */
    uint32_t *size;
    size_t pairs;
} sequence_t;

/* Keeps the compiler from discarding allocations whose result is unused. */
static volatile uintptr_t sink;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* @return ns per pair on the heap ctx (NULL: glibc malloc/free), or a
 * negative value when an allocation failed. */
static double time_pairs(const sequence_t *q, size_t pairs, mem_ctx_t ctx) {
    void *live[LIVE];
    for (size_t i = 0; i < LIVE; i++) {
        live[i] = bench_alloc(ctx, q->fill[i]);
    }
    bench_workload_t w = { .ctx = ctx, .live = live, .slot = q->slot, .size = q->size, .ops = pairs };
    double t0 = now_ns();
    bench_replay(&w);
    double t1 = now_ns();
    for (size_t i = 0; i < LIVE; i++) {
        sink ^= (uintptr_t)live[i];
        bench_free(ctx, live[i]);
    }
    return w.failures == 0u ? (t1 - t0) / (double)pairs : -1.0;
}

static double time_hardalloc(const sequence_t *q, size_t pairs, void *heap, size_t heap_bytes) {
    mem_ctx_t ctx = mem_init(heap, heap_bytes);
    return ctx != NULL ? time_pairs(q, pairs, ctx) : -1.0;
}

static double time_glibc(const sequence_t *q, size_t pairs) {
    return time_pairs(q, pairs, NULL);
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, compare_double);
    return v[n / 2u];
}

typedef struct {
    size_t rounds, pairs, density_seeds;
    uint64_t seed;
    bool raw;
} options_t;

static int run_pair_case(size_t ci, sequence_t *q, const options_t *o) {
    const pair_case_t *c = &cases[ci];
    void *heap = malloc(c->heap_bytes);
    if (heap == NULL) {
        return 1;
    }
    bench_sequence(o->seed, c->min_size, c->max_size, q->fill, LIVE, q->slot, q->size, q->pairs);
    double ha[MAX_ROUNDS], gl[MAX_ROUNDS];
    /* Untimed warm-up: page faults of the heap and of glibc's arena, caches. */
    size_t warm = q->pairs < WARMUP_PAIRS ? q->pairs : WARMUP_PAIRS;
    bool ok = time_hardalloc(q, warm, heap, c->heap_bytes) >= 0.0 && time_glibc(q, warm) >= 0.0;
    /* Interleaved rounds: a frequency change or a noisy neighbour hits both. */
    for (size_t r = 0; ok && r < o->rounds; r++) {
        ha[r] = time_hardalloc(q, q->pairs, heap, c->heap_bytes);
        gl[r] = time_glibc(q, q->pairs);
        ok = ha[r] >= 0.0 && gl[r] >= 0.0;
        if (ok && o->raw) {
            printf("pair %s %zu %.3f %.3f\n", c->key, r, ha[r], gl[r]);
        }
    }
    free(heap);
    if (!ok) {
        fprintf(stderr, "quick: %s: an allocation failed\n", c->name);
        return 1;
    }
    if (!o->raw) {
        double h = median(ha, o->rounds), g = median(gl, o->rounds);
        printf("%-34s %9.1f %9.1f %8.2f\n", c->name, h, g, h / g);
    }
    return 0;
}

/* Fraction of a fresh heap requested before the first failure. */
static double density(const pair_case_t *c, uint64_t seed, void *heap) {
    mem_ctx_t ctx = mem_init(heap, c->heap_bytes);
    if (ctx == NULL) {
        return 0.0;
    }
    uint64_t rng = bench_rng_seed(seed);
    size_t requested = 0;
    for (;;) {
        uint32_t n = bench_rng_range(&rng, c->min_size, c->max_size);
        if (mem_alloc(ctx, n) == NULL) {
            break;
        }
        requested += n;
    }
    (void)mem_init(heap, c->heap_bytes); /* drops the blocks: memcheck forgets them too */
    return (double)requested / (double)c->heap_bytes;
}

static int usage(void) {
    fprintf(stderr, "usage: quick [--rounds N] [--pairs N] [--density-seeds N] [--raw] [seed]\n");
    return 2;
}

int main(int argc, char **argv) {
    options_t o = { .rounds = 7u, .pairs = 1000000u, .density_seeds = 100u, .seed = 1u };
    bool have_seed = false;
    for (int i = 1; i < argc; i++) {
        uint64_t v = 0;
        if (strcmp(argv[i], "--raw") == 0) {
            o.raw = true;
        } else if (strcmp(argv[i], "--rounds") == 0 && bench_parse_uint(argv[i + 1], 10, MAX_ROUNDS, &v) &&
                   v > 0u) {
            o.rounds = (size_t)v;
            i++;
        } else if (strcmp(argv[i], "--pairs") == 0 && bench_parse_uint(argv[i + 1], 10, UINT32_MAX, &v) &&
                   v > 0u) {
            o.pairs = (size_t)v;
            i++;
        } else if (strcmp(argv[i], "--density-seeds") == 0 &&
                   bench_parse_uint(argv[i + 1], 10, UINT32_MAX, &v)) {
            o.density_seeds = (size_t)v;
            i++;
        } else if (!have_seed && bench_parse_uint(argv[i], 10, UINT64_MAX, &v)) {
            o.seed = v;
            have_seed = true;
        } else {
            return usage();
        }
    }
    sequence_t q;
    q.pairs = o.pairs;
    q.slot = malloc(o.pairs * sizeof *q.slot);
    q.size = malloc(o.pairs * sizeof *q.size);
    if (q.slot == NULL || q.size == NULL) {
        fprintf(stderr, "quick: out of memory\n");
        return 1;
    }
    int rc = 0;
    if (o.raw) {
        printf("level %d\n", MEM_HARDENING);
    } else {
        printf("hardening level %d; alloc+free pair, median of %zu rounds of %zu pairs (seed %" PRIu64
               ")\n", MEM_HARDENING, o.rounds, o.pairs, o.seed);
        printf("%-34s %9s %9s %8s\n", "", "hardalloc", "glibc", "ratio");
        printf("%-34s %9s %9s %8s\n", "", "ns/pair", "ns/pair", "ha/glibc");
    }
    for (size_t i = 0; i < NCASES; i++) {
        rc |= run_pair_case(i, &q, &o);
    }
    free(q.size);
    free(q.slot);

    for (size_t i = 0; i < NCASES && o.density_seeds > 0u; i++) {
        const pair_case_t *c = &cases[i];
        void *heap = malloc(c->heap_bytes);
        if (heap == NULL) {
            fprintf(stderr, "quick: out of memory\n");
            return 1;
        }
        double sum = 0.0;
        for (uint64_t s = 0; s < o.density_seeds; s++) {
            sum += density(c, o.seed + s, heap);
        }
        free(heap);
        double mean = sum / (double)o.density_seeds;
        if (o.raw) {
            printf("density %s %.6f\n", c->key, mean);
        } else {
            printf("density: fresh %zu KiB heap, %" PRIu32 "..%" PRIu32 " B until the first "
                   "failure: %.1f%% of the buffer requested (mean of %zu seeds)\n",
                   c->heap_bytes / 1024u, c->min_size, c->max_size, 100.0 * mean,
                   o.density_seeds);
        }
    }
    return rc;
}
