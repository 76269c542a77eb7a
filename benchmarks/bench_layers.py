#!/usr/bin/env python
"""Training speed of chapter 6's layer networks: glassnet's compiled engine, glassnet's NumPy
layers and PyTorch CPU, side by side in one process.

Two networks from the book's chapter 6, float32, plain SGD (eta 0.03, no L2), MNIST images:

  two-conv  ConvPool(20 5x5, pool 2) -> ConvPool(40 5x5, pool 2) -> FullyConnected(640, 100)
            -> Softmax(100, 10), every hidden layer ReLU (``--activation sigmoid`` for the
            book's first version)
  dropout   ConvPool(20 5x5) -> ConvPool(40 5x5) -> FullyConnected(640, 1000, p_dropout 0.5)
            -> FullyConnected(1000, 1000, p_dropout 0.5) -> Softmax(1000, 10, p_dropout 0.5), ReLU

and, past the book, the ``sprint`` preset's network (``SPRINT``): conv 16 5x5 (no bias), batch
norm, ReLU, max-pool 2, conv 32 5x5, batch norm, ReLU, max-pool 2, FC 64, batch norm, ReLU,
softmax (PyTorch: the same with nn.BatchNorm2d/1d in training mode),

each at mini-batch 10 (the book's) and 64 (``--batches 10,64``).  Implementations:

  * glassnet fast     ``engines.layers_fast.LayerKernelEngine`` (compiled C), with 2 threads (its
                      default on two cores) and with 1 thread (``--fast-threads``)
  * glassnet NumPy    ``engines.NumpyEngine`` stepping ``LayerNetwork.step`` (the reference;
                      BLAS limited to one thread with threadpoolctl when it is installed:
                      OpenBLAS threads spin on such small matrices)
  * PyTorch CPU       nn.Conv2d / max_pool2d / nn.Linear / F.dropout, cross-entropy, optim.SGD,
                      with 2 threads and with 1 thread (``--torch-threads``)

Each implementation trains on a slice of the training images (``--images``, fewer for the
slow NumPy path) and the time is scaled to seconds per 50,000-image epoch.  The
implementations take turns, ``--repeats`` rounds, and the table shows each one's median;
the ratios are of medians, so background load that comes and goes hits all of them alike.
A run over ``--max-run-seconds`` is not repeated (PyTorch's two threads can be 50x slower
than one on a busy machine: they spin waiting for each other); its cell is marked *.
Prints a Markdown table (``--output FILE`` also writes it).

    python benchmarks/bench_layers.py                  # a few minutes
    python benchmarks/bench_layers.py --quick          # smoke test: the numbers mean little
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import os
import platform
import statistics
import sys
import time

import numpy as np

from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
from glassnet.engines import NumpyEngine, layers_fast

EPOCH = 50_000
ETA = 0.03
NETWORKS = ("two-conv", "dropout", "sprint")
#: the sprint preset's network (training.runs.PRESETS["sprint"]): batch normalisation, no biases
#: in the convolutions before it
SPRINT = "conv16x5,bn,relu,maxpool2,conv32x5,bn,relu,maxpool2,fc64,bn,relu"


def build(name, activation, seed=0):
    """The glassnet LayerNetwork called ``name`` (float32)."""
    if name == "sprint":
        from glassnet.training.layerspec import layer_network

        return layer_network(SPRINT, (1, 28, 28), 10, activation="relu", seed=seed, dtype="float32")
    activation = activation if name == "two-conv" else "relu"
    conv = [
        ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2), activation),
        ConvPoolLayer((40, 20, 5, 5), (20, 12, 12), (2, 2), activation),
    ]
    if name == "two-conv":
        top = [FullyConnectedLayer(640, 100, activation), SoftmaxLayer(100, 10)]
    else:
        top = [
            FullyConnectedLayer(640, 1000, "relu", p_dropout=0.5),
            FullyConnectedLayer(1000, 1000, "relu", p_dropout=0.5),
            SoftmaxLayer(1000, 10, p_dropout=0.5),
        ]
    return LayerNetwork(conv + top, seed=seed, dtype=np.float32)


def torch_model(name, activation):
    """The same architecture in PyTorch (float32, default initialisation)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    act = torch.relu if activation == "relu" or name == "dropout" else torch.sigmoid
    if name == "sprint":
        return nn.Sequential(
            nn.Conv2d(1, 16, 5, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(512, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 10),
        )  # fmt: skip

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 40, 5)
            widths = [640, 100, 10] if name == "two-conv" else [640, 1000, 1000, 10]
            self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
            self.p = 0.0 if name == "two-conv" else 0.5

        def forward(self, x):
            x = act(F.max_pool2d(self.c1(x), 2))
            x = act(F.max_pool2d(self.c2(x), 2)).flatten(1)
            for i, layer in enumerate(self.fc):
                x = layer(F.dropout(x, self.p, self.training) if self.p else x)
                x = x if i == len(self.fc) - 1 else act(x)
            return x

    return Net()


