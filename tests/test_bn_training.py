"""Training a batch-normalised network end to end: the best epoch keeps its running statistics
(in memory and in checkpoints), mini-batches batch normalisation cannot train on are refused
before the run, and the live page measures such a network without touching its statistics."""

import numpy as np
import pytest
from test_modern_layers import bn_net, quadrants

from glassnet.core.model import state_arrays
from glassnet.errors import InputError
from glassnet.training import TrainingConfig, fit
from glassnet.training.loop import check_batches


def test_keep_best_restores_the_best_epochs_running_statistics_too():
    X, y = quadrants(96)
    Xv, yv = quadrants(48, seed=3)
    net, seen = bn_net(seed=2), {}
    keep = lambda network, record: seen.update({record["epoch"]: [a.copy() for a in state_arrays(network)]})
    config = TrainingConfig(epochs=6, mini_batch_size=16, eta=0.3)
    result = fit(net, (X, y), config, validation=(Xv, yv), callbacks=[keep])
    best, last = result.best_epoch, max(seen)
    assert best != last, "the test needs a run whose best epoch is not its last"
    buffers = list(net.named_buffers().values())
    assert buffers and all(np.array_equal(a, b) for a, b in zip(state_arrays(net), seen[best]))
    n = len(net.parameters())
    assert not all(np.array_equal(a, b) for a, b in zip(buffers, seen[last][n:]))


def test_a_checkpoint_keeps_the_best_epochs_running_statistics(tmp_path):
    from glassnet.io import read_npz

    X, y = quadrants(96)
    Xv, yv = quadrants(48, seed=3)
    config = dict(mini_batch_size=16, eta=0.3)
    full = bn_net(seed=2)
    fit(full, (X, y), TrainingConfig(epochs=6, **config), validation=(Xv, yv))
    part, ck = bn_net(seed=2), tmp_path / "ck.npz"
    fit(part, (X, y), TrainingConfig(epochs=3, **config), validation=(Xv, yv), checkpoint=ck)
    names = read_npz(ck)[1]
    assert {f"best_{name}" for name in part.named_buffers()} <= set(names)
    resumed = bn_net(seed=2)
    fit(resumed, (X, y), TrainingConfig(epochs=6, **config), validation=(Xv, yv), checkpoint=ck, resume=True)
    for a, b in zip(state_arrays(full), state_arrays(resumed)):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_missing_a_best_running_statistic_is_damaged(tmp_path):
    from glassnet.errors import CheckpointError
    from glassnet.io import read_npz, write_npz

    X, y = quadrants(64)
    ck = tmp_path / "ck.npz"
    config = dict(mini_batch_size=16, eta=0.3)
    fit(bn_net(seed=2), (X, y), TrainingConfig(epochs=1, **config), validation=(X, y), checkpoint=ck)
    header, arrays = read_npz(ck)
    name = next(name for name in arrays if name.startswith("best_running"))
    arrays.pop(name)
    write_npz(ck, header, arrays)
    with pytest.raises(CheckpointError, match="best parameters"):
        fit(bn_net(seed=2), (X, y), TrainingConfig(epochs=2, **config), validation=(X, y), checkpoint=ck, resume=True)


@pytest.mark.parametrize(
    "n, batch, ok", [(64, 16, True), (65, 16, False), (66, 16, True), (10, 1, False), (10, 10, True), (11, 5, False)]
)
def test_a_mini_batch_of_one_is_refused_before_training_for_batch_norm_of_rows(n, batch, ok):
    net = bn_net(seed=0)  # ends in fc8,bn: batch normalisation of rows
    assert net.min_batch == 2
    X, y = quadrants(n)
    config = TrainingConfig(epochs=1, mini_batch_size=batch, eta=0.1)
    if ok:
        check_batches(net, n, batch)
        fit(net, (X, y), config)
    else:
        with pytest.raises(InputError, match=r"at least 2: (.* leave one of 1|mini-batches of 1); choose another"):
            fit(net, (X, y), config)


def test_feature_maps_train_on_a_mini_batch_of_one():
    from glassnet.training.layerspec import layer_network

    net = layer_network("conv4x3p1,bn,relu,gap,softmax4", (1, 8, 8), 4, seed=0)
    assert net.min_batch == 1
    X, y = quadrants(9)
    fit(net, (X, y), TrainingConfig(epochs=1, mini_batch_size=4, eta=0.1))  # a last mini-batch of 1


def test_the_cli_refuses_such_a_mini_batch_before_any_output(capsys):
    from glassnet.cli import main

    code = main(["train", "--dataset", "digits", "--layers", "fc30,bn,relu", "--mini-batch-size", "3", "--epochs", "1"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and "leave one of 1" in err


def test_a_watched_bn_network_is_measured_with_its_own_running_statistics():
    """The live page measures a copy of the network's whole state: the per-class accuracy of
    each epoch is that of the network as it was then (running statistics included), the speed
    of learning has one curve per layer with a bias, and watching changes nothing in training."""
    from glassnet.web.models import layer_names
    from glassnet.web.watch import Watch

    X, y = quadrants(96)
    Xt, yt = quadrants(40, seed=5)
    config = TrainingConfig(epochs=4, mini_batch_size=16, eta=0.3)
    alone = bn_net(seed=1)
    fit(alone, (X.reshape(96, -1), y), config)
    watch, net, states = Watch(measure_share=1.0, unwatched_share=1.0), bn_net(seed=1), {}
    watch.attach(net, test=(Xt.reshape(40, -1), yt), sample=(X[:30].reshape(30, -1), y[:30]), meta={"epochs": 4})
    keep = lambda network, record: states.update({record["epoch"]: [a.copy() for a in state_arrays(network)]})
    fit(net, (X.reshape(96, -1), y), config, callbacks=[watch.callback, keep], on_batch=watch.on_batch)
    watch.finish("finished", network=net)
    watch.close()
    for a, b in zip(state_arrays(alone), state_arrays(net)):
        np.testing.assert_array_equal(a, b)
    message, _ = watch.updates(None)
    names = layer_names(net)
    assert message["meta"]["layers"] == names and len(names) == 5  # 3 batch norms (beta), fc 8, softmax 4
    copy = bn_net(seed=1)
    measured = {m["epoch"]: m for m in message["measures"] if m["epoch"] >= 0}
    assert measured
    for epoch, m in measured.items():
        for dst, src in zip(state_arrays(copy), states[epoch]):
            dst[...] = src
        predicted = copy.predict(Xt.reshape(40, -1))
        assert m["per_class"] == pytest.approx([np.mean(predicted[yt == c] == c) for c in range(4)], abs=1e-6)
        assert len(m["gradient_norms"]) == len(names) and all(g > 0 for g in m["gradient_norms"])


def test_a_bn_networks_summary_names_its_hidden_nonlinearity():
    from glassnet.training.layerspec import layer_network

    assert bn_net().summary()["activation"] == "relu"  # not the linear conv before the batch norm
    assert layer_network("conv4x3,pool2,fc8", (1, 8, 8), 4, activation="tanh").summary()["activation"] == "tanh"
    assert layer_network("softmax4", (1, 8, 8), 4).summary()["activation"] is None
