/**
 * @file test_app_mem_sites_plain.c
 * @brief mem_utils_fault_sites in a build without HAVE_MEMORY_PROFILING:
 *        nothing is recorded (tests/e2e/check_plain_binary.py checks that no
 *        code for it is linked), and the header's static inline answers
 *        "unknown" for every address, its outputs filled.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "app_mem_utils.h"

#ifdef HAVE_MEMORY_PROFILING
#error "test_app_mem_sites_plain.c tests the plain build: link it with wrappers_plain_dep"
#endif

static uint64_t g_buf[1024];

static void test_sites_unknown_in_plain_build(void **state)
{
    (void)state;
    assert_true(mem_utils_init(g_buf, sizeof g_buf));
    void *p = APP_MEM_ALLOC(24);
    void *q = APP_MEM_ALLOC(24);
    assert_non_null(p);
    assert_non_null(q);
    APP_MEM_FREE(q);
    mem_utils_site_t alloc = {"garbage", -1};
    mem_utils_site_t freed = {"garbage", -1};
    assert_false(mem_utils_fault_sites(p, &alloc, &freed));
    assert_null(alloc.file);
    assert_int_equal(alloc.line, 0);
    assert_null(freed.file);
    assert_int_equal(freed.line, 0);
    assert_false(mem_utils_fault_sites(q, NULL, NULL));
    APP_MEM_FREE(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sites_unknown_in_plain_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
