/*
 * hardalloc's bare-metal self-test, run on QEMU's mps2-an386 (Cortex-M4)
 * against the library as firmware links it (libhardalloc.a built with the
 * cross file: HARDALLOC_NO_STDIO, HARDALLOC_ENTROPY_HOOK, 32-bit size_t and
 * pointers). Every check prints one line, "pass  name" or "FAIL  name"
 * ("skip  name: why" for what the hardening level leaves out by design,
 * docs/HARDENING.md), then the last line is
 *
 *   cortex-m selftest: N passed, M failed
 *
 * and the exit status (qemu-system-arm's own) is 0 only when M is 0.
 *
 * The command line (qemu ... -kernel image -append WORD) picks a mode:
 *   (none)     the checks
 *   cost       instructions per call under -icount (cost.c)
 *   pair       one alloc+free pair, for the cross-check against QEMU's
 *              instruction trace (cost.c, run --cross-check)
 *   fail       the checks plus one that fails on purpose: exit status 1
 *   hardfault  a load from an unmapped address: the HardFault handler
 *              reports it, exit status 3
 *   abort      a double free on a heap without a handler: the library's
 *              default handler calls abort(), exit status 134
 * The last three show that a failure really ends QEMU with a non-zero status.
 *
 * Faults go to a recording handler that returns (mem_set_fault_handler), so
 * each attack checks the code, the address and the user pointer the handler
 * was given, and what the heap does afterwards.
 */

#include "board.h"

#include "mem_alloc.h"

#include <string.h>

#define HARDENED (MEM_HARDENING > 0)
#define PARANOID (MEM_HARDENING > 1)

/* ---- reporting ---------------------------------------------------------- */

static unsigned g_passed;
static unsigned g_failed;

static void check(const char *name, bool ok)
{
    out(ok ? "pass  " : "FAIL  ");
    out(name);
    out("\n");
    if (ok) {
        g_passed++;
    } else {
        g_failed++;
    }
}

/* What the level does not promise (docs/HARDENING.md): said, not counted.
 * paranoid skips nothing. */
__attribute__((unused)) static void skip(const char *name, const char *why)
{
    out("skip  ");
    out(name);
    out(": ");
    out(why);
    out("\n");
}

/* ---- arenas, raw access, fault recorder --------------------------------- */

static uint64_t arena_a[16384 / 8];
static uint64_t arena_b[2048 / 8];
static uint64_t arena_c[3072 / 8];
static uint64_t arena_d[4096 / 8];
static uint32_t not_a_heap[16]; /* a static object outside every heap */

static uint32_t get32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void put32(void *p, uint32_t v)
{
    memcpy(p, &v, sizeof v);
}

static void flip(void *p, uint8_t bits)
{
    uint8_t *q = p;
    *q ^= bits;
}

/* FNV-1a over a buffer: "nothing was written" is "the same hash". */
static uint32_t hash(const void *p, size_t n)
{
    const uint8_t *q = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ q[i]) * 16777619u;
    }
    return h;
}

typedef struct {
    unsigned calls;
    mem_ctx_t ctx;
    mem_fault_t fault;
    const void *addr;
    void *user;
} recorder_t;

static void record(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    recorder_t *r = user;
    r->calls++;
    r->ctx = ctx;
    r->fault = fault;
    r->addr = addr;
    r->user = user;
}

/* One handler call so far, with this heap, code, address and user pointer. */
static bool reported(const recorder_t *r, mem_ctx_t ctx, mem_fault_t fault, const void *addr)
{
    return r->calls == 1u && r->ctx == ctx && r->fault == fault && r->addr == addr && r->user == r;
}

/* A heap on buf whose faults go to r. */
static mem_ctx_t fresh(void *buf, size_t size, recorder_t *r)
{
    memset(r, 0, sizeof *r);
    mem_ctx_t c = mem_init(buf, size);
    if (c != NULL && !mem_set_fault_handler(c, record, r)) {
        return NULL;
    }
    return c;
}

/* Length of the chunk that serves n bytes from a large free chunk. */
static size_t chunk_len(size_t n)
{
    size_t len = (n + MEM_CHUNK_OVERHEAD + 7u) & ~(size_t)7u;
    return len < MEM_MIN_CHUNK ? MEM_MIN_CHUNK : len;
}

static void fill(void *p, size_t n, uint8_t seed)
{
    uint8_t *q = p;
    for (size_t i = 0; i < n; i++) {
        q[i] = (uint8_t)(seed + i * 31u);
    }
}

static bool filled(const void *p, size_t n, uint8_t seed)
{
    const uint8_t *q = p;
    for (size_t i = 0; i < n; i++) {
        if (q[i] != (uint8_t)(seed + i * 31u)) {
            return false;
        }
    }
    return true;
}

