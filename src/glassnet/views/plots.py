"""Pictures of a network and its training: learning curves, weights, errors, sigmoids.

Library code (no printing).  matplotlib is the optional extra ``plot`` and is
imported only inside the functions, with the non-interactive Agg backend.

Every ``name(..., path)`` function writes one PNG atomically (a temporary file in
the same folder, then ``os.replace``: a failed save leaves nothing behind) and
returns its ``Path``.  Each has a ``name_figure(...)`` twin that only builds and
returns the matplotlib ``Figure``, for notebooks and tests.

Shapes: ``X`` is (m, n_in), one image a row (a layer network's images flattened,
c*h*w values); ``y`` is (m,) integer labels; a network's ``weights[0]`` is
(n_hidden, n_in), so row j is hidden neuron j's incoming weights -- drawn as an
image of the input's shape (28x28 for MNIST, 8x8 for scikit-learn's digits).

Every function taking a ``network`` takes any model: a ``Network`` (chapters 1-3),
a chapter-6 ``LayerNetwork`` (weights: a first convolutional layer's filters, as the
book shows its 20 5x5 filters, or a first fully connected layer's rows) or an
``Ensemble`` (predictions by its own rule; weights: those of member 0, as the
figure's title says).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from ..core.dataforms import check_pair, square_side
from ..core.functions import sigmoid
from ..engines import predict
from ..errors import InputError
from ..files import atomic_write

__all__ = [
    "learning_curves",
    "learning_curves_figure",
    "weights_grid",
    "weights_grid_figure",
    "filters_figure",
    "confusion_counts",
    "confusion_matrix",
    "confusion_matrix_figure",
    "misclassified",
    "misclassified_figure",
    "sigmoid_figures",
    "sigmoid_weight_figure",
    "sigmoid_bias_figure",
    "save_training_plots",
    "image_shape_for",
    "series",
    "series_figure",
]

NEEDS_MATPLOTLIB = 'plots need matplotlib: pip install "glassnet[plot]"'

#: history keys per data set: (cost key, accuracy key); the test set uses the book's names.
_SERIES = (
    ("training", "training_cost", "training_accuracy"),
    ("validation", "validation_cost", "validation_accuracy"),
    ("test", "test_cost", "accuracy"),
)
_COLORS = {"training": "tab:blue", "validation": "tab:orange", "test": "tab:green"}


# -- matplotlib plumbing --------------------------------------------------------------------------
def _figure(**kwargs):
    """A new matplotlib Figure, not registered with pyplot (so nothing leaks or pops up)."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(NEEDS_MATPLOTLIB) from None
    if "matplotlib.pyplot" not in sys.modules:  # leave a user's chosen pyplot backend alone
        matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _save(fig, path):
    path = Path(path)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    return path


def image_shape_for(n_inputs, image_shape=None):
    """The (height, width) to draw ``n_inputs`` values as: 28x28 for 784, 8x8 for 64, any square.

    An explicit ``image_shape`` must hold exactly ``n_inputs`` pixels.
    """
    if image_shape is not None:
        h, w = (int(s) for s in image_shape)
        if h * w != n_inputs:
            raise ValueError(f"image_shape {h}x{w} holds {h * w} pixels, but there are {n_inputs} inputs")
        return h, w
    side = square_side(n_inputs)
    if side is None:
        raise ValueError(f"{n_inputs} inputs are not a square image; give image_shape=(height, width)")
    return side, side


def _grid(n):
    cols = max(1, math.ceil(math.sqrt(n)))
    return max(1, math.ceil(n / cols)), cols


