/**
 * @file replay_engine.h
 * @brief trace_replay's replay of a decoded trace on one back end: the
 *        timed loop (with the fallbacks of replay_backend.h), one replay
 *        on a fresh arena, and the smallest arena by bisection.
 */
#ifndef REPLAY_ENGINE_H
#define REPLAY_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay_backend.h"
#include "replay_trace.h"

/* The largest arena tried (hardalloc's MEM_MAX_HEAP_SIZE, restated: its
 * header is not included here, so that no unprefixed mem_* declaration is
 * visible, as in gbench.cc). */
#define REPLAY_MAX_ARENA ((size_t)1u << 31)

/* replay_once's answer when the back end's init refused the arena. */
#define REPLAY_INIT_FAILED UINT64_MAX

/* One slot per trace id: the pointer the program would use (aligned by
 * hand by the aligned fallback), the one the allocator returned, and the
 * size the block was asked with (the realloc fallback copies min(old, new)). */
typedef struct replay_slot {
    void *user;
    void *base;
    uint64_t size;
} replay_slot;

/* Replays d's operations on b (heap ctx) into slots (d->slots of them, all
 * empty on entry). Returns the failed allocations; stop_on_failure: returns
 * at the first. This is the timed loop, and the one function that
 * bench/trace/instructions has callgrind collect in (--toggle-collect=
 * replay_loop): never inlined, never cloned, so that the symbol exists. */
uint64_t replay_loop(const replay_trace *d, const replay_backend *b, void *ctx,
                     replay_slot *slots, bool stop_on_failure);

/* One replay of d on b: slots cleared; an arena back end gets a fresh heap
 * in arena[0, size) (init), a system allocator frees the blocks still live
 * afterwards (untimed). *elapsed (if not NULL) gets the replay loop's ns.
 * Returns the failures, or REPLAY_INIT_FAILED when init refused. */
uint64_t replay_once(const replay_trace *d, const replay_backend *b, void *arena, size_t size,
                     replay_slot *slots, bool stop_on_failure, double *elapsed);

/* The smallest arena (a multiple of 8 bytes, up to max) in which d replays
 * on the arena back end b with no failure: doubling from the peak live
 * bytes (or b->min_arena) then bisecting to 8 bytes. 0 when max fails too,
 * or no memory for the arena. */
size_t replay_smallest_arena(const replay_trace *d, const replay_backend *b, replay_slot *slots,
                             size_t max);

/* An arena of size bytes, 64-byte aligned (o1heap wants 4 pointers), every
 * page touched; NULL without memory. replay_arena_free frees it. */
void *replay_arena_alloc(size_t size);
void replay_arena_free(void *arena);

#endif /* REPLAY_ENGINE_H */
