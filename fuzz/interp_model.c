/*
 * The interpreter's shadow model (interp.h): the content every live block
 * must hold, and the invariants checked against the model after every
 * operation: mem_check, alignment, inside-heap, no overlap, usable size,
 * contents, mem_stat, mem_parse, "fits, so it must succeed".
 */

#include "interp.h"

/* Largest paranoid heap the periodic full check runs mem_check on. */
#define PARANOID_CHECK_BYTES 65536u

/* Which bytes of a block carry the pattern: all of a block up to
 * DENSE_BYTES, else its first and last EDGE_BYTES and about SPARSE_SAMPLES
 * bytes between (every SPARSE_STEP-th byte at least). Allocator bugs hit payloads at their edges (headers, splits,
 * copies cut short); sampling the middle keeps multi-MiB blocks from
 * costing milliseconds per operation. */
#define DENSE_BYTES 256u
#define EDGE_BYTES 64u
#define SPARSE_STEP 61u
#define SPARSE_SAMPLES 32u
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

MODEL_CODE void model_fill(slot_t *s)
{
    s->n_over = 0;
    for (size_t i = 0; i < s->size; i = next_index(i, s->size)) {
        s->ptr[i] = pattern(s->seed, i);
    }
}

/* Checks the patterned bytes of s in [0, to); pattern positions depend on
 * the block's size, so a block checked against a shorter prefix (realloc)
 * is checked with its own layout. */
MODEL_CODE void model_verify_range(const run_t *r, unsigned n, const slot_t *s, size_t to, const char *invariant)
{
    if (s->n_over == 0u) { /* the usual case: the pattern alone */
        size_t i = 0;
        while (i < to && s->ptr[i] == pattern(s->seed, i)) {
            i = next_index(i, s->size);
        }
        if (i >= to) {
            return;
        }
    }
    for (size_t i = 0; i < to; i = next_index(i, s->size)) {
        if (s->ptr[i] != expected(s, i)) {
            fuzz_fail(invariant, "step %u: slot %u (%zu bytes at heap+0x%zx): byte %zu is 0x%02x, expected 0x%02x",
                      r->step, n, s->size, (size_t)(s->ptr - r->arena), i, s->ptr[i], expected(s, i));
        }
    }
}

MODEL_CODE void model_verify(const run_t *r, unsigned n, const char *invariant)
{
    model_verify_range(r, n, &r->slots[n], r->slots[n].size, invariant);
}

MODEL_CODE void fuzz_zero_checked(void *p, size_t n)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i = next_index(i, n)) {
        b[i] = 0u;
    }
}

MODEL_CODE void model_check_zero(const run_t *r, const void *p, size_t n, const char *what)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i = next_index(i, n)) {
        if (b[i] != 0u) {
            fuzz_fail("calloc-zero", "step %u: byte %zu of a %zu-byte %s is 0x%02x", r->step, i, n, what, b[i]);
        }
    }
}

/* The bookkeeping around a block that no other block may share a byte
 * with (heap_internal.h): before it, its header (hardened, 8 bytes; off, the
 * 4-byte length word, the word before that being the previous chunk's
 * payload); after its requested bytes, its canary (hardened, 4 bytes; off,
 * none). */
#define HEAD_BYTES (MEM_HARDENING > 0 ? 8u : 4u)
#define CANARY_BYTES (MEM_HARDENING > 0 ? 4u : 0u)

/* mem_usable_size of a block the model holds: exactly the request at the
 * hardened levels (the canary follows it); off, the chunk's length less its
 * 4-byte header. Checked when a block is handed out and by every full
 * check. */
MODEL_CODE static void check_usable(const run_t *r, unsigned n)
{
    const slot_t *s = &r->slots[n];
    size_t usable = mem_usable_size(r->ctx, s->ptr);
    size_t want = MEM_HARDENING > 0 ? s->size : chunk_len(s->ptr) - MEM_CHUNK_OVERHEAD;
    if (usable != want || usable < s->size) {
        fuzz_fail("usable-size", "step %u: slot %u: mem_usable_size %zu for %zu requested, expected %zu", r->step, n,
                  usable, s->size, want);
    }
}

MODEL_CODE void model_take_slot(run_t *r, unsigned n, void *p, size_t size)
{
    r->slots[n] = (slot_t){.ptr = p, .size = size, .seed = r->next_seed};
    if (predictable(r)) {
        check_usable(r, n);
    }
    r->next_seed = (uint8_t)(r->next_seed + 101u);
    model_fill(&r->slots[n]);
    corrupt_note_canary(r, &r->slots[n]);
}

MODEL_CODE int model_lowest_empty(const run_t *r)
{
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        if (r->slots[i].ptr == NULL) {
            return (int)i;
        }
    }
    return -1;
}

