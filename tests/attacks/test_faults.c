/*
 * The fault API (mem_alloc.h): what a handler is told, the default handler,
 * returning handlers, failing closed, misuse that does not fail a heap,
 * mem_check's codes, mem_fault_name, bad contexts, the paranoid check
 * interval, the handler kept outside the arena, keyed checksums
 * (mem_init_secure, the per-init nonce, the library's secret) and the wipe
 * of freed payloads. Built once per hardening level; checks that need a
 * level say so.
 */

#define _POSIX_C_SOURCE 200809L

#include "attack_util.h"
#include "mem_testing.h"

#include <signal.h>

#define ARENA_SIZE 4096u
#define BLOCK 40u

typedef struct {
    region_t r;
    mem_ctx_t ctx;
    uint8_t *a, *b, *c, *d;
    size_t usable; /* BLOCK hardened (the exact request), the chunk's length - 4 off */
} fixture_t;

static fixture_t H;
static int cookie; /* the handler's user pointer */

/* A heap with four blocks a..d and the recording handler (unless bare). */
static void heap_open(fixture_t *h, bool bare)
{
    memset(h, 0, sizeof *h);
    region_open(&h->r, ARENA_SIZE);
    h->ctx = mem_init(h->r.arena, ARENA_SIZE);
    assert_ptr_equal(h->ctx, h->r.arena);
    if (!bare) {
        assert_true(mem_set_fault_handler(h->ctx, record_fault, &cookie));
    }
    h->a = alloc_filled(h->ctx, BLOCK, 0x11);
    h->b = alloc_filled(h->ctx, BLOCK, 0x22);
    h->c = alloc_filled(h->ctx, BLOCK, 0x33);
    h->d = alloc_filled(h->ctx, BLOCK, 0x44);
    h->usable = mem_usable_size(h->ctx, h->a);
    assert_int_equal(h->usable, HARDENED ? BLOCK : chunk_len_of(h->a) - MEM_CHUNK_OVERHEAD);
    fault_recorder_clear(&g_faults);
    g_hijacked = false;
}

