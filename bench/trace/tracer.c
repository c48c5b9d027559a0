/**
 * @file tracer.c
 * @brief libhatrace.so: an LD_PRELOAD allocation tracer (bench/trace/FORMAT.md).
 *
 *   HATRACE_OUT=/tmp/t/%n.%p.hat LD_PRELOAD=build/bench/trace/libhatrace.so CMD...
 *
 * Interposes malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc and pvalloc (malloc_usable_size passes
 * through, except for the bootstrap buffer's blocks), and writes one record
 * per call to the file HATRACE_OUT names (%p: the pid, %n: the executable's
 * base name, %%: a percent sign). Without HATRACE_OUT, or when HATRACE_ONLY
 * is set and names neither the executable's base name nor argv[0]'s, every
 * call passes straight through.
 *
 * - The real functions come from dlsym(RTLD_NEXT); the allocations dlsym
 *   makes meanwhile are served from a static buffer whose blocks are never
 *   given to the real free or realloc.
 * - Pointers are never written: each live block gets a dense id, the
 *   smallest free one (a min-heap of freed ids), so that a replayer's table
 *   is as small as the peak live count.
 * - One mutex guards the id map and the output buffer. malloc-like calls run
 *   the real function first and record after; free records first (so that
 *   no other thread can be given the address back while the map still holds
 *   it); realloc holds the mutex across the real call for the same reason.
 *   The only lock order is ours, then glibc's arena locks.
 * - A per-thread guard: whatever runs while a thread is inside the tracer
 *   (a signal handler's malloc, a libc re-entry) passes through, counted as
 *   untraced.
 * - The tracer's memory (id map, free-id heap, sizes, output buffer) comes
 *   from mmap. Output goes through write(2) in 1 MiB blocks; the file is
 *   created at the first write (O_EXCL; if the name exists, ".1" ... ".99"
 *   is appended), so a fork child that execs before writing leaves no file
 *   and its new image starts a trace of its own under the same pid.
 * - exit: a destructor appends the END record and the footer. fork
 *   (pthread_atfork): the parent records FORK; the child starts a new trace
 *   (its own pid; a header listing the blocks it inherits) and its id map
 *   goes on from the parent's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace.h"

#define EXPORT __attribute__((visibility("default")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- the real functions ---------------------------------------------------- */

typedef void *(*malloc_fn)(size_t);
typedef void (*free_fn)(void *);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*aligned_fn)(size_t, size_t);
typedef size_t (*usable_fn)(void *);

static malloc_fn real_malloc;
static free_fn real_free;
static calloc_fn real_calloc;
static realloc_fn real_realloc;
static posix_memalign_fn real_posix_memalign;
static aligned_fn real_aligned_alloc;
static aligned_fn real_memalign;
static malloc_fn real_valloc;
static malloc_fn real_pvalloc;
static usable_fn real_usable;

/* 0: unresolved, 1: resolving (dlsym running), 2: resolved */
static atomic_int resolve_state;
static __thread int tls_resolving __attribute__((tls_model("initial-exec")));
static __thread int tls_guard __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_thread __attribute__((tls_model("initial-exec"))); /* index + 1 */

/* ---- bootstrap buffer: dlsym's own allocations ---------------------------- */

#define BOOT_SIZE (64u * 1024u)
#define BOOT_HDR 16u
static _Alignas(64) unsigned char boot_buf[BOOT_SIZE];
static atomic_size_t boot_used;

static bool is_boot(const void *p) {
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)boot_buf;
    return a >= b && a < b + BOOT_SIZE;
}

static void *boot_alloc(size_t align, size_t n) {
    if (align < BOOT_HDR)
        align = BOOT_HDR;
    if (n > BOOT_SIZE || (align & (align - 1)) != 0 || align > 4096)
        return NULL;
    size_t old = atomic_load(&boot_used), start;
    do {
        start = (old + BOOT_HDR + align - 1) & ~(align - 1);
        if (start + n > BOOT_SIZE)
            return NULL;
    } while (!atomic_compare_exchange_weak(&boot_used, &old, start + n));
    memcpy(boot_buf + start - sizeof(size_t), &n, sizeof n); /* zero-filled and never reused */
    return boot_buf + start;
}

