/**
 * @file replay.c
 * @brief trace_replay: replays hatrace traces (bench/trace/FORMAT.md) on
 *        hardalloc at every hardening level, on glibc malloc and on the
 *        peers: the system allocators mimalloc, jemalloc and tcmalloc, and
 *        arena allocators given as shared libraries (TLSF, o1heap).
 *
 * usage: trace_replay [--rounds R] [--arena-factor F | --arena BYTES] [--json FILE]
 *                     [--peer NAME=PATH.so]... [--only NAME[,NAME...]] TRACE...
 *
 * Files: this one (the back ends chosen and loaded, the run: arenas and
 * rounds); replay_options.c (the command line); replay_trace.c (a trace
 * decoded into operations); replay_engine.c (the replay loop and its
 * fallbacks, the smallest arena); replay_backends.c (the allocators, one
 * table of function pointers each, replay_backend.h); replay_report.c (the
 * tables and the JSON).
 *
 * Each trace is decoded once into an array of operations (so the reader's
 * cost is not measured), then replayed single-threaded, in trace order, on
 * each back end, in this order:
 *   - arena back ends: hardalloc off, standard and paranoid (the three
 *     per-level copies of the allocator bench/gbench uses, every symbol
 *     renamed by bench/rename_level.h, reached through
 *     bench/gbench_levels.h's tables), then each --peer NAME=PATH: PATH is
 *     loaded with dlopen and must export the TLSF 3.x API or the o1heap 2.x
 *     API (replay_backend.h; anything else is a usage error). Each gets a
 *     fresh heap (init before every replay, outside the timed region) in an
 *     arena of F (default 2) times the smallest arena that holds the trace
 *     on it: found by doubling then bisecting the arena size (to 8 bytes)
 *     for the smallest size at which the whole trace replays with no
 *     allocation failing. --arena BYTES skips the bisection and gives every
 *     arena back end that arena (bench/trace/instructions counts
 *     instructions that way, with the arena a timing run chose);
 *   - system allocators: glibc malloc, then mimalloc (libmimalloc.so.2),
 *     jemalloc (libjemalloc.so.2, its mallocx API) and tcmalloc
 *     (libtcmalloc_minimal.so.4), loaded with dlopen(RTLD_LOCAL) (glibc
 *     stays the process's malloc); one that is not installed is skipped
 *     with one line on stderr. TRACE_REPLAY_MIMALLOC, TRACE_REPLAY_JEMALLOC
 *     and TRACE_REPLAY_TCMALLOC name another file to load instead. jemalloc
 *     needs more static TLS than glibc reserves for dlopen: the replayer
 *     then runs itself again once with
 *     GLIBC_TUNABLES=glibc.rtld.optional_static_tls=16384 (and says so);
 *     TRACE_REPLAY_REEXEC set in the environment stops that. Under
 *     AddressSanitizer the three are skipped (as in bench/gbench).
 * --only NAME,... keeps those back ends (off, standard, paranoid, glibc,
 * mimalloc, jemalloc, tcmalloc, the --peer names); an unknown name is a
 * usage error.
 *
 * What is replayed:
 *   - thread switches are ignored (one thread, records in trace order);
 *     FORK records do nothing;
 *   - calls that failed in the trace (returned NULL) are skipped, and so are
 *     frees of unknown pointers; a realloc of an unknown pointer is an
 *     allocation of its size; realloc(p, 0) that freed p is a free;
 *   - calloc: the back end's calloc(1, size) (glibc, the system peers,
 *     jemalloc's mallocx(MALLOCX_ZERO)); hardalloc, TLSF and o1heap have
 *     none: alloc and memset to zero;
 *   - realloc: the back end's (o1heap has none: alloc, memcpy of
 *     min(old size, new size), free);
 *   - aligned allocations (posix_memalign, aligned_alloc, memalign, valloc,
 *     pvalloc): glibc posix_memalign(max(align, sizeof(void *)), size),
 *     mi_malloc_aligned, mallocx(MALLOCX_ALIGN(align)), tc_memalign,
 *     tlsf_memalign; hardalloc and o1heap have none: a plain allocation
 *     when align is at most their block alignment (8 bytes; 4 pointers),
 *     else alloc(size + align - 1) and the pointer aligned up by hand, the
 *     original pointer kept to free (or realloc) the block. So aligned
 *     blocks cost them up to align - 1 bytes more than asked, which the
 *     smallest arena includes;
 *   - a 0-byte request is passed as 0 to glibc, mimalloc and tcmalloc, as
 *     1 byte to the others (mem_alloc, tlsf_malloc and o1heapAllocate answer
 *     NULL to 0; mallocx(0) is undefined);
 *   - blocks live in an array indexed by the trace's dense ids (max_id + 1
 *     slots); blocks still live at the end are freed outside the timed
 *     region (system allocators) or dropped with the arena.
 *
 * Measured per back end: ns per replayed operation (the median of R rounds,
 * default 5; the back ends are interleaved round by round;
 * clock_gettime(CLOCK_MONOTONIC) around the whole replay loop,
 * replay_engine.c's replay_loop), allocation failures at the chosen arena
 * (0 expected), and for arena back ends the smallest arena with its ratio
 * to the trace's peak live bytes (the sum of the sizes asked for of the
 * blocks live at once, as trace_stat counts it).
 *
 * Exit status: 0; 1 when a back end failed an allocation at its chosen
 * arena, refused it (init), or no arena up to 2 GiB holds the trace; 2 on a
 * usage error (one line: a bad option, an unknown --only name, a --peer
 * library that cannot be loaded or has neither API) or a missing or bad
 * trace (one line: "trace_replay: FILE: why").
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay_backend.h"
#include "replay_engine.h"
#include "replay_options.h"
#include "replay_report.h"
#include "replay_trace.h"

#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_ASAN 1
#endif
#endif
#ifdef REPLAY_ASAN
static const bool replay_asan = true;
#else
static const bool replay_asan = false;
#endif

#define TUNABLE "glibc.rtld.optional_static_tls=16384"

/* ---- back ends -------------------------------------------------------------- */

