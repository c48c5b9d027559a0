/*
 * The fuzz interpreter (interp.h): runs a program (program.h) against a
 * target (target.h), one operation at a time, with the shadow model's
 * invariants (interp_model.c) checked after each and, for fuzz_corrupt, the
 * fault model's around each (interp_corrupt.c). A violation aborts with the
 * name of the invariant, which is what the fuzzers report as a crash.
 */

#include "interp.h"
#include "mem_testing.h"

#include <stdarg.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif

/* The library's secret every run starts from (mem_testing.h): the keys a
 * run's heap gets then depend on nothing but the program and the arena's
 * address, so a replay repeats the fuzzing run bit for bit, checksums and
 * canaries included, but for what the arena's address changes (malloc
 * places the arena). Pinning restarts the library's count of inits too. */
#define FUZZ_SECRET UINT64_C(0x66757a7a696e6721) /* "fuzzing!" */

#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#define FUZZ_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define FUZZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FUZZ_POISON(p, n) ((void)(p), (void)(n))
#define FUZZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void fuzz_fail(const char *invariant, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout); /* a decoder's trace so far comes first */
    fprintf(stderr, "\nfuzz: invariant '%s' violated: ", invariant);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* ---- operations ----------------------------------------------------------- */

/* Appends "   # <label> heap+0x..." (or NULL) to the trace line. */
void trace_result(const run_t *r, const char *label, const void *p)
{
    if (r->trace == NULL) {
        return;
    }
    if (p == NULL) {
        fprintf(r->trace, "   # %s NULL", label);
    } else {
        fprintf(r->trace, "   # %s heap+0x%zx", label, (size_t)((const uint8_t *)p - r->arena));
    }
}

MODEL_CODE static bool first_chunk(void *data, uint8_t *addr, bool allocated, size_t size)
{
    (void)allocated;
    uintptr_t *area = data;
    area[0] = (uintptr_t)addr;
    area[1] = (uintptr_t)addr + size - MEM_CHUNK_OVERHEAD;
    return true;
}

/* The context's size mem_alloc.h documents for the n bytes left of a
 * buffer past its first aligned address (rounded down to 8, capped). */
static size_t documented_ctx_size(size_t n)
{
    unsigned log2 = 0;
    while (((size_t)2u << log2) <= n - 88u) {
        log2++;
    }
    return 80u + 32u * (log2 - 4u) + (MEM_HARDENING >= 2 ? 0u : log2 >= 20u ? 1024u : log2 >= 14u ? 128u : 0u);
}

/* A new heap (mem_init, OP_REINIT) laid out as mem_alloc.h documents it:
 * the context at the buffer's first 8-aligned address, taking exactly its
 * documented size, then one free chunk up to the 8-byte sentinel. What the
 * model expects of mem_stat from then on follows from this, not from the
 * allocator's own answers. */
static void check_layout(run_t *r, size_t size)
{
    uintptr_t base = (uintptr_t)r->arena;
    uintptr_t ctx = (base + 7u) & ~(uintptr_t)7u;
    size_t n = size - (size_t)(ctx - base);
    n = (n < MEM_MAX_HEAP_SIZE ? n : MEM_MAX_HEAP_SIZE) & ~(size_t)7u;
    size_t ctx_size = documented_ctx_size(n);
    uintptr_t area[2] = {0, 0};
    mem_parse(r->ctx, first_chunk, area);
    /* (mem_parse's size is the chunk's length: area[1] is where its usable
     * bytes end, MEM_CHUNK_OVERHEAD - 8 bytes into the sentinel's place) */
    if ((uintptr_t)r->ctx != ctx || area[0] != ctx + ctx_size + 8u || area[1] != ctx + n - MEM_CHUNK_OVERHEAD) {
        fuzz_fail("init-layout", "a %zu-byte heap at misalignment %zu: context at +%zu, first chunk's payload at +%zu, "
                  "its usable end at +%zu; documented: context at +%zu (%zu bytes), payload at +%zu, end at +%zu",
                  size, (size_t)(base & 7u), (size_t)((uintptr_t)r->ctx - base), (size_t)(area[0] - base),
                  (size_t)(area[1] - base), (size_t)(ctx - base), ctx_size, (size_t)(ctx + ctx_size + 8u - base),
                  (size_t)(ctx + n - MEM_CHUNK_OVERHEAD - base));
    }
    r->chunk_lo = area[0];
    r->chunk_hi = area[1];
    r->conserved = n - 8u - ctx_size;
    r->total = size < MEM_MAX_HEAP_SIZE ? size : MEM_MAX_HEAP_SIZE;
    r->largest = r->conserved;
}

