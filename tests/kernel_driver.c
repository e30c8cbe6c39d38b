/*
 * Stand-alone check of a build of the kernels (tests/test_build_variants.py builds it with
 * tests/CMakeLists.txt in several configurations and runs it, natively or under an
 * emulator). For float64 and float32: gradients of 130 rows and SGD epochs (m = 10 and
 * m = 130) of a [65, 33, 31, 10] network on pseudo-random data, at every kernel level up to
 * the best one this build and CPU have, each against the naive level; prints the best
 * level and the largest relative differences, and exits 1 if they exceed 1e-12 (float64) or
 * 2e-5 (float32). Twice: the sigmoid net with plain SGD, then a PReLU + tanh net with a
 * softmax output, trained with Nesterov's momentum, clipping and dropout. Then gradients and a full-batch SGD step of NT rows (several parts, so
 * several threads) with 1 to 4 threads: exits 1 unless every count gives the same bits.
 * Last, CALLERS threads call gradients at the same time (they share the pool: one call at a
 * time uses it, the others run on their own thread): exits 1 unless each gets those bits.
 * (tests/test_build_variants.py also runs it built with ThreadSanitizer.)
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#define N 130
#define NT 1100
static const int32_t SIZES[] = {65, 33, 31, 10};

static double rnd(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

static double rel_diff(const double *a, const double *b, int64_t n)
{
    double d = 0, scale = 1e-300;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
        if (fabs(a[i] - b[i]) > d || a[i] != a[i]) d = a[i] != a[i] ? INFINITY : fabs(a[i] - b[i]);
    }
    return d / scale;
}

#define RUN(REAL, SFX, LEVEL, OUT, NOUT)                                                     \
    do {                                                                                     \
        REAL *p = malloc(np * sizeof(REAL)), *g = malloc(np * sizeof(REAL));                 \
        REAL *v = calloc(np, sizeof(REAL));                                                  \
        REAL *x = malloc(N * 65 * sizeof(REAL)), *y = malloc(N * 10 * sizeof(REAL));         \
        double sp[74] = {0}, c = 0;                                                          \
        gc_sgd_report rep;                                                                   \
        if (gc_set_kernel_level(LEVEL) != GC_OK) return 2;                                   \
        for (int64_t i = 0; i < np; i++) p[i] = (REAL)(params[i]);                           \
        for (int64_t i = 0; i < N * 65; i++) x[i] = (REAL)X[i];                              \
        for (int64_t i = 0; i < N * 10; i++) y[i] = (REAL)Y[i];                              \
        if (gc_gradient_##SFX(g, &c, NULL, &arch, p, x, y, N, NULL) != GC_OK) return 2;             \
        for (int64_t i = 0; i < np; i++) OUT[i] = g[i];                                      \
        OUT[np] = c;                                                                         \
        for (int mb = 10; mb <= N; mb += N - 10) {                                           \
            gc_sgd_options opt = *update;                                                    \
            opt.batch_size = mb;                                                             \
            if (gc_sgd_epoch_##SFX(p, v, sp, NULL, &rep, &arch, &opt, x, y, N, perm, N, NULL) != GC_OK) \
                return 2;                                                                    \
        }                                                                                    \
        for (int64_t i = 0; i < np; i++) OUT[np + 1 + i] = p[i];                             \
        OUT[2 * np + 1] = rep.cost_sum;                                                      \
        for (int i = 0; i < 74; i++) OUT[2 * np + 2 + i] = sp[i];                            \
        NOUT = 2 * np + 76;                                                                  \
        free(p); free(g); free(v); free(x); free(y);                                         \
    } while (0)

/* Gradient and one full-batch SGD step of NT rows of x, y (float64, best level) with 1 .. 4
 * threads: 1 if any count gives other bits than 1 thread. */
