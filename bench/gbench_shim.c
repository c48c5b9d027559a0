/*
 * One hardening level's table for bench/gbench. Compiled once per level with
 * -DMEM_HARDENING=<n>, -DGBENCH_LEVEL=<name>, -DGBENCH_PREFIX=hardalloc_<name>_
 * and rename_level.h force-included, like that level's copy of the allocator
 * and wrappers, so every mem_* / mem_utils_* name below is the prefixed one.
 */

#include "gbench_levels.h"

#include "app_mem_utils.h"
#include "mem_alloc.h"

#ifdef HAVE_MEMORY_PROFILING
#error "gbench measures the wrappers with profiling off"
#endif

#define GBENCH_STR2(x) #x
#define GBENCH_STR(x) GBENCH_STR2(x)

/* The APP_MEM_* macros exactly as an app writes them (file and line are
 * NULL and 0 without profiling); one call level more than the app's own. */
static void *app_alloc(size_t size)
{
    return APP_MEM_ALLOC(size);
}

static void app_free(void *ptr)
{
    APP_MEM_FREE(ptr);
}

static bool app_calloc(void **buffer, size_t size)
{
    return APP_MEM_CALLOC(buffer, size);
}

static char *app_strdup(const char *s)
{
    return APP_MEM_STRDUP(s);
}

const gbench_level_t GBENCH_CAT(gbench_level_, GBENCH_LEVEL) = {
    .name = GBENCH_STR(GBENCH_LEVEL),
    .init = mem_init,
    .alloc = mem_alloc,
    .free = mem_free,
    .realloc = mem_realloc,
    .check = mem_check,
    .app_init = mem_utils_init,
    .app_alloc = app_alloc,
    .app_free = app_free,
    .app_calloc = app_calloc,
    .app_strdup = app_strdup,
    .app_context = mem_utils_context,
};