static size_t boot_size(const void *p) {
    size_t n;
    memcpy(&n, (const unsigned char *)p - sizeof(size_t), sizeof n);
    return n;
}

static void *sym(const char *name) {
    return dlsym(RTLD_NEXT, name);
}

#define RESOLVE(var, name)                   \
    do {                                     \
        void *s_ = sym(name);                \
        memcpy(&(var), &s_, sizeof(var));    \
    } while (0)

static void die(const char *msg) {
    ssize_t r = write(2, msg, strlen(msg));
    (void)r;
    _exit(127);
}

/* Returns false when called from inside dlsym (serve from boot_buf). */
static bool resolve(void) {
    if (atomic_load_explicit(&resolve_state, memory_order_acquire) == 2)
        return true;
    if (tls_resolving)
        return false;
    int expected = 0;
    if (atomic_compare_exchange_strong(&resolve_state, &expected, 1)) {
        tls_resolving = 1;
        RESOLVE(real_malloc, "malloc");
        RESOLVE(real_free, "free");
        RESOLVE(real_calloc, "calloc");
        RESOLVE(real_realloc, "realloc");
        RESOLVE(real_posix_memalign, "posix_memalign");
        RESOLVE(real_aligned_alloc, "aligned_alloc");
        RESOLVE(real_memalign, "memalign");
        RESOLVE(real_valloc, "valloc");
        RESOLVE(real_pvalloc, "pvalloc");
        RESOLVE(real_usable, "malloc_usable_size");
        tls_resolving = 0;
        if (!real_malloc || !real_free || !real_calloc || !real_realloc || !real_posix_memalign ||
            !real_aligned_alloc || !real_memalign || !real_valloc || !real_pvalloc || !real_usable)
            die("hatrace: dlsym(RTLD_NEXT) found no malloc family: is the tracer preloaded into "
                "a program linked with libc?\n");
        atomic_store_explicit(&resolve_state, 2, memory_order_release);
        return true;
    }
    while (atomic_load_explicit(&resolve_state, memory_order_acquire) != 2)
        sched_yield();
    return true;
}

/* ---- tracer state (all under mu) ----------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool tracing;   /* set once configured; cleared by the destructor */
static bool finished;         /* END written (or output broken): record nothing */
static atomic_ullong untraced;
static atomic_ullong free_null;

static char out_template[4096]; /* absolute, %n expanded, %p not yet */
static char prog_name[HAT_NAME_MAX + 1];
static int out_fd = -1;
static dev_t out_dev; /* the trace file's identity: checked before each write, */
static ino_t out_ino; /* the program may have closed out_fd and reused its number */
static uint64_t my_pid, parent_pid, child_fork_index;
static uint64_t page_size;

#define BUF_CAP (1u << 20)
#define MAX_RECORD 64u
static unsigned char *buf;
static size_t buf_len;

static uint64_t records;       /* this trace's records (not the END) */
static uint32_t nthreads;      /* thread indexes given out in this process */
static uint32_t cur_thread;    /* the thread of the last record */
static uint64_t nforks;        /* FORK records written by this process */

/* id map: pointer -> id, open addressing, linear probing, backward-shift delete */
struct slot {
    uintptr_t key; /* 0: empty */
    uint64_t id;
};
static struct slot *tab;
static size_t tab_cap; /* power of two */
static size_t tab_used;
/* per id: size + 1 (0: not live), ids 1..max_id */
static uint64_t *sizes;
static size_t sizes_cap;
static uint64_t max_id;        /* largest id ever given out (the parent's too) */
static uint64_t trace_max_id;  /* largest id in this trace */
static uint64_t live_count;
/* min-heap of free ids below max_id */
static uint64_t *heap;
static size_t heap_len, heap_cap;