static int setup(void **state)
{
    (void)state;
    heap_open(&H, false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    region_close(&H.r);
    return 0;
}

/* mem_check finds the damage done: false, one fault with this code about
 * addr, and the heap remembers it. */
static void expect_mem_check(mem_fault_t code, const void *addr)
{
    fault_recorder_clear(&g_faults);
    assert_false(mem_check(H.ctx));
    assert_int_equal(g_faults.calls, 1);
    assert_int_equal(g_faults.fault[0], code);
    assert_ptr_equal(g_faults.addr[0], addr);
    assert_int_equal(mem_last_fault(H.ctx), code);
}

/* Corruption every level finds: bit 2 of d's length word is always zero.
 * mem_check reports it (CORRUPT_HEADER at d) and fails the heap. */
static void fail_heap(void)
{
    uint8_t *lf = H.d - 4;
    raw_put32(lf, raw_get32(lf) | 4u);
    expect_mem_check(MEM_FAULT_CORRUPT_HEADER, H.d);
}

/* ---- running a call in a child ----------------------------------------- */

/* Runs child(NULL) in a child process: it must abort after the default
 * handler's one line, naming the fault, addr and the heap H. */
static void expect_default_abort(void (*child)(void *), mem_fault_t code, const void *addr)
{
    char want[160];
    (void)snprintf(want, sizeof want, "hardalloc: %s at %p in heap %p\n", mem_fault_name(code), addr,
                   (void *)H.ctx);
    expect_child_abort(child, NULL, want);
}

/* ---- the handler -------------------------------------------------------- */

static void test_handler_receives_ctx_code_addr_user(void **state)
{
    (void)state;
    mem_free(H.ctx, H.b);
    mem_free(H.ctx, H.b);
    assert_int_equal(g_faults.calls, 1);
    assert_ptr_equal(g_faults.ctx[0], H.ctx);
    assert_int_equal(g_faults.fault[0], MEM_FAULT_DOUBLE_FREE);
    assert_ptr_equal(g_faults.addr[0], H.b);
    assert_ptr_equal(g_faults.last_user, &cookie);

    /* A new user pointer is passed along with the handler. */
    int other = 0;
    assert_true(mem_set_fault_handler(H.ctx, record_fault, &other));
    mem_free(H.ctx, H.a + 8);
    assert_int_equal(g_faults.calls, 2);
    assert_int_equal(g_faults.last, MEM_FAULT_INVALID_POINTER);
    assert_ptr_equal(g_faults.last_addr, H.a + 8);
    assert_ptr_equal(g_faults.last_user, &other);
#if MEM_HARDENING > 0
    /* A corruption: the address of the block whose canary broke. */
    raw_flip(H.c + H.usable, 1);
    mem_free(H.ctx, H.c);
    assert_int_equal(g_faults.calls, 3);
    assert_ptr_equal(g_faults.last_ctx, H.ctx);
    assert_int_equal(g_faults.last, MEM_FAULT_OVERFLOW);
    assert_ptr_equal(g_faults.last_addr, H.c);
#endif
}

static void child_double_free(void *unused)
{
    (void)unused;
    mem_free(H.ctx, H.b);
    mem_free(H.ctx, H.b);
}

static void test_default_handler_prints_one_line_and_aborts(void **state)
{
    (void)state;
    region_close(&H.r);
    heap_open(&H, true);
    expect_default_abort(child_double_free, MEM_FAULT_DOUBLE_FREE, H.b);
}

/* The double free, in a child where a call of the recorder (which the NULL
 * handler replaced) escapes the default handler: the child then returns
 * instead of aborting. The parent's g_faults cannot see the child's calls. */
static void child_double_free_unrecorded(void *unused)
{
    fault_recorder_arm(&g_faults);
    if (setjmp(g_faults.escape) == 0) {
        child_double_free(unused);
    }
}

static void test_null_handler_restores_default(void **state)
{
    (void)state;
    assert_true(mem_set_fault_handler(H.ctx, NULL, NULL));
    expect_default_abort(child_double_free_unrecorded, MEM_FAULT_DOUBLE_FREE, H.b);
    assert_int_equal(g_faults.calls, 0);
}

#if MEM_HARDENING > 0
static void child_overflow_free(void *unused)
{
    (void)unused;
    raw_flip(H.a + H.usable, 1);
    mem_free(H.ctx, H.a);
}

static void test_default_handler_on_corruption(void **state)
{
    (void)state;
    assert_true(mem_set_fault_handler(H.ctx, NULL, NULL));
    expect_default_abort(child_overflow_free, MEM_FAULT_OVERFLOW, H.a);
}
#endif

/* A handler that returns: the call answers NULL / false / 0 and writes
 * nothing (a misuse is not even remembered). */
static void test_returning_handler_changes_nothing(void **state)
{
    (void)state;
    mem_free(H.ctx, H.b);
    uint8_t *snap = region_snapshot(&H.r);
    fault_recorder_clear(&g_faults);
    mem_free(H.ctx, H.b);
    assert_null(mem_realloc(H.ctx, H.b, 8));
    assert_null(mem_realloc(H.ctx, H.b, 0));
    assert_null(mem_realloc(H.ctx, H.a + 8, 100));
    assert_null(mem_realloc(H.ctx, H.a + 1, 100));
    assert_int_equal(mem_usable_size(H.ctx, H.b), 0);
    assert_int_equal(mem_usable_size(H.ctx, H.c + 16), 0);
    mem_free(H.ctx, (uint8_t *)H.ctx + ARENA_SIZE + 64);
    assert_int_equal(g_faults.calls, 8);
    assert_int_equal(region_diff(&H.r, snap, false), SIZE_MAX);
    free(snap);
    assert_int_equal(g_faults.fault[0], MEM_FAULT_DOUBLE_FREE);
    assert_int_equal(g_faults.last, MEM_FAULT_INVALID_POINTER);
    /* The blocks still hold their data. */
    assert_true(H.a[0] == 0x11 && H.c[BLOCK - 1] == 0x33 && H.d[0] == 0x44);
}

/* ---- failing closed ----------------------------------------------------- */

static bool parse_cb(void *data, uint8_t *addr, bool allocated, size_t size)
{
    (void)addr;
    (void)allocated;
    (void)size;
    ++*(int *)data;
    return false;
}

static void test_fail_closed_every_call(void **state)
{
    (void)state;
    fail_heap();
    const mem_fault_t code = MEM_FAULT_CORRUPT_HEADER;
    uint8_t *snap = region_snapshot(&H.r);
    int calls = 1;

#define REPORTED_AGAIN(addr_)                                                                                 \
    do {                                                                                                      \
        assert_int_equal(g_faults.calls, ++calls);                                                            \
        assert_int_equal(g_faults.last, code);                                                                \
        assert_ptr_equal(g_faults.last_ctx, H.ctx);                                                           \
        assert_ptr_equal(g_faults.last_addr, (addr_));                                                        \
    } while (0)

    assert_null(mem_alloc(H.ctx, 16));
    REPORTED_AGAIN(H.ctx);
    mem_free(H.ctx, H.a);
    REPORTED_AGAIN(H.a);
    mem_free(H.ctx, H.b + 8); /* even a bad pointer is refused as "failed heap" */
    REPORTED_AGAIN(H.b + 8);
    assert_null(mem_realloc(H.ctx, H.a, 200));
    REPORTED_AGAIN(H.a);
    assert_null(mem_realloc(H.ctx, H.a, 0));
    REPORTED_AGAIN(H.a);
    assert_null(mem_realloc(H.ctx, NULL, 16));
    REPORTED_AGAIN(H.ctx);
    assert_int_equal(mem_usable_size(H.ctx, H.a), 0);
    REPORTED_AGAIN(H.a);
    mem_stat_t st;
    memset(&st, 0x5A, sizeof st);
    mem_stat(H.ctx, &st);
    REPORTED_AGAIN(H.ctx);
    mem_stat_t zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&st, &zero, sizeof st);
    memset(&st, 0x5A, sizeof st);
    mem_ctx_t holder = H.ctx; /* SDK style: the address of a mem_ctx_t */
    mem_stat(&holder, &st);
    REPORTED_AGAIN(H.ctx);
    assert_memory_equal(&st, &zero, sizeof st);
    int visited = 0;
    mem_parse(H.ctx, parse_cb, &visited);
    REPORTED_AGAIN(H.ctx);
    assert_int_equal(visited, 0);
    assert_false(mem_check(H.ctx));
    REPORTED_AGAIN(H.ctx);
    /* No handler call: these only answer. */
    assert_false(mem_set_fault_handler(H.ctx, record_fault, NULL));
    assert_false(mem_set_fault_handler(H.ctx, NULL, NULL));
    assert_false(mem_set_check_interval(H.ctx, 1));
    assert_int_equal(mem_last_fault(H.ctx), code);
    assert_int_equal(g_faults.calls, calls);
    /* The refused handler change did not happen: reports still arrive here,
     * with the same user pointer. */
    assert_null(mem_alloc(H.ctx, 1));
    REPORTED_AGAIN(H.ctx);
    assert_ptr_equal(g_faults.last_user, &cookie);
#undef REPORTED_AGAIN
    assert_int_equal(region_diff(&H.r, snap, false), SIZE_MAX);
    free(snap);
}

