/**
 * @file test_mem_size_edges.c
 * @brief The size edges of a 32-bit size_t, asserted on every target: the
 *        SDK this allocator serves runs on 32-bit ARM, where a request of
 *        SIZE_MAX - 11 wraps to 0 once the header and canary are added, and
 *        SIZE_MAX / 2 + 1 is already past the 2 GiB clamp. Each request
 *        below must be refused by mem_alloc, by mem_realloc of a live block
 *        and of NULL, and by the app wrappers, with no fault, nothing written
 *        and the block untouched. The same values are asserted as plain
 *        numbers on a 64-bit target (where UINT32_MAX - 11 is merely too
 *        large), which adds its own edges: sizes whose low 32 bits are small.
 *        tools/test --arch armhf runs this under qemu-user.
 *        Also: mem_stat(&ctx) reads no byte past a 4-byte mem_ctx_t variable.
 */

#include "test_fixture.h"

#include "app_mem_utils.h"
#include "heap_internal.h"

/* Requests no heap can serve (heaps hold at most MEM_MAX_HEAP_SIZE bytes,
 * context included), gathered into *out; returns how many. */
#define MAX_EDGES 128u

static size_t size_edges(size_t *out)
{
    size_t n = 0;
    /* n + MEM_CHUNK_OVERHEAD, or its rounding up to 8, wraps: every size
     * from SIZE_MAX - (MEM_CHUNK_OVERHEAD + 6) up, and the two below. */
    for (size_t k = 0; k <= MEM_CHUNK_OVERHEAD + 8u; k++) {
        out[n++] = SIZE_MAX - k;
    }
    /* The top half: 2^31 (the clamp itself) on 32 bits, 2^63 on 64. */
    out[n++] = SIZE_MAX / 2u;
    out[n++] = SIZE_MAX / 2u + 1u;
    out[n++] = SIZE_MAX / 2u + 1u + 8u;
    out[n++] = SIZE_MAX / 2u + 1u + MEM_CHUNK_OVERHEAD;
    /* The 32-bit values as numbers (the same as above on a 32-bit target). */
    for (size_t k = 0; k <= MEM_CHUNK_OVERHEAD + 8u; k++) {
        out[n++] = (size_t)UINT32_MAX - k;
    }
    out[n++] = (size_t)UINT32_MAX / 2u + 1u;
    /* Around the clamp: no request of 2 GiB, or whose chunk is 2 GiB, fits
     * a heap of at most 2 GiB that also holds its context. */
    out[n++] = MEM_MAX_HEAP_SIZE + 1u;
    out[n++] = MEM_MAX_HEAP_SIZE;
    out[n++] = MEM_MAX_HEAP_SIZE - 1u;
    out[n++] = MEM_MAX_HEAP_SIZE - MEM_CHUNK_OVERHEAD;
#if SIZE_MAX > UINT32_MAX
    /* 64-bit size_t: a size truncated to 32 bits would be a small request. */
    assert_int_equal((uint32_t)((size_t)UINT32_MAX + 1u + 16u), 16u);
    out[n++] = (size_t)UINT32_MAX + 1u;
    out[n++] = (size_t)UINT32_MAX + 1u + 1u;
    out[n++] = (size_t)UINT32_MAX + 1u + 16u;
    out[n++] = (size_t)UINT32_MAX + 1u + HEAP_SIZE / 4u;
    out[n++] = ((size_t)1u << 32) + MEM_MAX_HEAP_SIZE;
#else
    /* 32-bit size_t: the premise of the edges above, that they wrap to a
     * small length (exactly 0 for the first) once the overhead is added. */
    assert_int_equal(sizeof(size_t), 4u);
    assert_int_equal((size_t)(SIZE_MAX - MEM_CHUNK_OVERHEAD + 1u) + MEM_CHUNK_OVERHEAD, 0u);
    assert_true((size_t)(SIZE_MAX - 7u) + MEM_CHUNK_OVERHEAD + 7u < 32u);
    assert_int_equal(SIZE_MAX / 2u + 1u, MEM_MAX_HEAP_SIZE);
#endif
    assert_true(n <= MAX_EDGES);
    return n;
}

/* mem_alloc and mem_realloc(NULL, n) refuse every edge: NULL, no fault,
 * not a byte of the heap changed. */
