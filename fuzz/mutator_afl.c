/*
 * AFL++ glue of the structure-aware mutator (mutator.h): the custom mutator
 * library <build>/fuzz/mutator_<target>.so of an AFL++ build, for
 *
 *   AFL_CUSTOM_MUTATOR_LIBRARY=<build>/fuzz/mutator_fuzz_alloc.so afl-fuzz ... -- <build>/fuzz/fuzz_alloc
 *
 * afl-fuzz loads it with dlopen, so fuzz/meson.build compiles it, and the
 * code it uses (the target's table, through the registry), with the plain
 * compiler: no AFL++ instrumentation, no sanitizer runtime, which afl-fuzz
 * does not have. The target is fixed at build time (-DFUZZ_TARGET).
 *
 * afl_custom_fuzz gets the queue entry and, when AFL++ has one, another entry
 * (add_buf), which the structured mutations may splice in. One call in
 * MUT_BYTES_ONE_IN mutates bytes instead (AFL++'s own stages run too unless
 * AFL_CUSTOM_MUTATOR_ONLY is set). FUZZ_MUTATOR=plain makes every call a byte
 * mutation; the way to measure AFL++ without the mutator is to leave
 * AFL_CUSTOM_MUTATOR_LIBRARY unset.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutator.h"
#include "target.h"

#ifndef FUZZ_TARGET
#error "build mutator_afl.c with -DFUZZ_TARGET=\"<target name>\" (fuzz/meson.build does)"
#endif

/* Everything else in the library is hidden (-fvisibility=hidden). */
#if defined(__GNUC__) || defined(__clang__)
#define EXPORT __attribute__((visibility("default")))
#else
#define EXPORT
#endif

typedef struct {
    mut_rng_t rng;
    const op_table_t *table;
    bool plain;
    unsigned applied;  /* the kinds of the last mutation (1u << mut_kind_t) */
    uint8_t *out;      /* what afl_custom_fuzz hands back */
    size_t out_size;
    char description[96];
    mut_work_t work;
} mutator_t;

EXPORT void *afl_custom_init(void *afl, unsigned int seed);
EXPORT size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf, uint8_t *add_buf,
                              size_t add_buf_size, size_t max_size);
EXPORT const char *afl_custom_describe(void *data, size_t max_description_len);
EXPORT void afl_custom_deinit(void *data);

void *afl_custom_init(void *afl, unsigned int seed)
{
    (void)afl;
    const fuzz_target_t *t = fuzz_find_target(FUZZ_TARGET);
    mutator_t *m = t != NULL ? calloc(1, sizeof *m) : NULL;
    if (m == NULL) {
        fprintf(stderr, "mutator_%s: %s\n", FUZZ_TARGET, t == NULL ? "no such target" : "out of memory");
        return NULL;
    }
    const char *mode = getenv("FUZZ_MUTATOR");
    m->plain = mode != NULL && strcmp(mode, "plain") == 0;
    m->table = &t->table;
    mut_seed(&m->rng, seed);
    fprintf(stderr, "mutator_%s: %s\n", FUZZ_TARGET,
            m->plain ? "FUZZ_MUTATOR=plain: byte mutation only" : "structure-aware mutator (fuzz/mutator.c)");
    return m;
}

size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf, uint8_t *add_buf,
                       size_t add_buf_size, size_t max_size)
{
    mutator_t *m = data;
    *out_buf = buf;
    if (max_size == 0u) {
        return 0;
    }
    if (max_size > m->out_size) {
        uint8_t *grown = realloc(m->out, max_size);
        if (grown == NULL) {
            return 0; /* nothing to run this time */
        }
        m->out = grown;
        m->out_size = max_size;
    }
    size_t n = 0;
    m->applied = 0;
    if (!m->plain && mut_below(&m->rng, MUT_BYTES_ONE_IN) != 0u) {
        n = mut_mutate(&m->rng, m->table, &m->work, buf, buf_size, add_buf, add_buf != NULL ? add_buf_size : 0u,
                       m->out, max_size, &m->applied);
    }
    if (n == 0u) {
        n = buf_size < max_size ? buf_size : max_size;
        if (n > 0u) {
            memcpy(m->out, buf, n);
        }
        n = mut_bytes(&m->rng, m->out, n, max_size);
        m->applied = 1u << MUT_BYTES;
    }
    *out_buf = m->out;
    return n;
}

/* Names the last mutation, e.g. "mut:insert+swap" (AFL++ puts it in the
 * names of the queue entries it finds). */
const char *afl_custom_describe(void *data, size_t max_description_len)
{
    mutator_t *m = data;
    char *d = m->description; /* room for "mut:" and every kind's name */
    memcpy(d, "mut", 4);
    size_t n = 3;
    char sep = ':';
    for (unsigned k = 0; k < MUT_KIND_COUNT; k++) {
        const char *name = mut_kind_name((mut_kind_t)k);
        size_t len = strlen(name);
        if ((m->applied & (1u << k)) != 0u && n + 1u + len < sizeof m->description) {
            d[n++] = sep;
            memcpy(d + n, name, len + 1u);
            n += len;
            sep = '+';
        }
    }
    if (n > max_description_len) {
        d[max_description_len] = '\0';
    }
    return d;
}

void afl_custom_deinit(void *data)
{
    mutator_t *m = data;
    if (m != NULL) {
        free(m->out);
        free(m);
    }
}
