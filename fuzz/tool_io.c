#include "tool_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t *tool_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: cannot open\n", path);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf != NULL) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) {
            break;
        }
        uint8_t *bigger = realloc(buf, cap *= 2u);
        if (bigger == NULL) {
            free(buf);
        }
        buf = bigger;
    }
    bool failed = ferror(f) != 0;
    fclose(f);
    if (buf == NULL || failed) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        return NULL;
    }
    *size = len;
    return buf;
}

const fuzz_target_t *tool_target_for(const char *target_name, const char *path)
{
    if (target_name != NULL) {
        const fuzz_target_t *t = fuzz_find_target(target_name);
        if (t == NULL) {
            fprintf(stderr, "unknown target '%s' (known:", target_name);
            for (size_t i = 0; fuzz_target_at(i) != NULL; i++) {
                fprintf(stderr, "%s %s", i > 0u ? "," : "", fuzz_target_at(i)->table.name);
            }
            fputs(")\n", stderr);
        }
        return t;
    }
    /* the last directory component of path that names a target */
    const fuzz_target_t *found = NULL;
    char part[128];
    for (const char *p = path; *p != '\0';) {
        const char *slash = strchr(p, '/');
        if (slash == NULL) {
            break;
        }
        size_t n = (size_t)(slash - p);
        if (n < sizeof part) {
            memcpy(part, p, n);
            part[n] = '\0';
            const fuzz_target_t *t = fuzz_find_target(part);
            found = t != NULL ? t : found;
        }
        p = slash + 1;
    }
    if (found == NULL) {
        fprintf(stderr, "%s: give --target NAME (the file is in no directory named after a target)\n", path);
    }
    return found;
}
