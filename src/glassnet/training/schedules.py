"""Learning-rate schedules written once, as pure functions.

``cosine_eta`` is the schedule ``TrainingConfig(schedule="cosine")`` names: a rate per
epoch; the estimator's ``partial_fit`` follows it one call (one epoch) at a time.
``one_cycle_eta`` is ``schedule="one-cycle"``: a rate per mini-batch, a function of the step
number within the whole run, so a run resumed at an epoch's end continues it exactly (the
step at the start of epoch j is j times the mini-batches per epoch); ``one_cycle_epoch``
gives one epoch's rates, for the loop and for the estimator's ``partial_fit`` (one call is
one epoch).  (Halving on plateaus depends on the validation accuracy, so it lives with the
loop's state in ``loop``.)
"""

from __future__ import annotations

import math

__all__ = ["SCHEDULES", "cosine_eta", "one_cycle_eta", "one_cycle_epoch", "one_cycle_peak"]

#: the schedules ``TrainingConfig`` knows
SCHEDULES = ("constant", "halve", "cosine", "one-cycle")


def cosine_eta(eta, epoch, epochs):
    """eta_t = eta (1 + cos(pi t / epochs)) / 2 for epoch t = 0 .. epochs - 1 (eta at the first,
    near 0 at the last); an epoch past the last keeps the last one's rate."""
    t = min(epoch, epochs - 1)
    return eta * 0.5 * (1 + math.cos(math.pi * t / epochs))


def one_cycle_peak(steps, warmup=0.25):
    """The step at which one-cycle reaches its peak: round(warmup (steps - 1))."""
    return round(warmup * (steps - 1))


def one_cycle_eta(eta, step, steps, *, warmup=0.25, div=25.0, final_div=1e4):
    """The one-cycle rate of mini-batch ``step`` (0 .. steps - 1) of a run of ``steps``.

    With T = steps - 1 and the peak at p = round(warmup T) (``one_cycle_peak``):

        t <= p:  eta_t = eta/div + (eta - eta/div) t / p                       (warm up, linear)
        t >= p:  eta_t = eta_end + (eta - eta_end) (1 + cos(pi (t - p) / (T - p))) / 2
                 with eta_end = eta / final_div                                   (anneal, cosine)

    so eta_0 = eta/div, eta_p = eta, eta_T = eta/final_div; rising up to p, falling after.
    A step past the last keeps the last one's rate; a run of one step takes eta.
    """
    last = steps - 1
    t, peak = min(max(step, 0), last), one_cycle_peak(steps, warmup)
    if t < peak:
        start = eta / div
        return start + (eta - start) * t / peak
    if t == peak:
        return eta
    end = eta / final_div
    return end + (eta - end) * 0.5 * (1 + math.cos(math.pi * (t - peak) / (last - peak)))


def one_cycle_epoch(eta, epoch, epochs, n_batches):
    """The one-cycle rates of epoch ``epoch`` (0 .. epochs - 1) of a run of ``epochs`` epochs of
    ``n_batches`` mini-batches each: a list of n_batches rates, the k-th the ``one_cycle_eta``
    of step epoch * n_batches + k of the run's epochs * n_batches (an epoch past the last
    keeps the last step's rate)."""
    steps, first = epochs * n_batches, epoch * n_batches
    return [one_cycle_eta(eta, first + k, steps) for k in range(n_batches)]
