"""Datasets for glassnet: MNIST and Fashion-MNIST (fetched and verified), scikit-learn's 8x8 digits.

``load_dataset(name)`` loads any of them by name; ``dataset_info(name)`` says what it is (image
shape, classes, whether it has a validation set) without loading it.
"""

from .catalog import CATALOG, DatasetInfo, dataset_info, load_dataset, readable_test_images
from .digits import digits_test_images, load_digits_split
from .fashion import FASHION_CLASSES, FASHION_FILES, FASHION_MIRRORS, fetch_fashion_mnist, load_fashion_mnist
from .fetch import (
    MNIST_FILES,
    MNIST_MIRRORS,
    NPM_PACKAGE,
    FetchError,
    default_cache_dir,
    fetch_files,
    fetch_mnist,
    mnist_mirrors,
)
from .idx import IDXError, encode_idx, read_idx, write_idx
from .mnist import (
    MNIST,
    Dataset,
    LabelError,
    MNISTFormatError,
    load_mnist,
    load_mnist_arrays,
    one_hot,
    vectorized_result,
)

__all__ = [
    "CATALOG",
    "Dataset",
    "DatasetInfo",
    "dataset_info",
    "digits_test_images",
    "FASHION_CLASSES",
    "FASHION_FILES",
    "FASHION_MIRRORS",
    "FetchError",
    "IDXError",
    "LabelError",
    "MNIST",
    "MNISTFormatError",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "NPM_PACKAGE",
    "default_cache_dir",
    "encode_idx",
    "fetch_fashion_mnist",
    "fetch_files",
    "fetch_mnist",
    "load_dataset",
    "load_digits_split",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_arrays",
    "mnist_mirrors",
    "one_hot",
    "read_idx",
    "readable_test_images",
    "vectorized_result",
    "write_idx",
]
