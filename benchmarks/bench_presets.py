#!/usr/bin/env python
"""Time to accuracy: glassnet's presets trained over several seeds, one after another.

Each run is ``glassnet.training.runs.train_preset(PRESET, seed=S)`` -- exactly
``glassnet train --preset PRESET --seed S`` -- on MNIST's 60,000 training images, measured
on the 10,000 test images after every epoch; the figure reported is the *final* epoch's
(no selection on the test set). Training seconds are the sum of the epochs' seconds (the
steps and the epoch's distortions, not the test measurements), on whatever cores the engine
uses (both of this machine's). A table row per seed, then the mean, against a target
accuracy and a budget of seconds:

    python benchmarks/bench_presets.py --preset conv-fast --target 99.0 --budget 30
    python benchmarks/bench_presets.py --preset conv-best --target 99.5 --budget 180 --output docs/x.md
    python benchmarks/bench_presets.py --preset conv-fast --epochs 1 --seeds 0   # smoke test

``--save-dir DIR`` also keeps each trained network as DIR/PRESET-seedS.npz, the file
``glassnet train --preset PRESET --seed S --save`` writes (``glassnet ensemble`` combines them).

Run it alone on the machine: other work on the cores lengthens every epoch.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

from glassnet.io import save
from glassnet.training.runs import PRESETS, plan_run
from glassnet.version import __version__


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="conv-fast")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--epochs", type=int, help="override the preset's epochs (smoke tests)")
    p.add_argument("--target", type=float, default=99.0, help="target test accuracy in percent")
    p.add_argument("--budget", type=float, default=30.0, help="target training seconds")
    p.add_argument("--output", help="also write the table (Markdown) to this file")
    p.add_argument("--save-dir", help="also save each trained network in this directory")
    return p.parse_args(argv)


def run(preset, seed, epochs, save_dir=None):
    overrides = {} if epochs is None else dict(epochs=epochs)
    started = time.perf_counter()
    plan = plan_run(None, preset, overrides, seed)  # as train_preset(preset, seed=seed) does
    result = plan.fit()
    wall = time.perf_counter() - started
    history = result.history
    if save_dir:  # the header glassnet train --save writes
        metadata = dict(
            plan.metadata(), engine=result.engine, history=history, stopped=result.stopped, best_epoch=result.best_epoch
        )
        save(plan.network, Path(save_dir) / f"{preset}-seed{seed}.npz", metadata=metadata)
    return dict(
        seed=seed,
        final=100 * history[-1]["accuracy"],
        best=max(100 * h["accuracy"] for h in history),
        seconds=sum(h["seconds"] for h in history),
        wall=wall,
        engine=result.engine,
        epochs=len(history),
        curve=[round(100 * h["accuracy"], 2) for h in history],
    )


def table(preset, runs, target, budget):
    lines = [
        f"`{preset}` ({PRESETS[preset].options}), glassnet {__version__}, Python {platform.python_version()}",
        "",
        "| seed | test accuracy, final epoch | best epoch (not used) | training s | wall s | engine |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['seed']} | {r['final']:.2f}% | {r['best']:.2f}% | {r['seconds']:.1f} | "
            f"{r['wall']:.1f} | {r['engine']} |"
        )
    mean_acc = statistics.mean(r["final"] for r in runs)
    mean_s = statistics.mean(r["seconds"] for r in runs)
    worst_s = max(r["seconds"] for r in runs)
    verdict = "PASS" if mean_acc >= target and worst_s <= budget else "FAIL"
    lines += [
        f"| mean | **{mean_acc:.2f}%** | | {mean_s:.1f} | | |",
        "",
        f"Target >= {target:g}% (mean) in <= {budget:g} s (every seed): {verdict}",
        "",
        "Test accuracy after each epoch:",
        "",
    ]
    lines += [f"- seed {r['seed']}: {', '.join(map(str, r['curve']))}" for r in runs]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.save_dir:  # before the first run, not after it
        Path(args.save_dir).mkdir(parents=True, exist_ok=True)
    runs = []
    for seed in seeds:
        runs.append(run(args.preset, seed, args.epochs, args.save_dir))
        r = runs[-1]
        print(
            f"# seed {seed}: {r['final']:.2f}% after {r['epochs']} epochs, {r['seconds']:.1f} s of training",
            file=sys.stderr,
            flush=True,
        )
    text = table(args.preset, runs, args.target, args.budget)
    print(text, end="")
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
