"""The compiled engine for chapter 6's layer networks: the same SGD steps, without NumPy's overheads.

At the book's mini-batch of 10 a step of ``LayerNetwork.step`` is some sixty NumPy calls on
small arrays, and their fixed costs, not the arithmetic, set the pace.  The C file
``_layerkernel.c`` (built by ``pip install`` for AVX-512, AVX2 and plain x86-64, like the
chapter 1-3 kernel; optional: without a C compiler glassnet runs on NumPy alone) runs
thousands of mini-batches per call, with the equations of ``core.layers`` and
``core.layernet``:

* valid convolution as cross-correlation (the patches, read where they lie in the image,
  times the filters, one blocked product; im2col rows for the backward pass),
  max-pooling (a tied block's gradient to its first maximum), then activation(pooled + b);
* ``core.modern``'s layers: convolution with zero padding and a stride, with or without bias
  (blocked products: the forward pass, im2col's unless stride 1 and no padding, dW = dZ^T col
  and dx = col2im(dZ W));
  batch normalisation of feature maps or of rows (the mini-batch's statistics in training,
  taken per image and added in a fixed order, the running averages updated in the layer's
  ``running_mean``/``running_var`` each step; the running ones at inference); max-, avg- and
  global avg-pooling;
* fully connected and softmax layers, dropout masks on their inputs without rescaling;
* the mean log-likelihood over the mini-batch plus 0.5 lmbda sum w^2 / n_batches, and
  plain SGD ``p -= eta g``, momentum ``v = mu v - eta g; p += v`` or Adam's step
  (``training.optimizers.Adam``: its m, v and step count are used and updated);
* a learning rate per mini-batch (a schedule such as one-cycle) read from an array.

Dropout masks are drawn here from ``network.rng``, in bulk, in exactly the order and
shapes ``LayerNetwork.draw_masks`` draws them batch after batch, so this engine and the
NumPy path give the same weights (to float rounding) for the same seed.

A step's work is shared by up to two threads (``default_threads``): the images of the
conv layers, the units (forward) and the weight columns (backward) of the fully connected
layers.  A thread claims the next piece when it is free, and every piece -- and the order in
which the conv gradient's parts are added -- is fixed, so the weights are the same, to the
bit, for any number of threads (tests/test_layers_fast.py checks it).

Use it through the engine protocol of ``glassnet.engines``::

    engine = LayerKernelEngine()                       # when supports(network, m, optimizer)
    engine.prepare(X).epoch(network, X, labels, order, m, eta, optimizer, on_batch)

and ``logits(network, X)`` / ``forward(network, X)`` for inference (``network.logits`` /
``network.feedforward``).  Shapes: X (n, c, h, w) or (n, c*h*w) (or (n, n_in) for a network
of fully connected layers only), labels int (n,), weights in the network's own layouts.
"""

from __future__ import annotations

import ctypes
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..core import layers as L
from ..core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
from ..core.modern import AvgPoolLayer, BatchNormLayer, ConvLayer, GlobalAvgPoolLayer, MaxPoolLayer
from ..errors import InputError
from .builds import load_fastest

__all__ = ["available", "info", "supports", "LayerKernelEngine", "sgd_batches", "draw_masks", "logits", "forward"]

#: the builds, fastest first (setup.py makes them)
VARIANTS = {"avx512": "_layerkernel_avx512", "avx2": "_layerkernel_avx2", "portable": "_layerkernel"}
#: one layer's description for the kernel: kind, act, dropout, n_in, n_out, f, c, h, w, kh, kw, ph, pw,
#: pad, stride, bias (zeros where a kind has no such number)
FIELDS = 16
MAX_LAYERS = 64
#: the kernel's layer kinds, by exact class (a batch norm of rows is kind 5); 0-2 and 5 read rows
#: once the images (kinds 0, 3, 4, 6, 7, 8) are behind
KINDS = {
    ConvPoolLayer: 0,
    FullyConnectedLayer: 1,
    SoftmaxLayer: 2,
    ConvLayer: 3,
    BatchNormLayer: 4,
    MaxPoolLayer: 6,
    AvgPoolLayer: 7,
    GlobalAvgPoolLayer: 8,
}
BN_ROWS = 5
IMAGE_KINDS = {0, 3, 4, 6, 7, 8}
ACTIVATION_CODES = {"linear": 0, "sigmoid": 1, "tanh": 2, "relu": 3}
#: dropout masks drawn per call into the kernel at most (8 bytes each while drawn)
MASK_VALUES_PER_CALL = 4_000_000
#: samples per call without dropout (one progress report and stop check per call)
SAMPLES_PER_CALL = 10_000
#: measured (2 cores, float32, the book's two networks, benchmarks/bench_layers.py): the
#: kernel beats the NumPy step at every mini-batch size tried, 1 (6-8x) to 256 (1.6-2x);
#: above this one NumPy's BLAS products are left to it (the kernel's buffers grow with it)
MAX_BATCH = 512

