/*
 * hardalloc core: a two-level segregated fit (TLSF) heap inside a caller's
 * buffer, with hardened metadata. Contract: mem_alloc.h. Layout and
 * invariants: heap_internal.h. Design notes: docs/ARCHITECTURE.md.
 *
 * Every operation verifies what it is about to follow before it writes
 * anything: the pointer's header checksum and canary, the neighbours'
 * headers and lengths it merges with, the links it unlinks (they must stay
 * inside the heap and point back). A misuse (bad pointer, double free) is
 * reported and nothing is written; a corruption is reported and fails the
 * heap closed. No signed word is left where a payload will be handed out.
 */

#include "heap_call.h"
#include "heap_registry.h"

#include <string.h>

/* ---- wiping and poison -------------------------------------------------- */

/* Fills [from, to) with byte v: the wipe of freed payloads and of what a
 * resized block no longer holds (from may be unaligned: a request's end).
 * Under ASan the range may be poisoned already, so an uninstrumented loop
 * is used. */
static inline void wipe(uint8_t *b, uint32_t from, uint32_t to, uint8_t v)
{
#ifdef HEAP_ASAN
    fill_bytes(b, from, to, v);
#else
    memset(b + from, v, to - from);
#endif
}

/* What a free payload holds: zero when hardened, the poison pattern when
 * paranoid (verified on reuse). Off, payloads are not wiped. */
#define FREE_BYTE (PARANOID ? POISON_BYTE : 0u)

/* paranoid: first word in the poisoned part of the free chunk at off (len
 * bytes) below upto that lost its poison, or 0. The poisoned part is all of
 * the chunk but its header, links and tail word. */
static uint32_t poison_broken(const uint8_t *b, uint32_t off, uint32_t len, uint32_t upto)
{
    uint32_t to = tail_at(off, len);
    return find_not_word(b, off + 16u, upto < to ? upto : to, POISON_WORD);
}

/* ---- free lists --------------------------------------------------------- */

/* Hardened: a list neighbour at pos is a free chunk of this heap (in range,
 * checksummed header, FREE). A back link alone would not do: the payload of
 * a live block is the app's data and could hold one, and an unlink would
 * then write into that live block. */
HOT bool free_neighbour_ok(heap_t h, uint64_t key, uint32_t pos)
{
    uint8_t *b = h.b;
    if (!chunk_pos_ok(pos, heap_first(h), heap_end(h))) {
        return false;
    }
    uint32_t lf = ld(b, pos + 4u);
    return (lf & FLAG_FREE) != 0u && free_header_ok(b, key, pos, lf);
}

/* Hardened: a list successor (link `next` of the chunk or pseudo chunk at
 * back) is none, or a free chunk of this heap that points back at it. */
HOT bool successor_ok(heap_t h, uint64_t key, uint32_t next, uint32_t back)
{
    uint8_t *b = h.b;
    return next == 0u || (free_neighbour_ok(h, key, next) && ld(b, next + 12u) == back);
}

/* Hardened: the free chunk at off may be unlinked. Its links lead to free
 * chunks of this heap (prev may be a list head: a pseudo chunk 8 bytes
 * before the head) that point back at it, so unlinking writes only into
 * the link fields of free chunks and list heads. */
HOT bool links_ok(heap_t h, uint64_t key, uint32_t off)
{
    uint8_t *b = h.b;
    if (!HARDENED) {
        return true;
    }
    uint32_t next = ld(b, off + 8u);
    uint32_t prev = ld(b, off + 12u);
    uint32_t heads = 4u * classes_at(heap_first(h));
    bool prev_in = (prev - (HEADS_AT - 8u) < heads && (prev & 3u) == 0u) ||
                   free_neighbour_ok(h, key, prev);
    return prev_in && ld(b, prev + 8u) == off && successor_ok(h, key, next, off);
}

/* Links the free chunk at off at the head of its class. Hardened, false
 * (nothing written) when the list's first chunk is no free chunk pointing
 * back at the head: the head or that chunk is damaged. */
HOT bool list_insert(heap_t h, uint64_t key, uint32_t off, uint32_t len)
{
    uint8_t *b = h.b;
    uint32_t cls = class_of(len);
    uint32_t head = head_at(cls);
    uint32_t top = ld(b, head);
    if (HARDENED && !successor_ok(h, key, top, head - 8u)) {
        return false;
    }
    st(b, off + 8u, top);
    st(b, off + 12u, head - 8u);
    st(b, top + 12u, off);
    st(b, head, off);
    if (HARDENED) {
        st(b, W_SCRATCH * 4u, 0u); /* top was 0: the write above landed there */
    }
    st64(b, word_at(cls), ld64(b, word_at(cls)) | (uint64_t)1u << (cls % 64u));
    return true;
}

/* Unlinks a free chunk (hardened: after links_ok). The list became empty
 * exactly when the chunk had no successor and its predecessor is a list head
 * (a pseudo chunk inside the context, below `first`); the head's position
 * then names the class whose bit to clear, so no size class is computed.
 * A branch, not a branch-free mask: 15 fewer instructions per alloc+free
 * pair and 14 fewer bytes of Thumb code, which is what a Cortex-M pays; on
 * a deep x86 pipeline its mispredictions cost off about 4 ns per pair
 * (docs/BENCHMARKS.md). */
