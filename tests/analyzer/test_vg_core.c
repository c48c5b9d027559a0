/**
 * @file test_vg_core.c
 * @brief valground's C core (profiling/valground_core/, vg.h), its four
 *        sources linked in: a known log read to the results model.py's
 *        rules give (full and lean), every reason the core gives up with
 *        its line, the spool, the API's edges, lines over 8 MiB, and
 *        thousands of generated logs, valid and hostile, each read in both
 *        modes, from a file and (some) from a pipe written in random
 *        pieces: never a crash, and on VG_OK results that hold together
 *        (and agree between the modes and the ways of reading).
 *
 * The generated part: VG_CORE_TEST_LOGS logs (default 2000; under valgrind
 * 600, the longest ones shorter), from VG_CORE_TEST_SEED (default 1), log i
 * from seed + i, so a failure names the log that shows it.
 * VG_CORE_TEST_DUMP=DIR writes each log there (DIR/log-<i>.txt), e.g. to
 * compare the core's reports with the Python reader's (VALGROUND_CORE=off).
 */

/* dup, fileno, fork, pipe, pread, ftruncate */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#ifdef VG_TEST_VALGRIND
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define UNDER_VALGRIND() 0
#endif

/* ASan: a fork copies the page tables of its shadow memory (slow) */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#include "vg.h"

/* ---- byte buffers ------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t more)
{
    if (b->len + more <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 4096u;
    while (cap < b->len + more) {
        cap *= 2u;
    }
    char *p = realloc(b->p, cap);
    assert_non_null(p);
    b->p = p;
    b->cap = cap;
}

static void sb_put(sbuf *b, const void *s, size_t n)
{
    sb_reserve(b, n);
    if (n > 0u) {
        memcpy(b->p + b->len, s, n);
    }
    b->len += n;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_byte(sbuf *b, char c)
{
    sb_put(b, &c, 1u);
}

static void sb_fill(sbuf *b, char c, size_t n)
{
    sb_reserve(b, n);
    memset(b->p + b->len, c, n);
    b->len += n;
}

static void sb_u64(sbuf *b, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%" PRIu64, v);
    sb_put(b, t, (size_t)n);
}

/* 0x and lower-case hex without leading zeros, as the writers spell it */
static void sb_hex(sbuf *b, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "0x%" PRIx64, v);
    sb_put(b, t, (size_t)n);
}

static void sb_free(sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0u;
}

/* ---- file descriptors -------------------------------------------------------- */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0u) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* A temporary file holding data, at its start. */
static int file_with(const char *data, size_t n)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    int fd = dup(fileno(f));
    assert_true(fd >= 0);
    fclose(f);
    write_all(fd, data, n);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* An empty temporary file (a spool). */
static int empty_file(void)
{
    return file_with("", 0u);
}

/* fd, a file, made to hold data, at its start */
static void refill(int fd, const char *data, size_t n)
{
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    write_all(fd, data, n);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
}

/* Everything a file holds. */
static char *file_bytes(int fd, size_t *n)
{
    off_t end = lseek(fd, 0, SEEK_END);
    assert_true(end >= 0);
    char *p = malloc((size_t)end + 1u);
    assert_non_null(p);
    size_t got = 0u;
    while (got < (size_t)end) {
        ssize_t r = pread(fd, p + got, (size_t)end - got, (off_t)got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    *n = got;
    return p;
}

/* A pipe whose read end a child writes data to, in pieces of 1 byte to
 * max_piece (from seed), then closes. The caller reads *fd, closes it and
 * calls writer_done. */
static pid_t pipe_writer(const char *data, size_t n, uint64_t seed, size_t max_piece, int *fd)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        uint64_t s = seed | 1u;
        size_t at = 0u;
        while (at < n) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            size_t piece = 1u + (size_t)(s % max_piece);
            if (piece > n - at) {
                piece = n - at;
            }
            ssize_t w = write(fds[1], data + at, piece);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                break; /* the reader gave up (EPIPE) */
            }
            at += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    *fd = fds[0];
    return pid;
}

static void writer_done(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

/* ---- reading a log ------------------------------------------------------------ */

/* What one run of the core gave: statuses, where it gave up, and a copy of
 * every result. */
typedef struct {
    int feed_rc, finish_rc;
    uint64_t bail_line;
    char reason[160];
    void *r[VG_R_COUNT];
    uint64_t n[VG_R_COUNT];
} outcome;

static const size_t RECORD_BYTES[VG_R_COUNT] = {
    [VG_R_SEGMENTS] = VG_SEG_FIELDS * 8u,
    [VG_R_FINDINGS] = VG_FINDING_FIELDS * 8u,
    [VG_R_SITES] = VG_SITE_FIELDS * 8u,
    [VG_R_PEAK_SITES] = VG_SITE_FIELDS * 8u,
    [VG_R_SITE_TEXT] = 1u,
    [VG_R_SITE_OFFSETS] = 8u,
    [VG_R_NAMES] = 1u,
    [VG_R_NAME_OFFSETS] = 8u,
    [VG_R_GLOBALS] = 8u,
    [VG_R_JSON] = 1u,
    [VG_R_TEXT] = 1u,
};

static void capture(vg *a, outcome *o)
{
    o->bail_line = vg_bail_line(a);
    snprintf(o->reason, sizeof o->reason, "%s", vg_bail_reason(a));
    for (int w = 0; w < VG_R_COUNT; w++) {
        uint64_t n = 0xdeadu;
        const void *p = vg_result(a, w, &n);
        o->n[w] = n;
        o->r[w] = NULL;
        assert_int_equal(n % RECORD_BYTES[w], 0);
        if (n == 0u) {
            /* vg.h: NULL and 0 for an empty result */
            assert_null(p);
            continue;
        }
        assert_non_null(p);
        o->r[w] = malloc((size_t)n);
        assert_non_null(o->r[w]);
        memcpy(o->r[w], p, (size_t)n);
    }
}

static void outcome_free(outcome *o)
{
    for (int w = 0; w < VG_R_COUNT; w++) {
        free(o->r[w]);
        o->r[w] = NULL;
    }
}

/* The core on fd (and spool_fd, or -1): vg_feed, vg_finish, the results. */
static void run_fd(int fd, int spool_fd, int lean, outcome *o)
{
    vg *a = vg_new(lean);
    assert_non_null(a);
    o->feed_rc = vg_feed(a, fd, spool_fd);
    o->finish_rc = vg_finish(a);
    /* the --json segments: rendered (ASCII names and sites) or left to Python */
    int json_rc = vg_render_json(a);
    if (lean || o->feed_rc != VG_OK || o->finish_rc != VG_OK) {
        assert_int_equal(json_rc, VG_BAIL);
    } else {
        assert_true(json_rc == VG_OK || json_rc == VG_BAIL);
        uint64_t n = 0;
        const char *p = vg_result(a, VG_R_JSON, &n);
        if (json_rc == VG_OK) {
            assert_true(n >= 12u);
            assert_memory_equal(p, "{\"index\": 1,", 12u);
            assert_int_equal(p[n - 1u], '}');
        }
    }
    /* the -q report: rendered (ASCII names and sites) or left to Python */
    int text_rc = vg_render_quiet(a, lean);
    if (o->feed_rc != VG_OK || o->finish_rc != VG_OK) {
        assert_int_equal(text_rc, VG_BAIL);
    } else {
        assert_true(text_rc == VG_OK || text_rc == VG_BAIL);
        uint64_t n = 0;
        const char *p = vg_result(a, VG_R_TEXT, &n);
        if (text_rc == VG_OK) {
            assert_true(n > 0u);
            assert_int_equal(p[n - 1u], '\n');
        }
    }
    capture(a, o);
    vg_delete(a);
}

/* data through a temporary file */
static void run_file(const char *data, size_t n, int spool_fd, int lean, outcome *o)
{
    int fd = file_with(data, n);
    run_fd(fd, spool_fd, lean, o);
    close(fd);
}

/* data through a pipe, written whole before it is read (up to the pipe's size) */
static void run_pipe(const char *data, size_t n, int lean, outcome *o)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    write_all(fds[1], data, n);
    close(fds[1]);
    run_fd(fds[0], -1, lean, o);
    close(fds[0]);
}

/* data through a pipe that a child writes in random pieces */
static void run_pieces(const char *data, size_t n, uint64_t seed, size_t max_piece, int spool_fd, int lean,
                       outcome *o)
{
    int fd;
    pid_t pid = pipe_writer(data, n, seed, max_piece, &fd);
    run_fd(fd, spool_fd, lean, o);
    close(fd);
    writer_done(pid);
}

static size_t count_of(const outcome *o, int which)
{
    return (size_t)(o->n[which] / RECORD_BYTES[which]);
}

static const uint64_t *words(const outcome *o, int which)
{
    return o->r[which];
}

/* segment i's record, finding i, ... */
static const uint64_t *rec(const outcome *o, int which, size_t i)
{
    return words(o, which) + i * (RECORD_BYTES[which] / 8u);
}

/* string i of a blob and its offsets (the last one ends with the blob) */
static size_t string_at(const outcome *o, int blob, int offs, size_t i, const char **p)
{
    const uint64_t *off = words(o, offs);
    size_t n = count_of(o, offs);
    uint64_t start = off[i], end = i + 1u < n ? off[i + 1u] : o->n[blob];
    *p = (const char *)o->r[blob] + start;
    return (size_t)(end - start);
}

/* ---- a known log ------------------------------------------------------------ */

/* A pytest run under speculos, with a leak, a double and an invalid free, a
 * block allocated twice, a persistent block, a re-init reclaiming blocks of
 * the same test, a failed allocation and pytest's summary line. */
