"""Reading config files safely: YAML text -> mapping, every failure one :class:`ConfigError` line.

A config comes from a user, so reading it is bounded (limits in :data:`LIMITS`, each overridable through
an environment variable of the same name in capitals with the prefix ``SX_MODEL_``, e.g.
``SX_MODEL_MAX_CONFIG_BYTES=5000000``):

- only regular files are read (no FIFOs, devices or directories), of at most ``max_config_bytes``;
- the text must be UTF-8;
- YAML aliases may not expand the document beyond ``max_yaml_nodes`` nodes (an "alias bomb" of a few
  lines expands to billions), nor nest deeper than ``max_yaml_depth``;
- a key given twice in one mapping is an error (YAML itself would silently keep the last one);
- a cascade has at most ``max_stages`` stages in all (5000: far beyond any plant battery, well within
  what the solver handles).
"""
from __future__ import annotations

import os
import stat
from collections.abc import Mapping

from ..errors import ConfigError

#: Default bounds on what a config file may be (see module docstring).
LIMITS = {"max_config_bytes": 1_000_000, "max_yaml_nodes": 100_000, "max_yaml_depth": 50,
          "max_stages": 5000}


def limit(name: str) -> int:
    """The bound ``name`` of :data:`LIMITS`, or its ``SX_MODEL_<NAME>`` environment override."""
    env = f"SX_MODEL_{name.upper()}"
    raw = os.environ.get(env)
    if raw is None:
        return LIMITS[name]
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(env, f"{raw!r}; expected a whole number") from None
    if value <= 0:
        raise ConfigError(env, f"{raw!r}; expected a positive whole number")
    return value


def read_text(path) -> str:
    """The text of a config file (regular file, bounded size, UTF-8)."""
    path = os.fspath(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {path!r}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError("", f"{path!r} is a directory; expected a YAML config file")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError("", f"{path!r} is not a regular file (a pipe or device?); expected a YAML "
                              "config file")
    most = limit("max_config_bytes")
    if info.st_size > most:
        raise ConfigError("", f"{path!r} is {info.st_size} bytes; expected a config of at most {most} "
                              "bytes (raise SX_MODEL_MAX_CONFIG_BYTES if it really is that big)")
    try:
        with open(path, "rb") as handle:
            data = handle.read(most + 1)
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {path!r}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("", f"{path}: not UTF-8 text (byte {exc.start}); expected a YAML config") from None


def read_yaml(path) -> dict:
    """Read a YAML config file into a mapping (see module docstring for the bounds)."""
    return parse_yaml(read_text(path), os.fspath(path))


def parse_yaml(text: str, name: str = "config") -> dict:
    """YAML text -> mapping, with the alias, depth and duplicate-key checks."""
    import yaml

    loader = None
    try:
        loader = _loader_class()(text)      # the reader refuses control characters here already
        node = loader.get_single_node()
        if node is None:
            raise ConfigError("", f"{name}: empty; expected a YAML mapping")
        _check_size(node, name)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError("", f"{name}: YAML syntax error{where}: {problem}") from None
    except RecursionError:
        raise ConfigError("", f"{name}: nested too deeply; expected a config at most "
                              f"{limit('max_yaml_depth')} levels deep") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, Mapping):
        raise ConfigError("", f"{name}: expected a YAML mapping at the top level, got {type(data).__name__}")
    return data


def _check_size(root, name):
    """Refuse documents whose aliases expand beyond the node bound or that nest too deeply
    (iterative, with the expanded size of every shared node computed once)."""
    import yaml

    most, deepest = limit("max_yaml_nodes"), limit("max_yaml_depth")
    sizes = {}
    stack = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if depth > deepest:
            raise ConfigError("", f"{name}: nested more than {deepest} levels deep; expected a flat config")
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) \
            else list(node.value)
        if done:
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > most:
                raise ConfigError("", f"{name}: expands to more than {most} YAML nodes (aliases?); "
                                      "expected a config without alias expansion of that size")
            sizes[id(node)] = total
            continue
        if id(node) in sizes:
            continue
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def _loader_class():
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that refuses a key given twice in one mapping."""

        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    raise ConfigError("", f"line {key_node.start_mark.line + 1}: a mapping key must be "
                                          "text or a number") from None
                if first is not key_node:
                    raise ConfigError(str(key), f"given twice (lines {first.start_mark.line + 1} and "
                                                f"{key_node.start_mark.line + 1}); expected each key once")
            return super().construct_mapping(node, deep=deep)

    return Loader
