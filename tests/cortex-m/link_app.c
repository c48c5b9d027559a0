/*
 * A minimal firmware app linked the way docs/FIRMWARE.md documents, against
 * the installed libhardalloc.a, headers and hardalloc.pc (link_test.sh), and
 * run on QEMU's mps2-an386 with the self-test's startup and semihosting.
 */

#include "board.h"

#include "mem_alloc.h"

/* TEST ONLY -- NOT A SOURCE OF ENTROPY: a firmware reads its TRNG here. */
bool hardalloc_entropy(void *buf, size_t len)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(i * 131u + 7u);
    }
    return true;
}

static uint64_t heap[1024];

int main(void)
{
    mem_ctx_t ctx = mem_init(heap, sizeof heap);
    char *p = mem_alloc(ctx, 10);
    p = mem_realloc(ctx, p, 100);
    bool ok = p != NULL && mem_usable_size(ctx, p) >= 100u && mem_check(ctx);
    mem_free(ctx, p);
    mem_stat_t st;
    mem_stat(ctx, &st);
    ok = ok && st.nb_allocated == 0u && st.nb_chunks == 1u;
    out(ok ? "cortex-m link: the installed library works (hardening=" : "cortex-m link: FAILED (hardening=");
    out_u(MEM_HARDENING);
    out(")\n");
    return ok ? 0 : 1;
}
