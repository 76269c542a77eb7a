"""The estimator's ``optimizer`` and ``schedule="one-cycle"``: ``glassnet train --optimizer adam
--schedule one-cycle`` under the same names, by the same code (``training.optimizers.Adam``,
``training.schedules.one_cycle_eta``), with Adam's state carried through partial_fit and warm
starts as momentum's is."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_sklearn import NOT_EQUIVALENT

import glassnet
from glassnet.cli import main
from glassnet.datasets import load_dataset
from glassnet.sklearn import GlassnetClassifier
from glassnet.training.optimizers import SGD, Adam, Momentum
from glassnet.training.schedules import one_cycle_eta


@parametrize_with_checks(
    [GlassnetClassifier(optimizer="adam", schedule="one-cycle", max_iter=30)],
    expected_failed_checks=lambda estimator: NOT_EQUIVALENT,
)
def test_sklearn_estimator_checks_with_adam_and_one_cycle(estimator, check):
    check(estimator)


def params(net):
    return [p.copy() for p in net.parameters()]


def same(a, b):
    return len(a) == len(b) and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b))


def test_the_parameters_are_stored_cloned_and_documented():
    clf = GlassnetClassifier(optimizer="adam", schedule="one-cycle", eta=0.005)
    got = clf.get_params()
    assert got["optimizer"] == "adam" and got["schedule"] == "one-cycle"
    assert GlassnetClassifier().get_params()["optimizer"] == "sgd"
    copy = clone(clf)
    assert copy is not clf and copy.get_params() == got
    assert clf.set_params(optimizer="sgd", schedule="cosine") is clf
    assert clf.optimizer == "sgd" and clf.schedule == "cosine" and copy.optimizer == "adam"
    # __init__ stores only: a bad value is taken as it is and refused by fit
    assert GlassnetClassifier(optimizer="rmsprop").optimizer == "rmsprop"
    flat = " ".join(GlassnetClassifier.__doc__.split())
    for words in (
        'optimizer : {"sgd", "adam"}, default="sgd"',
        'schedule : {"constant", "halve", "cosine", "one-cycle"}, default="constant"',
        "Adam's moment estimates m and v and its step count t",
    ):
        assert words in flat, words


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(optimizer="rmsprop"), "optimizer must be one of 'sgd', 'adam', got 'rmsprop'"),
        (dict(optimizer=None), "optimizer must be one of 'sgd', 'adam', got None"),
        (dict(optimizer="Adam"), "got 'Adam'"),
        (dict(schedule="one_cycle"), "schedule must be one of 'constant', 'halve', 'cosine', 'one-cycle', got"),
    ],
)
def test_a_bad_optimizer_or_schedule_is_named(small, bad, message):
    X, y = small
    clf = GlassnetClassifier(max_iter=1, **bad)
    for call in (lambda: clf.fit(X, y), lambda: clf.partial_fit(X, y, classes=np.arange(10))):
        with pytest.raises(ValueError, match=message):
            call()
    assert not hasattr(clf, "network_")  # refused before anything was trained


def test_adam_and_one_cycle_learn_the_digits(digits):
    X_train, X_test, y_train, y_test = digits
    for schedule in ("constant", "one-cycle"):
        clf = GlassnetClassifier(optimizer="adam", schedule=schedule, max_iter=30, random_state=0)
        pipe = Pipeline([("scale", StandardScaler()), ("net", clf)]).fit(X_train, y_train)
        assert pipe.score(X_test, y_test) > 0.95, schedule
        n_batches = -(-len(X_train) // 32)
        assert type(clf.optimizer_) is Adam and clf.optimizer_.t == 30 * n_batches
        assert clf.history_[-1]["training_accuracy"] > 0.99
    # one-cycle's rates, as the loop records them: eta/25 at the first step, eta/1e4 at the last
    assert clf.history_[0]["eta"] == pytest.approx(0.02 / 25) and clf.history_[-1]["eta_last"] == pytest.approx(2e-6)


@pytest.mark.parametrize(
    "cli, options",
    [
        (
            ["--sizes", "64,30,10", "--cost", "log-likelihood", "--init", "he", "--l2", "5"],
            dict(hidden_layer_sizes=(30,), cost="log-likelihood", init="he", l2=5.0),
        ),
        # a layer network's L2 is scaled by the estimator (see its l2), so none here
        (["--layers", "fc30", "--l2", "0"], dict(layers="fc30", l2=0.0)),
    ],
    ids=["network", "layers"],
)
def test_the_estimator_is_glassnet_train_with_the_same_options(tmp_path, capsys, cli, options):
    """``glassnet train --optimizer adam --schedule one-cycle`` on the digits and the estimator fitted
    on the same training images with the same seed end with the very same weights; SGD does not."""
    path = tmp_path / "cli.npz"
    common = ["--dataset", "digits", "--activation", "relu", "--epochs", "2", "--mini-batch-size", "32"]
    args = ["train", *common, "--eta", "0.01", "--optimizer", "adam", "--schedule", "one-cycle", "--seed", "3"]
    assert main([*args, *cli, "--save", str(path)]) == 0
    assert "Adam, one-cycle schedule" in capsys.readouterr().err
    trained = glassnet.load(path)
    training = load_dataset("digits", seed=3)[0]
    kw = dict(activation="relu", max_iter=2, mini_batch_size=32, eta=0.01, random_state=3, **options)
    adam = GlassnetClassifier(optimizer="adam", schedule="one-cycle", **kw).fit(training.X, training.y)
    assert same(params(trained), params(adam.network_))
    sgd = GlassnetClassifier(optimizer="sgd", schedule="one-cycle", momentum=0.0, **kw).fit(training.X, training.y)
    assert type(sgd.optimizer_) is SGD
    assert all(not np.array_equal(a, b) for a, b in zip(params(sgd.network_), params(adam.network_)))


@pytest.mark.parametrize("schedule", ["constant", "one-cycle", "cosine"])
@pytest.mark.parametrize("layers", [None, "fc20"])
def test_partial_fit_with_adam_equals_fit_epoch_by_epoch(small, schedule, layers):
    """Adam's moments and step count carry over from call to call, and call j takes epoch j's
    rates of a max_iter-epoch schedule: three calls are a fit of three epochs, bit for bit."""
    X, y = small
    kw = dict(optimizer="adam", schedule=schedule, layers=layers, max_iter=3, random_state=7, l2=5.0)
    whole = GlassnetClassifier(**kw).fit(X, y)
    steps = GlassnetClassifier(**kw)
    for k in range(3):
        steps.partial_fit(X, y, classes=np.arange(10) if k == 0 else None)
    assert same(params(whole.network_), params(steps.network_))
    assert whole.optimizer_.t == steps.optimizer_.t == 3 * 10  # 300 examples, mini-batches of 32
    assert same(whole.optimizer_.state(), steps.optimizer_.state())
    for h1, h2 in zip(whole.history_, steps.history_):
        assert (h1["eta"], h1.get("eta_last")) == (h2["eta"], h2.get("eta_last"))
        assert h1["training_accuracy"] == h2["training_accuracy"]
    if schedule == "one-cycle":  # the rates of the whole run's steps 10 .. 19 in the second call
        assert steps.history_[1]["eta"] == one_cycle_eta(0.02, 10, 30)
        assert steps.history_[1]["eta_last"] == one_cycle_eta(0.02, 19, 30)


def test_partial_fit_one_cycle_with_weights_takes_the_same_rates(small):
    """The rates of an epoch and a weighted draw together: equal weights are the unweighted run."""
    X, y = small
    kw = dict(optimizer="adam", schedule="one-cycle", max_iter=2, random_state=1)
    plain, weighted = GlassnetClassifier(**kw), GlassnetClassifier(**kw)
    for _ in range(2):
        plain.partial_fit(X, y, classes=np.arange(10))
        weighted.partial_fit(X, y, classes=np.arange(10), sample_weight=np.full(len(y), 2.0))
    assert same(params(plain.network_), params(weighted.network_))
    uneven = np.arange(len(y)) % 3  # a weighted draw: two calls are the two-epoch fit, bit for bit
    skewed = GlassnetClassifier(**kw)
    for _ in range(2):
        skewed.partial_fit(X, y, classes=np.arange(10), sample_weight=uneven)
    whole = GlassnetClassifier(**kw).fit(X, y, sample_weight=uneven)
    assert same(params(skewed.network_), params(whole.network_)) and skewed.optimizer_.t == whole.optimizer_.t
    assert not same(params(plain.network_), params(skewed.network_))


def test_warm_start_with_adam_continues_its_moments_and_a_new_optimizer_starts_afresh(small):
    X, y = small
    kw = dict(optimizer="adam", random_state=3)
    whole = GlassnetClassifier(max_iter=4, **kw).fit(X, y)
    clf = GlassnetClassifier(max_iter=2, warm_start=True, **kw).fit(X, y)
    adam = clf.optimizer_
    assert type(adam) is Adam and adam.t == 20
    moments = [a.copy() for a in adam.state()]
    clf.fit(X, y)  # two more epochs, the same Adam: its bias correction goes on from t = 20
    assert clf.optimizer_ is adam and adam.t == 40 and clf.n_iter_ == 4
    assert not same(moments, adam.state())
    assert same(params(whole.network_), params(clf.network_))  # 2 + 2 epochs are 4 epochs
    # another optimizer (or momentum) by set_params: a fresh one, on the same network
    clf.set_params(optimizer="sgd", momentum=0.5).fit(X, y)
    assert type(clf.optimizer_) is Momentum and clf.optimizer_.momentum == 0.5 and clf.n_iter_ == 6
    clf.set_params(optimizer="adam").fit(X, y)
    assert type(clf.optimizer_) is Adam and clf.optimizer_ is not adam and clf.optimizer_.t == 20
    # a cold fit: a new network and a new Adam
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.optimizer_.t == 20 and clf.n_iter_ == 2


@pytest.mark.parametrize("layers", [None, "fc20"])
def test_adam_does_not_use_momentum(small, layers):
    """momentum is SGD's (MLPClassifier's is its sgd solver's): with Adam any value trains the same
    network, the L2 of a layer network included (scaled as for momentum 0)."""
    X, y = small
    kw = dict(optimizer="adam", layers=layers, max_iter=2, random_state=0, l2=20.0)
    a = GlassnetClassifier(momentum=0.9, **kw).fit(X, y)
    b = GlassnetClassifier(momentum=0.0, **kw).fit(X, y)
    assert same(params(a.network_), params(b.network_))
    assert a.optimizer_.momentum == 0.0
    if layers is not None:
        assert a._l2(len(X)) == 20.0 * a.network_.l2_count(len(X), 32) / len(X)


def test_a_saved_adam_estimator_loads_with_its_options_and_a_fresh_adam(small, tmp_path):
    X, y = small
    clf = GlassnetClassifier(optimizer="adam", schedule="one-cycle", max_iter=2, random_state=0).fit(X, y)
    back = glassnet.load(glassnet.save(clf, tmp_path / "adam.npz"))
    assert back.get_params()["optimizer"] == "adam" and back.get_params()["schedule"] == "one-cycle"
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    assert not hasattr(back, "optimizer_") or back.optimizer_ is None
    back.partial_fit(X, y)  # the file keeps the network only: Adam starts again at t = 0
    assert type(back.optimizer_) is Adam and back.optimizer_.t == 10 and back.n_iter_ == 3
