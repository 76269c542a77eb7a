"""ONNX export: a glassnet model as a graph that onnxruntime (or any ONNX runtime) can run.

The exported model of a network computes ``network.feedforward(X)``:

    input   "input"  of shape (N, *input_shape): (N, c, h, w) images for a network whose
                     input is images (a convolutional layer network), else (N, n_in) rows;
                     ``flat=True`` gives rows (N, c*h*w) for every network
    output  "output" of shape (N, n_out), N dynamic unless ``batch`` is given

The exported model of a classifier -- a fitted ``glassnet.sklearn.GlassnetClassifier``, or a
scikit-learn ``Pipeline`` of feature scalers ending in one -- computes its ``predict`` and
``predict_proba`` (see ``build_classifier_model``):

    input   "input"          (N, n_features) rows, as the pipeline takes them
    outputs "label"          (N,) the predicted class labels (int64, double, bool or string)
            "probabilities"  (N, n_classes) rows summing to 1, columns in ``classes`` order

with the labels also in ``metadata_props["classes"]`` (JSON).  Converters that turn such
objects into plain parts (``ClassifierParts``) register themselves with ``register_converter``
(``glassnet.sklearn`` does so when it is imported), so that this module knows no scikit-learn.

Models compute in the dtype asked for (default: the model's own): float32 -> ONNX FLOAT,
float64 -> ONNX DOUBLE (onnxruntime's CPU provider runs every op used here in both, see
``emit_conv_pool`` for the one detour).

A model is first turned into a list of ``LayerSpec(kind, params)`` -- plain NumPy arrays
and names -- and each spec is written into the graph by the emitter ``EMITTERS[kind]``:

    "dense"            chapters 1-3: Z = A W^T + b (one Gemm, transB=1), then the activation
    "fully-connected"  chapter 6: Z = (1 - p_dropout) A W^T + b, then the activation
                       (the inference-time scaling of a layer trained with dropout: Gemm alpha,
                       or in float64 the weights scaled, alpha being a float32 attribute)
    "softmax"          chapter 6's output layer: "fully-connected" with a softmax
    "conv-pool"        chapter 6: A = f(maxpool(conv(X, w)) + b), valid convolution with
                       stride 1, non-overlapping max-pool (leftover rows/columns dropped)
    "elementwise"      X op value, ``op`` one of Sub, Div, Mul, Add, Max, Min and ``value`` a
                       number or one per feature: a feature scaler's step
    "round"            the values rounded to ``dtype`` and back (Cast, Cast): what a model
                       computing in float64 sees of an input first cast to float32

and the modern layers (``core.modern``):

    "conv"             A = f(conv(X, w) + b) with zero ``padding`` and a ``stride`` (Conv pads,
                       strides), no pooling
    "batch-norm"       f(gamma (X - mean) / sqrt(var + eps) + beta), the running statistics
                       (BatchNormalization, inference mode), images or rows
    "max-pool"         max over non-overlapping ``poolsize`` blocks (MaxPool)
    "avg-pool"         mean over them (AveragePool; float64: Reshape and MatMul)
    "global-avg-pool"  each feature map's mean, (N, c, h, w) -> (N, c) (GlobalAveragePool, Flatten)

Weights keep glassnet's shapes: ``w`` (n_out, n_in) for the fully connected kinds and
(filters, channels, kh, kw) for "conv-pool"; ``b`` (n_out,) / (filters,). The convolution is
a cross-correlation (the window is not flipped), as in ONNX ``Conv`` and CS231n's layers; a
layer that flips its kernels should pass ``w[:, :, ::-1, ::-1]``. A flat input (N, c*h*w)
reaching a "conv-pool" layer is reshaped to (N, c, h, w) (``image_shape`` or a square guess);
an image input reaching a fully connected layer is flattened row-major first.

A ``glassnet.Network`` becomes "dense" specs; a chapter-6 ``LayerNetwork`` becomes one spec per
layer ("conv-pool", "fully-connected", "softmax"). An ``Ensemble`` becomes one chain of specs
per member, all reading "input"; the output is the mean of the members' probabilities,
``Ensemble.feedforward`` (a sigmoid output divided by its row sum first, as
``functions.as_probabilities`` does). An ensemble that answers by majority vote still outputs
that mean: its argmax can differ from the vote on a few samples.

Public functions: ``export_onnx(model, path)`` (write a file), ``to_onnx(model)`` (the
checked ``onnx.ModelProto``), ``network_layers(network)`` (the specs), ``build_model(layers,
n_in)`` (a model from specs of any kind), ``ensemble_members(ensemble)`` and
``build_mean_model(members, n_in)`` (several chains averaged), ``build_classifier_model``
(labels and probabilities), ``register_converter`` and ``save_model(model, path)`` (atomic
write). Every model carries ``metadata_props``: glassnet_version, dtype, layers (JSON) and,
for a ``glassnet.Network``, sizes (JSON), activation, output_activation and cost; for a
``LayerNetwork`` network "layers" and its spec (JSON); for an ``Ensemble`` network
"ensemble", combine and members (JSON: each member's metadata); for a classifier, classes
(JSON) and what its converter adds (the pipeline's steps).

The ``onnx`` package is needed (``pip install "glassnet[onnx]"``); it is imported on first use.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np

from ..core.model import Model
from ..errors import InputError
from ..files import atomic_write
from ..version import __version__

__all__ = [
    "export_onnx",
    "to_onnx",
    "build_model",
    "build_mean_model",
    "build_classifier_model",
    "save_model",
    "network_layers",
    "ensemble_members",
    "LayerSpec",
    "ClassifierParts",
    "register_converter",
    "CONVERTERS",
    "EMITTERS",
    "DEFAULT_OPSET",
    "MIN_OPSET",
]

DEFAULT_OPSET = 17  # run by every onnxruntime of the last few years
MIN_OPSET = 13  # Softmax over the last axis only (opset 13 semantics)
_PROTOBUF_LIMIT = 2**31 - 1


class LayerSpec(NamedTuple):
    """One layer to export: ``kind`` (a key of ``EMITTERS``) and its ``params`` (dict)."""

    kind: str
    params: dict


class ClassifierParts(NamedTuple):
    """A classifier around a glassnet model, as plain parts (what a converter returns).

    steps : LayerSpecs run on the input rows (N, n_in) before the model (feature scaling)
    model : the glassnet model (``core.model.Model``) whose probabilities the classifier gives
    classes : (n_out,) the label of each of the model's outputs, in output order
    n_in : features per input row
    metadata : extra ``metadata_props`` (string keys and values)
    """

    steps: list
    model: object
    classes: np.ndarray
    n_in: int
    metadata: dict


#: ``converter(obj) -> ClassifierParts or None``, asked in order by ``to_onnx`` for an object
#: that is not a glassnet model
CONVERTERS: list = []


def register_converter(converter):
    """Teach ``to_onnx`` / ``export_onnx`` another kind of object: ``converter(obj)`` returns
    its ``ClassifierParts``, or None for objects it does not know.  ``glassnet.sklearn``
    registers its estimator and pipelines this way when it is imported; returns converter."""
    if converter not in CONVERTERS:
        CONVERTERS.append(converter)
    return converter


def _onnx():
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('ONNX export needs the onnx package: pip install "glassnet[onnx]"') from e
    return onnx


# -- the graph being built -----------------------------------------------------------------
class _Graph:
    """Nodes and initializers of one model, with each tensor's per-sample shape.

    ``shape[name]`` is the shape of one sample (the batch axis left out): (n,) for a row of
    features, (c, h, w) for images.
    """

    def __init__(self, dtype):
        self.onnx = _onnx()
        self.dtype = np.dtype(dtype)
        self.nodes, self.initializers, self.shape = [], [], {}
        self._count = 0

    def elem(self):
        """The ONNX element type of the graph's dtype."""
        return self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)

    def name(self, stem):
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem, array):
        """Add ``array`` as an initializer and return its name."""
        name = self.name(stem)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, shape, stem=None, **attrs):
        """Add one ``op`` node; its single output (per-sample ``shape``) is returned by name."""
        out = self.name(stem or op.lower())
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [out], name=out, **attrs))
        self.shape[out] = tuple(int(s) for s in shape)
        return out

    def rename_output(self, old, new):
        """Make the node that produced ``old`` produce ``new`` instead (the graph's output)."""
        for node in self.nodes:
            for i, out in enumerate(node.output):
                if out == old:
                    node.output[i] = new
                    self.shape[new] = self.shape.pop(old)
                    return
        raise AssertionError(f"no node produces {old!r}")  # only when the graph has no node


