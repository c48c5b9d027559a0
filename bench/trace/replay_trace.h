/**
 * @file replay_trace.h
 * @brief trace_replay's decoded trace: a hatrace trace (FORMAT.md) turned
 *        once into an array of operations, so that the replay measures the
 *        allocator and not the reader.
 *
 * What is kept (the rules are replay.c's header comment's "What is
 * replayed"): failed calls, frees of unknown pointers, FORK records and
 * realloc(unknown, 0) are skipped; realloc(NULL or unknown, size) is a
 * malloc; realloc(p, 0) that freed p is a free; calloc and reallocarray
 * carry nmemb * size; the aligned kinds carry their alignment (a power of
 * two, checked here); a fork child's inherited blocks are mallocs.
 */
#ifndef REPLAY_TRACE_H
#define REPLAY_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

enum replay_op_kind {
    ROP_MALLOC,  /* slot id = malloc(size) */
    ROP_CALLOC,  /* slot id = calloc(1, size) */
    ROP_ALIGNED, /* slot id = aligned(align, size) */
    ROP_REALLOC, /* slot id = realloc(slot old, size); old != id: slot old emptied */
    ROP_FREE,    /* free(slot old) */
};

typedef struct replay_op {
    uint8_t kind;   /* enum replay_op_kind */
    uint64_t id;    /* the block made (MALLOC, CALLOC, ALIGNED, REALLOC) */
    uint64_t old;   /* the block passed in (REALLOC, FREE) */
    uint64_t size;  /* bytes asked for */
    uint64_t align; /* ALIGNED: a power of two */
} replay_op;

typedef struct replay_trace {
    const char *path;
    char program[HAT_NAME_MAX + 1];
    replay_op *ops;
    size_t n_ops;
    uint64_t slots;     /* max_id + 1: every id indexes an array of this many */
    uint64_t peak_live; /* bytes: the sum of the sizes asked for of the blocks live at once */
    uint64_t records;   /* the reader's operations */
    uint64_t skipped;   /* failed calls, unknown frees, forks, no-op reallocs */
} replay_trace;

/* Reads and decodes the trace at path into *d. 0, or -1 after printing one
 * line "trace_replay: PATH: why" on stderr (d then holds no memory). */
int replay_trace_decode(const char *path, replay_trace *d);

/* Frees what replay_trace_decode allocated (d->ops). */
void replay_trace_free(replay_trace *d);

#endif /* REPLAY_TRACE_H */
