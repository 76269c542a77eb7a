"""The compiled layer engine runs core.modern's layers (conv with padding and stride, with and
without bias; batch norm of maps and of rows; max-, avg- and global avg-pooling): its epochs equal
the NumPy layers' (weights, biases, running statistics, velocities, Adam's moments and step count,
a rate per mini-batch) on every build this processor runs, and so does its inference."""

import importlib.util
import os

import numpy as np
import pytest
from test_modern_layers import every_layer_network

from glassnet import engines
from glassnet.core import layers as L
from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
from glassnet.core.modern import AvgPoolLayer, BatchNormLayer, ConvLayer, MaxPoolLayer
from glassnet.engines import NumpyEngine
from glassnet.engines import layers_fast as lf
from glassnet.errors import InputError
from glassnet.training import SGD, Momentum
from glassnet.training.layerspec import layer_network
from glassnet.training.optimizers import Adam

if not lf.available():
    if os.environ.get("CI"):
        pytest.fail("the compiled layer kernel did not build: CI must run the compiled path", pytrace=False)
    pytest.skip("the compiled layer kernel was not built", allow_module_level=True)

TOL = {np.float32: 1e-5, np.float64: 1e-10}


# -- networks: every new layer, in several shapes ------------------------------------------------
def every_layer(dtype, seed=0):
    """Padding 1 and 0, stride 1 and 2, no bias before a batch norm of maps, max-, avg- and
    global pooling, a batch norm of rows after a fully connected layer.  Images (1, 8, 8)."""
    return every_layer_network(dtype, seed)


def odd_shapes(dtype, seed=1):
    """Three input channels, a valid stride-2 conv on 9x8 images, pools that drop a border row
    or column, a batch norm of maps feeding rows directly, relu.  Images (3, 9, 8)."""
    layers = [
        ConvLayer((5, 3, 3, 2), (3, 9, 8), padding=0, stride=2, activation_fn="relu"),  # -> 5x4x4
        MaxPoolLayer((3, 2), (5, 4, 4)),  # -> 5x1x2, a row dropped
        BatchNormLayer((5, 1, 2), activation_fn="sigmoid"),
        FullyConnectedLayer(10, 6, activation_fn="relu", p_dropout=0.3),
        SoftmaxLayer(6, 4, p_dropout=0.2),
    ]
    return LayerNetwork(layers, seed=seed, dtype=dtype)


def book_and_modern(dtype, seed=2):
    """The book's conv-pool layer among the modern ones: conv-pool, batch norm of its maps, a
    padded conv with bias, avg-pool with a dropped border column, then straight to the softmax
    (channel-first flattening).  Images (1, 11, 11)."""
    layers = [
        ConvPoolLayer((4, 1, 4, 4), (1, 11, 11), (2, 2), "relu"),  # 8x8 -> 4x4
        BatchNormLayer((4, 4, 4), activation_fn="relu"),
        ConvLayer((16, 4, 3, 3), (4, 4, 4), padding=1, activation_fn="relu"),
        AvgPoolLayer((2, 3), (16, 4, 4)),  # -> 2x1
        SoftmaxLayer(32, 5),
    ]
    return LayerNetwork(layers, seed=seed, dtype=dtype)


def recipe(dtype, seed=3):
    """A recipe as --layers writes it: conv, bn, relu, maxpool twice, fc, bn, softmax."""
    return layer_network(
        "conv8x3p1,bn,relu,maxpool2,conv16x3p1,bn,relu,maxpool2,fc12,bn,relu,softmax10",
        (1, 12, 12),
        10,
        activation="relu",
        seed=seed,
        dtype=dtype,
    )


NETWORKS = {"every_layer": every_layer, "odd_shapes": odd_shapes, "book_and_modern": book_and_modern, "recipe": recipe}
INPUTS = {"every_layer": (1, 8, 8), "odd_shapes": (3, 9, 8), "book_and_modern": (1, 11, 11), "recipe": (1, 12, 12)}
CLASSES = {"every_layer": 3, "odd_shapes": 4, "book_and_modern": 5, "recipe": 10}


def data(name, n=38, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *INPUTS[name])).astype(dtype), rng.integers(0, CLASSES[name], n)


OPTIMIZERS = {
    "sgd": lambda n: SGD(0.4, n),
    "momentum": lambda n: Momentum(0.7, 0.4, n),
    # eps 1e-3: a bias right before a batch norm (or before a pool and one) has a gradient that is
    # rounding noise; Adam with a tiny eps would blow that noise up into steps of size eta, in
    # signs that rounding decides (on either path; float32's noise is ~1e-6); 1e-3 keeps them small
    "adam": lambda n: Adam(eps=1e-3, l2=0.4, n=n),
}


