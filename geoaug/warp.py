"""Resample an image by a 3x3 matrix into a canvas: copy when the map is a pure index map,
area-prefilter when it shrinks, and otherwise warp once with OpenCV."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from . import matrix as M

INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}

# Below this per-axis scale a direct bilinear warp aliases visibly (text strokes break up), so the
# source is first reduced by area averaging. Between it and 1 the aliasing is below a grey level.
PREFILTER_BELOW = 0.8

# OpenCV's bilinear warps run a vectorised 4-channel kernel that beats its 3-channel one for 8- and 16-bit
# images: widening to RGBA, warping and dropping the pad channel is 1.5-1.8x (uint8) / 1.3-1.4x (uint16)
# faster on warpAffine and 1.1-1.9x on warpPerspective (OpenCV 5.0, 1 thread), bit for bit the same output
# (benchmarks/paths.py measures it; rerun it on a new OpenCV build). Float32, other interpolations and
# INTER_AREA are not faster widened.
WIDEN_TO_4 = {(np.dtype(np.uint8), cv2.INTER_LINEAR), (np.dtype(np.uint16), cv2.INTER_LINEAR)}


# Kernels with negative lobes: they ring past the input's range at edges (integer images saturate in OpenCV).
OVERSHOOTS = ("cubic", "lanczos")


def warp(
    img: np.ndarray,
    a: np.ndarray,
    out_size: tuple[int, int],
    *,
    interpolation: str = "linear",
    border: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
    clip: tuple[float, float] | None = None,
) -> np.ndarray:
    """Image HxWxC -> (out_h, out_w, C) with output pixel p = input at A^-1 p (our frame).

    ``img`` is only read. The result is a new array, except for the identity map (same canvas), which
    returns ``img`` itself: a caller that writes into the result must copy then. ``clip=(lo, hi)``: the
    value range a float image must stay in (cubic and lanczos overshoot is clipped; the other paths are
    convex and never leave it)."""
    idx = M.index_map(a)
    if idx is not None:
        return _copy_index_map(img, idx[0], idx[1], out_size, border)
    if interpolation != "nearest":
        img, a = _prefilter(img, a)
        idx = M.index_map(a)
        if idx is not None:
            return _copy_index_map(img, idx[0], idx[1], out_size, border)
    out = _cv_warp(img, a, out_size, INTERPOLATIONS[interpolation], border)
    if clip is not None and interpolation in OVERSHOOTS:
        np.clip(out, clip[0], clip[1], out=out)  # out is ours: a fresh OpenCV result
    return out


# An INTER_AREA reduction by a whole factor takes OpenCV's block-averaging path, 3-10x faster than a
# fractional one (2480x3508 RGB: 8.5 ms by 3 vs 22.5 ms to 832x1184). When the reduced image is then
# warped anyway, the prefilter reduces by the whole factor that leaves a remaining scale in
# [PREFILTER_BELOW, 1 + UPSCALE_SLACK]: as free of aliasing, and at most 5% upsampled (not visible).
UPSCALE_SLACK = 0.05


def _prefilter(img: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = img.shape[:2]
    fx, fy = M.axis_scales(a, w, h)
    px = fx if fx < PREFILTER_BELOW else 1.0
    py = fy if fy < PREFILTER_BELOW else 1.0
    if px == 1.0 and py == 1.0:
        return img, a
    w2, h2 = max(1, int(round(w * px))), max(1, int(round(h * py)))
    # The reduction is itself a scale on our frame; fold its exact ratio out of the remaining map.
    rest = a @ M.scale(w / w2, h / h2)
    kx, ky = _whole_factor(px), _whole_factor(py)
    if kx and ky and M.index_map(rest) is None:  # a pure resize keeps cv2.resize's exact output
        return _reduce_whole(img, kx, ky), a @ M.scale(kx, ky)
    small = cv2.resize(img, (w2, h2), interpolation=cv2.INTER_AREA)
    return (small[:, :, None] if small.ndim == 2 else small), rest


def _whole_factor(p: float) -> int | None:
    if p == 1.0:
        return 1
    for k in (int(1.0 / p), int(1.0 / p) + 1):
        if k >= 1 and PREFILTER_BELOW <= p * k <= 1.0 + UPSCALE_SLACK:
            return k
    return None


def _reduce_whole(img: np.ndarray, kx: int, ky: int) -> np.ndarray:
    """Area-average kx x ky blocks: small pixel (i, j) covers source [i kx, (i+1) kx] x [j ky, (j+1) ky].
    A last partial block (width or height not a multiple) repeats the edge pixels to fill itself, so
    only the outermost reduced pixel differs from exact area weights."""
    h, w = img.shape[:2]
    w2, h2 = w // kx, h // ky
    ow, oh = -(-w // kx), -(-h // ky)
    bulk = cv2.resize(img[: h2 * ky, : w2 * kx], (w2, h2), interpolation=cv2.INTER_AREA) if w2 and h2 else None
    if (ow, oh) == (w2, h2):
        assert bulk is not None  # w2 == ow >= 1 and h2 == oh >= 1 for a non-empty image
        return bulk[:, :, None] if bulk.ndim == 2 else bulk
    out = np.empty((oh, ow, img.shape[2]), img.dtype)
    if bulk is not None:
        out[:h2, :w2] = bulk.reshape(h2, w2, -1)
    if ow > w2:  # right strip, full height (bottom-right corner included)
        strip = cv2.copyMakeBorder(img[:, w2 * kx :], 0, oh * ky - h, 0, ow * kx - w, cv2.BORDER_REPLICATE)
        out[:, w2:] = cv2.resize(strip, (1, oh), interpolation=cv2.INTER_AREA).reshape(oh, 1, -1)
    if oh > h2 and w2:  # bottom strip
        strip = cv2.copyMakeBorder(img[h2 * ky :, : w2 * kx], 0, oh * ky - h, 0, 0, cv2.BORDER_REPLICATE)
        out[h2:, :w2] = cv2.resize(strip, (w2, 1), interpolation=cv2.INTER_AREA).reshape(1, w2, -1)
    return out


def covers(a: np.ndarray, src_size: Sequence[float], out_size: Sequence[float]) -> bool:
    """Does the source canvas cover the whole output canvas (no fill anywhere)? The source's image is
    convex, so checking the output corners suffices."""
    back = M.apply_points(np.linalg.inv(a), M.canvas_corners(*out_size))
    w, h = src_size
    return bool(((back >= -1e-9) & (back <= np.array([w, h]) + 1e-9)).all())


def _cv_warp(
    img: np.ndarray, a: np.ndarray, out_size: tuple[int, int], flag: int, border: Sequence[float]
) -> np.ndarray:
    if img.shape[2] == 3 and (img.dtype, flag) in WIDEN_TO_4:
        wide = _cv_warp(cv2.cvtColor(img, cv2.COLOR_RGB2RGBA), a, out_size, flag, border)
        return cv2.cvtColor(wide, cv2.COLOR_RGBA2RGB)
    ow, oh = out_size
    inv = np.linalg.inv(M.to_cv(a))
    flags = flag | cv2.WARP_INVERSE_MAP
    # Without fill in view (resizes, zooms), edge pixels extend as cv2.resize does instead of blending
    # with a fill colour that is nowhere in the output.
    mode = cv2.BORDER_REPLICATE if covers(a, (img.shape[1], img.shape[0]), out_size) else cv2.BORDER_CONSTANT
    if M.is_affine(a):
        out = cv2.warpAffine(img, inv[:2], (ow, oh), flags=flags, borderMode=mode, borderValue=border)
    else:
        out = cv2.warpPerspective(img, inv, (ow, oh), flags=flags, borderMode=mode, borderValue=border)
    return out[:, :, None] if out.ndim == 2 else out


def _copy_index_map(
    img: np.ndarray, lin: np.ndarray, t: np.ndarray, out_size: tuple[int, int], border: Sequence[float]
) -> np.ndarray:
    """Exact path: flips/transposes then an integer paste. No pixel value is interpolated."""
    h, w = img.shape[:2]
    corners = M.canvas_corners(w, h) @ lin.T.astype(float) + t
    # OpenCV's flip, transpose and copyMakeBorder, not numpy views and slice assignment: numpy copies a
    # mirrored or transposed HxWx3 image, or fills a canvas with a per-channel colour, one 3-value row
    # at a time (1250x940 RGB: 3.7 ms against 0.1 ms).
    c = img.shape[2]
    src = img
    if lin[0, 0] == 0:  # x' depends on y: transpose, then the remaining map is diagonal
        src = cv2.transpose(src).reshape(src.shape[1], src.shape[0], c)
        lin = lin[:, ::-1]
    code = {(True, False): 1, (False, True): 0, (True, True): -1}.get((bool(lin[0, 0] < 0), bool(lin[1, 1] < 0)))
    if code is not None:
        src = cv2.flip(src, code).reshape(src.shape)
    ox, oy = (int(round(v)) for v in corners.min(axis=0))
    ow, oh = out_size
    sh, sw = src.shape[:2]
    if ox == 0 and oy == 0 and (sw, sh) == (ow, oh):
        return np.ascontiguousarray(src)
    x0, y0 = max(ox, 0), max(oy, 0)
    x1, y1 = min(ox + sw, ow), min(oy + sh, oh)
    if x1 > x0 and y1 > y0:
        part = src[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        out = cv2.copyMakeBorder(part, y0, oh - y1, x0, ow - x1, cv2.BORDER_CONSTANT, value=border)
        return out.reshape(oh, ow, c)
    fill = np.asarray(border[:c], dtype=np.float64).astype(img.dtype)
    return np.ascontiguousarray(np.broadcast_to(np.tile(fill, ow), (oh, ow * c))).reshape(oh, ow, c)


class Region:
    """The output pixels whose centres lie inside the image of an earlier canvas: a rectangle of rows and
    columns when the map from there keeps axes, else a mask."""

    def __init__(
        self,
        rows: tuple[int, int] | None = None,
        cols: tuple[int, int] | None = None,
        mask: np.ndarray | None = None,
    ) -> None:
        self.rows, self.cols, self.mask = rows, cols, mask

    def select(self, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(pixels, mask or None) covering the region, for statistics such as a mean."""
        if self.mask is not None:
            return arr, self.mask
        r0, r1, c0, c1 = self._rect()
        return arr[r0:r1, c0:c1], None

    def fill_outside(self, arr: np.ndarray, border: Sequence[float]) -> None:
        """Writes into ``arr``: it must be an array of ours, never the caller's image."""
        value = np.asarray(border[: arr.shape[2]], dtype=np.float64).astype(arr.dtype)
        if self.mask is not None:
            arr[self.mask == 0] = value
            return
        r0, r1, c0, c1 = self._rect()
        arr[:r0] = value
        arr[r1:] = value
        arr[r0:r1, :c0] = value
        arr[r0:r1, c1:] = value

    def _rect(self) -> tuple[int, int, int, int]:
        """(r0, r1, c0, c1) of a region without a mask: it always has both ranges."""
        assert self.rows is not None and self.cols is not None
        return self.rows[0], self.rows[1], self.cols[0], self.cols[1]


