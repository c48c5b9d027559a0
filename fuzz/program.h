/**
 * @file program.h
 * @brief The fuzz program format (fuzz/FORMAT.md): bytes <-> operations <->
 *        readable text. The one place that knows the encoding; the
 *        interpreter, the decoder and the encoder all go through it.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FUZZ_SLOTS 64u
#define FUZZ_HEAP_SIZES 16u
#define FUZZ_MAX_BYTES 255u

typedef enum {
    OP_ALLOC,
    OP_CALLOC,
    OP_REALLOC,
    OP_FREE,
    OP_STAT,
    OP_PARSE,
    OP_CHECK,
    OP_STRDUP,
    OP_RECALLOC,
    OP_CLEANUP,
    OP_PERSIST,
    OP_REINIT,
    OP_POKE,
    OP_POKE32,
    OP_COPY,
    OP_FREE_AT,
    OP_PLANT,
    OP_KIND_COUNT
} op_kind_t;

/** A size as encoded: kind (0..7), low 5 bits, and the kind's extra value. */
typedef struct {
    uint8_t kind;
    uint8_t low;
    uint32_t extra; /* v for kinds 1, 2, 7; the int8 delta (as uint8) for 3, 4, 5 */
} size_spec_t;

typedef struct {
    op_kind_t kind;
    uint8_t slot;
    size_spec_t size;
    uint8_t len;                   /* OP_STRDUP */
    uint8_t bytes[FUZZ_MAX_BYTES]; /* OP_STRDUP */
    uint32_t offset;               /* OP_POKE, OP_POKE32, OP_FREE_AT, OP_PLANT; OP_COPY: destination */
    uint8_t value;                 /* OP_POKE; OP_PLANT: what (PLANT_*, and the slot) */
    uint32_t word;                 /* OP_POKE32: the value; OP_COPY: the source offset */
    uint8_t count;                 /* OP_COPY: bytes copied, 1..FUZZ_MAX_COPY */
} op_t;

/** What OP_PLANT writes (value % 4), a pointer-sized address an attacker
 *  would plant: a decoy fault handler, a decoy user pointer, the handler the
 *  target registered, or the payload address of slot value >> 2 (NULL when
 *  that slot is empty). */
typedef enum { PLANT_HANDLER, PLANT_USER, PLANT_REGISTERED, PLANT_BLOCK } plant_kind_t;

/** Largest OP_COPY: a header, or a free chunk's header and links, and more. */
#define FUZZ_MAX_COPY 16u

/** Which operations a target supports, in opcode order. */
typedef struct {
    const char *name;
    const op_kind_t *ops;
    uint8_t op_count;
} op_table_t;

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
} reader_t;

/** Heap size of header byte b. */
size_t prog_heap_size(uint8_t b);
/** Header byte for a heap size, or -1 when the size is not in the table. */
int prog_heap_byte(size_t heap_size);

/** Whether operations of this kind take a slot, and a size (FORMAT.md's
 *  tables; the structure-aware mutator asks, fuzz/mutator.c). */
bool prog_op_has_slot(op_kind_t kind);
bool prog_op_has_size(op_kind_t kind);

/** Reads the next operation; false once the input is exhausted. */
bool prog_read_op(reader_t *r, const op_table_t *table, op_t *op);

/** The size a spec means now, given the heap's largest free chunk and size. */
size_t prog_eval_size(const size_spec_t *s, size_t largest_free, size_t heap_size);

/** Readable form of one operation (no newline), as FORMAT.md shows it. */
void prog_print_op(FILE *out, const op_t *op);
void prog_print_size(FILE *out, const size_spec_t *s);
const char *prog_op_name(op_kind_t kind);

/**
 * Parses one line of readable text into *op. Returns 1 for an operation,
 * 0 for a blank or comment line, -1 with a message in err for bad text.
 */
int prog_parse_op(const char *line, op_t *op, char *err, size_t err_len);

/** Appends the bytes of op for the target to out (at most 512 bytes); the
 *  number written, or 0 when the target does not support the operation. */
size_t prog_encode_op(const op_table_t *table, const op_t *op, uint8_t *out);
