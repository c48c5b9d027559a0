/**
 * @file test_mem_introspect.c
 * @brief Unit tests of mem_parse, mem_stat and mem_check (healthy heaps,
 *        bad input and deliberate corruption).
 */

#include "test_fixture.h"

#include <stdio.h>

#define MAX_RECS 4096u

static uint8_t g_saved[HEAP_SIZE];
static uint64_t g_other[(8u * 1024u) / 8u];
static chunk_rec_t g_recs[MAX_RECS];

/* ------------------------------------------------------------------------ */
/* mem_parse                                                                */
/* ------------------------------------------------------------------------ */

static void test_parse_fresh_heap(void **state)
{
    (void)state;
    size_t n = list_chunks(g_ctx, g_recs, MAX_RECS);
    assert_int_equal(n, 1);
    assert_false(g_recs[0].allocated);
    assert_int_equal(g_recs[0].size, g_fresh.free_size);
    assert_true(is_aligned8(g_recs[0].addr));
    assert_true(addr_of(g_recs[0].addr) > addr_of(g_ctx));
    assert_true(addr_of(g_recs[0].addr) + g_recs[0].size <= addr_of(g_heap) + HEAP_SIZE);
}

/* The walk reports exactly the chunks mem_alloc handed out, in address order. */
static void test_parse_matches_allocations(void **state)
{
    (void)state;
    fault_recorder_install(g_ctx, &g_faults);
    enum { N = 300 };
    static uint8_t *live[N];
    static size_t asked[N]; /* the request of live[i] */
    uint64_t seed = 77;
    size_t n_live = 0;
    for (size_t i = 0; i < N; i++) {
        size_t want = rand_range(&seed, 1, 120);
        uint8_t *p = mem_alloc(g_ctx, want);
        if (p == NULL) {
            break;
        }
        asked[n_live] = want;
        live[n_live++] = p;
    }
    assert_true(n_live >= 100u);
    /* free every third one */
    size_t kept = 0;
    for (size_t i = 0; i < n_live; i++) {
        if (i % 3u == 1u) {
            mem_free(g_ctx, live[i]);
        } else {
            asked[kept] = asked[i];
            live[kept++] = live[i];
        }
    }
    n_live = kept;

    size_t n = list_chunks(g_ctx, g_recs, MAX_RECS);
    mem_stat_t st = get_stat(g_ctx);
    assert_int_equal(n, st.nb_chunks);
    size_t free_sum = 0;
    size_t alloc_sum = 0;
    size_t n_alloc = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            assert_int_equal(addr_of(g_recs[i].addr), addr_of(g_recs[i - 1].addr) + g_recs[i - 1].size);
        }
        if (g_recs[i].allocated) {
            n_alloc++;
            alloc_sum += g_recs[i].size;
            size_t k = 0;
            while (k < n_live && live[k] != g_recs[i].addr) {
                k++;
            }
            assert_true(k < n_live);
            /* the chunk the request promises, or up to MEM_MIN_CHUNK - 8
             * bytes more when the rest was too small to split off */
            assert_in_range(g_recs[i].size, chunk_len_for(asked[k]),
                            chunk_len_for(asked[k]) + MEM_MIN_CHUNK - 8u);
            assert_int_equal(g_recs[i].size, chunk_len_of(g_recs[i].addr));
            assert_int_equal(mem_usable_size(g_ctx, g_recs[i].addr),
                             usable_in_chunk(g_recs[i].size, asked[k]));
            assert_true(no_fault(&g_faults));
        } else {
            free_sum += g_recs[i].size;
            /* a free chunk's payload is no live block: reported as a double free */
            assert_int_equal(mem_usable_size(g_ctx, g_recs[i].addr), 0);
            assert_true(fault_seen(&g_faults, g_ctx, MEM_FAULT_DOUBLE_FREE, g_recs[i].addr));
        }
    }
    assert_int_equal(n_alloc, n_live);
    assert_int_equal(n_alloc, st.nb_allocated);
    assert_int_equal(alloc_sum, st.allocated_size);
    assert_int_equal(free_sum, st.free_size);
    assert_int_equal(free_sum + alloc_sum, g_fresh.free_size);
    for (size_t k = 0; k < n_live; k++) {
        assert_true(find_chunk(g_ctx, live[k], NULL, NULL));
    }
    assert_int_equal(mem_last_fault(g_ctx), MEM_FAULT_NONE);
    assert_true(heap_consistent(g_ctx));
}

