/**
 * @file interp.h
 * @brief The interpreter's parts, shared by its three files (not by the
 *        targets, which see target.h only):
 *        - interp.c: a run: the arena, the program loop, every operation
 *          performed on the target and the checks tied to its answer;
 *        - interp_model.c: the shadow model of the live blocks (their
 *          contents) and the invariants checked against it;
 *        - interp_corrupt.c: the corruption mode of fuzz_corrupt (overwrites,
 *          the canary model, the fault-model invariants of FORMAT.md).
 */

#pragma once

#include "target.h"

#include <string.h>

/* The model's own checking loops are not what a fuzzer should explore:
 * keeping coverage hooks out of them makes executions several times cheaper
 * and keeps address-dependent comparisons out of the feedback. */
#if defined(__clang__)
#define MODEL_CODE __attribute__((no_sanitize("coverage")))
#else
#define MODEL_CODE
#endif

/* Bytes of a block a corruption op overwrote, remembered until the block is
 * filled again (fuzz_corrupt): its content is the pattern but for these. */
#define MAX_OVERRIDES 16u
/* Changed poison bytes remembered per run (fuzz_corrupt, paranoid). */
#define MAX_POISONED 8u
/* The full model check (mem_check, mem_stat against the model, usable sizes,
 * every block's content) runs after every FULL_EVERY-th operation and at the
 * end; after the others only what the operation touched is checked, which
 * keeps a step O(1) in the heap's size (fuzz/FORMAT.md "Invariants"). */
#define FULL_EVERY 8u

typedef struct {
    uint8_t *ptr; /* NULL: empty slot */
    size_t size;  /* bytes the program may use and whose content is checked */
    uint8_t seed; /* content is pattern(seed, i) */
    uint8_t n_over;
    uint8_t over_val[MAX_OVERRIDES];
    size_t over_at[MAX_OVERRIDES];
    /* fuzz_corrupt, hardened: the tail canary at ptr + size (right after the
     * requested bytes) as it was handed out; unknown when the heap was
     * damaged then. */
    bool canary_known;
    uint32_t canary;
} slot_t;

typedef struct {
    const fuzz_target_t *t;
    uint8_t *arena;
    size_t arena_size;
    mem_ctx_t ctx; /* NULL while the heap is detached (failed reinit) */
    size_t conserved; /* free_size + allocated_size of this heap: the one chunk of mem_init */
    size_t total;     /* mem_stat's total_size: the size given to mem_init, capped */
    slot_t slots[FUZZ_SLOTS];
    unsigned step;
    bool final; /* the closing checks: sweep everything */
    uint8_t next_seed;
    FILE *trace;
    /* Where payloads may lie: the payload of the single free chunk of the
     * heap as mem_init made it (after the context, before the sentinel). */
    uintptr_t chunk_lo, chunk_hi;
    size_t largest; /* the last largest free chunk seen on a predictable heap */
    /* Corruption mode (fuzz_corrupt; FORMAT.md): */
    fuzz_faults_t *faults; /* the recording handler's record; NULL: not this mode */
    bool tainted;          /* a corruption op changed bytes outside every live payload */
    bool model_lost;       /* a block's fate is unknown (a faulting op); no full model check */
    mem_fault_t failed;    /* mem_last_fault as of the last operation */
    unsigned calls_before; /* faults->count before the operation */
    bool refusing;         /* the heap refused everything when the operation began */
    unsigned check_every;  /* paranoid: mem_set_check_interval of every heap (0: none) */
    bool poison_before;    /* a changed poison byte was pending when the operation began */
    /* fuzz_corrupt, paranoid: bytes a corruption op changed inside a free
     * chunk's poison (found by a walk of the intact heap), with the value
     * written and the handler's count then. Until the allocator reports a
     * fault, memory holding one of them must not be handed out and
     * mem_check must not pass; an entry goes when the allocator itself
     * rewrites the byte (a header, links, a wipe). */
    unsigned n_poisoned;
    struct {
        size_t at;
        uint8_t value;
        unsigned reports;
    } poisoned[MAX_POISONED];
} run_t;

MODEL_CODE static inline uint8_t pattern(uint8_t seed, size_t i)
{
    return (uint8_t)(seed + 7u * (uint8_t)i + (uint8_t)(i >> 8));
}

/* A metadata word of the arena. Read with plain, instrumented accesses:
 * the fuzz targets link the copy of the allocator built without arena
 * poisoning or memcheck requests (wrappers/meson.build,
 * .clusterfuzzlite/build.sh), so ASan checks these like the allocator's
 * own accesses, against the arena's bounds. */
static inline uint32_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The length of the chunk whose payload is p, from its header word (len |
 * flags, just before the payload; the same place at every level). */
static inline size_t chunk_len(const uint8_t *p)
{
    return load32(p - 4) & ~(uint32_t)7u;
}

/* What byte i of s must hold: the pattern, or what a corruption op wrote. */
MODEL_CODE static inline uint8_t expected(const slot_t *s, size_t i)
{
    for (unsigned k = s->n_over; k-- > 0;) {
        if (s->over_at[k] == i) {
            return s->over_val[k];
        }
    }
    return pattern(s->seed, i);
}

/* fuzz_corrupt: the heap's behaviour follows from the model (a healthy heap
 * that only payload bytes were written to), so every invariant applies. */
