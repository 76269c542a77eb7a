"""GlassnetClassifier: scikit-learn's estimator checks, pipelines, grid search, partial_fit, and
MLPClassifier's conventions (max_iter, verbose, warm_start, early_stopping, loss_curve_,
sample_weight, class_weight), one meaning of l2 for both kinds of network, deprecated aliases."""

import inspect
import os
import pickle
import signal
import threading
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import glassnet.sklearn
from glassnet import Network
from glassnet.errors import InputError
from glassnet.sklearn import BOOK_CHAPTER_1, GlassnetClassifier

#: the book's network with fewer epochs: the same code paths (sigmoid, quadratic cost, plain SGD)
BOOK = dict(BOOK_CHAPTER_1, max_iter=5)

#: the one check a stochastic trainer cannot meet (SGDClassifier is excused from it too)
NOT_EQUIVALENT = {
    "check_sample_weight_equivalence_on_dense_data": (
        "a weight of k is k repetitions on average only: weights resample the examples each epoch"
    )
}


# every other check runs and must pass; the defaults, the book's network and a layer network
@parametrize_with_checks(
    [GlassnetClassifier(), GlassnetClassifier(**BOOK_CHAPTER_1), GlassnetClassifier(layers="fc20", max_iter=30)],
    expected_failed_checks=lambda estimator: NOT_EQUIVALENT,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_defaults_are_the_documented_modern_recipe():
    clf = GlassnetClassifier()
    assert clf.get_params() == dict(
        hidden_layer_sizes=(100,),
        max_iter=100,
        mini_batch_size=32,
        eta=0.02,
        cost="log-likelihood",
        activation="relu",
        init="he",
        l2=50.0,
        momentum=0.9,
        schedule="constant",
        optimizer="sgd",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        class_weight=None,
        warm_start=False,
        verbose=False,
        dtype="float32",
        random_state=None,
        layers=None,
        epochs="deprecated",
        early_stop="deprecated",
    )
    doc = GlassnetClassifier.__doc__
    for default in (
        "(100,)",
        "default=100",
        "default=32",
        "default=0.02",
        'default="log-likelihood"',
        'default="relu"',
        'default="he"',
        "default=50.0",
        "default=0.9",
        "default=False",
        "default=10",
        "epochs : int, deprecated",
        "early_stop : int or None, deprecated",
    ):
        assert default in doc, default
    # the book's chapter 1 is reachable by explicit arguments, spelled out in the docstring
    assert BOOK_CHAPTER_1 == dict(
        hidden_layer_sizes=(30,),
        max_iter=30,
        mini_batch_size=10,
        eta=3.0,
        cost="quadratic",
        activation="sigmoid",
        init="standard",
        l2=0.0,
        momentum=0.0,
    )
    flat = " ".join(doc.split())  # Python 3.13 dedents docstrings: compare the words
    assert 'eta=3.0, cost="quadratic", activation="sigmoid", init="standard", l2=0.0, momentum=0.0)' in flat
    # MLPClassifier's names where it has the idea, with its defaults where glassnet has no reason to differ
    mlp = inspect.signature(MLPClassifier).parameters
    for name in (
        "hidden_layer_sizes",
        "activation",
        "max_iter",
        "momentum",
        "early_stopping",
        "validation_fraction",
        "n_iter_no_change",
        "warm_start",
        "verbose",
        "random_state",
    ):
        assert name in mlp, name
    for name in ("early_stopping", "validation_fraction", "n_iter_no_change", "warm_start", "verbose"):
        assert clf.get_params()[name] == mlp[name].default, name
    assert "sample_weight" in inspect.signature(GlassnetClassifier.fit).parameters
    assert list(inspect.signature(GlassnetClassifier.partial_fit).parameters) == [
        "self",
        "X",
        "y",
        "classes",
        "sample_weight",
    ]


def test_the_dead_pickling_workaround_is_gone():
    """A plain Network pickles by its activations' and cost's names now."""
    assert not hasattr(glassnet.sklearn, "_PicklableNetwork") and not hasattr(glassnet.sklearn, "_rebuild_network")
    assert "__getstate__" not in vars(GlassnetClassifier)
    net = Network([4, 3, 2], seed=0, cost="log-likelihood", activation="relu")
    back = pickle.loads(pickle.dumps(net))
    x = np.ones((1, 4), np.float32)
    np.testing.assert_array_equal(back.feedforward(x), net.feedforward(x))
    assert "import" not in inspect.getsource(glassnet.sklearn).split("__all__")[1]


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
    search = GridSearchCV(
        GlassnetClassifier(max_iter=3, random_state=0), {"eta": [0.005, 0.02]}, cv=2, n_jobs=2, error_score="raise"
    )
    search.fit(X, y)
    assert search.best_params_["eta"] in (0.005, 0.02)
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert search.best_estimator_.score(X, y) > 0.5


@pytest.mark.parametrize(
    "options",
    [
        {"momentum": 0.0},
        {"momentum": 0.0, "schedule": "cosine", "l2": 1.0},
        {k: v for k, v in BOOK.items() if k != "max_iter"},
        {},
        {"schedule": "cosine"},
    ],
)
def test_partial_fit_equals_fit_epoch_by_epoch(small, options):
    """n calls are n epochs of fit, with momentum too (its velocities carry over between calls)."""
    X, y = small
    whole = GlassnetClassifier(max_iter=3, random_state=7, **options).fit(X, y)
    steps = GlassnetClassifier(max_iter=3, random_state=7, **options)
    steps.partial_fit(X, y, classes=np.arange(10))
    steps.partial_fit(X, y)
    steps.partial_fit(X, y)
    for a, b in zip(whole.network_.weights + whole.network_.biases, steps.network_.weights + steps.network_.biases):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(whole.predict(X), steps.predict(X))
    assert [h["epoch"] for h in steps.history_] == [0, 1, 2]
    for h1, h2 in zip(whole.history_, steps.history_):
        assert h1["training_accuracy"] == h2["training_accuracy"]


def test_partial_fit_continues_fit_and_its_momentum(small):
    X, y = small
    clf = GlassnetClassifier(max_iter=2, random_state=0).fit(X, y)
    velocities = [v.copy() for v in clf.optimizer_.velocities]
    assert any(np.abs(v).max() > 0 for v in velocities)
    clf.partial_fit(X, y)  # the velocities go on from where fit left them
    assert clf.n_iter_ == 3 and clf.score(X, y) > 0.9
    assert all(not np.array_equal(a, b) for a, b in zip(velocities, clf.optimizer_.velocities))


def test_partial_fit_needs_classes_and_known_labels(small):
    X, y = small
    with pytest.raises(ValueError, match="classes must be passed"):
        GlassnetClassifier().partial_fit(X, y)
    clf = GlassnetClassifier(random_state=0).partial_fit(X, y, classes=np.arange(11))
    assert clf.network_.sizes[-1] == 11  # a class not seen yet still has its neuron
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y + 20)