static int threads_differ(const gc_arch *arch, const double *params, int64_t np,
                          const double *x, const double *y)
{
    double *g = malloc(2 * np * sizeof(double)), *g1 = malloc(2 * np * sizeof(double));
    int64_t *perm = malloc(NT * sizeof(int64_t));
    int differ = 0;
    for (int64_t i = 0; i < NT; i++) perm[i] = (i * 7) % NT;
    for (int t = 1; t <= 4; t++) {
        double c = 0, sp[74] = {0};
        const gc_sgd_options opt = {NT, 0.5, 1.0, -1};
        gc_sgd_report rep;
        gc_set_num_threads(t);
        memcpy(g + np, params, np * sizeof(double));
        if (gc_gradient_f64(g, &c, NULL, arch, params, x, y, NT, NULL) != GC_OK ||
            gc_sgd_epoch_f64(g + np, NULL, sp, NULL, &rep, arch, &opt, x, y, NT, perm, NT, NULL) != GC_OK)
            differ = 1;
        if (t == 1) memcpy(g1, g, 2 * np * sizeof(double));
        else differ |= memcmp(g, g1, 2 * np * sizeof(double)) != 0;
        printf("threads %d (%d) %s\n", t, gc_get_num_threads(), differ ? "differ" : "same");
    }
    gc_set_num_threads(0);
    free(g); free(g1); free(perm);
    return differ;
}

/* CALLERS threads, each computing the gradient of NT rows ROUNDS times at once. */
#define CALLERS 3
#define ROUNDS 20

typedef struct {
    const gc_arch *arch;
    const double *params, *x, *y, *want; /* want: the gradient with 1 thread */
    int64_t np;
    int differ;
} caller;

static void *call_gradients(void *arg)
{
    caller *c = (caller *)arg;
    double *g = malloc(c->np * sizeof(double)), cost = 0;
    for (int r = 0; r < ROUNDS && g; r++)
        if (gc_gradient_f64(g, &cost, NULL, c->arch, c->params, c->x, c->y, NT, NULL) != GC_OK ||
            memcmp(g, c->want, c->np * sizeof(double)) != 0)
            c->differ = 1;
    if (!g) c->differ = 1;
    free(g);
    return NULL;
}

/* 1 if any of CALLERS simultaneous callers (2 pool threads allowed) gets other bits than the
 * gradient with one thread, or a thread cannot start. */
static int callers_differ(const gc_arch *arch, const double *params, int64_t np,
                          const double *x, const double *y)
{
    double *want = malloc(np * sizeof(double)), cost = 0;
    caller c[CALLERS];
    pthread_t t[CALLERS];
    int differ = 0;
    gc_set_num_threads(1);
    if (!want || gc_gradient_f64(want, &cost, NULL, arch, params, x, y, NT, NULL) != GC_OK) return 1;
    gc_set_num_threads(2);
    for (int i = 0; i < CALLERS; i++) {
        c[i] = (caller){arch, params, x, y, want, np, 0};
        if (pthread_create(&t[i], NULL, call_gradients, &c[i]) != 0) c[i].differ = 2;
    }
    for (int i = 0; i < CALLERS; i++) {
        if (c[i].differ != 2) pthread_join(t[i], NULL);
        differ |= c[i].differ != 0;
    }
    gc_set_num_threads(0);
    printf("callers %d %s\n", CALLERS, differ ? "differ" : "same");
    free(want);
    return differ;
}

/* Two epochs in one gc_sgd_epochs_f64 call against two gc_sgd_epoch_f64 calls (the second
 * with t0 and epoch advanced): the same parameters, velocity and records, bit for bit. */
static int epochs_differ(const gc_arch *arch, const double *params, int64_t np,
                         const gc_sgd_options *update, const double *x, const double *y,
                         const int64_t *perm)
{
    double *a = malloc(2 * np * sizeof(double)), *b = malloc(2 * np * sizeof(double));
    double *va = calloc(np, sizeof(double)), *vb = calloc(np, sizeof(double));
    int64_t *perms = malloc(2 * N * sizeof(int64_t)), run = 0;
    double spa[2 * 74] = {0}, spb[2 * 74] = {0}, wsq[2];
    gc_sgd_report ra[2], rb[2];
    gc_sgd_options opt = *update;
    int bad = 0;
    opt.batch_size = 10;
    memcpy(a, params, np * sizeof(double));
    memcpy(b, params, np * sizeof(double));
    for (int64_t i = 0; i < N; i++) perms[i] = perm[i], perms[N + i] = perm[N - 1 - i];
    bad |= gc_sgd_epochs_f64(a, va, spa, NULL, ra, wsq, &run, arch, &opt, x, y, N, perms, N, 2,
                             NULL) != GC_OK || run != 2;
    for (int e = 0; e < 2; e++) {
        bad |= gc_sgd_epoch_f64(b, vb, spb + e * 74, NULL, &rb[e], arch, &opt, x, y, N,
                                perms + e * N, N, NULL) != GC_OK;
        bad |= ra[e].cost_sum != rb[e].cost_sum || ra[e].batches_done != rb[e].batches_done;
        opt.t0 += rb[e].batches_done;
        opt.epoch++;
    }
    bad |= memcmp(a, b, np * sizeof(double)) != 0 || memcmp(va, vb, np * sizeof(double)) != 0;
    bad |= memcmp(spa, spb, sizeof spa) != 0;
    double s = 0;
    bad |= gc_weights_sum_squares_f64(&s, arch, b) != GC_OK || s != wsq[1];
    printf("two epochs in one call: %s\n", bad ? "differ" : "same bits");
    free(a); free(b); free(va); free(vb); free(perms);
    return bad;
}

