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
    uint32_t age; /* order of registration: larger is newer */
} slot_t;

static slot_t g_slots[HARDALLOC_HEAP_SLOTS];
static uint32_t g_age;

static slot_t *find(const void *base)
{
    for (unsigned i = 0; i < HARDALLOC_HEAP_SLOTS; i++) {
        if (g_slots[i].base == base) {
            return &g_slots[i];
        }
    }
    return NULL;
}

/* A slot for a new base: a free one, else the oldest without a handler,
 * else the oldest. */
static slot_t *take_slot(void)
{
    slot_t *victim = NULL;
    for (unsigned i = 0; i < HARDALLOC_HEAP_SLOTS; i++) {
        slot_t *s = &g_slots[i];
        if (s->base == NULL) {
            return s;
        }
        bool better = victim == NULL || (s->handler == NULL && victim->handler != NULL) ||
                      ((s->handler == NULL) == (victim->handler == NULL) && s->age < victim->age);
        if (better) {
            victim = s;
        }
    }
    return victim;
}

static slot_t *slot_for(const void *base)
{
    slot_t *s = find(base);
    if (s == NULL) {
        s = take_slot();
        s->base = base;
        s->handler = NULL;
        s->user = NULL;
    }
    s->age = ++g_age;
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