typedef struct {
    size_t calls;
    size_t stop_at;
    uint8_t *addrs[64];
} stop_ctx_t;

static bool stop_cb(void *data, uint8_t *addr, bool allocated, size_t size)
{
    (void)allocated;
    (void)size;
    stop_ctx_t *s = data;
    if (s->calls < 64u) {
        s->addrs[s->calls] = addr;
    }
    s->calls++;
    return s->calls == s->stop_at;
}

static void test_parse_stops_when_callback_returns_true(void **state)
{
    (void)state;
    uint8_t *p[20];
    for (size_t i = 0; i < 20; i++) {
        p[i] = mem_alloc(g_ctx, 24);
        assert_non_null(p[i]);
    }
    for (size_t i = 0; i < 20; i += 4) {
        mem_free(g_ctx, p[i]);
    }
    size_t n = list_chunks(g_ctx, g_recs, MAX_RECS);
    assert_true(n >= 20u);
    for (size_t k = 1; k <= n; k++) {
        stop_ctx_t s;
        memset(&s, 0, sizeof s);
        s.stop_at = k;
        mem_parse(g_ctx, stop_cb, &s);
        assert_int_equal(s.calls, k);
        for (size_t i = 0; i < k && i < 64u; i++) {
            assert_ptr_equal(s.addrs[i], g_recs[i].addr);
        }
    }
}

static void *g_expected_data;
static size_t g_data_calls;
static size_t g_data_mismatch;

static bool data_cb(void *data, uint8_t *addr, bool allocated, size_t size)
{
    (void)addr;
    (void)allocated;
    (void)size;
    g_data_calls++;
    if (data != g_expected_data) {
        g_data_mismatch++;
    }
    return false;
}

static void test_parse_passes_data_untouched(void **state)
{
    (void)state;
    assert_non_null(mem_alloc(g_ctx, 10));
    assert_non_null(mem_alloc(g_ctx, 20));
    static uint8_t token[4];
    void *values[] = {token, NULL, (void *)(uintptr_t)1u, g_heap};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        g_expected_data = values[i];
        g_data_calls = 0;
        g_data_mismatch = 0;
        mem_parse(g_ctx, data_cb, values[i]);
        assert_int_equal(g_data_calls, 3);
        assert_int_equal(g_data_mismatch, 0);
    }
}

static void test_parse_null_callback_is_noop(void **state)
{
    (void)state;
    assert_non_null(mem_alloc(g_ctx, 10));
    raw_read(g_saved, g_heap, sizeof g_heap);
    mem_parse(g_ctx, NULL, NULL);
    mem_parse(g_ctx, NULL, g_saved);
    assert_true(raw_equal(g_saved, g_heap, sizeof g_heap));
    assert_true(heap_consistent(g_ctx));
}

/* ------------------------------------------------------------------------ */
/* mem_stat                                                                 */
/* ------------------------------------------------------------------------ */

