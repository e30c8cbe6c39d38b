/*
 * Type- and ISA-generic body of the kernels, included by kernels.c once per floating type
 * and instruction-set level, with
 *   REAL      the element type (double or float)
 *   FN(x)     the name of x for that type and level (e.g. x_f64_avx512)
 *   EXP       exp or expf
 *   GC_VBYTES bytes in one hardware vector register at this level (64, 32 or 16)
 *
 * Every layer pass has two kernels side by side: `_naive`, the plain loops that document
 * what the pass computes (and that the tests compare against), and the blocked kernel the
 * library runs. The blocked kernels keep small tiles of results in vector registers
 * (GCC/Clang vector extensions: one source, compiled to zmm, ymm or xmm registers by the
 * level's target) so that every value loaded from memory feeds several multiply-adds.
 * They are compiled only when GC_VECTOR_EXT is defined (kernels.c); otherwise the blocked
 * names are thin wrappers of the naive kernels.
 */

#ifdef GC_VECTOR_EXT /* (kernels.c: without vector extensions only the naive kernels) */
#define VL ((int64_t)(GC_VBYTES / sizeof(REAL))) /* REALs in one vector */
typedef REAL FN(vec) __attribute__((vector_size(GC_VBYTES)));
typedef GC_IREAL FN(ivec) __attribute__((vector_size(GC_VBYTES))); /* same-width integers */
typedef double FN(dvec) __attribute__((vector_size(GC_VBYTES))); /* the cost is in double */
typedef int64_t FN(divec) __attribute__((vector_size(GC_VBYTES)));
#define VEC FN(vec)
#define IVEC FN(ivec)
#define DVEC FN(dvec)
#define DIVEC FN(divec)
#define DL ((int)(GC_VBYTES / sizeof(double))) /* doubles in one vector */

/* ---------------------------------------------------------------- vector helpers */

/* Unaligned load/store of one vector (memcpy compiles to a single move). */
static inline VEC FN(vload)(const REAL *p)
{
    VEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void FN(vstore)(REAL *p, VEC v) { memcpy(p, &v, sizeof v); }

/* mask ? a : b lane by lane (mask lanes are all ones or zero, as comparisons give) */
static inline VEC FN(vselect)(IVEC mask, VEC a, VEC b)
{
    return (VEC)(((IVEC)a & mask) | ((IVEC)b & ~mask));
}

/* Vectors of half and a quarter of the width, for hsum (16 bytes is the narrowest). */
typedef REAL FN(vhalf) __attribute__((vector_size(GC_VBYTES >= 32 ? GC_VBYTES / 2 : 16)));
typedef REAL FN(vquarter) __attribute__((vector_size(GC_VBYTES >= 64 ? GC_VBYTES / 4 : 16)));

/* Sum of the lanes, as a tree of halves (log2(VL) dependent adds, not VL): the upper half
 * added to the lower one while the vector is wider than 16 bytes, then the same on the
 * lanes of the last 16 bytes. */
static inline REAL FN(hsum)(VEC v)
{
    FN(vquarter) q;
#if GC_VBYTES >= 32
    FN(vhalf) h0, h1;
    memcpy(&h0, &v, sizeof h0);
    memcpy(&h1, (char *)&v + sizeof h0, sizeof h1);
    h0 += h1;
#if GC_VBYTES >= 64
    FN(vquarter) q1;
    memcpy(&q, &h0, sizeof q);
    memcpy(&q1, (char *)&h0 + sizeof q, sizeof q1);
    q += q1;
#else
    q = h0;
#endif
#else
    q = v;
#endif
    REAL t[16 / sizeof(REAL)];
    memcpy(t, &q, sizeof t);
    if (sizeof(REAL) == sizeof(double)) return t[0] + t[1];
    return (t[0] + t[2]) + (t[1] + t[3]);
}

/* Lanes q >= VL - rem set (all ones), the others zero: the new lanes of an overlapping last
 * vector whose first VL - rem lanes were already taken by the vector before it. */
static inline IVEC FN(tail_mask)(int64_t rem)
{
    IVEC m = (IVEC){0};
    for (int q = 0; q < (int)VL; q++) m[q] = q >= VL - rem ? (GC_IREAL)-1 : 0;
    return m;
}

#endif /* GC_VECTOR_EXT */

static inline REAL FN(sigmoid)(REAL z) { return (REAL)1 / ((REAL)1 + EXP(-z)); }

#ifdef GC_VECTOR_EXT

/*
 * v[i] = sigmoid(v[i]) for n values, vectorised. exp(t), t = -v, is computed as 2^k e^r with
 * k = round(t / ln 2), r = t - k ln 2 (ln 2 split in two so r is exact to the last bits) and
 * e^r from its Taylor series (degree 13 in double, 7 in float, |r| <= ln(2)/2: truncation
 * below half an ulp), 2^k built from its bits. A few ulp from libm's exp. Inputs with t
 * outside [T_LO, T_HI] are clamped, then the t > T_HI ones (sigmoid below 1e-300 or 1e-35)
 * are redone with libm (NaN too) so far tails match the scalar formula; for t < T_LO sigmoid is 1 to
 * the last bit either way.
 */
static void FN(sigmoid_inplace)(REAL *v, int64_t n)
{
    const int double_type = sizeof(REAL) == sizeof(double);
    const REAL T_LO = double_type ? (REAL)-40 : (REAL)-20;
    const REAL T_HI = double_type ? (REAL)700 : (REAL)80;
    const REAL LOG2E = (REAL)1.4426950408889634;
    const REAL LN2_HI = double_type ? (REAL)6.93147180369123816490e-01 : (REAL)0.693145751953125;
    const REAL LN2_LO = double_type ? (REAL)1.90821492927058770002e-10 : (REAL)1.428606765330187e-06;
    /* adding SHIFT rounds to an integer held in the low mantissa bits */
    const REAL SHIFT = double_type ? (REAL)6755399441055744.0 /* 1.5 * 2^52 */
                                   : (REAL)12582912.0 /* 1.5 * 2^23 */;
    const int DEG = double_type ? 13 : 7, MANT = double_type ? 52 : 23;
    REAL coef[14]; /* 1/k! */
    coef[0] = 1;
    for (int k = 1; k < 14; k++) coef[k] = (REAL)(1.0 / (double)k) * coef[k - 1];
    for (int64_t i0 = 0; i0 < n; i0 += VL) {
        VEC t;
        const int64_t len = n - i0 < VL ? n - i0 : VL;
        if (len == VL) t = -FN(vload)(v + i0);
        else {
            t = (VEC){0};
            for (int64_t q = 0; q < len; q++) t[q] = -v[i0 + q];
        }
        const IVEC far = (t > T_HI) | (t != t);
        GC_IREAL any_far = 0;
        for (int q = 0; q < (int)VL; q++) any_far |= far[q];
        const VEC tin = t;
        t = FN(vselect)(t < T_LO, (VEC){0} + T_LO, t);
        t = FN(vselect)(t > T_HI, (VEC){0} + T_HI, t);
        const VEC kd = t * LOG2E + SHIFT, k = kd - SHIFT;
        const VEC r = (t - k * LN2_HI) - k * LN2_LO;
        VEC p = (VEC){0} + coef[DEG];
        for (int d = DEG - 1; d >= 0; d--) p = p * r + coef[d];
        IVEC bits = ((IVEC)kd << MANT) + (IVEC)((VEC){0} + (REAL)1);
        const VEC e = p * (VEC)bits;
        VEC a = (REAL)1 / ((REAL)1 + e);
        if (any_far)
            for (int q = 0; q < (int)VL; q++)
                if (far[q]) a[q] = FN(sigmoid)(-tin[q]);
        if (len == VL) FN(vstore)(v + i0, a);
        else
            for (int64_t q = 0; q < len; q++) v[i0 + q] = a[q];
    }
}

#endif /* GC_VECTOR_EXT */

/* ---------------------------------------------------------------- naive kernels */

/*
 * Forward pass of one dense sigmoid layer, the plain way.
 *   a: (m, n_out) activations sigma(z); z: (m, n_out) pre-activations, or NULL if not wanted
 *   in: m pointers to input rows of n_in values; w: (n_out, n_in); b: (n_out)
 */
static void FN(dense_forward_naive)(REAL *z, REAL *a, const REAL *const *in, const REAL *w,
                                    const REAL *b, int64_t m, int64_t n_in, int64_t n_out)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n_out; j++) {
            REAL s = b[j];
            for (int64_t k = 0; k < n_in; k++) s += w[j * n_in + k] * in[i][k];
            if (z) z[i * n_out + j] = s;
            a[i * n_out + j] = FN(sigmoid)(s);
        }
}

