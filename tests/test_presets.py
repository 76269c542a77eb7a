"""Presets: glassnet's own recipes, the same from the command line and from Python."""

import io

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.core.layernet import LayerNetwork
from glassnet.core.network import Network
from glassnet.datasets import dataset_info
from glassnet.errors import InputError
from glassnet.io import load
from glassnet.training.augment import Augmenter
from glassnet.training.runs import (
    DEFAULTS,
    FITTING,
    PRESETS,
    augmenter_from_options,
    config_from_options,
    fitting_defaults,
    network_from_options,
    network_kind,
    run_options,
    train_preset,
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_its_network_and_schedule(name):
    dataset = PRESETS[name].dataset
    opts = run_options(dataset, name)
    preset = PRESETS[name].options
    net = network_from_options(opts, dataset_info(dataset or "mnist").image_shape, 10, seed=0)
    config = config_from_options(opts, 60000)
    assert isinstance(net, LayerNetwork if "layers" in preset else Network)
    assert config.epochs == preset["epochs"] and config.eta == preset["eta"] and config.l2 == preset["l2"]
    assert config.mini_batch_size == (preset["mini_batch_size"] or 60000)
    assert (augmenter_from_options(opts) is None) == (not preset.get("augment"))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_says_its_eta_l2_and_epochs(name):
    """A preset is a whole recipe: no kind-of-network default fills in its eta, L2 or epochs."""
    preset = PRESETS[name].options
    assert {"eta", "l2", "epochs", "mini_batch_size"} <= set(preset)
    dataset = PRESETS[name].dataset or "mnist"
    assert set(fitting_defaults(dataset, preset)) <= {"activation", "init"}


def test_the_tutorial_preset_is_the_tutorials_run_on_the_digits():
    """``--preset tutorial`` keeps the digits' former default, the tutorial's full-batch run."""
    opts = run_options(None, "tutorial")
    assert (opts["sizes"], opts["mini_batch_size"], opts["epochs"], opts["eta"], opts["l2"]) == (
        [64, 30, 10],
        None,
        3000,
        0.25,
        0.0,
    )
    assert run_options("digits", "tutorial") == opts
    with pytest.raises(InputError, match="--preset tutorial is a run on digits, not mnist"):
        run_options("mnist", "tutorial")


@pytest.mark.parametrize(
    "options, kind",
    [
        ({}, "book"),
        (dict(cost="cross-entropy"), "sigmoid"),
        (dict(cost="log-likelihood"), "sigmoid"),
        (dict(activation="tanh"), "tanh"),
        (dict(activation="relu", cost="quadratic"), "relu"),
        (dict(layers="conv20x5,pool2,fc100"), "layers-relu"),
        (dict(layers="conv20x5,pool2,fc100", activation="sigmoid"), "layers-sigmoid"),
        (dict(layers="conv20x5:tanh,pool2,fc100:tanh"), "layers-tanh"),
        (dict(layers="conv20x5:relu,pool2,fc100:sigmoid"), "layers-sigmoid"),
        (dict(layers="fc100:linear,fc50"), "layers-relu"),
    ],
)
def test_each_kind_of_network_gets_its_own_defaults(options, kind):
    assert network_kind({**DEFAULTS["mnist"], **options}) == kind
    opts = run_options("mnist", **options)
    assert {k: opts.get(k, 0.0) for k in ("eta", "l2", "epochs")} == {
        k: FITTING["mnist"][kind][k] for k in ("eta", "l2", "epochs")
    }
    assert opts.get("init", "standard") == FITTING["mnist"][kind].get("init", "standard")
    if kind.startswith("layers"):
        assert opts["activation"] == options.get("activation", "relu")


def test_the_books_run_keeps_the_books_defaults_and_an_own_eta_keeps_l2_off():
    assert run_options() == dict(DEFAULTS["mnist"], l2=0.0)
    assert run_options("mnist") == {
        **dict(sizes=[784, 30, 10], epochs=30, mini_batch_size=10, eta=3.0, log_every=1),
        "l2": 0.0,
    }
    own = run_options("mnist", layers="conv20x5,pool2,fc100", eta=0.1)
    assert own["eta"] == 0.1 and "l2" not in own and own["epochs"] == 10  # L2 came with its eta
    assert run_options("mnist", layers="conv20x5,pool2,fc100", eta=0.1, l2=0.5)["l2"] == 0.5
    assert run_options("fashion", activation="relu") == run_options("mnist", activation="relu")
    digits = run_options("digits")
    assert (digits["mini_batch_size"], digits["eta"], digits["l2"], digits["epochs"]) == (10, 1.0, 1.0, 30)


def test_every_preset_describes_itself_in_the_help():
    from glassnet.cli import build_parser

    parser = build_parser()
    train = next(a for a in parser._actions if a.dest == "command").choices["train"]
    text = next(a for a in train._actions if a.dest == "preset").help
    for name, preset in PRESETS.items():
        assert f"{name}: {preset.description}" in text


def test_flags_beat_the_preset_which_beats_the_datasets_defaults():
    opts = run_options("mnist", "conv-fast", epochs=2)
    assert opts["epochs"] == 2 and opts["eta"] == PRESETS["conv-fast"].options["eta"] and opts["log_every"] == 1
    with pytest.raises(InputError, match="unknown preset 'nope'"):
        run_options("mnist", "nope")
    with pytest.raises(InputError, match="unknown dataset"):
        run_options("cifar")
    with pytest.raises(InputError, match="unknown option 'epoch'"):  # a typo is not silently ignored
        run_options("mnist", "conv-fast", epoch=2)


def test_augment_option_forms():
    assert augmenter_from_options({}) is None and augmenter_from_options(dict(augment=False)) is None
    assert augmenter_from_options(dict(augment=True)).fraction == 1.0
    assert augmenter_from_options(dict(augment=0.25)).fraction == 0.25
    custom = augmenter_from_options(dict(augment=dict(rotate=5.0, elastic_alpha=0.0, fraction=0.5)))
    assert isinstance(custom, Augmenter) and (custom.rotate, custom.alpha, custom.fraction) == (5.0, 0.0, 0.5)


@pytest.mark.slow  # two full preset runs: the second tier
def test_train_preset_in_python_is_glassnet_train_preset(mnist, tmp_path):
    net, result, test = train_preset("conv-fast", seed=3, epochs=1)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["train", "--preset", "conv-fast", "--seed", "3", "--epochs", "1", "--save", str(tmp_path / "m.npz")],
        out=out,
        err=err,
    )
    assert code == 0, err.getvalue()
    saved = load(tmp_path / "m.npz")
    assert all(np.array_equal(a, b) for a, b in zip(net.params(), saved.params()))
    assert out.getvalue().strip() == f"Epoch 0: {result.history[0]['correct']} / 10000"
    assert result.history[0]["accuracy"] > 0.95 and len(test.y) == 10000 == result.history[0]["total"]
