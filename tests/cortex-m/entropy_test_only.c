/*
 * TEST ONLY -- NOT A SOURCE OF ENTROPY. Never copy this into firmware.
 *
 * The hardalloc_entropy hook the library calls once for its secret
 * (mem_alloc.h), for the self-test image: a deterministic sequence
 * (splitmix64 of a fixed seed and a call counter), so that every run of the
 * image is the same run. Real firmware fills buf from its TRNG and answers
 * false when the TRNG fails (mem_init then answers NULL). The self-test can
 * make the hook fail, to check that mem_init then refuses.
 */

#include "board.h"

#include "mem_alloc.h"

unsigned g_entropy_calls;
bool g_entropy_fail;

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t x = (*state += UINT64_C(0x9E3779B97F4A7C15));
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

bool hardalloc_entropy(void *buf, size_t len)
{
    g_entropy_calls++;
    if (g_entropy_fail) {
        return false;
    }
    uint64_t state = UINT64_C(0x7E57000000000000) + g_entropy_calls; /* "TEST" */
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        if (i % 8u == 0u) {
            uint64_t w = splitmix64(&state);
            for (size_t j = 0; j < 8u && i + j < len; j++) {
                p[i + j] = (uint8_t)(w >> (8u * j));
            }
        }
    }
    return true;
}
