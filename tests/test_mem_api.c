/**
 * @file test_mem_api.c
 * @brief Unit tests of mem_init, mem_alloc, mem_usable_size and of every
 *        function's handling of a bad context.
 */

#include "test_fixture.h"

/* Larger scratch buffer for tests that need room around the heap. */
static uint64_t g_big[(64u * 1024u) / 8u];

/* Never given to mem_init: no heap the library made, whatever it holds. */
static uint64_t g_never[HEAP_SIZE / 8u];

/* ------------------------------------------------------------------------ */
/* Bad contexts                                                             */
/* ------------------------------------------------------------------------ */

static bool never_called_cb(void *data, uint8_t *addr, bool allocated, size_t size)
{
    (void)addr;
    (void)allocated;
    (void)size;
    (*(unsigned *)data)++;
    return false;
}

/* The real heap around calls given another heap or no heap: its bytes and
 * the usable size of its block p_real before them, and a recorder for its
 * handler. After them real_heap_untouched asserts that none of it changed,
 * that the heap is consistent and that its handler stayed silent. */
static uint8_t g_heap_before[HEAP_SIZE];
static size_t g_usable_before;
static fault_recorder_t g_real_faults;

static void real_heap_snapshot(void *p_real)
{
    fault_recorder_install(g_ctx, &g_real_faults);
    raw_read(g_heap_before, g_heap, sizeof g_heap);
    g_usable_before = mem_usable_size(g_ctx, p_real);
}

static void real_heap_untouched(void *p_real)
{
    assert_true(raw_equal(g_heap_before, g_heap, sizeof g_heap));
    assert_int_equal(mem_usable_size(g_ctx, p_real), g_usable_before);
    assert_true(heap_consistent(g_ctx));
    assert_true(no_fault(&g_real_faults));
    assert_int_equal(mem_last_fault(g_ctx), MEM_FAULT_NONE);
}

/* Every call with a bad ctx (no heap mem_init made) is a no-op that does
 * not touch the real heap or the memory designated by the bad ctx, and
 * reports nothing: there is no heap whose handler to call (the real heap's
 * recorder stays silent).
 * in_metadata: bad points into the real heap's metadata, which memcheck
 * rightly reports the allocator reading (to find no heap there) as an
 * invalid read: the calls with it run with memcheck's reporting off. */
static void exercise_bad_ctx_at(mem_ctx_t bad, void *p_real, bool check_stat, bool in_metadata)
{
    real_heap_snapshot(p_real);

    if (in_metadata) {
        RAW_QUIET_BEGIN();
    }
    void *alloc16 = mem_alloc(bad, 16);
    void *alloc1 = mem_alloc(bad, 1);
    void *realloc_null = mem_realloc(bad, NULL, 16);
    void *realloc64 = mem_realloc(bad, p_real, 64);
    void *realloc8 = mem_realloc(bad, p_real, 8);
    void *realloc0 = mem_realloc(bad, p_real, 0);
    mem_free(bad, p_real);
    mem_free(bad, NULL);
    unsigned calls = 0;
    mem_parse(bad, never_called_cb, &calls);
    mem_parse(bad, NULL, NULL);
    bool checked = mem_check(bad);
    size_t usable = mem_usable_size(bad, p_real);
    size_t usable_null = mem_usable_size(bad, NULL);
    mem_stat_t st;
    memset(&st, 0xFF, sizeof st);
    if (check_stat) {
        mem_stat(bad, &st);
    }
    if (in_metadata) {
        RAW_QUIET_END();
    }
    assert_null(alloc16);
    assert_null(alloc1);
    assert_null(realloc_null);
    assert_null(realloc64);
    assert_null(realloc8);
    assert_null(realloc0);
    assert_int_equal(calls, 0);
    assert_false(checked);
    assert_int_equal(usable, 0);
    assert_int_equal(usable_null, 0);
    if (check_stat) {
        assert_true(stat_is_zero(&st));
    }

    real_heap_untouched(p_real);
}

static void exercise_bad_ctx(mem_ctx_t bad, void *p_real, bool check_stat)
{
    exercise_bad_ctx_at(bad, p_real, check_stat, false);
}

/* A live block of the real heap, offered to every call with a bad ctx. */
static void *real_block(void)
{
    void *p = mem_alloc(g_ctx, 40);
    assert_non_null(p);
    return p;
}

/* g_never, whatever it holds now, as the bad ctx: it is left byte for
 * byte as it was. */
