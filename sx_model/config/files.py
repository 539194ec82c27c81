"""Reading config files: YAML text -> mapping, every failure one :class:`ConfigError` line."""
from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import ConfigError


def read_yaml(path) -> dict:
    """Read a YAML file into a mapping, turning every failure into a one-line ConfigError."""
    import yaml

    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {path!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError("", f"{path}: not UTF-8 text (byte {exc.start}); expected a YAML config") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError("", f"{path}: YAML syntax error{where}: {problem}") from None
    if not isinstance(data, Mapping):
        raise ConfigError("", f"{path}: expected a YAML mapping at the top level, got "
                              f"{type(data).__name__}")
    return data