static inline bool predictable(const run_t *r)
{
    return r->faults == NULL ||
           (!r->tainted && !r->model_lost && r->failed == MEM_FAULT_NONE);
}

/* ---- interp.c ------------------------------------------------------------ */

/* Appends "   # <label> heap+0x..." (or NULL) to the trace line. */
void trace_result(const run_t *r, const char *label, const void *p);
/* mem_free of the live block of slot n (free, free_at). */
void op_free_live(run_t *r, unsigned n, const char *what);

/* ---- interp_model.c: the shadow model and its invariants ----------------- */

/* What a free must wipe, read from the intact heap before the call. */
typedef struct {
    uint8_t *at;          /* the block's payload; NULL: nothing to check */
    size_t len;           /* its chunk's length */
    bool prev_free;       /* the chunk merges into its free predecessor */
    size_t prev_len;      /* that predecessor's length (its tail word) */
    bool next_free;       /* its free successor merges into it */
    size_t n;             /* the bytes the app could write (the request) */
} freed_t;

/* Before mem_free or mem_realloc of slot s's block (hardened, predictable
 * heap; nothing to check for an empty slot). */
freed_t model_before_free(const run_t *r, const slot_t *s);
/* Right after that free, which reported nothing: the payload reads as
 * wiped (standard: zero; paranoid: poison) apart from the new free
 * chunk's links, and so does every header a merge moved inside it. */
void model_check_wiped(const run_t *r, const freed_t *f, const char *what);
/* Right after a realloc of that block (old_n bytes) to n that reported
 * nothing and answered p: in place, what the block no longer holds and
 * every header and canary now inside it reads as wiped; moved away, the old
 * block as after a free; to 0 bytes, a free. */
void model_check_resized(const run_t *r, const freed_t *f, size_t old_n, const void *p, size_t n);

/* Writes s's pattern over its checked bytes (and forgets its overrides). */
void model_fill(slot_t *s);
/* The patterned bytes of slot n in [0, to), laid out for s's size. */
void model_verify_range(const run_t *r, unsigned n, const slot_t *s, size_t to, const char *invariant);
/* All the patterned bytes of slot n. */
void model_verify(const run_t *r, unsigned n, const char *invariant);
/* The bytes of [p, p + n) fuzz_zero_checked zeroes are zero ("calloc-zero"). */
void model_check_zero(const run_t *r, const void *p, size_t n, const char *what);
/* Slot n now holds the n-byte block at p: a new seed, filled. */
void model_take_slot(run_t *r, unsigned n, void *p, size_t size);
/* The lowest empty slot, -1 when all are full. */
int model_lowest_empty(const run_t *r);
mem_stat_t model_stat(const run_t *r);
/* "fits, so it must succeed": a failed allocation of n bytes. */
void model_check_fit(const run_t *r, size_t n, const char *what);
/* A block just handed out: aligned, in the chunk area, apart from the
 * model's blocks (slot skip excepted). */
void model_accept_block(run_t *r, const void *p, size_t n, int skip, const char *what);
/* The walk of mem_parse checked against the model (OP_PARSE). */
void model_parse_walk(run_t *r);
/* After every operation: the full check every FULL_EVERY steps and at the
 * end. */
void model_check_all(run_t *r);
/* The full check now: on a predictable heap mem_check, mem_stat and
 * mem_parse against the model, every block's size, bounds and content; on
 * a damaged one, every block's content. */
void model_check_full(run_t *r);

/* ---- interp_corrupt.c: the corruption mode (fuzz_corrupt) ----------------- */

/* Remembers the tail canary of slot s's new block (hardened, predictable). */
void corrupt_note_canary(const run_t *r, slot_t *s);
/* The live block of s had its tail canary changed by a corruption op. */
bool corrupt_canary_broken(const run_t *r, const slot_t *s);
/* After mem_free / mem_realloc of the live block of slot n. */
void corrupt_check_live_call(const run_t *r, unsigned n, bool broken, const char *what);
/* A call that reports a fault, or any call on a refusing heap, hands out
 * nothing: ok says whether it answered something. */
void corrupt_refused(const run_t *r, bool ok, const char *what);
/* A call that answered "nothing" (false, zeroed statistics, no walk) when
 * the heap always has something must have reported a fault. */
void corrupt_reported(const run_t *r, bool answered, const char *what);
/* Paranoid: a block handed out at p (n bytes) holds no changed poison
 * byte unless a fault was reported first. */
void corrupt_check_poison(run_t *r, const uint8_t *p, size_t n);
/* A full check passed with no report (mem_check, the final one, or the
 * periodic check of a call on a heap checked every call): the taint is
 * cleared, and no changed poison byte (paranoid) may be left. */
void corrupt_check_passed(run_t *r, const char *what);
/* poke, poke32, copy, plant. */
void corrupt_op(run_t *r, const op_t *op);
/* free_at. */
void corrupt_free_at(run_t *r, const op_t *op);
/* Before and after each operation of a corruption run. */
void corrupt_before_op(run_t *r);
void corrupt_after_op(run_t *r, const op_t *op, bool expects_call);
/* The end of a corruption run: every corruption reported, or harmless. */
void corrupt_final(run_t *r);
