"""The live page inside a notebook: a network's learning curves, its first layer's weights, the
accuracy on each digit and each layer's speed of learning, drawn below the cell that trains it
and updating while it learns -- in JupyterLab, VS Code's notebooks and any front end that runs
Jupyter widgets, with no server for anyone to start.

    from glassnet.web.widget import live

    with live(net):                                          # the book's run, as printed
        net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

    with live(net, test=(X_test, y_test), epochs=10):       # glassnet's training loop
        glassnet.fit(net, (X, y), epochs=10, eta=0.1)

    with live(dataset="digits"):                             # the estimator: the network its fit makes
        GlassnetClassifier(random_state=0).fit(X, y)

It is an anywidget (``pip install "glassnet[notebook]"``): the state lives in Python traitlets
(``TrainingView``: ``meta``, ``records``, ``measures``, ``filters``, ``progress``, ``status``) and
the view is one small ES module shipped with the package (``static/widget.js``, with
``static/widget.css``), loaded by the notebook's widget manager: no CDN, no build step.

What it shows is what ``glassnet train --watch`` shows, computed by the same ``Watch``
(``web.watch``): its measuring thread takes copies of the parameters and measures the accuracy
on each class and ``||dC/db^l||``; ``watch.updates(cursor)`` gives what is new, and the view
adds it to the traitlets -- the very messages the live page's stream would carry, so that the
traitlets hold at the end what the page would have received.  Updates go out from the training
thread at most every ``interval`` seconds (and at the end): setting a traitlet sends one comm
message, which the notebook delivers while the cell still runs.  The front end has no buttons:
a cell that runs takes no messages from its page; the notebook's interrupt (Ctrl-C, the stop
button) stops the training, and the view says "interrupted".

How it hooks into each way of training: inside ``with live(...)`` the view offers itself first
to the core's registry of engines (``core.model.ENGINE_CHOOSERS``, which ``engine="auto"``
asks), and for the network it watches it hands out the engine that would have been chosen,
wrapped (``WatchedEngine``): the same steps, the same name, the same weights (a run with the
view ends with the very weights of one without it), plus a report after every mini-batch (or
run of them) and a record after every epoch.  Every way of training asks that registry:
``Network.SGD`` (its ``engine="auto"``), ``glassnet.fit`` and ``glassnet.training.fit``
(``engine=None``), network2's and network3's ``SGD`` (through ``fit``) and
``GlassnetClassifier.fit`` (through ``fit``).  So the book's ``net.SGD`` keeps its signature
and its transcript.  An explicit ``engine="numpy"`` or engine object passes by the registry,
and so by the view; so do ensemble members trained in other processes.

The record of each epoch (the curves) is measured by the view, by the function fit's records
come from (``training.epoch_record``): on ``test`` when given, else on the first ``monitor``
examples it is trained on ("training" curves); its ``seconds`` are the epoch's steps.  That is
one forward pass more per epoch than the run makes on its own.  Outside a ``with`` block,
fit's own records can feed the view instead, through fit's hooks:

    view = live(net, test=(X_test, y_test), epochs=10)
    display(view)
    glassnet.fit(net, (X, y), test=(X_test, y_test), epochs=10, callbacks=[view.callback],
                 on_batch=view.on_batch)
    view.finish()
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..core.dataforms import as_arrays
from ..core.model import ENGINE_CHOOSERS, NumpyEngine
from ..training.loop import epoch_record
from .watch import Watch

__all__ = ["live", "LiveView", "WatchedEngine", "widget_class", "apply_update", "INSTALL", "STATIC"]

INSTALL = 'pip install "glassnet[notebook]"'
STATIC = Path(__file__).resolve().parent / "static"
#: the traitlets of the widget: the keys of ``Watch.updates``' messages
KEYS = ("meta", "records", "measures", "filters", "progress", "status")

_WIDGET_CLASS = None


def widget_class():
    """The anywidget class ``TrainingView`` (made on first use: anywidget is an extra).
    ImportError naming ``pip install "glassnet[notebook]"`` without it."""
    global _WIDGET_CLASS
    if _WIDGET_CLASS is None:
        try:
            import anywidget
            import traitlets
        except ImportError as e:
            raise ImportError(f"the live view in a notebook needs anywidget ({e}): {INSTALL}") from None

        class TrainingView(anywidget.AnyWidget):
            """A training run as the live page shows it; each traitlet holds what the page's
            stream carried so far under its key (``Watch.updates``): ``meta`` (dict or None),
            ``records`` and ``measures`` (lists, in order), ``filters``, ``progress`` and
            ``status`` (the latest, dicts or None)."""

            _esm = STATIC / "widget.js"
            _css = STATIC / "widget.css"
            meta = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True)
            records = traitlets.List().tag(sync=True)
            measures = traitlets.List().tag(sync=True)
            filters = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True)
            progress = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True)
            status = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True)

        TrainingView.__qualname__ = "TrainingView"
        _WIDGET_CLASS = TrainingView
    return _WIDGET_CLASS


def __getattr__(name):  # glassnet.web.widget.TrainingView, made when first asked for
    if name == "TrainingView":
        return widget_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def apply_update(widget, message):
    """Add one ``Watch.updates`` message to ``widget``'s traitlets (one comm message): records
    and measures appended, the rest replaced; ``reset`` empties the lists first."""
    if not message:
        return
    with widget.hold_sync():
        if message.get("reset"):
            widget.records, widget.measures = [], []
        for key in KEYS:
            if key not in message:
                continue
            value = message[key]
            setattr(widget, key, list(getattr(widget, key)) + list(value) if key in ("records", "measures") else value)


def live(network=None, **options):
    """A ``LiveView`` of ``network`` (see ``LiveView``): ``with live(net): net.SGD(...)``."""
    return LiveView(network, **options)


def _network_of(obj):
    """The network to watch: a network itself, network2's through its ``core``; None (the first
    network trained in the block) for None or an estimator, whose fit makes its network."""
    if obj is None or callable(getattr(obj, "parameters", None)):
        return obj
    core = getattr(obj, "core", None)
    if callable(getattr(core, "parameters", None)):
        return core
    if callable(getattr(obj, "fit", None)):
        return None
    raise TypeError(f"live() watches a network or an estimator, got {type(obj).__name__}")


class LiveView:
    """A training run shown in a notebook while it runs (the module says how).

    network : the network to watch (a ``Network``, a layer network, network2's or network3's);
        None or an estimator: the first network trained inside the ``with`` block.
    test : (X (m, n_in), labels (m,)) (or the book's list of pairs, or a data set with .X, .y):
        the curves and the accuracy on each class are measured on it; default: the first
        ``monitor`` examples the network is trained on.
    test_name : what to call it on the page (default "test", or "training").
    sample : (X (s, n_in), labels (s,)) for the speed of learning; default the first 500
        training examples.
    image_shape : the input images' shape (default: a square when n_in is one).
    epochs, dataset : for the page's header ("3 of 30 epochs"; "digit" or "class").
    interval : seconds between two updates of the widget at most.
    display : show the widget when the ``with`` block starts (in an IPython kernel).

    ``widget`` is the ``TrainingView``; ``watch`` the ``Watch`` behind it.
    """

    def __init__(
        self,
        network=None,
        *,
        test=None,
        test_name=None,
        sample=None,
        image_shape=None,
        epochs=None,
        dataset=None,
        monitor=10000,
        interval=0.25,
        display=True,
    ):
        self.widget = widget_class()()
        self.watch = Watch()
        self.network = _network_of(network)
        self.test, self.sample, self.image_shape = test, sample, image_shape
        self.test_name = test_name or ("test" if test is not None else "training")
        self.meta = {"epochs": epochs, "dataset": dataset}
        self.monitor, self.interval, self.display = int(monitor), float(interval), bool(display)
        if self.monitor < 1 or not self.interval >= 0:
            raise ValueError(f"need monitor >= 1 and interval >= 0, got {monitor} and {interval}")
        self.attached = None  # the network being watched, once training started
        self._measured_on = {}  # epoch_record's data sets for the view's own records
        self._cursor, self._next_push, self._chooser, self._stream = None, 0.0, None, None
        self._finished = False
        self.push(force=True)

    def _repr_mimebundle_(self, **kwargs):  # display(view) shows the widget
        return self.widget._repr_mimebundle_(**kwargs)

    # -- the run's side ------------------------------------------------------------------------
    def attach(self, network, X=None, T=None):
        """Start watching ``network`` (once; later calls do nothing): with the training data
        (X (n, n_in) or images, T one-hot (n, n_out) or labels (n,)) when the engine hands it
        over, for the defaults of ``test`` and ``sample``."""
        if self.attached is not None:
            return
        labels = None if T is None else (np.asarray(T) if np.ndim(T) == 1 else np.argmax(T, axis=1))
        seen = None if X is None else (X[: self.monitor], labels[: self.monitor])
        test = self.test
        if test is not None:
            test = (test.X, test.y) if hasattr(test, "X") else test
            test = as_arrays(test, network.n_in, network.n_out, network.dtype, targets="labels")
        sample = self.sample if self.sample is not None else (None if X is None else (X[:500], labels[:500]))
        self._measured_on = {"test": test} if test is not None else {"training": seen}
        self.watch.attach(
            network,
            test=test if test is not None else seen,
            sample=sample,
            image_shape=self.image_shape,
            test_name=self.test_name,
            meta=self.meta,
        )
        self.attached = network

    def callback(self, network, record):
        """fit's per-epoch callback (outside a ``with`` block: inside, the view's engine
        already records each epoch and this does nothing).  Never asks fit to stop."""
        if self._chooser is None:
            self.attach(network)
            self.watch.callback(network, record)
            self.push()
        return False

    def on_batch(self, done, total):
        """fit's hook within an epoch (outside a ``with`` block, as ``callback``)."""
        if self._chooser is None:
            if self.network is not None:
                self.attach(self.network)
            self.watch.on_batch(done, total)
            self.push()

    def epoch_done(self, network, seconds, eta, engine):
        """The view's own record of the epoch just stepped (``WatchedEngine``): measured on
        ``test`` (else on the training examples seen), as fit measures its records."""
        record = epoch_record(network, self.watch.epochs_done, seconds, **self._measured_on)
        record.update(eta=float(eta), engine=engine)
        self.watch.callback(network, record)
        self.push()

    def finish(self, state="finished", message=None):
        """The run is over (``state``: finished, stopped, interrupted or failed): the last
        measurement is waited for and the widget gets everything.  The first call counts."""
        if self._finished:
            return
        self._finished = True
        if self.attached is None and message is None:
            message = (
                "nothing was trained through this view: train inside the with block, with the "
                "engine 'auto' (the default)"
            )
        self.watch.finish(state, message, network=self.attached)
        self.watch.close(timeout=60)
        self.push(force=True)

    def push(self, force=False):
        """Send the widget what is new, unless the last update went out less than ``interval``
        seconds ago (``force``: now)."""
        now = time.monotonic()
        if not force and now < self._next_push:
            return
        self._next_push = now + self.interval
        message, self._cursor = self.watch.updates(self._cursor)
        apply_update(self.widget, message)

    # -- the with block: the engine hook ---------------------------------------------------------
    def __enter__(self):
        if self._finished or self._chooser is not None:
            raise RuntimeError("a LiveView shows one run: make a new one with live(...)")
        if self.display:
            _show(self.widget)
        self._stream = self.watch.stream()  # the page is open: the measuring thread's share
        self._stream.__enter__()
        self._chooser = self.offer
        ENGINE_CHOOSERS.insert(0, self._chooser)
        return self

    def __exit__(self, kind, error, traceback):
        if self._chooser in ENGINE_CHOOSERS:
            ENGINE_CHOOSERS.remove(self._chooser)
        self._stream.__exit__(None, None, None)
        if kind is None:
            self.finish("finished")
        elif issubclass(kind, KeyboardInterrupt):
            self.finish("interrupted", "interrupted (the kernel was interrupted)")
        else:
            self.finish("failed", f"{kind.__name__}: {error}")
        return False

    def offer(self, network, mini_batch_size, optimizer=None):
        """The engine chooser of the ``with`` block: for the watched network, the engine the
        other choosers would pick (else NumPy's), wrapped; None for any other network."""
        watched = self.attached if self.attached is not None else self.network
        if watched is not None and network is not watched:
            return None
        inner = None
        for chooser in ENGINE_CHOOSERS:
            if chooser is not self._chooser:
                inner = chooser(network, mini_batch_size, optimizer)
                if inner is not None:
                    break
        return WatchedEngine(inner if inner is not None else NumpyEngine(), self)


