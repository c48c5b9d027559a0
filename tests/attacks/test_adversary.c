/*
 * The adversary of issue 13 (docs/HARDENING.md, "Threat model"): an app bug
 * lets an attacker read and write any byte of the arena, context included,
 * between two calls; with the pinned test secret it can also compute
 * checksums as if it knew the library's secret. Each test replays one
 * proof-of-concept class of the issue and asserts where it must end now:
 *  - the exact fault, reported to the handler registered with
 *    mem_set_fault_handler (registered(), user pointer &cookie), never to
 *    the default one (it aborts: the test binary would die) and never to
 *    the function whose address the attacker plants where the handler and
 *    its user pointer used to live or in a fake context (decoy_handler
 *    fails the test when called). Decoys are planted by the hijack tests
 *    only: those bytes are the class bitmap now, which the other attacks
 *    must leave alone to test what they test;
 *  - nothing outside the arena written (the guard zones of attack_util.h);
 *  - no block handed out overlaps a live block or leaves the arena: every
 *    block is tracked (live_add) and each test ends by allocating until the
 *    heap answers NULL (drain).
 * An attack that needs the secret first runs with the heap's own secret
 * (the control: the forgery works, so the check that refuses it is the one
 * under test), then with a checksum computed under another secret.
 *
 * Built once per hardening level (adversary_<level>). Off trusts its
 * metadata by design (no keys, canaries, wipe or context checksum), so at
 * off a forgery, a replay or a stale header is accepted, and a damaged
 * context word other than the identity and the state is followed; there a
 * test asserts only what off promises (docs/HARDENING.md): lengths bounded
 * by the heap's end, a damaged heap recognized, no handler read from the
 * arena, and nothing written outside it. Built a fourth time against the
 * app wrappers (adversary_wrappers, at the level of -Dhardening): the stale
 * free after a re-init through mem_utils_init.
 */

#define _POSIX_C_SOURCE 200809L

#include "attack_util.h"
#include "heap_registry.h"
#include "mem_testing.h"

#ifdef ADVERSARY_WRAPPERS
#include "app_mem_utils.h"
#endif

#define ARENA_SIZE 8192u
/* A request whose chunk has 4 bytes of slack when hardened (56-byte chunk). */
#define BLOCK 40u
/* The heap's secret, and the one a forger who does not know it guesses. */
#define PIN_SECRET UINT64_C(0x5EC2E7000000AD01)
#define OTHER_SECRET UINT64_C(0x0DDBA11C0FFEE002)
/* Where the handler and its user pointer sat in the context before
 * hardening v2; now inside the class bitmap. */
#define OLD_HANDLER_BYTE 56u
#define MAX_LIVE 1024u

#define ADV_UNUSED __attribute__((unused))

/* A test that is one call of a parametrised attack: its name, the call. */
#define ATTACK_TEST(name, call) \
    static void name(void **state) \
    { \
        (void)state; \
        call; \
    }

#define HDR MEM_FAULT_CORRUPT_HEADER
#define LNK MEM_FAULT_CORRUPT_LINK
#define DBL MEM_FAULT_DOUBLE_FREE
#define INV MEM_FAULT_INVALID_POINTER
#define CTX MEM_FAULT_CORRUPT_CONTEXT

#include "adversary_fixture.h"

static int decoy_cookie;  /* the user pointer the attacker plants */
static unsigned decoy_calls;

/* ---- the handlers ------------------------------------------------------- */

/* The attacker's function: the allocator must never reach it. */
static ADV_UNUSED void decoy_handler(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    decoy_calls++;
    print_error("the allocator called the attacker's function: %s at %p in %p, user %p\n", mem_fault_name(fault),
                addr, (void *)ctx, user);
    fail();
}

/* The 16 bytes an attacker writes where a handler and its user pointer
 * were: the decoy's address, then the decoy user pointer. */
static ADV_UNUSED void decoy_pair(uint8_t out[16])
{
    mem_fault_handler_t h = decoy_handler;
    void *u = &decoy_cookie;
    memset(out, 0, 16);
    memcpy(out, &h, sizeof h);
    memcpy(out + 8, &u, sizeof u);
}

/* ---- layout ------------------------------------------------------------- */

static ADV_UNUSED uint32_t len_word(const void *payload)
{
    return raw_get32((const uint8_t *)payload - 4);
}

static ADV_UNUSED uint32_t chunk_len(const void *payload)
{
    return len_word(payload) & ~FLAG_MASK;
}

/* Writes a header at off: len_flags, and hardened its check word under key
 * with the given slack (for an allocated chunk serving n bytes, slack =
 * len - MEM_CHUNK_OVERHEAD - n, and its canary goes at off + 8 + n). */
static ADV_UNUSED uint32_t forge_header(uint64_t key, uint32_t off, uint32_t len_flags, uint32_t slack)
{
    raw_put32(at(off + 4u), len_flags);
    uint32_t check = header_check(key, off, len_flags, slack);
    if (HARDENED) {
        raw_put32(at(off), check);
    }
    return check;
}

/* An allocated chunk at off of len bytes serving len - overhead bytes
 * (slack 0): header and, hardened, canary. */
static ADV_UNUSED void forge_allocated(uint64_t key, uint32_t off, uint32_t len_flags)
{
    uint32_t n = (len_flags & ~FLAG_MASK) - MEM_CHUNK_OVERHEAD;
    uint32_t check = forge_header(key, off, len_flags, 0u);
    if (HARDENED) {
        raw_put32(at(canary_at(off, n)), canary_of(check));
    }
}

/* ---- live blocks -------------------------------------------------------- */

/* Three live blocks of BLOCK bytes in a row: *a, *b, and a third that
 * keeps b from the free rest. */
static ADV_UNUSED void take_three(uint8_t **a, uint8_t **b)
{
    *a = take(BLOCK, 0x11);
    *b = take(BLOCK, 0x22);
    (void)take(BLOCK, 0x33);
}

static void *heap_alloc(size_t n)
{
    return mem_alloc(C, n);
}

/* Allocates until every size is refused: nothing handed out may leave the
 * arena or overlap a live block (a stale or forged chunk is never handed
 * out while a live block covers it). */
