"""``glassnet reproduce``: the book's tables, trained over seeds and printed against the book."""
from __future__ import annotations

import numpy as np

from .common import EXIT_OK, CLIError, add_data_options, int_list, positive, writable

NAME = "reproduce"
HELP = "reproduce the book's tables (chapter 1 by default) against the book"


def add_arguments(r):
    r.description = ("Train every row of one of the book's results tables over several seeds and print ours "
                     "against the book. Chapter 1 (the default) also holds the primer's and the tutorial's "
                     "figures.")
    r.add_argument("--chapter", type=int, choices=[1], default=1,
                   help="which chapter's table (default 1)")
    r.add_argument("--seeds", type=int_list, default=[0, 1, 2], metavar="S,S,...",
                   help="seeds to run every row with (default 0,1,2; the book reports best of three)")
    r.add_argument("--rows", metavar="I,I,...", type=int_list,
                   help="only these rows, numbered from 1 in the order printed by --list")
    r.add_argument("--list", action="store_true", help="list the rows and exit")
    r.add_argument("--epochs", type=positive(int, 1_000_000), help="override every row's epochs (quick checks)")
    r.add_argument("--output", metavar="PATH", help="also write the table (Markdown) to PATH")
    add_data_options(r)


def _rows(args, table):
    if not args.rows:
        return table
    bad = [i for i in args.rows if not 1 <= i <= len(table)]
    if bad:
        raise CLIError(f"no row {bad[0]}; rows are numbered 1..{len(table)}")
    return [table[i - 1] for i in args.rows]


def run(args, out, err):
    from ..training.experiments import REPRODUCTION, reproduce

    if args.list:
        for i, row in enumerate(REPRODUCTION, 1):
            print(f"{i}. {row.name} ({row.dataset}, {row.epochs} epochs, "
                  f"mini-batch {row.mini_batch_size or 'full'}, eta {row.eta:g})", file=out)
        return EXIT_OK
    rows = _rows(args, REPRODUCTION)
    output = writable(args.output) if args.output else None

    def on_result(row, r):
        print(f"# {row.name}, seed {r['seed']}: best {r['best']:.2f}%, final {r['final']:.2f}% "
              f"({r['seconds']:.0f} s)", file=err, flush=True)

    done = reproduce(rows, args.seeds, epochs=args.epochs, data_dir=args.data_dir,
                     cache_dir=args.cache_dir, on_result=on_result)
    table = format_reproduction(done, args.seeds)
    print(table, file=out)
    if output:
        from ..files import atomic_write
        atomic_write(output, lambda f: f.write((table + "\n").encode()))
    return EXIT_OK


def format_reproduction(rows, seeds):
    """The chapter-1 table (Markdown): ours against the book, per seed, seconds per run."""
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