/*
 * Delta of the layer below: dprev = (delta . w) * a_prev (1 - a_prev), the plain way.
 *   dprev: (m, n_in); delta: (m, n_out); w: (n_out, n_in); a_prev: (m, n_in) activations
 */
static void FN(dense_backward_delta_naive)(REAL *dprev, const REAL *delta, const REAL *w,
                                           const REAL *a_prev, int64_t m, int64_t n_in,
                                           int64_t n_out)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t k = 0; k < n_in; k++) {
            REAL s = 0, ap = a_prev[i * n_in + k];
            for (int64_t j = 0; j < n_out; j++) s += delta[i * n_out + j] * w[j * n_in + k];
            dprev[i * n_in + k] = s * ap * ((REAL)1 - ap);
        }
}

/*
 * Weight gradient of one layer combined with what is done with it, the plain way:
 *   out[j,k] = alpha * out[j,k] + beta * sum_i delta[i,j] * in[i][k]
 * alpha = 1, beta = 1 accumulates a gradient; alpha = 1 - eta*lmbda/n, beta = -eta/m applies
 * the SGD update straight to the weights without materialising the gradient.
 *   out: (n_out, n_in); delta: (m, n_out); in: m pointers to input rows of n_in
 */
static void FN(dense_backward_weights_naive)(REAL *out, const REAL *delta,
                                             const REAL *const *in, REAL alpha, REAL beta,
                                             int64_t m, int64_t n_in, int64_t n_out)
{
    for (int64_t j = 0; j < n_out; j++)
        for (int64_t k = 0; k < n_in; k++) {
            REAL g = 0;
            for (int64_t i = 0; i < m; i++) g += delta[i * n_out + j] * in[i][k];
            out[j * n_in + k] = alpha * out[j * n_in + k] + beta * g;
        }
}

#ifdef GC_VECTOR_EXT
/* ---------------------------------------------------------------- blocked kernels */

/* Tile shapes. Forward: up to EMAX examples x 4 neurons of dot products; weight gradient:
 * up to 6 neurons x KV vectors along k. Both fit the register file: 32 zmm registers with
 * AVX-512, 16 ymm/xmm otherwise. */
#if GC_VBYTES >= 64
#define EMAX 5
#define KV 4
#else
#define EMAX 3
#define KV 2
#endif
#define NMAX 6

/* Sizes of part q of n split into parts of at most `most`, as even as possible (so that 10
 * examples make two tiles of 5, not 4 + 4 + 2): parts differ by at most one. */
static inline int64_t FN(parts)(int64_t n, int64_t most) { return (n + most - 1) / most; }
static inline int64_t FN(part_start)(int64_t n, int64_t parts, int64_t q) { return n * q / parts; }

/*
 * Forward tile: E examples x N neurons of pre-activations (E <= EMAX, N <= 4, constants after
 * inlining). Per vector step along k, E + N loads feed E*N multiply-adds.
 *   zt: rows of ld values, the tile's first entry at [0], gets x.w + b
 *   x: E input rows; w: N weight rows of n_in (row stride n_in); b: N biases
 */
static inline __attribute__((always_inline)) void
FN(forward_tile)(REAL *zt, int64_t ld, const REAL *const *x, const REAL *w, const REAL *b,
                 int64_t n_in, const int E, const int N)
{
    VEC acc[EMAX][4];
    for (int e = 0; e < E; e++)
        for (int r = 0; r < N; r++) acc[e][r] = (VEC){0};
    int64_t k = 0;
    for (; k + VL <= n_in; k += VL) {
        VEC xv[EMAX], wv[4];
        for (int e = 0; e < E; e++) xv[e] = FN(vload)(x[e] + k);
        for (int r = 0; r < N; r++) wv[r] = FN(vload)(w + r * n_in + k);
        for (int e = 0; e < E; e++)
            for (int r = 0; r < N; r++) acc[e][r] += xv[e] * wv[r];
    }
    if (k < n_in && n_in >= VL) { /* an overlapping last vector, its old lanes masked off */
        const IVEC mask = FN(tail_mask)(n_in - k);
        const int64_t kt = n_in - VL;
        VEC xv[EMAX], wv[4];
        for (int e = 0; e < E; e++) xv[e] = FN(vload)(x[e] + kt);
        for (int r = 0; r < N; r++) wv[r] = FN(vload)(w + r * n_in + kt);
        for (int e = 0; e < E; e++)
            for (int r = 0; r < N; r++) acc[e][r] += FN(vselect)(mask, xv[e] * wv[r], (VEC){0});
        k = n_in;
    }
    for (int e = 0; e < E; e++)
        for (int r = 0; r < N; r++) {
            REAL sum = FN(hsum)(acc[e][r]);
            for (int64_t kk = k; kk < n_in; kk++) sum += x[e][kk] * w[r * n_in + kk];
            zt[e * ld + r] = sum + b[r];
        }
}

