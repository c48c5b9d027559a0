/**
 * @file test_mem_free.c
 * @brief Unit tests of mem_free: bad pointers and double frees are reported
 *        to the fault handler (exact code) without a write, and freed chunks
 *        merge with their free neighbours.
 */

#include "test_fixture.h"

/* Larger buffer for the heap whose surroundings are checked too. */
static uint64_t g_big[(64u * 1024u) / 8u];

/* Length of the chunks of the 48-byte and 64-byte rows below. */
#define C48 chunk_len_for(48)
#define C64 chunk_len_for(64)

/* ------------------------------------------------------------------------ */
/* mem_free                                                                 */
/* ------------------------------------------------------------------------ */

static void test_free_null_is_noop(void **state)
{
    (void)state;
    void *p = mem_alloc(g_ctx, 24);
    assert_non_null(p);
    static uint8_t before[HEAP_SIZE];
    static fault_recorder_t faults;
    fault_recorder_install(g_ctx, &faults);
    raw_read(before, g_heap, sizeof g_heap);
    mem_free(g_ctx, NULL);
    assert_true(raw_equal(before, g_heap, sizeof g_heap));
    assert_true(no_fault(&faults));
    assert_true(heap_consistent(g_ctx));
}

/* Frees p, requires that exactly the fault code was reported about p, and
 * that nothing in the heap buffer changed: a misuse does not fail the heap. */
static void assert_free_fault(void *p, mem_fault_t code)
{
    static fault_recorder_t faults;
    fault_recorder_install(g_ctx, &faults);
    heap_snapshot();
    mem_free(g_ctx, p);
    expect_misuse(&faults, p, code);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
    assert_true(no_fault(&faults));
}

/* Double free of a chunk whose header still says "free". */
static void test_free_double_free(void **state)
{
    (void)state;
    uint8_t *p[8];
    alloc_row(p, 8, 48);
    /* between allocated neighbours */
    mem_free(g_ctx, p[1]);
    assert_true(is_free_chunk(g_ctx, p[1], C48));
    assert_free_fault(p[1], MEM_FAULT_DOUBLE_FREE);
    /* p[4] merged with its free successor p[5] */
    mem_free(g_ctx, p[5]);
    mem_free(g_ctx, p[4]);
    assert_true(is_free_chunk(g_ctx, p[4], 2u * C48));
    assert_free_fault(p[4], MEM_FAULT_DOUBLE_FREE);
    assert_free_fault(p[5], MEM_FAULT_DOUBLE_FREE);
    /* the other chunks are intact and can still be freed */
    for (size_t i = 0; i < 8; i++) {
        if (i != 1 && i != 4 && i != 5) {
            assert_true(is_allocated_chunk(g_ctx, p[i], C48));
            mem_free(g_ctx, p[i]);
        }
    }
    mem_stat_t st = get_stat(g_ctx);
    assert_true(stat_equal(&st, &g_fresh));
    assert_free_fault(p[7], MEM_FAULT_DOUBLE_FREE);
}

/* Double free of a chunk that was merged into its free predecessor: its old
 * header is now the inside of a free chunk, which is a double free too. */
static void test_free_double_free_after_merge(void **state)
{
    (void)state;
    uint8_t *p[9];
    alloc_row(p, 9, 48);
    mem_free(g_ctx, p[1]);
    mem_free(g_ctx, p[2]);
    assert_true(is_free_chunk(g_ctx, p[1], 2u * C48));
    assert_free_fault(p[2], MEM_FAULT_DOUBLE_FREE);
    /* merged with both neighbours */
    mem_free(g_ctx, p[4]);
    mem_free(g_ctx, p[6]);
    mem_free(g_ctx, p[5]);
    assert_true(is_free_chunk(g_ctx, p[4], 3u * C48));
    assert_free_fault(p[5], MEM_FAULT_DOUBLE_FREE);
    assert_free_fault(p[6], MEM_FAULT_DOUBLE_FREE);
    /* merged into the free rest of the heap, after a free chunk */
    mem_free(g_ctx, p[7]);
    mem_free(g_ctx, p[8]);
    assert_free_fault(p[8], MEM_FAULT_DOUBLE_FREE);
    assert_free_fault(p[7], MEM_FAULT_DOUBLE_FREE);
    assert_true(is_allocated_chunk(g_ctx, p[0], C48));
    assert_true(is_allocated_chunk(g_ctx, p[3], C48));
    mem_free(g_ctx, p[0]);
    mem_free(g_ctx, p[3]);
    mem_stat_t st = get_stat(g_ctx);
    assert_true(stat_equal(&st, &g_fresh));
    for (size_t i = 0; i < 9; i++) {
        assert_free_fault(p[i], MEM_FAULT_DOUBLE_FREE);
    }
}