static void attach(run_t *r, size_t size)
{
    memset(r->slots, 0, sizeof r->slots);
    r->ctx = r->t->init(r->arena, size);
    if (r->ctx != NULL && MEM_HARDENING > 1 && r->check_every != 0u && !mem_set_check_interval(r->ctx, r->check_every)) {
        fuzz_fail("harness", "mem_set_check_interval(%u) refused a new heap", r->check_every);
    }
    if (r->ctx != NULL) {
        check_layout(r, size);
        model_check_full(r); /* mem_stat must agree at once */
    }
}

/* mem_free of the live block of slot n (free, free_at), with the checks of
 * corrupt_check_live_call. A refused free is a no-op: the block stays.
 * After a fault freeing it, the block may or may not be free. */
void op_free_live(run_t *r, unsigned n, const char *what)
{
    slot_t *s = &r->slots[n];
    model_verify(r, n, "content");
    bool broken = corrupt_canary_broken(r, s);
    freed_t before = model_before_free(r, s);
    unsigned calls = r->faults != NULL ? r->faults->count : 0u;
    r->t->free(r->ctx, s->ptr);
    if (r->faults == NULL || r->faults->count == calls) {
        model_check_wiped(r, &before, what);
    }
    corrupt_check_live_call(r, n, broken, what);
    if (r->faults != NULL && !r->refusing && r->faults->count != r->calls_before) {
        r->model_lost = true;
    }
    if (!r->refusing) {
        s->ptr = NULL;
    }
}

/* alloc, calloc, persist and strdup: a new block in the lowest empty slot. */
static void op_new_block(run_t *r, const op_t *op, size_t n)
{
    int slot = model_lowest_empty(r);
    if (slot < 0) {
        if (r->trace != NULL) {
            fputs("   # skipped: all slots are full", r->trace);
        }
        return;
    }
    unsigned s = (unsigned)slot;
    void *p = NULL;
    bool ok = true;
    char text[FUZZ_MAX_BYTES + 1];
    switch (op->kind) {
    case OP_ALLOC:
        p = r->t->alloc(r->ctx, n);
        ok = p != NULL;
        break;
    case OP_STRDUP:
        memcpy(text, op->bytes, op->len);
        text[op->len] = '\0';
        n = strlen(text) + 1u;
        p = r->t->strdup(r->ctx, text);
        ok = p != NULL;
        if (ok && memcmp(p, text, n) != 0) {
            fuzz_fail("strdup-equal", "step %u: the copy differs from its %zu-byte source", r->step, n);
        }
        break;
    default: /* OP_CALLOC, OP_PERSIST */
        ok = r->t->calloc(r->ctx, &p, n, op->kind == OP_PERSIST);
        /* size 0 holds no block: the wrappers succeed, mem_alloc refuses */
        if (n == 0u ? p != NULL : ok != (p != NULL)) {
            fuzz_fail("calloc-result", "step %u: calloc of %zu returned %d with %p", r->step, n, ok, p);
        }
        if (p != NULL) {
            model_check_zero(r, p, n, prog_op_name(op->kind));
        }
        break;
    }
    if (r->ctx == NULL && p != NULL) {
        fuzz_fail("detached", "step %u: an allocation succeeded with no heap attached", r->step);
    }
    trace_result(r, "->", p);
    corrupt_refused(r, p != NULL, prog_op_name(op->kind));
    model_accept_block(r, p, n, -1, prog_op_name(op->kind));
    if (r->trace != NULL && p != NULL) {
        fprintf(r->trace, " (slot %u)", s);
    }
    if (p != NULL) {
        model_take_slot(r, s, p, n);
    } else if (n != 0u) {
        model_check_fit(r, n, prog_op_name(op->kind));
    }
}

