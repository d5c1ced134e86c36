"""Op registry keyed by the short names used in YAML (``hflip``, ``rotate``, ...)."""
from __future__ import annotations

import difflib

from .errors import ConfigError

REGISTRY: dict[str, type] = {}


def register(cls):
    if cls.name in REGISTRY:
        raise ValueError(f"op name {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def op_class(name, where: str = ""):
    if not isinstance(name, str):
        raise ConfigError(f"{where}op name must be a string, got {name!r}")
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(f"{where}unknown op {name!r}.{hint} Known ops: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def make_op(name: str, params: dict | None = None, where: str = ""):
    return op_class(name, where)(**(params or {}), _where=where)


OP_KEYS = ("name", "params")


def op_from_config(item, where: str = ""):
    """``{"name": "rotate", "params": {...}}`` -> an op instance. Ops already built pass through."""
    from .ops.base import Op
    if isinstance(item, Op):
        return item
    if not isinstance(item, dict):
        raise ConfigError(f"{where}each op must be a mapping with 'name' and 'params', got {item!r}")
    extra = [k for k in item if k not in OP_KEYS]
    if extra:
        raise ConfigError(f"{where}unknown key {extra[0]!r} in op {item.get('name')!r}; "
                          f"an op has 'name' and 'params' (put op settings under 'params')")
    if "name" not in item:
        raise ConfigError(f"{where}op is missing 'name': {item!r}")
    params = item.get("params") or {}
    return make_op(item["name"], params, where)


def available_ops() -> dict:
    """name -> {"kind": ..., "params": {param: default}} for docs and CLIs."""
    from .params import REQUIRED
    return {n: {"kind": c.kind, "params": {p: (None if s.default is REQUIRED else s.default)
                                             for p, s in c.spec.items()}}
            for n, c in sorted(REGISTRY.items())}
