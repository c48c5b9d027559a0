/**
 * @file board.h
 * @brief The bare-metal self-test image's platform: QEMU's mps2-an386 board
 *        (Cortex-M4), reset and exceptions (startup.c), Arm semihosting for
 *        the console, the command line and the exit status (semihost.c),
 *        SysTick for the cost mode (cost.c). Written for hardalloc's tests;
 *        nothing here is part of the library.
 *
 * Exit status of the image, which qemu-system-arm returns as its own
 * (semihosting SYS_EXIT_EXTENDED):
 *   0                 every check passed
 *   1                 a check failed
 *   3                 HardFault (or another fault exception): reported, then exit
 *   128 + signal      raise()/abort() reached newlib's _kill (134: abort(),
 *                     e.g. the library's default fault handler)
 *   20 (0x14)         os_longjmp(EXCEPTION_CORRUPT): the default fault handler
 *                     of a library built with -Dfault_action=sdk
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXIT_HARDFAULT 3

/* ---- semihosting (semihost.c) ------------------------------------------- */

/** Appends s to the current output line; a '\n' sends the line to QEMU's
 *  stdout (SYS_WRITE on ":tt", or SYS_WRITE0 when that cannot be opened). */
void out(const char *s);
/** Appends v in decimal. */
void out_u(uint32_t v);
/** Appends v as 0x%08x. */
void out_x(uint32_t v);
/** Sends what is buffered, even without a newline. */
void out_flush(void);

/** The command line QEMU hands over (SYS_GET_CMDLINE: the -kernel path, then
 *  what -append says) into buf, NUL-terminated; "" when there is none. */
void sh_cmdline(char *buf, size_t size);

/** Ends the emulation with status (SYS_EXIT_EXTENDED); flushes the output. */
__attribute__((noreturn)) void sh_exit(int status);

/* ---- startup (startup.c) ------------------------------------------------ */

void Reset_Handler(void);
void HardFault_Handler(void);
void Default_Handler(void);
/** What HardFault_Handler calls with the exception's stacked frame. */
__attribute__((noreturn)) void fault_report(const uint32_t *frame, uint32_t exc_return);

/* newlib's system-call layer, as far as the image links it: exit(), abort()
 * and raise() end here (nosys.specs would otherwise loop forever in _exit or
 * warn that _kill always fails). */
__attribute__((noreturn)) void _exit(int status);
int _kill(int pid, int sig);
int _getpid(void);

/* The SDK's throw, which the library's default fault handler calls when it
 * is built with -Dfault_action=sdk: here it reports the exception and ends
 * the emulation with the exception as exit status. */
void os_longjmp(unsigned int exception);

int main(void);

/* ---- the test-only entropy hook (entropy_test_only.c) --------------------- */

/** Calls of hardalloc_entropy so far. */
extern unsigned g_entropy_calls;
/** While true, hardalloc_entropy answers false (a failed TRNG). */
extern bool g_entropy_fail;

/* ---- SysTick (cost.c) ---------------------------------------------------- */

/** The cost mode: calibrates SysTick against a loop of known instruction
 *  count and prints instructions per mem_alloc / mem_free / mem_realloc.
 *  Returns the exit status (0, or 1 when the calibration does not hold). */
int cost_main(void);
/** -append pair: one alloc+free pair between two cost_read_timer() calls,
 *  for the cross-check against QEMU's instruction trace. */
int cost_pair_main(void);
/** SysTick's current value, read out of line (the cross-check's marker). */
uint32_t cost_read_timer(void);

#include "../level_name.h" /* LEVEL_NAME */
