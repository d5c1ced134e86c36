"""What to do with a polygon that is not a quad (COCO segmentations, YOLO-seg lines): an explicit policy,
and a count, never a silent drop."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..geometry import canonical_order
from .sample import FormatError, bump

# box: keep the object as its enclosing box (the polygon's shape is lost);
# skip: leave the object out; min_area_rect: the smallest rotated rectangle around it, as a quad;
# error: refuse the file.
POLYGON_POLICIES = ("box", "skip", "min_area_rect", "error")


def check_policy(policy: str, extra: tuple[str, ...] = ()) -> None:
    """Refuse an unknown policy; ``extra``: what the reader takes besides (COCO's ``"polygon"``)."""
    allowed = extra + POLYGON_POLICIES
    if policy not in allowed:
        raise FormatError(f"polygons must be one of {list(allowed)}, got {policy!r}")


def place_polygon(
    points: np.ndarray | None, box: Any, policy: str, counts: dict, where: str
) -> tuple[str, np.ndarray] | None:
    """Decide for one non-quad shape. ``points`` is (K, 2) or None (e.g. COCO RLE); ``box`` the fallback
    xyxy. Returns ("box", xyxy), ("quad", (4, 2)) or None (left out); counts ``polygon_as_box``,
    ``polygon_skipped`` or ``polygon_as_min_area_rect``."""
    if policy == "error":
        raise FormatError(
            f"{where}: a polygon of {len(points) if points is not None else 'unknown (RLE)'} "
            "points is not a quad; pass polygons='box', 'skip' or 'min_area_rect' to convert it"
        )
    if policy == "skip":
        bump(counts, "polygon_skipped")
        return None
    if policy == "min_area_rect" and points is not None:
        bump(counts, "polygon_as_min_area_rect")
        return "quad", clockwise_from_top_left(cv2.boxPoints(cv2.minAreaRect(points.astype(np.float32))))
    bump(counts, "polygon_as_box")
    return "box", np.asarray(box, dtype=np.float64)


def clockwise_from_top_left(quad: Any) -> np.ndarray:
    """Put a quad in geoaug's documented order: clockwise on screen from the top-left."""
    out: np.ndarray = canonical_order(np.asarray(quad, dtype=np.float64)[None])[0]
    return out
