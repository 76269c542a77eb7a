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
    "maxpool_forward",
    "maxpool_backward",
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
def im2col(x, kh, kw):
    """Every (kh, kw) patch of ``x`` as a row: the step that turns convolution into a matmul.

    x : ndarray of shape (m, c, h, w), any memory layout
    Returns an ndarray of shape (m * oh * ow, kh * kw * c), oh = h - kh + 1, ow = w - kw + 1,
    a copy.  Row ``(i * oh + r) * ow + s`` is the patch of sample i whose top-left corner
    is (r, s), read patch row p, then patch column q, then channel -- the order of
    ``w.transpose(0, 2, 3, 1).reshape(f, -1)`` for filters w of shape (f, c, kh, kw).
    """
    m, c, h, w = x.shape
    windows = sliding_window_view(x.transpose(0, 2, 3, 1), (kh, kw), axis=(1, 2))
    oh, ow = windows.shape[1], windows.shape[2]  # windows: (m, oh, ow, c, kh, kw)
    if c == 1:  # one channel: copy patch-major, so that x is read in rows of ow numbers
        return windows.transpose(4, 5, 3, 0, 1, 2).reshape(kh * kw * c, m * oh * ow).T
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(m * oh * ow, kh * kw * c)


def _filters_as_matrix(w):
    """w (f, c, kh, kw) as the (f, kh * kw * c) matrix whose columns match ``im2col``'s."""
    return w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def conv_forward(x, w):
    """Valid convolution, stride 1, as one matrix product (no bias: see ``ConvPoolLayer``).

    out[i, f, r, s] = sum_{c, p, q} x[i, c, r + p, s + q] * w[f, c, p, q]

    This is cross-correlation, the convention of PyTorch's ``conv2d``; Theano's ``conv2d``
    (the book's) flips the filters first.  The two are the same family of functions --
    a learned filter is just stored flipped -- so training is unchanged.

    x : ndarray of shape (m, c, h, w);  w : ndarray of shape (f, c, kh, kw)
    Returns ``(out, cache)``, out of shape (m, f, h - kh + 1, w - kw + 1) (a view of
    channels-last memory, see above).
    """
    m, c, h, wd = x.shape
    f, c_w, kh, kw = w.shape
    if c != c_w or kh > h or kw > wd:
        raise ValueError(f"filters of shape {w.shape} do not fit images of shape {x.shape}")
    oh, ow = h - kh + 1, wd - kw + 1
    cols = im2col(x, kh, kw)  # (m*oh*ow, kh*kw*c)
    out = cols @ _filters_as_matrix(w).T  # (m*oh*ow, f): the one product
    return out.reshape(m, oh, ow, f).transpose(0, 3, 1, 2), (cols, x.shape, w)


def conv_backward(dout, cache, need_dx=True):
    """Gradients of ``conv_forward``.

    dout : ndarray of shape (m, f, oh, ow), dC/d(out)
    Returns ``(dx, dw)``: dx of shape (m, c, h, w) (None when ``need_dx`` is False, as for
    a network's first layer, whose input needs no gradient) and dw of shape (f, c, kh, kw).

    dw is one product, dout's rows against the im2col patches.  dx is col2im: a product
    gives every patch's gradient (one (m*oh*ow, c) block per patch offset (p, q)), and
    each of the kh*kw blocks is added back where its patches came from -- kh*kw vectorised
    additions, no loop over samples or positions.
    """
    cols, x_shape, w = cache
    m, c, h, wd = x_shape
    f, _, kh, kw = w.shape
    oh, ow = h - kh + 1, wd - kw + 1
    if dout.shape != (m, f, oh, ow):
        raise ValueError(f"dout must have shape {(m, f, oh, ow)}, got {dout.shape}")
    d = dout.transpose(0, 2, 3, 1).reshape(m * oh * ow, f)  # rows match the patches
    dw_matrix = (cols.T @ d).T  # = d.T @ cols, BLAS's faster order
    dw = np.ascontiguousarray(dw_matrix.reshape(f, kh, kw, c).transpose(0, 3, 1, 2))
    if not need_dx:
        return None, dw
    w_pq = w.transpose(2, 3, 0, 1).reshape(kh * kw, f, c)  # w_pq[p*kw + q] = w[:, :, p, q]
    dcols = np.matmul(d, w_pq).reshape(kh, kw, m, oh, ow, c)  # dcols[p, q] is contiguous
    dx = np.zeros((m, h, wd, c), dtype=dcols.dtype)  # channels-last, like dcols
    for p in range(kh):  # col2im, one offset at a time
        for q in range(kw):
            dx[:, p : p + oh, q : q + ow, :] += dcols[p, q]
    return dx.transpose(0, 3, 1, 2), dw


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