# -- activations -----------------------------------------------------------------------------
_ACTIVATION_OPS = {
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
    "softmax": "Softmax",
    "linear": None,
    "identity": None,
}


def _emit_activation(g, x, name, where):
    """f(x) for the activation called ``name``; softmax runs over the last axis (a row)."""
    name = getattr(name, "name", name)
    if name not in _ACTIVATION_OPS:
        raise InputError(f"{where}: cannot export activation {name!r}; supported: {', '.join(_ACTIVATION_OPS)}")
    op = _ACTIVATION_OPS[name]
    if op is None:
        return x
    attrs = {"axis": -1} if op == "Softmax" else {}
    return g.node(op, [x], g.shape[x], **attrs)


# -- parameter checks ------------------------------------------------------------------------
def _param(g, params, key, ndim, where):
    """``params[key]`` as a finite array of ``ndim`` dimensions in the graph's dtype."""
    if key not in params:
        raise InputError(f"{where}: missing parameter {key!r}")
    a = np.asarray(params[key])
    if a.ndim != ndim or a.dtype.kind not in "fiu":
        raise InputError(f"{where}: {key} must be a {ndim}-D real array, got {a.dtype} of shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(
            f"{where}: {key} holds {np.size(a) - np.isfinite(a).sum()} non-finite values "
            "(NaN or inf); a diverged network cannot be exported"
        )
    return a.astype(g.dtype)


def _fraction(value, where):
    p = float(value)
    if not 0.0 <= p < 1.0:
        raise InputError(f"{where}: p_dropout must be in [0, 1), got {value!r}")
    return p


