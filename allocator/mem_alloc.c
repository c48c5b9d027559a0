/*
 * hardalloc core: a two-level segregated fit (TLSF) heap inside a caller's
 * buffer. Contract: mem_alloc.h. Design notes: docs/ARCHITECTURE.md.
 *
 * Buffer layout (all offsets are bytes from the context base, which is the
 * first 8-byte aligned address of the buffer):
 *
 *   [context][chunk][chunk]...[chunk][sentinel]
 *
 * Context: CTX_WORDS u32 words, a bitmap of non-empty classes (BITMAP_WORDS
 * u64 words), then fl_count * SL_COUNT u32 free-list heads.
 *
 * Chunk at offset o (o % 8 == 0), length len (len % 8 == 0, len >= 16):
 *   o+0  u32 prev_len   length of the previous chunk, meaningful only while
 *                       this chunk's PREV_FREE flag is set; otherwise these
 *                       bytes are the tail of the previous chunk's payload
 *                       (which is why an allocated chunk costs 4 bytes, not 8)
 *   o+4  u32 len_flags  len | FREE (bit 0) | PREV_FREE (bit 1); bit 2 is zero
 *   o+8  payload; a free chunk keeps u32 next_free and prev_free there
 *                       (offsets of list neighbours, 0 = none)
 * The sentinel is a zero-length allocated chunk at offset `end`; its 8 bytes
 * close the heap so that "the next chunk" always exists.
 *
 * Invariants (mem_check verifies all of them): chunks tile [first, end)
 * exactly; no two free chunks are adjacent; PREV_FREE of every chunk equals
 * FREE of its predecessor and then prev_len equals the predecessor's length;
 * every free chunk is in exactly the list its length maps to; a list is
 * non-empty iff its bit in the class bitmap is set.
 *
 * All metadata is read and written with memcpy: the buffer has whatever
 * declared type the app gave it, and memcpy is the one access that is
 * defined for every type (compilers turn it into a single load or store).
 */

#include "mem_alloc.h"

#include <string.h>

#define GRANULE 8u
#define MIN_CHUNK 16u
#define FLAG_FREE 1u
#define FLAG_PREV_FREE 2u
#define FLAG_MASK 7u

/* Second level: 8 classes per power of two; below SMALL_LIMIT the classes
 * are exact (one per granule), so small requests never over-search. The
 * class formula in class_of assumes GRANULE == 8 and SL_LOG2 == 3. */
#define SL_LOG2 3u
#define SL_COUNT (1u << SL_LOG2)
#define SMALL_LIMIT (SL_COUNT * GRANULE)
/* One bit per class, class = fl * SL_COUNT + sl: a single flat bitmap
 * instead of TLSF's two levels, so that linking or unlinking a chunk updates
 * one word, not two, and the search is at most BITMAP_WORDS word scans. */
#define BITMAP_WORDS 4u
#define MAX_FL (BITMAP_WORDS * 64u / SL_COUNT)

/* Bound of the exact-fit scan that runs only when the O(1) search fails. */
#define FALLBACK_SCAN 16u

/* Context words. A list link of 0 means "none" and every list head acts as
 * a pseudo chunk whose next_free field is the head itself (at head - 8), so
 * link updates never branch on list ends: writes through link 0 land in
 * W_SCRATCH (offset 12, the prev_free field of "chunk 0"). */
enum {
    W_KEY,      /* base address folded with HEAP_MAGIC: "this is a heap" */
    W_END,      /* offset of the sentinel */
    W_TOTAL,    /* heap_size reported by mem_stat */
    W_SCRATCH,  /* sink of writes through a 0 link; never read */
    W_FIRST,    /* offset of the first chunk */
    W_FL_COUNT, /* number of first-level classes */
    W_WORDS,    /* bitmap words this heap's classes span */
    W_PAD,
    CTX_WORDS
};
#define BITMAP_AT (CTX_WORDS * 4u)
#define HEADS_AT (BITMAP_AT + 8u * BITMAP_WORDS)

#define HEAP_MAGIC 0x48415244u /* "HARD" */

/* Largest request considered at all: anything above cannot fit any heap,
 * and refusing it first keeps every later size computation inside u32. */
