/**
 * @file test_mem_free.c
 * @brief Unit tests of mem_free: bad pointers and double frees are ignored
 *        without a write, and freed chunks merge with their free neighbours.
 */

#include "test_fixture.h"

/* Larger buffer for the heap whose surroundings are checked too. */
static uint64_t g_big[(64u * 1024u) / 8u];

/* ------------------------------------------------------------------------ */
/* mem_free                                                                 */
/* ------------------------------------------------------------------------ */

static void test_free_null_is_noop(void **state)
{
    (void)state;
    void *p = mem_alloc(g_ctx, 24);
    assert_non_null(p);
    static uint8_t before[HEAP_SIZE];
    memcpy(before, g_heap, sizeof g_heap);
    mem_free(g_ctx, NULL);
    assert_memory_equal(before, g_heap, sizeof g_heap);
    assert_true(heap_consistent(g_ctx));
}

/* Frees p and requires that nothing in the heap buffer changed. */
static void assert_free_ignored(void *p)
{
    static uint8_t before[HEAP_SIZE];
    memcpy(before, g_heap, sizeof g_heap);
    mem_stat_t st = get_stat(g_ctx);
    mem_free(g_ctx, p);
    assert_memory_equal(before, g_heap, sizeof g_heap);
    mem_stat_t after = get_stat(g_ctx);
    assert_true(stat_equal(&st, &after));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

/* n 48-byte requests (56-byte chunks), sorted by address and contiguous. */
static void alloc_row(uint8_t **p, size_t n, size_t request)
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

/* Double free of a chunk whose header still says "free". */
static void test_free_double_free(void **state)
{
    (void)state;
    uint8_t *p[8];
    alloc_row(p, 8, 48);
    /* between allocated neighbours */
    mem_free(g_ctx, p[1]);
    assert_true(is_free_chunk(g_ctx, p[1], 56));
    assert_free_ignored(p[1]);
    /* p[4] merged with its free successor p[5] */
    mem_free(g_ctx, p[5]);
    mem_free(g_ctx, p[4]);
    assert_true(is_free_chunk(g_ctx, p[4], 112));
    assert_free_ignored(p[4]);
    assert_free_ignored(p[5]);
    /* the other chunks are intact and can still be freed */
    for (size_t i = 0; i < 8; i++) {
        if (i != 1 && i != 4 && i != 5) {
            assert_true(is_allocated_chunk(g_ctx, p[i], 56));
            mem_free(g_ctx, p[i]);
        }
    }
    mem_stat_t st = get_stat(g_ctx);
    assert_true(stat_equal(&st, &g_fresh));
    assert_free_ignored(p[7]);
}

/* Double free of a chunk that was merged into its free predecessor: the
 * stale header in the middle of the free chunk still says "allocated". */
static void test_free_double_free_after_merge(void **state)
{
    (void)state;
    uint8_t *p[9];
    alloc_row(p, 9, 48);
    mem_free(g_ctx, p[1]);
    mem_free(g_ctx, p[2]);
    assert_true(is_free_chunk(g_ctx, p[1], 112));
    assert_free_ignored(p[2]);
    /* merged with both neighbours */
    mem_free(g_ctx, p[4]);
    mem_free(g_ctx, p[6]);
    mem_free(g_ctx, p[5]);
    assert_true(is_free_chunk(g_ctx, p[4], 3u * 56u));
    assert_free_ignored(p[5]);
    assert_free_ignored(p[6]);
    /* merged into the free rest of the heap, after a free chunk */
    mem_free(g_ctx, p[7]);
    mem_free(g_ctx, p[8]);
    assert_free_ignored(p[8]);
    assert_free_ignored(p[7]);
    assert_true(is_allocated_chunk(g_ctx, p[0], 56));
    assert_true(is_allocated_chunk(g_ctx, p[3], 56));
    mem_free(g_ctx, p[0]);
    mem_free(g_ctx, p[3]);
    mem_stat_t st = get_stat(g_ctx);
    assert_true(stat_equal(&st, &g_fresh));
    for (size_t i = 0; i < 9; i++) {
        assert_free_ignored(p[i]);
    }
}

static void test_free_bad_pointers(void **state)
{
    (void)state;
    /* the heap covers the first half of g_big; the rest is "outside" */
    memset(g_big, 0, sizeof g_big);
    mem_ctx_t ctx = mem_init(g_big, sizeof g_big / 2u);
    assert_non_null(ctx);
    size_t sum = get_stat(ctx).free_size;
    uint8_t *a = mem_alloc(ctx, 64);
    uint8_t *b = mem_alloc(ctx, 64);
    uint8_t *c = mem_alloc(ctx, 64);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    memset(a, 0, 64);
    mem_free(ctx, b);
    uint8_t *tail = end_of_chunks(ctx);
    uint64_t local = 0;
    static uint64_t elsewhere[64];

    void *bad[] = {
        a + 1, a + 2, a + 3, a + 4, a + 5, a + 6, a + 7, /* misaligned */
        a + 8, a + 16, a + 32,                           /* interior, zeroed content */
        b,                                               /* free chunk */
        largest_free_addr(ctx) + 64,                     /* inside the free rest */
        (uint8_t *)ctx + 8, (uint8_t *)ctx + 16,         /* inside the context */
        tail,                                            /* the end sentinel */
        (uint8_t *)g_big + sizeof g_big / 2u,            /* just past the heap */
        (uint8_t *)g_big + sizeof g_big / 2u + 64u,      /* past the heap */
        &local,                                          /* stack */
        elsewhere + 4,                                   /* another object */
        (void *)(uintptr_t)8u,
        (void *)(uintptr_t)(UINTPTR_MAX & ~(uintptr_t)7u),
    };
    static uint8_t before[sizeof g_big];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(before, g_big, sizeof g_big);
        mem_free(ctx, bad[i]);
        if (memcmp(before, g_big, sizeof g_big) != 0) {
            print_message("mem_free of bad pointer #%zu (%p) wrote to the buffer\n", i, bad[i]);
        }
        assert_memory_equal(before, g_big, sizeof g_big);
        assert_int_equal(local, 0);
        assert_true(all_bytes(elsewhere, sizeof elsewhere, 0));
    }
    assert_true(heap_consistent_sum(ctx, sum));
    assert_true(is_allocated_chunk(ctx, a, 72));
    assert_true(is_free_chunk(ctx, b, 72));
    assert_true(is_allocated_chunk(ctx, c, 72));
}

