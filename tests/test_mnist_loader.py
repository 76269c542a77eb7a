"""load_mnist / load_mnist_arrays on tiny IDX files, and the label helpers."""

import gzip

import numpy as np
import pytest

from glassnet.datasets import (
    MNIST_FILES,
    IDXError,
    LabelError,
    MNISTFormatError,
    load_mnist,
    load_mnist_arrays,
    one_hot,
    vectorized_result,
    write_idx,
)
from glassnet.datasets import mnist as mnist_module

RNG = np.random.default_rng(7)
TRAIN_IMAGES = RNG.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
TRAIN_IMAGES[0, 0, :2] = (0, 255)
TRAIN_LABELS = np.arange(12, dtype=np.uint8) % 10
TEST_IMAGES = RNG.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
TEST_LABELS = np.array([9, 0, 3, 3], dtype=np.uint8)


def write_files(folder, **overrides):
    arrays = {
        "train-images": TRAIN_IMAGES,
        "train-labels": TRAIN_LABELS,
        "test-images": TEST_IMAGES,
        "test-labels": TEST_LABELS,
    }
    arrays.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return {name: write_idx(folder / MNIST_FILES[name][0], a) for name, a in arrays.items()}


@pytest.fixture
def fake_fetch(tmp_path, monkeypatch):
    """Make load_mnist read tiny files; record what it passed to fetch_mnist."""
    paths = write_files(tmp_path)
    calls = []

    def fetch(**kwargs):
        calls.append(kwargs)
        return paths

    monkeypatch.setattr(mnist_module, "fetch_mnist", fetch)
    return calls


def test_book_split(fake_fetch):
    data = load_mnist(n_validation=2)
    assert data.training.X.shape == (10, 784) and data.training.y.shape == (10,)
    assert data.validation.X.shape == (2, 784) and data.validation.y.shape == (2,)
    assert data.test.X.shape == (4, 784) and data.test.y.shape == (4,)
    np.testing.assert_array_equal(data.training.y, TRAIN_LABELS[:10])
    np.testing.assert_array_equal(data.validation.y, TRAIN_LABELS[10:])
    np.testing.assert_array_equal(data.test.y, TEST_LABELS)
    np.testing.assert_allclose(data.training.X, TRAIN_IMAGES[:10].reshape(10, 784) / 255, rtol=1e-6)
    np.testing.assert_allclose(data.validation.X, TRAIN_IMAGES[10:].reshape(2, 784) / 255, rtol=1e-6)
    np.testing.assert_allclose(data.test.X, TEST_IMAGES.reshape(4, 784) / 255, rtol=1e-6)
    assert data.sha256 == {filename: digest for filename, digest in MNIST_FILES.values()}


def test_scaling_dtype_and_layout(fake_fetch):
    data = load_mnist(n_validation=2)
    for part in data[:3]:
        assert part.X.dtype == np.float32
        assert part.X.flags.c_contiguous
        assert part.y.dtype == np.int64
        assert part.X.min() >= 0 and part.X.max() <= 1
    assert data.training.X[0, 0] == 0.0 and data.training.X[0, 1] == 1.0


def test_float64(fake_fetch):
    data = load_mnist(n_validation=2, dtype=np.float64)
    assert data.training.X.dtype == np.float64
    np.testing.assert_array_equal(data.test.X, TEST_IMAGES.reshape(4, 784) / 255)


def test_fetch_arguments_passed_through(fake_fetch, tmp_path):
    progress = print
    load_mnist(cache_dir=tmp_path / "c", data_dir=tmp_path / "d", progress=progress, n_validation=2)
    assert fake_fetch == [{"cache_dir": tmp_path / "c", "data_dir": tmp_path / "d", "progress": progress}]


@pytest.mark.parametrize("n_validation, n_train", [(0, 12), (12, 0)])
def test_validation_size_extremes(fake_fetch, n_validation, n_train):
    data = load_mnist(n_validation=n_validation)
    assert data.training.X.shape == (n_train, 784)
    assert data.validation.X.shape == (12 - n_train, 784)


