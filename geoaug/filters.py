"""Pipeline-level filters: drop objects that augmentation made too small or too hidden, with their fields."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import ConfigError
from .geometry import signed_area
from .instances import Boxes, Lines, Quads
from .params import short
from .report import KINDS, Report

VALID = {
    "boxes": ("min_visibility", "min_area", "min_size"),
    "quads": ("min_visibility", "min_area", "min_size"),
    "lines": ("min_visibility", "min_size"),  # min_size of a line is its length
}


def parse_filters(cfg, where: str = "") -> dict:
    """``{min_visibility: .3}`` applies to every kind; ``{boxes: {...}, lines: {...}}`` per kind. Null or an
    empty mapping: no filters. Every threshold is checked here, when the pipeline is built."""
    if cfg is None:
        return {k: {} for k in KINDS}
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}filters must be a mapping (or null), got {short(cfg)}")
    out: dict[str, dict] = {k: {} for k in KINDS}
    for key, val in cfg.items():
        if isinstance(key, str) and key in KINDS:
            if not isinstance(val, dict):
                raise ConfigError(f"{where}filters.{key} must be a mapping, got {short(val)}")
            for fk, fv in val.items():
                if not isinstance(fk, str) or fk not in VALID[key]:
                    raise ConfigError(
                        f"{where}filters.{key}: unknown filter {short(fk)}; valid: {', '.join(VALID[key])}"
                    )
                out[key][fk] = _threshold(fv, fk, f"{where}filters.{key}.{fk}")
        elif isinstance(key, str) and key in VALID["boxes"]:
            limit = _threshold(val, key, f"{where}filters.{key}")
            for kind in KINDS:
                if key in VALID[kind]:
                    out[kind].setdefault(key, limit)
        else:
            raise ConfigError(
                f"{where}filters: unknown key {short(key)}; use {', '.join(VALID['boxes'])} "
                f"or a per-kind mapping under {', '.join(KINDS)}"
            )
    return out


def _threshold(v, rule, where):
    """min_visibility: a fraction in [0, 1]; min_area, min_size: a finite non-negative number of pixels."""
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


def _quad_min_side(p):
    sides = np.hypot(*(np.roll(p, -1, axis=1) - p).transpose(2, 0, 1))
    return np.minimum((sides[:, 0] + sides[:, 2]) / 2, (sides[:, 1] + sides[:, 3]) / 2)


def apply_filters(table, rules: dict, report: Report):
    if len(table) == 0 or not rules:
        return table
    kind = table.kind
    keep = np.ones(len(table), dtype=bool)
    measures = {"min_visibility": lambda: table.visibility}
    if isinstance(table, Boxes):
        wh = table.xyxy[:, 2:] - table.xyxy[:, :2]
        measures.update(min_area=lambda: wh[:, 0] * wh[:, 1], min_size=lambda: np.minimum(wh[:, 0], wh[:, 1]))
    elif isinstance(table, Quads):
        measures.update(
            min_area=lambda: np.abs(signed_area(table.points)), min_size=lambda: _quad_min_side(table.points)
        )
    elif isinstance(table, Lines):
        measures.update(min_size=table.lengths)
    for rule, limit in rules.items():
        low = keep & (measures[rule]() < limit)
        report.drop(kind, table.index[low], rule)
        keep &= ~low
    return table if keep.all() else table.take(np.nonzero(keep)[0])