# -- emitters: one per layer kind --------------------------------------------------------------
def _emit_fully_connected(g, x, params, where, *, default_activation=None):
    """activation((1 - p_dropout) A W^T + b): one Gemm (transB=1, alpha = 1 - p_dropout; a
    float64 graph stores (1 - p_dropout) W instead, since alpha is held as a float32).

    Input of any per-sample shape (flattened first when it is not a row); w of shape
    (n_out, n_in) with n_in the flattened input size; b of shape (n_out,).
    """
    w = _param(g, params, "w", 2, where)
    b = _param(g, params, "b", 1, where)
    p = _fraction(params.get("p_dropout", 0.0), where)
    n_in = int(np.prod(g.shape[x]))
    if w.shape[1] != n_in or b.shape != (w.shape[0],):
        raise InputError(f"{where}: w must have shape (n_out, {n_in}) and b (n_out,), got {w.shape} and {b.shape}")
    if len(g.shape[x]) != 1:
        x = g.node("Flatten", [x], (n_in,), axis=1)
    attrs = {"transB": 1}
    if p != 0.0 and g.dtype == np.float32:
        attrs["alpha"] = 1.0 - p
    elif p != 0.0:  # Gemm's alpha is a 32-bit float: float64 scales the weights instead
        w = (1.0 - p) * w
    z = g.node("Gemm", [x, g.const("W", w), g.const("b", b)], (w.shape[0],), **attrs)
    return _emit_activation(g, z, params.get("activation", default_activation), where)


def _emit_softmax(g, x, params, where):
    """Chapter 6's softmax output layer: a fully connected layer whose activation is softmax."""
    if params.get("activation", "softmax") != "softmax":
        raise InputError(f"{where}: a softmax layer's activation is softmax, got {params['activation']!r}")
    return _emit_fully_connected(g, x, params, where, default_activation="softmax")


def _image_input(g, x, channels, image_shape, where):
    """``x`` as images (c, h, w): as it is, or reshaped from a flat row of c*h*w features."""
    shape = g.shape[x]
    if image_shape is None:
        if len(shape) == 3:
            image_shape = shape
        else:
            side = int(round(np.sqrt(shape[0] / channels)))
            image_shape = (channels, side, side)
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) != 3 or image_shape[0] != channels or np.prod(image_shape) != np.prod(shape):
        raise InputError(
            f"{where}: input of per-sample shape {shape} cannot be read as images "
            f"{image_shape} with {channels} channel(s); pass image_shape=(c, h, w)"
        )
    if shape == image_shape:
        return x
    return g.node("Reshape", [x, g.const("shape", np.array((-1,) + image_shape, np.int64))], image_shape)


