"""Checkpoints: everything a resumed run needs, in the model file's format plus state.

A checkpoint is a model file (``glassnet.io.write_npz``: .npz arrays + JSON header,
written atomically) whose header also holds ``format: glassnet-checkpoint``, the
checkpoint format version, the training config, the loop's state (epoch, eta, best
epoch, history), the Generator's state and the engine; its arrays are the parameters
(``named_parameters()``: ``w{l}``/``b{l}``; then ``named_buffers()``, batch normalisation's
running statistics), the optimizer's state ``opt{i}`` (momentum's
velocities; Adam's m, then its v, then its step count: ``Optimizer.state_layout``) and the
best epoch's state so far (``best{i}`` for parameter i, ``best_{name}`` for each buffer).  The config's
``optimizer`` ("sgd" or "adam"; absent in checkpoints written before Adam: "sgd") says which
optimizer resumes; its state is checked against the layout that optimizer declares (count,
shapes, dtypes, finite values) before anything is restored.
Version 2 moved the velocities from the network to the optimizer; version 3 put every
kind of network's parameters in one order (w0, b0, w1, b1, ...; version 2 kept the book's
network's weights before its biases).  Version-1 checkpoints, and version-2 checkpoints of
the book's network, are refused with a message saying so; version-2 checkpoints of layer
networks (whose order is unchanged) still resume.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from ..core.model import buffer_shapes, buffers_of
from ..errors import CheckpointError, ResourceLimitError
from ..io import CHECKPOINT_FORMAT, expected_shapes, network_header, read_npz, write_npz
from ..io.models import MAX_MODEL_BYTES
from .optimizers import make_optimizer

__all__ = [
    "save_checkpoint",
    "read_checkpoint",
    "verify_checkpoint",
    "load_checkpoint",
    "CheckpointError",
    "CHECKPOINT_VERSION",
]

CHECKPOINT_VERSION = 3
#: older versions still resumed, for headers of these model format versions
STILL_RESUMED = {2: (2,)}


def save_checkpoint(path, network, config, state, optimizer, best=None, metadata=None):
    """Write the run's state to ``path`` atomically; see the module's docstring."""
    header = network_header(network, metadata)
    header.update(
        format=CHECKPOINT_FORMAT,
        checkpoint_version=CHECKPOINT_VERSION,
        config=asdict(config),
        state=state,
        rng_state=network.rng.bit_generator.state,
    )
    arrays = dict(network.named_parameters())
    arrays.update({f"opt{i}": a for i, a in enumerate(optimizer.state())})
    arrays.update(_best_arrays(network, best))
    arrays.update(_buffers(network))
    write_npz(path, header, arrays)


def _shapes(path, header):
    """The shape each array of a checkpoint with this header may have: the parameters, the
    best parameters, and the largest optimizer state (Adam's: m_i and v_i like parameter i,
    then its step count, a number); which of them the run's optimizer keeps is checked later."""
    shapes = expected_shapes(path, header, ("opt", "best"))
    k = sum(1 for name in shapes if name.startswith("best"))
    second = {f"opt{k + i}": shapes[f"opt{i}"] for i in range(k)}
    best_buffers = {f"best_{name}": shape for name, shape in buffer_shapes(header).items()}
    claimed = sum(math.prod(shape) for shape in [*shapes.values(), *second.values(), *best_buffers.values()]) * 8
    if claimed > MAX_MODEL_BYTES:
        raise ResourceLimitError(
            f"{path}: the header describes {claimed:,} bytes of arrays; glassnet reads at most {MAX_MODEL_BYTES:,}"
        )
    return {**shapes, **second, f"opt{2 * k}": (), **best_buffers}


def read_checkpoint(path):
    """The ``(arrays, header)`` of a checkpoint; CheckpointError if it is not a current one."""
    try:
        header, arrays = read_npz(path, error=CheckpointError, what="glassnet checkpoint", shapes=_shapes)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path} to resume from") from None
    if header.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a glassnet checkpoint")
    version = header.get("checkpoint_version", 1)
    if version != CHECKPOINT_VERSION and header.get("format_version") not in STILL_RESUMED.get(version, ()):
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r}, this glassnet resumes version "
            f"{CHECKPOINT_VERSION} only: start the run again without --resume"
        )
    return arrays, header


