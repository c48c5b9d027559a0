/*
 * Attacks on the quick lists (heap_internal.h, "Quick lists"): a freed
 * chunk of up to quick_max bytes is parked (FLAG_QUICK, FREE clear; its
 * payload's bytes 0..3 the link to the next parked chunk, 4..7 its depth)
 * in a LIFO list whose head is a context word just below FIRST, and a
 * request of exactly its length takes it back. Every test attacks one check
 * of that path and says which one: each would fail if that check were
 * removed (where another check would still stop the attack, the comment
 * says so).
 *
 * Heap: a 32 KiB arena between two guard regions (attack_util.h), which has
 * the 32 narrow lists (chunks up to 264 bytes off, 272 hardened); one test
 * uses a heap just over 1 MiB, which has the 256 wide ones (up to 2,056 /
 * 2,064). Every fault goes to a recording handler registered outside the
 * arena; every test asserts the exact code and address, that nothing
 * outside the arena was written, and (after a misuse) that draining the heap
 * never hands out a block over a live one.
 *
 * Built at off and standard (quick_attacks_<level>); paranoid has no quick
 * lists.
 * Off checks positions and lengths, not checksums: an attack that needs a
 * checksum to be stopped is run at standard only, and the forgeries that
 * off must stop all the same (past the end, misaligned) are forged at
 * standard with the pinned secret (mem_testing_pin_secret), so that the
 * bound under test, not the checksum, is what refuses them.
 */

#define _POSIX_C_SOURCE 200809L

#include "attack_util.h"
#include "mem_testing.h"

#include <signal.h>

#if MEM_HARDENING > 1
#error "paranoid has no quick lists: test_quick is built at off and standard"
#endif

#define ARENA_SIZE 32768u
/* Just over 1 MiB: the wide lists need a largest chunk of 1 MiB, which a
 * heap of exactly 1 MiB (its context and sentinel taken off) does not have. */
#define WIDE_SIZE ((1u << 20) + 4096u)
/* A request whose chunk is parked: 48 bytes off, 56 hardened (4 bytes of
 * slack, the canary at BLOCK). */
#define BLOCK 40u
/* A request of the wide lists only: a 2,008 / 2,016-byte chunk. */
#define WIDE_BLOCK 2000u
/* The longest chunk the narrow lists park, and its largest request. */
#define QUICK_MAX (MEM_MIN_CHUNK + 8u * (QUICK_BINS_NARROW - 1u))
#define QUICK_MAX_WIDE (MEM_MIN_CHUNK + 8u * (QUICK_BINS - 1u))
/* The heap's secret, and the one a forger who does not know it guesses. */
#define PIN_SECRET UINT64_C(0x5EC2E7000000AD17)
#define OTHER_SECRET UINT64_C(0x0DDBA11C0FFEE017)
#define MAX_LIVE 4096u
/* A mem_stat that takes longer than this is looping. */
#define STAT_TIMEOUT_S 30u

#define ATTACK_TEST(name, call) \
    static void name(void **state) \
    { \
        (void)state; \
        call; \
    }

#define HDR MEM_FAULT_CORRUPT_HEADER
#define LNK MEM_FAULT_CORRUPT_LINK
#define DBL MEM_FAULT_DOUBLE_FREE
#define OVF MEM_FAULT_OVERFLOW
#define CTX MEM_FAULT_CORRUPT_CONTEXT

#include "adversary_fixture.h"

/* ---- layout ------------------------------------------------------------- */

static uint32_t first_now(void)
{
    return raw_get32(ctx_word(C, W_FIRST));
}

static uint32_t end_now(void)
{
    return raw_get32(ctx_word(C, W_END));
}

/* The chunk length of a request of n bytes (mem_alloc.h). */
static uint32_t len_for(size_t n)
{
    uint32_t len = ((uint32_t)n + MEM_CHUNK_OVERHEAD + 7u) & ~7u;
    return len < MEM_MIN_CHUNK ? MEM_MIN_CHUNK : len;
}

/* The context word that heads the quick list of len-byte chunks. */
static uint8_t *head_word(uint32_t len)
{
    return at(quick_head(first_now(), len));
}

static uint32_t head_get(uint32_t len)
{
    return raw_get32(head_word(len));
}

static void head_put(uint32_t len, uint32_t v)
{
    raw_put32(head_word(len), v);
}

/* The length word of the chunk whose payload is p. */
static uint32_t lf_of(const void *p)
{
    return raw_get32((const uint8_t *)p - 4);
}

/* A parked header at off (any address: the arena or a guard) for chunks of
 * len bytes: hardened, its check word under key. Link and depth are not
 * written (the tests that need them write them). */
static void forge_parked(uint64_t key, uint32_t off, uint32_t len)
{
    raw_put32(at(off + 4u), len | FLAG_QUICK);
    if (HARDENED) {
        raw_put32(at(off), header_check(key, off, len | FLAG_QUICK, 0u));
    }
}

/* The chunk of p is parked, with this link and depth. */
static void assert_parked(const void *p, uint32_t link, uint32_t depth)
{
    uint32_t len = chunk_len_of(p);
    assert_int_equal(lf_of(p) & ~FLAG_PREV_FREE, len | FLAG_QUICK);
    assert_int_equal(raw_get32(p), link);
    assert_int_equal(raw_get32((const uint8_t *)p + 4), depth);
}

/* ---- live blocks -------------------------------------------------------- */

/* Allocates until every size is refused: nothing handed out leaves the
 * arena or overlaps a live block. */
static void drain(void)
{
    static const size_t sizes[] = {2000, 500, 100, BLOCK, 8};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        while (nlive < MAX_LIVE) {
            void *p = mem_alloc(C, sizes[i]);
            if (p == NULL) {
                break;
            }
            live_add(p, sizes[i]);
        }
    }
}

/* ---- verdicts ----------------------------------------------------------- */

/* Exactly one fault since the last clear: code, on C, about addr, through
 * the registered handler. Clears the record. */
static void expect_one(mem_fault_t code, const void *addr)
{
    bool ok = g_faults.calls == 1u && g_faults.fault[0] == code && g_faults.ctx[0] == C &&
              g_faults.user[0] == &cookie && g_faults.addr[0] == addr;
    if (!ok) {
        print_error("expected one %s at %p (heap %p); got %u fault(s), first %s at %p in %p, user %p\n",
                    code_name(code), addr, (void *)C, g_faults.calls, code_name(g_faults.fault[0]),
                    g_faults.addr[0], (void *)g_faults.ctx[0], g_faults.user[0]);
    }
    assert_true(ok);
    fault_recorder_clear(&g_faults);
}

/* The heap failed closed with code: it says so without a call, and every
 * later call is refused, reported once (about blk for mem_free). */
static void fails_closed(mem_fault_t code, void *blk)
{
    assert_int_equal(mem_last_fault(C), code);
    expect_none();
    assert_null(mem_alloc(C, BLOCK));
    expect_one(code, C);
    mem_free(C, blk);
    expect_one(code, code == CTX ? C : blk);
    assert_false(mem_check(C));
    expect_one(code, C);
    mem_stat_t st;
    mem_stat(C, &st);
    assert_true(stat_zero(&st));
    expect_one(code, C);
}

