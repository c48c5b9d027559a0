/*
 * Sites of the app heap's blocks, for faults that name them (profiling
 * builds only; contract: mp_sites.h, app_mem_utils.h mem_utils_fault_sites).
 *
 * Two structures, both static and of fixed size:
 *  - live blocks: an open-addressed hash table of MEM_UTILS_SITE_SLOTS slots
 *    keyed by payload address (0: empty), linear probing, at most 3/4 full
 *    (MEM_UTILS_SITES_LIVE_MAX records), deletion by backward shift (no
 *    tombstones, so probe lengths never degrade over a long run). A block
 *    that finds the table at its limit is not recorded: g_unrecorded counts
 *    such blocks while they live, and an overflow fault on an address the
 *    table does not hold is then "table full";
 *  - freed blocks: a ring of the last MEM_UTILS_FREED_SITES frees, each with
 *    the block's allocation site and the free's; the oldest is overwritten.
 *    Searched newest first, only on a fault path or by mem_utils_fault_sites.
 *    A block that found the table full also clears the ring's entries at its
 *    address, so that it stays unknown rather than named by an earlier block.
 * Per call: an allocation hashes and probes (expected < 3 slots at 3/4
 * load), a free probes, shifts and writes one ring entry, a realloc does
 * both. The file pointers are stored, never read here: only the fault path
 * prints them.
 */

#include "mp_sites.h"

#ifdef HAVE_MEMORY_PROFILING

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mp_log.h"

#define SLOTS ((size_t)MEM_UTILS_SITE_SLOTS)
#define LIVE_MAX ((size_t)MEM_UTILS_SITES_LIVE_MAX)
#define RING ((size_t)MEM_UTILS_FREED_SITES)

_Static_assert(MEM_UTILS_SITE_SLOTS >= 4u && (MEM_UTILS_SITE_SLOTS & (MEM_UTILS_SITE_SLOTS - 1u)) == 0u,
               "MEM_UTILS_SITE_SLOTS must be a power of two, at least 4");
_Static_assert(MEM_UTILS_SITE_SLOTS <= 65536u, "MEM_UTILS_SITE_SLOTS: at most 65536");
_Static_assert(MEM_UTILS_FREED_SITES >= 1u && MEM_UTILS_FREED_SITES <= 65536u,
               "MEM_UTILS_FREED_SITES: 1 to 65536");

/* Live blocks, one array per field (no padding between a key and a line). */
static uintptr_t g_key[MEM_UTILS_SITE_SLOTS];
static const char *g_file[MEM_UTILS_SITE_SLOTS];
static int g_line[MEM_UTILS_SITE_SLOTS];
static size_t g_live;       /* records in the table */
static size_t g_unrecorded; /* live blocks that found the table at its limit */

/* Freed blocks. afile == k_not_recorded: the allocation had no record. */
typedef struct {
    uintptr_t addr;
    const char *afile;
    const char *ffile;
    int aline;
    int fline;
} freed_t;
static freed_t g_ring[MEM_UTILS_FREED_SITES];
static size_t g_ring_next; /* where the next free goes */
static size_t g_ring_used; /* entries written since the reset, at most RING */
static const char k_not_recorded[] = "";

void mp_sites_reset(void)
{
    memset(g_key, 0, sizeof g_key);
    memset(g_ring, 0, sizeof g_ring);
    g_live = 0;
    g_unrecorded = 0;
    g_ring_next = 0;
    g_ring_used = 0;
}

/* Payloads are 8-aligned: the low 3 bits carry nothing. A multiplicative
 * hash of the next 32 spreads the blocks of one heap over the slots. */
static size_t home(uintptr_t key)
{
    uint32_t x = (uint32_t)(key >> 3) * 0x9E3779B1u;
    x ^= x >> 16;
    return (size_t)x & (SLOTS - 1u);
}

/* The slot holding key, or SLOTS. The table is never full (3/4 at most), so
 * the probe meets an empty slot. */
static size_t find(uintptr_t key)
{
    for (size_t i = home(key);; i = (i + 1u) & (SLOTS - 1u)) {
        if (g_key[i] == key) {
            return i;
        }
        if (g_key[i] == 0u) {
            return SLOTS;
        }
    }
}

/* Empties slot i and moves back the entries of its probe run that may no
 * longer be found past the hole. */
static void remove_slot(size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1u) & (SLOTS - 1u);
        if (g_key[j] == 0u) {
            break;
        }
        size_t k = home(g_key[j]);
        /* the entry at j stays when its home lies cyclically in (i, j] */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            g_key[i] = g_key[j];
            g_file[i] = g_file[j];
            g_line[i] = g_line[j];
            i = j;
        }
    }
    g_key[i] = 0u;
    g_live--;
}

static void record(uintptr_t key, const char *file, int line)
{
    if (key == 0u) {
        return;
    }
    size_t i = home(key);
    while (g_key[i] != 0u && g_key[i] != key) {
        i = (i + 1u) & (SLOTS - 1u);
    }
    if (g_key[i] == 0u) {
        if (g_live >= LIVE_MAX) {
            /* Unknown for its whole life: no earlier free at this address
             * may answer for it (O(ring), only while the table is full). */
            g_unrecorded++;
            for (size_t k = 0; k < RING; k++) {
                if (g_ring[k].addr == key) {
                    g_ring[k].addr = 0u;
                }
            }
            return;
        }
        g_key[i] = key;
        g_live++;
    }
    /* the same key again: a block the heap handed out twice without a free
     * the wrappers saw (freed by mem_free directly): the new site wins */
    g_file[i] = file;
    g_line[i] = line;
}