def test_string_and_noncontiguous_labels(small):
    X, y = small
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = GlassnetClassifier(max_iter=5, random_state=0).fit(X, names[y])
    assert list(clf.classes_) == sorted(names)
    assert set(clf.predict(X)) <= set(names)
    plain = GlassnetClassifier(max_iter=5, random_state=0).fit(X, y)
    odd = GlassnetClassifier(max_iter=5, random_state=0).fit(X, 10 * y + 3)
    np.testing.assert_array_equal(odd.classes_, 10 * np.arange(10) + 3)
    # labels are only names for the output neurons: the same network, renamed predictions
    np.testing.assert_array_equal(odd.network_.weights[0], plain.network_.weights[0])
    np.testing.assert_array_equal(odd.predict(X), 10 * plain.predict(X) + 3)
    assert clf.score(X, names[y]) > 0.9


def test_same_random_state_same_predictions(small):
    X, y = small
    a = GlassnetClassifier(max_iter=3, random_state=42).fit(X, y)
    b = clone(a).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = GlassnetClassifier(max_iter=3, random_state=43).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))
    # a Generator drives everything too: two equal Generators give equal models
    g1 = GlassnetClassifier(max_iter=3, random_state=np.random.default_rng(5)).fit(X, y)
    g2 = GlassnetClassifier(max_iter=3, random_state=np.random.default_rng(5)).fit(X, y)
    np.testing.assert_array_equal(g1.predict_proba(X), g2.predict_proba(X))


