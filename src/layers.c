/*
 * The layer passes of gradcore's dense sigmoid networks, for one floating type and one
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

#include "internal.h"

/*
 * The SGD step with L2 weight decay (network2.py's update_mini_batch), on a number or a
 * vector alike:
 *   p <- decay p - step g
 * g the gradient summed over a mini-batch of m rows, step = eta / m, decay =
 * 1 - eta lmbda / n_train for weights and 1 for biases; decay 1 and step -1 add g to p (how
 * gradients are summed). dense_backward_weights applies it to each weight as soon as the
 * weight's gradient is formed, sgd_update to whole arrays.
 */
#define SGD_STEP(p, g, decay, step) ((decay) * (p) - (step) * (g))

static inline real sigmoid(real z)
{
#ifdef GC_FLOAT32
    return 1.0f / (1.0f + expf(-z));
#else
    return 1.0 / (1.0 + exp(-z));
#endif
}

#ifndef GC_NAIVE
/* ---------------------------------------------------------------- vectors */

/* Bytes in one vector register at this level, from the target the build compiles for. */
#if defined(__AVX512F__)
#define VBYTES 64
#elif defined(__AVX2__)
#define VBYTES 32
#else
#define VBYTES 16
#endif

#ifdef GC_FLOAT32
typedef int32_t ireal; /* the integer of real's width */
#else
typedef int64_t ireal;
#endif
typedef real vec __attribute__((vector_size(VBYTES)));
typedef ireal ivec __attribute__((vector_size(VBYTES))); /* masks and exponent bits */
typedef double dvec __attribute__((vector_size(VBYTES)));
#define VL ((int64_t)(VBYTES / sizeof(real))) /* reals in one vector */
#define DL ((int)(VBYTES / sizeof(double)))   /* doubles in one vector */

