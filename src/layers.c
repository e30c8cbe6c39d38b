/*
 * The layer passes of gradcore's dense networks, for one floating type and one
 * instruction-set level.
 *
 * The build compiles this file once per level and type (CMakeLists.txt, cmake/kernels.cmake):
 *   naive     GC_NAIVE defined: only the plain loops, which say what each pass computes
 *   portable  the compiler's default target (SSE2 on x86-64, NEON on aarch64)
 *   avx2      -march=x86-64-v3 (AVX2 + FMA), 256-bit vectors
 *   avx512    -march=x86-64-v4 (AVX-512), 512-bit vectors
 * and `real` is double or float (layers.h). The table at the end is what the level exports.
 *
 * Each pass has its plain version (`_naive`) right above the blocked one. The blocked
 * kernels keep small tiles of results in vector registers (the GCC/Clang vector extensions:
 * one source, compiled to xmm, ymm or zmm registers by the level's flags) so that every value
 * loaded from memory feeds several multiply-adds.
 */
#include "layers.h"

#include <math.h>
#include <string.h>

#include "activations.h"
#include "internal.h"

/*
 * The SGD step with L2 weight decay (network2.py's update_mini_batch), on a number or a
 * vector alike:
 *   p <- decay p - step g
 * g the gradient summed over a mini-batch of m rows, step = eta / m, decay =
 * 1 - eta lmbda / n_train for weights and 1 for biases.
 */
#define SGD_STEP(p, g, decay, step) ((decay) * (p) - (step) * (g))

/*
 * The update u (layers.h: gc_step) of one parameter p from its summed gradient g, on a
 * number or a vector alike (T: real or vec); the new p is returned and a momentum kind
 * writes the new velocity to *v. kind is a compile-time constant at every use.
 * dense_backward_weights applies it to each weight as soon as the weight's gradient is
 * formed, apply_step to whole arrays.
 */
#define DEFINE_STEP(NAME, T)                                                                \
    static inline __attribute__((always_inline)) T NAME(T p, T *v, T g, gc_step u,         \
                                                        const int kind)                    \
    {                                                                                       \
        switch (kind) {                                                                     \
        case GC_STEP_SUM: return p + g;                                                     \
        case GC_STEP_SET: return g;                                                         \
        case GC_STEP_SGD: return SGD_STEP(p, g, u.decay, u.step);                           \
        case GC_STEP_MOMENTUM: {                                                            \
            const T d = u.step * g + u.wd * p;                                              \
            *v = u.mu * *v - d;                                                             \
            return p + *v;                                                                  \
        }                                                                                   \
        default: { /* GC_STEP_NESTEROV */                                                   \
            const T d = u.step * g + u.wd * p;                                              \
            *v = u.mu * *v - d;                                                             \
            return p + u.mu * *v - d;                                                       \
        }                                                                                   \
        }                                                                                   \
    }
DEFINE_STEP(step_scalar, real)

/* One switch over the update's kind outside a loop: CALL(K) once per kind, K a constant. */
#define BY_STEP_KIND(kind, CALL)                                                            \
    switch (kind) {                                                                         \
    case GC_STEP_SUM: CALL(GC_STEP_SUM); break;                                             \
    case GC_STEP_SET: CALL(GC_STEP_SET); break;                                             \
    case GC_STEP_SGD: CALL(GC_STEP_SGD); break;                                             \
    case GC_STEP_MOMENTUM: CALL(GC_STEP_MOMENTUM); break;                                   \
    default: CALL(GC_STEP_NESTEROV); break;                                                 \
    }

#ifndef GC_NAIVE
#include "vmath.h"
DEFINE_STEP(step_lanes, vec)

/*
 * Two-source shuffles (__builtin_shufflevector: Clang; GCC from 12), where a vector holds
 * at least four lanes (VLANES: VL as a preprocessor number). Without them (older GCC, or
 * double in 16-byte vectors) the kernels use hsum and scalar copies instead, with the same
 * results.
 */
#ifdef GC_FLOAT32
#define VLANES (VBYTES / 4)
#else
#define VLANES (VBYTES / 8)
#endif
#if (defined(__clang__) || __GNUC__ >= 12) && VLANES >= 4
#define HAVE_SHUFFLES 1
#define SHUF __builtin_shufflevector
typedef real v4 __attribute__((vector_size(4 * sizeof(real))));
typedef real v8 __attribute__((vector_size(8 * sizeof(real))));

/*
 * The lane sums of four vectors at once, as a vector of four: the same additions as hsum,
 * in the same order (so the same bits), four at a time. Lanes i and i + VL/2 of x and y
 * are folded into one vector, those of z and w into another; then the two halves of each
 * half, from both vectors into one; then within that vector, down to one lane each.
 * forward_tile uses it for its tiles of 4 neurons (the first layer's forward pass of an
 * epoch, AVX-512: 65.0 -> 60.9 Mcycles in float, 120.7 -> 118.6 in double).
 */