static void exercise_never_unchanged(void *p_real)
{
    static uint64_t copy[sizeof g_never / 8u];
    memcpy(copy, g_never, sizeof g_never);
    exercise_bad_ctx(g_never, p_real, true);
    assert_memory_equal(copy, g_never, sizeof g_never);
}

static void test_bad_ctx_null(void **state)
{
    (void)state;
    void *p = real_block();
    exercise_bad_ctx(NULL, p, true);
}

static void test_bad_ctx_zeroed_buffer(void **state)
{
    (void)state;
    void *p = real_block();
    raw_buffer_reset(g_never, sizeof g_never, 0);
    exercise_bad_ctx(g_never, p, true);
    assert_true(all_bytes(g_never, sizeof g_never, 0));
}

static void test_bad_ctx_garbage_buffer(void **state)
{
    (void)state;
    void *p = real_block();
    raw_buffer_reset(g_never, sizeof g_never, 0);
    uint64_t seed = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < sizeof g_never / 8u; i++) {
        g_never[i] = xorshift64(&seed);
    }
    /* mem_stat reads the first word as the SDK's &ctx form: an aligned
     * address there is followed only to a heap the library made */
    g_never[0] = (uint64_t)addr_of(&g_never[8]);
    exercise_never_unchanged(p);
}

/* A byte-for-byte copy of a live heap at an address mem_init never saw is
 * no heap: its identity words name the original's address. */
static void test_bad_ctx_copy_of_a_heap(void **state)
{
    (void)state;
    void *p = real_block();
    raw_buffer_reset(g_never, sizeof g_never, 0);
    raw_read(g_never, g_heap, sizeof g_never);
    exercise_never_unchanged(p);
}

/* A pointer inside a real heap or misaligned from it is not a context, and
 * mem_stat follows the word found there only to a heap the library made. */
static void test_bad_ctx_inside_real_heap(void **state)
{
    (void)state;
    void *p = real_block();
    memset(p, 0, 40);
    uint8_t *c = g_ctx;
    exercise_bad_ctx_at(c + 1, p, true, true);
    exercise_bad_ctx_at(c + 4, p, true, true);
    exercise_bad_ctx_at(c + 8, p, true, true);
    exercise_bad_ctx_at(c + 64, p, true, true);
    exercise_bad_ctx(p, p, true);
}

/* The address of a mem_ctx_t variable is accepted by mem_stat only. */
static void test_bad_ctx_address_of_variable(void **state)
{
    (void)state;
    void *p = real_block();
    mem_ctx_t var = g_ctx;
    exercise_bad_ctx(&var, p, false);
    assert_ptr_equal(var, g_ctx);
}

/* One call on a damaged heap: exactly one MEM_FAULT_CORRUPT_CONTEXT about
 * addr reached its recorder r. */
#define EXPECT_CORRUPT_CONTEXT_AT(r, bad, addr) \
    assert_true(fault_seen((r), (bad), MEM_FAULT_CORRUPT_CONTEXT, (addr)))
#define EXPECT_CORRUPT_CONTEXT(r, bad) EXPECT_CORRUPT_CONTEXT_AT((r), (bad), (bad))

/*
 * Every call on bad, a heap mem_init made (the library's table remembers
 * it) whose context was damaged, reports MEM_FAULT_CORRUPT_CONTEXT to its
 * handler (the recorder r), once, and does nothing: NULL, false, 0 or
 * zeroed statistics. The report is about the heap, also for a call given a
 * pointer, at every level. A NULL pointer or callback returns before the
 * heap is looked at. The setters refuse without a report, and the handler
 * stays.
 * In the damaged heap's buffer [buf, buf + len) only the failed state is
 * written (the code, and the context checksum that covers it); the real
 * heap, whose block p_real is offered, is untouched and its handler silent.
 */
