/**
 * @file spec_example.c
 * @brief The SDK documentation's usage, written against hardalloc.
 *
 * Follows the SDK's dynamic memory allocator page step by step (8 KiB heap
 * in a static uint32_t array, an allocation used and freed, a zeroed buffer
 * that is grown, a duplicated string) with the mem_* calls its wrappers
 * make, so any SDK-compatibility break shows up as a failing example.
 * Exits non-zero on the first misbehaviour.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem_alloc.h"

static uint32_t heap_buffer[2048]; // 8KB heap

static int failures;

static void expect(bool ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "spec_example: FAILED: %s\n", what);
        failures++;
    }
}

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0u) {
            return false;
        }
    }
    return true;
}

static void print_stat(const char *when, mem_ctx_t ctx) {
    mem_stat_t stat;
    mem_stat(&ctx, &stat); /* SDK callers pass the address of their context */
    printf("%-22s total %5zu  allocated %5zu in %2u chunk(s)  free %5zu  chunks %2u\n", when,
           stat.total_size, stat.allocated_size, (unsigned)stat.nb_allocated,
           stat.free_size, (unsigned)stat.nb_chunks);
}

/* What APP_MEM_STRDUP does on top of the allocator. */
static char *dup_string(mem_ctx_t ctx, const char *s) {
    size_t n = strlen(s) + 1u;
    char *copy = mem_alloc(ctx, n);
    if (copy != NULL) {
        memcpy(copy, s, n);
    }
    return copy;
}

int main(void) {
    mem_ctx_t ctx = mem_init(heap_buffer, sizeof(heap_buffer));
    if (ctx == NULL) {
        fprintf(stderr, "spec_example: FAILED: mem_init of an 8 KiB heap\n");
        return EXIT_FAILURE;
    }
    mem_stat_t fresh;
    mem_stat(&ctx, &fresh);
    expect(fresh.total_size == sizeof(heap_buffer), "total_size is the buffer size");
    expect(fresh.nb_chunks == 1u && fresh.nb_allocated == 0u, "fresh heap is one free chunk");
    print_stat("after mem_init:", ctx);

    /* Basic allocation. */
    void *ptr = mem_alloc(ctx, 128);
    expect(ptr != NULL, "mem_alloc(128)");
    if (ptr != NULL) {
        memset(ptr, 0xA5, 128);
        expect(mem_usable_size(ctx, ptr) >= 128u, "usable size covers the request");
#if MEM_HARDENING > 0
        /* the canary follows the request: not one byte more is usable */
        expect(mem_usable_size(ctx, ptr) == 128u, "usable size is exactly the request");
#endif
    }

    /* Zero-initialized buffer, then grown as APP_MEM_CALLOC(&buffer, 512) does. */
    void *buffer = mem_alloc(ctx, 256);
    expect(buffer != NULL, "mem_alloc(256)");
    if (buffer != NULL) {
        memset(buffer, 0, 256);
        void *grown = mem_realloc(ctx, buffer, 512);
        expect(grown != NULL, "mem_realloc(256 -> 512)");
        if (grown != NULL) {
            expect(all_zero(grown, 256), "realloc kept the zeroed content");
            memset((uint8_t *)grown + 256, 0, 256);
            buffer = grown;
        }
    }

    /* String duplication. */
    const char *original = "Hello, World!";
    char *copy = dup_string(ctx, original);
    expect(copy != NULL && strcmp(copy, original) == 0, "duplicated string");
    print_stat("with 3 allocations:", ctx);

    mem_stat_t busy;
    mem_stat(&ctx, &busy);
    expect(busy.nb_allocated == 3u, "three chunks allocated");
    expect(busy.free_size + busy.allocated_size == fresh.free_size,
           "free + allocated is constant");
    expect(mem_check(ctx), "heap consistent while in use");

    if (ptr != NULL) {
        const uint8_t *bytes = ptr;
        expect(bytes[0] == 0xA5u && bytes[127] == 0xA5u, "first block untouched by the others");
    }

    if (copy != NULL) {
        printf("duplicated string: \"%s\"\n", copy);
    }
    mem_free(ctx, copy);
    mem_free(ctx, buffer);
    mem_free(ctx, ptr);
    print_stat("after mem_free:", ctx);

    mem_stat_t end;
    mem_stat(&ctx, &end);
    expect(end.nb_allocated == 0u && end.nb_chunks == 1u && end.free_size == fresh.free_size,
           "heap whole again after freeing everything");
    expect(mem_check(ctx), "heap consistent at the end");

    if (failures != 0) {
        fprintf(stderr, "spec_example: %d check(s) failed\n", failures);
        return EXIT_FAILURE;
    }
    printf("spec_example: OK\n");
    return EXIT_SUCCESS;
}
