"""Every command that reads a model, on chapter-6 layer networks and ensembles.

evaluate, predict, plot (weights, curves, confusion, misclassified), inspect and export are
run through ``glassnet.cli.main`` on small networks saved in tmp_path, and their numbers are
checked against the models' own ``predict`` / ``feedforward`` on real MNIST.
"""

import io
import json
import re

import numpy as np
import pytest

from glassnet import Network
from glassnet.cli import main
from glassnet.cli.common import describe_network, io_sizes
from glassnet.core.ensemble import Ensemble
from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
from glassnet.errors import InputError
from glassnet.io import save
from glassnet.training import TrainingConfig, fit

N_TRAIN, N_MONITOR = 3000, 1000


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def conv_net(seed=0):
    """ConvPool(8 5x5 filters on 1x28x28, ReLU) -> FC(8*12*12, 30, ReLU, dropout 0.3) -> softmax 10."""
    return LayerNetwork(
        [
            ConvPoolLayer((8, 1, 5, 5), (1, 28, 28), (2, 2), "relu"),
            FullyConnectedLayer(8 * 12 * 12, 30, "relu", p_dropout=0.3),
            SoftmaxLayer(30, 10),
        ],
        seed=seed,
    )


@pytest.fixture(scope="module")
def models(mnist, tmp_path_factory):
    """A conv layer network trained one epoch on 3,000 MNIST images (with its history), an
    FC-first layer network, a book Network, and the three as a voting ensemble; all saved."""
    folder = tmp_path_factory.mktemp("layer-models")
    train = (mnist.training.X[:N_TRAIN], mnist.training.y[:N_TRAIN])
    monitor = (mnist.test.X[:N_MONITOR], mnist.test.y[:N_MONITOR])
    conv = conv_net()
    history = fit(conv, train, TrainingConfig(epochs=1, mini_batch_size=10, eta=0.1), test=monitor).history
    fc = LayerNetwork([FullyConnectedLayer(784, 16, "sigmoid"), SoftmaxLayer(16, 10)], seed=1)
    fit(fc, train, TrainingConfig(epochs=1, mini_batch_size=10, eta=0.5))
    book = Network([784, 20, 10], seed=2)
    fit(book, train, TrainingConfig(epochs=1, mini_batch_size=10, eta=3.0))
    ensemble = Ensemble([conv, book, fc], combine="vote")
    paths = {}
    for name, model, extra in [("conv", conv, dict(history=history)), ("fc", fc, {}), ("ensemble", ensemble, {})]:
        paths[name] = folder / f"{name}.npz"
        save(model, paths[name], metadata=dict(dataset="mnist", training=dict(seed=0), **extra))
    return dict(conv=conv, fc=fc, book=book, ensemble=ensemble, paths=paths, folder=folder)


# -- one way to describe any model ---------------------------------------------------------------
def test_describe_network_and_io_sizes_for_every_kind():
    book = LayerNetwork(
        [
            ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2), "relu"),
            ConvPoolLayer((40, 20, 5, 5), (20, 12, 12), (2, 2), "relu"),
            FullyConnectedLayer(40 * 4 * 4, 100, "relu"),
            SoftmaxLayer(100, 10),
        ],
        seed=0,
    )
    assert describe_network(book) == "1x28x28-conv20x5/pool2-conv40x5/pool2-fc100-softmax10"
    assert io_sizes(book) == (784, 10)
    odd = LayerNetwork([ConvPoolLayer((3, 2, 3, 5), (2, 9, 9), (1, 2)), SoftmaxLayer(3 * 7 * 2, 4)], seed=0)
    assert describe_network(odd) == "2x9x9-conv3x3x5/pool1x2-softmax4" and io_sizes(odd) == (162, 4)
    net = Network([784, 30, 10], seed=0)
    assert describe_network(net) == "784-30-10" and io_sizes(net) == (784, 10)
    assert describe_network(Ensemble([book, book])) == f"ensemble of 2 {describe_network(book)} (mean)"
    assert (
        describe_network(Ensemble([net, book], combine="vote"))
        == f"ensemble of 2 [784-30-10, {describe_network(book)}] (vote)"
    )
    runs = Ensemble([net, net, book, book, book, net])  # a run of equal members is counted once
    assert describe_network(runs) == f"ensemble of 6 [2 x 784-30-10, 3 x {describe_network(book)}, 784-30-10] (mean)"
    assert runs.describe().startswith("ensemble of 6: 2 \u00d7 784")
    assert runs.describe().endswith("; 784-30-10, mean of their probabilities")
    assert io_sizes(Ensemble([net, book])) == (784, 10)