static void drain_with(void *(*alloc)(size_t))
{
    static const size_t sizes[] = {2000, 500, 100, BLOCK, 8};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (unsigned k = 0; k < MAX_LIVE; k++) {
            void *p = alloc(sizes[i]);
            if (p == NULL) {
                break;
            }
            live_add(p, sizes[i]);
        }
    }
}

/* ---- verdicts ----------------------------------------------------------- */

/* Exactly one fault since the last clear: code, on C, about addr (any when
 * NULL), through the registered handler. Clears the record. */
static void expect_one(mem_fault_t code, const void *addr)
{
    bool ok = g_faults.calls == 1u && g_faults.fault[0] == code && g_faults.ctx[0] == C &&
              g_faults.user[0] == &cookie && (addr == NULL || g_faults.addr[0] == addr);
    if (!ok) {
        print_error("expected one %s at %p (heap %p); got %u fault(s), first %s at %p in %p, user %p\n",
                    code_name(code), addr, (void *)C, g_faults.calls, code_name(g_faults.fault[0]),
                    g_faults.addr[0], (void *)g_faults.ctx[0], g_faults.user[0]);
    }
    assert_true(ok);
    fault_recorder_clear(&g_faults);
}

/* mem_stat(C) and mem_stat(&C) (the SDK's form): zeroed statistics from
 * each, each followed by exactly one fault code about addr (any when NULL),
 * or by none when code is MEM_FAULT_NONE. */
static ADV_UNUSED void stat_refused(mem_fault_t code, const void *addr)
{
    mem_ctx_t holder = C;
    mem_ctx_t forms[] = {C, &holder};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        mem_stat_t st;
        memset(&st, 0x5A, sizeof st);
        mem_stat(forms[i], &st);
        assert_true(stat_zero(&st));
        if (code == MEM_FAULT_NONE) {
            expect_none();
        } else {
            expect_one(code, addr);
        }
    }
}

/* The heap refuses: mem_last_fault, asked first, answers code without a
 * call; every call reports code once to the registered handler and answers
 * NULL / false / 0 / zeroed statistics (mem_free of the live block blk
 * included: never a silent return); the handler cannot be swapped for the
 * attacker's. */
static ADV_UNUSED void every_call_refuses(mem_fault_t code, void *blk)
{
    /* Asked before any other call, asserted last: a wrong answer here
     * should not hide what the calls do. */
    mem_fault_t before = mem_last_fault(C);
    expect_none();
    assert_null(mem_alloc(C, 16));
    expect_one(code, NULL);
    mem_free(C, blk);
    expect_one(code, NULL);
    assert_null(mem_realloc(C, blk, 200));
    expect_one(code, NULL);
    assert_int_equal(mem_usable_size(C, blk), 0);
    expect_one(code, NULL);
    assert_false(mem_check(C));
    expect_one(code, NULL);
    stat_refused(code, NULL);
    unsigned chunks = 0;
    mem_parse(C, count_chunk, &chunks);
    assert_int_equal(chunks, 0);
    expect_one(code, NULL);
    assert_false(mem_set_fault_handler(C, decoy_handler, &decoy_cookie));
    assert_false(mem_set_check_interval(C, 1));
    expect_none();
    assert_null(mem_alloc(C, 16));
    expect_one(code, NULL);
    assert_int_equal(mem_last_fault(C), code);
    if (before != code) {
        print_error("mem_last_fault answered %s before the first call, not %s\n", code_name(before),
                    code_name(code));
    }
    assert_int_equal(before, code);
}

/* Every test ends here: no call of the decoy or with a stray user pointer,
 * (drain) nothing handed out over a live block, the guards intact. */
static void verdict(bool drain)
{
    assert_int_equal(decoy_calls, 0);
    assert_int_equal(stray_calls, 0);
    if (drain) {
        drain_with(heap_alloc);
    }
    assert_int_equal(decoy_calls, 0);
    assert_int_equal(stray_calls, 0);
    assert_true(region_guards_intact(&R));
}

/* After a misuse was reported (a bad pointer, not damage): the heap has not
 * failed, mem_check passes without a fault, and nothing is handed out over
 * a live block. */
static ADV_UNUSED void misuse_left_heap_intact(void)
{
    assert_int_equal(mem_last_fault(C), MEM_FAULT_NONE);
    assert_true(mem_check(C));
    expect_none();
    verdict(true);
}

/* Off trusts its metadata (no keys, canaries, wipe or context checksum):
 * an attack that needs them is followed there, whatever it reported, and
 * only what off promises is asserted (verdict, no drain). True at off: the
 * test ends there. */
static ADV_UNUSED bool off_ends_here(void)
{
    if (HARDENED) {
        return false;
    }
    fault_recorder_clear(&g_faults);
    verdict(false);
    return true;
}

/* A call that finds nothing wrong may work, or report code once: what it
 * must not do is refuse without a word. */
static ADV_UNUSED void works_or_reports(mem_fault_t code)
{
    void *p = mem_alloc(C, BLOCK);
    if (p == NULL) {
        expect_one(code, C);
    } else {
        expect_none();
        live_add(p, BLOCK);
    }
}

/* ---- fixture ------------------------------------------------------------ */

static void fresh_heap(void)
{
    C = mem_init(R.arena, R.size);
    assert_ptr_equal(C, R.arena);
    /* mem_init gives the base the default handler again: register ours. */
    assert_true(mem_set_fault_handler(C, registered, &cookie));
    fault_recorder_clear(&g_faults);
    nlive = 0;
}

/* A heap made under the pinned test secret: the forger's key is known. */
static ADV_UNUSED void pinned_heap(void)
{
    mem_testing_pin_secret(PIN_SECRET);
    fresh_heap();
}

static int setup(void **state)
{
    (void)state;
    region_open(&R, ARENA_SIZE);
    C = NULL;
    nlive = 0;
    decoy_calls = 0;
    stray_calls = 0;
    fault_recorder_clear(&g_faults);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    region_close(&R);
    return decoy_calls == 0u ? 0 : -1;
}

#ifndef ADVERSARY_WRAPPERS

/* ---- 1. hijack through the context -------------------------------------- */

