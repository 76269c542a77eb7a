"""The ``glassnet`` command: a thin layer over the library.

``main(argv) -> int`` is the only place that prints and chooses exit codes:
0 success, 2 bad input or a failure the user can fix (one line on stderr), 130 Ctrl-C.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import sys
from pathlib import Path

import numpy as np

from . import __version__

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130


class CLIError(ValueError):
    """A problem with what the user asked for, reported in one line."""


def _sizes(text):
    try:
        sizes = [int(s) for s in text.replace("-", ",").split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be integers separated by commas, got {text!r}")
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes need at least two layers, each > 0, got {text!r}")
    return sizes


def at_least(kind, low, *, strict=False):
    """An argparse type: a ``kind`` (int or float) >= low (> low when ``strict``), finite."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}")
        if not (value > low if strict else value >= low) or not np.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low}, got {text!r}")
        return value
    return parse


def _positive(kind):
    return at_least(kind, 0, strict=True)


_non_negative = at_least(float, 0)
_non_negative_int = at_least(int, 0)


def _seeds(text):
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be integers separated by commas, got {text!r}")


def _add_data_options(p):
    p.add_argument("--data-dir", metavar="DIR",
                   help="a folder holding the four MNIST (or Fashion-MNIST) IDX files (raw or .gz) to use instead of "
                        "downloading them (also: GLASSNET_DATA_DIR)")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="where fetched data is kept (default: GLASSNET_CACHE, else ~/.cache/glassnet)")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


PRESET_HELP = {
    "chapter3": "784-100-10 sigmoid, cross-entropy, scaled init, L2 5.0, eta 0.1 halved on plateaus",
    "fast": "784-800-10 ReLU/softmax, He init, momentum 0.9, eta 0.1 cosine decay, batch 128, 50 epochs on "
            "60,000 images, half distorted each epoch",
    "best": "784-800-800-10, otherwise as fast but 110 epochs with every image distorted",
}


