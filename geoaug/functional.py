"""One op without a pipeline, as torchvision's ``functional`` offers: each op's exact matrix and canvas, and
the per-kind kernels (map, clip) and the warp that a pipeline runs for every fused step.

    import geoaug.functional as F
    a, size = F.rotate((640, 480), angle=15, expand=True)
    res = F.apply_matrix(image, a, size, boxes=boxes, polygons=polys)   # one warp, geometry moved and cut
    quads = F.map_geometry(quads, a)                                      # map only (not cut)

The matrices come from the ops themselves (``op_matrix`` builds the registered op and asks it), so a
functional call and a YAML op give the same map to the last bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import ConfigError, GeometryError
from .image import fill_value, to_array
from .kinds import (
    check_geometry_keys,
    default_options,
    detach,
    get_kind,
    intake_all,
    kind_of,
    kinds,
    move_all,
    option_specs,
)
from .ops.base import GEOMETRIC, GeometricOp
from .record import draw_spec
from .registry import make_op
from .report import Report
from .result import Result
from .warp import INTERPOLATIONS, warp

Size = tuple[int, int]


# ---- matrices: each op's exact map, without drawing -----------------------------------------------------
def op_matrix(name: str, size: Sequence[int], draw: dict | None = None, **params: Any) -> tuple[np.ndarray, Size]:
    """The 3x3 matrix and output canvas (width, height) of geometric op ``name`` on a canvas of ``size``,
    with its ``params`` and, for a random op, the ``draw`` it would have made (e.g. ``{"angle": 15}``; the
    draw fields are those a replay record holds).

    Raises:
        ConfigError: ``name`` is no geometric op, a param is unknown or out of range, or a draw field is
            unknown or out of the op's range.
        GeometryError: ``size`` is not a positive (width, height).
    """
    op = make_op(name, params, f"functional.{name}: ")
    if op.kind != GEOMETRIC or not isinstance(op, GeometricOp):
        raise ConfigError(f"functional.{name}: not a geometric op (no matrix)")
    spec = draw_spec(type(op)) or {}
    checked: dict[str, Any] = {}
    for k, v in (draw or {}).items():
        if k not in spec:
            raise ConfigError(f"functional.{name}: unknown draw field {k!r} (draw fields: {', '.join(spec) or 'none'})")
        try:
            checked[k] = spec[k].check(v)
        except ValueError as e:
            raise ConfigError(f"functional.{name}: draw.{k} {e}") from None
    w, h = (int(v) for v in size)
    if w <= 0 or h <= 0:
        raise GeometryError(f"functional.{name}: size must be a positive (width, height), got {tuple(size)!r}")
    a, out = op.transform(checked, (w, h))
    return np.array(a, dtype=np.float64), (int(out[0]), int(out[1]))


def hflip(size: Sequence[int]) -> tuple[np.ndarray, Size]:
    """Mirror left-right: ``x' = W - x``."""
    return op_matrix("hflip", size)


def vflip(size: Sequence[int]) -> tuple[np.ndarray, Size]:
    """Mirror top-bottom: ``y' = H - y``."""
    return op_matrix("vflip", size)


def rot90(size: Sequence[int], k: int = 1) -> tuple[np.ndarray, Size]:
    """Turn by ``k`` quarter turns counter-clockwise (the canvas turns with it)."""
    return op_matrix("rot90", size, {"k": k})


def rotate(size: Sequence[int], angle: float, *, expand: bool = False) -> tuple[np.ndarray, Size]:
    """Rotate about the centre by ``angle`` degrees (positive: counter-clockwise); ``expand`` grows the canvas
    to hold the whole rotated image."""
    return op_matrix("rotate", size, {"angle": angle}, max_deg=180.0, expand=expand)


def affine(
    size: Sequence[int],
    *,
    scale: float = 1.0,
    angle: float = 0.0,
    shear_x: float = 0.0,
    shear_y: float = 0.0,
    tx: float = 0.0,
    ty: float = 0.0,
) -> tuple[np.ndarray, Size]:
    """The ``affine`` op's map about the canvas centre (shear, then scale and rotate, then translate by
    ``tx``/``ty`` fractions of the canvas; see the op's docs for the signs)."""
    draw = {"scale": scale, "angle": angle, "shear_x": shear_x, "shear_y": shear_y, "tx": tx, "ty": ty}
    return op_matrix("affine", size, draw)


def perspective(size: Sequence[int], offsets: Sequence[Sequence[float]]) -> tuple[np.ndarray, Size]:
    """Move the 4 canvas corners (clockwise from the top-left) by ``offsets`` [dx, dy] fractions of the
    canvas (each within [0, 0.45], pointing inwards as the op draws them)."""
    return op_matrix("perspective", size, {"offsets": [list(o) for o in offsets]}, scale=[0.0, 0.45])


def resize(size: Sequence[int], width: int, height: int) -> tuple[np.ndarray, Size]:
    """Scale to exactly ``width`` x ``height``."""
    return op_matrix("resize", size, width=width, height=height)


def crop(size: Sequence[int], x: int, y: int, width: int, height: int) -> tuple[np.ndarray, Size]:
    """The ``width`` x ``height`` window at (``x``, ``y``)."""
    return op_matrix("crop", size, x=x, y=y, width=width, height=height)


