/**
 * @file test_app_mem_utils.c
 * @brief Unit tests of the app heap behind app_mem_utils.h, built without
 *        HAVE_MEMORY_PROFILING: every APP_MEM_* macro and mem_utils_* function,
 *        their answers to bad input, before init and after detach, and the
 *        fault model: misuse reaches the app heap's handler (recorded here;
 *        the default one aborts, checked in a child process).
 *
 * The heap buffers are poisoned (ASan) and no-access (memcheck) outside live
 * payloads, so every direct look at them goes through the raw_* helpers of
 * raw_access.h, which neither tool watches. The app heap's handler is
 * record_fault (fault_recorder.h), which records into g_faults.
 */

/* fork, pipe, dup2 (child_capture.h) */
#define _POSIX_C_SOURCE 200809L

#include "test_helpers.h"

#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app_faults.h"
#include "app_mem_utils.h"
#include "child_capture.h"

#ifdef HAVE_MEMORY_PROFILING
#error "test_app_mem_utils.c tests the plain build: link it with wrappers_plain_dep"
#endif

#define APP_HEAP_SIZE (32u * 1024u)
#define GARBAGE 0xA5u

static uint64_t g_buf[APP_HEAP_SIZE / 8u];   /* the app heap */
static uint64_t g_other[APP_HEAP_SIZE / 8u]; /* a second buffer, for re-init elsewhere */
static mem_stat_t g_fresh;                   /* statistics of the fresh app heap */
static uint8_t g_snapshot[APP_HEAP_SIZE];

/* Every test but the first starts from a fresh app heap in a buffer full of
 * garbage, so that zeroing by the calloc family is really observed, with the
 * recorder as the app heap's fault handler. */
static int setup_app_heap(void **state)
{
    (void)state;
    mem_utils_set_log_sink(NULL, NULL);
    fault_recorder_clear(&g_faults);
    assert_true(mem_utils_set_fault_handler(record_fault, &g_faults));
    raw_fill(g_buf, GARBAGE, sizeof g_buf);
    if (!mem_utils_init(g_buf, sizeof g_buf)) {
        return -1;
    }
    g_fresh = get_stat(mem_utils_context());
    return 0;
}

/* A fault no test consumed is a failure. The heaps in both buffers are
 * re-initialized, so memcheck sees no block of theirs leak (the blocks of a
 * heap go with it). */
static int teardown_app_heap(void **state)
{
    (void)state;
    bool quiet = no_fault(&g_faults);
    (void)mem_init(g_other, sizeof g_other);
    bool ok = mem_utils_init(g_buf, sizeof g_buf) && mem_utils_set_fault_handler(NULL, NULL);
    fault_recorder_clear(&g_faults);
    return ok && quiet ? 0 : -1;
}

static mem_stat_t app_stat(void)
{
    return get_stat(mem_utils_context());
}

static bool app_stat_is(const mem_stat_t *want)
{
    mem_stat_t st = app_stat();
    return stat_equal(&st, want);
}

static bool in_buffer(const void *p, const void *buf, size_t size)
{
    return addr_of(p) >= addr_of(buf) && addr_of(p) < addr_of(buf) + size;
}

/* Fills every free byte the allocator hands out with garbage: one block as
 * large as possible, written and freed. */
static void dirty_free_memory(void)
{
    size_t big = app_stat().largest_free_size - 64u;
    void *p = APP_MEM_ALLOC(big);
    assert_non_null(p);
    memset(p, (int)GARBAGE, big);
    APP_MEM_FREE(p);
    assert_true(app_stat_is(&g_fresh));
}

/* The calloc family: APP_MEM_CALLOC, APP_MEM_PERMANENT, mem_buffer_persistent. */
enum { FORM_CALLOC, FORM_PERMANENT, FORM_PERSISTENT, FORM_COUNT };

static bool calloc_form(int form, void **pptr, size_t size)
{
    switch (form) {
    case FORM_CALLOC:
        return APP_MEM_CALLOC(pptr, size);
    case FORM_PERMANENT:
        return APP_MEM_PERMANENT(pptr, size);
    default:
        return mem_buffer_persistent(pptr, size);
    }
}

/* ---- No heap: before init, after detach -------------------------------- */

/* With no heap attached, every call answers NULL / false or does nothing,
 * and writes neither the heap buffer nor foreign memory. old is a block of a
 * heap that is gone (or NULL). */
