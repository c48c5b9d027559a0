/**
 * @file test_mem_heaps.c
 * @brief Whole-heap behaviour: exhaustion and recovery, density, several heaps
 *        side by side, and heaps from MEM_MIN_HEAP_SIZE up to the 2 GiB clamp.
 */

/* MAP_ANONYMOUS and MAP_NORESERVE */
#define _DEFAULT_SOURCE

#include "test_helpers.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HEAP_SIZE (32u * 1024u)
#define MAX_PTRS 4096u

/* A request no heap can serve that a careless size computation would turn
 * into a small one: with a 64-bit size_t, 2^32 (its low 32 bits are 0); with
 * a 32-bit size_t, the largest size whose chunk length (request, header and
 * canary) wraps around to 0. */
#if SIZE_MAX > UINT32_MAX
#define WRAPPING_REQUEST ((size_t)UINT32_MAX + 1u)
#else
#define WRAPPING_REQUEST (SIZE_MAX - MEM_CHUNK_OVERHEAD + 1u)
#endif

static uint64_t g_heap[HEAP_SIZE / 8u];
static uint8_t *g_ptrs[MAX_PTRS];
static size_t g_lens[MAX_PTRS];

/* ------------------------------------------------------------------------ */
/* Exhaustion and recovery                                                  */
/* ------------------------------------------------------------------------ */

enum { PAT_ONE, PAT_HUNDRED, PAT_INCREASING, PAT_RANDOM, PAT_BIG_SMALL, PAT_COUNT };
enum { ORD_FORWARD, ORD_REVERSE, ORD_EVEN_ODD, ORD_SHUFFLE, ORD_COUNT };

static const char *const pattern_names[PAT_COUNT] = {"1 byte", "100 bytes", "1, 2, 3, ...",
                                                     "random 1..1000", "1000 / 8 alternating"};
static const char *const order_names[ORD_COUNT] = {"allocation order", "reverse order",
                                                   "even then odd", "shuffled"};

static size_t pattern_size(int pattern, size_t i, uint64_t *seed)
{
    switch (pattern) {
    case PAT_ONE:
        return 1;
    case PAT_HUNDRED:
        return 100;
    case PAT_INCREASING:
        return i + 1u;
    case PAT_RANDOM:
        return rand_range(seed, 1, 1000);
    default:
        return i % 2u == 0 ? 1000u : 8u;
    }
}

static void fill_free_and_recover(mem_ctx_t ctx, int pattern, int order)
{
    const mem_stat_t fresh = get_stat(ctx);
    uint64_t seed = 0x1234567u + (uint64_t)pattern;
    size_t n = 0;
    size_t failed = 0;
    for (;;) {
        size_t want = pattern_size(pattern, n, &seed);
        uint8_t *p = mem_alloc(ctx, want);
        if (p == NULL) {
            failed = want;
            break;
        }
        assert_true(n < MAX_PTRS);
        assert_true(is_aligned8(p));
        g_lens[n] = mem_usable_size(ctx, p);
        assert_true(g_lens[n] >= want);
        assert_int_equal(g_lens[n], usable_in_chunk(chunk_len_of(p), want));
        fill_pattern(p, g_lens[n], n);
        g_ptrs[n++] = p;
    }
    /* only the rest of the heap was free, and it was too small */
    mem_stat_t st = get_stat(ctx);
    assert_int_equal(st.nb_allocated, n);
    assert_true(st.free_size < chunk_len_for(failed));
    assert_int_equal(st.nb_chunks, st.free_size == 0 ? n : n + 1u);
    assert_int_equal(st.largest_free_size, st.free_size);
    assert_true(heap_consistent_sum(ctx, fresh.free_size));
    for (size_t i = 0; i < n; i++) {
        assert_true(check_pattern(g_ptrs[i], g_lens[i], i));
    }

    /* free everything in the requested order */
    static size_t idx[MAX_PTRS];
    size_t k = 0;
    switch (order) {
    case ORD_FORWARD:
        for (size_t i = 0; i < n; i++) {
            idx[k++] = i;
        }
        break;
    case ORD_REVERSE:
        for (size_t i = n; i-- > 0;) {
            idx[k++] = i;
        }
        break;
    case ORD_EVEN_ODD:
        for (size_t i = 0; i < n; i += 2) {
            idx[k++] = i;
        }
        for (size_t i = 1; i < n; i += 2) {
            idx[k++] = i;
        }
        break;
    default:
        for (size_t i = 0; i < n; i++) {
            idx[k++] = i;
        }
        for (size_t i = n; i > 1; i--) {
            size_t j = rand_range(&seed, 0, i - 1u);
            size_t t = idx[i - 1u];
            idx[i - 1u] = idx[j];
            idx[j] = t;
        }
        break;
    }
    assert_int_equal(k, n);
    for (size_t i = 0; i < n; i++) {
        mem_free(ctx, g_ptrs[idx[i]]);
        if (i % 61u == 0) {
            assert_true(heap_consistent_sum(ctx, fresh.free_size));
            /* chunks not yet freed kept their content */
            for (size_t j = i + 1u; j < n; j += 17u) {
                assert_true(check_pattern(g_ptrs[idx[j]], g_lens[idx[j]], idx[j]));
            }
        }
    }

    /* the heap is whole again */
    st = get_stat(ctx);
    assert_true(stat_equal(&st, &fresh));
    assert_int_equal(st.nb_chunks, 1);
    assert_true(heap_consistent(ctx));
    void *all = mem_alloc(ctx, fresh.largest_free_size - MEM_CHUNK_OVERHEAD);
    assert_non_null(all);
    mem_free(ctx, all);
}

