/**
 * @file test_mem_random.c
 * @brief Randomized differential test of hardalloc against a shadow model.
 *
 * Every operation is mirrored in a model of the live blocks (address,
 * requested size, usable size, chunk length, content tag) and the heap is
 * compared with the model after each step, so a corruption is reported at
 * the operation that caused it rather than thousands of operations later.
 *
 * Misuse is part of the mix: a deliberate double free must be reported to
 * the heap's fault handler (a recorder here) as MEM_FAULT_DOUBLE_FREE and
 * change nothing; any other fault fails the run.
 *
 * Usage: test_mem_random [--ops N] [--seed S]
 * HARDALLOC_RANDOM_OPS, when set, overrides N (valgrind runs shorten it).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem_alloc.h"
#include "fault_recorder.h"
#include "raw_access.h"

#define MAX_LIVE 256u
/* Verifying all blocks costs O(heap bytes); every op would make 10^6 ops slow. */
#define FULL_CHECK_PERIOD 1024u
/* Alternating alloc-heavy, balanced and free-heavy stretches reaches both
 * exhaustion and the fully coalesced heap, which a stationary mix rarely does. */
#define MODE_PERIOD 2048u
/* The allocator scans at most this many chunks of the request's own class,
 * so a fitting chunk can legitimately be missed only behind that many others. */
#define CLASS_SCAN_LIMIT 16u

#if defined(__GNUC__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif

static uint64_t g_ops = 1000000u;
static uint64_t g_seed = 1u;

/* ---------------------------------------------------------------- PRNG --- */

