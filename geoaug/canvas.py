"""Drawing primitives shared by every kind's ``draw``: sub-pixel placement on OpenCV's integer-centre frame."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import cv2
import numpy as np

SHIFT = 4  # cv2 drawing takes fixed-point coordinates: 4 fractional bits keep sub-pixel placement
AA = cv2.LINE_AA


def pt(p: Iterable[Any]) -> tuple:
    return tuple(int(v) for v in p)


def cv_pts(p: Any) -> np.ndarray:
    """Points of our frame (pixel centres at +0.5) as cv2's fixed-point integers (centres at integers)."""
    return np.round((np.asarray(p, dtype=np.float64) - 0.5) * (1 << SHIFT)).astype(np.int32)


def polyline(canvas: np.ndarray, pts: np.ndarray, closed: bool, colour: tuple, thickness: int, dot: int = 0) -> None:
    """A polyline (closed: a polygon outline), with a filled dot of radius ``dot`` on its first point."""
    cv2.polylines(canvas, [cv_pts(pts)], closed, colour, thickness=thickness, lineType=AA, shift=SHIFT)
    if dot:
        cv2.circle(canvas, pt(cv_pts(pts[0])), dot << SHIFT, colour, thickness=-1, lineType=AA, shift=SHIFT)


def marker(canvas: np.ndarray, p: np.ndarray, colour: tuple, thickness: int) -> None:
    """A cross on one point."""
    cv2.drawMarker(
        canvas, pt(np.round(np.asarray(p) - 0.5)), colour, cv2.MARKER_CROSS, 4 * thickness + 6, thickness, AA
    )