static bool stat_is_zero(mem_ctx_t c)
{
    mem_stat_t st;
    memset(&st, 0xFF, sizeof st);
    mem_stat(c, &st);
    return st.total_size == 0u && st.free_size == 0u && st.allocated_size == 0u && st.nb_chunks == 0u &&
           st.nb_allocated == 0u && st.largest_free_size == 0u;
}

static uint32_t g_rng = 0x12345678u;

static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return g_rng;
}

/* ---- entropy ------------------------------------------------------------ */

static void test_entropy(void)
{
    g_entropy_fail = true;
    mem_ctx_t c = mem_init(arena_a, sizeof arena_a);
#if HARDENED
    check("entropy: a failing hook makes mem_init answer NULL (no heap with a guessable key)",
          c == NULL && g_entropy_calls == 1u);
#else
    check("entropy: off keys nothing, so mem_init draws no secret and works without the hook",
          c != NULL && g_entropy_calls == 0u);
#endif
    g_entropy_fail = false;
    c = mem_init(arena_a, sizeof arena_a);
    check("entropy: with the hook answering, mem_init makes a heap", c != NULL && mem_check(c));
}

/* ---- init --------------------------------------------------------------- */

static void test_init(void)
{
    uint8_t *raw = (uint8_t *)arena_a;
    check("platform: size_t and pointers are 32 bits", sizeof(size_t) == 4u && sizeof(void *) == 4u &&
                                                          SIZE_MAX == UINT32_MAX);
    mem_ctx_t c = mem_init(raw + 3, sizeof arena_a - 3u);
    check("init: the context is the first 8-aligned address of the buffer", c == raw + 8 && mem_check(c));
    check("init: a NULL buffer and MEM_MIN_HEAP_SIZE - 1 bytes -> NULL",
          mem_init(NULL, sizeof arena_a) == NULL && mem_init(raw, MEM_MIN_HEAP_SIZE - 1u) == NULL);
    mem_ctx_t small = mem_init(raw + 1, MEM_MIN_HEAP_SIZE);
    void *p = mem_alloc(small, 8);
    check("init: MEM_MIN_HEAP_SIZE bytes at an odd address make a usable heap",
          small != NULL && p != NULL && mem_check(small));
    put32(raw, 0xC0FFEE00u);
    uint32_t before = hash(arena_a, sizeof arena_a);
    check("init: buffers that would wrap the 32-bit address space -> NULL, nothing written",
          mem_init(raw, SIZE_MAX) == NULL && mem_init(raw, SIZE_MAX - (uintptr_t)raw + 2u) == NULL &&
              mem_init((void *)(UINTPTR_MAX - 127u), MEM_MIN_HEAP_SIZE) == NULL &&
              hash(arena_a, sizeof arena_a) == before);
}

/* ---- alloc, free, usable size, stat, check ------------------------------ */

static void test_alloc_free(void)
{
    recorder_t r;
    mem_ctx_t c = fresh(arena_a, sizeof arena_a, &r);
    mem_stat_t st0;
    mem_stat(c, &st0);
    check("stat: a new heap is one free chunk of its whole size",
          st0.total_size == sizeof arena_a && st0.nb_chunks == 1u && st0.nb_allocated == 0u &&
              st0.allocated_size == 0u && st0.free_size == st0.largest_free_size &&
              st0.free_size > sizeof arena_a - 512u && st0.free_size < sizeof arena_a);

    uint8_t *blk[65] = {NULL};
    bool placed = true;
    bool usable = true;
    size_t want_allocated = 0u;
    for (size_t n = 1; n <= 64u; n++) {
        blk[n] = mem_alloc(c, n);
        uint8_t *q = blk[n];
        placed = placed && q != NULL && ((uintptr_t)q & 7u) == 0u && q >= (uint8_t *)c + 8 &&
                 q + n <= (uint8_t *)arena_a + sizeof arena_a;
        if (q == NULL) {
            break;
        }
        size_t u = mem_usable_size(c, q);
        usable = usable && (HARDENED ? u == n : u == chunk_len(n) - MEM_CHUNK_OVERHEAD);
        fill(q, HARDENED ? n : u, (uint8_t)n);
        want_allocated += chunk_len(n);
    }
    bool intact = placed;
    for (size_t n = 1; n <= 64u && intact; n++) {
        intact = filled(blk[n], HARDENED ? n : mem_usable_size(c, blk[n]), (uint8_t)n);
    }
    check("alloc: 1..64 bytes, 8-aligned, inside the heap, filled without overlapping", placed && intact);
    check(HARDENED ? "usable size: exactly the request (the canary follows it)"
                   : "usable size: the chunk less its 4-byte header (off)",
          usable);
    mem_stat_t st;
    mem_stat(c, &st);
    check("stat: 64 blocks: chunks, allocated and free bytes add up",
          st.total_size == sizeof arena_a && st.nb_allocated == 64u && st.nb_chunks == 65u &&
              st.allocated_size == want_allocated && st.free_size + st.allocated_size == st0.free_size &&
              st.largest_free_size == st.free_size);
    mem_stat_t sdk;
    mem_ctx_t holder = c;
    mem_stat(&holder, &sdk);
    check("stat: also through the address of a mem_ctx_t variable (the SDK's form)",
          memcmp(&sdk, &st, sizeof st) == 0);
    check("check: mem_check passes on a heap in use", mem_check(c));

    for (size_t n = 2; n <= 64u; n += 2u) {
        mem_free(c, blk[n]);
    }
    bool fine = mem_check(c);
    for (size_t n = 63; n >= 1u; n -= 2u) {
        mem_free(c, blk[n]);
        if (n == 1u) {
            break;
        }
    }
    mem_stat(c, &st);
    check("free: all blocks, evens then odds backwards, merge back into one free chunk",
          fine && r.calls == 0u && memcmp(&st, &st0, sizeof st) == 0 && mem_check(c));

    mem_free(c, NULL);
    check("alloc: 0 bytes -> NULL; free(NULL) does nothing; no fault",
          mem_alloc(c, 0) == NULL && r.calls == 0u && mem_check(c));
}