static void exercise_no_heap(void *old)
{
    uint64_t local = 0x0123456789abcdefu;
    raw_read(g_snapshot, g_buf, sizeof g_snapshot);

    assert_null(mem_utils_context());
    assert_null(APP_MEM_ALLOC(16));
    assert_null(APP_MEM_ALLOC(0));
    assert_null(APP_MEM_REALLOC(NULL, 16));
    assert_null(APP_MEM_REALLOC(NULL, 0));
    assert_null(APP_MEM_REALLOC(&local, 16));
    assert_null(APP_MEM_STRDUP("abc"));
    assert_null(APP_MEM_STRDUP(NULL));
    APP_MEM_FREE(NULL);
    APP_MEM_FREE(&local);
    APP_MEM_FREE((uint8_t *)g_buf + 64);
    APP_MEM_FREE_AND_NULL(NULL);
    mem_utils_buffer_cleanup(NULL);
    for (int form = 0; form < FORM_COUNT; form++) {
        void *p = NULL;
        assert_false(calloc_form(form, &p, 16));
        assert_null(p);
        assert_false(calloc_form(form, NULL, 16));
        assert_true(calloc_form(form, &p, 0)); /* size 0 is no allocation: it succeeds */
        assert_null(p);
    }
    assert_null(mem_utils_alloc(16, false, "f.c", 1));
    assert_null(mem_utils_alloc(16, true, NULL, 0));
    assert_null(mem_utils_strdup("x", "f.c", 2));
    if (old != NULL) {
        assert_null(APP_MEM_REALLOC(old, 64));
        assert_null(APP_MEM_REALLOC(old, 0));
        APP_MEM_FREE(old);
        void *held = old;
        assert_false(APP_MEM_CALLOC(&held, 16));
        assert_null(held);
        held = old;
        APP_MEM_FREE_AND_NULL(&held);
        assert_null(held);
    }
    mem_stat_t st;
    memset(&st, 0xFF, sizeof st);
    mem_stat(mem_utils_context(), &st);
    assert_true(stat_is_zero(&st));
    assert_false(mem_check(mem_utils_context()));
    assert_int_equal(local, 0x0123456789abcdefu);
    assert_true(raw_equal(g_snapshot, g_buf, sizeof g_snapshot));
    expect_faults(0); /* no heap, no handler to call */
}

/* Registered first and without setup: nothing has called mem_utils_init yet. */
static void test_before_init(void **state)
{
    (void)state;
    raw_fill(g_buf, 0x3C, sizeof g_buf);
    exercise_no_heap(NULL);
}

static void test_detach(void **state)
{
    (void)state;
    void *p = APP_MEM_ALLOC(40);
    assert_non_null(p);
    fill_pattern(p, 40, 1);
    assert_false(mem_utils_init(NULL, 0));
    exercise_no_heap(p);
    assert_true(check_pattern(p, 40, 1));
    /* a later init attaches a heap again */
    assert_true(mem_utils_init(g_buf, sizeof g_buf));
    assert_true(app_stat_is(&g_fresh));
    assert_non_null(APP_MEM_ALLOC(16));
}

/* ---- mem_utils_init and mem_utils_context ------------------------------ */

static void test_init_success(void **state)
{
    (void)state;
    mem_ctx_t ctx = mem_utils_context();
    assert_non_null(ctx);
    assert_true(is_aligned8(ctx));
    assert_true(in_buffer(ctx, g_buf, sizeof g_buf));
    assert_int_equal(g_fresh.total_size, sizeof g_buf);
    assert_int_equal(g_fresh.nb_chunks, 1);
    assert_int_equal(g_fresh.nb_allocated, 0);
    assert_int_equal(g_fresh.free_size, g_fresh.largest_free_size);
    assert_true(heap_consistent(ctx));

    uint8_t *bytes = (uint8_t *)g_other;
    assert_true(mem_utils_init(bytes, MEM_MIN_HEAP_SIZE));
    assert_int_equal(app_stat().total_size, MEM_MIN_HEAP_SIZE);
    assert_true(mem_utils_init(bytes + 3, MEM_MIN_HEAP_SIZE));
    assert_true(in_buffer(mem_utils_context(), bytes + 3, MEM_MIN_HEAP_SIZE));
    /* the smallest heap holds at least one block */
    size_t room = app_stat().largest_free_size;
    assert_true(room >= MEM_MIN_CHUNK);
    void *p = APP_MEM_ALLOC(room - MEM_CHUNK_OVERHEAD);
    assert_non_null(p);
    assert_true(is_aligned8(p));
    assert_true(in_buffer(p, bytes + 3, MEM_MIN_HEAP_SIZE));
    APP_MEM_FREE(p);
    assert_int_equal(app_stat().nb_allocated, 0);
}

static void test_init_failure(void **state)
{
    (void)state;
    static const size_t bad_sizes[] = {0, 1, MEM_MIN_HEAP_SIZE - 1u};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        assert_true(mem_utils_init(g_buf, sizeof g_buf));
        assert_false(mem_utils_init(g_buf, bad_sizes[i]));
        assert_null(mem_utils_context()); /* a failed init detaches the heap */
        assert_null(APP_MEM_ALLOC(1));
    }
    assert_true(mem_utils_init(g_buf, sizeof g_buf));
    assert_false(mem_utils_init(NULL, sizeof g_buf));
    assert_null(mem_utils_context());
    assert_null(APP_MEM_ALLOC(1));
}

