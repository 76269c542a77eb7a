"""``glassnet plot KIND``: pictures of a saved model (needs matplotlib, the extra ``plot``).

    glassnet plot curves MODEL -o curves.png         cost and accuracy per epoch (header history)
    glassnet plot weights MODEL -o weights.png       first-layer weights (or filters) as images
    glassnet plot confusion MODEL -o confusion.png   confusion matrix on the test set
    glassnet plot misclassified MODEL -o wrong.png   misclassified test digits
    glassnet plot sigmoid -o DIR                     the tutorial's two sigmoid-neuron figures

Any saved model: a network of chapters 1-3, a chapter-6 layer network (weights: the
first convolutional layer's filters, as the book shows its 20 5x5 filters, or the first
fully connected layer's rows) or an ensemble (its own answers; weights of member 0).
The test set is MNIST's 10,000 test images, or the digits' 40% test part when the
model's header says dataset "digits" (split with the header's training seed).
Written paths go to stdout, one per line; comments to stderr.
"""

from __future__ import annotations

from pathlib import Path

from .common import (
    EXIT_OK,
    CLIError,
    add_data_options,
    at_least,
    describe_network,
    load_model,
    model_test_set,
    parse_sizes,
    positive,
    seed_type,
    writable,
)

NAME = "plot"
HELP = "draw a saved model: learning curves, weights, confusion matrix, mistakes"


def add_arguments(p):
    p.description = (
        "Draw pictures of a saved model (or of a sigmoid neuron) as PNG files. "
        "Needs matplotlib: pip install \"glassnet[plot]\"."
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)

    def model_kind(name, help, description, output="out.png"):
        k = kinds.add_parser(name, help=help, description=description)
        k.add_argument("model", metavar="MODEL", help="a model file written by glassnet train --save")
        k.add_argument("-o", "--output", required=True, metavar="PNG", help=f"the PNG file to write (e.g. {output})")
        return k

    model_kind(
        "curves",
        "average cost and accuracy per epoch, from the model's training history",
        "Plot the average cost and the accuracy per epoch on the training, validation and "
        "test data, from the history stored in the model file.",
        "curves.png",
    )
    w = model_kind(
        "weights",
        "each hidden neuron's incoming weights, or each filter, as an image",
        "Draw each first-layer neuron's incoming weights as a 28x28 image (8x8 for the "
        "digits), red positive, blue negative, on one colour scale centred on 0. For a "
        "chapter-6 layer network whose first layer is convolutional, draw its filters "
        "(e.g. 20 of 5x5) in grey, darker for larger weights, mid-grey 0, as the book "
        "shows them; with several input channels, their mean (or --channel). For an "
        "ensemble, the weights of its member 0.",
        "weights.png",
    )
    w.add_argument(
        "--max-neurons",
        type=at_least(int, 1),
        default=100,
        metavar="N",
        help="draw at most the first N neurons or filters (default 100)",
    )
    w.add_argument(
        "--channel",
        type=at_least(int, 0),
        metavar="C",
        help="convolutional filters over several input channels: draw channel C (default: the mean over the channels)",
    )
    _add_test_set_kinds(model_kind)
    _add_figure_kinds(kinds)


def _add_test_set_kinds(model_kind):
    """The kinds that measure a saved model on its test set: the confusion matrix, the mistakes."""
    c = model_kind(
        "confusion",
        "confusion matrix on the test set",
        "Count, for every true digit, which digit the model predicts, on the MNIST test "
        "set (or the digits test part for a model trained on the digits).",
        "confusion.png",
    )
    add_data_options(c)
    m = model_kind(
        "misclassified",
        "a grid of test digits the model gets wrong",
        "Show the first test images the model misclassifies, each titled "
        "'true T, predicted P', on the MNIST test set (or the digits test part).",
        "misclassified.png",
    )
    m.add_argument(
        "-n", type=at_least(int, 1), default=36, metavar="N", help="show at most N misclassified images (default 36)"
    )
    add_data_options(m)


