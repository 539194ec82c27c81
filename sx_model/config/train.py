"""Feed files of ``sx-model train``: the feed of a train of separation-factor cascades and its extractant.

A feed file names the extractant system whose separation factors apply (package data, ``sx-model
systems``), optionally overrides some of them, and gives the organic's capacity, the scrub acid and the
feed liquor:

```yaml
name: Ion-adsorption clay liquor
system: p507_chloride            # separation factors from the package's extractant data
separation_factors: {Y: 9450}    # optional: replace the system's values (same scale)
capacity: 0.18 mol/L             # REE loading of the saponified organic
scrub_acid: 4 mol/L              # optional (default 4 mol/L)
feed:
  flow: 2 L/min
  concentration: {La: 0.02 mol/L, Ce: 0.01 mol/L, ...}
cost: {...}                      # optional: cost parameters, as in a cascade config
```

A cascade config (``separation_factor`` model, one aqueous feed) may be given instead: its feed stream,
separation factors, capacity, scrub acid and cost section are used, its stages and flows are not.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from . import checks as v

FEED_KEYS = frozenset({"name", "description", "notes", "system", "separation_factors", "capacity",
                       "half_loading", "scrub_acid", "feed", "cost"})
STREAM_KEYS = frozenset({"flow", "concentration"})
#: Scrub acid when the feed file gives none [mol/m^3] (4 mol/L HCl; as sx_model.studies.problem).
DEFAULT_SCRUB_ACID = 4000.0


@dataclass
class TrainFeed:
    """The feed of a train and its extractant (SI units)."""

    name: str
    components: tuple           # as given in the file
    separation_factors: np.ndarray
    capacity: float             # mol/m^3 of organic
    scrub_acid: float           # mol/m^3 H+
    flow: float                 # m^3/s
    concentration: np.ndarray   # mol/m^3
    cost_parameters: dict | None
    system: str | None = None
    source: str = "feed file"

    @property
    def amounts(self) -> np.ndarray:
        """Metal fed per component [mol/s]."""
        return self.flow * self.concentration

    def beta(self, component) -> float:
        return float(self.separation_factors[self.components.index(component)])

    def order(self) -> list:
        """Components from the least to the most extractable."""
        return sorted(self.components, key=self.beta)


def read_train_feed(source) -> TrainFeed:
    """A feed file (path or mapping) or a separation-factor cascade config -> :class:`TrainFeed`
    (ConfigError naming the key)."""
    from . import load_config
    from .files import read_yaml

    base_dir = None
    if isinstance(source, Mapping):
        data = source
    else:
        data = read_yaml(source)
        base_dir = os.path.dirname(os.path.abspath(os.fspath(source)))
    v.mapping(data, "")
    if "components" in data or "equilibrium" in data or "streams" in data:
        if "cascades" in data:
            raise ConfigError("cascades", "a flowsheet; expected a feed file or a cascade config")
        return from_cascade(load_config(source), source="cascade config")
    v.check_keys(data, "", FEED_KEYS, required=("feed", "capacity"))
    mapping = _as_cascade_config(data)
    try:
        if base_dir is None:
            cascade = load_config(mapping)
        else:
            from .systems import relative_to

            with relative_to(os.path.join(base_dir, "feed.yaml")):
                cascade = load_config(mapping)
    except ConfigError as exc:
        raise ConfigError(_feed_key(exc.key), exc.message) from None
    feed = from_cascade(cascade)
    feed.system = data.get("system")
    if "scrub_acid" in data:
        feed.scrub_acid = v.quantity(data["scrub_acid"], "concentration", "scrub_acid", positive=True)
    return feed


def _feed_key(key: str) -> str:
    """The feed file's key for a key of the cascade config built from it."""
    for prefix, replacement in (("streams.feed.", "feed."), ("streams.feed", "feed"),
                                ("equilibrium.", ""),
                                ("components", "feed.concentration")):
        if key.startswith(prefix):
            return replacement + key[len(prefix):]
    return key


