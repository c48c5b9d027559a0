// bench/gbench: what an allocation costs (median and worst case) and how full
// a heap gets, for every hardening level and the system allocators, in one
// binary and one run. Google Benchmark suite of issue 6; bench/GBENCH.md has
// the matrix, the names, the counters, the flags and how to read them.
//
// Names: <family>/<allocator>/<key>=<value>/... (label = the same string;
// Google Benchmark appends "/iterations:N" and, for timed families,
// "/manual_time" to the JSON "name" and "run_name": strip them or use
// "label").
//   families  alloc free pair realloc_grow app_alloc app_free app_calloc
//             app_strdup sweep util
//   allocator off standard paranoid glibc mimalloc jemalloc tcmalloc
//             (app_*, sweep, util: the three levels only)
//   keys      size=<N> | dist=<u8-512|log8-64K|u8-8192>, order=<lifo|fifo|random>,
//             live=<N>, heap=<32KiB|1MiB|256MiB>; realloc_grow: grow=<step>;
//             sweep: op=<alloc|free>; util: state=<fresh|churned>
// Counters: timed families: p50_ns p99_ns p999_ns max_ns (each operation
// timed on its own, timer overhead subtracted), failed (allocations that
// answered NULL), and real_time = mean ns per operation (manual time: the
// sum of the individual timings); cpu_time includes the untimed harness.
// util: utilization (0..1), requested_bytes, blocks.

#include <benchmark/benchmark.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define GBENCH_HAVE_VALGRIND 1
#endif
#endif
#ifndef GBENCH_HAVE_VALGRIND
#define GBENCH_HAVE_VALGRIND 0
#endif

#include <dlfcn.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

extern "C" {
#include "bench_parse.h"
#include "bench_rng.h"
#include "gbench_levels.h"
}

#if defined(__SANITIZE_ADDRESS__)
#define GBENCH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GBENCH_ASAN 1
#endif
#endif

namespace {

// ---------------------------------------------------------------- options

struct Options {
    int64_t ops = 1000000;       // timed operations per timed benchmark
    uint64_t util_max = 0;       // 0: fill to the first failure; else a cap (smoke)
    bool baselines = true;
    bool smoke = false;
};
Options opt;

// ------------------------------------------------------------------ timer
// x86: the time-stamp counter, fenced (lfence before and after) so that the
// operation neither starts before the first read nor leaks past the second;
// converted to ns with a frequency calibrated against CLOCK_MONOTONIC.
// Elsewhere CLOCK_MONOTONIC itself. The median cost of an empty timed region
// is subtracted from every sample (and a sample never goes below 0).

double now_ns_clock()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

inline uint64_t ticks()
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
#endif
}

double ns_per_tick = 1.0;

void calibrate_timer()
{
#if defined(__x86_64__) || defined(__i386__)
    double best = 0.0;
    for (int round = 0; round < 3; round++) {
        double c0 = now_ns_clock();
        uint64_t t0 = ticks();
        double c1;
        do {
            c1 = now_ns_clock();
        } while (c1 - c0 < (opt.smoke ? 2e6 : 10e6));
        uint64_t t1 = ticks();
        double r = (c1 - c0) / static_cast<double>(t1 - t0);
        best = round == 0 ? r : std::min(best, r);
    }
    ns_per_tick = best;
#endif
}

// Granularity of the counter in ticks: the largest g (up to 64) that divides
// at least 90 % of the gaps between reads separated by random delays. 1 on
// most Intel parts; 26 on this project's AMD EPYC VM, whose TSC advances in
// steps of 10 ns (a 100 MHz reference times P0 / 100 MHz).
double tick_granularity = 1.0;

void measure_granularity()
{
    std::vector<uint64_t> gaps;
    uint64_t rng = bench_rng_seed(7);
    volatile uint32_t spin = 0;
    for (int i = 0; i < 4000; i++) {
        uint64_t t0 = ticks();
        for (uint32_t k = bench_rng_range(&rng, 0u, 200u); k > 0; k--) {
            spin = spin + 1u;
        }
        uint64_t t1 = ticks();
        if (t1 > t0) {
            gaps.push_back(t1 - t0);
        }
    }
    uint64_t best = 1;
    for (uint64_t g = 2; g <= 64 && !gaps.empty(); g++) {
        size_t divisible = 0;
        for (uint64_t d : gaps) {
            divisible += d % g == 0u;
        }
        if (divisible * 10u >= gaps.size() * 9u) {
            best = g;
        }
    }
    tick_granularity = static_cast<double>(best);
}

// Mean cost of an empty timed region, in ticks. The mean, not the median:
// with a coarse counter each reading is quantized, but its phase is random,
// so the mean stays exact where a median would be off by up to a step.
// Readings more than 4 steps above the median (an interrupt, a preemption)
// are left out, or one 4 ms tick would add 200 ns to the mean.
double timer_overhead_ticks()
{
    std::vector<uint64_t> v(20001);
    for (auto &x : v) {
        uint64_t t0 = ticks();
        uint64_t t1 = ticks();
        x = t1 - t0;
    }
    std::vector<uint64_t> sorted(v);
    std::nth_element(sorted.begin(), sorted.begin() + 10000, sorted.end());
    double limit = static_cast<double>(sorted[10000]) + 4.0 * tick_granularity;
    double sum = 0.0;
    size_t n = 0;
    for (uint64_t x : v) {
        if (static_cast<double>(x) <= limit) {
            sum += static_cast<double>(x);
            n++;
        }
    }
    return sum / static_cast<double>(n);
}

