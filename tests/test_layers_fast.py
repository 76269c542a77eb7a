"""The compiled layer-network engine against the NumPy layers (the reference): the same weights
after several epochs (to float rounding), the same dropout masks from the same Generator, the
same inference outputs; and what it declines to run."""

import importlib.util
import os

import numpy as np
import pytest

from glassnet.core import layers as L
from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
from glassnet.engines import NumpyEngine
from glassnet.engines import layers_fast as lf
from glassnet.training import SGD, Momentum, TrainingConfig, fit

if not lf.available():
    if os.environ.get("CI"):
        pytest.fail("the compiled layer kernel did not build: CI must run the compiled path", pytrace=False)
    pytest.skip("the compiled layer kernel was not built", allow_module_level=True)

TOL = {np.float32: 1e-5, np.float64: 1e-10}


def conv_net(dtype, act="relu", dropout=0.0, seed=3):
    """Two conv-pool layers (the second with several input channels and a pool that drops a
    border column), a fully connected layer and the softmax: every code path of the kernel."""
    return LayerNetwork(
        [
            ConvPoolLayer((4, 1, 5, 5), (1, 16, 15), (2, 2), act),  # 12x11 -> 6x5
            ConvPoolLayer((6, 4, 3, 2), (4, 6, 5), (2, 2), act),  # 4x4 -> 2x2
            FullyConnectedLayer(24, 19, act, p_dropout=dropout),
            SoftmaxLayer(19, 10, p_dropout=dropout / 2),
        ],
        seed=seed,
        dtype=dtype,
    )


def images(n=53, shape=(1, 16, 15), seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape)), rng.integers(0, 10, n)


