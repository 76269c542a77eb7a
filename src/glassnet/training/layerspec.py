"""Layer networks written as one line: ``conv20x5,pool2,conv40x5,pool2,fc100,softmax10``.

Tokens, comma-separated, input first (the input's shape is given separately, e.g. 1x28x28):

    convFxK      the book's ConvPoolLayer of F filters K x K (``convFxKxL`` for K x L), valid, stride
                 1; the pool size is that of a ``poolP`` (``poolPxQ``) right after it, else 1
    fcN          a FullyConnectedLayer of N neurons
    softmaxN     the SoftmaxLayer of N outputs (last; added when missing, with n_out outputs)
    :relu :sigmoid :tanh :linear   after a conv/fc/bn token: its activation (default: ``activation``)
    :dP          after an fc/softmax token: dropout P on that layer's input (network3's p_dropout)

and the modern layers (``core.modern``):

    convFxKpP    a ConvLayer (zero padding P, no pooling of its own; ``convFxKpPsS`` with stride S,
    convFxKsS    ``convFxKxLpP`` for K x L): ``conv32x3p1`` keeps the size, ``conv64x3p1s2`` halves it
    bn           a BatchNormLayer over the shape before it (per channel of feature maps, per feature
                 of rows); it takes the activation (default ``activation``), and the conv or fc layer
                 right before it gets none (linear) -- a conv also no bias, beta taking its place
    relu sigmoid tanh linear   on their own: the activation of the conv, fc or bn layer right before
                 (``conv32x3p1,bn,relu`` is ``conv32x3p1,bn:relu``)
    maxpoolP     a MaxPoolLayer over P x P blocks (``maxpoolPxQ``); so is a ``poolP`` that does not
                 follow a plain ``convFxK`` (``conv32x3p1,bn,relu,pool2``)
    avgpoolP     an AvgPoolLayer over P x P blocks (``avgpoolPxQ``)
    gap          a GlobalAvgPoolLayer: each feature map's mean, (c, h, w) -> (c,)

A plain ``convFxK`` followed by ``bn`` is a ConvLayer too (padding 0).  The book's dropout
network is ``conv20x5,pool2,conv40x5,pool2,fc1000:d0.5,fc1000:d0.5,softmax10:d0.5`` with
activation relu; a batch-normalised one of today
``conv32x3p1,bn,relu,maxpool2,conv64x3p1,bn,relu,maxpool2,conv128x3p1,bn,relu,gap,softmax10``.
"""

from __future__ import annotations

import math
import re

from ..core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
from ..core.modern import AvgPoolLayer, BatchNormLayer, ConvLayer, GlobalAvgPoolLayer, MaxPoolLayer
from ..errors import InputError

__all__ = ["parse_layers", "layer_network", "MAX_LAYER_PARAMETERS"]

#: the most weights and biases a network written this way may have (as for --sizes)
MAX_LAYER_PARAMETERS = 1 << 30

ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear")
#: the activation of a conv, fc or bn layer that names none, in every face (glassnet train
#: --layers, glassnet.layer_network, the estimator's layers=): network3's sigmoid only when asked
DEFAULT_ACTIVATION = "relu"
_KINDS = ("conv", "maxpool", "avgpool", "pool", "fc", "softmax", "bn", "gap") + ACTIVATIONS
_TOKEN = re.compile(rf"^({'|'.join(_KINDS)})(\d+)?(?:x(\d+))?(?:x(\d+))?(?:p(\d+))?(?:s(\d+))?((?::[a-z]+[0-9.]*)*)$")
_HELP = (
    "write convFxK, convFxKpPsS, poolP, maxpoolP, avgpoolP, gap, bn, fcN or softmaxN, "
    "with options :relu/:sigmoid/:tanh/:linear and :dP"
)


