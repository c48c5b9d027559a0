/*
 * What the allocator tells AddressSanitizer and valgrind memcheck, so that
 * they see blocks inside the arena although it is one buffer to them:
 * everything but live payloads is poisoned (ASan) or no-access (memcheck),
 * and memcheck tracks each block as a mempool chunk with its allocation
 * stack (leaks, invalid accesses, use after free). Every hook is empty in a
 * build without the tool. Not installed.
 *
 * Memcheck cannot be told that the allocator's own metadata reads are
 * legitimate, so each public call runs with error reporting off (heap_call.h
 * turns it off and on); under ASan the metadata accessors are simply not
 * instrumented (heap_internal.h). Whether a heap was made under valgrind is
 * asked once, by mem_init, and kept in bit 0 of its identity words: outside
 * valgrind a call then pays one predictable branch per request instead of
 * the requests themselves (about 80 instructions per alloc+free pair).
 */

#pragma once

#include "heap_internal.h"

#ifdef HEAP_ASAN
#include <sanitizer/asan_interface.h>
#define SAN_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define SAN_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define SAN_POISON(p, n) ((void)(p), (void)(n))
#define SAN_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#ifdef HARDALLOC_VALGRIND
#include <valgrind/memcheck.h>
/* The heap at b was made under valgrind (either identity word says so: the
 * first may be the damage being reported). */
static inline bool san_vg(const uint8_t *b)
{
    return (ld(b, W_ID * 4u) ^ heap_id(b)) == 1u || (ld(b, W_ID2 * 4u) ^ heap_id(b) ^ ID2_XOR) == 1u;
}
/* Whether this process runs under valgrind: asked by mem_init only. */
static inline bool san_running(void)
{
    return RUNNING_ON_VALGRIND != 0;
}
/* The heap at b, recognized with its first identity word damaged, was made
 * under valgrind: its second identity word says so, or, with both gone,
 * this process runs under valgrind. */
static inline bool san_vg_recognized(const uint8_t *b)
{
    uint32_t d = ld(b, W_ID2 * 4u) ^ heap_id(b) ^ ID2_XOR;
    return d == 1u || (d > 1u && san_running());
}
/* Memcheck reports again (true: it had been turned off). */
static inline void san_reporting(bool on)
{
    if (on) {
        VALGRIND_ENABLE_ERROR_REPORTING;
    } else {
        VALGRIND_DISABLE_ERROR_REPORTING;
    }
}
#else
static inline bool san_vg(const uint8_t *b)
{
    (void)b;
    return false;
}
static inline bool san_running(void)
{
    return false;
}
static inline bool san_vg_recognized(const uint8_t *b)
{
    (void)b;
    return false;
}
static inline void san_reporting(bool on)
{
    (void)on;
}
#endif

#ifdef HARDALLOC_VALGRIND
#include <stdatomic.h>
/* Memcheck's leak check looks at no block at all, mempool chunks included,
 * while the process has no live malloc-like block; an app whose only heap
 * is a static arena would never hear of its leaks. One reachable 1-byte
 * block, registered once per process under valgrind only, keeps the check
 * on. The one piece of process-wide state, and it exists for memcheck. */
static unsigned char san_marker[8];
static void *volatile san_marker_ref __attribute__((used)); /* what keeps it reachable */

static inline void san_leak_check_on(void)
{
    static atomic_flag registered = ATOMIC_FLAG_INIT;
    if (!atomic_flag_test_and_set(&registered)) {
        VALGRIND_MALLOCLIKE_BLOCK(san_marker, 1, 0, 0);
        san_marker_ref = san_marker;
    }
}
#endif

/* The buffer [start, start + size) is about to be (re)made a heap: the
 * allocator may write all of it, and blocks of an earlier heap there are
 * forgotten. */
static inline void san_buffer_open(void *start, size_t size, bool vg)
{
    SAN_UNPOISON(start, size);
#ifdef HARDALLOC_VALGRIND
    if (vg) {
        VALGRIND_MAKE_MEM_UNDEFINED(start, size);
    }
#else
    (void)start;
    (void)size;
    (void)vg;
#endif
}

/* The heap at b spanning [start, start + size) is ready: none of it is the
 * app's until blocks are handed out. */
static inline void san_heap_ready(uint8_t *b, void *start, size_t size)
{
    SAN_POISON(start, size);
#ifdef HARDALLOC_VALGRIND
    if (san_vg(b)) {
        san_leak_check_on();
        if (VALGRIND_MEMPOOL_EXISTS(b)) {
            VALGRIND_DESTROY_MEMPOOL(b);
        }
        /* A 4-byte red zone (the smallest gap between two payloads) lets
         * memcheck name the block an access just past it belongs to. */
        VALGRIND_CREATE_MEMPOOL(b, 4, 0);
        VALGRIND_MAKE_MEM_NOACCESS(start, size);
        VALGRIND_MAKE_MEM_DEFINED(b + W_ID * 4u, 8u);
    }
#else
    (void)b;
#endif
}

/* A block of usable bytes at payload offset p is the app's. */
static inline void san_block_alloc(uint8_t *b, uint32_t p, uint32_t usable)
{
    SAN_UNPOISON(b + p, usable);
#ifdef HARDALLOC_VALGRIND
    if (san_vg(b)) {
        VALGRIND_MEMPOOL_ALLOC(b, b + p, usable);
    }
#endif
}

/* The block at payload offset p (usable bytes) is no longer the app's. */
static inline void san_block_free(uint8_t *b, uint32_t p, uint32_t usable)
{
    SAN_POISON(b + p, usable);
#ifdef HARDALLOC_VALGRIND
    if (san_vg(b)) {
        VALGRIND_MEMPOOL_FREE(b, b + p);
    }
#endif
}

/* [p, p + n) is about to receive a block's bytes by memmove: addressable,
 * so that memcheck copies their definedness along with them. */
static inline void san_range_open(uint8_t *b, uint32_t p, uint32_t n)
{
    SAN_UNPOISON(b + p, n);
#ifdef HARDALLOC_VALGRIND
    if (san_vg(b)) {
        VALGRIND_MAKE_MEM_UNDEFINED(b + p, n);
    }
#endif
}

/* The block at payload offset from (old_usable bytes) now starts at to <=
 * from with new_usable bytes: resized in place, or slid down with its
 * content moved by the caller into a range opened by san_range_open. */
static inline void san_block_change(uint8_t *b, uint32_t from, uint32_t old_usable, uint32_t to,
                                    uint32_t new_usable)
{
    uint32_t old_end = from + old_usable;
    uint32_t new_end = to + new_usable;
    SAN_POISON(b + to, (old_end > new_end ? old_end : new_end) - to);
    SAN_UNPOISON(b + to, new_usable);
#ifdef HARDALLOC_VALGRIND
    if (san_vg(b)) {
        uint32_t kept_end = to + (old_usable < new_usable ? old_usable : new_usable);
        VALGRIND_MEMPOOL_CHANGE(b, b + from, b + to, new_usable);
        if (old_end > new_end) {
            VALGRIND_MAKE_MEM_NOACCESS(b + new_end, old_end - new_end);
        }
        if (new_end > kept_end) {
            VALGRIND_MAKE_MEM_UNDEFINED(b + kept_end, new_end - kept_end);
        }
    }
#else
    (void)from;
#endif
}
