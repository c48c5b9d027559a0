/**
 * @file mem_testing.h
 * @brief Test-only hooks: present only in a library built with
 *        -DHARDALLOC_TESTING (the copies the tests, fuzzers, replays and
 *        benchmarks link; never the installed library).
 */

#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Replaces the library's secret (README "Threat model") with one derived
 * from `secret` and restarts the init counter that every nonce mixes in, so
 * that a test, fuzz input or replay that pins the same value before its
 * first mem_init gets bit-for-bit the same keys on every run (the heap's
 * address still goes into them). Heaps made before the call no longer
 * verify: every call on them reports MEM_FAULT_CORRUPT_CONTEXT. Attack tests
 * that forge a header use it to know the key, and pin another value to
 * show that the forgery is then reported.
 */
void mem_testing_pin_secret(uint64_t secret);

#ifdef __cplusplus
}
#endif
