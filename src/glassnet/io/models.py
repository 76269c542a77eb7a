"""Saved models: one versioned format, NumPy arrays in a .npz plus a JSON header.

Layout of a model file (a zip written by ``np.savez``):

    header    uint8 array holding UTF-8 JSON: format, format_version, glassnet_version, dtype,
              seed and whatever ``metadata`` the caller adds (training options, history, data
              hashes, the engine that trained it); then
              version 1 (chapters 1-3, ``Network``): sizes, cost, activation, output_activation, init
              version 2 (chapter 6, ``LayerNetwork``): network "layers" and spec (the layers'
              kinds, shapes, activations and dropout, ``LayerNetwork.spec()``)
    w0, b0,   version 1: weights[l] (sizes[l+1], sizes[l]) and biases[l] (sizes[l+1],)
    w1, b1,   version 2: layer l's weights (filters (f, c, kh, kw) or (n_out, n_in)) and biases
    ...

Version 2 was added for layer networks; the book's networks are still written as version 1,
and both are read.

Version 3 holds an ensemble (``core.ensemble.Ensemble``, chapter 6) in one file: the header
has network "ensemble", combine ("mean" or "vote") and "members", a list of each member's
own version-1 or version-2 header (``network_header``); member i's arrays are stored as
``m{i}_w0``, ``m{i}_b0``, ...  ``load`` returns an Ensemble for such a file.

Files are written atomically (temporary file in the same folder, then ``os.replace``)
and read through ``safeload`` (non-regular files refused, every size checked against the
header's shapes and limits before anything is allocated or inflated, no pickle).
"""
from __future__ import annotations

import json
import math

import numpy as np

from ..core import model as kinds
from ..errors import ModelFormatError, ResourceLimitError
from ..files import atomic_write
from ..safeload import open_npz

__all__ = ["save", "load", "ModelFormatError", "FORMAT_VERSION", "atomic_write", "write_npz", "read_npz",
           "network_header", "parameter_arrays", "export_onnx", "save_ensemble", "ENSEMBLE_FORMAT_VERSION",
           "expected_shapes", "MAX_MODEL_BYTES"]

FORMAT = "glassnet-model"
FORMAT_VERSION = 1              # the book's Network (chapters 1-3)
LAYERS_FORMAT_VERSION = 2       # chapter 6's LayerNetwork
ENSEMBLE_FORMAT_VERSION = 3     # chapter 6's ensemble of networks
#: the most bytes the arrays of a model or checkpoint file may claim (a 784-800-800-10 float64
#: model is 11 MB; chapter 6's dropout network with a best copy and momentum about 40 MB)
MAX_MODEL_BYTES = 1 << 30
#: the most bytes a file's JSON header may take
MAX_HEADER_BYTES = 16 << 20
#: glassnet writes its arrays uncompressed; a compressed member (someone else's file) may
#: inflate at most this many times (float weights compress about 1.1x; a zip bomb 1000x)
MAX_INFLATION = 16


def network_header(network, metadata=None):
    """The JSON header that describes any model (``header()``, ``core.model``) plus ``metadata``
    in a model or checkpoint file."""
    from ..version import __version__
    return {"format": FORMAT, "glassnet_version": __version__, **network.header(), **(metadata or {})}


def write_npz(path, header, arrays):
    """Write ``arrays`` (name -> ndarray) and ``header`` (a JSON-able dict) to ``path``
    atomically, as an .npz whose member ``header`` holds the UTF-8 JSON."""
    from ..safeload import MAX_MEMBERS
    if len(arrays) + 1 > MAX_MEMBERS:           # what glassnet writes, glassnet reads
        raise ResourceLimitError(f"{path}: {len(arrays):,} arrays (an ensemble of many members?); a glassnet "
                                 f"file holds at most {MAX_MEMBERS - 1:,}: use fewer members")
    data = json.dumps(header, default=_jsonable).encode()
    members = {"header": np.frombuffer(data, dtype=np.uint8), **arrays}
    return atomic_write(path, lambda f: np.savez(f, **members))


