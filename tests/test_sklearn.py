"""GlassnetClassifier: scikit-learn's estimator checks, pipelines, grid search, partial_fit."""
import inspect
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import glassnet.sklearn
from glassnet import Network
from glassnet.errors import InputError
from glassnet.sklearn import BOOK_CHAPTER_1, GlassnetClassifier

#: the book's network with fewer epochs: the same code paths (sigmoid, quadratic cost, plain SGD)
BOOK = dict(BOOK_CHAPTER_1, epochs=5)


# every check runs and must pass: no expected failures; the defaults and the book's network
@parametrize_with_checks([GlassnetClassifier(), GlassnetClassifier(**BOOK_CHAPTER_1)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_defaults_are_the_documented_modern_recipe():
    clf = GlassnetClassifier()
    assert clf.get_params() == dict(hidden_layer_sizes=(100,), epochs=100, mini_batch_size=32, eta=0.02,
                                    cost="log-likelihood", activation="relu", init="he", l2=50.0,
                                    momentum=0.9, schedule="constant", early_stop=None,
                                    validation_fraction=0.1, dtype="float32", random_state=None, layers=None)
    doc = GlassnetClassifier.__doc__
    for default in ("(100,)", "default=100", "default=32", "default=0.02", 'default="log-likelihood"',
                    'default="relu"', 'default="he"', "default=50.0", "default=0.9"):
        assert default in doc, default
    # the book's chapter 1 is reachable by explicit arguments, spelled out in the docstring
    assert BOOK_CHAPTER_1 == dict(hidden_layer_sizes=(30,), epochs=30, mini_batch_size=10, eta=3.0,
                                  cost="quadratic", activation="sigmoid", init="standard", l2=0.0, momentum=0.0)
    assert 'eta=3.0,\n    cost="quadratic", activation="sigmoid", init="standard", l2=0.0, momentum=0.0)' in doc


def test_the_dead_pickling_workaround_is_gone():
    """A plain Network pickles by its activations' and cost's names now."""
    assert not hasattr(glassnet.sklearn, "_PicklableNetwork") and not hasattr(glassnet.sklearn, "_rebuild_network")
    assert "__getstate__" not in vars(GlassnetClassifier)
    net = Network([4, 3, 2], seed=0, cost="log-likelihood", activation="relu")
    back = pickle.loads(pickle.dumps(net))
    x = np.ones((1, 4), np.float32)
    np.testing.assert_array_equal(back.feedforward(x), net.feedforward(x))
    assert "import" not in inspect.getsource(glassnet.sklearn).split("__all__")[1]


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return train_test_split(data.data, data.target, test_size=0.3, random_state=0)


@pytest.fixture(scope="module")
def small(digits):
    X_train, _, y_train, _ = digits
    return StandardScaler().fit_transform(X_train[:300]), y_train[:300]


def test_pipeline_on_digits_with_the_defaults(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline([("scale", StandardScaler()), ("net", GlassnetClassifier(random_state=0))])
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.96
    net = pipe.named_steps["net"]
    assert isinstance(net.network_, Network)
    assert net.network_.sizes == [64, 100, 10]
    assert net.network_.output_activation.name == "softmax" and net.network_.activation.name == "relu"
    assert net.n_features_in_ == 64 and net.n_iter_ == 100 and len(net.history_) == 100
    assert net.history_[-1]["training_accuracy"] > 0.99
    proba = pipe.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(net.classes_[proba.argmax(axis=1)], pipe.predict(X_test))


def test_grid_search_in_two_processes(small):
    X, y = small
    search = GridSearchCV(GlassnetClassifier(epochs=3, random_state=0), {"eta": [0.005, 0.02]},
                          cv=2, n_jobs=2, error_score="raise")
    search.fit(X, y)
    assert search.best_params_["eta"] in (0.005, 0.02)
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert search.best_estimator_.score(X, y) > 0.5


@pytest.mark.parametrize("options", [{"momentum": 0.0}, {"momentum": 0.0, "schedule": "cosine", "l2": 1.0},
                                     {k: v for k, v in BOOK.items() if k != "epochs"}, {},
                                     {"schedule": "cosine"}])
def test_partial_fit_equals_fit_epoch_by_epoch(small, options):
    """n calls are n epochs of fit, with momentum too (its velocities carry over between calls)."""
    X, y = small
    whole = GlassnetClassifier(epochs=3, random_state=7, **options).fit(X, y)
    steps = GlassnetClassifier(epochs=3, random_state=7, **options)
    steps.partial_fit(X, y, classes=np.arange(10))
    steps.partial_fit(X, y)
    steps.partial_fit(X, y)
    for a, b in zip(whole.network_.weights + whole.network_.biases,
                    steps.network_.weights + steps.network_.biases):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(whole.predict(X), steps.predict(X))
    assert [h["epoch"] for h in steps.history_] == [0, 1, 2]
    for h1, h2 in zip(whole.history_, steps.history_):
        assert h1["training_accuracy"] == h2["training_accuracy"]


def test_partial_fit_continues_fit_and_its_momentum(small):
    X, y = small
    clf = GlassnetClassifier(epochs=2, random_state=0).fit(X, y)
    velocities = [v.copy() for v in clf.optimizer_.velocities]
    assert any(np.abs(v).max() > 0 for v in velocities)
    clf.partial_fit(X, y)                    # the velocities go on from where fit left them
    assert clf.n_iter_ == 3 and clf.score(X, y) > 0.9
    assert all(not np.array_equal(a, b) for a, b in zip(velocities, clf.optimizer_.velocities))


def test_partial_fit_needs_classes_and_known_labels(small):
    X, y = small
    with pytest.raises(ValueError, match="classes must be passed"):
        GlassnetClassifier().partial_fit(X, y)
    clf = GlassnetClassifier(random_state=0).partial_fit(X, y, classes=np.arange(11))
    assert clf.network_.sizes[-1] == 11           # a class not seen yet still has its neuron
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y + 20)


def test_string_and_noncontiguous_labels(small):
    X, y = small
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = GlassnetClassifier(epochs=5, random_state=0).fit(X, names[y])
    assert list(clf.classes_) == sorted(names)
    assert set(clf.predict(X)) <= set(names)
    plain = GlassnetClassifier(epochs=5, random_state=0).fit(X, y)
    odd = GlassnetClassifier(epochs=5, random_state=0).fit(X, 10 * y + 3)
    np.testing.assert_array_equal(odd.classes_, 10 * np.arange(10) + 3)
    # labels are only names for the output neurons: the same network, renamed predictions
    np.testing.assert_array_equal(odd.network_.weights[0], plain.network_.weights[0])
    np.testing.assert_array_equal(odd.predict(X), 10 * plain.predict(X) + 3)
    assert clf.score(X, names[y]) > 0.9


def test_same_random_state_same_predictions(small):
    X, y = small
    a = GlassnetClassifier(epochs=3, random_state=42).fit(X, y)
    b = clone(a).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = GlassnetClassifier(epochs=3, random_state=43).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))
    # a Generator drives everything too: two equal Generators give equal models
    g1 = GlassnetClassifier(epochs=3, random_state=np.random.default_rng(5)).fit(X, y)
    g2 = GlassnetClassifier(epochs=3, random_state=np.random.default_rng(5)).fit(X, y)
    np.testing.assert_array_equal(g1.predict_proba(X), g2.predict_proba(X))


