/**
 * @file level_name.h
 * @brief LEVEL_NAME: the hardening level a test was built at (MEM_HARDENING,
 *        from the build), as its output names it. Shared by the attack tests
 *        (attacks/attack_util.h) and the Cortex-M self-test (cortex-m/board.h).
 */

#pragma once

#if MEM_HARDENING == 0
#define LEVEL_NAME "off"
#elif MEM_HARDENING == 1
#define LEVEL_NAME "standard"
#else
#define LEVEL_NAME "paranoid"
#endif