static void test_stat_ctx_or_address_of_variable(void **state)
{
    (void)state;
    mem_ctx_t var = g_ctx;
    for (size_t i = 0; i < 40; i++) {
        void *p = mem_alloc(g_ctx, 8u * i + 3u);
        assert_non_null(p);
        if (i % 4u == 0) {
            mem_free(g_ctx, p);
        }
        mem_stat_t a;
        mem_stat_t b;
        memset(&a, 0x11, sizeof a);
        memset(&b, 0x22, sizeof b);
        mem_stat(g_ctx, &a);
        mem_stat(&var, &b);
        assert_true(stat_equal(&a, &b));
        assert_int_equal(a.total_size, HEAP_SIZE);
    }
    assert_ptr_equal(var, g_ctx);
    mem_stat_t a = get_stat(g_ctx);
    assert_int_equal(a.nb_allocated, 30);
}

static void test_stat_bad_ctx_is_zeroed(void **state)
{
    (void)state;
    raw_buffer_reset(g_other, sizeof g_other, 0);
    mem_ctx_t null_var = NULL;
    mem_ctx_t zero_var = g_other;
    mem_ctx_t misaligned_var = (uint8_t *)g_ctx + 1;
    mem_ctx_t odd_var = (void *)(uintptr_t)0x1001u;
    static uint64_t garbage[512];
    uint64_t seed = 12345;
    for (size_t i = 0; i < 512; i++) {
        garbage[i] = xorshift64(&seed);
    }
    /* an aligned address, but of no heap the library made: never followed */
    garbage[0] = (uint64_t)addr_of(&garbage[8]);
    mem_ctx_t *bad[] = {
        NULL,
        &null_var,
        (mem_ctx_t *)(void *)g_other,
        (mem_ctx_t *)(void *)garbage,
        &zero_var,
        &misaligned_var,
        &odd_var,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mem_stat_t st;
        memset(&st, 0xFF, sizeof st);
        mem_stat(bad[i], &st);
        if (!stat_is_zero(&st)) {
            print_message("mem_stat with bad ctx #%zu did not zero the statistics\n", i);
        }
        assert_true(stat_is_zero(&st));
    }
    assert_true(all_bytes(g_other, sizeof g_other, 0));
}

static void test_stat_null_stat_is_noop(void **state)
{
    (void)state;
    assert_non_null(mem_alloc(g_ctx, 100));
    mem_ctx_t var = g_ctx;
    raw_read(g_saved, g_heap, sizeof g_heap);
    mem_stat(g_ctx, NULL);
    mem_stat(&var, NULL);
    mem_stat(NULL, NULL);
    assert_true(raw_equal(g_saved, g_heap, sizeof g_heap));
    assert_ptr_equal(var, g_ctx);
    assert_true(heap_consistent(g_ctx));
}

/* Statistics follow each operation by the documented chunk lengths. */
static void test_stat_tracks_operations(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 12, 13, 20, 21, 100, 1000, 4000};
    void *p[8];
    size_t allocated = 0;
    for (size_t i = 0; i < 8; i++) {
        p[i] = mem_alloc(g_ctx, sizes[i]);
        assert_non_null(p[i]);
        allocated += chunk_len_for(sizes[i]);
        mem_stat_t st = get_stat(g_ctx);
        assert_int_equal(st.total_size, HEAP_SIZE);
        assert_int_equal(st.nb_allocated, i + 1u);
        assert_int_equal(st.nb_chunks, i + 2u);
        assert_int_equal(st.allocated_size, allocated);
        assert_int_equal(st.free_size, g_fresh.free_size - allocated);
        assert_int_equal(st.largest_free_size, st.free_size);
    }
    for (size_t i = 0; i < 8; i++) {
        mem_free(g_ctx, p[i]);
        allocated -= chunk_len_for(sizes[i]);
        mem_stat_t st = get_stat(g_ctx);
        assert_int_equal(st.nb_allocated, 7u - i);
        assert_int_equal(st.allocated_size, allocated);
        assert_int_equal(st.free_size + st.allocated_size, g_fresh.free_size);
    }
    mem_stat_t st = get_stat(g_ctx);
    assert_true(stat_equal(&st, &g_fresh));
}

/* ------------------------------------------------------------------------ */
/* mem_check                                                                */
/* ------------------------------------------------------------------------ */

