/**
 * @file gbench_levels.h
 * @brief The three per-level copies of hardalloc linked into bench/gbench,
 *        each behind a table of function pointers (gbench_shim.c, compiled
 *        once per level with rename_level.h force-included).
 *
 * No hardalloc header is included here, so that the C++ driver sees no
 * unprefixed mem_* declaration: contexts are void *, as mem_ctx_t is.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *name;  /* "off", "standard", "paranoid" */
    /* allocator/mem_alloc.h */
    void *(*init)(void *heap_start, size_t heap_size);
    void *(*alloc)(void *ctx, size_t nb_bytes);
    void (*free)(void *ctx, void *ptr);
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    bool (*check)(void *ctx);
    /* wrappers/app_mem_utils.h, profiling off: the APP_MEM_* macros */
    bool (*app_init)(void *heap_start, size_t heap_size);
    void *(*app_alloc)(size_t size);                 /* APP_MEM_ALLOC */
    void (*app_free)(void *ptr);                     /* APP_MEM_FREE */
    bool (*app_calloc)(void **buffer, size_t size);  /* APP_MEM_CALLOC */
    char *(*app_strdup)(const char *s);              /* APP_MEM_STRDUP */
    void *(*app_context)(void);
} gbench_level_t;

extern const gbench_level_t gbench_level_off;
extern const gbench_level_t gbench_level_standard;
extern const gbench_level_t gbench_level_paranoid;

#ifdef __cplusplus
}
#endif
