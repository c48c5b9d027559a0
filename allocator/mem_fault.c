/*
 * Fault reporting: the per-heap handler, the default handler, and failing a
 * heap closed. Contract: mem_alloc.h.
 *
 * The handler lives in the context, which a heap bug may overwrite, so it
 * is stored with a keyed checksum: a handler whose checksum fails is never
 * called (the default one runs), so corrupted metadata cannot redirect
 * control flow.
 */

#include "heap_internal.h"
#include "heap_sanitizer.h"

#ifndef HARDALLOC_NO_STDIO
#include <stdio.h>
#endif
#include <stdlib.h>

_Static_assert(sizeof(mem_fault_handler_t) <= 8u && sizeof(void *) <= 8u, "stored in 8 bytes");
_Static_assert(sizeof(mem_ctx_t) <= 8u, "mem_stat reads at most 8 bytes of a context variable");

const char *mem_fault_name(mem_fault_t fault)
{
    switch (fault) {
    case MEM_FAULT_NONE: return "no fault";
    case MEM_FAULT_CORRUPT_HEADER: return "corrupted chunk header";
    case MEM_FAULT_CORRUPT_LINK: return "corrupted free-list link";
    case MEM_FAULT_DOUBLE_FREE: return "double free";
    case MEM_FAULT_INVALID_POINTER: return "invalid pointer";
    case MEM_FAULT_OVERFLOW: return "buffer overflow (tail canary)";
    case MEM_FAULT_WRITE_AFTER_FREE: return "write after free";
    case MEM_FAULT_CORRUPT_CONTEXT: return "corrupted heap context";
    }
    return "unknown fault";
}

static bool is_corruption(mem_fault_t fault)
{
    return fault != MEM_FAULT_NONE && fault != MEM_FAULT_DOUBLE_FREE && fault != MEM_FAULT_INVALID_POINTER;
}

/* What a heap's state word says when the heap refuses: true when the
 * context itself is damaged (hardened: its checksum fails) or the state (or
 * its reset to 0) is none a corruption fault could have left; false when it
 * names the corruption that failed the heap. */
static bool context_damaged(const uint8_t *b, uint32_t state)
{
    return (HARDENED && !ctx_intact(b)) || !is_corruption((mem_fault_t)state) ||
           state > (uint32_t)MEM_FAULT_CORRUPT_CONTEXT;
}

/* HARDALLOC_NO_STDIO (firmware builds): the default handler aborts without
 * printing, so that the library does not pull the C library's stdio in
 * (about 25 KiB of Thumb code with newlib, bench/size). */
static void default_handler(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    (void)user;
#ifndef HARDALLOC_NO_STDIO
    fprintf(stderr, "hardalloc: %s at %p in heap %p\n", mem_fault_name(fault), addr, (void *)ctx);
#else
    (void)ctx;
    (void)fault;
    (void)addr;
#endif
    abort();
}

static uint32_t handler_check(uint64_t key, uint64_t handler, uint64_t user)
{
    return keyed_mix(~key, handler ^ (user << 17 | user >> 47));
}

/* The heap behind ctx when a setting may be changed on it: neither failed
 * nor with a context that fails its checksum (which every later call would
 * refuse). No handler is called: the setters only answer false. */
static uint8_t *heap_open_healthy(mem_ctx_t ctx, bool *vg)
{
    uint8_t *b = heap_open(ctx, vg);
    return b != NULL && ld(b, W_STATE * 4u) == 0u && ctx_intact(b) ? b : NULL;
}

bool mem_set_fault_handler(mem_ctx_t ctx, mem_fault_handler_t handler, void *user)
{
    bool vg;
    uint8_t *b = heap_open_healthy(ctx, &vg);
    bool ok = b != NULL;
    if (ok) {
        uint64_t h = 0u;
        uint64_t u = 0u;
        if (handler != NULL) {
            memcpy(&h, &handler, sizeof handler);
            memcpy(&u, &user, sizeof user);
        }
        st64(b, W_HANDLER * 4u, h);
        st64(b, W_USER * 4u, u);
        st(b, W_HCHECK * 4u, handler_check(secret_of(b), h, u));
    }
    heap_leave(vg);
    return ok;
}

mem_fault_t mem_last_fault(mem_ctx_t ctx)
{
    bool vg;
    const uint8_t *b = heap_open(ctx, &vg);
    mem_fault_t f = MEM_FAULT_NONE;
    if (b != NULL && ld(b, W_STATE * 4u) != 0u) {
        uint32_t state = ld(b, W_STATE * 4u);
        f = context_damaged(b, state) ? MEM_FAULT_CORRUPT_CONTEXT : (mem_fault_t)state;
    }
    heap_leave(vg);
    return f;
}

static void call_handler(uint8_t *b, mem_fault_t fault, const void *addr)
{
    mem_fault_handler_t handler = default_handler;
    void *user = NULL;
    uint64_t h = ld64(b, W_HANDLER * 4u);
    uint64_t u = ld64(b, W_USER * 4u);
    if (h != 0u && ld(b, W_HCHECK * 4u) == handler_check(secret_of(b), h, u)) {
        memcpy(&handler, &h, sizeof handler);
        memcpy(&user, &u, sizeof user);
    }
    /* The handler is the app's code: memcheck reports its errors again. */
    bool vg = san_vg(b);
    heap_leave(vg);
    handler(b, fault, addr, user);
    if (vg) {
        san_reporting(false);
    }
}

/* Fails the heap: the state joins the context checksum, so resetting it
 * to 0 later does not revive the heap (heap_enter finds the mismatch). */
static void fail_heap(uint8_t *b, mem_fault_t fault)
{
    st(b, W_STATE * 4u, (uint32_t)fault);
    st(b, W_CTX_CHECK * 4u, ctx_check(b, secret_of(b)));
}

void heap_fault(uint8_t *b, mem_fault_t fault, const void *addr)
{
    if (is_corruption(fault) && ld(b, W_STATE * 4u) == 0u) {
        fail_heap(b, fault);
    }
    call_handler(b, fault, addr);
}

void heap_refuse(uint8_t *b, const void *addr)
{
    uint32_t state = ld(b, W_STATE * 4u);
    if (context_damaged(b, state)) {
        if (state != (uint32_t)MEM_FAULT_CORRUPT_CONTEXT) {
            fail_heap(b, MEM_FAULT_CORRUPT_CONTEXT);
        }
        call_handler(b, MEM_FAULT_CORRUPT_CONTEXT, b);
    } else {
        call_handler(b, (mem_fault_t)state, addr != NULL ? addr : b);
    }
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
    bool ok = b != NULL;
    if (ok) {
        st(b, W_CHECK_EVERY * 4u, every);
        st(b, W_OPS * 4u, 0u);
    }
    heap_leave(vg);
    return ok;
}
