/**
 * @file replay_engine.c
 * @brief trace_replay's replay loop, one replay, and the smallest arena
 *        (replay_engine.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "replay_engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* callgrind's --toggle-collect finds replay_loop by name: not inlined, and
 * not cloned into replay_loop.constprop.N (gcc; clang has no noclone and
 * does not clone a noinline function). */
#if defined(__clang__)
#define REPLAY_COUNTED __attribute__((noinline))
#else
#define REPLAY_COUNTED __attribute__((noinline, noclone))
#endif

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* An aligned allocation: the back end's own, else (the fallback) a plain
 * allocation when align is at most what alloc guarantees, else
 * alloc(size + align - 1) aligned up by hand, *base keeping what alloc
 * returned (to free it). n is the size as asked (0 raised to 1 where the
 * back end refuses 0), size the size of the trace. */
static void *aligned_op(const replay_backend *b, void *ctx, uint64_t align, uint64_t size,
                        size_t n, void **base) {
    if (b->aligned) {
        *base = b->aligned(ctx, (size_t)align, n);
        return *base;
    }
    if (align <= b->alignment) {
        *base = b->alloc(ctx, n);
        return *base;
    }
    if (size > SIZE_MAX - align) {
        *base = NULL;
        return NULL;
    }
    *base = b->alloc(ctx, (size_t)(size + align - 1));
    if (!*base)
        return NULL;
    uintptr_t p = (uintptr_t)*base;
    p = (p + (uintptr_t)(align - 1)) & ~(uintptr_t)(align - 1);
    return (void *)p;
}

/* A reallocation without the back end's realloc: a new block, the old
 * one's min(old, new) bytes copied (from where the program sees them),
 * the old block freed. NULL (the old block kept) when the allocation fails. */
static void *realloc_fallback(const replay_backend *b, void *ctx, const replay_slot *o,
                              uint64_t size, size_t n) {
    void *p = b->alloc(ctx, n);
    if (p) {
        uint64_t keep = o->size < size ? o->size : size;
        memcpy(p, o->user, (size_t)keep);
        b->free(ctx, o->base);
    }
    return p;
}

REPLAY_COUNTED uint64_t replay_loop(const replay_trace *d, const replay_backend *b, void *ctx,
                                    replay_slot *slots, bool stop_on_failure) {
    const uint64_t least = b->zero_ok ? 0u : 1u; /* the smallest size passed */
    uint64_t failures = 0;
    for (size_t i = 0; i < d->n_ops; i++) {
        const replay_op *op = &d->ops[i];
        size_t n = (size_t)(op->size > least ? op->size : least);
        switch (op->kind) {
        case ROP_MALLOC: {
            void *p = b->alloc(ctx, n);
            slots[op->id] = (replay_slot){p, p, op->size};
            if (!p)
                failures++;
            break;
        }
        case ROP_CALLOC: {
            void *p;
            if (b->calloc) {
                p = b->calloc(ctx, n);
            } else {
                p = b->alloc(ctx, n);
                if (p)
                    memset(p, 0, (size_t)op->size);
            }
            slots[op->id] = (replay_slot){p, p, op->size};
            if (!p)
                failures++;
            break;
        }
        case ROP_ALIGNED: {
            void *base;
            void *p = aligned_op(b, ctx, op->align, op->size, n, &base);
            slots[op->id] = (replay_slot){p, base, op->size};
            if (!p)
                failures++;
            break;
        }
        case ROP_REALLOC: {
            replay_slot *o = &slots[op->old];
            void *p;
            if (!o->base) /* its allocation failed earlier in this replay */
                p = b->alloc(ctx, n);
            else if (b->realloc)
                p = b->realloc(ctx, o->base, n);
            else
                p = realloc_fallback(b, ctx, o, op->size, n);
            if (!p) {
                /* the old block stays allocated; the trace kept it in place
                 * (same id: it keeps its slot) or moved it (the new id gets
                 * nothing and the old block is freed now, as the trace did) */
                failures++;
                if (op->old != op->id) {
                    if (o->base)
                        b->free(ctx, o->base);
                    *o = (replay_slot){NULL, NULL, 0};
                    slots[op->id] = (replay_slot){NULL, NULL, 0};
                }
            } else {
                *o = (replay_slot){NULL, NULL, 0};
                slots[op->id] = (replay_slot){p, p, op->size};
            }
            break;
        }
        case ROP_FREE: {
            replay_slot *o = &slots[op->old];
            if (o->base)
                b->free(ctx, o->base);
            *o = (replay_slot){NULL, NULL, 0};
            break;
        }
        default:
            break;
        }
        if (failures && stop_on_failure)
            return failures;
    }
    return failures;
}

