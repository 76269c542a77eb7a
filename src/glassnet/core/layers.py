"""Chapter 6's operations, each forward pass beside its backward pass, in NumPy only.

Every operation is a pair in the style of CS231n's ``layers.py``:

    out, cache = op_forward(inputs...)        the value, plus what backward needs
    grads...   = op_backward(dout, cache)     dout = dC/d(out), same shape as out

so the chain rule is plain to see: a network calls the forwards in order and the
backwards in reverse, handing each backward the gradient the next one returned.

Glossary (book symbol -> code), one sample a row, images (m, channels, height, width):

    a^{l-1}            x        the operation's input
    z^l = w a + b      Z        a weighted input (``fc_forward``, ``conv_forward`` + bias)
    a^l = sigma(z^l)   A        an activation (``activation_forward``)
    delta^l = dC/dz^l  dZ       what ``activation_backward`` returns
    BP1                ``softmax_loglik_backward``: delta^L = (a^L - y) / m for softmax + log-likelihood
    BP2                ``fc_backward``'s dx = delta @ W, then ``activation_backward``'s (.) sigma'(z)
    BP3, BP4           ``fc_backward``'s db = sum of delta rows, dW = delta^T a^{l-1}

Every function keeps its input's floating dtype: float32 in, float32 out; float64
for gradient checks.  Shapes are checked where a wrong shape would not fail loudly.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import functions as _functions

__all__ = [
    "im2col",
    "conv_forward",
    "conv_backward",
    "conv_output_size",
    "maxpool_forward",
    "maxpool_backward",
    "avgpool_forward",
    "avgpool_backward",
    "global_avgpool_forward",
    "global_avgpool_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_inference_forward",
    "batchnorm_inference_backward",
    "fc_forward",
    "fc_backward",
    "Activation",
    "sigmoid",
    "tanh",
    "relu",
    "linear",
    "ACTIVATIONS",
    "get_activation",
    "activation_forward",
    "activation_backward",
    "softmax",
    "softmax_loglik_forward",
    "softmax_loglik_backward",
    "dropout_mask",
    "dropout_forward",
    "dropout_backward",
]


# -- convolution ---------------------------------------------------------------------
# Memory layout: the shapes are the book's (m, channels, h, w) everywhere, but the product
# below naturally yields channels-last memory, (m, h, w, channels), and the arrays returned
# are transposed views of it.  NumPy's elementwise operations keep that layout, and the next
# layer's im2col then reads each patch row as one run of kw * channels numbers.
def im2col(x, kh, kw, stride=1):
    """Every (kh, kw) patch of ``x`` as a row: the step that turns convolution into a matmul.

    x : ndarray of shape (m, c, h, w), any memory layout;  stride : the step between patches
    Returns an ndarray of shape (m * oh * ow, kh * kw * c), oh = (h - kh) // stride + 1,
    ow = (w - kw) // stride + 1, a copy.  Row ``(i * oh + r) * ow + s`` is the patch of
    sample i whose top-left corner is (stride r, stride s), read patch row p, then patch
    column q, then channel -- the order of ``w.transpose(0, 2, 3, 1).reshape(f, -1)`` for
    filters w of shape (f, c, kh, kw).
    """
    m, c, h, w = x.shape
    windows = sliding_window_view(x.transpose(0, 2, 3, 1), (kh, kw), axis=(1, 2))
    if stride != 1:
        windows = windows[:, ::stride, ::stride]
    oh, ow = windows.shape[1], windows.shape[2]  # windows: (m, oh, ow, c, kh, kw)
    if c == 1:  # one channel: copy patch-major, so that x is read in rows of ow numbers
        return windows.transpose(4, 5, 3, 0, 1, 2).reshape(kh * kw * c, m * oh * ow).T
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(m * oh * ow, kh * kw * c)


def _filters_as_matrix(w):
    """w (f, c, kh, kw) as the (f, kh * kw * c) matrix whose columns match ``im2col``'s."""
    return w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def conv_output_size(size, k, padding=0, stride=1):
    """Positions of a k-wide window along ``size`` inputs padded by ``padding`` on each side,
    moved ``stride`` at a time: (size + 2 padding - k) // stride + 1 (0 when none fits)."""
    return max(0, (size + 2 * padding - k) // stride + 1)


def _pad(x, padding):
    """x (m, c, h, w) with ``padding`` zeros around each image: (m, c, h + 2p, w + 2p), a
    view of channels-last memory (the layout im2col reads fastest); x itself when p = 0."""
    if padding == 0:
        return x
    m, c, h, w = x.shape
    p = padding
    padded = np.zeros((m, h + 2 * p, w + 2 * p, c), dtype=x.dtype)
    padded[:, p : p + h, p : p + w, :] = x.transpose(0, 2, 3, 1)
    return padded.transpose(0, 3, 1, 2)


def conv_forward(x, w, padding=0, stride=1):
    """Convolution as one matrix product (no bias: see ``ConvPoolLayer``, ``ConvLayer``).

    out[i, f, r, s] = sum_{c, p, q} xp[i, c, stride r + p, stride s + q] * w[f, c, p, q]

    where xp is x with ``padding`` zeros around each image (0 and 1, the defaults, give the
    book's valid convolution with stride 1).  This is cross-correlation, the convention of
    PyTorch's ``conv2d``; Theano's ``conv2d`` (the book's) flips the filters first.  The two
    are the same family of functions -- a learned filter is just stored flipped -- so
    training is unchanged.

    x : ndarray of shape (m, c, h, w);  w : ndarray of shape (f, c, kh, kw)
    Returns ``(out, cache)``, out of shape (m, f, oh, ow) with oh = (h + 2 padding - kh) //
    stride + 1 (``conv_output_size``), likewise ow (a view of channels-last memory, see above).
    """
    m, c, h, wd = x.shape
    f, c_w, kh, kw = w.shape
    oh, ow = conv_output_size(h, kh, padding, stride), conv_output_size(wd, kw, padding, stride)
    if c != c_w or oh < 1 or ow < 1:
        raise ValueError(f"filters of shape {w.shape} do not fit images of shape {x.shape}")
    cols = im2col(_pad(x, padding), kh, kw, stride)  # (m*oh*ow, kh*kw*c)
    out = cols @ _filters_as_matrix(w).T  # (m*oh*ow, f): the one product
    return out.reshape(m, oh, ow, f).transpose(0, 3, 1, 2), (cols, x.shape, w, padding, stride)


def conv_backward(dout, cache, need_dx=True):
    """Gradients of ``conv_forward``.

    dout : ndarray of shape (m, f, oh, ow), dC/d(out)
    Returns ``(dx, dw)``: dx of shape (m, c, h, w) (None when ``need_dx`` is False, as for
    a network's first layer, whose input needs no gradient) and dw of shape (f, c, kh, kw).

    dw is one product, dout's rows against the im2col patches.  dx is col2im: a product
    gives every patch's gradient (one (m*oh*ow, c) block per patch offset (p, q)), and
    each of the kh*kw blocks is added back where its patches came from (every stride-th
    position of the padded image, whose border is then cut off) -- kh*kw vectorised
    additions, no loop over samples or positions.
    """
    cols, x_shape, w, padding, stride = cache
    m, c, h, wd = x_shape
    f, _, kh, kw = w.shape
    oh, ow = conv_output_size(h, kh, padding, stride), conv_output_size(wd, kw, padding, stride)
    if dout.shape != (m, f, oh, ow):
        raise ValueError(f"dout must have shape {(m, f, oh, ow)}, got {dout.shape}")
    d = dout.transpose(0, 2, 3, 1).reshape(m * oh * ow, f)  # rows match the patches
    dw_matrix = (cols.T @ d).T  # = d.T @ cols, BLAS's faster order
    dw = np.ascontiguousarray(dw_matrix.reshape(f, kh, kw, c).transpose(0, 3, 1, 2))
    if not need_dx:
        return None, dw
    w_pq = w.transpose(2, 3, 0, 1).reshape(kh * kw, f, c)  # w_pq[p*kw + q] = w[:, :, p, q]
    dcols = np.matmul(d, w_pq).reshape(kh, kw, m, oh, ow, c)  # dcols[p, q] is contiguous
    p2, s = padding, stride
    dx = np.zeros((m, h + 2 * p2, wd + 2 * p2, c), dtype=dcols.dtype)  # channels-last, like dcols
    rows, columns = s * (oh - 1) + 1, s * (ow - 1) + 1  # the span of one offset's positions
    for p in range(kh):  # col2im, one offset at a time
        for q in range(kw):
            dx[:, p : p + rows : s, q : q + columns : s, :] += dcols[p, q]
    return dx[:, p2 : p2 + h, p2 : p2 + wd, :].transpose(0, 3, 1, 2), dw


# -- max-pooling -----------------------------------------------------------------------
def _pool_views(x, pool, oh, ow):
    """The ph*pw strided views x[:, :, i::ph, j::pw] (cropped to oh x ow), row-major in (i, j)."""
    ph, pw = pool
    return [x[:, :, i : oh * ph : ph, j : ow * pw : pw] for i in range(ph) for j in range(pw)]


def maxpool_forward(x, pool):
    """Max over non-overlapping (ph, pw) blocks; trailing rows and columns that do not fill
    a whole block are dropped (Theano's ``ignore_border=True``, PyTorch's default).

    x : ndarray of shape (m, c, h, w);  pool : (ph, pw)
    Returns ``(out, cache)``, out of shape (m, c, h // ph, w // pw).  The cache keeps x and
    out themselves (no copies), from which the backward pass finds each block's winner.
    """
    m, c, h, w = x.shape
    oh, ow = h // pool[0], w // pool[1]
    if oh == 0 or ow == 0:
        raise ValueError(f"pool {tuple(pool)} is larger than images of shape {x.shape}")
    views = _pool_views(x, pool, oh, ow)
    out = views[0].copy(order="K")  # "K": keep x's memory layout throughout
    for v in views[1:]:
        np.maximum(out, v, out=out)
    return out, (x, out, tuple(pool))


def maxpool_backward(dout, cache):
    """Gradient of ``maxpool_forward``: each block's gradient goes to its maximum only.

    Ties have one winner, the first maximum in row-major order within the block (as
    PyTorch's CPU kernel picks); dropped border rows and columns get zero.
    dout : ndarray of shape (m, c, oh, ow).  Returns dx of shape (m, c, h, w).
    """
    x, out, pool = cache
    if dout.shape != out.shape:
        raise ValueError(f"dout must have shape {out.shape}, got {dout.shape}")
    dx = np.zeros_like(x, dtype=dout.dtype)
    remaining = np.empty_like(out, dtype=dout.dtype)  # out's memory layout, dout's values:
    remaining[...] = dout  # the gradient not yet placed
    views = zip(_pool_views(x, pool, *out.shape[2:]), _pool_views(dx, pool, *out.shape[2:]))
    for v, dv in views:  # row-major order within each block
        np.multiply(remaining, v == out, out=dv)  # a maximum takes what is left ...
        remaining -= dv  # ... so a later tie finds nothing
    return dx


def avgpool_forward(x, pool):
    """Mean over non-overlapping (ph, pw) blocks, border rows and columns that do not fill a
    block dropped (as ``maxpool_forward``; PyTorch's ``avg_pool2d`` with stride = kernel).

    out[i, c, r, s] = (1 / (ph pw)) sum_{p, q} x[i, c, ph r + p, pw s + q]

    x : ndarray of shape (m, c, h, w);  pool : (ph, pw)
    Returns ``(out, cache)``, out of shape (m, c, h // ph, w // pw).
    """
    m, c, h, w = x.shape
    oh, ow = h // pool[0], w // pool[1]
    if oh == 0 or ow == 0:
        raise ValueError(f"pool {tuple(pool)} is larger than images of shape {x.shape}")
    views = _pool_views(x, pool, oh, ow)
    out = views[0].copy(order="K")
    for v in views[1:]:
        out += v
    out *= 1.0 / (pool[0] * pool[1])
    return out, (x.shape, tuple(pool))


def avgpool_backward(dout, cache):
    """Gradient of ``avgpool_forward``: each block's gradient shared equally by its ph*pw
    inputs, dx[i, c, ph r + p, pw s + q] = dout[i, c, r, s] / (ph pw); dropped borders get
    zero.  dout (m, c, oh, ow) -> dx (m, c, h, w)."""
    x_shape, pool = cache
    m, c, h, w = x_shape
    oh, ow = h // pool[0], w // pool[1]
    if dout.shape != (m, c, oh, ow):
        raise ValueError(f"dout must have shape {(m, c, oh, ow)}, got {dout.shape}")
    dx = np.zeros(x_shape, dtype=dout.dtype)
    share = dout * (1.0 / (pool[0] * pool[1]))
    for dv in _pool_views(dx, pool, oh, ow):
        dv[...] = share
    return dx


def global_avgpool_forward(x):
    """Each feature map's mean: out[i, c] = (1 / (h w)) sum_{r, s} x[i, c, r, s].

    x : ndarray of shape (m, c, h, w).  Returns ``(out, cache)``, out of shape (m, c).
    """
    return x.mean(axis=(2, 3)), x.shape


def global_avgpool_backward(dout, cache):
    """Gradient of ``global_avgpool_forward``: dx[i, c, r, s] = dout[i, c] / (h w).
    dout (m, c) -> dx (m, c, h, w) (a read-only broadcast view: do not write into it)."""
    m, c, h, w = cache
    return np.broadcast_to((dout * (1.0 / (h * w)))[:, :, None, None], cache)


# -- batch normalisation -----------------------------------------------------------------
# Ioffe and Szegedy (2015).  Statistics are taken per channel over (m, h, w) for feature
# maps (m, c, h, w) -- PyTorch's BatchNorm2d -- and per feature over m for rows (m, n) --
# BatchNorm1d.  Both are computed on x seen as rows (N, c), N = m h w or m: for a conv's
# channels-last output that view costs nothing and each sum runs down contiguous columns.
def _rows(x):
    """x as rows of channels, (N, c): (m, n) as it is, (m, c, h, w) as (m*h*w, c) -- a view
    when x is a channels-last view (as ``conv_forward``'s output is), else one copy."""
    if x.ndim == 2:
        return x
    if x.ndim == 4:
        return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])
    raise ValueError(f"batch normalisation needs rows (m, n) or images (m, c, h, w), got shape {x.shape}")


