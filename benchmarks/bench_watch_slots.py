#!/usr/bin/env python
"""The live page with every place taken: what it costs the training, and who gets the places.

Part 1, ``glassnet train`` subprocesses (the book's run, MNIST 784-30-10, mini-batch 10, eta
3.0, ``--epochs`` of them), alternated so that a change in the machine's load falls on all alike:

    plain     no --watch
    full      --watch with ``MAX_STREAMS`` (8) viewers reading the event stream the way the
              page does (a thread each in this process, coming back with Last-Event-ID when a
              stream ends, retrying 3 s after a 503), connected as soon as the page is served
    crowd     --watch with 20 connections that ask for the stream and never read a byte,
              opened first, then the 8 reading viewers

Timed: the wall and CPU seconds from the header line ``# glassnet ...`` to ``# best ...`` (the
training with its evaluation and the page's threads; see bench_watch.py), and for the two
watched modes how many of the 8 viewers received an update while the run trained.

Part 2, in this process: the places under the crowd.  A ``WatchServer`` with the default
``STREAM_SECONDS`` and ``WRITE_TIMEOUT``; a run that publishes an epoch every 0.25 s; 20
silent connections take the places, then 8 viewers ask: the seconds until each viewer's
first update, and until the silent ones held no place.

    python benchmarks/bench_watch_slots.py                 # ~2 minutes
    python benchmarks/bench_watch_slots.py --epochs 5 --repeats 1     # smoke test
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import platform
import socket
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit

from bench_watch import Child

MODES = ("plain", "full", "crowd")
VIEWERS, SILENT = 8, 20


class Viewer(threading.Thread):
    """Reads ``url``'s event stream as the page does until the run's final status (or ``stop``)."""

    def __init__(self, url, stop):
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.address, self.stop = (parts.hostname, parts.port), stop
        self.started = time.perf_counter()
        self.updates, self.first, self.refused, self.streams = 0, None, 0, 0

    def run(self):
        last_id, final = None, False
        while not (final or self.stop.is_set()):
            connection = http.client.HTTPConnection(*self.address, timeout=30)
            try:
                connection.request("GET", "/events", headers={"Last-Event-ID": last_id} if last_id else {})
                response = connection.getresponse()
                if response.status == 503:  # every place taken: the page tries again in 3 s
                    self.refused += 1
                    self.stop.wait(3.0)
                    continue
                self.streams += 1
                while not self.stop.is_set() and (line := response.readline()):
                    if line.startswith(b"id: "):
                        last_id = line[4:].decode().strip()
                    elif line == b"event: update\n":
                        self.updates += 1
                        self.first = self.first or time.perf_counter()
                    elif line.startswith(b"data: ") and b'"state":"' in line:
                        final = final or any(
                            f'"state":"{s}"'.encode() in line for s in ("finished", "stopped", "interrupted", "failed")
                        )
            except OSError:
                self.stop.wait(0.5)
            finally:
                connection.close()
            self.stop.wait(0.1)  # the stream's "retry: 100"


def silent(url):
    """A connection that asks for the stream and never reads."""
    parts = urlsplit(url)
    client = socket.create_connection((parts.hostname, parts.port))
    client.sendall(f"GET /events HTTP/1.1\r\nHost: {parts.hostname}\r\n\r\n".encode())
    return client


def run_once(mode, epochs, timeout):
    """(training s wall, its CPU s, viewers that got an update while training or None)."""
    argv = [sys.executable, "-m", "glassnet", "train", "--epochs", str(epochs)]
    child = Child(argv + (["--watch"] if mode != "plain" else []))
    stop, viewers, crowd = threading.Event(), [], []
    try:
        if mode != "plain":
            if not child.url_seen.wait(60):
                raise RuntimeError("no '# watching at' line from glassnet train --watch")
            if mode == "crowd":
                crowd = [silent(child.url) for _ in range(SILENT)]
                time.sleep(0.2)
            viewers = [Viewer(child.url, stop) for _ in range(VIEWERS)]
            for v in viewers:
                v.start()
        child.finish(timeout)
    finally:
        stop.set()
        for client in crowd:
            client.close()
        if child.process.poll() is None:
            child.process.kill()
    began, ended = child.time_of("# glassnet"), child.time_of("# best")
    cpu = child.cpu.get("# best ")
    cpu = None if cpu is None else cpu - child.cpu["# glass"]
    served = None if mode == "plain" else sum(v.first is not None and v.first < ended for v in viewers)
    return ended - began, cpu, served


def measure(epochs, repeats, timeout):
    runs = {m: [] for m in MODES}
    for r in range(repeats):
        for mode in MODES:
            wall, cpu, served = run_once(mode, epochs, timeout)
            runs[mode].append((wall, cpu, served))
            print(
                f"run {r + 1}/{repeats} {mode:5s}: training {wall:6.2f} s wall, {cpu or 0:6.2f} s CPU"
                + ("" if served is None else f"; {served} of {VIEWERS} viewers got updates while it trained"),
                file=sys.stderr,
                flush=True,
            )
    return runs


def report(runs, epochs, repeats):
    med = {m: [statistics.median(r[k] for r in rs if r[k] is not None) for k in (0, 1)] for m, rs in runs.items()}
    label = {
        "plain": "without --watch",
        "full": f"--watch, {VIEWERS} viewers reading (every place taken)",
        "crowd": f"--watch, {SILENT} silent connections, then {VIEWERS} viewers",
    }
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"## glassnet train --watch with every place taken: the book's run, {epochs} epochs (median of {repeats})",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.2f} at the end; "
        f"Python {platform.python_version()}.",
        "",
        "| run | training s (wall) | ratio | training s (CPU) | ratio | viewers served while training | "
        "all runs: training s (wall) |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for mode, rs in runs.items():
        wall, cpu = med[mode]
        served = "" if mode == "plain" else ", ".join(f"{r[2]}/{VIEWERS}" for r in rs)
        lines.append(
            f"| {label[mode]} | {wall:.2f} | {wall / med['plain'][0]:.3f} | {cpu:.2f} | {cpu / med['plain'][1]:.3f} "
            f"| {served} | {', '.join(f'{r[0]:.2f}' for r in rs)} |"
        )
    lines += [
        "",
        "The viewers' own CPU (threads of the benchmark, like a browser's) is not counted in the "
        "training's CPU seconds; they share the machine's two cores with it.",
    ]
    return "\n".join(lines) + "\n"


def crowd_in_process(seconds=45.0):
    """Part 2: when do 8 viewers get in after 20 silent connections took every place?"""
    import numpy as np

    from glassnet import Network
    from glassnet.web.watchapp import MAX_STREAMS, STREAM_SECONDS, WRITE_TIMEOUT, WatchServer

    rng = np.random.default_rng(0)
    X, y = rng.normal(0, 1, (500, 784)).astype(np.float32), rng.integers(0, 10, 500)
    net = Network([784, 30, 10], seed=0)
    server = WatchServer()
    watch, stop = server.watch, threading.Event()
    watch.attach(net, test=(X, y), meta={"dataset": "noise", "epochs": 10**6})

    def publish():
        epoch = 0
        while not stop.wait(0.25):
            watch.callback(net, {"epoch": epoch, "test_accuracy": 0.1})
            epoch += 1

    threading.Thread(target=publish, daemon=True).start()
    crowd = [silent(server.url) for _ in range(SILENT)]
    deadline = time.monotonic() + 5
    while watch.open_streams < MAX_STREAMS and time.monotonic() < deadline:
        time.sleep(0.01)
    taken = watch.open_streams
    start = time.perf_counter()
    viewers = [Viewer(server.url, stop) for _ in range(VIEWERS)]
    for v in viewers:
        v.start()
    while time.perf_counter() - start < seconds and any(v.first is None for v in viewers):
        time.sleep(0.05)
    firsts = sorted(v.first - start for v in viewers if v.first is not None)
    open_now = watch.open_streams
    stop.set()
    watch.finish("finished")
    for client in crowd:
        client.close()
    server.close()
    return "\n".join(
        [
            "",
            f"### The crowd, in process (STREAM_SECONDS {STREAM_SECONDS:g}, WRITE_TIMEOUT {WRITE_TIMEOUT:g})",
            "",
            f"{SILENT} connections that never read took {taken} of {MAX_STREAMS} places; then {VIEWERS} viewers "
            f"asked. Seconds until each viewer's first update: "
            f"{', '.join(f'{s:.1f}' for s in firsts) or 'none'} ({len(firsts)} of {VIEWERS} within {seconds:g} s); "
            f"refusals (503) before that: {sum(v.refused for v in viewers)}; places held at the end: {open_now} "
            f"(the viewers').",
            "",
        ]
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30, help="epochs of the book's run (default 30)")
    p.add_argument("--repeats", type=int, default=5, help="runs of each kind (default 5; the median is shown)")
    p.add_argument("--timeout", type=float, default=600, help="seconds a run may take at most")
    p.add_argument("--no-crowd", action="store_true", help="skip part 2 (the crowd in process)")
    p.add_argument("--output", metavar="FILE", help="also write the tables to FILE")
    args = p.parse_args(argv)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # the crowd fills the queue on purpose
    text = report(measure(args.epochs, args.repeats, args.timeout), args.epochs, args.repeats)
    if not args.no_crowd:
        text += crowd_in_process()
    print(text, end="")
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
