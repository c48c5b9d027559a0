/*
 * The scene the adversary tests share (test_adversary.c, test_quick.c): the
 * heap under attack C at R.arena, the handler registered for it, raw
 * layout access, the heap's key, and the tracker of the blocks handed out
 * (none may leave the arena or overlap a live one). Static, one copy per
 * test program. The includer defines PIN_SECRET (the secret it pins) and
 * MAX_LIVE (the blocks it may track) first.
 */

#pragma once

#include "attack_util.h"
#include "mem_testing.h"

#define FIXTURE_UNUSED __attribute__((unused))

static region_t R;
static mem_ctx_t C;          /* the heap under attack, at R.arena */
static int cookie;           /* the registered handler's user pointer */
static unsigned stray_calls; /* registered handler called for another heap or user pointer */

static FIXTURE_UNUSED void registered(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    if (user != &cookie || ctx != C) {
        stray_calls++;
    }
    fault_recorder_note(&g_faults, ctx, fault, addr, user);
}

/* ---- layout ------------------------------------------------------------- */

static FIXTURE_UNUSED uint32_t off_of(const void *payload)
{
    return (uint32_t)((const uint8_t *)payload - 8 - (const uint8_t *)C);
}

static FIXTURE_UNUSED uint8_t *at(uint32_t off)
{
    return (uint8_t *)C + off;
}

/* The key of C as the allocator computes it, under the secret pinned now.
 * The nonce is read raw: the context is no-access to memcheck. */
static FIXTURE_UNUSED uint64_t heap_key(void)
{
    uint64_t nonce;
    raw_read(&nonce, ctx_word(C, W_NONCE), sizeof nonce);
    return heap_key_of(nonce, (uintptr_t)C);
}

/* C's key had the library's secret been `secret`. Pinning the heap's own
 * secret back restores its key (a function of the secret, the nonce in the
 * arena and the address), so the heap stays valid. */
static FIXTURE_UNUSED uint64_t key_under(uint64_t secret)
{
    mem_testing_pin_secret(secret);
    uint64_t k = heap_key();
    mem_testing_pin_secret(PIN_SECRET);
    return k;
}

/* ---- live blocks -------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n;
} live_t;

static live_t live[MAX_LIVE];
static size_t nlive;

static FIXTURE_UNUSED bool ranges_overlap(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return a < b + bn && b < a + an;
}

/* The live block that [p, p + n) overlaps, or NULL. */
static FIXTURE_UNUSED const live_t *overlapped(const void *p, size_t n)
{
    for (size_t i = 0; i < nlive; i++) {
        if (ranges_overlap(p, n, live[i].p, live[i].n)) {
            return &live[i];
        }
    }
    return NULL;
}

/* A block handed out: inside the arena and over no live block. */
static FIXTURE_UNUSED void live_add(const void *p, size_t n)
{
    const uint8_t *q = p;
    bool inside = q >= R.arena && n <= R.size && (size_t)(q - R.arena) <= R.size - n;
    if (!inside) {
        print_error("block %p (+%zu) lies outside the arena [%p, +%zu)\n", p, n, (void *)R.arena, R.size);
    }
    assert_true(inside);
    const live_t *o = overlapped(p, n);
    if (o != NULL) {
        print_error("block %p (+%zu) overlaps the live block %p (+%zu)\n", p, n, (const void *)o->p, o->n);
    }
    assert_null(o);
    assert_true(nlive < MAX_LIVE);
    live[nlive++] = (live_t){q, n};
}

static FIXTURE_UNUSED void live_drop(const void *p)
{
    for (size_t i = 0; i < nlive; i++) {
        if (live[i].p == p) {
            live[i] = live[--nlive];
            return;
        }
    }
    fail();
}

/* A block of n bytes filled with fill, tracked. */
static FIXTURE_UNUSED uint8_t *take(size_t n, uint8_t fill)
{
    uint8_t *p = alloc_filled(C, n, fill);
    live_add(p, n);
    return p;
}

/* A live block freed by the app, and no longer tracked. */
static FIXTURE_UNUSED void give_back(uint8_t *p)
{
    mem_free(C, p);
    live_drop(p);
}

/* ---- verdicts ----------------------------------------------------------- */

static FIXTURE_UNUSED void expect_none(void)
{
    if (g_faults.calls != 0u) {
        print_error("expected no fault; got %u, first %s at %p (heap %p)\n", g_faults.calls,
                    code_name(g_faults.fault[0]), g_faults.addr[0], (void *)C);
    }
    assert_int_equal(g_faults.calls, 0);
}

static FIXTURE_UNUSED bool stat_zero(const mem_stat_t *st)
{
    return st->total_size == 0u && st->free_size == 0u && st->allocated_size == 0u && st->nb_chunks == 0u &&
           st->nb_allocated == 0u && st->largest_free_size == 0u;
}

/* mem_parse callback: counts the chunks in *data. */
static FIXTURE_UNUSED bool count_chunk(void *data, uint8_t *addr, bool allocated, size_t size)
{
    (void)addr;
    (void)allocated;
    (void)size;
    (*(unsigned *)data)++;
    return false;
}
