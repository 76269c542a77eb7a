"""``glassnet trace``: one step of backpropagation, every number printed as if worked by hand.

With no options it is the primer's single chain (input 0.8, target 1, weights 1.58 and 2.45,
biases -0.14 and -0.11, step 0.1). ``--example demo`` is the primer's [2, 3, 2] network;
``--sizes`` draws a network from ``--seed``; ``--model`` takes the weights of a saved model.
"""

from __future__ import annotations

import math

import numpy as np

from ..book.trace import EXAMPLES, build_network, format_trace, trace
from ..core.functions import COSTS
from ..datasets import dataset_info
from ..errors import InputError
from ..labels import one_hot
from .common import EXIT_OK, add_data_options, load_model, model_dataset, model_test_set, parse_sizes, seed_type

NAME = "trace"
HELP = "print one step of backpropagation, every z, a, delta, gradient and update with its numbers"

#: entries shown per block of the trace unless --limit says otherwise
DEFAULT_LIMIT = 20


def add_arguments(p):
    p.description = (
        "Print one step of gradient descent for one input, worked the way the primer does it by "
        "hand: every z and a of the feedforward pass, delta of the output layer (BP1) and of the "
        "hidden layers (BP2), dC/db (BP3) and dC/dw (BP4), each updated weight and bias, and the "
        "cost before and after, each line with its equation and numbers. With no options: the "
        "primer's single-chain example."
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--example",
        choices=sorted(EXAMPLES),
        help="primer: the primer's 1-1-1 chain (the default); demo: its [2,3,2] network",
    )
    source.add_argument(
        "--sizes",
        type=parse_sizes,
        metavar="N-N-...",
        help="a network of these layer sizes (e.g. 1-1-1 or 3-4-2) with N(0, 1) weights drawn from --seed",
    )
    source.add_argument(
        "--model",
        "--weights",
        dest="model",
        metavar="MODEL.npz",
        help="take the network (weights, biases, cost, activations) from a saved model",
    )
    p.add_argument(
        "--input",
        metavar="X,X,...",
        help="the input, one number per input neuron (default: the example's; with --model the "
        "first image of the model's test set and its label as the target; else random "
        "numbers in [0, 1) drawn from --seed)",
    )
    p.add_argument(
        "--target",
        metavar="Y,Y,...",
        help="the desired output, one number per output neuron, or a single integer label k "
        "meaning 1 for output k and 0 elsewhere (default: the example's, else label 0)",
    )
    p.add_argument("--eta", type=float, metavar="ETA", help="the learning rate (default: the example's 0.1, else 0.1)")
    p.add_argument("--seed", type=seed_type, default=0, help="seed for --sizes and for a random --input (default 0)")
    p.add_argument(
        "--cost", choices=list(COSTS), help="the cost of a --sizes network (default quadratic, the primer's)"
    )
    p.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show at most N entries per block (default {DEFAULT_LIMIT}; 0 shows all)",
    )
    add_data_options(p)


def _numbers(text, option):
    try:
        values = [float(s) for s in text.replace(" ", ",").split(",") if s.strip()]
    except ValueError:
        raise InputError(f"{option} must be numbers separated by commas, got {text!r}") from None
    if not values:
        raise InputError(f"{option} needs at least one number, got {text!r}")
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise InputError(f"{option} must be finite numbers, got {bad[0]}")
    return np.array(values)


def _target(text, n_out):
    stripped = text.strip()
    if n_out > 1 and stripped.lstrip("+-").isdigit():
        label = int(stripped)
        if not 0 <= label < n_out:
            raise InputError(f"--target label must be 0..{n_out - 1} for {n_out} outputs, got {label}")
        y = np.zeros(n_out)
        y[label] = 1.0
        return y
    return _numbers(text, "--target")


def _sized(values, n, option, what):
    if len(values) != n:
        raise InputError(f"{option} must hold {n} number{'s' * (n != 1)} ({what}), got {len(values)}")
    return values


def _problem(args):
    """``(network, x, y, eta)`` from the options."""
    if args.cost is not None and args.sizes is None:
        raise InputError("--cost applies to a --sizes network only (an example or a model has its own)")
    if args.sizes is None and args.model is None:
        net, x, y, eta = EXAMPLES[args.example or "primer"]()
    else:
        eta = 0.1
        if args.model is not None:
            net, x, y = _model_problem(args)
        else:
            net = build_network(args.sizes, seed=args.seed, cost=args.cost or "quadratic")
            x = np.random.default_rng(args.seed).random(net.n_in)
            y = np.zeros(net.n_out)
            y[0] = 1.0
    if args.input is not None:
        x = _sized(_numbers(args.input, "--input"), net.sizes[0], "--input", "one per input neuron")
    if args.target is not None:
        y = _sized(_target(args.target, net.sizes[-1]), net.sizes[-1], "--target", "one per output neuron")
    if args.eta is not None:
        if not math.isfinite(args.eta) or args.eta <= 0:
            raise InputError(f"--eta must be a positive number, got {args.eta}")
        eta = args.eta
    return net, x, y, eta


def _model_problem(args):
    """A saved book network, the first image of its test set (unless --input) and that image's
    label as the target (unless --target): one real step on a real digit."""
    net, header = load_model(args.model)
    if not callable(getattr(net, "activations", None)):
        raise InputError(
            f"{args.model}: trace works one step of the book's fully connected network; this model is a {net.kind}"
        )
    name, _ = model_dataset(args.model, header)
    info = dataset_info(name)
    if (args.input is not None and args.target is not None) or (info.n_inputs, info.n_classes) != (net.n_in, net.n_out):
        x = np.random.default_rng(args.seed).random(net.n_in)  # not a model of its data set's images
        return net, x, np.eye(net.n_out)[0]
    _, _, test = model_test_set(args.model, net, header, args)
    return net, np.asarray(test.X[0], np.float64), one_hot(test.y[:1], net.n_out, np.float64)[0]


def _data_sizes(path):
    """(inputs, classes) of the data set a saved model names."""
    info = dataset_info(model_dataset(path, load_model(path)[1])[0])
    return info.n_inputs, info.n_classes


def run(args, out, err):
    if args.limit < 0:
        raise InputError(f"--limit must be 0 (all) or more, got {args.limit}")
    net, x, y, eta = _problem(args)
    if args.model is not None and args.input is None and (net.n_in, net.n_out) == _data_sizes(args.model):
        target = f", its label {int(np.argmax(y))} as the target" if args.target is None else ""
        print(f"# {args.model}: the first image of its test set as the input{target}", file=err)
    out.write(format_trace(trace(net, x, y, eta), limit=args.limit or None))
    return EXIT_OK