static const char KNOWN_LOG[] =
    "============================= test session starts ==============================\n" /*  1 */
    "collected 2 items\n"                                                                 /*  2 */
    "\n"                                                                                  /*  3 */
    "tests/test_x.py::test_a[nanos-0] \n"                                                 /*  4 */
    "seproxyhal: printf: ==MP init;0xda7a0000;4096\n"                                     /*  5 */
    "seproxyhal: printf: ==MP alloc;32;0xda7a0010;src/a.c:10\n"                           /*  6 */
    "seproxyhal: printf: ==MP alloc;64;0xda7a0040;src/b.c:20\n"                           /*  7 */
    "seproxyhal: printf: ==MP free;0xda7a0010;src/a.c:12\n"                               /*  8 */
    "seproxyhal: printf: ==MP free;0xda7a0010;src/a.c:13\n"                               /*  9 */
    "seproxyhal: printf: ==MP free;0xda7a0800;src/a.c:14\n"                               /* 10 */
    "seproxyhal: printf: ==MP persist;16;0xda7a0100;src/m.c:5\n"                          /* 11 */
    "seproxyhal: printf: ==MP alloc;48;0xda7a0040;src/c.c:30\n"                           /* 12 */
    "seproxyhal: printf: ==MP alloc;8;0xda7a0200;src/d.c:40\n"                            /* 13 */
    "seproxyhal: printf: ==MP init;0xda7a0000;4096\n"                                     /* 14 */
    "seproxyhal: printf: ==MP alloc;24;0xda7a0300;src/a.c:10\n"                           /* 15 */
    "PASSED\n"                                                                            /* 16 */
    "tests/test_x.py::test_b[nanos-1] \n"                                                 /* 17 */
    "seproxyhal: printf: ==MP alloc;100;0xda7a0400;src/e.c:50\n"                          /* 18 */
    "seproxyhal: printf: ==MP free;0xda7a0300;src/a.c:12\n"                               /* 19 */
    "seproxyhal: printf: ==MP alloc;0;0x0;src/f.c:60\n"                                   /* 20 */
    "FAILED\n"                                                                            /* 21 */
    "=========================== short test summary info ============================\n" /* 22 */
    "FAILED tests/test_x.py::test_b[nanos-1] - assert 0\n"                                /* 23 */
    "========================= 1 failed, 1 passed in 0.1s =========================\n";  /* 24 */

#define BASE 0xda7a0000u

/* Segments: test_a (test 1, PASSED) and test_b (test 2, FAILED); the "log"
 * segment before the tests touched nothing, nor did the summary line's. */
static const uint64_t SEG_A[VG_SEG_FIELDS] = {
    [VG_SEG_INDEX] = 1, [VG_SEG_ORDINAL] = 1, [VG_SEG_STATUS] = 1, [VG_SEG_SUMMARY] = 0,
    [VG_SEG_HAS_HEAP] = 1, [VG_SEG_HEAP_BASE] = BASE, [VG_SEG_HEAP_SIZE] = 4096,
    [VG_SEG_HAS_PEAK_HEAP] = 1, [VG_SEG_PEAK_BASE] = BASE, [VG_SEG_PEAK_SIZE] = 4096,
    /* 32 + 64 + 16 + 48 + 8 + 24; the peak, 96, after line 7 */
    [VG_SEG_TOTAL] = 192, [VG_SEG_ALLOCATIONS] = 6, [VG_SEG_MAX_LIVE] = 96, [VG_SEG_FAILED] = 0,
    /* at the peak: [0x10, 0x30) and [0x40, 0x80), the gap after them 4096 - 0x80;
     * at the end: [0x300, 0x318), the gap before it 0x300, after it 4096 - 0x318 */
    [VG_SEG_HAS_GAP_PEAK] = 1, [VG_SEG_GAP_PEAK] = 3968, [VG_SEG_HAS_GAP_END] = 1, [VG_SEG_GAP_END] = 3304,
    [VG_SEG_TOUCHED] = 1,
};
static const uint64_t SEG_B[VG_SEG_FIELDS] = {
    [VG_SEG_INDEX] = 2, [VG_SEG_ORDINAL] = 2, [VG_SEG_STATUS] = 2, [VG_SEG_SUMMARY] = 0,
    [VG_SEG_HAS_HEAP] = 1, [VG_SEG_HEAP_BASE] = BASE, [VG_SEG_HEAP_SIZE] = 4096,
    [VG_SEG_HAS_PEAK_HEAP] = 1, [VG_SEG_PEAK_BASE] = BASE, [VG_SEG_PEAK_SIZE] = 4096,
    /* starts with 24 live (test_a's 0x300), the peak 124 after line 18 */
    [VG_SEG_TOTAL] = 100, [VG_SEG_ALLOCATIONS] = 1, [VG_SEG_MAX_LIVE] = 124, [VG_SEG_FAILED] = 1,
    /* at the peak [0x300, 0x318) and [0x400, 0x464): 4096 - 0x464; at the end [0x400, 0x464) */
    [VG_SEG_HAS_GAP_PEAK] = 1, [VG_SEG_GAP_PEAK] = 2972, [VG_SEG_HAS_GAP_END] = 1, [VG_SEG_GAP_END] = 2972,
    [VG_SEG_TOUCHED] = 1,
};

/* Sites in the order first met (an alloc's, a bad free's; a good free's is not kept). */
enum { S_A10, S_B20, S_A13, S_A14, S_M5, S_C30, S_D40, S_E50 };
static const char SITE_TEXT[] = "src/a.c:10src/b.c:20src/a.c:13src/a.c:14src/m.c:5src/c.c:30src/d.c:40src/e.c:50";
static const uint64_t SITE_OFFSETS[] = {0, 10, 20, 30, 40, 49, 59, 69};

/* Findings in the order made, all test_a's (segment 0, the heap's owner). */
#define FINDING(kind, ptr, size, site, line, first_size, first_site, first_line)                                 \
    {0, kind, BASE + (ptr), size, site, line, 1, ptr, first_size, first_site, first_line}
static const uint64_t FINDINGS_FULL[][VG_FINDING_FIELDS] = {
    FINDING(VG_KIND_DOUBLE_FREE, 0x10, 0, S_A13, 9, 0, 0, 0),
    FINDING(VG_KIND_INVALID_FREE, 0x800, 0, S_A14, 10, 0, 0, 0),
    FINDING(VG_KIND_TWICE, 0x40, 48, S_C30, 12, 64, S_B20, 7),
    /* the init of line 14: test_a's live blocks, by when they were made */
    FINDING(VG_KIND_PERSISTENT, 0x100, 16, S_M5, 11, 0, 0, 0),
    FINDING(VG_KIND_REINIT, 0x40, 48, S_C30, 12, 0, 0, 0),
    FINDING(VG_KIND_REINIT, 0x200, 8, S_D40, 13, 0, 0, 0),
    /* the end: test_b's block, a leak of test_a, which owns the heap */
    FINDING(VG_KIND_LEAK, 0x400, 100, S_E50, 18, 0, 0, 0),
};
/* lean: no persistent blocks nor reclaimed-block warnings */
static const size_t LEAN_FINDINGS[] = {0, 1, 2, 6};

/* per segment, its sites in the order first used: count, bytes */
static const uint64_t SITES_FULL[][VG_SITE_FIELDS] = {
    {0, S_A10, 2, 56}, {0, S_B20, 1, 64}, {0, S_M5, 1, 16}, {0, S_C30, 1, 48}, {0, S_D40, 1, 8},
    {1, S_E50, 1, 100},
};
/* per segment, the blocks live at its peak by site, by address */
static const uint64_t PEAK_SITES_FULL[][VG_SITE_FIELDS] = {
    {0, S_A10, 1, 32}, {0, S_B20, 1, 64},
    {1, S_A10, 1, 24}, {1, S_E50, 1, 100},
};

static void expect_words(const char *what, const uint64_t *got, const uint64_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            fail_msg("%s word %zu: %" PRIu64 ", expected %" PRIu64, what, i, got[i], want[i]);
        }
    }
}

/* VG_R_GLOBALS' totals against the findings and segments themselves */
static int totals_agree(const outcome *o)
{
    uint64_t want[4] = {0, 0, 0, 0};
    for (size_t j = 0; j < count_of(o, VG_R_FINDINGS); j++) {
        uint64_t kind = rec(o, VG_R_FINDINGS, j)[VG_F_KIND];
        want[0] += kind == VG_KIND_LEAK;
        want[1] += kind == VG_KIND_DOUBLE_FREE || kind == VG_KIND_INVALID_FREE;
        want[2] += kind == VG_KIND_TWICE;
    }
    for (size_t i = 0; i < count_of(o, VG_R_SEGMENTS); i++)
        if (rec(o, VG_R_SEGMENTS, i)[VG_SEG_MAX_LIVE] > want[3])
            want[3] = rec(o, VG_R_SEGMENTS, i)[VG_SEG_MAX_LIVE];
    return memcmp(words(o, VG_R_GLOBALS) + 3, want, sizeof want) == 0;
}

