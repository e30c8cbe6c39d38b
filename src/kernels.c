/*
 * gradcore kernels: instantiates kernels_impl.h for double and float.
 * See kernels.h for the contract of every public function.
 */
#include "kernels.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Examples processed together through the layers: big enough to amortise the loops over
 * the weights, small enough that a chunk's activations stay in the L1/L2 cache. */
#define GC_CHUNK 64

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

/*
 * The blocked kernels are written with the GCC/Clang vector extensions (vector_size types,
 * arithmetic and comparisons on them, __builtin_convertvector: GCC >= 9, Clang >= 3.7). A
 * compiler without them (MSVC, older GCC) builds the naive kernels only: every level, the
 * portable one included, then runs the plain loops, which are correct but several times
 * slower. Define GC_NO_VECTOR_EXT to get that build from GCC or Clang (the tests do).
 */
#if !defined(GC_NO_VECTOR_EXT) &&                                                           \
    ((defined(__clang__) && __clang_major__ >= 4) || (defined(__GNUC__) && __GNUC__ >= 9))
#define GC_VECTOR_EXT 1
#endif

/*
 * The kernels are compiled once per floating type and instruction-set level:
 *   GC_LEVEL_PORTABLE  the build's default target (x86-64 with SSE2, aarch64 with NEON, ...)
 *   GC_LEVEL_AVX2      x86-64-v3 (AVX2 + FMA), 256-bit vectors
 *   GC_LEVEL_AVX512    x86-64-v4 (AVX-512), 512-bit vectors
 * The two x86 levels are built only with GCC on x86-64 (Define GC_NO_DISPATCH to turn
 * them off); the public functions below pick the best level the running CPU supports, once.
 */
#if !defined(GC_NO_DISPATCH) && defined(GC_VECTOR_EXT) && defined(__x86_64__) &&            \
    defined(__GNUC__) && !defined(__clang__)
#define GC_X86_LEVELS 1
#endif

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
    void *p = malloc((size_t)count * size ? (size_t)count * size : 1);
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

/* Upper bound on threads used by one call (per-thread results live on the stack). */
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

/* Threads for a job of n_chunks equal chunks: no more threads than chunks. */
static int gc_threads_for(int64_t n_chunks)
{
    int n = gc_get_num_threads();
    return n_chunks < n ? (int)(n_chunks < 1 ? 1 : n_chunks) : n;
}

#define GC_CAT3_(a, b, c) a##_##b##_##c
#define GC_CAT3(a, b, c) GC_CAT3_(a, b, c)
#define FN(name) GC_CAT3(name, GC_SFX, GC_ISA)

/* ---- portable level */
#define GC_ISA portable
#define GC_VBYTES 16
#include "kernels_types.h"
#undef GC_ISA
#undef GC_VBYTES

#ifdef GC_X86_LEVELS
/* ---- x86-64-v3: AVX2 + FMA */
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
#define GC_ISA avx2
#define GC_VBYTES 32
#include "kernels_types.h"
#undef GC_ISA
#undef GC_VBYTES
#pragma GCC pop_options

/* ---- x86-64-v4: AVX-512 */
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
#define GC_ISA avx512
#define GC_VBYTES 64
#include "kernels_types.h"
#undef GC_ISA
#undef GC_VBYTES
#pragma GCC pop_options
#endif

/* ---------------------------------------------------------------- level selection */

static int gc_best_level(void)
{
#ifdef GC_X86_LEVELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return GC_LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi2"))
        return GC_LEVEL_AVX2;
#endif
    return GC_LEVEL_PORTABLE;
}

static volatile int gc_level = -1; /* -1: not chosen yet */

int gc_kernel_level(void)
{
    if (gc_level < 0) gc_level = gc_best_level(); /* a benign race: every thread writes the same */
    return gc_level;
}

gc_status gc_set_kernel_level(int level)
{
    if (level < 0) {
        gc_level = gc_best_level();
        return GC_OK;
    }
    if (level > gc_best_level()) return GC_ERR_ARGUMENT;
    gc_level = level;
    return GC_OK;
}

/* ---------------------------------------------------------------- public entry points */

#ifdef GC_X86_LEVELS
#define GC_DISPATCH(name, sfx, ...)                                                          \
    do {                                                                                     \
        const int lv = gc_kernel_level(), naive = lv == GC_LEVEL_NAIVE;                      \
        if (lv == GC_LEVEL_AVX512) return name##_##sfx##_avx512(__VA_ARGS__, naive);         \
        if (lv == GC_LEVEL_AVX2) return name##_##sfx##_avx2(__VA_ARGS__, naive);             \
        return name##_##sfx##_portable(__VA_ARGS__, naive);                                  \
    } while (0)
#else
#define GC_DISPATCH(name, sfx, ...)                                                          \
    do {                                                                                     \
        const int naive = gc_kernel_level() == GC_LEVEL_NAIVE;                               \
        return name##_##sfx##_portable(__VA_ARGS__, naive);                                  \
    } while (0)
#endif

gc_status gc_feedforward_f64(double *z_out, double *a_out, const gc_arch *arch,
                             const double *params, const double *X, int64_t n)
{
    GC_DISPATCH(feedforward, f64, z_out, a_out, arch, params, X, n);
}

gc_status gc_feedforward_f32(float *z_out, float *a_out, const gc_arch *arch,
                             const float *params, const float *X, int64_t n)
{
    GC_DISPATCH(feedforward, f32, z_out, a_out, arch, params, X, n);
}

gc_status gc_gradient_f64(double *grad, double *cost_sum, const gc_arch *arch,
                          const double *params, const double *X, const double *Y, int64_t n,
                          gc_stop_flag *stop)
{
    GC_DISPATCH(gradient, f64, grad, cost_sum, arch, params, X, Y, n, stop);
}

gc_status gc_gradient_f32(float *grad, double *cost_sum, const gc_arch *arch,
                          const float *params, const float *X, const float *Y, int64_t n,
                          gc_stop_flag *stop)
{
    GC_DISPATCH(gradient, f32, grad, cost_sum, arch, params, X, Y, n, stop);
}

gc_status gc_sgd_epoch_f64(double *params, double *speed_sum, double *cost_sum,
                           int64_t *batches_done, const gc_arch *arch, const double *X,
                           const double *Y, const int64_t *perm, int64_t n_perm,
                           int64_t n_train, int64_t m, double eta, double lmbda,
                           int64_t max_batches, gc_stop_flag *stop)
{
    GC_DISPATCH(sgd_epoch, f64, params, speed_sum, cost_sum, batches_done, arch, X, Y, perm,
                n_perm, n_train, m, eta, lmbda, max_batches, stop);
}

gc_status gc_sgd_epoch_f32(float *params, double *speed_sum, double *cost_sum,
                           int64_t *batches_done, const gc_arch *arch, const float *X,
                           const float *Y, const int64_t *perm, int64_t n_perm,
                           int64_t n_train, int64_t m, double eta, double lmbda,
                           int64_t max_batches, gc_stop_flag *stop)
{
    GC_DISPATCH(sgd_epoch, f32, params, speed_sum, cost_sum, batches_done, arch, X, Y, perm,
                n_perm, n_train, m, eta, lmbda, max_batches, stop);
}
