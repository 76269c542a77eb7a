"""The optional compiled kernel: the same SGD step and forward pass, without NumPy's overheads.

At mini-batch 10 an epoch of the book's network is 5,000 small steps, and most of a
NumPy step is the ~1 microsecond each NumPy call costs, not arithmetic.  The C file
``_ckernel.c`` (built by ``pip install`` for AVX-512, AVX2 and plain x86-64; optional:
without a C compiler glassnet installs and runs on NumPy alone) runs whole runs of
mini-batches in one call: the
equations of ``Network.backprop`` (BP1-BP4) and ``Network.step``, one sample at a time
inside a batch, skipping the zero inputs of the first layer (most of an MNIST image),
and the forward pass of many rows on several threads.

It covers the book's network and chapter 3's: sigmoid neurons in every layer, the
quadratic or the cross-entropy cost, optional L2 weight decay, no momentum, float32 or
float64.  Anything else uses the NumPy path, which stays the reference: tests check that
both give the same weights and outputs.

Shapes: X (n, n_in) and Y (n, n_out), one sample a row; weights[l] (n_out, n_in).
The kernel's own parameter layout (one flat array; the first layer's weights transposed,
hidden widths padded to whole 64-byte vectors) is made by :func:`pack` and undone by
:func:`unpack`.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from ..core.functions import ACTIVATIONS, COSTS, exp_cap
from ..core.network import Network
from .builds import load_fastest

__all__ = [
    "available",
    "info",
    "supports",
    "supports_forward",
    "SparseRows",
    "sgd_batches",
    "forward",
    "pack",
    "unpack",
]

_state: dict = {}

#: below this many rows a forward pass stays in NumPy (one BLAS call is as fast there)
MIN_FORWARD_ROWS = 64


#: the kernel's builds, fastest first (setup.py makes them; see _ckernel.c)
VARIANTS = {"avx512": "_ckernel_avx512", "avx2": "_ckernel_avx2", "portable": "_ckernel"}


def _library():
    """The fastest built kernel this processor can run, or None (``builds.load_fastest``;
    ``GLASSNET_KERNEL`` chooses)."""
    if "lib" not in _state:
        lib = load_fastest(VARIANTS, load, lambda lib: bool(lib.glassnet_cpu_ok()))
        if lib is not None:
            lib.glassnet_prepare()
        _state["lib"] = lib
    return _state["lib"]


def load(path):
    """The kernel built as the shared library at ``path``, with its functions' C types set
    (the installed one is loaded by itself; tests load builds for other instruction sets)."""
    lib = ctypes.CDLL(str(path))
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    for suffix, real in (("f32", ctypes.c_float), ("f64", ctypes.c_double)):
        sgd = getattr(lib, f"glassnet_sgd_{suffix}")
        sgd.restype = i64
        sgd.argtypes = [ptr, i64, ptr, ptr, ptr, ptr, i64, ptr, i64, i64, i64, ptr, ptr, ptr, real, real, i64, real]
        csr = getattr(lib, f"glassnet_csr_{suffix}")
        csr.restype = i64
        csr.argtypes = [ptr, i64, i64, i64, ptr, ptr, ptr]
        fwd = getattr(lib, f"glassnet_forward_{suffix}")
        fwd.restype = i64
        fwd.argtypes = [ptr, i64, i64, i64, ptr, ptr, ptr, real, ptr, i64]
    lib.glassnet_kernel_info.restype = ctypes.c_char_p
    lib.glassnet_cpu_ok.restype = i64
    lib.glassnet_prepare.restype = None
    return lib


def available():
    """Whether the compiled kernel was built and loads."""
    return _library() is not None


def info():
    """What the kernel was compiled for (e.g. "C, AVX-512"), or None without it."""
    lib = _library()
    return lib.glassnet_kernel_info().decode() if lib is not None else None


#: the C code keeps per-layer pointers in arrays of this size
MAX_LAYERS = 63


def _sigmoid_network(network):
    """The built-in sigmoid in every layer (the very objects: a custom Activation that is
    merely named "sigmoid" is not what the kernel computes), and finite first-layer weights
    (the kernel skips zero inputs, so it would miss the NaN of 0 * inf that NumPy gives)."""
    sigmoid = ACTIVATIONS["sigmoid"]
    return (
        isinstance(network, Network)
        and network.activation is sigmoid
        and network.output_activation is sigmoid
        and network.dtype in (np.float32, np.float64)
        and 2 <= network.num_layers <= MAX_LAYERS + 1
        and bool(np.isfinite(network.weights[0]).all())
    )


def _small_later_layers(network):
    """The kernel works one sample at a time past the first layer: fine for small layers,
    slower than a BLAS product over the batch for big ones (784-800-800-10)."""
    return sum(a * b for a, b in zip(network.sizes[1:-1], network.sizes[2:])) <= MAX_LATER_WEIGHTS


#: measured (MNIST, 2 cores): the compiled SGD loop beats the NumPy step for every
#: mini-batch up to 32 (784-30-10, batch 10: 4-7x; 784-800-10: 3x) and, for larger
#: mini-batches, while the first hidden layer has up to 300 neurons (784-30-10, batch 100:
#: 2.5x; 784-800-10, batch 100: 0.7x); past the first layer at most this many weights
MAX_LATER_WEIGHTS = 32768
#: above this mini-batch size the NumPy step's BLAS products are efficient, and the kernel
#: would hold each sample's nonzero inputs (8 bytes each) for a whole batch
MAX_BATCH = 1024
#: the forward pass beats BLAS up to 64 hidden neurons (784-30-10: 2.6x; 784-100-10: 0.9x)
MAX_FORWARD_HIDDEN = 64
#: and while at most this fraction of the inputs is nonzero (measured break-even: ~0.55)
MAX_FORWARD_DENSITY = 0.5


def supports(network, momentum, mini_batch_size):
    """Whether the compiled SGD loop computes what ``network.step`` would, and pays off."""
    return (
        available()
        and not momentum
        and mini_batch_size >= 1
        and _sigmoid_network(network)
        and any(network.cost is COSTS[name] for name in ("quadratic", "cross-entropy"))
        and _small_later_layers(network)
        and (mini_batch_size <= 32 or network.sizes[1] <= 300)
        and mini_batch_size <= MAX_BATCH
    )


def supports_forward(network, X):
    """Whether ``forward`` computes ``network.feedforward(X)`` and pays off: enough rows,
    a small first hidden layer, and inputs mostly zero -- judged from up to 64 rows spread
    over X (on dense inputs BLAS's product is faster: 784-30-10, 10,000 random rows, 5.9 ms
    against 3.6 ms; MNIST, 19% nonzero, 1.5 ms against 3.6 ms)."""
    if not (
        available()
        and len(X) >= MIN_FORWARD_ROWS
        and _sigmoid_network(network)
        and network.sizes[1] <= MAX_FORWARD_HIDDEN
        and _small_later_layers(network)
    ):
        return False
    sample = X[:: max(1, len(X) // 64)][:64]
    return np.count_nonzero(sample) <= MAX_FORWARD_DENSITY * sample.size


def _widths(network):
    """P: the padded width of every layer (P[0], the input, is not padded)."""
    lanes = 64 // network.dtype.itemsize
    return np.array([network.sizes[0]] + [-(-s // lanes) * lanes for s in network.sizes[1:]], np.int64)


def pack(network, transposed=False):
    """The network's parameters in the kernel's layout: ``(params, P)``.

    params is one flat array: Wt^1 (n_in, P[1]) = weights[0] transposed, b^1 (P[1]), then
    for each later layer W (n_out, P[previous]) and b (P[layer]); padding entries are 0.
    ``transposed``: the forward pass's layout, every layer's weights transposed, the
    later ones as (n_in, P[layer]).
    """
    P = _widths(network)
    parts = []
    for l, (w, b) in enumerate(zip(network.weights, network.biases)):
        n_out, n_in = w.shape
        if l == 0 or transposed:
            W = np.zeros((n_in, P[l + 1]), network.dtype)
            W[:, :n_out] = w.T
        else:
            W = np.zeros((n_out, P[l]), network.dtype)
            W[:, :n_in] = w
        B = np.zeros(P[l + 1], network.dtype)
        B[:n_out] = b
        parts += [W.ravel(), B]
    params = _aligned_empty(sum(part.size for part in parts), network.dtype)
    np.concatenate(parts, out=params)
    return params, P


def _aligned_empty(n, dtype):
    """An empty 1-D array starting on a 64-byte boundary: every padded row then fills
    whole cache lines, and no vector load straddles two (25% faster here)."""
    dtype = np.dtype(dtype)
    buf = np.empty(n + 64 // dtype.itemsize, dtype)
    start = (-buf.ctypes.data % 64) // dtype.itemsize
    return buf[start : start + n]


def unpack(network, params, P):
    """Copy the parameters of the kernel's layout back into ``network`` (in place)."""
    at = 0
    for l, (w, b) in enumerate(zip(network.weights, network.biases)):
        n_out, n_in = w.shape
        if l == 0:
            W = params[at : at + n_in * P[1]].reshape(n_in, P[1])
            w[...] = W[:, :n_out].T
        else:
            W = params[at : at + n_out * P[l]].reshape(n_out, P[l])
            w[...] = W[:, :n_in]
        at += W.size
        b[...] = params[at : at + n_out]
        at += P[l + 1]


