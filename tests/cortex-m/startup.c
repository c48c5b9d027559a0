/*
 * Reset and exceptions of the self-test image (QEMU mps2-an386, Cortex-M4):
 * the vector table, a reset handler that copies .data from its load image
 * and zeroes .bss before main, and fault handlers that report the faulting
 * context over semihosting and end the emulation with a non-zero status.
 * Symbols come from mps2-an386.ld.
 */

#include "board.h"

extern uint32_t __data_load[];
extern uint32_t __data_start[];
extern uint32_t __data_end[];
extern uint32_t __bss_start[];
extern uint32_t __bss_end[];
extern uint32_t __stack_top[];

/* System control block registers (Armv7-M ARM, B3.2). */
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define SCB_BFAR (*(volatile uint32_t *)0xE000ED38u)
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

/* The Armv7-M vector table: the initial stack pointer, then the handlers of
 * exceptions 1 (reset) to 15 (SysTick). No external interrupt is enabled.
 * mps2-an386.ld places it at address 0, where the core reads it at reset. */
struct vector_table {
    uint32_t *initial_sp;
    void (*handler[15])(void);
};

__attribute__((section(".vectors"), used)) static const struct vector_table vectors = {
    __stack_top,
    {
        Reset_Handler,     /* 1 reset */
        Default_Handler,   /* 2 NMI */
        HardFault_Handler, /* 3 HardFault */
        HardFault_Handler, /* 4 MemManage (disabled: escalates to HardFault) */
        HardFault_Handler, /* 5 BusFault (idem) */
        HardFault_Handler, /* 6 UsageFault (idem) */
        NULL, NULL, NULL, NULL,
        Default_Handler,   /* 11 SVCall */
        Default_Handler,   /* 12 DebugMonitor */
        NULL,
        Default_Handler,   /* 14 PendSV */
        Default_Handler,   /* 15 SysTick (its interrupt is never enabled) */
    },
};

void Reset_Handler(void)
{
#if defined(__ARM_FP)
    /* Built for the FPU (-mfloat-abi=softfp or hard): the compiler may use
     * its registers anywhere, so it is switched on (CP10 and CP11, full
     * access) first (the copy below may become a call of memcpy). */
    SCB_CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    /* QEMU loads the ELF at its load addresses, as a flash programmer
     * would: .data sits in the code region and is copied to RAM here. */
    const uint32_t *src = __data_load;
    for (uint32_t *dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0u;
    }
    sh_exit(main());
}

/* Which stack the exception frame went to is bit 2 of EXC_RETURN (lr on
 * entry); the frame is r0-r3, r12, lr, pc, xPSR. */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm__ volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "mov r1, lr\n"
        "b fault_report\n");
}

void fault_report(const uint32_t *frame, uint32_t exc_return)
{
    out_flush();
    out("cortex-m: HardFault (exception ");
    out_u(SCB_ICSR & 0x1FFu);
    out(") at pc ");
    out_x(frame[6]);
    out(", lr ");
    out_x(frame[5]);
    out(", xpsr ");
    out_x(frame[7]);
    out(", exc_return ");
    out_x(exc_return);
    out("\ncortex-m: CFSR ");
    out_x(SCB_CFSR);
    out(", HFSR ");
    out_x(SCB_HFSR);
    out(", MMFAR ");
    out_x(SCB_MMFAR);
    out(", BFAR ");
    out_x(SCB_BFAR);
    out("\n");
    sh_exit(EXIT_HARDFAULT);
}

void Default_Handler(void)
{
    out_flush();
    out("cortex-m: unexpected exception ");
    out_u(SCB_ICSR & 0x1FFu);
    out("\n");
    sh_exit(EXIT_HARDFAULT);
}

/* ---- newlib's system calls, as far as the image needs them ---------------- */

void _exit(int status)
{
    sh_exit(status);
}

int _kill(int pid, int sig)
{
    (void)pid;
    out_flush();
    out("cortex-m: signal ");
    out_u((uint32_t)sig);
    out(sig == 6 ? " (abort())" : "");
    out(", exit status ");
    out_u(128u + (uint32_t)sig);
    out("\n");
    sh_exit(128 + sig);
}

int _getpid(void)
{
    return 1;
}

/* Linked only by a library built with -Dfault_action=sdk. */
void os_longjmp(unsigned int exception)
{
    out_flush();
    out("cortex-m: os_longjmp(");
    out_x(exception);
    out("), the SDK's THROW, exit status ");
    out_u(exception & 0xFFu);
    out("\n");
    sh_exit((int)(exception & 0xFFu));
}
