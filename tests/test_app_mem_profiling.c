/**
 * @file test_app_mem_profiling.c
 * @brief Unit tests of the memory-profiling log (profiling/FORMAT.md) written
 *        by the app wrappers built with HAVE_MEMORY_PROFILING: the exact line
 *        of every event, what is not logged (failed calls, and calls the heap
 *        refused: the fault goes to the app heap's handler, recorded here, and
 *        the log stays what the heap did), long file names, and the sinks;
 *        and faults that name their blocks: the sites the wrappers record
 *        (mem_utils_fault_sites), the log's `==MP!` fault lines, and the
 *        default handler's line with its note (checked in a child process).
 */

/* dup, dup2, fileno, fork, pipe (child_capture.h) */
#define _POSIX_C_SOURCE 200809L

#include "test_helpers.h"

#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <unistd.h>

#include "app_faults.h"
#include "app_mem_utils.h"
#include "child_capture.h"

#ifndef HAVE_MEMORY_PROFILING
#error "test_app_mem_profiling.c needs HAVE_MEMORY_PROFILING: link it with wrappers_profiling_dep"
#endif

#define APP_HEAP_SIZE (32u * 1024u)
#define LINE_MAX_LEN MEM_UTILS_LOG_LINE_MAX
#define CAP_LINES 64u

static uint64_t g_buf[APP_HEAP_SIZE / 8u];

/* What the capturing sink received. Each call is checked on arrival: one
 * whole line, ending in its only '\n', no NUL inside, at most LINE_MAX_LEN. */
typedef struct {
    size_t n;                            /* sink calls */
    char line[CAP_LINES][LINE_MAX_LEN + 1u]; /* the first CAP_LINES, NUL-terminated copies */
    size_t len[CAP_LINES];
    bool malformed;
    bool wrong_user;
} capture_t;

static capture_t g_cap;
static capture_t g_cap2;
static capture_t g_fcap; /* the `==MP! ` (fault) lines the sinks received */

#define FAULT_MARK "==MP! "

static void capture_into(capture_t *c, bool right_user, const char *line, size_t len)
{
    if (!right_user) {
        c->wrong_user = true;
    }
    if (len == 0u || len > LINE_MAX_LEN || line[len - 1u] != '\n' ||
        memchr(line, '\n', len - 1u) != NULL || memchr(line, '\0', len) != NULL) {
        c->malformed = true;
    } else if (c->n < CAP_LINES) {
        memcpy(c->line[c->n], line, len);
        c->line[c->n][len] = '\0';
        c->len[c->n] = len;
    }
    c->n++;
}

static bool is_fault_line(const char *line, size_t len)
{
    return len >= strlen(FAULT_MARK) && memcmp(line, FAULT_MARK, strlen(FAULT_MARK)) == 0;
}

/* Allocations, frees and inits in g_cap (the tests of those count them
 * exactly); fault lines apart, in g_fcap. */
static void capture_sink(void *user, const char *line, size_t len)
{
    capture_into(is_fault_line(line, len) ? &g_fcap : &g_cap, user == &g_cap, line, len);
}

static void capture_sink2(void *user, const char *line, size_t len)
{
    capture_into(is_fault_line(line, len) ? &g_fcap : &g_cap2, user == &g_cap2, line, len);
}

static void reset_capture(void)
{
    memset(&g_cap, 0, sizeof g_cap);
    memset(&g_cap2, 0, sizeof g_cap2);
    memset(&g_fcap, 0, sizeof g_fcap);
}

/* The app heap's fault handler in every test: record_fault
 * (fault_recorder.h), which records each fault into g_faults, checked with
 * app_faults.h. */

static int setup_logged_heap(void **state)
{
    (void)state;
    reset_capture();
    fault_recorder_clear(&g_faults);
    mem_utils_set_log_sink(capture_sink, &g_cap);
    if (!mem_utils_set_fault_handler(record_fault, &g_faults) ||
        !mem_utils_init(g_buf, sizeof g_buf) || g_cap.n != 1u) {
        return -1;
    }
    reset_capture();
    return 0;
}

/* A fault no test consumed fails the test. Re-initializing the heap drops
 * its blocks, so memcheck sees none of them leak. */
static int teardown_logged_heap(void **state)
{
    (void)state;
    bool quiet = no_fault(&g_faults);
    mem_utils_set_log_sink(capture_sink, &g_cap); /* the init line goes nowhere visible */
    bool ok = mem_utils_init(g_buf, sizeof g_buf) && mem_utils_set_fault_handler(NULL, NULL);
    mem_utils_set_log_sink(NULL, NULL);
    return ok && quiet ? 0 : -1;
}

/* Exactly n well-formed lines, each delivered in one sink call. */
static void expect_count(size_t n)
{
    assert_false(g_cap.malformed);
    assert_false(g_cap.wrong_user);
    assert_int_equal(g_cap.n, n);
    for (size_t i = 0; i < n && i < CAP_LINES; i++) {
        assert_int_equal(strlen(g_cap.line[i]), g_cap.len[i]);
    }
}

static void expect_line(size_t i, const char *want)
{
    assert_true(i < g_cap.n);
    assert_string_equal(g_cap.line[i], want);
}

static void expect_init(size_t i, const void *heap, size_t size)
{
    char want[2u * LINE_MAX_LEN];
    (void)snprintf(want, sizeof want, "==MP init;0x%" PRIxPTR ";%zu\n", (uintptr_t)heap, size);
    expect_line(i, want);
}

static void expect_alloc(size_t i, const char *kind, size_t size, const void *p, const char *file,
                         int line)
{
    char want[2u * LINE_MAX_LEN];
    (void)snprintf(want, sizeof want, "==MP %s;%zu;0x%" PRIxPTR ";%s:%d\n", kind, size,
                   (uintptr_t)p, file, line);
    expect_line(i, want);
}

static void expect_free(size_t i, const void *p, const char *file, int line)
{
    char want[2u * LINE_MAX_LEN];
    (void)snprintf(want, sizeof want, "==MP free;0x%" PRIxPTR ";%s:%d\n", (uintptr_t)p, file, line);
    expect_line(i, want);
}

/* ------------------------------------------------------------------------ */
/* init                                                                     */
/* ------------------------------------------------------------------------ */