HOT void list_remove(heap_t h, uint32_t off)
{
    uint8_t *b = h.b;
    uint32_t next = ld(b, off + 8u);
    uint32_t prev = ld(b, off + 12u);
    st(b, prev + 8u, next);
    st(b, next + 12u, prev);
    if (HARDENED) {
        st(b, W_SCRATCH * 4u, 0u); /* next was 0: the write above landed there */
    }
    if (next == 0u && prev < heap_first(h)) {
        uint32_t cls = (prev + 8u - HEADS_AT) / 4u;
        st64(b, word_at(cls), ld64(b, word_at(cls)) & ~((uint64_t)1u << (cls % 64u)));
    }
}

/* A head whose bitmap bit is set but which is empty: not a chunk offset (it
 * is misaligned), so the caller's verification reports the context. */
#define EMPTY_HEAD 1u

/* find_exact's scan of the list that starts at off (not 0), out of line:
 * most calls find the list empty and never get here. */
static __attribute__((noinline)) uint32_t exact_scan(heap_t h, uint32_t off, uint32_t len)
{
    uint8_t *b = h.b;
    uint32_t first = heap_first(h);
    uint32_t end = heap_end(h);
    for (unsigned i = 0; off != 0u && i < FALLBACK_SCAN; i++) {
        if (HARDENED && !chunk_pos_ok(off, first, end)) {
            return off;
        }
        if (len_of(b, off) >= len) {
            return off;
        }
        off = ld(b, off + 8u);
    }
    return 0u;
}

/* First chunk of at least len bytes in the request's own class: the good-fit
 * search skips that class because it may hold chunks smaller than len.
 * Hardened, a link that leaves the heap is returned as is, for the caller's
 * verification to report. An empty list costs one head load. */
HOT uint32_t find_exact(heap_t h, uint32_t len)
{
    uint32_t cls = class_of(len);
    if (cls >= classes_at(heap_first(h))) {
        return 0u;
    }
    uint32_t off = ld(h.b, head_at(cls));
    return off == 0u ? 0u : exact_scan(h, off, len);
}

/* A free chunk of at least len bytes, still linked, or 0. The request is
 * rounded up to the next class boundary so that the head of any non-empty
 * class found fits (good fit); small classes are exact and need no rounding. */
HOT uint32_t find_free(heap_t h, uint32_t len)
{
    uint8_t *b = h.b;
    /* len's class, or the next one when len lies inside it (one fls:
     * class_of computes the same shift). */
    uint32_t cls = class_of(len) + (uint32_t)((len & ((GRANULE << class_shift(len)) - 1u)) != 0u);
    /* Every context has BITMAP_WORDS bitmap words (any request's class lies
     * in them); a healthy heap's bits past its own classes are 0, and a set
     * one is caught below, so the scan need not know the heap's classes. */
    uint32_t w = cls / 64u;
    uint64_t bits = ld64(b, word_at(cls)) & (~(uint64_t)0u << (cls % 64u));
    while (bits == 0u) {
        if (++w >= BITMAP_WORDS) {
            return find_exact(h, len);
        }
        bits = ld64(b, BITMAP_AT + 8u * w);
    }
    uint32_t cls_found = 64u * w + ffs64(bits);
    if (head_at(cls_found) >= heap_first(h)) {
        return EMPTY_HEAD; /* a bit past every head: its head would lie in a chunk */
    }
    /* (A bit whose head is a quick head leads to a parked chunk, which
     * listed_ok refuses, blaming the bitmap.) */
    uint32_t off = ld(b, head_at(cls_found));
    return HARDENED && off == 0u ? EMPTY_HEAD : off;
}

/* The chunk at pos says it is free with length and flags lf, and is about
 * to be merged with or grown into: its header, length and links must check
 * out first. The fault, or MEM_FAULT_NONE. */
HOT mem_fault_t mergeable(heap_t h, uint64_t key, uint32_t pos, uint32_t lf)
{
    if (!free_header_ok(h.b, key, pos, lf) || !len_fits(pos, lf & ~FLAG_MASK, heap_end(h))) {
        return MEM_FAULT_CORRUPT_HEADER;
    }
    return links_ok(h, key, pos) ? MEM_FAULT_NONE : MEM_FAULT_CORRUPT_LINK;
}

/* The chunk at off, found through a list for a request of need bytes, is a
 * free chunk that big, inside the heap, whose header (hardened: checksum)
 * and links (hardened) check out. Off checks the position and the length. */
static mem_fault_t listed_ok(heap_t h, uint64_t key, uint32_t off, uint32_t need)
{
    uint8_t *b = h.b;
    uint32_t first = heap_first(h);
    uint32_t end = heap_end(h);
    if (off == EMPTY_HEAD) {
        return MEM_FAULT_CORRUPT_CONTEXT;
    }
    uint32_t lf = chunk_pos_ok(off, first, end) ? ld(b, off + 4u) : 0u;
    if ((lf & FLAG_FREE) != 0u) {
        /* The checks of a chunk about to be merged: header, length, links. */
        mem_fault_t f = mergeable(h, key, off, lf);
        if (f == MEM_FAULT_CORRUPT_HEADER || (lf & ~FLAG_MASK) >= need) {
            return f;
        }
    } else if (lf != 0u && !header_ok(b, key, off, lf)) {
        return MEM_FAULT_CORRUPT_HEADER;
    }
    /* No free chunk there: whoever pointed at it is damaged: the bitmap
     * (a bit for a class the heap does not have, whose head word find_free
     * read is a quick head), a list head (both the context) or a chunk's
     * link. Fault path only: ask the bitmap, then scan the heads. */
    uint32_t classes = classes_at(heap_first(h));
    if (bitmap_beyond(b, classes)) {
        return MEM_FAULT_CORRUPT_CONTEXT;
    }
    for (uint32_t c = 0; c < classes && c < MAX_FL * SL_COUNT; c++) {
        if (ld(b, head_at(c)) == off) {
            return MEM_FAULT_CORRUPT_CONTEXT;
        }
    }
    return MEM_FAULT_CORRUPT_LINK;
}

