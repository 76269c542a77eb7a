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

import warnings

import numpy as np

from ..errors import InputError
from .dataforms import check_input, check_labels_for
from .model import KINDS, Trainable, buffer_shapes, buffers_of, model_from_header, parameter_shapes, register_kind

__all__ = ["Ensemble", "COMBINE_RULES", "member_sizes", "vote", "answers_from"]

#: the ways an ensemble turns its members' answers into one
COMBINE_RULES = ("mean", "vote")


def member_sizes(network):
    """``(n_in, n_out)`` of a trained network (a ``Trainable`` model); TypeError for anything
    else (an ensemble is not a member: join their members instead)."""
    if not isinstance(network, Trainable):
        raise TypeError(
            f"an ensemble member must be a trained network (a Network or a LayerNetwork), got {type(network).__name__}"
        )
    return network.n_in, network.n_out


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
    tied = counts == counts.max(axis=1, keepdims=True)  # the classes with the top count
    return np.argmax(np.where(tied, mean_probabilities, -np.inf), axis=1)


def answers_from(P):
    """Every way members answer, from their probabilities P (k, m, n_out) (member j's for
    sample i at [j, i]): ``{"probabilities": the mean (m, n_out), "members": each member's
    classes (k, m), "mean": argmax of the mean (m,), "vote": the majority vote (m,)}``."""
    mean, members = P.mean(axis=0), np.argmax(P, axis=2)
    return {"probabilities": mean, "members": members, "mean": np.argmax(mean, axis=1), "vote": vote(members, mean)}


