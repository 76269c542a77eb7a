"""Progress bars for long steps, shown only when the stream is a terminal.

Uses tqdm when it is installed (the ``progress`` extra) and a one-line fallback otherwise.
Never writes anything to a pipe or a log file.
"""

from __future__ import annotations

import sys


def is_terminal(stream=None):
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class BatchProgress:
    """A per-epoch bar: call as ``on_batch(done, total)``; ``close()`` clears it."""

    def __init__(self, desc="", stream=None, enabled=None):
        self.stream = stream or sys.stderr
        self.enabled = is_terminal(self.stream) if enabled is None else enabled
        self.desc = desc
        self._bar = None
        self._last = -1

    def __call__(self, done, total):
        if not self.enabled:
            return
        if self._bar is None:
            try:
                from tqdm import tqdm

                self._bar = tqdm(
                    total=total, desc=self.desc, file=self.stream, leave=False, mininterval=0.2, unit="batch"
                )
            except ImportError:
                self._bar = False
        if self._bar:
            self._bar.update(done - self._bar.n)
            if done >= total:
                self.close()
        else:
            pct = 100 * done // total
            if pct != self._last:
                self._last = pct
                bar = "#" * (pct // 4)
                self.stream.write(f"\r{self.desc} [{bar:<25}] {pct:3d}%")
                self.stream.flush()
            if done >= total:
                self.stream.write("\r" + " " * (len(self.desc) + 34) + "\r")
                self.stream.flush()
                self._last = -1

    def close(self):
        if self._bar:
            self._bar.close()
        self._bar = None


class FetchProgress:
    """A bar per file being fetched: call as ``progress(name, done_bytes, total_bytes)``."""

    def __init__(self, stream=None, enabled=None):
        self.stream = stream or sys.stderr
        self.enabled = is_terminal(self.stream) if enabled is None else enabled
        self._bars = {}

    def __call__(self, name, done, total):
        if not self.enabled:
            return
        bar = self._bars.get(name)
        if bar is None:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            bar = self._bars[name] = (
                tqdm(total=total, desc=f"fetching {name}", file=self.stream, unit="B", unit_scale=True, leave=False)
                if tqdm
                else False
            )
        if bar:
            bar.update(done - bar.n)
            if total and done >= total:
                bar.close()
        elif total:
            self.stream.write(f"\rfetching {name}: {100 * done // total:3d}%" + ("\n" if done >= total else ""))
            self.stream.flush()
