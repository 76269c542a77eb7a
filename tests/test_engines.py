"""Engines: the compiled kernel against the readable NumPy code (the same weights and outputs, to float
rounding), and the choice of engine, made once per run and recorded."""

import os
import subprocess
import sys

import numpy as np
import pytest

import glassnet
from glassnet import engines
from glassnet.engines import KernelEngine, NumpyEngine
from glassnet.engines import kernel as kernels
from glassnet.training import SGD, Momentum, TrainingConfig, fit

if not kernels.available():
    if os.environ.get("CI"):
        pytest.fail("the C kernel did not build: CI must run the compiled path", pytrace=False)
    pytest.skip("the C kernel was not built", allow_module_level=True)


def data(n=203, d=12, k=4, seed=0, zeros=0.0):
    """Random inputs in [0, 1), a fraction ``zeros`` of them set to 0 (MNIST is ~80% zeros)."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    X[rng.random((n, d)) < zeros] = 0.0
    return X, rng.integers(0, k, n)


@pytest.mark.parametrize("sizes", [[12, 4], [12, 8, 4], [12, 9, 7, 4], [40, 33, 17, 4]])
@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy"])
@pytest.mark.parametrize(
    "mini_batch_size, lmbda, zeros", [(1, 0.0, 0.0), (7, 0.0, 0.8), (10, 5.0, 0.5), (32, 0.0, 0.8), (100, 1.0, 0.3)]
)
def test_compiled_epochs_equal_the_numpy_step(sizes, cost, mini_batch_size, lmbda, zeros):
    X, y = data(d=sizes[0], k=sizes[-1], zeros=zeros)
    fast = glassnet.Network(sizes, seed=3, dtype=np.float64, cost=cost)
    ref = glassnet.Network(sizes, seed=3, dtype=np.float64, cost=cost)
    assert isinstance(engines.choose(fast, mini_batch_size), KernelEngine)
    config = TrainingConfig(epochs=3, mini_batch_size=mini_batch_size, eta=0.7, l2=lmbda)
    rf = fit(fast, (X, y), config, test=(X, y))
    rr = fit(ref, (X, y), config, test=(X, y), engine=NumpyEngine())
    assert rf.engine == "kernel" and rr.engine == "numpy"
    assert {h["engine"] for h in rf.history} == {"kernel"}
    hf, hr = rf.history, rr.history
    for p, q in zip(fast.weights + fast.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(p, q, rtol=1e-10, atol=1e-12)  # (rounding differs without FMA)
    assert [h["correct"] for h in hf] == [h["correct"] for h in hr]
    assert not np.allclose(fast.weights[0], glassnet.Network(sizes, seed=3, dtype=np.float64).weights[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_rows_and_reading_x_give_identical_steps(dtype):
    X, y = data(n=300, d=50, zeros=0.8)
    X = X.astype(dtype)
    X[5] = 0.0  # a blank input
    Y = glassnet.one_hot(y, 4, dtype)
    rows = kernels.SparseRows(X)
    a = glassnet.Network([50, 20, 4], seed=2, dtype=dtype)
    b = glassnet.Network([50, 20, 4], seed=2, dtype=dtype)
    order = np.random.default_rng(0).permutation(300)
    kernels.sgd_batches(a, X, Y, order, 10, 1.5, 2.0, 300, rows=rows)
    kernels.sgd_batches(b, X, Y, order, 10, 1.5, 2.0, 300)
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(p, q)


def test_sparse_rows_hold_exactly_the_nonzeros():
    X, _ = data(n=50, d=37, zeros=0.7)
    X[3, 4] = np.nan  # NaN is not zero: it must reach the network
    X[7, :] = 0.0
    rows = kernels.SparseRows(X)
    r, c = np.nonzero(X != 0)
    assert rows.rowptr[0] == 0 and rows.rowptr[-1] == len(r)
    np.testing.assert_array_equal(np.diff(rows.rowptr), np.bincount(r, minlength=50))
    np.testing.assert_array_equal(rows.cols, c)
    np.testing.assert_array_equal(rows.vals, X[r, c])
    assert rows.density == pytest.approx(len(r) / X.size)
    assert kernels.SparseRows.of(np.ones((20, 9))) is None  # too dense to be worth it
    with pytest.raises(ValueError, match="rows were made"):
        net = glassnet.Network([37, 5, 4], seed=0, dtype=np.float64)
        kernels.sgd_batches(net, X[:40], np.zeros((40, 4)), np.arange(40), 10, 0.1, rows=rows)


def test_float32_stays_close_and_float32():
    X, y = data(zeros=0.5)
    X = X.astype(np.float32)
    fast = glassnet.Network([12, 8, 4], seed=1)
    ref = glassnet.Network([12, 8, 4], seed=1)
    fast.SGD((X, y), 2, 10, 3.0, log=None)
    ref.SGD((X, y), 2, 10, 3.0, log=None, engine=NumpyEngine())
    assert fast.history[0]["engine"] == "kernel" and ref.history[0]["engine"] == "numpy"
    for p, q in zip(fast.weights + fast.biases, ref.weights + ref.biases):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sizes", [[12, 4], [30, 17, 3], [64, 64, 10], [784, 30, 10], [20, 40, 30, 10]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_equals_numpy_feedforward(sizes, dtype):
    X, _ = data(n=500, d=sizes[0], zeros=0.8, seed=1)
    X = X.astype(dtype)
    fast = glassnet.Network(sizes, seed=4, dtype=dtype)
    ref = glassnet.Network(sizes, weights=fast.weights, biases=fast.biases, dtype=dtype)
    out = kernels.forward(fast, X)
    assert out.dtype == dtype and out.shape == (500, sizes[-1])
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(out, ref.feedforward(X), **tol)
    for threads in (1, 3, 64):  # rows are independent: any split, same numbers
        np.testing.assert_array_equal(kernels.forward(fast, X, threads=threads), out)


def test_forward_takes_any_layout_and_propagates_nan():
    X, _ = data(n=300, d=30, zeros=0.8)
    net = glassnet.Network([30, 17, 3], seed=0, dtype=np.float64)
    name, forward = engines.forward_for(net, X)
    assert name == "kernel"
    F = np.asfortranarray(X)
    np.testing.assert_allclose(forward(F), net.feedforward(X), rtol=1e-13)
    np.testing.assert_allclose(forward(X[::2]), net.feedforward(X[::2]), rtol=1e-13)
    X[7, 3] = np.nan
    out = forward(X)
    assert np.isnan(out[7]).all() and np.isfinite(np.delete(out, 7, axis=0)).all()
    big = kernels.forward(net, np.full((100, 30), 1e30))  # sigma saturates, never overflows
    np.testing.assert_array_equal(big, net.feedforward(np.full((100, 30), 1e30)))
    assert engines.forward_for(net, np.full((100, 30), 1e30))[0] == "numpy"  # dense: BLAS is faster


def test_float32_sigmoid_is_accurate_over_its_whole_range():
    z = np.concatenate([np.linspace(-100, 100, 20001), [-1e30, 1e30, -88.5, 88.5, 0.0]]).astype(np.float32)
    net = glassnet.Network([1, 1], weights=[np.ones((1, 1), np.float32)], biases=[np.zeros(1, np.float32)])
    out = kernels.forward(net, z.reshape(-1, 1))[:, 0]
    with np.errstate(over="ignore"):
        exact = 1 / (1 + np.exp(-z.astype(np.float64)))
    np.testing.assert_allclose(out, exact, rtol=3e-7, atol=1e-38)


def test_what_the_compiled_kernel_leaves_to_numpy():
    net = glassnet.Network([4, 3, 2], seed=0)
    assert kernels.supports(net, 0.0, 10) and kernels.supports(net, 0.0, 1000)
    assert not kernels.supports(net, 0.0, kernels.MAX_BATCH + 1)  # full-batch descent
    assert not kernels.supports(net, 0.9, 10)  # momentum
    assert not kernels.supports(glassnet.Network([4, 3, 2], activation="relu"), 0.0, 10)
    assert not kernels.supports(glassnet.Network([4, 3, 2], cost="log-likelihood"), 0.0, 10)
    assert not kernels.supports(glassnet.Network([784, 800, 800, 10]), 0.0, 10)  # big later layer
    assert not kernels.supports(glassnet.Network([784, 800, 10]), 0.0, 100)  # BLAS wins there
    assert kernels.supports(glassnet.Network([784, 800, 10]), 0.0, 10)
    assert isinstance(engines.choose(net, 10, optimizer=Momentum(0.9)), NumpyEngine)
    assert isinstance(engines.choose(net, 10, optimizer=SGD(5.0, 100)), KernelEngine)  # L2 is covered
    sparse = np.zeros((10000, 784), np.float32)
    sparse[:, 300:400] = 0.5  # 13% nonzero
    assert kernels.supports_forward(glassnet.Network([784, 30, 10]), sparse)
    assert not kernels.supports_forward(glassnet.Network([784, 30, 10]), sparse[:10])  # one BLAS call
    assert not kernels.supports_forward(glassnet.Network([784, 100, 10]), sparse)
    assert not kernels.supports_forward(glassnet.Network([784, 30, 10]), sparse + 0.1)  # dense: BLAS
    assert kernels.info().startswith("C")


def test_pack_and_unpack_round_trip():
    net = glassnet.Network([13, 9, 21, 5], seed=0, dtype=np.float64)
    before = [p.copy() for p in net.weights + net.biases]
    for transposed in (False, True):
        params, P = kernels.pack(net, transposed=transposed)
        assert list(P) == [13, 16, 24, 8]
        if not transposed:
            kernels.unpack(net, params, P)
    for p, q in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(p, q)


def test_progress_is_reported_between_compiled_runs():
    X, y = data(n=500)
    calls = []
    net = glassnet.Network([12, 5, 4], seed=0, dtype=np.float64)
    KernelEngine().prepare(X).epoch(
        net, X, glassnet.one_hot(y, 4, np.float64), np.arange(500), 1, 0.1, on_batch=lambda d, t: calls.append((d, t))
    )
    assert calls and calls[-1] == (500, 500) and all(t == 500 for _, t in calls)


def test_bad_orders_are_refused_not_read_out_of_bounds():
    X, y = data(n=20)
    net = glassnet.Network([12, 5, 4], seed=0, dtype=np.float64)
    Y = glassnet.one_hot(y, 4, np.float64)
    for order in (np.array([0, 20]), np.array([-1, 3])):
        with pytest.raises(IndexError):
            kernels.sgd_batches(net, X, Y, order, 2, 0.1)


@pytest.mark.parametrize("variant", sorted(kernels.VARIANTS))
def test_every_build_of_the_kernel_computes_the_same(monkeypatch, variant):
    """pip builds the kernel for AVX-512, AVX2 and plain x86-64, and a machine loads the
    fastest it can run; check the others too (AVX2's table-driven nonzero scan, plain
    16-byte vectors), which this machine would otherwise never execute."""
    import importlib.util

    spec = importlib.util.find_spec(f"glassnet.engines.{kernels.VARIANTS[variant]}")
    if spec is None:
        if os.environ.get("CI"):
            pytest.fail(f"the {variant} build of the kernel is missing", pytrace=False)
        pytest.skip(f"the {variant} build was not made")
    lib = kernels.load(spec.origin)
    if not lib.glassnet_cpu_ok():
        pytest.skip(f"this processor cannot run the {variant} build")
    lib.glassnet_prepare()
    monkeypatch.setitem(kernels._state, "lib", lib)
    assert kernels.info() == {"avx512": "C, AVX-512", "avx2": "C, AVX2", "portable": "C, portable vectors"}[variant]
    for dtype in (np.float32, np.float64):
        X, y = data(n=300, d=45, zeros=0.8, seed=5)
        X = X.astype(dtype)
        for sizes in ([45, 20, 4], [45, 33, 17, 4]):
            fast = glassnet.Network(sizes, seed=1, dtype=dtype)
            ref = glassnet.Network(sizes, seed=1, dtype=dtype)
            fast.SGD((X, y), 2, 10, 0.5, log=None)
            ref.SGD((X, y), 2, 10, 0.5, log=None, engine=NumpyEngine())
            tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
            for p, q in zip(fast.weights + fast.biases, ref.weights + ref.biases):
                np.testing.assert_allclose(p, q, **tol)
            out = kernels.forward(fast, X)
            back = glassnet.Network(sizes, weights=fast.weights, biases=fast.biases, dtype=dtype)
            np.testing.assert_allclose(out, back.feedforward(X), **tol)


def test_glassnet_kernel_chooses_the_build_or_turns_it_off():
    script = "from glassnet.engines import kernel; print(kernel.info())"
    for choice, expected in (("off", "None"), ("portable", "C, portable vectors"), ("nonsense", "None")):
        run = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            env={**os.environ, "GLASSNET_KERNEL": choice},
            check=True,
        )
        assert run.stdout.strip() == expected
    net = glassnet.Network([4, 3, 2], seed=0)
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import glassnet, numpy as np; "
            "net = glassnet.Network([4, 3, 2], seed=0); "
            "net.SGD((np.ones((8, 4)), np.zeros(8, int)), 1, 2, 0.1, log=None); "
            "print(net.history[0]['engine'])",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "GLASSNET_KERNEL": "off"},
        check=True,
    )
    assert run.stdout.split() == ["numpy"]
    net.SGD((np.ones((8, 4)), np.zeros(8, int)), 1, 2, 0.1, log=None)
    assert net.history[0]["engine"] == "kernel"


def test_the_kernel_refuses_what_it_cannot_compute():
    X, y = data(n=40)
    Y = glassnet.one_hot(y, 4, np.float64)
    net = glassnet.Network([12, 5, 4], seed=0, dtype=np.float64)
    order = np.arange(40)
    for bad_X, bad_Y in ((X[:, :10], Y), (np.hstack([X, X]), Y), (X, Y[:, :3]), (X, Y[:30])):
        with pytest.raises(ValueError, match="must have shape"):
            kernels.sgd_batches(net, bad_X, bad_Y, order, 10, 0.1)
    with pytest.raises(ValueError, match="must have shape"):
        kernels.forward(net, X[:, :10])
    with pytest.raises(ValueError, match="mini_batch_size"):
        kernels.sgd_batches(net, X, Y, order, 0, 0.1)
    for bad_order in (order * 0.5, order > 3, order.reshape(4, 10)):
        with pytest.raises(IndexError, match="integer row numbers"):
            kernels.sgd_batches(net, X, Y, bad_order, 10, 0.1)
    kernels.sgd_batches(net, X, Y, order[:0], 10, 0.1)  # no mini-batches: nothing to do


def test_only_the_built_in_functions_and_finite_weights_go_to_the_kernel():
    from glassnet.core.functions import Activation, Cost

    impostor = Activation("sigmoid", lambda z, out=None: np.tanh(z), lambda a: 1 - a * a)
    assert not kernels.supports(glassnet.Network([4, 3, 2], activation=impostor), 0.0, 10)
    cost = Cost("quadratic", lambda a, y: 0.0, lambda a, y: 2 * (a - y))
    assert not kernels.supports(glassnet.Network([4, 3, 2], cost=cost), 0.0, 10)
    net = glassnet.Network([30, 8, 4], seed=0)
    net.weights[0][3, 7] = np.inf  # 0 * inf is NaN in NumPy; the kernel would skip it
    assert not kernels.supports(net, 0.0, 10) and not kernels.supports_forward(net, np.zeros((1000, 30)))
    X = np.zeros((100, 30), np.float32)
    with np.errstate(invalid="ignore"):
        assert np.isnan(net.feedforward(X)).all()
    deep = glassnet.Network([3] + [2] * kernels.MAX_LAYERS + [2], seed=0)
    assert not kernels.supports(deep, 0.0, 10) and not kernels.supports_forward(deep, np.zeros((1000, 3)))
    assert kernels.supports(glassnet.Network([3] + [2] * (kernels.MAX_LAYERS - 1) + [2], seed=0), 0.0, 10)
