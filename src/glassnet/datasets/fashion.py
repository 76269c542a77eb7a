"""Fashion-MNIST: Zalando's article images, a drop-in replacement for MNIST.

Same format (28x28 uint8 IDX files, 60,000 training and 10,000 test images, 10
classes) and, here, the same split as the book's MNIST: the first 50,000 training
images for training, the last 10,000 for validation, the t10k images for testing.

The four files are fetched into ``<cache_dir>/fashion-mnist/`` and verified by the
SHA-256 of their uncompressed contents; the sources are tried in turn:

1. the user's folder (``data_dir``, else ``$GLASSNET_DATA_DIR``), raw or ``.gz``;
2. the Debian package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``);
3. the dataset's public HTTPS mirrors, each serving ``<file>.gz``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .fetch import PathLike, Progress, fetch_files, mirrors_from_env
from .mnist import MNIST, book_split

__all__ = [
    "FASHION_CLASSES",
    "FASHION_FILES",
    "FASHION_MIRRORS",
    "FASHION_SYSTEM_DIR",
    "fashion_mirrors",
    "fetch_fashion_mnist",
    "load_fashion_mnist",
]

#: name -> (file name, SHA-256 of the uncompressed file); the same names as MNIST_FILES.
FASHION_FILES: dict[str, tuple[str, str]] = {
    "train-images": ("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels": ("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "test-images": ("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "test-labels": ("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
#: Where the Debian package ``dataset-fashion-mnist`` installs the four ``.gz`` files.
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Public HTTPS mirrors serving ``<filename>.gz``: the dataset's GitHub repository and
#: the copy the Keras/TensorFlow loaders download.
FASHION_MIRRORS: tuple[str, ...] = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)
#: Label -> class name, as the dataset's README lists them.
FASHION_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_HINT = (
    "install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), or "
    "download the four Fashion-MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, raw or .gz) into a folder and pass "
    "--data-dir DIR or set GLASSNET_DATA_DIR"
)


def fashion_mirrors() -> tuple[str, ...]:
    """The mirrors to try: ``$GLASSNET_FASHION_MIRRORS`` (comma-separated base URLs;
    set but empty means none) if set, else ``FASHION_MIRRORS``."""
    return mirrors_from_env("GLASSNET_FASHION_MIRRORS", FASHION_MIRRORS)


def fetch_fashion_mnist(
    *,
    cache_dir: PathLike | None = None,
    data_dir: PathLike | None = None,
    system_dir: PathLike | None = FASHION_SYSTEM_DIR,
    mirrors: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Make sure the four Fashion-MNIST IDX files are in the cache; return their paths.

    Parameters
    ----------
    cache_dir : path, optional
        Defaults to ``default_cache_dir()``; files go to ``<cache_dir>/fashion-mnist/``.
    data_dir : path, optional
        The user's folder holding the files (raw or ``.gz``); defaults to
        ``$GLASSNET_DATA_DIR``. Tried first.
    system_dir : path or None
        The Debian package's folder, tried second; None skips it.
    mirrors : sequence of base URLs, optional
        Tried last; defaults to ``fashion_mirrors()``.
    progress : callable(name, done_bytes, total_bytes_or_None), optional

    Returns
    -------
    dict
        ``"train-images"``, ``"train-labels"``, ``"test-images"``, ``"test-labels"``
        -> path of the verified, uncompressed file.

    Raises
    ------
    FetchError
        A file could not be obtained from any source (one line).
    """
    if data_dir is None:
        data_dir = os.environ.get("GLASSNET_DATA_DIR") or None
    mirrors = fashion_mirrors() if mirrors is None else tuple(mirrors)
    common = dict(cache_dir=cache_dir, subdir="fashion-mnist", progress=progress, hint=FASHION_HINT)
    if data_dir is not None:  # a folder the user named: used, or refused, never ignored
        return fetch_files(FASHION_FILES, data_dir=data_dir, **common)
    # else Debian's folder when it holds a file (it is skipped where it does not), then the mirrors
    return fetch_files(FASHION_FILES, data_dir=system_dir, data_dir_required=False, mirrors=mirrors, **common)


def load_fashion_mnist(
    *,
    cache_dir: PathLike | None = None,
    data_dir: PathLike | None = None,
    dtype=np.float32,
    progress: Progress | None = None,
    n_validation: int = 10_000,
    system_dir: PathLike | None = FASHION_SYSTEM_DIR,
    mirrors: Sequence[str] | None = None,
) -> MNIST:
    """Fetch (if needed) and load Fashion-MNIST with the book's MNIST split.

    Returns the same ``MNIST`` tuple as ``load_mnist``: training.X (50000, 784),
    validation.X (10000, 784), test.X (10000, 784) in [0, 1]; y int64 in 0..9 (the
    names are ``FASHION_CLASSES[y]``); ``sha256`` maps each file name to its hash.
    """
    paths = fetch_fashion_mnist(
        cache_dir=cache_dir, data_dir=data_dir, system_dir=system_dir, mirrors=mirrors, progress=progress
    )
    return book_split(paths, FASHION_FILES, dtype=dtype, n_validation=n_validation)
