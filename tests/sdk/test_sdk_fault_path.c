/*
 * The SDK's fault path (library built with HARDALLOC_SDK_EXCEPTIONS, Meson
 * -Dfault_action=sdk): with no handler of the app's, every fault throws the
 * SDK's EXCEPTION_CORRUPT (0x14) through os_longjmp, as the SDK's allocator
 * does, and the heap then fails closed as usual.
 *
 * The overruns go through raw_write / raw_flip (tests/raw_access.h), so that
 * ASan and memcheck, when the library poisons its arena for them, leave the
 * reporting to the allocator, as on a device.
 *
 * Built the two ways SDK code meets os_longjmp:
 *  - SDK_WRAP: the SDK's unit-test style. The test links with
 *    -Wl,--wrap=os_longjmp and its __wrap_os_longjmp records the code and
 *    longjmps to a jmp_buf set by setjmp around the call.
 *  - otherwise: an app's own os_longjmp over a chain of try contexts, the
 *    shape of the SDK's TRY/CATCH (written here, not the SDK's code).
 */

#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mem_alloc.h"
#include "../child_capture.h"
#include "../raw_access.h"

#define EXCEPTION_CORRUPT 0x14u /* the SDK's errors.h */

static unsigned g_throws;
static unsigned g_last_code;

#ifdef SDK_WRAP

static jmp_buf g_jmp;

void __wrap_os_longjmp(unsigned int code);
void __wrap_os_longjmp(unsigned int code)
{
    g_throws++;
    g_last_code = code;
    longjmp(g_jmp, 1);
}

/* Asserts the code the call threw (0: it returned), with setjmp around the
 * call as the SDK's lib_alloc unit tests do. */
#define EXPECT_THROWN(expected, call)     \
    do {                                  \
        volatile unsigned code_ = 0;             \
        if (setjmp(g_jmp) == 0) {         \
            call;                         \
        } else {                          \
            code_ = g_last_code;          \
        }                                 \
        assert_int_equal(code_, expected); \
    } while (0)

#else

typedef struct try_ctx {
    jmp_buf jmp;
    struct try_ctx *previous;
} try_ctx_t;

static try_ctx_t *g_try;

void os_longjmp(unsigned int code);
void os_longjmp(unsigned int code)
{
    g_throws++;
    g_last_code = code;
    if (g_try == NULL) {
        abort(); /* an exception nobody catches ends the app, as on a device */
    }
    try_ctx_t *ctx = g_try;
    g_try = ctx->previous;
    longjmp(ctx->jmp, 1);
}

static try_ctx_t g_frame;

/* TRY { call } CATCH: the frame is pushed before the call and popped by the
 * throw, or after the call when it returns. */
#define EXPECT_THROWN(expected, call)        \
    do {                                     \
        volatile unsigned code_ = 0;                \
        g_frame.previous = g_try;            \
        g_try = &g_frame;                    \
        if (setjmp(g_frame.jmp) == 0) {      \
            call;                            \
            g_try = g_frame.previous;        \
        } else {                             \
            code_ = g_last_code;             \
        }                                    \
        assert_int_equal(code_, expected);   \
    } while (0)

#endif

static _Alignas(8) uint8_t g_buf[16384];

static mem_ctx_t fresh_heap(void)
{
    g_throws = 0;
    g_last_code = 0;
    mem_ctx_t ctx = mem_init(g_buf, sizeof g_buf);
    assert_non_null(ctx);
    return ctx;
}

/* The SDK's own corruption case: an overflow of the first block runs over
 * the second block's header, and freeing the second throws. */
static void test_overrun_header_throws_corrupt(void **state)
{
    (void)state;
    mem_ctx_t ctx = fresh_heap();
    char *chunk1 = mem_alloc(ctx, 12);
    char *chunk2 = mem_alloc(ctx, 120);
    assert_non_null(chunk1);
    assert_non_null(chunk2);
    uint8_t over[20];
    memset(over, 0xAA, sizeof over);
    raw_write(&chunk1[12], over, sizeof over);
    EXPECT_THROWN(EXCEPTION_CORRUPT, mem_free(ctx, chunk2));
    assert_int_equal(g_throws, 1);
    assert_int_equal(mem_last_fault(ctx), MEM_FAULT_CORRUPT_HEADER);
}

/* One byte past the request: the tail canary, caught on free. */
static void test_one_byte_overflow_throws_corrupt(void **state)
{
    (void)state;
    mem_ctx_t ctx = fresh_heap();
    char *p = mem_alloc(ctx, 24);
    assert_non_null(p);
    memset(p, 'x', 24);
    raw_flip(p + 24, 1); /* the 25th byte, whatever the canary held there */
    EXPECT_THROWN(EXCEPTION_CORRUPT, mem_free(ctx, p));
    assert_int_equal(mem_last_fault(ctx), MEM_FAULT_OVERFLOW);
}