@register_kind
class Ensemble:
    """Trained networks answering together (chapter 6's ensemble).

    Parameters
    ----------
    members : sequence of ``Network`` / ``LayerNetwork``, at least one, all with the same
        number of inputs (n_in) and outputs (n_out).  Held, not copied.
    combine : "mean" (default: argmax of the mean probabilities) or "vote" (majority of the
        members' predictions; ties to the tied class with the largest mean probability).

    It meets the model protocol of ``core.model`` (not ``Trainable``: its members are trained).
    """

    kind = "ensemble"
    format_version = 3  # of its header (``header``, ``from_header``)

    def __init__(self, members, combine="mean"):
        self.members = list(members)
        if not self.members:
            raise InputError("an ensemble needs at least one member, got none")
        sizes = [member_sizes(m) for m in self.members]
        for i, s in enumerate(sizes):
            if s != sizes[0]:
                raise InputError(
                    f"ensemble members must share n_in and n_out: member 0 has {sizes[0]}, member {i} has {s}"
                )
        self.n_in, self.n_out = sizes[0]
        if combine not in COMBINE_RULES:
            raise InputError(f"combine must be one of {', '.join(COMBINE_RULES)}, got {combine!r}")
        self.combine = combine

    def __len__(self):
        return len(self.members)

    def __repr__(self):
        kinds = ", ".join(type(m).__name__ for m in self.members)
        return f"Ensemble([{kinds}], combine={self.combine!r})"

    # -- the model protocol (``core.model``) -----------------------------------------
    @property
    def input_shape(self):
        return self.members[0].input_shape

    @property
    def dtype(self):
        return self.members[0].dtype

    @property
    def seed(self):
        return self.members[0].seed

    def astype(self, dtype):
        """An ensemble of copies of the members in ``dtype`` (itself when they all are)."""
        if all(m.dtype == np.dtype(dtype) for m in self.members):
            return self
        return Ensemble([m.astype(dtype) for m in self.members], self.combine)

    def header(self):
        """The ensemble as JSON-able data: its rule and each member's own ``header()``."""
        return {
            "format_version": self.format_version,
            "network": "ensemble",
            "combine": self.combine,
            "members": [m.header() for m in self.members],
        }

    def named_parameters(self):
        """``{"m0_w0": ..., "m0_b0": ..., "m1_w0": ...}``: member i's arrays, prefixed."""
        return {f"m{i}_{name}": a for i, m in enumerate(self.members) for name, a in m.named_parameters().items()}

    def named_buffers(self):
        """``{"m0_running_mean1": ..., ...}``: member i's buffers (batch normalisation), prefixed."""
        return {f"m{i}_{name}": a for i, m in enumerate(self.members) for name, a in buffers_of(m).items()}

    @staticmethod
    def _member_headers(header):
        members = header.get("members")
        if header.get("network") != "ensemble" or not isinstance(members, list) or not members:
            raise ValueError("a version-3 model needs network 'ensemble' and a non-empty list of member headers")
        for i, m in enumerate(members):
            if not isinstance(m, dict) or KINDS.get(m.get("format_version")) in (None, Ensemble):
                raise ValueError(
                    f"(member {i}): a member header needs the format version of a network, "
                    f"got {m.get('format_version') if isinstance(m, dict) else m!r}"
                )
        return members

    @staticmethod
    def parameter_shapes(header):
        """Every member's parameter shapes, named m{i}_{name}, from the header alone."""
        shapes = {}
        for i, m in enumerate(Ensemble._member_headers(header)):
            try:
                shapes.update({f"m{i}_{k}": v for k, v in parameter_shapes(m).items()})
            except ValueError as e:
                raise ValueError(f"(member {i}): {e}") from None
        return shapes

    @staticmethod
    def buffer_shapes(header):
        """Every member's buffer shapes (``named_buffers``), named m{i}_{name}."""
        members = Ensemble._member_headers(header)
        return {f"m{i}_{k}": v for i, m in enumerate(members) for k, v in buffer_shapes(m).items()}

    @classmethod
    def from_header(cls, header, arrays):
        """The ensemble ``header`` describes, each member rebuilt from its header and arrays."""
        networks = []
        for i, m in enumerate(cls._member_headers(header)):
            own = {k[len(f"m{i}_") :]: a for k, a in arrays.items() if k.startswith(f"m{i}_")}
            try:
                networks.append(model_from_header(m, own))
            except ValueError as e:
                raise ValueError(f"(member {i}): {e}") from None
        combine = header.get("combine", "mean")
        if not isinstance(combine, str):
            raise ValueError("header field 'combine' must be a name")
        return cls(networks, combine=combine)

    def describe(self, compact=False):
        """ "ensemble of 5 × (784-30-10), mean of their probabilities" ("ensemble of 17: 8 × A;
        9 × B, ..." when they differ, a run of equal members counted); compact: "ensemble of 5
        784-30-10 (mean)", "ensemble of 17 [8 x A, 9 x B] (mean)"."""
        if compact:
            members = [m.describe(compact=True) for m in self.members]
            what = members[0] if len(set(members)) == 1 else "[" + ", ".join(_counted_runs(members, "x")) + "]"
            return f"ensemble of {len(members)} {what} ({self.combine})"
        members = [m.describe() for m in self.members]
        rule = "mean of their probabilities" if self.combine == "mean" else "majority vote"
        if len(set(members)) == 1:
            return f"ensemble of {len(members)} \u00d7 ({members[0]}), {rule}"
        runs = "; ".join(_counted_runs(members, "\u00d7"))
        return f"ensemble of {len(members)}: {runs}, {rule}"

    def layer_names(self):
        """Member 0's layer names."""
        return self.members[0].layer_names()

    def summary(self):
        """JSON-able facts for pages: sizes in and out, the members and their rule."""
        return {
            "sizes": [self.n_in, self.n_out],
            "members": len(self),
            "combine": self.combine,
            "activation": None,
            "output_activation": "softmax",
            "cost": "log-likelihood",
            "layers": [{"name": "mean of the members' probabilities", "shape": [self.n_out], "activation": "softmax"}],
        }

    def details(self):
        """Lines for people beyond ``describe()``: each member's."""
        return [f"member {i}: {m.describe(compact=True)}" for i, m in enumerate(self.members)]

    def layer_specs(self):
        """None of its own: each member has its chain (``members[i].layer_specs()``)."""
        raise InputError(
            "an ensemble has one chain of layers per member: use ensemble_members(ensemble), "
            "or to_onnx / export_onnx, which average the members"
        )

    def first_layer_weights(self):
        """Member 0's first-layer weights."""
        return self.members[0].first_layer_weights()

    def layer_outputs(self, X):
        """[the mean probabilities (m, n_out)]: the members' layers are their own."""
        return [self.feedforward(X)]

    def probabilities(self, X):
        """The mean of the members' probabilities (m, n_out), float64."""
        return self.feedforward(X)

    def input_gradient(self, x, k=None):
        """``(d p_k / dx, k)`` of the mean probabilities p, k None: the most likely class."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        p = self.feedforward(x.reshape(1, -1))[0]
        if k is None:
            k = int(np.argmax(p))
        elif isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or not 0 <= k < len(p):
            raise InputError(f"digit must be an integer 0..{len(p) - 1}, got {k!r}")
        return np.mean([m.probability_gradient(x, int(k)) for m in self.members], axis=0), int(k)

    def probability_gradient(self, x, k):
        return self.input_gradient(x, k)[0]

    # -- the members' answers --------------------------------------------------------
    def member_probabilities(self, X):
        """Every member's output probabilities: float64 array (k, m, n_out) for X (m, n_in)."""
        X = check_input(X, self.n_in)
        out = np.empty((len(self.members), len(X), self.n_out))
        for j, member in enumerate(self.members):
            out[j] = member.probabilities(X)
        return out

    def feedforward(self, X):
        """The mean of the members' probabilities, float64 (m, n_out), rows summing to 1."""
        return self.member_probabilities(X).mean(axis=0)

    def answers(self, X):
        """Every way the members answer, from one pass of each over X (m, n_in):
        ``{"probabilities": the mean probabilities (m, n_out), "members": each member's
        classes (k, m), "mean": argmax of the mean (m,), "vote": the majority vote (m,)}``."""
        return answers_from(self.member_probabilities(X))

    def predict(self, X):
        """The ensemble's class for each row of X: int array (m,), by ``combine``."""
        return self.answers(X)[self.combine]

    # -- measuring -----------------------------------------------------------------
    def _labels(self, y, m):
        return check_labels_for(y, self.n_out, m)

    def measure(self, X, y, forward=None):
        """``(cost, number correct)`` over X (m, n_in) with int labels y (m,): the cost is the
        mean log-likelihood -(1/m) sum_i ln p(x_i)_{y_i} of the mean probabilities (each
        probability floored at 1e-300, so a confident mistake costs ~690, not infinity); the
        count is of predictions by ``combine`` that equal y.  ``forward`` is not used (the
        members choose their own)."""
        answers = self.answers(X)
        mean = answers["probabilities"]
        y = self._labels(y, len(mean))
        if len(y) == 0:
            return 0.0, 0
        cost = -float(np.mean(np.log(np.maximum(mean[np.arange(len(y)), y], 1e-300))))
        return cost, int(np.sum(answers[self.combine] == y))

    def score(self, X, y):
        """Accuracy: the fraction of the m samples the ensemble (by ``combine``) classifies correctly."""
        return self.measure(X, y)[1] / max(len(y), 1)

    def accuracy(self, X, y):
        """Deprecated name of ``score`` (glassnet names the fraction ``score``, the count ``evaluate``)."""
        warnings.warn(
            "Ensemble.accuracy is deprecated: use score (a fraction) or evaluate (a count)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.score(X, y)

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
        answers = self.answers(X)
        y = self._labels(y, answers["members"].shape[1])
        return {
            "mean": int(np.sum(answers["mean"] == y)),
            "vote": int(np.sum(answers["vote"] == y)),
            "members": [int(np.sum(p == y)) for p in answers["members"]],
        }


def _counted_runs(names, times):
    """["A", "A", "B", "A"] -> ["2 x A", "B", "A"] (times "x"): each run of equal names once,
    counted when it is longer than one (the members keep their order)."""
    runs = []
    for name in names:
        if runs and runs[-1][1] == name:
            runs[-1][0] += 1
        else:
            runs.append([1, name])
    return [name if k == 1 else f"{k} {times} {name}" for k, name in runs]