def _unrows(rows, shape):
    """Rows (N, c) back in the shape (m, c, h, w) (a view of channels-last memory) or (m, n)."""
    if len(shape) == 2:
        return rows
    m, c, h, w = shape
    return rows.reshape(m, h, w, c).transpose(0, 3, 1, 2)


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Batch normalisation in training mode, with the mini-batch's own statistics:

        mu = (1/N) sum x          var = (1/N) sum (x - mu)^2      (biased, per channel)
        xhat = (x - mu) / sqrt(var + eps)
        out = gamma xhat + beta

    x : (m, c, h, w) (per channel over m, h, w: N = m h w) or (m, n) (per feature over m: N = m)
    gamma, beta : (c,) or (n,)
    Returns ``(out, cache)``, out of x's shape; ``cache[-2:]`` are mu and var (c,), for the
    running averages (``core.modern.BatchNormLayer``).  The sums run over x as rows (N, c).
    """
    rows = _rows(x)
    mu = rows.mean(axis=0)
    xc = rows - mu
    var = np.mean(xc * xc, axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = xc
    xhat *= inv_std
    out = xhat * gamma + beta
    return _unrows(out, x.shape), (xhat, gamma, inv_std, mu, var)


def batchnorm_backward(dout, cache):
    """Gradients of ``batchnorm_forward`` (mu and var depend on every x of the channel):

        dbeta  = sum dout                 dgamma = sum dout xhat
        dx     = gamma / (N sqrt(var + eps)) (N dout - dbeta - xhat dgamma)

    dout of x's shape.  Returns ``(dx, dgamma, dbeta)``, dgamma and dbeta of shape (c,).
    """
    xhat, gamma, inv_std, _, _ = cache
    d = _rows(dout)
    n = len(d)
    dbeta = d.sum(axis=0)
    dgamma = np.sum(d * xhat, axis=0)
    dx = (n * d - dbeta - xhat * dgamma) * (gamma * inv_std / n)
    return _unrows(dx, dout.shape), dgamma, dbeta


def batchnorm_inference_forward(x, gamma, beta, mean, var, eps=1e-5):
    """Batch normalisation at inference, with fixed statistics (the running averages):

        xhat = (x - mean) / sqrt(var + eps),   out = gamma xhat + beta

    Shapes as ``batchnorm_forward``; mean, var (c,).  Returns ``(out, cache)``.
    """
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (_rows(x) - mean) * inv_std
    return _unrows(xhat * gamma + beta, x.shape), (xhat, gamma * inv_std)


def batchnorm_inference_backward(dout, cache):
    """Gradients of ``batchnorm_inference_forward`` (mean and var are constants here):
    dx = dout gamma / sqrt(var + eps), dgamma = sum dout xhat, dbeta = sum dout.
    Returns ``(dx, dgamma, dbeta)``."""
    xhat, scale = cache
    d = _rows(dout)
    return _unrows(d * scale, dout.shape), np.sum(d * xhat, axis=0), d.sum(axis=0)


# -- fully connected ---------------------------------------------------------------------
def fc_forward(x, W, b):
    """Z = x W^T + b: the book's z^l = w^l a^{l-1} + b^l (eq. 25) with one sample a row.

    x : ndarray of shape (m, n_in);  W : (n_out, n_in) (the book's w_jk);  b : (n_out,)
    Returns ``(Z, cache)``, Z of shape (m, n_out).
    """
    if x.ndim != 2 or x.shape[1] != W.shape[1]:
        raise ValueError(f"inputs must have shape (m, {W.shape[1]}), got {x.shape}")
    Z = x @ W.T
    Z += b
    return Z, (x, W)


def fc_backward(dZ, cache, need_dx=True):
    """Gradients of ``fc_forward`` -- chapter 2's equations for one layer, a batch at once.

    dZ : ndarray of shape (m, n_out), the layer's error delta^l = dC/dz^l
    Returns ``(dx, dW, db)``:

    - db = sum over rows of delta^l, shape (n_out,)            -- BP3, summed over the batch
    - dW = delta^l^T a^{l-1}, shape (n_out, n_in)              -- BP4, summed over the batch
    - dx = delta^l W, shape (m, n_in), = dC/da^{l-1}          -- BP2 before its (.) sigma'(z^{l-1}),
      which ``activation_backward`` of the layer below applies (None when ``need_dx`` is False).
    """
    x, W = cache
    dW = dZ.T @ x
    db = dZ.sum(axis=0)
    dx = dZ @ W if need_dx else None
    return dx, dW, db


# -- activations -------------------------------------------------------------------------
Activation = _functions.Activation

#: the elementwise activations a layer may apply: the very objects of ``functions.ACTIVATIONS``
#: (one table for the whole core; softmax is the output layer's, applied with the cost)
sigmoid, tanh, relu, linear = (_functions.ACTIVATIONS[name] for name in ("sigmoid", "tanh", "relu", "linear"))
ACTIVATIONS = {a.name: a for a in (sigmoid, tanh, relu, linear)}


def get_activation(name_or_fn):
    """The activation called ``name_or_fn`` ("sigmoid", "tanh", "relu" or "linear"), or the
    object itself when it is already one of them; TypeError/ValueError naming it otherwise."""
    if isinstance(name_or_fn, Activation) and ACTIVATIONS.get(name_or_fn.name) is name_or_fn:
        return name_or_fn
    if isinstance(name_or_fn, str):
        key = "relu" if name_or_fn == "ReLU" else name_or_fn
        if key in ACTIVATIONS:
            return ACTIVATIONS[key]
        raise ValueError(f"unknown activation {name_or_fn!r}; choose one of {', '.join(ACTIVATIONS)}")
    raise TypeError(
        f"activation_fn must be one of glassnet's sigmoid, tanh, ReLU or linear "
        f"(it needs a derivative), got {name_or_fn!r}"
    )


def activation_forward(Z, act):
    """A = act(Z), elementwise, any shape.  Returns ``(A, cache)``; Z is left unchanged."""
    A = act(Z)
    return A, (A, act)


def activation_backward(dA, cache):
    """dC/dZ = dC/dA (.) act'(Z), computed from the stored output A (the (.) sigma'(z) of BP1
    and BP2).  dA has A's shape; so has the result."""
    A, act = cache
    return dA * act.prime_from_output(A)


