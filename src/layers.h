/*
 * The layer kernels of one instruction-set level, as a table of function pointers.
 *
 * Every file that includes this header is compiled once per floating type: `real` is
 * float where the build defines GC_FLOAT32, double otherwise. layers.c is compiled once per
 * level and type and exports its table as a pointer under the name the build gives it
 * (GC_LAYER_TABLE, e.g. gc_layers_avx2_f64); network.c finds the tables of its type in
 * GC_LAYER_TABLES (naive first, then portable, avx2, avx512 as built).
 *
 * Shapes: m examples (rows); a layer maps n_in inputs to n_out outputs; `in` is m pointers
 * to input rows of n_in values (rows of X, or of the activations below); w is (n_out, n_in)
 * row-major, b (n_out); z, a and delta are (m, n) row-major.
 */
#ifndef GRADCORE_LAYERS_H
#define GRADCORE_LAYERS_H

#include <stdint.h>

#ifdef GC_FLOAT32
typedef float real;
#else
typedef double real;
#endif

/*
 * What a gradient is used for: an update of the parameters p (and their velocity v), g the
 * gradient summed over a mini-batch of m rows. One per mini-batch and kind of parameter
 * (network.c); the kind reaches the loops as a compile-time constant.
 *   GC_STEP_SUM       p <- p + g                                  (adding gradients up)
 *   GC_STEP_SET       p <- g                  (the first of a sum's terms: nothing to clear)
 *   GC_STEP_SGD       p <- decay p - step g                       (network2.py's update)
 *   GC_STEP_MOMENTUM  v <- mu v - (step g + wd p);  p <- p + v    (classical momentum)
 *   GC_STEP_NESTEROV  v <- mu v - (step g + wd p);  p <- p + mu v - (step g + wd p)
 * step = eta / m; for weights wd = eta lmbda / n_train and decay = 1 - wd (L2), for biases
 * and PReLU slopes wd = 0 and decay = 1 (never decayed). Nesterov's accelerated gradient is
 * in the form libraries use: p holds the look-ahead point, where the next gradient is taken.
 */
enum { GC_STEP_SUM = 0, GC_STEP_SGD = 1, GC_STEP_MOMENTUM = 2, GC_STEP_NESTEROV = 3,
       GC_STEP_SET = 4 };
typedef struct {
    int kind; /* GC_STEP_* */
    real decay, wd, step, mu;
} gc_step;

typedef struct {
    /* a = phi(z), z = in . w^T + b: a, z (m, n_out); z may be NULL (not wanted); act the
     * layer's activation (GC_ACT_*); slope (n_out) its PReLU slopes (read for
     * GC_ACT_PRELU only, may be NULL otherwise) */
    void (*dense_forward)(real *z, real *a, const real *const *in, const real *w,
                          const real *b, const real *slope, int act, int64_t m, int64_t n_in,
                          int64_t n_out);
    /* dprev = (delta . w) * phi'(z_prev), phi' from a_prev: dprev, a_prev (m, n_in); delta
     * (m, n_out); act_prev the activation of the layer below (GC_ACT_LINEAR for a PReLU
     * layer: dprev is then dC/da, for prelu_backward) */
    void (*dense_backward_delta)(real *dprev, const real *delta, const real *w,
                                 const real *a_prev, int act_prev, int64_t m, int64_t n_in,
                                 int64_t n_out);
    /* the update u of out (n_out, n_in) and its velocity vel (the same shape; NULL unless
     * u is a momentum kind) from dW = delta^T . in, applied as each weight's gradient is
     * formed; ahead (or NULL): m_ahead rows of n_in to bring into the cache meanwhile */
    void (*dense_backward_weights)(real *out, real *vel, const real *delta,
                                   const real *const *in, gc_step u, int64_t m, int64_t n_in,
                                   int64_t n_out, const real *const *ahead, int64_t m_ahead);
    /* db = sum over the m rows of delta: db (n), delta (m, n) */
    void (*dense_backward_bias)(real *db, const real *delta, int64_t m, int64_t n);
    /* delta = dC/dz of the output layer and the cost summed over the rows (returned):
     * delta, z, a, y (m, n), y the targets; cost a GC_COST_* code */
    double (*output_backward)(real *delta, const real *z, const real *a, const real *y,
                              int cost, int64_t m, int64_t n);
    /* a <- softmax of each of its m rows of n values, in place */
    void (*softmax_rows)(real *a, int64_t m, int64_t n);
    /* a PReLU layer's delta from dC/da, in place, and its slopes' gradient ds summed over
     * the rows: delta, z (m, n); slope, ds (n) */
    void (*prelu_backward)(real *delta, real *ds, const real *z, const real *slope, int64_t m,
                           int64_t n);
    /* the sum of the squares of n values, in double */
    double (*sum_squares)(const real *x, int64_t n);
    /* the same sum in several independent partial sums (another order of the additions, so
     * other last bits): for long arrays, the gradient's norm of clipping */
    double (*sum_squares_long)(const real *x, int64_t n);
    /* the update u of n values p (and their velocity v, or NULL) from the summed g */
    void (*apply_step)(real *p, real *v, const real *g, gc_step u, int64_t n);
} layer_kernels;

#endif
