"""Data augmentation for MNIST-like images, in NumPy, redrawn every epoch.

Each image is resampled (bilinear) through a random affine map -- rotation, zoom and
shift -- plus an elastic distortion (Simard et al. 2003: a random displacement field
smoothed by a Gaussian and scaled by alpha).  All randomness comes from the Generator
passed in, so a seeded run is reproducible and resumable.

Shapes: ``X`` is (n, side*side) with one image a row, values in [0, 1].
"""

from __future__ import annotations

import numpy as np

__all__ = ["Augmenter", "gaussian_matrix", "centred_grid", "resample", "resample_rows"]


def gaussian_matrix(n, sigma):
    """(n, n) matrix G such that G @ f blurs a length-n signal f with a Gaussian (zero padding)."""
    i = np.arange(n)
    g = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
    return g / g.sum(axis=1, keepdims=True)


def centred_grid(side):
    """``(gy, gx)``: float32 arrays (side, side), every pixel's row and column measured from
    the image centre (side-1)/2 (so -13.5 .. 13.5 for MNIST's 28)."""
    grid = np.arange(side, dtype=np.float32) - (side - 1) / 2
    gy, gx = np.meshgrid(grid, grid, indexing="ij")
    return gy, gx


def resample_rows(side):
    """The most images of this side ``resample`` takes a call: m * (side+2)^2 < 2^24, so that
    its flat indices, summed in float32, stay exact integers (18,641 for side 28)."""
    return ((1 << 24) - 1) // (side + 2) ** 2


def resample(X, sy, sx, side):
    """Bilinear resampling: ``out[i, y, x]`` = image i of X read at (sy[i, y, x], sx[i, y, x]).

    X : (m, side*side) rows of images.  sy, sx : float32 arrays (m, side, side), the source
    row and column of every output pixel measured from the centre (side-1)/2 (``centred_grid``
    gives the identity); consumed (the function computes in them).  Pixels outside the image
    read as 0.  Returns (m, side*side) in X's dtype (float32 for float32 X).  At most
    ``resample_rows(side)`` images a call: call it a chunk of rows at a time.
    """
    m, f32 = len(X), np.float32
    most = resample_rows(side)
    if m > most:
        raise ValueError(f"resample takes at most {most} images of side {side} a call, got {m}")
    c = f32((side - 1) / 2 + 1)  # +1: index into the zero-padded image
    sy += c
    sx += c
    np.clip(sy, 0, side, out=sy)
    np.clip(sx, 0, side, out=sx)
    y0 = np.floor(sy)
    x0 = np.floor(sx)
    sy -= y0  # now the bilinear weights
    sx -= x0
    width = side + 2
    padded = np.zeros((m, width, width), dtype=X.dtype)
    padded[:, 1:-1, 1:-1] = X.reshape(m, side, side)
    flat = padded.reshape(-1)
    # flat index of every output pixel's top-left source neighbour, image offsets included
    # (summed in float32, exact for at most resample_rows(side) images; then int32)
    y0 *= width
    y0 += x0
    y0 += (np.arange(m, dtype=np.float32) * (width * width))[:, None, None]
    base = y0.astype(np.int32).reshape(m, -1)
    wy, wx = sy.reshape(m, -1), sx.reshape(m, -1)
    top = np.take(flat, base)
    base += 1
    top_right = np.take(flat, base)
    top_right -= top
    top_right *= wx
    top += top_right
    base += width
    bottom = np.take(flat, base)
    base -= 1
    bottom_left = np.take(flat, base)
    bottom -= bottom_left
    bottom *= wx
    bottom += bottom_left
    bottom -= top
    bottom *= wy
    top += bottom
    return top