_state: dict = {}


def _library():
    """The fastest built kernel this processor runs, or None (``builds.load_fastest``;
    ``GLASSNET_KERNEL=off``: NumPy only; =avx512|avx2|portable: that build)."""
    if "lib" not in _state:
        _state["lib"] = load_fastest(VARIANTS, load, lambda lib: bool(lib.glassnet_layers_cpu_ok()))
    return _state["lib"]


def load(path):
    """The kernel built as the shared library at ``path``, its functions' C types set."""
    lib = ctypes.CDLL(str(path))
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    for suffix, real in (("f32", ctypes.c_float), ("f64", ctypes.c_double)):
        train = getattr(lib, f"glassnet_layers_train_{suffix}")
        train.restype = i64
        train.argtypes = [
            ptr,
            i64,
            ptr,
            ptr,
            ptr,
            ptr,
            ptr,
            ptr,
            ptr,
            ptr,
            ptr,
            i64,
            i64,
            ptr,
            ptr,
            real,
            real,
            i64,
            ptr,
        ]
        fwd = getattr(lib, f"glassnet_layers_forward_{suffix}")
        fwd.restype = i64
        fwd.argtypes = [ptr, i64, ptr, ptr, ptr, ptr, i64, ptr, i64]
    lib.glassnet_layers_cpu_ok.restype = i64
    lib.glassnet_layers_info.restype = ctypes.c_char_p
    return lib


def available():
    """Whether the compiled layer kernel was built and loads on this processor."""
    return _library() is not None


def info():
    """What the kernel was compiled for (e.g. "C, AVX-512"), or None without it."""
    lib = _library()
    return lib.glassnet_layers_info().decode() if lib is not None else None


# -- what the kernel runs ---------------------------------------------------------------------
def _activation_code(layer):
    """The kernel's code for the layer's activation, or None when it is not one of
    ``core.layers``' own four (the very objects: the kernel knows only their formulas)."""
    act = layer.activation_fn
    code = ACTIVATION_CODES.get(getattr(act, "name", None))
    return code if code is not None and act is L.ACTIVATIONS[act.name] else None


def _layer_row(layer):
    """The kernel's 16 numbers for one layer, or None if it is not one the kernel runs."""
    kind, code = KINDS.get(type(layer)), _activation_code(layer)
    if kind is None or code is None or (layer.p_dropout > 0 and kind not in (1, 2)):
        return None  # (dropout only on the inputs of fully connected and softmax layers)
    if kind == 4 and len(layer.input_shape) == 1:
        kind = BN_ROWS
    row = [kind, code, int(layer.p_dropout > 0), layer.n_in, layer.n_out] + [0] * 11
    if kind in (0, 3):
        f, c, kh, kw = layer.filter_shape
        _, h, w = layer.input_shape
        row[5:11] = [f, c, h, w, kh, kw]
        if kind == 0:
            row[11:13] = layer.poolsize
            positions = (h - kh + 1) * (w - kw + 1)
        else:
            row[13:16] = [layer.padding, layer.stride, int(layer.bias)]
            positions = layer.output_shape[1] * layer.output_shape[2]
        if positions >= 1 << 24:
            return None
    elif kind in IMAGE_KINDS:  # batch norm of maps, pools: c, h, w (and the pool's block)
        c, h, w = layer.input_shape
        if h * w >= 1 << 24:
            return None
        row[6:9] = [c, h, w]
        if kind in (6, 7):
            row[11:13] = layer.poolsize
    elif kind == BN_ROWS:
        row[6] = layer.n_in
    return row


