/* glassnet's optional compiled kernel for chapter 6's layer networks: the SGD steps and the
 * forward pass of a chain of image layers (ConvPool, and core/modern.py's Conv, BatchNorm of
 * maps, MaxPool, AvgPool, GlobalAvgPool) -> row layers (FullyConnected, BatchNorm of rows) ->
 * Softmax, in C, for float32 and float64.  Loaded with ctypes by engines/layers_fast.py;
 * core/layernet.py and core/modern.py (NumPy) are the reference it is tested against, and
 * every equation here is one of core/layers.py's:
 *
 *   conv-pool   Z = maxpool(x * W) + b,  A = act(Z)   (valid cross-correlation, stride 1)
 *   conv        Z = pad(x) *_stride W + b,  A = act(Z)    (dW = dZ^T col, dx = col2im(dZ W))
 *   batch norm  A = act(gamma (x - mean) / sqrt(var + eps) + beta), per channel (see the
 *               impl's batch-norm section for training, the running averages and backward)
 *   pools       max, mean over blocks; global mean per channel
 *   fully conn. Z = (x (.) mask) W^T + b,  A = act(Z)  (mask: dropout, training only)
 *   softmax     a^L = softmax(z^L),  delta^L = (a^L - onehot(y)) / m      (BP1)
 *   backward    delta^l = (delta^{l+1} W^{l+1}) (.) mask (.) act'(z^l)     (BP2)
 *               dC/dW = delta^T x + (lmbda / n) W,  dC/db = sum of delta  (BP3, BP4)
 *   step        p -= eta dC/dp,   or with momentum  v = mu v - eta dC/dp; p += v,
 *               or Adam's (optimizers.Adam): m, v moments, p -= step m / (sqrt(v) / root + eps)
 *
 * What makes it fast at the book's mini-batch of 10, where NumPy spends most of a step on
 * the microsecond each of its ~60 calls costs:
 *   - one call runs thousands of mini-batches;
 *   - convolution is a blocked matrix product of the patches (kh*kw*c inputs per output
 *     position, channels-last) times the filters, its accumulators in vector registers,
 *     vectorised over filters; a stride-1 unpadded conv reads its patches where they lie in
 *     the image, others copy them out first (im2col, kh runs of kw*c numbers), and the
 *     backward pass makes each image's im2col rows again in a thread's scratch;
 *   - max-pooling keeps the winner's position, so the backward pass touches only the
 *     winners: dW and dx cost a quarter of a dense backward convolution (2x2 pools);
 *   - a fully connected layer's backward pass is one sweep over W: for each column block of
 *     W, dx = delta W (with the old weights) and the update W -= eta (delta^T x + decay W)
 *     are done while the block is in the cache, the samples' x and dx in registers (for
 *     larger mini-batches: two blocked products, the second stepping W as it goes);
 *   - every row is padded to whole vectors (zeros that stay zero);
 *   - a step's phases (the conv layers image by image, the fully connected layers' units
 *     and weight columns) are shared by a team of threads (lk_run below), with results
 *     that do not depend on how many.
 *
 * Layers are described by 16 int64 each (see lk_shape); parameters are the network's own
 * arrays, packed into the kernel's layouts at the start of a call and written back at its end.
 */
#ifndef GLASSNET_NO_PYTHON
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
#define VBYTES 64
#define NREGS 32
#elif defined(__AVX__)
#define VBYTES 32
#define NREGS 16
#else
#define VBYTES 16
#define NREGS 16
#endif

/* rows of x held in registers by the fully connected kernels (two accumulators each) */
#define IBMAX (NREGS >= 32 ? 10 : 5)
/* vectors of accumulators in one tile of the convolution's matrix product */
#define ACC_BUDGET (NREGS >= 32 ? 24 : 12)
#define MRMAX (NREGS >= 32 ? 16 : 8)
#define INLINE static inline __attribute__((always_inline))

/* Layer kinds.  The book's: conv-pool (valid convolution, stride 1, then max-pooling, bias and
 * activation), fully connected, softmax.  core/modern.py's: conv (zero padding, a stride, bias
 * or not, activation), batch normalisation of feature maps (per channel) or of rows (per
 * feature), max-pool, avg-pool, global avg-pool.  Image kinds read channels-last images and
 * come first; row kinds (fully connected, batch norm of rows, softmax) read rows. */
enum {
    LK_CONV = 0, LK_FC = 1, LK_SOFTMAX = 2, LK_CONV2 = 3, LK_BN = 4, LK_BN_ROWS = 5,
    LK_MAXPOOL = 6, LK_AVGPOOL = 7, LK_GAP = 8, LK_KINDS = 9
};
enum { LK_LINEAR = 0, LK_SIGMOID = 1, LK_TANH = 2, LK_RELU = 3 };
enum { LK_FIELDS = 16, LK_MAX_LAYERS = 64, LK_GROUPS = 4 };