static inline v4 hsum4(vec x, vec y, vec z, vec w)
{
#if VLANES == 16
    const vec a = SHUF(x, y, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                  SHUF(x, y, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    const vec c = SHUF(z, w, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                  SHUF(z, w, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    const vec u = SHUF(a, c, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
                  SHUF(a, c, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    const v8 h = SHUF(u, u, 0, 1, 4, 5, 8, 9, 12, 13) + SHUF(u, u, 2, 3, 6, 7, 10, 11, 14, 15);
    return SHUF(h, h, 0, 2, 4, 6) + SHUF(h, h, 1, 3, 5, 7);
#elif VLANES == 8
    const vec a = SHUF(x, y, 0, 1, 2, 3, 8, 9, 10, 11) + SHUF(x, y, 4, 5, 6, 7, 12, 13, 14, 15);
    const vec c = SHUF(z, w, 0, 1, 2, 3, 8, 9, 10, 11) + SHUF(z, w, 4, 5, 6, 7, 12, 13, 14, 15);
    const vec u = SHUF(a, c, 0, 1, 4, 5, 8, 9, 12, 13) + SHUF(a, c, 2, 3, 6, 7, 10, 11, 14, 15);
    return SHUF(u, u, 0, 2, 4, 6) + SHUF(u, u, 1, 3, 5, 7);
#else
    const vec a = SHUF(x, y, 0, 1, 4, 5) + SHUF(x, y, 2, 3, 6, 7);
    const vec c = SHUF(z, w, 0, 1, 4, 5) + SHUF(z, w, 2, 3, 6, 7);
    return SHUF(a, c, 0, 2, 4, 6) + SHUF(a, c, 1, 3, 5, 7);
#endif
}

/*
 * A square block of VL vectors transposed in registers: afterwards r[q] holds lane q of
 * every former vector. log2(VL) stages; stage b pairs r[i] with r[i + b] (i without bit b)
 * and interleaves their lanes in runs of b (TIDX: where lane p of the first result comes
 * from; the second takes the next run). narrow_weights transposes a layer's weights so:
 * a 30x30 forward pass, AVX-512, m = 10, took 1,030 ns in double and 677 ns in float with
 * one scalar copy per weight, 905 and 467 ns with these blocks.
 */
#define TIDX(p, b) ((((p) / (b)) % 2 ? VLANES : 0) + (p) / (2 * (b)) * 2 * (b) + (p) % (b))
#define TIDX_HI(p, b) (TIDX(p, b) + (b))
#if VLANES == 16
#define LANES(F, b) F(0, b), F(1, b), F(2, b), F(3, b), F(4, b), F(5, b), F(6, b), F(7, b), \
                    F(8, b), F(9, b), F(10, b), F(11, b), F(12, b), F(13, b), F(14, b), F(15, b)
#elif VLANES == 8
#define LANES(F, b) F(0, b), F(1, b), F(2, b), F(3, b), F(4, b), F(5, b), F(6, b), F(7, b)
#else
#define LANES(F, b) F(0, b), F(1, b), F(2, b), F(3, b)
#endif
#define TRANSPOSE_STAGE(r, b)                                                               \
    for (int i = 0; i < VLANES; i++)                                                        \
        if (!(i & (b))) {                                                                   \
            const vec lo = SHUF(r[i], r[i + (b)], LANES(TIDX, b));                          \
            const vec hi = SHUF(r[i], r[i + (b)], LANES(TIDX_HI, b));                       \
            r[i] = lo;                                                                      \
            r[i + (b)] = hi;                                                                \
        }
static inline void transpose(vec r[VLANES])
{
    TRANSPOSE_STAGE(r, 1)
    TRANSPOSE_STAGE(r, 2)
#if VLANES >= 8
    TRANSPOSE_STAGE(r, 4)
#endif
#if VLANES >= 16
    TRANSPOSE_STAGE(r, 8)
#endif
}
#endif /* HAVE_SHUFFLES */

/*
 * phi(v) in place over an (m, n) block of pre-activations, for activation act (a
 * compile-time constant after inlining): the block as one run of m n values, or, for PReLU,
 * row by row, lane j of a row taking the slope s[j].
 */
static inline __attribute__((always_inline)) void
act_block(real *v, const real *s, int64_t m, int64_t n, const int act)
{
    if (act == GC_ACT_LINEAR) return;
    if (act == GC_ACT_PRELU) {
        for (int64_t i = 0; i < m; i++) {
            real *row = v + i * n;
            int64_t j = 0;
            for (; j + VL <= n; j += VL) vstore(row + j, act_lanes(vload(row + j), act, vload(s + j)));
            if (j < n)
                vstore_part(row + j, act_lanes(vload_part(row + j, n - j), act,
                                               vload_part(s + j, n - j)), n - j);
        }
        return;
    }
    const int64_t nt = m * n;
    int64_t i = 0;
    for (; i + VL <= nt; i += VL) vstore(v + i, act_lanes(vload(v + i), act, (vec){0}));
    if (i < nt) vstore_part(v + i, act_lanes(vload_part(v + i, nt - i), act, (vec){0}), nt - i);
}

/* act_block for an activation code known only at run time: one switch, outside the loops. */
static void act_inplace(real *v, const real *s, int64_t m, int64_t n, int act)
{
    switch (act) {
    case GC_ACT_SIGMOID: act_block(v, s, m, n, GC_ACT_SIGMOID); break;
    case GC_ACT_TANH: act_block(v, s, m, n, GC_ACT_TANH); break;
    case GC_ACT_SOFTSIGN: act_block(v, s, m, n, GC_ACT_SOFTSIGN); break;
    case GC_ACT_RELU: act_block(v, s, m, n, GC_ACT_RELU); break;
    case GC_ACT_LEAKY_RELU: act_block(v, s, m, n, GC_ACT_LEAKY_RELU); break;
    case GC_ACT_ELU: act_block(v, s, m, n, GC_ACT_ELU); break;
    case GC_ACT_PRELU: act_block(v, s, m, n, GC_ACT_PRELU); break;
    default: break; /* GC_ACT_LINEAR */
    }
}

/* Tile shapes. Forward: up to EMAX examples x 4 neurons of dot products; weight gradient:
 * up to NMAX neurons x KV vectors along k; delta: KD vectors of one example. They fit the
 * register file: 32 zmm registers with AVX-512, 16 ymm/xmm otherwise. */
#if VBYTES >= 64
#define EMAX 5
#define KV 4
#else
#define EMAX 3
#define KV 2
#endif
#define NMAX 6
#define KD 4

/* The number of parts of at most `most` items that n items need; gc_split (internal.h)
 * gives their starts, as even as possible (10 examples make two tiles of 5, not 4 + 4 + 2). */
static inline int64_t n_parts(int64_t n, int64_t most) { return (n + most - 1) / most; }
#endif /* GC_NAIVE */

/* ---------------------------------------------------------------- dense layer: forward */

#ifdef GC_NAIVE
/*
 * Forward pass of one dense layer, the plain way: z = in . w^T + b, a = phi(z).
 *   a: (m, n_out) activations; z: (m, n_out) pre-activations, or NULL if not wanted
 *   in: m pointers to input rows of n_in values; w: (n_out, n_in); b: (n_out)
 *   slope: (n_out) the PReLU slopes (read for GC_ACT_PRELU only); act: GC_ACT_*
 */
static void dense_forward_naive(real *z, real *a, const real *const *in, const real *w,
                                const real *b, const real *slope, int act, int64_t m,
                                int64_t n_in, int64_t n_out)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n_out; j++) {
            real s = b[j];
            for (int64_t k = 0; k < n_in; k++) s += w[j * n_in + k] * in[i][k];
            if (z) z[i * n_out + j] = s;
            a[i * n_out + j] = act_scalar(s, act, act == GC_ACT_PRELU ? slope[j] : 0);
        }
}

#else

/*
 * Forward tile: E examples x N neurons of pre-activations (E <= EMAX, N <= 4, constants after
 * inlining). Per vector step along k, E + N loads feed E*N multiply-adds. Each example's
 * 4 sums of a full tile are added up across lanes together (hsum4), one store per example.
 *   zt: rows of ld values, the tile's first entry at [0], gets x.w + b
 *   x: E input rows; w: N weight rows of n_in (row stride n_in); b: N biases
 */
static inline __attribute__((always_inline)) void
forward_tile(real *zt, int64_t ld, const real *const *x, const real *w, const real *b,
             int64_t n_in, const int E, const int N)
{
    vec acc[EMAX][4];
    for (int e = 0; e < E; e++)
        for (int r = 0; r < N; r++) acc[e][r] = (vec){0};
    int64_t k = 0;
    for (; k + VL <= n_in; k += VL) {
        vec xv[EMAX], wv[4];
        for (int e = 0; e < E; e++) xv[e] = vload(x[e] + k);
        for (int r = 0; r < N; r++) wv[r] = vload(w + r * n_in + k);
        for (int e = 0; e < E; e++)
            for (int r = 0; r < N; r++) acc[e][r] += xv[e] * wv[r];
    }
    if (k < n_in && n_in >= VL) { /* an overlapping last vector, its old lanes masked off */
        const ivec mask = tail_mask(n_in - k);
        const int64_t kt = n_in - VL;
        vec xv[EMAX], wv[4];
        for (int e = 0; e < E; e++) xv[e] = vload(x[e] + kt);
        for (int r = 0; r < N; r++) wv[r] = vload(w + r * n_in + kt);
        for (int e = 0; e < E; e++)
            for (int r = 0; r < N; r++) acc[e][r] += vselect(mask, xv[e] * wv[r], (vec){0});
        k = n_in;
    }
#ifdef HAVE_SHUFFLES
    if (N == 4 && k == n_in) { /* (rows shorter than a vector end in the scalar loop below) */
        v4 bv;
        memcpy(&bv, b, sizeof bv);
        for (int e = 0; e < E; e++) {
            const v4 s = hsum4(acc[e][0], acc[e][1], acc[e][2], acc[e][3]) + bv;
            memcpy(zt + e * ld, &s, sizeof s);
        }
        return;
    }
#endif
    for (int e = 0; e < E; e++)
        for (int r = 0; r < N; r++) {
            real sum = hsum(acc[e][r]);
            for (int64_t kk = k; kk < n_in; kk++) sum += x[e][kk] * w[r * n_in + kk];
            zt[e * ld + r] = sum + b[r];
        }
}

/* E examples against every neuron, in groups of 4 and a last, smaller one: 30 = 7 x 4 + 2,
 * not 6 x 4 + 2 x 3 (GCC's code for the 5 x 3 tile reloads the inputs per neuron and was
 * measured much slower per multiply-add than the 5 x 4 tile). */
static inline __attribute__((always_inline)) void
forward_rows(real *zr, const real *const *x, const real *w, const real *b, int64_t n_in,
             int64_t n_out, const int E)
{
    for (int64_t j = 0, N; j < n_out; j += N) {
        N = n_out - j < 4 ? n_out - j : 4;
        real *zt = zr + j;
        const real *wj = w + j * n_in, *bj = b + j;
        switch (N) {
        case 4: forward_tile(zt, n_out, x, wj, bj, n_in, E, 4); break;
        case 3: forward_tile(zt, n_out, x, wj, bj, n_in, E, 3); break;
        case 2: forward_tile(zt, n_out, x, wj, bj, n_in, E, 2); break;
        default: forward_tile(zt, n_out, x, wj, bj, n_in, E, 1); break;
        }
    }
}

/*
 * Narrow layers. When the rows are only a few vectors long (the 30 inputs of a hidden layer
 * of 30), the dot products above spend more on adding up their lanes (hsum) and masking
 * the last vector than on multiply-adds. Such a layer goes the other way round: its
 * weights are copied transposed into a small block, and each example's outputs are formed
 * a vector at a time,
 *   z[i, j..] = b[j..] + sum_k in[i][k] w[j.., k]    (each output summed as the plain loop)
 * with the sigmoid applied in registers. Outputs go in groups of up to NCV vectors (the
 * group's last vector overlapping the one before it when the group's width is not a
 * multiple of VL; a group narrower than a vector is padded with zeros and stored in part),
 * examples in tiles of up to NE.
 */
#if VBYTES >= 64
#define NE 4
#else
#define NE 2
#endif
#define NCV 4
#define WTS (NCV * VL) /* the row stride of a group's transposed weights */
#define NARROW_IN 64   /* the longest rows that go the narrow way */

/* Whether the narrow way pays for a layer: short rows, and at least 3/4 of the vector lanes
 * used by outputs (a layer of 10 outputs in vectors of 8 or 16 lanes gained nothing). Not
 * the number of examples, so that an example's outputs are the same bits whatever the
 * examples beside it (for 30x30 the transposition costs more than it saves below 6
 * examples: 1 example, AVX-512 double, takes 500 ns instead of 375). */
static int narrow_pays(int64_t n_in, int64_t n_out)
{
    const int64_t lanes = (n_out + VL - 1) / VL * VL;
    return n_in <= NARROW_IN && 4 * n_out >= 3 * lanes;
}

/*
 * Narrow tile: E examples (<= NE) x T vectors (<= NCV) of a group's outputs:
 *   a, z (z may be NULL): the tile's first outputs, E rows of stride n_out; vector t goes
 *      to column cs[t], or, in a group narrower than a vector (T = 1), its first wg lanes
 *   x: E input rows of n_in; wt: (n_in, WTS) the group's weights transposed; bt: (WTS)
 *   st: (WTS) the group's PReLU slopes, as bt (read for GC_ACT_PRELU only)
 */
static inline __attribute__((always_inline)) void
narrow_tile(real *z, real *a, int64_t n_out, const int64_t *cs, int64_t wg,
            const real *const *x, const real *wt, const real *bt, const real *st, int64_t n_in,
            const int E, const int T, const int act)
{
    vec acc[NE][NCV];
    for (int e = 0; e < E; e++)
        for (int t = 0; t < T; t++) acc[e][t] = vload(bt + t * VL);
    for (int64_t k = 0; k < n_in; k++) {
        vec wv[NCV];
        for (int t = 0; t < T; t++) wv[t] = vload(wt + k * WTS + t * VL);
        for (int e = 0; e < E; e++) {
            const vec xe = vsplat(x[e][k]);
            for (int t = 0; t < T; t++) acc[e][t] += xe * wv[t];
        }
    }
    for (int e = 0; e < E; e++)
        for (int t = 0; t < T; t++) {
            const vec av = act_lanes(acc[e][t], act, act == GC_ACT_PRELU ? vload(st + t * VL)
                                                                         : (vec){0});
            if (T == 1 && wg < VL) {
                if (z) vstore_part(z + e * n_out, acc[e][t], wg);
                vstore_part(a + e * n_out, av, wg);
            } else {
                if (z) vstore(z + e * n_out + cs[t], acc[e][t]);
                vstore(a + e * n_out + cs[t], av);
            }
        }
}

/* All m examples against one group of T output vectors (T a constant after inlining). */
static inline __attribute__((always_inline)) void
narrow_group(real *z, real *a, const real *const *in, const real *wt, const real *bt,
             const real *st, const int64_t *cs, int64_t wg, int64_t m, int64_t n_in,
             int64_t n_out, const int T, const int act)
{
    const int64_t np = n_parts(m, NE);
    for (int64_t q = 0; q < np; q++) {
        const int64_t i = gc_split(m, np, q), E = gc_split(m, np, q + 1) - i;
        real *zi = z ? z + i * n_out : NULL, *ai = a + i * n_out;
        switch (E) {
#if NE >= 4
        case 4: narrow_tile(zi, ai, n_out, cs, wg, in + i, wt, bt, st, n_in, 4, T, act); break;
        case 3: narrow_tile(zi, ai, n_out, cs, wg, in + i, wt, bt, st, n_in, 3, T, act); break;
#endif
        case 2: narrow_tile(zi, ai, n_out, cs, wg, in + i, wt, bt, st, n_in, 2, T, act); break;
        default: narrow_tile(zi, ai, n_out, cs, wg, in + i, wt, bt, st, n_in, 1, T, act); break;
        }
    }
}

/*
 * A group's weights and biases as narrow_tile reads them: column c = t VL + l of
 * wt (n_in, WTS) is weight row cs[t] + l of w (rows of n_in; zeros past wg), entry c of bt
 * its bias. With shuffles, a group of at least one vector is copied in VL x VL blocks
 * transposed in registers (a row's last block overlapping the one before it, as vstart
 * places it); otherwise one value at a time.
 *   wt: (n_in, WTS); bt: (WTS); w: the group's first row; b: its first bias
 */
static void narrow_weights(real *wt, real *bt, const real *w, const real *b, const int64_t *cs,
                           int64_t T, int64_t wg, int64_t n_in)
{
#ifdef HAVE_SHUFFLES
    if (wg >= VL && n_in >= VL) {
        for (int64_t t = 0; t < T; t++) {
            const real *wr = w + cs[t] * n_in;
            for (int64_t kb = 0; kb < (n_in + VL - 1) / VL; kb++) {
                const int64_t ks = vstart(kb, n_in);
                vec r[VLANES];
                for (int l = 0; l < VLANES; l++) r[l] = vload(wr + l * n_in + ks);
                transpose(r);
                for (int q = 0; q < VLANES; q++) vstore(wt + (ks + q) * WTS + t * VL, r[q]);
            }
            memcpy(bt + t * VL, b + cs[t], sizeof(vec));
        }
        return;
    }
#endif
    for (int64_t t = 0; t < T; t++)
        for (int64_t l = 0; l < VL; l++) {
            const int64_t j = cs[t] + l, c = t * VL + l;
            const int pad = j >= wg;
            for (int64_t k = 0; k < n_in; k++) wt[k * WTS + c] = pad ? 0 : w[j * n_in + k];
            bt[c] = pad ? 0 : b[j];
        }
}

/* The first wg values of v from column cs[t] for each vector t of a group, as narrow_weights
 * lays out the biases (zeros past wg): the group's PReLU slopes. st: (WTS) */
static void narrow_values(real *st, const real *v, const int64_t *cs, int64_t T, int64_t wg)
{
    for (int64_t t = 0; t < T; t++)
        for (int64_t l = 0; l < VL; l++) st[t * VL + l] = cs[t] + l >= wg ? 0 : v[cs[t] + l];
}

/*
 * Forward pass of a narrow layer (n_in <= NARROW_IN; the contract of dense_forward_naive),
 * for activation act (a constant after inlining):
 *   a, z: (m, n_out), z may be NULL; in: m row pointers of n_in; w: (n_out, n_in); b: (n_out)
 * Outputs in groups of wg <= WTS from j0, vector t of a group at column cs[t] of it.
 */
static inline __attribute__((always_inline)) void
dense_forward_narrow(real *z, real *a, const real *const *in, const real *w, const real *b,
                     const real *slope, int64_t m, int64_t n_in, int64_t n_out, const int act)
{
    real wt[NARROW_IN * WTS], bt[WTS], st[WTS];
    for (int64_t j0 = 0, wg; j0 < n_out; j0 += wg) {
        wg = n_out - j0 < WTS ? n_out - j0 : WTS;
        const int64_t T = (wg + VL - 1) / VL;
        int64_t cs[NCV];
        for (int64_t t = 0; t < T; t++) cs[t] = wg < VL ? 0 : vstart(t, wg);
        narrow_weights(wt, bt, w + j0 * n_in, b + j0, cs, T, wg, n_in);
        if (act == GC_ACT_PRELU) narrow_values(st, slope + j0, cs, T, wg);
        real *zg = z ? z + j0 : NULL;
        switch (T) {
        case 4: narrow_group(zg, a + j0, in, wt, bt, st, cs, wg, m, n_in, n_out, 4, act); break;
        case 3: narrow_group(zg, a + j0, in, wt, bt, st, cs, wg, m, n_in, n_out, 3, act); break;
        case 2: narrow_group(zg, a + j0, in, wt, bt, st, cs, wg, m, n_in, n_out, 2, act); break;
        default: narrow_group(zg, a + j0, in, wt, bt, st, cs, wg, m, n_in, n_out, 1, act); break;
        }
    }
}

/* The narrow forward pass for an activation known at run time: one switch, outside the
 * loops, so each activation has its own specialised tiles. */
static void dense_forward_narrow_any(real *z, real *a, const real *const *in, const real *w,
                                     const real *b, const real *slope, int act, int64_t m,
                                     int64_t n_in, int64_t n_out)
{
#define NARROW(ACT) dense_forward_narrow(z, a, in, w, b, slope, m, n_in, n_out, ACT)
    switch (act) {
    case GC_ACT_SIGMOID: NARROW(GC_ACT_SIGMOID); break;
    case GC_ACT_TANH: NARROW(GC_ACT_TANH); break;
    case GC_ACT_SOFTSIGN: NARROW(GC_ACT_SOFTSIGN); break;
    case GC_ACT_RELU: NARROW(GC_ACT_RELU); break;
    case GC_ACT_LEAKY_RELU: NARROW(GC_ACT_LEAKY_RELU); break;
    case GC_ACT_ELU: NARROW(GC_ACT_ELU); break;
    case GC_ACT_PRELU: NARROW(GC_ACT_PRELU); break;
    default: NARROW(GC_ACT_LINEAR); break;
    }
#undef NARROW
}

/*
 * Forward pass of one dense layer (same contract as dense_forward_naive):
 *   a: (m, n_out); z: (m, n_out) or NULL; in: m row pointers of n_in; w: (n_out, n_in)
 * Narrow layers where that pays (narrow_pays) go the narrow way, the activation applied in
 * registers; otherwise tiles of up to EMAX examples x 4 neurons write z = x.w + b into a,
 * and one vectorised pass then applies the activation to the whole (m, n_out) block.
 */
static void dense_forward(real *z, real *a, const real *const *in, const real *w,
                          const real *b, const real *slope, int act, int64_t m, int64_t n_in,
                          int64_t n_out)
{
    if (narrow_pays(n_in, n_out)) {
        dense_forward_narrow_any(z, a, in, w, b, slope, act, m, n_in, n_out);
        return;
    }
    const int64_t np = n_parts(m, EMAX);
    for (int64_t q = 0; q < np; q++) {
        const int64_t i = gc_split(m, np, q), E = gc_split(m, np, q + 1) - i;
        real *zr = a + i * n_out;
        const real *const *x = in + i;
        switch (E) {
#if EMAX >= 5
        case 5: forward_rows(zr, x, w, b, n_in, n_out, 5); break;
        case 4: forward_rows(zr, x, w, b, n_in, n_out, 4); break;
#endif
        case 3: forward_rows(zr, x, w, b, n_in, n_out, 3); break;
        case 2: forward_rows(zr, x, w, b, n_in, n_out, 2); break;
        default: forward_rows(zr, x, w, b, n_in, n_out, 1); break;
        }
    }
    if (z) memcpy(z, a, (size_t)(m * n_out) * sizeof(real));
    act_inplace(a, slope, m, n_out, act);
}
#endif

/* ---------------------------------------------------------------- dense layer: backward */

/*
 * Delta of the layer below: dprev = (delta . w) * phi'(z_prev), the plain way, phi' taken
 * from the activations a_prev (activations.h; GC_ACT_LINEAR gives delta . w itself, which
 * is what prelu_backward then turns into the PReLU layer's delta).
 *   dprev: (m, n_in); delta: (m, n_out); w: (n_out, n_in); a_prev: (m, n_in) activations
 *   act_prev: the activation of the layer below (GC_ACT_*, not GC_ACT_PRELU)
 */
static void dense_backward_delta_naive(real *dprev, const real *delta, const real *w,
                                       const real *a_prev, int act_prev, int64_t m,
                                       int64_t n_in, int64_t n_out)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t k = 0; k < n_in; k++) {
            real s = 0;
            for (int64_t j = 0; j < n_out; j++) s += delta[i * n_out + j] * w[j * n_in + k];
            dprev[i * n_in + k] = dact_mul_scalar(s, a_prev[i * n_in + k], act_prev);
        }
}

#ifndef GC_NAIVE
/*
 * Delta tile: vectors v0 .. v0+kv-1 (kv <= KD, starts from vstart) of one example's dprev,
 * summed over the n_out neurons in registers, then times phi'(z_prev) from a_prev (act a
 * constant after inlining) and stored.
 * Overlapping vectors compute the same values for the lanes they share.
 *   dp, ap: the example's rows of n_in; d: its n_out deltas; w: (n_out, n_in)
 */
static inline __attribute__((always_inline)) void
delta_tile(real *dp, const real *d, const real *w, const real *ap, int64_t n_in,
           int64_t n_out, int64_t v0, const int kv, const int act)
{
    vec acc[KD];
    int64_t ks[KD];
    for (int t = 0; t < kv; t++) {
        ks[t] = vstart(v0 + t, n_in);
        acc[t] = (vec){0};
    }
    for (int64_t j = 0; j < n_out; j++) {
        const vec dj = vsplat(d[j]);
        for (int t = 0; t < kv; t++) acc[t] += dj * vload(w + j * n_in + ks[t]);
    }
    for (int t = 0; t < kv; t++) vstore(dp + ks[t], dact_mul_lanes(acc[t], vload(ap + ks[t]), act));
}

/* One example's dprev row (n_in >= VL): strips of up to KD vectors. */
static inline __attribute__((always_inline)) void
delta_row(real *dp, const real *d, const real *w, const real *ap, int64_t n_in,
          int64_t n_out, const int act)
{
    const int64_t nvec = (n_in + VL - 1) / VL;
    for (int64_t v = 0; v < nvec; v += KD) {
        switch (nvec - v < KD ? nvec - v : KD) {
        case 4: delta_tile(dp, d, w, ap, n_in, n_out, v, 4, act); break;
        case 3: delta_tile(dp, d, w, ap, n_in, n_out, v, 3, act); break;
        case 2: delta_tile(dp, d, w, ap, n_in, n_out, v, 2, act); break;
        default: delta_tile(dp, d, w, ap, n_in, n_out, v, 1, act); break;
        }
    }
}

/*
 * Delta of the layer below (same contract as dense_backward_delta_naive):
 *   dprev: (m, n_in); delta: (m, n_out); w: (n_out, n_in); a_prev: (m, n_in)
 * Per example, up to KD vectors of dprev stay in registers while the n_out weight rows
 * stream past; a row that is not a whole number of vectors ends with an overlapping one;
 * rows shorter than a vector go the plain way.
 */
static void dense_backward_delta(real *dprev, const real *delta, const real *w,
                                 const real *a_prev, int act_prev, int64_t m, int64_t n_in,
                                 int64_t n_out)
{
    if (n_in < VL) {
        dense_backward_delta_naive(dprev, delta, w, a_prev, act_prev, m, n_in, n_out);
        return;
    }
#define ROWS(ACT)                                                                           \
    for (int64_t i = 0; i < m; i++)                                                         \
        delta_row(dprev + i * n_in, delta + i * n_out, w, a_prev + i * n_in, n_in, n_out, ACT)
    switch (act_prev) { /* one loop per activation, chosen once */
    case GC_ACT_SIGMOID: ROWS(GC_ACT_SIGMOID); break;
    case GC_ACT_TANH: ROWS(GC_ACT_TANH); break;
    case GC_ACT_SOFTSIGN: ROWS(GC_ACT_SOFTSIGN); break;
    case GC_ACT_RELU: ROWS(GC_ACT_RELU); break;
    case GC_ACT_LEAKY_RELU: ROWS(GC_ACT_LEAKY_RELU); break;
    case GC_ACT_ELU: ROWS(GC_ACT_ELU); break;
    default: ROWS(GC_ACT_LINEAR); break;
    }
#undef ROWS
}
#endif

/*
 * Weight gradient of one layer applied as the update u, the plain way:
 *   out[j,k] = step_scalar(out[j,k], &vel[j,k], sum_i delta[i,j] * in[i][k], u, u.kind)
 * so the weights are updated without their gradient ever being stored (GC_STEP_SUM adds
 * the gradient to out).
 *   out, vel: (n_out, n_in), vel NULL unless u is a momentum kind; delta: (m, n_out);
 *   in: m pointers to input rows of n_in
 *   ahead: NULL, or m_ahead row pointers of n_in, rows the caller will read next (the next
 *   mini-batch's inputs), for the blocked kernel to bring into the cache as it goes
 */
static void dense_backward_weights_naive(real *out, real *vel, const real *delta,
                                         const real *const *in, gc_step u, int64_t m,
                                         int64_t n_in, int64_t n_out, const real *const *ahead,
                                         int64_t m_ahead)
{
    (void)ahead, (void)m_ahead; /* a hint the plain loops do without */
    for (int64_t j = 0; j < n_out; j++)
        for (int64_t k = 0; k < n_in; k++) {
            real g = 0, none = 0;
            for (int64_t i = 0; i < m; i++) g += delta[i * n_out + j] * in[i][k];
            real *v = vel ? &vel[j * n_in + k] : &none;
            out[j * n_in + k] = step_scalar(out[j * n_in + k], v, g, u, u.kind);
        }
}

#ifndef GC_NAIVE
/*
 * Weight-gradient tile: N neurons (<= NMAX) x kv vectors (<= KV) along k, vector t starting
 * at vstart(v0 + t, n_in), summed over the m examples in registers, then applied as the
 * update u of kind K (a constant after inlining):
 *   out[r, k] = step_lanes(out[r, k], &vel[r, k], sum_i d[i, r] x[i][k], u, K)
 *   d: the tile's first column of delta (m rows of n_out); out, vel: N rows of stride n_in
 * Per example, kv loads and N broadcasts feed N*kv multiply-adds. Every output vector (and
 * velocity) of a row is loaded before any of the row is stored, so an overlapping last
 * vector sees the old values and writes the same values as the vector it overlaps.
 */
static inline __attribute__((always_inline)) void
weights_tile(real *out, real *vel, const real *d, const real *const *x, gc_step u, int64_t m,
             int64_t n_in, int64_t n_out, int64_t v0, const int N, const int kv, const int K)
{
    vec g[NMAX][KV];
    int64_t ks[KV];
    for (int t = 0; t < kv; t++) ks[t] = vstart(v0 + t, n_in);
    for (int r = 0; r < N; r++)
        for (int t = 0; t < kv; t++) g[r][t] = (vec){0};
    for (int64_t i = 0; i < m; i++) {
        vec xv[KV];
        for (int t = 0; t < kv; t++) xv[t] = vload(x[i] + ks[t]);
        for (int r = 0; r < N; r++) {
            const vec dr = vsplat(d[i * n_out + r]);
            for (int t = 0; t < kv; t++) g[r][t] += dr * xv[t];
        }
    }
    /* row by row (the vectors that overlap are those of one row), so that a velocity needs
     * kv more registers, not N kv; unrolled, so that g stays in registers (rolled, GCC 12
     * kept g on the stack for the momentum kinds: an epoch of [784,30,30,10] on 50,000
     * images, m = 10, AVX-512 double, took 175 ms with momentum or Nesterov instead of 143,
     * plain SGD 125) */
    const int momentum = K == GC_STEP_MOMENTUM || K == GC_STEP_NESTEROV;
#pragma GCC unroll 8
    for (int r = 0; r < N; r++) {
        vec p[KV], v[KV];
#pragma GCC unroll 4
        for (int t = 0; t < kv; t++) {
            v[t] = momentum ? vload(vel + r * n_in + ks[t]) : (vec){0};
            p[t] = step_lanes(vload(out + r * n_in + ks[t]), &v[t], g[r][t], u, K);
        }
#pragma GCC unroll 4
        for (int t = 0; t < kv; t++) {
            vstore(out + r * n_in + ks[t], p[t]);
            if (momentum) vstore(vel + r * n_in + ks[t], v[t]);
        }
    }
}

/* One tile of N neurons (a run-time value) and kv vectors (a constant after inlining). */
static inline __attribute__((always_inline)) void
weights_strip(real *out, real *vel, const real *d, const real *const *x, gc_step u, int64_t m,
              int64_t n_in, int64_t n_out, int64_t v0, int64_t N, const int kv, const int K)
{
    switch (N) {
    case 6: weights_tile(out, vel, d, x, u, m, n_in, n_out, v0, 6, kv, K); break;
    case 5: weights_tile(out, vel, d, x, u, m, n_in, n_out, v0, 5, kv, K); break;
    case 4: weights_tile(out, vel, d, x, u, m, n_in, n_out, v0, 4, kv, K); break;
    case 3: weights_tile(out, vel, d, x, u, m, n_in, n_out, v0, 3, kv, K); break;
    case 2: weights_tile(out, vel, d, x, u, m, n_in, n_out, v0, 2, kv, K); break;
    default: weights_tile(out, vel, d, x, u, m, n_in, n_out, v0, 1, kv, K); break;
    }
}

/*
 * Values k0 .. k1-1 of m rows asked into the L2 cache, a line at a time. Spread over the
 * strips of a weight-gradient pass, the next mini-batch's rows arrive while the weights are
 * computed (rows of a large data set, visited at random, come from DRAM). Into L2, not L1:
 * the rows of the current mini-batch are using L1 (one epoch of [784,30,30,10] on 50,000
 * images, m = 10: 130 ms with L2 hints, 137 ms with L1 hints, 143 ms without).
 */
static inline void prefetch_strip(const real *const *rows, int64_t m, int64_t k0, int64_t k1)
{
    for (int64_t i = 0; i < m; i++) {
        const char *p = (const char *)(rows[i] + k0), *end = (const char *)(rows[i] + k1);
        for (p -= (uintptr_t)p % 64; p < end; p += 64) __builtin_prefetch(p, 0, 2);
    }
}

/*
 * Weight gradient of one layer applied as the update u (same contract as
 * dense_backward_weights_naive), for the update's kind K (a constant after inlining):
 *   out, vel: (n_out, n_in); delta: (m, n_out); in: m row pointers of n_in
 * Neurons in even groups of at most NMAX, k in strips of KV vectors. The strip loop is the
 * outer one: the m input strips stay in the L1 cache while every group's tile uses them, and
 * each weight is read and written once. The last strip of a row holds all its remaining
 * vectors, the last one overlapping when n_in is not a multiple of VL (the two overlapping
 * vectors are always in the same strip).
 */
static inline __attribute__((always_inline)) void
weights_pass(real *out, real *vel, const real *delta, const real *const *in, gc_step u,
             int64_t m, int64_t n_in, int64_t n_out, const real *const *ahead, int64_t m_ahead,
             const int K)
{
    const int64_t ng = n_parts(n_out, NMAX), nvec = (n_in + VL - 1) / VL;
    const int overlap = n_in % VL != 0;
    for (int64_t v = 0, kv; v < nvec; v += kv) {
        kv = nvec - v < KV ? nvec - v : KV;
        if (overlap && nvec - v - kv == 1) kv--; /* keep the overlapping pair in one strip */
        if (ahead) prefetch_strip(ahead, m_ahead, vstart(v, n_in), vstart(v + kv - 1, n_in) + VL);
        for (int64_t q = 0; q < ng; q++) {
            const int64_t j = gc_split(n_out, ng, q), N = gc_split(n_out, ng, q + 1) - j;
            real *o = out + j * n_in, *ve = vel ? vel + j * n_in : NULL;
            const real *d = delta + j;
            switch (kv) {
#if KV >= 4
            case 4: weights_strip(o, ve, d, in, u, m, n_in, n_out, v, N, 4, K); break;
            case 3: weights_strip(o, ve, d, in, u, m, n_in, n_out, v, N, 3, K); break;
#endif
            case 2: weights_strip(o, ve, d, in, u, m, n_in, n_out, v, N, 2, K); break;
            default: weights_strip(o, ve, d, in, u, m, n_in, n_out, v, N, 1, K); break;
            }
        }
    }
}

/* The weight pass for the update's kind, chosen once; rows shorter than a vector go the
 * plain way. */
static void dense_backward_weights(real *out, real *vel, const real *delta,
                                   const real *const *in, gc_step u, int64_t m, int64_t n_in,
                                   int64_t n_out, const real *const *ahead, int64_t m_ahead)
{
    if (n_in < VL) {
        dense_backward_weights_naive(out, vel, delta, in, u, m, n_in, n_out, NULL, 0);
        return;
    }
#define PASS(K) weights_pass(out, vel, delta, in, u, m, n_in, n_out, ahead, m_ahead, K)
    BY_STEP_KIND(u.kind, PASS)
#undef PASS
}
#endif /* GC_NAIVE */

/* db[j] = sum_i delta[i,j].  db: (n); delta: (m, n) */
static void dense_backward_bias(real *db, const real *delta, int64_t m, int64_t n)
{
    for (int64_t j = 0; j < n; j++) db[j] = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) db[j] += delta[i * n + j];
}

/* ---------------------------------------------------------------- output layer */

/*
 * Softmax output and log-likelihood cost (the book's chapter 3), shared by every level:
 *   delta = (sum_j y_j) a - y  (a - y for one-hot targets), C = sum_j y_j (lse - z_j)
 * with lse = log sum_j e^(z_j) = mx - log a_max (mx the row's largest z, a_max its largest
 * a = 1 / sum_j e^(z_j - mx), never below 1/n): one log per row, no exponential, exact for
 * any z where the a's are. Returns the sum over the rows of the cost.
 *   delta, z, a, y: (m, n)
 */
static double output_loglik(real *delta, const real *z, const real *a, const real *y,
                            int64_t m, int64_t n)
{
    double c = 0.0;
    for (int64_t i = 0; i < m; i++) {
        const real *zi = z + i * n, *ai = a + i * n, *yi = y + i * n;
        real mx = zi[0], amax = ai[0], ysum = 0;
        for (int64_t j = 1; j < n; j++) {
            mx = zi[j] > mx ? zi[j] : mx;
            amax = ai[j] > amax ? ai[j] : amax;
        }
        double row = 0.0;
        for (int64_t j = 0; j < n; j++) {
            ysum += yi[j];
            row += (double)yi[j] * ((double)mx - (double)zi[j]);
        }
        for (int64_t j = 0; j < n; j++) delta[i * n + j] = ysum * ai[j] - yi[j];
        c += row - (double)ysum * log((double)amax);
    }
    return c;
}

/*
 * PReLU's backward step for one layer (He, Zhang, Ren & Sun 2015), shared by every level.
 * On entry delta holds dC/da (dense_backward_delta with GC_ACT_LINEAR); on return dC/dz:
 *   delta[i,j] <- z[i,j] > 0 ? delta[i,j] : slope[j] delta[i,j]
 *   ds[j] = sum_i dC/da[i,j] min(z[i,j], 0), the gradient of the slopes summed over the rows
 *   delta, z: (m, n); slope, ds: (n)
 */
static void prelu_backward(real *delta, real *ds, const real *z, const real *slope, int64_t m,
                           int64_t n)
{
    for (int64_t j = 0; j < n; j++) ds[j] = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            const real g = delta[i * n + j], zz = z[i * n + j];
            if (zz > 0) continue;
            ds[j] += g * zz;
            delta[i * n + j] = slope[j] * g;
        }
}

