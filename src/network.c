/*
 * gradcore's networks: feedforward, gradients and SGD epochs through dense layers.
 *
 * The build compiles this file once per floating type (`real`, layers.h); each compilation
 * defines that type's public entry points (gc_feedforward_f64 or gc_feedforward_f32, ...:
 * see kernels.h). The layer passes come from the kernel table of the level in use
 * (layers.c; dispatch.c picks the level). This file lays the network out, moves the rows
 * through it in chunks of GC_CHUNK, spreads large jobs over threads, and applies the SGD
 * steps.
 */
#include "kernels.h"

#include <math.h>
#include <string.h>

#include "internal.h"
#include "layers.h"
#include "pool.h"

/* ---------------------------------------------------------------- the kernel tables */

/* One table per level that the build compiled for this type, naive first (layers.h). */
typedef const layer_kernels *layer_table;
extern const layer_table GC_LAYER_TABLES;

static const layer_kernels *kernels_in_use(void)
{
    const layer_table by_level[] = {GC_LAYER_TABLES};
    const int n = (int)(sizeof by_level / sizeof by_level[0]), level = gc_kernel_level();
    return by_level[level < n ? level : n - 1];
}

/* ---------------------------------------------------------------- the network */

/* One layer: its shape and where its parameters are. Weights and gradients share the
 * layout of the parameter buffer (kernels.h): W (n_out, n_in) row-major, then b (n_out). */
typedef struct {
    int64_t n_in, n_out;
    int64_t w, b;  /* offsets of W and b in the parameter buffer */
    int64_t slope; /* offset of the PReLU slopes (n_out) in it; -1: not a PReLU layer */
    int64_t speed; /* offset of the layer's entries in speed_sum (and dropscale) */
    int act;       /* GC_ACT_*: the activation of the layer's output */
} layer;

typedef struct {
    const layer_kernels *k; /* the layer passes of the kernel level in use */
    int n_layers;
    int cost; /* GC_COST_* */
    int64_t n_params;
    int64_t widest; /* the largest n_out */
    layer *layers;  /* n_layers entries, input layer first */
    /* dropout (NULL: none): per hidden unit, in speed_sum's layout, 0 for a unit dropped in
     * the current mini-batch and 1 / (1 - p) for one kept; the output's entries unused */
    const real *dropscale;
} network;

/* The layer table of an architecture that gc_arch_check accepted, computed once per call. */
static gc_status network_init(network *net, const gc_arch *arch)
{
    int64_t off = 0, speed = 0;
    net->k = kernels_in_use();
    net->dropscale = NULL;
    net->n_layers = arch->n_layers;
    net->cost = arch->cost;
    net->widest = 0;
    net->layers = (layer *)gc_alloc(arch->n_layers, sizeof(layer));
    if (!net->layers) return GC_ERR_NOMEM;
    for (int l = 0; l < arch->n_layers; l++) {
        layer *ly = &net->layers[l];
        ly->n_in = arch->sizes[l];
        ly->n_out = arch->sizes[l + 1];
        ly->w = off;
        ly->b = off + ly->n_out * ly->n_in;
        ly->speed = speed;
        ly->act = gc_arch_act(arch, l);
        off = ly->b + ly->n_out;
        speed += ly->n_out;
        if (ly->n_out > net->widest) net->widest = ly->n_out;
    }
    for (int l = 0; l < arch->n_layers; l++) { /* the slopes follow the last layer */
        layer *ly = &net->layers[l];
        ly->slope = ly->act == GC_ACT_PRELU ? off : -1;
        if (ly->act == GC_ACT_PRELU) off += ly->n_out;
    }
    net->n_params = off;
    return GC_OK;
}

static void network_free(network *net)
{
    gc_free(net->layers);
    net->layers = NULL;
}

/* ---------------------------------------------------------------- workspace */

/* The activations and deltas of up to cap rows (a chunk) on their way through the layers. */
typedef struct {
    const real ***in;   /* in[l], l = 0..L-1: cap pointers to the input rows of layer l */
    real **act;         /* act[l], l = 1..L: (cap, sizes[l]) activations */
    real **delta;       /* delta[l], l = 1..L: (cap, sizes[l]) dC/dz */
    real **z;           /* z[l], l = 1..L: (cap, sizes[l]) pre-activations, kept for the
                           output layer and PReLU layers (z[L]: the output's) */
    real **dropped;     /* dropped[l], l = 1..L-1: (cap, sizes[l]) the activations after
                           dropout, the next layer's inputs (NULL without dropout) */
    real *y;            /* (cap, sizes[L]) the rows' targets */
    const real **ahead; /* cap pointers: the next mini-batch's input rows (see sgd_chunk) */
    real *db;           /* (widest) bias gradient of one layer */
    real *ds;           /* (widest) slope gradient of one PReLU layer */
    void *block;        /* the one allocation everything above points into */
} workspace;

static void workspace_free(workspace *ws)
{
    gc_free(ws->block);
    ws->block = NULL;
}

