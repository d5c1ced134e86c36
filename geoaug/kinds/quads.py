"""Quads: 4-point polygons (text lines, rotated objects), clockwise from the top-left, mapped point by point,
cut to the canvas while the cut is a quad (else the ``quad_clip`` policy), re-ordered when the net map
mirrors (``quad_order``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import matrix as M
from ..canvas import polyline
from ..clip import QUAD_CLIP_POLICIES, clip_quads, outside_points
from ..geometry import map_quads, quad_min_side, reorder_if_mirrored, signed_area
from ..instances import Quads
from ..report import Report
from .base import Kind, Options, Tag, register, rows_of

QUAD_ORDERS = ("clockwise", "keep")


@register
class QuadKind(Kind):
    name = "quads"
    order = 1
    table = Quads
    filters = ("min_visibility", "min_area", "min_size")
    options = {"quad_clip": (QUAD_CLIP_POLICIES, "fit"), "quad_order": (QUAD_ORDERS, "clockwise")}
    answer_key = "quad_2d"
    answer_points = 4

    def map(self, t: Quads, a: np.ndarray, size: tuple[int, int], opts: Options) -> Quads:
        return map_quads(t, a, order="keep")  # re-ordered once, by the net map (finish)

    def clip(
        self,
        t: Quads,
        w: float,
        h: float,
        report: Report,
        opts: Options,
        *,
        counter: str = "clipped",
        owned: bool = False,
    ) -> Quads:
        return clip_quads(t, w, h, report, policy=opts.get("quad_clip", "fit"), counter=counter, owned=owned)

    def finish(self, t: Quads, net: np.ndarray, opts: Options) -> Quads:
        return reorder_if_mirrored(t, net) if opts.get("quad_order", "clockwise") == "clockwise" else t

    def outside_row(self, t: Quads, w: float, h: float) -> int | None:
        bad = outside_points(t.points.reshape(-1, 2), w, h)
        return int(np.argmax(bad)) // 4 if bad.any() else None

    def bounds(self, t: Quads, a: np.ndarray) -> np.ndarray:
        if not len(t):
            return np.zeros((0, 4))
        p = M.apply_points(a, t.points)
        return np.concatenate([p.min(axis=1), p.max(axis=1)], axis=1)

    def measures(self, t: Quads) -> dict[str, Callable[[], np.ndarray]]:
        return {
            "min_visibility": lambda: t.visibility,
            "min_area": lambda: np.abs(signed_area(t.points)),
            "min_size": lambda: quad_min_side(t.points),
        }

    def coords(self, t: Quads) -> list[np.ndarray]:
        return [t.points]

    def own_coords(self, t: Quads, own: Callable[[Any], Any], given: Quads) -> None:
        t.points = own(t.points)

    def concat(self, tables: Sequence[Quads], fields: dict[str, Any]) -> Quads:
        geo = np.concatenate([t.points for t in tables]) if tables else np.zeros((0, 4, 2))
        return Quads(geo, _validate=False, **rows_of(tables), **fields)

    def draw(
        self, canvas: np.ndarray, t: Quads, labels: list, colour: Callable[[Any], tuple], thickness: int
    ) -> list[Tag]:
        tags: list[Tag] = []
        for pts, lab in zip(t.points, labels):  # closed, a larger dot on the first point (its order matters)
            c = colour(lab)
            polyline(canvas, pts, True, c, thickness, thickness + 2)
            tags.append((pts[0][0], pts[0][1], lab, c))
        return tags

    def answer_rows(self, t: Quads) -> list[np.ndarray]:
        return list(t.points)

    def from_answer_rows(self, rows: list[np.ndarray]) -> Quads:
        return Quads(np.reshape(rows, (-1, 4, 2)))
