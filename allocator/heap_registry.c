/*
 * The table of heaps and their fault handlers (heap_registry.h): a few
 * slots searched linearly, because only mem_init, mem_set_fault_handler and
 * fault paths look at it, never a successful alloc or free.
 */

#include "heap_registry.h"

typedef struct {
    const void *base; /* NULL: free slot */
    mem_fault_handler_t handler;
    void *user;
} slot_t;

static slot_t g_slots[HARDALLOC_HEAP_SLOTS];
static unsigned g_next; /* the slot a new heap takes: round robin, oldest first */

static slot_t *find(const void *base)
{
    for (unsigned i = 0; i < HARDALLOC_HEAP_SLOTS; i++) {
        if (g_slots[i].base == base) {
            return &g_slots[i];
        }
    }
    return NULL;
}

/* base's slot. A heap not in the table takes the next slot in round-robin
 * order that holds no handler of its own, so that a heap whose faults must
 * reach its handler outlives any number of throwaway heaps; only when every
 * slot has a handler does the oldest position go. */
static slot_t *slot_for(const void *base)
{
    slot_t *s = find(base);
    if (s == NULL) {
        /* At most one lap plus one step: with a handler in every slot, the
         * lap ends where it began, at the oldest position. */
        unsigned tries = 0;
        do {
            s = &g_slots[g_next];
            g_next = (g_next + 1u) % HARDALLOC_HEAP_SLOTS;
        } while (s->handler != NULL && ++tries <= HARDALLOC_HEAP_SLOTS);
        s->base = base;
    }
    return s;
}

void heap_registry_add(const void *base)
{
    slot_t *s = slot_for(base);
    s->handler = NULL;
    s->user = NULL;
}

bool heap_registry_has(const void *base)
{
    return base != NULL && find(base) != NULL;
}

void heap_registry_set_handler(const void *base, mem_fault_handler_t handler, void *user)
{
    slot_t *s = slot_for(base);
    s->handler = handler;
    s->user = handler != NULL ? user : NULL;
}

mem_fault_handler_t heap_registry_handler(const void *base, void **user)
{
    const slot_t *s = find(base);
    *user = s != NULL ? s->user : NULL;
    return s != NULL ? s->handler : NULL;
}