static void test_init_line(void **state)
{
    (void)state;
    assert_true(mem_utils_init(g_buf, sizeof g_buf));
    uint8_t *bytes = (uint8_t *)g_buf;
    assert_true(mem_utils_init(bytes + 3, sizeof g_buf - 3u)); /* heap_start as given */
    expect_count(2);
    expect_init(0, g_buf, sizeof g_buf);
    expect_init(1, bytes + 3, sizeof g_buf - 3u);
    /* lowercase hexadecimal without padding */
    const char *hex = g_cap.line[1] + strlen("==MP init;0x");
    assert_true(hex[0] != '0');
    for (const char *c = hex; *c != ';'; c++) {
        assert_true((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'));
    }
}

static void test_failed_init_is_logged(void **state)
{
    (void)state;
    assert_false(mem_utils_init(NULL, 0));
    assert_false(mem_utils_init(g_buf, 10));
    assert_false(mem_utils_init(g_buf, MEM_MIN_HEAP_SIZE - 1u));
    expect_count(3);
    expect_line(0, "==MP init;0x0;0\n");
    expect_init(1, g_buf, 10);
    expect_init(2, g_buf, MEM_MIN_HEAP_SIZE - 1u);
}

/* ------------------------------------------------------------------------ */
/* alloc, persist, free                                                     */
/* ------------------------------------------------------------------------ */

static void test_alloc_and_free_lines(void **state)
{
    (void)state;
    int at_a = __LINE__; void *p = APP_MEM_ALLOC(24);
    assert_non_null(p);
    int at_f = __LINE__; APP_MEM_FREE(p);
    expect_count(2);
    expect_alloc(0, "alloc", 24, p, __FILE__, at_a);
    expect_free(1, p, __FILE__, at_f);
}

static void test_persist_lines(void **state)
{
    (void)state;
    void *a = NULL;
    void *b = NULL;
    int at_a = __LINE__; assert_true(APP_MEM_PERMANENT(&a, 100));
    int at_b = __LINE__; assert_true(mem_buffer_persistent(&b, 7));
    expect_count(2);
    expect_alloc(0, "persist", 100, a, __FILE__, at_a);
    expect_alloc(1, "persist", 7, b, __FILE__, at_b);
    assert_true(all_bytes(a, 100, 0));
    assert_true(all_bytes(b, 7, 0));
}

static void test_free_and_null_lines(void **state)
{
    (void)state;
    void *a = APP_MEM_ALLOC(16);
    void *b = APP_MEM_ALLOC(16);
    void *a_was = a;
    void *b_was = b;
    assert_non_null(a);
    assert_non_null(b);
    int at_a = __LINE__; APP_MEM_FREE_AND_NULL(&a);
    int at_b = __LINE__; mem_utils_buffer_cleanup(&b);
    mem_utils_buffer_cleanup(&b); /* already NULL: nothing */
    expect_count(4);
    expect_free(2, a_was, __FILE__, at_a);
    expect_free(3, b_was, __FILE__, at_b);
}

static void test_strdup_line(void **state)
{
    (void)state;
    int at = __LINE__; char *s = APP_MEM_STRDUP("hello");
    assert_non_null(s);
    int at_e = __LINE__; char *e = APP_MEM_STRDUP("");
    assert_non_null(e);
    expect_count(2);
    expect_alloc(0, "alloc", 6, s, __FILE__, at);
    expect_alloc(1, "alloc", 1, e, __FILE__, at_e);
}

static void test_calloc_lines(void **state)
{
    (void)state;
    void *p = NULL;
    int at1 = __LINE__; assert_true(APP_MEM_CALLOC(&p, 32));
    void *first = p;
    int at2 = __LINE__; assert_true(APP_MEM_CALLOC(&p, 64));
    void *second = p;
    int at3 = __LINE__; assert_true(APP_MEM_CALLOC(&p, 0));
    assert_null(p);
    assert_true(APP_MEM_CALLOC(&p, 0)); /* nothing held, nothing to log */
    expect_count(4);
    expect_alloc(0, "alloc", 32, first, __FILE__, at1);
    expect_free(1, first, __FILE__, at2); /* the held buffer first */
    expect_alloc(2, "alloc", 64, second, __FILE__, at2);
    expect_free(3, second, __FILE__, at3);
}

static void test_realloc_lines(void **state)
{
    (void)state;
    int at1 = __LINE__; void *p = APP_MEM_REALLOC(NULL, 40);
    assert_non_null(p);
    void *barrier = APP_MEM_ALLOC(40); /* growing p must move it */
    assert_non_null(barrier);
    int at2 = __LINE__; void *moved = APP_MEM_REALLOC(p, 400);
    assert_non_null(moved);
    assert_ptr_not_equal(moved, p);
    int at3 = __LINE__; void *shrunk = APP_MEM_REALLOC(moved, 100);
    assert_ptr_equal(shrunk, moved);
    int at4 = __LINE__; assert_null(APP_MEM_REALLOC(shrunk, 0));
    expect_count(7);
    expect_alloc(0, "alloc", 40, p, __FILE__, at1);
    /* line 1: the barrier */
    expect_free(2, p, __FILE__, at2);
    expect_alloc(3, "alloc", 400, moved, __FILE__, at2);
    expect_free(4, moved, __FILE__, at3);
    expect_alloc(5, "alloc", 100, shrunk, __FILE__, at3);
    expect_free(6, shrunk, __FILE__, at4);
}

static void test_failures_log_nothing(void **state)
{
    (void)state;
    void *local = NULL; /* what the failed calls below are given to fill */
    void *p = APP_MEM_ALLOC(64);
    void *gone = APP_MEM_ALLOC(64);
    assert_non_null(p);
    assert_non_null(gone);
    APP_MEM_FREE(gone);
    static char too_long[APP_HEAP_SIZE + 1u];
    memset(too_long, 'x', APP_HEAP_SIZE);
    reset_capture();

    assert_null(APP_MEM_ALLOC(0));
    assert_null(APP_MEM_ALLOC(SIZE_MAX));
    assert_null(APP_MEM_ALLOC(sizeof g_buf));
    assert_null(APP_MEM_REALLOC(p, SIZE_MAX));
    assert_null(APP_MEM_REALLOC(p, sizeof g_buf));
    assert_null(APP_MEM_REALLOC(NULL, 0));
    assert_null(APP_MEM_STRDUP(NULL));
    assert_null(APP_MEM_STRDUP(too_long));
    void *q = NULL;
    assert_false(APP_MEM_CALLOC(NULL, 16));
    assert_false(APP_MEM_CALLOC(&local, SIZE_MAX));
    assert_false(APP_MEM_PERMANENT(&local, sizeof g_buf));
    assert_false(mem_buffer_persistent(&local, SIZE_MAX));
    APP_MEM_FREE(NULL);
    APP_MEM_FREE_AND_NULL(NULL);
    APP_MEM_FREE_AND_NULL(&q);
    expect_count(0);
    expect_faults(0);
    assert_null(local); /* a failed call leaves the caller's pointer NULL */
    APP_MEM_FREE(p);
    expect_count(1);

    /* a failed calloc on a held buffer logs only the free that did happen */
    q = APP_MEM_ALLOC(64);
    assert_non_null(q);
    reset_capture();
    void *held = q;
    int at = __LINE__; assert_false(APP_MEM_CALLOC(&held, SIZE_MAX));
    assert_null(held);
    expect_count(1);
    expect_free(0, q, __FILE__, at);
}

/* ------------------------------------------------------------------------ */
/* Calls the heap refused: reported to the handler, absent from the log     */
/* ------------------------------------------------------------------------ */

/* A refused free is not a free: a `free` line for it would make an analyzer
 * release a block that is not live (or still is) and miscount live bytes. */
static void test_refused_free_logs_nothing(void **state)
{
    (void)state;
    uint64_t local = 0;
    void *a = APP_MEM_ALLOC(40);
    void *b = APP_MEM_ALLOC(40);
    void *c = APP_MEM_ALLOC(40);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    APP_MEM_FREE(b);
    reset_capture();

    APP_MEM_FREE(&local);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    APP_MEM_FREE(b);
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, b);
    APP_MEM_FREE((uint8_t *)a + 1);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, (uint8_t *)a + 1);
    APP_MEM_FREE((uint8_t *)c + 8);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, (uint8_t *)c + 8);
    mem_utils_free(&local, "f.c", 1);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    void *held = b;
    APP_MEM_FREE_AND_NULL(&held);
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, b);
    assert_null(held);
    expect_count(0);

    /* done frees around refused ones are logged as ever */
    int at_a = __LINE__; APP_MEM_FREE(a);
    APP_MEM_FREE(a); /* merged with b's free chunk: still a double free */
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, a);
    int at_c = __LINE__; APP_MEM_FREE(c);
    expect_count(2);
    expect_free(0, a, __FILE__, at_a);
    expect_free(1, c, __FILE__, at_c);
}

