"""glassnet.network2: the book's chapter-3 program on glassnet's core and training loop.

The listings of chapters 3 and 5 run with only the import changed, on the first 1,000
training images for one or two epochs. The rest checks the book's meaning piece by piece
on small networks: costs, the L2 term, the data forms, the JSON file, the gradients.
"""

import json
import math
import os
import re

import numpy as np
import pytest

import glassnet
import glassnet.network2 as network2
from glassnet.errors import InputError, ModelFormatError
from glassnet.training import TrainingConfig, fit

# no RuntimeWarning (overflow in exp, log of 0) anywhere: network2 must not emit any
pytestmark = [
    pytest.mark.filterwarnings("error::RuntimeWarning"),
    pytest.mark.usefixtures("mnist"),
]  # load_data_wrapper reads the run's MNIST


@pytest.fixture(scope="module")
def book_data():
    """The book's ``training_data, validation_data, test_data`` (real MNIST)."""
    return network2.load_data_wrapper()


def _epochs(transcript):
    """The transcript split into epochs: lists of lines, each epoch ending in a blank line."""
    lines = transcript.split("\n")
    assert lines[-1] == ""  # the output ends with a newline
    epochs, current = [], []
    for line in lines[:-1]:
        if line == "":
            epochs.append(current)
            current = []
        else:
            current.append(line)
    assert current == [], "every epoch ends with a blank line"
    return epochs


# -- the listings ----------------------------------------------------------------------------------
@pytest.mark.mnist
def test_load_data_wrapper_gives_the_books_forms(book_data):
    training_data, validation_data, test_data = book_data
    assert (len(training_data), len(validation_data), len(test_data)) == (50000, 10000, 10000)
    x, y = training_data[0]
    assert x.shape == (784, 1) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y.shape == (10, 1) and y.sum() == 1 and int(np.argmax(y)) == 5  # MNIST's first digit
    x, y = validation_data[0]
    assert x.shape == (784, 1) and isinstance(y, int) and 0 <= y <= 9
    assert isinstance(test_data[0][1], int) and test_data[0][0].shape == (784, 1)


def test_chapter3_cross_entropy_listing(book_data, capsys):
    training_data, validation_data, test_data = book_data
    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    net.large_weight_initializer()
    result = net.SGD(
        training_data[:1000], 2, 10, 0.5, evaluation_data=test_data[:1000], monitor_evaluation_accuracy=True
    )
    epochs = _epochs(capsys.readouterr().out)
    assert len(epochs) == 2
    counts = []
    for j, lines in enumerate(epochs):
        assert lines[0] == f"Epoch {j} training complete" and len(lines) == 2
        match = re.fullmatch(r"Accuracy on evaluation data: (\d+) / 1000", lines[1])
        counts.append(int(match.group(1)))
    assert result == ([], counts, [], [])
    assert counts[-1] == net.accuracy(test_data[:1000]) and counts[-1] > 300  # chance is 100


def test_chapter3_regularization_listing_monitors_all_four(book_data, capsys):
    training_data, validation_data, test_data = book_data
    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    net.large_weight_initializer()
    evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = net.SGD(
        training_data[:1000],
        2,
        10,
        0.5,
        evaluation_data=test_data[:500],
        lmbda=0.1,
        monitor_evaluation_cost=True,
        monitor_evaluation_accuracy=True,
        monitor_training_cost=True,
        monitor_training_accuracy=True,
    )
    epochs = _epochs(capsys.readouterr().out)
    for j, lines in enumerate(epochs):
        assert lines == [
            f"Epoch {j} training complete",
            f"Cost on training data: {training_cost[j]}",
            f"Accuracy on training data: {training_accuracy[j]} / 1000",
            f"Cost on evaluation data: {evaluation_cost[j]}",
            f"Accuracy on evaluation data: {evaluation_accuracy[j]} / 500",
        ]
    # the monitored values are the book's measures of the network as it ended
    assert training_cost[-1] == pytest.approx(net.total_cost(training_data[:1000], 0.1), rel=1e-12)
    assert evaluation_cost[-1] == pytest.approx(net.total_cost(test_data[:500], 0.1, convert=True), rel=1e-12)
    assert training_accuracy[-1] == net.accuracy(training_data[:1000], convert=True)
    assert training_cost[1] < training_cost[0]


