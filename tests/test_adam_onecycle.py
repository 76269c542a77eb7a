"""Adam and the one-cycle schedule: Adam's step by hand and against PyTorch's, its state through
a checkpoint, the schedule's values, the loop's rate per mini-batch on every engine, and
``glassnet train --optimizer``'s checks."""

import math

import numpy as np
import pytest

import glassnet
from glassnet.cli import main
from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
from glassnet.core.model import NumpyEngine
from glassnet.errors import CheckpointError, InputError
from glassnet.io import read_npz, write_npz
from glassnet.training import TrainingConfig, fit
from glassnet.training.optimizers import SGD, Adam, make_optimizer
from glassnet.training.schedules import one_cycle_eta, one_cycle_peak


def blobs(n=60, seed=0, d=6, k=3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2, (k, d))
    y = rng.integers(0, k, n)
    return (centres[y] + rng.normal(0, 1, (n, d))).astype(dtype), y


def small_layer_net(dtype=np.float64, seed=1):
    return LayerNetwork([FullyConnectedLayer(6, 5, "relu"), SoftmaxLayer(5, 3)], seed=seed, dtype=dtype)


def copies(net):
    return [p.copy() for p in net.parameters()]


def same(a, b):
    return len(a) == len(b) and all(x.dtype == y.dtype and x.tobytes() == y.tobytes() for x, y in zip(a, b))


# -- Adam's step -----------------------------------------------------------------------------------
def test_adam_is_the_update_written_by_hand():
    X, y = blobs(12)
    net = small_layer_net()
    p = copies(net)
    m, v = [np.zeros_like(a) for a in p], [np.zeros_like(a) for a in p]
    adam, eta, l2, n = Adam(l2=0.3, n=4), 0.01, 0.3, 4
    for t in range(1, 4):
        ref = small_layer_net()
        for a, b in zip(ref.parameters(), p):
            a[...] = b
        g = ref.gradients(X, y, lmbda=l2, n=n)  # a layer network's L2 is in its gradient
        for i in range(len(p)):
            m[i] = 0.9 * m[i] + 0.1 * g[i]
            v[i] = 0.999 * v[i] + 0.001 * g[i] ** 2
            m_hat, v_hat = m[i] / (1 - 0.9**t), v[i] / (1 - 0.999**t)
            p[i] = p[i] - eta * m_hat / (np.sqrt(v_hat) + 1e-8)
        adam.step(net, X, y, eta)
        for a, b in zip(net.parameters(), p):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert adam.t == 3 and len(adam.state()) == 2 * len(p) + 1 and int(adam.state()[-1]) == 3


def test_adam_equals_torch_adam_on_a_layer_network():
    """L2 coupled (a layer network's rule): torch.optim.Adam with weight_decay lambda/n on the
    weights (w0, w1: the even places of ``parameters()``), none on the biases."""
    torch = pytest.importorskip("torch")
    X, y = blobs(20)
    net = small_layer_net()
    ps = [torch.tensor(p.copy(), requires_grad=True) for p in net.parameters()]
    l2, n, eta = 0.5, 4, 0.02
    groups = [dict(params=ps[0::2], weight_decay=l2 / n), dict(params=ps[1::2], weight_decay=0.0)]
    reference = torch.optim.Adam(groups, lr=eta, betas=(0.9, 0.999), eps=1e-8)
    adam = make_optimizer(0.0, l2, n, "adam")
    for step in range(6):
        batch = slice(step * 3 % 20, step * 3 % 20 + 8)
        for tp, g in zip(ps, net.gradients(X[batch], y[batch])):  # without L2: torch adds it
            tp.grad = torch.tensor(g)
        reference.step()
        adam.step(net, X[batch], y[batch], eta)
    for p, tp in zip(net.parameters(), ps):
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=0, atol=1e-10)


