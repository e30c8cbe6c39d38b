/*
 * Stand-alone check of the C kernels, without Python: the blocked kernels at every level this
 * CPU and build offer must agree with the naive ones on an SGD epoch. Used to check builds
 * for other CPUs under emulation (tools/check_aarch64.sh).
 *
 *   cc -O2 -fopenmp-simd -Isrc tools/kernel_selfcheck.c src/kernels.c -lm && ./a.out
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static double urand(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* max |a - b| / max |b| */
static double relerr(const double *a, const double *b, int64_t n)
{
    double d = 0, m = 1e-300;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(a[i] - b[i]) > d) d = fabs(a[i] - b[i]);
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return d / m;
}

/* One epoch at the given level; params_out: (np) doubles (converted from float if f32). */
static int run(double *params_out, int level, int f32, const gc_arch *arch, const double *X,
               const double *Y, const int64_t *perm, int64_t n, int64_t m, const double *p0)
{
    const int64_t np = gc_param_count(arch);
    const int64_t nx = n * arch->sizes[0], ny = n * arch->sizes[arch->n_layers];
    int64_t nb = 0;
    for (int l = 1; l <= arch->n_layers; l++) nb += arch->sizes[l];
    double *speed = calloc((size_t)nb, sizeof(double)), cost = 0;
    int64_t done = 0;
    gc_status st;
    if (gc_set_kernel_level(level) != GC_OK) { free(speed); return 1; }
    if (!f32) {
        memcpy(params_out, p0, (size_t)np * sizeof(double));
        st = gc_sgd_epoch_f64(params_out, speed, &cost, &done, arch, X, Y, perm, n, n, m, 0.5,
                              5.0, -1, NULL);
    } else {
        float *p = malloc((size_t)np * sizeof(float)), *x = malloc((size_t)nx * sizeof(float)),
              *y = malloc((size_t)ny * sizeof(float));
        for (int64_t i = 0; i < np; i++) p[i] = (float)p0[i];
        for (int64_t i = 0; i < nx; i++) x[i] = (float)X[i];
        for (int64_t i = 0; i < ny; i++) y[i] = (float)Y[i];
        st = gc_sgd_epoch_f32(p, speed, &cost, &done, arch, x, y, perm, n, n, m, 0.5, 5.0, -1,
                              NULL);
        for (int64_t i = 0; i < np; i++) params_out[i] = p[i];
        free(p); free(x); free(y);
    }
    free(speed);
    return st != GC_OK;
}

int main(void)
{
    static const int32_t nets[][5] = {{37, 13, 7, 3, 0}, {784, 30, 30, 10, 0}, {33, 65, 31, 1, 0}};
    static const int64_t batches[] = {1, 10, 13, 100};
    const char *names[] = {"naive", "portable", "avx2", "avx512"};
    unsigned long long seed = 42;
    int failures = 0;
    for (size_t k = 0; k < sizeof nets / sizeof nets[0]; k++) {
        gc_arch arch = {0, nets[k], GC_COST_CROSS_ENTROPY};
        while (nets[k][arch.n_layers + 1]) arch.n_layers++;
        const int64_t n = 200, np = gc_param_count(&arch);
        const int32_t n_in = nets[k][0], n_out = nets[k][arch.n_layers];
        double *X = malloc((size_t)(n * n_in) * sizeof(double));
        double *Y = calloc((size_t)(n * n_out), sizeof(double));
        double *p0 = malloc((size_t)np * sizeof(double));
        double *ref = malloc((size_t)np * sizeof(double)), *got = malloc((size_t)np * sizeof(double));
        int64_t *perm = malloc((size_t)n * sizeof(int64_t));
        for (int64_t i = 0; i < n * n_in; i++) X[i] = urand(&seed);
        for (int64_t i = 0; i < n; i++) {
            Y[i * n_out + (int64_t)(urand(&seed) * n_out)] = 1;
            perm[i] = (i * 7919) % n;
        }
        for (int64_t i = 0; i < np; i++) p0[i] = (urand(&seed) - 0.5) * 0.4;
        for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
            for (int f32 = 0; f32 <= 1; f32++) {
                if (run(ref, GC_LEVEL_NAIVE, f32, &arch, X, Y, perm, n, batches[b], p0)) {
                    printf("naive level failed\n");
                    return 2;
                }
                for (int level = GC_LEVEL_PORTABLE; level <= GC_LEVEL_AVX512; level++) {
                    if (run(got, level, f32, &arch, X, Y, perm, n, batches[b], p0)) continue;
                    double e = relerr(got, ref, np), tol = f32 ? 1e-4 : 1e-10;
                    int ok = e <= tol;
                    failures += !ok;
                    printf("net %zu m %3lld %s %-8s relerr %.2e %s\n", k, (long long)batches[b],
                           f32 ? "f32" : "f64", names[level], e, ok ? "ok" : "FAIL");
                }
            }
        }
        free(X); free(Y); free(p0); free(ref); free(got); free(perm);
    }
    gc_set_kernel_level(-1);
    printf("%d failed\n", failures);
    return failures != 0;
}
