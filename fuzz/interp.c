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

/* Bytes of a block a corruption op overwrote, remembered until the block is
 * filled again (fuzz_corrupt): its content is the pattern but for these. */
#define MAX_OVERRIDES 16u

typedef struct {
    uint8_t *ptr; /* NULL: empty slot */
    size_t size;  /* bytes the program may use and whose content is checked */
    uint8_t seed; /* content is pattern(seed, i) */
    uint8_t n_over;
    uint8_t over_val[MAX_OVERRIDES];
    size_t over_at[MAX_OVERRIDES];
    /* fuzz_corrupt, hardened: the tail canary at ptr + usable as it was
     * handed out (usable 0: unknown, the heap was damaged then). */
    size_t usable;
    uint32_t canary;
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
    /* Where payloads may lie: the payload of the single free chunk of the
     * heap as mem_init made it (after the context, before the sentinel). */
    uintptr_t chunk_lo, chunk_hi;
    size_t largest; /* the last largest free chunk seen on a predictable heap */
    /* Corruption mode (fuzz_corrupt; FORMAT.md): */
    fuzz_faults_t *faults; /* the recording handler's record; NULL: not this mode */
    bool tainted;          /* a corruption op changed bytes outside every live payload */
    bool detached;         /* the allocator takes the context for no heap (key word overwritten) */
    bool model_lost;       /* a block's fate is unknown (a faulting op); no full model check */
    mem_fault_t failed;    /* mem_last_fault as of the last operation */
    unsigned calls_before; /* faults->count before the operation */
    bool refusing;         /* the heap refused everything when the operation began */
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

/* What byte i of s must hold: the pattern, or what a corruption op wrote. */
static inline uint8_t expected(const slot_t *s, size_t i)
{
    for (unsigned k = s->n_over; k-- > 0;) {
        if (s->over_at[k] == i) {
            return s->over_val[k];
        }
    }
    return pattern(s->seed, i);
}

/* fuzz_corrupt: the heap's behaviour follows from the model (a healthy heap
 * that only payload bytes were written to), so every invariant applies. */
static inline bool predictable(const run_t *r)
{
    return r->faults == NULL ||
           (!r->tainted && !r->detached && !r->model_lost && r->failed == MEM_FAULT_NONE);
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
    s->n_over = 0;
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
        if (s->ptr[i] != expected(s, i)) {
            fuzz_fail(invariant, "step %u: slot %u (%zu bytes at heap+0x%zx): byte %zu is 0x%02x, expected 0x%02x",
                      r->step, n, s->size, (size_t)(s->ptr - r->arena), i, s->ptr[i], expected(s, i));
        }
    }
}

