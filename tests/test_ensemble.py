"""Ensembles (chapter 6): the combining rules by hand, the model file, parallel training."""

import json

import numpy as np
import pytest

from glassnet import Network
from glassnet.core.ensemble import Ensemble, vote
from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
from glassnet.errors import InputError, ModelFormatError
from glassnet.io import ENSEMBLE_FORMAT_VERSION, load, read_npz, save, save_ensemble, write_npz
from glassnet.training import TrainingConfig, fit
from glassnet.training.augment import Augmenter
from glassnet.training.ensemble import layer_builder, train_ensemble

# Three members' probabilities on three samples (rows), three classes (columns).
#   sample 0: predictions 0, 1, 1 -> vote 1; mean (1.0, 1.35, 0.65)/3 -> 1
#   sample 1: predictions 0, 1, 1 -> vote 1; mean (1.55, 0.90, 0.55)/3 -> 0   (the rules differ)
#   sample 2: predictions 0, 1, 2 -> a three-way tie; mean (0.6, 1.15, 1.25)/3 -> 2, so the vote is 2
P = np.array(
    [
        [[0.5, 0.3, 0.2], [0.9, 0.05, 0.05], [0.4, 0.3, 0.3]],
        [[0.1, 0.6, 0.3], [0.3, 0.4, 0.3], [0.1, 0.5, 0.4]],
        [[0.4, 0.45, 0.15], [0.35, 0.45, 0.2], [0.1, 0.35, 0.55]],
    ]
)
X_ONE_HOT = np.eye(3)


def member_with(probabilities):
    """A softmax Network whose output on the one-hot input e_s is probabilities[s]:
    z = W e_s = ln p_s, and softmax(ln p) = p."""
    W = np.log(probabilities).T  # (classes, inputs): column s is ln p_s
    return Network([3, 3], cost="log-likelihood", weights=[W], biases=[np.zeros(3)])


def test_mean_and_vote_match_the_hand_computation():
    members = [member_with(p) for p in P]
    mean = Ensemble(members, combine="mean")
    np.testing.assert_allclose(mean.feedforward(X_ONE_HOT), P.mean(axis=0), rtol=1e-12)
    assert mean.predict(X_ONE_HOT).tolist() == [1, 0, 2]
    assert Ensemble(members, combine="vote").predict(X_ONE_HOT).tolist() == [1, 1, 2]
    y = np.array([1, 1, 0])
    cost, correct = mean.measure(X_ONE_HOT, y)
    assert correct == 1
    assert cost == pytest.approx(-(np.log(1.35 / 3) + np.log(0.90 / 3) + np.log(0.6 / 3)) / 3, rel=1e-12)
    assert Ensemble(members, combine="vote").measure(X_ONE_HOT, y) == (pytest.approx(cost), 2)
    assert mean.evaluate((X_ONE_HOT, y)) == 1
    assert mean.breakdown(X_ONE_HOT, y) == {"mean": 1, "vote": 2, "members": [1, 2, 2]}


def test_vote_ties_go_to_the_largest_mean_probability_then_the_lowest_class():
    mean = np.array([[0.2, 0.5, 0.3], [0.4, 0.2, 0.4], [0.1, 0.1, 0.8]])
    predictions = np.array([[0, 0, 2], [1, 2, 2], [2, 1, 0]])  # (members, samples)
    # sample 0: votes 0,1,2 tie -> class 1 (mean 0.5); sample 1: 0 and 2 tie with equal means -> 0;
    # sample 2: class 2 wins 2 votes to 1
    assert vote(predictions, mean).tolist() == [1, 0, 2]


def test_sigmoid_members_count_through_normalised_outputs():
    net = Network([3, 4, 3], seed=0)  # quadratic cost, sigmoid outputs
    A = net.feedforward(X_ONE_HOT).astype(np.float64)
    ens = Ensemble([net])
    np.testing.assert_allclose(ens.feedforward(X_ONE_HOT), A / A.sum(axis=1, keepdims=True), rtol=1e-6)
    assert ens.predict(X_ONE_HOT).tolist() == net.predict(X_ONE_HOT).tolist()