/* sum of x[i]^2 over n values, in double: the gradient-rms monitor's sum of |delta_x|^2 */
static double sum_squares(const real *x, int64_t n)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
}

#ifndef GC_NAIVE
/*
 * sum of x[i]^2 over n values, in double, in NSQ partial sums of DL lanes each: lane w of
 * sum a adds up the values i = (NSQ k + a) DL + w; the values past the last whole group,
 * then the lanes, go into one sum. sum_squares' single vector of sums waits for each
 * multiply-add to finish before the next (its latency for every DL values); NSQ sums keep
 * NSQ in flight. The clipping norm of [784,30,30,10] is a sum of 23,860 squares: a clipped
 * epoch on 50,000 images, m = 10, AVX-512 double, took 170.8 ms with sum_squares, 161.4 ms
 * with this (the additions in another order: the norm's last bits may differ).
 */
#define NSQ 4
static double sum_squares_long(const real *x, int64_t n)
{
    dvec acc[NSQ] = {{0}};
    int64_t i = 0;
    for (; i + NSQ * DL <= n; i += NSQ * DL)
        for (int a = 0; a < NSQ; a++) {
            dpart part; /* DL values, widened to double */
            memcpy(&part, x + i + a * DL, sizeof part);
            const dvec w = __builtin_convertvector(part, dvec);
            acc[a] += w * w;
        }
    double s = 0.0;
    for (; i < n; i++) s += (double)x[i] * (double)x[i];
    for (int a = 0; a < NSQ; a++)
        for (int w = 0; w < DL; w++) s += acc[a][w];
    return s;
}
#endif

