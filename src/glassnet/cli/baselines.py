"""``glassnet baselines``: the book's non-neural baselines against ours, as a Markdown table."""

from __future__ import annotations

from .common import EXIT_OK, CLIError, add_data_options, positive, seed_type, writable

NAME = "baselines"
HELP = "the book's baselines: random guessing, average darkness, SVMs"

#: chapter 1's figures (MNIST test set, 10,000 images), by the name baselines.py gives a result
BOOK = {
    "random guessing": ("about 10%", "the book: \"right about ten percent of the time\""),
    "average darkness": ("22.25%", "the book: 2,225 / 10,000"),
    "SVM, the book's defaults": ("94.35%", "the book: 9,435 / 10,000"),
    "SVM, today's defaults": ("-", "not in the book"),
}


def add_arguments(b):
    b.description = (
        "Chapter 1's baselines on the test set: random guessing, the average darkness "
        "of each digit, and scikit-learn's RBF support vector machine with the defaults "
        "of the book's time (gamma=1/784, C=1) and with today's (gamma='scale'). Prints a "
        "Markdown table of the book's figures against ours. The two SVMs on all 50,000 "
        "training images take minutes each; --svm-train-size trains them on fewer."
    )
    b.add_argument(
        "--dataset",
        default="mnist",
        choices=["mnist", "fashion"],
        help="mnist (the book's 50k/10k/10k split; the default) or fashion (Fashion-MNIST, "
        "same split; the book has no figures for it)",
    )
    b.add_argument(
        "--svm-train-size",
        type=positive(int),
        metavar="N",
        help="train the SVMs on the first N training images (default: all 50,000)",
    )
    b.add_argument("--no-svm", dest="svm", action="store_false", help="skip the SVMs (no scikit-learn needed)")
    b.add_argument("--seed", type=seed_type, default=0, help="seeds the random guesses (default 0)")
    b.add_argument("--output", metavar="PATH", help="also write the table (Markdown) to PATH")
    add_data_options(b)


def run(args, out, err):
    from ..book.baselines import import_svc, run_baselines
    from ..datasets import load_dataset
    from ..version import __version__

    output = writable(args.output) if args.output else None
    if args.svm:
        import_svc()  # a missing extra fails at once, in one line
    training, _, test, _ = load_dataset(args.dataset, seed=args.seed, data_dir=args.data_dir, cache_dir=args.cache_dir)
    if args.svm and args.svm_train_size is not None and args.svm_train_size > len(training.y):
        raise CLIError(f"--svm-train-size {args.svm_train_size}: there are only {len(training.y)} training images")

    def on_result(r):
        print(
            f"# {r['name']}: {r['correct']} / {r['total']} ({100 * r['accuracy']:.2f}%), {r['seconds']:.1f} s",
            file=err,
            flush=True,
        )

    print(
        f"# glassnet {__version__} baselines on {args.dataset}: {len(training.y)} training, "
        f"{len(test.y)} test images, seed {args.seed}",
        file=err,
        flush=True,
    )
    results = run_baselines(
        training, test, seed=args.seed, svm=args.svm, svm_train_size=args.svm_train_size, on_result=on_result
    )
    table = format_baselines(results, dataset=args.dataset, seed=args.seed)
    print(table, file=out)
    if output:
        from ..files import atomic_write

        atomic_write(output, lambda f: f.write((table + "\n").encode()))
    return EXIT_OK


def format_baselines(results, *, dataset="mnist", seed=0):
    """The Markdown table: method | book | ours | correct / N | seconds | notes."""
    total = results[0]["total"] if results else 10000
    lines = [f"| method | book | ours | correct / {total} | seconds | notes |", "|---|---|---|---|---|---|"]
    sklearn = None
    for r in results:
        book, source = BOOK.get(r["name"], ("-", ""))
        if dataset != "mnist":
            book, source = "-", ""
        p = r["params"]
        notes = []
        if r["name"] == "random guessing":
            notes.append(f"uniform over {p['n_classes']} classes, numpy Generator seed {p['seed']}")
        elif r["name"] == "average darkness":
            notes.append(
                f"mean total darkness per class on the {p['train_size']:,} training images; the nearest mean wins"
            )
        elif "gamma" in p:
            sklearn = p.get("sklearn")
            gamma = (
                f"gamma=1/{round(1 / p['gamma'])}"
                if isinstance(p["gamma"], float)
                else f"gamma='{p['gamma']}' (= {p['gamma_value']:.4g})"
            )
            notes.append(
                f"SVC({gamma}, C={p['C']:g}), {p['kernel'].upper()} kernel, trained on "
                f"{p['train_size']:,} images, {p['support_vectors']:,} support vectors"
            )
        if source:
            notes.append(source)
        lines.append(
            f"| {r['name']} | {book} | {100 * r['accuracy']:.2f}% | {r['correct']} | "
            f"{r['seconds']:.1f} | {'; '.join(notes)} |"
        )
    lines.append("")
    name = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}.get(dataset, dataset)
    lines.append(
        f"Accuracy on the {total:,} {name} test images; seconds include fitting and predicting"
        + (f"; scikit-learn {sklearn}" if sklearn else "")
        + f"; seed {seed}."
    )
    return "\n".join(lines)
