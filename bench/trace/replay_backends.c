/**
 * @file replay_backends.c
 * @brief trace_replay's allocator back ends (replay_backend.h): hardalloc
 *        at each level, glibc, the Debian-packaged system peers (dlopen)
 *        and the arena peers of --peer (dlopen, TLSF 3.x or o1heap 2.x API).
 *
 * Every library is opened with dlopen(RTLD_NOW | RTLD_LOCAL): a system
 * peer's own malloc (mimalloc, jemalloc and tcmalloc export one) does not
 * interpose on glibc's, which stays the process's malloc; only the
 * prefixed API is looked up, as bench/gbench does. The --peer libraries'
 * function types are declared here from their documented signatures (their
 * headers are not included: the replayer knows their API, not their code).
 */
#define _GNU_SOURCE /* ffs, RTLD_* */
#include "replay_backend.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gbench_levels.h"

/* dlsym's object pointer into a function pointer variable (ISO C has no
 * conversion between the two; POSIX guarantees the representation). */
#define LOAD(h, var, name) load_sym((h), (name), &(var), sizeof(var))

static bool load_sym(void *h, const char *name, void *out, size_t len) {
    void *s = dlsym(h, name);
    memcpy(out, &s, len);
    return s != NULL;
}

__attribute__((format(printf, 3, 4))) static void set_why(char *why, size_t len,
                                                          const char *fmt, ...) {
    if (!why || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* ---- hardalloc: bench/gbench's per-level copies ------------------------- */

/* mem_alloc.h's MEM_MIN_HEAP_SIZE and MEM_ALIGNMENT, restated (no hardalloc
 * header is included, so no unprefixed mem_* declaration is visible). */
#define HA_MIN_HEAP 256u
#define HA_ALIGNMENT 8u

static void *ha_init(const replay_backend *b, void *arena, size_t size) {
    const gbench_level_t *lv = b->priv;
    return lv->init(arena, size);
}

#define HARDALLOC(level)                                                                     \
    {                                                                                        \
        .name = "hardalloc-" #level, .key = #level, .api = "hardalloc", .init = ha_init,     \
        .alloc = NULL, .free = NULL, .realloc = NULL, .alignment = HA_ALIGNMENT,             \
        .zero_ok = false, .min_arena = HA_MIN_HEAP, .priv = &gbench_level_##level,           \
    }

/* The level tables are not constants: their entries are filled in from the
 * gbench_level_t tables at first use (a static initializer cannot read
 * another object's members). */
static replay_backend hardalloc_levels[3] = {HARDALLOC(off), HARDALLOC(standard),
                                             HARDALLOC(paranoid)};

/* ---- glibc --------------------------------------------------------------- */

static void *glibc_alloc(void *ctx, size_t n) {
    (void)ctx;
    return malloc(n);
}

static void *glibc_calloc(void *ctx, size_t n) {
    (void)ctx;
    return calloc(1, n);
}

static void glibc_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

static void *glibc_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    return realloc(p, n);
}

/* posix_memalign: any size (C11's aligned_alloc wants a multiple of align,
 * which ASan enforces), any power of two from sizeof(void *) up. */
static void *glibc_aligned(void *ctx, size_t align, size_t n) {
    (void)ctx;
    void *p;
    if (align < sizeof(void *))
        align = sizeof(void *);
    return posix_memalign(&p, align, n) == 0 ? p : NULL;
}

static const replay_backend glibc = {
    .name = "glibc", .key = "glibc", .api = "glibc", .init = NULL,
    .alloc = glibc_alloc, .calloc = glibc_calloc, .free = glibc_free,
    .realloc = glibc_realloc, .aligned = glibc_aligned,
    .alignment = 2 * sizeof(void *), .zero_ok = true,
};

const char *const replay_builtin_keys[] = {"off",    "standard", "paranoid", "glibc",
                                           "mimalloc", "jemalloc", "tcmalloc"};
const size_t replay_builtin_count = sizeof replay_builtin_keys / sizeof replay_builtin_keys[0];

const replay_backend *replay_builtin(const char *key) {
    for (size_t i = 0; i < 3; i++) {
        replay_backend *b = &hardalloc_levels[i];
        if (strcmp(key, b->key) == 0) {
            const gbench_level_t *lv = b->priv;
            b->alloc = lv->alloc;
            b->free = lv->free;
            b->realloc = lv->realloc;
            return b;
        }
    }
    return strcmp(key, "glibc") == 0 ? &glibc : NULL;
}

/* ---- system peers: mimalloc, jemalloc, tcmalloc ------------------------- */

static void *(*mi_malloc_p)(size_t);
static void *(*mi_calloc_p)(size_t, size_t);
static void *(*mi_realloc_p)(void *, size_t);
static void (*mi_free_p)(void *);
static void *(*mi_malloc_aligned_p)(size_t, size_t);

static void *mi_alloc(void *ctx, size_t n) {
    (void)ctx;
    return mi_malloc_p(n);
}
static void *mi_calloc1(void *ctx, size_t n) {
    (void)ctx;
    return mi_calloc_p(1, n);
}
static void mi_free1(void *ctx, void *p) {
    (void)ctx;
    mi_free_p(p);
}
static void *mi_realloc1(void *ctx, void *p, size_t n) {
    (void)ctx;
    return mi_realloc_p(p, n);
}
static void *mi_aligned(void *ctx, size_t align, size_t n) {
    (void)ctx;
    return mi_malloc_aligned_p(n, align);
}

/* jemalloc's non-standard API: mallocx(0) is undefined (the replay loop
 * asks 1 byte: zero_ok false), so are dallocx(NULL) and rallocx(NULL) (the
 * loop passes neither). Flags from jemalloc.h: MALLOCX_LG_ALIGN(la) is la
 * in the low bits, MALLOCX_ALIGN(a) = MALLOCX_LG_ALIGN(ffs(a) - 1) for a
 * power of two, MALLOCX_ZERO 0x40. */
#define JE_MALLOCX_ZERO 0x40
static void *(*je_mallocx_p)(size_t, int);
static void *(*je_rallocx_p)(void *, size_t, int);
static void (*je_dallocx_p)(void *, int);

static void *je_alloc(void *ctx, size_t n) {
    (void)ctx;
    return je_mallocx_p(n, 0);
}
static void *je_calloc(void *ctx, size_t n) {
    (void)ctx;
    return je_mallocx_p(n, JE_MALLOCX_ZERO);
}
static void je_free(void *ctx, void *p) {
    (void)ctx;
    je_dallocx_p(p, 0);
}
static void *je_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    return je_rallocx_p(p, n, 0);
}
static void *je_aligned(void *ctx, size_t align, size_t n) {
    (void)ctx;
    /* align is a power of two (the decoder checked) */
    int lg = 31;
    if (align <= (size_t)INT32_MAX)
        lg = ffs((int)align) - 1;
    else
        while (((size_t)1 << lg) < align)
            lg++;
    return je_mallocx_p(n, lg);
}

