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
    ...       (a batch normalisation layer's gamma and beta; none for a pooling layer)
    running_mean{l}, running_var{l}   version 2: a batch normalisation layer's running
              statistics (``named_buffers()``), in files of networks that have such layers

Version 2 was added for layer networks; the book's networks are still written as version 1,
and both are read.

Version 3 holds an ensemble (``core.ensemble.Ensemble``, chapter 6) in one file: the header
has network "ensemble", combine ("mean" or "vote") and "members", a list of each member's
own version-1 or version-2 header (``network_header``); member i's arrays are stored as
``m{i}_w0``, ``m{i}_b0``, ...  ``load`` returns an Ensemble for such a file.

``load`` also reads the two other files that hold a model: a checkpoint
(``training.checkpoint``: a model file whose header has format "glassnet-checkpoint" and the
run's state, and whose arrays add the optimizer's ``opt{i}`` and the best copy's ``best{i}``;
the network is read as training left it), and the book's ``network2.py`` JSON file
({"sizes", "weights", "biases" as columns, "cost": "CrossEntropyCost" | "QuadraticCost"}: a
sigmoid network with chapter 3's scaled initialisation; ``read_book_json`` / ``write_book_json``).

A face that is not a core model (``network2.Network``, ``network3.Network``, the fitted
``GlassnetClassifier``) is saved as the core model it stands on: its ``_to_file()`` returns
``(model, metadata)``, the metadata's "face" naming the class that rebuilds it
(``_from_file(model, header)``, called by ``glassnet.load``).  This module knows no face.

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
from ..safeload import open_npz, open_regular_file

__all__ = [
    "save",
    "load",
    "ModelFormatError",
    "FORMAT_VERSION",
    "atomic_write",
    "write_npz",
    "read_npz",
    "network_header",
    "parameter_arrays",
    "export_onnx",
    "save_ensemble",
    "ENSEMBLE_FORMAT_VERSION",
    "expected_shapes",
    "MAX_MODEL_BYTES",
    "as_model",
    "read_book_json",
    "write_book_json",
    "CHECKPOINT_FORMAT",
    "BOOK_JSON_FORMAT",
    "BOOK_COSTS",
]

FORMAT = "glassnet-model"
#: the format of ``training.checkpoint``'s files: a model file plus the run's state
CHECKPOINT_FORMAT = "glassnet-checkpoint"
#: the "format" of the header ``load`` gives a network2 JSON file (the file itself has none)
BOOK_JSON_FORMAT = "network2-json"
#: the cost names of network2's JSON files -> glassnet's names for the same costs
BOOK_COSTS = {"CrossEntropyCost": "cross-entropy", "QuadraticCost": "quadratic"}
#: the largest network2 JSON file read (a 784-800-800-10 network's is about 30 MB)
MAX_JSON_BYTES = 256 << 20
FORMAT_VERSION = 1  # the book's Network (chapters 1-3)
LAYERS_FORMAT_VERSION = 2  # chapter 6's LayerNetwork
ENSEMBLE_FORMAT_VERSION = 3  # chapter 6's ensemble of networks
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

    if len(arrays) + 1 > MAX_MEMBERS:  # what glassnet writes, glassnet reads
        raise ResourceLimitError(
            f"{path}: {len(arrays):,} arrays (an ensemble of many members?); a glassnet "
            f"file holds at most {MAX_MEMBERS - 1:,}: use fewer members"
        )
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
                raise error(
                    f"{path}: unexpected array {name!r}: it belongs to none of the {len(expected)} "
                    f"arrays the header describes"
                )
            arrays[name] = npz.read(name, shape=None if expected is None else expected[name])
    return header, arrays


def _no_constant(name):
    raise ValueError(f"{name} is not a number a header may hold")


def expected_shapes(path, header, extra_copies=()):
    """The shape of every array a model file (or, with ``extra_copies`` such as ("opt", "best"),
    a checkpoint: copies of the parameters in ``parameters()`` order) with this header may hold,
    buffers included; ResourceLimitError when they need more than ``MAX_MODEL_BYTES`` in all --
    computed from the header alone (``core.model.parameter_shapes``) before any array is read."""
    try:
        shapes = kinds.parameter_shapes(header)
        buffers = kinds.buffer_shapes(header)
    except (TypeError, ValueError) as e:
        raise ModelFormatError(f"{path}: {e}") from None
    order = list(shapes)
    for prefix in extra_copies:
        shapes.update({f"{prefix}{i}": shapes[name] for i, name in enumerate(order)})
    shapes.update(buffers)
    claimed = sum(math.prod(shape) for shape in shapes.values()) * 8
    if claimed > MAX_MODEL_BYTES:
        raise ResourceLimitError(
            f"{path}: the header describes {claimed:,} bytes of parameters; glassnet reads at most {MAX_MODEL_BYTES:,}"
        )
    return shapes


def parameter_arrays(network):
    """``{"w0": ..., "b0": ..., ...}``: the arrays of a model file (``named_parameters()``, then
    any ``named_buffers()``: batch normalisation's running statistics)."""
    return {**network.named_parameters(), **kinds.buffers_of(network)}


def save(model, path, metadata=None):
    """Write any model to ``path`` (.npz) with ``metadata`` (a JSON-able dict) in its header:
    a network, a layer network or an ensemble as it is; a face (network2's or network3's
    network, a fitted ``GlassnetClassifier``) as the core model it stands on plus what
    rebuilds it (``as_model``)."""
    model, metadata = as_model(model, metadata)
    return write_npz(path, network_header(model, metadata), parameter_arrays(model))


def as_model(obj, metadata=None):
    """``(model, metadata)``: the core model a file holds for ``obj`` and the header metadata
    to store with it.  A core model is itself; a face answers ``_to_file()`` with its model
    and the metadata that rebuilds it (a "face" entry), which wins over ``metadata``'s.
    TypeError for anything else."""
    to_file = getattr(obj, "_to_file", None)
    if to_file is not None:
        model, extra = to_file()
        return model, {**(metadata or {}), **extra}
    if not (callable(getattr(obj, "header", None)) and callable(getattr(obj, "named_parameters", None))):
        raise TypeError(
            f"cannot save a {type(obj).__name__}: glassnet saves its networks, layer networks "
            f"and ensembles, network2's and network3's networks and fitted GlassnetClassifiers"
        )
    return obj, metadata


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a model header")


def load(path, *, with_header=False):
    """The model a file holds (and the file's header, a dict): a model file written by
    ``save`` (a Network, LayerNetwork or Ensemble; a face's file gives its core model, the
    header's "face" naming the face), a checkpoint (the network as training left it; the
    header has format "glassnet-checkpoint" and ``state["epoch"]``, the epochs done) or the
    book's network2 JSON file (a float32 core Network; header format "network2-json").

    Raises ModelFormatError for anything that is not such a file.
    """
    if _starts_like_json(path):
        return read_book_json(path, with_header=with_header)
    header, arrays = read_npz(path, shapes=_file_shapes)
    if header.get("format") not in (FORMAT, CHECKPOINT_FORMAT):
        raise ModelFormatError(f"{path}: not a glassnet model file")
    try:
        names = kinds.array_shapes(header)
        net = kinds.model_from_header(header, {name: a for name, a in arrays.items() if name in names})
    except (TypeError, ValueError) as e:
        raise ModelFormatError(f"{path}: {e}") from None
    return (net, header) if with_header else net


def _file_shapes(path, header):
    """The arrays a model file (or, by its header's format, a checkpoint) may hold."""
    return expected_shapes(path, header, ("opt", "best") if header.get("format") == CHECKPOINT_FORMAT else ())


def _starts_like_json(path):
    """Whether the file's first non-blank byte opens a JSON object (a network2 file), not a zip."""
    with open_regular_file(path, error=ModelFormatError) as f:
        return f.read(4096).lstrip(b" \t\r\n\xef\xbb\xbf")[:1] == b"{"


# -- the book's network2 JSON files ------------------------------------------------------------
def write_book_json(path, network):
    """Write a sigmoid ``network`` (a core Network with the quadratic or cross-entropy cost) to
    ``path`` in the book's network2 JSON format, atomically: {"sizes", "weights" (nested lists
    (n_out, n_in)), "biases" (nested lists of columns (n_out, 1)), "cost": "CrossEntropyCost" |
    "QuadraticCost"}.  ValueError for a network the format cannot describe."""
    costs = {glassnet: book for book, glassnet in BOOK_COSTS.items()}
    if network.cost.name not in costs or {network.activation.name, network.output_activation.name} != {"sigmoid"}:
        raise ValueError(
            f"the network2 JSON format holds sigmoid networks with the cross-entropy or "
            f"quadratic cost, not a {network.describe()} {network.cost.name} network"
        )
    data = {
        "sizes": list(network.sizes),
        "weights": [w.tolist() for w in network.weights],
        "biases": [b.reshape(-1, 1).tolist() for b in network.biases],
        "cost": costs[network.cost.name],
    }
    text = json.dumps(data)
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def read_book_json(path, *, dtype=np.float32, with_header=False):
    """The network of a file in the book's network2 JSON format (``write_book_json``'s, or the
    book's own ``Network.save``'s): a core Network in ``dtype`` with network2's cost, sigmoid
    neurons and init "scaled" (and a header: its ``header()``, format "network2-json", and the
    face ``glassnet.network2.Network``).

    Raises ModelFormatError for a file that is not such a network: bad JSON, missing keys, an
    unknown cost name (only the book's two are accepted: nothing in the file is looked up by
    name beyond them), wrong shapes or values that are not finite numbers.
    """
    from ..core.network import Network

    try:
        with open_regular_file(path, error=ModelFormatError) as f:  # a FIFO is refused, not waited on
            data = json.loads(f.read(MAX_JSON_BYTES + 1).decode("utf-8"), parse_constant=_not_a_number)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ModelFormatError(f"{path}: not a network2 JSON file ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict) or not {"sizes", "weights", "biases", "cost"} <= set(data):
        raise ModelFormatError(f"{path}: a network2 file is a JSON object with sizes, weights, biases and cost")
    if not isinstance(data["cost"], str) or data["cost"] not in BOOK_COSTS:
        raise ModelFormatError(f"{path}: unknown cost {data['cost']!r}; expected one of {', '.join(BOOK_COSTS)}")
    sizes = data["sizes"]
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)
    ):
        raise ModelFormatError(f"{path}: sizes must be a list of at least two positive ints, got {sizes!r}")
    weights = _json_arrays(data["weights"], [(o, i) for i, o in zip(sizes[:-1], sizes[1:])], path, "weights")
    biases = _json_arrays(data["biases"], [(o, 1) for o in sizes[1:]], path, "biases")
    net = Network(sizes, weights=weights, biases=biases, dtype=dtype, cost=BOOK_COSTS[data["cost"]], init="scaled")
    if not with_header:
        return net
    return net, {**network_header(net), "format": BOOK_JSON_FORMAT, "face": {"class": "glassnet.network2.Network"}}


def _not_a_number(name):
    raise ValueError(f"{name} is not a number")


def _json_arrays(values, shapes, path, name):
    """Nested lists as float64 arrays of the given shapes (ModelFormatError otherwise)."""
    if not isinstance(values, list) or len(values) != len(shapes):
        raise ModelFormatError(f"{path}: {name} must be a list of {len(shapes)} arrays")
    arrays = []
    for l, (value, shape) in enumerate(zip(values, shapes)):
        try:
            a = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ModelFormatError(f"{path}: {name}[{l}] is not a nested list of numbers") from None
        if a.shape != shape:
            raise ModelFormatError(f"{path}: {name}[{l}] must have shape {shape}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ModelFormatError(f"{path}: {name}[{l}] holds values that are not finite")
        arrays.append(a)
    return arrays


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