// Individually timed operations of one benchmark, raw counter differences.
// Quantiles treat every reading v as spread evenly over one counter step
// [v - g/2, v + g/2] and interpolate inside it (the grouped-data quantile):
// with g = 1 that is the plain quantile; with the 10 ns steps of an AMD TSC
// it recovers sub-step medians instead of rounding them to 0, 10 or 20 ns.
// The timer's mean overhead is then subtracted (never below 0).
struct Samples {
    std::vector<uint32_t> t;
    double overhead;
    explicit Samples(int64_t n) : overhead(timer_overhead_ticks())
    {
        t.reserve(static_cast<size_t>(n));
    }
    // Records one operation and reports it as the iteration's manual time
    // (unclamped, so that the mean stays unbiased).
    void add(benchmark::State &st, uint64_t t0, uint64_t t1)
    {
        uint64_t d = std::min<uint64_t>(t1 - t0, UINT32_MAX);
        t.push_back(static_cast<uint32_t>(d));
        st.SetIterationTime((static_cast<double>(d) - overhead) * ns_per_tick * 1e-9);
    }
    double to_ns(double tk) const { return std::max(0.0, tk - overhead) * ns_per_tick; }
    // t must be sorted.
    double quantile(double q) const
    {
        const double g = tick_granularity;
        const size_t n = t.size();
        double rank = q * static_cast<double>(n); // samples below the answer
        auto lo = std::lower_bound(t.begin(), t.end(), t[std::min(n - 1u, static_cast<size_t>(rank))]);
        auto hi = std::upper_bound(lo, t.end(), *lo);
        double below = static_cast<double>(lo - t.begin());
        double in_bin = static_cast<double>(hi - lo);
        double frac = std::min(1.0, std::max(0.0, (rank - below) / in_bin));
        return to_ns(static_cast<double>(*lo) - g / 2.0 + frac * g);
    }
    void report(benchmark::State &st)
    {
        if (t.empty()) {
            return;
        }
        std::sort(t.begin(), t.end());
        st.counters["p50_ns"] = quantile(0.5);
        st.counters["p99_ns"] = quantile(0.99);
        st.counters["p999_ns"] = quantile(0.999);
        st.counters["max_ns"] = to_ns(static_cast<double>(t.back()));
        st.counters["timer_step_ns"] = tick_granularity * ns_per_tick;
    }
};

// ------------------------------------------------------------- allocators

struct Allocator {
    std::string name;
    const gbench_level_t *lvl; // null for a baseline
    void *(*alloc)(void *ctx, size_t n);
    void (*free)(void *ctx, void *p);
    void *(*realloc)(void *ctx, void *p, size_t n);
};

void *glibc_alloc(void *, size_t n) { return malloc(n); }
void glibc_free(void *, void *p) { free(p); }
void *glibc_realloc(void *, void *p, size_t n) { return realloc(p, n); }

// mimalloc (mi_malloc/mi_free/mi_realloc) and tcmalloc (tc_malloc/tc_free/
// tc_realloc) have malloc's own shape under a prefix: one table each, and
// one set of thunks serves both.
struct MallocApi {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*realloc)(void *, size_t);
};
MallocApi mimalloc_api, tcmalloc_api;
template <MallocApi &api> void *api_alloc(void *, size_t n) { return api.malloc(n); }
template <MallocApi &api> void api_free(void *, void *p) { api.free(p); }
template <MallocApi &api> void *api_realloc(void *, void *p, size_t n) { return api.realloc(p, n); }

void *(*je_mallocx_p)(size_t, int);
void (*je_dallocx_p)(void *, int);
void *(*je_rallocx_p)(void *, size_t, int);
void *je_alloc(void *, size_t n) { return je_mallocx_p(n, 0); }
void je_free(void *, void *p)
{
    if (p != nullptr) { // dallocx(NULL) is undefined
        je_dallocx_p(p, 0);
    }
}
void *je_realloc(void *, void *p, size_t n) { return p != nullptr ? je_rallocx_p(p, n, 0) : je_mallocx_p(n, 0); }

std::vector<Allocator> allocators;

// dlopen with RTLD_LOCAL: the library's own malloc (mimalloc, jemalloc and
// tcmalloc export one) does not interpose on glibc's, which stays the
// process's malloc; only the prefixed API is looked up.
void *open_baseline(const char *name, const char *lib, std::string *why)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
        const char *e = dlerror();
        *why = e != nullptr ? e : "dlopen failed";
        std::fprintf(stderr, "gbench: %s skipped: %s\n", name, why->c_str());
    }
    return h;
}

template <typename F> bool sym(void *h, const char *name, F *out)
{
    void *p = dlsym(h, name);
    *out = reinterpret_cast<F>(p);
    return p != nullptr;
}

