/*
 * The firmware entropy hook (mem_alloc.h, hardalloc_entropy): a library
 * built with -DHARDALLOC_ENTROPY_HOOK draws its secret from the app's hook,
 * once, and makes no heap when the hook fails or hands back nothing: never
 * a heap keyed by a guessable constant.
 */

#include "mem_alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static enum { FAILS, ZEROS, GOOD } g_mode;
static unsigned g_calls;

bool hardalloc_entropy(void *buf, size_t len)
{
    g_calls++;
    if (g_mode == FAILS) {
        return false;
    }
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        p[i] = g_mode == ZEROS ? 0u : (uint8_t)(0x5Bu + 37u * i);
    }
    return true;
}

static _Alignas(8) uint8_t g_arena[4096];

/* Runs in order: the secret is drawn once per process, so the failing
 * sources come first. */
static void test_failing_hook_makes_no_heap(void **state)
{
    (void)state;
    g_mode = FAILS;
    assert_null(mem_init(g_arena, sizeof g_arena));
    assert_null(mem_init_secure(g_arena, sizeof g_arena, 42u));
    assert_int_equal(g_calls, 2); /* asked again each time: no secret yet */
}

static void test_all_zero_hook_makes_no_heap(void **state)
{
    (void)state;
    g_mode = ZEROS;
    assert_null(mem_init(g_arena, sizeof g_arena));
}

static void test_good_hook_is_asked_once(void **state)
{
    (void)state;
    g_mode = GOOD;
    g_calls = 0;
    mem_ctx_t ctx = mem_init(g_arena, sizeof g_arena);
    assert_non_null(ctx);
    void *p = mem_alloc(ctx, 100);
    assert_non_null(p);
    assert_int_equal(mem_usable_size(ctx, p), 100u);
    mem_free(ctx, p);
    assert_true(mem_check(ctx));
    assert_non_null(mem_init(g_arena, sizeof g_arena));
    assert_int_equal(g_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failing_hook_makes_no_heap),
        cmocka_unit_test(test_all_zero_hook_makes_no_heap),
        cmocka_unit_test(test_good_hook_is_asked_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