#define MAX_REQUEST ((size_t)MEM_MAX_HEAP_SIZE)

_Static_assert(MEM_MAX_HEAP_SIZE <= (size_t)UINT32_MAX / 2u + 1u, "offsets are u32");
_Static_assert(HEADS_AT % 8u == 0u, "heads stay aligned");

/* The hot path is a handful of small functions; inlining them all into
 * mem_alloc and mem_free is worth about 5 % of an alloc+free pair, at the
 * cost of code size, so a build optimized for size (-Os) keeps them apart. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(__OPTIMIZE_SIZE__)
#define HOT static inline __attribute__((always_inline))
#else
#define HOT static inline
#endif

/* ---- raw access --------------------------------------------------------- */

static inline uint32_t ld(const uint8_t *b, uint32_t off)
{
    uint32_t v;
    memcpy(&v, b + off, sizeof v);
    return v;
}

static inline void st(uint8_t *b, uint32_t off, uint32_t v)
{
    memcpy(b + off, &v, sizeof v);
}

static inline uint64_t ld64(const uint8_t *b, uint32_t off)
{
    uint64_t v;
    memcpy(&v, b + off, sizeof v);
    return v;
}

static inline void st64(uint8_t *b, uint32_t off, uint64_t v)
{
    memcpy(b + off, &v, sizeof v);
}

static inline unsigned fls32(uint32_t x) /* x != 0 */
{
#if defined(__GNUC__) || defined(__clang__)
    return 31u - (unsigned)__builtin_clz(x);
#else
    unsigned r = 0;
    while (x >>= 1) {
        r++;
    }
    return r;
#endif
}

static inline unsigned ffs64(uint64_t x) /* x != 0 */
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned r = 0;
    while (!(x & 1u)) {
        x >>= 1;
        r++;
    }
    return r;
#endif
}

static inline uint32_t heap_key(const void *base)
{
    uint64_t a = (uint64_t)(uintptr_t)base;
    return (uint32_t)(a ^ (a >> 32)) ^ HEAP_MAGIC;
}

/* The context behind ctx, or NULL when ctx designates no heap. */
static inline uint8_t *heap_of(mem_ctx_t ctx)
{
    if (ctx == NULL || ((uintptr_t)ctx & (GRANULE - 1u)) != 0u) {
        return NULL;
    }
    uint8_t *b = ctx;
    return ld(b, W_KEY * 4u) == heap_key(b) ? b : NULL;
}

static inline uint32_t len_of(const uint8_t *b, uint32_t off)
{
    return ld(b, off + 4u) & ~FLAG_MASK;
}

/* ---- size classes ------------------------------------------------------- */

/* Shift that turns a length into its offset inside its power of two: 0
 * below SMALL_LIMIT (exact 8-byte classes), then fls(len) - SL_LOG2 - 3. */
static inline unsigned class_shift(uint32_t len)
{
    return fls32((len / SMALL_LIMIT) | 1u);
}

/* Class of a length: class = first level * SL_COUNT + second level. Below
 * SMALL_LIMIT one class per granule; above, the first level is the top bit
 * and the second level the next SL_LOG2 bits. The form 8 * s + (len >> (s +
 * 3)) yields both at once, without a branch: lengths arrive in random order. */
static inline uint32_t class_of(uint32_t len)
{
    unsigned s = class_shift(len);
    return SL_COUNT * s + (len >> (s + 3u));
}

static inline uint32_t head_at(uint32_t cls)
{
    return HEADS_AT + 4u * cls;
}

static inline uint32_t word_at(uint32_t cls)
{
    return BITMAP_AT + 8u * (cls / 64u);
}

static inline uint32_t fl_count_for(uint32_t len)
{
    return class_of(len) / SL_COUNT + 1u;
}

/* ---- free lists --------------------------------------------------------- */

HOT void list_insert(uint8_t *b, uint32_t off, uint32_t len)
{
    uint32_t cls = class_of(len);
    uint32_t head = head_at(cls);
    uint32_t h = ld(b, head);
    st(b, off + 8u, h);
    st(b, off + 12u, head - 8u);
    st(b, h + 12u, off);
    st(b, head, off);
    st64(b, word_at(cls), ld64(b, word_at(cls)) | (uint64_t)1u << (cls % 64u));
}

