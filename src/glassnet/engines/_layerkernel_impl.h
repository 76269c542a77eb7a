/* The layer-network kernel written once for a floating type; _layerkernel.c includes it
 * twice: REAL float (names ending _f32) and double (_f64).  IREAL is the integer of REAL's
 * size (what a vector comparison yields); FN names a static function, EXPORT an exported
 * one.  See _layerkernel.c for the equations and the ideas.
 *
 * Layouts (one sample a row everywhere; m = the mini-batch, at most mb):
 *   in     a layer's input, (mb, ins): a conv layer reads its image channels-last,
 *          (h, w, c); a fully connected layer its n_in values padded with zeros to ins,
 *          a whole number of vectors.  A conv layer writes its output channels-last when
 *          a conv layer follows, else channel-first (f, poh, pow) = NumPy's flattening.
 *   W      conv: (F, KP), row f = filter f read in im2col's order (p, q, c), padded to KP;
 *          WT = its transpose (K, FP) for the forward product.  Fully connected: (n_out, ins).
 *   col    conv: one image's (P, KP) in a thread's scratch (dcols), row pos = the patch whose
 *          top-left corner is pos; made again by the backward pass (every image's would
 *          leave the cache between the passes);
 *   pos    conv-pool: (mb, T, FP), the position (in 0..P) of each pooling block's winner.
 */

typedef REAL FN(vec) __attribute__((vector_size(VBYTES), aligned(sizeof(REAL)), may_alias));
typedef IREAL FN(ivec) __attribute__((vector_size(VBYTES), aligned(sizeof(REAL)), may_alias));
#define VEC FN(vec)
#define IVEC FN(ivec)
#define LANES ((int64_t)(VBYTES / sizeof(REAL)))
#define LOADV(p) (*(const VEC *)(p))
#define STOREV(p, v) (*(VEC *)(p) = (v))
#define SPLAT(c) ((VEC){0} + (REAL)(c))
/* c in every lane, as one broadcast: SPLAT's 0 + c is an addition the compiler must keep
 * (it turns -0 into +0), which costs the products' inner loops an instruction a number */
#define BCAST(c) (__builtin_shuffle((VEC){(REAL)(c)}, (IVEC){0}))
#define SELECT(mask, a, b) ((VEC)(((IVEC)(a) & (mask)) | ((IVEC)(b) & ~(mask))))
/* vectors per chunk of a conv filter's gradient held in registers (half the registers) */
#define CHUNK (NREGS / 2)
/* rows of W the fully connected backward sweep prefetches ahead (1000 x 1000 weights,
 * mini-batch 10: 376 us a sweep with 12, 446 with 8 or 16, 728 without) */
#ifndef SWEEP_AHEAD
#define SWEEP_AHEAD 12
#endif

typedef struct {
    lk_shape s;
    int64_t ins, KP, FP, CP;        /* input row stride; conv: patch and filter count, padded;
                                       batch norm: channels, padded */
    int out_chw;                    /* image kinds: writes its output channel-first (rows follow) */
    REAL *W, *b, *WT, *vW, *vb;     /* packed parameters and velocities (NULL without momentum;
                                       Adam's first moments m) */
    REAL *sW, *sb;                  /* Adam's second moments v (NULL without Adam) */
    REAL *dW, *db;                  /* conv: one step's gradient, one (F, KP) and (FP) per group */
    REAL *in, *xm, *din;            /* input, masked input (dropout), dC/d(input) */
    REAL *pos;                      /* conv-pool: pooling winners */
    int64_t *koff;                  /* conv, stride 1 and no padding: where patch number k sits in
                                       the image, relative to the patch's corner (K) */
    REAL *rm, *rv;                  /* batch norm: running mean and variance (CP) */
    REAL *mean, *istd, *var, *dgamma, *dbeta, *coef;   /* batch norm: the step's statistics (CP each) */
    REAL *part;                     /* batch norm: partial sums, per image (mb, CP) or per group (groups, 2, CP) */
    double momentum, eps;           /* batch norm: of the running averages, the variance's floor */
    REAL *user_w, *user_b, *user_vw, *user_vb, *user_sw, *user_sb, *user_rm, *user_rv;
} FN(layer);

/* How a gradient g moves the parameters, for the step in progress:
 *   SGD        p -= eta g
 *   momentum   v = mu v - eta g;  p += v
 *   Adam       m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *              p -= step m / (sqrt(v) / root + eps),  step = eta / (1 - b1^t), root = sqrt(1 - b2^t)
 * (optimizers.Adam's step written the same way).  decay = lmbda / n: the L2 term in g. */
typedef struct {
    REAL eta, decay, mu;
    int adam;
    REAL b1, b2, eps, step, root;
} FN(rule);

typedef struct {                    /* one thread's scratch for the image layers */
    REAL *conv, *g, *wg, *dcol;     /* one image's convolution (P, FP); deltas (F, T), by position; a patch row */
    int64_t *win, *bucket;          /* winners (F, T); the wins of each position (2P + 1 + F T) */
    REAL *dz, *dcols, *row;         /* conv: one image's delta (P, FP); its im2col rows or patch gradients
                                       (P, KP); a row of channels */
} FN(scratch);

typedef struct {
    int64_t L, mb, training, threads;
    int64_t n_img;                  /* the image layers (they come first) */
    int fused;                      /* every image layer a conv-pool: an image goes through them all in one task */
    FN(layer) layer[LK_MAX_LAYERS];
    REAL *out;                      /* (mb, n_out): z^L, then delta^L */
    REAL *dz, *dzt;                 /* a fully connected layer's delta (mb, n_out) and transpose */
    int64_t *y;                     /* the mini-batch's labels */
    FN(scratch) sc[LK_MAX_THREADS];
    /* the step in progress, for the tasks of its phases */
    lk_team *team;
    int64_t m, cur, groups;
    int phase;                      /* a batch norm's sums: of x (0) or of (x - mean)^2 (1) */
    const uint8_t *mask[LK_MAX_LAYERS];
    FN(rule) rule;
    void *blocks[16 * LK_MAX_LAYERS + 8 * LK_MAX_THREADS + 8];
    int64_t nblocks;
} FN(net);

/* ---- memory --------------------------------------------------------------------------- */
/* n zeroed REALs (plus a vector of room) on a 64-byte boundary, freed by FN(release) */
static void *FN(alloc)(FN(net) *net, int64_t n, size_t size)
{
    size_t bytes = (size_t)round_up((n > 0 ? n : 1) * (int64_t)size + VBYTES, 64);
    void *p = aligned_alloc(64, bytes);
    if (!p)
        return NULL;
    memset(p, 0, bytes);
    net->blocks[net->nblocks++] = p;
    return p;
}

static void FN(release)(FN(net) *net)
{
    for (int64_t i = 0; i < net->nblocks; i++)
        free(net->blocks[i]);
    net->nblocks = 0;
}

/* the sum of a vector's lanes, as a tree (a loop over the lanes would be a chain of adds) */
static inline REAL FN(hsum)(VEC v)
{
#if defined(__AVX512F__)
    if (sizeof(REAL) == 4)
        return (REAL)_mm512_reduce_add_ps((__m512)v);
    return (REAL)_mm512_reduce_add_pd((__m512d)v);
#else
    for (int64_t w = LANES / 2; w > 0; w /= 2)
        for (int64_t j = 0; j < w; j++)
            v[j] += v[j + w];
    return v[0];
#endif
}

/* ---- activations --------------------------------------------------------------------- */
static VEC FN(vact)(VEC z, int64_t act)
{
    switch (act) {
    case LK_RELU:
        return SELECT(z > SPLAT(0), z, SPLAT(0));
    case LK_SIGMOID:
#if HAVE_VEXP
        return SPLAT(1) / (SPLAT(1) + lk_vexp_f32(-z));
#else
        for (int64_t e = 0; e < LANES; e++)
            z[e] = 1 / (1 + SCALAR_EXP(-z[e] < EXP_CAP ? -z[e] : EXP_CAP));
        return z;
#endif
    case LK_TANH:
        for (int64_t e = 0; e < LANES; e++)
            z[e] = SCALAR_TANH(z[e]);
        return z;
    default:
        return z;
    }
}

/* act'(z) from the output a = act(z) (core/layers.py's prime_from_output) */
static inline REAL FN(prime)(REAL a, int64_t act)
{
    switch (act) {
    case LK_SIGMOID:
        return a * (1 - a);
    case LK_TANH:
        return 1 - a * a;
    case LK_RELU:
        return a > 0 ? 1 : 0;
    default:
        return 1;
    }
}

/* z[0:n] = act(z[0:n]) in place; entries past n are left alone (they are padding) */
static void FN(activate)(REAL *z, int64_t n, int64_t act)
{
    if (act == LK_LINEAR)
        return;
    int64_t k = 0;
    for (; k + LANES <= n; k += LANES)
        STOREV(z + k, FN(vact)(LOADV(z + k), act));
    if (k < n) {
        VEC t = SPLAT(0);
        for (int64_t e = 0; e < n - k; e++)
            t[e] = z[k + e];
        t = FN(vact)(t, act);
        for (int64_t e = 0; e < n - k; e++)
            z[k + e] = t[e];
    }
}

/* ---- set-up: buffers and the packed parameters ----------------------------------------- */
static inline int FN(is_conv)(int64_t kind)
{
    return kind == LK_CONV || kind == LK_CONV2;
}

static inline int FN(is_bn)(int64_t kind)
{
    return kind == LK_BN || kind == LK_BN_ROWS;
}

/* whether the layer has parameters (pools have none) */
static inline int FN(has_params)(int64_t kind)
{
    return kind != LK_MAXPOOL && kind != LK_AVGPOOL && kind != LK_GAP;
}

static int FN(alloc_layer)(FN(net) *net, FN(layer) *L, int next_kind)
{
    const lk_shape *s = &L->s;
    int64_t mb = net->mb, kind = s->kind;
    int conv = FN(is_conv)(kind), bn = FN(is_bn)(kind);
    L->ins = lk_image_kind(kind) ? s->n_in : round_up(s->n_in, LANES);
    L->KP = conv ? round_up(s->K, LANES) : 0;
    L->FP = conv ? round_up(s->f, LANES) : 0;
    L->CP = bn ? round_up(s->c, LANES) : 0;
    L->out_chw = !lk_image_kind(next_kind);
    /* W (rows, cols) and b (nb): conv (F, KP) and (FP); batch norm gamma (CP), beta (CP);
     * fully connected (n_out, ins) and (n_out); pools none */
    int64_t rows = conv ? s->f : bn ? 1 : s->n_out, cols = conv ? L->KP : bn ? L->CP : L->ins;
    int64_t nb = conv ? L->FP : bn ? L->CP : s->n_out;
    if (!FN(has_params)(kind))
        rows = cols = nb = 0;
    L->W = FN(alloc)(net, rows * cols, sizeof(REAL));
    L->b = FN(alloc)(net, nb, sizeof(REAL));
    L->in = FN(alloc)(net, mb * L->ins, sizeof(REAL));
    if (!L->W || !L->b || !L->in)
        return -1;
    if (conv) {
        L->WT = FN(alloc)(net, s->K * L->FP, sizeof(REAL));
        L->pos = FN(alloc)(net, kind == LK_CONV ? mb * s->T * L->FP : 1, sizeof(REAL));
        L->koff = FN(alloc)(net, s->K, sizeof(int64_t));
        if (!L->WT || !L->pos || !L->koff)
            return -1;
        for (int64_t p = 0, k = 0; p < s->kh; p++)      /* im2col's order: (p, q, channel) */
            for (int64_t q = 0; q < s->kw; q++)
                for (int64_t ch = 0; ch < s->c; ch++)
                    L->koff[k++] = (p * s->w + q) * s->c + ch;
    }
    if (kind == LK_MAXPOOL && !(L->pos = FN(alloc)(net, mb * s->T * s->f, sizeof(REAL))))
        return -1;
    if (bn) {
        REAL *stats = FN(alloc)(net, 8 * L->CP, sizeof(REAL));
        L->part = FN(alloc)(net, (mb > 2 * LK_GROUPS ? mb : 2 * LK_GROUPS) * L->CP, sizeof(REAL));
        if (!stats || !L->part)
            return -1;
        L->rm = stats, L->rv = stats + L->CP, L->mean = stats + 2 * L->CP, L->istd = stats + 3 * L->CP;
        L->var = stats + 4 * L->CP, L->dgamma = stats + 5 * L->CP, L->dbeta = stats + 6 * L->CP;
        L->coef = stats + 7 * L->CP;
    }
    if (!net->training)
        return 0;
    int64_t groups = mb < LK_GROUPS ? mb : LK_GROUPS;
    if (conv && (!(L->dW = FN(alloc)(net, groups * rows * cols, sizeof(REAL)))
                 || !(L->db = FN(alloc)(net, groups * nb, sizeof(REAL)))))
        return -1;
    if (s->dropout && !(L->xm = FN(alloc)(net, mb * L->ins, sizeof(REAL))))
        return -1;
    if (L != net->layer && !(L->din = FN(alloc)(net, mb * L->ins, sizeof(REAL))))
        return -1;
    if (L->user_vw && (!(L->vW = FN(alloc)(net, rows * cols, sizeof(REAL))) || !(L->vb = FN(alloc)(net, nb, sizeof(REAL)))))
        return -1;
    if (L->user_sw && (!(L->sW = FN(alloc)(net, rows * cols, sizeof(REAL))) || !(L->sb = FN(alloc)(net, nb, sizeof(REAL)))))
        return -1;
    return 0;
}

