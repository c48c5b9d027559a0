/**
 * @file test_fuzz_mutator.c
 * @brief The structure-aware fuzz mutator's pure part (fuzz/mutator.c), for
 *        every fuzz target: its outputs are whole programs of the target's
 *        operations (prog_read_op reads them back byte for byte) within
 *        max_size, one seed gives one output, every mutation kind applies and
 *        changes the program the way it says, and the crossover splices a
 *        prefix of one program to a suffix of the other.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mutator.h"
#include "target.h"

#define BUF_SIZE 16384u
#define MAX_TEST_OPS 4096u
#define SEEDS 300u

/* Large: static. */
static mut_prog_t g_before, g_after, g_other;
static mut_work_t g_work;
static op_t g_ops_a[MAX_TEST_OPS], g_ops_b[MAX_TEST_OPS];
static uint8_t g_in[BUF_SIZE], g_other_in[BUF_SIZE], g_out[BUF_SIZE], g_out2[BUF_SIZE], g_canon[BUF_SIZE + 1024u];

static const op_table_t *table_at(size_t i)
{
    const fuzz_target_t *t = fuzz_target_at(i);
    return t != NULL ? &t->table : NULL;
}

/* ---- reading programs with program.c only --------------------------------- */

/* The operations prog_read_op reads from data (after the 2 header bytes). */
static size_t read_ops(const op_table_t *t, const uint8_t *data, size_t size, op_t *ops, size_t cap)
{
    reader_t r = {data, size, size < 2u ? size : 2u};
    size_t n = 0;
    while (n < cap && prog_read_op(&r, t, &ops[n])) {
        n++;
    }
    return n;
}

/* The program data is, as prog_encode_op writes it: the header (a missing
 * byte as 0), then every operation whole. Equal to data exactly when data is
 * a clean encoding: no operation cut by the end, every opcode canonical. */
static size_t canonical(const op_table_t *t, const uint8_t *data, size_t size, uint8_t *out)
{
    size_t n = read_ops(t, data, size, g_ops_a, MAX_TEST_OPS);
    size_t len = 0;
    out[len++] = size > 0u ? data[0] : 0u;
    out[len++] = size > 1u ? data[1] : 0u;
    for (size_t i = 0; i < n; i++) {
        len += prog_encode_op(t, &g_ops_a[i], out + len);
        assert_true(len <= sizeof g_canon - 512u);
    }
    return len;
}

static bool same_op(const op_table_t *t, const op_t *a, const op_t *b)
{
    uint8_t ea[512], eb[512];
    size_t na = prog_encode_op(t, a, ea);
    size_t nb = prog_encode_op(t, b, eb);
    return na > 0u && na == nb && memcmp(ea, eb, na) == 0;
}

/* ops[from .. from + n) of a equal b's ops[at .. at + n). */
static bool same_run(const op_table_t *t, const op_t *a, size_t from, const op_t *b, size_t at, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!same_op(t, &a[from + i], &b[at + i])) {
            return false;
        }
    }
    return true;
}

/* Where long (ops a, count ac) is short (ops b, count bc) with ac - bc
 * operations put in at one place: that place, or SIZE_MAX when there is none. */
static size_t inserted_at(const op_table_t *t, const op_t *a, size_t ac, const op_t *b, size_t bc)
{
    size_t d = ac - bc;
    for (size_t at = 0; at <= bc; at++) {
        if (same_run(t, a, 0, b, 0, at) && same_run(t, a, at + d, b, at, bc - at)) {
            return at;
        }
    }
    return SIZE_MAX;
}

/* ---- test programs ------------------------------------------------------ */

/* One readable line per operation kind (FORMAT.md), to build a program with
 * every operation a target has. */
static const char *line_of(op_kind_t kind)
{
    switch (kind) {
    case OP_ALLOC: return "alloc 24";
    case OP_CALLOC: return "calloc largest-4";
    case OP_REALLOC: return "realloc 0 pow2(10)+3";
    case OP_FREE: return "free 1";
    case OP_STAT: return "stat";
    case OP_PARSE: return "parse";
    case OP_CHECK: return "check";
    case OP_STRDUP: return "strdup \"hello\\x00world\"";
    case OP_RECALLOC: return "recalloc 2 300";
    case OP_CLEANUP: return "cleanup 0";
    case OP_PERSIST: return "persist 40";
    case OP_REINIT: return "reinit heap-8";
    case OP_POKE: return "poke 13 1";
    case OP_POKE32: return "poke32 48 0xffffffff";
    case OP_COPY: return "copy 0 400 4";
    case OP_FREE_AT: return "free_at 280";
    default: return "plant 0 block 1";
    }
}