/* A function pointer and a user pointer at every 8-aligned offset of the
 * context words and of the bitmap up to where the old handler words were,
 * nothing re-signed (the attacker has no key). Every call checks every
 * context word (docs/HARDENING.md), so when they change one the next call
 * reports CORRUPT_CONTEXT; the bitmap is checked by mem_check, which
 * reports it (alloc may go on meanwhile). Either way only the registered
 * handler hears of it, and every call after that refuses. Off checks no
 * context word but the identity and the state, so there a call that reads
 * no other word (the free of a stack address) is asserted to reach the
 * registered handler, with whichever code fits. */
static void test_hijack_every_context_offset(void **state)
{
    (void)state;
    for (uint32_t o = 0; o <= OLD_HANDLER_BYTE + 8u; o += 8u) {
        fresh_heap();
        uint8_t *a = take(BLOCK, 0x11);
        (void)take(100, 0x22);
        uint8_t pair[16], was[16];
        decoy_pair(pair);
        raw_read(was, (uint8_t *)C + o, sizeof was);
        raw_write((uint8_t *)C + o, pair, sizeof pair);
        bool every = false;
        for (unsigned i = 0; i < 4u; i++) {
            unsigned w = o / 4u + i;
            every = every || (w < CTX_WORDS && memcmp(was + 4u * i, pair + 4u * i, 4) != 0);
        }
        print_message("decoy handler and user pointer at context byte %u (%s)\n", o,
                      every ? "context words" : "bitmap words");
        if (HARDENED) {
            if (every) {
                uint8_t *snap = region_snapshot(&R);
                assert_null(mem_alloc(C, BLOCK));
                expect_one(CTX, C);
                /* Finding it writes nothing but the failed state. */
                assert_int_equal(region_diff(&R, snap, true), SIZE_MAX);
                free(snap);
            } else {
                works_or_reports(CTX);
                assert_false(mem_check(C));
                expect_one(CTX, C);
            }
            every_call_refuses(CTX, a);
            verdict(true);
        } else {
            uint64_t local[2] = {0, 0};
            mem_free(C, &local[1]);
            assert_int_equal(g_faults.calls, 1);
            assert_true(g_faults.fault[0] == CTX || g_faults.fault[0] == INV);
            assert_ptr_equal(g_faults.user[0], &cookie);
            fault_recorder_clear(&g_faults);
            verdict(false); /* off would follow the damaged words */
        }
    }
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A blind 48-byte write over the context's start (the attacker knows no
 * value there): decoy pointers, random bytes, 'A's. The identity words are
 * hit, and a heap is recognized by the table of heaps at every level: the
 * registered handler hears CORRUPT_CONTEXT from every call. */
static void test_hijack_blind_48_bytes(void **state)
{
    (void)state;
    for (unsigned pattern = 0; pattern < 5u; pattern++) {
        fresh_heap();
        uint8_t *a = take(BLOCK, 0x11);
        uint8_t blast[48];
        if (pattern == 0u) {
            for (unsigned i = 0; i < sizeof blast; i += 16u) {
                decoy_pair(blast + i);
            }
        } else if (pattern == 4u) {
            memset(blast, 0x41, sizeof blast);
        } else {
            uint64_t s = UINT64_C(0x9E3779B97F4A7C15) * pattern;
            for (unsigned i = 0; i < sizeof blast; i += 8u) {
                uint64_t v = xorshift(&s);
                memcpy(blast + i, &v, 8);
            }
        }
        raw_write(C, blast, sizeof blast);
        print_message("blind 48-byte write, pattern %u\n", pattern);
        assert_null(mem_alloc(C, BLOCK));
        expect_one(CTX, C);
        every_call_refuses(CTX, a);
        verdict(true);
    }
}

/* ---- 2. mem_stat hijack -------------------------------------------------- */

/* A fake context inside a live block F. COPY: the real context copied, its
 * identity words made F's, the decoys where the handler words were
 * (following it would end in the default handler: F is in no table).
 * SIGNED: a complete one-chunk heap signed with the pinned secret, decoys
 * in its list heads; followed, it would answer its own statistics, with no
 * fault at all. Returns the fake's total_size. */
enum { FAKE_COPY, FAKE_SIGNED };
#define FAKE_CHUNK 64u

static size_t build_fake(uint8_t *f, size_t n, int kind)
{
    uint32_t first = raw_get32(ctx_word(C, W_FIRST));
    assert_true(n >= first + FAKE_CHUNK + GRANULE);
    uint8_t *img = calloc(1, n);
    assert_non_null(img);
    raw_read(img, C, first);
    uint32_t id = heap_id(f);
    uint32_t id2 = id ^ ID2_XOR;
    memcpy(img + 4u * W_ID, &id, 4);
    memcpy(img + 4u * W_ID2, &id2, 4);
    uint8_t pair[16];
    decoy_pair(pair);
    uint32_t total = 0;
    if (kind == FAKE_COPY) {
        memcpy(img + OLD_HANDLER_BYTE, pair, sizeof pair);
    } else {
        uint32_t end = first + FAKE_CHUNK;
        total = end + GRANULE;
        uint32_t state0 = 0;
        memcpy(img + 4u * W_END, &end, 4);
        memcpy(img + 4u * W_TOTAL, &total, 4);
        memcpy(img + 4u * W_STATE, &state0, 4);
        memcpy(img + HEADS_AT, pair, sizeof pair);
    }
    memcpy(f, img, n);
    free(img);
    if (kind == FAKE_SIGNED) {
        uint64_t key = heap_key_of(ld64(f, 4u * W_NONCE), (uintptr_t)f);
        uint32_t end = ld(f, 4u * W_END);
        uint32_t lf = FAKE_CHUNK | FLAG_FREE;
        st(f, first + 4u, lf);
        st(f, first, header_check(key, first, lf, 0u));
        st(f, tail_at(first, FAKE_CHUNK), FAKE_CHUNK);
        st(f, end + 4u, FLAG_PREV_FREE);
        if (HARDENED) {
            st(f, end, header_check(key, end, FLAG_PREV_FREE, 0u));
        }
        st(f, 4u * W_CTX_CHECK, ctx_check(f, key));
    }
    return total;
}

/* Makes HARDALLOC_HEAP_SLOTS heaps elsewhere, so that C (given the default
 * handler back, in case the table keeps heaps with handlers longer) leaves
 * the table of heaps. */
