#!/usr/bin/env python
"""Seconds per epoch: glassnet.network2's book-style SGD against glassnet's own fit.

The same training both ways: 784-30-10, the cross-entropy cost, N(0, 1/n_in) initial weights,
eta 0.5, mini-batches of 10, lambda 5.0, MNIST's 50,000 training images. Three
implementations, in this one process, alternating run by run:

  * fit              -- glassnet.Network(cost="cross-entropy", init="scaled") trained by
                        glassnet.training.fit (the reference)
  * network2, arrays -- network2.Network.SGD on glassnet's arrays (X (50000, 784), y (50000,))
  * network2, book's -- network2.Network.SGD on the book's list of 50,000 (x, y) column pairs;
    lists              each call first stacks them into arrays (its time is in the first epoch)

Two settings: no monitoring, and the evaluation accuracy on the 10,000 validation images
after every epoch (``monitor_evaluation_accuracy=True`` / ``fit(validation=...)``). A run is
one call training ``--epochs`` epochs; seconds per epoch = the call's seconds / epochs; the
table gives the median over ``--repeats`` runs, and beside it the median time between two
epoch ends (an epoch without the call's one-time set-up, such as converting the book's lists).
Target: network2 on arrays within 10% of fit.

    python benchmarks/bench_network2.py              # 5 epochs x 3 repeats: under a minute
    python benchmarks/bench_network2.py --quick      # smoke test: 2,000 images, 2 epochs, 1 repeat
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import glassnet
import glassnet.network2 as network2
from glassnet.datasets import load_mnist
from glassnet.training import TrainingConfig, fit

SIZES, ETA, BATCH, LMBDA = [784, 30, 10], 0.5, 10, 5.0
TARGET = 1.10


class EpochClock:
    """A callback noting when each epoch ends (fit's and network2.SGD's callbacks alike)."""

    def __init__(self):
        self.ends = []

    def __call__(self, network, record):
        self.ends.append(time.perf_counter())
        return False

    def steady(self):
        """Median seconds between consecutive epoch ends: an epoch without the call's set-up."""
        gaps = np.diff(self.ends)
        return float(np.median(gaps)) if len(gaps) else float("nan")


def run_fit(data, epochs, seed, monitor):
    net = glassnet.Network(SIZES, seed=seed, cost="cross-entropy", init="scaled")
    clock = EpochClock()
    start = time.perf_counter()
    fit(
        net,
        data["arrays"],
        TrainingConfig(epochs=epochs, mini_batch_size=BATCH, eta=ETA, l2=LMBDA),
        validation=data["validation"] if monitor else None,
        callbacks=[clock],
    )
    return time.perf_counter() - start, clock.steady()


def run_network2(form):
    def run(data, epochs, seed, monitor):
        net = network2.Network(SIZES, cost=network2.CrossEntropyCost, seed=seed)
        evaluation = data["validation"] if form == "arrays" else data["validation_pairs"]
        clock = EpochClock()
        start = time.perf_counter()
        net.SGD(
            data[form],
            epochs,
            BATCH,
            ETA,
            lmbda=LMBDA,
            evaluation_data=evaluation if monitor else None,
            monitor_evaluation_accuracy=monitor,
            log=None,
            callbacks=[clock],
        )
        return time.perf_counter() - start, clock.steady()

    return run


IMPLEMENTATIONS = {
    "fit": run_fit,
    "network2, arrays": run_network2("arrays"),
    "network2, book's lists": run_network2("pairs"),
}


def load(n_train):
    mnist = load_mnist()
    X, y = mnist.training.X[:n_train], mnist.training.y[:n_train]
    Xv, yv = mnist.validation.X, mnist.validation.y
    onehot = np.eye(10)[y][:, :, None]
    return {
        "arrays": (X, y),
        "validation": (Xv, yv),
        "pairs": list(zip(X[:, :, None], onehot)),
        "validation_pairs": list(zip(Xv[:, :, None], yv.tolist())),
    }


def measure(data, epochs, repeats, monitor):
    """Per implementation: (median seconds per epoch of a whole call, median seconds between
    epoch ends), runs alternating."""
    samples = {name: ([], []) for name in IMPLEMENTATIONS}
    for r in range(repeats):
        for name, run in IMPLEMENTATIONS.items():
            seconds, steady = run(data, epochs, r, monitor)
            samples[name][0].append(seconds / epochs)
            samples[name][1].append(steady)
            print(
                f"[bench] {'monitored' if monitor else 'plain'} {name}: {seconds / epochs:.4f} s/epoch, "
                f"{steady:.4f} s between epochs",
                file=sys.stderr,
                flush=True,
            )
    return {name: (statistics.median(a), statistics.median(b)) for name, (a, b) in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2,000 images, 2 epochs, 1 repeat")
    args = parser.parse_args(argv)
    n_train, epochs, repeats = (2000, 2, 1) if args.quick else (50000, max(2, args.epochs), args.repeats)
    data = load(n_train)
    run_fit({"arrays": (data["arrays"][0][:100], data["arrays"][1][:100])}, 1, 0, False)  # load the kernel
    rows, ok = [], True
    for monitor in (False, True):
        medians = measure(data, epochs, repeats, monitor)
        reference = medians["fit"]
        for name, (seconds, steady) in medians.items():
            rows.append(
                (
                    "evaluation accuracy each epoch" if monitor else "no monitoring",
                    name,
                    seconds,
                    seconds / reference[0],
                    steady,
                    steady / reference[1],
                )
            )
            if name == "network2, arrays":
                ok = ok and seconds / reference[0] <= TARGET
    print(
        f"784-30-10 cross-entropy, eta {ETA}, mini-batch {BATCH}, lambda {LMBDA}, {n_train:,} training "
        f"images; median of {repeats} runs of {epochs} epochs each, alternating; kernel: "
        f"{glassnet.engines.kernel.info() or 'none (NumPy)'}\n"
    )
    print("| monitoring | implementation | s / epoch (call / epochs) | vs fit | s between epoch ends | vs fit |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for monitor, name, seconds, ratio, steady, steady_ratio in rows:
        print(f"| {monitor} | {name} | {seconds:.4f} | {ratio:.2f}x | {steady:.4f} | {steady_ratio:.2f}x |")
    print(f"\nTarget (network2 on arrays within {TARGET - 1:.0%} of fit, whole call): {'PASS' if ok else 'FAIL'}")
    print(
        "The book's lists cost a one-time conversion to arrays per SGD call (the difference between the two columns)."
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