// A baseline with malloc's shape: <prefix>malloc, <prefix>free and
// <prefix>realloc from lib, registered as `name` when all three are there.
template <MallocApi &api> void load_malloc_api(const char *name, const char *lib, const char *prefix, std::string *why)
{
    void *h = open_baseline(name, lib, why);
    if (h == nullptr) {
        return;
    }
    const std::string p(prefix);
    if (sym(h, (p + "malloc").c_str(), &api.malloc) && sym(h, (p + "free").c_str(), &api.free) &&
        sym(h, (p + "realloc").c_str(), &api.realloc)) {
        allocators.push_back({name, nullptr, api_alloc<api>, api_free<api>, api_realloc<api>});
    } else {
        std::fprintf(stderr, "gbench: %s skipped: %smalloc/%sfree/%srealloc not found\n", name, prefix, prefix, prefix);
    }
}

void load_allocators(bool *want_reexec)
{
    for (const gbench_level_t *l : {&gbench_level_off, &gbench_level_standard, &gbench_level_paranoid}) {
        allocators.push_back({l->name, l, l->alloc, l->free, l->realloc});
    }
    allocators.push_back({"glibc", nullptr, glibc_alloc, glibc_free, glibc_realloc});
    if (!opt.baselines) {
        std::fprintf(stderr, "gbench: mimalloc, jemalloc, tcmalloc skipped (--gbench_no_baselines)\n");
        return;
    }
#ifdef GBENCH_ASAN
    const bool asan = true;
#else
    const bool asan = false;
#endif
    if (asan) {
        // Their own allocations escape ASan's interposed operator new/malloc
        // bookkeeping (LeakSanitizer reports tcmalloc's registration as a leak).
        std::fprintf(stderr, "gbench: mimalloc, jemalloc, tcmalloc skipped under AddressSanitizer\n");
        return;
    }
    std::string why;
    load_malloc_api<mimalloc_api>("mimalloc", "libmimalloc.so.2", "mi_", &why);
    if (void *h = open_baseline("jemalloc", "libjemalloc.so.2", &why)) {
        if (sym(h, "mallocx", &je_mallocx_p) && sym(h, "dallocx", &je_dallocx_p) && sym(h, "rallocx", &je_rallocx_p)) {
            allocators.push_back({"jemalloc", nullptr, je_alloc, je_free, je_realloc});
        } else {
            std::fprintf(stderr, "gbench: jemalloc skipped: mallocx/dallocx/rallocx not found\n");
        }
    } else if (why.find("static TLS") != std::string::npos) {
        *want_reexec = true;
    }
    // tcmalloc_minimal: the allocator without the heap profiler. The full
    // libtcmalloc.so.4 aborts when dlopen'ed next to glibc's malloc ("free():
    // invalid pointer" during its initialization).
    load_malloc_api<tcmalloc_api>("tcmalloc", "libtcmalloc_minimal.so.4", "tc_", &why);
}

// ------------------------------------------------------------------ heaps
// One buffer for every heap, mapped and touched once, so that no benchmark
// pays first-touch page faults in its timings.

constexpr size_t KiB = 1024u, MiB = 1024u * 1024u;
constexpr size_t heap_sizes[] = {32 * KiB, 1 * MiB, 256 * MiB};

uint8_t *arena_buf;
size_t arena_len;

uint8_t *arena(size_t n)
{
    if (n > arena_len) {
        if (arena_buf != nullptr) {
            munmap(arena_buf, arena_len);
        }
        void *p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED) {
            arena_buf = nullptr;
            arena_len = 0;
            return nullptr;
        }
        std::memset(p, 0, n);
        arena_buf = static_cast<uint8_t *>(p);
        arena_len = n;
    }
    return arena_buf;
}

std::string heap_name(size_t h)
{
    return h >= MiB ? std::to_string(h / MiB) + "MiB" : std::to_string(h / KiB) + "KiB";
}

// A heap for one benchmark: hardalloc's context in the arena, or nothing for
// a baseline (which allocates from the system; the heap= key only names the
// workload it shares with the levels). app: the level's app-wide heap of the
// wrappers (mem_utils_init on the arena), detached again at the end.
struct Heap {
    const Allocator &a;
    const bool app;
    void *ctx = nullptr;
    bool ok = true;
    Heap(const Allocator &al, size_t size, bool app_heap = false) : a(al), app(app_heap)
    {
        if (a.lvl != nullptr) {
            uint8_t *buf = arena(size);
            if (app) {
                ctx = buf != nullptr && a.lvl->app_init(buf, size) ? a.lvl->app_context() : nullptr;
            } else {
                ctx = buf != nullptr ? a.lvl->init(buf, size) : nullptr;
            }
            ok = ctx != nullptr;
        }
    }
    ~Heap()
    {
        if (app && a.lvl != nullptr) {
            a.lvl->app_init(nullptr, 0);
        }
    }
    Heap(const Heap &) = delete;
    Heap &operator=(const Heap &) = delete;
    void *alloc(size_t n) { return a.alloc(ctx, n); }
    void free(void *p) { a.free(ctx, p); }
    void *realloc(void *p, size_t n) { return a.realloc(ctx, p, n); }
    bool check() { return a.lvl == nullptr || a.lvl->check(ctx); }
};

// ---------------------------------------------------------- distributions

enum class Dist { Fixed, U8_512, Log8_64K, U8_8192 };