/* One layer's shape, from 16 int64: kind, act, dropout, n_in, n_out, f, c, h, w, kh, kw, ph,
 * pw, pad, stride, bias (zeros where a kind has no such number); the rest is derived by
 * lk_shapes.  For every image kind f is its output's channels and T its output's positions. */
typedef struct {
    int64_t kind, act, dropout, n_in, n_out;
    int64_t f, c, h, w, kh, kw, ph, pw, pad, stride, bias;
    int64_t oh, ow, P, K, T, poh, pow;      /* conv output, positions, patch size, pooled */
} lk_shape;

static int64_t round_up(int64_t n, int64_t to)
{
    return (n + to - 1) / to * to;
}

/* whether layers of this kind read channels-last images (else rows) */
static int lk_image_kind(int64_t kind)
{
    return kind == LK_CONV || kind == LK_CONV2 || kind == LK_BN || kind == LK_MAXPOOL || kind == LK_AVGPOOL
           || kind == LK_GAP;
}

/* the derived numbers of one layer of an image kind; 0, or -2 if they do not fit */
static int lk_image_shape(lk_shape *d)
{
    if (d->dropout || d->c < 1 || d->h < 1 || d->w < 1 || d->n_in != d->c * d->h * d->w)
        return -2;
    d->P = d->h * d->w;
    switch (d->kind) {
    case LK_CONV:                   /* valid convolution, then ph x pw max-pooling */
        if (d->f < 1 || d->kh < 1 || d->kw < 1 || d->ph < 1 || d->pw < 1 || d->kh > d->h || d->kw > d->w)
            return -2;
        d->oh = d->h - d->kh + 1, d->ow = d->w - d->kw + 1;
        d->P = d->oh * d->ow, d->K = d->c * d->kh * d->kw;
        d->poh = d->oh / d->ph, d->pow = d->ow / d->pw;
        break;
    case LK_CONV2:                  /* oh = (h + 2 pad - kh) / stride + 1, likewise ow */
        if (d->f < 1 || d->kh < 1 || d->kw < 1 || d->pad < 0 || d->stride < 1 || d->pad >= d->kh
            || d->pad >= d->kw || d->h + 2 * d->pad < d->kh || d->w + 2 * d->pad < d->kw)
            return -2;
        d->oh = (d->h + 2 * d->pad - d->kh) / d->stride + 1, d->ow = (d->w + 2 * d->pad - d->kw) / d->stride + 1;
        d->P = d->oh * d->ow, d->K = d->c * d->kh * d->kw;
        d->poh = d->oh, d->pow = d->ow;
        break;
    case LK_BN:                     /* the same shape out */
        d->f = d->c, d->poh = d->h, d->pow = d->w;
        break;
    case LK_MAXPOOL:
    case LK_AVGPOOL:                /* (h // ph, w // pw), the border that fills no block dropped */
        if (d->ph < 1 || d->pw < 1)
            return -2;
        d->f = d->c, d->poh = d->h / d->ph, d->pow = d->w / d->pw;
        break;
    default:                        /* LK_GAP: one number per channel */
        d->f = d->c, d->poh = d->pow = 1;
        break;
    }
    d->T = d->poh * d->pow;
    return d->T >= 1 && d->n_out == d->f * d->T && d->P < (1 << 24) ? 0 : -2;
}

/* The shapes of `count` layers from their 16-number descriptions; 0, or -2 if one is not
 * a chain this kernel runs (the Python side checks first; this is a second line). */
static int lk_shapes(const int64_t *spec, int64_t count, lk_shape *out)
{
    if (count < 1 || count > LK_MAX_LAYERS)
        return -2;
    for (int64_t l = 0; l < count; l++) {
        const int64_t *s = spec + l * LK_FIELDS;
        lk_shape *d = out + l;
        memset(d, 0, sizeof *d);
        d->kind = s[0], d->act = s[1], d->dropout = s[2], d->n_in = s[3], d->n_out = s[4];
        d->f = s[5], d->c = s[6], d->h = s[7], d->w = s[8], d->kh = s[9], d->kw = s[10];
        d->ph = s[11], d->pw = s[12], d->pad = s[13], d->stride = s[14], d->bias = s[15];
        if (d->kind < 0 || d->kind >= LK_KINDS || d->act < 0 || d->act > 3 || d->n_in < 1 || d->n_out < 1)
            return -2;
        if ((d->kind == LK_SOFTMAX) != (l == count - 1))
            return -2;
        if (lk_image_kind(d->kind)) {
            if ((l > 0 && !lk_image_kind(out[l - 1].kind)) || lk_image_shape(d))
                return -2;
        } else if (d->kind == LK_BN_ROWS) {     /* per feature of rows: c = n features */
            if (d->dropout || d->c != d->n_in || d->n_out != d->n_in)
                return -2;
        }
        if (l > 0 && out[l - 1].n_out != d->n_in)
            return -2;
    }
    return 0;
}