static void test_context_is_the_app_heap(void **state)
{
    (void)state;
    mem_ctx_t ctx = mem_utils_context();
    assert_ptr_equal(ctx, mem_init(g_buf, sizeof g_buf)); /* same buffer, same context */
    assert_ptr_equal(mem_utils_context(), ctx);

    uint8_t *bytes = (uint8_t *)g_other;
    assert_true(mem_utils_init(bytes + 5, sizeof g_other - 5u));
    ctx = mem_utils_context();
    assert_true(is_aligned8(ctx));
    assert_ptr_equal(ctx, mem_init(bytes + 5, sizeof g_other - 5u));
    assert_true(mem_check(ctx));
    mem_stat_t st = get_stat(ctx);
    assert_int_equal(st.total_size, sizeof g_other - 5u);
    mem_stat_t via_address;
    mem_stat(&ctx, &via_address); /* the SDK's other calling style */
    assert_true(stat_equal(&st, &via_address));

    void *p = APP_MEM_ALLOC(100);
    assert_non_null(p);
    assert_true(is_allocated_chunk(ctx, p, chunk_len_for(100)));
    assert_int_equal(get_stat(ctx).nb_allocated, 1);
    void *q = mem_alloc(ctx, 50); /* one heap: the macros free what mem_alloc gave */
    assert_non_null(q);
    APP_MEM_FREE(q);
    APP_MEM_FREE(p);
    mem_stat_t after = get_stat(ctx);
    assert_true(stat_equal(&st, &after));
}

static void test_reinit_same_buffer(void **state)
{
    (void)state;
    mem_ctx_t ctx = mem_utils_context();
    void *a = APP_MEM_ALLOC(100);
    assert_non_null(APP_MEM_ALLOC(200));
    assert_non_null(APP_MEM_ALLOC(300));
    APP_MEM_FREE(a);
    assert_int_equal(app_stat().nb_allocated, 2);
    assert_true(mem_utils_init(g_buf, sizeof g_buf));
    assert_ptr_equal(mem_utils_context(), ctx);
    mem_stat_t st = app_stat();
    assert_int_equal(st.nb_chunks, 1);
    assert_int_equal(st.nb_allocated, 0);
    assert_true(stat_equal(&st, &g_fresh));
    assert_true(heap_consistent(ctx));
}

static void test_reinit_other_buffer(void **state)
{
    (void)state;
    void *old = APP_MEM_ALLOC(64);
    assert_non_null(old);
    fill_pattern(old, 64, 7);
    assert_true(mem_utils_init(g_other, sizeof g_other));
    assert_true(in_buffer(mem_utils_context(), g_other, sizeof g_other));
    mem_stat_t fresh_other = app_stat();
    raw_read(g_snapshot, g_buf, sizeof g_snapshot);

    /* a block of the discarded heap is foreign to the new one */
    APP_MEM_FREE(old);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, old);
    assert_null(APP_MEM_REALLOC(old, 128));
    expect_one_fault(MEM_FAULT_INVALID_POINTER, old);
    void *held = old;
    APP_MEM_FREE_AND_NULL(&held);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, old);
    assert_null(held);
    assert_true(app_stat_is(&fresh_other));
    assert_true(raw_equal(g_snapshot, g_buf, sizeof g_snapshot));
    assert_true(check_pattern(old, 64, 7));

    void *p = APP_MEM_ALLOC(64);
    assert_non_null(p);
    assert_true(in_buffer(p, g_other, sizeof g_other));
    APP_MEM_FREE(p);
    assert_true(app_stat_is(&fresh_other));
}

/* ---- APP_MEM_ALLOC, APP_MEM_FREE --------------------------------------- */

static void test_alloc_zero_and_too_large(void **state)
{
    (void)state;
    assert_null(APP_MEM_ALLOC(0));
    assert_null(APP_MEM_ALLOC(sizeof g_buf));
    assert_null(APP_MEM_ALLOC(SIZE_MAX));
    assert_null(APP_MEM_ALLOC(SIZE_MAX / 2u));
    assert_true(app_stat_is(&g_fresh));
}

static void test_alloc_sizes(void **state)
{
    (void)state;
    enum { N = 200 };
    void *p[N];
    size_t used = 0;
    for (size_t i = 0; i < N; i++) {
        size_t n = i + 1u;
        p[i] = APP_MEM_ALLOC(n);
        assert_non_null(p[i]);
        assert_true(is_aligned8(p[i]));
        assert_true(in_buffer(p[i], g_buf, sizeof g_buf));
        assert_int_equal(mem_usable_size(mem_utils_context(), p[i]), usable_in_chunk(chunk_len_of(p[i]), n));
        fill_pattern(p[i], n, i);
        used += chunk_len_for(n);
    }
    mem_stat_t st = app_stat();
    assert_int_equal(st.nb_allocated, N);
    assert_int_equal(st.allocated_size, used);
    for (size_t i = 0; i < N; i++) {
        assert_true(check_pattern(p[i], i + 1u, i)); /* no two blocks overlap */
    }
    for (size_t i = 0; i < N; i++) {
        APP_MEM_FREE(p[i]);
    }
    assert_true(app_stat_is(&g_fresh));
}

static void test_alloc_exhaustion(void **state)
{
    (void)state;
    enum { MAX_BLOCKS = 1024 };
    void *p[MAX_BLOCKS];
    size_t n = 0;
    while (n < MAX_BLOCKS && (p[n] = APP_MEM_ALLOC(64)) != NULL) {
        n++;
    }
    assert_true(n > 100u && n < MAX_BLOCKS);
    assert_int_equal(app_stat().nb_allocated, n);
    assert_null(APP_MEM_ALLOC(64));
    assert_null(APP_MEM_ALLOC(APP_HEAP_SIZE / 2u));
    APP_MEM_FREE(p[n / 2u]);
    p[n / 2u] = APP_MEM_ALLOC(64); /* the freed room serves again */
    assert_non_null(p[n / 2u]);
    assert_true(heap_consistent(mem_utils_context()));
    for (size_t i = 0; i < n; i++) {
        APP_MEM_FREE(p[i]);
    }
    assert_true(app_stat_is(&g_fresh));
}

