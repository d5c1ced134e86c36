"""Map instance tables through a 3x3 matrix: boxes by their corners, quads and lines point by point."""

from __future__ import annotations

import cv2
import numpy as np

from . import matrix as M
from .instances import Boxes, Lines, Quads, _row_bounds


def box_corners(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) boxes -> (N, 4, 2) corners, clockwise from top-left."""
    out: np.ndarray = xyxy[:, [0, 2, 2, 0, 1, 1, 3, 3]].reshape(-1, 2, 4).transpose(0, 2, 1)
    return out


def map_boxes(boxes: Boxes, a: np.ndarray) -> Boxes:
    """Boxes by their corners (the enclosing box after a rotation); boxes with an outline tightly, from it."""
    if len(boxes) == 0:
        return boxes
    if boxes.outline is not None:
        outline = map_lines(boxes.outline, a)
        return Boxes(
            _row_bounds(outline),
            index=boxes.index,
            visibility=boxes.visibility,
            outline=outline,
            _validate=False,
            **boxes.fields,
        )
    xyxy = (
        _affine_box_bounds(boxes.xyxy, a)
        if M.is_affine(a)
        else _corner_bounds(M.apply_points(a, box_corners(boxes.xyxy)))
    )
    return Boxes(xyxy, index=boxes.index, visibility=boxes.visibility, _validate=False, **boxes.fields)


def _affine_box_bounds(xyxy: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Enclosing box of each mapped box without building its corners: under an affine map each output
    coordinate is monotone in x and in y, so its extremes sit at x1 or x2 and y1 or y2 by the signs of
    the matrix entries. That choice is one 4x5 affine map of the 4-vector (x1, y1, x2, y2), which OpenCV
    applies to all boxes in one C loop."""
    k = np.zeros((4, 5))
    for row in (0, 1):
        ax, ay, t = a[row]
        lo_x, hi_x = (0, 2) if ax >= 0 else (2, 0)
        lo_y, hi_y = (1, 3) if ay >= 0 else (3, 1)
        k[row, lo_x], k[row, lo_y], k[row, 4] = ax, ay, t
        k[row + 2, hi_x], k[row + 2, hi_y], k[row + 2, 4] = ax, ay, t
    out = cv2.transform(np.ascontiguousarray(xyxy).reshape(-1, 1, 4), k).reshape(-1, 4)
    # Each output channel is its own sum of products, and OpenCV evaluates them in different orders (which
    # product is fused or rounded first depends on where the zeros of its row sit): the two bounds of a box
    # narrower than a rounding step can come out inverted by an ulp. A bound is never past the other.
    # (Two strided 1-D passes: ~1 us per 1,000 boxes.)
    np.maximum(out[:, 2], out[:, 0], out=out[:, 2])
    np.maximum(out[:, 3], out[:, 1], out=out[:, 3])
    return out


def _corner_bounds(pts: np.ndarray) -> np.ndarray:
    # np.minimum over the 4 corner slices: a reduce along a length-4 middle axis is several times slower.
    p = [pts[:, k] for k in range(pts.shape[1])]
    return np.concatenate([np.minimum.reduce(p), np.maximum.reduce(p)], axis=1)


def map_quads(quads: Quads, a: np.ndarray, order: str = "clockwise") -> Quads:
    """Map point by point; with ``order="clockwise"`` a mirroring ``a`` re-orders (see reorder_if_mirrored)."""
    if len(quads) == 0:
        return quads
    out = Quads(
        M.apply_points(a, quads.points), index=quads.index, visibility=quads.visibility, _validate=False, **quads.fields
    )
    return reorder_if_mirrored(out, a) if order == "clockwise" else out


def reorder_if_mirrored(quads: Quads, net: np.ndarray) -> Quads:
    """Quads keep their order under rotations (the first point turns with the text); a net mirror
    (det < 0) re-orders them clockwise from the top-left. Judged on the net map, never per step, so two
    mirrors (a 180-degree turn) give the order rot90 k=2 gives, fused or op by op."""
    if len(quads) == 0 or np.linalg.det(net) >= 0:
        return quads
    quads.points = canonical_order(quads.points)
    return quads


def map_lines(lines: Lines, a: np.ndarray) -> Lines:
    if len(lines) == 0:
        return lines
    return Lines.from_flat(
        M.apply_points(a, lines.flat), lines.offsets, index=lines.index, visibility=lines.visibility, **lines.fields
    )


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z of the 2-D cross product of (..., 2) vectors: > 0 when b turns clockwise from a on screen (y down)."""
    out: np.ndarray = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def signed_area(pts: np.ndarray) -> np.ndarray:
    """Shoelace area of (..., K, 2) polygons; positive = clockwise on screen (y down)."""
    if pts.shape[-2] == 4:  # a quad's area is half the cross product of its diagonals: 7 cheap column ops
        d1, d2 = pts[..., 2, :] - pts[..., 0, :], pts[..., 3, :] - pts[..., 1, :]
        return 0.5 * cross(d1, d2)
    x, y = pts[..., 0], pts[..., 1]
    out: np.ndarray = 0.5 * (x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y).sum(axis=-1)
    return out


def canonical_order(pts: np.ndarray) -> np.ndarray:
    """Clockwise on screen, starting at the top-left: the vertex whose outgoing edge points most nearly
    along +x (the top edge of an upright quad)."""
    rev = np.where((signed_area(pts) < 0)[:, None, None], pts[:, [0, 3, 2, 1]], pts)
    edges = np.roll(rev, -1, axis=1) - rev
    score = edges[..., 0] / np.maximum(np.hypot(edges[..., 0], edges[..., 1]), 1e-12)
    start = np.argmax(score, axis=1)
    order = (start[:, None] + np.arange(4)[None, :]) % 4
    return np.take_along_axis(rev, order[:, :, None], axis=1)


def quad_min_side(p: np.ndarray) -> np.ndarray:
    """A quad's smaller mean extent: the mean of its opposite sides, the smaller pair (a text line's height)."""
    sides = np.hypot(*(np.roll(p, -1, axis=1) - p).transpose(2, 0, 1))
    out: np.ndarray = np.minimum((sides[:, 0] + sides[:, 2]) / 2, (sides[:, 1] + sides[:, 3]) / 2)
    return out
