/*
 * The type-independent part of gradcore's C core: architecture checks and the one
 * allocator of the kernels. See kernels.h for the contract of every public function;
 * network.c has the entry points that run networks, dispatch.c the kernel level, pool.c
 * the threads.
 */
#include "kernels.h"

#include <stdlib.h>

#include "internal.h"

gc_status gc_arch_check(const gc_arch *arch)
{
    if (!arch || arch->n_layers < 1 || !arch->sizes) return GC_ERR_ARGUMENT;
    for (int l = 0; l <= arch->n_layers; l++)
        if (arch->sizes[l] < 1) return GC_ERR_ARGUMENT;
    for (int l = 0; l < arch->n_layers - 1; l++) { /* hidden layers: any but softmax */
        const int act = gc_arch_act(arch, l);
        if (act < 0 || act >= GC_N_ACTS || act == GC_ACT_SOFTMAX) return GC_ERR_ARGUMENT;
    }
    const int out = gc_arch_act(arch, arch->n_layers - 1);
    if (out == GC_ACT_SIGMOID) {
        if (arch->cost != GC_COST_CROSS_ENTROPY && arch->cost != GC_COST_QUADRATIC)
            return GC_ERR_ARGUMENT;
    } else if (out != GC_ACT_SOFTMAX || arch->cost != GC_COST_LOG_LIKELIHOOD) {
        return GC_ERR_ARGUMENT;
    }
    if (gc_param_count(arch) < 0) return GC_ERR_ARGUMENT; /* more than an int64 counts */
    return GC_OK;
}

int64_t gc_param_count(const gc_arch *arch)
{
    int64_t n = 0;
    for (int l = 0; l < arch->n_layers; l++)
        n = gc_count(arch->sizes[l + 1], (int64_t)arch->sizes[l] + 1, n);
    for (int l = 0; l < arch->n_layers - 1; l++) /* the PReLU slopes */
        if (gc_arch_act(arch, l) == GC_ACT_PRELU) n = gc_count(1, arch->sizes[l + 1], n);
    return n;
}

/* ---------------------------------------------------------------- memory */

#if defined(__GNUC__) || defined(__clang__)
#define GC_ATOMIC_ADD(p, v) __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST)
#define GC_ATOMIC_SWAP(p, v) __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST)
#else /* other compilers: the tests that use the counters run one call at a time */
static int64_t gc_add(int64_t *p, int64_t v) { return *p += v; }
static int64_t gc_swap(int64_t *p, int64_t v) { int64_t old = *p; *p = v; return old; }
#define GC_ATOMIC_ADD(p, v) gc_add(p, v)
#define GC_ATOMIC_SWAP(p, v) gc_swap(p, v)
#endif

static int64_t alloc_countdown = 0; /* > 0: the allocation that brings it to 0 fails */
static int64_t alloc_live = 0;

void *gc_alloc(int64_t count, size_t size)
{
    if (count < 0 || (size && (uint64_t)count > SIZE_MAX / size)) return NULL;
    if (GC_ATOMIC_ADD(&alloc_countdown, 0) > 0 && GC_ATOMIC_ADD(&alloc_countdown, -1) == 0)
        return NULL;
    const size_t bytes = (size_t)count * size;
    void *p = malloc(bytes ? bytes : 1);
    if (p) GC_ATOMIC_ADD(&alloc_live, 1);
    return p;
}

void gc_free(void *p)
{
    if (!p) return;
    GC_ATOMIC_ADD(&alloc_live, -1);
    free(p);
}

int64_t gc_alloc_fail_after(int64_t k)
{
    const int64_t left = GC_ATOMIC_SWAP(&alloc_countdown, k > 0 ? k : 0);
    return left > 0 ? left : 0;
}

int64_t gc_alloc_live(void) { return GC_ATOMIC_ADD(&alloc_live, 0); }
