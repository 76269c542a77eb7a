"""The publisher behind ``glassnet train --watch``: what a training run tells its live page.

Training (``glassnet.training.fit``) runs in one thread; the page's streams and buttons are
served by others.  The training thread never waits for them: it only appends to lists and
swaps in new snapshots (one reference each), which the others read when they like.

    watch.callback(network, record)   fit's per-epoch callback: keep the record, snapshot
                                      the first layer's weights and all the parameters
    watch.on_batch(done, total)       fit's hook within an epoch: progress, a snapshot of
                                      the weights every ``filter_interval`` seconds at most,
                                      and the pause (the training thread waits here)
    watch.stop_event                  fit's ``stop``: set by the stop button (or Ctrl-C)
    watch.closed                      set by the page's Close button once the run is over:
                                      ``glassnet train --watch`` keeps its page up until then
                                      (or Ctrl-C)

``glassnet watch MODEL`` shows a saved model's run on the same page: ``show_saved`` publishes
its history, its weights and one measurement of them, final at once.

A measuring thread takes the latest epoch's copy of the parameters and computes what would
cost the training thread a forward pass over the test set: the accuracy on each class and
the speed of learning of each layer, ``||dC/db^l||`` on a fixed sample (``measures``).  It
works at most ``measure_share`` of the time while a page is open, ``unwatched_share`` while
none is (it shares the GIL and the cores with the training): when epochs come faster than
that, it measures the newest and skips the others -- dropped frames, not a slower run.
The network before training (the measuring thread's first job: a layer network's
forward pass over 10,000 test images takes the better part of a second) and the last
epoch are always measured.

Any network glassnet trains is watched the same way (``models``): the book's ``Network``
(each hidden neuron's incoming weights drawn as an image of the input) and chapter 6's
``LayerNetwork`` (a convolutional first layer's filters as kh x kw images, the mean over
input channels; a dense first layer's rows as images of the input).  A layer network's
speed of learning is measured with dropout masks of its own, drawn once from a separate
Generator (``measures.fixed_masks``): the same masks every epoch, and the network's own
Generator -- which draws the training's masks and order -- is never touched, so a run
with the page ends with the very weights of one without it.

A page's stream keeps a cursor and calls ``updates(cursor)`` a few times a second; it
gets one message with everything new since its last call (``None`` when nothing is):

    meta      once: sizes, architecture (one line), layer names, classes, first_layer ("dense"
              or "conv"), image shape of the weights, dataset, epochs; "keep": the page stays
              after training; "saved": a saved model's run (``show_saved``), "source" its file
    records   fit's history entries (epoch j, 0-based; costs, accuracies, seconds, eta)
    measures  {"epoch": j, "per_class": [n_classes], "gradient_norms": [one per layer]}
              (epoch -1: the network before training)
    filters   the first layer's incoming weights (``measures.encode_filters``) with the
              epoch and the fraction of it done
    progress  {"epoch": j, "done": k, "total": n}: mini-batches (or runs of them) of epoch j
    status    {"state": loading|running|paused|stopping|finished|stopped|interrupted|failed,
               "message": text or null}
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import re
import threading
import time

import numpy as np

from .. import engines
from ..core.dataforms import as_arrays
from ..core.model import state_arrays
from .measures import encode_filters, fixed_masks, gradient_norms, per_class_accuracy, predictions
from .models import (
    architecture,
    as_images,
    first_layer_images,
    first_layer_weights,
    io_sizes,
    is_conv_first,
    layer_names,
)

__all__ = ["Watch", "FINAL_STATES"]

#: the states after which a run changes no more
FINAL_STATES = frozenset({"finished", "stopped", "interrupted", "failed"})
#: what ``Watch.cursor_id`` writes: five integers of at most 15 digits
_CURSOR_ID = re.compile(r"[01](\.[0-9]{1,15}){4}")


def _number(value):
    """A JSON-safe number: finite floats to 6 significant digits, others None."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _copy(network):
    """A copy of the network's state: its parameters (in ``parameters()`` order: w0, b0, w1,
    b1, ...), then any buffers (batch normalisation's running statistics: ``state_arrays``)."""
    return [np.array(a, copy=True) for a in state_arrays(network)]


