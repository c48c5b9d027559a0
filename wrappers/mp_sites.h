/**
 * @file mp_sites.h
 * @brief The profiling build's record of where each block of the app heap
 *        was made and freed, for faults that name their blocks
 *        (app_mem_utils.h: mem_utils_fault_sites). Internal to the wrappers;
 *        compiled to nothing without HAVE_MEMORY_PROFILING.
 *
 * Everything lives in the library's static storage, never in the heap: an
 * attacker who writes any byte of the arena (docs/HARDENING.md) can make the
 * heap report a fault, but cannot change the file and line it is told, nor
 * make the wrappers print through a pointer read from the arena. Sizes are
 * the compile-time MEM_UTILS_SITE_SLOTS and MEM_UTILS_FREED_SITES
 * (app_mem_utils.h).
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "app_mem_utils.h"

/** What the record knows about an address (the `<known>` field of the log's fault line). */
typedef enum {
    MP_SITES_UNKNOWN = 0, /**< nothing: not a block the wrappers handed out, or forgotten */
    MP_SITES_LIVE,        /**< a live block: its allocation site */
    MP_SITES_FREED,       /**< a block freed through the wrappers: both sites (allocation maybe not recorded) */
    MP_SITES_TABLE_FULL,  /**< a live block (an overflow) whose allocation found no slot: table full */
} mp_sites_known_t;

/** What mp_sites_lookup answers. */
typedef struct {
    mp_sites_known_t known;
    bool alloc_recorded;     /**< LIVE, and FREED when its allocation had a slot */
    mem_utils_site_t alloc;  /**< valid when alloc_recorded (file NULL: the call gave none) */
    mem_utils_site_t freed;  /**< valid when FREED */
} mp_sites_t;

#ifdef HAVE_MEMORY_PROFILING

/** Forgets every record (mem_utils_init, any call). */
void mp_sites_reset(void);
/** Block p was handed out at file:line. */
void mp_sites_alloc(const void *p, const char *file, int line);
/** Block p was freed at file:line: its record moves to the ring of frees. */
void mp_sites_free(const void *p, const char *file, int line);
/** Block old became moved (maybe the same address) at file:line. */
void mp_sites_realloc(const void *old, const void *moved, const char *file, int line);
/** What is known about addr; fault is the code reported about it (only
 *  MEM_FAULT_OVERFLOW, a fault about a live block, answers TABLE_FULL). */
void mp_sites_lookup(const void *addr, mem_fault_t fault, mp_sites_t *out);
/**
 * The default handler's note for what lookup answered: " (allocated at
 * F:L)", " (allocated at F:L, first freed at F:L)", ... or "" when nothing
 * is known; at most cap - 1 characters and a NUL (cap > 0), each file name
 * losing its start to "..." when the note would not fit.
 */
void mp_sites_note(const mp_sites_t *sites, mem_fault_t fault, char *out, size_t cap);

#else

#define mp_sites_reset() ((void)0)
#define mp_sites_alloc(p, file, line) ((void)(p), (void)(file), (void)(line))
#define mp_sites_free(p, file, line) ((void)(p), (void)(file), (void)(line))
#define mp_sites_realloc(old, moved, file, line) ((void)(old), (void)(moved), (void)(file), (void)(line))

#endif
