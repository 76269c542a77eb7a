"""Saved models: a bit-for-bit round trip, and every kind of tampered file refused."""

import json

import numpy as np
import pytest

import glassnet
from glassnet.io import FORMAT_VERSION, ModelFormatError, load, save


@pytest.fixture
def net():
    return glassnet.Network([6, 5, 3], seed=3)


def _rewrite(path, **changes):
    """Rewrite a saved model with some arrays replaced (None removes one)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    np.savez(path, **arrays)


def _header_bytes(path, **fields):
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(npz["header"].tobytes())
    header.update(fields)
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


def test_round_trip_is_bit_for_bit(tmp_path, net):
    path = save(net, tmp_path / "m.npz", metadata={"history": [{"epoch": 0, "accuracy": 0.5}]})
    back, header = load(path, with_header=True)
    assert back.sizes == net.sizes and back.dtype == net.dtype
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert header["format_version"] == FORMAT_VERSION and header["seed"] == 3
    assert header["history"][0]["accuracy"] == 0.5
    x = np.linspace(0, 1, 6, dtype=np.float32)
    np.testing.assert_array_equal(net.feedforward(x), back.feedforward(x))


def test_float64_and_other_costs_round_trip(tmp_path):
    net = glassnet.Network([4, 3, 2], seed=0, dtype=np.float64, cost="log-likelihood", activation="tanh")
    back = load(save(net, tmp_path / "m.npz"))
    assert back.dtype == np.float64 and back.cost.name == "log-likelihood"
    assert back.activation.name == "tanh" and back.output_activation.name == "softmax"


def test_pickled_object_array_is_refused(tmp_path, net):
    path = save(net, tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["w0"] = np.array([object()], dtype=object)
    np.savez(path, **arrays)  # np.savez pickles object arrays
    with pytest.raises(ModelFormatError, match="pickle"):
        load(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(w0=np.zeros((4, 6), np.float32)), "array .w0. has shape \\(4, 6\\), expected \\(5, 6\\)"),
        (dict(b1=np.zeros((3, 1), np.float32)), "array .b1. has shape \\(3, 1\\), expected"),
        (dict(w1=None), "missing"),
        (dict(w9=np.zeros(2, np.float32)), "unexpected"),
        (dict(w0=np.full((5, 6), np.nan, np.float32)), "NaN or infinite"),
        (dict(b0=np.array([np.inf, 0, 0, 0, 0], np.float32)), "NaN or infinite"),
        (dict(w0=np.zeros((5, 6), np.int64)), "floating"),
    ],
)
def test_tampered_arrays_are_refused(tmp_path, net, change, message):
    path = save(net, tmp_path / "m.npz")
    _rewrite(path, **change)
    with pytest.raises(ModelFormatError, match=message):
        load(path)


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(format_version=99), "unknown format version 99"),
        (dict(format="something-else"), "not a glassnet model"),
        (dict(sizes=[6, 4, 3]), "array .w0. has shape \\(5, 6\\), expected \\(4, 6\\)"),
        (dict(sizes="6,5,3"), "sizes must be"),
        (dict(cost="hinge"), "unknown cost"),
    ],
)
def test_tampered_header_is_refused(tmp_path, net, fields, message):
    path = save(net, tmp_path / "m.npz")
    _rewrite(path, header=_header_bytes(path, **fields))
    with pytest.raises(ModelFormatError, match=message):
        load(path)


def test_truncated_and_foreign_files_are_refused(tmp_path, net):
    path = save(net, tmp_path / "m.npz")
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.npz").write_text("hello")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    for name in ("cut.npz", "text.npz", "plain.npz"):
        with pytest.raises(ModelFormatError):
            load(tmp_path / name)


def test_failed_write_leaves_nothing_behind(tmp_path, net, monkeypatch):
    path = save(net, tmp_path / "m.npz")
    before = path.read_bytes()

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        save(glassnet.Network([6, 5, 3], seed=4), path)
    assert path.read_bytes() == before  # the old model is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temporary left


@pytest.mark.parametrize(
    "header_text, message",
    [
        ("[" * 200000, "not valid JSON"),
        (
            '{"format": "glassnet-model", "format_version": 2, "network": "layers", "spec": {"layers": '
            '[{"type": "FullyConnectedLayer", "n_in": Infinity, "n_out": 3}]}}',
            "not valid JSON",
        ),
        (
            '{"format": "glassnet-model", "format_version": 2, "network": "layers", "spec": {"layers": '
            '[{"type": "FullyConnectedLayer", "n_in": 1.5, "n_out": 3}]}}',
            "positive integers",
        ),
        ('{"format": "glassnet-model", "format_version": 1, "sizes": [6, 5, 3], "cost": 3}', "'cost' must be a name"),
        (
            '{"format": "glassnet-model", "format_version": 1, "sizes": [6, 5, 3], "output_activation": 7}',
            "'output_activation' must be a name",
        ),
    ],
)
def test_a_crafted_header_is_one_error_not_a_crash(tmp_path, net, header_text, message):
    """Deep nesting, Infinity, a fractional size or a number where a name belongs."""
    from glassnet.io import parameter_arrays

    path = tmp_path / "m.npz"
    arrays = dict(parameter_arrays(glassnet.Network([6, 5, 3], seed=0)))
    arrays["header"] = np.frombuffer(header_text.encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ModelFormatError, match=message):
        load(path)
