"""A made-up MNIST the tests write themselves: drawn digits in MNIST's own files, no download.

``write_synthetic_mnist(folder)`` writes the four files MNIST comes as (train-images-idx3-ubyte,
train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; raw IDX) and returns
their declaration, name -> (file name, SHA-256), in the form of ``glassnet.datasets.MNIST_FILES``.

Each digit is drawn from a stroke font (0-9 as lines and arcs), wobbled, slanted, rotated and
stretched, with a pen of its own width, then prepared as MNIST prepared its digits: cropped to
its ink, shrunk into a 20x20 box and placed in the 28x28 field by its centre of mass.  There
are a tenth as many drawings as images; 3% of the images carry another digit's label, so
every digit has its errors.  A 784-30-10 reads about 96% of the test images after one epoch.
The counts are MNIST's (60,000 training and 10,000 test images), so the book's split and every
"of 10000" a command prints stay as they are; writing them takes about a second.

The same ``seed`` writes the same bytes (with the same NumPy).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from glassnet.datasets.idx import write_idx

#: MNIST's file names (as glassnet.datasets.MNIST_FILES names them)
FILENAMES = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "test-images": "t10k-images-idx3-ubyte",
    "test-labels": "t10k-labels-idx1-ubyte",
}


def _arc(cx, cy, rx, ry, t0, t1, n=12):
    """Points of an elliptic arc from angle t0 to t1 (degrees; y points down, 90 is the bottom)."""
    t = np.radians(np.linspace(t0, t1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


#: each digit as strokes (polylines) in a unit box, x to the right, y down
GLYPHS = {
    0: [_arc(0.5, 0.5, 0.36, 0.5, 0, 360, 20)],
    1: [[(0.36, 0.2), (0.56, 0.0), (0.54, 1.0)]],
    2: [_arc(0.5, 0.3, 0.36, 0.3, 190, 400) + [(0.1, 1.0), (0.9, 1.0)]],
    3: [_arc(0.46, 0.26, 0.32, 0.25, 200, 450) + _arc(0.46, 0.75, 0.36, 0.25, 270, 520)[1:]],
    4: [[(0.68, 1.0), (0.68, 0.0), (0.1, 0.68), (0.9, 0.68)]],
    5: [[(0.82, 0.0), (0.3, 0.0), (0.24, 0.44)] + _arc(0.48, 0.68, 0.34, 0.3, 225, 520)],
    6: [[(0.72, 0.0), (0.45, 0.2), (0.28, 0.45)] + _arc(0.5, 0.72, 0.29, 0.27, 200, 560, 16)],
    7: [[(0.1, 0.02), (0.9, 0.02), (0.4, 1.0)]],
    8: [_arc(0.5, 0.25, 0.25, 0.24, 0, 360, 14), _arc(0.5, 0.72, 0.31, 0.27, 0, 360, 16)],
    9: [_arc(0.5, 0.3, 0.3, 0.29, 0, 360, 16), [(0.8, 0.3), (0.72, 1.0)]],
}


def _glyph(strokes):
    """A digit's points (P, 2) and its segments as pairs of point indices (S, 2)."""
    points, pairs = [], []
    for line in strokes:
        first = len(points)
        points.extend(line)
        pairs.extend((i, i + 1) for i in range(first, len(points) - 1))
    return np.array(points), np.array(pairs)


