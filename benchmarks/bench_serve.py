#!/usr/bin/env python
"""Load on ``glassnet serve``: throughput, latency and errors under concurrent clients.

The script starts ``glassnet serve MODEL --port 0`` as a subprocess on 127.0.0.1 (MODEL:
``--model PATH``, else a 784-30-10 trained here for one epoch on MNIST), then, from a
second process, drives ``POST /api/predict`` with ``--clients`` threads, each on its own
keep-alive ``http.client`` connection, for ``--requests`` requests in all.  The bodies are
real MNIST test digits; about ``--bad-fraction`` of them (1%) are deliberately bad -- not
JSON, 783 pixels, a NaN literal, a body over the 64 KB limit -- and must be refused with
their 4xx status; they are counted apart.

Reported: throughput (requests/s over the whole run), latency percentiles of the good
requests (p50, p90, p99, max, in ms), errors (a good request answered with anything but
200, or with another digit than the model gives offline for that image; connection
errors), the expected 4xx by status, the server's resident memory before and after, and
whether it still answers ``GET /`` and a predict after the run.  Then the server is
stopped with SIGINT (Ctrl-C) and its exit code checked.  Everything stays on the loopback
interface; the run is bounded by ``--requests`` and ``--timeout`` seconds.

    python benchmarks/bench_serve.py --output LOAD.md                   # 20,000 requests, 50 clients
    python benchmarks/bench_serve.py --requests 500 --clients 10        # smoke test
    python benchmarks/bench_serve.py --model mnist.npz                  # skip the training

Exit code 0 when every good request succeeded, every bad one got its 4xx and the server
answered afterwards; 1 otherwise.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import itertools
import json
import multiprocessing
import os
import platform
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HOST = "127.0.0.1"
N_DIGITS = 1000  # distinct test digits cycled through
PREDICTION = re.compile(rb'"prediction"\s*:\s*(\d+)')


# -- the bodies ----------------------------------------------------------------------------------
def good_bodies(model_path, n, data_dir=None):
    """n real MNIST test digits as request bodies, and the digit the model gives each offline."""
    import numpy as np

    from glassnet.datasets import load_mnist
    from glassnet.io import load

    net = load(model_path)
    test = load_mnist(data_dir=data_dir).test
    X = np.round(test.X[:n].astype(np.float64), 4)  # 4 decimals: ~5 KB bodies
    bodies, expected = [], []
    for x in X:
        bodies.append(json.dumps({"pixels": x.tolist()}).encode())
        # one image at a time and in float32, as the server computes it
        out = net.activations(np.asarray(x, dtype=net.dtype).reshape(1, -1))[-1][0]
        expected.append(int(np.argmax(out)))
    return bodies, expected


def bad_bodies():
    """(name, body, expected status): the deliberately bad requests."""
    zeros = [0] * 784
    nan = json.dumps({"pixels": [float("nan")] + zeros[1:]}).encode()  # json.dumps writes NaN
    return [
        ("bad JSON", b'{"pixels": [0, 0.5, ', 400),
        ("wrong length", json.dumps({"pixels": zeros[:783]}).encode(), 422),
        ("NaN", nan, 400),
        ("oversized", json.dumps({"pixels": zeros, "pad": "x" * 70_000}).encode(), 413),
    ]


# -- the load generator (runs in its own process) --------------------------------------------------
def drive(port, bodies, expected, bad, n_requests, n_clients, bad_fraction, timeout):
    """Send n_requests from n_clients threads; return counts and the good requests' latencies."""
    every = max(1, round(1 / bad_fraction)) if bad_fraction > 0 else 0
    counter = itertools.count()
    lock = threading.Lock()
    deadline = time.monotonic() + timeout
    totals = dict(
        good=0,
        ok=0,
        bad=0,
        expected_4xx=0,
        bad_unexpected=0,
        errors=0,
        wrong=0,
        connection_errors=0,
        timed_out=False,
        reconnects=0,
    )
    bad_statuses, unexpected = {}, []
    latencies = []

    def client():
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        mine = []
        try:
            while True:
                i = next(counter)
                if i >= n_requests:
                    break
                if time.monotonic() > deadline:
                    with lock:
                        totals["timed_out"] = True
                    break
                is_bad = every and i % every == every // 2
                if is_bad:
                    name, body, want = bad[(i // every) % len(bad)]
                else:
                    k = i % len(bodies)
                    body, want = bodies[k], 200
                start = time.perf_counter()
                try:
                    conn.request("POST", "/api/predict", body=body, headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    data = r.read()
                    status = r.status
                except (OSError, http.client.HTTPException) as e:
                    conn.close()  # the next request opens a new connection
                    with lock:
                        totals["connection_errors"] += 1
                        if len(unexpected) < 5:
                            unexpected.append(f"request {i}: {type(e).__name__}: {e}")
                    continue
                elapsed = time.perf_counter() - start
                if r.will_close:
                    with lock:
                        totals["reconnects"] += 1
                with lock:
                    if is_bad:
                        totals["bad"] += 1
                        bad_statuses[status] = bad_statuses.get(status, 0) + 1
                        if status == want:
                            totals["expected_4xx"] += 1
                        else:
                            totals["bad_unexpected"] += 1
                            if len(unexpected) < 5:
                                unexpected.append(f"{name}: status {status}, expected {want}")
                    else:
                        totals["good"] += 1
                        mine.append(elapsed)
                        match = PREDICTION.search(data) if status == 200 else None
                        if status != 200:
                            totals["errors"] += 1
                            if len(unexpected) < 5:
                                unexpected.append(f"request {i}: status {status}: {data[:120]!r}")
                        elif not match or int(match.group(1)) != expected[k]:
                            totals["wrong"] += 1
                        else:
                            totals["ok"] += 1
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(n_clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 35)
    seconds = time.perf_counter() - start
    return dict(
        totals,
        seconds=seconds,
        latencies=latencies,
        bad_statuses=bad_statuses,
        unexpected=unexpected,
        alive_threads=sum(t.is_alive() for t in threads),
    )


# -- the server ------------------------------------------------------------------------------------
def start_server(model, log):
    """Start ``glassnet serve`` and read its address from the line it prints on stderr
    ("glassnet: serving ... at http://127.0.0.1:PORT/"); the rest of its stderr goes to ``log``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "glassnet", "serve", str(model), "--host", HOST, "--port", "0"],
        stdout=log,
        stderr=subprocess.PIPE,
        text=True,
    )
    line, match = "", None
    deadline = time.monotonic() + 60
    while match is None and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
        line = proc.stderr.readline() if ready else ""
        if not line:
            break
        log.write(line)
        match = re.search(r"at http://127\.0\.0\.1:(\d+)/", line)
    if not match:
        stop_server(proc)
        raise SystemExit(f"bench_serve: the server did not start (printed {line.strip()!r}); see its log {log.name}")
    threading.Thread(target=lambda: [log.write(rest) for rest in proc.stderr], daemon=True).start()
    return proc, int(match.group(1))


def stop_server(proc, wait=15):
    """SIGINT (what Ctrl-C sends), then SIGKILL if it has not stopped; return the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return "killed (did not stop on SIGINT)"
    return proc.returncode


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def health(port, body, expected):
    """(GET / status, predict status, predicted digit == expected) on a fresh connection."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        page = r.status, b"<html" in r.read().lower()
        conn.request("POST", "/api/predict", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        match = PREDICTION.search(r.read())
        return page, (r.status, bool(match) and int(match.group(1)) == expected)
    except (OSError, http.client.HTTPException) as e:
        return (f"{type(e).__name__}", False), (f"{type(e).__name__}", False)
    finally:
        conn.close()


def train_model(folder, data_dir=None):
    import glassnet
    from glassnet.datasets import load_mnist
    from glassnet.io import save

    mnist = load_mnist(data_dir=data_dir)
    net = glassnet.Network([784, 30, 10], seed=0)
    net.SGD((mnist.training.X, mnist.training.y), 1, 10, 3.0, test_data=(mnist.test.X, mnist.test.y), log=None)
    history = net.history
    return save(net, Path(folder) / "mnist-784-30-10.npz", metadata=dict(dataset="mnist", history=history))


# -- the report -----------------------------------------------------------------------------------
def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def report(args, model, result, before, after, page, predict, exit_code):
    import glassnet

    lat = sorted(result["latencies"])
    ms = {q: 1000 * percentile(lat, q) for q in (50, 90, 99)}
    sent = result["good"] + result["bad"] + result["connection_errors"]
    statuses = ", ".join(f"{s}: {n}" for s, n in sorted(result["bad_statuses"].items())) or "-"
    rss = f"{before:.0f} MB before, {after:.0f} MB after" if before is not None and after is not None else "unknown"
    rows = [
        (
            "requests",
            f"{sent:,} of {args.requests:,} ({result['good']:,} good, {result['bad']:,} deliberately bad)"
            + (" -- stopped by --timeout" if result["timed_out"] else ""),
        ),
        ("clients", f"{args.clients} threads, one keep-alive connection each, in a separate process"),
        ("wall time", f"{result['seconds']:.2f} s"),
        ("throughput", f"{sent / result['seconds']:,.0f} requests/s"),
        ("latency p50 / p90 / p99", f"{ms[50]:.1f} / {ms[90]:.1f} / {ms[99]:.1f} ms"),
        ("latency max", f"{1000 * lat[-1]:.1f} ms" if lat else "-"),
        ("errors (good request not 200)", f"{result['errors']:,}"),
        ("wrong digit (not the offline prediction)", f"{result['wrong']:,}"),
        (
            "connection errors",
            f"{result['connection_errors']:,}"
            + (
                f" (the server closed {result['reconnects']} keep-alive connections after answering)"
                if result["reconnects"]
                else ""
            ),
        ),
        (
            "expected 4xx (bad bodies)",
            f"{result['expected_4xx']:,} of {result['bad']:,} (by status: {statuses})"
            + (f"; {result['bad_unexpected']} with another status" if result["bad_unexpected"] else ""),
        ),
        ("server memory (RSS)", rss),
        ("after the run", f"GET / {page[0]}, predict {predict[0]}" + ("" if predict[1] else " (wrong or no digit)")),
        ("server exit on SIGINT", str(exit_code)),
    ]
    lines = [
        f"Load on `glassnet serve` ({model.name}): glassnet {glassnet.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}, waitress with "
        f"4 threads on {HOST}.",
        "",
        "| measure | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in rows]
    if result["unexpected"]:
        lines += ["", "First problems: " + "; ".join(result["unexpected"])]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", type=Path, help="a saved 784-...-10 model (default: train 784-30-10 for 1 epoch)")
    p.add_argument("--requests", type=int, default=20_000, help="requests in all (default 20,000)")
    p.add_argument("--clients", type=int, default=50, help="concurrent client threads (default 50)")
    p.add_argument("--bad-fraction", type=float, default=0.01, help="share of deliberately bad bodies (default 0.01)")
    p.add_argument("--timeout", type=float, default=600, help="stop sending after this many seconds (default 600)")
    p.add_argument("--data-dir", help="a folder holding the MNIST IDX files (else the usual cache/fetch)")
    p.add_argument("--output", type=Path, help="also write the Markdown table to this file")
    args = p.parse_args(argv)
    if args.requests < 1 or args.clients < 1 or not 0 <= args.bad_fraction < 0.5 or args.timeout <= 0:
        p.error("need --requests >= 1, --clients >= 1, 0 <= --bad-fraction < 0.5 and --timeout > 0")

    with tempfile.TemporaryDirectory(prefix="bench_serve-") as tmp:
        model = args.model
        if model is None:
            print("# training 784-30-10 for one epoch on MNIST ...", file=sys.stderr, flush=True)
            model = train_model(tmp, args.data_dir)
        bodies, expected = good_bodies(model, N_DIGITS, args.data_dir)
        log = open(Path(tmp) / "server.log", "w+")
        proc, port = start_server(model, log)
        try:
            time.sleep(0.5)
            before = rss_mb(proc.pid)
            print(
                f"# server on http://{HOST}:{port}/ (pid {proc.pid}); {args.requests:,} requests from "
                f"{args.clients} clients ...",
                file=sys.stderr,
                flush=True,
            )
            ctx = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
                future = pool.submit(
                    drive,
                    port,
                    bodies,
                    expected,
                    bad_bodies(),
                    args.requests,
                    args.clients,
                    args.bad_fraction,
                    args.timeout,
                )
                result = future.result(timeout=args.timeout + 120)
            after = rss_mb(proc.pid)
            alive = proc.poll() is None
            page, predict = health(port, bodies[0], expected[0]) if alive else (("server died", False),) * 2
        finally:
            exit_code = stop_server(proc)
            log.seek(0)
            server_log = log.read()
            log.close()
        table = report(args, Path(model), result, before, after, page, predict, exit_code)
    print(table)
    if args.output:
        args.output.write_text(table + "\n")
    good = (
        result["errors"] == 0
        and result["wrong"] == 0
        and result["connection_errors"] == 0
        and result["bad_unexpected"] == 0
        and not result["timed_out"]
        and page[0] == 200
        and page[1]
        and predict == (200, True)
        and exit_code == 0
    )
    if not good and "Traceback" in server_log:
        print("# the server's log holds a traceback:\n" + server_log[-3000:], file=sys.stderr)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