struct Sizes {
    Dist dist;
    uint32_t fixed; // Dist::Fixed
    std::string key() const
    {
        switch (dist) {
        case Dist::Fixed: return "size=" + std::to_string(fixed);
        case Dist::U8_512: return "dist=u8-512";
        case Dist::Log8_64K: return "dist=log8-64K";
        case Dist::U8_8192: return "dist=u8-8192";
        }
        return "";
    }
    uint32_t draw(uint64_t *rng) const
    {
        switch (dist) {
        case Dist::Fixed: return fixed;
        case Dist::U8_512: return bench_rng_range(rng, 8u, 512u);
        case Dist::U8_8192: return bench_rng_range(rng, 8u, 8192u);
        case Dist::Log8_64K: {
            // log-uniform: 8 * 2^(13 u), u uniform in [0, 1]
            double u = static_cast<double>(bench_rng_next(rng) >> 11) * 0x1.0p-53;
            auto n = static_cast<uint32_t>(std::lround(8.0 * std::exp2(13.0 * u)));
            return std::min<uint32_t>(std::max<uint32_t>(n, 8u), 65536u);
        }
        }
        return 8u;
    }
    uint32_t max() const
    {
        return dist == Dist::Fixed ? fixed : dist == Dist::U8_512 ? 512u : dist == Dist::U8_8192 ? 8192u : 65536u;
    }
    // Mean chunk footprint at the hardened layout (12 B overhead, 24 B minimum).
    double mean_chunk() const
    {
        double mean = dist == Dist::Fixed     ? fixed
                      : dist == Dist::U8_512  ? 260.0
                      : dist == Dist::U8_8192 ? 4100.0
                                              : (65536.0 - 8.0) / std::log(8192.0);
        return std::max(24.0, mean + 12.0 + 4.0);
    }
    uint64_t seed() const { return static_cast<uint64_t>(dist) * 1000003u + fixed; }
};

// A steady state of `live` blocks fits a heap when they take at most 60 % of
// it on average (64 blocks of 8..512 B on 32 KiB take 53 %, bench/quick's
// case) and the largest request is at most a quarter of it.
bool fits(const Sizes &s, uint32_t live, size_t heap)
{
    return static_cast<double>(live) * s.mean_chunk() <= 0.6 * static_cast<double>(heap) &&
           static_cast<size_t>(s.max()) * 4u <= heap;
}

enum class Order { Lifo, Fifo, Random };
const char *order_name(Order o) { return o == Order::Lifo ? "lifo" : o == Order::Fifo ? "fifo" : "random"; }

// Which block of the live set goes next. LIFO: the one allocated last (the
// steady state then recycles one slot over the others); FIFO: the oldest;
// random: any, uniformly. Depends only on the seed, so every allocator
// replays the same requests.
struct Victims {
    Order order;
    uint32_t live;
    uint32_t last;
    uint32_t cursor = 0;
    Victims(Order o, uint32_t n) : order(o), live(n), last(n - 1u) {}
    uint32_t next(uint64_t *rng)
    {
        switch (order) {
        case Order::Lifo: return last;
        case Order::Fifo: {
            uint32_t v = cursor;
            cursor = cursor + 1u == live ? 0u : cursor + 1u;
            return v;
        }
        case Order::Random: return static_cast<uint32_t>(bench_rng_next(rng) % live);
        }
        return 0u;
    }
};

// -------------------------------------------------------------- steady state

enum class Op { Alloc, Free, Pair, AppAlloc, AppFree, AppCalloc, AppStrdup };

const char *op_family(Op op)
{
    switch (op) {
    case Op::Alloc: return "alloc";
    case Op::Free: return "free";
    case Op::Pair: return "pair";
    case Op::AppAlloc: return "app_alloc";
    case Op::AppFree: return "app_free";
    case Op::AppCalloc: return "app_calloc";
    case Op::AppStrdup: return "app_strdup";
    }
    return "";
}

struct Workload {
    Sizes sizes;
    Order order;
    uint32_t live;
    size_t heap;
    std::string key() const
    {
        return sizes.key() + "/order=" + order_name(order) + "/live=" + std::to_string(live) + "/heap=" + heap_name(heap);
    }
};

// 512 'x' and a NUL: the string of length n starts at strings + 512 - n.
char strdup_source[513];