#: the loop's state in a checkpoint: key -> (types, what it must be)
_STATE = {
    "epoch": ((int,), "a whole number >= 0"),
    "eta": ((int, float), "a finite number >= 0"),
    "halvings": ((int,), "a whole number >= 0"),
    "best_accuracy": ((int, float), "a number in [-1, 1]"),
    "best_epoch": ((int, type(None)), "null or an earlier epoch"),
    "since_best": ((int,), "a whole number >= 0"),
    "history": ((list,), "a list of one record per epoch"),
}


def _damaged(path, what):
    return CheckpointError(f"{path}: the checkpoint is damaged: {what}")


def _check_state(path, state, epochs):
    """The loop's state: every field present, of its type and in its range (``_STATE``)."""
    if not isinstance(state, dict) or set(state) != set(_STATE):
        raise _damaged(path, f"its state must hold exactly {', '.join(_STATE)}")
    for key, (types, what) in _STATE.items():
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise _damaged(path, f"state {key} must be {what}, got {type(value).__name__}")
    epoch = state["epoch"]
    numbers_ok = (
        0 <= epoch <= epochs
        and math.isfinite(state["eta"])
        and state["eta"] >= 0
        and state["halvings"] >= 0
        and state["since_best"] >= 0
        and -1 <= state["best_accuracy"] <= 1
        and (state["best_epoch"] is None or 0 <= state["best_epoch"] < epoch)
    )
    if not numbers_ok:
        raise _damaged(
            path,
            f"its state is out of range (epoch {epoch} of {epochs}, eta {state['eta']!r}, "
            f"best epoch {state['best_epoch']!r})",
        )
    if len(state["history"]) != epoch or not all(isinstance(r, dict) for r in state["history"]):
        raise _damaged(path, f"its history must hold one record per epoch done ({epoch})")


def _check_rng(path, rng_state, rng):
    """The Generator's state: of the network's bit generator, and one it accepts."""
    kind = rng.bit_generator.state["bit_generator"]
    if not isinstance(rng_state, dict) or rng_state.get("bit_generator") != kind:
        got = rng_state.get("bit_generator") if isinstance(rng_state, dict) else type(rng_state).__name__
        raise _damaged(path, f"its random state is not a {kind} state (got {str(got)[:40]})")
    try:
        type(rng.bit_generator)().state = rng_state
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise _damaged(path, f"its {kind} random state is unusable ({str(e)[:80]})") from None


def _check_arrays(path, arrays, network, optimizer):
    """Parameters and the best parameters so far: real floats, finite, the best complete (none
    or one per parameter); then the optimizer's state (``_check_optimizer_state``)."""
    params = network.parameters()
    best_names = [f"best{i}" for i in range(len(params))] + [f"best_{name}" for name in _buffers(network)]
    for prefix, label in (("", "parameter"), ("best", "best parameters")):
        names = list(network.named_parameters()) if not prefix else best_names
        present = [name for name in names if name in arrays]
        if prefix and present and len(present) != len(names):
            raise _damaged(path, f"it holds {len(present)} of the {len(names)} arrays of its {label}")
        for name in present:
            _check_finite_floats(path, label, name, arrays[name])
    _check_optimizer_state(path, arrays, network, optimizer)
    missing = [name for name in network.named_parameters() if name not in arrays]
    if missing:
        raise _damaged(path, f"parameters {missing[:4]} are missing")
    _check_buffers(path, arrays, network)


# -- buffers: state saved with the parameters that no gradient trains (batch normalisation's
# running statistics, ``named_buffers()``); a network without them has none ------------------------
def _buffers(network):
    return buffers_of(network)


def _best_arrays(network, best):
    """The best epoch's state (``core.model.state_arrays`` order: parameters, then buffers) as
    arrays of a checkpoint: best{i} for parameter i, best_{name} for buffer name."""
    if best is None:
        return {}
    n = len(network.parameters())
    arrays = {f"best{i}": p for i, p in enumerate(best[:n])}
    arrays.update({f"best_{name}": a for name, a in zip(_buffers(network), best[n:])})
    return arrays


def _best_from(arrays, network):
    """The best epoch's state a checkpoint holds (``_best_arrays``' inverse), or None."""
    names = [f"best{i}" for i in range(len(network.parameters()))] + [f"best_{name}" for name in _buffers(network)]
    return [arrays[name] for name in names] if names and names[0] in arrays else None


def _check_buffers(path, arrays, network):
    """Every buffer of the network present, finite real floats (the shapes ``read_npz`` checked)."""
    missing = [name for name in _buffers(network) if name not in arrays]
    if missing:
        raise _damaged(path, f"running statistics {missing[:4]} are missing")
    for name in _buffers(network):
        _check_finite_floats(path, "running statistics", name, arrays[name])


