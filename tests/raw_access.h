/**
 * @file raw_access.h
 * @brief Test access to heap bytes that neither AddressSanitizer nor
 *        valgrind memcheck sees: the one implementation shared by the unit
 *        tests (test_helpers.h), the app-wrapper tests and the attack and
 *        fault tests (attacks/attack_util.h).
 *
 * The allocator hides its metadata and free chunks from ASan (poisoned) and
 * from memcheck (no-access or undefined). A test that reads, corrupts or
 * restores them, or compares or refills a whole heap buffer, goes through
 * the raw_* functions below:
 *  - they are not instrumented (no_sanitize_address, noinline) and access
 *    memory through volatile pointers, so that the compiler cannot turn the
 *    loops into memcpy / memset / memcmp calls, which ASan intercepts;
 *  - memcheck's error reporting is off while they run, and what they hand
 *    back to the test (a copy, a comparison) is made defined, since memcheck
 *    would otherwise track the heap's undefined bytes into it.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- sanitizer and valgrind plumbing ------------------------------------ */

#if defined(__SANITIZE_ADDRESS__)
#define RAW_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RAW_ASAN 1
#endif
#endif

#ifdef RAW_ASAN
#include <sanitizer/asan_interface.h>
#define RAW_INVISIBLE __attribute__((no_sanitize_address, noinline, unused))
#else
#define RAW_INVISIBLE __attribute__((noinline, unused))
#endif

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define RAW_VALGRIND 1
#endif
#endif

/* RAW_QUIET_BEGIN / RAW_QUIET_END: memcheck reports nothing in between.
 * RAW_DEFINED / RAW_UNDEFINED: memcheck's view of [p, p + n). */
#ifdef RAW_VALGRIND
#define RAW_QUIET_BEGIN() VALGRIND_DISABLE_ERROR_REPORTING
#define RAW_QUIET_END() VALGRIND_ENABLE_ERROR_REPORTING
#define RAW_DEFINED(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#define RAW_UNDEFINED(p, n) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#else
#define RAW_QUIET_BEGIN() ((void)0)
#define RAW_QUIET_END() ((void)0)
#define RAW_DEFINED(p, n) ((void)(p), (void)(n))
#define RAW_UNDEFINED(p, n) ((void)(p), (void)(n))
#endif

/* ---- the accesses ------------------------------------------------------- */

/* The one byte loop: copies n bytes from src to dst, unseen. */
RAW_INVISIBLE static void raw_copy_bytes(void *dst, const void *src, size_t n)
{
    volatile uint8_t *d = dst;
    const volatile uint8_t *s = src;
    RAW_QUIET_BEGIN();
    for (size_t i = 0; i < n; i++) {
        d[i] = s[i];
    }
    RAW_QUIET_END();
}

/**
 * Copies n bytes of heap memory (metadata, free chunks, a whole heap buffer)
 * at src into the test's own dst, which memcheck then considers defined.
 */
static inline void raw_read(void *dst, const void *src, size_t n)
{
    raw_copy_bytes(dst, src, n);
    RAW_DEFINED(dst, n);
}

/** Writes n bytes from src into heap memory at dst (corrupting or restoring it). */
static inline void raw_write(void *dst, const void *src, size_t n)
{
    raw_copy_bytes(dst, src, n);
}

/** Fills n bytes of heap memory at dst with value. */
RAW_INVISIBLE static void raw_fill(void *dst, uint8_t value, size_t n)
{
    volatile uint8_t *d = dst;
    RAW_QUIET_BEGIN();
    for (size_t i = 0; i < n; i++) {
        d[i] = value;
    }
    RAW_QUIET_END();
}

/* OR of a[i] ^ b[i] over [0, n), b[i] = value when b is NULL. */
RAW_INVISIBLE static uint8_t raw_diff_bits(const void *a, const void *b, uint8_t value, size_t n)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t diff = 0;
    RAW_QUIET_BEGIN();
    for (size_t i = 0; i < n; i++) {
        diff |= (uint8_t)(x[i] ^ (y != NULL ? y[i] : value));
    }
    RAW_DEFINED(&diff, sizeof diff);
    RAW_QUIET_END();
    return diff;
}

/** true when the n bytes at a (a test's copy, or heap memory) equal those at b. */
static inline bool raw_equal(const void *a, const void *b, size_t n)
{
    return raw_diff_bits(a, b, 0, n) == 0u;
}

/** true when each of the n bytes of heap memory at p is value. */
static inline bool raw_all(const void *p, size_t n, uint8_t value)
{
    return raw_diff_bits(p, NULL, value, n) == 0u;
}

static inline uint32_t raw_get32(const void *p)
{
    uint32_t v;
    raw_read(&v, p, sizeof v);
    return v;
}

static inline void raw_put32(void *p, uint32_t v)
{
    raw_write(p, &v, sizeof v);
}

/** Flips every bit of [p, p + n): an overwrite that surely changes each byte. */
static inline void raw_flip(void *p, size_t n)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        uint8_t v;
        raw_read(&v, b + i, 1);
        v = (uint8_t)~v;
        raw_write(b + i, &v, 1);
    }
}

/**
 * Makes a buffer that held (or may have held) a heap ordinary memory again
 * and fills it with value. Blocks still live in a heap there are not freed:
 * under valgrind re-initialize the heap (mem_init forgets them) or free them.
 */
static inline void raw_buffer_reset(void *buf, size_t n, uint8_t value)
{
#ifdef RAW_ASAN
    ASAN_UNPOISON_MEMORY_REGION(buf, n);
#endif
    RAW_UNDEFINED(buf, n);
    memset(buf, value, n);
}