# -- learning curves ------------------------------------------------------------------------------
def learning_curves_figure(history):
    """Average cost and accuracy per epoch, for whichever data sets the history holds.

    ``history`` is the list of ``Network.epoch_record`` dicts that ``SGD`` returns
    (or a saved model's header ``history``).  Left: the average cost C over each
    data set; right: the classification accuracy in percent.
    """
    history = list(history or [])
    if not history:
        raise ValueError("the training history is empty: nothing to plot")
    if not all(isinstance(h, dict) for h in history):
        raise ValueError("the training history must be a list of per-epoch dicts (Network.epoch_record)")
    epochs = np.array([h.get("epoch", i) for i, h in enumerate(history)], dtype=float)

    def column(key):
        return np.array([np.nan if h.get(key) is None else float(h[key]) for h in history])

    fig = _figure(figsize=(11, 4.5), layout="constrained")
    ax_cost, ax_acc = fig.subplots(1, 2)
    marker = "o" if len(history) <= 40 else None
    plotted = 0
    for name, cost_key, acc_key in _SERIES:
        cost, acc = column(cost_key), column(acc_key)
        n_test = next((h.get("total") for h in history if h.get("total")), None)
        label = f"{name} ({n_test} images)" if name == "test" and n_test else name
        if not np.all(np.isnan(cost)):
            ax_cost.plot(epochs, cost, marker=marker, markersize=3, color=_COLORS[name], label=label)
            plotted += 1
        if not np.all(np.isnan(acc)):
            ax_acc.plot(epochs, 100 * acc, marker=marker, markersize=3, color=_COLORS[name], label=label)
            plotted += 1
    if not plotted:
        raise ValueError("the training history holds no cost or accuracy to plot")
    ax_cost.set(title="Average cost C per epoch", xlabel="epoch", ylabel="average cost C")
    ax_acc.set(title="Classification accuracy per epoch", xlabel="epoch", ylabel="accuracy (%)")
    for ax in (ax_cost, ax_acc):
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
        if np.ptp(epochs) < 4:  # a few epochs: whole-number ticks, some margin
            ax.set_xticks(np.unique(epochs))
            ax.set_xlim(epochs.min() - 0.5, epochs.max() + 0.5)
    best = max((h for h in history if h.get("accuracy") is not None), key=lambda h: h["accuracy"], default=None)
    title = f"Learning curves ({len(history)} epoch{'s' * (len(history) != 1)}"
    if best is not None:
        title += f"; best test accuracy {100 * best['accuracy']:.2f}% at epoch {best.get('epoch', '?')}"
    fig.suptitle(title + ")")
    return fig


def learning_curves(history, path):
    """Write ``learning_curves_figure(history)`` to the PNG ``path``; returns the Path."""
    return _save(learning_curves_figure(history), path)


# -- weights --------------------------------------------------------------------------------------
def _first_member(network):
    """``(network, note)``: a model of several members' member 0 and a note saying so; a
    single network as it is."""
    first = network.members[0]
    return (network, "") if first is network else (first, f" (member 0 of an ensemble of {len(network.members)})")


