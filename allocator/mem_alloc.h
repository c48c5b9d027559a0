/**
 * @file mem_alloc.h
 * @brief hardalloc: an instantiable, constant-time heap allocator.
 *
 * Drop-in compatible with the embedded SDK's dynamic memory allocator: the
 * same types, names and signatures, so an app written for that SDK compiles
 * and links against hardalloc unchanged. The additions (mem_check,
 * mem_usable_size, the limits below, mem_stat_t.largest_free_size) are
 * extensions an SDK app simply does not use.
 *
 * Model: mem_init() turns a caller-owned buffer into a heap; the heap's
 * context lives inside that buffer, so any number of independent heaps can
 * coexist. What an attacker who owns the arena must not reach lives in the
 * library's static storage instead (README "Threat model"): the secret that
 * keys every checksum, and a table of the last HARDALLOC_HEAP_SLOTS (16)
 * heaps made and their fault handlers. A heap is NOT thread-safe: callers
 * serialize access to one context; mem_init, mem_init_secure and
 * mem_set_fault_handler also write that static state, so they are
 * serialized with every other call (as an app does when it sets its heaps
 * up before starting threads).
 *
 * Bad input never crashes and never goes unnoticed:
 *  - a NULL context, or one that is no heap, makes every call a no-op
 *    answering NULL, false or zeroed statistics (there is no heap whose
 *    handler to call); its first 8 bytes are read to tell (under valgrind,
 *    a pointer into a heap's own metadata is reported there, as the misuse
 *    it is). A heap whose context was damaged, even its first word, is not
 *    "no heap": it is recognized (second identity word and checksum, or the
 *    static table) and reports MEM_FAULT_CORRUPT_CONTEXT;
 *  - a misused pointer (outside the heap, misaligned, interior, another
 *    heap's, already free) and corrupted metadata are faults: the heap's
 *    fault handler is called with a mem_fault_t code (the default handler
 *    prints one line and aborts). When a handler returns, the call that
 *    found the fault does nothing and answers NULL / false / 0.
 *  - after a corruption fault (every code but MEM_FAULT_DOUBLE_FREE and
 *    MEM_FAULT_INVALID_POINTER) the heap fails closed: every later call on
 *    it refuses (NULL, no-op, zeroed statistics) and reports the fault
 *    again, so corrupted metadata is never followed.
 *
 * Hardening level (compile time, Meson option `hardening`, macro
 * MEM_HARDENING of the library and of every user of its dependency):
 *  - 0 `off`: no checksums, canaries or wiping; O(1) boundary-tag checks
 *    catch most bad frees, corrupted metadata is trusted. The fast baseline.
 *  - 1 `standard` (default): keyed header checksums, verified links, a
 *    keyed canary right after the requested bytes of every block,
 *    mem_usable_size equal to the request, freed payloads wiped to zero.
 *  - 2 `paranoid`: standard, plus free payloads filled with a poison pattern
 *    that is verified when the memory is handed out again (write after
 *    free), and an optional full mem_check every N calls.
 * README.md ("Hardening") lists every check, what it catches and costs;
 * docs/HARDENING.md is the threat model in full.
 */

#pragma once