def _options(text, token, allowed):
    activation, dropout = None, 0.0
    options = [o for o in text.split(":") if o]
    kinds = ["act" if o in ACTIVATIONS else "drop" if o.startswith("d") else o for o in options]
    if len(set(kinds)) < len(kinds):
        raise InputError(f"layer {token!r}: an option is given twice")
    for option in options:
        if option in ACTIVATIONS and "act" in allowed:
            activation = option
        elif option.startswith("d") and "drop" in allowed:
            try:
                dropout = float(option[1:])
            except ValueError:
                raise InputError(f"layer {token!r}: dropout must be a number, got {option!r}") from None
            if not 0 <= dropout < 1:
                raise InputError(f"layer {token!r}: dropout must be in [0, 1), got {dropout}")
        else:
            raise InputError(f"layer {token!r}: unknown option ':{option}'")
    return activation, dropout


def _tokens(text):
    """[(token, kind, numbers, padding, stride, options)], a bare activation folded into the
    options of the token before it."""
    tokens = []
    for token in (t.strip().lower() for t in text.split(",")):
        match = _TOKEN.match(token)
        if not match:
            raise InputError(f"cannot read layer {token!r}: {_HELP}")
        kind, a, b, c, pad, stride, options = match.groups()
        numbers = [int(x) for x in (a, b, c) if x is not None]
        bare = kind in ("bn", "gap") + ACTIVATIONS
        if (bare and (numbers or pad or stride)) or (not bare and not numbers) or (kind != "conv" and (pad or stride)):
            raise InputError(f"cannot read layer {token!r}: {_HELP}")
        if kind in ACTIVATIONS:
            if options or not tokens or tokens[-1][1] not in ("conv", "fc", "bn"):
                raise InputError(f"layer {token!r}: an activation of its own follows a conv, fc or bn layer")
            if any(o in ACTIVATIONS for o in tokens[-1][5].split(":")):
                raise InputError(f"layer {token!r}: layer {tokens[-1][0]!r} already has an activation")
            tokens[-1] = (f"{tokens[-1][0]},{token}", *tokens[-1][1:5], f"{tokens[-1][5]}:{kind}")
            continue
        tokens.append((token, kind, numbers, pad, stride, options or ""))
    return tokens


def parse_layers(text, input_shape, n_out, *, activation=DEFAULT_ACTIVATION):
    """The layers ``text`` describes, for one input of ``input_shape`` (c, h, w) or (n,).

    Returns a list of the book's ConvPoolLayer / FullyConnectedLayer / SoftmaxLayer and
    ``core.modern``'s ConvLayer / BatchNormLayer / MaxPoolLayer / AvgPoolLayer /
    GlobalAvgPoolLayer (parameterless until a LayerNetwork draws them).  InputError (one
    line, naming the token) for anything else.
    """
    shape, layers, tokens, i = tuple(input_shape), [], _tokens(text), 0
    while i < len(tokens):
        token, kind, numbers, pad, stride, options = tokens[i]
        before_bn = i + 1 < len(tokens) and tokens[i + 1][1] == "bn"
        if kind == "conv" and (pad or stride or before_bn):
            layers.append(_modern_conv(token, numbers, pad, stride, options, shape, before_bn, activation))
        elif kind == "conv":
            pool, i = _pool_after(tokens, i)
            layers.append(_conv(token, numbers, options, shape, pool, activation))
        elif kind == "pool" and not layers:
            raise InputError(f"layer {token!r}: a pool must follow a conv layer (maxpoolP is a max-pool of its own)")
        elif kind in ("pool", "maxpool", "avgpool", "gap", "bn"):
            layers.append(_shaped(token, kind, numbers, options, shape, activation))
        else:
            if kind == "softmax" and i != len(tokens) - 1:
                raise InputError(f"layer {token!r}: the softmax layer must come last")
            linear = before_bn and kind == "fc" and not options
            layers.append(_dense(token, kind, numbers, options, math.prod(shape), "linear" if linear else activation))
        shape = layers[-1].output_shape
        i += 1
    if not layers or not isinstance(layers[-1], SoftmaxLayer):
        layers.append(SoftmaxLayer(math.prod(shape), n_out))
    if layers[-1].n_out != n_out:
        raise InputError(f"the softmax layer has {layers[-1].n_out} outputs; the data have {n_out} classes")
    _check_size(layers)
    return layers


