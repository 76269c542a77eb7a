"""What the command modules share: exit codes, argument types, file checks, model loading.

Every command module in this package has ``NAME``, ``HELP``, ``add_arguments(parser)``
and ``run(args, out, err) -> exit code``; ``glassnet.cli.COMMANDS`` lists them.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ..errors import GlassnetError

__all__ = [
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_INTERRUPTED",
    "CLIError",
    "at_least",
    "positive",
    "non_negative",
    "parse_sizes",
    "MAX_PARAMETERS",
    "int_list",
    "seed_type",
    "seed_list",
    "MAX_SEED",
    "local_host",
    "port",
    "add_data_options",
    "add_tta_option",
    "writable",
    "plots_dir",
    "load_model",
    "model_dataset",
    "model_test_set",
    "describe_sizes",
    "describe_network",
    "io_sizes",
    "model_kind",
    "predict_classes",
    "probabilities",
]

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130


class CLIError(GlassnetError):
    """A problem with what the user asked for, reported in one line."""


def _number(kind, text):
    try:
        value = kind(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
        ) from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def at_least(kind, low, *, strict=False, high=None):
    """An argparse type: a finite ``kind`` (int or float) >= low (> low when ``strict``),
    and at most ``high`` when given."""

    def parse(text):
        value = _number(kind, text)
        if not (value > low if strict else value >= low):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low}, got {text!r}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,}, got {text!r}")
        return value

    return parse


def positive(kind, high=None):
    return at_least(kind, 0, strict=True, high=high)


non_negative = at_least(float, 0)


#: the most parameters (weights and biases) a network given on the command line may have: 4 GiB
#: of float32 for the weights alone, and as much again for gradients, momentum and a best copy
MAX_PARAMETERS = 1 << 30


def parse_sizes(text):
    """Layer sizes joined by ',' or '-' (784,30,10 or 784-30-10): at least two, each >= 1, and
    at most ``MAX_PARAMETERS`` weights and biases in all (refused before anything is allocated)."""
    parts = [s.strip() for s in text.replace("-", ",").split(",")]
    try:
        sizes = [int(s) for s in parts if s]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be integers joined by ',' or '-', got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes need at least two layers, each > 0, got {text!r}")
    n_parameters = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    if n_parameters > MAX_PARAMETERS:
        raise argparse.ArgumentTypeError(
            f"{text} has {n_parameters:,} weights and biases; glassnet trains at most {MAX_PARAMETERS:,}"
        )
    return sizes


def int_list(text, high=None):
    """Integers >= 0 (and at most ``high``) separated by commas (seeds, row numbers): at least one."""
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected integers >= 0 separated by commas, got {text!r}")
    if high is not None and max(values) > high:
        raise argparse.ArgumentTypeError(f"each must be at most {high:,}, got {max(values)}")
    return values


def local_host(text):
    """An argparse type: a loopback address ("127.0.0.1", "::1", "localhost"): glassnet's pages
    answer this computer only (web.server.add_local_only), so they listen nowhere else."""
    import ipaddress

    if text == "localhost":
        return text
    try:
        loopback = ipaddress.ip_address(text.strip("[]")).is_loopback
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an IP address, got {text[:60]!r}") from None
    if not loopback:
        raise argparse.ArgumentTypeError(
            f"glassnet's pages answer this computer only: give a loopback address "
            f"(127.0.0.1, ::1, localhost), got {text[:60]!r}"
        )
    return text.strip("[]")


def port(text):
    """An argparse type: a port number 0..65535 (0: a free one)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text[:40]!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {number}")
    return number


#: the largest seed: what every generator here and scikit-learn's split (the digits) accept
MAX_SEED = 2**32 - 1
#: an argparse type for one seed, and for a list of them
seed_type = at_least(int, 0, high=MAX_SEED)


def seed_list(text):
    return int_list(text, MAX_SEED)


def add_data_options(p):
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="a folder holding the four MNIST (or Fashion-MNIST) IDX files (raw or .gz) to use "
        "instead of the cache or a download (also: GLASSNET_DATA_DIR)",
    )
    p.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where fetched data is kept (default: GLASSNET_CACHE, else ~/.cache/glassnet)",
    )


def add_tta_option(p):
    p.add_argument(
        "--tta",
        action="store_true",
        help="test-time augmentation: answer with the mean of the model's probabilities over 7 views of "
        "each image -- the image, its 4 one-pixel shifts (up, down, left, right; zero fill) and its "
        "rotations by -4 and +4 degrees about the centre (bilinear) -- views chosen on MNIST's "
        "validation images; an ensemble's members each average their views, then combine by its rule "
        "(glassnet.training.tta). Square one-channel images only; 7 forward passes instead of one",
    )