/* Unlinks a free chunk. The list became empty exactly when the chunk had no
 * successor and its predecessor is a list head (a pseudo chunk inside the
 * context, below `first`); the head's position then names the class whose
 * bit to clear, so no size class is computed. */
HOT void list_remove(uint8_t *b, uint32_t off)
{
    uint32_t next = ld(b, off + 8u);
    uint32_t prev = ld(b, off + 12u);
    st(b, prev + 8u, next);
    st(b, next + 12u, prev);
    uint32_t emptied = (uint32_t)(next == 0u) & (uint32_t)(prev < ld(b, W_FIRST * 4u));
    uint32_t cls = ((prev + 8u - HEADS_AT) / 4u) & (0u - emptied);
    st64(b, word_at(cls), ld64(b, word_at(cls)) & ~((uint64_t)emptied << (cls % 64u)));
}

/* First chunk of at least len bytes in the request's own class: the good-fit
 * search skips that class because it may hold chunks smaller than len. */
static uint32_t find_exact(const uint8_t *b, uint32_t len)
{
    uint32_t cls = class_of(len);
    if (cls >= ld(b, W_FL_COUNT * 4u) * SL_COUNT) {
        return 0u;
    }
    uint32_t off = ld(b, head_at(cls));
    for (unsigned i = 0; off != 0u && i < FALLBACK_SCAN; i++) {
        if (len_of(b, off) >= len) {
            return off;
        }
        off = ld(b, off + 8u);
    }
    return 0u;
}

/* A free chunk of at least len bytes, still linked, or 0. The request is
 * rounded up to the next class boundary so that the head of any non-empty
 * class found fits (good fit); small classes are exact and need no rounding. */
HOT uint32_t find_free(const uint8_t *b, uint32_t len)
{
    uint32_t cls = class_of(len + (GRANULE << class_shift(len)) - 1u);
    uint32_t words = ld(b, W_WORDS * 4u);
    uint32_t w = cls / 64u;
    uint64_t bits = w < words ? ld64(b, word_at(cls)) & (~(uint64_t)0u << (cls % 64u)) : 0u;
    while (bits == 0u) {
        if (++w >= words) {
            return find_exact(b, len);
        }
        bits = ld64(b, BITMAP_AT + 8u * w);
    }
    return ld(b, head_at(64u * w + ffs64(bits)));
}

/* ---- chunk surgery ------------------------------------------------------ */

/* Makes [off, off+len) a free chunk, links it, and tells the next chunk. */
HOT void make_free(uint8_t *b, uint32_t off, uint32_t len)
{
    st(b, off + 4u, len | FLAG_FREE);
    uint32_t next = off + len;
    st(b, next, len);
    st(b, next + 4u, ld(b, next + 4u) | FLAG_PREV_FREE);
    list_insert(b, off, len);
}

/* Turns the unlinked region [off, off+have) into an allocated chunk of need
 * bytes, returning the rest to the free lists when it can hold a chunk. The
 * chunk after the region is allocated (free neighbours were merged). */
static void take(uint8_t *b, uint32_t off, uint32_t have, uint32_t need, uint32_t prev_flag)
{
    if (have - need >= MIN_CHUNK) {
        st(b, off + 4u, need | prev_flag);
        make_free(b, off + need, have - need);
    } else {
        st(b, off + 4u, have | prev_flag);
        uint32_t next = off + have;
        st(b, next + 4u, ld(b, next + 4u) & ~FLAG_PREV_FREE);
    }
}

static inline uint32_t request_len(size_t n) /* 0 < n <= MAX_REQUEST */
{
    uint32_t len = ((uint32_t)n + MEM_CHUNK_OVERHEAD + GRANULE - 1u) & ~(GRANULE - 1u);
    return len < MIN_CHUNK ? MIN_CHUNK : len;
}

/* Offset of the allocated chunk whose payload is ptr, or 0 when ptr is not
 * one: outside the heap, misaligned, free, or with a header the next chunk
 * contradicts. Reads only inside the heap. The predecessor's tags are left to
 * prev_tags_ok, which mem_free runs only where it branches on them anyway. */
