"""Exception classes of sx_model.

Library code raises these; only the command line turns them into a message and an exit code
(2 for :class:`ConfigError`, 1 for :class:`ConvergenceError`).
"""
from __future__ import annotations


class SxModelError(Exception):
    """Base class of all sx_model errors."""


class ConfigError(SxModelError, ValueError):
    """Invalid input: names the config key, the value given and what was expected.

    Parameters
    ----------
    key : str
        Dotted path of the offending config key (``streams.feed.flow``); empty for whole-file errors.
    message : str
        What was given and what was expected, one line.
    """

    def __init__(self, key: str, message: str):
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)

    def __reduce__(self):          # picklable, so that errors travel back from worker processes
        return (type(self), (self.key, self.message))


class ConvergenceError(SxModelError, RuntimeError):
    """The solver did not converge; carries diagnostics, never a result.

    Attributes
    ----------
    residual_norm : float
        Scaled residual (max norm) at the last iterate [-].
    worst_stage : int
        1-based stage number holding the largest scaled residual.
    worst_component : str
        Component (or equation) name at the worst stage.
    iterations : int
        Newton iterations spent.
    best_iterate : dict or None
        The best state reached: ``aqueous`` and ``organic`` concentrations [mol/m^3], shape (N, C)
        (for inspection, never to be used as a result).
    diagnostics : dict
        What was tried and where it failed (strategies, residual, worst stage and equation).
    """

    def __init__(self, message: str, *, residual_norm: float = float("nan"), worst_stage: int = 0,
                 worst_component: str = "", iterations: int = 0, best_iterate=None, diagnostics=None):
        self.residual_norm = residual_norm
        self.worst_stage = worst_stage
        self.worst_component = worst_component
        self.iterations = iterations
        self.best_iterate = best_iterate
        self.diagnostics = dict(diagnostics or {})
        self._message = message
        detail = (f" (scaled residual {residual_norm:.3g} at stage {worst_stage}, "
                  f"{worst_component}; {iterations} iterations)") if worst_stage else ""
        super().__init__(message + detail)

    def __reduce__(self):          # picklable, so that errors travel back from worker processes
        return (_convergence_error, (self._message, self.residual_norm, self.worst_stage, self.worst_component,
                                     self.iterations, self.best_iterate, self.diagnostics))


class IllPosedCascade(ConvergenceError):
    """The cascade's steady state is not determined by its inputs to working precision.

    Raised when the cascade sits on the material-balance edge (the organic leaves loaded with exactly
    the extractable share of the feed): a change of the organic flow by a millionth of itself moves the
    composition front between the sections by many stages. ``diagnostics["edge"]`` holds the probe:
    the relative flow change, how many stages moved, and the products' purities on both sides.
    """

    def __reduce__(self):
        return (_ill_posed, (self._message, self.residual_norm, self.worst_stage, self.worst_component,
                             self.iterations, self.best_iterate, self.diagnostics))


def _ill_posed(message, residual_norm, worst_stage, worst_component, iterations, best, diagnostics):
    return IllPosedCascade(message, residual_norm=residual_norm, worst_stage=worst_stage,
                           worst_component=worst_component, iterations=iterations, best_iterate=best,
                           diagnostics=diagnostics)


def _convergence_error(message, residual_norm, worst_stage, worst_component, iterations, best, diagnostics):
    return ConvergenceError(message, residual_norm=residual_norm, worst_stage=worst_stage,
                            worst_component=worst_component, iterations=iterations, best_iterate=best,
                            diagnostics=diagnostics)