/* ---- a team of threads ------------------------------------------------------------------- */
/* A step is a sequence of phases; a phase is `tasks` independent tasks (images, column blocks
 * of a weight matrix, ...).  The calling thread and the team's workers claim tasks one at a
 * time until none is left, so a worker that the operating system has not scheduled (the
 * machine may be busy) never holds the phase up: the caller does the work itself.  Which
 * thread runs a task never changes its result, so the results do not depend on the threads.
 *
 * A claim is a compare-and-swap on one word holding the phase's generation (high 32 bits)
 * and its next task (low 32): a worker still busy with an old phase can never claim a task
 * of a newer one.  Idle workers spin briefly (yielding now and then: on a busy machine the
 * caller may be waiting for the same core), then sleep on a condition variable. */
#include <stdatomic.h>
#include <sched.h>

enum { LK_MAX_THREADS = 16, LK_SPIN = 1000 };
typedef void (*lk_task_fn)(void *ctx, int64_t task, int thread);

typedef struct {
    lk_task_fn fn;
    void *ctx;
    int64_t tasks;
    atomic_llong done;
} lk_phase;

typedef struct {
    int n;                                  /* threads, the caller's included */
    pthread_t ids[LK_MAX_THREADS];
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_ullong word;                     /* generation << 32 | next task */
    atomic_int sleepers, quit;
    lk_phase phase[2];                      /* the phase of generation g is phase[g % 2] */
} lk_team;

typedef struct {
    lk_team *team;
    int thread;
} lk_worker_arg;