static void expect_known(const outcome *o, int lean)
{
    assert_int_equal(o->feed_rc, VG_OK);
    assert_int_equal(o->finish_rc, VG_OK);
    assert_int_equal(o->bail_line, 0);
    assert_string_equal(o->reason, "");

    assert_int_equal(count_of(o, VG_R_SEGMENTS), 2);
    uint64_t a[VG_SEG_FIELDS], b[VG_SEG_FIELDS];
    memcpy(a, SEG_A, sizeof a);
    memcpy(b, SEG_B, sizeof b);
    if (lean) {
        /* no gaps in lean mode */
        a[VG_SEG_HAS_GAP_PEAK] = a[VG_SEG_GAP_PEAK] = a[VG_SEG_HAS_GAP_END] = a[VG_SEG_GAP_END] = 0;
        b[VG_SEG_HAS_GAP_PEAK] = b[VG_SEG_GAP_PEAK] = b[VG_SEG_HAS_GAP_END] = b[VG_SEG_GAP_END] = 0;
    }
    expect_words("segment 0", rec(o, VG_R_SEGMENTS, 0), a, VG_SEG_FIELDS);
    expect_words("segment 1", rec(o, VG_R_SEGMENTS, 1), b, VG_SEG_FIELDS);

    size_t nf = lean ? sizeof LEAN_FINDINGS / sizeof LEAN_FINDINGS[0] : sizeof FINDINGS_FULL / sizeof FINDINGS_FULL[0];
    assert_int_equal(count_of(o, VG_R_FINDINGS), nf);
    for (size_t i = 0; i < nf; i++) {
        char what[32];
        snprintf(what, sizeof what, "finding %zu", i);
        expect_words(what, rec(o, VG_R_FINDINGS, i), FINDINGS_FULL[lean ? LEAN_FINDINGS[i] : i], VG_FINDING_FIELDS);
    }

    if (lean) {
        assert_int_equal(o->n[VG_R_SITES], 0);
        assert_int_equal(o->n[VG_R_PEAK_SITES], 0);
    } else {
        assert_int_equal(count_of(o, VG_R_SITES), sizeof SITES_FULL / sizeof SITES_FULL[0]);
        expect_words("sites", words(o, VG_R_SITES), SITES_FULL[0], sizeof SITES_FULL / sizeof(uint64_t));
        assert_int_equal(count_of(o, VG_R_PEAK_SITES), sizeof PEAK_SITES_FULL / sizeof PEAK_SITES_FULL[0]);
        expect_words("peak sites", words(o, VG_R_PEAK_SITES), PEAK_SITES_FULL[0],
                     sizeof PEAK_SITES_FULL / sizeof(uint64_t));
    }

    /* the sites are interned in both modes */
    assert_int_equal(o->n[VG_R_SITE_TEXT], sizeof SITE_TEXT - 1u);
    assert_memory_equal(o->r[VG_R_SITE_TEXT], SITE_TEXT, sizeof SITE_TEXT - 1u);
    assert_int_equal(count_of(o, VG_R_SITE_OFFSETS), 8);
    expect_words("site offsets", words(o, VG_R_SITE_OFFSETS), SITE_OFFSETS, 8);
    const char *s;
    assert_int_equal(string_at(o, VG_R_SITE_TEXT, VG_R_SITE_OFFSETS, S_E50, &s), 10);
    assert_memory_equal(s, "src/e.c:50", 10);

    static const char names[] = "test_a[nanos-0]test_b[nanos-1]";
    assert_int_equal(o->n[VG_R_NAMES], sizeof names - 1u);
    assert_memory_equal(o->r[VG_R_NAMES], names, sizeof names - 1u);
    static const uint64_t name_offsets[] = {0, 15};
    assert_int_equal(count_of(o, VG_R_NAME_OFFSETS), 2);
    expect_words("name offsets", words(o, VG_R_NAME_OFFSETS), name_offsets, 2);

    /* `collected 2 items`; three test lines (the summary's counts); then the totals */
    static const uint64_t globals[] = {1, 2, 3};
    assert_int_equal(count_of(o, VG_R_GLOBALS), 7);
    expect_words("globals", words(o, VG_R_GLOBALS), globals, 3);
    assert_true(totals_agree(o));
}

static void test_known_log(void **state)
{
    (void)state;
    for (int lean = 0; lean <= 1; lean++) {
        outcome o;
        run_pipe(KNOWN_LOG, sizeof KNOWN_LOG - 1u, lean, &o);
        expect_known(&o, lean);
        outcome_free(&o);
        /* the same from a file, and from a pipe written a few bytes at a time */
        run_file(KNOWN_LOG, sizeof KNOWN_LOG - 1u, -1, lean, &o);
        expect_known(&o, lean);
        outcome_free(&o);
        run_pieces(KNOWN_LOG, sizeof KNOWN_LOG - 1u, 7u, 5u, -1, lean, &o);
        expect_known(&o, lean);
        outcome_free(&o);
    }
}

/* Line numbers count from 1 in each stream fed; results are the whole's. */
static void test_two_streams(void **state)
{
    (void)state;
    static const char first[] = "==MP init;0x1000;4096\n==MP alloc;16;0x1000;a.c:1\n";
    static const char second[] = "\n\n==MP alloc;16;0x1010;b.c:2\n==MP free;0x1000;b.c:3";
    vg *a = vg_new(0);
    assert_non_null(a);
    int fd = file_with(first, sizeof first - 1u);
    assert_int_equal(vg_feed(a, fd, -1), VG_OK);
    close(fd);
    fd = file_with(second, sizeof second - 1u);
    assert_int_equal(vg_feed(a, fd, -1), VG_OK);
    close(fd);
    assert_int_equal(vg_finish(a), VG_OK);
    /* a second vg_finish changes nothing; input after it is refused */
    uint64_t n1 = 0, n2 = 0;
    assert_non_null(vg_result(a, VG_R_FINDINGS, &n1));
    assert_int_equal(vg_finish(a), VG_OK);
    assert_non_null(vg_result(a, VG_R_FINDINGS, &n2));
    assert_int_equal(n1, n2);
    fd = file_with(first, sizeof first - 1u);
    assert_int_equal(vg_feed(a, fd, -1), VG_BAIL);
    close(fd);
    outcome o;
    capture(a, &o);
    vg_delete(a);
    assert_int_equal(count_of(&o, VG_R_SEGMENTS), 1);
    const uint64_t *s = rec(&o, VG_R_SEGMENTS, 0);
    assert_int_equal(s[VG_SEG_ORDINAL], 0);
    assert_int_equal(s[VG_SEG_ALLOCATIONS], 2);
    assert_int_equal(s[VG_SEG_MAX_LIVE], 32);
    assert_int_equal(count_of(&o, VG_R_FINDINGS), 1);
    const uint64_t *f = rec(&o, VG_R_FINDINGS, 0);
    assert_int_equal(f[VG_F_KIND], VG_KIND_LEAK);
    assert_int_equal(f[VG_F_PTR], 0x1010);
    assert_int_equal(f[VG_F_LINE], 3);
    assert_int_equal(f[VG_F_OFFSET], 0x10);
    assert_int_equal(o.n[VG_R_NAMES], 3);
    assert_memory_equal(o.r[VG_R_NAMES], "log", 3);
    static const uint64_t globals[] = {0, 0, 0};
    expect_words("globals", words(&o, VG_R_GLOBALS), globals, 3);
    outcome_free(&o);
}

/* Empty input: the one segment "log", nothing in it. */
static void test_empty_input(void **state)
{
    (void)state;
    for (int lean = 0; lean <= 1; lean++) {
        outcome o;
        run_file("", 0u, -1, lean, &o);
        assert_int_equal(o.feed_rc, VG_OK);
        assert_int_equal(o.finish_rc, VG_OK);
        assert_int_equal(count_of(&o, VG_R_SEGMENTS), 1);
        uint64_t want[VG_SEG_FIELDS] = {[VG_SEG_INDEX] = 1, [VG_SEG_HAS_PEAK_HEAP] = 0};
        expect_words("segment", rec(&o, VG_R_SEGMENTS, 0), want, VG_SEG_FIELDS);
        assert_int_equal(o.n[VG_R_FINDINGS], 0);
        assert_int_equal(o.n[VG_R_SITE_TEXT], 0);
        assert_int_equal(o.n[VG_R_NAMES], 3);
        outcome_free(&o);
    }
}

/* ---- giving up ------------------------------------------------------------------ */

#define INIT "seproxyhal: printf: ==MP init;0xda7a0000;4096\n"

static const struct {
    const char *why;
    const char *log;
    uint64_t line;
} BAILS[] = {
    {"an alloc before any init", "hello\n==MP alloc;32;0xda7a0010;a.c:1\n" INIT, 2},
    {"a free before any init", "==MP free;0xda7a0010;a.c:1\n", 1},
    {"a failed alloc before any init", "x\ny\n==MP alloc;8;0x0;a.c:1\n", 3},
    {"a size that is no number", INIT "==MP alloc;x;0x10;a.c:1\n", 2},
    {"an upper-case address", INIT "==MP alloc;32;0xDA7A0010;a.c:1\n", 2},
    {"an upper-case address freed", INIT "==MP alloc;32;0xda7a0010;a.c:1\n==MP free;0xDA7A0010;a.c:2\n", 3},
    {"a zero-padded address", INIT "==MP alloc;32;0x0da7a0010;a.c:1\n", 2},
    {"a zero-padded address after a zero-padded heap size (which is read)",
     "==MP init;0xda7a0000;04096\n==MP alloc;32;0x0da7a0010;a.c:1\n", 2},
    {"a size of 0", INIT "==MP alloc;0;0xda7a0010;a.c:1\n", 2},
    {"a persist of 0", INIT "\n==MP persist;0;0xda7a0010;a.c:1\n", 3},
    {"CR LF after an alloc", INIT "==MP alloc;32;0xda7a0010;a.c:1\r\n", 2},
    {"CR LF after an init", "x\r\n==MP init;0xda7a0000;4096\r\n", 2},
    {"CR LF after a free", INIT "==MP alloc;32;0xda7a0010;a.c:1\n==MP free;0xda7a0010;a.c:1\r\n", 3},
    {"two events on one line", INIT "==MP alloc;32;0xda7a0010;a.c:1==MP free;0xda7a0010;a.c:2\n", 2},
    {"two inits on one line", "==MP init;0xda7a0000;4096 ==MP init;0xda7a0000;4096\n", 1},
    {"a fault line", INIT "==MP alloc;32;0xda7a0010;a.c:1\n==MP! fault;3;0xda7a0010;freed;double free\n", 3},
    {"a site line", INIT "seproxyhal: printf: ==MP! site;alloc;0xda7a0010;a.c:1\n", 2},
    {"an event on a test's line", INIT "tests/test_x.py::test_a[0] ==MP alloc;32;0xda7a0010;a.c:1\n", 2},
    {"an event on a collected line", INIT "collected 3 items ==MP alloc;32;0xda7a0010;a.c:1\n", 2},
    {"an event in a site with ::", INIT "==MP alloc;32;0xda7a0010;a::b.c:1\n", 2},
    {"an alloc past the heap", INIT "==MP alloc;32;0xda7b0000;a.c:1\n", 2},
    {"an alloc across the heap's end", INIT "==MP alloc;32;0xda7a0ff0;a.c:1\n", 2},
    {"an alloc below the heap", INIT "==MP alloc;32;0xda79fff0;a.c:1\n", 2},
    {"an alloc larger than the heap", INIT "==MP alloc;4097;0xda7a0000;a.c:1\n", 2},
    {"an alloc over the previous block", INIT "==MP alloc;32;0xda7a0010;a.c:1\n==MP alloc;8;0xda7a0020;a.c:2\n", 3},
    {"an alloc over the next block", INIT "==MP alloc;16;0xda7a0040;a.c:1\n==MP alloc;17;0xda7a0030;a.c:2\n", 3},
    {"an init of size 0", "==MP init;0xda7a0000;0\n", 1},
    {"an init past 2^64", "a\n==MP init;0xfffffffffffff000;4097\n", 2},
    {"a 17-digit address", INIT "==MP free;0x10000000000000000;a.c:1\n", 2},
    {"a 20-digit size", INIT "==MP alloc;18446744073709551616;0xda7a0010;a.c:1\n", 2},
    {"a 20-digit heap size", "==MP init;0x0;18446744073709551615\n", 1},
    {"an unknown event", INIT "==MP realloc;32;0xda7a0010;a.c:1\n", 2},
    {"a site without a line", INIT "==MP alloc;32;0xda7a0010;a.c\n", 2},
    {"a site with junk after its line", INIT "==MP alloc;32;0xda7a0010;a.c:1 x\n", 2},
    {"a free without a site", INIT "==MP free;0xda7a0010\n", 2},
    {"a `collected` count of 19 digits", "collected 1234567890123456789 items\n", 1},
    {"a last line without its newline", INIT "\n\n==MP alloc;x;0x10;a.c:1", 4},
    {"total bytes past 2^64",
     "==MP init;0x1;9999999999999999999\n==MP alloc;9999999999999999990;0x1;a.c:1\n"
     "==MP alloc;9999999999999999990;0x1;a.c:1\n",
     3},
};