static void *(*tc_malloc_p)(size_t);
static void *(*tc_calloc_p)(size_t, size_t);
static void *(*tc_realloc_p)(void *, size_t);
static void (*tc_free_p)(void *);
static void *(*tc_memalign_p)(size_t, size_t);

static void *tc_alloc(void *ctx, size_t n) {
    (void)ctx;
    return tc_malloc_p(n);
}
static void *tc_calloc1(void *ctx, size_t n) {
    (void)ctx;
    return tc_calloc_p(1, n);
}
static void tc_free1(void *ctx, void *p) {
    (void)ctx;
    tc_free_p(p);
}
static void *tc_realloc1(void *ctx, void *p, size_t n) {
    (void)ctx;
    return tc_realloc_p(p, n);
}
static void *tc_aligned(void *ctx, size_t align, size_t n) {
    (void)ctx;
    return tc_memalign_p(align, n);
}

static replay_backend system_peers[] = {
    {.name = "mimalloc", .key = "mimalloc", .api = "mimalloc", .alloc = mi_alloc,
     .calloc = mi_calloc1, .free = mi_free1, .realloc = mi_realloc1, .aligned = mi_aligned,
     .alignment = 2 * sizeof(void *), .zero_ok = true},
    {.name = "jemalloc", .key = "jemalloc", .api = "jemalloc", .alloc = je_alloc,
     .calloc = je_calloc, .free = je_free, .realloc = je_realloc, .aligned = je_aligned,
     .alignment = 2 * sizeof(void *), .zero_ok = false},
    /* tcmalloc_minimal: the allocator without the heap profiler. The full
     * libtcmalloc.so.4 aborts when dlopen'ed next to glibc's malloc
     * (bench/GBENCH.md). */
    {.name = "tcmalloc", .key = "tcmalloc", .api = "tcmalloc", .alloc = tc_alloc,
     .calloc = tc_calloc1, .free = tc_free1, .realloc = tc_realloc1, .aligned = tc_aligned,
     .alignment = 2 * sizeof(void *), .zero_ok = true},
};