static inline void lk_pause(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

/* claim and run the tasks of generation gen until none is left */
static void lk_claim(lk_team *team, uint64_t gen, int thread)
{
    for (;;) {
        uint64_t w = atomic_load(&team->word);
        lk_phase *ph = &team->phase[gen & 1];
        if (w >> 32 != gen || (int64_t)(w & 0xffffffffu) >= ph->tasks)
            return;
        if (!atomic_compare_exchange_weak(&team->word, &w, w + 1))
            continue;
        ph->fn(ph->ctx, (int64_t)(w & 0xffffffffu), thread);   /* (the phase cannot move on */
        atomic_fetch_add(&ph->done, 1);                          /*  before this task is done) */
    }
}

static void *lk_worker(void *arg)
{
    lk_team *team = ((lk_worker_arg *)arg)->team;
    int thread = ((lk_worker_arg *)arg)->thread;
    uint64_t seen = 0;
    for (;;) {
        uint64_t gen = atomic_load(&team->word) >> 32;
        for (int spin = 0; gen == seen && spin < LK_SPIN && !atomic_load(&team->quit); spin++) {
            if (spin % 64 == 63)            /* (the caller may be waiting for this core) */
                sched_yield();
            else
                lk_pause();
            gen = atomic_load(&team->word) >> 32;
        }
        if (gen == seen && !atomic_load(&team->quit)) {
            pthread_mutex_lock(&team->lock);
            atomic_fetch_add(&team->sleepers, 1);
            while ((gen = atomic_load(&team->word) >> 32) == seen && !atomic_load(&team->quit))
                pthread_cond_wait(&team->wake, &team->lock);
            atomic_fetch_sub(&team->sleepers, 1);
            pthread_mutex_unlock(&team->lock);
        }
        if (atomic_load(&team->quit))
            return NULL;
        seen = gen;
        lk_claim(team, gen, thread);
    }
}

/* Run fn(ctx, task, thread) for task = 0 .. tasks-1 on the team (or here alone, team NULL) */
static void lk_run(lk_team *team, lk_task_fn fn, void *ctx, int64_t tasks)
{
    if (!team || team->n < 2 || tasks < 2) {
        for (int64_t t = 0; t < tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    uint64_t gen = (atomic_load(&team->word) >> 32) + 1;
    lk_phase *ph = &team->phase[gen & 1];
    ph->fn = fn, ph->ctx = ctx, ph->tasks = tasks;
    atomic_store(&ph->done, 0);
    atomic_store(&team->word, gen << 32);
    if (atomic_load(&team->sleepers)) {
        pthread_mutex_lock(&team->lock);
        pthread_cond_broadcast(&team->wake);
        pthread_mutex_unlock(&team->lock);
    }
    lk_claim(team, gen, 0);
    for (int spin = 0; atomic_load(&ph->done) < tasks; spin++) {   /* a worker's last task */
        if (spin % 64 == 63 || spin >= LK_SPIN)
            sched_yield();
        else
            lk_pause();
    }
}

/* A team of n threads (n - 1 workers besides the caller), or NULL for one thread or when
 * threads cannot be made (then everything runs on the caller). */
static lk_team *lk_team_start(int n, lk_worker_arg *args)
{
    if (n < 2)
        return NULL;
    lk_team *team = calloc(1, sizeof *team);
    if (!team)
        return NULL;
    n = n > LK_MAX_THREADS ? LK_MAX_THREADS : n;
    pthread_mutex_init(&team->lock, NULL);
    pthread_cond_init(&team->wake, NULL);
    team->n = 1;
    for (int t = 1; t < n; t++) {
        args[t] = (lk_worker_arg){team, t};
        if (pthread_create(team->ids + t, NULL, lk_worker, args + t))
            break;
        team->n++;
    }
    return team;
}

static void lk_team_stop(lk_team *team)
{
    if (!team)
        return;
    pthread_mutex_lock(&team->lock);
    atomic_store(&team->quit, 1);
    pthread_cond_broadcast(&team->wake);
    pthread_mutex_unlock(&team->lock);
    for (int t = 1; t < team->n; t++)
        pthread_join(team->ids[t], NULL);
    pthread_mutex_destroy(&team->lock);
    pthread_cond_destroy(&team->wake);
    free(team);
}

/* ---- float helpers ---------------------------------------------------------------------- */
typedef float lk_vf __attribute__((vector_size(VBYTES), aligned(4), may_alias));
typedef int32_t lk_vi __attribute__((vector_size(VBYTES), aligned(4), may_alias));

/* e^t for a vector of floats, t capped to [-87, 88]: e^t = 2^n e^r, n = round(t / ln 2),
 * |r| <= ln(2) / 2, e^r by its degree-7 Taylor polynomial (relative error < 1e-8 before
 * float rounding).  Branch-free, so it runs a whole vector at a time. */
static inline lk_vf lk_vexp_f32(lk_vf t)
{
    lk_vf lo = (lk_vf){0} - 87.0f, hi = (lk_vf){0} + 88.0f;
    lk_vi below = t < lo, above = t > hi;
    t = (lk_vf)(((lk_vi)t & ~below) | ((lk_vi)lo & below));
    t = (lk_vf)(((lk_vi)t & ~above) | ((lk_vi)hi & above));
    lk_vf shifter = (lk_vf){0} + 12582912.0f;          /* 1.5 * 2^23: adding it rounds to whole */
    lk_vf n = (t * 1.4426950408889634f + shifter) - shifter;
    lk_vf r = t - n * 0.693145751953125f;              /* ln 2 in two parts: exact n * hi */
    r = r - n * 1.4286068203094172e-06f;
    lk_vf p = (lk_vf){0} + 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    lk_vi scale = (__builtin_convertvector(n, lk_vi) + 127) << 23;
    return p * (lk_vf)scale;
}

/* ---- the two precisions ------------------------------------------------------------------ */
#define REAL float
#define IREAL int32_t
#define FN(name) lk_##name##_f32
#define EXPORT(name) glassnet_layers_##name##_f32
#define SCALAR_EXP expf
#define SCALAR_LOG logf
#define SCALAR_TANH tanhf
#define SCALAR_SQRT sqrtf
#define EXP_CAP 88.0f
#define HAVE_VEXP 1
#include "_layerkernel_impl.h"

#define REAL double
#define IREAL int64_t
#define FN(name) lk_##name##_f64
#define EXPORT(name) glassnet_layers_##name##_f64
#define SCALAR_EXP exp
#define SCALAR_LOG log
#define SCALAR_TANH tanh
#define SCALAR_SQRT sqrt
#define EXP_CAP 709.0
#define HAVE_VEXP 0
#include "_layerkernel_impl.h"

/* The processor check, the build's description and the module stub (the variants,
 * _layerkernel_avx512.c and _layerkernel_avx2.c, define LK_MODULE to their own names). */
#ifndef LK_MODULE
#define LK_MODULE _layerkernel
#endif
#define KERNEL_CPU_OK glassnet_layers_cpu_ok
#define KERNEL_INFO glassnet_layers_info
#define KERNEL_MODULE LK_MODULE
#define KERNEL_DOC "glassnet's compiled layer-network kernel (use glassnet.engines)"
#include "_kernel_common.h"