static void exercise_damaged_ctx(mem_ctx_t bad, fault_recorder_t *r, void *p_real, const void *buf,
                                 size_t len)
{
    static uint8_t bad_before[HEAP_SIZE];
    static uint8_t bad_after[HEAP_SIZE];
    assert_true(len <= sizeof bad_before);
    real_heap_snapshot(p_real);
    raw_read(bad_before, buf, len);
    const void *about_p = bad; /* a context fault is about the heap, at every level */
    fault_recorder_clear(r);

    /* known as damaged before any call met it, without a report */
    assert_int_equal(mem_last_fault(bad), MEM_FAULT_CORRUPT_CONTEXT);
    assert_true(no_fault(r));
    assert_null(mem_alloc(bad, 16));
    EXPECT_CORRUPT_CONTEXT(r, bad);
    assert_null(mem_alloc(bad, 1));
    EXPECT_CORRUPT_CONTEXT(r, bad);
    assert_null(mem_realloc(bad, NULL, 16));
    EXPECT_CORRUPT_CONTEXT(r, bad);
    assert_null(mem_realloc(bad, p_real, 64));
    EXPECT_CORRUPT_CONTEXT_AT(r, bad, about_p);
    assert_null(mem_realloc(bad, p_real, 8));
    EXPECT_CORRUPT_CONTEXT_AT(r, bad, about_p);
    assert_null(mem_realloc(bad, p_real, 0));
    EXPECT_CORRUPT_CONTEXT_AT(r, bad, about_p);
    mem_free(bad, p_real);
    EXPECT_CORRUPT_CONTEXT_AT(r, bad, about_p);
    mem_free(bad, NULL);
    assert_true(no_fault(r));
    unsigned calls = 0;
    mem_parse(bad, never_called_cb, &calls);
    EXPECT_CORRUPT_CONTEXT(r, bad);
    assert_int_equal(calls, 0);
    mem_parse(bad, NULL, NULL);
    assert_true(no_fault(r));
    assert_false(mem_check(bad));
    EXPECT_CORRUPT_CONTEXT(r, bad);
    assert_int_equal(mem_usable_size(bad, p_real), 0);
    EXPECT_CORRUPT_CONTEXT_AT(r, bad, about_p);
    assert_int_equal(mem_usable_size(bad, NULL), 0);
    assert_true(no_fault(r));
    mem_stat_t st;
    memset(&st, 0xFF, sizeof st);
    mem_stat(bad, &st);
    EXPECT_CORRUPT_CONTEXT(r, bad);
    assert_true(stat_is_zero(&st));
    mem_ctx_t var = bad; /* the SDK's &ctx form reaches the same heap */
    memset(&st, 0xFF, sizeof st);
    mem_stat(&var, &st);
    EXPECT_CORRUPT_CONTEXT(r, bad);
    assert_true(stat_is_zero(&st));
    assert_int_equal(mem_last_fault(bad), MEM_FAULT_CORRUPT_CONTEXT);
    assert_false(mem_set_fault_handler(bad, NULL, NULL));
    assert_false(mem_set_check_interval(bad, 1));
    assert_true(no_fault(r));
    assert_null(mem_alloc(bad, 16)); /* still its recorder, not the default */
    EXPECT_CORRUPT_CONTEXT(r, bad);

    raw_read(bad_after, buf, len);
    size_t changed = 0;
    bool code_written = false;
    for (size_t i = 0; i + 4u <= len; i += 4u) {
        if (memcmp(bad_after + i, bad_before + i, 4u) != 0) {
            changed++;
            code_written = code_written || raw_get32(bad_after + i) == (uint32_t)MEM_FAULT_CORRUPT_CONTEXT;
        }
    }
    assert_in_range(changed, 1, 2);
    assert_true(code_written);

    real_heap_untouched(p_real);
}

/* A second heap, in the first 4096 bytes of g_big, its faults recorded by r. */
static mem_ctx_t other_heap(fault_recorder_t *r)
{
    raw_buffer_reset(g_big, sizeof g_big, 0);
    mem_ctx_t other = mem_init(g_big, 4096);
    assert_non_null(other);
    fault_recorder_install(other, r);
    return other;
}

/* A heap whose buffer was wiped is still one the library made: damaged,
 * and reported. */
static void test_bad_ctx_wiped_heap(void **state)
{
    (void)state;
    static fault_recorder_t other_faults;
    mem_ctx_t other = other_heap(&other_faults);
    assert_true(mem_check(other));
    raw_buffer_reset(g_big, 4096, 0);
    exercise_damaged_ctx(other, &other_faults, real_block(), g_big, 4096);
}

/* A heap whose first word (its identity) was overwritten is still one the
 * library made: damaged, and reported. */
static void test_bad_ctx_first_word_changed(void **state)
{
    (void)state;
    static fault_recorder_t other_faults;
    mem_ctx_t other = other_heap(&other_faults);
    void *q = mem_alloc(other, 100);
    assert_non_null(q);
    assert_true(mem_check(other));
    raw_flip(other, 4);
    exercise_damaged_ctx(other, &other_faults, real_block(), g_big, 4096);
    /* its block is refused with the rest */
    mem_free(other, q);
    EXPECT_CORRUPT_CONTEXT_AT(&other_faults, other, (void *)other);
}

/* ------------------------------------------------------------------------ */
/* mem_init                                                                 */
/* ------------------------------------------------------------------------ */

