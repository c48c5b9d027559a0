/*
 * The fuzz interpreter: runs a program (program.h) against a target
 * (target.h), keeps a shadow model of every live block, and checks the
 * heap's invariants after every operation. A violation aborts with the name
 * of the invariant, which is what the fuzzers report as a crash.
 */

#include "target.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
/* The model's own checking loops are not what a fuzzer should explore:
 * keeping coverage hooks out of them makes executions several times cheaper
 * and keeps address-dependent comparisons out of the feedback. */
#if defined(__clang__)
#define MODEL_CODE __attribute__((no_sanitize("coverage")))
#else
#define MODEL_CODE
#endif

#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#define FUZZ_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define FUZZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FUZZ_POISON(p, n) ((void)(p), (void)(n))
#define FUZZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Which bytes of a block carry the pattern: all of a block up to
 * DENSE_BYTES, else its first and last EDGE_BYTES and about SPARSE_SAMPLES
 * bytes between (every SPARSE_STEP-th byte at least). Allocator bugs hit payloads at their edges (headers, splits,
 * copies cut short); sampling the middle keeps multi-MiB blocks from
 * costing milliseconds per operation. */
#define DENSE_BYTES 256u
#define EDGE_BYTES 64u
#define SPARSE_STEP 61u
#define SPARSE_SAMPLES 32u
/* Between full sweeps, only this many bytes at each end of a block. */
#define GUARD_BYTES 16u
#define SWEEP_EVERY 8u

typedef struct {
    uint8_t *ptr; /* NULL: empty slot */
    size_t size;  /* bytes the program may use and whose content is checked */
    uint8_t seed; /* content is pattern(seed, i) */
} slot_t;

typedef struct {
    const fuzz_target_t *t;
    uint8_t *arena;
    size_t arena_size;
    mem_ctx_t ctx; /* NULL while the heap is detached (failed reinit) */
    size_t conserved; /* free_size + allocated_size of this heap */
    slot_t slots[FUZZ_SLOTS];
    unsigned step;
    bool final; /* the closing checks: sweep everything */
    uint8_t next_seed;
    FILE *trace;
} run_t;

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

static inline uint8_t pattern(uint8_t seed, size_t i)
{
    return (uint8_t)(seed + 7u * (uint8_t)i + (uint8_t)(i >> 8));
}

/* Next patterned index after i in a block of size bytes. */
MODEL_CODE static inline size_t next_index(size_t i, size_t size)
{
    if (size <= DENSE_BYTES || i + 1u < EDGE_BYTES || i + 1u >= size - EDGE_BYTES) {
        return i + 1u;
    }
    /* at most about SPARSE_SAMPLES positions in the middle, whatever the size */
    size_t step = (size - 2u * EDGE_BYTES) / SPARSE_SAMPLES;
    size_t next = i + (step > SPARSE_STEP ? step : SPARSE_STEP);
    return next < size - EDGE_BYTES ? next : size - EDGE_BYTES;
}

MODEL_CODE static void fill(slot_t *s)
{
    for (size_t i = 0; i < s->size; i = next_index(i, s->size)) {
        s->ptr[i] = pattern(s->seed, i);
    }
}

/* Checks the patterned bytes of s in [0, to); pattern positions depend on
 * the block's size, so a block checked against a shorter prefix (realloc)
 * is checked with its own layout. */
MODEL_CODE static void verify_range(const run_t *r, unsigned n, const slot_t *s, size_t to, const char *invariant)
{
    for (size_t i = 0; i < to; i = next_index(i, s->size)) {
        if (s->ptr[i] != pattern(s->seed, i)) {
            fuzz_fail(invariant, "step %u: slot %u (%zu bytes at heap+0x%zx): byte %zu is 0x%02x, expected 0x%02x",
                      r->step, n, s->size, (size_t)(s->ptr - r->arena), i, s->ptr[i], pattern(s->seed, i));
        }
    }
}

/* The last `count` bytes of s (all patterned: within EDGE_BYTES). */
MODEL_CODE static void verify_tail(const run_t *r, unsigned n, const slot_t *s, size_t count, const char *invariant)
{
    for (size_t i = s->size - count; i < s->size; i++) {
        if (s->ptr[i] != pattern(s->seed, i)) {
            fuzz_fail(invariant, "step %u: slot %u (%zu bytes at heap+0x%zx): byte %zu is 0x%02x, expected 0x%02x",
                      r->step, n, s->size, (size_t)(s->ptr - r->arena), i, s->ptr[i], pattern(s->seed, i));
        }
    }
}

