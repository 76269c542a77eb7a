"""``glassnet predict`` and ``glassnet evaluate`` on saved models and real MNIST test digits."""

import io
import json
import re

import numpy as np
import pytest

import glassnet
from glassnet.cli import main
from glassnet.io import save

N_IMAGES = 8


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def one_line_error(code, out, err, *words):
    assert code == 2 and out == "", (code, out, err)
    assert err.count("\n") == 1 and err.startswith("glassnet: error: ") and "Traceback" not in err, err
    for w in words:
        assert str(w) in err, err


@pytest.fixture(scope="module")
def trained(mnist, tmp_path_factory):
    """A 784-30-10 network after one epoch (about 90%), saved as glassnet train saves it."""
    training = mnist.training
    net = glassnet.Network([784, 30, 10], seed=0)
    net.SGD((training.X, training.y), 1, 10, 3.0, log=None)
    path = tmp_path_factory.mktemp("models") / "mnist.npz"
    save(net, path, metadata=dict(dataset="mnist", training=dict(seed=0)))
    return net, path


@pytest.fixture(scope="module")
def digits(mnist, tmp_path_factory):
    """The first test digits written as black-on-white PNG files, and their arrays."""
    Image = pytest.importorskip("PIL.Image")
    test = mnist.test
    folder = tmp_path_factory.mktemp("pngs")
    paths = []
    for i, x in enumerate(test.X[:N_IMAGES]):
        paths.append(folder / f"digit{i}-{test.y[i]}.png")
        Image.fromarray(255 - np.round(x * 255).astype(np.uint8).reshape(28, 28)).save(paths[-1])
    return paths, test.X[:N_IMAGES]


def normalised(net, paths):
    """Sigmoid outputs divided by their sum, for the prepared image files."""
    from glassnet.datasets.preprocess import prepare

    A = net.feedforward(np.stack([prepare(p) for p in paths])).astype(np.float64)
    return A / A.sum(axis=1, keepdims=True)


# -- predict -------------------------------------------------------------------------------------


def test_predict_prints_the_top_three_digits_per_image(trained, digits):
    net, model = trained
    paths, X = digits
    code, out, err = run(["predict", model, *paths])
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == N_IMAGES
    P = normalised(net, paths)
    assert P.argmax(axis=1).tolist() == net.predict(X).tolist()  # the arrays' own predictions
    for line, path, p in zip(lines, paths, P):
        m = re.fullmatch(
            rf"{re.escape(str(path))}: (\d) \((\d\.\d\d)\), (\d) \((\d\.\d\d)\), (\d) \((\d\.\d\d)\)", line
        )
        assert m, line
        shown = [int(m.group(i)) for i in (1, 3, 5)]
        assert shown == np.argsort(-p, kind="stable")[:3].tolist()
        assert [float(m.group(i)) for i in (2, 4, 6)] == [round(p[d], 2) for d in shown]


def test_predict_json_is_one_document(trained, digits):
    net, model = trained
    paths, X = digits
    code, out, err = run(["predict", model, *paths[:3], "--json", "--top", "10"])
    assert code == 0
    doc = json.loads(out)
    P = normalised(net, paths[:3])
    assert [r["image"] for r in doc] == [str(p) for p in paths[:3]]
    for r, p in zip(doc, P):
        assert set(r) == {"image", "top", "prediction"}
        probs = [t["probability"] for t in r["top"]]
        assert sorted(t["digit"] for t in r["top"]) == list(range(10))
        assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-9
        assert r["prediction"] == r["top"][0]["digit"] == int(np.argmax(p))
        assert np.allclose([p[t["digit"]] for t in r["top"]], probs, atol=1e-6)


def test_softmax_outputs_are_shown_as_they_are(digits, tmp_path):
    paths, _ = digits
    net = glassnet.Network([784, 20, 10], seed=1, cost="log-likelihood")
    save(net, tmp_path / "softmax.npz", metadata=dict(dataset="mnist", training=dict(seed=1)))
    code, out, _ = run(["predict", tmp_path / "softmax.npz", paths[0], "--json", "--top", "2"])
    assert code == 0
    top = json.loads(out)[0]["top"]
    from glassnet.datasets.preprocess import prepare

    a = net.feedforward(prepare(paths[0])).astype(np.float64)
    assert len(top) == 2 and np.allclose([t["probability"] for t in top], np.sort(a)[::-1][:2], atol=1e-6)


def test_preview_shows_the_input_the_network_receives(trained, digits):
    _, model = trained
    paths, _ = digits
    code, out, _ = run(["predict", model, paths[0], paths[1], "--preview", "--top", "1"])
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 * 31
    assert lines[0].startswith(f"{paths[0]}: ") and lines[31].startswith(f"{paths[1]}: ")
    assert lines[1] == "+" + "-" * 56 + "+" and all(l.startswith("|") for l in lines[2:30])
    assert "@" in "".join(lines[2:30])
    code, out, _ = run(["predict", model, paths[0], "--preview", "--json"])
    preview = json.loads(out)[0]["preview"]
    assert preview == lines[1:31]