static gc_status workspace_init(workspace *ws, const network *net, int64_t cap)
{
    const int L = net->n_layers;
    const int64_t n_out = net->layers[L - 1].n_out;
    const int drop = net->dropscale != NULL;
    int64_t per_row = gc_count(1, n_out, 0); /* y */
    for (int l = 0; l < L; l++) /* act, delta, z, and dropped */
        per_row = gc_count(3 + drop, net->layers[l].n_out, per_row);
    const int64_t nreal = gc_count(cap, per_row, gc_count(2, net->widest, 0)); /* + db, ds */
    /* act, delta, z, dropped (L + 1 each); in (L); rows (L cap) and ahead (cap) */
    const int64_t nptr = gc_count(L + 1, cap + 1, 4 * (int64_t)(L + 1));
    const int64_t bytes = gc_count(nreal, sizeof(real), gc_count(nptr, sizeof(void *), 64));
    char *p = (char *)gc_alloc(bytes, 1);
    ws->block = p;
    if (!p) return GC_ERR_NOMEM;
    ws->act = (real **)p; p += (L + 1) * sizeof(real *);
    ws->delta = (real **)p; p += (L + 1) * sizeof(real *);
    ws->z = (real **)p; p += (L + 1) * sizeof(real *);
    ws->dropped = (real **)p; p += (L + 1) * sizeof(real *);
    ws->in = (const real ***)p; p += L * sizeof(real **);
    const real **rows = (const real **)p; p += (size_t)L * cap * sizeof(real *);
    ws->ahead = (const real **)p; p += (size_t)cap * sizeof(real *);
    p += (64 - ((uintptr_t)p % 64)) % 64; /* align the numbers */
    real *r = (real *)p;
    ws->act[0] = ws->delta[0] = ws->z[0] = NULL;
    for (int l = 1; l <= L; l++) {
        ws->act[l] = r; r += cap * net->layers[l - 1].n_out;
        ws->delta[l] = r; r += cap * net->layers[l - 1].n_out;
        ws->z[l] = r; r += cap * net->layers[l - 1].n_out;
        ws->dropped[l] = NULL;
        if (drop) { ws->dropped[l] = r; r += cap * net->layers[l - 1].n_out; }
    }
    ws->y = r; r += cap * n_out;
    ws->db = r; r += net->widest;
    ws->ds = r;
    for (int l = 0; l < L; l++) ws->in[l] = rows + (int64_t)l * cap;
    for (int l = 1; l < L; l++) /* the inputs of the layers above: the rows of act[l] */
        for (int64_t i = 0; i < cap; i++)
            rows[(int64_t)l * cap + i] = (drop ? ws->dropped[l] : ws->act[l]) +
                                         i * net->layers[l].n_in;
    return GC_OK;
}

/* Rows idx[first .. first+m-1] of X (rows first .. first+m-1 if idx is NULL) as the inputs
 * of ws, and the same rows of Y (unless Y is NULL) copied in as its targets. */
static void load_rows(workspace *ws, const network *net, const real *X, const real *Y,
                      const int64_t *idx, int64_t first, int64_t m)
{
    const int64_t n_in = net->layers[0].n_in, n_out = net->layers[net->n_layers - 1].n_out;
    for (int64_t i = 0; i < m; i++) {
        const int64_t row = idx ? idx[first + i] : first + i;
        ws->in[0][i] = X + row * n_in;
        if (Y) memcpy(ws->y + i * n_out, Y + row * n_out, (size_t)n_out * sizeof(real));
    }
}

/* ---------------------------------------------------------------- one chunk of rows */

/* Forward pass of the m rows loaded in ws through every layer. The output layer's z and
 * those of PReLU layers are kept (all of them with keep_z); a softmax output is the
 * layer's z, then the softmax of each row. */
static void forward(workspace *ws, const network *net, const real *params, int64_t m,
                    int keep_z)
{
    const int L = net->n_layers;
    for (int l = 0; l < L; l++) {
        const layer *ly = &net->layers[l];
        const int softmax = ly->act == GC_ACT_SOFTMAX;
        real *z = keep_z || l == L - 1 || ly->slope >= 0 ? ws->z[l + 1] : NULL;
        net->k->dense_forward(z, ws->act[l + 1], ws->in[l], params + ly->w, params + ly->b,
                              ly->slope >= 0 ? params + ly->slope : NULL,
                              softmax ? GC_ACT_LINEAR : ly->act, m, ly->n_in, ly->n_out);
        if (softmax) net->k->softmax_rows(ws->act[l + 1], m, ly->n_out);
        if (net->dropscale && l < L - 1) /* the next layer's inputs, after dropout */
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < ly->n_out; j++)
                    ws->dropped[l + 1][i * ly->n_out + j] =
                        ws->act[l + 1][i * ly->n_out + j] * net->dropscale[ly->speed + j];
    }
}

/*
 * What a gradient is used for (layers.h, gc_step): the update of a mini-batch, with the
 * weight decay in u for the weights; biases and PReLU slopes take unbiased(u), the same
 * update without it. SUM, applied to a gradient buffer, adds the gradient to it.
 */
static const gc_step SUM = {GC_STEP_SUM, 1, 0, -1, 0};
static const gc_step SET = {GC_STEP_SET, 1, 0, -1, 0};