/* A request of n bytes is refused: NULL, one fault (code, about want), and
 * nothing written but the failed state. */
static void alloc_refused(size_t n, mem_fault_t code, const void *want)
{
    uint8_t *snap = region_snapshot(&R);
    assert_null(mem_alloc(C, n));
    expect_one(code, want);
    assert_int_equal(region_diff(&R, snap, true), SIZE_MAX);
    free(snap);
}

/* Every test ends here: no stray handler call, (drain) nothing handed out
 * over a live block, the guards intact. */
static void verdict(bool drain_it)
{
    assert_int_equal(stray_calls, 0);
    if (drain_it) {
        drain();
        expect_none();
    }
    assert_int_equal(stray_calls, 0);
    assert_true(region_guards_intact(&R));
}

/* ---- fixture ------------------------------------------------------------ */

static void heap_in(size_t size)
{
    region_open(&R, size);
    C = mem_init(R.arena, size);
    assert_ptr_equal(C, R.arena);
    assert_true(mem_set_fault_handler(C, registered, &cookie));
    fault_recorder_clear(&g_faults);
    nlive = 0;
}

/* The 32 KiB heap, under the pinned secret: a forger's key is known. */
static void fresh_heap(void)
{
    mem_testing_pin_secret(PIN_SECRET);
    heap_in(ARENA_SIZE);
    /* The narrow lists: heads for chunks up to QUICK_MAX. */
    assert_true(first_now() >= QUICK_FIRST_MIN && first_now() < QUICK_FIRST_WIDE);
}

/* a, b, c: three live blocks of BLOCK bytes in a row (b between two live
 * blocks), then the free rest; with park, b freed: the only chunk of its
 * list (link 0, depth 1). */
typedef struct {
    uint8_t *a, *b, *c;
    uint32_t len; /* their chunk length */
} scene_t;

static scene_t S;

static void scene(bool park)
{
    fresh_heap();
    S.a = take(BLOCK, 0x11);
    S.b = take(BLOCK, 0x22);
    S.c = take(BLOCK, 0x33);
    S.len = chunk_len_of(S.b);
    assert_int_equal(S.len, len_for(BLOCK));
    assert_true(S.len <= QUICK_MAX);
    assert_int_equal(head_get(S.len), 0);
    if (park) {
        give_back(S.b);
        assert_int_equal(head_get(S.len), off_of(S.b));
        assert_parked(S.b, 0u, 1u);
    }
    expect_none();
}

static int setup(void **state)
{
    (void)state;
    memset(&R, 0, sizeof R);
    C = NULL;
    nlive = 0;
    stray_calls = 0;
    fault_recorder_clear(&g_faults);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    region_close(&R);
    return 0;
}

/* ---- 1. a parked block freed, resized or measured again ---------------- */

/* b parked, then freed again, realloc'd (to grow, to shrink, to 0) and
 * measured: each call reports DOUBLE_FREE at b and writes nothing; so does
 * the free of a pointer 8 bytes into b (as for a pointer into a free
 * chunk); the heap has not failed (a misuse), and b's list still hands b
 * out. Checks: chunk_at's (FLAG_FREE | FLAG_QUICK) test, hardened after the
 * header's checksum verified (without QUICK there, a parked chunk's
 * verified header would pass as a live block: its canary was wiped, so
 * OVERFLOW would be reported instead); off, the same bit test of the O(1)
 * tag check (without it, the free would park b a second time, in its own
 * list); and heap_classify, which calls a pointer into a parked chunk a
 * double free (without QUICK there: INVALID_POINTER). */
static void test_double_free_parked(void **state)
{
    (void)state;
    scene(true);
    uint8_t *snap = region_snapshot(&R);
    mem_free(C, S.b);
    expect_one(DBL, S.b);
    assert_int_equal(region_diff(&R, snap, false), SIZE_MAX);
    static const size_t sizes[] = {BLOCK + 100u, 8u, BLOCK, 0u};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        assert_null(mem_realloc(C, S.b, sizes[i]));
        expect_one(DBL, S.b);
        assert_int_equal(region_diff(&R, snap, false), SIZE_MAX);
    }
    assert_int_equal(mem_usable_size(C, S.b), 0);
    expect_one(DBL, S.b);
    assert_int_equal(region_diff(&R, snap, false), SIZE_MAX);
    mem_free(C, S.b + 8);
    expect_one(DBL, S.b + 8);
    assert_int_equal(region_diff(&R, snap, false), SIZE_MAX);
    free(snap);
    assert_int_equal(mem_last_fault(C), MEM_FAULT_NONE);
    assert_true(mem_check(C));
    expect_none();
    /* Still usable: the list hands b out once, then the free lists serve. */
    uint8_t *p = take(BLOCK, 0x44);
    assert_ptr_equal(p, S.b);
    assert_int_equal(head_get(S.len), 0);
    (void)take(BLOCK, 0x55);
    assert_true(mem_check(C));
    expect_none();
    verdict(true);
}

/* ---- 2. a quick head overwritten ---------------------------------------- */

/* b parked, then its list's head overwritten with head: the next request
 * of b's length returns NULL, reports CORRUPT_LINK at want, writes nothing
 * but the failed state, and the heap fails closed. */
static void head_refused(uint32_t head, const void *want)
{
    head_put(S.len, head);
    alloc_refused(BLOCK, LNK, want);
    fails_closed(LNK, S.a);
}

/* The head aimed past the heap's end, into the guard, where a parked chunk
 * of b's length is planted (hardened: signed under the heap's own secret):
 * only the position check stops it. Check: quick_ok's chunk_pos_ok (the
 * head in [first, end)); without it the request would be served from the
 * guard. The planted bytes stay as they were. */
static void test_head_past_end(void **state)
{
    (void)state;
    scene(true);
    uint32_t pos = (uint32_t)R.size + 64u;
    assert_true(pos > end_now());
    forge_parked(heap_key(), pos, S.len);
    raw_put32(at(pos + 8u), 0u);
    raw_put32(at(pos + 12u), 1u);
    uint8_t planted[16];
    raw_read(planted, at(pos), sizeof planted);
    head_refused(pos, C);
    assert_true(raw_equal(at(pos), planted, sizeof planted));
    raw_fill(at(pos), GUARD_BYTE, sizeof planted);
    verdict(false);
}

/* The head aimed into the context (below FIRST) and at the sentinel: no
 * chunk position. Check: chunk_pos_ok again (the lengths found there are
 * not b's, so quick_ok's length test would refuse them too). */
static void test_head_in_context(void **state)
{
    (void)state;
    scene(true);
    head_refused(8u, C);
    verdict(false);
}

static void test_head_at_sentinel(void **state)
{
    (void)state;
    scene(true);
    head_refused(end_now(), C);
    verdict(false);
}

