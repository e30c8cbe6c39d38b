/*
 * gradcore kernels: dense layers (sigmoid by default, or any activation below), forward,
 * backward, learning-speed and gradient-rms sums and whole SGD epochs, in float64 (suffix
 * _f64) and float32 (suffix _f32).
 *
 * Conventions
 *   - A network has L layers with weights and sizes[0..L]. Its parameters live in one
 *     contiguous buffer: for l = 0..L-1, W_l (sizes[l+1], sizes[l]) row-major, then
 *     b_l (sizes[l+1]); after the last layer, the slopes of every PReLU layer in order
 *     (sizes[l+1] each; none for a network without PReLU). gc_param_count() gives the total
 *     length.
 *   - Examples are rows: X is (n, sizes[0]), Y one-hot (n, sizes[L]).
 *   - Outputs come first in argument lists, then const inputs, then sizes.
 *   - Functions return a gc_status; none of them exits, asserts or prints.
 *   - No function touches Python: callers may (and gradcore does) release the GIL.
 *   - Accumulations that leave the kernels (cost sums, learning-speed sums) are double.
 */
#ifndef GRADCORE_KERNELS_H
#define GRADCORE_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GC_OK = 0,
    GC_ERR_NOMEM = 1,       /* a workspace allocation failed */
    GC_ERR_ARGUMENT = 2,    /* inconsistent sizes or arguments */
    GC_ERR_NONFINITE = 3,   /* a cost or parameter became NaN or infinite */
    GC_ERR_INTERRUPTED = 4  /* *stop became non-zero: stopped at a mini-batch boundary */
} gc_status;

/* Costs: cross-entropy and quadratic for sigmoid outputs, log-likelihood for softmax. */
enum { GC_COST_CROSS_ENTROPY = 0, GC_COST_QUADRATIC = 1, GC_COST_LOG_LIKELIHOOD = 2 };

/* Activations (src/activations.h has each formula and its derivative). Hidden layers take
 * any but GC_ACT_SOFTMAX; the output layer GC_ACT_SIGMOID (with the cross-entropy or
 * quadratic cost) or GC_ACT_SOFTMAX (with the log-likelihood cost). */
enum {
    GC_ACT_SIGMOID = 0,
    GC_ACT_TANH = 1,
    GC_ACT_SOFTSIGN = 2,
    GC_ACT_RELU = 3,
    GC_ACT_LEAKY_RELU = 4, /* slope 0.01 below 0 */
    GC_ACT_ELU = 5,        /* alpha = 1 */
    GC_ACT_PRELU = 6,      /* a learnt slope per unit, in the parameter buffer */
    GC_ACT_LINEAR = 7,
    GC_ACT_SOFTMAX = 8,
    GC_N_ACTS = 9
};

/* The shape of a network: n_layers layers with weights, sizes has n_layers + 1 entries;
 * acts has n_layers entries, the activation of each layer's output (hidden layers first,
 * the output layer last), or is NULL: every layer sigmoid. */
typedef struct {
    int n_layers;
    const int32_t *sizes;
    int cost;           /* GC_COST_* */
    const int8_t *acts; /* GC_ACT_* per layer, or NULL */
} gc_arch;

/* Checks sizes (all >= 1, n_layers >= 1, a parameter count that fits in an int64), the
 * cost code, the activation codes, and that the output's activation and the cost go
 * together (sigmoid: cross-entropy or quadratic; softmax: log-likelihood). */
gc_status gc_arch_check(const gc_arch *arch);

/* The activation of layer l (0-based, l < n_layers) of an architecture. */
static inline int gc_arch_act(const gc_arch *arch, int l)
{
    return arch->acts ? arch->acts[l] : 0 /* GC_ACT_SIGMOID */;
}

/* Number of parameters (weights, biases and PReLU slopes) of the network; -1 if it does not
 * fit in an int64 (gc_arch_check refuses such a network). */
int64_t gc_param_count(const gc_arch *arch);

