/**
 * @file trace.h
 * @brief hatrace: the allocation trace format's constants and its reader.
 *
 * The format is specified in bench/trace/FORMAT.md; the tracer
 * (tracer.c, LD_PRELOAD) writes it, this reader (trace_read.c) reads and
 * checks it, trace_stat.c summarizes it, and the replayer reads traces
 * through this API.
 *
 * Reader contract, in short:
 *   - Every length, count, id and thread index read from a trace is checked
 *     against what the trace can hold before it is used: a hostile or
 *     truncated trace gets an error naming the byte offset, never a crash,
 *     an unbounded allocation or a read past the data.
 *   - Ids are checked as the tracer makes them: a new block's id is never
 *     live and at most one more than the largest id seen so far; a freed or
 *     reallocated id is live; thread indexes are dense (first seen first);
 *     the trailer's counts match the records. A record that passes these
 *     checks can be replayed into a table indexed by id without further
 *     checks (ids <= hat_header.max_id for a complete trace).
 *   - The reader allocates O(peak live blocks) memory besides the trace;
 *     hat_open_file reads the whole file into memory.
 */
#ifndef HATRACE_TRACE_H
#define HATRACE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- format constants (FORMAT.md) ------------------------------------- */

#define HAT_MAGIC "HATRACE"          /* 8 bytes with its NUL: 48 41 54 52 41 43 45 00 */
#define HAT_MAGIC_LEN 8u
#define HAT_FOOTER_MAGIC "HATREND"   /* the last 8 bytes of a complete trace, NUL included */
#define HAT_FOOTER_MAGIC_LEN 8u
#define HAT_VERSION 1u
#define HAT_NAME_MAX 255u            /* longest program name in a header */
#define HAT_ID_MAX ((uint64_t)1 << 48) /* no trace holds a larger id */
#define HAT_THREAD_MAX ((uint64_t)1 << 31)
#define HAT_SIZE_MAX ((uint64_t)INT64_MAX) /* largest size of a successful allocation */

/* Record kinds: the low 5 bits of a record's first byte. */
enum hat_kind {
    HAT_K_MALLOC = 1,         /* id size */
    HAT_K_CALLOC = 2,         /* id nmemb size */
    HAT_K_REALLOC = 3,        /* [old] new size */
    HAT_K_REALLOCARRAY = 4,   /* [old] new nmemb size */
    HAT_K_FREE = 5,           /* [id] */
    HAT_K_POSIX_MEMALIGN = 6, /* id align size */
    HAT_K_ALIGNED_ALLOC = 7,  /* id align size */
    HAT_K_MEMALIGN = 8,       /* id align size */
    HAT_K_VALLOC = 9,         /* id align size (align: the page size) */
    HAT_K_PVALLOC = 10,       /* id align size (align: the page size; size as asked) */
    HAT_K_THREAD = 16,        /* index: the records that follow are this thread's */
    HAT_K_FORK = 17,          /* index: this process forked (its n-th fork, from 0) */
    HAT_K_END = 31,           /* records threads max_id free_null untraced, then the footer */
};
/* Bit 7 of the first byte, on FREE, REALLOC and REALLOCARRAY only: the
 * pointer passed in was one the tracer never saw; its id field is absent. */
#define HAT_UNKNOWN_FLAG 0x80u
#define HAT_KIND_MASK 0x1fu

/* ---- reader ------------------------------------------------------------ */

/* What a record did. HAT_OP_INHERIT is not a record of the file: the reader
 * yields one per block a forked child's trace starts with (the header's
 * inherited list), before the first record, so that a replayer allocates
 * them as it would a malloc. THREAD records are not yielded: every record
 * carries its thread. */
typedef enum hat_op {
    HAT_OP_MALLOC = HAT_K_MALLOC,
    HAT_OP_CALLOC = HAT_K_CALLOC,
    HAT_OP_REALLOC = HAT_K_REALLOC,
    HAT_OP_REALLOCARRAY = HAT_K_REALLOCARRAY,
    HAT_OP_FREE = HAT_K_FREE,
    HAT_OP_POSIX_MEMALIGN = HAT_K_POSIX_MEMALIGN,
    HAT_OP_ALIGNED_ALLOC = HAT_K_ALIGNED_ALLOC,
    HAT_OP_MEMALIGN = HAT_K_MEMALIGN,
    HAT_OP_VALLOC = HAT_K_VALLOC,
    HAT_OP_PVALLOC = HAT_K_PVALLOC,
    HAT_OP_FORK = HAT_K_FORK,
    HAT_OP_INHERIT = 32,
} hat_op;

#define HAT_OP_COUNT 33 /* hat_op values are < HAT_OP_COUNT */

