"""The ``glassnet`` command: a thin layer over the library.

``main(argv) -> int`` is the only place that prints and chooses exit codes:
0 success, 2 bad input or a failure the user can fix (one line on stderr), 130 Ctrl-C.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import itertools
import json
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


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}")
        if not value > 0 or (kind is float and not np.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
        return value
    return parse


def _seeds(text):
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be integers separated by commas, got {text!r}")


def _add_data_options(p):
    p.add_argument("--data-dir", metavar="DIR",
                   help="a folder holding the four MNIST IDX files (raw or .gz) to use instead of "
                        "downloading them (also: GLASSNET_DATA_DIR)")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="where fetched data is kept (default: GLASSNET_CACHE, else ~/.cache/glassnet)")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


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
    t.add_argument("--dataset", default="mnist", choices=["mnist", "digits"],
                   help="mnist (the book's 50k/10k/10k split) or digits (scikit-learn's 8x8 digits, the "
                        "tutorial's 60/40 split; default there: 64-30-10, full batch, 3000 epochs, eta 0.25)")
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
    t.add_argument("--save", metavar="PATH", help="write the trained network to PATH (.npz + JSON header)")
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
EXTENSIONS = ["cli_plot", "cli_predict", "cli_serve", "cli_more"]


# -- train -------------------------------------------------------------------------------------
def cmd_train(args, out, err):
    from .experiments import DATASETS, load_dataset, train
    from .progress import BatchProgress, is_terminal

    defaults = DATASETS[args.dataset]
    sizes = args.sizes or defaults["sizes"]
    epochs = args.epochs or defaults["epochs"]
    m = args.mini_batch_size or defaults["mini_batch_size"]
    eta = args.eta or defaults["eta"]
    log_every = args.log_every or defaults["log_every"]
    save_path = _writable(args.save) if args.save else None
    show = is_terminal(err) if args.progress is None else args.progress

    training, _, test, sha = load_dataset(args.dataset, seed=args.seed, data_dir=args.data_dir,
                                          cache_dir=args.cache_dir,
                                          progress=_fetch_progress(err) if show else None)
    if training.X.shape[1] != sizes[0] or sizes[-1] != 10:
        raise CLIError(f"sizes {','.join(map(str, sizes))} do not fit {args.dataset}: the input layer "
                       f"must have {training.X.shape[1]} neurons and the output layer 10")
    batch = m or len(training.X)
    print(f"# glassnet {__version__}: {'-'.join(map(str, sizes))} on {args.dataset} "
          f"({len(training.X)} training, {len(test.X)} test images), {epochs} epochs, "
          f"mini-batch {batch}, eta {eta:g}, seed {args.seed}", file=err)
    bar = BatchProgress("training", stream=err, enabled=show)

    epoch_numbers = itertools.count()

    def log(line):                    # SGD logs one line per epoch, in order
        epoch = next(epoch_numbers)
        if epoch % log_every == 0 or epoch == epochs - 1:
            print(line, file=out, flush=True)

    net, history = train(training, test, sizes, epochs, batch, eta, seed=args.seed, log=log,
                         on_batch=bar if show else None)
    best = max(history, key=lambda h: h["correct"])
    print(f"# best {best['correct']} / {best['total']} ({100 * best['accuracy']:.2f}%) at epoch "
          f"{best['epoch']}; {sum(h['seconds'] for h in history):.1f} s of training", file=err)
    if save_path:
        from .io import save
        save(net, save_path, metadata=dict(
            dataset=args.dataset, data_sha256=sha, history=history,
            training=dict(epochs=epochs, mini_batch_size=batch, eta=eta, seed=args.seed)))
        print(f"# saved the network to {save_path}", file=err)
    return EXIT_OK


def _writable(path):
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise CLIError(f"cannot save to {path}: it is a directory")
    if not parent.is_dir():
        raise CLIError(f"cannot save to {path}: folder {parent} does not exist")
    import os
    if not os.access(parent, os.W_OK):
        raise CLIError(f"cannot save to {path}: folder {parent} is not writable")
    return path


def _fetch_progress(err):
    state = {}

    def progress(name, done, total):
        if total:
            pct = 100 * done // total
            if state.get(name) != pct:
                state[name] = pct
                err.write(f"\rfetching {name}: {pct:3d}%")
                if done >= total:
                    err.write("\n")
                err.flush()
    return progress


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
        lines.append(f"| {row.name} | {book} | {row.source} | {vals.max():.2f}% ({label}) | "
                     f"{vals.mean():.2f} ± {vals.std():.2f} | {per_seed} | {secs:.0f} |")
    lines.append("")
    lines.append(f"Seeds {','.join(map(str, seeds))}; accuracy on the 10,000 MNIST test images (on the "
                 f"40% test part for the digits).")
    return "\n".join(lines)


# -- entry points ------------------------------------------------------------------------------

def main(argv=None, out=None, err=None):
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:           # argparse already printed its one-line usage error
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