/* Softmax of each of the m rows of n values in place, the plain way:
 * a[i,j] <- e^(a[i,j] - mx_i) / sum_k e^(a[i,k] - mx_i), mx_i the row's largest value. */
static void softmax_rows_naive(real *a, int64_t m, int64_t n)
{
    for (int64_t i = 0; i < m; i++) {
        real *r = a + i * n, mx = r[0], sum = 0;
        for (int64_t j = 1; j < n; j++) mx = r[j] > mx ? r[j] : mx;
        for (int64_t j = 0; j < n; j++) {
#ifdef GC_FLOAT32
            r[j] = expf(r[j] - mx);
#else
            r[j] = exp(r[j] - mx);
#endif
            sum += r[j];
        }
        for (int64_t j = 0; j < n; j++) r[j] /= sum;
    }
}

#ifndef GC_NAIVE
/* Softmax of each row in place (the contract of softmax_rows_naive): the shifts row by row,
 * then the exponentials of the whole (m, n) block VL at a time, then the sums. */
static void softmax_rows(real *a, int64_t m, int64_t n)
{
    const int64_t nt = m * n;
    if (nt < VL) { /* a block shorter than one vector */
        softmax_rows_naive(a, m, n);
        return;
    }
    for (int64_t i = 0; i < m; i++) {
        real *r = a + i * n, mx = r[0];
        for (int64_t j = 1; j < n; j++) mx = r[j] > mx ? r[j] : mx;
        for (int64_t j = 0; j < n; j++) r[j] -= mx;
    }
    int64_t k = 0;
    for (; k + VL <= nt; k += VL) vstore(a + k, vexp(vload(a + k)));
    if (k < nt) vstore_part(a + k, vexp(vload_part(a + k, nt - k)), nt - k);
    for (int64_t i = 0; i < m; i++) {
        real *r = a + i * n, sum = 0;
        for (int64_t j = 0; j < n; j++) sum += r[j];
        for (int64_t j = 0; j < n; j++) r[j] /= sum;
    }
}
#endif