HOT uint32_t chunk_at(const uint8_t *b, const void *ptr)
{
    uint32_t first = ld(b, W_FIRST * 4u);
    uint32_t end = ld(b, W_END * 4u);
    /* One unsigned comparison tests both bounds: payloads lie in
     * [first + 8, end - 8]. Pointers of other objects compare as integers. */
    uintptr_t rel = (uintptr_t)ptr - (uintptr_t)b;
    if (rel - (first + 8u) > (uintptr_t)(end - first - 16u) || (rel & (GRANULE - 1u)) != 0u) {
        return 0u;
    }
    uint32_t off = (uint32_t)rel - 8u;
    uint32_t lf = ld(b, off + 4u);
    uint32_t len = lf & ~FLAG_MASK;
    /* Conditions or-ed, not short-circuited: one branch, and every read
     * stays inside the heap because len is bounded before it is used. */
    uint32_t bad = (uint32_t)((lf & (FLAG_FREE | 4u)) != 0u) | (uint32_t)(len < MIN_CHUNK) |
                   (uint32_t)(len > end - off);
    if (bad != 0u || (ld(b, off + len + 4u) & FLAG_PREV_FREE) != 0u) {
        return 0u;
    }
    return off;
}

/* A chunk at off (not first) claims a free predecessor of prev_len bytes:
 * that predecessor must lie in the heap and say so itself. */
static bool prev_tags_ok(const uint8_t *b, uint32_t off, uint32_t prev_len)
{
    return prev_len >= MIN_CHUNK && prev_len <= off - ld(b, W_FIRST * 4u) &&
           (prev_len & FLAG_MASK) == 0u && ld(b, off - prev_len + 4u) == (prev_len | FLAG_FREE);
}

/* chunk_at plus the predecessor's tags: ptr is an allocated chunk. */
static uint32_t chunk_of(const uint8_t *b, const void *ptr)
{
    uint32_t off = chunk_at(b, ptr);
    if (off == 0u || (ld(b, off + 4u) & FLAG_PREV_FREE) == 0u || prev_tags_ok(b, off, ld(b, off))) {
        return off;
    }
    return 0u;
}

/* Frees a validated chunk, merging it with its free neighbours. */
HOT void free_chunk(uint8_t *b, uint32_t off)
{
    uint32_t lf = ld(b, off + 4u);
    uint32_t len = lf & ~FLAG_MASK;
    uint32_t prev_len = 0u;
    if ((lf & FLAG_PREV_FREE) != 0u) {
        prev_len = ld(b, off);
        if (!prev_tags_ok(b, off, prev_len)) {
            return; /* not a chunk of this heap after all: write nothing */
        }
    }
    uint32_t nf = ld(b, off + len + 4u);
    if ((nf & FLAG_FREE) != 0u) {
        list_remove(b, off + len);
        len += nf & ~FLAG_MASK;
    }
    if (prev_len != 0u) {
        off -= prev_len;
        list_remove(b, off);
        len += prev_len;
    }
    make_free(b, off, len);
}

/* ---- public API --------------------------------------------------------- */

mem_ctx_t mem_init(void *heap_start, size_t heap_size)
{
    if (heap_start == NULL || heap_size < MEM_MIN_HEAP_SIZE) {
        return NULL;
    }
    uintptr_t start = (uintptr_t)heap_start;
    if (heap_size - 1u > UINTPTR_MAX - start) {
        return NULL; /* the buffer would wrap the address space */
    }
    uintptr_t lead = (GRANULE - (start & (GRANULE - 1u))) & (GRANULE - 1u);
    size_t managed = heap_size - lead;
    if (managed > MEM_MAX_HEAP_SIZE) {
        managed = MEM_MAX_HEAP_SIZE;
    }
    uint32_t size = (uint32_t)managed & ~(GRANULE - 1u);
    /* Classes only up to the largest chunk this heap can ever hold. */
    uint32_t fl_count = fl_count_for(size - HEADS_AT - GRANULE);
    uint32_t first = HEADS_AT + 4u * fl_count * SL_COUNT;
    uint32_t end = size - GRANULE;
    /* MEM_MIN_HEAP_SIZE leaves room for the context and a minimal chunk. */
    uint8_t *b = (uint8_t *)heap_start + lead;
    memset(b, 0, first);
    st(b, W_KEY * 4u, heap_key(b));
    st(b, W_END * 4u, end);
    st(b, W_TOTAL * 4u, (uint32_t)(heap_size < MEM_MAX_HEAP_SIZE ? heap_size : MEM_MAX_HEAP_SIZE));
    st(b, W_FIRST * 4u, first);
    st(b, W_FL_COUNT * 4u, fl_count);
    st(b, W_WORDS * 4u, (fl_count * SL_COUNT + 63u) / 64u);
    st(b, end + 4u, 0u); /* sentinel: allocated, zero length */
    make_free(b, first, end - first);
    return b;
}