/* dst (packed) <- src (the network's layout), or back when `back`: conv weights (f, c, kh, kw)
 * <-> (F, KP) in (p, q, c) order; fully connected (n_out, n_in) <-> (n_out, ins);
 * batch norm's gamma (c) <-> (CP) */
static void FN(pack_weights)(const FN(layer) *L, REAL *packed, REAL *user, int back)
{
    const lk_shape *s = &L->s;
    if (FN(is_bn)(s->kind)) {
        memcpy(back ? user : packed, back ? packed : user, (size_t)s->c * sizeof(REAL));
        return;
    }
    if (!FN(is_conv)(s->kind)) {
        for (int64_t j = 0; j < s->n_out; j++) {
            REAL *pk = packed + j * L->ins, *us = user + j * s->n_in;
            memcpy(back ? us : pk, back ? pk : us, (size_t)s->n_in * sizeof(REAL));
        }
        return;
    }
    for (int64_t f = 0; f < s->f; f++)
        for (int64_t ch = 0; ch < s->c; ch++)
            for (int64_t p = 0; p < s->kh; p++)
                for (int64_t q = 0; q < s->kw; q++) {
                    REAL *pk = packed + f * L->KP + (p * s->kw + q) * s->c + ch;
                    REAL *us = user + ((f * s->c + ch) * s->kh + p) * s->kw + q;
                    if (back)
                        *us = *pk;
                    else
                        *pk = *us;
                }
}

/* WT (K, FP) <- W (F, KP) transposed: the forward product's layout, after every update */
static void FN(refresh_wt)(FN(layer) *L)
{
    for (int64_t f = 0; f < L->s.f; f++)
        for (int64_t k = 0; k < L->s.K; k++)
            L->WT[k * L->FP + f] = L->W[f * L->KP + k];
}

/* n numbers between the packed and the network's array (none when the layer has no such
 * array: a conv without bias) */
static void FN(copy)(REAL *packed, REAL *user, int64_t n, int back)
{
    if (user && packed)
        memcpy(back ? user : packed, back ? packed : user, (size_t)n * sizeof(REAL));
}

static void FN(pack)(FN(layer) *L, int back)
{
    int64_t kind = L->s.kind;
    if (!FN(has_params)(kind))
        return;
    int64_t nb = FN(is_conv)(kind) ? L->s.f : FN(is_bn)(kind) ? L->s.c : L->s.n_out;
    FN(pack_weights)(L, L->W, L->user_w, back);
    FN(copy)(L->b, L->user_b, nb, back);
    if (L->vW) {
        FN(pack_weights)(L, L->vW, L->user_vw, back);
        FN(copy)(L->vb, L->user_vb, nb, back);
    }
    if (L->sW) {
        FN(pack_weights)(L, L->sW, L->user_sw, back);
        FN(copy)(L->sb, L->user_sb, nb, back);
    }
    if (FN(is_bn)(kind)) {
        FN(copy)(L->rm, L->user_rm, nb, back);
        FN(copy)(L->rv, L->user_rv, nb, back);
    }
    if (!back && FN(is_conv)(kind))
        FN(refresh_wt)(L);
}

/* batch norm in inference mode: the statistics in use are the running ones,
 * istd = 1 / sqrt(var_run + eps) (core/layers.py's batchnorm_inference_forward) */
static void FN(bn_inference_stats)(FN(layer) *L)
{
    for (int64_t ch = 0; ch < L->s.c; ch++) {
        L->mean[ch] = L->rm[ch];
        L->istd[ch] = 1 / SCALAR_SQRT(L->rv[ch] + (REAL)L->eps);
    }
}

/* one thread's scratch: for the largest conv-pool layer (conv, ft, buckets, kp), the largest
 * conv layer of either kind (dz = P FP, dcols = P KP and a vector of room for im2col's spill)
 * and four rows of the most channels of a layer (row) */
static int FN(alloc_scratch)(FN(net) *net, FN(scratch) *sc, const int64_t *size)
{
    sc->conv = FN(alloc)(net, size[0], sizeof(REAL));
    sc->g = FN(alloc)(net, size[1], sizeof(REAL));
    sc->wg = FN(alloc)(net, size[1], sizeof(REAL));
    sc->dcol = FN(alloc)(net, size[3], sizeof(REAL));
    sc->win = FN(alloc)(net, size[1], sizeof(int64_t));
    sc->bucket = FN(alloc)(net, size[2], sizeof(int64_t));
    sc->dz = FN(alloc)(net, size[4], sizeof(REAL));
    sc->dcols = FN(alloc)(net, size[5], sizeof(REAL));
    sc->row = FN(alloc)(net, size[6], sizeof(REAL));
    return sc->conv && sc->g && sc->wg && sc->dcol && sc->win && sc->bucket && sc->dz && sc->dcols && sc->row
               ? 0 : -1;
}

static inline int64_t FN(max)(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Buffers for mini-batches of up to mb on `threads` threads and the parameters params[2l],
 * params[2l+1] (w, b of layer l, the network's arrays, NULL where the layer has none; vel
 * and sq likewise or NULL) packed; bufs[2l], bufs[2l+1] a batch norm's running mean and
 * variance, hyper[2l], hyper[2l+1] its momentum and eps.
 * 0, -1 (memory), -2 (a network this kernel does not run). */
static int FN(setup)(FN(net) *net, const int64_t *spec, int64_t count, int64_t mb, REAL **params,
                     REAL **vel, REAL **sq, REAL **bufs, const double *hyper, int training, int64_t threads)
{
    lk_shape shapes[LK_MAX_LAYERS];
    memset(net, 0, sizeof *net);
    if (lk_shapes(spec, count, shapes) || mb < 1)
        return -2;
    net->L = count, net->mb = mb, net->training = training, net->fused = 1;
    net->threads = threads < 1 ? 1 : threads > LK_MAX_THREADS ? LK_MAX_THREADS : threads;
    /* scratch sizes: conv, ft, buckets, kp (conv-pool); dz, dcols (both conv kinds); row */
    int64_t widest = 1, size[7] = {1, 1, 1, 1, 1, 1, 1};
    for (int64_t l = 0; l < count; l++) {
        FN(layer) *L = net->layer + l;
        L->s = shapes[l];
        L->user_w = params[2 * l], L->user_b = params[2 * l + 1];
        L->user_vw = vel ? vel[2 * l] : NULL, L->user_vb = vel ? vel[2 * l + 1] : NULL;
        L->user_sw = sq ? sq[2 * l] : NULL, L->user_sb = sq ? sq[2 * l + 1] : NULL;
        L->user_rm = bufs ? bufs[2 * l] : NULL, L->user_rv = bufs ? bufs[2 * l + 1] : NULL;
        L->momentum = hyper ? hyper[2 * l] : 0.1, L->eps = hyper ? hyper[2 * l + 1] : 1e-5;
        if (FN(is_bn)(L->s.kind) && (!L->user_rm || !L->user_rv || !L->user_w || !L->user_b))
            return -2;
        if (FN(has_params)(L->s.kind) && !L->user_w)
            return -2;
        if (FN(alloc_layer)(net, L, l + 1 < count ? shapes[l + 1].kind : LK_FC))
            return -1;
        FN(pack)(L, 0);
        if (FN(is_bn)(L->s.kind) && !training)
            FN(bn_inference_stats)(L);
        const lk_shape *c = &L->s;
        size[6] = FN(max)(size[6], 4 * round_up(FN(max)(c->c, c->f), LANES) + LANES);   /* (4 rows) */
        if (!lk_image_kind(c->kind)) {
            widest = FN(max)(widest, c->n_out);
            continue;
        }
        net->n_img = l + 1;
        net->fused = net->fused && c->kind == LK_CONV;
        if (FN(is_conv)(c->kind)) {     /* one image's convolution, deltas and im2col rows */
            size[0] = FN(max)(size[0], c->P * L->FP);
            size[4] = FN(max)(size[4], c->P * L->FP);
            size[5] = FN(max)(size[5], c->P * L->KP + LANES);
        }
        if (c->kind == LK_CONV) {
            size[1] = FN(max)(size[1], c->f * c->T);
            size[2] = FN(max)(size[2], 2 * c->P + 1 + c->f * c->T);
            size[3] = FN(max)(size[3], L->KP);
        }
    }
    for (int64_t t = 0; t < net->threads; t++)
        if (FN(alloc_scratch)(net, net->sc + t, size))
            return -1;
    net->out = FN(alloc)(net, mb * shapes[count - 1].n_out, sizeof(REAL));
    net->dz = FN(alloc)(net, mb * widest, sizeof(REAL));
    net->dzt = FN(alloc)(net, mb * widest, sizeof(REAL));
    net->y = FN(alloc)(net, mb, sizeof(int64_t));
    return net->out && net->dz && net->dzt && net->y ? 0 : -1;
}

/* ---- matrix products ------------------------------------------------------------------------- */
/* What a product does with its result C = A B: store it, or take it as the gradient g of
 * the parameters at C and step them there: C -= eta (g + decay C), or with velocities V
 * (laid out like C) V = mu V - eta (g + decay C); C += V. */
typedef struct {
    REAL *V, *S;                    /* velocities or Adam's m; Adam's v (or NULL) */
    const FN(rule) *r;
} FN(epilogue);

/* sqrt of each lane (compiled to the vector instruction where there is one) */
static inline VEC FN(vsqrt)(VEC v)
{
    VEC out = v;
    for (int64_t k = 0; k < LANES; k++)
        out[k] = SCALAR_SQRT(out[k]);
    return out;
}

/* the step of a vector of parameters w with gradient g (L2 term included) as the rule says;
 * V and S: the vectors of state, where the rule keeps them (else NULL) */
INLINE VEC FN(vstep)(VEC w, VEC g, REAL *V, REAL *S, const FN(rule) *r)
{
    if (S) {
        VEC m = SPLAT(r->b1) * LOADV(V) + SPLAT(1 - r->b1) * g;
        VEC v = SPLAT(r->b2) * LOADV(S) + SPLAT(1 - r->b2) * (g * g);
        STOREV(V, m);
        STOREV(S, v);
        return w - SPLAT(r->step) * m / (FN(vsqrt)(v) / SPLAT(r->root) + SPLAT(r->eps));
    }
    if (V) {
        VEC vel = SPLAT(r->mu) * LOADV(V) - SPLAT(r->eta) * g;
        STOREV(V, vel);
        return w + vel;
    }
    return w - SPLAT(r->eta) * g;
}

/* C (mr, nvb vectors) = A (mr, K) B (K, nvb vectors) (step 0), or the step above (step 1), or
 * C += A B (step 2): the accumulators live in registers (mr, nvb and step are constants where
 * this is inlined); A is read one number at a time, at A[i * lda + k * acs] -- or, with koff
 * (step 0 only), at A[i * lda + koff[k]]: a convolution's patches read where they lie in the
 * image (conv_cols). */
INLINE void FN(gemm_tile)(const int mr, const int nvb, const int step, int64_t K, const REAL *A, int64_t lda,
                          int64_t acs, const int64_t *koff, const REAL *B, int64_t ldb, REAL *C, int64_t ldc,
                          const FN(epilogue) *e)
{
    VEC acc[MRMAX][4];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nvb; j++)
            acc[i][j] = SPLAT(0);
    for (int64_t k = 0; k < K; k++) {
        VEC b[4];
        const REAL *ak = koff ? A + koff[k] : A + k * acs;     /* (koff is NULL or not where inlined) */
#pragma GCC unroll 4
        for (int j = 0; j < nvb; j++)
            b[j] = LOADV(B + k * ldb + j * LANES);
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            VEC a = BCAST(ak[i * lda]);
#pragma GCC unroll 4
            for (int j = 0; j < nvb; j++)
                acc[i][j] += a * b[j];
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nvb; j++) {
            REAL *c = C + i * ldc + j * LANES;
            if (step == 0) {
                STOREV(c, acc[i][j]);
                continue;
            }
            if (step == 2) {
                STOREV(c, LOADV(c) + acc[i][j]);
                continue;
            }
            VEC w = LOADV(c), g = acc[i][j] + SPLAT(e->r->decay) * w;
            int64_t at = i * ldc + j * LANES;
            STOREV(c, FN(vstep)(w, g, e->V ? e->V + at : NULL, e->S ? e->S + at : NULL, e->r));
        }
}

