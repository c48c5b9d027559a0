/**
 * @file test_mem_realloc.c
 * @brief Unit tests of mem_realloc: C realloc semantics, in-place shrink and
 *        growth, moves that preserve the content, and untouched chunks on
 *        failure or bad input.
 */

#include "test_fixture.h"

/* Lengths of the chunks serving the requests the tests use. */
#define C8 chunk_len_for(8)
#define C50 chunk_len_for(50)
#define C64 chunk_len_for(64)
#define C100 chunk_len_for(100)
#define C200 chunk_len_for(200)
#define C400 chunk_len_for(400)

/* The last call reported exactly this misuse of ptr, and the heap did not fail. */
static bool misuse_reported(const void *ptr, mem_fault_t code)
{
    return fault_seen(&g_faults, g_ctx, code, ptr) && mem_last_fault(g_ctx) == MEM_FAULT_NONE;
}

/* Allocates 1-byte chunks until the heap is full. */
static void fill_heap(void)
{
    while (mem_alloc(g_ctx, 1) != NULL) {
    }
    assert_int_equal(get_stat(g_ctx).free_size, 0);
}

static void test_realloc_null_ptr_allocates(void **state)
{
    (void)state;
    uint8_t *p = mem_realloc(g_ctx, NULL, 100);
    assert_non_null(p);
    assert_true(is_aligned8(p));
    assert_int_equal(mem_usable_size(g_ctx, p), usable_for(100));
    assert_true(is_allocated_chunk(g_ctx, p, chunk_len_for(100)));
    memset(p, 0x42, 100);
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_allocated, 1);
    assert_int_equal(st.allocated_size, chunk_len_for(100));

    assert_null(mem_realloc(g_ctx, NULL, 0));
    assert_null(mem_realloc(g_ctx, NULL, SIZE_MAX));
    assert_null(mem_realloc(g_ctx, NULL, HEAP_SIZE));
    mem_stat_t after = get_stat(g_ctx);
    assert_true(stat_equal(&st, &after));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

static void test_realloc_size_zero_frees(void **state)
{
    (void)state;
    fault_recorder_install(g_ctx, &g_faults);
    uint8_t *r[3];
    alloc_row(r, 3, 64);
    mem_stat_t before = get_stat(g_ctx);
    assert_null(mem_realloc(g_ctx, r[1], 0));
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_allocated, before.nb_allocated - 1u);
    assert_int_equal(st.allocated_size, before.allocated_size - C64);
    assert_true(is_free_chunk(g_ctx, r[1], C64));
    assert_true(no_fault(&g_faults));
    assert_int_equal(mem_usable_size(g_ctx, r[1]), 0);
    assert_true(misuse_reported(r[1], MEM_FAULT_DOUBLE_FREE));
    /* a second time it is a double free: reported, nothing happens */
    heap_snapshot();
    assert_null(mem_realloc(g_ctx, r[1], 0));
    assert_true(misuse_reported(r[1], MEM_FAULT_DOUBLE_FREE));
    assert_true(heap_bytes_unchanged());
    assert_null(mem_realloc(g_ctx, r[0], 0));
    assert_null(mem_realloc(g_ctx, r[2], 0));
    st = get_stat(g_ctx);
    assert_true(stat_equal(&st, &g_fresh));
    assert_true(heap_consistent(g_ctx));
}