MODEL_CODE static void verify(const run_t *r, unsigned n, const char *invariant)
{
    verify_range(r, n, &r->slots[n], r->slots[n].size, invariant);
}

MODEL_CODE void fuzz_zero_checked(void *p, size_t n)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i = next_index(i, n)) {
        b[i] = 0u;
    }
}

MODEL_CODE static void check_zero(const run_t *r, const void *p, size_t n, const char *what)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i = next_index(i, n)) {
        if (b[i] != 0u) {
            fuzz_fail("calloc-zero", "step %u: byte %zu of a %zu-byte %s is 0x%02x", r->step, i, n, what, b[i]);
        }
    }
}

static void take_slot(run_t *r, unsigned n, void *p, size_t size)
{
    r->slots[n] = (slot_t){p, size, r->next_seed};
    r->next_seed = (uint8_t)(r->next_seed + 101u);
    fill(&r->slots[n]);
}

static int lowest_empty(const run_t *r)
{
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        if (r->slots[i].ptr == NULL) {
            return (int)i;
        }
    }
    return -1;
}

static mem_stat_t stat_of(const run_t *r)
{
    mem_stat_t st;
    mem_stat(r->ctx, &st);
    return st;
}

/* ---- the "fits, so it must succeed" rule --------------------------------- */

typedef struct {
    size_t lo, hi;
    unsigned count;
} band_t;

MODEL_CODE static bool count_band(void *data, uint8_t *addr, bool allocated, size_t size)
{
    (void)addr;
    band_t *b = data;
    if (!allocated && size >= b->lo && size < b->hi) {
        b->count++;
    }
    return false;
}

/* A failed allocation of n bytes is a bug when a free chunk can hold it,
 * except where mem_alloc.h allows it: the chunk is in the request's own size
 * class and the bounded exact-fit scan (16 chunks) did not reach it. */
static void check_fit(const run_t *r, size_t n, size_t largest_before, const char *what)
{
    if (r->ctx == NULL || n == 0u || n > r->arena_size) {
        return;
    }
    size_t need = (n + MEM_CHUNK_OVERHEAD + 7u) & ~(size_t)7u;
    need = need < 16u ? 16u : need;
    if (need > largest_before) {
        return;
    }
    band_t band = {need / 2u, 2u * need, 0};
    mem_parse(r->ctx, count_band, &band);
    if (largest_before < 2u * need && band.count > 16u) {
        return;
    }
    fuzz_fail("fit", "step %u: %s of %zu bytes (chunk %zu) failed although the largest free chunk was %zu",
              r->step, what, n, need, largest_before);
}

/* ---- invariants after every operation ------------------------------------ */

static void check_detached(const run_t *r)
{
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        if (r->slots[i].ptr != NULL) {
            fuzz_fail("detached", "step %u: slot %u holds a block although no heap is attached", r->step, i);
        }
    }
}