static uint8_t *evict_c(void)
{
    uint8_t *others = malloc((size_t)HARDALLOC_HEAP_SLOTS * MEM_MIN_HEAP_SIZE);
    assert_non_null(others);
    for (unsigned i = 0; i < HARDALLOC_HEAP_SLOTS; i++) {
        assert_non_null(mem_init(others + (size_t)i * MEM_MIN_HEAP_SIZE, MEM_MIN_HEAP_SIZE));
    }
    assert_false(heap_registry_has(C));
    return others;
}

static void release_others(uint8_t *others)
{
    for (unsigned i = 0; i < HARDALLOC_HEAP_SLOTS; i++) {
        uint8_t *h = others + (size_t)i * MEM_MIN_HEAP_SIZE;
        heap_forget(h);
        raw_buffer_reset(h, MEM_MIN_HEAP_SIZE, 0);
    }
    free(others);
}

/* The context's first 8 bytes aimed at a fake context in a live block:
 * mem_stat(ctx) and mem_stat(&ctx) never follow it. While C is in the
 * table, both report CORRUPT_CONTEXT on C; once C left the table (its
 * identity words are gone, nothing tells it is a heap), both answer zeroed
 * statistics and call nobody. In neither case the fake's statistics. */
static void stat_fake(int kind, bool evicted)
{
    pinned_heap();
    uint8_t *a = take(BLOCK, 0x11);
    uint32_t first = raw_get32(ctx_word(C, W_FIRST));
    size_t fn = first + FAKE_CHUNK + GRANULE;
    uint8_t *f = take(fn, 0);
    size_t fake_total = build_fake(f, fn, kind);
    mem_stat_t st;
    if (kind == FAKE_SIGNED) {
        /* The control: the fake is a heap a caller that followed it would
         * read without a fault. */
        mem_stat((mem_ctx_t *)(void *)f, &st);
        expect_none();
        assert_int_equal(st.total_size, fake_total);
        assert_int_equal(st.nb_chunks, 1);
        assert_int_equal(st.free_size, FAKE_CHUNK);
    }
    uint8_t *others = NULL;
    if (evicted) {
        assert_true(mem_set_fault_handler(C, NULL, NULL));
        others = evict_c();
    }
    uint64_t aim = (uint64_t)(uintptr_t)f;
    raw_write(C, &aim, sizeof aim);
    print_message("fake context %s, C %s the table\n", kind == FAKE_COPY ? "copied" : "signed",
                  evicted ? "evicted from" : "in");

    stat_refused(evicted ? MEM_FAULT_NONE : CTX, C);
    if (evicted) {
        assert_null(mem_alloc(C, BLOCK)); /* no heap we can tell: a silent refusal */
        expect_none();
        verdict(false);
        release_others(others);
    } else {
        every_call_refuses(CTX, a);
        verdict(true);
    }
}

ATTACK_TEST(test_stat_copied_fake_context, stat_fake(FAKE_COPY, false))
ATTACK_TEST(test_stat_signed_fake_context, stat_fake(FAKE_SIGNED, false))
ATTACK_TEST(test_stat_signed_fake_context_evicted, stat_fake(FAKE_SIGNED, true))

/* First word (or the first 8 bytes) := 0 or 'AAAA': the old mem_stat took
 * ctx for &ctx and read through it (SIGSEGV for 0). Now C is recognized
 * (second identity word, the table) and reported, at every level. */
static void test_stat_first_word_zero_or_41(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        size_t bytes;
    } pokes[] = {
        {0u, 4u},
        {0x41414141u, 4u},
        {0u, 8u},
        {UINT64_C(0x4141414141414141), 8u},
    };
    for (size_t i = 0; i < sizeof pokes / sizeof pokes[0]; i++) {
        fresh_heap();
        uint8_t *a = take(BLOCK, 0x11);
        raw_write(C, &pokes[i].v, pokes[i].bytes);
        print_message("first %zu bytes := %#llx\n", pokes[i].bytes, (unsigned long long)pokes[i].v);
        stat_refused(CTX, C);
        every_call_refuses(CTX, a);
        verdict(true);
    }
}

/* ---- 3. forgery ----------------------------------------------------------- */

enum { RIGHT_KEY, WRONG_KEY };

static uint64_t forger_key(int which)
{
    return which == RIGHT_KEY ? heap_key() : key_under(OTHER_SECRET);
}

/* Three live blocks a, b, c of BLOCK bytes under the pinned secret, then
 * a's header enlarged over its live neighbour b under forger_key(which)
 * (slack 0, canary at the new end). Returns a; *len: its forged length. */
static uint8_t *forge_a_over_b(int which, uint32_t *len)
{
    pinned_heap();
    uint8_t *a, *b;
    take_three(&a, &b);
    *len = chunk_len(a) + chunk_len(b);
    forge_allocated(forger_key(which), off_of(a), *len | (len_word(a) & FLAG_PREV_FREE));
    return a;
}

/* The control, with the heap's own secret: the forgery works, and the next
 * allocation of n bytes is handed out at want, over a live block (under
 * valgrind, memcheck prints "Bad mempool ... overlaps" for it: this very
 * overlap). */
static void forgery_works(size_t n, const uint8_t *want)
{
    uint8_t *p = mem_alloc(C, n);
    assert_ptr_equal(p, want);
    assert_non_null(overlapped(p, n));
    verdict(false);
}

/* a's header enlarged over its live neighbour b (slack 0, canary at the
 * new end), then a freed and its old size plus b's asked for. With the
 * heap's secret the forgery verifies: the allocator hands out a block over
 * b (the documented limit of an attacker who knows the secret). Under
 * another secret: CORRUPT_HEADER at a, and the heap fails closed. */
static void forged_enlarge_allocated(int which)
{
    uint32_t len;
    uint8_t *a = forge_a_over_b(which, &len);
    uint32_t n = len - MEM_CHUNK_OVERHEAD;
    mem_free(C, a);
    if (off_ends_here()) { /* off: lengths are trusted, nothing is keyed */
        return;
    }
    if (which == RIGHT_KEY) {
        expect_none();
        live_drop(a);
        forgery_works(n, a);
        return;
    }
    expect_one(HDR, a);
    assert_int_equal(mem_last_fault(C), HDR);
    assert_null(mem_alloc(C, n));
    expect_one(HDR, C);
    verdict(true);
}