/* Random alloc / realloc / free on 32 slots, every block's content checked
 * at every step: what a 32-bit target does with the size arithmetic. */
static void test_random(void)
{
    enum { SLOTS = 32, OPS = 3000 };
    recorder_t r;
    mem_ctx_t c = fresh(arena_a, sizeof arena_a, &r);
    mem_stat_t st0;
    mem_stat(c, &st0);
    uint8_t *p[SLOTS] = {NULL};
    size_t n[SLOTS] = {0};
    uint8_t seed[SLOTS] = {0};
    bool ok = true;
    unsigned served = 0u;
    for (unsigned op = 0; op < OPS && ok; op++) {
        unsigned k = rnd() % SLOTS;
        size_t size = (rnd() % 8u == 0u) ? 1u + rnd() % 2048u : 1u + rnd() % 256u;
        if (p[k] == NULL) {
            p[k] = mem_alloc(c, size);
            if (p[k] != NULL) {
                n[k] = size;
                seed[k] = (uint8_t)op;
                fill(p[k], size, seed[k]);
                served++;
            }
        } else if (rnd() % 2u == 0u) {
            ok = filled(p[k], n[k], seed[k]);
            mem_free(c, p[k]);
            p[k] = NULL;
        } else {
            uint8_t *q = mem_realloc(c, p[k], size);
            if (q != NULL) {
                size_t keep = size < n[k] ? size : n[k];
                ok = filled(q, keep, seed[k]) && mem_usable_size(c, q) >= size;
                p[k] = q;
                n[k] = size;
                seed[k] = (uint8_t)(op * 7u);
                fill(q, size, seed[k]);
                served++;
            } else {
                ok = filled(p[k], n[k], seed[k]); /* refused: the block is untouched */
            }
        }
        if (op % 100u == 0u) {
            ok = ok && mem_check(c);
        }
    }
    for (unsigned k = 0; k < SLOTS; k++) {
        ok = ok && (p[k] == NULL || filled(p[k], n[k], seed[k]));
        mem_free(c, p[k]);
    }
    mem_stat_t st;
    mem_stat(c, &st);
    check("random: 3000 alloc/realloc/free on 32 slots keep every block's content, mem_check every 100",
          ok && served > 1000u && r.calls == 0u && memcmp(&st, &st0, sizeof st) == 0 && mem_check(c));
}

/* ---- realloc ------------------------------------------------------------ */

