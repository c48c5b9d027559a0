/*
 * fuzz_wrappers: the APP_MEM_* API over the app heap, built with profiling,
 * so the log writer is fuzzed too: every call's log lines are captured and
 * compared with the lines the call must produce (profiling/FORMAT.md).
 * Each macro call sits on the same line as the __LINE__ it is checked
 * against.
 */

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "app_mem_utils.h"
#include "target.h"

#ifndef HAVE_MEMORY_PROFILING
#error "fuzz_wrappers checks the profiling log: build it with HAVE_MEMORY_PROFILING"
#endif

#define MAX_LINES 4u

/* The file name every call passes for its site: the tail of one long path,
 * of a length that changes from call to call (0 to 300 bytes), so that the
 * log's rule for a name that does not fit the line (its start replaced by
 * "...", the line exactly MEM_UTILS_LOG_LINE_MAX bytes, app_mem_utils.h) is
 * fuzzed too, on both sides of the limit. */
static const char g_path[] = "lib00/lib01/lib02/lib03/lib04/lib05/lib06/lib07/lib08/lib09/lib10/lib11/lib12/lib13/lib14/lib15/lib16/lib17/lib18/lib19/lib20/lib21/lib22/lib23/lib24/lib25/lib26/lib27/lib28/lib29/lib30/lib31/lib32/lib33/lib34/lib35/lib36/lib37/lib38/lib39/lib40/lib41/lib42/lib43/lib44/lib45/lib46/lib47/lib48/site.c";
static unsigned g_calls;
static const char *g_site;

static const char *next_site(void)
{
    size_t len = (g_calls++ * 53u) % sizeof g_path;
    g_site = g_path + (sizeof g_path - 1u - len);
    return g_site;
}

#undef ALLOC_FILE
#define ALLOC_FILE next_site()

static struct {
    char text[MAX_LINES][MEM_UTILS_LOG_LINE_MAX + 1u];
    unsigned count;
} g_log;

static void capture(void *user, const char *line, size_t len)
{
    (void)user;
    if (g_log.count == MAX_LINES || len == 0u || len > MEM_UTILS_LOG_LINE_MAX || line[len - 1u] != '\n') {
        fuzz_fail("log-line", "a call wrote %u+ lines or a line of %zu bytes not ending in a newline",
                  g_log.count + 1u, len);
    }
    memcpy(g_log.text[g_log.count], line, len);
    g_log.text[g_log.count][len] = '\0';
    g_log.count++;
}

static void begin(void)
{
    mem_utils_set_log_sink(capture, NULL);
    g_log.count = 0;
    g_calls = 0;
}

/* The call just made must have written exactly the lines given, in order. */
static void expect_log(unsigned n, ...)
{
    va_list ap;
    va_start(ap, n);
    if (g_log.count != n) {
        fuzz_fail("log", "a call wrote %u log lines, expected %u (first: %s)", g_log.count, n,
                  g_log.count > 0u ? g_log.text[0] : "none");
    }
    for (unsigned i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);
        if (strcmp(g_log.text[i], want) != 0) {
            fuzz_fail("log", "log line %u is \"%s\", expected \"%s\"", i, g_log.text[i], want);
        }
    }
    va_end(ap);
    g_log.count = 0;
}

typedef char line_t[MEM_UTILS_LOG_LINE_MAX + 1u];

/* Appends "<site>:<line>\n" to the used bytes of out, as the documented
 * rule says: a name too long for the line loses its start to "...". */
static const char *with_site(line_t out, int used, int line)
{
    char tail[24];
    size_t tail_len = (size_t)snprintf(tail, sizeof tail, ":%d\n", line);
    size_t at = (size_t)used, name_len = strlen(g_site);
    size_t room = MEM_UTILS_LOG_LINE_MAX - at - tail_len;
    if (name_len > room) {
        memcpy(out + at, "...", 3u);
        memcpy(out + at + 3u, g_site + name_len - (room - 3u), room - 3u);
        at += room;
    } else {
        memcpy(out + at, g_site, name_len);
        at += name_len;
    }
    memcpy(out + at, tail, tail_len + 1u);
    return out;
}