static void test_free_block(void **state)
{
    (void)state;
    uint64_t local = 42;
    void *a = APP_MEM_ALLOC(100);
    void *b = APP_MEM_ALLOC(40);
    assert_non_null(a);
    assert_non_null(b);
    fill_pattern(b, 40, 3);
    mem_stat_t before = app_stat();
    APP_MEM_FREE(a); /* the stats prove the free */
    mem_stat_t st = app_stat();
    assert_int_equal(st.nb_allocated, before.nb_allocated - 1u);
    assert_int_equal(st.free_size, before.free_size + chunk_len_for(100));
    assert_int_equal(st.allocated_size, chunk_len_for(40));
    raw_read(g_snapshot, g_buf, sizeof g_snapshot);
    raw_fill(g_other, 0x77, sizeof g_other);

    /* NULL is no fault; every other bad pointer is reported, once, with the
     * address given, and changes nothing */
    APP_MEM_FREE(NULL);
    expect_faults(0);
    APP_MEM_FREE(&local);
    APP_MEM_FREE((uint8_t *)g_other + 64);
    APP_MEM_FREE(a); /* already freed */
    APP_MEM_FREE((uint8_t *)b + 1); /* misaligned */
    APP_MEM_FREE((uint8_t *)b + 8); /* interior */
    expect_faults(5);
    expect_fault(0, MEM_FAULT_INVALID_POINTER, &local);
    expect_fault(1, MEM_FAULT_INVALID_POINTER, (uint8_t *)g_other + 64);
    expect_fault(2, MEM_FAULT_DOUBLE_FREE, a);
    expect_fault(3, MEM_FAULT_INVALID_POINTER, (uint8_t *)b + 1);
    expect_fault(4, MEM_FAULT_INVALID_POINTER, (uint8_t *)b + 8);
    fault_recorder_clear(&g_faults);
    assert_true(app_stat_is(&st));
    assert_true(raw_equal(g_snapshot, g_buf, sizeof g_snapshot));
    assert_int_equal(local, 42);
    assert_true(raw_all(g_other, sizeof g_other, 0x77));
    assert_int_equal(mem_last_fault(mem_utils_context()), MEM_FAULT_NONE); /* misuse does not fail the heap */
    assert_true(check_pattern(b, 40, 3));
    APP_MEM_FREE(b);
    assert_true(app_stat_is(&g_fresh));
}

/* ---- APP_MEM_REALLOC --------------------------------------------------- */

/* NULL ptr allocates, growing moves or extends, shrinking stays, size 0 frees. */
static void test_realloc_block(void **state)
{
    (void)state;
    void *p = APP_MEM_REALLOC(NULL, 40);
    assert_non_null(p);
    assert_int_equal(app_stat().allocated_size, chunk_len_for(40));
    void *barrier = APP_MEM_ALLOC(40); /* so that growing p must move it */
    assert_non_null(barrier);
    fill_pattern(p, 40, 11);
    void *grown = APP_MEM_REALLOC(p, 400);
    assert_non_null(grown);
    assert_ptr_not_equal(grown, p);
    assert_true(check_pattern(grown, 40, 11));
    assert_int_equal(mem_usable_size(mem_utils_context(), grown), usable_for(400));
    assert_int_equal(app_stat().nb_allocated, 2); /* the old block was freed */
    assert_int_equal(app_stat().allocated_size, chunk_len_for(400) + chunk_len_for(40));

    fill_pattern(grown, 400, 12);
    void *shrunk = APP_MEM_REALLOC(grown, 24);
    assert_ptr_equal(shrunk, grown);
    assert_true(check_pattern(shrunk, 24, 12));
    assert_int_equal(app_stat().allocated_size, chunk_len_for(24) + chunk_len_for(40));
    assert_null(APP_MEM_REALLOC(shrunk, 0));
    assert_int_equal(app_stat().allocated_size, chunk_len_for(40)); /* shrunk is freed */
    APP_MEM_FREE(barrier);
    assert_null(APP_MEM_REALLOC(NULL, 0));
    assert_true(app_stat_is(&g_fresh));
}

static void test_realloc_failure_keeps_block(void **state)
{
    (void)state;
    uint64_t local = 5;
    void *p = APP_MEM_ALLOC(64);
    assert_non_null(p);
    fill_pattern(p, 64, 13);
    mem_stat_t st = app_stat();
    assert_null(APP_MEM_REALLOC(p, sizeof g_buf));
    assert_null(APP_MEM_REALLOC(p, SIZE_MAX));
    expect_faults(0); /* no memory is no fault */
    assert_null(APP_MEM_REALLOC(&local, 16)); /* not a block of the heap */
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_true(app_stat_is(&st));
    assert_true(check_pattern(p, 64, 13));
    assert_int_equal(local, 5);
    assert_true(is_allocated_chunk(mem_utils_context(), p, chunk_len_for(64)));
    APP_MEM_FREE(p); /* still owned by the caller */
    assert_true(app_stat_is(&g_fresh));
}

/* ---- APP_MEM_FREE_AND_NULL, mem_utils_buffer_cleanup, APP_MEM_STRDUP ---- */

