/* The compiled SGD step and forward pass, written once for a floating type.
 *
 * Included twice by _ckernel.c: REAL is float (suffix f32) or double (f64); FN names a
 * function for the type; EXP, HSUM, NZMASK, NZCOMPRESS (and for float VEXP, VRECIP) are
 * the type's exp, lane sum, nonzero mask and compress (NZMASK only where the instruction
 * set has a fast one).  VEC is a vector of REAL, VBYTES wide (16 floats with AVX-512);
 * every hidden width is padded to 64 bytes, a multiple of LANES, so each row is a whole
 * number of vectors.  See _ckernel.c for the layouts and the equations.
 */

typedef REAL FN(vec) __attribute__((vector_size(VBYTES), aligned(sizeof(REAL)), may_alias));
#define VEC FN(vec)
#define LANES ((int64_t)(VBYTES / sizeof(REAL)))
#define LOADV(p) (*(const VEC *)(p))
#define STOREV(p, v) (*(VEC *)(p) = (v))

/* n zeros on a 64-byte boundary (rows of whole vectors then never straddle cache lines);
 * free() releases it; NULL if memory ran out */
static REAL *FN(zeroed)(int64_t n)
{
    size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(REAL) + 63) / 64 * 64;
    REAL *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

/* the nonzero entries of x[0:n] (NaN counts as nonzero): their indices plus base, and their
 * values unless val is NULL; returns how many.  idx and val need LANES entries of room
 * past the end (whole vectors are stored). */
static int64_t FN(nonzeros)(const REAL *x, int64_t n, int64_t base, int32_t *idx, REAL *val)
{
    int64_t c = 0, k = 0;
#if defined(NZMASK)
    /* all the blocks' masks first: then only a running sum links one block to the next */
    enum { MAX_BLOCKS = 256 };
    uint32_t masks[MAX_BLOCKS];
    while (k + LANES <= n) {
        int64_t blocks = (n - k) / LANES < MAX_BLOCKS ? (n - k) / LANES : MAX_BLOCKS;
        for (int64_t j = 0; j < blocks; j++)
            masks[j] = NZMASK(x + k + j * LANES);
        for (int64_t j = 0; j < blocks; j++, k += LANES) {
            /* four blank blocks in a row (an image's top, its bottom) cost one test */
            if (j % 4 == 0 && j + 4 <= blocks && !(masks[j] | masks[j + 1] | masks[j + 2] | masks[j + 3])) {
                j += 3;
                k += 3 * LANES;
                continue;
            }
            NZCOMPRESS(x + k, base + k, masks[j], idx + c, val ? val + c : NULL);
            c += __builtin_popcount(masks[j]);
        }
    }
#endif
    for (; k < n; k++)
        if (x[k] != 0) {
            if (val)
                val[c] = x[k];
            idx[c++] = (int32_t)(base + k);
        }
    return c;
}

/* The rows of X (rows, ldx) in compressed sparse row form: row i's nonzeros are
 * cols/vals[rowptr[i]:rowptr[i+1]].  With cols NULL only rowptr is filled (to size the
 * arrays, which need LANES entries of room past the end); returns the number of nonzeros. */
int64_t FN(csr)(const REAL *X, int64_t ldx, int64_t rows, int64_t n_in, int64_t *rowptr, int32_t *cols,
                REAL *vals)
{
    int64_t total = 0;
    rowptr[0] = 0;
    for (int64_t i = 0; i < rows; i++) {
        const REAL *x = X + i * ldx;
        if (cols) {
            total += FN(nonzeros)(x, n_in, 0, cols + total, vals + total);
        } else {
            int64_t k = 0;
#if defined(NZMASK)
            for (; k + LANES <= n_in; k += LANES)
                total += __builtin_popcount(NZMASK(x + k));
#endif
            for (; k < n_in; k++)
                total += x[k] != 0;
        }
        rowptr[i + 1] = total;
    }
    return total;
}

