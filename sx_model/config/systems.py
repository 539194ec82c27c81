"""Extractant systems shipped as package data (``data/extractants.yaml``).

A system is an extractant in a medium (P507 in chloride, ...) with separation factors, a reference
extraction constant, pH correlations for base metals and the pH window its data apply to; every value
carries its source and a tag (measured / reference / derived / estimated). ``sx-model systems`` lists
them; a ``mass_action`` or ``ph_correlation`` config may name one (``equilibrium.system``) and override
any value. ``equilibrium.system`` may also be the path of a YAML file holding one entry in the same
format (``{key: {...}}``, as ``sx-model fit --system-out`` writes it), relative to the config file
(within :func:`relative_to`) or to the working directory.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import ConfigError


#: Tags from strongest to weakest.
TAG_ORDER = {"measured": 0, "fitted": 1, "reference": 2, "derived": 3, "estimated": 4}


@dataclass(frozen=True)
class System:
    """One extractant system (see module docstring). ``data`` is the raw mapping from the data file."""

    key: str
    data: dict = field(repr=False)
    sources: dict = field(repr=False, default_factory=dict)

    @property
    def name(self) -> str:
        return self.data.get("name", self.key)

    @property
    def extractant(self) -> str:
        return str(self.data.get("extractant", self.key))

    @property
    def ph_validity(self) -> tuple:
        low, high = self.data.get("ph_validity", (0.0, 6.0))
        return float(low), float(high)

    def _beta(self, element):
        entry = (self.data.get("separation_factors") or {}).get(element)
        return None if entry is None else float(entry["value"]), entry

    def log_k(self, element):
        """(log10 K, source description) for ``element``, or None.

        From the reference constant and the separation factors: log10 K_i = log10 K_ref +
        log10(beta_i / beta_ref); else an explicit ``log_k`` entry of the system.
        """
        ref = self.data.get("log_k_reference")
        beta, entry = self._beta(element)
        if ref is not None and beta is not None:
            ref_beta, _ = self._beta(ref["element"])
            if ref_beta:
                value = float(ref["value"]) + math.log10(beta / ref_beta)
                how = (f"{self.key}: log10 K_{ref['element']} = {float(ref['value']):g} "
                       f"({ref.get('source')}, {ref.get('tag')}) + log10 beta {element}/{ref['element']} "
                       f"({entry.get('source')}, {entry.get('tag')})")
                return value, how
        explicit = (self.data.get("log_k") or {}).get(element)
        if explicit is not None and explicit.get("usable", True):
            return float(explicit["value"]), f"{self.key}: {explicit.get('source')} ({explicit.get('tag')})"
        return None

    def ph_correlation(self, element):
        """(entry, source description) with slope, intercept, at [mol/m^3], or None."""
        raw = (self.data.get("ph_correlation") or {}).get(element)
        if raw is None:
            return None
        entry = {"slope": float(raw["slope"]), "intercept": float(raw["intercept"]),
                 "extractant_order": float(raw.get("extractant_order", 0.0))}
        at = raw.get("extractant_concentration")
        if at is not None:
            from .units import to_si

            entry["at"] = to_si(at, "concentration", f"{self.key}.ph_correlation.{element}")
        return entry, f"{self.key}: {raw.get('source')} ({raw.get('tag')})"

    def coverage(self) -> dict:
        """Elements covered and how: {'log_k': [...], 'ph_correlation': [...], 'tags': {el: tag}}."""
        beta = self.data.get("separation_factors") or {}
        covered = [el for el in beta if self.log_k(el) is not None]
        covered += [el for el in (self.data.get("log_k") or {}) if el not in covered
                    and self.log_k(el) is not None]
        corr = list((self.data.get("ph_correlation") or {}))
        explicit = self.data.get("log_k") or {}
        ref = self.data.get("log_k_reference")
        tags = {}
        for el in covered:
            if el in beta and ref is not None:
                # a constant built from the reference and a separation factor is as weak as the
                # weaker of the two
                pair = [ref.get("tag", ""), (beta.get(el) or {}).get("tag", "")]
                pair = [t for t in pair if t != "reference"] or ["reference"]
                tags[el] = max(pair, key=lambda t: TAG_ORDER.get(t, len(TAG_ORDER)))
            else:
                tags[el] = (explicit.get(el) or {}).get("tag", "")
        return {"log_k": covered, "ph_correlation": corr, "tags": tags,
                "reference": self.data.get("log_k_reference")}


@lru_cache(maxsize=1)
def _data():
    import importlib.resources

    import yaml

    text = importlib.resources.files("sx_model").joinpath("data/extractants.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def all_systems() -> dict:
    """Key -> :class:`System` for every system in the package data."""
    data = _data()
    return {key: System(key, body, data.get("sources", {})) for key, body in data["systems"].items()}


#: Directory of the config being read (for system files named relative to it).
_CONFIG_DIR = contextvars.ContextVar("config_dir", default=None)


@contextlib.contextmanager
def relative_to(config_path):
    """Within this block, system files are looked up next to ``config_path`` first."""
    token = _CONFIG_DIR.set(os.path.dirname(os.path.abspath(os.fspath(config_path))))
    try:
        yield
    finally:
        _CONFIG_DIR.reset(token)


def _from_file(name: str, key: str) -> System:
    """The one entry of a system file (``{key: {...}}``); its key is the file's absolute path."""
    from .files import read_yaml

    here = _CONFIG_DIR.get()
    candidates = [name] if os.path.isabs(name) else [os.path.join(d, name) for d in (here, os.getcwd()) if d]
    path = next((c for c in candidates if os.path.isfile(c)), None)
    if path is None:
        raise ConfigError(key, f"system file {name!r} not found (looked in {', '.join(map(repr, candidates))})")
    data = read_yaml(path)
    if len(data) != 1 or not isinstance(next(iter(data.values())), dict):
        raise ConfigError(key, f"{name!r}: expected one system entry, {{name: {{extractant: ..., log_k: ...}}}}")
    return System(os.path.abspath(path), next(iter(data.values())), {})


def get(name, key: str = "equilibrium.system") -> System:
    """The system called ``name`` (its key or any alias, case-insensitive), or the entry of the YAML file
    ``name`` (ending in .yaml or .yml); ConfigError if unknown."""
    if isinstance(name, str) and name.strip().lower().endswith((".yaml", ".yml")):
        return _from_file(name.strip(), key)
    systems = all_systems()
    if isinstance(name, str):
        wanted = name.strip().lower()
        for sys_key, system in systems.items():
            aliases = [str(a).lower() for a in system.data.get("aliases", [])]
            if wanted == sys_key.lower() or wanted in aliases:
                return system
    raise ConfigError(key, f"unknown extractant system {name!r}; expected one of {', '.join(systems)} "
                           "(see `sx-model systems`)")