/* E examples against every neuron, in groups of 4 and a last, smaller one: 30 = 7 x 4 + 2,
 * not 6 x 4 + 2 x 3 (GCC's code for the 5 x 3 tile reloads the inputs per neuron and was
 * measured much slower per multiply-add than the 5 x 4 tile). */
static inline __attribute__((always_inline)) void
FN(forward_rows)(REAL *zr, const REAL *const *x, const REAL *w, const REAL *b, int64_t n_in,
                 int64_t n_out, const int E)
{
    for (int64_t j = 0, N; j < n_out; j += N) {
        N = n_out - j < 4 ? n_out - j : 4;
        REAL *zt = zr + j;
        const REAL *wj = w + j * n_in, *bj = b + j;
        switch (N) {
        case 4: FN(forward_tile)(zt, n_out, x, wj, bj, n_in, E, 4); break;
        case 3: FN(forward_tile)(zt, n_out, x, wj, bj, n_in, E, 3); break;
        case 2: FN(forward_tile)(zt, n_out, x, wj, bj, n_in, E, 2); break;
        default: FN(forward_tile)(zt, n_out, x, wj, bj, n_in, E, 1); break;
        }
    }
}

/*
 * Forward pass of one dense sigmoid layer (same contract as dense_forward_naive):
 *   a: (m, n_out); z: (m, n_out) or NULL; in: m row pointers of n_in; w: (n_out, n_in)
 * Tiles of up to EMAX examples x 4 neurons write z = x.w + b into a; one vectorised pass
 * then squashes the whole (m, n_out) block.
 */
static void FN(dense_forward)(REAL *z, REAL *a, const REAL *const *in, const REAL *w,
                              const REAL *b, int64_t m, int64_t n_in, int64_t n_out)
{
    const int64_t np = FN(parts)(m, EMAX);
    for (int64_t q = 0; q < np; q++) {
        const int64_t i = FN(part_start)(m, np, q), E = FN(part_start)(m, np, q + 1) - i;
        REAL *zr = a + i * n_out;
        const REAL *const *x = in + i;
        switch (E) {
#if EMAX >= 5
        case 5: FN(forward_rows)(zr, x, w, b, n_in, n_out, 5); break;
        case 4: FN(forward_rows)(zr, x, w, b, n_in, n_out, 4); break;
#endif
        case 3: FN(forward_rows)(zr, x, w, b, n_in, n_out, 3); break;
        case 2: FN(forward_rows)(zr, x, w, b, n_in, n_out, 2); break;
        default: FN(forward_rows)(zr, x, w, b, n_in, n_out, 1); break;
        }
    }
    if (z) memcpy(z, a, (size_t)(m * n_out) * sizeof(REAL));
    FN(sigmoid_inplace)(a, m * n_out);
}

/* Start of vector v of a row of n values cut into vectors (n >= VL): v*VL, except that a
 * last, partial vector is moved back to end at n (it overlaps the one before it). */
static inline int64_t FN(vstart)(int64_t v, int64_t n)
{
    return v * VL + VL <= n ? v * VL : n - VL;
}

/*
 * Delta tile: vectors v0 .. v0+kv-1 (kv <= KD, starts from vstart) of one example's dprev,
 * summed over the n_out neurons in registers, then scaled by a_prev (1 - a_prev) and stored.
 * Overlapping vectors compute the same values for the lanes they share.
 *   dp, ap: the example's rows of n_in; d: its n_out deltas; w: (n_out, n_in)
 */
#define KD 4
static inline __attribute__((always_inline)) void
FN(delta_tile)(REAL *dp, const REAL *d, const REAL *w, const REAL *ap, int64_t n_in,
               int64_t n_out, int64_t v0, const int kv)
{
    VEC acc[KD];
    int64_t ks[KD];
    for (int t = 0; t < kv; t++) {
        ks[t] = FN(vstart)(v0 + t, n_in);
        acc[t] = (VEC){0};
    }
    for (int64_t j = 0; j < n_out; j++) {
        const VEC dj = (VEC){0} + d[j];
        for (int t = 0; t < kv; t++) acc[t] += dj * FN(vload)(w + j * n_in + ks[t]);
    }
    for (int t = 0; t < kv; t++) {
        const VEC a = FN(vload)(ap + ks[t]);
        FN(vstore)(dp + ks[t], acc[t] * (a * ((REAL)1 - a)));
    }
}

/*
 * Delta of the layer below (same contract as dense_backward_delta_naive):
 *   dprev: (m, n_in); delta: (m, n_out); w: (n_out, n_in); a_prev: (m, n_in)
 * Only runs for hidden layers. Per example, up to KD vectors of dprev stay in registers
 * while the n_out weight rows stream past; a row that is not a whole number of vectors ends
 * with an overlapping one; rows shorter than a vector go the scalar way.
 */
static void FN(dense_backward_delta)(REAL *dprev, const REAL *delta, const REAL *w,
                                     const REAL *a_prev, int64_t m, int64_t n_in,
                                     int64_t n_out)
{
    const int64_t nvec = (n_in + VL - 1) / VL;
    for (int64_t i = 0; i < m; i++) {
        REAL *dp = dprev + i * n_in;
        const REAL *d = delta + i * n_out, *ap = a_prev + i * n_in;
        if (n_in < VL) {
            for (int64_t k = 0; k < n_in; k++) {
                REAL sum = 0;
                for (int64_t j = 0; j < n_out; j++) sum += d[j] * w[j * n_in + k];
                dp[k] = sum * (ap[k] * ((REAL)1 - ap[k]));
            }
            continue;
        }
        for (int64_t v = 0; v < nvec; v += KD) {
            switch (nvec - v < KD ? nvec - v : KD) {
            case 4: FN(delta_tile)(dp, d, w, ap, n_in, n_out, v, 4); break;
            case 3: FN(delta_tile)(dp, d, w, ap, n_in, n_out, v, 3); break;
            case 2: FN(delta_tile)(dp, d, w, ap, n_in, n_out, v, 2); break;
            default: FN(delta_tile)(dp, d, w, ap, n_in, n_out, v, 1); break;
            }
        }
    }
}
#undef KD


