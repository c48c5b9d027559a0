/*
 * hardalloc internals shared by the allocator's source files: the buffer
 * layout, raw metadata access, size classes, the hardening primitives
 * (checksums, canaries) and the fault entry point. Not installed.
 *
 * Buffer layout (offsets are bytes from the context base, the first 8-byte
 * aligned address of the buffer):
 *
 *   [context][chunk][chunk]...[chunk][sentinel]
 *
 * Context: CTX_WORDS u32 words, a bitmap of non-empty classes (BITMAP_WORDS
 * u64 words), then fl_count * SL_COUNT u32 free-list heads.
 *
 * Chunk at offset o (o % 8 == 0), length len (len % 8 == 0, len >= MIN_CHUNK):
 *   o+0  u32 word0      hardened: the header checksum, keyed by the heap's
 *                       key, over o, the length/FREE bits and the slack;
 *                       its low 5 bits hold the slack (len - 12 - n for an
 *                       allocated chunk serving n bytes, 0 when free).
 *                       off: the previous chunk's tail word (see below).
 *   o+4  u32 len_flags  len | FREE (bit 0) | PREV_FREE (bit 1); bit 2 zero
 *   o+8  payload; a free chunk keeps u32 next_free and prev_free there
 *                       (offsets of list neighbours, 0 = none)
 *   o+8+n  hardened, allocated: the canary (the complement of word0),
 *                       unaligned, right after the n requested bytes
 * Every chunk has a tail word at tail_at(o, len): hardened, its own last 4
 * bytes; off, the next chunk's word0. A free chunk keeps its length there
 * (the boundary tag its successor reads); an allocated chunk's tail word is
 * slack, canary or payload. So an allocated chunk costs 4 bytes off and 12
 * bytes hardened.
 * The sentinel is a zero-length allocated chunk at offset `end`; its 8 bytes
 * close the heap so that "the next chunk" always exists.
 *
 * Invariants (mem_check verifies all of them): chunks tile [first, end)
 * exactly; no two free chunks are adjacent; PREV_FREE of every chunk equals
 * FREE of its predecessor and then the predecessor's tail word equals its
 * length; every free chunk is in exactly the list its length maps to; a
 * list is non-empty iff its bit in the class bitmap is set; hardened, every
 * checksum and canary matches and every context word agrees with the
 * context checksum; paranoid, every free payload is poison.
 *
 * All metadata is read and written with memcpy: the buffer has whatever
 * declared type the app gave it, and memcpy is the one access that is
 * defined for every type (compilers turn it into a single load or store).
 */

#pragma once

#include "heap_secret.h"
#include "mem_alloc.h"

#include <string.h>

#define HARDENED (MEM_HARDENING > 0)
#define PARANOID (MEM_HARDENING > 1)

#define GRANULE 8u
#define MIN_CHUNK MEM_MIN_CHUNK
#define FLAG_FREE 1u
#define FLAG_PREV_FREE 2u
#define FLAG_MASK 7u
/* A chunk parked in a quick list (below): allocated to its neighbours, free
 * to the app. Bit 2 of len_flags; FLAG_FREE is then clear. */
#define FLAG_QUICK 4u
/* Bytes from a chunk's end back to its tail word (see the layout above). */
#define TAIL_BACK (HARDENED ? 4u : 0u)
/* Byte a paranoid heap fills free payloads with. */
#define POISON_BYTE 0xA5u
#define POISON_WORD 0xA5A5A5A5u

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

/* Quick lists: a freed short chunk is parked, not merged, in a LIFO list of
 * chunks of exactly its length (one list per length, its head a context
 * word just below `first`), and a request of that length takes the first
 * one back: the alloc-then-free of one size, the commonest pattern of real
 * programs, costs a push and a pop instead of a split and a merge. A list
 * holds at most quick_depth_max chunks
 * (each keeps its depth in the list, so no context word changes but the
 * head), and a request the free lists cannot serve first returns every
 * parked chunk to them (quick_flush), so parking never fails an allocation
 * that would have succeeded otherwise; a heap keeps its density. Heaps
 * with QUICK_MIN_FL first-level classes (16 KiB + 88 B and up) have 32 lists (for
 * chunks up to 264 bytes off, 272 hardened), from QUICK_WIDE_FL (1 MiB + 88 B)
 * 256 (up to 2,064 bytes): 128 or 1,024 bytes of context, under 1 % of the
 * heap; smaller heaps have none and keep their size. Paranoid has none (its
 * free payloads stay poison, verified on reuse). */
