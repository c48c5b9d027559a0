/*
 * The attack matrix: one test per attack on the heap's metadata or API,
 * each asserting the exact fault code, the address the handler is told,
 * the heap's state afterwards, and that nothing outside the arena was
 * written. Built once per hardening level (MEM_HARDENING comes from the
 * level's dependency):
 *  - standard and paranoid: every attack must be detected with its code;
 *    the write-after-free attack only from paranoid on.
 *  - off: nothing is required but "never writes outside the arena" (except
 *    the rows marked OFF_ESCAPES) and the rows of min_level 0 (a context
 *    overwritten whole); the table shows what off detects. Off
 *    has only O(1) boundary tags: it reports overflows past the usable size
 *    and underflows as CORRUPT_HEADER (they hit the next or own length word
 *    directly), and catches double and invalid frees, but misses by design:
 *    an overflow that stays inside the usable size, an overflow
 *    into a free neighbour that is then allocated, a nested heap's block
 *    (its tags look valid), write after free, forged free-list links (the
 *    classic unlink exploit: off writes through them, here into the guard;
 *    rows that would follow forged metadata to an arbitrary address,
 *    OFF_SKIP, are not run),
 *    and corrupted context words (off checks the context only in mem_check,
 *    and only its structure), except a context whose identity is gone: the
 *    library's table of heaps still knows it, at every level.
 *
 * Overflows are counted from the end of the request (a + BLOCK): hardened,
 * the canary sits right there, so +1 is caught; off knows only the usable
 * size, so the bytes up to it go unseen there.
 *
 * After the run the suite prints the table: attack | expected | detected |
 * writes outside the arena | ok.
 *
 * Heap: a 4 KiB arena between two guard regions (attack_util.h), four
 * blocks a, b, c, d of 40 bytes in address order, then one free chunk.
 * Every fault goes to a recording handler that returns; it is registered
 * outside the arena, so every row also asserts that it is the one called
 * (its user pointer), never the default handler (an abort) and never a
 * function whose address an attack planted in the arena.
 */

#define _POSIX_C_SOURCE 200809L

#include "attack_util.h"

#include <signal.h>

#define ARENA_SIZE 4096u
#define BLOCK 40u

typedef struct {
    region_t r;
    region_t r2;    /* a second heap, for the "another heap's block" attacks */
    void *nested;   /* a heap nested in a block of the first one */
    mem_ctx_t ctx;
    uint8_t *a, *b, *c, *d;
    size_t usable;  /* usable size of each block: BLOCK hardened, the chunk's length - 4 off */
    uint32_t big_len; /* length of the free chunk after d */
    const void *want; /* address the handler must be told */
    bool answer_ok;   /* the triggering call answered NULL / false / 0 */
} scene_t;

static scene_t S;

/* What an attack is beyond its code (attack_t.flags); none of them: a
 * misuse, found by a call that writes nothing, the heap intact after it. */
enum {
    CORRUPTS = 1u << 0,    /* fails the heap closed (else: a misuse, heap intact) */
    WRITES = 1u << 1,      /* the trigger may write before the detecting call (else:
                              it writes nothing but the failed state) */
    OFF_ESCAPES = 1u << 2, /* at off, known to write outside the arena */
    OFF_SKIP = 1u << 3,    /* at off, not run: it follows forged metadata to an
                              arbitrary address (a crash, or worse) */
    CTX_STAYS = 1u << 4,   /* hardened, the context stays damaged after failing
                              (its identity words disagree); like every heap
                              failed by a context fault, later refusals report
                              it about the context, not the pointer passed */
};

typedef struct {
    const char *name;
    mem_fault_t expected;
    int min_level; /* lowest MEM_HARDENING that must detect it */
    unsigned flags;
    void (*prepare)(scene_t *);
    void (*trigger)(scene_t *);
} attack_t;

