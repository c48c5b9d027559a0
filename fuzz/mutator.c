/*
 * The structure-aware mutator (mutator.h): programs, not bytes. An input is
 * decoded with prog_read_op into its header and operations, changed as a
 * program and encoded back with prog_encode_op, so every output is a program
 * of the target's operations and nothing here knows how they are encoded.
 * A changed operation goes through the codec once (normalize: encode, read
 * back), which keeps each field within what its bytes can say.
 */

#include "mutator.h"

#include <string.h>

/* ---- PRNG (splitmix64) ---------------------------------------------------- */

void mut_seed(mut_rng_t *rng, uint64_t seed)
{
    rng->state = seed;
}

static uint64_t next64(mut_rng_t *rng)
{
    uint64_t z = (rng->state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint32_t mut_rand(mut_rng_t *rng)
{
    return (uint32_t)(next64(rng) >> 32);
}

uint32_t mut_below(mut_rng_t *rng, uint32_t n)
{
    return (uint32_t)(((uint64_t)mut_rand(rng) * n) >> 32);
}

/* 0 .. n - 1 for a count (n <= MUT_MAX_OPS, or a byte count <= UINT32_MAX). */
static size_t below_size(mut_rng_t *rng, size_t n)
{
    return n > UINT32_MAX ? (size_t)mut_rand(rng) % n : (size_t)mut_below(rng, (uint32_t)n);
}

/* true one time in n */
static bool one_in(mut_rng_t *rng, uint32_t n)
{
    return mut_below(rng, n) == 0u;
}

static const char *const kind_names[MUT_KIND_COUNT] = {
    "insert", "delete", "duplicate", "swap", "operand", "replace", "header", "splice", "bytes",
};

const char *mut_kind_name(mut_kind_t kind)
{
    return kind < MUT_KIND_COUNT ? kind_names[kind] : "?";
}

/* ---- program <-> bytes, through program.c ---------------------------------- */

/* prog_read_op clears the fields before the string; the ones after it are
 * cleared here so that a decoded operation holds nothing stale. */
static bool read_op(reader_t *r, const op_table_t *table, op_t *op)
{
    op->offset = 0;
    op->value = 0;
    op->word = 0;
    op->count = 0;
    return prog_read_op(r, table, op);
}

void mut_decode(const op_table_t *table, const uint8_t *data, size_t size, mut_prog_t *p)
{
    p->header[0] = size > 0u ? data[0] : 0u;
    p->header[1] = size > 1u ? data[1] : 0u;
    reader_t r = {data, size, size < 2u ? size : 2u};
    p->count = 0;
    while (p->count < MUT_MAX_OPS && read_op(&r, table, &p->ops[p->count])) {
        p->count++;
    }
    p->tail_size = size - r.pos;
    p->tail = p->tail_size > 0u ? data + r.pos : NULL;
}

/* Largest encoding of one operation (prog_encode_op). */
#define OP_BYTES_MAX 512u

size_t mut_encode(const op_table_t *table, const mut_prog_t *p, uint8_t *out, size_t max_size)
{
    size_t n = 0;
    for (unsigned i = 0; i < 2u && n < max_size; i++) {
        out[n++] = p->header[i];
    }
    if (n < 2u) {
        return n;
    }
    uint8_t buf[OP_BYTES_MAX];
    for (size_t i = 0; i < p->count; i++) {
        size_t k = prog_encode_op(table, &p->ops[i], buf);
        if (k > max_size - n) {
            return n; /* the operations that fit whole, and no tail */
        }
        memcpy(out + n, buf, k);
        n += k;
    }
    size_t k = p->tail_size < max_size - n ? p->tail_size : max_size - n;
    if (k > 0u) {
        memcpy(out + n, p->tail, k);
        n += k;
    }
    return n;
}

/* An operation as its bytes say it: encoded, then read back. */
static void normalize(const op_table_t *table, op_t *op)
{
    uint8_t buf[OP_BYTES_MAX];
    size_t n = prog_encode_op(table, op, buf);
    reader_t r = {buf, n, 0};
    if (n == 0u || !read_op(&r, table, op)) {
        /* not one of the target's operations: cannot happen, as every kind
         * comes from the table; make it the table's first, whole */
        memset(op, 0, sizeof *op);
        op->kind = table->ops[0];
        normalize(table, op);
    }
}

static bool same_op(const op_table_t *table, const op_t *a, const op_t *b)
{
    uint8_t ea[OP_BYTES_MAX], eb[OP_BYTES_MAX];
    size_t na = prog_encode_op(table, a, ea);
    size_t nb = prog_encode_op(table, b, eb);
    return na == nb && memcmp(ea, eb, na) == 0;
}

/* ---- random values for operands ----------------------------------------- */

static uint32_t heap_of(const mut_prog_t *p)
{
    return (uint32_t)prog_heap_size(p->header[0]);
}

static uint32_t interesting32(mut_rng_t *rng, uint32_t heap)
{
    static const uint32_t values[] = {
        0u,           1u,          4u,          8u,          0x7fu,      0x80u,       0xffu,
        0x100u,       0x7fffu,     0x8000u,     0xffffu,     0x10000u,   0x7fffffffu, 0x80000000u,
        0xfffffff8u,  0xfffffffcu, 0xffffffffu,
    };
    uint32_t n = (uint32_t)(sizeof values / sizeof values[0]);
    uint32_t i = mut_below(rng, n + 3u);
    if (i < n) {
        return values[i];
    }
    return i == n ? heap : i == n + 1u ? heap - 8u : heap + 8u;
}

/* An offset into the arena (reduced modulo its size when it runs): mostly
 * inside the heap and 4- or 8-aligned (headers, links, canaries), the
 * context's first bytes, around the end, or far away. */
static uint32_t gen_offset(mut_rng_t *rng, uint32_t heap)
{
    uint32_t r = mut_below(rng, 100);
    if (r < 45u) {
        return mut_below(rng, heap / 8u) * 8u + (one_in(rng, 2) ? 4u : 0u);
    }
    if (r < 65u) {
        return mut_below(rng, heap);
    }
    if (r < 80u) {
        return mut_below(rng, 128);
    }
    if (r < 90u) {
        return heap - 16u + mut_below(rng, 32);
    }
    return interesting32(rng, heap);
}

/* An offset or word already in the program (aims a poke where another
 * operation pointed), false when there is none. */
static bool borrow(mut_rng_t *rng, const mut_prog_t *p, uint32_t *v)
{
    for (unsigned tries = 0; tries < 4u && p->count > 0u; tries++) {
        const op_t *o = &p->ops[below_size(rng, p->count)];
        switch (o->kind) {
        case OP_POKE:
        case OP_FREE_AT:
        case OP_PLANT: *v = o->offset; return true;
        case OP_POKE32:
        case OP_COPY: *v = one_in(rng, 2) ? o->offset : o->word; return true;
        default: break;
        }
    }
    return false;
}

/* A 32-bit word written into the arena: a chunk length with flag bits, an
 * offset, a boundary value, one of the program's offsets, anything. */
static uint32_t gen_word(mut_rng_t *rng, const mut_prog_t *p)
{
    uint32_t heap = heap_of(p);
    uint32_t r = mut_below(rng, 100);
    uint32_t v;
    if (r < 25u) {
        return (1u + mut_below(rng, 64)) * 8u + mut_below(rng, 4);
    }
    if (r < 50u) {
        return gen_offset(rng, heap);
    }
    if (r < 70u) {
        return interesting32(rng, heap);
    }
    if (r < 80u && borrow(rng, p, &v)) {
        return v + mut_below(rng, 17) - 8u;
    }
    return mut_rand(rng);
}

static uint8_t gen_byte(mut_rng_t *rng)
{
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x20, 0x41};
    return one_in(rng, 2) ? values[mut_below(rng, (uint32_t)sizeof values)] : (uint8_t)mut_rand(rng);
}

/* An int8 delta, as the size kinds 3, 4 and 5 hold it: mostly small. */
static uint32_t gen_delta(mut_rng_t *rng)
{
    if (one_in(rng, 4)) {
        return mut_below(rng, 256);
    }
    return (mut_below(rng, 17) - 8u) & 0xffu; /* -8 .. 8 */
}

/* A size spec of any kind (FORMAT.md "size"), values scaled to the heap. */
static void gen_size(mut_rng_t *rng, uint32_t heap, size_spec_t *s)
{
    static const uint8_t kind_weight[8] = {25, 20, 12, 10, 12, 6, 5, 10}; /* of 100 */
    uint32_t r = mut_below(rng, 100);
    uint8_t kind = 0;
    while (kind < 7u && r >= kind_weight[kind]) {
        r -= kind_weight[kind];
        kind++;
    }
    s->kind = kind;
    s->low = (uint8_t)mut_below(rng, 32);
    s->extra = 0;
    switch (kind) {
    case 1: s->extra = mut_below(rng, 256); break;
    case 2: s->extra = one_in(rng, 4) ? mut_below(rng, 65536) : mut_below(rng, heap + 64u); break;
    case 3:
        s->low = (uint8_t)(one_in(rng, 4) ? mut_below(rng, 32) : 2u + mut_below(rng, 20));
        s->extra = gen_delta(rng);
        break;
    case 4:
    case 5: s->extra = gen_delta(rng); break;
    case 7: s->extra = one_in(rng, 2) ? interesting32(rng, heap) : mut_rand(rng); break;
    default: break; /* kinds 0 and 6: low only */
    }
}

/* A slot, mostly one the program may have filled before position pos
 * (alloc, calloc, persist and strdup take the lowest empty slot). */
static uint8_t gen_slot(mut_rng_t *rng, const mut_prog_t *p, size_t pos)
{
    uint32_t filled = 0;
    for (size_t i = 0; i < pos && i < p->count && filled < FUZZ_SLOTS; i++) {
        op_kind_t k = p->ops[i].kind;
        if (k == OP_ALLOC || k == OP_CALLOC || k == OP_PERSIST || k == OP_STRDUP) {
            filled++;
        }
    }
    uint32_t r = mut_below(rng, 10);
    if (r < 7u) {
        return (uint8_t)mut_below(rng, filled > 0u ? filled : 1u);
    }
    return (uint8_t)(r < 9u ? mut_below(rng, 8) : mut_below(rng, FUZZ_SLOTS));
}

static void gen_string(mut_rng_t *rng, op_t *op)
{
    op->len = (uint8_t)(one_in(rng, 8) ? mut_below(rng, FUZZ_MAX_BYTES + 1u) : mut_below(rng, 33));
    for (unsigned i = 0; i < op->len; i++) {
        op->bytes[i] = (uint8_t)(one_in(rng, 16) ? 0u : one_in(rng, 4) ? mut_rand(rng) & 0xFFu : 0x20u + mut_below(rng, 95));
    }
}

/* plant's what: the kind in the low 2 bits, a slot above them (block). */
static uint8_t gen_plant(mut_rng_t *rng, const mut_prog_t *p, size_t pos)
{
    uint32_t what = mut_below(rng, 4);
    return (uint8_t)(what == PLANT_BLOCK ? what | (uint32_t)gen_slot(rng, p, pos) << 2 : what);
}

/* A random operation of the target, to run at position pos of p. */
static void random_op(mut_rng_t *rng, const op_table_t *table, const mut_prog_t *p, size_t pos, op_t *op)
{
    uint32_t heap = heap_of(p);
    memset(op, 0, sizeof *op);
    op->kind = table->ops[mut_below(rng, table->op_count)];
    if (prog_op_has_slot(op->kind)) {
        op->slot = gen_slot(rng, p, pos);
    }
    if (prog_op_has_size(op->kind)) {
        gen_size(rng, heap, &op->size);
        if (op->kind == OP_REINIT && one_in(rng, 2)) { /* a heap size, or a few bytes off one */
            op->size = (size_spec_t){.kind = 5, .extra = gen_delta(rng)};
        }
    }
    switch (op->kind) {
    case OP_STRDUP: gen_string(rng, op); break;
    case OP_POKE:
        op->offset = gen_offset(rng, heap);
        op->value = gen_byte(rng);
        break;
    case OP_POKE32:
        op->offset = gen_offset(rng, heap);
        op->word = gen_word(rng, p);
        break;
    case OP_COPY:
        op->word = gen_offset(rng, heap);
        op->offset = gen_offset(rng, heap);
        op->count = (uint8_t)(1u + mut_below(rng, FUZZ_MAX_COPY));
        break;
    case OP_FREE_AT: op->offset = gen_offset(rng, heap); break;
    case OP_PLANT:
        op->offset = gen_offset(rng, heap);
        op->value = gen_plant(rng, p, pos);
        break;
    default: break;
    }
    normalize(table, op);
}

/* ---- operand mutation ------------------------------------------------------ */

/* A new value for a 32-bit offset or word: a step, a bit, a fresh one, one
 * of the program's, a boundary value. */
static uint32_t mutate_u32(mut_rng_t *rng, const mut_prog_t *p, uint32_t v, bool is_word)
{
    static const uint32_t steps[] = {1, 2, 4, 8, 16, 32};
    uint32_t r = mut_below(rng, 100);
    uint32_t b;
    if (r < 30u) {
        uint32_t step = steps[mut_below(rng, (uint32_t)(sizeof steps / sizeof steps[0]))];
        return one_in(rng, 2) ? v + step : v - step;
    }
    if (r < 45u) {
        return v ^ (1u << mut_below(rng, 32));
    }
    if (r < 70u) {
        return is_word ? gen_word(rng, p) : gen_offset(rng, heap_of(p));
    }
    if (r < 85u && borrow(rng, p, &b)) {
        return b + mut_below(rng, 9) - 4u;
    }
    return interesting32(rng, heap_of(p));
}

static void mutate_size(mut_rng_t *rng, const mut_prog_t *p, size_spec_t *s)
{
    uint32_t r = mut_below(rng, 100);
    if (r < 30u) {
        gen_size(rng, heap_of(p), s);
    } else if (r < 55u) { /* a step of the value */
        uint32_t step = 1u + mut_below(rng, 8);
        if (s->kind == 0u || s->kind == 6u) {
            s->low = (uint8_t)((one_in(rng, 2) ? s->low + step : s->low - step) & 31u);
        } else {
            s->extra = one_in(rng, 2) ? s->extra + step : s->extra - step;
        }
    } else if (r < 70u) { /* the same bytes read as another kind */
        s->kind = (uint8_t)((s->kind + 1u + mut_below(rng, 7)) & 7u);
    } else if (r < 85u) {
        s->low = (uint8_t)mut_below(rng, 32);
    } else {
        s->extra ^= 1u << mut_below(rng, 32);
    }
}

static void mutate_string(mut_rng_t *rng, op_t *op)
{
    uint32_t r = mut_below(rng, 6);
    unsigned len = op->len;
    if (len == 0u && r < 4u) {
        r = 4; /* nothing to change or cut: grow */
    }
    switch (r) {
    case 0:
    case 1: op->bytes[mut_below(rng, len)] = r == 0u ? 0u : (uint8_t)mut_rand(rng); break;
    case 2: op->len = (uint8_t)mut_below(rng, len); break;
    case 3: { /* one byte out */
        unsigned at = mut_below(rng, len);
        memmove(op->bytes + at, op->bytes + at + 1u, len - at - 1u);
        op->len = (uint8_t)(len - 1u);
        break;
    }
    case 4: { /* 1..16 bytes in */
        unsigned n = 1u + mut_below(rng, 16);
        if (n > FUZZ_MAX_BYTES - len) {
            n = FUZZ_MAX_BYTES - len;
        }
        unsigned at = mut_below(rng, len + 1u);
        memmove(op->bytes + at + n, op->bytes + at, len - at);
        for (unsigned i = 0; i < n; i++) {
            op->bytes[at + i] = (uint8_t)(0x20u + mut_below(rng, 95));
        }
        op->len = (uint8_t)(len + n);
        break;
    }
    default: gen_string(rng, op); break;
    }
}

/* Changes one operand of op (position pos in p); false when op has none. */
static bool mutate_operand(mut_rng_t *rng, const mut_prog_t *p, size_t pos, op_t *op)
{
    /* the operands op has, then one of them */
    enum { F_SLOT, F_SIZE, F_BYTES, F_OFFSET, F_VALUE, F_WORD, F_COUNT, F_PLANT };
    unsigned fields[4];
    unsigned n = 0;
    if (prog_op_has_slot(op->kind)) {
        fields[n++] = F_SLOT;
    }
    if (prog_op_has_size(op->kind)) {
        fields[n++] = F_SIZE;
    }
    switch (op->kind) {
    case OP_STRDUP: fields[n++] = F_BYTES; break;
    case OP_POKE:
        fields[n++] = F_OFFSET;
        fields[n++] = F_VALUE;
        break;
    case OP_POKE32:
        fields[n++] = F_OFFSET;
        fields[n++] = F_WORD;
        break;
    case OP_COPY:
        fields[n++] = F_OFFSET;
        fields[n++] = F_WORD; /* the source */
        fields[n++] = F_COUNT;
        break;
    case OP_FREE_AT: fields[n++] = F_OFFSET; break;
    case OP_PLANT:
        fields[n++] = F_OFFSET;
        fields[n++] = F_PLANT;
        break;
    default: break;
    }
    if (n == 0u) {
        return false;
    }
    switch (fields[mut_below(rng, n)]) {
    case F_SLOT:
        op->slot = (uint8_t)(one_in(rng, 2) ? gen_slot(rng, p, pos) : (op->slot + (one_in(rng, 2) ? 1u : 63u)) & 0xFFu);
        break;
    case F_SIZE: mutate_size(rng, p, &op->size); break;
    case F_BYTES: mutate_string(rng, op); break;
    case F_OFFSET: op->offset = mutate_u32(rng, p, op->offset, false); break;
    case F_VALUE:
        op->value = (uint8_t)(one_in(rng, 2) ? gen_byte(rng) : (op->value ^ (1u << mut_below(rng, 8))) & 0xFFu);
        break;
    case F_WORD: op->word = mutate_u32(rng, p, op->word, op->kind == OP_POKE32); break;
    case F_COUNT: op->count = (uint8_t)(1u + mut_below(rng, FUZZ_MAX_COPY)); break;
    default: op->value = gen_plant(rng, p, pos); break;
    }
    return true;
}

/* ---- the mutations ------------------------------------------------------- */

static bool insert_ops(mut_prog_t *p, size_t at, const op_t *ops, size_t n)
{
    if (n > MUT_MAX_OPS - p->count) {
        return false;
    }
    memmove(&p->ops[at + n], &p->ops[at], (p->count - at) * sizeof p->ops[0]);
    memcpy(&p->ops[at], ops, n * sizeof p->ops[0]);
    p->count += n;
    return true;
}

static bool apply_insert(mut_rng_t *rng, const op_table_t *table, mut_prog_t *p)
{
    if (p->count >= MUT_MAX_OPS) {
        return false;
    }
    /* appending is what grows a program most usefully: a third of the time */
    size_t at = one_in(rng, 3) ? p->count : below_size(rng, p->count + 1u);
    /* one operation, or a few in a row */
    size_t n = one_in(rng, 4) ? 2u + below_size(rng, 3) : 1u;
    for (size_t i = 0; i < n && p->count < MUT_MAX_OPS; i++) {
        op_t op;
        random_op(rng, table, p, at + i, &op);
        insert_ops(p, at + i, &op, 1);
    }
    return true;
}

static bool apply_delete(mut_rng_t *rng, mut_prog_t *p)
{
    if (p->count == 0u) {
        return false;
    }
    size_t n = 1;
    if (one_in(rng, 4)) {
        n = 1u + below_size(rng, p->count < 4u ? p->count : 4u);
    }
    size_t at = below_size(rng, p->count - n + 1u);
    memmove(&p->ops[at], &p->ops[at + n], (p->count - at - n) * sizeof p->ops[0]);
    p->count -= n;
    return true;
}

static bool apply_duplicate(mut_rng_t *rng, mut_prog_t *p)
{
    if (p->count == 0u || p->count >= MUT_MAX_OPS) {
        return false;
    }
    size_t most = p->count < 4u ? p->count : 4u;
    if (most > MUT_MAX_OPS - p->count) {
        most = MUT_MAX_OPS - p->count;
    }
    op_t run[4];
    size_t n = 1u + below_size(rng, most);
    size_t from = below_size(rng, p->count - n + 1u);
    memcpy(run, &p->ops[from], n * sizeof run[0]);
    /* right after itself (alloc, alloc; free 3, free 3), or anywhere; once,
     * or up to 8 times (a run of allocs that fills the heap or the slots) */
    size_t at = one_in(rng, 2) ? from + n : below_size(rng, p->count + 1u);
    size_t copies = one_in(rng, 4) ? 2u + below_size(rng, 7) : 1u;
    for (size_t i = 0; i < copies; i++) {
        if (!insert_ops(p, at, run, n)) { /* the first always fits (most) */
            break;
        }
    }
    return true;
}

static bool apply_swap(mut_rng_t *rng, const op_table_t *table, mut_prog_t *p)
{
    if (p->count < 2u) {
        return false;
    }
    for (unsigned tries = 0; tries < 8u; tries++) {
        size_t i = below_size(rng, p->count);
        size_t j;
        if (one_in(rng, 2)) { /* neighbours: free before the alloc, realloc after the free */
            j = i + 1u < p->count ? i + 1u : i - 1u;
        } else {
            j = below_size(rng, p->count - 1u);
            j += j >= i ? 1u : 0u;
        }
        if (!same_op(table, &p->ops[i], &p->ops[j])) {
            op_t t = p->ops[i];
            p->ops[i] = p->ops[j];
            p->ops[j] = t;
            return true;
        }
    }
    return false;
}

static bool apply_operand(mut_rng_t *rng, const op_table_t *table, mut_prog_t *p)
{
    for (unsigned tries = 0; tries < 16u && p->count > 0u; tries++) {
        size_t i = below_size(rng, p->count);
        op_t op = p->ops[i];
        if (!mutate_operand(rng, p, i, &op)) {
            continue; /* stat, parse, check: no operand */
        }
        normalize(table, &op);
        if (!same_op(table, &op, &p->ops[i])) {
            p->ops[i] = op;
            return true;
        }
    }
    return false;
}

static bool apply_replace(mut_rng_t *rng, const op_table_t *table, mut_prog_t *p)
{
    if (p->count == 0u) {
        return false;
    }
    size_t i = below_size(rng, p->count);
    for (unsigned tries = 0; tries < 8u; tries++) {
        op_t op;
        random_op(rng, table, p, i, &op);
        if (!same_op(table, &op, &p->ops[i])) {
            p->ops[i] = op;
            return true;
        }
    }
    return false;
}

static void apply_header(mut_rng_t *rng, mut_prog_t *p)
{
    if (one_in(rng, 2)) { /* another of the 16 heap sizes */
        p->header[0] = (uint8_t)((p->header[0] % FUZZ_HEAP_SIZES + 1u + mut_below(rng, FUZZ_HEAP_SIZES - 1u)) %
                                 FUZZ_HEAP_SIZES);
    } else if (one_in(rng, 2)) { /* another of the 8 misalignments, the check interval kept */
        p->header[1] = (uint8_t)((p->header[1] & 0x18u) | (p->header[1] % 8u + 1u + mut_below(rng, 7)) % 8u);
    } else { /* another paranoid check interval (FORMAT.md: bits 3-4), the misalignment kept */
        p->header[1] = (uint8_t)((p->header[1] & 7u) | ((p->header[1] >> 3) % 4u + 1u + mut_below(rng, 3)) % 4u << 3);
    }
}

bool mut_apply(mut_rng_t *rng, const op_table_t *table, mut_prog_t *p, mut_kind_t kind)
{
    switch (kind) {
    case MUT_INSERT: return apply_insert(rng, table, p);
    case MUT_DELETE: return apply_delete(rng, p);
    case MUT_DUPLICATE: return apply_duplicate(rng, p);
    case MUT_SWAP: return apply_swap(rng, table, p);
    case MUT_OPERAND: return apply_operand(rng, table, p);
    case MUT_REPLACE: return apply_replace(rng, table, p);
    case MUT_HEADER: apply_header(rng, p); return true;
    default: return false; /* MUT_SPLICE, MUT_BYTES: mut_splice, mut_bytes */
    }
}

bool mut_splice(mut_rng_t *rng, const op_table_t *table, mut_prog_t *p, const mut_prog_t *other)
{
    size_t keep = p->count > 0u ? 1u + below_size(rng, p->count) : 0u;
    size_t from = other->count > 0u ? below_size(rng, other->count) : 0u;
    if (keep + (other->count - from) > MUT_MAX_OPS) { /* the last ones of other that fit */
        from = other->count - (MUT_MAX_OPS - keep);
    }
    size_t n = other->count - from;
    bool changed = keep + n != p->count || other->tail_size != p->tail_size ||
                   (p->tail_size > 0u && memcmp(other->tail, p->tail, p->tail_size) != 0);
    for (size_t i = 0; i < n && !changed; i++) {
        changed = !same_op(table, &p->ops[keep + i], &other->ops[from + i]);
    }
    if (!changed) {
        return false;
    }
    memmove(&p->ops[keep], &other->ops[from], n * sizeof p->ops[0]);
    p->count = keep + n;
    p->tail = other->tail;
    p->tail_size = other->tail_size;
    return true;
}

/* ---- bytes ------------------------------------------------------------------ */

size_t mut_bytes(mut_rng_t *rng, uint8_t *data, size_t size, size_t max_size)
{
    static const uint8_t interesting[] = {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x7f, 0x80, 0xfe, 0xff};
    if (max_size == 0u) {
        return 0;
    }
    if (size > max_size) {
        size = max_size;
    }
    unsigned rounds = 1u + mut_below(rng, 4);
    for (unsigned round = 0; round < rounds; round++) {
        uint32_t r = mut_below(rng, 8);
        if (size == 0u) {
            r = 4; /* nothing to change: insert */
        }
        if (r == 4u && size == max_size) {
            r = 1; /* no room to insert: overwrite */
        }
        if (r == 7u && (size == max_size || size < 2u)) {
            r = 6;
        }
        size_t at = below_size(rng, size);
        switch (r) {
        case 0: data[at] ^= (uint8_t)(1u << mut_below(rng, 8)); break;
        case 1: data[at] = (uint8_t)mut_rand(rng); break;
        case 2: data[at] = interesting[mut_below(rng, (uint32_t)sizeof interesting)]; break;
        case 3: data[at] = (uint8_t)(one_in(rng, 2) ? data[at] + 1u + mut_below(rng, 8) : data[at] - 1u - mut_below(rng, 8)); break;
        case 4: { /* 1..4 random bytes in */
            at = below_size(rng, size + 1u);
            size_t n = 1u + below_size(rng, 4);
            if (n > max_size - size) {
                n = max_size - size;
            }
            memmove(data + at + n, data + at, size - at);
            for (size_t i = 0; i < n; i++) {
                data[at + i] = (uint8_t)mut_rand(rng);
            }
            size += n;
            break;
        }
        case 5: { /* 1..4 bytes out */
            size_t n = 1u + below_size(rng, 4);
            if (n > size - at) {
                n = size - at;
            }
            memmove(data + at, data + at + n, size - at - n);
            size -= n;
            break;
        }
        case 6: { /* a run copied over another place */
            size_t to = below_size(rng, size);
            size_t n = 1u + below_size(rng, 8);
            size_t room = size - (at > to ? at : to);
            memmove(data + to, data + at, n < room ? n : room);
            break;
        }
        default: { /* a run copied in: an operation twice */
            uint8_t run[8];
            size_t n = 1u + below_size(rng, sizeof run);
            if (n > size - at) {
                n = size - at;
            }
            if (n > max_size - size) {
                n = max_size - size;
            }
            memcpy(run, data + at, n);
            size_t to = below_size(rng, size + 1u);
            memmove(data + to + n, data + to, size - to);
            memcpy(data + to, run, n);
            size += n;
            break;
        }
        }
    }
    return size;
}

/* ---- one call of the engine ----------------------------------------------- */

/* Weights of the structured mutations (of 100; splice only with another input). */
static mut_kind_t pick_kind(mut_rng_t *rng, bool can_splice)
{
    static const struct {
        mut_kind_t kind;
        uint32_t weight;
    } table[] = {
        {MUT_OPERAND, 34}, {MUT_INSERT, 18}, {MUT_DELETE, 12}, {MUT_DUPLICATE, 8},
        {MUT_SWAP, 8},     {MUT_REPLACE, 8}, {MUT_HEADER, 4},  {MUT_SPLICE, 8},
    };
    uint32_t total = can_splice ? 100u : 92u;
    uint32_t r = mut_below(rng, total);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (r < table[i].weight) {
            return table[i].kind;
        }
        r -= table[i].weight;
    }
    return MUT_OPERAND;
}