static void test_realloc_same_size_keeps_chunk(void **state)
{
    (void)state;
    uint8_t *r[3];
    alloc_row(r, 3, 100); /* C100-byte chunks */
    memset(r[1], 0x3C, 100);
    mem_stat_t before = get_stat(g_ctx);
    assert_ptr_equal(mem_realloc(g_ctx, r[1], 100), r[1]);
    assert_true(all_bytes(r[1], 100, 0x3C));
    assert_ptr_equal(mem_realloc(g_ctx, r[1], 97), r[1]);
    assert_int_equal(mem_usable_size(g_ctx, r[1]), usable_for(97));
    assert_true(all_bytes(r[1], 97, 0x3C));
    /* growing back inside the chunk keeps the 97 bytes; what lies past them
     * (with hardening, the canary did) is not preserved */
    assert_ptr_equal(mem_realloc(g_ctx, r[1], 100), r[1]);
    assert_int_equal(mem_usable_size(g_ctx, r[1]), usable_for(100));
    assert_true(all_bytes(r[1], 97, 0x3C));
    memset(r[1] + 97, 0x3C, 3); /* the request's bytes are all the caller's again */
    mem_stat_t st = get_stat(g_ctx);
    assert_true(stat_equal(&before, &st));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
    /* shrinking by less than a minimal chunk cannot split: still in place */
    assert_ptr_equal(mem_realloc(g_ctx, r[1], 90), r[1]);
    assert_int_equal(chunk_len_of(r[1]), C100);
    assert_int_equal(mem_usable_size(g_ctx, r[1]), usable_in_chunk(C100, 90));
    assert_true(all_bytes(r[1], 90, 0x3C));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

static void test_realloc_shrink_in_place(void **state)
{
    (void)state;
    uint8_t *r[3];
    alloc_row(r, 3, 200); /* C200-byte chunks */
    fill_pattern(r[1], usable_for(200), 1);
    mem_stat_t before = get_stat(g_ctx);
    uint8_t *p = mem_realloc(g_ctx, r[1], 50);
    assert_ptr_equal(p, r[1]);
    assert_int_equal(mem_usable_size(g_ctx, p), usable_for(50));
    assert_true(check_pattern(p, usable_for(50), 1));
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, before.nb_chunks + 1u);
    assert_int_equal(st.nb_allocated, before.nb_allocated);
    assert_int_equal(st.allocated_size, before.allocated_size - (C200 - C50));
    assert_int_equal(st.free_size, before.free_size + (C200 - C50));
    assert_true(is_allocated_chunk(g_ctx, p, C50));
    assert_true(is_free_chunk(g_ctx, p + C50, C200 - C50));
    assert_true(is_allocated_chunk(g_ctx, r[2], C200));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
    /* the freed tail is usable in full (once the larger rest is taken) */
    assert_non_null(mem_alloc(g_ctx, get_stat(g_ctx).largest_free_size - MEM_CHUNK_OVERHEAD));
    assert_ptr_equal(mem_alloc(g_ctx, C200 - C50 - MEM_CHUNK_OVERHEAD), p + C50);
    assert_int_equal(get_stat(g_ctx).free_size, 0);
}

static void test_realloc_shrink_merges_with_free_next(void **state)
{
    (void)state;
    uint8_t *r[4];
    alloc_row(r, 4, 200); /* C200-byte chunks */
    mem_free(g_ctx, r[2]);
    fill_pattern(r[1], usable_for(200), 2);
    mem_stat_t before = get_stat(g_ctx);
    uint8_t *p = mem_realloc(g_ctx, r[1], 50);
    assert_ptr_equal(p, r[1]);
    assert_true(check_pattern(p, 50, 2));
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, before.nb_chunks);
    assert_int_equal(st.free_size, before.free_size + (C200 - C50));
    assert_true(is_allocated_chunk(g_ctx, p, C50));
    assert_true(is_free_chunk(g_ctx, p + C50, (C200 - C50) + C200));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

static void test_realloc_grow_into_free_next(void **state)
{
    (void)state;
    uint8_t *r[4];
    alloc_row(r, 4, 64); /* C64-byte chunks */
    mem_free(g_ctx, r[2]);
    fill_pattern(r[1], usable_for(64), 3);
    mem_stat_t before = get_stat(g_ctx);
    /* the neighbour is big enough to split */
    assert_true(2u * C64 - C100 >= MEM_MIN_CHUNK);

    /* partly: the rest of the neighbour stays free */
    uint8_t *p = mem_realloc(g_ctx, r[1], 100);
    assert_ptr_equal(p, r[1]);
    assert_int_equal(mem_usable_size(g_ctx, p), usable_for(100));
    assert_true(check_pattern(p, usable_for(64), 3));
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, before.nb_chunks);
    assert_int_equal(st.free_size, before.free_size - (C100 - C64));
    assert_true(is_free_chunk(g_ctx, p + C100, 2u * C64 - C100));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));

    /* wholly: exactly the two chunks */
    fill_pattern(p, 100, 4);
    p = mem_realloc(g_ctx, p, 2u * C64 - MEM_CHUNK_OVERHEAD);
    assert_ptr_equal(p, r[1]);
    assert_int_equal(mem_usable_size(g_ctx, p), 2u * C64 - MEM_CHUNK_OVERHEAD);
    assert_true(check_pattern(p, 100, 4));
    st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, before.nb_chunks - 1u);
    assert_int_equal(st.free_size, before.free_size - C64);
    assert_true(is_allocated_chunk(g_ctx, p, 2u * C64));
    assert_true(is_allocated_chunk(g_ctx, r[3], C64));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

