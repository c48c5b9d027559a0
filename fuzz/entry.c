/* libFuzzer / AFL++ entry point of every fuzz target: the build names the
 * target (-DFUZZ_TARGET="fuzz_<name>", fuzz/targets.list) and it is looked up
 * in the registry once, so a target needs no main of its own. */
#include "target.h"

#ifndef FUZZ_TARGET
#error "build entry.c with -DFUZZ_TARGET=\"<target name>\" (fuzz/meson.build does)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_target_t *target;
    if (target == NULL) {
        target = fuzz_find_target(FUZZ_TARGET);
        if (target == NULL) {
            fuzz_fail("harness", "no fuzz target named '%s' in fuzz/targets.c", FUZZ_TARGET);
        }
    }
    fuzz_run(target, data, size, NULL);
    return 0;
}