def read_npz(path, error=ModelFormatError, what="glassnet model", shapes=None):
    """``(header, arrays)`` of a file written by ``write_npz``; ``error`` for anything else.

    Read through ``safeload``: a non-regular file is refused before it is opened, every zip
    member and array header is checked against the limits before anything is allocated or
    inflated, and pickled members are refused.  ``shapes(header)`` may give the shape each
    array must have (name -> shape; see ``expected_shapes``): an array of another shape, or one
    not named, is refused before its data are read.
    """
    with open_npz(path, error=error, what=what, max_inflation=MAX_INFLATION) as npz:
        if "header" not in npz.names:
            raise error(f"{path}: no glassnet header (not a {what} file)")
        raw = npz.read("header", dtype=np.uint8, max_bytes=MAX_HEADER_BYTES)
        if raw.ndim != 1:
            raise error(f"{path}: no glassnet header (not a {what} file)")
        try:
            header = json.loads(raw.tobytes().decode(), parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise error(f"{path}: the header is not valid JSON ({type(e).__name__}: {e})") from None
        if not isinstance(header, dict):
            raise error(f"{path}: not a {what} file")
        expected = shapes(path, header) if shapes is not None else None
        arrays = {}
        for name in npz.names:
            if name == "header":
                continue
            if expected is not None and name not in expected:
                raise error(f"{path}: unexpected array {name!r}: it belongs to none of the {len(expected)} "
                            f"arrays the header describes")
            arrays[name] = npz.read(name, shape=None if expected is None else expected[name])
    return header, arrays


def _no_constant(name):
    raise ValueError(f"{name} is not a number a header may hold")


def expected_shapes(path, header, extra_copies=()):
    """The shape of every array a model file (or, with ``extra_copies`` such as ("opt", "best"),
    a checkpoint: copies in ``parameters()`` order) with this header may hold;
    ResourceLimitError when they need more than ``MAX_MODEL_BYTES`` in all -- computed from
    the header alone (``core.model.parameter_shapes``) before any array is read."""
    try:
        shapes = kinds.parameter_shapes(header)
    except (TypeError, ValueError) as e:
        raise ModelFormatError(f"{path}: {e}") from None
    order = list(shapes)
    for prefix in extra_copies:
        shapes.update({f"{prefix}{i}": shapes[name] for i, name in enumerate(order)})
    claimed = sum(math.prod(shape) for shape in shapes.values()) * 8
    if claimed > MAX_MODEL_BYTES:
        raise ResourceLimitError(f"{path}: the header describes {claimed:,} bytes of parameters; glassnet "
                                 f"reads at most {MAX_MODEL_BYTES:,}")
    return shapes


def parameter_arrays(network):
    """``{"w0": ..., "b0": ..., ...}``: the arrays of a model file (``named_parameters()``)."""
    return dict(network.named_parameters())


def save(network, path, metadata=None):
    """Write any model (a network or an ensemble) to ``path`` (.npz) with ``metadata``
    (JSON-able dict) in its header."""
    return write_npz(path, network_header(network, metadata), parameter_arrays(network))


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a model header")


def load(path, *, with_header=False):
    """Read a model written by ``save`` or ``save_ensemble``; returns the Network,
    LayerNetwork or Ensemble (and the header dict).

    Raises ModelFormatError for anything that is not a sound glassnet model file.
    """
    header, arrays = read_npz(path, shapes=expected_shapes)
    if header.get("format") != FORMAT:
        raise ModelFormatError(f"{path}: not a glassnet model file")
    try:
        net = kinds.model_from_header(header, arrays)
    except (TypeError, ValueError) as e:
        raise ModelFormatError(f"{path}: {e}") from None
    return (net, header) if with_header else net


def export_onnx(network, path, *, opset=None, batch=None):
    """Write ``network`` as an ONNX model (``glassnet.io.onnx.export_onnx``; needs the
    ``onnx`` extra): "input" (N, n_in) -> "output" (N, n_out), checked by ``onnx.checker``."""
    from .onnx import export_onnx as export
    return export(network, path, opset=opset, batch=batch)


# -- ensembles (format version 3) ---------------------------------------------------------------
def save_ensemble(ensemble, path, metadata=None):
    """Write an ensemble to ``path`` as one .npz (format version 3): ``save``, refusing any
    other model with a TypeError."""
    if getattr(ensemble, "format_version", None) != ENSEMBLE_FORMAT_VERSION:
        raise TypeError(f"save_ensemble needs an Ensemble, got {type(ensemble).__name__}")
    return save(ensemble, path, metadata)
