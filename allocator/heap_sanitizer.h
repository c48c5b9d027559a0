/*
 * What the allocator tells AddressSanitizer and valgrind memcheck, so that
 * they see blocks inside the arena although it is one buffer to them:
 * everything but live payloads is poisoned (ASan) or no-access (memcheck),
 * and memcheck tracks each block as a mempool chunk with its allocation
 * stack (leaks, invalid accesses, use after free). Every hook is empty in a
 * build without the tool. Not installed.
 *
 * Memcheck cannot be told that the allocator's own metadata reads are
 * legitimate, so each public call runs with error reporting off
 * (SAN_ENTER / SAN_LEAVE); under ASan the metadata accessors are simply not
 * instrumented (heap_internal.h).
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
#define SAN_ENTER() VALGRIND_DISABLE_ERROR_REPORTING
#define SAN_LEAVE() VALGRIND_ENABLE_ERROR_REPORTING
#else
#define SAN_ENTER() ((void)0)
#define SAN_LEAVE() ((void)0)
#endif

/* The buffer [start, start + size) is about to be (re)made a heap: the
 * allocator may write all of it, and blocks of an earlier heap there are
 * forgotten. */
static inline void san_buffer_open(void *start, size_t size)
{
    SAN_UNPOISON(start, size);
#ifdef HARDALLOC_VALGRIND
    VALGRIND_MAKE_MEM_UNDEFINED(start, size);
#else
    (void)start;
    (void)size;
#endif
}

/* The heap at b spanning [start, start + size) is ready: none of it is the
 * app's until blocks are handed out. */
static inline void san_heap_ready(uint8_t *b, void *start, size_t size)
{
    SAN_POISON(start, size);
#ifdef HARDALLOC_VALGRIND
    if (VALGRIND_MEMPOOL_EXISTS(b)) {
        VALGRIND_DESTROY_MEMPOOL(b);
    }
    VALGRIND_CREATE_MEMPOOL(b, 0, 0);
    VALGRIND_MAKE_MEM_NOACCESS(start, size);
#else
    (void)b;
#endif
}

/* A block of usable bytes at payload offset p is the app's. */
static inline void san_block_alloc(uint8_t *b, uint32_t p, uint32_t usable)
{
    SAN_UNPOISON(b + p, usable);
#ifdef HARDALLOC_VALGRIND
    VALGRIND_MEMPOOL_ALLOC(b, b + p, usable);
#endif
}

/* The block at payload offset p (usable bytes) is no longer the app's. */
static inline void san_block_free(uint8_t *b, uint32_t p, uint32_t usable)
{
    SAN_POISON(b + p, usable);
#ifdef HARDALLOC_VALGRIND
    VALGRIND_MEMPOOL_FREE(b, b + p);
#endif
}

/* [p, p + n) is about to receive a block's bytes by memmove: addressable,
 * so that memcheck copies their definedness along with them. */
static inline void san_range_open(uint8_t *b, uint32_t p, uint32_t n)
{
    SAN_UNPOISON(b + p, n);
#ifdef HARDALLOC_VALGRIND
    VALGRIND_MAKE_MEM_UNDEFINED(b + p, n);
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
    uint32_t kept_end = to + (old_usable < new_usable ? old_usable : new_usable);
    VALGRIND_MEMPOOL_CHANGE(b, b + from, b + to, new_usable);
    if (old_end > new_end) {
        VALGRIND_MAKE_MEM_NOACCESS(b + new_end, old_end - new_end);
    }
    if (new_end > kept_end) {
        VALGRIND_MAKE_MEM_UNDEFINED(b + kept_end, new_end - kept_end);
    }
#else
    (void)from;
#endif
}