/* z[0:P] += sum over the nonzero x_k of x_k Wt[k, :]   (the first layer's W x, skipping zero
 * inputs); the nonzero x_k are at k = idx[t], t0 <= t < t1, with values v[t] (by_index 0)
 * or v[idx[t]] (by_index 1: v is the whole input row) */
static void FN(first_layer)(const REAL *v, int by_index, const int32_t *idx, int64_t t0, int64_t t1,
                            const REAL *Wt, REAL *z, int64_t P)
{
#define X_T(t) (by_index ? v[idx[t]] : v[t])
    if (P == 2 * LANES) {                    /* the book's 30 hidden neurons: one pass */
        VEC s0 = LOADV(z), s1 = LOADV(z + LANES), s2 = {0}, s3 = {0}, s4 = {0}, s5 = {0}, s6 = {0}, s7 = {0};
        int64_t t = t0;
        for (; t + 4 <= t1; t += 4) {        /* four independent pairs of sums */
            const REAL *w0 = Wt + idx[t] * P, *w1 = Wt + idx[t + 1] * P;
            const REAL *w2 = Wt + idx[t + 2] * P, *w3 = Wt + idx[t + 3] * P;
            REAL x0 = X_T(t), x1 = X_T(t + 1), x2 = X_T(t + 2), x3 = X_T(t + 3);
            s0 += x0 * LOADV(w0);
            s1 += x0 * LOADV(w0 + LANES);
            s2 += x1 * LOADV(w1);
            s3 += x1 * LOADV(w1 + LANES);
            s4 += x2 * LOADV(w2);
            s5 += x2 * LOADV(w2 + LANES);
            s6 += x3 * LOADV(w3);
            s7 += x3 * LOADV(w3 + LANES);
        }
        for (; t < t1; t++) {
            s0 += X_T(t) * LOADV(Wt + idx[t] * P);
            s1 += X_T(t) * LOADV(Wt + idx[t] * P + LANES);
        }
        STOREV(z, (s0 + s2) + (s4 + s6));
        STOREV(z + LANES, (s1 + s3) + (s5 + s7));
        return;
    }
    for (int64_t jb = 0; jb < P; jb += LANES) {
        VEC s0 = LOADV(z + jb), s1 = {0}, s2 = {0}, s3 = {0};
        int64_t t = t0;
        for (; t + 4 <= t1; t += 4) {     /* four independent sums hide the FMA latency */
            s0 += X_T(t) * LOADV(Wt + idx[t] * P + jb);
            s1 += X_T(t + 1) * LOADV(Wt + idx[t + 1] * P + jb);
            s2 += X_T(t + 2) * LOADV(Wt + idx[t + 2] * P + jb);
            s3 += X_T(t + 3) * LOADV(Wt + idx[t + 3] * P + jb);
        }
        for (; t < t1; t++)
            s0 += X_T(t) * LOADV(Wt + idx[t] * P + jb);
        STOREV(z + jb, (s0 + s1) + (s2 + s3));
    }
#undef X_T
}

/* a . w over P entries (P a multiple of LANES) */
static inline REAL FN(dot)(const REAL *a, const REAL *w, int64_t P)
{
    VEC s0 = {0}, s1 = {0};
    int64_t k = 0;
    for (; k + 2 * LANES <= P; k += 2 * LANES) {
        s0 += LOADV(a + k) * LOADV(w + k);
        s1 += LOADV(a + k + LANES) * LOADV(w + k + LANES);
    }
    for (; k < P; k += LANES)
        s0 += LOADV(a + k) * LOADV(w + k);
    return HSUM(s0 + s1);
}