static size_t append_line(const op_table_t *t, const char *line, uint8_t *out, size_t len)
{
    op_t op;
    char err[128];
    assert_int_equal(prog_parse_op(line, &op, err, sizeof err), 1);
    size_t n = prog_encode_op(t, &op, out + len);
    assert_true(n > 0u);
    return len + n;
}

/* heap 1 KiB, misalignment 3; two allocs, then every operation of the
 * target once, then an alloc 5000 and a max-7. */
static size_t rich_program(const op_table_t *t, uint8_t *out)
{
    size_t len = 0;
    out[len++] = 5;
    out[len++] = 3;
    len = append_line(t, "alloc 20", out, len);
    len = append_line(t, "alloc 30", out, len);
    for (unsigned i = 0; i < t->op_count; i++) {
        len = append_line(t, line_of(t->ops[i]), out, len);
    }
    len = append_line(t, "alloc 5000", out, len);
    len = append_line(t, "alloc max-7", out, len);
    return len;
}

/* Another program: different heap, different operations. */
static size_t other_program(const op_table_t *t, uint8_t *out)
{
    size_t len = 0;
    out[len++] = 9;
    out[len++] = 0;
    static const char *const lines[] = {"calloc 100", "alloc 7", "free 0", "check", "realloc 1 200", "stat", "free 1"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        len = append_line(t, lines[i], out, len);
    }
    return len;
}

/* Random bytes: every byte string is a program, garbage included. */
static size_t random_input(mut_rng_t *rng, uint8_t *out, size_t most)
{
    size_t n = mut_below(rng, (uint32_t)most + 1u);
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint8_t)mut_rand(rng);
    }
    return n;
}