def train_both(make, X, y, mini_batch_size, epochs=3, eta=0.1, optimizer=lambda n: SGD(0.5, n)):
    """The same network trained by the NumPy engine and by the kernel, from the same seed,
    over the same shuffled orders; returns (reference, fast)."""
    ref, fast = make(), make()
    n_batches = max(1, len(X) // mini_batch_size)
    opt_ref, opt_fast = optimizer(n_batches), optimizer(n_batches)
    for _ in range(epochs):
        order = ref.rng.permutation(len(X))
        assert np.array_equal(order, fast.rng.permutation(len(X)))
        NumpyEngine().epoch(ref, X, y, order, mini_batch_size, eta, opt_ref)
        lf.LayerKernelEngine().prepare(X).epoch(fast, X, y, order, mini_batch_size, eta, opt_fast)
    return ref, fast


def assert_same_params(ref, fast, rtol):
    for name, p, q in zip(ref.param_names(), ref.params(), fast.params()):
        assert q.dtype == p.dtype and q.shape == p.shape, name
        scale = float(np.max(np.abs(p))) or 1.0
        np.testing.assert_allclose(q, p, rtol=rtol, atol=rtol * scale, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("mini_batch_size", [1, 7, 10, 16])  # 16: the kernel's larger-batch path
def test_epochs_equal_the_numpy_layers(dtype, act, mini_batch_size):
    X, y = images()  # 53 images: a last partial batch
    ref, fast = train_both(lambda: conv_net(dtype, act), X.astype(dtype), y, mini_batch_size)
    assert_same_params(ref, fast, TOL[dtype])
    assert not np.allclose(fast.layers[0].w, conv_net(dtype, act).layers[0].w)  # it did learn


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mini_batch_size", [4, 10, 13])
def test_dropout_epochs_equal_the_numpy_layers(dtype, mini_batch_size):
    X, y = images()
    ref, fast = train_both(lambda: conv_net(dtype, "relu", dropout=0.5), X.astype(dtype), y, mini_batch_size)
    assert_same_params(ref, fast, TOL[dtype])
    assert np.array_equal(ref.rng.random(4), fast.rng.random(4))  # the Generators moved alike


@pytest.mark.parametrize("mini_batch_size", [5, 12])
def test_momentum_epochs_equal_the_numpy_layers(mini_batch_size):
    X, y = images()
    ref, fast = train_both(
        lambda: conv_net(np.float64, "relu", dropout=0.3),
        X,
        y,
        mini_batch_size,
        optimizer=lambda n: Momentum(0.8, 0.2, n),
    )
    assert_same_params(ref, fast, 1e-10)


@pytest.mark.parametrize("mini_batch_size", [3, 10, 21])
def test_the_number_of_threads_changes_nothing(mini_batch_size):
    """Threads claim a step's tasks as they come, but every task's result (and the order in
    which the conv gradient's parts are summed) is fixed: the same bits for any count."""
    X, y = images(64)
    nets = []
    for threads in (1, 2, 3):
        net = conv_net(np.float32, "relu", dropout=0.5)
        for _ in range(2):
            lf.sgd_batches(net, X, y, net.rng.permutation(64), mini_batch_size, 0.1, 0.5, 6, threads=threads)
        nets.append(net)
    for net in nets[1:]:
        for p, q in zip(nets[0].params(), net.params()):
            assert np.array_equal(p, q)


def test_fit_with_the_kernel_equals_fit_with_numpy():
    """Through the training loop: shuffled epochs, L2, momentum, test accuracy per epoch."""
    X, y = images(60)
    config = TrainingConfig(epochs=3, mini_batch_size=7, eta=0.1, l2=0.5, momentum=0.5)
    ref, fast = conv_net(np.float64, dropout=0.5), conv_net(np.float64, dropout=0.5)
    r_ref = fit(ref, (X, y), config, test=(X, y), engine=NumpyEngine())
    r_fast = fit(fast, (X, y), config, test=(X, y), engine=lf.LayerKernelEngine())
    assert r_fast.engine == "layer-kernel" and r_ref.engine == "numpy"
    assert [h["correct"] for h in r_fast.history] == [h["correct"] for h in r_ref.history]
    assert_same_params(ref, fast, 1e-10)


def test_fully_connected_only_and_several_input_channels():
    """A network without conv layers, and one whose images have three channels (which the
    kernel reads channels-last)."""
    X, y = images(40, (3, 7, 6), seed=1)

    def fc():
        return LayerNetwork(
            [FullyConnectedLayer(126, 33, "sigmoid", p_dropout=0.2), SoftmaxLayer(33, 10)], seed=5, dtype=np.float64
        )

    def rgb():
        return LayerNetwork(
            [ConvPoolLayer((5, 3, 3, 3), (3, 7, 6), (1, 2), "tanh"), SoftmaxLayer(5 * 5 * 2, 10)],
            seed=6,
            dtype=np.float64,
        )

    for make in (fc, rgb):
        ref, fast = train_both(make, X.reshape(40, -1) if make is fc else X, y, 6)
        assert_same_params(ref, fast, 1e-10)


def test_masks_are_the_networks_own_draws():
    """One bulk draw gives exactly the masks LayerNetwork.draw_masks gives batch after batch."""
    a, b = conv_net(np.float32, dropout=0.5), conv_net(np.float32, dropout=0.5)
    sizes = [10, 10, 10, 3]
    bulk = lf.draw_masks(a, sizes)
    expected = []
    for m in sizes:
        expected += [mask.astype(np.uint8).ravel() for mask in b.draw_masks(m) if mask is not None]
    assert np.array_equal(bulk, np.concatenate(expected))
    assert np.array_equal(a.rng.random(3), b.rng.random(3))
    assert set(np.unique(bulk)) == {0, 1}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 2])
