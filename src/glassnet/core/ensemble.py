"""Chapter 6's ensembles: several trained networks that answer together.

The book ends chapter 6 by letting five networks vote on every test image (99.67%,
against about 99.6% for each network alone).  An ``Ensemble`` holds such members --
book ``Network``s (chapters 1-3) or ``LayerNetwork``s (chapter 6), mixed if you like,
all with the same number of inputs and outputs -- and combines their answers:

    feedforward(X)   p(X) = (1/k) sum_j p_j(X), the mean of the members' output
                     probabilities (a softmax output is one; a sigmoid output layer's
                     activations are made into one by ``functions.as_probabilities``)
    predict(X)       combine="mean": argmax_c p(X)_c
                     combine="vote": the class most members predict (each member's
                     prediction is argmax_c p_j(X)_c); a tie between classes goes to the
                     tied class with the largest mean probability (then the lowest index)
    measure(X, y)    (mean log-likelihood cost -ln p(X)_y of the mean probabilities,
                     number correct under ``combine``)

Shapes: X (m, n_in), or images (m, c, h, w) with c*h*w = n_in (flattened for every
member); y int labels (m,); probabilities (m, n_out) in float64.  NumPy only.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..labels import check_labels
from .functions import as_probabilities
from .layernet import LayerNetwork
from .network import Network

__all__ = ["Ensemble", "COMBINE_RULES", "member_sizes", "vote"]

#: the ways an ensemble turns its members' answers into one
COMBINE_RULES = ("mean", "vote")


def member_sizes(network):
    """``(n_in, n_out)`` of a ``Network`` or ``LayerNetwork``; TypeError for anything else."""
    if isinstance(network, LayerNetwork):
        return network.layers[0].n_in, network.n_out
    if isinstance(network, Network):
        return network.sizes[0], network.sizes[-1]
    raise TypeError(f"an ensemble member must be a Network or a LayerNetwork, got {type(network).__name__}")


def vote(predictions, mean_probabilities):
    """The classes most members predict, ties broken by the mean probabilities.

    predictions : int array (k, m), member j's predicted class for sample i at [j, i]
    mean_probabilities : (m, n_out), the members' mean probabilities (the tie-breaker)
    Returns an int array (m,).  A sample whose top vote count is shared by several
    classes gets, among those, the one with the largest mean probability (the lowest
    class index if that ties too).
    """
    predictions = np.asarray(predictions)
    m, n_out = mean_probabilities.shape
    counts = np.zeros((m, n_out), dtype=np.int64)
    rows = np.arange(m)
    for member in predictions:
        np.add.at(counts, (rows, member), 1)
    tied = counts == counts.max(axis=1, keepdims=True)                  # the classes with the top count
    return np.argmax(np.where(tied, mean_probabilities, -np.inf), axis=1)


class Ensemble:
    """Trained networks answering together (chapter 6's ensemble).

    Parameters
    ----------
    members : sequence of ``Network`` / ``LayerNetwork``, at least one, all with the same
        number of inputs (n_in) and outputs (n_out).  Held, not copied.
    combine : "mean" (default: argmax of the mean probabilities) or "vote" (majority of the
        members' predictions; ties to the tied class with the largest mean probability).
    """

    def __init__(self, members, combine="mean"):
        self.members = list(members)
        if not self.members:
            raise InputError("an ensemble needs at least one member, got none")
        sizes = [member_sizes(m) for m in self.members]
        for i, s in enumerate(sizes):
            if s != sizes[0]:
                raise InputError(f"ensemble members must share n_in and n_out: member 0 has "
                                 f"{sizes[0]}, member {i} has {s}")
        self.n_in, self.n_out = sizes[0]
        if combine not in COMBINE_RULES:
            raise InputError(f"combine must be one of {', '.join(COMBINE_RULES)}, got {combine!r}")
        self.combine = combine

    def __len__(self):
        return len(self.members)

    def __repr__(self):
        kinds = ", ".join(type(m).__name__ for m in self.members)
        return f"Ensemble([{kinds}], combine={self.combine!r})"

    # -- the members' answers --------------------------------------------------------
    def _inputs(self, X):
        X = np.asarray(X)
        if X.ndim < 2 or math.prod(X.shape[1:]) != self.n_in:
            raise InputError(f"inputs must have shape (m, {self.n_in}) (or images with {self.n_in} "
                             f"values each), got {X.shape}")
        return X.reshape(len(X), self.n_in)

    def member_probabilities(self, X):
        """Every member's output probabilities: float64 array (k, m, n_out) for X (m, n_in)."""
        X = self._inputs(X)
        out = np.empty((len(self.members), len(X), self.n_out))
        for j, member in enumerate(self.members):
            if isinstance(member, LayerNetwork):
                out[j] = member.feedforward(X)
            else:
                out[j] = as_probabilities(member.feedforward(X), member.output_activation.name)
        return out

    def feedforward(self, X):
        """The mean of the members' probabilities, float64 (m, n_out), rows summing to 1."""
        return self.member_probabilities(X).mean(axis=0)

    def _combined(self, P):
        """(mean probabilities (m, n_out), predictions (m,) by ``combine``) from P (k, m, n_out)."""
        mean = P.mean(axis=0)
        if self.combine == "mean":
            return mean, np.argmax(mean, axis=1)
        return mean, vote(np.argmax(P, axis=2), mean)

    def predict(self, X):
        """The ensemble's class for each row of X: int array (m,), by ``combine``."""
        return self._combined(self.member_probabilities(X))[1]

    # -- measuring -----------------------------------------------------------------
    def _labels(self, y, m):
        y = check_labels(np.asarray(y), self.n_out)
        if len(y) != m:
            raise InputError(f"{m} inputs but {len(y)} labels")
        return y

    def measure(self, X, y):
        """``(cost, number correct)`` over X (m, n_in) with int labels y (m,): the cost is the
        mean log-likelihood -(1/m) sum_i ln p(x_i)_{y_i} of the mean probabilities (each
        probability floored at 1e-300, so a confident mistake costs ~690, not infinity); the
        count is of predictions by ``combine`` that equal y."""
        P = self.member_probabilities(X)
        y = self._labels(y, P.shape[1])
        if len(y) == 0:
            return 0.0, 0
        mean, predicted = self._combined(P)
        cost = -float(np.mean(np.log(np.maximum(mean[np.arange(len(y)), y], 1e-300))))
        return cost, int(np.sum(predicted == y))

    def accuracy(self, X, y):
        """Fraction of the m samples the ensemble (by ``combine``) classifies correctly."""
        return self.measure(X, y)[1] / max(len(y), 1)

    def evaluate(self, test_data):
        """Number of samples of ``test_data`` = (X (m, n_in), y (m,)) classified correctly."""
        try:
            X, y = test_data
        except (TypeError, ValueError):
            raise InputError(f"test_data must be a pair (X, y), got {type(test_data).__name__}") from None
        return self.measure(X, y)[1]

    def breakdown(self, X, y):
        """Both rules and every member on X (m, n_in), y (m,), from one pass of each member:
        ``{"mean": correct, "vote": correct, "members": [correct of each member]}``."""
        P = self.member_probabilities(X)
        y = self._labels(y, P.shape[1])
        member_predictions = np.argmax(P, axis=2)                       # (k, m)
        mean = P.mean(axis=0)
        return {"mean": int(np.sum(np.argmax(mean, axis=1) == y)),
                "vote": int(np.sum(vote(member_predictions, mean) == y)),
                "members": [int(np.sum(p == y)) for p in member_predictions]}
