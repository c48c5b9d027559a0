/**
 * @file replay_engine_test.c
 * @brief trace_replay's replay loop (replay_engine.c) on in-memory traces and
 *        fake back ends: the fallbacks (calloc = alloc + memset, realloc =
 *        alloc + memcpy(min(old, new)) + free, aligned = alloc(size + align -
 *        1) aligned by hand, the original pointer freed), 0-byte requests,
 *        the back end's own entries when it has them, failures, and the
 *        smallest arena by bisection.
 *
 * The fake back end is a bump allocator that never reuses memory: each
 * block is filled with its own byte pattern and followed by guard bytes,
 * every pointer freed must be one it returned and still live, so what the
 * loop copied, zeroed, aligned and freed can be read back afterwards.
 * Exit 0, or 1 with the failed checks listed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_engine.h"

static int failed;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failed = 1;                                                             \
        }                                                                           \
    } while (0)

/* ---- the fake back end ---------------------------------------------------- */

#define HEAP_BYTES 65536u
#define GUARD 16u
#define MAX_BLOCKS 64u

typedef struct fake {
    _Alignas(64) unsigned char heap[HEAP_BYTES];
    size_t used;
    size_t limit;          /* alloc fails past this many bytes used */
    unsigned char *ptr[MAX_BLOCKS];
    size_t size[MAX_BLOCKS];
    unsigned char fill[MAX_BLOCKS];
    int live[MAX_BLOCKS];
    size_t n;
    size_t n_calloc, n_realloc, n_aligned, n_free;
} fake;

static fake F;

static void fake_reset(size_t limit) {
    memset(&F, 0, sizeof F);
    F.limit = limit;
}

/* Blocks at 8 mod 64: aligned only to 8, so the aligned fallback has work. */
static void *fake_alloc(void *ctx, size_t n) {
    (void)ctx;
    size_t at = ((F.used + 63u) & ~(size_t)63u) + 8u;
    if (F.n == MAX_BLOCKS || at + n + GUARD > F.limit || at + n + GUARD > HEAP_BYTES)
        return NULL;
    unsigned char *p = F.heap + at;
    F.ptr[F.n] = p;
    F.size[F.n] = n;
    F.fill[F.n] = (unsigned char)(0xa0u + F.n);
    F.live[F.n] = 1;
    memset(p, F.fill[F.n], n);
    memset(p + n, 0x5a, GUARD);
    F.n++;
    F.used = at + n + GUARD;
    return p;
}

static size_t block_of(const void *p) {
    for (size_t i = 0; i < F.n; i++) {
        if (F.ptr[i] == p)
            return i;
    }
    return SIZE_MAX;
}

static void fake_free(void *ctx, void *p) {
    (void)ctx;
    size_t i = block_of(p);
    CHECK(i != SIZE_MAX);
    if (i == SIZE_MAX)
        return;
    CHECK(F.live[i]);
    F.live[i] = 0;
    F.n_free++;
}

static void *fake_calloc(void *ctx, size_t n) {
    F.n_calloc++;
    void *p = fake_alloc(ctx, n);
    if (p)
        memset(p, 0, n);
    return p;
}

static void *fake_realloc(void *ctx, void *p, size_t n) {
    F.n_realloc++;
    size_t i = block_of(p);
    void *q = fake_alloc(ctx, n);
    if (q && i != SIZE_MAX) {
        memcpy(q, p, F.size[i] < n ? F.size[i] : n);
        fake_free(ctx, p);
    }
    return q;
}

static void *fake_aligned(void *ctx, size_t align, size_t n) {
    F.n_aligned++;
    (void)align;
    return fake_alloc(ctx, n);
}

static int guards_intact(void) {
    for (size_t i = 0; i < F.n; i++) {
        for (size_t k = 0; k < GUARD; k++) {
            if (F.ptr[i][F.size[i] + k] != 0x5a)
                return 0;
        }
    }
    return 1;
}

static int all(const unsigned char *p, unsigned char c, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != c)
            return 0;
    }
    return 1;
}

static const replay_backend fallbacks = {
    .name = "fake", .key = "fake", .api = "fake", .alloc = fake_alloc, .free = fake_free,
    .alignment = 8, .zero_ok = false,
};

static const replay_backend natives = {
    .name = "native", .key = "native", .api = "fake", .alloc = fake_alloc,
    .calloc = fake_calloc, .free = fake_free, .realloc = fake_realloc, .aligned = fake_aligned,
    .alignment = 8, .zero_ok = true,
};

#define OP(k, i, o, s, a) {.kind = (k), .id = (i), .old = (o), .size = (s), .align = (a)}

/* ---- the fallbacks ---------------------------------------------------------- */