/* The neighbour is only 8 bytes (with hardening also: 16 bytes) larger than
 * needed: a remainder below the minimal chunk is absorbed, still in place. */
static void test_realloc_grow_absorbs_small_remainder(void **state)
{
    (void)state;
    const size_t cb = chunk_len_for(20);
    for (size_t rest = 8u; rest < MEM_MIN_CHUNK; rest += 8u) {
        uint8_t *a = mem_alloc(g_ctx, 64);   /* C64 */
        uint8_t *b = mem_alloc(g_ctx, 20);   /* cb */
        uint8_t *c = mem_alloc(g_ctx, 64);   /* guard */
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(c);
        uint8_t *lo = a;
        uint8_t *hi = c;
        if (addr_of(b) != addr_of(a) + C64) {
            /* allocations grow downwards: a is after b */
            assert_int_equal(addr_of(a), addr_of(b) + cb);
            assert_int_equal(addr_of(b), addr_of(c) + C64);
            lo = c;
            hi = a;
        }
        fill_pattern(lo, usable_for(64), 5);
        mem_free(g_ctx, b);
        mem_stat_t before = get_stat(g_ctx);
        /* needs C64 + cb - rest of C64 + cb */
        uint8_t *p = mem_realloc(g_ctx, lo, C64 + cb - rest - MEM_CHUNK_OVERHEAD);
        assert_ptr_equal(p, lo);
        assert_int_equal(mem_usable_size(g_ctx, p),
                         usable_in_chunk(C64 + cb, C64 + cb - rest - MEM_CHUNK_OVERHEAD));
        assert_true(check_pattern(p, usable_for(64), 5));
        mem_stat_t st = get_stat(g_ctx);
        assert_int_equal(st.nb_chunks, before.nb_chunks - 1u);
        assert_int_equal(st.free_size, before.free_size - cb);
        assert_true(is_allocated_chunk(g_ctx, p, C64 + cb));
        assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
        mem_free(g_ctx, p);
        mem_free(g_ctx, hi);
        st = get_stat(g_ctx);
        assert_true(stat_equal(&st, &g_fresh));
    }
}

/* A chunk followed by the free rest of the heap grows in place. */
static void test_realloc_grow_into_free_rest(void **state)
{
    (void)state;
    uint8_t *a = mem_alloc(g_ctx, 64);
    assert_non_null(a);
    fill_pattern(a, usable_for(64), 6);
    bool alloc_after = true;
    bool rest_after = find_chunk(g_ctx, a + C64, &alloc_after, NULL) && !alloc_after;
    uint8_t *p = mem_realloc(g_ctx, a, 4000);
    assert_non_null(p);
    if (rest_after) {
        assert_ptr_equal(p, a);
    }
    assert_true(check_pattern(p, usable_for(64), 6));
    assert_true(is_allocated_chunk(g_ctx, p, chunk_len_for(4000)));
    mem_stat_t st = get_stat(g_ctx);
    if (rest_after) {
        assert_int_equal(st.nb_chunks, 2);
    }
    assert_int_equal(st.nb_allocated, 1);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

/* Neighbours allocated on both sides: the chunk moves, the content follows
 * byte for byte and the old chunk is freed. */
static void test_realloc_grow_must_move(void **state)
{
    (void)state;
    fault_recorder_install(g_ctx, &g_faults);
    uint8_t *r[3];
    alloc_row(r, 3, 64);
    fill_pattern(r[1], usable_for(64), 7);
    fill_pattern(r[0], usable_for(64), 8);
    fill_pattern(r[2], usable_for(64), 9);
    mem_stat_t before = get_stat(g_ctx);
    uint8_t *p = mem_realloc(g_ctx, r[1], 1000);
    assert_non_null(p);
    assert_true(p != r[1]);
    assert_true(is_aligned8(p));
    assert_int_equal(mem_usable_size(g_ctx, p), usable_for(1000));
    assert_true(check_pattern(p, usable_for(64), 7));
    assert_true(check_pattern(r[0], usable_for(64), 8));
    assert_true(check_pattern(r[2], usable_for(64), 9));
    assert_true(is_free_chunk(g_ctx, r[1], C64));
    assert_true(no_fault(&g_faults));
    assert_int_equal(mem_usable_size(g_ctx, r[1]), 0);
    assert_true(misuse_reported(r[1], MEM_FAULT_DOUBLE_FREE));
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_allocated, before.nb_allocated);
    assert_int_equal(st.allocated_size, before.allocated_size - C64 + chunk_len_for(1000));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
    /* the old pointer is no longer valid: reported, nothing written */
    heap_snapshot();
    mem_free(g_ctx, r[1]);
    assert_true(misuse_reported(r[1], MEM_FAULT_DOUBLE_FREE));
    assert_null(mem_realloc(g_ctx, r[1], 10));
    assert_true(misuse_reported(r[1], MEM_FAULT_DOUBLE_FREE));
    assert_true(heap_bytes_unchanged());
    assert_true(mem_check(g_ctx));
    assert_true(no_fault(&g_faults));
}

