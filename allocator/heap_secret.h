/*
 * The library's secret and each heap's key. Not installed.
 *
 * Threat model (README "Threat model"): an attacker may read and write any
 * byte of an arena, context included, but not the library's static data.
 * So the key material lives here, in static storage, drawn once from the
 * platform's entropy source; an arena holds only its heap's nonce, which is
 * public. A heap's key is recomputed on every call from the secret, the
 * nonce and the heap's address: nothing in the arena lets anyone compute a
 * checksum without the secret, and a nonce drawn afresh by every mem_init
 * makes whatever was signed under an earlier init of the same buffer fail
 * to verify under the new one.
 */

#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The library's secret: two 64-bit words, all zero until heap_secret_ready
 * has drawn them. [0] masks every heap's key; [1], odd, is the multiplier of
 * every header checksum. Hidden: read by the inline key derivation and
 * checksums, never written outside heap_secret.c. */
extern uint64_t heap_lib_secret[2] __attribute__((visibility("hidden")));

/* Draws the secret on first use (true when it is there). False when the
 * entropy source failed: mem_init then makes no heap rather than use a
 * guessable key. The first call must not race with another mem_init. */
bool heap_secret_ready(void);

/* A fresh nonce for a heap made with seed: never the same twice in a
 * process (an init counter is mixed in). Public: the key's secrecy comes
 * from heap_key_of. */
uint64_t heap_new_nonce(uint64_t seed);

/* The key of the heap at base whose context holds nonce: the nonce and the
 * address under the secret mask. Two instructions, so that every call can
 * afford it; no multiply here because the checksums multiply by a secret of
 * their own (heap_internal.h). Keys of two heaps, or of two inits of one
 * buffer, differ by a public but never-repeating difference (the nonces
 * are unique), so nothing signed under one verifies under the other. */
static inline uint64_t heap_key_of(uint64_t nonce, uintptr_t base)
{
    return nonce ^ (uint64_t)base ^ heap_lib_secret[0];
}