#define GEMM_MR(nvb) (ACC_BUDGET / (nvb) < MRMAX ? ACC_BUDGET / (nvb) : MRMAX)

INLINE void FN(gemm_cols)(const int nvb, const int step, int64_t M, int64_t K, const REAL *A, int64_t lda,
                          int64_t acs, const REAL *B, int64_t ldb, REAL *C, int64_t ldc, const FN(epilogue) *e)
{
    int64_t i = 0;
    for (; i + GEMM_MR(nvb) <= M; i += GEMM_MR(nvb)) {
        FN(epilogue) ei = {e && e->V ? e->V + i * ldc : NULL, e && e->S ? e->S + i * ldc : NULL, e ? e->r : NULL};
        FN(gemm_tile)(GEMM_MR(nvb), nvb, step, K, A + i * lda, lda, acs, NULL, B, ldb, C + i * ldc, ldc, &ei);
    }
    for (; i < M; i++) {
        FN(epilogue) ei = {e && e->V ? e->V + i * ldc : NULL, e && e->S ? e->S + i * ldc : NULL, e ? e->r : NULL};
        FN(gemm_tile)(1, nvb, step, K, A + i * lda, lda, acs, NULL, B, ldb, C + i * ldc, ldc, &ei);
    }
}

#define GEMM_CASE(NVB) case NVB: \
    if (e) FN(gemm_cols)(NVB, 1, M, K, A, lda, acs, Bj, ldb, Cj, ldc, &ej); \
    else if (add) FN(gemm_cols)(NVB, 2, M, K, A, lda, acs, Bj, ldb, Cj, ldc, NULL); \
    else FN(gemm_cols)(NVB, 0, M, K, A, lda, acs, Bj, ldb, Cj, ldc, NULL); \
    break;

/* C (M, NV vectors) = A (M, K) B (K, NV vectors), A[i, k] at A[i * lda + k * acs], four
 * vector columns at a time (B's block then stays in the cache for all of A's rows); with
 * an epilogue `e`, the parameters at C take an SGD step with gradient A B instead; with
 * `add` (and no epilogue), C += A B. */
static void FN(gemm_any)(int64_t M, int64_t NV, int64_t K, const REAL *A, int64_t lda, int64_t acs, const REAL *B,
                         int64_t ldb, REAL *C, int64_t ldc, const FN(epilogue) *e, int add)
{
    for (int64_t j0 = 0; j0 < NV; j0 += 4) {
        const REAL *Bj = B + j0 * LANES;
        REAL *Cj = C + j0 * LANES;
        FN(epilogue) ej = {e && e->V ? e->V + j0 * LANES : NULL, e && e->S ? e->S + j0 * LANES : NULL, e ? e->r : NULL};
        switch (NV - j0 < 4 ? NV - j0 : 4) {
        GEMM_CASE(1) GEMM_CASE(2) GEMM_CASE(3) default: GEMM_CASE(4)
        }
    }
}

static void FN(gemm)(int64_t M, int64_t NV, int64_t K, const REAL *A, int64_t lda, int64_t acs, const REAL *B,
                     int64_t ldb, REAL *C, int64_t ldc, const FN(epilogue) *e)
{
    FN(gemm_any)(M, NV, K, A, lda, acs, B, ldb, C, ldc, e, 0);
}

/* C (M, NV vectors) += A (M, K) B (K, NV vectors), as FN(gemm) */
static void FN(gemm_add)(int64_t M, int64_t NV, int64_t K, const REAL *A, int64_t lda, int64_t acs,
                         const REAL *B, int64_t ldb, REAL *C, int64_t ldc)
{
    FN(gemm_any)(M, NV, K, A, lda, acs, B, ldb, C, ldc, NULL, 1);
}

/* (mr never exceeds GEMM_MR(nvb): the test only keeps tiles wider than the registers from
 * being compiled) */
#define TILE_CASE(MR) case MR: \
    FN(gemm_tile)(MR <= GEMM_MR(nvb) ? MR : 1, nvb, 0, s->K, a, s->c, 0, L->koff, B, L->FP, c, L->FP, NULL); break;

/* an output row's positions in tiles as even as the registers allow (26 positions, 12 at most
 * a tile: 8 + 9 + 9, not 12 + 12 + 1 + 1) */
INLINE void FN(conv_cols)(const int nvb, const FN(layer) *L, const REAL *x, const REAL *B, REAL *C)
{
    const lk_shape *s = &L->s;
    int64_t tiles = (s->ow + GEMM_MR(nvb) - 1) / GEMM_MR(nvb);
    for (int64_t r = 0; r < s->oh; r++)
        for (int64_t k = 0, c0 = 0; k < tiles; k++) {
            int64_t mr = (s->ow - c0) / (tiles - k);
            const REAL *a = x + (r * s->w + c0) * s->c;
            REAL *c = C + (r * s->ow + c0) * L->FP;
            switch (mr) {
#if MRMAX > 8
            TILE_CASE(16) TILE_CASE(15) TILE_CASE(14) TILE_CASE(13) TILE_CASE(12) TILE_CASE(11)
            TILE_CASE(10) TILE_CASE(9)
#endif
            TILE_CASE(8) TILE_CASE(7) TILE_CASE(6) TILE_CASE(5)
            TILE_CASE(4) TILE_CASE(3) TILE_CASE(2) default: FN(gemm_tile)(1, nvb, 0, s->K, a, s->c, 0, L->koff, B, L->FP, c, L->FP, NULL);
            }
            c0 += mr;
        }
}

#define CONV_CASE(NVB) case NVB: FN(conv_cols)(NVB, L, x, L->WT + j0 * LANES, conv + j0 * LANES); break;

/* conv (P, FP) = the convolution of one channels-last image x (h, w, c) with WT (K, FP), for a
 * conv of stride 1 without padding: FN(gemm) of im2col's rows, but the patches are read where
 * they lie, four vectors of filters at a time */
static void FN(conv_direct)(const FN(layer) *L, const REAL *x, REAL *conv)
{
    int64_t NV = L->FP / LANES;
    for (int64_t j0 = 0; j0 < NV; j0 += 4)
        switch (NV - j0 < 4 ? NV - j0 : 4) {
        CONV_CASE(1) CONV_CASE(2) CONV_CASE(3) default: CONV_CASE(4)
        }
}

/* ---- conv-pool layer: forward (im2col: for its backward pass) -------------------------- */
/* col (P, KP) <- the patches of one channels-last image x (h, w, c): row r*ow + s is the
 * patch at (r, s), kh runs of kw*c contiguous numbers.  Runs are copied in whole vectors,
 * so each may spill up to a vector past its end: into the next run or row (written over
 * next) or the row's padding, which is zeroed last (buffers have a vector of room). */
static void FN(im2col)(const lk_shape *s, int64_t KP, const REAL *x, REAL *col)
{
    int64_t run = s->kw * s->c;
    for (int64_t r = 0; r < s->oh; r++)
        for (int64_t c0 = 0; c0 < s->ow; c0++) {
            REAL *row = col + (r * s->ow + c0) * KP;
            for (int64_t p = 0; p < s->kh; p++) {
                const REAL *src = x + ((r + p) * s->w + c0) * s->c;
                REAL *dst = row + p * run;
                for (int64_t k = 0; k < run; k += LANES)
                    STOREV(dst + k, LOADV(src + k));
            }
            if (s->K < KP)
                STOREV(row + s->K, SPLAT(0));
        }
}

/* out <- act(maxpool(conv) + b) for one image, conv (P, FP); pos (T, FP) <- each block's
 * winner, the first maximum in row-major order (as core/layers.py's backward picks) */
static void FN(pool_act)(const FN(layer) *L, const REAL *conv, REAL *pos, REAL *out)
{
    const lk_shape *s = &L->s;
    for (int64_t pr = 0; pr < s->poh; pr++)
        for (int64_t pc = 0; pc < s->pow; pc++) {
            int64_t t = pr * s->pow + pc, p0 = pr * s->ph * s->ow + pc * s->pw;
            for (int64_t fv = 0; fv < L->FP; fv += LANES) {
                VEC best = LOADV(conv + p0 * L->FP + fv), at = SPLAT(p0);
                for (int64_t a = 0; a < s->ph; a++)
                    for (int64_t b = (a == 0); b < s->pw; b++) {
                        int64_t p = p0 + a * s->ow + b;
                        VEC v = LOADV(conv + p * L->FP + fv);
                        IVEC gt = v > best;
                        best = SELECT(gt, v, best);
                        at = SELECT(gt, SPLAT(p), at);
                    }
                VEC z = FN(vact)(best + LOADV(L->b + fv), s->act);
                STOREV(pos + t * L->FP + fv, at);
                for (int64_t e = 0; e < LANES && fv + e < s->f; e++)
                    out[L->out_chw ? (fv + e) * s->T + t : t * s->f + fv + e] = z[e];
            }
        }
}

/* the conv-pool layer's forward pass for image i, into the next layer's input */
static void FN(conv_forward)(FN(net) *net, FN(layer) *L, int64_t i, int thread, REAL *out, int64_t ldo)
{
    const lk_shape *s = &L->s;
    REAL *conv = net->sc[thread].conv;
    FN(conv_direct)(L, L->in + i * L->ins, conv);
    FN(pool_act)(L, conv, L->pos + i * s->T * L->FP, out + i * ldo);
}

/* ---- fully connected layer: forward ------------------------------------------------------- */
/* Z (ib, jb) = X (ib rows) W^T (jb rows) + b: ib*jb dot products of nv vectors each,
 * accumulated in registers, then summed across lanes */
INLINE void FN(dot_tile)(const int ib, const int jb, int64_t nv, const REAL *X, int64_t ldx,
                         const REAL *W, int64_t ldw, const REAL *b, REAL *Z, int64_t ldz)
{
    VEC acc[IBMAX][2];
#pragma GCC unroll 10
    for (int i = 0; i < ib; i++)
        acc[i][0] = acc[i][1] = SPLAT(0);
    for (int64_t k = 0; k < nv * LANES; k += LANES) {
        VEC w0 = LOADV(W + k), w1 = jb > 1 ? LOADV(W + ldw + k) : w0;
#pragma GCC unroll 10
        for (int i = 0; i < ib; i++) {
            VEC x = LOADV(X + i * ldx + k);
            acc[i][0] += x * w0;
            if (jb > 1)
                acc[i][1] += x * w1;
        }
    }
#pragma GCC unroll 10
    for (int i = 0; i < ib; i++)
        for (int j = 0; j < jb; j++)
            Z[i * ldz + j] = FN(hsum)(acc[i][j]) + b[j];
}

#define DOT_CASE(I) case I: \
    if (jb == 2) FN(dot_tile)(I, 2, nv, X, ldx, W, ldw, b, Z, ldz); \
    else FN(dot_tile)(I, 1, nv, X, ldx, W, ldw, b, Z, ldz); \
    break;

