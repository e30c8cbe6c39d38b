/*
 * Type-generic body of the kernels, included by kernels.c once per floating type with
 *   REAL   the element type (double or float)
 *   FN(x)  the name of x for that type (x_f64 or x_f32)
 *
 * The hot loops are written so the compiler vectorises them along the contiguous (k) axis
 * with `#pragma omp simd` (-fopenmp-simd: no OpenMP runtime, no -ffast-math); GC_HOT asks
 * for extra x86-64 clones (AVX2+FMA, AVX-512) chosen at load time where the toolchain
 * supports it.
 */

/* ---------------------------------------------------------------- layer passes */

/*
 * Forward pass of one dense sigmoid layer.
 *   a: (m, n_out) activations sigma(z); z: (m, n_out) pre-activations, or NULL if not wanted
 *   in: m pointers to input rows of n_in values; w: (n_out, n_in); b: (n_out)
 */
GC_HOT static void FN(dense_forward)(REAL *z, REAL *a, const REAL *const *in, const REAL *w,
                                     const REAL *b, int64_t m, int64_t n_in, int64_t n_out)
{
    int64_t i = 0;
    /* two examples x four neurons at a time: 6 loads feed 8 multiply-adds */
    for (; i + 2 <= m; i += 2) {
        const REAL *x0 = in[i], *x1 = in[i + 1];
        int64_t j = 0;
        for (; j + 4 <= n_out; j += 4) {
            const REAL *w0 = w + j * n_in, *w1 = w0 + n_in, *w2 = w1 + n_in, *w3 = w2 + n_in;
            REAL s00 = 0, s10 = 0, s20 = 0, s30 = 0, s01 = 0, s11 = 0, s21 = 0, s31 = 0;
#pragma omp simd reduction(+ : s00, s10, s20, s30, s01, s11, s21, s31)
            for (int64_t k = 0; k < n_in; k++) {
                REAL u = x0[k], v = x1[k];
                s00 += w0[k] * u; s10 += w1[k] * u; s20 += w2[k] * u; s30 += w3[k] * u;
                s01 += w0[k] * v; s11 += w1[k] * v; s21 += w2[k] * v; s31 += w3[k] * v;
            }
            REAL *zr0 = a + i * n_out + j, *zr1 = zr0 + n_out;
            zr0[0] = s00; zr0[1] = s10; zr0[2] = s20; zr0[3] = s30;
            zr1[0] = s01; zr1[1] = s11; zr1[2] = s21; zr1[3] = s31;
        }
        for (; j < n_out; j++) {
            const REAL *wj = w + j * n_in;
            REAL s0 = 0, s1 = 0;
#pragma omp simd reduction(+ : s0, s1)
            for (int64_t k = 0; k < n_in; k++) {
                s0 += wj[k] * x0[k];
                s1 += wj[k] * x1[k];
            }
            a[i * n_out + j] = s0;
            a[(i + 1) * n_out + j] = s1;
        }
    }
    for (; i < m; i++) {
        const REAL *x = in[i];
        for (int64_t j = 0; j < n_out; j++) {
            const REAL *wj = w + j * n_in;
            REAL s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t k = 0; k < n_in; k++) s += wj[k] * x[k];
            a[i * n_out + j] = s;
        }
    }
    /* add the bias, keep z if asked, squash */
    for (i = 0; i < m; i++) {
        REAL *ar = a + i * n_out;
        for (int64_t j = 0; j < n_out; j++) {
            REAL zz = ar[j] + b[j];
            if (z) z[i * n_out + j] = zz;
            ar[j] = (REAL)1 / ((REAL)1 + EXP(-zz));
        }
    }
}

/*
 * Output-layer delta and cost.
 *   delta: (m, n) dC/dz; returns the sum over the m rows of the cost
 *   z, a: (m, n) output pre-activations and activations; y: m pointers to target rows of n
 * Cross-entropy: delta = a - y, C = sum y*softplus(-z) + (1-y)*softplus(z)
 * Quadratic:     delta = (a - y) a (1 - a), C = 0.5 |a - y|^2
 */
