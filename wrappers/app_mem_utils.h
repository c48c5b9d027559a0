/**
 * @file app_mem_utils.h
 * @brief The app-wide heap: hardalloc behind the SDK's APP_MEM_* macros.
 *
 * Drop-in compatible with the embedded SDK's app_mem_utils.h: the same macro
 * and function names, arguments and results, so an app written for the SDK
 * compiles unchanged. One heap serves the whole app; mem_utils_init() attaches
 * it to a buffer the app owns. Like the heap itself, this layer is not
 * thread-safe: an app that allocates from several threads serializes calls.
 *
 * No heap: before mem_utils_init() succeeds, or after mem_utils_init(NULL, 0)
 * detaches the heap, allocations answer NULL / false and frees are no-ops
 * (there is no heap, so no handler to tell).
 *
 * Faults are never hidden. A pointer the app heap did not hand out (outside
 * it, misaligned, interior, a block of an earlier heap), one already freed,
 * a block whose tail canary was overwritten, and corrupted metadata are
 * reported exactly as mem_alloc.h says, by the app heap's fault handler,
 * once per fault, with the address the app passed: MEM_FAULT_INVALID_POINTER,
 * MEM_FAULT_DOUBLE_FREE, MEM_FAULT_OVERFLOW, ... The default handler prints
 * one line and aborts. An app that wants to survive misuse installs its own
 * handler with mem_utils_set_fault_handler(); when that handler returns, the
 * call that found the fault does nothing more, logs no allocation or free
 * (profiling builds log the fault itself, before the handler runs) and
 * answers NULL / false (see each function). After a corruption fault the heap fails
 * closed: every later call refuses and reports again, until mem_utils_init.
 *
 * Memory profiling: when the app and this library are built with
 * HAVE_MEMORY_PROFILING (Meson: -Dprofiling=true), every successful
 * allocation, persistent allocation and free is logged with the caller's
 * file and line, in the format of profiling/FORMAT.md, to the sink chosen
 * with mem_utils_set_log_sink() (default: whole lines on stderr); a call the
 * heap refused is a fault, not an allocation or a free, and writes no such
 * line. Without it the macros pass no file or line, so the binary holds
 * neither, and nothing is logged.
 *
 * Faults that name their blocks (profiling builds): the wrappers also keep,
 * in the library's static storage (never in the heap, which a heap bug may
 * overwrite), the site of every live block they handed out and of the last
 * blocks they freed (mem_utils_fault_sites). A fault of the app heap is
 * written to the log first (`==MP! fault` and `==MP! site` lines,
 * profiling/FORMAT.md), then goes to the app's handler, which may ask
 * mem_utils_fault_sites, or to the default one, whose line then ends with
 * the sites: `hardalloc: double free at 0x... in heap 0x... (allocated at
 * app.c:42, first freed at app.c:57)`.
 */

#pragma once