/* A walk that meets a damaged header reports it before any callback: the
 * call that finds a fault does nothing, so the app never sees half a walk
 * (a and b lie before c and were visited first before this was fixed). */
static void test_parse_reports_before_any_callback(void **state)
{
    (void)state;
    raw_put32(H.c - 4, raw_get32(H.c - 4) | 0x7FFFFF00u); /* c's length runs past the heap, at every level */
    int visited = 0;
    mem_parse(H.ctx, parse_cb, &visited);
    assert_int_equal(visited, 0);
    assert_int_equal(g_faults.calls, 1);
    assert_int_equal(g_faults.last, MEM_FAULT_CORRUPT_HEADER);
    assert_ptr_equal(g_faults.last_addr, H.c);
    assert_int_equal(mem_last_fault(H.ctx), MEM_FAULT_CORRUPT_HEADER);
}

static void test_misuse_does_not_fail_the_heap(void **state)
{
    (void)state;
    mem_free(H.ctx, H.b);
    mem_free(H.ctx, H.b);
    mem_free(H.ctx, H.a + 8);
    mem_free(H.ctx, &cookie);
    assert_null(mem_realloc(H.ctx, H.b, 10));
    assert_int_equal(g_faults.calls, 4);
    assert_int_equal(mem_last_fault(H.ctx), MEM_FAULT_NONE);
    assert_true(mem_check(H.ctx));
    assert_true(mem_set_fault_handler(H.ctx, record_fault, &cookie));
    void *p = mem_alloc(H.ctx, 100);
    assert_non_null(p);
    assert_non_null(mem_realloc(H.ctx, H.a, 60));
    mem_free(H.ctx, p);
    assert_int_equal(g_faults.calls, 4);
    assert_true(mem_check(H.ctx));
}

/* The handler is kept in the library's table, not in the arena: a heap with
 * a handler keeps it while any number of heaps without one come and go
 * (each takes a slot that holds no handler). */