static void test_refused_realloc_logs_nothing(void **state)
{
    (void)state;
    uint64_t local = 0;
    void *p = APP_MEM_ALLOC(64);
    void *gone = APP_MEM_ALLOC(64);
    assert_non_null(p);
    assert_non_null(gone);
    APP_MEM_FREE(gone);
    reset_capture();

    assert_null(APP_MEM_REALLOC(&local, 16));
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_null(APP_MEM_REALLOC(&local, 0));
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_null(APP_MEM_REALLOC(gone, 128));
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, gone);
    assert_null(APP_MEM_REALLOC(gone, 0));
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, gone);
    assert_null(APP_MEM_REALLOC((uint8_t *)p + 16, 8));
    expect_one_fault(MEM_FAULT_INVALID_POINTER, (uint8_t *)p + 16);
    expect_count(0);

    int at = __LINE__; void *q = APP_MEM_REALLOC(p, 128);
    assert_non_null(q);
    expect_faults(0);
    expect_count(2);
    expect_free(0, p, __FILE__, at);
    expect_alloc(1, "alloc", 128, q, __FILE__, at);
}

/* APP_MEM_CALLOC on a held pointer the heap refuses: false, nothing
 * allocated, nothing logged (neither the refused free nor an alloc). */
static void test_refused_calloc_logs_nothing(void **state)
{
    (void)state;
    uint64_t local = 0;
    void *gone = APP_MEM_ALLOC(32);
    assert_non_null(gone);
    APP_MEM_FREE(gone);
    reset_capture();

    void *held = &local;
    assert_false(APP_MEM_CALLOC(&held, 32));
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_null(held);
    held = gone;
    assert_false(APP_MEM_PERMANENT(&held, 32));
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, gone);
    assert_null(held);
    held = &local;
    assert_false(mem_buffer_persistent(&held, 0));
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_null(held);
    expect_count(0);
    assert_int_equal(get_stat(mem_utils_context()).nb_allocated, 0);
}

/* A handler that longjmps out of a refused free: nothing logged, and the
 * calls after it are logged (or not) exactly as ever. */
static void test_longjmp_out_of_refused_free(void **state)
{
    (void)state;
    uint64_t local = 0;
    fault_recorder_arm(&g_faults);
    if (setjmp(g_faults.escape) == 0) {
        APP_MEM_FREE(&local);
        fail_msg("the handler did not longjmp");
    }
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    expect_count(0);
    int at_a = __LINE__; void *p = APP_MEM_ALLOC(16);
    APP_MEM_FREE(&local);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    int at_f = __LINE__; APP_MEM_FREE(p);
    expect_count(2);
    expect_alloc(0, "alloc", 16, p, __FILE__, at_a);
    expect_free(1, p, __FILE__, at_f);
}

#if MEM_HARDENING > 0
/* A free refused for an overwritten canary: the block stays live in the log
 * (the heap kept it), and the failed heap logs nothing more until re-init. */
static void test_overflow_free_logs_nothing(void **state)
{
    (void)state;
    int at = __LINE__; uint8_t *p = APP_MEM_ALLOC(40);
    assert_non_null(p);
    /* the first byte past the 40 requested, the canary (raw_access.h: unseen
     * by ASan, for which it is poisoned, and memcheck, for which no-access) */
    assert_int_equal(mem_usable_size(mem_utils_context(), p), 40u);
    raw_flip(p + 40, 1);
    APP_MEM_FREE(p);
    expect_one_fault(MEM_FAULT_OVERFLOW, p);
    assert_null(APP_MEM_ALLOC(8));
    expect_one_fault(MEM_FAULT_OVERFLOW, mem_utils_context());
    assert_null(APP_MEM_STRDUP("x"));
    expect_one_fault(MEM_FAULT_OVERFLOW, mem_utils_context());
    expect_count(1);
    expect_alloc(0, "alloc", 40, p, __FILE__, at);

    assert_true(mem_utils_init(g_buf, sizeof g_buf));
    int at_q = __LINE__; void *q = APP_MEM_ALLOC(8);
    assert_non_null(q);
    expect_faults(0);
    expect_count(3);
    expect_init(1, g_buf, sizeof g_buf);
    expect_alloc(2, "alloc", 8, q, __FILE__, at_q);
}
#endif

