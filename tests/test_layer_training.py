"""Chapter 6's layer networks in glassnet's one training loop, checkpoints and model files."""

import numpy as np
import pytest

import glassnet
from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
from glassnet.errors import CheckpointError, ModelFormatError
from glassnet.io import load, read_npz, save, write_npz
from glassnet.training import Momentum, TrainingConfig, fit


def images(n=60, seed=0):
    """Tiny 8x8 'images' whose class is the quadrant holding a bright blob."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    X = rng.random((n, 1, 8, 8)) * 0.2
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        X[i, 0, 4 * r : 4 * r + 4, 4 * q : 4 * q + 4] += 0.8
    return X.reshape(n, 64), y


def convnet(seed=0, dtype=np.float64, p=0.0):
    return LayerNetwork(
        [
            ConvPoolLayer((3, 1, 3, 3), (1, 8, 8), activation_fn="relu"),
            FullyConnectedLayer(3 * 3 * 3, 12, activation_fn="relu", p_dropout=p),
            SoftmaxLayer(12, 4, p_dropout=p),
        ],
        seed=seed,
        dtype=dtype,
    )


def params(net):
    return [p.copy() for p in net.params()]


def test_fit_trains_a_layer_network_with_the_books_l2_scaling():
    X, y = images(200)
    net = convnet()
    r = fit(net, (X, y), TrainingConfig(epochs=15, mini_batch_size=10, eta=0.1, l2=0.1), test=(X, y))
    assert r.history[-1]["accuracy"] > 0.9 and r.engine in ("numpy", "layer-kernel")
    # one epoch of fit without shuffling equals network3's loop of steps, lambda divided by n_batches
    a, b = convnet(seed=3), convnet(seed=3)
    fit(a, (X[:50], y[:50]), TrainingConfig(epochs=1, mini_batch_size=10, eta=0.2, l2=2.0, shuffle=False))
    for k in range(5):
        b.step(X[10 * k : 10 * k + 10], y[10 * k : 10 * k + 10], 0.2, 2.0, 5)
    for p, q in zip(a.params(), b.params()):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-14)


def test_momentum_steps_a_layer_network_with_its_own_velocities():
    X, y = images(30)
    net, ref = convnet(seed=1), convnet(seed=1)
    opt = Momentum(0.9, l2=0.5, n=3)
    velocity = [np.zeros_like(p) for p in ref.params()]
    for _ in range(3):
        masks_state = ref.rng.bit_generator.state
        g = ref.backprop(X, y, lmbda=0.5, n_batches=3)
        for p, v, d in zip(ref.params(), velocity, g):
            v[...] = 0.9 * v - 0.05 * d
            p += v
        net.rng.bit_generator.state = masks_state
        opt.step(net, X, y, 0.05)
    for p, q in zip(net.params(), ref.params()):
        np.testing.assert_allclose(p, q, rtol=1e-12)


def test_resume_of_a_layer_network_with_dropout_and_momentum_is_bit_identical(tmp_path):
    X, y = images(80)
    config = dict(mini_batch_size=8, eta=0.05, momentum=0.5, l2=0.1)
    full = convnet(seed=4, dtype=np.float32, p=0.3)
    fit(full, (X, y), TrainingConfig(epochs=4, **config), validation=(X, y))
    part = convnet(seed=4, dtype=np.float32, p=0.3)
    ck = tmp_path / "ck.npz"
    fit(part, (X, y), TrainingConfig(epochs=2, **config), validation=(X, y), checkpoint=ck)
    resumed = convnet(seed=4, dtype=np.float32, p=0.3)
    r = fit(resumed, (X, y), TrainingConfig(epochs=4, **config), validation=(X, y), checkpoint=ck, resume=True)
    assert len(r.history) == 4
    for p, q in zip(full.params(), resumed.params()):
        np.testing.assert_array_equal(p, q)
    other = LayerNetwork([FullyConnectedLayer(64, 12), SoftmaxLayer(12, 4)], seed=4, dtype=np.float32)
    with pytest.raises(CheckpointError, match="spec"):
        fit(other, (X, y), TrainingConfig(epochs=4, **config), checkpoint=ck, resume=True)


def test_a_layer_network_model_file_round_trips_and_is_version_2(tmp_path):
    X, _ = images(20)
    net = convnet(seed=5, p=0.5)
    path = save(net, tmp_path / "m.npz", metadata=dict(dataset="toy"))
    back, header = load(path, with_header=True)
    assert header["format_version"] == 2 and header["network"] == "layers" and header["dataset"] == "toy"
    np.testing.assert_array_equal(back.feedforward(X), net.feedforward(X))
    assert [l.p_dropout for l in back.layers] == [0.0, 0.5, 0.5]
    book = save(glassnet.Network([64, 5, 4], seed=0), tmp_path / "book.npz")
    assert read_npz(book)[0]["format_version"] == 1  # chapters 1-3 unchanged


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda h, a: h.update(spec={"layers": [{"kind": "warp"}]}), "layer spec is unusable"),
        (lambda h, a: h.pop("spec"), "layer spec is unusable"),
        (lambda h, a: a.update(w0=np.zeros((2, 2))), "array 'w0' has shape \\(2, 2\\), expected \\(3, 1, 3, 3\\)"),
        (lambda h, a: a.pop("b2"), "do not match"),
        (lambda h, a: a.update(w1=np.full_like(a["w1"], np.nan)), "NaN or infinite"),
    ],
)
def test_a_damaged_layer_model_is_refused_in_one_line(tmp_path, change, message):
    path = save(convnet(seed=6), tmp_path / "m.npz")
    header, arrays = read_npz(path)
    change(header, arrays)
    write_npz(path, header, arrays)
    with pytest.raises(ModelFormatError, match=message):
        load(path)


def test_glassnet_train_layers_saves_and_resumes_bit_identically(tmp_path, capsys):
    from glassnet.cli import main

    def args(epochs):
        return [
            "train",
            "--dataset",
            "digits",
            "--layers",
            "conv4x3:relu,pool2,fc20:relu:d0.2",
            "--epochs",
            str(epochs),
            "--mini-batch-size",
            "20",
            "--eta",
            "0.1",
            "--momentum",
            "0.5",
            "--log-every",
            "1",
        ]

    assert main(args(4) + ["--save", str(tmp_path / "full.npz")]) == 0
    full_out = capsys.readouterr().out
    assert main(args(2) + ["--checkpoint", str(tmp_path / "ck.npz")]) == 0
    capsys.readouterr()
    assert (
        main(args(4) + ["--checkpoint", str(tmp_path / "ck.npz"), "--resume", "--save", str(tmp_path / "r.npz")]) == 0
    )
    assert capsys.readouterr().out.splitlines()[-2:] == full_out.splitlines()[-2:]
    a, b = load(tmp_path / "full.npz"), load(tmp_path / "r.npz")
    for p, q in zip(a.params(), b.params()):
        np.testing.assert_array_equal(p, q)
    assert main(["train", "--layers", "fc100", "--init", "he"]) == 2
    assert "--init: not used by a --layers network" in capsys.readouterr().err
    assert main(["train", "--layers", "pool2"]) == 2
    assert "a pool must follow a conv layer" in capsys.readouterr().err