def _tiles(fig, tiles, names, *, cmap, label):
    """Draw ``tiles`` (n, h, w) in a grid of ``fig`` on one colour scale centred on 0, tile j
    titled ``names[j]``, with one colour bar labelled ``label``."""
    n = len(tiles)
    rows, cols = _grid(n)
    limit = float(np.max(np.abs(tiles))) or 1.0
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    image = None
    for j, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if j >= n:
            ax.set_visible(False)
            continue
        image = ax.imshow(tiles[j], cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(names[j], fontsize=7 if n > 36 else 8, pad=2)
    fig.colorbar(image, ax=axes.tolist(), shrink=0.8, label=label)


def _tile_figure(n, scale=1.0):
    """A figure sized for n tiles in a near-square grid."""
    rows, cols = _grid(n)
    tile = (1.0 if n > 36 else 1.4) * scale
    return _figure(figsize=(cols * tile + 1.6, rows * tile + 1.2), layout="constrained")


def _check_max(max_neurons):
    if int(max_neurons) < 1:
        raise ValueError(f"max_neurons must be >= 1, got {max_neurons}")
    return int(max_neurons)


def weights_grid_figure(network, *, image_shape=None, max_neurons=100, channel=None):
    """The first layer's weights as small images, one per neuron or filter.

    A ``Network``'s (or a layer network's first fully connected layer's) neuron j: row j of
    its weights (n_out, n_in) drawn in the input's shape (``image_shape`` None: 28x28 for 784
    inputs, 8x8 for 64, any square count), red exciting, blue inhibiting. A layer network
    whose first layer is convolutional: its filters, ``filters_figure`` (``channel`` picks an
    input channel there). An ``Ensemble``: member 0's, said in the title. At most
    ``max_neurons`` tiles, the first ones; one colour scale centred on 0 for all of them.
    """
    net, note = _first_member(network)
    max_neurons = _check_max(max_neurons)
    W = np.asarray(net.first_layer_weights(), dtype=float)  # (n_hidden, n_in) or filters
    if W.ndim == 4:
        return filters_figure(W, max_filters=max_neurons, channel=channel, note=note)
    shape = image_shape_for(W.shape[1], image_shape)
    shown = W[:max_neurons]
    n = len(shown)
    fig = _tile_figure(n)
    _tiles(fig, shown.reshape(n, *shape), [f"neuron {j}" for j in range(n)], cmap="RdBu_r", label="weight")
    layer = "hidden" if len(net.layer_names()) > 1 else "output"
    of = f"the first {n} of {len(W)}" if n < len(W) else f"all {n}"
    fig.suptitle(f"Incoming weights of {of} {layer} neurons{note}")
    fig.supxlabel(
        f"pixel column (each tile: one neuron's {W.shape[1]} weights as a {shape[0]}x{shape[1]} image)", fontsize=9
    )
    fig.supylabel("pixel row", fontsize=9)
    return fig


def filters_figure(filters, *, max_filters=100, channel=None, note=""):
    """A convolutional layer's filters as small images, as chapter 6 shows its 20 5x5 filters.

    filters : (f, c, kh, kw), a ``ConvPoolLayer``'s ``w``.  Each tile is one filter's
    kh x kw weights on one grey scale centred on 0 and shared by all tiles: darker is a
    larger weight (black the largest positive, white the most negative, mid-grey 0), so
    dark regions show what the filter responds to.  With several input channels,
    ``channel`` None draws the mean over the channels and an integer that one channel;
    the title says which.  At most ``max_filters`` filters, the first ones; ``note`` is
    added to the title (e.g. which ensemble member they belong to).
    """
    W = np.asarray(filters, dtype=float)
    if W.ndim != 4:
        raise InputError(f"filters must have shape (f, c, kh, kw), got {W.shape}")
    f, c, kh, kw = W.shape
    if channel is None:
        tiles, which = W.mean(axis=1), ("" if c == 1 else f", the mean over its {c} input channels")
    elif 0 <= int(channel) < c:
        tiles, which = W[:, int(channel)], f", input channel {int(channel)} of {c}"
    else:
        raise InputError(f"channel must be in 0..{c - 1} for filters over {c} channel(s), got {channel}")
    shown = tiles[: _check_max(max_filters)]
    n = len(shown)
    fig = _tile_figure(n, 0.9)
    _tiles(fig, shown, [f"filter {j}" for j in range(n)], cmap="gray_r", label="weight (darker: larger)")
    of = f"the first {n} of {f}" if n < f else f"the {n}"
    fig.suptitle(f"{of.capitalize()} {kh}x{kw} filters of the first convolutional layer{which}{note}", fontsize=10)
    return fig


def weights_grid(network, path, *, image_shape=None, max_neurons=100, channel=None):
    """Write ``weights_grid_figure(network, ...)`` to the PNG ``path``; returns the Path."""
    return _save(weights_grid_figure(network, image_shape=image_shape, max_neurons=max_neurons, channel=channel), path)


# -- errors ---------------------------------------------------------------------------------------
def _predictions(network, X, y, chunk=10000):
    """``(X (m, n_in), labels (m,), predictions (m,))``: any model's predictions
    (``engines.predict``: a compiled forward pass where one applies, else its own rule)."""
    X, y = check_pair(X, y, network.n_in, network.n_out, network.dtype)
    if not len(X):
        raise ValueError("no images to plot")
    pred = predict(network, X, chunk)
    return X, y, pred


def confusion_counts(network, X, y):
    """counts[t, p] = how many rows of X with true label t the network predicts as p.

    Shape (n_out, n_out); the diagonal holds the correct answers.
    """
    _, y, pred = _predictions(network, X, y)
    k = network.n_out
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)


