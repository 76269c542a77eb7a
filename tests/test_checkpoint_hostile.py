"""Damaged and hostile checkpoints: every field is checked in one place before anything is
restored or printed, and each case ends in exit 2 with one short line, no traceback.

A good checkpoint is made once per kind of network (the book's, with momentum; a layer
network) by ``glassnet train --checkpoint`` on the digits; each case rewrites one field or
array of a copy and runs ``glassnet train ... --checkpoint COPY --resume`` with the same
options, as a user resuming would.
"""

import json
import shutil

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.io import read_npz, write_npz

RUNS = {
    "book": [
        "train",
        "--dataset",
        "digits",
        "--sizes",
        "64-12-10",
        "--epochs",
        "3",
        "--eta",
        "0.5",
        "--momentum",
        "0.5",
        "--seed",
        "4",
    ],
    "layers": [
        "train",
        "--dataset",
        "digits",
        "--layers",
        "conv4x3,pool2,fc12",
        "--activation",
        "relu",
        "--epochs",
        "3",
        "--eta",
        "0.05",
        "--seed",
        "5",
    ],
}


def run(argv):
    import io

    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """kind -> a checkpoint of the first two epochs of that run (made by stopping at 2)."""
    folder = tmp_path_factory.mktemp("checkpoints")
    made = {}
    for kind, argv in RUNS.items():
        path = folder / f"{kind}.ckpt.npz"
        two = [a if a != "3" else "2" for a in argv]
        code, _, err = run(two + ["--checkpoint", str(path)])
        assert code == 0, err
        made[kind] = path
    return made


def _header(h, a):
    return h


def _set(key, value):
    def change(h, a):
        h[key] = value

    return change


def _set_state(key, value):
    def change(h, a):
        h["state"][key] = value

    return change


def _set_rng(value):
    def change(h, a):
        h["rng_state"] = value

    return change


def _array(name, make):
    def change(h, a):
        a[name] = make(a.get(name, a["w0"]))

    return change


def _drop(name):
    def change(h, a):
        a.pop(name, None)

    return change


MT_STATE = np.random.MT19937(0).state
MT_STATE = {**MT_STATE, "state": {"key": MT_STATE["state"]["key"].tolist(), "pos": MT_STATE["state"]["pos"]}}

CASES = [
    # the loop's state
    ("string epoch", _set_state("epoch", "2"), "state epoch"),
    ("negative epoch", _set_state("epoch", -1), "out of range"),
    ("epoch beyond the run", _set_state("epoch", 99), "out of range"),
    ("boolean epoch", _set_state("epoch", True), "state epoch"),
    ("float halvings", _set_state("halvings", 1.5), "state halvings"),
    ("negative eta", _set_state("eta", -0.1), "out of range"),
    ("string eta", _set_state("eta", "0.5"), "state eta"),
    ("best epoch ahead", _set_state("best_epoch", 5), "out of range"),
    ("best accuracy 7", _set_state("best_accuracy", 7), "out of range"),
    ("history too short", _set_state("history", []), "one record per epoch"),
    ("history of numbers", _set_state("history", [1, 2]), "one record per epoch"),
    ("history a dict", _set_state("history", {}), "state history"),
    ("state missing a key", lambda h, a: h["state"].pop("since_best"), "must hold exactly"),
    ("state with a stray key", _set_state("extra", 1), "must hold exactly"),
    ("state a list", _set("state", [1, 2]), "must hold exactly"),
    ("no state", lambda h, a: h.pop("state"), "must hold exactly"),
    # the config
    ("no config", lambda h, a: h.pop("config"), "no training config"),
    ("config a string", _set("config", "fast"), "no training config"),
    ("config epochs a string", lambda h, a: h["config"].update(epochs="3"), "epochs must be a whole number"),
    # the random state
    ("garbage random state", _set_rng("garbage"), "random state"),
    ("another generator's state", _set_rng(MT_STATE), "not a PCG64 state"),
    ("random state missing its inner state", _set_rng({"bit_generator": "PCG64"}), "random state is unusable"),
    (
        "random state of strings",
        _set_rng({"bit_generator": "PCG64", "state": {"state": "x", "inc": "y"}, "has_uint32": 0, "uinteger": 0}),
        "random state is unusable",
    ),
    ("random state a list", _set_rng([1, 2, 3]), "random state"),
    # the arrays
    ("complex parameters", _array("w0", lambda w: w.astype(np.complex64)), "finite real floats"),
    ("integer parameters", _array("w0", lambda w: w.astype(np.int32)), "finite real floats"),
    ("NaN parameters", _array("b0", lambda b: np.full_like(b, np.nan)), "finite real floats"),
    ("one best array of several", _array("best0", lambda w: w.copy()), "arrays of its best parameters"),
]

BOOK_ONLY = [  # momentum keeps one velocity per parameter
    ("complex velocities", _array("opt0", lambda v: v.astype(np.complex128)), "finite real floats"),
    ("integer velocities", _array("opt1", lambda v: v.astype(np.int64)), "finite real floats"),
    ("a missing velocity", _drop("opt2"), "arrays of its optimizer state"),
    ("NaN velocities", _array("opt0", lambda v: np.full_like(v, np.nan)), "optimizer state"),
    (
        "infinite best parameters",
        lambda h, a: a.update({f"best{i}": np.full_like(a[k], np.inf) for i, k in enumerate(["w0", "b0", "w1", "b1"])}),
        "best parameters",
    ),
]

LAYERS_ONLY = [  # plain SGD keeps no state
    (
        "velocities for plain SGD",
        lambda h, a: a.update(
            {f"opt{i}": np.zeros_like(a[k]) for i, k in enumerate(["w0", "b0", "w1", "b1", "w2", "b2"])}
        ),
        "keeps none",
    )
]

PARAMS = (
    [pytest.param(kind, *case, id=f"{kind}-{case[0]}") for kind in RUNS for case in CASES]
    + [pytest.param("book", *case, id=f"book-{case[0]}") for case in BOOK_ONLY]
    + [pytest.param("layers", *case, id=f"layers-{case[0]}") for case in LAYERS_ONLY]
)


@pytest.mark.parametrize("kind, name, change, words", PARAMS)
def test_a_damaged_checkpoint_is_refused_before_any_output(good, tmp_path, kind, name, change, words):
    path = tmp_path / "copy.npz"
    shutil.copy(good[kind], path)
    header, arrays = read_npz(path)
    header = json.loads(json.dumps(header))
    change(header, arrays)
    write_npz(path, header, arrays)
    code, out, err = run(RUNS[kind] + ["--checkpoint", str(path), "--resume"])
    assert code == 2, (code, out, err)
    assert out == "" and err.count("\n") == 1 and len(err) <= 300, err
    assert "Traceback" not in err and words in err, err


def test_the_good_checkpoints_resume(good, tmp_path):
    for kind, path in good.items():
        copy = tmp_path / f"{kind}.npz"
        shutil.copy(path, copy)
        code, out, err = run(RUNS[kind] + ["--checkpoint", str(copy), "--resume"])
        assert code == 0 and "Epoch 2:" in out and "Epoch 0:" not in out, (out, err)