def _emit_conv_pool(g, x, params, where):
    """f(maxpool(conv(X, w)) + b): chapter 6's convolutional-pooling layer.

    X (N, c, h, w) -- or (N, c*h*w), reshaped; w (f, c, kh, kw); b (f,); ``poolsize`` (ph, pw);
    output (N, f, (h-kh+1)//ph, (w-kw+1)//pw). Bias and activation come after the pooling,
    as in the book (max commutes with adding a per-filter constant and with a rising f).
    """
    w = _param(g, params, "w", 4, where)
    b = _param(g, params, "b", 1, where)
    x = _image_input(g, x, w.shape[1], params.get("image_shape"), where)
    (c, h, wd), (f, _, kh, kw) = g.shape[x], w.shape
    ph, pw = (int(s) for s in params.get("poolsize", (2, 2)))
    if b.shape != (f,) or not (0 < kh <= h and 0 < kw <= wd and ph > 0 and pw > 0):
        raise InputError(
            f"{where}: filters {w.shape}, bias {b.shape} and poolsize {(ph, pw)} do not fit images {(c, h, wd)}"
        )
    oh, ow = h - kh + 1, wd - kw + 1
    if oh < ph or ow < pw:
        raise InputError(f"{where}: poolsize {(ph, pw)} is larger than the convolution's output {(oh, ow)}")
    conv = _conv_valid(g, x, w)
    pooled = g.node("MaxPool", [conv], (f, oh // ph, ow // pw), kernel_shape=[ph, pw], strides=[ph, pw])
    z = g.node("Add", [pooled, g.const("b", b.reshape(f, 1, 1))], g.shape[pooled])
    activation = getattr(params.get("activation", "sigmoid"), "name", params.get("activation", "sigmoid"))
    if activation == "softmax":
        raise InputError(f"{where}: softmax is an output-layer activation, not a convolutional one")
    return _emit_activation(g, z, activation, where)


def _conv_valid(g, x, w, stride=1):
    """Valid cross-correlation of images x (N, c, h, w) with filters w (f, c, kh, kw), moved
    ``stride`` at a time (1: the book's).

    float32 uses ONNX ``Conv``. onnxruntime has no float64 ``Conv`` on the CPU, so float64
    builds it from ops that it has, im2col-style: one Slice per kernel offset (i, j) (every
    stride-th position), stacked along the channels into (N, kh*kw*c, oh, ow), then a MatMul
    with the filters laid out as (kh*kw*c, f). Same numbers, still float64, no cast.
    """
    (c, h, wd), (f, _, kh, kw) = g.shape[x], w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    if g.dtype == np.float32:
        strides = {"strides": [stride, stride]} if stride != 1 else {}
        return g.node("Conv", [x, g.const("filters", w)], (f, oh, ow), kernel_shape=[kh, kw], **strides)
    axes = g.const("axes", np.array([2, 3], np.int64))
    steps = [g.const("steps", np.array([stride, stride], np.int64))] if stride != 1 else []
    patches = []
    for i in range(kh):
        for j in range(kw):
            starts = g.const("starts", np.array([i, j], np.int64))
            ends = g.const("ends", np.array([i + stride * (oh - 1) + 1, j + stride * (ow - 1) + 1], np.int64))
            patches.append(g.node("Slice", [x, starts, ends, axes, *steps], (c, oh, ow)))
    cols = g.node("Concat", patches, (kh * kw * c, oh, ow), axis=1)
    cols = g.node("Transpose", [cols], (oh, ow, kh * kw * c), perm=[0, 2, 3, 1])
    w_cols = w.transpose(2, 3, 1, 0).reshape(kh * kw * c, f)  # row (i*kw + j)*c + channel
    out = g.node("MatMul", [cols, g.const("filters", w_cols)], (oh, ow, f))
    return g.node("Transpose", [out], (f, oh, ow), perm=[0, 3, 1, 2])


def _whole(params, key, default, low, where):
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{where}: {key} must be a whole number >= {low}, got {value!r}")
    return int(value)


def _emit_conv(g, x, params, where):
    """f(conv(X, w, padding, stride) + b): a convolution with zero padding and a stride, no pooling.

    X (N, c, h, w) (or flat, reshaped); w (f, c, kh, kw); b (f,); output (N, f, oh, ow),
    oh = (h + 2 padding - kh) // stride + 1.  float32: one ``Conv`` (pads, strides, bias);
    float64: ``Pad`` then ``_conv_valid``'s detour, then the bias.
    """
    w = _param(g, params, "w", 4, where)
    b = _param(g, params, "b", 1, where)
    pad, stride = _whole(params, "padding", 0, 0, where), _whole(params, "stride", 1, 1, where)
    x = _image_input(g, x, w.shape[1], params.get("image_shape"), where)
    (c, h, wd), (f, _, kh, kw) = g.shape[x], w.shape
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    if b.shape != (f,) or oh < 1 or ow < 1 or pad >= min(kh, kw):
        raise InputError(f"{where}: filters {w.shape}, bias {b.shape} and padding {pad} do not fit images {(c, h, wd)}")
    if g.dtype == np.float32:
        z = g.node(
            "Conv",
            [x, g.const("filters", w), g.const("b", b)],
            (f, oh, ow),
            kernel_shape=[kh, kw],
            pads=[pad] * 4,
            strides=[stride, stride],
        )
    else:
        if pad:
            pads = g.const("pads", np.array([0, 0, pad, pad, 0, 0, pad, pad], np.int64))
            x = g.node("Pad", [x, pads], (c, h + 2 * pad, wd + 2 * pad))
        conv = _conv_valid(g, x, w, stride)
        z = g.node("Add", [conv, g.const("b", b.reshape(f, 1, 1))], g.shape[conv])
    activation = getattr(params.get("activation", "linear"), "name", params.get("activation", "linear"))
    if activation == "softmax":
        raise InputError(f"{where}: softmax is an output-layer activation, not a convolutional one")
    return _emit_activation(g, z, activation, where)


def _emit_batch_norm(g, x, params, where):
    """f(gamma (x - mean) / sqrt(var + eps) + beta), inference mode: one ``BatchNormalization``
    (w = gamma, b = beta, mean and var the running statistics, each (c,)) over images
    (N, c, h, w) or rows (N, c)."""
    gamma, beta = _param(g, params, "w", 1, where), _param(g, params, "b", 1, where)
    mean, var = _param(g, params, "mean", 1, where), _param(g, params, "var", 1, where)
    eps = float(params.get("eps", 1e-5))
    c = g.shape[x][0]
    if len(g.shape[x]) not in (1, 3) or {a.shape for a in (gamma, beta, mean, var)} != {(c,)}:
        raise InputError(f"{where}: gamma, beta, mean and var must each hold {c} values for input {g.shape[x]}")
    if not eps > 0 or np.any(var < 0):
        raise InputError(f"{where}: eps must be > 0 and the variances >= 0, got eps {eps!r}")
    names = [g.const(stem, a) for stem, a in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var))]
    z = g.node("BatchNormalization", [x, *names], g.shape[x], epsilon=eps)
    return _emit_activation(g, z, params.get("activation", "linear"), where)