static void test_free_and_null(void **state)
{
    (void)state;
    void *p = APP_MEM_ALLOC(32);
    void *q = APP_MEM_ALLOC(32);
    assert_non_null(p);
    assert_non_null(q);
    APP_MEM_FREE_AND_NULL(&p);
    mem_utils_buffer_cleanup(&q);
    assert_null(p);
    assert_null(q);
    assert_true(app_stat_is(&g_fresh));
    APP_MEM_FREE_AND_NULL(&p); /* again, on a NULL variable: harmless */
    mem_utils_buffer_cleanup(&q);
    APP_MEM_FREE_AND_NULL(NULL); /* a NULL void ** */
    mem_utils_buffer_cleanup(NULL);
    assert_null(p);
    assert_null(q);
    assert_true(app_stat_is(&g_fresh));
}

static void test_strdup(void **state)
{
    (void)state;
    char original[] = "Hello, World!";
    char *copy = APP_MEM_STRDUP(original);
    assert_non_null(copy);
    assert_ptr_not_equal(copy, original);
    assert_string_equal(copy, original);
    assert_true(in_buffer(copy, g_buf, sizeof g_buf));
    assert_int_equal(mem_usable_size(mem_utils_context(), copy),
                     usable_in_chunk(chunk_len_of(copy), sizeof original));
    copy[0] = 'J';
    assert_string_equal(original, "Hello, World!");

    char *empty = APP_MEM_STRDUP("");
    assert_non_null(empty);
    assert_int_equal(empty[0], '\0');
    assert_int_equal(app_stat().nb_allocated, 2);
    APP_MEM_FREE(copy);
    APP_MEM_FREE(empty);
    assert_true(app_stat_is(&g_fresh));

    assert_null(APP_MEM_STRDUP(NULL));
    static char too_long[APP_HEAP_SIZE + 1u];
    memset(too_long, 'x', APP_HEAP_SIZE);
    assert_null(APP_MEM_STRDUP(too_long));
    assert_true(app_stat_is(&g_fresh));
}

/* ---- APP_MEM_CALLOC, APP_MEM_PERMANENT, mem_buffer_persistent ---------- */

static void test_calloc_zeroed(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 7, 8, 100, 1000, 4000};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    for (int form = 0; form < FORM_COUNT; form++) {
        dirty_free_memory();
        void *p[NS];
        for (size_t i = 0; i < NS; i++) {
            p[i] = NULL;
            assert_true(calloc_form(form, &p[i], sizes[i]));
            assert_non_null(p[i]);
            assert_true(is_aligned8(p[i]));
            assert_true(in_buffer(p[i], g_buf, sizeof g_buf));
            assert_true(all_bytes(p[i], sizes[i], 0));
        }
        assert_int_equal(app_stat().nb_allocated, NS);
        for (size_t i = 0; i < NS; i++) {
            mem_utils_buffer_cleanup(&p[i]);
        }
        assert_true(app_stat_is(&g_fresh));
    }
    void *p = NULL; /* the SDK passes a uint16_t size */
    uint16_t n16 = 300;
    assert_true(APP_MEM_CALLOC(&p, n16));
    assert_true(all_bytes(p, n16, 0));
    APP_MEM_FREE(p);
}

static void test_calloc_replaces_held_buffer(void **state)
{
    (void)state;
    for (int form = 0; form < FORM_COUNT; form++) {
        void *p = NULL;
        assert_true(calloc_form(form, &p, 256));
        memset(p, 0x5A, 256);
        assert_true(calloc_form(form, &p, 512));
        assert_non_null(p);
        assert_true(all_bytes(p, 512, 0));
        mem_stat_t st = app_stat();
        assert_int_equal(st.nb_allocated, 1); /* the 256-byte buffer was freed */
        assert_int_equal(st.allocated_size, chunk_len_for(512));
        assert_int_equal(st.free_size, g_fresh.free_size - chunk_len_for(512));
        assert_true(is_allocated_chunk(mem_utils_context(), p, chunk_len_for(512)));
        mem_utils_buffer_cleanup(&p);
        assert_true(app_stat_is(&g_fresh));
    }
}

static void test_calloc_null_pptr_and_size_zero(void **state)
{
    (void)state;
    for (int form = 0; form < FORM_COUNT; form++) {
        assert_false(calloc_form(form, NULL, 16));
        assert_false(calloc_form(form, NULL, 0));
        assert_true(app_stat_is(&g_fresh));
        void *p = NULL;
        assert_true(calloc_form(form, &p, 64));
        assert_true(calloc_form(form, &p, 0)); /* frees what p held */
        assert_null(p);
        assert_true(app_stat_is(&g_fresh));
        assert_true(calloc_form(form, &p, 0)); /* and on NULL does nothing */
        assert_null(p);
        assert_true(app_stat_is(&g_fresh));
    }
}