class Augmenter:
    """``augmenter(X, rng) -> X'``: a distorted copy of the rows of X.

    The result lives in a buffer the augmenter reuses on its next call: use it (train an
    epoch on it), then call again; copy it to keep it.

    rotate : max rotation in degrees; zoom : max relative scale change; shift : max
    translation in pixels; elastic_alpha / elastic_sigma : strength and smoothness of
    the elastic field (0 alpha turns it off); side : image side (28 for MNIST).
    ``n_fields`` elastic fields are drawn per call and shared out at random.
    ``fraction`` : the share of rows distorted in each call; the others stay as they are,
    so the network keeps seeing clean digits like the test set's.
    """

    def __init__(
        self,
        rotate=12.0,
        zoom=0.12,
        shift=2.5,
        elastic_alpha=34.0,
        elastic_sigma=4.0,
        side=28,
        n_fields=2000,
        chunk=256,
        fraction=1.0,
    ):
        if not 0 <= fraction <= 1:
            raise ValueError(f"fraction must lie in 0..1, got {fraction}")
        if not 1 <= chunk <= resample_rows(side):
            raise ValueError(f"chunk must lie in 1..{resample_rows(side)} for images of side {side}, got {chunk}")
        self.fraction = fraction
        self._out = None
        self.rotate, self.zoom, self.shift = rotate, zoom, shift
        self.alpha, self.sigma = elastic_alpha, elastic_sigma
        self.side, self.n_fields, self.chunk = side, n_fields, chunk
        self._blur = gaussian_matrix(side, elastic_sigma).astype(np.float32)
        self._gy, self._gx = centred_grid(side)

    def __repr__(self):
        return (
            f"Augmenter(rotate={self.rotate}, zoom={self.zoom}, shift={self.shift}, "
            f"elastic_alpha={self.alpha}, elastic_sigma={self.sigma}, fraction={self.fraction})"
        )

    def _fields(self, rng):
        """n_fields smooth displacement fields, shape (2, n_fields, side, side)."""
        if not self.alpha:
            return None
        noise = rng.uniform(-1, 1, size=(2, self.n_fields, self.side, self.side)).astype(np.float32)
        smooth = self._blur @ noise @ self._blur.T
        # normalise each field so alpha means the same whatever sigma is
        smooth /= np.sqrt(np.mean(smooth**2, axis=(2, 3), keepdims=True)) + 1e-12
        return smooth * np.float32(self.alpha / self.side)

    def __call__(self, X, rng):
        X = np.asarray(X)
        n, side = len(X), self.side
        if X.ndim != 2 or X.shape[1] != side * side:
            raise ValueError(f"augment expects rows of {side * side} pixels, got shape {X.shape}")
        fields = self._fields(rng)
        # one output buffer, reused from epoch to epoch: a fresh 150 MB array every epoch
        # costs page faults and the allocator's map/unmap (the caller must not keep it)
        out = self._out
        if out is None or out.shape != X.shape or out.dtype != X.dtype:
            out = self._out = np.empty_like(X)
        if self.fraction >= 1:  # every row, in contiguous slices
            for start in range(0, n, self.chunk):
                out[start : start + self.chunk] = self._warp(X[start : start + self.chunk], rng, fields)
            return out
        rows = np.flatnonzero(rng.random(n) < self.fraction)
        np.copyto(out, X)
        for start in range(0, len(rows), self.chunk):
            chosen = rows[start : start + self.chunk]
            out[chosen] = self._warp(X[chosen], rng, fields)
        return out

    def _warp(self, X, rng, fields):
        m, side = len(X), self.side
        f32 = np.float32
        theta = np.deg2rad(rng.uniform(-self.rotate, self.rotate, m)).astype(f32)
        scale = (1 + rng.uniform(-self.zoom, self.zoom, m)).astype(f32)
        shift = rng.uniform(-self.shift, self.shift, (2, m)).astype(f32)
        cos, sin = np.cos(theta) / scale, np.sin(theta) / scale
        gy, gx = self._gy, self._gx
        # source coordinates of every output pixel: inverse rotation/zoom about the centre, minus shift
        sy = cos[:, None, None] * gy + sin[:, None, None] * gx - shift[0][:, None, None]
        sx = -sin[:, None, None] * gy + cos[:, None, None] * gx - shift[1][:, None, None]
        if fields is not None:
            pick = rng.integers(0, fields.shape[1], m)
            sy += fields[0][pick]
            sx += fields[1][pick]
        return resample(X, sy, sx, side)