static void *map_pages(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Grows an mmap'd array of elem-byte elements to at least need elements:
 * the array (moved or not), NULL when out of memory (arr is left as it was). */
static void *grow(void *arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return arr;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    void *n;
    if (arr)
        n = mremap(arr, *cap * elem, ncap * elem, MREMAP_MAYMOVE);
    else
        n = mmap(NULL, ncap * elem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (n == MAP_FAILED)
        return NULL;
    *cap = ncap;
    return n;
}

static size_t hash_ptr(uintptr_t p, size_t cap) {
    uint64_t h = (uint64_t)(p >> 4) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

static void stop_tracing(void);

static bool tab_rehash(size_t ncap) {
    struct slot *n = map_pages(ncap * sizeof *n);
    if (!n)
        return false;
    for (size_t i = 0; i < tab_cap; i++) {
        if (!tab[i].key)
            continue;
        size_t j = hash_ptr(tab[i].key, ncap);
        while (n[j].key)
            j = (j + 1) & (ncap - 1);
        n[j] = tab[i];
    }
    if (tab)
        munmap(tab, tab_cap * sizeof *tab);
    tab = n;
    tab_cap = ncap;
    return true;
}

static uint64_t heap_pop(void) {
    uint64_t top = heap[0];
    uint64_t last = heap[--heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l >= heap_len)
            break;
        m = (l + 1 < heap_len && heap[l + 1] < heap[l]) ? l + 1 : l;
        if (heap[m] >= last)
            break;
        heap[i] = heap[m];
        i = m;
    }
    if (heap_len)
        heap[i] = last;
    return top;
}

static bool heap_push(uint64_t v) {
    uint64_t *h = grow(heap, &heap_cap, heap_len + 1, sizeof *heap);
    if (!h)
        return false;
    heap = h;
    size_t i = heap_len++;
    while (i > 0 && heap[(i - 1) / 2] > v) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = v;
    return true;
}

/* Gives p the smallest free id; 0 when out of memory (tracing stops). */
static uint64_t map_insert(const void *p, uint64_t size) {
    if ((tab_used + 1) * 2 > tab_cap && !tab_rehash(tab_cap ? tab_cap * 2 : 1u << 16))
        return 0;
    uint64_t id = heap_len ? heap_pop() : max_id + 1;
    if (id > max_id) {
        uint64_t *z = grow(sizes, &sizes_cap, (size_t)id + 1, sizeof *sizes);
        if (!z)
            return 0; /* id was max_id + 1: nothing to give back */
        sizes = z;
        max_id = id;
    }
    uintptr_t key = (uintptr_t)p;
    size_t j = hash_ptr(key, tab_cap);
    while (tab[j].key)
        j = (j + 1) & (tab_cap - 1);
    tab[j].key = key;
    tab[j].id = id;
    tab_used++;
    sizes[id] = size + 1;
    live_count++;
    if (id > trace_max_id)
        trace_max_id = id;
    return id;
}

static size_t tab_find(uintptr_t key) {
    if (!tab_cap)
        return SIZE_MAX;
    size_t j = hash_ptr(key, tab_cap);
    while (tab[j].key) {
        if (tab[j].key == key)
            return j;
        j = (j + 1) & (tab_cap - 1);
    }
    return SIZE_MAX;
}

static uint64_t map_lookup(const void *p) {
    size_t j = tab_find((uintptr_t)p);
    return j == SIZE_MAX ? 0 : tab[j].id;
}

/* Removes p; returns its id (0: unknown pointer). */
static uint64_t map_remove(const void *p) {
    size_t j = tab_find((uintptr_t)p);
    if (j == SIZE_MAX)
        return 0;
    uint64_t id = tab[j].id;
    /* backward-shift deletion */
    size_t mask = tab_cap - 1, i = j;
    for (;;) {
        tab[i].key = 0;
        size_t k = i;
        for (;;) {
            k = (k + 1) & mask;
            if (!tab[k].key)
                goto done;
            size_t h = hash_ptr(tab[k].key, tab_cap);
            /* can the entry at k move to i? (i is cyclically in [h, k)) */
            if (i <= k ? (h <= i || h > k) : (h <= i && h > k))
                break;
        }
        tab[i] = tab[k];
        i = k;
    }
done:
    tab_used--;
    sizes[id] = 0;
    live_count--;
    if (!heap_push(id))
        stop_tracing();
    return id;
}

/* ---- output ----------------------------------------------------------------- */

static size_t put_dec(char *d, uint64_t v) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        d[i] = tmp[n - 1 - i];
    return n;
}

static void say(const char *a, const char *b, int err) {
    char line[5000];
    size_t n = 0, la = strlen(a), lb = strlen(b);
    if (la + lb > 4900)
        lb = 0;
    memcpy(line, a, la);
    n += la;
    memcpy(line + n, b, lb);
    n += lb;
    if (err) {
        memcpy(line + n, " (errno ", 8);
        n += 8;
        n += put_dec(line + n, (uint64_t)err);
        line[n++] = ')';
    }
    line[n++] = '\n';
    ssize_t r = write(2, line, n);
    (void)r;
}

static bool open_out(void) {
    char path[4200];
    size_t n = 0;
    for (const char *s = out_template; *s && n < sizeof path - 64; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            n += put_dec(path + n, my_pid);
            s++;
        } else if (s[0] == '%' && s[1] == '%') {
            path[n++] = '%';
            s++;
        } else {
            path[n++] = *s;
        }
    }
    path[n] = '\0';
    for (unsigned i = 0; i < 100; i++) {
        if (i) {
            size_t m = n;
            path[m++] = '.';
            m += put_dec(path + m, i);
            path[m] = '\0';
        }
        out_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (out_fd >= 0) {
            /* out of the way of programs that use the low descriptors */
            int high = fcntl(out_fd, F_DUPFD_CLOEXEC, 512);
            if (high >= 0) {
                close(out_fd);
                out_fd = high;
            }
            struct stat st;
            if (fstat(out_fd, &st) == 0) {
                out_dev = st.st_dev;
                out_ino = st.st_ino;
            }
            return true;
        }
        if (errno != EEXIST)
            break;
    }
    say("hatrace: cannot create the trace file ", path, errno);
    return false;
}