static void test_calloc_failure(void **state)
{
    (void)state;
    void *other = APP_MEM_ALLOC(100);
    assert_non_null(other);
    mem_stat_t with_other = app_stat();
    for (int form = 0; form < FORM_COUNT; form++) {
        void *p = NULL;
        assert_false(calloc_form(form, &p, SIZE_MAX));
        assert_null(p);
        assert_false(calloc_form(form, &p, sizeof g_buf));
        assert_null(p);
        assert_true(app_stat_is(&with_other)); /* nothing leaked */

        assert_true(calloc_form(form, &p, 200));
        assert_false(calloc_form(form, &p, sizeof g_buf));
        assert_null(p); /* the held buffer was freed, the new one never came */
        assert_true(app_stat_is(&with_other));
    }
    APP_MEM_FREE(other);
    assert_true(app_stat_is(&g_fresh));
}

/* ---- Faults: reported through the app heap's handler, never hidden ----- */

static void test_double_free_reported(void **state)
{
    (void)state;
    void *a = APP_MEM_ALLOC(40);
    void *b = APP_MEM_ALLOC(40);
    void *c = APP_MEM_ALLOC(40);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    APP_MEM_FREE(b);
    expect_faults(0);
    mem_stat_t st = app_stat();
    APP_MEM_FREE(b);
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, b);
    assert_true(app_stat_is(&st));
    /* once its chunk has merged into a free neighbour, still a double free */
    APP_MEM_FREE(a);
    st = app_stat();
    APP_MEM_FREE(b);
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, b);
    APP_MEM_FREE(a);
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, a);
    assert_true(app_stat_is(&st));
    assert_int_equal(mem_last_fault(mem_utils_context()), MEM_FAULT_NONE);
    assert_true(heap_consistent(mem_utils_context()));
    APP_MEM_FREE(c);
    expect_faults(0);
    assert_true(app_stat_is(&g_fresh));
}

/* A block of another heap is foreign to the app heap. */
static void test_free_other_heaps_block(void **state)
{
    (void)state;
    mem_ctx_t other = mem_init(g_other, sizeof g_other);
    assert_non_null(other);
    void *q = mem_alloc(other, 32);
    assert_non_null(q);
    mem_stat_t other_st = get_stat(other);
    APP_MEM_FREE(q);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, q);
    assert_null(APP_MEM_REALLOC(q, 64));
    expect_one_fault(MEM_FAULT_INVALID_POINTER, q);
    mem_stat_t now = get_stat(other);
    assert_true(stat_equal(&now, &other_st));
    assert_true(app_stat_is(&g_fresh));
    mem_free(other, q); /* its own heap takes it */
    assert_int_equal(get_stat(other).nb_allocated, 0);
}

static void test_realloc_bad_pointer_reported(void **state)
{
    (void)state;
    uint64_t local = 77;
    void *p = APP_MEM_ALLOC(64);
    void *gone = APP_MEM_ALLOC(64);
    assert_non_null(p);
    assert_non_null(gone);
    fill_pattern(p, 64, 31);
    APP_MEM_FREE(gone);
    mem_stat_t st = app_stat();

    assert_null(APP_MEM_REALLOC(&local, 16));
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_null(APP_MEM_REALLOC(&local, 0)); /* the free it amounts to is refused */
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_null(APP_MEM_REALLOC(&local, SIZE_MAX)); /* the pointer is checked first */
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_null(APP_MEM_REALLOC(gone, 16));
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, gone);
    assert_null(APP_MEM_REALLOC(gone, 0));
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, gone);
    assert_null(APP_MEM_REALLOC((uint8_t *)p + 4, 200));
    expect_one_fault(MEM_FAULT_INVALID_POINTER, (uint8_t *)p + 4);
    assert_null(mem_utils_realloc(&local, 8, "f.c", 1));
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);

    assert_int_equal(local, 77);
    assert_true(app_stat_is(&st));
    assert_true(check_pattern(p, 64, 31));
    assert_true(is_allocated_chunk(mem_utils_context(), p, chunk_len_for(64)));
    APP_MEM_FREE(p);
    expect_faults(0);
    assert_true(app_stat_is(&g_fresh));
}

static void test_free_and_null_refused(void **state)
{
    (void)state;
    uint64_t local = 9;
    void *held = &local;
    APP_MEM_FREE_AND_NULL(&held);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_null(held); /* dropped even though refused */
    void *p = APP_MEM_ALLOC(24);
    assert_non_null(p);
    APP_MEM_FREE(p);
    held = p;
    mem_utils_buffer_cleanup(&held);
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, p);
    assert_null(held);
    mem_utils_free_and_null(&held, "f.c", 1); /* NULL: nothing */
    expect_faults(0);
    assert_int_equal(local, 9);
    assert_true(app_stat_is(&g_fresh));
}

/* A held buffer the heap refuses to free ends the call: false, *pptr NULL,
 * nothing allocated, whatever the size asked (0 included). */
static void test_calloc_refused_held_buffer(void **state)
{
    (void)state;
    uint64_t local = 3;
    static const size_t sizes[] = {0, 16, 512};
    for (int form = 0; form < FORM_COUNT; form++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *held = &local;
            assert_false(calloc_form(form, &held, sizes[i]));
            expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
            assert_null(held);
            assert_true(app_stat_is(&g_fresh));
        }
        void *p = NULL;
        assert_true(calloc_form(form, &p, 40));
        void *was = p;
        APP_MEM_FREE(was); /* the app frees it behind the variable's back */
        assert_false(calloc_form(form, &p, 40));
        expect_one_fault(MEM_FAULT_DOUBLE_FREE, was);
        assert_null(p);
        assert_true(app_stat_is(&g_fresh));
    }
    void *held = &local;
    assert_false(mem_utils_calloc(&held, 8, false, "f.c", 1));
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_int_equal(local, 3);
}