static void test_init_null_buffer(void **state)
{
    (void)state;
    assert_null(mem_init(NULL, HEAP_SIZE));
    assert_null(mem_init(NULL, 0));
    assert_null(mem_init(NULL, MEM_MIN_HEAP_SIZE));
    assert_null(mem_init(NULL, MEM_MAX_HEAP_SIZE + 1u));
}

static void test_init_too_small(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 7, 8, 16, 100, MEM_MIN_HEAP_SIZE - 1u};
    uint8_t *base = (uint8_t *)g_big + 64;
    for (size_t m = 0; m < 8; m++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            raw_buffer_reset(g_big, 1024, 0x5C);
            assert_null(mem_init(base + m, sizes[i]));
        }
    }
}

/* MEM_MIN_HEAP_SIZE works at every misalignment; everything stays inside
 * the buffer and payloads are aligned. */
static void test_init_min_size_every_misalignment(void **state)
{
    (void)state;
    uint8_t *base = (uint8_t *)g_big + 256;
    for (size_t m = 0; m < 8; m++) {
        raw_buffer_reset(g_big, 2048, 0xCC);
        uint8_t *start = base + m;
        uintptr_t lo = addr_of(start);
        uintptr_t hi = lo + MEM_MIN_HEAP_SIZE;
        mem_ctx_t ctx = mem_init(start, MEM_MIN_HEAP_SIZE);
        assert_non_null(ctx);
        assert_int_equal(addr_of(ctx), (lo + 7u) & ~(uintptr_t)7u);

        mem_stat_t st = get_stat(ctx);
        assert_int_equal(st.total_size, MEM_MIN_HEAP_SIZE);
        assert_int_equal(st.nb_chunks, 1);
        assert_int_equal(st.nb_allocated, 0);
        assert_int_equal(st.allocated_size, 0);
        assert_true(st.free_size >= MEM_MIN_CHUNK);
        assert_int_equal(st.largest_free_size, st.free_size);
        assert_true(heap_consistent(ctx));
        size_t sum = st.free_size;

        /* fill with the smallest chunks, writing every usable byte */
        void *ptrs[64];
        size_t n = 0;
        for (;;) {
            void *p = mem_alloc(ctx, 1);
            if (p == NULL) {
                break;
            }
            assert_true(n < 64u);
            assert_true(is_aligned8(p));
            size_t u = mem_usable_size(ctx, p);
            assert_int_equal(u, usable_in_chunk(chunk_len_of(p), 1));
            assert_true(addr_of(p) - 8u >= lo); /* the chunk starts 8 bytes before */
            assert_true(addr_of(p) + u <= hi);
            memset(p, 0x11, u);
            ptrs[n++] = p;
        }
        assert_true(n >= 1u);
        assert_true(heap_consistent_sum(ctx, sum));
        for (size_t i = 0; i < n; i++) {
            mem_free(ctx, ptrs[i]);
        }
        mem_stat_t after = get_stat(ctx);
        assert_true(stat_equal(&st, &after));

        /* the one free chunk in full */
        void *p = mem_alloc(ctx, st.largest_free_size - MEM_CHUNK_OVERHEAD);
        assert_non_null(p);
        assert_true(is_aligned8(p));
        size_t u = mem_usable_size(ctx, p);
        assert_int_equal(u, st.largest_free_size - MEM_CHUNK_OVERHEAD);
        assert_true(addr_of(p) + u <= hi);
        memset(p, 0x22, u);
        assert_true(heap_consistent_sum(ctx, sum));
        mem_free(ctx, p);
        assert_true(heap_consistent_sum(ctx, sum));

        /* nothing outside [start, start + MEM_MIN_HEAP_SIZE) was written */
        assert_true(all_bytes(g_big, 256u + m, 0xCC));
        assert_true(all_bytes(start + MEM_MIN_HEAP_SIZE, 2048u - 256u - m - MEM_MIN_HEAP_SIZE,
                              0xCC));
    }
}

/* total_size reports the size given, whatever the alignment of the buffer. */
static void test_init_total_size_is_size_given(void **state)
{
    (void)state;
    static const size_t sizes[] = {MEM_MIN_HEAP_SIZE, 257, 263, 1000, 4097, 32768};
    for (size_t m = 0; m < 8; m++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            uint8_t *start = (uint8_t *)g_big + m;
            mem_ctx_t ctx = mem_init(start, sizes[i]);
            assert_non_null(ctx);
            mem_stat_t st = get_stat(ctx);
            assert_int_equal(st.total_size, sizes[i]);
            assert_int_equal(st.nb_chunks, 1);
            assert_int_equal(st.largest_free_size, st.free_size);
            assert_true(st.free_size < sizes[i]);
            assert_true(heap_consistent(ctx));
        }
    }
}