ATTACK_TEST(test_forged_enlarge_allocated_right_key, forged_enlarge_allocated(RIGHT_KEY))
ATTACK_TEST(test_forged_enlarge_allocated_wrong_key, forged_enlarge_allocated(WRONG_KEY))

/* The same forgery, never freed: mem_alloc does not read a's header, so
 * it must hand out nothing over a live block; mem_check finds the header. */
static void test_forged_enlarge_wrong_key_alloc_then_check(void **state)
{
    (void)state;
    uint32_t len;
    uint8_t *a = forge_a_over_b(WRONG_KEY, &len);
    if (!HARDENED) {
        verdict(false);
        return;
    }
    drain_with(heap_alloc);
    expect_none();
    assert_false(mem_check(C));
    expect_one(HDR, a);
    verdict(true);
}

/* A free chunk x enlarged over its live neighbour y, then allocated: with
 * the secret, the rest of the forged chunk is y, which the next allocation
 * hands out over the live y. Under another secret: CORRUPT_HEADER at x. */
static void forged_enlarge_free(int which)
{
    pinned_heap();
    uint8_t *x, *y;
    take_three(&x, &y);
    give_back(x);
    uint32_t x_len = chunk_len(x);
    uint32_t len = x_len + chunk_len(y);
    forge_header(forger_key(which), off_of(x), len | FLAG_FREE, 0u);
    /* Its boundary tag: the last 4 bytes of y's chunk, y's slack. */
    raw_put32(at(tail_at(off_of(x), len)), len);
    if (PARANOID) {
        /* The forger knows the poison too: x's old tag and y's payload, now
         * the inside of the forged free chunk, hold it (y's content is
         * lost, the overlap is the point). */
        raw_put32(at(tail_at(off_of(x), x_len)), POISON_WORD);
        raw_fill(y, POISON_BYTE, chunk_len(y) - MEM_CHUNK_OVERHEAD);
    }
    uint8_t *p = mem_alloc(C, BLOCK);
    if (off_ends_here()) {
        return;
    }
    if (which == RIGHT_KEY) {
        expect_none();
        assert_ptr_equal(p, x);
        forgery_works(BLOCK, y);
        return;
    }
    assert_null(p);
    expect_one(HDR, x);
    verdict(true);
}

ATTACK_TEST(test_forged_enlarge_free_right_key, forged_enlarge_free(RIGHT_KEY))
ATTACK_TEST(test_forged_enlarge_free_wrong_key, forged_enlarge_free(WRONG_KEY))

/* Two fake headers inside a live block's payload: a 64-byte allocated
 * chunk f and an allocated chunk after it, so that freeing the interior
 * pointer f would find a consistent neighbour. With the secret, f is freed
 * and handed out again inside the live block. Under another secret: the
 * interior pointer is INVALID_POINTER for free, realloc and usable_size,
 * the heap stays intact and nothing is handed out inside the block. */
static void forged_interior_chunk(int which)
{
    pinned_heap();
    uint8_t *blk = take(400, 0x44);
    (void)take(BLOCK, 0x55);
    uint64_t key = forger_key(which);
    uint8_t *f = blk + 64;
    forge_allocated(key, off_of(f), FAKE_CHUNK);
    forge_allocated(key, off_of(f) + FAKE_CHUNK, FAKE_CHUNK);
    mem_free(C, f);
    if (off_ends_here()) {
        return;
    }
    if (which == RIGHT_KEY) {
        expect_none();
        forgery_works(BLOCK, f);
        return;
    }
    expect_one(INV, f);
    assert_null(mem_realloc(C, f, 100));
    expect_one(INV, f);
    assert_int_equal(mem_usable_size(C, f), 0);
    expect_one(INV, f);
    misuse_left_heap_intact();
}

ATTACK_TEST(test_forged_interior_chunk_right_key, forged_interior_chunk(RIGHT_KEY))
ATTACK_TEST(test_forged_interior_chunk_wrong_key, forged_interior_chunk(WRONG_KEY))

/* A list link aimed at a fake free chunk planted in a live block: a's
 * payload holds a length word that says FREE and a back link to the free
 * chunk b, and b's next link is aimed there; the fake's check word is a's
 * data (no key). A back link alone does not make a list neighbour: its
 * checksum must verify too, or taking b would write b's predecessor into
 * a's payload. Taking b reports CORRUPT_LINK at b, a is left as it was and
 * nothing is handed out over it. Off trusts the links by design. */
static void test_fake_list_neighbour_in_live_block(void **state)
{
    (void)state;
    fresh_heap();
    uint8_t *a;
    uint8_t *b;
    take_three(&a, &b);
    give_back(b);
    uint8_t *fake = a; /* the fake chunk's position: a's payload, 8-aligned */
    raw_put32(fake + 4, (uint32_t)chunk_len(b) | FLAG_FREE);
    raw_put32(fake + 8, 0u);
    raw_put32(fake + 12, off_of(b));     /* back link: b's chunk */
    raw_put32(b, off_of(fake) + 8u);     /* b's next: the fake's position */
    uint8_t before[BLOCK];
    memcpy(before, a, BLOCK);
    uint8_t *got = mem_alloc(C, BLOCK);
    if (off_ends_here()) {
        return; /* off unlinks through the fake: a's byte 12 changes */
    }
    assert_null(got);
    expect_one(LNK, b);
    assert_int_equal(mem_last_fault(C), LNK);
    assert_memory_equal(a, before, BLOCK);
    verdict(true);
}

/* ---- 4. a forged successor past the heap's end ---------------------------- */

/* The free chunk after a claims a length past the heap's end, under the
 * heap's own secret (so its header verifies and only the bound can stop
 * it): 64 bytes past (inside the guard zone, where a write through it is
 * seen), and a length that wraps the offsets. Every call that reads it
 * reports CORRUPT_HEADER at it; nothing is written or handed out past the
 * arena. Lengths are bounded at every level, off included
 * (docs/HARDENING.md, "bounds"), so off is held to the same. */
enum { VIA_FREE, VIA_REALLOC, VIA_CHECK, VIA_STAT, VIA_COUNT };

/* A heap under the pinned secret with one live block *a and the free rest
 * after it, whose length is forged (past the end, or wrapping when wrap)
 * and signed with the heap's key; how says which call will meet it.
 * Returns the free rest's payload; a may be NULL. */