@pytest.mark.parametrize("n_validation", [-1, 13])
def test_validation_size_checked(fake_fetch, n_validation):
    with pytest.raises(ValueError, match="n_validation"):
        load_mnist(n_validation=n_validation)


def test_integer_dtype_refused(fake_fetch):
    with pytest.raises(ValueError, match="floating"):
        load_mnist(dtype=np.int32)


def test_gzip_files(tmp_path):
    paths = write_files(tmp_path)
    gz = {}
    for name, path in paths.items():
        gz[name] = path.with_name(path.name + ".gz")
        gz[name].write_bytes(gzip.compress(path.read_bytes()))
    X, y, X_test, y_test = load_mnist_arrays(gz)
    assert X.shape == (12, 784) and y.dtype == np.int64 and X_test.shape == (4, 784)
    np.testing.assert_array_equal(y_test, TEST_LABELS)


def test_label_out_of_range(tmp_path):
    labels = TRAIN_LABELS.copy()
    labels[5] = 10
    paths = write_files(tmp_path, train_labels=labels)
    with pytest.raises(
        MNISTFormatError, match=r"train-labels-idx1-ubyte: 1 labels outside 0\.\.9, first at index 5: 10"
    ):
        load_mnist_arrays(paths)


def test_count_mismatch(tmp_path):
    paths = write_files(tmp_path, test_labels=TEST_LABELS[:3])
    with pytest.raises(
        MNISTFormatError, match="t10k-images-idx3-ubyte holds 4 images but .*t10k-labels-idx1-ubyte holds 3"
    ):
        load_mnist_arrays(paths)


@pytest.mark.parametrize(
    "override",
    [
        {"train_images": TRAIN_IMAGES[:, :, :27].copy()},
        {"train_images": TRAIN_IMAGES.reshape(12, 784)},
        {"train_images": TRAIN_IMAGES.astype(np.int16)},
        {"test_labels": TEST_LABELS.astype(np.int32)},
        {"test_labels": TEST_LABELS.reshape(2, 2)},
    ],
)
def test_wrong_kind_of_array(tmp_path, override):
    paths = write_files(tmp_path, **override)
    with pytest.raises(MNISTFormatError, match="expected uint8") as info:
        load_mnist_arrays(paths)
    assert "\n" not in str(info.value)


def test_malformed_idx_propagates(tmp_path):
    paths = write_files(tmp_path)
    paths["train-labels"].write_bytes(paths["train-labels"].read_bytes()[:-1])
    with pytest.raises(IDXError, match="truncated"):
        load_mnist_arrays(paths)


def test_errors_are_valueerrors():
    assert issubclass(MNISTFormatError, ValueError) and issubclass(LabelError, ValueError)


# --------------------------------------------------------------------------- labels


def test_one_hot():
    out = one_hot([3, 0, 9])
    assert out.shape == (3, 10) and out.dtype == np.float32
    np.testing.assert_array_equal(out.argmax(axis=1), [3, 0, 9])
    assert out.sum() == 3
    assert one_hot(np.array([1], dtype=np.uint8), n_classes=2, dtype=np.float64).tolist() == [[0.0, 1.0]]
    assert one_hot(np.array([], dtype=np.int64)).shape == (0, 10)


@pytest.mark.parametrize(
    "labels, match",
    [
        ([1.0, 2.0], "integer"),
        ([[1]], "1-D"),
        ([0, 10], "got 10 at index 1"),
        ([-1], "got -1 at index 0"),
        (["a"], "integer"),
    ],
)
def test_one_hot_refuses(labels, match):
    with pytest.raises(LabelError, match=match):
        one_hot(labels)


def test_vectorized_result():
    e = vectorized_result(4)
    assert e.shape == (10, 1) and e.dtype == np.float64
    assert e[4, 0] == 1.0 and e.sum() == 1.0
    assert vectorized_result(np.uint8(9))[9, 0] == 1.0


@pytest.mark.parametrize("j", [10, -1, 2.0, True, "3", None])
def test_vectorized_result_refuses(j):
    with pytest.raises(LabelError):
        vectorized_result(j)
