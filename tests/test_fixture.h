/**
 * @file test_fixture.h
 * @brief The fresh 32 KiB heap most unit tests start from: cmocka runs
 *        setup_heap before each test, so no test sees another's leftovers,
 *        and teardown_heap after it, so that no block is left live (valgrind
 *        would report it as a leak).
 */

#pragma once

#include "test_helpers.h"

#define HEAP_SIZE (32u * 1024u)

static uint64_t g_heap[HEAP_SIZE / 8u];
static mem_ctx_t g_ctx;
static mem_stat_t g_fresh; /* statistics of the fresh heap */

static inline int setup_heap(void **state)
{
    (void)state;
    raw_buffer_reset(g_heap, sizeof g_heap, 0);
    g_ctx = mem_init(g_heap, sizeof g_heap);
    if (g_ctx == NULL) {
        return -1;
    }
    g_fresh = get_stat(g_ctx);
    return 0;
}

/* Re-initializing the buffer forgets every block the test left live. */
static inline int teardown_heap(void **state)
{
    (void)state;
    return mem_init(g_heap, sizeof g_heap) == g_ctx ? 0 : -1;
}

/** A fixture test: fresh heap before, forgotten blocks after. */
#define FIXTURE_TEST(f) cmocka_unit_test_setup_teardown(f, setup_heap, teardown_heap)
