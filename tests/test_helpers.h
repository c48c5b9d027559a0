/**
 * @file test_helpers.h
 * @brief Helpers shared by the hardalloc cmocka unit tests.
 *
 * Everything here relies only on mem_alloc.h and on the documented chunk
 * layout: a chunk serving n bytes is max(MEM_MIN_CHUNK, round_up(n +
 * MEM_CHUNK_OVERHEAD, 8)) bytes, its payload is 8-byte aligned, the 4 bytes
 * before the payload hold the chunk length with flags in the low 3 bits
 * (bit0 = free, bit1 = previous chunk free), and chunk i + 1's payload starts
 * exactly chunk i's length after chunk i's payload. With hardening
 * (MEM_HARDENING > 0) the 4 bytes before those hold the header's keyed
 * checksum, an allocated chunk's 4-byte canary sits right after the n
 * requested bytes (unaligned), and a free chunk's last 4 bytes hold its
 * length (the boundary tag); off, the boundary tag of a free chunk is the
 * next chunk's first word.
 *
 * mem_usable_size is exactly the request with hardening, so a chunk's length
 * does not follow from it: chunk_len_of reads it from the header.
 *
 * The allocator hides its metadata from AddressSanitizer (poisoned) and from
 * valgrind memcheck (no-access): every test access to heap metadata, to free
 * chunks or to a whole heap buffer goes through the raw_* functions of
 * raw_access.h (raw_read, raw_write, raw_equal, raw_get32, raw_buffer_reset,
 * ...), which neither tool sees. Faults go to the recorders of
 * fault_recorder.h.
 */

#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fault_recorder.h"
#include "mem_alloc.h"
#include "raw_access.h"

#define KIB ((size_t)1024u)
#define MIB (KIB * KIB)

/** Header flag bits (documented layout). */
#define HDR_FREE 1u
#define HDR_PREV_FREE 2u
#define HDR_FLAGS 7u

/** Length of the chunk serving a request of n bytes (n + overhead must not overflow). */
static inline size_t chunk_len_for(size_t n)
{
    size_t len = (n + MEM_CHUNK_OVERHEAD + 7u) & ~(size_t)7u;
    return len < MEM_MIN_CHUNK ? MEM_MIN_CHUNK : len;
}

/**
 * mem_usable_size of a block requested with n bytes whose chunk is len bytes
 * long: with hardening exactly n (the canary follows the request); off, the
 * chunk but its header.
 */
static inline size_t usable_in_chunk(size_t len, size_t n)
{
    return MEM_HARDENING > 0 ? n : len - MEM_CHUNK_OVERHEAD;
}

/** mem_usable_size of a block requested with n bytes in a chunk of chunk_len_for(n). */
static inline size_t usable_for(size_t n)
{
    return usable_in_chunk(chunk_len_for(n), n);
}

static inline uintptr_t addr_of(const void *p)
{
    return (uintptr_t)p;
}

static inline bool is_aligned8(const void *p)
{
    return (addr_of(p) & 7u) == 0u;
}

/** The header word (length | flags) of the chunk whose payload is at p. */
static inline uint32_t header_of(const void *p)
{
    return raw_get32((const uint8_t *)p - 4);
}

/** Length of the chunk whose payload is at p, bookkeeping included (from its header). */
static inline size_t chunk_len_of(const void *p)
{
    return header_of(p) & ~(uint32_t)HDR_FLAGS;
}

/** Hardened: the header checksum word of the chunk whose payload is at p. */
static inline uint32_t check_word_of(const void *p)
{
    return raw_get32((const uint8_t *)p - 8);
}

/**
 * Address of the boundary tag (length) of the free chunk that ends right
 * before the chunk whose payload is at next: the free chunk's own last word
 * with hardening, the next chunk's first word off.
 */
static inline uint8_t *boundary_tag_before(void *next)
{
    return (uint8_t *)next - (MEM_HARDENING > 0 ? 12 : 8);
}

static inline uint64_t xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/** Uniform-ish integer in [lo, hi]. */
static inline size_t rand_range(uint64_t *state, size_t lo, size_t hi)
{
    return lo + (size_t)(xorshift64(state) % (uint64_t)(hi - lo + 1u));
}

/** Byte pattern derived from an index, never 0 so it differs from zeroed memory. */
static inline uint8_t pattern_byte(size_t idx, size_t off)
{
    return (uint8_t)(((idx * 131u + off * 7u) % 255u) + 1u);
}