static void test_init_wrapping_buffer(void **state)
{
    (void)state;
    assert_null(mem_init((void *)(uintptr_t)(UINTPTR_MAX - 127u), MEM_MIN_HEAP_SIZE));
    assert_null(mem_init((void *)(uintptr_t)(UINTPTR_MAX - 3u), MEM_MIN_HEAP_SIZE));
    assert_null(mem_init((void *)(uintptr_t)(UINTPTR_MAX - 4095u), 8192));
    assert_null(mem_init((void *)(uintptr_t)(UINTPTR_MAX & ~(uintptr_t)0xFFFFFu),
                         MEM_MAX_HEAP_SIZE));
    /* a real start address with a length that wraps */
    assert_null(mem_init(g_big, SIZE_MAX));
    assert_null(mem_init(g_big, SIZE_MAX - addr_of(g_big) + 2u));
}

static void test_init_fresh_heap(void **state)
{
    (void)state;
    assert_ptr_equal(g_ctx, g_heap);
    assert_int_equal(g_fresh.total_size, HEAP_SIZE);
    assert_int_equal(g_fresh.nb_chunks, 1);
    assert_int_equal(g_fresh.nb_allocated, 0);
    assert_int_equal(g_fresh.allocated_size, 0);
    assert_int_equal(g_fresh.free_size % 8u, 0);
    assert_int_equal(g_fresh.largest_free_size, g_fresh.free_size);
    /* context + sentinel take room, but not most of the heap */
    assert_true(g_fresh.free_size <= HEAP_SIZE - 8u - 16u);
    assert_true(g_fresh.free_size >= HEAP_SIZE / 2u);
    /* the context takes exactly 80 + 32 * (floor(log2(32 KiB - 88)) - 4) +
     * 128 = 528 bytes (the last 128: the 32 quick-list heads of a heap that
     * large, none at paranoid: 400 there): the free chunk starts (8 bytes
     * before its payload) right after it and ends 8 bytes (the sentinel)
     * before the heap's end */
    const size_t ctx_bytes = 80u + 32u * (14u - 4u) + (MEM_HARDENING < 2 ? 128u : 0u);
    uint8_t *first = largest_free_addr(g_ctx);
    assert_non_null(first);
    assert_int_equal(addr_of(first) - 8u - addr_of(g_ctx), ctx_bytes);
    assert_int_equal(g_fresh.free_size, HEAP_SIZE - ctx_bytes - 8u);
    assert_true(heap_consistent(g_ctx));
}

static void test_init_reinit_discards_chunks(void **state)
{
    (void)state;
    for (size_t i = 1; i < 50; i++) {
        assert_non_null(mem_alloc(g_ctx, i * 7u));
    }
    assert_int_equal(get_stat(g_ctx).nb_allocated, 49);
    mem_ctx_t again = mem_init(g_heap, sizeof g_heap);
    assert_ptr_equal(again, g_ctx);
    mem_stat_t st = get_stat(again);
    assert_true(stat_equal(&st, &g_fresh));
    assert_true(heap_consistent(again));
    void *p = mem_alloc(again, g_fresh.largest_free_size - MEM_CHUNK_OVERHEAD);
    assert_non_null(p);

    /* re-initializing with another size */
    again = mem_init(g_heap, HEAP_SIZE / 2u);
    assert_non_null(again);
    st = get_stat(again);
    assert_int_equal(st.total_size, HEAP_SIZE / 2u);
    assert_int_equal(st.nb_chunks, 1);
    assert_true(heap_consistent(again));
}

/* ------------------------------------------------------------------------ */
/* mem_alloc                                                                */
/* ------------------------------------------------------------------------ */

static void test_alloc_zero(void **state)
{
    (void)state;
    assert_null(mem_alloc(g_ctx, 0));
    mem_stat_t st = get_stat(g_ctx);
    assert_true(stat_equal(&st, &g_fresh));
    assert_true(heap_consistent(g_ctx));
}