static uint8_t *forge_successor_past_end(bool wrap, uint8_t **a, const char *how)
{
    pinned_heap();
    uint8_t *blk = take(BLOCK, 0x11);
    if (a != NULL) {
        *a = blk;
    }
    uint8_t *next = blk + chunk_len(blk); /* payload of the free rest */
    uint32_t rest = chunk_len(next);
    assert_true((len_word(next) & FLAG_FREE) != 0u);
    uint32_t forged = wrap ? 0u - 2u * GRANULE : rest + 64u;
    forge_header(heap_key(), off_of(next), forged | FLAG_FREE, 0u);
    print_message("free successor's length %u instead of %u, met by %s\n", forged, rest, how);
    return next;
}

/* Whichever call met the forged successor next: it handed out nothing
 * (got), reported CORRUPT_HEADER at next, and the heap failed closed. */
static void successor_refused(const void *got, const uint8_t *next)
{
    assert_null(got);
    expect_one(HDR, next);
    assert_int_equal(mem_last_fault(C), HDR);
    verdict(true);
}

static void successor_past_end(bool wrap)
{
    static const char *const names[VIA_COUNT] = {"mem_free", "mem_realloc", "mem_check", "mem_stat"};
    for (int via = 0; via < VIA_COUNT; via++) {
        uint8_t *a;
        uint8_t *next = forge_successor_past_end(wrap, &a, names[via]);
        void *got = NULL;
        mem_stat_t st;
        switch (via) {
        case VIA_FREE: mem_free(C, a); break;
        case VIA_REALLOC: got = mem_realloc(C, a, 2000); break;
        case VIA_CHECK: assert_false(mem_check(C)); break;
        default:
            mem_stat(C, &st);
            assert_true(stat_zero(&st));
            break;
        }
        if (got != NULL) {
            live_drop(a);
            live_add(got, 2000);
        }
        successor_refused(got, next);
    }
}

ATTACK_TEST(test_successor_past_end_64, successor_past_end(false))
ATTACK_TEST(test_successor_past_end_wrapping, successor_past_end(true))

/* The same forged free chunk, found by mem_alloc through its list (it is
 * the only free chunk): the length is bounded before the chunk is split
 * or handed out, and the header that claims it is what is reported. */
static void test_successor_past_end_alloc(void **state)
{
    (void)state;
    for (int wrap = 0; wrap < 2; wrap++) {
        uint8_t *next = forge_successor_past_end(wrap, NULL, "mem_alloc");
        uint8_t *got = mem_alloc(C, BLOCK);
        if (got != NULL) {
            live_add(got, BLOCK);
        }
        /* Checked before the fault code: a write past the arena is the
         * worse failure. */
        assert_true(region_guards_intact(&R));
        successor_refused(got, next);
    }
}

/* ---- 5. replay of canaries and headers ----------------------------------- */

/* Offset in [from, from + n) of the first copy of the vn bytes at v, or -1. */
static ptrdiff_t find_bytes(const uint8_t *from, size_t n, const void *v, size_t vn)
{
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    raw_read(copy, from, n);
    ptrdiff_t hit = -1;
    for (size_t i = 0; i + vn <= n && hit < 0; i++) {
        if (memcmp(copy + i, v, vn) == 0) {
            hit = (ptrdiff_t)i;
        }
    }
    free(copy);
    return hit;
}

/* None of the signed words is readable anywhere in the chunk of the block p
 * (its payload and slack, at any byte offset). */
static void assert_not_in_block(const uint8_t *p, const uint32_t *words, size_t nwords, const char *what)
{
    size_t span = chunk_len(p) - 8u;
    for (size_t i = 0; i < nwords; i++) {
        ptrdiff_t hit = find_bytes(p, span, &words[i], 4);
        if (hit >= 0) {
            print_error("%s: signed word %#x (#%zu) still readable at block+%td\n", what, words[i], i, hit);
        }
        assert_true(hit < 0);
    }
}

typedef struct {
    uint8_t hdr[8];     /* the block's own header */
    uint8_t canary[4];  /* its canary, at payload + n */
    uint8_t nb[16];     /* a neighbour's header and links */
} taken_t;

static void take_signed(taken_t *t, const uint8_t *p, size_t n, const uint8_t *nb_payload)
{
    raw_read(t->hdr, p - 8, 8);
    raw_read(t->canary, p + n, 4);
    raw_read(t->nb, nb_payload - 8, 16);
}

static void replay_signed(const taken_t *t, uint8_t *p, size_t n, uint8_t *nb_payload)
{
    raw_write(p - 8, t->hdr, 8);
    raw_write(p + n, t->canary, 4);
    raw_write(nb_payload - 8, t->nb, 16);
}

static uint32_t word_of(const uint8_t *b)
{
    uint32_t w;
    memcpy(&w, b, 4);
    return w;
}

/* The end of a replay into the live block p, which took over a's chunk (p
 * is a) and its successor nb's: the signed words t took (a's header and
 * canary, nb's header) are not readable in p (how it grew: what). The
 * attacker writes them back: a claims its old length with nb free again,
 * and the free of p, or mem_check, reports CORRUPT_LINK at nb, whose list
 * no longer leads to it. */
static void replay_reported_at(const taken_t *t, uint8_t *p, uint8_t *nb, bool via_check, const char *what)
{
    if (HARDENED) {
        uint32_t words[] = {word_of(t->hdr), word_of(t->canary), word_of(t->nb)};
        assert_not_in_block(p, words, 3, what);
    }
    replay_signed(t, p, BLOCK, nb);
    if (via_check) {
        (void)mem_check(C);
    } else {
        mem_free(C, p);
    }
    if (off_ends_here()) {
        return;
    }
    expect_one(LNK, nb);
    verdict(true);
}

/* Grows a in place into its free successor: its old canary and the
 * successor's header (the signed words the issue found in the payload) are
 * gone from the block, so an attacker who reads its own blocks never sees
 * them. One that recorded them before writes the old header, the old
 * canary and the successor's old header and links back, which makes a
 * claim its old length with a free successor again. Those words still
 * verify (same place, same init: the rollback docs/HARDENING.md leaves to
 * a reader of the metadata), but the successor's list no longer leads to
 * it: freeing a, or mem_check, reports it, never a silent pass. */
