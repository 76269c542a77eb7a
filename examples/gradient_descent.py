"""Gradient descent in one dimension: the idea behind training, without the network.

Minimises f(x) = x**4 - 3 x**3 + 2, whose derivative is f'(x) = 4 x**3 - 9 x**2 and
whose minimum is at x = 9/4.  Starting at x = 6 with a step of 0.01, each step moves
x against the slope,

    x  ->  x - step * f'(x),

and the walk stops once a step moves x by no more than ``precision`` (1e-5).  It
stops at 2.249965 -- within the precision of the exact 2.25, approached from below.

Run:  python examples/gradient_descent.py
"""

from __future__ import annotations

import math


def f(x):
    """The function to minimise."""
    return x**4 - 3 * x**3 + 2


def df(x):
    """Its derivative, worked out by hand."""
    return 4 * x**3 - 9 * x**2


def descend(df, x0, step, precision, max_steps=1_000_000):
    """Follow -df downhill from ``x0`` until a step changes x by at most ``precision``.

    Returns the last x (the one reached by that final small step).  Raises
    RuntimeError if x stops being finite or ``max_steps`` steps are not enough --
    the signs of a step size too large for the slope.
    """
    if not step > 0 or not precision > 0:
        raise ValueError(f"step and precision must be > 0, got {step} and {precision}")
    x = float(x0)
    for _ in range(max_steps):
        try:
            moved = step * df(x)
            x -= moved
        except OverflowError:  # Python floats raise where NumPy would give inf
            x = math.inf
        if not math.isfinite(x):
            raise RuntimeError(f"descent diverged (step {step} is too large here)")
        if abs(moved) <= precision:
            return x
    raise RuntimeError(f"no convergence within {max_steps} steps")


def main():
    x_min = descend(df, x0=6.0, step=0.01, precision=1e-5)
    print(f"The local minimum occurs at {x_min:f}")


if __name__ == "__main__":
    main()