def pad(size: Sequence[int], left: int = 0, top: int = 0, right: int = 0, bottom: int = 0) -> tuple[np.ndarray, Size]:
    """Grow the canvas by whole pixels on each side."""
    return op_matrix("pad", size, left=left, top=top, right=right, bottom=bottom)


# ---- kernels -------------------------------------------------------------------------------------------
def map_geometry(table: Any, a: np.ndarray, size: Sequence[int] | None = None, *, kind: str | None = None) -> Any:
    """``table`` (a geoaug table, or what ``kind``'s table takes) mapped by the 3x3 matrix ``a``, not cut to
    any canvas. ``size``: the output canvas, needed by kinds that are rasters (masks). The input is only
    read; the result is a new table."""
    k = get_kind(kind) if kind is not None else kind_of(table)
    t = k.intake(table)
    out = k.finish(k.map(t, np.asarray(a, dtype=np.float64), _size(size), default_options()), a, default_options())
    return detach(out, t)


def clip_geometry(table: Any, size: Sequence[int], *, kind: str | None = None, **options: str) -> tuple[Any, Report]:
    """``table`` cut to the canvas ``size`` = (width, height) as a pipeline cuts it (visibility, splits, drops,
    and the kind options such as ``quad_clip``); returns the table and the report."""
    k = get_kind(kind) if kind is not None else kind_of(table)
    opts = _options(options)
    t = k.intake(table)
    report = Report()
    w, h = (int(v) for v in size)
    return detach(k.clip(t, w, h, report, opts), t), report


def warp_image(image: Any, a: np.ndarray, size: Sequence[int], *, interpolation: str = "linear", fill: Any = 0) -> Any:
    """``image`` warped by ``a`` onto a canvas of ``size``: output pixel p shows the input at ``A^-1 p``
    (index maps such as flips and integer crops are exact copies). Same type as given (array or PIL)."""
    arr, restore = to_array(image)
    if interpolation not in INTERPOLATIONS:
        raise ConfigError(f"interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation!r}")
    border = fill_value(fill, arr.shape[2], arr.dtype)
    out = warp(arr, np.asarray(a, dtype=np.float64), _size(size), interpolation=interpolation, border=border)
    return restore(np.array(out) if np.may_share_memory(out, arr) else out)


def apply_matrix(
    image: Any,
    a: np.ndarray,
    size: Sequence[int],
    *,
    interpolation: str = "linear",
    fill: Any = 0,
    **geometry_and_options: Any,
) -> Result:
    """One warp of ``image`` by ``a`` onto ``size`` with every kind of geometry moved and cut alongside
    (``boxes=``, ``quads=``, ``lines=``, ``points=``, ``polygons=``, ``masks=``; kind options such as
    ``quad_clip=`` too): what a pipeline does for one fused step, geometry first cut to the input image.
    ``image`` may be None: geometry only, taken as it is."""
    specs = option_specs()
    options = {k: v for k, v in geometry_and_options.items() if k in specs}
    geometry = {k: v for k, v in geometry_and_options.items() if k not in specs}
    check_geometry_keys(geometry, "apply_matrix")
    opts = _options(options)
    a = np.asarray(a, dtype=np.float64)
    out_size = _size(size)
    if image is not None:
        arr, _ = to_array(image)
        in_size: Size = (int(arr.shape[1]), int(arr.shape[0]))
        out_image = warp_image(image, a, out_size, interpolation=interpolation, fill=fill)
    else:
        in_size, out_image = out_size, None
    report = Report()
    tables = intake_all(geometry, in_size)
    moved = tables
    if image is not None:  # as a pipeline does: geometry reaching beyond the input image is cut to it first
        w, h = in_size
        moved = {k.name: k.clip(tables[k.name], w, h, report, opts, counter="input_clipped") for k in kinds()}
    moved = move_all(moved, a, out_size, report, opts)
    out = {k.name: detach(k.finish(moved[k.name], a, opts), tables[k.name]) for k in kinds()}
    return Result(out_image, out, a, out_size, in_size, report, {})


def _size(size: Sequence[int] | None) -> Size:
    if size is None:
        return (0, 0)
    w, h = (int(v) for v in size)
    if w <= 0 or h <= 0:
        raise GeometryError(f"size must be a positive (width, height), got {tuple(size)!r}")
    return w, h


def _options(given: dict[str, Any]) -> dict[str, str]:
    specs = option_specs()
    opts = default_options()
    for k, v in given.items():
        if k not in specs:
            raise ConfigError(f"unknown kind option {k!r}; kind options: {', '.join(specs)}")
        if not isinstance(v, str) or v not in specs[k][0]:
            raise ConfigError(f"{k} must be one of {list(specs[k][0])}, got {v!r}")
        opts[k] = v
    return opts


__all__ = [
    "op_matrix",
    "hflip",
    "vflip",
    "rot90",
    "rotate",
    "affine",
    "perspective",
    "resize",
    "crop",
    "pad",
    "map_geometry",
    "clip_geometry",
    "warp_image",
    "apply_matrix",
]