/* ---- chunk surgery ------------------------------------------------------ */

/* Writes the header of an allocated chunk serving a request of n bytes
 * (hardened: its checksum with the slack, and the canary right after the
 * n bytes). */
HOT void set_allocated(heap_t h, uint64_t key, uint32_t off, uint32_t len_flags, uint32_t n)
{
    uint8_t *b = h.b;
    st(b, off + 4u, len_flags);
    if (HARDENED) {
        uint32_t slack = (len_flags & ~FLAG_MASK) - MEM_CHUNK_OVERHEAD - n;
        uint32_t check = header_check(key, off, len_flags, slack);
        st(b, off, check);
        st(b, canary_at(off, n), canary_of(check));
    }
}

/* Makes [off, off+len) a free chunk and links it. The chunk before it is
 * allocated; tell_next: the chunk after it still says its predecessor is
 * allocated and is told otherwise (false when what lay there before was
 * free already). False when the list is damaged. */
HOT bool make_free(heap_t h, uint64_t key, uint32_t off, uint32_t len, bool tell_next)
{
    uint8_t *b = h.b;
    uint32_t lf = len | FLAG_FREE;
    st(b, off + 4u, lf);
    if (HARDENED) {
        st(b, off, header_check(key, off, lf, 0u));
    }
    st(b, tail_at(off, len), len);
    if (tell_next) {
        uint32_t next = off + len;
        st(b, next + 4u, ld(b, next + 4u) | FLAG_PREV_FREE);
    }
    return list_insert(h, key, off, len);
}

/* Turns the unlinked region [off, off+have) into an allocated chunk of need
 * bytes serving a request of n, returning the rest to the free lists when it can hold a chunk; the
 * chunk after the region is allocated. tail_free: the region ends with what
 * was a free chunk, so that chunk after it already says its predecessor is
 * free. Paranoid: the rest's payload below dirty_end held live data or
 * headers and is poisoned again. Returns the chunk's length, or 0 when the
 * rest could not be linked. */
HOT uint32_t take(heap_t h, uint64_t key, uint32_t off, uint32_t have, uint32_t need, uint32_t n,
                  uint32_t prev_flag, uint32_t dirty_end, bool tail_free)
{
    uint8_t *b = h.b;
    uint32_t len = have;
    if (have - need >= MIN_CHUNK) {
        len = need;
        uint32_t rest = off + need;
        if (PARANOID && dirty_end > rest + 16u) {
            uint32_t to = tail_at(rest, have - need);
            fill_words(b, rest + 16u, dirty_end < to ? dirty_end : to, POISON_WORD);
        }
        if (!make_free(h, key, rest, have - need, !tail_free)) {
            return 0u;
        }
    } else {
        uint32_t next = off + have;
        st(b, next + 4u, ld(b, next + 4u) & ~FLAG_PREV_FREE);
    }
    set_allocated(h, key, off, len | prev_flag, n);
    return len;
}

static inline uint32_t request_len(size_t n) /* 0 < n <= MAX_REQUEST */
{
    uint32_t len = ((uint32_t)n + MEM_CHUNK_OVERHEAD + GRANULE - 1u) & ~(GRANULE - 1u);
    return len < MIN_CHUNK ? MIN_CHUNK : len;
}

/* A chunk at off (not first) claims a free predecessor of prev_len bytes:
 * that predecessor must lie in the heap, say so in its own header and be
 * mergeable. */
HOT bool prev_ok(heap_t h, uint64_t key, uint32_t off, uint32_t prev_len)
{
    if (prev_len < MIN_CHUNK || prev_len > off - heap_first(h) || (prev_len & FLAG_MASK) != 0u) {
        return false;
    }
    uint32_t p = off - prev_len;
    uint32_t plf = ld(h.b, p + 4u);
    return plf == (prev_len | FLAG_FREE) && mergeable(h, key, p, plf) == MEM_FAULT_NONE;
}

/* The chunk at next (length and flags nf) follows a live chunk: when it is
 * free, it must be mergeable. The fault, or MEM_FAULT_NONE. */
HOT mem_fault_t free_successor_ok(heap_t h, uint64_t key, uint32_t next, uint32_t nf)
{
    return (nf & FLAG_FREE) == 0u ? MEM_FAULT_NONE : mergeable(h, key, next, nf);
}

/* True, with its offset in *at, when ptr is the payload of an allocated
 * chunk; else false with the reason in *why: outside the heap or
 * misaligned, already free, a length past the end, or a broken canary;
 * MEM_FAULT_NONE when the header fails its checksum (or, off, its tags),
 * which only a walk can tell apart (refuse_pointer). A flag, not an offset
 * of 0, says which: the caller then tests no offset the compiler cannot
 * prove non-zero. Reads only inside the heap and writes nothing. */