const replay_backend *replay_system_peer(const char *key, char *why, size_t why_len,
                                         bool *static_tls) {
    static const struct {
        const char *key, *env, *lib;
    } libs[] = {
        {"mimalloc", "TRACE_REPLAY_MIMALLOC", "libmimalloc.so.2"},
        {"jemalloc", "TRACE_REPLAY_JEMALLOC", "libjemalloc.so.2"},
        {"tcmalloc", "TRACE_REPLAY_TCMALLOC", "libtcmalloc_minimal.so.4"},
    };
    *static_tls = false;
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        if (strcmp(key, libs[i].key) != 0)
            continue;
        const char *lib = getenv(libs[i].env);
        if (!lib || !*lib)
            lib = libs[i].lib;
        replay_backend *b = &system_peers[i];
        b->path = lib;
        void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *e = dlerror();
            if (e && strstr(e, "static TLS"))
                *static_tls = true;
            set_why(why, why_len, "%s%s", e ? e : lib, e ? "" : ": dlopen failed");
            return NULL;
        }
        bool ok;
        if (i == 0)
            ok = LOAD(h, mi_malloc_p, "mi_malloc") && LOAD(h, mi_calloc_p, "mi_calloc") &&
                 LOAD(h, mi_realloc_p, "mi_realloc") && LOAD(h, mi_free_p, "mi_free") &&
                 LOAD(h, mi_malloc_aligned_p, "mi_malloc_aligned");
        else if (i == 1)
            ok = LOAD(h, je_mallocx_p, "mallocx") && LOAD(h, je_rallocx_p, "rallocx") &&
                 LOAD(h, je_dallocx_p, "dallocx");
        else
            ok = LOAD(h, tc_malloc_p, "tc_malloc") && LOAD(h, tc_calloc_p, "tc_calloc") &&
                 LOAD(h, tc_realloc_p, "tc_realloc") && LOAD(h, tc_free_p, "tc_free") &&
                 LOAD(h, tc_memalign_p, "tc_memalign");
        if (!ok) {
            set_why(why, why_len, "%s: %s", lib,
                    i == 0 ? "mi_malloc/mi_calloc/mi_realloc/mi_free/mi_malloc_aligned not found"
                    : i == 1 ? "mallocx/rallocx/dallocx not found"
                             : "tc_malloc/tc_calloc/tc_realloc/tc_free/tc_memalign not found");
            dlclose(h);
            return NULL;
        }
        return b;
    }
    set_why(why, why_len, "%s: not a system peer", key);
    return NULL;
}

/* ---- arena peers: --peer NAME=PATH.so ----------------------------------- */

/* TLSF 3.x (tlsf.h): typedef void *tlsf_t;
 *   tlsf_t tlsf_create_with_pool(void *mem, size_t bytes);
 *   void *tlsf_malloc(tlsf_t, size_t);  void *tlsf_memalign(tlsf_t, size_t align, size_t);
 *   void *tlsf_realloc(tlsf_t, void *, size_t);  void tlsf_free(tlsf_t, void *);
 *   size_t tlsf_size(void);  size_t tlsf_pool_overhead(void);  size_t tlsf_block_size_min(void);
 * tlsf_create_with_pool writes its control structure (tlsf_size() bytes)
 * at mem without checking bytes, and prints to stdout when the pool is too
 * small: init never calls it below tlsf_size() + tlsf_pool_overhead() +
 * tlsf_block_size_min(). tlsf_malloc(0) answers NULL (zero_ok false). */
typedef void *(*tlsf_create_with_pool_fn)(void *mem, size_t bytes);
typedef void *(*tlsf_malloc_fn)(void *tlsf, size_t size);
typedef void *(*tlsf_memalign_fn)(void *tlsf, size_t align, size_t size);
typedef void *(*tlsf_realloc_fn)(void *tlsf, void *ptr, size_t size);
typedef void (*tlsf_free_fn)(void *tlsf, void *ptr);
typedef size_t (*tlsf_size_fn)(void);