static void test_realloc(void)
{
    recorder_t r;
    mem_ctx_t c = fresh(arena_a, sizeof arena_a, &r);
    uint8_t *a = mem_realloc(c, NULL, 40);
    check("realloc: a NULL pointer allocates", a != NULL && mem_usable_size(c, a) >= 40u);

    fill(a, 40, 0x51);
    uint8_t *g = mem_realloc(c, a, 200);
    check("realloc: grows in place into the free chunk that follows, content kept",
          g == a && filled(g, 40, 0x51) && mem_usable_size(c, g) >= 200u);

    fill(g, 200, 0x52);
    uint8_t *s = mem_realloc(c, g, 16);
    check("realloc: shrinks in place, content kept, usable size follows",
          s == g && filled(s, 16, 0x52) && (HARDENED ? mem_usable_size(c, s) == 16u : mem_usable_size(c, s) >= 16u));
    check("realloc: the same size stays in place", mem_realloc(c, s, 16) == s && filled(s, 16, 0x52));

    /* x, then y right after it: x cannot grow in place. */
    c = fresh(arena_a, sizeof arena_a, &r);
    uint8_t *x = mem_alloc(c, 40);
    uint8_t *y = mem_alloc(c, 40);
    fill(x, 40, 0x61);
    fill(y, 40, 0x62);
    uint8_t *m = mem_realloc(c, x, 400);
    check("realloc: with an allocated successor it moves, content kept, neighbour untouched",
          m != NULL && m != x && filled(m, 40, 0x61) && filled(y, 40, 0x62) && mem_check(c) && r.calls == 0u);
    mem_free(c, x);
    check("realloc: the moved-from pointer is free (freeing it -> DOUBLE_FREE)",
          reported(&r, c, MEM_FAULT_DOUBLE_FREE, x) && mem_check(c));

    /* a free predecessor: p slides down into it */
    c = fresh(arena_a, sizeof arena_a, &r);
    uint8_t *lo = mem_alloc(c, 100);
    uint8_t *p = mem_alloc(c, 40);
    uint8_t *q = mem_alloc(c, 40);
    fill(p, 40, 0x71);
    fill(q, 40, 0x72);
    mem_free(c, lo);
    uint8_t *sl = mem_realloc(c, p, 120);
    check("realloc: slides down into a free predecessor, content kept",
          sl == lo && filled(sl, 40, 0x71) && filled(q, 40, 0x72) && mem_check(c) && r.calls == 0u);

    mem_stat_t st;
    mem_stat(c, &st);
    uint32_t live = st.nb_allocated;
    check("realloc: to 0 frees the block and answers NULL", mem_realloc(c, q, 0) == NULL && r.calls == 0u);
    mem_stat(c, &st);
    mem_free(c, q);
    check("realloc: after realloc to 0 the pointer is free (freeing it -> DOUBLE_FREE)",
          st.nb_allocated == live - 1u && reported(&r, c, MEM_FAULT_DOUBLE_FREE, q) && mem_check(c));

    memset(&r, 0, sizeof r);
    uint8_t *k = mem_alloc(c, 40);
    fill(k, 40, 0x73);
    size_t u = mem_usable_size(c, k);
    check("realloc: larger than the heap -> NULL, the block untouched and still owned",
          mem_realloc(c, k, sizeof arena_a) == NULL && filled(k, 40, 0x73) && mem_usable_size(c, k) == u &&
              r.calls == 0u);
    mem_free(c, k);
    check("realloc: ... and it frees normally afterwards", r.calls == 0u && mem_check(c));
}

/* ---- edge sizes of a 32-bit size_t ---------------------------------------- */

static void test_edges(void)
{
    recorder_t r;
    mem_ctx_t c = fresh(arena_a, sizeof arena_a, &r);
    mem_stat_t st0;
    mem_stat(c, &st0);

    bool none = true;
    for (size_t k = 0; k <= 16u; k++) {
        none = none && mem_alloc(c, SIZE_MAX - k) == NULL;
    }
    mem_stat_t st;
    mem_stat(c, &st);
    check("edge: alloc of SIZE_MAX - k, k = 0..16 (SIZE_MAX - 7: rounding wraps; SIZE_MAX - 11: the header does) -> NULL",
          none && r.calls == 0u && memcmp(&st, &st0, sizeof st) == 0);

    const size_t big[] = {MEM_MAX_HEAP_SIZE + 1u, MEM_MAX_HEAP_SIZE, MEM_MAX_HEAP_SIZE - 1u,
                          (size_t)UINT32_MAX - MEM_CHUNK_OVERHEAD, (size_t)UINT32_MAX - MEM_CHUNK_OVERHEAD - 7u,
                          sizeof arena_a};
    none = true;
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        none = none && mem_alloc(c, big[i]) == NULL;
    }
    mem_stat(c, &st);
    check("edge: alloc of MEM_MAX_HEAP_SIZE +- 1, UINT32_MAX - overhead, the heap's own size -> NULL",
          none && r.calls == 0u && memcmp(&st, &st0, sizeof st) == 0);

    size_t n = st0.largest_free_size - MEM_CHUNK_OVERHEAD;
    uint8_t *all = mem_alloc(c, n);
    bool exact = all != NULL && mem_usable_size(c, all) >= n;
    mem_free(c, all);
    check("edge: the largest request that fits is served, one byte more is not",
          exact && mem_alloc(c, n + 1u) == NULL && r.calls == 0u && mem_check(c));

    uint8_t *p = mem_alloc(c, 40);
    fill(p, 40, 0x81);
    const size_t huge[] = {SIZE_MAX, SIZE_MAX - 7u, SIZE_MAX - 11u, SIZE_MAX - 3u, MEM_MAX_HEAP_SIZE + 1u,
                           sizeof arena_a};
    none = true;
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        none = none && mem_realloc(c, p, huge[i]) == NULL;
    }
    check("edge: realloc of a live block to SIZE_MAX, SIZE_MAX - 7, - 11, - 3, ... -> NULL, block untouched",
          none && filled(p, 40, 0x81) && r.calls == 0u && mem_check(c));
    check("edge: realloc(NULL, SIZE_MAX) -> NULL", mem_realloc(c, NULL, SIZE_MAX) == NULL && r.calls == 0u);

    /* Offsets of these from the heap wrap around 2^32. */
    mem_free(c, (void *)(UINTPTR_MAX - 7u));
    bool top = reported(&r, c, MEM_FAULT_INVALID_POINTER, (void *)(UINTPTR_MAX - 7u));
    memset(&r, 0, sizeof r);
    mem_free(c, (void *)(uintptr_t)8u);
    bool bottom = reported(&r, c, MEM_FAULT_INVALID_POINTER, (void *)(uintptr_t)8u);
    memset(&r, 0, sizeof r);
    check("edge: free of 0xfffffff8 and of 0x00000008 (offsets that wrap) -> INVALID_POINTER",
          top && bottom && mem_usable_size(c, (void *)(UINTPTR_MAX - 7u)) == 0u && r.calls == 1u && mem_check(c));
    mem_free(c, p);
}