HOT bool chunk_at(heap_t h, uint64_t key, const void *ptr, mem_fault_t *why, uint32_t *at)
{
    uint8_t *b = h.b;
    uint32_t first = heap_first(h);
    uint32_t end = heap_end(h);
    /* One unsigned comparison tests both bounds: payloads lie in
     * [first + 8, end - 8]. Pointers of other objects compare as integers. */
    uintptr_t rel = (uintptr_t)ptr - (uintptr_t)b;
    if (rel - (first + 8u) > (uintptr_t)(end - first - 16u) || (rel & (GRANULE - 1u)) != 0u) {
        *why = MEM_FAULT_INVALID_POINTER;
        return false;
    }
    uint32_t off = (uint32_t)rel - 8u;
    uint32_t lf = ld(b, off + 4u);
    uint32_t len = lf & ~FLAG_MASK;
    if (HARDENED) {
        uint32_t check = ld(b, off);
        if (check != header_check(key, off, lf, check & SLACK_MASK)) {
            *why = MEM_FAULT_NONE;
            return false;
        }
        /* A verified header can only be wrong with the secret in hand; its
         * length and slack are bounded all the same before the canary is read. */
        *why = (lf & (FLAG_FREE | FLAG_QUICK)) != 0u ? MEM_FAULT_DOUBLE_FREE
               : !len_fits(off, len, end)           ? MEM_FAULT_CORRUPT_HEADER
                                                    : canary_fault(b, off, len, check);
        *at = off;
        return *why == MEM_FAULT_NONE;
    }
    /* Off: O(1) consistency of the header with the next chunk's tags.
     * Conditions or-ed, not short-circuited: one branch, and every read
     * stays inside the heap because len is bounded before it is used. */
    uint32_t bad = (uint32_t)((lf & (FLAG_FREE | FLAG_QUICK)) != 0u) |
                   (uint32_t)(len - MIN_CHUNK > end - off - MIN_CHUNK); /* off <= end - 16 */
    if (bad != 0u || (ld(b, off + len + 4u) & FLAG_PREV_FREE) != 0u) {
        *why = MEM_FAULT_NONE;
        return false;
    }
    *at = off;
    return true;
}

/* Reports why ptr is no live chunk (chunk_at's *why; MEM_FAULT_NONE: a
 * header chunk_at could not trust, classified by a walk). Out of line, so
 * that the hot path keeps no address of a local and needs no stack frame. */
static __attribute__((noinline)) void refuse_pointer(uint8_t *b, uint64_t key, const void *ptr, mem_fault_t why)
{
    if (ptr == NULL) {
        return; /* mem_free(NULL) (heap_enter_as): nothing to do */
    }
    const void *where = ptr;
    if (why == MEM_FAULT_NONE) {
        why = heap_classify(b, key, (uint32_t)((uintptr_t)ptr - (uintptr_t)b) - 8u, &where);
    }
    heap_fault(b, why, where);
}

/* chunk_at, reporting the fault when ptr is no live chunk (then false). */
HOT bool live_chunk(heap_t h, uint64_t key, const void *ptr, uint32_t *at)
{
    mem_fault_t why = MEM_FAULT_NONE;
    if (chunk_at(h, key, ptr, &why, at)) {
        return true;
    }
    refuse_pointer(h.b, key, ptr, why);
    return false;
}

/* The bytes of the block at off (len bytes) the app may use: hardened, the
 * exact request (from the verified header's slack); off, the usable size. */
HOT uint32_t block_size(const uint8_t *b, uint32_t off, uint32_t len)
{
    return HARDENED ? request_of(len, ld(b, off)) : len - MEM_CHUNK_OVERHEAD;
}

/* Makes the chunk at off (allocated or parked, its payload released) a free
 * chunk, merged with its free neighbours once their headers, lengths and
 * links are verified; every header that ends up inside the merged chunk is
 * erased, so no signed word is left in memory a later block will hand out.
 * Returns the fault found in a neighbour (the caller reports it) or
 * MEM_FAULT_NONE. */
HOT mem_fault_t merge_free(heap_t h, uint64_t key, uint32_t off, const void **where)
{
    uint8_t *b = h.b;
    uint32_t lf = ld(b, off + 4u);
    uint32_t len = lf & ~FLAG_MASK;
    uint32_t next = off + len;
    uint32_t nf = ld(b, next + 4u);
    /* Only a free successor is followed (merged): an allocated one only has
     * its PREV_FREE bit set, which no checksum covers, so a damaged header
     * there is left for whoever uses that chunk to report. */
    uint32_t next_len = (nf & FLAG_FREE) != 0u ? nf & ~FLAG_MASK : 0u;
    mem_fault_t next_fault = free_successor_ok(h, key, next, nf);
    if (next_fault != MEM_FAULT_NONE) {
        *where = b + next + 8u;
        return next_fault;
    }
    uint32_t prev_len = 0u;
    if ((lf & FLAG_PREV_FREE) != 0u) {
        prev_len = ld(b, off - TAIL_BACK);
        if (!prev_ok(h, key, off, prev_len)) {
            *where = b + off + 8u;
            return MEM_FAULT_CORRUPT_HEADER;
        }
    }
    if (next_len != 0u) {
        list_remove(h, next);
        if (HARDENED) {
            /* next's header and links become payload. */
            wipe(b, next, next + 16u, FREE_BYTE);
        }
        len += next_len;
    }
    if (prev_len != 0u) {
        /* The chunk's header (and the predecessor's tail word) become the
         * inside of the predecessor: erased, so that a second free of ptr
         * finds no header to trust (it is then classified as a double free)
         * instead of a stale valid one. */
        if (HARDENED) {
            wipe(b, off - TAIL_BACK, off + 16u, FREE_BYTE);
        } else {
            st64(b, off, 0u);
        }
        off -= prev_len;
        list_remove(h, off);
        len += prev_len;
    }
    if (!make_free(h, key, off, len, next_len == 0u)) {
        *where = b + off + 8u;
        return MEM_FAULT_CORRUPT_LINK;
    }
    return MEM_FAULT_NONE;
}