def test_adam_equals_torch_adamw_on_the_books_network():
    """L2 decoupled (the book's weight decay, eq. 93): torch.optim.AdamW with weight_decay
    lambda/n on the weights, none on the biases."""
    torch = pytest.importorskip("torch")
    X, y = blobs(20)
    Y = glassnet.one_hot(y, 3)
    net = glassnet.Network([6, 5, 3], seed=2, cost="cross-entropy", dtype=np.float64)
    ws = [torch.tensor(w.copy(), requires_grad=True) for w in net.weights]
    bs = [torch.tensor(b.copy(), requires_grad=True) for b in net.biases]
    l2, n, eta = 3.0, 20, 0.05
    groups = [dict(params=ws, weight_decay=l2 / n), dict(params=bs, weight_decay=0.0)]
    reference = torch.optim.AdamW(groups, lr=eta, betas=(0.9, 0.999), eps=1e-8)
    adam = Adam(l2=l2, n=n)
    for step in range(5):
        batch = slice(step * 4, step * 4 + 10)
        grads = net.gradients(X[batch], Y[batch])  # order w0, b0, w1, b1
        for tp, g in zip([ws[0], bs[0], ws[1], bs[1]], grads):
            tp.grad = torch.tensor(g)
        reference.step()
        adam.step(net, X[batch], Y[batch], eta)
    for p, tp in zip(net.parameters(), [ws[0], bs[0], ws[1], bs[1]]):
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=0, atol=1e-10)


def test_adam_keeps_float32_and_learns():
    X, y = blobs(90, dtype=np.float32)
    net = small_layer_net(np.float32)
    before = net.score(X, y)
    result = fit(net, (X, y), TrainingConfig(epochs=4, mini_batch_size=10, eta=0.01, optimizer="adam"), test=(X, y))
    assert all(p.dtype == np.float32 for p in net.parameters()) and net.score(X, y) > max(before, 0.9)
    assert result.history[-1]["accuracy"] > 0.9


def test_adam_choices_are_checked_in_one_line():
    with pytest.raises(InputError, match="momentum 0.9 is SGD's"):
        TrainingConfig(optimizer="adam", momentum=0.9)
    with pytest.raises(InputError, match="unknown optimizer 'rmsprop'"):
        TrainingConfig(optimizer="rmsprop")
    with pytest.raises(InputError, match="give momentum 0 with Adam"):
        make_optimizer(0.5, name="adam")
    with pytest.raises(InputError, match="beta2 must be in"):
        Adam(beta2=1.0)
    with pytest.raises(InputError, match="eps must be"):
        Adam(eps=0.0)
    assert type(make_optimizer(0.0, name="adam")) is Adam and type(make_optimizer()) is SGD
    X, y = blobs(30)
    with pytest.raises(InputError, match="optimizer to continue is sgd"):
        fit(small_layer_net(), (X, y), TrainingConfig(epochs=1, optimizer="adam"), optimizer=SGD())


def test_adam_continues_across_calls_as_one_run():
    X, y = blobs(40)
    config = dict(mini_batch_size=8, eta=0.01, optimizer="adam")
    one, two = small_layer_net(), small_layer_net()
    fit(one, (X, y), TrainingConfig(epochs=3, **config), engine="numpy")
    adam = Adam()
    for _ in range(3):
        fit(two, (X, y), TrainingConfig(epochs=1, **config), engine="numpy", optimizer=adam)
    assert adam.t == 15 and same(copies(one), copies(two))


# -- one-cycle --------------------------------------------------------------------------------------
def test_one_cycle_rises_to_its_peak_and_anneals():
    eta, steps = 0.01, 121
    rates = [one_cycle_eta(eta, t, steps) for t in range(steps)]
    peak = one_cycle_peak(steps)
    assert peak == 30
    assert math.isclose(rates[0], eta / 25) and rates[peak] == eta and math.isclose(rates[-1], eta / 1e4)
    assert math.isclose(rates[10], eta / 25 + (eta - eta / 25) * 10 / 30)  # linear warm-up
    mid = peak + (steps - 1 - peak) // 2  # half-way down the cosine: half-way between eta and eta/1e4
    assert math.isclose(rates[mid], (eta + eta / 1e4) / 2)
    assert all(a < b for a, b in zip(rates[:peak], rates[1 : peak + 1]))
    assert all(a > b for a, b in zip(rates[peak:-1], rates[peak + 1 :]))
    assert one_cycle_eta(eta, 500, steps) == rates[-1] and one_cycle_eta(eta, 0, 1) == eta
    assert one_cycle_eta(eta, 1, 2) == eta / 1e4 and one_cycle_eta(eta, 0, 2) == eta  # (peak at step 0)


class Recorder(NumpyEngine):
    """The NumPy engine, keeping the rates each epoch was given."""

    def __init__(self):
        self.etas = []

    def epoch(self, network, X, T, order, mini_batch_size, eta, optimizer=None, on_batch=None):
        self.etas.append(np.array(eta, ndmin=1))
        super().epoch(network, X, T, order, mini_batch_size, eta, optimizer, on_batch)


