#!/usr/bin/env python
"""K ensemble members on K machines: what a Dask cluster adds to one member's time.

``glassnet train --preset P --members K --scheduler ADDRESS`` sends each member to a worker
of a Dask cluster. With one member per machine the ensemble should take about one member's
time plus what the cluster costs: connecting, sending the training data to every worker,
fetching the trained networks back. This measures both on one machine, with K machines
stood in for by K worker processes of one engine thread each (GLASSNET_THREADS, set here
for every run, so that K = the cores emulates K one-core machines):

- "alone": one member (seed S) trained in this process, as ``--members 1`` does;
- "cluster": K members (seeds S..S+K-1) on a LocalCluster of K worker processes, timed
  from the call to the ensemble back in this process (the cluster's own start-up, which a
  standing cluster does not pay, is timed apart).

Alternating runs; the table gives each run's wall time, the members' own training seconds
(measured inside the worker) and the overhead: the wall time less the slowest member's.

    python benchmarks/bench_cluster.py --preset minute --members 2 --repeats 2 --output docs/x.md
    python benchmarks/bench_cluster.py --preset sprint --epochs 1            # smoke test

Run it alone on the machine: K workers on K cores leave none for anything else.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="sprint", help="the preset every member trains (default sprint)")
    p.add_argument("--members", type=int, default=2, help="K: members and worker processes (default 2)")
    p.add_argument("--seed", type=int, default=20, help="the first member's seed (default 20)")
    p.add_argument("--epochs", type=int, help="override the preset's epochs (smoke tests)")
    p.add_argument("--threads", type=int, default=1, help="engine threads per member (default 1)")
    p.add_argument("--repeats", type=int, default=2, help="runs of each kind, alternating (default 2)")
    p.add_argument("--output", help="also write the table (Markdown) to this file")
    args = p.parse_args(argv)
    if not 1 <= args.members <= 16 or not 1 <= args.repeats <= 10 or not 1 <= args.threads <= 8:
        p.error("--members 1-16, --repeats 1-10 and --threads 1-8")
    return args


def main(argv=None):
    args = parse_args(argv)
    os.environ["GLASSNET_THREADS"] = str(args.threads)  # here and in the workers it starts
    try:
        from dask.distributed import LocalCluster
        from threadpoolctl import threadpool_limits
    except ImportError as e:
        sys.exit(f"bench_cluster: {e}; pip install 'glassnet[dask,bench]'")

    from glassnet.training.ensemble import train_ensemble
    from glassnet.training.runs import PRESETS, plan_run
    from glassnet.version import __version__

    if args.preset not in PRESETS:
        sys.exit(f"bench_cluster: unknown preset {args.preset!r}; the presets are {', '.join(sorted(PRESETS))}")
    overrides = {} if args.epochs is None else dict(epochs=args.epochs)
    plan = plan_run(None, args.preset, overrides, args.seed)

    def train(seeds, scheduler=None):
        started = time.perf_counter()
        ensemble, results = train_ensemble(
            plan.build,
            plan.training,
            plan.config,
            seeds=seeds,
            validation=plan.validation,
            test=plan.test,
            n_jobs=1,
            scheduler=scheduler,
            augment=plan.augment,
        )
        wall = time.perf_counter() - started
        correct = ensemble.breakdown(plan.test.X, plan.test.y)["mean"]
        return dict(wall=wall, members=[r.seconds for r in results], correct=correct)

    seeds = [args.seed + k for k in range(args.members)]
    alone, cluster, startup = [], [], []
    for repeat in range(args.repeats):
        with threadpool_limits(limits=args.threads, user_api="blas"):  # as a worker's member is limited
            alone.append(train(seeds[:1]))
        print(f"# alone {repeat + 1}: {alone[-1]['wall']:.1f} s", file=sys.stderr, flush=True)
        started = time.perf_counter()
        with LocalCluster(
            n_workers=args.members, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as local:
            startup.append(time.perf_counter() - started)
            cluster.append(train(seeds, local.scheduler_address))
        print(f"# cluster {repeat + 1}: {cluster[-1]['wall']:.1f} s", file=sys.stderr, flush=True)

    def row(name, runs, k):
        walls = [r["wall"] for r in runs]
        members = [s for r in runs for s in r["members"]]
        overhead = [r["wall"] - max(r["members"]) for r in runs]
        return (
            f"| {name} | {k} | {statistics.median(walls):.1f} ({', '.join(f'{w:.1f}' for w in walls)}) | "
            f"{statistics.median(members):.1f} | {statistics.median(overhead):.1f} | "
            f"{runs[-1]['correct']} / {len(plan.test.y)} |"
        )

    one = statistics.median(r["wall"] for r in alone)
    many = statistics.median(r["wall"] for r in cluster)
    k = args.members
    lines = [
        f"`{args.preset}`{f' for {args.epochs} epochs' if args.epochs else ''}, "
        f"seeds {seeds[0]}-{seeds[-1]}, "
        f"{args.threads} engine thread(s) per member, {args.repeats} alternating runs of each; glassnet "
        f"{__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end.",
        "",
        "| run | members | wall s, median (each run) | member training s, median "
        "| overhead s (wall - slowest member) | ensemble, test |",
        "|---|---:|---:|---:|---:|---:|",
        row("alone, in this process", alone, 1),
        row(f"cluster of {k} worker processes", cluster, k),
        "",
        f"Cluster start-up (not in the wall times; a standing cluster does not pay it): "
        f"{statistics.median(startup):.1f} s.",
        f"{k} members on {k} workers took {many / one:.2f}x one member alone: K members on K machines take "
        f"about one member's time plus the overhead above.",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