/* What freeing the verified allocated chunk at off (len bytes) must erase:
 * hardened, the bytes the app could write (its request) and the canary; the
 * rest of the payload never held the app's data (paranoid: all of it, which
 * must be poison again). The block is the app's no more. */
HOT void release_payload(heap_t h, uint32_t off, uint32_t len)
{
    uint8_t *b = h.b;
    uint32_t n = block_size(b, off, len);
    san_block_free(b, off + 8u, n);
    if (HARDENED) {
        wipe(b, off + 8u, PARANOID ? off + len : canary_at(off, n) + 4u, FREE_BYTE);
    }
}

/* The chunk at off may be taken from the quick list of len-byte chunks: in
 * the heap, a parked chunk of exactly that length (hardened: its checksum).
 * Its link is not followed here: it becomes the list's head, and is checked
 * the same way before anything is read through it. */
HOT bool quick_ok(heap_t h, uint64_t key, uint32_t off, uint32_t len)
{
    uint8_t *b = h.b;
    if (!chunk_pos_ok(off, heap_first(h), heap_end(h)) || len > heap_end(h) - off) {
        return false;
    }
    return (ld(b, off + 4u) & ~FLAG_PREV_FREE) == (len | FLAG_QUICK) &&
           (!HARDENED || ld(b, off) == header_check(key, off, len | FLAG_QUICK, 0u));
}

/* Reports a quick list that leads to off, no parked chunk of its length.
 * Out of line and given the base only (the view is built again), so that
 * the quick path passes no view to it. */
static __attribute__((noinline)) void quick_refuse(uint8_t *b, uint32_t off)
{
    heap_t h = heap_view(b);
    bool in = chunk_pos_ok(off, heap_first(h), heap_end(h));
    heap_fault(b, MEM_FAULT_CORRUPT_LINK, in ? (const void *)(b + off + 8u) : (const void *)b);
}

/* Parks the verified allocated chunk at off (length and flags lf) in the
 * quick list of its length, erased; false (nothing done) when it is too
 * long, the heap has no quick lists or the list is full. The list's top is
 * bounded before its depth is read; whatever else is wrong with it is
 * found when it is taken or flushed (quick_ok). */
HOT bool quick_park(heap_t h, uint64_t key, uint32_t off, uint32_t lf)
{
    uint8_t *b = h.b;
    uint32_t len = lf & ~FLAG_MASK;
    /* (len >= MIN_CHUNK: a heap without quick lists answers 0 below.) */
    if (!QUICK_ON || len > quick_in(h)) {
        return false;
    }
    uint32_t qh = quick_head(heap_first(h), len);
    uint32_t top = ld(b, qh);
    uint32_t depth = 0u;
    if (top != 0u) {
        if (!chunk_pos_ok(top, heap_first(h), heap_end(h))) {
            return false;
        }
        depth = ld(b, top + 12u);
        if (quick_full(depth, len)) {
            return false;
        }
    }
    release_payload(h, off, len);
    uint32_t qlf = len | FLAG_QUICK | (lf & FLAG_PREV_FREE);
    st(b, off + 8u, top);
    st(b, off + 12u, depth + 1u);
    st(b, off + 4u, qlf);
    if (HARDENED) {
        st(b, off, header_check(key, off, qlf, 0u));
    }
    st(b, qh, off);
    uint32_t hint = ld(b, W_HINT * 4u);
    if ((hint & HINT_PARKED) == 0u) {
        hint_set(b, hint | HINT_PARKED);
    }
    return true;
}

/* Returns every parked chunk to the free lists (merged with its free
 * neighbours): before a request fails for want of a free chunk. At most
 * QUICK_BINS lists of quick_depth_max chunks (fewer than 1,000); a list longer than that, or a chunk
 * quick_ok refuses, is reported. False after a fault. */
static bool quick_flush(heap_t h, uint64_t key)
{
    uint8_t *b = h.b;
    uint32_t max = quick_in(h);
    for (uint32_t len = MIN_CHUNK; len <= max; len += GRANULE) {
        uint32_t qh = quick_head(heap_first(h), len);
        for (uint32_t n = 0u, off = ld(b, qh); off != 0u; n++, off = ld(b, qh)) {
            if (n >= quick_depth_max(len) || !quick_ok(h, key, off, len)) {
                quick_refuse(h.b, off);
                return false;
            }
            st(b, qh, ld(b, off + 8u));
            st(b, off + 4u, ld(b, off + 4u) & ~FLAG_QUICK);
            const void *where = NULL;
            mem_fault_t why = merge_free(h, key, off, &where);
            if (why != MEM_FAULT_NONE) {
                heap_fault(b, why, where);
                return false;
            }
        }
    }
    if (max != 0u) {
        hint_set(b, ld(b, W_HINT * 4u) & ~HINT_PARKED);
    }
    return true;
}

/* How far past the mark a block may reach while chunks are parked before
 * they are flushed: 1/256 of the heap (0.4 %), so that a growing heap
 * flushes once per that much growth, not at every block. */
static inline uint32_t growth_slack(heap_t h)
{
    return (heap_end(h) >> 8) & ~(GRANULE - 1u);
}

/* The quick-list hint of the heap (W_HINT: the mark, the highest offset
 * blocks reached while nothing was parked, and HINT_PARKED), read once per
 * call; a heap without quick lists answers UINT32_MAX: no block is ever
 * past its mark, and it says parked, so that nothing writes the hint. */
HOT uint32_t quick_hint(heap_t h)
{
    return quick_in(h) != 0u ? ld(h.b, W_HINT * 4u) : UINT32_MAX;
}