/* The last `count` bytes of s (all patterned: within EDGE_BYTES). */
MODEL_CODE static void verify_tail(const run_t *r, unsigned n, const slot_t *s, size_t count, const char *invariant)
{
    for (size_t i = s->size - count; i < s->size; i++) {
        if (s->ptr[i] != expected(s, i)) {
            fuzz_fail(invariant, "step %u: slot %u (%zu bytes at heap+0x%zx): byte %zu is 0x%02x, expected 0x%02x",
                      r->step, n, s->size, (size_t)(s->ptr - r->arena), i, s->ptr[i], expected(s, i));
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

/* The content of the live block of slot n after an operation: its edges
 * every step (headers and splits land there), all of it every SWEEP_EVERY
 * steps and at the end of the run. */
MODEL_CODE static void check_content(const run_t *r, unsigned n)
{
    const slot_t *s = &r->slots[n];
    if (r->step % SWEEP_EVERY == 0u || r->final || s->size <= 2u * GUARD_BYTES) {
        verify(r, n, "content");
    } else {
        verify_range(r, n, s, GUARD_BYTES, "content");
        verify_tail(r, n, s, GUARD_BYTES, "content");
    }
}

static void note_canary(const run_t *r, slot_t *s);

static void take_slot(run_t *r, unsigned n, void *p, size_t size)
{
    r->slots[n] = (slot_t){.ptr = p, .size = size, .seed = r->next_seed};
    r->next_seed = (uint8_t)(r->next_seed + 101u);
    fill(&r->slots[n]);
    note_canary(r, &r->slots[n]);
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
    if (r->ctx == NULL || n == 0u || n > r->arena_size || !predictable(r)) {
        return;
    }
    /* The chunk a request needs (mem_alloc.h): at least MEM_MIN_CHUNK bytes;
     * a remainder of up to MEM_MIN_CHUNK - 8 bytes is absorbed, not split. */
    size_t need = (n + MEM_CHUNK_OVERHEAD + 7u) & ~(size_t)7u;
    need = need < MEM_MIN_CHUNK ? MEM_MIN_CHUNK : need;
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

MODEL_CODE static void check_model(run_t *r)
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
        /* The chunk's length, from its header (len | flags, just before the
         * payload): usable is the exact request at the hardened levels. */
        uint32_t len_flags;
        memcpy(&len_flags, s->ptr - 4, sizeof len_flags);
        chunk_bytes += len_flags & ~(uint32_t)7u;
    }
    for (unsigned k = 1; k < live; k++) {
        const slot_t *a = &r->slots[order[k - 1]], *b = &r->slots[order[k]];
        if ((uintptr_t)a->ptr + mem_usable_size(r->ctx, a->ptr) > (uintptr_t)b->ptr) {
            fuzz_fail("no-overlap", "step %u: slot %u at %p overlaps slot %u at %p", r->step, order[k - 1],
                      (void *)a->ptr, order[k], (void *)b->ptr);
        }
    }
    for (unsigned k = 0; k < live; k++) {
        check_content(r, order[k]);
    }
    mem_stat_t st = stat_of(r);
    if (st.nb_allocated != live || st.allocated_size != chunk_bytes ||
        st.free_size + st.allocated_size != r->conserved) {
        fuzz_fail("stat", "step %u: mem_stat says %u blocks / %zu bytes allocated, %zu free; the model %u / %zu, total %zu",
                  r->step, st.nb_allocated, st.allocated_size, st.free_size, live, chunk_bytes, r->conserved);
    }
}

/* A damaged heap (fuzz_corrupt) is not checked against the model, only for
 * what must hold whatever the damage: the live blocks keep their content
 * (alignment, bounds and overlap were checked when each was handed out). */
MODEL_CODE static void check_contents(const run_t *r)
{
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        if (r->slots[i].ptr != NULL) {
            check_content(r, i);
        }
    }
}

static void check_all(run_t *r)
{
    if (predictable(r)) {
        check_model(r);
    } else {
        check_contents(r);
    }
}

/* A block of n bytes the heap just handed out at p (slot skip excepted,
 * whose old block it may reuse): 8-aligned, inside the chunk area of the
 * heap, overlapping no block the model holds. On an intact heap check_all
 * says as much; on a damaged one this is what stands between corrupted
 * metadata and a block handed out twice. */
MODEL_CODE static void accept_block(const run_t *r, const void *p, size_t n, int skip, const char *what)
{
    if (p == NULL || n == 0u) {
        return;
    }
    uintptr_t a = (uintptr_t)p;
    if ((a & 7u) != 0u) {
        fuzz_fail("alignment", "step %u: %s returned %p, not 8-byte aligned", r->step, what, p);
    }
    if (a < r->chunk_lo || a > r->chunk_hi || r->chunk_hi - a < n) {
        fuzz_fail("inside-heap", "step %u: %s returned [heap+0x%zx, +%zu), outside the chunk area [heap+0x%zx, heap+0x%zx)",
                  r->step, what, (size_t)(a - (uintptr_t)r->arena), n, (size_t)(r->chunk_lo - (uintptr_t)r->arena),
                  (size_t)(r->chunk_hi - (uintptr_t)r->arena));
    }
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        const slot_t *s = &r->slots[i];
        uintptr_t q = (uintptr_t)s->ptr;
        if (s->ptr != NULL && (int)i != skip && a < q + s->size && q < a + n) {
            fuzz_fail("no-overlap", "step %u: %s returned [heap+0x%zx, +%zu), overlapping slot %u [heap+0x%zx, +%zu)",
                      r->step, what, (size_t)(a - (uintptr_t)r->arena), n, i, (size_t)(q - (uintptr_t)r->arena),
                      s->size);
        }
    }
}

