"""The compiled SGD loop against the readable NumPy step: the same weights, to float rounding."""
import os

import numpy as np
import pytest

import glassnet
from glassnet import kernels
from glassnet.training import TrainingConfig, fit

if not kernels.available():
    if os.environ.get("CI"):
        pytest.fail("numba is part of the test extra: CI must run the compiled path", pytrace=False)
    pytest.skip("numba is not installed", allow_module_level=True)


def data(n=203, d=12, k=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)), rng.integers(0, k, n)


@pytest.mark.parametrize("sizes", [[12, 4], [12, 8, 4], [12, 9, 7, 4]])
@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy"])
@pytest.mark.parametrize("mini_batch_size, lmbda", [(1, 0.0), (7, 0.0), (10, 5.0), (32, 0.0)])
def test_compiled_epochs_equal_the_numpy_step(sizes, cost, mini_batch_size, lmbda):
    X, y = data()
    fast = glassnet.Network(sizes, seed=3, dtype=np.float64, cost=cost)
    ref = glassnet.Network(sizes, seed=3, dtype=np.float64, cost=cost, engine="numpy")
    assert kernels.supports(fast, 0.0, mini_batch_size)
    config = TrainingConfig(epochs=3, mini_batch_size=mini_batch_size, eta=0.7, lmbda=lmbda)
    hf = fit(fast, (X, y), config, test=(X, y)).history
    hr = fit(ref, (X, y), config, test=(X, y)).history
    for p, q in zip(fast.weights + fast.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-13)
    assert [h["correct"] for h in hf] == [h["correct"] for h in hr]
    assert not np.allclose(fast.weights[0], glassnet.Network(sizes, seed=3, dtype=np.float64).weights[0])


def test_float32_stays_close_and_float32():
    X, y = data()
    X = X.astype(np.float32)
    fast = glassnet.Network([12, 8, 4], seed=1)
    ref = glassnet.Network([12, 8, 4], seed=1, engine="numpy")
    fast.SGD((X, y), 2, 10, 3.0, log=None)
    ref.SGD((X, y), 2, 10, 3.0, log=None)
    for p, q in zip(fast.weights + fast.biases, ref.weights + ref.biases):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-5)


def test_what_the_compiled_loop_leaves_to_numpy():
    net = glassnet.Network([4, 3, 2], seed=0)
    assert not kernels.supports(net, 0.9, 10)                 # momentum
    assert not kernels.supports(net, 0.0, kernels.MAX_BATCH + 1)
    assert not kernels.supports(glassnet.Network([4, 3, 2], activation="relu"), 0.0, 10)
    assert not kernels.supports(glassnet.Network([4, 3, 2], cost="log-likelihood"), 0.0, 10)
    with pytest.raises(ValueError, match="engine"):
        glassnet.Network([4, 3, 2], engine="cuda")


def test_progress_is_reported_between_compiled_runs():
    X, y = data(n=500)
    calls = []
    net = glassnet.Network([12, 5, 4], seed=0, dtype=np.float64)
    net.train_epoch(X, glassnet.one_hot(y, 4, np.float64), 1, 0.1, on_batch=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1] == (500, 500) and all(t == 500 for _, t in calls)
