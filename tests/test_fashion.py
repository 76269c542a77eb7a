"""Fashion-MNIST: the loader on tiny fake IDX files (sources in turn), and the real files of the
Debian package dataset-fashion-mnist (skipped when it is not installed, unless $CI is set)."""

import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from glassnet.datasets import (
    FASHION_CLASSES,
    FASHION_FILES,
    FASHION_MIRRORS,
    MNIST,
    FetchError,
    encode_idx,
    fetch_fashion_mnist,
    load_fashion_mnist,
)
from glassnet.datasets import fashion as fashion_module
from glassnet.datasets.fashion import FASHION_SYSTEM_DIR, fashion_mirrors

RNG = np.random.default_rng(7)
TRAIN_IMAGES = RNG.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
TRAIN_LABELS = np.arange(12, dtype=np.uint8) % 10
TEST_IMAGES = RNG.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
TEST_LABELS = np.array([9, 0, 5, 3], dtype=np.uint8)
CONTENT = {
    "train-images-idx3-ubyte": encode_idx(TRAIN_IMAGES),
    "train-labels-idx1-ubyte": encode_idx(TRAIN_LABELS),
    "t10k-images-idx3-ubyte": encode_idx(TEST_IMAGES),
    "t10k-labels-idx1-ubyte": encode_idx(TEST_LABELS),
}
FAKE_FILES = {
    name: (filename, hashlib.sha256(CONTENT[filename]).hexdigest()) for name, (filename, _) in FASHION_FILES.items()
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in (
        "GLASSNET_CACHE",
        "GLASSNET_DATA_DIR",
        "GLASSNET_FASHION_MIRRORS",
        "XDG_CACHE_HOME",
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def fake(monkeypatch):
    """Declare the fake files' hashes instead of the real ones."""
    monkeypatch.setattr(fashion_module, "FASHION_FILES", FAKE_FILES)
    return FAKE_FILES


def write_files(folder, compress=False, content=CONTENT):
    folder.mkdir(parents=True, exist_ok=True)
    for filename, data in content.items():
        if compress:
            (folder / f"{filename}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / filename).write_bytes(data)
    return folder


def test_declarations():
    assert list(FASHION_FILES) == ["train-images", "train-labels", "test-images", "test-labels"]
    for _filename, digest in FASHION_FILES.values():
        assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    assert all(url.startswith("https://") and url.endswith("/") for url in FASHION_MIRRORS)
    assert len(FASHION_CLASSES) == 10 and FASHION_CLASSES[0] == "T-shirt/top"
    assert FASHION_CLASSES[9] == "Ankle boot" and FASHION_CLASSES[1] == "Trouser"


@pytest.mark.parametrize("compress", [False, True])
def test_loader_with_the_book_split(fake, tmp_path, compress):
    data_dir = write_files(tmp_path / "data", compress=compress)
    data = load_fashion_mnist(
        data_dir=data_dir, cache_dir=tmp_path / "cache", system_dir=None, mirrors=(), n_validation=2
    )
    assert isinstance(data, MNIST)
    assert data.training.X.shape == (10, 784) and data.validation.X.shape == (2, 784)
    assert data.test.X.shape == (4, 784) and data.training.X.dtype == np.float32
    np.testing.assert_allclose(data.training.X, TRAIN_IMAGES[:10].reshape(10, 784) / 255, rtol=1e-6)
    np.testing.assert_allclose(data.test.X, TEST_IMAGES.reshape(4, 784) / 255, rtol=1e-6)
    assert data.training.y.tolist() == TRAIN_LABELS[:10].tolist()
    assert data.validation.y.tolist() == [0, 1] and data.test.y.tolist() == [9, 0, 5, 3]
    assert data.training.y.dtype == np.int64
    assert data.sha256 == {f: d for f, d in FAKE_FILES.values()}
    cached = sorted(p.name for p in (tmp_path / "cache" / "fashion-mnist").iterdir())
    assert cached == sorted(CONTENT)


def test_data_dir_from_the_environment(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSNET_DATA_DIR", str(write_files(tmp_path / "data")))
    data = load_fashion_mnist(cache_dir=tmp_path / "cache", system_dir=None, mirrors=(), n_validation=0)
    assert data.training.X.shape == (12, 784) and data.validation.X.shape == (0, 784)


def test_system_folder_is_the_second_source(fake, tmp_path):
    system = write_files(tmp_path / "debian", compress=True)
    paths = fetch_fashion_mnist(cache_dir=tmp_path / "cache", system_dir=system, mirrors=())
    assert all(paths[name].read_bytes() == CONTENT[filename] for name, (filename, _) in FAKE_FILES.items())
    # a folder the user names is the only source: a wrong file there is an error, not passed over
    user = write_files(tmp_path / "user", content={"train-labels-idx1-ubyte": encode_idx(TRAIN_LABELS[::-1])})
    with pytest.raises(FetchError, match="user: (no train-images|.*sha256 mismatch)"):
        fetch_fashion_mnist(cache_dir=tmp_path / "cache2", data_dir=user, system_dir=system, mirrors=())


def test_the_users_folder_must_hold_every_file(fake, tmp_path):
    names = sorted(CONTENT)
    user = write_files(tmp_path / "user", content={n: CONTENT[n] for n in names[:2]})
    system = write_files(tmp_path / "debian", content={n: CONTENT[n] for n in names[2:]})
    with pytest.raises(FetchError, match=f"user: no {names[2]}"):
        fetch_fashion_mnist(cache_dir=tmp_path / "cache", data_dir=user, system_dir=system, mirrors=())
    full = write_files(tmp_path / "full")
    paths = fetch_fashion_mnist(cache_dir=tmp_path / "cache", data_dir=full, system_dir=system, mirrors=())
    assert sorted(p.name for p in paths.values()) == names


class Mirror:
    """A local HTTP server serving ``<file>.gz``; ``requests`` lists the paths asked for."""

    def __init__(self, content):
        self.requests = []
        routes = {f"/{f}.gz": gzip.compress(data) for f, data in content.items()}
        requests = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                body = routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_mirrors_come_last(fake, tmp_path, monkeypatch):
    names = sorted(CONTENT)
    mirror = Mirror(CONTENT)
    try:
        system = write_files(tmp_path / "debian", content={names[0]: CONTENT[names[0]]})
        monkeypatch.setenv("GLASSNET_FASHION_MIRRORS", mirror.url)
        paths = fetch_fashion_mnist(cache_dir=tmp_path / "cache", system_dir=system)
    finally:
        mirror.close()
    assert sorted(p.name for p in paths.values()) == names
    assert sorted(mirror.requests) == sorted(f"/{n}.gz" for n in names[1:])  # not the local one


def test_mirrors_from_the_environment(monkeypatch):
    assert fashion_mirrors() == FASHION_MIRRORS
    monkeypatch.setenv("GLASSNET_FASHION_MIRRORS", " https://a.example/x/ , https://b.example/ ")
    assert fashion_mirrors() == ("https://a.example/x/", "https://b.example/")
    monkeypatch.setenv("GLASSNET_FASHION_MIRRORS", "")
    assert fashion_mirrors() == ()


def test_nothing_found_is_one_line_with_a_hint(fake, tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    with pytest.raises(FetchError) as info:
        fetch_fashion_mnist(
            cache_dir=tmp_path / "cache", data_dir=user, system_dir=tmp_path / "no-debian", mirrors=["file:///nowhere/"]
        )
    message = str(info.value)  # the folder the user named is the only source
    assert "\n" not in message and "--data-dir" in message and f"{user}: no " in message
    with pytest.raises(FetchError) as info:
        fetch_fashion_mnist(
            cache_dir=tmp_path / "cache", system_dir=tmp_path / "no-debian", mirrors=["file:///nowhere/"]
        )
    message = str(info.value)
    assert "\n" not in message and "dataset-fashion-mnist" in message and "--data-dir" in message
    assert "no such folder" in message and "not an http(s) URL" in message
    assert not list((tmp_path / "cache" / "fashion-mnist").iterdir())


def test_load_dataset_and_defaults(tmp_path, monkeypatch):
    from glassnet.datasets import dataset_info, load_dataset
    from glassnet.training.runs import DEFAULTS

    assert DEFAULTS["fashion"] == DEFAULTS["mnist"]
    assert dataset_info("fashion").image_shape == dataset_info("mnist").image_shape == (1, 28, 28)
    content = dict(CONTENT)  # load_dataset keeps the last 10,000 training images for validation
    content["train-images-idx3-ubyte"] = encode_idx(np.zeros((10_003, 28, 28), dtype=np.uint8))
    content["train-labels-idx1-ubyte"] = encode_idx(np.arange(10_003, dtype=np.uint8) % 10)
    files = {name: (f, hashlib.sha256(content[f]).hexdigest()) for name, (f, _) in FASHION_FILES.items()}
    monkeypatch.setattr(fashion_module, "FASHION_FILES", files)
    training, validation, test, sha = load_dataset(
        "fashion", data_dir=write_files(tmp_path / "data", content=content), cache_dir=tmp_path / "cache"
    )
    assert training.X.shape == (3, 784) and validation.X.shape == (10_000, 784)
    assert test.X.shape == (4, 784) and training.y.tolist() == [0, 1, 2]
    assert sha == {f: d for f, d in files.values()}


# ----------------------------------------------------------------------------- the real files

needs_debian = pytest.mark.skipif(
    not FASHION_SYSTEM_DIR.is_dir() and not os.environ.get("CI"),
    reason=f"{FASHION_SYSTEM_DIR} missing: apt-get install dataset-fashion-mnist",
)


@needs_debian
def test_real_fashion_mnist_from_the_debian_package(tmp_path):
    data = load_fashion_mnist(cache_dir=tmp_path, data_dir=None, mirrors=())  # no network: Debian only
    assert data.training.X.shape == (50000, 784) and data.validation.X.shape == (10000, 784)
    assert data.test.X.shape == (10000, 784) and data.training.X.dtype == np.float32
    assert data.training.X.min() == 0.0 and data.training.X.max() == 1.0
    all_training = np.concatenate([data.training.y, data.validation.y])
    assert np.bincount(all_training, minlength=10).tolist() == [6000] * 10
    assert np.bincount(data.test.y, minlength=10).tolist() == [1000] * 10
    assert data.training.y[:5].tolist() == [9, 0, 0, 3, 0]  # ankle boot, T-shirt, T-shirt, dress
    assert data.sha256 == {f: d for f, d in FASHION_FILES.values()}
    assert sorted(Path(tmp_path, "fashion-mnist").iterdir()) == sorted(
        Path(tmp_path, "fashion-mnist", f) for f, _ in FASHION_FILES.values()
    )


@needs_debian
def test_baselines_on_fashion():
    import io

    from glassnet.cli import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["baselines", "--dataset", "fashion", "--no-svm"], out=out, err=err) == 0, err.getvalue()
    table = out.getvalue()
    assert "| average darkness | - | 25.39% | 2539 |" in table and "Fashion-MNIST test images" in table
