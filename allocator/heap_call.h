/*
 * The boundary of every public call: which heap ctx designates, whether it
 * may be used, and memcheck's reporting off while the allocator reads its
 * own metadata (heap_sanitizer.h). Not installed.
 *
 * A ctx is a heap when its first identity word says so (the fast path), or,
 * when that word is damaged, when its second identity word and the context
 * checksum still say so or the library's table of heaps (heap_registry.h)
 * knows its address. A heap recognized that way is damaged: it fails closed
 * and every call on it reports MEM_FAULT_CORRUPT_CONTEXT. Anything else is
 * no heap, and calls on it answer NULL / false without a report (there is
 * no heap whose handler to call).
 */

#pragma once

#include "heap_internal.h"
#include "heap_sanitizer.h"

/* The heap at b was found: when it was made under valgrind, memcheck's
 * reporting goes off for the allocator's own accesses (true: heap_leave
 * turns it back on). */
static inline bool heap_quiet(const uint8_t *b)
{
    bool vg = san_vg(b);
    if (vg) {
        san_reporting(false);
    }
    return vg;
}

/* The heap behind ctx, or NULL when ctx is no heap, with memcheck's
 * reporting off for the allocator's own accesses. *vg tells heap_leave to
 * turn it back on; it is set whenever a heap made under valgrind was found.
 * The calls that check nothing else (mem_set_fault_handler, ...) start here. */
static inline uint8_t *heap_open(mem_ctx_t ctx, bool *vg)
{
    uint8_t *b = heap_of(ctx);
    if (b == NULL) {
        /* vg is not passed down: a local whose address escapes would cost
         * every call a stack frame and its tail call. */
        b = heap_recognize(ctx);
        *vg = b != NULL && san_vg_recognized(b);
        return b;
    }
    *vg = heap_quiet(b);
    return b;
}

/* The heap's context may be followed: not failed, and (hardened) every
 * word is intact. */
static inline bool heap_usable(const uint8_t *b, uint64_t key)
{
    return ld(b, W_STATE * 4u) == 0u && (!HARDENED || ctx_intact(b, key));
}

/* Entry of a public call: heap_open, then NULL (reported; addr is what a
 * refusal reports) when the heap failed or its context is damaged. *key gets
 * the heap's key (0 at hardening=off, which keys nothing). idle_null: the
 * call does nothing for a NULL addr (mem_free), so a refusal of it is not
 * reported and it is no call the periodic check counts; the caller then
 * finds NULL no pointer of the heap and returns (refuse_pointer), which
 * spares its hot path a test of its own. */
static inline uint8_t *heap_enter_as(mem_ctx_t ctx, const void *addr, bool idle_null, bool *vg, uint64_t *key)
{
    uint8_t *b = heap_of(ctx);
    if (b == NULL) {
        /* Out of line and final: no slow path returns into the fast one, so
         * the calls of the fast path need no stack frame. */
        if (!idle_null || addr != NULL) {
            heap_refuse_unknown(ctx, addr);
        }
        *vg = false;
        return NULL;
    }
    *vg = heap_quiet(b);
    *key = HARDENED ? key_of(b) : 0u;
    if (!heap_usable(b, *key)) {
        if (!idle_null || addr != NULL) {
            heap_refuse(b, addr);
        }
        return NULL;
    }
    if (PARANOID && !(idle_null && addr == NULL) && ld(b, W_CHECK_EVERY * 4u) != 0u && !heap_tick(b, *key)) {
        return NULL;
    }
    return b;
}

static inline uint8_t *heap_enter(mem_ctx_t ctx, const void *addr, bool *vg, uint64_t *key)
{
    return heap_enter_as(ctx, addr, false, vg, key);
}

static inline void heap_leave(bool vg)
{
    if (vg) {
        san_reporting(true);
    }
}
