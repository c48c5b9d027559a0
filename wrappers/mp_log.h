/**
 * @file mp_log.h
 * @brief Writer of the memory-profiling log (format: profiling/FORMAT.md).
 *        Internal to the wrappers; compiled to nothing without
 *        HAVE_MEMORY_PROFILING.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "app_mem_utils.h"
#include "mp_sites.h"

#ifdef HAVE_MEMORY_PROFILING

/** `==MP init;0x<heap>;<size>` */
void mp_log_init(const void *heap, size_t size);
/** `==MP alloc;<size>;0x<ptr>;<file>:<line>`, or `persist` when persistent */
void mp_log_alloc(bool persistent, size_t size, const void *ptr, const char *file, int line);
/** `==MP free;0x<ptr>;<file>:<line>` */
void mp_log_free(const void *ptr, const char *file, int line);
/**
 * A fault of the app heap, before its handler runs: `==MP! fault;<code>;
 * 0x<addr>;<known>;<name>`, then `==MP! site;alloc;0x<addr>;<file>:<line>`
 * when the allocation site is known and `==MP! site;free;0x<addr>;
 * <file>:<line>` when the block was freed (profiling/FORMAT.md).
 */
void mp_log_fault(mem_fault_t fault, const void *addr, const mp_sites_t *sites);
/** Sink selection behind mem_utils_set_log_sink. */
void mp_log_set_sink(mem_utils_log_sink_t sink, void *user);
/**
 * Writes "<file><sep><line><end>" at out (no NUL), sep ':' , file "?" when
 * NULL, in at most room bytes: when that would not fit, the start of file
 * is replaced by "..." (the log's rule for long names). Returns the bytes
 * written: 0 when not even "...:<line><end>" fits.
 */
size_t mp_log_put_site(char *out, size_t room, const char *file, int line, const char *end);

#else

/* The arguments are still evaluated (and so "used"), the calls cost nothing. */
#define mp_log_init(heap, size) ((void)(heap), (void)(size))
#define mp_log_alloc(persistent, size, ptr, file, line) \
    ((void)(persistent), (void)(size), (void)(ptr), (void)(file), (void)(line))
#define mp_log_free(ptr, file, line) ((void)(ptr), (void)(file), (void)(line))
#define mp_log_fault(fault, addr, sites) ((void)(fault), (void)(addr), (void)(sites))
#define mp_log_set_sink(sink, user) ((void)(sink), (void)(user))

#endif