/* One operation. Fields that do not apply to the op are 0 / false. */
typedef struct hat_record {
    hat_op op;
    uint32_t thread;      /* dense thread index, 0 = the first thread seen */
    uint64_t id;          /* the block the call returned; 0: it returned NULL
                             (a failed call, or realloc(p, 0) freeing p) */
    uint64_t old_id;      /* FREE, REALLOC, REALLOCARRAY: the block passed
                             in; 0: NULL was passed, or old_unknown */
    bool old_unknown;     /* the pointer passed in was never seen by the tracer
                             (allocated before it started, or untraced):
                             a replayer skips such a FREE and treats such a
                             REALLOC as an allocation of size */
    bool old_freed;       /* old_id is no longer live after this call (a free,
                             a moved realloc, realloc(p, 0)) */
    uint64_t size;        /* bytes asked for; CALLOC / REALLOCARRAY: nmemb *
                             elem_size (UINT64_MAX when that overflows: the
                             call failed); INHERIT: the block's size */
    uint64_t nmemb;       /* CALLOC, REALLOCARRAY: as passed */
    uint64_t elem_size;   /* CALLOC, REALLOCARRAY: as passed */
    uint64_t align;       /* the aligned kinds: the alignment passed (VALLOC,
                             PVALLOC: the page size); not checked to be a
                             power of two (a failed call may carry any) */
    uint64_t old_size;    /* the size old_id had when it was allocated or
                             last reallocated (0 when old_id is 0) */
    uint64_t fork_index;  /* FORK: the how-many-th fork of this process */
    uint64_t offset;      /* byte offset of the record in the trace */
} hat_record;

/* The header and, once hat_open succeeded on a complete trace, the trailer. */
typedef struct hat_header {
    uint32_t version;
    uint64_t pid;          /* the traced process */
    uint64_t parent_pid;   /* a fork child's trace: its parent's pid; else 0 */
    uint64_t fork_index;   /* a fork child's trace: the parent's FORK index */
    uint64_t page_size;
    char name[HAT_NAME_MAX + 1]; /* the executable's base name, NUL-terminated
                                    (a NUL byte inside is refused) */
    uint64_t inherited;    /* blocks live when the trace starts (fork child) */
    bool complete;         /* the trailer is there (always, without HAT_OPEN_PARTIAL) */
    /* trailer (0 when !complete): */
    uint64_t records;      /* records between header and END, THREAD and FORK included */
    uint64_t threads;      /* threads seen */
    uint64_t max_id;       /* largest id in the trace (inherited ones included);
                              a replayer's table needs max_id + 1 slots */
    uint64_t free_null;    /* free(NULL) calls: not recorded, counted */
    uint64_t untraced;     /* calls made while the tracer was busy (re-entrant
                              calls from a signal handler or from libc inside a
                              traced call) or initializing: passed through,
                              not recorded */
    uint64_t data_offset;  /* byte offset of the first record */
    uint64_t trace_bytes;  /* length of the trace */
} hat_header;

typedef struct hat_error {
    bool has_offset;       /* false: an error of the file (open, read) or memory */
    uint64_t offset;       /* where the bad data starts */
    char msg[256];         /* "byte N: what is wrong", or the system error */
} hat_error;

typedef struct hat_trace hat_trace;

/* hat_open flags */
#define HAT_OPEN_PARTIAL 1u  /* accept a trace without its trailer (the traced
                                program ended by _exit or a signal): iteration
                                ends at the last whole record, hat_header.complete
                                is false. Without it, a missing trailer is an
                                error ("truncated"). */

/* Opens a trace held in memory. data must stay valid and unchanged until
 * hat_close (it is not copied). Parses and checks the header, and finds and
 * checks the trailer (so the header's trailer fields are known up front).
 * Returns the trace, or NULL with *err filled (err may be NULL): a bad
 * header or trailer, or no memory. */
hat_trace *hat_open_mem(const void *data, size_t len, unsigned flags, hat_error *err);

/* Reads the file at path into memory, then as hat_open_mem. NULL with *err
 * (the system error, no offset) when the file cannot be read. */
hat_trace *hat_open_file(const char *path, unsigned flags, hat_error *err);

const hat_header *hat_get_header(const hat_trace *t);

/* Decodes the next operation into *rec (inherited blocks first).
 * Returns 1: a record; 0: the end (a complete trace's END record and
 * footer checked: counts match; or, partial, the data ended on a record
 * boundary); -1: bad data, hat_last_error says where and why. After 0 or
 * -1 it keeps returning the same. */
int hat_next(hat_trace *t, hat_record *rec);

/* The error of the last failed hat_next (NULL if none). */
const hat_error *hat_last_error(const hat_trace *t);

/* Back to the first record (the checks start over). 0, or -1 without memory. */
int hat_rewind(hat_trace *t);

void hat_close(hat_trace *t);

/* "malloc", "calloc", ..., "inherit"; "?" for a value outside hat_op. */
const char *hat_op_name(hat_op op);

/* Whether op makes a block from nothing: malloc, calloc, the aligned kinds,
 * inherit (not free, realloc, reallocarray, fork). */
bool hat_op_is_alloc(hat_op op);

#ifdef __cplusplus
}
#endif

#endif /* HATRACE_TRACE_H */
