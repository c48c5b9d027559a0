/*
 * The self-test image's cost mode (-append cost): instructions per
 * mem_alloc, mem_free and mem_realloc, as QEMU's TCG counts them.
 *
 * QEMU models no cycles and does not emulate the DWT cycle counter. Run with
 * -icount shift=S, its virtual clock advances exactly 2^S ns per guest
 * instruction executed, and the timers read that clock: SysTick, on the
 * processor clock (25 MHz on mps2-an386, 40 ns a tick), advances 2^S / 40
 * ticks per instruction, 25.6 at S = 10, QEMU's largest shift. So the
 * difference of two SysTick reads is a count of the instructions executed
 * between them, as exact as the tick is fine.
 *
 * That is not taken on trust: the mode first times a loop of known length
 * (two instructions an iteration, written in assembly) at eight lengths
 * from 1 to 101,000 iterations, derives ticks per instruction from two of
 * them, and requires every length to come out exact, to the instruction.
 * Without -icount (or with a shift too small to resolve one instruction)
 * that fails and so does the mode (exit status 1), rather than print
 * numbers that mean nothing.
 *
 * These are instructions, not cycles: a Cortex-M4 takes 1 to 3 cycles for
 * most of them, more for loads stalled by memory and for taken branches,
 * and QEMU counts an IT-skipped instruction as executed. Each figure covers
 * the call as the app sees it: argument set-up, the branch, the return.
 */

#include "board.h"

#include "mem_alloc.h"

#include <string.h>

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_MASK 0x00FFFFFFu /* a 24-bit down counter */

static void systick_start(void)
{
    SYST_RVR = SYST_MASK;
    SYST_CVR = 0u;  /* any write clears it */
    SYST_CSR = 5u;  /* enable, processor clock, no interrupt */
}

static inline uint32_t now(void)
{
    return SYST_CVR;
}

/* Ticks from t0 to t1 (it counts down; one wrap, 16.7 M ticks, at most). */
static inline uint32_t ticks(uint32_t t0, uint32_t t1)
{
    return (t0 - t1) & SYST_MASK;
}

/* ---- calibration -------------------------------------------------------- */

/* n >= 1 iterations of exactly two instructions. */
__attribute__((noinline)) static void spin(uint32_t n)
{
    __asm__ volatile("1:\n\t"
                     "subs %0, %0, #1\n\t"
                     "bne 1b\n"
                     : "+r"(n)
                     :
                     : "cc");
}

static uint32_t spin_ticks(uint32_t n)
{
    uint32_t t0 = now();
    spin(n);
    uint32_t t1 = now();
    return ticks(t0, t1);
}

/* Ticks per instruction as a fraction g_num / g_den. */
static uint64_t g_num;
static uint64_t g_den;
/* Instructions two back-to-back reads of the timer count. */
static uint32_t g_overhead;

/* Instructions in t ticks, rounded to the nearest. */
static uint32_t insns(uint32_t t)
{
    return (uint32_t)(((uint64_t)t * g_den + g_num / 2u) / g_num);
}

static bool calibrate(void)
{
    static const uint32_t lengths[] = {1u, 10u, 100u, 1000u, 5000u, 20000u, 50000u, 101000u};
    enum { N = sizeof lengths / sizeof lengths[0] };
    uint32_t t[N];
    for (unsigned i = 0; i < N; i++) {
        t[i] = spin_ticks(lengths[i]);
    }
    /* From the 1,000 and the 101,000 iteration runs: 200,000 instructions. */
    if (t[7] <= t[3]) {
        out("cost: calibration: the timer does not advance with the instructions (run with -icount shift=10)\n");
        return false;
    }
    g_num = t[7] - t[3];
    g_den = 2u * (uint64_t)(lengths[7] - lengths[3]);
    uint32_t base = insns(t[0]) - 2u * lengths[0]; /* the call, the reads */
    bool exact = true;
    for (unsigned i = 0; i < N; i++) {
        uint32_t got = insns(t[i]);
        uint32_t want = 2u * lengths[i] + base;
        if (got != want) {
            exact = false;
            out("cost: calibration: ");
            out_u(lengths[i]);
            out(" iterations: ");
            out_u(got);
            out(" instructions measured, ");
            out_u(want);
            out(" expected\n");
        }
    }
    uint32_t e0 = now();
    uint32_t e1 = now();
    g_overhead = insns(ticks(e0, e1));
    uint32_t milli = (uint32_t)(g_num * 1000u / g_den);
    out("cost: calibration: ");
    out_u(milli / 1000u);
    out(".");
    out_u(milli / 100u % 10u);
    out_u(milli / 10u % 10u);
    out_u(milli % 10u);
    out(" timer ticks per instruction; a 2-instruction loop of 1 to 101000 iterations measured ");
    out(exact ? "exact to the instruction at all 8 lengths" : "INEXACT");
    out("; two back-to-back timer reads: ");
    out_u(g_overhead);
    out(" instructions, subtracted below\n");
    return exact;
}

/* ---- the workload ------------------------------------------------------- */

#define LIVE 64u
#define ROUNDS 1000u
#define COST_HEAP (256u * 1024u)

static uint64_t cost_arena[COST_HEAP / 8u];

static uint32_t g_rng;

static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return g_rng;
}

static uint32_t s_alloc[ROUNDS], s_free[ROUNDS], s_pair[ROUNDS], s_realloc[ROUNDS];

static void sort(uint32_t *v, unsigned n)
{
    for (unsigned gap = n / 2u; gap > 0u; gap /= 2u) {
        for (unsigned i = gap; i < n; i++) {
            uint32_t x = v[i];
            unsigned j = i;
            for (; j >= gap && v[j - gap] > x; j -= gap) {
                v[j] = v[j - gap];
            }
            v[j] = x;
        }
    }
}