def build_parser():
    parser = _Parser(
        prog="glassnet",
        description="A neural network you can see through: Nielsen's chapter 1-2 network "
                    "(sigmoid neurons, quadratic cost, backpropagation, mini-batch SGD) in NumPy.")
    parser.add_argument("--version", action="version", version=f"glassnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a network and print the book's transcript",
                       description="Train a network by mini-batch SGD, printing 'Epoch j: correct / n' "
                                   "on the test set after every epoch. With no options this is the "
                                   "book's run: MNIST, 784-30-10, 30 epochs, mini-batch 10, eta 3.0.")
    t.add_argument("--dataset", default="mnist", choices=["mnist", "digits", "fashion"],
                   help="mnist (the book's 50k/10k/10k split), fashion (Fashion-MNIST, the same split) or "
                        "digits (scikit-learn's 8x8 digits, the tutorial's 60/40 split; default there: "
                        "64-30-10, full batch, 3000 epochs, eta 0.25)")
    t.add_argument("--sizes", type=_sizes, metavar="N,N,...",
                   help="neurons per layer, input first (default 784,30,10; 64,30,10 for digits)")
    t.add_argument("--epochs", type=_positive(int), help="passes over the training data (default 30)")
    t.add_argument("--mini-batch-size", type=_positive(int), metavar="M",
                   help="examples per gradient step (default 10; the whole training set for digits)")
    t.add_argument("--eta", type=_positive(float), help="learning rate (default 3.0; 0.25 for digits)")
    t.add_argument("--seed", type=int, default=0,
                   help="seeds the one random generator behind initial weights, shuffling and the "
                        "digits split (default 0): the same seed gives the same transcript")
    t.add_argument("--log-every", type=_positive(int), metavar="K",
                   help="print every K-th epoch line (default 1; 100 for digits)")
    t.add_argument("--preset", choices=sorted(PRESET_HELP),
                   help="a documented recipe; flags given beside it override it. "
                        + "; ".join(f"{k}: {v}" for k, v in sorted(PRESET_HELP.items())))
    t.add_argument("--cost", choices=["quadratic", "cross-entropy", "log-likelihood"],
                   help="the cost (default quadratic, the book's chapter 1-2; log-likelihood uses a "
                        "softmax output layer)")
    t.add_argument("--activation", choices=["sigmoid", "tanh", "relu"],
                   help="hidden-layer activation (default sigmoid)")
    t.add_argument("--init", choices=["standard", "scaled", "he"],
                   help="initial weights: standard N(0,1) (the book's ch. 1), scaled N(0,1/n_in) "
                        "(ch. 3), he N(0,2/n_in) (for ReLU)")
    t.add_argument("--l2", type=_non_negative, metavar="LAMBDA",
                   help="L2 regularisation: weights decay by (1 - eta*LAMBDA/n) each step (default 0)")
    t.add_argument("--momentum", type=_non_negative, metavar="MU",
                   help="momentum coefficient in [0, 1) (default 0: plain SGD)")
    t.add_argument("--schedule", choices=["constant", "halve", "cosine"],
                   help="learning rate: constant (default), halve when validation accuracy has not "
                        "improved for --patience epochs (stop after --max-halvings), or cosine decay")
    t.add_argument("--patience", type=_positive(int), metavar="N",
                   help="epochs without a new best validation accuracy before eta is halved (default 5)")
    t.add_argument("--max-halvings", type=_non_negative_int, metavar="N",
                   help="stop after eta has been halved N times (default 7, i.e. eta/128)")
    t.add_argument("--early-stop", type=_positive(int), metavar="N",
                   help="stop after N epochs without a new best validation accuracy and keep the best "
                        "weights (MNIST's 10,000 validation images)")
    t.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="train on a freshly distorted copy (rotation, zoom, shift, elastic) each epoch")
    t.add_argument("--train-on-validation", action=argparse.BooleanOptionalAction, default=None,
                   help="train on all 60,000 MNIST training images (the book's 50,000 plus its 10,000 "
                        "validation images), as the published MNIST results do; no validation monitoring")
    t.add_argument("--save", metavar="PATH", help="write the trained network to PATH (.npz + JSON header)")
    t.add_argument("--checkpoint", metavar="PATH",
                   help="write an atomic checkpoint to PATH after every epoch; Ctrl-C or SIGTERM then "
                        "stops cleanly and --resume continues")
    t.add_argument("--resume", action="store_true",
                   help="continue from --checkpoint PATH (same options and seed give the same result)")
    t.add_argument("--plots", metavar="DIR", help="write learning curves, weights and confusion plots to DIR")
    t.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar inside each epoch (default: only on a terminal)")
    _add_data_options(t)

    r = sub.add_parser("reproduce", help="reproduce the seeds' chapter-1 table against the book",
                       description="Train every row of the book's chapter-1 results (and the primer's "
                                   "and tutorial's) over several seeds and print ours against the book.")
    r.add_argument("--seeds", type=_seeds, default=[0, 1, 2], metavar="S,S,...",
                   help="seeds to run every row with (default 0,1,2; the book reports best of three)")
    r.add_argument("--rows", metavar="I,I,...", type=_seeds,
                   help="only these rows, numbered from 1 in the order printed by --list")
    r.add_argument("--list", action="store_true", help="list the rows and exit")
    r.add_argument("--epochs", type=_positive(int), help="override every row's epochs (quick checks)")
    r.add_argument("--output", metavar="PATH", help="also write the table (Markdown) to PATH")
    _add_data_options(r)
    t.set_defaults(func=cmd_train)
    r.set_defaults(func=cmd_reproduce)
    for name in EXTENSIONS:
        if importlib.util.find_spec(f"glassnet.{name}") is not None:
            importlib.import_module(f"glassnet.{name}").register(sub, _add_data_options)
    return parser


#: command modules with ``register(subparsers, add_data_options)``; each sets its
#: parser's default ``func(args, out, err) -> exit code``.
EXTENSIONS = ["cli_plot", "cli_predict", "cli_serve", "cli_more", "cli_sweep", "cli_inspect"]


