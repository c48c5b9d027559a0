/*
 * Built for the SDK's fault path (HARDALLOC_SDK_EXCEPTIONS), the default
 * fault handler calls the SDK's os_longjmp (mem_fault.c). A program without
 * the SDK (the project's own test suite built with -Dfault_action=sdk, a
 * desktop tool) still links: this weak stand-in ends the program as the
 * abort build does. The SDK's os_longjmp, or a test's, replaces it at link
 * time. It lives in a file of its own so that mem_fault.c's call stays an
 * undefined reference, which -Wl,--wrap=os_longjmp (the SDK's unit-test
 * style) can redirect.
 */

#include <stdlib.h>

#if defined(HARDALLOC_SDK_EXCEPTIONS) && (defined(__GNUC__) || defined(__clang__))

void os_longjmp(unsigned int exception);

__attribute__((weak)) void os_longjmp(unsigned int exception)
{
    (void)exception;
    abort();
}

#else

/* ISO C wants at least one declaration in a translation unit. */
typedef int sdk_throw_fallback_unused_t;

#endif