static void test_explicit_site(void **state)
{
    (void)state;
    void *a = mem_utils_alloc(16, false, "f.c", 1);
    void *b = mem_utils_alloc(8, true, NULL, 0);
    char *s = mem_utils_strdup("ab", "dir/g.c", 2);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(s);
    mem_utils_free(a, NULL, 0);
    mem_utils_free(s, "h;i:j.c", 3);
    expect_count(5);
    expect_alloc(0, "alloc", 16, a, "f.c", 1);
    expect_alloc(1, "persist", 8, b, "?", 0);
    expect_alloc(2, "alloc", 3, s, "dir/g.c", 2);
    expect_free(3, a, "?", 0);
    expect_free(4, s, "h;i:j.c", 3);
}

static void test_one_call_per_line(void **state)
{
    (void)state;
    enum { N = 20 };
    void *p[N];
    for (size_t i = 0; i < N; i++) {
        p[i] = APP_MEM_ALLOC(8u * (i + 1u));
        assert_non_null(p[i]);
    }
    for (size_t i = 0; i < N; i += 2u) {
        p[i] = APP_MEM_REALLOC(p[i], 300);
        assert_non_null(p[i]);
    }
    for (size_t i = 0; i < N; i++) {
        APP_MEM_FREE(p[i]);
    }
    expect_count(N + N + N); /* N allocs, N / 2 reallocs of two lines, N frees */
    for (size_t i = 0; i < 3u * N; i++) {
        assert_true(strncmp(g_cap.line[i], "==MP ", 5) == 0);
        assert_true(g_cap.len[i] <= LINE_MAX_LEN);
    }
}

/* ------------------------------------------------------------------------ */
/* Long file names                                                          */
/* ------------------------------------------------------------------------ */

/* A file name of len characters ending in "/tail_of_the_name.c". */
static void make_name(char *out, size_t len)
{
    static const char tail[] = "/tail_of_the_name.c";
    for (size_t i = 0; i < len; i++) {
        out[i] = (char)('a' + (char)(i % 26u));
    }
    memcpy(out + len - (sizeof tail - 1u), tail, sizeof tail - 1u);
    out[len] = '\0';
}

/* line = head + "..." + (a suffix of name) + site, at most LINE_MAX_LEN bytes. */
static void expect_cut(size_t i, const char *head, const char *name, const char *site)
{
    const char *line = g_cap.line[i];
    size_t len = g_cap.len[i];
    size_t head_len = strlen(head);
    size_t site_len = strlen(site);
    assert_true(len <= LINE_MAX_LEN);
    assert_true(len > head_len + 3u + site_len);
    assert_memory_equal(line, head, head_len);
    assert_memory_equal(line + head_len, "...", 3);
    assert_string_equal(line + len - site_len, site);
    size_t kept = len - head_len - 3u - site_len;
    size_t name_len = strlen(name);
    assert_true(kept < name_len);
    assert_true(kept >= strlen("/tail_of_the_name.c"));
    assert_memory_equal(line + head_len + 3u, name + name_len - kept, kept);
}

static void test_long_file_name_is_cut(void **state)
{
    (void)state;
    static char name[LINE_MAX_LEN + 64u];
    make_name(name, LINE_MAX_LEN + 40u);
    void *a = mem_utils_alloc(24, false, name, 42);
    void *b = mem_utils_alloc(8, true, name, INT_MAX);
    assert_non_null(a);
    assert_non_null(b);
    mem_utils_free(a, name, 7);
    expect_count(3);
    char head[LINE_MAX_LEN];
    (void)snprintf(head, sizeof head, "==MP alloc;24;0x%" PRIxPTR ";", (uintptr_t)a);
    expect_cut(0, head, name, ":42\n");
    (void)snprintf(head, sizeof head, "==MP persist;8;0x%" PRIxPTR ";", (uintptr_t)b);
    expect_cut(1, head, name, ":2147483647\n");
    (void)snprintf(head, sizeof head, "==MP free;0x%" PRIxPTR ";", (uintptr_t)a);
    expect_cut(2, head, name, ":7\n");
}

/* A free line is fully known before the call: a name that makes it exactly
 * LINE_MAX_LEN bytes is kept whole, one character more is cut. */
static void test_cut_boundary(void **state)
{
    (void)state;
    void *a = APP_MEM_ALLOC(16);
    void *b = APP_MEM_ALLOC(16);
    assert_non_null(a);
    assert_non_null(b);
    reset_capture();
    char head_a[LINE_MAX_LEN];
    char head_b[LINE_MAX_LEN];
    int head_a_len = snprintf(head_a, sizeof head_a, "==MP free;0x%" PRIxPTR ";", (uintptr_t)a);
    int head_b_len = snprintf(head_b, sizeof head_b, "==MP free;0x%" PRIxPTR ";", (uintptr_t)b);
    assert_true(head_a_len > 0 && head_b_len > 0);
    static char fits[LINE_MAX_LEN];
    static char over[LINE_MAX_LEN + 1u];
    make_name(fits, LINE_MAX_LEN - (size_t)head_a_len - strlen(":9\n"));
    make_name(over, LINE_MAX_LEN - (size_t)head_b_len - strlen(":9\n") + 1u);
    mem_utils_free(a, fits, 9);
    mem_utils_free(b, over, 9);
    expect_count(2);
    assert_int_equal(g_cap.len[0], LINE_MAX_LEN);
    expect_free(0, a, fits, 9);
    expect_cut(1, head_b, over, ":9\n");
}

/* ------------------------------------------------------------------------ */
/* Sinks                                                                    */
/* ------------------------------------------------------------------------ */