/* Set *stop to non-zero from anywhere (e.g. a signal handler) to make a running
 * gc_sgd_epoch_* or gc_gradient_* return GC_ERR_INTERRUPTED at the next boundary. */
typedef volatile int gc_stop_flag;

/*
 * Output layer of the network for every row of X.
 *   z_out, a_out: (n, sizes[L]) pre-activations and activations of the output layer
 *   params: the parameter buffer; X: (n, sizes[0])
 */
gc_status gc_feedforward_f64(double *z_out, double *a_out, const gc_arch *arch,
                             const double *params, const double *X, int64_t n);
gc_status gc_feedforward_f32(float *z_out, float *a_out, const gc_arch *arch,
                             const float *params, const float *X, int64_t n);

/*
 * Every layer's pre-activations and activations for every row of X (the probes of saturation
 * and the histograms of activations).
 *   z_out, a_out: (n, sizes[1] + ... + sizes[L]) each, row i holding layer 1's values, then
 *   layer 2's, ..., the output layer's last
 */
gc_status gc_forward_layers_f64(double *z_out, double *a_out, const gc_arch *arch,
                                const double *params, const double *X, int64_t n);
gc_status gc_forward_layers_f32(float *z_out, float *a_out, const gc_arch *arch,
                                const float *params, const float *X, int64_t n);

/*
 * Gradient of C = (1/n) sum over rows of the cost, no regularisation.
 *   grad: same layout as params (dC/dW_l, dC/db_l); dC/db_l is the mean of delta_l
 *   *cost_sum: sum over rows of the cost (not divided by n)
 *   sq_sum: NULL, or n_layers doubles, ADDED TO: per layer (output last), the sum over the
 *           rows of |delta_l(x)|^2 (the gradient-rms monitor: sqrt(sq_sum[l] / n))
 *   X: (n, sizes[0]); Y: (n, sizes[L]) one-hot (any targets in [0, 1] work)
 */
gc_status gc_gradient_f64(double *grad, double *cost_sum, double *sq_sum, const gc_arch *arch,
                          const double *params, const double *X, const double *Y, int64_t n,
                          gc_stop_flag *stop);
gc_status gc_gradient_f32(float *grad, double *cost_sum, double *sq_sum, const gc_arch *arch,
                          const float *params, const float *X, const float *Y, int64_t n,
                          gc_stop_flag *stop);

/* Momentum schedules: a constant mu, or Sutskever et al.'s (2013) rising one. */
enum { GC_SCHEDULE_CONSTANT = 0, GC_SCHEDULE_SUTSKEVER = 1 };

/* The hyper-parameters of an SGD epoch: the one place that states them. Fields past
 * max_batches left 0 give the book's plain SGD. */
typedef struct {
    int64_t batch_size;  /* m >= 1: rows per mini-batch (the last one may be shorter) */
    double eta;          /* the learning rate */
    double lmbda;        /* L2 regularisation: the weights decay by 1 - eta*lmbda/n_train */
    int64_t max_batches; /* stop after this many mini-batches; -1: the whole epoch */
    /* the update (Sutskever, Martens, Dahl & Hinton 2013): momentum mu in [0, 1), the
     * largest mu with a schedule; 0: the book's plain SGD (and the fields up to clip_norm
     * are not read). Classical momentum v <- mu v - eta g, theta <- theta + v, with g the
     * mean gradient of the mini-batch plus (lmbda / n_train) w for weights; nesterov != 0:
     * Nesterov's accelerated gradient in the form libraries use */
    double momentum;
    int nesterov;
    int schedule;          /* GC_SCHEDULE_* */
    int64_t t0;            /* updates made before this call: the schedule's t of its first */
    int64_t final_from;    /* from update t = final_from on, mu = final_momentum; < 0: never */
    double final_momentum;
    double clip_norm;      /* > 0: a mini-batch whose mean gradient (all layers together) has
                              a larger norm is scaled down to it (Pascanu et al. 2013) */
    double dropout;        /* in [0, 1): each hidden unit dropped with this probability for a
                              whole mini-batch, kept ones scaled by 1 / (1 - dropout) */
    uint64_t seed;         /* the dropout masks' key: (seed, epoch, batch, layer, unit) */
    int64_t epoch;
    int64_t batch0;        /* the index in its epoch of this call's first mini-batch */
} gc_sgd_options;