#if MEM_HARDENING > 0
/* An overwritten tail canary: the free is refused with MEM_FAULT_OVERFLOW
 * and the heap fails closed until it is re-initialized. */
static void test_overflow_reported_and_heap_fails_closed(void **state)
{
    (void)state;
    mem_ctx_t ctx = mem_utils_context();
    void *keep = APP_MEM_ALLOC(32);
    uint8_t *p = APP_MEM_ALLOC(40);
    assert_non_null(keep);
    assert_non_null(p);
    assert_int_equal(mem_usable_size(ctx, p), 40u);
    raw_flip(p + 40, 1); /* the first byte past the request: the canary */
    APP_MEM_FREE(p);
    expect_one_fault(MEM_FAULT_OVERFLOW, p);
    assert_int_equal(mem_last_fault(ctx), MEM_FAULT_OVERFLOW);
    mem_stat_t st = app_stat(); /* a failed heap has no statistics */
    assert_true(stat_is_zero(&st));
    expect_one_fault(MEM_FAULT_OVERFLOW, ctx);

    /* fail closed: every later call refuses and reports the fault again */
    assert_null(APP_MEM_ALLOC(16));
    expect_one_fault(MEM_FAULT_OVERFLOW, ctx);
    APP_MEM_FREE(keep);
    expect_one_fault(MEM_FAULT_OVERFLOW, keep);
    void *held = NULL;
    assert_false(APP_MEM_CALLOC(&held, 16));
    expect_one_fault(MEM_FAULT_OVERFLOW, ctx);
    assert_null(held);
    assert_null(APP_MEM_STRDUP("x"));
    expect_one_fault(MEM_FAULT_OVERFLOW, ctx);
    /* the handler of a failed heap cannot be changed */
    assert_false(mem_utils_set_fault_handler(NULL, NULL));
    assert_null(APP_MEM_ALLOC(16));
    expect_one_fault(MEM_FAULT_OVERFLOW, ctx); /* still the recorder */

    /* re-initializing recovers, with the app's handler in force */
    assert_true(mem_utils_init(g_buf, sizeof g_buf));
    assert_int_equal(mem_last_fault(mem_utils_context()), MEM_FAULT_NONE);
    assert_true(app_stat_is(&g_fresh));
    uint64_t local = 0;
    APP_MEM_FREE(&local);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
}
#endif

/* The app's handler is a property of the app heap: set before init, or while
 * detached, it is installed by every later mem_utils_init. */
static void test_handler_follows_the_app_heap(void **state)
{
    (void)state;
    uint64_t local = 0;
    assert_false(mem_utils_init(NULL, 0));
    assert_true(mem_utils_set_fault_handler(NULL, NULL));
    assert_true(mem_utils_set_fault_handler(record_fault, &g_faults)); /* recorded only */
    APP_MEM_FREE(&local); /* no heap: a no-op, nothing to report */
    expect_faults(0);
    assert_true(mem_utils_init(g_other, sizeof g_other));
    APP_MEM_FREE(&local);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_true(mem_utils_init(g_buf, sizeof g_buf));
    APP_MEM_FREE(&local);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);

    /* another user pointer reaches the handler */
    static int other_user;
    assert_true(mem_utils_set_fault_handler(record_fault, &other_user));
    APP_MEM_FREE(&local);
    expect_faults(1);
    assert_ptr_equal(g_faults.user[0], &other_user);
    assert_ptr_equal(g_faults.ctx[0], mem_utils_context());
    fault_recorder_clear(&g_faults);
    assert_true(mem_utils_set_fault_handler(record_fault, &g_faults));
}

/* A handler may longjmp out of the call: the wrappers keep no state across
 * it, so later calls, refused or not, behave as ever. */
static void test_handler_may_longjmp(void **state)
{
    (void)state;
    uint64_t local = 0;
    volatile int escaped = 0;
    fault_recorder_arm(&g_faults);
    if (setjmp(g_faults.escape) == 0) {
        APP_MEM_FREE(&local);
        fail_msg("the handler did not longjmp");
    } else {
        escaped = 1;
    }
    assert_int_equal(escaped, 1);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    void *held = &local;
    fault_recorder_arm(&g_faults);
    if (setjmp(g_faults.escape) == 0) {
        (void)APP_MEM_CALLOC(&held, 16);
        fail_msg("the handler did not longjmp");
    }
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_ptr_equal(held, &local); /* abandoned before anything changed */
    assert_true(app_stat_is(&g_fresh));

    void *p = NULL;
    assert_true(APP_MEM_CALLOC(&p, 24));
    assert_true(APP_MEM_CALLOC(&p, 48));
    expect_faults(0);
    held = &local;
    assert_false(APP_MEM_CALLOC(&held, 16)); /* a returning handler still ends the call */
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    APP_MEM_FREE(p);
    expect_faults(0);
    assert_true(app_stat_is(&g_fresh));
}

/* In the child: the default handler, then the misuse. */
static void free_it(void *p)
{
    if (mem_utils_set_fault_handler(NULL, NULL)) {
        APP_MEM_FREE(p);
    }
}