/* xorshift64*: tiny, fast and identical on every platform, unlike rand(). */
static uint64_t rng_next(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* splitmix64 spreads small seeds (0, 1, 2...) over the whole state space. */
static uint64_t rng_seed(uint64_t seed, uint64_t salt) {
    uint64_t z = seed + salt * 0x9E3779B97F4A7C15ULL + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z != 0 ? z : 0x1234567887654321ULL;
}

static uint64_t rng_below(uint64_t *state, uint64_t n) {
    return rng_next(state) % n;
}

static size_t rng_range(uint64_t *state, size_t lo, size_t hi) {
    return lo + (size_t)rng_below(state, (uint64_t)(hi - lo) + 1u);
}

/* --------------------------------------------------------------- model --- */

typedef struct {
    uintptr_t addr;
    size_t req;     /* bytes asked for; realloc preserves this many */
    size_t usable;  /* mem_usable_size at allocation; all of it is filled */
    size_t chunk;   /* length of its chunk, read from its header */
    uint64_t tag;   /* 0: zero-filled (calloc-style) */
} block_t;

typedef size_t (*size_draw_t)(uint64_t *rng);

typedef struct {
    const char *name;
    size_t heap_size;
    size_t misalign;     /* offset of heap_start from an 8-aligned malloc */
    unsigned share;      /* per mille of the total op count */
    size_draw_t draw;
} phase_t;

typedef struct {
    uint64_t allocs, alloc_fails, callocs, reallocs, realloc_moves, realloc_fails,
        frees, null_frees, double_frees, class_misses, full_checks;
    size_t peak_live;
} counters_t;

typedef struct {
    const phase_t *phase;
    uint64_t rng;
    uint64_t ops;
    uint64_t op;
    uint8_t *raw;           /* malloc'd backing store */
    uintptr_t lo, hi;       /* [heap_start, heap_start + heap_size) */
    mem_ctx_t ctx;
    block_t live[MAX_LIVE]; /* sorted by address */
    size_t nlive;
    size_t allocated;       /* model of mem_stat.allocated_size */
    size_t capacity;        /* free_size + allocated_size, fixed at init */
    mem_stat_t last;        /* statistics after the previous operation */
    uint64_t next_tag;
    unsigned mode;
    counters_t n;
    fault_recorder_t faults; /* the heap's fault handler records here */
} sim_t;

/* ----------------------------------------------------------- reporting --- */

static void fail_op(const sim_t *s, int line, const char *cond, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

static void fail_op(const sim_t *s, int line, const char *cond, const char *fmt, ...) {
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    print_error("phase %s, op %" PRIu64 " of %" PRIu64 ", %zu live: line %d: %s: %s\n",
                s->phase->name, s->op, s->ops, s->nlive, line, cond, detail);
    print_error("reproduce: test_mem_random --ops %" PRIu64 " --seed %" PRIu64 "\n",
                g_ops, g_seed);
    fail();
}

#define CHECK(s, cond, ...)                                     \
    do {                                                        \
        if (!(cond)) {                                          \
            fail_op((s), __LINE__, #cond, __VA_ARGS__);         \
            return;                                             \
        }                                                       \
    } while (0)

/* Variant for helpers that report success to their caller. */
#define CHECK_B(s, cond, ...)                                   \
    do {                                                        \
        if (!(cond)) {                                          \
            fail_op((s), __LINE__, #cond, __VA_ARGS__);         \
            return false;                                       \
        }                                                       \
    } while (0)

/* ------------------------------------------------------------- content --- */

/* A position-dependent pattern catches a copy that lands shifted, which a
 * constant fill byte would not. Words are moved with memcpy: no aliasing. */
static uint64_t pattern_word(uint64_t tag, size_t word) {
    return tag * ((uint64_t)word + 1u);
}

static void pattern_fill(uint8_t *p, size_t len, uint64_t tag) {
    size_t words = len / 8u;
    for (size_t i = 0; i < words; i++) {
        uint64_t w = pattern_word(tag, i);
        memcpy(p + 8u * i, &w, 8u);
    }
    uint64_t w = pattern_word(tag, words);
    memcpy(p + 8u * words, &w, len % 8u);
}

/* @return the offset of the first wrong byte among the first len, or len. */
static size_t pattern_verify(const uint8_t *p, size_t len, uint64_t tag) {
    size_t words = len / 8u;
    for (size_t i = 0; i < words; i++) {
        uint64_t w = pattern_word(tag, i);
        if (memcmp(p + 8u * i, &w, 8u) != 0) {
            for (size_t b = 0; b < 8u; b++) {
                if (p[8u * i + b] != ((const uint8_t *)&w)[b]) {
                    return 8u * i + b;
                }
            }
        }
    }
    uint64_t w = pattern_word(tag, words);
    for (size_t b = 0; b < len % 8u; b++) {
        if (p[8u * words + b] != ((const uint8_t *)&w)[b]) {
            return 8u * words + b;
        }
    }
    return len;
}

/* ---------------------------------------------------------- arithmetic --- */

/* Chunk length the contract promises for a request, or SIZE_MAX when the
 * request cannot be served by any heap. The chunk handed out may be longer
 * by up to MEM_MIN_CHUNK - 8 bytes: the remainder of the free chunk it was
 * cut from, too small to be a chunk of its own. */
static size_t chunk_for(size_t n) {
    if (n > SIZE_MAX - (MEM_CHUNK_OVERHEAD + 7u)) {
        return SIZE_MAX;
    }
    size_t c = (n + MEM_CHUNK_OVERHEAD + 7u) & ~(size_t)7u;
    return c < MEM_MIN_CHUNK ? MEM_MIN_CHUNK : c;
}

/* A chunk of len bytes may serve a request whose promised chunk is want. */
static bool chunk_fits(size_t len, size_t want) {
    return len >= want && len - want <= MEM_MIN_CHUNK - 8u && (len - want) % 8u == 0u;
}

static size_t chunk_of(const block_t *b) {
    return b->chunk;
}

/* Length of the chunk whose payload is p: its header's len_flags word, the
 * 4 bytes before the payload (read unseen by ASan and memcheck). With
 * hardening mem_usable_size is the request, so the length cannot come from it. */
static size_t chunk_len_at(const void *p) {
    return raw_get32((const uint8_t *)p - 4) & ~(uint32_t)7u;
}

/* mem_usable_size of a block requested with req bytes in a chunk of len:
 * hardened, exactly req (the canary follows it); off, the chunk but its header. */
static size_t usable_in(size_t len, size_t req) {
    return MEM_HARDENING > 0 ? req : len - MEM_CHUNK_OVERHEAD;
}

/* ---------------------------------------------------------- live array --- */

static size_t live_lower_bound(const sim_t *s, uintptr_t addr) {
    size_t lo = 0, hi = s->nlive;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2u;
        if (s->live[mid].addr < addr) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void live_remove(sim_t *s, size_t i) {
    s->allocated -= chunk_of(&s->live[i]);
    memmove(&s->live[i], &s->live[i + 1u], (s->nlive - i - 1u) * sizeof s->live[0]);
    s->nlive--;
}

/* Validates a block the allocator just handed out, then records it.
 * @return its index in the live array, or MAX_LIVE after a reported failure. */
static size_t live_insert(sim_t *s, void *p, size_t req, uint64_t tag) {
    uintptr_t a = (uintptr_t)p;
    size_t want = chunk_for(req);
    if (!(a % MEM_ALIGNMENT == 0u)) {
        fail_op(s, __LINE__, "aligned", "payload %p not %u-byte aligned", p, MEM_ALIGNMENT);
        return MAX_LIVE;
    }
    if (!(a >= s->lo + 8u && a <= s->hi)) {
        fail_op(s, __LINE__, "inside heap", "payload %p outside heap [%#" PRIxPTR ", %#"
                PRIxPTR ")", p, s->lo, s->hi);
        return MAX_LIVE;
    }
    size_t usable = mem_usable_size(s->ctx, p);
    size_t chunk = chunk_len_at(p);
    if (!chunk_fits(chunk, want)) {
        fail_op(s, __LINE__, "chunk length", "request %zu: chunk %zu, expected %zu (up to %u "
                "more when the remainder is too small to split)", req, chunk, want,
                MEM_MIN_CHUNK - 8u);
        return MAX_LIVE;
    }
    if (!(usable >= req && usable == usable_in(chunk, req))) {
        fail_op(s, __LINE__, "usable size", "request %zu in a %zu-byte chunk: usable %zu, "
                "expected %zu", req, chunk, usable, usable_in(chunk, req));
        return MAX_LIVE;
    }
    /* The chunk spans [a - 8, a - 8 + chunk). */
    if (!(chunk - 8u <= s->hi - a && usable <= s->hi - a)) {
        fail_op(s, __LINE__, "inside heap", "chunk of %p (%zu bytes, %zu usable) outside heap "
                "[%#" PRIxPTR ", %#" PRIxPTR ")", p, chunk, usable, s->lo, s->hi);
        return MAX_LIVE;
    }
    size_t i = live_lower_bound(s, a);
    if (i > 0u) {
        const block_t *prev = &s->live[i - 1u];
        if (!(prev->addr + prev->chunk <= a)) {
            fail_op(s, __LINE__, "no overlap", "new %p (chunk %zu) overlaps live %#" PRIxPTR
                    " (chunk %zu)", p, chunk, prev->addr, prev->chunk);
            return MAX_LIVE;
        }
    }
    if (i < s->nlive) {
        const block_t *next = &s->live[i];
        if (!(a + chunk <= next->addr)) {
            fail_op(s, __LINE__, "no overlap", "new %p (chunk %zu) overlaps live %#" PRIxPTR
                    " (chunk %zu)", p, chunk, next->addr, next->chunk);
            return MAX_LIVE;
        }
    }
    memmove(&s->live[i + 1u], &s->live[i], (s->nlive - i) * sizeof s->live[0]);
    s->live[i] = (block_t){ .addr = a, .req = req, .usable = usable, .chunk = chunk, .tag = tag };
    s->nlive++;
    s->n.peak_live = s->nlive > s->n.peak_live ? s->nlive : s->n.peak_live;
    s->allocated += chunk;
    pattern_fill(p, usable, tag);
    return i;
}

static bool verify_block(const sim_t *s, size_t i) {
    const block_t *b = &s->live[i];
    size_t bad = pattern_verify((const uint8_t *)b->addr, b->usable, b->tag);
    CHECK_B(s, bad == b->usable, "block %#" PRIxPTR " (req %zu, usable %zu) corrupted at "
            "offset %zu", b->addr, b->req, b->usable, bad);
    return true;
}

/* The blocks next to a change are where a stray header or boundary-tag
 * write lands first. */
static bool verify_around(const sim_t *s, size_t i) {
    size_t from = i > 0u ? i - 1u : 0u;
    size_t to = i + 1u < s->nlive ? i + 1u : s->nlive;
    for (size_t k = from; k <= to && k < s->nlive; k++) {
        if (!verify_block(s, k)) {
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------- heap walking --- */

typedef struct {
    const sim_t *s;
    size_t index;          /* next live block expected */
    uintptr_t next_addr;   /* where the next chunk's payload must be */
    size_t chunks, free_chunks, free_bytes, largest;
    bool adjacent_free, prev_free;
    char error[256];
} walk_t;

static bool walk_chunk(void *data, uint8_t *addr, bool allocated, size_t size) {
    walk_t *w = data;
    uintptr_t a = (uintptr_t)addr;
    if (w->chunks > 0u && a != w->next_addr) {
        snprintf(w->error, sizeof w->error, "chunk %zu at %p, previous chunk ends at %#"
                 PRIxPTR, w->chunks, (void *)addr, w->next_addr);
        return true;
    }
    if (size < MEM_MIN_CHUNK || size % 8u != 0u || a < w->s->lo || a > w->s->hi ||
        size - MEM_CHUNK_OVERHEAD > w->s->hi - a) {
        snprintf(w->error, sizeof w->error, "chunk %zu at %p has bad size %zu",
                 w->chunks, (void *)addr, size);
        return true;
    }
    w->chunks++;
    w->next_addr = a + size;
    if (allocated) {
        const block_t *b = w->index < w->s->nlive ? &w->s->live[w->index] : NULL;
        if (b == NULL || b->addr != a || chunk_of(b) != size) {
            snprintf(w->error, sizeof w->error, "allocated chunk %p size %zu is not live "
                     "block #%zu of the model", (void *)addr, size, w->index);
            return true;
        }
        w->index++;
        w->prev_free = false;
    } else {
        w->adjacent_free |= w->prev_free;
        w->prev_free = true;
        w->free_chunks++;
        w->free_bytes += size;
        w->largest = size > w->largest ? size : w->largest;
    }
    return false;
}

/* Compares mem_parse's view of the heap with the model, chunk by chunk. */
static void check_walk(const sim_t *s, const mem_stat_t *st) {
    walk_t w = { .s = s };
    mem_parse(s->ctx, walk_chunk, &w);
    CHECK(s, w.error[0] == '\0', "mem_parse: %s", w.error);
    CHECK(s, w.index == s->nlive, "mem_parse saw %zu of %zu live blocks", w.index, s->nlive);
    CHECK(s, !w.adjacent_free, "two adjacent free chunks");
    CHECK(s, w.chunks == st->nb_chunks, "walk %zu chunks, stat %" PRIu32, w.chunks,
          st->nb_chunks);
    CHECK(s, w.free_bytes == st->free_size && w.largest == st->largest_free_size,
          "walk free %zu largest %zu, stat free %zu largest %zu", w.free_bytes, w.largest,
          st->free_size, st->largest_free_size);
}

/* Free chunks whose size could share the request's class: all such chunks are
 * within a factor of two of the chunk length. */
typedef struct {
    size_t lo, hi, count;
} class_census_t;

static bool census_chunk(void *data, uint8_t *addr, bool allocated, size_t size) {
    class_census_t *c = data;
    (void)addr;
    if (!allocated && size >= c->lo && size < c->hi) {
        c->count++;
    }
    return false;
}

/* A failure with a big enough free chunk is allowed only by the bounded scan:
 * the fitting chunk shares the request's class (so it is < 2x the request)
 * and at least CLASS_SCAN_LIMIT + 1 free chunks sit in that class. */
static bool failure_allowed(sim_t *s, size_t chunk) {
    if (chunk == SIZE_MAX || chunk > s->last.largest_free_size) {
        return true;
    }
    if (s->last.largest_free_size >= 2u * chunk) {
        return false;
    }
    class_census_t c = { .lo = chunk / 2u, .hi = 2u * chunk };
    mem_parse(s->ctx, census_chunk, &c);
    if (c.count > CLASS_SCAN_LIMIT) {
        s->n.class_misses++;
        return true;
    }
    return false;
}

/* Free space touching a block: what an in-place grow or a slide can use. */
typedef struct {
    uintptr_t target;
    size_t prev_len;   /* chunk before target when free, else 0 */
    size_t next_len;   /* chunk after target when free, else 0 */
    size_t last_len;
    bool last_free, found, after;
} neighbours_t;

static bool neighbour_chunk(void *data, uint8_t *addr, bool allocated, size_t size) {
    neighbours_t *n = data;
    if (n->after) {
        n->next_len = allocated ? 0u : size;
        return true;
    }
    if ((uintptr_t)addr == n->target) {
        n->found = true;
        n->after = true;
        n->prev_len = n->last_free ? n->last_len : 0u;
        return false;
    }
    n->last_free = !allocated;
    n->last_len = size;
    return false;
}

/* A grow may fail only when neither a new chunk nor the block merged with its
 * free neighbours (in place, or sliding down into the predecessor) fits. */
static bool grow_failure_allowed(sim_t *s, const block_t *old, size_t chunk) {
    neighbours_t n = { .target = old->addr };
    mem_parse(s->ctx, neighbour_chunk, &n);
    if (!n.found) {
        return false;
    }
    if (chunk != SIZE_MAX && n.prev_len + chunk_of(old) + n.next_len >= chunk) {
        return false;
    }
    return failure_allowed(s, chunk);
}

/* ------------------------------------------------------ invariant check --- */

static void check_stat_equal(const sim_t *s, const mem_stat_t *a, const mem_stat_t *b,
                             const char *what) {
    CHECK(s, a->total_size == b->total_size && a->free_size == b->free_size &&
          a->allocated_size == b->allocated_size && a->nb_chunks == b->nb_chunks &&
          a->nb_allocated == b->nb_allocated && a->largest_free_size == b->largest_free_size,
          "%s: statistics changed (free %zu -> %zu, allocated %zu -> %zu, chunks %" PRIu32
          " -> %" PRIu32 ")", what, a->free_size, b->free_size, a->allocated_size,
          b->allocated_size, a->nb_chunks, b->nb_chunks);
}

static void check_heap(sim_t *s, bool full) {
    mem_stat_t st;
    CHECK(s, s->faults.calls == 0u, "unexpected fault: %u reported, last %s at %p",
          s->faults.calls, mem_fault_name(s->faults.last), s->faults.last_addr);
    CHECK(s, mem_check(s->ctx), "mem_check failed: %s", mem_fault_name(s->faults.last));
    mem_stat(&s->ctx, &st);
    CHECK(s, st.nb_allocated == s->nlive, "nb_allocated %" PRIu32 ", model %zu",
          st.nb_allocated, s->nlive);
    CHECK(s, st.allocated_size == s->allocated, "allocated_size %zu, model %zu",
          st.allocated_size, s->allocated);
    CHECK(s, st.free_size + st.allocated_size == s->capacity,
          "free %zu + allocated %zu != %zu", st.free_size, st.allocated_size, s->capacity);
    CHECK(s, st.total_size == s->last.total_size, "total_size changed");
    CHECK(s, st.nb_chunks >= st.nb_allocated && st.nb_chunks <= 2u * st.nb_allocated + 1u,
          "%" PRIu32 " chunks for %" PRIu32 " allocated", st.nb_chunks, st.nb_allocated);
    CHECK(s, st.largest_free_size <= st.free_size &&
          (st.largest_free_size == 0u) == (st.free_size == 0u) &&
          (st.free_size == 0u) == (st.nb_chunks == st.nb_allocated),
          "largest %zu, free %zu, chunks %" PRIu32 ", allocated %" PRIu32,
          st.largest_free_size, st.free_size, st.nb_chunks, st.nb_allocated);
    if (full) {
        s->n.full_checks++;
        mem_stat_t direct;
        /* SDK callers pass &ctx, the header also accepts the context itself. */
        mem_stat((mem_ctx_t *)s->ctx, &direct);
        check_stat_equal(s, &st, &direct, "mem_stat(ctx) vs mem_stat(&ctx)");
        check_walk(s, &st);
        for (size_t i = 0; i < s->nlive; i++) {
            const block_t *b = &s->live[i];
            size_t u = mem_usable_size(s->ctx, (const void *)b->addr);
            CHECK(s, u == b->usable, "usable size of %#" PRIxPTR " went %zu -> %zu",
                  b->addr, b->usable, u);
            if (!verify_block(s, i)) {
                return;
            }
        }
    }
    s->last = st;
}

/* ---------------------------------------------------------- operations --- */

static uint64_t new_tag(sim_t *s) {
    s->next_tag += 0x9E3779B97F4A7C16ULL; /* even increment, odd start: never 0 */
    return s->next_tag;
}

/* Requests that must fail whatever the heap state, and the exact-fit edge of
 * the largest free chunk. */
static size_t edge_size(sim_t *s) {
    size_t total = s->last.total_size;
    size_t largest = s->last.largest_free_size;
    switch (rng_below(&s->rng, 7u)) {
    case 0: return SIZE_MAX;
    case 1: return SIZE_MAX - 3u;
    case 2: return SIZE_MAX - 11u;
    case 3: return total + 1u;
    case 4: return (SIZE_MAX >> 1) + 1u;
    case 5: return largest > MEM_CHUNK_OVERHEAD ? largest - MEM_CHUNK_OVERHEAD : 1u;
    default: return largest > 3u ? largest - 3u : 1u;
    }
}

static size_t request_size(sim_t *s) {
    if (rng_below(&s->rng, 100u) == 0u) {
        return edge_size(s);
    }
    return s->phase->draw(&s->rng);
}

static void op_alloc(sim_t *s, bool zeroed) {
    size_t req = request_size(s);
    if (rng_below(&s->rng, 200u) == 0u) {
        req = 0u;
    }
    void *p = mem_alloc(s->ctx, req);
    if (req == 0u) {
        CHECK(s, p == NULL, "mem_alloc(0) returned %p", p);
        return;
    }
    if (p == NULL) {
        s->n.alloc_fails++;
        if (s->mode == 0u) {
            /* Keep churning near exhaustion rather than hammering a full heap. */
            s->mode = 1u;
        }
        CHECK(s, failure_allowed(s, chunk_for(req)), "mem_alloc(%zu) failed with largest "
              "free chunk %zu", req, s->last.largest_free_size);
        return;
    }
    CHECK(s, chunk_for(req) <= s->last.largest_free_size, "mem_alloc(%zu) succeeded beyond "
          "largest free chunk %zu", req, s->last.largest_free_size);
    CHECK(s, s->nlive < MAX_LIVE, "op mix exceeded the live limit");
    s->n.allocs++;
    size_t i = live_insert(s, p, req, zeroed ? 0u : new_tag(s));
    if (i == MAX_LIVE) {
        return;
    }
    if (zeroed) {
        /* What APP_MEM_CALLOC does; tag 0 makes the model expect zeros. */
        s->n.callocs++;
        memset(p, 0, s->live[i].usable);
    }
    verify_around(s, i);
}

static void op_free(sim_t *s) {
    if (s->nlive == 0u || rng_below(&s->rng, 100u) == 0u) {
        s->n.null_frees++;
        mem_stat_t before, after;
        mem_stat(&s->ctx, &before);
        mem_free(s->ctx, NULL);
        mem_stat(&s->ctx, &after);
        check_stat_equal(s, &before, &after, "mem_free(NULL)");
        return;
    }
    size_t i = (size_t)rng_below(&s->rng, s->nlive);
    void *p = (void *)s->live[i].addr;
    if (!verify_block(s, i)) {
        return;
    }
    mem_free(s->ctx, p);
    live_remove(s, i);
    s->n.frees++;
    if (rng_below(&s->rng, 50u) == 0u) {
        /* The chunk is now free, possibly merged: the header promises an
         * already-freed pointer is reported as a double free and refused
         * without writing anything, and the heap does not fail. */
        s->n.double_frees++;
        mem_stat_t before, after;
        mem_stat(&s->ctx, &before);
        mem_free(s->ctx, p);
        mem_stat(&s->ctx, &after);
        /* fault_seen prints what was reported instead, and clears */
        CHECK(s, fault_seen(&s->faults, s->ctx, MEM_FAULT_DOUBLE_FREE, p),
              "double free of %p not reported as exactly one double free", p);
        CHECK(s, mem_last_fault(s->ctx) == MEM_FAULT_NONE, "double free failed the heap: %s",
              mem_fault_name(mem_last_fault(s->ctx)));
        check_stat_equal(s, &before, &after, "double free");
    }
    if (s->nlive > 0u) {
        verify_around(s, i < s->nlive ? i : s->nlive - 1u);
    }
}

static size_t realloc_size(sim_t *s, const block_t *b) {
    switch (rng_below(&s->rng, 10u)) {
    case 0: case 1: case 2: /* grow */
        return b->req + s->phase->draw(&s->rng);
    case 3: case 4: /* shrink */
        return 1u + (size_t)rng_below(&s->rng, b->req);
    case 5: /* same chunk: stays put (hardened, often grows past the request) */
        return b->chunk - MEM_CHUNK_OVERHEAD - (size_t)rng_below(&s->rng, 4u);
    default:
        return request_size(s);
    }
}

static void op_realloc(sim_t *s) {
    unsigned kind = (unsigned)rng_below(&s->rng, 100u);
    if (s->nlive == 0u || kind < 3u) {
        if (s->nlive >= MAX_LIVE) {
            return;
        }
        /* realloc(NULL, n) behaves as mem_alloc(n). */
        size_t req = request_size(s);
        void *p = mem_realloc(s->ctx, NULL, req);
        s->n.reallocs++;
        if (p == NULL) {
            s->n.realloc_fails++;
            CHECK(s, failure_allowed(s, chunk_for(req)), "mem_realloc(NULL, %zu) failed with "
                  "largest free chunk %zu", req, s->last.largest_free_size);
            return;
        }
        size_t i = live_insert(s, p, req, new_tag(s));
        if (i != MAX_LIVE) {
            verify_around(s, i);
        }
        return;
    }
    size_t i = (size_t)rng_below(&s->rng, s->nlive);
    block_t old = s->live[i];
    if (!verify_block(s, i)) {
        return;
    }
    size_t req = kind < 6u ? 0u : realloc_size(s, &old);
    void *p = mem_realloc(s->ctx, (void *)old.addr, req);
    s->n.reallocs++;
    if (req == 0u) {
        CHECK(s, p == NULL, "mem_realloc(p, 0) returned %p", p);
        live_remove(s, i);
        if (s->nlive > 0u) {
            verify_around(s, i < s->nlive ? i : s->nlive - 1u);
        }
        return;
    }
    size_t want = chunk_for(req);
    if (p == NULL) {
        s->n.realloc_fails++;
        CHECK(s, want > chunk_of(&old), "shrinking %zu -> %zu failed", old.req, req);
        CHECK(s, grow_failure_allowed(s, &old, want), "mem_realloc(%zu -> %zu) failed with "
              "largest free chunk %zu", old.req, req, s->last.largest_free_size);
        size_t u = mem_usable_size(s->ctx, (void *)old.addr);
        CHECK(s, u == old.usable, "failed realloc changed usable size %zu -> %zu",
              old.usable, u);
        verify_around(s, i);
        return;
    }
    if (want <= chunk_of(&old)) {
        CHECK(s, (uintptr_t)p == old.addr, "shrinking %zu -> %zu moved the block", old.req,
              req);
    }
    if ((uintptr_t)p != old.addr) {
        s->n.realloc_moves++;
    }
    /* The old block is gone from the model before the new one is validated,
     * so an in-place resize does not count as overlapping itself. */
    live_remove(s, i);
    size_t keep = old.req < req ? old.req : req;
    size_t bad = pattern_verify(p, keep, old.tag);
    CHECK(s, bad == keep, "realloc %zu -> %zu (%s) lost content at offset %zu", old.req, req,
          (uintptr_t)p == old.addr ? "in place" : "moved", bad);
    size_t j = live_insert(s, p, req, old.tag);
    if (j != MAX_LIVE) {
        verify_around(s, j);
    }
}

static void run_op(sim_t *s) {
    /* per hundred: alloc, calloc, realloc; the rest frees */
    static const unsigned mix[3][3] = {
        { 45u, 10u, 25u },  /* fill */
        { 25u, 8u, 35u },   /* churn */
        { 10u, 3u, 25u },   /* drain */
    };
    if (s->op % MODE_PERIOD == 0u) {
        s->mode = (unsigned)rng_below(&s->rng, 3u);
    } else if (s->mode == 2u && s->nlive == 0u) {
        /* An empty heap has nothing left to drain; idling there tests nothing. */
        s->mode = 0u;
    }
    const unsigned *m = mix[s->mode];
    unsigned r = (unsigned)rng_below(&s->rng, 100u);
    if (r < m[0] + m[1] && s->nlive >= MAX_LIVE) {
        r = 99u;
    }
    if (r < m[0]) {
        op_alloc(s, false);
    } else if (r < m[0] + m[1]) {
        op_alloc(s, true);
    } else if (r < m[0] + m[1] + m[2]) {
        if (s->nlive >= MAX_LIVE) {
            /* realloc(NULL, n) would add a block beyond the model's capacity. */
            op_free(s);
        } else {
            op_realloc(s);
        }
    } else {
        op_free(s);
    }
}

/* -------------------------------------------------------------- phases --- */

static size_t draw_small(uint64_t *rng) {
    return rng_range(rng, 1u, 600u);
}

/* Log-uniform: as many 1..2-byte requests as 32..64 KiB ones, like real apps. */
static size_t draw_large(uint64_t *rng) {
    unsigned bits = (unsigned)rng_below(rng, 16u);
    size_t lo = (size_t)1u << bits;
    return rng_range(rng, lo, 2u * lo - 1u);
}

static size_t draw_mixed(uint64_t *rng) {
    return rng_range(rng, 1u, 2048u);
}

static size_t draw_tiny(uint64_t *rng) {
    return rng_range(rng, 1u, 64u);
}

static const phase_t phases[] = {
    { "small-32KiB", 32u * 1024u, 0u, 350u, draw_small },
    { "large-1MiB", 1024u * 1024u, 0u, 350u, draw_large },
    { "misaligned-60000", 60000u, 5u, 200u, draw_mixed },
    { "tiny-600", 600u, 3u, 100u, draw_tiny },
};

static int setup_phase(void **state, const phase_t *phase, uint64_t salt) {
    sim_t *s = calloc(1u, sizeof *s);
    if (s == NULL) {
        return -1;
    }
    s->phase = phase;
    s->rng = rng_seed(g_seed, salt);
    s->ops = g_ops * phase->share / 1000u;
    s->next_tag = 1u;
    s->raw = malloc(phase->heap_size + phase->misalign);
    if (s->raw == NULL) {
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int setup_small(void **state) { return setup_phase(state, &phases[0], 1u); }
static int setup_large(void **state) { return setup_phase(state, &phases[1], 2u); }
static int setup_misaligned(void **state) { return setup_phase(state, &phases[2], 3u); }
static int setup_tiny(void **state) { return setup_phase(state, &phases[3], 4u); }

static int teardown_phase(void **state) {
    sim_t *s = *state;
    if (s != NULL) {
        free(s->raw);
        free(s);
    }
    return 0;
}

static void run_phase(void **state) {
    sim_t *s = *state;
    uint8_t *start = s->raw + s->phase->misalign;
    s->lo = (uintptr_t)start;
    s->hi = s->lo + s->phase->heap_size;
    print_message("phase %s: seed %" PRIu64 ", %" PRIu64 " ops; reproduce: test_mem_random "
                  "--ops %" PRIu64 " --seed %" PRIu64 "\n", s->phase->name, g_seed, s->ops,
                  g_ops, g_seed);

    s->ctx = mem_init(start, s->phase->heap_size);
    CHECK(s, s->ctx != NULL, "mem_init(%p, %zu) failed", (void *)start, s->phase->heap_size);
    fault_recorder_clear(&s->faults);
    CHECK(s, mem_set_fault_handler(s->ctx, fault_recorder_cb, &s->faults),
          "mem_set_fault_handler failed");
    mem_stat(&s->ctx, &s->last);
    /* The header allows dropping the bytes before the first aligned address. */
    CHECK(s, s->last.total_size <= s->phase->heap_size &&
          s->last.total_size + 7u >= s->phase->heap_size,
          "total_size %zu for a %zu-byte buffer", s->last.total_size, s->phase->heap_size);
    CHECK(s, s->last.nb_chunks == 1u && s->last.nb_allocated == 0u &&
          s->last.allocated_size == 0u && s->last.free_size == s->last.largest_free_size &&
          s->last.free_size >= MEM_MIN_CHUNK && s->last.free_size < s->phase->heap_size,
          "fresh heap: %" PRIu32 " chunks, free %zu, largest %zu", s->last.nb_chunks,
          s->last.free_size, s->last.largest_free_size);
    s->capacity = s->last.free_size;
    check_heap(s, true);

    for (s->op = 0; s->op < s->ops; s->op++) {
        run_op(s);
        check_heap(s, (s->op + 1u) % FULL_CHECK_PERIOD == 0u);
    }
    check_heap(s, true);

    while (s->nlive > 0u) {
        size_t i = (size_t)rng_below(&s->rng, s->nlive);
        mem_free(s->ctx, (void *)s->live[i].addr);
        live_remove(s, i);
        check_heap(s, s->nlive % 32u == 0u);
    }
    CHECK(s, s->last.nb_chunks == 1u && s->last.free_size == s->capacity &&
          s->last.largest_free_size == s->capacity,
          "heap not whole after freeing everything: %" PRIu32 " chunks, free %zu, "
          "largest %zu of %zu", s->last.nb_chunks, s->last.free_size,
          s->last.largest_free_size, s->capacity);

    const counters_t *n = &s->n;
    print_message("phase %s: %" PRIu64 " allocs (%" PRIu64 " zeroed, %" PRIu64 " failed), %"
                  PRIu64 " reallocs (%" PRIu64 " moved, %" PRIu64 " failed), %" PRIu64
                  " frees (%" PRIu64 " NULL, %" PRIu64 " double), %" PRIu64
                  " class-scan misses, peak %zu live, %" PRIu64 " full checks\n",
                  s->phase->name, n->allocs, n->callocs, n->alloc_fails, n->reallocs,
                  n->realloc_moves, n->realloc_fails, n->frees, n->null_frees, n->double_frees,
                  n->class_misses, n->peak_live, n->full_checks);
}

/* One cmocka test per phase, so the report names the heap shape that failed. */
static void test_small_heap(void **state) { run_phase(state); }
static void test_large_heap(void **state) { run_phase(state); }
static void test_misaligned_heap(void **state) { run_phase(state); }
static void test_tiny_heap(void **state) { run_phase(state); }

/* ---------------------------------------------------------------- main --- */

static bool parse_u64(const char *text, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    if (text == NULL || text[0] == '\0' || text[0] == '-') {
        return false;
    }
    unsigned long long v = strtoull(text, &end, 0);
    if (errno != 0 || end == NULL || *end != '\0') {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

static int usage(const char *argv0) {
    fprintf(stderr, "usage: %s [--ops N] [--seed S]\n"
            "  HARDALLOC_RANDOM_OPS, when set, overrides --ops\n", argv0);
    return 2;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            if (!parse_u64(argv[++i], &g_ops)) {
                return usage(argv[0]);
            }
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (!parse_u64(argv[++i], &g_seed)) {
                return usage(argv[0]);
            }
        } else {
            return usage(argv[0]);
        }
    }
    const char *env = getenv("HARDALLOC_RANDOM_OPS");
    if (env != NULL && env[0] != '\0' && !parse_u64(env, &g_ops)) {
        fprintf(stderr, "HARDALLOC_RANDOM_OPS is not a number: %s\n", env);
        return 2;
    }

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_small_heap, setup_small, teardown_phase),
        cmocka_unit_test_setup_teardown(test_large_heap, setup_large, teardown_phase),
        cmocka_unit_test_setup_teardown(test_misaligned_heap, setup_misaligned,
                                        teardown_phase),
        cmocka_unit_test_setup_teardown(test_tiny_heap, setup_tiny, teardown_phase),
    };
    return cmocka_run_group_tests_name("mem_random", tests, NULL, NULL);
}
