/* A consumer of an installed or subproject hardalloc: the SDK's own usage. */
#include <mem_alloc.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    static uint32_t heap_buffer[2048];
    mem_ctx_t ctx = mem_init(heap_buffer, sizeof(heap_buffer));
    char *p = mem_alloc(ctx, 32);
    if (p == NULL) {
        return 1;
    }
    strcpy(p, "linked");
    mem_stat_t stat;
    mem_stat(&ctx, &stat);
    int ok = stat.nb_allocated == 1u && mem_check(ctx);
    mem_free(ctx, p);
    printf("%s: %s\n", p == NULL ? "?" : "hardalloc", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
