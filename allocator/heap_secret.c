/*
 * The library's secret: drawn once from the platform's entropy source into
 * static storage, where an attacker who owns an arena cannot read it
 * (heap_secret.h). There is deliberately no fallback to a constant: a
 * platform without getrandom/getentropy must provide hardalloc_entropy()
 * (mem_alloc.h) and build with HARDALLOC_ENTROPY_HOOK, or the build fails.
 */

#include "heap_secret.h"
#include "heap_internal.h"

#include "mem_alloc.h"
#include "mem_testing.h"

#include <stddef.h>

#if defined(HARDALLOC_ENTROPY_HOOK)
static bool draw(void *buf, size_t len)
{
    return hardalloc_entropy(buf, len);
}
#elif defined(__linux__)
#include <sys/random.h>
static bool draw(void *buf, size_t len)
{
    /* 16 bytes never come back short from getrandom (<= 256 bytes are
     * atomic); it blocks only until the kernel's pool is first seeded. */
    return getrandom(buf, len, 0) == (ssize_t)len;
}
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
#include <unistd.h>
static bool draw(void *buf, size_t len)
{
    return getentropy(buf, len) == 0;
}
#else
#error "hardalloc: no entropy source known for this platform. Build with -DHARDALLOC_ENTROPY_HOOK and define bool hardalloc_entropy(void *buf, size_t len) (mem_alloc.h), e.g. from the TRNG."
#endif

uint64_t heap_lib_secret[2];
static bool g_ready;
/* Inits so far: mixed into every nonce, so that no two inits of a process
 * share one, even at the same address with the same seed. */
static uint64_t g_inits;

bool heap_secret_ready(void)
{
    /* An all-zero draw is a failed source (a hook that returns without
     * writing), not a secret. */
    if (!g_ready && draw(heap_lib_secret, sizeof heap_lib_secret) && (heap_lib_secret[0] | heap_lib_secret[1]) != 0u) {
        heap_lib_secret[1] |= 1u; /* a multiplier: odd, so that it loses no bit */
        g_ready = true;
    }
    return g_ready;
}

uint64_t heap_new_nonce(uint64_t seed)
{
    /* The nonce is public (it sits in the context), so it is made of public
     * things only: a bijective mix of the secret here would hand the secret
     * to whoever reads it; the key's secrecy comes from heap_key_of's mask,
     * and the address from heap_key_of too. It only has to differ from every
     * earlier init's: the counter sees to that, for any seeds but ones chosen
     * to cancel it. The counter is multiplied by an odd constant (a
     * bijection, so still unique) before the seed joins, so that two inits
     * differ in many bits, never in the few low ones that seeds like 1 and 2
     * differ in. */
    return ++g_inits * UINT64_C(0x9E3779B97F4A7C15) ^ seed;
}

#ifdef __OPTIMIZE_SIZE__
uint32_t heap_header_check(uint64_t key, uint32_t off, uint32_t len_flags, uint32_t slack)
{
    return header_check_inline(key, off, len_flags, slack);
}

uint32_t heap_ctx_check(const uint8_t *b, uint64_t key)
{
    return ctx_check_inline(b, key);
}
#endif

#ifdef HARDALLOC_TESTING
static uint64_t splitmix64(uint64_t x)
{
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

void mem_testing_pin_secret(uint64_t secret)
{
    heap_lib_secret[0] = splitmix64(secret);
    heap_lib_secret[1] = splitmix64(secret ^ UINT64_C(0x5EC2E7)) | 1u;
    g_inits = 0u;
    g_ready = true;
}
#endif
