/*
 * Exhaustive sweeps over the promises of hardening v2 (issue 13, "What must
 * show"), built once per hardening level:
 *  - context words: every word of the context (CTX_WORDS, heap_internal.h)
 *    x {0, ~0, 0x41414141, bit 0, bit 13, bit 31 flipped} x every call: the
 *    call reports exactly CORRUPT_CONTEXT, about the heap, to the handler
 *    registered for it, and so does every later call (fail closed); a
 *    pattern that leaves the word as it was is skipped and counted;
 *  - blind corruption: every aligned word of the first 512 bytes of an
 *    8 KiB heap x {0, ~0, 0x41414141, one flipped bit}, then alloc, free,
 *    realloc, stat and check: no crash, no write outside the arena, no
 *    silently dead heap (a refusal before any fault was reported), and
 *    mem_check passes only on a heap that then fully works;
 *  - overflows: 1..8 bytes past every request size 1..64, each found by
 *    free, by realloc and by mem_check (OVERFLOW), and 1 byte past every
 *    request size 1..4096, found by the same three.
 * In every case: the guard zones around the arena are intact, no block
 * handed out leaves the heap or overlaps another live block, and no call
 * writes into a live block's bytes.
 *
 * A case yields a verdict (which promise it broke, and why); each test
 * tallies the verdicts of its sweep, prints one summary line and the first
 * failing cases, and asserts the tallies. standard and paranoid must show
 * no violation at all. They run the cases in this process: the recording
 * handler is the only one registered, so the default handler (which
 * aborts) runs only if the allocator picks it wrongly, and then the
 * process dies; a crash fails the test through cmocka. Either way a signal
 * handler names the case first.
 *
 * off checks neither the context nor free-list links nor canaries (README:
 * it trusts metadata), so its calls may follow damaged offsets anywhere:
 * at off the cases run in child processes (run_batch) and off asserts only
 * what it promises, said at each test: context damage never leads it out
 * of the arena in this scene, and an overflow is reported (CORRUPT_HEADER)
 * exactly when it reaches the next chunk's length word. The blind sweep
 * only reports at off.
 *
 * HARDALLOC_SWEEP_STRIDE=N runs only every Nth size of the 1..4096 sweep
 * (and those next to a power of two); the valgrind test setup sets 4
 * (tests/meson.build), every other run sweeps all sizes.
 * HARDALLOC_SWEEP_SHOW=N prints the first N failing cases of each sweep
 * (default 12); HARDALLOC_SWEEP_VERBOSE keeps the stderr of off's children.
 */

#define _POSIX_C_SOURCE 200809L

#include "attack_util.h"
#include "mem_testing.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HEAP_SIZE 8192u
#define BLIND_BYTES 512u
#define CHECK_EVERY 1000u /* paranoid: nonzero, so that CHECK_EVERY and OPS are live words */

/* Bytes of a block's chunk around its payload [p, p + n): the header before
 * it, and hardened the canary after it (off: the 4-byte length word only;
 * the payload runs into the next chunk's first word). */
#define BLK_HEAD (HARDENED ? 8u : 4u)
#define BLK_TAIL (HARDENED ? 4u : 0u)

/* The registered handler's user pointer: proof that a fault reached it. */
static int g_cookie;
#define USER ((void *)&g_cookie)
static int g_other_cookie;

/* ---- verdicts ----------------------------------------------------------- */

enum {
    V_CRASH,   /* the case died (child: signal or nonzero exit) */
    V_OUTSIDE, /* a guard zone around the arena was written */
    V_SILENT,  /* a call refused with no fault reported so far */
    V_MISSED,  /* the damage went unreported where it must be */
    V_WRONG,   /* wrong code, count, heap, address, user pointer or answer */
    V_OPEN,    /* after a corruption fault a call did not refuse, report again, or wrote */
    V_OVERLAP, /* a block leaves the heap or overlaps another live block */
    V_WRITTEN, /* a live block's bytes changed */
    V_SETUP,   /* the scene could not be built */
    NB_V
};

static const char *const v_name[NB_V] = {
    "crashed", "wrote outside", "silently dead", "missed", "wrong report", "not fail closed",
    "overlap or out of heap", "live block written", "setup failed",
};

typedef struct {
    bool skipped;  /* the pattern left the word as it was (context sweep) */
    bool noop;     /* the write changed nothing but the case ran (blind sweep) */
    bool bad[NB_V];
    mem_fault_t first; /* first fault reported, NONE if none */
    unsigned faults;
    char why[320]; /* the first violation */
} verdict_t;

static void flag(verdict_t *v, int kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void flag(verdict_t *v, int kind, const char *fmt, ...)
{
    bool first = true;
    for (int i = 0; i < NB_V; i++) {
        first = first && !v->bad[i];
    }
    v->bad[kind] = true;
    if (first) {
        va_list ap;
        va_start(ap, fmt);
        int n = snprintf(v->why, sizeof v->why, "%s: ", v_name[kind]);
        if (n > 0 && (size_t)n < sizeof v->why) {
            (void)vsnprintf(v->why + n, sizeof v->why - (size_t)n, fmt, ap);
        }
        va_end(ap);
    }
}

static bool verdict_bad(const verdict_t *v)
{
    for (int i = 0; i < NB_V; i++) {
        if (v->bad[i]) {
            return true;
        }
    }
    return false;
}

#define NB_CODES 8

/* What a sweep saw, over all its cases. */
typedef struct {
    const char *name;
    size_t cases, skipped, noop, harmless, failing;
    size_t by_code[NB_CODES]; /* cases by first fault code */
    size_t bad[NB_V];
    size_t shown;
    time_t start;
} tally_t;

/* Failing cases printed per sweep (HARDALLOC_SWEEP_SHOW overrides). */
static size_t show_failures(void)
{
    const char *env = getenv("HARDALLOC_SWEEP_SHOW");
    return env != NULL && *env != '\0' ? (size_t)strtoul(env, NULL, 10) : 12u;
}

static void tally_start(tally_t *t, const char *name)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->start = time(NULL);
}

static void tally_add(tally_t *t, const verdict_t *v, const char *label)
{
    t->cases++;
    if (v->skipped) {
        t->skipped++;
        return;
    }
    t->noop += v->noop;
    t->by_code[(unsigned)v->first < NB_CODES ? (unsigned)v->first : 0u]++;
    t->harmless += v->faults == 0u && !verdict_bad(v);
    for (int i = 0; i < NB_V; i++) {
        t->bad[i] += v->bad[i];
    }
    if (verdict_bad(v)) {
        t->failing++;
        if (t->shown++ < show_failures()) {
            printf("  FAIL %s [%s]: %s\n", t->name, label, v->why);
        }
    }
}

