/*
 * Which kernel level runs: by default the best one that both this build and the CPU have.
 *
 * The build compiles the layer kernels once per level (layers.c) and says how many levels
 * it compiled in GC_LEVELS_BUILT: 1 (naive only: a compiler without the GCC/Clang vector
 * extensions), 2 (+ portable), or 4 (+ avx2 and avx512 on x86-64). network.c takes the
 * table of the level gc_kernel_level() returns.
 */
#include "kernels.h"

#ifndef GC_LEVELS_BUILT
#error "GC_LEVELS_BUILT: the number of kernel levels the build compiled (cmake/kernels.cmake)"
#endif

/* The best level this build and the running CPU have. The x86 levels are compiled for
 * x86-64-v3 (AVX2, FMA, BMI2, ...) and x86-64-v4 (AVX-512 F, DQ, BW, VL). */
static int best_level(void)
{
#if GC_LEVELS_BUILT == 4 /* the x86 levels (GC_LEVEL_* are not macros: #if cannot see them) */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return GC_LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi2"))
        return GC_LEVEL_AVX2;
#endif
    return GC_LEVELS_BUILT > GC_LEVEL_PORTABLE ? GC_LEVEL_PORTABLE : GC_LEVEL_NAIVE;
}

static volatile int level_in_use = -1; /* -1: not chosen yet */

int gc_kernel_level(void)
{
    if (level_in_use < 0) level_in_use = best_level(); /* a benign race: all write the same */
    return level_in_use;
}

gc_status gc_set_kernel_level(int level)
{
    if (level < 0) {
        level_in_use = best_level();
        return GC_OK;
    }
    if (level > best_level()) return GC_ERR_ARGUMENT;
    level_in_use = level;
    return GC_OK;
}