/* a = sigma(z) on the first n entries, 0 on the padding n..P */
static inline void FN(sigmoid_row)(REAL *z, int64_t n, int64_t P, REAL cap)
{
#ifdef VEXP
    for (int64_t j = 0; j < P; j += LANES) {
        VEC v = LOADV(z + j);
        VEC t = -v;
        __typeof__(VEXP(t) < t) over = v < -cap;       /* exp(-z) would overflow past the cap */
        t = (VEC)(((__typeof__(over))t & ~over) | ((__typeof__(over))((VEC){0} + cap) & over));
        VEC a = VRECIP((REAL)1 + VEXP(t));
        for (int64_t k = n - j > 0 ? n - j : 0; k < LANES; k++)   /* the padding past n stays 0 */
            a[k] = 0;
        STOREV(z + j, a);
    }
    return;
#endif
    for (int64_t j = 0; j < n; j++) {
        REAL t = z[j] < -cap ? cap : -z[j];      /* exp(-z) would overflow past the cap */
        z[j] = (REAL)1 / ((REAL)1 + EXP(t));
    }
    for (int64_t j = n; j < P; j++)
        z[j] = 0;
}

/* Layers 2..L of one sample: a^{l} = sigma(W^l a^{l-1} + b^l); A[l] points at each row */
static void FN(forward_rest)(int64_t L, const int64_t *sizes, const int64_t *P, const REAL *params,
                             REAL **A, REAL cap)
{
    const REAL *p = params + sizes[0] * P[1] + P[1];
    for (int64_t l = 2; l <= L; l++) {
        const REAL *W = p, *b = p + sizes[l] * P[l - 1];
        for (int64_t j = 0; j < sizes[l]; j++)
            A[l][j] = b[j] + FN(dot)(A[l - 1], W + j * P[l - 1], P[l - 1]);
        FN(sigmoid_row)(A[l], sizes[l], P[l], cap);
        p = b + P[l];
    }
}

/* SGD over the mini-batches order[0:m], order[m:2m], ... (the last may be short).
 *
 * X (rows, ldx) inputs and Y (rows, ldy) targets, one sample a row; rowptr/cols/vals
 * the same inputs in the form FN(csr) gives (reading ~1/4 of the bytes), or rowptr NULL
 * to find each row's nonzeros on the way; params as in
 * _ckernel.c; eta the learning rate, decay = 1 - eta lmbda / n (1 without L2);
 * cross_entropy selects delta^L = a - y instead of (a - y) sigma'(z).
 * Returns 0, or -1 if memory ran out.
 */