/* The only free memory is a minimal chunk right before the chunk: growing
 * slides the chunk down over itself (overlapping copy). */
static void test_realloc_slide_down_into_free_prev(void **state)
{
    (void)state;
    uint8_t *small[2];
    small[0] = mem_alloc(g_ctx, 8);
    uint8_t *a = mem_alloc(g_ctx, 400); /* C400 */
    small[1] = mem_alloc(g_ctx, 8);
    assert_non_null(small[0]);
    assert_non_null(a);
    assert_non_null(small[1]);
    sort_by_address(small, 2);
    assert_int_equal(C8, MEM_MIN_CHUNK);
    assert_int_equal(addr_of(a), addr_of(small[0]) + C8);
    assert_int_equal(addr_of(small[1]), addr_of(a) + C400);
    fill_heap();
    fill_pattern(a, usable_for(400), 10);
    mem_free(g_ctx, small[0]);
    mem_stat_t before = get_stat(g_ctx);
    assert_int_equal(before.free_size, C8);

    /* needs C8 + C400 - 8 of C8 + C400 */
    const size_t want = C8 + C400 - 8u - MEM_CHUNK_OVERHEAD;
    uint8_t *p = mem_realloc(g_ctx, a, want);
    assert_ptr_equal(p, small[0]);
    assert_int_equal(mem_usable_size(g_ctx, p), usable_in_chunk(C8 + C400, want));
    assert_true(check_pattern(p, usable_for(400), 10));
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.free_size, 0);
    assert_int_equal(st.nb_chunks, before.nb_chunks - 1u);
    assert_int_equal(st.nb_allocated, before.nb_allocated);
    assert_true(is_allocated_chunk(g_ctx, p, C8 + C400));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

/* Free chunks on both sides and nothing else free: whether the allocator
 * uses both at once or refuses, the content and the heap stay right. */
