/* glassnet's optional compiled kernel: mini-batch SGD steps and the forward pass of a
 * sigmoid network, in C, for float32 and float64.  Called through ctypes by engines/kernel.py;
 * core/network.py (NumPy) stays the reference it is tested against.
 *
 * The equations are the book's (and core/network.py's), one sample at a time inside a batch:
 *   forward   a^1 = sigma(W^1 x + b^1),  a^l = sigma(W^l a^{l-1} + b^l)
 *   BP1       delta^L = (a^L - y) sigma'(z^L)   (cross-entropy: a^L - y), times eta/m
 *   BP2       delta^l = (W^{l+1})^T delta^{l+1} (.) sigma'(z^l),   sigma' = a (1 - a)
 *   BP3, BP4  b -> b - sum_x delta,  W -> (1 - eta lmbda / n) W - sum_x delta a^T
 * What makes it fast, besides having no per-call overhead:
 *   - the first layer skips zero inputs (80% of an MNIST image), in the forward pass and
 *     in the weight update (a zero x_k leaves column k of the gradient zero);
 *   - every hidden width is padded to a whole number of 64-byte vectors (16 floats), with
 *     zero weights and zero activations in the padding, so rows are vector loops;
 *   - the forward pass of many rows (inference) runs on several threads.
 *
 * Parameters travel in one flat array `params` (kernel.pack / kernel.unpack):
 *   Wt^1 (n_in, P[1]): the first layer's weights transposed, row k = the weights of input k;
 *   b^1 (P[1]); then for l = 2..L: W^l (sizes[l], P[l-1]) and b^l (P[l]),
 * where P[l] is sizes[l] rounded up to the vector length.
 */
#ifndef GLASSNET_NO_PYTHON                   /* (a C test harness can build it without Python) */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

/* the vector width: a zmm register with AVX-512, a ymm with AVX, else 16 bytes */
#if defined(__AVX512F__)
#define VBYTES 64
#elif defined(__AVX__)
#define VBYTES 32
#else
#define VBYTES 16
#endif

/* e^t for float32, t <= 88 (the caller caps it): 2^k e^r with |r| <= ln2 / 2, e^r by its
 * Taylor polynomial of degree 6 (relative error ~1e-7).  Written without calls or
 * branches so the compiler vectorises the loops that use it. */