def test_the_loop_changes_eta_every_mini_batch():
    X, y = blobs(45)
    engine = Recorder()
    config = TrainingConfig(epochs=3, mini_batch_size=10, eta=0.05, schedule="one-cycle", optimizer="adam")
    net = small_layer_net()
    result = fit(net, (X, y), config, engine=engine)
    steps = 3 * 5  # five mini-batches an epoch (the last of 5 examples)
    assert [len(e) for e in engine.etas] == [5, 5, 5]
    np.testing.assert_array_equal(np.concatenate(engine.etas), [one_cycle_eta(0.05, t, steps) for t in range(steps)])
    assert result.history[0]["eta"] == 0.05 / 25 and result.history[-1]["eta_last"] == 0.05 / 1e4
    # the same run by hand: the optimizer stepped with each mini-batch's own rate
    ref, adam, t = small_layer_net(), Adam(), 0
    for _ in range(3):
        order = ref.rng.permutation(len(X))
        for k in range(0, len(X), 10):
            adam.step(ref, X[order[k : k + 10]], y[order[k : k + 10]], one_cycle_eta(0.05, t, steps))
            t += 1
    assert same(copies(ref), copies(net))


def test_one_cycle_on_the_books_compiled_kernel_equals_numpy():
    X, y = blobs(70, d=8, dtype=np.float64)
    X = np.abs(X) / 5
    config = TrainingConfig(epochs=2, mini_batch_size=10, eta=3.0, schedule="one-cycle")
    nets = [glassnet.Network([8, 7, 3], seed=4, dtype=np.float64) for _ in range(2)]
    results = [fit(net, (X, y), config, engine=engine) for net, engine in zip(nets, ["auto", "numpy"])]
    if results[0].engine != "kernel":
        pytest.skip("the compiled kernel was not built")
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def conv_net(dtype, seed=3):
    """A conv-pool layer, a fully connected layer with dropout and the softmax."""
    return LayerNetwork(
        [
            ConvPoolLayer((4, 1, 3, 3), (1, 9, 9), (2, 2), "relu"),  # 7x7 -> 3x3
            FullyConnectedLayer(36, 12, "relu", p_dropout=0.2),
            SoftmaxLayer(12, 4),
        ],
        seed=seed,
        dtype=dtype,
    )


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("optimizer, momentum", [("sgd", 0.0), ("sgd", 0.9), ("adam", 0.0)])
def test_one_cycle_on_the_compiled_layer_kernel_equals_numpy(dtype, tol, optimizer, momentum):
    rng = np.random.default_rng(5)
    X, y = rng.random((45, 1, 9, 9)).astype(dtype), rng.integers(0, 4, 45)
    eta = 0.005 if optimizer == "adam" else 0.1
    config = TrainingConfig(
        epochs=2, mini_batch_size=7, eta=eta, l2=0.3, momentum=momentum, optimizer=optimizer, schedule="one-cycle"
    )
    nets = [conv_net(dtype) for _ in range(2)]
    results = [fit(net, (X, y), config, engine=engine) for net, engine in zip(nets, ["auto", "numpy"])]
    if results[0].engine != "layer-kernel":
        pytest.skip("the compiled layer kernel was not built (or does not run Adam)")
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert not np.allclose(nets[0].parameters()[0], conv_net(dtype).parameters()[0])


