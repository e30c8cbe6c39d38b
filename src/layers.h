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
    /* the SGD step out = decay out - step dW of dW = delta^T . in: out (n_out, n_in);
     * ahead (or NULL): m_ahead rows of n_in to bring into the cache meanwhile */
    void (*dense_backward_weights)(real *out, const real *delta, const real *const *in,
                                   real decay, real step, int64_t m, int64_t n_in,
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
    /* the SGD step p = decay p - step g for n values, g summed over a mini-batch */
    void (*sgd_update)(real *p, const real *g, real decay, real step, int64_t n);
} layer_kernels;

#endif
