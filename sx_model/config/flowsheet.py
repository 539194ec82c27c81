"""Flowsheet files: cascades by config (a path relative to the flowsheet file, or inline) and the links
between them (see :mod:`sx_model.flowsheet` and docs/config.md, "Flowsheets").

```yaml
name: LaCe | PrNd, then La | Ce
cascades:
  lace: {config: lace_prnd_p507.yaml}     # a cascade config file, relative to this file
  la_ce: {config: {components: [...], equilibrium: ..., sections: ..., streams: ..., products: ...}}
links:
  - {from: lace.raffinate, to: la_ce.feed}  # product of one cascade -> stream of another
```
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import ConfigError
from . import checks as v

TOP_KEYS = frozenset({"name", "description", "notes", "cascades", "links"})
LINK_KEYS = frozenset({"from", "to"})
#: Most cascades in one flowsheet [-].
MAX_CASCADES = 50


def is_flowsheet(data) -> bool:
    """True for a mapping that is a flowsheet (it has ``cascades``), not a cascade config."""
    return isinstance(data, Mapping) and "cascades" in data


def read_flowsheet(data: Mapping, base_dir: str | None = None):
    """A flowsheet mapping -> :class:`~sx_model.flowsheet.Flowsheet` (ConfigError naming the key)."""
    from ..flowsheet import Flowsheet, Link, Node
    from . import load_config
    from .files import read_yaml

    v.mapping(data, "")
    v.check_keys(data, "", TOP_KEYS, required=("cascades",))
    name = v.text(data.get("name", "flowsheet"), "name")
    cascades = v.mapping(data["cascades"], "cascades")
    if not cascades:
        raise ConfigError("cascades", "empty; expected at least one cascade {name: {config: FILE}}")
    if len(cascades) > MAX_CASCADES:
        raise ConfigError("cascades", f"{len(cascades)} cascades; expected at most {MAX_CASCADES}")
    nodes = []
    for node_name, body in cascades.items():
        key = f"cascades.{node_name}"
        if not isinstance(node_name, str) or not node_name or "." in node_name:
            raise ConfigError(key, f"{node_name!r}; expected a cascade name without dots")
        body = v.mapping(body, key)
        v.check_keys(body, key, {"config"}, required=("config",))
        source = body["config"]
        try:
            if isinstance(source, str):
                path = source if os.path.isabs(source) or base_dir is None else os.path.join(base_dir, source)
                if not os.path.isfile(path):
                    raise ConfigError(f"{key}.config", f"{source!r} is not a file; expected a cascade config "
                                                       "(relative to the flowsheet file)")
                if is_flowsheet(read_yaml(path)):
                    raise ConfigError(f"{key}.config", f"{source!r} is a flowsheet; expected a cascade config "
                                                       "(flowsheets do not nest)")
                cascade = load_config(path)
            elif isinstance(source, Mapping):
                if is_flowsheet(source):
                    raise ConfigError(f"{key}.config", "a flowsheet; expected a cascade config (flowsheets "
                                                       "do not nest)")
                cascade = load_config(source)
            else:
                raise ConfigError(f"{key}.config", f"{source!r}; expected a config file name or a mapping")
        except ConfigError as exc:
            if exc.key.startswith(key):
                raise
            raise ConfigError(f"{key}.{exc.key}" if exc.key else key, exc.message) from None
        nodes.append(Node(node_name, cascade))
    links = []
    raw_links = data.get("links") or []
    if not isinstance(raw_links, list):
        raise ConfigError("links", f"{raw_links!r}; expected a list of {{from: CASCADE.PRODUCT, to: CASCADE.STREAM}}")
    for k, body in enumerate(raw_links):
        key = f"links[{k}]"
        body = v.mapping(body, key)
        v.check_keys(body, key, LINK_KEYS, required=("from", "to"))
        ends = []
        for end in ("from", "to"):
            text = body[end]
            if not isinstance(text, str) or text.count(".") != 1 or not all(text.split(".")):
                raise ConfigError(f"{key}.{end}", f"{text!r}; expected CASCADE.{'PRODUCT' if end == 'from' else 'STREAM'}")
            ends.append(tuple(text.split(".")))
        links.append(Link(ends[0][0], ends[0][1], ends[1][0], ends[1][1], key=key))
    return Flowsheet(name, nodes, links)


def load_flowsheet(source):
    """The joined cascade of a flowsheet file path or mapping (:func:`sx_model.flowsheet.combine`)."""
    from .files import read_yaml

    if isinstance(source, Mapping):
        return read_flowsheet(source).cascade()
    data = read_yaml(source)
    return read_flowsheet(data, os.path.dirname(os.path.abspath(os.fspath(source)))).cascade()
