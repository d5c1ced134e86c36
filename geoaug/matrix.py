"""3x3 matrices on the continuous pixel frame, and their bridge to OpenCV.

Frame: an image of width W and height H covers [0, W] x [0, H]; pixel (i, j) is the unit square
centred on (i + 0.5, j + 0.5). OpenCV indexes pixel centres as integers, so a matrix A on our frame
becomes ``T(-0.5) @ A @ T(+0.5)`` on OpenCV's.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

IDENTITY = np.eye(3)


def translate(tx: float, ty: float) -> np.ndarray:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def scale(sx: float, sy: float) -> np.ndarray:
    return np.array([[sx, 0.0, 0.0], [0.0, sy, 0.0], [0.0, 0.0, 1.0]])


def rotate_about(deg: float, cx: float, cy: float) -> np.ndarray:
    """Counter-clockwise on screen (y points down), as cv2.getRotationMatrix2D."""
    t = np.deg2rad(deg)
    c, s = np.cos(t), np.sin(t)
    r = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    out: np.ndarray = translate(cx, cy) @ r @ translate(-cx, -cy)
    return out


def to_cv(a: np.ndarray) -> np.ndarray:
    """Our-frame matrix -> OpenCV integer-centre matrix."""
    out: np.ndarray = translate(-0.5, -0.5) @ a @ translate(0.5, 0.5)
    return out


def is_affine(a: np.ndarray, tol: float = 1e-12) -> bool:
    return bool(abs(a[2, 0]) < tol and abs(a[2, 1]) < tol and abs(a[2, 2] - 1.0) < tol)


def apply_points(a: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map (..., 2) points by A. Affine matrices skip the projective divide."""
    pts = np.asarray(pts, dtype=np.float64)
    if pts.size == 0:
        return pts.reshape(pts.shape)
    if is_affine(a):
        # OpenCV maps every point in one C loop, in double precision: ~10x the speed of a matmul plus a
        # broadcast add for 10^4 points.
        out: np.ndarray = cv2.transform(np.ascontiguousarray(pts).reshape(-1, 1, 2), a[:2]).reshape(pts.shape)
        return out
    flat = pts.reshape(-1, 2)
    w = flat @ a[2, :2] + a[2, 2]
    mapped: np.ndarray = ((flat @ a[:2, :2].T + a[:2, 2]) / w[:, None]).reshape(pts.shape)
    return mapped


def canvas_corners(w: float, h: float) -> np.ndarray:
    return np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]])


def index_map(a: np.ndarray, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray] | None:
    """If A only permutes/flips axes and shifts by whole pixels, return (L, t) with integer entries.

    Such a map moves every pixel onto another pixel exactly, so the image can be produced by copying
    instead of resampling.
    """
    if not is_affine(a, tol):
        return None
    lin = a[:2, :2]
    r = np.rint(lin)
    if (
        np.abs(lin - r).max() > tol
        or np.abs(np.abs(r).sum(axis=0) - 1).max() > 0
        or np.abs(np.abs(r).sum(axis=1) - 1).max() > 0
    ):
        return None
    t = a[:2, 2]
    rt = np.rint(t)
    if np.abs(t - rt).max() > tol:
        return None
    return r.astype(int), rt.astype(int)


def axis_scales(
    a: np.ndarray, w: float, h: float, at: Sequence[float] | np.ndarray | None = None
) -> tuple[float, float]:
    """How much A stretches the source x and y axes, measured at the source centre (or ``at``).

    Used to pick a prefilter before a shrinking warp. For projective maps this is the local Jacobian.
    """
    cx, cy = (w / 2.0, h / 2.0) if at is None else (float(at[0]), float(at[1]))
    if is_affine(a):
        jac = a[:2, :2]
    else:
        d = a[2, 0] * cx + a[2, 1] * cy + a[2, 2]
        p = a[:2, :2] @ np.array([cx, cy]) + a[:2, 2]
        jac = (a[:2, :2] * d - np.outer(p, a[2, :2])) / (d * d)
    return float(np.hypot(*jac[:, 0])), float(np.hypot(*jac[:, 1]))


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The projective map taking 4 src points onto 4 dst points, solved in float64
    (cv2.getPerspectiveTransform rounds through float32)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(np.asarray(src, float), np.asarray(dst, float)):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    h = np.linalg.solve(np.array(rows), np.array(rhs))
    return np.append(h, 1.0).reshape(3, 3)
