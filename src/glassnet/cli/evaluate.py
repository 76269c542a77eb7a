"""``glassnet evaluate MODEL``: accuracy of a saved model on its test set, digit by digit."""

from __future__ import annotations

import numpy as np

from ..errors import plural
from ..io import BOOK_JSON_FORMAT, CHECKPOINT_FORMAT
from .common import (
    EXIT_OK,
    add_data_options,
    add_tta_option,
    describe_network,
    load_model,
    model_test_set,
    predict_classes,
)

NAME = "evaluate"
HELP = "accuracy of a saved model on the test set, digit by digit"


def add_arguments(e):
    e.description = (
        "Measure a saved model on the 10,000 MNIST test images (on the digits' 40% "
        "test part when the model was trained on the digits, split with its training "
        "seed) and print the accuracy with a table per digit: count, correct, "
        "accuracy and the digit it is most often mistaken for. Any saved model: a "
        "network of chapters 1-3, a chapter-6 layer network, or an ensemble (then also "
        "the accuracy of each member and of both ways to combine them: the mean of "
        "their probabilities and the majority vote), a model saved from Python with "
        "glassnet.save (network2's and network3's networks, a fitted GlassnetClassifier), "
        "a checkpoint (the network as training left it) or the book's network2 JSON file. "
        "With --tta, every count is of answers averaged over 7 views of each image."
    )
    e.add_argument(
        "model",
        metavar="MODEL",
        help="a model saved by 'glassnet train --save' or glassnet.save, a checkpoint, or a network2 JSON file",
    )
    add_tta_option(e)
    add_data_options(e)


def run(args, out, err):
    from ..training import tta  # (imported when run: the other commands start without it)

    net, header = load_model(args.model)
    if args.tta:  # a model without square images: one line, before the test set is even read
        tta.tta_side(net)
    dataset, seed, test = model_test_set(args.model, net, header, args)
    where = f"the digits' test part (split with seed {seed})" if dataset == "digits" else f"the {dataset} test set"
    note = f", test-time augmentation on (mean over {len(tta.VIEWS)} views)" if args.tta else ""
    print(f"# {args.model}: {describe_network(net)} on {where}{note}", file=err)
    what = file_kind(header)
    if what:
        print(f"# {what}", file=err)
    if net.members[0] is not net:  # an ensemble: each member and both rules
        predicted, lines = ensemble_evaluation(net, test.X, test.y, tta=args.tta)
        print(format_evaluation(test.y, predicted, dataset) + "\n\n" + "\n".join(lines), file=out)
    else:
        predicted = tta.tta_predict(net, test.X) if args.tta else predict_classes(net, test.X)
        print(format_evaluation(test.y, predicted, dataset), file=out)
    return EXIT_OK


def file_kind(header):
    """What a model file is when it is more than a saved model, in a few words (or None): a
    checkpoint and how far its run had got, the book's network2 JSON file, a saved face."""
    if header.get("format") == CHECKPOINT_FORMAT:
        state = header.get("state") if isinstance(header.get("state"), dict) else {}
        config = header.get("config") if isinstance(header.get("config"), dict) else {}
        done, planned = state.get("epoch"), config.get("epochs")
        if not isinstance(done, int) or isinstance(done, bool):
            return "a checkpoint: the network as training left it"
        of = f" of {planned}" if isinstance(planned, int) and not isinstance(planned, bool) else ""
        return f"a checkpoint at epoch {done}{of}: the network as training left it after {plural(done, 'epoch')}"
    if header.get("format") == BOOK_JSON_FORMAT:
        return "a network2 network in the book's JSON format"
    face = header.get("face") if isinstance(header.get("face"), dict) else {}
    names = {
        "glassnet.network2.Network": "a network2 network",
        "glassnet.network3.Network": "a network3 network",
        "glassnet.sklearn.GlassnetClassifier": "a fitted GlassnetClassifier",
    }
    return names.get(face.get("class"))


def ensemble_evaluation(ensemble, X, labels, tta=False):
    """``(predictions by the ensemble's own rule (m,), lines)`` from one pass of every member:
    the lines give the correct count of both combining rules and of each member alone (with
    ``tta``, each member's answers averaged over the views of ``training.tta``)."""
    if tta:
        from ..training.tta import tta_answers

        by_rule = tta_answers(ensemble, X)
    else:
        by_rule = ensemble.answers(X)
    labels, total = np.asarray(labels), len(labels)

    def score(predicted):
        right = int(np.sum(predicted == labels))
        return f"{right} / {total} ({100 * right / max(total, 1):.2f}%)"

    lines = [
        f"ensemble of {len(ensemble)} (answers by {ensemble.combine}):",
        f"  mean of the members' probabilities  {score(by_rule['mean'])}",
        f"  majority vote of the members        {score(by_rule['vote'])}",
    ]
    lines += [f"  member {j}: {score(p)}" for j, p in enumerate(by_rule["members"])]
    return by_rule[ensemble.combine], lines


def format_evaluation(labels, predicted, dataset="mnist"):
    """The accuracy line and the per-digit table, as printed by ``glassnet evaluate``."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (labels, predicted), 1)
    correct, total = int(np.trace(confusion)), int(confusion.sum())
    name = {"mnist": "MNIST test set", "fashion": "Fashion-MNIST test set"}.get(dataset, "digits test part")
    lines = [
        f"{name}: {correct} / {total} correct ({100 * correct / max(total, 1):.2f}%)",
        "",
        "digit  count  correct  accuracy  most often mistaken for",
    ]
    for d in range(10):
        count, right = int(confusion[d].sum()), int(confusion[d, d])
        wrong = confusion[d].copy()
        wrong[d] = 0
        mistaken = f"{int(wrong.argmax())} ({int(wrong.max())}x)" if wrong.max() else "-"
        accuracy = f"{100 * right / count:7.2f}%" if count else "      -"
        lines.append(f"{d:5d}  {count:5d}  {right:7d}  {accuracy}   {mistaken}")
    return "\n".join(lines)