def writable(path):
    """``path`` as a Path once its folder exists and is writable; CLIError otherwise."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise CLIError(f"cannot write {path}: it is a directory")
    if parent.exists() and not parent.is_dir():
        raise CLIError(f"cannot write {path}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise CLIError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"cannot write {path}: folder {parent} is not writable")
    return path


def plots_dir(path):
    """A folder to write plots into, created if missing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CLIError(f"{path}: not a directory")
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_model(path):
    """``(model, header)`` of a file that holds a model (``glassnet.io.load``): a model file of
    any kind (a network, a layer network, an ensemble; network2's or network3's network or a
    fitted GlassnetClassifier, as the core model it stands on), a checkpoint (the network as
    training left it) or the book's network2 JSON file.  One-line errors for a missing or
    foreign file, and for an estimator whose classes are not the 0, 1, ... the commands read
    its outputs as."""
    from ..io import load

    path = Path(path)
    if not path.exists():
        raise CLIError(f"{path}: no such model file")
    if path.is_dir():
        raise CLIError(f"{path}: is a folder, not a model file")
    net, header = load(path, with_header=True)
    face = header.get("face") if isinstance(header.get("face"), dict) else {}
    classes = face.get("classes")
    if classes is not None and classes != list(range(net.n_out)):
        classes = classes if isinstance(classes, list) else [classes]
        shown = ", ".join(map(repr, classes[:4])) + (", ..." if len(classes) > 4 else "")
        raise CLIError(
            f"{path}: an estimator of the classes {shown}; glassnet's commands read its "
            f"outputs as the digits 0-{net.n_out - 1}"
        )
    return net, header


def model_dataset(path, header):
    """``(dataset name, seed)`` a saved model was trained with, as its header says.

    The seed is the training seed, which on the digits also picked the 60/40 split: the
    one way every command recovers a model's test set.
    """
    name = header.get("dataset", "mnist")
    training = header.get("training") if isinstance(header.get("training"), dict) else {}
    seed = training.get("seed", header.get("seed"))
    seed = 0 if seed is None else seed
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise CLIError(f"{path}: the header's training seed {str(seed)[:30]} is not a whole number in 0..{MAX_SEED}")
    if name not in ("mnist", "digits", "fashion"):
        raise CLIError(f"{path}: trained on {name!r}; glassnet knows mnist, fashion and digits")
    return name, seed


def describe_sizes(sizes):
    """[784, 30, 10] -> "784-30-10"."""
    return "-".join(map(str, sizes))


def io_sizes(net):
    """``(n_in, n_out)`` of any model: values per input sample (c*h*w for images) and outputs."""
    return net.n_in, net.n_out


def model_kind(net):
    """ "network" (chapters 1-3), "layer network" (chapter 6) or "ensemble": the model's ``kind``."""
    return net.kind


def describe_network(net):
    """Any model in one short line, input first (``describe(compact=True)``): "784-30-10",
    "1x28x28-conv20x5/pool2-conv40x5/pool2-fc100-softmax10", "ensemble of 5 ... (mean)"."""
    return net.describe(compact=True)


def predict_classes(net, X):
    """The predicted class (m,) of every row of X: ``engines.predict`` (chunked, the fastest
    forward pass; an ensemble combines its members by its rule)."""
    from ..engines import predict

    return predict(net, X)


def probabilities(net, X):
    """Output probabilities (m, n_out), rows summing to 1 (``probabilities``)."""
    return net.probabilities(X)


def model_test_set(path, net, header, args):
    """``(dataset, seed, test set)`` a saved model is measured on: MNIST's 10,000 test images,
    Fashion-MNIST's, or the digits' 40% test part split with the model's training seed.
    Any model kind (``io_sizes``); CLIError when its inputs or outputs do not fit the data."""
    from ..datasets import load_dataset

    name, seed = model_dataset(path, header)
    _, _, test, _ = load_dataset(name, seed=seed, data_dir=args.data_dir, cache_dir=args.cache_dir)
    n_in, n_out = io_sizes(net)
    if test.X.shape[1] != n_in or n_out != 10:
        raise CLIError(
            f"{path} is a {describe_network(net)} {model_kind(net)} ({n_in} inputs, {n_out} "
            f"outputs); the {name} test images need {test.X.shape[1]} inputs and 10 outputs"
        )
    return name, seed, test
