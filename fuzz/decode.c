/*
 * fuzz/decode: prints an input as the readable program it is, running it
 * to annotate each operation with what it returned (so a crash's program
 * ends where the crash happened).
 *   decode [--target NAME] FILE
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool_io.h"

int main(int argc, char **argv)
{
    const char *target_name = NULL;
    int arg = 1;
    if (argc > 2 && strcmp(argv[1], "--target") == 0) {
        target_name = argv[2];
        arg = 3;
    }
    if (arg != argc - 1) {
        fprintf(stderr, "usage: decode [--target NAME] FILE\n");
        return 2;
    }
    const fuzz_target_t *t = tool_target_for(target_name, argv[arg]);
    size_t size;
    uint8_t *data = t != NULL ? tool_read_file(argv[arg], &size) : NULL;
    if (data == NULL) {
        return 2;
    }
    /* unbuffered: a crash (an abort, a sanitizer report) must not take the
     * program printed so far, nor the operation that crashed, with it */
    setvbuf(stdout, NULL, _IONBF, 0);
    fuzz_run(t, data, size, stdout);
    free(data);
    return 0;
}
