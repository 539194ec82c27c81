"""Decision variables of designs by simulation: what ``design``, ``optimize`` and ``curve`` may choose.

Stage counts of the extraction and scrub sections are always chosen. Besides them, by name (the CLI's
``--decide NAME[=LOW:HIGH [unit]]``, Python's ``decide=[...]``):

``scrub.acid``, ``scrub.flow``, ``organic.flow``, ``saponification``
    The *split input*: one continuous input set, at each stage count, for the largest worst margin to
    the targets (the scrub liquor's acid or flow sets the reflux W, the organic flow or its
    saponification the organic's loading S; the purities of both products turn on S - W). One of them
    at a time; default ``scrub.acid`` (``organic.flow`` where the scrub liquor carries no acid). In
    ``optimize`` the organic flow is the grid, so the saponification named there is chosen afresh at
    every organic flow of the grid.
``strip.acid``, ``strip.flow``
    The strip liquor, chosen last for the least acid fed (flow x acid, mol/s) that still strips the
    ``strip_target`` fraction of the metal the loaded organic carries into the strip section (default
    :data:`STRIP_TARGET`) with every product target and operating limit still met. Naming one searches
    it with the other fixed; naming both searches both (the acid needed at each flow, then the flow
    with the least of it).
``feed.stage``
    The feed stage, i.e. how a total stage count is shared between extraction and scrub: the design
    moves stages between the sections at a fixed total to the split with the largest worst margin and
    removes stages from the total while some split still meets the targets; a curve takes the best
    split at each total.

A range ``LOW:HIGH`` (config values, a unit after HIGH applies to both: ``strip.acid=0.5:6 mol/L``)
bounds the search; without one the split input is searched from 0.5 to 1.5 times its value and
widened as the stage search goes on, a strip input from :data:`STRIP_RANGE` times its config value.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import ConfigError

#: Split inputs: decision name -> config path.
SPLIT = {"scrub.acid": "streams.scrub.acid", "scrub.flow": "streams.scrub.flow",
         "organic.flow": "streams.organic.flow", "saponification": "equilibrium.extractant.saponification"}
#: Strip inputs: decision name -> config path.
STRIP = {"strip.acid": "streams.strip.acid", "strip.flow": "streams.strip.flow"}
FEED = "feed.stage"
NAMES = (*SPLIT, *STRIP, FEED)
#: Fraction of the metal entering the strip section on the organic that a strip search must strip,
#: when no ``strip_target`` is given [-].
STRIP_TARGET = 0.999
#: Default search range of a strip input, as multiples of its config value [-].
STRIP_RANGE = (0.02, 2.0)
#: Widest range a decision may be given (HIGH / LOW) [-].
MAX_SPAN = 1e4


@dataclass(frozen=True)
class Decisions:
    """The decision variables of one design (see the module docstring); ranges in SI."""

    split: str | None = None                         # config path of the split input (None: default)
    split_range: tuple | None = None                 # (low, high) of the split input, or None
    strip: dict = field(default_factory=dict)        # strip config path -> (low, high)
    feed_stage: bool = False
    strip_target: float | None = None                # stripped fraction required, or None

    @property
    def names(self) -> list:
        out = [k for k, p in SPLIT.items() if p == self.split]
        out += [k for k, p in STRIP.items() if p in self.strip]
        return out + ([FEED] if self.feed_stage else [])

    def to_dict(self) -> dict:
        return {"chosen": ["stages", *self.names], "split_input": self.split,
                "split_range": list(self.split_range) if self.split_range else None,
                "strip_ranges": {p: list(r) for p, r in self.strip.items()}, "feed_stage": self.feed_stage,
                "strip_target": self.strip_target}


_RANGE = re.compile(r"^\s*([^:]+?)\s*:\s*([^:]+?)\s*$")


def _items(chosen, option):
    """``chosen`` (None, a name, ``NAME=RANGE`` texts, (name, range) pairs or a mapping) -> [(name, range)]."""
    if chosen is None:
        return []
    if isinstance(chosen, str):
        chosen = [chosen]
    if isinstance(chosen, Mapping):
        return [(str(k), v) for k, v in chosen.items()]
    out = []
    for item in chosen:
        if isinstance(item, str):
            name, sep, spec = item.partition("=")
            out.append((name.strip(), spec.strip() if sep else None))
        elif isinstance(item, tuple) and len(item) == 2:
            out.append((str(item[0]), item[1]))
        else:
            raise ConfigError(option, f"{item!r}; expected a decision name such as strip.acid, optionally "
                                      "with a range: strip.acid=0.5:6 mol/L")
    return out


def _bounds(cascade, name, path, spec, option):
    """A range given as ``LOW:HIGH [unit]`` text or a (low, high) pair -> (low, high) in SI, checked with
    the config's own checks (a negative flow, a saponification above 1 are refused)."""
    from ..config.edits import variable
    from .sensitivity import _input_value

    where = f"{name}={spec}" if isinstance(spec, str) else f"{name}={spec!r}"
    if isinstance(spec, str):
        match = _RANGE.match(spec)
        if not match:
            raise ConfigError(option, f"{where!r}; expected {name}=LOW:HIGH with an optional unit, e.g. "
                                      "strip.acid=0.5:6 mol/L")
        low, high = match.group(1), match.group(2)
        unit = re.match(r"^[-+0-9.eE]+\s*(.*)$", high)
        if unit and unit.group(1) and re.fullmatch(r"[-+0-9.eE]+", low):
            low = f"{low} {unit.group(1)}"
    elif isinstance(spec, (tuple, list)) and len(spec) == 2:
        low, high = spec
    else:
        raise ConfigError(option, f"{where!r}; expected a range LOW:HIGH")
    apply = variable(path, cascade)
    values = []
    for bound in (low, high):
        if isinstance(bound, str):
            try:
                number = float(bound.split()[0])
            except (ValueError, IndexError):
                raise ConfigError(option, f"{where!r}: {bound!r} is not a number; expected "
                                          f"{name}=LOW:HIGH") from None
            if not math.isfinite(number):
                raise ConfigError(option, f"{where!r}: {bound!r} is not finite; expected finite bounds")
        try:
            values.append(_input_value(apply(cascade, bound), path)[0])
        except ConfigError as exc:
            raise ConfigError(option, f"{where!r}: {exc.message}") from None
    low, high = values
    if not low < high:
        raise ConfigError(option, f"{where!r}: the range is empty or reversed; expected LOW < HIGH")
    if low <= 0:
        raise ConfigError(option, f"{where!r}: the range reaches zero; expected LOW above zero (the search "
                                  "scales this input)")
    if high / low > MAX_SPAN:
        raise ConfigError(option, f"{where!r} spans {high / low:.3g} times; expected at most {MAX_SPAN:g} "
                                  "(four decades)")
    return low, high


