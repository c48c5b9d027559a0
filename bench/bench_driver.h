/**
 * @file bench_driver.h
 * @brief What the two C drivers, quick.c and steady.c, share: the steady-state
 *        workload: its pre-generated sequence and its replay (their numeric
 *        arguments: bench_parse.h).
 *
 * The workload: `live` blocks of random sizes in [min, max], then per
 * operation a random live block is freed and a block of a new random size
 * allocated into its slot. Everything is drawn beforehand, in one order (the
 * initial sizes, then slot and size per operation), so hardalloc and glibc
 * replay identical requests and the replay holds nothing but the allocator
 * calls and the loop.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "bench_rng.h"
#include "mem_alloc.h"

/* Draws the initial sizes (fill[live]), then per operation the slot replaced
 * (slot[ops]) and the size of its replacement (size[ops]). */
static inline void bench_sequence(uint64_t seed, uint32_t min_size, uint32_t max_size,
                                  uint32_t *fill, size_t live, uint32_t *slot, uint32_t *size,
                                  size_t ops)
{
    uint64_t rng = bench_rng_seed(seed);
    for (size_t i = 0; i < live; i++) {
        fill[i] = bench_rng_range(&rng, min_size, max_size);
    }
    for (size_t i = 0; i < ops; i++) {
        bench_rng_op(&rng, live, min_size, max_size, &slot[i], &size[i]);
    }
}

/* One allocation on hardalloc's heap ctx, or on glibc malloc when ctx is NULL
 * (outside the replayed loop: setup and teardown only). */
static inline void *bench_alloc(mem_ctx_t ctx, size_t n)
{
    return ctx != NULL ? mem_alloc(ctx, n) : malloc(n);
}

static inline void bench_free(mem_ctx_t ctx, void *p)
{
    if (ctx != NULL) {
        mem_free(ctx, p);
    } else {
        free(p);
    }
}

/* One replay: the live blocks and the pre-drawn operations on them. */
typedef struct {
    mem_ctx_t ctx;        /* NULL: glibc malloc/free */
    void **live;
    const uint32_t *slot; /* per op: which live block is replaced */
    const uint32_t *size; /* per op: size of its replacement */
    size_t ops;
    size_t failures;      /* out: allocations that returned NULL */
} bench_workload_t;

/* Replays w->ops operations on hardalloc's heap w->ctx, or on glibc
 * malloc/free when it is NULL (the choice made once, outside the loop). */
static inline void bench_replay(bench_workload_t *w)
{
    size_t failures = 0;
    if (w->ctx != NULL) {
        for (size_t i = 0; i < w->ops; i++) {
            void **slot = &w->live[w->slot[i]];
            mem_free(w->ctx, *slot);
            *slot = mem_alloc(w->ctx, w->size[i]);
            failures += *slot == NULL;
        }
    } else {
        for (size_t i = 0; i < w->ops; i++) {
            void **slot = &w->live[w->slot[i]];
            free(*slot);
            *slot = malloc(w->size[i]);
            failures += *slot == NULL;
        }
    }
    w->failures = failures;
}
