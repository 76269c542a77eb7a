"""Test-time augmentation (``glassnet.training.tta``; ``evaluate --tta``, ``predict --tta``): the views
are exact shifts and the Augmenter's own rotation, the answers are the mean over the views, an
ensemble combines its members' averaged answers by its rule, and the commands print them."""

import hashlib
import json

import numpy as np
import pytest
from test_predict_cli import one_line_error, run

import glassnet
from glassnet.core.ensemble import Ensemble
from glassnet.errors import InputError
from glassnet.io import save
from glassnet.training.augment import Augmenter
from glassnet.training.layerspec import layer_network
from glassnet.training.tta import VIEWS, rotate, shift, tta_answers, tta_predict, tta_probabilities, tta_side, views


def images(m, side, seed=0):
    """m random sparse images in [0, 1], float32 rows (m, side*side)."""
    rng = np.random.default_rng(seed)
    return (rng.random((m, side * side)) * (rng.random((m, side * side)) > 0.7)).astype(np.float32)


# -- the views ---------------------------------------------------------------------------------


def test_a_shift_moves_a_pixel_one_place_with_zero_fill():
    X = np.zeros((1, 64), np.float32)
    X[0, 0 * 8 + 3] = 1.0  # row 0, column 3: on the top edge
    X[0, 4 * 8 + 7] = 0.5  # row 4, column 7: on the right edge
    down = shift(X, 1, 0, 8).reshape(8, 8)
    assert down[1, 3] == 1.0 and down[5, 7] == 0.5 and not down[0].any() and np.count_nonzero(down) == 2
    up = shift(X, -1, 0, 8).reshape(8, 8)
    assert up[3, 7] == 0.5 and np.count_nonzero(up) == 1 and not up[7].any()  # row 0 fell off the top
    right = shift(X, 0, 1, 8).reshape(8, 8)
    assert right[0, 4] == 1.0 and np.count_nonzero(right) == 1 and not right[:, 0].any()
    left = shift(X, 0, -1, 8).reshape(8, 8)
    assert left[0, 2] == 1.0 and left[4, 6] == 0.5 and np.count_nonzero(left) == 2 and not left[:, 7].any()


def test_the_seven_views_in_order():
    X = images(5, 28)
    V = views(X, 28)
    assert V.shape == (7, 5, 784) and V.dtype == np.float32 and len(VIEWS) == 7
    assert [v.name for v in VIEWS] == ["identity", "up", "down", "left", "right", "rotate -4", "rotate +4"]
    assert np.array_equal(V[0], X)
    for v, (dy, dx) in zip(V[1:5], [(-1, 0), (1, 0), (0, -1), (0, 1)]):
        assert np.array_equal(v, shift(X, dy, dx, 28))
    assert np.array_equal(V[5], rotate(X, -4, 28)) and np.array_equal(V[6], rotate(X, 4, 28))
    assert views(X[:0], 28).shape == (7, 0, 784) and views(X.astype(np.float64), 28).dtype == np.float64
    with pytest.raises(InputError, match="28x28 = 784 pixels"):
        views(X[:, :100], 28)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rotating_by_zero_degrees_returns_the_image(dtype):
    X = images(20, 28).astype(dtype)
    assert np.array_equal(rotate(X, 0, 28), X) and rotate(X, 0, 28).dtype == dtype


def centre_of_mass(X):
    image = X.reshape(28, 28).astype(np.float64)
    rows, cols = np.indices(image.shape)
    return np.array([np.sum(rows * image), np.sum(cols * image)]) / image.sum()