static void test_sink_switch_and_user(void **state)
{
    (void)state;
    mem_utils_set_log_sink(capture_sink2, &g_cap2);
    void *p = APP_MEM_ALLOC(16);
    assert_non_null(p);
    mem_utils_set_log_sink(capture_sink, &g_cap);
    APP_MEM_FREE(p);
    expect_count(1);
    assert_int_equal(g_cap2.n, 1);
    assert_false(g_cap2.wrong_user);
    assert_false(g_cap2.malformed);
    assert_true(strncmp(g_cap2.line[0], "==MP alloc;16;", 14) == 0);
    assert_true(strncmp(g_cap.line[0], "==MP free;", 10) == 0);
}

/* mem_utils_set_log_sink(NULL, NULL) restores the default: stderr. */
static void test_default_sink_is_stderr(void **state)
{
    (void)state;
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    assert_int_equal(fflush(stderr), 0);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    /* No assertion until stderr is back: cmocka reports on it. */
    int redirected = dup2(fileno(tmp), STDERR_FILENO);
    mem_utils_set_log_sink(NULL, NULL);
    int at = __LINE__; void *p = APP_MEM_ALLOC(40);
    int at_f = __LINE__; APP_MEM_FREE(p);
    bool init_ok = mem_utils_init(g_buf, sizeof g_buf);
    int flushed = fflush(stderr);
    int restored = dup2(saved, STDERR_FILENO);
    (void)close(saved);

    assert_int_equal(redirected, STDERR_FILENO);
    assert_int_equal(restored, STDERR_FILENO);
    assert_int_equal(flushed, 0);
    assert_non_null(p);
    assert_true(init_ok);
    expect_count(0); /* the capturing sink is no longer called */

    char got[4u * LINE_MAX_LEN];
    rewind(tmp);
    size_t n = fread(got, 1, sizeof got - 1u, tmp);
    got[n] = '\0';
    assert_int_equal(fclose(tmp), 0);
    char want[4u * LINE_MAX_LEN];
    (void)snprintf(want, sizeof want,
                   "==MP alloc;40;0x%" PRIxPTR ";%s:%d\n==MP free;0x%" PRIxPTR
                   ";%s:%d\n==MP init;0x%" PRIxPTR ";%zu\n",
                   (uintptr_t)p, __FILE__, at, (uintptr_t)p, __FILE__, at_f, (uintptr_t)g_buf,
                   sizeof g_buf);
    assert_string_equal(got, want);
}

/* ------------------------------------------------------------------------ */
/* Faults that name their blocks                                            */
/* ------------------------------------------------------------------------ */

/* What the app's handler saw: mem_utils_fault_sites asked from inside it,
 * and how many fault lines the log held by then. Then record_fault, so that
 * app_faults.h checks (and consumes) the fault as in every other test. */
static struct {
    unsigned calls;
    bool known;
    mem_utils_site_t alloc;
    mem_utils_site_t freed;
    size_t fault_lines;
} g_seen;

static void sites_handler(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    g_seen.calls++;
    g_seen.alloc = (mem_utils_site_t){"garbage", -1};
    g_seen.freed = (mem_utils_site_t){"garbage", -1};
    g_seen.known = mem_utils_fault_sites(addr, &g_seen.alloc, &g_seen.freed);
    g_seen.fault_lines = g_fcap.n;
    record_fault(ctx, fault, addr, user);
}

static void use_sites_handler(void)
{
    memset(&g_seen, 0, sizeof g_seen);
    assert_true(mem_utils_set_fault_handler(sites_handler, &g_faults));
}

static void expect_site(mem_utils_site_t got, const char *file, int line)
{
    if (file == NULL) {
        assert_null(got.file);
    } else {
        assert_non_null(got.file);
        assert_string_equal(got.file, file);
    }
    assert_int_equal(got.line, line);
}

/* mem_utils_fault_sites(p): known or not, and both sites. */
static void expect_sites(const void *p, bool known, const char *afile, int aline, const char *ffile, int fline)
{
    mem_utils_site_t alloc = {"garbage", -1};
    mem_utils_site_t freed = {"garbage", -1};
    assert_int_equal(mem_utils_fault_sites(p, &alloc, &freed), known);
    expect_site(alloc, afile, aline);
    expect_site(freed, ffile, fline);
}

static void expect_fault_line(size_t i, mem_fault_t fault, const void *p, const char *known)
{
    char want[2u * LINE_MAX_LEN];
    (void)snprintf(want, sizeof want, "==MP! fault;%d;0x%" PRIxPTR ";%s;%s\n", (int)fault, (uintptr_t)p, known,
                   mem_fault_name(fault));
    assert_false(g_fcap.malformed);
    assert_true(i < g_fcap.n);
    assert_string_equal(g_fcap.line[i], want);
}

static void expect_site_line(size_t i, const char *role, const void *p, const char *file, int line)
{
    char want[2u * LINE_MAX_LEN];
    (void)snprintf(want, sizeof want, "==MP! site;%s;0x%" PRIxPTR ";%s:%d\n", role, (uintptr_t)p, file, line);
    assert_true(i < g_fcap.n);
    assert_string_equal(g_fcap.line[i], want);
}

/* The default handler's expected line: "hardalloc: <name> at p in heap ctx<note>\n". */
static void default_line(char *out, size_t cap, mem_fault_t fault, const void *p, const char *note)
{
    (void)snprintf(out, cap, "hardalloc: %s at %p in heap %p%s\n", mem_fault_name(fault), p, mem_utils_context(),
                   note);
}

/* In a child: the default handler (the relay stays: profiling build), then
 * the call. The log goes to the child's copy of the capturing sink, so its
 * stderr holds the handler's line alone. */
static void child_free(void *p)
{
    if (mem_utils_set_fault_handler(NULL, NULL)) {
        APP_MEM_FREE(p);
    }
}

#if MEM_HARDENING > 0
/* A block and its request. */
typedef struct {
    void *p;
    size_t n;
} block_t;

/* In a child: the default handler, a byte written past the n requested
 * (raw_access.h: the canary), then the free that finds it. */
static void child_overflow(void *arg)
{
    const block_t *b = arg;
    if (mem_utils_set_fault_handler(NULL, NULL)) {
        raw_flip((uint8_t *)b->p + b->n, 1);
        APP_MEM_FREE(b->p);
    }
}

