"""Boxes: axis-aligned ``x1, y1, x2, y2`` on the pixel-edge frame, mapped by their corners (or tightly from
the polygon they came from), clipped to the canvas."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from .. import matrix as M
from ..canvas import AA, SHIFT, cv_pts, pt
from ..clip import clip_boxes, outside_points
from ..geometry import box_corners, map_boxes
from ..instances import Boxes
from ..report import Report
from .base import Kind, Options, Tag, detach, kind_of, register, rows_of


@register
class BoxKind(Kind):
    name = "boxes"
    order = 0
    table = Boxes
    filters = ("min_visibility", "min_area", "min_size")
    answer_key = "bbox_2d"
    answer_points = 2

    def map(self, t: Boxes, a: np.ndarray, size: tuple[int, int], opts: Options) -> Boxes:
        return map_boxes(t, a)

    def clip(
        self,
        t: Boxes,
        w: float,
        h: float,
        report: Report,
        opts: Options,
        *,
        counter: str = "clipped",
        owned: bool = False,
    ) -> Boxes:
        return clip_boxes(t, w, h, report, counter=counter, owned=owned)

    def outside_row(self, t: Boxes, w: float, h: float) -> int | None:
        bad = outside_points(t.xyxy.reshape(-1, 2), w, h)
        return int(np.argmax(bad)) // 2 if bad.any() else None

    def bounds(self, t: Boxes, a: np.ndarray) -> np.ndarray:
        if not len(t):
            return np.zeros((0, 4))
        p = M.apply_points(a, box_corners(t.xyxy))
        return np.concatenate([p.min(axis=1), p.max(axis=1)], axis=1)

    def measures(self, t: Boxes) -> dict[str, Callable[[], np.ndarray]]:
        wh = t.xyxy[:, 2:] - t.xyxy[:, :2]
        return {
            "min_visibility": lambda: t.visibility,
            "min_area": lambda: wh[:, 0] * wh[:, 1],
            "min_size": lambda: np.minimum(wh[:, 0], wh[:, 1]),
        }

    def coords(self, t: Boxes) -> list[np.ndarray]:
        return [t.xyxy] if t.outline is None else [t.xyxy, *kind_of(t.outline).coords(t.outline)]

    def own_coords(self, t: Boxes, own: Callable[[Any], Any], given: Boxes) -> None:
        t.xyxy = own(t.xyxy)
        if t.outline is not None and given.outline is not None:
            t.outline = detach(t.outline, given.outline)

    def concat(self, tables: Sequence[Boxes], fields: dict[str, Any]) -> Boxes:
        geo = np.concatenate([t.xyxy for t in tables]) if tables else np.zeros((0, 4))
        return Boxes(geo, _validate=False, **rows_of(tables), **fields)

    def draw(
        self, canvas: np.ndarray, t: Boxes, labels: list, colour: Callable[[Any], tuple], thickness: int
    ) -> list[Tag]:
        tags: list[Tag] = []
        for xyxy, lab in zip(t.xyxy, labels):
            c = colour(lab)
            p = cv_pts(xyxy.reshape(2, 2))
            cv2.rectangle(canvas, pt(p[0]), pt(p[1]), c, thickness=thickness, lineType=AA, shift=SHIFT)
            tags.append((xyxy[0], xyxy[1], lab, c))
        return tags

    def answer_rows(self, t: Boxes) -> list[np.ndarray]:
        return list(t.xyxy.reshape(-1, 2, 2))

    def from_answer_rows(self, rows: list[np.ndarray]) -> Boxes:
        return Boxes(np.reshape(rows, (-1, 4)))