def draw_digits(labels, rng):
    """One drawing per label: (n, 28, 28) uint8, each a digit of its own shape and pen,
    prepared as MNIST prepared its digits (``mnist_field``)."""
    n = len(labels)
    glyphs = [_glyph(GLYPHS[d]) for d in range(10)]
    n_points = max(len(p) for p, _ in glyphs)
    # every digit's points padded to n_points by repeating its last (masked out of the box below)
    padded = np.stack([np.concatenate([p, np.repeat(p[-1:], n_points - len(p), axis=0)]) for p, _ in glyphs])
    valid = np.arange(n_points) < np.array([len(p) for p, _ in glyphs])[labels][:, None]
    points = padded[labels] - 0.5 + rng.normal(0, 0.035, (n, n_points, 2))  # a wobbly hand
    slant = rng.uniform(-0.35, 0.25, n)[:, None]
    angle = np.radians(rng.uniform(-12, 12, n))[:, None]
    sx, sy = rng.uniform(0.7, 1.15, n)[:, None], rng.uniform(0.85, 1.1, n)[:, None]
    x = points[..., 0] * sx + slant * points[..., 1]
    y = points[..., 1] * sy
    x, y = np.cos(angle) * x - np.sin(angle) * y, np.sin(angle) * x + np.cos(angle) * y
    # on a 26x26 page, the longer side of the ink 22 pixels, the pen 1.4 to 3 of the 20 it will be
    pen = rng.uniform(1.4, 3.0, n) * 22 / 20
    lo_x, hi_x = np.where(valid, x, np.inf).min(1), np.where(valid, x, -np.inf).max(1)
    lo_y, hi_y = np.where(valid, y, np.inf).min(1), np.where(valid, y, -np.inf).max(1)
    scale = ((21 - pen) / np.maximum(hi_x - lo_x, hi_y - lo_y))[:, None]
    x = (x - (lo_x + hi_x)[:, None] / 2) * scale + 12.5
    y = (y - (lo_y + hi_y)[:, None] / 2) * scale + 12.5
    ends = np.stack([x, y], axis=-1).astype(np.float32)  # (n, n_points, 2)
    # ink: how far each pixel centre lies from the pen's path
    gx, gy = (g.reshape(1, -1, 1).astype(np.float32) for g in np.meshgrid(np.arange(26), np.arange(26)))
    pages = np.zeros((n, 26, 26))
    for digit, (_, pairs) in enumerate(glyphs):
        rows = np.flatnonzero(labels == digit)
        for lo in range(0, len(rows), 256):
            chunk = rows[lo : lo + 256]
            a, b = ends[chunk][:, pairs[:, 0]], ends[chunk][:, pairs[:, 1]]  # (m, S, 2) each
            ax, ay = a[:, None, :, 0], a[:, None, :, 1]  # (m, 1, S)
            abx, aby = b[:, None, :, 0] - ax, b[:, None, :, 1] - ay
            px, py = gx - ax, gy - ay  # (m, 676, S)
            t = np.clip((px * abx + py * aby) / np.maximum(abx * abx + aby * aby, 1e-12), 0, 1)
            px -= t * abx
            py -= t * aby
            d = np.sqrt((px * px + py * py).min(-1))  # (m, 676)
            pages[chunk] = np.clip(pen[chunk, None] / 2 + 0.5 - d, 0, 1).reshape(-1, 26, 26)
    return np.stack([mnist_field(page) for page in pages])


def _area_resample(n_out, n_in):
    """(n_out, n_in): each output the mean of the stretch of input it covers (n_out <= n_in)."""
    edges = np.arange(n_out + 1) * n_in / n_out
    j = np.arange(n_in)
    weights = np.clip(np.minimum(edges[1:, None], j + 1) - np.maximum(edges[:-1, None], j), 0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def mnist_field(page):
    """MNIST's preparation of a digit (ink in [0, 1] on a page larger than 20x20): cropped to
    its ink, shrunk (averaging areas) so the longer side is 20 pixels, the darkest ink set
    to 1, and placed in the 28x28 field with its centre of mass at the middle (14, 14), as
    whole pixels; (28, 28) uint8."""
    rows, cols = np.flatnonzero(page.any(axis=1)), np.flatnonzero(page.any(axis=0))
    ink = page[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = ink.shape
    nh, nw = max(1, int(h * 20 / max(h, w) + 0.5)), max(1, int(w * 20 / max(h, w) + 0.5))
    box = _area_resample(nh, h) @ ink @ _area_resample(nw, w).T
    box /= box.max()
    cy = box.sum(axis=1) @ np.arange(nh) / box.sum()
    cx = box.sum(axis=0) @ np.arange(nw) / box.sum()
    top = min(max(int(np.floor(14 - cy + 0.5)), 0), 28 - nh)
    left = min(max(int(np.floor(14 - cx + 0.5)), 0), 28 - nw)
    field = np.zeros((28, 28), np.uint8)
    field[top : top + nh, left : left + nw] = np.round(255 * box)
    return field


def synthetic_digits(n, rng, n_drawings=None, mislabelled=0.03):
    """(images (n, 28, 28) uint8, labels (n,) uint8): ``n_drawings`` drawings (default n // 10,
    at least 100), each the image of several labels; a share ``mislabelled`` of the images
    shows another digit than its label says (so every digit has its errors, as in MNIST)."""
    n_drawings = max(n_drawings or n // 10, 100)
    drawings = draw_digits(np.arange(n_drawings) % 10, rng)  # drawing k shows digit k % 10
    shown = rng.integers(0, 10, n)
    per_digit = np.bincount(np.arange(n_drawings) % 10, minlength=10)
    images = drawings[shown + 10 * rng.integers(0, per_digit[shown])]
    wrong = rng.random(n) < mislabelled
    labels = np.where(wrong, (shown + rng.integers(1, 10, n)) % 10, shown)
    return images, labels.astype(np.uint8)


def write_synthetic_mnist(folder, *, n_train=60_000, n_test=10_000, seed=0):
    """Write the four files into ``folder`` (created); return name -> (file name, SHA-256)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_images, train_labels = synthetic_digits(n_train, rng)
    test_images, test_labels = synthetic_digits(n_test, rng)
    arrays = {
        "train-images": train_images,
        "train-labels": train_labels,
        "test-images": test_images,
        "test-labels": test_labels,
    }
    files = {}
    for name, array in arrays.items():
        path = write_idx(folder / FILENAMES[name], array)
        files[name] = (FILENAMES[name], hashlib.sha256(path.read_bytes()).hexdigest())
    return files