/*
 * Output-layer delta and cost, the plain way.
 *   delta: (m, n) dC/dz; returns the sum over the m rows of the cost
 *   z, a: (m, n) output pre-activations and activations; y: (m, n) targets
 * Cross-entropy: delta = a - y, C = sum y*softplus(-z) + (1-y)*softplus(z)
 * Quadratic:     delta = (a - y) a (1 - a), C = 0.5 |a - y|^2
 * Log-likelihood (softmax outputs): output_loglik
 */
static double output_backward_naive(real *delta, const real *z, const real *a, const real *y,
                                    int cost, int64_t m, int64_t n)
{
    double c = 0.0;
    if (cost == GC_COST_LOG_LIKELIHOOD) return output_loglik(delta, z, a, y, m, n);
    for (int64_t i = 0; i < m * n; i++) {
        const real diff = a[i] - y[i];
        if (cost == GC_COST_CROSS_ENTROPY) {
            const double zz = (double)z[i], yy = (double)y[i];
            /* softplus(x) = max(x, 0) + log1p(exp(-|x|)); softplus(-z) - softplus(z) = -z */
            const double sp = (zz > 0 ? zz : 0.0) + log1p(exp(-fabs(zz)));
            delta[i] = diff;
            c += yy * (sp - zz) + (1.0 - yy) * sp;
        } else {
            delta[i] = diff * a[i] * ((real)1 - a[i]);
            c += 0.5 * (double)diff * (double)diff;
        }
    }
    return c;
}

