"""Shared fixtures."""
import pytest


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST with the book's split, fetched the way a user's machine fetches it.

    On a fresh machine this fetches the four IDX files once into the user cache; later
    runs reuse the verified cache. Fails loudly (never skips) when no source answers.
    """
    from glassnet.datasets import FetchError, load_mnist
    try:
        return load_mnist()
    except FetchError as e:
        pytest.fail(f"could not fetch MNIST: {e}")
