"""Masks and dense maps: rasters in the frame of the image, warped by the same fused matrix as the image.

Three types, one table (``Masks``):

- ``"instance"``: (N, H, W) bool or uint8, one binary mask per object (a row each, with fields). Warped with
  nearest sampling, filled with 0; a row with no pixel left is dropped and reported (``outside``).
- ``"label"``: an (H, W) (or (H, W, C)) integer or bool label map, one row. Nearest sampling: every output
  pixel is a source label or the map's own ``fill`` (0, or an ignore label such as 255), never the image's
  fill, never a blend.
- ``"dense"``: an (H, W) (or (H, W, C)) map of numbers (depth, heatmaps, flow magnitudes), one row, warped
  with its own ``interpolation`` ("linear" by default) and ``fill``.

Index maps (flips, rot90, integer crops and pads) copy every mask bit for bit (``geoaug.warp``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from .. import matrix as M
from ..errors import GeometryError
from ..instances import _refuse_container, _Table, take_rows
from ..report import Report
from ..warp import INTERPOLATIONS, warp
from .base import Kind, Options, Tag, register, rows_of

MASK_TYPES = ("label", "instance", "dense")
OVERLAY_ALPHA = 0.4  # how much of a mask's colour is drawn over the image

# The dtypes OpenCV blends (interpolations other than nearest).
_BLEND_DTYPES = {np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64)}
# Nearest warps that OpenCV (5.x) samples at the exactly mapped pixel centre: uint8, uint16 and float32 with 1,
# 3 or 4 channels (its other affine paths round the centre to 1/1024 pixel first, so a centre that close to a
# pixel edge may land on the neighbour). A nearest warp only copies values, so every other dtype travels as
# its bytes in one of these (int16 as uint16, int32 as 4 uint8 channels, int64 as 4 uint16), 2 channels
# padded to 3.
_EXACT = {np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32)}
# A kept share this close to 1 is a whole mask (rounding of the corner map, not a cut).
_WHOLE = 1e-9


class Masks(_Table):
    """Instance masks, a label map or a dense map in the frame of the image (see the module's doc).

    ``data``: (N, H, W) instance masks, (H, W) or (H, W, C) label or dense map. ``type``: "instance", "label"
    or "dense"; inferred when None: float -> dense, 3-d bool/uint8 -> instance, else (2-d bool or integer)
    -> label. ``fill``: the value where the canvas shows nothing of the mask (0; an ignore label such as 255;
    one per channel for a dense map; always 0 for instance masks). ``interpolation``: "nearest" for label and
    instance masks (the only choice), "linear" by default for dense maps (or "nearest", "cubic", "lanczos").

    Rows: one per instance mask, one for a label or dense map. ``.data`` is the array ((N, H, W), or the map
    itself); ``.stack`` always has the row axis first. ``visibility``: an instance's kept pixels over its
    pixels before the call (cut by a canvas edge only; rasterisation is no cut); a map's kept share of its
    source area."""

    kind = "masks"

    def __init__(
        self,
        data: Any = None,
        *,
        type: str | None = None,
        fill: Any = 0,
        interpolation: str | None = None,
        index: Any = None,
        visibility: Any = None,
        **fields: Any,
    ) -> None:
        if data is None:
            if type not in (None, "instance"):
                raise GeometryError(f"masks: no data given for type {type!r}")
            stack: np.ndarray = np.zeros((0, 0, 0), dtype=np.uint8)
            mtype = "instance"
        else:
            stack, mtype = _as_stack(data, type)
        self.stack = stack
        self.type = mtype
        self.fill = _check_fill(fill, mtype, stack)
        self.interpolation = _check_interpolation(interpolation, mtype, stack.dtype)
        self._counts: np.ndarray | None = None
        self._pending: tuple | None = None  # set by a map, used by the clip that follows it
        self._init_rows(len(stack), fields, index, visibility)

    @classmethod
    def _make(
        cls,
        like: Masks,
        stack: np.ndarray,
        *,
        index: np.ndarray,
        visibility: np.ndarray,
        fields: dict[str, Any],
        counts: np.ndarray | None = None,
    ) -> Masks:
        """A table of ``like``'s type, fill and interpolation holding ``stack`` and these rows: nothing checked."""
        obj = cls.__new__(cls)
        obj.stack, obj.type, obj.fill, obj.interpolation = stack, like.type, like.fill, like.interpolation
        obj._counts, obj._pending = counts, None
        obj.fields, obj.index, obj.visibility = fields, index, visibility
        return obj

    # ---- what it holds -----------------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The masks: (N, H, W) instance masks; the (H, W[, C]) map of a label or dense table with one row
        (a table of several maps, e.g. TTA views concatenated: the stack, rows first)."""
        if self.type != "instance" and len(self.stack) == 1:
            out: np.ndarray = self.stack[0]
            return out
        return self.stack

    @property
    def size(self) -> tuple[int, int]:
        """(W, H) of the frame the masks are in."""
        return int(self.stack.shape[2]), int(self.stack.shape[1])

    def counts(self) -> np.ndarray:
        """Pixels of each row: an instance mask's nonzero pixels; a map's whole canvas."""
        if self.type != "instance":
            return np.full(len(self), float(self.stack.shape[1] * self.stack.shape[2]))
        if self._counts is None:
            self._counts = _count(self.stack)
        return self._counts

    def boxes(self) -> np.ndarray:
        """(N, 4) pixel-edge boxes ``x1, y1, x2, y2`` enclosing each instance mask's pixels ((0, 0, 0, 0)
        for an empty one); a map has none: (0, 4)."""
        if self.type != "instance":
            return np.zeros((0, 4))
        out = np.zeros((len(self), 4))
        for i, plane in enumerate(_planes_u8(self.stack)):
            x, y, bw, bh = cv2.boundingRect(plane)
            out[i] = (x, y, x + bw, y + bh)
        return out

    def take(self, rows: np.ndarray, _gaps: np.ndarray | None = None) -> Masks:
        """The rows ``rows`` (indices, in that order), every field, index and visibility with them."""
        rows = np.asarray(rows, dtype=np.int64)
        t = self._take_rows(rows, _gaps)
        counts = None if self._counts is None else take_rows(self._counts, rows)
        return Masks._make(
            self,
            take_rows(self.stack, rows),
            index=t["index"],
            visibility=t["visibility"],
            fields=t["fields"],
            counts=counts,
        )

    # ---- COCO RLE ----------------------------------------------------------------------------------
    @classmethod
    def from_rle(cls, rles: Sequence[Any], height: int | None = None, width: int | None = None, **fields: Any) -> Masks:
        """Instance masks (uint8) from COCO RLEs (``{"size": [h, w], "counts": str | bytes | list}`` each);
        ``height``/``width`` default to the first RLE's size (required when there is none)."""
        from ..rle import decode

        _refuse_container("masks.from_rle", rles, "a list of COCO RLE dicts", iterator_ok=True)
        rles = list(rles)
        if height is None or width is None:
            if not rles:
                raise GeometryError("masks.from_rle: no RLE given: pass height and width")
            h0, w0 = _rle_size(rles[0], 0)
            height, width = height if height is not None else h0, width if width is not None else w0
        stack = np.zeros((len(rles), int(height), int(width)), dtype=np.uint8)
        for i, r in enumerate(rles):
            stack[i] = decode(r, int(height), int(width), where=f"masks.from_rle[{i}]")
        return cls(stack, type="instance", **fields)

    def to_rle(self, *, compressed: bool = True) -> list[dict[str, Any]]:
        """Each instance mask as a COCO RLE: ``{"size": [h, w], "counts": str}`` (``compressed=False``:
        counts as a list of ints, COCO's uncompressed form)."""
        from ..rle import encode

        if self.type != "instance":
            raise GeometryError(
                f"masks.to_rle: RLE holds binary instance masks, this table is a {self.type} map "
                "(one class: Masks(data == value, type='instance').to_rle())"
            )
        return [encode(m, compressed=compressed) for m in self.stack]

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.stack.shape))
        return f"Masks({self.type}, n={len(self)}, {shape} {self.stack.dtype}, fields={sorted(self.fields)})"