static gc_step unbiased(gc_step u)
{
    u.decay = 1;
    u.wd = 0;
    return u;
}

/* The parameters' velocity at offset off (NULL without momentum). */
static real *at(real *vel, int64_t off) { return vel ? vel + off : NULL; }

/* A layer's biases out <- the update u of db (summed over m rows) and, with speed, the
 * learning-speed monitor: speed += db / m, the mean of dC/db over the rows. */
static void step_biases(real *out, real *vel, double *speed, const real *db,
                        const network *net, gc_step u, int64_t m, int64_t n)
{
    net->k->apply_step(out, vel, db, unbiased(u), n);
    for (int64_t j = 0; speed && j < n; j++) speed[j] += (double)db[j] / (double)m;
}

/*
 * Backward pass of the m rows of ws (after forward()), layer by layer from the top: each
 * layer's gradient goes into `out` (the parameters, or a gradient buffer; same layout) by
 * the update u (vel: the velocity, with momentum), after the layer's weights gave the delta
 * below (so out may be params); a PReLU layer's slopes take the biases' update once its
 * delta is formed. With dropout the delta of a dropped unit is 0 and a kept one's is scaled
 * as its activation was.
 * speed (or NULL): the learning-speed monitor, see step_biases.
 * sq (or NULL): the gradient-rms monitor, n_layers sums: sq[l] += sum over the rows of
 * |delta_l|^2.
 * m_ahead > 0: the first layer's pass also brings the m_ahead rows of ws->ahead (the next
 * mini-batch's) into the cache.
 * Returns the sum over the rows of the cost.
 */
static double backward(workspace *ws, const network *net, const real *params, real *out,
                       real *vel, double *speed, double *sq, gc_step u, int64_t m,
                       int64_t m_ahead)
{
    const int L = net->n_layers;
    const layer *top = &net->layers[L - 1];
    const double cost = net->k->output_backward(ws->delta[L], ws->z[L], ws->act[L], ws->y,
                                                net->cost, m, top->n_out);
    if (sq) sq[L - 1] += net->k->sum_squares(ws->delta[L], m * top->n_out);
    for (int l = L - 1; l >= 0; l--) {
        const layer *ly = &net->layers[l];
        const real *delta = ws->delta[l + 1];
        if (l > 0) {
            const layer *below = &net->layers[l - 1];
            const int prelu = below->slope >= 0;
            net->k->dense_backward_delta(ws->delta[l], delta, params + ly->w, ws->act[l],
                                         prelu ? GC_ACT_LINEAR : below->act, m, ly->n_in,
                                         ly->n_out);
            if (net->dropscale) /* dC/da of the units before dropout */
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < ly->n_in; j++)
                        ws->delta[l][i * ly->n_in + j] *= net->dropscale[below->speed + j];
            if (prelu) {
                net->k->prelu_backward(ws->delta[l], ws->ds, ws->z[l], params + below->slope,
                                       m, ly->n_in);
                net->k->apply_step(out + below->slope, at(vel, below->slope), ws->ds,
                                   unbiased(u), ly->n_in);
            }
            if (sq) sq[l - 1] += net->k->sum_squares(ws->delta[l], m * ly->n_in);
        }
        net->k->dense_backward_bias(ws->db, delta, m, ly->n_out);
        step_biases(out + ly->b, at(vel, ly->b), speed ? speed + ly->speed : NULL, ws->db, net,
                    u, m, ly->n_out);
        net->k->dense_backward_weights(out + ly->w, at(vel, ly->w), delta, ws->in[l], u, m,
                                       ly->n_in, ly->n_out, l == 0 && m_ahead ? ws->ahead : NULL,
                                       l == 0 ? m_ahead : 0);
    }
    return cost;
}

/* ---------------------------------------------------------------- gradient sums */

/*
 * A gradient sum over n rows is cut into parts: P contiguous ranges of rows (part q is
 * rows gc_split(n, P, q) .. gc_split(n, P, q + 1) - 1), each summed on its own, GC_CHUNK
 * rows at a time, into a partial sum of its own (part 0 into the result itself); the
 * partial sums are then added in part order. P depends on n, the network and the type
 * only, never on the threads, so every thread count gives the same bits:
 *   P = the largest power of two with P * GC_PART_ROWS <= n, P <= GC_MAX_PARTS, and the
 *       partial sums of parts 1 .. P-1 within GC_PARTIAL_BYTES
 * (1,000 rows: 4 parts of 250; 50,000 rows of [784,30,30,10]: 32 parts of 1,562 or 1,563).
 * Powers of two divide evenly among 2, 4, 8 threads; the pool hands the parts out one at
 * a time, so a thread that runs slowly (descheduled, or sharing its core) takes fewer.
 * A part of GC_PART_ROWS or more rows costs far more than setting up and adding its partial
 * sum. Threads are used only from GC_THREAD_ROWS rows on: below that, waking a thread
 * costs more than it saves.
 */
