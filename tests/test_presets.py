"""Presets: glassnet's own recipes, the same from the command line and from Python."""
import io

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.core.layernet import LayerNetwork
from glassnet.core.network import Network
from glassnet.errors import InputError
from glassnet.io import load
from glassnet.training.augment import Augmenter
from glassnet.training.runs import (PRESETS, augmenter_from_options, config_from_options, network_from_options,
                                    run_options, train_preset)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_its_network_and_schedule(name):
    opts = run_options("mnist", name)
    preset = PRESETS[name].options
    net = network_from_options(opts, (1, 28, 28), 10, seed=0)
    config = config_from_options(opts, 60000)
    assert isinstance(net, LayerNetwork if "layers" in preset else Network)
    assert config.epochs == preset["epochs"] and config.eta == preset["eta"]
    assert config.mini_batch_size == preset["mini_batch_size"]
    assert (augmenter_from_options(opts) is None) == (not preset.get("augment"))


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
    with pytest.raises(InputError, match="unknown option 'epoch'"):       # a typo is not silently ignored
        run_options("mnist", "conv-fast", epoch=2)


def test_augment_option_forms():
    assert augmenter_from_options({}) is None and augmenter_from_options(dict(augment=False)) is None
    assert augmenter_from_options(dict(augment=True)).fraction == 1.0
    assert augmenter_from_options(dict(augment=0.25)).fraction == 0.25
    custom = augmenter_from_options(dict(augment=dict(rotate=5.0, elastic_alpha=0.0, fraction=0.5)))
    assert isinstance(custom, Augmenter) and (custom.rotate, custom.alpha, custom.fraction) == (5.0, 0.0, 0.5)


def test_train_preset_in_python_is_glassnet_train_preset(mnist, tmp_path):
    net, result, test = train_preset("conv-fast", seed=3, epochs=1)
    out, err = io.StringIO(), io.StringIO()
    code = main(["train", "--preset", "conv-fast", "--seed", "3", "--epochs", "1", "--save",
                 str(tmp_path / "m.npz")], out=out, err=err)
    assert code == 0, err.getvalue()
    saved = load(tmp_path / "m.npz")
    assert all(np.array_equal(a, b) for a, b in zip(net.params(), saved.params()))
    assert out.getvalue().strip() == f"Epoch 0: {result.history[0]['correct']} / 10000"
    assert result.history[0]["accuracy"] > 0.95 and len(test.y) == 10000 == result.history[0]["total"]
