"""The functions of ``import sx_model``: studies that also accept a config file path or mapping.

Each loads the config (the input edge) when it is given one and then calls the study on the cascade
object (:mod:`sx_model.studies`).
"""
from __future__ import annotations

from collections.abc import Mapping


def _cascade(config):
    from .cascade import Cascade
    from .config import load_config

    return config if isinstance(config, Cascade) else load_config(config)


def design(config, targets, *, name=None, executor=None, robust=None, limits=None, decide=None,
           strip_target=None):
    """Design on a Cascade, a config path or a mapping.

    ``targets`` as :class:`~sx_model.studies.problem.Targets` (separation-factor cascades: shortcut
    theory checked by simulation, :func:`sx_model.studies.design`), or a mapping product -> purity or
    (purity, recovery) for any model (stage counts and scrub acid by simulation,
    :func:`sx_model.studies.general.design_by_simulation`, with its operating ``limits`` and further
    decision variables ``decide``, e.g. ``["strip.acid", "feed.stage"]``, see
    :mod:`sx_model.studies.decisions`)."""
    cascade = _cascade(config)
    if isinstance(targets, Mapping):
        from .studies.general import design_by_simulation

        return design_by_simulation(cascade, _pairs(targets), executor=executor, robust=robust, limits=limits,
                                    decide=decide, strip_target=strip_target)
    _by_simulation_only(limits=limits, decide=decide, strip_target=strip_target)
    from .studies import design as run

    return run(cascade, targets, name=name, executor=executor, robust=robust)


def _by_simulation_only(**given):
    from .errors import ConfigError

    for name, value in given.items():
        if value is not None:
            raise ConfigError(name, "applies to designs by simulation: give the targets as a mapping product -> "
                                    "purity (any model), not as Targets (shortcut theory)")


def _pairs(targets):
    return {k: (v if isinstance(v, tuple) else (v, None)) for k, v in targets.items()}


def curve(config, targets, totals, *, executor=None, limits=None, decide=None):
    """Best purities against total stage count on a Cascade, a config path or a mapping: with
    :class:`~sx_model.studies.problem.Targets`, :func:`sx_model.studies.curve` (separation factors);
    with a mapping product -> purity or (purity, recovery), any model
    (:func:`sx_model.studies.general.curve_by_simulation`)."""
    cascade = _cascade(config)
    if isinstance(targets, Mapping):
        from .studies.general import curve_by_simulation

        return curve_by_simulation(cascade, _pairs(targets), totals, executor=executor, limits=limits,
                                   decide=decide)
    _by_simulation_only(limits=limits, decide=decide)
    from .studies import curve as run

    return run(cascade, targets, totals, executor=executor)


def optimize(config, targets, *, max_stages=None, executor=None, robust=None, limits=None, decide=None,
             strip_target=None):
    """Cheapest design on a Cascade, a config path or a mapping: with
    :class:`~sx_model.studies.problem.Targets`, :func:`sx_model.studies.optimize` (separation factors,
    optionally robust); with a mapping product -> purity or (purity, recovery), any model
    (:func:`sx_model.studies.general.optimize_by_simulation`: designs by simulation over organic flows,
    optionally robust)."""
    cascade = _cascade(config)
    if isinstance(targets, Mapping):
        from .studies.general import optimize_by_simulation

        return optimize_by_simulation(cascade, _pairs(targets), max_stages=max_stages, executor=executor,
                                      robust=robust, limits=limits, decide=decide, strip_target=strip_target)
    _by_simulation_only(limits=limits, decide=decide, strip_target=strip_target)
    from .studies import optimize as run

    return run(cascade, targets, max_stages=max_stages, executor=executor, robust=robust)


def pareto(config, targets, *, max_stages=None, executor=None, robust=None, limits=None, decide=None,
           strip_target=None):
    """:func:`sx_model.studies.pareto` on a Cascade, a config path or a mapping."""
    return optimize(config, targets, max_stages=max_stages, executor=executor, robust=robust, limits=limits,
                    decide=decide, strip_target=strip_target)


def operating_window(config, targets, inputs=None, *, span=0.2):
    """:func:`sx_model.studies.window.operating_window` on a Cascade, a config path or a mapping;
    ``targets``: product -> purity or (purity, recovery)."""
    from .studies.window import operating_window as run

    pairs = {k: (v if isinstance(v, tuple) else (v, None)) for k, v in dict(targets).items()}
    return run(_cascade(config), pairs, inputs, span=span)


def sweep(config, vary, *, executor=None, progress=None):
    """Sweep a Cascade, config path or mapping over ``vary``: a mapping or list of (dotted config path,
    values), values as in a config (``"40 L/min"``, ``12``), or ready (label, values, apply) triples."""
    from .config.edits import variable
    from .studies import sweep as run

    cascade = _cascade(config)
    items = list(vary.items()) if isinstance(vary, Mapping) else list(vary)
    triples = [item if len(item) == 3 else (item[0], list(item[1]), variable(item[0], cascade))
               for item in items]
    return run(cascade, triples, executor=executor, progress=progress)


def sensitivity(config, inputs=None, *, result=None):
    """:func:`sx_model.studies.sensitivity.sensitivity` on a Cascade, a config path or a mapping."""
    from .studies.sensitivity import sensitivity as run

    return run(_cascade(config), inputs, result=result)


def compare_reagents(configs, *, labels=None, targets=None, executor=None):
    """Reagents (acid fed, saponification base; by cascade and in total) and products of several
    Cascades, config paths or mappings, the first the baseline (a linked train against the unlinked
    one it replaces): :func:`sx_model.studies.linking.compare_reagents`. ``targets`` maps product names
    to purities every config must reach."""
    from .studies.linking import compare_reagents as run

    return run([_cascade(c) for c in configs], labels=labels, targets=targets, executor=executor)
