/**
 * @file test_fixture.h
 * @brief The fresh 32 KiB heap most unit tests start from: cmocka runs
 *        setup_heap before each test, so no test sees another's leftovers.
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
    memset(g_heap, 0, sizeof g_heap);
    g_ctx = mem_init(g_heap, sizeof g_heap);
    if (g_ctx == NULL) {
        return -1;
    }
    g_fresh = get_stat(g_ctx);
    return 0;
}