/* A block is about to reach offset reach (UINT32_MAX: a request is about to
 * fail): the parked chunks go back to the free lists first when that is
 * more than the slack past the mark, so that parking never makes the heap
 * grow where merging would not have. *hint is updated. 1 when it flushed
 * (the free lists changed), 0 when not, -1 after a fault. The one rule of
 * alloc_listed and realloc_in. */
HOT int quick_before_reach(heap_t h, uint64_t key, uint32_t *hint, uint32_t reach)
{
    uint32_t mark = *hint & ~(GRANULE - 1u);
    if ((*hint & HINT_PARKED) == 0u || *hint == UINT32_MAX || reach < mark || reach - mark <= growth_slack(h)) {
        return 0;
    }
    *hint = mark;
    return quick_flush(h, key) ? 1 : -1;
}

/* A block now reaches offset reach: while nothing is parked, the mark
 * follows it (with chunks parked it stays, and blocks may pass it by the
 * slack only). */
HOT void quick_reached(heap_t h, uint32_t hint, uint32_t reach)
{
    if ((hint & HINT_PARKED) == 0u && reach > hint && reach <= heap_end(h)) {
        hint_set(h.b, reach);
    }
}

bool heap_quick_flush(uint8_t *b, uint64_t key)
{
    return quick_flush(heap_view(b), key);
}

/* A parked chunk of exactly need bytes for a request of n, taken from its
 * quick list (0 when the list is empty or the heap has none; 1 after
 * reporting a damaged list). */
HOT uint32_t quick_take(heap_t h, uint64_t key, uint32_t need, uint32_t n)
{
    uint8_t *b = h.b;
    if (!QUICK_ON || need > quick_in(h)) {
        return 0u;
    }
    uint32_t qh = quick_head(heap_first(h), need);
    uint32_t off = ld(b, qh);
    if (off == 0u) {
        return 0u;
    }
    if (!quick_ok(h, key, off, need)) {
        quick_refuse(h.b, off);
        return 1u;
    }
    st(b, qh, ld(b, off + 8u));
    set_allocated(h, key, off, need | (ld(b, off + 4u) & FLAG_PREV_FREE), n);
    return off;
}

/* ---- public API --------------------------------------------------------- */

mem_ctx_t mem_init_secure(void *heap_start, size_t heap_size, uint64_t seed)
{
    if (heap_start == NULL || heap_size < MEM_MIN_HEAP_SIZE) {
        return NULL;
    }
    uintptr_t start = (uintptr_t)heap_start;
    if (heap_size - 1u > UINTPTR_MAX - start) {
        return NULL; /* the buffer would wrap the address space */
    }
    if (HARDENED && !heap_secret_ready()) {
        return NULL; /* no entropy: no heap rather than a guessable key */
    }
    bool vg = san_running();
    if (vg) {
        san_reporting(false);
    }
    uintptr_t lead = (GRANULE - (start & (GRANULE - 1u))) & (GRANULE - 1u);
    size_t managed = heap_size - lead;
    if (managed > MEM_MAX_HEAP_SIZE) {
        managed = MEM_MAX_HEAP_SIZE;
    }
    uint32_t size = (uint32_t)managed & ~(GRANULE - 1u);
    /* Classes only up to the largest chunk this heap can ever hold. */
    uint32_t fl_count = fl_count_for(size - HEADS_AT - GRANULE);
    uint32_t first = first_for(fl_count);
    uint32_t end = size - GRANULE;
    /* MEM_MIN_HEAP_SIZE leaves room for the context and a minimal chunk. */
    uint8_t *b = (uint8_t *)heap_start + lead;
    san_buffer_open(b, size, vg);
    memset(b, 0, first);
    heap_registry_add(b);
    st(b, W_ID * 4u, heap_id(b) ^ (uint32_t)vg);
    st(b, W_ID2 * 4u, heap_id(b) ^ ID2_XOR ^ (uint32_t)vg);
    st(b, W_END * 4u, end);
    st(b, W_TOTAL * 4u, (uint32_t)(heap_size < MEM_MAX_HEAP_SIZE ? heap_size : MEM_MAX_HEAP_SIZE));
    st(b, W_FIRST * 4u, first);
    st(b, end + 4u, 0u); /* sentinel: allocated, zero length */
    uint64_t key = 0u;
    if (HARDENED) {
        /* A nonce of its own per init: nothing signed under an earlier init
         * of this buffer verifies under this one. */
        st64(b, W_NONCE * 4u, heap_new_nonce(seed));
        key = key_of(b);
        st(b, W_CTX_CHECK * 4u, ctx_check(b, key));
        st(b, end, header_check(key, end, 0u, 0u));
    } else {
        (void)seed;
    }
    uint32_t len = end - first;
    if (quick_at(first)) {
        hint_set(b, 0u);
    }
    if (PARANOID) {
        fill_words(b, first + 16u, tail_at(first, len), POISON_WORD);
    }
    heap_t h = heap_view(b);
    (void)make_free(h, key, first, len, true); /* empty lists: cannot fail */
    san_heap_ready(b, b, size);
    heap_leave(vg);
    return b;
}

mem_ctx_t mem_init(void *heap_start, size_t heap_size)
{
    return mem_init_secure(heap_start, heap_size, MEM_DEFAULT_SEED);
}

/* The growth rule, for a block about to reach past the mark (off, the
 * good-fit choice) or a request no free chunk serves (off 0): before a
 * block reaches past the highest offset one ever reached (or a request
 * fails), the parked chunks go back to the free lists, so that parking
 * never makes the heap grow where merging would not have; and the good-fit
 * search skips need's own class, where a chunk that fits may lie lower
 * (looked for when that list has any). The chunk to take, or 0 (none, or a
 * fault reported). A heap in its steady state stays below its mark and
 * skips all of this with one comparison (alloc_listed). */
