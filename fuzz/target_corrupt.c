/* fuzz_corrupt: the mem_* API on a heap whose bytes the program may also
 * overwrite (poke, poke32, copy, plant) anywhere in the arena, context
 * included, and free through arbitrary pointers (free_at: interior,
 * misaligned, stale, double frees). Faults go to a recording handler that
 * never aborts; the interpreter's corruption mode (interp_corrupt.c,
 * FORMAT.md "fuzz_corrupt") checks what must hold on a damaged heap: no
 * access outside the arena, no block outside the chunk area or overlapping
 * a live one, live blocks intact, every fault code valid, fail closed after
 * a corruption fault, never a silent refusal, no call but to the registered
 * handler with its own arguments, and every corruption either reported (by
 * an operation or the final mem_check) or harmless. */

#include "target.h"

static fuzz_faults_t g_faults;
/* The heap the handler was registered for: every call must name it. */
static mem_ctx_t g_heap;
/* What plant writes as an attacker's user pointer: never handed to a
 * handler, so nothing reads it. */
static fuzz_faults_t g_decoy_user;

static void record(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    (void)addr;
    /* Checked before user is used: a pointer planted in the arena must never
     * reach the handler, not even the registered one. */
    if (user != &g_faults || ctx != g_heap) {
        fuzz_fail("handler-args", "the handler got heap %p and user %p (%s); it was registered for heap %p with "
                  "user %p", ctx, user, user == &g_decoy_user ? "the planted decoy" : "unknown", g_heap,
                  (void *)&g_faults);
    }
    fuzz_faults_t *f = &g_faults;
    f->count++;
    f->last = fault;
    if (fault <= MEM_FAULT_NONE || fault > MEM_FAULT_CORRUPT_CONTEXT) {
        f->invalid++;
    } else {
        f->seen |= (uint32_t)1u << (unsigned)fault;
    }
}

/* What plant writes as an attacker's fault handler: the allocator calls no
 * function whose address it read from the arena (README "Threat model"). */
static void decoy_handler(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    fuzz_fail("only-registered-handler", "the decoy handler planted in the arena was called: heap %p, %s at %p, "
              "user %p", ctx, mem_fault_name(fault), addr, user);
}

/* A run's record starts empty; a re-init (OP_REINIT) keeps counting. */
static void begin_recording(void)
{
    g_faults = (fuzz_faults_t){0};
}

static mem_ctx_t init_recording(void *buf, size_t size)
{
    g_heap = mem_init(buf, size);
    if (g_heap != NULL && !mem_set_fault_handler(g_heap, record, &g_faults)) {
        fuzz_fail("harness", "mem_set_fault_handler refused a new heap");
    }
    return g_heap;
}

static const fuzz_plants_t plants = {
    .decoy_handler = decoy_handler,
    .decoy_user = &g_decoy_user,
    .registered = record,
};

static const op_kind_t ops[] = {OP_ALLOC, OP_CALLOC, OP_REALLOC, OP_FREE,   OP_STAT,   OP_PARSE, OP_CHECK,
                                OP_POKE,  OP_POKE32, OP_COPY,    OP_FREE_AT, OP_PLANT, OP_REINIT};

/* Every byte of the arena may be overwritten, context included: nothing
 * there decides where control goes (the handler is registered in the
 * library's static table), and a heap whose identity words are damaged is
 * still recognized and reported, never silently dead. */
const fuzz_target_t fuzz_target_corrupt = {
    .table = {"fuzz_corrupt", ops, (uint8_t)(sizeof ops / sizeof ops[0])},
    .init = init_recording,
    .alloc = mem_alloc,
    .calloc = fuzz_alloc_zeroed,
    .realloc = mem_realloc,
    .free = mem_free,
    .begin = begin_recording,
    .faults = &g_faults,
    .plants = &plants,
};
