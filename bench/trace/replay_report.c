/**
 * @file replay_report.c
 * @brief trace_replay's report (replay_report.h).
 */
#include "replay_report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "replay_engine.h" /* REPLAY_MAX_ARENA */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, unsigned n) {
    double *c = malloc(n * sizeof *c);
    if (!c)
        return v[0];
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return m;
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* What a back end other than hardalloc (whose note is its own) does
 * without an entry of its own, joined by sep; "" when it has them all. */
static const char *fallbacks(const replay_backend *b, const char *sep, char *buf, size_t len) {
    buf[0] = '\0';
    if (strcmp(b->api, "hardalloc") == 0)
        return buf;
    const char *items[4];
    char aligned[96];
    size_t n = 0;
    if (!b->calloc)
        items[n++] = "calloc = alloc + memset";
    if (!b->realloc)
        items[n++] = "realloc = alloc + memcpy(min(old, new size)) + free";
    if (!b->aligned) {
        snprintf(aligned, sizeof aligned,
                 "aligned above %zu bytes = alloc(size + align - 1) aligned by hand",
                 b->alignment);
        items[n++] = aligned;
    }
    if (!b->zero_ok)
        items[n++] = "0 bytes asked as 1";
    size_t used = 0;
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? sep : "", items[i]);
    return buf;
}

void replay_print_table(const replay_trace *d, const replay_result *rs, size_t n,
                        const replay_options *o) {
    printf("trace: %s (%s): %" PRIu64 " records, %zu replayed operations, "
           "%" PRIu64 " skipped, peak live %" PRIu64 " bytes, %u round%s, ",
           d->path, d->program, d->records, d->n_ops, d->skipped, d->peak_live, o->rounds,
           o->rounds == 1 ? "" : "s");
    if (o->arena)
        printf("arena %zu bytes (--arena)\n", o->arena);
    else
        printf("arena factor %g\n", o->factor);
    int width = 20;
    for (size_t k = 0; k < n; k++) {
        if ((int)strlen(rs[k].b->name) > width)
            width = (int)strlen(rs[k].b->name);
    }
    printf("%-*s %10s %14s %12s %9s\n", width, "allocator", "ns/op", "smallest arena",
           "/ peak live", "failures");
    bool hardalloc = false;
    for (size_t k = 0; k < n; k++) {
        const replay_result *r = &rs[k];
        char arena[32] = "-", ratio[32] = "-", fail[32];
        if (r->b->init && !o->arena) {
            if (!r->smallest) {
                snprintf(arena, sizeof arena, "> %zu", REPLAY_MAX_ARENA);
            } else {
                snprintf(arena, sizeof arena, "%zu", r->smallest);
                if (d->peak_live)
                    snprintf(ratio, sizeof ratio, "%.3f",
                             (double)r->smallest / (double)d->peak_live);
            }
        }
        if (r->init_failed)
            snprintf(fail, sizeof fail, "init");
        else
            snprintf(fail, sizeof fail, "%" PRIu64, r->failures);
        printf("%-*s %10.1f %14s %12s %9s\n", width, r->b->name, median(r->ns, o->rounds), arena,
               ratio, fail);
        hardalloc = hardalloc || strcmp(r->b->api, "hardalloc") == 0;
    }
    printf("notes: single-threaded replay in trace order; failed calls and frees of "
           "unknown pointers skipped;\n");
    if (hardalloc)
        printf("  hardalloc: calloc = mem_alloc + memset; aligned allocations = mem_alloc(size + "
               "align - 1) aligned by hand\n"
               "  (the original pointer freed); malloc(0) = mem_alloc(1);");
    else
        printf(" ");
    if (o->arena)
        printf(" a fresh arena of %zu bytes per replay.\n", o->arena);
    else
        printf(" a fresh arena of %g x the smallest per replay.\n", o->factor);
    for (size_t k = 0; k < n; k++) {
        char buf[512];
        if (*fallbacks(rs[k].b, "; ", buf, sizeof buf))
            printf("  %s (%s): %s.\n", rs[k].b->name, rs[k].b->api, buf);
    }
}

void replay_json_trace(FILE *json, const replay_trace *d, const replay_result *rs, size_t n,
                       const replay_options *o, bool first) {
    fprintf(json, "%s{\"trace\": ", first ? "" : ", ");
    json_string(json, d->path);
    fprintf(json, ", \"program\": ");
    json_string(json, d->program);
    fprintf(json, ", \"records\": %" PRIu64 ", \"ops\": %zu, \"skipped\": %" PRIu64
                  ", \"peak_live_bytes\": %" PRIu64 ", \"allocators\": [",
            d->records, d->n_ops, d->skipped, d->peak_live);
    for (size_t k = 0; k < n; k++) {
        const replay_result *r = &rs[k];
        fprintf(json, "%s{\"name\": ", k ? ", " : "");
        json_string(json, r->b->name);
        fprintf(json, ", \"key\": ");
        json_string(json, r->b->key);
        fprintf(json, ", \"api\": \"%s\", \"kind\": \"%s\", \"ns_per_op\": %.3f, "
                      "\"failures\": %" PRIu64,
                r->b->api, r->b->init ? "arena" : "system", median(r->ns, o->rounds),
                r->failures);
        if (r->init_failed)
            fprintf(json, ", \"init_failed\": true");
        if (r->b->init) {
            if (!o->arena)
                fprintf(json, ", \"smallest_arena\": %zu", r->smallest);
            fprintf(json, ", \"arena\": %zu", r->arena_size);
            if (!o->arena && d->peak_live && r->smallest)
                fprintf(json, ", \"arena_over_peak\": %.6f",
                        (double)r->smallest / (double)d->peak_live);
        }
        fprintf(json, ", \"ns_per_op_rounds\": [");
        for (unsigned i = 0; i < o->rounds; i++)
            fprintf(json, "%s%.3f", i ? ", " : "", r->ns[i]);
        fprintf(json, "]}");
    }
    fprintf(json, "]}");
}

void replay_json_begin(FILE *json, const replay_options *o, const replay_backend *const *list,
                       size_t n_list) {
    fprintf(json, "{\"rounds\": %u, \"arena_factor\": %g", o->rounds, o->factor);
    if (o->arena)
        fprintf(json, ", \"arena\": %zu", o->arena);
    fprintf(json, ", \"peers\": [");
    for (size_t i = 0, n = 0; i < n_list; i++) {
        if (!list[i]->path)
            continue;
        fprintf(json, "%s{\"name\": ", n++ ? ", " : "");
        json_string(json, list[i]->name);
        fprintf(json, ", \"api\": \"%s\", \"kind\": \"%s\", \"path\": ", list[i]->api,
                list[i]->init ? "arena" : "system");
        json_string(json, list[i]->path);
        fprintf(json, "}");
    }
    fprintf(json, "], \"traces\": [");
}

void replay_json_end(FILE *json, const replay_backend *const *list, size_t n_list) {
    fprintf(json, "], \"notes\": \"single-threaded replay in trace order; failed calls and "
                  "frees of unknown pointers skipped; hardalloc: calloc = mem_alloc + memset, "
                  "aligned = mem_alloc(size + align - 1) aligned by hand (original pointer "
                  "freed), malloc(0) = mem_alloc(1)");
    for (size_t k = 0; k < n_list; k++) {
        char buf[512];
        if (*fallbacks(list[k], ", ", buf, sizeof buf))
            fprintf(json, "; %s (%s): %s", list[k]->name, list[k]->api, buf);
    }
    fprintf(json, "\"}\n");
}
