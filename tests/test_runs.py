"""One path from options to a run (training.runs), the data sets by name (datasets.catalog)
and chapter 1's table (book.chapter1)."""

import math
import pickle

import numpy as np
import pytest

from glassnet.core.layernet import LayerNetwork
from glassnet.core.network import Network
from glassnet.datasets import CATALOG, dataset_info, load_dataset
from glassnet.errors import InputError
from glassnet.training import TrainingConfig, fit
from glassnet.training.runs import DEFAULTS, PRESETS, network_from_options, plan_run
from glassnet.training.schedules import cosine_eta


def same_weights(a, b):
    pa = a.params() if hasattr(a, "params") else a.weights + a.biases
    pb = b.params() if hasattr(b, "params") else b.weights + b.biases
    return len(pa) == len(pb) and all(np.array_equal(x, y) for x, y in zip(pa, pb))


# -- the data sets ---------------------------------------------------------------------------
def test_every_data_set_knows_its_image_shape_and_classes():
    assert dataset_info("mnist").image_shape == (1, 28, 28) and dataset_info("mnist").n_inputs == 784
    assert dataset_info("digits").image_shape == (1, 8, 8) and dataset_info("digits").n_inputs == 64
    assert set(CATALOG) == set(DEFAULTS)
    for info in CATALOG.values():
        assert info.n_classes == 10 and DEFAULTS[info.name]["sizes"][0] == info.n_inputs
    with pytest.raises(InputError, match="unknown dataset 'cifar'"):
        dataset_info("cifar")


def test_the_digits_load_as_their_info_says():
    pytest.importorskip("sklearn")
    training, validation, test, sha = load_dataset("digits", seed=3)
    info = dataset_info("digits")
    assert validation is None and not info.has_validation and sha == {}
    assert training.X.shape == (1078, info.n_inputs) and test.X.shape == (719, info.n_inputs)
    assert training.X.dtype == np.float32


# -- planning a run --------------------------------------------------------------------------
def test_a_plan_of_the_digits_is_the_tutorials_run():
    pytest.importorskip("sklearn")
    plan = plan_run("digits", "tutorial", dict(epochs=3), seed=5)
    assert isinstance(plan.network, Network) and plan.network.sizes == [64, 30, 10]
    assert plan.config.epochs == 3 and plan.config.mini_batch_size == len(plan.training.X) == 1078
    assert plan.validation is None and plan.augment is None and plan.options["log_every"] == 100
    assert same_weights(plan.network, Network([64, 30, 10], seed=5))  # the book's network, seeded
    assert plan.describe() == "3 epochs, mini-batch 1078, eta 0.25"
    facts = plan.metadata(seeds=[5, 6])
    assert facts["dataset"] == "digits" and facts["data_sha256"] == {}
    assert list(facts["training"])[-5:] == ["seed", "seeds", "preset", "augment", "training_images"]
    assert facts["training"]["epochs"] == 3 and facts["training"]["training_images"] == 1078


def test_build_draws_the_plans_network_again_and_pickles():
    pytest.importorskip("sklearn")
    for overrides in (
        dict(activation="relu", cost="log-likelihood", init="he"),
        dict(layers="conv4x3:relu,pool2,fc20:d0.2"),
    ):
        plan = plan_run("digits", None, dict(overrides, epochs=1), seed=2)
        build = pickle.loads(pickle.dumps(plan.build))
        assert same_weights(build(2), plan.network) and not same_weights(build(3), plan.network)
    assert isinstance(plan.network, LayerNetwork) and plan.network.input_shape == (1, 8, 8)
    assert plan.describe() == "1 epoch, mini-batch 10, eta 0.3, softmax, log-likelihood cost, L2 0.1"


def test_a_plans_fit_is_fit_on_its_data():
    pytest.importorskip("sklearn")
    plan = plan_run("digits", None, dict(epochs=2, mini_batch_size=50, eta=1.0), seed=1)
    twin = Network([64, 30, 10], seed=1)
    expected = fit(
        twin, plan.training, TrainingConfig(epochs=2, mini_batch_size=50, eta=1.0, keep_best=False), test=plan.test
    )
    assert [r["correct"] for r in plan.fit().history] == [r["correct"] for r in expected.history]
    assert same_weights(plan.network, twin)


