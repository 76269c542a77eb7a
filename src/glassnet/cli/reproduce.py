"""``glassnet reproduce``: the book's tables, trained over seeds and printed against the book."""

from __future__ import annotations

from ..errors import plural
from .common import EXIT_OK, CLIError, add_data_options, at_least, int_list, plots_dir, positive, seed_list, writable

NAME = "reproduce"
HELP = "reproduce the book's tables (chapter 1 by default) against the book"


def add_arguments(r):
    r.description = (
        "Train every row of one of the book's results tables over several seeds and print ours "
        "against the book. Chapter 1 (the default) also holds the primer's and the tutorial's "
        "figures."
    )
    r.add_argument(
        "--chapter",
        type=int,
        choices=[1, 3, 5, 6],
        default=1,
        help="which chapter's table: 1 (default; network.py, with the primer's and tutorial's "
        "figures), 3 (network2: cross-entropy, L2, initialisation), 5 (deeper networks) or "
        "6 (network3: convolutional networks, ReLU, expanded data, dropout, an ensemble)",
    )
    r.add_argument(
        "--quick",
        action="store_true",
        help="chapters 3, 5 and 6: a short form that checks the plumbing (1 epoch, 1,000 images; "
        "chapter 6 also tests on 1,000 images and ensembles 3 networks); its accuracies say "
        "nothing about the book's",
    )
    r.add_argument(
        "--plots",
        metavar="DIR",
        help="chapters 3 and 5: also draw the chapter's figures into DIR (chapter 3: the "
        "learning-rate and initialisation comparisons; chapter 5: the speed of learning)",
    )
    r.add_argument(
        "--seeds",
        type=seed_list,
        default=[0, 1, 2],
        metavar="S,S,...",
        help="seeds to run every row with (default 0,1,2; the book reports best of three)",
    )
    r.add_argument(
        "--rows",
        metavar="I,I,...",
        type=int_list,
        help="only these rows, numbered from 1 in the order printed by --list",
    )
    r.add_argument("--list", action="store_true", help="list the rows and exit")
    r.add_argument("--epochs", type=positive(int, 1_000_000), help="override every row's epochs (quick checks)")
    r.add_argument("--output", metavar="PATH", help="also write the table (Markdown) to PATH")
    _add_chapter6_options(r)


def _add_chapter6_options(r):
    """Chapter 6's own options: images, workers, curves, saved networks."""
    r.add_argument(
        "--n-train",
        type=at_least(int, 10, high=250_000),
        metavar="N",
        help="chapter 6: train on N images (the first N, or the expansions of the first N/5 for "
        "the expanded rows) instead of the book's 50,000 / 250,000",
    )
    r.add_argument(
        "--n-jobs",
        type=positive(int, 64),
        default=1,
        metavar="N",
        help="chapter 6: train N seeds (an ensemble: N members) at once in worker processes, "
        "one BLAS thread each (default 1: in this process)",
    )
    r.add_argument(
        "--save",
        metavar="DIR",
        help="chapter 6: also save every trained network (at its best validation epoch) and every "
        "ensemble (combining by vote) into DIR, created if missing, as "
        "chapter6-row<N>-seed<S>.npz, for evaluate, predict, serve and ensemble",
    )
    r.add_argument(
        "--curves",
        metavar="PATH",
        help="chapter 6: also write every run's validation and test accuracy per epoch (JSON) "
        "to PATH, to set a shortened run's curve beside a full one",
    )
    add_data_options(r)


def _rows(args, table):
    if not args.rows:
        return table
    bad = [i for i in args.rows if not 1 <= i <= len(table)]
    if bad:
        raise CLIError(f"no row {bad[0]}; rows are numbered 1..{len(table)}")
    return [table[i - 1] for i in args.rows]


def run(args, out, err):
    if args.chapter != 6 and (args.n_train or args.n_jobs != 1 or args.curves or args.save):
        raise CLIError("--n-train, --n-jobs, --curves and --save are for --chapter 6")
    if args.chapter == 6:
        return run_chapter6(args, out, err)
    if args.chapter != 1:
        return run_book_chapter(args, out, err)
    if args.quick or args.plots:
        raise CLIError("--quick and --plots are for --chapter 3 and 5")
    from ..book import chapter1

    if args.list:
        for i, row in enumerate(chapter1.CHAPTER_1, 1):
            print(f"{i}. {row.describe()}", file=out)
        return EXIT_OK
    rows = _rows(args, chapter1.CHAPTER_1)
    output = writable(args.output) if args.output else None

    def on_result(row, r):
        print(
            f"# {row.name}, seed {r['seed']}: best {r['best']:.2f}%, final {r['final']:.2f}% ({r['seconds']:.0f} s)",
            file=err,
            flush=True,
        )

    done = chapter1.reproduce_chapter1(
        rows, args.seeds, epochs=args.epochs, data_dir=args.data_dir, cache_dir=args.cache_dir, on_result=on_result
    )
    _emit(chapter1.format_markdown(done, args.seeds), output, out)
    return EXIT_OK


def _emit(text, output, out):
    """Print a table (Markdown) and, with --output, write the same lines to that file atomically."""
    text = text.rstrip("\n") + "\n"
    print(text, end="", file=out)
    if output:
        from ..files import atomic_write

        atomic_write(output, lambda f: f.write(text.encode()))