typedef struct {
    const char *name;
    const char *expected;
    const char *detected;
    bool required;
    bool outside;
    bool ok;
} row_t;

static row_t rows[64];
static size_t nrows;

static uint32_t off_of(const scene_t *s, const uint8_t *payload)
{
    return (uint32_t)(payload - 8 - (const uint8_t *)s->ctx);
}

/* ---- fixture ------------------------------------------------------------ */

static int scene_setup(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    region_open(&S.r, ARENA_SIZE);
    S.ctx = mem_init(S.r.arena, ARENA_SIZE);
    assert_ptr_equal(S.ctx, S.r.arena);
    assert_true(mem_set_fault_handler(S.ctx, record_fault, &S));
    S.a = alloc_filled(S.ctx, BLOCK, 0x11);
    S.b = alloc_filled(S.ctx, BLOCK, 0x22);
    S.c = alloc_filled(S.ctx, BLOCK, 0x33);
    S.d = alloc_filled(S.ctx, BLOCK, 0x44);
    S.usable = mem_usable_size(S.ctx, S.a);
    assert_int_equal(S.usable, HARDENED ? BLOCK : chunk_len_of(S.a) - MEM_CHUNK_OVERHEAD);
    /* Hardened, b's header starts 8 bytes past a's request (4 canary, 4
     * slack): the rows below that reach it overflow by 12 and 16. */
    assert_true(!HARDENED || S.b - 8 == S.a + BLOCK + 8);
    mem_stat_t st;
    mem_stat(S.ctx, &st);
    assert_int_equal(st.nb_chunks, 5);
    S.big_len = (uint32_t)st.largest_free_size;
    assert_true(mem_check(S.ctx));
    fault_recorder_clear(&g_faults);
    g_hijacked = false;
    return 0;
}

static int scene_teardown(void **state)
{
    (void)state;
    heap_forget(S.nested);
    region_close(&S.r2);
    region_close(&S.r);
    return 0;
}

/* ---- prepare: the damage ------------------------------------------------ */

/* n bytes past a's request. */
static void overflow_a(scene_t *s, size_t n)
{
    raw_flip(s->a + BLOCK, n);
    s->want = s->a;
}

static void prep_overflow_1(scene_t *s) { overflow_a(s, 1); }
static void prep_overflow_2(scene_t *s) { overflow_a(s, 2); }
static void prep_overflow_4(scene_t *s) { overflow_a(s, 4); }
static void prep_overflow_8(scene_t *s) { overflow_a(s, 8); }
static void prep_overflow_16(scene_t *s) { overflow_a(s, 16); }

static void prep_overflow_12_nb(scene_t *s) { overflow_a(s, 12); s->want = s->b; }
static void prep_overflow_16_nb(scene_t *s) { overflow_a(s, 16); s->want = s->b; }

/* The neighbour b is free when the overflow of a reaches its header. */
static void free_nb_overflow_a(scene_t *s, size_t n)
{
    mem_free(s->ctx, s->b);
    overflow_a(s, n);
    s->want = s->b;
}

static void prep_free_nb_overflow_12(scene_t *s) { free_nb_overflow_a(s, 12); }
static void prep_free_nb_overflow_16(scene_t *s) { free_nb_overflow_a(s, 16); }

/* b is free, and its length word damaged (a's canary intact). */
static void prep_free_nb_header(scene_t *s)
{
    mem_free(s->ctx, s->b);
    raw_flip(s->b - 4, 1);
    s->want = s->b;
}

static void prep_underflow_1(scene_t *s)
{
    raw_flip(s->b - 1, 1);
    s->want = s->b;
}

static void prep_underflow_8(scene_t *s)
{
    raw_flip(s->b - 8, 8);
    s->want = s->b;
}

static void prep_free_b(scene_t *s)
{
    mem_free(s->ctx, s->b);
    s->want = s->b;
}