#define QUICK_ON (MEM_HARDENING < 2)
#define QUICK_BINS 256u
#define QUICK_BINS_NARROW 32u
#define QUICK_BYTES 1024u
#define QUICK_MIN_FL 10u
#define QUICK_WIDE_FL 16u

/* Bound of the exact-fit scan that runs only when the O(1) search fails. */
#define FALLBACK_SCAN 16u

/* Context words (u32 index). A list link of 0 means "none" and every list
 * head acts as a pseudo chunk whose next_free field is the head itself (at
 * head - 8), so link updates never branch on list ends: writes through link
 * 0 land in W_SCRATCH (offset 12, the prev_free field of "chunk 0"), which
 * every list update sets back to 0. Every word is checked by every call
 * (ctx_intact): no word can change unreported. No code pointer and no
 * secret is kept here
 * (heap_secret.h, heap_registry.h). The number of classes and the
 * bitmap words in use follow from FIRST (classes_of). */
enum {
    W_ID,          /* identity: heap_id(base), bit 0 = made under valgrind */
    W_ID2,         /* W_ID ^ ID2_XOR: the heap is still known when W_ID is hit */
    W_END,         /* offset of the sentinel */
    W_SCRATCH,     /* sink of writes through a 0 link; 0 between calls */
    W_TOTAL,       /* heap_size reported by mem_stat */
    W_FIRST,       /* offset of the first chunk: HEADS_AT + 32 x first-level classes */
    W_NONCE,       /* u64 (2 words): drawn by mem_init, public; keys the heap */
    W_STATE = 8,   /* 0 healthy, else the mem_fault_t that failed the heap */
    W_CHECK_EVERY, /* paranoid: full check every this many calls (0: never); below: ~W_HINT */
    W_OPS,         /* paranoid: calls since the last full check; below: W_HINT */
    W_CTX_CHECK,   /* keyed checksum of END, TOTAL, FIRST, STATE (paranoid: and the two above) */
    CTX_WORDS
};
#define BITMAP_AT (CTX_WORDS * 4u)
#define HEADS_AT (BITMAP_AT + 8u * BITMAP_WORDS)
/* Below paranoid (no periodic check, so no counter), a heap with quick lists
 * keeps a hint in the counter's word: the highest offset a block has
 * reached (a multiple of 8), and in bit 0 whether a chunk was parked since
 * the quick lists were last flushed. Before a block would reach past that
 * mark, the parked chunks go back to the free lists (alloc_listed), so that
 * parking never makes the heap grow. It changes too often to be signed:
 * the interval's word holds its complement instead, so that a changed bit
 * in either is reported (ctx_intact); whoever rewrites both only changes
 * when the heap flushes (mem_check finds bit 0 clear with a chunk parked).
 * A heap without quick lists keeps both words 0. */
#define W_HINT W_OPS
#define W_HINT_MIRROR W_CHECK_EVERY
#define HINT_PARKED 1u
#define ID2_XOR 0x5A5A5A5Au

#define HEAP_MAGIC 0x48415244u /* "HARD" */

/* Largest request considered at all: anything above cannot fit any heap,
 * and refusing it first keeps every later size computation inside u32. */
#define MAX_REQUEST ((size_t)MEM_MAX_HEAP_SIZE)

_Static_assert(MEM_MAX_HEAP_SIZE <= (size_t)UINT32_MAX / 2u + 1u, "offsets are u32");
_Static_assert(BITMAP_AT % 8u == 0u && HEADS_AT % 8u == 0u, "context stays aligned");
/* class_of of any u32 length is below SL_COUNT * (32 - 6) + SL_COUNT: the
 * bitmap has a bit for it, so find_free scans no further than the bitmap. */