# -- evaluate -----------------------------------------------------------------------------------
def table(out):
    """(first line, rows of the per-digit table as lists of words) of evaluate's output."""
    lines = out.splitlines()
    return lines[0], [l.split() for l in lines[3:13]]


def test_evaluate_a_layer_network(models, mnist):
    test = mnist.test
    code, out, err = run(["evaluate", models["paths"]["conv"]])
    assert code == 0 and "1x28x28-conv8x5/pool2-fc30-softmax10 on the mnist test set" in err
    predicted = models["conv"].predict(test.X)
    correct = int(np.sum(predicted == test.y))
    first, rows = table(out)
    assert first == f"MNIST test set: {correct} / 10000 correct ({correct / 100:.2f}%)"
    assert correct > 7000  # it learned: the check is not of noise
    for d, row in enumerate(rows):
        assert int(row[2]) == np.sum((predicted == d) & (test.y == d))


def test_evaluate_an_ensemble_gives_its_rule_both_rules_and_every_member(models, mnist):
    test, ensemble = mnist.test, models["ensemble"]
    code, out, err = run(["evaluate", models["paths"]["ensemble"]])
    assert code == 0 and "ensemble of 3 [" in err and "(vote)" in err
    first, rows = table(out)
    correct = int(np.sum(ensemble.predict(test.X) == test.y))
    assert first == f"MNIST test set: {correct} / 10000 correct ({correct / 100:.2f}%)"
    summary = out.split("\n\n")[-1].splitlines()
    assert summary[0] == "ensemble of 3 (answers by vote):"
    figures = [int(re.search(r"(\d+) / 10000", line).group(1)) for line in summary[1:]]
    rules = ensemble.breakdown(test.X, test.y)
    assert figures == [rules["mean"], rules["vote"], *rules["members"]] and rules["vote"] == correct
    assert rules["members"][0] == int(np.sum(models["conv"].predict(test.X) == test.y))


def test_evaluate_refuses_a_layer_network_that_does_not_fit_the_data(tmp_path):
    small = LayerNetwork([ConvPoolLayer((2, 1, 3, 3), (1, 8, 8)), SoftmaxLayer(2 * 3 * 3, 10)], seed=0)
    save(small, tmp_path / "s.npz", metadata=dict(dataset="mnist"))
    code, out, err = run(["evaluate", tmp_path / "s.npz"])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "1x8x8-conv2x3/pool2-softmax10 layer network (64 inputs, 10 outputs)" in err
    assert "need 784 inputs" in err


# -- predict ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pngs(mnist, tmp_path_factory):
    """The first 5 MNIST test digits as black-on-white PNG files."""
    Image = pytest.importorskip("PIL.Image")
    folder = tmp_path_factory.mktemp("pngs")
    paths = []
    for i, x in enumerate(mnist.test.X[:5]):
        paths.append(folder / f"digit{i}.png")
        Image.fromarray(255 - np.round(x * 255).astype(np.uint8).reshape(28, 28)).save(paths[-1])
    return paths


@pytest.mark.parametrize("name", ["conv", "fc", "ensemble"])
def test_predict_shows_the_models_own_probabilities(models, pngs, name):
    from glassnet.datasets.preprocess import prepare

    code, out, err = run(["predict", models["paths"][name], *pngs, "--json", "--top", "10"])
    assert code == 0 and err == ""
    P = np.asarray(models[name].feedforward(np.stack([prepare(p) for p in pngs])), dtype=np.float64)
    for r, p in zip(json.loads(out), P):
        top = r["top"]
        assert r["prediction"] == top[0]["digit"] == int(np.argmax(p))
        assert np.allclose([t["probability"] for t in top], np.sort(p)[::-1], atol=1e-6)
        assert abs(sum(t["probability"] for t in top) - 1) < 1e-5


def test_predict_refuses_a_layer_network_without_784_inputs(tmp_path, pngs):
    save(LayerNetwork([SoftmaxLayer(64, 10)], seed=0), tmp_path / "d.npz", metadata=dict(dataset="digits"))
    code, out, err = run(["predict", tmp_path / "d.npz", pngs[0]])
    assert code == 2 and out == "" and "64-softmax10 layer network" in err and "784 inputs" in err


# -- plot ---------------------------------------------------------------------------------------
def tiles(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.images]