#ifndef GC_NAIVE
/*
 * Cross-entropy cost of VL outputs, lane by lane:
 *   y softplus(-z) + (1-y) softplus(z) = y max(-z, 0) + (1-y) max(z, 0) + log1p(e^-|z|)
 * (softplus(x) = max(x, 0) + log1p(e^-|x|); written this way nothing cancels), with
 *   u = e^-|z| from vexp (|z| beyond -EXP_LO: clamped);
 *   log1p(u), u in [0, 1]: 2 atanh(s), s = u / (2 + u) in [0, 1/3], by its odd series to s^32
 *        in double, s^12 in float (the next term is below half an ulp of the sum).
 * Each term is within a few ulp of the type's precision of the libm formula of
 * output_backward_naive (float: the same few ulp of float, the terms are then added in
 * double); for |z| beyond -EXP_LO (700, or 87 in float) e^-|z| cannot change the sum beyond
 * its last bit, and NaN stays NaN.
 */
static inline vec xent_lanes(vec z, vec y)
{
    const int double_type = sizeof(real) == sizeof(double);
    const int QTOP = double_type ? 33 : 13;
    const ivec sign = (ivec)(-(vec){0}); /* -0: only the sign bits set */
    const vec u = vexp((vec)((ivec)z | sign)); /* e^-|z| */
    const vec sv = u / ((real)2 + u), s2 = sv * sv;
    vec q = (vec){0} + (real)(1.0 / QTOP);
    for (int n = QTOP - 2; n >= 1; n -= 2) q = q * s2 + (real)(1.0 / n);
    const vec pos = (vec)((ivec)z & (ivec)(z > 0));   /* max(z, 0); NaN gives 0 */
    const vec neg = (vec)((ivec)-z & (ivec)(z < 0));  /* max(-z, 0) */
    return y * neg + ((real)1 - y) * pos + (real)2 * sv * q;
}