static void pad(uint32_t v, unsigned width)
{
    unsigned digits = 1u;
    for (uint32_t x = v; x >= 10u; x /= 10u) {
        digits++;
    }
    for (; digits < width; digits++) {
        out(" ");
    }
    out_u(v);
}

static void report(const char *op, const char *sizes, uint32_t *v)
{
    sort(v, ROUNDS);
    out("cost: ");
    out(op);
    out(sizes);
    pad(v[ROUNDS / 2u], 7u);
    pad(v[ROUNDS / 10u], 7u);
    pad(v[ROUNDS - ROUNDS / 10u], 7u);
    pad(v[0], 7u);
    pad(v[ROUNDS - 1u], 7u);
    out("\n");
}

/* Subtracts the timer reads' own instructions. */
static uint32_t measured(uint32_t t0, uint32_t t1)
{
    uint32_t n = insns(ticks(t0, t1));
    return n > g_overhead ? n - g_overhead : 0u;
}

/* A steady state of LIVE blocks of lo..hi bytes on a 256 KiB heap: ROUNDS
 * times a random live block is freed and a new one allocated (each call
 * timed, and the pair as one), then ROUNDS reallocs of a random live block
 * to a random size of the range (grow or shrink, in place or moved). */
static bool workload(const char *sizes, uint32_t lo, uint32_t hi)
{
    g_rng = 0x9E3779B9u;
    mem_ctx_t c = mem_init(cost_arena, sizeof cost_arena);
    void *live[LIVE];
    bool ok = c != NULL;
    for (unsigned k = 0; k < LIVE && ok; k++) {
        live[k] = mem_alloc(c, lo + rnd() % (hi - lo + 1u));
        ok = live[k] != NULL;
    }
    for (unsigned i = 0; i < ROUNDS && ok; i++) {
        unsigned k = rnd() % LIVE;
        size_t n = lo + rnd() % (hi - lo + 1u);
        uint32_t t0 = now();
        mem_free(c, live[k]);
        uint32_t t1 = now();
        live[k] = mem_alloc(c, n);
        uint32_t t2 = now();
        s_free[i] = measured(t0, t1);
        s_alloc[i] = measured(t1, t2);
        s_pair[i] = measured(t0, t2);
        ok = live[k] != NULL;
    }
    for (unsigned i = 0; i < ROUNDS && ok; i++) {
        unsigned k = rnd() % LIVE;
        size_t n = lo + rnd() % (hi - lo + 1u);
        uint32_t t0 = now();
        void *p = mem_realloc(c, live[k], n);
        uint32_t t1 = now();
        s_realloc[i] = measured(t0, t1);
        ok = p != NULL;
        live[k] = p;
    }
    ok = ok && mem_check(c);
    if (!ok) {
        out("cost: the workload failed (an allocation answered NULL or mem_check failed)\n");
        return false;
    }
    report("mem_alloc       ", sizes, s_alloc);
    report("mem_free        ", sizes, s_free);
    report("free+alloc pair ", sizes, s_pair);
    report("mem_realloc     ", sizes, s_realloc);
    return true;
}

/* The same call on the same heap state, measured again: icount is
 * deterministic, so the counts must be equal. */
static bool repeatable(void)
{
    uint32_t first = 0u;
    bool same = true;
    for (unsigned i = 0; i < 5u; i++) {
        mem_ctx_t c = mem_init(cost_arena, 4096);
        void *a = mem_alloc(c, 100);
        uint32_t t0 = now();
        void *p = mem_alloc(c, 24);
        mem_free(c, p);
        uint32_t t1 = now();
        mem_free(c, a);
        uint32_t n = measured(t0, t1);
        if (i == 0u) {
            first = n;
        }
        same = same && n == first && n > 0u;
    }
    out("cost: repeatability: one alloc+free pair on the same fresh heap, 5 times: ");
    out_u(first);
    out(same ? " instructions every time\n" : " instructions the first time, then OTHER counts\n");
    return same;
}

/* -append pair: one alloc+free pair, between two calls of an out-of-line
 * timer read, for the cross-check against QEMU's own instruction trace
 * (tests/cortex-m/run --cross-check: under -singlestep -d exec,nochain
 * every instruction executed is a line of the log, and the lines from one
 * execution of read_timer's load to the next must number what SysTick
 * says). */
__attribute__((noinline)) uint32_t cost_read_timer(void)
{
    return SYST_CVR;
}

int cost_pair_main(void)
{
    systick_start();
    if (!calibrate()) {
        return 1;
    }
    mem_ctx_t c = mem_init(cost_arena, 4096);
    void *a = mem_alloc(c, 100);
    uint32_t t0 = cost_read_timer();
    void *p = mem_alloc(c, 24);
    mem_free(c, p);
    uint32_t t1 = cost_read_timer();
    mem_free(c, a);
    out("cost pair: ");
    out_u(insns(ticks(t0, t1)));
    out(" instructions from one timer read to the next (alloc+free pair, hardening=" LEVEL_NAME ")\n");
    return 0;
}

int cost_main(void)
{
    out("cost: hardening=" LEVEL_NAME "; instructions per call as QEMU's TCG counts them (-icount), not cycles\n");
    systick_start();
    bool ok = calibrate() && repeatable();
    if (ok) {
        out("cost: ");
        out(LIVE == 64u ? "64 live blocks, 256 KiB heap, 1000 calls each;" : "");
        out(" columns: median, p10, p90, min, max\n");
        ok = workload("small   8-64 B  ", 8u, 64u) && workload("large 512-4096 B", 512u, 4096u);
    }
    out(ok ? "cost: done\n" : "cost: FAILED\n");
    return ok ? 0 : 1;
}
