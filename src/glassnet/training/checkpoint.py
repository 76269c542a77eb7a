"""Checkpoints: everything a resumed run needs, in the model file's format plus state.

A checkpoint is a model file (``glassnet.io.write_npz``: .npz arrays + JSON header,
written atomically) whose header also holds ``format: glassnet-checkpoint``, the
checkpoint format version, the training config, the loop's state (epoch, eta, best
epoch, history), the Generator's state and the engine; its arrays are the parameters
(``named_parameters()``: ``w{l}``/``b{l}``), the optimizer's state ``opt{i}`` (momentum's
velocities) and the best parameters so far ``best{i}``, both in ``parameters()`` order.
Version 2 moved the velocities from the network to the optimizer; version 3 put every
kind of network's parameters in one order (w0, b0, w1, b1, ...; version 2 kept the book's
network's weights before its biases).  Version-1 checkpoints, and version-2 checkpoints of
the book's network, are refused with a message saying so; version-2 checkpoints of layer
networks (whose order is unchanged) still resume.
"""
from __future__ import annotations

from dataclasses import asdict

from ..errors import CheckpointError
from ..io import expected_shapes, network_header, read_npz, write_npz

__all__ = ["save_checkpoint", "read_checkpoint", "verify_checkpoint", "load_checkpoint", "CheckpointError", "CHECKPOINT_VERSION"]

CHECKPOINT_FORMAT = "glassnet-checkpoint"
CHECKPOINT_VERSION = 3
#: older versions still resumed, for headers of these model format versions
STILL_RESUMED = {2: (2,)}


def save_checkpoint(path, network, config, state, optimizer, best=None, metadata=None):
    """Write the run's state to ``path`` atomically; see the module's docstring."""
    header = network_header(network, metadata)
    header.update(format=CHECKPOINT_FORMAT, checkpoint_version=CHECKPOINT_VERSION, config=asdict(config),
                  state=state, rng_state=network.rng.bit_generator.state)
    arrays = dict(network.named_parameters())
    arrays.update({f"opt{i}": a for i, a in enumerate(optimizer.state())})
    arrays.update({f"best{i}": p for i, p in enumerate(best or [])})
    write_npz(path, header, arrays)


def read_checkpoint(path):
    """The ``(arrays, header)`` of a checkpoint; CheckpointError if it is not a current one."""
    try:
        header, arrays = read_npz(path, error=CheckpointError, what="glassnet checkpoint",
                                  shapes=lambda p, h: expected_shapes(p, h, ("opt", "best")))
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path} to resume from") from None
    if header.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a glassnet checkpoint")
    version = header.get("checkpoint_version", 1)
    if version != CHECKPOINT_VERSION and header.get("format_version") not in STILL_RESUMED.get(version, ()):
        raise CheckpointError(f"{path}: checkpoint format version {version!r}, this glassnet resumes version "
                              f"{CHECKPOINT_VERSION} only: start the run again without --resume")
    return arrays, header


def verify_checkpoint(path, network, config):
    """CheckpointError (one line) unless ``path`` is a current checkpoint of this very run: the
    same network (sizes or layer spec), seed and options (all but the number of epochs).
    Returns ``(arrays, header)``; reads and allocates only what the header's shapes allow."""
    arrays, header = read_checkpoint(path)
    mine = network_header(network)
    for key in ("sizes", "spec"):
        if header.get(key) != mine.get(key):
            raise CheckpointError(f"{path}: checkpoint is for {key} {header.get(key)}, not {mine.get(key)}")
    if header.get("seed") != network.seed:
        raise CheckpointError(f"{path}: checkpoint was made with seed {header.get('seed')}, not {network.seed} "
                              f"(the seed also picks the shuffles and, on the digits, the split)")
    saved = {("l2" if k == "lmbda" else k): v for k, v in header["config"].items() if k != "epochs"}
    wanted = {k: v for k, v in asdict(config).items() if k != "epochs"}
    if saved != wanted:
        diff = sorted(k for k in wanted if saved.get(k) != wanted[k])
        raise CheckpointError(f"{path}: checkpoint was made with different options ({', '.join(diff)})")
    return arrays, header


def load_checkpoint(path, network, config, optimizer):
    """Restore ``network`` (weights, Generator) and ``optimizer`` from ``path``; return (state, best)."""
    arrays, header = verify_checkpoint(path, network, config)
    own = network.named_parameters()
    try:
        for name, p in own.items():
            p[...] = arrays[name]
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: the checkpoint's arrays do not fit the network ({e})") from None
    n = len(own)
    optimizer.load_state([arrays[f"opt{i}"] for i in range(n) if f"opt{i}" in arrays])
    best = [arrays[f"best{i}"] for i in range(n) if f"best{i}" in arrays] or None
    network.rng.bit_generator.state = header["rng_state"]
    return header["state"], best
