"""Pictures: every figure is a readable PNG with its titles, labels and legends; saves are atomic."""

import io
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")
Image = pytest.importorskip("PIL.Image")

from glassnet.cli import build_parser, main  # noqa: E402
from glassnet.core.functions import sigmoid  # noqa: E402
from glassnet.core.network import Network  # noqa: E402
from glassnet.datasets import load_digits_split  # noqa: E402
from glassnet.io import save  # noqa: E402
from glassnet.training import TrainingConfig, fit  # noqa: E402
from glassnet.views import plots  # noqa: E402

EPOCHS, BATCH, ETA = 4, 10, 0.5


@pytest.fixture(scope="module")
def trained():
    """A 64-16-10 network trained a few epochs on the digits: still makes plenty of mistakes."""
    training, test = load_digits_split(seed=0, dtype=np.float32)
    net = Network([64, 16, 10], seed=0)
    history = fit(
        net, training, TrainingConfig(epochs=EPOCHS, mini_batch_size=BATCH, eta=ETA, monitor_training=None), test=test
    ).history
    return net, history, test


@pytest.fixture(scope="module")
def model_file(trained, tmp_path_factory):
    net, history, _ = trained
    path = tmp_path_factory.mktemp("model") / "digits.npz"
    save(
        net,
        path,
        metadata=dict(
            dataset="digits", history=history, training=dict(seed=0, epochs=EPOCHS, mini_batch_size=BATCH, eta=ETA)
        ),
    )
    return path


def assert_png(path, min_size=(300, 200)):
    assert path.exists() and path.stat().st_size > 1000
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size[0] >= min_size[0] and im.size[1] >= min_size[1]
        im.load()
        extrema = im.convert("L").getextrema()
    assert extrema[0] < extrema[1], "the image is blank"
    assert not list(path.parent.glob(f".{path.name}.*")), "a temporary file was left behind"


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# -- learning curves ---------------------------------------------------------------------------
def test_learning_curves_show_cost_and_accuracy_per_epoch(trained, tmp_path):
    _, history, _ = trained
    fig = plots.learning_curves_figure(history)
    cost, acc = fig.axes
    assert fig._suptitle.get_text().startswith("Learning curves")
    assert "cost" in cost.get_title().lower() and "accuracy" in acc.get_title().lower()
    assert cost.get_xlabel() == acc.get_xlabel() == "epoch"
    assert "cost" in cost.get_ylabel() and "%" in acc.get_ylabel()
    assert legend_texts(cost) == legend_texts(acc) == ["training", "test (719 images)"]
    test_line = acc.get_lines()[1]
    np.testing.assert_allclose(test_line.get_xdata(), range(EPOCHS))
    np.testing.assert_allclose(test_line.get_ydata(), [100 * h["accuracy"] for h in history])
    np.testing.assert_allclose(cost.get_lines()[0].get_ydata(), [h["training_cost"] for h in history])

    path = plots.learning_curves(history, tmp_path / "curves.png")
    assert path == tmp_path / "curves.png"
    assert_png(path, (800, 350))


def test_learning_curves_plot_whichever_sets_the_history_holds():
    history = [
        dict(
            epoch=j,
            seconds=0.1,
            training_cost=1 / (j + 1),
            training_accuracy=0.5 + j / 10,
            validation_cost=1.1 / (j + 1),
            validation_accuracy=0.45 + j / 10,
        )
        for j in range(3)
    ]
    cost, acc = plots.learning_curves_figure(history).axes
    assert legend_texts(cost) == legend_texts(acc) == ["training", "validation"]
    with pytest.raises(ValueError, match="empty"):
        plots.learning_curves_figure([])
    with pytest.raises(ValueError, match="no cost or accuracy"):
        plots.learning_curves_figure([dict(epoch=0, seconds=1.0)])


# -- weights -----------------------------------------------------------------------------------
def test_weights_grid_draws_each_hidden_neuron_as_an_8x8_image(trained, tmp_path):
    net, _, _ = trained
    fig = plots.weights_grid_figure(net)
    tiles = [ax for ax in visible_axes(fig) if ax.images]
    assert len(tiles) == 16
    limit = np.abs(net.weights[0]).max()
    for j, ax in enumerate(tiles):
        image = ax.images[0]
        np.testing.assert_allclose(image.get_array(), net.weights[0][j].reshape(8, 8), rtol=1e-6)
        assert image.get_clim() == pytest.approx((-limit, limit))  # centred on 0, shared
        assert image.get_cmap().name == "RdBu_r"
        assert ax.get_title() == f"neuron {j}"
    colorbars = [ax for ax in fig.axes if ax.get_ylabel() == "weight"]
    assert len(colorbars) == 1
    assert "16 hidden neurons" in fig._suptitle.get_text()
    assert "pixel column" in fig._supxlabel.get_text() and "pixel row" in fig._supylabel.get_text()
    assert_png(plots.weights_grid(net, tmp_path / "w.png"), (500, 500))