/*
 * Output-layer delta and cost (same contract as output_backward_naive). The (m*n) block of
 * outputs goes VL at a time through xent_lanes (full vectors, then one overlapping the one
 * before it with its old lanes masked off; a block shorter than a vector is padded), the
 * costs added in double lanes.
 */
static double output_backward(real *delta, const real *z, const real *a, const real *y,
                              int cost, int64_t m, int64_t n)
{
    const int64_t nt = m * n;
    dvec acc = (dvec){0};
    if (cost == GC_COST_LOG_LIKELIHOOD) return output_loglik(delta, z, a, y, m, n);
    if (cost != GC_COST_CROSS_ENTROPY) return output_backward_naive(delta, z, a, y, cost, m, n);
    if (nt < VL) { /* one vector padded with zeros, the padding's costs dropped */
        const vec yv = vload_part(y, nt);
        vstore_part(delta, vload_part(a, nt) - yv, nt);
        const vec c = xent_lanes(vload_part(z, nt), yv);
        acc = add_wide(acc, vselect(tail_mask(VL - nt), (vec){0}, c));
    } else {
        for (int64_t i0 = 0; i0 < nt; i0 += VL) {
            const int64_t k = i0 + VL <= nt ? i0 : nt - VL;
            const vec yv = vload(y + k);
            vstore(delta + k, vload(a + k) - yv);
            vec c = xent_lanes(vload(z + k), yv);
            if (k != i0) c = vselect(tail_mask(nt - i0), c, (vec){0});
            acc = add_wide(acc, c);
        }
    }
    double sum = 0.0;
    for (int w = 0; w < DL; w++) sum += acc[w];
    return sum;
}
#endif /* GC_NAIVE */