/* ---- coalescing: the four neighbour cases plus the free rest ---- */

/* Six 64-byte requests (72-byte chunks), sorted by address. */
#define ROW 6

static void test_coalesce_neither_free(void **state)
{
    (void)state;
    uint8_t *r[ROW];
    alloc_row(r, ROW, 64);
    uint32_t before = get_stat(g_ctx).nb_chunks;
    mem_free(g_ctx, r[2]);
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, before);
    assert_int_equal(st.nb_allocated, ROW - 1);
    assert_true(is_allocated_chunk(g_ctx, r[1], 72));
    assert_true(is_free_chunk(g_ctx, r[2], 72));
    assert_true(is_allocated_chunk(g_ctx, r[3], 72));
    assert_int_equal(header_of(r[2]) & HDR_FREE, HDR_FREE);
    assert_int_equal(header_of(r[3]) & (HDR_FREE | HDR_PREV_FREE), HDR_PREV_FREE);
    assert_int_equal(read_u32(r[3] - 8), 72); /* boundary tag */
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

static void test_coalesce_prev_free(void **state)
{
    (void)state;
    uint8_t *r[ROW];
    alloc_row(r, ROW, 64);
    mem_free(g_ctx, r[1]);
    uint32_t before = get_stat(g_ctx).nb_chunks;
    mem_free(g_ctx, r[2]);
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, before - 1u);
    assert_int_equal(st.nb_allocated, ROW - 2);
    assert_true(is_free_chunk(g_ctx, r[1], 144));
    assert_false(find_chunk(g_ctx, r[2], NULL, NULL));
    assert_true(is_allocated_chunk(g_ctx, r[3], 72));
    assert_int_equal(header_of(r[3]) & (HDR_FREE | HDR_PREV_FREE), HDR_PREV_FREE);
    assert_int_equal(read_u32(r[3] - 8), 144);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