def test_chapter5_deeper_network_listing(book_data, capsys):
    training_data, validation_data, test_data = book_data
    net = network2.Network([784, 30, 30, 10])
    net.SGD(
        training_data[:1000],
        1,
        10,
        0.1,
        lmbda=5.0,
        evaluation_data=validation_data[:1000],
        monitor_evaluation_accuracy=True,
    )
    [lines] = _epochs(capsys.readouterr().out)
    assert lines[0] == "Epoch 0 training complete"
    assert re.fullmatch(r"Accuracy on evaluation data: \d+ / 1000", lines[1])


def test_listing_save_and_load(book_data, tmp_path):
    training_data, validation_data, test_data = book_data
    net = network2.Network([784, 30, 10])
    net.SGD(training_data[:500], 1, 10, 0.5, log=None)
    net.save(str(tmp_path / "net.json"))
    again = network2.load(str(tmp_path / "net.json"))
    assert again.accuracy(test_data[:1000]) == net.accuracy(test_data[:1000])


# -- the costs and the book's measures ---------------------------------------------------------
def test_cross_entropy_follows_nan_to_num_without_warnings():
    fn = network2.CrossEntropyCost.fn
    assert fn(np.array([[0.0], [1.0]]), np.array([[0.0], [1.0]])) == 0.0  # 0 ln 0 counts 0
    assert fn(np.array([[0.0]]), np.array([[1.0]])) == np.finfo(float).max  # a certain wrong answer
    a, y = np.array([[0.2], [0.7]]), np.array([[0.0], [1.0]])
    assert fn(a, y) == pytest.approx(-math.log(0.8) - math.log(0.7))
    assert np.array_equal(network2.CrossEntropyCost.delta(None, a, y), a - y)


def test_quadratic_cost_and_its_delta():
    a, y, z = np.array([[0.5], [0.25]]), np.array([[1.0], [0.0]]), np.array([[0.0], [-1.0]])
    assert network2.QuadraticCost.fn(a, y) == pytest.approx(0.5 * (0.25 + 0.0625))
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(network2.QuadraticCost.delta(z, a, y), (a - y) * s * (1 - s))


def test_saturated_network_raises_no_warning():
    rng = np.random.default_rng(0)
    net = network2.Network([20, 8, 3], seed=0)
    net.weights = [w * 1e4 for w in net.weights]  # |z| in the thousands
    X, y = rng.random((30, 20)), rng.integers(0, 3, 30)
    assert np.all(np.isfinite(net.feedforward(X)))
    # certain wrong answers cost the largest float each (the book's nan_to_num), their sum inf
    assert net.total_cost((X, y), 0.0) > 1e300
    net.SGD((X, y), 2, 5, 3.0, evaluation_data=(X, y), monitor_evaluation_cost=True, log=None)


def _column(j, n_out=4):
    return np.eye(n_out)[j].reshape(-1, 1)


def test_float32_costs_agree_with_float64_where_sigmoid_saturates():
    net64 = network2.Network([2, 3], dtype=np.float64)
    net64.weights, net64.biases = [np.array([[10.0, 10.0], [-60.0, -60.0], [0.5, 0.0]])], [np.zeros(3)]
    net32 = network2.Network([2, 3])
    net32.weights, net32.biases = net64.weights, net64.biases
    X, y = np.array([[1.0, 1.0], [0.1, 0.0]]), np.array([1, 2])  # z = 20 on a wrong output; -120
    assert net32.feedforward(X.astype(np.float32))[0, 0] == 1.0  # float32's sigma(20) is 1
    cost = net64.total_cost((X, y), 0.0)
    assert 10 < cost < 1e3 and net32.total_cost((X, y), 0.0) == pytest.approx(cost, rel=1e-6)


