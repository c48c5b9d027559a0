/*
 * fuzz/encode: writes the input bytes of a readable program (the form
 * fuzz/decode prints; see fuzz/FORMAT.md).
 *   encode [--target NAME] < PROGRAM.txt > INPUT
 * The program starts with "target NAME" (unless --target is given) and
 * "heap SIZE misalign M [check_every K]"; bad text stops with "encode: line N: reason".
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"

static int fail(unsigned line, const char *why)
{
    fprintf(stderr, "encode: line %u: %s\n", line, why);
    return 2;
}

int main(int argc, char **argv)
{
    const fuzz_target_t *t = NULL;
    if (argc == 3 && strcmp(argv[1], "--target") == 0) {
        t = fuzz_find_target(argv[2]);
        if (t == NULL) {
            fprintf(stderr, "encode: unknown target '%s'\n", argv[2]);
            return 2;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: encode [--target NAME] < PROGRAM.txt > INPUT\n");
        return 2;
    }
    static uint8_t out[1u << 20];
    size_t used = 0;
    bool have_heap = false;
    char text[4096]; /* a 255-byte strdup written as hex escapes takes about 1 KiB */
    unsigned line = 0;
    while (fgets(text, sizeof text, stdin) != NULL) {
        line++;
        if (strchr(text, '\n') == NULL && !feof(stdin)) {
            return fail(line, "line longer than 4095 bytes");
        }
        char name[64];
        unsigned long heap, misalign;
        if (sscanf(text, " target %63s", name) == 1) {
            const fuzz_target_t *named = fuzz_find_target(name);
            if (named == NULL || (t != NULL && t != named)) {
                return fail(line, named == NULL ? "unknown target" : "target differs from --target");
            }
            t = named;
            continue;
        }
        if (sscanf(text, " heap %lu misalign %lu", &heap, &misalign) == 2) {
            int b = prog_heap_byte(heap);
            unsigned long every = 0;
            const char *more = strstr(text, "check_every");
            if (more != NULL && (sscanf(more, "check_every %lu", &every) != 1 || every > 3u)) {
                return fail(line, "check_every takes 0 to 3");
            }
            if (b < 0 || misalign > 7u || have_heap) {
                return fail(line, have_heap ? "a second heap line" : "heap size not in the format's table, or misalign > 7");
            }
            out[0] = (uint8_t)b;
            out[1] = (uint8_t)(misalign | every << 3);
            used = 2;
            have_heap = true;
            continue;
        }
        op_t op;
        char why[160];
        int got = prog_parse_op(text, &op, why, sizeof why);
        if (got < 0) {
            return fail(line, why);
        }
        if (got == 0) {
            continue;
        }
        if (t == NULL || !have_heap) {
            return fail(line, "operations must follow the 'target' and 'heap' lines");
        }
        if (used + 512u > sizeof out) {
            return fail(line, "program too long");
        }
        size_t n = prog_encode_op(&t->table, &op, out + used);
        if (n == 0u) {
            return fail(line, "the target does not support this operation");
        }
        used += n;
    }
    if (!have_heap) {
        return fail(line, "no 'heap SIZE misalign M' line");
    }
    if (fwrite(out, 1, used, stdout) != used) {
        fprintf(stderr, "encode: cannot write the output\n");
        return 2;
    }
    return 0;
}