/* c merges into its free predecessor b: c's payload is now b's interior. */
static void prep_merge_into_prev(scene_t *s)
{
    mem_free(s->ctx, s->b);
    mem_free(s->ctx, s->c);
    s->want = s->c;
}

/* b absorbs its free successor c. */
static void prep_merge_into_next(scene_t *s)
{
    mem_free(s->ctx, s->c);
    mem_free(s->ctx, s->b);
    s->want = s->c;
}

/* The trigger makes its own bad pointer. */
static void prep_nothing(scene_t *s) { (void)s; }

static void prep_interior(scene_t *s) { s->want = s->b + 8; }
static void prep_misaligned(scene_t *s) { s->want = s->b + 4; }

static void prep_other_heap(scene_t *s)
{
    region_open(&s->r2, ARENA_SIZE);
    mem_ctx_t ctx2 = mem_init(s->r2.arena, ARENA_SIZE);
    assert_non_null(ctx2);
    s->want = alloc_filled(ctx2, BLOCK, 0x55);
}

/* A heap inside a block of the first: its block lies inside the first
 * heap, aligned, with a header the first heap did not write. */
static void prep_nested_heap(scene_t *s)
{
    uint8_t *host = mem_alloc(s->ctx, 512);
    assert_non_null(host);
    s->nested = mem_init(host, 512);
    assert_non_null(s->nested);
    s->want = alloc_filled(s->nested, BLOCK, 0x66);
}

static void prep_past_heap(scene_t *s) { s->want = s->r.arena + ARENA_SIZE + 8; }

static void prep_sentinel(scene_t *s)
{
    s->want = (uint8_t *)s->ctx + raw_get32(ctx_word(s->ctx, W_END)) + 8;
}

static void prep_in_context(scene_t *s) { s->want = (uint8_t *)s->ctx + 8; }

static void prep_write_after_free(scene_t *s)
{
    mem_free(s->ctx, s->b);
    raw_flip(s->b + 8, 1); /* past the links: the poisoned part */
    s->want = s->b;
}

/* The classic unlink exploit: the links of a free chunk are aimed at two
 * words outside the heap (here: inside the trailing guard, so that a write
 * through them is seen). */
static void prep_links_outside(scene_t *s)
{
    mem_free(s->ctx, s->b);
    raw_put32(s->b, ARENA_SIZE + 100u);     /* next: next + 12 in the guard */
    raw_put32(s->b + 4, ARENA_SIZE + 140u); /* prev: prev + 8 in the guard */
    s->want = s->b;
}

static void prep_next_no_back(scene_t *s)
{
    mem_free(s->ctx, s->b);
    raw_put32(s->b, off_of(s, s->d)); /* in the heap, but d does not point back */
    s->want = s->b;
}

static void prep_prev_no_back(scene_t *s)
{
    mem_free(s->ctx, s->b);
    raw_put32(s->b + 4, off_of(s, s->d));
    s->want = s->b;
}

/* A plausible END (still inside the heap, aligned): only the keyed
 * checksum can tell it from the one mem_init wrote. */
static void prep_ctx_end(scene_t *s)
{
    uint8_t *w = ctx_word(s->ctx, W_END);
    raw_put32(w, raw_get32(w) - 8u);
    s->want = s->ctx;
}

/* The nonce keys the heap (with the library's secret, which is not in the
 * arena): flipping it changes the key, so the context checksum fails. */
static void prep_ctx_nonce(scene_t *s)
{
    raw_flip(ctx_word(s->ctx, W_NONCE), 1);
    s->want = s->ctx;
}

/* Every byte of the context overwritten, identity words included: the
 * heap is known through the library's table of heaps alone. */
static void prep_ctx_zeroed(scene_t *s)
{
    raw_fill(s->ctx, 0u, ctx_size_of(s->ctx));
    s->want = s->ctx;
}

static void prep_ctx_blasted(scene_t *s)
{
    raw_fill64(s->ctx, hijack_bytes(), ctx_size_of(s->ctx));
    s->want = s->ctx;
}