// The steady state: `live` blocks; each iteration replaces one (chosen by the
// order) with a new one of a drawn size, and times one operation of it: the
// allocation (alloc), the free (free), or both (pair). The app_* families do
// the same through APP_MEM_ALLOC / APP_MEM_FREE / APP_MEM_CALLOC /
// APP_MEM_STRDUP on the level's app heap.
void run_steady(benchmark::State &st, const Allocator &a, const Workload &w, Op op)
{
    const bool app = op >= Op::AppAlloc;
    const gbench_level_t *lv = a.lvl;
    Heap heap(a, w.heap, app);
    if (!heap.ok) {
        st.SkipWithError(app ? "app heap init failed" : "heap init failed");
        return;
    }
    // Untimed: the set-up, the warm-up and the other half of each iteration.
    auto do_alloc = [&](size_t n) -> void * { return app ? lv->app_alloc(n) : heap.alloc(n); };
    auto do_free = [&](void *p) { app ? lv->app_free(p) : heap.free(p); };

    uint64_t rng = bench_rng_seed(w.sizes.seed() * 31u + w.live);
    std::vector<void *> blocks(w.live);
    for (auto &b : blocks) {
        b = do_alloc(w.sizes.draw(&rng));
    }
    Victims victims(w.order, w.live);
    // Warm-up: the free lists reach their steady shape before timing.
    uint64_t warm = opt.smoke ? w.live : std::max<uint64_t>(4u * w.live, 20000u);
    for (uint64_t i = 0; i < warm; i++) {
        uint32_t v = victims.next(&rng);
        do_free(blocks[v]);
        blocks[v] = do_alloc(w.sizes.draw(&rng));
    }
    Samples s(st.max_iterations);
    uint64_t failed = 0;
    for (auto _ : st) {
        uint32_t v = victims.next(&rng);
        size_t n = w.sizes.draw(&rng);
        void *p = nullptr;
        uint64_t t0 = 0, t1 = 0;
        // The timed region holds the one call measured, made directly.
        switch (op) {
        case Op::Alloc:
            heap.free(blocks[v]);
            t0 = ticks();
            p = heap.alloc(n);
            t1 = ticks();
            break;
        case Op::AppAlloc:
            lv->app_free(blocks[v]);
            t0 = ticks();
            p = lv->app_alloc(n);
            t1 = ticks();
            break;
        case Op::Free:
            t0 = ticks();
            heap.free(blocks[v]);
            t1 = ticks();
            p = heap.alloc(n);
            break;
        case Op::AppFree:
            t0 = ticks();
            lv->app_free(blocks[v]);
            t1 = ticks();
            p = lv->app_alloc(n);
            break;
        case Op::Pair:
            t0 = ticks();
            heap.free(blocks[v]);
            p = heap.alloc(n);
            t1 = ticks();
            break;
        case Op::AppCalloc:
            lv->app_free(blocks[v]);
            blocks[v] = nullptr;
            t0 = ticks();
            lv->app_calloc(&blocks[v], n);
            t1 = ticks();
            p = blocks[v];
            break;
        case Op::AppStrdup:
            lv->app_free(blocks[v]);
            t0 = ticks();
            p = lv->app_strdup(strdup_source + 512 - (n - 1u)); // n bytes with the NUL
            t1 = ticks();
            break;
        }
        benchmark::DoNotOptimize(p);
        blocks[v] = p;
        failed += p == nullptr;
        s.add(st, t0, t1);
    }
    for (auto b : blocks) {
        do_free(b);
    }
    if (!heap.check()) {
        st.SkipWithError("mem_check failed after the run");
        return;
    }
    s.report(st);
    st.counters["failed"] = static_cast<double>(failed);
}

// ---------------------------------------------------------- realloc growth
// One buffer grows by `grow` bytes per mem_realloc, from `grow` up to `top`,
// then is freed and starts again, among `live` other blocks that churn (one
// untimed random free+alloc between two reallocs), so its neighbour is
// sometimes free (in place) and sometimes not (move and copy).

void run_realloc(benchmark::State &st, const Allocator &a, const Workload &w, uint32_t grow, uint32_t top)
{
    Heap heap(a, w.heap);
    if (!heap.ok) {
        st.SkipWithError("heap init failed");
        return;
    }
    uint64_t rng = bench_rng_seed(w.sizes.seed() * 37u + grow);
    std::vector<void *> blocks(w.live);
    for (auto &b : blocks) {
        b = heap.alloc(w.sizes.draw(&rng));
    }
    Victims victims(w.order, w.live);
    size_t cur = grow;
    void *buf = heap.alloc(cur);
    Samples s(st.max_iterations);
    uint64_t failed = 0;
    for (auto _ : st) {
        uint32_t v = victims.next(&rng);
        heap.free(blocks[v]);
        blocks[v] = heap.alloc(w.sizes.draw(&rng));
        if (cur + grow > top || buf == nullptr) {
            heap.free(buf);
            cur = grow;
            buf = heap.alloc(cur);
        }
        size_t n = cur + grow;
        uint64_t t0 = ticks();
        void *p = heap.realloc(buf, n);
        uint64_t t1 = ticks();
        benchmark::DoNotOptimize(p);
        if (p != nullptr) {
            buf = p;
            cur = n;
        } else {
            failed++;
        }
        s.add(st, t0, t1);
    }
    heap.free(buf);
    for (auto b : blocks) {
        heap.free(b);
    }
    if (!heap.check()) {
        st.SkipWithError("mem_check failed after the run");
        return;
    }
    s.report(st);
    st.counters["failed"] = static_cast<double>(failed);
}

// ------------------------------------------------------- worst-case sweep
// Tries to make single operations slow: the heap is cut into holes of many
// sizes (16 B to heap/64, 19 % apart: many size classes, every free list of
// them populated), each hole between two live separators so nothing merges,
// and the rest filled with ever smaller blocks until even 8 bytes fail
// (nearly full: no large free chunk for the good-fit search to fall back
// on). Then, sweeping request sizes over the same range plus a few bytes
// (sizes just above a hole's length take the bounded exact-fit scan or
// fail):
//   op=alloc: time one mem_alloc of the next size; free it (untimed)
//   op=free:  free (timed) a random separator, so its block merges with the
//             holes on both sides, then allocate it again (untimed)

