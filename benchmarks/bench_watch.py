#!/usr/bin/env python
"""What ``glassnet train --watch`` costs the training: wall seconds with and without the page.

The book's run (MNIST, 784-30-10, mini-batch 10, eta 3.0; ``--epochs`` of them, default
30) as ``glassnet train`` subprocesses, three ways, alternated so that a change in the
machine's load falls on all three alike:

    plain     no --watch
    watch     --watch, nobody connected
    page      --watch with its page open in headless Chromium (/usr/bin/chromium through
              playwright, as tests/test_watch_browser.py), connected before training starts

Timed: the wall seconds from the header line ``# glassnet ...`` (printed just before
``fit``) to the summary line ``# best ...`` (printed just after it) as this process reads
them from the child's stderr -- the training with its per-epoch evaluation, callbacks and
the page's threads, without Python's start-up or the data loading -- and the CPU seconds
the child used meanwhile (all its threads, from /proc/PID/stat as each line arrives: on a
machine shared with other work, the wall seconds vary by tens of percent from run to run,
the CPU seconds much less).  Reported: the median of ``--repeats`` (default 3) runs each
and its ratio to ``plain``, as a Markdown table (``--output FILE`` writes it too).

    python benchmarks/bench_watch.py                      # 30 epochs, 3 repeats: ~2 minutes
    python benchmarks/bench_watch.py --epochs 5 --repeats 1 --no-page     # smoke test

Then, since on a busy machine those figures swing by more than the few percent looked for,
an accounting that does not depend on the load (``--no-accounting`` skips it): the same
training in this process, nobody watching and then with a client reading the event stream
over HTTP, with the time spent in the publisher's hooks on the training thread
(``Watch.callback`` and ``Watch.on_batch``), the measuring thread's working time
(``Watch.measure_seconds``), the stream's ``Watch.updates`` calls, and how many epochs
were measured.

Run it on an otherwise idle machine: the page's measuring thread and the browser use the
second core, which other processes may be using.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
MODES = ("plain", "watch", "page")


class Child:
    """A ``glassnet train`` subprocess whose stderr lines are timestamped as they arrive."""

    def __init__(self, argv):
        self.started = time.perf_counter()
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines, self.cpu, self.url, self.url_seen = [], {}, None, threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _cpu_seconds(self):
        """User + system CPU seconds of the child so far (all threads); None off Linux."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _read(self):
        for line in self.process.stderr:
            self.lines.append((time.perf_counter(), line.rstrip("\n")))
            if line.startswith(("# glassnet", "# best")):
                self.cpu[line[:7]] = self._cpu_seconds()
            found = re.match(r"# watching at (\S+)", line)
            if found:
                self.url = found.group(1)
                self.url_seen.set()

    def finish(self, timeout):
        code = self.process.wait(timeout)
        ended = time.perf_counter()
        self.reader.join(5)
        if code != 0:
            raise RuntimeError(f"glassnet train exited {code}:\n" + "\n".join(l for _, l in self.lines[-20:]))
        return ended - self.started

    def time_of(self, prefix):
        return next(t for t, line in self.lines if line.startswith(prefix))


def run_once(mode, epochs, browser, timeout):
    """(fit seconds, their CPU seconds, process seconds, the page's state at the end or None)."""
    argv = [sys.executable, "-m", "glassnet", "train", "--epochs", str(epochs)]
    # the page (a renderer process) is made first, so that it connects while the data loads
    page = browser.new_page(viewport={"width": 1200, "height": 900}) if mode == "page" else None
    child = Child(argv + (["--watch"] if mode != "plain" else []))
    state = None
    try:
        if mode == "page":
            if not child.url_seen.wait(60):
                raise RuntimeError("no '# watching at' line from glassnet train --watch")
            page.goto(child.url)
            page.wait_for_selector("body:not([data-state='connecting'])")  # the first event has come
            connected = time.perf_counter()
        total = child.finish(timeout)
        if page is not None:
            state = page.locator("#state").text_content()
            if connected > child.time_of("# glassnet"):
                state += " (connected after training began)"
    finally:
        if page is not None:
            page.close()
        if child.process.poll() is None:
            child.process.kill()
    cpu = child.cpu.get("# best ")
    cpu = None if cpu is None else cpu - child.cpu["# glass"]
    return child.time_of("# best") - child.time_of("# glassnet"), cpu, total, state


