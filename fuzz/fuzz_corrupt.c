/* libFuzzer / AFL++ entry point of fuzz_corrupt. */
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_run(&fuzz_target_corrupt, data, size, NULL);
    return 0;
}