static void FN(dot_block)(int64_t ib, int jb, int64_t nv, const REAL *X, int64_t ldx, const REAL *W,
                          int64_t ldw, const REAL *b, REAL *Z, int64_t ldz)
{
    switch (ib) {
    DOT_CASE(1) DOT_CASE(2) DOT_CASE(3) DOT_CASE(4) DOT_CASE(5)
#if IBMAX > 5
    DOT_CASE(6) DOT_CASE(7) DOT_CASE(8) DOT_CASE(9) DOT_CASE(10)
#endif
    default: break;
    }
}

/* rows i0..i1 of the dropout layer's masked input xm = in (.) mask */
static void FN(mask_rows)(FN(layer) *L, int64_t i0, int64_t i1, const uint8_t *mask)
{
    for (int64_t i = i0; i < i1; i++)
        for (int64_t k = 0; k < L->s.n_in; k++)
            L->xm[i * L->ins + k] = L->in[i * L->ins + k] * (REAL)mask[i * L->s.n_in + k];
}

/* units j0..j1 (j0 even) of the fully connected layer's forward pass over m samples:
 * out[:, j0:j1] = act(x W[j0:j1]^T + b[j0:j1]), x = in, or xm with dropout */
static void FN(fc_forward)(FN(layer) *L, int64_t m, int dropout, int64_t j0, int64_t j1, REAL *out, int64_t ldo)
{
    const REAL *x = dropout ? L->xm : L->in;
    for (int64_t j = j0; j < j1; j += 2) {
        int jb = j1 - j >= 2 ? 2 : 1;
        for (int64_t i = 0; i < m; i += IBMAX)
            FN(dot_block)(m - i < IBMAX ? m - i : IBMAX, jb, L->ins / LANES, x + i * L->ins, L->ins,
                          L->W + j * L->ins, L->ins, L->b + j, out + i * ldo + j, ldo);
    }
    for (int64_t i = 0; i < m; i++)
        FN(activate)(out + i * ldo + j0, j1 - j0, L->s.act);
}

/* ---- the output: softmax and BP1 ------------------------------------------------------------ */
/* z (m, n) -> delta (m, n) = (softmax(z) - onehot(y)) / m, softmax through log-sum-exp as
 * core/layers.py's softmax_loglik_forward; returns the summed cost -sum ln a_y */
static double FN(softmax_delta)(const REAL *z, int64_t m, int64_t n, const int64_t *y, REAL *delta)
{
    double cost = 0;
    for (int64_t i = 0; i < m; i++) {
        const REAL *zi = z + i * n;
        REAL *di = delta + i * n, top = zi[0], sum = 0;
        for (int64_t j = 1; j < n; j++)
            top = zi[j] > top ? zi[j] : top;
        for (int64_t j = 0; j < n; j++)
            sum += SCALAR_EXP(zi[j] - top);
        REAL log_norm = SCALAR_LOG(sum);
        for (int64_t j = 0; j < n; j++)
            di[j] = SCALAR_EXP((zi[j] - top) - log_norm);
        cost -= (double)((zi[y[i]] - top) - log_norm);
        di[y[i]] -= 1;
        for (int64_t j = 0; j < n; j++)
            di[j] /= (REAL)m;
    }
    return cost;
}

/* ---- fully connected layer: backward and update ---------------------------------------------- */
/* For up to IBMAX samples, one sweep down a column block (one vector wide) of W (n_out
 * rows) does both, while the block is in the cache:
 *   do_dx:  dx[i, block] = sum_j delta[i, j] W[j, block]      (BP2, with the weights before the step)
 *   then    W[j, block] -= eta (sum_i delta[i, j] x[i, block] + decay W[j, block])   (BP4)
 * (or the momentum step); x[i, block] and dx[i, block] stay in registers throughout. */
INLINE void FN(fc_sweep)(const int ib, const int do_dx, int64_t n_out, const REAL *X, int64_t ldx, REAL *W,
                         REAL *V, REAL *S, int64_t ldw, const REAL *dzt, REAL *dX, const FN(rule) *r)
{
    VEC x[IBMAX], dx[IBMAX];
#pragma GCC unroll 10
    for (int i = 0; i < ib; i++) {
        dx[i] = SPLAT(0);
        x[i] = LOADV(X + i * ldx);
    }
    for (int64_t j = 0; j < n_out; j++) {
        REAL *wp = W + j * ldw;
        const REAL *d = dzt + j * ib;
        __builtin_prefetch(wp + SWEEP_AHEAD * ldw, 1);   /* rows a page apart: no hardware prefetch */
        if (V)
            __builtin_prefetch(V + (j + SWEEP_AHEAD) * ldw, 1);
        if (S)
            __builtin_prefetch(S + (j + SWEEP_AHEAD) * ldw, 1);
        VEC w = LOADV(wp), g = SPLAT(r->decay) * w;
#pragma GCC unroll 10
        for (int i = 0; i < ib; i++) {
            VEC di = SPLAT(d[i]);
            if (do_dx)
                dx[i] += di * w;
            g += di * x[i];
        }
        STOREV(wp, FN(vstep)(w, g, V ? V + j * ldw : NULL, S ? S + j * ldw : NULL, r));
    }
    if (do_dx)
#pragma GCC unroll 10
        for (int i = 0; i < ib; i++)
            STOREV(dX + i * ldx, dx[i]);
}

#define SWEEP_CASE(I) case I: \
    if (dX) FN(fc_sweep)(I, 1, n_out, X, ldx, W, V, S, ldw, dzt, dX, r); \
    else FN(fc_sweep)(I, 0, n_out, X, ldx, W, V, S, ldw, dzt, dX, r); \
    break;

static void FN(sweep)(int64_t ib, int64_t n_out, const REAL *X, int64_t ldx, REAL *W, REAL *V, REAL *S,
                      int64_t ldw, const REAL *dzt, REAL *dX, const FN(rule) *r)
{
    switch (ib) {
    SWEEP_CASE(1) SWEEP_CASE(2) SWEEP_CASE(3) SWEEP_CASE(4) SWEEP_CASE(5)
#if IBMAX > 5
    SWEEP_CASE(6) SWEEP_CASE(7) SWEEP_CASE(8) SWEEP_CASE(9) SWEEP_CASE(10)
#endif
    default: break;
    }
}

/* one parameter's step with gradient g as the rule says (v: its velocity or Adam's m, s:
 * Adam's v, where the rule keeps them) */
static inline void FN(update)(REAL *p, REAL *v, REAL *s, REAL g, const FN(rule) *r)
{
    if (s) {
        *v = r->b1 * *v + (1 - r->b1) * g;
        *s = r->b2 * *s + (1 - r->b2) * (g * g);
        *p -= r->step * *v / (SCALAR_SQRT(*s) / r->root + r->eps);
    } else if (v) {
        *v = r->mu * *v - r->eta * g;
        *p += *v;
    } else {
        *p -= r->eta * g;
    }
}

/* the fully connected layer's delta dz (m, n_out) transposed into net->dzt, and its biases' step */
static void FN(fc_backward_prep)(FN(net) *net, FN(layer) *L, int64_t m, const REAL *dz)
{
    for (int64_t j = 0; j < L->s.n_out; j++) {
        REAL db = 0;
        for (int64_t i = 0; i < m; i++) {
            net->dzt[j * m + i] = dz[i * L->s.n_out + j];
            db += dz[i * L->s.n_out + j];
        }
        FN(update)(L->b + j, L->vb ? L->vb + j : NULL, L->sb ? L->sb + j : NULL, db, &net->rule);
    }
}

/* columns v0..v1 (in vectors) of the fully connected layer's backward pass and step:
 * dx[:, cols] = (delta W[:, cols]) (.) mask (unless need_dx is 0), then W[:, cols] steps */
static void FN(fc_backward)(FN(net) *net, FN(layer) *L, int64_t m, const uint8_t *mask, int need_dx,
                            int64_t v0, int64_t v1)
{
    const REAL *x = mask ? L->xm : L->in;
    REAL *dX = need_dx ? L->din : NULL;
    int64_t ld = L->ins, n_out = L->s.n_out;
    if (m <= IBMAX) {           /* one sweep down each column block of W does dx and the step */
        for (int64_t kv = v0 * LANES; kv < v1 * LANES; kv += LANES)
            FN(sweep)(m, n_out, x + kv, ld, L->W + kv, L->vW ? L->vW + kv : NULL, L->sW ? L->sW + kv : NULL, ld,
                      net->dzt, dX ? dX + kv : NULL, &net->rule);
    } else {                    /* dx = delta W, then W steps by delta^T x, both blocked products */
        int64_t k0 = v0 * LANES;
        FN(epilogue) e = {L->vW ? L->vW + k0 : NULL, L->sW ? L->sW + k0 : NULL, &net->rule};
        if (dX)
            FN(gemm)(m, v1 - v0, n_out, net->dz, n_out, 1, L->W + k0, ld, dX + k0, ld, NULL);
        FN(gemm)(n_out, v1 - v0, m, net->dzt, m, 1, x + k0, ld, L->W + k0, ld, &e);
    }
    int64_t k1 = v1 * LANES < L->s.n_in ? v1 * LANES : L->s.n_in;
    if (dX && mask)
        for (int64_t i = 0; i < m; i++)
            for (int64_t k = v0 * LANES; k < k1; k++)
                dX[i * ld + k] *= (REAL)mask[i * L->s.n_in + k];
}

/* delta (m, n) = dA (.) act'(A), both read from the next layer's input rows (stride ld) */
static void FN(delta_from)(const REAL *A, const REAL *dA, int64_t ld, int64_t m, int64_t n, int64_t act,
                           REAL *delta)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            delta[i * n + j] = dA[i * ld + j] * FN(prime)(A[i * ld + j], act);
}

/* ---- conv-pool layer: backward and update ------------------------------------------------- */
/* acc[0:nvec vectors] += sum_t coef[t] rows[which[t]][0:nvec vectors], the accumulators in
 * registers (nvec is a constant where this is inlined) */
INLINE void FN(gather_tile)(const int nvec, REAL *acc, const REAL *rows, int64_t ld, const int64_t *which,
                            const REAL *coef, int64_t n)
{
    VEC a[CHUNK];
#pragma GCC unroll 16
    for (int v = 0; v < nvec; v++)
        a[v] = LOADV(acc + v * LANES);
    for (int64_t t = 0; t < n; t++) {
        const REAL *row = rows + which[t] * ld;
        VEC c = SPLAT(coef[t]);
#pragma GCC unroll 16
        for (int v = 0; v < nvec; v++)
            a[v] += c * LOADV(row + v * LANES);
    }
#pragma GCC unroll 16
    for (int v = 0; v < nvec; v++)
        STOREV(acc + v * LANES, a[v]);
}

#define GATHER_CASE(V) case V: FN(gather_tile)(V, acc, rows, ld, which, coef, n); break;

static void FN(gather_axpy)(int64_t nvec, REAL *acc, const REAL *rows, int64_t ld, const int64_t *which,
                            const REAL *coef, int64_t n)
{
    switch (nvec) {
    GATHER_CASE(1) GATHER_CASE(2) GATHER_CASE(3) GATHER_CASE(4)
    GATHER_CASE(5) GATHER_CASE(6) GATHER_CASE(7)
#if CHUNK > 8
    GATHER_CASE(8) GATHER_CASE(9) GATHER_CASE(10) GATHER_CASE(11)
    GATHER_CASE(12) GATHER_CASE(13) GATHER_CASE(14) GATHER_CASE(15)
#endif
    default: FN(gather_tile)(CHUNK, acc, rows, ld, which, coef, n);
    }
}

/* y[0:n] += c x[0:n] (with AVX-512, the last partial vector under a mask) */
static inline void FN(axpy)(REAL *y, const REAL *x, int64_t n, REAL c)
{
    int64_t k = 0;
    VEC cv = SPLAT(c);
    for (; k + LANES <= n; k += LANES)
        STOREV(y + k, LOADV(y + k) + cv * LOADV(x + k));
#if defined(__AVX512F__)
    if (k < n && sizeof(REAL) == 4) {
        __mmask16 m = (__mmask16)((1u << (n - k)) - 1);
        __m512 v = _mm512_fmadd_ps(_mm512_set1_ps((float)c), _mm512_maskz_loadu_ps(m, x + k),
                                   _mm512_maskz_loadu_ps(m, y + k));
        _mm512_mask_storeu_ps(y + k, m, v);
        return;
    }
#endif
    for (; k < n; k++)
        y[k] += c * x[k];
}