/* The head misaligned by 4, at a parked header forged inside the live block
 * a (hardened: signed under the heap's own secret, for that misaligned
 * offset): only the alignment check stops it. Check: chunk_pos_ok's
 * alignment test; without it a misaligned block inside a would be handed
 * out. a's bytes stay as they were. */
static void test_head_misaligned(void **state)
{
    (void)state;
    scene(true);
    uint32_t pos = off_of(S.a) + 12u;
    assert_int_equal(pos % 8u, 4u);
    forge_parked(heap_key(), pos, S.len);
    raw_put32(at(pos + 8u), 0u);
    raw_put32(at(pos + 12u), 1u);
    uint8_t before[BLOCK];
    memcpy(before, S.a, BLOCK);
    head_refused(pos, C);
    assert_memory_equal(S.a, before, BLOCK);
    verdict(false);
}

/* The head 0xFFFFFFFF: nothing is read through it (an offset that wraps).
 * Check: chunk_pos_ok (the word its length would be read from wraps to the
 * identity words, which the length test would refuse too). */
static void test_head_all_ones(void **state)
{
    (void)state;
    scene(true);
    head_refused(UINT32_MAX, C);
    verdict(false);
}

/* The head aimed 2 GiB past the heap (aligned), then a block of its length
 * freed: the free does not read the depth of a top outside the heap: it
 * parks nothing (b goes to the free lists, no fault: the damage is not
 * b's), and the next request of that length reports the head
 * (CORRUPT_LINK at the context). Check: quick_park's bound on the top
 * before it reads the top's depth; without it the free reads 2 GiB past
 * the heap (a crash, or a depth read from whatever lies there). */
static void test_head_far_then_free(void **state)
{
    (void)state;
    scene(false);
    uint32_t far = 0x7FFFFFF8u;
    head_put(S.len, far);
    give_back(S.b);
    expect_none();
    assert_int_equal(lf_of(S.b) & (FLAG_FREE | FLAG_QUICK), FLAG_FREE);
    assert_int_equal(head_get(S.len), far);
    assert_null(mem_alloc(C, BLOCK));
    expect_one(LNK, C);
    fails_closed(LNK, S.a);
    verdict(false);
}

/* FIRST, which the quick heads are found from (just below it), overwritten
 * with an offset past END. Hardened, the context checksum reports it
 * (CORRUPT_CONTEXT). Off does not check its context on entry: a FIRST past
 * END is not believed for the quick heads (no quick lists then), so no
 * head is read 2 GiB past the heap; alloc, free, realloc, stat and check
 * run without a crash and write nothing outside the arena. Check (off):
 * quick_in's FIRST <= END (the far case pins it; just past the arena, the
 * heads would still lie inside it). */
static void first_past_end(uint32_t first)
{
    scene(true);
    raw_put32(ctx_word(C, W_FIRST), first);
    if (HARDENED) {
        assert_null(mem_alloc(C, BLOCK));
        expect_one(CTX, C);
        fails_closed(CTX, S.a);
        verdict(false);
        return;
    }
    (void)mem_alloc(C, BLOCK);
    (void)mem_alloc(C, 300);
    mem_free(C, S.a);
    (void)mem_realloc(C, S.c, 100);
    mem_stat_t st;
    mem_stat(C, &st);
    (void)mem_check(C);
    fault_recorder_clear(&g_faults);
    nlive = 0;
    verdict(false);
}

ATTACK_TEST(test_first_past_end_near, first_past_end(ARENA_SIZE))
ATTACK_TEST(test_first_past_end_far, first_past_end(0x7FFFFF00u))

/* A bit of the class bitmap set for a class the heap does not have, the one
 * whose head word (HEADS_AT + 4 x class) is the quick head of b's parked
 * list, in a heap whose free lists are empty (the rest taken whole, then b
 * parked: no block has to reach past the mark, so nothing is flushed), then
 * a request of another length: its good-fit search reaches that bit, and
 * find_free, which tests only that the head word lies below FIRST, reads
 * b's offset from the quick head. b is no free chunk; the request is
 * refused, CORRUPT_CONTEXT at the context (the bitmap is the context's),
 * nothing written but the failed state, and the heap fails closed, at both
 * levels. Check: listed_ok's bitmap_beyond on its fault path; without it
 * the damage is blamed on a link: CORRUPT_LINK at b. */
static void test_bitmap_bit_of_quick_head(void **state)
{
    (void)state;
    scene(false);
    uint32_t rest = end_now() - (off_of(S.c) + S.len);
    assert_int_equal(len_for(rest - MEM_CHUNK_OVERHEAD), rest);
    uint8_t *d = take(rest - MEM_CHUNK_OVERHEAD, 0x44);
    assert_int_equal(off_of(d) + chunk_len_of(d), end_now());
    give_back(S.b);
    assert_int_equal(head_get(S.len), off_of(S.b));
    expect_none();
    uint32_t cls = (quick_head(first_now(), S.len) - HEADS_AT) / 4u;
    assert_true(cls >= classes_at(first_now()));
    size_t n = 2u * BLOCK;
    assert_true(len_for(n) != S.len && class_of(len_for(n)) + 1u <= cls);
    uint8_t *w = ctx_word(C, 0) + BITMAP_AT + 8u * (cls / 64u);
    uint64_t bits;
    raw_read(&bits, w, sizeof bits);
    bits |= (uint64_t)1u << (cls % 64u);
    raw_write(w, &bits, sizeof bits);
    alloc_refused(n, CTX, C);
    fails_closed(CTX, S.a);
    verdict(false);
}

/* ---- 3. a quick head aimed at a live block ------------------------------ */

/* Tcache poisoning: the empty list of b's length given b, a live block of
 * that very length. It is no parked chunk: the request is refused
 * (CORRUPT_LINK at b), b's header and bytes stay as they were, and the heap
 * fails closed. Check: quick_ok's exact (length | FLAG_QUICK) test, the one
 * check off has (hardened, b's check word, signed without QUICK, would
 * also fail quick_ok's checksum). */
static void test_head_at_live_block(void **state)
{
    (void)state;
    scene(false);
    uint8_t before[BLOCK + 8u];
    raw_read(before, S.b - 8, sizeof before);
    head_put(S.len, off_of(S.b));
    alloc_refused(BLOCK, LNK, S.b);
    assert_true(raw_equal(S.b - 8, before, sizeof before));
    fails_closed(LNK, S.a);
    verdict(false);
}

/* The same with QUICK set in the live block's length word by the attacker
 * (a request with no slack, so that its check word, slack 0, is the one a
 * parked header would have but for QUICK): hardened, refused. Check:
 * quick_ok's checksum, which covers QUICK (header_check's bit 31); without
 * either the live block would be handed out a second time. Off has no checksum: a
 * header with QUICK set is believed there (only the guards are asserted). */
