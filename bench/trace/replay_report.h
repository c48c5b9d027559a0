/**
 * @file replay_report.h
 * @brief trace_replay's report: the table per trace on stdout and the JSON
 *        document (--json).
 */
#ifndef REPLAY_REPORT_H
#define REPLAY_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "replay_backend.h"
#include "replay_options.h"
#include "replay_trace.h"

/* One back end's results on one trace. */
typedef struct replay_result {
    const replay_backend *b;
    void *arena;
    size_t arena_size;  /* the chosen arena (F x smallest, or --arena) */
    size_t smallest;    /* smallest arena that holds the trace (0: none, or not sought) */
    uint64_t failures;  /* at the chosen arena, last round */
    bool init_failed;   /* init refused the chosen arena */
    double *ns;         /* per round: ns per op */
} replay_result;

/* The trace's line, the table (allocator, ns/op median, smallest arena,
 * its ratio to the peak live bytes, failures) and the notes. */
void replay_print_table(const replay_trace *d, const replay_result *rs, size_t n,
                        const replay_options *o);

/* The JSON document, written as the run goes: its head (options, the
 * libraries loaded), one entry per trace (first: the first trace), its
 * tail (the notes). */
void replay_json_begin(FILE *json, const replay_options *o, const replay_backend *const *list,
                       size_t n_list);
void replay_json_trace(FILE *json, const replay_trace *d, const replay_result *rs, size_t n,
                       const replay_options *o, bool first);
void replay_json_end(FILE *json, const replay_backend *const *list, size_t n_list);

#endif /* REPLAY_REPORT_H */