static inline float exp_f32(float t)
{
    t = t < -87.0f ? -87.0f : t;                 /* e^-87 ~ 1.6e-38: sigma is 1 there */
    float kf = (t * 1.44269504f + 12582912.0f) - 12582912.0f;   /* round(t / ln 2) */
    float r = (t - kf * 0.693145751953125f) - kf * 1.428606820309417e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    int32_t k = (int32_t)kf;
    uint32_t bits = (uint32_t)(k + 127) << 23;   /* 2^k */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#if defined(__AVX512F__)
/* The nonzeros among x[0:16] (or 0:8), given their mask: their indices plus at (and values,
 * unless val is NULL) packed to the front of idx and val without a branch (AVX-512
 * compress; whole vectors are stored, so the arrays need room past the end). */
static inline void nz_block_f32(const float *x, int64_t at, uint32_t mask, int32_t *idx, float *val)
{
    __mmask16 m = (__mmask16)mask;
    __m512i where = _mm512_add_epi32(_mm512_set1_epi32((int)at),
                                     _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    if (val)
        _mm512_storeu_ps(val, _mm512_maskz_compress_ps(m, _mm512_loadu_ps(x)));
    _mm512_storeu_si512(idx, _mm512_maskz_compress_epi32(m, where));
}

static inline void nz_block_f64(const double *x, int64_t at, uint32_t mask, int32_t *idx, double *val)
{
    __mmask8 m = (__mmask8)mask;
    __m256i where = _mm256_add_epi32(_mm256_set1_epi32((int)at), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    if (val)
        _mm512_storeu_pd(val, _mm512_maskz_compress_pd(m, _mm512_loadu_pd(x)));
    _mm256_storeu_si256((__m256i *)idx, _mm256_maskz_compress_epi32(m, where));
}
#define NZMASK_F32(p) ((uint32_t)_mm512_cmpneq_ps_mask(_mm512_loadu_ps(p), _mm512_setzero_ps()))
#define NZMASK_F64(p) ((uint32_t)_mm512_cmpneq_pd_mask(_mm512_loadu_pd(p), _mm512_setzero_pd()))
#elif defined(__AVX2__)
/* The same for 8 floats with AVX2, which has no compress: a table gives, for each 8-bit
 * mask, the positions of its set bits, packed to the front. */
static int32_t packed_positions[256][8];          /* filled by glassnet_prepare */

static inline void nz_block_f32(const float *x, int64_t at, uint32_t mask, int32_t *idx, float *val)
{
    __m256i where = _mm256_loadu_si256((const __m256i *)packed_positions[mask]);
    if (val)
        _mm256_storeu_ps(val, _mm256_permutevar8x32_ps(_mm256_loadu_ps(x), where));
    _mm256_storeu_si256((__m256i *)idx, _mm256_add_epi32(where, _mm256_set1_epi32((int)at)));
}
#define NZMASK_F32(p) ((uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), _mm256_setzero_ps(), _CMP_NEQ_UQ)))
#endif

typedef float vf __attribute__((vector_size(VBYTES), aligned(4), may_alias));
typedef int32_t vi __attribute__((vector_size(VBYTES), aligned(4), may_alias));

static inline vf splat_f32(float c)
{
    return (vf){0} + c;
}

/* exp_f32 on a vector of floats at once (the same steps, as vector operations) */
static inline vf vexp_f32(vf t)
{
    vi low = t < splat_f32(-87.0f);
    t = (vf)(((vi)t & ~low) | ((vi)splat_f32(-87.0f) & low));
    vf kf = (t * 1.44269504f + 12582912.0f) - 12582912.0f;
    vf r = (t - kf * 0.693145751953125f) - kf * 1.428606820309417e-06f;
    vf p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    vi bits = (__builtin_convertvector(kf, vi) + 127) << 23;
    return p * (vf)bits;
}

/* the sum of a vector's lanes, as a tree (a loop over the lanes would be dependent adds) */
#if defined(__AVX512F__)
#define HSUM_F32(v) _mm512_reduce_add_ps((__m512)(v))
#define HSUM_F64(v) _mm512_reduce_add_pd((__m512d)(v))
#else
static inline float hsum_f32(vf v)
{
    for (int w = VBYTES / 8; w > 0; w /= 2)
        for (int j = 0; j < w; j++)
            v[j] += v[j + w];
    return v[0];
}
typedef double vd __attribute__((vector_size(VBYTES), aligned(8), may_alias));
static inline double hsum_f64(vd v)
{
    for (int w = VBYTES / 16; w > 0; w /= 2)
        for (int j = 0; j < w; j++)
            v[j] += v[j + w];
    return v[0];
}
#define HSUM_F32(v) hsum_f32(v)
#define HSUM_F64(v) hsum_f64(v)
#endif

/* 1 / d: with AVX-512 the 14-bit estimate and one Newton step (error below float's
 * rounding, and several times faster than the division) */
static inline vf vrecip_f32(vf d)
{
#if defined(__AVX512F__)
    vf r = (vf)_mm512_rcp14_ps((__m512)d);
    return r + r * (1.0f - d * r);
#else
    return 1.0f / d;
#endif
}

#define REAL float
#define FN(name) glassnet_##name##_f32
#define VRECIP vrecip_f32
#define HSUM HSUM_F32
#define VEXP vexp_f32
#define EXP exp_f32
#ifdef NZMASK_F32
#define NZMASK NZMASK_F32
#define NZCOMPRESS nz_block_f32
#endif
#include "_ckernel_impl.h"

#define REAL double
#define FN(name) glassnet_##name##_f64
#define HSUM HSUM_F64
#define EXP exp
#ifdef NZMASK_F64
#define NZMASK NZMASK_F64
#define NZCOMPRESS nz_block_f64
#endif
#include "_ckernel_impl.h"

/* One-time set-up, after glassnet_cpu_ok said yes. */
void glassnet_prepare(void)
{
#if defined(__AVX2__) && !defined(__AVX512F__)
    for (int m = 0; m < 256; m++)
        for (int j = 0, c = 0; j < 8; j++)
            if (m >> j & 1)
                packed_positions[m][c++] = j;
#endif
}

/* The processor check, the build's description and the module stub (the variants,
 * _ckernel_avx512.c and _ckernel_avx2.c, define GLASSNET_MODULE to their own names). */
#ifndef GLASSNET_MODULE
#define GLASSNET_MODULE _ckernel
#endif
#define KERNEL_CPU_OK glassnet_cpu_ok
#define KERNEL_INFO glassnet_kernel_info
#define KERNEL_MODULE GLASSNET_MODULE
#define KERNEL_DOC "glassnet's compiled kernel (use it through glassnet.engines)"
#include "_kernel_common.h"