/* dx (h, w, c) of one image from its winners: a patch position that won pooling blocks
 * has gradient row sum over its wins (f, t) of g[f, t] W[f] (built CHUNK vectors at a time
 * in registers), added back where the patch came from (col2im).  Positions go column by
 * column, so that consecutive patches overlap exactly or not at all. */
static void FN(conv_dx_image)(FN(scratch) *sc, const FN(layer) *L, REAL *dx)
{
    const lk_shape *s = &L->s;
    const REAL *g = sc->g;
    const int64_t *win = sc->win;
    int64_t *start = sc->bucket, *cursor = start + s->P + 1, *wf = cursor + s->P;
    REAL *wg = sc->wg, *row = sc->dcol;
    memset(start, 0, (size_t)(s->P + 1) * sizeof(int64_t));
    for (int64_t e = 0; e < s->f * s->T; e++)
        start[win[e] + 1]++;
    for (int64_t p = 0; p < s->P; p++)
        cursor[p] = start[p + 1] += start[p];
    for (int64_t p = 0; p < s->P; p++)
        cursor[p] = start[p];
    for (int64_t f = 0; f < s->f; f++)          /* the wins of each position: filter and delta */
        for (int64_t t = 0; t < s->T; t++) {
            int64_t k = cursor[win[f * s->T + t]]++;
            wf[k] = f;
            wg[k] = g[f * s->T + t];
        }
    int64_t run = s->kw * s->c, nv = L->KP / LANES;
    for (int64_t c0 = 0; c0 < s->ow; c0++)
        for (int64_t r = 0; r < s->oh; r++) {
            int64_t p = r * s->ow + c0, n = start[p + 1] - start[p];
            if (n == 0)
                continue;
            memset(row, 0, (size_t)L->KP * sizeof(REAL));
            for (int64_t v0 = 0; v0 < nv; v0 += CHUNK)
                FN(gather_axpy)(nv - v0 < CHUNK ? nv - v0 : CHUNK, row + v0 * LANES, L->W + v0 * LANES, L->KP,
                                wf + start[p], wg + start[p], n);
            for (int64_t q = 0; q < s->kh; q++)
                FN(axpy)(dx + ((r + q) * s->w + c0) * s->c, row + q * run, run, 1);
        }
}

/* ---- core/modern.py's image layers: conv, batch norm of maps, pools --------------------------
 * An image layer reads image i channels-last, x (P = h w positions, c channels) at
 * L->in + i ins, and writes its output (T positions, f channels) into the next layer's input:
 * channels-last (t, ch) when an image layer follows, channel-first (ch, t) when rows follow
 * (NumPy's flattening).  Its backward pass reads dA = dC/d(output) from the next layer's din in
 * that layout and writes dx = dC/dx into its own din, (P, c). */

/* where channel ch of output position t goes in the next layer's input */
static inline int64_t FN(out_at)(const FN(layer) *L, int64_t t, int64_t ch)
{
    return L->out_chw ? ch * L->s.T + t : t * L->s.f + ch;
}

/* the next layer's input at output position t <- row[0:f] */
static inline void FN(emit)(const FN(layer) *L, REAL *out, int64_t t, const REAL *row)
{
    if (!L->out_chw) {
        memcpy(out + t * L->s.f, row, (size_t)L->s.f * sizeof(REAL));
        return;
    }
    for (int64_t ch = 0; ch < L->s.f; ch++)
        out[ch * L->s.T + t] = row[ch];
}

/* the f numbers of output position t in the next layer's input `base` (one image of it) as a
 * contiguous row: the row itself (channels-last), or gathered into tmp (channel-first) */
static inline const REAL *FN(row_at)(const FN(layer) *L, const REAL *base, int64_t t, REAL *tmp)
{
    if (!L->out_chw)
        return base + t * L->s.f;
    for (int64_t ch = 0; ch < L->s.f; ch++)
        tmp[ch] = base[ch * L->s.T + t];
    return tmp;
}

/* d[0:n] = dA[0:n] (.) act'(A[0:n]), act' from the output A as FN(prime), the switch outside
 * the loop so that the loop runs in vectors */
static inline void FN(delta_row)(const REAL *restrict dA, const REAL *restrict A, int64_t n, int64_t act,
                                 REAL *restrict d)
{
    switch (act) {
    case LK_RELU:
        for (int64_t k = 0; k < n; k++)
            d[k] = A[k] > 0 ? dA[k] : 0;
        break;
    case LK_SIGMOID:
        for (int64_t k = 0; k < n; k++)
            d[k] = dA[k] * (A[k] * (1 - A[k]));
        break;
    case LK_TANH:
        for (int64_t k = 0; k < n; k++)
            d[k] = dA[k] * (1 - A[k] * A[k]);
        break;
    default:
        for (int64_t k = 0; k < n; k++)
            d[k] = dA[k];
        break;
    }
}

/* the first and one-past-last patch columns q whose input column x0 + q lies inside the image
 * (x0 = stride s - pad, the patch's left edge); the rest read the zero padding */
static inline void FN(inside)(const lk_shape *s, int64_t x0, int64_t *qlo, int64_t *qhi)
{
    *qlo = x0 < 0 ? -x0 : 0;
    *qhi = x0 + s->kw > s->w ? s->w - x0 : s->kw;
}

/* col (P, KP) <- the patches of one channels-last image x (h, w, c) with `pad` zeros around
 * it, every `stride` positions: row r ow + s is the patch whose top-left corner is
 * (stride r - pad, stride s - pad), patch row p a run of kw c numbers in (q, c) order (zeros
 * where it lies in the padding).  A run wholly inside x is copied in whole vectors, which may
 * spill past its end into what is written next (as FN(im2col)); a clipped run is copied exactly. */
static void FN(im2col_pad)(const lk_shape *s, int64_t KP, const REAL *x, REAL *col)
{
    int64_t run = s->kw * s->c, c = s->c;
    for (int64_t r = 0; r < s->oh; r++)
        for (int64_t c0 = 0; c0 < s->ow; c0++) {
            REAL *row = col + (r * s->ow + c0) * KP;
            int64_t x0 = c0 * s->stride - s->pad, qlo, qhi;
            FN(inside)(s, x0, &qlo, &qhi);
            for (int64_t p = 0; p < s->kh; p++) {
                int64_t y = r * s->stride + p - s->pad;
                REAL *dst = row + p * run;
                if (y < 0 || y >= s->h) {
                    memset(dst, 0, (size_t)run * sizeof(REAL));
                    continue;
                }
                const REAL *src = x + (y * s->w + x0) * c;
                if (qlo == 0 && qhi == s->kw) {
                    for (int64_t k = 0; k < run; k += LANES)
                        STOREV(dst + k, LOADV(src + k));
                    continue;
                }
                memset(dst, 0, (size_t)(qlo * c) * sizeof(REAL));
                memcpy(dst + qlo * c, src + qlo * c, (size_t)((qhi - qlo) * c) * sizeof(REAL));
                memset(dst + qhi * c, 0, (size_t)((s->kw - qhi) * c) * sizeof(REAL));
            }
            if (s->K < KP)
                STOREV(row + s->K, SPLAT(0));
        }
}

/* dx (h, w, c) of one image <- col2im of the patch gradients dcol (P, KP): each patch row's
 * run added back where FN(im2col_pad) took it from, the padding's share dropped */
static void FN(col2im_pad)(const lk_shape *s, int64_t KP, const REAL *dcol, REAL *dx)
{
    int64_t c = s->c;
    memset(dx, 0, (size_t)s->n_in * sizeof(REAL));
    for (int64_t r = 0; r < s->oh; r++)
        for (int64_t c0 = 0; c0 < s->ow; c0++) {
            const REAL *row = dcol + (r * s->ow + c0) * KP;
            int64_t x0 = c0 * s->stride - s->pad, qlo, qhi;
            FN(inside)(s, x0, &qlo, &qhi);
            for (int64_t p = 0; p < s->kh; p++) {
                int64_t y = r * s->stride + p - s->pad;
                if (y >= 0 && y < s->h)
                    FN(axpy)(dx + (y * s->w + x0 + qlo) * c, row + (p * s->kw + qlo) * c, (qhi - qlo) * c, 1);
            }
        }
}

/* the conv layer's forward pass for image i: conv (P, FP) = col (P, KP) WT (KP, FP) (stride
 * 1 without padding: conv_direct, the patches read where they lie), then out[t] =
 * act(conv[t] + b) (without bias: act(conv[t])).  When the output is channels-last and f a
 * whole number of vectors, conv is the output itself. */
static void FN(conv2_forward)(FN(net) *net, FN(layer) *L, int64_t i, int thread, REAL *out)
{
    const lk_shape *s = &L->s;
    REAL *col = net->sc[thread].dcols;      /* (made again by the backward pass: cheaper than
                                               keeping every image's through the step) */
    int direct = !L->out_chw && L->FP == s->f;
    REAL *conv = direct ? out : net->sc[thread].conv;
    if (s->pad == 0 && s->stride == 1)
        FN(conv_direct)(L, L->in + i * L->ins, conv);
    else {
        FN(im2col_pad)(s, L->KP, L->in + i * L->ins, col);
        FN(gemm)(s->P, L->FP / LANES, s->K, col, L->KP, 1, L->WT, L->FP, conv, L->FP, NULL);
    }
    if (direct) {
        for (int64_t t = 0; s->bias && t < s->P; t++)
            for (int64_t k = 0; k < L->FP; k += LANES)
                STOREV(out + t * s->f + k, LOADV(out + t * s->f + k) + LOADV(L->b + k));
        FN(activate)(out, s->P * s->f, s->act);
        return;
    }
    for (int64_t t = 0; t < s->P; t++) {
        REAL *row = conv + t * L->FP;
        if (s->bias)
            for (int64_t k = 0; k < L->FP; k += LANES)
                STOREV(row + k, LOADV(row + k) + LOADV(L->b + k));
        FN(activate)(row, s->f, s->act);
        FN(emit)(L, out, t, row);
    }
}

/* One image's share of the conv layer's gradient, added to group `group`'s dW and db:
 *   dZ (P, F) = dA (.) act'(A)            db += the sums of dZ's columns
 *   dW (F, KP) += dZ^T col                 (one product over the P positions; col made again)
 * and, unless this is the first layer, dx = col2im(dZ W) (dcol (P, KP) = dZ (P, F) W (F, KP),
 * in the same scratch as col, which is no longer needed). */
static void FN(conv2_back_image)(FN(net) *net, FN(layer) *L, int64_t i, int thread, int64_t group)
{
    const lk_shape *s = &L->s;
    const FN(layer) *next = L + 1;
    const REAL *A = next->in + i * next->ins, *dA = next->din + i * next->ins;
    FN(scratch) *sc = net->sc + thread;
    REAL *col = sc->dcols;
    FN(im2col_pad)(s, L->KP, L->in + i * L->ins, col);
    REAL *dz = sc->dz, *dW = L->dW + group * s->f * L->KP, *restrict db = L->db + group * L->FP;
    REAL *tmp = sc->row + 2 * round_up(s->f, LANES);
    for (int64_t t = 0; t < s->P; t++) {
        REAL *restrict d = dz + t * L->FP;
        FN(delta_row)(FN(row_at)(L, dA, t, tmp), FN(row_at)(L, A, t, tmp + s->f), s->f, s->act, d);
        for (int64_t ch = 0; ch < s->f; ch++)
            db[ch] += d[ch];
    }
    FN(gemm_add)(s->f, L->KP / LANES, s->P, dz, 1, L->FP, col, L->KP, dW, L->KP);
    if (L->din) {
        FN(gemm)(s->P, L->KP / LANES, s->f, dz, L->FP, 1, L->W, L->KP, sc->dcols, L->KP, NULL);
        FN(col2im_pad)(s, L->KP, sc->dcols, L->din + i * L->ins);
    }
}

/* a pooling layer's forward pass for image i, one output position t (a ph x pw block at
 * (ph pr, pw pc)) at a time, its c channels in `row`:
 *   max-pool   row = the block's maximum, win = the position of its first maximum in
 *              row-major order (as core/layers.py's backward picks)
 *   avg-pool   row = (the block's sum, in row-major order) / (ph pw)
 *   gap        row = (the sum over all P positions) / P */
