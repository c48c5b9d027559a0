/*
 * Arm semihosting for the self-test image: a BKPT 0xAB with the operation in
 * r0 and its argument (a value or a parameter block) in r1, which QEMU
 * (-semihosting-config enable=on,target=native) serves on the host. Used
 * for the console, the command line (-append) and the exit status.
 */

#include "board.h"

#include <string.h>

enum {
    SYS_OPEN = 0x01,
    SYS_WRITE0 = 0x04,
    SYS_WRITE = 0x05,
    SYS_GET_CMDLINE = 0x15,
    SYS_EXIT = 0x18,
    SYS_EXIT_EXTENDED = 0x20,
};

/* Reasons of SYS_EXIT / SYS_EXIT_EXTENDED. */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

/* Open modes of SYS_OPEN: 4 is "w", which on ":tt" is the host's stdout. */
#define OPEN_MODE_W 4u

static uint32_t sh_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* ---- console ------------------------------------------------------------ */

static char g_line[160];
static size_t g_len;
static int32_t g_stdout = -2; /* -2: not opened yet; -1: cannot be opened */

static void send(const char *s, size_t len)
{
    if (g_stdout == -2) {
        static const char tt[] = ":tt";
        uint32_t block[3] = {(uint32_t)(uintptr_t)tt, OPEN_MODE_W, (uint32_t)(sizeof tt - 1u)};
        g_stdout = (int32_t)sh_call(SYS_OPEN, block);
    }
    if (g_stdout >= 0) {
        uint32_t block[3] = {(uint32_t)g_stdout, (uint32_t)(uintptr_t)s, (uint32_t)len};
        (void)sh_call(SYS_WRITE, block); /* answers the bytes not written */
        return;
    }
    char buf[sizeof g_line + 1u];
    memcpy(buf, s, len);
    buf[len] = '\0';
    (void)sh_call(SYS_WRITE0, buf);
}

void out_flush(void)
{
    if (g_len > 0u) {
        send(g_line, g_len);
        g_len = 0u;
    }
}

void out(const char *s)
{
    for (; *s != '\0'; s++) {
        g_line[g_len++] = *s;
        if (*s == '\n' || g_len == sizeof g_line) {
            out_flush();
        }
    }
}

void out_u(uint32_t v)
{
    char d[11];
    size_t i = sizeof d - 1u;
    d[i] = '\0';
    do {
        d[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    out(&d[i]);
}

void out_x(uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    char d[11] = "0x";
    for (unsigned i = 0; i < 8u; i++) {
        d[2u + i] = hex[(v >> (28u - 4u * i)) & 15u];
    }
    d[10] = '\0';
    out(d);
}

/* ---- command line and exit ---------------------------------------------- */

void sh_cmdline(char *buf, size_t size)
{
    uint32_t block[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)size};
    buf[0] = '\0';
    if (sh_call(SYS_GET_CMDLINE, block) != 0u) {
        buf[0] = '\0';
    }
    buf[size - 1u] = '\0';
}

void sh_exit(int status)
{
    out_flush();
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    (void)sh_call(SYS_EXIT_EXTENDED, block);
    /* A host without SYS_EXIT_EXTENDED: the 32-bit SYS_EXIT takes only a
     * reason, which QEMU turns into exit status 0 or 1. */
    (void)sh_call(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                                   : ADP_STOPPED_RUNTIME_ERROR));
    for (;;) {
    }
}