static size_t encode(const op_table_t *t, const mut_prog_t *p, uint8_t *out)
{
    return mut_encode(t, p, out, BUF_SIZE);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_rng(void **state)
{
    (void)state;
    mut_rng_t a, b, c;
    mut_seed(&a, 42);
    mut_seed(&b, 42);
    mut_seed(&c, 43);
    bool differs = false;
    for (unsigned i = 0; i < 1000u; i++) {
        uint32_t x = mut_rand(&a);
        assert_int_equal(x, mut_rand(&b));
        differs |= x != mut_rand(&c);
        uint32_t y = mut_below(&a, 7);
        assert_true(y < 7u);
        assert_int_equal(mut_below(&b, 7), y);
    }
    assert_true(differs);
    assert_int_equal(mut_below(&a, 0), 0);
    assert_int_equal(mut_below(&a, 1), 0);
    for (unsigned k = 0; k < MUT_KIND_COUNT; k++) {
        assert_string_not_equal(mut_kind_name((mut_kind_t)k), "?");
    }
    assert_string_equal(mut_kind_name(MUT_KIND_COUNT), "?");
}

/* A clean program comes back byte for byte; garbage comes back as the
 * program it runs as. */
static void test_decode_encode(void **state)
{
    (void)state;
    for (size_t ti = 0; table_at(ti) != NULL; ti++) {
        const op_table_t *t = table_at(ti);
        size_t len = rich_program(t, g_in);
        mut_decode(t, g_in, len, &g_before);
        assert_int_equal(g_before.count, t->op_count + 4u);
        assert_int_equal(g_before.tail_size, 0);
        assert_int_equal(encode(t, &g_before, g_out), len);
        assert_memory_equal(g_out, g_in, len);

        /* a missing header byte and a cut operation read as zeros */
        uint8_t cut[] = {7, 2, 2}; /* realloc, its slot and size missing */
        mut_decode(t, cut, 1, &g_before);
        assert_int_equal(g_before.count, 0);
        assert_int_equal(encode(t, &g_before, g_out), 2);
        assert_int_equal(g_out[1], 0);
        mut_decode(t, cut, sizeof cut, &g_before);
        assert_int_equal(g_before.count, 1);
        size_t n = encode(t, &g_before, g_out);
        assert_int_equal(n, canonical(t, cut, sizeof cut, g_canon));
        assert_memory_equal(g_out, g_canon, n);

        /* garbage: any bytes */
        mut_rng_t rng;
        mut_seed(&rng, ti);
        for (unsigned i = 0; i < 200u; i++) {
            size_t size = random_input(&rng, g_in, 200);
            mut_decode(t, g_in, size, &g_before);
            n = encode(t, &g_before, g_out);
            assert_int_equal(n, canonical(t, g_in, size, g_canon));
            assert_memory_equal(g_out, g_canon, n);
        }
        mut_decode(t, NULL, 0, &g_before);
        assert_int_equal(g_before.count, 0);
    }
}

/* More than MUT_MAX_OPS operations: the rest is kept as bytes and still runs. */
static void test_long_program_tail(void **state)
{
    (void)state;
    for (size_t ti = 0; table_at(ti) != NULL; ti++) {
        const op_table_t *t = table_at(ti);
        size_t len = 0;
        g_in[len++] = 8;
        g_in[len++] = 0;
        for (unsigned i = 0; i < MUT_MAX_OPS + 40u; i++) {
            len = append_line(t, i % 2u == 0u ? "alloc 24" : "free 0", g_in, len);
        }
        mut_decode(t, g_in, len, &g_before);
        assert_int_equal(g_before.count, MUT_MAX_OPS);
        assert_true(g_before.tail_size > 0u);
        assert_int_equal(encode(t, &g_before, g_out), len);
        assert_memory_equal(g_out, g_in, len);
        mut_rng_t rng;
        for (uint64_t seed = 0; seed < 50u; seed++) {
            mut_seed(&rng, seed);
            size_t n = mut_mutate(&rng, t, &g_work, g_in, len, NULL, 0, g_out, BUF_SIZE, NULL);
            assert_true(n > 0u);
            /* the tail comes last, untouched, unless a splice replaced it */
            assert_true(n >= g_before.tail_size);
            assert_memory_equal(g_out + n - g_before.tail_size, g_before.tail, g_before.tail_size);
        }
        /* full: nothing fits in */
        memcpy(&g_after, &g_before, sizeof g_after);
        mut_seed(&rng, 1);
        assert_false(mut_apply(&rng, t, &g_after, MUT_INSERT));
        assert_false(mut_apply(&rng, t, &g_after, MUT_DUPLICATE));
        assert_int_equal(g_after.count, MUT_MAX_OPS);
    }
}

/* Whatever the input and max_size: a whole program, within max_size, not
 * the input; one seed, one output. */
static void test_outputs_are_programs(void **state)
{
    (void)state;
    for (size_t ti = 0; table_at(ti) != NULL; ti++) {
        const op_table_t *t = table_at(ti);
        mut_rng_t inputs;
        mut_seed(&inputs, 1000u + ti);
        unsigned made = 0;
        for (uint64_t seed = 0; seed < 3000u; seed++) {
            size_t size = seed % 3u == 0u ? rich_program(t, g_in) : random_input(&inputs, g_in, 300);
            size_t other_size = random_input(&inputs, g_other_in, 300);
            const uint8_t *other = seed % 2u == 0u ? g_other_in : NULL;
            size_t max_size = 2u + mut_below(&inputs, 600);
            if (size > max_size) {
                size = max_size; /* as the engines promise */
            }
            mut_rng_t rng;
            mut_seed(&rng, seed);
            unsigned applied = 0;
            size_t n = mut_mutate(&rng, t, &g_work, g_in, size, other, other_size, g_out, max_size, &applied);
            assert_true(n <= max_size);
            if (n == 0u) {
                assert_int_equal(applied, 0);
                continue;
            }
            made++;
            assert_true(applied != 0u);
            assert_false(n == size && memcmp(g_out, g_in, n) == 0);
            assert_true(read_ops(t, g_in, size, g_ops_b, MAX_TEST_OPS) <= MUT_MAX_OPS); /* no tail here */
            assert_int_equal(canonical(t, g_out, n, g_canon), n);
            assert_memory_equal(g_canon, g_out, n);

            /* the same seed again: the same output */
            mut_seed(&rng, seed);
            unsigned applied2 = 0;
            size_t n2 = mut_mutate(&rng, t, &g_work, g_in, size, other, other_size, g_out2, max_size, &applied2);
            assert_int_equal(n2, n);
            assert_int_equal(applied2, applied);
            assert_memory_equal(g_out2, g_out, n);
        }
        assert_true(made > 2500u);
    }
}

/* Every kind, through mut_mutate, over a few seeds. */
static void test_every_kind_used(void **state)
{
    (void)state;
    for (size_t ti = 0; table_at(ti) != NULL; ti++) {
        const op_table_t *t = table_at(ti);
        size_t size = rich_program(t, g_in);
        size_t other_size = other_program(t, g_other_in);
        unsigned seen = 0;
        for (uint64_t seed = 0; seed < 2000u; seed++) {
            mut_rng_t rng;
            mut_seed(&rng, seed);
            unsigned applied = 0;
            mut_mutate(&rng, t, &g_work, g_in, size, g_other_in, other_size, g_out, BUF_SIZE, &applied);
            seen |= applied;
        }
        assert_int_equal(seen, (1u << MUT_BYTES) - 1u); /* insert .. splice */
    }
}

/* Each kind applies to a program with every operation, changes it, and
 * changes it the way it says. */
static void test_each_kind_changes_the_program(void **state)
{
    (void)state;
    for (size_t ti = 0; table_at(ti) != NULL; ti++) {
        const op_table_t *t = table_at(ti);
        size_t size = rich_program(t, g_in);
        mut_decode(t, g_in, size, &g_before);
        const op_t *b = g_before.ops;
        size_t bc = g_before.count;
        for (unsigned k = MUT_INSERT; k <= MUT_HEADER; k++) {
            unsigned kind_seen = 0;
            size_t most_grown = 0;
            for (uint64_t seed = 0; seed < SEEDS; seed++) {
                memcpy(&g_after, &g_before, sizeof g_after);
                mut_rng_t rng;
                mut_seed(&rng, seed * 31u + k);
                assert_true(mut_apply(&rng, t, &g_after, (mut_kind_t)k));
                size_t n = encode(t, &g_after, g_out);
                assert_false(n == size && memcmp(g_out, g_in, n) == 0);
                assert_int_equal(canonical(t, g_out, n, g_canon), n);
                const op_t *a = g_after.ops;
                size_t ac = g_after.count;
                bool header_same = g_after.header[0] == g_before.header[0] && g_after.header[1] == g_before.header[1];
                if (ac > bc && ac - bc > most_grown) {
                    most_grown = ac - bc;
                }
                switch ((mut_kind_t)k) {
                case MUT_INSERT: { /* 1..4 random operations in a row, the others as they were */
                    assert_true(ac > bc && ac - bc <= 4u);
                    assert_true(inserted_at(t, a, ac, b, bc) <= bc && header_same);
                    break;
                }
                case MUT_DELETE: { /* a run of 1..4 out */
                    assert_true(ac < bc && bc - ac <= 4u);
                    assert_true(inserted_at(t, b, bc, a, ac) <= ac && header_same);
                    break;
                }
                case MUT_DUPLICATE: { /* copies of a run of 1..4 of the program, 1..8 of them, in */
                    assert_true(ac > bc && ac - bc <= 32u);
                    size_t at = inserted_at(t, a, ac, b, bc);
                    assert_true(at <= bc && header_same);
                    size_t d = ac - bc;
                    bool found = false;
                    for (size_t len = 1; len <= 4u && !found; len++) {
                        if (d % len != 0u || d / len > 8u) {
                            continue;
                        }
                        for (size_t from = 0; from + len <= bc && !found; from++) {
                            found = true;
                            for (size_t c = 0; c < d / len && found; c++) {
                                found = same_run(t, a, at + c * len, b, from, len);
                            }
                        }
                    }
                    assert_true(found);
                    break;
                }
                case MUT_SWAP: { /* two operations trade places */
                    assert_int_equal(ac, bc);
                    size_t diff[3], nd = 0;
                    for (size_t i = 0; i < bc && nd < 3u; i++) {
                        if (!same_op(t, &a[i], &b[i])) {
                            diff[nd++] = i;
                        }
                    }
                    assert_int_equal(nd, 2);
                    assert_true(same_op(t, &a[diff[0]], &b[diff[1]]) && same_op(t, &a[diff[1]], &b[diff[0]]));
                    assert_true(header_same);
                    break;
                }
                case MUT_OPERAND:
                case MUT_REPLACE: { /* one operation differs; an operand: of the same kind */
                    assert_int_equal(ac, bc);
                    size_t nd = 0, at = 0;
                    for (size_t i = 0; i < bc; i++) {
                        if (!same_op(t, &a[i], &b[i])) {
                            nd++;
                            at = i;
                        }
                    }
                    assert_int_equal(nd, 1);
                    if (k == MUT_OPERAND) {
                        assert_int_equal(a[at].kind, b[at].kind);
                        kind_seen |= 1u << (a[at].kind % 32u);
                    }
                    assert_true(header_same);
                    break;
                }
                default: { /* another heap size, misalignment or check interval, the same operations */
                    assert_int_equal(ac, bc);
                    assert_true(same_run(t, a, 0, b, 0, bc));
                    assert_true(g_after.header[0] % FUZZ_HEAP_SIZES != g_before.header[0] % FUZZ_HEAP_SIZES ||
                                g_after.header[1] % 8u != g_before.header[1] % 8u ||
                                (g_after.header[1] >> 3) % 4u != (g_before.header[1] >> 3) % 4u);
                    break;
                }
                }
            }
            if (k == MUT_INSERT) { /* a few in a row too */
                assert_true(most_grown >= 3u);
            }
            if (k == MUT_DUPLICATE) { /* several copies too */
                assert_true(most_grown > 8u);
            }
            if (k == MUT_OPERAND) { /* every operation with an operand had one changed */
                for (unsigned i = 0; i < t->op_count; i++) {
                    op_kind_t kind = t->ops[i];
                    if (kind != OP_STAT && kind != OP_PARSE && kind != OP_CHECK) {
                        assert_true((kind_seen & (1u << kind)) != 0u);
                    }
                }
            }
        }
    }
}

/* Nothing to do: false, the program untouched. */
static void test_not_applicable(void **state)
{
    (void)state;
    const op_table_t *t = table_at(0);
    mut_rng_t rng;
    mut_seed(&rng, 7);
    mut_decode(t, (const uint8_t[]){3, 1}, 2, &g_before); /* no operation */
    assert_false(mut_apply(&rng, t, &g_before, MUT_DELETE));
    assert_false(mut_apply(&rng, t, &g_before, MUT_DUPLICATE));
    assert_false(mut_apply(&rng, t, &g_before, MUT_SWAP));
    assert_false(mut_apply(&rng, t, &g_before, MUT_OPERAND));
    assert_false(mut_apply(&rng, t, &g_before, MUT_REPLACE));
    assert_false(mut_apply(&rng, t, &g_before, MUT_SPLICE));
    assert_false(mut_apply(&rng, t, &g_before, MUT_BYTES));
    assert_int_equal(g_before.count, 0);
    assert_true(mut_apply(&rng, t, &g_before, MUT_INSERT));
    assert_int_equal(g_before.count, 1);

    /* stat, check, stat: no operand; swapping equal ones changes nothing */
    size_t len = 0;
    g_in[len++] = 0;
    g_in[len++] = 0;
    len = append_line(t, "stat", g_in, len);
    len = append_line(t, "stat", g_in, len);
    mut_decode(t, g_in, len, &g_before);
    assert_false(mut_apply(&rng, t, &g_before, MUT_OPERAND));
    assert_false(mut_apply(&rng, t, &g_before, MUT_SWAP));
    assert_int_equal(g_before.count, 2);
}

/* max_size is a hard limit; what is cut is whole operations. */
static void test_max_size(void **state)
{
    (void)state;
    for (size_t ti = 0; table_at(ti) != NULL; ti++) {
        const op_table_t *t = table_at(ti);
        size_t size = rich_program(t, g_in);
        for (size_t max_size = 1; max_size <= size + 8u; max_size++) {
            for (uint64_t seed = 0; seed < 20u; seed++) {
                mut_rng_t rng;
                mut_seed(&rng, seed);
                size_t in_size = size < max_size ? size : max_size;
                memset(g_out, 0xa5, BUF_SIZE);
                size_t n = mut_mutate(&rng, t, &g_work, g_in, in_size, NULL, 0, g_out, max_size, NULL);
                assert_true(n <= max_size);
                assert_int_equal(g_out[max_size], 0xa5); /* nothing written past it */
                if (n >= 2u) {
                    assert_int_equal(canonical(t, g_out, n, g_canon), n);
                }
                n = mut_crossover(&rng, t, &g_work, g_in, in_size, g_in, in_size, g_out, max_size);
                assert_true(n <= max_size);
                assert_int_equal(g_out[max_size], 0xa5);
            }
        }
        mut_decode(t, g_in, size, &g_before);
        assert_int_equal(mut_encode(t, &g_before, g_out, 0), 0);
        assert_int_equal(mut_encode(t, &g_before, g_out, 1), 1);
        assert_int_equal(mut_encode(t, &g_before, g_out, 2), 2);
    }
}

/* The crossover: a prefix of a, then a suffix of b, whole operations; a's
 * header. */
static void test_crossover_splices(void **state)
{
    (void)state;
    for (size_t ti = 0; table_at(ti) != NULL; ti++) {
        const op_table_t *t = table_at(ti);
        size_t a_size = rich_program(t, g_in);
        size_t b_size = other_program(t, g_other_in);
        size_t ac = read_ops(t, g_in, a_size, g_ops_b, MAX_TEST_OPS);
        op_t *a_ops = g_ops_b;
        mut_decode(t, g_other_in, b_size, &g_other);
        const op_t *b_ops = g_other.ops;
        size_t bc = g_other.count;
        unsigned made = 0;
        bool cut_a = false, cut_b = false;
        for (uint64_t seed = 0; seed < SEEDS; seed++) {
            mut_rng_t rng;
            mut_seed(&rng, seed);
            size_t n = mut_crossover(&rng, t, &g_work, g_in, a_size, g_other_in, b_size, g_out, BUF_SIZE);
            if (n == 0u) {
                continue;
            }
            made++;
            assert_int_equal(canonical(t, g_out, n, g_canon), n);
            assert_int_equal(g_out[0], g_in[0]);
            assert_int_equal(g_out[1], g_in[1]);
            mut_decode(t, g_out, n, &g_after);
            const op_t *o = g_after.ops;
            size_t oc = g_after.count;
            bool found = false;
            for (size_t keep = 1; keep <= ac && keep <= oc && !found; keep++) {
                if (oc - keep >= 1u && oc - keep <= bc && same_run(t, o, 0, a_ops, 0, keep) &&
                    same_run(t, o, keep, b_ops, bc - (oc - keep), oc - keep)) {
                    found = true;
                    cut_a |= keep < ac;
                    cut_b |= oc - keep < bc;
                }
            }
            assert_true(found);

            /* the same seed: the same splice */
            mut_seed(&rng, seed);
            assert_int_equal(mut_crossover(&rng, t, &g_work, g_in, a_size, g_other_in, b_size, g_out2, BUF_SIZE), n);
            assert_memory_equal(g_out2, g_out, n);
        }
        assert_true(made > SEEDS / 2u);
        assert_true(cut_a && cut_b);

        /* a program with itself at the same point, or with an empty one: nothing new */
        mut_rng_t rng;
        mut_seed(&rng, 3);
        uint8_t empty[2] = {1, 1};
        unsigned zero = 0;
        for (unsigned i = 0; i < 50u; i++) {
            zero += mut_crossover(&rng, t, &g_work, empty, 2, empty, 2, g_out, BUF_SIZE) == 0u;
        }
        assert_int_equal(zero, 50);
    }
}

static void test_bytes(void **state)
{
    (void)state;
    mut_rng_t inputs;
    mut_seed(&inputs, 99);
    unsigned changed = 0;
    for (uint64_t seed = 0; seed < 2000u; seed++) {
        size_t size = random_input(&inputs, g_in, 64);
        size_t max_size = 1u + mut_below(&inputs, 80);
        if (size > max_size) {
            size = max_size;
        }
        memcpy(g_out, g_in, size);
        memset(g_out + size, 0xa5, BUF_SIZE - size);
        mut_rng_t rng;
        mut_seed(&rng, seed);
        size_t n = mut_bytes(&rng, g_out, size, max_size);
        assert_true(n <= max_size);
        assert_int_equal(g_out[max_size], 0xa5);
        changed += n != size || memcmp(g_out, g_in, n) != 0;
        memcpy(g_out2, g_in, size);
        mut_seed(&rng, seed);
        assert_int_equal(mut_bytes(&rng, g_out2, size, max_size), n);
        assert_memory_equal(g_out2, g_out, n);
    }
    assert_true(changed > 1800u);
    mut_rng_t rng;
    mut_seed(&rng, 1);
    assert_int_equal(mut_bytes(&rng, g_out, 0, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_decode_encode),
        cmocka_unit_test(test_long_program_tail),
        cmocka_unit_test(test_outputs_are_programs),
        cmocka_unit_test(test_every_kind_used),
        cmocka_unit_test(test_each_kind_changes_the_program),
        cmocka_unit_test(test_not_applicable),
        cmocka_unit_test(test_max_size),
        cmocka_unit_test(test_crossover_splices),
        cmocka_unit_test(test_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
