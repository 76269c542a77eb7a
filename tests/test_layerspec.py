"""Layer networks written as one line (glassnet train --layers, GlassnetClassifier(layers=...))."""

import numpy as np
import pytest

from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
from glassnet.errors import InputError
from glassnet.training.layerspec import layer_network, parse_layers


def test_the_books_two_convpool_network():
    layers = parse_layers("conv20x5,pool2,conv40x5,pool2,fc100,softmax10", (1, 28, 28), 10, activation="sigmoid")
    assert [type(l) for l in layers] == [ConvPoolLayer, ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer]
    assert layers[0].filter_shape == (20, 1, 5, 5) and layers[0].poolsize == (2, 2)
    assert layers[1].filter_shape == (40, 20, 5, 5) and layers[1].output_shape == (40, 4, 4)
    assert (layers[2].n_in, layers[2].n_out) == (640, 100) and layers[2].activation_fn.name == "sigmoid"


def test_a_layer_without_an_activation_is_relu_in_every_face():
    """One spec string, one network: glassnet.layer_network, the options behind
    ``glassnet train --layers`` (and train_preset) and parse_layers agree (ReLU)."""
    import glassnet
    from glassnet.sklearn import GlassnetClassifier
    from glassnet.training.runs import network_from_options, run_options

    spec = "conv4x3,pool2,fc8"
    front = glassnet.layer_network(spec, (1, 8, 8), 10, seed=3, dtype="float64")
    cli = network_from_options(run_options("digits", layers=spec), (1, 8, 8), 10, seed=3, dtype="float64")
    bare = network_from_options({"layers": spec}, (1, 8, 8), 10, seed=3, dtype="float64")  # no activation given
    assert [layer["activation"] for layer in front.summary()["layers"]] == ["relu", "relu", "softmax"]
    assert front.summary() == cli.summary() == bare.summary()
    for a, b, c in zip(front.params(), cli.params(), bare.params()):
        assert np.array_equal(a, b) and np.array_equal(a, c)
    assert GlassnetClassifier(layers=spec).get_params()["activation"] == "relu"
    assert [l.activation_fn.name for l in parse_layers(spec, (1, 8, 8), 10)[:2]] == ["relu", "relu"]
    sigmoid = glassnet.layer_network(spec, (1, 8, 8), 10, activation="sigmoid", seed=3)
    assert sigmoid.summary()["activation"] == "sigmoid"


def test_activations_dropout_defaults_and_the_added_softmax():
    layers = parse_layers("conv20x5:relu,pool2,fc1000:d0.5,fc30:tanh", (1, 28, 28), 10, activation="relu")
    assert layers[0].activation_fn.name == "relu" and layers[1].activation_fn.name == "relu"
    assert layers[1].p_dropout == 0.5 and layers[2].activation_fn.name == "tanh"
    assert isinstance(layers[-1], SoftmaxLayer) and (layers[-1].n_in, layers[-1].n_out) == (30, 10)
    assert parse_layers("conv8x3x5", (1, 8, 8), 4)[0].filter_shape == (8, 1, 3, 5)  # no pool: 1x1
    assert parse_layers("fc50", (64,), 10)[0].n_in == 64
    net = layer_network("conv4x3,pool2,softmax3", (1, 8, 8), 3, seed=0, dtype="float64")
    assert net.feedforward(net.rng.random((2, 64))).shape == (2, 3)


@pytest.mark.parametrize(
    "text, message",
    [
        ("pool2,fc10", "a pool must follow a conv layer"),
        ("fc100:d1.5", "dropout must be in \\[0, 1\\)"),
        ("softmax10,fc3", "softmax layer must come last"),
        ("conv99x99", "does not fit"),
        ("fc100:swish", "unknown option ':swish'"),
        ("fc100,softmax7", "7 outputs; the data have 10 classes"),
        ("dense100", "cannot read layer 'dense100'"),
        ("fc10000000,fc10000000", "glassnet trains at most"),
        ("conv8x5", "needs image input"),
    ],
)
def test_bad_specs_are_refused_naming_the_token(text, message):
    shape = (784,) if text == "conv8x5" else (1, 28, 28)
    with pytest.raises(InputError, match=message):
        parse_layers(text, shape, 10)
