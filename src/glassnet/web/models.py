"""Any model as the pages see it: names, sizes, first layers and readings.

The live page (``watch``) asks for layer names, the parameters and the first layer's
weights as images; the drawing page (``server``) asks what the model makes of one input
(``reading``).  Every answer comes from the model protocol (``core.model``): nothing here
knows a class of model.  NumPy only; the pages do the rest.
"""

from __future__ import annotations

import numpy as np

from .measures import filter_shape

__all__ = [
    "io_sizes",
    "layer_names",
    "architecture",
    "parameters",
    "first_layer_weights",
    "first_layer_images",
    "as_images",
    "is_conv_first",
    "reading",
]


def io_sizes(network):
    """``(n_in, n_out)``: values per input sample (c*h*w for images) and outputs."""
    return network.n_in, network.n_out


def parameters(network):
    """Every parameter array of a trainable model, in its one fixed order."""
    return network.parameters()


def layer_names(network):
    """A name for each layer with parameters, first hidden to output (the speed-of-learning
    legend): ["hidden 1", ..., "output"], or "conv 20 5x5 / pool 2", "fc 100", ...; a layer
    without a bias (pooling, a convolution before batch normalisation) has no speed to show."""
    names = network.layer_names()
    biased = [int(name[1:]) for name in network.named_parameters() if name[:1] == "b" and name[1:].isdigit()]
    return [names[l] for l in biased]


def architecture(network):
    """The model in one line: "784-30-10", "1x28x28 · conv 20 5x5 / pool 2 · fc 100 ·
    softmax 10", "ensemble of 5 × (...), mean of their probabilities"."""
    return network.describe()


def is_conv_first(network):
    """Whether the first layer is convolutional (its weights are kernels (f, c, kh, kw), not rows)."""
    return np.ndim(network.first_layer_weights()) == 4


def first_layer_weights(network, count):
    """A copy of the first ``count`` first-layer neurons' (or filters') incoming weights:
    (k, n_in) rows or (k, c, kh, kw) filters.  Only a copy: cheap enough for the training thread."""
    return np.array(network.first_layer_weights()[:count], copy=True)


def first_layer_images(network, image_shape=None):
    """``(shape, total)``: the image shape of one first-layer neuron's weights and how many
    neurons (filters) there are.  A conv layer's kernels are (kh, kw) images (the mean over
    input channels, see ``as_images``); a dense first layer's rows are drawn in
    ``image_shape`` ((28, 28) for MNIST; default a square when n_in is one)."""
    W = network.first_layer_weights()
    if W.ndim == 4:
        return tuple(W.shape[2:]), W.shape[0]
    return filter_shape(W.shape[1], image_shape), W.shape[0]


def as_images(W):
    """First-layer weights from ``first_layer_weights`` as rows (k, pixels): a conv kernel
    (k, c, kh, kw) is averaged over its c input channels (one image per filter)."""
    W = np.asarray(W)
    return W.mean(axis=1).reshape(len(W), -1) if W.ndim == 4 else W.reshape(len(W), -1)


def reading(network, x):
    """What a model makes of one input x (n_in,) (float64 arrays):

    ``{"probabilities" (n_out,), "outputs" (n_out,) -- the output layer's activations
    (an ensemble's: the mean probabilities), "hidden" [(n,) per hidden fully connected
    layer], "maps" [(f, h, w) per convolutional layer], "prediction" int (an ensemble's by
    its rule)}``.
    """
    X = np.asarray(x).reshape(1, -1)
    outputs = [a[0] for a in network.layer_outputs(X)]
    return {
        "prediction": int(network.predict(X)[0]),
        "probabilities": _f64(network.probabilities(X)[0]),
        "outputs": _f64(outputs[-1]),
        "hidden": [_f64(h) for h in outputs[:-1] if h.ndim == 1],
        "maps": [_f64(m) for m in outputs[:-1] if m.ndim == 3],
    }


def _f64(a):
    return np.asarray(a, np.float64)