void *mem_alloc(mem_ctx_t ctx, size_t nb_bytes)
{
    uint8_t *b = heap_of(ctx);
    if (b == NULL || nb_bytes == 0u || nb_bytes > MAX_REQUEST) {
        return NULL;
    }
    uint32_t need = request_len(nb_bytes);
    uint32_t off = find_free(b, need);
    if (off == 0u) {
        return NULL;
    }
    uint32_t have = len_of(b, off);
    list_remove(b, off);
    if (have - need < MIN_CHUNK) {
        take(b, off, have, have, 0u); /* a free chunk's predecessor is never free */
        return b + off + 8u;
    }
    /* The split of take(), minus its update of the next chunk's flags: the
     * chunk after a free chunk already says its predecessor is free. On the
     * hottest path this saves 10 of about 283 instructions per alloc+free
     * pair (bench/instructions), a few percent of its time. */
    st(b, off + 4u, need);
    st(b, off + need + 4u, (have - need) | FLAG_FREE);
    st(b, off + have, have - need);
    list_insert(b, off + need, have - need);
    return b + off + 8u;
}

void mem_free(mem_ctx_t ctx, void *ptr)
{
    uint8_t *b = heap_of(ctx);
    if (b == NULL || ptr == NULL) {
        return;
    }
    uint32_t off = chunk_at(b, ptr);
    if (off != 0u) {
        free_chunk(b, off);
    }
}

void *mem_realloc(mem_ctx_t ctx, void *ptr, size_t size)
{
    uint8_t *b = heap_of(ctx);
    if (b == NULL) {
        return NULL;
    }
    if (ptr == NULL) {
        return mem_alloc(ctx, size);
    }
    uint32_t off = chunk_of(b, ptr);
    if (off == 0u) {
        return NULL;
    }
    if (size == 0u) {
        free_chunk(b, off);
        return NULL;
    }
    if (size > MAX_REQUEST) {
        return NULL;
    }
    uint32_t need = request_len(size);
    uint32_t lf = ld(b, off + 4u);
    uint32_t prev_flag = lf & FLAG_PREV_FREE;
    uint32_t have = lf & ~FLAG_MASK;
    uint32_t next = off + have;
    uint32_t nf = ld(b, next + 4u);
    uint32_t next_len = (nf & FLAG_FREE) != 0u ? nf & ~FLAG_MASK : 0u;

    if (need <= have) {
        if (have - need >= MIN_CHUNK) {
            /* The tail becomes a chunk of its own, freed like any other:
             * free_chunk merges it with a free successor. */
            st(b, off + 4u, need | prev_flag);
            st(b, off + need + 4u, have - need);
            free_chunk(b, off + need);
        }
        return ptr;
    }
    if (next_len != 0u && have + next_len >= need) {
        list_remove(b, next);
        take(b, off, have + next_len, need, prev_flag);
        return ptr;
    }
    void *moved = mem_alloc(ctx, size);
    if (moved != NULL) {
        memcpy(moved, ptr, have - MEM_CHUNK_OVERHEAD);
        free_chunk(b, off);
        return moved;
    }
    /* Last resort before failing: slide down into the free predecessor. */
    if (prev_flag != 0u) {
        uint32_t prev_len = ld(b, off);
        if (prev_len + have + next_len >= need) {
            uint32_t start = off - prev_len;
            list_remove(b, start);
            if (next_len != 0u) {
                list_remove(b, next);
            }
            memmove(b + start + 8u, ptr, have - MEM_CHUNK_OVERHEAD);
            take(b, start, prev_len + have + next_len, need, 0u);
            return b + start + 8u;
        }
    }
    return NULL;
}

