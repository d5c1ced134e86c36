"""Declared op parameters: each op lists its params once; validation and error messages come from here."""
from __future__ import annotations

import difflib
import math
from typing import Any, Callable

from .errors import ConfigError

REQUIRED = object()


class Param:
    def __init__(self, check: Callable[[Any], Any], default=REQUIRED, doc: str = ""):
        self.check, self.default, self.doc = check, default, doc


def _num(v, what):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"must be {what}, got {v!r}")
    return v


def Float(lo=-math.inf, hi=math.inf, default=REQUIRED, doc="") -> Param:
    def check(v):
        v = float(_num(v, "a number"))
        if not lo <= v <= hi:
            raise ValueError(f"must be in [{lo:g}, {hi:g}], got {v:g}")
        return v
    return Param(check, default, doc)


def Int(lo=-math.inf, hi=math.inf, default=REQUIRED, doc="", optional=False) -> Param:
    def check(v):
        if v is None and optional:
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"must be an integer, got {v!r}")
        if not lo <= v <= hi:
            raise ValueError(f"must be in [{lo:g}, {hi:g}], got {v}")
        return v
    return Param(check, default, doc)


def Bool(default=REQUIRED, doc="") -> Param:
    def check(v):
        if not isinstance(v, bool):
            raise ValueError(f"must be true or false, got {v!r}")
        return v
    return Param(check, default, doc)


def Choice(options, default=REQUIRED, doc="") -> Param:
    def check(v):
        if v not in options:
            raise ValueError(f"must be one of {list(options)}, got {v!r}")
        return v
    return Param(check, default, doc)


def Range(lo=-math.inf, hi=math.inf, default=REQUIRED, doc="", from_scalar=None, integer=False,
          optional=False) -> Param:
    """A [low, high] pair sampled uniformly. ``from_scalar`` turns a single number into a pair."""
    def check(v):
        if v is None and optional:
            return None
        if from_scalar is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
            v = from_scalar(_num(v, "a number"))
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise ValueError(f"must be a [low, high] pair, got {v!r}")
        a, b = (_num(x, "a number") for x in v)
        if integer:
            if int(a) != a or int(b) != b:
                raise ValueError(f"must be integers, got {v!r}")
            a, b = int(a), int(b)
        else:
            a, b = float(a), float(b)
        if a > b:
            raise ValueError(f"low must not exceed high, got [{a:g}, {b:g}]")
        if a < lo or b > hi:
            raise ValueError(f"must lie within [{lo:g}, {hi:g}], got [{a:g}, {b:g}]")
        return [a, b]
    return Param(check, default, doc)


def Fill(default=0, doc="border fill: a number or one per channel") -> Param:
    def check(v):
        if v is None:
            return None
        if isinstance(v, (list, tuple)):
            if not 1 <= len(v) <= 4:
                raise ValueError(f"must have 1 to 4 values, got {len(v)}")
            return [float(_num(x, "a number")) for x in v]
        return float(_num(v, "a number or a list of numbers"))
    return Param(check, default, doc)


def Prob(default=1.0) -> Param:
    return Float(0.0, 1.0, default, "probability that the op runs")


def validate(op_name: str, spec: dict, given: dict, where: str = "") -> dict:
    """Check given params against the spec; return them with defaults filled in."""
    label = f"{where}op {op_name!r}" if where else f"op {op_name!r}"
    if not isinstance(given, dict):
        raise ConfigError(f"{label}: params must be a mapping, got {type(given).__name__}")
    unknown = [k for k in given if k not in spec]
    if unknown:
        k = unknown[0]
        close = difflib.get_close_matches(str(k), list(spec), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{label}: unknown param {k!r}.{hint} Valid params: {', '.join(sorted(spec))}")
    out = {}
    for name, p in spec.items():
        if name in given:
            try:
                out[name] = p.check(given[name])
            except ValueError as e:
                raise ConfigError(f"{label}: param {name!r} {e}") from None
        elif p.default is REQUIRED:
            raise ConfigError(f"{label}: missing required param {name!r}. Valid params: {', '.join(sorted(spec))}")
        else:
            out[name] = p.default
    return out