/*
 * Weight-gradient tile: N neurons (<= NMAX) x kv vectors (<= KV) along k, vector t starting
 * at vstart(v0 + t, n_in), summed over the m examples, then combined with the weights:
 *   out[r, k] = alpha * out[r, k] + sum_i c[i*NMAX + r] * x[i][k]
 *   c: (m, NMAX) coefficients beta * delta[i, j + r]; out: N rows of stride n_in
 * Per example, kv loads and N broadcasts feed N*kv multiply-adds. Every output vector is
 * loaded before any is stored, so an overlapping last vector sees the old weights and writes
 * the same values as the vector it overlaps.
 */
static inline __attribute__((always_inline)) void
FN(weights_tile)(REAL *out, int64_t n_in, const REAL *c, const REAL *const *x, REAL alpha,
                 int64_t m, int64_t v0, const int N, const int kv)
{
    VEC g[NMAX][KV];
    int64_t ks[KV];
    for (int t = 0; t < kv; t++) ks[t] = FN(vstart)(v0 + t, n_in);
    for (int r = 0; r < N; r++)
        for (int t = 0; t < kv; t++) g[r][t] = (VEC){0};
    for (int64_t i = 0; i < m; i++) {
        VEC xv[KV];
        for (int t = 0; t < kv; t++) xv[t] = FN(vload)(x[i] + ks[t]);
        for (int r = 0; r < N; r++) {
            const VEC cr = (VEC){0} + c[i * NMAX + r];
            for (int t = 0; t < kv; t++) g[r][t] += cr * xv[t];
        }
    }
    for (int r = 0; r < N; r++)
        for (int t = 0; t < kv; t++) g[r][t] += alpha * FN(vload)(out + r * n_in + ks[t]);
    for (int r = 0; r < N; r++)
        for (int t = 0; t < kv; t++) FN(vstore)(out + r * n_in + ks[t], g[r][t]);
}

/* One tile of N neurons (a run-time value) and kv vectors (a constant after inlining). */
static inline __attribute__((always_inline)) void
FN(weights_strip)(REAL *out, int64_t n_in, const REAL *c, const REAL *const *x, REAL alpha,
                  int64_t m, int64_t v0, int64_t N, const int kv)
{
    switch (N) {
    case 6: FN(weights_tile)(out, n_in, c, x, alpha, m, v0, 6, kv); break;
    case 5: FN(weights_tile)(out, n_in, c, x, alpha, m, v0, 5, kv); break;
    case 4: FN(weights_tile)(out, n_in, c, x, alpha, m, v0, 4, kv); break;
    case 3: FN(weights_tile)(out, n_in, c, x, alpha, m, v0, 3, kv); break;
    case 2: FN(weights_tile)(out, n_in, c, x, alpha, m, v0, 2, kv); break;
    default: FN(weights_tile)(out, n_in, c, x, alpha, m, v0, 1, kv); break;
    }
}

/*
 * Weight gradient of one layer combined with its use (same contract as
 * dense_backward_weights_naive):
 *   out[j,k] = alpha * out[j,k] + beta * sum_i delta[i,j] * in[i][k]
 *   out: (n_out, n_in); delta: (m, n_out); in: m row pointers of n_in
 *   cbuf: scratch of (n_out + NMAX) * m REALs
 * Neurons in even groups of at most NMAX, k in strips of KV vectors. The strip loop is the
 * outer one: the m input strips stay in the L1 cache while every group's tile uses them, and
 * each weight is read and written once. The last strip of a row holds all its remaining
 * vectors, the last one overlapping when n_in is not a multiple of VL (the two overlapping
 * vectors are always in the same strip); rows shorter than a vector go the scalar way.
 */
static void FN(dense_backward_weights)(REAL *out, REAL *cbuf, const REAL *delta,
                                       const REAL *const *in, REAL alpha, REAL beta, int64_t m,
                                       int64_t n_in, int64_t n_out)
{
    const int64_t np = FN(parts)(n_out, NMAX);
    for (int64_t q = 0; q < np; q++) { /* group q's coefficients: cbuf[q*m*NMAX ..] (m, NMAX) */
        const int64_t j = FN(part_start)(n_out, np, q), N = FN(part_start)(n_out, np, q + 1) - j;
        REAL *c = cbuf + q * m * NMAX;
        for (int64_t i = 0; i < m; i++)
            for (int r = 0; r < NMAX; r++) c[i * NMAX + r] = r < N ? beta * delta[i * n_out + j + r] : 0;
    }
    if (n_in < VL) {
        for (int64_t q = 0; q < np; q++) {
            const int64_t j = FN(part_start)(n_out, np, q), N = FN(part_start)(n_out, np, q + 1) - j;
            const REAL *c = cbuf + q * m * NMAX;
            for (int64_t r = 0; r < N; r++)
                for (int64_t k = 0; k < n_in; k++) {
                    REAL g = 0;
                    for (int64_t i = 0; i < m; i++) g += c[i * NMAX + r] * in[i][k];
                    out[(j + r) * n_in + k] = alpha * out[(j + r) * n_in + k] + g;
                }
        }
        return;
    }
    const int64_t nvec = (n_in + VL - 1) / VL;
    const int overlap = n_in % VL != 0;
    for (int64_t v = 0, kv; v < nvec; v += kv) {
        kv = nvec - v < KV ? nvec - v : KV;
        if (overlap && nvec - v - kv == 1) kv--; /* keep the overlapping pair in one strip */
        for (int64_t q = 0; q < np; q++) {
            const int64_t j = FN(part_start)(n_out, np, q), N = FN(part_start)(n_out, np, q + 1) - j;
            REAL *o = out + j * n_in;
            const REAL *c = cbuf + q * m * NMAX;
            switch (kv) {
#if KV >= 4
            case 4: FN(weights_strip)(o, n_in, c, in, alpha, m, v, N, 4); break;
            case 3: FN(weights_strip)(o, n_in, c, in, alpha, m, v, N, 3); break;
#endif
            case 2: FN(weights_strip)(o, n_in, c, in, alpha, m, v, N, 2); break;
            default: FN(weights_strip)(o, n_in, c, in, alpha, m, v, N, 1); break;
            }
        }
    }
}
#undef KV
#undef EMAX
#undef NMAX

