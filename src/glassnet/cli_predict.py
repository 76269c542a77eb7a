"""``glassnet predict`` and ``glassnet evaluate``: use a saved model.

    glassnet predict MODEL IMAGE [IMAGE...]   read digits from image files (needs Pillow,
                                               the extra ``image``)
    glassnet evaluate MODEL                    accuracy on the test set, digit by digit

``predict`` prepares each image as MNIST prepared its digits (``glassnet.preprocess``)
and prints the most likely digits.  Every image is read and checked before anything
is printed, so a bad file stops the command with one line naming it and exit code 2.
"""
from __future__ import annotations

import json

import numpy as np

from .cli import at_least

EXIT_OK = 0


def register(subparsers, add_data_options):
    p = subparsers.add_parser(
        "predict", help="read the digit in image files with a saved MNIST model",
        description="Read the handwritten digit in each image file (PNG, JPEG, ... : any image "
                    "Pillow reads) with a saved MNIST model. Each image is prepared the way MNIST's "
                    "digits were: grayscale, ink light on dark, cropped, scaled to fit 20x20, centred "
                    "by its centre of mass in 28x28. Prints the most likely digits with their "
                    "probabilities: a softmax output as it is, sigmoid outputs divided by their sum "
                    "(a score that sums to 1, not a calibrated probability). Needs Pillow: "
                    "pip install \"glassnet[image]\".")
    p.add_argument("model", metavar="MODEL", help="a model saved by 'glassnet train --save' (784 inputs)")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files holding one digit each")
    p.add_argument("--top", type=at_least(int, 1), default=3, metavar="K",
                   help="how many of the most likely digits to show (default 3)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON document: a list of {image, prediction, top: [{digit, "
                        "probability}]}")
    p.add_argument("--preview", action="store_true",
                   help="also show the 28x28 input the network receives, drawn with characters")
    p.set_defaults(func=run_predict)

    e = subparsers.add_parser(
        "evaluate", help="accuracy of a saved model on the test set, digit by digit",
        description="Measure a saved model on the 10,000 MNIST test images (on the digits' 40% "
                    "test part when the model was trained on the digits, split with its training "
                    "seed) and print the accuracy with a table per digit: count, correct, "
                    "accuracy and the digit it is most often mistaken for.")
    e.add_argument("model", metavar="MODEL", help="a model saved by 'glassnet train --save'")
    add_data_options(e)
    e.set_defaults(func=run_evaluate)


def _load_model(path):
    from .cli import CLIError
    from .io import load
    try:
        return load(path, with_header=True)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise CLIError(f"{path}: is a folder, not a model file") from None


def probabilities(net, X):
    """(m, n_out) rows summing to 1: softmax outputs as they are, others divided by their sum."""
    A = np.asarray(net.feedforward(X), dtype=np.float64)
    if net.output_activation.name == "softmax":
        return A
    A = np.clip(A, 0.0, None)
    total = A.sum(axis=1, keepdims=True)
    return np.where(total > 0, A / np.where(total > 0, total, 1.0), 1.0 / A.shape[1])


# -- predict -----------------------------------------------------------------------------------
def run_predict(args, out, err):
    from .cli import CLIError
    from .preprocess import prepare, preview

    net, header = _load_model(args.model)
    if net.sizes[0] != 784 or net.sizes[-1] != 10:
        raise CLIError(f"{args.model}: a {'-'.join(map(str, net.sizes))} network (dataset "
                       f"{header.get('dataset', 'unknown')}); predict needs an MNIST model with "
                       f"784 inputs and 10 outputs")
    X = np.stack([prepare(path) for path in args.images])      # every image checked first
    P = probabilities(net, X)
    k = min(args.top, P.shape[1])
    results = []
    for path, x, p in zip(args.images, X, P):
        order = np.argsort(-p, kind="stable")[:k]
        results.append(dict(image=str(path), prediction=int(order[0]),
                            top=[dict(digit=int(d), probability=float(p[d])) for d in order]))
        if args.preview:
            results[-1]["preview"] = preview(x, width=56).splitlines()
    if args.json:
        print(json.dumps(results, indent=2), file=out)
        return EXIT_OK
    for r in results:
        print(f"{r['image']}: " + ", ".join(f"{t['digit']} ({t['probability']:.2f})" for t in r["top"]),
              file=out)
        if args.preview:
            print("\n".join(r["preview"]), file=out)
    return EXIT_OK


# -- evaluate ----------------------------------------------------------------------------------
def run_evaluate(args, out, err):
    from .cli import CLIError
    from .experiments import load_dataset

    net, header = _load_model(args.model)
    dataset = header.get("dataset", "mnist")
    if dataset not in ("mnist", "digits"):
        raise CLIError(f"{args.model}: trained on {dataset!r}; evaluate knows mnist and digits")
    training = header.get("training") if isinstance(header.get("training"), dict) else {}
    seed = training.get("seed", header.get("seed")) or 0
    if dataset == "digits":
        print(f"# {args.model}: {'-'.join(map(str, net.sizes))} on the digits' test part "
              f"(split with seed {seed})", file=err)
    else:
        print(f"# {args.model}: {'-'.join(map(str, net.sizes))} on the MNIST test set", file=err)
    _, _, test, _ = load_dataset(dataset, seed=seed, data_dir=args.data_dir, cache_dir=args.cache_dir)
    if net.sizes[0] != test.X.shape[1] or net.sizes[-1] != 10:
        raise CLIError(f"{args.model}: a {'-'.join(map(str, net.sizes))} network does not fit {dataset} "
                       f"({test.X.shape[1]} inputs, 10 outputs)")
    predicted = np.concatenate([net.predict(test.X[i:i + 10000]) for i in range(0, len(test.X), 10000)])
    print(format_evaluation(test.y, predicted, dataset), file=out)
    return EXIT_OK


def format_evaluation(labels, predicted, dataset="mnist"):
    """The accuracy line and the per-digit table, as printed by ``glassnet evaluate``."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (labels, predicted), 1)
    correct, total = int(np.trace(confusion)), int(confusion.sum())
    name = "MNIST test set" if dataset == "mnist" else "digits test part"
    lines = [f"{name}: {correct} / {total} correct ({100 * correct / max(total, 1):.2f}%)",
             "",
             "digit  count  correct  accuracy  most often mistaken for"]
    for d in range(10):
        count, right = int(confusion[d].sum()), int(confusion[d, d])
        wrong = confusion[d].copy()
        wrong[d] = 0
        mistaken = f"{int(wrong.argmax())} ({int(wrong.max())}x)" if wrong.max() else "-"
        accuracy = f"{100 * right / count:7.2f}%" if count else "      -"
        lines.append(f"{d:5d}  {count:5d}  {right:7d}  {accuracy}   {mistaken}")
    return "\n".join(lines)
