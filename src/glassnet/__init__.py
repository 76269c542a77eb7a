"""glassnet: a neural network you can see through.

Nielsen's network -- sigmoid neurons, quadratic cost, backpropagation, mini-batch SGD --
computed a whole mini-batch at a time in NumPy (``glassnet.core``), with an optional
compiled engine (``glassnet.engines``) chosen once per run.

The front door, for every kind of network glassnet has (the book's ``Network``, chapter 6's
layer networks, ensembles, ``network2``'s and ``network3``'s networks, the fitted
``glassnet.sklearn.GlassnetClassifier``):

    glassnet.save(model, "model.npz")     one file format for all of them (``glassnet.io``)
    glassnet.load("model.npz")            gives back what was saved; also reads checkpoints
                                          and the book's network2 JSON files
    glassnet.fit(network, (X, y), epochs=5, eta=0.1)   glassnet's training loop on any network
    glassnet.layer_network("conv20x5:relu,pool2,fc100:relu")   a chapter-6 network, as
                                          ``glassnet train --layers`` writes it
"""

from . import engines, io
from .book import universality  # glassnet.universality: chapter 4's construction as a Network
from .book.trace import trace  # glassnet.book.trace(network, x, y, eta): one step of backprop as data
from .core.functions import sigmoid, sigmoid_prime
from .core.gradcheck import gradient_check
from .core.network import Network
from .errors import GlassnetError, LabelError, ModelFormatError
from .io import save
from .labels import one_hot
from .version import __version__
from .views.html import show_in_notebooks

show_in_notebooks()  # every model's _repr_html_ (layers, parameters, its first layer's weights): views/html.py

__all__ = [
    "io",
    "engines",
    "Network",
    "sigmoid",
    "sigmoid_prime",
    "gradient_check",
    "one_hot",
    "LabelError",
    "GlassnetError",
    "trace",
    "universality",
    "save",
    "load",
    "fit",
    "layer_network",
    "__version__",
]

#: the faces ``load`` gives back as themselves, by the class a file's header["face"] names
#: (a fixed list: nothing in a file chooses what is imported beyond these)
FACES = ("glassnet.network2.Network", "glassnet.network3.Network", "glassnet.sklearn.GlassnetClassifier")


def load(path, *, with_header=False):
    """What ``save`` wrote to ``path``, as it was saved (and the file's header, a dict).

    Reads any glassnet model file: a ``Network``, a ``LayerNetwork``, an ``Ensemble``, a
    ``network2.Network``, a ``network3.Network`` or a fitted ``GlassnetClassifier`` (it
    predicts as the saved one did); a checkpoint (the network as training left it,
    ``header["state"]["epoch"]`` epochs in); and the book's network2 JSON files (a
    ``network2.Network``).  ModelFormatError (one line) for anything else.
    """
    model, header = io.load(path, with_header=True)
    face = header.get("face")
    name = face.get("class") if isinstance(face, dict) else None
    if name in FACES:
        import importlib

        module, _, attribute = name.rpartition(".")
        cls = getattr(importlib.import_module(module), attribute)
        try:
            model = cls._from_file(model, header)
        except (TypeError, ValueError, KeyError) as e:
            raise ModelFormatError(f"{path}: not a sound {name} file ({e})") from None
    return (model, header) if with_header else model


def fit(
    network,
    training,
    *,
    validation=None,
    test=None,
    callbacks=(),
    on_batch=None,
    checkpoint=None,
    resume=False,
    engine=None,
    **options,
):
    """Train ``network`` in place with glassnet's training loop; returns its ``FitResult``
    (``history``: a dict per epoch; ``stopped``; ``best_epoch``).

    network : a ``Network``, a layer network (``layer_network``, ``network3.Network``) or a
        ``network2.Network`` (its core network is trained: the same arrays).
    training, validation, test : ``(X, y)`` pairs -- X (n, n_in), or images (n, c, h, w); y int
        labels (n,) -- or data sets with ``.X`` and ``.y``, or the book's lists of ``(x, y)`` pairs.
        With ``validation`` each epoch is measured on it, and the best epoch's weights are kept;
        with ``test`` each epoch's record has the test accuracy.
    options : ``glassnet.training.TrainingConfig``'s fields -- epochs (30), mini_batch_size (10),
        eta (3.0), l2 (0), momentum (0), optimizer ("sgd", "adam"), schedule ("constant", "halve",
        "cosine", "one-cycle": a rate per mini-batch), early_stop, ... -- defaults the book's
        chapter 1, whose eta 3.0 suits its sigmoid networks: give a layer network of ReLUs a
        smaller one (0.03 to 0.1).
    callbacks, on_batch, checkpoint, resume, engine : as ``glassnet.training.fit`` takes them.
    """
    import dataclasses

    from .core.dataforms import as_arrays
    from .training import TrainingConfig
    from .training import fit as train

    model = getattr(network, "core", network)  # network2's network trains through its core
    if not all(callable(getattr(model, name, None)) for name in ("parameters", "gradients", "step")):
        raise TypeError(f"glassnet.fit trains a Network or a layer network, got {type(network).__name__}")
    known = [f.name for f in dataclasses.fields(TrainingConfig)]
    unknown = sorted(set(options) - set(known) - {"lmbda"})
    if unknown:
        raise TypeError(f"fit() got an unexpected option {unknown[0]!r}; the options are {', '.join(known)}")

    def arrays(data, targets):  # the book's lists of pairs -> arrays
        if data is None or hasattr(data, "X") or (isinstance(data, tuple) and len(data) == 2):
            return data
        return as_arrays(data, model.n_in, model.n_out, model.dtype, targets=targets)

    return train(
        model,
        arrays(training, model.targets),
        TrainingConfig(**options),
        validation=arrays(validation, "labels"),
        test=arrays(test, "labels"),
        callbacks=callbacks,
        on_batch=on_batch,
        checkpoint=checkpoint,
        resume=resume,
        engine=engine,
    )


def layer_network(layers, input_shape=(1, 28, 28), n_out=10, *, activation="relu", seed=None, dtype="float32"):
    """A new chapter-6 ``LayerNetwork`` written as ``glassnet train --layers`` takes it, e.g.
    ``"conv20x5:relu,pool2,fc100:relu"`` (the softmax output of ``n_out`` is added), on inputs
    of ``input_shape`` (MNIST's (1, 28, 28) images by default; (784,) rows for fully connected
    layers only); ``activation`` for layers that name none (ReLU, as ``glassnet train --layers``
    and the estimator's ``layers`` build them; network3's sigmoid when asked); drawn from ``seed``."""
    from .training.layerspec import layer_network as build

    return build(layers, input_shape, n_out, activation=activation, seed=seed, dtype=dtype)
