/*
 * Bytes <-> operations <-> text for fuzz programs (fuzz/FORMAT.md).
 * Reading never fails: a byte past the end reads as 0, so every input is a
 * program and the fuzzer never wastes executions on rejected inputs.
 */

#include "program.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const size_t heap_sizes[FUZZ_HEAP_SIZES] = {
    256, 264, 300, 384, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536,
    262144, 1048576, 4194304, 8388608,
};

static const char *const op_names[OP_KIND_COUNT] = {
    "alloc", "calloc", "realloc", "free", "stat", "parse", "check",
    "strdup", "recalloc", "cleanup", "persist", "reinit", "poke", "poke32", "copy", "free_at", "plant",
};

/* OP_PLANT's readable names, by value % 4 (plant_kind_t). */
static const char *const plant_names[4] = {"handler", "user", "registered", "block"};

size_t prog_heap_size(uint8_t b)
{
    return heap_sizes[b % FUZZ_HEAP_SIZES];
}

int prog_heap_byte(size_t heap_size)
{
    for (unsigned i = 0; i < FUZZ_HEAP_SIZES; i++) {
        if (heap_sizes[i] == heap_size) {
            return (int)i;
        }
    }
    return -1;
}

const char *prog_op_name(op_kind_t kind)
{
    return kind < OP_KIND_COUNT ? op_names[kind] : "?";
}

/* Bytes that follow a size's first byte, by kind. */
static const unsigned size_extra_bytes[8] = {0, 1, 2, 1, 1, 1, 0, 4};

static uint8_t rd(reader_t *r)
{
    return r->pos < r->size ? r->data[r->pos++] : 0u;
}

static uint32_t rd_le(reader_t *r, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint32_t)rd(r) << (8u * i);
    }
    return v;
}

static void read_size(reader_t *r, size_spec_t *s)
{
    uint8_t t = rd(r);
    s->kind = (uint8_t)(t >> 5);
    s->low = (uint8_t)(t & 31u);
    s->extra = rd_le(r, size_extra_bytes[s->kind]);
}

static bool has_slot(op_kind_t k)
{
    return k == OP_REALLOC || k == OP_FREE || k == OP_RECALLOC || k == OP_CLEANUP;
}

static bool has_size(op_kind_t k)
{
    return k == OP_ALLOC || k == OP_CALLOC || k == OP_REALLOC || k == OP_RECALLOC ||
           k == OP_PERSIST || k == OP_REINIT;
}

bool prog_op_has_slot(op_kind_t kind)
{
    return has_slot(kind);
}

bool prog_op_has_size(op_kind_t kind)
{
    return has_size(kind);
}

bool prog_read_op(reader_t *r, const op_table_t *table, op_t *op)
{
    if (r->pos >= r->size) {
        return false;
    }
    memset(op, 0, offsetof(op_t, bytes));
    op->kind = table->ops[rd(r) % table->op_count];
    if (has_slot(op->kind)) {
        op->slot = (uint8_t)(rd(r) % FUZZ_SLOTS);
    }
    if (has_size(op->kind)) {
        read_size(r, &op->size);
    }
    if (op->kind == OP_STRDUP) {
        op->len = rd(r);
        for (unsigned i = 0; i < op->len; i++) {
            op->bytes[i] = rd(r);
        }
    }
    if (op->kind == OP_POKE || op->kind == OP_PLANT) {
        op->offset = rd_le(r, 4);
        op->value = rd(r);
    }
    if (op->kind == OP_POKE32) {
        op->offset = rd_le(r, 4);
        op->word = rd_le(r, 4);
    }
    if (op->kind == OP_COPY) {
        op->word = rd_le(r, 4);
        op->offset = rd_le(r, 4);
        op->count = (uint8_t)(rd(r) % FUZZ_MAX_COPY + 1u);
    }
    if (op->kind == OP_FREE_AT) {
        op->offset = rd_le(r, 4);
    }
    return true;
}

