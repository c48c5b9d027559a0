/**
 * @file app_faults.h
 * @brief The fault checks of the app-wrapper tests (test_app_mem_utils.c,
 *        test_app_mem_profiling.c): the app heap's handler is record_fault
 *        with g_faults as its user pointer (fault_recorder.h), and these
 *        check what it recorded against the app heap.
 */

#pragma once

#include "app_mem_utils.h"
#include "fault_recorder.h"

/* Exactly n faults were reported since the last clear. */
static inline void expect_faults(unsigned n)
{
    assert_int_equal(g_faults.calls, n);
}

/* Fault i: fault at addr, reported by the app heap with g_faults as user pointer. */
static inline void expect_fault(unsigned i, mem_fault_t fault, const void *addr)
{
    assert_true(fault_at(&g_faults, i, mem_utils_context(), fault, addr, &g_faults));
}

/* The one fault since the last clear is fault at addr, from the app heap; consumed. */
static inline void expect_one_fault(mem_fault_t fault, const void *addr)
{
    expect_faults(1);
    expect_fault(0, fault, addr);
    fault_recorder_clear(&g_faults);
}
