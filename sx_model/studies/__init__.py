"""Studies: many solves of one cascade (design, curve, optimize, sweep), on cascade objects.

Every study takes a :class:`~sx_model.cascade.Cascade` and an optional ``executor`` (see
:mod:`sx_model.studies.executors`) that decides where the solves run.
"""
from .design import curve, design
from .executors import SerialExecutor
from .optimize import optimize, pareto
from .problem import Targets, TwoProductProblem, parse_target
from .sweep import sweep

__all__ = ["design", "curve", "optimize", "pareto", "sweep", "Targets", "TwoProductProblem", "parse_target",
           "SerialExecutor"]