def decisions(cascade, chosen=None, *, strip_target=None, optimize=False, option="--decide") -> Decisions:
    """Check the decision variables ``chosen`` for ``cascade`` (ConfigError naming ``option`` on a bad
    name, range or a decision the cascade has no input for) -> :class:`Decisions`."""
    if isinstance(chosen, Decisions):
        return chosen
    from .sensitivity import _input_value

    split, split_range, strip, feed, seen = None, None, {}, False, set()
    inlets = {i.name for i in cascade.circuit.inlets}
    sections = {s.name for s in cascade.circuit.sections}
    for name, spec in _items(chosen, option):
        if name not in NAMES:
            raise ConfigError(option, f"unknown decision {name!r}; expected one of {', '.join(NAMES)}")
        if name in seen:
            raise ConfigError(option, f"{name!r} is given twice; expected each decision once")
        seen.add(name)
        if name == FEED:
            if spec is not None:
                raise ConfigError(option, f"{name}={spec!r}: the feed stage takes no range (it is searched "
                                          "over every split of the total)")
            feed = True
            continue
        path = SPLIT.get(name) or STRIP[name]
        stream = path.split(".")[1] if path.startswith("streams.") else None
        if name in STRIP and "strip" not in sections:
            raise ConfigError(option, f"{name!r}: this cascade has no strip section; expected one of "
                                      f"{', '.join(n for n in NAMES if n not in STRIP)}")
        if stream is not None and stream != "organic" and stream not in inlets:
            raise ConfigError(option, f"{name!r}: this cascade has no {stream} stream")
        try:
            value, _ = _input_value(cascade, path)
        except ConfigError:
            raise ConfigError(option, f"{name!r}: the {cascade.model.name} model of this cascade has no "
                                      f"{path.split('.')[-1]} ({path})") from None
        if value <= 0:
            raise ConfigError(option, f"{name!r} is {value:g} in the config; expected a value above zero to "
                                      "start the search from")
        bounds = None if spec is None else _bounds(cascade, name, path, spec, option)
        if name in SPLIT:
            if split is not None:
                raise ConfigError(option, f"{name!r} and {[k for k, p in SPLIT.items() if p == split][0]!r} "
                                          f"both set the split; expected one of {', '.join(SPLIT)}")
            if optimize and name == "organic.flow":
                raise ConfigError(option, "'organic.flow': optimize tries a grid of organic flows already; "
                                          f"expected one of {', '.join(k for k in SPLIT if k != name)}")
            split, split_range = path, bounds
        else:
            strip[path] = bounds or (value * STRIP_RANGE[0], value * STRIP_RANGE[1])
    if strip_target is not None:
        if isinstance(strip_target, bool) or not isinstance(strip_target, (int, float)) \
                or not 0 < strip_target < 1:
            raise ConfigError("--strip-target", f"{strip_target!r}; expected the stripped fraction, above 0 "
                                                "and below 1 (e.g. 0.999)")
        if "strip" not in sections:
            raise ConfigError("--strip-target", "this cascade has no strip section")
    elif strip:
        strip_target = STRIP_TARGET
    return Decisions(split=split, split_range=split_range, strip=strip, feed_stage=feed,
                     strip_target=None if strip_target is None else float(strip_target))


def stripped_fraction(result, cascade) -> float:
    """Fraction of the metal carried by the organic into the strip section that the strip section
    takes out (1 - metal on the organic leaving the last strip stage / metal on the organic entering
    the first); NaN without a strip section."""
    strip = cascade.circuit.section("strip")
    if strip is None or strip.first == 0:
        return math.nan
    into = float(result.organic[strip.first - 1].sum()) * float(result.organic_flow[strip.first - 1])
    out = float(result.organic[strip.last].sum()) * float(result.organic_flow[strip.last])
    return 1.0 - out / into if into > 0 else 1.0