MODEL_CODE static void check_all(run_t *r)
{
    if (r->ctx == NULL) {
        check_detached(r);
        return;
    }
    if (!mem_check(r->ctx)) {
        fuzz_fail("mem_check", "step %u: mem_check reports an inconsistent heap", r->step);
    }
    unsigned order[FUZZ_SLOTS];
    unsigned live = 0;
    size_t chunk_bytes = 0;
    uintptr_t lo = (uintptr_t)r->arena, hi = lo + r->arena_size;
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        const slot_t *s = &r->slots[i];
        if (s->ptr == NULL) {
            continue;
        }
        uintptr_t p = (uintptr_t)s->ptr;
        if ((p & 7u) != 0u) {
            fuzz_fail("alignment", "step %u: slot %u at %p is not 8-byte aligned", r->step, i, (void *)s->ptr);
        }
        size_t usable = mem_usable_size(r->ctx, s->ptr);
        if (usable < s->size) {
            fuzz_fail("usable-size", "step %u: slot %u: mem_usable_size %zu < %zu requested", r->step, i, usable,
                      s->size);
        }
        if (p < lo || p > hi || hi - p < usable) {
            fuzz_fail("inside-heap", "step %u: slot %u [%p, +%zu) leaves the heap [%p, +%zu)", r->step, i,
                      (void *)s->ptr, usable, (void *)r->arena, r->arena_size);
        }
        /* insertion by address: at most 64 blocks */
        unsigned k = live++;
        while (k > 0 && (uintptr_t)r->slots[order[k - 1]].ptr > p) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
        chunk_bytes += usable + MEM_CHUNK_OVERHEAD;
    }
    for (unsigned k = 1; k < live; k++) {
        const slot_t *a = &r->slots[order[k - 1]], *b = &r->slots[order[k]];
        if ((uintptr_t)a->ptr + mem_usable_size(r->ctx, a->ptr) > (uintptr_t)b->ptr) {
            fuzz_fail("no-overlap", "step %u: slot %u at %p overlaps slot %u at %p", r->step, order[k - 1],
                      (void *)a->ptr, order[k], (void *)b->ptr);
        }
    }
    /* Every block's edges every step (headers and splits land there), all
     * of every block every SWEEP_EVERY steps and at the end of the run. */
    bool sweep = r->step % SWEEP_EVERY == 0u || r->final;
    for (unsigned k = 0; k < live; k++) {
        const slot_t *s = &r->slots[order[k]];
        if (sweep || s->size <= 2u * GUARD_BYTES) {
            verify(r, order[k], "content");
        } else {
            verify_range(r, order[k], s, GUARD_BYTES, "content");
            verify_tail(r, order[k], s, GUARD_BYTES, "content");
        }
    }
    mem_stat_t st = stat_of(r);
    if (st.nb_allocated != live || st.allocated_size != chunk_bytes ||
        st.free_size + st.allocated_size != r->conserved) {
        fuzz_fail("stat", "step %u: mem_stat says %u blocks / %zu bytes allocated, %zu free; the model %u / %zu, total %zu",
                  r->step, st.nb_allocated, st.allocated_size, st.free_size, live, chunk_bytes, r->conserved);
    }
}

/* ---- operations ----------------------------------------------------------- */

/* Appends "   # <label> heap+0x..." (or NULL) to the trace line. */
static void trace_result(const run_t *r, const char *label, const void *p)
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

static void attach(run_t *r, size_t size)
{
    memset(r->slots, 0, sizeof r->slots);
    r->ctx = r->t->init(r->arena, size);
    if (r->ctx != NULL) {
        mem_stat_t st = stat_of(r);
        r->conserved = st.free_size + st.allocated_size;
    }
}

/* alloc, calloc, persist and strdup: a new block in the lowest empty slot. */
static void op_new_block(run_t *r, const op_t *op, size_t n, size_t largest)
{
    int slot = lowest_empty(r);
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
            check_zero(r, p, n, prog_op_name(op->kind));
        }
        break;
    }
    if (r->ctx == NULL && p != NULL) {
        fuzz_fail("detached", "step %u: an allocation succeeded with no heap attached", r->step);
    }
    trace_result(r, "->", p);
    if (r->trace != NULL && p != NULL) {
        fprintf(r->trace, " (slot %u)", s);
    }
    if (p != NULL) {
        take_slot(r, s, p, n);
    } else if (n != 0u) {
        check_fit(r, n, largest, prog_op_name(op->kind));
    }
}

static void op_realloc(run_t *r, const op_t *op, size_t n, size_t largest)
{
    slot_t *s = &r->slots[op->slot];
    slot_t old = *s;
    void *p = r->t->realloc(r->ctx, old.ptr, n);
    trace_result(r, "->", p);
    if (old.ptr == NULL) {
        if (p != NULL) {
            take_slot(r, op->slot, p, n);
        } else if (n != 0u) {
            check_fit(r, n, largest, "realloc(NULL)");
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
        verify(r, op->slot, "realloc-failure-intact");
        return;
    }
    size_t kept = old.size < n ? old.size : n;
    s->ptr = p;
    verify_range(r, op->slot, s, kept, "realloc-content");
    take_slot(r, op->slot, p, n);
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
        check_zero(r, held, n, "recalloc");
    }
    if (held != NULL) {
        take_slot(r, op->slot, held, n);
    }
}

static void op_parse_walk(run_t *r);