/* After a corruption fault the heap fails closed: every later call throws
 * again, and none of them hands memory out. */
static void test_failed_heap_throws_on_every_call(void **state)
{
    (void)state;
    mem_ctx_t ctx = fresh_heap();
    char *p = mem_alloc(ctx, 24);
    assert_non_null(p);
    raw_flip(p + 24, 1);
    EXPECT_THROWN(EXCEPTION_CORRUPT, mem_free(ctx, p));
    void *volatile q = NULL;
    EXPECT_THROWN(EXCEPTION_CORRUPT, q = mem_alloc(ctx, 16));
    assert_null(q);
    EXPECT_THROWN(EXCEPTION_CORRUPT, q = mem_realloc(ctx, p, 64));
    assert_null(q);
    assert_int_equal(g_throws, 3);
}

/* Misuse throws too (the SDK has one exception for its heap), and does not
 * fail the heap: the next allocation works. */
static void test_misuse_throws_and_heap_goes_on(void **state)
{
    (void)state;
    mem_ctx_t ctx = fresh_heap();
    char *p = mem_alloc(ctx, 40);
    assert_non_null(p);
    mem_free(ctx, p);
    EXPECT_THROWN(EXCEPTION_CORRUPT, mem_free(ctx, p));
    char *a = mem_alloc(ctx, 40);
    assert_non_null(a);
    EXPECT_THROWN(EXCEPTION_CORRUPT, mem_free(ctx, a + 8));
    assert_int_equal(mem_last_fault(ctx), MEM_FAULT_NONE);
    assert_int_equal(g_throws, 2);
    void *volatile b = NULL;
    EXPECT_THROWN(0u, b = mem_alloc(ctx, 100));
    assert_non_null(b);
}

/* A damaged context word: the heap is still recognized and throws. */
static void test_context_damage_throws_corrupt(void **state)
{
    (void)state;
    mem_ctx_t ctx = fresh_heap();
    raw_flip((uint8_t *)ctx + 8, 1);
    void *volatile q = NULL;
    EXPECT_THROWN(EXCEPTION_CORRUPT, q = mem_alloc(ctx, 16));
    assert_null(q);
    assert_int_equal(mem_last_fault(ctx), MEM_FAULT_CORRUPT_CONTEXT);
}

/* Healthy use never throws. */
static void test_healthy_use_never_throws(void **state)
{
    (void)state;
    mem_ctx_t ctx = fresh_heap();
    for (size_t n = 1; n < 600; n += 7) {
        char *p = mem_alloc(ctx, n);
        assert_non_null(p);
        memset(p, 1, n);
        p = mem_realloc(ctx, p, n * 2u);
        assert_non_null(p);
        mem_free(ctx, p);
    }
    assert_true(mem_check(ctx));
    assert_int_equal(g_throws, 0);
}

static unsigned g_handled;

static void app_handler(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    (void)ctx;
    (void)addr;
    (void)user;
    assert_int_equal(fault, MEM_FAULT_OVERFLOW);
    g_handled++;
}

/* An app's own handler replaces the throw, as any handler replaces the
 * default. */
static void test_app_handler_replaces_throw(void **state)
{
    (void)state;
    mem_ctx_t ctx = fresh_heap();
    g_handled = 0;
    assert_true(mem_set_fault_handler(ctx, app_handler, NULL));
    char *p = mem_alloc(ctx, 24);
    assert_non_null(p);
    raw_flip(p + 24, 1);
    EXPECT_THROWN(0u, mem_free(ctx, p));
    assert_int_equal(g_handled, 1);
    assert_int_equal(g_throws, 0);
}

/* The default line (with a handler's note) still goes to stderr before the
 * throw: checked in a child, whose stderr is captured. */
static void throw_with_note(void *arg)
{
    (void)arg;
    mem_ctx_t ctx = fresh_heap();
    EXPECT_THROWN(EXCEPTION_CORRUPT,
                  mem_default_fault(ctx, MEM_FAULT_OVERFLOW, (const void *)g_buf, " (allocated at app.c:42)"));
}

static void test_default_line_then_throw(void **state)
{
    (void)state;
    char got[512];
    int status = run_captured(throw_with_note, NULL, got, sizeof got);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(got, "hardalloc: buffer overflow (tail canary) at "));
    assert_non_null(strstr(got, " (allocated at app.c:42)\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overrun_header_throws_corrupt),
        cmocka_unit_test(test_one_byte_overflow_throws_corrupt),
        cmocka_unit_test(test_failed_heap_throws_on_every_call),
        cmocka_unit_test(test_misuse_throws_and_heap_goes_on),
        cmocka_unit_test(test_context_damage_throws_corrupt),
        cmocka_unit_test(test_healthy_use_never_throws),
        cmocka_unit_test(test_app_handler_replaces_throw),
        cmocka_unit_test(test_default_line_then_throw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
