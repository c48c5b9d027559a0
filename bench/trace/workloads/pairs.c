/*
 * The synthetic workloads of bench/levels and bench/steady as a program that
 * calls malloc and free, so that the tracer (libhatrace.so) records them and
 * trace_replay runs them on TLSF and o1heap beside hardalloc, at one arena
 * size (BENCHMARKS.md "Synthetic pairs on the peers"):
 *
 *   trace_pairs fixed SIZE OPS          OPS times: p = malloc(SIZE); free(p)
 *   trace_pairs steady LIVE MAX OPS SEED
 *       LIVE blocks of 8..MAX bytes, then OPS times: free a random live
 *       block, malloc a random size into its slot: bench_driver.h's sequence
 *       (bench_sequence) for the same seed, drawn as it goes, so that the
 *       program allocates nothing but the workload's blocks.
 *
 * Its own output is nothing (stdio would allocate a buffer into the trace);
 * a usage error is one line on stderr and exit 2.
 */

#include "bench_parse.h"
#include "bench_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SIZE 8u
#define MAX_LIVE 4096u

static void *g_live[MAX_LIVE];

static int usage(void)
{
    fputs("usage: trace_pairs fixed SIZE OPS | trace_pairs steady LIVE MAX OPS SEED\n", stderr);
    return 2;
}

/* One malloc the trace must hold: a NULL would end the workload early. */
static void *take(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        exit(1);
    }
    return p;
}

int main(int argc, char **argv)
{
    uint64_t size, ops, live, max, seed;
    if (argc == 4 && strcmp(argv[1], "fixed") == 0) {
        if (!bench_parse_uint(argv[2], 10, 1u << 20, &size) || size == 0u ||
            !bench_parse_uint(argv[3], 10, UINT64_C(1) << 40, &ops)) {
            return usage();
        }
        for (uint64_t i = 0; i < ops; i++) {
            free(take((size_t)size));
        }
        return 0;
    }
    if (argc == 6 && strcmp(argv[1], "steady") == 0) {
        if (!bench_parse_uint(argv[2], 10, MAX_LIVE, &live) || live == 0u ||
            !bench_parse_uint(argv[3], 10, 1u << 20, &max) || max < MIN_SIZE ||
            !bench_parse_uint(argv[4], 10, UINT64_C(1) << 40, &ops) ||
            !bench_parse_uint(argv[5], 0, UINT64_MAX, &seed)) {
            return usage();
        }
        /* bench_sequence's draws in its order (the sizes of the live
         * blocks, then bench_rng_op per operation), drawn as it goes. */
        uint64_t rng = bench_rng_seed(seed);
        for (uint64_t i = 0; i < live; i++) {
            g_live[i] = take(bench_rng_range(&rng, MIN_SIZE, (uint32_t)max));
        }
        for (uint64_t i = 0; i < ops; i++) {
            uint32_t k, n;
            bench_rng_op(&rng, (size_t)live, MIN_SIZE, (uint32_t)max, &k, &n);
            free(g_live[k]);
            g_live[k] = take(n);
        }
        for (uint64_t i = 0; i < live; i++) {
            free(g_live[i]);
        }
        return 0;
    }
    return usage();
}
