/**
 * @file target.h
 * @brief What a fuzz target supplies: its operations (in opcode order) and
 *        how to perform each on the API it exercises. The interpreter
 *        (interp.c, interp_model.c, interp_corrupt.c) owns the program, the
 *        shadow model and the invariants.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem_alloc.h"
#include "program.h"

/** What a recording fault handler saw (fuzz_corrupt): the interpreter reads
 *  it around every operation. */
typedef struct {
    unsigned count;      /* handler calls */
    mem_fault_t last;    /* code of the last call */
    unsigned invalid;    /* calls with a code that is no mem_fault_t but NONE */
    uint32_t seen;       /* bit f set when code f was reported (cleared before each operation) */
} fuzz_faults_t;

/** The addresses OP_PLANT writes into the arena (fuzz_corrupt): what an
 *  attacker who owns the arena would plant to steer a fault's call. */
typedef struct {
    /** A fault handler nobody registered: calling it fails the run with
     *  "only-registered-handler". */
    mem_fault_handler_t decoy_handler;
    /** A user pointer nobody registered. */
    void *decoy_user;
    /** The handler the target did register: its address is no secret, and
     *  paired with a planted user pointer it must still get its own. */
    mem_fault_handler_t registered;
} fuzz_plants_t;

typedef struct fuzz_target {
    op_table_t table;
    /** Makes [buf, buf + size) the heap; returns its context (never NULL for
     *  the format's heap sizes). Also serves OP_REINIT. */
    mem_ctx_t (*init)(void *buf, size_t size);
    void *(*alloc)(mem_ctx_t ctx, size_t size);
    /** Zeroed block in *held, freeing what *held holds first (the
     *  interpreter passes an empty slot unless the op is OP_RECALLOC). */
    bool (*calloc)(mem_ctx_t ctx, void **held, size_t size, bool persistent);
    void *(*realloc)(mem_ctx_t ctx, void *ptr, size_t size);
    void (*free)(mem_ctx_t ctx, void *ptr);
    char *(*strdup)(mem_ctx_t ctx, const char *s); /* may be NULL */
    void (*cleanup)(mem_ctx_t ctx, void **held);   /* may be NULL */
    /** Called before each run (e.g. to install a log sink); may be NULL. */
    void (*begin)(void);
    /** Corruption mode (fuzz_corrupt): faults are recorded here, never
     *  abort, and the model follows the rules of FORMAT.md ("fuzz_corrupt").
     *  NULL for a target that runs on an intact heap. */
    fuzz_faults_t *faults;
    /** What OP_PLANT writes (fuzz_corrupt); NULL for the other targets. */
    const fuzz_plants_t *plants;
} fuzz_target_t;

/** Runs one program, from the library's secret pinned to the same value
 *  every time (FORMAT.md); aborts with a message naming the invariant
 *  violated. With trace non-NULL, prints the program in readable form as
 *  it runs. */
void fuzz_run(const fuzz_target_t *target, const uint8_t *data, size_t size, FILE *trace);

/** Aborts the run: "invariant '<name>' violated: <details>". */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noreturn, format(printf, 2, 3)))
#endif
void fuzz_fail(const char *invariant, const char *fmt, ...);

/** Zeroes the bytes of [p, p + n) that the model checks: all of a small
 *  block, a sample of a large one. For harness-made "calloc" only: a
 *  library's calloc must zero everything, and the model checks it there. */
void fuzz_zero_checked(void *p, size_t n);

/** calloc for the mem_* targets: frees *held, allocates size bytes into it
 *  and zeroes what the model checks; false (and *held NULL) on failure. */
bool fuzz_alloc_zeroed(mem_ctx_t ctx, void **held, size_t size, bool persistent);

/** All targets, for the replay driver, the decoder and the encoder. */
extern const fuzz_target_t fuzz_target_alloc;
extern const fuzz_target_t fuzz_target_wrappers;
extern const fuzz_target_t fuzz_target_corrupt;
/** The target called name (its table.name), NULL when there is none. */
const fuzz_target_t *fuzz_find_target(const char *name);
/** The i-th registered target, NULL from the count on (to list them). */
const fuzz_target_t *fuzz_target_at(size_t i);
