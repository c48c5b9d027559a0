/**
 * @file mem_alloc.h
 * @brief hardalloc: an instantiable, constant-time heap allocator.
 *
 * Drop-in compatible with the embedded SDK's dynamic memory allocator: the
 * same types, names and signatures, so an app written for that SDK compiles
 * and links against hardalloc unchanged. The additions (mem_check,
 * mem_usable_size, the limits below, mem_stat_t.largest_free_size) are
 * extensions an SDK app simply does not use.
 *
 * Model: mem_init() turns a caller-owned buffer into a heap; the heap's
 * context lives inside that buffer, so any number of independent heaps can
 * coexist and the library holds no global state. A heap is NOT thread-safe:
 * callers serialize access to one context (two contexts are independent).
 *
 * Every function accepts bad input without crashing:
 *  - a NULL or non-heap context makes every call a no-op answering NULL,
 *    false or zeroed statistics;
 *  - a pointer that was not returned by this heap (NULL, outside the heap,
 *    misaligned, already free) is refused: mem_free ignores it,
 *    mem_realloc returns NULL and leaves everything untouched. Detection of
 *    interior pointers and of corrupted metadata written by the app is
 *    best effort here (O(1) consistency checks of the block header and its
 *    boundary tags); mem_check() performs the full validation.
 */

#pragma once