#ifdef __cplusplus
extern "C" {
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem_alloc.h"

#ifdef HAVE_MEMORY_PROFILING
#define ALLOC_FILE __FILE__
#define ALLOC_LINE __LINE__
#else
#define ALLOC_FILE NULL
#define ALLOC_LINE 0
#endif

/** Allocates size bytes (content unspecified); NULL for 0 or no memory. */
#define APP_MEM_ALLOC(size) mem_utils_alloc((size), false, ALLOC_FILE, ALLOC_LINE)
/** Frees ptr; NULL is a no-op, a pointer the app heap cannot free is a fault (see mem_utils_free). */
#define APP_MEM_FREE(ptr) mem_utils_free((ptr), ALLOC_FILE, ALLOC_LINE)
/** realloc semantics: NULL ptr allocates, size 0 frees and answers NULL. */
#define APP_MEM_REALLOC(ptr, size) mem_utils_realloc((ptr), (size), ALLOC_FILE, ALLOC_LINE)
/** Frees *pptr and sets it to NULL (pptr is a void **). */
#define APP_MEM_FREE_AND_NULL(pptr) mem_utils_free_and_null((pptr), ALLOC_FILE, ALLOC_LINE)
/** Duplicates a NUL-terminated string; NULL for a NULL string or no memory. */
#define APP_MEM_STRDUP(str) mem_utils_strdup((str), ALLOC_FILE, ALLOC_LINE)
/** Zeroed buffer in *pptr, freeing what *pptr held first; see mem_utils_calloc. */
#define APP_MEM_CALLOC(pptr, size) mem_utils_calloc((pptr), (size), false, ALLOC_FILE, ALLOC_LINE)
/** Like APP_MEM_CALLOC, flagged persistent: kept on purpose, never a leak. */
#define APP_MEM_PERMANENT(pptr, size) mem_utils_calloc((pptr), (size), true, ALLOC_FILE, ALLOC_LINE)
/** The spec's name for APP_MEM_PERMANENT. */
#define mem_buffer_persistent(pptr, size) mem_utils_calloc((pptr), (size), true, ALLOC_FILE, ALLOC_LINE)
/** The spec's name for APP_MEM_FREE_AND_NULL. */
#define mem_utils_buffer_cleanup(pptr) mem_utils_free_and_null((pptr), ALLOC_FILE, ALLOC_LINE)

/**
 * (Re)initializes the app heap in [heap_start, heap_start + heap_size).
 *
 * @return true when the heap is ready (see mem_init for the size limits);
 *         false otherwise, and then the app heap is detached: every later
 *         allocation answers NULL until a successful init.
 *         mem_utils_init(NULL, 0) is the documented way to detach.
 * Any call discards the previous heap: pointers it handed out must no longer
 * be used or freed; to the new heap they are foreign, and freeing one is a
 * fault (MEM_FAULT_INVALID_POINTER when it lies outside the new heap; inside
 * it, whatever the new heap finds there).
 * The handler set with mem_utils_set_fault_handler() is installed on the new
 * heap, so it stays in force across re-initializations.
 * Logged as an `init` line whether or not it succeeds.
 */
bool mem_utils_init(void *heap_start, size_t heap_size);

/**
 * Chooses the app heap's fault handler (mem_alloc.h: mem_fault_handler_t):
 * handler(ctx, fault, addr, user) is called once per fault the app heap
 * finds, with the app heap's context, the fault code, the address the app
 * passed (or the damaged chunk) and user. NULL restores the allocator's
 * default, which prints one line on stderr and aborts
 * (mem_default_fault; in profiling builds the line ends with the block's
 * sites, see mem_utils_fault_sites).
 *
 * The choice belongs to the app heap, not to one buffer: it is applied to
 * the attached heap at once, and to every heap mem_utils_init() attaches
 * later. With no heap attached it is only recorded.
 *
 * Use this function rather than mem_set_fault_handler(mem_utils_context(),
 * ...): the wrappers put a relay in front of the app's handler that tells
 * them a call was refused, so that a refused free is neither logged nor
 * followed by the rest of the call, and that, in profiling builds, writes
 * the fault to the log and names the block's sites (the relay is then in
 * place even without a handler of the app's). A handler installed directly
 * on the context replaces that relay (the wrappers then take a call that
 * returns for a call that was done, and log no fault) and is lost at the
 * next mem_utils_init().
 *
 * The handler may return (the call then does nothing more, see each
 * function), longjmp out of the call (the wrappers keep no state across a
 * call: the call is simply abandoned, nothing logged for it), or end the
 * program. It must not allocate from, free into or re-initialize the app
 * heap; it may use other heaps.
 *
 * @return true when the handler is in force on the attached heap, or
 *         recorded for the next init when no heap is attached; false, and
 *         nothing changes, when the attached heap has failed closed (its
 *         handler can no longer be changed; re-initialize it first).
 */
bool mem_utils_set_fault_handler(mem_fault_handler_t handler, void *user);

/**
 * @return the app heap's context, for mem_stat / mem_check / mem_parse /
 *         mem_last_fault, or NULL while no heap is attached. The handle is a
 *         copy: the app heap can only be changed through mem_utils_init, and
 *         its fault handler through mem_utils_set_fault_handler.
 */
mem_ctx_t mem_utils_context(void);

/**
 * Allocates size bytes from the app heap.
 * @param permanent true marks the allocation persistent in the profiling log
 * @param file, line the caller's position, logged when profiling (may be NULL, 0)
 * @return the payload, or NULL (size 0, no heap, no memory, a heap that
 *         failed closed, whose fault is reported again: nothing logged)
 */
void *mem_utils_alloc(size_t size, bool permanent, const char *file, int line);

/**
 * realloc on the app heap: NULL ptr allocates, size 0 frees and returns NULL,
 * otherwise resizes in place or moves, keeping the content.
 * @return the new payload, or NULL; when no memory suffices, ptr is untouched
 *         and still owned. A ptr the app heap did not hand out or already
 *         freed is a fault, reported as by mem_utils_free (also with size 0);
 *         when the handler returns, the call answers NULL and nothing changed.
 * Logged like the free and the allocation it amounts to: size 0 as `free`,
 * NULL ptr as `alloc`, and every other success as `free` of the old address
 * then `alloc` of the new size and address, moved or resized in place, so the
 * log's live-byte count stays exact. A failed or refused call logs nothing.
 */
void *mem_utils_realloc(void *ptr, size_t size, const char *file, int line);

/**
 * Frees ptr, a block of the app heap, and logs a `free` line.
 * NULL, or any pointer while no heap is attached, is a no-op (nothing logged).
 * Otherwise a pointer the heap cannot free is reported to the app heap's
 * fault handler, with ptr as the address: MEM_FAULT_INVALID_POINTER (not
 * handed out by this heap: outside it, misaligned, interior, from an
 * earlier heap), MEM_FAULT_DOUBLE_FREE (already freed), MEM_FAULT_OVERFLOW
 * (its tail canary was overwritten; hardened builds) or the fault that
 * failed the heap. The default handler aborts; when the app's returns, the
 * block was not freed and no `free` line is written (a misuse fault writes
 * nothing to the heap; after a corruption fault the heap has failed closed;
 * profiling builds log the fault before the handler runs).
 */
void mem_utils_free(void *ptr, const char *file, int line);

/**
 * Frees *buffer as mem_utils_free does and sets *buffer to NULL; a NULL
 * buffer or *buffer is a no-op. *buffer is NULL afterwards even when the
 * free was refused (and reported): the variable no longer holds a pointer
 * the heap would take.
 */
void mem_utils_free_and_null(void **buffer, const char *file, int line);

/**
 * @return a copy of the NUL-terminated string s in the app heap, or NULL for
 *         a NULL s or no memory.
 */
char *mem_utils_strdup(const char *s, const char *file, int line);

/**
 * Puts a zeroed buffer of size bytes in *buffer. What *buffer held is freed
 * first (so calling it again on the same pointer reallocates); *buffer must
 * therefore be NULL or a block of the app heap.
 * @param size 0 frees the held buffer and succeeds with *buffer NULL.
 *             (The SDK takes a uint16_t; size_t accepts every such call and
 *             never truncates a larger size.)
 * @return true on success; false when buffer is NULL (nothing done) or the
 *         allocation fails, and then *buffer is NULL and nothing leaked;
 *         false when freeing the held buffer was refused (a fault, reported
 *         as by mem_utils_free): *buffer is then NULL and nothing is
 *         allocated, whatever size was asked.
 */
bool mem_utils_calloc(void **buffer, size_t size, bool permanent, const char *file, int line);

/** Where a block was made and released, as the profiling build saw it. file is the caller's __FILE__ (static storage), NULL when unknown. */
typedef struct { const char *file; int line; } mem_utils_site_t;

/**
 * Sizes of the profiling build's site records (static storage of the
 * library; they count when the library is compiled, define them there to
 * change them): a table of MEM_UTILS_SITE_SLOTS slots (a power of two,
 * default 256) that records at most MEM_UTILS_SITES_LIVE_MAX (3/4 of the
 * slots: 192) live blocks, and a ring of the last MEM_UTILS_FREED_SITES
 * (default 32) blocks freed. At the defaults: 5,120 + 1,024 bytes on a
 * 64-bit target, 3,072 + 640 on a 32-bit one (a slot holds an address, a
 * file pointer and a line; a ring entry an address and two sites). Nothing
 * without HAVE_MEMORY_PROFILING.
 */
#ifndef MEM_UTILS_SITE_SLOTS
#define MEM_UTILS_SITE_SLOTS 256u
#endif
#define MEM_UTILS_SITES_LIVE_MAX (MEM_UTILS_SITE_SLOTS / 4u * 3u)
#ifndef MEM_UTILS_FREED_SITES
#define MEM_UTILS_FREED_SITES 32u
#endif

#ifdef HAVE_MEMORY_PROFILING
/**
 * Profiling builds: the allocation site of the block at addr (the payload
 * address a fault handler is given) and, when it was freed (double free),
 * the site of its first free. What a fault handler registered with
 * mem_utils_set_fault_handler() asks to name the block a fault is about;
 * the default handler's line and the log's fault lines say the same.
 *
 * What is recorded (in the library's static storage, never in the heap):
 *  - every block the wrappers hand out (mem_utils_alloc, _calloc, _strdup,
 *    _realloc, so every APP_MEM_* macro), with the file and line the call
 *    passed; a realloc moves the block's record to the new address with the
 *    realloc's site, and when the block moved its old address counts as
 *    freed at that site;
 *  - the last MEM_UTILS_FREED_SITES blocks the wrappers freed (a free the
 *    heap refused is no free), each with its allocation site and the site
 *    of that free. When the ring is full the oldest entry is overwritten.
 * Blocks made or freed by mem_alloc / mem_free on mem_utils_context()
 * directly are not seen.
 *
 * @param addr  any address, compared as it is: an interior pointer is no
 *              block. A live block answers before a freed one at the same
 *              address; of two frees at one address, the latest answers.
 * @param alloc NULL, or receives the allocation site: {file, line} as the
 *              call gave them ({NULL, 0} for a call made without a site, and
 *              for a freed block whose allocation was not recorded: table
 *              full); {NULL, 0} when nothing is known
 * @param freed NULL, or receives the site of the block's first free when addr
 *              is a freed block the ring holds; {NULL, 0} for a live block
 *              and when nothing is known
 * @return true when addr is a live block the table holds or a freed block
 *         the ring holds; false when nothing is known (both outputs {NULL,
 *         0}): addr was never handed out by the wrappers since the last
 *         mem_utils_init (every call, successful or not, forgets every
 *         record), or it was while MEM_UTILS_SITES_LIVE_MAX blocks were
 *         already recorded (table full: the block is unknown for its whole
 *         life; the default handler's line then says "allocation site not
 *         recorded: site table full"), or it was freed longer ago than the
 *         ring remembers.
 * Reads only static storage; callable at any time, from a fault handler
 * too. Cost: O(1) expected for a live block (open addressing, at most 3/4
 * full), at most MEM_UTILS_FREED_SITES comparisons for a freed one.
 * Without HAVE_MEMORY_PROFILING nothing is recorded: this is a static
 * inline that fills {NULL, 0} and answers false.
 */
bool mem_utils_fault_sites(const void *addr, mem_utils_site_t *alloc, mem_utils_site_t *freed);
#else
static inline bool mem_utils_fault_sites(const void *addr, mem_utils_site_t *alloc, mem_utils_site_t *freed)
{
    (void)addr;
    if (alloc != NULL) {
        alloc->file = NULL;
        alloc->line = 0;
    }
    if (freed != NULL) {
        freed->file = NULL;
        freed->line = 0;
    }
    return false;
}
#endif

/**
 * Receives each profiling log line: the whole line, newline included, at
 * most MEM_UTILS_LOG_LINE_MAX bytes. Only len bytes are valid: the line is
 * not NUL-terminated (write it with fwrite or write, not fputs). A line whose file name would not fit is
 * written with the start of that name replaced by "..." (still one parseable
 * line); nothing is ever split across calls.
 */
typedef void (*mem_utils_log_sink_t)(void *user, const char *line, size_t len);

/** Longest profiling log line, newline included. */
#define MEM_UTILS_LOG_LINE_MAX 256u

/**
 * Chooses where profiling lines go: sink(user, line, len) for each line;
 * NULL restores the default, one write of each whole line to stderr.
 * Has no effect in a build without HAVE_MEMORY_PROFILING.
 */
void mem_utils_set_log_sink(mem_utils_log_sink_t sink, void *user);

#ifdef __cplusplus
} /* extern "C" */
#endif