/*
 * Cross-entropy cost of VL outputs, lane by lane:
 *   y softplus(-z) + (1-y) softplus(z) = y max(-z, 0) + (1-y) max(z, 0) + log1p(e^-|z|)
 * (softplus(x) = max(x, 0) + log1p(e^-|x|); written this way nothing cancels), with
 *   e^t, t = -|z| clamped to [T_LO, 0]: 2^k e^r, k = round(t / ln 2), r = t - k ln 2 (ln 2 in
 *        two parts), e^r by Taylor's series to degree 13 in double, 7 in float (|r| <= ln(2)/2);
 *   log1p(u), u in [0, 1]: 2 atanh(s), s = u / (2 + u) in [0, 1/3], by its odd series to s^32
 *        in double, s^12 in float (the next term is below half an ulp of the sum).
 * Each term is within a few ulp of the type's precision of the libm formula of
 * output_delta_naive (float: the same few ulp of float, the terms are then added in double);
 * below T_LO (-700, or -87 in float) e^-|z| cannot change the sum beyond its last bit, and
 * NaN stays NaN.
 */
static inline VEC FN(xent_lanes)(VEC z, VEC y)
{
    const int double_type = sizeof(REAL) == sizeof(double);
    const REAL T_LO = double_type ? (REAL)-700 : (REAL)-87;
    const REAL LOG2E = (REAL)1.4426950408889634;
    const REAL LN2_HI = double_type ? (REAL)6.93147180369123816490e-01 : (REAL)0.693145751953125;
    const REAL LN2_LO = double_type ? (REAL)1.90821492927058770002e-10 : (REAL)1.428606765330187e-06;
    const REAL SHIFT = double_type ? (REAL)6755399441055744.0 : (REAL)12582912.0;
    const int DEG = double_type ? 13 : 7, MANT = double_type ? 52 : 23, QTOP = double_type ? 33 : 13;
    const VEC zero = (VEC){0};
    const IVEC sign = (IVEC)(-zero); /* -0: only the sign bits set */
    VEC t = (VEC)((IVEC)z | sign);             /* -|z| */
    t = FN(vselect)(t < T_LO, zero + T_LO, t);
    const VEC kd = t * LOG2E + SHIFT, k = kd - SHIFT;
    const VEC r = (t - k * LN2_HI) - k * LN2_LO;
    double f = 1.0; /* DEG! */
    for (int d = 2; d <= DEG; d++) f *= (double)d;
    VEC p = zero + (REAL)(1.0 / f);
    for (int d = DEG - 1; d >= 0; d--) {
        f /= (double)(d + 1);
        p = p * r + (REAL)(1.0 / f);
    }
    const VEC u = p * (VEC)(((IVEC)kd << MANT) + (IVEC)(zero + (REAL)1));
    const VEC sv = u / ((REAL)2 + u), s2 = sv * sv;
    VEC q = zero + (REAL)(1.0 / QTOP);
    for (int n = QTOP - 2; n >= 1; n -= 2) q = q * s2 + (REAL)(1.0 / n);
    const VEC pos = (VEC)((IVEC)z & (IVEC)(z > 0));   /* max(z, 0); NaN gives 0 */
    const VEC neg = (VEC)((IVEC)-z & (IVEC)(z < 0));  /* max(-z, 0) */
    return y * neg + ((REAL)1 - y) * pos + (REAL)2 * sv * q;
}

/* The VL lanes of v added to the DL double lanes of acc (float: the two halves widened). */
typedef REAL FN(dpart) __attribute__((vector_size(DL * sizeof(REAL))));
static inline DVEC FN(add_wide)(DVEC acc, VEC v)
{
    for (int h = 0; h < (int)(VL / DL); h++) {
        FN(dpart) part;
        memcpy(&part, (REAL *)&v + h * DL, sizeof part);
        acc += __builtin_convertvector(part, DVEC);
    }
    return acc;
}

#endif /* GC_VECTOR_EXT */

/*
 * Output-layer delta and cost, the plain way.
 *   delta: (m, n) dC/dz; returns the sum over the m rows of the cost
 *   z, a: (m, n) output pre-activations and activations; y: m pointers to target rows of n
 * Cross-entropy: delta = a - y, C = sum y*softplus(-z) + (1-y)*softplus(z)
 * Quadratic:     delta = (a - y) a (1 - a), C = 0.5 |a - y|^2
 */
static double FN(output_delta_naive)(REAL *delta, const REAL *z, const REAL *a,
                                     const REAL *const *y, int cost, int64_t m, int64_t n)
{
    double c = 0.0;
    for (int64_t i = 0; i < m; i++) {
        const REAL *ar = a + i * n, *zr = z + i * n, *yr = y[i];
        REAL *dr = delta + i * n;
        for (int64_t j = 0; j < n; j++) {
            REAL diff = ar[j] - yr[j];
            if (cost == GC_COST_CROSS_ENTROPY) {
                dr[j] = diff;
                double zz = (double)zr[j], yy = (double)yr[j];
                /* softplus(x) = max(x, 0) + log1p(exp(-|x|)); softplus(-z) - softplus(z) = -z */
                double sp = (zz > 0 ? zz : 0.0) + log1p(exp(-fabs(zz)));
                c += yy * (sp - zz) + (1.0 - yy) * sp;
            } else {
                dr[j] = diff * ar[j] * ((REAL)1 - ar[j]);
                c += 0.5 * (double)diff * (double)diff;
            }
        }
    }
    return c;
}

#ifdef GC_VECTOR_EXT
/*
 * Output-layer delta and cost (same contract as output_delta_naive; ybuf: scratch of m*n).
 * The targets are copied into ybuf, then the (m*n) block of outputs goes VL at a time through
 * xent_lanes (full vectors, then one overlapping the one before it with its old lanes
 * masked off; a block shorter than a vector is padded), the costs added in double lanes.
 */
static double FN(output_delta)(REAL *delta, REAL *ybuf, const REAL *z, const REAL *a,
                               const REAL *const *y, int cost, int64_t m, int64_t n)
{
    if (cost != GC_COST_CROSS_ENTROPY) return FN(output_delta_naive)(delta, z, a, y, cost, m, n);
    const int64_t nt = m * n;
    for (int64_t i = 0; i < m; i++) memcpy(ybuf + i * n, y[i], (size_t)n * sizeof(REAL));
    DVEC acc = (DVEC){0};
    if (nt < VL) {
        VEC zv = (VEC){0}, yv = (VEC){0};
        for (int64_t q = 0; q < nt; q++) {
            zv[q] = z[q];
            yv[q] = ybuf[q];
            delta[q] = a[q] - ybuf[q];
        }
        VEC c = FN(xent_lanes)(zv, yv);
        for (int64_t q = nt; q < VL; q++) c[q] = 0;
        acc = FN(add_wide)(acc, c);
    } else {
        for (int64_t i0 = 0; i0 < nt; i0 += VL) {
            const int64_t k = i0 + VL <= nt ? i0 : nt - VL;
            const VEC yv = FN(vload)(ybuf + k);
            FN(vstore)(delta + k, FN(vload)(a + k) - yv);
            VEC c = FN(xent_lanes)(FN(vload)(z + k), yv);
            if (k != i0) c = FN(vselect)(FN(tail_mask)(nt - i0), c, (VEC){0});
            acc = FN(add_wide)(acc, c);
        }
    }
    double sum = 0.0;
    for (int w = 0; w < DL; w++) sum += acc[w];
    return sum;
}