def training_flops(network):
    """FLOP to train on one image: 2 per multiply-add of the forward pass, of the weights'
    gradient and of the inputs' gradient (every layer but the first needs one), whatever
    work an engine skips (the two-conv network: about 9.2 million)."""
    macs = []
    for layer in network.layers:
        if isinstance(layer, ConvPoolLayer):
            f, c, kh, kw = layer.filter_shape
            macs.append(f * c * kh * kw * layer.conv_shape[1] * layer.conv_shape[2])
        elif hasattr(layer, "filter_shape"):  # a padded/strided conv (core.modern.ConvLayer)
            f, c, kh, kw = layer.filter_shape
            macs.append(f * c * kh * kw * layer.output_shape[1] * layer.output_shape[2])
        elif layer.param_keys == ("w", "b") and getattr(layer.w, "ndim", 0) == 2:  # fully connected
            macs.append(layer.n_in * layer.n_out)
        # batch normalisation and pooling: no multiply-adds worth counting beside these
    return 2 * (2 * sum(macs) + sum(macs[1:]))


def sgemm_rate(threads, n=1024, repeats=7):
    """GFLOP/s of NumPy's float32 matrix product (n x n) on ``threads`` BLAS threads: the
    machine's practical peak for this work, measured in this run."""
    rng = np.random.default_rng(0)
    A, B = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    with blas_threads(threads):
        A @ B
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            A @ B
            times.append(time.perf_counter() - started)
    return 2 * n**3 / statistics.median(times) / 1e9


def run_glassnet(engine, network, X, y, batch):
    """Seconds for one pass of ``engine`` over (X, y) in mini-batches of ``batch``."""
    order = np.arange(len(X))
    started = time.perf_counter()
    engine.epoch(network, X, y, order, batch, ETA)
    return time.perf_counter() - started


def run_torch(model, X, y, batch, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    optimizer = torch.optim.SGD(model.parameters(), lr=ETA)
    model.train()
    started = time.perf_counter()
    for i in range(0, len(X), batch):
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(X[i : i + batch]), y[i : i + batch])
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


