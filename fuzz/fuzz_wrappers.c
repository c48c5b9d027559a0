/* libFuzzer / AFL++ entry point of fuzz_wrappers. */
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_run(&fuzz_target_wrappers, data, size, NULL);
    return 0;
}