static double FN(output_delta)(REAL *delta, const REAL *z, const REAL *a,
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

/*
 * Delta of the layer below: dprev = (delta . w) * a_prev (1 - a_prev).
 *   dprev: (m, n_in); delta: (m, n_out); w: (n_out, n_in); a_prev: (m, n_in) activations
 */
GC_HOT static void FN(dense_backward_delta)(REAL *dprev, const REAL *delta, const REAL *w,
                                            const REAL *a_prev, int64_t m, int64_t n_in,
                                            int64_t n_out)
{
    for (int64_t i = 0; i < m; i++) {
        REAL *dp = dprev + i * n_in;
        const REAL *d = delta + i * n_out, *ap = a_prev + i * n_in;
#pragma omp simd
        for (int64_t k = 0; k < n_in; k++) dp[k] = 0;
        for (int64_t j = 0; j < n_out; j++) {
            const REAL dj = d[j], *wj = w + j * n_in;
#pragma omp simd
            for (int64_t k = 0; k < n_in; k++) dp[k] += dj * wj[k];
        }
#pragma omp simd
        for (int64_t k = 0; k < n_in; k++) dp[k] *= ap[k] * ((REAL)1 - ap[k]);
    }
}

/*
 * Weight gradient of one layer, combined with what is done with it:
 *   out[j,k] = alpha * out[j,k] + beta * sum_i delta[i,j] * in[i][k]
 * alpha = 1, beta = 1 accumulates a gradient; alpha = 1 - eta*lmbda/n, beta = -eta/m applies
 * the SGD update straight to the weights without materialising the gradient.
 *   out: (n_out, n_in); delta: (m, n_out); in: m pointers to input rows of n_in
 */
GC_HOT static void FN(dense_backward_weights)(REAL *out, const REAL *delta,
                                              const REAL *const *in, REAL alpha, REAL beta,
                                              int64_t m, int64_t n_in, int64_t n_out)
{
    int64_t j = 0;
    /* four neurons at a time: each input value loaded once feeds four multiply-adds */
    for (; j + 4 <= n_out; j += 4) {
        REAL *o0 = out + j * n_in, *o1 = o0 + n_in, *o2 = o1 + n_in, *o3 = o2 + n_in;
#pragma omp simd
        for (int64_t k = 0; k < n_in; k++) {
            REAL g0 = 0, g1 = 0, g2 = 0, g3 = 0;
            for (int64_t i = 0; i < m; i++) {
                const REAL x = in[i][k], *d = delta + i * n_out + j;
                g0 += d[0] * x; g1 += d[1] * x; g2 += d[2] * x; g3 += d[3] * x;
            }
            o0[k] = alpha * o0[k] + beta * g0;
            o1[k] = alpha * o1[k] + beta * g1;
            o2[k] = alpha * o2[k] + beta * g2;
            o3[k] = alpha * o3[k] + beta * g3;
        }
    }
    for (; j < n_out; j++) {
        REAL *o = out + j * n_in;
#pragma omp simd
        for (int64_t k = 0; k < n_in; k++) {
            REAL g = 0;
            for (int64_t i = 0; i < m; i++) g += delta[i * n_out + j] * in[i][k];
            o[k] = alpha * o[k] + beta * g;
        }
    }
}

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
    REAL **act;            /* act[l], l = 1..L: (cap, sizes[l]) activations */
    REAL **delta;          /* delta[l], l = 1..L: (cap, sizes[l]) */
    REAL *zout;            /* (cap, sizes[L]) output pre-activations */
    REAL *db;              /* (max size) bias-gradient scratch */
    const REAL ***rows;    /* rows[l], l = 0..L-1: cap pointers to the input rows of layer l+1 */
    const REAL **yrows;    /* cap pointers to target rows */
    void *block;           /* the one allocation everything above points into */
} FN(workspace);

static void FN(workspace_free)(FN(workspace) *ws)
{
    free(ws->block);
    ws->block = NULL;
}