def _as_cascade_config(data) -> dict:
    """A two-product cascade config holding the feed file's feed and chemistry (flows and stages are
    placeholders; only the feed, the model and the cost section are read from it)."""
    feed = v.mapping(data["feed"], "feed")
    v.check_keys(feed, "feed", STREAM_KEYS, required=("flow", "concentration"))
    conc = v.mapping(feed["concentration"], "feed.concentration")
    components = list(conc)
    if len(components) < 2:
        raise ConfigError("feed.concentration", f"{len(components)} component(s); a train splits at least two")
    from ..elements import elements

    for c in components:
        if c not in elements():
            raise ConfigError(f"feed.concentration.{c}", f"{c!r} is not an element; expected symbols such as "
                                                          "La, Ce, Y")
    beta = {}
    if "system" in data:
        from .systems import get

        system = get(data["system"], "system")
        for el, entry in (system.data.get("separation_factors") or {}).items():
            beta[el] = entry["value"]
    if "separation_factors" in data:
        given = v.mapping(data["separation_factors"], "separation_factors")
        beta.update(given)
    if not beta:
        raise ConfigError("system", "missing; expected an extractant system (see `sx-model systems`) or "
                                    "separation_factors for every feed component")
    missing = [c for c in components if c not in beta]
    if missing:
        where = f"system {data['system']!r}" if "system" in data else "separation_factors"
        raise ConfigError(f"separation_factors.{missing[0]}", f"missing: {where} has no separation factor for "
                                                              f"{missing[0]}; give one under separation_factors")
    equilibrium = {"model": "separation_factor", "capacity": data["capacity"],
                   "separation_factors": {c: beta[c] for c in components}}
    if "half_loading" in data:
        equilibrium["half_loading"] = data["half_loading"]
    out = {"name": data.get("name", "train feed"), "components": components, "equilibrium": equilibrium,
           "sections": {"extraction": {"stages": 2}},
           "streams": {"organic": {"flow": feed["flow"]},
                       "feed": {"phase": "aqueous", "flow": feed["flow"], "concentration": conc}},
           "products": {"raffinate": {"key": components[:1]}, "loaded_organic": {"key": components[1:]}}}
    if "cost" in data:
        out["cost"] = data["cost"]
    return out


def from_cascade(cascade, source="feed file") -> TrainFeed:
    """The feed, separation factors, capacity, scrub acid and cost of a separation-factor cascade."""
    from ..circuit import AQUEOUS

    model = cascade.model
    if model.name != "separation_factor":
        raise ConfigError("equilibrium.model", f"{model.name!r}; a train is designed with the "
                                               "separation_factor model (the theory of countercurrent extraction)")
    feeds = [i for i in cascade.circuit.inlets if i.name not in ("organic", "scrub", "strip")]
    if len(feeds) != 1 or feeds[0].phase != AQUEOUS:
        raise ConfigError("streams", f"{len(feeds)} feed stream(s); a train starts from one aqueous feed")
    feed = feeds[0]
    zero = [c for c, x in zip(cascade.components, feed.concentration) if not x > 0]
    if zero:
        raise ConfigError(f"streams.feed.concentration.{zero[0]}", "0; every component of a train's feed "
                                                                     "needs a positive concentration")
    scrub = [i for i in cascade.circuit.inlets if i.name == "scrub"]
    acid = scrub[0].acid if scrub and scrub[0].acid > 0 else DEFAULT_SCRUB_ACID
    return TrainFeed(name=cascade.name, components=tuple(cascade.components),
                     separation_factors=np.asarray(model.separation_factors, dtype=float),
                     capacity=float(model.capacity), scrub_acid=float(acid), flow=float(feed.flow),
                     concentration=np.asarray(feed.concentration, dtype=float),
                     cost_parameters=cascade.cost_parameters, source=source)