_Static_assert(SL_COUNT * 27u <= BITMAP_WORDS * 64u, "every class has a bitmap bit");

/* The hot path is a handful of small functions; inlining them all into
 * mem_alloc and mem_free is worth about 5 % of an alloc+free pair, at the
 * cost of code size, so a build optimized for size (-Os) keeps them apart. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(__OPTIMIZE_SIZE__)
#define HOT static inline __attribute__((always_inline))
#else
#define HOT static inline
#endif

/* ---- sanitizers --------------------------------------------------------- */

/* HEAP_ASAN: built with AddressSanitizer and poisoning the arena. The fuzz
 * builds define HARDALLOC_NO_ARENA_POISON: fuzz_corrupt writes the metadata
 * on purpose and the others check block contents through the model, so
 * ASan guards the arena's bounds only, and the out-of-line metadata
 * accesses below would cost them most of their executions per second (the
 * poisoning is tested by tests/sanitizers). */
#if !defined(HARDALLOC_NO_ARENA_POISON)
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_ASAN 1
#endif
#endif
#endif

/* Under ASan everything but live payloads is poisoned (heap_sanitizer.h),
 * so the allocator's own metadata accesses must not be instrumented; they
 * are then real calls, which only sanitized builds pay for. */
#ifdef HEAP_ASAN
#define META static __attribute__((no_sanitize_address, noinline, unused))
#else
#define META static inline
#endif

/* The bulk loops (fills and the poison scan) decide nothing a fuzzer could
 * learn from, yet under coverage instrumentation every word they compare
 * is a traced comparison: a coverage build keeps them uninstrumented, which
 * makes paranoid's fuzz targets several times faster (not inlined: the
 * inlined copy would be instrumented as its caller is). */
#if defined(__clang__) && defined(__has_feature)
#if __has_feature(coverage_sanitizer)
#define BULK META __attribute__((no_sanitize("coverage"), noinline))
#endif
#endif
#ifndef BULK
#define BULK META
#endif

/* ---- raw access --------------------------------------------------------- */

META uint32_t ld(const uint8_t *b, uint32_t off)
{
    uint32_t v;
    memcpy(&v, b + off, sizeof v);
    return v;
}

META void st(uint8_t *b, uint32_t off, uint32_t v)
{
    memcpy(b + off, &v, sizeof v);
}

META uint64_t ld64(const uint8_t *b, uint32_t off)
{
    uint64_t v;
    memcpy(&v, b + off, sizeof v);
    return v;
}

META void st64(uint8_t *b, uint32_t off, uint64_t v)
{
    memcpy(b + off, &v, sizeof v);
}

/* Fills [from, to) (both multiples of 4) with a 32-bit word: the paranoid
 * poison and the wipe of metadata that becomes payload. */
BULK void fill_words(uint8_t *b, uint32_t from, uint32_t to, uint32_t v)
{
#ifndef HEAP_ASAN
    if (v == (v & 0xFFu) * 0x01010101u) { /* the poison and zero: memset's speed */
        memset(b + from, (int)(v & 0xFFu), to - from);
        return;
    }
#endif
    for (uint32_t o = from; o < to; o += 4u) {
        memcpy(b + o, &v, sizeof v);
    }
}

/* Fills [from, to) with byte v, any alignment: ASan builds' wipe. Stores
 * through volatile, so that the compiler cannot turn the loop into a call
 * of memset, which ASan intercepts and checks against its poisoning. */
BULK void fill_bytes(uint8_t *b, uint32_t from, uint32_t to, uint8_t v)
{
    volatile uint8_t *p = b;
    for (uint32_t o = from; o < to; o++) {
        p[o] = v;
    }
}