def content_region(a: np.ndarray, src_size: tuple[int, int], out_size: tuple[int, int]) -> Region | None:
    """Where a canvas of ``src_size`` lands on the output under ``a``; None when it covers every pixel."""
    ow, oh = out_size
    pts = M.apply_points(a, M.canvas_corners(*src_size))
    lin = a[:2, :2]
    if M.is_affine(a) and (abs(lin[0, 1]) + abs(lin[1, 0]) < 1e-12 or abs(lin[0, 0]) + abs(lin[1, 1]) < 1e-12):
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        # pixel i is inside when its centre i + 0.5 is: first inside is ceil(x0 - 0.5)
        c0, c1 = (int(np.clip(np.ceil(v - 0.5 - 1e-9), 0, ow)) for v in (x0, x1))
        r0, r1 = (int(np.clip(np.ceil(v - 0.5 - 1e-9), 0, oh)) for v in (y0, y1))
        if (c0, r0, c1, r1) == (0, 0, ow, oh):
            return None
        return Region(rows=(r0, r1), cols=(c0, c1))
    if covers(a, src_size, out_size):
        return None
    mask = np.zeros((oh, ow), np.uint8)
    shift = 8  # sub-pixel vertices: pixel centres decide, as for the rectangle
    poly = np.round((pts - 0.5) * (1 << shift)).astype(np.int32)
    cv2.fillConvexPoly(mask, poly, 1, lineType=cv2.LINE_8, shift=shift)
    return Region(mask=mask)