@pytest.mark.parametrize(
    "dataset, overrides, message",
    [
        ("digits", dict(train_on_validation=True), "--train-on-validation: digits has no validation set"),
        (
            "mnist",
            dict(train_on_validation=True, early_stop=3),
            "--train-on-validation leaves no validation set for --early-stop or --schedule halve",
        ),
        ("digits", dict(schedule="halve"), "--early-stop and --schedule halve watch a validation set; digits has none"),
        (
            "digits",
            dict(sizes=[784, 30, 10]),
            "sizes 784,30,10 do not fit digits: the input layer must have 64 neurons",
        ),
        ("mnist", dict(sizes=[784, 30, 9]), "the output layer 10"),
        ("digits", dict(augment=True), "the augmenter distorts 28x28 images; the digits images are 8x8"),
    ],
)
def test_options_the_data_cannot_serve_are_refused_before_any_data_are_read(dataset, overrides, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        plan_run(dataset, None, overrides, data_dir="/nonexistent/data", cache_dir="/nonexistent/cache")


def test_training_on_validation_joins_the_two_sets():
    tiny = [(np.zeros((n, 784), np.float32), np.arange(n) % 10) for n in (30, 20, 10)]
    from glassnet.datasets import Dataset

    data = tuple(Dataset(X, y) for X, y in tiny) + ({"f": "0"},)
    plan = plan_run("mnist", "conv-fast", dict(epochs=1), seed=0, data=data)
    assert len(plan.training.X) == 50 and plan.validation is None and plan.sha256 == {"f": "0"}
    assert isinstance(plan.network, LayerNetwork) and plan.network.input_shape == (1, 28, 28)
    assert plan.metadata()["training"]["preset"] == "conv-fast"
    assert plan.describe() == (
        "1 epoch, mini-batch 64, eta 0.05, softmax, log-likelihood cost, momentum 0.9, cosine schedule"
    )


def test_every_preset_plans_on_mnist_shaped_data():
    from glassnet.datasets import Dataset

    data = (
        Dataset(np.zeros((70, 784), np.float32), np.arange(70) % 10),
        Dataset(np.zeros((10, 784), np.float32), np.arange(10)),
        Dataset(np.zeros((10, 784), np.float32), np.arange(10)),
        {},
    )
    for name, preset in PRESETS.items():
        if getattr(preset, "dataset", None) not in (None, "mnist"):
            continue  # a preset of another data set (tutorial: the digits)
        plan = plan_run("mnist", name, None, seed=0, data=data)
        joined = preset.options.get("train_on_validation", False)
        assert plan.config.epochs == preset.options["epochs"] and len(plan.training.X) == (80 if joined else 70)
        assert (plan.augment is None) == (not preset.options.get("augment"))


def test_network_from_options_takes_a_generator_and_a_dtype():
    rng = np.random.default_rng(4)
    net = network_from_options(dict(sizes=[4, 3, 2]), (4,), 2, rng, dtype=np.float64)
    assert net.dtype == np.float64 and same_weights(
        net, Network([4, 3, 2], seed=np.random.default_rng(4), dtype=np.float64)
    )
    layered = network_from_options(dict(layers="fc5"), (1, 3, 3), 4, 0)
    assert layered.dtype == np.float32 and layered.n_out == 4


# -- the cosine schedule, written once ------------------------------------------------------
def test_cosine_eta_is_the_schedule_fit_follows():
    X = np.random.default_rng(0).random((40, 4)).astype(np.float32)
    y = np.arange(40) % 2
    history = fit(
        Network([4, 3, 2], seed=0),
        (X, y),
        TrainingConfig(epochs=5, mini_batch_size=10, eta=0.8, schedule="cosine"),
        test=(X, y),
    ).history
    assert [r["eta"] for r in history] == [cosine_eta(0.8, t, 5) for t in range(5)]
    assert cosine_eta(0.8, 0, 5) == 0.8 and cosine_eta(0.8, 9, 5) == cosine_eta(0.8, 4, 5)
    assert math.isclose(cosine_eta(1.0, 1, 2), 0.5)