def test_members_must_agree_and_bad_arguments_are_named():
    with pytest.raises(InputError, match="member 1 has"):
        Ensemble([Network([3, 3]), Network([3, 4])])
    with pytest.raises(InputError, match="combine must be one of mean, vote, got 'median'"):
        Ensemble([Network([3, 3])], combine="median")
    with pytest.raises(InputError, match="at least one member"):
        Ensemble([])
    with pytest.raises(TypeError, match="got str"):
        Ensemble(["net"])
    with pytest.raises(InputError, match=r"inputs must have 3 values per sample"):
        Ensemble([Network([3, 3])]).predict(np.zeros((2, 4)))


def blobs(n, seed):
    """A toy problem: four overlapping Gaussian classes in 10 dimensions."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 1.0, size=(4, 10))
    y = rng.integers(0, 4, n)
    return (centres[y] + rng.normal(0, 1.0, size=(n, 10))).astype(np.float32), y


def test_an_ensemble_is_no_worse_than_its_average_member():
    training, test = blobs(300, 1), blobs(2000, 2)
    members = []
    for seed in range(3):
        net = Network([10, 12, 4], seed=seed, cost="log-likelihood")
        fit(net, training, TrainingConfig(epochs=3, mini_batch_size=10, eta=0.1))
        members.append(net)
    ens = Ensemble(members)
    costs, correct = zip(*(m.measure(*test) for m in members))
    cost, ens_correct = ens.measure(*test)
    assert cost <= np.mean(costs)  # always so: -ln of a mean <= the mean of -ln
    assert ens_correct >= np.mean(correct)
    assert Ensemble(members, combine="vote").measure(*test)[1] >= np.mean(correct)


def mixed_ensemble():
    conv = LayerNetwork(
        [
            ConvPoolLayer((2, 1, 3, 3), (1, 4, 4), (2, 2), "relu"),
            FullyConnectedLayer(2, 5, "tanh", p_dropout=0.2),
            SoftmaxLayer(5, 3),
        ],
        seed=4,
    )
    for p in conv.params():  # SoftmaxLayer starts at zero: give it something
        p += np.random.default_rng(5).normal(0, 0.5, size=p.shape).astype(p.dtype)
    return Ensemble(
        [
            Network([16, 6, 3], seed=1, cost="cross-entropy"),
            Network([16, 3], seed=2, cost="log-likelihood", dtype=np.float64),
            conv,
        ],
        combine="vote",
    )


def test_a_mixed_ensemble_round_trips_through_one_file(tmp_path):
    ens = mixed_ensemble()
    X = np.random.default_rng(0).random((50, 16)).astype(np.float32)
    save_ensemble(ens, tmp_path / "e.npz", metadata={"note": "three members"})
    back, header = load(tmp_path / "e.npz", with_header=True)
    assert isinstance(back, Ensemble) and back.combine == "vote" and len(back) == 3
    assert [type(m).__name__ for m in back.members] == ["Network", "Network", "LayerNetwork"]
    assert header["format_version"] == ENSEMBLE_FORMAT_VERSION == 3 and header["network"] == "ensemble"
    assert header["note"] == "three members" and [m["format_version"] for m in header["members"]] == [1, 1, 2]
    assert np.array_equal(back.member_probabilities(X), ens.member_probabilities(X))
    assert np.array_equal(back.predict(X), ens.predict(X))
    assert back.members[1].dtype == np.float64 and back.members[2].spec() == ens.members[2].spec()
    _, arrays = read_npz(tmp_path / "e.npz")
    assert sorted(arrays) == [
        "m0_b0",
        "m0_b1",
        "m0_w0",
        "m0_w1",
        "m1_b0",
        "m1_w0",
        "m2_b0",
        "m2_b1",
        "m2_b2",
        "m2_w0",
        "m2_w1",
        "m2_w2",
    ]
    save(ens, tmp_path / "same.npz")  # save hands an Ensemble to save_ensemble
    assert np.array_equal(load(tmp_path / "same.npz").feedforward(X), ens.feedforward(X))
    # images (m, 1, 4, 4) are flattened for every member
    assert np.array_equal(back.predict(X.reshape(50, 1, 4, 4)), ens.predict(X))


def damage(header, arrays, case):
    members = header["members"]
    if case == "no members":
        header["members"] = []
    elif case == "member version":
        members[1]["format_version"] = 9
    elif case == "missing array":
        del arrays["m1_w0"]
    elif case == "stray array":
        arrays["m7_w0"] = arrays["m0_w0"]
    elif case == "wrong shape":
        arrays["m0_w1"] = arrays["m0_w1"][:, :2]
    elif case == "nan":
        arrays["m2_w1"] = np.full_like(arrays["m2_w1"], np.nan)
    elif case == "combine":
        header["combine"] = "median"
    elif case == "sizes disagree":
        members[0]["sizes"] = [16, 6, 4]
        arrays["m0_w1"], arrays["m0_b1"] = np.zeros((4, 6), np.float32), np.zeros(4, np.float32)
    elif case == "bad spec":
        members[2]["spec"] = {"layers": [{"type": "Mystery"}]}
    elif case == "member not a dict":
        members[0] = "hello"


@pytest.mark.parametrize(
    "case, words",
    [
        ("no members", "non-empty list of member headers"),
        ("member version", "(member 1): a member header"),
        ("missing array", "arrays do not match the header; missing ['m1_w0']"),
        ("stray array", "'m7_w0': it belongs to none"),
        ("wrong shape", "array 'm0_w1' has shape (3, 2), expected (3, 6)"),
        ("nan", "m2_w1 holds NaN"),
        ("combine", "combine must be one of"),
        ("sizes disagree", "must share n_in and n_out"),
        ("bad spec", "(member 2): the header's layer spec is unusable"),
        ("member not a dict", "(member 0)"),
    ],
)
def test_damaged_ensemble_files_are_refused_in_one_line(tmp_path, case, words):
    save_ensemble(mixed_ensemble(), tmp_path / "e.npz")
    header, arrays = read_npz(tmp_path / "e.npz")
    damage(header, arrays, case)
    write_npz(tmp_path / "bad.npz", header, arrays)
    with pytest.raises(ModelFormatError) as info:
        load(tmp_path / "bad.npz")
    assert words in str(info.value) and "\n" not in str(info.value)


def test_a_truncated_ensemble_file_is_refused(tmp_path):
    save_ensemble(mixed_ensemble(), tmp_path / "e.npz")
    data = (tmp_path / "e.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="not a readable glassnet model"):
        load(tmp_path / "cut.npz")
    assert json.loads(json.dumps(read_npz(tmp_path / "e.npz")[0]))["combine"] == "vote"


SPEC = {
    "dtype": "float32",
    "layers": [
        {"type": "FullyConnectedLayer", "n_in": 784, "n_out": 20, "activation_fn": "relu", "p_dropout": 0.2},
        {"type": "SoftmaxLayer", "n_in": 20, "n_out": 10, "p_dropout": 0.0},
    ],
}


def test_parallel_members_are_the_members_trained_here(mnist):
    training = (mnist.training.X[:300], mnist.training.y[:300])
    validation = (mnist.validation.X[:200], mnist.validation.y[:200])
    test = (mnist.test.X[:200], mnist.test.y[:200])
    config = TrainingConfig(epochs=2, mini_batch_size=10, eta=0.1, l2=0.1, shuffle=True)
    runs = {}
    for n_jobs in (1, 2):
        seen = []
        runs[n_jobs] = train_ensemble(
            layer_builder(SPEC),
            training,
            config,
            seeds=[3, 4],
            validation=validation,
            test=test,
            n_jobs=n_jobs,
            augment=Augmenter(n_fields=20),
            on_member=lambda r, done, total, i, seen=seen: seen.append((r.seed, total, i)),
        )
        assert sorted(seen) == [(3, 2, 0), (4, 2, 1)]
    (one, results_one), (two, results_two) = runs[1], runs[2]
    for a, b in zip(one.members, two.members):
        assert all(np.array_equal(p, q) for p, q in zip(a.params(), b.params()))
    assert [r.seed for r in results_two] == [3, 4]
    assert [[h["validation_accuracy"] for h in r.history] for r in results_one] == [
        [h["validation_accuracy"] for h in r.history] for r in results_two
    ]
    assert not np.array_equal(one.members[0].params()[0], one.members[1].params()[0])  # seeds differ
    for net, r in zip(two.members, results_two):  # keep_best: each member at its best validation epoch
        assert net.score(*validation) == r.best_validation_accuracy
        assert r.test_accuracy == r.history[r.best_epoch]["accuracy"] and r.seconds > 0


def test_an_ensembles_accuracy_is_a_deprecated_alias_of_score():
    rng = np.random.default_rng(0)
    X, y = rng.random((20, 6)), rng.integers(0, 3, 20)
    ensemble = Ensemble([Network([6, 4, 3], seed=s) for s in (1, 2)])
    with pytest.warns(DeprecationWarning, match="use score"):
        assert ensemble.accuracy(X, y) == ensemble.score(X, y)