def _rle_size(r: Any, i: int) -> tuple[int, int]:
    size = r.get("size") if isinstance(r, dict) else None
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise GeometryError(f"masks.from_rle[{i}] needs a 'size': [height, width]")
    return int(size[0]), int(size[1])


# ---- intake helpers ----------------------------------------------------------------------------------
def _as_stack(data: Any, mtype: str | None) -> tuple[np.ndarray, str]:
    """The caller's array (never copied when it already is one) with a row axis first, and its type."""
    if mtype is not None and mtype not in MASK_TYPES:
        raise GeometryError(f"masks type must be one of {list(MASK_TYPES)}, got {mtype!r}")
    if not isinstance(data, np.ndarray):
        _refuse_container("masks", data, "an (N, H, W), (H, W) or (H, W, C) array")
        try:
            data = np.asarray(data)
        except (ValueError, TypeError):
            raise GeometryError("masks could not be read as an array (ragged rows?)") from None
    arr: np.ndarray = data
    k = arr.dtype.kind
    if k not in "biuf":
        raise GeometryError(f"masks.data has dtype {arr.dtype}: masks are bool, integer or float arrays")
    if mtype is None:
        mtype = "dense" if k == "f" else "instance" if arr.ndim == 3 and k in "bu" and arr.itemsize == 1 else "label"
    if mtype == "instance":
        if arr.dtype not in (np.dtype(np.bool_), np.dtype(np.uint8)):
            raise GeometryError(f"masks.data: instance masks must be bool or uint8, got {arr.dtype}")
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise GeometryError(f"masks.data: instance masks must have shape (N, H, W); got shape {arr.shape}")
        return arr, mtype
    if arr.ndim not in (2, 3):
        raise GeometryError(f"masks.data: a {mtype} map must have shape (H, W) or (H, W, C); got shape {arr.shape}")
    if mtype == "label" and k == "f":
        raise GeometryError(f"masks.data: a label map must be bool or integer, got {arr.dtype} (type='dense'?)")
    if arr.ndim == 3 and arr.shape[2] == 0:
        raise GeometryError(f"masks.data: a {mtype} map needs at least one channel; got shape {arr.shape}")
    return arr[None], mtype