HOT uint32_t alloc_growth(heap_t h, uint64_t key, uint32_t need, uint32_t off, uint32_t hint)
{
    int flushed = quick_before_reach(h, key, &hint, off == 0u ? UINT32_MAX : off + need);
    if (flushed < 0) {
        return 0u;
    }
    if (flushed > 0) {
        off = find_free(h, need);
    }
    /* (off 0: find_free looked for an exact fit already.) */
    if (off != 0u && off + need > (hint & ~(GRANULE - 1u))) {
        uint32_t exact = find_exact(h, need);
        off = exact != 0u && exact < off ? exact : off;
    }
    if (off != 0u) {
        quick_reached(h, hint, off + need);
    }
    return off;
}

/* alloc_in's path when the quick list of need bytes is empty: the free
 * lists. Out of line, and given the base only (the view is built again),
 * so that the quick path saves no registers and passes no view for it. */
static __attribute__((noinline)) void *alloc_listed(uint8_t *b, uint64_t key, uint32_t need, uint32_t n)
{
    heap_t h = heap_view(b);
    uint32_t off = find_free(h, need);
    uint32_t hint = quick_hint(h);
    if (off == 0u || off + need > (hint & ~(GRANULE - 1u))) {
        off = alloc_growth(h, key, need, off, hint);
        if (off == 0u) {
            return NULL;
        }
    }
    /* Every level: off trusts the checksum-free metadata, but never a
     * position or a length past the heap's end. */
    mem_fault_t why = listed_ok(h, key, off, need);
    if (why != MEM_FAULT_NONE) {
        heap_fault(b, why, why == MEM_FAULT_CORRUPT_CONTEXT ? (const void *)b : b + off + 8u);
        return NULL;
    }
    uint32_t have = len_of(b, off);
    if (PARANOID && poison_broken(b, off, have, have - need < MIN_CHUNK ? off + have : off + need) != 0u) {
        heap_fault(b, MEM_FAULT_WRITE_AFTER_FREE, b + off + 8u);
        return NULL;
    }
    list_remove(h, off);
    uint32_t len = take(h, key, off, have, need, n, 0u, 0u, true);
    if (len == 0u) {
        heap_fault(b, MEM_FAULT_CORRUPT_LINK, b + off + need + 8u); /* the rest's list */
        return NULL;
    }
    san_block_alloc(b, off + 8u, block_size(b, off, len));
    return b + off + 8u;
}

HOT void *alloc_in(heap_t h, uint64_t key, size_t nb_bytes)
{
    uint8_t *b = h.b;
    if (nb_bytes - 1u >= MAX_REQUEST) { /* 0 wraps around */
        return NULL;
    }
    uint32_t n = (uint32_t)nb_bytes;
    uint32_t need = request_len(nb_bytes);
    uint32_t off = quick_take(h, key, need, n);
    if (off > 1u) {
        san_block_alloc(b, off + 8u, block_size(b, off, need));
        return b + off + 8u;
    }
    return off == 0u ? alloc_listed(b, key, need, n) : NULL;
}

void *mem_alloc(mem_ctx_t ctx, size_t nb_bytes)
{
    bool vg;
    uint64_t key;
    uint8_t *b = heap_enter(ctx, NULL, &vg, &key);
    void *p = b == NULL ? NULL : alloc_in(heap_view(b), key, nb_bytes);
    heap_leave(vg);
    return p;
}

/* free_verified's path for a chunk that is not parked: released and merged
 * into the free lists, a damaged neighbour reported. Out of line, as
 * alloc_listed. */
static __attribute__((noinline)) void free_listed(uint8_t *b, uint64_t key, uint32_t off, uint32_t lf)
{
    heap_t h = heap_view(b);
    release_payload(h, off, lf & ~FLAG_MASK);
    const void *where = NULL;
    mem_fault_t why = merge_free(h, key, off, &where);
    if (why != MEM_FAULT_NONE) {
        heap_fault(b, why, where);
    }
}

/* Frees the verified allocated chunk at off: parked when it can be, else
 * merged. */
HOT void free_verified(heap_t h, uint64_t key, uint32_t off)
{
    uint32_t lf = ld(h.b, off + 4u);
    if (!quick_park(h, key, off, lf)) {
        free_listed(h.b, key, off, lf);
    }
}

void mem_free(mem_ctx_t ctx, void *ptr)
{
    bool vg;
    uint64_t key;
    uint8_t *b = heap_enter_as(ctx, ptr, true, &vg, &key);
    if (b != NULL) {
        heap_t h = heap_view(b);
        uint32_t off;
        if (live_chunk(h, key, ptr, &off)) {
            free_verified(h, key, off);
        }
    }
    heap_leave(vg);
}

/* mem_realloc resizing the verified chunk at off (have bytes, serving old_n,
 * with a next chunk that is free for next_len bytes or allocated for 0) to
 * need bytes serving n: in place, with the free successor when there is one
 * (what is left over is split off and freed), when that is enough; else by
 * sliding down into a free predecessor (with the successor too when it is
 * free). NULL when neither has room, or after reporting a fault. Hardened,
 * what the block no longer holds (past the new or old request, whichever
 * ends first: the old canary included) and the headers that become payload
 * are erased first: nothing signed and no data of the block is left where
 * its owner or a later block reads. */
