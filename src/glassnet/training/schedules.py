"""Learning-rate schedules that depend on the epoch alone, written once.

``cosine_eta`` is the schedule ``TrainingConfig(schedule="cosine")`` names; the estimator's
``partial_fit`` follows it one call (one epoch) at a time.  (Halving on plateaus depends on
the validation accuracy, so it lives with the loop's state in ``loop``.)
"""

from __future__ import annotations

import math

__all__ = ["cosine_eta"]


def cosine_eta(eta, epoch, epochs):
    """eta_t = eta (1 + cos(pi t / epochs)) / 2 for epoch t = 0 .. epochs - 1 (eta at the first,
    near 0 at the last); an epoch past the last keeps the last one's rate."""
    t = min(epoch, epochs - 1)
    return eta * 0.5 * (1 + math.cos(math.pi * t / epochs))