static void tally_print(const tally_t *t)
{
    printf("%s %s: %zu cases", LEVEL_NAME, t->name, t->cases);
    if (t->skipped != 0u) {
        printf(" (%zu skipped: pattern = value)", t->skipped);
    }
    if (t->noop != 0u) {
        printf(" (%zu writes changed nothing)", t->noop);
    }
    printf("; faults by first code:");
    for (unsigned c = 1; c < NB_CODES; c++) {
        if (t->by_code[c] != 0u) {
            printf(" %s %zu", code_name((mem_fault_t)c), t->by_code[c]);
        }
    }
    printf("; no fault %zu (harmless %zu)", t->by_code[0], t->harmless);
    printf("; violations:");
    for (int i = 0; i < NB_V; i++) {
        printf(" %s %zu%s", v_name[i], t->bad[i], i + 1 < NB_V ? "," : "");
    }
    printf("; %lds\n", (long)(time(NULL) - t->start));
    fflush(stdout);
}

/* ---- running the cases of a sweep --------------------------------------- */

typedef void (*case_fn)(const void *arg, verdict_t *v);

#define ARG_BYTES 32u
#define LABEL_BYTES 128u

/* A sweep: count cases; describe(i) fills case i's argument (at most
 * ARG_BYTES) and label, or answers false for a case left out
 * (HARDALLOC_SWEEP_STRIDE). */
typedef struct {
    const char *name;
    case_fn fn;
    bool (*describe)(size_t i, void *arg, char *label, size_t cap);
    size_t count;
    size_t note_skips_every; /* print skipped case i when i % this == 0 (0: never) */
} sweep_t;

static void tally_note(tally_t *t, const sweep_t *sw, size_t i, const verdict_t *v, const char *label)
{
    tally_add(t, v, label);
    if (v->skipped && sw->note_skips_every != 0u && i % sw->note_skips_every == 0u) {
        printf("  skipped (the pattern leaves the word as it is): %s\n", label);
    }
}

/* off: the cases run in child processes, BATCH per child. A child that
 * dies takes the case it was running with it (V_CRASH) and the next child
 * goes on after it; a case that wrote outside the arena ends its child, so
 * that whatever else it wrote cannot sway the cases after it. */
#define FORK_CASES (!HARDENED)
#define BATCH 256u

/* The case running in this process, for the crash handler. */
static char g_label[LABEL_BYTES];
static const int crash_signals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE};
#define NB_CRASH_SIGNALS (sizeof crash_signals / sizeof crash_signals[0])
static struct sigaction g_old_actions[NB_CRASH_SIGNALS];

/* Names the case, puts the earlier handler (cmocka's, or the default) back
 * and returns: the fault or abort happens again and ends the test. */
static void on_crash(int sig)
{
    static const char head[] = "\nsweep: crashed (signal) in case: ";
    size_t n = 0;
    while (n < sizeof g_label && g_label[n] != '\0') {
        n++;
    }
    ssize_t w = write(STDERR_FILENO, head, sizeof head - 1u);
    w = write(STDERR_FILENO, g_label, n);
    w = write(STDERR_FILENO, "\n", 1);
    (void)w;
    for (size_t i = 0; i < NB_CRASH_SIGNALS; i++) {
        if (crash_signals[i] == sig) {
            (void)sigaction(sig, &g_old_actions[i], NULL);
        }
    }
}

static void crash_names_case(bool on)
{
    for (size_t i = 0; i < NB_CRASH_SIGNALS; i++) {
        if (on) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_crash;
            sigemptyset(&sa.sa_mask);
            (void)sigaction(crash_signals[i], &sa, &g_old_actions[i]);
        } else {
            (void)sigaction(crash_signals[i], &g_old_actions[i], NULL);
        }
    }
}

static void heap_discard(void);

/* What a child sends per case; index SIZE_MAX: it finished its batch. */
typedef struct {
    size_t index;
    verdict_t v;
} record_t;

/* One record through the pipe, written (send) or read whole: false on an
 * error or the end of the pipe first. */
