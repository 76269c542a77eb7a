#!/usr/bin/env python
"""Training time under load: the compiled engines alone and beside a busy neighbour.

A laptop always has something else running.  This times glassnet's training with nothing
else running and with one CPU-bound process at nice 19 beside it (a Python loop that never
sleeps), alternating, on 1 and 2 engine threads (``GLASSNET_THREADS``), and prints the ratio
(beside / alone) per configuration:

  book       the book's network, 784-30-10, mini-batch 10, eta 3.0: its 30 epochs on the sigmoid
             kernel (``glassnet train``; one epoch, 0.07 s, is too short to time beside a neighbour)
  conv-fast  one epoch of the ``conv-fast`` preset on the layer kernel

Each run is a child process (``glassnet train ...``) whose own "s of training" line is read;
medians over ``--repeats`` alternating runs.  Prints a Markdown table (``--output FILE`` too).

    python benchmarks/bench_load.py              # several minutes
    python benchmarks/bench_load.py --quick      # smoke test
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

RUNS = {"book": ["train"], "conv-fast": ["train", "--preset", "conv-fast", "--epochs", "1"]}
BUSY = "while True: pass"


def training_seconds(argv, threads):
    """The training seconds ``glassnet`` reports for one run on ``threads`` engine threads."""
    env = dict(
        os.environ, GLASSNET_THREADS=str(threads), OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads)
    )
    done = subprocess.run(
        [sys.executable, "-m", "glassnet", *argv], capture_output=True, text=True, env=env, check=True
    )
    found = re.search(r"([0-9.]+) s of training", done.stderr)
    if found is None:
        raise RuntimeError(f"no training time in: {done.stderr[-300:]}")
    return float(found.group(1))


def beside_neighbour(argv, threads):
    """``training_seconds`` with one CPU-bound process at nice 19 running beside it."""
    neighbour = subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", BUSY])
    try:
        time.sleep(0.5)  # the neighbour is running before training starts
        return training_seconds(argv, threads)
    finally:
        neighbour.kill()
        neighbour.wait()


def measure(name, threads, repeats):
    alone, busy = [], []
    for _ in range(repeats):  # alternate, so that drift hits both alike
        alone.append(training_seconds(RUNS[name], threads))
        busy.append(beside_neighbour(RUNS[name], threads))
    return statistics.median(alone), statistics.median(busy)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="book,conv-fast", help="comma-separated: book, conv-fast")
    p.add_argument("--threads", default="1,2", help="engine threads, comma-separated")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="smoke test: the book's run, 1 thread, 1 repeat")
    p.add_argument("--output", help="also write the table to this file")
    args = p.parse_args(argv)
    runs = ["book"] if args.quick else [r for r in args.runs.split(",") if r]
    threads = [1] if args.quick else [int(t) for t in args.threads.split(",") if t]
    repeats = 1 if args.quick else args.repeats
    lines = [
        "## Training beside a busy neighbour (one CPU-bound process at nice 19)",
        "",
        f"{os.cpu_count()} CPUs; medians of {repeats} alternating runs; seconds of training as "
        "glassnet train reports them.",
        "",
        "| run | engine threads | alone (s) | beside the neighbour (s) | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in runs:
        for k in threads:
            alone, busy = measure(name, k, repeats)
            lines.append(f"| {name} | {k} | {alone:.2f} | {busy:.2f} | {busy / alone:.2f}x |")
            print(lines[-1], file=sys.stderr)
    report = "\n".join(lines)
    print(report)
    if args.output:
        with open(args.output, "w") as f:
            f.write(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