static inline void fill_pattern(void *p, size_t len, size_t idx)
{
    uint8_t *b = p;
    for (size_t i = 0; i < len; i++) {
        b[i] = pattern_byte(idx, i);
    }
}

static inline bool check_pattern(const void *p, size_t len, size_t idx)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++) {
        if (b[i] != pattern_byte(idx, i)) {
            return false;
        }
    }
    return true;
}

static inline bool all_bytes(const void *p, size_t len, uint8_t value)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++) {
        if (b[i] != value) {
            return false;
        }
    }
    return true;
}

static inline mem_stat_t get_stat(mem_ctx_t ctx)
{
    mem_stat_t st;
    memset(&st, 0xA5, sizeof st);
    mem_stat(ctx, &st);
    return st;
}

static inline bool stat_equal(const mem_stat_t *a, const mem_stat_t *b)
{
    return a->total_size == b->total_size && a->free_size == b->free_size &&
           a->allocated_size == b->allocated_size && a->nb_chunks == b->nb_chunks &&
           a->nb_allocated == b->nb_allocated && a->largest_free_size == b->largest_free_size;
}

static inline bool stat_is_zero(const mem_stat_t *s)
{
    return s->total_size == 0 && s->free_size == 0 && s->allocated_size == 0 &&
           s->nb_chunks == 0 && s->nb_allocated == 0 && s->largest_free_size == 0;
}

/* ------------------------------------------------------------------------ */
/* Heap walk via mem_parse                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint8_t *addr;
    bool allocated;
    size_t size;
} chunk_rec_t;

/** Records up to cap chunks; counts all of them. */
typedef struct {
    chunk_rec_t *recs;
    size_t cap;
    size_t count;
} chunk_list_t;

static inline bool record_chunk_cb(void *data, uint8_t *addr, bool allocated, size_t size)
{
    chunk_list_t *l = data;
    if (l->count < l->cap) {
        l->recs[l->count].addr = addr;
        l->recs[l->count].allocated = allocated;
        l->recs[l->count].size = size;
    }
    l->count++;
    return false;
}

static inline size_t list_chunks(mem_ctx_t ctx, chunk_rec_t *recs, size_t cap)
{
    chunk_list_t l = {recs, cap, 0};
    mem_parse(ctx, record_chunk_cb, &l);
    return l.count;
}

typedef struct {
    size_t count;
    size_t nb_allocated;
    size_t free_sum;
    size_t alloc_sum;
    size_t largest_free;
    uintptr_t first_addr;
    uintptr_t last_addr;
    size_t last_size;
    bool prev_free;
    bool contiguous;
    bool adjacent_free;
    bool bad_size;
    bool misaligned;
} walk_summary_t;

static inline bool summarize_cb(void *data, uint8_t *addr, bool allocated, size_t size)
{
    walk_summary_t *w = data;
    uintptr_t a = addr_of(addr);
    if (w->count == 0) {
        w->first_addr = a;
    } else {
        if (a != w->last_addr + w->last_size) {
            w->contiguous = false;
        }
        if (!allocated && w->prev_free) {
            w->adjacent_free = true;
        }
    }
    if (size < MEM_MIN_CHUNK || size % 8u != 0) {
        w->bad_size = true;
    }
    if (a % 8u != 0) {
        w->misaligned = true;
    }
    if (allocated) {
        w->nb_allocated++;
        w->alloc_sum += size;
    } else {
        w->free_sum += size;
        if (size > w->largest_free) {
            w->largest_free = size;
        }
    }
    w->prev_free = !allocated;
    w->last_addr = a;
    w->last_size = size;
    w->count++;
    return false;
}

static inline walk_summary_t summarize(mem_ctx_t ctx)
{
    walk_summary_t w;
    memset(&w, 0, sizeof w);
    w.contiguous = true;
    mem_parse(ctx, summarize_cb, &w);
    return w;
}

/**
 * Full consistency check of a heap as a user can observe it: mem_check, and
 * mem_parse agreeing with mem_stat (counts, sums, largest free chunk), chunks
 * contiguous in address order inside [ctx, ctx + total_size), sizes
 * multiples of 8 and at least MEM_MIN_CHUNK, no two adjacent free chunks.
 * Prints the first discrepancy; use as assert_true(heap_consistent(ctx)).
 */