static void op_realloc(run_t *r, const op_t *op, size_t n)
{
    slot_t *s = &r->slots[op->slot];
    slot_t old = *s;
    if (old.ptr != NULL) {
        model_verify(r, op->slot, "content");
    }
    bool broken = corrupt_canary_broken(r, s);
    freed_t before = model_before_free(r, s);
    unsigned calls = r->faults != NULL ? r->faults->count : 0u;
    void *p = r->t->realloc(r->ctx, old.ptr, n);
    trace_result(r, "->", p);
    if (r->faults == NULL || r->faults->count == calls) {
        model_check_resized(r, &before, old.size, p, n);
    }
    if (old.ptr != NULL) {
        corrupt_check_live_call(r, op->slot, broken, "realloc");
    }
    corrupt_refused(r, p != NULL, "realloc");
    model_accept_block(r, p, n, op->slot, "realloc");
    if (r->refusing) {
        return; /* nothing happened: the block stays */
    }
    /* A fault in this very call: the block's fate is unspecified. */
    bool faulted = r->faults != NULL && r->faults->count != r->calls_before;
    if (faulted && p == NULL) {
        if (old.ptr != NULL) {
            s->ptr = NULL;
            r->model_lost = true;
        }
        return;
    }
    if (old.ptr == NULL) {
        if (p != NULL) {
            model_take_slot(r, op->slot, p, n);
        } else if (n != 0u) {
            model_check_fit(r, n, "realloc(NULL)");
        }
        return;
    }
    if (n == 0u) {
        if (p != NULL) {
            fuzz_fail("realloc-zero", "step %u: realloc to 0 returned %p instead of NULL", r->step, p);
        }
        s->ptr = NULL;
        return;
    }
    if (p == NULL) {
        model_verify(r, op->slot, "realloc-failure-intact");
        return;
    }
    size_t kept = old.size < n ? old.size : n;
    s->ptr = p;
    model_verify_range(r, op->slot, s, kept, "realloc-content");
    model_take_slot(r, op->slot, p, n);
}

static void op_recalloc(run_t *r, const op_t *op, size_t n)
{
    slot_t *s = &r->slots[op->slot];
    void *held = s->ptr;
    if (held != NULL) {
        model_verify(r, op->slot, "content");
    }
    s->ptr = NULL; /* freed first, whatever happens next */
    bool ok = r->t->calloc(r->ctx, &held, n, false);
    trace_result(r, "->", held);
    if (!ok && held != NULL) {
        fuzz_fail("calloc-result", "step %u: failed recalloc left %p in the pointer", r->step, held);
    }
    if (held != NULL) {
        model_check_zero(r, held, n, "recalloc");
    }
    if (held != NULL) {
        model_take_slot(r, op->slot, held, n);
    }
}

/* One mem_stat call, judged on its own: the first of OP_STAT's two may find
 * the heap damaged (a periodic check, paranoid) and the second then refuses,
 * so what a call that reports must answer is the call's own affair. Every
 * context word is covered by the context's checksum: an answer given
 * without a report, damaged heap or not, carries the size mem_init was
 * given, never a forged one. */
static void stat_call(run_t *r, void *arg, mem_stat_t *st, const char *what)
{
    unsigned calls_before = r->calls_before;
    bool refusing = r->refusing;
    if (r->faults != NULL) {
        r->calls_before = r->faults->count;
        r->refusing = refusing || mem_last_fault(r->ctx) != MEM_FAULT_NONE;
    }
    mem_stat(arg, st);
    bool reported = r->faults != NULL && r->faults->count != r->calls_before;
    corrupt_refused(r, st->total_size != 0u, what);
    corrupt_reported(r, st->total_size != 0u, what);
    if (!reported && st->total_size != 0u && st->total_size != r->total) {
        fuzz_fail("context-covered", "step %u: %s answered total_size %zu without a report; mem_init was given %zu",
                  r->step, what, st->total_size, r->total);
    }
    r->calls_before = calls_before;
    r->refusing = refusing;
}