/* A call that reports a fault, and any call on a heap that refuses every
 * call (failed, or its context is no heap any more), must hand out nothing:
 * the fault model's "the call does nothing and answers NULL, false or 0". */
static void refused(const run_t *r, bool ok, const char *what)
{
    if (r->faults == NULL || !ok) {
        return;
    }
    if (r->refusing) {
        fuzz_fail("fail-closed", "step %u: %s succeeded on a heap that %s", r->step, what,
                  r->detached ? "is no heap (its key word was overwritten)" : "failed");
    }
    if (r->faults->count != r->calls_before) {
        fuzz_fail("fault-answer", "step %u: %s reported %s and still succeeded", r->step, what,
                  mem_fault_name(r->faults->last));
    }
}

/* ---- corruption (fuzz_corrupt) -------------------------------------------- */

/* Corruption ops and the canary checks read and write the allocator's
 * metadata with plain, instrumented accesses: the fuzz targets link the copy
 * of the allocator built without arena poisoning or memcheck requests
 * (wrappers/meson.build, .clusterfuzzlite/build.sh), so ASan checks these
 * like the allocator's own accesses, against the arena's bounds. */
static uint32_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void note_canary(const run_t *r, slot_t *s)
{
    if (r->faults == NULL || MEM_HARDENING == 0 || !predictable(r)) {
        return;
    }
    s->usable = mem_usable_size(r->ctx, s->ptr);
    s->canary = s->usable != 0u ? load32(s->ptr + s->usable) : 0u;
}

/* The live block of s had its tail canary changed by a corruption op. */
static bool canary_broken(const run_t *r, const slot_t *s)
{
    return r->faults != NULL && s->ptr != NULL && s->usable != 0u && !r->refusing &&
           load32(s->ptr + s->usable) != s->canary;
}

/* After mem_free / mem_realloc of the live block of slot n: an overwritten
 * canary must have been reported (by this call: it checks the canary first),
 * and a block the program holds is never reported as misuse (double free,
 * invalid pointer): if the heap disagrees, the heap is what is damaged. */
static void check_live_call(const run_t *r, unsigned n, bool broken, const char *what)
{
    const fuzz_faults_t *f = r->faults;
    if (f == NULL || r->refusing) {
        return;
    }
    if (broken && f->count == r->calls_before) {
        fuzz_fail("overflow-reported", "step %u: %s of slot %u, whose tail canary was overwritten, reported nothing",
                  r->step, what, n);
    }
    uint32_t misuse = (uint32_t)1u << MEM_FAULT_DOUBLE_FREE | (uint32_t)1u << MEM_FAULT_INVALID_POINTER;
    if ((f->seen & misuse) != 0u) {
        fuzz_fail("live-not-misuse", "step %u: %s of the live block of slot %u was reported as %s", r->step, what, n,
                  (f->seen & (uint32_t)1u << MEM_FAULT_DOUBLE_FREE) ? "a double free" : "an invalid pointer");
    }
}

/* mem_free of the live block of slot n (free, free_at), with the checks of
 * check_live_call. A refused free is a no-op: the block stays. After a fault
 * freeing it, the block may or may not be free. */
static void free_live(run_t *r, unsigned n, const char *what)
{
    slot_t *s = &r->slots[n];
    bool broken = canary_broken(r, s);
    r->t->free(r->ctx, s->ptr);
    check_live_call(r, n, broken, what);
    if (r->faults != NULL && !r->refusing && r->faults->count != r->calls_before) {
        r->model_lost = true;
    }
    if (!r->refusing) {
        s->ptr = NULL;
    }
}

static bool is_corruption_code(mem_fault_t f)
{
    return f != MEM_FAULT_NONE && f != MEM_FAULT_DOUBLE_FREE && f != MEM_FAULT_INVALID_POINTER &&
           f <= MEM_FAULT_CORRUPT_CONTEXT;
}

/* Writes n bytes at arena offset off: into a live block's payload the model
 * learns the new bytes; anywhere else the heap is tainted (its metadata, a
 * free chunk, slack). Bytes of the target's no_poke ranges are left alone. */