static inline bool heap_consistent(mem_ctx_t ctx)
{
    if (!mem_check(ctx)) {
        print_message("heap_consistent: mem_check returned false\n");
        return false;
    }
    mem_stat_t st = get_stat(ctx);
    walk_summary_t w = summarize(ctx);
#define HC_REQUIRE(cond)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            print_message("heap_consistent: violated: %s\n", #cond);      \
            return false;                                                 \
        }                                                                 \
    } while (0)
    HC_REQUIRE(w.count >= 1);
    HC_REQUIRE(w.count == st.nb_chunks);
    HC_REQUIRE(w.nb_allocated == st.nb_allocated);
    HC_REQUIRE(w.free_sum == st.free_size);
    HC_REQUIRE(w.alloc_sum == st.allocated_size);
    HC_REQUIRE(w.largest_free == st.largest_free_size);
    HC_REQUIRE(w.contiguous);
    HC_REQUIRE(!w.adjacent_free);
    HC_REQUIRE(!w.bad_size);
    HC_REQUIRE(!w.misaligned);
    HC_REQUIRE(w.first_addr > addr_of(ctx));
    /* the 8-byte end sentinel starts 8 bytes before the payload address a
     * chunk after the last one would have: it must still fit in the heap */
    HC_REQUIRE(w.last_addr + w.last_size <= addr_of(ctx) + st.total_size);
#undef HC_REQUIRE
    return true;
}

/** Same plus the invariant free_size + allocated_size == expected_sum. */
static inline bool heap_consistent_sum(mem_ctx_t ctx, size_t expected_sum)
{
    if (!heap_consistent(ctx)) {
        return false;
    }
    mem_stat_t st = get_stat(ctx);
    if (st.free_size + st.allocated_size != expected_sum) {
        print_message("heap_consistent_sum: free %zu + allocated %zu != %zu\n", st.free_size,
                      st.allocated_size, expected_sum);
        return false;
    }
    return true;
}

/** Looks up the chunk whose payload address is addr. */
typedef struct {
    uint8_t *want;
    bool found;
    bool allocated;
    size_t size;
} find_chunk_t;

static inline bool find_chunk_cb(void *data, uint8_t *addr, bool allocated, size_t size)
{
    find_chunk_t *f = data;
    if (addr == f->want) {
        f->found = true;
        f->allocated = allocated;
        f->size = size;
        return true;
    }
    return false;
}

/** true when mem_parse reports a chunk at addr; fills *allocated and *size. */
static inline bool find_chunk(mem_ctx_t ctx, const void *addr, bool *allocated, size_t *size)
{
    find_chunk_t f = {(uint8_t *)(uintptr_t)addr, false, false, 0};
    mem_parse(ctx, find_chunk_cb, &f);
    if (allocated != NULL) {
        *allocated = f.allocated;
    }
    if (size != NULL) {
        *size = f.size;
    }
    return f.found;
}

/** true when addr is the payload of an allocated chunk of exactly size bytes. */
static inline bool is_allocated_chunk(mem_ctx_t ctx, const void *addr, size_t size)
{
    bool allocated = false;
    size_t len = 0;
    return find_chunk(ctx, addr, &allocated, &len) && allocated && len == size;
}

/** true when addr is the payload of a free chunk of exactly size bytes. */
static inline bool is_free_chunk(mem_ctx_t ctx, const void *addr, size_t size)
{
    bool allocated = true;
    size_t len = 0;
    return find_chunk(ctx, addr, &allocated, &len) && !allocated && len == size;
}

/** Payload address just past the last chunk: the end sentinel's header is the 8 bytes before. */
static inline uint8_t *end_of_chunks(mem_ctx_t ctx)
{
    walk_summary_t w = summarize(ctx);
    return (uint8_t *)(uintptr_t)(w.last_addr + w.last_size);
}

/** Sorts pointers by address (insertion sort; small arrays). */
static inline void sort_by_address(uint8_t **p, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint8_t *v = p[i];
        size_t j = i;
        while (j > 0 && addr_of(p[j - 1]) > addr_of(v)) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = v;
    }
}

typedef struct {
    uint8_t *addr;
    size_t size;
} largest_free_t;

static inline bool largest_free_cb(void *data, uint8_t *addr, bool allocated, size_t size)
{
    largest_free_t *l = data;
    if (!allocated && size > l->size) {
        l->addr = addr;
        l->size = size;
    }
    return false;
}

/** Payload address of the largest free chunk (the first one among equals), NULL if none. */
static inline uint8_t *largest_free_addr(mem_ctx_t ctx)
{
    largest_free_t l = {NULL, 0};
    mem_parse(ctx, largest_free_cb, &l);
    return l.addr;
}
