/**
 * @file bench_rng.h
 * @brief xorshift64*: the benchmarks' only randomness.
 *
 * Same sequence on every platform and libc, unlike rand(), so a bench run is
 * reproducible from its seed and hardalloc and glibc see identical requests.
 */

#pragma once

#include <stddef.h>
#include <stdint.h>

static inline uint64_t bench_rng_seed(uint64_t seed) {
    /* splitmix64: small seeds still start far apart, and the state is never 0. */
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z != 0u ? z : 0x9E3779B97F4A7C15ULL;
}

static inline uint64_t bench_rng_next(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [lo, hi]; the modulo bias is irrelevant at these ranges. */
static inline uint32_t bench_rng_range(uint64_t *state, uint32_t lo, uint32_t hi) {
    return lo + (uint32_t)(bench_rng_next(state) % ((uint64_t)(hi - lo) + 1u));
}

/* One operation of the steady workloads: the slot of the live block
 * replaced (of live), then its replacement's size in [lo, hi]; in this
 * order, so that bench_sequence (bench_driver.h) and trace_pairs, which
 * draws as it goes, replay the same requests for one seed. */
static inline void bench_rng_op(uint64_t *state, size_t live, uint32_t lo, uint32_t hi, uint32_t *slot,
                                uint32_t *size) {
    *slot = (uint32_t)(bench_rng_next(state) % live);
    *size = bench_rng_range(state, lo, hi);
}