mem_stat_t model_stat(const run_t *r)
{
    mem_stat_t st;
    mem_stat(r->ctx, &st);
    return st;
}

/* ---- what a free leaves behind ------------------------------------------- */

MODEL_CODE freed_t model_before_free(const run_t *r, const slot_t *s)
{
    freed_t f = {NULL, 0, false, 0, false, 0};
    if (MEM_HARDENING == 0 || r->ctx == NULL || s->ptr == NULL || !predictable(r)) {
        return f; /* off wipes nothing; a damaged heap's layout is unknown */
    }
    uint32_t lf = load32(s->ptr - 4);
    f.at = s->ptr;
    f.len = lf & ~(uint32_t)7u;
    f.prev_free = (lf & 2u) != 0u; /* PREV_FREE (heap_internal.h) */
    f.prev_len = f.prev_free ? load32(s->ptr - 12) : 0u;
    f.next_free = (load32(s->ptr - 8 + f.len + 4) & 1u) != 0u; /* the successor's FREE */
    f.n = s->size;
    return f;
}

/* Bytes [lo, hi) all hold v: every byte of a short range, else the first
 * and last 256 and every 61st between (a wipe is one loop: it is skipped or
 * cut short at an edge, not in the middle). */
MODEL_CODE static void check_filled(const run_t *r, const uint8_t *lo, const uint8_t *hi, uint8_t v,
                                     const char *what, const char *part)
{
    size_t n = (size_t)(hi - lo);
    for (size_t i = 0; i < n; i = (i < 256u || i + 256u >= n) ? i + 1u : i + 61u) {
        if (lo[i] != v) {
            fuzz_fail("freed-wiped", "step %u: after %s, byte %zu of %s (heap+0x%zx) is 0x%02x, expected 0x%02x",
                      r->step, what, i, part, (size_t)(lo + i - r->arena), lo[i], v);
        }
    }
}

/* The bytes the app could write and the canary after them (the links
 * excepted: the new free chunk's, or with a free predecessor its inside
 * too; paranoid: the whole payload, which must be poison), its tail word
 * when a successor merges, the successor's header and links, and with a
 * free predecessor that predecessor's tail word and the chunk's header and
 * links: every byte of it once held the app's data or a signed word. The
 * rest of the payload never did, and is not wiped. A chunk parked in a
 * quick list (FLAG_QUICK, heap_internal.h) merges with nothing and keeps
 * its list link and depth in its first 8 bytes. */
MODEL_CODE void model_check_wiped(const run_t *r, const freed_t *f, const char *what)
{
    if (f->at == NULL) {
        return;
    }
    const uint8_t v = MEM_HARDENING > 1 ? 0xA5u : 0u;
    const uint8_t *payload = f->at, *end = f->at - 8 + f->len;
    /* n <= len - 12: the canary ends at the chunk's end at the latest */
    const uint8_t *written = MEM_HARDENING > 1 ? end : payload + f->n + 4;
    /* paranoid parks nothing, and there the word read is poison (bit 2
     * set) when the chunk merged into its free predecessor */
    if (MEM_HARDENING < 2 && (load32(payload - 4) & 4u) != 0u) {
        if (written > payload + 8) {
            check_filled(r, payload + 8, written, v, what, "the parked payload");
        }
        return;
    }
    if (f->prev_free) {
        check_filled(r, payload - 12, payload + 8, v, what, "the merged header and links");
    }
    if (written > payload + 8) {
        check_filled(r, payload + 8, written < end - 4 ? written : end - 4, v, what, "the freed payload");
    }
    if (f->next_free) {
        /* its tail word too when the canary or (paranoid) the poison reached it */
        check_filled(r, written < end ? end : end - 4, end + 16, v, what, "the merged successor's header and links");
    }
}