static const replay_op ops_main[] = {
    OP(ROP_MALLOC, 1, 0, 0, 0),       /* b0: malloc(0), asked as 1 */
    OP(ROP_CALLOC, 2, 0, 100, 0),     /* b1: alloc(100) + memset */
    OP(ROP_ALIGNED, 3, 0, 40, 64),    /* b2: alloc(40 + 63), aligned up */
    OP(ROP_ALIGNED, 4, 0, 24, 8),     /* b3: alloc(24): 8 is alloc's own alignment */
    OP(ROP_MALLOC, 5, 0, 10, 0),      /* b4 */
    OP(ROP_REALLOC, 5, 5, 40, 0),     /* b5: grows in place: 10 bytes of b4 copied */
    OP(ROP_MALLOC, 6, 0, 40, 0),      /* b6 */
    OP(ROP_REALLOC, 7, 6, 8, 0),      /* b7: shrinks, moves to id 7: 8 bytes of b6 */
    OP(ROP_REALLOC, 3, 3, 100, 0),    /* b8: the aligned block: 40 bytes from its user pointer */
    OP(ROP_FREE, 0, 2, 0, 0),
    OP(ROP_FREE, 0, 4, 0, 0),
    OP(ROP_FREE, 0, 1, 0, 0),
};

static replay_trace trace_of(const replay_op *ops, size_t n, uint64_t slots) {
    replay_trace d;
    memset(&d, 0, sizeof d);
    d.path = "in-memory";
    d.ops = (replay_op *)(uintptr_t)ops;
    d.n_ops = n;
    d.slots = slots;
    return d;
}

static void test_fallbacks(void) {
    fake_reset(HEAP_BYTES);
    replay_trace d = trace_of(ops_main, sizeof ops_main / sizeof ops_main[0], 8);
    replay_slot slots[8];
    memset(slots, 0, sizeof slots);
    /* every block comes filled with its pattern: the calloc'd one must be zeroed */
    CHECK(replay_loop(&d, &fallbacks, NULL, slots, false) == 0);
    CHECK(F.n == 9);
    CHECK(F.size[0] == 1);                       /* malloc(0) asked as 1 */
    CHECK(F.size[1] == 100 && all(F.ptr[1], 0, 100));
    CHECK(F.size[2] == 40 + 63);                 /* aligned by hand */
    CHECK(F.size[3] == 24);
    CHECK(F.size[5] == 40 && all(F.ptr[5], F.fill[4], 10) && all(F.ptr[5] + 10, F.fill[5], 30));
    CHECK(!F.live[4]);
    CHECK(F.size[7] == 8 && all(F.ptr[7], F.fill[6], 8) && !F.live[6]);
    /* the realloc of the aligned block copied its 40 bytes and freed its base */
    CHECK(F.size[8] == 100 && all(F.ptr[8], F.fill[2], 40) && all(F.ptr[8] + 40, F.fill[8], 60));
    CHECK(!F.live[2]);
    CHECK(guards_intact());
    /* slots: what is live, with the sizes asked */
    CHECK(slots[3].base == F.ptr[8] && slots[3].user == F.ptr[8] && slots[3].size == 100);
    CHECK(slots[5].base == F.ptr[5] && slots[5].size == 40);
    CHECK(slots[6].base == NULL && slots[7].base == F.ptr[7] && slots[7].size == 8);
    CHECK(slots[1].base == NULL && slots[2].base == NULL && slots[4].base == NULL);
    /* live at the end: b5, b7, b8 */
    CHECK(F.n_free == 6);
    CHECK(F.live[5] && F.live[7] && F.live[8]);
}

/* The aligned fallback's user pointer, before any realloc. */
static void test_aligned_pointer(void) {
    static const replay_op ops[] = {
        OP(ROP_ALIGNED, 1, 0, 40, 64),
        OP(ROP_ALIGNED, 2, 0, 1, 4096),
        OP(ROP_ALIGNED, 3, 0, 0, 16),
        OP(ROP_FREE, 0, 1, 0, 0),
    };
    fake_reset(HEAP_BYTES);
    replay_trace d = trace_of(ops, sizeof ops / sizeof ops[0], 4);
    replay_slot slots[4];
    memset(slots, 0, sizeof slots);
    CHECK(replay_loop(&d, &fallbacks, NULL, slots, false) == 0);
    CHECK(F.n == 3);
    CHECK(!F.live[0]);                            /* freed through its base */
    CHECK(slots[2].base == F.ptr[1] && ((uintptr_t)slots[2].user & 4095u) == 0);
    CHECK((unsigned char *)slots[2].user + 1 <= F.ptr[1] + F.size[1]);
    CHECK(F.size[1] == 1 + 4095);
    CHECK(F.size[2] == 0 + 15);                   /* size 0 over-allocated as align - 1 */
    CHECK(((uintptr_t)slots[3].user & 15u) == 0 && slots[3].base == F.ptr[2]);
    CHECK(guards_intact());
}

/* A back end with its own entries: they are called, the fallbacks are not. */
static void test_natives(void) {
    fake_reset(HEAP_BYTES);
    replay_trace d = trace_of(ops_main, sizeof ops_main / sizeof ops_main[0], 8);
    replay_slot slots[8];
    memset(slots, 0, sizeof slots);
    CHECK(replay_loop(&d, &natives, NULL, slots, false) == 0);
    CHECK(F.size[0] == 0);                        /* zero_ok: malloc(0) as 0 */
    CHECK(F.n_calloc == 1 && F.n_aligned == 2 && F.n_realloc == 3);
    CHECK(F.size[2] == 40);                       /* no over-allocation */
    CHECK(guards_intact());
}

