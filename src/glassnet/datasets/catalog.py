"""The data sets by name: what each one is (image shape, classes, splits) and how to load it.

    mnist     the book's MNIST: 50,000 training, 10,000 validation, 10,000 test images, 1x28x28
    fashion   Fashion-MNIST with the same split and shape
    digits    scikit-learn's 8x8 digits, 1x8x8, the tutorial's 60/40 split (no validation set)

Everything a run needs to know about its data comes from here, so that no command or
trainer tells the data sets apart by name.  The data layer knows no network: the shapes
are the data's own, and ``glassnet.training.runs`` fits networks to them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from . import digits, mnist
from .fashion import load_fashion_mnist

__all__ = ["DatasetInfo", "CATALOG", "dataset_info", "load_dataset", "readable_test_images"]


@dataclass(frozen=True)
class DatasetInfo:
    """One data set.

    image_shape : (channels, height, width) of one image; X holds each image as a row of
        ``n_inputs`` = channels * height * width values
    n_classes : labels are 0 .. n_classes - 1
    has_validation : whether it comes with a validation set (the book's split)
    seeded_split : whether ``load_dataset``'s seed draws the split (else every seed loads the same)
    load : ``load(seed, dtype, data_dir=, cache_dir=, progress=)`` -> ``load_dataset``'s tuple
    raw_test_images : ``f(seed, labels) -> (n, n_inputs) or None``: the test images as a person
        reads them where the loaded ones are transformed (the digits' raw pixels, standardised
        for the network); None where the loaded images are the images themselves
    """

    name: str
    image_shape: tuple
    n_classes: int
    has_validation: bool
    seeded_split: bool
    load: Callable = field(repr=False)
    raw_test_images: Callable | None = field(default=None, repr=False)

    @property
    def n_inputs(self):
        """Values per sample: the product of ``image_shape``."""
        return math.prod(self.image_shape)


def _book_split(loader):
    """``DatasetInfo.load`` for MNIST's format: the book's 50,000 / 10,000 / 10,000 split."""

    def load(seed, dtype, *, data_dir, cache_dir, progress):
        data = loader(cache_dir=cache_dir, data_dir=data_dir, progress=progress, dtype=dtype)
        return data.training, data.validation, data.test, dict(data.sha256)

    return load


def _digits_split(seed, dtype, *, data_dir, cache_dir, progress):
    """``DatasetInfo.load`` for the digits: the tutorial's 60/40 split drawn by ``seed``."""
    training, test = digits.load_digits_split(seed=seed, dtype=dtype)
    return training, None, test, {}


#: every data set ``load_dataset`` knows, by name
CATALOG = {
    "mnist": DatasetInfo(
        "mnist",
        image_shape=(1, *mnist.IMAGE_SHAPE),
        n_classes=mnist.N_CLASSES,
        has_validation=True,
        seeded_split=False,
        load=_book_split(mnist.load_mnist),
    ),
    "fashion": DatasetInfo(
        "fashion",
        image_shape=(1, *mnist.IMAGE_SHAPE),
        n_classes=mnist.N_CLASSES,  # MNIST's format
        has_validation=True,
        seeded_split=False,
        load=_book_split(load_fashion_mnist),
    ),
    "digits": DatasetInfo(
        "digits",
        image_shape=(1, *digits.IMAGE_SHAPE),
        n_classes=10,
        has_validation=False,
        seeded_split=True,
        load=_digits_split,
        raw_test_images=digits.digits_test_images,
    ),
}


def dataset_info(name):
    """The ``DatasetInfo`` of ``name``; InputError naming it when there is none."""
    if name not in CATALOG:
        raise InputError(f"unknown dataset {name!r}; choose one of {', '.join(CATALOG)}")
    return CATALOG[name]


def load_dataset(name, *, seed=0, data_dir=None, cache_dir=None, progress=None, dtype=np.float32):
    """Return ``(training, validation, test, sha256)``; each set has ``.X`` (n, n_inputs) and ``.y`` (n,).

    ``validation`` is None for the digits, which the tutorial splits 60/40 only (``seed``
    draws that split; MNIST and Fashion-MNIST ignore it).  ``sha256`` maps each file read to
    its hash ({} for the digits, which ship with scikit-learn).
    """
    return dataset_info(name).load(seed, dtype, data_dir=data_dir, cache_dir=cache_dir, progress=progress)


def readable_test_images(name, seed, labels=None):
    """The test images of ``load_dataset(name, seed=seed)`` as a person reads them, row for
    row, where the network sees them transformed (the digits); None where it sees the images
    themselves, or when ``labels`` are given and do not line up."""
    raw = dataset_info(name).raw_test_images
    return None if raw is None else raw(seed, labels)
