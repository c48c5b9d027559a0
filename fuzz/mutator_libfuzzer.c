/*
 * libFuzzer glue of the structure-aware mutator (mutator.h), linked into the
 * libFuzzer targets only (fuzz/meson.build). The target is the one entry.c
 * runs (-DFUZZ_TARGET), so every mutation uses its operation table.
 *
 * FUZZ_MUTATOR=plain (read once, at the first mutation) switches the
 * structure off without another build: the custom mutator then only calls
 * LLVMFuzzerMutate, libFuzzer's own byte mutation, and the custom crossover
 * declines (libFuzzer's byte-level crossover is one of LLVMFuzzerMutate's
 * mutations). Unset or any other value: structured. One libFuzzer quirk either
 * way: a binary that defines LLVMFuzzerCustomMutator runs with -len_control=0
 * unless the flag is given.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutator.h"
#include "target.h"

#ifndef FUZZ_TARGET
#error "build mutator_libfuzzer.c with -DFUZZ_TARGET=\"<target name>\" (fuzz/meson.build does)"
#endif

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2, size_t size2, uint8_t *out,
                                 size_t max_out_size, unsigned int seed);

static struct {
    bool ready;
    bool plain;
    const op_table_t *table;
    mut_work_t *work;  /* the decoded programs */
    uint8_t *out;      /* the encoded result, copied into libFuzzer's buffer */
    size_t out_size;
} g;

static void *alloc_or_die(void *p, size_t size)
{
    if (p == NULL) {
        fprintf(stderr, "mutator: out of memory (%zu bytes)\n", size);
        abort();
    }
    return p;
}

static void setup(void)
{
    if (g.ready) {
        return;
    }
    const char *mode = getenv("FUZZ_MUTATOR");
    g.plain = mode != NULL && strcmp(mode, "plain") == 0;
    const fuzz_target_t *t = fuzz_find_target(FUZZ_TARGET);
    if (t == NULL) {
        fuzz_fail("harness", "no fuzz target named '%s' in fuzz/targets.c", FUZZ_TARGET);
    }
    g.table = &t->table;
    if (!g.plain) {
        g.work = alloc_or_die(malloc(sizeof *g.work), sizeof *g.work);
    }
    fprintf(stderr, "INFO: %s: %s (FUZZ_MUTATOR=%s)\n", FUZZ_TARGET,
            g.plain ? "plain byte mutation, libFuzzer's own" : "structure-aware mutator, fuzz/mutator.c",
            mode != NULL ? mode : "");
    g.ready = true;
}

static uint8_t *out_buffer(size_t size)
{
    if (size > g.out_size) {
        g.out = alloc_or_die(realloc(g.out, size), size);
        g.out_size = size;
    }
    return g.out;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    setup();
    if (g.plain || max_size == 0u) {
        return LLVMFuzzerMutate(data, size, max_size);
    }
    mut_rng_t rng;
    mut_seed(&rng, seed);
    if (mut_below(&rng, MUT_BYTES_ONE_IN) == 0u) {
        return LLVMFuzzerMutate(data, size, max_size);
    }
    uint8_t *out = out_buffer(max_size);
    size_t n = mut_mutate(&rng, g.table, g.work, data, size, NULL, 0, out, max_size, NULL);
    if (n == 0u) { /* nothing changed within max_size: bytes, then */
        return LLVMFuzzerMutate(data, size, max_size);
    }
    memcpy(data, out, n);
    return n;
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2, size_t size2, uint8_t *out,
                                 size_t max_out_size, unsigned int seed)
{
    setup();
    if (g.plain || max_out_size == 0u) {
        return 0;
    }
    mut_rng_t rng;
    mut_seed(&rng, seed);
    return mut_crossover(&rng, g.table, g.work, data1, size1, data2, size2, out, max_out_size);
}
