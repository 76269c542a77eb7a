"""``glassnet sweep``: train a grid of configurations in parallel and tabulate them.

    glassnet sweep --dataset digits --sizes 64-30-10,64-100-10 --eta 0.5,3 --epochs 10 --seeds 0,1
    glassnet sweep --scheduler tcp://10.0.0.5:8786 ...     # on a Dask cluster (extra "dask")

Every option taking a comma list adds a dimension to the grid; each combination runs
once per seed.  Each run trains on the training set, watches a validation set (MNIST's
10,000 validation images; for the digits a part carved from the training split) and
reports its best validation accuracy, the test accuracy at that epoch and its seconds.
The CSV (one row per run, rewritten atomically as runs finish) and a table follow,
then the configuration with the best mean validation accuracy over the seeds.
"""

from __future__ import annotations

import argparse
import math

from .common import EXIT_OK, add_data_options, at_least, parse_sizes, seed_type, writable

NAME = "sweep"
HELP = "train a grid of configurations in parallel (locally or on a Dask cluster)"


def _list(item, what):
    def parse(text):
        values = [item(part.strip()) for part in text.split(",") if part.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {what}, got {text!r}")
        return values

    return parse


def _cost(text):
    from ..training.sweep import COSTS

    if text not in COSTS:
        raise argparse.ArgumentTypeError(f"unknown cost {text!r}; choose from {', '.join(COSTS)}")
    return text


def add_arguments(p):
    p.description = (
        "Train every combination of the comma-separated values given, once per seed, in "
        "parallel: on the local cores (joblib), or on a Dask cluster with --scheduler. Each "
        "run reports its best validation accuracy and the test accuracy at that epoch. "
        "Writes one CSV row per run, prints a table and the configuration with the best "
        "mean validation accuracy over the seeds."
    )
    p.add_argument(
        "--dataset",
        default="mnist",
        choices=["mnist", "digits"],
        help="mnist (50k training, 10k validation, 10k test) or digits (scikit-learn's 8x8 "
        "digits: the 60/40 split, with a sixth of the training part held out as "
        "validation)",
    )
    p.add_argument(
        "--sizes",
        type=_list(parse_sizes, "layer sizes"),
        metavar="N-N-N,...",
        help="networks to try, layers joined by '-' (default 784-30-10; 64-30-10 for digits)",
    )
    p.add_argument(
        "--eta",
        type=_list(at_least(float, 0, strict=True), "learning rates"),
        default=[3.0],
        metavar="ETA,...",
        help="learning rates (default 3.0)",
    )
    p.add_argument(
        "--mini-batch-size",
        type=_list(at_least(int, 1), "batch sizes"),
        default=[10],
        metavar="M,...",
        help="mini-batch sizes (default 10)",
    )
    p.add_argument(
        "--epochs",
        type=_list(at_least(int, 1), "epoch counts"),
        default=[30],
        metavar="N,...",
        help="epochs per run (default 30)",
    )
    _add_cost_options(p)
    _add_run_options(p)


def _add_cost_options(p):
    """The grid's costs, L2 strengths and seeds."""
    p.add_argument(
        "--cost",
        type=_list(_cost, "costs"),
        default=["quadratic"],
        metavar="COST,...",
        help="quadratic, cross-entropy and/or log-likelihood (default quadratic)",
    )
    p.add_argument(
        "--l2",
        type=_list(at_least(float, 0), "L2 strengths"),
        default=[0.0],
        metavar="LAMBDA,...",
        help="L2 regularisation strengths (default 0)",
    )
    p.add_argument(
        "--seeds",
        type=_list(seed_type, "seeds"),
        default=[0],
        metavar="S,...",
        help="seeds of the networks' generators; every configuration runs once per seed (default 0)",
    )


def _add_run_options(p):
    """Where and how the runs go: workers, a cluster, the split, the CSV."""
    p.add_argument(
        "--n-jobs",
        type=at_least(int, 1),
        default=2,
        metavar="N",
        help="runs at once on this machine (default 2), each limited to one BLAS thread; "
        "1 runs them one after another in this process",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786) "
        "instead, as many runs at once as its workers have threads (needs "
        "pip install \"glassnet[dask]\"; the workers need glassnet installed)",
    )
    p.add_argument(
        "--split-seed",
        type=at_least(int, 0),
        default=0,
        metavar="S",
        help="seeds the digits' train/test split and the validation part (default 0)",
    )
    p.add_argument(
        "--output",
        default="results.csv",
        metavar="PATH",
        help="the CSV of results, one row per run (default results.csv)",
    )
    add_data_options(p)


def run(args, out, err):
    from ..training.runs import DEFAULTS
    from ..training.sweep import grid, load_sweep_data, run_sweep, write_csv

    sizes = args.sizes or [DEFAULTS[args.dataset]["sizes"]]
    runs = grid(
        sizes=sizes,
        eta=args.eta,
        mini_batch_size=args.mini_batch_size,
        epochs=args.epochs,
        cost=args.cost,
        l2=args.l2,
        seeds=args.seeds,
        dataset=args.dataset,
    )
    output = writable(args.output)
    data = load_sweep_data(args.dataset, split_seed=args.split_seed, data_dir=args.data_dir, cache_dir=args.cache_dir)
    n_configs = len({r.config for r in runs})
    where = (
        f"on the Dask cluster at {args.scheduler}"
        if args.scheduler
        else "in this process"
        if args.n_jobs == 1
        else f"in {args.n_jobs} local processes"
    )
    print(
        f"# glassnet sweep: {_n(len(runs), 'run')} ({_n(n_configs, 'configuration')} x "
        f"{_n(len(set(args.seeds)), 'seed')}) on "
        f"{args.dataset} ({len(data[0][0])} training, {len(data[1][0])} validation, {len(data[2][0])} "
        f"test) {where}",
        file=err,
        flush=True,
    )
    finished = {}

    def on_result(row, done, total, index):
        finished[index] = row
        print(
            f"# [{done}/{total}] {_describe(row)}: validation {_pct(row['best_validation_accuracy'])}, "
            f"test {_pct(row['test_accuracy'])} ({row['seconds']:.1f} s)",
            file=err,
            flush=True,
        )
        write_csv([finished[i] for i in sorted(finished)], output)  # partial results survive a stop

    rows = run_sweep(runs, data, n_jobs=args.n_jobs, scheduler=args.scheduler, on_result=on_result)
    write_csv(rows, output)
    print(format_report(rows), file=out)
    print(f"# wrote {len(rows)} rows to {output}", file=err)
    return EXIT_OK


def format_report(rows):
    from ..training.sweep import best_config, format_table

    lines = [format_table(rows), ""]
    best = best_config(rows)
    if best is None:
        lines.append("best: none (every run diverged)")
    else:
        lines.append(
            f"best: {_describe(best)}: validation {_pct(best['best_validation_accuracy'])}, "
            f"test {_pct(best['test_accuracy'])} (mean of {best['runs']} "
            f"{'seed' if best['runs'] == 1 else 'seeds'})"
        )
    return "\n".join(lines)


def _describe(row):
    text = (
        f"{row['sizes']} eta {row['eta']:g} batch {row['mini_batch_size']} epochs {row['epochs']} "
        f"{row['cost']} l2 {row['l2']:g}"
    )
    return text + (f" seed {row['seed']}" if "seed" in row else "")


def _n(count, noun):
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _pct(value):
    return "diverged" if value is None or math.isnan(value) else f"{100 * value:.2f}%"
