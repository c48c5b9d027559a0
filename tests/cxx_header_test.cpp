// The public header compiles as C++ and the API links and works from C++.
#include "mem_alloc.h"

#include <cstdio>
#include <cstring>

static_assert(MEM_ALIGNMENT == 8u, "payload alignment");
static_assert(MEM_MIN_HEAP_SIZE == 256u, "minimal heap");
static_assert(MEM_MAX_HEAP_SIZE == (std::size_t{1} << 31), "maximal heap");
static_assert(MEM_CHUNK_OVERHEAD == (MEM_HARDENING > 0 ? 12u : 4u), "chunk overhead");
static_assert(MEM_MIN_CHUNK == (MEM_HARDENING > 0 ? 24u : 16u), "minimal chunk");

namespace {

alignas(8) unsigned char heap[16384];

int failures = 0;

void expect(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "FAILED: %s\n", what);
        failures++;
    }
}

}  // namespace

int main()
{
    mem_ctx_t ctx = mem_init(heap, sizeof heap);
    expect(ctx != nullptr, "mem_init");
    if (ctx == nullptr) {
        return 1;
    }
    mem_stat_t fresh{};
    mem_stat(&ctx, &fresh);
    expect(fresh.total_size == sizeof heap, "mem_stat through the address of the context");

    auto *p = static_cast<unsigned char *>(mem_alloc(ctx, 100));
    expect(p != nullptr, "mem_alloc");
    expect(mem_usable_size(ctx, p) >= 100u, "mem_usable_size");
    std::memset(p, 0x5A, 100);
    p = static_cast<unsigned char *>(mem_realloc(ctx, p, 3000));
    expect(p != nullptr && p[0] == 0x5A && p[99] == 0x5A, "mem_realloc keeps the content");

    std::size_t chunks = 0;
    mem_parse_callback_t count = [](void *data, uint8_t *, bool, std::size_t) -> bool {
        ++*static_cast<std::size_t *>(data);
        return false;
    };
    mem_parse(ctx, count, &chunks);
    mem_stat_t st{};
    mem_stat(static_cast<mem_ctx_t *>(ctx), &st);
    expect(chunks == st.nb_chunks && st.nb_allocated == 1u, "mem_parse and mem_stat agree");
    expect(mem_check(ctx), "mem_check");

    mem_free(ctx, p);
    mem_stat(&ctx, &st);
    expect(st.free_size == fresh.free_size && st.nb_chunks == 1u, "mem_free restores the heap");
    expect(mem_alloc(nullptr, 8) == nullptr, "NULL context");
    return failures == 0 ? 0 : 1;
}