#ifdef __cplusplus
extern "C" {
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Hardening level the library was built with: 0 off, 1 standard, 2 paranoid. */
#ifndef MEM_HARDENING
#define MEM_HARDENING 1
#endif

/** Alignment of every payload returned by mem_alloc/mem_realloc, in bytes. */
#define MEM_ALIGNMENT 8u

/** Smallest heap_size mem_init accepts, whatever the alignment of the buffer. */
#define MEM_MIN_HEAP_SIZE 256u

/**
 * Largest heap a context manages (2 GiB). A larger buffer is accepted and
 * only its first MEM_MAX_HEAP_SIZE bytes (after alignment) are used;
 * mem_stat reports the size actually managed.
 */
#define MEM_MAX_HEAP_SIZE ((size_t)1u << 31)

/**
 * Bytes of bookkeeping per allocated chunk: a chunk serving a request of n
 * bytes is max(MEM_MIN_CHUNK, round_up(n + MEM_CHUNK_OVERHEAD, 8)) bytes
 * long, or up to MEM_MIN_CHUNK - 8 bytes more when the free chunk it was cut
 * from would otherwise leave a remainder too small to be a chunk. With
 * hardening the overhead is an 8-byte header (length, flags, a keyed
 * checksum whose low 5 bits hold the slack between the request and the
 * chunk's end) and a 4-byte keyed canary right after the n requested bytes,
 * so mem_usable_size() is n; off, a 4-byte header (the next chunk's
 * previous-length word is payload) and mem_usable_size() is the chunk's
 * length minus MEM_CHUNK_OVERHEAD.
 */
#if MEM_HARDENING > 0
#define MEM_CHUNK_OVERHEAD 12u
#define MEM_MIN_CHUNK 24u
#else
#define MEM_CHUNK_OVERHEAD 4u
#define MEM_MIN_CHUNK 16u
#endif

/** Opaque handle of a heap: the aligned start of the buffer given to mem_init. */
typedef void *mem_ctx_t;

/**
 * Called by mem_parse for each chunk, in address order.
 *
 * @param data      the pointer given to mem_parse, untouched
 * @param addr      the payload address (as mem_alloc returned it) of an
 *                  allocated chunk; for a free chunk, the address its payload
 *                  would have
 * @param allocated true for an allocated chunk, false for a free one
 * @param size      length of the chunk in bytes, bookkeeping included
 * @return true to stop the walk, false to go on
 */
typedef bool (*mem_parse_callback_t)(void *data, uint8_t *addr, bool allocated, size_t size);

/** What a fault handler is told. Codes are stable: tests and logs use them. */
typedef enum {
    MEM_FAULT_NONE = 0,            ///< no fault (mem_last_fault of a healthy heap)
    MEM_FAULT_CORRUPT_HEADER,      ///< a chunk header fails its checksum or contradicts its neighbours
    MEM_FAULT_CORRUPT_LINK,        ///< a free-list link points outside the heap or not back
    MEM_FAULT_DOUBLE_FREE,         ///< the pointer's chunk is already free
    MEM_FAULT_INVALID_POINTER,     ///< outside the heap, misaligned, interior, or another heap's
    MEM_FAULT_OVERFLOW,            ///< the canary right after the requested bytes was overwritten
    MEM_FAULT_WRITE_AFTER_FREE,    ///< a free payload lost its poison (paranoid)
    MEM_FAULT_CORRUPT_CONTEXT,     ///< the heap context fails its checksum or its lists
} mem_fault_t;

/**
 * Called once per fault found, before the call that found it returns.
 *
 * @param ctx   the heap
 * @param fault what was found (never MEM_FAULT_NONE)
 * @param addr  the pointer the caller passed when the fault is about it
 *              (bad free, overflow of that block); otherwise the payload
 *              address of the damaged chunk, or ctx for the context
 * @param user  the pointer given to mem_set_fault_handler
 * A handler may return (the call then answers NULL / false / 0 and does
 * nothing), longjmp out, or end the program. It may call mem_* on other
 * heaps; on the faulting heap every call after a corruption fault refuses.
 */
typedef void (*mem_fault_handler_t)(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user);

/** Heap statistics, filled by mem_stat. Sizes are in bytes. */
typedef struct {
    size_t total_size;      ///< heap_size given to mem_init (clamped to MEM_MAX_HEAP_SIZE)
    size_t free_size;       ///< sum of the free chunks' lengths (not all in one piece)
    size_t allocated_size;  ///< sum of the allocated chunks' lengths, bookkeeping included
    uint32_t nb_chunks;     ///< number of chunks, free and allocated
    uint32_t nb_allocated;  ///< number of allocated chunks
    size_t largest_free_size;  ///< length of the largest free chunk (extension)
} mem_stat_t;

/**
 * Turns a buffer into a heap.
 *
 * @param heap_start any address; the heap starts at the first 8-byte aligned
 *                   address inside the buffer
 * @param heap_size  length of the buffer in bytes; at least MEM_MIN_HEAP_SIZE.
 *                   Beyond MEM_MAX_HEAP_SIZE the rest of the buffer is unused.
 * @return the heap's context (inside the buffer), or NULL when heap_start is
 *         NULL, heap_size < MEM_MIN_HEAP_SIZE, or the buffer would wrap the
 *         address space. The buffer must stay valid and otherwise untouched
 *         while the heap is in use. Re-initializing a buffer discards every
 *         chunk in it.
 *         NULL also when the library's secret cannot be drawn (first call:
 *         the entropy source failed, see hardalloc_entropy). Every init
 *         draws a fresh nonce for the heap's key: a pointer from before a
 *         re-init of the same buffer is reported, never handed out again.
 * Cost: O(1). The context sits at the first 8-byte aligned address of the
 * buffer and takes exactly 80 + 32 * (floor(log2(n - 88)) - 4) bytes, plus
 * 128 (the heads of the quick lists) when n - 88 >= 16384, 1024 when
 * n - 88 >= 1048576, at MEM_HARDENING < 2, where n is what is left of heap_size past that address,
 * rounded down to 8 and capped at MEM_MAX_HEAP_SIZE (528 bytes for 32 KiB
 * below paranoid, 400 at paranoid, 176 for 256 B); the one free chunk of
 * the new heap runs from there to 8 bytes before n.
 */
mem_ctx_t mem_init(void *heap_start, size_t heap_size);

/**
 * mem_init with a caller-chosen seed mixed into the heap's nonce. The header
 * checksums, canaries and the context's checksum are keyed by the library's
 * secret (static storage, drawn once from the platform's entropy source),
 * the nonce and the heap's address, so mem_init is as strong: the seed is
 * public once mixed (the nonce sits in the context) and cannot make up for
 * a weak entropy source; give the TRNG to hardalloc_entropy instead.
 * mem_init(buf, size) is mem_init_secure(buf, size, MEM_DEFAULT_SEED).
 * Same answers as mem_init.
 */
mem_ctx_t mem_init_secure(void *heap_start, size_t heap_size, uint64_t seed);

/**
 * Entropy hook, for platforms without getrandom()/getentropy() (firmware):
 * build the library with -DHARDALLOC_ENTROPY_HOOK and define this function
 * in the app, filling buf with len bytes from a true random source (the
 * TRNG) and answering true, or false when it cannot (mem_init then answers
 * NULL: no heap is made with a guessable key). Called once, by the first
 * mem_init of the process, for the library's secret (README "Threat
 * model"). Without the define the library uses getrandom() on Linux and
 * getentropy() on the BSDs and macOS; elsewhere the build stops with an
 * error naming this hook rather than fall back to a constant.
 */
bool hardalloc_entropy(void *buf, size_t len);

/** Seed used by mem_init: public, like every nonce. */
#define MEM_DEFAULT_SEED UINT64_C(0x68617264616c6c63) /* "hardallc" */

/** The SDK's exception for a corrupted heap (its errors.h: EXCEPTION_CORRUPT),
 *  which the default handler throws when the library is built for the SDK's
 *  fault path (mem_default_fault). */
#define MEM_SDK_EXCEPTION_CORRUPT 0x14u

#if defined(__GNUC__) || defined(__clang__)
#define MEM_NORETURN __attribute__((noreturn))
#else
#define MEM_NORETURN
#endif

/**
 * What the default fault handler does, for handlers that add to it (the app
 * wrappers name the faulting block's sites this way): writes the one line
 * `hardalloc: <fault name> at <addr> in heap <ctx><note>` to stderr (note
 * NULL: nothing appended; built with HARDALLOC_NO_STDIO, for firmware
 * without stdio: no line), then ends the call:
 *  - by default, abort();
 *  - built for the SDK's fault path (Meson -Dfault_action=sdk, macro
 *    HARDALLOC_SDK_EXCEPTIONS), os_longjmp(MEM_SDK_EXCEPTION_CORRUPT), the
 *    SDK's THROW(EXCEPTION_CORRUPT), whatever the fault: an SDK app's
 *    TRY/CATCH, and an SDK unit test that wraps os_longjmp and setjmps
 *    around the call, see what the SDK's allocator gave them. The app (the
 *    SDK) defines os_longjmp; should it ever return, abort() follows. A
 *    program that defines none still links (gcc, clang): a weak os_longjmp
 *    of the library's stands in and aborts.
 * Any ctx, fault and addr are accepted (they are only printed). Never returns.
 */
MEM_NORETURN void mem_default_fault(mem_ctx_t ctx, mem_fault_t fault, const void *addr, const char *note);

/**
 * Installs the heap's fault handler; NULL restores the default, which is
 * mem_default_fault(ctx, fault, addr, NULL): one line on stderr, then
 * abort() (or the SDK's exception, see mem_default_fault). The handler and user pointer are kept in the library's
 * static table under the heap's address, never in the arena: whatever is
 * written there, a fault reaches this handler or the default one. mem_init
 * at the same address restores the default. The table holds
 * HARDALLOC_HEAP_SLOTS (16) heaps; new heaps replace ones without a handler
 * of their own first, so a heap with a handler keeps it while other heaps
 * come and go. Only a 17th heap with a handler pushes one out, whose faults
 * then go to the default handler (it fails closed).
 * @return false (and nothing changes) for a bad ctx or a heap that failed
 *         (or whose context is damaged: every later call refuses).
 */
bool mem_set_fault_handler(mem_ctx_t ctx, mem_fault_handler_t handler, void *user);

/**
 * @return the fault that failed the heap (fail closed), or MEM_FAULT_NONE
 *         while it is healthy or for a bad ctx. Misuse faults
 *         (MEM_FAULT_DOUBLE_FREE, MEM_FAULT_INVALID_POINTER) do not fail a
 *         heap and are not remembered. Never calls the handler.
 */
mem_fault_t mem_last_fault(mem_ctx_t ctx);

/** @return a constant name for fault ("double free", ...); "unknown fault" for other values. */
const char *mem_fault_name(mem_fault_t fault);

/**
 * paranoid only: runs the full mem_check every `every` calls on this heap
 * (0 turns it off), so corruption is found near the call that caused it.
 * @return true when set; false for a bad ctx, a failed heap (or one whose
 *         context fails its checksum, as for mem_set_fault_handler), or a
 *         library built at a lower level (which has no such counter).
 */
bool mem_set_check_interval(mem_ctx_t ctx, uint32_t every);

/**
 * Allocates a chunk.
 *
 * @return an 8-byte aligned payload of at least nb_bytes bytes, with
 *         unspecified content; NULL for a bad ctx, nb_bytes == 0, a request
 *         larger than the heap (SIZE_MAX included: no rounding overflows),
 *         or when no free chunk is large enough.
 * Cost: O(1). The constant-time good-fit search rounds the request up to its
 * size class; only when that finds nothing, a bounded scan (at most 16
 * chunks) of the request's own class looks for a chunk that fits exactly.
 */
void *mem_alloc(mem_ctx_t ctx, size_t nb_bytes);

/**
 * Resizes a chunk, with C realloc semantics.
 *
 * - ptr NULL: same as mem_alloc(ctx, size).
 * - size 0: frees ptr and returns NULL.
 * - shrinking: stays in place (what is left over is split off and freed,
 *   with the following chunk when that is free) and returns ptr; hardened,
 *   the bytes past the new size are wiped.
 * - growing: extends in place into the following free chunk when that
 *   suffices; otherwise slides down into the preceding free chunk (with the
 *   following one when free) when that suffices, or moves to a new chunk,
 *   and copies the content.
 * @return the (possibly moved) payload with the first min(old, new) bytes
 *         preserved (old: the previous request; bytes past it are not,
 *         even when the chunk had room: its canary was there); NULL when ctx is bad, size > MEM_MAX_HEAP_SIZE or no
 *         memory suffices, and then the old chunk is untouched and still
 *         owned by the caller; NULL after reporting a fault when ptr is not
 *         a live block of this heap (or the heap is corrupted).
 * Cost: O(1) plus the copy when the chunk moves.
 */
void *mem_realloc(mem_ctx_t ctx, void *ptr, size_t size);

/**
 * Frees a chunk and merges it with its free neighbours.
 *
 * NULL is a no-op. A pointer this heap did not hand out is reported as
 * MEM_FAULT_INVALID_POINTER, one already freed as MEM_FAULT_DOUBLE_FREE (when
 * its chunk merged into a free neighbour, whose interior it now points to,
 * also MEM_FAULT_DOUBLE_FREE); neither writes anything, and neither reads
 * outside the heap. A block whose canary was overwritten is reported as
 * MEM_FAULT_OVERFLOW and not freed. With hardening the payload is wiped
 * (zero; paranoid: the poison pattern) before it joins the free lists.
 * Cost: O(1) plus the wipe; a fault path may walk the heap to classify the
 * pointer (O(chunks)).
 */
void mem_free(mem_ctx_t ctx, void *ptr);

/**
 * Walks every chunk in address order and calls callback for each, until it
 * returns true. No-op for a bad ctx or a NULL callback. Every header is
 * verified before the first callback: on a damaged heap the fault is reported
 * and the callback is never called. The callback must not allocate from or
 * free into the heap being walked. Cost: O(chunks), two walks.
 */
void mem_parse(mem_ctx_t ctx, mem_parse_callback_t callback, void *data);

/**
 * Fills *stat with the heap's statistics.
 *
 * @param ctx either a context or the address of a mem_ctx_t variable holding
 *            one (SDK callers pass both). The first 8 bytes at ctx are read
 *            (with 4-byte pointers, bytes 4..7 only when the first word is
 *            no heap the table knows: &ctx is then a 4-byte variable);
 *            when ctx itself is no heap (not even a damaged one), its first
 *            pointer-sized word is followed only when it is a heap the
 *            library's static table knows (16 heaps): an address
 *            read from anywhere is never followed unverified.
 * @param stat written in full; all zero when ctx is NULL or designates no heap.
 *             NULL stat is a no-op.
 * Cost: O(chunks).
 */
void mem_stat(mem_ctx_t *ctx, mem_stat_t *stat);

/**
 * Validates the whole heap: the context and its checksum, a physical walk
 * that must cover the heap exactly, every header's checksum and every
 * allocated chunk's canary (hardened levels), boundary tags, no two adjacent
 * free chunks, every free chunk in exactly the free list its size maps to,
 * doubly linked lists consistent, bitmaps equal to the lists' emptiness,
 * every link inside the heap, and (paranoid) every free payload's poison.
 *
 * @return true when the heap is consistent; false for a bad ctx (no
 *         handler called), a heap that already failed (its fault reported
 *         again), or a violation: the first one found is reported to the
 *         fault handler with its code (CORRUPT_CONTEXT, CORRUPT_HEADER,
 *         OVERFLOW, CORRUPT_LINK, WRITE_AFTER_FREE) and the heap fails
 *         closed. Writes nothing but the failed state (and the context
 *         checksum that covers it). Cost: O(chunks).
 */
bool mem_check(mem_ctx_t ctx);

/**
 * @return the number of bytes the caller may use at ptr: exactly what was
 *         requested at standard and paranoid (the canary follows them), the
 *         chunk's length minus MEM_CHUNK_OVERHEAD at off; 0 when ctx or ptr
 *         is bad (a bad ptr is reported as for mem_free). Cost: O(1).
 */
size_t mem_usable_size(mem_ctx_t ctx, const void *ptr);

#ifdef __cplusplus
} /* extern "C" */
#endif
