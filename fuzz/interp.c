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

static void attach(run_t *r, size_t size)
{
    memset(r->slots, 0, sizeof r->slots);
    r->ctx = r->t->init(r->arena, size);
    if (r->ctx != NULL) {
        mem_stat_t st = model_stat(r);
        r->conserved = st.free_size + st.allocated_size;
        r->largest = st.largest_free_size;
        /* A new heap is one free chunk: its payload is where blocks go. */
        uintptr_t area[2] = {0, 0};
        mem_parse(r->ctx, first_chunk, area);
        r->chunk_lo = area[0];
        r->chunk_hi = area[1];
    }
}

/* mem_free of the live block of slot n (free, free_at), with the checks of
 * corrupt_check_live_call. A refused free is a no-op: the block stays.
 * After a fault freeing it, the block may or may not be free. */
void op_free_live(run_t *r, unsigned n, const char *what)
{
    slot_t *s = &r->slots[n];
    bool broken = corrupt_canary_broken(r, s);
    r->t->free(r->ctx, s->ptr);
    corrupt_check_live_call(r, n, broken, what);
    if (r->faults != NULL && !r->refusing && r->faults->count != r->calls_before) {
        r->model_lost = true;
    }
    if (!r->refusing) {
        s->ptr = NULL;
    }
}

/* alloc, calloc, persist and strdup: a new block in the lowest empty slot. */
static void op_new_block(run_t *r, const op_t *op, size_t n, size_t largest)
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
        model_check_fit(r, n, largest, prog_op_name(op->kind));
    }
}

static void op_realloc(run_t *r, const op_t *op, size_t n, size_t largest)
{
    slot_t *s = &r->slots[op->slot];
    slot_t old = *s;
    bool broken = corrupt_canary_broken(r, s);
    void *p = r->t->realloc(r->ctx, old.ptr, n);
    trace_result(r, "->", p);
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
            model_check_fit(r, n, largest, "realloc(NULL)");
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

static void run_op(run_t *r, const op_t *op)
{
    /* The largest free chunk before the operation: for sizes relative to it
     * and for the "fits, so it must succeed" check; a heap walk, so only
     * for the operations that allocate. */
    bool allocates = op->kind == OP_ALLOC || op->kind == OP_CALLOC || op->kind == OP_PERSIST ||
                     op->kind == OP_STRDUP || op->kind == OP_REALLOC || op->kind == OP_RECALLOC ||
                     op->size.kind == 4u;
    /* (On a damaged heap no implicit walk: mem_stat would check the heap
     * and change what the program's own operations find.) */
    if (allocates && r->ctx != NULL && predictable(r)) {
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
        op_new_block(r, op, n, largest);
        break;
    case OP_REALLOC:
        op_realloc(r, op, n, largest);
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
        r->t->cleanup(r->ctx, &held);
        if (held != NULL) {
            fuzz_fail("cleanup-null", "step %u: cleanup left %p in the pointer", r->step, held);
        }
        s->ptr = NULL;
        break;
    }
    case OP_REINIT:
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
            mem_stat(&ctx, &b);
            mem_stat(ctx, &a);
            if (memcmp(&a, &b, sizeof a) != 0 && predictable(r)) {
                fuzz_fail("stat-ctx-or-address", "step %u: mem_stat(ctx) and mem_stat(&ctx) differ", r->step);
            }
            corrupt_refused(r, a.total_size != 0u || b.total_size != 0u, "mem_stat");
            corrupt_reported(r, a.total_size != 0u && b.total_size != 0u, "mem_stat");
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
                /* Damage mem_check does not see must be harmless: from
                 * here on the model must hold in full again. */
                r->tainted = false;
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

/* The arena of a run: exactly heap_size bytes at the given misalignment.
 * Blocks are kept per heap size, because allocating megabytes under ASan for
 * every input would cost more than the run; ASan is told that the slack
 * around the arena is off limits, so any access outside it is reported as if
 * the arena were an exact-size allocation. */
static uint8_t *arena_for(unsigned size_index, size_t heap_size, size_t misalign, bool clear)
{
    static uint8_t *blocks[FUZZ_HEAP_SIZES];
    size_t block_size = heap_size + 7u;
    if (blocks[size_index] == NULL) {
        blocks[size_index] = malloc(block_size);
        if (blocks[size_index] == NULL) {
            fuzz_fail("harness", "cannot allocate a %zu-byte arena", heap_size);
        }
    }
    uint8_t *block = blocks[size_index];
    FUZZ_UNPOISON(block, block_size);
    if (clear) {
        memset(block, 0, block_size); /* a copy op reads free bytes: no state from the last run */
    }
    FUZZ_POISON(block, misalign);
    FUZZ_POISON(block + misalign + heap_size, 7u - misalign);
    return block + misalign;
}

void fuzz_run(const fuzz_target_t *target, const uint8_t *data, size_t size, FILE *trace)
{
    mem_testing_pin_secret(FUZZ_SECRET);
    reader_t rd = {data, size, 0};
    uint8_t h0 = size > 0 ? data[0] : 0u, h1 = size > 1 ? data[1] : 0u;
    rd.pos = size < 2u ? size : 2u;
    size_t heap_size = prog_heap_size(h0);
    size_t misalign = h1 % 8u;
    uint8_t *arena = arena_for(h0 % FUZZ_HEAP_SIZES, heap_size, misalign, target->faults != NULL);
    run_t *r = calloc(1, sizeof *r);
    if (r == NULL) {
        fuzz_fail("harness", "cannot allocate the model");
    }
    r->t = target;
    r->arena = arena;
    r->arena_size = heap_size;
    r->trace = trace;
    r->next_seed = 1;
    r->faults = target->faults;
    if (target->begin != NULL) {
        target->begin();
    }
    if (trace != NULL) {
        fprintf(trace, "target %s\nheap %zu misalign %zu\n", target->table.name, heap_size, misalign);
    }
    attach(r, heap_size);
    if (r->ctx == NULL) {
        fuzz_fail("init", "a %zu-byte heap at misalignment %zu was refused", heap_size, misalign);
    }
    model_check_all(r);
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
    if (!predictable(r)) {
        free(r); /* a damaged heap: the closing frees would only be refused */
        return;
    }
    unsigned calls = r->faults != NULL ? r->faults->count : 0u;
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        if (r->slots[i].ptr != NULL) {
            target->free(r->ctx, r->slots[i].ptr);
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
    free(r);
}
