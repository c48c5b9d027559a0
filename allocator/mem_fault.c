/*
 * Fault reporting: fault names, the default handler, failing a heap closed,
 * and recognizing a heap whose identity word is damaged. Contract:
 * mem_alloc.h.
 *
 * The handler is looked up in the library's table by the heap's address
 * (heap_registry.h), never read from the arena: whatever an attacker writes
 * there, a fault reaches the handler the app registered or the default one.
 */

#include "heap_internal.h"
#include "heap_registry.h"
#include "heap_sanitizer.h"

#ifndef HARDALLOC_NO_STDIO
#include <stdio.h>
#endif
#include <stdlib.h>

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

#ifdef HARDALLOC_SDK_EXCEPTIONS
/* The SDK's throw (its exceptions.h), defined by the app or the SDK. Declared
 * here without noreturn on purpose: if a stub ever returns, abort() below
 * still ends the call instead of falling into undefined behaviour. */
void os_longjmp(unsigned int exception);
#endif

/* HARDALLOC_NO_STDIO (firmware builds): no line, so that the library does
 * not pull the C library's stdio in (about 25 KiB of Thumb code with newlib,
 * bench/size). */
void mem_default_fault(mem_ctx_t ctx, mem_fault_t fault, const void *addr, const char *note)
{
#ifndef HARDALLOC_NO_STDIO
    fprintf(stderr, "hardalloc: %s at %p in heap %p%s\n", mem_fault_name(fault), addr, (void *)ctx,
            note != NULL ? note : "");
#else
    (void)ctx;
    (void)fault;
    (void)addr;
    (void)note;
#endif
#ifdef HARDALLOC_SDK_EXCEPTIONS
    os_longjmp(MEM_SDK_EXCEPTION_CORRUPT);
#endif
    abort();
}

static void default_handler(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    (void)user;
    mem_default_fault(ctx, fault, addr, NULL);
}

static void call_handler(uint8_t *b, mem_fault_t fault, const void *addr)
{
    void *user = NULL;
    mem_fault_handler_t handler = heap_registry_handler(b, &user);
    if (handler == NULL) {
        handler = default_handler;
    }
    /* The handler is the app's code: memcheck reports its errors again. */
    bool vg = san_vg(b);
    if (vg) {
        san_reporting(true);
    }
    handler(b, fault, addr, user);
    if (vg) {
        san_reporting(false);
    }
}

void heap_fail(uint8_t *b, mem_fault_t fault)
{
    st(b, W_STATE * 4u, (uint32_t)fault);
    if (HARDENED) {
        st(b, W_CTX_CHECK * 4u, ctx_check(b, key_of(b)));
    }
}

void heap_fault(uint8_t *b, mem_fault_t fault, const void *addr)
{
    if (is_corruption(fault) && ld(b, W_STATE * 4u) == 0u) {
        heap_fail(b, fault);
    }
    call_handler(b, fault, addr);
}

mem_fault_t heap_failed_fault(const uint8_t *b)
{
    uint32_t state = ld(b, W_STATE * 4u);
    bool damaged = (HARDENED && !ctx_intact(b, key_of(b))) || state > (uint32_t)MEM_FAULT_CORRUPT_CONTEXT ||
                   !is_corruption((mem_fault_t)state);
    return damaged ? MEM_FAULT_CORRUPT_CONTEXT : (mem_fault_t)state;
}

void heap_refuse(uint8_t *b, const void *addr)
{
    mem_fault_t fault = heap_failed_fault(b);
    if (ld(b, W_STATE * 4u) != (uint32_t)fault) {
        heap_fail(b, fault); /* the context is damaged: fail it for good */
    }
    /* A context fault is about the heap, whichever call meets it again. */
    call_handler(b, fault, addr == NULL || fault == MEM_FAULT_CORRUPT_CONTEXT ? (const void *)b : addr);
}

uint8_t *heap_recognize(mem_ctx_t ctx)
{
    if (ctx == NULL || ((uintptr_t)ctx & (GRANULE - 1u)) != 0u) {
        return NULL;
    }
    uint8_t *b = ctx;
    /* The second identity word alone is too weak a sign to write through
     * (it is one word of whatever ctx points at): the context checksum must
     * verify too, under the key only the library can compute. A heap in the
     * table is known without reading anything. */
    uint32_t d = ld(b, W_ID2 * 4u) ^ heap_id(b) ^ ID2_XOR;
    bool known = heap_registry_has(b) || (d <= 1u && HARDENED && ld(b, W_CTX_CHECK * 4u) == ctx_check(b, key_of(b)));
    if (!known) {
        return NULL;
    }
    if (san_vg_recognized(b)) {
        san_reporting(false);
    }
    if (ld(b, W_STATE * 4u) != (uint32_t)MEM_FAULT_CORRUPT_CONTEXT) {
        heap_fail(b, MEM_FAULT_CORRUPT_CONTEXT);
    }
    return b;
}

void heap_refuse_unknown(mem_ctx_t ctx, const void *addr)
{
    uint8_t *b = heap_recognize(ctx);
    if (b != NULL) {
        heap_refuse(b, addr);
        if (san_vg_recognized(b)) {
            san_reporting(true);
        }
    }
}