static void grow_replay(bool via_check)
{
    fresh_heap();
    uint8_t *a = take(BLOCK, 0x11);
    uint8_t *succ = a + chunk_len(a);
    assert_true((len_word(succ) & FLAG_FREE) != 0u);
    taken_t t;
    take_signed(&t, a, BLOCK, succ);
    uint8_t *g = mem_realloc(C, a, 100);
    assert_ptr_equal(g, a);
    expect_none();
    live_drop(a);
    live_add(g, 100);
    replay_reported_at(&t, g, succ, via_check, "grow in place");
}

ATTACK_TEST(test_grow_in_place_replay_free, grow_replay(false))
ATTACK_TEST(test_grow_in_place_replay_check, grow_replay(true))

/* a freed next to its free successor b, the merged chunk handed out again:
 * b's header, a's header and a's canary are not in the new block. The
 * replay of all three (a's old length, its canary, b free) is reported at
 * b, whose list no longer leads to it, by the free of the block or by
 * mem_check. */
static void merge_next_replay(bool via_check)
{
    fresh_heap();
    uint8_t *a, *b;
    take_three(&a, &b);
    give_back(b);
    expect_none();
    taken_t t;
    take_signed(&t, a, BLOCK, b);
    uint32_t merged = chunk_len(a) + chunk_len(b);
    give_back(a);
    uint8_t *p = mem_alloc(C, merged - MEM_CHUNK_OVERHEAD);
    assert_ptr_equal(p, a);
    live_add(p, merged - MEM_CHUNK_OVERHEAD);
    expect_none();
    replay_reported_at(&t, p, b, via_check, "merge with the successor");
}

ATTACK_TEST(test_merge_next_replay_free, merge_next_replay(false))
ATTACK_TEST(test_merge_next_replay_check, merge_next_replay(true))

/* c freed into its free predecessor b, the merged chunk handed out: c's
 * header and canary are not in it. Replaying them makes the stale c look
 * allocated again; its free is reported (c claims a free predecessor that
 * nothing backs), never a chunk inside the live block. */
static void test_merge_prev_replay_free(void **state)
{
    (void)state;
    fresh_heap();
    (void)take(BLOCK, 0x11);
    uint8_t *b = take(BLOCK, 0x22);
    uint8_t *c = take(BLOCK, 0x33);
    (void)take(BLOCK, 0x44);
    give_back(b);
    taken_t t;
    take_signed(&t, c, BLOCK, c);
    uint32_t merged = chunk_len(b) + chunk_len(c);
    give_back(c);
    expect_none();
    uint8_t *p = mem_alloc(C, merged - MEM_CHUNK_OVERHEAD);
    assert_ptr_equal(p, b);
    live_add(p, merged - MEM_CHUNK_OVERHEAD);
    if (HARDENED) {
        uint32_t words[] = {word_of(t.hdr), word_of(t.canary)};
        assert_not_in_block(p, words, 2, "merge into the predecessor");
    }
    raw_write(c - 8, t.hdr, 8);
    raw_write(c + BLOCK, t.canary, 4);
    mem_free(C, c);
    if (off_ends_here()) {
        return;
    }
    expect_one(HDR, c);
    verdict(true);
}

/* ---- 6. a stale free after a re-init --------------------------------------- */

/* p from the first init of the buffer, freed after a second init: the new
 * nonce makes its old header fail, and the walk tells where p now lies.
 * INSIDE_LIVE: within a new live block (INVALID_POINTER). INSIDE_FREE:
 * within the new free rest (DOUBLE_FREE: it points into a free chunk).
 * AT_FREE: exactly at the new free rest's own header (DOUBLE_FREE).
 * REPLAYED: inside a new live block, with p's old header and canary, read
 * before the re-init, written back by the attacker (INVALID_POINTER): only
 * the nonce tells them from a live block's, also at paranoid, whose init
 * poisons whatever stale header was left in the free space. A misuse: the
 * heap stays intact, and nothing is handed out twice. Off has no nonce: a
 * stale header there is trusted (only the arena is asserted). */
enum { INSIDE_LIVE, INSIDE_FREE, AT_FREE, REPLAYED };

static void stale_free(int where)
{
    fresh_heap();
    size_t before = where == INSIDE_FREE ? 200u : BLOCK;
    (void)take(before, 0x11);
    uint8_t *p = take(BLOCK, 0x22);
    (void)take(BLOCK, 0x33);
    uint8_t old_hdr[8], old_canary[4];
    raw_read(old_hdr, p - 8, sizeof old_hdr);
    raw_read(old_canary, p + BLOCK, sizeof old_canary);
    fresh_heap(); /* the same buffer again: every block above is gone */
    /* q is not written: p's old header and canary stay as they were, so
     * only the new nonce tells them from a live block's. */
    bool inside = where == INSIDE_LIVE || where == REPLAYED;
    size_t qn = inside ? 400u : BLOCK;
    uint8_t *q = mem_alloc(C, qn);
    assert_non_null(q);
    live_add(q, qn);
    if (where == REPLAYED) {
        raw_write(p - 8, old_hdr, sizeof old_hdr);
        raw_write(p + BLOCK, old_canary, sizeof old_canary);
    }
    mem_free(C, p);
    if (off_ends_here()) {
        return;
    }
    if (inside) {
        assert_true(ranges_overlap(p, BLOCK, q, qn));
        expect_one(INV, p);
    } else {
        expect_one(DBL, p);
    }
    misuse_left_heap_intact();
}

ATTACK_TEST(test_stale_free_inside_live_block, stale_free(INSIDE_LIVE))
ATTACK_TEST(test_stale_free_inside_free_chunk, stale_free(INSIDE_FREE))
ATTACK_TEST(test_stale_free_at_free_header, stale_free(AT_FREE))
ATTACK_TEST(test_stale_free_replayed_header, stale_free(REPLAYED))

/* ---- 7. silent death ---------------------------------------------------- */

/* Any change of the first identity word: the heap is recognized on sight
 * (second identity word and checksum, or the table of heaps, at every
 * level), so mem_last_fault answers CORRUPT_CONTEXT before any other call
 * and every call reports it to the registered handler (mem_free of a live
 * block too). */