def test_weights_grid_limits_and_shapes():
    net = Network([784, 30, 10], seed=1)
    fig = plots.weights_grid_figure(net, max_neurons=9)
    tiles = [ax for ax in visible_axes(fig) if ax.images]
    assert len(tiles) == 9 and tiles[0].images[0].get_array().shape == (28, 28)
    assert "first 9 of 30" in fig._suptitle.get_text()
    assert plots.weights_grid_figure(net, image_shape=(14, 56)).axes[0].images[0].get_array().shape == (14, 56)
    with pytest.raises(ValueError, match="holds 784 pixels"):
        plots.weights_grid_figure(Network([64, 4, 10], seed=0), image_shape=(28, 28))
    with pytest.raises(ValueError, match="not a square"):
        plots.weights_grid_figure(Network([10, 4, 2], seed=0))


# -- errors ------------------------------------------------------------------------------------
def test_confusion_matrix_counts_every_prediction(trained, tmp_path):
    net, _, test = trained
    pred = net.predict(test.X)
    counts = plots.confusion_counts(net, test.X, test.y)
    expected = np.zeros((10, 10), int)
    np.add.at(expected, (test.y, pred), 1)
    np.testing.assert_array_equal(counts, expected)

    fig = plots.confusion_matrix_figure(net, test.X, test.y)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted digit" and ax.get_ylabel() == "true digit"
    correct = int(np.sum(pred == test.y))
    assert f"{correct} / 719 correct" in ax.get_title()
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in ax.texts}
    assert cells == {(i, j): expected[i, j] for i in range(10) for j in range(10)}
    assert_png(plots.confusion_matrix(net, test.X, test.y, tmp_path / "c.png"), (500, 450))


def test_misclassified_shows_the_wrong_digits_with_true_and_predicted(trained, tmp_path):
    net, _, test = trained
    pred = net.predict(test.X)
    wrong = np.flatnonzero(pred != test.y)
    assert len(wrong) > 36

    fig, count = plots.misclassified_figure(net, test.X, test.y)
    assert count == len(wrong)
    titles = [ax.get_title() for ax in visible_axes(fig) if ax.images]
    assert titles == [f"true {test.y[i]}, predicted {pred[i]}" for i in wrong[:36]]
    assert f"{count} of 719 images" in fig._suptitle.get_text()

    fig, _ = plots.misclassified_figure(net, test.X, test.y, n=5, images=test.X * 0 + 1)
    assert len([ax for ax in visible_axes(fig) if ax.images]) == 5
    path, count2 = plots.misclassified(net, test.X, test.y, tmp_path / "m.png", n=10)
    assert count2 == count
    assert_png(path, (300, 300))


def test_misclassified_with_no_mistakes_still_draws_a_titled_figure():
    X = np.eye(4)
    net = Network([4, 4], weights=[10 * np.eye(4)], biases=[np.zeros(4)])
    fig, count = plots.misclassified_figure(net, X, np.arange(4))
    assert count == 0 and fig._suptitle.get_text().startswith("Misclassified: 0 of 4")


def test_bad_labels_are_refused(trained):
    net, _, test = trained
    with pytest.raises(ValueError):
        plots.confusion_counts(net, test.X, test.y + 10)
    with pytest.raises(ValueError):
        plots.misclassified_figure(net, test.X[:, :10], test.y)


# -- sigmoid -----------------------------------------------------------------------------------
def test_sigmoid_figures_follow_the_tutorial(tmp_path):
    ax = plots.sigmoid_weight_figure().axes[0]
    assert legend_texts(ax) == ["w = 0.5", "w = 1", "w = 2"]
    assert ax.get_legend().get_title().get_text() == "b = 0"
    for w, line in zip((0.5, 1, 2), ax.get_lines()):
        np.testing.assert_allclose(line.get_ydata(), sigmoid(w * line.get_xdata()))
    ax = plots.sigmoid_bias_figure().axes[0]
    assert legend_texts(ax) == ["b = -8", "b = 0", "b = 8"]
    for b, line in zip((-8, 0, 8), ax.get_lines()):
        np.testing.assert_allclose(line.get_ydata(), sigmoid(line.get_xdata() + b))
    assert ax.get_xlabel() == "input x" and ax.get_ylabel().startswith("output") and ax.get_title()

    paths = plots.sigmoid_figures(tmp_path / "w.png", tmp_path / "b.png")
    assert paths == (tmp_path / "w.png", tmp_path / "b.png")
    for p in paths:
        assert_png(p, (500, 300))


