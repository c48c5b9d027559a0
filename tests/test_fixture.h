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

/**
 * n blocks of request bytes from the fixture heap, zeroed (deterministic
 * content: no stale byte inside looks like metadata), sorted by address;
 * requires them contiguous (chunk i + 1 right after chunk i).
 */
static inline void alloc_row(uint8_t **p, size_t n, size_t request)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = mem_alloc(g_ctx, request);
        assert_non_null(p[i]);
        memset(p[i], 0, request);
    }
    sort_by_address(p, n);
    for (size_t i = 1; i < n; i++) {
        assert_int_equal(addr_of(p[i]), addr_of(p[i - 1]) + chunk_len_for(request));
    }
}

/* The fixture heap's bytes and statistics at the last heap_snapshot. */
__attribute__((unused)) static uint8_t g_snap_bytes[HEAP_SIZE];
__attribute__((unused)) static mem_stat_t g_snap_stat;

/** Saves the fixture heap's bytes and statistics, for heap_bytes_unchanged and expect_misuse. */
static inline void heap_snapshot(void)
{
    /* Statistics first: mem_stat returns parked chunks to the free lists
     * (README "Quick lists"), which changes bytes but no block. */
    g_snap_stat = get_stat(g_ctx);
    raw_read(g_snap_bytes, g_heap, sizeof g_heap);
}

/** true when no byte of the fixture heap changed since heap_snapshot. */
static inline bool heap_bytes_unchanged(void)
{
    return raw_equal(g_snap_bytes, g_heap, sizeof g_heap);
}

/**
 * The misuse contract, for the call made since heap_snapshot: exactly the
 * fault code about ptr reached r (consumed), nothing in the heap buffer and
 * its statistics changed, and the heap did not fail.
 */
static inline void expect_misuse(fault_recorder_t *r, const void *ptr, mem_fault_t code)
{
    assert_true(fault_seen(r, g_ctx, code, ptr));
    assert_true(heap_bytes_unchanged());
    mem_stat_t now = get_stat(g_ctx);
    assert_true(stat_equal(&g_snap_stat, &now));
    assert_int_equal(mem_last_fault(g_ctx), MEM_FAULT_NONE);
}

/** A fixture test: fresh heap before, forgotten blocks after. */
#define FIXTURE_TEST(f) cmocka_unit_test_setup_teardown(f, setup_heap, teardown_heap)