def _book_pairs(X, labels, vectorized):
    """The book's forms: (x column, one-hot column) for training, (x column, int) otherwise."""
    return [(x.reshape(-1, 1), _column(j) if vectorized else int(j)) for x, j in zip(X, labels)]


def _small_data(m=40, n_in=12, n_out=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((m, n_in)), rng.integers(0, n_out, m)


def test_l2_term_is_added_once_not_per_example():
    X, y = _small_data()
    net = network2.Network([12, 7, 4], seed=1, dtype=np.float64)
    lmbda = 3.0
    per_example = [net.cost.fn(net.feedforward(x.reshape(-1, 1)), _column(j)) for x, j in zip(X, y)]
    l2 = 0.5 * (lmbda / len(X)) * sum(np.linalg.norm(w) ** 2 for w in net.weights)
    assert net.total_cost((X, y), 0.0) == pytest.approx(np.mean(per_example), rel=1e-12)
    assert net.total_cost((X, y), lmbda) == pytest.approx(np.mean(per_example) + l2, rel=1e-12)
    assert net.total_cost((X, y), lmbda) - net.total_cost((X, y), 0.0) == pytest.approx(l2, rel=1e-9)


def test_convert_flags_mean_what_they_mean_in_the_book():
    X, y = _small_data()
    net = network2.Network([12, 7, 4], seed=2)
    training, evaluation = _book_pairs(X, y, True), _book_pairs(X, y, False)
    count = int(np.sum(np.argmax(net.feedforward(X), axis=1) == y))
    assert net.accuracy(training, convert=True) == net.accuracy(evaluation) == net.accuracy((X, y)) == count
    assert net.total_cost(training, 1.0) == pytest.approx(net.total_cost(evaluation, 1.0, convert=True))
    with pytest.raises(InputError, match="int labels"):
        net.accuracy(evaluation, convert=True)
    with pytest.raises(InputError, match="one-hot"):
        net.total_cost(training, 1.0, convert=True)


def test_zip_objects_and_generators_are_accepted():
    X, y = _small_data()
    xs, ys = [x.reshape(-1, 1) for x in X], [_column(j) for j in y]
    a = network2.Network([12, 7, 4], seed=3)
    b = network2.Network([12, 7, 4], seed=3)
    ra = a.SGD(
        list(zip(xs, ys)),
        3,
        10,
        0.5,
        evaluation_data=list(zip(xs, y.tolist())),
        monitor_evaluation_accuracy=True,
        log=None,
    )
    # a zip and a generator, each consumed once though three epochs evaluate on it
    rb = b.SGD(
        zip(xs, ys),
        3,
        10,
        0.5,
        evaluation_data=((x, int(j)) for x, j in zip(xs, y)),
        monitor_evaluation_accuracy=True,
        log=None,
    )
    assert ra == rb and len(rb[1]) == 3
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa, wb)
    assert b.accuracy(zip(xs, y.tolist())) == b.accuracy((X, y))


def test_early_stopping_when_evaluation_accuracy_stops_improving():
    X, y = _small_data()
    net = network2.Network([12, 7, 4], seed=4)
    # a step this small changes nothing: the accuracy never improves after the first epoch
    result = net.SGD(
        (X, y), 10, 10, 1e-12, evaluation_data=(X, y), early_stopping_n=2, monitor_evaluation_accuracy=True, log=None
    )
    assert len(result[1]) == 3
    with pytest.raises(InputError, match="evaluation_data"):
        net.SGD((X, y), 10, 10, 0.1, early_stopping_n=2, log=None)


def test_bad_arguments_are_named():
    X, y = _small_data()
    net = network2.Network([12, 7, 4])
    with pytest.raises(InputError, match="-1"):
        net.SGD((X, y), -1, 10, 0.1, log=None)
    with pytest.raises(InputError, match="input 0"):
        net.accuracy([(np.zeros((5, 1)), 1)])
    with pytest.raises(InputError, match="CrossEntropyCost"):
        network2.Network([3, 2], cost=object)
    with pytest.raises(InputError, match="shape"):
        net.weights = [np.zeros((7, 11)), np.zeros((4, 7))]