void mp_sites_alloc(const void *p, const char *file, int line)
{
    record((uintptr_t)p, file, line);
}

/* Takes key's record out of the table: its allocation site in *file, *line,
 * or *file = k_not_recorded when it had none (one unrecorded block less). */
static void take(uintptr_t key, const char **file, int *line)
{
    size_t i = find(key);
    if (i == SLOTS) {
        if (g_unrecorded > 0u) {
            g_unrecorded--;
        }
        *file = k_not_recorded;
        *line = 0;
        return;
    }
    *file = g_file[i];
    *line = g_line[i];
    remove_slot(i);
}

static void push_freed(uintptr_t key, const char *afile, int aline, const char *ffile, int fline)
{
    g_ring[g_ring_next] = (freed_t){key, afile, ffile, aline, fline};
    g_ring_next = (g_ring_next + 1u) % RING;
    if (g_ring_used < RING) {
        g_ring_used++;
    }
}

void mp_sites_free(const void *p, const char *file, int line)
{
    const char *afile;
    int aline;
    take((uintptr_t)p, &afile, &aline);
    push_freed((uintptr_t)p, afile, aline, file, line);
}

void mp_sites_realloc(const void *old, const void *moved, const char *file, int line)
{
    const char *afile;
    int aline;
    take((uintptr_t)old, &afile, &aline);
    if (moved != old) {
        push_freed((uintptr_t)old, afile, aline, file, line);
    }
    record((uintptr_t)moved, file, line);
}

void mp_sites_lookup(const void *addr, mem_fault_t fault, mp_sites_t *out)
{
    const mem_utils_site_t none = {NULL, 0};
    *out = (mp_sites_t){MP_SITES_UNKNOWN, false, none, none};
    uintptr_t key = (uintptr_t)addr;
    if (key == 0u) {
        return;
    }
    size_t i = find(key);
    if (i != SLOTS) {
        out->known = MP_SITES_LIVE;
        out->alloc_recorded = true;
        out->alloc = (mem_utils_site_t){g_file[i], g_line[i]};
        return;
    }
    for (size_t n = 1; n <= g_ring_used; n++) {
        const freed_t *f = &g_ring[(g_ring_next + RING - n) % RING];
        if (f->addr == key) {
            out->known = MP_SITES_FREED;
            out->alloc_recorded = f->afile != k_not_recorded;
            if (out->alloc_recorded) {
                out->alloc = (mem_utils_site_t){f->afile, f->aline};
            }
            out->freed = (mem_utils_site_t){f->ffile, f->fline};
            return;
        }
    }
    if (fault == MEM_FAULT_OVERFLOW && g_unrecorded > 0u) {
        out->known = MP_SITES_TABLE_FULL;
    }
}

bool mem_utils_fault_sites(const void *addr, mem_utils_site_t *alloc, mem_utils_site_t *freed)
{
    mp_sites_t s;
    mp_sites_lookup(addr, MEM_FAULT_NONE, &s);
    if (alloc != NULL) {
        *alloc = s.alloc;
    }
    if (freed != NULL) {
        *freed = s.freed;
    }
    return s.known == MP_SITES_LIVE || s.known == MP_SITES_FREED;
}

/* Appends text (as much as fits) at out[*at], keeping room for the NUL. */
static void put(char *out, size_t cap, size_t *at, const char *text)
{
    size_t len = strlen(text);
    size_t room = cap - 1u - *at;
    if (len > room) {
        len = room;
    }
    memcpy(out + *at, text, len);
    *at += len;
}

static void put_site(char *out, size_t cap, size_t *at, mem_utils_site_t site, size_t budget)
{
    size_t room = cap - 1u - *at;
    *at += mp_log_put_site(out + *at, budget < room ? budget : room, site.file, site.line, "");
}

void mp_sites_note(const mp_sites_t *s, mem_fault_t fault, char *out, size_t cap)
{
    size_t at = 0;
    /* each site gets an equal share of what the fixed words leave */
    size_t budget = cap > 80u ? (cap - 80u) / 2u : 0u;
    switch (s->known) {
    case MP_SITES_LIVE:
        put(out, cap, &at, " (allocated at ");
        put_site(out, cap, &at, s->alloc, budget);
        put(out, cap, &at, ")");
        break;
    case MP_SITES_FREED:
        if (s->alloc_recorded) {
            put(out, cap, &at, " (allocated at ");
            put_site(out, cap, &at, s->alloc, budget);
            put(out, cap, &at, ", first freed at ");
        } else {
            put(out, cap, &at, " (allocation site not recorded, first freed at ");
        }
        put_site(out, cap, &at, s->freed, budget);
        put(out, cap, &at, ")");
        break;
    case MP_SITES_TABLE_FULL:
        put(out, cap, &at, " (allocation site not recorded: site table full)");
        break;
    case MP_SITES_UNKNOWN:
        if (fault == MEM_FAULT_DOUBLE_FREE && g_ring_used == RING) {
            char text[80];
            (void)snprintf(text, sizeof text, " (first free not recorded: only the last %u frees are kept)",
                           (unsigned)RING);
            put(out, cap, &at, text);
        } else if (fault == MEM_FAULT_DOUBLE_FREE) {
            put(out, cap, &at, " (first free not recorded)");
        }
        break;
    }
    out[at] = '\0';
}

#else

/* ISO C wants at least one declaration in a translation unit. */
typedef int mp_sites_disabled_t;

#endif
