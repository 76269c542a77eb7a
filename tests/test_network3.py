"""``glassnet.network3``: the book's chapter-6 listings, its transcript and its data helpers."""

import numpy as np
import pytest

import glassnet.network3 as network3
from glassnet.core import layers
from glassnet.network3 import ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer, expand_mnist

pytestmark = pytest.mark.usefixtures("mnist")  # load_data_shared reads the run's MNIST


# -- the book's listings on real MNIST (cut short) ---------------------------------------
@pytest.fixture(scope="module")
def book_data():
    """The book's call, unchanged; then cut to a few hundred training images."""
    training_data, validation_data, test_data = network3.load_data_shared("../data/mnist.pkl.gz")
    assert network3.size(training_data) == 50000
    assert network3.size(validation_data) == network3.size(test_data) == 10000
    cut = lambda data, n: (data[0][:n], data[1][:n])  # noqa: E731
    return cut(training_data, 600), cut(validation_data, 1000), cut(test_data, 1000)


def transcript_lines(text):
    return [line for line in text.splitlines() if line]


def check_transcript(lines, epochs, test=True):
    assert lines[0] == "Training mini-batch number 0"
    epoch_lines = [line for line in lines if line.startswith("Epoch ")]
    assert len(epoch_lines) == epochs
    assert lines[-3 if test else -2] == "Finished training network."
    assert lines[-2 if test else -1].startswith("Best validation accuracy of ")
    if test:
        assert lines[-1].startswith("Corresponding test accuracy of ")