def test_plot_weights_draws_the_conv_filters_as_the_book_shows_them(models, tmp_path):
    pytest.importorskip("matplotlib")
    from glassnet.views import plots

    conv = models["conv"]
    fig = plots.weights_grid_figure(conv)
    w = conv.layers[0].w  # (8, 1, 5, 5)
    limit = np.abs(w).max()
    assert len(tiles(fig)) == 8
    for j, ax in enumerate(tiles(fig)):
        image = ax.images[0]
        np.testing.assert_allclose(image.get_array(), w[j, 0], rtol=1e-6)
        assert image.get_clim() == pytest.approx((-limit, limit))  # one grey scale centred on 0
        assert image.get_cmap().name == "gray_r" and ax.get_title() == f"filter {j}"
    assert fig._suptitle.get_text() == "The 8 5x5 filters of the first convolutional layer"
    code, out, err = run(["plot", "weights", models["paths"]["conv"], "-o", tmp_path / "f.png"])
    assert code == 0 and out.strip() == str(tmp_path / "f.png") and (tmp_path / "f.png").stat().st_size > 1000
    assert "8 5x5 filters of the first convolutional layer" in err
    book = LayerNetwork([ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2), "relu"), SoftmaxLayer(20 * 12 * 12, 10)])
    assert "The 20 5x5 filters" in plots.weights_grid_figure(book)._suptitle.get_text()
    assert len(tiles(plots.weights_grid_figure(book, max_neurons=6))) == 6


def test_filters_over_several_channels_show_the_mean_or_one_channel():
    pytest.importorskip("matplotlib")
    from glassnet.views import plots

    w = np.random.default_rng(0).normal(size=(4, 3, 5, 5))
    fig = plots.filters_figure(w)
    assert "the mean over its 3 input channels" in fig._suptitle.get_text()
    np.testing.assert_allclose(tiles(fig)[2].images[0].get_array(), w[2].mean(axis=0))
    fig = plots.filters_figure(w, channel=1)
    assert "input channel 1 of 3" in fig._suptitle.get_text()
    np.testing.assert_allclose(tiles(fig)[2].images[0].get_array(), w[2, 1])
    with pytest.raises(InputError, match="channel must be in 0..2"):
        plots.filters_figure(w, channel=3)


def test_plot_weights_of_an_fc_first_layer_network_and_of_an_ensemble(models, tmp_path):
    pytest.importorskip("matplotlib")
    from glassnet.views import plots

    fig = plots.weights_grid_figure(models["fc"])
    assert len(tiles(fig)) == 16 and "all 16 hidden neurons" in fig._suptitle.get_text()
    np.testing.assert_allclose(
        tiles(fig)[3].images[0].get_array(), models["fc"].layers[0].w[3].reshape(28, 28), rtol=1e-6
    )
    fig = plots.weights_grid_figure(models["ensemble"])
    assert fig._suptitle.get_text().endswith("(member 0 of an ensemble of 3)") and len(tiles(fig)) == 8
    code, out, err = run(["plot", "weights", models["paths"]["ensemble"], "-o", tmp_path / "e.png"])
    assert code == 0 and "member 0's 8 5x5 filters" in err and (tmp_path / "e.png").exists()


@pytest.mark.parametrize("name", ["conv", "ensemble"])
def test_plot_confusion_and_misclassified_use_the_models_predictions(models, mnist, tmp_path, name):
    pytest.importorskip("matplotlib")
    from glassnet.views import plots

    model, test = models[name], mnist.test
    predicted = model.predict(test.X[:2000])
    counts = plots.confusion_counts(model, test.X[:2000], test.y[:2000])
    np.testing.assert_array_equal(counts, np.bincount(test.y[:2000] * 10 + predicted, minlength=100).reshape(10, 10))
    code, out, err = run(["plot", "misclassified", models["paths"][name], "-o", tmp_path / "m.png", "-n", "4"])
    wrong = int(np.sum(model.predict(test.X) != test.y))
    assert code == 0 and f"# {wrong} of 10000 mnist test images misclassified" in err
    code, out, err = run(["plot", "confusion", models["paths"][name], "-o", tmp_path / "c.png"])
    assert code == 0 and (tmp_path / "c.png").stat().st_size > 1000


def test_plot_curves_of_a_layer_network_and_none_for_an_ensemble_without_history(models, tmp_path):
    pytest.importorskip("matplotlib")
    code, out, err = run(["plot", "curves", models["paths"]["conv"], "-o", tmp_path / "curves.png"])
    assert code == 0 and (tmp_path / "curves.png").stat().st_size > 1000
    code, out, err = run(["plot", "curves", models["paths"]["ensemble"], "-o", tmp_path / "none.png"])
    assert code == 2 and "holds no training history" in err


