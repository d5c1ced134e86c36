"""Pipeline-level filters: drop objects that augmentation made too small or too hidden, with their fields."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .errors import ConfigError
from .kinds import get_kind, kind_names, kind_of, kinds
from .params import short
from .report import Report

# The rules a kind-less key applies to (each kind that accepts it): ``{min_visibility: .3}``.
SHARED_RULES = ("min_visibility", "min_area", "min_size")


def valid_rules() -> dict[str, tuple[str, ...]]:
    """kind -> the filter rules it accepts (``min_size`` of a line is its length)."""
    return {k.name: k.filters for k in kinds()}


def parse_filters(cfg: object, where: str = "") -> dict[str, dict[str, float]]:
    """``{min_visibility: .3}`` applies to every kind; ``{boxes: {...}, lines: {...}}`` per kind. Null or an
    empty mapping: no filters. Every threshold is checked here, when the pipeline is built."""
    names = kind_names()
    if cfg is None:
        return {k: {} for k in names}
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}filters must be a mapping (or null), got {short(cfg)}")
    out: dict[str, dict[str, float]] = {k: {} for k in names}
    for key, val in cfg.items():
        if isinstance(key, str) and key in names:
            if not isinstance(val, dict):
                raise ConfigError(f"{where}filters.{key} must be a mapping, got {short(val)}")
            rules = get_kind(key).filters
            for fk, fv in val.items():
                if not isinstance(fk, str) or fk not in rules:
                    raise ConfigError(f"{where}filters.{key}: unknown filter {short(fk)}; valid: {', '.join(rules)}")
                out[key][fk] = _threshold(fv, fk, f"{where}filters.{key}.{fk}")
        elif isinstance(key, str) and key in SHARED_RULES:
            limit = _threshold(val, key, f"{where}filters.{key}")
            for kind in kinds():
                if key in kind.filters:
                    out[kind.name].setdefault(key, limit)
        else:
            raise ConfigError(
                f"{where}filters: unknown key {short(key)}; use {', '.join(SHARED_RULES)} "
                f"or a per-kind mapping under {', '.join(names)}"
            )
    return out


def _threshold(v: object, rule: str, where: str) -> float:
    """min_visibility: a fraction in [0, 1]; any other rule: a finite non-negative number (pixels)."""
    hi = 1.0 if rule == "min_visibility" else math.inf
    what = "a number in [0, 1]" if rule == "min_visibility" else "a finite non-negative number"
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ConfigError(f"{where} must be {what}, got {short(v)}")
    try:
        f = float(v)
    except (OverflowError, ValueError):
        f = math.nan
    if not (0.0 <= f <= hi and math.isfinite(f)):
        raise ConfigError(f"{where} must be {what}, got {short(v)}")
    return f


def apply_filters(table: Any, rules: dict[str, float], report: Report) -> Any:
    """Drop the rows of ``table`` below any of ``rules`` (rule -> threshold), each reported with its rule."""
    if len(table) == 0 or not rules:
        return table
    kind = kind_of(table)
    keep = np.ones(len(table), dtype=bool)
    measures = kind.measures(table)
    for rule, limit in rules.items():
        low = keep & (measures[rule]() < limit)
        report.drop(kind.name, table.index[low], rule)
        keep &= ~low
    return table if keep.all() else table.take(np.nonzero(keep)[0])
