"""``glassnet predict MODEL IMAGE [IMAGE...]``: read digits from image files (needs Pillow,
the extra ``image``).

``predict`` prepares each image as MNIST prepared its digits (``glassnet.datasets.preprocess``)
and prints the most likely digits.  Every image is read and checked before anything
is printed, so a bad file stops the command with one line naming it and exit code 2.
"""

from __future__ import annotations

import json

import numpy as np

from .common import (
    EXIT_OK,
    CLIError,
    add_tta_option,
    at_least,
    describe_network,
    io_sizes,
    load_model,
    model_kind,
    probabilities,
)

NAME = "predict"
HELP = "read the digit in image files with a saved MNIST model"


def add_arguments(p):
    p.description = (
        "Read the handwritten digit in each image file (PNG, JPEG, ... : any image "
        "Pillow reads) with a saved MNIST model. Each image is prepared the way MNIST's "
        "digits were: grayscale, ink light on dark, cropped, scaled to fit 20x20, centred "
        "by its centre of mass in 28x28. Prints the most likely digits with their "
        "probabilities: a softmax output as it is (chapter-6 layer networks have one), "
        "sigmoid outputs divided by their sum (a score that sums to 1, not a calibrated "
        "probability), an ensemble's mean of its members' probabilities; with --tta, those "
        "averaged over 7 views of each image. Needs Pillow: "
        "pip install \"glassnet[image]\"."
    )
    p.add_argument("model", metavar="MODEL", help="a model saved by 'glassnet train --save' (784 inputs)")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files holding one digit each")
    p.add_argument(
        "--top",
        type=at_least(int, 1),
        default=3,
        metavar="K",
        help="how many of the most likely digits to show (default 3)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document: a list of {image, prediction, top: [{digit, probability}]}",
    )
    p.add_argument(
        "--preview", action="store_true", help="also show the 28x28 input the network receives, drawn with characters"
    )
    add_tta_option(p)


def run(args, out, err):
    from ..datasets.preprocess import prepare, preview

    net, header = load_model(args.model)
    if io_sizes(net) != (784, 10):
        raise CLIError(
            f"{args.model}: a {describe_network(net)} {model_kind(net)} (dataset "
            f"{header.get('dataset', 'unknown')}); predict needs an MNIST model with "
            f"784 inputs and 10 outputs"
        )
    if args.tta:
        from ..training.tta import tta_probabilities, tta_side

        tta_side(net)  # 784 values in channels (a 4x14x14 input) have no views: one line
    X = np.stack([prepare(path) for path in args.images])  # every image checked first
    P = tta_probabilities(net, X) if args.tta else probabilities(net, X)
    k = min(args.top, P.shape[1])
    results = []
    for path, x, p in zip(args.images, X, P):
        order = np.argsort(-p, kind="stable")[:k]
        results.append(
            dict(
                image=str(path),
                prediction=int(order[0]),
                top=[dict(digit=int(d), probability=float(p[d])) for d in order],
            )
        )
        if args.preview:
            results[-1]["preview"] = preview(x, width=56).splitlines()
    if args.json:
        print(json.dumps(results, indent=2), file=out)
        return EXIT_OK
    for r in results:
        print(f"{r['image']}: " + ", ".join(f"{t['digit']} ({t['probability']:.2f})" for t in r["top"]), file=out)
        if args.preview:
            print("\n".join(r["preview"]), file=out)
    return EXIT_OK
