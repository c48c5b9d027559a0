/**
 * @file profiling_example.c
 * @brief An app written against app_mem_utils.h only, as the SDK page shows.
 *
 * Runs one fixed script of APP_MEM_* calls on an 8 KiB heap: a duplicated
 * string, a plain allocation, a zeroed buffer reallocated through
 * APP_MEM_CALLOC, a persistent buffer, a deliberate leak (a block never
 * freed), a realloc that has to move (its neighbour is allocated) and then
 * one that grows in place, realloc of NULL and to size 0, and calls that must
 * fail or be ignored (and so log nothing). Prints the heap statistics on
 * stdout and exits non-zero on the first call that misbehaves.
 *
 * Built twice from this source (examples/meson.build): profiling_example
 * with HAVE_MEMORY_PROFILING, whose stderr log tests/e2e/check_profiling_log.py
 * compares with tests/e2e/profiling_example.golden, and plain_example without,
 * whose binary tests/e2e/check_plain_binary.py checks for the absence of
 * file names and logging code.
 *
 * Editing this file moves the line numbers in the log: regenerate the golden
 * file (see check_profiling_log.py) and review it. No assert() here: it would
 * put this file's name into the plain binary.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_mem_utils.h"

/* The spec's 8 KiB heap. _Alignas(8) makes the heap start the buffer itself
 * (no alignment lead), so the block offsets in the golden log never depend on
 * where the linker places the array. */
static _Alignas(8) uint32_t heap_buffer[2048]; // 8KB heap

/* Not a block of the app heap: freeing it must be ignored. */
static uint8_t not_heap[16];

static int failures;

static bool expect(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "example: FAILED: %s\n", what);
        failures++;
    }
    return ok;
}

static bool all_bytes(const void *p, uint8_t value, size_t n)
{
    const uint8_t *bytes = p;
    for (size_t i = 0; i < n; i++) {
        if (bytes[i] != value) {
            return false;
        }
    }
    return true;
}

static mem_stat_t app_stat(void)
{
    mem_ctx_t ctx = mem_utils_context();
    mem_stat_t stat;
    mem_stat(&ctx, &stat); /* SDK callers pass the address of their context */
    return stat;
}

static void print_stat(const char *when)
{
    mem_stat_t stat = app_stat();
    printf("%-26s total %5zu  allocated %5zu in %2u block(s)  free %5zu  chunks %2u\n", when,
           stat.total_size, stat.allocated_size, (unsigned)stat.nb_allocated, stat.free_size,
           (unsigned)stat.nb_chunks);
}

/* Length of the chunk behind a live block, bookkeeping included. */
static size_t chunk_len(const void *block)
{
    return mem_usable_size(mem_utils_context(), block) + MEM_CHUNK_OVERHEAD;
}