static void test_handler_outlives_throwaway_heaps(void **state)
{
    (void)state;
    static _Alignas(8) uint8_t others[40][512];
    for (unsigned i = 0; i < 40u; i++) {
        mem_ctx_t other = mem_init(others[i], sizeof others[i]);
        assert_non_null(other);
        void *q = mem_alloc(other, 16);
        assert_non_null(q);
        mem_free(other, q);
    }
    mem_free(H.ctx, H.b);
    mem_free(H.ctx, H.b); /* the default handler would abort here */
    assert_int_equal(g_faults.calls, 1);
    assert_true(fault_at(&g_faults, 0, H.ctx, MEM_FAULT_DOUBLE_FREE, H.b, &cookie));
}

/* ---- mem_check ---------------------------------------------------------- */

static void test_check_healthy(void **state)
{
    (void)state;
    assert_true(mem_check(H.ctx));
    mem_free(H.ctx, H.b);
    assert_true(mem_check(H.ctx));
    assert_int_equal(g_faults.calls, 0);
}

static void test_check_header(void **state)
{
    (void)state;
#if MEM_HARDENING > 0
    raw_put32(H.c - 4, raw_get32(H.c - 4) ^ 8u); /* c's length: its checksum fails */
#else
    raw_put32(H.c - 4, raw_get32(H.c - 4) | 4u); /* off: a length of another chunk would go unseen here */
#endif
    expect_mem_check(MEM_FAULT_CORRUPT_HEADER, H.c);
}

/* Two violations: the first in address order is the one reported. */
static void test_check_first_violation(void **state)
{
    (void)state;
#if MEM_HARDENING > 0
    raw_flip(H.b + H.usable, 1); /* b's canary */
    raw_put32(H.d - 4, raw_get32(H.d - 4) | 4u);
    expect_mem_check(MEM_FAULT_OVERFLOW, H.b);
#else
    raw_put32(H.b - 4, raw_get32(H.b - 4) | 4u);
    raw_put32(H.d - 4, raw_get32(H.d - 4) | 4u);
    expect_mem_check(MEM_FAULT_CORRUPT_HEADER, H.b);
#endif
}

static void test_check_link(void **state)
{
    (void)state;
    mem_free(H.ctx, H.b);
    raw_put32(H.b + 4, (uint32_t)(H.d - 8 - (uint8_t *)H.ctx)); /* prev: d, which does not point back */
    expect_mem_check(MEM_FAULT_CORRUPT_LINK, H.b);
}

static void test_check_context(void **state)
{
    (void)state;
    raw_put32(H.c - 4, raw_get32(H.c - 4) ^ 8u); /* a later violation too */
    uint8_t *w = ctx_word(H.ctx, W_END);
#if MEM_HARDENING > 0
    raw_put32(w, raw_get32(w) - 8u);
#else
    /* Off keeps no context checksum (it has no key): mem_check sees only the
     * context's structure there, and an END off the granule breaks it. */
    raw_put32(w, raw_get32(w) - 4u);
#endif
    expect_mem_check(MEM_FAULT_CORRUPT_CONTEXT, H.ctx);
}

#if MEM_HARDENING > 1
static void test_check_write_after_free(void **state)
{
    (void)state;
    mem_free(H.ctx, H.b);
    raw_flip(H.b + 12, 1);
    expect_mem_check(MEM_FAULT_WRITE_AFTER_FREE, H.b);
}
#endif

/* ---- names and bad contexts --------------------------------------------- */

static void test_fault_names(void **state)
{
    (void)state;
    const char *names[MEM_FAULT_CORRUPT_CONTEXT + 1];
    for (int f = MEM_FAULT_NONE; f <= MEM_FAULT_CORRUPT_CONTEXT; f++) {
        names[f] = mem_fault_name((mem_fault_t)f);
        assert_non_null(names[f]);
        assert_true(strlen(names[f]) > 0u);
        assert_string_not_equal(names[f], "unknown fault");
        for (int g = 0; g < f; g++) {
            assert_string_not_equal(names[f], names[g]);
        }
    }
    assert_string_equal(mem_fault_name(MEM_FAULT_NONE), "no fault");
    assert_string_equal(mem_fault_name(MEM_FAULT_DOUBLE_FREE), "double free");
    assert_string_equal(mem_fault_name((mem_fault_t)(MEM_FAULT_CORRUPT_CONTEXT + 1)), "unknown fault");
    assert_string_equal(mem_fault_name((mem_fault_t)1000), "unknown fault");
}