static void run_op(run_t *r, const op_t *op)
{
    /* The largest free chunk before the operation, for a size relative to
     * it: a heap walk, so only then (the "fits, so it must succeed" check
     * learns it after a failure, which leaves the heap as it was). On a
     * damaged heap no implicit walk: mem_stat would check the heap and
     * change what the program's own operations find; the last one seen
     * stands in. */
    if (op->size.kind == 4u && r->ctx != NULL && predictable(r)) {
        r->largest = model_stat(r).largest_free_size;
    }
    size_t largest = r->largest;
    size_t n = prog_eval_size(&op->size, largest, r->arena_size);
    slot_t *s = &r->slots[op->slot];
    switch (op->kind) {
    case OP_ALLOC:
    case OP_CALLOC:
    case OP_PERSIST:
    case OP_STRDUP:
        op_new_block(r, op, n);
        break;
    case OP_REALLOC:
        op_realloc(r, op, n);
        break;
    case OP_RECALLOC:
        op_recalloc(r, op, n);
        break;
    case OP_FREE:
        if (s->ptr != NULL) {
            op_free_live(r, op->slot, "free");
        } else {
            r->t->free(r->ctx, NULL);
        }
        break;
    case OP_CLEANUP: {
        void *held = s->ptr;
        if (held != NULL) {
            model_verify(r, op->slot, "content");
        }
        r->t->cleanup(r->ctx, &held);
        if (held != NULL) {
            fuzz_fail("cleanup-null", "step %u: cleanup left %p in the pointer", r->step, held);
        }
        s->ptr = NULL;
        break;
    }
    case OP_REINIT:
        if (r->faults != NULL) {
            /* fuzz_corrupt: always a heap again (its checks need one), and a
             * fresh one: whatever the program wrote is gone with the old
             * heap; its blocks' addresses stay, as stale pointers that
             * free_at may hand back (each must be reported: the new init's
             * nonce keys nothing the old heap signed) */
            n = n < MEM_MIN_HEAP_SIZE || n > r->arena_size ? r->arena_size : n;
            r->tainted = false;
            r->model_lost = false;
            r->failed = MEM_FAULT_NONE;
            r->refusing = false;
            r->n_poisoned = 0;
        }
        attach(r, n < r->arena_size ? n : r->arena_size);
        trace_result(r, "-> context", r->ctx);
        break;
    case OP_STAT:
        if (r->ctx != NULL) {
            mem_stat_t a, b;
            mem_ctx_t ctx = r->ctx;
            /* Both forms whatever the context holds: the library decides
             * which one it got without following a pointer read from the
             * arena (its first 8 bytes may point at a fake context). */
            stat_call(r, &ctx, &b, "mem_stat(&ctx)");
            stat_call(r, ctx, &a, "mem_stat(ctx)");
            if (memcmp(&a, &b, sizeof a) != 0 && predictable(r)) {
                fuzz_fail("stat-ctx-or-address", "step %u: mem_stat(ctx) and mem_stat(&ctx) differ", r->step);
            }
        }
        break;
    case OP_PARSE:
        model_parse_walk(r);
        break;
    case OP_CHECK:
        if (r->ctx != NULL) {
            bool ok = mem_check(r->ctx);
            if (!ok && predictable(r)) {
                fuzz_fail("mem_check", "step %u: mem_check reports an inconsistent heap", r->step);
            }
            corrupt_refused(r, ok, "mem_check");
            corrupt_reported(r, ok, "mem_check");
            if (ok && r->faults != NULL && !r->refusing && r->faults->count == r->calls_before) {
                corrupt_check_passed(r, "mem_check");
            }
            if (r->trace != NULL) {
                fputs(ok ? "   # consistent" : "   # refused", r->trace);
            }
        }
        break;
    case OP_POKE:
    case OP_POKE32:
    case OP_COPY:
    case OP_PLANT:
        corrupt_op(r, op);
        break;
    case OP_FREE_AT:
        corrupt_free_at(r, op);
        break;
    default:
        break;
    }
}

/* ---- a run ---------------------------------------------------------------- */

/* The arena of a run: exactly heap_size bytes at the given misalignment,
 * between two GUARD_BYTES guards. Blocks are kept per heap size, because
 * allocating megabytes under ASan for every input would cost more than the
 * run. Under ASan the guards and the slack are poisoned, so any access
 * outside the arena is reported as if the arena were an exact-size
 * allocation; without it the guards hold GUARD_FILL and the end of every
 * run checks that they still do (`inside-arena`): nothing the allocator
 * writes lands outside its buffer, whatever the program wrote into it. */
#define GUARD_BYTES 4096u
#define GUARD_FILL 0xE7u

static uint8_t *arena_blocks[FUZZ_HEAP_SIZES];

static uint8_t *arena_for(unsigned size_index, size_t heap_size, size_t misalign, bool clear)
{
    size_t block_size = GUARD_BYTES + heap_size + 7u + GUARD_BYTES;
    if (arena_blocks[size_index] == NULL) {
        arena_blocks[size_index] = malloc(block_size);
        if (arena_blocks[size_index] == NULL) {
            fuzz_fail("harness", "cannot allocate a %zu-byte arena", heap_size);
        }
        memset(arena_blocks[size_index], GUARD_FILL, block_size);
    }
    uint8_t *block = arena_blocks[size_index];
    uint8_t *arena = block + GUARD_BYTES + misalign;
    FUZZ_UNPOISON(block, block_size);
    /* Only the 7 bytes of slack move with the misalignment (an earlier run
     * may have used them as arena); the guards proper are as malloc time
     * left them, or that run failed. */
    memset(block + GUARD_BYTES, GUARD_FILL, misalign);
    memset(arena + heap_size, GUARD_FILL, 7u - misalign);
    if (clear) {
        memset(arena, 0, heap_size); /* a copy op reads free bytes: no state from the last run */
    }
    FUZZ_POISON(block, GUARD_BYTES + misalign);
    FUZZ_POISON(arena + heap_size, 7u - misalign + GUARD_BYTES);
    return arena;
}

