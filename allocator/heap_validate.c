/*
 * Full heap validation, for mem_check (mem_check.c) and the paranoid
 * periodic check. Every invariant of heap_internal.h, each violation named
 * by its fault code. Reads only; never follows a link or length that
 * leaves the heap.
 */

#include "heap_internal.h"

/* A link: none (0), or a chunk position of this heap with room for a chunk. */
static bool link_ok(uint32_t link, uint32_t first, uint32_t end)
{
    return link == 0u || (chunk_pos_ok(link, first, end) && end - link >= MIN_CHUNK);
}

/* ctx_intact (every word, the checksum) plus what the words must say of
 * each other, which is all there is to check at off: FIRST is the one a
 * heap ending at END gets, TOTAL lies within 23 bytes past END, END is
 * aligned and below the largest heap. */
static bool context_ok(const uint8_t *b, uint64_t key)
{
    uint32_t fl_count = classes_of(b) / SL_COUNT;
    uint32_t first = first_of(b);
    uint32_t end = end_of(b);
    if ((HARDENED && !ctx_intact(b, key)) || fl_count == 0u || end < first || end - first < MIN_CHUNK ||
        ld(b, W_TOTAL * 4u) - end - GRANULE >= 16u || first != first_for(fl_count) ||
        (end & FLAG_MASK) != 0u || end > (uint32_t)MEM_MAX_HEAP_SIZE - GRANULE ||
        fl_count != fl_count_for(end - HEADS_AT)) {
        return false;
    }
    /* No bit for a class this heap does not have. */
    return !bitmap_beyond(b, fl_count * SL_COUNT);
}

/* One chunk of the physical walk, given what its predecessor was. */
static mem_fault_t chunk_ok(const uint8_t *b, uint64_t key, uint32_t off, bool prev_free, uint32_t prev_len)
{
    uint32_t first = first_of(b);
    uint32_t end = end_of(b);
    uint32_t lf = ld(b, off + 4u);
    uint32_t len = lf & ~FLAG_MASK;
    bool is_free = (lf & FLAG_FREE) != 0u;
    bool quick = (lf & FLAG_QUICK) != 0u;
    if (!header_ok(b, key, off, lf) || (quick && (is_free || len > quick_max_for(quick_bins(first)))) ||
        !len_fits(off, len, end) ||
        ((lf & FLAG_PREV_FREE) != 0u) != prev_free || (prev_free && ld(b, off - TAIL_BACK) != prev_len) ||
        (is_free && prev_free)) {
        return MEM_FAULT_CORRUPT_HEADER;
    }
    if (quick) {
        /* Its slack is 0 (header_ok took it from the check word). */
        return !HARDENED || (ld(b, off) & SLACK_MASK) == 0u ? MEM_FAULT_NONE : MEM_FAULT_CORRUPT_HEADER;
    }
    if (!is_free) {
        if (!HARDENED) {
            return MEM_FAULT_NONE;
        }
        return canary_fault(b, off, len, ld(b, off));
    }
    uint32_t next = ld(b, off + 8u);
    uint32_t prev = ld(b, off + 12u);
    uint32_t cls = class_of(len);
    if (cls >= classes_of(b) || !link_ok(next, first, end) ||
        (prev != head_at(cls) - 8u && (prev == 0u || !link_ok(prev, first, end))) || ld(b, prev + 8u) != off ||
        (next != 0u && ld(b, next + 12u) != off)) {
        return MEM_FAULT_CORRUPT_LINK;
    }
    if (PARANOID && find_not_word(b, off + 16u, tail_at(off, len), POISON_WORD) != 0u) {
        return MEM_FAULT_WRITE_AFTER_FREE;
    }
    return MEM_FAULT_NONE;
}

/* Physical walk: tiling, checksums, canaries, boundary tags, no adjacent
 * free chunks, each free chunk's own links point back at it, the sentinel.
 * Counts the free chunks and the parked ones. */
static mem_fault_t chunks_ok(const uint8_t *b, uint64_t key, uint32_t *nb_free, uint32_t *nb_quick,
                             const void **where)
{
    uint32_t end = end_of(b);
    uint32_t off = first_of(b);
    uint32_t prev_len = 0u;
    bool prev_free = false;
    *nb_free = 0u;
    *nb_quick = 0u;
    while (off < end) {
        mem_fault_t f = chunk_ok(b, key, off, prev_free, prev_len);
        if (f != MEM_FAULT_NONE) {
            *where = b + off + 8u;
            return f;
        }
        uint32_t lf = ld(b, off + 4u);
        prev_free = (lf & FLAG_FREE) != 0u;
        prev_len = lf & ~FLAG_MASK;
        *nb_free += (uint32_t)prev_free;
        *nb_quick += (uint32_t)((lf & FLAG_QUICK) != 0u);
        off += prev_len;
    }
    uint32_t sentinel = ld(b, end + 4u);
    if (sentinel != (prev_free ? FLAG_PREV_FREE : 0u) || !header_ok(b, key, end, sentinel) ||
        (prev_free && ld(b, end - TAIL_BACK) != prev_len)) {
        *where = b + end + 8u;
        return MEM_FAULT_CORRUPT_HEADER;
    }
    return MEM_FAULT_NONE;
}