static void run_op(run_t *r, const op_t *op)
{
    /* The largest free chunk before the operation: for sizes relative to it
     * and for the "fits, so it must succeed" check; a heap walk, so only
     * for the operations that allocate. */
    bool allocates = op->kind == OP_ALLOC || op->kind == OP_CALLOC || op->kind == OP_PERSIST ||
                     op->kind == OP_STRDUP || op->kind == OP_REALLOC || op->kind == OP_RECALLOC ||
                     op->size.kind == 4u;
    size_t largest = allocates && r->ctx != NULL ? stat_of(r).largest_free_size : 0u;
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
        r->t->free(r->ctx, s->ptr);
        s->ptr = NULL;
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
            mem_stat(ctx, &a);
            mem_stat(&ctx, &b);
            if (memcmp(&a, &b, sizeof a) != 0) {
                fuzz_fail("stat-ctx-or-address", "step %u: mem_stat(ctx) and mem_stat(&ctx) differ", r->step);
            }
        }
        break;
    case OP_PARSE:
        op_parse_walk(r);
        break;
    case OP_CHECK:
        if (r->ctx != NULL && !mem_check(r->ctx)) {
            fuzz_fail("mem_check", "step %u: mem_check reports an inconsistent heap", r->step);
        }
        break;
    default:
        break;
    }
}

typedef struct {
    const run_t *r;
    unsigned allocated;
    size_t total;
    const uint8_t *prev;
} walk_t;

MODEL_CODE static bool parse_one(void *data, uint8_t *addr, bool allocated, size_t size)
{
    walk_t *w = data;
    if (w->prev != NULL && addr <= w->prev) {
        fuzz_fail("parse-order", "step %u: mem_parse went back from %p to %p", w->r->step, (const void *)w->prev,
                  (void *)addr);
    }
    w->prev = addr;
    w->total += size;
    if (allocated) {
        w->allocated++;
        bool known = false;
        for (unsigned i = 0; i < FUZZ_SLOTS && !known; i++) {
            known = w->r->slots[i].ptr == addr;
        }
        if (!known) {
            fuzz_fail("parse-blocks", "step %u: mem_parse reports an allocated chunk at %p the model does not hold",
                      w->r->step, (void *)addr);
        }
    }
    return false;
}

static void op_parse_walk(run_t *r)
{
    if (r->ctx == NULL) {
        return;
    }
    walk_t w = {r, 0, 0, NULL};
    mem_parse(r->ctx, parse_one, &w);
    mem_stat_t st = stat_of(r);
    if (w.allocated != st.nb_allocated || w.total != r->conserved) {
        fuzz_fail("parse-blocks", "step %u: mem_parse saw %u allocated chunks and %zu bytes, expected %u and %zu",
                  r->step, w.allocated, w.total, st.nb_allocated, r->conserved);
    }
}

/* ---- a run ---------------------------------------------------------------- */

/* The arena of a run: exactly heap_size bytes at the given misalignment.
 * Blocks are kept per heap size, because allocating megabytes under ASan for
 * every input would cost more than the run; ASan is told that the slack
 * around the arena is off limits, so any access outside it is reported as if
 * the arena were an exact-size allocation. */
static uint8_t *arena_for(unsigned size_index, size_t heap_size, size_t misalign)
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
    FUZZ_POISON(block, misalign);
    FUZZ_POISON(block + misalign + heap_size, 7u - misalign);
    return block + misalign;
}

void fuzz_run(const fuzz_target_t *target, const uint8_t *data, size_t size, FILE *trace)
{
    reader_t rd = {data, size, 0};
    uint8_t h0 = size > 0 ? data[0] : 0u, h1 = size > 1 ? data[1] : 0u;
    rd.pos = size < 2u ? size : 2u;
    size_t heap_size = prog_heap_size(h0);
    size_t misalign = h1 % 8u;
    uint8_t *arena = arena_for(h0 % FUZZ_HEAP_SIZES, heap_size, misalign);
    run_t *r = calloc(1, sizeof *r);
    if (r == NULL) {
        fuzz_fail("harness", "cannot allocate the model");
    }
    r->t = target;
    r->arena = arena;
    r->arena_size = heap_size;
    r->trace = trace;
    r->next_seed = 1;
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
    check_all(r);
    op_t op;
    while (prog_read_op(&rd, &target->table, &op)) {
        r->step++;
        if (trace != NULL) {
            prog_print_op(trace, &op);
        }
        run_op(r, &op);
        if (trace != NULL) {
            fputc('\n', trace);
        }
        check_all(r);
    }
    r->final = true;
    check_all(r);
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        if (r->slots[i].ptr != NULL) {
            target->free(r->ctx, r->slots[i].ptr);
            r->slots[i].ptr = NULL;
        }
    }
    if (r->ctx != NULL) {
        check_all(r);
        mem_stat_t st = stat_of(r);
        if (st.nb_chunks != 1u || st.nb_allocated != 0u) {
            fuzz_fail("whole-again", "after freeing everything the heap has %u chunks, %u allocated",
                      st.nb_chunks, st.nb_allocated);
        }
    }
    free(r);
}
