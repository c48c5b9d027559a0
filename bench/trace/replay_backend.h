/**
 * @file replay_backend.h
 * @brief trace_replay's allocator back ends: one table of function
 *        pointers per allocator (the vtable the replay loop calls), and
 *        where they come from (replay_backends.c).
 *
 * Two kinds:
 *   - arena back ends (init != NULL): a heap carved out of an arena the
 *     replayer gives (hardalloc at each level, the --peer libraries:
 *     TLSF 3.x or o1heap 2.x); ctx is what init returned;
 *   - system allocators (init == NULL): glibc, and mimalloc, jemalloc and
 *     tcmalloc loaded with dlopen when installed; ctx is NULL.
 *
 * Optional entries (NULL: the replay loop's fallback, replay_engine.c):
 *   calloc   alloc + memset to zero;
 *   realloc  alloc + memcpy(min(old size, new size)) + free (each slot keeps
 *            the size its block was asked with);
 *   aligned  alloc(size + align - 1) and the pointer aligned up by hand when
 *            align > alignment (the original pointer is kept to free the
 *            block), a plain alloc otherwise.
 *
 * The entries are called through these pointers (one indirect call per
 * operation for every allocator); for hardalloc, TLSF and o1heap they are
 * the library's own functions, for the system allocators small wrappers
 * that drop ctx.
 */
#ifndef REPLAY_BACKEND_H
#define REPLAY_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

typedef struct replay_backend replay_backend;

struct replay_backend {
    const char *name; /* in the table and the JSON: "hardalloc-off", "glibc", a --peer NAME */
    const char *key;  /* --only's name: "off", "standard", "paranoid", "glibc", "mimalloc",
                         "jemalloc", "tcmalloc", a --peer NAME */
    const char *api;  /* "hardalloc", "glibc", "mimalloc", "jemalloc", "tcmalloc", "tlsf",
                         "o1heap" */
    const char *path; /* the library loaded (dlopen), or NULL */

    /* Arena back ends: a heap in arena[0, size) (arena 64-byte aligned),
     * or NULL when size is too small for one. NULL for system allocators. */
    void *(*init)(const replay_backend *b, void *arena, size_t size);
    void *(*alloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t size);                /* NULL: fallback */
    void (*free)(void *ctx, void *p);
    void *(*realloc)(void *ctx, void *p, size_t size);      /* NULL: fallback */
    void *(*aligned)(void *ctx, size_t align, size_t size); /* NULL: fallback */

    size_t alignment; /* what alloc's blocks are aligned to (the aligned fallback's limit) */
    bool zero_ok;     /* a 0-byte request is passed as 0; false: asked as 1 byte */
    size_t min_arena; /* arena back ends: init fails below this (0: unknown) */
    const void *priv; /* init's own data (hardalloc's level table, TLSF's create) */
};

/* ---- the back ends (replay_backends.c) ---------------------------------- */

#define REPLAY_MAX_BACKENDS 32
#define REPLAY_NAME_MAX 32   /* longest --peer NAME */

/* The built-in back ends in their order: hardalloc off, standard, paranoid,
 * glibc, mimalloc, jemalloc, tcmalloc. Keys as in --only. */
extern const char *const replay_builtin_keys[];
extern const size_t replay_builtin_count;

/* The hardalloc levels and glibc (always there). */
const replay_backend *replay_builtin(const char *key);

/* Loads a system peer (key "mimalloc", "jemalloc" or "tcmalloc") with
 * dlopen: the library is TRACE_REPLAY_<KEY> from the environment if set
 * (upper case; a test hook, or another build), else the Debian package's
 * soname. Returns the back end, or NULL with *why set (one line, the
 * library's name included) when it is absent or lacks the API;
 * *static_tls is set when dlopen failed for want of static TLS (jemalloc:
 * a run again with glibc.rtld.optional_static_tls fixes it). */
const replay_backend *replay_system_peer(const char *key, char *why, size_t why_len,
                                         bool *static_tls);

/* Loads a --peer library (dlopen) and recognizes its API by its symbols:
 * TLSF 3.x (tlsf_create_with_pool, tlsf_malloc, tlsf_memalign,
 * tlsf_realloc, tlsf_free, and the sizing functions tlsf_size,
 * tlsf_pool_overhead, tlsf_block_size_min), else o1heap 2.x (o1heapInit,
 * o1heapAllocate, o1heapFree). name must stay valid (it is not copied).
 * NULL with *why set (one line) when the library cannot be loaded or has
 * neither API. */
const replay_backend *replay_arena_peer(const char *name, const char *path, char *why,
                                        size_t why_len);

#endif /* REPLAY_BACKEND_H */
