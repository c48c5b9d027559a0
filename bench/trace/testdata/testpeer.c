/**
 * @file testpeer.c
 * @brief A test-only arena allocator for trace_replay's --peer tests: a
 *        first-fit free list over the arena, exporting the TLSF 3.x symbol
 *        set (-DTESTPEER_API=1), the o1heap 2.x one (-DTESTPEER_API=2) or
 *        neither (-DTESTPEER_API=0: a library trace_replay must refuse).
 *
 * Not TLSF nor o1heap: only their documented function signatures, so that
 * `meson test` covers the --peer path without their code. It checks what
 * the replayer hands it: a pointer to free or realloc must be one it
 * returned and still live (else abort), and o1heapInit's base must be
 * aligned to 4 pointers. TESTPEER_STATS=FILE in the environment: at exit,
 * one line "API create=N alloc=N aligned=N realloc=N free=N live=N" is
 * appended to FILE (the calls of each entry, over every replay).
 *
 * Layout: the arena starts with the pool header; blocks follow, each a
 * header of HDR bytes (its size, header included, and a tag) and its
 * payload, HDR-aligned from the arena's start; free blocks merge with the
 * free blocks after them when the list is walked. An aligned block
 * (TLSF-like memalign above HDR) is an ordinary block holding the aligned
 * payload, with a second header just before it pointing back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TESTPEER_API
#error "build with -DTESTPEER_API=0 (neither), 1 (TLSF-like) or 2 (o1heap-like)"
#endif

#define EXPORT __attribute__((visibility("default")))

#if TESTPEER_API == 2
#define HDR (4u * sizeof(void *)) /* o1heap's O1HEAP_ALIGNMENT */
#else
#define HDR (2u * sizeof(void *))
#endif

#define TAG_FREE ((size_t)0x46524545u)    /* "FREE" */
#define TAG_USED ((size_t)0x55534544u)    /* "USED" */
#define TAG_ALIGNED ((size_t)0x414c474eu) /* "ALGN": an aligned payload's back pointer */

typedef struct block {
    size_t size; /* bytes, header included, a multiple of HDR */
    size_t tag;
} block;

typedef struct pool {
    unsigned char *start; /* first block */
    unsigned char *end;
} pool;

static unsigned long n_create, n_alloc, n_aligned, n_realloc, n_free;
static long n_live;

/* The pool header; the TLSF-like's is as large as a control structure (TLSF's
 * is a few KiB), so that an arena can be too small for it. */
#if TESTPEER_API == 1
#define POOL_BYTES 1024u
#else
#define POOL_BYTES (((sizeof(pool) + HDR - 1) / HDR) * HDR)
#endif
#define MIN_BLOCK (2u * HDR)

static block *at(unsigned char *p) {
    return (block *)(void *)p;
}

static void *pool_create(void *mem, size_t bytes) {
    n_create++;
    if (bytes < POOL_BYTES + MIN_BLOCK || ((uintptr_t)mem % HDR) != 0)
        return NULL;
    pool *p = mem;
    p->start = (unsigned char *)mem + POOL_BYTES;
    p->end = p->start + ((bytes - POOL_BYTES) / HDR) * HDR;
    block *b = at(p->start);
    b->size = (size_t)(p->end - p->start);
    b->tag = TAG_FREE;
    return p;
}

static void *pool_alloc(pool *p, size_t size) {
    if (size == 0 || size > (size_t)(p->end - p->start))
        return NULL;
    size_t need = HDR + ((size + HDR - 1) / HDR) * HDR;
    for (unsigned char *c = p->start; c < p->end; c += at(c)->size) {
        block *b = at(c);
        if (b->tag != TAG_FREE)
            continue;
        /* merge the free blocks that follow */
        while (c + b->size < p->end && at(c + b->size)->tag == TAG_FREE)
            b->size += at(c + b->size)->size;
        if (b->size < need)
            continue;
        if (b->size - need >= MIN_BLOCK) {
            block *rest = at(c + need);
            rest->size = b->size - need;
            rest->tag = TAG_FREE;
            b->size = need;
        }
        b->tag = TAG_USED;
        n_live++;
        return c + HDR;
    }
    return NULL;
}

/* The block of a payload this allocator returned; abort otherwise. */
static block *owner(pool *p, void *ptr) {
    unsigned char *u = ptr;
    if (u < p->start + HDR || u >= p->end || (size_t)(u - p->start) % sizeof(size_t) != 0)
        abort();
    block *h = at(u - HDR);
    if (h->tag == TAG_ALIGNED) {
        u -= h->size; /* the back pointer: the offset of the aligned payload */
        if (u < p->start + HDR)
            abort();
        h = at(u - HDR);
    }
    if (h->tag != TAG_USED || (size_t)(u - p->start) % HDR != 0)
        abort();
    return h;
}