#ifdef __cplusplus
extern "C" {
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Alignment of every payload returned by mem_alloc/mem_realloc, in bytes. */
#define MEM_ALIGNMENT 8u

/** Smallest heap_size mem_init accepts, whatever the alignment of the buffer. */
#define MEM_MIN_HEAP_SIZE 256u

/**
 * Largest heap a context manages (2 GiB). A larger buffer is accepted and
 * only its first MEM_MAX_HEAP_SIZE bytes (after alignment) are used;
 * mem_stat reports the size actually managed.
 */
#define MEM_MAX_HEAP_SIZE ((size_t)1u << 31)

/**
 * Bytes of bookkeeping per allocated chunk: a chunk serving a request of n
 * bytes is max(16, round_up(n + MEM_CHUNK_OVERHEAD, 8)) bytes long, or 8
 * bytes more when the free chunk it was cut from would otherwise leave a
 * remainder too small to be a chunk; mem_usable_size() of it is its length
 * minus MEM_CHUNK_OVERHEAD.
 */
#define MEM_CHUNK_OVERHEAD 4u

/** Opaque handle of a heap: the aligned start of the buffer given to mem_init. */
typedef void *mem_ctx_t;

/**
 * Called by mem_parse for each chunk, in address order.
 *
 * @param data      the pointer given to mem_parse, untouched
 * @param addr      the payload address (as mem_alloc returned it) of an
 *                  allocated chunk; for a free chunk, the address its payload
 *                  would have
 * @param allocated true for an allocated chunk, false for a free one
 * @param size      length of the chunk in bytes, bookkeeping included
 * @return true to stop the walk, false to go on
 */
typedef bool (*mem_parse_callback_t)(void *data, uint8_t *addr, bool allocated, size_t size);

/** Heap statistics, filled by mem_stat. Sizes are in bytes. */
typedef struct {
    size_t total_size;      ///< heap_size given to mem_init (clamped to MEM_MAX_HEAP_SIZE)
    size_t free_size;       ///< sum of the free chunks' lengths (not all in one piece)
    size_t allocated_size;  ///< sum of the allocated chunks' lengths, bookkeeping included
    uint32_t nb_chunks;     ///< number of chunks, free and allocated
    uint32_t nb_allocated;  ///< number of allocated chunks
    size_t largest_free_size;  ///< length of the largest free chunk (extension)
} mem_stat_t;

/**
 * Turns a buffer into a heap.
 *
 * @param heap_start any address; the heap starts at the first 8-byte aligned
 *                   address inside the buffer
 * @param heap_size  length of the buffer in bytes; at least MEM_MIN_HEAP_SIZE.
 *                   Beyond MEM_MAX_HEAP_SIZE the rest of the buffer is unused.
 * @return the heap's context (inside the buffer), or NULL when heap_start is
 *         NULL, heap_size < MEM_MIN_HEAP_SIZE, or the buffer would wrap the
 *         address space. The buffer must stay valid and otherwise untouched
 *         while the heap is in use. Re-initializing a buffer discards every
 *         chunk in it.
 * Cost: O(1); the context takes 64 + 32 * (floor(log2(heap_size)) - 5) bytes
 * at most (384 bytes for 32 KiB).
 */
mem_ctx_t mem_init(void *heap_start, size_t heap_size);

/**
 * Allocates a chunk.
 *
 * @return an 8-byte aligned payload of at least nb_bytes bytes, with
 *         unspecified content; NULL for a bad ctx, nb_bytes == 0, a request
 *         larger than the heap (SIZE_MAX included: no rounding overflows),
 *         or when no free chunk is large enough.
 * Cost: O(1). The constant-time good-fit search rounds the request up to its
 * size class; only when that finds nothing, a bounded scan (at most 16
 * chunks) of the request's own class looks for a chunk that fits exactly.
 */
void *mem_alloc(mem_ctx_t ctx, size_t nb_bytes);

/**
 * Resizes a chunk, with C realloc semantics.
 *
 * - ptr NULL: same as mem_alloc(ctx, size).
 * - size 0: frees ptr and returns NULL.
 * - shrinking: splits in place and returns ptr.
 * - growing: extends in place into the following free chunk when that
 *   suffices; otherwise moves to a new chunk (or slides down into the
 *   preceding free chunk) and copies the content.
 * @return the (possibly moved) payload with the first min(old, new) bytes
 *         preserved; NULL when ctx or ptr is bad or no memory suffices, and
 *         then the old chunk is untouched and still owned by the caller.
 * Cost: O(1) plus the copy when the chunk moves.
 */
void *mem_realloc(mem_ctx_t ctx, void *ptr, size_t size);

/**
 * Frees a chunk and merges it with its free neighbours.
 *
 * NULL is a no-op; a pointer this heap did not hand out (or already freed)
 * is ignored without writing anything. Cost: O(1).
 */
void mem_free(mem_ctx_t ctx, void *ptr);

/**
 * Walks every chunk in address order and calls callback for each, until it
 * returns true. No-op for a bad ctx or a NULL callback. The callback must not
 * allocate from or free into the heap being walked. Cost: O(chunks).
 */
void mem_parse(mem_ctx_t ctx, mem_parse_callback_t callback, void *data);

/**
 * Fills *stat with the heap's statistics.
 *
 * @param ctx either a context or the address of a mem_ctx_t variable holding
 *            one (SDK callers pass both). The first pointer-sized word at ctx
 *            is read; it is followed only when ctx itself is not a context
 *            and the word is a non-NULL aligned address.
 * @param stat written in full; all zero when ctx is NULL or designates no heap.
 *             NULL stat is a no-op.
 * Cost: O(chunks).
 */
void mem_stat(mem_ctx_t *ctx, mem_stat_t *stat);

/**
 * Validates the whole heap: the context, a physical walk that must cover the
 * heap exactly, boundary tags, no two adjacent free chunks, every free chunk
 * in exactly the free list its size maps to, doubly linked lists consistent,
 * bitmaps equal to the lists' emptiness, every link inside the heap.
 *
 * @return true when the heap is consistent; false for any violation or a bad
 *         ctx. Never writes. Cost: O(chunks).
 */
bool mem_check(mem_ctx_t ctx);

/**
 * @return the number of bytes the caller may use at ptr (at least what was
 *         requested), or 0 when ctx or ptr is bad. Cost: O(1).
 */
size_t mem_usable_size(mem_ctx_t ctx, const void *ptr);

#ifdef __cplusplus
} /* extern "C" */
#endif