@contextlib.contextmanager
def blas_threads(n):
    """Limit BLAS to ``n`` threads inside the block (a no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def load_images(n):
    """The first n MNIST training images (n, 1, 28, 28) float32 and labels, or random ones
    (said in the report) when MNIST is not at hand."""
    try:
        from glassnet.datasets import load_mnist

        data = load_mnist().training
        return data.X[:n].reshape(n, 1, 28, 28).copy(), data.y[:n].copy(), "MNIST"
    except Exception as error:  # noqa: BLE001 -- a benchmark runs on what it has
        rng = np.random.default_rng(0)
        print(f"(MNIST not available: {error}; random images)", file=sys.stderr)
        return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n), "random images"


def implementations(args, name, batch, X, y):
    """{label: (run, images)}: each run() times one pass over its slice of the data."""
    impls = {}
    if layers_fast.supports(build(name, args.activation), batch):
        for threads in args.fast_threads:
            net, engine, n = build(name, args.activation), layers_fast.LayerKernelEngine(threads), args.images
            impls[fast_label(threads)] = (lambda e=engine, net=net, n=n: run_glassnet(e, net, X[:n], y[:n], batch), n)
    if not args.no_numpy:
        ref, n_np = build(name, args.activation), args.numpy_images

        def numpy_run():
            with blas_threads(1):
                return run_glassnet(NumpyEngine(), ref, X[:n_np], y[:n_np], batch)

        impls["glassnet NumPy"] = (numpy_run, n_np)
    if args.torch_threads:
        import torch

        Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
        n_t = args.torch_images
        for threads in args.torch_threads:
            model = torch_model(name, args.activation)
            impls[f"PyTorch {threads} thread{'s' if threads > 1 else ''}"] = (
                lambda m=model, k=threads: run_torch(m, Xt[:n_t], yt[:n_t], batch, k),
                n_t,
            )
    return impls


def measure(args, name, batch, X, y):
    """{label: median seconds per 50,000-image epoch} for one network and mini-batch size.

    An implementation whose run takes over ``--max-run-seconds`` (PyTorch's threads on a
    busy machine can be 50x slower than usual) is not run again: its median is of the runs
    it had, and ``slow`` lists it."""
    impls = implementations(args, name, batch, X, y)
    times, slow = {label: [] for label in impls}, set()
    for label, (run, n) in impls.items():  # warm-up: first calls, allocations, caches
        seconds = run()
        if seconds > args.max_run_seconds:
            times[label].append(seconds * EPOCH / n)
            slow.add(label)
    for _ in range(args.repeats):  # take turns, so that load hits all alike
        for label, (run, n) in impls.items():
            if label not in slow:
                seconds = run()
                times[label].append(seconds * EPOCH / n)
                if seconds > args.max_run_seconds:
                    slow.add(label)
    return {label: statistics.median(t) for label, t in times.items()}, slow


def fast_label(threads):
    return f"glassnet fast {threads} thread{'s' if threads > 1 else ''}"


def torch_label(threads):
    return f"PyTorch {threads} thread{'s' if threads > 1 else ''}"


def table(results, slow_runs, args, source):
    fast_labels = [fast_label(k) for k in args.fast_threads]
    torch_labels = [torch_label(k) for k in args.torch_threads]
    lines = [
        f"## Layer networks: seconds per 50,000-image epoch (float32, {source})",
        "",
        f"{datetime.date.today()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy {np.__version__}"
        + _torch_version()
        + f", kernel: {layers_fast.info()}, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end.  Medians of {args.repeats} "
        f"alternating runs; glassnet fast timed on {args.images} images, NumPy on "
        f"{args.numpy_images}, PyTorch on {args.torch_images}.",
        "",
        "| network | mini-batch | "
        + " | ".join(fast_labels)
        + " | glassnet NumPy | "
        + " | ".join(torch_labels)
        + " | "
        + " | ".join(f"{k[9:]} vs best PyTorch" for k in fast_labels)
        + " | fast vs NumPy |",
        "|---|---:|" + "---:|" * (2 * len(fast_labels) + len(torch_labels) + 2),
    ]
    for (name, batch), r in results.items():
        fast = [r.get(k) for k in fast_labels]
        best_fast = min((t for t in fast if t is not None), default=None)
        best_torch = min((r[k] for k in torch_labels if k in r), default=None)
        slow = slow_runs[name, batch]
        cells = (
            [_s(r.get(k), k in slow) for k in fast_labels]
            + [_s(r.get("glassnet NumPy"), "glassnet NumPy" in slow)]
            + [_s(r.get(k), k in slow) for k in torch_labels]
        )
        cells += [_x(best_torch, t) for t in fast] + [_x(r.get("glassnet NumPy"), best_fast)]
        lines.append(
            f"| {name} ({args.activation if name == 'two-conv' else 'relu'}) | {batch} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "Ratios: how many times faster glassnet fast is (its time divided into the other's); "
        "\"best\" is the faster of the thread counts measured.  * fewer runs: one took over "
        f"{args.max_run_seconds:g} s, and it was not repeated.",
    ]
    return "\n".join(lines + [""] + rate_table(results, args))


def rate_table(results, args):
    """Effective GFLOP/s of every implementation (``training_flops`` per image times images per
    second) beside NumPy's sgemm on 1 and 2 threads, measured now."""
    sgemm = {k: sgemm_rate(k) for k in sorted({1, 2} | set(args.fast_threads))}
    labels = (
        [fast_label(k) for k in args.fast_threads] + ["glassnet NumPy"] + [torch_label(k) for k in args.torch_threads]
    )
    lines = [
        "## Effective rate: GFLOP/s of training (FLOP per trained image x images per second)",
        "",
        "NumPy sgemm (float32, 1024 x 1024) in this run: "
        + ", ".join(f"{rate:.0f} GFLOP/s on {k} thread{'s' * (k > 1)}" for k, rate in sgemm.items())
        + ".  Each cell: GFLOP/s (share of sgemm on as many threads; NumPy layers: 1 thread).",
        "",
        "| network | MFLOP / image | mini-batch | " + " | ".join(labels) + " |",
        "|---|---:|---:|" + "---:|" * len(labels),
    ]
    for (name, batch), r in results.items():
        flops = training_flops(build(name, args.activation))
        cells = []
        for label in labels:
            threads = 1 if label == "glassnet NumPy" else int(label.split()[-2])
            seconds = r.get(label)
            rate = None if seconds is None else flops * EPOCH / seconds / 1e9
            cells.append("-" if rate is None else f"{rate:.1f} ({100 * rate / sgemm[threads]:.0f}%)")
        lines.append(f"| {name} | {flops / 1e6:.2f} | {batch} | " + " | ".join(cells) + " |")
    return lines