def _spec(network):
    """The (layers, 16) int64 description of ``network`` for the kernel, or None if some
    layer is not one it runs (or an image layer follows rows)."""
    rows, images_done = [], False
    for layer in network.layers:
        row = _layer_row(layer)
        if row is None or (images_done and row[0] in IMAGE_KINDS):
            return None
        images_done = row[0] not in IMAGE_KINDS
        rows.append(row)
    return np.array(rows, np.int64).reshape(-1, FIELDS)


def _per_layer(network, flat):
    """[w0, b0, w1, b1, ...] from ``flat`` (arrays in ``network.params()`` order: parameters,
    velocities or moments), None where a layer has no such array (pools; a conv's b without bias)."""
    out, at = [], 0
    for layer in network.layers:
        mine = dict(zip(layer.param_keys, flat[at : at + len(layer.param_keys)]))
        at += len(layer.param_keys)
        out += [mine.get("w"), mine.get("b")]
    return out


def _batchnorm(network):
    """[running_mean0, running_var0, ...] (None for layers without them) and the (layers, 2)
    float64 momentum and eps of each batch norm (zeros elsewhere)."""
    buffers, hyper = [], np.zeros((len(network.layers), 2))
    for l, layer in enumerate(network.layers):
        stats = layer.buffers
        buffers += [stats.get("running_mean"), stats.get("running_var")]
        if isinstance(layer, BatchNormLayer):
            hyper[l] = layer.momentum, layer.eps
    return buffers, hyper