# -- train -------------------------------------------------------------------------------------
def cmd_train(args, out, err):
    from .experiments import DATASETS, PRESETS, load_dataset
    from .network import Network
    from .progress import BatchProgress, FetchProgress, is_terminal
    from .training import TrainingConfig, fit

    opts = {**DATASETS[args.dataset], **(PRESETS[args.preset] if args.preset else {})}
    for key in OPTION_KEYS:                       # explicit flags override dataset and preset
        if getattr(args, key) is not None:
            opts[key] = getattr(args, key)
    save_path = _writable(args.save) if args.save else None
    checkpoint = _writable(args.checkpoint) if args.checkpoint else None
    if args.resume and checkpoint is None:
        raise CLIError("--resume needs --checkpoint PATH")
    if args.resume:
        from .training import read_checkpoint
        read_checkpoint(checkpoint)             # refuse a missing or foreign file before any output
    plots_dir = _plots_dir(args.plots) if args.plots else None
    show = is_terminal(err) if args.progress is None else args.progress

    training, validation, test, sha = load_dataset(args.dataset, seed=args.seed, data_dir=args.data_dir,
                                                   cache_dir=args.cache_dir,
                                                   progress=FetchProgress(err, enabled=show))
    if opts.get("train_on_validation"):
        if validation is None:
            raise CLIError(f"--train-on-validation: {args.dataset} has no validation set")
        if opts.get("early_stop") or opts.get("schedule") == "halve":
            raise CLIError("--train-on-validation leaves no validation set for --early-stop or --schedule halve")
        from .datasets import Dataset
        training = Dataset(np.concatenate([training.X, validation.X]),
                           np.concatenate([training.y, validation.y]))
        validation = None
    sizes = opts["sizes"]
    if training.X.shape[1] != sizes[0] or sizes[-1] != 10:
        raise CLIError(f"sizes {','.join(map(str, sizes))} do not fit {args.dataset}: the input layer "
                       f"must have {training.X.shape[1]} neurons and the output layer 10")
    net = Network(sizes, seed=args.seed, cost=opts.get("cost", "quadratic"),
                  activation=opts.get("activation", "sigmoid"), init=opts.get("init", "standard"))
    schedule = opts.get("schedule", "constant")
    config = TrainingConfig(
        epochs=opts["epochs"], mini_batch_size=opts["mini_batch_size"] or len(training.X), eta=opts["eta"],
        lmbda=opts.get("l2", 0.0), momentum=opts.get("momentum", 0.0), schedule=schedule,
        patience=opts.get("patience", 5), max_halvings=opts.get("max_halvings", 7),
        early_stop=opts.get("early_stop"), keep_best=bool(opts.get("early_stop") or schedule == "halve"),
        monitor_training=opts.get("monitor_training"))
    augment = None
    if opts.get("augment"):
        from .augment import Augmenter
        # a preset may give the share of images distorted each epoch; --augment means all of them
        augment = Augmenter(fraction=1.0 if opts["augment"] is True else float(opts["augment"]))
    print(f"# glassnet {__version__}: {'-'.join(map(str, sizes))} on {args.dataset} "
          f"({len(training.X)} training, {len(test.X)} test images), {_describe(net, config, augment)}, "
          f"seed {args.seed}", file=err)
    bar = BatchProgress("training", stream=err, enabled=show)
    log_every = opts["log_every"]

    def report(network, record):
        j = record["epoch"]
        if j % log_every == 0 or j == config.epochs - 1:
            print(f"Epoch {j}: {record['correct']} / {record['total']}", file=out, flush=True)

    metadata = dict(dataset=args.dataset, data_sha256=sha,
                    training=dict(config.__dict__, seed=args.seed, preset=args.preset,
                                  augment=repr(augment) if augment else None,
                                  training_images=len(training.X)))
    result = fit(net, training, config, validation=validation, test=test, augment=augment,
                 callbacks=[report], on_batch=bar if show else None, checkpoint=checkpoint,
                 resume=args.resume, handle_signals=checkpoint is not None, metadata=metadata)
    bar.close()
    history = result.history
    if result.stopped == "interrupted":
        print(f"# interrupted after epoch {len(history) - 1}; the checkpoint {checkpoint} holds it: "
              f"run the same command with --resume to continue", file=err)
        return EXIT_INTERRUPTED
    if history:
        best = max(history, key=lambda h: h["correct"])
        print(f"# best {best['correct']} / {best['total']} ({100 * best['accuracy']:.2f}%) at epoch "
              f"{best['epoch']}; {sum(h['seconds'] for h in history):.1f} s of training"
              + (f"; stopped: {result.stopped}" if result.stopped != "completed" else ""), file=err)
    if result.best_epoch is not None and config.keep_best:
        final = net.measure(test.X, test.y)[1]
        print(f"# kept the weights of epoch {result.best_epoch} (best validation accuracy "
              f"{100 * history[result.best_epoch]['validation_accuracy']:.2f}%): test {final} / "
              f"{len(test.y)}", file=err)
    if save_path:
        from .io import save
        save(net, save_path, metadata=dict(metadata, history=history, stopped=result.stopped,
                                           best_epoch=result.best_epoch))
        print(f"# saved the network to {save_path}", file=err)
    if plots_dir:
        from .plots import save_training_plots
        images = None
        if args.dataset == "digits":                 # show the raw 8x8 images, not standardised ones
            from .cli_plot import digits_test_images
            images = digits_test_images(args.seed, test.y)
        paths = save_training_plots(net, history, plots_dir, test=(test.X, test.y), images=images)
        print(f"# wrote {len(paths)} plots to {plots_dir}", file=err)
    return EXIT_OK


#: train options that a preset or the dataset may set and a flag may override
OPTION_KEYS = ("sizes", "epochs", "mini_batch_size", "eta", "log_every", "cost", "activation", "init",
               "l2", "momentum", "schedule", "patience", "max_halvings", "early_stop", "augment",
               "train_on_validation")