static const char *alloc_line(line_t out, const char *event, size_t size, const void *p, int line)
{
    return with_site(out, snprintf(out, sizeof(line_t), "==MP %s;%zu;0x%" PRIxPTR ";", event, size, (uintptr_t)p),
                     line);
}

static const char *free_line(line_t out, const void *p, int line)
{
    return with_site(out, snprintf(out, sizeof(line_t), "==MP free;0x%" PRIxPTR ";", (uintptr_t)p), line);
}

static mem_ctx_t w_init(void *buf, size_t size)
{
    line_t a;
    g_log.count = 0;
    bool ok = mem_utils_init(buf, size);
    snprintf(a, sizeof a, "==MP init;0x%" PRIxPTR ";%zu\n", (uintptr_t)buf, size);
    expect_log(1, a);
    return ok ? mem_utils_context() : NULL;
}

static void *w_alloc(mem_ctx_t ctx, size_t size)
{
    (void)ctx;
    line_t a;
    const int line = __LINE__; void *p = APP_MEM_ALLOC(size);
    if (p != NULL) {
        expect_log(1, alloc_line(a, "alloc", size, p, line));
    } else {
        expect_log(0);
    }
    return p;
}

static bool w_calloc(mem_ctx_t ctx, void **held, size_t size, bool persistent)
{
    (void)ctx;
    line_t f, a;
    void *old = *held;
    int line;
    bool ok;
    if (persistent) {
        line = __LINE__; ok = mem_buffer_persistent(held, size);
    } else {
        line = __LINE__; ok = APP_MEM_CALLOC(held, size);
    }
    const char *event = persistent ? "persist" : "alloc";
    if (old != NULL && *held != NULL) {
        expect_log(2, free_line(f, old, line), alloc_line(a, event, size, *held, line));
    } else if (old != NULL) {
        expect_log(1, free_line(f, old, line));
    } else if (*held != NULL) {
        expect_log(1, alloc_line(a, event, size, *held, line));
    } else {
        expect_log(0);
    }
    return ok;
}

static void *w_realloc(mem_ctx_t ctx, void *ptr, size_t size)
{
    (void)ctx;
    line_t f, a;
    const int line = __LINE__; void *p = APP_MEM_REALLOC(ptr, size);
    if (ptr == NULL && p != NULL) {
        expect_log(1, alloc_line(a, "alloc", size, p, line));
    } else if (ptr != NULL && size == 0u) {
        expect_log(1, free_line(f, ptr, line));
    } else if (ptr != NULL && p != NULL) {
        expect_log(2, free_line(f, ptr, line), alloc_line(a, "alloc", size, p, line));
    } else {
        expect_log(0);
    }
    return p;
}

static void w_free(mem_ctx_t ctx, void *ptr)
{
    (void)ctx;
    line_t f;
    const int line = __LINE__; APP_MEM_FREE(ptr);
    if (ptr != NULL) {
        expect_log(1, free_line(f, ptr, line));
    } else {
        expect_log(0);
    }
}

static char *w_strdup(mem_ctx_t ctx, const char *s)
{
    (void)ctx;
    line_t a;
    const int line = __LINE__; char *p = APP_MEM_STRDUP(s);
    if (p != NULL) {
        expect_log(1, alloc_line(a, "alloc", strlen(s) + 1u, p, line));
    } else {
        expect_log(0);
    }
    return p;
}

static void w_cleanup(mem_ctx_t ctx, void **held)
{
    (void)ctx;
    line_t f;
    void *old = *held;
    const int line = __LINE__; mem_utils_buffer_cleanup(held);
    if (old != NULL) {
        expect_log(1, free_line(f, old, line));
    } else {
        expect_log(0);
    }
}

static const op_kind_t ops[] = {OP_ALLOC, OP_CALLOC, OP_REALLOC, OP_FREE,   OP_STRDUP, OP_RECALLOC,
                                OP_CLEANUP, OP_PERSIST, OP_REINIT, OP_STAT, OP_CHECK};

const fuzz_target_t fuzz_target_wrappers = {
    .table = {"fuzz_wrappers", ops, (uint8_t)(sizeof ops / sizeof ops[0])},
    .init = w_init,
    .alloc = w_alloc,
    .calloc = w_calloc,
    .realloc = w_realloc,
    .free = w_free,
    .strdup = w_strdup,
    .cleanup = w_cleanup,
    .begin = begin,
};