size_t prog_eval_size(const size_spec_t *s, size_t largest_free, size_t heap_size)
{
    size_t delta = (size_t)(int8_t)(uint8_t)s->extra; /* wraps modulo 2^N, as documented */
    switch (s->kind) {
    case 0: return s->low;
    case 1: return 32u + s->extra;
    case 2: return s->extra;
    case 3: return ((size_t)1u << (s->low % (sizeof(size_t) * 8u))) + delta;
    case 4: return largest_free - 4u + delta;
    case 5: return heap_size + delta;
    case 6: return SIZE_MAX - s->low;
    default: return s->extra;
    }
}

static long delta_of(const size_spec_t *s)
{
    return (long)(int8_t)(uint8_t)s->extra;
}

void prog_print_size(FILE *out, const size_spec_t *s)
{
    switch (s->kind) {
    case 0: fprintf(out, "%u", (unsigned)s->low); break;
    case 1: fprintf(out, "%u", 32u + s->extra); break;
    case 2:
    case 7: fprintf(out, "%lu", (unsigned long)s->extra); break;
    case 3: fprintf(out, "pow2(%u)%+ld", (unsigned)s->low, delta_of(s)); break;
    case 4: fprintf(out, "largest%+ld", delta_of(s)); break;
    case 5: fprintf(out, "heap%+ld", delta_of(s)); break;
    default: fprintf(out, "max-%u", (unsigned)s->low); break;
    }
}

void prog_print_op(FILE *out, const op_t *op)
{
    fputs(prog_op_name(op->kind), out);
    if (has_slot(op->kind)) {
        fprintf(out, " %u", (unsigned)op->slot);
    }
    if (has_size(op->kind)) {
        fputc(' ', out);
        prog_print_size(out, &op->size);
    }
    if (op->kind == OP_STRDUP) {
        fputs(" \"", out);
        for (unsigned i = 0; i < op->len; i++) {
            uint8_t c = op->bytes[i];
            if (c >= 0x20u && c < 0x7fu && c != '"' && c != '\\') {
                fputc(c, out);
            } else {
                fprintf(out, "\\x%02x", (unsigned)c);
            }
        }
        fputc('"', out);
    }
    if (op->kind == OP_POKE) {
        fprintf(out, " %lu %u", (unsigned long)op->offset, (unsigned)op->value);
    }
    if (op->kind == OP_POKE32) {
        fprintf(out, " %lu 0x%08lx", (unsigned long)op->offset, (unsigned long)op->word);
    }
    if (op->kind == OP_COPY) {
        fprintf(out, " %lu %lu %u", (unsigned long)op->word, (unsigned long)op->offset, (unsigned)op->count);
    }
    if (op->kind == OP_FREE_AT) {
        fprintf(out, " %lu", (unsigned long)op->offset);
    }
    if (op->kind == OP_PLANT) {
        fprintf(out, " %lu %s", (unsigned long)op->offset, plant_names[op->value % 4u]);
        if (op->value % 4u == PLANT_BLOCK) {
            fprintf(out, " %u", (unsigned)(op->value >> 2));
        }
    }
}

/* ---- text -> op ---------------------------------------------------------- */

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return p;
}

static bool parse_uint(const char **p, unsigned long long max, unsigned long long *v)
{
    const char *s = skip_space(*p);
    if (!isdigit((unsigned char)*s)) {
        return false;
    }
    char *end;
    /* decimal, or hexadecimal with 0x (poke32 words are printed that way) */
    unsigned long long x = strtoull(s, &end, s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10);
    if (x > max) {
        return false;
    }
    *v = x;
    *p = end;
    return true;
}

/* "+D" / "-D" with |D| fitting an int8 delta; empty means 0. */
static bool parse_delta(const char **p, uint32_t *extra)
{
    const char *s = *p;
    long sign = 0;
    if (*s == '+') {
        sign = 1;
    } else if (*s == '-') {
        sign = -1;
    }
    if (sign == 0) {
        *extra = 0;
        return true;
    }
    s++;
    unsigned long long d;
    if (!parse_uint(&s, 128, &d) || (sign > 0 && d > 127u)) {
        return false;
    }
    *extra = (uint32_t)(uint8_t)(int8_t)(sign * (long)d);
    *p = s;
    return true;
}

static bool starts(const char **p, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(*p, word, n) != 0) {
        return false;
    }
    *p += n;
    return true;
}