int64_t FN(sgd)(const REAL *X, int64_t ldx, const int64_t *rowptr, const int32_t *cols, const REAL *vals,
                const REAL *Y, int64_t ldy, const int64_t *order, int64_t n, int64_t m, int64_t L,
                const int64_t *sizes, const int64_t *P, REAL *params, REAL eta, REAL decay,
                int64_t cross_entropy, REAL cap)
{
    int64_t n_in = sizes[0], width = 0;
    for (int64_t l = 1; l <= L; l++)
        width += P[l];
    REAL *act = FN(zeroed)(m * width);                  /* A^l, l = 1..L: (m, P[l]) each */
    REAL *del = FN(zeroed)(m * width);                  /* delta^l, same shapes */
    int64_t room = rowptr ? 0 : m * n_in + LANES;       /* each sample's nonzero inputs, when not given */
    int32_t *idx = malloc(sizeof(int32_t) * (room + 1));
    REAL *val = malloc(sizeof(REAL) * (room + 1));
    int64_t *cnt = malloc(sizeof(int64_t) * m);
    const int32_t **ix = malloc(sizeof(int32_t *) * m);  /* where sample i's nonzeros are */
    const REAL **vx = malloc(sizeof(REAL *) * m);
    REAL **A = malloc(sizeof(REAL *) * (L + 1)), **D = malloc(sizeof(REAL *) * (L + 1));
    REAL **Wl = malloc(sizeof(REAL *) * (L + 1)), **bl = malloc(sizeof(REAL *) * (L + 1));
#define FREE_ALL() (free(act), free(del), free(idx), free(val), free(cnt), free(ix), free(vx), free(A), free(D), \
                    free(Wl), free(bl))
    if (!act || !del || !idx || !val || !cnt || !ix || !vx || !A || !D || !Wl || !bl) {
        FREE_ALL();
        return -1;
    }
    int64_t off = 0;
    REAL *p = params;
    for (int64_t l = 1; l <= L; l++) {
        A[l] = act + off;
        D[l] = del + off;
        off += m * P[l];
        Wl[l] = p;                           /* l = 1: Wt (n_in, P[1]); else W (sizes[l], P[l-1]) */
        bl[l] = p + (l == 1 ? n_in * P[1] : sizes[l] * P[l - 1]);
        p = bl[l] + P[l];
    }
    REAL *rows[64];                          /* per-sample row pointers for forward_rest */
    if (L >= 64) {
        FREE_ALL();
        return -2;
    }

    for (int64_t s = 0; s < n; s += m) {
        int64_t mm = n - s < m ? n - s : m;
        REAL rate = eta / (REAL)mm;
        /* ask for the next mini-batch's inputs now: they arrive while this step computes */
        for (int64_t i = s + m; i < s + 2 * m && i < n; i++) {
            const char *from = rowptr ? (const char *)(vals + rowptr[order[i]]) : (const char *)(X + order[i] * ldx);
            const char *to = rowptr ? (const char *)(vals + rowptr[order[i] + 1]) : from + n_in * sizeof(REAL);
            for (; from < to; from += 64)
                __builtin_prefetch(from, 0, 2);
            if (rowptr)
                for (from = (const char *)(cols + rowptr[order[i]]); from < (const char *)(cols + rowptr[order[i] + 1]); from += 64)
                    __builtin_prefetch(from, 0, 2);
            __builtin_prefetch(Y + order[i] * ldy, 0, 2);
        }
        /* feedforward: a = sigma(w a + b), layer 1 from the nonzero inputs only */
        for (int64_t i = 0; i < mm; i++) {
            int64_t r = order[s + i];
            if (rowptr) {
                ix[i] = cols + rowptr[r];
                vx[i] = vals + rowptr[r];
                cnt[i] = rowptr[r + 1] - rowptr[r];
            } else {
                cnt[i] = FN(nonzeros)(X + r * ldx, n_in, 0, idx + i * n_in, val + i * n_in);
                ix[i] = idx + i * n_in;
                vx[i] = val + i * n_in;     /* values too: the weight update reads them again */
            }
            memcpy(A[1] + i * P[1], bl[1], sizeof(REAL) * P[1]);       /* z = b + W x */
            FN(first_layer)(vx[i], 0, ix[i], 0, cnt[i], Wl[1], A[1] + i * P[1], P[1]);
            FN(sigmoid_row)(A[1] + i * P[1], sizes[1], P[1], cap);
            for (int64_t l = 1; l <= L; l++)
                rows[l] = A[l] + i * P[l];
            FN(forward_rest)(L, sizes, P, params, rows, cap);
        }
        /* BP1, times eta/m (BP2-BP4 are linear in delta^L, so every gradient comes scaled) */
        for (int64_t i = 0; i < mm; i++) {
            const REAL *a = A[L] + i * P[L], *y = Y + order[s + i] * ldy;
            REAL *d = D[L] + i * P[L];
            for (int64_t j = 0; j < sizes[L]; j++) {
                REAL e = a[j] - y[j];
                d[j] = cross_entropy ? rate * e : rate * e * a[j] * ((REAL)1 - a[j]);
            }
            for (int64_t j = sizes[L]; j < P[L]; j++)
                d[j] = 0;
        }
        for (int64_t l = L; l >= 2; l--) {
            REAL *W = Wl[l], *b = bl[l];
            int64_t Pi = P[l - 1];
            /* BP2, with the weights before this step's update: delta^{l-1} = W^T delta^l (.) sigma' */
            for (int64_t i = 0; i < mm; i++) {
                const REAL *d = D[l] + i * P[l], *a = A[l - 1] + i * Pi;
                REAL *dp = D[l - 1] + i * Pi;
                for (int64_t k = 0; k < Pi; k += LANES) {
                    VEC v = {0};
                    for (int64_t j = 0; j < sizes[l]; j++)
                        v += d[j] * LOADV(W + j * Pi + k);
                    STOREV(dp + k, v * LOADV(a + k) * ((REAL)1 - LOADV(a + k)));
                }
            }
            /* BP4 and BP3: w -> decay w - sum_x delta a^T, b -> b - sum_x delta */
            for (int64_t j = 0; j < sizes[l]; j++) {
                REAL *w = W + j * Pi, t = 0;
                for (int64_t k = 0; k < Pi; k += LANES) {
                    VEC v = decay * LOADV(w + k);
                    for (int64_t i = 0; i < mm; i++)
                        v -= D[l][i * P[l] + j] * LOADV(A[l - 1] + i * Pi + k);
                    STOREV(w + k, v);
                }
                for (int64_t i = 0; i < mm; i++)
                    t += D[l][i * P[l] + j];
                b[j] -= t;
            }
        }
        /* layer 1: w -> decay w, then subtract x_k delta for the nonzero x_k only */
        REAL *Wt = Wl[1];
        int64_t P1 = P[1];
        if (decay != 1)
            for (int64_t k = 0; k < n_in * P1; k += LANES)
                STOREV(Wt + k, decay * LOADV(Wt + k));
        for (int64_t i = 0; i < mm; i++) {
            const REAL *d = D[1] + i * P1;
            for (int64_t t = 0; t < cnt[i]; t++) {
                REAL *w = Wt + ix[i][t] * P1;
                REAL v = vx[i][t];
                for (int64_t k = 0; k < P1; k += LANES)
                    STOREV(w + k, LOADV(w + k) - v * LOADV(d + k));
            }
        }
        for (int64_t k = 0; k < P1; k += LANES) {
            VEC v = LOADV(bl[1] + k);
            for (int64_t i = 0; i < mm; i++)
                v -= LOADV(D[1] + i * P1 + k);
            STOREV(bl[1] + k, v);
        }
    }
    FREE_ALL();