/* The promise the feature is for: the default handler's line names where
 * the overflowed block was allocated. */
static void test_default_line_names_overflowed_block(void **state)
{
    (void)state;
    int at = __LINE__; void *p = APP_MEM_ALLOC(40);
    assert_non_null(p);
    char note[LINE_MAX_LEN];
    (void)snprintf(note, sizeof note, " (allocated at %s:%d)", __FILE__, at);
    char want[2u * LINE_MAX_LEN];
    default_line(want, sizeof want, MEM_FAULT_OVERFLOW, p, note);
    block_t b = {p, 40};
    expect_child_abort(child_overflow, &b, want);
}
#endif

static void test_default_line_names_first_free(void **state)
{
    (void)state;
    int at_a = __LINE__; void *p = APP_MEM_ALLOC(24);
    assert_non_null(p);
    int at_f = __LINE__; APP_MEM_FREE(p);
    char note[LINE_MAX_LEN];
    (void)snprintf(note, sizeof note, " (allocated at %s:%d, first freed at %s:%d)", __FILE__, at_a, __FILE__, at_f);
    char want[2u * LINE_MAX_LEN];
    default_line(want, sizeof want, MEM_FAULT_DOUBLE_FREE, p, note);
    expect_child_abort(child_free, p, want);
}

/* Nothing known, nothing appended: the allocator's line as it is. */
static void test_default_line_without_sites(void **state)
{
    (void)state;
    static uint64_t not_heap[2];
    char want[2u * LINE_MAX_LEN];
    default_line(want, sizeof want, MEM_FAULT_INVALID_POINTER, not_heap, "");
    expect_child_abort(child_free, not_heap, want);
}

/* A name too long for the note loses its start, as in the log. */
static void test_default_line_cuts_long_names(void **state)
{
    (void)state;
    static char name[700];
    memset(name, 'd', sizeof name - 1u);
    memcpy(name + sizeof name - 8u, "/x.c", 5);
    void *p = mem_utils_alloc(24, false, name, 77);
    assert_non_null(p);
    mem_utils_free(p, name, 78);
    char got[2048];
    int status = run_captured(child_free, p, got, sizeof got);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(got, "(allocated at ...ddd"));
    assert_non_null(strstr(got, "/x.c:77, first freed at ..."));
    assert_non_null(strstr(got, "/x.c:78)\n"));
    assert_true(strlen(got) < 700u);
}

#if MEM_HARDENING > 0
/* A 40-byte block overflowed by one byte, then freed: the one fault it
 * gets is reported; *at is the line that allocated it. */
static uint8_t *overflow_and_free(int *at)
{
    use_sites_handler();
    *at = __LINE__; uint8_t *p = APP_MEM_ALLOC(40);
    assert_non_null(p);
    raw_flip(p + 40, 1);
    APP_MEM_FREE(p);
    expect_one_fault(MEM_FAULT_OVERFLOW, p);
    return p;
}

static void test_sites_in_app_handler_overflow(void **state)
{
    (void)state;
    int at;
    (void)overflow_and_free(&at);
    assert_true(g_seen.known);
    expect_site(g_seen.alloc, __FILE__, at);
    expect_site(g_seen.freed, NULL, 0);
}
#endif

static void test_sites_in_app_handler_double_free(void **state)
{
    (void)state;
    use_sites_handler();
    int at_a = __LINE__; void *p = APP_MEM_ALLOC(24);
    assert_non_null(p);
    int at_f = __LINE__; APP_MEM_FREE(p);
    APP_MEM_FREE(p);
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, p);
    assert_true(g_seen.known);
    expect_site(g_seen.alloc, __FILE__, at_a);
    expect_site(g_seen.freed, __FILE__, at_f);
}

#if MEM_HARDENING > 0
static void test_fault_line_overflow(void **state)
{
    (void)state;
    int at;
    uint8_t *p = overflow_and_free(&at);
    assert_int_equal(g_fcap.n, 2);
    expect_fault_line(0, MEM_FAULT_OVERFLOW, p, "live");
    expect_site_line(1, "alloc", p, __FILE__, at);
    /* the refusals of the failed heap are faults too, about the heap */
    assert_null(APP_MEM_ALLOC(8));
    expect_one_fault(MEM_FAULT_OVERFLOW, mem_utils_context());
    expect_fault_line(2, MEM_FAULT_OVERFLOW, mem_utils_context(), "unknown");
    assert_int_equal(g_fcap.n, 3);
}
#endif

static void test_fault_line_double_and_invalid_free(void **state)
{
    (void)state;
    use_sites_handler();
    uint64_t local = 0;
    int at_a = __LINE__; void *p = APP_MEM_ALLOC(24);
    assert_non_null(p);
    int at_f = __LINE__; APP_MEM_FREE(p);
    APP_MEM_FREE(p);
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, p);
    APP_MEM_FREE(&local);
    expect_one_fault(MEM_FAULT_INVALID_POINTER, &local);
    assert_int_equal(g_fcap.n, 4);
    expect_fault_line(0, MEM_FAULT_DOUBLE_FREE, p, "freed");
    expect_site_line(1, "alloc", p, __FILE__, at_a);
    expect_site_line(2, "free", p, __FILE__, at_f);
    expect_fault_line(3, MEM_FAULT_INVALID_POINTER, &local, "unknown");
}

/* Written before the handler runs: the handler already finds them, and one
 * that longjmps out leaves them in the log. */
static void test_fault_lines_come_before_the_handler(void **state)
{
    (void)state;
    use_sites_handler();
    void *p = APP_MEM_ALLOC(24);
    assert_non_null(p);
    APP_MEM_FREE(p);
    APP_MEM_FREE(p);
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, p);
    assert_int_equal(g_seen.fault_lines, 3);

    fault_recorder_arm(&g_faults);
    if (setjmp(g_faults.escape) == 0) {
        APP_MEM_FREE(p);
        fail_msg("the handler did not longjmp");
    }
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, p);
    assert_int_equal(g_fcap.n, 6);
    expect_fault_line(3, MEM_FAULT_DOUBLE_FREE, p, "freed");
}

