/**
 * @file profiling_example.c
 * @brief An app written against app_mem_utils.h only, as the SDK page shows.
 *
 * APP_MEM_* calls on an 8 KiB heap: strdup, alloc, calloc and re-calloc, a
 * persistent buffer, a deliberate leak, a realloc that moves and one that
 * grows in place, realloc of NULL and to 0, calls that fail, and misuse (a
 * free and a realloc of a non-heap pointer, a double free): the app heap's
 * handler, on_fault, records each fault and returns, so the example goes on;
 * a refused call logs nothing. Exits non-zero on the first misbehaviour.
 * Built twice (examples/meson.build): profiling_example, whose log
 * tests/e2e/check_profiling_log.py compares with profiling_example.golden,
 * and plain_example, which check_plain_binary.py checks has no file name or
 * logging code. Moving a logged call moves its line in the golden file
 * (regenerate and review it). No assert(): it would name this file.
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

/* Not a block of the app heap: freeing it is a fault. */
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

/* Length of the chunk behind a live block, bookkeeping included, as mem_parse
 * reports it: with hardening, mem_usable_size is exactly the request, so the
 * length does not follow from it. Defined after main, as on_fault is, so that
 * the logged calls keep their lines (the golden log pins them). */
static size_t chunk_len(const void *block);

/* The faults the app heap reported, in order: on_fault (after main) records them. */
static struct { unsigned n; mem_fault_t fault[4]; const void *addr[4]; } faults;
static void on_fault(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user);
static bool fault_was(unsigned i, mem_fault_t fault, const void *addr);

int main(void)
{
    expect(mem_utils_set_fault_handler(on_fault, NULL), "set the fault handler"); /* before init: kept */
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
    APP_MEM_FREE(not_heap); /* refused: reported to on_fault, which returns; nothing logged */
    expect(faults.n == 1u && fault_was(0, MEM_FAULT_INVALID_POINTER, not_heap),
           "freeing a non-heap pointer is reported as an invalid pointer");
    expect(all_bytes(not_heap, 0, sizeof not_heap), "freeing a non-heap pointer wrote nothing");

    print_stat("before the frees:");
    printf("duplicated string: \"%s\"\n", greeting != NULL ? greeting : "(none)");
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
    printf("kept at exit: persistent buffer of 1024 bytes, leaked block of 48 bytes\n");
    /* Both stay allocated until exit, as an app's long-lived blocks do. Held
     * here, memcheck sees them reachable: the log is what shows the leak. */
    static void *volatile kept_at_exit[2];
    kept_at_exit[0] = persistent_buffer;
    kept_at_exit[1] = leak;
    expect(kept_at_exit[0] != NULL && kept_at_exit[1] != NULL, "both blocks kept");

    /* More misuse, each refused, reported and absent from the log. */
    APP_MEM_FREE(greeting); /* already freed */
    expect(APP_MEM_REALLOC(not_heap, 64) == NULL, "APP_MEM_REALLOC(not_heap, 64) answers NULL");
    expect(faults.n == 3u && fault_was(1, MEM_FAULT_DOUBLE_FREE, greeting) &&
               fault_was(2, MEM_FAULT_INVALID_POINTER, not_heap),
           "a double free and a realloc of a non-heap pointer are reported");
    const mem_stat_t after = app_stat();
    expect(after.nb_allocated == end.nb_allocated && after.free_size == end.free_size,
           "refused calls change nothing");
    expect(mem_check(mem_utils_context()), "heap consistent at exit");
    printf("faults reported: %u (the example's deliberate misuse)\n", faults.n);

    if (failures != 0) {
        fprintf(stderr, "example: %d check(s) failed\n", failures);
        return EXIT_FAILURE;
    }
    printf("example: OK\n");
    return EXIT_SUCCESS;
}

/* The app's fault handler: records and prints the fault, then returns, so
 * the call that found it does nothing and the example goes on. */
static void on_fault(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    (void)user;
    if (faults.n < 4u) {
        faults.fault[faults.n] = fault;
        faults.addr[faults.n] = addr;
    }
    faults.n++;
    printf("fault reported: %s at %p in heap %p\n", mem_fault_name(fault), addr, ctx);
}

/* The fault number i was fault at addr. */
static bool fault_was(unsigned i, mem_fault_t fault, const void *addr)
{
    return faults.n > i && i < 4u && faults.fault[i] == fault && faults.addr[i] == addr;
}

/* What chunk_len asks mem_parse: the length of the allocated chunk at want. */
typedef struct {
    const void *want;
    size_t len;
} chunk_query_t;

static bool find_chunk(void *data, uint8_t *addr, bool allocated, size_t size)
{
    chunk_query_t *q = data;
    if (addr != q->want) {
        return false;
    }
    q->len = allocated ? size : 0u;
    return true;
}

static size_t chunk_len(const void *block)
{
    chunk_query_t q = {block, 0u};
    mem_parse(mem_utils_context(), find_chunk, &q);
    return q.len;
}