static bool parse_size(const char **p, size_spec_t *s)
{
    *p = skip_space(*p);
    memset(s, 0, sizeof *s);
    unsigned long long v;
    if (starts(p, "pow2(")) {
        if (!parse_uint(p, 31, &v) || **p != ')') {
            return false;
        }
        (*p)++;
        s->kind = 3;
        s->low = (uint8_t)v;
        return parse_delta(p, &s->extra);
    }
    if (starts(p, "largest")) {
        s->kind = 4;
        return parse_delta(p, &s->extra);
    }
    if (starts(p, "heap")) {
        s->kind = 5;
        return parse_delta(p, &s->extra);
    }
    if (starts(p, "max-")) {
        if (!parse_uint(p, 31, &v)) {
            return false;
        }
        s->kind = 6;
        s->low = (uint8_t)v;
        return true;
    }
    if (!parse_uint(p, UINT32_MAX, &v)) {
        return false;
    }
    if (v < 32u) {
        s->kind = 0;
        s->low = (uint8_t)v;
    } else if (v < 288u) {
        s->kind = 1;
        s->extra = (uint32_t)(v - 32u);
    } else if (v <= 65535u) {
        s->kind = 2;
        s->extra = (uint32_t)v;
    } else {
        s->kind = 7;
        s->extra = (uint32_t)v;
    }
    return true;
}

static bool parse_string(const char **p, op_t *op)
{
    const char *s = skip_space(*p);
    if (*s++ != '"') {
        return false;
    }
    op->len = 0;
    while (*s != '"') {
        unsigned c = (unsigned char)*s;
        if (c == 0u || op->len == FUZZ_MAX_BYTES) {
            return false;
        }
        if (c == '\\') {
            if (s[1] != 'x' || !isxdigit((unsigned char)s[2]) || !isxdigit((unsigned char)s[3])) {
                return false;
            }
            char hex[3] = {s[2], s[3], 0};
            c = (unsigned)strtoul(hex, NULL, 16);
            s += 4;
        } else {
            s++;
        }
        op->bytes[op->len++] = (uint8_t)c;
    }
    *p = s + 1;
    return true;
}

/* "OFFSET handler|user|registered|block SLOT" (OP_PLANT). */
static bool parse_plant(const char **p, op_t *op)
{
    unsigned long long v, slot = 0;
    if (!parse_uint(p, UINT32_MAX, &v)) {
        return false;
    }
    op->offset = (uint32_t)v;
    *p = skip_space(*p);
    for (unsigned k = 0; k < 4u; k++) {
        size_t n = strlen(plant_names[k]);
        if (strncmp(*p, plant_names[k], n) == 0 && !isalnum((unsigned char)(*p)[n])) {
            *p += n;
            if (k == PLANT_BLOCK && !parse_uint(p, FUZZ_SLOTS - 1u, &slot)) {
                return false;
            }
            op->value = (uint8_t)(k | slot << 2);
            return true;
        }
    }
    return false;
}