# -- parameters, feedforward, gradients ------------------------------------------------------------
def test_shapes_views_and_initialisers():
    net = network2.Network([784, 100, 10], seed=5)
    assert [w.shape for w in net.weights] == [(100, 784), (10, 100)]
    assert [b.shape for b in net.biases] == [(100, 1), (10, 1)]
    assert net.feedforward(np.zeros((784, 1))).shape == (10, 1)
    assert net.feedforward(np.zeros((3, 784))).shape == (3, 10)
    assert np.std(net.weights[0]) == pytest.approx(1 / math.sqrt(784), rel=0.05)
    net.large_weight_initializer()
    assert np.std(net.weights[0]) == pytest.approx(1.0, rel=0.05)
    assert np.std(net.biases[0]) == pytest.approx(1.0, rel=0.3)
    net.default_weight_initializer()
    assert np.std(net.weights[0]) == pytest.approx(1 / math.sqrt(784), rel=0.05)
    net.biases[1][3, 0] = 7.0  # the columns are views of the core's vectors
    assert net.core.biases[1][3] == 7.0
    assert net.weights[0] is net.core.weights[0]


def test_seeded_network_is_glassnets_scaled_cross_entropy_network():
    net = network2.Network([12, 7, 4], seed=6)
    core = glassnet.Network([12, 7, 4], seed=6, cost="cross-entropy", init="scaled")
    for a, b in zip(net.weights + [b.ravel() for b in net.biases], core.weights + core.biases):
        np.testing.assert_array_equal(a, b)


def _book_backprop(weights, biases, cost, x, y):
    """Backpropagation for one column example, written the book's way (float64)."""
    sigma = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    activation, activations, zs = x, [x], []
    for w, b in zip(weights, biases):
        zs.append(w @ activation + b)
        activation = sigma(zs[-1])
        activations.append(activation)
    delta = cost.delta(zs[-1], activations[-1], y)
    nabla_b, nabla_w = [delta], [delta @ activations[-2].T]
    for l in range(2, len(weights) + 1):
        s = sigma(zs[-l])
        delta = (weights[-l + 1].T @ delta) * s * (1 - s)
        nabla_b.insert(0, delta)
        nabla_w.insert(0, delta @ activations[-l - 1].T)
    return nabla_b, nabla_w


@pytest.mark.parametrize("cost", [network2.CrossEntropyCost, network2.QuadraticCost])
def test_gradients_equal_glassnets_and_the_books(cost):
    X, y = _small_data(m=5)
    net = network2.Network([12, 7, 6, 4], cost=cost, seed=7, dtype=np.float64)
    core = glassnet.Network([12, 7, 6, 4], seed=7, dtype=np.float64, init="scaled", cost=cost.name)
    for x, j in zip(X, y):
        col, target = x.reshape(-1, 1), _column(j)
        nabla_b, nabla_w = net.backprop(col, target)
        core_b, core_w = core.backprop(x.reshape(1, -1), target.reshape(1, -1))
        book_b, book_w = _book_backprop(net.weights, net.biases, cost, col, target)
        for nb, cb, bb in zip(nabla_b, core_b, book_b):
            assert nb.shape == bb.shape
            np.testing.assert_allclose(nb.ravel(), cb, rtol=1e-12)
            np.testing.assert_allclose(nb, bb, rtol=1e-10, atol=1e-14)
        for nw, cw, bw in zip(nabla_w, core_w, book_w):
            np.testing.assert_allclose(nw, cw, rtol=1e-12)
            np.testing.assert_allclose(nw, bw, rtol=1e-10, atol=1e-14)