static void test_alloc_refuses_size_edges(void **state)
{
    (void)state;
    fault_recorder_install(g_ctx, &g_faults);
    size_t edges[MAX_EDGES];
    size_t n = size_edges(edges);
    uint8_t *keep = mem_alloc(g_ctx, 100);
    assert_non_null(keep);
    heap_snapshot();
    for (size_t i = 0; i < n; i++) {
        void *p = mem_alloc(g_ctx, edges[i]);
        void *q = mem_realloc(g_ctx, NULL, edges[i]);
        if (p != NULL || q != NULL) {
            print_message("request %zu (SIZE_MAX - %zu): mem_alloc %p, mem_realloc(NULL) %p\n", edges[i],
                          SIZE_MAX - edges[i], p, q);
        }
        assert_null(p);
        assert_null(q);
        assert_true(no_fault(&g_faults));
        assert_true(heap_bytes_unchanged());
    }
    assert_true(mem_check(g_ctx));
    mem_stat_t st = get_stat(g_ctx);
    assert_true(stat_equal(&st, &g_snap_stat));
    /* the heap still serves what fits, next to the kept block */
    void *small = mem_alloc(g_ctx, 16);
    assert_non_null(small);
    mem_free(g_ctx, small);
    mem_free(g_ctx, keep);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

/* mem_realloc of a live block to any edge: NULL, the block keeps its place,
 * its content and its usable size, and nothing else changed. Between a free
 * predecessor and a free successor too, where a wrapped length would have
 * made an in-place or sliding resize look possible. */
static void test_realloc_refuses_size_edges(void **state)
{
    (void)state;
    fault_recorder_install(g_ctx, &g_faults);
    size_t edges[MAX_EDGES];
    size_t n = size_edges(edges);
    uint8_t *r[5];
    alloc_row(r, 5, 64);
    mem_free(g_ctx, r[1]);
    mem_free(g_ctx, r[3]);
    fill_pattern(r[2], 64, 42);
    size_t usable = mem_usable_size(g_ctx, r[2]);
    heap_snapshot();
    for (size_t i = 0; i < n; i++) {
        void *p = mem_realloc(g_ctx, r[2], edges[i]);
        if (p != NULL) {
            print_message("mem_realloc(%zu) (SIZE_MAX - %zu) returned %p\n", edges[i], SIZE_MAX - edges[i], p);
        }
        assert_null(p);
        assert_true(no_fault(&g_faults));
        assert_true(heap_bytes_unchanged());
    }
    assert_true(check_pattern(r[2], 64, 42));
    assert_int_equal(mem_usable_size(g_ctx, r[2]), usable);
    assert_true(is_allocated_chunk(g_ctx, r[2], chunk_len_for(64)));
    assert_true(mem_check(g_ctx));
    /* still owned: it grows into both neighbours and is freed */
    uint8_t *g = mem_realloc(g_ctx, r[2], 3u * 64u);
    assert_non_null(g);
    assert_true(check_pattern(g, 64, 42));
    mem_free(g_ctx, g);
    mem_free(g_ctx, r[0]);
    mem_free(g_ctx, r[4]);
    assert_true(heap_consistent_sum(g_ctx, g_fresh.free_size));
}

/* The app wrappers pass the size through unchanged: APP_MEM_ALLOC,
 * APP_MEM_REALLOC and APP_MEM_CALLOC (which would zero `size` bytes if the
 * allocation went through) refuse every edge. */
static void test_wrappers_refuse_size_edges(void **state)
{
    (void)state;
    static uint64_t app_heap[8u * KIB / 8u];
    assert_true(mem_utils_init(app_heap, sizeof app_heap));
    size_t edges[MAX_EDGES];
    size_t n = size_edges(edges);
    char *keep = APP_MEM_ALLOC(32);
    assert_non_null(keep);
    memset(keep, 'k', 32);
    mem_stat_t before = get_stat(mem_utils_context());
    for (size_t i = 0; i < n; i++) {
        void *held = NULL;
        assert_null(APP_MEM_ALLOC(edges[i]));
        assert_null(APP_MEM_REALLOC(keep, edges[i]));
        assert_false(APP_MEM_CALLOC(&held, edges[i]));
        assert_null(held);
        assert_false(APP_MEM_PERMANENT(&held, edges[i]));
        assert_null(held);
    }
    assert_true(all_bytes(keep, 32, 'k'));
    mem_stat_t after = get_stat(mem_utils_context());
    assert_true(stat_equal(&before, &after));
    APP_MEM_FREE(keep);
    assert_true(mem_check(mem_utils_context()));
}

/* mem_stat(&ctx), the SDK's form: with 4-byte pointers the variable is 4
 * bytes, and whatever the app keeps right after it must not count. Here
 * the next word holds exactly what a heap context at the variable's address
 * would hold as its second identity word; mem_stat used to read it and take
 * the variable for a damaged heap (all-zero statistics). With 8-byte
 * pointers the word lies past the variable's 8 bytes. */
static void test_stat_reads_only_the_ctx_variable(void **state)
{
    (void)state;
    struct {
        mem_ctx_t ctx;
        uint32_t next[2]; /* the app's own data, right after the variable */
    } __attribute__((aligned(8))) v;
    v.ctx = g_ctx;
    v.next[0] = heap_id(&v) ^ ID2_XOR;
    v.next[1] = 0u;
    mem_stat_t st = get_stat(&v.ctx);
    assert_true(stat_equal(&st, &g_fresh));
    v.next[0] = heap_id(&v) ^ ID2_XOR ^ 1u; /* the same word under valgrind */
    st = get_stat(&v.ctx);
    assert_true(stat_equal(&st, &g_fresh));
    /* a variable holding no known heap is still no heap */
    v.ctx = &v;
    v.next[0] = 0u;
    st = get_stat(&v.ctx);
    assert_true(stat_is_zero(&st));
}

int main(void)
{
    print_message("size_t: %zu bytes, pointers: %zu bytes\n", sizeof(size_t), sizeof(void *));
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(test_alloc_refuses_size_edges),
        FIXTURE_TEST(test_realloc_refuses_size_edges),
        FIXTURE_TEST(test_wrappers_refuse_size_edges),
        FIXTURE_TEST(test_stat_reads_only_the_ctx_variable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