class WatchedEngine:
    """An engine (``core.model.NumpyEngine``'s protocol) that takes ``inner``'s steps and tells
    ``view``: the training data before the first epoch, each mini-batch (or run of them)
    after the caller's own ``on_batch``, and each epoch's end.  Its ``name`` is inner's."""

    def __init__(self, inner, view):
        self.inner, self.view, self.name = inner, view, inner.name

    def prepare(self, X):
        return WatchedEngine(self.inner.prepare(X), self.view)

    def epoch(self, network, X, T, order, mini_batch_size, eta, optimizer=None, on_batch=None):
        view = self.view
        view.attach(network, X, T)
        if network is not view.attached:  # another network, wrapped before the first one trained
            return self.inner.epoch(network, X, T, order, mini_batch_size, eta, optimizer, on_batch)

        def report(done, total):
            if on_batch is not None:
                on_batch(done, total)  # fit's: it may stop the epoch here
            view.watch.on_batch(done, total)
            view.push()

        started = time.perf_counter()
        self.inner.epoch(network, X, T, order, mini_batch_size, eta, optimizer, report)
        view.epoch_done(network, time.perf_counter() - started, eta, self.inner.name)

    def __repr__(self):
        return f"WatchedEngine({self.inner!r})"


def _show(widget):
    """Display ``widget`` below the running cell, when an IPython kernel (or shell) runs."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display(widget)