#else /* no vector extensions: the blocked kernels are the naive ones */

static void FN(dense_forward)(REAL *z, REAL *a, const REAL *const *in, const REAL *w,
                              const REAL *b, int64_t m, int64_t n_in, int64_t n_out)
{
    FN(dense_forward_naive)(z, a, in, w, b, m, n_in, n_out);
}

static void FN(dense_backward_delta)(REAL *dprev, const REAL *delta, const REAL *w,
                                     const REAL *a_prev, int64_t m, int64_t n_in,
                                     int64_t n_out)
{
    FN(dense_backward_delta_naive)(dprev, delta, w, a_prev, m, n_in, n_out);
}

static void FN(dense_backward_weights)(REAL *out, REAL *cbuf, const REAL *delta,
                                       const REAL *const *in, REAL alpha, REAL beta, int64_t m,
                                       int64_t n_in, int64_t n_out)
{
    (void)cbuf;
    FN(dense_backward_weights_naive)(out, delta, in, alpha, beta, m, n_in, n_out);
}

static double FN(output_delta)(REAL *delta, REAL *ybuf, const REAL *z, const REAL *a,
                               const REAL *const *y, int cost, int64_t m, int64_t n)
{
    (void)ybuf;
    return FN(output_delta_naive)(delta, z, a, y, cost, m, n);
}
#endif /* GC_VECTOR_EXT */

/* db[j] = sum_i delta[i,j].  db: (n); delta: (m, n) */
static void FN(bias_grad)(REAL *db, const REAL *delta, int64_t m, int64_t n)
{
    for (int64_t j = 0; j < n; j++) db[j] = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) db[j] += delta[i * n + j];
}

/* ---------------------------------------------------------------- workspace */

/* Per-chunk buffers for up to GC_CHUNK examples. */
typedef struct {
    int64_t cap;           /* rows the buffers hold */
    int naive;             /* run the naive kernels (tests) */
    REAL **act;            /* act[l], l = 1..L: (cap, sizes[l]) activations */
    REAL **delta;          /* delta[l], l = 1..L: (cap, sizes[l]) */
    REAL *zout;            /* (cap, sizes[L]) output pre-activations */
    REAL *db;              /* (max size) bias-gradient scratch */
    REAL *cbuf;            /* ((max size + 6) * cap) weight-gradient coefficients */
    const REAL ***rows;    /* rows[l], l = 0..L-1: cap pointers to the input rows of layer l+1 */
    const REAL **yrows;    /* cap pointers to target rows */
    void *block;           /* the one allocation everything above points into */
} FN(workspace);

static void FN(workspace_free)(FN(workspace) *ws)
{
    gc_free(ws->block);
    ws->block = NULL;
}

static gc_status FN(workspace_init)(FN(workspace) *ws, const gc_arch *arch, int64_t cap,
                                    int naive)
{
    const int L = arch->n_layers;
    const int32_t *s = arch->sizes;
    int64_t nreal = 0, nptr = 0, maxn = 0;
    for (int l = 1; l <= L; l++) {
        nreal += 2 * cap * s[l];
        if (s[l] > maxn) maxn = s[l];
    }
    nreal += cap * s[L] + maxn + (maxn + 6) * cap; /* 6: NMAX */
    nptr = 2 * (int64_t)(L + 1) + L + (int64_t)L * cap + cap; /* act, delta, rows, row ptrs, yrows */
    size_t bytes = (size_t)nptr * sizeof(void *) + (size_t)nreal * sizeof(REAL) + 64;
    char *p = (char *)gc_alloc((int64_t)bytes, 1);
    ws->block = NULL; /* what the caller frees, whatever happens here */
    if (!p) return GC_ERR_NOMEM;
    ws->block = p;
    ws->cap = cap;
    ws->naive = naive;
    ws->act = (REAL **)p; p += (L + 1) * sizeof(REAL *);
    ws->delta = (REAL **)p; p += (L + 1) * sizeof(REAL *);
    ws->rows = (const REAL ***)p; p += L * sizeof(REAL **);
    const REAL **rowp = (const REAL **)p; p += (size_t)L * cap * sizeof(REAL *);
    ws->yrows = (const REAL **)p; p += cap * sizeof(REAL *);
    p += (64 - ((uintptr_t)p % 64)) % 64; /* align the numbers */
    REAL *r = (REAL *)p;
    ws->act[0] = NULL;
    ws->delta[0] = NULL;
    for (int l = 1; l <= L; l++) {
        ws->act[l] = r; r += cap * s[l];
        ws->delta[l] = r; r += cap * s[l];
    }
    ws->zout = r; r += cap * s[L];
    ws->cbuf = r; r += (maxn + 6) * cap;
    ws->db = r;
    for (int l = 0; l < L; l++) {
        ws->rows[l] = rowp + (int64_t)l * cap;
        if (l > 0) /* hidden activations are contiguous rows of act[l] */
            for (int64_t i = 0; i < cap; i++) rowp[(int64_t)l * cap + i] = ws->act[l] + i * s[l];
    }
    return GC_OK;
}

/* Offsets of W_l and b_l in the parameter buffer. */
static void FN(layer_params)(REAL **w, REAL **b, REAL *params, const gc_arch *arch, int l)
{
    int64_t off = 0;
    for (int k = 0; k < l; k++) off += (int64_t)arch->sizes[k + 1] * (arch->sizes[k] + 1);
    *w = params + off;
    *b = params + off + (int64_t)arch->sizes[l + 1] * arch->sizes[l];
}