# -- softmax and the log-likelihood cost -------------------------------------------------------
def softmax(Z):
    """Row-wise softmax, e^{z_j} / sum_k e^{z_k} (book eq. 78), shifted by the row maximum.

    Z : ndarray of shape (m, n).  Returns an ndarray of shape (m, n), rows summing to 1.
    """
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    E /= E.sum(axis=1, keepdims=True)
    return E


def softmax_loglik_forward(Z, y):
    """The mean log-likelihood cost of a softmax output: C = -(1/m) sum_i ln a_{y_i}
    (book eq. 80, averaged over the mini-batch as network3 does).

    Z : ndarray of shape (m, n_classes), the weighted inputs z^L;  y : int array (m,)
    Returns ``(C, cache)``: C a Python float; cache holds the softmax A (m, n_classes).
    ln a is computed as z - logsumexp(z), so it stays finite even where a underflows.
    """
    if Z.ndim != 2 or y.shape != (Z.shape[0],):
        raise ValueError(f"need Z of shape (m, n) and labels of shape (m,), got {Z.shape} and {y.shape}")
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_a = shifted - log_norm
    C = -float(log_a[np.arange(len(y)), y].mean())
    return C, (np.exp(log_a), y)


def softmax_loglik_backward(cache):
    """delta^L = dC/dz^L = (a - y) / m, y one-hot: BP1 for softmax with the log-likelihood,
    where the softmax's Jacobian and the log's derivative cancel (book eq. 84) and 1/m is
    the mean over the mini-batch.  Returns an ndarray of shape (m, n_classes)."""
    A, y = cache
    delta = A.copy()
    delta[np.arange(len(y)), y] -= 1
    delta /= len(y)
    return delta


# -- dropout ---------------------------------------------------------------------------
def dropout_mask(rng, shape, p_dropout, dtype=np.float32):
    """A mask of 0s and 1s, each entry 1 (kept) with probability 1 - p_dropout.

    rng : numpy.random.Generator -- the network's one Generator, so masks follow the seed.
    Returns an ndarray of ``shape`` and ``dtype``.
    """
    if not 0.0 <= p_dropout < 1.0:
        raise ValueError(f"p_dropout must lie in [0, 1), got {p_dropout}")
    return (rng.random(shape) >= p_dropout).astype(dtype)


def dropout_forward(x, mask):
    """x (.) mask, with NO rescaling: the book's network3 instead multiplies the weights by
    (1 - p_dropout) at inference.  x and mask of the same shape.  Returns ``(out, mask)``."""
    if mask.shape != x.shape:
        raise ValueError(f"dropout mask of shape {mask.shape} does not match input of shape {x.shape}")
    return x * mask, mask


def dropout_backward(dout, mask):
    """Gradient of ``dropout_forward``: dout (.) mask, same shape."""
    return dout * mask
