#!/usr/bin/env python
"""Training and inference speed of glassnet against other implementations of the same network.

Every implementation trains the book's network (sigmoid neurons, quadratic cost,
mini-batch SGD, eta 3.0, N(0, 1) initial weights) on MNIST's 50,000 training images,
in this one process, for three configurations: 784-30-10 with mini-batches of 10,
784-100-10 with mini-batches of 10 and 784-30-10 with mini-batches of 100.

  * glassnet        -- ``glassnet.Network`` (NumPy, float32, a whole mini-batch at a time)
  * book loop       -- ``book_loop.BookNetwork``: per-example backprop in a Python loop,
                       column vectors, float64, organised like the book's network.py
  * PyTorch CPU     -- nn.Linear + torch.sigmoid, 0.5 * sum((a - y)^2) / m, optim.SGD (if installed)
  * scikit-learn    -- MLPClassifier(30 logistic units, sgd, batch 10) (if installed; log-loss,
                       so not the same cost; 784-30-10 batch 10 only)

It also times inference on the 10,000 test images, measures the peak memory of a
``glassnet train --epochs 1`` run in a child process, checks the project's speed
targets and prints everything as Markdown (``--output FILE`` also writes it to FILE).

    python benchmarks/bench_training.py --output BENCHMARKS.md   # the real run (a few minutes)
    python benchmarks/bench_training.py --quick                  # smoke test: 2,000 images, 1 epoch
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import glassnet
from glassnet import engines
from glassnet.engines import NumpyEngine
from glassnet.engines import kernel as kernels

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_loop import BookNetwork, to_book_format  # noqa: E402

ETA = 3.0
FULL_TRAINING_SET = 50_000
QUICK_TRAINING_SET = 2_000
CONFIGS = [((784, 30, 10), 10), ((784, 100, 10), 10), ((784, 30, 10), 100)]
MAIN = CONFIGS[0]
compile_note = ""


def config_name(config):
    sizes, batch = config
    return f"{'-'.join(map(str, sizes))}, batch {batch}"


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Result:
    """One implementation on one configuration."""

    seconds: float | None = None  # median seconds per epoch of the training set
    accuracy: float | None = None  # on the test images, after the timed training
    note: str = ""
    samples: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


@dataclass
class Data:
    X: np.ndarray  # (n, 784) float32
    y: np.ndarray  # (n,) int64
    Y: np.ndarray  # (n, 10) float32 one-hot
    Xt: np.ndarray  # (10000, 784) float32
    yt: np.ndarray  # (10000,) int64
    source: str


# --------------------------------------------------------------------------- data


def load_data(n_train, quick, seed):
    try:
        from glassnet.datasets import load_mnist

        mnist = load_mnist()
        X, y = mnist.training.X[:n_train], mnist.training.y[:n_train]
        Xt, yt = mnist.test.X, mnist.test.y
        source = "MNIST"
    except Exception as exc:  # the loader may be missing or the files unreachable
        if not quick:
            raise SystemExit(
                f"bench_training: MNIST could not be loaded ({type(exc).__name__}: {exc}); "
                "the real benchmark needs it (only --quick falls back to random data)"
            ) from None
        log(f"MNIST unavailable ({type(exc).__name__}: {exc}); --quick uses random data of MNIST's shapes")
        rng = np.random.default_rng(seed)
        X = rng.random((n_train, 784), dtype=np.float32)
        y = rng.integers(0, 10, n_train)
        Xt = rng.random((10_000, 784), dtype=np.float32)
        yt = rng.integers(0, 10, 10_000)
        source = "random data (MNIST unavailable)"
    X = np.ascontiguousarray(X, dtype=np.float32)
    Xt = np.ascontiguousarray(Xt, dtype=np.float32)
    y, yt = np.asarray(y, dtype=np.int64), np.asarray(yt, dtype=np.int64)
    Y = np.zeros((len(y), 10), dtype=np.float32)
    Y[np.arange(len(y)), y] = 1.0
    return Data(X, y, Y, Xt, yt, source)


# --------------------------------------------------------------------------- machine


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu = platform.processor() or "unknown"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = {
        "Date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "CPU": f"{cpu}; {os.cpu_count()} logical cores ({usable} usable by this process)",
        "Load average at start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": platform.python_version(),
        "glassnet": getattr(glassnet, "__version__", "?"),
        "NumPy": f"{np.__version__}; BLAS: {blas_info()}",
    }
    for dist, label in (("torch", "PyTorch"), ("scikit-learn", "scikit-learn")):
        try:
            info[label] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            info[label] = "not installed"
    return info


def blas_info():
    try:
        from threadpoolctl import threadpool_info

        libs = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if libs:
            return "; ".join(
                f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}, {p.get('num_threads')} threads)"
                for p in libs
            )
    except Exception:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        return "unknown"


# --------------------------------------------------------------------------- glassnet


def bench_glassnet(config, data, epochs, repeats, seed, engine=None):
    """``engine`` None: the one ``Network.SGD`` chooses (as a user gets it); else that engine."""
    sizes, batch = config
    # warm-up, untimed: first BLAS calls, page faults of fresh arrays
    glassnet.Network(sizes, seed=seed).SGD((data.X[:500], data.y[:500]), 1, batch, ETA, log=None, engine=engine)
    times, accuracies, net, prepare = [], [], None, []
    for r in range(repeats):
        net = glassnet.Network(sizes, seed=seed + r, dtype=np.float32)
        net.SGD((data.X, data.y), epochs, batch, ETA, test_data=(data.Xt, data.yt), log=None, engine=engine)
        history = net.history
        times += [h["seconds"] for h in history]
        prepare.append(_prepare_seconds(net, data.X, batch))
        accuracies.append(history[-1]["accuracy"])
    return Result(
        statistics.median(times),
        statistics.median(accuracies),
        samples=times,
        extra={"network": net, "prepare": statistics.median(prepare)},
    )


def _prepare_seconds(net, X, batch):
    """The one-off preparation SGD does before its epochs (X's nonzeros for the kernel)."""
    start = time.perf_counter()
    engines.choose(net, batch).prepare(X)
    return time.perf_counter() - start


def first_call_seconds():
    """Seconds of the first use of the kernel in this process (loading the library)."""
    start = time.perf_counter()
    for dt in (np.float32, np.float64):
        net = glassnet.Network([4, 3, 2], seed=0, dtype=dt)
        kernels.sgd_batches(net, np.zeros((5, 4), dt), np.zeros((5, 2), dt), np.arange(5), 2, 0.1)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- book loop


def bench_book(config, data, slice_size, n_slices, seed, test_pairs):
    sizes, batch = config
    n = len(data.X)
    slice_size = min(slice_size, n)
    warm = BookNetwork(sizes, seed=seed)
    warm.train_epoch(to_book_format(data.X[:100], data.y[:100]), batch, ETA)
    net = BookNetwork(sizes, seed=seed)
    times = []
    for k in range(n_slices):
        start = (k * slice_size) % n
        stop = min(start + slice_size, n)
        pairs = to_book_format(data.X[start:stop], data.y[start:stop])  # converted outside the timing
        seconds = net.train_epoch(pairs, batch, ETA)
        times.append(seconds * n / len(pairs))  # scaled to a whole epoch
        del pairs
    accuracy = net.evaluate(test_pairs) / len(test_pairs)
    seen = n_slices * slice_size
    if slice_size < n:
        note = (
            f"timed on {n_slices} × {slice_size:,} images, scaled ×{n / slice_size:g} to {n:,}; "
            f"accuracy after {seen:,} images"
        )
    else:
        note = f"accuracy after {seen // n} epoch(s)"
    return Result(statistics.median(times), accuracy, note, samples=times)


# --------------------------------------------------------------------------- PyTorch


def torch_available():
    return importlib.util.find_spec("torch") is not None


def make_torch_model(torch, sizes):
    nn = torch.nn

    class SigmoidNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            with torch.no_grad():  # the book's N(0, 1) initialisation
                for layer in self.layers:
                    layer.weight.normal_(0.0, 1.0)
                    layer.bias.normal_(0.0, 1.0)

        def forward(self, a):
            for layer in self.layers:
                a = torch.sigmoid(layer(a))
            return a

    return SigmoidNet()


def torch_epoch(torch, model, optimizer, X, Y, batch, generator):
    start = time.perf_counter()
    order = torch.randperm(len(X), generator=generator)
    for k in range(0, len(X), batch):
        index = order[k : k + batch]
        xb, yb = X[index], Y[index]
        loss = 0.5 * ((model(xb) - yb) ** 2).sum() / len(index)  # quadratic cost, mean over the batch
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def torch_accuracy(torch, model, Xt, yt):
    with torch.no_grad():
        return (model(Xt).argmax(dim=1) == yt).float().mean().item()


def bench_torch(config, data, epochs, repeats, seed, threads):
    import torch

    sizes, batch = config
    X, Y = torch.from_numpy(data.X), torch.from_numpy(data.Y)
    Xt, yt = torch.from_numpy(data.Xt), torch.from_numpy(data.yt)
    per_thread = {}
    for t in threads:
        torch.set_num_threads(t)
        torch.manual_seed(seed)
        warm = make_torch_model(torch, sizes)
        torch_epoch(
            torch,
            warm,
            torch.optim.SGD(warm.parameters(), lr=ETA),
            X[:500],
            Y[:500],
            batch,
            torch.Generator().manual_seed(seed),
        )
        times, accuracies, model = [], [], None
        for r in range(repeats):
            torch.manual_seed(seed + r)
            model = make_torch_model(torch, sizes)
            optimizer = torch.optim.SGD(model.parameters(), lr=ETA)
            generator = torch.Generator().manual_seed(seed + r)
            times += [torch_epoch(torch, model, optimizer, X, Y, batch, generator) for _ in range(epochs)]
            accuracies.append(torch_accuracy(torch, model, Xt, yt))
        per_thread[t] = Result(
            statistics.median(times), statistics.median(accuracies), samples=times, extra={"model": model}
        )
    best = min(per_thread, key=lambda t: per_thread[t].seconds)
    result = per_thread[best]
    result.note = (
        f"best thread setting: {best} "
        + "("
        + ", ".join(f"{t} thread{'s' * (t > 1)}: {fmt_s(per_thread[t].seconds)} s" for t in per_thread)
        + ")"
    )
    result.extra["threads"] = best
    return result


# --------------------------------------------------------------------------- scikit-learn


def sklearn_available():
    return importlib.util.find_spec("sklearn") is not None


def bench_sklearn(data, epochs, repeats, seed, learning_rate):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    times, accuracies = [], []
    classes = np.arange(10)
    for r in range(repeats):
        clf = MLPClassifier(
            hidden_layer_sizes=(30,),
            activation="logistic",
            solver="sgd",
            batch_size=10,
            learning_rate="constant",
            learning_rate_init=learning_rate,
            momentum=0.0,
            nesterovs_momentum=False,
            alpha=0.0,
            max_iter=1,
            shuffle=True,
            random_state=seed + r,
        )
        for _ in range(epochs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                clf.partial_fit(data.X, data.y, classes=classes)  # one pass over the data
                times.append(time.perf_counter() - start)
        accuracies.append(float(clf.score(data.Xt, data.yt)))
    note = (
        f"log-loss with softmax outputs (not the quadratic cost), learning rate {learning_rate:g}, "
        "no momentum, no L2; partial_fit per epoch"
    )
    return Result(statistics.median(times), statistics.median(accuracies), note, samples=times)


# --------------------------------------------------------------------------- inference


def bench_inference(net, torch_model, data, threads, runs, rounds=5):
    """Best seconds of each way to run 784-30-10 forward on the test images.

    Each implementation is timed in its own block of ``runs`` calls (after a warm-up
    call), the blocks taking turns over ``rounds`` rounds, so that a change in the
    machine's speed during the run reaches all of them.  Before each block the process
    rests 0.3 s: thread pools spin for a while after their work (OpenBLAS's for ~0.1 s),
    and one still spinning from the block before would take a core from the next.
    """
    # the forward pass an inference call site gets: chosen once for the data (engines.forward_for)
    name, forward = engines.forward_for(net, data.Xt)
    blocks = {"glassnet": lambda: forward(data.Xt)}
    if name == "kernel":
        blocks["glassnet_1"] = lambda: kernels.forward(net, data.Xt, threads=1)
    blocks["glassnet_numpy"] = lambda: net.feedforward(data.Xt)  # the core's NumPy pass
    if torch_model is not None:
        import torch

        Xt = torch.from_numpy(data.Xt)

        def torch_block(t):
            def run():
                torch.set_num_threads(t)  # (cheap when unchanged)
                with torch.no_grad():
                    torch_model(Xt)

            return run

        for t in threads:
            blocks[("torch", t)] = torch_block(t)
    best = {}
    for _ in range(rounds):
        for key, fn in blocks.items():
            time.sleep(0.3)
            fn()
            for _ in range(runs):
                start = time.perf_counter()
                fn()
                best[key] = min(best.get(key, float("inf")), time.perf_counter() - start)
    out = {k: v for k, v in best.items() if not isinstance(k, tuple)}
    per_thread = {k[1]: v for k, v in best.items() if isinstance(k, tuple)}
    if per_thread:
        fastest = min(per_thread, key=per_thread.get)
        out.update(torch=per_thread[fastest], torch_threads=fastest, torch_per_thread=per_thread)
    return out


# --------------------------------------------------------------------------- memory


def peak_memory(seed):
    """Max RSS (MiB) of a child ``python -c 'import numpy, glassnet'`` and of ``glassnet train --epochs 1``.

    RUSAGE_CHILDREN's ru_maxrss is the largest of all waited-for children, so the
    smaller baseline child runs first and no other child process is started before.
    """
    if importlib.util.find_spec("glassnet.cli") is None:
        return None, "skipped: glassnet.cli is not there"
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = []
    base = subprocess.run([sys.executable, "-c", "import numpy, glassnet"], capture_output=True, text=True)
    if base.returncode == 0:
        rows.append(
            (
                "`python -c 'import numpy, glassnet'` (baseline)",
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            )
        )
    command = [sys.executable, "-m", "glassnet", "train", "--epochs", "1", "--seed", str(seed)]
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        return rows or None, f"skipped: `{' '.join(command[1:])}` exited with {run.returncode}: {last}"
    rows.append(
        (
            f"`python -m glassnet train --epochs 1` (784-30-10, batch 10, MNIST; {wall:.1f} s wall)",
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        )
    )
    return rows, (
        f"`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` after each child exits; the children "
        f"run before the benchmark loads any data (this process: {parent:.0f} MiB then), since "
        "on Linux a child's figure cannot be below its parent's peak at the time it starts."
    )


# --------------------------------------------------------------------------- report


def fmt_s(seconds):
    if seconds is None:
        return "–"
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def fmt_ratio(ratio):
    return "–" if ratio is None else f"{ratio:.1f}×" if ratio >= 10 else f"{ratio:.2f}×"


def fmt_acc(accuracy):
    return "–" if accuracy is None else f"{100 * accuracy:.2f}%"


def ratio(theirs, ours):
    if theirs is None or ours is None or ours <= 0:
        return None
    return theirs / ours


def build_targets(results, inference, n_train, memory=None):
    """(target, measured, threshold, PASS/FAIL/n/a) rows."""
    scale = n_train / FULL_TRAINING_SET

    def get(config, impl):
        r = results.get((config, impl))
        return r.seconds if r is not None else None

    b10, h100, b100 = CONFIGS
    g10 = get(b10, "glassnet")
    limit = 0.25 * scale
    rows = [
        (
            "784-30-10, batch 10: glassnet seconds per epoch",
            None if g10 is None else f"{fmt_s(g10)} s",
            f"≤ {limit:.3g} s" + ("" if scale == 1 else f" (0.25 s × {n_train:,}/50,000)"),
            None if g10 is None else g10 <= limit,
        )
    ]

    def speedup(label, config, impl, threshold):
        r = ratio(get(config, impl), get(config, "glassnet"))
        rows.append((label, fmt_ratio(r), f"≥ {threshold:g}×", None if r is None else r >= threshold))

    speedup("784-30-10, batch 10: glassnet vs book loop", b10, "book", 18)
    speedup("784-30-10, batch 10: glassnet vs PyTorch", b10, "torch", 12)
    speedup("784-30-10, batch 100: glassnet vs PyTorch", b100, "torch", 2.5)
    speedup("784-100-10, batch 10: glassnet vs book loop", h100, "book", 14)
    r = ratio(inference.get("torch"), inference.get("glassnet")) if inference else None
    rows.append(
        ("Inference 784-30-10: glassnet images/s vs PyTorch", fmt_ratio(r), "≥ 1×", None if r is None else r >= 1)
    )
    peak = next((mib for label, mib in memory or () if "train" in label), None)
    rows.append(
        (
            "Peak memory of `glassnet train` (784-30-10)",
            None if peak is None else f"{peak:,.0f} MiB",
            "< 400 MB (381 MiB)",
            None if peak is None else peak * 2**20 < 400e6,
        )
    )
    return [(a, b or "–", c, "n/a" if ok is None else "PASS" if ok else "FAIL") for a, b, c, ok in rows]


def render(args, info, data, results, inference, memory, memory_note, n_train, book_slice, book_slices, torch_threads):
    lines = ["# glassnet training benchmark", ""]
    if args.quick:
        lines += ["> **Smoke run (`--quick`)**: a 2,000-image training set, numbers are not meaningful.", ""]
    lines += [f"- **{k}**: {v}" for k, v in info.items()]
    lines += [
        f"- **Data**: {data.source}; {n_train:,} training images, {len(data.Xt):,} test images",
        f"- **Run**: `{' '.join(['python', 'benchmarks/bench_training.py'] + sys.argv[1:])}` — "
        f"{args.epochs} epoch(s) × {args.repeats} run(s) per configuration, seed {args.seed}",
        "",
        "## Training: median seconds per epoch",
        "",
        "Same algorithm everywhere: sigmoid neurons, quadratic cost, mini-batch SGD with eta 3.0, "
        "N(0, 1) initial weights (scikit-learn aside, see its note).",
        "",
        f"| Configuration | Implementation | s / epoch ({n_train:,} images) | Time vs glassnet "
        "| Test accuracy | Notes |",
        "|---|---|---:|---:|---:|---|",
    ]
    prep = [
        (config_name(c), r.extra.get("prepare"))
        for (c, impl), r in results.items()
        if impl == "glassnet" and r.extra.get("prepare") is not None
    ]
    prepare_note = (
        (
            "before its first epoch `SGD` finds the training inputs' nonzeros once for the kernel ("
            + "; ".join(f"{name}: {sec:.3f} s" for name, sec in prep)
            + "). It is counted in epoch 0's seconds, which the median over epochs leaves out; a "
            "30-epoch run spends it once."
        )
        if prep
        else "none (the NumPy step needs none)."
    )
    names = {
        "glassnet": "glassnet (float32; compiled kernel where it applies)",
        "glassnet_numpy": "glassnet, NumPy engine (the readable reference)",
        "book": "book loop (per-example, float64)",
        "torch": "PyTorch CPU (float32)",
        "sklearn": "scikit-learn MLPClassifier",
    }
    for config in CONFIGS:
        ours = results.get((config, "glassnet"))
        first = True
        for impl in ("glassnet", "glassnet_numpy", "book", "torch", "sklearn"):
            r = results.get((config, impl))
            if r is None:
                continue
            rel = ratio(r.seconds, ours.seconds if ours else None)
            lines.append(
                f"| {config_name(config) if first else ''} | {names[impl]} | {fmt_s(r.seconds)} | "
                f"{fmt_ratio(rel)} | {fmt_acc(r.accuracy)} | {r.note} |"
            )
            first = False
    lines += [
        "",
        f"- *s / epoch*: median over {args.epochs} epoch(s) × {args.repeats} run(s) of training time only "
        "(shuffle + every mini-batch step; evaluation excluded); all in one process, one after another.",
        "- *Time vs glassnet*: that implementation's seconds divided by glassnet's — above 1× means "
        "glassnet is faster.",
        "- *glassnet* runs as a user gets it (`Network(sizes)`, engine \"auto\", NumPy's BLAS at its "
        "default thread count): where the compiled kernel of `glassnet.engines` was built (by `pip "
        "install`, with a C compiler) and covers the network, epochs run through it; it skips the "
        "zero inputs of the first layer (81% of MNIST's pixels). The *NumPy engine* row "
        f"(`engine=NumpyEngine()`) is the readable reference, for information. {compile_note}",
        f"- *Preparation*: {prepare_note}",
        "- OpenBLAS threads on these small matrices can be very slow when other processes use the "
        "cores: check the load average above before trusting a result.",
        f"- *Book loop* (`benchmarks/book_loop.py`): too slow to train whole epochs here, so it is timed on "
        f"{book_slices} slice(s) of {book_slice:,} training images each, and each slice's time is scaled "
        f"to {n_train:,} images (×{n_train / book_slice:g}); its accuracy is after those "
        f"{book_slices * book_slice:,} images only.",
        f"- *PyTorch*: each configuration run with torch.set_num_threads({', '.join(map(str, torch_threads))}); "
        "the table shows the best thread setting.",
        "- *Test accuracy*: on the 10,000 test images after the timed training (median over runs).",
        "",
    ]

    b10 = results.get((MAIN, "glassnet"))
    book = results.get((MAIN, "book"))
    lines += ["## Matrix-based vs per-example", ""]
    if b10 and book:
        numpy_step = results.get((MAIN, "glassnet_numpy"))
        for label, r in (
            ("the NumPy step (matrix-based, the reference)", numpy_step),
            ("glassnet as installed (compiled kernel)", b10),
        ):
            if r is None:
                continue
            x = book.seconds / r.seconds
            lines.append(
                f"- 784-30-10, batch 10: {label} {fmt_s(r.seconds)} s per epoch vs the book loop "
                f"{fmt_s(book.seconds)} s: **{fmt_ratio(x)} faster** (required ≥ 8×): "
                f"**{'PASS' if x >= 8 else 'FAIL'}**"
            )
    else:
        lines.append("not measured")
    lines += ["", f"## Inference: 784-30-10 on the {len(data.Xt):,} test images", ""]
    if inference:
        lines += ["| Implementation | Best seconds | Images / s | Time vs glassnet |", "|---|---:|---:|---:|"]
        g = inference["glassnet"]
        lines.append(f"| glassnet `feedforward` (float32) | {g:.4f} | {len(data.Xt) / g:,.0f} | 1.00× |")
        for key, label in (
            ("glassnet_1", "glassnet, the compiled kernel on 1 thread (for information)"),
            ("glassnet_numpy", "glassnet, NumPy engine: BLAS products (for information)"),
        ):
            if key in inference:
                g1 = inference[key]
                lines.append(f"| {label} | {g1:.4f} | {len(data.Xt) / g1:,.0f} | {fmt_ratio(g1 / g)} |")
        if "torch" in inference:
            t = inference["torch"]
            per = ", ".join(f"{k}: {v:.4f} s" for k, v in inference["torch_per_thread"].items())
            lines.append(
                f"| PyTorch, `torch.no_grad()`, best thread setting {inference['torch_threads']} "
                f"({per}) | {t:.4f} | {len(data.Xt) / t:,.0f} | {fmt_ratio(t / g)} |"
            )
        lines += [
            "",
            f"Best of 5 rounds × {args.inference_runs} calls each: every implementation (and PyTorch "
            "thread setting) runs in its own block of calls after a warm-up call and a 0.3 s rest (so no "
            "thread pool from the block before is still spinning on a core), the blocks taking turns.",
        ]
    else:
        lines.append("not measured")
    lines += ["", "## Peak memory", ""]
    if memory:
        lines += ["| Child process | Max RSS |", "|---|---:|"]
        lines += [f"| {label} | {mib:,.0f} MiB |" for label, mib in memory]
    if memory_note:
        lines += ["", memory_note]
    lines += ["", "## Targets", "", "| Target | Measured | Threshold | Result |", "|---|---:|---|---|"]
    lines += [f"| {a} | {b} | {c} | **{d}** |" for a, b, c, d in build_targets(results, inference, n_train, memory)]
    if args.quick:
        lines += ["", "Smoke run: PASS/FAIL here says nothing about the real targets."]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--epochs", type=int, help="timed epochs per run (default 3; 1 with --quick)")
    p.add_argument("--repeats", type=int, help="independent runs per configuration (default 1; 1 with --quick)")
    p.add_argument(
        "--quick", action="store_true", help=f"smoke test: {QUICK_TRAINING_SET:,} training images, 1 epoch, 1 run"
    )
    p.add_argument("--output", metavar="FILE", help="also write the Markdown report to FILE")
    p.add_argument("--seed", type=int, default=0, help="seed of every network and shuffle (default 0)")
    p.add_argument(
        "--book-images",
        type=int,
        default=10_000,
        metavar="N",
        help="images per timed slice of the book loop (default 10,000)",
    )
    p.add_argument(
        "--torch-threads", default="1,2", metavar="T,T", help="torch.set_num_threads settings to try (default 1,2)"
    )
    p.add_argument(
        "--inference-runs",
        type=int,
        default=10,
        metavar="K",
        help="inference: K timed calls per block, 5 rounds (default 10)",
    )
    p.add_argument("--sklearn-lr", type=float, default=0.1, help="MLPClassifier learning_rate_init (default 0.1)")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    p.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory child process")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.quick else 3
    if args.repeats is None:
        args.repeats = 1
    if args.epochs < 1 or args.repeats < 1 or args.book_images < 1 or args.inference_runs < 1:
        p.error("--epochs, --repeats, --book-images and --inference-runs must be at least 1")
    try:
        args.threads = [int(t) for t in args.torch_threads.split(",") if t.strip()]
        assert args.threads and min(args.threads) >= 1
    except (ValueError, AssertionError):
        p.error(f"--torch-threads wants positive integers separated by commas, got {args.torch_threads!r}")
    return args


def main(argv=None):
    args = parse_args(argv)
    info = machine_info()  # before any work, so the load average is the machine's own

    # The peak-memory children come first, before this process loads any data: RUSAGE_CHILDREN
    # only ever grows, and on Linux a child's ru_maxrss starts from its parent's peak RSS
    # (the address space it ran in until exec), so the parent must still be small here.
    memory, memory_note = None, "skipped (--no-memory)"
    if not args.no_memory:
        log("peak memory: glassnet train --epochs 1 in a child process")
        memory, memory_note = peak_memory(args.seed)

    global compile_note
    if kernels.available():
        seconds = first_call_seconds()
        compile_note = (
            f"Kernel: {kernels.info()}, compiled by `pip install` (about 1 s of gcc per build, "
            "no compiling at run time); its first call in this run took "
            f"{seconds * 1e3:.1f} ms (loading the library)."
        )
    else:
        compile_note = "The compiled kernel is not built here, so every glassnet row is the NumPy step."
    n_train = QUICK_TRAINING_SET if args.quick else FULL_TRAINING_SET
    data = load_data(n_train, args.quick, args.seed)
    n_train = len(data.X)
    log(f"data: {data.source}, {n_train:,} training / {len(data.Xt):,} test images")

    results = {}
    for config in CONFIGS:
        log(f"glassnet {config_name(config)}")
        results[(config, "glassnet")] = bench_glassnet(config, data, args.epochs, args.repeats, args.seed)
        if engines.choose(glassnet.Network(config[0]), config[1]).name == "kernel":
            log(f"glassnet {config_name(config)}, NumPy engine")
            r = bench_glassnet(config, data, args.epochs, args.repeats, args.seed, engine=NumpyEngine())
            r.extra.clear()
            results[(config, "glassnet_numpy")] = r

    book_slice = min(args.book_images, n_train)
    book_slices = args.epochs * args.repeats
    test_pairs = to_book_format(data.Xt, data.yt, one_hot_targets=False)
    for config in CONFIGS:
        log(f"book loop {config_name(config)} ({book_slices} × {book_slice:,} images)")
        results[(config, "book")] = bench_book(config, data, book_slice, book_slices, args.seed, test_pairs)
    del test_pairs

    torch_model = None
    if args.no_torch:
        log("PyTorch skipped (--no-torch)")
    elif not torch_available():
        log("PyTorch not installed: skipped")
    else:
        import torch

        original_threads = torch.get_num_threads()
        for config in CONFIGS:
            log(f"PyTorch {config_name(config)} (threads {args.torch_threads})")
            try:
                r = bench_torch(config, data, args.epochs, args.repeats, args.seed, args.threads)
            except Exception as exc:
                r = Result(note=f"failed: {type(exc).__name__}: {exc}")
            results[(config, "torch")] = r
            if config == MAIN:
                torch_model = r.extra.get("model")
        torch.set_num_threads(original_threads)

    if args.no_sklearn:
        log("scikit-learn skipped (--no-sklearn)")
    elif not sklearn_available():
        log("scikit-learn not installed: skipped")
    else:
        log(f"scikit-learn MLPClassifier {config_name(MAIN)}")
        try:
            results[(MAIN, "sklearn")] = bench_sklearn(data, args.epochs, args.repeats, args.seed, args.sklearn_lr)
        except Exception as exc:
            results[(MAIN, "sklearn")] = Result(note=f"failed: {type(exc).__name__}: {exc}")

    log("inference on the test images")
    inference = bench_inference(
        results[(MAIN, "glassnet")].extra["network"], torch_model, data, args.threads, args.inference_runs
    )
    if torch_model is not None:
        import torch

        torch.set_num_threads(original_threads)

    report = render(
        args, info, data, results, inference, memory, memory_note, n_train, book_slice, book_slices, args.threads
    )
    print(report, end="")
    if args.output:
        Path(args.output).write_text(report, encoding="utf-8")
        log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