static void test_bails(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof BAILS / sizeof BAILS[0]; i++) {
        for (int lean = 0; lean <= 1; lean++) {
            vg *a = vg_new(lean);
            assert_non_null(a);
            int fd = file_with(BAILS[i].log, strlen(BAILS[i].log));
            int rc = vg_feed(a, fd, -1);
            close(fd);
            if (rc != VG_BAIL || vg_bail_line(a) != BAILS[i].line) {
                fail_msg("%s: vg_feed %d, line %" PRIu64 " (%s); expected VG_BAIL at line %" PRIu64, BAILS[i].why,
                         rc, vg_bail_line(a), vg_bail_reason(a), BAILS[i].line);
            }
            assert_true(strlen(vg_bail_reason(a)) > 0u);
            /* then nothing more is read */
            fd = file_with(KNOWN_LOG, sizeof KNOWN_LOG - 1u);
            assert_int_equal(vg_feed(a, fd, -1), VG_BAIL);
            assert_int_equal(lseek(fd, 0, SEEK_CUR), 0);
            close(fd);
            assert_int_equal(vg_finish(a), VG_BAIL);
            assert_int_equal(vg_finish(a), VG_BAIL);
            assert_int_equal(vg_bail_line(a), BAILS[i].line);
            vg_delete(a);
        }
    }
}

/* Lines the core reads that look like bails but are not (they are what
 * the Python reader's fast path reads too). */
static void test_not_bails(void **state)
{
    (void)state;
    static const char *const logs[] = {
        /* a failed allocation at 0x0, any size spelled any way */
        INIT "==MP alloc;0;0x0;a.c:1\n==MP persist;007;0x0;a.c:1\n==MP alloc;9999999999999999999;0x0;?:0\n",
        /* the largest numbers: 16 hex and 19 decimal digits */
        "==MP init;0xffffffffffff0000;65536\n==MP alloc;1;0xffffffffffffffff;a.c:1\n"
        "==MP alloc;65535;0xffffffffffff0000;a.c:1\n==MP free;0xffffffffffffffff;a.c:2\n",
        "==MP init;0x1;9999999999999999999\n==MP alloc;9999999999999999990;0xa;a.c:1\n",
        "==MP init;0x0;1\n==MP init;0x0000000000000000;0000000000000000001\n",
        /* sites with ;, :, spaces, NUL-free bytes of any kind */
        INIT "==MP alloc;1;0xda7a0000;a;b: c\xff\x01.c:0\n==MP free;0xda7a0000;x:y;z:00\n",
        /* an event after any prefix, a line with `==MP` but no event */
        INIT "xx ==MP alloc;1;0xda7a0000;a.c:1\n==MPalloc;1;0x1;a.c:1\n==MP! \n",
    };
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        outcome o;
        run_file(logs[i], strlen(logs[i]), -1, 0, &o);
        if (i == 5) {
            /* but `==MP! ` is a fault marker: the core leaves that line to Python */
            assert_int_equal(o.feed_rc, VG_BAIL);
            assert_int_equal(o.bail_line, 4);
        } else if (o.feed_rc != VG_OK || o.finish_rc != VG_OK) {
            fail_msg("log %zu: %d/%d at line %" PRIu64 ": %s", i, o.feed_rc, o.finish_rc, o.bail_line, o.reason);
        }
        outcome_free(&o);
    }
}

/* ---- the spool ------------------------------------------------------------------ */

/* The byte offset where line `line` (from 1) ends, its newline included. */
static size_t end_of_line(const char *data, size_t n, uint64_t line)
{
    size_t at = 0u;
    for (uint64_t k = 0; k < line && at < n; k++) {
        const char *nl = memchr(data + at, '\n', n - at);
        at = nl ? (size_t)(nl - data) + 1u : n;
    }
    return at;
}

/* The spool holds what the core read: all of data on VG_OK, at least up
 * to the end of the bail line on VG_BAIL; a prefix of data either way. */
static void check_spool(int spool_fd, const char *data, size_t n, const outcome *o)
{
    size_t got;
    char *sp = file_bytes(spool_fd, &got);
    assert_true(got <= n);
    assert_true(got == 0u || memcmp(sp, data, got) == 0);
    if (o->feed_rc == VG_OK) {
        assert_int_equal(got, n);
    } else {
        assert_int_equal(o->feed_rc, VG_BAIL);
        assert_true(got >= end_of_line(data, n, o->bail_line));
    }
    free(sp);
}

static void known_repeated(sbuf *b, size_t times)
{
    for (size_t i = 0; i < times; i++) {
        sb_put(b, KNOWN_LOG, sizeof KNOWN_LOG - 1u);
    }
}

static void test_spool(void **state)
{
    (void)state;
    /* a log longer than a pipe holds, read to its end */
    sbuf log = {0};
    known_repeated(&log, 600u);
    for (int how = 0; how < 3; how++) {
        int spool = empty_file();
        outcome o;
        if (how == 0) {
            run_file(log.p, log.len, spool, 0, &o);
        } else {
            run_pieces(log.p, log.len, 3u + (uint64_t)how, how == 1 ? 70000u : 333u, spool, 1, &o);
        }
        assert_int_equal(o.feed_rc, VG_OK);
        assert_int_equal(o.finish_rc, VG_OK);
        check_spool(spool, log.p, log.len, &o);
        close(spool);
        outcome_free(&o);
    }
    /* one that gives up halfway: the spool has (at least) every line up to
     * the bail line's end */
    size_t half = (size_t)((const char *)memchr(log.p + log.len / 2u, '\n', log.len / 2u) - log.p) + 1u;
    uint64_t lines_before = 0;
    for (size_t i = 0; i < half; i++) {
        lines_before += log.p[i] == '\n';
    }
    sbuf bad = {0};
    sb_put(&bad, log.p, half);
    sb_str(&bad, "==MP alloc;x;0x10;a.c:1\n");
    sb_put(&bad, log.p + half, log.len - half);
    for (int how = 0; how < 3; how++) {
        int spool = empty_file();
        outcome o;
        if (how == 0) {
            run_file(bad.p, bad.len, spool, 0, &o);
        } else {
            run_pieces(bad.p, bad.len, 11u + (uint64_t)how, how == 1 ? 100000u : 4096u, spool, 0, &o);
        }
        assert_int_equal(o.feed_rc, VG_BAIL);
        assert_int_equal(o.finish_rc, VG_BAIL);
        assert_int_equal(o.bail_line, lines_before + 1u);
        check_spool(spool, bad.p, bad.len, &o);
        close(spool);
        outcome_free(&o);
    }
    sb_free(&bad);
    sb_free(&log);
}

/* ---- the API's edges ------------------------------------------------------------- */

static void test_api_edges(void **state)
{
    (void)state;
    vg_delete(NULL);
    vg *a = vg_new(0);
    assert_non_null(a);
    static const int unknown[] = {-1, VG_R_COUNT, VG_R_COUNT + 1, 1000, -1000000};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        uint64_t n = 77u;
        assert_null(vg_result(a, unknown[i], &n));
        assert_int_equal(n, 0);
    }
    assert_int_equal(vg_bail_line(a), 0);
    assert_string_equal(vg_bail_reason(a), "");
    /* a read error: VG_IO_ERROR with errno, and nothing more accepted */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    close(fds[1]);
    errno = 0;
    assert_int_equal(vg_feed(a, fds[0], -1), VG_IO_ERROR);
    assert_int_equal(errno, EBADF);
    int fd = file_with(KNOWN_LOG, sizeof KNOWN_LOG - 1u);
    assert_int_not_equal(vg_feed(a, fd, -1), VG_OK);
    close(fd);
    assert_int_not_equal(vg_finish(a), VG_OK);
    vg_delete(a);
    /* a spool that cannot be written */
    a = vg_new(1);
    assert_non_null(a);
    fd = file_with(KNOWN_LOG, sizeof KNOWN_LOG - 1u);
    int ro = open("/dev/null", O_RDONLY);
    assert_true(ro >= 0);
    errno = 0;
    assert_int_equal(vg_feed(a, fd, ro), VG_IO_ERROR);
    assert_int_equal(errno, EBADF);
    close(ro);
    close(fd);
    assert_int_not_equal(vg_finish(a), VG_OK);
    vg_delete(a);
    /* a result that is empty: NULL and 0 (here the names: the one test's is empty) */
    static const char empty_name[] = "test_ [ a.py::\n";
    outcome o;
    run_file(empty_name, sizeof empty_name - 1u, -1, 0, &o);
    assert_int_equal(o.feed_rc, VG_OK);
    assert_int_equal(count_of(&o, VG_R_SEGMENTS), 1);
    assert_int_equal(rec(&o, VG_R_SEGMENTS, 0)[VG_SEG_ORDINAL], 1);
    assert_int_equal(o.n[VG_R_NAMES], 0); /* capture checked it is NULL */
    assert_int_equal(count_of(&o, VG_R_NAME_OFFSETS), 1);
    outcome_free(&o);
}

