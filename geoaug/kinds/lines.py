"""Lines: polylines (lanes, rules, arrows) of K >= 2 points, mapped point by point, cut where they leave the
canvas (a line may split into several rows, each keeping the source's ``index`` and fields)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import matrix as M
from ..canvas import polyline
from ..clip import clip_lines, outside_points
from ..errors import GeometryError
from ..geometry import map_lines
from ..instances import Lines, _row_bounds
from ..report import Report
from .base import Kind, Options, Tag, register, rows_of


@register
class LineKind(Kind):
    name = "lines"
    order = 2
    table = Lines
    filters = ("min_visibility", "min_size")  # min_size of a line is its length
    answer_key = "line_2d"
    answer_min = 2

    def intake(self, x: Any, size: tuple[int, int] | None = None) -> Lines:
        if isinstance(x, np.ndarray) and x.ndim == 2:
            raise GeometryError(
                f"lines must be a sequence of (K, 2) arrays; got one array of shape {x.shape}"
                " (wrap a single line in a list)"
            )
        out: Lines = super().intake(x, size)
        return out

    def map(self, t: Lines, a: np.ndarray, size: tuple[int, int], opts: Options) -> Lines:
        return map_lines(t, a)

    def clip(
        self,
        t: Lines,
        w: float,
        h: float,
        report: Report,
        opts: Options,
        *,
        counter: str = "clipped",
        owned: bool = False,
    ) -> Lines:
        return clip_lines(t, w, h, report, counter=counter, owned=owned)

    def outside_row(self, t: Lines, w: float, h: float) -> int | None:
        bad = outside_points(t.flat, w, h)
        if not bad.any():
            return None
        return int(np.searchsorted(t.offsets, int(np.argmax(bad)), side="right") - 1)

    def bounds(self, t: Lines, a: np.ndarray) -> np.ndarray:
        if not len(t):
            return np.zeros((0, 4))
        return _row_bounds(Lines.from_flat(M.apply_points(a, t.flat), t.offsets))

    def measures(self, t: Lines) -> dict[str, Callable[[], np.ndarray]]:
        return {"min_visibility": lambda: t.visibility, "min_size": t.lengths}

    def coords(self, t: Lines) -> list[np.ndarray]:
        return [t.flat, t.offsets]

    def own_coords(self, t: Lines, own: Callable[[Any], Any], given: Lines) -> None:
        t._set_flat(own(t.flat), own(t.offsets))

    def empty_is_private(self, t: Lines) -> bool:
        t._set_flat(t.flat, np.array(t.offsets))  # an empty table's offsets still hold its one 0
        return not t.flat.size and t.flat.flags.writeable

    def concat(self, tables: Sequence[Lines], fields: dict[str, Any]) -> Lines:
        return Lines([p for t in tables for p in t.points], _validate=False, **rows_of(tables), **fields)

    def draw(
        self, canvas: np.ndarray, t: Lines, labels: list, colour: Callable[[Any], tuple], thickness: int
    ) -> list[Tag]:
        tags: list[Tag] = []
        for pts, lab in zip(t.points, labels):  # open, a dot at the start
            c = colour(lab)
            polyline(canvas, pts, False, c, thickness, thickness + 1)
            tags.append((pts[0][0], pts[0][1], lab, c))
        return tags

    def answer_rows(self, t: Lines) -> list[np.ndarray]:
        return t.points

    def from_answer_rows(self, rows: list[np.ndarray]) -> Lines:
        return Lines(rows)
