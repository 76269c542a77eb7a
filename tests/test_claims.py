"""Every size a file claims is checked before anything is allocated, for every format version
and every reader: a 1 KB file whose header describes a network of a billion bytes and holds
no arrays is refused in one line, having allocated next to nothing (tracemalloc's peak)."""

import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest

from glassnet.cli import main

#: the most a command may allocate to refuse a 1 KB file (its imports are done first)
MAX_PEAK = 8 * 2**20
HUGE = 1_700_000  # neurons: (1.7M x 64 + 1.7M x 10) weights, a gigabyte of float64 claimed


def header_only(path, header):
    """A model file holding only ``header`` (no arrays): about a kilobyte."""
    with zipfile.ZipFile(path, "w") as z:
        buffer = io.BytesIO()
        np.save(buffer, np.frombuffer(json.dumps(header).encode(), np.uint8))
        z.writestr("header.npy", buffer.getvalue())
    return path


def claims(kind):
    common = {"format": "glassnet-model", "dtype": "float64", "seed": 0}
    layers = {
        "format_version": 2,
        "network": "layers",
        **common,
        "spec": {
            "dtype": "float64",
            "layers": [
                {
                    "type": "FullyConnectedLayer",
                    "n_in": 64,
                    "n_out": HUGE,
                    "activation_fn": "sigmoid",
                    "p_dropout": 0.0,
                },
                {"type": "SoftmaxLayer", "n_in": HUGE, "n_out": 10, "p_dropout": 0.0},
            ],
        },
    }
    book = {"format_version": 1, **common, "sizes": [64, HUGE, 10]}
    if kind == "layer network":
        return layers
    if kind == "network":
        return book
    return {
        "format_version": 3,
        "format": "glassnet-model",
        "network": "ensemble",
        "combine": "mean",
        "members": [book, layers],
    }


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    return main([str(a) for a in argv], out=out, err=err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("kind", ["network", "layer network", "ensemble"])
@pytest.mark.parametrize("command", ["inspect", "evaluate", "ensemble", "export"])
def test_a_kilobyte_claiming_a_gigabyte_is_refused_before_anything_is_allocated(tmp_path, kind, command):
    path = header_only(tmp_path / "claim.npz", claims(kind))
    assert path.stat().st_size < 2048
    argv = {
        "inspect": ["inspect", path],
        "evaluate": ["evaluate", path],
        "ensemble": ["ensemble", path, path, "--save", tmp_path / "e.npz"],
        "export": ["export", path, tmp_path / "m.onnx"],
    }[command]
    run(argv)  # the imports, once
    tracemalloc.start()
    try:
        code, out, err = run(argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 2 and out == "" and err.count("\n") == 1 and len(err) <= 300, err
    assert any(words in err for words in ("do not match", "missing", "reads at most")), err
    assert peak < MAX_PEAK, f"{command} of a {kind} claim allocated {peak:,} bytes"