/* ---- lines over 8 MiB (the core's block) ------------------------------------------ */

static void test_long_lines(void **state)
{
    (void)state;
    const size_t big = (9u << 20) + 123u;
    sbuf log = {0};
    sb_str(&log, INIT);                                /* 1 */
    sb_fill(&log, 'x', big);                           /* 2: no event */
    sb_str(&log, "\n==MP alloc;16;0xda7a0010;a.c:3\n"); /* 3 */
    sb_str(&log, "==MP alloc;16;0xda7a0020;");         /* 4: a site of 9 MiB */
    sb_fill(&log, 's', big);
    sb_str(&log, ":4\n");
    sb_fill(&log, 'y', big); /* 5: an event after 9 MiB, no newline */
    sb_str(&log, "==MP alloc;16;0xda7a0030;c.c:5");
    for (int lean = 0; lean <= 1; lean++) {
        int spool = lean ? -1 : empty_file();
        outcome o;
        run_file(log.p, log.len, spool, lean, &o);
        assert_int_equal(o.feed_rc, VG_OK);
        assert_int_equal(o.finish_rc, VG_OK);
        assert_int_equal(count_of(&o, VG_R_FINDINGS), 3);
        static const uint64_t lines[] = {3, 4, 5};
        for (size_t i = 0; i < 3; i++) {
            const uint64_t *f = rec(&o, VG_R_FINDINGS, i);
            assert_int_equal(f[VG_F_KIND], VG_KIND_LEAK);
            assert_int_equal(f[VG_F_LINE], lines[i]);
            assert_int_equal(f[VG_F_PTR], BASE + 0x10u * (i + 1u));
        }
        assert_int_equal(count_of(&o, VG_R_SITE_OFFSETS), 3);
        const char *s;
        assert_int_equal(string_at(&o, VG_R_SITE_TEXT, VG_R_SITE_OFFSETS, 1, &s), big + 2u);
        assert_memory_equal(s + big - 3u, "sss:4", 5);
        assert_int_equal(string_at(&o, VG_R_SITE_TEXT, VG_R_SITE_OFFSETS, 2, &s), 5);
        assert_memory_equal(s, "c.c:5", 5);
        if (spool >= 0) {
            check_spool(spool, log.p, log.len, &o);
            close(spool);
        }
        outcome_free(&o);
    }
    sb_free(&log);
}

