"""The layers of modern MNIST recipes, beside the book's: they join any ``LayerNetwork``.

    ConvLayer           convolution with zero padding and a stride, + bias, activation
                        (no pooling of its own; no bias and no activation before a BatchNormLayer)
    BatchNormLayer      batch normalisation, per channel of feature maps (m, c, h, w) or per
                        feature of rows (m, n), then an activation
    MaxPoolLayer        max over non-overlapping blocks (after a padded convolution)
    AvgPoolLayer        mean over non-overlapping blocks
    GlobalAvgPoolLayer  each feature map's mean: (m, c, h, w) -> (m, c)

A recipe such as ``conv32x3p1,bn,relu,maxpool2,conv64x3p1,bn,relu,gap,softmax10`` (see
``training.layerspec``) is a list of these ending in the book's ``SoftmaxLayer``.  The book's
three layers are untouched: these are new classes, which the compiled layer engine
(``engines.layers_fast``) runs as it runs the book's, equal to this NumPy path.

Batch normalisation (Ioffe and Szegedy, 2015), as PyTorch's BatchNorm1d/2d:

    training:   xhat = (x - mu_B) / sqrt(var_B + eps)   mu_B, var_B the mini-batch's (biased)
    inference:  xhat = (x - mu_run) / sqrt(var_run + eps)
    out = activation(gamma xhat + beta)

with eps = 1e-5 and, after each training step's forward pass (``LayerNetwork.loss_and_grads``),

    mu_run  <- (1 - momentum) mu_run  + momentum mu_B
    var_run <- (1 - momentum) var_run + momentum var_B N / (N - 1)    (unbiased, N = m h w or m)

with momentum = 0.1, mu_run starting at 0 and var_run at 1.  gamma and beta are trained
parameters, named as every layer's: gamma is the layer's ``w`` (w{l}), beta its ``b`` (b{l});
neither is in the L2 term (``l2_params`` is empty: shrinking gamma would only shrink the
scale the next layer sees).  The running statistics are buffers (``buffers``,
``LayerNetwork.named_buffers``: running_mean{l}, running_var{l}), saved in model files and
checkpoints with the parameters.  Initial values: gamma 1, beta 0.

Convolutions start from He's normal initialisation, w ~ N(0, 2 / (c kh kw)), bias 0 (the
rule for ReLU networks; the book's layers keep network3's rules).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from . import layers as L
from .layernet import Layer, dims_text, pair_text, register_layer, shape_tuple
from .layers import get_activation, linear, relu

__all__ = ["ConvLayer", "BatchNormLayer", "MaxPoolLayer", "AvgPoolLayer", "GlobalAvgPoolLayer"]

#: batch normalisation's defaults, as PyTorch's
BN_MOMENTUM = 0.1
BN_EPS = 1e-5


class _ImageLayer(Layer):
    """A layer whose input is images (c, h, w) (or, first in a network, flat rows of c*h*w)."""

    activation_fn = linear

    def _images(self, x):
        """x (m, c, h, w) or (m, c*h*w) as (m, c, h, w); InputError otherwise."""
        if x.ndim < 2 or (x.shape[1:] != self.input_shape and math.prod(x.shape[1:]) != self.n_in):
            raise InputError(
                f"{type(self).__name__} expects inputs of shape (m, {dims_text(self.input_shape)}) "
                f"or (m, {self.n_in}), got {x.shape}"
            )
        return x.reshape(x.shape[0], *self.input_shape)

    def _set_shapes(self, input_shape, output_shape):
        self.input_shape, self.output_shape = tuple(input_shape), tuple(output_shape)
        self.n_in, self.n_out = math.prod(self.input_shape), math.prod(self.output_shape)


class _Parameterless(_ImageLayer):
    """A layer without parameters (pooling): ``params`` is [], no L2, nothing to draw."""

    param_keys = ()

    @property
    def params(self):
        return []

    @property
    def l2_params(self):
        return []

    def param_shapes(self):
        return {}

    def init_params(self, rng=None, dtype=np.float32):
        """Nothing to draw (and nothing taken from ``rng``)."""


def _image_shape(value, name="image_shape"):
    return shape_tuple(value, 3, name)


def _whole(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


@register_layer
class ConvLayer(_ImageLayer):
    """Convolution with zero ``padding`` and a ``stride``, then ``activation_fn(conv + b)``.

    filter_shape : (f, c, kh, kw) -- f filters over c input channels
    image_shape : (c, h, w) of one input
    padding : zeros added on each side of every image (1 keeps a 3x3 convolution's size)
    stride : the step between windows (2 halves the size)
    activation_fn : "relu" (default), "sigmoid", "tanh" or "linear" (before batch normalisation)
    bias : False leaves b out (a BatchNormLayer's beta takes its place); ``params`` is then [w]
    Input (m, c, h, w) or (m, c*h*w); output (m, f, oh, ow), oh = (h + 2 padding - kh) //
    stride + 1, likewise ow.  Parameters: w (f, c, kh, kw) ~ N(0, 2 / (c kh kw)), b (f,) = 0.
    """

    def __init__(self, filter_shape, image_shape, padding=0, stride=1, activation_fn=relu, bias=True):
        self.filter_shape = shape_tuple(filter_shape, 4, "filter_shape")
        self.padding = _whole(padding, "padding", 0)
        self.stride = _whole(stride, "stride", 1)
        self.activation_fn = get_activation(activation_fn)
        self.bias = bool(bias)
        self.param_keys = ("w", "b") if self.bias else ("w",)
        f, c, kh, kw = self.filter_shape
        image = _image_shape(image_shape)
        oh = L.conv_output_size(image[1], kh, self.padding, self.stride)
        ow = L.conv_output_size(image[2], kw, self.padding, self.stride)
        if c != image[0] or oh < 1 or ow < 1 or self.padding >= min(kh, kw):
            raise InputError(
                f"filter_shape {self.filter_shape} with padding {self.padding} does not fit image_shape {image}"
                + (" (padding must be smaller than the filter)" if self.padding >= min(kh, kw) else "")
            )
        self._set_shapes(image, (f, oh, ow))

    @property
    def params(self):
        """[w, b], or [w] without bias."""
        return [self.w, self.b] if self.bias else [self.w]

    def param_shapes(self):
        return {"w": self.filter_shape, "b": (self.filter_shape[0],)} if self.bias else {"w": self.filter_shape}

    def init_params(self, rng, dtype=np.float32):
        """w ~ N(0, 2 / fan_in), fan_in = c*kh*kw (He et al., 2015), b = 0."""
        fan_in = math.prod(self.filter_shape[1:])
        self.w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=self.filter_shape).astype(dtype)
        self.b = np.zeros(self.filter_shape[0], dtype=dtype) if self.bias else None

    def forward(self, x, training=False, mask=None):
        """x (m, c, h, w) or (m, c*h*w) -> ``(A, cache)``, A of shape (m, *output_shape)."""
        Z, conv_cache = L.conv_forward(self._images(x), self.w, self.padding, self.stride)
        if self.bias:
            Z = Z + self.b[:, None, None]
        if self.activation_fn is linear:
            return Z, (x.shape, conv_cache, None)
        A, act_cache = L.activation_forward(Z, self.activation_fn)
        return A, (x.shape, conv_cache, act_cache)

    def backward(self, dA, cache, need_dx=True):
        """dA (m, *output_shape) -> ``(dx, [dw, db])`` (``[dw]`` without bias)."""
        x_shape, conv_cache, act_cache = cache
        dZ = dA if act_cache is None else L.activation_backward(dA, act_cache)
        dx, dw = L.conv_backward(dZ, conv_cache, need_dx)
        grads = [dw, dZ.sum(axis=(0, 2, 3))] if self.bias else [dw]
        return (None if dx is None else dx.reshape(x_shape)), grads

    def details(self):
        f, c, kh, kw = self.filter_shape
        shapes = ", ".join(f"{k} {tuple(p.shape)}" for k, p in zip(self.param_keys, self.params))
        return (
            f"ConvLayer, {f} filters {kh}x{kw} over {c} channel{'s' * (c != 1)} of "
            f"{'x'.join(map(str, self.input_shape[1:]))}, padding {self.padding}, stride {self.stride}, "
            f"{'no bias, ' * (not self.bias)}{self.activation_fn.name} -> {'x'.join(map(str, self.output_shape))}; "
            f"{shapes}"
        )

    def export(self):
        """kind "conv": w, b (zeros without bias), padding, stride, image_shape, activation."""
        b = self.b if self.bias else np.zeros(self.filter_shape[0], dtype=self.w.dtype)
        return {
            "kind": "conv",
            "w": self.w,
            "b": b,
            "padding": self.padding,
            "stride": self.stride,
            "image_shape": self.input_shape,
            "activation": self.activation_fn.name,
        }

    def describe(self, compact=False):
        """ "conv 32 3x3 pad 1 stride 2" (compact, as ``--layers`` writes it: "conv32x3p1s2")."""
        f, _, kh, kw = self.filter_shape
        if compact:
            return f"conv{f}x{pair_text(kh, kw)}p{self.padding}" + (f"s{self.stride}" if self.stride != 1 else "")
        stride = f" stride {self.stride}" if self.stride != 1 else ""
        return f"conv {f} {kh}x{kw} pad {self.padding}{stride}"

    def spec(self):
        return {
            "type": "ConvLayer",
            "filter_shape": list(self.filter_shape),
            "image_shape": list(self.input_shape),
            "padding": self.padding,
            "stride": self.stride,
            "activation_fn": self.activation_fn.name,
            "bias": self.bias,
        }


@register_layer
class BatchNormLayer(Layer):
    """Batch normalisation, then ``activation_fn``: see the module's docstring for the equations.

    shape : (c, h, w) -- feature maps, one gamma, beta and pair of statistics per channel over
        (m, h, w) (PyTorch's BatchNorm2d) -- or (n,) -- rows, per feature over m (BatchNorm1d)
    activation_fn : applied after gamma xhat + beta ("linear", the default, for none)
    momentum, eps : of the running averages (0.1) and the variance's floor (1e-5)
    Input and output (m, *shape).  Parameters: w = gamma (c,) = 1, b = beta (c,) = 0; buffers
    running_mean (c,) = 0 and running_var (c,) = 1.  Training mode needs N > 1 values per
    channel (m h w, or m).
    """

    @property
    def min_batch(self):
        """2 for rows (a mini-batch of 1 has one value per feature: no variance), else 1."""
        return 2 if math.prod(self.input_shape[1:]) == 1 else 1

    def __init__(self, shape, activation_fn=linear, momentum=BN_MOMENTUM, eps=BN_EPS):
        if not isinstance(shape, (tuple, list)) or len(shape) not in (1, 3):
            raise InputError(f"shape must be (c, h, w) or (n,), got {shape!r}")
        self.input_shape = self.output_shape = shape_tuple(shape, len(shape), "shape")
        self.n_in = self.n_out = math.prod(self.input_shape)
        self.channels = self.input_shape[0]
        self.activation_fn = get_activation(activation_fn)
        self.momentum, self.eps = float(momentum), float(eps)
        if not 0.0 <= self.momentum <= 1.0 or not self.eps > 0.0:
            raise InputError(f"momentum must lie in [0, 1] and eps be > 0, got {momentum!r} and {eps!r}")
        self.running_mean = self.running_var = None

    @property
    def l2_params(self):
        """None: gamma and beta are not regularised."""
        return []

    @property
    def buffers(self):
        """{"running_mean": (c,), "running_var": (c,)}, the arrays themselves ({} before
        ``init_params``)."""
        if self.running_mean is None:
            return {}
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def param_shapes(self):
        return {"w": (self.channels,), "b": (self.channels,)}

    def buffer_shapes(self):
        return {"running_mean": (self.channels,), "running_var": (self.channels,)}

    def init_params(self, rng=None, dtype=np.float32):
        """gamma = 1, beta = 0, running mean 0 and variance 1 (nothing drawn from ``rng``)."""
        c = self.channels
        self.w, self.b = np.ones(c, dtype=dtype), np.zeros(c, dtype=dtype)
        self.running_mean, self.running_var = np.zeros(c, dtype=dtype), np.ones(c, dtype=dtype)

    def forward(self, x, training=False, mask=None):
        """x (m, *shape) (or flat) -> ``(A, cache)``: the mini-batch's statistics when
        ``training``, the running ones otherwise."""
        if x.ndim < 2 or math.prod(x.shape[1:]) != self.n_in:
            shape = dims_text(self.input_shape)
            raise InputError(f"BatchNormLayer expects inputs of shape (m, {shape}), got {x.shape}")
        xs = x.reshape(x.shape[0], *self.input_shape)
        if training:
            values = xs.size // self.channels
            if values < 2:
                raise InputError(
                    f"batch normalisation needs more than one value per channel in training, got inputs of shape "
                    f"{x.shape} (a mini-batch of 1?)"
                )
            Z, bn_cache = L.batchnorm_forward(xs, self.w, self.b, self.eps)
        else:
            Z, bn_cache = L.batchnorm_inference_forward(
                xs, self.w, self.b, self.running_mean, self.running_var, self.eps
            )
        if self.activation_fn is linear:
            return Z, (x.shape, training, bn_cache, None)
        A, act_cache = L.activation_forward(Z, self.activation_fn)
        return A, (x.shape, training, bn_cache, act_cache)

    def update_running_stats(self, cache):
        """Fold a training forward pass's mu_B, var_B (from its ``cache``) into the running
        averages, in place: r <- (1 - momentum) r + momentum s, the variance unbiased."""
        x_shape, training, bn_cache, _ = cache
        if not training:
            return
        mu, var = bn_cache[-2:]
        n = math.prod(x_shape) // self.channels
        keep, take = 1.0 - self.momentum, self.momentum
        self.running_mean *= keep
        self.running_mean += take * mu
        self.running_var *= keep
        self.running_var += (take * n / (n - 1)) * var

    def backward(self, dA, cache, need_dx=True):
        """dA (m, *shape) -> ``(dx, [dgamma, dbeta])`` (``layers.batchnorm_backward``, or
        ``batchnorm_inference_backward`` after an inference-mode forward pass)."""
        x_shape, training, bn_cache, act_cache = cache
        dZ = dA if act_cache is None else L.activation_backward(dA, act_cache)
        dZ = dZ.reshape(x_shape[0], *self.input_shape)
        backward = L.batchnorm_backward if training else L.batchnorm_inference_backward
        dx, dgamma, dbeta = backward(dZ, bn_cache)
        return (dx.reshape(x_shape) if need_dx else None), [dgamma, dbeta]

    def details(self):
        over = "per channel over (m, h, w)" if len(self.input_shape) == 3 else "per feature over m"
        return (
            f"BatchNormLayer, {self.channels} {'channels' if len(self.input_shape) == 3 else 'features'} "
            f"{over}, momentum {self.momentum:g}, eps {self.eps:g}, {self.activation_fn.name}; "
            f"gamma (w) {(self.channels,)}, beta (b) {(self.channels,)}, running mean and variance"
        )

    def export(self):
        """kind "batch-norm": w (gamma), b (beta), mean, var (the running statistics), eps,
        activation (inference mode)."""
        return {
            "kind": "batch-norm",
            "w": self.w,
            "b": self.b,
            "mean": self.running_mean,
            "var": self.running_var,
            "eps": self.eps,
            "activation": self.activation_fn.name,
        }

    def describe(self, compact=False):
        """ "batch norm" (compact "bn")."""
        return "bn" if compact else "batch norm"

    def spec(self):
        return {
            "type": "BatchNormLayer",
            "shape": list(self.input_shape),
            "activation_fn": self.activation_fn.name,
            "momentum": self.momentum,
            "eps": self.eps,
        }


class _BlockPool(_Parameterless):
    """Pooling over non-overlapping (ph, pw) blocks (stride = block), leftover rows dropped;
    ``_pool_forward``/``_pool_backward`` are the kind's pair in ``core.layers``."""

    name = ""

    def __init__(self, poolsize, image_shape):
        self.poolsize = shape_tuple(poolsize, 2, "poolsize")
        c, h, w = _image_shape(image_shape)
        oh, ow = h // self.poolsize[0], w // self.poolsize[1]
        if oh == 0 or ow == 0:
            raise InputError(f"poolsize {self.poolsize} is larger than the images {(h, w)}")
        self._set_shapes((c, h, w), (c, oh, ow))

    def details(self):
        return (
            f"{type(self).__name__}, {self.name} over {'x'.join(map(str, self.poolsize))} blocks of "
            f"{self.input_shape[0]} maps {'x'.join(map(str, self.input_shape[1:]))} -> "
            f"{'x'.join(map(str, self.output_shape))}; no parameters"
        )

    def export(self):
        return {"kind": self.kind, "poolsize": self.poolsize, "image_shape": self.input_shape}

    def describe(self, compact=False):
        """ "max-pool 2" (compact "maxpool2"); "avg-pool 2" ("avgpool2")."""
        return f"{self.kind.replace('-', '') if compact else self.kind + ' '}{pair_text(*self.poolsize)}"

    def spec(self):
        return {"type": type(self).__name__, "poolsize": list(self.poolsize), "image_shape": list(self.input_shape)}

    def forward(self, x, training=False, mask=None):
        out, cache = self._pool_forward(self._images(x), self.poolsize)
        return out, (x.shape, cache)

    def backward(self, dA, cache, need_dx=True):
        x_shape, pool_cache = cache
        return (self._pool_backward(dA, pool_cache).reshape(x_shape) if need_dx else None), []


@register_layer
class MaxPoolLayer(_BlockPool):
    """Max over non-overlapping (ph, pw) blocks (``layers.maxpool_forward``): (m, c, h, w) ->
    (m, c, h // ph, w // pw).  No parameters."""

    kind, name = "max-pool", "max"
    _pool_forward, _pool_backward = staticmethod(L.maxpool_forward), staticmethod(L.maxpool_backward)


@register_layer
class AvgPoolLayer(_BlockPool):
    """Mean over non-overlapping (ph, pw) blocks (``layers.avgpool_forward``): (m, c, h, w) ->
    (m, c, h // ph, w // pw).  No parameters."""

    kind, name = "avg-pool", "mean"
    _pool_forward, _pool_backward = staticmethod(L.avgpool_forward), staticmethod(L.avgpool_backward)


@register_layer
class GlobalAvgPoolLayer(_Parameterless):
    """Each feature map's mean (``layers.global_avgpool_forward``): (m, c, h, w) -> (m, c).
    No parameters."""

    def __init__(self, image_shape):
        image = _image_shape(image_shape)
        self._set_shapes(image, (image[0],))

    def forward(self, x, training=False, mask=None):
        out, cache = L.global_avgpool_forward(self._images(x))
        return out, (x.shape, cache)

    def backward(self, dA, cache, need_dx=True):
        x_shape, pool_cache = cache
        return (L.global_avgpool_backward(dA, pool_cache).reshape(x_shape) if need_dx else None), []

    def details(self):
        c, h, w = self.input_shape
        return f"GlobalAvgPoolLayer, the mean of each of {c} maps {h}x{w} -> {c}; no parameters"

    def export(self):
        return {"kind": "global-avg-pool", "image_shape": self.input_shape}

    def describe(self, compact=False):
        """ "global avg-pool" (compact "gap")."""
        return "gap" if compact else "global avg-pool"

    def spec(self):
        return {"type": "GlobalAvgPoolLayer", "image_shape": list(self.input_shape)}