def _sizes(network):
    """Values per sample at the input and after each layer (``summary()["sizes"]``)."""
    return list(network.summary()["sizes"])


def _clean(record):
    """A history record with only JSON-safe numbers and strings."""
    return {
        k: v if isinstance(v, str) else _number(v)
        for k, v in record.items()
        if isinstance(v, (str, int, float, np.number)) and v is not None
    }


class Watch:
    """What one training run publishes to its page, and the page's pause and stop.

    max_filters : how many first-layer neurons to show at most (the first ones).
    filter_interval : seconds between two snapshots of the weights within an epoch.
    measure_share, unwatched_share : the largest share of the time the measuring thread
        works while a page is open, and while none is (each 0 < share <= 1).  The book's
        784-30-10 takes 50-100 ms an epoch on the compiled kernel and a measurement 10-15 ms:
        one epoch in four or so is measured while a page is open, one in twenty or so
        otherwise; epochs longer than 0.3 s (1.5 s unwatched) are all measured.
    """

    def __init__(self, *, max_filters=100, filter_interval=0.5, measure_share=0.05, unwatched_share=0.01):
        if max_filters < 1 or filter_interval < 0 or not (0 < measure_share <= 1 and 0 < unwatched_share <= 1):
            raise ValueError(
                f"need max_filters >= 1, filter_interval >= 0 and shares in (0, 1], got "
                f"{max_filters}, {filter_interval}, {measure_share} and {unwatched_share}"
            )
        self.max_filters, self.filter_interval = int(max_filters), float(filter_interval)
        self.measure_share, self.unwatched_share = float(measure_share), float(unwatched_share)
        self.stop_event = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._seq = itertools.count(1)  # next() is atomic: versions for every snapshot
        self._meta, self._records, self._measures = None, [], []
        self._filters = self._progress = self._final = self._live = self._error = None
        self._latest = None  # (epoch, copy of the parameters): the newest epoch
        self._wake = threading.Event()
        self._next_measure = 0.0  # the measuring thread rests until then (monotonic)
        self._worker = None
        self._epoch, self._next_snapshot = 0, 0.0
        self._encoded = (None, None)  # (filters version, its message), for the streams
        self._streams_lock = threading.Lock()  # the streams' own: never taken by the training thread
        self.open_streams = 0
        self.measure_seconds = 0.0  # the measuring thread's time at work so far
        self.blocked = False  # the training thread is waiting in a pause
        self.stop_requested = False  # the stop came from the page, not from a signal
        self.closed = threading.Event()  # the page's Close button, once the run is over

    # -- the training thread's side -----------------------------------------------------------
    def attach(self, network, *, test=None, sample=None, image_shape=None, test_name="test", meta=None, history=None):
        """Start watching ``network`` (a Network or a LayerNetwork), before ``fit`` runs.

        test : (X (m, n_in), labels (m,)) for the accuracy on each class (the test set, or the
            validation set); sample : (X (s, n_in), labels (s,)) for the gradient norms (e.g.
            500 training images); image_shape : the shape of the input images ((28, 28) for
            MNIST, (8, 8) for the digits; default: a square when n_in is one) -- a dense
            first layer's weights are drawn in it, a convolutional one's as its kernels;
            meta : more facts for the page's header (dataset, epochs, description);
            history : the records of the epochs before a resumed run (the network's weights
            are still those fit replaces from the checkpoint: nothing is measured before
            the first mini-batch then).
        """
        self._describe(network, test, sample, image_shape, test_name, meta)
        initial = None
        if history:
            self._records.extend(_clean(r) for r in history)
            self._epoch, self._live = history[-1]["epoch"] + 1, network
        else:
            self._snapshot(network, epoch=0, fraction=0.0)
            initial = (-1, _copy(network))  # before training: the measuring thread's first job
        self._worker = threading.Thread(
            target=self._measure_loop, args=(initial,), name="glassnet-watch-measure", daemon=True
        )
        self._worker.start()
        return self

    def _describe(self, network, test, sample, image_shape, test_name, meta):
        """What the page's header and measurements need of ``network`` (see ``attach``)."""
        _, n_classes = io_sizes(network)
        shape, total = first_layer_images(network, image_shape)
        self._shadow = copy.deepcopy(network)  # the measuring thread's own copy (its Generator unused)
        self._n_classes, self._shape = n_classes, shape
        self._test = None if test is None else (np.asarray(test[0], network.dtype), np.asarray(test[1]))
        self._forward = self._choose_forward(self._test)
        self._sample, self._masks = self._gradient_sample(sample)
        self._meta = dict(
            meta or {},
            sizes=_sizes(network),
            architecture=architecture(network),
            layers=layer_names(network),
            classes=n_classes,
            first_layer="conv" if is_conv_first(network) else "dense",
            image_shape=list(shape),
            filters_shown=min(self.max_filters, total),
            filters_total=total,
            test_name=test_name if test is not None else None,
            gradient_sample=0 if sample is None else len(sample[0]),
        )

    def show_saved(
        self,
        network,
        *,
        history=(),
        state="finished",
        message=None,
        test=None,
        sample=None,
        image_shape=None,
        test_name="test",
        meta=None,
    ):
        """Publish a run that is over, from a saved model: ``history`` (its records), the saved
        weights as its first layer's images and one measurement of them (per-class accuracy on
        ``test``, speed of learning on ``sample``) after the last epoch; the status is final
        (``state``, one of FINAL_STATES) at once.  Measures in the calling thread; no
        measuring thread runs.  ``meta`` gets ``"saved": True``."""
        if state not in FINAL_STATES:
            raise ValueError(f"state must be one of {sorted(FINAL_STATES)}, got {state!r}")
        self._describe(network, test, sample, image_shape, test_name, dict(meta or {}, saved=True))
        self._records.extend(_clean(r) for r in history)
        last = int(history[-1]["epoch"]) if history else 0
        self._epoch = last + 1
        self._snapshot(network, last, 1.0)
        if test is not None or sample is not None:
            self._measures.append(self.measure(last, _copy(network)))
        self._final = (state, message)
        return self

    def _gradient_sample(self, sample):
        """``((X, targets), masks)`` for ``gradient_norms``: the targets as the network trains
        on them, and fixed dropout masks (``measures.fixed_masks``; None without dropout)."""
        net = self._shadow
        if sample is None:
            return None, None
        X, T = as_arrays(
            (np.asarray(sample[0]), np.asarray(sample[1])), net.n_in, net.n_out, net.dtype, targets=net.targets
        )
        return (X, T), fixed_masks(net, len(X))

    def callback(self, network, record):
        """fit's callback after each epoch (never asks fit to stop: the stop Event does)."""
        self._records.append(_clean(record))
        self._epoch = record["epoch"] + 1
        self._snapshot(network, record["epoch"], 1.0)
        self._latest = (record["epoch"], _copy(network))
        self._wake.set()
        return False

    def on_batch(self, done, total):
        """fit's hook within an epoch: progress, a snapshot now and then, and the pause."""
        self._progress = (next(self._seq), self._epoch, int(done), int(total))
        if self._meta is not None and time.monotonic() >= self._next_snapshot:
            self._snapshot(None, self._epoch, done / total if total else 0.0)
        if not self._resume.is_set():
            self._wait_while_paused(done, total)

    def _wait_while_paused(self, done, total):
        self._snapshot(None, self._epoch, done / total if total else 0.0)  # the weights as paused
        self.blocked = True
        try:
            # wake up now and then: a stop may come from a signal handler, which sets stop_event only
            while not self._resume.wait(0.1) and not self.stop_event.is_set():
                pass
        finally:
            self.blocked = False

    def finish(self, state, message=None, network=None):
        """The run is over (``state`` one of FINAL_STATES); ``network``: snapshot its final
        weights (e.g. the best epoch's, restored by fit). The first call wins."""
        if state not in FINAL_STATES:
            raise ValueError(f"state must be one of {sorted(FINAL_STATES)}, got {state!r}")
        if self._final is not None:
            return
        if network is not None and self._meta is not None:
            self._snapshot(network, max(self._epoch - 1, 0), 1.0)
        self._final = (state, message)  # the measuring thread ends after the latest epoch
        self._wake.set()

    def _snapshot(self, network, epoch, fraction):
        network = network if network is not None else self._live
        if network is None:
            return
        self._live = network
        W = first_layer_weights(network, self.max_filters)
        self._filters = (next(self._seq), epoch, float(fraction), W)
        self._next_snapshot = time.monotonic() + self.filter_interval

    # -- the measuring thread --------------------------------------------------------------------
    def _choose_forward(self, test):
        """The compiled forward pass on one thread (the training thread has the other core)."""
        net = self._shadow
        return engines.forward_for(net, test[0] if test is not None else np.zeros((0, net.n_in)), threads=1)[1]

    def measure(self, epoch, params):
        """The measurement of one epoch from a copy of the network's state (``_copy``)."""
        net = self._shadow
        for dst, src in zip(state_arrays(net), params):
            dst[...] = src
        entry = {"epoch": int(epoch)}
        if self._test is not None:
            predicted = predictions(net, self._test[0], self._forward)
            entry["per_class"] = per_class_accuracy(predicted, self._test[1], self._n_classes)
        if self._sample is not None:
            norms = gradient_norms(net, *self._sample, masks=self._masks)
            entry["gradient_norms"] = [_number(g) for g in norms]
        return entry

    def _measure_loop(self, initial=None):
        """The measuring thread: ``initial`` first (the network before training), then the
        newest epoch whenever its share of the time allows, until the run is final."""
        if initial is not None:
            self._measure_job(initial)
        taken = None
        while True:
            job, final = self._latest, self._final is not None
            if job is taken:  # nothing new
                if final:
                    return
                self._wake.wait(0.1)
                self._wake.clear()
                continue
            rest = self._next_measure - time.monotonic()
            if rest > 0 and not final:  # within the share of time: rest, then take the newest
                time.sleep(min(rest, 0.1))
                continue
            taken = job
            self._measure_job(job)

    def _measure_job(self, job):
        """Measure one (epoch, parameters), then rest in proportion to the time it took."""
        started = time.monotonic()
        try:
            self._measures.append(self.measure(*job))
        except Exception as e:  # a view that fails must not end the run: the page says so
            self._error = f"measuring epoch {job[0]} failed: {type(e).__name__}: {e}"
        spent = time.monotonic() - started
        self.measure_seconds += spent
        share = self.measure_share if self.open_streams else self.unwatched_share
        self._next_measure = time.monotonic() + spent * (1 / share - 1)

    @property
    def epochs_done(self):
        """How many epochs have been published."""
        return len(self._records)

    @property
    def skipped(self):
        """How many epochs so far were not measured (their frames dropped)."""
        return len(self._records) + 1 - len(self._measures)

    # -- the page's side ----------------------------------------------------------------------------
    def pause(self):
        if self._final is None and not self.stop_event.is_set():
            self._resume.clear()

    def resume(self):
        self._resume.set()

    def request_close(self):
        """The page's Close button: allowed once the run is over (True), when whoever waits on
        ``closed`` (``WatchServer.wait_closed``) may end the server; False while it runs."""
        if self._final is None:
            return False
        self.closed.set()
        return True

    def request_stop(self):
        """Stop as Ctrl-C does: fit abandons the epoch in progress (even while paused)."""
        self.stop_requested = True
        self.stop_event.set()
        self._resume.set()

    def status(self):
        """``{"state", "message"}`` as the page shows it."""
        if self._final is not None:
            return {"state": self._final[0], "message": self._final[1]}
        if self.stop_event.is_set():
            state = "stopping"
        elif self._meta is None:
            state = "loading"
        else:
            state = "running" if self._resume.is_set() else "paused"
        return {"state": state, "message": self._error}

    def updates(self, cursor=None):
        """``(message, cursor)``: what is new since ``cursor`` (None: everything, with
        ``"reset": True``), or ``(None, cursor)`` when nothing is."""
        first = cursor is None
        cursor = dict(
            cursor or {"meta": False, "records": 0, "measures": 0, "filters": 0, "progress": 0, "status": None}
        )
        message = {"reset": True} if first else {}
        if self._meta is not None and not cursor["meta"]:
            message["meta"], cursor["meta"] = self._meta, True
        for key, items in (("records", self._records), ("measures", self._measures)):
            n = len(items)
            if n > cursor[key]:
                message[key], cursor[key] = items[cursor[key] : n], n
        filters, progress, status = self._filters, self._progress, self.status()
        if filters is not None and filters[0] != cursor["filters"]:
            message["filters"], cursor["filters"] = self._encode(filters), filters[0]
        if progress is not None and progress[0] != cursor["progress"]:
            message["progress"] = dict(zip(("epoch", "done", "total"), progress[1:]))
            cursor["progress"] = progress[0]
        if status != cursor["status"]:
            message["status"] = cursor["status"] = status
        return (message or None), cursor

    def _encode(self, filters):
        version, epoch, fraction, W = filters
        cached_version, cached = self._encoded
        if cached_version != version:
            cached = dict(
                encode_filters(as_images(W), self._shape, self._meta["filters_total"]),
                epoch=epoch,
                fraction=round(fraction, 4),
            )
            self._encoded = (version, cached)
        return cached

    @staticmethod
    def cursor_id(cursor):
        """``cursor`` as a Server-Sent Events id, "meta.records.measures.filters.progress"
        (five integers; the status is sent again on a resumed stream)."""
        return ".".join(str(int(cursor[k] or 0)) for k in ("meta", "records", "measures", "filters", "progress"))

    def cursor_from_id(self, text):
        """The cursor an id of ``cursor_id`` names (a page's Last-Event-ID when it comes back),
        or None -- everything again -- when ``text`` is not one this run can have sent."""
        if not isinstance(text, str) or not _CURSOR_ID.fullmatch(text):
            return None
        meta, records, measures, filters, progress = (int(v) for v in text.split("."))
        if records > len(self._records) or measures > len(self._measures) or (meta and self._meta is None):
            return None
        return {
            "meta": bool(meta),
            "records": records,
            "measures": measures,
            "filters": filters,
            "progress": progress,
            "status": None,
        }

    @contextlib.contextmanager
    def stream(self):
        """Count an open page while the block runs (``close`` waits for them to finish)."""
        with self._streams_lock:
            self.open_streams += 1
        try:
            yield self
        finally:
            self.release_stream()

    def reserve_stream(self, limit):
        """Count one more open page if fewer than ``limit`` are open (check and count at
        once: many pages asking together never get more than ``limit``); say whether it did.
        ``release_stream`` gives the place back."""
        with self._streams_lock:
            if self.open_streams >= limit:
                return False
            self.open_streams += 1
            return True

    def release_stream(self):
        with self._streams_lock:
            self.open_streams -= 1

    def close(self, timeout=2.0):
        """End the run's publishing: the status becomes final ("failed" unless ``finish``
        said otherwise), the measuring thread drains, and the open pages get their last
        message -- waiting ``timeout`` seconds at most for each."""
        self.finish("failed", "the training process ended")
        deadline = time.monotonic() + timeout
        if self._worker is not None:
            self._worker.join(timeout)
        while self.open_streams and time.monotonic() < deadline:
            time.sleep(0.02)