MODEL_CODE void model_check_resized(const run_t *r, const freed_t *f, size_t old_n, const void *p, size_t n)
{
    if (f->at == NULL) {
        return;
    }
    const uint8_t *q = p;
    const uint8_t v = MEM_HARDENING > 1 ? 0xA5u : 0u;
    const uint8_t *old_end = f->at - 8 + f->len;
    if (q == NULL) {
        if (n == 0u) {
            model_check_wiped(r, f, "realloc to 0");
        }
        return; /* a failed realloc: the block stays as it was */
    }
    if (q != f->at) {
        /* moved: the old block was freed, unless it slid down into its
         * free predecessor (the old bytes are then the copy's): the new
         * block starts that predecessor, and either reaches over the old
         * chunk's start or the free rest after it does. Which predecessor
         * is not known before the call: a block growing past the heap's
         * mark first returns the parked chunks to the free lists
         * (heap_internal.h, "Quick lists"), which can free a parked
         * predecessor or merge one into the free predecessor. */
        const uint8_t *old_chunk = f->at - 8, *end = q - 8 + chunk_len(q);
        bool slid = q < f->at &&
                    (end > old_chunk ||
                     ((load32(end + 4) & 1u) != 0u && end + (load32(end + 4) & ~(uint32_t)7u) > old_chunk));
        if (!slid) {
            /* Nor is the successor: the parked chunks returned can make
             * the free successor long enough for the new block, which then
             * takes it (and the old block merges with nothing after it). */
            freed_t g = *f;
            g.next_free = g.next_free && q - 8 != f->at - 8 + f->len;
            model_check_wiped(r, &g, "realloc moving the block");
        }
        return;
    }
    if (n > old_n) {
        /* grown in place: the old canary, the slack, and when a free
         * successor was merged its header and links (its payload past them
         * may hold what the buffer held before mem_init) */
        const uint8_t *limit = f->next_free ? old_end + 16 : old_end;
        check_filled(r, q + old_n, q + n < limit ? q + n : limit, v, "realloc growing in place", "the grown bytes");
    } else if (n < old_n) {
        /* shrunk: past the new canary, what it held, but for the header
         * and links of a chunk split off behind it */
        const uint8_t *rest = q - 8 + chunk_len(q);
        const uint8_t *from = q + n + 4, *to = q + old_n;
        if (rest < to) {
            check_filled(r, from, rest > from ? rest : from, v, "realloc shrinking in place", "the bytes let go");
            from = rest + 16;
        }
        if (from < to) {
            check_filled(r, from, to, v, "realloc shrinking in place", "the bytes let go");
        }
    }
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
void model_check_fit(const run_t *r, size_t n, const char *what)
{
    if (r->ctx == NULL || n == 0u || n > r->arena_size || !predictable(r)) {
        return;
    }
    /* A failed allocation leaves an intact heap as it was: its largest free
     * chunk now is the one it had before the call. */
    size_t largest_before = model_stat(r).largest_free_size;
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

typedef struct {
    unsigned chunks, allocated;
    size_t bytes, largest;
} chunks_t;

MODEL_CODE static bool count_chunks(void *data, uint8_t *addr, bool allocated, size_t size)
{
    (void)addr;
    chunks_t *c = data;
    c->chunks++;
    c->bytes += size;
    if (allocated) {
        c->allocated++;
    } else if (size > c->largest) {
        c->largest = size;
    }
    return false;
}

MODEL_CODE static void check_detached(const run_t *r)
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
    /* Paranoid's mem_check reads every byte of free memory: on a large heap
     * only the closing check (and the program's own check operations) pay
     * for it, so that a step stays O(1) in the heap's size. */
    bool whole = MEM_HARDENING < 2 || r->final || r->arena_size <= PARANOID_CHECK_BYTES;
    if (whole && !mem_check(r->ctx)) {
        fuzz_fail("mem_check", "step %u: mem_check reports an inconsistent heap", r->step);
    }
    unsigned order[FUZZ_SLOTS];
    unsigned live = 0;
    size_t chunk_bytes = 0;
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        const slot_t *s = &r->slots[i];
        if (s->ptr == NULL) {
            continue;
        }
        uintptr_t p = (uintptr_t)s->ptr;
        if ((p & 7u) != 0u) {
            fuzz_fail("alignment", "step %u: slot %u at %p is not 8-byte aligned", r->step, i, (void *)s->ptr);
        }
        check_usable(r, i);
        size_t usable = s->size;
        if (p < r->chunk_lo || p > r->chunk_hi || r->chunk_hi - p < usable) {
            fuzz_fail("inside-heap", "step %u: slot %u [heap+0x%zx, +%zu) leaves the chunk area [heap+0x%zx, heap+0x%zx)",
                      r->step, i, (size_t)(s->ptr - r->arena), usable, (size_t)(r->chunk_lo - (uintptr_t)r->arena),
                      (size_t)(r->chunk_hi - (uintptr_t)r->arena));
        }
        /* insertion by address: at most 64 blocks */
        unsigned k = live++;
        while (k > 0 && (uintptr_t)r->slots[order[k - 1]].ptr > p) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
        /* The chunks' lengths, not the usable sizes: those are the requests
         * at the hardened levels, and mem_stat counts whole chunks. */
        chunk_bytes += chunk_len(s->ptr);
    }
    /* Whole chunks apart: a block's chunk ends where the next one's header
     * begins, so no block shares a byte with another's header or canary. */
    for (unsigned k = 1; k < live; k++) {
        const slot_t *a = &r->slots[order[k - 1]], *b = &r->slots[order[k]];
        if ((uintptr_t)a->ptr + chunk_len(a->ptr) > (uintptr_t)b->ptr) {
            fuzz_fail("no-overlap", "step %u: slot %u at %p (a %zu-byte chunk) overlaps slot %u at %p", r->step,
                      order[k - 1], (void *)a->ptr, chunk_len(a->ptr), order[k], (void *)b->ptr);
        }
    }
    for (unsigned k = 0; k < live; k++) {
        model_verify(r, order[k], "content");
    }
    mem_stat_t st = model_stat(r);
    if (st.nb_allocated != live || st.allocated_size != chunk_bytes ||
        st.free_size + st.allocated_size != r->conserved) {
        fuzz_fail("stat", "step %u: mem_stat says %u blocks / %zu bytes allocated, %zu free; the model %u / %zu, total %zu",
                  r->step, st.nb_allocated, st.allocated_size, st.free_size, live, chunk_bytes, r->conserved);
    }
    /* The rest of mem_stat against what mem_parse walks (the two share no
     * code: the walk is checked against the model by parse_one). */
    chunks_t c = {0, 0, 0, 0};
    mem_parse(r->ctx, count_chunks, &c);
    if (st.total_size != r->total || st.nb_chunks != c.chunks || st.largest_free_size != c.largest ||
        c.allocated != live || c.bytes != r->conserved) {
        fuzz_fail("stat", "step %u: mem_stat says total %zu, %u chunks, largest free %zu; expected total %zu and, "
                  "from mem_parse, %u chunks (%u allocated, %zu bytes), largest free %zu", r->step, st.total_size,
                  st.nb_chunks, st.largest_free_size, r->total, c.chunks, c.allocated, c.bytes, c.largest);
    }
    r->largest = st.largest_free_size;
}

