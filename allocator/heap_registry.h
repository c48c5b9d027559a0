/*
 * The library's table of heaps, in static storage (out of the attacker's
 * reach, README "Threat model"): the bases mem_init made heaps at, and the
 * fault handler registered for each. Nothing that decides where control
 * goes is read from an arena: a handler is found by the heap's address
 * here, and a heap whose identity words are both damaged is still known to
 * be one (and reported) while it is in the table. Not installed.
 *
 * HARDALLOC_HEAP_SLOTS heaps (default 16) are remembered; a heap at a new
 * address takes, in round-robin order, a slot whose heap has no handler of
 * its own, so heaps with handlers stay while others come and go. Only when
 * all 16 have handlers is one of them pushed out, and its faults then go to
 * the default handler: it fails closed. Callers serialize mem_init and
 * mem_set_fault_handler with every other call (mem_alloc.h).
 */

#pragma once

#include "mem_alloc.h"

#ifndef HARDALLOC_HEAP_SLOTS
#define HARDALLOC_HEAP_SLOTS 16
#endif

/* mem_init made a heap at base: remembered, with the default handler. */
void heap_registry_add(const void *base);

/* base is a heap made by mem_init and still remembered. */
bool heap_registry_has(const void *base);

/* Sets base's handler (NULL: the default) and user pointer. */
void heap_registry_set_handler(const void *base, mem_fault_handler_t handler, void *user);

/* The handler registered for base, or NULL for the default; *user its pointer. */
mem_fault_handler_t heap_registry_handler(const void *base, void **user);