size_t mem_usable_size(mem_ctx_t ctx, const void *ptr)
{
    const uint8_t *b = heap_of(ctx);
    if (b == NULL || ptr == NULL) {
        return 0u;
    }
    uint32_t off = chunk_of(b, ptr);
    return off == 0u ? 0u : len_of(b, off) - MEM_CHUNK_OVERHEAD;
}

/* Physical walk shared by mem_parse and mem_stat. Stops at the first chunk
 * whose length cannot be right, so a corrupted heap is never walked out of. */
typedef bool (*walk_fn)(void *data, uint8_t *b, uint32_t off, uint32_t lf);

static void walk(uint8_t *b, walk_fn fn, void *data)
{
    uint32_t end = ld(b, W_END * 4u);
    for (uint32_t off = ld(b, W_FIRST * 4u); off < end;) {
        uint32_t lf = ld(b, off + 4u);
        uint32_t len = lf & ~FLAG_MASK;
        if (len < MIN_CHUNK || len > end - off || fn(data, b, off, lf)) {
            return;
        }
        off += len;
    }
}

typedef struct {
    mem_parse_callback_t cb;
    void *data;
} parse_ctx_t;

static bool parse_one(void *data, uint8_t *b, uint32_t off, uint32_t lf)
{
    const parse_ctx_t *p = data;
    return p->cb(p->data, b + off + 8u, (lf & FLAG_FREE) == 0u, lf & ~FLAG_MASK);
}

void mem_parse(mem_ctx_t ctx, mem_parse_callback_t callback, void *data)
{
    uint8_t *b = heap_of(ctx);
    if (b == NULL || callback == NULL) {
        return;
    }
    parse_ctx_t p = {callback, data};
    walk(b, parse_one, &p);
}

