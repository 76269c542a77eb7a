"""One path from options to a training run: ``plan_run(dataset, preset, overrides, seed)``.

A run's options are merged in one order: the data set's defaults (``DEFAULTS``), then what
its kind of network needs to learn (``FITTING``: eta, L2, epochs, initial weights, chosen on
validation data for each of ``KINDS``), then a documented recipe (``PRESETS``), then the
caller's overrides (``glassnet train``'s flags, a Python caller's keywords).  ``plan_run``
checks them against the data set (``glassnet.datasets.dataset_info``), loads the data and
returns a ``RunPlan``: the network,
its ``TrainingConfig``, the data, the augmenter, a picklable ``build(seed)`` for more networks
like it (an ensemble's members), the run's metadata and its one-line description.
``glassnet train``, ``train_preset``, the chapter-1 table, sweeps and the estimator all build
their networks here (``network_from_options``).

The options (``OPTION_KEYS``):
    sizes          neurons per layer, input first (the book's ``Network``), or
    layers         a chapter-6 layer network in ``layerspec``'s notation (``LayerNetwork``)
    cost, activation, init     of a ``Network`` (activation: also a layer network's default)
    epochs, mini_batch_size (None: all the training images), eta, l2, momentum, optimizer,
    schedule, patience, max_halvings, early_stop, monitor_training    the ``TrainingConfig``
    augment        True, a share of the images, or ``Augmenter``'s arguments (a dict)
    train_on_validation        train on the training and validation images together
    log_every      how often ``glassnet train`` prints an epoch's line

Library code: nothing here prints.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ..core.network import Network
from ..errors import InputError, plural
from .loop import TrainingConfig, check_batches, fit

__all__ = [
    "DEFAULTS",
    "KINDS",
    "FITTING",
    "Preset",
    "PRESETS",
    "OPTION_KEYS",
    "resolve_dataset",
    "run_options",
    "network_kind",
    "fitting_defaults",
    "network_from_options",
    "config_from_options",
    "augmenter_from_options",
    "check_sizes",
    "joined",
    "RunPlan",
    "plan_run",
    "train_preset",
]

#: every option a run takes (see the module docstring)
OPTION_KEYS = (
    "sizes",
    "layers",
    "epochs",
    "mini_batch_size",
    "eta",
    "log_every",
    "cost",
    "activation",
    "init",
    "l2",
    "momentum",
    "optimizer",
    "schedule",
    "patience",
    "max_halvings",
    "early_stop",
    "augment",
    "train_on_validation",
    "monitor_training",
)

#: per-dataset defaults: the book's run for MNIST (and Fashion-MNIST); the book's network with
#: mini-batches of 10 for scikit-learn's 8x8 digits (the tutorial's full-batch run is the
#: ``tutorial`` preset).  Eta, L2 and epochs beside them depend on the kind of network: ``FITTING``.
DEFAULTS = {
    "mnist": dict(sizes=[784, 30, 10], epochs=30, mini_batch_size=10, eta=3.0, log_every=1),
    "digits": dict(sizes=[64, 30, 10], epochs=30, mini_batch_size=10, eta=1.0, log_every=1),
    "fashion": dict(sizes=[784, 30, 10], epochs=30, mini_batch_size=10, eta=3.0, log_every=1),
}

#: the kinds of network a run may train (``network_kind``), as a few words each: the book's
#: network has sigmoid neurons and the quadratic cost; a chapter-3 cost is cross-entropy or
#: log-likelihood (a softmax output layer)
KINDS = {
    "book": "the book's network",
    "sigmoid": "a sigmoid network with a chapter-3 cost",
    "tanh": "a tanh network",
    "relu": "a ReLU network",
    "layers-relu": "a --layers network, ReLU layers",
    "layers-sigmoid": "a --layers network, sigmoid layers",
    "layers-tanh": "a --layers network, tanh layers",
}

# What each kind of network gets where neither a preset nor the caller says: eta, L2 (the
# book's lambda), epochs, and the initial weights of a Network (tanh: N(0, 1/n_in), ReLU: He's
# N(0, 2/n_in)) or the layers' activation (ReLU unless the layers or --activation say).
# Chosen on validation data only, never the test set, with seeds 0 and 1:
#   MNIST: the final epoch's accuracy on the 10,000 validation images after 30 epochs on the
#     50,000 training images, 784-30-10, mini-batches of 10; eta 0.03 .. 3 by factors of about
#     3, L2 0 or 5; each kind over its costs (sigmoid: cross-entropy and log-likelihood; tanh
#     and ReLU: quadratic and log-likelihood).  --layers: the README's two-conv network
#     (conv20x5,pool2,conv40x5,pool2,fc100), one epoch, eta 0.01 .. 0.3 (ReLU seed 0 with L2 0;
#     L2 0.1 is 0.1 / 5,000 mini-batches a step, nothing in one epoch); its epochs from
#     the validation curve of chapter 6's row 4 (the same network, ReLU, eta 0.03, L2 0.1:
#     98.48% after 10 epochs, 99.07% after 60; docs/chapter6-curves-rows1-4.json; seed 1 here,
#     with glassnet train's shuffling: 97.62% after 1 epoch, 98.75% after 10), sigmoid
#     layers from row 3's (eta 0.1: 10.3% after epoch 0, 95.4% after 1, 98.5% after 10).
#   digits: a fifth of the 60% training part held out (seed s splits it with default_rng(1000
#     + s)), 30 epochs of mini-batches of 10, 64-30-10 over the three costs (layers: fc30 and
#     conv10x3,pool2,fc30); eta 0.01 .. 3, L2 0 or 1 (layers 0 or 0.1).
# The best mean; where the eta a step up diverged (or fell to chance) on a seed and the step
# down is within 0.5 points, the step down (a margin for other sizes).  Means over seeds and
# costs in the comments.
_MNIST_FITTING = {
    "book": dict(eta=3.0, l2=0.0, epochs=30),  # 95.03% (the book's; L2 5: 94.62)
    "sigmoid": dict(eta=0.1, l2=5.0, epochs=30),  # 96.39% (0.3: 96.35; L2 0: 95.27 at best)
    "tanh": dict(eta=0.1, l2=5.0, epochs=30, init="scaled"),  # 96.14% (0.03: 96.05, 0.3: 95.78)
    "relu": dict(eta=0.1, l2=5.0, epochs=30, init="he"),  # 96.34% (0.03: 96.17, 0.3: 95.17)
    "layers-relu": dict(eta=0.03, l2=0.1, epochs=10),  # 97.00% after 1 epoch (0.01: 95.93, 0.1: 96.62)
    "layers-sigmoid": dict(eta=0.1, l2=0.0, epochs=10),  # the book's chapter 6 (row 3)
    "layers-tanh": dict(eta=0.03, l2=0.1, epochs=10),  # 97.17% after 1 epoch (0.1: 97.30, 0.3 at chance)
}
FITTING = {
    "mnist": _MNIST_FITTING,
    "fashion": _MNIST_FITTING,  # 28x28 like MNIST: not tuned apart
    "digits": {
        "book": dict(eta=1.0, l2=1.0, epochs=30),  # 96.99% (L2 0: 91.20 at best; the tutorial's run
        # is the "tutorial" preset)
        "sigmoid": dict(eta=1.0, l2=1.0, epochs=30),  # 97.22% (cross-entropy 97.46, log-likelihood 96.99)
        "tanh": dict(eta=0.3, l2=1.0, epochs=30, init="scaled"),  # 98.15% (1.0: 96.07, 0.1: 97.45)
        "relu": dict(eta=0.1, l2=1.0, epochs=30, init="he"),  # 97.69% (0.3: 97.84, but 1.0 diverged)
        "layers-relu": dict(eta=0.3, l2=0.1, epochs=30),  # 98.84% (conv 99.30, fc 98.38; 0.1: 97.57)
        "layers-sigmoid": dict(eta=1.0, l2=0.0, epochs=30),  # 98.03% (conv 97.92, fc 98.14)
        "layers-tanh": dict(eta=0.3, l2=0.1, epochs=30),  # 98.61% (conv 98.84, fc 98.38)
    },
}


@dataclass(frozen=True)
class Preset:
    """A documented recipe: its options and the line that describes it (``glassnet train --help``);
    ``dataset``: the one data set it is for (None: any MNIST-shaped one)."""

    description: str
    options: dict
    dataset: str | None = None


#: documented recipes for ``glassnet train --preset NAME`` and ``train_preset(NAME)``
PRESETS = {
    # chapter 3 of the book
    "chapter3": Preset(
        "784-100-10 sigmoid, cross-entropy, scaled init, L2 5.0, eta 0.1 halved on plateaus",
        dict(
            sizes=[784, 100, 10],
            cost="cross-entropy",
            init="scaled",
            l2=5.0,
            eta=0.1,
            epochs=60,
            mini_batch_size=10,
            schedule="halve",
            patience=10,
            max_halvings=7,
        ),
    ),
    # MLPs with ReLU, softmax and momentum on all 60,000 training images, freshly distorted
    # every epoch (rotation, zoom, shift, elastic)
    "fast": Preset(
        "784-800-10 ReLU/softmax, He init, momentum 0.9, eta 0.1 cosine decay, batch 128, 50 epochs on "
        "60,000 images, half distorted each epoch",
        dict(
            sizes=[784, 800, 10],
            activation="relu",
            cost="log-likelihood",
            init="he",
            momentum=0.9,
            eta=0.1,
            l2=0.0,
            schedule="cosine",
            mini_batch_size=128,
            epochs=50,
            augment=0.5,
            monitor_training=10000,
            train_on_validation=True,
        ),
    ),
    "best": Preset(
        "784-800-800-10, otherwise as fast but 110 epochs with every image distorted",
        dict(
            sizes=[784, 800, 800, 10],
            activation="relu",
            cost="log-likelihood",
            init="he",
            momentum=0.9,
            eta=0.1,
            l2=0.0,
            schedule="cosine",
            mini_batch_size=128,
            epochs=110,
            augment=1.0,
            monitor_training=10000,
            train_on_validation=True,
        ),
    ),
    # past the book: batch normalisation, Adam and a one-cycle rate (core.modern). Chosen on the
    # 10,000 validation images after training on the other 50,000, seeds 0 and 1 (the final
    # epoch's accuracy; the documented figures are on the test set with seeds 2, 3 and 4):
    #   sprint: 16/32 5x5 + fc64, one epoch, batch 128, Adam eta 0.01 -- 99.03% and 98.93%
    #     (eta 0.003: 98.85 mean, 0.005: 98.89, 0.02: 98.92; batch 64: 98.955; 3x3 padded convs:
    #     98.85, 24/48 channels: 99.03 but 1.6x the time; momentum 0.9, eta 0.05: 98.42)
    #   minute: 24/48 5x5 + fc128, six epochs, every image rotated, zoomed and shifted afresh
    #     each epoch -- 99.53% and 99.47% (without distortions: 99.44% on seed 0; 32/64
    #     channels, four epochs: 99.38%)
    #   record: two 3x3 convs before each max-pool (32, 32; 64, 64) + fc256, dropout 0.4 into
    #     the softmax, 20 epochs, distortions a little stronger (rotate 10, zoom 0.1) -- 99.64%
    #     and 99.64%.  Its steps: minute's network for 20 epochs: 99.57 and 99.49 on seeds 0
    #     and 1 (with the dropout and the stronger distortions: 99.55 on seed 0); 32/64 5x5 +
    #     fc256 with both: 99.61% on seed 0 (without the dropout and with minute's distortions:
    #     99.56), for 40 epochs 99.60 and 99.57 -- the record preset of 2026-12-06, 99.63% on
    #     the test set with seeds 2-4 in 4.1 min; 48/96 5x5 for 30 epochs was not finished
    "sprint": Preset(
        "two batch-normalised ReLU convs (16, 32 5x5, max-pool 2) + FC 64, Adam eta 0.01 one-cycle, batch 128, "
        "1 epoch on 60,000 images",
        dict(
            layers="conv16x5,bn,relu,maxpool2,conv32x5,bn,relu,maxpool2,fc64,bn,relu",
            optimizer="adam",
            eta=0.01,
            l2=0.0,
            schedule="one-cycle",
            mini_batch_size=128,
            epochs=1,
            train_on_validation=True,
        ),
    ),
    "minute": Preset(
        "two batch-normalised ReLU convs (24, 48 5x5, max-pool 2) + FC 128, Adam eta 0.01 one-cycle, batch 128, "
        "6 epochs on 60,000 images, each rotated, zoomed and shifted afresh every epoch",
        dict(
            layers="conv24x5,bn,relu,maxpool2,conv48x5,bn,relu,maxpool2,fc128,bn,relu",
            optimizer="adam",
            eta=0.01,
            l2=0.0,
            schedule="one-cycle",
            mini_batch_size=128,
            epochs=6,
            train_on_validation=True,
            augment=dict(rotate=8.0, zoom=0.08, shift=2.0, elastic_alpha=0.0),
        ),
    ),
    "record": Preset(
        "four batch-normalised ReLU 3x3 convs (32, 32, max-pool 2, 64, 64, max-pool 2) + FC 256, dropout 0.4 into "
        "the softmax, Adam eta 0.01 one-cycle, batch 128, 20 epochs on 60,000 images, each rotated, zoomed and "
        "shifted afresh every epoch",
        dict(
            layers="conv32x3,bn,relu,conv32x3,bn,relu,maxpool2,conv64x3,bn,relu,conv64x3,bn,relu,maxpool2,"
            "fc256,bn,relu,softmax10:d0.4",
            optimizer="adam",
            eta=0.01,
            l2=0.0,
            schedule="one-cycle",
            mini_batch_size=128,
            epochs=20,
            train_on_validation=True,
            augment=dict(rotate=10.0, zoom=0.1, shift=2.0, elastic_alpha=0.0),
        ),
    ),
    # chapter 6's layers with glassnet's recipe: conv-fast for a quick 99% (five epochs);
    # conv-best for 99.5% in 3 minutes (no elastic distortion)
    "conv-fast": Preset(
        "two ReLU conv-pools (20, 40 5x5) + FC 100, momentum 0.9, eta 0.05 cosine, batch 64, 5 epochs on 60,000 images",
        dict(
            layers="conv20x5:relu,pool2,conv40x5:relu,pool2,fc100:relu",
            momentum=0.9,
            eta=0.05,
            l2=0.0,
            schedule="cosine",
            mini_batch_size=64,
            epochs=5,
            train_on_validation=True,
        ),
    ),
    "conv-best": Preset(
        "two ReLU conv-pools (32, 64 5x5), dropout 0.5 into FC 256, L2 0.5, momentum 0.9, eta 0.05 "
        "cosine, batch 64, 20 epochs on 60,000 images, each rotated, zoomed and shifted afresh every epoch",
        dict(
            layers="conv32x5:relu,pool2,conv64x5:relu,pool2,fc256:relu:d0.5",
            momentum=0.9,
            eta=0.05,
            l2=0.5,
            schedule="cosine",
            mini_batch_size=64,
            epochs=20,
            train_on_validation=True,
            augment=dict(rotate=8.0, zoom=0.08, shift=2.0, elastic_alpha=0.0),
        ),
    ),
    # the tutorial's run on the digits, as glassnet reproduce's digits row trains it
    "tutorial": Preset(
        "the digits tutorial's run: 64-30-10 sigmoid, quadratic cost, full-batch gradient descent, 3000 "
        "epochs, eta 0.25 (glassnet reproduce's digits row)",
        dict(
            sizes=[64, 30, 10],
            cost="quadratic",
            activation="sigmoid",
            init="standard",
            eta=0.25,
            l2=0.0,
            epochs=3000,
            mini_batch_size=None,
            log_every=100,
        ),
        dataset="digits",
    ),
}


def resolve_dataset(dataset=None, preset=None):
    """The data set a run trains on: ``dataset``, else the preset's own, else MNIST.

    InputError naming an unknown dataset or preset, or a preset made for another data set.
    """
    if preset is not None and preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    own = PRESETS[preset].dataset if preset is not None else None
    dataset = dataset or own or "mnist"
    if dataset not in DEFAULTS:
        raise InputError(f"unknown dataset {dataset!r}; choose one of {', '.join(DEFAULTS)}")
    if own is not None and dataset != own:
        raise InputError(f"--preset {preset} is a run on {own}, not {dataset}: drop --dataset {dataset}")
    return dataset


def run_options(dataset=None, preset=None, **overrides):
    """The merged options of a run: the data set's defaults, then what its kind of network
    needs (``fitting_defaults``), then the preset, then ``overrides``.

    dataset : None for the preset's own data set, else MNIST (``resolve_dataset``).
    InputError naming an unknown dataset, preset or option.
    """
    dataset = resolve_dataset(dataset, preset)
    unknown = sorted(set(overrides) - set(OPTION_KEYS))
    if unknown:
        raise InputError(f"unknown option {unknown[0]!r}; the options are {', '.join(OPTION_KEYS)}")
    chosen = {**(PRESETS[preset].options if preset else {}), **overrides}
    return {**DEFAULTS[dataset], **fitting_defaults(dataset, chosen), **chosen}


def network_kind(opts):
    """The kind of network merged options describe, a key of ``KINDS``: "book", "sigmoid",
    "tanh" or "relu" for the book's ``Network`` (by its hidden activation; "book" is sigmoid
    with the quadratic cost), "layers-relu", "layers-sigmoid" or "layers-tanh" for a layer
    network (ReLU when all its conv and fc layers are ReLU or linear; sigmoid when any is)."""
    if not _layered(opts):
        activation = opts.get("activation", "sigmoid")
        if activation == "sigmoid" and opts.get("cost", "quadratic") == "quadratic":
            return "book"
        return activation
    from .layerspec import DEFAULT_ACTIVATION

    used = _layer_activations(opts["layers"], opts.get("activation", DEFAULT_ACTIVATION))
    for name in ("sigmoid", "tanh"):
        if name in used:
            return f"layers-{name}"
    return "layers-relu"


def _layer_activations(text, default):
    """The activations of the conv and fc layers ``text`` writes (``layerspec``'s notation:
    ``:relu`` and the like after a token, else ``default``)."""
    from .layerspec import ACTIVATIONS

    used = set()
    for token in text.lower().split(","):
        name, *options = token.strip().split(":")
        if name.startswith(("conv", "fc")):
            used.add(next((o for o in options if o in ACTIVATIONS), default))
    return used


def fitting_defaults(dataset, chosen):
    """What the kind of network of ``chosen`` (a preset's options and the caller's) gets from
    ``FITTING`` on ``dataset`` where ``chosen`` is silent: eta, l2, epochs, a Network's init,
    a layer network's default activation (ReLU).  The book's network gets the book's.

    A kind's L2 was chosen with its eta (the weights decay by eta * L2 / n each step): with an
    eta of the caller's own, L2 stays 0 unless the caller gives it too.
    """
    opts = {**DEFAULTS[dataset], **chosen}
    fitting = dict(FITTING[dataset][network_kind(opts)])
    if _layered(opts):
        from .layerspec import DEFAULT_ACTIVATION

        fitting["activation"] = DEFAULT_ACTIVATION
    if "eta" in chosen:
        fitting.pop("l2", None)
    return {k: v for k, v in fitting.items() if k not in chosen}


def _layered(opts):
    return opts.get("layers") is not None


def network_from_options(opts, input_shape, n_out=10, seed=None, *, dtype=None):
    """The network ``opts`` describe, drawn from ``seed`` (an int or a Generator).

    ``opts["layers"]``: the ``LayerNetwork`` those layers make on one input of ``input_shape``
    ((c, h, w) images, or (n,)) with an ``n_out`` softmax (float32 unless ``dtype``); else the
    book's ``Network`` of ``opts["sizes"]`` with the options' cost, activation and init.
    """
    if _layered(opts):
        from .layerspec import DEFAULT_ACTIVATION, layer_network

        return layer_network(
            opts["layers"],
            input_shape,
            n_out,
            activation=opts.get("activation", DEFAULT_ACTIVATION),
            seed=seed,
            dtype=dtype or "float32",
        )
    return Network(
        opts["sizes"],
        seed=seed,
        cost=opts.get("cost", "quadratic"),
        activation=opts.get("activation", "sigmoid"),
        init=opts.get("init", "standard"),
        dtype=dtype,
    )


def config_from_options(opts, n_training):
    """The ``TrainingConfig`` of merged options (a mini-batch size of None: all ``n_training``)."""
    schedule = opts.get("schedule", "constant")
    return TrainingConfig(
        epochs=opts["epochs"],
        mini_batch_size=opts["mini_batch_size"] or n_training,
        eta=opts["eta"],
        l2=opts.get("l2", 0.0),
        momentum=opts.get("momentum", 0.0),
        optimizer=opts.get("optimizer", "sgd"),
        schedule=schedule,
        patience=opts.get("patience", 5),
        max_halvings=opts.get("max_halvings", 7),
        early_stop=opts.get("early_stop"),
        keep_best=bool(opts.get("early_stop") or schedule == "halve"),
        monitor_training=opts.get("monitor_training", 0),
    )


def augmenter_from_options(opts):
    """The ``Augmenter`` of ``opts["augment"]``: None when absent or false; True: every image
    with the default distortions; a number: that share of the images; a dict: Augmenter's
    own arguments."""
    value = opts.get("augment")
    if not value:
        return None
    from .augment import Augmenter

    if isinstance(value, dict):
        return Augmenter(**value)
    return Augmenter(fraction=1.0 if value is True else float(value))


def check_sizes(sizes, dataset, sep=","):
    """InputError unless a ``Network`` of ``sizes`` fits ``dataset``'s inputs and classes
    (the sizes written joined by ``sep`` in the message)."""
    from ..datasets import dataset_info  # here, not above: the command line starts without the data layer

    info = dataset_info(dataset)
    if sizes[0] != info.n_inputs or sizes[-1] != info.n_classes:
        raise InputError(
            f"sizes {sep.join(map(str, sizes))} do not fit {dataset}: the input layer must have "
            f"{info.n_inputs} neurons and the output layer {info.n_classes}"
        )


def _check_against_data(opts, info):
    """Refuse options the data set cannot serve, before any data are read (the messages name
    the options as ``glassnet train``'s flags spell them)."""
    watching = opts.get("early_stop") or opts.get("schedule") == "halve"
    if opts.get("train_on_validation"):
        if not info.has_validation:
            raise InputError(f"--train-on-validation: {info.name} has no validation set")
        if watching:
            raise InputError("--train-on-validation leaves no validation set for --early-stop or --schedule halve")
    elif watching and not info.has_validation:
        raise InputError(f"--early-stop and --schedule halve watch a validation set; {info.name} has none")
    if not _layered(opts):
        check_sizes(opts["sizes"], info.name)


def _check_augmenter(augment, info):
    if augment is None:
        return
    shape = (augment.side, augment.side)
    if shape != tuple(info.image_shape[1:]):
        raise InputError(
            f"the augmenter distorts {shape[0]}x{shape[1]} images; the {info.name} images are "
            f"{'x'.join(map(str, info.image_shape[1:]))}"
        )


def joined(training, validation):
    """One data set of the training images followed by the validation images (MNIST's 60,000)."""
    return type(training)(np.concatenate([training.X, validation.X]), np.concatenate([training.y, validation.y]))


@dataclass
class RunPlan:
    """A run, ready to train: what ``plan_run`` returns.

    network : the network to train, drawn from ``seed``; ``build(seed)`` draws another like it
        (picklable: a ``functools.partial`` of ``network_from_options`` over plain data)
    config : its ``TrainingConfig``;  augment : an ``Augmenter`` or None
    training, validation, test : the data sets (``.X`` (n, n_inputs), ``.y`` (n,));
        validation None for the digits and when training on the validation images
    sha256 : the data files' hashes;  info : the data set's ``DatasetInfo``
    overrides : the caller's options (beside the data set's defaults and the preset's)
    """

    dataset: str
    preset: str | None
    seed: int
    options: dict
    info: object
    network: object = field(repr=False)
    build: object = field(repr=False)
    config: TrainingConfig
    augment: object
    training: object = field(repr=False)
    validation: object = field(repr=False)
    test: object = field(repr=False)
    sha256: dict = field(default_factory=dict, repr=False)
    overrides: dict = field(default_factory=dict, repr=False)

    @property
    def kind(self):
        """The kind of network trained (``network_kind``: a key of ``KINDS``)."""
        return network_kind(self.options)

    def defaulted(self):
        """The options the kind of network supplied (``fitting_defaults``): what neither the
        preset nor the caller gave."""
        return fitting_defaults(
            self.dataset, {**(PRESETS[self.preset].options if self.preset else {}), **self.overrides}
        )

    def suggested_eta(self):
        """The eta this run would have without the caller's: the preset's, else its kind's."""
        others = {k: v for k, v in self.overrides.items() if k != "eta"}
        return run_options(self.dataset, self.preset, **others)["eta"]

    def fit(self, **kwargs):
        """``training.fit`` of the plan's network on its data; ``kwargs`` go to ``fit`` (and
        replace the plan's validation, test or augment when given)."""
        data = dict(validation=self.validation, test=self.test, augment=self.augment)
        return fit(self.network, self.training, self.config, **{**data, **kwargs})

    def metadata(self, **training):
        """The header facts of a model file of this run: dataset, data_sha256 and training (the
        config, seed, ``training``'s extra facts, preset, augmenter, number of training images)."""
        facts = dict(
            self.config.__dict__,
            seed=self.seed,
            **training,
            preset=self.preset,
            augment=repr(self.augment) if self.augment else None,
            training_images=len(self.training.X),
        )
        return dict(dataset=self.dataset, data_sha256=self.sha256, training=facts)

    def describe(self):
        """One line: epochs, mini-batch, eta and every choice away from the book's chapter 1."""
        opts, config = self.options, self.config
        parts = [plural(config.epochs, "epoch"), f"mini-batch {config.mini_batch_size}", f"eta {config.eta:g}"]
        if _layered(opts):
            parts.append("softmax, log-likelihood cost")
        else:
            cost, activation, init = (
                opts.get("cost", "quadratic"),
                opts.get("activation", "sigmoid"),
                opts.get("init", "standard"),
            )
            if cost != "quadratic" or activation != "sigmoid":
                parts.append(f"{activation}/{self.network.summary()['output_activation']}, {cost} cost")
            if init != "standard":
                parts.append(f"{init} init")
        for name, value in (("L2", config.l2), ("momentum", config.momentum)):
            if value:
                parts.append(f"{name} {value:g}")
        if config.optimizer != "sgd":
            parts.append(config.optimizer.capitalize())
        if config.schedule != "constant":
            parts.append(f"{config.schedule} schedule")
        if config.early_stop:
            parts.append(f"early stop {config.early_stop}")
        if self.augment is not None:
            parts.append("augmented")
        return ", ".join(parts)


def check_run(dataset=None, preset=None, overrides=None):
    """``(dataset, options, dataset info, augmenter)`` of a run, every option checked against the
    data set and the architecture parsed (a network is drawn and dropped) -- InputError before
    any data are read or anything is printed."""
    from ..datasets import dataset_info

    dataset = resolve_dataset(dataset, preset)
    opts = run_options(dataset, preset, **(overrides or {}))
    info = dataset_info(dataset)
    _check_against_data(opts, info)
    augment = augmenter_from_options(opts)
    _check_augmenter(augment, info)
    network_from_options(opts, info.image_shape, info.n_classes, 0)
    return dataset, opts, info, augment


def plan_run(
    dataset=None, preset=None, overrides=None, seed=0, *, data=None, data_dir=None, cache_dir=None, progress=None
):
    """Everything a run of ``dataset`` with ``preset`` and ``overrides`` needs, as a ``RunPlan``.

    dataset : None for the preset's own data set, else MNIST (``resolve_dataset``).
    seed : draws the network (and the digits' split).  data : ``load_dataset(dataset,
    seed=seed)``'s tuple, to reuse one load for several runs (loaded when None, with
    data_dir, cache_dir and progress).  InputError, before any data are read, for options
    the data set cannot serve (sizes that do not fit it, a validation set it does not have).
    """
    from ..datasets import load_dataset

    dataset, opts, info, augment = check_run(dataset, preset, overrides)
    if data is None:
        data = load_dataset(dataset, seed=seed, data_dir=data_dir, cache_dir=cache_dir, progress=progress)
    training, validation, test, sha256 = data
    if opts.get("train_on_validation"):
        training, validation = joined(training, validation), None
    build = functools.partial(network_from_options, opts, info.image_shape, info.n_classes)
    network, config = build(seed), config_from_options(opts, len(training.X))
    check_batches(network, len(training.X), config.mini_batch_size)  # before anything is printed
    return RunPlan(
        dataset,
        preset,
        seed,
        opts,
        info,
        network,
        build,
        config,
        augment,
        training,
        validation,
        test,
        dict(sha256),
        dict(overrides or {}),
    )


def train_preset(preset, *, seed=0, dataset=None, data_dir=None, cache_dir=None, callbacks=(), **overrides):
    """Train a documented recipe from Python as ``glassnet train --preset PRESET`` does.

    ``overrides`` replace the preset's options (e.g. ``epochs=3``).  Returns
    ``(network, FitResult, test)``: the trained network, its per-epoch history (test
    accuracy after every epoch) and the test set it was measured on.
    """
    plan = plan_run(dataset, preset, overrides, seed, data_dir=data_dir, cache_dir=cache_dir)
    return plan.network, plan.fit(callbacks=callbacks), plan.test