static void test_free_bad_pointers(void **state)
{
    (void)state;
    /* the heap covers the first half of g_big; the rest is "outside" */
    raw_buffer_reset(g_big, sizeof g_big, 0);
    mem_ctx_t ctx = mem_init(g_big, sizeof g_big / 2u);
    assert_non_null(ctx);
    static fault_recorder_t faults;
    fault_recorder_install(ctx, &faults);
    const mem_stat_t fresh = get_stat(ctx);
    size_t sum = fresh.free_size;
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

    const mem_fault_t invalid = MEM_FAULT_INVALID_POINTER;
    /* Inside a free chunk is a double free: the allocator cannot tell a
     * never-allocated address there from a chunk merged into it. */
    const mem_fault_t dfree = MEM_FAULT_DOUBLE_FREE;
    const struct {
        void *p;
        mem_fault_t code;
    } bad[] = {
        {a + 1, invalid}, {a + 2, invalid}, {a + 3, invalid}, {a + 4, invalid}, /* misaligned */
        {a + 5, invalid}, {a + 6, invalid}, {a + 7, invalid},
        {a + 8, invalid}, {a + 16, invalid}, {a + 32, invalid}, /* interior, zeroed content */
        {b, dfree},                                             /* free chunk */
        {largest_free_addr(ctx) + 64, dfree},                   /* inside the free rest */
        {(uint8_t *)ctx + 8, invalid}, {(uint8_t *)ctx + 16, invalid}, /* inside the context */
        {tail, invalid},                                        /* the end sentinel */
        {(uint8_t *)g_big + sizeof g_big / 2u, invalid},        /* just past the heap */
        {(uint8_t *)g_big + sizeof g_big / 2u + 64u, invalid},  /* past the heap */
        {&local, invalid},                                      /* stack */
        {elsewhere + 4, invalid},                               /* another object */
        {(void *)(uintptr_t)8u, invalid},
        {(void *)(uintptr_t)(UINTPTR_MAX & ~(uintptr_t)7u), invalid},
    };
    static uint8_t before[sizeof g_big];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        raw_read(before, g_big, sizeof g_big);
        mem_stat_t st = get_stat(ctx);
        mem_free(ctx, bad[i].p);
        if (faults.calls != 1u || faults.last != bad[i].code) {
            print_message("mem_free of bad pointer #%zu:\n", i); /* fault_seen says what came */
        }
        assert_true(fault_seen(&faults, ctx, bad[i].code, bad[i].p));
        bool same = raw_equal(before, g_big, sizeof g_big);
        if (!same) {
            print_message("mem_free of bad pointer #%zu (%p) wrote to the buffer\n", i, bad[i].p);
        }
        assert_true(same);
        mem_stat_t after = get_stat(ctx);
        assert_true(stat_equal(&st, &after));
        assert_int_equal(mem_last_fault(ctx), MEM_FAULT_NONE);
        assert_int_equal(local, 0);
        assert_true(all_bytes(elsewhere, sizeof elsewhere, 0));
    }
    assert_true(heap_consistent_sum(ctx, sum));
    assert_true(is_allocated_chunk(ctx, a, C64));
    assert_true(is_free_chunk(ctx, b, C64));
    assert_true(is_allocated_chunk(ctx, c, C64));
    assert_true(no_fault(&faults));
    mem_free(ctx, a);
    mem_free(ctx, c);
    mem_stat_t st = get_stat(ctx);
    assert_true(stat_equal(&st, &fresh));
    assert_true(no_fault(&faults));
}

/* ---- coalescing: the four neighbour cases plus the free rest ---- */

/* Six 64-byte requests (C64-byte chunks), sorted by address. */
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
    assert_true(is_allocated_chunk(g_ctx, r[1], C64));
    assert_true(is_free_chunk(g_ctx, r[2], C64));
    assert_true(is_allocated_chunk(g_ctx, r[3], C64));
    assert_int_equal(header_of(r[2]) & HDR_FREE, HDR_FREE);
    assert_int_equal(header_of(r[3]) & (HDR_FREE | HDR_PREV_FREE), HDR_PREV_FREE);
    assert_int_equal(raw_get32(boundary_tag_before(r[3])), C64);
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
    assert_true(is_free_chunk(g_ctx, r[1], 2u * C64));
    assert_false(find_chunk(g_ctx, r[2], NULL, NULL));
    assert_true(is_allocated_chunk(g_ctx, r[3], C64));
    assert_int_equal(header_of(r[3]) & (HDR_FREE | HDR_PREV_FREE), HDR_PREV_FREE);
    assert_int_equal(raw_get32(boundary_tag_before(r[3])), 2u * C64);
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
    assert_true(is_allocated_chunk(g_ctx, r[1], C64));
    assert_true(is_free_chunk(g_ctx, r[2], 2u * C64));
    assert_false(find_chunk(g_ctx, r[3], NULL, NULL));
    assert_true(is_allocated_chunk(g_ctx, r[4], C64));
    assert_int_equal(raw_get32(boundary_tag_before(r[4])), 2u * C64);
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
    assert_true(is_allocated_chunk(g_ctx, r[0], C64));
    assert_true(is_free_chunk(g_ctx, r[1], 3u * C64));
    assert_true(is_allocated_chunk(g_ctx, r[4], C64));
    assert_int_equal(st.largest_free_size, g_fresh.free_size - ROW * C64);
    /* once the larger rest of the heap is taken, the merged chunk serves a
     * request needing all of it */
    assert_non_null(mem_alloc(g_ctx, st.largest_free_size - MEM_CHUNK_OVERHEAD));
    assert_ptr_equal(mem_alloc(g_ctx, 3u * C64 - MEM_CHUNK_OVERHEAD), r[1]);
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
    bool rest_after = find_chunk(g_ctx, r[ROW - 1] + C64, &alloc_after, NULL) && !alloc_after;
    uint8_t *edge = rest_after ? r[ROW - 1] : r[0];
    uint8_t *inner = rest_after ? r[ROW - 2] : r[1];
    uint32_t before = get_stat(g_ctx).nb_chunks;
    mem_free(g_ctx, edge);
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, before - 1u);
    assert_int_equal(st.largest_free_size, g_fresh.free_size - (ROW - 1) * C64);
    assert_false(is_allocated_chunk(g_ctx, edge, C64));
    mem_free(g_ctx, inner);
    st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, before - 2u);
    assert_int_equal(st.largest_free_size, g_fresh.free_size - (ROW - 2) * C64);
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

#define T(f) FIXTURE_TEST(f)

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