static void test_exhaustion_and_recovery(void **state)
{
    (void)state;
    for (int pattern = 0; pattern < PAT_COUNT; pattern++) {
        for (int order = 0; order < ORD_COUNT; order++) {
            mem_ctx_t ctx = mem_init(g_heap, sizeof g_heap);
            assert_non_null(ctx);
            print_message("    fill with %s, free in %s\n", pattern_names[pattern],
                          order_names[order]);
            fill_free_and_recover(ctx, pattern, order);
        }
    }
}

static void test_exhaustion_tiny_heap(void **state)
{
    (void)state;
    static uint64_t tiny[MEM_MIN_HEAP_SIZE / 8u];
    for (int pattern = 0; pattern < PAT_COUNT; pattern++) {
        for (int order = 0; order < ORD_COUNT; order++) {
            mem_ctx_t ctx = mem_init(tiny, sizeof tiny);
            assert_non_null(ctx);
            fill_free_and_recover(ctx, pattern, order);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Density                                                                  */
/* ------------------------------------------------------------------------ */

/* Requests uniform in 8..512 bytes until the first failure: the requested
 * bytes cover at least 95 % of a 32 KiB heap on average over 20 seeds with
 * the 4-byte overhead of a chunk off; each further byte of overhead (the
 * hardened header and canary take 12) costs 1/260 of that at the mean
 * request of 260 bytes, and the 128 bytes of quick-list heads in the
 * context of a heap this large (below paranoid) their share of the heap. */
static void test_density_32k(void **state)
{
    (void)state;
    double sum_ratio = 0.0;
    double min_ratio = 1.0;
    double max_ratio = 0.0;
    for (uint64_t s = 1; s <= 20; s++) {
        mem_ctx_t ctx = mem_init(g_heap, sizeof g_heap);
        assert_non_null(ctx);
        uint64_t seed = s * 0x9E3779B97F4A7C15ull;
        size_t requested = 0;
        for (;;) {
            size_t want = rand_range(&seed, 8, 512);
            if (mem_alloc(ctx, want) == NULL) {
                break;
            }
            requested += want;
        }
        assert_true(heap_consistent(ctx));
        /* forget the blocks (valgrind would report them as leaks) */
        assert_ptr_equal(mem_init(g_heap, sizeof g_heap), ctx);
        double ratio = (double)requested / (double)HEAP_SIZE;
        sum_ratio += ratio;
        min_ratio = ratio < min_ratio ? ratio : min_ratio;
        max_ratio = ratio > max_ratio ? ratio : max_ratio;
    }
    double avg = sum_ratio / 20.0;
    const double quick_heads = MEM_HARDENING < 2 ? 128.0 : 0.0;
    const double min_avg = 0.95 - (double)(MEM_CHUNK_OVERHEAD - 4u) / 260.0 - quick_heads / (double)HEAP_SIZE;
    print_message("    density on a 32 KiB heap, requests 8..512 B: average %.4f (min %.4f, max "
                  "%.4f) over 20 seeds, at least %.4f expected\n",
                  avg, min_ratio, max_ratio, min_avg);
    assert_true(avg >= min_avg);
}

/* ------------------------------------------------------------------------ */
/* Several heaps                                                            */
/* ------------------------------------------------------------------------ */

/* Two heaps in one buffer, the second starting (misaligned) right where the
 * first one ends: operations on one never show in the other. */
static void test_two_heaps_side_by_side(void **state)
{
    (void)state;
    static uint64_t buf[(16u * 1024u) / 8u];
    static uint8_t before[sizeof buf];
    const size_t size_a = 5003;
    uint8_t *start_b = (uint8_t *)buf + size_a;
    const size_t size_b = sizeof buf - size_a;
    raw_buffer_reset(buf, sizeof buf, 0);
    mem_ctx_t a = mem_init(buf, size_a);
    mem_ctx_t b = mem_init(start_b, size_b);
    assert_non_null(a);
    assert_non_null(b);
    static fault_recorder_t faults_a;
    static fault_recorder_t faults_b;
    fault_recorder_install(a, &faults_a);
    fault_recorder_install(b, &faults_b);
    const mem_stat_t fresh_a = get_stat(a);
    const mem_stat_t fresh_b = get_stat(b);
    assert_int_equal(fresh_a.total_size, size_a);
    assert_int_equal(fresh_b.total_size, size_b);

    /* interleaved allocations, each inside its own heap */
    uint8_t *pa[200];
    uint8_t *pb[200];
    size_t ta[200];
    size_t tb[200];
    size_t na = 0;
    size_t nb = 0;
    uint64_t seed = 99;
    for (size_t i = 0; i < 200; i++) {
        uint8_t *p = mem_alloc(a, rand_range(&seed, 1, 64));
        if (p != NULL) {
            assert_true(addr_of(p) + mem_usable_size(a, p) <= addr_of(start_b));
            fill_pattern(p, mem_usable_size(a, p), i);
            ta[na] = i;
            pa[na++] = p;
        }
        p = mem_alloc(b, rand_range(&seed, 1, 64));
        if (p != NULL) {
            assert_true(addr_of(p) - 8u >= addr_of(start_b)); /* the chunk starts 8 bytes before */
            fill_pattern(p, mem_usable_size(b, p), 1000u + i);
            tb[nb] = 1000u + i;
            pb[nb++] = p;
        }
    }
    assert_true(na > 20u);
    assert_true(nb > 20u);
    assert_null(mem_alloc(a, 64)); /* heap a is the smaller one and full */
    assert_true(heap_consistent_sum(a, fresh_a.free_size));
    assert_true(heap_consistent_sum(b, fresh_b.free_size));
    assert_int_equal(get_stat(a).nb_allocated, na);
    assert_int_equal(get_stat(b).nb_allocated, nb);

    /* operations on a leave b's statistics alone and vice versa */
    mem_stat_t sb = get_stat(b);
    for (size_t i = 0; i < na; i += 2) {
        mem_free(a, pa[i]);
    }
    mem_stat_t sb2 = get_stat(b);
    assert_true(stat_equal(&sb, &sb2));
    mem_stat_t sa = get_stat(a);
    uint8_t *extra = mem_alloc(b, 100);
    assert_non_null(extra);
    mem_stat_t sa2 = get_stat(a);
    assert_true(stat_equal(&sa, &sa2));
    mem_free(b, extra);

    /* a chunk of one heap is foreign to the other: an invalid pointer,
     * reported to the heap it was given to, which does not fail */
    raw_read(before, buf, sizeof buf);
    assert_true(no_fault(&faults_a));
    assert_true(no_fault(&faults_b));
    mem_free(b, pa[1]);
    assert_true(fault_seen(&faults_b, b, MEM_FAULT_INVALID_POINTER, pa[1]));
    mem_free(a, pb[1]);
    assert_true(fault_seen(&faults_a, a, MEM_FAULT_INVALID_POINTER, pb[1]));
    assert_null(mem_realloc(b, pa[1], 8));
    assert_true(fault_seen(&faults_b, b, MEM_FAULT_INVALID_POINTER, pa[1]));
    assert_null(mem_realloc(a, pb[1], 8));
    assert_true(fault_seen(&faults_a, a, MEM_FAULT_INVALID_POINTER, pb[1]));
    assert_int_equal(mem_usable_size(b, pa[1]), 0);
    assert_true(fault_seen(&faults_b, b, MEM_FAULT_INVALID_POINTER, pa[1]));
    assert_int_equal(mem_usable_size(a, pb[1]), 0);
    assert_true(fault_seen(&faults_a, a, MEM_FAULT_INVALID_POINTER, pb[1]));
    assert_true(raw_equal(before, buf, sizeof buf));
    assert_int_equal(mem_last_fault(a), MEM_FAULT_NONE);
    assert_int_equal(mem_last_fault(b), MEM_FAULT_NONE);

    for (size_t i = 1; i < na; i += 2) {
        assert_true(check_pattern(pa[i], mem_usable_size(a, pa[i]), ta[i]));
        mem_free(a, pa[i]);
    }
    for (size_t i = 0; i < nb; i++) {
        assert_true(check_pattern(pb[i], mem_usable_size(b, pb[i]), tb[i]));
        mem_free(b, pb[i]);
    }
    sa = get_stat(a);
    sb = get_stat(b);
    assert_true(stat_equal(&sa, &fresh_a));
    assert_true(stat_equal(&sb, &fresh_b));
    assert_true(heap_consistent(a));
    assert_true(heap_consistent(b));
    assert_true(no_fault(&faults_a));
    assert_true(no_fault(&faults_b));
}

/* Eight heaps in eight buffers, operated round-robin. */
static void test_many_heaps_interleaved(void **state)
{
    (void)state;
    enum { HEAPS = 8, PER = 64 };
    static uint64_t bufs[HEAPS][2048 / 8];
    mem_ctx_t ctx[HEAPS];
    mem_stat_t fresh[HEAPS];
    static uint8_t *p[HEAPS][PER];
    for (size_t h = 0; h < HEAPS; h++) {
        ctx[h] = mem_init(bufs[h], sizeof bufs[h] - h);
        assert_non_null(ctx[h]);
        fresh[h] = get_stat(ctx[h]);
        assert_int_equal(fresh[h].total_size, sizeof bufs[h] - h);
    }
    uint64_t seed = 5;
    for (size_t round = 0; round < 20; round++) {
        for (size_t h = 0; h < HEAPS; h++) {
            for (size_t i = 0; i < PER; i++) {
                if (p[h][i] == NULL) {
                    p[h][i] = mem_alloc(ctx[h], rand_range(&seed, 1, 40));
                    if (p[h][i] != NULL) {
                        fill_pattern(p[h][i], mem_usable_size(ctx[h], p[h][i]), h * PER + i);
                    }
                } else if (rand_range(&seed, 0, 1) == 0) {
                    assert_true(check_pattern(p[h][i], mem_usable_size(ctx[h], p[h][i]), h * PER + i));
                    mem_free(ctx[h], p[h][i]);
                    p[h][i] = NULL;
                }
            }
        }
        for (size_t h = 0; h < HEAPS; h++) {
            assert_true(heap_consistent_sum(ctx[h], fresh[h].free_size));
        }
    }
    for (size_t h = 0; h < HEAPS; h++) {
        for (size_t i = 0; i < PER; i++) {
            if (p[h][i] != NULL) {
                assert_true(check_pattern(p[h][i], mem_usable_size(ctx[h], p[h][i]), h * PER + i));
                mem_free(ctx[h], p[h][i]);
            }
        }
        mem_stat_t st = get_stat(ctx[h]);
        assert_true(stat_equal(&st, &fresh[h]));
    }
}

/* ------------------------------------------------------------------------ */
/* Heap sizes                                                               */
/* ------------------------------------------------------------------------ */

static void test_heap_min_size(void **state)
{
    (void)state;
    static uint64_t tiny[MEM_MIN_HEAP_SIZE / 8u];
    mem_ctx_t ctx = mem_init(tiny, sizeof tiny);
    assert_non_null(ctx);
    mem_stat_t fresh = get_stat(ctx);
    assert_int_equal(fresh.total_size, MEM_MIN_HEAP_SIZE);
    assert_int_equal(fresh.nb_chunks, 1);
    assert_true(fresh.free_size >= MEM_MIN_CHUNK);
    void *p = mem_alloc(ctx, fresh.largest_free_size - MEM_CHUNK_OVERHEAD);
    assert_non_null(p);
    memset(p, 0xEE, fresh.largest_free_size - MEM_CHUNK_OVERHEAD);
    assert_null(mem_alloc(ctx, 1));
    assert_true(heap_consistent(ctx));
    p = mem_realloc(ctx, p, 1);
    assert_non_null(p);
    assert_true(heap_consistent_sum(ctx, fresh.free_size));
    mem_free(ctx, p);
    mem_stat_t st = get_stat(ctx);
    assert_true(stat_equal(&st, &fresh));
    assert_null(mem_alloc(ctx, MEM_MIN_HEAP_SIZE));
}

static void test_heap_256mib(void **state)
{
    (void)state;
    const size_t size = 256u * MIB;
    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    mem_ctx_t ctx = mem_init(buf, size);
    assert_non_null(ctx);
    mem_stat_t fresh = get_stat(ctx);
    assert_int_equal(fresh.total_size, size);
    assert_int_equal(fresh.nb_chunks, 1);
    assert_true(fresh.free_size > size - 64u * KIB);
    assert_true(heap_consistent(ctx));

    uint8_t *a = mem_alloc(ctx, 100u * MIB);
    uint8_t *b = mem_alloc(ctx, 100u * MIB);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(mem_alloc(ctx, 100u * MIB));
    assert_null(mem_alloc(ctx, 1024u * MIB));
    assert_null(mem_alloc(ctx, WRAPPING_REQUEST));
    a[0] = 1;
    a[100u * MIB - 1u] = 2;
    b[0] = 3;
    b[100u * MIB - 1u] = 4;
    uint8_t *small[1000];
    uint64_t seed = 31;
    for (size_t i = 0; i < 1000; i++) {
        small[i] = mem_alloc(ctx, rand_range(&seed, 1, 5000));
        assert_non_null(small[i]);
    }
    assert_true(heap_consistent_sum(ctx, fresh.free_size));
    mem_free(ctx, a);
    uint8_t *c = mem_realloc(ctx, b, 150u * MIB);
    assert_non_null(c);
    assert_int_equal(c[0], 3);
    assert_int_equal(c[100u * MIB - 1u], 4);
    for (size_t i = 0; i < 1000; i++) {
        mem_free(ctx, small[i]);
    }
    mem_free(ctx, c);
    mem_stat_t st = get_stat(ctx);
    assert_true(stat_equal(&st, &fresh));
    void *all = mem_alloc(ctx, fresh.largest_free_size - MEM_CHUNK_OVERHEAD);
    assert_non_null(all);
    assert_null(mem_alloc(ctx, 1));
    mem_free(ctx, all);
    assert_true(heap_consistent(ctx));
    free(buf);
}

/* A 3 GiB buffer is accepted and only its first 2 GiB (after alignment) are
 * managed. The mapping is never touched beyond a few pages. */
static void check_clamped_heap(uint8_t *map, size_t map_len, size_t misalign)
{
    uint8_t *start = map + misalign;
    mem_ctx_t ctx = mem_init(start, map_len - misalign);
    assert_non_null(ctx);
    uintptr_t lo = (addr_of(start) + 7u) & ~(uintptr_t)7u;
    assert_int_equal(addr_of(ctx), lo);
    uintptr_t hi = lo + MEM_MAX_HEAP_SIZE;
    mem_stat_t fresh = get_stat(ctx);
    assert_int_equal(fresh.total_size, MEM_MAX_HEAP_SIZE);
    assert_int_equal(fresh.nb_chunks, 1);
    assert_true(fresh.free_size < MEM_MAX_HEAP_SIZE);
    assert_true(fresh.free_size > MEM_MAX_HEAP_SIZE - 64u * KIB);
    assert_true(heap_consistent(ctx));
    walk_summary_t w = summarize(ctx);
    assert_true(w.last_addr + w.last_size <= hi);

    const size_t gib = 1024u * MIB;
    uint8_t *p = mem_alloc(ctx, gib);
    assert_non_null(p);
    assert_true(is_aligned8(p));
    assert_int_equal(mem_usable_size(ctx, p), usable_in_chunk(chunk_len_of(p), gib));
    assert_true(addr_of(p) + mem_usable_size(ctx, p) <= hi);
    p[0] = 0x5A;
    p[gib - 1u] = 0xA5;
    assert_null(mem_alloc(ctx, gib));
    assert_null(mem_alloc(ctx, MEM_MAX_HEAP_SIZE));
    assert_null(mem_alloc(ctx, WRAPPING_REQUEST));
    uint8_t *q = mem_alloc(ctx, get_stat(ctx).largest_free_size - MEM_CHUNK_OVERHEAD);
    assert_non_null(q);
    assert_true(addr_of(q) + mem_usable_size(ctx, q) <= hi);
    assert_int_equal(get_stat(ctx).free_size, 0);
    assert_true(heap_consistent_sum(ctx, fresh.free_size));
    mem_free(ctx, p);
    mem_free(ctx, q);
    mem_stat_t st = get_stat(ctx);
    assert_true(stat_equal(&st, &fresh));

    /* nothing was written past the managed 2 GiB */
    uint8_t *past = (uint8_t *)(uintptr_t)hi;
    assert_true(all_bytes(past, 4096, 0));
    assert_true(all_bytes(map + map_len - 4096u, 4096, 0));
}

/* A mapping of more than MEM_MAX_HEAP_SIZE bytes (its length in *len), or
 * NULL: 3 GiB where the address space has room for it (64-bit), else the
 * first of a few lengths past 2 GiB that a 32-bit process still finds in one
 * piece (its 4 GiB, or 3 under a 3G/1G kernel split, also hold the program,
 * its libraries and its stack). */
static uint8_t *map_past_clamp(size_t *len)
{
    static const size_t lens[] = {
        (size_t)3u << 30,
        MEM_MAX_HEAP_SIZE + 512u * MIB,
        MEM_MAX_HEAP_SIZE + 64u * MIB,
        MEM_MAX_HEAP_SIZE + 1u * MIB,
    };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        void *map = mmap(NULL, lens[i], PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (map != MAP_FAILED) {
            *len = lens[i];
            return map;
        }
    }
    return NULL;
}

static void test_heap_clamped_to_max(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *map = map_past_clamp(&len);
    if (map == NULL) {
        print_message("    skipped: no mapping past 2 GiB (MAP_NORESERVE): %s\n", strerror(errno));
        skip();
        return;
    }
    print_message("    a %zu MiB mapping\n", len / MIB);
    check_clamped_heap(map, len, 0);
    /* again, misaligned, in a fresh mapping so "untouched" means zero */
    assert_int_equal(munmap(map, len), 0);
    map = map_past_clamp(&len);
    if (map == NULL) {
        print_message("    skipped: no second mapping past 2 GiB: %s\n", strerror(errno));
        skip();
        return;
    }
    check_clamped_heap(map, len, 3);
    assert_int_equal(munmap(map, len), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exhaustion_and_recovery),
        cmocka_unit_test(test_exhaustion_tiny_heap),
        cmocka_unit_test(test_density_32k),
        cmocka_unit_test(test_two_heaps_side_by_side),
        cmocka_unit_test(test_many_heaps_interleaved),
        cmocka_unit_test(test_heap_min_size),
        cmocka_unit_test(test_heap_256mib),
        cmocka_unit_test(test_heap_clamped_to_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
