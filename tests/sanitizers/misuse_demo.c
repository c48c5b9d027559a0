/*
 * Three misuses of arena blocks that the allocator itself cannot see, for
 * AddressSanitizer and valgrind memcheck to report (check_reports.py):
 *
 *   misuse_demo overflow        writes one byte past a 20-byte block
 *   misuse_demo use-after-free  reads a block after freeing it
 *   misuse_demo leak            allocates a block and never frees it
 *
 * Without a tool each run exits 0: the overflowed block is never freed or
 * checked (its canary is not looked at again), the freed block's bytes are
 * still in the arena, and the leaked block stays allocated in a heap that
 * is never re-initialized. That silence is why the tools matter.
 *
 * Every line the reports must name carries a marker comment
 * (LINE:<name>); check_reports.py finds the line numbers by scanning this
 * file, so the lines may move freely. Keep each marker unique.
 */

#include "mem_alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The request. At the hardened levels the usable size is the request
 * itself and exactly that many bytes are unpoisoned: 21 (whose chunk keeps
 * 7 bytes of slack, which the poisoning left addressable before the canary
 * moved to the request's end) shows the byte after the request is the first
 * one the app does not own. At off the usable size is the chunk's, so the
 * request is one with no slack (20 + 4 is a multiple of 8). */
#if MEM_HARDENING > 0
#define BLOCK 21u
#else
#define BLOCK 20u
#endif

static _Alignas(8) uint8_t arena[4096];
static mem_ctx_t heap;

/* Accesses through a volatile pointer, so the compiler keeps exactly one
 * one-byte load or store per misuse. */
static volatile uint8_t sink;

#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

static int check_usable(const void *p)
{
    size_t usable = mem_usable_size(heap, p);
    if (usable != BLOCK) {
        fprintf(stderr, "misuse_demo: usable size %zu, expected %u\n", usable, BLOCK);
        return 1;
    }
    return 0;
}

static NOINLINE int overflow(void)
{
    uint8_t *p = mem_alloc(heap, BLOCK); /* LINE:overflow-alloc */
    /* A neighbour after it, so the byte past the block is inside the arena
     * between two live blocks, the case the poisoning is there for. */
    uint8_t *q = mem_alloc(heap, BLOCK);
    if (p == NULL || q == NULL || check_usable(p) != 0) {
        return 1;
    }
    memset(p, 'a', BLOCK);
    memset(q, 'b', BLOCK);
    volatile uint8_t *v = p;
    v[BLOCK] = 'X'; /* LINE:overflow */
    /* Neither block is freed: freeing p would (hardened) find its canary
     * broken and abort, which would hide the point of the demo. */
    printf("overflow: wrote p[%u] unnoticed\n", BLOCK);
    return 0;
}

static NOINLINE int use_after_free(void)
{
    uint8_t *p = mem_alloc(heap, BLOCK); /* LINE:uaf-alloc */
    if (p == NULL || check_usable(p) != 0) {
        return 1;
    }
    memset(p, 'a', BLOCK);
    mem_free(heap, p); /* LINE:uaf-free */
    volatile uint8_t *v = p;
    sink = v[4]; /* LINE:use-after-free */
    printf("use-after-free: read p[4] unnoticed\n");
    return 0;
}

/* The only pointer to the block dies with this frame. */
static NOINLINE void lose_block(void)
{
    uint8_t *p = mem_alloc(heap, BLOCK); /* LINE:leak-alloc */
    if (p != NULL) {
        memset(p, 'a', BLOCK);
    }
}

static NOINLINE int leak(void)
{
    lose_block();
    printf("leak: one block of %u bytes never freed\n", BLOCK);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s overflow|use-after-free|leak\n", argv[0]);
        return 2;
    }
    heap = mem_init(arena, sizeof arena);
    if (heap == NULL) {
        fprintf(stderr, "misuse_demo: mem_init failed\n");
        return 1;
    }
    if (strcmp(argv[1], "overflow") == 0) {
        return overflow();
    }
    if (strcmp(argv[1], "use-after-free") == 0) {
        return use_after_free();
    }
    if (strcmp(argv[1], "leak") == 0) {
        return leak();
    }
    fprintf(stderr, "misuse_demo: unknown misuse '%s'\n", argv[1]);
    return 2;
}