static void test_bad_ctx(void **state)
{
    (void)state;
    uint64_t not_heap[64];
    memset(not_heap, 0, sizeof not_heap);
    mem_ctx_t bad[] = {NULL, not_heap, (uint8_t *)not_heap + 1, H.a};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(mem_set_fault_handler(bad[i], record_fault, NULL));
        assert_false(mem_set_fault_handler(bad[i], NULL, NULL));
        assert_int_equal(mem_last_fault(bad[i]), MEM_FAULT_NONE);
        assert_false(mem_set_check_interval(bad[i], 3));
        assert_false(mem_set_check_interval(bad[i], 0));
        assert_false(mem_check(bad[i]));
        assert_null(mem_alloc(bad[i], 8));
    }
    for (size_t i = 0; i < sizeof not_heap / sizeof not_heap[0]; i++) {
        assert_true(not_heap[i] == 0u);
    }
    assert_int_equal(g_faults.calls, 0);
    assert_true(mem_check(H.ctx));
}

/* ---- paranoid check interval -------------------------------------------- */

static void test_check_interval(void **state)
{
    (void)state;
#if MEM_HARDENING > 1
    const uint32_t every = 5;
    assert_true(mem_set_check_interval(H.ctx, every));
    /* Damage a block that the following calls never touch. */
    raw_flip(H.d + H.usable, 1);
    unsigned n = 0;
    while (g_faults.calls == 0 && n < 3u * every) {
        size_t u = mem_usable_size(H.ctx, H.a);
        n++;
        assert_true(u == H.usable || g_faults.calls > 0);
    }
    assert_int_equal(g_faults.calls, 1);
    assert_true(n <= every);
    assert_int_equal(g_faults.fault[0], MEM_FAULT_OVERFLOW);
    assert_ptr_equal(g_faults.addr[0], H.d);
    assert_int_equal(mem_last_fault(H.ctx), MEM_FAULT_OVERFLOW);
    assert_false(mem_set_check_interval(H.ctx, every)); /* failed heap */
#else
    assert_false(mem_set_check_interval(H.ctx, 5));
    assert_false(mem_set_check_interval(H.ctx, 0));
    assert_int_equal(g_faults.calls, 0);
#endif
}

#if MEM_HARDENING > 1
/* 0 turns the periodic check off again. */
static void test_check_interval_off(void **state)
{
    (void)state;
    assert_true(mem_set_check_interval(H.ctx, 1));
    assert_true(mem_set_check_interval(H.ctx, 0));
    raw_flip(H.d + H.usable, 1);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(mem_usable_size(H.ctx, H.a), H.usable);
    }
    assert_int_equal(g_faults.calls, 0);
    expect_mem_check(MEM_FAULT_OVERFLOW, H.d);
}

/* A context that fails its checksum while its state still says healthy
 * takes no setting (as for mem_set_fault_handler) and reports nothing; the
 * next call refuses it. */
static void test_check_interval_damaged_context(void **state)
{
    (void)state;
    uint8_t *w = ctx_word(H.ctx, W_END);
    raw_put32(w, raw_get32(w) - 8u);
    assert_false(mem_set_check_interval(H.ctx, 1));
    assert_false(mem_set_fault_handler(H.ctx, NULL, NULL));
    assert_int_equal(raw_get32(ctx_word(H.ctx, W_CHECK_EVERY)), 0u);
    assert_int_equal(g_faults.calls, 0);
    assert_null(mem_alloc(H.ctx, 1));
    assert_int_equal(g_faults.calls, 1);
    assert_int_equal(g_faults.fault[0], MEM_FAULT_CORRUPT_CONTEXT);
}
#endif

/* ---- the handler lives outside the arena --------------------------------- */

/* The context was overwritten: the next call reports it to the handler
 * registered for the heap (the recorder with &cookie), about the context,
 * never to a function whose address sits in the arena; the heap takes no
 * new handler and keeps reporting there. */