/* ---- several heaps ------------------------------------------------------ */

static void test_heaps(void)
{
    struct {
        void *buf;
        size_t size;
        recorder_t r;
        mem_ctx_t c;
        uint8_t *blk[8];
    } h[4] = {
        {arena_a, sizeof arena_a, {0}, NULL, {NULL}},
        {arena_b, sizeof arena_b, {0}, NULL, {NULL}},
        {arena_c, sizeof arena_c, {0}, NULL, {NULL}},
        {arena_d, sizeof arena_d, {0}, NULL, {NULL}},
    };
    bool ok = true;
    for (unsigned i = 0; i < 4u; i++) {
        h[i].c = fresh(h[i].buf, h[i].size, &h[i].r);
        ok = ok && h[i].c != NULL;
    }
    for (unsigned j = 0; j < 8u && ok; j++) {
        for (unsigned i = 0; i < 4u; i++) {
            size_t n = 8u + 16u * j + 4u * i;
            uint8_t *q = mem_alloc(h[i].c, n);
            ok = ok && q != NULL && q > (uint8_t *)h[i].buf && q + n <= (uint8_t *)h[i].buf + h[i].size;
            h[i].blk[j] = q;
            if (q != NULL) {
                fill(q, n, (uint8_t)(16u * i + j));
            }
        }
    }
    for (unsigned i = 0; i < 4u && ok; i++) {
        mem_stat_t st;
        mem_stat(h[i].c, &st);
        ok = mem_check(h[i].c) && st.nb_allocated == 8u && h[i].r.calls == 0u;
        for (unsigned j = 0; j < 8u && ok; j++) {
            ok = filled(h[i].blk[j], 8u + 16u * j + 4u * i, (uint8_t)(16u * i + j));
        }
    }
    check("heaps: four heaps, interleaved allocations stay in their own buffers, contents kept", ok);

    mem_free(h[2].c, h[1].blk[3]);
    check("heaps: a block freed on the wrong heap -> INVALID_POINTER to that heap's own handler",
          ok && reported(&h[2].r, h[2].c, MEM_FAULT_INVALID_POINTER, h[1].blk[3]) && h[1].r.calls == 0u &&
              mem_check(h[1].c) && mem_check(h[2].c));
    mem_free(h[1].c, h[1].blk[3]);
    mem_free(h[3].c, h[3].blk[0]);
    mem_free(h[3].c, h[3].blk[0]);
    check("heaps: the block frees on its own heap; a double free on another reaches only that one",
          ok && h[1].r.calls == 0u && reported(&h[3].r, h[3].c, MEM_FAULT_DOUBLE_FREE, h[3].blk[0]) &&
              h[0].r.calls == 0u && h[2].r.calls == 1u);

#if HARDENED
    uint8_t *stale = h[1].blk[5];
    h[1].c = fresh(arena_b, sizeof arena_b, &h[1].r);
    mem_free(h[1].c, stale);
    mem_stat_t st;
    mem_stat(h[1].c, &st);
    check("heaps: re-init of a buffer: a pointer from before is reported, never handed out",
          h[1].r.calls == 1u && h[1].r.fault != MEM_FAULT_NONE && st.nb_allocated == 0u && mem_check(h[1].c) &&
              mem_last_fault(h[1].c) == MEM_FAULT_NONE);
#else
    skip("heaps: re-init of a buffer: a pointer from before is reported",
         "off keys nothing, an old header is as good as a new one (docs/HARDENING.md)");
#endif
}

/* ---- attacks ------------------------------------------------------------ */

#define BLOCK 40u

/* A heap with four 40-byte blocks a, b, c, d in address order, then one
 * free chunk; faults go to the recorder. */
typedef struct {
    recorder_t r;
    mem_ctx_t ctx;
    uint8_t *a, *b, *c, *d;
} scene_t;

static scene_t S;