#define GC_PART_ROWS 128
#define GC_MAX_PARTS 32
#define GC_PARTIAL_BYTES ((int64_t)8 << 20)
#define GC_THREAD_ROWS 256

static int64_t parts_for(int64_t n, const network *net)
{
    const int64_t fit = GC_PARTIAL_BYTES / (net->n_params * (int64_t)sizeof(real)) + 1;
    int64_t p = 1;
    while (2 * p <= GC_MAX_PARTS && 2 * p <= fit && 2 * p * GC_PART_ROWS <= n) p *= 2;
    return p;
}

/*
 * One part of a gradient sum: g (params layout) = the sum over rows [begin, end) (rows
 * idx[begin ..] if idx is not NULL) of dC/dparams, *cost the sum of their costs, sq
 * (n_layers) the sums of their |delta_l|^2, taken
 * GC_CHUNK rows at a time through ws, the first chunk's gradient written over g (SET: no
 * pass to clear it first), the others' added. Stops early, returning GC_ERR_INTERRUPTED,
 * when *stop is set.
 */
static gc_status sum_rows(real *g, double *cost, double *sq, workspace *ws,
                          const network *net, const real *params, const real *X, const real *Y,
                          const int64_t *idx, int64_t begin, int64_t end, gc_stop_flag *stop)
{
    double c = 0.0;
    gc_status st = GC_OK;
    int64_t k = begin;
    for (int l = 0; l < net->n_layers; l++) sq[l] = 0;
    for (; k < end; k += GC_CHUNK) {
        const int64_t m = end - k < GC_CHUNK ? end - k : GC_CHUNK;
        if (stop && *stop) {
            st = GC_ERR_INTERRUPTED;
            break;
        }
        load_rows(ws, net, X, Y, idx, k, m);
        forward(ws, net, params, m, 0);
        c += backward(ws, net, params, g, NULL, NULL, sq, k == begin ? SET : SUM, m, 0);
    }
    if (k == begin) /* no row summed */
        for (int64_t p = 0; p < net->n_params; p++) g[p] = 0;
    *cost = c;
    return st;
}

/*
 * The memory of gradient sums of up to n rows, all allocated before any thread starts: a
 * workspace per thread that may work on a sum, and the partial sums of parts 1 .. P-1.
 */
typedef struct {
    int n_slots;     /* threads that may work on one sum (the caller's included) */
    workspace *ws;   /* n_slots workspaces of GC_CHUNK rows */
    real *partial;   /* (P - 1, n_params): the partial sums of parts 1 .. P-1 */
    double *sq;      /* (P, n_layers): each part's sums of |delta_l|^2 */
} sum_space;

static void sum_space_free(sum_space *sp)
{
    for (int t = 0; sp->ws && t < sp->n_slots; t++) workspace_free(&sp->ws[t]);
    gc_free(sp->ws);
    gc_free(sp->partial);
    gc_free(sp->sq);
    sp->ws = NULL;
    sp->partial = NULL;
    sp->sq = NULL;
}

/* Threads that may work on a sum of n rows in `parts` parts: 1 below GC_THREAD_ROWS rows,
 * otherwise one per part up to the thread count. */
static int slots_for(int64_t n, int64_t parts)
{
    const int threads = gc_get_num_threads();
    return n < GC_THREAD_ROWS ? 1 : parts < threads ? (int)parts : threads;
}

static gc_status sum_space_init(sum_space *sp, const network *net, int64_t n)
{
    const int64_t parts = parts_for(n, net);
    sp->n_slots = slots_for(n, parts);
    sp->partial = NULL;
    sp->ws = (workspace *)gc_alloc(sp->n_slots, sizeof(workspace));
    if (!sp->ws) return GC_ERR_NOMEM;
    memset(sp->ws, 0, (size_t)sp->n_slots * sizeof(workspace));
    sp->sq = (double *)gc_alloc(gc_count(parts, net->n_layers, 0), sizeof(double));
    if (!sp->sq) return GC_ERR_NOMEM;
    if (parts > 1)
        sp->partial = (real *)gc_alloc(gc_count(parts - 1, net->n_params, 0), sizeof(real));
    if (parts > 1 && !sp->partial) return GC_ERR_NOMEM;
    for (int t = 0; t < sp->n_slots; t++)
        if (workspace_init(&sp->ws[t], net, GC_CHUNK) != GC_OK) return GC_ERR_NOMEM;
    return GC_OK;
}

/* A gradient sum as the pool runs it: what every part reads, and what each part gives. */
typedef struct {
    real *grad;
    const sum_space *sp;
    const network *net;
    const real *params, *X, *Y;
    const int64_t *idx;
    int64_t n, parts;
    gc_stop_flag *stop;
    double cost[GC_MAX_PARTS];
    gc_status status[GC_MAX_PARTS];
} sum_job;

/* The pool's task: part q of the sum, on the workspace of the thread's slot. */
static void sum_part(void *ctx, int64_t q, int slot)
{
    sum_job *j = (sum_job *)ctx;
    real *g = q == 0 ? j->grad : j->sp->partial + (q - 1) * j->net->n_params;
    j->status[q] = sum_rows(g, &j->cost[q], j->sp->sq + q * j->net->n_layers, &j->sp->ws[slot],
                            j->net, j->params, j->X, j->Y,
                            j->idx, gc_split(j->n, j->parts, q), gc_split(j->n, j->parts, q + 1),
                            j->stop);
}