/* What an SGD epoch did. */
typedef struct {
    double cost_sum;      /* the sum of the cost of every example seen, each evaluated with
                             the parameters in force before its mini-batch's update */
    int64_t batches_done; /* the mini-batches whose update was applied */
    int64_t clipped;      /* of them, those whose gradient was clipped */
} gc_sgd_report;

/*
 * One epoch of mini-batch SGD with L2 weight decay, in place on params.
 *   Mini-batches are perm[k .. k+m-1] for k = 0, m, 2m, ... (m = opt->batch_size; the last
 *   may be shorter); for each: W <- (1 - eta*lmbda/n_train) W - (eta/m_b) sum dW,
 *   b <- b - (eta/m_b) sum db.
 *   speed_sum: (sum_l sizes[l+1]) doubles, ADDED TO: per layer, the sum over mini-batches of
 *              the mean dC/db of the mini-batch (the in-epoch learning-speed monitor)
 *   sq_sum: NULL, or n_layers doubles, ADDED TO: per layer, the sum over the rows seen of
 *           |delta_l(x)|^2, each at the parameters before its mini-batch's update (the
 *           in-epoch gradient-rms monitor)
 *   PReLU slopes take the step of the biases (never decayed).
 *   report: set to the epoch's cost sum and number of mini-batches applied (on every
 *           status but GC_ERR_ARGUMENT and GC_ERR_NOMEM)
 *   X, Y: (n_train, sizes[0]) and (n_train, sizes[L]); perm: n_perm row indices into them
 * Returns GC_ERR_NONFINITE when a mini-batch's cost is not finite (its update has been
 * applied and counted) or the parameters are not finite at the end: the parameters are then
 * unusable, and the caller restores a snapshot and replays fewer batches (max_batches) to get
 * the last finite state. GC_ERR_INTERRUPTED if *stop was set: the parameters are those after
 * report->batches_done complete mini-batches. GC_ERR_NOMEM leaves params untouched.
 */
gc_status gc_sgd_epoch_f64(double *params, double *velocity, double *speed_sum,
                           double *sq_sum, gc_sgd_report *report,
                           const gc_arch *arch, const gc_sgd_options *opt, const double *X,
                           const double *Y, int64_t n_train, const int64_t *perm,
                           int64_t n_perm, gc_stop_flag *stop);
gc_status gc_sgd_epoch_f32(float *params, float *velocity, double *speed_sum,
                           double *sq_sum, gc_sgd_report *report,
                           const gc_arch *arch, const gc_sgd_options *opt, const float *X,
                           const float *Y, int64_t n_train, const int64_t *perm,
                           int64_t n_perm, gc_stop_flag *stop);

/*
 * n_epochs epochs of gc_sgd_epoch_* in one call, in place on params (and velocity), with
 * what a caller records per epoch, so that short epochs cost no more than their mini-batches.
 *   Epoch e trains on the rows perm[e * n_perm .. (e + 1) * n_perm - 1] with the options
 *   opt, its t0 advanced by the updates of the epochs before it and its epoch by e;
 *   opt->max_batches must be -1 and opt->batch0 0 (whole epochs).
 *   speed_sum: (n_epochs, sum_l sizes[l+1]), ADDED TO: row e is epoch e's speed_sum
 *   sq_sum: NULL, or (n_epochs, n_layers), ADDED TO: row e is epoch e's sq_sum
 *   reports: n_epochs, set for every epoch run, as gc_sgd_epoch_* sets its report
 *   weights_sq: n_epochs, set for every epoch that ended with GC_OK: sum of w^2 over every
 *               weight (gc_weights_sum_squares_*) at its end, for the L2 term of its cost
 *   *epochs_run: the epochs begun (the last one is the one a status other than GC_OK
 *               comes from)
 * The call ends after an epoch whose status is not GC_OK (that status is returned, with the
 * meaning gc_sgd_epoch_* gives it) or whose mean cost with the L2 term,
 * cost_sum / n_train + lmbda / (2 n_train) * weights_sq, is not finite (GC_OK then: the
 * parameters are finite but so large that the cost overflows; the caller decides).
 */