static void FN(pool_forward)(FN(net) *net, FN(layer) *L, int64_t i, int thread, REAL *out)
{
    const lk_shape *s = &L->s;
    const REAL *x = L->in + i * L->ins;
    REAL *restrict row = net->sc[thread].row;
    int64_t c = s->c;
    if (s->kind == LK_GAP) {
        memset(row, 0, (size_t)c * sizeof(REAL));
        for (int64_t p = 0; p < s->P; p++)
            for (int64_t ch = 0; ch < c; ch++)
                row[ch] += x[p * c + ch];
        for (int64_t ch = 0; ch < c; ch++)
            row[ch] /= (REAL)s->P;
        FN(emit)(L, out, 0, row);
        return;
    }
    REAL scale = (REAL)(1.0 / (double)(s->ph * s->pw));
    for (int64_t pr = 0; pr < s->poh; pr++)
        for (int64_t pc = 0; pc < s->pow; pc++) {
            int64_t t = pr * s->pow + pc, p0 = pr * s->ph * s->w + pc * s->pw;
            REAL *restrict win = s->kind == LK_MAXPOOL ? L->pos + (i * s->T + t) * c : NULL;
            memcpy(row, x + p0 * c, (size_t)c * sizeof(REAL));
            for (int64_t ch = 0; win && ch < c; ch++)
                win[ch] = (REAL)p0;
            for (int64_t a = 0; a < s->ph; a++)
                for (int64_t b = (a == 0); b < s->pw; b++) {
                    int64_t p = p0 + a * s->w + b;
                    const REAL *restrict xp = x + p * c;
                    REAL at = (REAL)p;
                    if (win) {                  /* (branch-free, so that it runs in vectors) */
                        for (int64_t ch = 0; ch < c; ch++) {
                            int gt = xp[ch] > row[ch];
                            win[ch] = gt ? at : win[ch];
                            row[ch] = gt ? xp[ch] : row[ch];
                        }
                    } else {
                        for (int64_t ch = 0; ch < c; ch++)
                            row[ch] += xp[ch];
                    }
                }
            if (!win)
                for (int64_t ch = 0; ch < c; ch++)
                    row[ch] *= scale;
            FN(emit)(L, out, t, row);
        }
}

/* a pooling layer's dx for image i: max-pool, dA to each block's winner; avg-pool, dA / (ph pw)
 * to each of the block's inputs; gap, dA / P to every position; zero where no block reads */
static void FN(pool_back_image)(FN(layer) *L, int64_t i)
{
    const lk_shape *s = &L->s;
    const FN(layer) *next = L + 1;
    const REAL *dA = next->din + i * next->ins;
    REAL *dx = L->din + i * L->ins;
    int64_t c = s->c;
    memset(dx, 0, (size_t)s->n_in * sizeof(REAL));
    if (s->kind == LK_GAP) {
        REAL scale = (REAL)(1.0 / (double)s->P);
        for (int64_t p = 0; p < s->P; p++)
            for (int64_t ch = 0; ch < c; ch++)
                dx[p * c + ch] = dA[FN(out_at)(L, 0, ch)] * scale;
        return;
    }
    REAL scale = (REAL)(1.0 / (double)(s->ph * s->pw));
    for (int64_t pr = 0; pr < s->poh; pr++)
        for (int64_t pc = 0; pc < s->pow; pc++) {
            int64_t t = pr * s->pow + pc, p0 = pr * s->ph * s->w + pc * s->pw;
            if (s->kind == LK_MAXPOOL) {
                const REAL *win = L->pos + (i * s->T + t) * c;
                for (int64_t ch = 0; ch < c; ch++)
                    dx[(int64_t)win[ch] * c + ch] = dA[FN(out_at)(L, t, ch)];
                continue;
            }
            for (int64_t ch = 0; ch < c; ch++) {
                REAL share = dA[FN(out_at)(L, t, ch)] * scale;
                for (int64_t a = 0; a < s->ph; a++)
                    for (int64_t b = 0; b < s->pw; b++)
                        dx[(p0 + a * s->w + b) * c + ch] = share;
            }
        }
}

/* ---- batch normalisation (core/modern.py's BatchNormLayer) -----------------------------------
 * Per channel over the N = m P values of the mini-batch's maps (or per feature over the N = m
 * rows), in training:
 *   mean = (1/N) sum x,  var = (1/N) sum (x - mean)^2,  istd = 1 / sqrt(var + eps)
 *   xhat = (x - mean) istd,  out = act(gamma xhat + beta)
 *   running:  r_mean <- (1 - momentum) r_mean + momentum mean
 *             r_var  <- (1 - momentum) r_var + momentum N / (N - 1) var
 *   backward: d = dA (.) act'(out);  dbeta = sum d,  dgamma = sum d xhat
 *             dx = (N d - dbeta - xhat dgamma) gamma istd / N
 * and in inference mean, istd from the running averages.  The sums over the batch are taken
 * per image (forward) or per group of images (backward) and then added in a fixed order, so
 * that they do not depend on the threads. */

/* mean <- the running averages after this step's statistics (N values a channel) */
static void FN(bn_running)(FN(layer) *L, int64_t N)
{
    REAL keep = (REAL)(1.0 - L->momentum), take = (REAL)L->momentum;
    REAL take_var = (REAL)(L->momentum * (double)N / (double)(N - 1));
    for (int64_t ch = 0; ch < L->s.c; ch++) {
        L->rm[ch] = L->rm[ch] * keep + take * L->mean[ch];
        L->rv[ch] = L->rv[ch] * keep + take_var * L->var[ch];
    }
}

/* task: image i's sums over its positions, per channel, into part[i]: of x (phase 0) or of
 * (x - mean)^2 (phase 1, net->phase) */
static void FN(task_bn_sums)(void *ctx, int64_t i, int thread)
{
    FN(net) *net = ctx;
    (void)thread;
    FN(layer) *L = net->layer + net->cur;
    const REAL *restrict x = L->in + i * L->ins, *restrict mean = L->mean;
    REAL *restrict sum = L->part + i * L->CP;
    int64_t c = L->s.c, P = L->s.P;
    memset(sum, 0, (size_t)L->CP * sizeof(REAL));
    if (net->phase == 0)
        for (int64_t p = 0; p < P; p++)
            for (int64_t ch = 0; ch < c; ch++)
                sum[ch] += x[p * c + ch];
    else
        for (int64_t p = 0; p < P; p++)
            for (int64_t ch = 0; ch < c; ch++)
                sum[ch] += (x[p * c + ch] - mean[ch]) * (x[p * c + ch] - mean[ch]);
}

/* dst[ch] = (sum over the m images' partial sums, in order) / N */
static void FN(bn_reduce)(const FN(layer) *L, int64_t m, int64_t N, REAL *dst)
{
    for (int64_t ch = 0; ch < L->s.c; ch++) {
        REAL sum = 0;
        for (int64_t i = 0; i < m; i++)
            sum += L->part[i * L->CP + ch];
        dst[ch] = sum / (REAL)N;
    }
}

/* out[t] = act(gamma (x[t] - mean) istd + beta) for each of the P positions of image i */
static void FN(bn_apply)(FN(net) *net, FN(layer) *L, int64_t i, int thread, REAL *out)
{
    const REAL *restrict x = L->in + i * L->ins, *restrict mean = L->mean, *restrict istd = L->istd;
    const REAL *restrict gamma = L->W, *restrict beta = L->b;
    int64_t c = L->s.c;
    for (int64_t p = 0; p < L->s.P; p++) {     /* channels-last: straight into the output */
        const REAL *restrict xp = x + p * c;
        REAL *restrict row = L->out_chw ? net->sc[thread].row : out + p * c;
        for (int64_t ch = 0; ch < c; ch++) {
            REAL xhat = (xp[ch] - mean[ch]) * istd[ch];
            row[ch] = xhat * gamma[ch] + beta[ch];
        }
        if (L->out_chw) {
            FN(activate)(row, c, L->s.act);
            FN(emit)(L, out, p, row);
        }
    }
    if (!L->out_chw)
        FN(activate)(out, L->s.P * c, L->s.act);
}

/* the batch norm's training statistics of the m images (or rows): mean, var, istd, and the
 * running averages updated */
static void FN(bn_statistics)(FN(net) *net, FN(layer) *L)
{
    int64_t m = net->m, c = L->s.c;
    if (L->s.kind == LK_BN) {
        int64_t N = m * L->s.P;
        net->phase = 0;
        lk_run(net->team, FN(task_bn_sums), net, m);
        FN(bn_reduce)(L, m, N, L->mean);
        net->phase = 1;
        lk_run(net->team, FN(task_bn_sums), net, m);
        FN(bn_reduce)(L, m, N, L->var);
    } else {                        /* rows (m, n), stride ins: sums down the columns */
        REAL *sum = L->part;
        memset(sum, 0, (size_t)L->CP * sizeof(REAL));
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < c; j++)
                sum[j] += L->in[i * L->ins + j];
        for (int64_t j = 0; j < c; j++)
            L->mean[j] = sum[j] / (REAL)m;
        memset(sum, 0, (size_t)L->CP * sizeof(REAL));
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < c; j++) {
                REAL d = L->in[i * L->ins + j] - L->mean[j];
                sum[j] += d * d;
            }
        for (int64_t j = 0; j < c; j++)
            L->var[j] = sum[j] / (REAL)m;
    }
    for (int64_t ch = 0; ch < c; ch++)
        L->istd[ch] = 1 / SCALAR_SQRT(L->var[ch] + (REAL)L->eps);
    FN(bn_running)(L, L->s.kind == LK_BN ? m * L->s.P : m);
}

/* the batch norm of rows' forward pass over the m rows, into the next layer's input */
static void FN(bn_rows_forward)(FN(net) *net, FN(layer) *L)
{
    const FN(layer) *next = L + 1;
    int64_t n = L->s.c;
    for (int64_t i = 0; i < net->m; i++) {
        const REAL *x = L->in + i * L->ins;
        REAL *out = next->in + i * next->ins;
        for (int64_t j = 0; j < n; j++) {
            REAL xhat = (x[j] - L->mean[j]) * L->istd[j];
            out[j] = xhat * L->W[j] + L->b[j];
        }
        FN(activate)(out, n, L->s.act);
    }
}

/* task: group g's share of dbeta = sum d and dgamma = sum d xhat, into part[g] (2 CP), d =
 * dA (.) act'(A) read from the next layer's input and din (maps: position by position; rows:
 * P = 1); d is kept in din (the layer's dx, which phase 2 writes over) when there is one */
static void FN(task_bn_back_sums)(void *ctx, int64_t g, int thread)
{
    FN(net) *net = ctx;
    FN(layer) *L = net->layer + net->cur;
    const FN(layer) *next = L + 1;
    int64_t i0 = g * net->m / net->groups, i1 = (g + 1) * net->m / net->groups, c = L->s.c;
    int rows = L->s.kind == LK_BN_ROWS;
    int64_t P = rows ? 1 : L->s.P;
    REAL *restrict sb = L->part + 2 * g * L->CP, *restrict sg = sb + L->CP;
    const REAL *restrict mean = L->mean, *restrict istd = L->istd;
    REAL *tmp = net->sc[thread].row, *own = tmp + 2 * L->CP;
    memset(sb, 0, (size_t)(2 * L->CP) * sizeof(REAL));
    for (int64_t i = i0; i < i1; i++) {
        const REAL *dA = next->din + i * next->ins, *A = next->in + i * next->ins;
        for (int64_t p = 0; p < P; p++) {
            const REAL *restrict x = L->in + i * L->ins + p * c;
            REAL *restrict d = L->din ? L->din + i * L->ins + p * c : own;
            FN(delta_row)(rows ? dA : FN(row_at)(L, dA, p, tmp), rows ? A : FN(row_at)(L, A, p, tmp + L->CP), c,
                          L->s.act, d);
            for (int64_t ch = 0; ch < c; ch++) {
                REAL xhat = (x[ch] - mean[ch]) * istd[ch];
                sb[ch] += d[ch];
                sg[ch] += d[ch] * xhat;
            }
        }
    }
}