/*
 * Sum over n rows of the gradient: grad (params layout) = the sum of dC/dparams, *cost =
 * the sum of the costs, and (unless sq is NULL) sq[l] += the sum of |delta_l|^2. Row i is
 * X[idx[i]] (X[i] if idx is NULL). The parts (see parts_for) run on up to sp->n_slots
 * threads; the partial sums, the costs and the squares are added in part order.
 */
static gc_status gradient_sum(real *grad, double *cost, double *sq, const sum_space *sp,
                              const network *net, const real *params, const real *X,
                              const real *Y, const int64_t *idx, int64_t n, gc_stop_flag *stop)
{
    sum_job j = {grad, sp, net, params, X, Y, idx, n, parts_for(n, net), stop, {0}, {GC_OK}};
    /* (a last mini-batch shorter than the others may need fewer slots than sp has) */
    const int slots = slots_for(n, j.parts);
    gc_pool_run(sum_part, &j, j.parts, slots < sp->n_slots ? slots : sp->n_slots);
    gc_status st = j.status[0];
    double c = j.cost[0];
    for (int64_t q = 1; q < j.parts; q++) {
        c += j.cost[q];
        if (j.status[q] != GC_OK) st = j.status[q];
        net->k->apply_step(grad, NULL, sp->partial + (q - 1) * net->n_params, SUM,
                           net->n_params);
    }
    for (int64_t q = 0; sq && q < j.parts; q++)
        for (int l = 0; l < net->n_layers; l++) sq[l] += sp->sq[q * net->n_layers + l];
    *cost = c;
    return st;
}

/* ---------------------------------------------------------------- SGD epochs */

/* The update u of every layer from the gradient grad summed over m rows (vel: the
 * velocity, with momentum), and the learning-speed monitor (see step_biases). */
static void apply_gradient(real *params, real *vel, double *speed_sum, const real *grad,
                           const network *net, gc_step u, int64_t m)
{
    for (int l = 0; l < net->n_layers; l++) {
        const layer *ly = &net->layers[l];
        net->k->apply_step(params + ly->w, at(vel, ly->w), grad + ly->w, u,
                           ly->n_out * ly->n_in);
        step_biases(params + ly->b, at(vel, ly->b), speed_sum + ly->speed, grad + ly->b, net,
                    u, m, ly->n_out);
        if (ly->slope >= 0)
            net->k->apply_step(params + ly->slope, at(vel, ly->slope), grad + ly->slope,
                               unbiased(u), ly->n_out);
    }
}

/* A mini-batch of m <= GC_CHUNK rows: the update u applied to the parameters layer by
 * layer as the backward pass forms the gradient, while the first layer's pass brings the
 * next mini-batch's m_next rows (rows[m] ..) into the cache. Returns the rows' cost sum. */
static double sgd_chunk(real *params, real *vel, double *speed_sum, double *sq_sum,
                        workspace *ws, const network *net, const real *X, const real *Y,
                        const int64_t *rows, gc_step u, int64_t m, int64_t m_next)
{
    const int64_t n_in = net->layers[0].n_in;
    for (int64_t i = 0; i < m_next; i++) ws->ahead[i] = X + rows[m + i] * n_in;
    load_rows(ws, net, X, Y, rows, 0, m);
    forward(ws, net, params, m, 0);
    return backward(ws, net, params, params, vel, speed_sum, sq_sum, u, m, m_next);
}

/* ---------------------------------------------------------------- the update's choices */

/*
 * The momentum of update t (counted from the start of training): opt->momentum, or with
 * Sutskever's schedule (Sutskever, Martens, Dahl & Hinton 2013, eq. 5)
 *   mu_t = min(1 - 2^(-1 - log2(floor(t / 250) + 1)), mu_max)
 *        = min(1 - 1 / (2 (floor(t / 250) + 1)), mu_max)
 * (0.5, 0.75, 0.9, 0.99 at t = 0, 250, 1000, 12250), and opt->final_momentum from update
 * opt->final_from on (their last 1000 updates at 0.9). The second form needs no logarithm,
 * so every machine computes the same mu.
 */
static double momentum_at(const gc_sgd_options *opt, int64_t t)
{
    if (opt->final_from >= 0 && t >= opt->final_from) return opt->final_momentum;
    if (opt->schedule != GC_SCHEDULE_SUTSKEVER) return opt->momentum;
    const double mu = 1.0 - 1.0 / (2.0 * (double)(t / 250 + 1));
    return mu < opt->momentum ? mu : opt->momentum;
}