/* Forward pass of the whole network for the m rows already in ws->rows[0]. */
static void FN(forward_chunk)(FN(workspace) *ws, const gc_arch *arch, const REAL *params,
                              int64_t m)
{
    const int L = arch->n_layers;
    for (int l = 0; l < L; l++) {
        REAL *w, *b;
        FN(layer_params)(&w, &b, (REAL *)params, arch, l);
        REAL *z = l == L - 1 ? ws->zout : NULL;
        if (ws->naive)
            FN(dense_forward_naive)(z, ws->act[l + 1], ws->rows[l], w, b, m, arch->sizes[l],
                                    arch->sizes[l + 1]);
        else
            FN(dense_forward)(z, ws->act[l + 1], ws->rows[l], w, b, m, arch->sizes[l],
                              arch->sizes[l + 1]);
    }
}

/*
 * Forward and backward pass over the m rows in ws->rows[0] / ws->yrows.
 * If grad is not NULL: grad (params layout) += dC/dparams summed over the rows.
 * Otherwise the SGD step is applied to params directly, layer by layer from the top (each
 * layer's weights are used for the delta below before they change), and speed_sum gets the
 * mean bias gradient of the rows.
 * Returns the sum of the cost over the rows.
 */
static double FN(backprop_chunk)(FN(workspace) *ws, REAL *grad, REAL *params,
                                 double *speed_sum, const gc_arch *arch, int64_t m, REAL decay,
                                 REAL step)
{
    const int L = arch->n_layers;
    const int32_t *s = arch->sizes;
    double c = ws->naive ? FN(output_delta_naive)(ws->delta[L], ws->zout, ws->act[L], ws->yrows,
                                                  arch->cost, m, s[L])
                         : FN(output_delta)(ws->delta[L], ws->cbuf, ws->zout, ws->act[L], ws->yrows,
                                            arch->cost, m, s[L]);
    int64_t boff = 0; /* offset of layer l's biases in speed_sum */
    for (int l = 0; l < L - 1; l++) boff += s[l + 1];
    for (int l = L - 1; l >= 0; l--) {
        REAL *w, *b;
        const REAL *delta = ws->delta[l + 1];
        const int64_t n_in = s[l], n_out = s[l + 1];
        FN(layer_params)(&w, &b, params, arch, l);
        if (l > 0) {
            if (ws->naive)
                FN(dense_backward_delta_naive)(ws->delta[l], delta, w, ws->act[l], m, n_in, n_out);
            else
                FN(dense_backward_delta)(ws->delta[l], delta, w, ws->act[l], m, n_in, n_out);
        }
        FN(bias_grad)(ws->db, delta, m, n_out);
        REAL *out = w, alpha = decay, beta = -step;
        if (grad) {
            REAL *gb;
            FN(layer_params)(&out, &gb, grad, arch, l);
            alpha = 1;
            beta = 1;
            for (int64_t j = 0; j < n_out; j++) gb[j] += ws->db[j];
        } else {
            for (int64_t j = 0; j < n_out; j++) {
                b[j] -= step * ws->db[j];
                speed_sum[boff + j] += (double)ws->db[j] / (double)m;
            }
        }
        if (ws->naive)
            FN(dense_backward_weights_naive)(out, delta, ws->rows[l], alpha, beta, m, n_in, n_out);
        else
            FN(dense_backward_weights)(out, ws->cbuf, delta, ws->rows[l], alpha, beta, m, n_in,
                                       n_out);
        if (l > 0) boff -= s[l];
    }
    return c;
}

static int FN(all_finite)(const REAL *x, int64_t n)
{
    REAL acc = 0;
    /* any NaN or infinity makes the product 0*x NaN */
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; i++) acc += (REAL)0 * x[i];
    return acc == 0;
}

/* ---------------------------------------------------------------- entry points */
/* (the public gc_* functions in kernels.c pick the level and call these) */

static gc_status FN(feedforward)(REAL *z_out, REAL *a_out, const gc_arch *arch,
                                 const REAL *params, const REAL *X, int64_t n, int naive)
{
    gc_status st = gc_arch_check(arch);
    if (st != GC_OK) return st;
    if (n < 0) return GC_ERR_ARGUMENT;
    const int L = arch->n_layers;
    const int64_t n_in = arch->sizes[0], n_out = arch->sizes[L];
    FN(workspace) ws;
    st = FN(workspace_init)(&ws, arch, GC_CHUNK, naive);
    if (st != GC_OK) return st;
    for (int64_t k = 0; k < n; k += GC_CHUNK) {
        const int64_t m = n - k < GC_CHUNK ? n - k : GC_CHUNK;
        for (int64_t i = 0; i < m; i++) ws.rows[0][i] = X + (k + i) * n_in;
        FN(forward_chunk)(&ws, arch, params, m);
        memcpy(z_out + k * n_out, ws.zout, (size_t)(m * n_out) * sizeof(REAL));
        memcpy(a_out + k * n_out, ws.act[L], (size_t)(m * n_out) * sizeof(REAL));
    }
    FN(workspace_free)(&ws);
    return GC_OK;
}

/*
 * Sum over n rows of the gradient: grad (params layout) = sum of dC/dparams, *cost = sum of
 * the costs. Row i is X[idx[i]] (X[i] if idx is NULL). With T = gc_threads_for(chunks of
 * GC_CHUNK rows) > 1 the rows are split into T even contiguous ranges (1,000 rows on 2
 * threads: 500 + 500), range t summed in chunks of GC_CHUNK into its own buffer (grad itself
 * for t = 0), and the buffers added in the order t = 0..T-1: the result depends on T but not
 * on scheduling.
 */