static void corrupt_bytes(run_t *r, size_t off, const uint8_t *bytes, size_t n)
{
    size_t ctx_at = (size_t)((uint8_t *)r->ctx - r->arena);
    unsigned skipped = 0, to_payload = 0, to_meta = 0;
    for (size_t k = 0; k < n; k++) {
        size_t pos = off + k;
        bool protect = false;
        for (unsigned j = 0; j < r->t->no_poke_count && pos >= ctx_at; j++) {
            protect |= pos - ctx_at >= r->t->no_poke[j].from && pos - ctx_at < r->t->no_poke[j].to;
        }
        uint8_t *p = r->arena + pos;
        if (protect) {
            skipped++;
            continue;
        }
        if (*p == bytes[k]) {
            continue;
        }
        *p = bytes[k];
        slot_t *s = NULL;
        for (unsigned i = 0; i < FUZZ_SLOTS && s == NULL; i++) {
            if (r->slots[i].ptr != NULL && p >= r->slots[i].ptr && p < r->slots[i].ptr + r->slots[i].size) {
                s = &r->slots[i];
            }
        }
        if (s == NULL) {
            r->tainted = true;
            to_meta++;
            continue;
        }
        to_payload++;
        size_t i = (size_t)(p - s->ptr);
        unsigned k2 = 0;
        while (k2 < s->n_over && s->over_at[k2] != i) {
            k2++;
        }
        if (k2 == MAX_OVERRIDES) {
            fill(s); /* too many to remember: the block gets its pattern back */
            continue;
        }
        s->over_at[k2] = i;
        s->over_val[k2] = bytes[k];
        if (k2 == s->n_over) {
            s->n_over++;
        }
    }
    if (r->trace != NULL) {
        fprintf(r->trace, "   # heap+0x%zx (context+%ld): %u payload, %u other%s", off,
                (long)off - (long)ctx_at, to_payload, to_meta, skipped ? ", handler record left alone" : "");
    }
    r->detached = !r->t->attached(r->ctx);
}

static void op_corrupt(run_t *r, const op_t *op)
{
    uint8_t bytes[FUZZ_MAX_COPY];
    size_t n, off;
    switch (op->kind) {
    case OP_POKE:
        n = 1u;
        off = op->offset % r->arena_size;
        bytes[0] = op->value;
        break;
    case OP_POKE32:
        n = 4u;
        off = op->offset % (r->arena_size - 3u);
        for (unsigned i = 0; i < 4u; i++) {
            bytes[i] = (uint8_t)(op->word >> (8u * i));
        }
        break;
    default: /* OP_COPY */
        n = op->count;
        off = op->offset % (r->arena_size - n + 1u);
        memcpy(bytes, r->arena + op->word % (r->arena_size - n + 1u), n);
        break;
    }
    corrupt_bytes(r, off, bytes, n);
}

/* mem_free of any address in the arena: a live block's (then it is freed),
 * or interior, misaligned, stale (double free), context... */
static void op_free_at(run_t *r, const op_t *op)
{
    uint8_t *p = r->arena + op->offset % r->arena_size;
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        if (r->slots[i].ptr == p) {
            free_live(r, i, "free_at");
            if (r->trace != NULL) {
                fprintf(r->trace, "   # the block of slot %u", i);
            }
            return;
        }
    }
    r->t->free(r->ctx, p);
    const fuzz_faults_t *f = r->faults;
    if (f == NULL) {
        return;
    }
    unsigned calls = f->count - r->calls_before;
    if (r->trace != NULL) {
        fprintf(r->trace, "   # %s", calls ? mem_fault_name(f->last) : "no fault");
    }
    if (calls == 0u && !r->detached) {
        fuzz_fail("misuse-reported", "step %u: mem_free(heap+0x%zx), no block of the model, reported nothing",
                  r->step, (size_t)(p - r->arena));
    }
    if (predictable(r) && (calls != 1u || (f->last != MEM_FAULT_DOUBLE_FREE &&
                                           f->last != MEM_FAULT_INVALID_POINTER))) {
        fuzz_fail("misuse-reported", "step %u: on an intact heap mem_free(heap+0x%zx) reported %u faults, the last %s;"
                  " expected one double free or invalid pointer", r->step, (size_t)(p - r->arena), calls,
                  mem_fault_name(f->last));
    }
}

