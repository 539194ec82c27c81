"""The input edge: YAML and pint in, typed SI objects out.

``load_config`` reads a YAML file (or a mapping), checks every value (units with pint, ranges, keys) and
builds a :class:`~sx_model.cascade.Cascade` whose numbers are SI floats; ``to_config`` writes a cascade
back as a mapping. Nothing downstream of this package (models, solvers, studies) sees YAML or pint.
Every problem is reported as one :class:`~sx_model.errors.ConfigError` naming the key, the value and
what was expected; see ``docs/config.md`` for the format.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping

from ..errors import ConfigError
from .files import read_yaml
from .layout import RESERVED_STREAMS, build_cascade

__all__ = ["load_config", "read_yaml", "build_cascade", "to_config", "dump_yaml", "RESERVED_STREAMS"]


def load_config(source):
    """Build a :class:`~sx_model.cascade.Cascade` from a YAML file path or an already-parsed mapping.

    A flowsheet (a mapping with ``cascades`` and ``links``, see :mod:`sx_model.config.flowsheet`) gives
    the one cascade of its joined cascades.

    Raises
    ------
    ConfigError
        On any invalid input, naming the key, the value and what was expected; also where the
        inputs admit no steady state that can be told before solving (a stage one phase does not pass,
        scrub acid that strips more than the organic carries, saponification beyond the chloride).
    """
    from .flowsheet import is_flowsheet, read_flowsheet

    if isinstance(source, Mapping):
        data = copy.deepcopy(dict(source))
        _not_a_train_feed(data)
        return read_flowsheet(data).cascade() if is_flowsheet(data) else build_cascade(data)
    import os

    from .systems import relative_to

    data = read_yaml(source)
    _not_a_train_feed(data)
    if is_flowsheet(data):                 # cascades joined by links (sx_model.flowsheet)
        return read_flowsheet(data, os.path.dirname(os.path.abspath(os.fspath(source)))).cascade()
    with relative_to(source):              # a system file named by the config is found next to it
        return build_cascade(data)


def _not_a_train_feed(data):
    """A train's feed file (``feed`` and ``capacity``, no cascade keys) given where a cascade config is
    expected: say what it is and which command takes it."""
    if (isinstance(data, Mapping) and "feed" in data and "capacity" in data
            and not any(k in data for k in ("components", "equilibrium", "streams", "sections", "cascades"))):
        raise ConfigError("feed", "this is a train's feed file (feed, capacity, system), not a cascade "
                                  "config; expected components, equilibrium, sections and streams "
                                  "(design a train from it with `sx-model train FILE`)")


def load_uncertainty(source):
    """(cascade, :class:`~sx_model.config.uncertainty.UncertaintySpec`) from a config file path or
    mapping with an ``uncertainty:`` section (ConfigError if it has none or it is invalid)."""
    from .uncertainty import read_uncertainty

    data = copy.deepcopy(dict(source)) if isinstance(source, Mapping) else read_yaml(source)
    cascade = build_cascade(data)
    if "uncertainty" not in data:
        raise ConfigError("uncertainty", "the config has no uncertainty section; expected one with "
                                         "inputs and their distributions (see docs/config.md)")
    return cascade, read_uncertainty(data["uncertainty"], cascade)


def to_config(cascade) -> dict:
    """A config mapping that :func:`load_config` reads back into ``cascade`` (values in SI units)."""
    from .writer import to_config as write

    return write(cascade)


def dump_yaml(cascade, header: str = "") -> str:
    """``cascade`` as YAML config text, with ``header`` lines as comments on top."""
    import yaml

    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + yaml.safe_dump(to_config(cascade), sort_keys=False)
