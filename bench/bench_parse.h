/**
 * @file bench_parse.h
 * @brief The numeric arguments of every bench driver (quick.c, steady.c and
 *        gbench.cc's own --gbench_* flags): a malformed number is a usage
 *        error, never silently 0 or clamped as atoi/atoll would make it.
 */

#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* An unsigned number in `base` (strtoull's: 0 also takes 0x and 0 prefixes),
 * at most max, with nothing after it and no sign. */
static inline bool bench_parse_uint(const char *text, int base, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    if (text == NULL || text[0] < '0' || text[0] > '9') {
        return false;
    }
    errno = 0;
    unsigned long long v = strtoull(text, &end, base);
    if (errno != 0 || *end != '\0' || v > max) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}