@pytest.mark.parametrize("mini_batch_size", [4, 16])  # the fully connected step's two paths
def test_adam_on_the_compiled_layer_kernel_keeps_the_numpy_state(mini_batch_size):
    from glassnet.engines import layers_fast

    if not layers_fast.available():
        pytest.skip("the compiled layer kernel was not built")
    rng = np.random.default_rng(6)
    X, y = rng.random((50, 1, 9, 9)), rng.integers(0, 4, 50)
    nets, adams = [conv_net(np.float64) for _ in range(2)], [Adam(l2=0.2, n=3), Adam(l2=0.2, n=3)]
    engines = [layers_fast.LayerKernelEngine(), NumpyEngine()]
    assert layers_fast.supports(nets[0], mini_batch_size, adams[0])
    for epoch in range(2):
        order = nets[0].rng.permutation(50)
        assert np.array_equal(order, nets[1].rng.permutation(50))
        for net, adam, engine in zip(nets, adams, engines):
            engine.epoch(net, X, y, order, mini_batch_size, 0.01 / (1 + epoch), adam)
    assert adams[0].t == adams[1].t == 2 * -(-50 // mini_batch_size)
    for a, b in zip(
        [*nets[0].parameters(), *adams[0].m, *adams[0].v], [*nets[1].parameters(), *adams[1].m, *adams[1].v]
    ):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# -- checkpoints ------------------------------------------------------------------------------------
def stop_after(epochs):
    return lambda network, record: record["epoch"] + 1 >= epochs


@pytest.mark.parametrize("kind", ["layers", "book"])
def test_resume_with_adam_and_one_cycle_is_bit_identical(tmp_path, kind):
    X, y = blobs(50, dtype=np.float32)

    def make():
        if kind == "book":
            return glassnet.Network([6, 5, 3], seed=3, cost="cross-entropy")
        return small_layer_net(np.float32, seed=3)

    config = TrainingConfig(epochs=5, mini_batch_size=8, eta=0.01, l2=0.5, optimizer="adam", schedule="one-cycle")
    full = make()
    fit(full, (X, y), config, validation=(X, y))
    ck = tmp_path / "ck.npz"
    part = make()
    stopped = fit(part, (X, y), config, validation=(X, y), checkpoint=ck, callbacks=[stop_after(2)])
    assert stopped.stopped == "callback" and len(stopped.history) == 2
    header, arrays = read_npz(ck)
    k = len(part.parameters())
    assert header["config"]["optimizer"] == "adam" and sorted(a for a in arrays if a.startswith("opt")) == sorted(
        f"opt{i}" for i in range(2 * k + 1)
    )
    assert int(arrays[f"opt{2 * k}"]) == 2 * 7  # seven mini-batches an epoch
    resumed = make()
    r = fit(resumed, (X, y), config, validation=(X, y), checkpoint=ck, resume=True)
    assert len(r.history) == 5 and same(copies(full), copies(resumed))
    with pytest.raises(CheckpointError, match="different options \\(optimizer"):
        fit(make(), (X, y), TrainingConfig(epochs=5, mini_batch_size=8, eta=0.01, l2=0.5, schedule="one-cycle"),
            checkpoint=ck, resume=True)  # fmt: skip


def damaged_copies(tmp_path, path, k):
    """(name, path, words): Adam checkpoints each damaged one way."""
    header, arrays = read_npz(path)
    cases = [
        ("a missing moment", lambda a: a.pop(f"opt{k + 1}"), "arrays of its optimizer state"),
        ("NaN moments", lambda a: a.update({f"opt{k}": np.full_like(a[f"opt{k}"], np.nan)}), "finite real floats"),
        ("float64 moments", lambda a: a.update(opt0=a["opt0"].astype(np.float64)), "must be float32"),
        ("a float step count", lambda a: a.update({f"opt{2 * k}": np.array(3.0)}), "must be int64"),
        ("a step count of 0", lambda a: a.update({f"opt{2 * k}": np.array(0, np.int64)}), "step count"),
        ("v of another shape", lambda a: a.update({f"opt{k}": a["opt1"]}), "expected (5, 6)"),
    ]
    for name, change, words in cases:
        copy = dict(arrays)
        change(copy)
        damaged = tmp_path / f"{name.replace(' ', '-')}.npz"
        write_npz(damaged, header, copy)
        yield name, damaged, words


def test_a_damaged_adam_state_is_reported_as_damaged(tmp_path):
    X, y = blobs(30, dtype=np.float32)
    config = TrainingConfig(epochs=3, mini_batch_size=8, eta=0.01, optimizer="adam")
    ck = tmp_path / "ck.npz"
    fit(small_layer_net(np.float32), (X, y), config, checkpoint=ck, callbacks=[stop_after(1)])
    k = len(small_layer_net().parameters())
    for name, path, words in damaged_copies(tmp_path, ck, k):
        with pytest.raises(CheckpointError) as error:
            fit(small_layer_net(np.float32), (X, y), config, checkpoint=path, resume=True)
        message = str(error.value)
        assert words in message and "\n" not in message, (name, message)


# -- the command line -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, words",
    [
        (["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["--optimizer", "adam", "--momentum", "0.9"], "Adam keeps its own"),
        (["--schedule", "two-cycle"], "invalid choice: 'two-cycle'"),
    ],
)
def test_bad_optimizer_options_exit_2_with_one_line(capsys, args, words):
    with pytest.raises(SystemExit) as exited:
        code = main(["train", *args])
        raise SystemExit(code)
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == "" and err.count("\n") == 1 and words in err, err