static void test_coalesce_next_free(void **state)
{
    (void)state;
    uint8_t *r[ROW];
    alloc_row(r, ROW, 64);
    mem_free(g_ctx, r[3]);
    uint32_t before = get_stat(g_ctx).nb_chunks;
    mem_free(g_ctx, r[2]);
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, before - 1u);
    assert_true(is_allocated_chunk(g_ctx, r[1], 72));
    assert_true(is_free_chunk(g_ctx, r[2], 144));
    assert_false(find_chunk(g_ctx, r[3], NULL, NULL));
    assert_true(is_allocated_chunk(g_ctx, r[4], 72));
    assert_int_equal(read_u32(r[4] - 8), 144);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

static void test_coalesce_both_free(void **state)
{
    (void)state;
    uint8_t *r[ROW];
    alloc_row(r, ROW, 64);
    mem_free(g_ctx, r[1]);
    mem_free(g_ctx, r[3]);
    uint32_t before = get_stat(g_ctx).nb_chunks;
    mem_free(g_ctx, r[2]);
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, before - 2u);
    assert_int_equal(st.nb_allocated, ROW - 3);
    assert_true(is_allocated_chunk(g_ctx, r[0], 72));
    assert_true(is_free_chunk(g_ctx, r[1], 216));
    assert_true(is_allocated_chunk(g_ctx, r[4], 72));
    assert_int_equal(st.largest_free_size, g_fresh.free_size - ROW * 72u);
    /* once the larger rest of the heap is taken, the merged chunk serves a
     * request needing all of it */
    assert_non_null(mem_alloc(g_ctx, st.largest_free_size - 4u));
    assert_ptr_equal(mem_alloc(g_ctx, 212), r[1]);
    assert_int_equal(get_stat(g_ctx).free_size, 0);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

static void test_coalesce_with_free_rest(void **state)
{
    (void)state;
    uint8_t *r[ROW];
    alloc_row(r, ROW, 64);
    /* the free rest of the heap borders the row on one side */
    bool alloc_after = true;
    bool rest_after = find_chunk(g_ctx, r[ROW - 1] + 72, &alloc_after, NULL) && !alloc_after;
    uint8_t *edge = rest_after ? r[ROW - 1] : r[0];
    uint8_t *inner = rest_after ? r[ROW - 2] : r[1];
    uint32_t before = get_stat(g_ctx).nb_chunks;
    mem_free(g_ctx, edge);
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, before - 1u);
    assert_int_equal(st.largest_free_size, g_fresh.free_size - (ROW - 1) * 72u);
    assert_false(is_allocated_chunk(g_ctx, edge, 72));
    mem_free(g_ctx, inner);
    st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, before - 2u);
    assert_int_equal(st.largest_free_size, g_fresh.free_size - (ROW - 2) * 72u);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
    for (size_t i = 0; i < ROW; i++) {
        if (r[i] != edge && r[i] != inner) {
            mem_free(g_ctx, r[i]);
        }
    }
    st = get_stat(g_ctx);
    assert_true(stat_equal(&st, &g_fresh));
    assert_true(heap_consistent(g_ctx));
}

#define T(f) cmocka_unit_test_setup(f, setup_heap)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_free_null_is_noop),
        T(test_free_double_free),
        T(test_free_double_free_after_merge),
        T(test_free_bad_pointers),
        T(test_coalesce_neither_free),
        T(test_coalesce_prev_free),
        T(test_coalesce_next_free),
        T(test_coalesce_both_free),
        T(test_coalesce_with_free_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
