/* The analyzer core's state, shared by its files:
 *   vg_tables.c  growable vectors, the live-block map, the freed set, site interning;
 *   vg_lines.c   what a line is (pytest's test, status and `collected` lines, `==MP ` events);
 *   vg_model.c   the heap segments, live blocks and findings (model.py's rules);
 *   vg_feed.c    reading a file descriptor line by line, and the results (vg.h);
 *   vg_json.c    the segments of the --json document;
 *   vg_text.c    the -q text report (vg_out.h: what both write with).
 *
 * The core applies the rules of profiling/valground_lib/model.py to the lines
 * the Python reader's fast path reads (stream.py), and gives up (vg_bail) on
 * anything else: the Python reader then reads the input again from its start,
 * so the core never needs to know a warning's wording or a slow path's rule.
 */
#ifndef VG_INTERNAL_H
#define VG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vg.h"

/* -- vectors ------------------------------------------------------------------ */
typedef struct {
    void *data;
    size_t len;     /* elements */
    size_t cap;
    size_t elem;    /* bytes per element */
} vg_vec;

void vg_vec_init(vg_vec *v, size_t elem);
void vg_vec_free(vg_vec *v);
/* a pointer to a new zeroed element at the end; NULL when out of memory */
void *vg_vec_push(vg_vec *v);
/* room for need elements; false when out of memory */
int vg_vec_reserve(vg_vec *v, size_t need);
/* n bytes appended (a byte vector); false when out of memory */
int vg_vec_append(vg_vec *v, const void *bytes, size_t n);
#define VG_AT(v, type, i) (((type *)(v)->data)[i])

/* -- blocks -------------------------------------------------------------------- */
typedef struct {
    uint64_t ptr, size, seq, line;
    uint32_t site;      /* interned site id */
    uint32_t persist;
} vg_block;

/* ptr -> block, open addressing with linear probing and backward-shift
 * deletion (no tombstones: a long run of allocs and frees stays fast). */
typedef struct {
    vg_block *slots;
    uint8_t *used;
    size_t cap;         /* a power of two, or 0 */
    size_t len;
} vg_map;

void vg_map_free(vg_map *m);
vg_block *vg_map_get(vg_map *m, uint64_t ptr);
/* the slot for ptr (new, zeroed but for ptr, when absent); NULL when out of memory */
vg_block *vg_map_put(vg_map *m, uint64_t ptr);
/* removes ptr, copying its block to *out; false when absent */
int vg_map_pop(vg_map *m, uint64_t ptr, vg_block *out);
void vg_map_clear(vg_map *m);

/* A set of addresses cleared in O(1) by a generation count. */
typedef struct {
    uint64_t *keys;
    uint32_t *gen;
    size_t cap, len;
    uint32_t now;
} vg_set;

void vg_set_free(vg_set *s);
int vg_set_has(const vg_set *s, uint64_t key);
int vg_set_add(vg_set *s, uint64_t key);   /* false when out of memory */
void vg_set_clear(vg_set *s);

/* Interned byte strings (sites, test names share nothing: sites only). */
typedef struct {
    vg_vec blob;        /* bytes */
    vg_vec offs;        /* uint64_t: start of string i, then the blob's end */
    uint32_t *slots;    /* id + 1, 0 empty */
    size_t cap;
} vg_strings;

void vg_strings_init(vg_strings *s);
void vg_strings_free(vg_strings *s);
/* the id of the string, added when new; UINT32_MAX when out of memory */
uint32_t vg_intern(vg_strings *s, const char *p, size_t n);

/* -- lines ----------------------------------------------------------------------- */
enum { VG_EV_ALLOC, VG_EV_PERSIST, VG_EV_FREE, VG_EV_INIT, VG_EV_FAILED };

typedef struct {
    int kind;
    uint64_t size;      /* alloc, persist; the heap's size for init */
    uint64_t ptr;       /* the block; the heap's base for init */
    const char *site;   /* alloc, persist, free */
    size_t site_len;
} vg_event;

/* The event after a `==MP ` marker, p..end the rest of the line without its
 * newline, in one of the forms the Python fast path reads (stream.py's
 * EVENT_PATTERN and INIT_RE, an alloc or persist at 0x0 as parse.py reads it).
 * false for anything else. */
