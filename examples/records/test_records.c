/*
 * examples/records/test_records.c: what fuzz/campaign found in the records
 * module, replayed as a test (docs/FUZZING.md "Fuzzing your own app").
 *
 * Built twice (examples/records/meson.build): `records` links the module as
 * shipped, with its planted bug, `records_fixed` the module built with
 * -DRECORDS_FIXED. Both run every seed clean, and replay the crash inputs
 * of regressions/planted/ (what a campaign found, minimized):
 *  - planted: the app heap reports MEM_FAULT_OVERFLOW for the block of the
 *    planted allocation, and the allocation site the wrappers keep for it
 *    (mem_utils_fault_sites) is records.c at the line marked
 *    LINE:planted-alloc; the harness built without sanitizers and without
 *    libFuzzer (records_replay) aborts with the fault's line: the canary
 *    finds the bug with no help from ASan; the harness built with ASan and
 *    an allocator that poisons everything but live payloads
 *    (records_replay_asan) is stopped by ASan at the write itself, the line
 *    marked LINE:planted-write;
 *  - fixed: no fault, the input parses, nothing leaks, and the fixed
 *    harness runs it clean.
 * A fixed bug's inputs go in regressions/ itself: both builds run them clean.
 *
 *   test_records --source records.c --seeds DIR --crashes DIR [--regressions DIR]
 *                [--replay EXE] [--replay-asan EXE]
 * A case whose program is not given is skipped (a cross build, whose test
 * runs under an emulator that cannot start another target program).
 */

#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child_capture.h"

#include "app_mem_utils.h"
#include "records.h"

/* From fuzz_records.c, the harness: a fresh app heap keyed as the fuzzer's,
 * faults going to handler. */
void records_fuzz_heap(mem_fault_handler_t handler);

static const char *g_source, *g_seeds, *g_crashes, *g_regressions, *g_replay, *g_replay_asan;

/* ---- the recording fault handler ---------------------------------------- */

typedef struct {
    unsigned calls;
    mem_fault_t first;
    const void *addr;
    bool have_sites; /* mem_utils_fault_sites answered for the first fault */
    mem_utils_site_t alloc, freed;
} faults_t;

static faults_t g_faults;

static void record_fault(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    (void)ctx;
    (void)user;
    if (g_faults.calls++ == 0u) {
        g_faults.first = fault;
        g_faults.addr = addr;
        g_faults.have_sites = mem_utils_fault_sites(addr, &g_faults.alloc, &g_faults.freed);
    }
}

/* ---- inputs -------------------------------------------------------------- */

typedef struct {
    char path[4096];
    uint8_t *data;
    size_t size;
} input_t;

static bool is_input(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && !(n >= 3u && strcmp(name + n - 3u, ".md") == 0) &&
           !(n >= 4u && strcmp(name + n - 4u, ".txt") == 0) &&
           !(n >= 5u && strcmp(name + n - 5u, ".dict") == 0);
}

/* The regular files of dir that are inputs, in *out (malloc'ed); their count. */
static size_t read_inputs(const char *dir, input_t **out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (d == NULL) {
        return 0u;
    }
    size_t n = 0u;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!is_input(e->d_name)) {
            continue;
        }
        input_t in = {.data = NULL};
        (void)snprintf(in.path, sizeof in.path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(in.path, "rb");
        if (f == NULL) {
            continue; /* a subdirectory */
        }
        uint8_t buf[65536];
        in.size = fread(buf, 1u, sizeof buf, f);
        bool is_file = ferror(f) == 0;
        (void)fclose(f);
        if (!is_file) {
            continue;
        }
        in.data = malloc(in.size + 1u);
        assert_non_null(in.data);
        memcpy(in.data, buf, in.size);
        input_t *more = realloc(*out, (n + 1u) * sizeof *more);
        assert_non_null(more);
        more[n++] = in;
        *out = more;
    }
    (void)closedir(d);
    return n;
}

static void free_inputs(input_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(in[i].data);
    }
    free(in);
}

/* One input through the module on a fresh harness heap with the recording
 * handler: whether it parsed. g_faults holds what was reported. */
static bool run_input(const input_t *in)
{
    g_faults = (faults_t){0};
    records_fuzz_heap(record_fault);
    records_t *list = records_parse(in->data, in->size);
    records_free(list);
    return list != NULL;
}

static unsigned blocks_left(void)
{
    mem_ctx_t ctx = mem_utils_context();
    mem_stat_t st;
    mem_stat(&ctx, &st);
    return st.nb_allocated;
}