/* The first run's update: the book's SGD; the second's: Nesterov with Sutskever's
 * schedule, clipping and dropout. */
static const gc_sgd_options SGD = {0, 0.5, 1.0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0};
static const gc_sgd_options REMEDIES = {0,   0.1,  1.0, -1,  0.99, 1, GC_SCHEDULE_SUTSKEVER,
                                        240, -1,   0,   0.5, 0.25, 7, 1, 0};
static const int8_t MIXED[] = {GC_ACT_PRELU, GC_ACT_TANH, GC_ACT_SOFTMAX};

static int check(const gc_arch *archp, const gc_sgd_options *update);

int main(void)
{
    const gc_arch plain = {3, SIZES, GC_COST_CROSS_ENTROPY, NULL};
    const gc_arch mixed = {3, SIZES, GC_COST_LOG_LIKELIHOOD, MIXED};
    int bad = check(&plain, &SGD);
    bad |= check(&mixed, &REMEDIES);
    printf(bad ? "FAIL\n" : "ok\n");
    return bad;
}

static int check(const gc_arch *archp, const gc_sgd_options *update)
{
    const gc_arch arch = *archp;
    const int64_t np = gc_param_count(&arch);
    const int best = gc_kernel_level();
    double *params = malloc(np * sizeof(double)), *X = malloc(N * 65 * sizeof(double));
    double *Y = calloc(N * 10, sizeof(double));
    double *fast = malloc((2 * np + 76) * sizeof(double));
    double *naive = malloc((2 * np + 76) * sizeof(double));
    int64_t perm[N], nout = 0;
    unsigned long long s = 42;
    int bad = 0;
    for (int64_t i = 0; i < np; i++) params[i] = rnd(&s) * 2 - 1;
    for (int64_t i = 0; i < N * 65; i++) X[i] = rnd(&s);
    for (int64_t i = 0; i < N; i++) {
        Y[i * 10 + (int64_t)(rnd(&s) * 10)] = 1;
        perm[i] = (i * 7) % N;
    }
    printf("level %d threads %d\n", best, gc_get_num_threads());
    for (int level = GC_LEVEL_NAIVE; level <= best; level++) {
        RUN(double, f64, GC_LEVEL_NAIVE, naive, nout);
        RUN(double, f64, level, fast, nout);
        double d = rel_diff(fast, naive, nout);
        printf("level %d f64 %.3g", level, d);
        bad |= !(d <= 1e-12);
        RUN(float, f32, GC_LEVEL_NAIVE, naive, nout);
        RUN(float, f32, level, fast, nout);
        d = rel_diff(fast, naive, nout);
        printf(" f32 %.3g\n", d);
        bad |= !(d <= 2e-5);
    }
    double *xt = malloc(NT * 65 * sizeof(double)), *yt = calloc(NT * 10, sizeof(double));
    for (int64_t i = 0; i < NT * 65; i++) xt[i] = rnd(&s);
    for (int64_t i = 0; i < NT; i++) yt[i * 10 + (int64_t)(rnd(&s) * 10)] = 1;
    bad |= threads_differ(&arch, params, np, xt, yt);
    bad |= callers_differ(&arch, params, np, xt, yt);
    bad |= epochs_differ(&arch, params, np, update, X, Y, perm);
    free(xt); free(yt);
    free(params); free(X); free(Y); free(fast); free(naive);
    return bad;
}
