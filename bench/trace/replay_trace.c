/**
 * @file replay_trace.c
 * @brief trace_replay's decoding of a trace into replayable operations
 *        (replay_trace.h).
 */
#include "replay_trace.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int push(replay_trace *d, size_t *cap, replay_op op) {
    if (d->n_ops == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4096;
        replay_op *n = realloc(d->ops, ncap * sizeof *n);
        if (!n)
            return -1;
        d->ops = n;
        *cap = ncap;
    }
    d->ops[d->n_ops++] = op;
    return 0;
}

/* Reads and decodes one trace. 0, or -1 after printing the error line. */
int replay_trace_decode(const char *path, replay_trace *d) {
    memset(d, 0, sizeof *d);
    d->path = path;
    hat_error err;
    hat_trace *t = hat_open_file(path, 0, &err);
    if (!t) {
        fprintf(stderr, "trace_replay: %s: %s\n", path, err.msg);
        return -1;
    }
    const hat_header *h = hat_get_header(t);
    memcpy(d->program, h->name, sizeof d->program);
    d->slots = h->max_id + 1;
    if (d->slots > SIZE_MAX / (2 * sizeof(void *))) {
        fprintf(stderr, "trace_replay: %s: max_id %" PRIu64 " too large\n", path, h->max_id);
        hat_close(t);
        return -1;
    }
    /* live sizes per id, for the peak live bytes */
    uint64_t *live = calloc((size_t)d->slots, sizeof *live);
    if (!live) {
        fprintf(stderr, "trace_replay: %s: out of memory\n", path);
        hat_close(t);
        return -1;
    }
    uint64_t live_bytes = 0;
    size_t cap = 0;
    hat_record r;
    int rc;
    int bad = 0;
    while ((rc = hat_next(t, &r)) == 1) {
        d->records++;
        replay_op op = {0};
        bool emit = true;
        switch (r.op) {
        case HAT_OP_FORK:
            emit = false;
            break;
        case HAT_OP_FREE:
            if (r.old_unknown || r.old_id == 0) {
                emit = false;
                break;
            }
            op.kind = ROP_FREE;
            op.old = r.old_id;
            live_bytes -= live[r.old_id];
            live[r.old_id] = 0;
            break;
        case HAT_OP_REALLOC:
        case HAT_OP_REALLOCARRAY:
            if (r.id == 0) {
                if (r.old_id && r.old_freed) { /* realloc(p, 0) freed p */
                    op.kind = ROP_FREE;
                    op.old = r.old_id;
                    live_bytes -= live[r.old_id];
                    live[r.old_id] = 0;
                } else { /* failed, or realloc(unknown, 0) */
                    emit = false;
                }
                break;
            }
            if (r.old_id == 0) { /* realloc(NULL or unknown, size): an allocation */
                op.kind = ROP_MALLOC;
            } else {
                op.kind = ROP_REALLOC;
                op.old = r.old_id;
                live_bytes -= live[r.old_id];
                live[r.old_id] = 0;
            }
            op.id = r.id;
            op.size = r.size;
            live[r.id] = r.size;
            live_bytes += r.size;
            break;
        case HAT_OP_CALLOC:
        case HAT_OP_MALLOC:
        case HAT_OP_INHERIT:
        case HAT_OP_POSIX_MEMALIGN:
        case HAT_OP_ALIGNED_ALLOC:
        case HAT_OP_MEMALIGN:
        case HAT_OP_VALLOC:
        case HAT_OP_PVALLOC:
            if (r.id == 0) { /* failed in the trace */
                emit = false;
                break;
            }
            op.id = r.id;
            op.size = r.size;
            if (r.op == HAT_OP_CALLOC) {
                op.kind = ROP_CALLOC;
            } else if (r.op == HAT_OP_MALLOC || r.op == HAT_OP_INHERIT) {
                op.kind = ROP_MALLOC;
            } else {
                op.kind = ROP_ALIGNED;
                op.align = r.align;
                if (op.align == 0 || (op.align & (op.align - 1)) != 0) {
                    fprintf(stderr, "trace_replay: %s: byte %" PRIu64
                            ": successful aligned allocation with alignment %" PRIu64
                            " (not a power of two)\n", path, r.offset, r.align);
                    bad = 1;
                }
            }
            live[r.id] = r.size;
            live_bytes += r.size;
            break;
        default:
            emit = false;
            break;
        }
        if (bad)
            break;
        if (live_bytes > d->peak_live)
            d->peak_live = live_bytes;
        if (!emit) {
            d->skipped++;
            continue;
        }
        if (push(d, &cap, op) < 0) {
            fprintf(stderr, "trace_replay: %s: out of memory\n", path);
            bad = 1;
            break;
        }
    }
    if (rc < 0 && !bad) {
        fprintf(stderr, "trace_replay: %s: %s\n", path, hat_last_error(t)->msg);
        bad = 1;
    }
    free(live);
    hat_close(t);
    if (bad) {
        free(d->ops);
        d->ops = NULL;
        return -1;
    }
    return 0;
}

void replay_trace_free(replay_trace *d) {
    free(d->ops);
    d->ops = NULL;
    d->n_ops = 0;
}