def confusion_matrix_figure(network, X, y):
    """The confusion matrix of the network on (X, y), with the count in every cell."""
    counts = confusion_counts(network, X, y)
    k, total = len(counts), int(counts.sum())
    fig = _figure(figsize=(7.5, 6.5), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues", norm=_log_norm(counts))
    threshold = np.sqrt(max(counts.max(), 1))  # the colormap's middle, on a log scale
    for t in range(k):
        for p in range(k):
            c = int(counts[t, p])
            ax.text(
                p,
                t,
                str(c),
                ha="center",
                va="center",
                fontsize=8 if total < 100000 else 7,
                color="white" if c > threshold else ("black" if c else "0.6"),
            )
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set(xlabel="predicted digit", ylabel="true digit")
    bar = fig.colorbar(image, ax=ax, shrink=0.85, label="images (log scale)")
    top = image.norm.vmax
    bar.set_ticks([t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000) if t <= top])
    bar.set_ticklabels([f"{t:g}" for t in bar.get_ticks()])
    bar.minorticks_off()
    correct = int(np.trace(counts))
    ax.set_title(f"Confusion matrix: {correct} / {total} correct ({100 * correct / total:.2f}%)")
    return fig


def _log_norm(counts):
    from matplotlib.colors import LogNorm

    return LogNorm(vmin=1, vmax=max(int(counts.max()), 2), clip=True)


def confusion_matrix(network, X, y, path):
    """Write ``confusion_matrix_figure(network, X, y)`` to the PNG ``path``; returns the Path."""
    return _save(confusion_matrix_figure(network, X, y), path)


