/*
 * The per-heap settings and the fault state: mem_set_fault_handler,
 * mem_last_fault, mem_set_check_interval. Contract: mem_alloc.h.
 */

#include "heap_call.h"
#include "heap_registry.h"

/* The heap behind ctx when a setting may be changed on it: neither failed
 * nor damaged (which every later call would refuse). No handler is called:
 * the setters only answer false. */
static uint8_t *heap_open_healthy(mem_ctx_t ctx, bool *vg)
{
    uint8_t *b = heap_open(ctx, vg);
    return b != NULL && heap_usable(b, HARDENED ? key_of(b) : 0u) ? b : NULL;
}

bool mem_set_fault_handler(mem_ctx_t ctx, mem_fault_handler_t handler, void *user)
{
    bool vg;
    uint8_t *b = heap_open_healthy(ctx, &vg);
    if (b != NULL) {
        heap_registry_set_handler(b, handler, user);
    }
    heap_leave(vg);
    return b != NULL;
}

mem_fault_t mem_last_fault(mem_ctx_t ctx)
{
    bool vg;
    const uint8_t *b = heap_open(ctx, &vg);
    mem_fault_t f = b != NULL && ld(b, W_STATE * 4u) != 0u ? heap_failed_fault(b) : MEM_FAULT_NONE;
    heap_leave(vg);
    return f;
}

bool mem_set_check_interval(mem_ctx_t ctx, uint32_t every)
{
    if (!PARANOID) {
        (void)ctx;
        (void)every;
        return false;
    }
    bool vg;
    uint8_t *b = heap_open_healthy(ctx, &vg);
    if (b != NULL) {
        st(b, W_CHECK_EVERY * 4u, every);
        st(b, W_OPS * 4u, 0u);
        st(b, W_CTX_CHECK * 4u, ctx_check(b, key_of(b)));
    }
    heap_leave(vg);
    return b != NULL;
}