void run_sweep(benchmark::State &st, const Allocator &a, size_t heap_size, bool time_free)
{
    Heap heap(a, heap_size);
    if (!heap.ok) {
        st.SkipWithError("heap init failed");
        return;
    }
    std::vector<uint32_t> ladder;
    for (double sz = 16.0; sz <= static_cast<double>(heap_size) / 64.0; sz *= 1.19) {
        ladder.push_back(static_cast<uint32_t>(sz) & ~7u);
    }
    constexpr uint32_t sep_size = 8;
    std::vector<void *> holes, seps;
    for (size_t i = 0;; i++) {
        uint32_t n = ladder[i % ladder.size()];
        void *h = heap.alloc(n);
        void *sp = heap.alloc(sep_size);
        if (h == nullptr || sp == nullptr) {
            heap.free(h);
            heap.free(sp);
            break;
        }
        holes.push_back(h);
        seps.push_back(sp);
    }
    std::vector<void *> filler;
    for (uint32_t n = 1u << 20; n >= 8u; n /= 2u) {
        while (void *p = heap.alloc(n)) {
            filler.push_back(p);
            if (opt.util_max != 0 && filler.size() > opt.util_max) {
                break;
            }
        }
    }
    for (auto h : holes) {
        heap.free(h);
    }
    uint64_t rng = bench_rng_seed(heap_size);
    Samples s(st.max_iterations);
    uint64_t failed = 0;
    size_t k = 0;
    for (auto _ : st) {
        uint64_t t0 = 0, t1 = 0;
        if (!time_free) {
            uint32_t n = ladder[k++ % ladder.size()] + 8u * bench_rng_range(&rng, 0u, 3u);
            t0 = ticks();
            void *p = heap.alloc(n);
            t1 = ticks();
            benchmark::DoNotOptimize(p);
            failed += p == nullptr;
            heap.free(p);
        } else {
            size_t i = static_cast<size_t>(bench_rng_next(&rng) % seps.size());
            t0 = ticks();
            heap.free(seps[i]);
            t1 = ticks();
            seps[i] = heap.alloc(sep_size);
            failed += seps[i] == nullptr;
        }
        s.add(st, t0, t1);
    }
    if (!heap.check()) {
        st.SkipWithError("mem_check failed after the run");
        return;
    }
    s.report(st);
    st.counters["failed"] = static_cast<double>(failed);
    st.counters["free_lists_holes"] = static_cast<double>(holes.size());
}

// ------------------------------------------------------------ utilization
// Requests of the distribution into the heap until the first failure;
// utilization = bytes requested by the live blocks then / heap size.
// fresh: from mem_init. churned: fill to the first failure, free a random
// half, churn (random frees and allocations of the distribution, 4x the live
// count, failures skipped), then fill again to the first failure.
// Mean over several seeds (8 on 32 KiB, 4 on 1 MiB, 1 on 256 MiB).

void run_util(benchmark::State &st, const Allocator &a, const Sizes &sizes, size_t heap_size, bool churned)
{
    int seeds = heap_size <= 32 * KiB ? 8 : heap_size <= MiB ? 4 : 1;
    double sum_util = 0.0, sum_bytes = 0.0, sum_blocks = 0.0;
    bool healthy = true;
    for (auto _ : st) {
        for (int seed = 0; seed < seeds; seed++) {
            Heap heap(a, heap_size);
            if (!heap.ok) {
                st.SkipWithError("heap init failed");
                return;
            }
            uint64_t rng = bench_rng_seed(sizes.seed() * 41u + static_cast<uint64_t>(seed));
            std::vector<void *> blocks;
            std::vector<uint32_t> req;
            uint64_t requested = 0;
            auto fill = [&]() {
                for (;;) {
                    if (opt.util_max != 0 && blocks.size() >= opt.util_max) {
                        return;
                    }
                    uint32_t n = sizes.draw(&rng);
                    void *p = heap.alloc(n);
                    if (p == nullptr) {
                        return;
                    }
                    blocks.push_back(p);
                    req.push_back(n);
                    requested += n;
                }
            };
            fill();
            if (churned && !blocks.empty()) {
                // free a random half (Fisher-Yates prefix)
                size_t half = blocks.size() / 2u;
                for (size_t i = 0; i < half; i++) {
                    size_t j = i + static_cast<size_t>(bench_rng_next(&rng) % (blocks.size() - i));
                    std::swap(blocks[i], blocks[j]);
                    std::swap(req[i], req[j]);
                    heap.free(blocks[i]);
                    requested -= req[i];
                }
                blocks.erase(blocks.begin(), blocks.begin() + static_cast<std::ptrdiff_t>(half));
                req.erase(req.begin(), req.begin() + static_cast<std::ptrdiff_t>(half));
                uint64_t steps = std::min<uint64_t>(4u * blocks.size(), opt.util_max != 0 ? 1000u : 4000000u);
                for (uint64_t i = 0; i < steps && !blocks.empty(); i++) {
                    size_t v = static_cast<size_t>(bench_rng_next(&rng) % blocks.size());
                    heap.free(blocks[v]);
                    requested -= req[v];
                    uint32_t n = sizes.draw(&rng);
                    void *p = heap.alloc(n);
                    if (p != nullptr) {
                        blocks[v] = p;
                        req[v] = n;
                        requested += n;
                    } else { // failure skipped: the slot goes
                        blocks[v] = blocks.back();
                        req[v] = req.back();
                        blocks.pop_back();
                        req.pop_back();
                    }
                }
                fill();
            }
            sum_util += static_cast<double>(requested) / static_cast<double>(heap_size);
            sum_bytes += static_cast<double>(requested);
            sum_blocks += static_cast<double>(blocks.size());
            healthy = healthy && heap.check();
        }
    }
    if (!healthy) {
        st.SkipWithError("mem_check failed after the run");
        return;
    }
    st.counters["utilization"] = sum_util / seeds;
    st.counters["requested_bytes"] = sum_bytes / seeds;
    st.counters["blocks"] = sum_blocks / seeds;
}