/* Without ASan: the bytes around the arena are as arena_for left them. */
MODEL_CODE static void check_guards(const run_t *r)
{
#ifndef FUZZ_ASAN
    size_t misalign = (size_t)((uintptr_t)r->arena & 7u);
    const uint8_t *lo = r->arena - misalign - GUARD_BYTES, *hi = r->arena + r->arena_size;
    for (size_t i = 0; i < GUARD_BYTES + misalign; i++) {
        if (lo[i] != GUARD_FILL) {
            fuzz_fail("inside-arena", "byte %zu before the arena was written", GUARD_BYTES + misalign - i);
        }
    }
    for (size_t i = 0; i < GUARD_BYTES + 7u - misalign; i++) {
        if (hi[i] != GUARD_FILL) {
            fuzz_fail("inside-arena", "byte %zu past the arena's end was written", i);
        }
    }
#else
    (void)r;
#endif
}

void fuzz_run(const fuzz_target_t *target, const uint8_t *data, size_t size, FILE *trace)
{
    mem_testing_pin_secret(FUZZ_SECRET);
    reader_t rd = {data, size, 0};
    uint8_t h0 = size > 0 ? data[0] : 0u, h1 = size > 1 ? data[1] : 0u;
    rd.pos = size < 2u ? size : 2u;
    size_t heap_size = prog_heap_size(h0);
    size_t misalign = h1 % 8u;
    /* paranoid: the periodic full check every this many calls (0: none),
     * on heaps up to 64 KiB: it reads all free memory, so on larger ones
     * it would take most of a run for nothing a small heap does not show */
    unsigned check_every = heap_size <= 65536u ? (h1 >> 3) % 4u : 0u;
    uint8_t *arena = arena_for(h0 % FUZZ_HEAP_SIZES, heap_size, misalign, target->faults != NULL);
    /* One model for every run (no allocation per input: its pages stay
     * warm and no sanitizer quarantine churns). */
    static run_t model;
    run_t *r = &model;
    memset(r, 0, sizeof *r);
    r->t = target;
    r->arena = arena;
    r->arena_size = heap_size;
    r->trace = trace;
    r->next_seed = 1;
    r->faults = target->faults;
    r->check_every = check_every;
    if (target->begin != NULL) {
        target->begin();
    }
    if (trace != NULL) {
        fprintf(trace, "target %s\nheap %zu misalign %zu", target->table.name, heap_size, misalign);
        fprintf(trace, check_every != 0u ? " check_every %u\n" : "\n", check_every);
    }
    attach(r, heap_size);
    if (r->ctx == NULL) {
        fuzz_fail("init", "a %zu-byte heap at misalignment %zu was refused", heap_size, misalign);
    }
    op_t op;
    while (prog_read_op(&rd, &target->table, &op)) {
        r->step++;
        if (trace != NULL) {
            prog_print_op(trace, &op);
        }
        if (r->faults != NULL) {
            corrupt_before_op(r);
            bool expects_call = !(op.kind == OP_FREE && r->slots[op.slot].ptr == NULL) &&
                                !((op.kind == OP_ALLOC || op.kind == OP_CALLOC) && model_lowest_empty(r) < 0);
            run_op(r, &op);
            corrupt_after_op(r, &op, expects_call);
        } else {
            run_op(r, &op);
        }
        if (trace != NULL) {
            fputc('\n', trace);
        }
        model_check_all(r);
    }
    r->final = true;
    if (r->faults != NULL) {
        r->refusing = false;
        corrupt_final(r);
    }
    model_check_all(r);
    check_guards(r);
    if (!predictable(r)) {
        return; /* a damaged heap: the closing frees would only be refused */
    }
    unsigned calls = r->faults != NULL ? r->faults->count : 0u;
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        if (r->slots[i].ptr != NULL) {
            freed_t before = model_before_free(r, &r->slots[i]);
            target->free(r->ctx, r->slots[i].ptr);
            model_check_wiped(r, &before, "the closing free");
            r->slots[i].ptr = NULL;
        }
    }
    if (r->faults != NULL && r->faults->count != calls) {
        fuzz_fail("false-fault", "freeing every block of a consistent heap reported %s",
                  mem_fault_name(r->faults->last));
    }
    if (r->ctx != NULL) {
        model_check_all(r);
        mem_stat_t st = model_stat(r);
        if (st.nb_chunks != 1u || st.nb_allocated != 0u) {
            fuzz_fail("whole-again", "after freeing everything the heap has %u chunks, %u allocated",
                      st.nb_chunks, st.nb_allocated);
        }
    }
}
