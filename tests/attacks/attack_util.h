/*
 * Shared by the attack matrix and the fault-API tests: a guarded arena.
 * Running a call in a child with stderr captured (run_captured) comes from
 * child_capture.h, raw access to metadata that neither ASan nor memcheck sees (raw_read,
 * raw_write, raw_get32, raw_put32, raw_flip) comes from raw_access.h, and
 * the recording fault handler (record_fault, into g_faults) from
 * fault_recorder.h, both in tests/.
 *
 * The arena sits between two guard regions of one malloc block. The guards
 * are filled with a known byte and, under ASan, poisoned: an instrumented
 * access to them is reported at once, and an uninstrumented one (the
 * allocator's metadata accessors are not instrumented) is found when the
 * guards are compared afterwards. Under valgrind the guards are ordinary
 * malloc memory, so only the comparison finds a stray write there.
 *
 * Tests know the layout (heap_internal.h): the allocator's internals are
 * what an attack overwrites.
 */

#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "child_capture.h"
#include "fault_recorder.h"
#include "heap_internal.h"
#include "mem_alloc.h"
#include "raw_access.h"

/* Guards are poisoned where the allocator poisons its arena (HEAP_ASAN). */
#ifdef HEAP_ASAN
#define ATK_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ATK_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ATK_POISON(p, n) ((void)(p), (void)(n))
#define ATK_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#include "../level_name.h"

/* ---- guarded arena ------------------------------------------------------ */

#define GUARD_SIZE 256u
#define GUARD_BYTE 0xC3u

typedef struct {
    uint8_t *block; /* malloc: guard, arena, guard */
    uint8_t *arena;
    size_t size;
} region_t;

static inline void region_open(region_t *r, size_t size)
{
    assert_true(size % 8u == 0u);
    r->size = size;
    r->block = malloc(size + 2u * GUARD_SIZE);
    assert_non_null(r->block);
    r->arena = r->block + GUARD_SIZE;
    memset(r->block, GUARD_BYTE, GUARD_SIZE);
    memset(r->arena, 0, size);
    memset(r->arena + size, GUARD_BYTE, GUARD_SIZE);
    ATK_POISON(r->block, GUARD_SIZE);
    ATK_POISON(r->arena + size, GUARD_SIZE);
}

/* True when neither guard was written. */
static inline bool region_guards_intact(const region_t *r)
{
    return raw_all(r->block, GUARD_SIZE, GUARD_BYTE) && raw_all(r->arena + r->size, GUARD_SIZE, GUARD_BYTE);
}

/* Forgets the heap whose context is at ctx (its memcheck mempool, so that
 * blocks left in a failed heap are not reported as leaks). */
static inline void heap_forget(void *ctx)
{
#ifdef RAW_VALGRIND
    if (ctx != NULL && VALGRIND_MEMPOOL_EXISTS(ctx)) {
        VALGRIND_DESTROY_MEMPOOL(ctx);
    }
#else
    (void)ctx;
#endif
}

static inline void region_close(region_t *r)
{
    if (r->block == NULL) {
        return;
    }
    heap_forget(r->arena);
    ATK_UNPOISON(r->block, r->size + 2u * GUARD_SIZE);
    free(r->block);
    r->block = NULL;
    r->arena = NULL;
}

/* A copy of the arena, for "nothing was written" comparisons. */
static inline uint8_t *region_snapshot(const region_t *r)
{
    uint8_t *s = malloc(r->size);
    assert_non_null(s);
    raw_read(s, r->arena, r->size);
    return s;
}

/* Offset of the first byte that differs from the snapshot, or SIZE_MAX when
 * equal; with skip_failed_state, the two context words that failing the heap
 * writes are not compared. */
static inline size_t region_diff(const region_t *r, const uint8_t *snap, bool skip_failed_state)
{
    /* Failing a heap writes its state word and the context checksum that
     * covers it, and nothing else (the arena is 8-aligned: the context
     * starts at its first byte). */
    size_t state_at = 4u * W_STATE;
    size_t check_at = 4u * W_CTX_CHECK;
    uint8_t *now = region_snapshot(r);
    size_t at = SIZE_MAX;
    for (size_t i = 0; i < r->size; i++) {
        if (now[i] != snap[i] && (!skip_failed_state || (i - state_at >= 4u && i - check_at >= 4u))) {
            at = i;
            break;
        }
    }
    free(now);
    return at;
}

/* Context word i (heap_internal.h) of the heap at ctx. */
static inline uint8_t *ctx_word(mem_ctx_t ctx, unsigned i)
{
    return (uint8_t *)ctx + 4u * i;
}

/* A block of n bytes of the heap at ctx, filled with fill. */
static inline uint8_t *alloc_filled(mem_ctx_t ctx, size_t n, uint8_t fill)
{
    uint8_t *p = mem_alloc(ctx, n);
    assert_non_null(p);
    memset(p, fill, n);
    return p;
}

/* ---- layout of a block and of the context ------------------------------- */

/* Length of the chunk whose payload is p, bookkeeping included: the header's
 * length word, at every level. */
static inline uint32_t chunk_len_of(const void *p)
{
    return raw_get32((const uint8_t *)p - 4) & ~FLAG_MASK;
}

/* Bytes of the context of the heap at ctx (up to its first chunk). */
static inline uint32_t ctx_size_of(mem_ctx_t ctx)
{
    return raw_get32(ctx_word(ctx, W_FIRST));
}

/* Where the fault handler, its user pointer and their checksum sat in the
 * context before hardening v2 (bytes 56..79), which an attacker who knew the
 * old layout aims at; other context words and the class bitmap lie there now. */
#define OLD_HANDLER_AT 56u
#define OLD_HANDLER_BYTES 24u

/* ---- a function an attacker would like the allocator to call ------------ */

/* Set when hijack_target runs: its address is what attacks plant in the
 * arena, so it must never be called. */
__attribute__((unused)) static volatile bool g_hijacked;

static inline void hijack_target(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    (void)ctx;
    (void)fault;
    (void)addr;
    (void)user;
    g_hijacked = true;
}

/* The bytes of hijack_target's address, as an attacker writes them. */
static inline uint64_t hijack_bytes(void)
{
    mem_fault_handler_t f = hijack_target;
    uint64_t v = 0u;
    memcpy(&v, &f, sizeof f);
    return v;
}

/* Fills n bytes at dst (heap memory) with the 8-byte pattern v. */
static inline void raw_fill64(void *dst, uint64_t v, size_t n)
{
    uint8_t *d = dst;
    for (size_t i = 0; i < n; i += 8u) {
        raw_write(d + i, &v, n - i < 8u ? n - i : 8u);
    }
}

/* The enumerator's name of a fault code, for the tables and messages of the
 * attack tests (mem_fault_name gives the prose). */
static inline const char *code_name(mem_fault_t f)
{
    switch (f) {
    case MEM_FAULT_NONE: return "NONE";
    case MEM_FAULT_CORRUPT_HEADER: return "CORRUPT_HEADER";
    case MEM_FAULT_CORRUPT_LINK: return "CORRUPT_LINK";
    case MEM_FAULT_DOUBLE_FREE: return "DOUBLE_FREE";
    case MEM_FAULT_INVALID_POINTER: return "INVALID_POINTER";
    case MEM_FAULT_OVERFLOW: return "OVERFLOW";
    case MEM_FAULT_WRITE_AFTER_FREE: return "WRITE_AFTER_FREE";
    case MEM_FAULT_CORRUPT_CONTEXT: return "CORRUPT_CONTEXT";
    }
    return "?";
}
