/* The registry of fuzz targets, for the tools that take a target name. */

#include <string.h>

#include "target.h"

static const fuzz_target_t *const all[] = {&fuzz_target_alloc, &fuzz_target_wrappers, &fuzz_target_corrupt};

const fuzz_target_t *fuzz_target_at(size_t i)
{
    return i < sizeof all / sizeof all[0] ? all[i] : NULL;
}

const fuzz_target_t *fuzz_find_target(const char *name)
{
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(all[i]->table.name, name) == 0) {
            return all[i];
        }
    }
    return NULL;
}