static uint8_t *big_head(const scene_t *s)
{
    return (uint8_t *)s->ctx + head_at(class_of(s->big_len));
}

static void prep_head_zeroed(scene_t *s)
{
    raw_put32(big_head(s), 0u);
    s->want = s->ctx;
}

/* A bit for the (empty) class of a block of BLOCK bytes. */
static void prep_bitmap_forged(scene_t *s)
{
    uint32_t cls = class_of(chunk_len_of(s->a));
    uint8_t *w = (uint8_t *)s->ctx + BITMAP_AT + 8u * (cls / 64u);
    uint64_t bits;
    raw_read(&bits, w, sizeof bits);
    bits |= (uint64_t)1u << (cls % 64u);
    raw_write(w, &bits, sizeof bits);
    s->want = s->ctx;
}

static void prep_head_outside(scene_t *s)
{
    raw_put32(big_head(s), ARENA_SIZE + 64u);
    s->want = s->ctx;
}

static void prep_head_to_allocated(scene_t *s)
{
    raw_put32(big_head(s), off_of(s, s->d));
    s->want = s->ctx;
}

/* ---- trigger: the call that must find it -------------------------------- */

static void trig_free_a(scene_t *s) { mem_free(s->ctx, s->a); }
static void trig_free_b(scene_t *s) { mem_free(s->ctx, s->b); }
static void trig_free_want(scene_t *s) { mem_free(s->ctx, (void *)(uintptr_t)s->want); }

static void trig_free_b_then_a(scene_t *s)
{
    mem_free(s->ctx, s->b);
    mem_free(s->ctx, s->a);
}

static void trig_alloc(scene_t *s) { s->answer_ok = mem_alloc(s->ctx, BLOCK) == NULL; }

/* Grows a by 16 bytes: into its neighbour b when b is free. */
static void trig_realloc_a_grow(scene_t *s) { s->answer_ok = mem_realloc(s->ctx, s->a, BLOCK + 16u) == NULL; }

static void trig_free_stack(scene_t *s)
{
    uint64_t local[4] = {0};
    s->want = &local[2];
    mem_free(s->ctx, &local[2]);
}

static void trig_realloc_want(scene_t *s)
{
    s->answer_ok = mem_realloc(s->ctx, (void *)(uintptr_t)s->want, 100) == NULL;
}

static void trig_usable_want(scene_t *s)
{
    s->answer_ok = mem_usable_size(s->ctx, s->want) == 0u;
}

/* ---- the matrix --------------------------------------------------------- */

#define HDR MEM_FAULT_CORRUPT_HEADER
#define LNK MEM_FAULT_CORRUPT_LINK
#define DBL MEM_FAULT_DOUBLE_FREE
#define INV MEM_FAULT_INVALID_POINTER
#define OVF MEM_FAULT_OVERFLOW
#define WAF MEM_FAULT_WRITE_AFTER_FREE
#define CTX MEM_FAULT_CORRUPT_CONTEXT