static void stop_tracing(void) {
    finished = true;
    atomic_store(&tracing, false);
}

static void flush(void) {
    if (finished || buf_len == 0)
        return;
    if (out_fd < 0 && !open_out()) {
        stop_tracing();
        return;
    }
    struct stat st;
    if (fstat(out_fd, &st) != 0 || st.st_dev != out_dev || st.st_ino != out_ino) {
        say("hatrace: the program closed the trace file (its descriptor is gone or reused), "
            "tracing stops", "", 0);
        out_fd = -1;
        stop_tracing();
        return;
    }
    size_t off = 0;
    while (off < buf_len) {
        ssize_t w = write(out_fd, buf + off, buf_len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            say("hatrace: writing the trace failed, tracing stops", "", errno);
            stop_tracing();
            return;
        }
        off += (size_t)w;
    }
    buf_len = 0;
}

static void room(size_t n) {
    if (buf_len + n > BUF_CAP)
        flush();
}

static void put_u8(unsigned v) {
    buf[buf_len++] = (unsigned char)v;
}

static void put_var(uint64_t v) {
    while (v >= 0x80) {
        buf[buf_len++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    buf[buf_len++] = (unsigned char)v;
}

/* Starts a record of this thread (a THREAD record first on a switch).
 * Returns false when nothing may be recorded. */
static bool rec_begin(unsigned kind) {
    if (finished)
        return false;
    room(MAX_RECORD);
    if (finished)
        return false;
    if (!tls_thread)
        tls_thread = ++nthreads;
    uint32_t t = tls_thread - 1;
    if (t != cur_thread) {
        put_u8(HAT_K_THREAD);
        put_var(t);
        records++;
        cur_thread = t;
    }
    put_u8(kind);
    records++;
    return true;
}

static void write_header(void) {
    buf_len = 0;
    memcpy(buf, HAT_MAGIC, HAT_MAGIC_LEN);
    buf_len = HAT_MAGIC_LEN;
    put_var(HAT_VERSION);
    put_var(my_pid);
    put_var(parent_pid);
    put_var(child_fork_index);
    put_var(page_size);
    size_t nl = strlen(prog_name);
    put_var(nl);
    memcpy(buf + buf_len, prog_name, nl);
    buf_len += nl;
    put_var(live_count);
    uint64_t prev = 0;
    for (uint64_t id = 1; id <= max_id && !finished; id++) {
        if (!sizes[id])
            continue;
        room(32);
        put_var(id - prev);
        put_var(sizes[id] - 1);
        prev = id;
    }
    trace_max_id = prev;
}

/* ---- configuration ------------------------------------------------------- */

static bool name_matches(const char *only, const char *name) {
    return name && *name && strcmp(only, name) == 0;
}

static const char *base_of(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void on_prepare(void);
static void on_parent(void);
static void on_child(void);

__attribute__((constructor(101))) static void hatrace_init(void) {
    if (!resolve())
        return;
    const char *out = getenv("HATRACE_OUT");
    if (!out || !*out)
        return;
    tls_guard = 1;
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[el > 0 ? el : 0] = '\0';
    const char *exe_base = base_of(exe);
    const char *argv0 = program_invocation_short_name;
    const char *only = getenv("HATRACE_ONLY");
    if (only && *only && !name_matches(only, exe_base) && !name_matches(only, argv0)) {
        tls_guard = 0;
        return;
    }
    const char *name = *exe_base ? exe_base : (argv0 ? argv0 : "");
    size_t nl = strlen(name);
    if (nl > HAT_NAME_MAX)
        nl = HAT_NAME_MAX;
    memcpy(prog_name, name, nl);
    prog_name[nl] = '\0';

    /* the output name: absolute (the program may chdir before the first
     * write), %n and %% expanded now, %p at each open (a fork child's pid) */
    size_t n = 0;
    if (out[0] != '/') {
        char cwd[2000];
        if (!getcwd(cwd, sizeof cwd)) {
            say("hatrace: getcwd failed; HATRACE_OUT must be absolute here, not traced: ", out, errno);
            tls_guard = 0;
            return;
        }
        for (const char *c = cwd; *c; c++) { /* at most 2 * 2000 < sizeof out_template */
            if (*c == '%')
                out_template[n++] = '%';
            out_template[n++] = *c;
        }
        out_template[n++] = '/';
    }
    for (const char *s = out; *s; s++) {
        char piece[2 * HAT_NAME_MAX + 3];
        size_t len = 0;
        if (s[0] == '%' && s[1] == 'n') {
            for (const char *c = prog_name; *c; c++) {
                if (*c == '%')
                    piece[len++] = '%';
                piece[len++] = *c;
            }
            s++;
        } else if (s[0] == '%' && (s[1] == '%' || s[1] == 'p')) {
            piece[len++] = s[0];
            piece[len++] = s[1];
            s++;
        } else {
            piece[len++] = *s;
        }
        if (n + len >= sizeof out_template - 1) {
            say("hatrace: HATRACE_OUT is too long, not traced: ", out, 0);
            tls_guard = 0;
            return;
        }
        memcpy(out_template + n, piece, len);
        n += len;
    }
    out_template[n] = '\0';

    buf = map_pages(BUF_CAP);
    if (!buf) {
        say("hatrace: no memory for the trace buffer, not traced", "", errno);
        tls_guard = 0;
        return;
    }
    long ps = sysconf(_SC_PAGESIZE);
    page_size = ps > 0 ? (uint64_t)ps : 4096;
    my_pid = (uint64_t)getpid();
    write_header();
    nthreads = 0;
    cur_thread = 0;
    tls_thread = 0;
    pthread_atfork(on_prepare, on_parent, on_child);
    tls_guard = 0;
    atomic_store(&tracing, true);
}

__attribute__((destructor(101))) static void hatrace_fini(void) {
    if (!atomic_load(&tracing))
        return;
    tls_guard = 1;
    pthread_mutex_lock(&mu);
    if (!finished) {
        room(MAX_RECORD + 16);
        if (!finished) {
            size_t start = buf_len;
            put_u8(HAT_K_END);
            put_var(records);
            put_var(nthreads);
            put_var(trace_max_id);
            put_var(atomic_load(&free_null));
            put_var(atomic_load(&untraced));
            put_u8((unsigned)(buf_len - start));
            memcpy(buf + buf_len, HAT_FOOTER_MAGIC, HAT_FOOTER_MAGIC_LEN);
            buf_len += HAT_FOOTER_MAGIC_LEN;
            flush();
        }
        if (out_fd >= 0)
            close(out_fd);
        out_fd = -1;
        stop_tracing();
    }
    pthread_mutex_unlock(&mu);
    tls_guard = 0;
}

static int fork_guard_saved;

static void on_prepare(void) {
    int g = tls_guard;
    tls_guard = 1;
    pthread_mutex_lock(&mu);
    fork_guard_saved = g;
    if (!finished && atomic_load(&tracing) && rec_begin(HAT_K_FORK))
        put_var(nforks);
    nforks++;
}

static void on_parent(void) {
    pthread_mutex_unlock(&mu);
    tls_guard = fork_guard_saved;
}

static void on_child(void) {
    pthread_mutex_init(&mu, NULL);
    if (!finished) {
        if (out_fd >= 0)
            close(out_fd);
        out_fd = -1;
        parent_pid = my_pid;
        my_pid = (uint64_t)getpid();
        child_fork_index = nforks - 1;
        nforks = 0;
        records = 0;
        atomic_store(&free_null, 0);
        atomic_store(&untraced, 0);
        write_header();
        nthreads = 1;
        tls_thread = 1;
        cur_thread = 0;
    }
    tls_guard = fork_guard_saved;
}

/* ---- recording helpers (called with mu held) ---------------------------- */

static void rec_alloc(unsigned kind, void *p, uint64_t size, uint64_t a, uint64_t b, int nfields) {
    uint64_t id = p ? map_insert(p, size) : 0;
    if (p && !id) {
        say("hatrace: out of memory for the id map, tracing stops", "", 0);
        stop_tracing();
        return;
    }
    if (!rec_begin(kind))
        return;
    put_var(id);
    if (nfields >= 1)
        put_var(a);
    if (nfields >= 2)
        put_var(b);
}

static bool enter(void) {
    if (LIKELY(!atomic_load_explicit(&tracing, memory_order_relaxed)))
        return false;
    if (tls_guard) {
        atomic_fetch_add_explicit(&untraced, 1, memory_order_relaxed);
        return false;
    }
    tls_guard = 1;
    return true;
}

static void leave(void) {
    tls_guard = 0;
}

static void lock(void) {
    pthread_mutex_lock(&mu);
}

static void unlock(void) {
    pthread_mutex_unlock(&mu);
}

/* ---- the interposed functions ------------------------------------------- */

EXPORT void *malloc(size_t n) {
    if (UNLIKELY(!real_malloc) && !resolve())
        return boot_alloc(16, n);
    if (!enter())
        return real_malloc(n);
    void *p = real_malloc(n);
    lock();
    rec_alloc(HAT_K_MALLOC, p, n, n, 0, 1);
    unlock();
    leave();
    return p;
}

EXPORT void *calloc(size_t nmemb, size_t size) {
    if (UNLIKELY(!real_calloc) && !resolve()) {
        size_t total;
        if (__builtin_mul_overflow(nmemb, size, &total))
            return NULL;
        return boot_alloc(16, total);
    }
    if (!enter())
        return real_calloc(nmemb, size);
    void *p = real_calloc(nmemb, size);
    lock();
    rec_alloc(HAT_K_CALLOC, p, (uint64_t)nmemb * size, nmemb, size, 2);
    unlock();
    leave();
    return p;
}

EXPORT void free(void *p) {
    if (!p) {
        if (atomic_load_explicit(&tracing, memory_order_relaxed) && !tls_guard)
            atomic_fetch_add_explicit(&free_null, 1, memory_order_relaxed);
        return;
    }
    if (is_boot(p))
        return;
    if (UNLIKELY(!real_free) && !resolve())
        return; /* inside dlsym: not ours to free */
    if (!enter()) {
        real_free(p);
        return;
    }
    lock();
    uint64_t id = map_remove(p);
    if (rec_begin(id ? HAT_K_FREE : HAT_K_FREE | HAT_UNKNOWN_FLAG) && id)
        put_var(id);
    unlock();
    real_free(p);
    leave();
}

/* realloc and reallocarray after the real call, mu held: q = the result. */
static void rec_realloc(unsigned kind, void *p, void *q, uint64_t size, uint64_t nmemb,
                        uint64_t esize, bool arr) {
    uint64_t old = p ? map_lookup(p) : 0, id = 0;
    bool unknown = p && !old;
    if (q) {
        if (q == p && old) {
            id = old;
            sizes[id] = size + 1;
        } else {
            id = map_insert(q, size); /* before old leaves: the ids differ */
            if (!id) {
                say("hatrace: out of memory for the id map, tracing stops", "", 0);
                stop_tracing();
                return;
            }
            if (old)
                map_remove(p);
        }
    } else if (old && size == 0) {
        map_remove(p); /* glibc: realloc(p, 0) frees p and returns NULL */
    }
    if (!rec_begin(unknown ? kind | HAT_UNKNOWN_FLAG : kind))
        return;
    if (!unknown)
        put_var(old);
    put_var(id);
    if (arr) {
        put_var(nmemb);
        put_var(esize);
    } else {
        put_var(size);
    }
}

/* A realloc of a bootstrap block: copied into a real one. */
static void *boot_realloc(void *p, size_t n) {
    if (n == 0)
        return NULL;
    void *q = malloc(n);
    if (q) {
        size_t old = boot_size(p);
        memcpy(q, p, old < n ? old : n);
    }
    return q;
}

EXPORT void *realloc(void *p, size_t n) {
    if (UNLIKELY(!real_realloc) && !resolve()) {
        if (!p)
            return boot_alloc(16, n);
        if (is_boot(p)) {
            void *q = boot_alloc(16, n);
            if (q)
                memcpy(q, p, boot_size(p) < n ? boot_size(p) : n);
            return q;
        }
        return NULL;
    }
    if (p && is_boot(p))
        return boot_realloc(p, n);
    if (!enter())
        return real_realloc(p, n);
    lock();
    void *q = real_realloc(p, n);
    if (!finished)
        rec_realloc(HAT_K_REALLOC, p, q, n, 0, 0, false);
    unlock();
    leave();
    return q;
}

EXPORT void *reallocarray(void *p, size_t nmemb, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        if (enter()) {
            lock();
            rec_realloc(HAT_K_REALLOCARRAY, p, NULL, UINT64_MAX, nmemb, size, true);
            unlock();
            leave();
        }
        errno = ENOMEM;
        return NULL;
    }
    if (UNLIKELY(!real_realloc) && !resolve())
        return realloc(p, total);
    if (p && is_boot(p))
        return boot_realloc(p, total);
    if (!enter())
        return real_realloc(p, total);
    lock();
    void *q = real_realloc(p, total);
    if (!finished)
        rec_realloc(HAT_K_REALLOCARRAY, p, q, total, nmemb, size, true);
    unlock();
    leave();
    return q;
}

EXPORT int posix_memalign(void **memptr, size_t align, size_t n) {
    if (UNLIKELY(!real_posix_memalign) && !resolve()) {
        void *p = boot_alloc(align, n);
        if (!p)
            return ENOMEM;
        *memptr = p;
        return 0;
    }
    if (!enter())
        return real_posix_memalign(memptr, align, n);
    void *p = NULL;
    int r = real_posix_memalign(&p, align, n);
    if (r == 0)
        *memptr = p;
    lock();
    rec_alloc(HAT_K_POSIX_MEMALIGN, r == 0 ? p : NULL, n, align, n, 2);
    unlock();
    leave();
    return r;
}

static void *aligned_common(unsigned kind, aligned_fn fn, size_t align, size_t n) {
    if (!enter())
        return fn(align, n);
    void *p = fn(align, n);
    lock();
    rec_alloc(kind, p, n, align, n, 2);
    unlock();
    leave();
    return p;
}

EXPORT void *aligned_alloc(size_t align, size_t n) {
    if (UNLIKELY(!real_aligned_alloc) && !resolve())
        return boot_alloc(align, n);
    return aligned_common(HAT_K_ALIGNED_ALLOC, real_aligned_alloc, align, n);
}

EXPORT void *memalign(size_t align, size_t n) {
    if (UNLIKELY(!real_memalign) && !resolve())
        return boot_alloc(align, n);
    return aligned_common(HAT_K_MEMALIGN, real_memalign, align, n);
}

static void *page_common(unsigned kind, malloc_fn fn, size_t n) {
    if (!enter())
        return fn(n);
    void *p = fn(n);
    lock();
    rec_alloc(kind, p, n, page_size, n, 2);
    unlock();
    leave();
    return p;
}

EXPORT void *valloc(size_t n) {
    if (UNLIKELY(!real_valloc) && !resolve())
        return boot_alloc(4096, n);
    return page_common(HAT_K_VALLOC, real_valloc, n);
}

EXPORT void *pvalloc(size_t n) {
    if (UNLIKELY(!real_pvalloc) && !resolve())
        return boot_alloc(4096, (n + 4095) & ~(size_t)4095);
    return page_common(HAT_K_PVALLOC, real_pvalloc, n);
}

EXPORT size_t malloc_usable_size(void *p) {
    if (p && is_boot(p))
        return boot_size(p);
    if (UNLIKELY(!real_usable) && !resolve())
        return 0;
    return real_usable(p);
}