def test_rotating_by_four_and_back_restores_a_smooth_image():
    g = np.arange(28) - 13.5
    blob = np.exp(-((g[:, None] - 5) ** 2 + (g[None, :] + 3) ** 2) / (2 * 3.0**2))  # off centre
    X = blob.reshape(1, 784).astype(np.float32)
    turned = rotate(X, 4, 28)
    back = rotate(turned, -4, 28)
    # 4 degrees move the blob's centre 5.8 px from the image's centre by about 0.4 px; turning
    # back brings it home and the pixels near, to the blur of two bilinear resamplings
    assert np.linalg.norm(centre_of_mass(turned) - centre_of_mass(X)) > 0.3
    assert np.linalg.norm(centre_of_mass(back) - centre_of_mass(X)) < 0.02
    assert np.abs(back - X).max() < 0.05 and np.abs(back - X).max() < np.abs(turned - X).max() / 2
    assert abs(back.sum() - X.sum()) < 0.01 * X.sum()
    # positive degrees turn counter-clockwise as drawn: a pixel right of centre goes up
    dot = np.zeros((1, 784), np.float32)
    dot[0, 13 * 28 + 26] = 1.0
    ys, xs = np.nonzero(rotate(dot, 20, 28).reshape(28, 28) > 0.2)
    assert ys.max() < 13 and xs.min() > 20


class Highest:
    """A Generator's ``uniform`` that always draws the upper bound: an Augmenter at a fixed angle."""

    def uniform(self, low, high, size):
        return np.full(size, float(high))


@pytest.mark.parametrize("degrees", [4.0, -4.0, 15.0])
def test_rotate_is_the_augmenters_map_through_the_one_sampler(degrees):
    X = images(40, 28)
    fixed = Augmenter(rotate=degrees, zoom=0, shift=0, elastic_alpha=0, chunk=16)
    assert np.array_equal(rotate(X, degrees, 28), fixed(X, Highest()))


def test_the_augmenters_output_is_pinned():
    """Bit for bit as before the sampler became ``augment.resample``: the hashes were taken from
    the Augmenter of commit d0b1753, before the change, on these settings.  Rotation 0 and no elastic
    field keep the hash the same on every machine (sin and cos, and the fields' BLAS products,
    may round differently by CPU; shifts, zooms and the bilinear sums do not)."""
    X = images(40, 28)
    a = Augmenter(rotate=0, elastic_alpha=0, chunk=16)(X, np.random.default_rng(5))
    b = Augmenter(rotate=0, elastic_alpha=0, fraction=0.5)(X, np.random.default_rng(6))
    assert hashlib.sha256(a.tobytes()).hexdigest() == "498d404419e1f902bb983675369871fadd19a5e9de3ade6057d0944175db2094"
    assert hashlib.sha256(b.tobytes()).hexdigest() == "937f81eba45c5b5beb4d11bd381f07329b0c479354a6b963ff58b0d2a4b44236"


# -- the answers -------------------------------------------------------------------------------


def randomised(net):
    """A layer network whose softmax layer has random weights (network3 starts it at zero)."""
    last = net.layers[-1]
    last.w[...] = np.random.default_rng(7).normal(0, 1, last.w.shape)
    return net


def by_hand(net, X, side):
    """The mean of the network's own probabilities over the 7 views, view by view."""
    return np.mean([net.probabilities(v) for v in views(X, side)], axis=0)