// ------------------------------------------------------------ registration

int registered = 0;

template <typename Fn> void add(const std::string &name, Fn fn, bool timed)
{
    auto *b = benchmark::RegisterBenchmark(name.c_str(), [name, fn](benchmark::State &st) {
        st.SetLabel(name);
        fn(st);
    });
    b->Unit(benchmark::kNanosecond);
    if (timed) {
        b->UseManualTime()->Iterations(opt.ops);
    } else {
        b->Iterations(1);
    }
    registered++;
}

void register_all(std::string *skipped)
{
    const Sizes fixed_sizes[] = {{Dist::Fixed, 16}, {Dist::Fixed, 64}, {Dist::Fixed, 256}, {Dist::Fixed, 4096}};
    const Sizes dists[] = {{Dist::U8_512, 0}, {Dist::Log8_64K, 0}};
    const uint32_t lives[] = {64, 1024, 16384};
    const Op core_ops[] = {Op::Alloc, Op::Free, Op::Pair};
    const Order orders[] = {Order::Lifo, Order::Fifo, Order::Random};

    std::vector<Workload> work; // every workload of alloc/free/pair
    // Fixed sizes x orders, 1,024 live, on 1 MiB (256 MiB when they do not fit).
    for (const auto &s : fixed_sizes) {
        size_t h = fits(s, 1024, 1 * MiB) ? 1 * MiB : 256 * MiB;
        for (Order o : orders) {
            work.push_back({s, o, 1024, h});
        }
    }
    // Random distributions x live counts x heap sizes, where they fit.
    for (const auto &s : dists) {
        for (uint32_t live : lives) {
            for (size_t h : heap_sizes) {
                if (fits(s, live, h)) {
                    work.push_back({s, Order::Random, live, h});
                } else {
                    *skipped += "  " + s.key() + "/live=" + std::to_string(live) + "/heap=" + heap_name(h) + ": " +
                                std::to_string(static_cast<uint64_t>(live * s.mean_chunk() / 1024.0)) +
                                " KiB expected live, or a request over a quarter of the heap\n";
                }
            }
        }
    }
    // The README's case in the other two orders as well, and 8..8192 B on 1 MiB, where glibc leaves
    // its thread cache (the second pair target).
    std::vector<Workload> pair_only = {{dists[0], Order::Lifo, 64, 32 * KiB},
                                       {dists[0], Order::Fifo, 64, 32 * KiB},
                                       {{Dist::U8_8192, 0}, Order::Random, 64, 1 * MiB}};

    for (const auto &a : allocators) {
        const Allocator *ap = &a;
        for (const auto &w : work) {
            for (Op op : core_ops) {
                add(std::string(op_family(op)) + "/" + a.name + "/" + w.key(),
                    [ap, w, op](benchmark::State &st) { run_steady(st, *ap, w, op); }, true);
            }
        }
        for (const auto &w : pair_only) {
            add("pair/" + a.name + "/" + w.key(), [ap, w](benchmark::State &st) { run_steady(st, *ap, w, Op::Pair); }, true);
        }
        // realloc growth of one buffer among others
        struct G { Workload w; uint32_t grow, top; };
        const G grows[] = {{{dists[0], Order::Random, 64, 32 * KiB}, 16, 4096},
                           {{dists[0], Order::Random, 1024, 1 * MiB}, 256, 65536}};
        for (const auto &g : grows) {
            add("realloc_grow/" + a.name + "/" + g.w.key() + "/grow=" + std::to_string(g.grow),
                [ap, g](benchmark::State &st) { run_realloc(st, *ap, g.w, g.grow, g.top); }, true);
        }
    }
    // The wrappers (app heap), the sweep and utilization: the levels only.
    for (const auto &a : allocators) {
        if (a.lvl == nullptr) {
            continue;
        }
        const Allocator *ap = &a;
        const Workload app_work[] = {{dists[0], Order::Random, 64, 32 * KiB}, {dists[0], Order::Random, 1024, 1 * MiB}};
        for (const auto &w : app_work) {
            for (Op op : {Op::AppAlloc, Op::AppFree, Op::AppCalloc, Op::AppStrdup}) {
                add(std::string(op_family(op)) + "/" + a.name + "/" + w.key(),
                    [ap, w, op](benchmark::State &st) { run_steady(st, *ap, w, op); }, true);
            }
        }
        for (size_t h : heap_sizes) {
            for (bool f : {false, true}) {
                add(std::string("sweep/") + a.name + "/op=" + (f ? "free" : "alloc") + "/heap=" + heap_name(h),
                    [ap, h, f](benchmark::State &st) { run_sweep(st, *ap, h, f); }, true);
            }
        }
        std::vector<Sizes> util_sizes(std::begin(fixed_sizes), std::end(fixed_sizes));
        util_sizes.insert(util_sizes.end(), std::begin(dists), std::end(dists));
        for (const auto &s : util_sizes) {
            for (size_t h : heap_sizes) {
                if (static_cast<size_t>(s.max()) * 4u > h) {
                    continue; // log8-64K on 32 KiB: a request over a quarter of the heap
                }
                for (bool churned : {false, true}) {
                    add("util/" + a.name + "/" + s.key() + "/heap=" + heap_name(h) + "/state=" + (churned ? "churned" : "fresh"),
                        [ap, s, h, churned](benchmark::State &st) { run_util(st, *ap, s, h, churned); }, false);
                }
            }
        }
    }
}