def test_shallow_listing_runs_and_learns(book_data, capsys):
    training_data, validation_data, test_data = book_data
    mini_batch_size = 10
    net = Network([FullyConnectedLayer(n_in=784, n_out=100), SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size, seed=0)
    result = net.SGD(training_data, 1, mini_batch_size, 0.1, validation_data, test_data)
    lines = transcript_lines(capsys.readouterr().out)
    check_transcript(lines, epochs=1)
    assert lines[1] == f"Epoch 0: validation accuracy {result.best_validation_accuracy:.2%}"
    assert lines[2] == "This is the best validation accuracy to date."
    assert lines[3] == f"The corresponding test accuracy is {result.test_accuracy:.2%}"
    best = result.best_validation_accuracy
    assert lines[5] == f"Best validation accuracy of {best:.2%} obtained at iteration 59"
    assert result.best_validation_accuracy > 0.3  # 60 mini-batches: well above 10% already
    assert result.best_validation_accuracy == net.score(*validation_data)


@pytest.mark.mnist
def test_conv_listing_with_relu_and_dropout_runs(book_data, capsys):
    training_data, validation_data, test_data = book_data
    mini_batch_size = 10
    net = Network(
        [
            ConvPoolLayer(
                image_shape=(mini_batch_size, 1, 28, 28),
                filter_shape=(20, 1, 5, 5),
                poolsize=(2, 2),
                activation_fn=ReLU,
            ),
            ConvPoolLayer(
                image_shape=(mini_batch_size, 20, 12, 12),
                filter_shape=(40, 20, 5, 5),
                poolsize=(2, 2),
                activation_fn=ReLU,
            ),
            FullyConnectedLayer(n_in=40 * 4 * 4, n_out=100, activation_fn=ReLU, p_dropout=0.5),
            SoftmaxLayer(n_in=100, n_out=10, p_dropout=0.5),
        ],
        mini_batch_size,
        seed=1,
    )
    X, y = training_data
    before = net.loss(X[:200], y[:200], training=False)
    result = net.SGD(training_data, 1, mini_batch_size, 0.03, validation_data, test_data, lmbda=0.1)
    check_transcript(transcript_lines(capsys.readouterr().out), epochs=1)
    assert net.loss(X[:200], y[:200], training=False) < before - 0.005  # ln 10 at the start
    assert result.validation_accuracies == [result.best_validation_accuracy]


# -- the transcript and SGD's rules, on small synthetic data ------------------------------------
def blobs(n, seed=0, n_in=12, n_classes=3):
    """Separable classes: class k lights up the k-th block of pixels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    X = rng.random((n, n_in)).astype(np.float32) * 0.3
    block = n_in // n_classes
    for k in range(n_classes):
        X[y == k, k * block : (k + 1) * block] += 0.7
    return X, y


def small_net(seed=0):
    return Network([FullyConnectedLayer(12, 8), SoftmaxLayer(8, 3)], 10, seed=seed)


def test_transcript_exact_lines_every_1000_mini_batches():
    training, validation, test = blobs(1200), blobs(50, seed=1), blobs(40, seed=2)
    lines = []
    result = small_net().SGD(training, 2, 1, 0.5, validation, test, log=lines.append)
    assert [line for line in lines if line.startswith("Training")] == [
        "Training mini-batch number 0",
        "Training mini-batch number 1000",
        "Training mini-batch number 2000",
    ]
    epochs = [line for line in lines if line.startswith("Epoch")]
    accuracies = result.validation_accuracies
    assert epochs == [f"Epoch {e}: validation accuracy {a:.2%}" for e, a in enumerate(accuracies)]
    assert lines.index(epochs[0]) == 2
    assert lines.index(epochs[1]) > lines.index("Training mini-batch number 2000")
    assert result.best_validation_accuracy == max(result.validation_accuracies) > 0.9
    assert result.best_iteration in (1199, 2399)
    assert lines[-3:] == [
        "Finished training network.",
        f"Best validation accuracy of {result.best_validation_accuracy:.2%} obtained at iteration "
        f"{result.best_iteration}",
        f"Corresponding test accuracy of {result.test_accuracy:.2%}",
    ]


def test_accuracy_counts_whole_mini_batches_and_ties_count_as_best():
    net = small_net()  # zero softmax: every prediction is class 0 ...
    X, _ = blobs(25)
    y = np.zeros(25, dtype=int)
    y[20:] = 2  # ... and only the partial last mini-batch is wrong
    lines = []
    result = net.SGD((X, y), 3, 10, 0.0, (X, y), (X, y), log=lines.append)
    assert lines.count("Epoch 0: validation accuracy 100.00%") == 1
    assert lines.count("This is the best validation accuracy to date.") == 3  # >=, as the book
    assert result.best_iteration == 5 and result.test_accuracy == 1.0  # 2 batches/epoch
    assert lines[-2] == "Best validation accuracy of 100.00% obtained at iteration 5"


def test_log_none_is_silent_and_test_data_optional(capsys):
    result = small_net().SGD(blobs(40), 1, 10, 0.5, blobs(20, seed=3), None, log=None)
    assert capsys.readouterr().out == ""
    assert result.test_accuracy is None
    lines = []
    small_net().SGD(blobs(40), 1, 10, 0.5, blobs(20, seed=3), None, log=lines.append)
    assert lines[-1].startswith("Best validation accuracy of ")


def test_sgd_uses_the_books_cost_with_num_training_batches():
    """One epoch of SGD equals stepping by hand on the book's cost, batches in order."""
    X, y = blobs(30)
    a, b = small_net(seed=7), small_net(seed=7)
    a.SGD((X, y), 1, 10, 0.4, (X, y), None, lmbda=2.0, log=None)
    for j in range(3):
        b.step(X[j * 10 : (j + 1) * 10], y[j * 10 : (j + 1) * 10], 0.4, lmbda=2.0, n_batches=3)
    for p, q in zip(a.params(), b.params()):  # (SGD may run on the compiled engine: float32 rounding)
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)


def test_seed_reproduces_a_dropout_run():
    def run(seed):
        layers = [FullyConnectedLayer(12, 8, p_dropout=0.5), SoftmaxLayer(8, 3, p_dropout=0.5)]
        net = Network(layers, 10, seed=seed)
        net.SGD(blobs(60), 2, 10, 0.5, blobs(20, seed=1), None, log=None)
        return net.params()

    assert all(np.array_equal(p, q) for p, q in zip(run(3), run(3)))
    assert not all(np.array_equal(p, q) for p, q in zip(run(3), run(4)))


def test_sgd_errors_name_the_problem():
    net = small_net()
    with pytest.raises(ValueError, match="training_data has 5 samples, fewer than one mini-batch of 10"):
        net.SGD(blobs(5), 1, 10, 0.1, blobs(20), None, log=None)
    with pytest.raises(ValueError, match="training_data must be a pair"):
        net.SGD([1, 2, 3], 1, 10, 0.1, blobs(20), None, log=None)
    with pytest.raises(ValueError, match=r"inputs must have shape \(m, 12\), got \(20, 11\)"):
        net.SGD(blobs(40), 1, 10, 0.1, (np.zeros((20, 11)), np.zeros(20, int)), None, log=None)
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        net.SGD(blobs(40), 0, 10, 0.1, blobs(20), None, log=None)
    with pytest.raises(ValueError, match="mini_batch_size must be a positive integer"):
        Network([SoftmaxLayer(3, 2)], 0)