static void *resize_in_place(heap_t h, uint64_t key, uint32_t off, uint32_t need, uint32_t n, uint32_t next_len)
{
    uint8_t *b = h.b;
    uint32_t lf = ld(b, off + 4u);
    uint32_t have = lf & ~FLAG_MASK;
    uint32_t next = off + have;
    uint32_t old_n = block_size(b, off, have);
    uint32_t prev_len = 0u;
    if (have + next_len < need) {
        if ((lf & FLAG_PREV_FREE) == 0u) {
            return NULL;
        }
        prev_len = ld(b, off - TAIL_BACK);
        if (!prev_ok(h, key, off, prev_len)) {
            heap_fault(b, MEM_FAULT_CORRUPT_HEADER, b + off + 8u);
            return NULL;
        }
        if (prev_len + have + next_len < need) {
            return NULL;
        }
    }
    uint32_t start = off - prev_len;
    uint32_t total = prev_len + have + next_len;
    uint32_t len = total - need >= MIN_CHUNK ? need : total;
    if (PARANOID && ((prev_len != 0u && poison_broken(b, start, prev_len, start + len) != 0u) ||
                     (next_len != 0u && poison_broken(b, next, next_len, start + len) != 0u))) {
        heap_fault(b, MEM_FAULT_WRITE_AFTER_FREE, b + (prev_len != 0u ? start : next) + 8u);
        return NULL;
    }
    if (prev_len != 0u) {
        list_remove(h, start);
    }
    if (next_len != 0u) {
        list_remove(h, next);
    }
    /* From the first stale byte on (in place: past the shorter request;
     * slid down: the old block's bytes past the copy), up to the end of the
     * merged headers, nothing may outlive the move. */
    uint32_t stale = canary_at(off, n < old_n ? n : old_n);
    if (prev_len != 0u) {
        san_range_open(b, start + 8u, off - start);
        st64(b, off, 0u); /* no stale header for a later free of the old pointer */
        memmove(b + start + 8u, b + off + 8u, old_n);
        stale = start + 8u + old_n > off + 8u ? (start + 8u + old_n + 3u) & ~3u : off + 8u;
    }
    uint32_t merged_end = next_len != 0u ? next + 16u : next;
    if (HARDENED) {
        wipe(b, stale, merged_end, FREE_BYTE);
    }
    len = take(h, key, start, total, need, n, prev_len != 0u ? 0u : lf & FLAG_PREV_FREE, merged_end, next_len != 0u);
    if (len == 0u) {
        heap_fault(b, MEM_FAULT_CORRUPT_LINK, b + start + 8u);
        return NULL;
    }
    san_block_change(b, off + 8u, old_n, start + 8u, block_size(b, start, len));
    return b + start + 8u;
}

static void *realloc_in(heap_t h, uint64_t key, void *ptr, size_t size)
{
    uint8_t *b = h.b;
    uint32_t off;
    if (!live_chunk(h, key, ptr, &off)) {
        return NULL;
    }
    if (size == 0u) {
        free_verified(h, key, off);
        return NULL;
    }
    if (size > MAX_REQUEST) {
        return NULL;
    }
    uint32_t n = (uint32_t)size;
    uint32_t need = request_len(size);
    uint32_t have = len_of(b, off);
    /* A block growing in place follows the rule of a new block. */
    uint32_t hint = quick_hint(h);
    if (need > have && quick_before_reach(h, key, &hint, off + need) < 0) {
        return NULL;
    }
    uint32_t old_n = block_size(b, off, have);
    uint32_t next = off + have;
    uint32_t nf = ld(b, next + 4u);
    uint32_t next_len = (nf & FLAG_FREE) != 0u ? nf & ~FLAG_MASK : 0u;
    /* Unlike free, realloc also verifies an allocated successor: whether the
     * block grows in place or moves depends on that header's FREE bit. */
    mem_fault_t next_fault = (nf & FLAG_FREE) == 0u && !header_ok(b, key, next, nf) ? MEM_FAULT_CORRUPT_HEADER
                                                                                    : free_successor_ok(h, key, next, nf);
    if (next_fault != MEM_FAULT_NONE) {
        heap_fault(b, next_fault, b + next + 8u);
        return NULL;
    }
    void *grown = resize_in_place(h, key, off, need, n, next_len);
    if (grown != NULL) {
        uint32_t at = (uint32_t)((uint8_t *)grown - b) - 8u;
        quick_reached(h, hint, at + len_of(b, at));
    }
    if (grown != NULL || ld(b, W_STATE * 4u) != 0u) {
        return grown;
    }
    void *moved = alloc_in(h, key, size);
    if (moved == NULL) {
        return NULL;
    }
    memcpy(moved, ptr, old_n);
    free_verified(h, key, off);
    return ld(b, W_STATE * 4u) == 0u ? moved : NULL;
}

void *mem_realloc(mem_ctx_t ctx, void *ptr, size_t size)
{
    bool vg;
    uint64_t key;
    uint8_t *b = heap_enter(ctx, ptr, &vg, &key);
    void *p = b == NULL ? NULL : ptr == NULL ? alloc_in(heap_view(b), key, size) : realloc_in(heap_view(b), key, ptr, size);
    heap_leave(vg);
    return p;
}

size_t mem_usable_size(mem_ctx_t ctx, const void *ptr)
{
    if (ptr == NULL) {
        return 0u;
    }
    bool vg;
    uint64_t key;
    size_t n = 0u;
    uint8_t *b = heap_enter(ctx, ptr, &vg, &key);
    if (b != NULL) {
        uint32_t off;
        if (live_chunk(heap_view(b), key, ptr, &off)) {
            n = block_size(b, off, len_of(b, off));
        }
    }
    heap_leave(vg);
    return n;
}