def misclassified_figure(network, X, y, *, n=36, image_shape=None, images=None):
    """The first ``n`` images of X the network gets wrong, each titled "true 3, predicted 5".

    ``images`` (m, n_pixels), optional: what to draw for each row of X instead of X
    itself -- e.g. the raw pixels of standardized inputs (the digits), which are
    easier to read.  Returns ``(figure, count)`` with ``count`` the number of
    misclassified rows of X.
    """
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    X, y, pred = _predictions(network, X, y)
    if images is None:
        images = X
    else:
        images = np.asarray(images, dtype=float).reshape(len(images), -1)
        if len(images) != len(X):
            raise ValueError(f"{len(images)} images for {len(X)} inputs")
    shape = image_shape_for(images.shape[1], image_shape)
    wrong = np.flatnonzero(pred != y)
    count, shown = len(wrong), wrong[: int(n)]
    rows, cols = _grid(max(len(shown), 1))
    fig = _figure(figsize=(cols * 1.55 + 0.4, rows * 1.65 + 0.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax, i in zip(axes, shown):
        ax.imshow(images[i].reshape(shape), cmap="gray_r", interpolation="nearest")
        ax.set_title(f"true {y[i]}, predicted {pred[i]}", fontsize=8, pad=2)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    if not count:
        axes[0].set_visible(True)
        axes[0].axis("off")
        axes[0].text(0.5, 0.5, "none", ha="center", va="center", fontsize=14)
    more = f"; the first {len(shown)} shown" if count > len(shown) else ""
    fig.suptitle(f"Misclassified: {count} of {len(X)} images ({100 * count / len(X):.2f}%){more}")
    return fig, count


def misclassified(network, X, y, path, *, n=36, image_shape=None, images=None):
    """Write ``misclassified_figure`` to the PNG ``path``; returns ``(Path, count)``."""
    fig, count = misclassified_figure(network, X, y, n=n, image_shape=image_shape, images=images)
    return _save(fig, path), count


# -- the tutorial's sigmoid neuron ----------------------------------------------------------------
_X = np.linspace(-15, 15, 601)


def _sigmoid_figure(params, title, fixed):
    fig = _figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for w, b in params:
        varied = f"w = {w:g}" if fixed == "b" else f"b = {b:g}"
        ax.plot(_X, sigmoid(w * _X + b), label=varied)
    ax.axhline(0.5, color="0.7", linewidth=0.8, linestyle=":")
    ax.set(title=title, xlabel="input x", ylabel="output σ(wx + b)", ylim=(-0.03, 1.03))
    ax.grid(True, alpha=0.3)
    ax.legend(title="b = 0" if fixed == "b" else "w = 1")
    return fig


def sigmoid_weight_figure(weights=(0.5, 1, 2)):
    """One sigmoid neuron's output σ(wx + b) against its input x, for several weights, b = 0."""
    return _sigmoid_figure([(w, 0) for w in weights], "One sigmoid neuron: a larger weight w makes a steeper step", "b")


def sigmoid_bias_figure(biases=(-8, 0, 8)):
    """One sigmoid neuron's output σ(wx + b) against its input x, for several biases, w = 1."""
    return _sigmoid_figure([(1, b) for b in biases], "One sigmoid neuron: the bias b moves the step to x = −b/w", "w")


def sigmoid_figures(path_weight, path_bias):
    """Write the tutorial's two sigmoid figures (varying w, varying b); returns both Paths."""
    return _save(sigmoid_weight_figure(), path_weight), _save(sigmoid_bias_figure(), path_bias)


# -- everything after training --------------------------------------------------------------------
def save_training_plots(network, history, outdir, test=None, *, images=None):
    """Write the pictures of a training run into ``outdir`` (created if missing).

    learning_curves.png (skipped when ``history`` is empty) and weights.png always;
    with ``test`` -- a pair ``(X, y)`` or a data set with ``.X`` and ``.y`` --
    also confusion_matrix.png and misclassified.png (drawing ``images`` instead of
    the test inputs when given, see ``misclassified_figure``).  Returns the list of Paths.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    if history:
        paths.append(learning_curves(history, outdir / "learning_curves.png"))
    paths.append(weights_grid(network, outdir / "weights.png"))
    if test is not None:
        X, y = (test.X, test.y) if hasattr(test, "X") else test
        paths.append(confusion_matrix(network, X, y, outdir / "confusion_matrix.png"))
        paths.append(misclassified(network, X, y, outdir / "misclassified.png", images=images)[0])
    return paths


# -- a figure of the book's: lines over epochs ---------------------------------------------------
def series_figure(data, *, log_y=False):
    """One line per label over the epochs: ``data`` has ``title``, ``xlabel``, ``ylabel``,
    ``x`` (list) and ``lines`` (label -> list of y, each as long as x), like
    ``glassnet.book.chapters.Series`` (chapter 3's learning-rate and initialisation comparisons,
    chapter 5's speed of learning, drawn on a log scale)."""
    fig = _figure(figsize=(7.5, 4.5))
    ax = fig.add_subplot()
    for label, ys in data.lines.items():
        if len(ys) != len(data.x):
            raise ValueError(f"line {label!r} has {len(ys)} points for {len(data.x)} x values")
        ax.plot(data.x, ys, label=label, linewidth=1.5)
    if log_y:
        ax.set_yscale("log")
    ax.set_title(data.title)
    ax.set_xlabel(data.xlabel)
    ax.set_ylabel(data.ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def series(data, path, *, log_y=False):
    """``series_figure`` written to ``path`` (PNG)."""
    return _save(series_figure(data, log_y=log_y), path)
