"""``--vary KEY=SPEC`` at the input edge: dotted config paths and value specs -> cascade edits.

:func:`parse_vary` reads the text; :func:`variable` turns a path into a function
``apply(cascade, value) -> cascade`` that converts the value to SI (with the same checks as the config
file) and edits the cascade object (:meth:`~sx_model.cascade.Cascade.replace`). Stage counts, stream
flows, acid and feed concentrations are edited directly; any other config path goes through the
config (written with :meth:`~sx_model.cascade.Cascade.to_config`, changed, read back), so every key a
config has can be varied.
"""
from __future__ import annotations

import copy
import math
import re

from ..errors import ConfigError
from . import checks as v

_RANGE = re.compile(r"^\s*([-+0-9.eE]+)\s*:\s*([-+0-9.eE]+)\s*(?::\s*([-+0-9.eE]+))?\s*(.*)$")
#: Most values one --vary may give [-] (a guard against typing 1:1e9).
MAX_VALUES = 100_000


def parse_vary(text: str):
    """``PATH=SPEC`` -> (path, list of values). SPEC is ``start:stop[:step] [unit]`` (stop included)
    or a comma-separated list (``1.2,1.4,1.6`` or ``40 L/min,45 L/min``)."""
    if "=" not in text:
        raise ConfigError("--vary", f"{text!r}; expected KEY=SPEC such as sections.scrub.stages=10:40:5")
    path, _, spec = text.partition("=")
    path, spec = path.strip(), spec.strip()
    if not path or not spec:
        raise ConfigError("--vary", f"{text!r}; expected KEY=SPEC such as sections.scrub.stages=10:40:5")
    match = _RANGE.match(spec)
    values = _range(spec, match) if match else [_scalar(x.strip()) for x in spec.split(",") if x.strip()]
    if not values:
        raise ConfigError("--vary", f"{spec!r} gives no values")
    return path, values


def _range(spec, match):
    try:
        start, stop = float(match.group(1)), float(match.group(2))
        step = float(match.group(3)) if match.group(3) else 1.0
    except ValueError:
        raise ConfigError("--vary", f"{spec!r}; expected start:stop[:step] with numbers") from None
    if not all(math.isfinite(x) for x in (start, stop, step)) or step <= 0 or stop < start:
        raise ConfigError("--vary", f"{spec!r}; expected finite start <= stop and a positive step")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    if count > MAX_VALUES:
        raise ConfigError("--vary", f"{spec!r} gives {count} values; expected at most {MAX_VALUES}")
    # rounded to 12 significant digits: 0.28 + 1 x 0.02 is 0.30000000000000004 in binary
    numbers = [float(f"{start + k * step:.12g}") for k in range(count)]
    unit = match.group(4).strip()
    if unit:
        return [f"{x:.10g} {unit}" for x in numbers]
    if all(float(x).is_integer() for x in (start, step)):
        return [int(round(x)) for x in numbers]
    return numbers


def _scalar(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def set_path(config: dict, path: str, value):
    """Set a dotted path in a config mapping; the path must already exist up to its parent."""
    keys = path.split(".")
    node = config
    for depth, key in enumerate(keys[:-1]):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError("--vary", f"{path!r}: no key {'.'.join(keys[:depth + 1])!r} in the config")
        node = node[key]
    if not isinstance(node, dict):
        raise ConfigError("--vary", f"{path!r}: {'.'.join(keys[:-1])!r} is not a mapping")
    node[keys[-1]] = value


def variable(path: str, cascade, check: bool = True):
    """``apply(cascade, value) -> cascade`` for a dotted config path of ``cascade`` (ConfigError if the
    cascade has no such key). The edited cascade is checked as a loaded config is
    (:meth:`~sx_model.cascade.Cascade.check`), so a value is refused exactly when the same value
    written in the config would be. With ``check=False`` the value is still read with the config's
    checks but the whole cascade is not (for several edits in a row: check the last one)."""
    edit = _edit(path, cascade)
    if edit is None:
        return _through_config(path)      # build_cascade checks it
    if not check:
        return edit

    def apply(c, value):
        edited = edit(c, value)
        edited.check()
        return edited
    return apply


def _edit(path, cascade):
    """The direct edit of ``path`` on a cascade, or None for paths changed through the config."""
    keys = path.split(".")
    sections = {s.name for s in cascade.circuit.sections}
    streams = {i.name for i in cascade.circuit.inlets} | {"organic"}
    if len(keys) == 3 and keys[0] == "sections" and keys[2] == "stages" and keys[1] in sections:
        def stages(c, value):
            from .layout import max_stages

            count = v.integer(value, path, minimum=1, what="a stage count >= 1")
            most = max_stages() - (c.stage_count - c.stages()[keys[1]])
            if count > most:
                raise ConfigError(path, f"{count} stages; expected at most {most} (the cascade may have "
                                        f"{max_stages()} stages in all)")
            return c.replace(stages={keys[1]: count})
        return stages
    if len(keys) == 3 and keys[0] == "streams" and keys[1] in streams and keys[2] in ("flow", "acid"):
        kind = "flow" if keys[2] == "flow" else "concentration"
        field = "flows" if keys[2] == "flow" else "acid"
        return lambda c, value: c.replace(**{field: {keys[1]: v.quantity(
            value, kind, path, positive=kind == "flow", nonnegative=True)}})
    if (len(keys) == 4 and keys[0] == "streams" and keys[2] == "concentration"
            and keys[3] in cascade.components and keys[1] in streams):
        from .layout import concentration

        def conc(c, value):
            return c.replace(concentrations={keys[1]: {keys[3]: concentration(value, path)}})
        return conc
    per_element = _per_element_edit(keys, cascade, path)
    if per_element is not None:
        return per_element
    set_path(copy.deepcopy(cascade.to_config()), path, None)   # the path must exist
    return None


def _per_element_edit(keys, cascade, path):
    """Direct edits of the dimensionless per-element constants that map one to one onto a model
    parameter (separation factors of separation_factor, D of constant_d), read with the config's own
    checks; about a hundred times faster than going through the config (Monte Carlo edits them per
    sample)."""
    from .models import _beta, read_d

    if len(keys) != 3 or keys[0] != "equilibrium" or keys[2] not in cascade.components:
        return None
    name, read = {("separation_factor", "separation_factors"): ("separation_factors", _beta),
                  ("constant_d", "distribution"): ("distribution", read_d)}.get(
        (cascade.model.name, keys[1]), (None, None))
    if name is None:
        return None
    index = list(cascade.components).index(keys[2])

    def edit(c, value):
        values = list(c.model.parameters()[name])
        values[index] = read(value, path)
        return c.replace(**{name: values})
    return edit


def _through_config(path):
    def apply(cascade, value):
        from .layout import build_cascade

        data = cascade.to_config()
        set_path(data, path, value)
        return build_cascade(data)
    return apply