/* Every input of dir parses (or is refused) with no fault and no leak. */
static size_t expect_clean(const char *dir, bool must_parse)
{
    input_t *in;
    size_t n = read_inputs(dir, &in);
    for (size_t i = 0; i < n; i++) {
        bool parsed = run_input(&in[i]);
        if (g_faults.calls != 0u || (must_parse && !parsed) || blocks_left() != 0u) {
            fail_msg("%s: %u fault(s) (first: %s), %s, %u block(s) left", in[i].path, g_faults.calls,
                     g_faults.calls != 0u ? mem_fault_name(g_faults.first) : "none",
                     parsed ? "parsed" : "refused", blocks_left());
        }
    }
    free_inputs(in, n);
    return n;
}

/* ---- the source's markers ------------------------------------------------ */

#ifndef RECORDS_FIXED

/* The line of records.c holding the comment LINE:<name> (exactly one). */
static int marker_line(const char *name)
{
    FILE *f = fopen(g_source, "r");
    if (f == NULL) {
        fail_msg("cannot read %s", g_source);
    }
    char want[64];
    (void)snprintf(want, sizeof want, "LINE:%s ", name);
    char line[1024];
    int number = 0, found = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        number++;
        if (strstr(line, want) != NULL) {
            if (found != 0) {
                fail_msg("%s: LINE:%s on lines %d and %d", g_source, name, found, number);
            }
            found = number;
        }
    }
    (void)fclose(f);
    if (found == 0) {
        fail_msg("%s: no LINE:%s marker", g_source, name);
    }
    return found;
}

/* text names records.c:<line>, followed by a column, a space or the end of a line. */
static bool names_line(const char *text, int line)
{
    char want[64];
    (void)snprintf(want, sizeof want, "records.c:%d", line);
    for (const char *p = strstr(text, want); p != NULL; p = strstr(p + 1, want)) {
        char next = p[strlen(want)];
        if (next == ':' || next == ' ' || next == '\n' || next == ')' || next == '\0') {
            return true;
        }
    }
    return false;
}

#endif

/* ---- a harness binary run on one file ------------------------------------ */

typedef struct {
    const char *exe;
    const char *file;
} exec_t;

static void exec_harness(void *arg)
{
    const exec_t *x = arg;
    (void)setenv("ASAN_OPTIONS", "halt_on_error=1:detect_leaks=0:symbolize=1:color=never", 1);
    char *argv[] = {(char *)(uintptr_t)x->exe, (char *)(uintptr_t)x->file, NULL};
    execv(x->exe, argv);
    _exit(127);
}

/* Runs exe on file: its wait status, its stderr in out. */
static int run_harness(const char *exe, const char *file, char *out, size_t cap)
{
    exec_t x = {exe, file};
    return run_captured(exec_harness, &x, out, cap);
}

/* ---- the cases ------------------------------------------------------------ */

static void test_seeds_run_clean(void **state)
{
    (void)state;
    size_t n = expect_clean(g_seeds, true);
    assert_true(n >= 3u);
    if (g_regressions != NULL) {
        (void)expect_clean(g_regressions, false);
    }
}

#ifndef RECORDS_FIXED

/* hardening=off has no canary: the planted NUL goes unnoticed there when it
 * lands inside the block's chunk (as for this input), and neither the heap
 * nor ASan, which poisons from the chunk's usable end, reports it. */
static void skip_without_canary(void)
{
#if MEM_HARDENING == 0
    skip();
#endif
}

static void test_crash_is_an_overflow(void **state)
{
    (void)state;
    skip_without_canary();
    input_t *in;
    size_t n = read_inputs(g_crashes, &in);
    assert_true(n >= 1u);
    for (size_t i = 0; i < n; i++) {
        (void)run_input(&in[i]);
        if (g_faults.calls == 0u || g_faults.first != MEM_FAULT_OVERFLOW) {
            fail_msg("%s: want %s, got %s", in[i].path, mem_fault_name(MEM_FAULT_OVERFLOW),
                     g_faults.calls != 0u ? mem_fault_name(g_faults.first) : "no fault");
        }
    }
    free_inputs(in, n);
}

static void test_crash_site_is_the_planted_alloc(void **state)
{
    (void)state;
    skip_without_canary();
    int line = marker_line("planted-alloc");
    input_t *in;
    size_t n = read_inputs(g_crashes, &in);
    assert_true(n >= 1u);
    for (size_t i = 0; i < n; i++) {
        (void)run_input(&in[i]);
        assert_int_equal(g_faults.first, MEM_FAULT_OVERFLOW);
        if (!g_faults.have_sites || g_faults.alloc.file == NULL) {
            fail_msg("%s: mem_utils_fault_sites knows no site for %p", in[i].path, g_faults.addr);
        }
        const char *want = "examples/records/records.c";
        size_t fl = strlen(g_faults.alloc.file), wl = strlen(want);
        if (fl < wl || strcmp(g_faults.alloc.file + fl - wl, want) != 0 || g_faults.alloc.line != line) {
            fail_msg("%s: allocated at %s:%d, want %s:%d", in[i].path, g_faults.alloc.file,
                     g_faults.alloc.line, want, line);
        }
    }
    free_inputs(in, n);
}

