/*
 * mem_check: the full validation (heap_validate.c) behind the public call
 * protocol. Contract: mem_alloc.h.
 */

#include "heap_call.h"

bool mem_check(mem_ctx_t ctx)
{
    bool vg;
    uint64_t key;
    bool ok = false;
    uint8_t *b = heap_enter(ctx, ctx, &vg, &key);
    if (b != NULL) {
        const void *where;
        mem_fault_t f = heap_validate(b, key, &where);
        ok = f == MEM_FAULT_NONE;
        if (!ok) {
            heap_fault(b, f, where);
        }
    }
    heap_leave(vg);
    return ok;
}