/* SplitMix64's finaliser (Steele, Lea & Flood 2014): a counter-based generator's step. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/*
 * The dropout masks of one mini-batch (Srivastava, Hinton, Krizhevsky, Sutskever &
 * Salakhutdinov 2014; inverted dropout), as the book's chapter 3 describes it: one subset
 * of each hidden layer's units dropped for the whole mini-batch. Unit j of hidden layer l
 * is kept when u >= p, u in [0, 1) the 53 high bits of
 *   mix64(mix64(mix64(mix64(mix64(seed) ^ epoch) ^ batch) ^ l) ^ j)
 * (a counter-based generator: the same bits on every machine and for every thread count).
 *   scale: speed_sum's layout, 1 / (1 - p) for a kept unit, 0 for a dropped one
 */
static void dropout_masks(real *scale, const network *net, const gc_sgd_options *opt,
                          int64_t batch)
{
    const uint64_t key = mix64(mix64(mix64(opt->seed) ^ (uint64_t)opt->epoch) ^ (uint64_t)batch);
    const real keep_scale = (real)(1.0 / (1.0 - opt->dropout));
    for (int l = 0; l < net->n_layers - 1; l++) {
        const layer *ly = &net->layers[l];
        const uint64_t lkey = mix64(key ^ (uint64_t)l);
        for (int64_t j = 0; j < ly->n_out; j++) {
            const double u = (double)(mix64(lkey ^ (uint64_t)j) >> 11) * 0x1.0p-53;
            scale[ly->speed + j] = u >= opt->dropout ? keep_scale : 0;
        }
    }
}

static int all_finite(const real *x, int64_t n)
{
    real acc = 0;
    /* any NaN or infinity makes the product 0*x NaN */
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; i++) acc += (real)0 * x[i];
    return acc == 0;
}

/* ---------------------------------------------------------------- entry points */
/* This file is compiled once per type: each entry point is named for the type it is
 * compiled for (GC_FLOAT32: the _f32 names of kernels.h, otherwise the _f64 ones). */

/*
 * The forward pass of every row of X, GC_CHUNK rows at a time: the output layer's z and a
 * into z_out and a_out, (n, sizes[L]) each; or, with every_layer, every layer's, (n, sum of
 * sizes[1..L]) each, a row holding layer 1's values first and the output's last.
 */
static gc_status forward_rows(real *z_out, real *a_out, const gc_arch *arch,
                              const real *params, const real *X, int64_t n, int every_layer)
{
    network net = {0};
    workspace ws = {0};
    gc_status st = gc_arch_check(arch);
    if (st != GC_OK) return st;
    if (n < 0) return GC_ERR_ARGUMENT;
    st = network_init(&net, arch);
    if (st == GC_OK) st = workspace_init(&ws, &net, GC_CHUNK);
    const int first = every_layer ? 0 : net.n_layers - 1; /* the layers written */
    int64_t width = 0;                                    /* of a row of the outputs */
    for (int l = first; st == GC_OK && l < net.n_layers; l++) width += net.layers[l].n_out;
    for (int64_t k = 0; st == GC_OK && k < n; k += GC_CHUNK) {
        const int64_t m = n - k < GC_CHUNK ? n - k : GC_CHUNK;
        load_rows(&ws, &net, X, NULL, NULL, k, m);
        forward(&ws, &net, params, m, every_layer);
        for (int64_t i = 0, off = 0; i < m; i++, off = 0)
            for (int l = first; l < net.n_layers; l++) {
                const int64_t nl = net.layers[l].n_out;
                const size_t bytes = (size_t)nl * sizeof(real);
                memcpy(z_out + (k + i) * width + off, ws.z[l + 1] + i * nl, bytes);
                memcpy(a_out + (k + i) * width + off, ws.act[l + 1] + i * nl, bytes);
                off += nl;
            }
    }
    workspace_free(&ws);
    network_free(&net);
    return st;
}

