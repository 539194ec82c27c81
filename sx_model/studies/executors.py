"""Executors: where a study's cascade solves run.

A study hands its cascades to an executor and gets back, for each, a
:class:`~sx_model.results.SteadyResult` or the :class:`~sx_model.errors.SxModelError` that the solve
raised (a failed point is data, not the end of the study). :class:`SerialExecutor` (the default) solves
in the calling process, each solve warm-started from the last converged one, which is what makes
sweeps along a range fast. A process pool or a distributed scheduler plugs in by offering the same
two methods:

``solve(cascade)``
    One cascade, now.
``map(cascades)``
    An iterable of cascades -> an iterator of outcomes in the same order.
"""
from __future__ import annotations

from ..errors import SxModelError


class SerialExecutor:
    """Solve in this process, in order, warm-starting each solve from the previous converged result.

    Parameters
    ----------
    warm : bool
        Warm-start from the previous result (default True).
    options : SteadyOptions, optional
        Solver options for every solve.
    """

    def __init__(self, warm: bool = True, options=None):
        self.warm = warm
        self.options = options
        self.previous = None

    def solve(self, cascade):
        from ..solvers.steady import solve

        try:
            result = solve(cascade, initial=self.previous if self.warm else None, options=self.options)
        except SxModelError as exc:
            return exc
        self.previous = result
        return result

    def map(self, cascades):
        """Outcomes in order; an item that is already an error (inputs that could not be applied)
        is passed through."""
        for cascade in cascades:
            yield cascade if isinstance(cascade, SxModelError) else self.solve(cascade)