def _suffix(dtype):
    return "f32" if dtype == np.float32 else "f64"


class SparseRows:
    """The nonzero entries of each row of X (n, n_in), for the kernel: compressed sparse rows.

    An MNIST image is 80% zeros; the kernel reads a quarter of the bytes when it gets its
    inputs this way.  Made once per training run (by ``KernelEngine.prepare``), since X does
    not change between epochs there; it refers to X's values as they were when made.
    """

    def __init__(self, X, max_density=1.0):
        X = np.ascontiguousarray(X)
        if X.ndim != 2 or X.dtype not in (np.float32, np.float64):
            raise ValueError("SparseRows needs a 2-D float32 or float64 array")
        fn = getattr(_library(), f"glassnet_csr_{_suffix(X.dtype)}")
        self.shape, self.dtype = X.shape, X.dtype
        self.rowptr = np.empty(len(X) + 1, np.int64)
        nnz = fn(X.ctypes.data, X.shape[1], len(X), X.shape[1], self.rowptr.ctypes.data, None, None)
        self.density = nnz / max(X.size, 1)
        if self.density > max_density:
            raise _TooDense
        room = 64 // X.dtype.itemsize  # the kernel stores whole vectors
        cols, vals = np.empty(nnz + room, np.int32), np.empty(nnz + room, X.dtype)
        fn(X.ctypes.data, X.shape[1], len(X), X.shape[1], self.rowptr.ctypes.data, cols.ctypes.data, vals.ctypes.data)
        self.cols, self.vals = cols[:nnz], vals[:nnz]

    @classmethod
    def of(cls, X, max_density=0.5):
        """SparseRows of X, or None when more than ``max_density`` of X is nonzero (then
        the kernel reads X itself, which costs less than 2x its size in copies)."""
        try:
            return cls(X, max_density)
        except _TooDense:
            return None