static gc_status FN(workspace_init)(FN(workspace) *ws, const gc_arch *arch, int64_t cap)
{
    const int L = arch->n_layers;
    const int32_t *s = arch->sizes;
    int64_t nreal = 0, nptr = 0, maxn = 0;
    for (int l = 1; l <= L; l++) {
        nreal += 2 * cap * s[l];
        if (s[l] > maxn) maxn = s[l];
    }
    nreal += cap * s[L] + maxn;
    nptr = 2 * (int64_t)(L + 1) + L + (int64_t)L * cap + cap; /* act, delta, rows, row ptrs, yrows */
    size_t bytes = (size_t)nptr * sizeof(void *) + (size_t)nreal * sizeof(REAL) + 64;
    char *p = (char *)malloc(bytes);
    if (!p) return GC_ERR_NOMEM;
    ws->block = p;
    ws->cap = cap;
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
        FN(dense_forward)(l == L - 1 ? ws->zout : NULL, ws->act[l + 1], ws->rows[l], w, b, m,
                          arch->sizes[l], arch->sizes[l + 1]);
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
    double c = FN(output_delta)(ws->delta[L], ws->zout, ws->act[L], ws->yrows, arch->cost, m,
                                s[L]);
    int64_t boff = 0; /* offset of layer l's biases in speed_sum */
    for (int l = 0; l < L - 1; l++) boff += s[l + 1];
    for (int l = L - 1; l >= 0; l--) {
        REAL *w, *b;
        const REAL *delta = ws->delta[l + 1];
        const int64_t n_in = s[l], n_out = s[l + 1];
        FN(layer_params)(&w, &b, params, arch, l);
        if (l > 0)
            FN(dense_backward_delta)(ws->delta[l], delta, w, ws->act[l], m, n_in, n_out);
        FN(bias_grad)(ws->db, delta, m, n_out);
        if (grad) {
            REAL *gw, *gb;
            FN(layer_params)(&gw, &gb, grad, arch, l);
            FN(dense_backward_weights)(gw, delta, ws->rows[l], 1, 1, m, n_in, n_out);
            for (int64_t j = 0; j < n_out; j++) gb[j] += ws->db[j];
        } else {
            FN(dense_backward_weights)(w, delta, ws->rows[l], decay, -step, m, n_in, n_out);
            for (int64_t j = 0; j < n_out; j++) {
                b[j] -= step * ws->db[j];
                speed_sum[boff + j] += (double)ws->db[j] / (double)m;
            }
        }
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

/* ---------------------------------------------------------------- public entry points */

gc_status FN(gc_feedforward)(REAL *z_out, REAL *a_out, const gc_arch *arch, const REAL *params,
                             const REAL *X, int64_t n)
{
    gc_status st = gc_arch_check(arch);
    if (st != GC_OK) return st;
    if (n < 0) return GC_ERR_ARGUMENT;
    const int L = arch->n_layers;
    const int64_t n_in = arch->sizes[0], n_out = arch->sizes[L];
    FN(workspace) ws;
    st = FN(workspace_init)(&ws, arch, GC_CHUNK);
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

gc_status FN(gc_gradient)(REAL *grad, double *cost_sum, const gc_arch *arch, const REAL *params,
                          const REAL *X, const REAL *Y, int64_t n, gc_stop_flag *stop)
{
    gc_status st = gc_arch_check(arch);
    if (st != GC_OK) return st;
    if (n < 1) return GC_ERR_ARGUMENT;
    const int L = arch->n_layers;
    const int64_t n_in = arch->sizes[0], n_out = arch->sizes[L], np = gc_param_count(arch);
    FN(workspace) ws;
    st = FN(workspace_init)(&ws, arch, GC_CHUNK);
    if (st != GC_OK) return st;
    for (int64_t p = 0; p < np; p++) grad[p] = 0;
    double c = 0.0;
    for (int64_t k = 0; k < n; k += GC_CHUNK) {
        if (stop && *stop) { st = GC_ERR_INTERRUPTED; break; }
        const int64_t m = n - k < GC_CHUNK ? n - k : GC_CHUNK;
        for (int64_t i = 0; i < m; i++) {
            ws.rows[0][i] = X + (k + i) * n_in;
            ws.yrows[i] = Y + (k + i) * n_out;
        }
        FN(forward_chunk)(&ws, arch, params, m);
        c += FN(backprop_chunk)(&ws, grad, (REAL *)params, NULL, arch, m, 1, 0);
    }
    for (int64_t p = 0; p < np; p++) grad[p] /= (REAL)n;
    *cost_sum = c;
    FN(workspace_free)(&ws);
    return st;
}

gc_status FN(gc_sgd_epoch)(REAL *params, double *speed_sum, double *cost_sum,
                           int64_t *batches_done, const gc_arch *arch, const REAL *X,
                           const REAL *Y, const int64_t *perm, int64_t n_perm, int64_t n_train,
                           int64_t m, double eta, double lmbda, int64_t max_batches,
                           gc_stop_flag *stop)
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
    st = FN(workspace_init)(&ws, arch, m < GC_CHUNK ? m : GC_CHUNK);
    if (st != GC_OK) return st;
    REAL *grad = NULL;
    if (!fused) {
        grad = (REAL *)malloc((size_t)np * sizeof(REAL));
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
            for (int64_t p = 0; p < np; p++) grad[p] = 0;
            for (int64_t c0 = 0; c0 < mb; c0 += GC_CHUNK) {
                const int64_t mc = mb - c0 < GC_CHUNK ? mb - c0 : GC_CHUNK;
                for (int64_t i = 0; i < mc; i++) {
                    ws.rows[0][i] = X + perm[k + c0 + i] * n_in;
                    ws.yrows[i] = Y + perm[k + c0 + i] * n_out;
                }
                FN(forward_chunk)(&ws, arch, params, mc);
                cb += FN(backprop_chunk)(&ws, grad, params, NULL, arch, mc, 1, 0);
            }
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
    free(grad);
    FN(workspace_free)(&ws);
    return st;
}
