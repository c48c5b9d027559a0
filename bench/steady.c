/**
 * @file steady.c
 * @brief Steady-state alloc+free driver for instruction counting.
 *
 * usage: steady <heap_bytes> <live_blocks> <ops> <seed> [--glibc] [--max-size N]
 *
 * Fills a heap of heap_bytes to live_blocks blocks of 8..512 bytes (8..N
 * with --max-size N), then
 * measured_loop() runs ops pairs: free a random live block, allocate a new
 * random size into its slot. The slot/size sequence is generated beforehand
 * so that measured_loop contains nothing but the allocator calls and the
 * loop itself; bench/instructions runs it under callgrind with
 * --toggle-collect=measured_loop and divides the instructions by ops.
 * --glibc runs the same sequence on malloc/free for comparison. The sequence
 * and the replay are bench/quick's too (bench_driver.h).
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_driver.h"
#include "bench_parse.h"
#include "mem_alloc.h"

#define MIN_SIZE 8u
#define DEFAULT_MAX_SIZE 512u

/* callgrind toggles collection on this symbol: it must exist under this exact
 * name, so it is neither inlined nor cloned into measured_loop.constprop. */
#if defined(__clang__)
#define MEASURED __attribute__((noinline))
#elif defined(__GNUC__)
#define MEASURED __attribute__((noinline, noclone))
#else
#define MEASURED
#endif

MEASURED static void measured_loop(bench_workload_t *w) {
    bench_replay(w);
}

static bool parse_size(const char *text, size_t *out) {
    uint64_t v = 0;
    if (!bench_parse_uint(text, 0, SIZE_MAX, &v)) {
        return false;
    }
    *out = (size_t)v;
    return true;
}

static int usage(void) {
    fprintf(stderr, "usage: steady <heap_bytes> <live_blocks> <ops> <seed> [--glibc] [--max-size N]\n");
    return 2;
}

int main(int argc, char **argv) {
    size_t heap_bytes, live_blocks, ops, seed;
    if (argc < 5 || !parse_size(argv[1], &heap_bytes) ||
        !parse_size(argv[2], &live_blocks) || !parse_size(argv[3], &ops) ||
        !parse_size(argv[4], &seed) || live_blocks == 0u || live_blocks > UINT32_MAX) {
        return usage();
    }
    bool glibc = false;
    size_t max_size = DEFAULT_MAX_SIZE;
    for (int i = 5; i < argc; i++) {
        if (strcmp(argv[i], "--glibc") == 0) {
            glibc = true;
        } else if (strcmp(argv[i], "--max-size") == 0 && i + 1 < argc &&
                   parse_size(argv[i + 1], &max_size) && max_size >= MIN_SIZE &&
                   max_size <= UINT32_MAX) {
            i++;
        } else {
            return usage();
        }
    }

    void *heap = glibc ? NULL : malloc(heap_bytes);
    void **live = calloc(live_blocks, sizeof *live);
    uint32_t *fill = malloc(live_blocks * sizeof *fill);
    uint32_t *slot = malloc((ops > 0u ? ops : 1u) * sizeof *slot);
    uint32_t *size = malloc((ops > 0u ? ops : 1u) * sizeof *size);
    if ((!glibc && heap == NULL) || live == NULL || fill == NULL || slot == NULL || size == NULL) {
        fprintf(stderr, "steady: out of memory\n");
        return 1;
    }
    mem_ctx_t ctx = NULL;
    if (!glibc) {
        ctx = mem_init(heap, heap_bytes);
        if (ctx == NULL) {
            fprintf(stderr, "steady: mem_init(%zu) failed\n", heap_bytes);
            return 1;
        }
    }

    bench_sequence(seed, MIN_SIZE, (uint32_t)max_size, fill, live_blocks, slot, size, ops);
    for (size_t i = 0; i < live_blocks; i++) {
        live[i] = bench_alloc(ctx, fill[i]);
        if (live[i] == NULL) {
            fprintf(stderr, "steady: heap of %zu bytes full after %zu of %zu blocks\n",
                    heap_bytes, i, live_blocks);
            return 1;
        }
    }

    bench_workload_t w = { .ctx = ctx, .live = live, .slot = slot, .size = size, .ops = ops };
    measured_loop(&w);

    int rc = 0;
    if (!glibc) {
        mem_stat_t st;
        mem_stat(&ctx, &st);
        if (!mem_check(ctx)) {
            fprintf(stderr, "steady: mem_check failed after the run\n");
            rc = 1;
        }
        printf("steady: hardalloc (level %d) heap %zu B, %zu live, 8..%zu B, %zu ops, seed %zu: "
               "%zu failed allocs, %" PRIu32 " chunks, %zu B free (largest %zu)\n", MEM_HARDENING,
               heap_bytes, live_blocks, max_size, ops, seed, w.failures, st.nb_chunks,
               st.free_size, st.largest_free_size);
    } else {
        printf("steady: glibc %zu live, 8..%zu B, %zu ops, seed %zu: %zu failed allocs\n",
               live_blocks, max_size, ops, seed, w.failures);
    }
    for (size_t i = 0; i < live_blocks; i++) {
        bench_free(ctx, live[i]);
    }
    if (!glibc) {
        mem_stat_t st;
        mem_stat(&ctx, &st);
        if (st.nb_allocated != 0u || st.nb_chunks != 1u) {
            fprintf(stderr, "steady: heap not whole after freeing everything\n");
            rc = 1;
        }
    }
    free(size);
    free(slot);
    free(fill);
    free(live);
    free(heap);
    return rc;
}
