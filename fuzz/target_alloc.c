/* fuzz_alloc: the mem_* API on a heap of its own. The allocator has no
 * calloc; "calloc" here is mem_alloc plus zeroing done by the harness. */

#include "target.h"

static const op_kind_t ops[] = {OP_ALLOC, OP_CALLOC, OP_REALLOC, OP_FREE, OP_STAT, OP_PARSE, OP_CHECK};

/* The mem_* API has no calloc: alloc, then zero what the model checks
 * (target.h). fuzz_corrupt uses it too. */
bool fuzz_alloc_zeroed(mem_ctx_t ctx, void **held, size_t size, bool persistent)
{
    (void)persistent;
    mem_free(ctx, *held);
    *held = mem_alloc(ctx, size);
    if (*held == NULL) {
        return false;
    }
    fuzz_zero_checked(*held, size);
    return true;
}

const fuzz_target_t fuzz_target_alloc = {
    .table = {"fuzz_alloc", ops, (uint8_t)(sizeof ops / sizeof ops[0])},
    .init = mem_init,
    .alloc = mem_alloc,
    .calloc = fuzz_alloc_zeroed,
    .realloc = mem_realloc,
    .free = mem_free,
};