def _channels(stack: np.ndarray) -> int:
    return int(stack.shape[3]) if stack.ndim == 4 else 1


def _check_fill(fill: Any, mtype: str, stack: np.ndarray) -> tuple[float, ...]:
    """The fill as one float per channel, checked against the dtype."""
    c = _channels(stack)
    if isinstance(fill, (str, bytes)) or fill is None:
        raise GeometryError(f"masks fill must be a number, got {fill!r}")
    vals: list[Any] = np.asarray(fill, dtype=object).ravel().tolist() if not np.isscalar(fill) else [fill] * c
    if len(vals) != c:
        raise GeometryError(f"masks fill {fill!r} has {len(vals)} values for a map of {c} channels")
    try:
        out = [float(v) for v in vals]
    except (TypeError, ValueError):
        raise GeometryError(f"masks fill must be numbers, got {fill!r}") from None
    if mtype == "instance":
        if any(v != 0 for v in out):
            raise GeometryError(f"masks fill of instance masks is 0 (no pixel of the object), got {fill!r}")
        return tuple(out)
    dt = stack.dtype
    if dt.kind in "biu":
        lo, hi = (0, 1) if dt.kind == "b" else (int(np.iinfo(dt).min), int(np.iinfo(dt).max))
        for v in out:
            if not v.is_integer() or not lo <= v <= hi:
                raise GeometryError(f"masks fill {v:g} is not a value of the map's dtype {dt} ({lo}..{hi})")
    return tuple(out)