/* task: group g's dx = (N d - dbeta - xhat dgamma) coef, coef = gamma istd / N, d read from din */
static void FN(task_bn_back_dx)(void *ctx, int64_t g, int thread)
{
    FN(net) *net = ctx;
    (void)thread;
    FN(layer) *L = net->layer + net->cur;
    int64_t i0 = g * net->m / net->groups, i1 = (g + 1) * net->m / net->groups, c = L->s.c;
    int64_t P = L->s.kind == LK_BN ? L->s.P : 1, stride = L->s.kind == LK_BN ? c : 0;
    REAL N = (REAL)(net->m * P);
    const REAL *restrict mean = L->mean, *restrict istd = L->istd, *restrict dbeta = L->dbeta;
    const REAL *restrict dgamma = L->dgamma, *restrict coef = L->coef;
    for (int64_t i = i0; i < i1; i++)
        for (int64_t p = 0; p < P; p++) {
            const REAL *restrict x = L->in + i * L->ins + p * stride;
            REAL *restrict dx = L->din + i * L->ins + p * stride;
            for (int64_t ch = 0; ch < c; ch++) {
                REAL xhat = (x[ch] - mean[ch]) * istd[ch];
                dx[ch] = (N * dx[ch] - dbeta[ch] - xhat * dgamma[ch]) * coef[ch];
            }
        }
}

/* the batch norm's backward pass over the mini-batch and the step of gamma and beta (after dx,
 * which reads the old gamma; gamma and beta are outside the L2 term) */
static void FN(bn_backward)(FN(net) *net, FN(layer) *L)
{
    int64_t c = L->s.c, P = L->s.kind == LK_BN ? L->s.P : 1;
    lk_run(net->team, FN(task_bn_back_sums), net, net->groups);
    for (int64_t ch = 0; ch < c; ch++) {
        REAL sb = 0, sg = 0;
        for (int64_t g = 0; g < net->groups; g++) {
            sb += L->part[2 * g * L->CP + ch];
            sg += L->part[(2 * g + 1) * L->CP + ch];
        }
        L->dbeta[ch] = sb, L->dgamma[ch] = sg;
        L->coef[ch] = L->W[ch] * L->istd[ch] / (REAL)(net->m * P);
    }
    if (L->din)
        lk_run(net->team, FN(task_bn_back_dx), net, net->groups);
    for (int64_t ch = 0; ch < c; ch++) {
        FN(update)(L->W + ch, L->vW ? L->vW + ch : NULL, L->sW ? L->sW + ch : NULL, L->dgamma[ch], &net->rule);
        FN(update)(L->b + ch, L->vb ? L->vb + ch : NULL, L->sb ? L->sb + ch : NULL, L->dbeta[ch], &net->rule);
    }
}

/* ---- the image layers, layer by layer (when some are not conv-pool layers) ----------------- */
/* task: image i through layer net->cur (a conv, conv-pool, pool, or batch norm with its
 * statistics known) */
static void FN(task_image_forward)(void *ctx, int64_t i, int thread)
{
    FN(net) *net = ctx;
    FN(layer) *L = net->layer + net->cur, *next = L + 1;
    REAL *out = next->in + i * next->ins;
    switch (L->s.kind) {
    case LK_CONV:
        FN(conv_forward)(net, L, i, thread, next->in, next->ins);
        break;
    case LK_CONV2:
        FN(conv2_forward)(net, L, i, thread, out);
        break;
    case LK_BN:
        FN(bn_apply)(net, L, i, thread, out);
        break;
    default:
        FN(pool_forward)(net, L, i, thread, out);
        break;
    }
}

static void FN(image_forward)(FN(net) *net)
{
    for (int64_t l = 0; l < net->n_img; l++) {
        FN(layer) *L = net->layer + l;
        net->cur = l;
        if (L->s.kind == LK_BN && net->training)
            FN(bn_statistics)(net, L);
        lk_run(net->team, FN(task_image_forward), net, net->m);
    }
}

static void FN(conv_back_image)(FN(net) *net, FN(layer) *L, int64_t i, int thread, int64_t group);

/* task: group g's images through the backward pass of layer net->cur (not a batch norm) */
static void FN(task_image_backward)(void *ctx, int64_t g, int thread)
{
    FN(net) *net = ctx;
    FN(layer) *L = net->layer + net->cur;
    int64_t i0 = g * net->m / net->groups, i1 = (g + 1) * net->m / net->groups;
    if (FN(is_conv)(L->s.kind)) {
        memset(L->dW + g * L->s.f * L->KP, 0, (size_t)(L->s.f * L->KP) * sizeof(REAL));
        memset(L->db + g * L->FP, 0, (size_t)L->FP * sizeof(REAL));
    }
    if (L->s.kind == LK_CONV && L->din)      /* (conv_back_image adds into it) */
        memset(L->din + i0 * L->ins, 0, (size_t)((i1 - i0) * L->ins) * sizeof(REAL));
    for (int64_t i = i0; i < i1; i++) {
        if (L->s.kind == LK_CONV)
            FN(conv_back_image)(net, L, i, thread, g);
        else if (L->s.kind == LK_CONV2)
            FN(conv2_back_image)(net, L, i, thread, g);
        else if (L->din)
            FN(pool_back_image)(L, i);
    }
}

static void FN(image_backward)(FN(net) *net)
{
    for (int64_t l = net->n_img - 1; l >= 0; l--) {
        FN(layer) *L = net->layer + l;
        net->cur = l;
        if (L->s.kind == LK_BN)
            FN(bn_backward)(net, L);
        else
            lk_run(net->team, FN(task_image_backward), net, net->groups);
    }
}

/* One image's share of the conv-pool layer's gradient, added to group `group`'s dW and db.
 * Only each pooling block's winner has a nonzero gradient, g = dA (.) act'(A) there, so
 * dW[f] += sum_t g[f, t] col[winner(f, t)] (a chunk of CHUNK vectors of the patch row at a
 * time: this image's patches' chunk and dW's then sit in the L1 cache) and, unless this is
 * the first layer, dx as above (into din, which the caller zeroed). */
static void FN(conv_back_image)(FN(net) *net, FN(layer) *L, int64_t i, int thread, int64_t group)
{
    const lk_shape *s = &L->s;
    const FN(layer) *next = L + 1;
    const REAL *A = next->in + i * next->ins, *dA = next->din + i * next->ins;
    const REAL *pos = L->pos + i * s->T * L->FP;
    FN(scratch) *sc = net->sc + thread;
    REAL *col = sc->dcols;
    FN(im2col)(s, L->KP, L->in + i * L->ins, col);
    REAL *g = sc->g, *restrict d = sc->dz, *dW = L->dW + group * s->f * L->KP;   /* (g and win: */
    REAL *db = L->db + group * L->FP;                   /* conv_dx_image reads them through sc) */
    int64_t *win = sc->win, T = s->T, F = s->f, FP = L->FP, nv = L->KP / LANES;
    int64_t tstep = L->out_chw ? 1 : F, fstep = L->out_chw ? T : 1;     /* (t, f) at t tstep + f fstep */
    REAL *restrict sum = sc->row;
    FN(delta_row)(dA, A, F * T, s->act, d);         /* in the output's layout */
    for (int64_t f = 0; f < F; f++)
        sum[f] = 0;
    for (int64_t t = 0; t < T; t++)     /* (the F sums side by side: no chain of additions) */
        for (int64_t f = 0; f < F; f++)
            sum[f] += d[t * tstep + f * fstep];
    for (int64_t f = 0; f < F; f++) {
        db[f] += sum[f];
        for (int64_t t = 0; t < T; t++) {
            g[f * T + t] = d[t * tstep + f * fstep];
            win[f * T + t] = (int64_t)pos[t * FP + f];
        }
    }
    for (int64_t v0 = 0; v0 < nv; v0 += CHUNK)
        for (int64_t f = 0; f < s->f; f++)
            FN(gather_axpy)(nv - v0 < CHUNK ? nv - v0 : CHUNK, dW + f * L->KP + v0 * LANES, col + v0 * LANES,
                            L->KP, win + f * T, g + f * T, T);
    if (L->din)
        FN(conv_dx_image)(sc, L, L->din + i * L->ins);
}

/* the images of group g, m images in `groups` groups: [g m / groups, (g + 1) m / groups) */
static inline int64_t FN(group_start)(int64_t g, int64_t m, int64_t groups)
{
    return g * m / groups;
}

/* task: group g's images through every conv layer's backward pass, top down (an image's
 * dx from one conv layer is all the layer below needs of it) */
static void FN(task_conv_backward)(void *ctx, int64_t g, int thread)
{
    FN(net) *net = ctx;
    int64_t i0 = FN(group_start)(g, net->m, net->groups), i1 = FN(group_start)(g + 1, net->m, net->groups);
    for (int64_t l = net->n_img - 1; l >= 0; l--) {
        FN(layer) *L = net->layer + l;
        memset(L->dW + g * L->s.f * L->KP, 0, (size_t)(L->s.f * L->KP) * sizeof(REAL));
        memset(L->db + g * L->FP, 0, (size_t)L->FP * sizeof(REAL));
        if (L->din)
            memset(L->din + i0 * L->ins, 0, (size_t)((i1 - i0) * L->ins) * sizeof(REAL));
        for (int64_t i = i0; i < i1; i++)
            FN(conv_back_image)(net, L, i, thread, g);
    }
}

/* task: the step of one conv layer's weights k0..k0+CONV_COLUMNS of every filter (and,
 * for the first such task, its biases), the gradient the sum of the groups' in their order
 * (so that it does not depend on which thread did which group).  Split by k, each task
 * writes whole rows of WT, and threads never write the same cache line.  Tasks are
 * numbered through the conv and conv-pool layers in order (FN(conv_tasks) of them). */
#define CONV_COLUMNS 64
static inline int64_t FN(conv_span)(const FN(layer) *L)
{
    return FN(is_conv)(L->s.kind) ? round_up(L->s.K, CONV_COLUMNS) : 0;
}

static int64_t FN(conv_tasks)(const FN(net) *net)
{
    int64_t tasks = 0;
    for (int64_t l = 0; l < net->n_img; l++)
        tasks += FN(conv_span)(net->layer + l) / CONV_COLUMNS;
    return tasks;
}

static void FN(task_conv_update)(void *ctx, int64_t task, int thread)
{
    FN(net) *net = ctx;
    (void)thread;
    int64_t l = 0, k0 = task * CONV_COLUMNS;
    while (k0 >= FN(conv_span)(net->layer + l)) {
        k0 -= FN(conv_span)(net->layer + l);
        l++;
    }
    FN(layer) *L = net->layer + l;
    int64_t k1 = k0 + CONV_COLUMNS < L->s.K ? k0 + CONV_COLUMNS : L->s.K, stride = L->s.f * L->KP;
    for (int64_t f = 0; f < L->s.f; f++)
        for (int64_t k = k0; k < k1; k++) {
            int64_t at = f * L->KP + k;
            REAL g = L->dW[at];
            for (int64_t grp = 1; grp < net->groups; grp++)
                g += L->dW[grp * stride + at];
            FN(update)(L->W + at, L->vW ? L->vW + at : NULL, L->sW ? L->sW + at : NULL, g + net->rule.decay * L->W[at],
                       &net->rule);
            L->WT[k * L->FP + f] = L->W[at];
        }
    for (int64_t f = 0; k0 == 0 && (L->s.kind == LK_CONV || L->s.bias) && f < L->s.f; f++) {
        REAL db = L->db[f];
        for (int64_t grp = 1; grp < net->groups; grp++)
            db += L->db[grp * L->FP + f];
        FN(update)(L->b + f, L->vb ? L->vb + f : NULL, L->sb ? L->sb + f : NULL, db, &net->rule);
    }
}

/* ---- one mini-batch ------------------------------------------------------------------------- */
/* the first layer's input rows X[idx[i]] (n_in numbers each, images channel-first) */
static void FN(gather)(FN(layer) *L, const REAL *X, const int64_t *idx, int64_t m)
{
    const lk_shape *s = &L->s;
    for (int64_t i = 0; i < m; i++) {
        const REAL *row = X + (idx ? idx[i] : i) * s->n_in;
        REAL *dst = L->in + i * L->ins;
        if (!lk_image_kind(s->kind) || s->c == 1) {
            memcpy(dst, row, (size_t)s->n_in * sizeof(REAL));
            continue;
        }
        for (int64_t ch = 0; ch < s->c; ch++)           /* (c, h, w) -> (h, w, c) */
            for (int64_t yx = 0; yx < s->h * s->w; yx++)
                dst[yx * s->c + ch] = row[ch * s->h * s->w + yx];
    }
}

