"""Op registry keyed by the short names used in YAML (``hflip``, ``rotate``, ...)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .params import bounded, short, validate

if TYPE_CHECKING:
    from .ops.base import Op

REGISTRY: dict[str, type[Op]] = {}


def register(cls: type[Op]) -> type[Op]:
    if cls.name in REGISTRY:
        raise ValueError(f"op name {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def op_class(name: Any, where: str = "") -> type[Op]:
    if not isinstance(name, str):
        raise ConfigError(f"{where}op name must be a string, got {short(name)}")
    if name not in REGISTRY:
        close = difflib.get_close_matches(name[:100], list(REGISTRY), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(f"{where}unknown op {short(name)}.{hint} Known ops: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def make_op(name: str, params: Mapping[str, Any] | None = None, where: str = "") -> Op:
    """Build op ``name`` from its params (None: all defaults): a dict, such as one of the TypedDicts in
    ``geoaug.ops.typed`` (``make_op("rotate", RotateParams(max_deg=30))``). Params that are not a dict of
    known names are refused here with the op's own message, before they could reach Python's keyword arguments.

    Raises:
        ConfigError: unknown op name (closest names suggested), unknown param (closest suggested), or a
            param value out of range or of the wrong type.
    """
    cls = op_class(name, where)
    params = {} if params is None else params
    with bounded({"name": name, "params": params}, where):
        if not isinstance(params, dict) or not all(isinstance(k, str) and k in cls.spec for k in params):
            validate(cls.name, cls.spec, params, where)  # raises the precise error
        return cls(**params, _where=where)


OP_KEYS = ("name", "params")


def op_from_config(item: Any, where: str = "") -> Op:
    """``{"name": "rotate", "params": {...}}`` -> an op instance. Ops already built pass through."""
    from .ops.base import Op

    if isinstance(item, Op):
        return item
    if not isinstance(item, dict):
        raise ConfigError(f"{where}each op must be a mapping with 'name' and 'params', got {short(item)}")
    extra = [k for k in item if not isinstance(k, str) or k not in OP_KEYS]
    if extra:
        raise ConfigError(
            f"{where}unknown key {short(extra[0])} in op {short(item.get('name'))}; "
            f"an op has 'name' and 'params' (put op settings under 'params')"
        )
    if "name" not in item:
        raise ConfigError(f"{where}op is missing 'name': {short(item)}")
    return make_op(item["name"], item.get("params"), where)  # params: a mapping, or null for the defaults


def available_ops() -> dict[str, dict[str, Any]]:
    """name -> {"kind": ..., "params": {param: default}} for docs and CLIs.

    Returns:
        ``{name: {"kind": "geometric" | "pixel" | "combinator", "params": {param: default}}}``, sorted by
        name; required params have default None. Raises nothing.
    """
    from .params import REQUIRED

    return {
        n: {"kind": c.kind, "params": {p: (None if s.default is REQUIRED else s.default) for p, s in c.spec.items()}}
        for n, c in sorted(REGISTRY.items())
    }