def _check_batch_sizes(network, sizes):
    """InputError (as the core's) when a batch norm would see one value a channel in training."""
    smallest = min(sizes, default=2)
    for layer in network.layers:
        if isinstance(layer, BatchNormLayer) and smallest * (layer.n_in // layer.channels) < 2:
            raise InputError(
                "batch normalisation needs more than one value per channel in training, got a "
                f"mini-batch of {smallest} for {layer.input_shape}"
            )


def _momentum(optimizer):
    """mu for ``optimizer``: 0.0 for plain SGD (or None) and Adam, mu for glassnet's Momentum
    (which keeps its velocities in ``velocities``), None for anything else."""
    if optimizer is None or getattr(optimizer, "plain", False) or _adam(optimizer):
        return 0.0
    mu = float(getattr(optimizer, "momentum", 0.0) or 0.0)
    return mu if mu > 0 and hasattr(optimizer, "velocities") else None


def _adam(optimizer):
    """Whether ``optimizer`` is glassnet's Adam (named "adam", its moments in ``m`` and ``v``,
    its step count ``t``, its betas and eps), whose step the kernel takes too."""
    return getattr(optimizer, "name", None) == "adam" and all(
        hasattr(optimizer, a) for a in ("m", "v", "t", "beta1", "beta2", "eps")
    )


def supports(network, mini_batch_size, optimizer=None):
    """Whether the kernel takes exactly ``network``'s steps with these settings, and pays off.

    network : a ``LayerNetwork`` of ConvPool, FullyConnected and Softmax layers and core.modern's
        Conv, BatchNorm, MaxPool, AvgPool and GlobalAvgPool layers (the image layers first) with
        glassnet's own activations, float32 or float64;  mini_batch_size : int, at most ``MAX_BATCH``;
    optimizer : None, plain SGD (``plain`` True), glassnet's ``Momentum`` or ``Adam``.
    """
    return (
        isinstance(network, LayerNetwork)
        and available()
        and network.dtype in (np.float32, np.float64)
        and 1 <= len(network.layers) <= MAX_LAYERS
        and 1 <= int(mini_batch_size) <= MAX_BATCH
        and _momentum(optimizer) is not None
        and _spec(network) is not None
    )


# -- calling the kernel -------------------------------------------------------------------------
def _threads():
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


#: threads for training steps at most: a step's phases are short (at mini-batch 10, a
#: millisecond or two in all), so more threads mostly wait for one another
MAX_TRAINING_THREADS = 2
#: below this mini-batch size one thread (a step has too little work to share)
MIN_BATCH_FOR_THREADS = 4


def default_threads(mini_batch_size):
    """Threads for training steps on mini-batches of this size: the usable cores, at most
    ``MAX_TRAINING_THREADS``, one for tiny mini-batches; ``GLASSNET_THREADS=n`` overrides.

    Measured on 2 shared cores (benchmarks/bench_layers.py): 2 threads take 0.6-0.75x the
    time of one when the second core is free, and about the same time as one when other
    processes keep both cores busy (threads claim tasks as they come, so a step never waits
    for a thread the system has not scheduled, only for a task one has begun)."""
    setting = os.environ.get("GLASSNET_THREADS", "").strip()
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    if int(mini_batch_size) < MIN_BATCH_FOR_THREADS:
        return 1
    return max(1, min(_threads(), MAX_TRAINING_THREADS))


def _suffix(dtype):
    return "f32" if dtype == np.float32 else "f64"


def _pointers(arrays):
    """A C array of pointers to ``arrays`` (which must stay alive while it is used; None: NULL)."""
    return (ctypes.c_void_p * len(arrays))(*[None if a is None else a.ctypes.data for a in arrays])


class _Params:
    """The network's parameter arrays (and velocities, running statistics) as C-contiguous
    arrays the kernel may update in place: the arrays themselves where they already are, else
    copies that ``write_back`` returns.  None entries (a layer without that array) stay None."""

    def __init__(self, arrays, dtype):
        self.originals = arrays
        self.arrays = [
            a if a is None or (a.flags.c_contiguous and a.dtype == dtype) else np.ascontiguousarray(a, dtype)
            for a in arrays
        ]
        self.pointers = _pointers(self.arrays)

    def write_back(self):
        for original, work in zip(self.originals, self.arrays):
            if work is not original:
                original[...] = work


def _inputs(network, X):
    """X as the kernel reads it: C-contiguous rows of n_in numbers in the network's dtype."""
    X = network.check_inputs(X)
    return np.ascontiguousarray(X.reshape(len(X), network.layers[0].n_in))


def draw_masks(network, batch_sizes):
    """Every dropout mask of the mini-batches of ``batch_sizes``, drawn from ``network.rng`` as
    ``network.draw_masks(m)`` would draw them, batch after batch.

    Returns a uint8 array of 0s and 1s: for each batch, for each dropout layer in order, its
    (m, n_in) mask, row-major, one after another (the kernel's reading order).  Drawn in
    one ``rng.random`` call: a Generator's doubles come one per draw, so one long draw equals
    the many short ones (tests/test_layers_fast.py checks it against ``draw_masks``).
    """
    dropping = [(layer.n_in, layer.p_dropout) for layer in network.layers if layer.p_dropout > 0]
    if not dropping or not len(batch_sizes):
        return np.zeros(1, np.uint8)
    per_sample = sum(n for n, _ in dropping)
    sizes = np.asarray(batch_sizes, np.int64)
    u = network.rng.random(int(sizes.sum()) * per_sample)
    out = np.empty(u.size, np.uint8)
    at = 0
    for m, count in _runs(sizes):  # runs of equal-size batches, vectorised per layer
        block, span = u[at : at + count * m * per_sample], m * per_sample
        block, dest = block.reshape(count, span), out[at : at + count * span].reshape(count, span)
        offset = 0
        for n, p in dropping:
            np.greater_equal(block[:, offset : offset + m * n], p, out=dest[:, offset : offset + m * n])
            offset += m * n
        at += count * span
    return out


def _runs(sizes):
    """[(size, count), ...] for consecutive equal entries of ``sizes``."""
    runs = []
    for s in sizes.tolist():
        if runs and runs[-1][0] == s:
            runs[-1][1] += 1
        else:
            runs.append([s, 1])
    return runs


def _call_status(status, what):
    if status == -1:
        raise MemoryError(f"the compiled layer kernel could not allocate its buffers for {what}")
    if status:
        raise ValueError(f"the compiled layer kernel refused the network for {what} (status {status})")


def _batch_sizes(n_samples, mini_batch_size):
    """The sizes of the mini-batches of n_samples: m, m, ..., and a last partial one."""
    return [min(mini_batch_size, n_samples - s) for s in range(0, n_samples, mini_batch_size)]


def _arrays(network, X, y, order, mini_batch_size):
    """X, y and order as the kernel reads them (checked), and the mini-batch size."""
    X = _inputs(network, X)
    y = np.ascontiguousarray(network.check_labels(y, len(X)), np.int64)
    m = int(mini_batch_size)
    if m < 1:
        raise ValueError(f"mini_batch_size must be at least 1, got {mini_batch_size}")
    order = np.ascontiguousarray(order, np.int64)
    if order.ndim != 1 or (len(order) and (order.min() < 0 or order.max() >= len(X))):
        raise IndexError("order must be a 1-D array of row numbers of X")
    return X, y, order, m


def sgd_batches(network, X, y, order, mini_batch_size, eta, lmbda=0.0, n=1, optimizer=None, threads=None, masks=None):
    """The SGD steps of the mini-batches ``order[0:m], order[m:2m], ...`` (the last may be
    partial), in compiled code, updating ``network`` in place.

    Equivalent to ``network.step(X[b], y[b], eta, lmbda, n)`` for each batch b, or with
    glassnet's ``Momentum`` or ``Adam`` optimizer to its ``step`` (its velocities, or its
    moments and step count, are used and updated).
    X : (N, ...) inputs in the network's layout;  y : int labels (N,);  order : row numbers;
    eta : one rate, or an array (n_batches,) of one rate per mini-batch (a schedule's).
    threads : how many threads share each step (default ``default_threads``); the results
    are the same for any number.  masks : these batches' ``draw_masks``, if already drawn.
    Returns the sum over the batches of their mean log-likelihood cost (without L2).
    """
    spec, mu = _spec(network), _momentum(optimizer)
    if spec is None or mu is None:
        raise ValueError("the compiled layer kernel does not run this network or optimizer")
    dt = network.dtype
    X, y, order, m = _arrays(network, X, y, order, mini_batch_size)
    sizes = _batch_sizes(len(order), m)
    _check_batch_sizes(network, sizes)
    masks = draw_masks(network, sizes) if masks is None else masks
    etas = _etas(eta, len(sizes))
    params = _Params(_per_layer(network, network.params()), dt)
    velocities, squares, adam = _optimizer_state(network, optimizer, mu)
    buffers, hyper = _batchnorm(network)
    stats = _Params(buffers, dt)
    cost = ctypes.c_double(0.0)
    status = getattr(_library(), f"glassnet_layers_train_{_suffix(dt)}")(
        spec.ctypes.data,
        len(spec),
        params.pointers,
        velocities.pointers if velocities else None,
        squares.pointers if squares else None,
        stats.pointers,
        hyper.ctypes.data,
        adam.ctypes.data if adam is not None else None,
        X.ctypes.data,
        y.ctypes.data,
        order.ctypes.data,
        len(order),
        max(1, min(m, len(order))),
        masks.ctypes.data,
        etas.ctypes.data,
        dt.type(float(lmbda) / n),
        dt.type(mu or 0.0),
        default_threads(m) if threads is None else max(1, int(threads)),
        ctypes.byref(cost),
    )
    _call_status(status, "training")
    params.write_back()
    for state in (velocities, squares, stats):
        if state is not None:
            state.write_back()
    if adam is not None:
        optimizer.t += len(sizes)
    return cost.value


def _optimizer_state(network, optimizer, mu):
    """``(velocities, squares, adam)`` for the kernel: the Momentum optimizer's velocities (mu
    > 0), or Adam's m and v and its (beta1, beta2, eps, t) float64, as per-layer ``_Params``
    (made, at zero, on the first step); None for what the optimizer does not keep."""
    dt = network.dtype
    if mu:
        if optimizer.velocities is None:
            optimizer.velocities = [np.zeros_like(p) for p in network.params()]
        return _Params(_per_layer(network, optimizer.velocities), dt), None, None
    if not _adam(optimizer):
        return None, None, None
    if optimizer.m is None or optimizer.v is None:
        optimizer.m = [np.zeros_like(p) for p in network.params()]
        optimizer.v = [np.zeros_like(p) for p in network.params()]
    adam = np.array([optimizer.beta1, optimizer.beta2, optimizer.eps, optimizer.t], np.float64)
    return _Params(_per_layer(network, optimizer.m), dt), _Params(_per_layer(network, optimizer.v), dt), adam


def _etas(eta, n_batches):
    """The rate of each of n_batches mini-batches as the kernel reads them: float64 (n_batches,)
    (at least one number, for a call with no batches) from one rate or one per mini-batch."""
    etas = np.asarray(eta, np.float64)
    if etas.ndim and etas.shape != (n_batches,):
        raise ValueError(f"eta holds {etas.size} rates for {n_batches} mini-batches")
    return np.ascontiguousarray(np.broadcast_to(etas, (max(1, n_batches),)))


class LayerKernelEngine:
    """The compiled kernel for layer networks: ``LayerNetwork.step``'s steps, many per call.

    threads : threads per step (default: ``default_threads``); the weights do not depend on it.
    """

    name = "layer-kernel"

    def __init__(self, threads=None):
        self.threads = threads

    def prepare(self, X):
        return self

    def _per_call(self, network, mini_batch_size):
        """Mini-batches per call: bounded by the dropout masks drawn for it."""
        per_sample = sum(layer.n_in for layer in network.layers if layer.p_dropout > 0)
        samples = MASK_VALUES_PER_CALL // per_sample if per_sample else SAMPLES_PER_CALL
        return max(1, samples // mini_batch_size)

    def epoch(self, network, X, Y, order, mini_batch_size, eta, optimizer=None, on_batch=None):
        """The mini-batches order[0:m], order[m:2m], ... (Y: integer labels), each an SGD step
        (``optimizer``: None, plain SGD, Momentum or Adam, with its l2 and n) at the rate ``eta``
        (one, or an array (n_batches,) of one per mini-batch, passed down to the kernel);
        ``on_batch(done, total)`` after each call into the kernel.

        With dropout, the masks of the next call are drawn (from ``network.rng``, in order)
        on a second thread while the kernel runs; an epoch stopped part-way has then drawn
        one call's masks more, which no one uses (the training loop abandons that epoch).
        """
        lmbda, n = (0.0, 1) if optimizer is None else (optimizer.l2, optimizer.n)
        X = _inputs(network, X)
        m = int(mini_batch_size)
        n_batches = -(-len(order) // m)
        per_call = self._per_call(network, m)
        calls = [order[k * m : (k + per_call) * m] for k in range(0, n_batches, per_call)]
        etas = _etas(eta, n_batches)
        dropout = any(layer.p_dropout > 0 for layer in network.layers)
        with ThreadPoolExecutor(max_workers=1) as pool:
            drawn = pool.submit(draw_masks, network, _batch_sizes(len(calls[0]), m)) if dropout and calls else None
            for k, batch_order in enumerate(calls):
                masks = drawn.result() if drawn is not None else None
                if dropout and k + 1 < len(calls):
                    drawn = pool.submit(draw_masks, network, _batch_sizes(len(calls[k + 1]), m))
                rates = etas[k * per_call : (k + 1) * per_call]
                sgd_batches(network, X, Y, batch_order, m, rates, lmbda, n, optimizer, self.threads, masks)
                if on_batch is not None:
                    on_batch(min((k + 1) * per_call, n_batches), n_batches)

    def __repr__(self):
        return f"LayerKernelEngine({info()!r})"


# -- inference --------------------------------------------------------------------------------


def logits(network, X, threads=None):
    """``network.logits(X)``: z^L (n, n_out) in inference mode (no masks, a dropout layer's
    weights times 1 - p_dropout), computed by the kernel on ``threads`` threads (default:
    the usable cores)."""
    spec = _spec(network)
    if spec is None or not available():
        raise ValueError("the compiled layer kernel does not run this network")
    dt = network.dtype
    X = _inputs(network, X)
    arrays = _per_layer(network, network.params())
    for l, layer in enumerate(network.layers):
        if layer.p_dropout:
            arrays[2 * l] = (1.0 - layer.p_dropout) * layer.w  # as the core scales
    params = _Params(arrays, dt)
    buffers, hyper = _batchnorm(network)
    stats = _Params(buffers, dt)
    out = np.empty((len(X), network.n_out), dt)
    status = getattr(_library(), f"glassnet_layers_forward_{_suffix(dt)}")(
        spec.ctypes.data,
        len(spec),
        params.pointers,
        stats.pointers,
        hyper.ctypes.data,
        X.ctypes.data,
        len(X),
        out.ctypes.data,
        int(threads or _threads()),
    )
    _call_status(status, "inference")
    return out


def forward(network, X, threads=None):
    """``network.feedforward(X)``: the softmax outputs (n, n_out), by the kernel."""
    return L.softmax(logits(network, X, threads))