static void expect_context_reported(void)
{
    fault_recorder_clear(&g_faults);
    assert_null(mem_alloc(H.ctx, 16));
    assert_int_equal(g_faults.calls, 1);
    assert_true(fault_at(&g_faults, 0, H.ctx, MEM_FAULT_CORRUPT_CONTEXT, H.ctx, &cookie));
    assert_int_equal(mem_last_fault(H.ctx), MEM_FAULT_CORRUPT_CONTEXT);
    assert_false(mem_set_fault_handler(H.ctx, hijack_target, NULL));
    /* A heap failed by a context fault reports it about the context, even
     * on a refused free, at every level. */
    mem_free(H.ctx, H.a);
    assert_int_equal(g_faults.calls, 2);
    assert_true(fault_at(&g_faults, 1, H.ctx, MEM_FAULT_CORRUPT_CONTEXT, H.ctx, &cookie));
    assert_false(g_hijacked);
    assert_true(region_guards_intact(&H.r));
}

/* Every byte of the context, identity words included, overwritten with
 * each pattern (the last: the address of a function, over and over). */
static void test_context_overwritten_reaches_registered_handler(void **state)
{
    (void)state;
    const uint64_t fills[] = {0u, ~(uint64_t)0u, UINT64_C(0x4141414141414141), hijack_bytes()};
    for (size_t i = 0; i < sizeof fills / sizeof fills[0]; i++) {
        if (i > 0) {
            region_close(&H.r);
            heap_open(&H, false);
        }
        raw_fill64(H.ctx, fills[i], ctx_size_of(H.ctx));
        expect_context_reported();
    }
}

static void child_blast_context(void *unused)
{
    (void)unused;
    raw_fill64(H.ctx, hijack_bytes(), ctx_size_of(H.ctx));
    (void)mem_alloc(H.ctx, 16);
    if (g_hijacked) {
        (void)fputs("hijacked\n", stderr);
    }
}

/* Without a registered handler it is the default one, whatever the arena
 * holds. */
static void test_context_overwritten_default_handler(void **state)
{
    (void)state;
    region_close(&H.r);
    heap_open(&H, true);
    expect_default_abort(child_blast_context, MEM_FAULT_CORRUPT_CONTEXT, H.ctx);
}

#if MEM_HARDENING > 0
/* A function pointer, a user pointer and a check word where the handler
 * used to be kept (the v1 layout). mem_check reads every byte of the
 * context, so it is the call that must find them (a call that reads none
 * of those bytes has nothing to follow there). */
static void test_old_handler_bytes_forged(void **state)
{
    (void)state;
    uint64_t forged[3] = {hijack_bytes(), 0u, UINT64_C(0x4141414141414141)};
    void *user = &cookie;
    memcpy(&forged[1], &user, sizeof user);
    raw_write((uint8_t *)H.ctx + OLD_HANDLER_AT, forged, OLD_HANDLER_BYTES);
    fault_recorder_clear(&g_faults);
    assert_false(mem_check(H.ctx));
    assert_int_equal(g_faults.calls, 1);
    assert_true(fault_at(&g_faults, 0, H.ctx, MEM_FAULT_CORRUPT_CONTEXT, H.ctx, &cookie));
    assert_int_equal(mem_last_fault(H.ctx), MEM_FAULT_CORRUPT_CONTEXT);
    assert_false(mem_set_fault_handler(H.ctx, hijack_target, NULL));
    assert_null(mem_alloc(H.ctx, 16));
    assert_int_equal(g_faults.calls, 2);
    assert_true(fault_at(&g_faults, 1, H.ctx, MEM_FAULT_CORRUPT_CONTEXT, H.ctx, &cookie));
    assert_false(g_hijacked);
    assert_true(region_guards_intact(&H.r));
}
#endif

/* ---- keyed checksums ---------------------------------------------------- */

#if MEM_HARDENING > 0
/* The 8-byte header hdr, written over the header of block p of the heap at
 * ctx, is rejected by the next free of p: CORRUPT_HEADER about p. */
static void expect_header_rejected(mem_ctx_t ctx, uint8_t *p, const uint8_t *hdr)
{
    fault_recorder_clear(&g_faults);
    raw_write(p - 8, hdr, 8);
    mem_free(ctx, p);
    assert_int_equal(g_faults.calls, 1);
    assert_int_equal(g_faults.fault[0], MEM_FAULT_CORRUPT_HEADER);
    assert_ptr_equal(g_faults.addr[0], p);
}

/* The first block of BLOCK bytes of a heap made on r's buffer: its header
 * bytes and the heap's nonce. */
typedef struct {
    mem_ctx_t ctx;
    uint8_t *p;
    uint8_t hdr[8];
    uint64_t nonce;
} first_block_t;