@pytest.mark.parametrize(
    "make, side",
    [
        (lambda: glassnet.Network([784, 30, 10], seed=0), 28),  # sigmoid outputs: divided by their sum
        (lambda: glassnet.Network([64, 20, 10], seed=1, cost="log-likelihood"), 8),
        (lambda: randomised(layer_network("conv4x3,pool2,fc20", (1, 8, 8), 10, seed=2)), 8),
    ],
    ids=["784-30-10", "64-20-10-softmax", "conv-8x8"],
)
def test_tta_probabilities_are_the_mean_over_the_views(make, side):
    net = make()
    X = images(300, side, seed=3)
    P = tta_probabilities(net, X)
    assert P.shape == (300, 10) and P.dtype == np.float64
    np.testing.assert_allclose(P.sum(axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(P, by_hand(net, X, side), atol=1e-6)
    assert not np.allclose(P, net.probabilities(X), atol=1e-4)  # the views change the answer
    assert np.array_equal(tta_predict(net, X), np.argmax(P, axis=1))
    if side == 8:  # images (m, 1, 8, 8) as well as rows; in chunks as at once
        np.testing.assert_allclose(tta_probabilities(net, X.reshape(-1, 1, 8, 8)), P, atol=1e-6)
        np.testing.assert_allclose(tta_answers(net, X, chunk=7)["probabilities"], P, atol=1e-6)


def test_an_ensemble_votes_with_its_members_tta_classes():
    members = [glassnet.Network([64, 12, 10], seed=s, cost="log-likelihood") for s in range(3)]
    X = images(400, 8, seed=4)
    own = np.stack([tta_probabilities(m, X) for m in members])  # (3, m, 10)
    classes = own.argmax(axis=2)
    mean = own.mean(axis=0)
    expected = []
    for i in range(len(X)):  # the majority; a tie to the tied class most probable on average
        counts = np.bincount(classes[:, i], minlength=10)
        tied = np.flatnonzero(counts == counts.max())
        expected.append(tied[np.argmax(mean[i, tied])])
    voting = Ensemble(members, combine="vote")
    answers = tta_answers(voting, X)
    assert np.array_equal(answers["members"], classes)
    assert np.array_equal(tta_predict(voting, X), expected)
    assert np.array_equal(answers["vote"], expected)
    assert (classes[0] != classes[1]).any() and (np.asarray(expected) != mean.argmax(axis=1)).any()
    averaging = Ensemble(members, combine="mean")
    np.testing.assert_allclose(tta_probabilities(averaging, X), mean, atol=1e-12)
    assert np.array_equal(tta_predict(averaging, X), mean.argmax(axis=1))


def test_only_square_one_channel_images_have_views():
    assert tta_side(glassnet.Network([784, 10])) == 28 and tta_side(glassnet.Network([64, 10])) == 8
    assert tta_side(layer_network("fc10", (64,), 10)) == 8
    for net, shown in [
        (glassnet.Network([30, 10]), "takes 30"),
        (layer_network("conv4x3,fc10", (4, 4, 4), 10), "takes 4x4x4"),
        (layer_network("conv4x3,fc10", (1, 4, 16), 10), "takes 1x4x16"),
    ]:
        with pytest.raises(InputError, match=f"square images of one channel.*{shown}$"):
            tta_probabilities(net, np.zeros((2, net.n_in), np.float32))


# -- the commands ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_models(tmp_path_factory):
    """A 64-30-10 network trained on the digits' split of seed 3, three more as a voting
    ensemble, both saved as glassnet train saves them; and the test part."""
    pytest.importorskip("sklearn")
    from glassnet.datasets import load_dataset

    training, _, test, _ = load_dataset("digits", seed=3)
    nets = []
    for seed in range(4):
        net = glassnet.Network([64, 30, 10], seed=seed)
        net.SGD((training.X, training.y), 10, 10, 1.0, log=None)
        nets.append(net)
    folder = tmp_path_factory.mktemp("tta")
    meta = dict(dataset="digits", training=dict(seed=3))
    save(nets[0], folder / "net.npz", metadata=meta)
    ensemble = Ensemble(nets[1:], combine="vote")
    save(ensemble, folder / "vote.npz", metadata=meta)
    return nets[0], ensemble, folder, test


def test_evaluate_tta_counts_the_averaged_answers(digits_models):
    net, _, folder, test = digits_models
    code, out, err = run(["evaluate", folder / "net.npz", "--tta"])
    assert code == 0 and "test-time augmentation on (mean over 7 views)" in err.splitlines()[0]
    correct = int(np.sum(tta_predict(net, test.X) == test.y))
    assert out.splitlines()[0] == f"digits test part: {correct} / 719 correct ({100 * correct / 719:.2f}%)"
    plain = run(["evaluate", folder / "net.npz"])
    assert plain[0] == 0 and "test-time" not in plain[2]


def test_evaluate_tta_on_an_ensemble_counts_each_member_and_both_rules(digits_models):
    _, ensemble, folder, test = digits_models
    code, out, err = run(["evaluate", folder / "vote.npz", "--tta"])
    assert code == 0 and "test-time augmentation on" in err

    def score(predicted):
        right = int(np.sum(predicted == test.y))
        return f"{right} / 719 ({100 * right / 719:.2f}%)"

    answers = tta_answers(ensemble, test.X)
    lines = out.splitlines()
    right = int(np.sum(answers["vote"] == test.y))
    assert lines[0] == f"digits test part: {right} / 719 correct ({100 * right / 719:.2f}%)"
    tail = lines[lines.index("ensemble of 3 (answers by vote):") :]
    assert tail[1].split()[-4:] == score(answers["mean"]).split()
    assert tail[2].split()[-4:] == score(answers["vote"]).split()
    for j, member in enumerate(ensemble.members):
        assert tail[3 + j] == f"  member {j}: {score(tta_predict(member, test.X))}"


def test_evaluate_tta_refuses_a_model_without_square_images(tmp_path):
    pytest.importorskip("sklearn")
    net = layer_network("conv4x3,fc10", (4, 4, 4), 10, seed=0)  # 64 inputs, as the digits have
    save(net, tmp_path / "channels.npz", metadata=dict(dataset="digits", training=dict(seed=0)))
    one_line_error(*run(["evaluate", tmp_path / "channels.npz", "--tta"]), "square images", "4x4x4")
    assert run(["evaluate", tmp_path / "channels.npz"])[0] == 0  # without --tta it reads as before


@pytest.fixture(scope="module")
def drawings(tmp_path_factory):
    """Three drawn digits (a 0, a 1, a 7) as black-on-white PNG files."""
    Image = pytest.importorskip("PIL.Image")
    ImageDraw = pytest.importorskip("PIL.ImageDraw")
    folder = tmp_path_factory.mktemp("drawn")
    strokes = {
        "zero": lambda d: d.ellipse((20, 10, 60, 70), outline=0, width=7),
        "one": lambda d: d.line((40, 10, 42, 70), fill=0, width=8),
        "seven": lambda d: d.line((18, 12, 62, 12, 34, 72), fill=0, width=7),
    }
    paths = []
    for name, draw in strokes.items():
        image = Image.new("L", (80, 80), 255)
        draw(ImageDraw.Draw(image))
        paths.append(folder / f"{name}.png")
        image.save(paths[-1])
    return paths


def test_predict_tta_shows_the_averaged_probabilities(drawings, tmp_path):
    from glassnet.datasets.preprocess import prepare

    net = glassnet.Network([784, 20, 10], seed=5, cost="log-likelihood")
    save(net, tmp_path / "mnist.npz", metadata=dict(dataset="mnist", training=dict(seed=5)))
    code, out, err = run(["predict", tmp_path / "mnist.npz", *drawings, "--tta", "--json", "--top", "10"])
    assert code == 0 and err == ""
    X = np.stack([prepare(p) for p in drawings])
    P, plain = tta_probabilities(net, X), net.probabilities(X)
    for r, p, q in zip(json.loads(out), P, plain):
        shown = np.array([t["probability"] for t in sorted(r["top"], key=lambda t: t["digit"])])
        np.testing.assert_allclose(shown, p, atol=1e-12)
        assert r["prediction"] == int(np.argmax(p)) and not np.allclose(shown, q, atol=1e-4)
    code, out, _ = run(["predict", tmp_path / "mnist.npz", drawings[0], "--tta", "--top", "1"])
    assert code == 0 and out == f"{drawings[0]}: {int(np.argmax(P[0]))} ({P[0].max():.2f})\n"


def test_predict_tta_refuses_a_model_without_square_images(drawings, tmp_path):
    net = layer_network("conv4x3,fc10", (4, 14, 14), 10, seed=0)  # 784 inputs in 4 channels
    save(net, tmp_path / "channels.npz", metadata=dict(dataset="mnist", training=dict(seed=0)))
    one_line_error(*run(["predict", tmp_path / "channels.npz", drawings[0], "--tta"]), "square images", "4x14x14")


def test_an_augmenter_refuses_a_chunk_the_sampler_cannot_take():
    """Checked when it is made, not an epoch later inside resample."""
    from glassnet.training.augment import resample_rows

    most = resample_rows(28)
    assert Augmenter(chunk=most).chunk == most
    for chunk in (0, most + 1):
        with pytest.raises(ValueError, match=f"chunk must lie in 1..{most}"):
            Augmenter(chunk=chunk)