static void test_realloc_grow_between_two_free_chunks(void **state)
{
    (void)state;
    uint8_t *small[2];
    small[0] = mem_alloc(g_ctx, 8);
    uint8_t *a = mem_alloc(g_ctx, 400);
    small[1] = mem_alloc(g_ctx, 8);
    assert_non_null(small[0]);
    assert_non_null(a);
    assert_non_null(small[1]);
    sort_by_address(small, 2);
    assert_int_equal(addr_of(a), addr_of(small[0]) + C8);
    fill_heap();
    fill_pattern(a, usable_for(400), 11);
    mem_free(g_ctx, small[0]);
    mem_free(g_ctx, small[1]);
    mem_stat_t before = get_stat(g_ctx);
    /* needs 2 * C8 + C400 - 8 of C8 + C400 + C8 */
    uint8_t *p = mem_realloc(g_ctx, a, 2u * C8 + C400 - 8u - MEM_CHUNK_OVERHEAD);
    if (p == NULL) {
        mem_stat_t st = get_stat(g_ctx);
        assert_true(stat_equal(&before, &st));
        assert_true(check_pattern(a, usable_for(400), 11));
        assert_true(is_allocated_chunk(g_ctx, a, C400));
    } else {
        assert_ptr_equal(p, small[0]);
        assert_true(check_pattern(p, usable_for(400), 11));
        assert_true(is_allocated_chunk(g_ctx, p, 2u * C8 + C400));
        assert_int_equal(get_stat(g_ctx).free_size, 0);
    }
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

static void test_realloc_failure_huge_leaves_chunk(void **state)
{
    (void)state;
    uint8_t *r[3];
    alloc_row(r, 3, 64);
    fill_pattern(r[1], usable_for(64), 12);
    mem_stat_t before = get_stat(g_ctx);
    const size_t sizes[] = {
        SIZE_MAX, SIZE_MAX - 3u, SIZE_MAX - 7u, SIZE_MAX - 8u,
#if SIZE_MAX > UINT32_MAX
        /* 64-bit size_t: sizes whose low 32 bits are 0 or small */
        (size_t)UINT32_MAX + 1u, (size_t)UINT32_MAX + 1u + 64u,
#else
        /* 32-bit size_t: sizes that wrap once the header and canary are
         * added, and the top half (past the 2 GiB clamp) */
        SIZE_MAX - 11u, SIZE_MAX - 12u, SIZE_MAX / 2u + 1u, SIZE_MAX / 2u + 1u + 64u,
#endif
        (size_t)UINT32_MAX - 3u, MEM_MAX_HEAP_SIZE, HEAP_SIZE,
        before.largest_free_size + C64,
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        heap_snapshot();
        assert_null(mem_realloc(g_ctx, r[1], sizes[i]));
        assert_true(heap_bytes_unchanged());
        mem_stat_t st = get_stat(g_ctx);
        assert_true(stat_equal(&before, &st));
    }
    assert_true(check_pattern(r[1], usable_for(64), 12));
    assert_int_equal(mem_usable_size(g_ctx, r[1]), usable_for(64));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
    /* still owned: it can be resized and freed */
    assert_ptr_equal(mem_realloc(g_ctx, r[1], 16), r[1]);
    mem_free(g_ctx, r[1]);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

/* Not enough memory anywhere (some free, but not enough): NULL, and the
 * chunk, its content and the layout stay as they were. */
static void test_realloc_failure_no_memory(void **state)
{
    (void)state;
    uint8_t *r[5];
    alloc_row(r, 5, 100); /* C100-byte chunks */
    fill_heap();
    mem_free(g_ctx, r[3]);
    mem_free(g_ctx, r[0]);
    fill_pattern(r[1], 100, 13);
    fill_pattern(r[2], 100, 14);
    mem_stat_t before = get_stat(g_ctx);
    assert_int_equal(before.free_size, 2u * C100);
    for (size_t size = 320; size <= 2000; size += 8) {
        assert_null(mem_realloc(g_ctx, r[2], size));
        mem_stat_t st = get_stat(g_ctx);
        assert_true(stat_equal(&before, &st));
    }
    assert_true(check_pattern(r[1], 100, 13));
    assert_true(check_pattern(r[2], 100, 14));
    assert_true(is_free_chunk(g_ctx, r[0], C100));
    assert_true(is_allocated_chunk(g_ctx, r[1], C100));
    assert_true(is_allocated_chunk(g_ctx, r[2], C100));
    assert_true(is_free_chunk(g_ctx, r[3], C100));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

static void test_realloc_bad_pointer(void **state)
{
    (void)state;
    fault_recorder_install(g_ctx, &g_faults);
    uint8_t *r[3];
    alloc_row(r, 3, 64);
    memset(r[0], 0, usable_for(64));
    mem_free(g_ctx, r[1]);
    uint64_t local = 0;
    static uint64_t elsewhere[32];
    static uint64_t other_buf[512];
    static fault_recorder_t other_faults;
    mem_ctx_t other = mem_init(other_buf, sizeof other_buf);
    assert_non_null(other);
    fault_recorder_install(other, &other_faults);
    void *foreign = mem_alloc(other, 64);
    assert_non_null(foreign);
    const mem_fault_t invalid = MEM_FAULT_INVALID_POINTER;
    const struct {
        void *p;
        mem_fault_t code;
    } bad[] = {
        {r[0] + 1, invalid}, {r[0] + 4, invalid}, {r[0] + 8, invalid},
        {r[1], MEM_FAULT_DOUBLE_FREE}, {(uint8_t *)g_ctx + 8, invalid},
        {end_of_chunks(g_ctx), invalid}, {&local, invalid}, {elsewhere + 2, invalid},
        {foreign, invalid}, {(uint8_t *)g_heap + HEAP_SIZE, invalid},
        {(void *)(uintptr_t)8u, invalid},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        static const size_t sizes[] = {0, 1, 64, 1000};
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            heap_snapshot();
            assert_null(mem_realloc(g_ctx, bad[i].p, sizes[k]));
            if (g_faults.calls != 1u || g_faults.last != bad[i].code) {
                print_message("mem_realloc(bad pointer #%zu, %zu) reported %u fault(s), last %s\n",
                              i, sizes[k], g_faults.calls, mem_fault_name(g_faults.last));
            }
            if (!heap_bytes_unchanged()) {
                print_message("mem_realloc(bad pointer #%zu, %zu) wrote to the heap\n", i,
                              sizes[k]);
            }
            expect_misuse(&g_faults, bad[i].p, bad[i].code);
        }
    }
    assert_int_equal(local, 0);
    assert_true(all_bytes(elsewhere, sizeof elsewhere, 0));
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
    assert_true(heap_consistent(other));
    assert_true(is_allocated_chunk(other, foreign, C64));
    assert_true(no_fault(&g_faults));
    assert_true(no_fault(&other_faults));
    mem_free(other, foreign);
    assert_int_equal(get_stat(other).nb_allocated, 0);
}

/* Random resizes of a few chunks: the content up to min(old, new) always
 * follows the chunk, whatever path realloc takes. */
static void test_realloc_random_content_preserved(void **state)
{
    (void)state;
    enum { SLOTS = 12, STEPS = 3000 };
    uint8_t *ptr[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    size_t tag[SLOTS] = {0};
    uint64_t seed = 0xC0FFEE1234567ull;
    size_t sum = g_fresh.free_size;
    for (size_t step = 0; step < STEPS; step++) {
        size_t s = rand_range(&seed, 0, SLOTS - 1u);
        size_t want = rand_range(&seed, 0, 9) == 0 ? 0 : rand_range(&seed, 1, 2500);
        uint8_t *p = mem_realloc(g_ctx, ptr[s], want);
        if (want == 0) {
            assert_null(p);
            ptr[s] = NULL;
            len[s] = 0;
        } else if (p == NULL) {
            /* out of memory: the old chunk stays as it was */
            if (ptr[s] != NULL) {
                assert_true(check_pattern(ptr[s], len[s], tag[s]));
            }
        } else {
            assert_true(is_aligned8(p));
            assert_int_equal(mem_usable_size(g_ctx, p), usable_in_chunk(chunk_len_of(p), want));
            size_t keep = len[s] < want ? len[s] : want;
            assert_true(check_pattern(p, keep, tag[s]));
            ptr[s] = p;
            len[s] = want;
            tag[s] = step;
            fill_pattern(p, want, tag[s]);
        }
        if (step % 64u == 0) {
            assert_true(heap_consistent_sum(g_ctx, sum));
        }
    }
    for (size_t s = 0; s < SLOTS; s++) {
        if (ptr[s] != NULL) {
            assert_true(check_pattern(ptr[s], len[s], tag[s]));
            mem_free(g_ctx, ptr[s]);
        }
    }
    mem_stat_t st = get_stat(g_ctx);
    assert_true(stat_equal(&st, &g_fresh));
}

#define T(f) FIXTURE_TEST(f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_realloc_null_ptr_allocates),
        T(test_realloc_size_zero_frees),
        T(test_realloc_same_size_keeps_chunk),
        T(test_realloc_shrink_in_place),
        T(test_realloc_shrink_merges_with_free_next),
        T(test_realloc_grow_into_free_next),
        T(test_realloc_grow_absorbs_small_remainder),
        T(test_realloc_grow_into_free_rest),
        T(test_realloc_grow_must_move),
        T(test_realloc_slide_down_into_free_prev),
        T(test_realloc_grow_between_two_free_chunks),
        T(test_realloc_failure_huge_leaves_chunk),
        T(test_realloc_failure_no_memory),
        T(test_realloc_bad_pointer),
        T(test_realloc_random_content_preserved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