def _torch_version():
    try:
        import torch

        return f", torch {torch.__version__}"
    except ImportError:
        return ""


def _s(seconds, slow=False):
    return "-" if seconds is None else f"{seconds:.1f}" + ("*" if slow else "")


def _x(other, fast):
    return "-" if other is None or fast is None else f"{other / fast:.2f}x"


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--networks", default=",".join(NETWORKS), help="two-conv,dropout,sprint")
    p.add_argument("--batches", default="10,64", help="mini-batch sizes, comma-separated")
    p.add_argument(
        "--activation",
        default="relu",
        choices=["relu", "sigmoid"],
        help="the two-conv network's activation (the dropout network is ReLU)",
    )
    p.add_argument("--images", type=int, default=2000, help="images per timed run, glassnet fast")
    p.add_argument("--torch-images", type=int, default=1000, help="images per timed run, PyTorch")
    p.add_argument("--numpy-images", type=int, default=500, help="images per timed run, NumPy")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument(
        "--max-run-seconds", type=float, default=15.0, help="an implementation whose run takes longer is not run again"
    )
    p.add_argument("--torch-threads", default="2,1", help="comma-separated; empty: no PyTorch")
    p.add_argument("--fast-threads", default="2,1", help="threads of glassnet's fast engine, comma-separated")
    p.add_argument("--no-numpy", action="store_true", help="leave out the NumPy layers")
    p.add_argument("--quick", action="store_true", help="smoke test: tiny slices, one repeat")
    p.add_argument("--output", help="also write the table to this file")
    args = p.parse_args(argv)
    args.networks = [n for n in args.networks.split(",") if n]
    args.batches = [int(b) for b in args.batches.split(",") if b]
    args.torch_threads = [int(t) for t in args.torch_threads.split(",") if t]
    args.fast_threads = [int(t) for t in args.fast_threads.split(",") if t]
    if args.torch_threads and importlib.util.find_spec("torch") is None:
        print("(PyTorch not installed: left out)", file=sys.stderr)
        args.torch_threads = []
    if args.quick:
        args.images, args.torch_images, args.numpy_images, args.repeats = 128, 128, 64, 1
    return args


def main(argv=None):
    args = parse(argv)
    unknown = set(args.networks) - set(NETWORKS)
    if unknown:
        print(f"unknown network(s) {sorted(unknown)}; choose from {', '.join(NETWORKS)}", file=sys.stderr)
        return 2
    n = max(args.images, args.torch_images, args.numpy_images)
    X, y, source = load_images(n)
    results, slow_runs = {}, {}
    for name in args.networks:
        for batch in args.batches:
            results[name, batch], slow_runs[name, batch] = measure(args, name, batch, X, y)
            print(
                f"measured {name}, mini-batch {batch}: "
                + ", ".join(f"{k} {v:.1f} s" for k, v in results[name, batch].items()),
                file=sys.stderr,
            )
    report = table(results, slow_runs, args, source)
    print(report)
    if args.output:
        with open(args.output, "w") as f:
            f.write(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