class _TooDense(Exception):
    pass


def sgd_batches(network, X, Y, order, mini_batch_size, eta, lmbda=0.0, n=1, rows=None):
    """Run the SGD steps of the mini-batches ``order`` in compiled code, updating ``network``.

    Equivalent to ``network.step(X[batch], Y[batch], eta, lmbda, n)`` for each batch
    ``order[0:m], order[m:2m], ...``.  ``rows``: X as :class:`SparseRows`, if made.
    """
    dt = network.dtype
    X = np.ascontiguousarray(X, dtype=dt)
    Y = np.ascontiguousarray(Y, dtype=dt)
    n_in, n_out = network.sizes[0], network.sizes[-1]
    if X.ndim != 2 or X.shape[1] != n_in or Y.shape != (len(X), n_out):
        raise ValueError(
            f"X must have shape (n, {n_in}) and Y (n, {n_out}) for this network, got {X.shape} and {Y.shape}"
        )
    if rows is not None and (rows.shape != X.shape or rows.dtype != dt):
        raise ValueError(f"rows were made from a {rows.shape} {rows.dtype} array, not this {X.shape} {dt} one")
    if int(mini_batch_size) < 1:
        raise ValueError(f"mini_batch_size must be at least 1, got {mini_batch_size}")
    order = np.asarray(order)
    if order.ndim != 1 or (len(order) and not np.issubdtype(order.dtype, np.integer)):
        raise IndexError(f"order must be a 1-D array of integer row numbers, got {order.dtype} {order.shape}")
    order = np.ascontiguousarray(order, dtype=np.int64)
    if len(order) and (order.min() < 0 or order.max() >= len(X)):
        raise IndexError("order must index rows of X and Y")
    params, P = pack(network)
    sizes = np.array(network.sizes, np.int64)
    m = int(min(mini_batch_size, max(len(order), 1)))
    real = dt.type
    status = getattr(_library(), f"glassnet_sgd_{_suffix(dt)}")(
        X.ctypes.data,
        X.shape[1],
        *(
            (rows.rowptr.ctypes.data, rows.cols.ctypes.data, rows.vals.ctypes.data)
            if rows is not None
            else (None, None, None)
        ),
        Y.ctypes.data,
        Y.shape[1],
        order.ctypes.data,
        len(order),
        m,
        len(sizes) - 1,
        sizes.ctypes.data,
        P.ctypes.data,
        params.ctypes.data,
        real(eta),
        real(1.0 - eta * lmbda / n),
        int(network.cost.name == "cross-entropy"),
        real(exp_cap(dt)),
    )
    if status:
        raise MemoryError(
            "the compiled SGD kernel could not allocate its buffers"
            if status == -1
            else f"the compiled SGD kernel refused the network (status {status})"
        )
    unpack(network, params, P)


def forward(network, X, threads=None):
    """``network.feedforward(X)`` for a batch X (rows, n_in), computed by the kernel."""
    dt = network.dtype
    X = np.ascontiguousarray(X, dtype=dt)
    if X.ndim != 2 or X.shape[1] != network.sizes[0]:
        raise ValueError(f"X must have shape (n, {network.sizes[0]}) for this network, got {X.shape}")
    params, P = pack(network, transposed=True)
    sizes = np.array(network.sizes, np.int64)
    out = np.empty((len(X), sizes[-1]), dt)
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    status = getattr(_library(), f"glassnet_forward_{_suffix(dt)}")(
        X.ctypes.data,
        X.shape[1],
        len(X),
        len(sizes) - 1,
        sizes.ctypes.data,
        P.ctypes.data,
        params.ctypes.data,
        dt.type(exp_cap(dt)),
        out.ctypes.data,
        int(threads),
    )
    if status:
        raise MemoryError("the compiled forward kernel could not allocate its buffers")
    return out