static void test_head_at_live_block_quick_set(void **state)
{
    (void)state;
    fresh_heap();
    uint32_t len = len_for(BLOCK);
    size_t n = len - MEM_CHUNK_OVERHEAD; /* no slack */
    (void)take(n, 0x11);
    uint8_t *b = take(n, 0x22);
    (void)take(n, 0x33);
    assert_int_equal(chunk_len_of(b), len);
    assert_true(!HARDENED || (raw_get32(b - 8) & SLACK_MASK) == 0u);
    raw_put32(b - 4, lf_of(b) | FLAG_QUICK);
    raw_put32(b, 0u);
    raw_put32(b + 4, 1u);
    head_put(len, off_of(b));
    uint8_t before[BLOCK];
    memcpy(before, b, BLOCK);
    uint8_t *got = mem_alloc(C, BLOCK);
    if (!HARDENED) {
        assert_ptr_equal(got, b); /* off believes the header: the documented limit */
        fault_recorder_clear(&g_faults);
        verdict(false);
        return;
    }
    assert_null(got);
    expect_one(LNK, b);
    assert_memory_equal(b, before, BLOCK);
    fails_closed(LNK, b);
    verdict(false);
}

/* ---- 4. a parked chunk's link aimed at a live block --------------------- */

/* b parked, its link (payload bytes 0..3) aimed at the live block a: the
 * first request of b's length gets b back (its link becomes the head,
 * unfollowed), the second is refused (CORRUPT_LINK at a), never handed a;
 * a stays as it was. Check: quick_ok on the new head before it is taken
 * (the length | QUICK test; hardened also the checksum): the link is never
 * trusted because it was reached through a verified chunk. */
static void test_link_at_live_block(void **state)
{
    (void)state;
    scene(true);
    raw_put32(S.b, off_of(S.a));
    uint8_t before[BLOCK + 8u];
    raw_read(before, S.a - 8, sizeof before);
    uint8_t *p = mem_alloc(C, BLOCK);
    assert_ptr_equal(p, S.b);
    expect_none();
    live_add(p, BLOCK);
    assert_int_equal(head_get(S.len), off_of(S.a));
    alloc_refused(BLOCK, LNK, S.a);
    assert_true(raw_equal(S.a - 8, before, sizeof before));
    fails_closed(LNK, S.c);
    verdict(false);
}

/* ---- 5. a parked chunk forged in a live block (hardened) ---------------- */

enum { RIGHT_KEY, WRONG_KEY };

/* A parked header of BLOCK's length forged 56 bytes into a live 400-byte
 * block (link 0, depth 1), its check word computed under the heap's own
 * secret (the control: the forgery is taken, over the live block, the
 * documented limit of an attacker who knows the secret) or under another
 * one (refused: CORRUPT_LINK at the fake, the live block untouched, the
 * heap failed). Check: quick_ok's checksum of the parked header. Off has
 * no checksum: skipped there (a forged header is believed by design). */
static void forged_in_live_block(int which)
{
    if (!HARDENED) {
        skip();
    }
    fresh_heap();
    uint8_t *blk = take(400, 0x44);
    (void)take(BLOCK, 0x55);
    uint32_t len = len_for(BLOCK);
    uint32_t pos = off_of(blk) + 64u;
    uint64_t key = which == RIGHT_KEY ? heap_key() : key_under(OTHER_SECRET);
    forge_parked(key, pos, len);
    raw_put32(at(pos + 8u), 0u);
    raw_put32(at(pos + 12u), 1u);
    head_put(len, pos);
    uint8_t before[400];
    memcpy(before, blk, sizeof before);
    uint8_t *got = mem_alloc(C, BLOCK);
    if (which == RIGHT_KEY) {
        expect_none();
        assert_ptr_equal(got, at(pos + 8u));
        assert_non_null(overlapped(got, BLOCK));
        verdict(false);
        return;
    }
    assert_null(got);
    expect_one(LNK, at(pos + 8u));
    assert_memory_equal(blk, before, sizeof before);
    fails_closed(LNK, blk);
    verdict(false);
}

ATTACK_TEST(test_forged_parked_right_key, forged_in_live_block(RIGHT_KEY))
ATTACK_TEST(test_forged_parked_wrong_key, forged_in_live_block(WRONG_KEY))

/* ---- 6. a parked chunk that would run past the heap's end --------------- */

/* A parked header of BLOCK's length forged 16 bytes before the sentinel,
 * inside the free rest (hardened: signed under the heap's own secret, so
 * that at every level only the bound stops it), and the head aimed at it:
 * the block would run past the sentinel into the guard. Refused
 * (CORRUPT_LINK at the fake), nothing written, the heap failed. Check:
 * quick_ok's `len > end - off` (the block must end inside the heap). */
static void test_parked_past_end(void **state)
{
    (void)state;
    scene(false);
    uint32_t len = S.len;
    uint32_t pos = end_now() - 16u;
    assert_true(pos > off_of(S.c) + len); /* inside the free rest */
    assert_true(len > end_now() - pos);
    forge_parked(heap_key(), pos, len);
    head_put(len, pos);
    alloc_refused(BLOCK, LNK, at(pos + 8u));
    fails_closed(LNK, S.a);
    verdict(false);
}

/* ---- 7. a cycle, a depth word set huge, a list past its bound ---------- */

/* The calls that flush the quick lists first. */
typedef enum { BY_STAT, BY_PARSE } flusher_t;

/* What the child running one of them tells the parent. */
typedef struct {
    unsigned calls;
    mem_fault_t fault;
    const void *addr;
    bool zero;         /* mem_stat: zeroed statistics */
    unsigned visited;  /* mem_parse: chunks called back */
    bool watch_same;   /* the watched bytes are as they were */
    mem_stat_t st;
} stat_run_t;

typedef struct {
    flusher_t by;
    const uint8_t *watch; /* bytes (a live block) the call must leave alone, or NULL */
    size_t watch_n;
} stat_job_t;

static const int child_signals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGALRM};

/* In a child: mem_stat or mem_parse, under an alarm (a flush that loops
 * dies of it). */
static void stat_child(void *arg, int fd)
{
    const stat_job_t *job = arg;
    /* A crash ends the child: cmocka's handlers would go back into its
     * runner and run the next tests there. */
    for (size_t i = 0; i < sizeof child_signals / sizeof child_signals[0]; i++) {
        (void)signal(child_signals[i], SIG_DFL);
    }
    uint8_t before[256];
    size_t n = job->watch == NULL ? 0u : job->watch_n;
    if (n > sizeof before) {
        _exit(5);
    }
    raw_read(before, job->watch, n);
    (void)alarm(STAT_TIMEOUT_S);
    fault_recorder_clear(&g_faults);
    stat_run_t r;
    memset(&r, 0, sizeof r);
    if (job->by == BY_STAT) {
        mem_stat(C, &r.st);
    } else {
        mem_parse(C, count_chunk, &r.visited);
    }
    r.calls = g_faults.calls;
    r.fault = g_faults.fault[0];
    r.addr = g_faults.addr[0];
    r.zero = stat_zero(&r.st);
    r.watch_same = raw_equal(job->watch, before, n);
    const uint8_t *p = (const uint8_t *)&r;
    for (size_t left = sizeof r; left > 0u;) {
        ssize_t k = write(fd, p, left);
        if (k <= 0) {
            _exit(4);
        }
        p += k;
        left -= (size_t)k;
    }
}

