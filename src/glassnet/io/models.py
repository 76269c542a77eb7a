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

from ..core.ensemble import Ensemble
from ..core.layernet import LayerNetwork, layers_from_spec
from ..core.network import Network
from ..errors import ModelFormatError, ResourceLimitError
from ..files import atomic_write
from ..safeload import open_npz

__all__ = ["save", "load", "ModelFormatError", "FORMAT_VERSION", "atomic_write", "write_npz", "read_npz",
           "network_header", "parameter_arrays", "export_onnx", "save_ensemble", "ensemble_header",
           "ensemble_arrays", "ENSEMBLE_FORMAT_VERSION", "expected_shapes", "MAX_MODEL_BYTES"]

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
    """The JSON header that describes ``network`` (plus ``metadata``) in a model or checkpoint."""
    from ..version import __version__
    common = {"format": FORMAT, "glassnet_version": __version__, "dtype": network.dtype.name,
              "seed": network.seed}
    if isinstance(network, LayerNetwork):
        return {**common, "format_version": LAYERS_FORMAT_VERSION, "network": "layers",
                "spec": network.spec(), **(metadata or {})}
    return {
        **common, "format_version": FORMAT_VERSION,
        "sizes": network.sizes, "cost": network.cost.name, "activation": network.activation.name,
        "output_activation": network.output_activation.name, "init": network.init, **(metadata or {}),
    }


def write_npz(path, header, arrays):
    """Write ``arrays`` (name -> ndarray) and ``header`` (a JSON-able dict) to ``path``
    atomically, as an .npz whose member ``header`` holds the UTF-8 JSON."""
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


