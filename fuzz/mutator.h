/**
 * @file mutator.h
 * @brief The structure-aware mutator of the fuzz programs (fuzz/FORMAT.md):
 *        decodes an input into its header and operations (program.c, the one
 *        codec), changes the program as a program (insert, delete, duplicate,
 *        swap, an operand, the header, a splice of two programs) and encodes
 *        it back. The pure part: every choice comes from a mut_rng_t the
 *        caller seeds, so one seed gives one mutation. The engines' glue is
 *        elsewhere: mutator_libfuzzer.c (LLVMFuzzerCustomMutator, ...) and
 *        mutator_afl.c (afl_custom_fuzz, ...).
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "program.h"

/** Operations decoded into a mut_prog_t; the bytes after them are kept as
 *  they are (mut_prog_t.tail) and still run. */
#define MUT_MAX_OPS 256u

/** One in MUT_BYTES_ONE_IN calls the glue mutates bytes rather than the
 *  program, so that nothing the byte mutator reaches is lost. */
#define MUT_BYTES_ONE_IN 4u

/** A small deterministic PRNG (splitmix64). */
typedef struct {
    uint64_t state;
} mut_rng_t;

void mut_seed(mut_rng_t *rng, uint64_t seed);
uint32_t mut_rand(mut_rng_t *rng);
/** 0 .. n - 1 (n > 0; 0 when n is 0). */
uint32_t mut_below(mut_rng_t *rng, uint32_t n);

/** A program as the mutator holds it. */
typedef struct {
    uint8_t header[2];    /* heap size byte, misalignment byte */
    size_t count;         /* operations in ops */
    op_t ops[MUT_MAX_OPS];
    const uint8_t *tail;  /* the input's bytes after ops[MUT_MAX_OPS - 1], not owned */
    size_t tail_size;
} mut_prog_t;

/** The mutations, for mut_apply and the report of what was done. */
typedef enum {
    MUT_INSERT,    /* 1..4 random operations of the target, in a row at a random place */
    MUT_DELETE,    /* one operation, or a run of up to 4 */
    MUT_DUPLICATE, /* a run of 1..4 operations copied to a random place, 1..8 times */
    MUT_SWAP,      /* two operations trade places */
    MUT_OPERAND,   /* one operand of one operation: slot, size, offset, value, word, count, bytes */
    MUT_REPLACE,   /* one operation replaced by a random one */
    MUT_HEADER,    /* the heap size or the misalignment */
    MUT_SPLICE,    /* a prefix of this program, then a suffix of another */
    MUT_BYTES,     /* byte-level mutation of the encoded input (mut_bytes, or the engine's own) */
    MUT_KIND_COUNT
} mut_kind_t;

const char *mut_kind_name(mut_kind_t kind);

/** Decodes data (header, then up to MUT_MAX_OPS operations, then the tail)
 *  with prog_read_op. Never fails: a missing byte reads as 0, as it does
 *  for the interpreter, so the program p holds runs as data does. p->tail
 *  points into data. */
void mut_decode(const op_table_t *table, const uint8_t *data, size_t size, mut_prog_t *p);

/** Encodes p with prog_encode_op into out (at most max_size bytes): the
 *  header, then the operations that fit whole, then the tail (cut at
 *  max_size) when every operation fitted. Returns the size written. out must
 *  not overlap p->tail. */
size_t mut_encode(const op_table_t *table, const mut_prog_t *p, uint8_t *out, size_t max_size);

/** Applies one mutation of the given kind to p (MUT_SPLICE and MUT_BYTES
 *  excepted: mut_splice, mut_bytes). Returns false, p unchanged, when the
 *  mutation does not apply (e.g. MUT_DELETE of an empty program, MUT_INSERT
 *  into a full one); true when p now encodes differently. */
bool mut_apply(mut_rng_t *rng, const op_table_t *table, mut_prog_t *p, mut_kind_t kind);

/** Crossover: p becomes a non-empty prefix of p (when p has operations)
 *  followed by a non-empty suffix of other (when other has operations), and
 *  other's tail. Returns false, p unchanged, when the result would encode as
 *  p does. */
bool mut_splice(mut_rng_t *rng, const op_table_t *table, mut_prog_t *p, const mut_prog_t *other);

/** Byte-level havoc in place: 1..4 of bit flip, random or interesting byte,
 *  add, insert, erase, copy within. Returns the new size (<= max_size). */
size_t mut_bytes(mut_rng_t *rng, uint8_t *data, size_t size, size_t max_size);

/** Space for mut_mutate and mut_crossover (two programs: large, so the glue
 *  allocates it once). */
typedef struct {
    mut_prog_t a;
    mut_prog_t b;
} mut_work_t;

/**
 * One structured mutation: decodes in, applies 1..3 mutations (MUT_SPLICE
 * among them when other is not NULL), encodes into out (at most max_size
 * bytes; out must not overlap in nor other). Returns the size written, or 0
 * when nothing could change the program within max_size (the caller then
 * mutates bytes). *applied (may be NULL) gets a bit (1u << mut_kind_t) per
 * kind applied.
 */
size_t mut_mutate(mut_rng_t *rng, const op_table_t *table, mut_work_t *w, const uint8_t *in, size_t size,
                  const uint8_t *other, size_t other_size, uint8_t *out, size_t max_size, unsigned *applied);

/** Crossover of two inputs into out (at most max_size bytes, not overlapping
 *  a nor b): a prefix of a's program, then a suffix of b's. Returns the size
 *  written, 0 when the splice gives nothing new. */
size_t mut_crossover(mut_rng_t *rng, const op_table_t *table, mut_work_t *w, const uint8_t *a, size_t a_size,
                     const uint8_t *b, size_t b_size, uint8_t *out, size_t max_size);
