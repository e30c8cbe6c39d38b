/*
 * gradcore's vector maths: the vector type of the instruction-set level being compiled, its
 * loads, stores and lane sums, the exponential, and every activation function and its
 * derivative, lane by lane. Included by layers.c in its blocked (not GC_NAIVE) builds only;
 * activations.h has the same functions one number at a time.
 *
 * One source for every level: the GCC/Clang vector extensions compile `vec` to xmm, ymm or
 * zmm registers (NEON on aarch64) by the level's flags. Each activation is a named static
 * inline function; act_lanes and dact_mul_lanes take the activation code as an argument
 * that the kernels pass as a compile-time constant, so after inlining each activation is
 * its own loop with no branch per element (the switch folds away).
 */
#ifndef GRADCORE_VMATH_H
#define GRADCORE_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "activations.h"
#include "kernels.h"
#include "layers.h"

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
 * The range reduction of vexp and vexpm1: t clamped to [EXP_LO, EXP_HI], then
 * t = k ln 2 + r with k = round(t / ln 2) and |r| <= ln(2)/2 (ln 2 split in two so that r is
 * exact to the last bits); returns r, and 2^k built from its bits in *two_k.
 */
static inline vec exp_reduce(vec t, vec *two_k)
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
    *two_k = (vec)(((ivec)kd << MANT) + (ivec)((vec){0} + (real)1));
    return (t - k * LN2_HI) - k * LN2_LO;
}

/*
 * e^t lane by lane, t clamped to [EXP_LO, EXP_HI]: 2^k e^r (exp_reduce), e^r from its
 * Taylor series (degree 13 in double, 7 in float; |r| <= ln(2)/2: truncation below half an
 * ulp), 2^k built from its bits. A few ulp from libm's exp; NaN stays NaN. The sigmoid and
 * the cross-entropy cost both take their exponentials from here.
 */
static inline vec vexp(vec t)
{
    vec two_k;
    const vec r = exp_reduce(t, &two_k);
    vec p = (vec){0} + (real)INV_FACTORIAL[EXP_DEG];
    for (int d = EXP_DEG - 1; d >= 0; d--) p = p * r + (real)INV_FACTORIAL[d];
    return p * two_k;
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

/* ---------------------------------------------------------------- expm1 */

/*
 * e^t - 1 lane by lane, accurate where it is small (the ELU below 0, and tanh): with
 * t = k ln 2 + r as in vexp, e^t - 1 = 2^k (e^r - 1) + (2^k - 1), e^r - 1 from its Taylor
 * series without the constant term (so for |t| <= ln(2)/2, k = 0, nothing cancels). A few
 * ulp from libm's expm1; t clamped to [EXP_LO, EXP_HI] (below, the result is -1 to the last
 * bit); NaN stays NaN.
 */
static inline vec vexpm1(vec t)
{
    vec two_k;
    const vec r = exp_reduce(t, &two_k);
    vec p = (vec){0} + (real)INV_FACTORIAL[EXP_DEG];
    for (int d = EXP_DEG - 1; d >= 1; d--) p = p * r + (real)INV_FACTORIAL[d];
    p = p * r; /* e^r - 1 */
    return two_k * p + (two_k - (real)1);
}

/* ---------------------------------------------------------------- activations */

/* The sign bits of v's lanes (all else zero), and |v|. */
static inline ivec sign_bits(vec v) { return (ivec)v & (ivec)(-(vec){0}); }
static inline vec vabs(vec v) { return (vec)((ivec)v & ~(ivec)(-(vec){0})); }

/* tanh z = sign(z) (-u / (u + 2)), u = e^(-2|z|) - 1 in (-1, 0]: no overflow anywhere, and
 * no cancellation near 0 (there u ~ -2|z| comes from vexpm1 to a few ulp). */
static inline vec tanh_lanes(vec z)
{
    const vec u = vexpm1((real)-2 * vabs(z));
    const vec t = -u / (u + (real)2);
    return (vec)((ivec)t | sign_bits(z));
}

/* z / (1 + |z|) (Bergstra et al. 2009; Glorot & Bengio 2010) */
static inline vec softsign_lanes(vec z) { return z / ((real)1 + vabs(z)); }

/* z < 0 ? s z : z: the ReLU (s = 0), leaky ReLU (s = 0.01) and PReLU (s per lane); a NaN
 * z stays NaN. */
static inline vec rectify_lanes(vec z, vec s) { return vselect(z < 0, s * z, z); }

/* z < 0 ? e^z - 1 : z (Clevert, Unterthiner & Hochreiter 2016, alpha = 1) */
static inline vec elu_lanes(vec z) { return vselect(z < 0, vexpm1(z), z); }

/* phi(z) lane by lane for activation act (a compile-time constant at every call: the
 * switch folds away); s: the lanes' PReLU slopes (read for GC_ACT_PRELU only). */
static inline __attribute__((always_inline)) vec act_lanes(vec z, const int act, vec s)
{
    switch (act) {
    case GC_ACT_SIGMOID: return sigmoid_lanes(z);
    case GC_ACT_TANH: return tanh_lanes(z);
    case GC_ACT_SOFTSIGN: return softsign_lanes(z);
    case GC_ACT_RELU: return vselect(z < 0, (vec){0}, z);
    case GC_ACT_LEAKY_RELU: return rectify_lanes(z, vsplat((real)GC_LEAKY_SLOPE));
    case GC_ACT_ELU: return elu_lanes(z);
    case GC_ACT_PRELU: return rectify_lanes(z, s);
    default: return z; /* GC_ACT_LINEAR */
    }
}

/* g phi'(z) lane by lane from a = phi(z), as dact_mul_scalar (not for PReLU); act a
 * compile-time constant. The sigmoid's is g (a (1 - a)), the order its blocked kernel
 * has always used. */
static inline __attribute__((always_inline)) vec dact_mul_lanes(vec g, vec a, const int act)
{
    const vec one = vsplat((real)1);
    switch (act) {
    case GC_ACT_SIGMOID: return g * (a * ((real)1 - a));
    case GC_ACT_TANH: return g * ((real)1 - a * a);
    case GC_ACT_SOFTSIGN: {
        const vec c = (real)1 - vabs(a);
        return g * (c * c);
    }
    case GC_ACT_RELU: return g * vselect(a > 0, one, (vec){0});
    case GC_ACT_LEAKY_RELU: return g * vselect(a > 0, one, vsplat((real)GC_LEAKY_SLOPE));
    case GC_ACT_ELU: return g * vselect(a > 0, one, a + (real)1);
    default: return g; /* GC_ACT_LINEAR */
    }
}

#endif
