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
    if (len > 0 && (size_t)len <= LINE_MAX_BYTES) {
        g_sink(g_sink_user, line, (size_t)len);
    }
}

size_t mp_log_put_site(char *out, size_t room, const char *file, int line, const char *end)
{
    char tail[40];
    int n = snprintf(tail, sizeof tail, ":%d%s", line, end);
    if (n < 0 || (size_t)n >= sizeof tail) {
        return 0;
    }
    size_t tail_len = (size_t)n;
    const char *name = file != NULL ? file : "?";
    size_t name_len = strlen(name);
    size_t cut_len = sizeof CUT_MARK - 1u;
    if (room < tail_len + cut_len) {
        return 0;
    }
    size_t fits = room - tail_len;
    size_t at = 0;
    if (name_len > fits) {
        size_t keep = fits - cut_len;
        memcpy(out, CUT_MARK, cut_len);
        memcpy(out + cut_len, name + (name_len - keep), keep);
        at = cut_len + keep;
    } else {
        memcpy(out, name, name_len);
        at = name_len;
    }
    memcpy(out + at, tail, tail_len);
    return at + tail_len;
}

/* Appends "<file>:<line>\n" to the head already in buf[0..used), cutting
 * the start of file when the whole line would not fit. */
static void emit_with_site(char *buf, int used, const char *file, int line)
{
    if (used <= 0 || (size_t)used >= LINE_MAX_BYTES) {
        return;
    }
    size_t at = (size_t)used;
    size_t len = mp_log_put_site(buf + at, LINE_MAX_BYTES - at, file, line, "\n");
    emit(buf, len != 0u ? (int)(at + len) : 0);
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

/* The `<known>` field of the fault line. */
static const char *known_word(mp_sites_known_t known)
{
    switch (known) {
    case MP_SITES_LIVE: return "live";
    case MP_SITES_FREED: return "freed";
    case MP_SITES_TABLE_FULL: return "table-full";
    case MP_SITES_UNKNOWN: break;
    }
    return "unknown";
}

void mp_log_fault(mem_fault_t fault, const void *addr, const mp_sites_t *sites)
{
    char buf[LINE_MAX_BYTES];
    emit(buf, snprintf(buf, sizeof buf, "==MP! fault;%d;0x%" PRIxPTR ";%s;%s\n", (int)fault, (uintptr_t)addr,
                       known_word(sites->known), mem_fault_name(fault)));
    if (sites->alloc_recorded) {
        int used = snprintf(buf, sizeof buf, "==MP! site;alloc;0x%" PRIxPTR ";", (uintptr_t)addr);
        emit_with_site(buf, used, sites->alloc.file, sites->alloc.line);
    }
    if (sites->known == MP_SITES_FREED) {
        int used = snprintf(buf, sizeof buf, "==MP! site;free;0x%" PRIxPTR ";", (uintptr_t)addr);
        emit_with_site(buf, used, sites->freed.file, sites->freed.line);
    }
}

#else

/* ISO C wants at least one declaration in a translation unit. */
typedef int mp_log_disabled_t;

#endif
