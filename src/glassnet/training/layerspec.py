"""Layer networks written as one line: ``conv20x5,pool2,conv40x5,pool2,fc100,softmax10``.

Tokens, comma-separated, input first (the input's shape is given separately, e.g. 1x28x28):

    convFxK      a ConvPoolLayer of F filters K x K (``convFxKxL`` for K x L); the pool size is
                 that of a ``poolP`` (``poolPxQ``) right after it, else 1 (no pooling)
    fcN          a FullyConnectedLayer of N neurons
    softmaxN     the SoftmaxLayer of N outputs (last; added when missing, with n_out outputs)
    :relu :sigmoid :tanh :linear   after a conv/fc token: its activation (default: ``activation``)
    :dP          after an fc/softmax token: dropout P on that layer's input (network3's p_dropout)

The book's dropout network is ``conv20x5,pool2,conv40x5,pool2,fc1000:d0.5,fc1000:d0.5,softmax10:d0.5``
with activation relu.
"""

from __future__ import annotations

import math
import re

from ..core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
from ..errors import InputError

__all__ = ["parse_layers", "layer_network", "MAX_LAYER_PARAMETERS"]

#: the most weights and biases a network written this way may have (as for --sizes)
MAX_LAYER_PARAMETERS = 1 << 30

_TOKEN = re.compile(r"^(conv|pool|fc|softmax)(\d+)(?:x(\d+))?(?:x(\d+))?((?::[a-z]+[0-9.]*)*)$")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear")


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
    tokens = []
    for token in (t.strip().lower() for t in text.split(",")):
        match = _TOKEN.match(token)
        if not match:
            raise InputError(
                f"cannot read layer {token!r}: write convFxK, poolP, fcN or softmaxN, with "
                f"options :relu/:sigmoid/:tanh/:linear and :dP"
            )
        kind, a, b, c, options = match.groups()
        tokens.append((token, kind, [int(x) for x in (a, b, c) if x is not None], options or ""))
    return tokens


def parse_layers(text, input_shape, n_out, *, activation="sigmoid"):
    """The layers ``text`` describes, for one input of ``input_shape`` (c, h, w) or (n,).

    Returns a list of ConvPoolLayer / FullyConnectedLayer / SoftmaxLayer (parameterless until a
    LayerNetwork draws them).  InputError (one line, naming the token) for anything else.
    """
    shape, layers, tokens, i = tuple(input_shape), [], _tokens(text), 0
    while i < len(tokens):
        token, kind, numbers, options = tokens[i]
        if kind == "conv":
            pool, i = _pool_after(tokens, i)
            layers.append(_conv(token, numbers, options, shape, pool, activation))
            shape = layers[-1].output_shape
        elif kind == "pool":
            raise InputError(f"layer {token!r}: a pool must follow a conv layer")
        else:
            if kind == "softmax" and i != len(tokens) - 1:
                raise InputError(f"layer {token!r}: the softmax layer must come last")
            layers.append(_dense(token, kind, numbers, options, math.prod(shape), activation))
            shape = (layers[-1].n_out,)
        i += 1
    if not layers or not isinstance(layers[-1], SoftmaxLayer):
        layers.append(SoftmaxLayer(math.prod(shape), n_out))
    if layers[-1].n_out != n_out:
        raise InputError(f"the softmax layer has {layers[-1].n_out} outputs; the data have {n_out} classes")
    _check_size(layers)
    return layers


def _pool_after(tokens, i):
    if i + 1 < len(tokens) and tokens[i + 1][1] == "pool":
        token, _, numbers, options = tokens[i + 1]
        if options or len(numbers) > 2:
            raise InputError(f"layer {token!r}: write poolP or poolPxQ")
        return (numbers[0], numbers[-1]), i + 1
    return (1, 1), i


def _conv(token, numbers, options, shape, pool, default_activation):
    if len(shape) != 3:
        raise InputError(f"layer {token!r}: a conv layer needs image input (c, h, w), got {shape}")
    act, dropout = _options(options, token, ("act",))
    f, kh, kw = numbers[0], numbers[1] if len(numbers) > 1 else 5, numbers[-1] if len(numbers) > 2 else None
    kw = kw or kh
    try:
        return ConvPoolLayer((f, shape[0], kh, kw), shape, poolsize=pool, activation_fn=act or default_activation)
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
    total = sum(
        math.prod(l.filter_shape) + l.filter_shape[0] if hasattr(l, "filter_shape") else (l.n_in + 1) * l.n_out
        for l in layers
    )
    if total > MAX_LAYER_PARAMETERS:
        raise InputError(
            f"the layers have {total:,} weights and biases; glassnet trains at most {MAX_LAYER_PARAMETERS:,}"
        )


def layer_network(text, input_shape, n_out, *, activation="sigmoid", seed=None, dtype="float32"):
    """A new LayerNetwork of the layers ``text`` describes (``parse_layers``), drawn from ``seed``."""
    return LayerNetwork(parse_layers(text, input_shape, n_out, activation=activation), seed=seed, dtype=dtype)