static void test_alloc_too_large(void **state)
{
    (void)state;
    void *keep = mem_alloc(g_ctx, 100);
    assert_non_null(keep);
    mem_stat_t before = get_stat(g_ctx);
    const size_t u32 = (size_t)UINT32_MAX;
    const size_t sizes[] = {
        SIZE_MAX,
        SIZE_MAX - 3u,
        SIZE_MAX - 4u,
        SIZE_MAX - 7u,
        SIZE_MAX - 8u,
        SIZE_MAX / 2u,
#if SIZE_MAX > UINT32_MAX
        /* 64-bit size_t: sizes whose low 32 bits are small or zero must not
         * be truncated into a request that fits */
        (size_t)1u << 63,
        u32 + 1u,
        u32 + 1u + 16u,
        u32 + 1u + HEAP_SIZE / 4u,
#else
        /* 32-bit size_t: the top half (past the 2 GiB clamp), and sizes
         * that wrap to a small number once the header and canary are added */
        SIZE_MAX / 2u + 1u,
        SIZE_MAX / 2u + 1u + 16u,
        SIZE_MAX - 11u,
        SIZE_MAX - 12u,
        SIZE_MAX - 15u,
#endif
        u32,
        u32 - 3u,
        u32 - 4u,
        u32 - 7u,
        MEM_MAX_HEAP_SIZE,
        MEM_MAX_HEAP_SIZE + 1u,
        HEAP_SIZE,
        HEAP_SIZE - 4u,
        before.largest_free_size - 3u,
        before.largest_free_size,
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = mem_alloc(g_ctx, sizes[i]);
        if (p != NULL) {
            print_message("mem_alloc(%zu) returned %p\n", sizes[i], p);
        }
        assert_null(p);
        mem_stat_t st = get_stat(g_ctx);
        assert_true(stat_equal(&st, &before));
    }
    assert_true(heap_consistent(g_ctx));
    assert_true(is_allocated_chunk(g_ctx, keep, chunk_len_for(100)));
    assert_non_null(mem_alloc(g_ctx, 100));
}

/* Asking for the largest free chunk minus the overhead is an exact fit. */
static void test_alloc_exact_fit_fresh(void **state)
{
    (void)state;
    size_t want = g_fresh.largest_free_size - MEM_CHUNK_OVERHEAD;
    assert_null(mem_alloc(g_ctx, want + 1u));
    void *p = mem_alloc(g_ctx, want);
    assert_non_null(p);
    assert_true(is_aligned8(p));
    assert_int_equal(mem_usable_size(g_ctx, p), want);
    memset(p, 0x77, want);
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.free_size, 0);
    assert_int_equal(st.largest_free_size, 0);
    assert_int_equal(st.nb_chunks, 1);
    assert_int_equal(st.nb_allocated, 1);
    assert_int_equal(st.allocated_size, g_fresh.free_size);
    assert_true(heap_consistent(g_ctx));
    assert_null(mem_alloc(g_ctx, 1));
    mem_free(g_ctx, p);
    st = get_stat(g_ctx);
    assert_true(stat_equal(&st, &g_fresh));
}

/* A chunk is split when the rest can hold a minimal chunk (MEM_MIN_CHUNK
 * bytes) and handed out whole when less would remain (8 bytes, and with
 * hardening 16 too). */
static void test_alloc_split_threshold(void **state)
{
    (void)state;
    const size_t whole = g_fresh.largest_free_size;
    /* rest of MEM_MIN_CHUNK: split */
    void *p = mem_alloc(g_ctx, whole - MEM_MIN_CHUNK - MEM_CHUNK_OVERHEAD);
    assert_non_null(p);
    assert_int_equal(mem_usable_size(g_ctx, p), whole - MEM_MIN_CHUNK - MEM_CHUNK_OVERHEAD);
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.nb_chunks, 2);
    assert_int_equal(st.free_size, MEM_MIN_CHUNK);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
    uint8_t *rest = largest_free_addr(g_ctx);
    assert_true(is_free_chunk(g_ctx, rest, MEM_MIN_CHUNK));
    void *q = mem_alloc(g_ctx, 1);
    assert_ptr_equal(q, rest);
    assert_int_equal(get_stat(g_ctx).free_size, 0);
    mem_free(g_ctx, q);
    mem_free(g_ctx, p);
    /* rest of 8 .. MEM_MIN_CHUNK - 8: the whole chunk */
    for (size_t rest_len = 8u; rest_len < MEM_MIN_CHUNK; rest_len += 8u) {
        p = mem_alloc(g_ctx, whole - rest_len - MEM_CHUNK_OVERHEAD);
        assert_non_null(p);
        assert_int_equal(chunk_len_of(p), whole);
        assert_int_equal(mem_usable_size(g_ctx, p),
                         usable_in_chunk(whole, whole - rest_len - MEM_CHUNK_OVERHEAD));
        st = get_stat(g_ctx);
        assert_int_equal(st.nb_chunks, 1);
        assert_int_equal(st.free_size, 0);
        assert_int_equal(st.allocated_size, whole);
        assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
        mem_free(g_ctx, p);
        st = get_stat(g_ctx);
        assert_true(stat_equal(&st, &g_fresh));
    }
}

