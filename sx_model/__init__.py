"""sx_model: multistage countercurrent solvent-extraction cascades (rare earths, copper).

The public API is small; heavy modules are imported on first use so that ``import sx_model`` and the
command line start quickly::

    import sx_model
    cascade = sx_model.load_config("configs/prnd_p507.yaml")
    result = sx_model.solve(cascade)
    print(result.products["loaded_organic"].purity, result.mass_balance_error)
"""
from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "load_config": ("sx_model.config", "load_config"),
    "solve": ("sx_model.solvers.steady", "solve"),
    "SteadyOptions": ("sx_model.solvers.steady", "SteadyOptions"),
    "to_config": ("sx_model.config", "to_config"),
    "design": ("sx_model.api", "design"),
    "curve": ("sx_model.api", "curve"),
    "Targets": ("sx_model.studies.problem", "Targets"),
    "sweep": ("sx_model.api", "sweep"),
    "compare_reagents": ("sx_model.api", "compare_reagents"),
    "optimize": ("sx_model.api", "optimize"),
    "pareto": ("sx_model.api", "pareto"),
    "sensitivity": ("sx_model.api", "sensitivity"),
    "operating_window": ("sx_model.api", "operating_window"),
    "batch_contact": ("sx_model.batch", "batch_contact"),
    "IllPosedCascade": ("sx_model.errors", "IllPosedCascade"),
    "SerialExecutor": ("sx_model.studies.executors", "SerialExecutor"),
    "ProcessExecutor": ("sx_model.studies.executors", "ProcessExecutor"),
    "DaskExecutor": ("sx_model.studies.executors", "DaskExecutor"),
    "Cascade": ("sx_model.cascade", "Cascade"),
    "SteadyResult": ("sx_model.results", "SteadyResult"),
    "ConfigError": ("sx_model.errors", "ConfigError"),
    "ConvergenceError": ("sx_model.errors", "ConvergenceError"),
    "SxModelError": ("sx_model.errors", "SxModelError"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'sx_model' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__():
    return __all__