# -- saving ------------------------------------------------------------------------------------
def test_save_training_plots(trained, tmp_path):
    net, history, test = trained
    paths = plots.save_training_plots(net, history, tmp_path / "new" / "dir", test=test)
    assert [p.name for p in paths] == [
        "learning_curves.png",
        "weights.png",
        "confusion_matrix.png",
        "misclassified.png",
    ]
    for p in paths:
        assert_png(p)
    paths = plots.save_training_plots(net, history, tmp_path / "no-test")
    assert [p.name for p in paths] == ["learning_curves.png", "weights.png"]


def test_a_failed_save_leaves_no_file(trained, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def broken(self, f, **kwargs):
        f.write(b"\x89PNG half a picture")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        plots.learning_curves(trained[1], tmp_path / "curves.png")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_kept_when_the_save_fails(trained, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = tmp_path / "w.png"
    target.write_bytes(b"old")
    monkeypatch.setattr(Figure, "savefig", lambda self, f, **kw: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        plots.weights_grid(trained[0], target)
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]


def test_missing_matplotlib_gives_a_one_line_hint(trained, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError) as e:
        plots.weights_grid(trained[0], tmp_path / "w.png")
    assert str(e.value) == 'plots need matplotlib: pip install "glassnet[plot]"'
    assert list(tmp_path.iterdir()) == []


# -- the command line --------------------------------------------------------------------------
def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_plot_help_explains_every_flag():
    top = next(a for a in build_parser()._actions if a.dest == "command")
    kinds = next(a for a in top.choices["plot"]._actions if a.dest == "kind")
    assert set(kinds.choices) == {"curves", "weights", "confusion", "misclassified", "sigmoid", "learning-speed"}
    for name, p in kinds.choices.items():
        for action in p._actions:
            if action.dest != "help":
                assert action.help, f"plot {name} {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize("kind", ["curves", "weights", "confusion", "misclassified"])
def test_plot_model_kinds(kind, model_file, tmp_path):
    target = tmp_path / f"{kind}.png"
    code, out, err = run(["plot", kind, str(model_file), "-o", str(target)])
    assert code == 0, err
    assert out.strip() == str(target)
    assert_png(target)
    if kind == "misclassified":
        assert "test images misclassified" in err


def test_plot_misclassified_draws_the_raw_digits(trained, model_file, tmp_path):
    net, _, test = trained
    code, _, err = run(["plot", "misclassified", str(model_file), "-o", str(tmp_path / "m.png"), "-n", "4"])
    wrong = int(np.sum(net.predict(test.X) != test.y))
    assert code == 0 and f"# {wrong} of 719 digits test images misclassified" in err
    from glassnet.datasets import digits_test_images

    raw = digits_test_images(0, test.y)
    assert raw.shape == (719, 64) and raw.min() == 0 and raw.max() == 16
    assert digits_test_images(1, test.y) is None  # another split does not line up


def test_plot_sigmoid_writes_two_files(tmp_path):
    code, out, err = run(["plot", "sigmoid", "-o", str(tmp_path / "sig")])
    assert code == 0, err
    written = out.split()
    assert [p.rsplit("/", 1)[-1] for p in written] == ["sigmoid_weights.png", "sigmoid_biases.png"]
    for p in written:
        assert_png(tmp_path / "sig" / p.rsplit("/", 1)[-1])


def test_plot_errors_are_one_line_exit_2(model_file, tmp_path, capsys):
    def fails(argv, expect):
        code, out, err = run(argv)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and expect in err, err

    png = str(tmp_path / "x.png")
    fails(["plot", "weights", str(tmp_path / "missing.npz"), "-o", png], "no such model file")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a model")
    fails(["plot", "curves", str(junk), "-o", png], "not a readable glassnet model")
    fails(["plot", "weights", str(tmp_path), "-o", png], "glassnet: error:")
    fails(["plot", "weights", str(model_file), "-o", str(tmp_path / "nowhere" / "x.png")], "does not exist")
    for argv, expect in [
        (["plot", "weights", str(model_file)], "-o/--output"),
        (["plot"], "KIND"),
        (["plot", "pie", str(model_file)], "invalid choice"),
        (["plot", "misclassified", str(model_file), "-o", png, "-n", "0"], "must be >= 1"),
    ]:
        code, _, usage = run(argv)
        assert code == 2
        assert len(usage.strip().splitlines()) == 1 and expect in usage, usage
    bare = tmp_path / "bare.npz"
    save(Network([64, 5, 10], seed=0), bare, metadata=dict(dataset="digits"))
    fails(["plot", "curves", str(bare), "-o", png], "no training history")
    wrong = tmp_path / "wrong.npz"
    save(Network([784, 5, 10], seed=0), wrong, metadata=dict(dataset="digits", training=dict(seed=0)))
    fails(["plot", "confusion", str(wrong), "-o", png], "need 64 inputs")
    blocker = tmp_path / "file"
    blocker.write_text("")
    fails(["plot", "sigmoid", "-o", str(blocker)], "not a folder")
    assert not (tmp_path / "x.png").exists()