/* mem_stat or mem_parse of C run in a child (its own copy of the heap),
 * which must end by itself. */
static stat_run_t stat_in_child(flusher_t by, const void *watch, size_t watch_n)
{
    stat_job_t job = {by, watch, watch_n};
    child_t child = child_start(stat_child, &job);
    stat_run_t r;
    uint8_t *p = (uint8_t *)&r;
    size_t got = 0u;
    while (got < sizeof r) {
        ssize_t k = read(child.fd, p + got, sizeof r - got);
        if (k <= 0) {
            break;
        }
        got += (size_t)k;
    }
    int status = child_finish(child);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_error("mem_stat's child %s %d\n", WIFSIGNALED(status) ? "died of signal" : "exited with",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(got, sizeof r);
    return r;
}

/* mem_stat and mem_parse (each in a child, from the same heap) reported
 * code at addr once, mem_stat zeroed the statistics, mem_parse called
 * nothing back, and neither wrote the n bytes at watch; then (in this
 * process, whose heap the children left alone) mem_check reports
 * check_code at check_addr. */
static void stat_and_check_watch(mem_fault_t code, const void *addr, mem_fault_t check_code,
                                 const void *check_addr, const void *watch, size_t n)
{
    for (int by = BY_STAT; by <= BY_PARSE; by++) {
        stat_run_t r = stat_in_child((flusher_t)by, watch, n);
        const char *name = by == BY_STAT ? "mem_stat" : "mem_parse";
        if (r.calls != 1u || r.fault != code || r.addr != addr) {
            print_error("%s: %u fault(s), first %s at %p; expected one %s at %p\n", name, r.calls,
                        code_name(r.fault), r.addr, code_name(code), addr);
        }
        assert_int_equal(r.calls, 1);
        assert_int_equal(r.fault, code);
        assert_ptr_equal(r.addr, addr);
        assert_true(r.zero);
        assert_int_equal(r.visited, 0);
        assert_true(r.watch_same);
    }
    expect_none();
    assert_false(mem_check(C));
    expect_one(check_code, check_addr);
    assert_int_equal(mem_last_fault(C), check_code);
    verdict(false);
}

static void stat_and_check(mem_fault_t code, const void *addr, mem_fault_t check_code, const void *check_addr)
{
    stat_and_check_watch(code, addr, check_code, check_addr, NULL, 0u);
}

/* b's link aimed at b itself. mem_stat's flush takes b back (merged into
 * the free lists), comes back to it through the link, finds no parked
 * chunk there and reports CORRUPT_LINK at b, in bounded time (the child's
 * alarm); mem_parse the same, calling nothing back; mem_check reports the
 * list (CORRUPT_LINK at b). Checks: quick_flush's quick_ok on every node
 * (a chunk it returned is no longer parked: a cycle cannot be walked
 * twice); quick_lists_ok's count of the nodes against the parked chunks
 * and its depth countdown (b says 1: nothing may follow it), each enough
 * alone to see a cycle. */
static void test_cycle_self(void **state)
{
    (void)state;
    scene(true);
    raw_put32(S.b, off_of(S.b));
    stat_and_check(LNK, S.b, LNK, S.b);
}

/* A two-chunk cycle: b and then a parked (a -> b), b's link aimed back at
 * a, the depths left as they were (2, 1). The flush takes a, then b
 * (merged into a), then meets a again: no parked chunk there any more
 * (CORRUPT_LINK at a). mem_check: a third node in a list of two parked
 * chunks, after the node of depth 1 (CORRUPT_LINK at b, the node whose
 * link leads on). Checks: as for the self cycle. */
static void test_cycle_two(void **state)
{
    (void)state;
    scene(true);
    give_back(S.a);
    assert_int_equal(head_get(S.len), off_of(S.a));
    assert_parked(S.a, off_of(S.b), 2u);
    raw_put32(S.b, off_of(S.a));
    stat_and_check(LNK, S.a, LNK, S.b);
}

/* b's depth word set to 0xFFFFFFFF. mem_check reports it (CORRUPT_LINK at
 * b: deeper than a list can be). Checks: quick_lists_ok's bound on the
 * top's depth, and its countdown (the list ends at depth 0xFFFFFFFE), each
 * enough alone (test_list_past_bound_counted pins the bound). The flush
 * follows links, not depths: mem_stat returns b to the free lists without
 * a fault (asserted as it is: the depth word becomes a free chunk's link,
 * the heap is consistent again), and a list whose top claims to be full
 * parks nothing more (quick_park's quick_full): a huge depth only turns
 * parking off for that length. */
static void test_depth_huge(void **state)
{
    (void)state;
    scene(true);
    raw_put32(S.b + 4, UINT32_MAX);
    stat_run_t r = stat_in_child(BY_STAT, NULL, 0u);
    assert_int_equal(r.calls, 0);
    assert_false(r.zero);
    assert_int_equal(r.st.nb_allocated, 2);
    /* Parking is off for that list: a goes to the free lists. */
    give_back(S.a);
    assert_int_equal(head_get(S.len), off_of(S.b));
    assert_int_equal(lf_of(S.a) & (FLAG_FREE | FLAG_QUICK), FLAG_FREE);
    expect_none();
    assert_false(mem_check(C));
    expect_one(LNK, S.b);
    verdict(false);
}

/* The depth word of each new top reset to 0 by the attacker before the
 * next free, so that the list of BLOCK's length grows past what it may
 * hold (quick_depth_max chunks, max): then, counted, every node's depth
 * written as if the list were that long (max + 1 at the top, down to 1), or
 * left as the frees wrote them (1 at the top, 0 below). The flush of
 * mem_stat and mem_parse stops at the bound and reports the node past it
 * (CORRUPT_LINK at blk[0]). Check: quick_flush's walk bound (n >=
 * quick_depth_max); without it the flush would return them all. mem_check:
 * counted, the top is deeper than a list can be (CORRUPT_LINK at the top;
 * check: quick_lists_ok's bound on the top's depth, the one thing wrong
 * with that list); reset, the depths do not count down (CORRUPT_LINK at
 * the second node, the one whose successor says 0 again; check: the
 * countdown). */
static void list_past_bound(bool counted)
{
    fresh_heap();
    uint32_t len = len_for(BLOCK);
    uint32_t max = quick_depth_max(len);
    uint8_t *blk[64];
    assert_true(2u * max + 2u <= sizeof blk / sizeof blk[0]);
    /* Every other block is freed: the live ones between keep them apart. */
    for (uint32_t i = 0; i < 2u * max + 2u; i++) {
        blk[i] = take(BLOCK, (uint8_t)i);
    }
    for (uint32_t i = 0; i <= max; i++) {
        give_back(blk[2u * i]);
        assert_int_equal(head_get(len), off_of(blk[2u * i]));
        assert_int_equal(raw_get32(blk[2u * i] + 4), 1u);
        raw_put32(blk[2u * i] + 4, 0u);
    }
    for (uint32_t i = 0; i <= max; i++) {
        raw_put32(blk[2u * i] + 4, counted ? i + 1u : i == max ? 1u : 0u);
    }
    expect_none();
    stat_and_check(LNK, blk[0], LNK, counted ? blk[2u * max] : blk[2u * (max - 1u)]);
}

ATTACK_TEST(test_list_past_bound_counted, list_past_bound(true))
ATTACK_TEST(test_list_past_bound_reset, list_past_bound(false))

/* b's link aimed at the live block a, then mem_stat / mem_parse: the flush
 * returns b, meets a, which is no parked chunk, and reports it
 * (CORRUPT_LINK at a) without freeing it (a's header and bytes unchanged).
 * Check: quick_flush's quick_ok on every node; without it the flush would
 * merge the live block a into the free lists. mem_check: a second node in a
 * list of one parked chunk, and no parked chunk (CORRUPT_LINK at b). */
static void test_link_at_live_block_flush(void **state)
{
    (void)state;
    scene(true);
    raw_put32(S.b, off_of(S.a));
    stat_and_check_watch(LNK, S.a, LNK, S.b, S.a - 8, BLOCK + 8u);
}

/* b's list's head set to 0: b stays parked, in no list (never taken back,
 * never flushed). mem_check reports the context (CORRUPT_CONTEXT: fewer
 * nodes in the lists than parked chunks). Check: quick_lists_ok's final
 * count (seen == nb_quick). */
static void test_parked_orphan(void **state)
{
    (void)state;
    scene(true);
    head_put(S.len, 0u);
    assert_false(mem_check(C));
    expect_one(CTX, C);
    verdict(false);
}

/* ---- 8. the wipe of a parked block (hardened) --------------------------- */

static const uint8_t secret_pattern[8] = {'s', '3', 'c', 'r', '3', 't', '!', '?'};

static void fill_secret(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = secret_pattern[i % sizeof secret_pattern];
    }
}