typedef struct backends {
    const replay_backend *list[REPLAY_MAX_BACKENDS + 8];
    size_t n;
    char notes[8][512]; /* printed once the traces have been read */
    size_t n_notes;
} backends;

__attribute__((format(printf, 2, 3))) static void note(backends *bs, const char *fmt, ...) {
    if (bs->n_notes == sizeof bs->notes / sizeof bs->notes[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bs->notes[bs->n_notes++], sizeof bs->notes[0], fmt, ap);
    va_end(ap);
}

/* Runs this program again with the tunable jemalloc's static TLS needs;
 * returns only when that fails. */
static void run_again_for_jemalloc(char **argv) {
    const char *old = getenv("GLIBC_TUNABLES");
    char t[1024];
    snprintf(t, sizeof t, "%s%s%s", old ? old : "", old && *old ? ":" : "", TUNABLE);
    setenv("GLIBC_TUNABLES", t, 1);
    setenv("TRACE_REPLAY_REEXEC", "jemalloc", 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
}

/* The back ends in their order: hardalloc levels, --peer libraries, glibc,
 * the system peers. 0, or 2 after one line (a --peer that cannot be used). */
static int load_backends(const replay_options *o, char **argv, backends *bs) {
    memset(bs, 0, sizeof *bs);
    static const char *const levels[] = {"off", "standard", "paranoid"};
    for (size_t i = 0; i < 3; i++) {
        if (replay_wanted(o, levels[i]))
            bs->list[bs->n++] = replay_builtin(levels[i]);
    }
    for (size_t i = 0; i < o->n_peers; i++) {
        char why[768];
        const replay_backend *b = replay_arena_peer(o->peers[i].name, o->peers[i].path, why,
                                                    sizeof why);
        if (!b) {
            fprintf(stderr, "trace_replay: --peer %s\n", why);
            return 2;
        }
        if (replay_wanted(o, b->key))
            bs->list[bs->n++] = b;
    }
    if (replay_wanted(o, "glibc"))
        bs->list[bs->n++] = replay_builtin("glibc");
    static const char *const sys_keys[] = {"mimalloc", "jemalloc", "tcmalloc"};
    bool any = false;
    for (size_t i = 0; i < 3; i++)
        any = any || replay_wanted(o, sys_keys[i]);
    if (any && replay_asan) {
        /* their own allocations escape ASan's interposed malloc (bench/gbench does the same) */
        note(bs, "trace_replay: mimalloc, jemalloc, tcmalloc skipped under AddressSanitizer");
        return 0;
    }
    const char *reexec = getenv("TRACE_REPLAY_REEXEC");
    for (size_t i = 0; any && i < 3; i++) {
        if (!replay_wanted(o, sys_keys[i]))
            continue;
        char why[512];
        bool static_tls;
        const replay_backend *b = replay_system_peer(sys_keys[i], why, sizeof why, &static_tls);
        if (!b && static_tls && !(reexec && *reexec)) {
            run_again_for_jemalloc(argv);
            snprintf(why + strlen(why), sizeof why - strlen(why), " (and running again with "
                     "GLIBC_TUNABLES=%s failed: %s)", TUNABLE, strerror(errno));
        }
        if (b) {
            bs->list[bs->n++] = b;
            if (strcmp(sys_keys[i], "jemalloc") == 0 && reexec && strcmp(reexec, "jemalloc") == 0)
                note(bs, "trace_replay: %s: ran again with GLIBC_TUNABLES=%s (its static TLS)",
                     sys_keys[i], getenv("GLIBC_TUNABLES") ? getenv("GLIBC_TUNABLES") : "");
        } else {
            note(bs, "trace_replay: %s skipped: %s", sys_keys[i], why);
        }
    }
    return 0;
}

/* ---- the run ---------------------------------------------------------------- */

/* Replays d on every back end: arenas, rounds, table, JSON. The exit
 * status so far (1 when a back end failed), or 2 without memory. */
static int run_trace(const replay_trace *d, const backends *bs, const replay_options *o,
                     FILE *json, bool first) {
    replay_slot *slots = calloc((size_t)d->slots, sizeof *slots);
    replay_result rs[REPLAY_MAX_BACKENDS + 8];
    memset(rs, 0, sizeof rs);
    int status = 0;
    bool ok = slots != NULL;
    for (size_t k = 0; ok && k < bs->n; k++) {
        rs[k].b = bs->list[k];
        rs[k].ns = calloc(o->rounds, sizeof(double));
        ok = rs[k].ns != NULL;
    }
    /* the smallest arena per arena back end, then its arena of F times that */
    for (size_t k = 0; ok && k < bs->n; k++) {
        replay_result *r = &rs[k];
        if (!r->b->init)
            continue;
        if (o->arena) {
            r->arena_size = o->arena;
        } else {
            r->smallest = replay_smallest_arena(d, r->b, slots, REPLAY_MAX_ARENA);
            double want = r->smallest ? (double)r->smallest * o->factor : (double)REPLAY_MAX_ARENA;
            if (want > (double)REPLAY_MAX_ARENA)
                want = (double)REPLAY_MAX_ARENA;
            r->arena_size = (size_t)want & ~(size_t)7u;
        }
        r->arena = replay_arena_alloc(r->arena_size);
        ok = r->arena != NULL;
    }
    if (!ok) {
        fprintf(stderr, "trace_replay: %s: out of memory\n", d->path);
        status = 2;
        goto out;
    }
    /* rounds, back ends interleaved */
    for (unsigned round = 0; round < o->rounds; round++) {
        for (size_t k = 0; k < bs->n; k++) {
            replay_result *r = &rs[k];
            double el = 0;
            uint64_t f = replay_once(d, r->b, r->arena, r->arena_size, slots, false, &el);
            if (f == REPLAY_INIT_FAILED) {
                if (!r->init_failed)
                    fprintf(stderr, "trace_replay: %s: %s refused an arena of %zu bytes\n",
                            d->path, r->b->name, r->arena_size);
                r->init_failed = true;
                f = 0;
            }
            r->failures = f;
            r->ns[round] = d->n_ops ? el / (double)d->n_ops : 0.0;
        }
    }
    replay_print_table(d, rs, bs->n, o);
    for (size_t k = 0; k < bs->n; k++) {
        if (rs[k].failures || rs[k].init_failed || (rs[k].b->init && !o->arena && !rs[k].smallest))
            status = 1;
    }
    if (json)
        replay_json_trace(json, d, rs, bs->n, o, first);
out:
    for (size_t k = 0; k < bs->n; k++) {
        replay_arena_free(rs[k].arena);
        free(rs[k].ns);
    }
    free(slots);
    return status;
}

int main(int argc, char **argv) {
    replay_options o;
    int rc = replay_parse_options(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : 2;
    backends bs;
    if (!replay_check_only(&o) || load_backends(&o, argv, &bs) != 0)
        return 2;
    int n_traces = argc - o.first_trace;
    replay_trace *traces = calloc((size_t)n_traces, sizeof *traces);
    if (!traces) {
        fprintf(stderr, "trace_replay: out of memory\n");
        return 2;
    }
    /* every trace is read up front: a bad one stops the run before timing */
    for (int i = 0; i < n_traces; i++) {
        if (replay_trace_decode(argv[o.first_trace + i], &traces[i]) < 0) {
            for (int j = 0; j < i; j++)
                replay_trace_free(&traces[j]);
            free(traces);
            return 2;
        }
    }
    for (size_t i = 0; i < bs.n_notes; i++)
        fprintf(stderr, "%s\n", bs.notes[i]);
    if (bs.n == 0) {
        fprintf(stderr, "trace_replay: no back end left to replay on (--only %s)\n", o.only);
        return 2;
    }
    FILE *json = NULL;
    if (o.json_path) {
        json = fopen(o.json_path, "w");
        if (!json) {
            fprintf(stderr, "trace_replay: %s: %s\n", o.json_path, strerror(errno));
            return 2;
        }
        replay_json_begin(json, &o, bs.list, bs.n);
    }
    int status = 0;
    for (int ti = 0; ti < n_traces; ti++) {
        int s = run_trace(&traces[ti], &bs, &o, json, ti == 0);
        replay_trace_free(&traces[ti]);
        if (s == 2) {
            status = 2;
            break;
        }
        if (s > status)
            status = s;
        if (ti + 1 < n_traces)
            printf("\n");
    }
    free(traces);
    if (json) {
        replay_json_end(json, bs.list, bs.n);
        if (fclose(json) != 0) {
            fprintf(stderr, "trace_replay: %s: write failed\n", o.json_path);
            return 2;
        }
    }
    return status;
}
