/*
 * examples/records/fuzz_records.c: the libFuzzer harness of the records
 * module (records.h) on hardalloc, the shape docs/FUZZING.md "Fuzzing your
 * own app" describes. fuzz/campaign runs it (fuzz/apps.list); linked with
 * fuzz/afl_driver.c instead of libFuzzer it runs files once (the tests'
 * records_replay).
 *
 * Each input runs on a fresh app heap in a static buffer; a fault goes to a
 * handler that prints it, with where the block was allocated in a profiling
 * build, and aborts, so libFuzzer saves the input as a crash. Nothing here
 * needs a sanitizer: hardalloc's tail canary finds a write past a block in
 * any build, with or without ASan (examples/records/meson.build builds both).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "app_mem_utils.h"
#include "mem_testing.h"
#include "records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void records_fuzz_heap(mem_fault_handler_t handler);

/* The app heap's buffer, 8-aligned. */
static uint64_t g_heap[32768 / sizeof(uint64_t)];

static void discard_line(void *user, const char *line, size_t len)
{
    (void)user;
    (void)line;
    (void)len;
}

/* The default handler's line, naming where the block was allocated (and
 * first freed), then abort(): libFuzzer saves the input as a crash. */
static void report_and_abort(mem_ctx_t ctx, mem_fault_t fault, const void *addr, void *user)
{
    (void)user;
    char note[300] = "";
    mem_utils_site_t alloc;
    mem_utils_site_t freed;
    if (mem_utils_fault_sites(addr, &alloc, &freed) && alloc.file != NULL) {
        char first_free[150] = "";
        if (freed.file != NULL) {
            (void)snprintf(first_free, sizeof first_free, ", first freed at %s:%d", freed.file, freed.line);
        }
        (void)snprintf(note, sizeof note, " (allocated at %s:%d%s)", alloc.file, alloc.line, first_free);
    }
    mem_default_fault(ctx, fault, addr, note);
}

/* A fresh app heap for one input, keyed the same on every run (the pinned
 * secret: a crash replays bit for bit), its faults going to handler and its
 * profiling log nowhere. The tests call it too. */
void records_fuzz_heap(mem_fault_handler_t handler)
{
    mem_testing_pin_secret(UINT64_C(0x7265636f726473)); /* "records" */
    mem_utils_set_log_sink(discard_line, NULL);
    if (!mem_utils_init(g_heap, sizeof g_heap) || !mem_utils_set_fault_handler(handler, NULL)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    records_fuzz_heap(report_and_abort);
    records_t *list = records_parse(data, size);
    (void)records_find(list, "mode");
    records_free(list);
    /* The module's own contract: nothing stays allocated. */
    mem_ctx_t ctx = mem_utils_context();
    mem_stat_t st;
    mem_stat(&ctx, &st);
    if (st.nb_allocated != 0u) {
        fprintf(stderr, "fuzz_records: %u blocks leaked\n", (unsigned)st.nb_allocated);
        abort();
    }
    return 0;
}
