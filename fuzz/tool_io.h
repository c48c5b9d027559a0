/**
 * @file tool_io.h
 * @brief What the command-line tools of fuzz/ share: reading a whole file,
 *        and finding the target from --target or from the corpus directory
 *        a file sits in (corpus/<target>/..., fuzz/regressions/<target>/...).
 */

#pragma once

#include <stddef.h>
#include <stdint.h>

#include "target.h"

/** Reads path into a malloc'ed buffer; NULL with a message on stderr. */
uint8_t *tool_read_file(const char *path, size_t *size);

/** --target's value if given (NULL otherwise), else the target named by the
 *  directory that holds path; NULL with a message on stderr when neither. */
const fuzz_target_t *tool_target_for(const char *target_name, const char *path);