int vg_parse_event(const char *p, const char *end, vg_event *ev);

/* The status (1-6, parse.STATUS_WORDS' order) of a line holding only a
 * pytest status (parse.parse_status_line), else 0. */
int vg_status_line(const char *p, const char *end);
/* The status word (1-6) the line starts with, else 0. */
int vg_starts_with_status(const char *p, const char *end);

typedef struct {
    const char *name;
    size_t name_len;
    int status;
    int summary;
} vg_test_line;

/* parse.parse_test_line and is_summary_line on a raw line (no newline):
 * 1 a test line (*t filled; the name may point into scratch, which
 * holds at least end - p bytes), 0 not one. */
int vg_parse_test_line(const char *p, const char *end, char *scratch, vg_test_line *t);
/* parse.parse_collected: 1 with *n, 0 none, -1 a number too wide for the core */
int vg_parse_collected(const char *p, const char *end, uint64_t *n);

/* -- the model --------------------------------------------------------------------- */
/* A segment is its exported record, VG_SEG_FIELDS words (vg.h). */
#define VG_SEG(a, i) ((uint64_t *)(a)->segs.data + (size_t)(i) * VG_SEG_FIELDS)

struct vg {
    int lean;
    /* results */
    vg_vec segs;        /* uint64_t, VG_SEG_FIELDS per segment */
    vg_vec names;       /* bytes */
    vg_vec name_offs;   /* uint64_t: where each segment's name starts (then the end, on export) */
    vg_vec findings;    /* uint64_t[VG_FINDING_FIELDS] */
    vg_vec seg_sites;   /* uint64_t[VG_SITE_FIELDS] */
    vg_vec peak_sites;  /* uint64_t[VG_SITE_FIELDS] */
    vg_strings sites;
    uint64_t collected;
    int has_collected;
    uint64_t tests;
    uint64_t globals[7];    /* VG_R_GLOBALS */
    vg_vec json;        /* VG_R_JSON: bytes */
    vg_vec text;        /* VG_R_TEXT: bytes */
    /* heap state */
    int has_heap;
    uint64_t heap_base, heap_size;
    vg_map live;
    vg_vec starts;      /* uint64_t, sorted: the live blocks' addresses */
    uint64_t live_bytes;
    vg_set freed;
    uint64_t seq;
    /* the current segment and the owner of the open heap (indexes, or -1) */
    size_t seg;
    long long owner;
    /* peak state (model.py's module docstring) */
    uint64_t peak_seq;
    vg_vec frecs;       /* vg_block: blocks removed since the peak */
    int snap_valid;
    vg_vec snap;        /* vg_block: the live blocks at the peak */
    /* per-site accumulators for the site tables, valid when stamped with
     * the current stamp: [stamp, count, bytes] for the segment's
     * allocations, then the same for its blocks live at the peak */
    vg_vec site_acc;    /* uint64_t[6] per site */
    uint64_t stamp;     /* one per segment opened, and per peak grouping */
    vg_vec seg_site_ids;   /* uint32_t: the current segment's sites, first use first */
    vg_map snap_map;    /* scratch: the peak's blocks by address */
    vg_vec sorted;      /* scratch: vg_block, the live blocks sorted (vg_model.c live_sorted) */
    /* the input */
    uint64_t line;      /* the current line's number in its stream */
    int bailed;
    int finished;       /* vg_finish returned VG_OK */
    uint64_t bail_line;
    const char *bail_reason;
    int oom;
    char *scratch;
    size_t scratch_cap;
};

/* model.py's operations; each returns false when the core must give up
 * (vg->bail_reason says why) or memory ran out (vg->oom). */
int vg_model_start(vg *a);
int vg_model_other(vg *a, const char *p, const char *end);
int vg_model_status(vg *a, int status);
int vg_model_event(vg *a, const vg_event *ev);
int vg_model_finish(vg *a);
int vg_fail(vg *a, const char *reason);
/* Analyzer.totals: leaks, bad frees, blocks allocated twice, highest peak */
void vg_totals(const vg *a, uint64_t out[4]);
int vg_oom(vg *a);

#endif