static attack_t attacks[] = {
    {"overflow +1, free the block", OVF, 1, CORRUPTS, prep_overflow_1, trig_free_a},
    {"overflow +2, free the block", OVF, 1, CORRUPTS, prep_overflow_2, trig_free_a},
    {"overflow +4, free the block", OVF, 1, CORRUPTS, prep_overflow_4, trig_free_a},
    {"overflow +8, free the block", OVF, 1, CORRUPTS, prep_overflow_8, trig_free_a},
    {"overflow +16, free the block", OVF, 1, CORRUPTS, prep_overflow_16, trig_free_a},
    {"overflow +4, free neighbour, then the block", OVF, 1, CORRUPTS | WRITES, prep_overflow_4, trig_free_b_then_a},
    {"overflow +1, realloc the block", OVF, 1, CORRUPTS, prep_overflow_1, trig_realloc_want},
    {"overflow +12, free the neighbour first", HDR, 1, CORRUPTS, prep_overflow_12_nb, trig_free_b},
    {"overflow +16, free the neighbour first", HDR, 1, CORRUPTS, prep_overflow_16_nb, trig_free_b},
    {"overflow +12 into free neighbour, alloc it", HDR, 1, CORRUPTS, prep_free_nb_overflow_12, trig_alloc},
    {"overflow +16 into free neighbour, alloc it", HDR, 1, CORRUPTS | OFF_ESCAPES | OFF_SKIP, prep_free_nb_overflow_16,
     trig_alloc},
    {"free neighbour's header damaged, grow into it", HDR, 1, CORRUPTS, prep_free_nb_header, trig_realloc_a_grow},
    {"underflow 1 into own header, free", HDR, 1, CORRUPTS, prep_underflow_1, trig_free_b},
    {"underflow 8 into own header, free", HDR, 1, CORRUPTS, prep_underflow_8, trig_free_b},
    {"underflow 1 into own header, realloc", HDR, 1, CORRUPTS, prep_underflow_1, trig_realloc_want},
    {"double free", DBL, 1, 0, prep_free_b, trig_free_b},
    {"double free, merged into free predecessor", DBL, 1, 0, prep_merge_into_prev, trig_free_want},
    {"double free, merged with free successor", DBL, 1, 0, prep_merge_into_next, trig_free_want},
    {"free of an interior pointer (aligned)", INV, 1, 0, prep_interior, trig_free_want},
    {"free of an interior pointer (misaligned)", INV, 1, 0, prep_misaligned, trig_free_want},
    {"free of another heap's block", INV, 1, 0, prep_other_heap, trig_free_want},
    {"free of a nested heap's block", INV, 1, 0, prep_nested_heap, trig_free_want},
    {"free of a stack address", INV, 1, 0, prep_nothing, trig_free_stack},
    {"free of a pointer past the heap", INV, 1, 0, prep_past_heap, trig_free_want},
    {"free of the sentinel's payload", INV, 1, 0, prep_sentinel, trig_free_want},
    {"free of a pointer into the context", INV, 1, 0, prep_in_context, trig_free_want},
    {"realloc of a freed block", DBL, 1, 0, prep_free_b, trig_realloc_want},
    {"usable_size of a freed block", DBL, 1, 0, prep_free_b, trig_usable_want},
    {"write after free, then reuse", WAF, 2, CORRUPTS, prep_write_after_free, trig_alloc},
    {"forged links aimed outside the heap", LNK, 1, CORRUPTS | OFF_ESCAPES, prep_links_outside, trig_alloc},
    {"forged next link, in heap, not pointing back", LNK, 1, CORRUPTS, prep_next_no_back, trig_alloc},
    {"forged prev link, in heap, not pointing back", LNK, 1, CORRUPTS, prep_prev_no_back, trig_alloc},
    {"context: W_END overwritten", CTX, 1, CORRUPTS, prep_ctx_end, trig_alloc},
    {"context: nonce overwritten", CTX, 1, CORRUPTS, prep_ctx_nonce, trig_alloc},
    {"context: all of it zeroed", CTX, 0, CORRUPTS | CTX_STAYS, prep_ctx_zeroed, trig_alloc},
    {"context: all of it overwritten", CTX, 0, CORRUPTS | CTX_STAYS, prep_ctx_blasted, trig_alloc},
    {"context: free-list head zeroed", CTX, 1, CORRUPTS, prep_head_zeroed, trig_alloc},
    {"context: bitmap bit of an empty list", CTX, 1, CORRUPTS, prep_bitmap_forged, trig_alloc},
    /* A head aimed outside the heap or at an allocated block: nothing free
     * is there, so whoever pointed there is damaged, here the context. */
    {"context: free-list head aimed outside", CTX, 1, CORRUPTS | OFF_ESCAPES | OFF_SKIP, prep_head_outside, trig_alloc},
    {"context: free-list head aimed at a block", CTX, 1, CORRUPTS | OFF_ESCAPES | OFF_SKIP, prep_head_to_allocated,
     trig_alloc},
};