int prog_parse_op(const char *line, op_t *op, char *err, size_t err_len)
{
    const char *p = skip_space(line);
    if (*p == '\0' || *p == '#' || *p == '\n' || *p == '\r') {
        return 0;
    }
    memset(op, 0, sizeof *op);
    int kind = -1;
    for (int k = 0; k < (int)OP_KIND_COUNT; k++) {
        size_t n = strlen(op_names[k]);
        if (strncmp(p, op_names[k], n) == 0 && (p[n] == '\0' || isspace((unsigned char)p[n]) || p[n] == '#')) {
            /* longest match: "calloc" must not be read as a prefix of "recalloc" etc. */
            if (kind < 0 || strlen(op_names[kind]) < n) {
                kind = k;
            }
        }
    }
    if (kind < 0) {
        snprintf(err, err_len, "unknown operation");
        return -1;
    }
    op->kind = (op_kind_t)kind;
    p += strlen(op_names[kind]);
    unsigned long long v;
    if (has_slot(op->kind)) {
        if (!parse_uint(&p, FUZZ_SLOTS - 1u, &v)) {
            snprintf(err, err_len, "%s needs a slot 0..%u", op_names[kind], FUZZ_SLOTS - 1u);
            return -1;
        }
        op->slot = (uint8_t)v;
    }
    if (has_size(op->kind) && !parse_size(&p, &op->size)) {
        snprintf(err, err_len, "%s needs a size: N, pow2(K)+D, largest+D, heap+D or max-K", op_names[kind]);
        return -1;
    }
    if (op->kind == OP_STRDUP && !parse_string(&p, op)) {
        snprintf(err, err_len, "strdup needs a quoted string of at most %u bytes (\\xHH escapes)",
                 FUZZ_MAX_BYTES);
        return -1;
    }
    if (op->kind == OP_POKE) {
        unsigned long long value;
        if (!parse_uint(&p, UINT32_MAX, &v) || !parse_uint(&p, 255, &value)) {
            snprintf(err, err_len, "poke needs an offset and a byte value");
            return -1;
        }
        op->offset = (uint32_t)v;
        op->value = (uint8_t)value;
    }
    if (op->kind == OP_POKE32) {
        unsigned long long word;
        if (!parse_uint(&p, UINT32_MAX, &v) || !parse_uint(&p, UINT32_MAX, &word)) {
            snprintf(err, err_len, "poke32 needs an offset and a 32-bit value");
            return -1;
        }
        op->offset = (uint32_t)v;
        op->word = (uint32_t)word;
    }
    if (op->kind == OP_COPY) {
        unsigned long long dst, count;
        if (!parse_uint(&p, UINT32_MAX, &v) || !parse_uint(&p, UINT32_MAX, &dst) ||
            !parse_uint(&p, FUZZ_MAX_COPY, &count) || count == 0u) {
            snprintf(err, err_len, "copy needs a source offset, a destination offset and a count 1..%u",
                     FUZZ_MAX_COPY);
            return -1;
        }
        op->word = (uint32_t)v;
        op->offset = (uint32_t)dst;
        op->count = (uint8_t)count;
    }
    if (op->kind == OP_FREE_AT) {
        if (!parse_uint(&p, UINT32_MAX, &v)) {
            snprintf(err, err_len, "free_at needs an offset");
            return -1;
        }
        op->offset = (uint32_t)v;
    }
    if (op->kind == OP_PLANT && !parse_plant(&p, op)) {
        snprintf(err, err_len, "plant needs an offset and handler, user, registered or block SLOT");
        return -1;
    }
    p = skip_space(p);
    if (*p != '\0' && *p != '#' && *p != '\n' && *p != '\r') {
        snprintf(err, err_len, "unexpected text after the operation: '%s'", p);
        return -1;
    }
    return 1;
}

/* ---- op -> bytes --------------------------------------------------------- */

static size_t put_le(uint8_t *out, uint32_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        out[i] = (uint8_t)(v >> (8u * i));
    }
    return n;
}

size_t prog_encode_op(const op_table_t *table, const op_t *op, uint8_t *out)
{
    size_t n = 0;
    unsigned code = 0;
    while (code < table->op_count && table->ops[code] != op->kind) {
        code++;
    }
    if (code == table->op_count) {
        return 0;
    }
    out[n++] = (uint8_t)code;
    if (has_slot(op->kind)) {
        out[n++] = op->slot;
    }
    if (has_size(op->kind)) {
        out[n++] = (uint8_t)(((unsigned)op->size.kind << 5) | (op->size.low & 31u));
        n += put_le(out + n, op->size.extra, size_extra_bytes[op->size.kind]);
    }
    if (op->kind == OP_STRDUP) {
        out[n++] = op->len;
        memcpy(out + n, op->bytes, op->len);
        n += op->len;
    }
    if (op->kind == OP_POKE || op->kind == OP_PLANT) {
        n += put_le(out + n, op->offset, 4);
        out[n++] = op->value;
    }
    if (op->kind == OP_POKE32) {
        n += put_le(out + n, op->offset, 4);
        n += put_le(out + n, op->word, 4);
    }
    if (op->kind == OP_COPY) {
        n += put_le(out + n, op->word, 4);
        n += put_le(out + n, op->offset, 4);
        out[n++] = (uint8_t)(op->count - 1u);
    }
    if (op->kind == OP_FREE_AT) {
        n += put_le(out + n, op->offset, 4);
    }
    return n;
}