#ifdef GC_FLOAT32
gc_status gc_feedforward_f32(
#else
gc_status gc_feedforward_f64(
#endif
    real *z_out, real *a_out, const gc_arch *arch, const real *params, const real *X,
    int64_t n)
{
    return forward_rows(z_out, a_out, arch, params, X, n, 0);
}

#ifdef GC_FLOAT32
gc_status gc_forward_layers_f32(
#else
gc_status gc_forward_layers_f64(
#endif
    real *z_out, real *a_out, const gc_arch *arch, const real *params, const real *X,
    int64_t n)
{
    return forward_rows(z_out, a_out, arch, params, X, n, 1);
}

#ifdef GC_FLOAT32
gc_status gc_gradient_f32(
#else
gc_status gc_gradient_f64(
#endif
    real *grad, double *cost_sum, double *sq_sum, const gc_arch *arch, const real *params,
    const real *X, const real *Y, int64_t n, gc_stop_flag *stop)
{
    network net = {0};
    sum_space sp = {0};
    double c = 0.0;
    gc_status st = gc_arch_check(arch);
    if (st != GC_OK) return st;
    if (n < 1) return GC_ERR_ARGUMENT;
    st = network_init(&net, arch);
    if (st == GC_OK) st = sum_space_init(&sp, &net, n);
    if (st == GC_OK) {
        st = gradient_sum(grad, &c, sq_sum, &sp, &net, params, X, Y, NULL, n, stop);
        for (int64_t p = 0; p < net.n_params; p++) grad[p] /= (real)n;
        *cost_sum = c;
    }
    sum_space_free(&sp);
    network_free(&net);
    return st;
}

/* ---------------------------------------------------------------- SGD */

/* What an SGD call holds across its mini-batches and epochs, allocated once: the layer
 * table, the dropout scales, and a mini-batch's scratch (fused: the workspace of a
 * mini-batch updated in place; otherwise the gradient buffer and its partial sums). */
typedef struct {
    network net;
    workspace ws;
    sum_space sp;
    real *grad, *scale;
    int fused;
} trainer;

static void trainer_free(trainer *tr)
{
    gc_free(tr->scale);
    gc_free(tr->grad);
    sum_space_free(&tr->sp);
    workspace_free(&tr->ws);
    network_free(&tr->net);
}

/* Checks the options (as gc_sgd_epoch_* documents them) and allocates a trainer; on an
 * error nothing is left allocated. */
static gc_status trainer_init(trainer *tr, const gc_arch *arch, const gc_sgd_options *opt,
                              const real *velocity, int64_t n_train)
{
    gc_status st = gc_arch_check(arch);
    if (st != GC_OK) return st;
    const int64_t m = opt->batch_size;
    const int momentum = opt->momentum > 0;
    if (m < 1 || n_train < 1 || !(opt->momentum >= 0 && opt->momentum < 1) ||
        !(opt->dropout >= 0 && opt->dropout < 1) || !(opt->clip_norm >= 0) ||
        (opt->nesterov && !momentum) || (momentum && !velocity) || opt->t0 < 0 ||
        opt->batch0 < 0)
        return GC_ERR_ARGUMENT;
    /* a mini-batch that fits one chunk updates in place, unless clipping needs its whole
     * gradient before any parameter moves */
    tr->fused = m <= GC_CHUNK && opt->clip_norm == 0;
    st = network_init(&tr->net, arch);
    if (st == GC_OK && opt->dropout > 0) {
        int64_t units = 0;
        for (int l = 0; l < tr->net.n_layers; l++) units += tr->net.layers[l].n_out;
        tr->scale = (real *)gc_alloc(units, sizeof(real));
        tr->net.dropscale = tr->scale;
        if (!tr->scale) st = GC_ERR_NOMEM;
    }
    if (st == GC_OK && tr->fused) st = workspace_init(&tr->ws, &tr->net, m);
    if (st == GC_OK && !tr->fused) {
        tr->grad = (real *)gc_alloc(tr->net.n_params, sizeof(real));
        st = tr->grad ? sum_space_init(&tr->sp, &tr->net, m) : GC_ERR_NOMEM;
    }
    if (st != GC_OK) trainer_free(tr);
    return st;
}

static int rows_in_range(const int64_t *perm, int64_t n_perm, int64_t n_train)
{
    for (int64_t i = 0; i < n_perm; i++)
        if (perm[i] < 0 || perm[i] >= n_train) return 0;
    return 1;
}

/* One epoch (or its first opt->max_batches mini-batches) over the rows perm[0 .. n_perm-1],
 * with the contract of gc_sgd_epoch_* (kernels.h). */
static gc_status sgd_epoch(real *params, real *velocity, double *speed_sum, double *sq_sum,
                           gc_sgd_report *report, trainer *tr, const gc_sgd_options *opt,
                           const real *X, const real *Y, int64_t n_train, const int64_t *perm,
                           int64_t n_perm, gc_stop_flag *stop)
{
    const network *net = &tr->net;
    const int64_t m = opt->batch_size;
    const int momentum = opt->momentum > 0, fused = tr->fused;
    const double wd = opt->eta * opt->lmbda / (double)n_train;
    real *vel = momentum ? velocity : NULL;
    gc_status st = GC_OK;
    double c = 0.0;
    int64_t done = 0, clipped = 0;
    for (int64_t k = 0; k < n_perm; k += m, done++) {
        const int64_t mb = n_perm - k < m ? n_perm - k : m; /* this mini-batch's size */
        const double mu = momentum_at(opt, opt->t0 + done);
        gc_step u = {!momentum ? GC_STEP_SGD : opt->nesterov ? GC_STEP_NESTEROV
                                                             : GC_STEP_MOMENTUM,
                     (real)(1.0 - wd), (real)wd, (real)(opt->eta / (double)mb), (real)mu};
        double cb = 0.0;
        if (opt->max_batches >= 0 && done >= opt->max_batches) break;
        if (stop && *stop) {
            st = GC_ERR_INTERRUPTED;
            break;
        }
        if (tr->scale) dropout_masks(tr->scale, net, opt, opt->batch0 + done);
        const int64_t next = n_perm - k - mb < m ? n_perm - k - mb : m; /* its rows */
        if (fused)
            cb = sgd_chunk(params, vel, speed_sum, sq_sum, &tr->ws, net, X, Y, perm + k, u, mb,
                           next);
        else
            st = gradient_sum(tr->grad, &cb, sq_sum, &tr->sp, net, params, X, Y, perm + k, mb,
                              stop);
        if (st != GC_OK) break; /* interrupted: this update not applied */
        if (!fused && opt->clip_norm > 0) {
            /* Pascanu, Mikolov & Bengio 2013: the mean gradient's norm, all layers together,
             * down to clip_norm (the weight decay is the update's, not clipped) */
            const double norm =
                sqrt(net->k->sum_squares_long(tr->grad, net->n_params)) / (double)mb;
            if (norm > opt->clip_norm) {
                u.step = (real)(opt->eta / (double)mb * (opt->clip_norm / norm));
                clipped++;
            }
        }
        if (!fused) apply_gradient(params, vel, speed_sum, tr->grad, net, u, mb);
        c += cb;
        /* Non-finite parameters always give a non-finite cost on the next mini-batch (0*inf
         * and 0*NaN are NaN; a non-finite velocity makes the parameters so), so checking the
         * cost is enough until the last update. */
        if (!isfinite(cb)) {
            st = GC_ERR_NONFINITE;
            done++;
            break;
        }
    }
    if (st == GC_OK && (!all_finite(params, net->n_params) ||
                        (vel && !all_finite(vel, net->n_params))))
        st = GC_ERR_NONFINITE;
    report->cost_sum = c;
    report->batches_done = done;
    report->clipped = clipped;
    return st;
}

/* sum of w^2 over every weight (not the biases or slopes), in double */
static double weights_sum_squares(const network *net, const real *params)
{
    double s = 0.0;
    for (int l = 0; l < net->n_layers; l++) {
        const layer *ly = &net->layers[l];
        s += net->k->sum_squares(params + ly->w, ly->n_out * ly->n_in);
    }
    return s;
}

#ifdef GC_FLOAT32
gc_status gc_sgd_epoch_f32(
#else
gc_status gc_sgd_epoch_f64(
#endif
    real *params, real *velocity, double *speed_sum, double *sq_sum, gc_sgd_report *report,
    const gc_arch *arch, const gc_sgd_options *opt, const real *X, const real *Y,
    int64_t n_train, const int64_t *perm, int64_t n_perm, gc_stop_flag *stop)
{
    trainer tr = {0};
    if (n_perm < 0 || (n_train >= 1 && !rows_in_range(perm, n_perm, n_train)))
        return GC_ERR_ARGUMENT;
    gc_status st = trainer_init(&tr, arch, opt, velocity, n_train);
    if (st != GC_OK) return st;
    st = sgd_epoch(params, velocity, speed_sum, sq_sum, report, &tr, opt, X, Y, n_train, perm,
                   n_perm, stop);
    trainer_free(&tr);
    return st;
}

#ifdef GC_FLOAT32
gc_status gc_sgd_epochs_f32(
#else
gc_status gc_sgd_epochs_f64(
#endif
    real *params, real *velocity, double *speed_sum, double *sq_sum, gc_sgd_report *reports,
    double *weights_sq, int64_t *epochs_run, const gc_arch *arch, const gc_sgd_options *opt,
    const real *X, const real *Y, int64_t n_train, const int64_t *perm, int64_t n_perm,
    int64_t n_epochs, gc_stop_flag *stop)
{
    trainer tr = {0};
    *epochs_run = 0;
    if (n_perm < 0 || n_epochs < 0 || opt->max_batches != -1 || opt->batch0 != 0 ||
        (n_perm > 0 && n_epochs > INT64_MAX / n_perm) ||
        (n_train >= 1 && !rows_in_range(perm, n_perm * n_epochs, n_train)))
        return GC_ERR_ARGUMENT;
    gc_status st = trainer_init(&tr, arch, opt, velocity, n_train);
    if (st != GC_OK) return st;
    const int L = tr.net.n_layers;
    const int64_t nb = tr.net.layers[L - 1].speed + tr.net.layers[L - 1].n_out; /* biases */
    gc_sgd_options o = *opt;
    for (int64_t e = 0; e < n_epochs; e++) {
        st = sgd_epoch(params, velocity, speed_sum + e * nb, sq_sum ? sq_sum + e * L : NULL,
                       &reports[e], &tr, &o, X, Y, n_train, perm + e * n_perm, n_perm, stop);
        *epochs_run = e + 1;
        if (st != GC_OK) break;
        weights_sq[e] = weights_sum_squares(&tr.net, params);
        /* the epoch's mean cost with the L2 term: one that overflows ends the call */
        const double l2 = opt->lmbda != 0 ? 0.5 * (opt->lmbda / (double)n_train) * weights_sq[e]
                                          : 0.0;
        if (!isfinite(reports[e].cost_sum / (double)n_train + l2)) break;
        o.t0 += reports[e].batches_done;
        o.epoch++;
    }
    trainer_free(&tr);
    return st;
}

#ifdef GC_FLOAT32
gc_status gc_weights_sum_squares_f32(
#else
gc_status gc_weights_sum_squares_f64(
#endif
    double *out, const gc_arch *arch, const real *params)
{
    network net = {0};
    gc_status st = gc_arch_check(arch);
    if (st == GC_OK) st = network_init(&net, arch);
    if (st == GC_OK) *out = weights_sum_squares(&net, params);
    network_free(&net);
    return st;
}