/* ---- generated logs ------------------------------------------------------------------ */

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t rnd(rng_t *r)
{
    /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(rng_t *r, uint64_t n)
{
    return n ? rnd(r) % n : 0u;
}

static bool chance(rng_t *r, unsigned per_mille)
{
    return below(r, 1000u) < per_mille;
}

typedef struct {
    uint64_t ptr, size;
} gblock;

/* A log being written, and what the writer knows of its heap. */
typedef struct {
    rng_t r;
    sbuf *out;
    unsigned hostile;   /* per mille of lines written wrong */
    bool has_heap;
    uint64_t base, size, cursor;    /* the next alloc's offset (a bump allocator) */
    gblock *live;
    size_t nlive, cap;
    uint64_t last_freed;
    unsigned tests;
    const char *prefix;
    unsigned scale;     /* 1, or smaller logs under valgrind */
} gen_t;

static const char *const PREFIXES[] = {"", "seproxyhal: printf: ", "[ 12.5] app: ", "\t", "E "};

static const char *const SITES[] = {
    "src/a.c:10", "src/b.c:20", "lib/x/y.c:1", "?:0", "app.c:65535", "dir with space/f.c:3",
    "a;b;c.c:4", "c:\\w\\x.c:5", "caf\xc3\xa9.c:6", "...ng/path/to/app.c:42", "x.c:007", "weird:name:9",
};

static void g_site(gen_t *g)
{
    if (!chance(&g->r, 100)) {
        sb_str(g->out, SITES[below(&g->r, sizeof SITES / sizeof SITES[0])]);
        return;
    }
    /* random bytes (no newline, no `==MP`, no `::`), then :<line> */
    size_t n = (size_t)below(&g->r, chance(&g->r, 50) ? 400u : 30u);
    char prev = 0;
    for (size_t i = 0; i < n; i++) {
        char c = (char)below(&g->r, 256u);
        if (c == '\n' || c == '=' || (c == ':' && prev == ':')) {
            c = '_';
        }
        sb_byte(g->out, c);
        prev = c;
    }
    if (prev == ':') {
        sb_byte(g->out, '_');
    }
    sb_byte(g->out, ':');
    sb_u64(g->out, below(&g->r, 100000u));
}

static void g_mark(gen_t *g)
{
    sb_str(g->out, chance(&g->r, 900) ? g->prefix : PREFIXES[below(&g->r, sizeof PREFIXES / sizeof PREFIXES[0])]);
    sb_str(g->out, "==MP ");
}

static void g_live_add(gen_t *g, uint64_t ptr, uint64_t size)
{
    if (g->nlive == g->cap) {
        g->cap = g->cap ? g->cap * 2u : 64u;
        g->live = realloc(g->live, g->cap * sizeof *g->live);
        assert_non_null(g->live);
    }
    g->live[g->nlive].ptr = ptr;
    g->live[g->nlive].size = size;
    g->nlive++;
}

static void g_live_remove(gen_t *g, size_t i)
{
    g->live[i] = g->live[--g->nlive];
}

/* an init: a heap of one of a few shapes, from 4 KiB to the top of the address space */
static void g_init(gen_t *g)
{
    uint64_t base, size;
    switch (below(&g->r, 8u)) {
    case 0: base = 0; size = 4096u + below(&g->r, 1u << 20); break;
    case 1: size = 1u << 16; base = 0u - size; break;        /* ends at 2^64 */
    case 2: base = 1u; size = 9999999999999999999ULL; break;  /* 19 digits */
    case 3: base = 0xffff000000000000ULL; size = below(&g->r, 1u << 30) + 1u; break;
    case 4: base = rnd(&g->r) >> 8 << 4; size = 1u + below(&g->r, 1u << 24); break;
    default: base = BASE; size = 4096u << below(&g->r, 6u); break;
    }
    g_mark(g);
    sb_str(g->out, "init;");
    sb_hex(g->out, base);
    sb_byte(g->out, ';');
    sb_u64(g->out, size);
    sb_byte(g->out, '\n');
    g->has_heap = true;
    g->base = base;
    g->size = size;
    g->cursor = base == 0u ? 16u : 0u;   /* an alloc at 0x0 is a failed one */
    g->nlive = 0;
}

static void g_free_at(gen_t *g, uint64_t ptr)
{
    g_mark(g);
    sb_str(g->out, "free;");
    sb_hex(g->out, ptr);
    sb_byte(g->out, ';');
    g_site(g);
    sb_byte(g->out, '\n');
}

static void g_free(gen_t *g)
{
    if (g->nlive == 0u) {
        return;
    }
    size_t i = (size_t)below(&g->r, g->nlive);
    g->last_freed = g->live[i].ptr;
    g_free_at(g, g->live[i].ptr);
    g_live_remove(g, i);
}

static void g_free_all(gen_t *g)
{
    while (g->nlive > 0u) {
        g_free(g);
    }
    g->cursor = g->base == 0u ? 16u : 0u;
}

static uint64_t g_size(gen_t *g)
{
    uint64_t room = g->size - g->cursor;
    uint64_t k = below(&g->r, 100u);
    uint64_t s = k < 70u ? 1u + below(&g->r, 64u) : k < 95u ? 1u + below(&g->r, 4096u) : 1u + below(&g->r, room);
    return s;
}

static void g_alloc(gen_t *g, bool persist)
{
    if (!g->has_heap) {
        g_init(g);
    }
    uint64_t size = g_size(g);
    if (g->cursor >= g->size || size > g->size - g->cursor) {
        if (chance(&g->r, 500)) {
            g_init(g);
        } else {
            g_free_all(g);
        }
        if (size > g->size - g->cursor) {
            size = 1u + below(&g->r, g->size - g->cursor);
        }
    }
    uint64_t ptr = g->base + g->cursor;
    g_mark(g);
    sb_str(g->out, persist ? "persist;" : "alloc;");
    sb_u64(g->out, size);
    sb_byte(g->out, ';');
    sb_hex(g->out, ptr);
    sb_byte(g->out, ';');
    g_site(g);
    sb_byte(g->out, '\n');
    g_live_add(g, ptr, size);
    uint64_t gap = below(&g->r, 4u) == 0u ? 0u : below(&g->r, 64u);
    g->cursor += size;
    g->cursor = gap > g->size - g->cursor ? g->size : g->cursor + gap;
}

/* a live block allocated again, no larger (a finding, not a bail) */
static void g_twice(gen_t *g)
{
    if (g->nlive == 0u) {
        return;
    }
    size_t i = (size_t)below(&g->r, g->nlive);
    uint64_t size = 1u + below(&g->r, g->live[i].size);
    g_mark(g);
    sb_str(g->out, "alloc;");
    sb_u64(g->out, size);
    sb_byte(g->out, ';');
    sb_hex(g->out, g->live[i].ptr);
    sb_byte(g->out, ';');
    g_site(g);
    sb_byte(g->out, '\n');
    g->live[i].size = size;
}

/* a free of a block not live: a double or invalid free */
static void g_bad_free(gen_t *g)
{
    uint64_t ptr = g->last_freed;
    if (ptr == 0u || chance(&g->r, 300)) {
        ptr = g->base + below(&g->r, g->size);
    }
    if (ptr == 0u) {
        return;
    }
    for (size_t i = 0; i < g->nlive; i++) {
        if (g->live[i].ptr == ptr) {
            g_live_remove(g, i); /* it was live after all: a good free */
            break;
        }
    }
    g_free_at(g, ptr);
}

static void g_failed(gen_t *g)
{
    g_mark(g);
    sb_str(g->out, chance(&g->r, 500) ? "alloc;" : "persist;");
    if (chance(&g->r, 100)) {
        sb_str(g->out, "000");
    }
    sb_u64(g->out, chance(&g->r, 100) ? 9999999999999999999ULL : below(&g->r, 1000u));
    sb_str(g->out, ";0x0;");
    g_site(g);
    sb_byte(g->out, '\n');
}

/* pytest's lines */
static void g_pytest(gen_t *g)
{
    sbuf *o = g->out;
    unsigned t = g->tests;
    char name[96];
    snprintf(name, sizeof name, "test_%u[nanos-%" PRIu64 "]", t, below(&g->r, 4u));
    switch (below(&g->r, 14u)) {
    case 0: case 1: case 2:
        /* -s: the node id alone */
        sb_str(o, "tests/test_x.py::");
        sb_str(o, name);
        sb_str(o, " \n");
        g->tests++;
        break;
    case 3:
        /* -v: with its status */
        sb_str(o, "tests/functional/test_y.py::TestC::");
        sb_str(o, name);
        sb_str(o, chance(&g->r, 500) ? " PASSED [ 10%]\n" : " XFAIL\n");
        g->tests++;
        break;
    case 4:
        sb_str(o, "tests/test_z.py::test_plain\n");
        g->tests++;
        break;
    case 5:
        /* the summary */
        sb_str(o, chance(&g->r, 500) ? "FAILED tests/test_x.py::" : "ERROR tests/test_x.py::");
        sb_str(o, name);
        sb_str(o, " - assert 0\n");
        g->tests++;
        break;
    case 6:
        sb_str(o, "collecting ... tests/test_x.py::");
        sb_str(o, name);
        sb_byte(o, '\n');
        g->tests++;
        break;
    case 7:
        /* the SDK's rule: test_, :: and [ */
        sb_str(o, "run ");
        sb_str(o, name);
        sb_str(o, "::x SKIPPED\n");
        g->tests++;
        break;
    case 8: case 9: {
        static const char *const st[] = {"PASSED\n", "FAILED\n", "ERROR [ 50%]\n", "SKIPPED  \n", "XFAIL\n",
                                         "XPASS [100%]\n", "PASSED [ x%]\n", "PASSEDx\n"};
        sb_str(o, st[below(&g->r, sizeof st / sizeof st[0])]);
        break;
    }
    case 10:
        sb_str(o, "collected ");
        sb_u64(o, below(&g->r, 1000000000000000000ULL));
        sb_str(o, chance(&g->r, 500) ? " items\n" : " item / 3 deselected\n");
        break;
    case 11:
        sb_str(o, "============ 3 passed, 1 failed in 0.12s ============\n");
        break;
    case 12:
        sb_str(o, "tests/test_x.py:12: AssertionError\n");
        break;
    default:
        sb_str(o, "collected 3 itemsx, not collected 9 items\n");
        break;
    }
}

/* output of the app or the emulator: text, or any bytes */
static void g_noise(gen_t *g)
{
    sbuf *o = g->out;
    size_t n = (size_t)below(&g->r, 120u);
    if (chance(&g->r, 500)) {
        for (size_t i = 0; i < n; i++) {
            sb_byte(o, (char)(' ' + below(&g->r, 95u)));
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            char c = (char)below(&g->r, 256u);
            sb_byte(o, c == '=' ? '-' : c);
        }
    }
    sb_byte(o, '\n');
}

/* a number as text: mostly right, sometimes too wide or oddly spelled */
static void g_number(gen_t *g, bool hex)
{
    static const char *const odd_dec[] = {"18446744073709551616", "99999999999999999999", "9999999999999999999",
                                          "18446744073709551615", "0", "00", "-1", "", "1e3", "\xd9\xa1"};
    static const char *const odd_hex[] = {"0x10000000000000000", "0xffffffffffffffff", "0x0000000000000001",
                                          "0xFFFF", "0x", "0x-10", "0x 10", "10", "0x0", "0xg"};
    if (chance(&g->r, 300)) {
        sb_str(g->out, hex ? odd_hex[below(&g->r, 10u)] : odd_dec[below(&g->r, 10u)]);
        return;
    }
    uint64_t v = below(&g->r, 5000u);
    if (chance(&g->r, 500)) {
        unsigned shift = (unsigned)below(&g->r, 64u);   /* drawn first: one order on every compiler */
        v = rnd(&g->r) >> shift;
    }
    if (hex) {
        sb_hex(g->out, chance(&g->r, 200) ? g->base + below(&g->r, g->size | 1u) : v);
    } else {
        sb_u64(g->out, v);
    }
}

/* a line the core gives up on (most of the time) */
static void g_hostile(gen_t *g)
{
    sbuf *o = g->out;
    gblock b = g->nlive ? g->live[below(&g->r, g->nlive)] : (gblock){g->base + 16u, 16u};
    switch (below(&g->r, 20u)) {
    case 0:
        g_mark(g);
        sb_str(o, "alloc;x;0x10;a.c:1\n");
        break;
    case 1:
        /* upper case or zero-padded */
        g_mark(g);
        sb_str(o, "free;0x");
        if (chance(&g->r, 500)) {
            sb_str(o, "0");
        }
        {
            char t[24];
            snprintf(t, sizeof t, "%" PRIX64, b.ptr | 0xa);
            sb_str(o, t);
        }
        sb_str(o, ";a.c:1\n");
        break;
    case 2:
        g_mark(g);
        sb_str(o, "alloc;0;");
        sb_hex(o, g->base + g->cursor + 1u);
        sb_str(o, ";a.c:1\n");
        break;
    case 3:
        /* CR LF */
        g_alloc(g, false);
        o->len--;
        sb_str(o, "\r\n");
        break;
    case 4:
        /* two events */
        if (g->nlive == 0u) {
            break;
        }
        g_free(g);
        o->len--;
        g_mark(g);
        sb_str(o, "init;0x1000;4096\n");
        break;
    case 5:
        sb_str(o, g->prefix);
        sb_str(o, chance(&g->r, 500) ? "==MP! fault;3;0x10;freed;double free\n" : "==MP! site;alloc;0x10;a.c:9\n");
        break;
    case 6:
        /* an event on a test's line */
        sb_str(o, "tests/test_x.py::test_e[1] ");
        g_alloc(g, false);
        g->tests++;
        break;
    case 7:
        /* outside the heap */
        g_mark(g);
        sb_str(o, "alloc;");
        sb_u64(o, 1u + below(&g->r, 64u));
        sb_byte(o, ';');
        sb_hex(o, chance(&g->r, 500) ? g->base + g->size - below(&g->r, 8u) : g->base - 1u - below(&g->r, 100u));
        sb_str(o, ";a.c:1\n");
        break;
    case 8:
        /* over a live block */
        g_mark(g);
        sb_str(o, "alloc;");
        sb_u64(o, b.size + 1u);
        sb_byte(o, ';');
        sb_hex(o, b.ptr + (b.size > 1u ? below(&g->r, b.size) : 0u));
        sb_str(o, ";a.c:1\n");
        break;
    case 9:
        g_mark(g);
        sb_str(o, chance(&g->r, 500) ? "init;0x1000;0\n" : "init;0xfffffffffffffff0;17\n");
        break;
    case 10:
        /* fields of random numbers */
        g_mark(g);
        sb_str(o, chance(&g->r, 500) ? "alloc;" : "persist;");
        g_number(g, false);
        sb_byte(o, ';');
        g_number(g, true);
        sb_byte(o, ';');
        g_site(g);
        sb_byte(o, '\n');
        break;
    case 11:
        g_mark(g);
        sb_str(o, "free;");
        g_number(g, true);
        sb_byte(o, ';');
        g_site(g);
        sb_byte(o, '\n');
        break;
    case 12:
        g_mark(g);
        sb_str(o, "init;");
        g_number(g, true);
        sb_byte(o, ';');
        g_number(g, false);
        sb_byte(o, '\n');
        g->nlive = 0;   /* maybe a new heap: forget the blocks */
        g->has_heap = false;
        break;
    case 13: {
        /* random bytes with a marker somewhere */
        size_t n = (size_t)below(&g->r, 200u);
        size_t at = (size_t)below(&g->r, n + 1u);
        for (size_t i = 0; i <= n; i++) {
            if (i == at) {
                sb_str(o, chance(&g->r, 800) ? "==MP " : "==MP! ");
            }
            if (i < n) {
                char c = (char)below(&g->r, 256u);
                sb_byte(o, c == '\n' ? '\0' : c);
            }
        }
        sb_byte(o, '\n');
        break;
    }
    case 14:
        sb_str(o, "collected ");
        sb_str(o, chance(&g->r, 500) ? "1234567890123456789" : "99999999999999999999");
        sb_str(o, " items\n");
        break;
    case 15:
        g_mark(g);
        sb_str(o, chance(&g->r, 500) ? "realloc;16;0x10;a.c:1\n" : "free\n");
        break;
    case 16:
        g_mark(g);
        sb_str(o, "alloc;16;");
        sb_hex(o, g->base + g->cursor);
        sb_str(o, chance(&g->r, 500) ? ";a.c:1 trailing\n" : ";\n");
        break;
    case 17:
        /* a site with :: (the line may be pytest's) */
        g_mark(g);
        sb_str(o, "free;");
        sb_hex(o, b.ptr);
        sb_str(o, ";tests/x.py::t[0]:1\n");
        break;
    case 18:
        /* an event before any init, in a new log's style */
        if (!g->has_heap) {
            g_mark(g);
            sb_str(o, "alloc;16;0x1000;a.c:1\n");
        }
        break;
    default:
        /* a NUL and 0xff inside an event */
        g_mark(g);
        sb_str(o, "alloc;1");
        sb_put(o, "\0\xff", 2u);
        sb_str(o, ";0x10;a.c:1\n");
        break;
    }
}

/* one line (or a few) of a mixed log */
static void g_line(gen_t *g)
{
    if (chance(&g->r, g->hostile)) {
        g_hostile(g);
        return;
    }
    uint64_t k = below(&g->r, 100u);
    if (k < 30u) {
        g_alloc(g, false);
    } else if (k < 50u) {
        g_free(g);
    } else if (k < 53u) {
        g_alloc(g, true);
    } else if (k < 55u) {
        if (g->has_heap) {
            g_twice(g);
        }
    } else if (k < 57u) {
        if (g->has_heap) {
            g_bad_free(g);
        }
    } else if (k < 59u) {
        if (g->has_heap) {
            g_failed(g);
        }
    } else if (k < 61u) {
        g_init(g);
    } else if (k < 75u) {
        g_pytest(g);
    } else {
        g_noise(g);
    }
}

/* many live blocks: the tables grow, then everything is freed (or a re-init drops it) */
static void g_bulk(gen_t *g)
{
    sbuf *o = g->out;
    unsigned rounds = 1u + (unsigned)below(&g->r, 3u);
    for (unsigned round = 0; round < rounds; round++) {
        sb_str(o, "tests/test_bulk.py::test_many[");
        sb_u64(o, round);
        sb_str(o, "]\n");
        g->tests++;
        if (!g->has_heap || g->size < (1u << 24) || chance(&g->r, 300)) {
            g_mark(g);
            g->base = 0x10000000u;
            g->size = 1ULL << 32;
            sb_str(o, "init;0x10000000;4294967296\n");
            g->has_heap = true;
            g->cursor = 0;
            g->nlive = 0;
        }
        size_t n = (size_t)(300u + below(&g->r, 4000u)) / g->scale;
        for (size_t i = 0; i < n; i++) {
            uint64_t size = 1u + below(&g->r, 64u);
            if (size > g->size - g->cursor) {
                break;
            }
            uint64_t ptr = g->base + g->cursor;
            g_mark(g);
            sb_str(o, "alloc;");
            sb_u64(o, size);
            sb_byte(o, ';');
            sb_hex(o, ptr);
            sb_str(o, ";src/bulk.c:");
            sb_u64(o, i % 37u);
            sb_byte(o, '\n');
            g_live_add(g, ptr, size);
            uint64_t gap = below(&g->r, 8u);
            g->cursor += size;
            g->cursor = gap > g->size - g->cursor ? g->size : g->cursor + gap;
            if (chance(&g->r, 100)) {
                g_free(g);
            }
        }
        if (chance(&g->r, 200)) {
            g_init(g);
        } else {
            size_t keep = chance(&g->r, 300) ? g->nlive / 2u : 0u;
            while (g->nlive > keep) {
                g_free(g);
                if (chance(&g->r, 5)) {
                    g_bad_free(g);
                }
            }
        }
        sb_str(o, chance(&g->r, 500) ? "PASSED\n" : "FAILED\n");
    }
}

/* many short tests */
static void g_tests(gen_t *g)
{
    unsigned n = (unsigned)(100u + below(&g->r, 1500u)) / g->scale;
    for (unsigned t = 0; t < n; t++) {
        sb_str(g->out, "tests/test_many.py::test_");
        sb_u64(g->out, t);
        sb_str(g->out, "[nanosp] \n");
        g->tests++;
        if (chance(&g->r, 700)) {
            g_init(g);
        }
        unsigned events = (unsigned)below(&g->r, 6u);
        for (unsigned e = 0; e < events; e++) {
            if (chance(&g->r, g->hostile)) {
                g_hostile(g);
            } else if (chance(&g->r, 600)) {
                g_alloc(g, chance(&g->r, 50));
            } else {
                g_free(g);
            }
        }
        if (chance(&g->r, 800)) {
            sb_str(g->out, chance(&g->r, 900) ? "PASSED\n" : "FAILED\n");
        }
    }
}

/* The log numbered seed: its kind, its hostility and its lines. */
static void gen_log(uint64_t seed, unsigned scale, sbuf *out)
{
    gen_t g = {0};
    g.r.s = seed * 0x2545f4914f6cdd1dULL + 1u;
    g.out = out;
    g.scale = scale;
    g.prefix = PREFIXES[below(&g.r, sizeof PREFIXES / sizeof PREFIXES[0])];
    uint64_t kind = below(&g.r, 100u);
    /* half the logs clean, the others hostile now and then or often */
    uint64_t h = below(&g.r, 4u);
    g.hostile = h < 2u ? 0u : h == 2u ? 2u : 100u;
    if (kind == 0u) {
        return; /* empty */
    }
    if (chance(&g.r, 300)) {
        sb_str(out, "collected ");
        sb_u64(out, below(&g.r, 100u));
        sb_str(out, " items\n");
    }
    if (kind < 4u) {
        g_bulk(&g);
    } else if (kind < 7u) {
        g_tests(&g);
    } else {
        size_t lines = (size_t)below(&g.r, chance(&g.r, 100) ? 3000u : 300u);
        for (size_t i = 0; i < lines; i++) {
            g_line(&g);
        }
        if (chance(&g.r, 300)) {
            g_free_all(&g);
        }
    }
    if (out->len > 0u && chance(&g.r, 150)) {
        out->len--; /* no newline at the end */
    }
    free(g.live);
}

/* ---- checking the results of a generated log --------------------------------------- */

static unsigned g_log_index;
static uint64_t g_log_seed;

#define CHECK(cond)                                                                                                \
    do {                                                                                                           \
        if (!(cond)) {                                                                                             \
            fail_msg("log %u (seed %" PRIu64 "): %s", g_log_index, g_log_seed, #cond);                             \
        }                                                                                                          \
    } while (0)

static uint64_t lines_of(const char *data, size_t n)
{
    uint64_t k = 0;
    if (n == 0u) {
        return 0;
    }
    for (const char *p = data; (p = memchr(p, '\n', n - (size_t)(p - data))) != NULL; p++) {
        k++;
    }
    return k + (n > 0u && data[n - 1u] != '\n');
}

/* An outcome's results hold together. */
static void check_outcome(const outcome *o, int lean, uint64_t nlines)
{
    CHECK(o->feed_rc == VG_OK || o->feed_rc == VG_BAIL);
    if (o->feed_rc == VG_BAIL) {
        CHECK(o->finish_rc == VG_BAIL);
        CHECK(o->bail_line >= 1u && o->bail_line <= nlines);
        CHECK(o->reason[0] != '\0');
        return;
    }
    CHECK(o->finish_rc == VG_OK || o->finish_rc == VG_BAIL);
    if (o->finish_rc != VG_OK) {
        return;
    }
    size_t nseg = count_of(o, VG_R_SEGMENTS), nsites = count_of(o, VG_R_SITE_OFFSETS);
    CHECK(nseg >= 1u);
    const uint64_t *glob = words(o, VG_R_GLOBALS);
    CHECK(count_of(o, VG_R_GLOBALS) == 7u);
    CHECK(totals_agree(o));
    CHECK(glob[0] <= 1u && (glob[0] || glob[1] == 0u));
    uint64_t prev_ordinal = 0;
    for (size_t i = 0; i < nseg; i++) {
        const uint64_t *s = rec(o, VG_R_SEGMENTS, i);
        CHECK(s[VG_SEG_INDEX] == i + 1u);
        CHECK(s[VG_SEG_ORDINAL] <= glob[2]);
        CHECK(i == 0u ? true : s[VG_SEG_ORDINAL] > prev_ordinal);
        prev_ordinal = s[VG_SEG_ORDINAL];
        CHECK(s[VG_SEG_STATUS] <= 6u);
        CHECK(s[VG_SEG_SUMMARY] <= 1u && s[VG_SEG_TOUCHED] <= 1u);
        CHECK(s[VG_SEG_HAS_HEAP] <= 1u && s[VG_SEG_HAS_PEAK_HEAP] <= 1u);
        CHECK(s[VG_SEG_HAS_HEAP] || (s[VG_SEG_HEAP_BASE] == 0u && s[VG_SEG_HEAP_SIZE] == 0u));
        CHECK(!s[VG_SEG_HAS_HEAP] || s[VG_SEG_HEAP_SIZE] - 1u <= UINT64_MAX - s[VG_SEG_HEAP_BASE]);
        CHECK(s[VG_SEG_ALLOCATIONS] == 0u || s[VG_SEG_HAS_HEAP]);
        CHECK(s[VG_SEG_TOTAL] >= s[VG_SEG_ALLOCATIONS]);
        if (lean) {
            CHECK(!s[VG_SEG_HAS_GAP_PEAK] && !s[VG_SEG_HAS_GAP_END] && !s[VG_SEG_GAP_PEAK] && !s[VG_SEG_GAP_END]);
        } else {
            CHECK(s[VG_SEG_HAS_GAP_PEAK] == s[VG_SEG_HAS_PEAK_HEAP]);
            CHECK(s[VG_SEG_HAS_GAP_END] == s[VG_SEG_HAS_HEAP]);
            CHECK(s[VG_SEG_GAP_PEAK] <= s[VG_SEG_PEAK_SIZE]);
            CHECK(s[VG_SEG_GAP_END] <= s[VG_SEG_HEAP_SIZE]);
        }
        if (s[VG_SEG_ORDINAL] == 0u) {
            CHECK(i == 0u);
        }
    }
    /* names: one per segment, offsets non-decreasing within the blob */
    CHECK(count_of(o, VG_R_NAME_OFFSETS) == nseg);
    const uint64_t *noff = words(o, VG_R_NAME_OFFSETS);
    for (size_t i = 0; i < nseg; i++) {
        CHECK(noff[i] <= o->n[VG_R_NAMES]);
        CHECK(i == 0u || noff[i] >= noff[i - 1u]);
    }
    if (rec(o, VG_R_SEGMENTS, 0)[VG_SEG_ORDINAL] == 0u) {
        const char *name;
        CHECK(string_at(o, VG_R_NAMES, VG_R_NAME_OFFSETS, 0, &name) == 3u && memcmp(name, "log", 3) == 0);
    }
    /* sites: offsets from 0, non-decreasing within the blob */
    const uint64_t *soff = words(o, VG_R_SITE_OFFSETS);
    for (size_t i = 0; i < nsites; i++) {
        CHECK(soff[i] <= o->n[VG_R_SITE_TEXT]);
        CHECK(i == 0u ? soff[0] == 0u : soff[i] >= soff[i - 1u]);
    }
    CHECK(nsites > 0u || o->n[VG_R_SITE_TEXT] == 0u);
    /* findings */
    size_t nf = count_of(o, VG_R_FINDINGS);
    for (size_t i = 0; i < nf; i++) {
        const uint64_t *f = rec(o, VG_R_FINDINGS, i);
        CHECK(f[VG_F_SEG] < nseg);
        CHECK(f[VG_F_KIND] <= VG_KIND_TWICE);
        CHECK(!lean || (f[VG_F_KIND] != VG_KIND_REINIT && f[VG_F_KIND] != VG_KIND_PERSISTENT));
        CHECK(f[VG_F_SITE] < nsites);
        CHECK(f[VG_F_LINE] >= 1u && f[VG_F_LINE] <= nlines);
        CHECK(f[VG_F_HAS_OFFSET] <= 1u && (f[VG_F_HAS_OFFSET] || f[VG_F_OFFSET] == 0u));
        if (f[VG_F_KIND] == VG_KIND_TWICE) {
            CHECK(f[VG_F_FIRST_SITE] < nsites);
            CHECK(f[VG_F_FIRST_LINE] >= 1u && f[VG_F_FIRST_LINE] <= f[VG_F_LINE]);
            CHECK(f[VG_F_FIRST_SIZE] >= 1u);
        } else {
            CHECK(f[VG_F_FIRST_SIZE] == 0u && f[VG_F_FIRST_SITE] == 0u && f[VG_F_FIRST_LINE] == 0u);
        }
        if (f[VG_F_KIND] == VG_KIND_DOUBLE_FREE || f[VG_F_KIND] == VG_KIND_INVALID_FREE) {
            CHECK(f[VG_F_SIZE] == 0u);
        } else {
            CHECK(f[VG_F_SIZE] >= 1u);
        }
    }
    /* site tables: each segment's sites count its allocations, and its
     * blocks at the peak are its peak */
    if (lean) {
        CHECK(o->n[VG_R_SITES] == 0u && o->n[VG_R_PEAK_SITES] == 0u);
        return;
    }
    for (int which = VG_R_SITES; which <= VG_R_PEAK_SITES; which++) {
        size_t n = count_of(o, which), at = 0;
        for (size_t seg = 0; seg < nseg; seg++) {
            const uint64_t *s = rec(o, VG_R_SEGMENTS, seg);
            uint64_t count = 0, bytes = 0;
            for (; at < n && rec(o, which, at)[VG_S_SEG] == seg; at++) {
                const uint64_t *row = rec(o, which, at);
                CHECK(row[VG_S_SITE] < nsites && row[VG_S_COUNT] >= 1u && row[VG_S_BYTES] >= row[VG_S_COUNT]);
                count += row[VG_S_COUNT];
                bytes += row[VG_S_BYTES];
            }
            if (which == VG_R_SITES) {
                CHECK(count == s[VG_SEG_ALLOCATIONS] && bytes == s[VG_SEG_TOTAL]);
            } else {
                CHECK(bytes == s[VG_SEG_MAX_LIVE]);
            }
        }
        CHECK(at == n);
    }
}

static bool same_result(const outcome *a, const outcome *b, int which)
{
    return a->n[which] == b->n[which] && (a->n[which] == 0u || memcmp(a->r[which], b->r[which], (size_t)a->n[which]) == 0);
}

static bool same_outcome(const outcome *a, const outcome *b)
{
    if (a->feed_rc != b->feed_rc || a->finish_rc != b->finish_rc || a->bail_line != b->bail_line
        || strcmp(a->reason, b->reason) != 0) {
        return false;
    }
    for (int w = 0; w < VG_R_COUNT; w++) {
        if (!same_result(a, b, w)) {
            return false;
        }
    }
    return true;
}

/* lean is full without the gaps, site tables, persistent blocks and
 * reclaimed-block warnings; it gives up at the same line */
static void check_lean_full(const outcome *lean, const outcome *full)
{
    CHECK(lean->feed_rc == full->feed_rc && lean->finish_rc == full->finish_rc);
    CHECK(lean->bail_line == full->bail_line);
    if (full->feed_rc != VG_OK || full->finish_rc != VG_OK) {
        return;
    }
    size_t nseg = count_of(full, VG_R_SEGMENTS);
    CHECK(count_of(lean, VG_R_SEGMENTS) == nseg);
    for (size_t i = 0; i < nseg; i++) {
        uint64_t s[VG_SEG_FIELDS];
        memcpy(s, rec(full, VG_R_SEGMENTS, i), sizeof s);
        s[VG_SEG_HAS_GAP_PEAK] = s[VG_SEG_GAP_PEAK] = s[VG_SEG_HAS_GAP_END] = s[VG_SEG_GAP_END] = 0;
        CHECK(memcmp(s, rec(lean, VG_R_SEGMENTS, i), sizeof s) == 0);
    }
    size_t nf = count_of(full, VG_R_FINDINGS), k = 0;
    for (size_t i = 0; i < nf; i++) {
        const uint64_t *f = rec(full, VG_R_FINDINGS, i);
        if (f[VG_F_KIND] == VG_KIND_REINIT || f[VG_F_KIND] == VG_KIND_PERSISTENT) {
            continue;
        }
        CHECK(k < count_of(lean, VG_R_FINDINGS));
        CHECK(memcmp(f, rec(lean, VG_R_FINDINGS, k), VG_FINDING_FIELDS * 8u) == 0);
        k++;
    }
    CHECK(k == count_of(lean, VG_R_FINDINGS));
    CHECK(same_result(lean, full, VG_R_SITE_TEXT) && same_result(lean, full, VG_R_SITE_OFFSETS));
    CHECK(same_result(lean, full, VG_R_NAMES) && same_result(lean, full, VG_R_NAME_OFFSETS));
    CHECK(same_result(lean, full, VG_R_GLOBALS));
}

static unsigned env_unsigned(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        return dflt;
    }
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (*end != '\0' || n > 100000000u) {
        fail_msg("%s is not a count: %s", name, v);
    }
    return (unsigned)n;
}

static void dump_log(const char *dir, unsigned i, const sbuf *log)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/log-%u.txt", dir, i);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(log->p, 1, log->len, f), log->len);
    assert_int_equal(fclose(f), 0);
}