static first_block_t first_block(region_t *r, mem_ctx_t ctx)
{
    first_block_t f;
    f.ctx = ctx;
    assert_ptr_equal(f.ctx, r->arena);
    assert_true(mem_set_fault_handler(f.ctx, record_fault, &cookie));
    f.p = mem_alloc(f.ctx, BLOCK);
    assert_non_null(f.p);
    raw_read(f.hdr, f.p - 8, 8);
    raw_read(&f.nonce, ctx_word(f.ctx, W_NONCE), 8);
    return f;
}

static first_block_t secure_block(region_t *r, uint64_t seed)
{
    return first_block(r, mem_init_secure(r->arena, ARENA_SIZE, seed));
}

/* Same place, same length word, another check word. */
static void expect_other_key(const first_block_t *x, const first_block_t *y)
{
    assert_true(x->p - (uint8_t *)x->ctx == y->p - (uint8_t *)y->ctx);
    assert_memory_equal(x->hdr + 4, y->hdr + 4, 4);
    assert_memory_not_equal(x->hdr, y->hdr, 4);
}

#define PIN_A UINT64_C(0x0123456789ABCDEF)
#define PIN_B UINT64_C(0xFEDCBA9876543210)

static void test_secure_seeds(void **state)
{
    (void)state;
    region_close(&H.r);
    region_open(&H.r, ARENA_SIZE);

    /* Every init draws a nonce: the same seed on the same buffer twice gives
     * other keys, and a header signed under the first init is rejected by
     * the second (no replay across a re-init). */
    first_block_t x = secure_block(&H.r, 1u);
    first_block_t y = secure_block(&H.r, 1u);
    assert_true(x.nonce != y.nonce);
    expect_other_key(&x, &y);
    expect_header_rejected(y.ctx, y.p, x.hdr);
    x = first_block(&H.r, mem_init(H.r.arena, ARENA_SIZE));
    y = first_block(&H.r, mem_init(H.r.arena, ARENA_SIZE));
    expect_other_key(&x, &y);
    expect_header_rejected(y.ctx, y.p, x.hdr);

    /* Re-inits with seeds a caller might count up (a boot counter, say):
     * each one still gets keys of its own. */
    mem_testing_pin_secret(PIN_A);
    x = secure_block(&H.r, 1u);
    for (uint64_t seed = 2u; seed <= 4u; seed++) {
        y = secure_block(&H.r, seed);
        expect_other_key(&x, &y);
        expect_header_rejected(y.ctx, y.p, x.hdr);
        x = y;
    }

    /* With the test secret pinned (which restarts the init counter), the
     * keys are reproducible: the same init gives the same header bytes, and
     * mem_init is mem_init_secure with MEM_DEFAULT_SEED. */
    mem_testing_pin_secret(PIN_A);
    x = first_block(&H.r, mem_init(H.r.arena, ARENA_SIZE));
    mem_testing_pin_secret(PIN_A);
    y = secure_block(&H.r, MEM_DEFAULT_SEED);
    assert_true(x.nonce == y.nonce);
    assert_memory_equal(x.hdr, y.hdr, 8);

    /* Each input of the key counts alone: the seed, ... */
    mem_testing_pin_secret(PIN_A);
    y = secure_block(&H.r, 2u);
    expect_other_key(&x, &y);
    expect_header_rejected(y.ctx, y.p, x.hdr);

    /* ... the heap's address, ... */
    region_t r2;
    region_open(&r2, ARENA_SIZE);
    mem_testing_pin_secret(PIN_A);
    first_block_t z = first_block(&r2, mem_init(r2.arena, ARENA_SIZE));
    expect_other_key(&x, &z);
    expect_header_rejected(z.ctx, z.p, x.hdr);

    /* ... and the library's secret: a header forged with the secret of
     * PIN_A is rejected once the secret is another one, and so is every
     * heap made before the secret changed. */
    mem_testing_pin_secret(PIN_A);
    x = first_block(&H.r, mem_init(H.r.arena, ARENA_SIZE));
    z = first_block(&r2, mem_init(r2.arena, ARENA_SIZE));
    mem_testing_pin_secret(PIN_B);
    fault_recorder_clear(&g_faults);
    assert_null(mem_alloc(z.ctx, 8));
    assert_int_equal(g_faults.calls, 1);
    assert_true(fault_at(&g_faults, 0, z.ctx, MEM_FAULT_CORRUPT_CONTEXT, z.ctx, &cookie));
    y = first_block(&H.r, mem_init(H.r.arena, ARENA_SIZE));
    expect_other_key(&x, &y);
    expect_header_rejected(y.ctx, y.p, x.hdr);

    assert_true(region_guards_intact(&r2));
    region_close(&r2);
    assert_true(region_guards_intact(&H.r));
}
#endif