def train_both(name, dtype, mini_batch_size, optimizer="sgd", epochs=2, eta=None):
    """The same network trained by the NumPy engine and by the kernel over the same orders, at
    a different rate for every mini-batch (a schedule's); returns (reference, fast, their optimizers)."""
    X, y = data(name, dtype=dtype)
    ref, fast = NETWORKS[name](dtype), NETWORKS[name](dtype)
    n_batches = -(-len(X) // mini_batch_size)
    opts = [OPTIMIZERS[optimizer](max(1, len(X) // mini_batch_size)) for _ in range(2)]
    base = 0.002 if optimizer == "adam" else 0.05
    for epoch in range(epochs):
        order = ref.rng.permutation(len(X))
        assert np.array_equal(order, fast.rng.permutation(len(X)))
        etas = base * (1 + np.arange(n_batches) / n_batches) / (1 + epoch) if eta is None else eta
        NumpyEngine().epoch(ref, X, y, order, mini_batch_size, etas, opts[0])
        lf.LayerKernelEngine().epoch(fast, X, y, order, mini_batch_size, etas, opts[1])
    return ref, fast, opts


def close(a, b, rtol, name):
    """b equals a to rtol, relative to a's largest entry or to 1 when that is smaller: a bias
    that stayed near 0, or a velocity, is held to the rounding of the unit-sized numbers whose
    sums make it (a bias right before a batch norm has a gradient of rounding noise only)."""
    scale = max(float(np.max(np.abs(a))) if a.size else 0.0, 1.0)
    np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol * scale, err_msg=name)


def assert_same_state(ref, fast, opts, rtol):
    """Parameters, running statistics and the optimizer's state equal to rtol."""
    for name, p, q in zip(ref.param_names(), ref.params(), fast.params()):
        assert q.dtype == p.dtype and q.shape == p.shape, name
        close(p, q, rtol, name)
    ref_buffers, fast_buffers = ref.named_buffers(), fast.named_buffers()
    assert ref_buffers.keys() == fast_buffers.keys() and ref_buffers
    for name in ref_buffers:
        close(ref_buffers[name], fast_buffers[name], rtol, name)
    a, b = opts
    if isinstance(a, Adam):
        assert a.t == b.t > 0
        for k, name in enumerate(ref.param_names()):
            close(a.m[k], b.m[k], rtol, f"m of {name}")
            close(a.v[k], b.v[k], rtol, f"v of {name}")
    elif isinstance(a, Momentum):
        for name, u, v in zip(ref.param_names(), a.velocities, b.velocities):
            close(u, v, rtol, f"velocity of {name}")


# -- training ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("mini_batch_size", [6, 16])  # 16: the fully connected layers' larger-batch path
def test_sgd_epochs_equal_the_numpy_layers(dtype, name, mini_batch_size):
    ref, fast, opts = train_both(name, dtype, mini_batch_size)
    assert_same_state(ref, fast, opts, TOL[dtype])
    assert not np.allclose(fast.params()[0], NETWORKS[name](dtype).params()[0])  # it did learn
    assert not np.allclose(fast.named_buffers()[next(iter(fast.named_buffers()))], 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_momentum_and_adam_epochs_equal_the_numpy_layers(dtype, name, optimizer):
    """Velocities, or Adam's m, v and step count, too."""
    ref, fast, opts = train_both(name, dtype, 7, optimizer)
    assert_same_state(ref, fast, opts, TOL[dtype])


def test_one_rate_and_a_rate_per_batch():
    ref, fast, opts = train_both("every_layer", np.float64, 5, eta=0.07)
    assert_same_state(ref, fast, opts, 1e-10)


@pytest.mark.parametrize("mini_batch_size", [3, 10])
def test_the_number_of_threads_changes_nothing(mini_batch_size):
    """The batch norm's sums are taken per image or per group of images and added in a fixed
    order: the same bits for any number of threads."""
    X, y = data("recipe", 44, dtype=np.float32)
    nets = []
    for threads in (1, 2, 3):
        net = recipe(np.float32)
        for _ in range(2):
            lf.sgd_batches(net, X, y, net.rng.permutation(44), mini_batch_size, 0.05, 0.3, 4, threads=threads)
        nets.append(net)
    for net in nets[1:]:
        for p, q in zip(nets[0].params(), net.params()):
            assert np.array_equal(p, q)
        for name, a in nets[0].named_buffers().items():
            assert np.array_equal(a, net.named_buffers()[name])


def test_a_batch_norm_on_one_value_is_refused_as_by_numpy():
    X, y = data("every_layer", 11)
    net = every_layer(np.float64)
    with pytest.raises(InputError, match="more than one value per channel"):
        lf.sgd_batches(net, X, y, np.arange(11), 5, 0.1)  # the last mini-batch holds 1 row
    with pytest.raises(InputError, match="more than one value per channel"):
        NumpyEngine().epoch(every_layer(np.float64), X, y, np.arange(11), 5, 0.1)


# -- inference --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_inference_equals_the_numpy_layers(dtype, name):
    """In inference mode (running statistics, dropout's scaled weights), on two threads with a
    remainder, through engines.forward_for; running statistics untouched."""
    _, net, _ = train_both(name, dtype, 8, epochs=1)
    X, _ = data(name, 301, seed=4, dtype=dtype)
    before = {k: v.copy() for k, v in net.named_buffers().items()}
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(lf.logits(net, X, 2), net.logits(X), rtol=rtol, atol=rtol)
    chosen, forward = engines.forward_for(net, X)
    assert chosen == "layer-kernel"
    np.testing.assert_allclose(forward(X.reshape(len(X), -1)), net.feedforward(X), rtol=10 * rtol, atol=rtol)
    assert lf.logits(net, X[:0]).shape == (0, net.n_out)
    for k, v in net.named_buffers().items():
        assert np.array_equal(v, before[k])


def wide_rows(dtype, seed=4):
    """The direct convolution's tiles (stride 1, no padding: patches read where they lie): output
    rows wider than a tile and split unevenly (28 and 12 positions), more filters than a tile's
    four vectors (70), several input channels, a conv-pool and a conv.  Images (2, 28, 30)."""
    layers = [
        ConvPoolLayer((70, 2, 3, 3), (2, 28, 30), (2, 2), "relu"),  # 26x28 -> 13x14
        ConvLayer((20, 70, 3, 3), (70, 13, 14), padding=0, stride=1, activation_fn="linear", bias=False),
        BatchNormLayer((20, 11, 12), activation_fn="relu"),
        SoftmaxLayer(20 * 11 * 12, 6),
    ]
    return LayerNetwork(layers, seed=seed, dtype=dtype)


def check_wide_rows(dtype):
    """Two SGD steps of 6 images, and inference on 260 (two threads), of wide_rows: the kernel
    equals the NumPy layers.  (Two steps: the softmax starts from zero weights, so the layers
    below it learn from the second step on; and no more: 70 filters max-pooled from float32
    sums taken in another order soon pick another winner somewhere, and two runs part ways by
    more than rounding, as any two float32 implementations would.)"""
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(260, 2, 28, 30)).astype(dtype), rng.integers(0, 6, 260)
    ref, fast = wide_rows(dtype), wide_rows(dtype)
    NumpyEngine().epoch(ref, X, y, np.arange(12), 6, 0.05)
    lf.LayerKernelEngine().epoch(fast, X, y, np.arange(12), 6, 0.05)
    assert_same_state(ref, fast, (None, None), TOL[dtype])
    assert not np.array_equal(fast.params()[0], wide_rows(dtype).params()[0])  # it did learn
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(lf.logits(fast, X, 2), fast.logits(X), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_direct_convolutions_tiles_equal_the_numpy_layers(dtype):
    check_wide_rows(dtype)


# -- what the kernel takes and leaves ---------------------------------------------------------------
def test_supports_the_modern_layers_and_declines_what_it_does_not_run():
    for make in NETWORKS.values():
        net = make(np.float32)
        assert lf.supports(net, 10) and lf.supports(net, 64, Momentum(0.9)) and lf.supports(net, 32, Adam())
        assert lf.supports(net, 1)  # inference (forward_for asks so); training on 1 row is refused
        assert isinstance(engines.choose(net, 10), lf.LayerKernelEngine)
    custom = L.Activation("relu", lambda z, out=None: np.maximum(z, 0, out=out), lambda a: (a > 0) * 1.0)
    odd = every_layer(np.float32)
    odd.layers[1].activation_fn = custom  # named "relu", but not the kernel's formula
    assert not lf.supports(odd, 10)
    dropped = every_layer(np.float32)
    dropped.layers[3].p_dropout = 0.5  # the NumPy path draws masks for it: the kernel does not
    assert lf._spec(dropped) is None and not lf.supports(dropped, 10)
    with pytest.raises(ValueError):
        lf.sgd_batches(odd, *data("every_layer"), np.arange(38), 10, 0.1)


def test_the_specs_numbers():
    spec = lf._spec(every_layer(np.float32))
    assert spec.shape == (10, lf.FIELDS)
    assert list(spec[:, 0]) == [3, 4, 6, 3, 7, 3, 8, 1, lf.BN_ROWS, 2]
    assert list(spec[3, 13:]) == [1, 2, 1] and list(spec[0, 13:]) == [1, 1, 0]  # pad, stride, bias


# -- every build ------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", sorted(lf.VARIANTS))
def test_every_build_computes_the_same(monkeypatch, variant):
    """pip builds the kernel for AVX-512, AVX2 and plain x86-64; each this processor runs must
    give the NumPy layers' weights, statistics and optimizer state, and its inference."""
    spec = importlib.util.find_spec(f"glassnet.engines.{lf.VARIANTS[variant]}")
    if spec is None:
        pytest.skip(f"the {variant} build was not made")
    lib = lf.load(spec.origin)
    if not lib.glassnet_layers_cpu_ok():
        pytest.skip(f"this processor cannot run the {variant} build")
    monkeypatch.setitem(lf._state, "lib", lib)
    for dtype in (np.float64, np.float32):
        for name in NETWORKS:
            for optimizer, m in (("sgd", 16), ("momentum", 6), ("adam", 6)):
                ref, fast, opts = train_both(name, dtype, m, optimizer, epochs=1)
                assert_same_state(ref, fast, opts, TOL[dtype])
            X, _ = data(name, 70, seed=5, dtype=dtype)
            np.testing.assert_allclose(lf.logits(fast, X), fast.logits(X), rtol=TOL[dtype], atol=TOL[dtype])
        check_wide_rows(dtype)  # the direct convolution's tiles and filter blocks