def _add_figure_kinds(kinds):
    """The kinds that draw no saved model: chapter 5's learning speed, the sigmoid neuron."""
    ls = kinds.add_parser(
        "learning-speed",
        help="chapter 5: how fast each hidden layer learns, over training",
        description="Train a network the way chapter 5's figures were made (cross-entropy, "
        "scaled initialisation, the first 1,000 MNIST training images, mini-batches "
        "of 1,000, eta 0.1, lambda 5) and plot each hidden layer's speed of "
        "learning ||dC/db^l|| at initialisation and after every epoch, on a log "
        "scale: the earlier layers learn far more slowly (vanishing gradients).",
    )
    ls.add_argument("-o", "--output", required=True, metavar="PNG", help="the PNG file to write")
    ls.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[784, 30, 30, 30, 30, 10],
        metavar="N-N-...",
        help="the network (default 784-30-30-30-30-10: the book's four hidden layers)",
    )
    ls.add_argument("--epochs", type=positive(int, 100_000), default=500, help="epochs (default 500, as the book)")
    ls.add_argument("--seed", type=seed_type, default=0, help="seed of the network's generator")
    add_data_options(ls)

    s = kinds.add_parser(
        "sigmoid",
        help="the tutorial's sigmoid-neuron figures (two PNG files)",
        description="Plot one sigmoid neuron's output against its input x: for the "
        "weights w = 0.5, 1, 2 (b = 0) in sigmoid_weights.png and for the "
        "biases b = -8, 0, 8 (w = 1) in sigmoid_biases.png.",
    )
    s.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        help="folder to write sigmoid_weights.png and sigmoid_biases.png into (created if missing)",
    )


def run(args, out, err):
    from ..views import plots

    if args.kind == "sigmoid":
        outdir = Path(args.output)
        if outdir.suffix.lower() == ".png" and not outdir.is_dir():
            raise CLIError(
                f"plot sigmoid draws two figures: -o takes a folder to write sigmoid_weights.png "
                f"and sigmoid_biases.png into, not a PNG file ({outdir})"
            )
        if outdir.exists() and not outdir.is_dir():
            raise CLIError(f"cannot write into {outdir}: it is not a folder")
        outdir.mkdir(parents=True, exist_ok=True)
        for path in plots.sigmoid_figures(outdir / "sigmoid_weights.png", outdir / "sigmoid_biases.png"):
            print(path, file=out)
        return EXIT_OK

    output = writable(args.output)
    if args.kind == "learning-speed":
        return _learning_speed(args, output, out, err)
    net, header = load_model(args.model)
    if args.kind == "curves":
        path = plots.learning_curves(_history(args.model, header, err), output)
    elif args.kind == "weights":
        print(f"# drawing {_weights_drawn(net)}, of {describe_network(net)}", file=err)
        path = plots.weights_grid(net, output, max_neurons=args.max_neurons, channel=args.channel)
    else:
        name, seed, test = model_test_set(args.model, net, header, args)
        if args.kind == "confusion":
            path = plots.confusion_matrix(net, test.X, test.y, output)
        else:
            from ..datasets import digits_test_images

            images = digits_test_images(seed, test.y) if name == "digits" else None
            path, count = plots.misclassified(net, test.X, test.y, output, n=args.n, images=images)
            print(f"# {count} of {len(test.y)} {name} test images misclassified", file=err)
    print(path, file=out)
    return EXIT_OK


def _history(path, header, err):
    """The training history in a model's header; an ensemble saved without one at its top
    may hold one in member 0's header (said on stderr). CLIError when there is none."""
    history = header.get("history")
    members = header.get("members") if isinstance(header.get("members"), list) else []
    if not history and members and isinstance(members[0], dict) and members[0].get("history"):
        history = members[0]["history"]
        print(f"# the training history of member 0 of {len(members)}", file=err)
    if not isinstance(history, list) or not history:
        raise CLIError(f"{path} holds no training history (it was saved without one)")
    return history


def _weights_drawn(net):
    """What ``plot weights`` draws for ``net``, in words."""
    member = net.members[0]
    note = "" if member is net else "member 0's "
    W = member.first_layer_weights()
    if W.ndim == 4:
        f, c, kh, kw = W.shape
        channels = f" (the mean over {c} input channels unless --channel)" if c > 1 else ""
        return f"{note}{f} {kh}x{kw} filters of the first convolutional layer{channels}"
    return f"{note}first-layer weights, one image per neuron"


def _learning_speed(args, output, out, err):
    from ..book import chapters
    from ..datasets import load_mnist
    from ..views import plots

    if args.sizes[0] != 784 or args.sizes[-1] != 10 or len(args.sizes) < 3:
        raise CLIError(
            f"--sizes {','.join(map(str, args.sizes))}: need 784 inputs, at least one hidden layer and 10 outputs"
        )
    data = load_mnist(cache_dir=args.cache_dir, data_dir=args.data_dir)
    speed = chapters.learning_speed_during_training(data, args.seed, sizes=tuple(args.sizes), epochs=args.epochs)
    first = ", ".join(f"{label} {ys[0]:.3g}" for label, ys in speed.lines.items())
    print(f"# at initialisation: {first}", file=err)
    print(plots.series(speed, output, log_y=True), file=out)
    return EXIT_OK