static void test_silent_death_identity_word(void **state)
{
    (void)state;
    for (unsigned i = 0; i < 4u; i++) {
        fresh_heap();
        uint8_t *a = take(BLOCK, 0x11);
        uint32_t id = raw_get32(ctx_word(C, W_ID));
        uint32_t values[] = {0u, ~0u, 0x41414141u, id ^ 0x100u};
        raw_put32(ctx_word(C, W_ID), values[i]);
        print_message("W_ID := %#x (was %#x)\n", values[i], id);
        every_call_refuses(CTX, a);
        verdict(true);
    }
}

/* The words the old checksum left out or no call read: bit 0 of the first
 * identity word (its "made under valgrind" bit, which the heap still
 * accepts as an identity), the second identity word, TOTAL, the scratch
 * word (0 between calls), and CHECK_EVERY / OPS, fixed at 0 below paranoid
 * and signed at paranoid (CHECK_EVERY := 0 silently turned the periodic
 * check off). Every call checks every context word (docs/HARDENING.md), so
 * the first call after the change reports CORRUPT_CONTEXT, an alloc or the
 * free of a live block alike, and every call after it refuses. Off checks
 * no context word on a call. */
static void unchecked_word(unsigned word, bool first_call_frees)
{
    fresh_heap();
    if (PARANOID) {
        assert_true(mem_set_check_interval(C, 5));
    }
    uint8_t *a = take(BLOCK, 0x11);
    uint8_t *b = take(BLOCK, 0x22);
    uint32_t was = raw_get32(ctx_word(C, word));
    uint32_t now;
    switch (word) {
    case W_TOTAL: now = was + 8u; break;
    case W_ID: now = was ^ 1u; break;
    case W_ID2: now = was ^ 0x100u; break;
    case W_SCRATCH: now = 0x41414141u; break;
    case W_CHECK_EVERY: now = PARANOID ? 0u : 5u; break;
    default: now = was + 1u; break; /* W_OPS */
    }
    if (PARANOID && word == W_OPS) {
        assert_int_not_equal(was, 0); /* two calls counted since the interval was set */
    }
    raw_put32(ctx_word(C, word), now);
    print_message("context word %u := %#x (was %#x), then %s\n", word, now, was,
                  first_call_frees ? "mem_free of a live block" : "mem_alloc");
    if (first_call_frees) {
        mem_free(C, b);
    } else {
        assert_null(mem_alloc(C, BLOCK));
    }
    expect_one(CTX, C);
    every_call_refuses(CTX, a);
    verdict(true);
}

static void test_silent_death_unchecked_words(void **state)
{
    (void)state;
    if (!HARDENED) {
        skip();
    }
    static const unsigned words[] = {W_ID, W_ID2, W_TOTAL, W_SCRATCH, W_CHECK_EVERY, W_OPS};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        unchecked_word(words[i], false);
        unchecked_word(words[i], true);
    }
}

#else /* ADVERSARY_WRAPPERS */

static void *app_alloc(size_t n)
{
    return APP_MEM_ALLOC(n);
}

/* The stale free through the app wrappers: mem_utils_init twice on the
 * same buffer, then APP_MEM_FREE of a block of the first heap that lies
 * inside a live block of the second: INVALID_POINTER to the app's
 * handler, nothing freed, nothing handed out twice. */
static void test_stale_free_after_reinit_wrappers(void **state)
{
    (void)state;
    assert_true(mem_utils_set_fault_handler(registered, &cookie));
    assert_true(mem_utils_init(R.arena, R.size));
    C = mem_utils_context();
    assert_ptr_equal(C, R.arena);
    assert_non_null(APP_MEM_ALLOC(BLOCK));
    uint8_t *p = APP_MEM_ALLOC(BLOCK);
    assert_non_null(p);
    assert_non_null(APP_MEM_ALLOC(BLOCK));
    assert_true(mem_utils_init(R.arena, R.size));
    assert_ptr_equal(mem_utils_context(), C);
    uint8_t *q = APP_MEM_ALLOC(400);
    assert_non_null(q);
    live_add(q, 400);
    assert_true(ranges_overlap(p, BLOCK, q, 400));
    fault_recorder_clear(&g_faults);
    APP_MEM_FREE(p);
#if MEM_HARDENING > 0
    expect_one(INV, p);
    assert_true(mem_check(C));
    expect_none();
    drain_with(app_alloc);
    verdict(false);
#else
    (void)app_alloc;
    fault_recorder_clear(&g_faults);
    verdict(false);
#endif
    (void)mem_utils_init(NULL, 0);
    assert_true(mem_utils_set_fault_handler(NULL, NULL));
}

#endif /* ADVERSARY_WRAPPERS */

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
#ifndef ADVERSARY_WRAPPERS
        T(test_hijack_every_context_offset),
        T(test_hijack_blind_48_bytes),
        T(test_stat_copied_fake_context),
        T(test_stat_signed_fake_context),
        T(test_stat_signed_fake_context_evicted),
        T(test_stat_first_word_zero_or_41),
        T(test_forged_enlarge_allocated_right_key),
        T(test_forged_enlarge_allocated_wrong_key),
        T(test_forged_enlarge_wrong_key_alloc_then_check),
        T(test_forged_enlarge_free_right_key),
        T(test_forged_enlarge_free_wrong_key),
        T(test_forged_interior_chunk_right_key),
        T(test_forged_interior_chunk_wrong_key),
        T(test_fake_list_neighbour_in_live_block),
        T(test_successor_past_end_64),
        T(test_successor_past_end_wrapping),
        T(test_successor_past_end_alloc),
        T(test_grow_in_place_replay_free),
        T(test_grow_in_place_replay_check),
        T(test_merge_next_replay_free),
        T(test_merge_next_replay_check),
        T(test_merge_prev_replay_free),
        T(test_stale_free_inside_live_block),
        T(test_stale_free_inside_free_chunk),
        T(test_stale_free_at_free_header),
        T(test_stale_free_replayed_header),
        T(test_silent_death_identity_word),
        T(test_silent_death_unchecked_words),
#else
        T(test_stale_free_after_reinit_wrappers),
#endif
    };
#ifndef ADVERSARY_WRAPPERS
    return cmocka_run_group_tests_name("adversary_" LEVEL_NAME, tests, NULL, NULL);
#else
    return cmocka_run_group_tests_name("adversary_wrappers", tests, NULL, NULL);
#endif
}