def _describe(net, config, augment):
    parts = [f"{config.epochs} epochs", f"mini-batch {config.mini_batch_size}", f"eta {config.eta:g}"]
    if net.cost.name != "quadratic" or net.activation.name != "sigmoid":
        parts.append(f"{net.activation.name}/{net.output_activation.name}, {net.cost.name} cost")
    if net.init != "standard":
        parts.append(f"{net.init} init")
    for name, value in (("L2", config.lmbda), ("momentum", config.momentum)):
        if value:
            parts.append(f"{name} {value:g}")
    if config.schedule != "constant":
        parts.append(f"{config.schedule} schedule")
    if config.early_stop:
        parts.append(f"early stop {config.early_stop}")
    if augment is not None:
        parts.append("augmented")
    return ", ".join(parts)


def _plots_dir(path):
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CLIError(f"--plots {path}: not a directory")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _writable(path):
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise CLIError(f"cannot save to {path}: it is a directory")
    if parent.exists() and not parent.is_dir():
        raise CLIError(f"cannot save to {path}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise CLIError(f"cannot save to {path}: folder {parent} does not exist")
    import os
    if not os.access(parent, os.W_OK):
        raise CLIError(f"cannot save to {path}: folder {parent} is not writable")
    return path


# -- reproduce ---------------------------------------------------------------------------------
def cmd_reproduce(args, out, err):
    from .experiments import REPRODUCTION, reproduce

    if args.list:
        for i, row in enumerate(REPRODUCTION, 1):
            print(f"{i}. {row.name} ({row.dataset}, {row.epochs} epochs, "
                  f"mini-batch {row.mini_batch_size or 'full'}, eta {row.eta:g})", file=out)
        return EXIT_OK
    rows = REPRODUCTION
    if args.rows:
        bad = [i for i in args.rows if not 1 <= i <= len(REPRODUCTION)]
        if bad:
            raise CLIError(f"no row {bad[0]}; rows are numbered 1..{len(REPRODUCTION)}")
        rows = [REPRODUCTION[i - 1] for i in args.rows]
    output = _writable(args.output) if args.output else None

    def on_result(row, r):
        print(f"# {row.name}, seed {r['seed']}: best {r['best']:.2f}%, final {r['final']:.2f}% "
              f"({r['seconds']:.0f} s)", file=err, flush=True)

    done = reproduce(rows, args.seeds, epochs=args.epochs, data_dir=args.data_dir,
                     cache_dir=args.cache_dir, on_result=on_result)
    table = format_reproduction(done, args.seeds)
    print(table, file=out)
    if output:
        from .io import atomic_write
        atomic_write(output, lambda f: f.write((table + "\n").encode()))
    return EXIT_OK


def format_reproduction(rows, seeds):
    lines = ["| experiment | book | source | ours (best of seeds) | mean ± sd | per seed | seconds/run |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        key = "best" if row.best_of_seeds else "final"
        vals = np.array([r[key] for r in row.results])
        book = "-" if row.book is None else f"{row.book:.2f}%"
        per_seed = ", ".join(f"{r['seed']}: {r[key]:.2f}" for r in row.results)
        secs = np.mean([r["seconds"] for r in row.results])
        label = "best epoch" if row.best_of_seeds else "final epoch"
        if row.metric == "validation":
            top = max(row.results, key=lambda r: r[key])
            label = f"best validation epoch; test {top['test']:.2f}% there"
        lines.append(f"| {row.name} | {book} | {row.source} | {vals.max():.2f}% ({label}) | "
                     f"{vals.mean():.2f} ± {vals.std():.2f} | {per_seed} | {secs:.0f} |")
    lines.append("")
    lines.append(f"Seeds {','.join(map(str, seeds))}; accuracy on the 10,000 MNIST test images (on the "
                 f"40% test part for the digits; on the 10,000 validation images where the row says so).")
    return "\n".join(lines)


# -- entry points ------------------------------------------------------------------------------

def main(argv=None, out=None, err=None):
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            args = parser.parse_args(argv)
    except SystemExit as e:           # argparse printed --help / --version or its one-line usage error
        return int(e.code or 0)
    if args.command is None:
        parser.print_help(out)
        return EXIT_USAGE
    try:
        return args.func(args, out, err)
    except KeyboardInterrupt:
        print("glassnet: interrupted", file=err)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, OSError, ImportError) as e:
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"glassnet: error: {message}", file=err)
        return EXIT_USAGE


def entry():
    sys.exit(main())


if __name__ == "__main__":
    entry()