def test_book_names_are_there():
    assert network3.ReLU is layers.relu and network3.ReLU.name == "relu"
    assert {network3.sigmoid.name, network3.tanh.name, network3.linear.name} == {"sigmoid", "tanh", "linear"}
    assert network3.size((np.zeros((7, 3)), np.zeros(7))) == 7
    net = Network([ConvPoolLayer((2, 1, 3, 3), (10, 1, 6, 6)), SoftmaxLayer(8, 2)], 10, seed=0)
    assert net.mini_batch_size == 10 and "ConvPoolLayer(filter_shape=(2, 1, 3, 3)" in repr(net)


# -- load_data_shared and expand_mnist -----------------------------------------------------------
@pytest.fixture
def fake_mnist(monkeypatch):
    """load_mnist replaced by 6/3/2 random 28x28 images, to check load_data_shared's logic."""
    from glassnet import datasets
    from glassnet.datasets.mnist import MNIST, Dataset

    rng = np.random.default_rng(0)
    part = lambda n: Dataset(rng.random((n, 784)).astype(np.float32), rng.integers(0, 10, n))  # noqa: E731
    fake = MNIST(part(6), part(3), part(2), {})
    calls = []
    monkeypatch.setattr(datasets, "load_mnist", lambda **kw: calls.append(kw) or fake)
    return fake, calls


def test_load_data_shared_accepts_the_books_filenames(fake_mnist):
    fake, calls = fake_mnist
    for name in (None, "../data/mnist.pkl.gz", "mnist.pkl.gz"):
        training, validation, test = network3.load_data_shared(name)
        assert training[0] is fake.training.X and training[1] is fake.training.y
        assert validation[1] is fake.validation.y and test[0] is fake.test.X
    expanded, validation, _ = network3.load_data_shared("../data/mnist_expanded.pkl.gz")
    assert expanded[0].shape == (30, 784) and network3.size(expanded) == 30
    assert validation[0] is fake.validation.X
    with pytest.raises(ValueError, match=r"'my_data.pkl'.*does not load pickle"):
        network3.load_data_shared("my_data.pkl")
    network3.load_data_shared(cache_dir="/tmp/x")
    assert calls[-1]["cache_dir"] == "/tmp/x"


def book_shifts(image):
    """The expansion written with np.roll, as the book's expand_mnist.py does it."""
    out = [image]
    for d, axis, edge in ((1, 0, 0), (-1, 0, 27), (1, 1, 0), (-1, 1, 27)):
        shifted = np.roll(image, d, axis)
        if axis == 0:
            shifted[edge, :] = 0
        else:
            shifted[:, edge] = 0
        out.append(shifted)
    return out


def test_expand_mnist_matches_the_books_shifts():
    rng = np.random.default_rng(1)
    X, y = rng.random((7, 784)).astype(np.float32), rng.integers(0, 10, 7)
    X5, y5 = expand_mnist((X, y), shuffle=False)
    assert X5.shape == (35, 784) and X5.dtype == np.float32 and y5.shape == (35,)
    expected = [s.reshape(784) for image in X.reshape(7, 28, 28) for s in book_shifts(image)]
    np.testing.assert_array_equal(X5, np.stack(expected))
    np.testing.assert_array_equal(y5, np.repeat(y, 5))
    img = np.zeros((1, 28, 28))
    img[0, 5, 9] = 1
    down, up, right, left = expand_mnist((img, np.array([3])), shuffle=False)[0][1:]
    assert down[6, 9] == up[4, 9] == right[5, 10] == left[5, 8] == 1


def test_expand_mnist_shuffle_is_a_seeded_permutation():
    rng = np.random.default_rng(2)
    X, y = rng.random((9, 784)).astype(np.float32), rng.integers(0, 10, 9)
    plain = expand_mnist((X, y), shuffle=False)
    a, b = expand_mnist((X, y), seed=5), expand_mnist((X, y), seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], plain[0])
    order = np.lexsort(a[0].T)  # same rows, same labels, other order
    np.testing.assert_array_equal(a[0][order], plain[0][np.lexsort(plain[0].T)])
    np.testing.assert_array_equal(a[1][order], plain[1][np.lexsort(plain[0].T)])
    with pytest.raises(ValueError, match="square images"):
        expand_mnist((np.zeros((2, 780)), np.zeros(2, int)))
