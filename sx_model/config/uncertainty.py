"""The ``uncertainty:`` section of a config: distributions on inputs, for Monte Carlo studies.

::

    uncertainty:
      samples: 1000                 # default for sx-model uncertainty (--samples overrides)
      seed: 1                       # default 0; the same seed gives the same samples
      sampling: latin_hypercube     # or random
      inputs:                       # dotted config paths, as --vary takes them
        equilibrium.separation_factors.Nd: {distribution: normal, sd: 1.7 %}
        streams.organic.flow: {distribution: normal, sd: 0.5 %}
        streams.scrub.acid: {distribution: uniform, half_width: 0.05 mol/L}
        streams.feed.concentration.Nd: {distribution: lognormal, sd: 2 %}
      targets:                      # product: purity or "purity,recovery" (as --target)
        raffinate: 0.995

Spreads are relative to the input's nominal value (``"1.7 %"``) or absolute in the input's own
dimension (``"0.2 L/min"``; a bare number for dimensionless inputs such as separation factors).
``normal``: nominal + sd z; ``lognormal``: nominal exp(sd z) (relative sd only; median = nominal);
``uniform``: nominal +- half_width. The section is read here and checked against the cascade (every
path must be a continuous input of it); the cascade itself ignores it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import ConfigError
from . import checks as v

DISTRIBUTIONS = {"normal": "sd", "lognormal": "sd", "uniform": "half_width"}
SAMPLING = ("latin_hypercube", "random")
SECTION_KEYS = frozenset({"samples", "seed", "sampling", "inputs", "targets"})
#: Most samples one study may ask for (a guard against typing 1e9).
MAX_SAMPLES = 1_000_000
_PERCENT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*%\s*$")
_SI_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*)$")


@dataclass(frozen=True)
class Spread:
    """One uncertain input: ``path`` with nominal value ``nominal`` [SI ``unit``] and a distribution.

    ``scale`` is the sd (normal), the sd of ln (lognormal) or the half width (uniform); relative to the
    nominal when ``relative`` (a fraction), else absolute [SI]."""

    path: str
    distribution: str
    scale: float
    relative: bool
    nominal: float
    unit: str

    def value(self, z: float, u: float) -> float:
        """The input at a standard-normal quantile ``z`` (normal, lognormal) or a uniform ``u`` in (0, 1)."""
        width = self.scale * abs(self.nominal) if self.relative else self.scale
        if self.distribution == "normal":
            return self.nominal + width * z
        if self.distribution == "lognormal":
            return self.nominal * math.exp(self.scale * z)
        return self.nominal + width * (2.0 * u - 1.0)

    def text(self, value: float):
        """The value as the config edit takes it (SI with its unit, or a bare number)."""
        return f"{value!r} {self.unit}" if self.unit else value


@dataclass(frozen=True)
class UncertaintySpec:
    spreads: tuple
    samples: int | None
    seed: int
    sampling: str
    targets: dict                 # product -> (purity, recovery or None)


def read_uncertainty(section, cascade) -> UncertaintySpec:
    """Check the ``uncertainty`` section against ``cascade`` and return what it asks for."""
    from .edits import variable

    key = "uncertainty"
    section = v.mapping(section, key)
    v.check_keys(section, key, SECTION_KEYS, required=("inputs",))
    samples = None
    if "samples" in section:
        samples = v.integer(section["samples"], f"{key}.samples", minimum=1, what="a sample count >= 1")
        if samples > MAX_SAMPLES:
            raise ConfigError(f"{key}.samples", f"{samples}; expected at most {MAX_SAMPLES}")
    seed = v.integer(section.get("seed", 0), f"{key}.seed", minimum=0, what="a seed >= 0")
    sampling = section.get("sampling", "latin_hypercube")
    if sampling not in SAMPLING:
        raise ConfigError(f"{key}.sampling", f"{sampling!r}; expected one of {', '.join(SAMPLING)}")
    inputs = v.mapping(section["inputs"], f"{key}.inputs")
    if not inputs:
        raise ConfigError(f"{key}.inputs", "is empty; expected at least one input with a distribution")
    spreads = []
    config = cascade.to_config()
    for path, spec in inputs.items():
        where = f"{key}.inputs.{path}"
        nominal, unit = _nominal(config, str(path), where)
        variable(str(path), cascade)                 # the path must be editable
        spreads.append(_spread(str(path), spec, nominal, unit, where))
    targets = _targets(section.get("targets", {}), cascade, f"{key}.targets")
    return UncertaintySpec(spreads=tuple(spreads), samples=samples, seed=seed, sampling=sampling,
                           targets=targets)


def _nominal(config, path, where):
    node = config
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(where, f"the config has no key {path!r}; expected a dotted path of a "
                                     "continuous input such as streams.organic.flow")
        node = node[part]
    if path.split(".")[-1] in ("stages", "stage"):
        raise ConfigError(where, f"{path!r} is a whole number (a stage count or position); expected a "
                                 "continuous input")
    if isinstance(node, bool) or not isinstance(node, (int, float, str)):
        raise ConfigError(where, f"{path!r} = {node!r}; expected a numeric input")
    if isinstance(node, (int, float)):
        return float(node), ""
    match = _SI_NUMBER.match(node)
    if not match:
        raise ConfigError(where, f"{path!r} = {node!r}; expected a numeric input")
    return float(match.group(1)), match.group(2).strip()


def _spread(path, spec, nominal, unit, where):
    spec = v.mapping(spec, where)
    kind = spec.get("distribution")
    if kind not in DISTRIBUTIONS:
        raise ConfigError(f"{where}.distribution", f"{kind!r}; expected one of {', '.join(DISTRIBUTIONS)}")
    width_key = DISTRIBUTIONS[kind]
    v.check_keys(spec, where, {"distribution", width_key}, required=("distribution", width_key))
    raw = spec[width_key]
    at = f"{where}.{width_key}"
    match = _PERCENT.match(raw) if isinstance(raw, str) else None
    if match:
        scale, relative = float(match.group(1)) / 100.0, True
    elif kind == "lognormal":
        raise ConfigError(at, f"{raw!r}; expected a relative spread such as '2 %' (lognormal)")
    elif unit:
        from .units import SI_UNITS, to_si

        kinds = [k for k, (_, u) in SI_UNITS.items() if u == unit]
        if not kinds:
            raise ConfigError(at, f"{raw!r}: give this input's spread in % of its value")
        scale, relative = to_si(raw, kinds[0], at), False
    else:
        scale = v.number(raw, at, minimum=0.0)
        relative = False
    if not math.isfinite(scale) or scale < 0:
        raise ConfigError(at, f"{raw!r}; expected a spread >= 0")
    if relative and scale > 10.0:
        raise ConfigError(at, f"{raw!r}; expected at most 1000 %")
    return Spread(path=path, distribution=kind, scale=scale, relative=relative, nominal=nominal, unit=unit)


def _targets(section, cascade, key):
    section = v.mapping(section, key)
    out = {}
    for product, value in section.items():
        at = f"{key}.{product}"
        if product not in cascade.product_keys:
            raise ConfigError(at, f"no keyed product {product!r}; expected one of "
                                  f"{', '.join(cascade.product_keys) or '(none)'}")
        parts = value.split(",") if isinstance(value, str) else [value]
        what = "purity[,recovery] strictly between 0 and 1, such as 0.995 or '0.995,0.98'"
        if len(parts) > 2:
            raise ConfigError(at, f"{value!r}; expected {what}")
        numbers = [v.number(p.strip() if isinstance(p, str) else p, at, exclusive_minimum=0.0,
                            exclusive_maximum=1.0, what=what) for p in parts]
        out[str(product)] = (numbers[0], numbers[1] if len(numbers) == 2 else None)
    return out