/* Failures: counted; stop_on_failure returns at the first; a failed moving
 * realloc frees the old block (as the trace did) and leaves both slots empty. */
static void test_failures(void) {
    static const replay_op ops[] = {
        OP(ROP_MALLOC, 1, 0, 100, 0),
        OP(ROP_MALLOC, 2, 0, 2000, 0),   /* fails (limit) */
        OP(ROP_REALLOC, 3, 1, 3000, 0),  /* fails: block 1 freed, slots 1 and 3 empty */
        OP(ROP_FREE, 0, 2, 0, 0),        /* its allocation failed: nothing to free */
        OP(ROP_REALLOC, 2, 2, 50, 0),    /* realloc of a failed block: an allocation */
        OP(ROP_MALLOC, 4, 0, 5000, 0),   /* fails */
    };
    replay_trace d = trace_of(ops, sizeof ops / sizeof ops[0], 5);
    replay_slot slots[5];
    fake_reset(1024);
    memset(slots, 0, sizeof slots);
    CHECK(replay_loop(&d, &fallbacks, NULL, slots, false) == 3);
    CHECK(F.n == 2 && !F.live[0] && F.live[1] && F.size[1] == 50);
    CHECK(F.n_free == 1);
    CHECK(slots[1].base == NULL && slots[3].base == NULL && slots[2].base == F.ptr[1]);
    fake_reset(1024);
    memset(slots, 0, sizeof slots);
    CHECK(replay_loop(&d, &fallbacks, NULL, slots, true) == 1);
    CHECK(F.n == 1);
}

/* ---- replay_once and the smallest arena ---------------------------------- */

/* An arena back end: a bump allocator in the arena (8-byte units). */
typedef struct bump {
    unsigned char *at, *end;
} bump;

static bump B;

static void *bump_init(const replay_backend *b, void *arena, size_t size) {
    (void)b;
    B.at = arena;
    B.end = B.at + size;
    return &B;
}

static void *bump_alloc(void *ctx, size_t n) {
    bump *s = ctx;
    size_t need = (n + 7u) & ~(size_t)7u;
    if ((size_t)(s->end - s->at) < need)
        return NULL;
    void *p = s->at;
    s->at += need;
    return p;
}

static void bump_free(void *ctx, void *p) {
    (void)ctx;
    (void)p;
}

static void test_smallest_arena(void) {
    static const replay_op ops[] = {
        OP(ROP_MALLOC, 1, 0, 100, 0),
        OP(ROP_MALLOC, 2, 0, 200, 0),
        OP(ROP_FREE, 0, 1, 0, 0),
        OP(ROP_MALLOC, 1, 0, 50, 0),
    };
    replay_backend b = {.name = "bump", .key = "bump", .api = "fake", .init = bump_init,
                        .alloc = bump_alloc, .free = bump_free, .alignment = 8};
    replay_trace d = trace_of(ops, sizeof ops / sizeof ops[0], 3);
    d.peak_live = 300;
    replay_slot slots[3];
    /* 104 + 200 + 56 bytes: the bump never reuses */
    CHECK(replay_smallest_arena(&d, &b, slots, REPLAY_MAX_ARENA) == 360);
    /* a minimum above that: the minimum */
    b.min_arena = 1000;
    CHECK(replay_smallest_arena(&d, &b, slots, REPLAY_MAX_ARENA) == 1000);
    /* nothing up to max holds it */
    b.min_arena = 0;
    CHECK(replay_smallest_arena(&d, &b, slots, 352) == 0);
    /* replay_once: a fresh heap each time, the loop's failures */
    void *arena = replay_arena_alloc(4096);
    CHECK(arena != NULL && ((uintptr_t)arena & 63u) == 0);
    double el = -1;
    CHECK(replay_once(&d, &b, arena, 360, slots, false, &el) == 0 && el >= 0);
    CHECK(replay_once(&d, &b, arena, 352, slots, false, NULL) == 1);
    replay_arena_free(arena);
}

/* replay_once on a system allocator frees what is still live (untimed). */
static void test_once_system(void) {
    static const replay_op ops[] = {
        OP(ROP_MALLOC, 1, 0, 10, 0),
        OP(ROP_ALIGNED, 2, 0, 10, 256),
    };
    fake_reset(HEAP_BYTES);
    replay_trace d = trace_of(ops, sizeof ops / sizeof ops[0], 3);
    replay_slot slots[3];
    CHECK(replay_once(&d, &fallbacks, NULL, 0, slots, false, NULL) == 0);
    CHECK(F.n == 2 && !F.live[0] && !F.live[1]); /* the aligned one through its base */
}

int main(void) {
    test_fallbacks();
    test_aligned_pointer();
    test_natives();
    test_failures();
    test_smallest_arena();
    test_once_system();
    if (failed)
        return 1;
    printf("replay_engine_test: all checks passed\n");
    return 0;
}