#undef FREE_ALL
    return 0;
}

/* The same as forward_rest, with the later layers' weights transposed (the forward
 * pass's layout: W^T (sizes[l-1], P[l])), so each layer is a sum of whole-row vectors:
 * z = b + sum_k a_k W^T[k, :], in four interleaved partial sums. */
static void FN(forward_rest_t)(int64_t L, const int64_t *sizes, const int64_t *P, const REAL *params,
                               REAL **A, REAL cap)
{
    const REAL *p = params + sizes[0] * P[1] + P[1];
    for (int64_t l = 2; l <= L; l++) {
        int64_t n_in = sizes[l - 1], Pl = P[l];
        const REAL *Wt = p, *b = p + n_in * Pl, *a = A[l - 1];
        for (int64_t jb = 0; jb < Pl; jb += LANES) {
            VEC s0 = LOADV(b + jb), s1 = {0}, s2 = {0}, s3 = {0};
            int64_t k = 0;
            for (; k + 4 <= n_in; k += 4) {
                s0 += a[k] * LOADV(Wt + k * Pl + jb);
                s1 += a[k + 1] * LOADV(Wt + (k + 1) * Pl + jb);
                s2 += a[k + 2] * LOADV(Wt + (k + 2) * Pl + jb);
                s3 += a[k + 3] * LOADV(Wt + (k + 3) * Pl + jb);
            }
            for (; k < n_in; k++)
                s0 += a[k] * LOADV(Wt + k * Pl + jb);
            STOREV(A[l] + jb, (s0 + s1) + (s2 + s3));
        }
        FN(sigmoid_row)(A[l], sizes[l], Pl, cap);
        p = b + Pl;
    }
}

/* A forward pass shared by threads: each takes the next CHUNK rows until none are left,
 * so a thread that starts late (or shares its core) just takes fewer. */