static gc_status FN(gradient_sum)(REAL *grad, double *cost, const gc_arch *arch,
                                  const REAL *params, const REAL *X, const REAL *Y,
                                  const int64_t *idx, int64_t n, gc_stop_flag *stop, int naive)
{
    const int L = arch->n_layers;
    const int64_t n_in = arch->sizes[0], n_out = arch->sizes[L], np = gc_param_count(arch);
    const int64_t n_chunks = (n + GC_CHUNK - 1) / GC_CHUNK;
    const int T = gc_threads_for(n_chunks);
    REAL *extra = NULL; /* buffers of ranges 1..T-1 */
    double costs[GC_MAX_THREADS];
    gc_status sts[GC_MAX_THREADS];
    if (T > 1) {
        extra = (REAL *)gc_alloc((int64_t)(T - 1) * np, sizeof(REAL));
        if (!extra) return GC_ERR_NOMEM;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(T) if (T > 1)
#endif
    {
        int t0 = 0, dt = 1;
#ifdef _OPENMP
        t0 = omp_get_thread_num();
        dt = omp_get_num_threads();
#endif
        for (int t = t0; t < T; t += dt) { /* one range per thread, whatever the team size */
            REAL *g = t == 0 ? grad : extra + (int64_t)(t - 1) * np;
            double c = 0.0;
            gc_status st = GC_OK;
            FN(workspace) ws;
            for (int64_t p = 0; p < np; p++) g[p] = 0;
            st = FN(workspace_init)(&ws, arch, GC_CHUNK, naive);
            const int64_t r_end = n * (t + 1) / T; /* rows [n t / T, n (t+1) / T) */
            for (int64_t k = n * t / T; st == GC_OK && k < r_end; k += GC_CHUNK) {
                if (stop && *stop) { st = GC_ERR_INTERRUPTED; break; }
                const int64_t m = r_end - k < GC_CHUNK ? r_end - k : GC_CHUNK;
                for (int64_t i = 0; i < m; i++) {
                    const int64_t row = idx ? idx[k + i] : k + i;
                    ws.rows[0][i] = X + row * n_in;
                    ws.yrows[i] = Y + row * n_out;
                }
                FN(forward_chunk)(&ws, arch, params, m);
                c += FN(backprop_chunk)(&ws, g, (REAL *)params, NULL, arch, m, 1, 0);
            }
            if (ws.block) FN(workspace_free)(&ws);
            costs[t] = c;
            sts[t] = st;
        }
    }
    gc_status st = GC_OK;
    double c = 0.0;
    for (int t = 0; t < T; t++) {
        c += costs[t];
        if (sts[t] == GC_ERR_NOMEM) st = GC_ERR_NOMEM;
        else if (sts[t] != GC_OK && st == GC_OK) st = sts[t];
        if (t > 0) {
            const REAL *g = extra + (int64_t)(t - 1) * np;
#pragma omp simd
            for (int64_t p = 0; p < np; p++) grad[p] += g[p];
        }
    }
    gc_free(extra);
    *cost = c;
    return st;
}

static gc_status FN(gradient)(REAL *grad, double *cost_sum, const gc_arch *arch,
                              const REAL *params, const REAL *X, const REAL *Y, int64_t n,
                              gc_stop_flag *stop, int naive)
{
    gc_status st = gc_arch_check(arch);
    if (st != GC_OK) return st;
    if (n < 1) return GC_ERR_ARGUMENT;
    const int64_t np = gc_param_count(arch);
    double c = 0.0;
    st = FN(gradient_sum)(grad, &c, arch, params, X, Y, NULL, n, stop, naive);
    for (int64_t p = 0; p < np; p++) grad[p] /= (REAL)n;
    *cost_sum = c;
    return st;
}

static gc_status FN(sgd_epoch)(REAL *params, double *speed_sum, double *cost_sum,
                               int64_t *batches_done, const gc_arch *arch, const REAL *X,
                               const REAL *Y, const int64_t *perm, int64_t n_perm,
                               int64_t n_train, int64_t m, double eta, double lmbda,
                               int64_t max_batches, gc_stop_flag *stop, int naive)
{
    gc_status st = gc_arch_check(arch);
    if (st != GC_OK) return st;
    if (m < 1 || n_train < 1 || n_perm < 0) return GC_ERR_ARGUMENT;
    for (int64_t i = 0; i < n_perm; i++)
        if (perm[i] < 0 || perm[i] >= n_train) return GC_ERR_ARGUMENT;
    const int L = arch->n_layers;
    const int32_t *s = arch->sizes;
    const int64_t n_in = s[0], n_out = s[L], np = gc_param_count(arch);
    const REAL decay = (REAL)(1.0 - eta * lmbda / (double)n_train);
    const int fused = m <= GC_CHUNK; /* a mini-batch that fits one chunk updates in place */
    FN(workspace) ws;
    st = FN(workspace_init)(&ws, arch, fused ? m : 1, naive);
    if (st != GC_OK) return st;
    REAL *grad = NULL;
    if (!fused) {
        grad = (REAL *)gc_alloc(np, sizeof(REAL));
        if (!grad) { FN(workspace_free)(&ws); return GC_ERR_NOMEM; }
    }
    double c = 0.0;
    int64_t done = 0;
    for (int64_t k = 0; k < n_perm; k += m, done++) {
        if (max_batches >= 0 && done >= max_batches) break;
        if (stop && *stop) { st = GC_ERR_INTERRUPTED; break; }
        const int64_t mb = n_perm - k < m ? n_perm - k : m; /* this mini-batch's size */
        const REAL step = (REAL)(eta / (double)mb);
        double cb = 0.0;
        if (fused) {
            for (int64_t i = 0; i < mb; i++) {
                ws.rows[0][i] = X + perm[k + i] * n_in;
                ws.yrows[i] = Y + perm[k + i] * n_out;
            }
            FN(forward_chunk)(&ws, arch, params, mb);
            cb = FN(backprop_chunk)(&ws, NULL, params, speed_sum, arch, mb, decay, step);
        } else {
            gc_status sg = FN(gradient_sum)(grad, &cb, arch, params, X, Y, perm + k, mb, stop,
                                            naive);
            if (sg == GC_ERR_INTERRUPTED) { st = sg; break; } /* this update not applied */
            if (sg != GC_OK) { st = sg; break; }
            /* the SGD step from the summed gradient */
            int64_t boff = 0;
            for (int l = 0; l < L; l++) {
                REAL *w, *b, *gw, *gb;
                FN(layer_params)(&w, &b, params, arch, l);
                FN(layer_params)(&gw, &gb, grad, arch, l);
                const int64_t nw = (int64_t)s[l + 1] * s[l];
#pragma omp simd
                for (int64_t p = 0; p < nw; p++) w[p] = decay * w[p] - step * gw[p];
                for (int64_t j = 0; j < s[l + 1]; j++) {
                    b[j] -= step * gb[j];
                    speed_sum[boff + j] += (double)gb[j] / (double)mb;
                }
                boff += s[l + 1];
            }
        }
        c += cb;
        /* Non-finite parameters always give a non-finite cost on the next mini-batch (0*inf
         * and 0*NaN are NaN), so checking the cost is enough until the last update. */
        if (!isfinite(cb)) { st = GC_ERR_NONFINITE; done++; break; }
    }
    if (st == GC_OK && !FN(all_finite)(params, np)) st = GC_ERR_NONFINITE;
    *cost_sum = c;
    *batches_done = done;
    gc_free(grad);
    FN(workspace_free)(&ws);
    return st;
}

#undef VEC
#undef IVEC
#undef DVEC
#undef DIVEC
#undef DL
#undef VL
