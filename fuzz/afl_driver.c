/**
 * @file afl_driver.c
 * @brief main() for the AFL++ builds of the fuzz targets: calls the target's
 *        LLVMFuzzerTestOneInput, the entry point libFuzzer calls.
 *
 * Compiled by afl-clang-fast (fuzz_engine=afl), it runs in persistent mode
 * with the test case in shared memory: one process runs up to 100,000 inputs,
 * each copied into a heap buffer of its exact size, so that ASan reports a
 * read past the end of the input as it does under libFuzzer.
 *
 * Compiled by any other compiler (no AFL++ macros), and also under AFL++ when
 * given file arguments, it is a plain runner: every FILE argument, or standard
 * input when there is none, runs once through the target. So the same binary
 * reproduces a crash: `build-fuzz-afl/fuzz/fuzz_alloc crash-file`.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are cut (the persistent buffer's size in AFL++). */
#define MAX_INPUT ((size_t)1 << 20)

/* Iterations of one persistent process before AFL++ starts a fresh one. */
#define PERSISTENT_ITERATIONS 100000

static int run_one(const uint8_t *data, size_t size)
{
    /* An exact-size copy: ASan then catches reads past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) {
        fprintf(stderr, "afl_driver: out of memory for a %zu-byte input\n", size);
        abort();
    }
    if (size) {
        memcpy(copy, data, size);
    }
    int rc = LLVMFuzzerTestOneInput(copy, size);
    free(copy);
    return rc;
}

/* Reads a whole stream (up to MAX_INPUT bytes) into a heap buffer. */
static uint8_t *read_stream(FILE *in, size_t *size)
{
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        return NULL;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_INPUT) {
                break;
            }
            uint8_t *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                return NULL;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, in);
        if (got == 0) {
            break;
        }
        len += got;
    }
    *size = len;
    return buf;
}

/* The plain runner: each file argument (or stdin) once. */
static int run_files(int argc, char **argv)
{
    if (argc < 2) {
        size_t size = 0;
        uint8_t *buf = read_stream(stdin, &size);
        if (!buf) {
            fprintf(stderr, "afl_driver: cannot read standard input\n");
            return 1;
        }
        run_one(buf, size);
        free(buf);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "afl_driver: cannot open %s\n", argv[i]);
            return 1;
        }
        size_t size = 0;
        uint8_t *buf = read_stream(f, &size);
        fclose(f);
        if (!buf) {
            fprintf(stderr, "afl_driver: cannot read %s\n", argv[i]);
            return 1;
        }
        fprintf(stderr, "afl_driver: running %s (%zu bytes)\n", argv[i], size);
        run_one(buf, size);
        free(buf);
    }
    return 0;
}

#if defined(__AFL_FUZZ_TESTCASE_LEN)

/* The AFL++ macros (defined by afl-clang-fast) expand to GNU statement
 * expressions, a file-scope ';', reserved names, globals without a prior
 * declaration and a read() result stored in an unsigned int: fine here, but
 * not under the project's -Wpedantic -Wconversion -Werror. */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#pragma clang diagnostic ignored "-Wextra-semi"
#pragma clang diagnostic ignored "-Wgnu-statement-expression"
#pragma clang diagnostic ignored "-Wshorten-64-to-32"
#pragma clang diagnostic ignored "-Wsign-conversion"
#pragma clang diagnostic ignored "-Wmissing-variable-declarations"
#pragma clang diagnostic ignored "-Wreserved-identifier"
#pragma clang diagnostic ignored "-Wused-but-marked-unused"
#endif

__AFL_FUZZ_INIT();

int main(int argc, char **argv)
{
    if (argc > 1) {
        return run_files(argc, argv);
    }
#ifdef __AFL_HAVE_MANUAL_CONTROL
    __AFL_INIT();
#endif
    /* After __AFL_INIT and before __AFL_LOOP, as AFL++ requires. */
    const uint8_t *buf = __AFL_FUZZ_TESTCASE_BUF;
    while (__AFL_LOOP(PERSISTENT_ITERATIONS)) {
        size_t len = (size_t)__AFL_FUZZ_TESTCASE_LEN;
        run_one(buf, len > MAX_INPUT ? MAX_INPUT : len);
    }
    return 0;
}

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#else

int main(int argc, char **argv)
{
    return run_files(argc, argv);
}

#endif
