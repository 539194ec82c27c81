"""Small readers for config mappings that raise :class:`ConfigError` naming the key path."""
from __future__ import annotations

import math
from collections.abc import Mapping

from ..errors import ConfigError
from .units import to_si


def join(key: str, sub) -> str:
    return f"{key}.{sub}" if key else str(sub)


def mapping(value, key: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"expected a mapping of keys to values, got {value!r}")
    return value


def check_keys(value: Mapping, key: str, allowed, required=()) -> None:
    """Reject unknown keys (listing the valid ones) and report missing required keys."""
    for name in value:
        if name not in allowed:
            raise ConfigError(join(key, name), f"unknown key {name!r}; valid keys here: "
                                               f"{', '.join(sorted(allowed))}")
    for name in required:
        if name not in value:
            raise ConfigError(join(key, name), "required key is missing")


def number(value, key: str, *, minimum=None, maximum=None, exclusive_minimum=None,
           exclusive_maximum=None, what: str = "a number") -> float:
    """A dimensionless number with optional bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(key, f"{value!r} is not a number; expected {what}") from None
        else:
            raise ConfigError(key, f"{value!r} is not a number; expected {what}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(key, f"{value!r} is not finite; expected {what}")
    if minimum is not None and value < minimum:
        raise ConfigError(key, f"{value:g} is below {minimum:g}; expected {what}")
    if maximum is not None and value > maximum:
        raise ConfigError(key, f"{value:g} is above {maximum:g}; expected {what}")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        raise ConfigError(key, f"{value:g} is not above {exclusive_minimum:g}; expected {what}")
    if exclusive_maximum is not None and value >= exclusive_maximum:
        raise ConfigError(key, f"{value:g} is not below {exclusive_maximum:g}; expected {what}")
    return value


def integer(value, key: str, *, minimum=None, what="an integer") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"{value!r} is not an integer; expected {what}")
    if minimum is not None and value < minimum:
        raise ConfigError(key, f"{value} is below {minimum}; expected {what}")
    return int(value)


def quantity(value, kind: str, key: str, *, positive=False, nonnegative=False) -> float:
    """A dimensional value (string with units) converted to SI; optionally required > 0 or >= 0."""
    si = to_si(value, kind, key)
    if not math.isfinite(si):
        raise ConfigError(key, f"{value!r} is not finite")
    if positive and si <= 0:
        raise ConfigError(key, f"{value!r} must be greater than zero")
    if nonnegative and si < 0:
        raise ConfigError(key, f"{value!r} must not be negative")
    return si


def text(value, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, f"{value!r} is not text; expected a string")
    return value


def component_values(value, key: str, components, *, read, require_all=True, allow_extra=False) -> dict:
    """Read a mapping component -> value, checking the component names.

    ``read(raw, key)`` converts one entry. Components not in ``components`` are an error unless
    ``allow_extra`` (then they are ignored).
    """
    from ..elements import elements

    value = mapping(value, key)
    known = elements()
    out = {}
    for name, raw in value.items():
        sub = join(key, name)
        if name not in components:
            if name not in known:
                raise ConfigError(sub, f"unknown element {name!r}; expected one of the config's "
                                       f"components ({', '.join(components)})")
            if allow_extra:
                continue
            raise ConfigError(sub, f"{name!r} is not one of the config's components "
                                   f"({', '.join(components)})")
        out[name] = read(raw, sub)
    if require_all:
        missing = [c for c in components if c not in out]
        if missing:
            raise ConfigError(join(key, missing[0]), f"no value given for component {missing[0]!r}; "
                                                     f"every component ({', '.join(components)}) needs one")
    return out