/* The fault's site lines obey the log's rule for long names. */
static void test_fault_site_line_cut(void **state)
{
    (void)state;
    use_sites_handler();
    static char name[LINE_MAX_LEN + 64u];
    make_name(name, LINE_MAX_LEN + 40u);
    void *p = mem_utils_alloc(24, false, name, 5);
    assert_non_null(p);
    mem_utils_free(p, name, 6);
    mem_utils_free(p, name, 7);
    expect_one_fault(MEM_FAULT_DOUBLE_FREE, p);
    assert_int_equal(g_fcap.n, 3);
    char head[LINE_MAX_LEN];
    (void)snprintf(head, sizeof head, "==MP! site;alloc;0x%" PRIxPTR ";", (uintptr_t)p);
    memcpy(&g_cap.line[0], &g_fcap.line[1], sizeof g_cap.line[0]); /* expect_cut reads g_cap */
    g_cap.len[0] = g_fcap.len[1];
    expect_cut(0, head, name, ":5\n");
    (void)snprintf(head, sizeof head, "==MP! site;free;0x%" PRIxPTR ";", (uintptr_t)p);
    memcpy(&g_cap.line[0], &g_fcap.line[2], sizeof g_cap.line[0]);
    g_cap.len[0] = g_fcap.len[2];
    expect_cut(0, head, name, ":6\n");
}

static void test_fault_sites_contract(void **state)
{
    (void)state;
    int at = __LINE__; uint8_t *p = APP_MEM_ALLOC(32);
    void *q = mem_utils_alloc(16, false, NULL, 0);
    assert_non_null(p);
    assert_non_null(q);
    expect_sites(p, true, __FILE__, at, NULL, 0);
    assert_true(mem_utils_fault_sites(p, NULL, NULL));      /* NULL outputs */
    expect_sites(q, true, NULL, 0, NULL, 0);                 /* recorded without a site */
    expect_sites(p + 8, false, NULL, 0, NULL, 0);            /* interior: no block */
    expect_sites(&at, false, NULL, 0, NULL, 0);              /* not the heap's */
    expect_sites(NULL, false, NULL, 0, NULL, 0);
    assert_false(mem_utils_fault_sites(&at, NULL, NULL));
}

/* The latest free at an address answers, and a live block before any free. */
static void test_fault_sites_latest_wins(void **state)
{
    (void)state;
    void *p = mem_utils_alloc(24, false, "a.c", 1);
    mem_utils_free(p, "a.c", 2);
    void *again = mem_utils_alloc(24, false, "b.c", 3);
    assert_ptr_equal(again, p); /* the same chunk, handed out again */
    expect_sites(p, true, "b.c", 3, NULL, 0);
    mem_utils_free(p, "b.c", 4);
    expect_sites(p, true, "b.c", 3, "b.c", 4);
}

static void test_realloc_moves_the_record(void **state)
{
    (void)state;
    int at_a = __LINE__; void *p = APP_MEM_ALLOC(40);
    void *barrier = APP_MEM_ALLOC(40); /* growing p must move it */
    assert_non_null(p);
    assert_non_null(barrier);
    int at_r = __LINE__; void *moved = APP_MEM_REALLOC(p, 400);
    assert_non_null(moved);
    assert_ptr_not_equal(moved, p);
    expect_sites(moved, true, __FILE__, at_r, NULL, 0);
    expect_sites(p, true, __FILE__, at_a, __FILE__, at_r); /* the old address: freed by the realloc */
    int at_s = __LINE__; void *shrunk = APP_MEM_REALLOC(moved, 100);
    assert_ptr_equal(shrunk, moved);
    expect_sites(shrunk, true, __FILE__, at_s, NULL, 0); /* in place: still live, the realloc's site */
}

static void test_init_forgets_every_site(void **state)
{
    (void)state;
    void *live = APP_MEM_ALLOC(40);
    void *freed = APP_MEM_ALLOC(40);
    assert_non_null(live);
    assert_non_null(freed);
    APP_MEM_FREE(freed);
    assert_true(mem_utils_fault_sites(live, NULL, NULL));
    assert_true(mem_utils_fault_sites(freed, NULL, NULL));
    assert_true(mem_utils_init(g_buf, sizeof g_buf));
    expect_sites(live, false, NULL, 0, NULL, 0);
    expect_sites(freed, false, NULL, 0, NULL, 0);
}

/* Fills the table: MEM_UTILS_SITES_LIVE_MAX blocks of 8 bytes at lines 1..,
 * then one more, which is not recorded. */
static void *g_blocks[MEM_UTILS_SITES_LIVE_MAX + 1u];

static void *fill_site_table(void)
{
    for (unsigned i = 0; i < MEM_UTILS_SITES_LIVE_MAX; i++) {
        g_blocks[i] = mem_utils_alloc(8, false, "t.c", (int)i + 1);
        assert_non_null(g_blocks[i]);
    }
    void *extra = mem_utils_alloc(8, false, "t.c", 9999);
    assert_non_null(extra);
    return extra;
}

static void test_table_full_block_is_unknown(void **state)
{
    (void)state;
    void *extra = fill_site_table();
    expect_sites(extra, false, NULL, 0, NULL, 0);
    expect_sites(g_blocks[0], true, "t.c", 1, NULL, 0);
    expect_sites(g_blocks[MEM_UTILS_SITES_LIVE_MAX - 1u], true, "t.c", (int)MEM_UTILS_SITES_LIVE_MAX, NULL, 0);
    /* a free makes room again */
    mem_utils_free(g_blocks[5], "t.c", 10000);
    void *next = mem_utils_alloc(8, false, "t.c", 10001);
    assert_non_null(next);
    expect_sites(next, true, "t.c", 10001, NULL, 0);
}

/* A block made while the table is full stays unknown, even at the address
 * of an earlier free; the free of such a block is named by that free alone. */
static void test_table_full_free_and_reuse(void **state)
{
    (void)state;
    void *extra = fill_site_table();
    mem_utils_free(extra, "t.c", 6);
    expect_sites(extra, true, NULL, 0, "t.c", 6);
    void *again = mem_utils_alloc(8, false, "t.c", 7); /* its chunk again, the table still full */
    assert_ptr_equal(again, extra);
    expect_sites(again, false, NULL, 0, NULL, 0);
}