/* After each operation in corruption mode: the fault codes, fail closed. */
static void after_corrupt_op(run_t *r, const op_t *op, bool expects_call)
{
    const fuzz_faults_t *f = r->faults;
    unsigned calls = f->count - r->calls_before;
    if (r->trace != NULL && calls != 0u && op->kind != OP_FREE_AT) {
        fprintf(r->trace, "   # fault: %s%s", mem_fault_name(f->last), calls > 1u ? " (more than once)" : "");
    }
    bool corruption_op = op->kind == OP_POKE || op->kind == OP_POKE32 || op->kind == OP_COPY;
    if (f->invalid != 0u) {
        fuzz_fail("fault-code", "step %u: the handler was called with %d, which is no fault code", r->step,
                  (int)f->last);
    }
    if (r->detached) {
        if (calls != 0u) {
            fuzz_fail("detached", "step %u: a context whose key word was overwritten is no heap, yet the handler "
                      "was called", r->step);
        }
        return;
    }
    mem_fault_t lf = mem_last_fault(r->ctx);
    if (lf != MEM_FAULT_NONE && !is_corruption_code(lf)) {
        fuzz_fail("fault-code", "step %u: mem_last_fault is %d (%s), not a corruption fault", r->step, (int)lf,
                  mem_fault_name(lf));
    }
    if (corruption_op) {
        if (lf != r->failed && r->failed != MEM_FAULT_NONE) {
            r->model_lost = true; /* the state word itself was rewritten */
        }
        r->failed = lf;
        return;
    }
    if (r->refusing) {
        if (lf != r->failed) {
            fuzz_fail("fail-closed", "step %u: mem_last_fault went from %s to %s", r->step, mem_fault_name(r->failed),
                      mem_fault_name(lf));
        }
        if (expects_call && calls == 0u) {
            fuzz_fail("fail-closed", "step %u: %s on a failed heap was refused without a report", r->step,
                      prog_op_name(op->kind));
        }
        if (calls != 0u && f->last != lf) {
            fuzz_fail("fail-closed", "step %u: a failed heap (%s) reported %s", r->step, mem_fault_name(lf),
                      mem_fault_name(f->last));
        }
        return;
    }
    if (calls != 0u && is_corruption_code(f->last) && lf == MEM_FAULT_NONE) {
        fuzz_fail("fail-closed", "step %u: %s was reported but the heap did not fail", r->step, mem_fault_name(f->last));
    }
    if (predictable(r) && calls != 0u && op->kind != OP_FREE_AT) {
        fuzz_fail("false-fault", "step %u: %s on an intact heap reported %s", r->step, prog_op_name(op->kind),
                  mem_fault_name(f->last));
    }
    r->failed = lf;
}