def run_book_chapter(args, out, err):
    """Chapters 3 and 5: network2's experiments (``glassnet.book.chapters``), over the seeds."""
    from ..book import chapters

    table = chapters.CHAPTERS[args.chapter]
    if args.list:
        for i, row in enumerate(table, 1):
            print(
                f"{i}. {row.name} ({plural(row.epochs, 'epoch')}, eta {row.eta:g}, lambda {row.lmbda:g}; book "
                f"{row.book:.2f}% on {row.evaluate} data)",
                file=out,
            )
        return EXIT_OK
    rows = _rows(args, table)
    output = writable(args.output) if args.output else None
    folder = plots_dir(args.plots) if args.plots else None
    data = _mnist(args)

    def on_result(row, r):
        print(
            f"# {row.name}, seed {r['seed']}: best {r['best']:.2f}% (epoch {r['best_epoch']}), final "
            f"{r['final']:.2f}% ({r['seconds']:.1f} s)",
            file=err,
            flush=True,
        )

    done = []
    for row in rows:  # one row at a time: --rows picks any of them
        done += chapters.reproduce_chapter(
            args.chapter,
            args.seeds,
            quick=args.quick,
            epochs=args.epochs,
            on_result=on_result,
            data=data,
            only=[row.name],
        )
    text = (
        f"Chapter {args.chapter} (network2), seeds {','.join(map(str, args.seeds))}"
        + (" -- QUICK FORM, not the book's settings" if args.quick else "")
        + "\n\n"
        + chapters.format_markdown(done)
    )
    _emit(text, output, out)
    if folder:
        for path in _chapter_figures(args.chapter, data, args.seeds[0], folder, args.quick):
            print(f"# wrote {path}", file=err)
    return EXIT_OK


def _mnist(args):
    from ..datasets import load_mnist

    return load_mnist(cache_dir=args.cache_dir, data_dir=args.data_dir)


def _chapter_figures(chapter, data, seed, folder, quick):
    from ..book import chapters
    from ..views import plots

    if chapter == 5:
        speed = chapters.learning_speed_during_training(data, seed, quick=quick)
        return [plots.series(speed, folder / "learning_speed.png", log_y=True)]
    paths = [plots.series(chapters.learning_rate_comparison(data, seed, quick=quick), folder / "learning_rates.png")]
    for i, curve in enumerate(chapters.initialisation_comparison(data, seed, quick=quick)):
        paths.append(plots.series(curve, folder / f"initialisation_{i + 1}.png"))
    return paths


def run_chapter6(args, out, err):
    """Chapter 6: network3's table (``glassnet.book.chapter6``), over the seeds."""
    from ..book import chapter6

    if args.plots:
        raise CLIError("--plots is for --chapter 3 and 5")
    if args.list:
        for i, row in enumerate(chapter6.CHAPTER_6, 1):
            print(f"{i}. {row.describe()}", file=out)
        return EXIT_OK
    rows = _rows(args, chapter6.CHAPTER_6)
    output = writable(args.output) if args.output else None
    curves = writable(args.curves) if args.curves else None
    models = plots_dir(args.save) if args.save else None

    def on_result(row, r):
        if "vote" in r:
            said = (
                f"test {r['vote']:.2f}% by vote, {r['mean']:.2f}% by mean (validation "
                f"{r['validation_vote']:.2f}%, {r['validation_mean']:.2f}%)"
            )
        else:
            said = (
                f"test {r['test_at_best']:.2f}% at the best validation {r['best_validation']:.2f}% "
                f"(epoch {r['best_epoch']})"
            )
        print(f"# {row.name}, seed {r['seed']}: {said} ({r['seconds']:.1f} s)", file=err, flush=True)

    done = chapter6.reproduce_chapter6(
        args.seeds,
        rows=[row.name for row in rows],
        quick=args.quick,
        epochs=args.epochs,
        n_train=args.n_train,
        on_result=on_result,
        data=_mnist(args),
        n_jobs=args.n_jobs,
        on_model=_saver(models, args.quick, err) if models else None,
    )
    text = (
        f"Chapter 6 (network3), seeds {','.join(map(str, args.seeds))}"
        + (" -- QUICK FORM, not the book's settings" if args.quick else "")
        + "\n\n"
        + chapter6.format_markdown(done)
        + "\nThe book's figures and ours: test accuracy at the epoch of best validation accuracy; the "
        "ensemble's: the majority vote of its networks (the book: 9,967 of 10,000).\n"
    )
    _emit(text, output, out)
    if curves:
        import json

        from ..files import atomic_write

        atomic_write(curves, lambda f: f.write(json.dumps(chapter6.curves(done), indent=1).encode()))
    return EXIT_OK


def _saver(folder, quick, err):
    """``on_model`` for chapter 6: each network or ensemble to folder/chapter6-row<N>-seed<S>.npz
    (atomically), its row's settings, results and training history in the header."""
    from ..book.chapter6 import row_number
    from ..io import save

    def on_model(row, result, model):
        number = row_number(row)
        path = folder / f"chapter6-row{number}-seed{result['seed']}.npz"
        training = dict(
            seed=result["seed"],
            recipe=f"chapter 6 row {number}: {row.describe()}",
            epochs=result["epochs"],
            n_train=result["n_train"],
            quick=quick,
        )
        if row.members > 1:
            members = result["member_results"]
            training.update(
                member_seeds=result["member_seeds"],
                vote=result["vote"],
                mean=result["mean"],
                member_kept_epochs=[m["kept_epoch"] for m in members],
            )
            histories = dict(members_history=[m["history"] for m in members])
        else:
            training.update(kept_epoch=result["kept_epoch"], test_at_best=result["test_at_best"])
            histories = dict(history=result["history"])
        save(model, path, metadata=dict(dataset="mnist", training=training, **histories))
        print(f"# wrote {path}", file=err, flush=True)

    return on_model