/* Unaligned load/store of one vector (memcpy compiles to a single move). */
static inline vec vload(const real *p)
{
    vec v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void vstore(real *p, vec v) { memcpy(p, &v, sizeof v); }

/* x in every lane: one broadcast. (x - 0 is x for every x, so the compiler drops the
 * subtraction; it cannot drop the addition in `(vec){0} + x`, as -0.0 + 0.0 is +0.0.) */
static inline vec vsplat(real x) { return x - (vec){0}; }

/* mask ? a : b lane by lane (mask lanes are all ones or zero, as comparisons give) */
static inline vec vselect(ivec mask, vec a, vec b)
{
    return (vec)(((ivec)a & mask) | ((ivec)b & ~mask));
}

/* Vectors of half and a quarter of the width, for hsum (16 bytes is the narrowest). */
typedef real vhalf __attribute__((vector_size(VBYTES >= 32 ? VBYTES / 2 : 16)));
typedef real vquarter __attribute__((vector_size(VBYTES >= 64 ? VBYTES / 4 : 16)));

/* The lanes of v folded onto its first 16 bytes with OP (+ or |), as a vector of type Q:
 * while the vector is wider than 16 bytes, its upper half OP-ed onto its lower one (H: the
 * type of half of v). hsum and any_lane share it. */
#define FOLD_HALF(v, H, OP)                                                                 \
    ({                                                                                      \
        H lo_, hi_;                                                                         \
        memcpy(&lo_, &(v), sizeof lo_);                                                     \
        memcpy(&hi_, (const char *)&(v) + sizeof lo_, sizeof hi_);                          \
        lo_ OP hi_;                                                                         \
    })
#if VBYTES >= 64
#define FOLD_TO_16_BYTES(v, H, Q, OP) ({ const H h_ = FOLD_HALF(v, H, OP); FOLD_HALF(h_, Q, OP); })
#elif VBYTES >= 32
#define FOLD_TO_16_BYTES(v, H, Q, OP) FOLD_HALF(v, H, OP)
#else
#define FOLD_TO_16_BYTES(v, H, Q, OP) (v)
#endif

/* Sum of the lanes, as a tree of halves (log2(VL) dependent adds, not VL): the upper half
 * added to the lower one while the vector is wider than 16 bytes, then the same on the
 * lanes of the last 16 bytes. */
static inline real hsum(vec v)
{
    const vquarter q = FOLD_TO_16_BYTES(v, vhalf, vquarter, +);
    real t[16 / sizeof(real)];
    memcpy(t, &q, sizeof t);
    if (sizeof(real) == sizeof(double)) return t[0] + t[1];
    return (t[0] + t[2]) + (t[1] + t[3]);
}

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
#endif

/* Lanes q >= VL - rem set (all ones), the others zero: the new lanes of an overlapping last
 * vector whose first VL - rem lanes were already taken by the vector before it. */
static inline ivec tail_mask(int64_t rem)
{
    ivec m = (ivec){0};
    for (int q = 0; q < (int)VL; q++) m[q] = q >= VL - rem ? (ireal)-1 : 0;
    return m;
}

/* Start of vector v of a row of n values cut into vectors (n >= VL): v*VL, except that a
 * last, partial vector is moved back to end at n (it overlaps the one before it). */
static inline int64_t vstart(int64_t v, int64_t n)
{
    return v * VL + VL <= n ? v * VL : n - VL;
}

/* The VL lanes of v added to the DL double lanes of acc (float: the two halves widened). */
typedef real dpart __attribute__((vector_size(DL * sizeof(real))));
static inline dvec add_wide(dvec acc, vec v)
{
    for (int h = 0; h < (int)(VL / DL); h++) {
        dpart part;
        memcpy(&part, (real *)&v + h * DL, sizeof part);
        acc += __builtin_convertvector(part, dvec);
    }
    return acc;
}

/* The first len lanes (len <= VL) of a vector loaded from p, the others zero; and stored. */
static inline vec vload_part(const real *p, int64_t len)
{
    vec v = (vec){0};
    if (len == VL) return vload(p); /* (the common case first) */
    for (int64_t q = 0; q < len; q++) v[q] = p[q];
    return v;
}

static inline void vstore_part(real *p, vec v, int64_t len)
{
    if (len == VL) vstore(p, v);
    for (int64_t q = 0; len < VL && q < len; q++) p[q] = v[q];
}

/* ---------------------------------------------------------------- exp */

#ifdef GC_FLOAT32
#define EXP_LO ((real)-87) /* e^t for t in [EXP_LO, EXP_HI] is a normal number */
#define EXP_HI ((real)80)
#define EXP_DEG 7 /* the degree of e^r's Taylor series */
#else
#define EXP_LO ((real)-700)
#define EXP_HI ((real)700)
#define EXP_DEG 13
#endif

/* 1/k!, the coefficients of e^r's Taylor series */
static const double INV_FACTORIAL[14] = {
    1.0,         1.0,          1.0 / 2,         1.0 / 6,          1.0 / 24,
    1.0 / 120,   1.0 / 720,    1.0 / 5040,      1.0 / 40320,      1.0 / 362880,
    1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0,
};

/*
 * e^t lane by lane, t clamped to [EXP_LO, EXP_HI]: 2^k e^r with k = round(t / ln 2),
 * r = t - k ln 2 (ln 2 split in two so that r is exact to the last bits), e^r from its
 * Taylor series (degree 13 in double, 7 in float; |r| <= ln(2)/2: truncation below half an
 * ulp), 2^k built from its bits. A few ulp from libm's exp; NaN stays NaN. The sigmoid and
 * the cross-entropy cost both take their exponentials from here.
 */
static inline vec vexp(vec t)
{
    const int double_type = sizeof(real) == sizeof(double);
    const real LOG2E = (real)1.4426950408889634;
    const real LN2_HI = double_type ? (real)6.93147180369123816490e-01 : (real)0.693145751953125;
    const real LN2_LO =
        double_type ? (real)1.90821492927058770002e-10 : (real)1.428606765330187e-06;
    /* adding SHIFT rounds to an integer held in the low mantissa bits */
    const real SHIFT = double_type ? (real)6755399441055744.0 /* 1.5 * 2^52 */
                                   : (real)12582912.0 /* 1.5 * 2^23 */;
    const int MANT = double_type ? 52 : 23;
    t = vselect(t < EXP_LO, (vec){0} + EXP_LO, t); /* (constants: 0 + x is folded) */
    t = vselect(t > EXP_HI, (vec){0} + EXP_HI, t);
    const vec kd = t * LOG2E + SHIFT, k = kd - SHIFT;
    const vec r = (t - k * LN2_HI) - k * LN2_LO;
    vec p = (vec){0} + (real)INV_FACTORIAL[EXP_DEG];
    for (int d = EXP_DEG - 1; d >= 0; d--) p = p * r + (real)INV_FACTORIAL[d];
    return p * (vec)(((ivec)kd << MANT) + (ivec)((vec){0} + (real)1));
}

/* ---------------------------------------------------------------- sigmoid */

/* Whether any lane of a comparison's mask is set: its halves or-ed together as hsum adds
 * them (a few vector operations, not one test per lane). */
typedef ireal ihalf __attribute__((vector_size(VBYTES >= 32 ? VBYTES / 2 : 16)));
typedef ireal iquarter __attribute__((vector_size(VBYTES >= 64 ? VBYTES / 4 : 16)));
static inline int any_lane(ivec mask)
{
    const iquarter q = FOLD_TO_16_BYTES(mask, ihalf, iquarter, |);
    ireal any = 0;
    for (int i = 0; i < (int)(16 / sizeof(ireal)); i++) any |= q[i];
    return any != 0;
}

/* The lanes of a = sigmoid_lanes(z) whose e^-z is beyond vexp's range (z < -EXP_HI: sigmoid
 * below 1e-300, or 1e-35 in float) or NaN, redone with libm so that far tails match the
 * scalar formula. Rarely called, so kept out of line: inlined, its lane loop kept the mask
 * and the lanes of z alive in every vector of the sigmoid (f64: 446 ns for 300 values,
 * 360 ns out of line; f32: 255 and 137 ns). */
static __attribute__((noinline, cold)) vec sigmoid_far_lanes(vec z, vec a)
{
    for (int q = 0; q < (int)VL; q++)
        if (-z[q] > EXP_HI || z[q] != z[q]) a[q] = sigmoid(z[q]);
    return a;
}

/* sigmoid(z) = 1 / (1 + e^-z) lane by lane, far tails and NaN as the scalar formula gives
 * them (sigmoid_far_lanes). (For z > -EXP_LO sigmoid is 1 to the last bit either way.) */
static inline vec sigmoid_lanes(vec z)
{
    const vec a = (real)1 / ((real)1 + vexp(-z));
    if (any_lane((-z > EXP_HI) | (z != z))) return sigmoid_far_lanes(z, a);
    return a;
}

/* v[i] = sigmoid(v[i]) for n values, vectorised. */
static void sigmoid_inplace(real *v, int64_t n)
{
    int64_t i = 0;
    for (; i + VL <= n; i += VL) vstore(v + i, sigmoid_lanes(vload(v + i)));
    if (i < n) vstore_part(v + i, sigmoid_lanes(vload_part(v + i, n - i)), n - i);
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
 * Forward pass of one dense sigmoid layer, the plain way.
 *   a: (m, n_out) activations sigma(z); z: (m, n_out) pre-activations, or NULL if not wanted
 *   in: m pointers to input rows of n_in values; w: (n_out, n_in); b: (n_out)
 */
static void dense_forward_naive(real *z, real *a, const real *const *in, const real *w,
                                const real *b, int64_t m, int64_t n_in, int64_t n_out)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n_out; j++) {
            real s = b[j];
            for (int64_t k = 0; k < n_in; k++) s += w[j * n_in + k] * in[i][k];
            if (z) z[i * n_out + j] = s;
            a[i * n_out + j] = sigmoid(s);
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
 */
static inline __attribute__((always_inline)) void
narrow_tile(real *z, real *a, int64_t n_out, const int64_t *cs, int64_t wg,
            const real *const *x, const real *wt, const real *bt, int64_t n_in, const int E,
            const int T)
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
            const vec av = sigmoid_lanes(acc[e][t]);
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
             const int64_t *cs, int64_t wg, int64_t m, int64_t n_in, int64_t n_out, const int T)
{
    const int64_t np = n_parts(m, NE);
    for (int64_t q = 0; q < np; q++) {
        const int64_t i = gc_split(m, np, q), E = gc_split(m, np, q + 1) - i;
        real *zi = z ? z + i * n_out : NULL, *ai = a + i * n_out;
        switch (E) {
#if NE >= 4
        case 4: narrow_tile(zi, ai, n_out, cs, wg, in + i, wt, bt, n_in, 4, T); break;
        case 3: narrow_tile(zi, ai, n_out, cs, wg, in + i, wt, bt, n_in, 3, T); break;
#endif
        case 2: narrow_tile(zi, ai, n_out, cs, wg, in + i, wt, bt, n_in, 2, T); break;
        default: narrow_tile(zi, ai, n_out, cs, wg, in + i, wt, bt, n_in, 1, T); break;
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

/*
 * Forward pass of a narrow layer (n_in <= NARROW_IN; the contract of dense_forward_naive):
 *   a, z: (m, n_out), z may be NULL; in: m row pointers of n_in; w: (n_out, n_in); b: (n_out)
 * Outputs in groups of wg <= WTS from j0, vector t of a group at column cs[t] of it.
 */
static void dense_forward_narrow(real *z, real *a, const real *const *in, const real *w,
                                 const real *b, int64_t m, int64_t n_in, int64_t n_out)
{
    real wt[NARROW_IN * WTS], bt[WTS];
    for (int64_t j0 = 0, wg; j0 < n_out; j0 += wg) {
        wg = n_out - j0 < WTS ? n_out - j0 : WTS;
        const int64_t T = (wg + VL - 1) / VL;
        int64_t cs[NCV];
        for (int64_t t = 0; t < T; t++) cs[t] = wg < VL ? 0 : vstart(t, wg);
        narrow_weights(wt, bt, w + j0 * n_in, b + j0, cs, T, wg, n_in);
        real *zg = z ? z + j0 : NULL;
        switch (T) {
        case 4: narrow_group(zg, a + j0, in, wt, bt, cs, wg, m, n_in, n_out, 4); break;
        case 3: narrow_group(zg, a + j0, in, wt, bt, cs, wg, m, n_in, n_out, 3); break;
        case 2: narrow_group(zg, a + j0, in, wt, bt, cs, wg, m, n_in, n_out, 2); break;
        default: narrow_group(zg, a + j0, in, wt, bt, cs, wg, m, n_in, n_out, 1); break;
        }
    }
}

/*
 * Forward pass of one dense sigmoid layer (same contract as dense_forward_naive):
 *   a: (m, n_out); z: (m, n_out) or NULL; in: m row pointers of n_in; w: (n_out, n_in)
 * Narrow layers where that pays (narrow_pays) go the narrow way; otherwise tiles of up to
 * EMAX examples x 4 neurons write z = x.w + b into a, and one vectorised pass then squashes
 * the whole (m, n_out) block.
 */
static void dense_forward(real *z, real *a, const real *const *in, const real *w,
                          const real *b, int64_t m, int64_t n_in, int64_t n_out)
{
    if (narrow_pays(n_in, n_out)) {
        dense_forward_narrow(z, a, in, w, b, m, n_in, n_out);
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
    sigmoid_inplace(a, m * n_out);
}
#endif

/* ---------------------------------------------------------------- dense layer: backward */

/*
 * Delta of the layer below: dprev = (delta . w) * a_prev (1 - a_prev), the plain way.
 *   dprev: (m, n_in); delta: (m, n_out); w: (n_out, n_in); a_prev: (m, n_in) activations
 */
static void dense_backward_delta_naive(real *dprev, const real *delta, const real *w,
                                       const real *a_prev, int64_t m, int64_t n_in,
                                       int64_t n_out)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t k = 0; k < n_in; k++) {
            real s = 0, ap = a_prev[i * n_in + k];
            for (int64_t j = 0; j < n_out; j++) s += delta[i * n_out + j] * w[j * n_in + k];
            dprev[i * n_in + k] = s * ap * ((real)1 - ap);
        }
}

#ifndef GC_NAIVE
/*
 * Delta tile: vectors v0 .. v0+kv-1 (kv <= KD, starts from vstart) of one example's dprev,
 * summed over the n_out neurons in registers, then scaled by a_prev (1 - a_prev) and stored.
 * Overlapping vectors compute the same values for the lanes they share.
 *   dp, ap: the example's rows of n_in; d: its n_out deltas; w: (n_out, n_in)
 */
static inline __attribute__((always_inline)) void
delta_tile(real *dp, const real *d, const real *w, const real *ap, int64_t n_in,
           int64_t n_out, int64_t v0, const int kv)
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
    for (int t = 0; t < kv; t++) {
        const vec a = vload(ap + ks[t]);
        vstore(dp + ks[t], acc[t] * (a * ((real)1 - a)));
    }
}

/* One example's dprev row (n_in >= VL): strips of up to KD vectors. */
static inline __attribute__((always_inline)) void
delta_row(real *dp, const real *d, const real *w, const real *ap, int64_t n_in,
                      int64_t n_out)
{
    const int64_t nvec = (n_in + VL - 1) / VL;
    for (int64_t v = 0; v < nvec; v += KD) {
        switch (nvec - v < KD ? nvec - v : KD) {
        case 4: delta_tile(dp, d, w, ap, n_in, n_out, v, 4); break;
        case 3: delta_tile(dp, d, w, ap, n_in, n_out, v, 3); break;
        case 2: delta_tile(dp, d, w, ap, n_in, n_out, v, 2); break;
        default: delta_tile(dp, d, w, ap, n_in, n_out, v, 1); break;
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
                                 const real *a_prev, int64_t m, int64_t n_in, int64_t n_out)
{
    if (n_in < VL) {
        dense_backward_delta_naive(dprev, delta, w, a_prev, m, n_in, n_out);
        return;
    }
    for (int64_t i = 0; i < m; i++)
        delta_row(dprev + i * n_in, delta + i * n_out, w, a_prev + i * n_in, n_in, n_out);
}
#endif

/*
 * Weight gradient of one layer applied as an SGD step, the plain way:
 *   out[j,k] = SGD_STEP(out[j,k], sum_i delta[i,j] * in[i][k], decay, step)
 * with decay = 1 - eta*lmbda/n, step = eta/m the weights are updated without their
 * gradient ever being stored; decay = 1, step = -1 adds the gradient to out.
 *   out: (n_out, n_in); delta: (m, n_out); in: m pointers to input rows of n_in
 *   ahead: NULL, or m_ahead row pointers of n_in, rows the caller will read next (the next
 *   mini-batch's inputs), for the blocked kernel to bring into the cache as it goes
 */
static void dense_backward_weights_naive(real *out, const real *delta, const real *const *in,
                                         real decay, real step, int64_t m, int64_t n_in,
                                         int64_t n_out, const real *const *ahead,
                                         int64_t m_ahead)
{
    (void)ahead, (void)m_ahead; /* a hint the plain loops do without */
    for (int64_t j = 0; j < n_out; j++)
        for (int64_t k = 0; k < n_in; k++) {
            real g = 0;
            for (int64_t i = 0; i < m; i++) g += delta[i * n_out + j] * in[i][k];
            out[j * n_in + k] = SGD_STEP(out[j * n_in + k], g, decay, step);
        }
}

#ifndef GC_NAIVE
/*
 * Weight-gradient tile: N neurons (<= NMAX) x kv vectors (<= KV) along k, vector t starting
 * at vstart(v0 + t, n_in), summed over the m examples in registers, then applied:
 *   out[r, k] = SGD_STEP(out[r, k], sum_i d[i, r] x[i][k], decay, step)
 *   d: the tile's first column of delta (m rows of n_out); out: N rows of stride n_in
 * Per example, kv loads and N broadcasts feed N*kv multiply-adds. Every output vector is
 * loaded before any is stored, so an overlapping last vector sees the old weights and writes
 * the same values as the vector it overlaps.
 */
static inline __attribute__((always_inline)) void
weights_tile(real *out, const real *d, const real *const *x, real decay, real step, int64_t m,
             int64_t n_in, int64_t n_out, int64_t v0, const int N, const int kv)
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
    for (int r = 0; r < N; r++)
        for (int t = 0; t < kv; t++)
            g[r][t] = SGD_STEP(vload(out + r * n_in + ks[t]), g[r][t], decay, step);
    for (int r = 0; r < N; r++)
        for (int t = 0; t < kv; t++) vstore(out + r * n_in + ks[t], g[r][t]);
}

/* One tile of N neurons (a run-time value) and kv vectors (a constant after inlining). */
static inline __attribute__((always_inline)) void
weights_strip(real *out, const real *d, const real *const *x, real decay, real step, int64_t m,
              int64_t n_in, int64_t n_out, int64_t v0, int64_t N, const int kv)
{
    switch (N) {
    case 6: weights_tile(out, d, x, decay, step, m, n_in, n_out, v0, 6, kv); break;
    case 5: weights_tile(out, d, x, decay, step, m, n_in, n_out, v0, 5, kv); break;
    case 4: weights_tile(out, d, x, decay, step, m, n_in, n_out, v0, 4, kv); break;
    case 3: weights_tile(out, d, x, decay, step, m, n_in, n_out, v0, 3, kv); break;
    case 2: weights_tile(out, d, x, decay, step, m, n_in, n_out, v0, 2, kv); break;
    default: weights_tile(out, d, x, decay, step, m, n_in, n_out, v0, 1, kv); break;
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
 * Weight gradient of one layer applied as an SGD step (same contract as
 * dense_backward_weights_naive):
 *   out: (n_out, n_in); delta: (m, n_out); in: m row pointers of n_in
 * Neurons in even groups of at most NMAX, k in strips of KV vectors. The strip loop is the
 * outer one: the m input strips stay in the L1 cache while every group's tile uses them, and
 * each weight is read and written once. The last strip of a row holds all its remaining
 * vectors, the last one overlapping when n_in is not a multiple of VL (the two overlapping
 * vectors are always in the same strip); rows shorter than a vector go the plain way.
 */
static void dense_backward_weights(real *out, const real *delta, const real *const *in,
                                   real decay, real step, int64_t m, int64_t n_in,
                                   int64_t n_out, const real *const *ahead, int64_t m_ahead)
{
    const int64_t ng = n_parts(n_out, NMAX), nvec = (n_in + VL - 1) / VL;
    const int overlap = n_in % VL != 0;
    if (n_in < VL) {
        dense_backward_weights_naive(out, delta, in, decay, step, m, n_in, n_out, NULL, 0);
        return;
    }
    for (int64_t v = 0, kv; v < nvec; v += kv) {
        kv = nvec - v < KV ? nvec - v : KV;
        if (overlap && nvec - v - kv == 1) kv--; /* keep the overlapping pair in one strip */
        if (ahead) prefetch_strip(ahead, m_ahead, vstart(v, n_in), vstart(v + kv - 1, n_in) + VL);
        for (int64_t q = 0; q < ng; q++) {
            const int64_t j = gc_split(n_out, ng, q), N = gc_split(n_out, ng, q + 1) - j;
            real *o = out + j * n_in;
            const real *d = delta + j;
            switch (kv) {
#if KV >= 4
            case 4: weights_strip(o, d, in, decay, step, m, n_in, n_out, v, N, 4); break;
            case 3: weights_strip(o, d, in, decay, step, m, n_in, n_out, v, N, 3); break;
#endif
            case 2: weights_strip(o, d, in, decay, step, m, n_in, n_out, v, N, 2); break;
            default: weights_strip(o, d, in, decay, step, m, n_in, n_out, v, N, 1); break;
            }
        }
    }
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
 * Output-layer delta and cost, the plain way.
 *   delta: (m, n) dC/dz; returns the sum over the m rows of the cost
 *   z, a: (m, n) output pre-activations and activations; y: (m, n) targets
 * Cross-entropy: delta = a - y, C = sum y*softplus(-z) + (1-y)*softplus(z)
 * Quadratic:     delta = (a - y) a (1 - a), C = 0.5 |a - y|^2
 */
static double output_backward_naive(real *delta, const real *z, const real *a, const real *y,
                                    int cost, int64_t m, int64_t n)
{
    double c = 0.0;
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

/* p = SGD_STEP(p, g, decay, step) for n values: the SGD step from a gradient already summed
 * (a bias gradient, or the gradient of a mini-batch split among threads; see network.c). */
static void sgd_update(real *p, const real *g, real decay, real step, int64_t n)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) p[i] = SGD_STEP(p[i], g[i], decay, step);
}

/* ---------------------------------------------------------------- the table */

#ifdef GC_NAIVE
static const layer_kernels kernels = {
    dense_forward_naive, dense_backward_delta_naive, dense_backward_weights_naive,
    dense_backward_bias, output_backward_naive, sgd_update,
};
#else
static const layer_kernels kernels = {
    dense_forward, dense_backward_delta, dense_backward_weights,
    dense_backward_bias, output_backward, sgd_update,
};
#endif
const layer_kernels *const GC_LAYER_TABLE = &kernels;
