/*
 * The app-wide heap behind app_mem_utils.h. The state is the context of the
 * attached heap (NULL when none) and the app's fault handler; the allocator
 * itself keeps none, so every answer for "no heap" comes from mem_*
 * receiving NULL.
 *
 * Faults are never handled here: they reach the app's handler (or the
 * allocator's default one, which never returns) unchanged. The wrappers only
 * need to know that one happened, so that a call the heap refused is neither
 * logged nor continued: the heap's handler is then forward_fault, which
 * counts the fault and calls the app's. Plain builds install it only while
 * the app has a handler (without one the allocator's default handler is left
 * in place: it never returns, so a call that returns was done). Profiling
 * builds always install it: it writes the fault to the log and, without a
 * handler of the app's, hands the default handler a note naming the block's
 * sites (mp_sites.c), before the handler runs.
 */

#include "app_mem_utils.h"

#include <string.h>

#include "mp_log.h"
#include "mp_sites.h"

#ifdef HAVE_MEMORY_PROFILING
#define ALWAYS_RELAY true
/* The default handler's note: two sites, each at most half of it. */
#define NOTE_MAX 512u
#else
#define ALWAYS_RELAY false
#endif

static mem_ctx_t g_app_heap;
static mem_fault_handler_t g_handler; /* the app's; NULL: the allocator's default */
static void *g_handler_user;
/* Faults forward_fault has passed on. Only compared before and after a call
 * (never reset), so a handler that longjmps out leaves nothing stale. */
static unsigned g_faults;

static void forward_fault(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    (void)user;
    g_faults++;
#ifdef HAVE_MEMORY_PROFILING
    /* The records describe the attached heap only: a heap detached since
     * (still reachable through a stale context) gets no sites. */
    mp_sites_t sites;
    mp_sites_lookup(ctx == g_app_heap ? addr : NULL, fault, &sites);
    mp_log_fault(fault, addr, &sites);
#endif
    if (g_handler != NULL) {
        g_handler(ctx, fault, addr, g_handler_user);
        return;
    }
    /* No handler of the app's: the allocator's default, with the sites. */
#ifdef HAVE_MEMORY_PROFILING
    char note[NOTE_MAX];
    mp_sites_note(&sites, fault, note, sizeof note);
    mem_default_fault(ctx, fault, addr, note);
#else
    mem_default_fault(ctx, fault, addr, NULL);
#endif
}

bool mem_utils_init(void *heap_start, size_t heap_size)
{
    mem_ctx_t ctx = mem_init(heap_start, heap_size);
    /* A fresh heap has the default handler: give it the relay. (Cannot fail
     * on a heap mem_init just made; if it did, the heap is not attached.) */
    if (ctx != NULL && (ALWAYS_RELAY || g_handler != NULL) && !mem_set_fault_handler(ctx, forward_fault, NULL)) {
        ctx = NULL;
    }
    g_app_heap = ctx;
    mp_sites_reset();
    mp_log_init(heap_start, heap_size);
    return ctx != NULL;
}

bool mem_utils_set_fault_handler(mem_fault_handler_t handler, void *user)
{
    if (g_app_heap != NULL &&
        !mem_set_fault_handler(g_app_heap, ALWAYS_RELAY || handler != NULL ? forward_fault : NULL, NULL)) {
        return false;
    }
    g_handler = handler;
    g_handler_user = handler != NULL ? user : NULL;
    return true;
}

mem_ctx_t mem_utils_context(void)
{
    return g_app_heap;
}

void *mem_utils_alloc(size_t size, bool permanent, const char *file, int line)
{
    void *ptr = mem_alloc(g_app_heap, size);
    if (ptr != NULL) {
        mp_sites_alloc(ptr, file, line);
        mp_log_alloc(permanent, size, ptr, file, line);
    }
    return ptr;
}

void *mem_utils_realloc(void *ptr, size_t size, const char *file, int line)
{
    if (ptr == NULL) {
        return mem_utils_alloc(size, false, file, line);
    }
    if (size == 0u) {
        mem_utils_free(ptr, file, line);
        return NULL;
    }
    void *moved = mem_realloc(g_app_heap, ptr, size);
    if (moved != NULL) {
        mp_sites_realloc(ptr, moved, file, line);
        mp_log_free(ptr, file, line);
        mp_log_alloc(false, size, moved, file, line);
    }
    return moved;
}

void mem_utils_free(void *ptr, const char *file, int line)
{
    if (ptr == NULL || g_app_heap == NULL) {
        return;
    }
    const unsigned faults = g_faults;
    mem_free(g_app_heap, ptr);
    /* Logged once done, and only if done: a free the heap refused (reported
     * to the handler, which returned) leaves the block as the log had it. */
    if (g_faults == faults) {
        mp_sites_free(ptr, file, line);
        mp_log_free(ptr, file, line);
    }
}

void mem_utils_free_and_null(void **buffer, const char *file, int line)
{
    if (buffer != NULL && *buffer != NULL) {
        mem_utils_free(*buffer, file, line);
        *buffer = NULL;
    }
}

char *mem_utils_strdup(const char *s, const char *file, int line)
{
    if (s == NULL) {
        return NULL;
    }
    size_t len = strlen(s) + 1u;
    char *copy = mem_utils_alloc(len, false, file, line);
    if (copy != NULL) {
        memcpy(copy, s, len);
    }
    return copy;
}

bool mem_utils_calloc(void **buffer, size_t size, bool permanent, const char *file, int line)
{
    /* A fault while freeing the held buffer ends the call: false, nothing
     * allocated. */
    const unsigned faults = g_faults;
    if (buffer == NULL) {
        return false;
    }
    mem_utils_free_and_null(buffer, file, line);
    if (size == 0u) {
        return g_faults == faults;
    }
    *buffer = g_faults == faults ? mem_utils_alloc(size, permanent, file, line) : NULL;
    if (*buffer == NULL) {
        return false;
    }
    memset(*buffer, 0, size);
    return true;
}

void mem_utils_set_log_sink(mem_utils_log_sink_t sink, void *user)
{
    mp_log_set_sink(sink, user);
}