/* task: image i through the conv layers' forward passes, then the first fully connected
 * layer's dropout mask on its row */
static void FN(task_conv_forward)(void *ctx, int64_t i, int thread)
{
    FN(net) *net = ctx;
    for (int64_t l = 0; l < net->n_img; l++) {
        FN(layer) *next = net->layer + l + 1;
        FN(conv_forward)(net, net->layer + l, i, thread, next->in, next->ins);
    }
    if (net->mask[net->n_img])
        FN(mask_rows)(net->layer + net->n_img, i, i + 1, net->mask[net->n_img]);
}

/* units of a fully connected layer per task of its forward pass (even), and vectors of
 * its input per task of its backward pass */
#define FC_UNITS 64
#define FC_VECTORS 4

/* task: units task*FC_UNITS.. of the fully connected layer net->cur */
static void FN(task_fc_forward)(void *ctx, int64_t task, int thread)
{
    FN(net) *net = ctx;
    (void)thread;
    FN(layer) *L = net->layer + net->cur;
    int last = net->cur == net->L - 1;
    int64_t j0 = task * FC_UNITS, j1 = j0 + FC_UNITS < L->s.n_out ? j0 + FC_UNITS : L->s.n_out;
    FN(fc_forward)(L, net->m, net->mask[net->cur] != NULL, j0, j1, last ? net->out : L[1].in,
                   last ? L->s.n_out : L[1].ins);
}

/* task: input vectors task*FC_VECTORS.. of the fully connected layer net->cur, backward */
static void FN(task_fc_backward)(void *ctx, int64_t task, int thread)
{
    FN(net) *net = ctx;
    (void)thread;
    FN(layer) *L = net->layer + net->cur;
    int64_t v0 = task * FC_VECTORS, nv = L->ins / LANES, v1 = v0 + FC_VECTORS < nv ? v0 + FC_VECTORS : nv;
    FN(fc_backward)(net, L, net->m, net->mask[net->cur], net->cur > 0, v0, v1);
}

/* the forward pass of the m gathered samples (masks set in net->mask), phase by phase: the
 * image layers (conv-pool layers only: each image through all of them in one task; else
 * layer by layer), then the row layers one by one */
static void FN(forward_pass)(FN(net) *net)
{
    if (net->fused)
        lk_run(net->team, FN(task_conv_forward), net, net->m);
    else
        FN(image_forward)(net);
    for (int64_t l = net->n_img; l < net->L; l++) {
        FN(layer) *L = net->layer + l;
        if ((l > net->n_img || !net->fused) && net->mask[l])
            FN(mask_rows)(L, 0, net->m, net->mask[l]);
        net->cur = l;
        if (L->s.kind == LK_BN_ROWS) {
            if (net->training)
                FN(bn_statistics)(net, L);
            FN(bn_rows_forward)(net, L);
            continue;
        }
        lk_run(net->team, FN(task_fc_forward), net, (L->s.n_out + FC_UNITS - 1) / FC_UNITS);
    }
}

/* one SGD step on the m samples X[idx], labels[idx]; advances *masks past this batch's */
static double FN(step)(FN(net) *net, const REAL *X, const int64_t *labels, const int64_t *idx, int64_t m,
                       const uint8_t **masks)
{
    net->m = m;
    /* the backward pass's groups of images, each with its own gradient buffers, summed in order
     * by the step: two, or one per 8 images up to LK_GROUPS (each group costs a pass over dW:
     * at the book's mini-batch of 10, four groups of 2-3 images spent 13% of the step on it);
     * a function of m alone, so that the weights never depend on the threads */
    int64_t per8 = m / 8 < 2 ? 2 : m / 8;
    net->groups = m < 2 ? m : per8 < LK_GROUPS ? per8 : LK_GROUPS;
    for (int64_t l = 0; l < net->L; l++) {
        FN(layer) *L = net->layer + l;
        net->mask[l] = L->s.dropout ? *masks : NULL;
        *masks += L->s.dropout ? m * L->s.n_in : 0;
    }
    for (int64_t i = 0; i < m; i++)
        net->y[i] = labels[idx[i]];
    FN(gather)(net->layer, X, idx, m);
    FN(forward_pass)(net);
    const FN(layer) *top = net->layer + net->L - 1;
    double cost = FN(softmax_delta)(net->out, m, top->s.n_out, net->y, net->dz);
    for (int64_t l = net->L - 1; l >= net->n_img; l--) {
        FN(layer) *L = net->layer + l, *next = L + 1;
        net->cur = l;
        if (L->s.kind == LK_BN_ROWS) {
            FN(bn_backward)(net, L);
            continue;
        }
        if (l < net->L - 1)
            FN(delta_from)(next->in, next->din, next->ins, m, L->s.n_out, L->s.act, net->dz);
        FN(fc_backward_prep)(net, L, m, net->dz);
        net->cur = l;
        lk_run(net->team, FN(task_fc_backward), net, (L->ins / LANES + FC_VECTORS - 1) / FC_VECTORS);
    }
    if (net->n_img) {
        if (net->fused)
            lk_run(net->team, FN(task_conv_backward), net, net->groups);
        else
            FN(image_backward)(net);
        lk_run(net->team, FN(task_conv_update), net, FN(conv_tasks)(net));
    }
    return cost;
}

/* ---- exported ------------------------------------------------------------------------------- */
/* SGD steps on the mini-batches order[0:mb], order[mb:2mb], ... (the last may be partial),
 * as core/layernet.py's LayerNetwork.step (or the Momentum optimizer's step with vel, or
 * Adam's with vel and sq).
 *   spec (count, 16): the layers;  params: w0, b0, w1, b1, ... (updated in place; NULL where a
 *   layer has no such parameter: a pool's w and b, a conv's b without bias)
 *   vel: velocities like params (Adam: its m), or NULL for plain SGD;  sq: Adam's v like
 *   params, or NULL;  bufs: running_mean0, running_var0, ... of the batch norms (updated in
 *   place; NULL for other layers);  hyper: momentum0, eps0, ... of the batch norms (count, 2);
 *   adam: NULL, or beta1, beta2, eps and the steps Adam took before this
 *   call (t counts on from it, a step a mini-batch);  X (n, n_in0);  labels (n,)
 *   masks: the dropout masks (0/1 bytes), batch after batch, layer after layer, (m, n_in)
 *   etas: the learning rate of each mini-batch (ceil(n_order / mb) of them: a schedule may
 *   change it every step);  decay = lmbda / num_training_batches;  threads: how many threads
 *   share the work (the results do not depend on it);  cost_out: the summed mean costs, or NULL
 * Returns 0, -1 (out of memory) or -2 (a network this kernel does not run). */
int64_t EXPORT(train)(const int64_t *spec, int64_t count, REAL **params, REAL **vel, REAL **sq, REAL **bufs,
                      const double *hyper, const double *adam, const REAL *X, const int64_t *labels, const int64_t *order,
                      int64_t n_order, int64_t mb, const uint8_t *masks, const double *etas, REAL decay,
                      REAL mu, int64_t threads, double *cost_out)
{
    FN(net) *net = malloc(sizeof *net);
    if (!net)
        return -1;
    int64_t status = FN(setup)(net, spec, count, mb, params, vel, adam ? sq : NULL, bufs, hyper, 1, threads);
    lk_worker_arg args[LK_MAX_THREADS];
    net->team = status == 0 ? lk_team_start((int)net->threads, args) : NULL;
    FN(rule) *r = &net->rule;
    r->decay = decay, r->mu = mu, r->adam = adam != NULL;
    double t = adam ? adam[3] : 0;
    if (adam)
        r->b1 = (REAL)adam[0], r->b2 = (REAL)adam[1], r->eps = (REAL)adam[2];
    double cost = 0;
    for (int64_t start = 0; status == 0 && start < n_order; start += mb) {
        int64_t m = n_order - start < mb ? n_order - start : mb;
        r->eta = (REAL)etas[start / mb];
        if (adam) {                 /* the bias corrections of step t, in double as optimizers.Adam */
            t += 1;
            r->step = (REAL)(etas[start / mb] / (1 - pow(adam[0], t)));
            r->root = (REAL)sqrt(1 - pow(adam[1], t));
        }
        cost += FN(step)(net, X, labels, order + start, m, &masks) / (double)m;
    }
    lk_team_stop(net->team);
    if (status == 0)
        for (int64_t l = 0; l < count; l++)
            FN(pack)(net->layer + l, 1);
    if (cost_out)
        *cost_out = cost;
    FN(release)(net);
    free(net);
    return status;
}

typedef struct {
    const int64_t *spec;
    int64_t count, rows, status;
    REAL **params, **bufs;
    const double *hyper;
    const REAL *X;
    REAL *out;
} FN(job);

/* one thread's share of the forward pass: its rows, 64 at a time */
static void *FN(forward_job)(void *arg)
{
    FN(job) *job = arg;
    FN(net) *net = malloc(sizeof *net);
    if (!net) {
        job->status = -1;
        return NULL;
    }
    const int64_t block = 64;
    job->status = FN(setup)(net, job->spec, job->count, block, job->params, NULL, NULL, job->bufs, job->hyper, 0, 1);
    const FN(layer) *first = net->layer, *top = net->layer + job->count - 1;
    for (int64_t r = 0; job->status == 0 && r < job->rows; r += block) {
        int64_t m = job->rows - r < block ? job->rows - r : block;
        FN(gather)(net->layer, job->X + r * first->s.n_in, NULL, m);
        net->m = m;
        FN(forward_pass)(net);
        memcpy(job->out + r * top->s.n_out, net->out, (size_t)(m * top->s.n_out) * sizeof(REAL));
    }
    FN(release)(net);
    free(net);
    return NULL;
}

/* out (n, n_out) = z^L for the n rows of X, in inference mode: params hold the weights as
 * inference uses them (a dropout layer's already times 1 - p_dropout), bufs and hyper the
 * batch norms' running statistics, momentum and eps (as train; only read).  `threads` threads
 * (at most 16) take contiguous shares of the rows.  Returns 0, -1 or -2 as train. */
int64_t EXPORT(forward)(const int64_t *spec, int64_t count, REAL **params, REAL **bufs, const double *hyper,
                        const REAL *X, int64_t n, REAL *out, int64_t threads)
{
    lk_shape shapes[LK_MAX_LAYERS];
    if (lk_shapes(spec, count, shapes))
        return -2;
    threads = threads < 1 ? 1 : threads > 16 ? 16 : threads;
    threads = n < 128 * threads ? (n + 127) / 128 : threads;
    threads = threads < 1 ? 1 : threads;
    FN(job) jobs[16];
    pthread_t ids[16];
    int64_t per = (n + threads - 1) / threads, status = 0;
    for (int64_t t = 0; t < threads; t++) {
        int64_t r0 = t * per < n ? t * per : n, r1 = r0 + per < n ? r0 + per : n;
        jobs[t] = (FN(job)){spec, count, r1 - r0, 0, params, bufs, hyper, X + r0 * shapes[0].n_in,
                            out + r0 * shapes[count - 1].n_out};
    }
    int64_t started = 1;
    for (int64_t t = 1; t < threads; t++, started++)
        if (pthread_create(ids + t, NULL, FN(forward_job), jobs + t))
            break;
    FN(forward_job)(jobs);
    for (int64_t t = started; t < threads; t++)   /* a thread that did not start: run it here */
        FN(forward_job)(jobs + t);
    for (int64_t t = 1; t < started; t++)
        pthread_join(ids[t], NULL);
    for (int64_t t = 0; t < threads; t++)
        status = status ? status : jobs[t].status;
    return status;
}

#undef REAL
#undef IREAL
#undef FN
#undef EXPORT
#undef SCALAR_EXP
#undef SCALAR_LOG
#undef SCALAR_TANH
#undef SCALAR_SQRT
#undef EXP_CAP
#undef HAVE_VEXP
#undef VEC
#undef IVEC
#undef LANES
#undef LOADV
#undef STOREV
#undef SPLAT
#undef BCAST
#undef SELECT
#undef CHUNK
#undef GATHER_CASE
#undef GEMM_CASE
#undef TILE_CASE
#undef CONV_CASE
#undef GEMM_MR
#undef DOT_CASE
#undef SWEEP_CASE
#undef CONV_COLUMNS
#undef FC_UNITS
#undef FC_VECTORS