int main(void)
{
    if (!mem_utils_init(heap_buffer, sizeof(heap_buffer))) {
        fprintf(stderr, "example: FAILED: mem_utils_init of an 8 KiB heap\n");
        return EXIT_FAILURE;
    }
    const mem_stat_t fresh = app_stat();
    print_stat("after mem_utils_init:");

    /* String duplication: strlen + 1 bytes. */
    const char *original = "Hello, World!";
    char *greeting = APP_MEM_STRDUP(original);
    expect(greeting != NULL && strcmp(greeting, original) == 0, "APP_MEM_STRDUP");

    /* Basic allocation. */
    uint8_t *ptr = APP_MEM_ALLOC(128);
    if (expect(ptr != NULL, "APP_MEM_ALLOC(128)")) {
        memset(ptr, 0xA5, 128);
    }

    /* Zeroed buffer, then a persistent buffer right after it. */
    void *buffer = NULL;
    if (expect(APP_MEM_CALLOC(&buffer, 256), "APP_MEM_CALLOC(&buffer, 256)")) {
        expect(buffer != NULL && all_bytes(buffer, 0, 256), "calloc'ed buffer is zeroed");
        memset(buffer, 0x5A, 256);
    }
    void *persistent_buffer = NULL;
    expect(mem_buffer_persistent(&persistent_buffer, 1024) && persistent_buffer != NULL &&
               all_bytes(persistent_buffer, 0, 1024),
           "mem_buffer_persistent(&persistent_buffer, 1024)");

    /* APP_MEM_CALLOC on the held buffer: frees it first (the persistent
     * buffer blocks growth), then hands out a new zeroed one elsewhere. */
    if (expect(APP_MEM_CALLOC(&buffer, 512), "APP_MEM_CALLOC(&buffer, 512) on a held buffer")) {
        expect(buffer != NULL && all_bytes(buffer, 0, 512), "re-calloc'ed buffer is zeroed");
    }

    /* The deliberate leak: never freed (it reuses the hole the old buffer left). */
    void *leak = APP_MEM_ALLOC(48);
    expect(leak != NULL, "APP_MEM_ALLOC(48) (leaked on purpose)");

    /* A realloc that must move: its neighbour right after it is allocated
     * and the block before it (the leak) is too, so it cannot grow where it is. */
    uint8_t *record = APP_MEM_ALLOC(40);
    uint8_t *neighbour = APP_MEM_ALLOC(24);
    expect(record != NULL && neighbour != NULL, "APP_MEM_ALLOC(40) and its neighbour");
    if (record != NULL && neighbour != NULL) {
        expect((uintptr_t)neighbour - (uintptr_t)record == chunk_len(record),
               "the neighbour follows the record directly");
        memset(record, 0x3C, 40);
        memset(neighbour, 0xC3, 24);
        uintptr_t before = (uintptr_t)record;
        uint8_t *moved = APP_MEM_REALLOC(record, 400);
        if (expect(moved != NULL, "APP_MEM_REALLOC(record, 400)")) {
            expect((uintptr_t)moved != before, "the realloc to 400 moved the record");
            expect(all_bytes(moved, 0x3C, 40), "the moved record kept its content");
            expect(all_bytes(neighbour, 0xC3, 24), "the neighbour is untouched");
            memset(moved + 40, 0x3C, 360);
            record = moved;
        }
    }

    /* The record now ends at the free remainder: growing it stays in place. */
    if (record != NULL) {
        uintptr_t before = (uintptr_t)record;
        uint8_t *grown = APP_MEM_REALLOC(record, 800);
        if (expect(grown != NULL, "APP_MEM_REALLOC(record, 800)")) {
            expect((uintptr_t)grown == before, "the realloc to 800 grew in place");
            expect(all_bytes(grown, 0x3C, 400), "the grown record kept its content");
            record = grown;
        }
    }

    /* realloc of NULL allocates, realloc to 0 frees. */
    void *scratch = APP_MEM_REALLOC(NULL, 32);
    expect(scratch != NULL, "APP_MEM_REALLOC(NULL, 32)");
    expect(APP_MEM_REALLOC(scratch, 0) == NULL, "APP_MEM_REALLOC(scratch, 0)");

    /* Calls that fail or are ignored, and so log nothing. */
    expect(APP_MEM_ALLOC(0) == NULL, "APP_MEM_ALLOC(0) answers NULL");
    expect(APP_MEM_ALLOC(100000) == NULL, "APP_MEM_ALLOC(100000) answers NULL");
    if (record != NULL) {
        expect(APP_MEM_REALLOC(record, 100000) == NULL, "APP_MEM_REALLOC(record, 100000) fails");
        expect(all_bytes(record, 0x3C, 400), "a failed realloc leaves the record untouched");
    }
    APP_MEM_FREE(NULL);
    APP_MEM_FREE(not_heap);
    expect(all_bytes(not_heap, 0, sizeof not_heap), "freeing a non-heap pointer wrote nothing");

    print_stat("before the frees:");
    if (greeting != NULL) {
        printf("duplicated string: \"%s\"\n", greeting);
    }
    if (ptr != NULL) {
        expect(ptr[0] == 0xA5u && ptr[127] == 0xA5u, "first block untouched by the others");
    }

    /* Release everything but the leak and the persistent buffer. */
    APP_MEM_FREE(neighbour);
    APP_MEM_FREE(record);
    mem_utils_buffer_cleanup(&buffer);
    expect(buffer == NULL, "mem_utils_buffer_cleanup sets the pointer to NULL");
    mem_utils_buffer_cleanup(&buffer); /* already NULL: a no-op, nothing logged */
    APP_MEM_FREE(ptr);
    APP_MEM_FREE(greeting);
    print_stat("at exit:");

    const mem_stat_t end = app_stat();
    size_t kept = persistent_buffer != NULL && leak != NULL
                      ? chunk_len(persistent_buffer) + chunk_len(leak)
                      : 0u;
    expect(end.nb_allocated == 2u && end.allocated_size == kept,
           "only the persistent buffer and the leak remain");
    expect(end.free_size + end.allocated_size == fresh.free_size, "free + allocated is constant");
    expect(mem_check(mem_utils_context()), "heap consistent at exit");
    printf("kept at exit: persistent buffer of 1024 bytes, leaked block of 48 bytes\n");

    if (failures != 0) {
        fprintf(stderr, "example: %d check(s) failed\n", failures);
        return EXIT_FAILURE;
    }
    printf("example: OK\n");
    return EXIT_SUCCESS;
}