def test_inference_equals_feedforward(dtype, threads):
    X, y = images(301)  # 301 rows: two threads' shares, 64-row blocks, a remainder
    net = conv_net(dtype, "sigmoid", dropout=0.4)
    ref, _ = train_both(lambda: conv_net(dtype, "sigmoid", dropout=0.4), X[:60].astype(dtype), y[:60], 10, 1)
    net.set_params(ref.params())  # trained weights, non-zero softmax layer
    X = X.astype(dtype)
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(lf.logits(net, X, threads), net.logits(X), rtol=rtol, atol=rtol)
    probabilities = lf.forward(net, X.reshape(301, -1), threads)
    assert probabilities.dtype == dtype and probabilities.shape == (301, 10)
    np.testing.assert_allclose(probabilities, net.feedforward(X), rtol=10 * rtol, atol=rtol)
    assert lf.logits(net, X[:0]).shape == (0, 10)


def test_the_book_networks_are_supported_and_progress_is_reported():
    net = LayerNetwork(
        [
            ConvPoolLayer((20, 1, 5, 5), (10, 1, 28, 28), (2, 2), "relu"),
            ConvPoolLayer((40, 20, 5, 5), (10, 20, 12, 12), (2, 2), "relu"),
            FullyConnectedLayer(640, 1000, "relu", p_dropout=0.5),
            FullyConnectedLayer(1000, 1000, "relu", p_dropout=0.5),
            SoftmaxLayer(1000, 10, p_dropout=0.5),
        ],
        seed=0,
    )
    assert lf.supports(net, 10) and lf.supports(net, 64, SGD(0.1, 5000)) and lf.supports(net, 10, Momentum(0.9))
    engine = lf.LayerKernelEngine()
    engine_calls = []
    X, y = images(30, (1, 28, 28))
    engine.epoch(
        net,
        X.astype(np.float32),
        y,
        np.arange(30),
        10,
        0.03,
        None,
        lambda done, total: engine_calls.append((done, total)),
    )
    assert engine_calls[-1] == (3, 3) and engine.name == "layer-kernel"
    assert np.isfinite(net.layers[3].w).all()


def test_what_the_kernel_leaves_to_numpy():
    net = conv_net(np.float32)
    assert not lf.supports(net, 0)
    assert not lf.supports(net, lf.MAX_BATCH + 1)

    class Adam:
        plain, momentum = False, 0.0

    assert not lf.supports(net, 10, Adam())
    custom = L.Activation("relu", lambda z, out=None: np.maximum(z, 0, out=out), lambda a: (a > 0) * 1.0)
    odd = conv_net(np.float32)
    odd.layers[2].activation_fn = custom  # named "relu", but not the kernel's formula
    assert not lf.supports(odd, 10)
    with pytest.raises(ValueError):
        lf.sgd_batches(odd, *images(), np.arange(53), 10, 0.1)


def test_bad_orders_are_refused_not_read_out_of_bounds():
    X, y = images(20)
    net = conv_net(np.float64)
    for order in ([0, 20], [-1, 3]):
        with pytest.raises(IndexError):
            lf.sgd_batches(net, X, y, np.array(order), 10, 0.1)


@pytest.mark.parametrize("variant", sorted(lf.VARIANTS))
def test_every_build_computes_the_same(monkeypatch, variant):
    """pip builds the kernel for AVX-512, AVX2 and plain x86-64; each that this processor can
    run must give the NumPy layers' weights."""
    spec = importlib.util.find_spec(f"glassnet.engines.{lf.VARIANTS[variant]}")
    if spec is None:
        pytest.skip(f"the {variant} build was not made")
    lib = lf.load(spec.origin)
    if not lib.glassnet_layers_cpu_ok():
        pytest.skip(f"this processor cannot run the {variant} build")
    monkeypatch.setitem(lf._state, "lib", lib)
    X, y = images()
    for dtype in (np.float64, np.float32):
        for m in (10, 16):
            ref, fast = train_both(
                lambda dtype=dtype: conv_net(dtype, "sigmoid", dropout=0.3), X.astype(dtype), y, m, 2
            )
            assert_same_params(ref, fast, TOL[dtype])
        np.testing.assert_allclose(
            lf.logits(fast, X.astype(dtype)), fast.logits(X.astype(dtype)), rtol=TOL[dtype], atol=TOL[dtype]
        )