def measure(epochs, repeats, modes, timeout):
    times = {m: [] for m in modes}
    states = []
    browser_cm = None
    browser = None
    if "page" in modes:
        from playwright.sync_api import sync_playwright

        browser_cm = sync_playwright()
        browser = browser_cm.__enter__().chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        for r in range(repeats):
            for mode in modes:  # alternate: plain, watch, page, plain, ...
                fit_s, cpu_s, total_s, state = run_once(mode, epochs, browser, timeout)
                times[mode].append((fit_s, cpu_s, total_s))
                if state is not None:
                    states.append(state)
                print(
                    f"run {r + 1}/{repeats} {mode:5s}: training {fit_s:6.2f} s wall, {cpu_s or 0:6.2f} s CPU; "
                    f"process {total_s:6.2f} s" + (f"; page: {state}" if state else ""),
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if browser is not None:
            browser.close()
            browser_cm.__exit__(None, None, None)
    return times, states


def _median(runs, k):
    values = [run[k] for run in runs if run[k] is not None]
    return statistics.median(values) if values else float("nan")


def report(times, states, epochs, repeats):
    base = [_median(times["plain"], k) for k in range(3)]
    base_best = min(run[0] for run in times["plain"])
    label = {"plain": "without --watch", "watch": "--watch, nobody connected", "page": "--watch, page open"}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"## glassnet train --watch: the book's run, {epochs} epochs (median of {repeats})",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.2f} at the end; "
        f"Python {platform.python_version()}.",
        "",
        "| run | training s (wall) | ratio | training s (CPU) | ratio | process s (wall) | ratio | "
        "best training s (wall) | ratio | all runs: training s (wall) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for mode, runs in times.items():
        cells = []
        for k in range(3):
            value = _median(runs, k)
            cells += [f"{value:.2f}", f"{value / base[k]:.3f}"]
        best = min(run[0] for run in runs)
        cells += [f"{best:.2f}", f"{best / base_best:.3f}"]
        lines.append(f"| {label[mode]} | {' | '.join(cells)} | {', '.join(f'{run[0]:.2f}' for run in runs)} |")
    lines += [
        "",
        "training s: from the header line to the summary line (fit, its callbacks and the page's "
        "threads), wall and CPU (all the process's threads); process s: the whole command, Python's "
        "start-up and the data loading included; best: the fastest run (the one least disturbed by "
        "other work). The browser's own CPU is not counted.",
    ]
    if states:
        lines.append(f"The page's state at the end of each run: {', '.join(sorted(set(states)))}.")
    return "\n".join(lines) + "\n"


def _timed(fn, total):
    """fn, adding the seconds each call takes to total[0]."""

    def timed(*args):
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            total[0] += time.perf_counter() - started

    return timed


def _stream_reader(url, stop):
    """Read ``url`` (an event stream) until it ends or ``stop`` is set, as a page would."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("GET", "/events")
    response = connection.getresponse()
    while not stop.is_set() and response.fp.readline():
        pass
    connection.close()


def account_once(mnist, epochs, with_reader):
    """The publisher's costs in one in-process run of the book's network (see the docstring)."""
    from glassnet import Network
    from glassnet.training import TrainingConfig, fit
    from glassnet.web.watchapp import WatchServer

    net = Network([784, 30, 10], seed=0)
    server = WatchServer()
    watch = server.watch
    hooks, updates, stop = [0.0], [0.0], threading.Event()
    watch.updates = _timed(watch.updates, updates)
    reader = threading.Thread(target=_stream_reader, args=(server.url, stop), daemon=True)
    if with_reader:
        reader.start()
        while not watch.open_streams:
            time.sleep(0.01)
    watch.attach(net, test=(mnist.test.X, mnist.test.y), sample=(mnist.training.X[:500], mnist.training.y[:500]))
    started = time.perf_counter()
    fit(
        net,
        mnist.training,
        TrainingConfig(epochs=epochs, mini_batch_size=10, eta=3.0),
        test=mnist.test,
        callbacks=[_timed(watch.callback, hooks)],
        on_batch=_timed(watch.on_batch, hooks),
        stop=watch.stop_event,
    )
    wall = time.perf_counter() - started
    watch.finish("finished")
    server.close()
    stop.set()
    measured = len(watch.updates(None)[0]["measures"]) - 1
    return dict(wall=wall, hooks=hooks[0], measuring=watch.measure_seconds, updates=updates[0], measured=measured)


def accounting(epochs, repeats):
    from glassnet.datasets import load_mnist

    mnist = load_mnist()
    rows = [
        "",
        f"### Where the time goes (in-process, {epochs} epochs, median of {repeats})",
        "",
        "| run | training s | training thread in the hooks | measuring thread at work | stream's updates "
        "| epochs measured |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, with_reader in (("nobody connected", False), ("a client reading /events", True)):
        runs = [account_once(mnist, epochs, with_reader) for _ in range(repeats)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        rows.append(
            f"| {label} | {med['wall']:.2f} | {1000 * med['hooks']:.1f} ms ({med['hooks'] / med['wall']:.2%}) "
            f"| {1000 * med['measuring']:.0f} ms ({med['measuring'] / med['wall']:.1%}) "
            f"| {1000 * med['updates']:.1f} ms | {med['measured']:.0f} of {epochs} |"
        )
    rows += [
        "",
        "The hooks run on the training thread (their share is what nobody-connected costs the "
        "training at most, with the measuring thread on another core); the measuring thread and the "
        "stream run beside it and take cores from it only when none is free.",
    ]
    return "\n".join(rows) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30, help="epochs of the book's run (default 30)")
    p.add_argument("--repeats", type=int, default=3, help="runs of each kind (default 3; the median is shown)")
    p.add_argument("--no-page", action="store_true", help="skip the runs with the page open (no browser)")
    p.add_argument("--timeout", type=float, default=600, help="seconds a run may take at most")
    p.add_argument("--no-accounting", action="store_true", help="skip the in-process accounting")
    p.add_argument("--output", metavar="FILE", help="also write the tables to FILE")
    args = p.parse_args(argv)
    modes = MODES[:2] if args.no_page else MODES
    times, states = measure(args.epochs, args.repeats, modes, args.timeout)
    text = report(times, states, args.epochs, args.repeats)
    if not args.no_accounting:
        text += accounting(args.epochs, args.repeats)
    print(text, end="")
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