/* True when the n bytes at p hold the word w at any byte offset. */
static bool holds_word(const uint8_t *p, size_t n, uint32_t w)
{
    for (size_t i = 0; i + 4u <= n; i++) {
        uint32_t v;
        memcpy(&v, p + i, sizeof v);
        if (v == w) {
            return true;
        }
    }
    return false;
}

static bool holds_secret(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 4u <= n; i++) {
        for (size_t k = 0; k < sizeof secret_pattern; k++) {
            if (p[i] == secret_pattern[k] && p[i + 1u] == secret_pattern[(k + 1u) % 8u] &&
                p[i + 2u] == secret_pattern[(k + 2u) % 8u] && p[i + 3u] == secret_pattern[(k + 3u) % 8u]) {
                return true;
            }
        }
    }
    return false;
}

/* a and b hold the app's secret; both are parked (b last). Each one's
 * request and canary are zero but for its first 8 bytes (link, depth), and
 * its check word was re-signed. After mem_stat's flush (b returned first,
 * alone, then a merged with it) the merged chunk holds no 4 bytes of the
 * secret and none of the check words or canaries the two blocks had, live
 * or parked: past its own links and up to its tail word, it is zero.
 * Checks: release_payload's wipe when parking (without it the secret stays
 * in the parked chunk), and merge_free's wipe of the free successor's
 * header and links (b's, merged into a: without it b's free check word,
 * length and links would stay inside the merged chunk). Off wipes nothing:
 * skipped. */
static void test_wipe_parked(void **state)
{
    (void)state;
    if (!HARDENED) {
        skip();
    }
    scene(false);
    uint8_t *blk[2] = {S.a, S.b};
    uint32_t words[6];
    for (size_t i = 0; i < 2; i++) {
        fill_secret(blk[i], BLOCK);
        words[3u * i] = raw_get32(blk[i] - 8);                     /* live check word */
        words[3u * i + 1u] = raw_get32(blk[i] + BLOCK);            /* its canary */
        assert_int_equal(words[3u * i + 1u], canary_of(words[3u * i]));
    }
    give_back(S.a);
    give_back(S.b);
    for (size_t i = 0; i < 2; i++) {
        assert_parked(blk[i], i == 0u ? 0u : off_of(S.a), (uint32_t)i + 1u);
        words[3u * i + 2u] = raw_get32(blk[i] - 8); /* parked check word */
        assert_int_not_equal(words[3u * i + 2u], words[3u * i]);
        uint8_t after[BLOCK + 4u];
        raw_read(after, blk[i], sizeof after);
        assert_true(raw_all(after + 8, sizeof after - 8u, 0u));
        assert_false(holds_secret(after, sizeof after));
    }
    mem_stat_t st;
    mem_stat(C, &st);
    expect_none();
    assert_int_equal(st.nb_allocated, 1);
    assert_int_equal(head_get(S.len), 0);
    assert_int_equal(lf_of(S.a) & ~FLAG_MASK, 2u * S.len);
    assert_int_equal(lf_of(S.a) & (FLAG_FREE | FLAG_QUICK), FLAG_FREE);
    /* The merged chunk, its own header and tail word aside. */
    uint8_t merged[2u * 56u];
    assert_int_equal(sizeof merged, 2u * S.len);
    raw_read(merged, S.a - 8, sizeof merged);
    assert_false(holds_secret(merged, sizeof merged));
    for (size_t i = 0; i < 6; i++) {
        if (holds_word(merged + 8, sizeof merged - 8u, words[i])) {
            print_error("the merged chunk still holds word %zu of the blocks: 0x%08x\n", i, (unsigned)words[i]);
        }
        assert_false(holds_word(merged + 8, sizeof merged - 8u, words[i]));
    }
    assert_true(raw_all(merged + 16, sizeof merged - 20u, 0u)); /* past its links, up to its tail word */
    assert_true(mem_check(C));
    expect_none();
    verdict(true);
}

/* ---- 9. an overflowed block freed --------------------------------------- */

/* b overflowed by one byte past its request (hardened: the canary's first
 * byte; off: past the usable size, the low byte of c's length word), then
 * freed: reported (hardened OVERFLOW, off CORRUPT_HEADER, both at b) before
 * anything is parked: b's list stays empty, b's header and bytes as they
 * were, the heap failed. Check: hardened, chunk_at's canary check, which
 * runs before free_verified parks (without it the overflow would be parked
 * away, its canary wiped unseen); off, chunk_at's O(1) tag check (c now
 * says its predecessor is free). */
static void test_overflow_then_park(void **state)
{
    (void)state;
    scene(false);
    size_t usable = mem_usable_size(C, S.b);
    assert_int_equal(usable, HARDENED ? BLOCK : S.len - MEM_CHUNK_OVERHEAD);
    raw_flip(S.b + usable, 1);
    uint8_t *snap = region_snapshot(&R);
    mem_free(C, S.b);
    expect_one(HARDENED ? OVF : HDR, S.b);
    assert_int_equal(region_diff(&R, snap, true), SIZE_MAX);
    free(snap);
    assert_int_equal(head_get(S.len), 0);
    assert_int_equal(lf_of(S.b) & (FLAG_FREE | FLAG_QUICK), 0u);
    fails_closed(HARDENED ? OVF : HDR, S.a);
    verdict(false);
}

