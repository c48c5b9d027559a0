/* fuzz_corrupt: the mem_* API on a heap whose bytes the program may also
 * overwrite (poke, poke32, copy) anywhere in the arena, and free through
 * arbitrary pointers (free_at: interior, misaligned, stale, double frees).
 * Faults go to a recording handler that never aborts; the interpreter's
 * corruption mode (interp.c, FORMAT.md "fuzz_corrupt") checks what must
 * hold on a damaged heap: no access outside the arena, no block outside
 * the chunk area or overlapping a live one, live blocks intact, every fault
 * code valid, fail closed after a corruption fault, and every corruption
 * either reported (by an operation or the final mem_check) or harmless. */

#include "heap_internal.h"
#include "target.h"

static fuzz_faults_t g_faults;

static void record(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    (void)ctx;
    (void)addr;
    fuzz_faults_t *f = user;
    f->count++;
    f->last = fault;
    if (fault <= MEM_FAULT_NONE || fault > MEM_FAULT_CORRUPT_CONTEXT) {
        f->invalid++;
    } else {
        f->seen |= (uint32_t)1u << (unsigned)fault;
    }
}

static mem_ctx_t init_recording(void *buf, size_t size)
{
    g_faults = (fuzz_faults_t){0};
    mem_ctx_t ctx = mem_init(buf, size);
    if (ctx != NULL && !mem_set_fault_handler(ctx, record, &g_faults)) {
        fuzz_fail("harness", "mem_set_fault_handler refused a new heap");
    }
    return ctx;
}

/* Every byte of the arena may be overwritten, context included: nothing
 * there decides where control goes (the handler is registered in the
 * library's static table, README "Threat model"), and a heap whose identity
 * words are damaged is still recognized and reported, never silently dead. */
static bool attached(mem_ctx_t ctx)
{
    return ctx != NULL;
}

static const op_kind_t ops[] = {OP_ALLOC, OP_CALLOC, OP_REALLOC, OP_FREE,   OP_STAT,   OP_PARSE,
                                OP_CHECK, OP_POKE,   OP_POKE32,  OP_COPY,   OP_FREE_AT};

const fuzz_target_t fuzz_target_corrupt = {
    .table = {"fuzz_corrupt", ops, (uint8_t)(sizeof ops / sizeof ops[0])},
    .init = init_recording,
    .alloc = mem_alloc,
    .calloc = fuzz_alloc_zeroed,
    .realloc = mem_realloc,
    .free = mem_free,
    .faults = &g_faults,
    .no_poke = NULL,
    .no_poke_count = 0u,
    .attached = attached,
};
