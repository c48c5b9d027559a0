/*
 * The app-wide heap behind app_mem_utils.h. The one piece of state is the
 * context of the attached heap (NULL when none); the allocator itself keeps
 * none, so every answer for "no heap" comes from mem_* receiving NULL.
 */

#include "app_mem_utils.h"

#include <string.h>

#include "mp_log.h"

static mem_ctx_t g_app_heap;

bool mem_utils_init(void *heap_start, size_t heap_size)
{
    g_app_heap = mem_init(heap_start, heap_size);
    mp_log_init(heap_start, heap_size);
    return g_app_heap != NULL;
}

mem_ctx_t mem_utils_context(void)
{
    return g_app_heap;
}

void *mem_utils_alloc(size_t size, bool permanent, const char *file, int line)
{
    void *ptr = mem_alloc(g_app_heap, size);
    if (ptr != NULL) {
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
        mp_log_free(ptr, file, line);
        mp_log_alloc(false, size, moved, file, line);
    }
    return moved;
}

void mem_utils_free(void *ptr, const char *file, int line)
{
#ifdef HAVE_MEMORY_PROFILING
    /* Only a block the heap recognizes is freed, and so logged: a log line
     * for an ignored pointer would tell the analyzer something untrue. */
    if (mem_usable_size(g_app_heap, ptr) == 0u) {
        return;
    }
#endif
    mp_log_free(ptr, file, line);
    mem_free(g_app_heap, ptr);
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
    if (buffer == NULL) {
        return false;
    }
    mem_utils_free_and_null(buffer, file, line);
    if (size == 0u) {
        return true;
    }
    *buffer = mem_utils_alloc(size, permanent, file, line);
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