/* ---------------------------------------------------------------- SGD */

/* The update u of n values p (velocities v: NULL unless u is a momentum kind) from a
 * gradient already summed (a bias gradient, or the gradient of a mini-batch split among
 * threads; see network.c), one loop per kind. */
static inline __attribute__((always_inline)) void
step_values(real *p, real *v, const real *g, gc_step u, int64_t n, const int K)
{
    if (K == GC_STEP_MOMENTUM || K == GC_STEP_NESTEROV) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) p[i] = step_scalar(p[i], &v[i], g[i], u, K);
    } else {
        real none = 0;
#pragma omp simd
        for (int64_t i = 0; i < n; i++) p[i] = step_scalar(p[i], &none, g[i], u, K);
    }
}

static void apply_step(real *p, real *v, const real *g, gc_step u, int64_t n)
{
#define VALUES(K) step_values(p, v, g, u, n, K)
    BY_STEP_KIND(u.kind, VALUES)
#undef VALUES
}

/* ---------------------------------------------------------------- the table */

#ifdef GC_NAIVE
static const layer_kernels kernels = {
    dense_forward_naive, dense_backward_delta_naive, dense_backward_weights_naive,
    dense_backward_bias, output_backward_naive, softmax_rows_naive, prelu_backward,
    sum_squares, sum_squares, apply_step,
};
#else
static const layer_kernels kernels = {
    dense_forward, dense_backward_delta, dense_backward_weights,
    dense_backward_bias, output_backward, softmax_rows, prelu_backward,
    sum_squares, sum_squares_long, apply_step,
};
#endif
const layer_kernels *const GC_LAYER_TABLE = &kernels;