def _layer_shapes(path, header):
    """Parameter name -> shape of the network a version-1 or 2 header describes (nothing allocated)."""
    if header.get("format_version") == LAYERS_FORMAT_VERSION:
        try:
            layers = layers_from_spec(header.get("spec"))
        except (TypeError, ValueError, KeyError) as e:
            raise ModelFormatError(f"{path}: the header's layer spec is unusable ({e})") from None
        shapes = {}
        for i, layer in enumerate(layers):
            w = tuple(layer.filter_shape) if hasattr(layer, "filter_shape") else (layer.n_out, layer.n_in)
            shapes[f"w{i}"], shapes[f"b{i}"] = w, (w[0],)
        return shapes
    sizes = header.get("sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(isinstance(n, int) and n > 0 for n in sizes)):
        raise ModelFormatError(f"{path}: header sizes must be a list of positive integers, got {sizes!r}")
    shapes = {f"w{l}": (sizes[l + 1], sizes[l]) for l in range(len(sizes) - 1)}
    shapes.update({f"b{l}": (sizes[l + 1],) for l in range(len(sizes) - 1)})
    return shapes


def expected_shapes(path, header, extra_copies=()):
    """The shape of every array a model file (or, with ``extra_copies`` such as ("opt", "best"),
    a checkpoint) with this header may hold; ResourceLimitError when they need more than
    ``MAX_MODEL_BYTES`` in all -- checked before any array is read."""
    if header.get("format_version") == ENSEMBLE_FORMAT_VERSION:
        members = header.get("members")
        if header.get("network") != "ensemble" or not isinstance(members, list) or not members:
            raise ModelFormatError(f"{path}: a version-3 model needs network 'ensemble' and a non-empty "
                                   f"list of member headers")
        shapes = {}
        for i, m in enumerate(members):
            if not isinstance(m, dict):
                raise ModelFormatError(f"{path} (member {i}): its header is not a JSON object")
            shapes.update({f"m{i}_{name}": shape for name, shape in _layer_shapes(f"{path} (member {i})", m).items()})
    else:
        shapes = _layer_shapes(path, header)
        order = list(shapes) if header.get("format_version") == LAYERS_FORMAT_VERSION else \
            sorted(shapes, key=lambda k: (k[0] != "w", int(k[1:])))       # weights, then biases
        for prefix in extra_copies:
            shapes.update({f"{prefix}{i}": shapes[name] for i, name in enumerate(order)})
    claimed = sum(math.prod(shape) for shape in shapes.values()) * 8
    if claimed > MAX_MODEL_BYTES:
        raise ResourceLimitError(f"{path}: the header describes {claimed:,} bytes of parameters; glassnet "
                                 f"reads at most {MAX_MODEL_BYTES:,}")
    return shapes


def parameter_arrays(network):
    """``{"w0": weights[0], "b0": biases[0], ...}``: the arrays of a model file."""
    if isinstance(network, LayerNetwork):
        return dict(zip(network.param_names(), network.params()))
    arrays = {}
    for l, (w, b) in enumerate(zip(network.weights, network.biases)):
        arrays[f"w{l}"], arrays[f"b{l}"] = w, b
    return arrays


def save(network, path, metadata=None):
    """Write ``network`` to ``path`` (.npz) with ``metadata`` (JSON-able dict) in its header
    (an ``Ensemble`` is written by ``save_ensemble``)."""
    if isinstance(network, Ensemble):
        return save_ensemble(network, path, metadata)
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
    version = header.get("format_version")
    if version == ENSEMBLE_FORMAT_VERSION:
        net = ensemble_from(path, header, arrays)
    elif version == LAYERS_FORMAT_VERSION:
        net = layer_network_from(path, header, arrays)
    elif version == FORMAT_VERSION:
        net = book_network_from(path, header, arrays)
    else:
        raise ModelFormatError(f"{path}: unknown format version {version!r} (this glassnet reads versions "
                               f"{FORMAT_VERSION}, {LAYERS_FORMAT_VERSION} and {ENSEMBLE_FORMAT_VERSION})")
    return (net, header) if with_header else net


def book_network_from(path, header, arrays):
    """The ``Network`` a version-1 header describes, holding ``arrays``; ModelFormatError for
    sizes or arrays that do not make a sound network."""
    sizes = header.get("sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2
            and all(isinstance(s, int) and s > 0 for s in sizes)):
        raise ModelFormatError(f"{path}: header sizes must be a list of positive integers, got {sizes!r}")
    expected = {f"{k}{l}" for l in range(len(sizes) - 1) for k in "wb"}
    if set(arrays) != expected:
        missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
        raise ModelFormatError(f"{path}: arrays do not match sizes {sizes}"
                               + (f"; missing {missing}" if missing else "")
                               + (f"; unexpected {extra}" if extra else ""))
    weights, biases = [], []
    for l in range(len(sizes) - 1):
        w, b = arrays[f"w{l}"], arrays[f"b{l}"]
        if w.shape != (sizes[l + 1], sizes[l]) or b.shape != (sizes[l + 1],):
            raise ModelFormatError(f"{path}: layer {l} has shapes {w.shape} and {b.shape}, the header's "
                                   f"sizes need {(sizes[l + 1], sizes[l])} and {(sizes[l + 1],)}")
        if w.dtype.kind != "f" or b.dtype.kind != "f":
            raise ModelFormatError(f"{path}: layer {l} is {w.dtype}/{b.dtype}, not floating point")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ModelFormatError(f"{path}: layer {l} holds NaN or infinite values")
        weights.append(w)
        biases.append(b)
    names = {key: header.get(key, default) for key, default in
             (("cost", "quadratic"), ("activation", "sigmoid"), ("init", "standard"), ("dtype", "float32"))}
    bad = [key for key, value in names.items() if not isinstance(value, str)]
    if bad or not isinstance(header.get("output_activation", ""), (str, type(None))):
        raise ModelFormatError(f"{path}: header field {(bad or ['output_activation'])[0]!r} must be a name")
    try:
        net = Network(sizes, weights=weights, biases=biases, dtype=header.get("dtype", "float32"),
                      cost=header.get("cost", "quadratic"), activation=header.get("activation", "sigmoid"),
                      output_activation=header.get("output_activation"), init=header.get("init", "standard"),
                      seed=header.get("seed"))
    except (TypeError, ValueError) as e:
        raise ModelFormatError(f"{path}: {e}") from None
    return net


def export_onnx(network, path, *, opset=None, batch=None):
    """Write ``network`` as an ONNX model (``glassnet.io.onnx.export_onnx``; needs the
    ``onnx`` extra): "input" (N, n_in) -> "output" (N, n_out), checked by ``onnx.checker``."""
    from .onnx import export_onnx as export
    return export(network, path, opset=opset, batch=batch)


def layer_network_from(path, header, arrays):
    """The LayerNetwork a version-2 header's spec describes, holding ``arrays``; ModelFormatError
    for a spec or arrays that do not make a sound network."""
    spec = header.get("spec")
    try:
        if header.get("network") != "layers" or not isinstance(spec, dict):
            raise ValueError("a version-2 model needs network 'layers' and a spec")
        net = LayerNetwork.from_spec(spec, seed=header.get("seed"), dtype=header.get("dtype", "float32"))
    except (TypeError, ValueError, KeyError) as e:
        raise ModelFormatError(f"{path}: the header's layer spec is unusable ({e})") from None
    names = net.param_names()
    if set(arrays) != set(names):
        raise ModelFormatError(f"{path}: arrays {sorted(arrays)} do not match the spec's {names}")
    for name, p in zip(names, net.params()):
        a = arrays[name]
        if a.shape != p.shape or a.dtype.kind != "f":
            raise ModelFormatError(f"{path}: {name} is {a.dtype} {a.shape}, the spec needs float {p.shape}")
        if not np.all(np.isfinite(a)):
            raise ModelFormatError(f"{path}: {name} holds NaN or infinite values")
        p[...] = a
    return net


# -- ensembles (format version 3) ---------------------------------------------------------------
def ensemble_header(ensemble, metadata=None):
    """The JSON header of an ensemble file: format_version 3, network "ensemble", combine,
    and "members", each member's own ``network_header`` (plus ``metadata`` at the top)."""
    from ..version import __version__
    return {"format": FORMAT, "format_version": ENSEMBLE_FORMAT_VERSION, "glassnet_version": __version__,
            "network": "ensemble", "combine": ensemble.combine,
            "members": [network_header(m) for m in ensemble.members], **(metadata or {})}


def ensemble_arrays(ensemble):
    """``{"m0_w0": ..., "m0_b0": ..., "m1_w0": ...}``: member i's ``parameter_arrays``, prefixed."""
    return {f"m{i}_{name}": a for i, m in enumerate(ensemble.members)
            for name, a in parameter_arrays(m).items()}


def save_ensemble(ensemble, path, metadata=None):
    """Write ``ensemble`` (a ``core.ensemble.Ensemble``) to ``path`` as one .npz (format
    version 3) with ``metadata`` (JSON-able dict) in its header; ``load`` reads it back."""
    if not isinstance(ensemble, Ensemble):
        raise TypeError(f"save_ensemble needs an Ensemble, got {type(ensemble).__name__}")
    return write_npz(path, ensemble_header(ensemble, metadata), ensemble_arrays(ensemble))


def _member_arrays(path, arrays, n_members):
    """Split ``arrays`` named m{i}_{name} into one dict per member; ModelFormatError for others."""
    split = [{} for _ in range(n_members)]
    for key, a in arrays.items():
        prefix, _, name = key.partition("_")
        index = prefix[1:]
        if not (prefix.startswith("m") and index.isdigit() and name and int(index) < n_members):
            raise ModelFormatError(f"{path}: array {key!r} belongs to none of the header's "
                                   f"{n_members} members (names are m<i>_<array>)")
        split[int(index)][name] = a
    return split


def ensemble_from(path, header, arrays):
    """The ``Ensemble`` a version-3 header describes, each member rebuilt from its own header
    and its m{i}_ arrays; ModelFormatError (one line, naming the member) when unsound."""
    members = header.get("members")
    if header.get("network") != "ensemble" or not isinstance(members, list) or not members:
        raise ModelFormatError(f"{path}: a version-3 model needs network 'ensemble' and a non-empty "
                               f"list of member headers")
    networks = []
    for i, (member, own) in enumerate(zip(members, _member_arrays(path, arrays, len(members)))):
        where = f"{path} (member {i})"
        version = member.get("format_version") if isinstance(member, dict) else None
        if version == LAYERS_FORMAT_VERSION:
            networks.append(layer_network_from(where, member, own))
        elif version == FORMAT_VERSION:
            networks.append(book_network_from(where, member, own))
        else:
            raise ModelFormatError(f"{where}: a member header needs format_version {FORMAT_VERSION} or "
                                   f"{LAYERS_FORMAT_VERSION}, got {version!r}")
    try:
        return Ensemble(networks, combine=header.get("combine", "mean"))
    except (TypeError, ValueError) as e:
        raise ModelFormatError(f"{path}: {e}") from None