def test_top_is_clamped_to_the_outputs_and_must_be_positive(trained, digits, capsys):
    _, model = trained
    paths, _ = digits
    code, out, _ = run(["predict", model, paths[0], "--top", "25", "--json"])
    assert code == 0 and len(json.loads(out)[0]["top"]) == 10
    code, out, err = run(["predict", model, paths[0], "--top", "0"])
    assert code == 2 and out == "" and "--top: must be >= 1" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "kind, content, words",
    [
        ("text", b"just words\n", ["not an image"]),
        ("empty", b"", ["0 bytes"]),
        ("missing", None, ["no such file"]),
        ("blank", "white", ["no digit found"]),
    ],
)
def test_one_bad_image_stops_everything_before_any_output(kind, content, words, trained, digits, tmp_path):
    _, model = trained
    paths, _ = digits
    bad = tmp_path / f"bad-{kind}.png"
    if content == "white":
        from PIL import Image

        Image.new("L", (30, 30), 255).save(bad)
    elif content is not None:
        bad.write_bytes(content)
    code, out, err = run(["predict", model, paths[0], bad, paths[1], "--json"])
    one_line_error(code, out, err, bad, *words)


def test_predict_needs_a_readable_mnist_model(digits, tmp_path):
    paths, _ = digits
    one_line_error(*run(["predict", tmp_path / "none.npz", paths[0]]), "none.npz", "no such model file")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    one_line_error(*run(["predict", tmp_path / "junk.npz", paths[0]]), "junk.npz")
    save(glassnet.Network([64, 30, 10], seed=0), tmp_path / "digits.npz", metadata=dict(dataset="digits"))
    one_line_error(*run(["predict", tmp_path / "digits.npz", paths[0]]), "64-30-10", "784 inputs")


# -- evaluate ------------------------------------------------------------------------------------


def test_evaluate_reports_accuracy_and_a_table_per_digit(trained, mnist):
    net, model = trained
    test = mnist.test
    code, out, err = run(["evaluate", model])
    assert code == 0 and err.startswith("#")
    lines = out.splitlines()
    correct = net.evaluate((test.X, test.y))
    assert lines[0] == f"MNIST test set: {correct} / 10000 correct ({correct / 100:.2f}%)"
    rows = [l.split() for l in lines[3:]]
    assert len(rows) == 10 and lines[2].split()[:4] == ["digit", "count", "correct", "accuracy"]
    predicted = net.predict(test.X)
    for d, row in enumerate(rows):
        mine = test.y == d
        assert int(row[0]) == d and int(row[1]) == mine.sum()
        assert int(row[2]) == np.sum(predicted[mine] == d)
        assert row[3] == f"{100 * np.mean(predicted[mine] == d):.2f}%"
        wrong = np.bincount(predicted[mine & (predicted != d)], minlength=10)
        assert row[4:] == [str(wrong.argmax()), f"({wrong.max()}x)"]
    assert sum(int(r[2]) for r in rows) == correct


def test_evaluate_a_digits_model_on_its_own_split(tmp_path):
    pytest.importorskip("sklearn")
    from glassnet.datasets import load_dataset

    training, _, test, _ = load_dataset("digits", seed=3)
    net = glassnet.Network([64, 30, 10], seed=0)
    net.SGD((training.X, training.y), 30, len(training.X), 0.5, log=None)
    save(net, tmp_path / "d.npz", metadata=dict(dataset="digits", training=dict(seed=3)))
    code, out, err = run(["evaluate", tmp_path / "d.npz"])
    assert code == 0 and "seed 3" in err
    correct = net.evaluate((test.X, test.y))
    assert out.splitlines()[0] == f"digits test part: {correct} / 719 correct ({100 * correct / 719:.2f}%)"
    assert sum(int(l.split()[1]) for l in out.splitlines()[3:]) == 719


def test_evaluate_refuses_a_model_that_does_not_fit_its_dataset(tmp_path):
    save(glassnet.Network([64, 10], seed=0), tmp_path / "m.npz", metadata=dict(dataset="mnist"))
    # one line: no banner about what it was about to measure before the reason it cannot
    one_line_error(*run(["evaluate", tmp_path / "m.npz"]), "64-10", "need 784 inputs")
    save(glassnet.Network([784, 10], seed=0), tmp_path / "x.npz", metadata=dict(dataset="cifar"))
    one_line_error(*run(["evaluate", tmp_path / "x.npz"]), "cifar")
    one_line_error(*run(["evaluate", tmp_path / "none.npz"]), "no such model file")
