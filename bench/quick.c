/**
 * @file quick.c
 * @brief Side-by-side timing and density of hardalloc and glibc in one run.
 *
 * usage: quick [seed]
 *
 * Pair cost: steady state of 64 live blocks, each op frees a random block and
 * allocates a random size in its place; hardalloc and glibc malloc/free replay
 * the same pre-generated sequence. Median of ROUNDS rounds, in ns per pair.
 * Density: random 8..512-byte requests into a fresh 32 KiB heap until the
 * first failure; requested bytes / 32768, averaged over DENSITY_SEEDS seeds.
 * Timings are informative only (no assertion): take them from a
 * --buildtype=release build on an idle machine.
 */

#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_rng.h"
#include "mem_alloc.h"

#define LIVE 64u
#define PAIRS 1000000u
#define ROUNDS 7u
#define DENSITY_HEAP 32768u
#define DENSITY_SEEDS 100u

typedef struct {
    const char *name;
    size_t heap_bytes;
    uint32_t min_size, max_size;
} pair_case_t;

typedef struct {
    uint32_t fill[LIVE];  /* sizes of the initial blocks */
    uint32_t slot[PAIRS];
    uint32_t size[PAIRS];
} sequence_t;

/* Keeps the compiler from discarding allocations whose result is unused. */
static volatile uintptr_t sink;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void make_sequence(sequence_t *q, const pair_case_t *c, uint64_t seed) {
    uint64_t rng = bench_rng_seed(seed);
    for (size_t i = 0; i < LIVE; i++) {
        q->fill[i] = bench_rng_range(&rng, c->min_size, c->max_size);
    }
    for (size_t i = 0; i < PAIRS; i++) {
        q->slot[i] = (uint32_t)(bench_rng_next(&rng) % LIVE);
        q->size[i] = bench_rng_range(&rng, c->min_size, c->max_size);
    }
}

/* @return ns per pair, or a negative value when an allocation failed. */
static double time_hardalloc(const sequence_t *q, void *heap, size_t heap_bytes) {
    void *live[LIVE];
    mem_ctx_t ctx = mem_init(heap, heap_bytes);
    if (ctx == NULL) {
        return -1.0;
    }
    for (size_t i = 0; i < LIVE; i++) {
        live[i] = mem_alloc(ctx, q->fill[i]);
    }
    size_t failures = 0;
    double t0 = now_ns();
    for (size_t i = 0; i < PAIRS; i++) {
        void **slot = &live[q->slot[i]];
        mem_free(ctx, *slot);
        *slot = mem_alloc(ctx, q->size[i]);
        failures += *slot == NULL;
    }
    double t1 = now_ns();
    for (size_t i = 0; i < LIVE; i++) {
        sink ^= (uintptr_t)live[i];
        mem_free(ctx, live[i]);
    }
    return failures == 0u ? (t1 - t0) / PAIRS : -1.0;
}

static double time_glibc(const sequence_t *q) {
    void *live[LIVE];
    for (size_t i = 0; i < LIVE; i++) {
        live[i] = malloc(q->fill[i]);
    }
    size_t failures = 0;
    double t0 = now_ns();
    for (size_t i = 0; i < PAIRS; i++) {
        void **slot = &live[q->slot[i]];
        free(*slot);
        *slot = malloc(q->size[i]);
        failures += *slot == NULL;
    }
    double t1 = now_ns();
    for (size_t i = 0; i < LIVE; i++) {
        sink ^= (uintptr_t)live[i];
        free(live[i]);
    }
    return failures == 0u ? (t1 - t0) / PAIRS : -1.0;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, compare_double);
    return v[n / 2u];
}

static int run_pair_case(const pair_case_t *c, sequence_t *q, uint64_t seed) {
    void *heap = malloc(c->heap_bytes);
    if (heap == NULL) {
        return 1;
    }
    make_sequence(q, c, seed);
    double ha[ROUNDS], gl[ROUNDS];
    /* Interleaved rounds: a frequency change or a noisy neighbour hits both. */
    for (size_t r = 0; r < ROUNDS; r++) {
        ha[r] = time_hardalloc(q, heap, c->heap_bytes);
        gl[r] = time_glibc(q);
        if (ha[r] < 0.0 || gl[r] < 0.0) {
            fprintf(stderr, "quick: %s: an allocation failed\n", c->name);
            free(heap);
            return 1;
        }
    }
    double h = median(ha, ROUNDS), g = median(gl, ROUNDS);
    printf("%-34s %9.1f %9.1f %8.2f\n", c->name, h, g, h / g);
    free(heap);
    return 0;
}

static double density(uint64_t seed, void *heap) {
    mem_ctx_t ctx = mem_init(heap, DENSITY_HEAP);
    if (ctx == NULL) {
        return 0.0;
    }
    uint64_t rng = bench_rng_seed(seed);
    size_t requested = 0;
    for (;;) {
        uint32_t n = bench_rng_range(&rng, 8u, 512u);
        if (mem_alloc(ctx, n) == NULL) {
            break;
        }
        requested += n;
    }
    return (double)requested / DENSITY_HEAP;
}

int main(int argc, char **argv) {
    uint64_t seed = 1;
    if (argc > 2 || (argc == 2 && sscanf(argv[1], "%" SCNu64, &seed) != 1)) {
        fprintf(stderr, "usage: quick [seed]\n");
        return 2;
    }
    static const pair_case_t cases[] = {
        { "64 live, 8..512 B, 32 KiB heap", 32768u, 8u, 512u },
        { "64 live, 8..8192 B, 1 MiB heap", 1048576u, 8u, 8192u },
    };
    sequence_t *q = malloc(sizeof *q);
    void *heap = malloc(DENSITY_HEAP);
    if (q == NULL || heap == NULL) {
        fprintf(stderr, "quick: out of memory\n");
        return 1;
    }
    int rc = 0;
    printf("alloc+free pair, median of %u rounds of %u pairs (seed %" PRIu64 ")\n", ROUNDS,
           PAIRS, seed);
    printf("%-34s %9s %9s %8s\n", "", "hardalloc", "glibc", "ratio");
    printf("%-34s %9s %9s %8s\n", "", "ns/pair", "ns/pair", "ha/glibc");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rc |= run_pair_case(&cases[i], q, seed);
    }

    double sum = 0.0;
    for (uint64_t s = 0; s < DENSITY_SEEDS; s++) {
        sum += density(seed + s, heap);
    }
    printf("density: fresh 32 KiB heap, 8..512 B until the first failure: %.1f%% of the "
           "buffer requested (mean of %u seeds)\n", 100.0 * sum / DENSITY_SEEDS, DENSITY_SEEDS);
    free(heap);
    free(q);
    return rc;
}