#define NB_ATTACKS (sizeof attacks / sizeof attacks[0])

/* ---- the verdict -------------------------------------------------------- */

/* Every handler call recorded so far went to the registered handler with
 * its user pointer, and nothing planted in the arena was called. */
static bool registered_handler_only(void)
{
    bool ok = !g_hijacked;
    for (unsigned i = 0; i < g_faults.calls && i < FAULT_LOG_MAX; i++) {
        ok = ok && g_faults.user[i] == &S;
    }
    return ok && (g_faults.calls == 0u || g_faults.last_user == &S);
}

/* After a corruption fault: remembered, and every later call refuses,
 * reports the same code again, and writes nothing. A refused free names
 * the pointer it was given, unless the context is still damaged: then the
 * report is about the context (mem_alloc.h, the handler's addr). */
static bool fail_closed(mem_fault_t code, bool ctx_stays)
{
    bool ok = mem_last_fault(S.ctx) == code;
    unsigned calls = g_faults.calls;
    ok = ok && mem_alloc(S.ctx, 8) == NULL && g_faults.calls == calls + 1 && g_faults.last == code &&
         g_faults.last_addr == S.ctx;
    uint8_t *snap = region_snapshot(&S.r);
    mem_free(S.ctx, S.d);
    ok = ok && g_faults.calls == calls + 2 && g_faults.last == code &&
         g_faults.last_addr == (ctx_stays ? (const void *)S.ctx : S.d);
    ok = ok && region_diff(&S.r, snap, false) == SIZE_MAX;
    free(snap);
    ok = ok && !mem_check(S.ctx) && g_faults.calls == calls + 3 && g_faults.last == code;
    return ok && mem_last_fault(S.ctx) == code && registered_handler_only();
}

/* After a misuse fault: not remembered, the heap checks out and works. */
static bool still_intact(void)
{
    bool ok = mem_last_fault(S.ctx) == MEM_FAULT_NONE && mem_check(S.ctx);
    void *p = mem_alloc(S.ctx, BLOCK);
    ok = ok && p != NULL;
    mem_free(S.ctx, p);
    return ok && g_faults.calls == 1 && mem_check(S.ctx) && registered_handler_only();
}

/* The default handler aborts: no attack may reach it while a handler is
 * registered. Say which row did, instead of dying silently. */
static const attack_t *current_attack;