# -- inspect -----------------------------------------------------------------------------------
def test_inspect_describes_each_layer_and_each_member(models):
    code, out, err = run(["inspect", models["paths"]["conv"], models["paths"]["ensemble"]])
    assert code == 0 and err == ""
    conv, ensemble = out.split("\n\n")
    n_params = sum(p.size for p in models["conv"].params())
    assert "version 2" in conv.splitlines()[0]
    assert conv.splitlines()[1:6] == [
        f"  layer network 1x28x28-conv8x5/pool2-fc30-softmax10 ({n_params:,} weights and biases), "
        f"dtype float32, seed 0",
        "  log-likelihood cost",
        "  layer 0: ConvPoolLayer, 8 filters 5x5 over 1 channel of 28x28, max-pool 2x2, relu -> 8x12x12; "
        "w (8, 1, 5, 5), b (8,)",
        "  layer 1: FullyConnectedLayer, 1152 -> 30, relu, dropout 0.3 on its input; w (30, 1152), b (30,)",
        "  layer 2: SoftmaxLayer, 30 -> 10, softmax, no dropout; w (10, 30), b (10,)",
    ]
    assert "dataset mnist, history of 1 epoch, last test accuracy" in conv
    lines = ensemble.splitlines()
    assert "version 3" in lines[0] and lines[1].startswith("  ensemble of 3 members answering by vote")
    assert lines[2].startswith("  member 0: layer network 1x28x28-conv8x5/pool2-fc30-softmax10")
    assert lines[3] == "    log-likelihood cost" and lines[4].startswith("    layer 0: ConvPoolLayer, 8 filters")
    assert any(l.startswith("  member 1: network 784-20-10 (15,910 weights and biases), dtype float32") for l in lines)
    assert any(l.startswith("  member 2: layer network 784-fc16-softmax10") for l in lines)


# -- export ------------------------------------------------------------------------------------
def onnx_run(path, X):
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": X})[0]


@pytest.mark.parametrize("name", ["conv", "fc", "ensemble"])
def test_export_command_writes_what_the_model_computes(models, mnist, tmp_path, name):
    onnx = pytest.importorskip("onnx")
    target = tmp_path / f"{name}.onnx"
    code, out, err = run(["export", models["paths"][name], target])
    assert code == 0 and out.strip() == str(target) and describe_network(models[name]) in err
    # a convolutional network (and an ensemble whose first member is one) reads images (N, 1, 28, 28)
    images = name in ("conv", "ensemble")
    assert err.rstrip().endswith("its input is (N, 1, 28, 28)" if images else "its input is (N, 784)")
    X = mnist.test.X[:500]
    got = onnx_run(target, X.reshape(-1, 1, 28, 28) if images else X)
    assert got.dtype == np.float32 and got.shape == (500, 10)
    assert np.max(np.abs(got - models[name].feedforward(X))) < 1e-5
    if images:  # --flat-input: rows of 784 values, the same numbers
        code, _, err = run(["export", models["paths"][name], tmp_path / "flat.onnx", "--flat-input"])
        assert code == 0 and err.rstrip().endswith("its input is (N, 784)")
        np.testing.assert_array_equal(onnx_run(tmp_path / "flat.onnx", X), got)
    props = {p.key: p.value for p in onnx.load(str(target)).metadata_props}
    assert props["network"] == {"conv": "layers", "fc": "layers", "ensemble": "ensemble"}[name]
    if name == "ensemble":
        members = json.loads(props["members"])
        assert props["combine"] == "vote" and len(members) == 3
        assert members[0] == {"network": "layers", "spec": models["conv"].spec()}
        assert members[1]["sizes"] == [784, 20, 10]


def test_export_onnx_of_layer_networks_from_python(tmp_path):
    pytest.importorskip("onnx")
    from glassnet.io import export_onnx
    from glassnet.io.onnx import network_layers

    net = LayerNetwork.from_spec(conv_net().spec(), seed=4, dtype="float64")
    specs = network_layers(net)
    assert [k for k, _ in specs] == ["conv-pool", "fully-connected", "softmax"]
    assert specs[0].params["w"] is net.layers[0].w and specs[0].params["activation"] == "relu"
    assert specs[1].params["p_dropout"] == 0.3 and specs[0].params["image_shape"] == (1, 28, 28)
    X = np.random.default_rng(0).random((40, 784))
    got = onnx_run(export_onnx(net, tmp_path / "n64.onnx"), X.reshape(-1, 1, 28, 28))
    assert got.dtype == np.float64 and np.max(np.abs(got - net.feedforward(X))) < 1e-12


def test_ensembles_that_cannot_be_exported_say_why():
    pytest.importorskip("onnx")
    from glassnet.io.onnx import network_layers, to_onnx

    net = conv_net()
    with pytest.raises(InputError, match="one chain of layers per member"):
        network_layers(Ensemble([net]))
    tanh_out = Network([784, 10], seed=0, output_activation="tanh")
    with pytest.raises(InputError, match="member 1: cannot export a 'tanh' output layer"):
        to_onnx(Ensemble([net, tanh_out]))
    with pytest.raises(InputError, match="share one dtype"):
        to_onnx(Ensemble([net, Network([784, 10], seed=0, dtype=np.float64)]))
