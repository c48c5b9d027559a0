/**
 * @file fault_app.c
 * @brief A profiling app that faults on purpose, for check_fault_report.py:
 *        one scenario per run, as one pytest test drives an app.
 *
 *   fault_app clean     allocations and frees, exit 0
 *   fault_app overflow  a block overflowed by one byte, then freed (hardened
 *                       builds; at hardening=off, where there is no canary, a
 *                       double free): the default handler writes its line,
 *                       naming the block's allocation site, and aborts
 *   fault_app double    a block freed twice: the line names the allocation
 *                       and the first free, and the program aborts
 *
 * Before faulting, it prints on stdout what the fault must say:
 * `expect <code> <known> <alloc site> [<free site>]`, each site as
 * `__FILE__:__LINE__` of the call on that same line.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "app_mem_utils.h"

static _Alignas(8) uint8_t heap[4096];

int main(int argc, char **argv)
{
    if (argc != 2 || !mem_utils_init(heap, sizeof heap)) {
        fprintf(stderr, "usage: fault_app clean|overflow|double\n");
        return 2;
    }
    char *name = APP_MEM_STRDUP("fault_app");
    if (name == NULL) {
        return 2;
    }
    if (strcmp(argv[1], "clean") == 0) {
        uint8_t *p = APP_MEM_ALLOC(64);
        APP_MEM_FREE(p);
        APP_MEM_FREE(name);
        return 0;
    }
    bool overflow = strcmp(argv[1], "overflow") == 0;
    if (!overflow && strcmp(argv[1], "double") != 0) {
        return 2;
    }
#if MEM_HARDENING > 0
    if (overflow) {
        int at = __LINE__; uint8_t *p = APP_MEM_ALLOC(40);
        if (p == NULL) {
            return 2;
        }
        printf("expect %d live %s:%d\n", (int)MEM_FAULT_OVERFLOW, __FILE__, at);
        fflush(stdout);
        memset(p, 0x41, 41); /* one byte past the 40 requested: the block's canary */
        APP_MEM_FREE(p);
    }
#endif
    int at = __LINE__; uint8_t *p = APP_MEM_ALLOC(40);
    int at_f = __LINE__; APP_MEM_FREE(p);
    printf("expect %d freed %s:%d %s:%d\n", (int)MEM_FAULT_DOUBLE_FREE, __FILE__, at, __FILE__, at_f);
    fflush(stdout);
    APP_MEM_FREE(p);
    APP_MEM_FREE(name);
    return 0; /* not reached: the default handler aborts */
}