static bool stat_one(void *data, uint8_t *b, uint32_t off, uint32_t lf)
{
    (void)b;
    (void)off;
    mem_stat_t *s = data;
    size_t len = lf & ~FLAG_MASK;
    s->nb_chunks++;
    if ((lf & FLAG_FREE) != 0u) {
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

void mem_stat(mem_ctx_t *ctx, mem_stat_t *stat)
{
    if (stat == NULL) {
        return;
    }
    memset(stat, 0, sizeof *stat);
    if (ctx == NULL) {
        return;
    }
    uint8_t *b = heap_of((mem_ctx_t)ctx);
    if (b == NULL) {
        mem_ctx_t inner;
        memcpy(&inner, ctx, sizeof inner);
        b = heap_of(inner);
    }
    if (b == NULL) {
        return;
    }
    stat->total_size = ld(b, W_TOTAL * 4u);
    walk(b, stat_one, stat);
}

/* ---- validation --------------------------------------------------------- */

static bool link_ok(uint32_t link, uint32_t first, uint32_t end)
{
    return link == 0u ||
           (link >= first && link < end && end - link >= MIN_CHUNK && (link & FLAG_MASK) == 0u);
}

static bool context_ok(const uint8_t *b)
{
    uint32_t fl_count = ld(b, W_FL_COUNT * 4u);
    uint32_t first = ld(b, W_FIRST * 4u);
    uint32_t end = ld(b, W_END * 4u);
    if (fl_count == 0u || fl_count > MAX_FL || first != HEADS_AT + 4u * fl_count * SL_COUNT ||
        end < first || end - first < MIN_CHUNK || (end & FLAG_MASK) != 0u ||
        end > (uint32_t)MEM_MAX_HEAP_SIZE - GRANULE || fl_count != fl_count_for(end - HEADS_AT) ||
        ld(b, W_WORDS * 4u) != (fl_count * SL_COUNT + 63u) / 64u) {
        return false;
    }
    /* No bit for a class this heap does not have. */
    uint32_t classes = fl_count * SL_COUNT;
    for (uint32_t w = 0; w < BITMAP_WORDS; w++) {
        uint64_t allowed = classes >= 64u * (w + 1u) ? ~(uint64_t)0u
                           : classes <= 64u * w  ? 0u
                                                 : ((uint64_t)1u << (classes - 64u * w)) - 1u;
        if ((ld64(b, BITMAP_AT + 8u * w) & ~allowed) != 0u) {
            return false;
        }
    }
    return true;
}

/* Physical walk: tiling, boundary tags, no adjacent free chunks, and each
 * free chunk's own links point back at it. Counts the free chunks. */
static bool chunks_ok(const uint8_t *b, uint32_t *nb_free)
{
    uint32_t first = ld(b, W_FIRST * 4u);
    uint32_t end = ld(b, W_END * 4u);
    uint32_t off = first;
    uint32_t prev_len = 0u;
    bool prev_free = false;
    *nb_free = 0u;
    while (off < end) {
        uint32_t lf = ld(b, off + 4u);
        uint32_t len = lf & ~FLAG_MASK;
        bool is_free = (lf & FLAG_FREE) != 0u;
        if ((lf & 4u) != 0u || len < MIN_CHUNK || len > end - off ||
            ((lf & FLAG_PREV_FREE) != 0u) != prev_free || (prev_free && ld(b, off) != prev_len) ||
            (is_free && prev_free)) {
            return false;
        }
        if (is_free) {
            uint32_t next = ld(b, off + 8u);
            uint32_t prev = ld(b, off + 12u);
            uint32_t cls = class_of(len);
            if (cls >= ld(b, W_FL_COUNT * 4u) * SL_COUNT || !link_ok(next, first, end) ||
                (prev != head_at(cls) - 8u && (prev == 0u || !link_ok(prev, first, end))) ||
                ld(b, prev + 8u) != off || (next != 0u && ld(b, next + 12u) != off)) {
                return false;
            }
            (*nb_free)++;
        }
        prev_free = is_free;
        prev_len = len;
        off += len;
    }
    uint32_t sentinel = ld(b, end + 4u);
    return off == end &&
           sentinel == (prev_free ? FLAG_PREV_FREE : 0u) && (!prev_free || ld(b, end) == prev_len);
}

/* Every list: its bitmap bit, its nodes (free, in range, in the right class,
 * back links), and in total exactly the free chunks the walk counted. A
 * list is non-empty iff its bit is set: every set bit's head is checked
 * while walking its list, and the number of non-empty heads must equal the
 * number of set bits (context_ok already refused bits past the classes). */
static bool lists_ok(const uint8_t *b, uint32_t nb_free)
{
    uint32_t first = ld(b, W_FIRST * 4u);
    uint32_t end = ld(b, W_END * 4u);
    uint32_t classes = ld(b, W_FL_COUNT * 4u) * SL_COUNT;
    uint32_t heads_in_use = 0u;
    for (uint32_t cls = 0; cls < classes; cls++) {
        heads_in_use += (uint32_t)(ld(b, head_at(cls)) != 0u);
    }
    uint32_t bits = 0u, seen = 0u;
    for (uint32_t w = 0; w < BITMAP_WORDS; w++) {
        for (uint64_t word = ld64(b, BITMAP_AT + 8u * w); word != 0u; word &= word - 1u) {
            uint32_t cls = 64u * w + ffs64(word);
            uint32_t prev = head_at(cls) - 8u;
            uint32_t node = ld(b, head_at(cls));
            bits++;
            if (node == 0u) {
                return false;
            }
            while (node != 0u) {
                if (!link_ok(node, first, end) || ++seen > nb_free) {
                    return false;
                }
                uint32_t lf = ld(b, node + 4u);
                if ((lf & FLAG_FREE) == 0u || class_of(lf & ~FLAG_MASK) != cls ||
                    ld(b, node + 12u) != prev) {
                    return false;
                }
                prev = node;
                node = ld(b, node + 8u);
            }
        }
    }
    return bits == heads_in_use && seen == nb_free;
}

bool mem_check(mem_ctx_t ctx)
{
    const uint8_t *b = heap_of(ctx);
    uint32_t nb_free;
    return b != NULL && context_ok(b) && chunks_ok(b, &nb_free) && lists_ok(b, nb_free);
}