/* The end of a corruption run: every corruption reported, or harmless. */
static void final_corrupt(run_t *r)
{
    if (r->detached) {
        return; /* no heap any more (by contract, silently so); contents were checked */
    }
    r->calls_before = r->faults->count;
    bool ok = mem_check(r->ctx);
    unsigned calls = r->faults->count - r->calls_before;
    mem_fault_t lf = mem_last_fault(r->ctx);
    if (r->failed != MEM_FAULT_NONE) {
        if (ok || calls == 0u || lf != r->failed) {
            fuzz_fail("fail-closed", "the final mem_check on a failed heap answered %d after %u reports, state %s", ok,
                      calls, mem_fault_name(lf));
        }
        return;
    }
    if (!ok) {
        if (calls == 0u || !is_corruption_code(lf)) {
            fuzz_fail("unreported", "the final mem_check failed without reporting a corruption fault (%u reports, "
                      "state %s)", calls, mem_fault_name(lf));
        }
        r->failed = lf;
        return;
    }
    if (calls != 0u) {
        fuzz_fail("false-fault", "the final mem_check passed but reported %s", mem_fault_name(r->faults->last));
    }
    /* Undetected, so it must have been harmless: the model holds in full. */
    r->tainted = false;
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
        mem_stat_t st = stat_of(r);
        r->conserved = st.free_size + st.allocated_size;
        r->largest = st.largest_free_size;
        /* A new heap is one free chunk: its payload is where blocks go. */
        uintptr_t area[2] = {0, 0};
        mem_parse(r->ctx, first_chunk, area);
        r->chunk_lo = area[0];
        r->chunk_hi = area[1];

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
    refused(r, p != NULL, prog_op_name(op->kind));
    accept_block(r, p, n, -1, prog_op_name(op->kind));
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
    bool broken = canary_broken(r, s);
    void *p = r->t->realloc(r->ctx, old.ptr, n);
    trace_result(r, "->", p);
    if (old.ptr != NULL) {
        check_live_call(r, op->slot, broken, "realloc");
    }
    refused(r, p != NULL, "realloc");
    accept_block(r, p, n, op->slot, "realloc");
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
    /* (On a damaged heap no implicit walk: mem_stat would check the heap
     * and change what the program's own operations find.) */
    if (allocates && r->ctx != NULL && predictable(r)) {
        r->largest = stat_of(r).largest_free_size;
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
            free_live(r, op->slot, "free");
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
            /* Finding 2 (fuzz/regressions/fuzz_corrupt/open/): with its key
             * word damaged, mem_stat(ctx) reads the context's first 8 bytes
             * as a pointer and follows it. Until that is fixed only the
             * &ctx form is used on such a context. */
            mem_stat(&ctx, &b);
            if (r->detached) {
                a = b;
            } else {
                mem_stat(ctx, &a);
            }
            if (memcmp(&a, &b, sizeof a) != 0 && predictable(r)) {
                fuzz_fail("stat-ctx-or-address", "step %u: mem_stat(ctx) and mem_stat(&ctx) differ", r->step);
            }
            refused(r, a.total_size != 0u || b.total_size != 0u, "mem_stat");
        }
        break;
    case OP_PARSE:
        op_parse_walk(r);
        break;
    case OP_CHECK:
        if (r->ctx != NULL) {
            bool ok = mem_check(r->ctx);
            if (!ok && predictable(r)) {
                fuzz_fail("mem_check", "step %u: mem_check reports an inconsistent heap", r->step);
            }
            refused(r, ok, "mem_check");
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
        op_corrupt(r, op);
        break;
    case OP_FREE_AT:
        op_free_at(r, op);
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
    unsigned chunks;
} walk_t;

MODEL_CODE static bool parse_one(void *data, uint8_t *addr, bool allocated, size_t size)
{
    walk_t *w = data;
    w->chunks++;
    if (!predictable(w->r)) {
        return false;
    }
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
    walk_t w = {r, 0, 0, NULL, 0};
    mem_parse(r->ctx, parse_one, &w);
    refused(r, w.chunks != 0u, "mem_parse");
    if (!predictable(r)) {
        return;
    }
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
    check_all(r);
    op_t op;
    while (prog_read_op(&rd, &target->table, &op)) {
        r->step++;
        if (trace != NULL) {
            prog_print_op(trace, &op);
        }
        if (r->faults != NULL) {
            r->calls_before = r->faults->count;
            r->faults->seen = 0u;
            r->refusing = r->detached || r->failed != MEM_FAULT_NONE;
            bool expects_call = !(op.kind == OP_FREE && r->slots[op.slot].ptr == NULL) &&
                                !((op.kind == OP_ALLOC || op.kind == OP_CALLOC) && lowest_empty(r) < 0);
            run_op(r, &op);
            after_corrupt_op(r, &op, expects_call);
        } else {
            run_op(r, &op);
        }
        if (trace != NULL) {
            fputc('\n', trace);
        }
        check_all(r);
    }
    r->final = true;
    if (r->faults != NULL) {
        r->refusing = false;
        final_corrupt(r);
    }
    check_all(r);
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
        check_all(r);
        mem_stat_t st = stat_of(r);
        if (st.nb_chunks != 1u || st.nb_allocated != 0u) {
            fuzz_fail("whole-again", "after freeing everything the heap has %u chunks, %u allocated",
                      st.nb_chunks, st.nb_allocated);
        }
    }
    free(r);
}