def test_update_mini_batch_is_eq_93():
    X, y = _small_data(m=6)
    net = network2.Network([12, 7, 4], seed=8, dtype=np.float64)
    batch = _book_pairs(X, y, True)
    eta, lmbda, n = 0.5, 5.0, 1000
    grads = [net.backprop(x, t) for x, t in batch]
    want_w = [
        (1 - eta * lmbda / n) * w - eta / len(batch) * sum(g[1][l] for g in grads) for l, w in enumerate(net.weights)
    ]
    want_b = [b - eta / len(batch) * sum(g[0][l] for g in grads) for l, b in enumerate(net.biases)]
    net.update_mini_batch(batch, eta, lmbda, n)
    for got, want in zip(net.weights + net.biases, want_w + want_b):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_sgd_trains_exactly_as_glassnets_fit():
    X, y = _small_data(m=200, n_in=30, n_out=10)
    X = X.astype(np.float32)
    net = network2.Network([30, 16, 10], seed=9)
    net.SGD((X, y), 3, 10, 0.5, lmbda=5.0, log=None)
    core = glassnet.Network([30, 16, 10], seed=9, cost="cross-entropy", init="scaled")
    fit(core, (X, y), TrainingConfig(epochs=3, mini_batch_size=10, eta=0.5, l2=5.0))
    for a, b in zip(net.weights + [b.ravel() for b in net.biases], core.weights + core.biases):
        np.testing.assert_array_equal(a, b)


# -- files -------------------------------------------------------------------------------------------
def test_a_file_written_the_books_way_loads_and_computes_the_same(tmp_path):
    rng = np.random.default_rng(10)
    sizes = [5, 4, 3]
    weights = [rng.standard_normal((4, 5)), rng.standard_normal((3, 4))]
    biases = [rng.standard_normal((4, 1)), rng.standard_normal((3, 1))]
    path = tmp_path / "book.json"
    with open(path, "w") as f:  # what the book's save writes
        json.dump(
            {
                "sizes": sizes,
                "weights": [w.tolist() for w in weights],
                "biases": [b.tolist() for b in biases],
                "cost": "QuadraticCost",
            },
            f,
        )
    x = rng.random((5, 1))
    a = x
    for w, b in zip(weights, biases):  # the book's feedforward, float64
        a = 1 / (1 + np.exp(-(w @ a + b)))
    exact = network2.load(path, dtype=np.float64)
    assert exact.cost is network2.QuadraticCost and exact.sizes == sizes
    np.testing.assert_allclose(exact.feedforward(x), a, rtol=1e-14)
    np.testing.assert_allclose(network2.load(path).feedforward(x), a, rtol=1e-5)  # float32


def test_save_load_round_trip_in_the_books_format(tmp_path):
    net = network2.Network([6, 5, 3], cost=network2.QuadraticCost, seed=11)
    path = tmp_path / "net.json"
    path.write_text("old")
    net.save(path)
    assert os.listdir(tmp_path) == ["net.json"]  # replaced, no temporary file left
    data = json.loads(path.read_text())
    assert set(data) == {"sizes", "weights", "biases", "cost"} and data["cost"] == "QuadraticCost"
    assert np.array(data["weights"][0]).shape == (5, 6) and np.array(data["biases"][0]).shape == (5, 1)
    again = network2.load(path)
    assert again.cost is network2.QuadraticCost
    for a, b in zip(net.weights + net.biases, again.weights + again.biases):
        np.testing.assert_array_equal(a, b)


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "net.json"
    path.write_text("old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        network2.Network([3, 2]).save(path)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["net.json"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not a network2 JSON"),
        ('{"sizes": [2, 1]}', "sizes, weights"),
        ('{"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]], "cost": "os.system"}', "unknown cost"),
        ('{"sizes": [2, 1], "weights": [[[1, 2, 3]]], "biases": [[[0]]], "cost": "QuadraticCost"}', "shape"),
        (
            '{"sizes": [2, 1], "weights": [[[1, NaN]]], "biases": [[[0]]], "cost": "QuadraticCost"}',
            "NaN is not a number",
        ),
    ],
)
def test_bad_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ModelFormatError, match=message):
        network2.load(path)


def test_vectorized_result():
    e = network2.vectorized_result(3)
    assert e.shape == (10, 1) and e[3, 0] == 1.0 and e.sum() == 1.0
    with pytest.raises(ValueError):
        network2.vectorized_result(10)