static void test_check_healthy_after_each_step(void **state)
{
    (void)state;
    enum { SLOTS = 64 };
    void *slot[SLOTS] = {0};
    uint64_t seed = 4242;
    for (size_t step = 0; step < 3000; step++) {
        size_t s = rand_range(&seed, 0, SLOTS - 1u);
        size_t op = rand_range(&seed, 0, 2);
        size_t size = rand_range(&seed, 1, 700);
        if (slot[s] == NULL) {
            slot[s] = mem_alloc(g_ctx, size);
        } else if (op == 0) {
            mem_free(g_ctx, slot[s]);
            slot[s] = NULL;
        } else {
            void *q = mem_realloc(g_ctx, slot[s], size);
            if (q != NULL) {
                slot[s] = q;
            }
        }
        assert_true(mem_check(g_ctx));
    }
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

/* No heap: false, and no handler to call (the real heap's stays silent). */
static void test_check_bad_ctx(void **state)
{
    (void)state;
    fault_recorder_install(g_ctx, &g_faults);
    raw_buffer_reset(g_other, sizeof g_other, 0);
    assert_false(mem_check(NULL));
    assert_false(mem_check(g_other));
    /* inside the heap's metadata: memcheck rightly reports the allocator
     * reading the word there (to find no heap), so its reporting is off */
    RAW_QUIET_BEGIN();
    bool inside = mem_check((uint8_t *)g_ctx + 8);
    RAW_QUIET_END();
    assert_false(inside);
    assert_false(mem_check((uint8_t *)g_ctx + 1));
    mem_ctx_t var = g_ctx;
    assert_false(mem_check(&var));
    assert_true(mem_check(g_ctx));
    assert_true(no_fault(&g_faults));
    assert_int_equal(mem_last_fault(g_ctx), MEM_FAULT_NONE);
}

static void test_check_never_writes(void **state)
{
    (void)state;
    void *a = mem_alloc(g_ctx, 50);
    assert_non_null(a);
    assert_non_null(mem_alloc(g_ctx, 70));
    mem_free(g_ctx, a);
    raw_read(g_saved, g_heap, sizeof g_heap);
    assert_true(mem_check(g_ctx));
    assert_true(raw_equal(g_saved, g_heap, sizeof g_heap));
}

/* Bytes from the context to the first chunk (which starts 8 bytes before
 * its payload): the context, whose only word mem_check may write is the
 * heap's failed state. */
static size_t context_bytes_of(mem_ctx_t ctx)
{
    walk_summary_t w = summarize(ctx);
    return (size_t)(w.first_addr - 8u - addr_of(ctx));
}

/*
 * Applies one corruption to the heap and expects mem_check to report it to
 * the handler with the code `code` and to fail the heap closed: all it
 * writes is the failed state (inside the context: the word holding the code,
 * and the context checksum that covers it), mem_last_fault answers the code,
 * and a later call refuses and reports it again. Even a wiped context leaves
 * a heap: the library's table remembers the heaps mem_init made.
 * Restores the saved bytes and expects a healthy heap again.
 */
static void expect_detected(const char *what, void *where, const void *bytes, size_t len, mem_fault_t code)
{
    static uint8_t corrupted[HEAP_SIZE];
    static uint8_t after[HEAP_SIZE];
    const size_t context_bytes = context_bytes_of(g_ctx);
    fault_recorder_install(g_ctx, &g_faults);
    raw_read(g_saved, g_heap, sizeof g_heap);
    raw_write(where, bytes, len);
    raw_read(corrupted, g_heap, sizeof g_heap);
    bool ok = mem_check(g_ctx);
    if (ok) {
        print_message("corruption not detected: %s\n", what);
    }
    assert_false(ok);
    if (g_faults.calls != 1u || g_faults.last != code) {
        print_message("%s: %u fault(s), last %s; expected %s\n", what, g_faults.calls,
                      mem_fault_name(g_faults.last), mem_fault_name(code));
    }
    raw_read(after, g_heap, sizeof g_heap);
    size_t changed = 0;
    size_t changed_end = 0;   /* one past the last changed word */
    bool code_written = false; /* a changed word holds the code */
    for (size_t i = 0; i < sizeof g_heap; i += 4u) {
        if (memcmp(after + i, corrupted + i, 4u) != 0) {
            changed++;
            changed_end = i + 4u;
            code_written = code_written || raw_get32(after + i) == (uint32_t)code;
        }
    }
    assert_true(fault_seen(&g_faults, g_ctx, code, NULL));
    /* only the failed state was written */
    assert_in_range(changed, 1, 2);
    assert_true(changed_end <= context_bytes);
    assert_true(code_written);
    assert_int_equal(mem_last_fault(g_ctx), code);
    /* fail closed: later calls refuse and report the fault again */
    assert_null(mem_alloc(g_ctx, 8));
    assert_true(fault_seen(&g_faults, g_ctx, code, NULL));
    assert_false(mem_check(g_ctx));
    assert_true(fault_seen(&g_faults, g_ctx, code, NULL));
    raw_write(g_heap, g_saved, sizeof g_heap);
    assert_int_equal(mem_last_fault(g_ctx), MEM_FAULT_NONE);
    assert_true(mem_check(g_ctx));
    assert_true(no_fault(&g_faults));
}

static void expect_word_detected(const char *what, uint8_t *where, uint32_t value, mem_fault_t code)
{
    expect_detected(what, where, &value, sizeof value, code);
}

/* What mem_check reports for a damaged header: with hardening every header
 * is checksummed, so damage to one is CORRUPT_HEADER there; off, the first
 * inconsistency the walk meets names it (the list links of a chunk that now
 * claims to be free, or free with another length, are CORRUPT_LINK). */
#if MEM_HARDENING > 0
#define HEADER_OR(off_code) MEM_FAULT_CORRUPT_HEADER
#else
#define HEADER_OR(off_code) (off_code)
#endif

static void test_check_detects_corruption(void **state)
{
    (void)state;
    const size_t c64 = chunk_len_for(64);
    /* a row of C64-byte chunks; r[2] is free between allocated neighbours */
    uint8_t *r[6];
    for (size_t i = 0; i < 6; i++) {
        r[i] = mem_alloc(g_ctx, 64);
        assert_non_null(r[i]);
    }
    sort_by_address(r, 6);
    for (size_t i = 1; i < 6; i++) {
        assert_int_equal(addr_of(r[i]), addr_of(r[i - 1]) + c64);
    }
    mem_free(g_ctx, r[2]);
    assert_true(heap_consistent(g_ctx));

    const uint32_t c = (uint32_t)c64;
    uint32_t h1 = header_of(r[1]);
    uint32_t h2 = header_of(r[2]);
    uint32_t h3 = header_of(r[3]);
    uint32_t h4 = header_of(r[4]);
    uint32_t f1 = h1 & HDR_FLAGS;
    assert_int_equal(h1 & ~(uint32_t)HDR_FLAGS, c);
    assert_int_equal(h2 & (HDR_FREE | ~(uint32_t)HDR_FLAGS), c | HDR_FREE);
    assert_int_equal(h3 & (HDR_FREE | HDR_PREV_FREE), HDR_PREV_FREE);
    assert_int_equal(h4 & (HDR_FREE | HDR_PREV_FREE), 0);
    assert_int_equal(raw_get32(boundary_tag_before(r[3])), c);

    const mem_fault_t header = MEM_FAULT_CORRUPT_HEADER;
    expect_word_detected("allocated length 0", r[1] - 4, 0u | f1, header);
    expect_word_detected("allocated length +8", r[1] - 4, (c + 8u) | f1, header);
    expect_word_detected("allocated length -8", r[1] - 4, (c - 8u) | f1, header);
    expect_word_detected("allocated length huge", r[1] - 4, 0xFFFFFFF8u | f1, header);
    expect_word_detected("allocated length beyond the heap", r[1] - 4, (uint32_t)(2u * HEAP_SIZE) | f1,
                         header);
    expect_word_detected("allocated chunk marked free", r[1] - 4, h1 | HDR_FREE,
                         HEADER_OR(MEM_FAULT_CORRUPT_LINK));
    expect_word_detected("free chunk marked allocated", r[2] - 4, h2 & ~(uint32_t)HDR_FREE, header);
    /* off: its list links are then those of another size class */
    expect_word_detected("free length +C64 (covers its neighbour)", r[2] - 4, h2 + c,
                         HEADER_OR(MEM_FAULT_CORRUPT_LINK));
    expect_word_detected("free length -8", r[2] - 4, h2 - 8u, HEADER_OR(MEM_FAULT_CORRUPT_LINK));
    expect_word_detected("prev-free bit set after an allocated chunk", r[4] - 4, h4 | HDR_PREV_FREE,
                         header);
    expect_word_detected("prev-free bit cleared after a free chunk", r[3] - 4,
                         h3 & ~(uint32_t)HDR_PREV_FREE, header);
    expect_word_detected("boundary tag too small", boundary_tag_before(r[3]), c - 8u, header);
    expect_word_detected("boundary tag too large", boundary_tag_before(r[3]), c + 8u, header);
#if MEM_HARDENING > 0
    /* the keyed checksum and the tail canary */
    expect_word_detected("allocated header checksum", r[1] - 8, check_word_of(r[1]) ^ 1u, header);
    expect_word_detected("free header checksum", r[2] - 8, check_word_of(r[2]) ^ 0x80000000u, header);
    /* the canary sits right after the 64 requested bytes and is keyed: a
     * fixed byte may be the one already there (1 in 256), its complement
     * never is */
    uint8_t *canary = r[1] + 64;
    uint8_t one;
    raw_read(&one, canary, 1);
    one = (uint8_t)~one;
    expect_detected("one byte past the payload (tail canary)", canary, &one, 1, MEM_FAULT_OVERFLOW);
#endif

    /* use after free: the free chunk's payload (its list links) scribbled, up
     * to its boundary tag */
    static uint8_t scribble[128];
    memset(scribble, 0x5A, sizeof scribble);
    size_t free_payload = (size_t)(boundary_tag_before(r[3]) - r[2]);
    assert_true(free_payload <= sizeof scribble);
    expect_detected("free chunk payload overwritten", r[2], scribble, free_payload,
                    MEM_FAULT_CORRUPT_LINK);

    /* the end of the heap */
    uint8_t *end = end_of_chunks(g_ctx);
    uint32_t hend = raw_get32(end - 4);
    expect_word_detected("end sentinel claims a free chunk", end - 4,
                         (hend & ~(uint32_t)HDR_FLAGS) + MEM_MIN_CHUNK + HDR_FREE, header);

    /* the context: wiped, or its identity (first) word changed, it is still
     * a heap the library made, and damaged */
    size_t context_bytes = context_bytes_of(g_ctx);
    assert_true(context_bytes >= 8u);
    static uint8_t zeros[HEAP_SIZE];
    const mem_fault_t context = MEM_FAULT_CORRUPT_CONTEXT;
    expect_detected("context wiped", g_ctx, zeros, context_bytes, context);
    expect_word_detected("context identity word changed", g_ctx, ~raw_get32(g_ctx), context);
#if MEM_HARDENING > 0
    /* the 12 words before the bitmap: one bit changed in any of them is
     * reported (docs/HARDENING.md) */
    for (size_t w = 0; w < 12u; w++) {
        static const uint32_t bits[] = {0x10u, 0x80000000u};
        for (size_t k = 0; k < sizeof bits / sizeof bits[0]; k++) {
            uint8_t *word = (uint8_t *)g_ctx + 4u * w;
            char what[64];
            (void)snprintf(what, sizeof what, "context word %zu, bit mask %#x", w, (unsigned)bits[k]);
            expect_word_detected(what, word, raw_get32(word) ^ bits[k], context);
        }
    }
#endif

    assert_true(heap_consistent(g_ctx));
}

#if MEM_HARDENING > 0
/* The canary sits right after the request, whatever its size (unaligned
 * for most): the first byte written past the n requested bytes is found by
 * mem_check and refused by mem_free, and fails the heap closed. */
static void test_overflow_one_byte_past_every_size(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 64; n++) {
        assert_ptr_equal(mem_init(g_heap, sizeof g_heap), g_ctx);
        fault_recorder_install(g_ctx, &g_faults);
        uint8_t *before = mem_alloc(g_ctx, 8);
        uint8_t *p = mem_alloc(g_ctx, n);
        uint8_t *after = mem_alloc(g_ctx, 8);
        assert_non_null(before);
        assert_non_null(p);
        assert_non_null(after);
        assert_int_equal(mem_usable_size(g_ctx, p), n);
        memset(p, 0x5A, n); /* every requested byte is the caller's */
        assert_true(heap_consistent(g_ctx));
        raw_flip(p + n, 1);
        if (n % 2u == 0u) {
            assert_false(mem_check(g_ctx));
        } else {
            mem_free(g_ctx, p);
        }
        assert_true(fault_seen(&g_faults, g_ctx, MEM_FAULT_OVERFLOW, p));
        assert_int_equal(mem_last_fault(g_ctx), MEM_FAULT_OVERFLOW);
    }
}
#endif