static void test_harness_without_asan_aborts(void **state)
{
    (void)state;
    skip_without_canary();
    if (g_replay == NULL) {
        skip();
    }
    input_t *in;
    size_t n = read_inputs(g_crashes, &in);
    assert_true(n >= 1u);
    char want[128];
    (void)snprintf(want, sizeof want, "hardalloc: %s at ", mem_fault_name(MEM_FAULT_OVERFLOW));
    for (size_t i = 0; i < n; i++) {
        char out[8192];
        int status = run_harness(g_replay, in[i].path, out, sizeof out);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT || strstr(out, want) == NULL) {
            fail_msg("%s %s: want an abort after \"%s...\", got status %d:\n%s", g_replay, in[i].path,
                     want, status, out);
        }
        if (!names_line(out, marker_line("planted-alloc"))) {
            fail_msg("%s: the line does not name the planted allocation:\n%s", in[i].path, out);
        }
    }
    free_inputs(in, n);
}

static void test_asan_reports_the_write(void **state)
{
    (void)state;
    skip_without_canary();
    if (g_replay_asan == NULL) {
        skip(); /* no ASan on this build */
    }
    int line = marker_line("planted-write");
    input_t *in;
    size_t n = read_inputs(g_crashes, &in);
    assert_true(n >= 1u);
    for (size_t i = 0; i < n; i++) {
        char out[16384];
        int status = run_harness(g_replay_asan, in[i].path, out, sizeof out);
        /* frame #0, the access, is the planted write */
        char frame0[512] = "";
        const char *f0 = strstr(out, "    #0 ");
        if (f0 != NULL) {
            (void)snprintf(frame0, sizeof frame0, "%.*s", (int)strcspn(f0, "\n"), f0);
        }
        bool at_write = names_line(frame0, line);
        if (status == 0 || strstr(out, "ERROR: AddressSanitizer") == NULL ||
            strstr(out, "WRITE of size 1") == NULL || !at_write) {
            fail_msg("%s %s: want ASan's report of a 1-byte write at records.c:%d (frame #0), "
                     "got status %d:\n%s", g_replay_asan, in[i].path, line, status, out);
        }
    }
    free_inputs(in, n);
}

#else /* RECORDS_FIXED */

static void test_crash_runs_clean_when_fixed(void **state)
{
    (void)state;
    /* no fault, nothing left allocated (the input need not parse: a crash
     * may stop half way, once the flag is made) */
    assert_true(expect_clean(g_crashes, false) >= 1u);
}

static void test_fixed_harness_runs_crash_clean(void **state)
{
    (void)state;
    if (g_replay == NULL) {
        skip();
    }
    input_t *in;
    size_t n = read_inputs(g_crashes, &in);
    assert_true(n >= 1u);
    for (size_t i = 0; i < n; i++) {
        char out[8192];
        int status = run_harness(g_replay, in[i].path, out, sizeof out);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fail_msg("%s %s: status %d:\n%s", g_replay, in[i].path, status, out);
        }
    }
    free_inputs(in, n);
}

#endif

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char **opt = strcmp(argv[i], "--source") == 0        ? &g_source
                           : strcmp(argv[i], "--seeds") == 0       ? &g_seeds
                           : strcmp(argv[i], "--crashes") == 0     ? &g_crashes
                           : strcmp(argv[i], "--regressions") == 0 ? &g_regressions
                           : strcmp(argv[i], "--replay") == 0      ? &g_replay
                           : strcmp(argv[i], "--replay-asan") == 0 ? &g_replay_asan
                                                                   : NULL;
        if (opt == NULL) {
            fprintf(stderr, "test_records: unknown option %s\n", argv[i]);
            return 2;
        }
        *opt = argv[i + 1];
    }
    if (g_source == NULL || g_seeds == NULL || g_crashes == NULL) {
        fprintf(stderr, "usage: test_records --source records.c --seeds DIR --crashes DIR "
                        "[--regressions DIR] [--replay EXE] [--replay-asan EXE]\n");
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds_run_clean),
#ifndef RECORDS_FIXED
        cmocka_unit_test(test_crash_is_an_overflow),
        cmocka_unit_test(test_crash_site_is_the_planted_alloc),
        cmocka_unit_test(test_harness_without_asan_aborts),
        cmocka_unit_test(test_asan_reports_the_write),
#else
        cmocka_unit_test(test_crash_runs_clean_when_fixed),
        cmocka_unit_test(test_fixed_harness_runs_crash_clean),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