/* o1heap 2.x (o1heap.h):
 *   O1HeapInstance *o1heapInit(void *base, size_t size);   base aligned to 4 pointers
 *   void *o1heapAllocate(O1HeapInstance *, size_t);  void o1heapFree(O1HeapInstance *, void *);
 *   extern const size_t o1heapMinArenaSize;   (used when exported)
 * O1HeapInstance is opaque: it is declared as void here, so that the
 * library's functions go straight into the table (a pointer to a structure
 * and void * are passed alike by every ABI this runs on). Blocks are
 * aligned to O1HEAP_ALIGNMENT, 4 pointers; no realloc, no aligned
 * allocation (the fallbacks), o1heapAllocate(0) answers NULL. */
typedef void *(*o1heap_init_fn)(void *base, size_t size);
typedef void *(*o1heap_allocate_fn)(void *inst, size_t size);
typedef void (*o1heap_free_fn)(void *inst, void *ptr);

typedef struct arena_peer {
    replay_backend b;
    void *(*create)(void *mem, size_t size); /* tlsf_create_with_pool or o1heapInit */
} arena_peer;

static arena_peer arena_peers[REPLAY_MAX_BACKENDS];
static size_t n_arena_peers;

static void *peer_init(const replay_backend *b, void *arena, size_t size) {
    const arena_peer *p = b->priv;
    if (size < b->min_arena)
        return NULL;
    return p->create(arena, size);
}

const replay_backend *replay_arena_peer(const char *name, const char *path, char *why,
                                        size_t why_len) {
    if (n_arena_peers == REPLAY_MAX_BACKENDS) {
        set_why(why, why_len, "%s=%s: too many --peer libraries", name, path);
        return NULL;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        set_why(why, why_len, "%s: %s", name, e ? e : "dlopen failed");
        return NULL;
    }
    arena_peer *p = &arena_peers[n_arena_peers];
    memset(p, 0, sizeof *p);
    replay_backend *b = &p->b;
    b->name = name;
    b->key = name;
    b->path = path;
    b->init = peer_init;
    b->priv = p;

    tlsf_create_with_pool_fn t_create;
    tlsf_malloc_fn t_malloc;
    tlsf_memalign_fn t_memalign;
    tlsf_realloc_fn t_realloc;
    tlsf_free_fn t_free;
    tlsf_size_fn t_size, t_pool_overhead, t_block_min;
    o1heap_init_fn o_init;
    o1heap_allocate_fn o_alloc;
    o1heap_free_fn o_free;
    if (LOAD(h, t_create, "tlsf_create_with_pool") && LOAD(h, t_malloc, "tlsf_malloc") &&
        LOAD(h, t_memalign, "tlsf_memalign") && LOAD(h, t_realloc, "tlsf_realloc") &&
        LOAD(h, t_free, "tlsf_free") && LOAD(h, t_size, "tlsf_size") &&
        LOAD(h, t_pool_overhead, "tlsf_pool_overhead") &&
        LOAD(h, t_block_min, "tlsf_block_size_min")) {
        b->api = "tlsf";
        p->create = t_create;
        b->alloc = t_malloc;
        b->aligned = t_memalign;
        b->realloc = t_realloc;
        b->free = t_free;
        b->calloc = NULL;
        b->alignment = sizeof(void *); /* TLSF's ALIGN_SIZE (8 on 64-bit) */
        b->zero_ok = false;
        size_t min = t_size() + t_pool_overhead() + t_block_min();
        b->min_arena = (min + 7u) & ~(size_t)7u;
    } else if (LOAD(h, o_init, "o1heapInit") && LOAD(h, o_alloc, "o1heapAllocate") &&
               LOAD(h, o_free, "o1heapFree")) {
        b->api = "o1heap";
        p->create = o_init;
        b->alloc = o_alloc;
        b->free = o_free;
        b->calloc = NULL;
        b->realloc = NULL;
        b->aligned = NULL;
        b->alignment = 4 * sizeof(void *); /* O1HEAP_ALIGNMENT */
        b->zero_ok = false;
        const size_t *min = dlsym(h, "o1heapMinArenaSize");
        b->min_arena = min ? (*min + 7u) & ~(size_t)7u : 0;
    } else {
        set_why(why, why_len,
                "%s: %s exports neither the TLSF 3.x API (tlsf_create_with_pool, tlsf_malloc, "
                "tlsf_memalign, tlsf_realloc, tlsf_free, tlsf_size, tlsf_pool_overhead, "
                "tlsf_block_size_min) nor the o1heap 2.x API (o1heapInit, o1heapAllocate, "
                "o1heapFree)", name, path);
        dlclose(h);
        return NULL;
    }
    n_arena_peers++;
    return b;
}