/* Fill the heap with small chunks, free ten chunks of slightly different
 * sizes (200, 208, ..., 272 bytes, all between allocated neighbours): the
 * largest one is found by an exact-fit request even though rounding it up to
 * a size class finds nothing. */
static void test_alloc_exact_fit_fragmented(void **state)
{
    (void)state;
    void *holes[10];
    for (size_t i = 0; i < 10; i++) {
        assert_non_null(mem_alloc(g_ctx, 1));
        holes[i] = mem_alloc(g_ctx, 200u + 8u * i - MEM_CHUNK_OVERHEAD);
        assert_non_null(holes[i]);
        assert_true(is_allocated_chunk(g_ctx, holes[i], 200u + 8u * i));
    }
    assert_non_null(mem_alloc(g_ctx, 1));
    while (mem_alloc(g_ctx, 1) != NULL) {
    }
    assert_int_equal(get_stat(g_ctx).free_size, 0);
    for (size_t i = 0; i < 10; i++) {
        mem_free(g_ctx, holes[i]);
    }
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(st.largest_free_size, 272);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));

    assert_null(mem_alloc(g_ctx, 272u - MEM_CHUNK_OVERHEAD + 1u));
    void *p = mem_alloc(g_ctx, 272u - MEM_CHUNK_OVERHEAD);
    assert_ptr_equal(p, holes[9]);
    p = mem_alloc(g_ctx, 264u - MEM_CHUNK_OVERHEAD);
    assert_ptr_equal(p, holes[8]);
    /* the others still serve smaller requests exactly */
    for (size_t i = 8; i-- > 0;) {
        p = mem_alloc(g_ctx, 200u + 8u * i - MEM_CHUNK_OVERHEAD);
        assert_non_null(p);
        assert_int_equal(mem_usable_size(g_ctx, p), 200u + 8u * i - MEM_CHUNK_OVERHEAD);
    }
    assert_int_equal(get_stat(g_ctx).free_size, 0);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

/* Every size 1..600: aligned payload, chunk length as documented. */
static void test_alloc_sizes_1_to_600(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 600; n++) {
        void *p = mem_alloc(g_ctx, n);
        assert_non_null(p);
        assert_true(is_aligned8(p));
        size_t u = mem_usable_size(g_ctx, p);
        assert_true(u >= n);
        assert_int_equal(u, usable_for(n));
        mem_stat_t st = get_stat(g_ctx);
        assert_int_equal(st.allocated_size, chunk_len_for(n));
        assert_int_equal(st.nb_allocated, 1);
        assert_true(is_allocated_chunk(g_ctx, p, chunk_len_for(n)));
        assert_int_equal(header_of(p) & ~(uint32_t)HDR_FLAGS, chunk_len_for(n));
        assert_int_equal(header_of(p) & HDR_FREE, 0);
        memset(p, 0xAB, u);
        assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
        mem_free(g_ctx, p);
        st = get_stat(g_ctx);
        assert_true(stat_equal(&st, &g_fresh));
    }
}

/* All sizes 1..600 live at once (in a 256 KiB heap): aligned, disjoint,
 * inside the heap, contents independent. */
static void test_alloc_sizes_1_to_600_all_live(void **state)
{
    (void)state;
    static uint64_t buf[(256u * 1024u) / 8u];
    mem_ctx_t ctx = mem_init(buf, sizeof buf);
    assert_non_null(ctx);
    size_t sum = get_stat(ctx).free_size;
    static void *ptrs[601];
    for (size_t n = 1; n <= 600; n++) {
        ptrs[n] = mem_alloc(ctx, n);
        assert_non_null(ptrs[n]);
        assert_true(is_aligned8(ptrs[n]));
        assert_int_equal(mem_usable_size(ctx, ptrs[n]), usable_for(n));
        assert_true(addr_of(ptrs[n]) >= addr_of(buf));
        assert_true(addr_of(ptrs[n]) + mem_usable_size(ctx, ptrs[n]) <= addr_of(buf) + sizeof buf);
        fill_pattern(ptrs[n], mem_usable_size(ctx, ptrs[n]), n);
    }
    assert_true(heap_consistent_sum(ctx, sum));
    for (size_t n = 1; n <= 600; n++) {
        assert_true(check_pattern(ptrs[n], mem_usable_size(ctx, ptrs[n]), n));
        assert_true(is_allocated_chunk(ctx, ptrs[n], chunk_len_for(n)));
    }
    for (size_t n = 1; n <= 600; n += 2) {
        mem_free(ctx, ptrs[n]);
    }
    assert_true(heap_consistent_sum(ctx, sum));
    for (size_t n = 2; n <= 600; n += 2) {
        assert_true(check_pattern(ptrs[n], mem_usable_size(ctx, ptrs[n]), n));
        mem_free(ctx, ptrs[n]);
    }
    mem_stat_t st = get_stat(ctx);
    assert_int_equal(st.nb_chunks, 1);
    assert_int_equal(st.free_size, sum);
}

