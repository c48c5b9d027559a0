/*
 * Physical walks over the chunks in address order: mem_parse, mem_stat, and
 * the classification of a bad pointer on a fault path. A walk verifies each
 * header it steps over, so a damaged heap is reported, never walked out of.
 */

#include "heap_call.h"
#include "heap_registry.h"

typedef bool (*walk_fn)(void *data, uint8_t *b, uint32_t off, uint32_t lf);

/* Calls fn on every chunk until it returns true. Returns the payload
 * address of the first chunk whose header fails, or NULL. */
static const void *walk(uint8_t *b, uint64_t key, walk_fn fn, void *data)
{
    uint32_t end = end_of(b);
    for (uint32_t off = first_of(b); off < end;) {
        uint32_t lf = ld(b, off + 4u);
        uint32_t len = lf & ~FLAG_MASK;
        if (!header_ok(b, key, off, lf) || !len_fits(off, len, end)) {
            return b + off + 8u;
        }
        if (fn(data, b, off, lf)) {
            return NULL;
        }
        off += len;
    }
    return NULL;
}

/* Walks the heap and reports a damaged header; false when it found one. */
static bool walk_checked(uint8_t *b, uint64_t key, walk_fn fn, void *data)
{
    const void *bad = walk(b, key, fn, data);
    if (bad != NULL) {
        heap_fault(b, MEM_FAULT_CORRUPT_HEADER, bad);
        return false;
    }
    return true;
}

typedef struct {
    uint32_t target;
    mem_fault_t verdict;
} classify_t;

static bool classify_one(void *data, uint8_t *b, uint32_t off, uint32_t lf)
{
    (void)b;
    classify_t *c = data;
    uint32_t len = lf & ~FLAG_MASK;
    if (c->target - off >= len) {
        return false;
    }
    bool is_free = (lf & (FLAG_FREE | FLAG_QUICK)) != 0u;
    /* At the chunk itself: only its tags can be what chunk_at refused. */
    c->verdict = is_free ? MEM_FAULT_DOUBLE_FREE
                 : c->target == off ? MEM_FAULT_CORRUPT_HEADER
                                    : MEM_FAULT_INVALID_POINTER;
    return true;
}

mem_fault_t heap_classify(const uint8_t *b, uint64_t key, uint32_t off, const void **where)
{
    classify_t c = {off, MEM_FAULT_INVALID_POINTER};
    const void *bad = walk((uint8_t *)(uintptr_t)b, key, classify_one, &c);
    if (bad != NULL) {
        *where = bad;
        return MEM_FAULT_CORRUPT_HEADER;
    }
    if (c.verdict == MEM_FAULT_CORRUPT_HEADER) {
        *where = b + off + 8u;
    }
    return c.verdict;
}

typedef struct {
    mem_parse_callback_t cb;
    void *data;
} parse_ctx_t;

static bool visit_nothing(void *data, uint8_t *b, uint32_t off, uint32_t lf)
{
    (void)data;
    (void)b;
    (void)off;
    (void)lf;
    return false;
}

static bool parse_one(void *data, uint8_t *b, uint32_t off, uint32_t lf)
{
    const parse_ctx_t *p = data;
    bool vg = san_vg(b);
    if (vg) {
        san_reporting(true); /* the callback is the app's code */
    }
    bool stop = p->cb(p->data, b + off + 8u, (lf & (FLAG_FREE | FLAG_QUICK)) == 0u, lf & ~FLAG_MASK);
    if (vg) {
        san_reporting(false);
    }
    return stop;
}

void mem_parse(mem_ctx_t ctx, mem_parse_callback_t callback, void *data)
{
    if (callback == NULL) {
        return;
    }
    bool vg;
    uint64_t key;
    uint8_t *b = heap_enter(ctx, ctx, &vg, &key);
    /* The headers are verified before the first callback: a call that finds
     * a fault does nothing, so the app never sees half a walk. The second
     * walk checks again, in case the callback broke its contract. */
    if (b != NULL && heap_quick_flush(b, key) && walk_checked(b, key, visit_nothing, NULL)) {
        parse_ctx_t p = {callback, data};
        (void)walk_checked(b, key, parse_one, &p);
    }
    heap_leave(vg);
}

static bool stat_one(void *data, uint8_t *b, uint32_t off, uint32_t lf)
{
    (void)b;
    (void)off;
    mem_stat_t *s = data;
    size_t len = lf & ~FLAG_MASK;
    s->nb_chunks++;
    if ((lf & (FLAG_FREE | FLAG_QUICK)) != 0u) { /* a parked chunk is free to the app */
        s->free_size += len;
        if (len > s->largest_free_size) {
            s->largest_free_size = len;
        }
    } else {
        s->allocated_size += len;
        s->nb_allocated++;
    }
    return false;
}

/* The heap mem_stat's argument designates. Either it is a context (its
 * identity words or the table of heaps say so, damaged or not), or it is
 * the SDK's &ctx form: then its first pointer-sized word is a candidate
 * that is followed only when the library's table (static storage) knows it
 * as a heap. Nothing read from an arena is ever followed unverified.
 * With 4-byte pointers the &ctx form is a 4-byte object: the second identity
 * word (bytes 4..7) is read only once the first word is known to hold no
 * heap the table knows, so that the SDK's mem_stat(&ctx) never reads past
 * its variable (whatever follows it cannot turn it into "no heap"). A
 * damaged heap the table no longer knows whose first word holds another
 * known heap's address then reads as that heap's &ctx: the statistics of a
 * verified heap, never an address followed unverified. */
static mem_ctx_t stat_target(mem_ctx_t *ctx)
{
    const uint8_t *p = (const uint8_t *)ctx;
    const bool small_ptr = sizeof(mem_ctx_t) < 8u;
    bool aligned = ((uintptr_t)p & (GRANULE - 1u)) == 0u;
    if (aligned && ((ld(p, W_ID * 4u) ^ heap_id(p)) <= 1u || heap_registry_has(p) ||
                    (!small_ptr && (ld(p, W_ID2 * 4u) ^ heap_id(p) ^ ID2_XOR) <= 1u))) {
        return (mem_ctx_t)ctx;
    }
    /* Read uninstrumented: under ASan a damaged heap's context is poisoned. */
    mem_ctx_t inner;
    uint32_t words[2] = {ld(p, 0u), 0u};
    if (!small_ptr) {
        words[1] = ld(p, 4u);
    }
    memcpy(&inner, words, sizeof inner);
    if (heap_registry_has(inner)) {
        return inner;
    }
    return small_ptr && aligned && (ld(p, W_ID2 * 4u) ^ heap_id(p) ^ ID2_XOR) <= 1u ? (mem_ctx_t)ctx : NULL;
}

void mem_stat(mem_ctx_t *ctx, mem_stat_t *stat)
{
    if (stat == NULL) {
        return;
    }
    memset(stat, 0, sizeof *stat);
    if (ctx == NULL) {
        return;
    }
    bool vg;
    uint64_t key;
    uint8_t *b = heap_enter(stat_target(ctx), NULL, &vg, &key);
    if (b != NULL) {
        stat->total_size = ld(b, W_TOTAL * 4u);
        if (!heap_quick_flush(b, key) || !walk_checked(b, key, stat_one, stat)) {
            memset(stat, 0, sizeof *stat);
        }
    }
    heap_leave(vg);
}