static void pool_free(pool *p, void *ptr) {
    n_free++;
    if (!ptr)
        return;
    block *b = owner(p, ptr);
    b->tag = TAG_FREE;
    n_live--;
}

#if TESTPEER_API == 1
/* The bytes from ptr to its block's end. */
static size_t room(pool *p, void *ptr) {
    block *b = owner(p, ptr);
    return (size_t)((unsigned char *)b + b->size - (unsigned char *)ptr);
}
#endif

static void stats(void) {
    const char *path = getenv("TESTPEER_STATS");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    fprintf(f, "%s create=%lu alloc=%lu aligned=%lu realloc=%lu free=%lu live=%ld\n",
            TESTPEER_API == 1 ? "tlsf" : "o1heap", n_create, n_alloc, n_aligned, n_realloc,
            n_free, n_live);
    fclose(f);
}

__attribute__((constructor)) static void testpeer_start(void) {
    atexit(stats);
}

#if TESTPEER_API == 1
/* the TLSF 3.x entries (tlsf_t is void *) */
EXPORT size_t tlsf_size(void);
EXPORT size_t tlsf_pool_overhead(void);
EXPORT size_t tlsf_block_size_min(void);
EXPORT void *tlsf_create_with_pool(void *mem, size_t bytes);
EXPORT void *tlsf_malloc(void *tlsf, size_t size);
EXPORT void *tlsf_memalign(void *tlsf, size_t align, size_t size);
EXPORT void *tlsf_realloc(void *tlsf, void *ptr, size_t size);
EXPORT void tlsf_free(void *tlsf, void *ptr);

size_t tlsf_size(void) {
    return POOL_BYTES;
}

size_t tlsf_pool_overhead(void) {
    return HDR;
}

size_t tlsf_block_size_min(void) {
    return HDR;
}

void *tlsf_create_with_pool(void *mem, size_t bytes) {
    return pool_create(mem, bytes);
}

void *tlsf_malloc(void *tlsf, size_t size) {
    n_alloc++;
    return pool_alloc(tlsf, size);
}

void *tlsf_memalign(void *tlsf, size_t align, size_t size) {
    n_aligned++;
    if (align == 0 || (align & (align - 1)) != 0)
        return NULL;
    if (align <= HDR)
        return pool_alloc(tlsf, size);
    if (size > SIZE_MAX - 2 * align)
        return NULL;
    /* room for the payload aligned up past a second header */
    unsigned char *raw = pool_alloc(tlsf, size + align + HDR);
    if (!raw)
        return NULL;
    uintptr_t u = ((uintptr_t)raw + HDR + align - 1) & ~(uintptr_t)(align - 1);
    block *back = (block *)(void *)((unsigned char *)u - HDR);
    back->size = (size_t)((unsigned char *)u - raw);
    back->tag = TAG_ALIGNED;
    return (void *)u;
}

void *tlsf_realloc(void *tlsf, void *ptr, size_t size) {
    n_realloc++;
    if (!ptr)
        return pool_alloc(tlsf, size);
    if (size == 0) {
        pool_free(tlsf, ptr);
        return NULL;
    }
    size_t keep = room(tlsf, ptr);
    void *n = pool_alloc(tlsf, size);
    if (n) {
        memcpy(n, ptr, keep < size ? keep : size);
        pool_free(tlsf, ptr);
        n_free--; /* counted as a realloc */
    }
    return n;
}

void tlsf_free(void *tlsf, void *ptr) {
    pool_free(tlsf, ptr);
}

#elif TESTPEER_API == 2
/* the o1heap 2.x entries (O1HeapInstance is opaque) */
EXPORT extern const size_t o1heapMinArenaSize;
EXPORT void *o1heapInit(void *base, size_t size);
EXPORT void *o1heapAllocate(void *inst, size_t size);
EXPORT void o1heapFree(void *inst, void *ptr);

const size_t o1heapMinArenaSize = POOL_BYTES + MIN_BLOCK;

void *o1heapInit(void *base, size_t size) {
    return pool_create(base, size);
}

void *o1heapAllocate(void *inst, size_t size) {
    n_alloc++;
    return pool_alloc(inst, size);
}

void o1heapFree(void *inst, void *ptr) {
    pool_free(inst, ptr);
}

#else
/* neither API: a library trace_replay must refuse */
EXPORT void *testpeer_create(void *mem, size_t bytes);
EXPORT void *testpeer_malloc(void *heap, size_t size);
EXPORT void testpeer_free(void *heap, void *ptr);

void *testpeer_create(void *mem, size_t bytes) {
    return pool_create(mem, bytes);
}

void *testpeer_malloc(void *heap, size_t size) {
    n_alloc++;
    return heap ? pool_alloc(heap, size) : NULL;
}

void testpeer_free(void *heap, void *ptr) {
    if (heap)
        pool_free(heap, ptr);
}
#endif
