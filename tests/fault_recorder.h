/**
 * @file fault_recorder.h
 * @brief The recording fault handler of the cmocka tests: it records the
 *        heap, code, address and user pointer of every call and returns, or
 *        longjmps out once when armed. Shared by the unit tests
 *        (test_helpers.h), the app-wrapper tests and the attack and fault
 *        tests (attacks/attack_util.h).
 *
 * Two handlers write to a fault_recorder_t:
 *  - fault_recorder_cb: the recorder is the user pointer (one recorder per
 *    heap: fault_recorder_install);
 *  - record_fault: the recorder is g_faults, whatever the user pointer, for
 *    tests that check which user pointer reaches the handler.
 */

#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mem_alloc.h"

/** How many calls a recorder keeps in full (it counts them all). */
#define FAULT_LOG_MAX 8u

typedef struct {
    unsigned calls; /* handler calls since the last clear, even beyond FAULT_LOG_MAX */
    /* the first FAULT_LOG_MAX calls, in order */
    mem_ctx_t ctx[FAULT_LOG_MAX];
    mem_fault_t fault[FAULT_LOG_MAX];
    const void *addr[FAULT_LOG_MAX];
    void *user[FAULT_LOG_MAX];
    /* the latest call */
    mem_ctx_t last_ctx;
    mem_fault_t last;
    const void *last_addr;
    void *last_user;
    /* armed (fault_recorder_arm): the next call disarms and longjmps to escape */
    bool armed;
    jmp_buf escape;
} fault_recorder_t;

/** Forgets every call recorded in r, and disarms it. */
static inline void fault_recorder_clear(fault_recorder_t *r)
{
    memset(r, 0, sizeof *r);
}

/** Records one handler call in r; longjmps to r->escape when r is armed. */
static inline void fault_recorder_note(fault_recorder_t *r, mem_ctx_t ctx, mem_fault_t fault,
                                       const void *addr, void *user)
{
    if (r->calls < FAULT_LOG_MAX) {
        r->ctx[r->calls] = ctx;
        r->fault[r->calls] = fault;
        r->addr[r->calls] = addr;
        r->user[r->calls] = user;
    }
    r->calls++;
    r->last_ctx = ctx;
    r->last = fault;
    r->last_addr = addr;
    r->last_user = user;
    if (r->armed) {
        r->armed = false;
        longjmp(r->escape, 1);
    }
}

/**
 * Makes the next call recorded in r longjmp to r->escape, which the caller
 * sets right after: fault_recorder_arm(r); if (setjmp(r->escape) == 0) ...
 */
static inline void fault_recorder_arm(fault_recorder_t *r)
{
    r->armed = true;
}

/** Fault handler that records the call in the fault_recorder_t *user. */
static inline void fault_recorder_cb(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    fault_recorder_note(user, ctx, fault, addr, user);
}

/** Clears r and installs it as ctx's fault handler (r must outlive the heap's use). */
static inline void fault_recorder_install(mem_ctx_t ctx, fault_recorder_t *r)
{
    fault_recorder_clear(r);
    assert_true(mem_set_fault_handler(ctx, fault_recorder_cb, r));
}

/** The recorder of record_fault. */
__attribute__((unused)) static fault_recorder_t g_faults;

/** Fault handler that records the call in g_faults, whatever its user pointer. */
static inline void record_fault(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    fault_recorder_note(&g_faults, ctx, fault, addr, user);
}

/**
 * Call i of r (i < FAULT_LOG_MAX) happened and was this code, on this heap,
 * about addr, with this user pointer; prints what it was otherwise.
 */
static inline bool fault_at(const fault_recorder_t *r, unsigned i, mem_ctx_t ctx, mem_fault_t code,
                            const void *addr, const void *user)
{
    if (i >= r->calls || i >= FAULT_LOG_MAX) {
        print_message("fault_at: no call #%u (%u call(s))\n", i, r->calls);
        return false;
    }
    bool ok = r->fault[i] == code && r->ctx[i] == ctx && r->addr[i] == addr && r->user[i] == user;
    if (!ok) {
        print_message("fault_at: call #%u was %d (%s) at %p in %p, user %p; expected %d (%s) at %p in %p, user %p\n",
                      i, (int)r->fault[i], mem_fault_name(r->fault[i]), r->addr[i], r->ctx[i], r->user[i],
                      (int)code, mem_fault_name(code), addr, ctx, user);
    }
    return ok;
}

/**
 * Exactly one fault was recorded since the last clear, with this code, on
 * this heap, about addr (skipped when addr is NULL); clears r for the next.
 */
static inline bool fault_seen(fault_recorder_t *r, mem_ctx_t ctx, mem_fault_t code, const void *addr)
{
    bool ok = r->calls == 1u && r->last == code && r->last_ctx == ctx && (addr == NULL || r->last_addr == addr);
    if (!ok) {
        print_message("fault_seen: %u fault(s), last %d (%s) at %p in %p; expected %d (%s) at %p in %p\n",
                      r->calls, (int)r->last, mem_fault_name(r->last), r->last_addr, r->last_ctx, (int)code,
                      mem_fault_name(code), addr, ctx);
    }
    fault_recorder_clear(r);
    return ok;
}

/** No fault was recorded since the last clear. */
static inline bool no_fault(const fault_recorder_t *r)
{
    if (r->calls != 0u) {
        print_message("no_fault: %u fault(s), last %d (%s) at %p\n", r->calls, (int)r->last,
                      mem_fault_name(r->last), r->last_addr);
    }
    return r->calls == 0u;
}