def _check_interpolation(interpolation: str | None, mtype: str, dtype: np.dtype) -> str:
    if interpolation is None:
        return "linear" if mtype == "dense" else "nearest"
    if interpolation not in INTERPOLATIONS:
        raise GeometryError(f"masks interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation!r}")
    if mtype != "dense" and interpolation != "nearest":
        raise GeometryError(
            f"masks interpolation of {mtype} masks is 'nearest' (a blend of two labels is no label), "
            f"got {interpolation!r}"
        )
    if interpolation != "nearest" and dtype not in _BLEND_DTYPES:
        raise GeometryError(
            f"masks interpolation {interpolation!r} needs a uint8, uint16, int16, float32 or float64 map, got {dtype}"
        )
    return interpolation


def _count(stack: np.ndarray) -> np.ndarray:
    """Nonzero pixels of each instance plane."""
    return np.array([cv2.countNonZero(p) for p in _planes_u8(stack)], dtype=np.float64)


def _planes_u8(stack: np.ndarray) -> np.ndarray:
    return stack.view(np.uint8) if stack.dtype == np.bool_ else stack


# ---- warping -----------------------------------------------------------------------------------------
def _warp_stack(t: Masks, a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    ow, oh = size
    if t.type == "instance":
        return _warp_instances(t.stack, a, size)
    src = np.ascontiguousarray(t.stack[0])
    if src.ndim == 2:
        src = src[:, :, None]
    fill = np.asarray(t.fill, dtype=np.float64)
    if t.interpolation == "nearest" and src.dtype not in _EXACT:  # its bytes, as a dtype copied exactly
        nbytes = src.dtype.itemsize * src.shape[2]  # per pixel: 4 (int32) as uint8 x 4, 8 (int64) as uint16 x 4
        unit = np.dtype(np.uint8) if nbytes in (1, 3, 4) or nbytes % 2 else np.dtype(np.uint16)
        fill = fill.astype(src.dtype).view(unit).astype(np.float64)
        out = _warp_channels(src.view(unit), a, size, "nearest", tuple(fill.tolist())).view(src.dtype)
    else:
        out = _warp_channels(src, a, size, t.interpolation, tuple(fill.tolist()))
    return out.reshape((1, oh, ow) + t.stack.shape[3:])


def _warp_channels(
    src: np.ndarray, a: np.ndarray, size: tuple[int, int], interpolation: str, fill: tuple[float, ...]
) -> np.ndarray:
    """(H, W, C) -> a new (oh, ow, C) array, at most 4 channels per OpenCV call (its fast kernels stop at 4),
    2 padded to 3 (OpenCV's 2-channel kernels are the slow, 1/1024-pixel ones)."""
    c = src.shape[2]
    if c in (1, 3, 4):
        out = warp(src, a, size, interpolation=interpolation, border=fill + (0.0,) * (4 - c))
        return out if out is not src else np.array(src)
    ow, oh = size
    res = np.empty((oh, ow, c), dtype=src.dtype)
    for g in range(0, c, 4):
        k = min(4, c - g)
        part = src[:, :, g : g + k]
        if k == 2:
            part = np.concatenate([part, np.zeros_like(part[:, :, :1])], axis=2)
        border = fill[g : g + k] + (0.0,) * (4 - k)
        res[:, :, g : g + k] = warp(np.ascontiguousarray(part), a, size, interpolation=interpolation, border=border)[
            :, :, :k
        ]
    return res


def _warp_instances(stack: np.ndarray, a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, H, W) -> (N, oh, ow), nearest, fill 0: four planes per warp (one 4-channel warp costs about two
    single-plane ones), two padded to three."""
    ow, oh = size
    planes = _planes_u8(stack)
    out = np.empty((len(stack), oh, ow), dtype=np.uint8)
    for g in range(0, len(stack), 4):
        group = list(planes[g : g + 4])
        k = len(group)
        if k == 1:
            src = group[0][:, :, None]
        else:
            src = cv2.merge(group + [np.zeros_like(group[0])] if k == 2 else group)
        res = warp(src, a, size, interpolation="nearest", border=(0.0, 0.0, 0.0, 0.0))
        if k == 1:
            out[g] = res[:, :, 0]
        else:
            for j, plane in enumerate(cv2.split(res)[:k]):
                out[g + j] = plane
    return out.view(stack.dtype)


def _kept_share(a: np.ndarray, src_size: tuple[int, int], w: float, h: float) -> float:
    """The share of the source canvas' area that lands on the canvas [0, w] x [0, h] under ``a``: its mapped
    quad cut to the canvas (Sutherland-Hodgman, in plain floats: ~20 us where shapely costs ~250), the cut
    polygon mapped back and measured in the source."""
    sw, sh = float(src_size[0]), float(src_size[1])
    if M.is_affine(a):  # 4 corners in plain floats: a few microseconds (this runs on every warp of a map)
        (a0, a1, a2), (b0, b1, b2) = a[0].tolist(), a[1].tolist()
        poly = [(a0 * x + a1 * y + a2, b0 * x + b1 * y + b2) for x, y in ((0.0, 0.0), (sw, 0.0), (sw, sh), (0.0, sh))]
    else:
        poly = [(float(x), float(y)) for x, y in M.apply_points(a, M.canvas_corners(sw, sh))]
    xs, ys = [p[0] for p in poly], [p[1] for p in poly]
    if min(xs) >= -_WHOLE and min(ys) >= -_WHOLE and max(xs) <= w + _WHOLE and max(ys) <= h + _WHOLE:
        return 1.0
    for axis, limit, keep_below in ((0, 0.0, False), (0, float(w), True), (1, 0.0, False), (1, float(h), True)):
        poly = _cut(poly, axis, limit, keep_below)
        if len(poly) < 3:
            return 0.0
    if M.is_affine(a):  # areas scale by the determinant
        area = _area(poly) / abs(float(a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]))
    else:
        area = _area([(float(x), float(y)) for x, y in M.apply_points(np.linalg.inv(a), np.array(poly))])
    return min(area / (sw * sh), 1.0)


def _area(poly: list[tuple[float, float]]) -> float:
    n = len(poly)
    return 0.5 * abs(sum(poly[i][0] * poly[(i + 1) % n][1] - poly[(i + 1) % n][0] * poly[i][1] for i in range(n)))


def _cut(poly: list[tuple[float, float]], axis: int, limit: float, keep_below: bool) -> list[tuple[float, float]]:
    """The part of a convex polygon on one side of the line ``coordinate[axis] = limit``."""
    out: list[tuple[float, float]] = []
    n = len(poly)
    for i in range(n):
        p, q = poly[i], poly[(i + 1) % n]
        pin = p[axis] <= limit if keep_below else p[axis] >= limit
        qin = q[axis] <= limit if keep_below else q[axis] >= limit
        if pin:
            out.append(p)
        if pin != qin:
            t = (limit - p[axis]) / (q[axis] - p[axis])
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def _jacobians(a: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """|det| of the map's Jacobian at each point: a projective map scales area by det(A) / w^3."""
    d = abs(float(np.linalg.det(a)))
    if M.is_affine(a):
        return np.full(len(centres), d)
    wz = centres @ a[2, :2] + a[2, 2]
    out: np.ndarray = d / np.abs(wz) ** 3
    return out


# ---- the kind ----------------------------------------------------------------------------------------
@register
class MaskKind(Kind):
    name = "masks"
    order = 5
    layer = 0  # drawn under every outline
    table = Masks
    filters = ("min_visibility", "min_area")  # min_area of an instance mask: its pixels

    def intake(self, x: Any, size: tuple[int, int] | None = None) -> Masks:
        if x is None:  # every call of every pipeline: a few microseconds
            t = Masks.__new__(Masks)
            t.stack, t.type, t.fill, t.interpolation = np.zeros((0, 0, 0), np.uint8), "instance", (0.0,), "nearest"
            t._counts, t._pending = None, None
            t.fields, t.index, t.visibility = {}, np.zeros(0, dtype=np.int64), np.zeros(0)
            return t
        t = x if isinstance(x, Masks) else Masks(x)
        if size is not None and len(t) and t.size != (int(size[0]), int(size[1])):
            w, h = t.size
            raise GeometryError(
                f"masks.data is {w}x{h} (W x H, shape {t.stack.shape[1:]}) but the image's frame is "
                f"{int(size[0])}x{int(size[1])}: masks must have the frame's height and width"
            )
        return t

    def map(self, t: Masks, a: np.ndarray, size: tuple[int, int], opts: Options) -> Masks:
        if not len(t):
            if t.stack.shape[1:3] == (0, 0):  # nothing given
                return t
            stack = np.zeros((0, size[1], size[0]) + t.stack.shape[3:], dtype=t.stack.dtype)
            return Masks._make(t, stack, index=t.index, visibility=t.visibility, fields=t.fields)
        out = Masks._make(t, _warp_stack(t, a, size), index=t.index, visibility=t.visibility, fields=t.fields)
        if t.type == "instance":
            # whether each mask could be cut (its mapped box leaves the canvas) and how the map scales its area
            boxes = t.boxes()
            corners = M.apply_points(a, boxes[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2))
            lo, hi = corners.min(axis=1), corners.max(axis=1)
            w, h = size
            cut = (lo.min(axis=1) < -_WHOLE) | (hi[:, 0] > w + _WHOLE) | (hi[:, 1] > h + _WHOLE)
            centres = (boxes[:, :2] + boxes[:, 2:]) / 2
            out._pending = (t.counts(), cut, _jacobians(a, centres))
        else:
            out._pending = (a, t.size)
        return out

    def clip(
        self,
        t: Masks,
        w: float,
        h: float,
        report: Report,
        opts: Options,
        *,
        counter: str = "clipped",
        owned: bool = False,
    ) -> Masks:
        if not len(t):
            return t
        pending, t._pending = t._pending, None
        if t.type != "instance":
            if pending is not None:
                share = _kept_share(pending[0], pending[1], w, h)
                if share < 1.0 - _WHOLE:
                    t.visibility = t.visibility * share
                    getattr(report, counter)["masks"] += 1
            return t
        counts = t.counts() if pending is None else _count(t.stack)
        if pending is None:  # at intake: the masks are the frame's; an empty one has nothing to move
            gone = counts == 0
            if gone.any():
                report.drop("masks", t.index[gone], "empty")
                return t.take(np.flatnonzero(~gone))
            return t
        before, cut, jac = pending
        t._counts = counts
        gone = counts == 0
        if cut.any():
            expected = np.maximum(before * jac, 1e-12)
            kept = np.where(cut, np.minimum(counts / expected, 1.0), 1.0)
            t.visibility = t.visibility * kept
            getattr(report, counter)["masks"] += int(np.count_nonzero(cut & ~gone))
        if gone.any():
            report.drop("masks", t.index[gone], "outside")
            return t.take(np.flatnonzero(~gone))
        return t

    def outside_row(self, t: Masks, w: float, h: float) -> int | None:
        return None  # a raster of the frame has nothing outside it (its size is checked at intake)

    def bounds(self, t: Masks, a: np.ndarray) -> np.ndarray:
        boxes = t.boxes()
        if not len(boxes):
            return np.zeros((0, 4))
        p = M.apply_points(a, boxes[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2))
        return np.concatenate([p.min(axis=1), p.max(axis=1)], axis=1)

    def measures(self, t: Masks) -> dict[str, Callable[[], np.ndarray]]:
        if t.type != "instance":  # a map is the raster of the whole canvas: no filter drops it
            return {"min_visibility": lambda: np.full(len(t), np.inf), "min_area": lambda: np.full(len(t), np.inf)}
        return {"min_visibility": lambda: t.visibility, "min_area": t.counts}

    def coords(self, t: Masks) -> list[np.ndarray]:
        return [t.stack]

    def own_coords(self, t: Masks, own: Callable[[Any], Any], given: Masks) -> None:
        t.stack = own(t.stack)
        t._pending = None  # a table handed out carries no half-done move

    def concat(self, tables: Sequence[Masks], fields: dict[str, Any]) -> Masks:
        full = [t for t in tables if t.stack.shape[1:3] != (0, 0)]
        if not full:
            return Masks(**rows_of(tables), **fields) if not tables else _concat_empty(tables, fields)
        first = full[0]
        for t in full[1:]:
            if (t.type, t.stack.shape[1:], t.stack.dtype) != (first.type, first.stack.shape[1:], first.stack.dtype):
                raise GeometryError(
                    f"masks: cannot concatenate a {t.type} {t.stack.shape[1:]} {t.stack.dtype} table with a "
                    f"{first.type} {first.stack.shape[1:]} {first.stack.dtype} one"
                )
        stack = np.concatenate([t.stack for t in full]) if len(full) > 1 else np.array(first.stack)
        rows = rows_of(tables)
        return Masks._make(first, stack, index=rows["index"], visibility=rows["visibility"], fields=fields)

    def draw(
        self, canvas: np.ndarray, t: Masks, labels: list, colour: Callable[[Any], tuple], thickness: int
    ) -> list[Tag]:
        if not len(t):
            return []
        if t.type == "dense":
            for m in t.stack:
                _overlay_dense(canvas, m)
            return []
        if t.type == "label":
            for m in t.stack:
                _overlay_labels(canvas, m if m.ndim == 2 else m[:, :, 0], t.fill[0], colour)
            return []
        tags: list[Tag] = []
        boxes = t.boxes()
        for i, (plane, lab) in enumerate(zip(_planes_u8(t.stack), labels)):
            c = colour(lab if lab is not None else int(t.index[i]))
            sel = plane != 0
            canvas[sel] = _blend(canvas[sel], c)
            if lab is not None and boxes[i, 2] > boxes[i, 0]:
                tags.append((boxes[i, 0], boxes[i, 1], lab, c))
        return tags


def _concat_empty(tables: Sequence[Masks], fields: dict[str, Any]) -> Masks:
    rows = rows_of(tables)
    return Masks._make(
        tables[0],
        np.zeros((0, 0, 0), dtype=np.uint8),
        index=rows["index"],
        visibility=rows["visibility"],
        fields=fields,
    )


def _blend(pixels: np.ndarray, c: Any) -> np.ndarray:
    col = np.asarray(c, dtype=np.float32)[:3]
    out: np.ndarray = (pixels * (1.0 - OVERLAY_ALPHA) + col * OVERLAY_ALPHA + 0.5).astype(np.uint8)
    return out


def _overlay_labels(canvas: np.ndarray, m: np.ndarray, fill: float, colour: Callable[[Any], tuple]) -> None:
    """Each label value (but the fill) in its colour, translucent."""
    values, inverse = np.unique(m, return_inverse=True)
    lut = np.array([colour(v.item() if hasattr(v, "item") else v)[:3] for v in values], dtype=np.float32)
    keep = (values != fill)[inverse.reshape(m.shape)]
    ink = lut[inverse.reshape(m.shape)][keep]
    canvas[keep] = (canvas[keep] * (1.0 - OVERLAY_ALPHA) + ink * OVERLAY_ALPHA + 0.5).astype(np.uint8)


def _overlay_dense(canvas: np.ndarray, m: np.ndarray) -> None:
    """The first channel as a translucent heat map over its finite range."""
    v = (m if m.ndim == 2 else m[:, :, 0]).astype(np.float32)
    ok = np.isfinite(v)
    if not ok.any():
        return
    lo, hi = float(v[ok].min()), float(v[ok].max())
    scaled = np.zeros(v.shape, dtype=np.uint8)
    scaled[ok] = np.round((v[ok] - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)).astype(np.uint8)
    heat = cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)
    canvas[ok] = (canvas[ok] * (1.0 - OVERLAY_ALPHA) + heat[ok] * OVERLAY_ALPHA + 0.5).astype(np.uint8)


__all__ = ["MASK_TYPES", "MaskKind", "Masks"]