def test_pickle_round_trip_keeps_predictions_and_training_state(small):
    X, y = small
    clf = GlassnetClassifier(max_iter=2, momentum=0.5, random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert copy.network_.cost.name == "log-likelihood" and copy.network_.activation.name == "relu"
    book = GlassnetClassifier(**BOOK).fit(X, y)
    assert pickle.loads(pickle.dumps(book)).network_.cost.name == "quadratic"
    clf.partial_fit(X, y)  # continuing after a round trip: the same next epoch
    copy.partial_fit(X, y)
    np.testing.assert_array_equal(copy.network_.weights[0], clf.network_.weights[0])


def test_early_stopping_holds_out_a_stratified_validation_part(small):
    X, y = small
    clf = GlassnetClassifier(
        max_iter=40, early_stopping=True, n_iter_no_change=2, validation_fraction=0.2, random_state=0
    ).fit(X, y)
    assert "validation_accuracy" in clf.history_[0]
    assert clf.stopped_ == "early-stop" and clf.n_iter_ == len(clf.history_) < 40
    assert clf.validation_scores_ == [h["validation_accuracy"] for h in clf.history_]
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.validation_scores_[clf.best_epoch_] == clf.best_validation_score_
    assert clf.n_iter_ - 1 - clf.best_epoch_ == 2  # stopped after n_iter_no_change epochs without gain
    # 60 of the 300 held out, stratified: each class's share as in the whole
    settings = dict(early_stopping=True)
    (X_train, y_train, _), (X_held, y_held) = clf._held_out(X, y, None, np.random.default_rng(0), settings)
    assert len(y_held) == 60 and len(y_train) == 240
    np.testing.assert_allclose(np.bincount(y_held, minlength=10) / 60, np.bincount(y, minlength=10) / 300, atol=0.02)


def test_softmax_probabilities_and_bad_parameters(small):
    X, y = small
    clf = GlassnetClassifier(
        cost="log-likelihood", activation="relu", init="he", eta=0.1, max_iter=3, random_state=0
    ).fit(X, y)
    assert clf.network_.output_activation.name == "softmax"
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    for bad, message in (
        (dict(eta=-1.0), "eta"),
        (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
        (dict(dtype="int32"), "dtype"),
        (dict(cost="nope"), "nope"),
        (dict(early_stopping=True, validation_fraction=1.5), "validation_fraction"),
        (dict(max_iter=0), "max_iter"),
        (dict(n_iter_no_change=1.5), "n_iter_no_change"),
        (dict(early_stopping="yes"), "early_stopping"),
        (dict(l2=-1.0), "l2"),
        (dict(class_weight="nope"), "class_weight"),
    ):
        with pytest.raises(ValueError, match=message):
            GlassnetClassifier(**{"max_iter": 1, **bad}).fit(X, y)


def test_the_book_network_is_still_trainable(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline([("scale", StandardScaler()), ("net", GlassnetClassifier(**BOOK_CHAPTER_1, random_state=0))])
    assert pipe.fit(X_train, y_train).score(X_test, y_test) > 0.8  # N(0, 1) weights: the 0.85s
    net = pipe.named_steps["net"].network_
    assert net.sizes == [64, 30, 10] and net.cost.name == "quadratic" and net.activation.name == "sigmoid"


def test_a_layer_network_as_an_estimator():
    """GlassnetClassifier(layers=...) trains chapter 6's layers on 8x8 images (1, 8, 8)."""
    from sklearn.base import clone
    from sklearn.datasets import load_digits

    from glassnet.core.layernet import ConvPoolLayer, LayerNetwork

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    clf = GlassnetClassifier(
        layers="conv8x3:relu,pool2,fc40", max_iter=8, mini_batch_size=20, eta=0.1, l2=0.0, random_state=0
    ).fit(X[:1200], y[:1200])
    assert isinstance(clf.network_, LayerNetwork) and isinstance(clf.network_.layers[0], ConvPoolLayer)
    assert clf.network_.layers[0].input_shape == (1, 8, 8)
    assert clf.score(X[1200:], y[1200:]) > 0.85
    np.testing.assert_allclose(clf.predict_proba(X[1200:]).sum(axis=1), 1.0, rtol=1e-12)
    again = clone(clf).fit(X[:1200], y[:1200])
    np.testing.assert_array_equal(again.predict_proba(X[1200:]), clf.predict_proba(X[1200:]))
    with pytest.raises(InputError, match="pool must follow"):
        GlassnetClassifier(layers="pool2").fit(X[:50], y[:50])


# -- MLPClassifier's conventions ---------------------------------------------------------------
def test_deprecated_epochs_and_early_stop_still_work_with_a_warning(small):
    X, y = small
    with pytest.warns(FutureWarning, match="epochs is deprecated.*max_iter=3"):
        old = GlassnetClassifier(epochs=3, random_state=0).fit(X, y)
    new = GlassnetClassifier(max_iter=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(old.predict_proba(X), new.predict_proba(X))
    assert old.n_iter_ == 3
    with pytest.warns(FutureWarning, match="early_stop=k is early_stopping=True, n_iter_no_change=k"):
        old = GlassnetClassifier(max_iter=30, early_stop=2, random_state=0).fit(X, y)
    new = GlassnetClassifier(max_iter=30, early_stopping=True, n_iter_no_change=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(old.predict_proba(X), new.predict_proba(X))
    assert old.n_iter_ == new.n_iter_ and old.validation_scores_ is not None
    with pytest.raises(ValueError, match="early_stop must be an integer"), pytest.warns(FutureWarning):
        GlassnetClassifier(early_stop=0.5).fit(X, y)
    # the aliases are ordinary parameters: get_params, set_params and clone keep them
    clf = GlassnetClassifier(epochs=4)
    assert clf.get_params()["epochs"] == 4 and clone(clf).epochs == 4
    assert clone(clf.set_params(epochs=6, early_stop=3)).get_params()["early_stop"] == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names warn of nothing
        GlassnetClassifier(max_iter=2, early_stopping=True, random_state=0).fit(X, y)


def test_verbose_prints_each_epoch_as_mlpclassifier_does(small, capsys):
    X, y = small
    clf = GlassnetClassifier(max_iter=3, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2", "Iteration 3"]
    assert lines[-1] == f"Iteration 3, loss = {clf.loss_:.8f}"
    clf.set_params(max_iter=1, warm_start=True).fit(X, y)  # numbering goes on with the network
    assert capsys.readouterr().out.startswith("Iteration 4, loss = ")
    GlassnetClassifier(max_iter=50, early_stopping=True, n_iter_no_change=1, verbose=1, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Validation score: " in out and out.rstrip().endswith("for 1 consecutive epochs. Stopping.")
    GlassnetClassifier(max_iter=3, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""  # silent by default


def test_loss_curve_and_n_iter(small):
    X, y = small
    clf = GlassnetClassifier(max_iter=6, random_state=0).fit(X, y)
    assert clf.n_iter_ == len(clf.loss_curve_) == 6
    assert clf.loss_curve_ == [h["training_cost"] for h in clf.history_] and clf.loss_ == clf.loss_curve_[-1]
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None and clf.best_epoch_ is None
    clf.partial_fit(X, y)
    assert clf.n_iter_ == len(clf.loss_curve_) == 7


def test_warm_start_trains_the_same_network_on(small):
    X, y = small
    whole = GlassnetClassifier(max_iter=4, random_state=3).fit(X, y)
    clf = GlassnetClassifier(max_iter=2, warm_start=True, random_state=3).fit(X, y)
    first = clf.network_
    clf.fit(X, y)
    assert clf.network_ is first and clf.n_iter_ == 4 and [h["epoch"] for h in clf.history_] == [0, 1, 2, 3]
    for a, b in zip(whole.network_.parameters(), clf.network_.parameters()):
        np.testing.assert_array_equal(a, b)  # 2 + 2 epochs are 4 epochs
    cold = clf.set_params(warm_start=False).fit(X, y)  # a new network, as without warm_start
    assert cold.network_ is not first and cold.n_iter_ == 2
    with pytest.raises(ValueError, match="warm_start needs the classes"):
        clf.set_params(warm_start=True).fit(X[y < 5], y[y < 5])
    with pytest.raises(ValueError, match="features"):
        clf.fit(X[:, :10], y)


def test_ctrl_c_stops_a_fit_and_keeps_the_network(small, monkeypatch, capsys):
    """SIGINT during fit ends it after the current mini-batch, with a warning, as MLPClassifier does."""
    X, y = small
    before = signal.getsignal(signal.SIGINT)

    def ctrl_c_at_epoch_5(offset):  # the verbose callback, pressing Ctrl-C after epoch 5
        def callback(network, record):
            if record["epoch"] == 4:
                os.kill(os.getpid(), signal.SIGINT)

        return callback

    monkeypatch.setattr(GlassnetClassifier, "_reporter", staticmethod(ctrl_c_at_epoch_5))
    with pytest.warns(UserWarning, match="interrupted"):
        clf = GlassnetClassifier(max_iter=1000, verbose=True, random_state=0).fit(X, y)
    assert clf.stopped_ == "interrupted" and clf.n_iter_ == 5
    assert clf.score(X, y) > 0.9
    assert signal.getsignal(signal.SIGINT) is before
    # in another thread Ctrl-C is the main thread's business: the fit installs nothing
    done = []
    thread = threading.Thread(target=lambda: done.append(GlassnetClassifier(max_iter=2).fit(X, y)))
    thread.start()
    thread.join()
    assert done and done[0].n_iter_ == 2


# -- sample_weight and class_weight ----------------------------------------------------------------
def test_weighted_order_draws_each_row_its_share():
    from glassnet.sklearn import _weighted_order

    p = np.array([0.0, 1.0, 2.5, 0.5, 6.0]) / 10
    rng = np.random.default_rng(0)
    counts = np.array([np.bincount(_weighted_order(p, 20, rng), minlength=5) for _ in range(4000)])
    assert np.all(counts.sum(axis=1) == 20)
    expected = 20 * p  # 0, 2, 5, 1, 12: whole numbers are drawn exactly
    assert np.all(counts == expected)
    odd = np.array([1.0, 1.0, 1.0]) / 3  # 10 rows from 3: 3 each surely, one more at random
    counts = np.array([np.bincount(_weighted_order(odd, 10, rng), minlength=3) for _ in range(6000)])
    assert set(np.unique(counts)) == {3, 4}
    np.testing.assert_allclose(counts.mean(axis=0), 10 / 3, atol=0.03)
    order = _weighted_order(odd, 10, rng)
    assert list(order) != sorted(order)  # in a random order


def test_equal_weights_are_the_unweighted_fit_exactly(small):
    X, y = small
    plain = GlassnetClassifier(max_iter=3, random_state=0).fit(X, y)
    for weights in (np.full(len(y), 2.5), np.ones(len(y)).tolist()):
        weighted = GlassnetClassifier(max_iter=3, random_state=0).fit(X, y, sample_weight=weights)
        np.testing.assert_array_equal(plain.predict_proba(X), weighted.predict_proba(X))
    balanced_data = np.repeat(np.arange(10), 30)
    a = GlassnetClassifier(max_iter=2, random_state=0).fit(X, balanced_data)
    b = GlassnetClassifier(max_iter=2, class_weight="balanced", random_state=0).fit(X, balanced_data)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_weights_act_as_repetition_and_zero_as_removal(digits):
    X_train, X_test, y_train, _ = digits
    scaler = StandardScaler().fit(X_train)
    X, T = scaler.transform(X_train), scaler.transform(X_test)
    w = np.random.default_rng(1).integers(0, 4, size=len(X))
    repeated = GlassnetClassifier(max_iter=30, random_state=0).fit(np.repeat(X, w, axis=0), np.repeat(y_train, w))
    weighted = GlassnetClassifier(max_iter=30, random_state=0).fit(X, y_train, sample_weight=w)
    assert np.mean(repeated.predict(T) == weighted.predict(T)) > 0.95
    # a class weighted 0 is never learnt: the network never predicts it
    zero = GlassnetClassifier(max_iter=30, class_weight={3: 0.0}, random_state=0).fit(X, y_train)
    assert np.mean(zero.predict(T) == 3) < 0.01
    dropped = GlassnetClassifier(max_iter=30, random_state=0).fit(X, y_train, sample_weight=(y_train != 3) * 1.0)
    assert np.mean(dropped.predict(T) == 3) < 0.01


def test_weighted_epochs_take_the_same_steps_in_every_engine(small):
    """The compiled kernels read the weighted draw (rows repeated) as the core's NumPy steps do."""
    from glassnet.core.model import NumpyEngine, resolve_engine
    from glassnet.sklearn import _WeightedEpochs
    from glassnet.training import TrainingConfig, fit
    from glassnet.training.layerspec import layer_network

    X, y = small
    X = X.astype(np.float32)
    w = np.random.default_rng(2).integers(0, 3, size=len(X)).astype(float)
    for make in (
        lambda: Network([64, 20, 10], seed=4, cost="cross-entropy"),
        lambda: layer_network("conv4x3,pool2,fc20", (1, 8, 8), 10, activation="relu", seed=4),
    ):
        if isinstance(resolve_engine("auto", make(), 10), NumpyEngine):
            pytest.skip("no compiled kernel was built here")
        nets = []
        for engine in ("auto", "numpy"):
            net = make()
            inner = resolve_engine(engine, net, 10)
            fit(net, (X, y), TrainingConfig(epochs=2, mini_batch_size=10, eta=0.05), engine=_WeightedEpochs(w, inner))
            nets.append(net)
        for a, b in zip(nets[0].parameters(), nets[1].parameters()):
            np.testing.assert_allclose(a, b, atol=2e-5)


def test_sample_weight_checks_and_partial_fit(small):
    X, y = small
    for bad, message in ((np.ones(len(y) - 1), "shape"), (-np.ones(len(y)), ">= 0"), (np.zeros(len(y)), "all zero")):
        with pytest.raises(ValueError, match=message):
            GlassnetClassifier(max_iter=1).fit(X, y, sample_weight=bad)
    with pytest.raises(ValueError, match="balanced.*partial_fit"):
        GlassnetClassifier(class_weight="balanced").partial_fit(X, y, classes=np.arange(10))
    clf = GlassnetClassifier(class_weight={0: 2.0}, random_state=0)
    clf.partial_fit(X, y, np.arange(10), sample_weight=np.linspace(0.5, 1.5, len(y)))
    clf.partial_fit(X, y, sample_weight=np.linspace(0.5, 1.5, len(y)))
    assert clf.n_iter_ == 2 and clf.score(X, y) > 0.8


# -- l2: one meaning for both kinds of network -------------------------------------------------------
@pytest.mark.parametrize("layers", [None, "fc12", "conv3x3,pool2,fc12"])
def test_l2_shrinks_every_weight_by_eta_l2_over_n_a_step_for_every_kind(small, layers):
    """One step (one mini-batch of all n examples, no momentum): the weights with l2 are those
    without, less eta l2 / n times the weights before the step -- the book's eq. 93 for every kind."""
    X, y = small
    n, eta, l2 = len(X), 0.05, 30.0

    def one_step(**kw):
        clf = GlassnetClassifier(
            hidden_layer_sizes=(12,),
            layers=layers,
            mini_batch_size=n,
            momentum=0.0,
            random_state=5,
            dtype="float64",
            **kw,
        )
        return clf.partial_fit(X, y, classes=np.arange(10)).network_.parameters()

    before, without, with_l2 = one_step(eta=0.0, l2=0.0), one_step(eta=eta, l2=0.0), one_step(eta=eta, l2=l2)
    for k, (w0, a, b) in enumerate(zip(before, without, with_l2)):
        shrink = eta * l2 / n * w0 if k % 2 == 0 else 0.0 * w0  # weights (w0, b0, w1, ...): biases untouched
        np.testing.assert_allclose(b, a - shrink, atol=1e-12)


def test_l2_reaches_a_layer_network_scaled_for_its_rule_and_momentum():
    from glassnet.training.layerspec import layer_network

    dense = Network([64, 10, 10], seed=0)
    layered = layer_network("fc10", (64,), 10, seed=0)
    assert (dense.l2_rule, layered.l2_rule) == ("decay", "gradient")  # the protocol says which
    weights = [p.copy() for p in dense.parameters()]
    dense.decay(0.5, 1.0, 1)
    assert all(np.array_equal(a * np.float32(0.5), b) for a, b in zip(weights[::2], dense.parameters()[::2]))
    layered_weights = [p.copy() for p in layered.parameters()]
    layered.decay(0.5, 1.0, 1)  # its L2 is in its gradient: no decay
    assert all(np.array_equal(a, b) for a, b in zip(layered_weights, layered.parameters()))
    dense = Network([64, 10, 10], seed=0)
    clf = GlassnetClassifier(l2=50.0, momentum=0.9, mini_batch_size=32)
    clf.network_ = dense
    assert clf._l2(1000) == 50.0
    clf.network_ = layered  # 31 mini-batches of 32 in 1,000 examples
    assert clf._l2(1000) == pytest.approx(50.0 * 0.1 * 31 / 1000)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_convolutional_network_learns_the_digits_with_the_defaults(seed):
    """The issue's example: GlassnetClassifier(layers="conv20x5,pool2,fc100") scored 0.08-0.10 with
    the dense L2 of 50 read as network3's lambda; with one meaning of l2 the defaults learn."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    pipe = Pipeline(
        [("scale", StandardScaler()), ("net", GlassnetClassifier(layers="conv20x5,pool2,fc100", random_state=seed))]
    )
    assert pipe.fit(X_train, y_train).score(X_test, y_test) >= 0.95