def _restore_buffers(arrays, network):
    for name, a in _buffers(network).items():
        a[...] = arrays[name]


def _check_finite_floats(path, label, name, a):
    if a.dtype.kind != "f" or not np.all(np.isfinite(a)):
        raise _damaged(path, f"{label} {name} must be finite real floats, got {a.dtype}")


def _check_optimizer_state(path, arrays, network, optimizer):
    """The optimizer's state: none (not stepped yet), or exactly the arrays its ``state_layout``
    declares, each of its shape and dtype, floats finite, a step count >= 1."""
    held = [name for name in arrays if name.startswith("opt")]
    layout = optimizer.state_layout(network)
    kind = type(optimizer).__name__
    if held and not layout:
        raise _damaged(path, f"it holds optimizer state arrays, but {kind} keeps none")
    if held and set(held) != {f"opt{i}" for i in range(len(layout))}:
        raise _damaged(path, f"it holds {len(held)} of the {len(layout)} arrays of its optimizer state ({kind})")
    for i, (shape, dtype) in enumerate(layout if held else ()):
        name, a = f"opt{i}", arrays[f"opt{i}"]
        if dtype.kind == "f":
            _check_finite_floats(path, "optimizer state", name, a)
        if a.shape != tuple(shape) or a.dtype != dtype:
            raise _damaged(path, f"optimizer state {name} must be {dtype} {tuple(shape)}, got {a.dtype} {a.shape}")
        if dtype.kind == "i" and not 1 <= int(a) < 2**53:
            raise _damaged(path, f"optimizer state {name} (the step count) must be a whole number >= 1, got {int(a)}")


def check_checkpoint(path, arrays, header, network, config):
    """Every field of a checkpoint checked in one place, before anything is restored or printed:
    the config, the loop's state, the random state and every array.  CheckpointError (one line)."""
    saved = header.get("config")
    if not isinstance(saved, dict):
        raise _damaged(path, "it holds no training config")
    epochs = saved.get("epochs")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise _damaged(path, f"its config's epochs must be a whole number >= 1, got {str(epochs)[:40]}")
    _check_state(path, header.get("state"), max(epochs, config.epochs))
    _check_rng(path, header.get("rng_state"), network.rng)
    _check_arrays(path, arrays, network, make_optimizer(config.momentum, name=config.optimizer))


def verify_checkpoint(path, network, config):
    """CheckpointError (one line) unless ``path`` is a sound, current checkpoint of this very run:
    the same network (sizes or layer spec), seed and options (all but the number of epochs),
    every field of it checked (``check_checkpoint``).
    Returns ``(arrays, header)``; reads and allocates only what the header's shapes allow."""
    arrays, header = read_checkpoint(path)
    mine = network_header(network)
    for key in ("sizes", "spec"):
        if header.get(key) != mine.get(key):
            raise CheckpointError(f"{path}: checkpoint is for {key} {header.get(key)}, not {mine.get(key)}")
    if header.get("seed") != network.seed:
        raise CheckpointError(
            f"{path}: checkpoint was made with seed {header.get('seed')}, not {network.seed} "
            f"(the seed also picks the shuffles and, on the digits, the split)"
        )
    if not isinstance(header.get("config"), dict):
        raise _damaged(path, "it holds no training config")
    saved = {"optimizer": "sgd"} | {("l2" if k == "lmbda" else k): v for k, v in header["config"].items()}
    saved.pop("epochs", None)
    wanted = {k: v for k, v in asdict(config).items() if k != "epochs"}
    if saved != wanted:
        diff = sorted(k for k in wanted if saved.get(k) != wanted[k])
        raise CheckpointError(f"{path}: checkpoint was made with different options ({', '.join(diff)})")
    check_checkpoint(path, arrays, header, network, config)
    return arrays, header


def load_checkpoint(path, network, config, optimizer):
    """Restore ``network`` (weights, Generator) and ``optimizer`` from ``path``; return (state, best)."""
    arrays, header = verify_checkpoint(path, network, config)
    own = network.named_parameters()
    try:
        for name, p in own.items():
            p[...] = arrays[name]
        _restore_buffers(arrays, network)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: the checkpoint's arrays do not fit the network ({e})") from None
    size = optimizer.state_size(network)
    optimizer.load_state([arrays[f"opt{i}"] for i in range(size) if f"opt{i}" in arrays])
    best = _best_from(arrays, network)
    network.rng.bit_generator.state = header["rng_state"]
    return header["state"], best