static bool same_bytes(const uint8_t *a, size_t a_size, const uint8_t *b, size_t b_size)
{
    return a_size == b_size && (a_size == 0u || memcmp(a, b, a_size) == 0);
}

size_t mut_mutate(mut_rng_t *rng, const op_table_t *table, mut_work_t *w, const uint8_t *in, size_t size,
                  const uint8_t *other, size_t other_size, uint8_t *out, size_t max_size, unsigned *applied)
{
    unsigned done = 0;
    mut_decode(table, in, size, &w->a);
    if (other != NULL) {
        mut_decode(table, other, other_size, &w->b);
    }
    unsigned rounds = one_in(rng, 4) ? 2u + mut_below(rng, 2) : 1u;
    for (unsigned round = 0; round < rounds; round++) {
        for (unsigned tries = 0; tries < 8u; tries++) {
            mut_kind_t kind = pick_kind(rng, other != NULL);
            bool ok = kind == MUT_SPLICE ? mut_splice(rng, table, &w->a, &w->b) : mut_apply(rng, table, &w->a, kind);
            if (ok) {
                done |= 1u << kind;
                break;
            }
        }
    }
    size_t n = done != 0u ? mut_encode(table, &w->a, out, max_size) : 0u;
    if (n == 0u || same_bytes(out, n, in, size)) {
        done = 0;
        n = 0;
    }
    if (applied != NULL) {
        *applied = done;
    }
    return n;
}

size_t mut_crossover(mut_rng_t *rng, const op_table_t *table, mut_work_t *w, const uint8_t *a, size_t a_size,
                     const uint8_t *b, size_t b_size, uint8_t *out, size_t max_size)
{
    mut_decode(table, a, a_size, &w->a);
    mut_decode(table, b, b_size, &w->b);
    if (!mut_splice(rng, table, &w->a, &w->b)) {
        return 0;
    }
    size_t n = mut_encode(table, &w->a, out, max_size);
    return same_bytes(out, n, a, a_size) ? 0u : n;
}