def test_pickle_round_trip_keeps_predictions_and_training_state(small):
    X, y = small
    clf = GlassnetClassifier(epochs=2, momentum=0.5, random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert copy.network_.cost.name == "log-likelihood" and copy.network_.activation.name == "relu"
    book = GlassnetClassifier(**BOOK).fit(X, y)
    assert pickle.loads(pickle.dumps(book)).network_.cost.name == "quadratic"
    clf.partial_fit(X, y)                  # continuing after a round trip: the same next epoch
    copy.partial_fit(X, y)
    np.testing.assert_array_equal(copy.network_.weights[0], clf.network_.weights[0])


def test_early_stop_holds_out_validation(small):
    X, y = small
    clf = GlassnetClassifier(epochs=20, early_stop=2, validation_fraction=0.2, random_state=0).fit(X, y)
    assert "validation_accuracy" in clf.history_[0]
    assert clf.best_epoch_ is not None
    assert clf.stopped_ in ("completed", "early-stop")
    assert clf.n_iter_ == len(clf.history_) <= 20


def test_softmax_probabilities_and_bad_parameters(small):
    X, y = small
    clf = GlassnetClassifier(cost="log-likelihood", activation="relu", init="he", eta=0.1, epochs=3,
                             random_state=0).fit(X, y)
    assert clf.network_.output_activation.name == "softmax"
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    for bad in (dict(eta=-1.0), dict(hidden_layer_sizes=(0,)), dict(dtype="int32"), dict(cost="nope"),
                dict(early_stop=2, validation_fraction=1.5)):
        with pytest.raises(ValueError):
            GlassnetClassifier(epochs=1, **bad).fit(X, y)


def test_the_book_network_is_still_trainable(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline([("scale", StandardScaler()), ("net", GlassnetClassifier(**BOOK_CHAPTER_1, random_state=0))])
    assert pipe.fit(X_train, y_train).score(X_test, y_test) > 0.8      # N(0, 1) weights: the 0.85s
    net = pipe.named_steps["net"].network_
    assert net.sizes == [64, 30, 10] and net.cost.name == "quadratic" and net.activation.name == "sigmoid"


def test_a_layer_network_as_an_estimator():
    """GlassnetClassifier(layers=...) trains chapter 6's layers on 8x8 images (1, 8, 8)."""
    from sklearn.base import clone
    from sklearn.datasets import load_digits
    from glassnet.core.layernet import ConvPoolLayer, LayerNetwork
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    clf = GlassnetClassifier(layers="conv8x3:relu,pool2,fc40", epochs=8, mini_batch_size=20, eta=0.1,
                             l2=0.0, random_state=0).fit(X[:1200], y[:1200])
    assert isinstance(clf.network_, LayerNetwork) and isinstance(clf.network_.layers[0], ConvPoolLayer)
    assert clf.network_.layers[0].input_shape == (1, 8, 8)
    assert clf.score(X[1200:], y[1200:]) > 0.85
    np.testing.assert_allclose(clf.predict_proba(X[1200:]).sum(axis=1), 1.0, rtol=1e-12)
    again = clone(clf).fit(X[:1200], y[:1200])
    np.testing.assert_array_equal(again.predict_proba(X[1200:]), clf.predict_proba(X[1200:]))
    with pytest.raises(InputError, match="pool must follow"):
        GlassnetClassifier(layers="pool2").fit(X[:50], y[:50])