/* ---- 10. the hint words ------------------------------------------------- */

/* A heap with b parked (the hint's PARKED bit set), then one bit of the
 * hint (word 10) or its mirror (word 9) flipped. */
static void hint_flipped(unsigned word, unsigned bit)
{
    scene(true);
    assert_int_equal(raw_get32(ctx_word(C, W_HINT)) & HINT_PARKED, HINT_PARKED);
    assert_int_equal(raw_get32(ctx_word(C, W_HINT_MIRROR)), ~raw_get32(ctx_word(C, W_HINT)));
    raw_put32(ctx_word(C, word), raw_get32(ctx_word(C, word)) ^ (1u << bit));
}

/* Hardened: the next call reports CORRUPT_CONTEXT (at the context) and the
 * heap fails closed, for every bit of either word. Check: ctx_intact's
 * hint == ~mirror. Off does not check its context on entry: a flipped hint
 * only moves when the parked chunks are flushed, so there the test runs a
 * workload (allocate every size until refused, free all, again) and
 * asserts no crash, no block over a live one, nothing written outside the
 * arena; and there mem_check reports the pair (CORRUPT_CONTEXT: check,
 * quick_lists_ok's hint == ~mirror; hardened, the entry check does). */
static void test_hint_bit_flips(void **state)
{
    (void)state;
    static const unsigned words[] = {W_HINT, W_HINT_MIRROR};
    for (size_t w = 0; w < 2; w++) {
        for (unsigned bit = 0; bit < 32u; bit++) {
            hint_flipped(words[w], bit);
            if (HARDENED) {
                assert_null(mem_alloc(C, BLOCK));
                expect_one(CTX, C);
                fails_closed(CTX, S.a);
            } else {
                for (unsigned round = 0; round < 2u; round++) {
                    drain();
                    expect_none();
                    while (nlive > 0u) {
                        give_back((uint8_t *)(uintptr_t)live[nlive - 1u].p);
                    }
                    expect_none();
                }
            }
            verdict(false);
            region_close(&R);
            hint_flipped(words[w], bit);
            assert_false(mem_check(C));
            expect_one(CTX, C);
            verdict(false);
            region_close(&R);
        }
    }
}

/* The hint and its mirror rewritten together (so that they agree), the
 * PARKED bit cleared while b is parked: the next growth would not flush b
 * (nor would a request that fails). mem_check reports it (CORRUPT_CONTEXT,
 * at every level). Check: quick_lists_ok's "a chunk parked, the hint says
 * none". */
static void test_hint_parked_cleared(void **state)
{
    (void)state;
    scene(true);
    uint32_t hint = raw_get32(ctx_word(C, W_HINT)) & ~HINT_PARKED;
    raw_put32(ctx_word(C, W_HINT), hint);
    raw_put32(ctx_word(C, W_HINT_MIRROR), ~hint);
    assert_false(mem_check(C));
    expect_one(CTX, C);
    verdict(false);
}

/* ---- 11. mem_check and parked chunks ------------------------------------ */

/* Requests whose chunks are parked, from the smallest to the longest the
 * narrow lists take; and one just past them, which goes to the free lists. */
static const size_t park_sizes[] = {1, 20, BLOCK, 100, 200, QUICK_MAX - MEM_CHUNK_OVERHEAD};
#define NB_PARK (sizeof park_sizes / sizeof park_sizes[0])

/* Two blocks of each size (and of one size too long), with a live fence
 * after each; the first of each freed. Returns the parked blocks in *out. */
static void park_many(uint8_t *out[NB_PARK], uint8_t **too_long)
{
    uint8_t *first[NB_PARK + 1u];
    for (size_t i = 0; i <= NB_PARK; i++) {
        size_t n = i < NB_PARK ? park_sizes[i] : QUICK_MAX - MEM_CHUNK_OVERHEAD + 1u;
        first[i] = take(n, (uint8_t)(0x60u + i));
        (void)take(8, 0x7F);
        (void)take(n, (uint8_t)(0x40u + i));
        (void)take(8, 0x7F);
    }
    for (size_t i = 0; i <= NB_PARK; i++) {
        give_back(first[i]);
    }
    for (size_t i = 0; i < NB_PARK; i++) {
        uint32_t len = chunk_len_of(first[i]);
        assert_true(len <= QUICK_MAX);
        assert_int_equal(head_get(len), off_of(first[i]));
        assert_parked(first[i], 0u, 1u);
        out[i] = first[i];
    }
    *too_long = first[NB_PARK];
    assert_true(chunk_len_of(*too_long) > QUICK_MAX);
    assert_int_equal(lf_of(*too_long) & (FLAG_FREE | FLAG_QUICK), FLAG_FREE);
}

static bool count_allocated(void *data, uint8_t *addr, bool allocated, size_t size)
{
    (void)addr;
    (void)size;
    *(unsigned *)data += (unsigned)allocated;
    return false;
}

/* The positive control: a heap with parked chunks in six lists (the
 * shortest and longest included) is consistent; mem_parse and mem_stat
 * (each flushes first) count them free; after the flush every head is 0,
 * the hint's PARKED bit clear, and the heap still consistent. */
static void test_check_parked_consistent(void **state)
{
    (void)state;
    fresh_heap();
    uint8_t *parked[NB_PARK];
    uint8_t *too_long;
    park_many(parked, &too_long);
    assert_true(mem_check(C));
    expect_none();
    unsigned allocated = 0;
    mem_parse(C, count_allocated, &allocated);
    expect_none();
    assert_int_equal(allocated, nlive);
    mem_stat_t st;
    mem_stat(C, &st);
    expect_none();
    assert_int_equal(st.nb_allocated, nlive);
    for (uint32_t len = MEM_MIN_CHUNK; len <= QUICK_MAX; len += 8u) {
        assert_int_equal(head_get(len), 0);
    }
    assert_int_equal(raw_get32(ctx_word(C, W_HINT)) & HINT_PARKED, 0u);
    for (size_t i = 0; i < NB_PARK; i++) {
        assert_int_equal(lf_of(parked[i]) & (FLAG_FREE | FLAG_QUICK), FLAG_FREE);
    }
    assert_true(mem_check(C));
    expect_none();
    verdict(true);
}

/* A parked chunk's FLAG_QUICK cleared by the attacker (it now looks like a
 * live block to the walk): mem_check reports it. Checks: hardened, QUICK is
 * covered by the header checksum (CORRUPT_HEADER at the chunk: chunks_ok's
 * header_ok); off, quick_lists_ok's (length | QUICK) test on every node
 * (CORRUPT_LINK, reported at the context: the node is a list's top). */