struct FN(work) {
    const REAL *X;
    int64_t ldx, rows, L;
    const int64_t *sizes, *P;
    const REAL *params;
    REAL cap, *out;
    int64_t next, done;                      /* atomics: the first unclaimed row, rows finished */
};

static void *FN(forward_rows)(void *arg)
{
    enum { CHUNK = 128 };
    struct FN(work) *w = arg;
    int64_t L = w->L, n_in = w->sizes[0], P1 = w->P[1], width = 0, n_out = w->sizes[L];
    for (int64_t l = 1; l <= L; l++)
        width += w->P[l];
    REAL *buf = FN(zeroed)(width);
    int32_t *idx = malloc(sizeof(int32_t) * (n_in + LANES));
    REAL *rows[64];
    if (!buf || !idx || L >= 64) {           /* claim nothing: the other threads do it all */
        free(buf); free(idx);
        return NULL;
    }
    rows[1] = buf;
    for (int64_t l = 2; l <= L; l++)
        rows[l] = rows[l - 1] + w->P[l - 1];
    const REAL *Wt = w->params, *b = Wt + n_in * P1;
    for (;;) {
        int64_t start = __atomic_fetch_add(&w->next, CHUNK, __ATOMIC_RELAXED);
        if (start >= w->rows)
            break;
        int64_t stop = start + CHUNK < w->rows ? start + CHUNK : w->rows;
        for (int64_t i = start; i < stop; i++) {
            const REAL *x = w->X + i * w->ldx;
            if (i + 1 < stop)                                /* the next row, on its way */
                for (int64_t k = 0; k < n_in; k += 64 / (int64_t)sizeof(REAL))
                    __builtin_prefetch(x + w->ldx + k, 0, 3);
            int64_t c = FN(nonzeros)(x, n_in, 0, idx, NULL);
            memcpy(rows[1], b, sizeof(REAL) * P1);           /* z = b + W x */
            FN(first_layer)(x, 1, idx, 0, c, Wt, rows[1], P1);
            FN(sigmoid_row)(rows[1], w->sizes[1], P1, w->cap);
            FN(forward_rest_t)(L, w->sizes, w->P, w->params, rows, w->cap);
            memcpy(w->out + i * n_out, rows[L], sizeof(REAL) * n_out);
        }
        __atomic_fetch_add(&w->done, stop - start, __ATOMIC_RELAXED);
    }
    free(buf); free(idx);
    return NULL;
}

/* out (rows, sizes[L]) = the network's output for each row of X, on up to `threads` threads;
 * params in the forward pass's layout (the later layers transposed, see forward_rest_t).
 * Returns 0, or -1 if no thread could allocate its buffers. */
int64_t FN(forward)(const REAL *X, int64_t ldx, int64_t rows, int64_t L, const int64_t *sizes,
                    const int64_t *P, const REAL *params, REAL cap, REAL *out, int64_t threads)
{
    enum { MAX_THREADS = 64 };
    struct FN(work) work = {X, ldx, rows, L, sizes, P, params, cap, out, 0, 0};
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    if (threads > rows / 512)                /* a thread start costs tens of us: big inputs only */
        threads = rows / 512;
    for (int64_t t = 1; t < threads; t++)
        started[t] = pthread_create(&tid[t], NULL, FN(forward_rows), &work) == 0;
    FN(forward_rows)(&work);                 /* this thread works too, from the first row */
    for (int64_t t = 1; t < threads; t++)
        if (started[t])
            pthread_join(tid[t], NULL);
    return __atomic_load_n(&work.done, __ATOMIC_RELAXED) == rows ? 0 : -1;
}

#undef VEC
#undef LANES
#undef LOADV
#undef STOREV
/* the includer's definitions for this type, so the next type starts clean */
#undef REAL
#undef FN
#undef EXP
#undef NZMASK
#undef NZCOMPRESS
#undef HSUM
#undef VEXP
#undef VRECIP
