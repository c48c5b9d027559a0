/* valground's core: the profiling-log analyzer's one pass over a log, in C.
 *
 * profiling/valground_lib/core.py loads it with ctypes (the standard library:
 * no build of a Python extension, any interpreter) and turns its results into
 * the model's Segment objects when a Python report needs them; the -q report
 * and the JSON document's segments it can render itself (vg_render_quiet,
 * vg_render_json: byte for byte the Python reports' text). The core reads
 * what the Python reader's fast path reads (profiling/valground_lib/stream.py)
 * with model.py's rules; on any other line (a malformed or unusual event, a
 * fault line, an overlap, a block outside its heap, anything that warns) it
 * stops and says so (vg_feed returns VG_BAIL), and the caller reads the input
 * again with the Python reader, which owns those cases.
 * tests/analyzer/test_core.py checks that both give the same reports.
 *
 * Results are arrays of uint64_t records (native byte order), read once
 * after vg_finish; their fields are the VG_*_ enums below.
 */
#ifndef VG_H
#define VG_H

#include <stdint.h>

typedef struct vg vg;

/* A new analyzer; lean: only what the quiet text report needs (model.py's
 * lean). NULL when out of memory. */
vg *vg_new(int lean);
/* Frees it and its results; NULL is ignored. */
void vg_delete(vg *a);

enum { VG_OK = 0, VG_BAIL = 1, VG_IO_ERROR = 2, VG_NO_MEMORY = 3 };

/* Reads fd to its end as one stream (line numbers from 1), and, when
 * spool_fd >= 0, writes every byte read to spool_fd (a pipe read once can
 * then be read again). VG_OK, VG_BAIL (vg_bail_line, vg_bail_reason),
 * VG_IO_ERROR (errno set) or VG_NO_MEMORY; after anything but VG_OK the
 * analyzer accepts nothing more. */
int vg_feed(vg *a, int fd, int spool_fd);
/* The end of the log (model.Analyzer.finish). VG_OK, VG_BAIL or VG_NO_MEMORY;
 * once it returned VG_OK, it returns VG_OK and changes nothing, and vg_feed
 * returns VG_BAIL. */
int vg_finish(vg *a);

/* After vg_finish in full mode: renders the segments of valground's --json
 * document (profiling/valground_lib/report_json.py's segment_doc through
 * json.dumps, one per line, ",\n" between: byte for byte) into VG_R_JSON.
 * VG_OK; VG_BAIL when a test name or site holds a byte that is not ASCII
 * (the Python writer renders that document; the results stay valid) or the
 * analyzer is lean, unfinished or gave up; VG_NO_MEMORY. */
int vg_render_json(vg *a);

/* After vg_finish (lean or full): renders valground -q's text report
 * (report_text.render(quiet=True, colors), byte for byte) into VG_R_TEXT.
 * VG_OK; VG_BAIL when a name or site is not ASCII, a sum overflows 64 bits,
 * or the analyzer is unfinished or gave up (the Python report is written
 * then); VG_NO_MEMORY. */
int vg_render_quiet(vg *a, int colors);

uint64_t vg_bail_line(const vg *a);
const char *vg_bail_reason(const vg *a);

/* Segment records, in report order. */
enum {
    VG_SEG_INDEX, VG_SEG_ORDINAL /* 0: before the tests */, VG_SEG_STATUS /* 0 none, 1-6 */,
    VG_SEG_SUMMARY, VG_SEG_HAS_HEAP, VG_SEG_HEAP_BASE, VG_SEG_HEAP_SIZE,
    VG_SEG_HAS_PEAK_HEAP, VG_SEG_PEAK_BASE, VG_SEG_PEAK_SIZE,
    VG_SEG_TOTAL, VG_SEG_ALLOCATIONS, VG_SEG_MAX_LIVE, VG_SEG_FAILED,
    VG_SEG_HAS_GAP_PEAK, VG_SEG_GAP_PEAK, VG_SEG_HAS_GAP_END, VG_SEG_GAP_END,
    VG_SEG_TOUCHED,
    VG_SEG_FIELDS
};
/* Findings, in the order they were made; kind is one of VG_KIND_*. */
enum {
    VG_F_SEG /* position in the segment records */, VG_F_KIND, VG_F_PTR, VG_F_SIZE, VG_F_SITE,
    VG_F_LINE, VG_F_HAS_OFFSET, VG_F_OFFSET, VG_F_FIRST_SIZE, VG_F_FIRST_SITE, VG_F_FIRST_LINE,
    VG_FINDING_FIELDS
};
enum { VG_KIND_LEAK, VG_KIND_REINIT, VG_KIND_PERSISTENT, VG_KIND_DOUBLE_FREE,
       VG_KIND_INVALID_FREE, VG_KIND_TWICE };
/* Site tables (each segment's allocations, and its blocks live at the peak). */
enum { VG_S_SEG, VG_S_SITE, VG_S_COUNT, VG_S_BYTES, VG_SITE_FIELDS };

enum {
    VG_R_SEGMENTS,      /* VG_SEG_FIELDS words each */
    VG_R_FINDINGS,      /* VG_FINDING_FIELDS words each */
    VG_R_SITES,         /* VG_SITE_FIELDS words each */
    VG_R_PEAK_SITES,    /* VG_SITE_FIELDS words each */
    VG_R_SITE_TEXT,     /* the sites' bytes, one after the other */
    VG_R_SITE_OFFSETS,  /* uint64_t: where site i starts (the last ends with the text) */
    VG_R_NAMES,         /* the segments' names: bytes */
    VG_R_NAME_OFFSETS,  /* uint64_t: where segment i's name starts (the same way) */
    VG_R_GLOBALS,       /* uint64_t: has collected, collected, tests, then the totals:
                           leaks, bad frees, blocks allocated twice, highest peak */
    VG_R_JSON,          /* after vg_render_json: the segments' JSON, bytes */
    VG_R_TEXT,          /* after vg_render_quiet: the -q report, bytes */
    VG_R_COUNT
};
/* The start of result `which` and its length in bytes (*nbytes); NULL and 0
 * for an unknown which or an empty result. Complete after vg_finish returned
 * VG_OK; valid until the next call on a, or vg_delete. */
const void *vg_result(vg *a, int which, uint64_t *nbytes);

#endif
