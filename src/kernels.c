/*
 * The type-independent part of gradcore's C core: architecture checks, the one allocator
 * of the kernels and the thread settings. See kernels.h for the contract of every public
 * function; network.c has the entry points that run networks, dispatch.c the kernel level.
 */
#include "kernels.h"

#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal.h"

gc_status gc_arch_check(const gc_arch *arch)
{
    if (!arch || arch->n_layers < 1 || !arch->sizes) return GC_ERR_ARGUMENT;
    for (int l = 0; l <= arch->n_layers; l++)
        if (arch->sizes[l] < 1) return GC_ERR_ARGUMENT;
    if (arch->cost != GC_COST_CROSS_ENTROPY && arch->cost != GC_COST_QUADRATIC)
        return GC_ERR_ARGUMENT;
    if (gc_param_count(arch) < 0) return GC_ERR_ARGUMENT; /* more than an int64 counts */
    return GC_OK;
}

int64_t gc_param_count(const gc_arch *arch)
{
    int64_t n = 0;
    for (int l = 0; l < arch->n_layers; l++)
        n = gc_count(arch->sizes[l + 1], (int64_t)arch->sizes[l] + 1, n);
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

/* ---------------------------------------------------------------- threads */

/* Upper bound on the threads of one call. */
#define GC_MAX_THREADS 256

static volatile int gc_threads = 0; /* 0: the OpenMP default (OMP_NUM_THREADS or all cores) */

#if defined(__GNUC__) || defined(__clang__)
#define GC_THREAD_LOCAL __thread
#elif defined(_MSC_VER)
#define GC_THREAD_LOCAL __declspec(thread)
#else
#define GC_THREAD_LOCAL _Thread_local
#endif
/* Limit for the calls made from this thread (0: none), e.g. one thread per job. */
static GC_THREAD_LOCAL int gc_thread_limit = 0;

gc_status gc_set_thread_limit(int n)
{
    if (n < 0) return GC_ERR_ARGUMENT;
    gc_thread_limit = n;
    return GC_OK;
}

int gc_get_thread_limit(void) { return gc_thread_limit; }

gc_status gc_set_num_threads(int n)
{
    if (n < 0) return GC_ERR_ARGUMENT;
    gc_threads = n > GC_MAX_THREADS ? GC_MAX_THREADS : n;
    return GC_OK;
}

int gc_get_num_threads(void)
{
#ifdef _OPENMP
    int n = gc_threads > 0 ? gc_threads : omp_get_max_threads();
    if (gc_thread_limit > 0 && n > gc_thread_limit) n = gc_thread_limit;
    return n < 1 ? 1 : n > GC_MAX_THREADS ? GC_MAX_THREADS : n;
#else
    return 1;
#endif
}

int gc_threads_for(int64_t n_chunks)
{
    int n = gc_get_num_threads();
    return n_chunks < n ? (int)(n_chunks < 1 ? 1 : n_chunks) : n;
}