def _pool_input(g, x, params, where):
    pool = tuple(int(s) for s in params.get("poolsize", (2, 2)))
    c = g.shape[x][0] if len(g.shape[x]) == 3 else int(np.asarray(params.get("image_shape", (1,)))[0])
    x = _image_input(g, x, c, params.get("image_shape"), where)
    (c, h, wd) = g.shape[x]
    if len(pool) != 2 or min(pool) < 1 or h < pool[0] or wd < pool[1]:
        raise InputError(f"{where}: poolsize {pool} does not fit images {(c, h, wd)}")
    return x, pool, (c, h // pool[0], wd // pool[1])


def _emit_max_pool(g, x, params, where):
    """Max over non-overlapping (ph, pw) blocks, leftover rows and columns dropped: ``MaxPool``."""
    x, pool, shape = _pool_input(g, x, params, where)
    return g.node("MaxPool", [x], shape, kernel_shape=list(pool), strides=list(pool))


def _emit_avg_pool(g, x, params, where):
    """Mean over non-overlapping (ph, pw) blocks, leftover rows and columns dropped.

    float32: ``AveragePool``; float64 (which onnxruntime's AveragePool lacks): the blocks cut
    out (Slice), laid along the last axis (Reshape, Transpose, Reshape) and averaged by a
    MatMul with (ph*pw,) values 1 / (ph pw).
    """
    x, (ph, pw), (c, oh, ow) = _pool_input(g, x, params, where)
    if g.dtype == np.float32:
        return g.node("AveragePool", [x], (c, oh, ow), kernel_shape=[ph, pw], strides=[ph, pw])
    if g.shape[x][1:] != (oh * ph, ow * pw):
        ends = g.const("ends", np.array([oh * ph, ow * pw], np.int64))
        axes = g.const("axes", np.array([2, 3], np.int64))
        x = g.node("Slice", [x, g.const("starts", np.zeros(2, np.int64)), ends, axes], (c, oh * ph, ow * pw))
    blocks = g.node("Reshape", [x, g.const("shape", np.array([-1, c, oh, ph, ow, pw], np.int64))], (c, oh, ph, ow, pw))
    blocks = g.node("Transpose", [blocks], (c, oh, ow, ph, pw), perm=[0, 1, 2, 4, 3, 5])
    rows = g.node(
        "Reshape", [blocks, g.const("shape", np.array([-1, c, oh, ow, ph * pw], np.int64))], (c, oh, ow, ph * pw)
    )
    return g.node("MatMul", [rows, g.const("mean", np.full(ph * pw, 1.0 / (ph * pw), g.dtype))], (c, oh, ow))


def _emit_global_avg_pool(g, x, params, where):
    """Each feature map's mean, (N, c, h, w) -> (N, c): ``GlobalAveragePool`` then Flatten
    (float32); float64 reshapes to (N, c, h*w) and multiplies by (h*w,) values 1 / (h w)."""
    if len(g.shape[x]) != 3:
        x = _image_input(g, x, int(np.asarray(params.get("image_shape", (1,)))[0]), params.get("image_shape"), where)
    c, h, wd = g.shape[x]
    if g.dtype == np.float32:
        pooled = g.node("GlobalAveragePool", [x], (c, 1, 1))
        return g.node("Flatten", [pooled], (c,), axis=1)
    rows = g.node("Reshape", [x, g.const("shape", np.array([-1, c, h * wd], np.int64))], (c, h * wd))
    return g.node("MatMul", [rows, g.const("mean", np.full(h * wd, 1.0 / (h * wd), g.dtype))], (c,))


_ELEMENTWISE_OPS = ("Sub", "Div", "Mul", "Add", "Max", "Min")


def _emit_elementwise(g, x, params, where):
    """X op value on rows X (N, n): ``op`` Sub, Div, Mul, Add (a feature scaler: X - mean,
    X / scale, ...) or Max, Min (clipping); ``value`` a number or one per feature (n,),
    computed in the graph's dtype, as the scaler computes on an input of that dtype."""
    op = params.get("op")
    if op not in _ELEMENTWISE_OPS:
        raise InputError(f"{where}: op must be one of {', '.join(_ELEMENTWISE_OPS)}, got {op!r}")
    if len(g.shape[x]) != 1:
        raise InputError(f"{where}: works on rows of features, got per-sample shape {g.shape[x]}")
    value = np.asarray(params.get("value"))
    if value.dtype.kind not in "fiub" or value.shape not in ((), g.shape[x]):
        raise InputError(
            f"{where}: value must be a number or {g.shape[x][0]} numbers, got {value.dtype} of shape {value.shape}"
        )
    if not np.all(np.isfinite(value)):
        raise InputError(f"{where}: value holds non-finite numbers (NaN or inf)")
    return g.node(op, [x, g.const(op.lower(), value.astype(g.dtype))], g.shape[x])


def _emit_round(g, x, params, where):
    """The values rounded to ``params["dtype"]`` and back (Cast, Cast) when it is narrower
    than the graph's: a float64 graph of a model that casts its input to float32 first (as
    ``GlassnetClassifier`` casts X to its network's dtype) sees the same numbers."""
    try:
        dtype = np.dtype(params.get("dtype"))
    except TypeError:
        raise InputError(f"{where}: dtype must name a float type, got {params.get('dtype')!r}") from None
    if dtype not in (np.float32, np.float64):
        raise InputError(f"{where}: dtype must be float32 or float64, got {dtype}")
    if dtype.itemsize >= g.dtype.itemsize:
        return x
    to_type = g.onnx.helper.np_dtype_to_tensor_dtype
    narrow = g.node("Cast", [x], g.shape[x], to=to_type(dtype))
    return g.node("Cast", [narrow], g.shape[x], to=to_type(g.dtype))


EMITTERS = {
    "dense": _emit_fully_connected,
    "fully-connected": _emit_fully_connected,
    "softmax": _emit_softmax,
    "conv-pool": _emit_conv_pool,
    "conv": _emit_conv,
    "batch-norm": _emit_batch_norm,
    "max-pool": _emit_max_pool,
    "avg-pool": _emit_avg_pool,
    "global-avg-pool": _emit_global_avg_pool,
    "elementwise": _emit_elementwise,
    "round": _emit_round,
}


# -- networks -> layer specs ---------------------------------------------------------------------
def network_layers(network):
    """The ``LayerSpec`` list of one network, from its ``layer_specs()`` (``core.model``): a
    ``glassnet.Network`` gives one "dense" spec per weight matrix; a chapter-6 ``LayerNetwork``
    one spec per layer ("conv-pool" with its poolsize, input image shape and activation;
    "fully-connected" and "softmax" with their p_dropout). The arrays are the network's own
    (not copies). An ``Ensemble`` has one list per member: see ``ensemble_members``.
    """
    _check_model(network)
    return [LayerSpec(spec.pop("kind"), spec) for spec in map(dict, network.layer_specs())]


def _check_model(network):
    if not isinstance(network, Model):
        raise InputError(
            f"cannot export a {type(network).__name__}: it is not a glassnet model "
            "(export_onnx takes a glassnet.Network, LayerNetwork or Ensemble, and, once "
            "glassnet.sklearn is loaded, a fitted GlassnetClassifier or a Pipeline of scalers "
            "ending in one)"
        )


def ensemble_members(ensemble):
    """``[(layers, normalise), ...]``, one per member of ``ensemble``: the member's
    ``network_layers`` and whether its output must be divided by its row sum to become
    probabilities (a sigmoid output layer; a softmax output is used as it is).

    InputError for a member whose output is neither softmax nor sigmoid (its probabilities,
    ``as_probabilities``, would need a clip at 0 and a rule for all-zero rows).
    """
    members = []
    for j, member in enumerate(ensemble.members):
        output = member.summary()["output_activation"]
        if output not in ("softmax", "sigmoid"):
            raise InputError(
                f"ensemble member {j}: cannot export a {output!r} output layer as "
                f"probabilities; members need softmax or sigmoid outputs"
            )
        members.append((network_layers(member), output == "sigmoid"))
    return members


_NOT_SAID = ("format_version", "dtype", "seed", "init")


def _network_info(network):
    """What ``metadata_props`` says of a model, as JSON-able values: its ``header()`` without
    dtype, seed, init and format version (an ensemble's members' headers likewise)."""
    info = {k: v for k, v in network.header().items() if k not in _NOT_SAID}
    if isinstance(info.get("members"), list):
        info["members"] = [{k: v for k, v in m.items() if k not in _NOT_SAID} for m in info["members"]]
    return info


def _network_metadata(network):
    """``_network_info`` as strings: lists and dicts as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in _network_info(network).items()}


def _ensemble_dtype(ensemble):
    dtypes = sorted({np.dtype(m.dtype).name for m in ensemble.members})
    if len(dtypes) != 1:
        raise InputError(f"ensemble members must share one dtype to be exported, got {', '.join(dtypes)}")
    return np.dtype(dtypes[0])


# -- models ------------------------------------------------------------------------------------
def _check_options(dtype, opset, batch):
    onnx = _onnx()
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise InputError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise InputError(f"ONNX export supports float32 and float64 networks, got {dtype}")
    opset = DEFAULT_OPSET if opset is None else opset
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, (int, np.integer)) or isinstance(opset, bool) or not MIN_OPSET <= opset <= newest:
        raise InputError(f"opset must be an integer from {MIN_OPSET} to {newest}, got {opset!r}")
    if batch is not None and (not isinstance(batch, (int, np.integer)) or isinstance(batch, bool) or batch < 1):
        raise InputError(f"batch must be None (dynamic) or a positive integer, got {batch!r}")
    return dtype, int(opset), (None if batch is None else int(batch))


def build_model(layers, n_in, *, dtype=np.float32, opset=None, batch=None, metadata=None):
    """A checked ``onnx.ModelProto`` running ``layers`` (LayerSpecs) on "input" (N, *n_in).

    ``n_in`` the per-sample input shape: a number n for rows (N, n), a tuple (c, h, w) for
    images (N, c, h, w); ``dtype`` float32 or float64 (inputs, weights and outputs); ``opset``
    the ONNX opset (``DEFAULT_OPSET`` when None); ``batch`` None for a dynamic batch axis
    "N", or a fixed size; ``metadata`` extra string pairs for ``metadata_props``. Raises
    ``InputError`` for anything that cannot be exported, naming the layer and the reason.
    """
    dtype, opset, batch = _check_options(dtype, opset, batch)
    shape = _check_input(n_in, layers)
    g = _Graph(dtype)
    g.shape["input"] = shape
    x = _emit_chain(g, "input", layers, "")
    if x == "input":
        x = g.node("Identity", [x], g.shape[x])
    g.rename_output(x, "output")
    outputs = [("output", g.elem(), g.shape["output"])]
    return _assemble(g, shape, outputs, opset, batch, {"layers": json.dumps(_describe(layers)), **(metadata or {})})


def build_mean_model(members, n_in, *, dtype=np.float32, opset=None, batch=None, metadata=None):
    """A checked ``onnx.ModelProto`` whose output is the mean of several chains' outputs.

    members : list of ``(layers, normalise)``: each chain of LayerSpecs reads "input" (N, *n_in);
        with ``normalise`` its output rows are divided by their sums (sigmoid outputs as
        probabilities) before the mean. Every chain must end in the same shape (n_out,).
    Other arguments as ``build_model``; InputError naming the member and layer otherwise.
    """
    dtype, opset, batch = _check_options(dtype, opset, batch)
    if not members:
        raise InputError("need at least one member to average, got none")
    for layers, _ in members:
        shape = _check_input(n_in, layers)
    g = _Graph(dtype)
    g.shape["input"] = shape
    g.rename_output(_emit_mean(g, "input", members), "output")
    described = [_describe(layers) for layers, _ in members]
    outputs = [("output", g.elem(), g.shape["output"])]
    return _assemble(g, shape, outputs, opset, batch, {"layers": json.dumps(described), **(metadata or {})})


def _emit_mean(g, x, members):
    """The mean of the members' (normalised) outputs, each chain reading ``x``; one member's
    output is its own (no Mean node)."""
    outputs = []
    for j, (layers, normalise) in enumerate(members):
        y = _emit_chain(g, x, layers, f"member {j}, " if len(members) > 1 else "")
        if normalise:
            axes = g.const("axes", np.array([-1], np.int64))
            total = g.node("ReduceSum", [y, axes], g.shape[y][:-1] + (1,), keepdims=1)
            y = g.node("Div", [y, total], g.shape[y])
        if outputs and g.shape[y] != g.shape[outputs[0]]:
            raise InputError(f"member {j} outputs per-sample shape {g.shape[y]}, member 0 {g.shape[outputs[0]]}")
        outputs.append(y)
    if len(outputs) == 1:
        return outputs[0]
    return g.node("Mean", outputs, g.shape[outputs[0]])


def build_classifier_model(steps, members, n_in, classes, *, dtype=np.float32, opset=None, batch=None, metadata=None):
    """A checked ``onnx.ModelProto`` of a classifier: "input" (N, n_in) rows, then ``steps``
    (LayerSpecs: feature scaling), then the mean of the members' probabilities
    (``build_mean_model``'s members; one member for one network) as "probabilities"
    (N, n_classes), and "label" (N,) = classes[argmax] (the first of equal maxima, as NumPy).

    classes : (n_classes,) the labels, one per output: integers (int64 in the graph), floats
        (double), booleans or strings; also written to ``metadata_props["classes"]`` (JSON).
    Other arguments as ``build_model``; outputs in the order "label", "probabilities".
    """
    dtype, opset, batch = _check_options(dtype, opset, batch)
    classes, label_type = _check_classes(classes)
    if not members:
        raise InputError("a classifier needs a model, got no members")
    for layers, _ in members:
        shape = _check_input(n_in, list(steps) + list(layers))
    g = _Graph(dtype)
    g.shape["input"] = shape
    x = _emit_chain(g, "input", steps, "preprocessing ")
    probabilities = _emit_mean(g, x, members)
    if g.shape[probabilities] != (len(classes),):
        raise InputError(
            f"the model outputs per-sample shape {g.shape[probabilities]}, the classifier has {len(classes)} classes"
        )
    g.rename_output(probabilities, "probabilities")
    index = g.node("ArgMax", ["probabilities"], (), axis=1, keepdims=0)
    table = g.name("classes")
    g.initializers.append(g.onnx.numpy_helper.from_array(classes, table))
    g.rename_output(g.node("Gather", [table, index], (), axis=0), "label")
    outputs = [("label", label_type, ()), ("probabilities", g.elem(), (len(classes),))]
    props = {
        "layers": json.dumps([_describe(list(steps) + list(layers)) for layers, _ in members]),
        "classes": json.dumps(classes.tolist()),
        **(metadata or {}),
    }
    return _assemble(g, shape, outputs, opset, batch, props)


def _check_classes(classes):
    """``(classes as an array the graph can hold, its ONNX element type)``."""
    TensorProto = _onnx().TensorProto
    classes = np.asarray(classes)
    if classes.ndim != 1 or len(classes) < 1:
        raise InputError(f"classes must be a 1-D array of at least one label, got shape {classes.shape}")
    kind = classes.dtype.kind
    if kind in "iu":
        return classes.astype(np.int64), TensorProto.INT64
    if kind == "f":
        return classes.astype(np.float64), TensorProto.DOUBLE
    if kind == "b":
        return classes, TensorProto.BOOL
    if kind in "US" or (kind == "O" and all(isinstance(c, str) for c in classes)):
        return np.array([str(c) for c in classes], dtype=object), TensorProto.STRING
    raise InputError(
        f"class labels must be integers, floats, booleans or strings, got {classes.dtype} ({classes[:3].tolist()!r})"
    )


def _check_input(n_in, layers):
    """The per-sample input shape: (n,) from a number, a tuple of positive sizes as it is."""
    shape = tuple(int(s) for s in n_in) if isinstance(n_in, (tuple, list)) else (int(n_in),)
    if not shape or len(shape) not in (1, 3) or min(shape) < 1 or not layers:
        raise InputError(
            f"need an input of n_in >= 1 values or (c, h, w) images and at least one layer, got "
            f"{n_in} and {len(layers)} layers"
        )
    return shape


def _emit_chain(g, x, layers, prefix):
    """Emit ``layers`` one after another from tensor ``x``; the last tensor's name."""
    for index, layer in enumerate(layers):
        kind, params = layer
        where = f"{prefix}layer {index} ({kind})"
        if kind not in EMITTERS:
            raise InputError(f"{where}: no ONNX emitter for layer kind {kind!r}; known: {', '.join(EMITTERS)}")
        x = EMITTERS[kind](g, x, params, where)
    return x


def _describe(layers):
    return [
        {
            "kind": kind,
            "activation": str(getattr(p.get("activation"), "name", p.get("activation"))),
            "shape": list(np.shape(p.get("w", p.get("value")))),
        }
        for kind, p in layers
    ]


def _assemble(g, input_shape, outputs, opset, batch, metadata):
    """Wrap the graph's nodes into a model with "input" (N, *input_shape), ``outputs``
    (``(name, ONNX element type, per-sample shape)`` each) and metadata; check it."""
    onnx, helper = g.onnx, g.onnx.helper
    n = "N" if batch is None else batch
    graph = helper.make_graph(
        g.nodes,
        "glassnet",
        [helper.make_tensor_value_info("input", g.elem(), [n, *input_shape])],
        [helper.make_tensor_value_info(name, elem, [n, *shape]) for name, elem, shape in outputs],
        g.initializers,
    )
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="glassnet",
        producer_version=__version__,
        ir_version=helper.find_min_ir_version_for(opsets),
        doc_string="glassnet model: "
        + ", ".join(f'"{name}"' for name, _, _ in outputs)
        + ' from "input", one sample per index of the first axis',
    )
    props = {"glassnet_version": __version__, "dtype": g.dtype.name, **metadata}
    helper.set_model_props(model, {str(k): str(v) for k, v in props.items()})
    if model.ByteSize() > _PROTOBUF_LIMIT:
        raise InputError(f"the model needs {model.ByteSize()} bytes; one ONNX file holds at most 2 GiB")
    onnx.checker.check_model(model, full_check=True)
    return model


def to_onnx(model, *, opset=None, batch=None, flat=False, dtype=None):
    """``model`` as a checked ``onnx.ModelProto``: see ``export_onnx``."""
    if not isinstance(model, Model):
        parts = next((p for p in (convert(model) for convert in CONVERTERS) if p is not None), None)
        if parts is not None:
            return _classifier_onnx(parts, opset, batch, dtype)
    _check_model(model)
    shape = (model.n_in,) if flat else tuple(model.input_shape)
    if model.members[0] is not model:  # an ensemble: the mean of its members
        return build_mean_model(
            ensemble_members(model),
            shape,
            dtype=dtype or _ensemble_dtype(model),
            opset=opset,
            batch=batch,
            metadata=_network_metadata(model),
        )
    layers = network_layers(model)
    return build_model(
        layers, shape, dtype=dtype or model.dtype, opset=opset, batch=batch, metadata=_network_metadata(model)
    )


def _classifier_onnx(parts, opset, batch, dtype):
    """The labels-and-probabilities model of a converter's ``ClassifierParts``."""
    model = parts.model
    _check_model(model)
    metadata = _network_metadata(model)
    metadata.update({str(k): str(v) for k, v in parts.metadata.items()})
    return build_classifier_model(
        list(parts.steps),
        ensemble_members(model),
        int(parts.n_in),
        parts.classes,
        dtype=dtype or _ensemble_dtype(model),
        opset=opset,
        batch=batch,
        metadata=metadata,
    )


def save_model(model, path):
    """Write ``model`` to ``path`` atomically (``glassnet.files.atomic_write``): a failure
    leaves ``path`` as it was and no temporary file behind."""
    data = model.SerializeToString()
    return atomic_write(path, lambda f: f.write(data))


def export_onnx(model, path, *, opset=None, batch=None, flat=False, dtype=None):
    """Write ``model`` as an ONNX model to ``path`` and return the path.

    A network maps "input" to "output" (N, n_out) exactly as ``feedforward`` does; a
    classifier maps "input" (N, n_features) to "label" (N,) and "probabilities"
    (N, n_classes) as its ``predict`` and ``predict_proba`` do.

    Parameters
    ----------
    model : glassnet.Network, LayerNetwork or Ensemble; or a classifier a converter knows
        A Network: hidden activation sigmoid/tanh/relu, output sigmoid or softmax. A chapter-6
        LayerNetwork: conv-pool, fully connected (dropout scaling included) and softmax
        layers, and the modern ones (padded/strided conv, batch norm with its running
        statistics, max-, average and global average pooling). An Ensemble: the mean of its
        members' probabilities (members sharing one dtype, each with a softmax or sigmoid output).
        With ``glassnet.sklearn`` loaded: a fitted ``GlassnetClassifier``, or a ``Pipeline`` of
        StandardScaler, MinMaxScaler or MaxAbsScaler steps ending in one.
    path : str or path-like
        The file to write (conventionally ``*.onnx``); its folder must exist.
    opset : int, optional
        ONNX opset, ``DEFAULT_OPSET`` (17) by default; at least ``MIN_OPSET`` (13).
    batch : int, optional
        A fixed batch size; None (default) leaves the batch axis dynamic ("N").
    flat : bool, default False
        A network whose input is images (a convolutional layer network, input_shape
        (c, h, w)) reads "input" (N, c, h, w) by default; True makes it read rows
        (N, c*h*w), as glassnet's own ``feedforward`` also accepts. Other networks and
        classifiers read rows either way.
    dtype : "float32" or "float64", optional
        What the graph computes in (input, weights, outputs); default the model's own
        dtype. A float32 classifier exported as float64 rounds its (scaled) input to
        float32 first, as its ``predict_proba`` does, and then reproduces it to ~1e-12.

    Raises ``InputError`` (naming why) for a model or option that cannot be exported;
    nothing is written then.
    """
    return save_model(to_onnx(model, opset=opset, batch=batch, flat=flat, dtype=dtype), path)