uint64_t replay_once(const replay_trace *d, const replay_backend *b, void *arena, size_t size,
                     replay_slot *slots, bool stop_on_failure, double *elapsed) {
    memset(slots, 0, (size_t)d->slots * sizeof *slots);
    void *ctx = NULL;
    if (b->init) {
        ctx = b->init(b, arena, size);
        if (!ctx)
            return REPLAY_INIT_FAILED;
    }
    double t0 = now_ns();
    uint64_t f = replay_loop(d, b, ctx, slots, stop_on_failure);
    double t1 = now_ns();
    if (elapsed)
        *elapsed = t1 - t0;
    if (!b->init) {
        for (uint64_t i = 0; i < d->slots; i++) {
            if (slots[i].base)
                b->free(NULL, slots[i].base);
        }
    }
    return f;
}

void *replay_arena_alloc(size_t size) {
    void *p = NULL;
    if (size == 0 || posix_memalign(&p, 64, size) != 0)
        return NULL;
    memset(p, 0, size); /* pages touched before any timing */
    return p;
}

void replay_arena_free(void *arena) {
    free(arena);
}

/* The bisection's arena: grown as needed, never shrunk. */
typedef struct scratch {
    void *arena;
    size_t size;
} scratch;

static bool holds(const replay_trace *d, const replay_backend *b, replay_slot *slots,
                  scratch *s, size_t size, bool *no_memory) {
    if (b->min_arena && size < b->min_arena)
        return false;
    if (!s->arena || s->size < size) {
        replay_arena_free(s->arena);
        s->arena = replay_arena_alloc(size);
        s->size = s->arena ? size : 0;
        if (!s->arena) {
            *no_memory = true;
            return false;
        }
    }
    return replay_once(d, b, s->arena, size, slots, true, NULL) == 0;
}

size_t replay_smallest_arena(const replay_trace *d, const replay_backend *b, replay_slot *slots,
                             size_t max) {
    max &= ~(size_t)7u;
    size_t hi = 256u; /* hardalloc's MEM_MIN_HEAP_SIZE: no allocator holds less usefully */
    if (d->peak_live > hi && d->peak_live < max)
        hi = (size_t)((d->peak_live + 7u) & ~(uint64_t)7u);
    size_t min = (b->min_arena + 7u) & ~(size_t)7u;
    if (min > hi && min <= max)
        hi = min;
    if (hi > max)
        hi = max;
    /* a size known to fail: below the back end's minimum */
    size_t lo = min >= 8u && min <= hi ? min - 8u : 0u;
    scratch s = {NULL, 0};
    bool no_memory = false;
    size_t found = 0;
    for (;;) {
        if (holds(d, b, slots, &s, hi, &no_memory))
            break;
        if (no_memory || hi >= max)
            goto out;
        lo = hi;
        hi = hi > max / 2 ? max : hi * 2;
    }
    /* invariant: lo fails (or is below the minimum), hi holds */
    while (hi - lo > 8u) {
        size_t mid = lo + ((hi - lo) / 2 & ~(size_t)7u);
        if (mid <= lo)
            mid = lo + 8u;
        if (holds(d, b, slots, &s, mid, &no_memory))
            hi = mid;
        else if (no_memory)
            goto out;
        else
            lo = mid;
    }
    found = hi;
out:
    replay_arena_free(s.arena);
    return found;
}