static void realloc_it(void *p)
{
    if (mem_utils_set_fault_handler(NULL, NULL)) {
        (void)APP_MEM_REALLOC(p, 32);
    }
}

/* Without an app handler, misuse aborts with the allocator's one line. */
static void test_default_handler_aborts(void **state)
{
    (void)state;
    uint64_t local = 0;
    char want[256];
    (void)snprintf(want, sizeof want, "hardalloc: invalid pointer at %p in heap %p\n",
                   (void *)&local, mem_utils_context());
    expect_child_abort(free_it, &local, want);
    expect_child_abort(realloc_it, &local, want);
    void *p = APP_MEM_ALLOC(16);
    assert_non_null(p);
    APP_MEM_FREE(p);
    (void)snprintf(want, sizeof want, "hardalloc: double free at %p in heap %p\n", p,
                   mem_utils_context());
    expect_child_abort(free_it, p, want);
    /* the parent's own alloc and free left nothing behind (the children's
     * calls are in their own copies of the heap) */
    expect_faults(0);
    assert_true(app_stat_is(&g_fresh));
}

/* ---- Function forms, log sink ------------------------------------------ */

static void test_function_forms(void **state)
{
    (void)state;
    mem_ctx_t ctx = mem_utils_context();
    void *a = mem_utils_alloc(16, false, "f.c", 1);
    void *b = mem_utils_alloc(24, true, NULL, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(mem_utils_alloc(0, false, "f.c", 2));
    fill_pattern(a, 16, 21);
    a = mem_utils_realloc(a, 200, "f.c", 3);
    assert_non_null(a);
    assert_true(check_pattern(a, 16, 21));
    assert_int_equal(mem_usable_size(ctx, a), usable_in_chunk(chunk_len_of(a), 200));
    char *s = mem_utils_strdup("xyz", "f.c", 4);
    assert_string_equal(s, "xyz");
    assert_null(mem_utils_strdup(NULL, "f.c", 5));
    void *c = NULL;
    void *d = NULL;
    assert_true(mem_utils_calloc(&c, 32, false, "f.c", 6));
    assert_true(mem_utils_calloc(&d, 48, true, NULL, 0));
    assert_true(all_bytes(c, 32, 0));
    assert_true(all_bytes(d, 48, 0));
    assert_false(mem_utils_calloc(NULL, 8, false, "f.c", 7));
    assert_int_equal(app_stat().nb_allocated, 5);

    mem_utils_free(s, "f.c", 8);
    mem_utils_free(b, NULL, 0);
    mem_utils_free(NULL, "f.c", 9);
    mem_utils_free_and_null(&c, "f.c", 10);
    assert_null(c);
    mem_utils_free_and_null(NULL, "f.c", 11);
    assert_null(mem_utils_realloc(a, 0, "f.c", 12));
    assert_int_equal(app_stat().nb_allocated, 1);
    mem_utils_free_and_null(&d, NULL, 0);
    assert_null(d);
    assert_true(app_stat_is(&g_fresh));
}

static unsigned g_sink_calls;

static void counting_sink(void *user, const char *line, size_t len)
{
    (void)line;
    (void)len;
    (*(unsigned *)user)++;
}

static void test_log_sink_is_noop_in_plain_build(void **state)
{
    (void)state;
    g_sink_calls = 0;
    mem_utils_set_log_sink(counting_sink, &g_sink_calls);
    assert_true(mem_utils_init(g_buf, sizeof g_buf));
    void *p = APP_MEM_REALLOC(APP_MEM_ALLOC(32), 64);
    assert_non_null(p);
    APP_MEM_FREE(p);
    APP_MEM_FREE(APP_MEM_STRDUP("log me"));
    void *c = NULL;
    assert_true(APP_MEM_CALLOC(&c, 16));
    assert_true(APP_MEM_PERMANENT(&c, 16));
    mem_utils_buffer_cleanup(&c);
    assert_false(mem_utils_init(NULL, 0));
    assert_int_equal(g_sink_calls, 0);
    mem_utils_set_log_sink(NULL, NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_app_heap, teardown_app_heap)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_init), /* first: no init has happened yet */
        T(test_detach),
        T(test_init_success),
        T(test_init_failure),
        T(test_context_is_the_app_heap),
        T(test_reinit_same_buffer),
        T(test_reinit_other_buffer),
        T(test_alloc_zero_and_too_large),
        T(test_alloc_sizes),
        T(test_alloc_exhaustion),
        T(test_free_block),
        T(test_realloc_block),
        T(test_realloc_failure_keeps_block),
        T(test_free_and_null),
        T(test_strdup),
        T(test_calloc_zeroed),
        T(test_calloc_replaces_held_buffer),
        T(test_calloc_null_pptr_and_size_zero),
        T(test_calloc_failure),
        T(test_double_free_reported),
        T(test_free_other_heaps_block),
        T(test_realloc_bad_pointer_reported),
        T(test_free_and_null_refused),
        T(test_calloc_refused_held_buffer),
#if MEM_HARDENING > 0
        T(test_overflow_reported_and_heap_fails_closed),
#endif
        T(test_handler_follows_the_app_heap),
        T(test_handler_may_longjmp),
        T(test_default_handler_aborts),
        T(test_function_forms),
        T(test_log_sink_is_noop_in_plain_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
