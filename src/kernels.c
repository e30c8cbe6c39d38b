/*
 * gradcore kernels: instantiates kernels_impl.h for double and float.
 * See kernels.h for the contract of every public function.
 */
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Examples processed together through the layers: big enough to amortise the loops over
 * the weights, small enough that a chunk's activations stay in the L1/L2 cache. */
#define GC_CHUNK 64

/*
 * Hot kernels get extra clones for AVX2+FMA and AVX-512 on x86-64 Linux with GCC, picked
 * once at load time from what the CPU supports (the default clone is plain x86-64, so the
 * same binary runs on any x86-64). Elsewhere (aarch64, clang, other systems) the portable
 * code is compiled for the build's default target. Define GC_NO_CLONES to turn this off.
 */
#if !defined(GC_NO_CLONES) && defined(__x86_64__) && defined(__GNUC__) && \
    !defined(__clang__) && defined(__linux__) && defined(__GLIBC__)
#define GC_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GC_HOT
#endif

gc_status gc_arch_check(const gc_arch *arch)
{
    if (!arch || arch->n_layers < 1 || !arch->sizes) return GC_ERR_ARGUMENT;
    for (int l = 0; l <= arch->n_layers; l++)
        if (arch->sizes[l] < 1) return GC_ERR_ARGUMENT;
    if (arch->cost != GC_COST_CROSS_ENTROPY && arch->cost != GC_COST_QUADRATIC)
        return GC_ERR_ARGUMENT;
    return GC_OK;
}

int64_t gc_param_count(const gc_arch *arch)
{
    int64_t n = 0;
    for (int l = 0; l < arch->n_layers; l++)
        n += (int64_t)arch->sizes[l + 1] * (arch->sizes[l] + 1);
    return n;
}

#define REAL double
#define FN(name) name##_f64
#define EXP exp
#include "kernels_impl.h"
#undef REAL
#undef FN
#undef EXP

#define REAL float
#define FN(name) name##_f32
#define EXP expf
#include "kernels_impl.h"
#undef REAL
#undef FN
#undef EXP