#if MEM_HARDENING > 0
static void test_table_full_overflow_note(void **state)
{
    (void)state;
    void *extra = fill_site_table();
    char want[2u * LINE_MAX_LEN];
    default_line(want, sizeof want, MEM_FAULT_OVERFLOW, extra, " (allocation site not recorded: site table full)");
    block_t b = {extra, 8};
    expect_child_abort(child_overflow, &b, want);
}

static void test_table_full_fault_line(void **state)
{
    (void)state;
    use_sites_handler();
    void *extra = fill_site_table();
    raw_flip((uint8_t *)extra + 8, 1);
    mem_utils_free(extra, "t.c", 1);
    expect_one_fault(MEM_FAULT_OVERFLOW, extra);
    assert_false(g_seen.known);
    assert_int_equal(g_fcap.n, 1);
    expect_fault_line(0, MEM_FAULT_OVERFLOW, extra, "table-full");
}
#endif

/* The ring keeps the last MEM_UTILS_FREED_SITES frees: the oldest is overwritten. */
static void test_freed_ring_overwrites_the_oldest(void **state)
{
    (void)state;
    enum { N = MEM_UTILS_FREED_SITES + 1u };
    void *p[N];
    for (unsigned i = 0; i < N; i++) {
        p[i] = mem_utils_alloc(8, false, "r.c", (int)i);
        assert_non_null(p[i]);
    }
    for (unsigned i = 0; i < N; i++) {
        mem_utils_free(p[i], "f.c", (int)i);
    }
    expect_sites(p[0], false, NULL, 0, NULL, 0);
    expect_sites(p[1], true, "r.c", 1, "f.c", 1);
    expect_sites(p[N - 1u], true, "r.c", (int)N - 1, "f.c", (int)N - 1);
    /* its double free is reported without sites, and the note says why */
    char note[LINE_MAX_LEN];
    (void)snprintf(note, sizeof note, " (first free not recorded: only the last %u frees are kept)",
                   (unsigned)MEM_UTILS_FREED_SITES);
    char want[2u * LINE_MAX_LEN];
    default_line(want, sizeof want, MEM_FAULT_DOUBLE_FREE, p[0], note);
    expect_child_abort(child_free, p[0], want);
}

/* Random allocations and frees, beyond the table's limit and back: every
 * live block answers with its own site, or is unknown exactly when it was
 * made while MEM_UTILS_SITES_LIVE_MAX blocks were recorded; the block just
 * freed answers with both sites. (The table's deletion moves entries: a
 * wrong move loses or misnames a block.) */
static void test_sites_random_against_model(void **state)
{
    (void)state;
    enum { MAX_LIVE = 600, STEPS = 4000 };
    static void *blk[MAX_LIVE];
    static int line[MAX_LIVE];
    static bool rec[MAX_LIVE];
    size_t n = 0;
    size_t recorded = 0;
    uint64_t rng = 0x5eed51735u;
    for (int step = 1; step <= STEPS; step++) {
        bool grow = n == 0u || (n < MAX_LIVE && rand_range(&rng, 0, 99) < (step % 1000 < 600 ? 70u : 30u));
        if (grow) {
            void *p = mem_utils_alloc(rand_range(&rng, 1, 40), false, "m.c", step);
            if (p == NULL) {
                continue;
            }
            blk[n] = p;
            line[n] = step;
            rec[n] = recorded < MEM_UTILS_SITES_LIVE_MAX;
            recorded += rec[n] ? 1u : 0u;
            n++;
        } else {
            size_t k = rand_range(&rng, 0, n - 1u);
            void *p = blk[k];
            bool was = rec[k];
            int made = line[k];
            mem_utils_free(p, "x.c", -step);
            recorded -= was ? 1u : 0u;
            n--;
            blk[k] = blk[n];
            line[k] = line[n];
            rec[k] = rec[n];
            mem_utils_site_t a;
            mem_utils_site_t f;
            assert_true(mem_utils_fault_sites(p, &a, &f));
            assert_int_equal(a.line, was ? made : 0);
            assert_int_equal(f.line, -step);
        }
        for (size_t i = 0; i < n; i++) {
            mem_utils_site_t a;
            bool known = mem_utils_fault_sites(blk[i], &a, NULL);
            if (known != rec[i] || a.line != (rec[i] ? line[i] : 0)) {
                fail_msg("step %d: block %zu (line %d, recorded %d) answers %d, line %d", step, i, line[i],
                         (int)rec[i], (int)known, a.line);
            }
        }
    }
    assert_int_equal(g_cap.malformed, false);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_logged_heap, teardown_logged_heap)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_init_line),
        T(test_failed_init_is_logged),
        T(test_alloc_and_free_lines),
        T(test_persist_lines),
        T(test_free_and_null_lines),
        T(test_strdup_line),
        T(test_calloc_lines),
        T(test_realloc_lines),
        T(test_failures_log_nothing),
        T(test_refused_free_logs_nothing),
        T(test_refused_realloc_logs_nothing),
        T(test_refused_calloc_logs_nothing),
        T(test_longjmp_out_of_refused_free),
#if MEM_HARDENING > 0
        T(test_overflow_free_logs_nothing),
#endif
        T(test_explicit_site),
        T(test_one_call_per_line),
        T(test_long_file_name_is_cut),
        T(test_cut_boundary),
        T(test_sink_switch_and_user),
        T(test_default_sink_is_stderr),
#if MEM_HARDENING > 0
        T(test_default_line_names_overflowed_block),
#endif
        T(test_default_line_names_first_free),
        T(test_default_line_without_sites),
        T(test_default_line_cuts_long_names),
#if MEM_HARDENING > 0
        T(test_sites_in_app_handler_overflow),
#endif
        T(test_sites_in_app_handler_double_free),
#if MEM_HARDENING > 0
        T(test_fault_line_overflow),
#endif
        T(test_fault_line_double_and_invalid_free),
        T(test_fault_lines_come_before_the_handler),
        T(test_fault_site_line_cut),
        T(test_fault_sites_contract),
        T(test_fault_sites_latest_wins),
        T(test_realloc_moves_the_record),
        T(test_init_forgets_every_site),
        T(test_table_full_block_is_unknown),
        T(test_table_full_free_and_reuse),
#if MEM_HARDENING > 0
        T(test_table_full_overflow_note),
        T(test_table_full_fault_line),
#endif
        T(test_freed_ring_overwrites_the_oldest),
        T(test_sites_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