static bool scene(void)
{
    S.ctx = fresh(arena_a, sizeof arena_a, &S.r);
    S.a = mem_alloc(S.ctx, BLOCK);
    S.b = mem_alloc(S.ctx, BLOCK);
    S.c = mem_alloc(S.ctx, BLOCK);
    S.d = mem_alloc(S.ctx, BLOCK);
    if (S.a == NULL || S.b == NULL || S.c == NULL || S.d == NULL) {
        return false;
    }
    /* 0xFF: as a header, a length with its FREE bit set, which off's tags
     * refuse (an aligned interior pointer is then told apart at off too). */
    memset(S.a, 0xFF, BLOCK);
    memset(S.b, 0xFF, BLOCK);
    memset(S.c, 0xFF, BLOCK);
    memset(S.d, 0xFF, BLOCK);
    return mem_check(S.ctx) && S.r.calls == 0u;
}

/* After a misuse fault: nothing remembered, the heap checks out and works. */
static bool intact(void)
{
    unsigned calls = S.r.calls;
    void *p = mem_alloc(S.ctx, BLOCK);
    bool ok = p != NULL && mem_last_fault(S.ctx) == MEM_FAULT_NONE && mem_check(S.ctx);
    mem_free(S.ctx, p);
    return ok && S.r.calls == calls && mem_check(S.ctx);
}

/* After a corruption fault: the heap fails closed. mem_last_fault names the
 * fault, alloc answers NULL, a free of a live block is refused and writes
 * nothing, mem_check answers false, mem_stat answers zeros, and every call
 * reports the same code again. */
static bool fails_closed(mem_fault_t code)
{
    bool ok = mem_last_fault(S.ctx) == code;
    unsigned calls = S.r.calls;
    ok = ok && mem_alloc(S.ctx, 8) == NULL && S.r.calls == calls + 1u && S.r.fault == code;
    uint32_t before = hash(arena_a, sizeof arena_a);
    mem_free(S.ctx, S.d);
    ok = ok && S.r.calls == calls + 2u && S.r.fault == code && hash(arena_a, sizeof arena_a) == before;
    ok = ok && !mem_check(S.ctx) && S.r.calls == calls + 3u && S.r.fault == code;
    ok = ok && stat_is_zero(S.ctx) && mem_realloc(S.ctx, S.d, 8) == NULL && S.r.fault == code;
    return ok && mem_last_fault(S.ctx) == code && S.r.user == &S.r;
}

static void attack_overflow(void)
{
    bool ok = scene();
    S.a[BLOCK] ^= 0x01u; /* one byte past the request */
    mem_free(S.ctx, S.a);
#if HARDENED
    check("attack: 1 byte past the request (tail canary) -> OVERFLOW at free, about that block",
          ok && reported(&S.r, S.ctx, MEM_FAULT_OVERFLOW, S.a));
    check("attack: ... then the heap fails closed (alloc NULL, free refused, nothing written, check false, stat 0)",
          ok && fails_closed(MEM_FAULT_OVERFLOW));
    ok = scene();
    S.c[BLOCK + 3u] ^= 0x80u; /* the canary's last byte */
    check("attack: 4th byte past the request -> OVERFLOW from mem_check", ok && !mem_check(S.ctx) &&
                                                                             reported(&S.r, S.ctx, MEM_FAULT_OVERFLOW, S.c));
#else
    check("attack: 1 byte past the request is not reported at off (no canary, by design), heap consistent",
          ok && S.r.calls == 0u && mem_check(S.ctx));
    skip("attack: ... OVERFLOW from mem_check", "off has no canary (docs/HARDENING.md)");
#endif
}

static void attack_double_free(void)
{
    bool ok = scene();
    mem_free(S.ctx, S.b);
    mem_free(S.ctx, S.b);
    check("attack: double free -> DOUBLE_FREE, to the registered handler with its user pointer",
          ok && reported(&S.r, S.ctx, MEM_FAULT_DOUBLE_FREE, S.b));
    check("attack: ... a misuse: nothing remembered, the heap intact and usable", ok && intact());

    ok = scene();
    mem_free(S.ctx, S.b);
    mem_free(S.ctx, S.c); /* c merges into its free predecessor b */
    mem_free(S.ctx, S.c);
    check("attack: double free of a block merged into its free predecessor -> DOUBLE_FREE",
          ok && reported(&S.r, S.ctx, MEM_FAULT_DOUBLE_FREE, S.c) && intact());
}

