"""``glassnet inspect FILE...``: say what an IDX file or a saved model holds.

    glassnet inspect t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte model.npz
    glassnet inspect --labels y.idx                 # y.idx must hold labels 0..9
    glassnet inspect --pair images.idx labels.idx   # and as many labels as images

IDX files (raw or gzip) print their element type, shape and range; a 1-D uint8 file
also gets a histogram of its values, as a labels file would.  Model files (.npz
written by ``glassnet train --save``) print their layer sizes, cost, activations,
dtype, seed, format version and training history length; a chapter-6 layer network
each layer with its shapes, activation and dropout; an ensemble each member so.

Labels are checked (1-D uint8, every value in 0..9) for a file given with --labels,
the second file of a --pair, and any IDX file whose name contains "labels" (as
MNIST's and Fashion-MNIST's label files do).  Every file is read and checked before
anything is printed: a bad one stops the command with one line naming it and the
problem, exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..safeload import open_regular_file
from .common import EXIT_OK, CLIError, describe_network, io_sizes, load_model

NAME = "inspect"
HELP = "show what an IDX data file or a saved model holds"
ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"


def add_arguments(p):
    p.description = (
        "Read IDX files (MNIST's format, raw or .gz) and model files (.npz from "
        "'glassnet train --save') and print what they hold: for IDX the element type, "
        "shape, min and max, and for 1-D uint8 files a histogram of the labels; for "
        "models the layer sizes, cost, activations, dtype, seed, format version and "
        "the length of the training history (for a chapter-6 layer network each layer's "
        "shapes, activation and dropout; for an ensemble each member's). Labels (1-D "
        "uint8, all in 0..9) are checked for files given with --labels, for the labels of a --pair and for "
        "any IDX file whose name contains 'labels'. A malformed file stops with one "
        "line naming it and exit code 2."
    )
    p.add_argument("files", metavar="FILE", nargs="*", help="IDX files (raw or .gz) or model files (.npz)")
    p.add_argument(
        "--labels", action="store_true", help="every IDX FILE must be a labels file: 1-D uint8 with every value in 0..9"
    )
    p.add_argument(
        "--pair",
        nargs=2,
        action="append",
        metavar=("IMAGES", "LABELS"),
        default=[],
        help="an images file and its labels file: the labels are checked and their "
        "number must equal the number of images (repeatable)",
    )


def run(args, out, err):
    if not args.files and not args.pair:
        raise CLIError("inspect needs at least one FILE or --pair IMAGES LABELS")
    reports = []  # every file is read and checked first
    for name in args.files:
        reports.append(inspect_file(name, labels=args.labels))
    for images_name, labels_name in args.pair:
        reports.extend(inspect_pair(images_name, labels_name))
    print("\n\n".join("\n".join(lines) for lines in reports), file=out)
    return EXIT_OK


# -- one file ----------------------------------------------------------------------------------
def inspect_file(name, *, labels=False):
    """Lines describing the file ``name`` (IDX or model); raises CLIError / IDXError / ModelFormatError."""
    path = _existing(name)
    if _is_model(path):
        if labels:
            raise CLIError(f"{path}: a model file, not an IDX labels file")
        return describe_model(path)
    array, compressed = _read(path)
    if labels or "labels" in path.name.lower():
        check_labels(array, path)
    return describe_idx(path, array, compressed)


def inspect_pair(images_name, labels_name):
    images_path, labels_path = _existing(images_name), _existing(labels_name)
    for path in (images_path, labels_path):
        if _is_model(path):
            raise CLIError(f"{path}: a model file, not an IDX file (--pair takes IDX images and labels)")
    images, images_gz = _read(images_path)
    labels, labels_gz = _read(labels_path)
    if images.ndim < 2:
        raise CLIError(f"{images_path}: shape {images.shape} is not a stack of images (need n x ...)")
    check_labels(labels, labels_path)
    if len(images) != len(labels):
        raise CLIError(f"{images_path} holds {len(images):,} images but {labels_path} holds {len(labels):,} labels")
    return [
        describe_idx(images_path, images, images_gz),
        describe_idx(labels_path, labels, labels_gz),
        [f"pair: {len(images):,} images and {len(labels):,} labels, one label per image"],
    ]


def _existing(name):
    path = Path(name)
    if path.is_dir():
        raise CLIError(f"{path}: is a folder, not a file")
    if not path.exists():
        raise CLIError(f"{path}: no such file")
    if not path.is_file():
        raise CLIError(f"{path}: not a regular file (a FIFO, device or socket is not read)")
    return path


def _is_model(path):
    """A zip archive (what np.savez writes), anything named .npz, or JSON (the book's network2
    files, which ``glassnet.io.load`` reads too)."""
    with open_regular_file(path, error=CLIError) as f:  # a FIFO swapped in is refused, not waited on
        start = f.read(4)
    return start == ZIP_MAGIC or start[:1] == b"{" or path.suffix.lower() in (".npz", ".json")


def _read(path):
    from ..datasets.idx import read_idx

    with open_regular_file(path, error=CLIError) as f:
        compressed = f.read(2) == GZIP_MAGIC
    return read_idx(path), compressed


def check_labels(array, path):
    """Raise CLIError unless ``array`` is 1-D uint8 with every value in 0..9."""
    if array.dtype != np.uint8 or array.ndim != 1:
        raise CLIError(f"{path}: not a labels file: labels are 1-D uint8, this is {array.dtype} {_shape(array.shape)}")
    bad = np.flatnonzero(array > 9)
    if bad.size:
        i = int(bad[0])
        raise CLIError(f"{path}: {bad.size:,} labels outside 0..9, the first at index {i}: {array[i]}")


# -- describing --------------------------------------------------------------------------------
def describe_idx(path, array, compressed):
    lines = [
        f"{path}: IDX file{' (gzip)' if compressed else ''}, {array.dtype} {_shape(array.shape)}, "
        f"{array.nbytes:,} bytes of data"
    ]
    if array.size == 0:
        lines.append("  empty: no elements")
        return lines
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        n_bad = int(array.size - np.count_nonzero(finite))
        values = array[finite]
        if values.size:
            lines.append(f"  min {_num(values.min())}, max {_num(values.max())}, mean {_num(values.mean())}")
        if n_bad:
            lines.append(f"  {n_bad:,} element{' is' if n_bad == 1 else 's are'} NaN or infinite")
    else:
        lines.append(f"  min {array.min()}, max {array.max()}, mean {_num(array.mean(dtype=np.float64))}")
    if array.dtype == np.uint8 and array.ndim == 1:
        counts = np.bincount(array, minlength=10)
        lines.append("  labels: " + ", ".join(f"{d}: {counts[d]:,}" for d in range(10)))
        outside = int(counts[10:].sum())
        lines.append("  all labels in 0..9" if not outside else f"  {outside:,} values outside 0..9: not MNIST labels")
    elif array.dtype == np.uint8 and array.ndim == 3:
        lines.append(
            f"  {array.shape[0]:,} images of {array.shape[1]}x{array.shape[2]} pixels"
            + (" (MNIST's size)" if array.shape[1:] == (28, 28) else "")
        )
    return lines


def describe_model(path):
    """Lines describing a saved model: a network (sizes, cost, activations), a layer network
    (each layer's shapes, activation and dropout) or an ensemble (each member so)."""
    net, header = load_model(path)
    lines = [
        f"{path}: glassnet model, format {header.get('format')} version {header.get('format_version')}"
        f" (written by glassnet {header.get('glassnet_version', 'unknown')})"
    ]
    if net.members[0] is not net:
        lines.append(
            f"  ensemble of {len(net)} members answering by {net.combine} "
            f"({_count(net):,} weights and biases in all), {io_sizes(net)[0]} inputs, "
            f"{io_sizes(net)[1]} outputs"
        )
        for j, member in enumerate(net.members):
            first, *rest = _network_lines(member, "    ")
            lines += [f"  member {j}: {first.strip()}"] + rest
    else:
        lines += _network_lines(net, "  ")
    return lines + [_training_line(header)]


def _count(net):
    """Weights and biases of a model, all members of an ensemble together."""
    return sum(p.size for p in net.named_parameters().values())


def _network_lines(net, indent):
    """A network's description (``describe``, then its ``details()``), each line starting
    with ``indent``."""
    lines = [
        f"{indent}{net.kind} {describe_network(net)} ({_count(net):,} weights and biases), "
        f"dtype {net.dtype}, seed {net.seed}"
    ]
    return lines + [f"{indent}{line}" for line in net.details()]


def _training_line(header):
    history = header.get("history") if isinstance(header.get("history"), list) else []
    dataset = str(header.get("dataset", "not recorded"))
    dataset = dataset if len(dataset) <= 40 else dataset[:39] + "\u2026"
    line = f"  dataset {dataset}, history of {len(history)} epoch{'' if len(history) == 1 else 's'}"
    last = history[-1] if history and isinstance(history[-1], dict) else {}
    if isinstance(last.get("accuracy"), (int, float)):
        line += f", last test accuracy {100 * last['accuracy']:.2f}%"
    if header.get("stopped"):
        line += f", stopped: {header['stopped']}"
    return line


def _shape(shape):
    return "(" + ", ".join(f"{d:,}" for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _num(value):
    return f"{float(value):.6g}"