gc_status gc_sgd_epochs_f64(double *params, double *velocity, double *speed_sum,
                            double *sq_sum, gc_sgd_report *reports, double *weights_sq,
                            int64_t *epochs_run, const gc_arch *arch,
                            const gc_sgd_options *opt, const double *X, const double *Y,
                            int64_t n_train, const int64_t *perm, int64_t n_perm,
                            int64_t n_epochs, gc_stop_flag *stop);
gc_status gc_sgd_epochs_f32(float *params, float *velocity, double *speed_sum,
                            double *sq_sum, gc_sgd_report *reports, double *weights_sq,
                            int64_t *epochs_run, const gc_arch *arch,
                            const gc_sgd_options *opt, const float *X, const float *Y,
                            int64_t n_train, const int64_t *perm, int64_t n_perm,
                            int64_t n_epochs, gc_stop_flag *stop);

/* *out = the sum of w^2 over every weight of params (not the biases or PReLU slopes), in
 * double: the L2 term's sum, the same bits as gc_sgd_epochs_* records. */
gc_status gc_weights_sum_squares_f64(double *out, const gc_arch *arch, const double *params);
gc_status gc_weights_sum_squares_f32(double *out, const gc_arch *arch, const float *params);

/*
 * Kernel level: which compiled variant of the kernels runs.
 *   GC_LEVEL_NAIVE     the plain reference loops (for tests: slow)
 *   GC_LEVEL_PORTABLE  blocked kernels for the build's default target (SSE2 on x86-64)
 *   GC_LEVEL_AVX2      blocked kernels for x86-64-v3 (AVX2 + FMA)
 *   GC_LEVEL_AVX512    blocked kernels for x86-64-v4 (AVX-512)
 * By default the best level both the build and the CPU have is chosen at the first call (a
 * build without the GCC/Clang vector extensions has the naive level only).
 * gc_set_kernel_level(-1) restores that; a level the CPU or build lacks gives
 * GC_ERR_ARGUMENT. Not meant to be changed while kernels run in other threads.
 */
enum { GC_LEVEL_NAIVE = 0, GC_LEVEL_PORTABLE = 1, GC_LEVEL_AVX2 = 2, GC_LEVEL_AVX512 = 3 };
int gc_kernel_level(void);
gc_status gc_set_kernel_level(int level);

/*
 * Threads (src/pool.h). A gradient over n rows (gc_gradient_*, and each mini-batch of
 * gc_sgd_epoch_* of more than 64 rows) is cut into parts whose number and rows depend on n
 * and the network only: P = the largest power of two with P * 128 <= n, at most 32, and
 * the partial sums of the parts past the first within 8 MiB. Each part is summed on its
 * own, the partial sums are added in part order, so every thread count gives the same
 * bits. From 256 rows on, the caller and up to gc_get_num_threads() - 1 pool threads claim
 * the parts one at a time; smaller jobs (the usual m = 10) run on the calling thread.
 * gc_set_num_threads(n): n >= 1 threads, 0 = the default (the CPUs the process may run
 * on); GC_ERR_ARGUMENT if n < 0. gc_get_num_threads(): the number a call will use at most
 * (1 in a build without threads), within the calling thread's limit. Safe across fork():
 * a child starts without pool threads and makes new ones when a call needs them.
 */
gc_status gc_set_num_threads(int n);
int gc_get_num_threads(void);
/* At most n threads (n >= 1; 0: no limit) for the calls made from the calling thread; the
 * limit is the calling thread's own (thread-local). gc_get_num_threads() includes it. */
gc_status gc_set_thread_limit(int n);
int gc_get_thread_limit(void);

#ifdef __cplusplus
}
#endif
#endif
