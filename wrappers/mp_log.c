/*
 * Memory-profiling log writer. Every line is formatted whole in a local
 * buffer and handed to the sink in one call, so lines are never split or
 * interleaved by this code; a file name too long for the buffer loses its
 * start, replaced by "...", so the line stays parseable and the cut shows.
 */

#include "mp_log.h"

#ifdef HAVE_MEMORY_PROFILING

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define LINE_MAX_BYTES MEM_UTILS_LOG_LINE_MAX
#define CUT_MARK "..."

static void stderr_sink(void *user, const char *line, size_t len)
{
    (void)user;
    /* stderr is unbuffered: one fwrite is one write(2) of the whole line. */
    (void)fwrite(line, 1, len, stderr);
}

static mem_utils_log_sink_t g_sink = stderr_sink;
static void *g_sink_user;

void mp_log_set_sink(mem_utils_log_sink_t sink, void *user)
{
    g_sink = sink != NULL ? sink : stderr_sink;
    g_sink_user = sink != NULL ? user : NULL;
}

static void emit(const char *line, int len)
{
    if (len > 0) {
        g_sink(g_sink_user, line, (size_t)len);
    }
}

/* Appends "<file>:<line>\n" to the head already in buf[0..used), cutting
 * the start of file when the whole line would not fit. */
static void emit_with_site(char *buf, int used, const char *file, int line)
{
    char tail[24];
    int tail_len = snprintf(tail, sizeof tail, ":%d\n", line);
    const char *name = file != NULL ? file : "?";
    size_t name_len = strlen(name);
    size_t room = LINE_MAX_BYTES - (size_t)used - (size_t)tail_len;
    size_t at = (size_t)used;
    if (name_len > room) {
        size_t keep = room - (sizeof CUT_MARK - 1u);
        memcpy(buf + at, CUT_MARK, sizeof CUT_MARK - 1u);
        at += sizeof CUT_MARK - 1u;
        memcpy(buf + at, name + (name_len - keep), keep);
        at += keep;
    } else {
        memcpy(buf + at, name, name_len);
        at += name_len;
    }
    memcpy(buf + at, tail, (size_t)tail_len);
    emit(buf, (int)(at + (size_t)tail_len));
}

void mp_log_init(const void *heap, size_t size)
{
    char buf[LINE_MAX_BYTES];
    emit(buf, snprintf(buf, sizeof buf, "==MP init;0x%" PRIxPTR ";%zu\n", (uintptr_t)heap, size));
}

void mp_log_alloc(bool persistent, size_t size, const void *ptr, const char *file, int line)
{
    char buf[LINE_MAX_BYTES];
    int used = snprintf(buf, sizeof buf, "==MP %s;%zu;0x%" PRIxPTR ";", persistent ? "persist" : "alloc",
                        size, (uintptr_t)ptr);
    emit_with_site(buf, used, file, line);
}

void mp_log_free(const void *ptr, const char *file, int line)
{
    char buf[LINE_MAX_BYTES];
    int used = snprintf(buf, sizeof buf, "==MP free;0x%" PRIxPTR ";", (uintptr_t)ptr);
    emit_with_site(buf, used, file, line);
}

#else

/* ISO C wants at least one declaration in a translation unit. */
typedef int mp_log_disabled_t;

#endif