static void attack_pointers(void)
{
    bool ok = scene();
    mem_free(S.ctx, S.b + 4);
    check("attack: free of a misaligned interior pointer -> INVALID_POINTER, heap intact",
          ok && reported(&S.r, S.ctx, MEM_FAULT_INVALID_POINTER, S.b + 4) && intact());

#if HARDENED
    ok = scene();
    mem_free(S.ctx, S.b + 8);
    check("attack: free of an 8-aligned interior pointer -> INVALID_POINTER, heap intact",
          ok && reported(&S.r, S.ctx, MEM_FAULT_INVALID_POINTER, S.b + 8) && intact());
#else
    skip("attack: free of an 8-aligned interior pointer",
         "off trusts a header that its boundary tags accept (docs/HARDENING.md: header checksum, standard)");
#endif

    ok = scene();
    mem_free(S.ctx, not_a_heap);
    check("attack: free of a foreign pointer (a static object) -> INVALID_POINTER, heap intact",
          ok && reported(&S.r, S.ctx, MEM_FAULT_INVALID_POINTER, not_a_heap) && intact());

    ok = scene();
    uint64_t local[2] = {0, 0};
    ok = ok && mem_usable_size(S.ctx, &local[1]) == 0u;
    check("attack: usable size of a stack address -> 0 and INVALID_POINTER",
          ok && reported(&S.r, S.ctx, MEM_FAULT_INVALID_POINTER, &local[1]) && intact());
}

static void attack_header(void)
{
    bool ok;
#if HARDENED
    ok = scene();
    flip(S.b - 8, 0x40); /* a bit of b's keyed checksum word */
    mem_free(S.ctx, S.b);
    check("attack: corrupted chunk header (checksum word) -> CORRUPT_HEADER at free",
          ok && reported(&S.r, S.ctx, MEM_FAULT_CORRUPT_HEADER, S.b));
    check("attack: ... then the heap fails closed", ok && fails_closed(MEM_FAULT_CORRUPT_HEADER));
#else
    skip("attack: corrupted chunk header (checksum word)", "off has no header checksum (docs/HARDENING.md)");
#endif
    ok = scene();
    flip(S.b - 1, 0x10); /* the top byte of b's length: 256 MiB more */
    mem_free(S.ctx, S.b);
    check("attack: corrupted chunk length (past the heap's end) -> CORRUPT_HEADER at free",
          ok && reported(&S.r, S.ctx, MEM_FAULT_CORRUPT_HEADER, S.b));
    check("attack: ... then the heap fails closed", ok && fails_closed(MEM_FAULT_CORRUPT_HEADER));
}

/* Context words (allocator/heap_internal.h): W_END is word 2, the nonce
 * words 6 and 7, W_FIRST (the context's size) word 5. */
static void attack_context(void)
{
    bool ok;
#if HARDENED
    ok = scene();
    uint8_t *end = (uint8_t *)S.ctx + 2u * 4u;
    put32(end, get32(end) - 8u); /* still a plausible END */
    check("attack: context word END changed -> CORRUPT_CONTEXT at the next alloc",
          ok && mem_alloc(S.ctx, 8) == NULL && reported(&S.r, S.ctx, MEM_FAULT_CORRUPT_CONTEXT, S.ctx));
    check("attack: ... then the heap fails closed", ok && fails_closed(MEM_FAULT_CORRUPT_CONTEXT));

    ok = scene();
    flip((uint8_t *)S.ctx + 6u * 4u, 0x01); /* the nonce, which keys the heap */
    mem_free(S.ctx, S.a);
    check("attack: context nonce flipped -> CORRUPT_CONTEXT at the next free",
          ok && S.r.calls == 1u && S.r.fault == MEM_FAULT_CORRUPT_CONTEXT && mem_last_fault(S.ctx) == MEM_FAULT_CORRUPT_CONTEXT);
#else
    skip("attack: context word END changed", "off checks the context's identity only (docs/HARDENING.md)");
#endif
    ok = scene();
    size_t ctx_size = get32((uint8_t *)S.ctx + 5u * 4u);
    memset(S.ctx, 0, ctx_size);
    void *p = mem_alloc(S.ctx, 8);
    check("attack: whole context zeroed -> CORRUPT_CONTEXT (the heap is still known: the static table)",
          ok && p == NULL && S.r.calls == 1u && S.r.fault == MEM_FAULT_CORRUPT_CONTEXT && S.r.ctx == S.ctx);
    unsigned calls = S.r.calls;
    mem_free(S.ctx, S.b);
    check("attack: ... then every call refuses and reports it again, check false, stat 0",
          ok && S.r.calls == calls + 1u && S.r.fault == MEM_FAULT_CORRUPT_CONTEXT && !mem_check(S.ctx) &&
              stat_is_zero(S.ctx) && mem_alloc(S.ctx, 8) == NULL && S.r.fault == MEM_FAULT_CORRUPT_CONTEXT);
}

static void attack_links(void)
{
#if HARDENED
    bool ok = scene();
    mem_free(S.ctx, S.b);
    put32(S.b, (uint32_t)(S.d - 8 - (uint8_t *)S.ctx)); /* next link: in the heap, d does not point back */
    void *p = mem_alloc(S.ctx, BLOCK);
    check("attack: forged free-list link -> CORRUPT_LINK when the chunk is taken",
          ok && p == NULL && reported(&S.r, S.ctx, MEM_FAULT_CORRUPT_LINK, S.b));
    check("attack: ... then the heap fails closed", ok && fails_closed(MEM_FAULT_CORRUPT_LINK));
#else
    skip("attack: forged free-list link", "off follows its links unchecked, by design (docs/HARDENING.md)");
#endif
}