// Removes argv[i] from argv.
void drop_arg(int *argc, char **argv, int i)
{
    for (int j = i; j < *argc - 1; j++) {
        argv[j] = argv[j + 1];
    }
    (*argc)--;
}

} // namespace

int main(int argc, char **argv)
{
    // Our own flags first; the rest go to Google Benchmark.
    for (int i = 1; i < argc;) {
        const char *arg = argv[i];
        uint64_t v = 0;
        if (std::strncmp(arg, "--gbench_ops=", 13) == 0) {
            // capped: each timed operation keeps a 4-byte sample, reserved up front
            if (!bench_parse_uint(arg + 13, 10, 100000000u, &v) || v == 0u) {
                std::fprintf(stderr, "gbench: %s: expected 1 to 100000000 operations\n", arg);
                return 2;
            }
            opt.ops = static_cast<int64_t>(v);
        } else if (std::strncmp(arg, "--gbench_util_max=", 18) == 0) {
            if (!bench_parse_uint(arg + 18, 10, UINT64_MAX, &v)) {
                std::fprintf(stderr, "gbench: %s: expected a number of blocks (0: no cap)\n", arg);
                return 2;
            }
            opt.util_max = v;
        } else if (std::strcmp(arg, "--gbench_smoke") == 0) {
            opt.smoke = true;
            opt.ops = 64;
            opt.util_max = 2000;
        } else if (std::strcmp(arg, "--gbench_no_baselines") == 0) {
            opt.baselines = false;
        } else {
            i++;
            continue;
        }
        drop_arg(&argc, argv, i);
    }

#if GBENCH_HAVE_VALGRIND
    // Under valgrind (the suite's memcheck run) the peers are not what is
    // being checked, and the re-execution for jemalloc would run valgrind's
    // launcher, not gbench: hardalloc and glibc only.
    if (RUNNING_ON_VALGRIND && opt.baselines) {
        std::fprintf(stderr, "gbench: under valgrind: baselines other than glibc skipped\n");
        opt.baselines = false;
    }
#endif
    bool want_reexec = false;
    load_allocators(&want_reexec);
    // jemalloc's TLS is initial-exec (static): dlopen needs more surplus
    // static TLS than glibc reserves by default. Run again with the glibc
    // tunable that reserves it (only once: the marker variable stops a loop).
    if (want_reexec && std::getenv("GBENCH_REEXEC") == nullptr) {
        std::string t = "glibc.rtld.optional_static_tls=16384";
        if (const char *old = std::getenv("GLIBC_TUNABLES")) {
            t = std::string(old) + ":" + t;
        }
        setenv("GLIBC_TUNABLES", t.c_str(), 1);
        setenv("GBENCH_REEXEC", "1", 1);
        std::fprintf(stderr, "gbench: running again with GLIBC_TUNABLES=%s for jemalloc\n", t.c_str());
        std::fflush(stderr);
        // argv as given (our own flags were removed: pass them again).
        std::vector<char *> args(argv, argv + argc);
        std::string ops = "--gbench_ops=" + std::to_string(opt.ops);
        std::string um = "--gbench_util_max=" + std::to_string(opt.util_max);
        args.insert(args.begin() + 1, &ops[0]);
        args.insert(args.begin() + 2, &um[0]);
        std::string smoke = "--gbench_smoke";
        if (opt.smoke) {
            args.insert(args.begin() + 1, &smoke[0]);
        }
        args.push_back(nullptr);
        execv("/proc/self/exe", args.data());
        std::fprintf(stderr, "gbench: jemalloc skipped: could not run again (%s)\n", std::strerror(errno));
    }

    std::memset(strdup_source, 'x', 512);
    strdup_source[512] = '\0';
    calibrate_timer();
    measure_granularity();
    std::string skipped;
    register_all(&skipped);
    if (!skipped.empty() && !opt.smoke) {
        std::fprintf(stderr, "gbench: workloads that do not fit their heap (not registered):\n%s", skipped.c_str());
    }
    std::fprintf(stderr, "gbench: %d benchmarks, %zu allocators, %" PRId64 " timed ops each, timer %.3f ns/tick, step %.0f ticks\n",
                 registered, allocators.size(), opt.ops, ns_per_tick, tick_granularity);

    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (arena_buf != nullptr) {
        munmap(arena_buf, arena_len);
    }
    return 0;
}
