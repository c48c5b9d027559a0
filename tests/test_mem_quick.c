/**
 * @file test_mem_quick.c
 * @brief What the quick lists (docs/ARCHITECTURE.md "Quick lists") promise a
 *        user: a block freed and asked for again at the same size comes back
 *        at once; parking never fails a request that merging would have
 *        served, nor makes the heap grow; the statistics see no parked
 *        chunk; paranoid and small heaps have none. Attacks on the lists are
 *        in tests/attacks/test_quick.c.
 */

#include "test_fixture.h"

/* The fixture heap (32 KiB) has quick lists below paranoid. */
#define QUICK (MEM_HARDENING < 2)

/* A block freed is the next one handed out for the same chunk length: LIFO,
 * the same place (below paranoid; paranoid merges the two into the free
 * rest of a fresh heap and hands out the lowest fit: a first, then b). */
static void test_same_size_comes_back(void **state)
{
    (void)state;
    uint8_t *a = mem_alloc(g_ctx, 40);
    uint8_t *b = mem_alloc(g_ctx, 40);
    assert_non_null(a);
    assert_non_null(b);
    mem_free(g_ctx, a);
    mem_free(g_ctx, b);
    assert_ptr_equal(mem_alloc(g_ctx, 40), QUICK ? b : a);
    assert_ptr_equal(mem_alloc(g_ctx, 40), QUICK ? a : b);
    assert_true(heap_consistent(g_ctx));
}

/* Any request whose chunk has the parked chunk's length takes it, whatever
 * the request (the chunk is the unit); another length does not. */
static void test_exact_length_only(void **state)
{
    (void)state;
    uint8_t *a = mem_alloc(g_ctx, 100);
    uint8_t *guard = mem_alloc(g_ctx, 8);
    assert_non_null(a);
    assert_non_null(guard);
    mem_free(g_ctx, a);
    uint8_t *other = mem_alloc(g_ctx, 100 + 8);
    assert_non_null(other);
    if (QUICK) {
        assert_ptr_not_equal(other, a);
    }
    uint8_t *same = mem_alloc(g_ctx, 100 - 3); /* same chunk length */
    assert_ptr_equal(same, a);
    assert_int_equal(mem_usable_size(g_ctx, same), usable_for(100 - 3));
    assert_true(heap_consistent(g_ctx));
}

/* Small blocks freed between live ones, then one request that fits only in
 * their merged room: it succeeds (the parked chunks go back to the free
 * lists before a request would fail). */
static void test_request_needing_parked_room(void **state)
{
    (void)state;
    enum { N = 48 };
    uint8_t *p[N];
    for (size_t i = 0; i < N; i++) {
        p[i] = mem_alloc(g_ctx, 64);
        assert_non_null(p[i]);
    }
    /* fill the rest of the heap */
    mem_stat_t st = get_stat(g_ctx);
    uint8_t *rest = mem_alloc(g_ctx, st.largest_free_size - MEM_CHUNK_OVERHEAD);
    assert_non_null(rest);
    assert_null(mem_alloc(g_ctx, 256));
    /* free 8 neighbours in the middle: 8 chunks of 64 + overhead, parked */
    for (size_t i = 20; i < 28; i++) {
        mem_free(g_ctx, p[i]);
    }
    size_t room = 8u * chunk_len_for(64) - MEM_CHUNK_OVERHEAD;
    uint8_t *big = mem_alloc(g_ctx, room);
    assert_ptr_equal(big, p[20]);
    assert_true(heap_consistent(g_ctx));
}

/* Freeing everything leaves the heap whole to the statistics (mem_stat
 * flushes first), and a request of the whole heap succeeds. */
static void test_all_freed_is_whole(void **state)
{
    (void)state;
    uint8_t *p[200];
    size_t n = 0;
    for (size_t i = 0; i < 200; i++) {
        p[n] = mem_alloc(g_ctx, 8 + (i * 37) % 300);
        if (p[n] != NULL) {
            n++;
        }
    }
    for (size_t i = 0; i < n; i += 2) {
        mem_free(g_ctx, p[i]);
    }
    for (size_t i = 1; i < n; i += 2) {
        mem_free(g_ctx, p[i]);
    }
    assert_true(heap_consistent(g_ctx));
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, 1);
    assert_int_equal(st.free_size, g_fresh.free_size);
    assert_int_equal(st.largest_free_size, g_fresh.largest_free_size);
    uint8_t *all = mem_alloc(g_ctx, g_fresh.largest_free_size - MEM_CHUNK_OVERHEAD);
    assert_non_null(all);
}

/* The same, without mem_stat: freeing everything then asking for the whole
 * heap succeeds (the failing search flushes). */
static void test_whole_heap_after_frees(void **state)
{
    (void)state;
    uint8_t *p[100];
    for (size_t i = 0; i < 100; i++) {
        p[i] = mem_alloc(g_ctx, 24 + (i % 5) * 16);
        assert_non_null(p[i]);
    }
    for (size_t i = 0; i < 100; i++) {
        mem_free(g_ctx, p[i]);
    }
    assert_non_null(mem_alloc(g_ctx, g_fresh.largest_free_size - MEM_CHUNK_OVERHEAD));
    assert_true(heap_consistent(g_ctx));
}

/* Parking does not make the heap grow: a churn of many sizes with 32 live
 * blocks of at most 256 bytes (about 9 KiB with overhead) stays in the
 * first 16 KiB. Without the flush before a block reaches past the highest
 * offset so far, the parked chunks of every size push new blocks ever
 * higher and this fails. */
static void test_churn_stays_low(void **state)
{
    (void)state;
    uint8_t *live[32] = {0};
    uint64_t seed = 42;
    uintptr_t highest = 0;
    for (unsigned i = 0; i < 20000; i++) {
        unsigned k = (unsigned)(rand_range(&seed, 0, 31));
        mem_free(g_ctx, live[k]);
        live[k] = mem_alloc(g_ctx, rand_range(&seed, 8, 256));
        assert_non_null(live[k]);
        uintptr_t end = addr_of(live[k]) + 256u;
        highest = end > highest ? end : highest;
    }
    /* 32 blocks of at most 256 B plus overhead: about 9 KiB past the context */
    assert_true(highest - addr_of(g_ctx) < 16u * 1024u);
    for (unsigned k = 0; k < 32; k++) {
        mem_free(g_ctx, live[k]);
    }
    assert_true(heap_consistent(g_ctx));
}

/* A heap below 16 KiB has no quick lists: a freed block merges at once, so
 * the statistics show it merged even before a flush could matter. */
static void test_small_heap_merges_at_once(void **state)
{
    (void)state;
    static uint64_t small[8192 / 8];
    mem_ctx_t ctx = mem_init(small, sizeof small);
    assert_non_null(ctx);
    mem_stat_t fresh = get_stat(ctx);
    uint8_t *a = mem_alloc(ctx, 40);
    assert_non_null(a);
    mem_free(ctx, a);
    mem_stat_t st = get_stat(ctx);
    assert_int_equal(st.nb_chunks, 1);
    assert_int_equal(st.free_size, fresh.free_size);
    assert_true(heap_consistent(ctx));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(test_same_size_comes_back),
        FIXTURE_TEST(test_exact_length_only),
        FIXTURE_TEST(test_request_needing_parked_room),
        FIXTURE_TEST(test_all_freed_is_whole),
        FIXTURE_TEST(test_whole_heap_after_frees),
        FIXTURE_TEST(test_churn_stays_low),
        FIXTURE_TEST(test_small_heap_merges_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