/* ------------------------------------------------------------------------ */
/* mem_usable_size                                                          */
/* ------------------------------------------------------------------------ */

/* A bad pointer answers 0 after reporting its fault (misuse: the heap does
 * not fail, nothing changes). */
static void expect_usable_fault(fault_recorder_t *faults, const void *ptr, mem_fault_t code)
{
    heap_snapshot();
    assert_int_equal(mem_usable_size(g_ctx, ptr), 0);
    expect_misuse(faults, ptr, code);
}

static void test_usable_size_bad_input(void **state)
{
    (void)state;
    static fault_recorder_t faults;
    fault_recorder_install(g_ctx, &faults);
    uint8_t *a = mem_alloc(g_ctx, 64);
    uint8_t *b = mem_alloc(g_ctx, 64);
    uint8_t *c = mem_alloc(g_ctx, 64);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    memset(a, 0, 64);
    assert_int_equal(mem_usable_size(g_ctx, a), usable_for(64));
    mem_free(g_ctx, b);
    uint64_t local = 0;
    static uint64_t other[64];

    /* no pointer or no heap: nothing to report */
    assert_int_equal(mem_usable_size(g_ctx, NULL), 0);
    assert_int_equal(mem_usable_size(NULL, a), 0);
    assert_true(no_fault(&faults));

    expect_usable_fault(&faults, b, MEM_FAULT_DOUBLE_FREE);          /* freed */
    expect_usable_fault(&faults, a + 1, MEM_FAULT_INVALID_POINTER);  /* misaligned */
    expect_usable_fault(&faults, a + 4, MEM_FAULT_INVALID_POINTER);
    expect_usable_fault(&faults, a + 8, MEM_FAULT_INVALID_POINTER);  /* interior */
    expect_usable_fault(&faults, &local, MEM_FAULT_INVALID_POINTER); /* stack */
    expect_usable_fault(&faults, other + 8, MEM_FAULT_INVALID_POINTER); /* elsewhere */
    expect_usable_fault(&faults, (uint8_t *)g_ctx + 8, MEM_FAULT_INVALID_POINTER); /* context */
    expect_usable_fault(&faults, end_of_chunks(g_ctx), MEM_FAULT_INVALID_POINTER); /* sentinel */
    expect_usable_fault(&faults, (uint8_t *)g_heap + HEAP_SIZE, MEM_FAULT_INVALID_POINTER);
    expect_usable_fault(&faults, (void *)(uintptr_t)(UINTPTR_MAX & ~(uintptr_t)7u),
                        MEM_FAULT_INVALID_POINTER);
    expect_usable_fault(&faults, (void *)(uintptr_t)8u, MEM_FAULT_INVALID_POINTER);
    assert_int_equal(mem_usable_size(g_ctx, c), usable_for(64));
    assert_true(heap_consistent(g_ctx));
    assert_true(no_fault(&faults));
}

#define T(f) FIXTURE_TEST(f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_bad_ctx_null),
        T(test_bad_ctx_zeroed_buffer),
        T(test_bad_ctx_garbage_buffer),
        T(test_bad_ctx_copy_of_a_heap),
        T(test_bad_ctx_inside_real_heap),
        T(test_bad_ctx_address_of_variable),
        T(test_bad_ctx_wiped_heap),
        T(test_bad_ctx_first_word_changed),
        T(test_init_null_buffer),
        T(test_init_too_small),
        T(test_init_min_size_every_misalignment),
        T(test_init_total_size_is_size_given),
        T(test_init_wrapping_buffer),
        T(test_init_fresh_heap),
        T(test_init_reinit_discards_chunks),
        T(test_alloc_zero),
        T(test_alloc_too_large),
        T(test_alloc_exact_fit_fresh),
        T(test_alloc_split_threshold),
        T(test_alloc_exact_fit_fragmented),
        T(test_alloc_sizes_1_to_600),
        T(test_alloc_sizes_1_to_600_all_live),
        T(test_usable_size_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
