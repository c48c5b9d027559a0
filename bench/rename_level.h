/**
 * @file rename_level.h
 * @brief Force-included (`-include`) into every file of one per-level copy of
 *        the allocator and the wrappers built for bench/gbench: renames each
 *        external symbol to GBENCH_PREFIX<name> (GBENCH_PREFIX is
 *        hardalloc_off_, hardalloc_standard_ or hardalloc_paranoid_), so the
 *        three hardening levels link into one binary. The list is every
 *        global symbol `nm` shows for the allocator and wrapper sources at any
 *        level; the meson test `gbench_symbols` fails if gbench still
 *        defines an unprefixed mem_* / heap_* symbol.
 */

#pragma once

#ifndef GBENCH_PREFIX
#error "rename_level.h needs -DGBENCH_PREFIX=<prefix>"
#endif

#define GBENCH_CAT2(a, b) a##b
#define GBENCH_CAT(a, b) GBENCH_CAT2(a, b)
#define GBENCH_SYM(name) GBENCH_CAT(GBENCH_PREFIX, name)

/* allocator/: mem_alloc.c, mem_check.c, heap_validate.c, mem_fault.c,
 * mem_settings.c, mem_walk.c, heap_secret.c, heap_registry.c */
#define mem_init GBENCH_SYM(mem_init)
#define mem_init_secure GBENCH_SYM(mem_init_secure)
#define mem_alloc GBENCH_SYM(mem_alloc)
#define mem_free GBENCH_SYM(mem_free)
#define mem_realloc GBENCH_SYM(mem_realloc)
#define mem_usable_size GBENCH_SYM(mem_usable_size)
#define mem_parse GBENCH_SYM(mem_parse)
#define mem_stat GBENCH_SYM(mem_stat)
#define mem_check GBENCH_SYM(mem_check)
#define mem_set_fault_handler GBENCH_SYM(mem_set_fault_handler)
#define mem_last_fault GBENCH_SYM(mem_last_fault)
#define mem_fault_name GBENCH_SYM(mem_fault_name)
#define mem_default_fault GBENCH_SYM(mem_default_fault)
#define mem_set_check_interval GBENCH_SYM(mem_set_check_interval)
#define heap_fault GBENCH_SYM(heap_fault)
#define heap_refuse GBENCH_SYM(heap_refuse)
#define heap_failed_fault GBENCH_SYM(heap_failed_fault)
#define heap_validate GBENCH_SYM(heap_validate)
#define heap_classify GBENCH_SYM(heap_classify)
#define heap_quick_flush GBENCH_SYM(heap_quick_flush)
#define heap_tick GBENCH_SYM(heap_tick)
#define heap_fail GBENCH_SYM(heap_fail)
#define heap_recognize GBENCH_SYM(heap_recognize)
#define heap_refuse_unknown GBENCH_SYM(heap_refuse_unknown)
#define heap_lib_secret GBENCH_SYM(heap_lib_secret)
#define heap_secret_ready GBENCH_SYM(heap_secret_ready)
#define heap_new_nonce GBENCH_SYM(heap_new_nonce)
#define heap_header_check GBENCH_SYM(heap_header_check)
#define heap_ctx_check GBENCH_SYM(heap_ctx_check)
#define heap_registry_add GBENCH_SYM(heap_registry_add)
#define heap_registry_has GBENCH_SYM(heap_registry_has)
#define heap_registry_set_handler GBENCH_SYM(heap_registry_set_handler)
#define heap_registry_handler GBENCH_SYM(heap_registry_handler)
#define mem_testing_pin_secret GBENCH_SYM(mem_testing_pin_secret)

/* wrappers/app_mem_utils.c (mp_log.c defines nothing without profiling;
 * mp_log.h then makes its functions macros, so they are renamed only in a
 * profiling build, which gbench_shim.c refuses anyway) */
#define mem_utils_init GBENCH_SYM(mem_utils_init)
#define mem_utils_set_fault_handler GBENCH_SYM(mem_utils_set_fault_handler)
#define mem_utils_context GBENCH_SYM(mem_utils_context)
#define mem_utils_alloc GBENCH_SYM(mem_utils_alloc)
#define mem_utils_realloc GBENCH_SYM(mem_utils_realloc)
#define mem_utils_free GBENCH_SYM(mem_utils_free)
#define mem_utils_free_and_null GBENCH_SYM(mem_utils_free_and_null)
#define mem_utils_strdup GBENCH_SYM(mem_utils_strdup)
#define mem_utils_calloc GBENCH_SYM(mem_utils_calloc)
#define mem_utils_set_log_sink GBENCH_SYM(mem_utils_set_log_sink)
#ifdef HAVE_MEMORY_PROFILING
#define mp_log_init GBENCH_SYM(mp_log_init)
#define mp_log_alloc GBENCH_SYM(mp_log_alloc)
#define mp_log_free GBENCH_SYM(mp_log_free)
#define mp_log_set_sink GBENCH_SYM(mp_log_set_sink)
#endif