static bool pass_record(int fd, record_t *rec, bool send)
{
    uint8_t *p = (uint8_t *)rec;
    size_t n = sizeof *rec;
    while (n > 0u) {
        ssize_t k = send ? write(fd, p, n) : read(fd, p, n);
        if (k <= 0) {
            return false;
        }
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* The cases [from, to) of sw that one child runs. */
typedef struct {
    const sweep_t *sw;
    size_t from, to;
} batch_t;

/* The child's side: its batch's cases, one record each, then the end mark. */
static void child_run(void *batch, int fd)
{
    const batch_t *b = batch;
    const sweep_t *sw = b->sw;
    /* A crash ends the child: cmocka's handlers would jump back into its
     * runner and run the remaining tests in the child. */
    for (size_t i = 0; i < NB_CRASH_SIGNALS; i++) {
        (void)signal(crash_signals[i], SIG_DFL);
    }
    /* A default handler's line or a sanitizer's report would flood the
     * log: the verdict says what happened. */
    if (getenv("HARDALLOC_SWEEP_VERBOSE") == NULL && freopen("/dev/null", "w", stderr) == NULL) {
        _exit(3);
    }
    uint64_t arg[ARG_BYTES / 8u];
    char label[LABEL_BYTES];
    record_t rec;
    for (size_t i = b->from; i < b->to; i++) {
        if (!sw->describe(i, arg, label, sizeof label)) {
            continue;
        }
        memset(&rec, 0, sizeof rec);
        rec.index = i;
        sw->fn(arg, &rec.v);
        heap_discard();
        if (!pass_record(fd, &rec, true)) {
            _exit(4);
        }
        if (rec.v.bad[V_OUTSIDE]) {
            _exit(0);
        }
    }
    memset(&rec, 0, sizeof rec);
    rec.index = SIZE_MAX;
    _exit(pass_record(fd, &rec, true) ? 0 : 4);
}

/* Cases [from, to) in one child; returns where the next child starts. */
static size_t run_batch(const sweep_t *sw, tally_t *t, size_t from, size_t to)
{
    batch_t batch = {sw, from, to};
    child_t child = child_start(child_run, &batch);
    uint64_t arg[ARG_BYTES / 8u];
    char label[LABEL_BYTES];
    size_t resume = from;
    bool done = false;
    record_t rec;
    while (!done && pass_record(child.fd, &rec, false)) {
        done = rec.index == SIZE_MAX;
        if (!done && rec.index >= from && rec.index < to && sw->describe(rec.index, arg, label, sizeof label)) {
            tally_note(t, sw, rec.index, &rec.v, label);
            resume = rec.index + 1u;
        }
    }
    int status = child_finish(child);
    if (done) {
        return to;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return resume; /* it stopped after a case that wrote outside */
    }
    /* It died in the first case after the last one it reported. */
    for (size_t i = resume; i < to; i++) {
        if (sw->describe(i, arg, label, sizeof label)) {
            verdict_t v;
            memset(&v, 0, sizeof v);
            if (WIFSIGNALED(status)) {
                flag(&v, V_CRASH, "child killed by signal %d", WTERMSIG(status));
            } else {
                flag(&v, V_CRASH, "child exited with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            }
            tally_note(t, sw, i, &v, label);
            return i + 1u;
        }
    }
    return to;
}

/* Runs every case of sw into t and prints the summary line. */
static void run_sweep(const sweep_t *sw, tally_t *t)
{
    tally_start(t, sw->name);
    if (FORK_CASES) {
        for (size_t i = 0; i < sw->count;) {
            i = run_batch(sw, t, i, sw->count - i > BATCH ? i + BATCH : sw->count);
        }
    } else {
        crash_names_case(true);
        uint64_t arg[ARG_BYTES / 8u];
        for (size_t i = 0; i < sw->count; i++) {
            if (!sw->describe(i, arg, g_label, sizeof g_label)) {
                continue;
            }
            verdict_t v;
            memset(&v, 0, sizeof v);
            sw->fn(arg, &v);
            tally_note(t, sw, i, &v, g_label);
        }
        crash_names_case(false);
    }
    tally_print(t);
}

/* ---- the tracked heap --------------------------------------------------- */

#define MAX_BLOCKS 16u
#define MAX_COPY (HEAP_SIZE / 2u)

typedef struct {
    uint8_t *p;
    size_t n;
    /* The app gave it up (a free or realloc that reported a fault): its
     * bytes are moot, but the allocator never freed it, so it still must
     * not overlap a block handed out later. */
    bool zombie;
    uint8_t copy[MAX_COPY]; /* what its first n bytes must be */
} block_t;

typedef struct {
    region_t r;
    mem_ctx_t ctx;
    uint32_t first, end; /* the chunk area, from the healthy context */
    block_t blk[MAX_BLOCKS];
    size_t nblk;
    uint8_t fill; /* next fill byte */
} fixture_t;

static fixture_t H;

/* Where p lies relative to the arena (the heap's context), for messages. */
static long at_of(const void *p)
{
    return (long)((intptr_t)(uintptr_t)p - (intptr_t)(uintptr_t)H.r.arena);
}

static void blocks_clear(void)
{
    H.nblk = 0;
}

static void heap_discard(void)
{
    blocks_clear();
    heap_forget(H.ctx);
}

static block_t *block_of(const uint8_t *p)
{
    for (size_t i = 0; i < H.nblk; i++) {
        if (H.blk[i].p == p) {
            return &H.blk[i];
        }
    }
    return NULL;
}

static void block_drop(block_t *b)
{
    *b = H.blk[--H.nblk];
}

static void block_snap(block_t *b)
{
    raw_read(b->copy, b->p, b->n);
}

/* Tracks the new block p of n bytes; the app fills its bytes from keep on
 * (valgrind then sees them defined). A block outside the chunk area is
 * tracked but never written: verify reports it. */
static void block_add(uint8_t *p, size_t n, size_t keep, verdict_t *v)
{
    if (H.nblk == MAX_BLOCKS || n > MAX_COPY) {
        flag(v, V_SETUP, "more than %u blocks, or one of more than %u bytes", MAX_BLOCKS, MAX_COPY);
        return;
    }
    uintptr_t rel = (uintptr_t)p - (uintptr_t)H.r.arena;
    bool inside = ((uintptr_t)p & (MEM_ALIGNMENT - 1u)) == 0u && rel >= H.first + BLK_HEAD &&
                  rel <= H.end && n + BLK_TAIL <= H.end - rel;
    if (inside && keep < n) {
        memset(p + keep, ++H.fill, n - keep);
    }
    block_t *b = &H.blk[H.nblk++];
    b->p = p;
    b->n = n;
    b->zombie = !inside;
    if (inside) {
        raw_read(b->copy, p, n);
    }
}

/* The bytes of every live block are what they are now (after a write the
 * test made on purpose). */
static void blocks_resnap(void)
{
    for (size_t i = 0; i < H.nblk; i++) {
        if (!H.blk[i].zombie) {
            block_snap(&H.blk[i]);
        }
    }
}

/* A fresh heap in the region, with the recording handler. */
static bool heap_fresh(verdict_t *v)
{
    heap_discard();
    H.fill = 0x10;
    H.ctx = mem_init(H.r.arena, H.r.size);
    if (H.ctx != (mem_ctx_t)H.r.arena || !mem_set_fault_handler(H.ctx, record_fault, USER)) {
        flag(v, V_SETUP, "mem_init or mem_set_fault_handler failed");
        return false;
    }
    if (PARANOID && !mem_set_check_interval(H.ctx, CHECK_EVERY)) {
        flag(v, V_SETUP, "mem_set_check_interval failed");
        return false;
    }
    H.first = raw_get32(ctx_word(H.ctx, W_FIRST));
    H.end = raw_get32(ctx_word(H.ctx, W_END));
    fault_recorder_clear(&g_faults);
    return true;
}

static uint8_t *heap_alloc(size_t n, verdict_t *v)
{
    uint8_t *p = mem_alloc(H.ctx, n);
    if (p == NULL) {
        flag(v, V_SETUP, "alloc(%zu) failed on a healthy heap", n);
        return NULL;
    }
    block_add(p, n, 0, v);
    return p;
}

/* Whether an arena byte differs from snap (*any), and one outside the
 * words any call may write besides blocks (*more): failing the heap writes
 * its state and the context checksum that covers it, and at paranoid every
 * call that passes the context check counts itself in W_OPS (the periodic
 * check, CHECK_EVERY) and signs the count. */
static void arena_compare(const uint8_t *snap, bool *any, bool *more)
{
    static uint8_t now[HEAP_SIZE];
    raw_read(now, H.r.arena, H.r.size);
    *any = memcmp(now, snap, H.r.size) != 0;
    *more = false;
    for (size_t i = 0; *any && i < H.r.size && !*more; i++) {
        size_t word = i / 4u;
        bool allowed = word == W_STATE || word == W_CTX_CHECK || (PARANOID && word == W_OPS);
        *more = now[i] != snap[i] && !allowed;
    }
}

/* Invariants after every call: the guards, every block inside the chunk
 * area and apart from every other, and the live blocks' bytes. */
static void verify(verdict_t *v, const char *what)
{
    if (!region_guards_intact(&H.r)) {
        flag(v, V_OUTSIDE, "%s: a guard zone around the arena was written", what);
    }
    uintptr_t lo_ok = (uintptr_t)H.r.arena + H.first;
    uintptr_t hi_ok = (uintptr_t)H.r.arena + H.end;
    for (size_t i = 0; i < H.nblk; i++) {
        const block_t *b = &H.blk[i];
        uintptr_t lo = (uintptr_t)b->p - BLK_HEAD;
        uintptr_t hi = (uintptr_t)b->p + b->n + BLK_TAIL;
        if (lo < lo_ok || hi > hi_ok || hi < lo) {
            flag(v, V_OVERLAP, "%s: block at arena%+ld (%zu bytes) leaves the heap [%u, %u)", what,
                 at_of(b->p), b->n, H.first, H.end);
        }
        for (size_t j = 0; j < i; j++) {
            const block_t *o = &H.blk[j];
            uintptr_t olo = (uintptr_t)o->p - BLK_HEAD;
            uintptr_t ohi = (uintptr_t)o->p + o->n + BLK_TAIL;
            if (lo < ohi && olo < hi) {
                flag(v, V_OVERLAP, "%s: block at arena%+ld (%zu bytes) overlaps the one at arena%+ld (%zu bytes)",
                     what, at_of(b->p), b->n, at_of(o->p), o->n);
            }
        }
        if (!b->zombie && lo >= lo_ok && hi <= hi_ok && !raw_equal(b->p, b->copy, b->n)) {
            flag(v, V_WRITTEN, "%s: the live block at arena%+ld (%zu bytes) changed", what, at_of(b->p), b->n);
        }
    }
}

/* ---- the calls ---------------------------------------------------------- */

typedef enum {
    OP_ALLOC,
    OP_REALLOC_NULL,
    OP_FREE,
    OP_REALLOC,
    OP_USABLE,
    OP_CHECK,
    OP_STAT,
    OP_STAT_REF,
    OP_PARSE,
    NB_OPS
} op_t;

static const char *const op_name[NB_OPS] = {
    "alloc", "realloc(NULL)", "free", "realloc", "usable_size", "check", "stat(ctx)", "stat(&ctx)", "parse",
};

typedef struct {
    /* NULL, false, 0, zeroed stats, no callback; free: wrote nothing but the state */
    bool refused;
    unsigned faults;     /* handler calls during the call */
    bool wrote;          /* any arena byte changed */
    bool wrote_more;     /* an arena byte other than the words every call may write changed (arena_compare) */
    const uint8_t *arg;  /* its pointer argument, or NULL */
} outcome_t;

typedef struct {
    uint32_t chunks, allocated;
} parse_count_t;

static bool count_chunk(void *data, uint8_t *addr, bool allocated, size_t size)
{
    (void)addr;
    (void)size;
    parse_count_t *c = data;
    c->chunks++;
    c->allocated += allocated;
    return false;
}

/* Statistics that a working heap gives: its size, its tracked blocks, and
 * lengths that tile the chunk area. */
static void stat_agrees(const mem_stat_t *st, verdict_t *v, const char *what)
{
    if (st->total_size != H.r.size || st->nb_allocated != H.nblk ||
        st->free_size + st->allocated_size != (size_t)(H.end - H.first) || st->nb_chunks < st->nb_allocated ||
        st->largest_free_size > st->free_size) {
        flag(v, V_WRONG,
             "%s: stat says total %zu, %u allocated (%zu tracked), %zu free + %zu allocated bytes (area %u), "
             "largest %zu",
             what, st->total_size, st->nb_allocated, H.nblk, st->free_size, st->allocated_size, H.end - H.first,
             st->largest_free_size);
    }
}

/* One call: op on block t (free, realloc, usable_size) or of n bytes
 * (alloc, realloc). Keeps the tracked blocks in step with what it did. */
static outcome_t op_run(op_t op, uint8_t *t, size_t n, verdict_t *v)
{
    outcome_t o;
    memset(&o, 0, sizeof o);
    static uint8_t snap[HEAP_SIZE];
    raw_read(snap, H.r.arena, H.r.size);
    fault_recorder_clear(&g_faults); /* g_faults: this call's faults only */
    block_t *tb = t != NULL ? block_of(t) : NULL;
    size_t old_n = tb != NULL ? tb->n : 0u;
    uint8_t *q = NULL;
    mem_stat_t st;
    parse_count_t pc = {0, 0};
    switch (op) {
    case OP_ALLOC:
        q = mem_alloc(H.ctx, n);
        o.refused = q == NULL;
        break;
    case OP_REALLOC_NULL:
        q = mem_realloc(H.ctx, NULL, n);
        o.refused = q == NULL;
        break;
    case OP_FREE:
        o.arg = t;
        mem_free(H.ctx, t);
        break;
    case OP_REALLOC:
        o.arg = t;
        q = mem_realloc(H.ctx, t, n);
        o.refused = q == NULL;
        break;
    case OP_USABLE: {
        o.arg = t;
        size_t u = mem_usable_size(H.ctx, t);
        o.refused = u == 0u;
        if (!o.refused && (HARDENED ? u != old_n : u < old_n)) {
            flag(v, V_WRONG, "usable_size says %zu for a block of %zu bytes", u, old_n);
        }
        break;
    }
    case OP_CHECK:
        o.refused = !mem_check(H.ctx);
        break;
    case OP_STAT:
    case OP_STAT_REF: {
        mem_ctx_t c = H.ctx;
        mem_stat(op == OP_STAT ? (mem_ctx_t *)H.ctx : &c, &st);
        mem_stat_t zero;
        memset(&zero, 0, sizeof zero);
        o.refused = memcmp(&st, &zero, sizeof st) == 0;
        break;
    }
    case OP_PARSE:
        mem_parse(H.ctx, count_chunk, &pc);
        o.refused = pc.chunks == 0u;
        break;
    case NB_OPS:
        break;
    }
    o.faults = g_faults.calls;
    arena_compare(snap, &o.wrote, &o.wrote_more);
    if (op == OP_FREE) {
        o.refused = !o.wrote_more;
    }

    /* Bring the tracking in step. */
    if ((op == OP_ALLOC || op == OP_REALLOC_NULL) && q != NULL) {
        block_add(q, n, 0, v);
    } else if (op == OP_FREE && tb != NULL) {
        if (o.faults == 0u && !o.refused) {
            block_drop(tb);
        } else {
            tb->zombie = true;
        }
    } else if (op == OP_REALLOC && tb != NULL) {
        if (q != NULL) {
            size_t kept = old_n < n ? old_n : n;
            bool intact = tb->zombie || raw_equal(q, tb->copy, kept);
            if (!intact) {
                flag(v, V_WRITTEN, "realloc to %zu lost the block's first %zu bytes", n, kept);
            }
            block_drop(tb);
            block_add(q, n, kept, v);
            block_t *nb = block_of(q);
            if (!intact && nb != NULL) {
                nb->zombie = true;
            }
        } else if (o.faults != 0u) {
            tb->zombie = true; /* a fault midway: what it moved is moot */
        }
    } else if (op == OP_USABLE || op == OP_CHECK || op == OP_STAT || op == OP_STAT_REF || op == OP_PARSE) {
        if (o.wrote_more) {
            flag(v, V_WRONG, "%s wrote into the arena beyond the failed state", op_name[op]);
        }
        if ((op == OP_STAT || op == OP_STAT_REF) && !o.refused && o.faults == 0u) {
            stat_agrees(&st, v, op_name[op]);
        }
        if (op == OP_PARSE && !o.refused && o.faults == 0u && pc.allocated != H.nblk) {
            flag(v, V_WRONG, "parse saw %u allocated chunks, %zu tracked", pc.allocated, H.nblk);
        }
    }
    if (o.faults != 0u && v->first == MEM_FAULT_NONE) {
        v->first = g_faults.fault[0];
    }
    v->faults += o.faults;
    verify(v, op_name[op]);
    return o;
}

/* The heap failed closed: the call refused, reported `code` once to the
 * registered handler about the heap (address: the heap, or the call's
 * pointer), and wrote nothing at all. */
static void expect_refusal(verdict_t *v, op_t op, const outcome_t *o, mem_fault_t code, const char *when)
{
    bool addr_ok = g_faults.last_addr == H.ctx || (o->arg != NULL && g_faults.last_addr == o->arg);
    if (!o->refused || o->faults != 1u || o->wrote || g_faults.last != code || g_faults.last_ctx != H.ctx ||
        g_faults.last_user != USER || !addr_ok) {
        flag(v, V_OPEN,
             "%s %s: refused %d, %u fault(s), last %s at ctx%+ld user %s, wrote %d; expected one %s",
             when, op_name[op], o->refused, o->faults, code_name(g_faults.last),
             at_of(g_faults.last_addr),
             g_faults.last_user == USER ? "ok" : "WRONG", o->wrote, code_name(code));
    }
}

/* Every call on a failed heap refuses and reports `code` again, and the
 * setters neither succeed nor replace the registered handler. */
static void expect_fail_closed(verdict_t *v, mem_fault_t code, uint8_t *t)
{
    for (unsigned op = 0; op < NB_OPS; op++) {
        outcome_t o = op_run((op_t)op, t, 100, v);
        expect_refusal(v, (op_t)op, &o, code, "then");
    }
    if (mem_last_fault(H.ctx) != code) {
        flag(v, V_OPEN, "mem_last_fault says %s, expected %s", code_name(mem_last_fault(H.ctx)), code_name(code));
    }
    unsigned calls = g_faults.calls;
    if (mem_set_fault_handler(H.ctx, record_fault, &g_other_cookie)) {
        flag(v, V_OPEN, "mem_set_fault_handler accepted on a failed heap");
    }
    if (PARANOID && mem_set_check_interval(H.ctx, 1u)) {
        flag(v, V_OPEN, "mem_set_check_interval accepted on a failed heap");
    }
    if (g_faults.calls != calls) {
        flag(v, V_WRONG, "a setter called the handler");
    }
    outcome_t o = op_run(OP_ALLOC, NULL, 16, v);
    expect_refusal(v, OP_ALLOC, &o, code, "after the setters");
}

/* ---- the scene: live and free blocks at the start of the chunk area ---- */

/* a, c and e live; b and d free, of one length, so they share a list and
 * link to each other; then the rest of the heap, free. On 8 KiB the context
 * takes some 340 bytes and a..d the next 160 (test_blind_corruption checks
 * that they end within the first 512): the blind sweep hits every kind of
 * word there is (context words, bitmap, list heads, headers, links,
 * canaries, boundary tags, slack, live and free payloads). */
typedef struct {
    uint8_t *a, *b, *c, *d, *e;
} scene_t;

static scene_t S;

static bool scene_build(verdict_t *v)
{
    memset(&S, 0, sizeof S);
    S.a = heap_alloc(20, v);
    S.b = heap_alloc(36, v);
    S.c = heap_alloc(13, v);
    S.d = heap_alloc(36, v);
    S.e = heap_alloc(50, v);
    if (S.e == NULL) {
        return false;
    }
    (void)op_run(OP_FREE, S.b, 0, v);
    (void)op_run(OP_FREE, S.d, 0, v);
    if (v->faults != 0u || verdict_bad(v) || block_of(S.b) != NULL || block_of(S.d) != NULL) {
        flag(v, V_SETUP, "the scene did not build cleanly");
        return false;
    }
    v->first = MEM_FAULT_NONE;
    v->faults = 0;
    return true;
}

/* ---- 1. every context word ---------------------------------------------- */

/* Names of the words every layout since hardening v2 has; any other word
 * is named by its index (the layout is heap_internal.h's, whatever it is). */
static const char *const word_names[CTX_WORDS] = {
    [W_ID] = "W_ID",
    [W_ID2] = "W_ID2",
    [W_END] = "W_END",
    [W_SCRATCH] = "W_SCRATCH",
    [W_TOTAL] = "W_TOTAL",
    [W_FIRST] = "W_FIRST",
    [W_NONCE] = "W_NONCE",
    [W_NONCE + 1] = "W_NONCE+1",
    [W_STATE] = "W_STATE",
    [W_CHECK_EVERY] = "W_CHECK_EVERY",
    [W_OPS] = "W_OPS",
    [W_CTX_CHECK] = "W_CTX_CHECK",
};

static void word_name(unsigned w, char *out, size_t cap)
{
    if (w < CTX_WORDS && word_names[w] != NULL) {
        snprintf(out, cap, "%s", word_names[w]);
    } else {
        snprintf(out, cap, "context word %u", w);
    }
}

#define NB_CTX_PATTERNS 6u
static const char *const ctx_pattern_name[NB_CTX_PATTERNS] = {
    "0", "~0", "0x41414141", "bit 0 flipped", "bit 13 flipped", "bit 31 flipped",
};

static uint32_t ctx_pattern(unsigned pat, uint32_t old)
{
    switch (pat) {
    case 0: return 0u;
    case 1: return ~0u;
    case 2: return 0x41414141u;
    case 3: return old ^ 1u;
    case 4: return old ^ (1u << 13);
    default: return old ^ (1u << 31);
    }
}

typedef struct {
    unsigned word, pattern;
    op_t op;
} ctx_case_t;
_Static_assert(sizeof(ctx_case_t) <= ARG_BYTES, "a case argument fits the sweep runner");

static void ctx_case(const void *arg, verdict_t *v)
{
    const ctx_case_t *c = arg;
    if (!heap_fresh(v) || !scene_build(v)) {
        return;
    }
    uint8_t *w = ctx_word(H.ctx, c->word);
    uint32_t old = raw_get32(w);
    uint32_t val = ctx_pattern(c->pattern, old);
    if (val == old) {
        v->skipped = true;
        return;
    }
    raw_put32(w, val);
    outcome_t o = op_run(c->op, S.a, 100, v);
    if (o.faults == 0u) {
        /* Whether the damage is found later at all tells a check that comes
         * late from one that is missing. */
        fault_recorder_clear(&g_faults);
        bool passes = mem_check(H.ctx);
        flag(v, o.refused ? V_SILENT : V_MISSED, "%s %s, no fault (%s)", op_name[c->op],
             o.refused ? "refused" : "went through",
             passes ? "never reported: mem_check passes too"
             : g_faults.calls == 1u && g_faults.last == MEM_FAULT_CORRUPT_CONTEXT ? "a mem_check after it reports it"
                                                                                : "a mem_check after it fails");
        return;
    }
    if (o.faults != 1u || g_faults.fault[0] != MEM_FAULT_CORRUPT_CONTEXT || g_faults.ctx[0] != H.ctx ||
        g_faults.addr[0] != H.ctx || g_faults.user[0] != USER || !o.refused || o.wrote_more) {
        flag(v, V_WRONG, "%s: %u fault(s), first %s at ctx%+ld (user %s), refused %d, wrote more than the state %d",
             op_name[c->op], o.faults, code_name(g_faults.fault[0]),
             at_of(g_faults.addr[0]), g_faults.user[0] == USER ? "ok" : "WRONG",
             o.refused, o.wrote_more);
    }
    expect_fail_closed(v, MEM_FAULT_CORRUPT_CONTEXT, S.c);
}

static bool ctx_describe(size_t i, void *arg, char *label, size_t cap)
{
    ctx_case_t c = {(unsigned)(i / (NB_OPS * NB_CTX_PATTERNS)), (unsigned)(i / NB_OPS % NB_CTX_PATTERNS),
                    (op_t)(i % NB_OPS)};
    memcpy(arg, &c, sizeof c);
    char name[32];
    word_name(c.word, name, sizeof name);
    snprintf(label, cap, "%s := %s, then %s", name, ctx_pattern_name[c.pattern], op_name[c.op]);
    return true;
}

/* At off no call checks the context (mem_check only its bounds): off is
 * required only to stay in the arena; the test prints what it detects. */
static void test_context_words(void **state)
{
    (void)state;
    const sweep_t sw = {"context words x patterns x calls", ctx_case, ctx_describe,
                        CTX_WORDS * NB_CTX_PATTERNS * NB_OPS, NB_OPS};
    tally_t t;
    run_sweep(&sw, &t);
    assert_int_equal(t.cases, CTX_WORDS * NB_CTX_PATTERNS * NB_OPS);
    assert_int_equal(t.bad[V_SETUP], 0);
    if (HARDENED) {
        assert_int_equal(t.failing, 0);
        assert_int_equal(t.by_code[MEM_FAULT_CORRUPT_CONTEXT], t.cases - t.skipped);
    } else {
        /* off trusts the context, but in this scene no damaged word leads
         * its calls out of the arena. */
        assert_int_equal(t.bad[V_CRASH], 0);
        assert_int_equal(t.bad[V_OUTSIDE], 0);
    }
}

/* ---- 2. blind corruption of the first 512 bytes ------------------------- */

#define NB_BLIND_PATTERNS 4u
static const char *const blind_pattern_name[NB_BLIND_PATTERNS] = {"0", "~0", "0x41414141", "one bit flipped"};

/* The flipped bit moves with the word (bit (offset / 4) % 32), so that
 * the flag bits and the high bits of lengths and links are all hit. */
static uint32_t blind_pattern(unsigned pat, uint32_t at, uint32_t old)
{
    switch (pat) {
    case 0: return 0u;
    case 1: return ~0u;
    case 2: return 0x41414141u;
    default: return old ^ (1u << ((at / 4u) % 32u));
    }
}

typedef struct {
    uint32_t at;
    unsigned pattern;
} blind_case_t;
_Static_assert(sizeof(blind_case_t) <= ARG_BYTES, "a case argument fits the sweep runner");

typedef struct {
    op_t op;
    int target; /* 0: none, 'a', 'c' */
    size_t n;
} step_t;

/* alloc takes d back from the 48-byte list, free(a) merges a with b,
 * realloc(c) slides c down into a+b; then the walks. */
static const step_t blind_steps[] = {
    {OP_ALLOC, 0, 36}, {OP_FREE, 'a', 0}, {OP_REALLOC, 'c', 53}, {OP_STAT, 0, 0}, {OP_CHECK, 0, 0},
};

/* The heap works and all of it comes back: every block frees without a
 * fault, mem_check passes and the heap is one free chunk again. */
static void expect_fully_working(verdict_t *v)
{
    while (H.nblk > 0u) {
        block_t *b = &H.blk[H.nblk - 1u];
        if (b->zombie) {
            flag(v, V_WRONG, "a block the app gave up is still tracked on a heap without faults");
            return;
        }
        outcome_t o = op_run(OP_FREE, b->p, 0, v);
        if (o.faults != 0u || o.refused) {
            flag(v, V_WRONG, "mem_check passed, but a later free %s", o.faults != 0u ? "faulted" : "refused");
            return;
        }
    }
    fault_recorder_clear(&g_faults);
    mem_stat_t st;
    mem_stat(H.ctx, &st);
    bool whole = st.nb_chunks == 1u && st.nb_allocated == 0u && st.free_size == H.end - H.first;
    if (!mem_check(H.ctx) || g_faults.calls != 0u || !whole) {
        flag(v, V_WRONG, "mem_check passed, but after freeing every block: %u chunks, %zu free bytes (area %u), "
                         "%u fault(s)",
             st.nb_chunks, st.free_size, H.end - H.first, g_faults.calls);
    }
}

static void blind_case(const void *arg, verdict_t *v)
{
    const blind_case_t *c = arg;
    if (!heap_fresh(v) || !scene_build(v)) {
        return;
    }
    uint8_t *w = H.r.arena + c->at;
    uint32_t old = raw_get32(w);
    uint32_t val = blind_pattern(c->pattern, c->at, old);
    v->noop = val == old;
    raw_put32(w, val);
    blocks_resnap(); /* a write into a live block is the app's own data */
    bool check_passed = false;
    bool corrupted = false; /* a corruption fault was reported: the heap failed */
    for (size_t i = 0; i < sizeof blind_steps / sizeof blind_steps[0]; i++) {
        const step_t *s = &blind_steps[i];
        uint8_t *t = s->target == 'a' ? S.a : s->target == 'c' ? S.c : NULL;
        /* (mem_last_fault alone would not do: it answers CORRUPT_CONTEXT
         * for a damaged context before any call met the damage.) */
        mem_fault_t failed = corrupted ? mem_last_fault(H.ctx) : MEM_FAULT_NONE;
        unsigned before = v->faults;
        const block_t *tb = t != NULL ? block_of(t) : NULL;
        if (tb != NULL && tb->zombie) {
            t = NULL; /* given up by an earlier call that faulted */
        }
        if (s->target != 0 && t == NULL) {
            continue;
        }
        outcome_t o = op_run(s->op, t, s->n, v);
        for (unsigned f = 0; f < g_faults.calls && f < FAULT_LOG_MAX; f++) {
            corrupted = corrupted || (g_faults.fault[f] != MEM_FAULT_DOUBLE_FREE &&
                                      g_faults.fault[f] != MEM_FAULT_INVALID_POINTER);
        }
        if (failed != MEM_FAULT_NONE) {
            expect_refusal(v, s->op, &o, failed, "after the first fault,");
        } else if (o.refused && before + o.faults == 0u) {
            flag(v, V_SILENT, "%s refused, no fault reported", op_name[s->op]);
        }
        if (s->op == OP_CHECK) {
            check_passed = !o.refused;
            if (o.refused && o.faults == 0u) {
                flag(v, V_SILENT, "mem_check failed without a fault");
            }
        }
    }
    mem_fault_t failed = mem_last_fault(H.ctx);
    if (check_passed && v->faults == 0u) {
        expect_fully_working(v);
    } else if (check_passed) {
        /* A misuse was reported (the heap did not fail): it must still work. */
        outcome_t o = op_run(OP_ALLOC, NULL, 16, v);
        if (o.refused) {
            flag(v, V_SILENT, "after a misuse report mem_check passed, but alloc refused");
        }
    } else if (failed == MEM_FAULT_NONE) {
        flag(v, V_WRONG, "mem_check failed, but the heap did not fail closed");
    } else {
        outcome_t o = op_run(OP_ALLOC, NULL, 16, v);
        expect_refusal(v, OP_ALLOC, &o, failed, "at the end,");
    }
}

static bool blind_describe(size_t i, void *arg, char *label, size_t cap)
{
    blind_case_t c = {(uint32_t)(i / NB_BLIND_PATTERNS * 4u), (unsigned)(i % NB_BLIND_PATTERNS)};
    memcpy(arg, &c, sizeof c);
    snprintf(label, cap, "arena+%u := %s", c.at, blind_pattern_name[c.pattern]);
    return true;
}

/* off follows corrupted lengths, links and context words: a blind write may
 * send it anywhere (README: off trusts metadata), so it only reports. */
static void test_blind_corruption(void **state)
{
    (void)state;
    verdict_t setup;
    memset(&setup, 0, sizeof setup);
    assert_true(heap_fresh(&setup) && scene_build(&setup));
    /* Chunk offsets: a payload starts 8 bytes into its chunk at every level. */
    uint32_t d_end = (uint32_t)at_of(S.d) - 8u + chunk_len_of(S.d);
    printf("%s scene: context [0, %u), chunks a %ld, b %ld (free), c %ld, d %ld (free), d ends at %u\n", LEVEL_NAME,
           H.first, at_of(S.a) - 8, at_of(S.b) - 8, at_of(S.c) - 8, at_of(S.d) - 8, d_end);
    assert_true(d_end <= BLIND_BYTES);
    const sweep_t sw = {"blind corruption of the first 512 bytes, then alloc/free/realloc/stat/check", blind_case,
                        blind_describe, BLIND_BYTES / 4u * NB_BLIND_PATTERNS, 0};
    tally_t t;
    run_sweep(&sw, &t);
    assert_int_equal(t.cases, BLIND_BYTES);
    assert_int_equal(t.bad[V_SETUP], 0);
    if (HARDENED) {
        assert_int_equal(t.failing, 0);
    }
}

/* ---- 3. overflows past the exact request -------------------------------- */

typedef struct {
    uint32_t n, k;
    op_t op;
    bool next_free; /* the chunk after the block is free (else live) */
} ovf_case_t;
_Static_assert(sizeof(ovf_case_t) <= ARG_BYTES, "a case argument fits the sweep runner");

static void ovf_case(const void *arg, verdict_t *v)
{
    const ovf_case_t *c = arg;
    if (!heap_fresh(v)) {
        return;
    }
    uint8_t *x = heap_alloc(16, v);
    uint8_t *p = heap_alloc(c->n, v);
    uint8_t *y = heap_alloc(16, v);
    if (x == NULL || p == NULL || heap_alloc(16, v) == NULL) {
        return;
    }
    if (c->next_free) {
        (void)op_run(OP_FREE, y, 0, v);
    }
    size_t usable = mem_usable_size(H.ctx, p);
    if (v->faults != 0u || verdict_bad(v) || usable < c->n) {
        flag(v, V_SETUP, "the scene did not build cleanly");
        return;
    }
    v->faults = 0;
    /* k bytes past the request, each changed (complemented). */
    raw_flip(p + c->n, c->k);
    blocks_resnap(); /* off: 8 bytes past a request can reach the next payload */
    /* realloc grows, or shrinks a block too large to have room to grow. */
    size_t resize = c->n <= HEAP_SIZE / 4u ? c->n + 8u : c->n - 8u;
    outcome_t o = op_run(c->op, p, resize, v);
    if (!HARDENED) {
        /* off has no canary: an overflow within the usable size goes unseen;
         * one that reaches the next chunk's length word sets its bit 2
         * (always zero) and PREV_FREE, which the boundary tags refuse. */
        bool reaches = c->n + c->k > usable;
        if (reaches && (o.faults != 1u || g_faults.fault[0] != MEM_FAULT_CORRUPT_HEADER || !o.refused)) {
            flag(v, V_MISSED, "off: %s of an overflow into the next length word: %u fault(s), first %s, refused %d",
                 op_name[c->op], o.faults, code_name(g_faults.fault[0]), o.refused);
        } else if (!reaches && (o.faults != 0u || (c->op != OP_FREE && o.refused))) {
            flag(v, V_WRONG, "off: %s of an overflow within the usable size: %u fault(s), first %s, refused %d",
                 op_name[c->op], o.faults, code_name(g_faults.fault[0]), o.refused);
        }
        return;
    }
    if (o.faults == 0u) {
        flag(v, o.refused ? V_SILENT : V_MISSED, "%s %s, no fault", op_name[c->op],
             o.refused ? "refused" : "went through");
        return;
    }
    if (o.faults != 1u || g_faults.fault[0] != MEM_FAULT_OVERFLOW || g_faults.ctx[0] != H.ctx ||
        g_faults.addr[0] != p || g_faults.user[0] != USER || !o.refused || o.wrote_more) {
        flag(v, V_WRONG,
             "%s: %u fault(s), first %s at ctx%+ld (block at ctx%+ld), refused %d, wrote more than the state %d",
             op_name[c->op], o.faults, code_name(g_faults.fault[0]),
             at_of(g_faults.addr[0]), at_of(p), o.refused,
             o.wrote_more);
    }
    outcome_t o2 = op_run(OP_ALLOC, NULL, 16, v);
    expect_refusal(v, OP_ALLOC, &o2, MEM_FAULT_OVERFLOW, "then");
    o2 = op_run(OP_FREE, x, 0, v);
    expect_refusal(v, OP_FREE, &o2, MEM_FAULT_OVERFLOW, "then");
    if (mem_last_fault(H.ctx) != MEM_FAULT_OVERFLOW) {
        flag(v, V_OPEN, "mem_last_fault says %s", code_name(mem_last_fault(H.ctx)));
    }
}

static const op_t ovf_ops[] = {OP_FREE, OP_CHECK, OP_REALLOC};
#define NB_OVF_OPS (sizeof ovf_ops / sizeof ovf_ops[0])

/* Every level: no violation. Hardened, every case is an OVERFLOW; off
 * (ovf_case) reports CORRUPT_HEADER exactly for the overflows that reach
 * the next chunk's length word and sees nothing of the others. */
static void assert_overflow_tally(const tally_t *t, size_t cases)
{
    assert_int_equal(t->cases, cases);
    assert_int_equal(t->failing, 0);
    if (HARDENED) {
        assert_int_equal(t->by_code[MEM_FAULT_OVERFLOW], cases);
    }
}

static bool ovf64_describe(size_t i, void *arg, char *label, size_t cap)
{
    ovf_case_t c = {(uint32_t)(i / (8u * NB_OVF_OPS * 2u)) + 1u, (uint32_t)(i / (NB_OVF_OPS * 2u) % 8u) + 1u,
                    ovf_ops[i / 2u % NB_OVF_OPS], i % 2u != 0u};
    memcpy(arg, &c, sizeof c);
    snprintf(label, cap, "n=%u, %u byte(s) past, next chunk %s, then %s", c.n, c.k, c.next_free ? "free" : "live",
             op_name[c.op]);
    return true;
}

static void test_overflow_1_to_64(void **state)
{
    (void)state;
    const sweep_t sw = {"overflow of 1..8 bytes past each request 1..64, then free/check/realloc", ovf_case,
                        ovf64_describe, 64u * 8u * NB_OVF_OPS * 2u, 0};
    tally_t t;
    run_sweep(&sw, &t);
    assert_overflow_tally(&t, sw.count);
}

static unsigned g_stride = 1u;

static unsigned sweep_stride(void)
{
    const char *env = getenv("HARDALLOC_SWEEP_STRIDE");
    unsigned long s = env != NULL ? strtoul(env, NULL, 10) : 1u;
    return s == 0u ? 1u : (unsigned)s;
}

#define MAX_REQUEST_SWEPT 4096u

/* With a stride, the sizes next to each power of two still run. */
static bool size_swept(uint32_t n)
{
    bool edge = (n & (n - 1u)) == 0u || ((n + 1u) & n) == 0u;
    return g_stride <= 1u || n % g_stride == 0u || edge;
}

static bool ovf4096_describe(size_t i, void *arg, char *label, size_t cap)
{
    ovf_case_t c = {(uint32_t)(i / NB_OVF_OPS) + 1u, 1u, ovf_ops[i % NB_OVF_OPS], false};
    memcpy(arg, &c, sizeof c);
    snprintf(label, cap, "n=%u, 1 byte past, then %s", c.n, op_name[c.op]);
    return size_swept(c.n);
}

static void test_overflow_1_byte_every_size(void **state)
{
    (void)state;
    g_stride = sweep_stride();
    const sweep_t sw = {"1-byte overflow past each request 1..4096, then free/check/realloc", ovf_case,
                        ovf4096_describe, MAX_REQUEST_SWEPT * NB_OVF_OPS, 0};
    size_t cases = 0;
    for (uint32_t n = 1; n <= MAX_REQUEST_SWEPT; n++) {
        cases += size_swept(n) ? NB_OVF_OPS : 0u;
    }
    if (g_stride > 1u) {
        printf("(HARDALLOC_SWEEP_STRIDE: every %uth size and those next to a power of two)\n", g_stride);
    }
    tally_t t;
    run_sweep(&sw, &t);
    assert_overflow_tally(&t, cases);
}

/* ---- fixture and main --------------------------------------------------- */

static int region_setup(void **state)
{
    (void)state;
    memset(&H, 0, sizeof H);
    region_open(&H.r, HEAP_SIZE);
    return 0;
}

static int region_teardown(void **state)
{
    (void)state;
    blocks_clear();
    region_close(&H.r);
    return 0;
}

int main(void)
{
    /* The same keys on every run (the heap's address still goes in): a
     * failing case reruns as it failed. No case needs to know them. */
    mem_testing_pin_secret(UINT64_C(0x5357454550)); /* "SWEEP" */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_context_words, region_setup, region_teardown),
        cmocka_unit_test_setup_teardown(test_blind_corruption, region_setup, region_teardown),
        cmocka_unit_test_setup_teardown(test_overflow_1_to_64, region_setup, region_teardown),
        cmocka_unit_test_setup_teardown(test_overflow_1_byte_every_size, region_setup, region_teardown),
    };
    return cmocka_run_group_tests_name("sweeps_" LEVEL_NAME, tests, NULL, NULL);
}