/* A damaged heap (fuzz_corrupt) is not checked against the model, only for
 * what must hold whatever the damage: the live blocks keep their content
 * (alignment, bounds and overlap were checked when each was handed out). */
MODEL_CODE static void check_contents(const run_t *r)
{
    for (unsigned i = 0; i < FUZZ_SLOTS; i++) {
        if (r->slots[i].ptr != NULL) {
            model_verify(r, i, "content");
        }
    }
}

MODEL_CODE void model_check_full(run_t *r)
{
    if (predictable(r)) {
        check_model(r);
    } else {
        check_contents(r);
    }
}

/* Every FULL_EVERY steps and at the end, everything; between, nothing
 * more than what each operation checks of the blocks it touched (a block
 * is checked in full before the program frees or resizes it, so damage to
 * it is seen no later than that). */
MODEL_CODE void model_check_all(run_t *r)
{
    if (r->final || r->step % FULL_EVERY == 0u) {
        model_check_full(r);
    }
}

/* A block of n bytes the heap just handed out at p (slot skip excepted,
 * whose old block it may reuse): 8-aligned, inside the chunk area of the
 * heap, overlapping no block the model holds. On an intact heap check_all
 * says as much; on a damaged one this is what stands between corrupted
 * metadata and a block handed out twice, checked for every block handed
 * out, tainted heap or not. Overlap counts the bookkeeping both blocks
 * carry (header before, canary after the request: HEAD_BYTES,
 * CANARY_BYTES): a block whose own header or canary lands on a live one's
 * bytes, or whose bytes cover a live one's header or canary, shares memory
 * with it as surely as two payloads that overlap. */
MODEL_CODE void model_accept_block(run_t *r, const void *p, size_t n, int skip, const char *what)
{
    if (p == NULL || n == 0u) {
        return;
    }
    corrupt_check_poison(r, p, n);
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
        if (s->ptr != NULL && (int)i != skip && a - HEAD_BYTES < q + s->size + CANARY_BYTES &&
            q - HEAD_BYTES < a + n + CANARY_BYTES) {
            fuzz_fail("no-overlap", "step %u: %s returned [heap+0x%zx, +%zu), overlapping slot %u [heap+0x%zx, +%zu)"
                      " (headers and canaries included)", r->step, what, (size_t)(a - (uintptr_t)r->arena), n, i,
                      (size_t)(q - (uintptr_t)r->arena), s->size);
        }
    }
}

/* ---- mem_parse against the model ---------------------------------------- */

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

void model_parse_walk(run_t *r)
{
    if (r->ctx == NULL) {
        return;
    }
    walk_t w = {r, 0, 0, NULL, 0};
    mem_parse(r->ctx, parse_one, &w);
    corrupt_refused(r, w.chunks != 0u, "mem_parse");
    corrupt_reported(r, w.chunks != 0u, "mem_parse");
    if (!predictable(r)) {
        return;
    }
    mem_stat_t st = model_stat(r);
    if (w.allocated != st.nb_allocated || w.total != r->conserved) {
        fuzz_fail("parse-blocks", "step %u: mem_parse saw %u allocated chunks and %zu bytes, expected %u and %zu",
                  r->step, w.allocated, w.total, st.nb_allocated, r->conserved);
    }
}