/* Every list: its bitmap bit, its nodes (free, in range, in the right class,
 * back links), and in total exactly the free chunks the walk counted. A
 * list is non-empty iff its bit is set: every set bit's head is checked
 * while walking its list, and the number of non-empty heads must equal the
 * number of set bits (context_ok already refused bits past the classes). */
static mem_fault_t lists_ok(const uint8_t *b, uint32_t nb_free, const void **where)
{
    uint32_t first = first_of(b);
    uint32_t end = end_of(b);
    uint32_t classes = classes_of(b);
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
                return MEM_FAULT_CORRUPT_CONTEXT;
            }
            while (node != 0u) {
                if (!link_ok(node, first, end) || ++seen > nb_free) {
                    *where = b + prev + 8u;
                    return MEM_FAULT_CORRUPT_LINK;
                }
                uint32_t lf = ld(b, node + 4u);
                if ((lf & FLAG_FREE) == 0u || class_of(lf & ~FLAG_MASK) != cls || ld(b, node + 12u) != prev) {
                    *where = b + node + 8u;
                    return MEM_FAULT_CORRUPT_LINK;
                }
                prev = node;
                node = ld(b, node + 8u);
            }
        }
    }
    return bits == heads_in_use && seen == nb_free ? MEM_FAULT_NONE : MEM_FAULT_CORRUPT_CONTEXT;
}

/* Every quick list: at most quick_depth_max chunks, each parked (the walk
 * checked its header) with exactly the list's length and its depth in the
 * list, and in total exactly the parked chunks the walk counted. */
static mem_fault_t quick_lists_ok(const uint8_t *b, uint32_t nb_quick, const void **where)
{
    uint32_t first = first_of(b);
    uint32_t end = end_of(b);
    uint32_t max = quick_max_for(quick_bins(first));
    uint32_t hint = ld(b, W_HINT * 4u);
    uint32_t mirror = ld(b, W_HINT_MIRROR * 4u);
    if (!PARANOID && ((nb_quick != 0u && (hint & HINT_PARKED) == 0u) ||
                      (max == 0u ? (hint | mirror) != 0u : hint != ~mirror))) {
        return MEM_FAULT_CORRUPT_CONTEXT; /* parked chunks the next growth would not flush */
    }
    uint32_t seen = 0u;
    for (uint32_t len = MIN_CHUNK; len <= max; len += GRANULE) {
        uint32_t at = quick_head(first, len) - 8u; /* the link's holder, a pseudo chunk */
        uint32_t node = ld(b, at + 8u);
        if (!link_ok(node, first, end)) {
            *where = b;
            return MEM_FAULT_CORRUPT_CONTEXT;
        }
        uint32_t depth = node == 0u ? 0u : ld(b, node + 12u);
        if (depth > quick_depth_max(len)) {
            *where = b + node + 8u;
            return MEM_FAULT_CORRUPT_LINK;
        }
        for (; node != 0u; depth--) {
            if (!link_ok(node, first, end) || ++seen > nb_quick ||
                (ld(b, node + 4u) & ~FLAG_PREV_FREE) != (len | FLAG_QUICK) || ld(b, node + 12u) != depth) {
                *where = at < first ? (const void *)b : (const void *)(b + at + 8u);
                return MEM_FAULT_CORRUPT_LINK;
            }
            at = node;
            node = ld(b, node + 8u);
        }
        if (depth != 0u) {
            *where = b + at + 8u;
            return MEM_FAULT_CORRUPT_LINK;
        }
    }
    return seen == nb_quick ? MEM_FAULT_NONE : MEM_FAULT_CORRUPT_CONTEXT;
}

mem_fault_t heap_validate(const uint8_t *b, uint64_t key, const void **where)
{
    *where = b;
    if (!context_ok(b, key)) {
        return MEM_FAULT_CORRUPT_CONTEXT;
    }
    uint32_t nb_free, nb_quick;
    mem_fault_t f = chunks_ok(b, key, &nb_free, &nb_quick, where);
    if (f == MEM_FAULT_NONE) {
        f = lists_ok(b, nb_free, where);
    }
    return f != MEM_FAULT_NONE ? f : quick_lists_ok(b, nb_quick, where);
}

bool heap_tick(uint8_t *b, uint64_t key)
{
    uint32_t ops = ld(b, W_OPS * 4u) + 1u;
    bool due = ops >= ld(b, W_CHECK_EVERY * 4u);
    st(b, W_OPS * 4u, due ? 0u : ops);
    st(b, W_CTX_CHECK * 4u, ctx_check(b, key)); /* the counter is signed too */
    if (!due) {
        return true;
    }
    const void *where;
    mem_fault_t f = heap_validate(b, key, &where);
    if (f != MEM_FAULT_NONE) {
        heap_fault(b, f, where);
        return false;
    }
    return true;
}
