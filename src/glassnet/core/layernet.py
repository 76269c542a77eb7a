"""Chapter 6's layer networks: a list of layer objects, each owning its parameters.

The layers keep the meaning of the book's ``network3.py`` (without Theano):

    ConvPoolLayer        valid convolution, max-pooling, then activation(pooled + bias)
    FullyConnectedLayer  activation(x W^T + b), dropout on its input while training
    SoftmaxLayer         softmax(x W^T + b) with the log-likelihood cost

and ``LayerNetwork`` chains them, owns the one ``numpy.random.Generator`` that draws
every initial weight and every dropout mask, and trains by plain SGD on the book's cost

    C = -(1/m) sum_i ln a^L_{y_i}  +  (lmbda / 2) sum_w w^2 / num_training_batches

(all layers' weights, biases not regularised; ``lmbda`` divided by the number of
mini-batches per epoch, as network3 does).  Each layer's ``forward``/``backward`` is built
from the pairs in ``layers``; the network calls the forwards in order, the backwards in
reverse.  Shapes: inputs X of shape (m, n_in) or images (m, c, h, w); weights keep the
book's (n_out, n_in) orientation (network3 stored their transpose).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..errors import InputError
from . import layers as L
from .dataforms import check_input, check_labels_for
from .gradcheck import STENCILS, worst_difference
from .layers import get_activation, sigmoid
from .model import check_seed, register_kind

__all__ = [
    "ConvPoolLayer",
    "FullyConnectedLayer",
    "SoftmaxLayer",
    "LayerNetwork",
    "LAYER_TYPES",
    "register_layer",
    "layers_from_spec",
    "layer_gradient_check",
]


def shape_tuple(value, n, name):
    """``value`` as a tuple of ``n`` positive ints; ValueError naming it otherwise."""
    try:
        shape = tuple(int(v) for v in value)
        whole = all(int(v) == v for v in value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name} must be a tuple of {n} positive integers, got {value!r}") from None
    if not whole:
        raise InputError(f"{name} must be a tuple of {n} positive integers, got {value!r}")
    if len(shape) != n or min(shape) < 1:
        raise InputError(f"{name} must be a tuple of {n} positive integers, got {value!r}")
    return shape


def dims_text(shape):
    """(1, 28, 28) -> "1, 28, 28", for messages that write a shape as (m, ...)."""
    return ", ".join(map(str, shape))


def pair_text(a, b):
    """(2, 2) -> "2", (2, 3) -> "2x3"."""
    return str(a) if a == b else f"{a}x{b}"


def _p_dropout(p):
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise InputError(f"p_dropout must lie in [0, 1), got {p}")
    return p


class Layer:
    """What every layer shares: parameters ``w`` and ``b``, ``params`` = [w, b], a mask rule.

    ``param_keys`` names the parameters in order (("w", "b"); a layer without any has ()),
    ``param_shapes()`` gives their shapes before they exist, ``l2_params`` those the L2
    term regularises (the weights), ``buffers`` the state that is not trained by gradient
    but saved with the model (batch normalisation's running statistics; none here).
    """

    p_dropout = 0.0
    w = b = None
    param_keys: tuple[str, ...] = ("w", "b")
    buffers: dict = {}
    min_batch = 1  # the smallest mini-batch the layer trains on

    @property
    def params(self):
        """[w, b], the arrays themselves (in-place updates change the layer)."""
        return [self.w, self.b]

    @property
    def l2_params(self):
        """The parameters in the L2 term: [w]."""
        return [self.w]

    def param_shapes(self):
        """{"w": shape, "b": shape} of this layer's parameters (known before they are drawn)."""
        w = tuple(self.filter_shape) if hasattr(self, "filter_shape") else (self.n_out, self.n_in)
        return {"w": w, "b": (w[0],)}

    def buffer_shapes(self):
        """{name: shape} of this layer's ``buffers`` (none)."""
        return {}

    def draw_mask(self, rng, m, dtype):
        """This layer's dropout mask for a mini-batch of ``m``, or None without dropout."""
        if self.p_dropout == 0.0:
            return None
        return L.dropout_mask(rng, (m, self.n_in), self.p_dropout, dtype)

    def _flat_input(self, x):
        """x of shape (m, ...) with prod(...) = n_in, as (m, n_in) (network3's reshape)."""
        if x.ndim < 2 or math.prod(x.shape[1:]) != self.n_in:
            raise InputError(f"{type(self).__name__} expects inputs of shape (m, {self.n_in}), got {x.shape}")
        return x.reshape(x.shape[0], self.n_in)

    def __repr__(self):
        args = ", ".join(
            f"{k}={tuple(v) if isinstance(v, list) else v!r}" for k, v in self.spec().items() if k != "type"
        )
        return f"{type(self).__name__}({args})"


class ConvPoolLayer(Layer):
    """Valid convolution (stride 1), max-pooling, then ``activation_fn(pooled + b)``.

    filter_shape : (f, c, kh, kw) -- f filters over c input channels
    image_shape : (mini_batch_size, c, h, w) as in the book, or (c, h, w); the mini-batch
        size is not used (any batch size works)
    poolsize : (ph, pw), non-overlapping, border rows/columns that do not fill a block dropped
    Input (m, c, h, w) or (m, c*h*w); output (m, f, (h-kh+1) // ph, (w-kw+1) // pw).
    Parameters: w (f, c, kh, kw) drawn N(0, 1/n_out) with n_out = f*kh*kw / (ph*pw), b (f,)
    drawn N(0, 1).  No dropout (network3 applies none to convolutional layers).
    """

    def __init__(self, filter_shape, image_shape, poolsize=(2, 2), activation_fn=sigmoid):
        self.filter_shape = shape_tuple(filter_shape, 4, "filter_shape")
        book_form = isinstance(image_shape, (tuple, list)) and len(image_shape) == 4
        self.image_shape = shape_tuple(image_shape, 4 if book_form else 3, "image_shape")
        self.input_shape = self.image_shape[-3:]
        self.poolsize = shape_tuple(poolsize, 2, "poolsize")
        self.activation_fn = get_activation(activation_fn)
        f, c, kh, kw = self.filter_shape
        c_in, h, w = self.input_shape
        if c != c_in or kh > h or kw > w:
            raise InputError(f"filter_shape {self.filter_shape} does not fit image_shape {self.image_shape}")
        self.conv_shape = (f, h - kh + 1, w - kw + 1)
        oh, ow = self.conv_shape[1] // self.poolsize[0], self.conv_shape[2] // self.poolsize[1]
        if oh == 0 or ow == 0:
            raise InputError(
                f"poolsize {self.poolsize} is larger than the {self.conv_shape[1:]} "
                f"convolution output of filter_shape {self.filter_shape}"
            )
        self.output_shape = (f, oh, ow)
        self.n_in = math.prod(self.input_shape)
        self.n_out = math.prod(self.output_shape)

    def init_params(self, rng, dtype=np.float32):
        """Draw w ~ N(0, 1/n_out), n_out = f*kh*kw/(ph*pw) (network3's rule), then b ~ N(0, 1)."""
        f = self.filter_shape[0]
        fan_out = f * math.prod(self.filter_shape[2:]) / math.prod(self.poolsize)
        self.w = rng.normal(0.0, np.sqrt(1.0 / fan_out), size=self.filter_shape).astype(dtype)
        self.b = rng.normal(0.0, 1.0, size=f).astype(dtype)

    def forward(self, x, training=False, mask=None):
        """x (m, c, h, w) or (m, c*h*w) -> ``(A, cache)``, A of shape (m, *output_shape)."""
        if x.ndim < 2 or (x.shape[1:] != self.input_shape and math.prod(x.shape[1:]) != self.n_in):
            raise InputError(
                f"ConvPoolLayer expects inputs of shape (m, {dims_text(self.input_shape)}) "
                f"or (m, {self.n_in}), got {x.shape}"
            )
        x4 = x.reshape(x.shape[0], *self.input_shape)
        conv, conv_cache = L.conv_forward(x4, self.w)
        pooled, pool_cache = L.maxpool_forward(conv, self.poolsize)
        Z = pooled + self.b[:, None, None]
        A, act_cache = L.activation_forward(Z, self.activation_fn)
        return A, (x.shape, conv_cache, pool_cache, act_cache)

    def backward(self, dA, cache, need_dx=True):
        """dA (m, *output_shape) -> ``(dx, [dw, db])``, dx in the input's shape (or None)."""
        x_shape, conv_cache, pool_cache, act_cache = cache
        dZ = L.activation_backward(dA, act_cache)
        db = dZ.sum(axis=(0, 2, 3))
        dconv = L.maxpool_backward(dZ, pool_cache)
        dx, dw = L.conv_backward(dconv, conv_cache, need_dx)
        return (None if dx is None else dx.reshape(x_shape)), [dw, db]

    def details(self):
        """One line: filters, channels, input, pooling, activation, output, parameter shapes."""
        f, c, kh, kw = self.filter_shape
        return (
            f"ConvPoolLayer, {f} filters {kh}x{kw} over {c} channel{'s' * (c != 1)} of "
            f"{'x'.join(map(str, self.input_shape[1:]))}, max-pool {'x'.join(map(str, self.poolsize))}, "
            f"{self.activation_fn.name} -> {'x'.join(map(str, self.output_shape))}; "
            f"w {tuple(self.w.shape)}, b {tuple(self.b.shape)}"
        )

    def export(self):
        """This layer as data for exporters: kind "conv-pool", w, b (themselves), poolsize,
        image_shape (c, h, w), activation."""
        return {
            "kind": "conv-pool",
            "w": self.w,
            "b": self.b,
            "poolsize": self.poolsize,
            "image_shape": self.input_shape,
            "activation": self.activation_fn.name,
        }

    def describe(self, compact=False):
        """ "conv 20 5x5 / pool 2" (without "/ pool" when the pool is 1x1); compact, as
        ``--layers`` writes it: "conv20x5/pool2"."""
        f, _, kh, kw = self.filter_shape
        if compact:
            return f"conv{f}x{pair_text(kh, kw)}/pool{pair_text(*self.poolsize)}"
        pool = "" if self.poolsize == (1, 1) else f" / pool {pair_text(*self.poolsize)}"
        return f"conv {f} {kh}x{kw}{pool}"

    def spec(self):
        return {
            "type": "ConvPoolLayer",
            "filter_shape": list(self.filter_shape),
            "image_shape": list(self.input_shape),
            "poolsize": list(self.poolsize),
            "activation_fn": self.activation_fn.name,
        }


class FullyConnectedLayer(Layer):
    """``activation_fn(x W^T + b)``, with dropout of probability ``p_dropout`` on its input.

    Input (m, n_in) (or any (m, ...) with n_in entries per sample); output (m, n_out).
    Parameters: w (n_out, n_in) drawn N(0, 1/n_out) (network3's rule), b (n_out,) N(0, 1).
    Training multiplies the input by a 0/1 mask (keep probability 1 - p_dropout); inference
    uses no mask and the weights (1 - p_dropout) W instead, so expected inputs match.
    """

    def __init__(self, n_in, n_out, activation_fn=sigmoid, p_dropout=0.0):
        self.n_in, self.n_out = shape_tuple((n_in, n_out), 2, "(n_in, n_out)")
        self.input_shape, self.output_shape = (self.n_in,), (self.n_out,)
        self.activation_fn = get_activation(activation_fn)
        self.p_dropout = _p_dropout(p_dropout)

    def init_params(self, rng, dtype=np.float32):
        self.w = rng.normal(0.0, np.sqrt(1.0 / self.n_out), size=(self.n_out, self.n_in)).astype(dtype)
        self.b = rng.normal(0.0, 1.0, size=self.n_out).astype(dtype)

    def _weighted_input(self, x, training, mask):
        x2 = self._flat_input(x)
        if training and mask is not None:
            x2, _ = L.dropout_forward(x2, mask)
        W = self.w if training or self.p_dropout == 0.0 else (1.0 - self.p_dropout) * self.w
        Z, fc_cache = L.fc_forward(x2, W, self.b)
        return Z, (x.shape, fc_cache, mask)

    def forward(self, x, training=False, mask=None):
        """x (m, n_in) -> ``(A, cache)``, A of shape (m, n_out); ``mask`` (m, n_in) or None."""
        Z, cache = self._weighted_input(x, training, mask)
        A, act_cache = L.activation_forward(Z, self.activation_fn)
        return A, (cache, act_cache)

    def _backward_from_z(self, dZ, cache, need_dx):
        x_shape, fc_cache, mask = cache
        dx, dw, db = L.fc_backward(dZ, fc_cache, need_dx)
        if dx is not None:
            if mask is not None:
                dx = L.dropout_backward(dx, mask)
            dx = dx.reshape(x_shape)
        return dx, [dw, db]

    def backward(self, dA, cache, need_dx=True):
        """dA (m, n_out) -> ``(dx, [dw, db])``: BP2-BP4 (see ``layers.fc_backward``)."""
        cache, act_cache = cache
        return self._backward_from_z(L.activation_backward(dA, act_cache), cache, need_dx)

    def details(self):
        """One line: sizes in and out, activation, dropout, parameter shapes."""
        dropout = f"dropout {self.p_dropout:g} on its input" if self.p_dropout else "no dropout"
        activation = self.spec().get("activation_fn", "softmax")
        return (
            f"{type(self).__name__}, {self.n_in} -> {self.n_out}, {activation}, {dropout}; "
            f"w {tuple(self.w.shape)}, b {tuple(self.b.shape)}"
        )

    def export(self):
        """This layer as data for exporters: kind "fully-connected", w, b, p_dropout, activation."""
        return {
            "kind": "fully-connected",
            "w": self.w,
            "b": self.b,
            "p_dropout": self.p_dropout,
            "activation": self.activation_fn.name,
        }

    def describe(self, compact=False):
        """ "fc 100" (compact "fc100")."""
        return f"fc{'' if compact else ' '}{self.n_out}"

    def spec(self):
        return {
            "type": "FullyConnectedLayer",
            "n_in": self.n_in,
            "n_out": self.n_out,
            "activation_fn": self.activation_fn.name,
            "p_dropout": self.p_dropout,
        }


class SoftmaxLayer(FullyConnectedLayer):
    """The output layer: a^L = softmax(x W^T + b), trained with the log-likelihood cost.

    Input (m, n_in); w (n_out, n_in) and b (n_out,) start at zero (network3's choice).
    ``forward`` returns the weighted input z^L, not a^L: the softmax is applied together
    with the cost (``layers.softmax_loglik_forward``), so that BP1 is simply a - y, and by
    ``LayerNetwork.feedforward`` at inference.  Dropout on the input as in the fully
    connected layer.
    """

    def __init__(self, n_in, n_out, p_dropout=0.0):
        super().__init__(n_in, n_out, activation_fn="linear", p_dropout=p_dropout)

    def init_params(self, rng=None, dtype=np.float32):
        self.w = np.zeros((self.n_out, self.n_in), dtype=dtype)
        self.b = np.zeros(self.n_out, dtype=dtype)

    def forward(self, x, training=False, mask=None):
        """x (m, n_in) -> ``(Z, cache)``, Z = z^L of shape (m, n_out) (apply ``layers.softmax``)."""
        return self._weighted_input(x, training, mask)

    def backward(self, dZ, cache, need_dx=True):
        """dZ = delta^L (m, n_out) -> ``(dx, [dw, db])``."""
        return self._backward_from_z(dZ, cache, need_dx)

    def export(self):
        """This layer as data for exporters: kind "softmax", w, b, p_dropout."""
        return {"kind": "softmax", "w": self.w, "b": self.b, "p_dropout": self.p_dropout}

    def describe(self, compact=False):
        """ "softmax 10" (compact "softmax10")."""
        return f"softmax{'' if compact else ' '}{self.n_out}"

    def spec(self):
        return {"type": "SoftmaxLayer", "n_in": self.n_in, "n_out": self.n_out, "p_dropout": self.p_dropout}


#: type name -> layer class, for specs and files: the book's three, then those registered
#: by ``register_layer`` (``core.modern``'s)
LAYER_TYPES = {cls.__name__: cls for cls in (ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer)}


def register_layer(cls):
    """Let networks, specs and files use the layer class ``cls`` (a class decorator; the
    class meets ``Layer``'s interface: shapes, params, forward/backward, spec, export)."""
    LAYER_TYPES[cls.__name__] = cls
    return cls


def _check_chain(layers):
    """ValueError naming the first pair of layers whose shapes do not connect."""
    if not layers:
        raise InputError("a layer network needs at least one layer, got none")
    for i, layer in enumerate(layers):
        if not isinstance(layer, tuple(LAYER_TYPES.values())):
            raise TypeError(f"layer {i} must be one of {', '.join(LAYER_TYPES)}, got {layer!r}")
        if isinstance(layer, SoftmaxLayer) != (i == len(layers) - 1):
            raise InputError(f"the last layer, and only the last, must be a SoftmaxLayer; layer {i} is {layer!r}")
    for i, (prev, nxt) in enumerate(zip(layers[:-1], layers[1:])):
        ok = prev.output_shape == nxt.input_shape if len(nxt.input_shape) > 1 else prev.n_out == nxt.n_in
        if not ok:
            raise InputError(
                f"layer {i} outputs shape {prev.output_shape} but layer {i + 1} expects "
                f"{nxt.input_shape}: {prev!r} -> {nxt!r}"
            )


@register_kind
class LayerNetwork:
    """A chain of layers ending in a ``SoftmaxLayer``, trained by SGD on the book's cost.

    Parameters
    ----------
    layers : list of ConvPoolLayer / FullyConnectedLayer / SoftmaxLayer, or the modern
        layers of ``core.modern`` (ConvLayer, BatchNormLayer, MaxPoolLayer, AvgPoolLayer,
        GlobalAvgPoolLayer).  Each layer's input shape must match the previous layer's output.  The network
        (re)draws their parameters, in order, from its Generator.
    seed : int or None
        Seeds ``self.rng``, the one ``numpy.random.Generator`` for the initial weights,
        every dropout mask and any shuffling a training loop does with it.
    dtype : float32 (default) or float64, of every parameter and computation.

    Parameters are reachable as one flat list, ``params()`` -> [w0, b0, w1, b1, ...]
    (layer by layer, w before b, the arrays themselves) with names ``param_names()``; the
    number is the layer's index, and a layer without parameters (pooling) has none, a
    convolution without bias only its w.  Batch normalisation's running statistics are
    buffers, ``named_buffers()`` ("running_mean{l}", "running_var{l}"): saved with the model,
    not trained by gradient.  It meets the model protocol of ``core.model``.
    """

    kind = "layer network"
    format_version = 2  # of its header (``header``, ``from_header``)
    targets = "labels"  # it trains on integer labels (m,)
    l2_rule = "gradient"  # L2 as a term of the cost, inside ``gradients`` (network3's rule)

    def __init__(self, layers, *, seed=None, dtype=np.float32):
        self.layers = list(layers)
        _check_chain(self.layers)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise InputError(f"dtype must be float32 or float64, got {self.dtype}")
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        for layer in self.layers:
            layer.init_params(self.rng, self.dtype)

    # -- shapes and parameters (the model protocol, ``core.model``) ------------------------
    @property
    def input_shape(self):
        """One sample's shape, e.g. (1, 28, 28) or (784,); inputs may also come flat."""
        return self.layers[0].input_shape

    @property
    def min_batch(self):
        """The smallest mini-batch this network trains on (batch normalisation of rows: 2)."""
        return max(layer.min_batch for layer in self.layers)

    @property
    def n_in(self):
        return self.layers[0].n_in

    @property
    def n_out(self):
        return self.layers[-1].n_out

    @property
    def members(self):
        return [self]

    def params(self):
        """[w0, b0, w1, b1, ...]: every parameter array, layer by layer (not copies)."""
        return [p for layer in self.layers for p in layer.params]

    parameters = params

    def param_names(self):
        """["w0", "b0", "w1", "b1", ...], matching ``params()`` (each layer's ``param_keys``)."""
        return [f"{k}{i}" for i, layer in enumerate(self.layers) for k in layer.param_keys]

    def named_parameters(self):
        """``{"w0": ..., "b0": ..., ...}`` in ``params()`` order."""
        return dict(zip(self.param_names(), self.params()))

    def set_params(self, arrays):
        """Copy ``arrays`` (in ``params()`` order and shapes) into the parameters, in place."""
        arrays = list(arrays)
        own = self.params()
        if len(arrays) != len(own):
            raise InputError(
                f"expected {len(own)} parameter arrays ({', '.join(self.param_names())}), got {len(arrays)}"
            )
        for name, p, a in zip(self.param_names(), own, arrays):
            a = np.asarray(a)
            if a.shape != p.shape:
                raise InputError(f"parameter {name} must have shape {p.shape}, got {a.shape}")
            p[...] = a

    def named_buffers(self):
        """``{"running_mean2": ..., "running_var2": ...}``: state saved with the model that
        gradient descent does not train (batch normalisation's running statistics of layer
        2), the arrays themselves; {} for the book's layers."""
        return {f"{k}{i}": a for i, layer in enumerate(self.layers) for k, a in layer.buffers.items()}

    def set_buffers(self, arrays):
        """Copy ``arrays`` ({name: array} as ``named_buffers()``) into the buffers, in place."""
        own = self.named_buffers()
        if set(arrays) != set(own):
            raise InputError(f"expected the buffers {', '.join(own) or 'none'}, got {', '.join(arrays) or 'none'}")
        for name, a in own.items():
            a[...] = np.asarray(arrays[name])

    def header(self):
        """The network as JSON-able data: its layers' ``spec()``, dtype and seed."""
        return {
            "format_version": self.format_version,
            "dtype": self.dtype.name,
            "seed": self.seed,
            "network": "layers",
            "spec": self.spec(),
        }

    @staticmethod
    def parameter_shapes(header):
        """``{"w0": shape, "b0": shape, ...}`` of the layers a header's spec describes (the
        layers are built without parameters: nothing large is allocated)."""
        if header.get("network") != "layers" or not isinstance(header.get("spec"), dict):
            raise ValueError(
                "the header's layer spec is unusable (a version-2 model needs network 'layers' and a spec)"
            )
        try:
            layers = layers_from_spec(header["spec"])
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"the header's layer spec is unusable ({e})") from None
        return {f"{k}{i}": shape for i, layer in enumerate(layers) for k, shape in layer.param_shapes().items()}

    @staticmethod
    def buffer_shapes(header):
        """``{"running_mean2": shape, ...}`` of the buffers the header's layers hold."""
        layers = layers_from_spec(header["spec"])  # parameter_shapes has checked it
        return {f"{k}{i}": shape for i, layer in enumerate(layers) for k, shape in layer.buffer_shapes().items()}

    @classmethod
    def from_header(cls, header, arrays):
        """The network ``header`` describes holding ``arrays`` (checked by ``model_from_header``)."""
        try:
            net = cls.from_spec(header["spec"], seed=check_seed(header), dtype=header.get("dtype", "float32"))
        except (TypeError, KeyError) as e:
            raise ValueError(f"the header's layer spec is unusable ({e})") from None
        net.set_params([arrays[name] for name in net.param_names()])
        buffers = {name: arrays[name] for name in net.named_buffers()}
        for name, a in buffers.items():
            if name.startswith("running_var") and np.any(a < 0):
                raise ValueError(f"{name} holds negative variances")
        net.set_buffers(buffers)
        return net

    def describe(self, compact=False):
        """The architecture in one line: "1x28x28 · conv 20 5x5 / pool 2 · fc 100 · softmax 10";
        compact: "1x28x28-conv20x5/pool2-fc100-softmax10"."""
        shape = "x".join(map(str, self.input_shape))
        if compact:
            return "-".join([shape] + [layer.describe(compact=True) for layer in self.layers])
        return " \u00b7 ".join([shape] + self.layer_names())

    def layer_names(self):
        """Each layer's ``describe()``: ["conv 20 5x5 / pool 2", "fc 100", "softmax 10"]."""
        return [layer.describe() for layer in self.layers]

    def _hidden_activation(self):
        """The hidden layers' nonlinearity: the first one that is not linear (a convolution
        before batch normalisation has none, the batch normalisation has it); None without
        hidden layers."""
        names = [layer.activation_fn.name for layer in self.layers[:-1]]
        return next((name for name in names if name != "linear"), names[0] if names else None)

    def summary(self):
        """JSON-able facts for pages: sizes (values per sample at the input and after each
        layer), activations, cost, and each layer's name, output shape and activation."""
        layers = [
            {"name": layer.describe(), "shape": list(layer.output_shape), "activation": layer.activation_fn.name}
            for layer in self.layers
        ]
        layers[-1]["activation"] = "softmax"
        return {
            "sizes": [self.n_in] + [layer.n_out for layer in self.layers],
            "activation": self._hidden_activation(),
            "output_activation": "softmax",
            "cost": "log-likelihood",
            "layers": layers,
        }

    def details(self):
        """Lines for people beyond ``describe()``: the cost, then each layer's ``details()``."""
        return ["log-likelihood cost"] + [f"layer {i}: {layer.details()}" for i, layer in enumerate(self.layers)]

    def layer_specs(self):
        """Each layer as data for exporters (``layer.export()``): "conv-pool" (with poolsize,
        image_shape, activation), "fully-connected" (p_dropout, activation), "softmax"."""
        return [layer.export() for layer in self.layers]

    def first_layer_weights(self):
        """The first layer's w: filters (f, c, kh, kw) or rows (n_out, n_in) (of the first
        layer that has such weights: not a pooling or batch normalisation layer)."""
        return next(layer.w for layer in self.layers if layer.w is not None and layer.w.ndim in (2, 4))

    def spec(self):
        """The architecture as JSON-able data: {"dtype": ..., "layers": [layer specs]}."""
        return {"dtype": self.dtype.name, "layers": [layer.spec() for layer in self.layers]}

    @classmethod
    def from_spec(cls, spec, *, seed=None, dtype=None, **kwargs):
        """A new network with the architecture ``spec`` describes (fresh parameters from ``seed``)."""
        return cls(layers_from_spec(spec), seed=seed, dtype=dtype or spec.get("dtype", "float32"), **kwargs)

    def astype(self, dtype):
        """A copy of this network (same layers and parameters, seed recorded) in ``dtype``."""
        twin = LayerNetwork.from_spec(self.spec(), seed=self.seed, dtype=dtype)
        twin.set_params([p.astype(dtype) for p in self.params()])
        twin.set_buffers(self.named_buffers())
        return twin

    # -- forward -------------------------------------------------------------------------
    def check_inputs(self, X):
        """X as an array of the network's dtype, (m, *input_shape) or (m, n_in); InputError otherwise."""
        X = np.asarray(X)
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        first = self.layers[0]
        if X.ndim < 2 or (X.shape[1:] != first.input_shape and math.prod(X.shape[1:]) != first.n_in):
            flat = f" or (m, {first.n_in})" if len(first.input_shape) > 1 else ""
            raise InputError(f"inputs must have shape (m, {dims_text(first.input_shape)}){flat}, got {X.shape}")
        return X

    def check_labels(self, y, m):
        """y as ``m`` integer labels in 0..n_out-1; InputError otherwise."""
        return check_labels_for(y, self.n_out, m)

    def logits(self, X, *, batch_size=200):
        """The output layer's weighted input z^L, shape (m, n_out), inference mode (no
        dropout masks, weights scaled by 1 - p_dropout); ``batch_size`` rows at a time."""
        X = self.check_inputs(X)
        out = np.empty((X.shape[0], self.n_out), dtype=self.dtype)
        for start in range(0, X.shape[0], batch_size):
            a = X[start : start + batch_size]
            for layer in self.layers:
                a, _ = layer.forward(a)
            out[start : start + batch_size] = a
        return out

    def feedforward(self, X, *, batch_size=200):
        """The output a^L = softmax(z^L), shape (m, n_out), for X (m, ...), inference mode."""
        return L.softmax(self.logits(X, batch_size=batch_size))

    def predict(self, X, *, batch_size=200):
        """The most likely class of each row of X: int array of shape (m,)."""
        return np.argmax(self.logits(X, batch_size=batch_size), axis=1)

    def score(self, X, y, *, batch_size=200):
        """Accuracy: the fraction of the m samples whose predicted class equals y (m,)."""
        return self.measure(X, y, batch_size=batch_size)[1] / max(len(y), 1)

    def accuracy(self, X, y, *, batch_size=200):
        """Deprecated name of ``score`` (glassnet names the fraction ``score``, the count ``evaluate``)."""
        warnings.warn(
            "LayerNetwork.accuracy is deprecated: use score (a fraction) or evaluate (a count)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.score(X, y, batch_size=batch_size)

    def measure(self, X, y, forward=None, *, batch_size=200):
        """``(mean cost, number correct)`` over X (m, ...) with int labels y (m,), inference
        mode; the cost is the mean log-likelihood -ln a^L_y (a^L floored at the dtype's
        smallest normal number, computed in float64), without the L2 term.  ``forward``
        computes the probabilities of a batch (default ``feedforward``; an engine's
        faster forward pass gives the same numbers to rounding)."""
        A = forward(X) if forward is not None else self.feedforward(X, batch_size=batch_size)
        y = self.check_labels(y, len(A))
        if len(y) == 0:
            return 0.0, 0
        picked = np.maximum(A[np.arange(len(y)), y], np.finfo(A.dtype).tiny)
        return float(-np.log(picked.astype(np.float64)).mean()), int(np.sum(np.argmax(A, axis=1) == y))

    def evaluate(self, test_data):
        """Number of samples of ``test_data`` = (X (m, ...), y (m,)) classified correctly."""
        X, y = test_data
        return self.measure(X, y)[1]

    def probabilities(self, X):
        """a^L = softmax(z^L), (m, n_out): ``feedforward``."""
        return self.feedforward(X)

    def layer_outputs(self, X):
        """Every layer's output for X (m, ...), inference mode: (m, f, h, w) after a conv-pool
        layer, (m, n) after a fully connected one, the probabilities a^L last."""
        a, outputs = self.check_inputs(X), []
        for layer in self.layers:
            a, _ = layer.forward(a)
            outputs.append(a)
        outputs[-1] = L.softmax(a)  # the last a is z^L
        return outputs

    def input_gradient(self, x, k=None):
        """``(d a^L_k / dx (n_in,), k)`` for one input x: every layer's backward pass from the
        softmax down to the input (inference mode), for class k (None: the most likely)."""
        a, caches = check_input(x, self.n_in, self.dtype).reshape(1, *self.input_shape), []
        for layer in self.layers:
            a, cache = layer.forward(a)
            caches.append(cache)
        p = L.softmax(a)[0]
        if k is None:
            k = int(np.argmax(p))
        elif isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or not 0 <= k < len(p):
            raise InputError(f"digit must be an integer 0..{len(p) - 1}, got {k!r}")
        delta = -p[k] * p  # BP1 at the softmax
        delta[k] += p[k]
        d = delta.reshape(1, -1)
        for layer, cache in zip(reversed(self.layers), reversed(caches)):  # BP2 through every layer
            d, _ = layer.backward(d, cache, need_dx=True)
        return d.reshape(-1), int(k)

    def probability_gradient(self, x, k):
        """d p_k / dx: ``input_gradient`` (the output is already a probability)."""
        return self.input_gradient(x, k)[0]

    # -- training --------------------------------------------------------------------------
    def draw_masks(self, m, rng=None):
        """One dropout mask per layer for a mini-batch of ``m`` (None where there is no
        dropout), drawn from ``rng`` (default ``self.rng``): pass them to ``loss_and_grads``
        (or ``gradients``) to fix them."""
        rng = self.rng if rng is None else rng
        return [layer.draw_mask(rng, m, self.dtype) for layer in self.layers]

    def _check_masks(self, masks):
        """``masks`` itself, when it holds one entry per layer (None or falsy: as it is)."""
        if masks and len(masks) != len(self.layers):
            raise InputError(f"masks must hold one entry per layer ({len(self.layers)}), got {len(masks)}")
        return masks

    def _weight_penalty(self, lmbda, n_batches):
        if lmbda == 0:
            return 0.0
        return 0.5 * lmbda * sum(float(np.vdot(w, w)) for layer in self.layers for w in layer.l2_params) / n_batches

    def loss(self, X, y, *, lmbda=0.0, n_batches=1, masks=None, training=True):
        """The book's cost on one mini-batch: mean log-likelihood + 0.5*lmbda*sum(w^2)/n_batches.

        ``training=True`` uses dropout (masks drawn unless given); False uses inference mode.
        """
        X = self.check_inputs(X)
        y = self.check_labels(y, len(X))
        if training and masks is None:
            masks = self.draw_masks(len(X))
        a = X
        for layer, mask in zip(self.layers, self._check_masks(masks) or [None] * len(self.layers)):
            a, _ = layer.forward(a, training, mask)
        C, _ = L.softmax_loglik_forward(a, y)
        return C + self._weight_penalty(lmbda, n_batches)

    def loss_and_grads(self, X, y, *, lmbda=0.0, n_batches=1, masks=None, update_stats=True):
        """The cost of ``loss`` in training mode and its gradient, by backpropagation.

        X : (m, ...) inputs;  y : int labels (m,);  masks : from ``draw_masks`` (default: drawn)
        update_stats : whether layers with running statistics (batch normalisation) fold this
            mini-batch's statistics into them, as a training step does (after the forward pass)
        Returns ``(C, grads)``: C a float, grads a list matching ``params()`` in order and shapes.
        """
        X = self.check_inputs(X)
        y = self.check_labels(y, len(X))
        if masks is None:
            masks = self.draw_masks(len(X))
        caches, a = [], X
        for layer, mask in zip(self.layers, self._check_masks(masks)):
            a, cache = layer.forward(a, True, mask)
            caches.append(cache)
        if update_stats:
            for layer, cache in zip(self.layers, caches):
                if layer.buffers:
                    layer.update_running_stats(cache)
        C, loss_cache = L.softmax_loglik_forward(a, y)
        d = L.softmax_loglik_backward(loss_cache)  # BP1: delta^L
        grads = [None] * len(self.layers)
        for i in range(len(self.layers) - 1, -1, -1):
            d, grads[i] = self.layers[i].backward(d, caches[i], need_dx=i > 0)
        if lmbda != 0:
            for layer, g in zip(self.layers, grads):
                for k, w in enumerate(layer.l2_params):  # the weights come first in params
                    g[k] += (lmbda / n_batches) * w  # d/dw of the L2 term
        return C + self._weight_penalty(lmbda, n_batches), [g for pair in grads for g in pair]

    def backprop(self, X, y, *, lmbda=0.0, n_batches=1, masks=None):
        """The gradient of the cost (see ``loss_and_grads``), a list matching ``params()``."""
        return self.loss_and_grads(X, y, lmbda=lmbda, n_batches=n_batches, masks=masks)[1]

    def gradients(self, X, y, *, scale=1.0, lmbda=0.0, n=1, masks=None, update_stats=True):
        """``scale`` times dC/dparam on a mini-batch, a list in ``params()`` order, with this
        network's L2 rule inside: C holds 0.5 lmbda sum w^2 / n (n the number of training
        mini-batches, network3's num_training_batches).  Dropout ``masks`` from
        ``draw_masks`` (default: drawn from ``rng``).  As part of a training step it also
        updates batch normalisation's running statistics; ``update_stats=False`` for a
        measurement that must leave the network as it was."""
        grads = self.loss_and_grads(X, y, lmbda=lmbda, n_batches=n, masks=masks, update_stats=update_stats)[1]
        return grads if scale == 1.0 else [scale * g for g in grads]

    def decay(self, eta, lmbda, n):
        """Nothing: this network's L2 term is in its ``gradients``."""

    @staticmethod
    def l2_count(n_examples, mini_batch_size):
        """The n dividing lambda: training mini-batches per epoch (network3's rule)."""
        return max(1, n_examples // mini_batch_size)

    def step(self, X, y, eta, lmbda=0.0, n_batches=1):
        """One SGD step on a mini-batch: param -= eta * dC/dparam, in place.

        n_batches : mini-batches per epoch (network3's num_training_batches, dividing lmbda).
        Returns the mini-batch's cost C before the step.
        """
        C, grads = self.loss_and_grads(X, y, lmbda=lmbda, n_batches=n_batches)
        for p, g in zip(self.params(), grads):
            p -= eta * g
        return C


def layers_from_spec(spec):
    """The list of (parameterless) layers that ``spec`` (``LayerNetwork.spec()``) describes."""
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
        raise InputError(f"a layer network spec is a dict with a 'layers' list, got {spec!r}")
    layers = []
    for i, entry in enumerate(spec["layers"]):
        if not isinstance(entry, dict) or entry.get("type") not in LAYER_TYPES:
            raise InputError(
                f"layer {i} of the spec must be a dict whose 'type' is one of {', '.join(LAYER_TYPES)}, got {entry!r}"
            )
        kwargs = {k: v for k, v in entry.items() if k != "type"}
        try:
            layers.append(LAYER_TYPES[entry["type"]](**kwargs))
        except TypeError as e:
            raise InputError(f"layer {i} of the spec ({entry['type']}) has bad fields: {e}") from None
    return layers


def layer_gradient_check(
    net, X, y, *, lmbda=0.0, n_batches=1, eps=None, order=4, masks=None, max_params=None, rng=None, floor=1e-5
):
    """Worst relative error between backprop and finite differences (book eq. 2.21, central):

        order=2:  dC/dp ~ (C(p + eps) - C(p - eps)) / (2 eps)
        order=4:  dC/dp ~ (C(p - 2eps) - 8 C(p - eps) + 8 C(p + eps) - C(p + 2eps)) / (12 eps)

    for every parameter p (the five-point stencil, default, has O(eps^4) truncation error,
    so eps can stay large enough that rounding does not swamp tiny gradients).  Use a
    float64 network.  Dropout masks are drawn once (or taken from ``masks``) and held fixed.
    ``max_params`` checks only that many entries per array, chosen by ``rng``.  Parameters
    are restored.  Returns max |g_bp - g_fd| / max(|g_bp| + |g_fd|, floor), 0 when perfect.

    ``floor``: the cost is only reproducible to about one rounding unit (BLAS may sum in a
    different order for differently aligned buffers), so g_fd carries noise of ~1e-16/eps
    (~1e-12 at eps=1e-4) and a gradient that is exactly 0 -- a unit dropped by its mask --
    cannot be matched relatively.  Gradients smaller than ``floor`` are therefore held to
    an absolute error of ``floor`` times the returned figure instead.
    """
    if order not in STENCILS:
        raise InputError(f"order must be 2 or 4, got {order}")
    eps = (1e-4 if order == 4 else 1e-6) if eps is None else eps
    X = net.check_inputs(X)
    masks = net.draw_masks(len(X)) if masks is None else masks
    _, grads = net.loss_and_grads(X, y, lmbda=lmbda, n_batches=n_batches, masks=masks, update_stats=False)
    return worst_difference(
        net.params(),
        grads,
        lambda: net.loss(X, y, lmbda=lmbda, n_batches=n_batches, masks=masks),
        eps=eps,
        order=order,
        max_params=max_params,
        rng=rng,
        floor=floor,
    )