static void attack_after_free(void)
{
#if HARDENED
    bool ok = scene();
    mem_free(S.ctx, S.b);
    bool wiped = true;
    for (unsigned i = 8; i < BLOCK; i++) {
        wiped = wiped && S.b[i] == (PARANOID ? 0xA5u : 0u);
    }
    check(PARANOID ? "wipe: a freed payload reads as the poison 0xA5 (past its two links)"
                   : "wipe: a freed payload reads as zero (past its two links)",
          ok && wiped && S.r.calls == 0u);
#else
    skip("wipe: a freed payload is wiped", "off wipes nothing (docs/HARDENING.md)");
#endif
#if PARANOID
    ok = scene();
    mem_free(S.ctx, S.b);
    S.b[20] ^= 0x01u; /* past the links: the poisoned part */
    void *p = mem_alloc(S.ctx, BLOCK);
    check("attack: write after free -> WRITE_AFTER_FREE when the memory is handed out again",
          ok && p == NULL && reported(&S.r, S.ctx, MEM_FAULT_WRITE_AFTER_FREE, S.b));
    check("attack: ... then the heap fails closed", ok && fails_closed(MEM_FAULT_WRITE_AFTER_FREE));

    ok = scene() && mem_set_check_interval(S.ctx, 1);
    S.c[BLOCK] ^= 0x01u; /* c is never freed: only the periodic check sees it */
    p = mem_alloc(S.ctx, 8);
    check("paranoid: with mem_set_check_interval(1) the next call finds an overflow elsewhere -> OVERFLOW",
          ok && p == NULL && S.r.calls == 1u && S.r.fault == MEM_FAULT_OVERFLOW &&
              mem_last_fault(S.ctx) == MEM_FAULT_OVERFLOW);
#else
    skip("attack: write after free", "poison is paranoid only (docs/HARDENING.md)");
    bool ok2 = scene();
    check("paranoid only: mem_set_check_interval answers false below paranoid",
          ok2 && !mem_set_check_interval(S.ctx, 1));
#endif
}

/* ---- modes that must fail ----------------------------------------------- */

static void crash_hardfault(void)
{
    out("cortex-m selftest: loading from 0xf0000000 (unmapped) on purpose\n");
    volatile const uint32_t *bad = (volatile const uint32_t *)(uintptr_t)0xF0000000u;
    uint32_t v = *bad;
    out("cortex-m selftest: no fault at all? read ");
    out_x(v);
    out("\n");
}

static void crash_default_handler(void)
{
    mem_ctx_t c = mem_init(arena_b, sizeof arena_b);
    void *p = mem_alloc(c, 16);
    mem_free(c, p);
    out("cortex-m selftest: double free on a heap without a handler, on purpose\n");
    mem_free(c, p); /* the default handler: abort() */
    out("cortex-m selftest: the default handler returned\n");
}

/* The words after the kernel's path on the command line. */
static bool mode_is(const char *cmdline, const char *word)
{
    const char *s = strchr(cmdline, ' ');
    while (s != NULL) {
        s++;
        size_t n = strcspn(s, " ");
        if (n == strlen(word) && strncmp(s, word, n) == 0) {
            return true;
        }
        s = strchr(s, ' ');
    }
    return false;
}

int main(void)
{
    static char cmdline[256];
    sh_cmdline(cmdline, sizeof cmdline);
    if (mode_is(cmdline, "cost")) {
        return cost_main();
    }
    if (mode_is(cmdline, "pair")) {
        return cost_pair_main();
    }
    if (mode_is(cmdline, "hardfault")) {
        crash_hardfault();
        return 1;
    }
    if (mode_is(cmdline, "abort")) {
        crash_default_handler();
        return 1;
    }

    out("cortex-m selftest: hardening=" LEVEL_NAME " (MEM_HARDENING=");
    out_u(MEM_HARDENING);
    out("), Cortex-M4 on QEMU mps2-an386, libhardalloc.a with HARDALLOC_NO_STDIO and the entropy hook\n");
    test_entropy();
    test_init();
    test_alloc_free();
    test_random();
    test_realloc();
    test_edges();
    test_heaps();
    attack_overflow();
    attack_double_free();
    attack_pointers();
    attack_header();
    attack_context();
    attack_links();
    attack_after_free();
    check(HARDENED ? "entropy: the hook was asked once for the secret (plus the failed try), never again"
                   : "entropy: off never asks the hook",
          g_entropy_calls == (HARDENED ? 2u : 0u));
    if (mode_is(cmdline, "fail")) {
        check("selftest: a check that fails on purpose (-append fail)", false);
    }
    out("cortex-m selftest: ");
    out_u(g_passed);
    out(" passed, ");
    out_u(g_failed);
    out(" failed\n");
    return g_failed == 0u ? 0 : 1;
}
