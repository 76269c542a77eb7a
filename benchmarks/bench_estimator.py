#!/usr/bin/env python
"""GlassnetClassifier() against MLPClassifier(), both with their defaults, on scikit-learn's small data sets.

For each of the digits, iris, wine and breast-cancer data sets and each random state
0..N-1 (``--states N``, default 100): a stratified 60/40 split drawn with that state,
then ``Pipeline([StandardScaler(), clf])`` fitted on the 60% and scored on the 40%, for
``clf = GlassnetClassifier(random_state=state)`` and ``MLPClassifier(random_state=state)``.
Nothing else is set: the random state only fixes the initial weights and shuffles, so a
run can be repeated.  MLPClassifier's ConvergenceWarning (it stops at max_iter=200) is
silenced.

Reported, one Markdown table, a row per data set with the two side by side: the median
test accuracy, its 5th percentile, the mean and the mean seconds per fit (the scaler
included); then the targets -- GlassnetClassifier's median at least MLPClassifier's on
every data set, and its 5th percentile at least 0.95 on the digits -- each PASS or FAIL.

    python benchmarks/bench_estimator.py --output docs/estimator.md     # 100 states: a few minutes
    python benchmarks/bench_estimator.py --states 5                     # quick look

Both fit on one thread each (``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` = 1 unless set),
one fit at a time.  Exit code 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy loads BLAS

import numpy as np  # noqa: E402

DATASETS = ("digits", "iris", "wine", "breast_cancer")
DIGITS_P5_TARGET = 0.95


def load(name):
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(return_X_y=True)


def classifiers():
    from sklearn.neural_network import MLPClassifier

    from glassnet.sklearn import GlassnetClassifier

    return {"GlassnetClassifier()": GlassnetClassifier, "MLPClassifier()": MLPClassifier}


def run_one(X, y, make, state):
    """(test accuracy, seconds to fit) for one split and one classifier."""
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, stratify=y, random_state=state)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", make(random_state=state))])
    started = time.perf_counter()
    pipe.fit(X_train, y_train)
    seconds = time.perf_counter() - started
    return pipe.score(X_test, y_test), seconds


def measure(states, names, progress):
    """{(data set, classifier): (accuracies (states,), seconds (states,))}."""
    from sklearn.exceptions import ConvergenceWarning

    results = {}
    for name in names:
        X, y = load(name)
        for label, make in classifiers().items():
            scores, times = [], []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                for state in range(states):
                    score, seconds = run_one(X, y, make, state)
                    scores.append(score)
                    times.append(seconds)
            results[name, label] = np.array(scores), np.array(times)
            progress(
                f"{name:14s} {label:22s} median {np.median(scores):.4f}  ({np.sum(times):.1f} s for {states} fits)"
            )
    return results


def table(results, states, names):
    """One Markdown table, a row per data set, the two classifiers side by side."""
    glass, mlp = classifiers()
    lines = [
        f"## {glass} vs {mlp}, defaults, {states} stratified 60/40 splits per data set",
        "",
        "In `Pipeline([StandardScaler(), clf])`: test accuracy over the splits (median, 5th percentile, "
        "mean) and mean seconds per fit.  G: GlassnetClassifier(), M: MLPClassifier().",
        "",
        "| data set | samples | G median | M median | G 5th pct | M 5th pct | G mean | M mean | G s/fit | M s/fit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        (g, g_s), (m, m_s) = results[name, glass], results[name, mlp]
        lines.append(
            f"| {name} | {len(load(name)[1])} | {np.median(g):.4f} | {np.median(m):.4f} | "
            f"{np.percentile(g, 5):.4f} | {np.percentile(m, 5):.4f} | {g.mean():.4f} | {m.mean():.4f} | "
            f"{g_s.mean():.3f} | {m_s.mean():.3f} |"
        )
    return lines


def targets(results, names):
    """(lines, all met?) for the targets named in the module docstring."""
    glass, mlp = classifiers()
    lines, ok = ["", "## Targets", ""], True
    for name in names:
        g, m = np.median(results[name, glass][0]), np.median(results[name, mlp][0])
        met = g >= m - 1e-9  # equal accuracies may differ in the last bit
        ok &= met
        lines.append(
            f"- {name}: GlassnetClassifier median {g:.4f} >= MLPClassifier median {m:.4f}: {'PASS' if met else 'FAIL'}"
        )
    if "digits" in names:
        p5 = np.percentile(results["digits", glass][0], 5)
        met = p5 >= DIGITS_P5_TARGET
        ok &= met
        lines.append(
            f"- digits: GlassnetClassifier 5th percentile {p5:.4f} >= {DIGITS_P5_TARGET}: {'PASS' if met else 'FAIL'}"
        )
    return lines, ok


def environment():
    import sklearn

    import glassnet

    return [
        "",
        f"Python {platform.python_version()}, NumPy {np.__version__}, scikit-learn {sklearn.__version__}, "
        f"glassnet {glassnet.__version__}; {platform.machine()}, {os.cpu_count()} CPUs, one fit at a time "
        f"on one BLAS thread.",
    ]


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--states", type=int, default=100, help="random states (splits) per data set (default 100)")
    p.add_argument(
        "--datasets", default=",".join(DATASETS), help=f"comma-separated subset of {','.join(DATASETS)} (default: all)"
    )
    p.add_argument("--output", help="also write the report (Markdown) to this file")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = sorted(set(names) - set(DATASETS))
    if unknown or not names or args.states < 1:
        print(
            f"bench_estimator: need --states >= 1 and data sets among {', '.join(DATASETS)}, "
            f"got {args.states} and {args.datasets!r}",
            file=sys.stderr,
        )
        return 2
    progress = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    results = measure(args.states, names, progress)
    goal_lines, ok = targets(results, names)
    report = "\n".join(table(results, args.states, names) + goal_lines + environment()) + "\n"
    print(report, end="")
    if args.output:
        with open(args.output, "w") as f:
            f.write(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