/* A context saved before a chunk was freed and written back afterwards no
 * longer lists that free chunk: the lists disagree with the chunks. */
static void test_check_detects_stale_context(void **state)
{
    (void)state;
    uint8_t *p[4];
    for (size_t i = 0; i < 4; i++) {
        p[i] = mem_alloc(g_ctx, 100);
        assert_non_null(p[i]);
    }
    sort_by_address(p, 4);
    /* the handler lives in the library's table, not in the saved context */
    fault_recorder_install(g_ctx, &g_faults);
    size_t context_bytes = context_bytes_of(g_ctx);
    static uint8_t old_context[HEAP_SIZE];
    raw_read(old_context, g_ctx, context_bytes);
    mem_free(g_ctx, p[1]);
    assert_true(mem_check(g_ctx));
    /* the freed chunk's links point at a list head that does not point back */
    expect_detected("context from before a free", g_ctx, old_context, context_bytes,
                    MEM_FAULT_CORRUPT_LINK);

    /* and the other way round: a context that lists a chunk since allocated */
    raw_read(old_context, g_ctx, context_bytes);
    assert_non_null(mem_alloc(g_ctx, 100));
    assert_true(mem_check(g_ctx));
    expect_detected("context from before an allocation", g_ctx, old_context, context_bytes,
                    MEM_FAULT_CORRUPT_LINK);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

#define T(f) FIXTURE_TEST(f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_parse_fresh_heap),
        T(test_parse_matches_allocations),
        T(test_parse_stops_when_callback_returns_true),
        T(test_parse_passes_data_untouched),
        T(test_parse_null_callback_is_noop),
        T(test_stat_ctx_or_address_of_variable),
        T(test_stat_bad_ctx_is_zeroed),
        T(test_stat_null_stat_is_noop),
        T(test_stat_tracks_operations),
        T(test_check_healthy_after_each_step),
        T(test_check_bad_ctx),
        T(test_check_never_writes),
        T(test_check_detects_corruption),
#if MEM_HARDENING > 0
        T(test_overflow_one_byte_past_every_size),
#endif
        T(test_check_detects_stale_context),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