static void on_abort(int sig)
{
    char m[160];
    int n = snprintf(m, sizeof m, "\n%s: abort(), the default handler or worse, instead of the registered handler\n",
                     current_attack != NULL ? current_attack->name : "?");
    ssize_t w = write(2, m, n > 0 ? (size_t)n : 0u);
    (void)w;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void test_attack(void **state)
{
    const attack_t *at = *state;
    bool required = MEM_HARDENING >= at->min_level;
    const bool corrupts = (at->flags & CORRUPTS) != 0u;
    const bool pure = (at->flags & WRITES) == 0u;
    if (!HARDENED && (at->flags & OFF_SKIP) != 0u) {
        rows[nrows++] = (row_t){at->name, "(not required)", "(not run)", false, false, false};
        skip();
    }

    current_attack = at;
    void (*previous)(int) = signal(SIGABRT, on_abort);
    at->prepare(&S);
    uint8_t *snap = region_snapshot(&S.r);
    fault_recorder_clear(&g_faults);
    S.answer_ok = true;
    at->trigger(&S);
    size_t diff = region_diff(&S.r, snap, corrupts);
    free(snap);

    mem_fault_t got = g_faults.calls > 0 ? g_faults.fault[0] : MEM_FAULT_NONE;
    unsigned calls = g_faults.calls;
    const void *addr = g_faults.addr[0];
    mem_ctx_t fctx = g_faults.ctx[0];
    bool code_ok = got == at->expected && calls == 1;
    bool addr_ok = addr == S.want && fctx == S.ctx;
    bool handler_ok = registered_handler_only();
    bool quiet = diff == SIZE_MAX || !pure;
    bool ctx_stays = at->expected == MEM_FAULT_CORRUPT_CONTEXT;
    bool after_ok = code_ok && (corrupts ? fail_closed(at->expected, ctx_stays) : still_intact());
    (void)signal(SIGABRT, previous);
    bool outside = !region_guards_intact(&S.r) || (S.r2.block != NULL && !region_guards_intact(&S.r2));
    bool ok = code_ok && addr_ok && handler_ok && S.answer_ok && quiet && after_ok && !outside;

    if (nrows < sizeof rows / sizeof rows[0]) {
        rows[nrows++] = (row_t){at->name, required ? code_name(at->expected) : "(not required)",
                                code_name(got), required, outside, ok};
    }
    /* At every level: whatever the arena holds, only the registered
     * handler is ever called. */
    if (!handler_ok) {
        print_error("%s: a call went elsewhere than the registered handler (hijack target %s)\n", at->name,
                    g_hijacked ? "CALLED" : "not called");
    }
    assert_false(g_hijacked);
    assert_true(handler_ok);
    if (required) {
        if (!code_ok) {
            print_error("%s: expected %s once, got %s (%u calls) at ctx%+td\n", at->name,
                        code_name(at->expected), code_name(got), calls,
                        (const uint8_t *)addr - (const uint8_t *)S.ctx);
        }
        assert_int_equal(got, at->expected);
        assert_int_equal(calls, 1);
        assert_ptr_equal(fctx, S.ctx);
        assert_ptr_equal(addr, S.want);
        assert_true(S.answer_ok);
        if (diff != SIZE_MAX && pure) {
            print_error("%s: the detecting call wrote arena byte %zu\n", at->name, diff);
        }
        assert_true(quiet);
        assert_true(after_ok);
    }
    if (HARDENED || (at->flags & OFF_ESCAPES) == 0u) {
        assert_false(outside);
    }
}

static int print_table(void **state)
{
    (void)state;
    size_t required = 0, passed = 0, escaped = 0, detected = 0;
    printf("\nattack matrix, hardening %s\n", LEVEL_NAME);
    printf("%-46s | %-16s | %-16s | %-7s | %s\n", "attack", "expected", "detected", "outside", "ok");
    printf("%.46s-|-%.16s-|-%.16s-|-%.7s-|---\n", "----------------------------------------------",
           "----------------", "----------------", "-------");
    for (size_t i = 0; i < nrows; i++) {
        const row_t *r = &rows[i];
        printf("%-46s | %-16s | %-16s | %-7s | %s\n", r->name, r->expected, r->detected,
               r->outside ? "WRITTEN" : "no", r->required ? (r->ok ? "yes" : "NO") : "n/a");
        required += r->required;
        passed += r->required && r->ok;
        escaped += r->outside;
        detected += strcmp(r->detected, "NONE") != 0 && strcmp(r->detected, "(not run)") != 0;
    }
    printf("%zu attacks, %zu detected, %zu required, %zu ok, %zu wrote outside the arena\n", nrows, detected,
           required, passed, escaped);
    fflush(stdout);
    return 0;
}

int main(void)
{
    struct CMUnitTest tests[NB_ATTACKS];
    size_t n = 0;
    for (size_t i = 0; i < NB_ATTACKS; i++) {
        tests[n++] = (struct CMUnitTest){attacks[i].name, test_attack, scene_setup, scene_teardown, &attacks[i]};
    }
    return _cmocka_run_group_tests("attacks_" LEVEL_NAME,
                                   tests, n, NULL, print_table);
}