static void test_check_quick_cleared(void **state)
{
    (void)state;
    fresh_heap();
    uint8_t *parked[NB_PARK];
    uint8_t *too_long;
    park_many(parked, &too_long);
    uint8_t *p = parked[2];
    assert_int_equal(chunk_len_of(p), len_for(BLOCK));
    raw_put32(p - 4, lf_of(p) & ~FLAG_QUICK);
    assert_false(mem_check(C));
    if (HARDENED) {
        expect_one(HDR, p);
    } else {
        expect_one(LNK, C);
    }
    verdict(false);
}

/* The attacker moves QUICK from the parked chunk p to its live twin (the
 * block of the same length after p's fence), so that the walk still counts
 * one parked chunk per list node. mem_check reports it: hardened, p's
 * header (CORRUPT_HEADER at p: QUICK is checksummed); off, the node p is
 * no parked chunk (CORRUPT_LINK at the context). Check (off):
 * quick_lists_ok's (length | QUICK) test on every node, the one check that
 * sees it (the counts agree). */
static void test_check_quick_moved(void **state)
{
    (void)state;
    fresh_heap();
    uint8_t *parked[NB_PARK];
    uint8_t *too_long;
    park_many(parked, &too_long);
    uint8_t *p = parked[2];
    uint8_t *twin = p + chunk_len_of(p) + len_for(8);
    assert_int_equal(chunk_len_of(twin), chunk_len_of(p));
    assert_int_equal(lf_of(twin) & (FLAG_FREE | FLAG_QUICK), 0u);
    raw_put32(p - 4, lf_of(p) & ~FLAG_QUICK);
    raw_put32(twin - 4, lf_of(twin) | FLAG_QUICK);
    assert_false(mem_check(C));
    if (HARDENED) {
        expect_one(HDR, p);
    } else {
        expect_one(LNK, C);
    }
    verdict(false);
}

/* QUICK set where no parked chunk can be: on a live block too long for any
 * list, and on a free chunk (the one of too_long). mem_check reports the
 * header (CORRUPT_HEADER at it). Check (off): chunks_ok's test of a QUICK
 * header (not free, not longer than the lists take); hardened the checksum
 * also fails. */
static void quick_bad_flags(bool on_free)
{
    fresh_heap();
    uint8_t *parked[NB_PARK];
    uint8_t *too_long;
    park_many(parked, &too_long);
    uint8_t *p = too_long;
    if (!on_free) {
        p = too_long + chunk_len_of(too_long) + len_for(8);
        assert_int_equal(lf_of(p) & (FLAG_FREE | FLAG_QUICK), 0u);
    }
    assert_true(chunk_len_of(p) > QUICK_MAX);
    raw_put32(p - 4, lf_of(p) | FLAG_QUICK);
    assert_false(mem_check(C));
    expect_one(HDR, p);
    verdict(false);
}

ATTACK_TEST(test_check_quick_on_long_block, quick_bad_flags(false))
ATTACK_TEST(test_check_quick_on_free_chunk, quick_bad_flags(true))

/* ---- the wide lists (a heap over 1 MiB) --------------------------------- */

/* A heap just over 1 MiB has the 256 wide lists: the longest request they
 * park (2,052 bytes) is parked at its head (the lowest, 1 KiB below FIRST),
 * and one byte more goes to the free lists. A parked 2,000-byte block
 * freed again, resized or measured is a double free (nothing written), and
 * the wide head aimed at a live block of that length is refused
 * (CORRUPT_LINK at it, untouched). Checks: as in tests 1 and 3, on the
 * wide heads. */
static void test_wide_lists(void **state)
{
    (void)state;
    mem_testing_pin_secret(PIN_SECRET);
    heap_in(WIDE_SIZE);
    assert_true(first_now() >= QUICK_FIRST_WIDE);
    size_t longest = QUICK_MAX_WIDE - MEM_CHUNK_OVERHEAD;
    uint8_t *l1 = take(longest, 0x61);
    (void)take(8, 0x7F);
    uint8_t *l2 = take(longest + 1u, 0x62);
    (void)take(8, 0x7F);
    assert_int_equal(chunk_len_of(l1), QUICK_MAX_WIDE);
    give_back(l1);
    give_back(l2);
    assert_int_equal(head_get(QUICK_MAX_WIDE), off_of(l1));
    assert_parked(l1, 0u, 1u);
    assert_int_equal(lf_of(l2) & (FLAG_FREE | FLAG_QUICK), FLAG_FREE);

    uint8_t *a = take(WIDE_BLOCK, 0x11);
    uint8_t *b = take(WIDE_BLOCK, 0x22);
    uint8_t *c = take(WIDE_BLOCK, 0x33);
    uint32_t len = chunk_len_of(b);
    assert_true(len > QUICK_MAX && len <= QUICK_MAX_WIDE);
    give_back(b);
    assert_int_equal(head_get(len), off_of(b));
    assert_parked(b, 0u, 1u);
    uint8_t *snap = region_snapshot(&R);
    mem_free(C, b);
    expect_one(DBL, b);
    assert_null(mem_realloc(C, b, 3000));
    expect_one(DBL, b);
    assert_int_equal(mem_usable_size(C, b), 0);
    expect_one(DBL, b);
    assert_int_equal(region_diff(&R, snap, false), SIZE_MAX);
    free(snap);
    assert_true(mem_check(C));
    expect_none();

    uint8_t before[WIDE_BLOCK];
    memcpy(before, a, sizeof before);
    head_put(len, off_of(a));
    assert_null(mem_alloc(C, WIDE_BLOCK));
    expect_one(LNK, a);
    assert_memory_equal(a, before, sizeof before);
    fails_closed(LNK, c);
    verdict(false);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_double_free_parked),
        T(test_head_past_end),
        T(test_head_in_context),
        T(test_head_at_sentinel),
        T(test_head_misaligned),
        T(test_head_all_ones),
        T(test_head_far_then_free),
        T(test_first_past_end_near),
        T(test_first_past_end_far),
        T(test_bitmap_bit_of_quick_head),
        T(test_head_at_live_block),
        T(test_head_at_live_block_quick_set),
        T(test_link_at_live_block),
        T(test_forged_parked_right_key),
        T(test_forged_parked_wrong_key),
        T(test_parked_past_end),
        T(test_cycle_self),
        T(test_cycle_two),
        T(test_depth_huge),
        T(test_list_past_bound_counted),
        T(test_list_past_bound_reset),
        T(test_link_at_live_block_flush),
        T(test_parked_orphan),
        T(test_wipe_parked),
        T(test_overflow_then_park),
        T(test_hint_bit_flips),
        T(test_hint_parked_cleared),
        T(test_check_parked_consistent),
        T(test_check_quick_cleared),
        T(test_check_quick_moved),
        T(test_check_quick_on_long_block),
        T(test_check_quick_on_free_chunk),
        T(test_wide_lists),
    };
    return cmocka_run_group_tests_name("quick_attacks_" LEVEL_NAME, tests, NULL, NULL);
}