/* Offset of the first word in [from, to) that is not v, or 0 when all are. */
BULK uint32_t find_not_word(const uint8_t *b, uint32_t from, uint32_t to, uint32_t v)
{
    /* Eight bytes a step while they match (half the iterations over a
     * poisoned payload), then the word that differs. */
    uint64_t v2 = (uint64_t)v << 32 | v;
    uint32_t o = from;
    for (; to - o >= 8u && o < to; o += 8u) {
        uint64_t w;
        memcpy(&w, b + o, sizeof w);
        if (w != v2) {
            break;
        }
    }
    for (; o < to; o += 4u) {
        uint32_t w;
        memcpy(&w, b + o, sizeof w);
        if (w != v) {
            return o;
        }
    }
    return 0u;
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

/* The identity a heap's context carries: the low 32 bits of its own
 * address xor a magic. Public on purpose: it says "this is a heap", it
 * signs nothing. The low half is all of an address on the 32-bit targets;
 * on a 64-bit host, folding the high half in too would cost every call two
 * instructions to tell apart contexts exactly 4 GiB apart. */
static inline uint32_t heap_id(const void *base)
{
    return (uint32_t)(uintptr_t)base ^ HEAP_MAGIC;
}

/* The context behind ctx, or NULL when its first word does not say "heap"
 * (heap_call.h then asks the second identity word and the registry). Bit 0
 * of the word's difference from heap_id says the heap was made under
 * valgrind (heap_sanitizer.h): the identity words are the only context
 * words memcheck lets the allocator read before it turns reporting off. */
static inline uint8_t *heap_of(mem_ctx_t ctx)
{
    if (ctx == NULL || ((uintptr_t)ctx & (GRANULE - 1u)) != 0u) {
        return NULL;
    }
    uint8_t *b = ctx;
    return (ld(b, W_ID * 4u) ^ heap_id(b)) <= 1u ? b : NULL;
}

static inline uint32_t first_of(const uint8_t *b)
{
    return ld(b, W_FIRST * 4u);
}

/* Quick lists of a heap with fl_count first-level classes. */
static inline uint32_t quick_bins_for(uint32_t fl_count)
{
    return !QUICK_ON || fl_count < QUICK_MIN_FL ? 0u : fl_count < QUICK_WIDE_FL ? QUICK_BINS_NARROW : QUICK_BINS;
}

/* Offset of the first chunk of a heap with fl_count first-level classes:
 * one list head per class from HEADS_AT, then the quick heads. */
static inline uint32_t first_for(uint32_t fl_count)
{
    return HEADS_AT + 4u * (fl_count * SL_COUNT + quick_bins_for(fl_count));
}

/* Quick lists of the heap whose first chunk is at first. FIRST tells them
 * apart: below QUICK_MIN_FL first-level classes it is at most
 * first_for(QUICK_MIN_FL - 1), then up to first_for(QUICK_WIDE_FL - 1),
 * then first_for(QUICK_WIDE_FL) and up. */
#define QUICK_FIRST_MIN (HEADS_AT + 4u * (SL_COUNT * QUICK_MIN_FL + QUICK_BINS_NARROW))
#define QUICK_FIRST_WIDE (HEADS_AT + 4u * (SL_COUNT * QUICK_WIDE_FL + QUICK_BINS))
_Static_assert(HEADS_AT + 4u * SL_COUNT * (QUICK_MIN_FL - 1u) < QUICK_FIRST_MIN &&
                   HEADS_AT + 4u * (SL_COUNT * (QUICK_WIDE_FL - 1u) + QUICK_BINS_NARROW) < QUICK_FIRST_WIDE,
               "FIRST tells the number of quick lists");
static inline uint32_t quick_bins(uint32_t first)
{
    return !QUICK_ON ? 0u : first >= QUICK_FIRST_WIDE ? QUICK_BINS : first >= QUICK_FIRST_MIN ? QUICK_BINS_NARROW : 0u;
}

static inline bool quick_at(uint32_t first)
{
    return quick_bins(first) != 0u;
}

/* Number of size classes of a heap whose first chunk is at first. */
static inline uint32_t classes_at(uint32_t first)
{
    return (first - HEADS_AT) / 4u - quick_bins(first);
}

/* The quick head of chunks of len bytes (MIN_CHUNK <= len <= quick_max):
 * the heads run down from first, so that where one lies does not depend on
 * how many there are. */
static inline uint32_t quick_head(uint32_t first, uint32_t len)
{
    return first - 4u - (len - MIN_CHUNK) / 2u;
}

/* A quick list of len-byte chunks that holds depth of them takes no more:
 * it holds at most QUICK_BYTES bytes of chunks, or one chunk, so that
 * parking keeps little memory from the free lists. */
static inline bool quick_full(uint32_t depth, uint32_t len)
{
    return (uint64_t)depth * len >= QUICK_BYTES;
}

/* The most chunks a quick list of len-byte chunks holds. */
static inline uint32_t quick_depth_max(uint32_t len)
{
    return (QUICK_BYTES + len - 1u) / len;
}

/* The longest chunk a heap with bins quick lists parks (0: none). */
static inline uint32_t quick_max_for(uint32_t bins)
{
    return bins == 0u ? 0u : MIN_CHUNK + GRANULE * (bins - 1u);
}

/* Number of size classes of the heap: one list head (4 bytes) each. */
static inline uint32_t classes_of(const uint8_t *b)
{
    return classes_at(first_of(b));
}

static inline uint32_t end_of(const uint8_t *b)
{
    return ld(b, W_END * 4u);
}

/* One call's view of a heap whose context it verified on entry: the base and
 * the bounds as they were verified, read once, so that no store into the
 * arena makes the hot path read them again (16 bytes: two registers). A
 * build for size keeps only the base and reads the bounds where they are
 * used: on a 32-bit core that is one short load each, cheaper in code than
 * carrying them in registers and on the stack. */
#ifdef __OPTIMIZE_SIZE__
typedef struct {
    uint8_t *b;
} heap_t;

static inline heap_t heap_view(uint8_t *b)
{
    heap_t h = {b};
    return h;
}

static inline uint32_t heap_first(heap_t h)
{
    return first_of(h.b);
}

static inline uint32_t heap_end(heap_t h)
{
    return end_of(h.b);
}
#else
typedef struct {
    uint8_t *b;
    uint32_t first; /* offset of the first chunk */
    uint32_t end;   /* offset of the sentinel */
} heap_t;

static inline heap_t heap_view(uint8_t *b)
{
    heap_t h = {b, first_of(b), end_of(b)};
    return h;
}

static inline uint32_t heap_first(heap_t h)
{
    return h.first;
}

static inline uint32_t heap_end(heap_t h)
{
    return h.end;
}
#endif

/* The longest chunk the heap h parks (0: it has no quick lists), whose
 * heads lie inside it. Hardened, FIRST and END were verified on entry
 * (ctx_intact). Off, nobody verified them, and the heads are found from
 * FIRST (just below it): a FIRST past END is not believed, so one damaged
 * word cannot move the heads out of the heap; whatever else is wrong is
 * found in the chunks the heads lead to. */
static inline uint32_t quick_in(heap_t h)
{
    if (!HARDENED && heap_first(h) > heap_end(h)) {
        return 0u;
    }
    return quick_max_for(quick_bins(heap_first(h)));
}

static inline uint32_t len_of(const uint8_t *b, uint32_t off)
{
    return ld(b, off + 4u) & ~FLAG_MASK;
}

static inline uint32_t tail_at(uint32_t off, uint32_t len)
{
    return off + len - TAIL_BACK;
}

/* pos is a chunk position of the heap [first, end): in range and aligned
 * (first <= end). One unsigned comparison tests both bounds. */
static inline bool chunk_pos_ok(uint32_t pos, uint32_t first, uint32_t end)
{
    return pos - first < end - first && (pos & (GRANULE - 1u)) == 0u;
}

/* A chunk at pos may be len bytes long: at least a minimal chunk, whole
 * granules, and ending at or before the sentinel. Every length read from a
 * header passes this before anything is read or written through it. */
static inline bool len_fits(uint32_t pos, uint32_t len, uint32_t end)
{
    return len >= MIN_CHUNK && len <= end - pos && (len & FLAG_MASK) == 0u;
}

/* ---- checksums ---------------------------------------------------------- */

/* The header checksum's keyed 64 -> 32 bit mix: the input xor the heap's
 * key, times the library's secret odd multiplier, high half. Every input
 * bit reaches the output through carries that depend on both secrets, so
 * changing a header's length or offset changes its checksum in a way nobody
 * without them can predict; one multiply, because it runs several times per
 * alloc+free pair. It is fast, not a MAC: docs/HARDENING.md says what an
 * attacker who reads many headers and does the algebra can still do. */
static inline uint32_t keyed_mix(uint64_t key, uint64_t m)
{
    return (uint32_t)(((m ^ key) * heap_lib_secret[1]) >> 32);
}

/* The context checksum's mix: the same, but the multiplier is drawn from the
 * key itself, so that a tweak of the key (ctx_check) changes the function,
 * not just its input: that is what lets four words share one 64-bit mix.
 * The key's high half is folded into the multiplicand too: a key whose
 * bit k changes then changes the multiplicand in bit k and, for k >= 32,
 * in bit k - 32, which no change of the multiplier (bit k - 17) can cancel
 * exactly; without the fold, one bit of the nonce in 2^18 (bit 63 with the
 * wrong low bits, and its kin) changed nothing, and a heap reported the
 * next header it checked instead of its context (tests/test_ctx_check.c). */
static inline uint32_t ctx_mix(uint64_t key, uint64_t m)
{
    uint64_t x = (m ^ key ^ key >> 32) * ((key >> 17 | key << 47) | 1u);
    return (uint32_t)(x >> 32);
}

/* The heap's key: from the library's secret (static storage), the nonce
 * this init drew and the heap's address. Recomputed by every call. */
static inline uint64_t key_of(const uint8_t *b)
{
    return heap_key_of(ld64(b, W_NONCE * 4u), (uintptr_t)b);
}

/* Hardened, the low 5 bits of an allocated chunk's check word hold its
 * slack: the bytes between the request's end plus the canary and the
 * chunk's end (0..27), from which the exact request size and the canary's
 * place follow. A free chunk's slack is 0. */
#define SLACK_MASK 31u

/* Checksum word of the header at off: keyed over the offset, the length,
 * FREE, QUICK and the slack (its low 3 bits sit in the offset's zero bits,
 * the high 2 in the flag bits left out, QUICK in the offset's top bit). PREV_FREE is left out: it changes
 * whenever a neighbour is freed or taken, and every use of it is checked
 * against the predecessor's own checksummed header. */
HOT uint32_t header_check_inline(uint64_t key, uint32_t off, uint32_t len_flags, uint32_t slack)
{
    uint32_t hi = (len_flags & ~(FLAG_PREV_FREE | FLAG_QUICK)) | ((slack >> 2) & 6u);
    uint32_t quick = (len_flags & FLAG_QUICK) << 29; /* bit 31: offsets stay below 2^31 */
    uint32_t mix = keyed_mix(key, (uint64_t)hi << 32 | off | quick | (slack & 7u));
    return (mix & ~SLACK_MASK) | slack;
}

#ifdef __OPTIMIZE_SIZE__
uint32_t heap_header_check(uint64_t key, uint32_t off, uint32_t len_flags, uint32_t slack);
#define header_check heap_header_check
#else
#define header_check header_check_inline
#endif

/* The header at off, of a chunk that should be free: a free chunk's slack
 * is 0, so its check word is compared whole (the cheaper checksum of the
 * safe unlink's many neighbour checks). */
static inline bool free_header_ok(const uint8_t *b, uint64_t key, uint32_t off, uint32_t len_flags)
{
    return !HARDENED || ld(b, off) == header_check(key, off, len_flags, 0u);
}

static inline bool header_ok(const uint8_t *b, uint64_t key, uint32_t off, uint32_t len_flags)
{
    if (!HARDENED) {
        return true;
    }
    uint32_t check = ld(b, off);
    return check == header_check(key, off, len_flags, check & SLACK_MASK);
}

/* The canary of an allocated chunk, stored right after the requested bytes:
 * the complement of its check word, so it depends on the heap's key and
 * nonce, the chunk's place, length and request size, and is free to compute
 * once the header is verified. */
static inline uint32_t canary_of(uint32_t check)
{
    return ~check;
}

/* Hardened: the exact request size of the allocated chunk at off (len bytes)
 * whose check word is check, or 0 when the slack it claims does not fit. */
static inline uint32_t request_of(uint32_t len, uint32_t check)
{
    uint32_t slack = check & SLACK_MASK;
    return slack < len - MEM_CHUNK_OVERHEAD ? len - MEM_CHUNK_OVERHEAD - slack : 0u;
}

/* Offset of the canary of an allocated chunk at off serving n bytes. */
static inline uint32_t canary_at(uint32_t off, uint32_t n)
{
    return off + 8u + n;
}

/* Hardened: what the verified header check of the allocated chunk at off
 * (len bytes, len bounded) says of its canary: CORRUPT_HEADER when its slack
 * does not fit, OVERFLOW when the canary after the request was changed. */
static inline mem_fault_t canary_fault(const uint8_t *b, uint32_t off, uint32_t len, uint32_t check)
{
    uint32_t n = request_of(len, check);
    return n == 0u                                      ? MEM_FAULT_CORRUPT_HEADER
           : ld(b, canary_at(off, n)) != canary_of(check) ? MEM_FAULT_OVERFLOW
                                                        : MEM_FAULT_NONE;
}

/* Checksum of the context: END and TOTAL are the mixed word, FIRST and the
 * failed state tweak the key (so that no packing needs a range check to be
 * injective: the tweak never touches bit 17, the one bit of a key whose
 * change would leave the multiplier alone), and at paranoid a second mix
 * covers the check interval and its counter. The key itself covers the
 * nonce and the heap's address. */
static inline uint32_t ctx_check_inline(const uint8_t *b, uint64_t key)
{
    uint64_t tweak = (uint64_t)first_of(b) << 32 | (uint64_t)ld(b, W_STATE * 4u) << 18;
    uint32_t c = ctx_mix(key ^ tweak, (uint64_t)ld(b, W_TOTAL * 4u) << 32 | end_of(b));
    if (PARANOID) {
        /* The key with its halves swapped, not its complement: the two
         * mixes' changes for one changed key bit must not be equal (they
         * cancel in the xor), and ~key's are related to key's; a swap is
         * free on a 32-bit core, where a multiply of the key is not. */
        c ^= ctx_mix(key >> 32 | key << 32, (uint64_t)ld(b, W_CHECK_EVERY * 4u) << 32 | ld(b, W_OPS * 4u));
    }
    return c;
}

#ifdef __OPTIMIZE_SIZE__
uint32_t heap_ctx_check(const uint8_t *b, uint64_t key);
#define ctx_check heap_ctx_check
#else
#define ctx_check ctx_check_inline
#endif


/* Sets the quick-list hint (W_HINT) and its mirror. */
static inline void hint_set(uint8_t *b, uint32_t hint)
{
    st(b, W_HINT * 4u, hint);
    st(b, W_HINT_MIRROR * 4u, ~hint);
}

/* Every context word is as mem_init (or the last fault) left it, checked on
 * every call: END, TOTAL, FIRST and STATE (and at paranoid the check
 * interval and its counter) against the checksum under key, which covers
 * the nonce and the heap's address; the two identity words agree; the
 * scratch word is 0 (list updates set it back); below paranoid the check
 * interval's word is the complement of W_HINT in a heap with quick lists,
 * both are 0 in one without. Verified words are the ones mem_init
 * wrote, so no range check is needed; an attacker with the secret could
 * forge any of them (README "Threat model"). */
static inline bool ctx_intact(const uint8_t *b, uint64_t key)
{
    uint32_t fixed = ld(b, W_SCRATCH * 4u) | (ld(b, W_ID * 4u) ^ ld(b, W_ID2 * 4u) ^ ID2_XOR);
    if (!PARANOID) {
        uint32_t hint = ld(b, W_HINT * 4u);
        uint32_t mirror = ld(b, W_HINT_MIRROR * 4u);
        fixed |= quick_at(first_of(b)) ? hint ^ ~mirror : hint | mirror;
    }
    return fixed == 0u && ld(b, W_CTX_CHECK * 4u) == ctx_check(b, key);
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

/* A bit of the class bitmap is set for a class the heap does not have
 * (class >= classes): the context is damaged. find_free does not ask (it
 * tests the head's place only, which is cheaper but lets a bit whose head
 * word is a quick head through); mem_check and listed_ok's fault path do. */
static inline bool bitmap_beyond(const uint8_t *b, uint32_t classes)
{
    for (uint32_t w = 0; w < BITMAP_WORDS; w++) {
        uint64_t allowed = classes >= 64u * (w + 1u) ? ~(uint64_t)0u
                           : classes <= 64u * w  ? 0u
                                                 : ((uint64_t)1u << (classes - 64u * w)) - 1u;
        if ((ld64(b, BITMAP_AT + 8u * w) & ~allowed) != 0u) {
            return true;
        }
    }
    return false;
}

/* ---- faults (mem_fault.c) ----------------------------------------------- */

/* Fault and refusal paths: cold, so that the compiler keeps them (and the
 * stack frame their calls need) off the hot paths that branch to them. */
#if defined(__GNUC__) || defined(__clang__)
#define COLD __attribute__((cold))
#else
#define COLD
#endif

/* Reports a fault to the handler registered for the heap (heap_registry.h;
 * never a pointer read from the arena). A corruption fault first fails the
 * heap closed (W_STATE), so that nothing follows its metadata again. */
COLD void heap_fault(uint8_t *b, mem_fault_t fault, const void *addr);

/* Refusal of a call on a heap that failed or whose context is damaged:
 * reports (again) and lets the caller answer NULL / false. */
COLD void heap_refuse(uint8_t *b, const void *addr);

/* The fault a heap whose state word is set answers with: the corruption
 * that failed it, or MEM_FAULT_CORRUPT_CONTEXT when the context is damaged
 * (a word off, or a state no corruption fault leaves). Reads only. */
mem_fault_t heap_failed_fault(const uint8_t *b);

/* Slow path of heap_open (heap_call.h): ctx's first identity word is not
 * its own. The damaged heap, failed closed (memcheck's reporting turned off
 * when san_vg_recognized says it was made under valgrind), or NULL when ctx
 * is no heap we can tell. */
uint8_t *heap_recognize(mem_ctx_t ctx);

/* heap_enter's path for a ctx whose first identity word is not its own: a
 * heap recognized there (damaged) refuses the call (reported, addr as for
 * heap_refuse), with memcheck's reporting as it was; anything else is no
 * heap and the call answers NULL / false unreported. */
COLD void heap_refuse_unknown(mem_ctx_t ctx, const void *addr);

/* Fails the heap with fault and signs the context again under its key (so
 * that resetting the state later does not revive it). */
void heap_fail(uint8_t *b, mem_fault_t fault);

/* Returns every chunk parked in a quick list to the free lists (mem_alloc.c):
 * mem_stat and mem_parse show the heap as its free lists see it. False after
 * reporting a damaged quick list. */
bool heap_quick_flush(uint8_t *b, uint64_t key);

/* ---- validation (heap_validate.c) --------------------------------------- */

/* The first violation of the heap's invariants, and where (payload address
 * of the chunk, or the context); MEM_FAULT_NONE when consistent. Reads only. */
mem_fault_t heap_validate(const uint8_t *b, uint64_t key, const void **where);

/* paranoid: counts a call and runs the full validation every
 * W_CHECK_EVERY calls; false after reporting what it found. */
bool heap_tick(uint8_t *b, uint64_t key);

/* Why the in-heap, aligned chunk offset off (whose header fails its check
 * or is not an allocated chunk's) is no live chunk: walks the heap from
 * the first chunk. INVALID_POINTER when off is inside an allocated chunk,
 * DOUBLE_FREE inside or at a free one, CORRUPT_HEADER when the walk meets a
 * damaged header first or reaches off itself. *where gets the chunk that
 * is damaged (for CORRUPT_HEADER). O(chunks): fault paths only (mem_walk.c). */
mem_fault_t heap_classify(const uint8_t *b, uint64_t key, uint32_t off, const void **where);
