"""The three kinds of model as the pages see them: names, sizes, first layers and readings.

    Network       the book's network (chapters 1-3): sizes, weights[l] (n_out, n_in)
    LayerNetwork  chapter 6: a chain of ConvPoolLayer / FullyConnectedLayer / SoftmaxLayer
    Ensemble      chapter 6's networks answering together (the mean of their probabilities)

The live page (``watch``) asks for layer names, the parameters and the first layer's
weights as images; the drawing page (``server``) asks what the model makes of one input
(``reading``).  Nothing here prints or serves: NumPy only, the pages do the rest.
"""
from __future__ import annotations

import numpy as np

from ..core.ensemble import Ensemble, member_sizes, vote
from ..core.functions import as_probabilities
from ..core.layernet import ConvPoolLayer, LayerNetwork, SoftmaxLayer
from ..core.layers import softmax
from ..training.models import parameters
from .measures import filter_shape

__all__ = ["io_sizes", "layer_name", "layer_names", "architecture", "parameters", "first_layer_weights",
           "first_layer_images", "as_images", "is_conv_first", "reading"]


def io_sizes(network):
    """``(n_in, n_out)``: values per input sample (c*h*w for images) and outputs."""
    if isinstance(network, Ensemble):
        return network.n_in, network.n_out
    return member_sizes(network)


def _pair(a, b):
    return str(a) if a == b else f"{a}x{b}"


def layer_name(layer):
    """One layer of a LayerNetwork as the pages name it: "conv 20 5x5 / pool 2", "fc 100",
    "softmax 10" (a conv layer without pooling has no "/ pool")."""
    if isinstance(layer, ConvPoolLayer):
        f, _, kh, kw = layer.filter_shape
        pool = "" if layer.poolsize == (1, 1) else f" / pool {_pair(*layer.poolsize)}"
        return f"conv {f} {kh}x{kw}{pool}"
    return f"{'softmax' if isinstance(layer, SoftmaxLayer) else 'fc'} {layer.n_out}"


def layer_names(network):
    """A name for each layer with biases, first hidden to output (the speed-of-learning
    legend): ["hidden 1", ..., "output"] for a Network, ``layer_name`` of each layer of a
    LayerNetwork."""
    if isinstance(network, LayerNetwork):
        return [layer_name(layer) for layer in network.layers]
    return [f"hidden {l}" for l in range(1, len(network.sizes) - 1)] + ["output"]


def architecture(network):
    """The model in one line: "784-30-10", "1x28x28 · conv 20 5x5 / pool 2 · fc 100 ·
    softmax 10", "ensemble of 5 × (...), mean of their probabilities"."""
    if isinstance(network, Ensemble):
        members = [architecture(m) for m in network.members]
        what = members[0] if len(set(members)) == 1 else "; ".join(members)
        rule = "mean of their probabilities" if network.combine == "mean" else "majority vote"
        return f"ensemble of {len(members)} \u00d7 ({what}), {rule}"
    if isinstance(network, LayerNetwork):
        shape = "x".join(map(str, network.input_shape))
        return " \u00b7 ".join([shape] + layer_names(network))
    return "-".join(map(str, network.sizes))


def is_conv_first(network):
    """Whether the first layer is convolutional (its weights are kernels, not images)."""
    return isinstance(network, LayerNetwork) and isinstance(network.layers[0], ConvPoolLayer)


def first_layer_weights(network, count):
    """A copy of the first ``count`` first-layer neurons' (or filters') incoming weights:
    (k, n_in) for a Network or a fully connected first layer, (k, c, kh, kw) for a
    ConvPoolLayer.  Only a copy: cheap enough for the training thread."""
    w = network.layers[0].w if isinstance(network, LayerNetwork) else network.weights[0]
    return np.array(w[:count], copy=True)


def first_layer_images(network, image_shape=None):
    """``(shape, total)``: the image shape of one first-layer neuron's weights and how many
    neurons (filters) there are.  A conv layer's kernels are (kh, kw) images (the mean over
    input channels, see ``as_images``); a dense first layer's rows are drawn in
    ``image_shape`` ((28, 28) for MNIST; default a square when n_in is one)."""
    if is_conv_first(network):
        f, _, kh, kw = network.layers[0].filter_shape
        return (kh, kw), f
    if isinstance(network, LayerNetwork):
        return filter_shape(network.layers[0].n_in, image_shape), network.layers[0].n_out
    return filter_shape(network.sizes[0], image_shape), network.sizes[1]


def as_images(W):
    """First-layer weights from ``first_layer_weights`` as rows (k, pixels): a conv kernel
    (k, c, kh, kw) is averaged over its c input channels (one image per filter)."""
    W = np.asarray(W)
    return W.mean(axis=1).reshape(len(W), -1) if W.ndim == 4 else W.reshape(len(W), -1)


def _layer_reading(network, x):
    """``(probabilities, outputs, hidden, maps)`` of a LayerNetwork for one x (n_in,)."""
    a, hidden, maps = np.asarray(x, network.dtype).reshape(1, *network.input_shape), [], []
    for layer in network.layers:
        a, _ = layer.forward(a)                           # inference mode
        if isinstance(layer, ConvPoolLayer):
            maps.append(a[0])                             # (f, h', w'): conv, pool, activation
        elif not isinstance(layer, SoftmaxLayer):
            hidden.append(a[0])
    p = softmax(a)[0]                                     # the last a is z^L
    return p, p, hidden, maps


def reading(network, x):
    """What a model makes of one input x (n_in,) (float64 arrays):

    ``{"probabilities" (n_out,), "outputs" (n_out,) -- the output layer's activations
    (an ensemble's: the mean probabilities), "hidden" [(n,) per hidden layer] (a
    LayerNetwork's fully connected layers; none for an ensemble), "maps" [(f, h, w) per
    ConvPoolLayer], "prediction" int (an ensemble's by its rule)}``.
    """
    x = np.asarray(x)
    if isinstance(network, Ensemble):
        P = network.member_probabilities(x.reshape(1, -1))               # (k, 1, n_out)
        mean = P.mean(axis=0)
        votes = np.argmax(mean, axis=1) if network.combine == "mean" else vote(np.argmax(P, axis=2), mean)
        prediction = int(votes[0])
        probs, outputs, hidden, maps = mean[0], mean[0], [], []
    elif isinstance(network, LayerNetwork):
        probs, outputs, hidden, maps = _layer_reading(network, x)
        prediction = int(np.argmax(outputs))
    else:
        layers = [a[0] for a in network.activations(np.asarray(x, network.dtype).reshape(1, -1))]
        outputs, hidden, maps = layers[-1], layers[1:-1], []
        probs = as_probabilities(outputs, network.output_activation.name)
        prediction = int(np.argmax(outputs))
    return {"prediction": prediction, "probabilities": _f64(probs), "outputs": _f64(outputs),
            "hidden": [_f64(h) for h in hidden], "maps": [_f64(m) for m in maps]}


def _f64(a):
    return np.asarray(a, np.float64)