/* ---- wiping ------------------------------------------------------------- */

#if MEM_HARDENING > 0
/* What a freed payload holds: zero (standard) or the poison (paranoid). */
#define WIPED (MEM_HARDENING > 1 ? 0xA5u : 0x00u)

static void expect_wiped(const uint8_t *p, size_t from, size_t to)
{
    uint8_t buf[256];
    assert_true(to <= sizeof buf);
    raw_read(buf, p, to);
    for (size_t i = from; i < to; i++) {
        if (buf[i] != WIPED) {
            print_error("byte %zu of the freed payload is 0x%02x\n", i, buf[i]);
        }
        assert_int_equal(buf[i], WIPED);
    }
}

static void test_wiped_payloads(void **state)
{
    (void)state;
    uint32_t len_b = chunk_len_of(H.b);
    uint32_t len_c = chunk_len_of(H.c);
    memset(H.b, 0x5A, BLOCK);
    memset(H.c, 0x5B, BLOCK);
    mem_free(H.ctx, H.b);
    /* All of b but its header, its links (its first 8 payload bytes) and
     * its tail word (its length, the boundary tag): the request, the canary
     * at b + BLOCK and the slack after it. */
    expect_wiped(H.b, 8, len_b - 12u);
    /* c merges into its free predecessor b: c's payload and canary, its
     * header and b's old tail word are inside b now, all wiped. */
    mem_free(H.ctx, H.c);
    assert_ptr_equal(H.c, H.b + len_b);
    expect_wiped(H.b, 8, len_b + len_c - 12u);
    /* A realloc that shrinks frees the tail: wiped too, the old canary
     * (at big + 200) included. */
    uint8_t *big = mem_alloc(H.ctx, 200);
    assert_non_null(big);
    memset(big, 0x5C, 200);
    assert_ptr_equal(mem_realloc(H.ctx, big, 40), big);
    assert_int_equal(mem_usable_size(H.ctx, big), 40);
    /* The tail chunk starts where the shrunk chunk ends; its header and
     * links (16 bytes) are metadata. */
    size_t tail = chunk_len_of(big) - 8u;
    expect_wiped(big, tail + 16u, 200u + 4u);
    /* A shrink that stays inside its chunk (too little left to split off):
     * past the new request's canary, the old data and the old canary are
     * wiped up to the chunk's end. */
    uint8_t *small = mem_alloc(H.ctx, 40);
    assert_non_null(small);
    memset(small, 0x5D, 40);
    uint32_t small_len = chunk_len_of(small);
    /* An allocated successor, so that the 8 bytes left over stay inside. */
    uint8_t *guard = mem_alloc(H.ctx, 40);
    assert_ptr_equal(guard, small + small_len);
    assert_ptr_equal(mem_realloc(H.ctx, small, 30), small);
    assert_int_equal(chunk_len_of(small), small_len);
    assert_int_equal(mem_usable_size(H.ctx, small), 30);
    expect_wiped(small, 30u + 4u, small_len - 8u);
    assert_true(mem_check(H.ctx));
    assert_int_equal(g_faults.calls, 0);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handler_receives_ctx_code_addr_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_handler_prints_one_line_and_aborts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_handler_restores_default, setup, teardown),
#if MEM_HARDENING > 0
        cmocka_unit_test_setup_teardown(test_default_handler_on_corruption, setup, teardown),
#endif
        cmocka_unit_test_setup_teardown(test_returning_handler_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_closed_every_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_reports_before_any_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misuse_does_not_fail_the_heap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_outlives_throwaway_heaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_healthy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_first_violation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_context, setup, teardown),
#if MEM_HARDENING > 1
        cmocka_unit_test_setup_teardown(test_check_write_after_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_interval_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_interval_damaged_context, setup, teardown),
#endif
        cmocka_unit_test_setup_teardown(test_fault_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ctx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_overwritten_reaches_registered_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_overwritten_default_handler, setup, teardown),
#if MEM_HARDENING > 0
        cmocka_unit_test_setup_teardown(test_old_handler_bytes_forged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secure_seeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wiped_payloads, setup, teardown),
#endif
    };
    return cmocka_run_group_tests_name("faults_" LEVEL_NAME, tests, NULL, NULL);
}
