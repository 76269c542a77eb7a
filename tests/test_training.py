"""fit(): the training loop around the book's epoch -- schedules, early stopping, checkpoints."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import glassnet
from glassnet.errors import InputError
from glassnet.io import load
from glassnet.training import CheckpointError, Momentum, TrainingConfig, TrainingDiverged, fit
from glassnet.training.augment import Augmenter


def blobs(n=300, seed=0, d=8, k=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (k, d))
    y = rng.integers(0, k, n)
    X = (centres[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    return X, y


def params(net):
    return [p.copy() for p in net.weights + net.biases]


def same(a, b):
    return all(x.tobytes() == y.tobytes() for x, y in zip(a, b))


def test_plain_fit_is_the_books_sgd():
    X, y = blobs()
    a, b = glassnet.Network([8, 6, 3], seed=5), glassnet.Network([8, 6, 3], seed=5)
    a.SGD((X, y), 3, 10, 1.0, test_data=(X, y), log=None)
    result = fit(b, (X, y), TrainingConfig(epochs=3, mini_batch_size=10, eta=1.0), test=(X, y))
    assert same(params(a), params(b)) and result.stopped == "completed" and len(result.history) == 3


def test_l2_decays_the_weights():
    X, y = blobs()
    nets = [glassnet.Network([8, 6, 3], seed=1) for _ in range(2)]
    fit(nets[0], (X, y), TrainingConfig(epochs=2, mini_batch_size=10, eta=0.5))
    fit(nets[1], (X, y), TrainingConfig(epochs=2, mini_batch_size=10, eta=0.5, l2=50.0))
    assert np.linalg.norm(nets[1].weights[0]) < 0.9 * np.linalg.norm(nets[0].weights[0])


def test_momentum_matches_the_velocity_update():
    X, y = blobs(n=20)
    Y = glassnet.one_hot(y, 3)
    net = glassnet.Network([8, 4, 3], seed=2, dtype=np.float64)
    w0 = params(net)
    ref = glassnet.Network(
        [8, 4, 3], weights=[w.copy() for w in net.weights], biases=[b.copy() for b in net.biases], dtype=np.float64
    )
    velocity = [np.zeros_like(p) for p in ref.weights + ref.biases]
    for _ in range(3):  # three full-batch steps by hand
        nb, nw = ref.backprop(X, Y)
        for p, v, g in zip(ref.weights + ref.biases, velocity, nw + nb):
            v[...] = 0.9 * v - 0.5 / 20 * g
            p += v
    optimizer = Momentum(0.9)  # the optimizer owns the velocities
    for _ in range(3):
        optimizer.step(net, X.astype(np.float64), Y.astype(np.float64), 0.5)
    assert not hasattr(net, "velocities") and len(optimizer.state()) == 4
    for p, q, r in zip(net.weights + net.biases, ref.weights + ref.biases, w0):
        np.testing.assert_allclose(p, q, rtol=1e-12)
        assert not np.allclose(p, r)


def test_early_stopping_and_halving_when_nothing_improves():
    X, y = blobs()
    frozen = dict(epochs=50, mini_batch_size=50, eta=1e-9)  # accuracy cannot change
    r = fit(glassnet.Network([8, 6, 3], seed=0), (X, y), TrainingConfig(**frozen, early_stop=3), validation=(X, y))
    assert r.stopped == "early-stop" and len(r.history) == 4 and r.best_epoch == 0
    r = fit(
        glassnet.Network([8, 6, 3], seed=0),
        (X, y),
        TrainingConfig(**frozen, schedule="halve", patience=2, max_halvings=3),
        validation=(X, y),
    )
    etas = [h["eta"] for h in r.history]
    assert r.stopped == "schedule"
    assert sorted(set(etas), reverse=True) == [1e-9, 5e-10, 2.5e-10, 1.25e-10]


def test_cosine_schedule():
    X, y = blobs()
    r = fit(
        glassnet.Network([8, 6, 3], seed=0),
        (X, y),
        TrainingConfig(epochs=4, mini_batch_size=50, eta=1.0, schedule="cosine"),
    )
    np.testing.assert_allclose([h["eta"] for h in r.history], [1.0, 0.853553, 0.5, 0.146447], rtol=1e-5)


def test_keep_best_restores_the_best_validation_epoch():
    X, y = blobs(seed=3)
    Xv, yv = blobs(seed=3, n=100)
    snapshots = {}
    net = glassnet.Network([8, 6, 3], seed=0)
    r = fit(
        net,
        (X, y),
        TrainingConfig(epochs=8, mini_batch_size=10, eta=4.0, early_stop=8),
        validation=(Xv, yv),
        callbacks=[lambda n, rec: snapshots.__setitem__(rec["epoch"], params(n))],
    )
    assert same(params(net), snapshots[r.best_epoch])
    assert r.history[r.best_epoch]["validation_accuracy"] == max(h["validation_accuracy"] for h in r.history)


def test_divergence_stops_with_advice():
    X, y = blobs()
    net = glassnet.Network([8, 6, 3], seed=0, activation="relu", init="he")
    net.weights[0] *= 1e30
    with pytest.raises(TrainingDiverged, match="smaller eta"):
        fit(net, (X * 1e10, y), TrainingConfig(epochs=3, mini_batch_size=10, eta=1e30))


def test_resume_from_checkpoint_is_bit_identical(tmp_path):
    X, y = blobs()
    config = dict(mini_batch_size=10, eta=0.5, momentum=0.5, early_stop=50)
    full = glassnet.Network([8, 6, 3], seed=9)
    fit(full, (X, y), TrainingConfig(epochs=6, **config), validation=(X, y), augment=None)
    ck = tmp_path / "ck.npz"
    part = glassnet.Network([8, 6, 3], seed=9)
    fit(part, (X, y), TrainingConfig(epochs=2, **config), validation=(X, y), checkpoint=ck)
    with pytest.raises(CheckpointError, match="seed 9, not 1234"):
        fit(
            glassnet.Network([8, 6, 3], seed=1234),
            (X, y),
            TrainingConfig(epochs=6, **config),
            validation=(X, y),
            checkpoint=ck,
            resume=True,
        )
    resumed = glassnet.Network([8, 6, 3], seed=9)
    resumed.rng.random(5)  # the Generator's state comes from ck
    r = fit(resumed, (X, y), TrainingConfig(epochs=6, **config), validation=(X, y), checkpoint=ck, resume=True)
    assert len(r.history) == 6 and same(params(full), params(resumed))
    with pytest.raises(CheckpointError, match="different options"):
        fit(
            glassnet.Network([8, 6, 3], seed=9),
            (X, y),
            TrainingConfig(epochs=6, **dict(config, eta=0.1)),
            checkpoint=ck,
            resume=True,
        )


def test_augmenter_is_reproducible_and_keeps_range():
    rng = np.random.default_rng(0)
    X = rng.random((50, 784)).astype(np.float32) * (rng.random((50, 784)) > 0.7)
    aug = Augmenter()
    A = aug(X, np.random.default_rng(1)).copy()  # the augmenter reuses its buffer
    B = aug(X, np.random.default_rng(1))
    assert A.dtype == np.float32 and A.shape == X.shape and np.array_equal(A, B)
    assert 0 <= A.min() and A.max() <= 1 and not np.allclose(A, X)
    half = Augmenter(fraction=0.5)(X, np.random.default_rng(2))
    kept = np.all(half == X, axis=1)
    assert 10 <= kept.sum() <= 40  # about half the rows left as they were
    identity = Augmenter(rotate=0, zoom=0, shift=0, elastic_alpha=0)
    np.testing.assert_allclose(identity(X, rng), X, atol=1e-6)
    shifted = Augmenter(rotate=0, zoom=0, shift=0, elastic_alpha=0)
    with pytest.raises(ValueError, match="784"):
        shifted(X[:, :100], rng)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_killed_training_resumes_to_identical_weights(tmp_path, sig):
    pytest.importorskip("sklearn")
    base = [
        sys.executable,
        "-m",
        "glassnet",
        "train",
        "--dataset",
        "digits",
        "--epochs",
        "20",
        "--mini-batch-size",
        "1",
        "--eta",
        "0.05",
        "--seed",
        "4",
    ]
    ref = subprocess.run(base + ["--save", str(tmp_path / "ref.npz")], capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    ck, out = tmp_path / "ck.npz", tmp_path / "resumed.npz"
    proc = subprocess.Popen(
        base + ["--checkpoint", str(ck), "--save", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until a few epochs are checkpointed
        if proc.poll() is not None:
            break
        if ck.exists():
            try:
                with np.load(ck) as npz:
                    import json

                    epoch = json.loads(npz["header"].tobytes())["state"]["epoch"]
            except Exception:
                epoch = 0
            if epoch >= 3:
                break
        time.sleep(0.01)
    assert proc.poll() is None, "training finished before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err and not out.exists()
    resumed = subprocess.run(
        base + ["--checkpoint", str(ck), "--resume", "--save", str(out)], capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    a, b = load(tmp_path / "ref.npz"), load(out)
    assert same(params(a), params(b))
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_a_version_1_checkpoint_is_refused_with_advice(tmp_path):
    X, y = blobs()
    ck = tmp_path / "ck.npz"
    fit(
        glassnet.Network([8, 6, 3], seed=0),
        (X, y),
        TrainingConfig(epochs=1, mini_batch_size=10, eta=0.5),
        checkpoint=ck,
    )
    from glassnet.io import read_npz, write_npz

    header, arrays = read_npz(ck)
    del header["checkpoint_version"]  # what glassnet wrote before version 2
    write_npz(ck, header, arrays)
    with pytest.raises(CheckpointError, match="version 1.*without --resume"):
        fit(
            glassnet.Network([8, 6, 3], seed=0),
            (X, y),
            TrainingConfig(epochs=2, mini_batch_size=10, eta=0.5),
            checkpoint=ck,
            resume=True,
        )


def test_a_stale_temporary_file_of_a_killed_writer_is_removed(tmp_path):
    X, y = blobs()
    ck = tmp_path / "ck.npz"
    dead = tmp_path / ".ck.npz.999999999.abc123.tmp"  # pid 999999999 cannot be alive
    dead.write_bytes(b"half a checkpoint")
    alive = tmp_path / f".ck.npz.{os.getppid()}.abc123.tmp"  # a live writer's file is left alone
    alive.write_bytes(b"in progress")
    fit(
        glassnet.Network([8, 6, 3], seed=0),
        (X, y),
        TrainingConfig(epochs=1, mini_batch_size=10, eta=0.5),
        checkpoint=ck,
    )
    assert not dead.exists() and alive.exists() and ck.exists()


def test_an_l2_decay_that_would_zero_the_weights_is_refused():
    """1 - eta*lambda/n <= 0 (e.g. partial_fit on one example with a strong L2) is refused, not run."""
    X, y = blobs(n=20)
    with pytest.raises(InputError, match="would zero or flip the weights"):
        fit(
            glassnet.Network([8, 6, 3], seed=0),
            (X[:1], y[:1]),
            TrainingConfig(epochs=1, mini_batch_size=1, eta=0.02, l2=50.0),
        )


def test_l2_is_the_one_name_and_lmbda_a_deprecated_alias():
    """glassnet's own API says l2 (the book's lambda); TrainingConfig(lmbda=) still works, warning."""
    with pytest.warns(DeprecationWarning, match="use l2"):
        old = TrainingConfig(epochs=1, lmbda=2.5)
    assert old == TrainingConfig(epochs=1, l2=2.5) and old.l2 == 2.5
    with pytest.warns(DeprecationWarning):
        assert old.lmbda == 2.5
    with pytest.raises(InputError, match="not both"), pytest.warns(DeprecationWarning):
        TrainingConfig(l2=1.0, lmbda=2.0)
