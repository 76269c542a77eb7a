"""Test-time augmentation: a model answers for several views of each image, averaged.

A network trained on distorted digits still sees each test digit once, as it is.  Looking
at it a few ways -- moved by a pixel, turned a little -- and averaging the output
probabilities smooths out answers that hang on where exactly the ink fell:

    p_tta(x) = (1/7) sum_v p(view_v(x))        over the 7 ``VIEWS``

The views are the image itself, its 4 one-pixel shifts (up, down, left, right; zero fill)
and its rotations by -4 and +4 degrees about the centre (bilinear, the sampler of
``augment.resample``).  They were chosen on MNIST's validation images, before the test
set: averaging over them raised two ``record``-preset networks on the validation images
from 9964 / 9964 to 9966 / 9967, and their 2-ensemble from 9966 to 9967; on the test set,
the 17-member record ensemble went from 9,973 to 9,975.

An ensemble's members each average their own views; the members then combine by the
ensemble's own rule (``core.ensemble.answers_from``: the mean of their probabilities, or
the majority of their classes with its tie rule).

Only square images of one channel have views: a model taking side*side values (784 =
28x28 for MNIST and Fashion-MNIST, 64 = 8x8 for scikit-learn's digits) or (1, side, side).
Shapes: X (m, side*side), one image a row, values in [0, 1]; views (7, m, side*side);
probabilities (m, n_out) in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.dataforms import check_input, square_side
from ..core.ensemble import answers_from
from ..core.functions import as_probabilities
from ..engines import forward_for
from ..errors import InputError
from .augment import centred_grid, resample, resample_rows

__all__ = ["View", "VIEWS", "shift", "rotate", "views", "tta_side", "tta_answers", "tta_probabilities", "tta_predict"]


@dataclass(frozen=True)
class View:
    """One way of looking at an image: moved by (dy, dx) whole pixels (``shift``: +dy down,
    +dx right, zero fill), then turned by ``degrees`` about its centre (``rotate``)."""

    name: str
    dy: int = 0
    dx: int = 0
    degrees: float = 0.0

    def apply(self, X, side):
        """This view of every row of X (m, side*side): (m, side*side)."""
        moved = shift(X, self.dy, self.dx, side)
        return rotate(moved, self.degrees, side) if self.degrees else moved


#: the 7 views, chosen on MNIST's validation images (never the test set): the image, its
#: one-pixel shifts and its rotations by -4 and +4 degrees
VIEWS = (
    View("identity"),
    View("up", dy=-1),
    View("down", dy=1),
    View("left", dx=-1),
    View("right", dx=1),
    View("rotate -4", degrees=-4.0),
    View("rotate +4", degrees=4.0),
)


def _images(X, side):
    """X as float rows (m, side*side) (float32 unless X is floating already); InputError otherwise."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != side * side:
        raise InputError(f"views need rows of {side}x{side} = {side * side} pixels, got shape {X.shape}")
    return X if X.dtype.kind == "f" else X.astype(np.float32)


def shift(X, dy, dx, side):
    """Every image of X (m, side*side) moved dy rows down and dx columns right (negative: up,
    left), whole pixels; what comes in from the edge is 0.  Returns a new (m, side*side)."""
    X = _images(X, side)
    images = X.reshape(len(X), side, side)
    out = np.zeros_like(images)
    if abs(dy) < side and abs(dx) < side:
        out[:, max(dy, 0) : side + min(dy, 0), max(dx, 0) : side + min(dx, 0)] = images[
            :, max(-dy, 0) : side + min(-dy, 0), max(-dx, 0) : side + min(-dx, 0)
        ]
    return out.reshape(len(X), side * side)


def rotate(X, degrees, side):
    """Every image of X (m, side*side) turned by ``degrees`` about its centre (side-1)/2,
    counter-clockwise as drawn for positive degrees: the Augmenter's map at a fixed angle
    (no zoom, no shift), through the same bilinear sampler (``augment.resample``).  Pixels
    read from outside the image are 0; 0 degrees gives the image back exactly."""
    X = _images(X, side)
    theta = np.float32(np.deg2rad(degrees))
    cos, sin = np.cos(theta), np.sin(theta)
    gy, gx = centred_grid(side)
    # source of every output pixel: the inverse rotation, as Augmenter._warp computes it
    source_y, source_x = cos * gy + sin * gx, -sin * gy + cos * gx
    out = np.empty_like(X)
    step = resample_rows(side)
    for start in range(0, len(X), step):
        rows = X[start : start + step]
        shape = (len(rows), side, side)
        sy, sx = np.broadcast_to(source_y, shape).copy(), np.broadcast_to(source_x, shape).copy()
        out[start : start + step] = resample(rows, sy, sx, side)
    return out


def views(X, side):
    """The ``VIEWS`` of every row of X (m, side*side), images with values in [0, 1]: a float
    array (7, m, side*side), view v of image i at [v, i] (in X's dtype when it is floating,
    else float32)."""
    X = _images(X, side)
    return np.stack([view.apply(X, side) for view in VIEWS])


def tta_side(model):
    """The image side of a model's input when it is a square of one channel (784 -> 28,
    (1, 8, 8) -> 8); InputError naming its input otherwise."""
    shape = tuple(model.input_shape)
    side = None
    if len(shape) == 1:
        side = square_side(shape[0])
    elif len(shape) == 3 and shape[0] == 1 and shape[1] == shape[2]:
        side = shape[1]
    if side is None:
        raise InputError(
            f"test-time augmentation needs square images of one channel (side x side values, "
            f"e.g. 784 = 28x28); this model takes {'x'.join(map(str, shape))}"
        )
    return side


def tta_answers(model, X, chunk=2000):
    """Every way a model answers with test-time augmentation, as ``Ensemble.answers`` gives
    them: ``{"probabilities": (m, n_out), "members": each member's classes (k, m), "mean": (m,),
    "vote": (m,)}``, where member j's probabilities for image i are the mean of its
    probabilities over the 7 ``VIEWS`` of X[i] (one network: k = 1, and all of it is that
    network's).  X (m, n_in) or images (m, 1, side, side).  Each member's forward pass is the
    fastest one for data like X (``engines.forward_for``); the views are made ``chunk`` images
    at a time, once for every member.  InputError for a model without square one-channel images."""
    side = tta_side(model)
    X = check_input(X, model.n_in)
    X = X if X.dtype.kind == "f" else X.astype(np.float32)
    members = model.members
    passes = [(forward_for(member, X)[1], member.summary()["output_activation"]) for member in members]
    P = np.zeros((len(members), len(X), model.n_out))
    for start in range(0, len(X), chunk):
        rows = X[start : start + chunk]
        V = views(rows, side).reshape(len(VIEWS) * len(rows), model.n_in)
        for j, (forward, output) in enumerate(passes):
            p = as_probabilities(forward(V), output).reshape(len(VIEWS), len(rows), model.n_out)
            P[j, start : start + len(rows)] = p.mean(axis=0)
    return answers_from(P)


def tta_probabilities(model, X):
    """(m, n_out) float64: the model's probabilities averaged over the 7 ``VIEWS`` of each row
    of X (m, n_in); an ensemble's, the mean over its members of each member's average."""
    return tta_answers(model, X)["probabilities"]


def tta_predict(model, X):
    """The class (m,) of each row of X with test-time augmentation: the argmax of
    ``tta_probabilities``; an ensemble's by its rule (``combine``: mean or vote of its
    members' averaged answers)."""
    return tta_answers(model, X)[getattr(model, "combine", "mean")]