def _pool_after(tokens, i):
    if i + 1 < len(tokens) and tokens[i + 1][1] == "pool":
        token, _, numbers, _, _, options = tokens[i + 1]
        if options or len(numbers) > 2:
            raise InputError(f"layer {token!r}: write poolP or poolPxQ")
        return (numbers[0], numbers[-1]), i + 1
    return (1, 1), i


def _kernel(numbers):
    f, kh, kw = numbers[0], numbers[1] if len(numbers) > 1 else 5, numbers[-1] if len(numbers) > 2 else None
    return f, kh, kw or kh


def _conv(token, numbers, options, shape, pool, default_activation):
    if len(shape) != 3:
        raise InputError(f"layer {token!r}: a conv layer needs image input (c, h, w), got {shape}")
    act, dropout = _options(options, token, ("act",))
    f, kh, kw = _kernel(numbers)
    try:
        return ConvPoolLayer((f, shape[0], kh, kw), shape, poolsize=pool, activation_fn=act or default_activation)
    except (InputError, ValueError) as e:
        raise InputError(f"layer {token!r}: {e}") from None


def _modern_conv(token, numbers, pad, stride, options, shape, before_bn, default_activation):
    if len(shape) != 3:
        raise InputError(f"layer {token!r}: a conv layer needs image input (c, h, w), got {shape}")
    act, _ = _options(options, token, ("act",))
    act = act or ("linear" if before_bn else default_activation)
    f, kh, kw = _kernel(numbers)
    try:
        return ConvLayer(
            (f, shape[0], kh, kw),
            shape,
            padding=int(pad or 0),
            stride=int(stride or 1),
            activation_fn=act,
            bias=not (before_bn and act == "linear"),
        )
    except (InputError, ValueError) as e:
        raise InputError(f"layer {token!r}: {e}") from None


def _shaped(token, kind, numbers, options, shape, default_activation):
    """bn, or a pooling layer (pool after a ConvLayer, maxpool, avgpool, gap), on ``shape``."""
    if kind == "bn":
        act, _ = _options(options, token, ("act",))
        return BatchNormLayer(shape, activation_fn=act or default_activation)
    _options(options, token, ())
    if len(shape) != 3:
        raise InputError(f"layer {token!r}: pooling needs image input (c, h, w), got {shape}")
    if kind == "gap":
        return GlobalAvgPoolLayer(shape)
    if len(numbers) > 2:
        raise InputError(f"layer {token!r}: write {kind}P or {kind}PxQ")
    try:
        return (AvgPoolLayer if kind == "avgpool" else MaxPoolLayer)((numbers[0], numbers[-1]), shape)
    except (InputError, ValueError) as e:
        raise InputError(f"layer {token!r}: {e}") from None


def _dense(token, kind, numbers, options, n_in, default_activation):
    if len(numbers) != 1:
        raise InputError(f"layer {token!r}: write {kind}N")
    if kind == "softmax":
        _, dropout = _options(options, token, ("drop",))
        return SoftmaxLayer(n_in, numbers[0], p_dropout=dropout)
    act, dropout = _options(options, token, ("act", "drop"))
    return FullyConnectedLayer(n_in, numbers[0], activation_fn=act or default_activation, p_dropout=dropout)


def _check_size(layers):
    total = sum(math.prod(shape) for layer in layers for shape in layer.param_shapes().values())
    if total > MAX_LAYER_PARAMETERS:
        raise InputError(
            f"the layers have {total:,} weights and biases; glassnet trains at most {MAX_LAYER_PARAMETERS:,}"
        )


def layer_network(text, input_shape, n_out, *, activation=DEFAULT_ACTIVATION, seed=None, dtype="float32"):
    """A new LayerNetwork of the layers ``text`` describes (``parse_layers``), drawn from ``seed``."""
    return LayerNetwork(parse_layers(text, input_shape, n_out, activation=activation), seed=seed, dtype=dtype)