static void test_generated_logs(void **state)
{
    (void)state;
    bool valgrind = UNDER_VALGRIND();
    unsigned count = env_unsigned("VG_CORE_TEST_LOGS", valgrind ? 600u : 2000u);
    uint64_t seed = env_unsigned("VG_CORE_TEST_SEED", 1u);
    const char *dump = getenv("VG_CORE_TEST_DUMP");
    unsigned scale = valgrind ? 4u : 1u;  /* bulk and many-test logs a quarter as long */
    /* some through a pipe written in pieces: forks are slow under valgrind and ASan */
    unsigned pipe_every = valgrind || UNDER_ASAN ? 16u : 4u;
    unsigned ok = 0, bailed = 0, pipes = 0, empty = 0;
    uint64_t bytes = 0, findings = 0;
    int input = empty_file(), spool = empty_file();
    for (unsigned i = 0; i < count; i++) {
        g_log_index = i;
        g_log_seed = seed + i;
        sbuf log = {0};
        gen_log(g_log_seed, scale, &log);
        if (dump != NULL && *dump != '\0') {
            dump_log(dump, i, &log);
        }
        bytes += log.len;
        empty += log.len == 0u;
        uint64_t nlines = lines_of(log.p, log.len);
        outcome full, lean;
        /* from a file, in both modes (every third spooled) */
        bool spooled = i % 3u == 0u;
        refill(input, log.p, log.len);
        refill(spool, "", 0u);
        run_fd(input, spooled ? spool : -1, 0, &full);
        check_outcome(&full, 0, nlines);
        if (spooled) {
            check_spool(spool, log.p, log.len, &full);
        }
        assert_int_equal(lseek(input, 0, SEEK_SET), 0);
        run_fd(input, -1, 1, &lean);
        check_outcome(&lean, 1, nlines);
        check_lean_full(&lean, &full);
        if (i % pipe_every == 0u) {
            /* the same from a pipe, a line cut anywhere between two reads
             * (pieces of up to 7 bytes on the shorter logs, 4099 on the
             * others; or of up to 64 KiB), in either mode */
            unsigned k = (i / pipe_every) % 4u;
            int lean_pipe = (int)(k & 1u);
            size_t piece = k >= 2u ? 65536u : log.len < (64u << 10) ? 7u : 4099u;
            outcome p;
            refill(spool, "", 0u);
            run_pieces(log.p, log.len, g_log_seed, piece, spool, lean_pipe, &p);
            CHECK(same_outcome(&p, lean_pipe ? &lean : &full));
            check_spool(spool, log.p, log.len, &p);
            outcome_free(&p);
            pipes++;
        }
        if (full.feed_rc == VG_OK && full.finish_rc == VG_OK) {
            ok++;
            findings += count_of(&full, VG_R_FINDINGS);
        } else {
            bailed++;
        }
        outcome_free(&full);
        outcome_free(&lean);
        sb_free(&log);
    }
    close(input);
    close(spool);
    print_message("%u logs (%" PRIu64 " bytes, %u empty): %u read (%" PRIu64 " findings), %u given up; %u also "
                  "from a pipe\n",
                  count, bytes, empty, ok, findings, bailed, pipes);
    /* the generator must keep the core busy on both sides */
    if (count >= 100u) {
        assert_true(ok >= count / 4u);
        assert_true(bailed >= count / 8u);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_log),
        cmocka_unit_test(test_two_streams),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_bails),
        cmocka_unit_test(test_not_bails),
        cmocka_unit_test(test_spool),
        cmocka_unit_test(test_api_edges),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_generated_logs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
